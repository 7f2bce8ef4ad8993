//! The server side of a connection: accepts publishers and players (RTMP spec 1.0 section
//! 7.2), leaving every policy decision (app, stream key, authentication) to the caller through
//! request events that it accepts or rejects.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use baton_amf::Amf0Value;
use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::common::{Core, Fed, split_name, strip_set_data_frame, validate_chunk_size};
use super::{MediaKind, SessionError};
use crate::chunk::{ChunkLimits, RawMessage};
use crate::handshake::ServerHandshake;
use crate::message::{Command, Message, UserControl, split_aggregate, type_id};

/// Most message streams (`createStream`) one connection may hold.
const MAX_STREAMS: usize = 64;

/// Server session settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Our outgoing chunk size, announced when a connect is accepted. Default 4096.
    pub chunk_size: u32,
    /// Window Acknowledgement Size announced to the client. Default 2 500 000.
    pub window_ack_size: u32,
    /// Set Peer Bandwidth sent to the client (limit type dynamic). Default 2 500 000.
    pub peer_bandwidth: u32,
    /// Largest message accepted from the client. Default 8 MiB.
    pub max_message_size: usize,
    /// Send a Ping Request this often once the handshake is done. Default none.
    pub ping_interval: Option<Duration>,
    /// `fmsVer` in the connect result. Default "FMS/3,0,1,123".
    pub fms_version: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            chunk_size: 4096,
            window_ack_size: 2_500_000,
            peer_bandwidth: 2_500_000,
            max_message_size: 8 << 20,
            ping_interval: None,
            fms_version: "FMS/3,0,1,123".into(),
        }
    }
}

/// What a server session reports to its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    /// `connect`: answer with [`ServerSession::accept_connect`] or
    /// [`ServerSession::reject_connect`]. `app` is as sent (a trailing '/' removed), query
    /// included; `properties` is the whole command object.
    ConnectRequested {
        request_id: u32,
        app: String,
        tc_url: Option<String>,
        /// Enhanced RTMP `fourCcList`, empty when absent.
        fourcc_list: Vec<String>,
        properties: Amf0Value,
    },
    /// `publish`: answer with `accept_publish` or `reject_publish`.
    PublishRequested {
        request_id: u32,
        stream_id: u32,
        app: String,
        tc_url: Option<String>,
        /// The name before the first '?'.
        stream_name: String,
        /// Everything after the first '?'.
        query: Option<String>,
        /// `live`, `record` or `append` (`live` when absent).
        mode: String,
    },
    /// `play`: answer with `accept_play` or `reject_play`.
    PlayRequested {
        request_id: u32,
        stream_id: u32,
        app: String,
        tc_url: Option<String>,
        stream_name: String,
        query: Option<String>,
        /// -2 live or recorded, -1 live only, >= 0 recorded from this second.
        start: f64,
    },
    /// Audio, video or data from an accepted publish. Data has any `@setDataFrame` wrapper
    /// removed (it starts with "onMetaData" as in FLV files); aggregates arrive split.
    Media {
        stream_id: u32,
        kind: MediaKind,
        timestamp: u32,
        payload: Bytes,
    },
    /// The publisher stopped (FCUnpublish, closeStream or deleteStream), also for a publish
    /// still awaiting an answer.
    PublishFinished { stream_id: u32 },
    /// The player stopped (closeStream or deleteStream), also for a pending play.
    PlayFinished { stream_id: u32 },
}

