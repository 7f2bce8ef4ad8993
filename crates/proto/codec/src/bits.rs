//! Bit-level reading and writing: fixed-width fields, Exp-Golomb codes (ITU-T H.264 / H.265
//! clause 9.1) and the removal of emulation-prevention bytes (H.264 7.4.1, H.265 7.4.2) on the
//! fly, so parameter sets are parsed without first copying them into an RBSP buffer.

use crate::CodecError;

/// Reads bits most-significant first from a byte slice.
#[derive(Clone, Debug)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte of `data` to load.
    pos: usize,
    /// The byte being read and how many of its bits are still unread.
    current: u8,
    left: u8,
    /// Strip `0x000003` emulation prevention, counting zero bytes seen in a row.
    rbsp: bool,
    zeros: u8,
    consumed: u64,
    /// Named in errors: what is being parsed.
    what: &'static str,
}

impl<'a> BitReader<'a> {
    /// A reader over plain bits (AudioSpecificConfig, ADTS, AV1 OBUs...). `what` names the
    /// structure in errors.
    pub fn new(data: &'a [u8], what: &'static str) -> Self {
        BitReader {
            data,
            pos: 0,
            current: 0,
            left: 0,
            rbsp: false,
            zeros: 0,
            consumed: 0,
            what,
        }
    }

    /// A reader over a NAL unit payload (after the NAL header) that skips emulation-prevention
    /// bytes: in `00 00 03`, the `03` is not part of the RBSP.
    pub fn new_rbsp(data: &'a [u8], what: &'static str) -> Self {
        BitReader {
            rbsp: true,
            ..BitReader::new(data, what)
        }
    }

    /// Reads one bit (0 or 1).
    pub fn read_bit(&mut self) -> Result<u32, CodecError> {
        if self.left == 0 {
            self.current = self.next_byte()?;
            self.left = 8;
        }
        self.left -= 1;
        self.consumed += 1;
        Ok(u32::from((self.current >> self.left) & 1))
    }

    /// Reads one bit as a flag.
    pub fn read_flag(&mut self) -> Result<bool, CodecError> {
        Ok(self.read_bit()? == 1)
    }

    /// Reads `n` bits (`n <= 32`) as an unsigned number.
    pub fn read_bits(&mut self, n: u32) -> Result<u32, CodecError> {
        debug_assert!(n <= 32, "read_bits({n}): callers pass constants <= 32");
        let mut v: u64 = 0;
        for _ in 0..n.min(32) {
            v = (v << 1) | u64::from(self.read_bit()?);
        }
        // At most 32 bits were read.
        Ok(v as u32)
    }

    /// Reads `n` bits (`n <= 64`) as an unsigned number.
    pub fn read_bits_u64(&mut self, n: u32) -> Result<u64, CodecError> {
        let mut v: u64 = 0;
        for _ in 0..n.min(64) {
            v = (v << 1) | u64::from(self.read_bit()?);
        }
        Ok(v)
    }

    /// Skips `n` bits.
    pub fn skip_bits(&mut self, n: u64) -> Result<(), CodecError> {
        for _ in 0..n {
            self.read_bit()?;
        }
        Ok(())
    }

    /// ue(v): unsigned Exp-Golomb (H.264 9.1). Codes longer than 32 bits are an error.
    pub fn read_ue(&mut self) -> Result<u32, CodecError> {
        let mut leading_zeros = 0;
        while self.read_bit()? == 0 {
            leading_zeros += 1;
            if leading_zeros > 31 {
                return Err(CodecError::ExpGolomb(self.what));
            }
        }
        let suffix = self.read_bits(leading_zeros)?;
        // leading_zeros <= 31, so 2^lz - 1 + suffix <= 2^32 - 2.
        Ok(((1u64 << leading_zeros) - 1 + u64::from(suffix)) as u32)
    }

    /// se(v): signed Exp-Golomb (H.264 9.1.1): 0, 1, −1, 2, −2...
    pub fn read_se(&mut self) -> Result<i32, CodecError> {
        let k = i64::from(self.read_ue()?);
        let v = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
        // |v| <= 2^31 - 1 because k <= 2^32 - 2.
        Ok(v as i32)
    }

