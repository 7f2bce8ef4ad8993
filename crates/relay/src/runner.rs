//! The relay loop: one tokio task per relay, owning both connections.
//!
//! ```text
//!   source ──frames──▶ Timeline::map ──▶ out queue (DropToKeyframe) ──▶ destination session
//!                                    └─▶ buffer (GOP cache) while the destination is away
//! ```
//! * The destination session lives as long as the relay: a source drop starts a grace period
//!   during which the source is reconnected with backoff and the destination is kept; media
//!   resumes on the same session with the timeline rebased (`Timeline::begin_segment`).
//! * A destination drop is reconnected with backoff while the source keeps flowing into the
//!   buffer; the new session starts with metadata, sequence headers and the latest GOP.
//! * The relay is `Connecting` until media reaches the destination, then `Forwarding`: a
//!   destination that accepted the publish but got no audio/video yet (no keyframe, or the
//!   source never sent any) is not forwarding.
//! * A side that stays down for the grace period fails the relay with that side's last error;
//!   a refusal (`retryable == false`) fails it at once. Either way the destination is closed
//!   cleanly (RTMP: FCUnpublish, deleteStream; SRT: the muxer's last packets, a latency's
//!   linger, shutdown).
//! * The destination is a [`Destination`]: RTMP(S) or SRT (frames remuxed to MPEG-TS), driven
//!   through the same calls; its `queued_bytes` is what `OUT_HIGH_WATER` bounds.

use std::future::{Future, pending};
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use baton_flv::{parse_audio_tag_header, parse_video_tag_header};
use baton_media::config::ConfigTracker;
use baton_media::gop::GopCache;
use baton_media::queue::SubscriberQueue;
use baton_media::timeline::Timeline;
use baton_media::{Frame, TagType};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::RelayConfig;
use crate::backoff::Backoff;
use crate::destination::{Destination, DestinationUrl, Sent};
use crate::error::{ErrorKind, RelayError, Side};
use crate::resume::{RESUME_CLOCK_SLACK_MS, RESUME_MAX_GAP_MS, RecentFrames, is_media};
use crate::source::{Source, SourceEvent, SourceUrl};
use crate::status::{ErrorRecord, RelayState, StatusCell};

/// Encoded-but-unwritten destination bytes beyond which frames wait in the out queue (where
/// the drop-to-keyframe policy applies) instead of piling up in the session.
const OUT_HIGH_WATER: usize = 32 * 1024;
const TICK: Duration = Duration::from_secs(1);
/// Frames handled per wake-up at most, so one busy source cannot hog the loop.
const SOURCE_BURST: usize = 256;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

enum SrcState {
    Connecting(BoxFuture<Result<Source, RelayError>>),
    Waiting(Instant),
    Live(Source),
    /// The source finished (a playlist played to its end): nothing more comes.
    Done,
}

enum DstState {
    /// Not connected yet: the destination is opened when the first source frame arrives.
    Idle,
    Connecting(BoxFuture<Result<Destination, RelayError>>),
    Waiting(Instant),
    Live(Destination),
}

enum SrcWake {
    Connected(Result<Source, RelayError>),
    Event(Result<SourceEvent, RelayError>),
}

enum DstWake {
    Connected(Result<Destination, RelayError>),
    Failed(RelayError),
}

async fn src_wake(state: &mut SrcState) -> SrcWake {
    match state {
        SrcState::Connecting(f) => SrcWake::Connected(f.await),
        SrcState::Live(source) => SrcWake::Event(source.next().await),
        SrcState::Waiting(_) | SrcState::Done => pending().await,
    }
}

async fn dst_wake(state: &mut DstState) -> DstWake {
    match state {
        DstState::Connecting(f) => DstWake::Connected(f.await),
        DstState::Live(conn) => DstWake::Failed(conn.drive().await),
        DstState::Idle | DstState::Waiting(_) => pending().await,
    }
}

