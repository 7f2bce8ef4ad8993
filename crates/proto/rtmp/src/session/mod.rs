//! Client and server sessions: the NetConnection and NetStream command exchanges (RTMP spec
//! 1.0 section 7.2) on top of the handshake, chunk stream and protocol control messages.
//!
//! Both session types are sans-IO and share one driver contract:
//!
//! 1. After construction, write [`take_output`](ServerSession::take_output) to the socket
//!    until it returns `None` (a client starts with C0+C1 queued).
//! 2. Pass every received byte slice to `handle_input`, then drain `poll_event` and act on
//!    the events (for a server: accept or reject requests), then write the output again.
//! 3. Call `handle_timeout(now)` when `poll_timeout()` is reached (pings).
//! 4. `output_len()` tells how many bytes are queued: a driver applies back-pressure on it.
//!
//! An `Err` from any call means the connection is unusable: log it and close. Later calls
//! return [`SessionError::Failed`].

mod client;
mod common;
mod server;

pub use client::{ClientConfig, ClientEvent, ClientMode, ClientSession, ClientState, Stage};
pub use server::{ServerConfig, ServerEvent, ServerSession};

pub use crate::handshake::HandshakeMode;

use baton_amf::AmfError;

use crate::chunk::ChunkError;
use crate::handshake::HandshakeError;
use crate::message::{MessageError, csid, type_id};

/// What a media message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// Message type 8.
    Audio,
    /// Message type 9.
    Video,
    /// AMF0 data, message type 18 (`onMetaData` and friends).
    Data,
}

impl MediaKind {
    /// The RTMP message type id.
    pub fn type_id(self) -> u8 {
        match self {
            MediaKind::Audio => type_id::AUDIO,
            MediaKind::Video => type_id::VIDEO,
            MediaKind::Data => type_id::DATA_AMF0,
        }
    }

    /// The kind of a message type id (8, 9, 18; 15 is AMF3 data).
    pub fn from_type_id(id: u8) -> Option<MediaKind> {
        match id {
            type_id::AUDIO => Some(MediaKind::Audio),
            type_id::VIDEO => Some(MediaKind::Video),
            type_id::DATA_AMF0 | type_id::DATA_AMF3 => Some(MediaKind::Data),
            _ => None,
        }
    }

    /// The conventional chunk stream of this kind.
    pub(crate) fn csid(self) -> u32 {
        match self {
            MediaKind::Audio => csid::AUDIO,
            MediaKind::Video => csid::VIDEO,
            MediaKind::Data => csid::DATA,
        }
    }
}

/// Why a session failed or refused a call. Variants name the layer or the violated rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SessionError {
    #[error("handshake: {0}")]
    Handshake(#[from] HandshakeError),
    #[error("chunk stream: {0}")]
    Chunk(#[from] ChunkError),
    #[error("message: {0}")]
    Message(#[from] MessageError),
    #[error("AMF: {0}")]
    Amf(#[from] AmfError),
    /// The peer sent a stream command before its `connect` was accepted.
    #[error("protocol violation: {command} before connect was accepted")]
    NotConnected { command: String },
    /// `accept_*`/`reject_*` with an id that no pending request has (or of the wrong kind).
    #[error("no pending request with id {0}")]
    UnknownRequest(u32),
    /// Server: media sent on a stream whose play was not accepted.
    #[error("stream {0} is not playing")]
    NotPlaying(u32),
    /// Client: media sent before `NetStream.Publish.Start` (or after close).
    #[error("not publishing (session state {0:?})")]
    NotPublishing(ClientState),
    /// A payload longer than a message can be (16 MiB - 1).
    #[error("payload of {0} bytes exceeds the RTMP message length limit")]
    PayloadTooLarge(usize),
    /// A configuration value out of range (named).
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    /// The session already failed; the connection must be closed.
    #[error("session already failed")]
    Failed,
}

#[cfg(test)]
mod tests;
