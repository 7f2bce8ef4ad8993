//! Incremental FLV demuxer (FLV spec v10.1 E.2–E.4.1): bytes in, whole tags out.
//!
//! Calling order: [`FlvDemuxer::push`] whatever arrived, then call [`FlvDemuxer::poll_tag`]
//! until it returns `Ok(None)` (needs more bytes) or an error (the stream is unusable; the
//! demuxer keeps returning that error). Tags come out as soon as their data is complete; the
//! PreviousTagSize that trails a tag is checked when it arrives.

use bytes::{Buf, Bytes, BytesMut};

use crate::header::{self, FlvHeader, HEADER_LEN};
use crate::{FlvError, MAX_TAG_DATA_SIZE, PREVIOUS_TAG_SIZE_LEN, TAG_HEADER_LEN, TagType};

/// One FLV tag: its type, timestamp and untouched body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlvTag {
    pub tag_type: TagType,
    /// Milliseconds: the 24-bit Timestamp with TimestampExtended as the upper 8 bits
    /// (FLV spec E.4.1).
    pub timestamp: u32,
    /// The tag body (for audio and video: the tag-body header, then the codec payload).
    pub data: Bytes,
}

/// What the demuxer accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemuxLimits {
    /// Largest tag DataSize accepted; a larger tag is an error. Default: 16 MiB − 1, the most
    /// FLV can express, so by default no valid tag is refused.
    pub max_tag_size: u32,
    /// Whether the stream starts with an FLV header and PreviousTagSize0. Default `true`.
    /// With `false` the input starts directly with a tag header, as in RTMP aggregate
    /// messages (RTMP spec 7.1.6) and FLV bodies cut out of a file.
    pub expect_header: bool,
}

impl Default for DemuxLimits {
    fn default() -> Self {
        DemuxLimits {
            max_tag_size: MAX_TAG_DATA_SIZE,
            expect_header: true,
        }
    }
}

/// Counters kept by the demuxer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DemuxStats {
    /// Tags returned by [`FlvDemuxer::poll_tag`].
    pub tags: u64,
    /// Tags skipped: unknown TagType, the Filter bit set (encrypted, FLV spec E.4.1), or
    /// DataSize 0.
    pub skipped_tags: u64,
    /// PreviousTagSize fields that did not equal 11 + the preceding tag's DataSize (or 0 for
    /// PreviousTagSize0). Real files have them; they are counted, not fatal.
    pub previous_tag_size_mismatches: u64,
    /// Bytes consumed from the input so far.
    pub bytes: u64,
}

/// Incremental, sans-IO FLV demuxer. See the module docs for the calling order.
#[derive(Debug)]
pub struct FlvDemuxer {
    limits: DemuxLimits,
    buf: BytesMut,
    state: State,
    header: Option<FlvHeader>,
    stats: DemuxStats,
    failed: Option<FlvError>,
}

impl FlvDemuxer {
    /// A demuxer expecting a header or not, as `limits.expect_header` says.
    pub fn new(limits: DemuxLimits) -> Self {
        let state = if limits.expect_header {
            State::Header
        } else {
            State::TagHeader
        };
        FlvDemuxer {
            limits,
            buf: BytesMut::new(),
            state,
            header: None,
            stats: DemuxStats::default(),
            failed: None,
        }
    }

