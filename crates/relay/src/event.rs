//! What every kind of source yields to the runner (its own module so that the sources —
//! `source`, `hls` — share it without importing each other).

use baton_media::Frame;

/// What a source yields.
#[derive(Debug)]
pub enum SourceEvent {
    Frame(Frame),
    /// The stream ended but the connection may deliver more (RTMP unpublish notice, HLS
    /// EXT-X-ENDLIST).
    Ended,
    /// Nothing more will come: a playlist of files played to its end.
    Finished,
}
