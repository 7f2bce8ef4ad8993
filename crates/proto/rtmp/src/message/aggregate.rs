//! Aggregate messages (RTMP spec 1.0 section 7.1.6): a body of sub-messages laid out like FLV
//! tags (type 1 byte, size 3, timestamp 3 + extension 1, stream id 3, body, back pointer 4).
//! Sub-message timestamps are re-based so the first one gets the aggregate's timestamp and the
//! others keep their offsets from it, as FMS, ffmpeg and nginx-rtmp do.

use bytes::Bytes;

use super::MessageError;
use crate::chunk::RawMessage;

const SUB_HEADER: usize = 11;
const BACK_POINTER: usize = 4;

/// Splits an aggregate message into its sub-messages (zero-copy slices of its payload). Each
/// inherits the aggregate's chunk stream and message stream ids.
pub fn split_aggregate(aggregate: &RawMessage) -> AggregateIter {
    AggregateIter {
        payload: aggregate.payload.clone(),
        pos: 0,
        csid: aggregate.csid,
        stream_id: aggregate.stream_id,
        timestamp: aggregate.timestamp,
        first_timestamp: None,
        failed: false,
    }
}

/// Iterator over the sub-messages of an aggregate; stops after the first error.
#[derive(Debug, Clone)]
pub struct AggregateIter {
    payload: Bytes,
    pos: usize,
    csid: u32,
    stream_id: u32,
    timestamp: u32,
    first_timestamp: Option<u32>,
    failed: bool,
}

impl Iterator for AggregateIter {
    type Item = Result<RawMessage, MessageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.payload.len() {
            return None;
        }
        let result = self.sub_message();
        self.failed = result.is_err();
        Some(result)
    }
}

impl AggregateIter {
    fn sub_message(&mut self) -> Result<RawMessage, MessageError> {
        let offset = self.pos;
        let error = |reason| MessageError::Aggregate { offset, reason };
        let h = self
            .payload
            .get(offset..offset + SUB_HEADER)
            .ok_or(error("truncated header"))?;
        let type_id = h[0];
        let size = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
        // Timestamp: 24 low bits then the upper 8 bits (FLV spec E.4.1 "TimestampExtended").
        let ts = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
        let body_start = offset + SUB_HEADER;
        let body_end = body_start
            .checked_add(size)
            .filter(|&end| end <= self.payload.len())
            .ok_or(error("body exceeds the aggregate"))?;
        let first = *self.first_timestamp.get_or_insert(ts);
        let payload = self.payload.slice(body_start..body_end);
        // The back pointer is not checked (encoders disagree on it) and may be missing at the
        // very end.
        self.pos = (body_end + BACK_POINTER).min(self.payload.len());
        Ok(RawMessage {
            csid: self.csid,
            timestamp: self.timestamp.wrapping_add(ts.wrapping_sub(first)),
            type_id,
            stream_id: self.stream_id,
            payload,
        })
    }
}
