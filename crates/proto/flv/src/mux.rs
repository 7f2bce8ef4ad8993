//! FLV muxing (FLV spec v10.1 E.2–E.4.1): the file header and tag framing.
//!
//! Stateless: a muxed stream is `header()` followed by `write_tag()` for each tag. Timestamps
//! are written as given; keeping them monotonic is the caller's job (baton-media's timeline).

use bytes::{BufMut, Bytes, BytesMut};

use crate::{FlvError, FlvHeader, MAX_TAG_DATA_SIZE, TAG_HEADER_LEN, TagType};

/// Writes FLV headers and tags.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlvMuxer;

impl FlvMuxer {
    /// The FLV header including PreviousTagSize0 (13 bytes).
    pub fn header(has_audio: bool, has_video: bool) -> Bytes {
        let header = FlvHeader {
            has_audio,
            has_video,
        };
        Bytes::copy_from_slice(&header.encode())
    }

    /// Appends one tag to `out`: tag header, `data`, and the trailing PreviousTagSize.
    ///
    /// Data longer than FLV's 24-bit DataSize cannot be described, so such a tag is not written
    /// at all (rather than written corrupt); [`FlvMuxer::try_write_tag`] reports it instead.
    /// Data from an RTMP message or an FLV tag always fits: their lengths are 24-bit too.
    pub fn write_tag(tag_type: TagType, timestamp: u32, data: &[u8], out: &mut BytesMut) {
        // Ignoring the error is the documented behaviour: nothing is written.
        let _ = Self::try_write_tag(tag_type, timestamp, data, out);
    }

    /// Like [`FlvMuxer::write_tag`], but fails (writing nothing) when `data` does not fit.
    pub fn try_write_tag(
        tag_type: TagType,
        timestamp: u32,
        data: &[u8],
        out: &mut BytesMut,
    ) -> Result<(), FlvError> {
        let (header, trailer) = Self::tag_framing(tag_type, timestamp, data.len())?;
        out.reserve(header.len() + data.len() + trailer.len());
        out.put_slice(&header);
        out.put_slice(data);
        out.put_slice(&trailer);
        Ok(())
    }

    /// The 11-byte tag header and the 4-byte PreviousTagSize that frame `data_len` bytes of tag
    /// data, for writers that send the data itself without copying it (vectored writes of a
    /// shared `Bytes`).
    pub fn tag_framing(
        tag_type: TagType,
        timestamp: u32,
        data_len: usize,
    ) -> Result<([u8; TAG_HEADER_LEN], [u8; 4]), FlvError> {
        let size = u32::try_from(data_len)
            .ok()
            .filter(|&s| s <= MAX_TAG_DATA_SIZE)
            .ok_or(FlvError::DataTooLarge(data_len))?;
        let [_, s1, s2, s3] = size.to_be_bytes();
        // Timestamp: lower 24 bits, then TimestampExtended holds bits 24..32 (FLV spec E.4.1).
        let [t_ext, t1, t2, t3] = timestamp.to_be_bytes();
        let header = [tag_type.id(), s1, s2, s3, t1, t2, t3, t_ext, 0, 0, 0];
        // Cannot overflow: size <= 2^24 - 1.
        let trailer = (size + TAG_HEADER_LEN as u32).to_be_bytes();
        Ok((header, trailer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_tag_layout_with_extended_timestamp() {
        let mut out = BytesMut::new();
        FlvMuxer::write_tag(TagType::Video, 0x1234_5678, &[0x17, 0x01], &mut out);
        assert_eq!(
            &out[..],
            &[
                9, 0, 0, 2, 0x34, 0x56, 0x78, 0x12, 0, 0, 0, // header
                0x17, 0x01, // data
                0, 0, 0, 13, // PreviousTagSize
            ]
        );
    }

    #[test]
    fn header_is_thirteen_bytes() {
        let h = FlvMuxer::header(true, false);
        assert_eq!(&h[..], &[b'F', b'L', b'V', 1, 4, 0, 0, 0, 9, 0, 0, 0, 0]);
    }

    #[test]
    fn oversized_data_is_an_error_and_writes_nothing() {
        let data = vec![0u8; MAX_TAG_DATA_SIZE as usize + 1];
        let mut out = BytesMut::new();
        assert_eq!(
            FlvMuxer::try_write_tag(TagType::Audio, 0, &data, &mut out),
            Err(FlvError::DataTooLarge(data.len()))
        );
        assert!(out.is_empty());
        FlvMuxer::write_tag(TagType::Audio, 0, &data, &mut out);
        assert!(out.is_empty());
        let (_, trailer) =
            FlvMuxer::tag_framing(TagType::Audio, 0, MAX_TAG_DATA_SIZE as usize).unwrap();
        assert_eq!(u32::from_be_bytes(trailer), MAX_TAG_DATA_SIZE + 11);
    }
}
