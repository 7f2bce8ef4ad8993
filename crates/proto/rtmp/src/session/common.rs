//! Machinery shared by client and server sessions: handshake, chunk codec, protocol control
//! (RTMP spec 1.0 section 5.4), pings (7.1.7) and the output queue.

use std::time::{Duration, Instant};

use baton_amf::Amf0Value;
use bytes::{Bytes, BytesMut};

use super::{MediaKind, SessionError};
use crate::chunk::{
    ChunkDecoder, ChunkEncoder, ChunkError, ChunkLimits, MAX_CHUNK_SIZE, MAX_MESSAGE_LENGTH,
    RawMessage,
};
use crate::handshake::{ClientHandshake, HandshakeProgress, ServerHandshake};
use crate::message::{Command, Message, UserControl, csid, type_id};

/// The AMF0 bytes of the string "@setDataFrame": the wrapper publishers put before
/// "onMetaData" in data messages (ffmpeg, OBS).
pub(crate) const SET_DATA_FRAME: &[u8] = b"\x02\x00\x0d@setDataFrame";
/// The AMF0 bytes of the string "onMetaData".
pub(crate) const ON_METADATA: &[u8] = b"\x02\x00\x0aonMetaData";

/// Event queue capacity kept once drained; more is released.
pub(crate) const EVENTS_RETAINED: usize = 16;

#[derive(Debug)]
enum Handshake {
    Server(ServerHandshake),
    Client(ClientHandshake),
    Done,
}

/// Handshake, chunk codec, control messages and output of one connection.
#[derive(Debug)]
pub(crate) struct Core {
    handshake: Handshake,
    pub decoder: ChunkDecoder,
    pub encoder: ChunkEncoder,
    out: BytesMut,
    /// Acknowledge every this many received bytes (the peer's Window Acknowledgement Size).
    peer_window: Option<u32>,
    acked_at: u64,
    /// The last Window Acknowledgement Size we sent.
    pub announced_window: Option<u32>,
    last_bandwidth_limit: Option<u8>,
    /// The last Acknowledgement the peer sent.
    pub peer_acknowledged: u32,
    started: Instant,
    ping_interval: Option<Duration>,
    next_ping: Option<Instant>,
    failed: bool,
}

/// The header fields of a received message whose payload went into its [`Message`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Received {
    pub csid: u32,
    pub timestamp: u32,
    pub type_id: u8,
    pub stream_id: u32,
}

impl Received {
    /// The message again, e.g. to split an aggregate.
    pub fn with_payload(self, payload: Bytes) -> RawMessage {
        RawMessage {
            csid: self.csid,
            timestamp: self.timestamp,
            type_id: self.type_id,
            stream_id: self.stream_id,
            payload,
        }
    }
}

/// Outcome of feeding input to the core.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fed {
    Handshaking,
    /// The handshake finished with this input.
    HandshakeDone,
    Chunks,
}

impl Core {
    pub fn server(
        limits: ChunkLimits,
        handshake: ServerHandshake,
        now: Instant,
        ping: Option<Duration>,
    ) -> Core {
        Core::new(limits, Handshake::Server(handshake), now, ping)
    }

    pub fn client(limits: ChunkLimits, handshake: ClientHandshake, now: Instant) -> Core {
        let mut core = Core::new(limits, Handshake::Client(handshake), now, None);
        if let Handshake::Client(h) = &core.handshake {
            h.start(&mut core.out);
        }
        core
    }

    fn new(
        limits: ChunkLimits,
        handshake: Handshake,
        now: Instant,
        ping_interval: Option<Duration>,
    ) -> Core {
        Core {
            handshake,
            decoder: ChunkDecoder::new(limits),
            encoder: ChunkEncoder::new(),
            out: BytesMut::new(),
            peer_window: None,
            acked_at: 0,
            announced_window: None,
            last_bandwidth_limit: None,
            peer_acknowledged: 0,
            started: now,
            ping_interval,
            next_ping: None,
            failed: false,
        }
    }