    /// Appends received bytes. Ignored once the demuxer has failed, so a broken stream cannot
    /// make it buffer without bound.
    pub fn push(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(data);
        }
    }

    /// Appends received bytes, taking ownership without a copy when nothing is buffered and
    /// `data` is not shared.
    pub fn push_bytes(&mut self, data: Bytes) {
        if self.failed.is_some() {
            return;
        }
        if self.buf.is_empty() {
            self.buf = match data.try_into_mut() {
                Ok(owned) => owned,
                Err(shared) => BytesMut::from(&shared[..]),
            };
        } else {
            self.buf.extend_from_slice(&data);
        }
    }

    /// The next complete tag, `Ok(None)` if more bytes are needed, or the error that made the
    /// stream unusable (returned again on every later call).
    pub fn poll_tag(&mut self) -> Result<Option<FlvTag>, FlvError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.step() {
            Ok(tag) => Ok(tag),
            Err(e) => {
                self.failed = Some(e.clone());
                self.buf = BytesMut::new();
                Err(e)
            }
        }
    }

    /// The FLV header, once it has been read (always `None` without `expect_header`).
    pub fn header(&self) -> Option<&FlvHeader> {
        self.header.as_ref()
    }

    /// Counters so far.
    pub fn stats(&self) -> DemuxStats {
        self.stats
    }

    /// Bytes buffered and not yet consumed (part of a tag, header or padding still arriving).
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn step(&mut self) -> Result<Option<FlvTag>, FlvError> {
        loop {
            match self.state {
                State::Header => {
                    let Some((header, data_offset)) = header::parse_fixed(&self.buf)? else {
                        return Ok(None);
                    };
                    self.consume(HEADER_LEN);
                    self.header = Some(header);
                    self.state = State::Skip {
                        remaining: data_offset - HEADER_LEN as u32,
                        then_expect: 0,
                    };
                }
                State::Skip {
                    remaining,
                    then_expect,
                } => {
                    let n = remaining.min(u32::try_from(self.buf.len()).unwrap_or(u32::MAX));
                    self.consume(n as usize);
                    if n < remaining {
                        self.state = State::Skip {
                            remaining: remaining - n,
                            then_expect,
                        };
                        return Ok(None);
                    }
                    self.state = State::PreviousTagSize(then_expect);
                }
                State::PreviousTagSize(expected) => {
                    let Some(b) = self.buf.get(..PREVIOUS_TAG_SIZE_LEN) else {
                        return Ok(None);
                    };
                    if u32::from_be_bytes([b[0], b[1], b[2], b[3]]) != expected {
                        self.stats.previous_tag_size_mismatches += 1;
                    }
                    self.consume(PREVIOUS_TAG_SIZE_LEN);
                    self.state = State::TagHeader;
                }
                State::TagHeader => {
                    let Some(h) = self.buf.get(..TAG_HEADER_LEN) else {
                        return Ok(None);
                    };
                    // [Reserved:2][Filter:1][TagType:5] DataSize:24 Timestamp:24
                    // TimestampExtended:8 StreamID:24 (ignored: always 0).
                    let filtered = h[0] & 0x20 != 0;
                    let tag_type = TagType::from_id(h[0] & 0x1f);
                    let size = u32::from_be_bytes([0, h[1], h[2], h[3]]);
                    let timestamp = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
                    if size > self.limits.max_tag_size {
                        return Err(FlvError::TagTooLarge {
                            size,
                            max: self.limits.max_tag_size,
                        });
                    }
                    self.consume(TAG_HEADER_LEN);
                    let then_expect = size + TAG_HEADER_LEN as u32;
                    self.state = match tag_type {
                        Some(tag_type) if !filtered && size > 0 => State::TagData {
                            tag_type,
                            timestamp,
                            size,
                        },
                        _ => {
                            self.stats.skipped_tags += 1;
                            State::Skip {
                                remaining: size,
                                then_expect,
                            }
                        }
                    };
                }
                State::TagData {
                    tag_type,
                    timestamp,
                    size,
                } => {
                    let size_usize = size as usize;
                    if self.buf.len() < size_usize {
                        return Ok(None);
                    }
                    let data = self.buf.split_to(size_usize).freeze();
                    self.stats.bytes += u64::from(size);
                    self.stats.tags += 1;
                    self.state = State::PreviousTagSize(size + TAG_HEADER_LEN as u32);
                    return Ok(Some(FlvTag {
                        tag_type,
                        timestamp,
                        data,
                    }));
                }
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.buf.advance(n);
        self.stats.bytes += n as u64;
    }
}

/// Where the demuxer is in the stream.
#[derive(Clone, Copy, Debug)]
enum State {
    /// Expecting the 9 fixed header bytes.
    Header,
    /// Discarding header padding or a skipped tag's data as it arrives (never buffered), then
    /// expecting a PreviousTagSize of `then_expect`.
    Skip { remaining: u32, then_expect: u32 },
    /// Expecting a PreviousTagSize that should equal the value given.
    PreviousTagSize(u32),
    /// Expecting an 11-byte tag header.
    TagHeader,
    /// Waiting for all `size` bytes of a tag to be returned.
    TagData {
        tag_type: TagType,
        timestamp: u32,
        size: u32,
    },
}

#[cfg(test)]
mod tests;
