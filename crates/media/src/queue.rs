//! Bounded per-subscriber queues: the fan-out's back-pressure point.
//!
//! The publisher pushes every frame into every subscriber's queue and never waits; each
//! subscriber pops at its own pace. A subscriber that falls behind loses frames according to
//! [`WhenFull::DropToKeyframe`], never the publisher's time or another subscriber's frames.

use std::collections::VecDeque;

use crate::Frame;

/// Bounds of a [`SubscriberQueue`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// Queued frames (default 1024, about 14 s of 30 fps video with AAC audio).
    pub max_frames: usize,
    /// Queued payload bytes (default 8 MiB).
    pub max_bytes: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_frames: 1024,
            max_bytes: 8 << 20,
        }
    }
}

/// What a queue does when a push would exceed its bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenFull {
    /// Drop every queued audio/video (and non-metadata script) frame, then drop audio and
    /// non-key video until the next video keyframe, which is queued and resumes normal flow; a
    /// stream without video resumes at the next audio frame. Metadata and sequence headers are
    /// never dropped: a newer one of the same kind replaces a queued older one in place, so
    /// they cannot pile up. A non-key video frame is never delivered right after a drop, so the
    /// subscriber's decoder never sees a reference frame missing.
    DropToKeyframe,
}

/// The outcome of [`SubscriberQueue::push`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// The frame was queued.
    Queued,
    /// The frame was dropped (the queue is waiting for a keyframe).
    Dropped,
    /// The queue overflowed: `dropped` frames were discarded, the queued media plus the pushed
    /// frame itself unless it could resume the flow (a video keyframe, or audio on a stream
    /// without video), in which case it was queued.
    Flushed {
        /// Frames discarded by this push.
        dropped: usize,
    },
    /// The frame (metadata or a sequence header) was queued in place of a queued older one of
    /// the same kind, which was discarded.
    Replaced,
    /// The frame is a header identical (same kind, same bytes) to the one of its kind queued:
    /// a re-send — at a destination's start, by a reconnected source — not a loss. Nothing
    /// changes; counted in [`SubscriberQueue::repeated`], not as dropped.
    Repeated,
}

/// A bounded FIFO of frames for one subscriber, with the [`WhenFull::DropToKeyframe`] policy.
///
/// Counters are exact: every pushed frame is either delivered by [`pop`](Self::pop), still
/// queued, counted once in [`dropped`](Self::dropped), or — a header identical to the queued
/// one — once in [`repeated`](Self::repeated); `dropped()` is the sum of what the pushes
/// reported (`Dropped` and `Replaced` count 1, `Flushed { dropped }` counts `dropped`).
///
/// Headers may take the queue past its bounds (at most one of each kind is queued), and so may
/// the frame that resumes the flow after a flush: a keyframe bigger than `max_bytes` is still
/// delivered rather than blocking the subscriber forever.
#[derive(Clone, Debug)]
pub struct SubscriberQueue {
    config: QueueConfig,
    frames: VecDeque<Frame>,
    /// Payload bytes in `frames`.
    bytes: usize,
    dropped: u64,
    /// Identical headers pushed while their twin was queued.
    repeated: u64,
    /// Dropping until a frame that can resume the flow.
    skipping: bool,
    /// A video frame (header included) was pushed: resume only at video keyframes.
    video_seen: bool,
}

impl SubscriberQueue {
    /// An empty queue.
    pub fn new(config: QueueConfig) -> Self {
        SubscriberQueue {
            config,
            frames: VecDeque::new(),
            bytes: 0,
            dropped: 0,
            repeated: 0,
            skipping: false,
            video_seen: false,
        }
    }

