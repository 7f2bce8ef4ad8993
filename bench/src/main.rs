//! `baton-bench`: N relays of a 2 Mb/s 720p30 stream through Baton, nginx-rtmp (`push`) and
//! `ffmpeg -c copy`, from an in-process load generator to an in-process sink, reporting per
//! relay CPU, memory, frame loss and added latency. See docs/benchmarks.md.
//!
//! * `baton-bench run` — the benchmark; `--write docs/benchmarks.md` records the results.
//! * `baton-bench api` — sustained signed-API (Alibaba RPC) throughput over many keys, every
//!   request spending a nonce (see `api.rs`).
//! * `baton-bench sources` — N relays of a live HLS and of an SRT source through Baton and
//!   through ffmpeg (CPU and memory per relay; see `sources/`).
//! * `baton-bench smoke` — two Baton relays for a few seconds; fails on any lost frame or an
//!   absurd latency (for CI).
//! * `baton-bench host` — (hidden) the Baton system under test, started by `run`.

mod api;
mod clip;
mod conn;
mod generator;
mod histogram;
mod host;
mod http;
mod ledger;
mod measure;
mod procstat;
mod report;
mod scrape;
mod serve;
mod sink;
mod sources;
mod sut;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;

use crate::clip::Clip;
use crate::generator::PacerConfig;
use crate::measure::{Measurement, Options, measure};
use crate::sut::Target;

#[derive(Parser, Debug)]
#[command(
    name = "baton-bench",
    version,
    about = "Relay benchmark: Baton vs nginx-rtmp vs ffmpeg"
)]
struct Cli {
    /// Log filter (tracing EnvFilter syntax).
    #[arg(long, global = true, env = "RUST_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the benchmark.
    Run(RunArgs),
    /// N relays of live HLS and SRT sources through Baton and through ffmpeg.
    Sources(sources::SourcesArgs),
    /// Two Baton relays for a few seconds; exit status 1 on lost frames or absurd latency.
    Smoke(SmokeArgs),
    /// Signed API throughput: `baton serve` with many keys, signed Describes as fast as it
    /// answers; exit status 1 on any 503 or connection error.
    Api(api::ApiArgs),
    /// What a Prometheus scrape of /metrics costs `baton serve` with N forwarding relays.
    Scrape(scrape::ScrapeArgs),
    /// The Baton system under test (started by `run`).
    #[command(hide = true)]
    Host(host::HostArgs),
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// Wait after the window for its last frames (later ones count as lost).
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    drain: Duration,
    /// Generator timer period.
    #[arg(long, value_parser = parse_duration, default_value = "5ms")]
    tick: Duration,
    /// Where the clip is generated (once) and cached.
    #[arg(long, default_value = "target/bench-media")]
    media_dir: PathBuf,
    /// Where configs and logs of the systems under test go.
    #[arg(long, default_value = "target/bench-run")]
    run_dir: PathBuf,
    /// Tokio worker threads of the Baton host (default: one per core, as `baton serve`).
    #[arg(long)]
    host_workers: Option<usize>,
    /// Profiling only: run the Baton host under this command, e.g. `heaptrack -o /tmp/ht`
    /// or `perf record -g -o /tmp/perf.data` (its numbers then include the wrapper).
    #[arg(long, hide = true)]
    host_wrapper: Option<String>,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Relay counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,10,100,500,1000")]
    relays: Vec<usize>,
    /// Systems to measure (each when installed). `direct` (no relay: the generator publishes
    /// straight into the sink) calibrates the bench's own latency floor at each N.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "baton,nginx,ffmpeg,direct"
    )]
    targets: Vec<Target>,
    /// Destinations per relay (K; a list measures each): every relay pushes to K streams of
    /// the sink. Baton: K − 1 `RelayConfig::extra_destinations`; nginx-rtmp: K `push`
    /// lines; ffmpeg: K processes per relay (ffmpeg-tee, one process with K outputs, is
    /// refused for now).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    destinations: Vec<usize>,
    /// Most ffmpeg processes run at once (one of ~56 MB RSS per relay and destination): the
    /// `ffmpeg` target is skipped where N × K exceeds it, `ffmpeg-tee` where N does.
    #[arg(long, default_value_t = 100)]
    ffmpeg_max: usize,
    /// Replace the results section of this markdown file (e.g. docs/benchmarks.md).
    #[arg(long)]
    write: Option<PathBuf>,
    /// Length of the measurement window.
    #[arg(long, value_parser = parse_duration, default_value = "20s")]
    duration: Duration,
    /// Time between all streams flowing and the window.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    warmup: Duration,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Debug)]