    /// Feeds received bytes to the handshake or the chunk decoder.
    pub fn feed(&mut self, data: &[u8]) -> Result<Fed, SessionError> {
        if self.failed {
            return Err(SessionError::Failed);
        }
        let progress = match &mut self.handshake {
            Handshake::Done => {
                self.decoder.push(data);
                return Ok(Fed::Chunks);
            }
            Handshake::Server(h) => h.handle_input(data, &mut self.out),
            Handshake::Client(h) => h.handle_input(data, &mut self.out),
        };
        match self.check(progress)? {
            HandshakeProgress::InProgress => Ok(Fed::Handshaking),
            HandshakeProgress::Done { consumed } => {
                self.handshake = Handshake::Done;
                self.decoder.push(&data[consumed..]);
                Ok(Fed::HandshakeDone)
            }
        }
    }

    /// The next message that is not protocol control (those are handled here).
    pub fn next_message(&mut self) -> Result<Option<(Received, Message)>, SessionError> {
        loop {
            let polled = self.decoder.poll_message();
            let Some(raw) = self.check(polled)? else {
                self.acknowledge();
                return Ok(None);
            };
            let received = Received {
                csid: raw.csid,
                timestamp: raw.timestamp,
                type_id: raw.type_id,
                stream_id: raw.stream_id,
            };
            let decoded = Message::from_raw(raw);
            let message = self.check(decoded)?;
            if !self.control(&message)? {
                return Ok(Some((received, message)));
            }
        }
    }

    /// Marks the session failed on error, so later input is refused.
    pub fn check<T, E: Into<SessionError>>(&mut self, r: Result<T, E>) -> Result<T, SessionError> {
        r.map_err(|e| {
            self.failed = true;
            e.into()
        })
    }

    pub fn handshake_done(&self) -> bool {
        matches!(self.handshake, Handshake::Done)
    }

    /// Hands out everything queued, buffer and all: nothing is retained after a burst, and
    /// the next message gets a fresh buffer of its exact size (see [`ChunkEncoder::encode`]).
    pub fn take_output(&mut self) -> Option<Bytes> {
        (!self.out.is_empty()).then(|| std::mem::take(&mut self.out).freeze())
    }

    pub fn output_len(&self) -> usize {
        self.out.len()
    }

    /// Heap bytes of the chunk codec and the output queue.
    pub fn allocated(&self) -> usize {
        self.decoder.allocated() + self.encoder.allocated() + self.out.capacity()
    }

    /// Sends a message on stream 0 with timestamp 0 (control and NetConnection commands).
    pub fn send(&mut self, message: &Message) {
        message.write(0, 0, &mut self.encoder, &mut self.out);
    }

    /// Sends a command on a message stream.
    pub fn command(&mut self, stream_id: u32, command: Command) {
        Message::Command(command).write(0, stream_id, &mut self.encoder, &mut self.out);
    }

    /// Sends an AMF0 data message made of `values` on a message stream.
    pub fn data(&mut self, stream_id: u32, values: &[Amf0Value]) {
        let body = baton_amf::encode_all(values);
        self.encoder.encode(
            csid::DATA,
            0,
            MediaKind::Data.type_id(),
            stream_id,
            &body,
            &mut self.out,
        );
    }

    /// Sends `onStatus` on a message stream (RTMP spec 7.2.2).
    pub fn status(&mut self, stream_id: u32, level: &str, code: &str, description: &str) {
        let info = Amf0Value::object([
            ("level", level.into()),
            ("code", code.into()),
            ("description", description.into()),
        ]);
        self.command(
            stream_id,
            Command::new("onStatus", 0.0, Amf0Value::Null, vec![info]),
        );
    }

    /// Sends an audio, video or data message on its conventional chunk stream.
    pub fn media(
        &mut self,
        stream_id: u32,
        kind: MediaKind,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<(), SessionError> {
        if payload.len() > MAX_MESSAGE_LENGTH {
            return Err(SessionError::PayloadTooLarge(payload.len()));
        }
        self.encoder.encode(
            kind.csid(),
            timestamp,
            kind.type_id(),
            stream_id,
            payload,
            &mut self.out,
        );
        Ok(())
    }

    /// Sends Set Chunk Size (chunked with the old size) and applies it to the encoder.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), SessionError> {
        validate_chunk_size(size)?;
        self.send(&Message::SetChunkSize(size));
        self.encoder.set_chunk_size(size)?;
        Ok(())
    }