/// Counters kept on the hot path and published once per tick.
#[derive(Default)]
struct Counters {
    /// Bytes of connections already closed.
    bytes_in_done: u64,
    bytes_out_done: u64,
    frames_in: u64,
    frames_out: u64,
    video_frames_out: u64,
    /// Frames skipped while a new destination session waited for a keyframe (or, SRT, for
    /// the sequence header the TS muxer needs).
    skipped: u64,
    /// Frames an SRT destination's TS muxer could not read (dropped).
    unreadable: u64,
    /// Frames a reconnected source replayed that had already been relayed.
    deduplicated: u64,
    destination_sessions: u64,
    source_connections: u64,
}

pub(crate) struct Runner {
    config: RelayConfig,
    source_url: SourceUrl,
    dest_url: DestinationUrl,
    status: StatusCell,
    timeline: Timeline,
    /// Headers sent to the current destination session.
    configs: ConfigTracker,
    /// The latest headers seen from the source, for the next destination session.
    headers: ConfigTracker,
    buffer: GopCache,
    out: SubscriberQueue,
    src: SrcState,
    dst: DstState,
    src_backoff: Backoff,
    dst_backoff: Backoff,
    rng: StdRng,
    /// The next source media frame starts a new timeline segment.
    new_segment: bool,
    /// Frames forwarded from the current source connection.
    recent: RecentFrames,
    /// After a source reconnect: the previous connection's frames (to skip a replay of them)
    /// and how many were recognised so far.
    replay: Option<(RecentFrames, u64)>,
    /// Arrival of the last frame (any kind): stall detection.
    last_frame_at: Option<Instant>,
    /// Arrival of the last media frame relayed: the wall-clock gap of a new segment.
    last_media_at: Option<Instant>,
    src_live_since: Instant,
    source_down_since: Option<Instant>,
    dest_down_since: Option<Instant>,
    last_source_error: Option<RelayError>,
    last_dest_error: Option<RelayError>,
    /// Media has reached the destination at least once.
    ever_forwarded: bool,
    /// Audio/video was written to the current destination session since the source last came
    /// back (what `Forwarding` means).
    media_out: bool,
    /// When media first reached the destination, relative to `started`.
    first_forwarded: Option<Duration>,
    started: Instant,
    /// The destination session is new: media waits for a video keyframe (decoders can't
    /// start elsewhere), audio too so that both tracks start together.
    await_keyframe: bool,
    state: RelayState,
    counters: Counters,
    next_tick: Instant,
    last_tick: (Instant, u64, u64, u64),
}

impl Runner {
    pub(crate) fn new(
        config: RelayConfig,
        source_url: SourceUrl,
        dest_url: DestinationUrl,
        status: StatusCell,
    ) -> Runner {
        let now = Instant::now();
        let mut runner = Runner {
            timeline: Timeline::new(config.timeline.clone()),
            configs: ConfigTracker::new(),
            headers: ConfigTracker::new(),
            buffer: GopCache::new(config.buffer.clone()),
            out: SubscriberQueue::new(config.queue.clone()),
            src: SrcState::Waiting(now),
            dst: DstState::Idle,
            src_backoff: Backoff::new(config.source_backoff.clone()),
            dst_backoff: Backoff::new(config.destination_backoff.clone()),
            rng: match config.jitter_seed {
                Some(seed) => StdRng::seed_from_u64(seed),
                None => StdRng::from_rng(&mut rand::rng()),
            },
            new_segment: true,
            recent: RecentFrames::default(),
            replay: None,
            last_frame_at: None,
            last_media_at: None,
            src_live_since: now,
            source_down_since: Some(now),
            dest_down_since: None,
            last_source_error: None,
            last_dest_error: None,
            ever_forwarded: false,
            media_out: false,
            first_forwarded: None,
            started: now,
            await_keyframe: true,
            state: RelayState::Connecting,
            counters: Counters::default(),
            next_tick: now + TICK,
            last_tick: (now, 0, 0, 0),
            config,
            source_url,
            dest_url,
            status,
        };
        runner.start_source_connect();
        runner
    }

