//! Box headers (ISO/IEC 14496-12 4.2), a bounds-checked reader for box payloads, and iteration
//! over the child boxes of a container.

use crate::{FourCc, Mp4Error};

/// A box header parsed from the first bytes at some file offset.
///
/// 8 bytes are needed (`size`, `type`), 16 when `size` is 1 (64-bit `largesize`). The 16-byte
/// `usertype` of a `uuid` box is not part of the header here: it is the start of the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoxHeader {
    /// The box type (`moov`, `mdat`...).
    pub kind: [u8; 4],
    /// 8, or 16 with a `largesize`.
    pub header_len: u8,
    /// The whole box in bytes, header included. `None`: the box extends to the end of the file
    /// (`size` 0, allowed for the last top-level box).
    pub size: Option<u64>,
}

impl BoxHeader {
    /// Parses a box header from the start of `buf`. `Ok(None)` when more bytes are needed
    /// (fewer than 8, or fewer than 16 with a `largesize`); an error when the size is smaller
    /// than the header itself.
    pub fn parse(buf: &[u8]) -> Result<Option<BoxHeader>, Mp4Error> {
        let Some(head) = buf.get(..8) else {
            return Ok(None);
        };
        let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind = [head[4], head[5], head[6], head[7]];
        let (size, header_len) = match size {
            0 => (None, 8u8),
            1 => {
                let Some(large) = buf.get(8..16) else {
                    return Ok(None);
                };
                let mut b = [0u8; 8];
                b.copy_from_slice(large);
                (Some(u64::from_be_bytes(b)), 16)
            }
            n => (Some(u64::from(n)), 8),
        };
        if let Some(size) = size
            && size < u64::from(header_len)
        {
            return Err(Mp4Error::BoxTooSmall {
                kind: FourCc(kind),
                size,
                header_len,
            });
        }
        Ok(Some(BoxHeader {
            kind,
            header_len,
            size,
        }))
    }

    /// The payload length, given the bytes available after the header's start (used for
    /// `size: None`).
    pub fn payload_len(&self, available: u64) -> u64 {
        self.size
            .unwrap_or(available)
            .saturating_sub(u64::from(self.header_len))
    }
}