    /// Sends Window Acknowledgement Size and remembers it.
    pub fn announce_window(&mut self, size: u32) {
        self.announced_window = Some(size);
        self.send(&Message::WindowAckSize(size));
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let (Some(interval), true) = (self.ping_interval, self.handshake_done()) else {
            return;
        };
        let due = *self.next_ping.get_or_insert(self.started + interval);
        if now >= due {
            let millis = now.saturating_duration_since(self.started).as_millis() as u32;
            self.send(&Message::UserControl(UserControl::PingRequest(millis)));
            self.next_ping = Some(now + interval);
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let interval = self.ping_interval?;
        Some(self.next_ping.unwrap_or(self.started + interval))
    }

    /// Handles protocol control messages; false for anything else.
    fn control(&mut self, message: &Message) -> Result<bool, SessionError> {
        match *message {
            Message::SetChunkSize(size) => {
                let r = self.decoder.set_chunk_size(size);
                self.check(r)?;
            }
            Message::Abort { csid } => self.decoder.abort(csid),
            Message::Acknowledgement(n) => self.peer_acknowledged = n,
            Message::WindowAckSize(size) => {
                // Zero would mean "acknowledge every byte": ignore it rather than flood.
                self.peer_window = (size > 0).then_some(size);
            }
            Message::SetPeerBandwidth { size, limit } => self.peer_bandwidth(size, limit),
            Message::UserControl(UserControl::PingRequest(t)) => {
                self.send(&Message::UserControl(UserControl::PingResponse(t)));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// RTMP spec 5.4.5: hard (0) sets the window, soft (1) may only lower it, dynamic (2) acts
    /// as hard if the previous limit was hard and is ignored otherwise. The answer is a Window
    /// Acknowledgement Size when the window changes.
    fn peer_bandwidth(&mut self, size: u32, limit: u8) {
        let current = self.announced_window;
        let new = match limit {
            0 => Some(size),
            1 => Some(current.map_or(size, |c| c.min(size))),
            _ if self.last_bandwidth_limit == Some(0) => Some(size),
            _ => None,
        };
        if limit <= 1 {
            self.last_bandwidth_limit = Some(limit);
        }
        if let Some(new) = new
            && Some(new) != current
        {
            self.announce_window(new);
        }
    }

    /// Sends an Acknowledgement when the bytes received since the last one reach the peer's
    /// window (5.4.3). The sequence number is the total received, wrapping at 2^32.
    fn acknowledge(&mut self) {
        let Some(window) = self.peer_window else {
            return;
        };
        let received = self.decoder.bytes_received();
        if received - self.acked_at >= u64::from(window) {
            self.acked_at = received;
            self.send(&Message::Acknowledgement(received as u32));
        }
    }
}

/// RTMP spec 5.4.1: 1..=0x7FFFFFFF.
pub(crate) fn validate_chunk_size(size: u32) -> Result<(), SessionError> {
    if size == 0 || size > MAX_CHUNK_SIZE {
        return Err(ChunkError::InvalidChunkSize(size).into());
    }
    Ok(())
}

/// Splits `name?query` into the name and the query after the first '?'.
pub(crate) fn split_name(full: &str) -> (String, Option<String>) {
    match full.split_once('?') {
        Some((name, query)) => (name.to_owned(), Some(query.to_owned())),
        None => (full.to_owned(), None),
    }
}

/// Removes a leading AMF0 "@setDataFrame" string from a data message body.
pub(crate) fn strip_set_data_frame(payload: Bytes) -> Bytes {
    if payload.starts_with(SET_DATA_FRAME) {
        payload.slice(SET_DATA_FRAME.len()..)
    } else {
        payload
    }
}

/// The first AMF0 value of a data message when it is a short string (its handler name).
pub(crate) fn data_name(payload: &[u8]) -> Option<&str> {
    let (&marker, rest) = payload.split_first()?;
    if marker != 0x02 || rest.len() < 2 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
    std::str::from_utf8(rest.get(2..2 + len)?).ok()
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
