//! Chunking of outgoing messages (RTMP spec 1.0 section 5.3).
//!
//! Header compression per chunk stream (5.3.1.2): format 0 for the first message, when the
//! message stream id changes, and when the timestamp goes backwards (which includes wrapping
//! past `u32::MAX`: the absolute value is sent). Otherwise format 1 (delta, length, type),
//! format 2 (same length and type: delta only) or format 3 (same delta as the previous format
//! 1/2 header). Format 3 is never used to start a message right after a format 0 header,
//! because decoders disagree on which delta that implies (ffmpeg and SRS reuse the absolute
//! value, nginx-rtmp uses zero).
//!
//! When the timestamp field does not fit 24 bits, the extended timestamp follows the header
//! and is repeated on every continuation chunk, as the spec, FMS and ffmpeg do.

use std::collections::HashMap;

use bytes::BytesMut;

use super::{
    ChunkError, DEFAULT_CHUNK_SIZE, EXTENDED_TIMESTAMP, MAX_CHUNK_SIZE, MAX_CSID,
    MAX_MESSAGE_LENGTH,
};

/// Cuts messages into chunks. See the module docs for the header choice.
#[derive(Debug)]
pub struct ChunkEncoder {
    chunk_size: u32,
    /// The last message on chunk streams below 64, by id (grown to the highest id used).
    low: Vec<Option<Previous>>,
    high: HashMap<u32, Option<Previous>>,
}

/// The last message written on a chunk stream.
#[derive(Debug, Clone, Copy)]
struct Previous {
    timestamp: u32,
    /// Timestamp field of the last format 1/2 header; `None` after a format 0 header.
    delta: Option<u32>,
    length: usize,
    type_id: u8,
    stream_id: u32,
}

/// Chunk streams kept in [`ChunkEncoder::low`].
const LOW_STREAMS: usize = 64;

impl Default for ChunkEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkEncoder {
    /// An encoder with the default chunk size of 128. Allocates nothing until used.
    pub fn new() -> Self {
        ChunkEncoder {
            chunk_size: DEFAULT_CHUNK_SIZE,
            low: Vec::new(),
            high: HashMap::new(),
        }
    }

    /// Changes the chunk size for the messages encoded after this call. The caller also sends
    /// the Set Chunk Size message (before this call, so the peer learns it first).
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), ChunkError> {
        if size == 0 || size > MAX_CHUNK_SIZE {
            return Err(ChunkError::InvalidChunkSize(size));
        }
        self.chunk_size = size;
        Ok(())
    }

    /// Our current chunk size.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Appends the chunks of one message to `out`, reserving exactly the bytes they take (so
    /// an empty `out` ends up owning an exact-size buffer).
    ///
    /// # Panics
    /// If `csid` is outside `2..=65599` or `payload` is longer than the 24-bit length field
    /// allows (16 MiB - 1): both are the caller's choice, never peer input.
    pub fn encode(
        &mut self,
        csid: u32,
        timestamp: u32,
        type_id: u8,
        stream_id: u32,
        payload: &[u8],
        out: &mut BytesMut,
    ) {
        assert!(
            (2..=MAX_CSID).contains(&csid),
            "chunk stream id {csid} is outside 2..=65599"
        );
        assert!(
            payload.len() <= MAX_MESSAGE_LENGTH,
            "message of {} bytes does not fit the 24-bit length field",
            payload.len()
        );
        let length = payload.len();
        let slot = self.slot(csid);
        let (fmt, field, delta) = match *slot {
            Some(p) if p.stream_id == stream_id && timestamp >= p.timestamp => {
                let delta = timestamp - p.timestamp;
                if p.length != length || p.type_id != type_id {
                    (1, delta, Some(delta))
                } else if p.delta == Some(delta) {
                    (3, delta, Some(delta))
                } else {
                    (2, delta, Some(delta))
                }
            }
            _ => (0, timestamp, None),
        };
        *slot = Some(Previous {
            timestamp,
            delta,
            length,
            type_id,
            stream_id,
        });

        // The first chunk's header, and the format 3 header every later chunk starts with.
        let extended = field >= EXTENDED_TIMESTAMP;
        let mut first = [0u8; 18];
        let mut n = basic_header(fmt, csid, &mut first);
        if fmt <= 2 {
            first[n..n + 3].copy_from_slice(&field.min(EXTENDED_TIMESTAMP).to_be_bytes()[1..]);
            n += 3;
        }
        if fmt <= 1 {
            first[n..n + 3].copy_from_slice(&(length as u32).to_be_bytes()[1..]);
            first[n + 3] = type_id;
            n += 4;
        }
        if fmt == 0 {
            // The message stream id is little-endian (5.3.1.2.1).
            first[n..n + 4].copy_from_slice(&stream_id.to_le_bytes());
            n += 4;
        }
        let mut next = [0u8; 7];
        let mut m = basic_header(3, csid, &mut next);
        if extended {
            first[n..n + 4].copy_from_slice(&field.to_be_bytes());
            n += 4;
            next[m..m + 4].copy_from_slice(&field.to_be_bytes());
            m += 4;
        }
        let chunk_size = self.chunk_size as usize;
        let chunks = length.div_ceil(chunk_size).max(1);
        let size = n + length + (chunks - 1) * m;
        if out.capacity() == 0 {
            *out = BytesMut::with_capacity(size); // the common case, cheaper than reserve
        } else {
            out.reserve(size);
        }
        let (head, rest) = payload.split_at(length.min(chunk_size));
        out.extend_from_slice(&first[..n]);
        out.extend_from_slice(head);
        for chunk in rest.chunks(chunk_size) {
            out.extend_from_slice(&next[..m]);
            out.extend_from_slice(chunk);
        }
    }

    /// Heap bytes of the per-chunk-stream state.
    pub fn allocated(&self) -> usize {
        self.low.capacity() * size_of::<Option<Previous>>()
            + self.high.capacity() * (size_of::<(u32, Option<Previous>)>() + 1)
    }

    fn slot(&mut self, csid: u32) -> &mut Option<Previous> {
        let index = csid as usize;
        if index < LOW_STREAMS {
            if self.low.len() <= index {
                self.low.resize(index + 1, None);
            }
            &mut self.low[index]
        } else {
            // Ids above 63 are rare, and chosen by the caller, not the peer.
            self.high.entry(csid).or_insert(None)
        }
    }
}

/// Writes a basic header into `buf`, returns its length. 5.3.1.1: 1 byte for ids 2-63, 2
/// bytes for 64-319, 3 bytes up to 65599.
fn basic_header(fmt: u8, csid: u32, buf: &mut [u8]) -> usize {
    let fmt = fmt << 6;
    match csid {
        0..=63 => {
            buf[0] = fmt | csid as u8;
            1
        }
        64..=319 => {
            buf[..2].copy_from_slice(&[fmt, (csid - 64) as u8]);
            2
        }
        _ => {
            let id = csid - 64;
            buf[..3].copy_from_slice(&[fmt | 1, id as u8, (id >> 8) as u8]);
            3
        }
    }
}
