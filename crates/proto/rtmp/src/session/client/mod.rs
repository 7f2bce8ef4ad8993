//! The client side: publishes to or plays from an RTMP server (RTMP spec 1.0 section 7.2),
//! following the command sequence ffmpeg and OBS use, which every server accepts.
//!
//! Publish: handshake, Set Chunk Size, `connect` (app, type "nonprivate", flashVer, tcUrl
//! [, fourCcList]); on its `_result`: Window Acknowledgement Size, `releaseStream`,
//! `FCPublish`, `createStream`; on that `_result`: `publish(name, "live")`; publishing from
//! onStatus NetStream.Publish.Start.
//!
//! Play: handshake, Set Chunk Size, `connect` (app, flashVer, tcUrl, fpad, capabilities,
//! audioCodecs, videoCodecs, videoFunction [, fourCcList]), Window Acknowledgement Size,
//! `createStream`, then `play(name, -2)` with a Set Buffer Length; playing from onStatus
//! NetStream.Play.Start.

mod incoming;

use std::collections::VecDeque;
use std::time::Instant;

use baton_amf::Amf0Value;
use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::common::{
    Core, EVENTS_RETAINED, Fed, ON_METADATA, Received, SET_DATA_FRAME, data_name, media_of,
    strip_set_data_frame, validate_chunk_size,
};
use super::{HandshakeMode, MediaKind, SessionError};
use crate::chunk::ChunkLimits;
use crate::handshake::ClientHandshake;
use crate::message::{Command, Message, UserControl, split_aggregate};
use crate::url::RtmpUrl;

/// Whether the client publishes or plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMode {
    /// Send media to the server.
    Publish,
    /// Receive media from the server.
    Play,
}

/// Client session settings; [`ClientConfig::default_for`] fills in the usual values.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    pub url: RtmpUrl,
    pub mode: ClientMode,
    /// `flashVer` in connect.
    pub flash_ver: String,
    /// Our outgoing chunk size, announced right after the handshake.
    pub chunk_size: u32,
    /// Window Acknowledgement Size announced after connect.
    pub window_ack_size: u32,
    pub handshake: HandshakeMode,
    /// Enhanced RTMP `fourCcList` for connect; empty: not sent.
    pub fourcc_list: Vec<String>,
    /// Set Buffer Length sent with play.
    pub buffer_length_ms: u32,
    /// Largest message accepted from the server.
    pub max_message_size: usize,
}

impl ClientConfig {
    /// Defaults: flashVer "FMLE/3.0 (compatible; Baton)" for publishing and
    /// "LNX 9,0,124,2" for playing, chunk size 4096, window 2 500 000, digest handshake, no
    /// fourCcList, 3000 ms buffer, 8 MiB messages.
    pub fn default_for(url: RtmpUrl, mode: ClientMode) -> ClientConfig {
        let flash_ver = match mode {
            ClientMode::Publish => "FMLE/3.0 (compatible; Baton)",
            ClientMode::Play => "LNX 9,0,124,2",
        };
        ClientConfig {
            url,
            mode,
            flash_ver: flash_ver.into(),
            chunk_size: 4096,
            window_ack_size: 2_500_000,
            handshake: HandshakeMode::Digest,
            fourcc_list: Vec::new(),
            buffer_length_ms: 3000,
            max_message_size: 8 << 20,
        }
    }
}

/// Where a client session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// C0+C1 sent, waiting for the server's answer.
    Handshaking,
    /// `connect` sent.
    Connecting,
    /// `createStream` sent.
    CreatingStream,
    /// `publish` or `play` sent.
    Starting,
    /// NetStream.Publish.Start received: media may be sent.
    Publishing,
    /// NetStream.Play.Start received: media arrives.
    Playing,
    /// The server refused a step (see [`ClientEvent::Rejected`]).
    Rejected,
    /// [`ClientSession::close`] was called.
    Closed,
}

