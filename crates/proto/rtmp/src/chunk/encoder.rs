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

use bytes::{BufMut, BytesMut};

use super::{
    ChunkError, DEFAULT_CHUNK_SIZE, EXTENDED_TIMESTAMP, MAX_CHUNK_SIZE, MAX_CSID,
    MAX_MESSAGE_LENGTH,
};

/// Cuts messages into chunks. See the module docs for the header choice.
#[derive(Debug)]
pub struct ChunkEncoder {
    chunk_size: u32,
    streams: HashMap<u32, Previous>,
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

impl Default for ChunkEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkEncoder {
    /// An encoder with the default chunk size of 128.
    pub fn new() -> Self {
        ChunkEncoder {
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: HashMap::new(),
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

    /// Appends the chunks of one message to `out`.
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
        let prev = self.streams.get(&csid).copied();
        let (fmt, field, delta) = match prev {
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
        self.streams.insert(
            csid,
            Previous {
                timestamp,
                delta,
                length,
                type_id,
                stream_id,
            },
        );

        let extended = field >= EXTENDED_TIMESTAMP;
        let field24 = field.min(EXTENDED_TIMESTAMP);
        let chunk_size = self.chunk_size as usize;
        let chunks = length.div_ceil(chunk_size).max(1);
        // Upper bound of the header bytes: 3 + 11 + 4 for the first chunk, 3 + 4 after.
        out.reserve(length + 18 + (chunks - 1) * 7);

        basic_header(fmt, csid, out);
        if fmt <= 2 {
            out.put_uint(u64::from(field24), 3);
        }
        if fmt <= 1 {
            out.put_uint(length as u64, 3);
            out.put_u8(type_id);
        }
        if fmt == 0 {
            // The message stream id is little-endian (5.3.1.2.1).
            out.put_u32_le(stream_id);
        }
        if extended {
            out.put_u32(field);
        }
        let mut chunks_iter = payload.chunks(chunk_size);
        if let Some(first) = chunks_iter.next() {
            out.put_slice(first);
        }
        for chunk in chunks_iter {
            basic_header(3, csid, out);
            if extended {
                out.put_u32(field);
            }
            out.put_slice(chunk);
        }
    }
}

/// 5.3.1.1: 1 byte for ids 2-63, 2 bytes for 64-319, 3 bytes up to 65599.
fn basic_header(fmt: u8, csid: u32, out: &mut BytesMut) {
    let fmt = fmt << 6;
    match csid {
        0..=63 => out.put_u8(fmt | csid as u8),
        64..=319 => out.put_slice(&[fmt, (csid - 64) as u8]),
        _ => {
            let id = csid - 64;
            out.put_slice(&[fmt | 1, id as u8, (id >> 8) as u8]);
        }
    }
}
