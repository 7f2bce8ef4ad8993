//! One continuous output timeline per relay.
//!
//! A relay's input is a sequence of *segments*: the first connection of a source, each
//! reconnect, each playlist item. Every segment has its own timestamps (starting anywhere,
//! possibly near the 32-bit wrap); destinations must see one timeline that never goes
//! backwards. [`Timeline`] maps each segment onto the output with one offset shared by all its
//! tracks, so audio/video alignment inside a segment is exactly the source's, and places the
//! next segment right after the end of the previous one (plus the time the source was away):
//! by decode time for a live source that comes back ([`Timeline::begin_segment`]), by
//! presentation time for the next item of a playlist, whose start is read ahead
//! ([`Timeline::begin_seamless_segment`], [`SegmentLookahead`]).
//!
//! Wire timestamps are 32-bit; [`TimestampUnwrapper`] turns them into `i64` milliseconds on the
//! way in and [`wire_timestamp`] back on the way out.

mod start;
mod unwrap;

pub use start::{LOOKAHEAD_FRAMES, LOOKAHEAD_MS, SegmentLookahead, SegmentStart, TrackStart};
pub use unwrap::{TimestampUnwrapper, wire_timestamp};

use baton_flv::{TagType, parse_video_tag_header};
use bytes::BytesMut;

use crate::Frame;

/// Tuning of a [`Timeline`]. All values are milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineConfig {
    /// A step forward larger than this inside a segment is a discontinuity (default 10 000).
    pub max_forward_jump_ms: i64,
    /// A step backward larger than this inside a segment is a discontinuity (default 1 000).
    /// Smaller backward steps are corrected frame by frame instead.
    pub max_backward_jump_ms: i64,
    /// Duration assumed for a video frame until two consecutive frames were seen (default 33).
    pub default_video_duration_ms: i64,
    /// Duration assumed for an audio frame until two consecutive frames were seen (default 23,
    /// one AAC frame of 1024 samples at 44.1 kHz).
    pub default_audio_duration_ms: i64,
}

impl Default for TimelineConfig {
    fn default() -> Self {
        TimelineConfig {
            max_forward_jump_ms: 10_000,
            max_backward_jump_ms: 1_000,
            default_video_duration_ms: 33,
            default_audio_duration_ms: 23,
        }
    }
}

/// What a [`Timeline`] has had to do so far. Every field only grows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimelineCounters {
    /// Input segments begun ([`Timeline::begin_segment`], or implicitly by the first frame).
    pub segments: u64,
    /// Times the input → output offset was recomputed after the first one: once per later
    /// segment that carried media, plus once per discontinuity. A clean run reads 0.
    pub rebases: u64,
    /// Audio/video frames whose output DTS was moved forward to keep their track strictly
    /// increasing (and non-negative).
    pub dts_corrections: u64,
    /// Video frames whose composition time was rewritten: a negative one to 0 so that
    /// PTS ≥ DTS, or a positive one shortened by as much as a DTS correction moved the frame
    /// forward, so that its PTS stays where it was (as far as PTS ≥ DTS allows).
    pub cts_corrections: u64,
    /// Jumps inside a segment beyond the configured limits, handled by re-anchoring.
    pub discontinuities: u64,
}

