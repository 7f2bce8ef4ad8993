//! Chunk stream reassembly (RTMP spec 1.0 section 5.3).
//!
//! Rules where peers differ from the spec or from each other, chosen to interoperate:
//!
//! - **Timestamp of a format 3 chunk that starts a message** = previous timestamp + the
//!   timestamp field of the last format 0/1/2 header on that chunk stream (for format 0 that is
//!   the absolute value), as ffmpeg and SRS compute it (5.3.1.2.4).
//! - **Extended timestamp on format 3 chunks** (5.3.1.3): read whenever the last header on the
//!   chunk stream used one, when the chunk starts a message. On a *continuation* chunk the spec
//!   (and ffmpeg, FMS, nginx-rtmp, OBS) repeat the field, but some encoders omit it; as SRS
//!   does, the four bytes are taken as the extended timestamp only if they equal the value of
//!   the message's header, and as payload otherwise.
//! - **A format 0/1/2 header in the middle of a message** (a peer repeating full headers on
//!   every chunk): with the same length it continues the message, as in ffmpeg; with another
//!   length the partial message is dropped and a new one starts.
//! - Absolute timestamps wrap at 2^32 (`wrapping_add`).
//!
//! Work and memory: received bytes are parsed as they are pushed, so each payload byte is
//! copied once, from the caller's slice into the allocation its message is handed out in. A
//! message that arrives whole gets an exact-size copy; a longer one is assembled in a buffer
//! that grows with the bytes actually received (and those already pushed behind them), never
//! beyond the declared length, so a finished message owns exactly its bytes and pins nothing
//! else. Only an incomplete chunk header (at most 18 bytes) is kept between pushes, except
//! after a Set Chunk Size or Abort message: parsing stops there until the message has been
//! polled, because the caller's answer ([`ChunkDecoder::set_chunk_size`],
//! [`ChunkDecoder::abort`]) changes how the following chunks read. [`ChunkLimits`] bounds
//! message size, messages in flight and chunk streams.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use super::{
    ChunkError, ChunkLimits, DEFAULT_CHUNK_SIZE, EXTENDED_TIMESTAMP, MAX_CHUNK_SIZE, RawMessage,
};
use crate::message::type_id;

/// Reassembles messages from received chunk stream bytes.
///
/// Calling order: [`push`](Self::push) received bytes, then call
/// [`poll_message`](Self::poll_message) until it returns `Ok(None)`. When a Set Chunk Size
/// message comes out, call [`set_chunk_size`](Self::set_chunk_size) before polling again; it
/// applies to the chunks after that message (likewise [`abort`](Self::abort) for an Abort
/// Message). After an error the decoder must be discarded.
#[derive(Debug)]
pub struct ChunkDecoder {
    limits: ChunkLimits,
    chunk_size: u32,
    /// Received bytes not parsed yet: an incomplete chunk header (shorter than
    /// [`MAX_HEADER_LEN`]) or, while `paused`, everything after the message that paused.
    input: Vec<u8>,
    /// Header state of chunk streams below 64 (by index, grown to the highest id seen): the
    /// ids 1-byte basic headers carry, which real peers use.
    low: Vec<Option<StreamState>>,
    high: HashMap<u32, StreamState>,
    /// The chunk whose data is being received.
    current: Option<Current>,
    /// Complete messages not polled yet.
    ready: VecDeque<RawMessage>,
    /// Parsing stopped after a Set Chunk Size or Abort message (see the module docs).
    paused: bool,
    error: Option<ChunkError>,
    known_streams: usize,
    partial_messages: usize,
    partial_bytes: usize,
    bytes_received: u64,
}

/// What the last header on a chunk stream said, and the message being assembled.
#[derive(Debug, Default)]
struct StreamState {
    /// Absolute timestamp of the current (or last) message.
    timestamp: u32,
    /// Timestamp field of the last format 0/1/2 header (after any extended timestamp).
    ts_field: u32,
    /// That header used the extended timestamp field.
    extended: bool,
    length: u32,
    type_id: u8,
    stream_id: u32,
    /// The message in progress (allocated when its first byte arrives).
    partial: Option<Vec<u8>>,
}

