//! `baton-bench api`: sustained signed-API throughput. Starts `baton serve` with N API keys
//! (N accounts, `actions_per_second` raised so the throttle does not hide the replay
//! protection), creates one task per account, then sends Alibaba RPC (HMAC-SHA1)
//! `DescribeLivePullToPush` requests of that task over C keep-alive connections, the keys in
//! turn, each with a fresh `SignatureNonce` — every request spends a nonce. Reports requests/s,
//! latency percentiles, answers by code (503s separately), Baton's CPU and memory, the replay
//! database's size and the live set, and how long a restart takes to load it back.
//!
//! With `--database postgres://…` the servers share a PostgreSQL database, and with `--nodes N`
//! N of them run as one cluster (issue 15): the connections are spread over the nodes, the
//! tasks are created through all of them (creates/s timed), and a nonce spent through one node
//! is spent for all (the replay table is the database's).
//!
//! The client is a minimal HTTP/1.1 one (one request in flight per connection, Content-Length
//! bodies), so the generator costs little of the two cores it shares with the server.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use baton_api::common::params::{canonical_query, pct};
use baton_api::common::signature::rpc;
use baton_api::common::time::format_utc;
use clap::Args;
use tracing::info;

use crate::histogram::Histogram;
use crate::http::Http;
use crate::procstat::{CpuTime, MachineInfo, Memory, ticks_per_second};
use crate::serve::BatonServe;

#[derive(Args, Debug)]
pub struct ApiArgs {
    /// The `baton` binary to serve (build it with `cargo build --release --bin baton`).
    #[arg(long, default_value = "target/release/baton")]
    baton: PathBuf,
    /// API keys (one account each); requests use them in turn.
    #[arg(long, default_value_t = 100)]
    keys: usize,
    /// Keep-alive connections, one request in flight on each.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Length of the measurement window.
    #[arg(long, value_parser = crate::parse_duration, default_value = "60s")]
    duration: Duration,
    /// Load before the window (not counted).
    #[arg(long, value_parser = crate::parse_duration, default_value = "5s")]
    warmup: Duration,
    /// Requests per second in all, paced per connection; 0: as fast as answers come.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// `[api] actions_per_second` of the server.
    #[arg(long, default_value_t = 1_000_000)]
    server_rate: u32,
    /// Progress line every this often.
    #[arg(long, value_parser = crate::parse_duration, default_value = "10s")]
    every: Duration,
    /// After the window, SIGKILL the server and time a restart (loading the live set).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    restart: bool,
    /// Where the server's config, data and logs go (emptied first).
    #[arg(long, default_value = "target/bench-run/api")]
    run_dir: PathBuf,
    /// The servers' database (`postgres://…`); default: each its own SQLite in its data dir.
    #[arg(long)]
    database: Option<String>,
    /// Servers sharing `--database` as one cluster (more than one needs PostgreSQL).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Tasks created before the window, over all connections at once (timed: creates/s); the
    /// first `--keys` of them, one per account, are the tasks described. At least `--keys`.
    #[arg(long, default_value_t = 0)]
    creates: usize,
}

/// One key: its id, secret and its account's task.
#[derive(Clone, Debug)]
pub(crate) struct Key {
    pub(crate) id: String,
    pub(crate) secret: String,
    pub(crate) task: String,
}

/// Counters shared by the connections.
#[derive(Debug, Default)]
struct Totals {
    ok: AtomicU64,
    unavailable: AtomicU64,
    other: AtomicU64,
    errors: AtomicU64,
}

/// What one connection measured in the window.
#[derive(Debug, Default)]
struct Window {
    latency: Histogram,
    ok: u64,
    unavailable: u64,
    other: Vec<(u16, String)>,
    errors: u64,
}