    /// Runs until cancelled (`Ok`) or failed for good (`Err`).
    pub(crate) async fn run(mut self, cancel: CancellationToken) -> Result<(), RelayError> {
        loop {
            let deadline = self.next_deadline();
            let step = tokio::select! {
                _ = cancel.cancelled() => return self.finish(Ok(())).await,
                wake = src_wake(&mut self.src) => self.on_source_burst(wake),
                wake = dst_wake(&mut self.dst) => self.on_destination(wake),
                _ = sleep_until(deadline) => self.on_timer(),
            };
            if let Err(e) = step.and_then(|()| self.pump()) {
                return self.finish(Err(e)).await;
            }
            if matches!(self.src, SrcState::Done)
                && self.out.is_empty()
                && matches!(self.dst, DstState::Live(_))
            {
                info!(source = %self.config.source, "source finished; closing the destination");
                return self.finish(Ok(())).await;
            }
        }
    }

    /// Handles `wake` and then whatever else the same read brought in, so a burst of frames
    /// costs one pass of the loop (and one write to the destination), not one per frame.
    fn on_source_burst(&mut self, wake: SrcWake) -> Result<(), RelayError> {
        self.on_source(wake)?;
        for _ in 0..SOURCE_BURST {
            let SrcState::Live(source) = &mut self.src else {
                break;
            };
            let Some(event) = source.try_next() else {
                break;
            };
            self.on_source(SrcWake::Event(event))?;
        }
        Ok(())
    }

    fn on_source(&mut self, wake: SrcWake) -> Result<(), RelayError> {
        match wake {
            SrcWake::Connected(Ok(source)) => {
                let transport = source.transport();
                info!(source = %self.config.source, transport = %transport, "source connected");
                self.status.update(|s| s.source_transport = Some(transport));
                self.src = SrcState::Live(source);
                self.src_live_since = Instant::now();
                self.counters.source_connections += 1;
                self.new_segment = true;
                let previous = std::mem::take(&mut self.recent);
                self.replay = (!previous.is_empty()).then_some((previous, 0));
                Ok(())
            }
            SrcWake::Connected(Err(e)) | SrcWake::Event(Err(e)) => self.source_failed(e),
            SrcWake::Event(Ok(SourceEvent::Frame(frame))) => {
                self.on_frame(frame);
                Ok(())
            }
            SrcWake::Event(Ok(SourceEvent::Finished)) => {
                if let SrcState::Live(source) = &self.src {
                    self.counters.bytes_in_done += source.bytes_in();
                }
                self.src = SrcState::Done;
                Ok(())
            }
            SrcWake::Event(Ok(SourceEvent::Ended)) => {
                // The connection stays up: the server may resume the stream on it (an RTMP
                // publisher, an HLS playlist continued after EXT-X-ENDLIST), but any later
                // publisher's frames are new.
                self.recent.clear();
                self.replay = None;
                let what = match &self.src {
                    SrcState::Live(Source::Hls(_)) => "the HLS playlist ended (EXT-X-ENDLIST)",
                    _ => "the source stream was unpublished",
                };
                self.mark_source_down(RelayError::new(Side::Source, ErrorKind::Ended, what));
                Ok(())
            }
        }
    }

    fn on_frame(&mut self, mut frame: Frame) {
        let now = Instant::now();
        if self.source_down_since.take().is_some() {
            self.src_backoff.reset();
            if self.ever_forwarded {
                info!(source = %self.config.source, "source recovered");
            }
        }
        self.counters.frames_in += 1;
        let media = is_media(&frame);
        if media && self.skip_replayed(&frame, now) {
            self.last_frame_at = Some(now);
            return;
        }
        // Segments begin at media frames (headers keep the current offset), except the very
        // first, which begins with whatever frame comes first.
        if self.new_segment && (media || self.last_frame_at.is_none()) {
            let gap = self.last_media_at.map_or(Duration::ZERO, |t| now - t);
            self.timeline.begin_segment(gap.as_millis() as i64);
            self.new_segment = false;
        }
        self.last_frame_at = Some(now);
        if media {
            self.last_media_at = Some(now);
            self.recent.record(&frame);
        }
        self.timeline.map(&mut frame);
        if frame.config || frame.is_metadata() {
            self.headers.should_forward(&frame);
        }
        match self.dst {
            DstState::Live(_) => {
                self.out.push(frame);
            }
            DstState::Idle => {
                self.buffer.push(&frame);
                self.start_dest_connect();
            }
            DstState::Connecting(_) | DstState::Waiting(_) => self.buffer.push(&frame),
        }
        self.refresh_state();
    }