/// A chunk whose header has been consumed and whose data has not all arrived.
#[derive(Debug, Clone, Copy)]
struct Current {
    csid: u32,
    /// Data bytes still to come.
    left: usize,
    /// The message was aborted: skip the rest of the chunk.
    discard: bool,
}

/// A parsed chunk header.
#[derive(Debug)]
struct Header {
    csid: u32,
    /// Bytes of basic header, message header and extended timestamp.
    header_len: usize,
    ts_field: u32,
    extended: bool,
    length: u32,
    type_id: u8,
    stream_id: u32,
    timestamp: u32,
    /// The chunk starts a new message (otherwise it continues the partial one).
    starts_message: bool,
    /// Update the stream's header fields (false for a continuation).
    update_fields: bool,
    data_len: usize,
}

/// Basic header (3) + format 0 message header (11) + extended timestamp (4).
const MAX_HEADER_LEN: usize = 18;
const LOW_STREAMS: usize = 64;
/// Smallest buffer for a message that arrives in pieces (unless it is shorter).
const MIN_MESSAGE_CAPACITY: usize = 4096;
/// Input and ready-queue capacity kept after a burst; more is released.
const INPUT_RETAINED: usize = 256;
const READY_RETAINED: usize = 16;

impl ChunkDecoder {
    /// A decoder at the default chunk size of 128. Allocates nothing until bytes arrive.
    pub fn new(limits: ChunkLimits) -> Self {
        ChunkDecoder {
            limits,
            chunk_size: DEFAULT_CHUNK_SIZE,
            input: Vec::new(),
            low: Vec::new(),
            high: HashMap::new(),
            current: None,
            ready: VecDeque::new(),
            paused: false,
            error: None,
            known_streams: 0,
            partial_messages: 0,
            partial_bytes: 0,
            bytes_received: 0,
        }
    }

    /// Takes in received bytes. They are parsed right away (see the module docs); complete
    /// messages and errors wait for [`poll_message`](Self::poll_message).
    pub fn push(&mut self, data: &[u8]) {
        self.bytes_received += data.len() as u64;
        let mut data = data;
        // An incomplete header from the last push: complete it a few bytes at a time (a
        // header is never longer than MAX_HEADER_LEN), then go on parsing `data` in place.
        while !self.input.is_empty() && !self.paused && self.error.is_none() && !data.is_empty() {
            let take = data.len().min(MAX_HEADER_LEN);
            self.input.extend_from_slice(&data[..take]);
            data = &data[take..];
            let mut input = std::mem::take(&mut self.input);
            let used = self.process(&input);
            input.drain(..used);
            self.input = input;
        }
        if self.error.is_some() {
            return;
        }
        if self.paused || !self.input.is_empty() {
            self.input.extend_from_slice(data);
            return;
        }
        let used = self.process(data);
        if self.error.is_none() {
            self.input.extend_from_slice(&data[used..]);
        }
    }

    /// The next complete message, `Ok(None)` when more bytes are needed.
    pub fn poll_message(&mut self) -> Result<Option<RawMessage>, ChunkError> {
        loop {
            if let Some(message) = self.ready.pop_front() {
                return Ok(Some(message));
            }
            if let Some(error) = &self.error {
                return Err(error.clone());
            }
            if !self.paused {
                if self.ready.capacity() > READY_RETAINED {
                    self.ready = VecDeque::new();
                }
                return Ok(None);
            }
            // The message that paused parsing has been polled (the queue is empty).
            self.paused = false;
            let mut input = std::mem::take(&mut self.input);
            let used = self.process(&input);
            input.drain(..used);
            if input.capacity() > INPUT_RETAINED && input.len() < INPUT_RETAINED {
                input = input.as_slice().to_vec();
            }
            self.input = input;
        }
    }

