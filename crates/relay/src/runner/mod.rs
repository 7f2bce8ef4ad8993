//! The relay loop: one tokio task per relay, owning the source and every destination.
//!
//! ```text
//!                                      ┌─▶ out queue #0 (DropToKeyframe) ──▶ destination session #0
//!   source ──frames──▶ Timeline::map ──┼─▶ out queue #1 (DropToKeyframe) ──▶ destination session #1
//!                                      └─▶ …   (a destination away: its own buffer, the GOP cache)
//! ```
//! * One pull feeds N destinations (`RelayConfig::destination`, then
//!   `RelayConfig::extra_destinations`, then any added with `Relay::add_destination`). Each
//!   destination ([`dest::Dest`]) has its own bounded out queue with the drop-to-keyframe
//!   policy and its own counters, session, backoff, grace, `await_keyframe` and status. The
//!   loop never waits on a destination: a frame is a `Bytes` clone into each queue, and each
//!   queue is drained only while its session's unwritten bytes stay under
//!   [`OUT_HIGH_WATER`]. A slow or dead destination therefore only loses frames of its own
//!   (its queue drops to the next keyframe); the source and the other destinations keep
//!   flowing.
//! * A destination session lives as long as the relay: a source drop starts a grace period
//!   during which the source is reconnected with backoff and every destination is kept;
//!   media resumes on the same sessions with the timeline rebased (`Timeline::begin_segment`).
//! * A destination drop is reconnected with backoff while the source keeps flowing into that
//!   destination's buffer; the new session starts with metadata, sequence headers and the
//!   latest GOP. Destination sessions open when the first source frame arrives; an added one
//!   at once if the source is already flowing (it starts at the next keyframe).
//! * The relay is `Connecting` until media reaches a destination, then `Forwarding` while
//!   media reaches at least one (a destination that accepted the publish but got no
//!   audio/video yet — no keyframe, or the source never sent any — is not forwarding);
//!   `DestinationReconnecting` when none is forwarding and one is reconnecting;
//!   `SourceReconnecting` while the source is away. Each destination's own state is in
//!   `RelayStatus::destinations`.
//! * **Backup sources** (`RelayConfig::backup_sources`; the `sources` module). Source 0 is the
//!   primary, 1.. the backups in order; one is *active* at a time. The active source *fails*
//!   when it delivers no audio/video for `failover_after` (counted from when it was made
//!   active, or from its loss: a dropped connection, an unpublish, or a stall noticed after
//!   `source_stall_timeout`; reconnecting with backoff or connected but silent, it is still
//!   down) or when it is refused. The relay then drops it and connects the next source at
//!   once, wrapping around after the last (so a primary that is back is used again when the
//!   backups fail). **The relay fails when every source has failed in one pass**: `n`
//!   failovers in a row with no media from any source in between (its error is the last
//!   source's), or when no source delivered for the whole grace period, whichever comes
//!   first. Without backups the single-source rule below applies unchanged.
//!   *Failback* (`failback_every`, off by default): while a backup is active the primary is
//!   tried on a connection of its own every `failback_every`; once that connection has
//!   delivered media for `failback_healthy` with no gap longer than the stall timeout, the
//!   relay switches to it at its next video keyframe (its latest headers first). A switch
//!   is a source reconnect as far as the destinations know: the same sessions, the next
//!   media frame begins a new timeline segment (strictly increasing DTS), sequence headers
//!   go out again when they differ from what a session has (each destination's
//!   `ConfigTracker`), and a session that joins later starts at a keyframe. The active
//!   source, the switch count and each source's last error are in `RelayStatus`.
//! * **Slate** (`RelayConfig::slate`, the `slate` module; off by default). Once media has
//!   flowed, when no source media has come for `SlateConfig::after` (default 1 s, counted
//!   from the last source media frame; a silent source is marked down then), the slate
//!   starts: a new timeline segment begins after the last frame (gap = the wall-clock
//!   silence), the slate's sequence headers go out (each destination's `ConfigTracker`
//!   lets through only those its session lacks), then its frames are paced in real time —
//!   frame *i* of pass *p* is due `p × loop + dts(i)` after the start and mapped through the
//!   same `Timeline`, so DTS strictly increases across loops — into every destination's
//!   queue, exactly as source frames are (a slow destination drops to a keyframe, one that
//!   reconnects meanwhile starts with the slate's headers). Only the tracks the live stream
//!   has are played. The sources keep being reconnected (and failed over, round and round,
//!   with backups); their headers are kept and their media is not sent until a video
//!   keyframe (any media frame of a stream without video): that frame ends the slate, a new
//!   segment begins right after the slate's last frame, the live stream's headers go out
//!   again, then the keyframe. While the slate plays its `hold` (default 5 min) replaces the
//!   grace period: when it ends the relay fails with a source timeout and every session is
//!   closed cleanly. One session per destination throughout. `RelayStatus::slate_active` and
//!   `slate_starts` say what it does. Codec parameters that differ from the live stream's
//!   are sent as they are (copy mode): see `SlateConfig`.
//! * **Failure rule.** The source staying down for the grace period, or refused
//!   (`retryable == false`), fails the relay (with backups: see above). A destination staying down for the grace
//!   period, or refused, fails *that destination* for good (its status says `Failed` with its
//!   error, its session is closed cleanly, it is never retried) while the relay goes on as
//!   long as at least one other destination has not failed; when the last one fails the relay
//!   fails with that destination's error. With one destination this is the single-destination
//!   rule: the relay fails with it. On the way out every live destination is closed cleanly
//!   (RTMP: FCUnpublish, deleteStream; SRT: the muxer's last packets, a latency's linger,
//!   shutdown), all at once.
//! * A destination is added or removed through a bounded control channel (`Relay::add_destination`,
//!   `Relay::remove_destination`; the caller waits when it is full) read by the same loop; a
//!   removed destination's session is closed cleanly on a task of its own, so the others are
//!   not held up. The last destination that has not failed cannot be removed (stop the relay
//!   instead).
//! * The destination is a [`Destination`]: RTMP(S) or SRT (frames remuxed to MPEG-TS), driven
//!   through the same calls; its `queued_bytes` is what `OUT_HIGH_WATER` bounds.

