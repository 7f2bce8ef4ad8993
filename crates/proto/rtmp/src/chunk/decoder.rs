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
//! Memory: a message buffer grows with the data actually received (doubling, never beyond the
//! declared length), messages that fit one chunk are split out of the input without copying,
//! and [`ChunkLimits`] bounds message size, messages in flight and chunk streams.

use std::collections::HashMap;

use bytes::{Buf, Bytes, BytesMut};

use super::{
    ChunkError, ChunkLimits, DEFAULT_CHUNK_SIZE, EXTENDED_TIMESTAMP, MAX_CHUNK_SIZE, RawMessage,
};

/// Reassembles messages from received chunk stream bytes.
///
/// Calling order: [`push`](Self::push) received bytes, then call
/// [`poll_message`](Self::poll_message) until it returns `Ok(None)`. When a Set Chunk Size
/// message comes out, call [`set_chunk_size`](Self::set_chunk_size) before polling again; it
/// applies to the chunks after that message. After an error the decoder must be discarded.
#[derive(Debug)]
pub struct ChunkDecoder {
    limits: ChunkLimits,
    chunk_size: u32,
    input: BytesMut,
    /// Header state of chunk streams 2..64 (by index), the ids 1-byte basic headers carry.
    low: Vec<Option<StreamState>>,
    high: HashMap<u32, StreamState>,
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
    partial: Option<Vec<u8>>,
}

/// A chunk header whose chunk is fully buffered.
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

const LOW_STREAMS: usize = 64;
/// Minimum first allocation for a multi-chunk message.
const INITIAL_MESSAGE_CAPACITY: usize = 4096;

impl ChunkDecoder {
    /// A decoder at the default chunk size of 128.
    pub fn new(limits: ChunkLimits) -> Self {
        ChunkDecoder {
            limits,
            chunk_size: DEFAULT_CHUNK_SIZE,
            input: BytesMut::with_capacity(16 * 1024),
            low: (0..LOW_STREAMS).map(|_| None).collect(),
            high: HashMap::new(),
            known_streams: 0,
            partial_messages: 0,
            partial_bytes: 0,
            bytes_received: 0,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.bytes_received += data.len() as u64;
        self.input.extend_from_slice(data);
    }

    /// The next complete message, `Ok(None)` when more bytes are needed.
    pub fn poll_message(&mut self) -> Result<Option<RawMessage>, ChunkError> {
        loop {
            let Some(header) = self.parse_header()? else {
                return Ok(None);
            };
            if let Some(message) = self.consume(header)? {
                return Ok(Some(message));
            }
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

    /// Bytes pushed but not yet consumed as chunks.
    pub fn buffered(&self) -> usize {
        self.input.len()
    }

    /// Parses the header of the next chunk if the whole chunk is buffered. Does not change
    /// any state, so an incomplete chunk is simply parsed again after more input.
    fn parse_header(&self) -> Result<Option<Header>, ChunkError> {
        let buf = &self.input[..];
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
        let prev = match (fmt, prev) {
            (0, prev) => prev,
            (_, Some(prev)) => Some(prev),
            (_, None) => return Err(ChunkError::MissingHeader { csid, fmt }),
        };
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
        let data_len = (length_usize - received).min(self.chunk_size as usize);
        if buf.len() - pos < data_len {
            return Ok(None);
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
            data_len,
        }))
    }

    /// Consumes a fully buffered chunk; returns the message it completes, if any.
    fn consume(&mut self, h: Header) -> Result<Option<RawMessage>, ChunkError> {
        if self.stream(h.csid).is_none() {
            if self.known_streams >= self.limits.max_chunk_streams {
                return Err(ChunkError::TooManyChunkStreams {
                    limit: self.limits.max_chunk_streams,
                });
            }
            self.known_streams += 1;
            match self.low.get_mut(h.csid as usize) {
                Some(slot) => *slot = Some(StreamState::default()),
                None => {
                    self.high.insert(h.csid, StreamState::default());
                }
            }
        }
        self.input.advance(h.header_len);
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
        let message = |st: &StreamState, payload| RawMessage {
            csid: h.csid,
            timestamp: st.timestamp,
            type_id: st.type_id,
            stream_id: st.stream_id,
            payload,
        };
        let dropped = if h.starts_message {
            st.partial.take().map(|p| p.capacity())
        } else {
            None
        };
        let total = h.length as usize;
        if h.starts_message && h.data_len == total {
            // The whole message is in this chunk: hand out the input bytes without copying.
            let payload = self.input.split_to(h.data_len).freeze();
            if let Some(capacity) = dropped {
                self.partial_messages -= 1;
                self.partial_bytes -= capacity;
            }
            return Ok(Some(message(st, payload)));
        }
        let (old_capacity, new_partial) = match &st.partial {
            Some(p) => (p.capacity(), false),
            None => (0, true),
        };
        let partial = st.partial.get_or_insert_with(Vec::new);
        let needed = partial.len() + h.data_len;
        let capacity = if needed > partial.capacity() {
            // Grow with the data received, never past the declared length.
            total.min(
                needed
                    .max(2 * partial.capacity())
                    .max(INITIAL_MESSAGE_CAPACITY),
            )
        } else {
            partial.capacity()
        };
        let partial_bytes = self.partial_bytes - dropped.unwrap_or(0) - old_capacity + capacity;
        let partial_messages =
            self.partial_messages - usize::from(dropped.is_some()) + usize::from(new_partial);
        if partial_messages > self.limits.max_partial_messages {
            return Err(ChunkError::TooManyPartialMessages {
                limit: self.limits.max_partial_messages,
            });
        }
        if partial_bytes > self.limits.max_partial_bytes {
            return Err(ChunkError::PartialBytesExceeded {
                limit: self.limits.max_partial_bytes,
            });
        }
        partial.reserve_exact(capacity - partial.len());
        partial.extend_from_slice(&self.input[..h.data_len]);
        self.input.advance(h.data_len);
        self.partial_bytes = partial_bytes;
        self.partial_messages = partial_messages;
        if partial.len() < total {
            return Ok(None);
        }
        let done = st
            .partial
            .take()
            .expect("the partial message was filled above");
        self.partial_messages -= 1;
        self.partial_bytes -= done.capacity();
        Ok(Some(message(st, Bytes::from(done))))
    }

    fn stream(&self, csid: u32) -> Option<&StreamState> {
        match self.low.get(csid as usize) {
            Some(slot) => slot.as_ref(),
            None => self.high.get(&csid),
        }
    }
}

fn slot_mut<'a>(
    low: &'a mut [Option<StreamState>],
    high: &'a mut HashMap<u32, StreamState>,
    csid: u32,
) -> Option<&'a mut StreamState> {
    match low.get_mut(csid as usize) {
        Some(slot) => slot.as_mut(),
        None => high.get_mut(&csid),
    }
}