/// A server-side RTMP connection. Calling order: see the [module docs](super).
///
/// Media on a stream that is not publishing (before `accept_publish`, after it ended, or on a
/// stream that never asked) is dropped and counted ([`ServerSession::dropped_media`]), not an
/// error: a publisher racing its own `publish` must not lose its connection.
#[derive(Debug)]
pub struct ServerSession {
    core: Core,
    config: ServerConfig,
    events: VecDeque<ServerEvent>,
    connection: Connection,
    app: String,
    tc_url: Option<String>,
    streams: BTreeMap<u32, Stream>,
    requests: HashMap<u32, Request>,
    next_request_id: u32,
    next_stream_id: u32,
    dropped_media: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connection {
    AwaitingConnect,
    Pending,
    Accepted,
    Rejected,
}

#[derive(Debug)]
struct Stream {
    state: StreamState,
    /// Stream name (without query) of the current publish or play.
    name: String,
    receive_audio: bool,
    receive_video: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamState {
    Idle,
    PublishPending(u32),
    Publishing,
    PlayPending(u32),
    Playing,
}

#[derive(Debug)]
enum Request {
    Connect {
        transaction_id: f64,
        object_encoding: f64,
        fourcc_list: Option<Amf0Value>,
    },
    Publish {
        stream_id: u32,
    },
    Play {
        stream_id: u32,
    },
}

impl ServerSession {
    /// A session for a freshly accepted connection; `seed` feeds the handshake's random bytes
    /// and `now` is the session's epoch (ping timestamps).
    pub fn new(config: ServerConfig, seed: u64, now: Instant) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let limits = ChunkLimits::with_max_message_size(config.max_message_size);
        let core = Core::server(
            limits,
            ServerHandshake::new(0, &mut rng),
            now,
            config.ping_interval,
        );
        ServerSession {
            core,
            config,
            events: VecDeque::new(),
            connection: Connection::AwaitingConnect,
            app: String::new(),
            tc_url: None,
            streams: BTreeMap::new(),
            requests: HashMap::new(),
            next_request_id: 1,
            next_stream_id: 1,
            dropped_media: 0,
        }
    }

    /// Processes received bytes; events and output may follow.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<(), SessionError> {
        if self.core.feed(data)? == Fed::Handshaking {
            return Ok(());
        }
        while let Some((raw, message)) = self.core.next_message()? {
            let result = self.on_message(&raw, message);
            self.core.check(result)?;
        }
        Ok(())
    }

    pub fn poll_event(&mut self) -> Option<ServerEvent> {
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

    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
    }

    /// When the next ping is due (`None` without a ping interval).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }

    /// Accepts a connect: Window Acknowledgement Size, Set Peer Bandwidth, Set Chunk Size,
    /// then `_result` (fmsVer, capabilities 31, mode 1 / NetConnection.Connect.Success with
    /// objectEncoding echoed, and the client's `fourCcList` echoed in the properties as
    /// Enhanced RTMP servers do).
    pub fn accept_connect(&mut self, request_id: u32) -> Result<(), SessionError> {
        let Some(Request::Connect {
            transaction_id,
            object_encoding,
            fourcc_list,
        }) = self.take_request(request_id, |r| matches!(r, Request::Connect { .. }))
        else {
            return Err(SessionError::UnknownRequest(request_id));
        };
        self.core.announce_window(self.config.window_ack_size);
        self.core.send(&Message::SetPeerBandwidth {
            size: self.config.peer_bandwidth,
            limit: 2,
        });
        self.core.set_chunk_size(self.config.chunk_size)?;
        let mut properties = vec![
            ("fmsVer", Amf0Value::from(self.config.fms_version.as_str())),
            ("capabilities", 31.0.into()),
            ("mode", 1.0.into()),
        ];
        if let Some(list) = fourcc_list {
            properties.push(("fourCcList", list));
        }
        let info = Amf0Value::object([
            ("level", "status".into()),
            ("code", "NetConnection.Connect.Success".into()),
            ("description", "Connection succeeded.".into()),
            ("objectEncoding", object_encoding.into()),
        ]);
        self.core.command(
            0,
            Command::new(
                "_result",
                transaction_id,
                Amf0Value::object(properties),
                vec![info],
            ),
        );
        self.connection = Connection::Accepted;
        Ok(())
    }

    /// Rejects a connect with `_error` / NetConnection.Connect.Rejected. The driver should
    /// flush the output and close.
    pub fn reject_connect(
        &mut self,
        request_id: u32,
        description: &str,
    ) -> Result<(), SessionError> {
        let Some(Request::Connect { transaction_id, .. }) =
            self.take_request(request_id, |r| matches!(r, Request::Connect { .. }))
        else {
            return Err(SessionError::UnknownRequest(request_id));
        };
        self.error_reply(
            0,
            transaction_id,
            "NetConnection.Connect.Rejected",
            description,
        );
        self.connection = Connection::Rejected;
        Ok(())
    }

    /// Accepts a publish: Stream Begin, then onStatus NetStream.Publish.Start. A no-op if the
    /// client closed the stream meanwhile (a `PublishFinished` event is then queued).
    pub fn accept_publish(&mut self, request_id: u32) -> Result<(), SessionError> {
        let stream_id = self.take_stream_request(request_id, true)?;
        let Some(name) = self.advance(
            stream_id,
            StreamState::PublishPending(request_id),
            StreamState::Publishing,
        ) else {
            return Ok(());
        };
        self.core
            .send(&Message::UserControl(UserControl::StreamBegin(stream_id)));
        self.core.status(
            stream_id,
            "status",
            "NetStream.Publish.Start",
            &format!("{name} is now published."),
        );
        Ok(())
    }