mod control;
mod dest;
mod report;
mod slate;
mod sources;

use std::future::{Future, pending};
use std::pin::Pin;
use std::time::Duration;

use baton_flv::{parse_audio_tag_header, parse_video_tag_header};
use baton_media::Frame;
use baton_media::config::ConfigTracker;
use baton_media::timeline::Timeline;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::RelayConfig;
use crate::backoff::Backoff;
use crate::destination::{Destination, DestinationUrl};
use crate::error::{ErrorKind, RelayError, Side};
use crate::resume::{RESUME_CLOCK_SLACK_MS, RESUME_MAX_GAP_MS, RecentFrames, is_media};
use crate::source::{Source, SourceEvent, SourceUrl};
use crate::status::{DestinationId, ErrorRecord, RelayState, StatusCell};
use control::close_in_background;
use dest::{Dest, DstState};
use slate::SlateRun;
use sources::{Probe, probe_wake};

/// Encoded-but-unwritten destination bytes beyond which frames wait in the out queue (where
/// the drop-to-keyframe policy applies) instead of piling up in the session.
const OUT_HIGH_WATER: usize = 32 * 1024;
const TICK: Duration = Duration::from_secs(1);
/// Frames handled per wake-up at most, so one busy source cannot hog the loop.
const SOURCE_BURST: usize = 256;
/// Control commands waiting for the loop (full: the caller waits).
pub(crate) const CONTROL_QUEUE: usize = 16;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A change to a running relay's destinations (see `Relay::add_destination`).
pub(crate) enum Control {
    Add {
        name: String,
        url: DestinationUrl,
        reply: oneshot::Sender<DestinationId>,
    },
    Remove {
        id: DestinationId,
        reply: oneshot::Sender<Result<(), RelayError>>,
    },
}

enum SrcState {
    Connecting(BoxFuture<Result<Source, RelayError>>),
    Waiting(Instant),
    Live(Source),
    /// The source finished (a playlist played to its end): nothing more comes.
    Done,
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
        DstState::Idle | DstState::Waiting(_) | DstState::Failed => pending().await,
    }
}

/// The first destination that wakes, by index. One destination is awaited in place, exactly
/// as a single-destination relay always was; several are raced with `select_all`, which
/// boxes one future per destination per wake-up of the loop (a wake handles a whole burst of
/// source frames, not one frame).
async fn dests_wake(dests: &mut [Dest]) -> (usize, DstWake) {
    match dests {
        [] => pending().await,
        [only] => (0, dst_wake(&mut only.state).await),
        many => {
            let wakes = many
                .iter_mut()
                .enumerate()
                .map(|(i, d)| Box::pin(async move { (i, dst_wake(&mut d.state).await) }));
            futures_util::future::select_all(wakes).await.0
        }
    }
}