    /// After a source reconnect: whether `frame` (input timestamps) repeats one already
    /// relayed. At the first frame that does not, decides whether the new connection continues
    /// the same stream — it replayed frames we had and picks up right after them, or its
    /// timestamps advanced as much as the wall clock did since our last frame — and then keeps
    /// the timeline offset, or else starts a new segment.
    fn skip_replayed(&mut self, frame: &Frame, now: Instant) -> bool {
        let Some((previous, matched)) = &mut self.replay else {
            return false;
        };
        // A GOP-cache replay starts at the last keyframe relayed and repeats what followed
        // it; a new stream that merely looks the same (a publisher restarting the same file)
        // starts elsewhere and is never skipped.
        let replaying = if *matched == 0 {
            previous.is_last_keyframe(frame)
        } else {
            previous.contains(frame)
        };
        if replaying {
            *matched += 1;
            self.counters.deduplicated += 1;
            return true;
        }
        let wall_ms = self
            .last_media_at
            .map_or(0, |t| (now - t).as_millis() as i64);
        let continues = previous.last_dts().is_some_and(|last| {
            let advance = frame.dts - last;
            advance > 0
                && ((*matched > 0 && advance <= RESUME_MAX_GAP_MS)
                    || (advance - wall_ms).abs() <= RESUME_CLOCK_SLACK_MS)
        });
        if continues {
            info!(source = %self.config.source, skipped = *matched, "source resumed the same stream; timeline continues");
            self.new_segment = false;
        }
        self.replay = None;
        false
    }

    fn source_failed(&mut self, e: RelayError) -> Result<(), RelayError> {
        if let SrcState::Live(source) = &self.src {
            self.counters.bytes_in_done += source.bytes_in();
        }
        if e.kind == ErrorKind::Ended {
            // The stream ended (an HTTP-FLV response closing with its publisher): whatever
            // comes next is a new stream, not a replay.
            self.recent.clear();
        }
        if !e.retryable {
            return Err(e);
        }
        self.mark_source_down(e);
        let delay = self.src_backoff.next_delay(&mut self.rng);
        self.src = SrcState::Waiting(Instant::now() + delay);
        Ok(())
    }

    fn mark_source_down(&mut self, e: RelayError) {
        if self.source_down_since.is_none() {
            self.source_down_since = Some(Instant::now());
            warn!(source = %self.config.source, error = %e, grace = ?self.config.grace, "source lost; holding the destination");
        }
        self.new_segment = true;
        self.media_out = false;
        self.record_error(&e);
        self.last_source_error = Some(e);
        self.refresh_state();
    }

    fn on_destination(&mut self, wake: DstWake) -> Result<(), RelayError> {
        match wake {
            DstWake::Connected(Ok(conn)) => {
                let transport = conn.transport();
                info!(destination = %self.config.destination, transport = %transport, "destination publishing");
                self.status.update(|s| {
                    s.destination_transport = Some(transport);
                    // A new session's counters start at zero; the last one's go.
                    s.destination_srt = None;
                });
                self.dst = DstState::Live(conn);
                self.counters.destination_sessions += 1;
                self.dest_down_since = None;
                self.dst_backoff.reset();
                self.configs.reset();
                self.await_keyframe = true;
                self.media_out = false;
                // A new session needs the headers first: the latest ones from the source
                // (the buffer's own copies are then skipped as repeats), then the latest GOP.
                let headers = [
                    self.headers.metadata(),
                    self.headers.video_config(),
                    self.headers.audio_config(),
                ];
                for frame in headers.into_iter().flatten().chain(self.buffer.replay()) {
                    self.out.push(frame.clone());
                }
                self.buffer.clear();
                self.refresh_state();
                Ok(())
            }
            DstWake::Connected(Err(e)) | DstWake::Failed(e) => self.dest_failed(e),
        }
    }

