//! The slate: while no source delivers, every destination gets the slate's frames, paced in
//! real time on the relay's one timeline, until a source's keyframe ends it or its hold ends
//! the relay (see the runner's module docs for the rules, `crate::slate` for the clip).

use std::sync::Arc;
use std::time::Duration;

use baton_media::config::ConfigTracker;
use baton_media::{Frame, TagType};
use tokio::time::Instant;
use tracing::{info, warn};

use super::{BoxFuture, Runner, SOURCE_BURST, SrcState};
use crate::RelayConfig;
use crate::error::{ErrorKind, RelayError, Side};
use crate::slate::{Slate, SlateClip};

/// A slate playing.
pub(super) struct SlateRun {
    clip: Arc<Slate>,
    /// Which of its tracks go out (those the live stream has).
    video: bool,
    audio: bool,
    /// The next frame of the loop, and the pass it is in.
    next: usize,
    pass: i64,
    started: Instant,
    /// What a destination session opened while the slate plays starts with: the live
    /// stream's metadata, the slate's sequence headers for the tracks it plays (the live
    /// stream's for the others). On the output timeline.
    pub(super) headers: ConfigTracker,
}

impl SlateRun {
    /// When the next frame is due.
    fn next_due(&self) -> Instant {
        self.started + Duration::from_millis(self.input_dts().max(0) as u64)
    }

    /// The next frame's DTS on the slate's own timeline: each pass one loop later.
    fn input_dts(&self) -> i64 {
        self.pass * self.clip.loop_ms + self.clip.frames[self.next].dts
    }

    fn advance(&mut self) {
        self.next += 1;
        if self.next == self.clip.frames.len() {
            self.next = 0;
            self.pass += 1;
        }
    }
}

/// The load of a `SlateClip::Load` clip, if the config has one.
pub(super) fn load(config: &RelayConfig) -> Option<BoxFuture<Result<Slate, RelayError>>> {
    let Some(SlateClip::Load(url)) = config.slate.as_ref().map(|s| &s.clip) else {
        return None;
    };
    let (url, egress) = (url.clone(), config.egress.clone());
    Some(Box::pin(async move { Slate::load(&url, &egress).await }))
}

impl Runner {
    /// A task's own clip is loaded: it plays from the next start of the slate on; if it
    /// could not be, the built-in default does.
    pub(super) fn on_slate_loaded(&mut self, loaded: Result<Slate, RelayError>) {
        self.slate_load = None;
        let clip = match loaded {
            Ok(clip) => {
                info!(slate = %clip.name, resolution = ?clip.resolution(), loop_duration = ?clip.loop_duration(), "slate loaded");
                SlateClip::Clip(Arc::new(clip))
            }
            Err(e) => {
                warn!(error = %e, "the slate cannot be loaded; the built-in default plays instead");
                self.record_error(None, &e);
                SlateClip::Default
            }
        };
        if let Some(slate) = &mut self.config.slate {
            slate.clip = clip;
        }
    }

    /// When the slate starts if no source media comes before.
    pub(super) fn slate_start_due(&self) -> Option<Instant> {
        let config = self.config.slate.as_ref()?;
        if self.slate.is_some() || self.slate_declined || matches!(self.src, SrcState::Done) {
            return None;
        }
        // Only once media has flowed: before, no destination is open (nothing to keep).
        Some(self.last_media_at? + config.after)
    }

    /// When the playing slate's next frame is due, or its hold ends.
    pub(super) fn slate_deadlines(&self) -> [Option<Instant>; 2] {
        [
            self.slate.as_ref().map(|run| run.next_due()),
            self.slate_hold_end(),
        ]
    }

    fn slate_hold_end(&self) -> Option<Instant> {
        let hold = self.config.slate.as_ref()?.hold;
        self.slate.as_ref().map(|run| run.started + hold)
    }

    /// Starts the slate when due, sends its due frames, ends the relay when its hold is over.
    pub(super) fn on_slate_timer(&mut self, now: Instant) -> Result<(), RelayError> {
        if self.slate_hold_end().is_some_and(|end| now >= end) {
            let hold = self
                .config
                .slate
                .as_ref()
                .map(|s| s.hold)
                .unwrap_or_default();
            let why = match &self.last_source_error {
                Some(e) => {
                    format!("no source delivered within the slate's hold of {hold:?} (last: {e})")
                }
                None => format!("no source delivered within the slate's hold of {hold:?}"),
            };
            warn!(source = %self.source_name(), ?hold, "the slate's hold ended; closing the destinations");
            return Err(RelayError::new(Side::Source, ErrorKind::Timeout, why));
        }
        if self.slate_start_due().is_some_and(|due| now >= due) {
            self.start_slate(now);
        }
        if self.slate.is_some() {
            self.send_slate_frames(now);
        }
        Ok(())
    }

