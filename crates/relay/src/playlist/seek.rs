//! The offset seek of items read from their start (FLV, MPEG-TS, VOD HLS).

use std::collections::VecDeque;

use baton_media::{Frame, TagType};

/// An item read from its start to an offset: frames before it are held or dropped so that
/// the item starts at the video keyframe at or before the offset (as MP4 items do from their
/// sample tables), with the frames from there on.
pub(super) struct KeyframeSeek {
    /// The offset (ms on the item's timeline) and everything since the last video keyframe
    /// before it; `None` once the offset is reached (or for an item played from 0).
    pending: Option<(i64, Vec<Frame>)>,
}

impl KeyframeSeek {
    pub(super) fn new(offset_ms: u64) -> KeyframeSeek {
        KeyframeSeek {
            pending: (offset_ms > 0)
                .then(|| (i64::try_from(offset_ms).unwrap_or(i64::MAX), Vec::new())),
        }
    }

    /// Queues `frame`, or holds it while seeking to the keyframe at or before the offset:
    /// sequence headers and metadata pass; a video keyframe at or before the offset starts a
    /// new held GOP, later frames join it; the first frame at or past the offset releases the
    /// held GOP (or, with none held, starts the item there if it is audio or a keyframe).
    pub(super) fn place(&mut self, frame: Frame, out: &mut VecDeque<Frame>) {
        let Some((target, held)) = self.pending.as_mut() else {
            out.push_back(frame);
            return;
        };
        if frame.config || frame.kind == TagType::Script {
            out.push_back(frame);
            return;
        }
        let video_key = frame.kind == TagType::Video && frame.keyframe;
        if frame.dts < *target {
            if video_key {
                held.clear();
                held.push(frame);
            } else if !held.is_empty() {
                held.push(frame);
            }
            return;
        }
        if video_key {
            // A keyframe right at the offset: start there.
            held.clear();
        } else if held.is_empty() && frame.kind != TagType::Audio {
            return;
        }
        let held = std::mem::take(held);
        self.pending = None;
        out.extend(held);
        out.push_back(frame);
    }
}