    /// Rejects a publish with an error-level onStatus such as NetStream.Publish.BadName or
    /// NetStream.Publish.Denied. The stream stays usable for another attempt.
    pub fn reject_publish(
        &mut self,
        request_id: u32,
        code: &str,
        description: &str,
    ) -> Result<(), SessionError> {
        let stream_id = self.take_stream_request(request_id, true)?;
        if self
            .advance(
                stream_id,
                StreamState::PublishPending(request_id),
                StreamState::Idle,
            )
            .is_some()
        {
            self.core.status(stream_id, "error", code, description);
        }
        Ok(())
    }

    /// Accepts a play: Stream Begin, onStatus NetStream.Play.Reset and NetStream.Play.Start,
    /// then the data messages |RtmpSampleAccess and onStatus NetStream.Data.Start, as
    /// nginx-rtmp and SRS send them.
    pub fn accept_play(&mut self, request_id: u32) -> Result<(), SessionError> {
        let stream_id = self.take_stream_request(request_id, false)?;
        let Some(name) = self.advance(
            stream_id,
            StreamState::PlayPending(request_id),
            StreamState::Playing,
        ) else {
            return Ok(());
        };
        self.core
            .send(&Message::UserControl(UserControl::StreamBegin(stream_id)));
        self.core.status(
            stream_id,
            "status",
            "NetStream.Play.Reset",
            &format!("Playing and resetting {name}."),
        );
        self.core.status(
            stream_id,
            "status",
            "NetStream.Play.Start",
            &format!("Started playing {name}."),
        );
        self.core.data(
            stream_id,
            &["|RtmpSampleAccess".into(), true.into(), true.into()],
        );
        self.core.data(
            stream_id,
            &[
                "onStatus".into(),
                Amf0Value::object([("code", "NetStream.Data.Start".into())]),
            ],
        );
        Ok(())
    }

    /// Rejects a play with an error-level onStatus such as NetStream.Play.StreamNotFound.
    pub fn reject_play(
        &mut self,
        request_id: u32,
        code: &str,
        description: &str,
    ) -> Result<(), SessionError> {
        let stream_id = self.take_stream_request(request_id, false)?;
        if self
            .advance(
                stream_id,
                StreamState::PlayPending(request_id),
                StreamState::Idle,
            )
            .is_some()
        {
            self.core.status(stream_id, "error", code, description);
        }
        Ok(())
    }

    /// Sends media to a player whose play was accepted. Audio or video the player turned off
    /// with receiveAudio/receiveVideo is skipped.
    pub fn send_media(
        &mut self,
        stream_id: u32,
        kind: MediaKind,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<(), SessionError> {
        let stream = self
            .streams
            .get(&stream_id)
            .filter(|s| s.state == StreamState::Playing)
            .ok_or(SessionError::NotPlaying(stream_id))?;
        let wanted = match kind {
            MediaKind::Audio => stream.receive_audio,
            MediaKind::Video => stream.receive_video,
            MediaKind::Data => true,
        };
        if wanted {
            self.core.media(stream_id, kind, timestamp, payload)?;
        }
        Ok(())
    }

    /// Tells a player its publisher left: onStatus NetStream.Play.UnpublishNotify and Stream
    /// EOF. The stream stays playing: media may follow if a publisher comes back.
    pub fn send_unpublish_notify(&mut self, stream_id: u32) -> Result<(), SessionError> {
        let name = self
            .streams
            .get(&stream_id)
            .filter(|s| s.state == StreamState::Playing)
            .map(|s| s.name.clone())
            .ok_or(SessionError::NotPlaying(stream_id))?;
        self.core.status(
            stream_id,
            "status",
            "NetStream.Play.UnpublishNotify",
            &format!("{name} is now unpublished."),
        );
        self.core
            .send(&Message::UserControl(UserControl::StreamEof(stream_id)));
        Ok(())
    }

    /// Changes our outgoing chunk size. Before the connect is accepted this only replaces
    /// [`ServerConfig::chunk_size`]; afterwards Set Chunk Size is sent and the new size
    /// applies to the messages after it.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), SessionError> {
        validate_chunk_size(size)?;
        self.config.chunk_size = size;
        if self.connection == Connection::Accepted {
            self.core.set_chunk_size(size)?;
        }
        Ok(())
    }