/// The step a server refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `connect` (bad app, authentication...).
    Connect,
    /// `createStream`.
    CreateStream,
    /// `publish` (bad or busy stream name, denied).
    Publish,
    /// `play` (stream not found, denied).
    Play,
}

/// What a client session reports to its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// The connect `_result`: the entries of its properties object (fmsVer, capabilities,
    /// an Enhanced RTMP fourCcList...) followed by those of its information object (code,
    /// description, objectEncoding...), as one object.
    Connected { properties: Amf0Value },
    /// onStatus NetStream.Publish.Start.
    Publishing,
    /// onStatus NetStream.Play.Start.
    Playing,
    /// Play mode: audio, video or data (`|RtmpSampleAccess` and data-channel onStatus are
    /// filtered out, `@setDataFrame` removed, aggregates split).
    Media {
        kind: MediaKind,
        timestamp: u32,
        payload: Bytes,
    },
    /// The played stream ended: NetStream.Play.UnpublishNotify, NetStream.Play.Stop,
    /// NetStream.Play.Complete, or Stream EOF (code "StreamEOF"). Reported once until the
    /// stream starts again (Stream Begin, NetStream.Play.Start or PublishNotify).
    StreamEnded { code: String },
    /// `_error` for connect/createStream, or an error-level onStatus for publish/play.
    Rejected {
        stage: Stage,
        code: String,
        description: String,
    },
    /// Any other onStatus.
    Status {
        level: String,
        code: String,
        description: String,
    },
}

/// A client-side RTMP connection. Calling order: see the [module docs](super); the output
/// holds C0+C1 right after [`ClientSession::new`].
#[derive(Debug)]
pub struct ClientSession {
    core: Core,
    config: ClientConfig,
    events: VecDeque<ClientEvent>,
    state: ClientState,
    next_transaction: f64,
    /// Transactions awaiting `_result`/`_error`.
    calls: VecDeque<(f64, Call)>,
    stream_id: Option<u32>,
    /// StreamEnded was reported and the stream has not restarted since.
    ended: bool,
    scratch: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Connect,
    CreateStream,
    /// releaseStream, FCPublish, _checkbw: historical calls whose errors are ignored (as
    /// ffmpeg ignores them).
    Other,
}

/// Unanswered calls remembered at most.
const MAX_CALLS: usize = 16;