    /// Sets the peer's chunk size (from its Set Chunk Size message, RTMP spec 5.4.1).
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), ChunkError> {
        if size == 0 || size > MAX_CHUNK_SIZE {
            return Err(ChunkError::InvalidChunkSize(size));
        }
        self.chunk_size = size;
        Ok(())
    }

    /// The peer's current chunk size.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Drops the partial message on `csid` (Abort Message, RTMP spec 5.4.2).
    pub fn abort(&mut self, csid: u32) {
        let dropped = slot_mut(&mut self.low, &mut self.high, csid)
            .and_then(|st| st.partial.take())
            .map(|p| p.capacity());
        if let Some(capacity) = dropped {
            self.partial_messages -= 1;
            self.partial_bytes -= capacity;
            if let Some(current) = self.current.as_mut().filter(|c| c.csid == csid) {
                current.discard = true;
            }
        }
    }

    /// Total bytes pushed, for acknowledgements (RTMP spec 5.4.3).
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    /// Buffer space held by partially received messages.
    pub fn partial_bytes(&self) -> usize {
        self.partial_bytes
    }

    /// Bytes pushed but not yet parsed.
    pub fn buffered(&self) -> usize {
        self.input.len()
    }

    /// Heap bytes the decoder holds: its input and message buffers, the chunk stream table
    /// and the queue of complete messages (their payloads excluded, which belong to the
    /// messages). For memory accounting and tests.
    pub fn allocated(&self) -> usize {
        self.input.capacity()
            + self.partial_bytes
            + self.low.capacity() * size_of::<Option<StreamState>>()
            + self.high.capacity() * (size_of::<(u32, StreamState)>() + 1)
            + self.ready.capacity() * size_of::<RawMessage>()
    }

    /// Parses chunks from `buf` until it ends, a header is incomplete, parsing pauses or an
    /// error occurs (stored in `self.error`). Returns the bytes consumed.
    fn process(&mut self, buf: &[u8]) -> usize {
        if self.error.is_some() {
            return 0;
        }
        let mut pos = 0;
        loop {
            if let Some(current) = self.current.take() {
                match self.receive(current, &buf[pos..]) {
                    Ok(used) => pos += used,
                    Err(e) => {
                        self.error = Some(e);
                        return pos;
                    }
                }
                if self.current.is_some() {
                    return pos; // `buf` ended inside the chunk
                }
            }
            if self.paused || pos == buf.len() {
                return pos;
            }
            let header = match self.parse_header(&buf[pos..]) {
                Ok(Some(header)) => header,
                Ok(None) => return pos,
                Err(e) => {
                    self.error = Some(e);
                    return pos;
                }
            };
            pos += header.header_len;
            match self.start_chunk(header, &buf[pos..]) {
                Ok(used) => pos += used,
                Err(e) => {
                    self.error = Some(e);
                    return pos;
                }
            }
        }
    }

    /// Parses the header of the chunk at the start of `buf` if all of it is there. Changes
    /// no state, so an incomplete header is simply parsed again after more input.
    fn parse_header(&self, buf: &[u8]) -> Result<Option<Header>, ChunkError> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        let fmt = first >> 6;
        // 5.3.1.1: ids 0 and 1 in the first byte announce 2- and 3-byte basic headers.
        let (csid, mut pos) = match first & 0x3f {
            0 => match buf.get(1) {
                Some(&b) => (64 + u32::from(b), 2),
                None => return Ok(None),
            },
            1 => match buf.get(1..3) {
                Some(b) => (64 + u32::from(b[0]) + 256 * u32::from(b[1]), 3),
                None => return Ok(None),
            },
            id => (u32::from(id), 1),
        };
        let header_len = [11, 7, 3, 0][usize::from(fmt)];
        let Some(h) = buf.get(pos..pos + header_len) else {
            return Ok(None);
        };
        pos += header_len;
        let prev = self.stream(csid);
        if fmt != 0 && prev.is_none() {
            return Err(ChunkError::MissingHeader { csid, fmt });
        }
        let u24 = |b: &[u8]| u32::from_be_bytes([0, b[0], b[1], b[2]]);
        let in_progress = prev.and_then(|p| p.partial.as_ref()).map(Vec::len);

        let (mut ts_field, length, type_id, stream_id, extended) = match (fmt, prev) {
            (0, _) => (
                u24(&h[0..3]),
                u24(&h[3..6]),
                h[6],
                u32::from_le_bytes([h[7], h[8], h[9], h[10]]),
                u24(&h[0..3]) == EXTENDED_TIMESTAMP,
            ),
            (1, Some(p)) => (
                u24(&h[0..3]),
                u24(&h[3..6]),
                h[6],
                p.stream_id,
                u24(&h[0..3]) == EXTENDED_TIMESTAMP,
            ),
            (2, Some(p)) => (
                u24(&h[0..3]),
                p.length,
                p.type_id,
                p.stream_id,
                u24(&h[0..3]) == EXTENDED_TIMESTAMP,
            ),
            (_, Some(p)) => (p.ts_field, p.length, p.type_id, p.stream_id, p.extended),
            (_, None) => return Err(ChunkError::MissingHeader { csid, fmt }),
        };
        if extended {
            if fmt == 3 && in_progress.is_some() {
                // Continuation: the field repeats the header's value, if the peer sends it.
                let expected = ts_field.to_be_bytes();
                let avail = &buf[pos..buf.len().min(pos + 4)];
                if avail.len() == 4 && avail == expected {
                    pos += 4;
                } else if avail.len() < 4 && expected.starts_with(avail) {
                    return Ok(None); // can't tell yet
                }
            } else {
                let Some(b) = buf.get(pos..pos + 4) else {
                    return Ok(None);
                };
                ts_field = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                pos += 4;
            }
        }

        let prev_timestamp = prev.map_or(0, |p| p.timestamp);
        let (starts_message, update_fields, received) = match in_progress {
            None => (true, true, 0),
            Some(received) if fmt == 3 || prev.is_some_and(|p| p.length == length) => {
                (false, false, received)
            }
            Some(_) => (true, true, 0), // a new message replaces the partial one
        };
        let timestamp = match (starts_message, fmt) {
            (false, _) => prev_timestamp,
            (true, 0) => ts_field,
            (true, _) => prev_timestamp.wrapping_add(ts_field),
        };
        let length_usize = length as usize;
        if starts_message && length_usize > self.limits.max_message_size {
            return Err(ChunkError::MessageTooLarge {
                csid,
                length: length_usize,
                limit: self.limits.max_message_size,
            });
        }
        Ok(Some(Header {
            csid,
            header_len: pos,
            ts_field,
            extended,
            length,
            type_id,
            stream_id,
            timestamp,
            starts_message,
            update_fields,
            data_len: (length_usize - received).min(self.chunk_size as usize),
        }))
    }

    /// Applies a consumed header. A message whose data is all in `avail` is handed out right
    /// away (an exact-size copy); otherwise the chunk becomes [`Self::current`]. Returns the
    /// bytes of `avail` used.
    fn start_chunk(&mut self, h: Header, avail: &[u8]) -> Result<usize, ChunkError> {
        if self.stream(h.csid).is_none() {
            if self.known_streams >= self.limits.max_chunk_streams {
                return Err(ChunkError::TooManyChunkStreams {
                    limit: self.limits.max_chunk_streams,
                });
            }
            self.known_streams += 1;
            let index = h.csid as usize;
            if index < LOW_STREAMS {
                if self.low.len() <= index {
                    self.low.resize_with(index + 1, || None);
                }
                self.low[index] = Some(StreamState::default());
            } else {
                self.high.insert(h.csid, StreamState::default());
            }
        }
        let st = slot_mut(&mut self.low, &mut self.high, h.csid)
            .expect("the chunk stream state exists: inserted above");
        if h.update_fields {
            st.timestamp = h.timestamp;
            st.ts_field = h.ts_field;
            st.extended = h.extended;
            st.length = h.length;
            st.type_id = h.type_id;
            st.stream_id = h.stream_id;
        }
        if h.starts_message {
            if let Some(dropped) = st.partial.take() {
                self.partial_messages -= 1;
                self.partial_bytes -= dropped.capacity();
            }
            let total = h.length as usize;
            if h.data_len == total && avail.len() >= total {
                let payload = Bytes::copy_from_slice(&avail[..total]);
                let message = message(h.csid, st, payload);
                self.deliver(message);
                return Ok(total);
            }
            if self.partial_messages >= self.limits.max_partial_messages {
                return Err(ChunkError::TooManyPartialMessages {
                    limit: self.limits.max_partial_messages,
                });
            }
            self.partial_messages += 1;
            st.partial = Some(Vec::new());
        }
        self.current = Some(Current {
            csid: h.csid,
            left: h.data_len,
            discard: false,
        });
        Ok(0)
    }

    /// Receives the data of `current` from the start of `buf`, and the chunks right after it
    /// that continue the same message with a 1-byte format 3 header (the common case: peers
    /// send a message's chunks back to back), without going through [`Self::parse_header`].
    /// Leaves [`Self::current`] set if `buf` ends inside a chunk; hands out the message when
    /// it is complete. Returns the bytes of `buf` used.
    fn receive(&mut self, mut current: Current, buf: &[u8]) -> Result<usize, ChunkError> {
        if current.discard {
            let n = current.left.min(buf.len());
            current.left -= n;
            self.current = (current.left > 0).then_some(current);
            return Ok(n);
        }
        let st = slot_mut(&mut self.low, &mut self.high, current.csid)
            .expect("the current chunk's stream exists: its header was applied");
        let partial = st
            .partial
            .as_mut()
            .expect("a chunk in progress has a message buffer unless discarded");
        let total = st.length as usize;
        // A format 3 continuation header is this one byte when the id is below 64 and no
        // extended timestamp follows.
        let continuation = (current.csid < 64 && !st.extended).then_some(0xC0 | current.csid as u8);
        let chunk_size = self.chunk_size as usize;
        let mut pos = 0;
        loop {
            let n = current.left.min(buf.len() - pos);
            let needed = partial.len() + n;
            if needed > partial.capacity() {
                // Grow to what has been received (and pushed behind it), at least doubling,
                // never past the declared length.
                let old = partial.capacity();
                let behind = buf.len() - pos - n;
                let capacity = total.min(
                    needed
                        .saturating_add(behind)
                        .max(2 * old)
                        .max(MIN_MESSAGE_CAPACITY),
                );
                if self.partial_bytes - old + capacity > self.limits.max_partial_bytes {
                    return Err(ChunkError::PartialBytesExceeded {
                        limit: self.limits.max_partial_bytes,
                    });
                }
                partial.reserve_exact(capacity - partial.len());
                self.partial_bytes += partial.capacity() - old;
            }
            partial.extend_from_slice(&buf[pos..pos + n]);
            pos += n;
            current.left -= n;
            if current.left > 0 {
                self.current = Some(current);
                return Ok(pos);
            }
            if partial.len() >= total {
                break;
            }
            match (continuation, buf.get(pos)) {
                (Some(byte), Some(&next)) if next == byte => {
                    pos += 1;
                    current.left = (total - partial.len()).min(chunk_size);
                }
                _ => return Ok(pos),
            }
        }
        let done = st
            .partial
            .take()
            .expect("the partial message was filled above");
        self.partial_messages -= 1;
        self.partial_bytes -= done.capacity();
        let message = message(current.csid, st, Bytes::from(done));
        self.deliver(message);
        Ok(pos)
    }

    fn deliver(&mut self, message: RawMessage) {
        // The caller's answer to these changes how the next chunks read: stop until then.
        if matches!(message.type_id, type_id::SET_CHUNK_SIZE | type_id::ABORT) {
            self.paused = true;
        }
        self.ready.push_back(message);
    }

    fn stream(&self, csid: u32) -> Option<&StreamState> {
        if (csid as usize) < LOW_STREAMS {
            self.low.get(csid as usize).and_then(Option::as_ref)
        } else {
            self.high.get(&csid)
        }
    }
}

fn message(csid: u32, st: &StreamState, payload: Bytes) -> RawMessage {
    RawMessage {
        csid,
        timestamp: st.timestamp,
        type_id: st.type_id,
        stream_id: st.stream_id,
        payload,
    }
}

fn slot_mut<'a>(
    low: &'a mut [Option<StreamState>],
    high: &'a mut HashMap<u32, StreamState>,
    csid: u32,
) -> Option<&'a mut StreamState> {
    if (csid as usize) < LOW_STREAMS {
        low.get_mut(csid as usize).and_then(Option::as_mut)
    } else {
        high.get_mut(&csid)
    }
}