    /// Tells a player a publisher (re)appeared: Stream Begin and onStatus
    /// NetStream.Play.PublishNotify, as nginx-rtmp does when a stream is republished.
    pub fn send_publish_notify(&mut self, stream_id: u32) -> Result<(), SessionError> {
        let name = self
            .streams
            .get(&stream_id)
            .filter(|s| s.state == StreamState::Playing)
            .map(|s| s.name.clone())
            .ok_or(SessionError::NotPlaying(stream_id))?;
        self.core
            .send(&Message::UserControl(UserControl::StreamBegin(stream_id)));
        self.core.status(
            stream_id,
            "status",
            "NetStream.Play.PublishNotify",
            &format!("{name} is now published."),
        );
        Ok(())
    }

    /// Media messages dropped because their stream was not publishing.
    pub fn dropped_media(&self) -> u64 {
        self.dropped_media
    }

    /// Total bytes received after the handshake.
    pub fn bytes_received(&self) -> u64 {
        self.core.decoder.bytes_received()
    }

    fn on_message(&mut self, raw: &RawMessage, message: Message) -> Result<(), SessionError> {
        match message {
            Message::Command(command) => self.on_command(raw.stream_id, command),
            Message::Audio(p) => self.on_media(raw.stream_id, MediaKind::Audio, raw.timestamp, p),
            Message::Video(p) => self.on_media(raw.stream_id, MediaKind::Video, raw.timestamp, p),
            Message::Data(p) => self.on_media(raw.stream_id, MediaKind::Data, raw.timestamp, p),
            Message::Aggregate(_) => {
                for sub in split_aggregate(raw) {
                    let sub = sub?;
                    if let Some((kind, payload)) = media_of(sub.type_id, sub.payload) {
                        self.on_media(sub.stream_id, kind, sub.timestamp, payload)?;
                    }
                }
                Ok(())
            }
            // Set Buffer Length, Ping Response, shared objects...: nothing to do.
            _ => Ok(()),
        }
    }

    fn on_media(
        &mut self,
        stream_id: u32,
        kind: MediaKind,
        timestamp: u32,
        payload: Bytes,
    ) -> Result<(), SessionError> {
        let publishing = self
            .streams
            .get(&stream_id)
            .is_some_and(|s| s.state == StreamState::Publishing);
        if !publishing {
            self.dropped_media += 1;
            return Ok(());
        }
        let payload = match kind {
            MediaKind::Data => strip_set_data_frame(payload),
            _ => payload,
        };
        self.events.push_back(ServerEvent::Media {
            stream_id,
            kind,
            timestamp,
            payload,
        });
        Ok(())
    }

    fn on_command(&mut self, stream_id: u32, command: Command) -> Result<(), SessionError> {
        let txn = command.transaction_id;
        let name = command.name.as_str();
        if name == "connect" {
            self.on_connect(command);
            return Ok(());
        }
        if self.connection != Connection::Accepted {
            return Err(SessionError::NotConnected {
                command: command.name,
            });
        }
        let first_arg = || command.arg(0).and_then(Amf0Value::as_str).unwrap_or("");
        match name {
            "createStream" => self.on_create_stream(stream_id, txn),
            "publish" | "play" => self.on_stream_request(stream_id, &command),
            "deleteStream" => {
                let target = command.arg(0).and_then(Amf0Value::as_f64).unwrap_or(-1.0);
                if target >= 1.0 && target <= f64::from(u32::MAX) {
                    self.finish(target as u32);
                    self.streams.remove(&(target as u32));
                }
            }
            "closeStream" => self.finish(stream_id),
            "FCPublish" => {
                let info = Amf0Value::object([
                    ("code", "NetStream.Publish.Start".into()),
                    ("description", first_arg().into()),
                ]);
                self.core.command(
                    stream_id,
                    Command::new("onFCPublish", 0.0, Amf0Value::Null, vec![info]),
                );
                self.result_reply(stream_id, txn, vec![]);
            }
            "FCUnpublish" => {
                let (target, _) = split_name(first_arg());
                let publishing = self
                    .streams
                    .iter()
                    .find(|(_, s)| s.state == StreamState::Publishing && s.name == target)
                    .map(|(&id, _)| id);
                if let Some(id) = publishing {
                    self.finish(id);
                }
                let info = Amf0Value::object([
                    ("code", "NetStream.Unpublish.Success".into()),
                    ("description", first_arg().into()),
                ]);
                self.core.command(
                    stream_id,
                    Command::new("onFCUnpublish", 0.0, Amf0Value::Null, vec![info]),
                );
                self.result_reply(stream_id, txn, vec![]);
            }
            "receiveAudio" | "receiveVideo" => {
                let on = command.arg(0).and_then(Amf0Value::as_bool).unwrap_or(true);
                if let Some(s) = self.streams.get_mut(&stream_id) {
                    if name == "receiveAudio" {
                        s.receive_audio = on;
                    } else {
                        s.receive_video = on;
                    }
                }
            }
            "getStreamLength" => self.result_reply(stream_id, txn, vec![0.0.into()]),
            "releaseStream" | "checkbw" | "_checkbw" | "FCSubscribe" | "FCUnsubscribe" => {
                self.result_reply(stream_id, txn, vec![])
            }
            // Answers and notifications from the client, and pause on live: nothing to do.
            "_result" | "_error" | "onStatus" | "onBWDone" | "pause" | "seek" => {}
            _ => {
                if txn != 0.0 {
                    let description = format!("unknown command {name}");
                    self.error_reply(stream_id, txn, "NetConnection.Call.Failed", &description);
                }
            }
        }
        Ok(())
    }

