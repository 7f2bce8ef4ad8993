//! One measurement: a target relaying N streams from the generator to the sink.
//!
//! Phases: bind the sink (and the generator's server) → start the system under test → wait
//! until every stream flows end to end (both tracks synchronised at the sink) → warm up →
//! measurement window (CPU sampled at both ends; frames counted by send time) → drain (late
//! frames of the window may still arrive) → memory sample → stop everything.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::clip::Clip;
use crate::generator::{self, Pacer, PacerConfig};
use crate::ledger::{Clock, Ledgers, Summary};
use crate::procstat::{CpuTime, Memory, machine_busy_ticks, ticks_per_second};
use crate::sink;
use crate::sut::{Sut, Target};

/// Settings shared by every measurement of a run.
#[derive(Clone, Debug)]
pub struct Options {
    pub warmup: Duration,
    pub duration: Duration,
    /// Wait after the window for its last frames.
    pub drain: Duration,
    pub pacer: PacerConfig,
    /// Worker threads of the Baton host (None: one per core).
    pub host_workers: Option<usize>,
    /// Profiling only: a command (and arguments) to run the Baton host under.
    pub host_wrapper: Vec<String>,
    pub run_dir: PathBuf,
}

/// What one measurement found.
#[derive(Debug)]
pub struct Measurement {
    pub target: Target,
    pub relays: usize,
    /// Destinations per relay (K): the sink receives K × N streams.
    pub destinations: usize,
    pub window: Duration,
    /// Percent of one core over the window, all processes of the target: from utime+stime,
    /// and from the nanosecond schedstat run time.
    pub cpu_percent: f64,
    pub cpu_percent_ns: f64,
    /// Percent of one core used by the bench itself (generator + sink) over the window.
    pub bench_cpu_percent: f64,
    /// Percent of one core used by everything else on the machine over the window (other
    /// builds on a shared machine disturb latency; this says how much).
    pub other_cpu_percent: Option<f64>,
    pub memory: Memory,
    pub baseline: Memory,
    pub processes: usize,
    pub summary: Summary,
    pub commands: Vec<String>,
    pub notes: Vec<String>,
}

impl Measurement {
    /// The target, and its destinations per relay when more than one.
    pub fn label(&self) -> String {
        if self.destinations > 1 {
            format!("{} × {} destinations", self.target, self.destinations)
        } else {
            self.target.to_string()
        }
    }

    pub fn cpu_per_relay(&self) -> f64 {
        self.cpu_percent / self.relays as f64
    }

    pub fn cpu_ns_per_relay(&self) -> f64 {
        self.cpu_percent_ns / self.relays as f64
    }

    /// (total − idle baseline) / N, MiB.
    pub fn rss_per_relay(&self) -> f64 {
        mib(self.memory.rss_kib.saturating_sub(self.baseline.rss_kib)) / self.relays as f64
    }

    pub fn uss_per_relay(&self) -> f64 {
        mib(self.memory.uss_kib.saturating_sub(self.baseline.uss_kib)) / self.relays as f64
    }

    pub fn lost(&self) -> u64 {
        self.summary
            .counters
            .sent
            .saturating_sub(self.summary.counters.received)
    }

    /// Mean payload bitrate generated per stream over the window (bits/s). Every
    /// destination stream counts what it was sent, so this divides by K × N.
    pub fn bitrate_per_stream(&self) -> f64 {
        self.summary.counters.bytes_sent as f64 * 8.0
            / self.window.as_secs_f64()
            / (self.relays * self.destinations) as f64
    }