    /// ue(v) that must not exceed `max`; `field` names it in the error.
    pub fn read_ue_max(&mut self, max: u32, field: &'static str) -> Result<u32, CodecError> {
        let v = self.read_ue()?;
        if v > max {
            return Err(CodecError::InvalidValue {
                field,
                value: u64::from(v),
            });
        }
        Ok(v)
    }

    /// Bits read so far (emulation-prevention bytes not counted).
    pub fn position(&self) -> u64 {
        self.consumed
    }

    /// Bits left in the input; an upper bound when emulation prevention is being removed.
    pub fn bits_left(&self) -> u64 {
        (self.data.len() - self.pos) as u64 * 8 + u64::from(self.left)
    }

    fn next_byte(&mut self) -> Result<u8, CodecError> {
        loop {
            let b = *self
                .data
                .get(self.pos)
                .ok_or(CodecError::Truncated(self.what))?;
            self.pos += 1;
            if self.rbsp {
                if self.zeros >= 2 && b == 0x03 {
                    self.zeros = 0;
                    continue;
                }
                self.zeros = if b == 0 {
                    self.zeros.saturating_add(1)
                } else {
                    0
                };
            }
            return Ok(b);
        }
    }
}

/// Writes bits most-significant first; the last byte is padded with zero bits.
#[derive(Clone, Debug, Default)]
pub struct BitWriter {
    out: Vec<u8>,
    /// Bits used in the last byte of `out` (0 = byte aligned).
    used: u8,
}

impl BitWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes the low `n` bits of `value` (`n <= 64`).
    pub fn write_bits(&mut self, value: u64, n: u32) {
        for i in (0..n.min(64)).rev() {
            self.write_bit((value >> i) & 1 == 1);
        }
    }

    /// Writes one bit.
    pub fn write_bit(&mut self, bit: bool) {
        if self.used == 0 {
            self.out.push(0);
        }
        if bit {
            // A byte was pushed above whenever `used` was 0, so `out` is not empty.
            if let Some(last) = self.out.last_mut() {
                *last |= 0x80 >> self.used;
            }
        }
        self.used = (self.used + 1) % 8;
    }

    /// ue(v) (H.264 9.1).
    pub fn write_ue(&mut self, value: u32) {
        let v = u64::from(value) + 1;
        let len = 64 - v.leading_zeros();
        self.write_bits(0, len - 1);
        self.write_bits(v, len);
    }

    /// se(v) (H.264 9.1.1).
    pub fn write_se(&mut self, value: i32) {
        let v = i64::from(value);
        let k = if v > 0 { 2 * v - 1 } else { -2 * v };
        // |value| <= 2^31, so k <= 2^32 - 1; ue codes up to 2^32 - 2, the one larger value
        // (i32::MIN) is clamped.
        self.write_ue(k.min(i64::from(u32::MAX - 1)) as u32);
    }

    /// Bits written so far.
    pub fn len_bits(&self) -> u64 {
        match self.used {
            0 => self.out.len() as u64 * 8,
            used => (self.out.len() as u64 - 1) * 8 + u64::from(used),
        }
    }

    /// The bytes written, the last one zero-padded.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// A byte cursor for byte-aligned records (decoder configuration records), failing with
/// `Truncated(what)`.
#[derive(Clone, Debug)]
pub(crate) struct ByteReader<'a> {
    data: &'a [u8],
    what: &'static str,
}

impl<'a> ByteReader<'a> {
    pub(crate) fn new(data: &'a [u8], what: &'static str) -> Self {
        ByteReader { data, what }
    }

