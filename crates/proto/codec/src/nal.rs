//! NAL unit framing shared by H.264 and H.265: Annex B byte streams (start codes, ITU-T H.264
//! Annex B / H.265 Annex B, as in MPEG-TS) and length-prefixed units (ISO/IEC 14496-15, as in
//! FLV, RTMP and MP4).

use crate::CodecError;

/// Splits an Annex B byte stream into NAL units (without start codes).
///
/// Bytes before the first start code are ignored, trailing zero bytes (`trailing_zero_8bits`,
/// and the leading zero of a 4-byte start code) are trimmed, and empty units are skipped.
pub fn split_annexb(data: &[u8]) -> AnnexBNals<'_> {
    let rest = match find_start_code(data) {
        Some((_, after)) => &data[after..],
        None => &[],
    };
    AnnexBNals { rest }
}

/// Converts an Annex B byte stream to length-prefixed NAL units (`nal_length_size` bytes each,
/// big-endian), appending to `out`.
///
/// Fails, leaving `out` as it was, if `nal_length_size` is not 1..=4 or a unit is too long for
/// its length field.
pub fn annexb_to_avcc(
    data: &[u8],
    nal_length_size: u8,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    check_length_size(nal_length_size)?;
    let start = out.len();
    let max_len = max_nal_len(nal_length_size);
    for nal in split_annexb(data) {
        if nal.len() as u64 > max_len {
            out.truncate(start);
            return Err(CodecError::TooLarge("NAL unit length"));
        }
        let len = (nal.len() as u64).to_be_bytes();
        out.extend_from_slice(&len[8 - usize::from(nal_length_size)..]);
        out.extend_from_slice(nal);
    }
    Ok(())
}

/// Iterates the NAL units of length-prefixed data (an FLV/RTMP AVC or HEVC video payload).
///
/// Yields an error (and then stops) for a bad `nal_length_size` or a length running past the
/// end of `data`. Zero-length units are yielded as empty slices.
pub fn avcc_nals(data: &[u8], nal_length_size: u8) -> AvccNals<'_> {
    AvccNals {
        rest: data,
        nal_length_size,
        done: false,
    }
}

/// Iterator returned by [`split_annexb`].
#[derive(Clone, Debug)]
pub struct AnnexBNals<'a> {
    /// Input after the last start code consumed.
    rest: &'a [u8],
}

impl<'a> Iterator for AnnexBNals<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while !self.rest.is_empty() {
            let (nal, rest) = match find_start_code(self.rest) {
                Some((at, after)) => (&self.rest[..at], &self.rest[after..]),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            let end = nal.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            if end > 0 {
                return Some(&nal[..end]);
            }
        }
        None
    }
}

/// Iterator returned by [`avcc_nals`].
#[derive(Clone, Debug)]
pub struct AvccNals<'a> {
    rest: &'a [u8],
    nal_length_size: u8,
    done: bool,
}

impl<'a> Iterator for AvccNals<'a> {
    type Item = Result<&'a [u8], CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        let result = self.next_nal();
        self.done = result.is_err();
        Some(result)
    }
}

impl<'a> AvccNals<'a> {
    fn next_nal(&mut self) -> Result<&'a [u8], CodecError> {
        check_length_size(self.nal_length_size)?;
        let size = usize::from(self.nal_length_size);
        let prefix = self
            .rest
            .get(..size)
            .ok_or(CodecError::Truncated("NAL unit length"))?;
        let len = prefix
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| len.checked_add(size))
            .filter(|&end| end <= self.rest.len())
            .ok_or(CodecError::Truncated("NAL unit"))?;
        let nal = &self.rest[size..end];
        self.rest = &self.rest[end..];
        Ok(nal)
    }
}

/// Reads `count` 16-bit-length-prefixed NAL units. Each needs at least two input bytes, so
/// the vector cannot outgrow the input.
pub(crate) fn read_nals(
    r: &mut crate::bits::ByteReader<'_>,
    count: usize,
) -> Result<Vec<bytes::Bytes>, CodecError> {
    let mut nals = Vec::new();
    for _ in 0..count {
        let len = r.u16()?;
        nals.push(bytes::Bytes::copy_from_slice(r.bytes(usize::from(len))?));
    }
    Ok(nals)
}

pub(crate) fn check_length_size(nal_length_size: u8) -> Result<(), CodecError> {
    if (1..=4).contains(&nal_length_size) {
        Ok(())
    } else {
        Err(CodecError::NalLengthSize(nal_length_size))
    }
}

fn max_nal_len(nal_length_size: u8) -> u64 {
    (1u64 << (8 * u32::from(nal_length_size))) - 1
}