/// Maps input segments onto one continuous output timeline.
///
/// Calling order: [`begin_segment`](Timeline::begin_segment) when a segment starts (it may be
/// omitted for the very first one), then [`map`](Timeline::map) for every frame of the segment
/// in arrival order, with `frame.dts` already unwrapped ([`TimestampUnwrapper`]) on the
/// segment's own timeline.
///
/// # Placement
///
/// A segment is anchored on its first audio or video media frame (not on metadata or sequence
/// headers, whose timestamps sources often leave at 0): that frame lands at
/// `base = max over tracks (last output DTS + last frame duration) + gap_ms`, which is 0 for the
/// first segment, and every later frame of the segment gets the same offset. A track that
/// starts earlier in the segment than the anchor frame (video at 0 arriving after audio at 20)
/// keeps its alignment and may land up to that lead before `base`; it can still not go back
/// past its own previous frame (see below).
///
/// Because all tracks share the offset and the next base is computed from the track that ends
/// last, looping a clip never drifts audio against video: each loop advances the timeline by
/// the same amount for every track (the `loops` test checks 100 loops).
///
/// # Seamless segments (playlist items)
///
/// Placing by decode time leaves a hole in the *presentation* when the segment has B-frames:
/// its first frame is decoded a lead (x264's default: 2 frames) before it is presented, so
/// putting that DTS at the previous end shows the new segment's first picture a lead late,
/// and the previous segment's own lead (its last DTS is a lead before its last picture)
/// adds to it. A segment whose start is known ahead ([`SegmentStart`], read with a
/// [`SegmentLookahead`]) is placed by [`begin_seamless_segment`](Timeline::begin_seamless_segment)
/// with the smallest offset at which every track's presentation continues:
///
/// `offset = max over tracks T (presented_end(T) − first_pts(T))`, where `presented_end(T)`
/// is the largest output PTS of T so far plus T's frame duration (its last DTS step), and
/// `first_pts(T)` the earliest PTS of T in the new segment; a track that had output but is
/// absent from the new segment counts with the segment's earliest PTS, so the segment still
/// starts after it ends; and `offset ≥ −first DTS` of the segment (output DTS is never
/// negative), which alone places the first segment of a timeline (its decoding starts at 0).
///
/// Consequences: the track that binds the offset continues with no hole (its first picture
/// or audio frame right where its previous one ended); the other track's hole is exactly how
/// much longer the binding track's frames span across the boundary — the content's own
/// imbalance (an MP4's AAC track sends its priming frame before 0 and its padded last frame
/// past the video's end: FLV has no edit lists, so those frames play, and are counted as
/// played). One offset per segment keeps A/V exactly as in the source, so nothing drifts over
/// any number of items. Decode time needs no room of its own: every frame of the new segment
/// is presented at or after `presented_end` > the previous last DTS, so a frame whose DTS
/// would not increase (a segment with a longer decode lead than the previous) is moved
/// forward by the DTS rule below while its PTS stays.
///
/// # Guarantees, per track (audio, video)
///
/// - Output DTS strictly increases and is ≥ 0: a frame that would go backwards or repeat is
///   moved to `last + 1` ([`TimelineCounters::dts_corrections`]); a video frame so moved keeps
///   its PTS, its composition time shortened by as much (down to 0).
/// - PTS ≥ DTS: a negative composition time is rewritten to 0 in the payload
///   ([`TimelineCounters::cts_corrections`]); a uniquely held payload is patched in place, a
///   shared one is copied once.
/// - Discontinuities: a frame more than `max_forward_jump_ms` ahead of the newest input DTS of
///   the segment, or more than `max_backward_jump_ms` behind the previous frame of its own
///   track (the newest of the segment if it is the track's first), re-anchors the segment as if
///   a new one began with gap 0 ([`TimelineCounters::discontinuities`]). The forward reference
///   is the segment's newest frame, not the track's own, so a track that pauses (camera off,
///   audio silence suppression) and resumes in step with the others is not a jump.
///
/// Sequence headers ("config" frames) are mapped like other frames but never move their
/// track's last DTS forward, and are kept between their track's last DTS and the newest output
/// DTS: a header re-sent mid-stream with timestamp 0 (or garbage) cannot make the output jump
/// or its track go backwards. Script frames (metadata, cue points) take the current offset
/// without the monotonic rule, kept between the segment's base and the newest output DTS so
/// they can never go negative or ahead. Both get the segment's base while it has not been
/// anchored yet (headers normally precede the segment's first media frame).
#[derive(Debug)]
pub struct Timeline {
    config: TimelineConfig,
    audio: Track,
    video: Track,
    anchor: Anchor,
    /// Whether a segment has been begun (explicitly or by the first frame).
    started: bool,
    /// Whether an offset has been computed yet (the first one is not a rebase).
    anchored: bool,
    counters: TimelineCounters,
}

impl Timeline {
    /// A timeline with no output yet: the first segment will start at 0.
    pub fn new(config: TimelineConfig) -> Self {
        let audio = Track::new(config.default_audio_duration_ms);
        let video = Track::new(config.default_video_duration_ms);
        Timeline {
            config,
            audio,
            video,
            anchor: Anchor::Pending { base: 0 },
            started: false,
            anchored: false,
            counters: TimelineCounters::default(),
        }
    }

    /// A new input segment begins: first connection, a source reconnect, or the next playlist
    /// item. `gap_ms` is the wall-clock time the source was away (0 for back-to-back items;
    /// negative values count as 0). The segment's first audio/video frame will land at
    /// [`next_base`](Timeline::next_base) + `gap_ms`. Beginning another segment before this one
    /// carried media replaces it.
    pub fn begin_segment(&mut self, gap_ms: i64) {
        self.started = true;
        self.counters.segments += 1;
        self.audio.last_in = None;
        self.video.last_in = None;
        self.anchor = Anchor::Pending {
            base: self.next_base().saturating_add(gap_ms.max(0)),
        };
    }

