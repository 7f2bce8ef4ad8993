//! `baton-bench scrape`: what a Prometheus scrape costs Baton. Starts `baton serve` with a
//! metrics listener, one low-rate publisher (ffmpeg: 160×90, 5 fps H.264, no audio) into its
//! RTMP ingest, and N tasks relaying that stream back into the same ingest — N forwarding
//! relays and N + 1 ingest streams, the series a node of N relays exports — then measures:
//!
//! * the answer time of each scrape (`GET /metrics`, a fresh connection each, as Prometheus
//!   keeps one open: the connect is a few µs of loopback), over `--scrapes` scrapes;
//! * the CPU one scrape costs: Baton's CPU time over the back-to-back scrapes, less what the
//!   relays themselves used in an equal window just before with no scrape (the baseline);
//! * what that is at a scrape interval of `--interval` (Prometheus' default is 1 min; 15 s is
//!   a common setting), in percent of one core.
//!
//! The media rate is low on purpose: the relays' own CPU is the noise the scrape cost is
//! measured against, and the series count (what a scrape costs) does not depend on it.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use baton_api::common::time::format_utc;
use clap::Args;
use tracing::info;

use crate::api::{Key, signed_query, unix_now};
use crate::histogram::Histogram;
use crate::http::Http;
use crate::procstat::{CpuTime, MachineInfo, Memory};
use crate::serve::BatonServe;
use crate::sut::free_port;

#[derive(Args, Debug)]
pub struct ScrapeArgs {
    /// The `baton` binary to serve (build it with `cargo build --release --bin baton`).
    #[arg(long, default_value = "target/release/baton")]
    baton: PathBuf,
    /// Relays (tasks) running while the scrapes are measured.
    #[arg(long, default_value_t = 1000)]
    relays: usize,
    /// Scrapes measured, back to back.
    #[arg(long, default_value_t = 100)]
    scrapes: usize,
    /// The scrape interval the CPU cost is stated for.
    #[arg(long, value_parser = crate::parse_duration, default_value = "15s")]
    interval: Duration,
    /// Where the server's config, data and logs go (emptied first).
    #[arg(long, default_value = "target/bench-run/scrape")]
    run_dir: PathBuf,
}