pub async fn run(args: ApiArgs) -> Result<ExitCode> {
    if args.keys == 0 || args.connections == 0 || args.nodes == 0 {
        bail!("--keys, --connections and --nodes must be at least 1");
    }
    if args.nodes > 1 && args.database.is_none() {
        bail!(
            "--nodes {} needs --database postgres://… (SQLite is one node)",
            args.nodes
        );
    }
    let _ = std::fs::remove_dir_all(&args.run_dir);
    std::fs::create_dir_all(&args.run_dir).context("creating the run dir")?;
    let salt: u64 = rand::random();
    let keys: Vec<Key> = (0..args.keys)
        .map(|i| Key {
            id: format!("LTAIbench{i:04}{:08x}", salt as u32),
            secret: format!("BenchSecret{i:04}{salt:016x}"),
            task: String::new(),
        })
        .collect();
    let mut servers = Vec::new();
    for n in 0..args.nodes {
        servers.push(start_server(&args, &keys, n)?);
    }
    for server in &mut servers {
        server.wait_ready(Duration::from_secs(60)).await?;
    }
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.api).collect();
    let pids: Vec<u32> = servers.iter().map(|s| s.pid()).collect();

    let creates = args.creates.max(args.keys);
    let created = Instant::now();
    let keys = create_tasks(&addrs, keys, creates, args.connections).await?;
    let creates_per_second = creates as f64 / created.elapsed().as_secs_f64();
    let keys = Arc::new(keys);
    info!(
        creates,
        "{creates_per_second:.0} creates/s (one task per account described)"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let totals = Arc::new(Totals::default());
    let start = Instant::now();
    let window = (start + args.warmup, start + args.warmup + args.duration);
    let interval = (args.rate > 0)
        .then(|| Duration::from_secs_f64(args.connections as f64 / args.rate as f64));
    let mut tasks = Vec::new();
    for c in 0..args.connections {
        let (keys, stop, totals) = (keys.clone(), stop.clone(), totals.clone());
        let addr = addrs[c % addrs.len()];
        tasks.push(tokio::spawn(async move {
            connection(addr, c, keys, salt, window, interval, stop, totals).await
        }));
    }
    // A task write every 50 ms (UpdateLivePullToPush of key 0's task: one write to the task
    // database), timed: what the nonce writes cost the task store.
    let probe = {
        let (keys, stop, addr) = (keys.clone(), stop.clone(), addrs[0]);
        tokio::spawn(async move { probe_task_writes(addr, keys, window, stop).await })
    };
    let ticks = ticks_per_second();
    tokio::time::sleep_until(window.0.into()).await;
    let cpu0 = CpuTime::of(&pids);
    let machine0 = crate::procstat::machine_busy_ticks();
    let mut last = (Instant::now(), totals.ok.load(Ordering::Relaxed));
    while Instant::now() < window.1 {
        let next = (Instant::now() + args.every).min(window.1);
        tokio::time::sleep_until(next.into()).await;
        let ok = totals.ok.load(Ordering::Relaxed);
        let rate = (ok - last.1) as f64 / last.0.elapsed().as_secs_f64();
        info!(
            "{:>6.0} s: {rate:>7.0} req/s 200; 503 so far {}, other {}, errors {}",
            (Instant::now() - window.0).as_secs_f64(),
            totals.unavailable.load(Ordering::Relaxed),
            totals.other.load(Ordering::Relaxed),
            totals.errors.load(Ordering::Relaxed),
        );
        last = (Instant::now(), ok);
    }
    let cpu1 = CpuTime::of(&pids);
    let machine1 = crate::procstat::machine_busy_ticks();
    let memory = Memory::of(&pids);
    stop.store(true, Ordering::Relaxed);
    let mut all = Window::default();
    for t in tasks {
        let w = t.await.context("a connection task failed")??;
        all.latency.merge(&w.latency);
        all.ok += w.ok;
        all.unavailable += w.unavailable;
        all.errors += w.errors;
        all.other.extend(w.other);
    }
    let writes = probe.await.context("the probe failed")??;
    let seconds = args.duration.as_secs_f64();
    let (cpu, _) = cpu0.percent_until(&cpu1, seconds, ticks);
    let machine = match (machine0, machine1) {
        (Some(a), Some(b)) => 100.0 * (b - a) as f64 / ticks as f64 / seconds,
        _ => f64::NAN,
    };
    // On PostgreSQL the spent nonces are in the database (not measured here), and a restart
    // loads nothing: both are SQLite's numbers.
    let sqlite = args.database.is_none();
    let db = sqlite.then(|| replay_db_bytes(&servers[0]));
    let restart = if args.restart && sqlite {
        Some(servers[0].restart(Duration::from_secs(300)).await?)
    } else {
        None
    };
    for server in &mut servers {
        server.stop();
    }

    let report = report(
        &args,
        &all,
        &writes,
        seconds,
        creates_per_second,
        cpu,
        machine,
        memory,
        db,
        restart,
    );
    println!("{report}");
    Ok(if all.unavailable == 0 && all.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[allow(clippy::too_many_arguments)]
fn report(
    args: &ApiArgs,
    w: &Window,
    writes: &Histogram,
    seconds: f64,
    creates_per_second: f64,
    cpu: f64,
    machine: f64,
    memory: Memory,
    db: Option<u64>,
    restart: Option<Duration>,
) -> String {
    let q = |p: f64| w.latency.quantile(p).unwrap_or(0) as f64 / 1000.0;
    let total = w.ok + w.unavailable + w.other.len() as u64;
    let mut out = String::new();
    let info = MachineInfo::collect();
    let _ = writeln!(
        out,
        "\nSigned DescribeLivePullToPush (RPC HMAC-SHA1), {} on {}, {} keys, {} connections, {} s \
         window after {} s warm-up{}; {}, {} cores",
        match args.nodes {
            1 => "1 node".to_string(),
            n => format!("{n} nodes"),
        },
        if args.database.is_some() {
            "PostgreSQL (same machine)"
        } else {
            "SQLite"
        },
        args.keys,
        args.connections,
        seconds,
        args.warmup.as_secs_f64(),
        if args.rate > 0 {
            format!(", paced at {} req/s", args.rate)
        } else {
            String::new()
        },
        info.cpu_model,
        info.cores,
    );
    let _ = writeln!(
        out,
        "\n| creates/s | requests/s (200) | p50 ms | p90 ms | p99 ms | max ms | 200 | 503 | other | \
         errors | Baton CPU % | machine CPU % | Baton RSS MiB | replay db MiB | restart s |"
    );
    let _ = writeln!(
        out,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let _ = writeln!(
        out,
        "| {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {} | {} |",
        creates_per_second,
        w.ok as f64 / seconds,
        q(0.5),
        q(0.9),
        q(0.99),
        w.latency.max() as f64 / 1000.0,
        w.ok,
        w.unavailable,
        w.other.len(),
        w.errors,
        cpu,
        machine,
        memory.rss_kib as f64 / 1024.0,
        db.map_or("-".into(), |b| format!(
            "{:.0}",
            b as f64 / (1024.0 * 1024.0)
        )),
        restart.map_or("-".into(), |d| format!("{:.1}", d.as_secs_f64())),
    );
    let _ = writeln!(out, "\n{total} answers in the window.");
    let _ = writeln!(
        out,
        "Task writes meanwhile (UpdateLivePullToPush every 50 ms): {} answered, p50 {:.2} ms, \
         p99 {:.2} ms, max {:.1} ms.",
        writes.count(),
        writes.quantile(0.5).unwrap_or(0) as f64 / 1000.0,
        writes.quantile(0.99).unwrap_or(0) as f64 / 1000.0,
        writes.max() as f64 / 1000.0,
    );
    if let Some((status, body)) = w.other.first() {
        let _ = writeln!(out, "First other answer: {status} {body}");
    }
    out
}

/// Creates `count` tasks (starting in a day: nothing runs) over `connections` connections at
/// once, spread over the nodes at `addrs`; the first one of each key's account is the task its
/// Describes read. Returns the keys with their task ids.
async fn create_tasks(
    addrs: &[SocketAddr],
    keys: Vec<Key>,
    count: usize,
    connections: usize,
) -> Result<Vec<Key>> {
    let keys = Arc::new(keys);
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for c in 0..connections.min(count) {
        let (keys, next, addr) = (keys.clone(), next.clone(), addrs[c % addrs.len()]);
        workers.push(tokio::spawn(async move {
            let mut conn = Http::connect(addr).await?;
            let now = unix_now();
            let mut made = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= count {
                    return Ok::<_, anyhow::Error>(made);
                }
                let key = &keys[i % keys.len()];
                let params = [
                    ("Action", "CreateLivePullToPush".to_string()),
                    ("Region", "cn-shanghai".into()),
                    ("TaskName", format!("bench {i}")),
                    ("SourceType", "live".into()),
                    ("SourceProtocol", "rtmp".into()),
                    ("SourceUrls", r#"["rtmp://127.0.0.1:9/live/src"]"#.into()),
                    ("DstUrl", "rtmp://127.0.0.1:9/live/dst".into()),
                    ("StartTime", format_utc(now + 86_400)),
                    ("EndTime", format_utc(now + 2 * 86_400)),
                ];
                let query = signed_query(key, &params, &format!("create{i}"));
                let (status, body) = conn.get(&query).await?;
                if status != 200 {
                    bail!("CreateLivePullToPush answered {status}: {body}");
                }
                let v: serde_json::Value = serde_json::from_str(&body).context("Create's JSON")?;
                let id = v["TaskId"]
                    .as_str()
                    .context("Create's answer has no TaskId")?
                    .to_string();
                made.push((i, id));
            }
        }));
    }
    let mut keys = Arc::unwrap_or_clone(keys);
    for w in workers {
        for (i, id) in w.await.context("a create worker failed")?? {
            if i < keys.len() {
                keys[i].task = id;
            }
        }
    }
    Ok(keys)
}

#[allow(clippy::too_many_arguments)]
async fn connection(
    addr: SocketAddr,
    c: usize,
    keys: Arc<Vec<Key>>,
    salt: u64,
    window: (Instant, Instant),
    interval: Option<Duration>,
    stop: Arc<AtomicBool>,
    totals: Arc<Totals>,
) -> Result<Window> {
    let mut w = Window::default();
    let mut conn = Http::connect(addr).await?;
    let mut next = Instant::now();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if let Some(interval) = interval {
            tokio::time::sleep_until(next.into()).await;
            next += interval;
        }
        let key = &keys[(c + n as usize * 7919) % keys.len()];
        n += 1;
        let params = [
            ("Action", "DescribeLivePullToPush".to_string()),
            ("Region", "cn-shanghai".into()),
            ("TaskId", key.task.clone()),
        ];
        let nonce = format!("{salt:016x}{c:04x}{n:012x}");
        let query = signed_query(key, &params, &nonce);
        let sent = Instant::now();
        let answer = conn.get(&query).await;
        let in_window = sent >= window.0 && sent < window.1;
        match answer {
            Ok((status, body)) => {
                let counter = match status {
                    200 => &totals.ok,
                    503 => &totals.unavailable,
                    _ => &totals.other,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                if in_window {
                    w.latency.record(sent.elapsed().as_micros() as u64);
                    match status {
                        200 => w.ok += 1,
                        503 => w.unavailable += 1,
                        _ if w.other.len() < 1000 => w.other.push((status, body)),
                        _ => {}
                    }
                }
            }
            Err(_) => {
                totals.errors.fetch_add(1, Ordering::Relaxed);
                if in_window {
                    w.errors += 1;
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                conn = Http::connect(addr).await?;
            }
        }
    }
    Ok(w)
}

/// Renames key 0's task every 50 ms in the window; the latencies of the 200s.
async fn probe_task_writes(
    addr: SocketAddr,
    keys: Arc<Vec<Key>>,
    window: (Instant, Instant),
    stop: Arc<AtomicBool>,
) -> Result<Histogram> {
    let mut latency = Histogram::new();
    let mut conn = Http::connect(addr).await?;
    tokio::time::sleep_until(window.0.into()).await;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) && Instant::now() < window.1 {
        n += 1;
        let key = &keys[0];
        let params = [
            ("Action", "UpdateLivePullToPush".to_string()),
            ("Region", "cn-shanghai".into()),
            ("TaskId", key.task.clone()),
            ("TaskName", format!("renamed {n}")),
        ];
        let query = signed_query(key, &params, &format!("probe{n}"));
        let sent = Instant::now();
        if let Ok((200, _)) = conn.get(&query).await {
            latency.record(sent.elapsed().as_micros() as u64);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(latency)
}

/// The query of a signed RPC v1 request: `params`, the common parameters, `Signature`.
pub(crate) fn signed_query(key: &Key, params: &[(&str, String)], nonce: &str) -> String {
    let timestamp = format_utc(unix_now());
    let mut pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.extend([
        ("Version", "2016-11-01"),
        ("Format", "JSON"),
        ("Timestamp", timestamp.as_str()),
        ("SignatureMethod", rpc::SIGNATURE_METHOD),
        ("SignatureVersion", rpc::SIGNATURE_VERSION),
        ("SignatureNonce", nonce),
        ("AccessKeyId", key.id.as_str()),
    ]);
    let canonical = canonical_query(pairs.into_iter());
    let signature = rpc::sign(&key.secret, &format!("GET&%2F&{}", pct(&canonical)));
    format!("{canonical}&Signature={}", pct(&signature))
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `baton serve` number `node` with one account per key (each key's `actions_per_second` as
/// asked), on `--database` if given (run dir `node<N>` of several).
fn start_server(args: &ApiArgs, keys: &[Key], node: usize) -> Result<BatonServe> {
    let mut config = String::new();
    if let Some(database) = &args.database {
        let _ = writeln!(config, "database = {database:?}");
    }
    // The tasks name loopback sources (never started: they begin in a day), which only the
    // root account may reach by default.
    let _ = write!(
        config,
        "[egress]\nlocal_networks = true\n\n[api]\nactions_per_second = {}\n",
        args.server_rate
    );
    for (i, k) in keys.iter().enumerate() {
        let _ = write!(
            config,
            "\n[[api.keys]]\naccess_key_id = \"{}\"\naccess_key_secret = \"{}\"\naccount = \"bench-{i}\"\n",
            k.id, k.secret
        );
    }
    let run_dir = if args.nodes > 1 {
        let dir = args.run_dir.join(format!("node{node}"));
        std::fs::create_dir_all(&dir).context("creating a node's run dir")?;
        dir
    } else {
        args.run_dir.clone()
    };
    BatonServe::start(&args.baton, &run_dir, &config)
}

/// Bytes of the replay database and its WAL.
fn replay_db_bytes(server: &BatonServe) -> u64 {
    ["baton-replay.db", "baton-replay.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(server.run_dir().join("data").join(f)).ok())
        .map(|m| m.len())
        .sum()
}