    /// A new input segment begins whose start was read ahead (the next playlist item): it is
    /// placed so that every track's presentation continues where it ended, with one offset
    /// for all tracks (see "Seamless segments" on the type). An empty `start` (no media read)
    /// begins a segment like [`begin_segment`](Timeline::begin_segment)`(0)`.
    pub fn begin_seamless_segment(&mut self, start: &SegmentStart) {
        let (Some(first_dts), Some(first_pts)) = (start.first_dts(), start.first_pts()) else {
            self.begin_segment(0);
            return;
        };
        self.begin_segment(0);
        // Output DTS is never negative; that alone places the first segment (its decoding
        // starts at 0, as with `begin_segment`).
        let mut offset = first_dts.saturating_neg();
        for kind in [TagType::Audio, TagType::Video] {
            let Some(end) = self.track(kind).presented_end() else {
                continue;
            };
            let from = start.track(kind).map_or(first_pts, |t| t.first_pts);
            offset = offset.max(end.saturating_sub(from));
        }
        self.anchor = Anchor::Anchored {
            base: first_dts.saturating_add(offset),
            offset,
            newest_in: first_dts,
        };
        self.count_anchor();
    }

    /// Maps a frame whose `dts` is on the input segment's own (unwrapped) timeline to the
    /// output timeline, in place (see the type's documentation for the rules).
    pub fn map(&mut self, frame: &mut Frame) {
        if !self.started {
            self.begin_segment(0);
        }
        match frame.kind {
            TagType::Script => frame.dts = self.map_side(frame.dts, None, false),
            TagType::Audio | TagType::Video if frame.config => {
                let last = self.track(frame.kind).last_out;
                frame.dts = self.map_side(frame.dts, last, true);
            }
            TagType::Audio => {
                let (out, _) = self.map_media(frame.kind, frame.dts);
                frame.dts = out;
                self.audio.presented(out);
            }
            TagType::Video => {
                let (out, moved) = self.map_media(frame.kind, frame.dts);
                frame.dts = out;
                let cts = frame.composition_time();
                // Negative: a source bug, PTS = DTS. Moved forward: keep the PTS.
                let kept = i64::from(cts).saturating_sub(moved).max(0);
                // kept ≤ max(cts, 0) ≤ i32::MAX.
                let kept = i32::try_from(kept).unwrap_or(0);
                let cts = if kept != cts && rewrite_cts(frame, kept) {
                    self.counters.cts_corrections += 1;
                    kept
                } else {
                    cts
                };
                self.video.presented(out.saturating_add(i64::from(cts)));
            }
        }
    }

    /// What the timeline has corrected so far.
    pub fn counters(&self) -> TimelineCounters {
        self.counters
    }

    /// The newest output DTS of any audio/video media frame.
    pub fn last_dts(&self) -> Option<i64> {
        max_opt(self.audio.last_out, self.video.last_out)
    }

    /// Where the next segment would start with gap 0: the end of the track that ends last
    /// (its last DTS plus its last frame duration), or 0 before any media.
    pub fn next_base(&self) -> i64 {
        max_opt(self.audio.end(), self.video.end()).unwrap_or(0)
    }

    /// Maps an audio/video media frame (not a sequence header): its output DTS, and how far
    /// the monotonic rule moved it forward from input + offset.
    fn map_media(&mut self, kind: TagType, dts: i64) -> (i64, i64) {
        let offset = match self.anchor {
            Anchor::Pending { base } => self.anchor_at(base, dts),
            Anchor::Anchored {
                offset, newest_in, ..
            } => {
                let reference = self.track(kind).last_in.unwrap_or(newest_in);
                let forward = dts.saturating_sub(newest_in);
                let backward = reference.saturating_sub(dts);
                if forward > self.config.max_forward_jump_ms
                    || backward > self.config.max_backward_jump_ms
                {
                    self.counters.discontinuities += 1;
                    self.audio.last_in = None;
                    self.video.last_in = None;
                    self.anchor_at(self.next_base(), dts)
                } else {
                    offset
                }
            }
        };
        if let Anchor::Anchored { newest_in, .. } = &mut self.anchor {
            *newest_in = (*newest_in).max(dts);
        }

        let track = self.track_mut(kind);
        if let Some(last_in) = track.last_in {
            let delta = dts.saturating_sub(last_in);
            if delta > 0 {
                track.duration = delta;
            }
        }
        track.last_in = Some(dts);
        let mapped = dts.saturating_add(offset);
        let floor = track.last_out.map_or(0, |last| last.saturating_add(1));
        let out = mapped.max(floor);
        track.last_out = Some(out);
        if out != mapped {
            self.counters.dts_corrections += 1;
        }
        (out, out.saturating_sub(mapped))
    }

