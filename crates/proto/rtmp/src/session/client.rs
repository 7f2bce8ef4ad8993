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

use std::collections::VecDeque;
use std::time::Instant;

use baton_amf::Amf0Value;
use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::common::{
    Core, Fed, ON_METADATA, SET_DATA_FRAME, data_name, strip_set_data_frame, validate_chunk_size,
};
use super::server::media_of;
use super::{HandshakeMode, MediaKind, SessionError};
use crate::chunk::{ChunkLimits, RawMessage};
use crate::handshake::ClientHandshake;
use crate::message::{Command, Message, UserControl, split_aggregate};
use crate::url::RtmpUrl;

/// Whether the client publishes or plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMode {
    Publish,
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
    Handshaking,
    /// `connect` sent.
    Connecting,
    /// `createStream` sent.
    CreatingStream,
    /// `publish` or `play` sent.
    Starting,
    Publishing,
    Playing,
    /// The server refused a step (see [`ClientEvent::Rejected`]).
    Rejected,
    /// [`ClientSession::close`] was called.
    Closed,
}

/// The step a server refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Connect,
    CreateStream,
    Publish,
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
            let result = self.on_message(&raw, message);
            self.core.check(result)?;
        }
        Ok(())
    }

    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Bytes to write to the socket, in order.
    pub fn take_output(&mut self) -> Option<Bytes> {
        self.core.take_output()
    }

    /// Bytes queued and not yet taken.
    pub fn output_len(&self) -> usize {
        self.core.output_len()
    }

    /// Clients send no pings; present for the common driver contract.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }

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

    fn on_message(&mut self, raw: &RawMessage, message: Message) -> Result<(), SessionError> {
        match message {
            Message::Command(command) => self.on_command(command),
            Message::Audio(p) => self.on_media(MediaKind::Audio, raw.timestamp, p),
            Message::Video(p) => self.on_media(MediaKind::Video, raw.timestamp, p),
            Message::Data(p) => self.on_media(MediaKind::Data, raw.timestamp, p),
            Message::Aggregate(_) => {
                for sub in split_aggregate(raw) {
                    let sub = sub?;
                    if let Some((kind, payload)) = media_of(sub.type_id, sub.payload) {
                        self.on_media(kind, sub.timestamp, payload);
                    }
                }
            }
            Message::UserControl(UserControl::StreamBegin(_)) => self.ended = false,
            Message::UserControl(UserControl::StreamEof(id))
                if self.state == ClientState::Playing && Some(id) == self.stream_id =>
            {
                self.stream_ended("StreamEOF");
            }
            _ => {}
        }
        Ok(())
    }

    fn on_command(&mut self, command: Command) {
        match command.name.as_str() {
            "_result" => match self.take_call(command.transaction_id) {
                Some(Call::Connect) => self.on_connected(&command),
                Some(Call::CreateStream) => self.on_stream_created(&command),
                _ => {}
            },
            "_error" => {
                let stage = match self.take_call(command.transaction_id) {
                    Some(Call::Connect) => Stage::Connect,
                    Some(Call::CreateStream) => Stage::CreateStream,
                    _ => return,
                };
                let (_, code, description) = status_info(&command);
                self.reject(stage, code, description);
            }
            "onStatus" => self.on_status(&command),
            // FMS asks for a bandwidth check after connect; ffmpeg and librtmp answer it.
            "onBWDone" => self.call("_checkbw", vec![], Call::Other),
            _ => {}
        }
    }

    fn on_connected(&mut self, command: &Command) {
        if self.state != ClientState::Connecting {
            return;
        }
        let mut merged = Vec::new();
        for part in [Some(&command.command_object), command.arg(0)]
            .into_iter()
            .flatten()
        {
            if let Some(props) = part.properties() {
                merged.extend_from_slice(props);
            }
        }
        self.events.push_back(ClientEvent::Connected {
            properties: Amf0Value::Object(merged),
        });
        if self.core.announced_window.is_none() {
            self.core.announce_window(self.config.window_ack_size);
        }
        if self.config.mode == ClientMode::Publish {
            let name: Amf0Value = self.config.url.stream.as_str().into();
            self.call("releaseStream", vec![name.clone()], Call::Other);
            self.call("FCPublish", vec![name], Call::Other);
        }
        self.call("createStream", vec![], Call::CreateStream);
        self.state = ClientState::CreatingStream;
    }

    fn on_stream_created(&mut self, command: &Command) {
        if self.state != ClientState::CreatingStream {
            return;
        }
        let id = command.arg(0).and_then(Amf0Value::as_f64);
        let Some(stream_id) = id.filter(|&n| n >= 1.0 && n <= f64::from(u32::MAX)) else {
            let description = "createStream _result without a stream id".to_owned();
            self.reject(Stage::CreateStream, String::new(), description);
            return;
        };
        let stream_id = stream_id as u32;
        self.stream_id = Some(stream_id);
        let name: Amf0Value = self.config.url.stream.as_str().into();
        let transaction_id = self.transaction();
        let command = match self.config.mode {
            ClientMode::Publish => Command::new(
                "publish",
                transaction_id,
                Amf0Value::Null,
                vec![name, "live".into()],
            ),
            ClientMode::Play => Command::new(
                "play",
                transaction_id,
                Amf0Value::Null,
                vec![name, (-2.0).into()],
            ),
        };
        self.core.command(stream_id, command);
        if self.config.mode == ClientMode::Play {
            self.core
                .send(&Message::UserControl(UserControl::SetBufferLength {
                    stream_id,
                    millis: self.config.buffer_length_ms,
                }));
        }
        self.state = ClientState::Starting;
    }

    fn on_status(&mut self, command: &Command) {
        let (level, code, description) = status_info(command);
        let playing_side = matches!(self.state, ClientState::Starting | ClientState::Playing)
            && self.config.mode == ClientMode::Play;
        match code.as_str() {
            "NetStream.Publish.Start"
                if self.state == ClientState::Starting
                    && self.config.mode == ClientMode::Publish =>
            {
                self.state = ClientState::Publishing;
                self.events.push_back(ClientEvent::Publishing);
                return;
            }
            "NetStream.Play.Start" if playing_side => {
                self.ended = false;
                if self.state == ClientState::Starting {
                    self.state = ClientState::Playing;
                    self.events.push_back(ClientEvent::Playing);
                    return;
                }
            }
            "NetStream.Play.UnpublishNotify"
            | "NetStream.Play.Stop"
            | "NetStream.Play.Complete"
                if playing_side =>
            {
                self.stream_ended(&code);
                return;
            }
            "NetStream.Play.PublishNotify" => self.ended = false,
            _ => {}
        }
        let active = matches!(
            self.state,
            ClientState::Starting | ClientState::Publishing | ClientState::Playing
        );
        if level == "error" && active {
            let stage = match self.config.mode {
                ClientMode::Publish => Stage::Publish,
                ClientMode::Play => Stage::Play,
            };
            self.reject(stage, code, description);
            return;
        }
        self.events.push_back(ClientEvent::Status {
            level,
            code,
            description,
        });
    }

    fn on_media(&mut self, kind: MediaKind, timestamp: u32, payload: Bytes) {
        if self.config.mode != ClientMode::Play
            || !matches!(self.state, ClientState::Starting | ClientState::Playing)
        {
            return;
        }
        let payload = if kind == MediaKind::Data {
            match data_name(&payload) {
                Some("|RtmpSampleAccess" | "onStatus") => return,
                Some("onPlayStatus") => {
                    let values = baton_amf::decode_all(&payload).unwrap_or_default();
                    let code = values.get(1).and_then(|v| v.get("code"));
                    if let Some("NetStream.Play.Complete") = code.and_then(Amf0Value::as_str) {
                        self.stream_ended("NetStream.Play.Complete");
                    }
                    return;
                }
                _ => strip_set_data_frame(payload),
            }
        } else {
            payload
        };
        self.events.push_back(ClientEvent::Media {
            kind,
            timestamp,
            payload,
        });
    }

    fn stream_ended(&mut self, code: &str) {
        if !self.ended {
            self.ended = true;
            self.events
                .push_back(ClientEvent::StreamEnded { code: code.into() });
        }
    }

    fn reject(&mut self, stage: Stage, code: String, description: String) {
        self.state = ClientState::Rejected;
        self.events.push_back(ClientEvent::Rejected {
            stage,
            code,
            description,
        });
    }

    fn transaction(&mut self) -> f64 {
        let t = self.next_transaction;
        self.next_transaction += 1.0;
        t
    }

    /// Sends a NetConnection command and remembers its transaction.
    fn call(&mut self, name: &str, args: Vec<Amf0Value>, call: Call) {
        let transaction_id = self.transaction();
        if self.calls.len() >= MAX_CALLS {
            self.calls.pop_front();
        }
        self.calls.push_back((transaction_id, call));
        self.core
            .command(0, Command::new(name, transaction_id, Amf0Value::Null, args));
    }

    /// Sends a NetConnection command whose answer does not matter.
    fn call_and_forget(&mut self, name: &str, args: Vec<Amf0Value>) {
        let transaction_id = self.transaction();
        self.core
            .command(0, Command::new(name, transaction_id, Amf0Value::Null, args));
    }

    fn take_call(&mut self, transaction_id: f64) -> Option<Call> {
        let index = self.calls.iter().position(|&(t, _)| t == transaction_id)?;
        self.calls.remove(index).map(|(_, call)| call)
    }
}

/// `(level, code, description)` of an `onStatus`/`_error` information object (the first
/// argument, or the command object for servers that put it there).
fn status_info(command: &Command) -> (String, String, String) {
    let info = command
        .arg(0)
        .filter(|v| v.properties().is_some())
        .unwrap_or(&command.command_object);
    let text = |key| {
        info.get(key)
            .and_then(Amf0Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    (text("level"), text("code"), text("description"))
}