    fn on_connect(&mut self, command: Command) {
        let txn = command.transaction_id;
        if self.connection != Connection::AwaitingConnect {
            self.error_reply(0, txn, "NetConnection.Call.Failed", "already connected");
            return;
        }
        let object = &command.command_object;
        let text = |key| object.get(key).and_then(Amf0Value::as_str);
        let app = text("app").unwrap_or("").trim_end_matches('/').to_owned();
        let tc_url = text("tcUrl").map(str::to_owned);
        let fourcc = object.get("fourCcList").cloned();
        let fourcc_list = fourcc
            .as_ref()
            .and_then(Amf0Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Amf0Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let request_id = self.new_request(Request::Connect {
            transaction_id: txn,
            object_encoding: object
                .get("objectEncoding")
                .and_then(Amf0Value::as_f64)
                .unwrap_or(0.0),
            fourcc_list: fourcc,
        });
        self.connection = Connection::Pending;
        self.app = app.clone();
        self.tc_url = tc_url.clone();
        self.events.push_back(ServerEvent::ConnectRequested {
            request_id,
            app,
            tc_url,
            fourcc_list,
            properties: command.command_object,
        });
    }

    fn on_create_stream(&mut self, stream_id: u32, txn: f64) {
        if self.streams.len() >= MAX_STREAMS {
            self.error_reply(
                stream_id,
                txn,
                "NetConnection.Call.Failed",
                "too many streams",
            );
            return;
        }
        while self.streams.contains_key(&self.next_stream_id) || self.next_stream_id == 0 {
            self.next_stream_id = self.next_stream_id.wrapping_add(1);
        }
        let id = self.next_stream_id;
        self.next_stream_id = self.next_stream_id.wrapping_add(1);
        self.streams.insert(id, Stream::new());
        self.result_reply(stream_id, txn, vec![f64::from(id).into()]);
    }

    /// `publish(name, type)` or `play(name, start, ...)` on a message stream.
    fn on_stream_request(&mut self, stream_id: u32, command: &Command) {
        let publish = command.name == "publish";
        let (busy_code, bad_code) = if publish {
            (
                "NetStream.Publish.BadConnection",
                "NetStream.Publish.BadName",
            )
        } else {
            ("NetStream.Play.Failed", "NetStream.Play.Failed")
        };
        if stream_id == 0 {
            let what = format!("{} needs a stream from createStream", command.name);
            self.core.status(0, "error", bad_code, &what);
            return;
        }
        // A client may skip createStream and use a stream id of its own: allow it.
        if !self.streams.contains_key(&stream_id) && self.streams.len() < MAX_STREAMS {
            self.streams.insert(stream_id, Stream::new());
        }
        let Some(stream) = self.streams.get(&stream_id) else {
            self.core
                .status(stream_id, "error", bad_code, "too many streams");
            return;
        };
        if stream.state != StreamState::Idle {
            let what = format!("stream {stream_id} is busy");
            self.core.status(stream_id, "error", busy_code, &what);
            return;
        }
        let (stream_name, query) =
            split_name(command.arg(0).and_then(Amf0Value::as_str).unwrap_or(""));
        let (app, tc_url) = (self.app.clone(), self.tc_url.clone());
        let event_and_state = if publish {
            let request_id = self.new_request(Request::Publish { stream_id });
            let mode = command.arg(1).and_then(Amf0Value::as_str).unwrap_or("live");
            (
                ServerEvent::PublishRequested {
                    request_id,
                    stream_id,
                    app,
                    tc_url,
                    stream_name: stream_name.clone(),
                    query,
                    mode: mode.to_owned(),
                },
                StreamState::PublishPending(request_id),
            )
        } else {
            let request_id = self.new_request(Request::Play { stream_id });
            (
                ServerEvent::PlayRequested {
                    request_id,
                    stream_id,
                    app,
                    tc_url,
                    stream_name: stream_name.clone(),
                    query,
                    start: command.arg(1).and_then(Amf0Value::as_f64).unwrap_or(-2.0),
                },
                StreamState::PlayPending(request_id),
            )
        };
        let (event, state) = event_and_state;
        if let Some(stream) = self.streams.get_mut(&stream_id) {
            stream.state = state;
            stream.name = stream_name;
        }
        self.events.push_back(event);
    }

    /// Ends whatever a stream was doing, reporting it.
    fn finish(&mut self, stream_id: u32) {
        let Some(stream) = self.streams.get_mut(&stream_id) else {
            return;
        };
        let event = match stream.state {
            StreamState::Publishing | StreamState::PublishPending(_) => {
                ServerEvent::PublishFinished { stream_id }
            }
            StreamState::Playing | StreamState::PlayPending(_) => {
                ServerEvent::PlayFinished { stream_id }
            }
            StreamState::Idle => return,
        };
        stream.state = StreamState::Idle;
        self.events.push_back(event);
    }

    /// Moves a stream from `from` to `to`; returns its name, or `None` if it was not in
    /// `from` (closed meanwhile).
    fn advance(&mut self, stream_id: u32, from: StreamState, to: StreamState) -> Option<String> {
        let stream = self.streams.get_mut(&stream_id)?;
        if stream.state != from {
            return None;
        }
        stream.state = to;
        Some(stream.name.clone())
    }

    fn new_request(&mut self, request: Request) -> u32 {
        let id = self.next_request_id;
        self.next_request_id = self.next_request_id.wrapping_add(1).max(1);
        self.requests.insert(id, request);
        id
    }

    fn take_request(&mut self, id: u32, kind: impl Fn(&Request) -> bool) -> Option<Request> {
        if !self.requests.get(&id).is_some_and(kind) {
            return None;
        }
        self.requests.remove(&id)
    }

    /// The stream id of a pending publish (`publish`) or play request.
    fn take_stream_request(&mut self, id: u32, publish: bool) -> Result<u32, SessionError> {
        match self.take_request(id, |r| {
            matches!(
                (r, publish),
                (Request::Publish { .. }, true) | (Request::Play { .. }, false)
            )
        }) {
            Some(Request::Publish { stream_id } | Request::Play { stream_id }) => Ok(stream_id),
            _ => Err(SessionError::UnknownRequest(id)),
        }
    }

    /// `_result` when the transaction id asks for an answer (non-zero).
    fn result_reply(&mut self, stream_id: u32, txn: f64, args: Vec<Amf0Value>) {
        if txn != 0.0 {
            self.core.command(
                stream_id,
                Command::new("_result", txn, Amf0Value::Null, args),
            );
        }
    }

    fn error_reply(&mut self, stream_id: u32, txn: f64, code: &str, description: &str) {
        let info = Amf0Value::object([
            ("level", "error".into()),
            ("code", code.into()),
            ("description", description.into()),
        ]);
        self.core.command(
            stream_id,
            Command::new("_error", txn, Amf0Value::Null, vec![info]),
        );
    }
}

impl Stream {
    fn new() -> Stream {
        Stream {
            state: StreamState::Idle,
            name: String::new(),
            receive_audio: true,
            receive_video: true,
        }
    }
}

/// Media kind and payload of an audio/video/data (sub-)message; AMF3 data loses its leading
/// format byte.
pub(crate) fn media_of(type_id: u8, payload: Bytes) -> Option<(MediaKind, Bytes)> {
    let kind = MediaKind::from_type_id(type_id)?;
    let payload = if type_id == type_id::DATA_AMF3 && payload.first() == Some(&0) {
        payload.slice(1..)
    } else {
        payload
    };
    Some((kind, payload))
}