    pub fn latency_ms(&self, q: f64) -> Option<f64> {
        self.summary
            .latency
            .quantile(q)
            .map(|us| us as f64 / 1000.0)
    }
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Measures `target` relaying `relays` streams, each to `destinations` streams of the sink
/// (relay i's destination d is the sink's stream i + d × relays, with a ledger of its own).
pub async fn measure(
    target: Target,
    relays: usize,
    destinations: usize,
    clip: Arc<Clip>,
    options: &Options,
) -> Result<Measurement> {
    std::fs::create_dir_all(&options.run_dir)
        .with_context(|| format!("creating {}", options.run_dir.display()))?;
    let clock = Clock::new();
    let destinations = destinations.max(1);
    // ffmpeg's K processes a relay each pull the source (as K ffmpeg commands per task do),
    // and without a relay the generator publishes every sink stream itself: the generator
    // sends K × N streams. The others pull N streams and fan each out to K destinations.
    let ledgers = Arc::new(match target {
        Target::Ffmpeg | Target::Direct => Ledgers::new(relays * destinations, clock),
        _ => Ledgers::fanned(relays, destinations, clock),
    });
    let cancel = CancellationToken::new();
    // If this future is dropped (the run's timeout, Ctrl-C), the generator, the sink and the
    // pacer's thread must stop too; the system under test dies with its `Sut`.
    let _stop_on_drop = cancel.clone().drop_guard();
    let tracker = TaskTracker::new();
    let result = run_phases(
        target,
        relays,
        destinations,
        clip,
        options,
        &ledgers,
        &cancel,
        &tracker,
    )
    .await;
    cancel.cancel();
    tracker.close();
    if tokio::time::timeout(Duration::from_secs(10), tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("generator/sink tasks did not finish within 10 s");
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn run_phases(
    target: Target,
    relays: usize,
    destinations: usize,
    clip: Arc<Clip>,
    options: &Options,
    ledgers: &Arc<Ledgers>,
    cancel: &CancellationToken,
    tracker: &TaskTracker,
) -> Result<Measurement> {
    let sink_listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the sink")?;
    let sink_addr = sink_listener.local_addr()?;
    tracker.spawn(sink::serve_publishers(
        sink_listener,
        Arc::clone(ledgers),
        cancel.clone(),
        tracker.clone(),
    ));
    let (pacer, handle) = Pacer::new(clip, Arc::clone(ledgers), options.pacer.clone());
    let pacer_cancel = cancel.clone();
    tracker.spawn_blocking(move || pacer.run_blocking(&pacer_cancel));

    let started = Instant::now();
    let mut sut = match target {
        Target::Nginx => {
            let (sut, addr) =
                Sut::start_nginx(relays, destinations, sink_addr, &options.run_dir).await?;
            generator::publish_all(
                addr,
                "live",
                relays,
                64,
                handle,
                cancel.clone(),
                tracker.clone(),
            )
            .await?;
            sut
        }
        Target::Direct => {
            generator::publish_all(
                sink_addr,
                "live",
                ledgers.sources(),
                64,
                handle,
                cancel.clone(),
                tracker.clone(),
            )
            .await?;
            Sut::none()
        }
        Target::Baton | Target::BatonRtmps | Target::Ffmpeg | Target::FfmpegTee => {
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .context("binding the generator")?;
            let addr = listener.local_addr()?;
            tracker.spawn(generator::serve_players(
                listener,
                ledgers.sources(),
                handle,
                cancel.clone(),
                tracker.clone(),
            ));
            let dir = &options.run_dir;
            match target {
                Target::Baton => {
                    Sut::start_baton(relays, destinations, addr, sink_addr, options, dir).await?
                }
                Target::BatonRtmps => {
                    Sut::start_baton_rtmps(relays, destinations, addr, sink_addr, options, dir)
                        .await?
                }
                Target::FfmpegTee => {
                    Sut::start_ffmpeg_tee(relays, destinations, addr, sink_addr, dir).await?
                }
                // K processes a relay: process d of relay i pulls s{i + d·N} and pushes it to
                // the sink's stream of that name.
                _ => {
                    let mut sut =
                        Sut::start_ffmpeg(relays * destinations, addr, sink_addr, dir).await?;
                    if destinations > 1 {
                        sut.commands.push(format!(
                            "({destinations} ffmpeg processes per relay: {} in all)",
                            relays * destinations
                        ));
                    }
                    sut
                }
            }
        }
    };

    let mut notes = Vec::new();
    // ffmpeg probes its input for up to 5 s before writing anything; 1 000 relays take a
    // while to connect on two cores.
    let streams = ledgers.len();
    let sync_timeout = Duration::from_secs(20) + Duration::from_millis(30 * streams as u64);
    let synced = wait_synced(ledgers, sync_timeout).await;
    info!(%target, relays, destinations, synced, elapsed = ?started.elapsed(), "streams flowing");
    if synced < streams {
        notes.push(format!(
            "only {synced} of {streams} streams reached the sink within {sync_timeout:?}"
        ));
    }
    tokio::time::sleep(options.warmup).await;

    let pids = sut.pids();
    let me = [std::process::id()];
    let hz = ticks_per_second();
    // The window's bounds are published *before* they are reached: a frame is in the window
    // iff its send instant is, and the generator must never record a frame whose send
    // instant lies past a bound it could not see yet (that frame would count as sent but
    // never as received).
    let t0 = Instant::now() + Duration::from_millis(50);
    ledgers.window.open(ledgers.clock.micros(t0.into_std()));
    tokio::time::sleep_until(t0).await;
    let (cpu0, bench0, busy0) = (CpuTime::of(&pids), CpuTime::of(&me), machine_busy_ticks());
    let t1 = t0 + options.duration;
    ledgers.window.close(ledgers.clock.micros(t1.into_std()));
    tokio::time::sleep_until(t1).await;
    let (cpu1, bench1, busy1) = (CpuTime::of(&pids), CpuTime::of(&me), machine_busy_ticks());
    let window = t1 - t0;
    let (cpu_percent, cpu_percent_ns) = cpu0.percent_until(&cpu1, window.as_secs_f64(), hz);
    let (bench_cpu_percent, _) = bench0.percent_until(&bench1, window.as_secs_f64(), hz);
    let other_cpu_percent = busy0.zip(busy1).map(|(a, b)| {
        let all = 100.0 * b.saturating_sub(a) as f64 / hz as f64 / window.as_secs_f64();
        (all - cpu_percent - bench_cpu_percent).max(0.0)
    });

    tokio::time::sleep(options.drain).await;
    let memory = Memory::of(&sut.pids());
    notes.extend(sut.notes_after_window().await);
    let summary = ledgers.summary();
    let commands = sut.commands.clone();
    let baseline = sut.baseline;
    let processes = sut.pids().len();
    if let Some(line) = sut.stop().await?
        && !line.contains("clean=true")
    {
        notes.push(format!("host stop: {line}"));
    }
    if summary.skewed_streams > 0 {
        notes.push(format!(
            "{} stream(s) had audio moved against video (up to {} ms)",
            summary.skewed_streams, summary.max_skew_ms
        ));
    }
    Ok(Measurement {
        target,
        relays,
        destinations,
        window,
        cpu_percent,
        cpu_percent_ns,
        bench_cpu_percent,
        other_cpu_percent,
        memory,
        baseline,
        processes,
        summary,
        commands,
        notes,
    })
}

/// Waits until every stream is synchronised at the sink, or `timeout`; returns how many are.
async fn wait_synced(ledgers: &Ledgers, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let synced = ledgers.synced();
        if synced == ledgers.len() || Instant::now() >= deadline {
            return synced;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