    fn start_slate(&mut self, now: Instant) {
        let Some(config) = self.config.slate.as_ref() else {
            return;
        };
        let clip = config.clip.pick(self.headers.video_config());
        let video = self.headers.video_config().is_some();
        let audio = self.headers.audio_config().is_some() && clip.has_audio();
        if !video && !audio {
            // An audio-only stream and a slate without audio: nothing to play.
            info!(slate = %clip.name, "the live stream has no video and the slate no audio: no slate");
            self.slate_declined = true;
            return;
        }
        if self.source_down_since.is_none() {
            let after = config.after;
            self.mark_source_down(RelayError::new(
                Side::Source,
                ErrorKind::Timeout,
                format!("no media from the source for {after:?}"),
            ));
        }
        self.slate_starts += 1;
        warn!(source = %self.source_name(), slate = %clip.name, loop_ms = clip.loop_ms, starts = self.slate_starts, "no source delivers; the slate plays");
        let gap = self.last_media_at.map_or(Duration::ZERO, |t| now - t);
        self.timeline.begin_segment(gap.as_millis() as i64);
        // The source's next media frame ends the slate and begins a segment of its own.
        self.new_segment = true;
        let mut headers = ConfigTracker::new();
        let slate_video = clip.video_config.as_ref().filter(|_| video);
        let slate_audio = clip.audio_config.as_ref().filter(|_| audio);
        let first = [
            self.headers.metadata(),
            slate_video.or(self.headers.video_config()),
            slate_audio.or(self.headers.audio_config()),
        ];
        let first: Vec<Frame> = first.into_iter().flatten().cloned().collect();
        for mut frame in first {
            self.timeline.map(&mut frame);
            headers.should_forward(&frame);
            // Each destination's own tracker lets through only what its session lacks.
            self.fan_out(frame);
        }
        self.slate_pending.reset();
        self.slate = Some(Box::new(SlateRun {
            clip,
            video,
            audio,
            next: 0,
            pass: 0,
            started: now,
            headers,
        }));
        self.publish_status(now);
    }

    /// Sends the slate's frames that are due (at most a burst's worth per wake-up).
    fn send_slate_frames(&mut self, now: Instant) {
        for _ in 0..SOURCE_BURST {
            let Some(run) = self.slate.as_mut() else {
                return;
            };
            if run.next_due() > now {
                break;
            }
            let mut frame = run.clip.frames[run.next].clone();
            frame.dts = run.input_dts();
            let wanted = match frame.kind {
                TagType::Video => run.video,
                TagType::Audio => run.audio,
                TagType::Script => false,
            };
            run.advance();
            if wanted {
                self.timeline.map(&mut frame);
                self.last_media_at = Some(now);
                self.fan_out(frame);
            }
        }
        self.refresh_state();
    }

    /// While the slate plays: whether the source's `frame` ends it (and then goes on to the
    /// destinations as usual). The source's headers are kept for that moment; its media
    /// before a video keyframe (any media frame of a stream without video) is not sent.
    pub(super) fn slate_yields(&mut self, frame: &Frame, media: bool, now: Instant) -> bool {
        if frame.config || frame.is_metadata() {
            self.slate_pending.should_forward(frame);
            return false;
        }
        if !media || self.skip_replayed(frame, now) {
            return false;
        }
        let has_video =
            self.headers.video_config().is_some() || self.slate_pending.video_config().is_some();
        if !(frame.keyframe || (frame.kind == TagType::Audio && !has_video)) {
            return false;
        }
        self.end_slate(now);
        true
    }

    /// A source is back at a keyframe: a new segment begins right after the slate's last
    /// frame, the live stream's headers first (its latest, or the ones it had).
    fn end_slate(&mut self, now: Instant) {
        let Some(run) = self.slate.take() else {
            return;
        };
        info!(source = %self.source_name(), played = ?(now - run.started), "a source is back; the slate ends");
        let gap = self.last_media_at.map_or(Duration::ZERO, |t| now - t);
        self.timeline.begin_segment(gap.as_millis() as i64);
        self.new_segment = false;
        let pending = std::mem::take(&mut self.slate_pending);
        let live = [
            pending.metadata().or(self.headers.metadata()),
            pending.video_config().or(self.headers.video_config()),
            pending.audio_config().or(self.headers.audio_config()),
        ];
        let live: Vec<Frame> = live.into_iter().flatten().cloned().collect();
        for mut frame in live {
            self.timeline.map(&mut frame);
            self.headers.should_forward(&frame);
            self.fan_out(frame);
        }
        self.publish_status(now);
    }
}