    /// Maps a sequence header (`track_last` = its track's last media DTS) or a script frame
    /// (`None`).
    fn map_side(&self, dts: i64, track_last: Option<i64>, is_config: bool) -> i64 {
        let (base, mapped) = match self.anchor {
            Anchor::Pending { base } => (base, base),
            Anchor::Anchored { base, offset, .. } => (base, dts.saturating_add(offset)),
        };
        let lo = match (is_config, track_last) {
            (true, Some(last)) => last,
            // A track's first media frame may precede the anchor frame by up to the backward
            // jump limit (more would be a discontinuity): leave a header room to precede it.
            (true, None) => base.saturating_sub(self.config.max_backward_jump_ms).max(0),
            (false, _) => base,
        };
        let hi = self.last_dts().map_or(base, |newest| newest.max(base));
        // lo ≤ hi in every case above; max(lo) keeps the expression total regardless.
        mapped.max(lo).min(hi.max(lo))
    }

    /// Anchors the current segment so that input `dts` lands at output `base`.
    fn anchor_at(&mut self, base: i64, dts: i64) -> i64 {
        let offset = base.saturating_sub(dts);
        self.anchor = Anchor::Anchored {
            base,
            offset,
            newest_in: dts,
        };
        self.count_anchor();
        offset
    }

    /// Counts an offset computed: a rebase unless it is the timeline's first.
    fn count_anchor(&mut self) {
        if self.anchored {
            self.counters.rebases += 1;
        }
        self.anchored = true;
    }

    fn track(&self, kind: TagType) -> &Track {
        if kind == TagType::Video {
            &self.video
        } else {
            &self.audio
        }
    }

    fn track_mut(&mut self, kind: TagType) -> &mut Track {
        if kind == TagType::Video {
            &mut self.video
        } else {
            &mut self.audio
        }
    }
}

/// Where the current segment stands.
#[derive(Clone, Copy, Debug)]
enum Anchor {
    /// Begun, no audio/video media frame yet: the first one will land at `base`.
    Pending { base: i64 },
    /// Output = input + `offset`. `newest_in` is the newest input media DTS of the segment.
    Anchored {
        base: i64,
        offset: i64,
        newest_in: i64,
    },
}

/// Per-track state.
#[derive(Clone, Copy, Debug)]
struct Track {
    /// Last output DTS of a media frame on this track, across segments.
    last_out: Option<i64>,
    /// Last positive DTS step between consecutive input frames (else the configured default).
    duration: i64,
    /// Last input DTS of a media frame in the current segment.
    last_in: Option<i64>,
    /// Largest output PTS of a media frame on this track, across segments.
    max_pts: Option<i64>,
}

impl Track {
    fn new(default_duration: i64) -> Self {
        Track {
            last_out: None,
            duration: default_duration,
            last_in: None,
            max_pts: None,
        }
    }

    /// Where this track's last frame ends on the output timeline (by decode time).
    fn end(&self) -> Option<i64> {
        self.last_out.map(|last| last.saturating_add(self.duration))
    }

    /// A media frame of this track is presented at output `pts`.
    fn presented(&mut self, pts: i64) {
        self.max_pts = Some(self.max_pts.map_or(pts, |max| max.max(pts)));
    }

    /// Where this track's presentation ends: its latest picture or audio frame plus the
    /// track's frame duration (its last DTS step, the best estimate FLV offers: it has no
    /// per-frame durations).
    fn presented_end(&self) -> Option<i64> {
        self.max_pts.map(|pts| pts.saturating_add(self.duration))
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Rewrites the composition time of a video tag body that has one (non-zero) to `cts` (which
/// fits in SI24: it is between 0 and the frame's own composition time). Returns whether it
/// did.
fn rewrite_cts(frame: &mut Frame, cts: i32) -> bool {
    let Ok(header) = parse_video_tag_header(&frame.payload) else {
        return false;
    };
    if header.composition_time == 0 {
        return false;
    }
    // A non-zero composition time is the SI24 right before the codec payload, both in the
    // legacy AVC/HEVC header (FLV spec E.4.3.1, bytes 2..5) and in the Enhanced RTMP
    // CodedFrames ex-header (bytes 5..8).
    let Some(at) = header.payload_offset.checked_sub(3) else {
        return false;
    };
    let [_, b1, b2, b3] = cts.to_be_bytes();
    let payload = std::mem::take(&mut frame.payload);
    // In place when nobody else holds the buffer (the usual case: the timeline runs before
    // fan-out); otherwise one copy.
    let mut owned = payload
        .try_into_mut()
        .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
    if let Some(field) = owned.get_mut(at..at + 3) {
        field.copy_from_slice(&[b1, b2, b3]);
    }
    frame.payload = owned.freeze();
    true
}

#[cfg(test)]
mod tests;