/// The first `00 00 01` in `data`: (index of its first byte, index just after it).
fn find_start_code(data: &[u8]) -> Option<(usize, usize)> {
    // SIMD substring search: this runs over every byte of every video frame a TS source
    // delivers (a byte-window scan was the HLS relay's hottest function).
    memchr::memmem::find(data, &[0, 0, 1]).map(|i| (i, i + 3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_three_and_four_byte_start_codes() {
        let data = [
            0xff, 0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 4, 5, 0, 0,
        ];
        let nals: Vec<&[u8]> = split_annexb(&data).collect();
        assert_eq!(nals, [&[0x67, 1, 2][..], &[0x68, 3], &[0x65, 4, 5]]);
        assert_eq!(split_annexb(&[1, 2, 3]).count(), 0);
        assert_eq!(split_annexb(&[0, 0, 1, 0, 0, 1]).count(), 0);
    }

    #[test]
    fn annexb_to_avcc_and_back() {
        let data = [0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3];
        let mut out = vec![0xaa];
        annexb_to_avcc(&data, 4, &mut out).unwrap();
        assert_eq!(out, [0xaa, 0, 0, 0, 3, 0x67, 1, 2, 0, 0, 0, 2, 0x68, 3]);
        let nals: Vec<&[u8]> = avcc_nals(&out[1..], 4).map(Result::unwrap).collect();
        assert_eq!(nals, [&[0x67, 1, 2][..], &[0x68, 3]]);
    }

    #[test]
    fn length_field_limits() {
        let mut data = vec![0, 0, 1];
        data.extend(std::iter::repeat_n(0x41, 256));
        let mut out = vec![7];
        assert_eq!(
            annexb_to_avcc(&data, 1, &mut out),
            Err(CodecError::TooLarge("NAL unit length"))
        );
        assert_eq!(out, [7]);
        annexb_to_avcc(&data, 2, &mut out).unwrap();
        assert_eq!(&out[1..3], &[1, 0]);
        assert_eq!(
            annexb_to_avcc(&data, 0, &mut out),
            Err(CodecError::NalLengthSize(0))
        );
    }

    #[test]
    fn avcc_errors_stop_the_iterator() {
        let mut it = avcc_nals(&[0, 0, 0, 9, 1, 2], 4);
        assert_eq!(it.next(), Some(Err(CodecError::Truncated("NAL unit"))));
        assert_eq!(it.next(), None);
        let mut it = avcc_nals(&[0, 1, 5, 0], 2);
        assert_eq!(it.next(), Some(Ok(&[5][..])));
        assert_eq!(
            it.next(),
            Some(Err(CodecError::Truncated("NAL unit length")))
        );
        assert_eq!(it.next(), None);
        let mut it = avcc_nals(&[1], 5);
        assert_eq!(it.next(), Some(Err(CodecError::NalLengthSize(5))));
        assert_eq!(it.next(), None);
    }

    fn arb_nal() -> impl Strategy<Value = Vec<u8>> {
        // A NAL unit never contains a start code (emulation prevention guarantees it) and
        // never ends with a zero byte (rbsp_trailing_bits end in a 1 bit).
        prop::collection::vec(any::<u8>(), 1..200).prop_map(|mut v| {
            let mut zeros = 0;
            for b in &mut v {
                if zeros >= 2 && *b <= 3 {
                    *b = 3;
                }
                zeros = if *b == 0 { zeros + 1 } else { 0 };
            }
            if let Some(last) = v.last_mut()
                && *last == 0
            {
                *last = 0x80;
            }
            v
        })
    }

    proptest! {
        #[test]
        fn annexb_avcc_round_trip(nals in prop::collection::vec(arb_nal(), 0..10), four in any::<bool>(), size in 1u8..=4) {
            let mut annexb = Vec::new();
            for nal in &nals {
                annexb.extend_from_slice(if four { &[0, 0, 0, 1][..] } else { &[0, 0, 1] });
                annexb.extend_from_slice(nal);
            }
            let split: Vec<&[u8]> = split_annexb(&annexb).collect();
            let expected: Vec<&[u8]> = nals.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(&split, &expected);
            let mut avcc = Vec::new();
            if annexb_to_avcc(&annexb, size, &mut avcc).is_ok() {
                let back: Vec<&[u8]> = avcc_nals(&avcc, size).collect::<Result<_, _>>().unwrap();
                prop_assert_eq!(&back, &expected);
            } else {
                prop_assert!(size < 4 && nals.iter().any(|n| n.len() as u64 > max_nal_len(size)));
            }
        }

        #[test]
        fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..100), size in 0u8..6) {
            let total: usize = split_annexb(&data).map(<[u8]>::len).sum();
            prop_assert!(total <= data.len());
            for nal in avcc_nals(&data, size).map_while(Result::ok) {
                prop_assert!(nal.len() <= data.len());
            }
        }
    }
}
