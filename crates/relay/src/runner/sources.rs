//! Backup sources: failing over to the next source, and failing back to the primary once it
//! has been healthy on a connection of its own (see the runner's module docs for the rules).

use std::future::pending;
use std::mem;
use std::time::{Duration, SystemTime};

use baton_media::Frame;
use baton_media::config::ConfigTracker;
use tokio::time::Instant;
use tracing::{info, warn};

use super::{BoxFuture, Runner, SOURCE_BURST, SrcState};
use crate::error::{ErrorKind, RelayError, Side};
use crate::resume::is_media;
use crate::source::{Source, SourceEvent};
use crate::status::{ErrorRecord, SourceStatus};

/// The primary's own connection while a backup is active.
pub(super) enum Probe {
    /// No failback: the primary is active, or failback is off.
    Off,
    /// The next attempt is due then.
    Waiting(Instant),
    Connecting(BoxFuture<Result<Source, RelayError>>),
    Live(Box<ProbeLive>),
}

pub(super) struct ProbeLive {
    source: Source,
    connected_at: Instant,
    /// Since when media has come without a gap longer than the stall timeout.
    healthy_since: Option<Instant>,
    last_media: Option<Instant>,
    /// Its latest headers, sent ahead of its first frame when it takes over.
    headers: ConfigTracker,
}

pub(super) enum ProbeWake {
    Connected(Result<Source, RelayError>),
    Event(Result<SourceEvent, RelayError>),
}

pub(super) async fn probe_wake(probe: &mut Probe) -> ProbeWake {
    match probe {
        Probe::Connecting(f) => ProbeWake::Connected(f.await),
        Probe::Live(live) => ProbeWake::Event(live.source.next().await),
        Probe::Off | Probe::Waiting(_) => pending().await,
    }
}

impl Probe {
    /// When the timer must look at it: the next attempt, or the stall deadline of a live one.
    pub(super) fn deadline(&self, stall: Duration) -> Option<Instant> {
        match self {
            Probe::Waiting(t) => Some(*t),
            Probe::Live(live) => {
                let last = live.last_media.unwrap_or(live.connected_at);
                Some(last + live.source.stall_timeout(stall))
            }
            Probe::Off | Probe::Connecting(_) => None,
        }
    }
}

impl Runner {
    /// The active source's URL (password masked), for logs.
    pub(super) fn source_name(&self) -> &str {
        &self.source_names[self.active]
    }

    pub(super) fn source_statuses(&self) -> Vec<SourceStatus> {
        self.source_names
            .iter()
            .zip(&self.source_errors)
            .map(|(url, last_error)| SourceStatus {
                url: url.clone(),
                last_error: last_error.clone(),
            })
            .collect()
    }

    /// With backups: when the active source fails over if no media comes before.
    pub(super) fn failover_due(&self) -> Option<Instant> {
        if self.sources.len() < 2 {
            return None;
        }
        self.active_down_since
            .map(|since| since + self.config.failover_after)
    }

    /// The active source failed (silent for `failover_after`, or refused): the next one is
    /// connected at once, unless every source has failed since media last flowed.
    pub(super) fn fail_over(&mut self, e: RelayError) -> Result<(), RelayError> {
        self.failed_in_pass += 1;
        if self.failed_in_pass >= self.sources.len() && self.slate.is_some() {
            // The slate holds the destinations: the sources are tried round and round
            // until its hold ends.
            self.failed_in_pass = 0;
        } else if self.failed_in_pass >= self.sources.len() {
            warn!(source = %self.source_name(), error = %e, sources = self.sources.len(), "every source failed");
            return Err(e);
        }
        let next = (self.active + 1) % self.sources.len();
        warn!(from = %self.source_name(), to = %self.source_names[next], error = %e, "source failed over");
        self.switch_to(next);
        self.start_source_connect();
        self.publish_status(Instant::now());
        Ok(())
    }

    /// Leaves the active source (its connection, if any, is dropped) for source `next`. The
    /// next media frame begins a new timeline segment, exactly as after a reconnect.
    fn switch_to(&mut self, next: usize) {
        let now = Instant::now();
        if let SrcState::Live(source) = &self.src {
            self.counters.bytes_in_done += source.bytes_in();
        }
        self.src = SrcState::Waiting(now);
        self.active = next;
        self.switches += 1;
        self.active_down_since = Some(now);
        self.active_error = None;
        // Another stream: nothing of it can be a replay of what the last one sent.
        self.recent.clear();
        self.replay = None;
        self.new_segment = true;
        self.src_backoff.reset();
        self.probe = match (next, self.config.failback_every) {
            (0, _) | (_, None) => {
                self.drop_probe();
                Probe::Off
            }
            (_, Some(every)) => match mem::replace(&mut self.probe, Probe::Off) {
                Probe::Off => Probe::Waiting(now + every),
                running => running,
            },
        };
    }

