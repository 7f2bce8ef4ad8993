//! RTMP (Adobe "Real-Time Messaging Protocol" specification 1.0, December 2012) as sans-IO
//! building blocks and sessions: bytes go in, events and bytes come out, time is passed in.
//!
//! - [`url`]: `rtmp[s]://host[:port]/app/stream` parsing.
//! - [`handshake`]: plain and digest handshakes (section 5.2).
//! - [`chunk`]: the chunk stream codec (section 5.3).
//! - [`message`]: protocol control, user control, media, data, commands, aggregates
//!   (sections 5.4, 6, 7).
//! - [`session`]: client and server sessions, the API the network drivers use (section 7.2).
//!
//! Interoperability choices (where peers deviate from the spec) are documented on the module
//! that makes them.

pub mod chunk;
pub mod handshake;
pub mod message;
pub mod session;
pub mod url;

pub use chunk::{ChunkDecoder, ChunkEncoder, ChunkError, ChunkLimits, RawMessage};
pub use handshake::{HandshakeError, HandshakeMode};
pub use message::{Command, Message, MessageError, UserControl};
pub use session::{
    ClientConfig, ClientEvent, ClientMode, ClientSession, ClientState, MediaKind, ServerConfig,
    ServerEvent, ServerSession, SessionError, Stage,
};
pub use url::{RtmpUrl, UrlError};