    fn dest_failed(&mut self, e: RelayError) -> Result<(), RelayError> {
        if let DstState::Live(conn) = &mut self.dst {
            self.counters.bytes_out_done += conn.bytes_out();
            let srt = conn.srt_stats();
            if srt.is_some() {
                self.status.update(|s| s.destination_srt = srt);
            }
        }
        if !e.retryable {
            return Err(e);
        }
        if self.dest_down_since.is_none() {
            self.dest_down_since = Some(Instant::now());
            warn!(destination = %self.config.destination, error = %e, "destination lost; reconnecting");
        }
        // What the old session did not get is kept GOP-wise for the next one.
        while let Some(frame) = self.out.pop() {
            self.buffer.push(&frame);
        }
        self.record_error(&e);
        self.last_dest_error = Some(e);
        let delay = self.dst_backoff.next_delay(&mut self.rng);
        self.dst = DstState::Waiting(Instant::now() + delay);
        self.refresh_state();
        Ok(())
    }

    fn on_timer(&mut self) -> Result<(), RelayError> {
        let now = Instant::now();
        if matches!(self.src, SrcState::Waiting(t) if now >= t) {
            self.start_source_connect();
        }
        if matches!(self.dst, DstState::Waiting(t) if now >= t) {
            self.start_dest_connect();
        }
        if self
            .source_down_since
            .is_some_and(|since| now >= since + self.config.grace)
        {
            return Err(self.last_source_error.clone().unwrap_or_else(|| {
                RelayError::new(
                    Side::Source,
                    ErrorKind::Timeout,
                    format!("no media from the source within {:?}", self.config.grace),
                )
            }));
        }
        if self
            .dest_down_since
            .is_some_and(|since| now >= since + self.config.grace)
        {
            return Err(self.last_dest_error.clone().unwrap_or_else(|| {
                RelayError::new(Side::Destination, ErrorKind::Timeout, "destination lost")
            }));
        }
        if self.stall_deadline().is_some_and(|stall| now >= stall) {
            let e = RelayError::new(
                Side::Source,
                ErrorKind::Timeout,
                format!(
                    "no media from the source for {:?}",
                    self.config.source_stall_timeout
                ),
            );
            self.source_failed(e)?;
        }
        if now >= self.next_tick {
            self.publish_status(now);
            self.next_tick = now + TICK;
        }
        Ok(())
    }

    /// Moves frames from the out queue into the destination session while it keeps up.
    fn pump(&mut self) -> Result<(), RelayError> {
        let DstState::Live(conn) = &mut self.dst else {
            return Ok(());
        };
        let mut failure = None;
        let mut began = false;
        while conn.queued_bytes() < OUT_HIGH_WATER {
            let Some(frame) = self.out.pop() else { break };
            if !self.configs.should_forward(&frame) {
                continue;
            }
            if self.await_keyframe && !frame.config && frame.kind != TagType::Script {
                let has_video = self.headers.video_config().is_some();
                if frame.keyframe {
                    self.await_keyframe = false;
                } else if frame.kind == TagType::Video || has_video {
                    self.counters.skipped += 1;
                    continue;
                }
            }
            match conn.send(&frame) {
                Ok(Sent::Queued) => {}
                Ok(Sent::Skipped) => {
                    self.counters.skipped += 1;
                    continue;
                }
                Ok(Sent::Dropped) => {
                    self.counters.unreadable += 1;
                    continue;
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            self.counters.frames_out += 1;
            if frame.kind == TagType::Video && !frame.config {
                self.counters.video_frames_out += 1;
            }
            if !self.media_out && is_media(&frame) {
                self.media_out = true;
                began = true;
            }
        }
        match failure {
            Some(e) => self.dest_failed(e),
            None => {
                if began {
                    self.refresh_state();
                }
                Ok(())
            }
        }
    }

    fn start_source_connect(&mut self) {
        let url = self.source_url.clone();
        let options = self.config.client.clone();
        let egress = self.config.egress.clone();
        let timeline = self.config.timeline.clone();
        self.src = SrcState::Connecting(Box::pin(async move {
            Source::connect(&url, &options, &egress, &timeline).await
        }));
    }

    fn start_dest_connect(&mut self) {
        let url = self.dest_url.clone();
        let mut options = self.config.client.clone();
        if options.fourcc_list.is_empty() {
            // Enhanced RTMP codecs (HEVC, AV1, VP9, Opus by FourCC) are announced in
            // `connect`, as OBS does, so destinations that check know what is coming.
            options.fourcc_list = enhanced_fourccs(&self.headers);
        }
        let egress = self.config.egress.clone();
        self.dst = DstState::Connecting(Box::pin(async move {
            Destination::connect(&url, &options, &egress).await
        }));
    }

    fn stall_deadline(&self) -> Option<Instant> {
        match &self.src {
            SrcState::Live(source) => {
                let last = self
                    .last_frame_at
                    .map_or(self.src_live_since, |t| t.max(self.src_live_since));
                Some(last + source.stall_timeout(self.config.source_stall_timeout))
            }
            _ => None,
        }
    }

    fn next_deadline(&self) -> Instant {
        let mut deadline = self.next_tick;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                deadline = deadline.min(t);
            }
        };
        consider(match self.src {
            SrcState::Waiting(t) => Some(t),
            _ => None,
        });
        consider(match self.dst {
            DstState::Waiting(t) => Some(t),
            _ => None,
        });
        consider(self.source_down_since.map(|t| t + self.config.grace));
        consider(self.dest_down_since.map(|t| t + self.config.grace));
        consider(self.stall_deadline());
        deadline
    }

