//! Where a segment's tracks start, learnt by reading its first frames ahead, for segments
//! whose presentation must continue the previous one ([`Timeline::begin_seamless_segment`]).
//!
//! [`Timeline::begin_seamless_segment`]: super::Timeline::begin_seamless_segment

use crate::{Frame, TagType};

/// Where one track of a segment starts, on the segment's own timeline (ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackStart {
    /// DTS of the track's first media frame.
    pub first_dts: i64,
    /// The earliest PTS among the track's frames seen: where its presentation starts. With
    /// B-frames this is later than `first_dts` by the decode lead (the first frame decoded
    /// is presented later), and not always the first frame's (open GOPs).
    pub first_pts: i64,
}

/// Where the audio and video tracks of a segment start ([`SegmentStart::observe`] every
/// media frame of the segment's beginning, in arrival order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmentStart {
    audio: Option<TrackStart>,
    video: Option<TrackStart>,
}

impl SegmentStart {
    /// Takes `frame` into account. Sequence headers and script frames say nothing about
    /// where media starts (their timestamps are often 0) and are ignored.
    pub fn observe(&mut self, frame: &Frame) {
        let slot = match frame.kind {
            TagType::Audio if !frame.config => &mut self.audio,
            TagType::Video if !frame.config => &mut self.video,
            _ => return,
        };
        // A negative composition time is a source bug the timeline rewrites to 0 (PTS = DTS).
        let pts = frame
            .dts
            .saturating_add(i64::from(frame.composition_time().max(0)));
        match slot {
            Some(start) => start.first_pts = start.first_pts.min(pts),
            None => {
                *slot = Some(TrackStart {
                    first_dts: frame.dts,
                    first_pts: pts,
                });
            }
        }
    }

    /// The start of the `kind` track (audio or video), if it had a media frame.
    pub fn track(&self, kind: TagType) -> Option<TrackStart> {
        match kind {
            TagType::Audio => self.audio,
            TagType::Video => self.video,
            TagType::Script => None,
        }
    }

    /// The earliest first DTS of the tracks: where the segment's decoding starts.
    pub fn first_dts(&self) -> Option<i64> {
        min_opt(
            self.audio.map(|t| t.first_dts),
            self.video.map(|t| t.first_dts),
        )
    }

    /// The earliest first PTS of the tracks: where the segment's presentation starts.
    pub fn first_pts(&self) -> Option<i64> {
        min_opt(
            self.audio.map(|t| t.first_pts),
            self.video.map(|t| t.first_pts),
        )
    }
}

/// Holds the first frames of a segment until where its tracks start is known: frames go in
/// with [`push`](SegmentLookahead::push) until [`is_complete`](SegmentLookahead::is_complete)
/// (or the segment ended), then [`finish`](SegmentLookahead::finish) gives the start and the
/// frames, in arrival order, to map after beginning the segment.
///
/// Complete once the media read spans [`LOOKAHEAD_MS`] of decode time: every track that
/// starts within that of the first frame is seen (an MP4 item's tracks start within a frame
/// or two of each other; an audio track delayed by an edit list by up to that too), and so
/// is the whole decode lead of any B-frame structure (x264's deepest, 16 B-frames at 25 fps,
/// is 680 ms). Bounded: at most [`LOOKAHEAD_FRAMES`] frames are held (full policy: the
/// lookahead completes with what it has).
#[derive(Debug, Default)]
pub struct SegmentLookahead {
    frames: Vec<Frame>,
    start: SegmentStart,
    /// First and newest media DTS pushed.
    span: Option<(i64, i64)>,
}

/// Decode time a [`SegmentLookahead`] reads ahead, ms.
pub const LOOKAHEAD_MS: i64 = 1_000;

/// Frames a [`SegmentLookahead`] holds at most.
pub const LOOKAHEAD_FRAMES: usize = 512;

impl SegmentLookahead {
    /// An empty lookahead.
    pub fn new() -> Self {
        Self::default()
    }

    /// Holds `frame` (any kind: headers and metadata keep their place among the media).
    pub fn push(&mut self, frame: Frame) {
        self.start.observe(&frame);
        if frame.kind != TagType::Script && !frame.config {
            let (first, newest) = self.span.get_or_insert((frame.dts, frame.dts));
            *newest = (*newest).max(frame.dts);
            *first = (*first).min(frame.dts);
        }
        self.frames.push(frame);
    }

    /// Enough has been read to know where the segment starts (see the type).
    pub fn is_complete(&self) -> bool {
        self.frames.len() >= LOOKAHEAD_FRAMES
            || self
                .span
                .is_some_and(|(first, newest)| newest.saturating_sub(first) >= LOOKAHEAD_MS)
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Where the segment starts, and the frames held, in the order they were pushed.
    pub fn finish(self) -> (SegmentStart, Vec<Frame>) {
        (self.start, self.frames)
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
