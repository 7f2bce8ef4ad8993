//! The server side of a connection: accepts publishers and players (RTMP spec 1.0 section
//! 7.2), leaving every policy decision (app, stream key, authentication) to the caller through
//! request events that it accepts or rejects.

mod incoming;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use baton_amf::Amf0Value;
use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::common::{
    Core, EVENTS_RETAINED, Fed, Received, media_of, split_name, strip_set_data_frame,
    validate_chunk_size,
};
use super::{MediaKind, SessionError};
use crate::chunk::ChunkLimits;
use crate::handshake::ServerHandshake;
use crate::message::{Command, Message, UserControl, split_aggregate};

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
            let result = self.on_message(raw, message);
            self.core.check(result)?;
        }
        Ok(())
    }

    /// The next event, in the order they happened.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
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
        self.core.allocated() + self.events.capacity() * size_of::<ServerEvent>()
    }

    /// Sends a Ping Request when one is due (see [`ServerConfig::ping_interval`]).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
    }

    /// When the next ping is due (`None` without a ping interval).
    /// When [`handle_timeout`](Self::handle_timeout) should be called next.
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

    /// The last Acknowledgement sequence number the client sent (bytes it received).
    pub fn peer_acknowledged(&self) -> u32 {
        self.core.peer_acknowledged
    }

    /// Total bytes received after the handshake.
    pub fn bytes_received(&self) -> u64 {
        self.core.decoder.bytes_received()
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
