//! `baton-bench host`: the Baton system under test. A child process hosting N
//! `baton_relay::Relay`s on a `RelayPool` (one single-threaded runtime per core), as the
//! engine runs them, so the bench measures the engine and nothing else in its process. The
//! control channel (stdio) runs on a separate small runtime.
//!
//! It talks to the bench over stdio, one line each way:
//! `ready` (printed once the runtime is up, before any relay: the idle baseline) ←
//! `start` → `started N`; `status` → `status …counters…`; `stop` or end of input → every relay
//! is stopped cleanly, `stopped …counters…` is printed and the process exits.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use baton_net::egress::{Egress, EgressPolicy, EgressRules};
use baton_relay::{Relay, RelayConfig, RelayPool, RelayState};
use clap::Args;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Time allowed for all relays to close their destinations on `stop`.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Arguments of the hidden `host` subcommand.
#[derive(Args, Debug, Clone)]
pub struct HostArgs {
    /// Relays to run.
    #[arg(long)]
    pub relays: usize,
    /// Source URL template: relay i pulls it with `{i}` replaced by i and `{port}` by
    /// `--port-base` + i (without `{i}`, i is appended).
    #[arg(long)]
    pub source: String,
    /// First source port, for `{port}` in `--source`.
    #[arg(long, default_value_t = 0)]
    pub port_base: u16,
    /// Destination URL prefix; relay i pushes to `{destination}{i}`.
    #[arg(long)]
    pub destination: String,
    /// Destinations per relay, K: relay i also pushes to `{destination}{i + d × relays}`
    /// for d = 1..K, as `RelayConfig::extra_destinations` (a task's extra destinations).
    #[arg(long, default_value_t = 1)]
    pub destinations: usize,
    /// Relay threads (default: one per core, as the engine).
    #[arg(long)]
    pub workers: Option<usize>,
    /// PEM CA certificates trusted besides the web PKI roots (`rtmps://` destinations).
    #[arg(long)]
    pub ca_file: Option<std::path::PathBuf>,
}

pub fn run(args: HostArgs) -> ExitCode {
    let pool = match args.workers {
        Some(w) => RelayPool::new(w),
        None => RelayPool::per_core(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let (pool, runtime) = match (pool, runtime) {
        (Ok(pool), Ok(rt)) => (pool, rt),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("baton-bench host: cannot start the runtimes: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args, &pool)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("baton-bench host: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: HostArgs, pool: &RelayPool) -> Result<()> {
    let mut out = tokio::io::stdout();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    say(&mut out, "ready").await?;
    let mut relays: Vec<Relay> = Vec::new();
    let tls = match &args.ca_file {
        Some(path) => {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let certs = baton_net::tls::parse_pem_certificates(&pem)?;
            baton_net::tls::TlsClient::new(&certs)?
        }
        None => baton_net::tls::TlsClient::default(),
    };
    let policy = Arc::new(EgressPolicy::new(
        Some("root"),
        EgressRules::default(),
        HashMap::new(),
    ));
    loop {
        let line = lines.next_line().await.context("reading commands")?;
        match line.as_deref().map(str::trim) {
            Some("start") if relays.is_empty() => {
                for i in 0..args.relays {
                    let mut config = RelayConfig::new(
                        source_url(&args.source, i, args.port_base),
                        format!("{}{i}", args.destination),
                    );
                    config.extra_destinations = (1..args.destinations)
                        .map(|d| format!("{}{}", args.destination, i + d * args.relays))
                        .collect();
                    // As `baton serve` runs the root account's tasks: every connection
                    // checked by the default egress policy.
                    config.egress = Egress::new(Arc::clone(&policy), "root");
                    config.client.tls = tls.clone();
                    relays.push(pool.spawn(config).with_context(|| format!("relay {i}"))?);
                }
                say(&mut out, &format!("started {}", relays.len())).await?;
            }
            Some("status") => say(&mut out, &format!("status {}", Totals::of(&relays))).await?,
            Some("stop") | None => break,
            Some(other) => say(&mut out, &format!("error unknown command {other:?}")).await?,
        }
    }
    let totals = Totals::of(&relays);
    for relay in &relays {
        relay.stop();
    }
    let wait_all = async {
        for relay in relays {
            let _ = relay.wait().await;
        }
    };
    let clean = tokio::time::timeout(STOP_TIMEOUT, wait_all).await.is_ok();
    say(&mut out, &format!("stopped clean={clean} {totals}")).await
}

/// Relay `i`'s source: `template` with `{i}` and `{port}` (= `port_base + i`) filled in, or
/// `i` appended when the template has neither.
fn source_url(template: &str, i: usize, port_base: u16) -> String {
    if !template.contains("{i}") && !template.contains("{port}") {
        return format!("{template}{i}");
    }
    let port = usize::from(port_base) + i;
    template
        .replace("{port}", &port.to_string())
        .replace("{i}", &i.to_string())
}

async fn say(out: &mut tokio::io::Stdout, line: &str) -> Result<()> {
    out.write_all(format!("{line}\n").as_bytes())
        .await
        .context("writing to the bench")?;
    out.flush().await.context("writing to the bench")
}

/// Counters summed over all relays, as one `key=value` line.
#[derive(Debug, Default)]
struct Totals {
    running: usize,
    failed: usize,
    frames_in: u64,
    frames_out: u64,
    frames_dropped: u64,
    destination_sessions: u64,
    source_connections: u64,
    dts_corrections: u64,
}

impl Totals {
    fn of(relays: &[Relay]) -> Totals {
        let mut t = Totals::default();
        for relay in relays {
            let s = relay.status();
            t.running += usize::from(s.state == RelayState::Forwarding);
            t.failed += usize::from(s.state == RelayState::Failed);
            t.frames_in += s.frames_in;
            t.frames_out += s.frames_out;
            t.frames_dropped += s.frames_dropped;
            t.destination_sessions += s.destination_sessions;
            t.source_connections += s.source_connections;
            t.dts_corrections += s.timeline.dts_corrections;
        }
        t
    }
}

impl std::fmt::Display for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "running={} failed={} frames_in={} frames_out={} frames_dropped={} destination_sessions={} source_connections={} dts_corrections={}",
            self.running,
            self.failed,
            self.frames_in,
            self.frames_out,
            self.frames_dropped,
            self.destination_sessions,
            self.source_connections,
            self.dts_corrections
        )
    }
}

#[cfg(test)]
mod tests {
    use super::source_url;

    #[test]
    fn source_templates() {
        assert_eq!(source_url("rtmp://h/live/s", 3, 0), "rtmp://h/live/s3");
        assert_eq!(source_url("rtmp://h/live/s{i}", 3, 0), "rtmp://h/live/s3");
        assert_eq!(
            source_url("http://h/live.m3u8?r={i}", 7, 0),
            "http://h/live.m3u8?r=7"
        );
        assert_eq!(
            source_url("srt://h:{port}?r={i}", 2, 30000),
            "srt://h:30002?r=2"
        );
    }
}
