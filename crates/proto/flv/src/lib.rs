//! FLV: the file header, tags, an incremental demuxer and a muxer, and the audio/video tag-body
//! headers shared with RTMP messages. Sans-IO: bytes in, tags out.
//!
//! Layout of an FLV stream (FLV spec v10.1 Annex E.2, E.3):
//!
//! ```text
//! FLV header (9 bytes, or DataOffset bytes) | PreviousTagSize0 = 0 (4)
//! { tag header (11) | tag data (DataSize) | PreviousTagSize = 11 + DataSize (4) } *
//! ```

pub mod body;
pub mod demux;
pub mod header;
pub mod mux;
pub mod tag;

pub use body::{BodyVideoCodec, TagPrefix};
pub use demux::{DemuxLimits, DemuxStats, FlvDemuxer, FlvTag};
pub use header::FlvHeader;
pub use mux::FlvMuxer;
pub use tag::{
    AudioCodec, AudioTagHeader, TagType, VideoCodec, VideoPacket, VideoTagHeader,
    parse_audio_tag_header, parse_video_tag_header,
};

/// Length of an FLV tag header (FLV spec E.4.1): type, DataSize, Timestamp, TimestampExtended,
/// StreamID.
pub const TAG_HEADER_LEN: usize = 11;

/// Length of a PreviousTagSize field (FLV spec E.3).
pub const PREVIOUS_TAG_SIZE_LEN: usize = 4;

/// The largest tag body FLV can describe: DataSize is a 24-bit field (FLV spec E.4.1).
pub const MAX_TAG_DATA_SIZE: u32 = 0x00ff_ffff;

/// Errors from parsing or writing FLV data. Each names what was being read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlvError {
    /// The input ended inside the named structure.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// The stream does not start with the `FLV` signature (FLV spec E.2).
    #[error("not an FLV stream: signature bytes {0:02x?}")]
    NotFlv(Vec<u8>),
    /// The header's DataOffset is below the 9-byte header or beyond what Baton will skip.
    #[error("FLV header DataOffset {0} is out of range (9..={max})", max = header::MAX_DATA_OFFSET)]
    DataOffset(u32),
    /// A tag's DataSize exceeds the demuxer's configured limit.
    #[error("FLV tag of {size} bytes exceeds the limit of {max} bytes")]
    TagTooLarge { size: u32, max: u32 },
    /// Tag data to be muxed does not fit FLV's 24-bit DataSize.
    #[error("tag data of {0} bytes does not fit FLV's 24-bit DataSize")]
    DataTooLarge(usize),
}
