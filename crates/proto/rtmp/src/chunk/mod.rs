//! The chunk stream (RTMP spec 1.0 section 5.3): messages cut into chunks of at most the
//! sender's chunk size, each with a basic header (5.3.1.1: format and chunk stream id, 1-3
//! bytes), a message header of 11, 7, 3 or 0 bytes (5.3.1.2: formats 0-3) and, when the
//! timestamp field is 0xFFFFFF, a 4-byte extended timestamp (5.3.1.3).
//!
//! [`ChunkDecoder`] reassembles messages from received bytes; [`ChunkEncoder`] cuts messages
//! into chunks, compressing headers against the previous message on the same chunk stream.

mod decoder;
mod encoder;

pub use decoder::ChunkDecoder;
pub use encoder::ChunkEncoder;

use bytes::Bytes;

/// The chunk size both sides start with (RTMP spec 5.4.1).
pub const DEFAULT_CHUNK_SIZE: u32 = 128;
/// The largest chunk size: the top bit of Set Chunk Size must be zero (5.4.1).
pub const MAX_CHUNK_SIZE: u32 = 0x7FFF_FFFF;
/// The highest chunk stream id a 3-byte basic header can carry (5.3.1.1).
pub const MAX_CSID: u32 = 65599;
/// The largest message a 24-bit length field can describe.
pub const MAX_MESSAGE_LENGTH: usize = 0xFF_FFFF;
/// A timestamp field with this value means "see the extended timestamp" (5.3.1.3).
pub(crate) const EXTENDED_TIMESTAMP: u32 = 0xFF_FFFF;

/// One reassembled message with its header fields (RTMP spec 6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// Chunk stream it arrived on.
    pub csid: u32,
    /// Absolute timestamp in milliseconds; wraps at 2^32 like the wire value.
    pub timestamp: u32,
    /// Message type id ([`crate::message::type_id`]).
    pub type_id: u8,
    /// Message stream id (0 for the NetConnection).
    pub stream_id: u32,
    /// The message body.
    pub payload: Bytes,
}

/// Resource limits of a [`ChunkDecoder`]. Each guards memory against a peer that declares
/// more than it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimits {
    /// Largest message accepted (its declared length is checked at the first chunk).
    pub max_message_size: usize,
    /// Chunk streams that may have a partially received message at once. Real peers use 3-4
    /// (commands, audio, video, data).
    pub max_partial_messages: usize,
    /// Total buffer space of partially received messages.
    pub max_partial_bytes: usize,
    /// Distinct chunk stream ids whose header state is remembered.
    pub max_chunk_streams: usize,
}

impl Default for ChunkLimits {
    fn default() -> Self {
        ChunkLimits {
            max_message_size: 8 << 20,
            max_partial_messages: 16,
            max_partial_bytes: 32 << 20,
            max_chunk_streams: 256,
        }
    }
}

impl ChunkLimits {
    /// Default limits with another maximum message size (partial-bytes budget scaled to
    /// four such messages).
    pub fn with_max_message_size(max_message_size: usize) -> Self {
        ChunkLimits {
            max_message_size,
            max_partial_bytes: max_message_size.saturating_mul(4),
            ..ChunkLimits::default()
        }
    }
}

/// Chunk stream errors; each names the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// Set Chunk Size of 0 or with the top bit set (RTMP spec 5.4.1).
    #[error("invalid chunk size {0} (must be 1..=2147483647)")]
    InvalidChunkSize(u32),
    /// A message longer than [`ChunkLimits::max_message_size`].
    #[error("message of {length} bytes on chunk stream {csid} exceeds the limit of {limit}")]
    MessageTooLarge {
        csid: u32,
        length: usize,
        limit: usize,
    },
    /// A format 1, 2 or 3 chunk on a chunk stream that never had a format 0 header.
    #[error("chunk format {fmt} on chunk stream {csid}, which has no previous header")]
    MissingHeader { csid: u32, fmt: u8 },
    /// Too many chunk streams with a message in flight.
    #[error("more than {limit} chunk streams with partial messages")]
    TooManyPartialMessages { limit: usize },
    /// Partial messages together exceed [`ChunkLimits::max_partial_bytes`].
    #[error("partial messages exceed {limit} bytes")]
    PartialBytesExceeded { limit: usize },
    /// More distinct chunk stream ids than [`ChunkLimits::max_chunk_streams`].
    #[error("more than {limit} chunk streams")]
    TooManyChunkStreams { limit: usize },
}

#[cfg(test)]
mod tests;