    pub(crate) fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.bytes(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, CodecError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, CodecError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.data.len() < n {
            return Err(CodecError::Truncated(self.what));
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    pub(crate) fn remaining(&self) -> &'a [u8] {
        self.data
    }
}

/// Inserts emulation-prevention bytes (H.264 7.4.1): the inverse of [`BitReader::new_rbsp`].
#[cfg(test)]
pub(crate) fn escape_rbsp(rbsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rbsp.len() + rbsp.len() / 2);
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exp_golomb_known_codes() {
        // 1 | 010 | 011 | 00100 | 00101  → ue 0, 1, 2, 3, 4
        let mut w = BitWriter::new();
        // 1 | 010 | 011 | 00100 | 00101
        w.write_bits(0b1_0100_1100_1000_0101, 17);
        let bytes = w.finish();
        let mut r = BitReader::new(&bytes, "test");
        let got: Vec<u32> = (0..5).map(|_| r.read_ue().unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 3, 4]);
        let mut r = BitReader::new(&bytes, "test");
        let got: Vec<i32> = (0..5).map(|_| r.read_se().unwrap()).collect();
        assert_eq!(got, [0, 1, -1, 2, -2]);
    }

    #[test]
    fn emulation_prevention_bytes_are_skipped() {
        // RBSP 00 00 00 01 is carried as 00 00 03 00 01; a 03 not after two zeros stays.
        let mut r = BitReader::new_rbsp(&[0, 0, 3, 0, 1, 3], "test");
        assert_eq!(r.read_bits(32).unwrap(), 1);
        assert_eq!(r.read_bits(8).unwrap(), 3);
        assert!(r.read_bit().is_err());
        // 00 00 03 03: the second 03 is data.
        let mut r = BitReader::new_rbsp(&[0, 0, 3, 3], "test");
        assert_eq!(r.read_bits(24).unwrap(), 3);
        // Without RBSP mode every byte is data.
        let mut r = BitReader::new(&[0, 0, 3], "test");
        assert_eq!(r.read_bits(24).unwrap(), 3);
    }

    #[test]
    fn escape_then_read_is_identity() {
        let rbsp = [0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0];
        let escaped = escape_rbsp(&rbsp);
        assert_eq!(escaped, [0, 0, 3, 0, 0, 3, 1, 0, 0, 3, 2, 0, 0, 3, 3, 0, 0]);
        let mut r = BitReader::new_rbsp(&escaped, "test");
        for &b in &rbsp {
            assert_eq!(r.read_bits(8).unwrap(), u32::from(b));
        }
    }

    #[test]
    fn overlong_exp_golomb_and_truncation_are_errors() {
        let zeros = [0u8; 8];
        assert_eq!(
            BitReader::new(&zeros, "x").read_ue(),
            Err(CodecError::ExpGolomb("x"))
        );
        assert_eq!(
            BitReader::new(&[0x00, 0x01], "x").read_ue(),
            Err(CodecError::Truncated("x"))
        );
        // 31 leading zeros is the longest legal code: 2^32 - 2 at most.
        let mut w = BitWriter::new();
        w.write_ue(u32::MAX - 1);
        assert_eq!(BitReader::new(&w.finish(), "x").read_ue(), Ok(u32::MAX - 1));
    }

    proptest! {
        #[test]
        fn writer_reader_round_trip(values in prop::collection::vec((any::<u32>(), any::<i32>(), any::<u32>(), 0u32..=32), 0..20)) {
            let mut w = BitWriter::new();
            for &(u, s, f, n) in &values {
                w.write_ue(u.min(u32::MAX - 1));
                w.write_se(s.max(-i32::MAX));
                w.write_bits(u64::from(f), n);
            }
            let bits = w.len_bits();
            let bytes = w.finish();
            prop_assert_eq!(bytes.len() as u64, bits.div_ceil(8));
            let mut r = BitReader::new(&bytes, "test");
            for &(u, s, f, n) in &values {
                prop_assert_eq!(r.read_ue()?, u.min(u32::MAX - 1));
                prop_assert_eq!(r.read_se()?, s.max(-i32::MAX));
                let mask = if n == 32 { u32::MAX } else { (1u32 << n) - 1 };
                prop_assert_eq!(r.read_bits(n)?, f & mask);
            }
            prop_assert_eq!(r.position(), bits);
        }

        #[test]
        fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..64)) {
            let mut r = BitReader::new_rbsp(&data, "garbage");
            while r.read_ue().is_ok() && r.read_se().is_ok() {}
        }
    }
}