    fn current_state(&self) -> RelayState {
        if self.source_down_since.is_some() && self.ever_forwarded {
            RelayState::SourceReconnecting
        } else if self.dest_down_since.is_some() {
            RelayState::DestinationReconnecting
        } else if matches!(self.dst, DstState::Live(_))
            && self.source_down_since.is_none()
            && self.media_out
        {
            RelayState::Forwarding
        } else {
            // In between (a side is back, its media not through yet): as it was.
            self.state
        }
    }

    fn refresh_state(&mut self) {
        let state = self.current_state();
        if state == RelayState::Forwarding && !self.ever_forwarded {
            self.ever_forwarded = true;
            self.first_forwarded = Some(Instant::now() - self.started);
            info!(source = %self.config.source, destination = %self.config.destination, after = ?self.first_forwarded, "media reaches the destination");
        }
        if state != self.state {
            info!(source = %self.config.source, destination = %self.config.destination, from = self.state.as_str(), to = state.as_str(), "relay state");
            self.state = state;
            self.publish_status(Instant::now());
        }
    }

    fn record_error(&self, e: &RelayError) {
        let record = ErrorRecord {
            error: e.clone(),
            at: SystemTime::now(),
        };
        self.status.update(|s| s.last_error = Some(record));
    }

    fn bytes(&self) -> (u64, u64) {
        let live_in = match &self.src {
            SrcState::Live(s) => s.bytes_in(),
            _ => 0,
        };
        let live_out = match &self.dst {
            DstState::Live(c) => c.bytes_out(),
            _ => 0,
        };
        (
            self.counters.bytes_in_done + live_in,
            self.counters.bytes_out_done + live_out,
        )
    }