async fn slate_loaded(
    load: &mut Option<BoxFuture<Result<crate::slate::Slate, RelayError>>>,
) -> Result<crate::slate::Slate, RelayError> {
    match load {
        Some(f) => f.await,
        None => pending().await,
    }
}

async fn control_wake(control: &mut Option<mpsc::Receiver<Control>>) -> Option<Control> {
    match control {
        Some(rx) => rx.recv().await,
        None => pending().await,
    }
}

/// Counters kept on the hot path and published once per tick.
#[derive(Default)]
struct Counters {
    /// Bytes of connections already closed.
    bytes_in_done: u64,
    frames_in: u64,
    /// Frames a reconnected source replayed that had already been relayed.
    deduplicated: u64,
    source_connections: u64,
}

/// What removed destinations did, so the relay-wide totals never go down.
#[derive(Default)]
struct Removed {
    bytes_out: u64,
    frames_out: u64,
    frames_dropped: u64,
    sessions: u64,
}

pub(crate) struct Runner {
    config: RelayConfig,
    /// The primary source, then the backups (`RelayConfig::backup_sources`).
    sources: Vec<SourceUrl>,
    /// Their URLs for logs and the status (passwords masked).
    source_names: Vec<String>,
    /// The source in use or being connected (an index into `sources`).
    active: usize,
    /// Failovers and failbacks so far.
    switches: u64,
    /// Each source's last error, for the status.
    source_errors: Vec<Option<ErrorRecord>>,
    /// Since when the active source has delivered no media (with backups: the failover
    /// clock); `None` while it delivers.
    active_down_since: Option<Instant>,
    /// Sources that failed over since media last flowed (the relay fails when every one has).
    failed_in_pass: usize,
    /// The active source's error since it was made active or last delivered media.
    active_error: Option<RelayError>,
    /// The primary's own connection while a backup is active (failback).
    probe: Probe,
    /// The slate, while it plays (`RelayConfig::slate`).
    slate: Option<Box<SlateRun>>,
    /// Times the slate started.
    slate_starts: u64,
    /// The slate has nothing to play for this stream (audio-only, a slate without audio):
    /// not tried again.
    slate_declined: bool,
    /// The source's headers that came while the slate played, sent when it ends.
    slate_pending: ConfigTracker,
    /// The slate's clip being loaded (`SlateClip::Load`).
    slate_load: Option<BoxFuture<Result<crate::slate::Slate, RelayError>>>,
    status: StatusCell,
    timeline: Timeline,
    /// The latest headers seen from the source, for each new destination session.
    headers: ConfigTracker,
    src: SrcState,
    dests: Vec<Dest>,
    /// The id the next added destination gets.
    next_id: u32,
    /// `None` once every `Relay` handle is gone (nothing can be added any more).
    control: Option<mpsc::Receiver<Control>>,
    src_backoff: Backoff,
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
    last_source_error: Option<RelayError>,
    /// Media has reached a destination at least once.
    ever_forwarded: bool,
    /// When media first reached a destination, relative to `started`.
    first_forwarded: Option<Duration>,
    started: Instant,
    state: RelayState,
    counters: Counters,
    removed: Removed,
    next_tick: Instant,
    /// The last tick's time and bytes in.
    last_tick: (Instant, u64),
}

