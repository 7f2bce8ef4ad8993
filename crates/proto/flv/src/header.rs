//! The FLV file header (FLV spec v10.1 E.2) and the PreviousTagSize0 that follows it (E.3).

use crate::FlvError;

/// Length of the FLV header as version 1 defines it (the minimum DataOffset).
pub const HEADER_LEN: usize = 9;

/// Largest DataOffset accepted. Version 1 always writes 9; a larger value means the header is
/// followed by padding that readers skip. Capped so that a garbage value cannot make a reader
/// buffer or skip gigabytes before it notices.
pub const MAX_DATA_OFFSET: u32 = 64 * 1024;

const SIGNATURE: &[u8; 3] = b"FLV";
const FLAG_AUDIO: u8 = 0x04;
const FLAG_VIDEO: u8 = 0x01;

/// The FLV file header: which kinds of tags the file says it contains.
///
/// The flags are advisory; players and this demuxer read whatever tags follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlvHeader {
    pub has_audio: bool,
    pub has_video: bool,
}

impl FlvHeader {
    /// The 9-byte version-1 header followed by PreviousTagSize0 (= 0).
    pub fn encode(&self) -> [u8; 13] {
        let mut flags = 0;
        if self.has_audio {
            flags |= FLAG_AUDIO;
        }
        if self.has_video {
            flags |= FLAG_VIDEO;
        }
        [
            b'F',
            b'L',
            b'V',
            1,
            flags,
            0,
            0,
            0,
            HEADER_LEN as u8,
            0,
            0,
            0,
            0,
        ]
    }

    /// Parses the header from the start of `input`.
    ///
    /// Returns `Ok(None)` while more bytes are needed, or the header and the number of bytes it
    /// occupies including any DataOffset padding and PreviousTagSize0 (13 for every file written
    /// by a version-1 muxer). The value of PreviousTagSize0 is not checked here; the demuxer
    /// counts a non-zero one as a mismatch.
    ///
    /// Fails as soon as the bytes seen cannot be an FLV signature, so garbage is rejected after
    /// its first byte rather than after 13.
    pub fn parse(input: &[u8]) -> Result<Option<(FlvHeader, usize)>, FlvError> {
        let Some((header, data_offset)) = parse_fixed(input)? else {
            return Ok(None);
        };
        let used = data_offset as usize + crate::PREVIOUS_TAG_SIZE_LEN;
        if input.len() < used {
            return Ok(None);
        }
        Ok(Some((header, used)))
    }
}

/// Parses the fixed 9 bytes: the header and its DataOffset (already range-checked).
/// `Ok(None)` while fewer than 9 bytes are available and those seen could still be FLV.
pub(crate) fn parse_fixed(input: &[u8]) -> Result<Option<(FlvHeader, u32)>, FlvError> {
    let seen = input.len().min(SIGNATURE.len());
    if input[..seen] != SIGNATURE[..seen] {
        return Err(FlvError::NotFlv(input[..seen].to_vec()));
    }
    let Some(fixed) = input.get(..HEADER_LEN) else {
        return Ok(None);
    };
    // fixed[3] is the version. Every known writer uses 1; other values are tolerated because
    // the layout has never changed and rejecting them would only lose streams.
    let flags = fixed[4];
    let data_offset = u32::from_be_bytes([fixed[5], fixed[6], fixed[7], fixed[8]]);
    if !(HEADER_LEN as u32..=MAX_DATA_OFFSET).contains(&data_offset) {
        return Err(FlvError::DataOffset(data_offset));
    }
    let header = FlvHeader {
        has_audio: flags & FLAG_AUDIO != 0,
        has_video: flags & FLAG_VIDEO != 0,
    };
    Ok(Some((header, data_offset)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_parse_round_trip_all_flag_combinations() {
        for (a, v) in [(false, false), (true, false), (false, true), (true, true)] {
            let h = FlvHeader {
                has_audio: a,
                has_video: v,
            };
            let bytes = h.encode();
            assert_eq!(FlvHeader::parse(&bytes), Ok(Some((h, 13))));
        }
        assert_eq!(
            FlvHeader {
                has_audio: true,
                has_video: true
            }
            .encode(),
            [0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]
        );
    }

    #[test]
    fn needs_more_bytes_until_previous_tag_size0() {
        let bytes = FlvHeader {
            has_audio: true,
            has_video: false,
        }
        .encode();
        for len in 0..bytes.len() {
            assert_eq!(FlvHeader::parse(&bytes[..len]), Ok(None), "len {len}");
        }
    }

    #[test]
    fn data_offset_padding_is_included_in_bytes_used() {
        let mut bytes = vec![b'F', b'L', b'V', 1, 1, 0, 0, 0, 12, 0xaa, 0xbb, 0xcc];
        assert_eq!(FlvHeader::parse(&bytes), Ok(None));
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        let (h, used) = FlvHeader::parse(&bytes).unwrap().unwrap();
        assert!(h.has_video && !h.has_audio);
        assert_eq!(used, 16);
    }

    #[test]
    fn rejects_bad_signature_early_and_bad_data_offset() {
        assert!(matches!(
            FlvHeader::parse(b"X"),
            Err(FlvError::NotFlv(ref b)) if b == b"X"
        ));
        assert!(matches!(FlvHeader::parse(b"FLX"), Err(FlvError::NotFlv(_))));
        assert_eq!(
            FlvHeader::parse(&[b'F', b'L', b'V', 1, 5, 0, 0, 0, 8]),
            Err(FlvError::DataOffset(8))
        );
        assert_eq!(
            FlvHeader::parse(&[b'F', b'L', b'V', 1, 5, 0xff, 0xff, 0xff, 0xff]),
            Err(FlvError::DataOffset(u32::MAX))
        );
    }
}