/// Reads big-endian fields from a box payload; running out of bytes is
/// [`Mp4Error::Truncated`] naming the box.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], what: &'static str) -> Self {
        Reader { data, pos: 0, what }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], Mp4Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.data.len())
            .ok_or(Mp4Error::Truncated(self.what))?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let out = &self.data[self.pos..];
        self.pos = self.data.len();
        out
    }

    pub(crate) fn skip(&mut self, n: usize) -> Result<(), Mp4Error> {
        self.bytes(n).map(|_| ())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Mp4Error> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Mp4Error> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Mp4Error> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u24(&mut self) -> Result<u32, Mp4Error> {
        let [a, b, c] = self.array()?;
        Ok(u32::from_be_bytes([0, a, b, c]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Mp4Error> {
        self.array().map(u32::from_be_bytes)
    }

    pub(crate) fn i32(&mut self) -> Result<i32, Mp4Error> {
        self.array().map(i32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Mp4Error> {
        self.array().map(u64::from_be_bytes)
    }

    pub(crate) fn i64(&mut self) -> Result<i64, Mp4Error> {
        self.array().map(i64::from_be_bytes)
    }

    pub(crate) fn fourcc(&mut self) -> Result<[u8; 4], Mp4Error> {
        self.array()
    }

    /// The version and flags of a FullBox (ISO/IEC 14496-12 4.2).
    pub(crate) fn full_box(&mut self) -> Result<(u8, u32), Mp4Error> {
        let version = self.u8()?;
        let flags = self.u24()?;
        Ok((version, flags))
    }

    /// Reads a table's entry count and checks that that many entries of `entry_len` bytes are
    /// present, before anyone allocates for them.
    pub(crate) fn entry_count(&mut self, entry_len: usize) -> Result<usize, Mp4Error> {
        let count = self.u32()? as usize;
        if count
            .checked_mul(entry_len)
            .is_none_or(|len| len > self.remaining())
        {
            return Err(Mp4Error::Truncated(self.what));
        }
        Ok(count)
    }
}

/// The child boxes of a container payload, in order: `(type, payload)`. After an error the
/// iteration ends.
#[derive(Clone, Debug)]
pub(crate) struct Children<'a> {
    data: &'a [u8],
    parent: &'static str,
}

impl<'a> Children<'a> {
    pub(crate) fn new(data: &'a [u8], parent: &'static str) -> Self {
        Children { data, parent }
    }
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<([u8; 4], &'a [u8]), Mp4Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.data.is_empty() {
            return None;
        }
        let result = match BoxHeader::parse(self.data) {
            Ok(None) => Err(Mp4Error::Truncated(self.parent)),
            Err(e) => Err(e),
            Ok(Some(h)) => {
                let available = self.data.len() as u64;
                match h.size {
                    Some(size) if size > available => Err(Mp4Error::BoxOverrun {
                        kind: FourCc(h.kind),
                        parent: self.parent,
                        size,
                        available,
                    }),
                    size => {
                        // size <= available, which is a usize.
                        let end = size.map_or(self.data.len(), |s| s as usize);
                        let payload = &self.data[usize::from(h.header_len)..end];
                        self.data = &self.data[end..];
                        return Some(Ok((h.kind, payload)));
                    }
                }
            }
        };
        self.data = &[];
        Some(result)
    }
}

/// The payload of the first child of type `kind`, if any.
pub(crate) fn find<'a>(
    data: &'a [u8],
    parent: &'static str,
    kind: &[u8; 4],
) -> Result<Option<&'a [u8]>, Mp4Error> {
    for child in Children::new(data, parent) {
        let (k, payload) = child?;
        if &k == kind {
            return Ok(Some(payload));
        }
    }
    Ok(None)
}

/// The payload of the first child of type `kind`, which must exist.
pub(crate) fn require<'a>(
    data: &'a [u8],
    parent: &'static str,
    kind: &'static str,
) -> Result<&'a [u8], Mp4Error> {
    let mut k = [0u8; 4];
    k.copy_from_slice(&kind.as_bytes()[..4]);
    find(data, parent, &k)?.ok_or(Mp4Error::Missing { kind, parent })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compact_large_and_open_ended_headers() {
        assert_eq!(
            BoxHeader::parse(b"\0\0\0\x10moov").unwrap(),
            Some(BoxHeader {
                kind: *b"moov",
                header_len: 8,
                size: Some(16),
            })
        );
        assert_eq!(
            BoxHeader::parse(b"\0\0\0\0mdat").unwrap(),
            Some(BoxHeader {
                kind: *b"mdat",
                header_len: 8,
                size: None,
            })
        );
        let large = b"\0\0\0\x01mdat\0\0\0\x01\0\0\0\0";
        assert_eq!(BoxHeader::parse(&large[..15]).unwrap(), None);
        assert_eq!(
            BoxHeader::parse(large).unwrap(),
            Some(BoxHeader {
                kind: *b"mdat",
                header_len: 16,
                size: Some(1 << 32),
            })
        );
        for len in 0..8 {
            assert_eq!(BoxHeader::parse(&large[..len]).unwrap(), None);
        }
    }

    #[test]
    fn sizes_below_the_header_are_errors() {
        let e = BoxHeader::parse(b"\0\0\0\x07free").unwrap_err();
        assert_eq!(
            e.to_string(),
            "box 'free' declares 7 bytes, less than its 8-byte header"
        );
        assert!(BoxHeader::parse(b"\0\0\0\x01free\0\0\0\0\0\0\0\x0f").is_err());
        assert!(BoxHeader::parse(b"\0\0\0\x01free\0\0\0\0\0\0\0\x10").is_ok());
    }

    #[test]
    fn children_stop_at_overruns_and_name_the_parent() {
        let data = b"\0\0\0\x09abcdX\0\0\0\x20efgh";
        let mut it = Children::new(data, "stbl");
        assert_eq!(it.next().unwrap().unwrap(), (*b"abcd", &b"X"[..]));
        let e = it.next().unwrap().unwrap_err();
        assert_eq!(
            e.to_string(),
            "box 'efgh' of 32 bytes overruns its parent 'stbl' (8 bytes left)"
        );
        assert!(it.next().is_none());
        let e = Children::new(b"\0\0\0", "minf")
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(e, Mp4Error::Truncated("minf"));
    }

    #[test]
    fn entry_counts_are_checked_against_the_payload() {
        let mut r = Reader::new(&[0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8], "stco");
        assert_eq!(r.entry_count(4).unwrap(), 2);
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4], "stco");
        assert_eq!(r.entry_count(8).unwrap_err(), Mp4Error::Truncated("stco"));
    }

    #[test]
    fn fourcc_escapes_unprintable_bytes() {
        assert_eq!(FourCc(*b"ac-3").to_string(), "ac-3");
        assert_eq!(FourCc([0xa9, b'n', b'a', 0]).to_string(), "\\xa9na\\x00");
    }
}
