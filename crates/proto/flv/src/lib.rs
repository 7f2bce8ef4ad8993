//! FLV: the file header, tags, an incremental demuxer and a muxer, and the audio/video tag-body
//! headers shared with RTMP messages. Sans-IO: bytes in, tags out.

pub mod tag;

pub use tag::{
    AudioCodec, AudioTagHeader, TagType, VideoCodec, VideoPacket, VideoTagHeader,
    parse_audio_tag_header, parse_video_tag_header,
};

/// Errors from parsing FLV data. Each names what was being read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlvError {
    #[error("truncated {0}")]
    Truncated(&'static str),
}