impl Runner {
    /// `dests`: the destinations in id order (`RelayConfig::destination` first), their
    /// configured names and parsed URLs.
    pub(crate) fn new(
        config: RelayConfig,
        sources: Vec<SourceUrl>,
        dests: Vec<(String, DestinationUrl)>,
        control: mpsc::Receiver<Control>,
        status: StatusCell,
    ) -> Runner {
        let now = Instant::now();
        let dests: Vec<Dest> = dests
            .into_iter()
            .enumerate()
            .map(|(i, (name, url))| Dest::new(DestinationId(i as u32), name, url, &config))
            .collect();
        let mut runner = Runner {
            timeline: Timeline::new(config.timeline.clone()),
            headers: ConfigTracker::new(),
            src: SrcState::Waiting(now),
            next_id: dests.len() as u32,
            dests,
            control: Some(control),
            src_backoff: Backoff::new(config.source_backoff.clone()),
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
            last_source_error: None,
            ever_forwarded: false,
            first_forwarded: None,
            started: now,
            state: RelayState::Connecting,
            counters: Counters::default(),
            removed: Removed::default(),
            next_tick: now + TICK,
            last_tick: (now, 0),
            source_names: std::iter::once(&config.source)
                .chain(&config.backup_sources)
                .cloned()
                .collect(),
            source_errors: vec![None; sources.len()],
            sources,
            active: 0,
            switches: 0,
            active_down_since: Some(now),
            failed_in_pass: 0,
            active_error: None,
            probe: Probe::Off,
            slate: None,
            slate_starts: 0,
            slate_declined: false,
            slate_pending: ConfigTracker::new(),
            slate_load: slate::load(&config),
            config,
            status,
        };
        let destinations = runner.dests.iter().map(Dest::status).collect();
        let sources = runner.source_statuses();
        runner.status.update(|s| {
            s.destinations = destinations;
            s.sources = sources;
        });
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
                wake = probe_wake(&mut self.probe) => self.on_probe_burst(wake),
                loaded = slate_loaded(&mut self.slate_load) => {
                    self.on_slate_loaded(loaded);
                    Ok(())
                }
                (i, wake) = dests_wake(&mut self.dests) => self.on_destination(i, wake),
                command = control_wake(&mut self.control) => {
                    self.on_control(command);
                    Ok(())
                }
                _ = sleep_until(deadline) => self.on_timer(),
            };
            if let Err(e) = step.and_then(|()| self.pump()) {
                return self.finish(Err(e)).await;
            }
            if matches!(self.src, SrcState::Done) && self.drained() {
                info!(source = %self.source_name(), "source finished; closing the destinations");
                return self.finish(Ok(())).await;
            }
        }
    }

    /// After the source finished: every destination that has not failed is live and has
    /// everything written to its session.
    fn drained(&self) -> bool {
        let mut any = false;
        for d in &self.dests {
            match d.state {
                DstState::Failed => {}
                DstState::Live(_) if d.out.is_empty() => any = true,
                _ => return false,
            }
        }
        any
    }

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
                info!(source = %self.source_name(), transport = %transport, "source connected");
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
        self.counters.frames_in += 1;
        let media = is_media(&frame);
        if media {
            self.active_down_since = None;
            self.active_error = None;
            self.failed_in_pass = 0;
        }
        if self.slate.is_some() {
            self.last_frame_at = Some(now);
            if !self.slate_yields(&frame, media, now) {
                return;
            }
        }
        if self.source_down_since.take().is_some() {
            self.src_backoff.reset();
            if self.ever_forwarded {
                info!(source = %self.source_name(), "source recovered");
            }
        }
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
        self.fan_out(frame);
        self.refresh_state();
    }

    /// Gives a frame on the relay's timeline to every destination (connecting those not
    /// opened yet).
    fn fan_out(&mut self, frame: Frame) {
        // A `Bytes` clone for each destination but the last, which takes the frame.
        let mut idle = false;
        if let Some((last, rest)) = self.dests.split_last_mut() {
            for d in rest {
                idle |= d.accept(frame.clone());
            }
            idle |= last.accept(frame);
        }
        if idle {
            for i in 0..self.dests.len() {
                if matches!(self.dests[i].state, DstState::Idle) {
                    self.start_dest_connect(i);
                }
            }
        }
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
            info!(source = %self.source_names[self.active], skipped = *matched, "source resumed the same stream; timeline continues");
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
            if self.sources.len() > 1 {
                // Refused: with backups, that source fails over at once.
                self.mark_source_down(e.clone());
                return self.fail_over(e);
            }
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
            warn!(source = %self.source_name(), error = %e, grace = ?self.config.grace, "source lost; holding the destination");
        }
        if self.active_down_since.is_none() {
            self.active_down_since = Some(Instant::now());
        }
        self.active_error = Some(e.clone());
        self.source_errors[self.active] = Some(ErrorRecord {
            error: e.clone(),
            at: std::time::SystemTime::now(),
        });
        self.new_segment = true;
        for d in &mut self.dests {
            d.media_out = false;
        }
        self.record_error(None, &e);
        self.last_source_error = Some(e);
        self.refresh_state();
    }

    fn on_destination(&mut self, i: usize, wake: DstWake) -> Result<(), RelayError> {
        match wake {
            DstWake::Connected(Ok(conn)) => {
                let d = &mut self.dests[i];
                info!(destination = %d.name, id = %d.id, transport = %conn.transport(), "destination publishing");
                // While the slate plays, a new session starts with its headers.
                let headers = self
                    .slate
                    .as_ref()
                    .map_or(&self.headers, |run| &run.headers);
                d.connected(conn, headers);
                self.publish_status(Instant::now());
                self.refresh_state();
                Ok(())
            }
            DstWake::Connected(Err(e)) | DstWake::Failed(e) => self.dest_failed(i, e),
        }
    }

    fn dest_failed(&mut self, i: usize, e: RelayError) -> Result<(), RelayError> {
        if !e.retryable {
            return self.dest_failed_for_good(i, e);
        }
        let d = &mut self.dests[i];
        // The broken session is dropped; its bytes and SRT statistics are kept.
        drop(d.take_session());
        let lost = d.down_since.is_none();
        if lost {
            d.down_since = Some(Instant::now());
            warn!(destination = %d.name, id = %d.id, error = %e, "destination lost; reconnecting");
        }
        d.requeue_for_next_session();
        self.record_error(Some(i), &e);
        let d = &mut self.dests[i];
        d.last_error = Some(e);
        let delay = d.backoff.next_delay(&mut self.rng);
        d.state = DstState::Waiting(Instant::now() + delay);
        self.refresh_state();
        if lost {
            // Its own state changed (the relay's may not have).
            self.publish_status(Instant::now());
        }
        Ok(())
    }

    /// Destination `i` is refused or was down for the whole grace period: the relay fails
    /// with `e` if no other destination is left, else only `i` does (see the module docs).
    fn dest_failed_for_good(&mut self, i: usize, e: RelayError) -> Result<(), RelayError> {
        let others_left = self
            .dests
            .iter()
            .enumerate()
            .any(|(j, d)| j != i && !d.is_failed());
        if !others_left {
            // `finish` closes its session (if any) with the others'.
            return Err(e);
        }
        self.record_error(Some(i), &e);
        let d = &mut self.dests[i];
        warn!(destination = %d.name, id = %d.id, error = %e, retryable = e.retryable, "destination failed; the relay goes on with the others");
        if let Some(conn) = d.take_session() {
            close_in_background(conn, d.name.clone(), self.config.close_timeout);
        }
        d.last_error = Some(e);
        d.fail();
        self.refresh_state();
        self.publish_status(Instant::now());
        Ok(())
    }

    fn on_timer(&mut self) -> Result<(), RelayError> {
        let now = Instant::now();
        if matches!(self.src, SrcState::Waiting(t) if now >= t) {
            self.start_source_connect();
        }
        for i in 0..self.dests.len() {
            if matches!(self.dests[i].state, DstState::Waiting(t) if now >= t) {
                self.start_dest_connect(i);
            }
        }
        self.on_probe_timer(now);
        if let Some(due) = self.failover_due()
            && now >= due
        {
            let e = self.active_error.clone().unwrap_or_else(|| {
                RelayError::new(
                    Side::Source,
                    ErrorKind::Timeout,
                    format!(
                        "no media from the source within {:?}",
                        self.config.failover_after
                    ),
                )
            });
            self.fail_over(e)?;
        }
        self.on_slate_timer(now)?;
        if self.slate.is_none()
            && self
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
        for i in 0..self.dests.len() {
            let d = &self.dests[i];
            if d.down_since
                .is_some_and(|since| now >= since + self.config.grace)
            {
                let e = d.last_error.clone().unwrap_or_else(|| {
                    RelayError::new(Side::Destination, ErrorKind::Timeout, "destination lost")
                });
                self.dest_failed_for_good(i, e)?;
            }
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

    /// Moves frames from each out queue into its session while that session keeps up.
    fn pump(&mut self) -> Result<(), RelayError> {
        let has_video = self.headers.video_config().is_some();
        let (mut began, mut first_media) = (false, false);
        for i in 0..self.dests.len() {
            let pumped = self.dests[i].pump(has_video);
            began |= pumped.began;
            first_media |= pumped.first_media;
            if let Some(e) = pumped.failure {
                self.dest_failed(i, e)?;
            }
        }
        if began {
            self.refresh_state();
        }
        if first_media && self.dests.len() > 1 {
            // A destination's own state became `Forwarding` (with one destination the
            // relay's did too, and `refresh_state` published it).
            self.publish_status(Instant::now());
        }
        Ok(())
    }

    fn start_source_connect(&mut self) {
        let url = self.sources[self.active].clone();
        let options = self.config.client.clone();
        let egress = self.config.egress.clone();
        let timeline = self.config.timeline.clone();
        self.src = SrcState::Connecting(Box::pin(async move {
            Source::connect(&url, &options, &egress, &timeline).await
        }));
    }

    fn start_dest_connect(&mut self, i: usize) {
        let d = &mut self.dests[i];
        let url = d.url.clone();
        let mut options = self.config.client.clone();
        if options.fourcc_list.is_empty() {
            // Enhanced RTMP codecs (HEVC, AV1, VP9, Opus by FourCC) are announced in
            // `connect`, as OBS does, so destinations that check know what is coming.
            options.fourcc_list = enhanced_fourccs(&self.headers);
        }
        let egress = self.config.egress.clone();
        d.state = DstState::Connecting(Box::pin(async move {
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
        for d in &self.dests {
            consider(match d.state {
                DstState::Waiting(t) => Some(t),
                _ => None,
            });
            consider(d.down_since.map(|t| t + self.config.grace));
        }
        if self.slate.is_none() {
            // While the slate plays, its hold replaces the grace period.
            consider(self.source_down_since.map(|t| t + self.config.grace));
        }
        consider(self.slate_start_due());
        for t in self.slate_deadlines() {
            consider(t);
        }
        consider(self.failover_due());
        consider(self.probe.deadline(self.config.source_stall_timeout));
        consider(self.stall_deadline());
        deadline
    }

    fn current_state(&self) -> RelayState {
        let forwarding = || {
            self.dests
                .iter()
                .any(|d| matches!(d.state, DstState::Live(_)) && d.media_out)
        };
        if self.source_down_since.is_some() && self.ever_forwarded {
            RelayState::SourceReconnecting
        } else if self.source_down_since.is_none() && forwarding() {
            RelayState::Forwarding
        } else if self.dests.iter().any(|d| d.down_since.is_some()) {
            RelayState::DestinationReconnecting
        } else if self.state == RelayState::Forwarding {
            // Media reaches no destination any more (the one that had it failed for good,
            // the others are still connecting). Never the case with one destination.
            RelayState::DestinationReconnecting
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
            info!(source = %self.source_name(), destination = %self.config.destination, after = ?self.first_forwarded, "media reaches the destination");
        }
        if state != self.state {
            info!(source = %self.source_name(), destination = %self.config.destination, from = self.state.as_str(), to = state.as_str(), "relay state");
            self.state = state;
            self.publish_status(Instant::now());
        }
    }

    /// Closes every side (the destinations cleanly, all at once) and records the final
    /// state.
    async fn finish(mut self, result: Result<(), RelayError>) -> Result<(), RelayError> {
        let finished = matches!(self.src, SrcState::Done);
        self.publish_status(Instant::now());
        let timeout = self.config.close_timeout;
        let closing = self.dests.iter_mut().filter_map(|d| {
            let conn = d.take_session()?;
            let name = d.name.clone();
            Some(async move {
                if let Err(e) = conn.close(timeout).await {
                    warn!(destination = %name, error = %e, "destination did not close cleanly");
                }
            })
        });
        futures_util::future::join_all(closing).await;
        if let SrcState::Live(Source::Rtmp { conn, .. }) =
            std::mem::replace(&mut self.src, SrcState::Waiting(Instant::now()))
        {
            let _ = (*conn).close(self.config.close_timeout).await;
        }
        self.state = match &result {
            Ok(()) if finished => RelayState::Finished,
            Ok(()) => RelayState::Stopped,
            Err(e) => {
                let dest = (e.side == Side::Destination)
                    .then(|| self.dests.iter().position(|d| !d.is_failed()))
                    .flatten();
                self.record_error(dest, e);
                if let Some(i) = dest {
                    self.dests[i].fail();
                }
                warn!(source = %self.source_name(), destination = %self.config.destination, error = %e, retryable = e.retryable, "relay failed");
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
    use baton_media::TagType;
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
