//! Recognising a source's replay after a reconnect.
//!
//! A server with a GOP cache (Baton's ingest, SRS, many CDNs) answers a new play with the
//! frames since its last keyframe. When the relay's connection to the source dropped but the
//! publisher did not, some of those frames were already relayed. [`RecentFrames`] remembers
//! the last few hundred frames forwarded (a fingerprint each, not the payload), so the runner
//! can skip the repeats and, when the replay proves it is the same stream (or the timestamps
//! advanced exactly as the wall clock did), continue on the same timeline offset instead of
//! rebasing: the destination sees neither repeated content nor an artificial gap.

use std::collections::VecDeque;

use baton_media::{Frame, TagType};

/// Fingerprints kept: several seconds of audio + video at common frame rates.
const CAPACITY: usize = 512;

/// Largest step from the last relayed frame to the first new one that still counts as the
/// same timeline.
pub(crate) const RESUME_MAX_GAP_MS: i64 = 10_000;

/// Without a recognised replay, the new connection's first frame continues the same timeline
/// when its timestamp advanced as much as the wall clock did since the last relayed frame,
/// within this slack (a live source's clock and ours agree; a new publisher's restart at 0
/// or elsewhere does not).
pub(crate) const RESUME_CLOCK_SLACK_MS: i64 = 1_000;

/// A frame's fingerprint: its timestamp and a hash of its kind, length and edges (16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    dts: i64,
    sig: u64,
}

impl Mark {
    fn of(frame: &Frame) -> Mark {
        Mark {
            dts: frame.dts,
            sig: signature(frame.kind, &frame.payload),
        }
    }
}

/// The last frames forwarded from the current source connection (input timestamps).
#[derive(Debug, Default)]
pub(crate) struct RecentFrames {
    marks: VecDeque<Mark>,
    last_keyframe: Option<Mark>,
}

impl RecentFrames {
    pub(crate) fn record(&mut self, frame: &Frame) {
        if self.marks.len() == CAPACITY {
            self.marks.pop_front();
        }
        let mark = Mark::of(frame);
        if frame.keyframe {
            self.last_keyframe = Some(mark);
        }
        self.marks.push_back(mark);
    }

    /// `frame` is the last keyframe recorded: where a GOP-cache replay of this stream starts.
    pub(crate) fn is_last_keyframe(&self, frame: &Frame) -> bool {
        frame.keyframe && self.last_keyframe == Some(Mark::of(frame))
    }

    pub(crate) fn contains(&self, frame: &Frame) -> bool {
        let mark = Mark::of(frame);
        self.marks.iter().rev().any(|m| *m == mark)
    }

    pub(crate) fn last_dts(&self) -> Option<i64> {
        self.marks.iter().map(|m| m.dts).max()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.marks.clear();
        self.last_keyframe = None;
    }
}

/// Audio and video media (not headers, not script data): what the replay check looks at.
pub(crate) fn is_media(frame: &Frame) -> bool {
    !frame.config && matches!(frame.kind, TagType::Audio | TagType::Video)
}

/// FNV-1a over the kind, the length and the first and last 32 bytes: distinguishes frames of
/// one stream with near certainty at a few nanoseconds per frame.
fn signature(kind: TagType, payload: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ payload.len() as u64 ^ (u64::from(kind.id()) << 56);
    let head = &payload[..payload.len().min(32)];
    let tail = &payload[payload.len().saturating_sub(32)..];
    for b in head.iter().chain(tail) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(PRIME);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn frame(dts: i64, byte: u8) -> Frame {
        Frame::new(
            TagType::Video,
            dts,
            Bytes::from(vec![0x27, 1, 0, 0, 0, byte, 9]),
        )
    }

    #[test]
    fn recognises_the_same_frame_only() {
        let mut recent = RecentFrames::default();
        recent.record(&frame(0, 1));
        recent.record(&frame(33, 2));
        assert!(recent.contains(&frame(33, 2)));
        assert!(!recent.contains(&frame(33, 3)), "same time, other content");
        assert!(!recent.contains(&frame(66, 2)), "same content, other time");
        assert_eq!(recent.last_dts(), Some(33));
    }

    #[test]
    fn a_replay_starts_at_the_last_keyframe_only() {
        let key = |dts, byte| {
            Frame::new(
                TagType::Video,
                dts,
                Bytes::from(vec![0x17, 1, 0, 0, 0, byte]),
            )
        };
        let mut recent = RecentFrames::default();
        recent.record(&key(0, 1));
        recent.record(&frame(33, 2));
        recent.record(&key(990, 3));
        recent.record(&frame(1023, 4));
        assert!(recent.is_last_keyframe(&key(990, 3)));
        assert!(
            !recent.is_last_keyframe(&key(0, 1)),
            "a restart from the top is not a replay"
        );
        assert!(!recent.is_last_keyframe(&frame(1023, 4)));
        recent.clear();
        assert!(!recent.is_last_keyframe(&key(990, 3)));
    }

    #[test]
    fn keeps_a_bounded_window() {
        let mut recent = RecentFrames::default();
        for i in 0..(CAPACITY as i64 + 10) {
            recent.record(&frame(i, i as u8));
        }
        assert!(!recent.contains(&frame(0, 0)));
        assert!(recent.contains(&frame(CAPACITY as i64 + 9, (CAPACITY + 9) as u8)));
    }
}