    /// Queues `frame`, or drops frames according to [`WhenFull::DropToKeyframe`]. Never blocks.
    pub fn push(&mut self, frame: Frame) -> Pushed {
        self.video_seen |= frame.is_video();
        if let Some(kind) = HeaderKind::of(&frame) {
            return self.push_header(kind, frame);
        }
        if self.skipping {
            if self.resumes_at(&frame) {
                self.skipping = false;
                self.enqueue(frame);
                return Pushed::Queued;
            }
            self.dropped += 1;
            return Pushed::Dropped;
        }
        if !self.would_overflow(&frame) {
            self.enqueue(frame);
            return Pushed::Queued;
        }
        let mut dropped = self.flush();
        if self.resumes_at(&frame) {
            self.enqueue(frame);
        } else {
            self.skipping = true;
            self.dropped += 1;
            dropped += 1;
        }
        Pushed::Flushed { dropped }
    }

    /// The oldest queued frame.
    pub fn pop(&mut self) -> Option<Frame> {
        let frame = self.frames.pop_front()?;
        self.bytes -= frame.payload.len();
        Some(frame)
    }

    /// The policy applied when full (for logs and metrics).
    pub fn policy(&self) -> WhenFull {
        WhenFull::DropToKeyframe
    }

    /// Frames queued.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Payload bytes queued.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Frames pushed that will never be delivered.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Headers pushed that were identical to the queued one of their kind (re-sends; nothing
    /// lost).
    pub fn repeated(&self) -> u64 {
        self.repeated
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    fn push_header(&mut self, kind: HeaderKind, frame: Frame) -> Pushed {
        if let Some(queued) = self
            .frames
            .iter_mut()
            .find(|f| HeaderKind::of(f) == Some(kind))
        {
            if queued.payload == frame.payload {
                self.repeated += 1;
                return Pushed::Repeated;
            }
            // In place: frames queued after the old header keep their position relative to
            // the other headers.
            self.bytes = self.bytes - queued.payload.len() + frame.payload.len();
            *queued = frame;
            self.dropped += 1;
            return Pushed::Replaced;
        }
        let has_media = self.frames.len() > self.header_count();
        if self.would_overflow(&frame) && has_media {
            let dropped = self.flush();
            self.skipping = true;
            self.enqueue(frame);
            return Pushed::Flushed { dropped };
        }
        self.enqueue(frame);
        Pushed::Queued
    }

    /// Whether the flow can restart at `frame` after a drop: decoders need a keyframe; audio
    /// frames are independent, so an audio-only stream restarts anywhere.
    fn resumes_at(&self, frame: &Frame) -> bool {
        if frame.is_video() {
            frame.keyframe
        } else {
            frame.is_audio() && !self.video_seen
        }
    }

    fn would_overflow(&self, frame: &Frame) -> bool {
        self.frames.len() + 1 > self.config.max_frames
            || self.bytes + frame.payload.len() > self.config.max_bytes
    }

    /// Drops every queued frame but the headers; returns how many.
    fn flush(&mut self) -> usize {
        let before = self.frames.len();
        self.frames.retain(|f| HeaderKind::of(f).is_some());
        self.bytes = self.frames.iter().map(|f| f.payload.len()).sum();
        let dropped = before - self.frames.len();
        self.dropped += dropped as u64;
        dropped
    }

    fn header_count(&self) -> usize {
        self.frames
            .iter()
            .filter(|f| HeaderKind::of(f).is_some())
            .count()
    }

    fn enqueue(&mut self, frame: Frame) {
        self.bytes += frame.payload.len();
        self.frames.push_back(frame);
    }
}

/// The frames that are never dropped; at most one of each is queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HeaderKind {
    Metadata,
    VideoConfig,
    AudioConfig,
}

impl HeaderKind {
    fn of(frame: &Frame) -> Option<HeaderKind> {
        if frame.is_metadata() {
            Some(HeaderKind::Metadata)
        } else if frame.config && frame.is_video() {
            Some(HeaderKind::VideoConfig)
        } else if frame.config && frame.is_audio() {
            Some(HeaderKind::AudioConfig)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests;