pub async fn run(args: ScrapeArgs) -> Result<ExitCode> {
    if args.relays == 0 || args.scrapes == 0 {
        bail!("--relays and --scrapes must be at least 1");
    }
    let _ = std::fs::remove_dir_all(&args.run_dir);
    std::fs::create_dir_all(&args.run_dir).context("creating the run dir")?;
    let key = Key {
        id: "LTAIscrapebench0001".into(),
        secret: "ScrapeBenchSecret0001".into(),
        task: String::new(),
    };
    let mut server = Server::start(&args, &key)?;
    server.serve.wait_ready(Duration::from_secs(60)).await?;
    let publisher = Publisher::start(&args, server.serve.rtmp)?;

    let started = Instant::now();
    create_tasks(&server, &key, args.relays).await?;
    info!(
        relays = args.relays,
        "tasks created; waiting for every relay to forward"
    );
    let forwarding = wait_forwarding(&server, args.relays, Duration::from_secs(180)).await?;
    info!(
        forwarding,
        seconds = started.elapsed().as_secs_f64(),
        "relays forwarding"
    );
    // Let the start-up settle (every relay's first second of counters, the ingest's GOPs).
    tokio::time::sleep(Duration::from_secs(5)).await;

    let pid = server.serve.pid();
    let baseline = idle_window(pid, Duration::from_secs(10)).await;
    let mut latency = Histogram::default();
    let mut bytes = 0;
    let mut series = 0;
    let cpu0 = CpuTime::of(&[pid]);
    let t0 = Instant::now();
    for _ in 0..args.scrapes {
        let start = Instant::now();
        let body = server.scrape().await?;
        latency.record(start.elapsed().as_micros() as u64);
        bytes = body.len();
        series = body
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .count();
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu1 = CpuTime::of(&[pid]);
    let memory = Memory::of(&[pid]);
    let forwarding_after = count_forwarding(&server.scrape().await?);
    drop(publisher);

    let spent = cpu1.run_ns.saturating_sub(cpu0.run_ns) as f64 / 1e9;
    let per_scrape = ((spent - baseline * wall) / args.scrapes as f64).max(0.0);
    let share = 100.0 * per_scrape / args.interval.as_secs_f64();
    let report = render(
        &args,
        &Results {
            bytes,
            series,
            latency,
            baseline,
            per_scrape,
            share,
            memory,
            forwarding: forwarding_after,
        },
    );
    println!("{report}");
    let ok = forwarding_after == args.relays;
    if !ok {
        eprintln!(
            "only {forwarding_after} of {} relays were forwarding at the end",
            args.relays
        );
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

struct Results {
    bytes: usize,
    series: usize,
    latency: Histogram,
    /// Baton's CPU (cores) with no scrape.
    baseline: f64,
    /// CPU seconds one scrape costs.
    per_scrape: f64,
    /// Percent of one core at the stated interval.
    share: f64,
    memory: Memory,
    forwarding: usize,
}

fn render(args: &ScrapeArgs, r: &Results) -> String {
    let m = MachineInfo::collect();
    let ms = |us: Option<u64>| us.unwrap_or(0) as f64 / 1000.0;
    let mut out = String::new();
    let _ = writeln!(out, "### Metrics scrape: {} relays\n", args.relays);
    let _ = writeln!(
        out,
        "Machine: {}, {} cores, {} MiB, Linux {}.",
        m.cpu_model, m.cores, m.memory_mib, m.kernel
    );
    let _ = writeln!(
        out,
        "Command: `baton-bench scrape --relays {} --scrapes {} --interval {}s` ({} relays \
         forwarding a 160×90 5 fps H.264 stream from Baton's RTMP ingest back into it; {} \
         scrapes of `GET /metrics` on the metrics listener, back to back).\n",
        args.relays,
        args.scrapes,
        args.interval.as_secs(),
        r.forwarding,
        args.scrapes
    );
    let _ = writeln!(out, "| measure | value |\n| --- | --- |");
    let _ = writeln!(
        out,
        "| answer | {:.0} KiB, {} samples |",
        r.bytes as f64 / 1024.0,
        r.series
    );
    let _ = writeln!(
        out,
        "| answer time p50 / p99 / max | {:.1} / {:.1} / {:.1} ms |",
        ms(r.latency.quantile(0.5)),
        ms(r.latency.quantile(0.99)),
        ms(Some(r.latency.max()))
    );
    let _ = writeln!(
        out,
        "| CPU per scrape (less the relays' own {:.1} % of a core) | {:.1} ms |",
        100.0 * r.baseline,
        r.per_scrape * 1000.0
    );
    let _ = writeln!(
        out,
        "| CPU at one scrape every {} s | {:.3} % of a core |",
        args.interval.as_secs(),
        r.share
    );
    let _ = writeln!(
        out,
        "| Baton RSS / USS | {:.1} / {:.1} MiB |",
        r.memory.rss_kib as f64 / 1024.0,
        r.memory.uss_kib as f64 / 1024.0
    );
    out
}

/// Baton's CPU use (in cores) over `window` with nothing but the relays running.
async fn idle_window(pid: u32, window: Duration) -> f64 {
    let a = CpuTime::of(&[pid]);
    let t = Instant::now();
    tokio::time::sleep(window).await;
    let b = CpuTime::of(&[pid]);
    b.run_ns.saturating_sub(a.run_ns) as f64 / 1e9 / t.elapsed().as_secs_f64()
}

/// Relays whose state series says `forwarding`.
fn count_forwarding(metrics: &str) -> usize {
    metrics
        .lines()
        .filter(|l| {
            l.starts_with("baton_relay_state{")
                && l.contains("state=\"forwarding\"")
                && l.ends_with(" 1")
        })
        .count()
}

async fn wait_forwarding(server: &Server, relays: usize, limit: Duration) -> Result<usize> {
    let start = Instant::now();
    loop {
        let n = count_forwarding(&server.scrape().await?);
        if n >= relays {
            return Ok(n);
        }
        if start.elapsed() > limit {
            bail!("only {n} of {relays} relays forwarding after {limit:?}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `relays` tasks from the ingest's `live/src` to its `live/out{i}`, starting in 2 s.
async fn create_tasks(server: &Server, key: &Key, relays: usize) -> Result<()> {
    let mut conn = Http::connect(server.serve.api).await?;
    let now = unix_now();
    let rtmp = server.serve.rtmp;
    for i in 0..relays {
        let params = [
            ("Action", "CreateLivePullToPush".to_string()),
            ("Region", "cn-shanghai".into()),
            ("TaskName", format!("scrape {i}")),
            ("SourceType", "live".into()),
            ("SourceProtocol", "rtmp".into()),
            ("SourceUrls", format!(r#"["rtmp://{rtmp}/live/src"]"#)),
            ("DstUrl", format!("rtmp://{rtmp}/live/out{i}")),
            ("StartTime", format_utc(now + 2)),
            ("EndTime", format_utc(now + 86_400)),
        ];
        let query = signed_query(key, &params, &format!("scrape-create-{i}"));
        let (status, body) = conn.get(&query).await?;
        if status != 200 {
            bail!("CreateLivePullToPush answered {status}: {body}");
        }
    }
    Ok(())
}

/// `baton serve` with a metrics listener and one account whose tasks may reach loopback.
struct Server {
    serve: BatonServe,
    metrics: SocketAddr,
}

impl Server {
    fn start(args: &ScrapeArgs, key: &Key) -> Result<Server> {
        let metrics = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        // Every relay holds two ingest connections (its source and its destination).
        let config = format!(
            "metrics_listen = \"{metrics}\"\n\
             [api]\nactions_per_second = 1000000\n\
             [[api.keys]]\naccess_key_id = \"{}\"\naccess_key_secret = \"{}\"\naccount = \"bench\"\n\
             [ingest]\nmax_connections = {}\n\
             [egress.accounts.bench]\nlocal_networks = true\n",
            key.id,
            key.secret,
            2 * args.relays + 64,
        );
        Ok(Server {
            serve: BatonServe::start(&args.baton, &args.run_dir, &config)?,
            metrics,
        })
    }

    async fn scrape(&self) -> Result<String> {
        let mut conn = Http::connect(self.metrics).await?;
        let request = format!("GET /metrics HTTP/1.1\r\nHost: {}\r\n\r\n", self.metrics);
        let (status, body) = conn.exchange(request).await?;
        if status != 200 {
            bail!("/metrics answered {status}: {body}");
        }
        Ok(body)
    }
}

/// The one ffmpeg publisher of `live/src`, killed when dropped.
struct Publisher(Child);

impl Publisher {
    fn start(args: &ScrapeArgs, rtmp: SocketAddr) -> Result<Publisher> {
        let log = std::fs::File::create(args.run_dir.join("ffmpeg.log"))?;
        let child = Command::new("ffmpeg")
            .args([
                "-nostdin",
                "-loglevel",
                "error",
                "-re",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=160x90:rate=5",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-tune",
                "zerolatency",
                "-g",
                "10",
                "-b:v",
                "30k",
                "-f",
                "flv",
            ])
            .arg(format!("rtmp://{rtmp}/live/src"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting ffmpeg")?;
        Ok(Publisher(child))
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