impl ClientSession {
    /// A session for a freshly opened connection; `seed` feeds the handshake's random bytes.
    pub fn new(config: ClientConfig, seed: u64, now: Instant) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let handshake = ClientHandshake::new(config.handshake, 0, &mut rng);
        let limits = ChunkLimits::with_max_message_size(config.max_message_size);
        ClientSession {
            core: Core::client(limits, handshake, now),
            config,
            events: VecDeque::new(),
            state: ClientState::Handshaking,
            next_transaction: 2.0,
            calls: VecDeque::new(),
            stream_id: None,
            ended: false,
            scratch: Vec::new(),
        }
    }

    /// Processes received bytes; events and output may follow.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<(), SessionError> {
        match self.core.feed(data)? {
            Fed::Handshaking => return Ok(()),
            Fed::HandshakeDone => {
                let result = self.connect();
                self.core.check(result)?;
            }
            Fed::Chunks => {}
        }
        while let Some((raw, message)) = self.core.next_message()? {
            let result = self.on_message(raw, message);
            self.core.check(result)?;
        }
        Ok(())
    }

    /// The next event, in the order they happened.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        let event = self.events.pop_front();
        if event.is_none() && self.events.capacity() > EVENTS_RETAINED {
            self.events = VecDeque::new(); // release what a burst of input left
        }
        event
    }

    /// Bytes to write to the socket, in order.
    pub fn take_output(&mut self) -> Option<Bytes> {
        self.core.take_output()
    }

    /// Bytes queued and not yet taken.
    pub fn output_len(&self) -> usize {
        self.core.output_len()
    }

    /// Heap bytes held by the session's buffers: received bytes not parsed yet, partially
    /// received messages, queued output and events (not counting the payloads of messages
    /// and events, which are shared with their receivers). For memory accounting: it stays
    /// small at rest, whatever bursts came before.
    pub fn allocated(&self) -> usize {
        self.core.allocated() + self.events.capacity() * size_of::<ClientEvent>()
    }

    /// Clients send no pings; present for the common driver contract.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }

    /// Where the session is in the publish or play sequence.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// Changes our outgoing chunk size. During the handshake this only replaces
    /// [`ClientConfig::chunk_size`]; afterwards Set Chunk Size is sent and the new size
    /// applies to the messages after it.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), SessionError> {
        validate_chunk_size(size)?;
        self.config.chunk_size = size;
        if self.state != ClientState::Handshaking {
            self.core.set_chunk_size(size)?;
        }
        Ok(())
    }

    /// The last Acknowledgement sequence number the server sent (bytes it received).
    pub fn peer_acknowledged(&self) -> u32 {
        self.core.peer_acknowledged
    }

    /// The message stream id from createStream, once known.
    pub fn stream_id(&self) -> Option<u32> {
        self.stream_id
    }

    /// Publishes one message (only in state `Publishing`). A data payload starting with
    /// "onMetaData" is sent as `@setDataFrame` + payload, as ffmpeg and OBS do, so servers
    /// store it as the stream's metadata.
    pub fn send_media(
        &mut self,
        kind: MediaKind,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<(), SessionError> {
        let (ClientState::Publishing, Some(stream_id)) = (self.state, self.stream_id) else {
            return Err(SessionError::NotPublishing(self.state));
        };
        if kind == MediaKind::Data && payload.starts_with(ON_METADATA) {
            let mut scratch = std::mem::take(&mut self.scratch);
            scratch.clear();
            scratch.extend_from_slice(SET_DATA_FRAME);
            scratch.extend_from_slice(payload);
            let result = self.core.media(stream_id, kind, timestamp, &scratch);
            self.scratch = scratch;
            return result;
        }
        self.core.media(stream_id, kind, timestamp, payload)
    }

    /// Ends the stream politely: FCUnpublish + deleteStream when publishing, deleteStream
    /// when playing. The driver flushes the output, then closes the socket.
    pub fn close(&mut self) {
        if matches!(self.state, ClientState::Closed | ClientState::Rejected) {
            self.state = ClientState::Closed;
            return;
        }
        if let Some(stream_id) = self.stream_id {
            if self.config.mode == ClientMode::Publish {
                let name = self.config.url.stream.clone();
                self.call_and_forget("FCUnpublish", vec![name.into()]);
            }
            self.call_and_forget("deleteStream", vec![f64::from(stream_id).into()]);
        }
        self.state = ClientState::Closed;
    }

    /// Handshake done: Set Chunk Size and connect.
    fn connect(&mut self) -> Result<(), SessionError> {
        self.core.set_chunk_size(self.config.chunk_size)?;
        let c = &self.config;
        let mut object = vec![
            ("app", Amf0Value::from(c.url.app.as_str())),
            ("flashVer", c.flash_ver.as_str().into()),
            ("tcUrl", c.url.tc_url.as_str().into()),
        ];
        match c.mode {
            ClientMode::Publish => object.insert(1, ("type", "nonprivate".into())),
            ClientMode::Play => object.extend([
                ("fpad", false.into()),
                ("capabilities", 15.0.into()),
                ("audioCodecs", 3191.0.into()),
                ("videoCodecs", 252.0.into()),
                ("videoFunction", 1.0.into()),
            ]),
        }
        if !c.fourcc_list.is_empty() {
            let list = c.fourcc_list.iter().map(|f| f.as_str().into()).collect();
            object.push(("fourCcList", Amf0Value::StrictArray(list)));
        }
        let connect = Command::new("connect", 1.0, Amf0Value::object(object), vec![]);
        self.core.command(0, connect);
        self.calls.push_back((1.0, Call::Connect));
        self.state = ClientState::Connecting;
        Ok(())
    }
}
