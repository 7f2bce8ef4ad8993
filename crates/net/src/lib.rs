//! Baton's tokio drivers for the sans-IO protocol crates: the RTMP and SRT ingest servers and
//! their [`hub`], MPEG-TS to frames ([`ts`]), RTMP client connections, HTTP-FLV playback and HTTP-FLV pulling, and random-access
//! reads of media files over HTTP range requests or from disk ([`fetch`]).
//!
//! Everything here is async and bounded: every queue has a size and a named full-queue policy
//! (the hub's subscriber queues drop to the next keyframe), every wait has a timeout.

pub mod client;
pub mod egress;
pub mod fetch;
pub mod http_flv;
pub mod http_listener;
pub mod hub;
pub mod ingest;
pub mod io;
pub mod metrics;
pub mod rtsp;
pub mod srt_client;
pub mod testing;
pub mod tls;
pub mod transport;
pub mod ts;

pub use baton_rtmp::RtmpUrl;
pub use baton_rtmp::session::MediaKind;

use baton_media::TagType;

/// The RTMP message kind that carries a frame of `tag`.
pub fn media_kind(tag: TagType) -> MediaKind {
    match tag {
        TagType::Audio => MediaKind::Audio,
        TagType::Video => MediaKind::Video,
        TagType::Script => MediaKind::Data,
    }
}

/// The FLV tag type of an RTMP media message kind.
pub fn tag_type(kind: MediaKind) -> TagType {
    match kind {
        MediaKind::Audio => TagType::Audio,
        MediaKind::Video => TagType::Video,
        MediaKind::Data => TagType::Script,
    }
}
