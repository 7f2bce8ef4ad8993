//! GOP cache: what a new player or relay receives at once so it can start decoding without
//! waiting for the publisher's next keyframe.

use std::collections::VecDeque;

use crate::{Frame, TagType};

/// Bounds of a [`GopCache`]. A GOP that outgrows them is dropped rather than truncated, since
/// a GOP without its head cannot be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GopCacheConfig {
    /// Payload bytes of the cached frames, headers not counted (default 16 MiB).
    pub max_bytes: usize,
    /// Cached frames, headers not counted (default 4096).
    pub max_frames: usize,
}

impl Default for GopCacheConfig {
    fn default() -> Self {
        GopCacheConfig {
            max_bytes: 16 << 20,
            max_frames: 4096,
        }
    }
}

/// The latest metadata and sequence headers, and the frames since the latest video keyframe.
///
/// - Metadata and sequence headers replace the stored ones. A header that *differs* from the
///   stored one also drops the cached frames (they were encoded with the old configuration) and
///   the cache waits for the next keyframe.
/// - A video keyframe starts a new GOP (the old one is dropped); other frames append to the
///   current GOP. Before the first keyframe, and after the GOP was dropped, non-key video,
///   audio and script frames are not cached: a replay must start at a keyframe.
/// - A GOP that exceeds `max_frames` or `max_bytes` is dropped (headers kept) and the cache
///   waits for the next keyframe.
/// - Audio-only streams (no video frame seen, headers included): the last `max_frames` audio
///   (and script) frames are kept, oldest evicted first, within `max_bytes`. The first video
///   frame switches the cache to GOP mode and drops them.
#[derive(Clone, Debug)]
pub struct GopCache {
    config: GopCacheConfig,
    metadata: Option<Frame>,
    video_config: Option<Frame>,
    audio_config: Option<Frame>,
    /// The current GOP (starting with its keyframe), or the audio window. Empty while waiting.
    frames: VecDeque<Frame>,
    /// Payload bytes in `frames`.
    frames_bytes: usize,
    video_seen: bool,
}

impl GopCache {
    /// An empty cache.
    pub fn new(config: GopCacheConfig) -> Self {
        GopCache {
            config,
            metadata: None,
            video_config: None,
            audio_config: None,
            frames: VecDeque::new(),
            frames_bytes: 0,
            video_seen: false,
        }
    }

    /// Adds one frame of the stream, in stream order (see the type's documentation).
    pub fn push(&mut self, frame: &Frame) {
        if frame.is_video() && !self.video_seen {
            // Audio windows are not GOPs: from now on the cache starts at keyframes.
            self.video_seen = true;
            self.drop_frames();
        }
        if frame.is_metadata() {
            self.metadata = Some(frame.clone());
            return;
        }
        if frame.config {
            let slot = if frame.is_video() {
                &mut self.video_config
            } else {
                &mut self.audio_config
            };
            let changed = slot
                .as_ref()
                .is_some_and(|old| old.payload != frame.payload);
            *slot = Some(frame.clone());
            if changed {
                self.drop_frames();
            }
            return;
        }
        if !self.video_seen {
            self.push_audio_window(frame);
            return;
        }
        let starts_gop = frame.kind == TagType::Video && frame.keyframe;
        if starts_gop {
            self.drop_frames();
        } else if self.frames.is_empty() {
            // Waiting for a keyframe.
            return;
        }
        self.append(frame);
        if self.over_limits() {
            self.drop_frames();
        }
    }

    /// What a new subscriber gets at once, in order: metadata, video config, audio config, then
    /// the current GOP from its keyframe (audio interleaved as it arrived).
    pub fn replay(&self) -> impl Iterator<Item = &Frame> {
        self.metadata
            .iter()
            .chain(self.video_config.iter())
            .chain(self.audio_config.iter())
            .chain(self.frames.iter())
    }

    /// Forgets everything, headers included (a new publisher).
    pub fn clear(&mut self) {
        self.metadata = None;
        self.video_config = None;
        self.audio_config = None;
        self.drop_frames();
        self.video_seen = false;
    }

    /// Payload bytes of everything [`replay`](GopCache::replay) yields.
    pub fn bytes(&self) -> usize {
        self.headers().map(|f| f.payload.len()).sum::<usize>() + self.frames_bytes
    }

    /// Number of frames [`replay`](GopCache::replay) yields.
    pub fn len(&self) -> usize {
        self.headers().count() + self.frames.len()
    }

    /// Whether [`replay`](GopCache::replay) yields nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn headers(&self) -> impl Iterator<Item = &Frame> {
        self.metadata
            .iter()
            .chain(self.video_config.iter())
            .chain(self.audio_config.iter())
    }

    fn push_audio_window(&mut self, frame: &Frame) {
        self.append(frame);
        while self.over_limits() {
            match self.frames.pop_front() {
                Some(old) => self.frames_bytes -= old.payload.len(),
                None => break,
            }
        }
    }

    fn append(&mut self, frame: &Frame) {
        self.frames_bytes += frame.payload.len();
        self.frames.push_back(frame.clone());
    }

    fn over_limits(&self) -> bool {
        self.frames.len() > self.config.max_frames || self.frames_bytes > self.config.max_bytes
    }

    fn drop_frames(&mut self) {
        self.frames.clear();
        self.frames_bytes = 0;
    }
}

#[cfg(test)]
mod tests;