    fn publish_status(&mut self, now: Instant) {
        let (bytes_in, bytes_out) = self.bytes();
        let (then, prev_in, prev_out, prev_video) = self.last_tick;
        let secs = (now - then).as_secs_f64();
        let rate = |delta: u64| {
            if secs > 0.0 {
                (delta as f64 * 8.0 / secs) as u64
            } else {
                0
            }
        };
        let bitrate_in = rate(bytes_in.saturating_sub(prev_in));
        let bitrate_out = rate(bytes_out.saturating_sub(prev_out));
        let fps = if secs > 0.0 {
            (self.counters.video_frames_out - prev_video) as f64 / secs
        } else {
            0.0
        };
        if secs >= 0.5 {
            self.last_tick = (now, bytes_in, bytes_out, self.counters.video_frames_out);
        }
        let c = &self.counters;
        let dropped = self.out.dropped() + self.counters.skipped + self.counters.unreadable;
        let timeline = self.timeline.counters();
        let state = self.state;
        let first_forwarded = self.first_forwarded;
        let srt = match &mut self.src {
            SrcState::Live(source) => source.srt_stats(),
            _ => None,
        };
        let destination_srt = match &mut self.dst {
            DstState::Live(conn) => conn.srt_stats(),
            _ => None,
        };
        self.status.update(|s| {
            if srt.is_some() {
                s.srt = srt;
            }
            if destination_srt.is_some() {
                s.destination_srt = destination_srt;
            }
            s.state = state;
            s.first_forwarded = first_forwarded;
            s.bytes_in = bytes_in;
            s.bytes_out = bytes_out;
            if secs >= 0.5 {
                s.bitrate_in = bitrate_in;
                s.bitrate_out = bitrate_out;
                s.fps = fps;
            }
            s.frames_in = c.frames_in;
            s.frames_out = c.frames_out;
            s.frames_dropped = dropped;
            s.frames_deduplicated = c.deduplicated;
            s.destination_sessions = c.destination_sessions;
            s.source_connections = c.source_connections;
            s.timeline = timeline;
        });
    }

    /// Closes both sides (the destination cleanly) and records the final state.
    async fn finish(mut self, result: Result<(), RelayError>) -> Result<(), RelayError> {
        let finished = matches!(self.src, SrcState::Done);
        self.publish_status(Instant::now());
        if let DstState::Live(conn) = std::mem::replace(&mut self.dst, DstState::Idle) {
            self.counters.bytes_out_done += conn.bytes_out();
            if let Err(e) = conn.close(self.config.close_timeout).await {
                warn!(destination = %self.config.destination, error = %e, "destination did not close cleanly");
            }
        }
        if let SrcState::Live(Source::Rtmp { conn, .. }) =
            std::mem::replace(&mut self.src, SrcState::Waiting(Instant::now()))
        {
            let _ = (*conn).close(self.config.close_timeout).await;
        }
        self.state = match &result {
            Ok(()) if finished => RelayState::Finished,
            Ok(()) => RelayState::Stopped,
            Err(e) => {
                self.record_error(e);
                warn!(source = %self.config.source, destination = %self.config.destination, error = %e, retryable = e.retryable, "relay failed");
                RelayState::Failed
            }
        };
        self.publish_status(Instant::now());
        result
    }
}

/// The FourCCs of the source's Enhanced RTMP sequence headers, if any.
fn enhanced_fourccs(headers: &ConfigTracker) -> Vec<String> {
    let mut out = Vec::new();
    let video = headers
        .video_config()
        .and_then(|f| parse_video_tag_header(&f.payload).ok())
        .filter(|h| h.enhanced);
    let audio = headers
        .audio_config()
        .and_then(|f| parse_audio_tag_header(&f.payload).ok())
        .filter(|h| h.enhanced);
    let frames = [
        video.and(headers.video_config()),
        audio.and(headers.audio_config()),
    ];
    for frame in frames.into_iter().flatten() {
        if let Some(fourcc) = frame.payload.get(1..5) {
            out.push(String::from_utf8_lossy(fourcc).into_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn announces_enhanced_codecs_only() {
        let mut headers = ConfigTracker::new();
        assert!(enhanced_fourccs(&headers).is_empty());
        // Legacy AVC + AAC: nothing to announce.
        headers.should_forward(&Frame::new(
            TagType::Video,
            0,
            Bytes::from_static(&[0x17, 0, 0, 0, 0, 1]),
        ));
        headers.should_forward(&Frame::new(
            TagType::Audio,
            0,
            Bytes::from_static(&[0xaf, 0, 0x12, 0x10]),
        ));
        assert!(enhanced_fourccs(&headers).is_empty());
        // Enhanced HEVC (SequenceStart) + Opus.
        headers.should_forward(&Frame::new(
            TagType::Video,
            0,
            Bytes::from_static(b"\x90hvc1\x01"),
        ));
        headers.should_forward(&Frame::new(
            TagType::Audio,
            0,
            Bytes::from_static(b"\x90Opus\x01"),
        ));
        assert_eq!(enhanced_fourccs(&headers), vec!["hvc1", "Opus"]);
    }
}