struct SmokeArgs {
    #[arg(long, default_value_t = 2)]
    relays: usize,
    /// Largest acceptable p99 added latency, in ms.
    #[arg(long, default_value_t = 200.0)]
    max_p99_ms: f64,
    /// Length of the measurement window.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    duration: Duration,
    /// Time between all streams flowing and the window.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    warmup: Duration,
    #[command(flatten)]
    common: Common,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_new(&cli.log).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Host(args) => return host::run(args),
        Command::Run(args) => block_on(run(args)),
        Command::Smoke(args) => block_on(smoke(args)),
        Command::Api(args) => block_on(api::run(args)),
        Command::Scrape(args) => block_on(scrape::run(args)),
        Command::Sources(args) => block_on(sources::run(args)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The bench's own runtime: multi-threaded (generator and sink share both cores with the
/// system under test; their CPU is reported separately).
fn block_on(f: impl Future<Output = Result<ExitCode>>) -> Result<ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(async {
            let mut terminate =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .context("installing the SIGTERM handler")?;
            // Returning drops the measurement, which kills every child process it started.
            tokio::select! {
                r = f => r,
                _ = tokio::signal::ctrl_c() => bail!("interrupted (children were killed)"),
                _ = terminate.recv() => bail!("terminated (children were killed)"),
            }
        })
}

async fn run(args: RunArgs) -> Result<ExitCode> {
    let started = SystemTime::now();
    if args.relays.is_empty() || args.relays.contains(&0) {
        bail!("--relays needs counts of at least 1");
    }
    if args.destinations.is_empty() || args.destinations.contains(&0) {
        bail!("--destinations needs counts of at least 1");
    }
    let (clip, clip_path) = load_clip(&args.common)?;
    let options = options(&args.common, args.warmup, args.duration);
    let mut skipped = Vec::new();
    let mut targets = args.targets.clone();
    targets.sort();
    targets.dedup();
    targets.retain(|t| match t.unavailable() {
        Some(why) => {
            warn!(target = %t, why, "skipped");
            skipped.push(format!("{t}: {why}"));
            false
        }
        None => true,
    });
    let mut results: Vec<Measurement> = Vec::new();
    let runs = args.relays.iter().flat_map(|&n| {
        let targets = &targets;
        args.destinations
            .iter()
            .flat_map(move |&k| targets.iter().map(move |&t| (n, k, t)))
    });
    for (n, k, target) in runs {
        let at = if k == 1 {
            format!("N = {n}")
        } else {
            format!("N = {n} × {k} destinations")
        };
        let processes = match target {
            Target::Ffmpeg => n * k,
            Target::FfmpegTee => n,
            _ => 0,
        };
        if processes > args.ffmpeg_max {
            skipped.push(format!(
                "{target} at {at} ({processes} processes, above --ffmpeg-max {})",
                args.ffmpeg_max
            ));
            continue;
        }
        info!(%target, relays = n, destinations = k, "measuring");
        let limit = options.warmup
            + options.duration
            + options.drain
            + Duration::from_secs(120)
            + Duration::from_millis(60 * (n * k) as u64);
        match tokio::time::timeout(limit, measure(target, n, k, Arc::clone(&clip), &options)).await
        {
            Ok(Ok(m)) => {
                info!(%target, relays = n, cpu_per_relay = m.cpu_per_relay(), lost = m.lost(),
                    p50_ms = ?m.latency_ms(0.5), p99_ms = ?m.latency_ms(0.99), "measured");
                results.push(m);
            }
            Ok(Err(e)) => {
                error!(%target, relays = n, destinations = k, "measurement failed: {e:#}");
                skipped.push(format!("{target} at {at} failed: {e:#}"));
            }
            Err(_) => {
                error!(%target, relays = n, destinations = k, "measurement timed out after {limit:?}");
                skipped.push(format!("{target} at {at} timed out after {limit:?}"));
            }
        }
        // Let sockets of the previous run close before the next one.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let info = report::RunInfo {
        machine: procstat::MachineInfo::collect(),
        started,
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
        clip: format!(
            "{} (H.264 1280x720 30 fps GOP 60 + AAC 48 kHz stereo; made by `ffmpeg {} {}`)",
            clip::CLIP_NAME,
            clip::ffmpeg_args().join(" "),
            clip_path.display()
        ),
        clip_bitrate: clip.bitrate,
        tools: [("nginx", "-v"), ("ffmpeg", "-version")]
            .iter()
            .filter_map(|(p, a)| procstat::tool_version(p, a))
            .collect(),
        revision: git_revision(),
        skipped,
        settings: format!(
            "warm-up {:?}, window {:?}, drain {:?}, generator tick {:?}, Baton host workers {}",
            options.warmup,
            options.duration,
            options.drain,
            options.pacer.tick,
            options
                .host_workers
                .map_or("default (one per core)".into(), |w| w.to_string())
        ),
    };
    let section = report::render(&info, &results);
    println!("{section}");
    if let Some(path) = &args.write {
        report::write_section(path, &section)?;
        info!(path = %path.display(), "results written");
    }
    Ok(if results.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn smoke(args: SmokeArgs) -> Result<ExitCode> {
    if args.relays == 0 {
        bail!("--relays must be at least 1");
    }
    let (clip, _) = load_clip(&args.common)?;
    let options = options(&args.common, args.warmup, args.duration);
    let m = measure(Target::Baton, args.relays, 1, clip, &options).await?;
    let c = &m.summary.counters;
    let p99 = m.latency_ms(0.99);
    println!(
        "smoke: {} relays, {} streams synced, {} frames sent, {} received, {} lost, {} unexpected, p50 {:?} ms, p99 {:?} ms, CPU {:.3} %/relay",
        m.relays,
        m.summary.synced,
        c.sent,
        c.received,
        m.lost(),
        c.unexpected,
        m.latency_ms(0.5),
        p99,
        m.cpu_per_relay()
    );
    for note in &m.notes {
        println!("note: {note}");
    }
    let failures = smoke_failures(&m, args.max_p99_ms);
    if failures.is_empty() {
        println!("smoke: ok");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("smoke: FAILED: {}", failures.join("; "));
        Ok(ExitCode::FAILURE)
    }
}

/// Why a smoke measurement fails (empty: it passed).
fn smoke_failures(m: &Measurement, max_p99_ms: f64) -> Vec<String> {
    let c = &m.summary.counters;
    let p99 = m.latency_ms(0.99);
    let mut failures = Vec::new();
    if m.summary.synced < m.relays {
        failures.push(format!(
            "only {} of {} streams flowed",
            m.summary.synced, m.relays
        ));
    }
    if c.sent == 0 {
        failures.push("no frames were sent in the window".to_string());
    }
    if m.lost() > 0 {
        failures.push(format!("{} frames lost", m.lost()));
    }
    if c.unexpected > 0 {
        failures.push(format!("{} unexpected frames", c.unexpected));
    }
    if p99.is_none_or(|p| p > max_p99_ms) {
        failures.push(format!("p99 latency {p99:?} ms above {} ms", max_p99_ms));
    }
    failures
}

fn load_clip(common: &Common) -> Result<(Arc<Clip>, PathBuf)> {
    let path = Clip::ensure(&common.media_dir)?;
    let clip = Clip::load(&path)?;
    info!(path = %path.display(), frames = clip.body.len(), bitrate = clip.bitrate, "clip loaded");
    Ok((Arc::new(clip), path))
}

fn options(common: &Common, warmup: Duration, duration: Duration) -> Options {
    Options {
        warmup,
        duration,
        drain: common.drain,
        pacer: PacerConfig {
            tick: common.tick,
            max_backlog: 2 << 20,
        },
        host_workers: common.host_workers,
        host_wrapper: common
            .host_wrapper
            .as_deref()
            .map(|w| w.split_whitespace().map(String::from).collect())
            .unwrap_or_default(),
        // Absolute: nginx resolves relative paths against its prefix (-p), which is itself
        // under the run dir.
        run_dir: std::path::absolute(&common.run_dir).unwrap_or_else(|_| common.run_dir.clone()),
    }
}

/// The revision measured: `$BATON_REVISION` when set (a build from an exported tree), else
/// `git describe` of the current directory.
fn git_revision() -> Option<String> {
    if let Ok(rev) = std::env::var("BATON_REVISION") {
        return Some(rev);
    }
    let out = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `20s`, `500ms`, `2m`, `1.5s`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" | "" => value,
        "m" => value * 60.0,
        _ => return Err(format!("bad duration unit in {s:?} (use ms, s or m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("bad duration {s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measurement(sent: u64, received: u64, latency_us: &[u64]) -> Measurement {
        let mut summary = ledger::Summary {
            streams: 2,
            synced: 2,
            ..Default::default()
        };
        summary.counters.sent = sent;
        summary.counters.received = received;
        for &l in latency_us {
            summary.latency.record(l);
        }
        Measurement {
            destinations: 1,
            target: Target::Baton,
            relays: 2,
            window: Duration::from_secs(5),
            cpu_percent: 0.5,
            cpu_percent_ns: 0.5,
            bench_cpu_percent: 1.0,
            other_cpu_percent: None,
            memory: procstat::Memory::default(),
            baseline: procstat::Memory::default(),
            processes: 1,
            summary,
            commands: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn smoke_verdicts() {
        assert!(smoke_failures(&measurement(10, 10, &[500; 10]), 200.0).is_empty());
        let lost = smoke_failures(&measurement(10, 9, &[500; 9]), 200.0);
        assert!(lost.iter().any(|f| f.contains("1 frames lost")), "{lost:?}");
        let slow = smoke_failures(&measurement(10, 10, &[300_000; 10]), 200.0);
        assert!(slow.iter().any(|f| f.contains("p99")), "{slow:?}");
        let nothing = smoke_failures(&measurement(0, 0, &[]), 200.0);
        assert!(nothing.len() >= 2, "{nothing:?}");
        let mut unsynced = measurement(10, 10, &[500; 10]);
        unsynced.summary.synced = 1;
        assert_eq!(smoke_failures(&unsynced, 200.0).len(), 1);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("5ms"), Ok(Duration::from_millis(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