    fn drop_probe(&mut self) {
        if let Probe::Live(live) = mem::replace(&mut self.probe, Probe::Off) {
            self.counters.bytes_in_done += live.source.bytes_in();
        }
    }

    /// The primary's connection failed or stalled: tried again after `failback_every`.
    fn probe_failed(&mut self, e: RelayError) {
        self.drop_probe();
        info!(source = %self.source_names[0], error = %e, "the primary is not back yet");
        self.source_errors[0] = Some(ErrorRecord {
            error: e,
            at: SystemTime::now(),
        });
        if let Some(every) = self.config.failback_every {
            self.probe = Probe::Waiting(Instant::now() + every);
        }
    }

    pub(super) fn on_probe_timer(&mut self, now: Instant) {
        match &self.probe {
            Probe::Waiting(t) if now >= *t => {
                let url = self.sources[0].clone();
                let options = self.config.client.clone();
                let egress = self.config.egress.clone();
                let timeline = self.config.timeline.clone();
                self.probe = Probe::Connecting(Box::pin(async move {
                    Source::connect(&url, &options, &egress, &timeline).await
                }));
            }
            Probe::Live(_)
                if self
                    .probe
                    .deadline(self.config.source_stall_timeout)
                    .is_some_and(|t| now >= t) =>
            {
                self.probe_failed(RelayError::new(
                    Side::Source,
                    ErrorKind::Timeout,
                    format!(
                        "no media from the primary for {:?}",
                        self.config.source_stall_timeout
                    ),
                ));
            }
            _ => {}
        }
    }

    pub(super) fn on_probe_burst(&mut self, wake: ProbeWake) -> Result<(), RelayError> {
        self.on_probe(wake);
        for _ in 0..SOURCE_BURST {
            let Probe::Live(live) = &mut self.probe else {
                break;
            };
            let Some(event) = live.source.try_next() else {
                break;
            };
            self.on_probe(ProbeWake::Event(event));
        }
        Ok(())
    }

    fn on_probe(&mut self, wake: ProbeWake) {
        match wake {
            ProbeWake::Connected(Ok(source)) => {
                info!(source = %self.source_names[0], healthy = ?self.config.failback_healthy, "the primary answers again; checking it");
                self.probe = Probe::Live(Box::new(ProbeLive {
                    source,
                    connected_at: Instant::now(),
                    healthy_since: None,
                    last_media: None,
                    headers: ConfigTracker::new(),
                }));
            }
            ProbeWake::Connected(Err(e)) | ProbeWake::Event(Err(e)) => self.probe_failed(e),
            ProbeWake::Event(Ok(SourceEvent::Frame(frame))) => self.on_probe_frame(frame),
            ProbeWake::Event(Ok(SourceEvent::Ended | SourceEvent::Finished)) => {
                self.probe_failed(RelayError::new(
                    Side::Source,
                    ErrorKind::Ended,
                    "the primary's stream ended",
                ));
            }
        }
    }

    /// A frame from the primary's own connection: it takes over at a keyframe (at any media
    /// frame of a stream without video) once it has been healthy for `failback_healthy`.
    fn on_probe_frame(&mut self, frame: Frame) {
        let now = Instant::now();
        let Probe::Live(live) = &mut self.probe else {
            return;
        };
        if frame.config || frame.is_metadata() {
            live.headers.should_forward(&frame);
            return;
        }
        if !is_media(&frame) {
            return;
        }
        let since = *live.healthy_since.get_or_insert(now);
        live.last_media = Some(now);
        let at_start = frame.keyframe || live.headers.video_config().is_none();
        if now < since + self.config.failback_healthy || !at_start {
            return;
        }
        let Probe::Live(live) = mem::replace(&mut self.probe, Probe::Off) else {
            return;
        };
        let live = *live;
        info!(from = %self.source_name(), to = %self.source_names[0], healthy_for = ?(now - since), "failing back to the primary");
        self.switch_to(0);
        self.status
            .update(|s| s.source_transport = Some(live.source.transport()));
        self.src = SrcState::Live(live.source);
        self.src_live_since = now;
        self.counters.source_connections += 1;
        let headers = [
            live.headers.metadata(),
            live.headers.video_config(),
            live.headers.audio_config(),
        ];
        for header in headers.into_iter().flatten() {
            self.on_frame(header.clone());
        }
        self.on_frame(frame);
        self.publish_status(now);
    }
}
