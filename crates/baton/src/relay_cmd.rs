//! `baton relay SRC DST`: one relay in the foreground with a refreshing status line.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use std::sync::Arc;

use baton_relay::{Relay, RelayConfig, RelayStatus, Slate, SlateClip, SlateConfig};
use clap::Args;
use tracing::{error, info};

#[derive(Args, Debug)]
pub struct RelayArgs {
    /// Source URL: rtmp[s]://HOST[:PORT]/APP/STREAM, http(s)://…/STREAM.flv, an HLS live
    /// playlist http(s)://…/PLAYLIST.m3u8 (MPEG-TS or fMP4 segments, AES-128 or clear) or an
    /// SRT stream (MPEG-TS) srt://HOST:PORT?streamid=…&passphrase=…&latency=MS, or
    /// srt://:PORT?mode=listener to wait for the encoder to call, or an RTSP camera
    /// rtsp://[USER:PASSWORD@]HOST[:554]/PATH (H.264/H.265 with AAC; RTP over the RTSP TCP
    /// connection, or over UDP with ?transport=udp)
    source: String,
    /// Destination URL: rtmp://HOST[:PORT]/APP/STREAM, rtmps://HOST[:443]/APP/STREAM (RTMP
    /// over TLS, as Facebook Live and YouTube take it; rtmps:// sources work too), or an SRT
    /// receiver srt://HOST:PORT?streamid=…&passphrase=…&latency=MS (MPEG-TS pushed as a
    /// caller), or srt://IP:PORT?mode=listener to wait for the receiver to call. Give several
    /// to push to all of them at once: each has its own session, queue and reconnects, and the
    /// relay fails only when every one has
    #[arg(required = true, num_args = 1..)]
    destinations: Vec<String>,
    /// A backup source (same forms as SRC), repeated for several: when the source in use
    /// delivers nothing for --failover-after (or is refused), the next one is used, and the
    /// relay fails only when every source failed in one pass. Destinations keep their session.
    #[arg(long = "backup-source", value_name = "URL")]
    backup_sources: Vec<String>,
    /// With backup sources: how long the source in use may deliver nothing before the next one
    /// is used.
    #[arg(long, default_value = "5s", value_parser = crate::duration::parse)]
    failover_after: Duration,
    /// With backup sources: while a backup is in use, try the first source again this often
    /// and switch back once it has delivered this long without a gap (default: no failback).
    #[arg(long, value_parser = crate::duration::parse)]
    failback_after: Option<Duration>,
    /// While no source delivers, send every destination this clip looped (FLV, MP4 or
    /// MPEG-TS, a path or an http(s) URL, read once at start; in the live stream's codecs:
    /// nothing is re-encoded) until a source returns or --slate-hold ends, so the platform
    /// keeps the broadcast. `default`: Baton's built-in H.264/AAC card of the live stream's
    /// resolution (640x360, 1280x720 or 1920x1080, the closest). Default: no slate.
    #[arg(long, value_name = "FILE|default")]
    slate: Option<String>,
    /// With --slate: how long no source media before the slate starts.
    #[arg(long, default_value = "1s", value_parser = crate::duration::parse)]
    slate_after: Duration,
    /// With --slate: how long the slate may play before the relay gives up (replaces --grace
    /// while the slate plays).
    #[arg(long, default_value = "5m", value_parser = crate::duration::parse)]
    slate_hold: Duration,
    /// A PEM file of CA certificates trusted besides the bundled web PKI roots, for rtmps://
    /// and https:// servers with a private CA's certificate.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<std::path::PathBuf>,
    /// How long to hold the destination while the source is away (and how long either side
    /// may stay down) before giving up. The default rides through a 30 s encoder restart.
    #[arg(long, default_value = "35s", value_parser = crate::duration::parse)]
    grace: Duration,
    /// A connected source that sends nothing this long is reconnected.
    #[arg(long, default_value = "5s", value_parser = crate::duration::parse)]
    stall_timeout: Duration,
    /// Start the relay again this many times after it fails for a reason retrying can fix
    /// (-1: forever). A refusal (bad stream key, forbidden stream) always ends it.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    restarts: i64,
    /// Status line interval; 0 disables it.
    #[arg(long, default_value = "1s", value_parser = crate::duration::parse)]
    status_interval: Duration,
}

pub async fn run(args: RelayArgs) -> anyhow::Result<ExitCode> {
    // clap's `required = true` makes the first one present.
    let (first, extra) = args.destinations.split_first().expect("a destination");
    let mut config = RelayConfig::new(&args.source, first);
    config.extra_destinations = extra.to_vec();
    config.grace = args.grace;
    config.backup_sources = args.backup_sources.clone();
    config.failover_after = args.failover_after;
    if let Some(back) = args.failback_after {
        config.failback_every = Some(back);
        config.failback_healthy = back;
    }
    config.source_stall_timeout = args.stall_timeout;
    config.client.tls = crate::config::tls_client(args.ca_file.as_deref())?;
    config.egress = config.egress.with_tls(config.client.tls.clone());
    if let Some(slate) = &args.slate {
        let clip = match slate.as_str() {
            "default" => SlateClip::Default,
            file => match Slate::load(file, &config.egress).await {
                Ok(clip) => {
                    info!(slate = %file, resolution = ?clip.resolution(), loop_duration = ?clip.loop_duration(), audio = clip.has_audio(), "slate loaded");
                    SlateClip::Clip(Arc::new(clip))
                }
                Err(e) => {
                    error!(error = %e, "cannot load the slate");
                    return Ok(ExitCode::from(2));
                }
            },
        };
        config.slate = Some(SlateConfig {
            clip,
            after: args.slate_after,
            hold: args.slate_hold,
        });
    }
    let printer = StatusPrinter::new(args.status_interval);
    let shutdown = crate::serve::shutdown_signal();
    tokio::pin!(shutdown);
    let mut restarts_left = args.restarts;
    loop {
        let relay = match Relay::spawn(config.clone()) {
            Ok(r) => r,
            Err(e) => {
                error!(error = %e, "cannot start the relay");
                return Ok(ExitCode::from(2));
            }
        };
        info!(source = %baton_net::rtsp::mask_userinfo(&args.source), destinations = ?args.destinations, "relay started");
        let status = relay.status_cell();
        let stop = relay.stop_handle();
        let mut ticker = tokio::time::interval(printer.interval.max(Duration::from_millis(100)));
        let wait = relay.wait();
        tokio::pin!(wait);
        let mut stopping = false;
        let outcome = loop {
            tokio::select! {
                outcome = &mut wait => break outcome,
                _ = ticker.tick() => printer.print(&status.snapshot()),
                _ = &mut shutdown, if !stopping => {
                    stopping = true;
                    printer.finish();
                    info!("stopping: closing the destination cleanly");
                    stop.cancel();
                }
            }
        };
        printer.finish();
        match outcome {
            Ok(()) => return Ok(ExitCode::SUCCESS),
            Err(e) if stopping => {
                error!(error = %e, "relay ended with an error while stopping");
                return Ok(ExitCode::FAILURE);
            }
            Err(e) if e.retryable && restarts_left != 0 => {
                restarts_left -= 1;
                error!(error = %e, "relay failed; restarting in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                error!(side = %e.side, kind = ?e.kind, retryable = e.retryable, error = %e, "relay failed");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
}

/// Prints `state  bitrate  fps  uptime ...` to stderr: in place on a terminal, one line per
/// interval otherwise.
struct StatusPrinter {
    interval: Duration,
    tty: bool,
}

impl StatusPrinter {
    fn new(interval: Duration) -> StatusPrinter {
        StatusPrinter {
            interval,
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn print(&self, s: &RelayStatus) {
        if self.interval.is_zero() {
            return;
        }
        let line = format_status(s);
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            write!(err, "\r\x1b[2K{line}")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }

    fn finish(&self) {
        if self.tty && !self.interval.is_zero() {
            let _ = writeln!(std::io::stderr());
        }
    }
}

pub fn format_status(s: &RelayStatus) -> String {
    let secs = s.uptime.as_secs();
    let mut line = format!(
        "{:<24} {:>8.1} kb/s {:>5.1} fps  up {:02}:{:02}:{:02}  in {}  out {}  dropped {}  rebases {}",
        s.state.as_str(),
        s.bitrate_out as f64 / 1000.0,
        s.fps,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        human_bytes(s.bytes_in),
        human_bytes(s.bytes_out),
        s.frames_dropped,
        s.timeline.rebases,
    );
    if let Some(srt) = &s.srt {
        line.push_str(&format!(
            "  srt rtt {:.1} ms lost {} retx {} drop {}",
            srt.rtt.as_secs_f64() * 1000.0,
            srt.packets_lost,
            srt.packets_retransmitted,
            srt.packets_dropped
        ));
    }
    if let Some(srt) = &s.destination_srt {
        line.push_str(&format!(
            "  srt out rtt {:.1} ms lost {} retx {} drop {} buf {} ms",
            srt.rtt.as_secs_f64() * 1000.0,
            srt.packets_lost,
            srt.packets_retransmitted,
            srt.packets_dropped,
            srt.send_buffer_time.as_millis()
        ));
    }
    // Several destinations: each one's state.
    if s.destinations.len() > 1 {
        let states: Vec<String> = s
            .destinations
            .iter()
            .map(|d| format!("{} {}", d.id, d.state.as_str()))
            .collect();
        line.push_str(&format!("  dst {}", states.join(", ")));
    }
    // Backup sources: the one in use and the switches so far.
    if s.sources.len() > 1 {
        line.push_str(&format!(
            "  src {}/{} switches {}",
            s.active_source,
            s.sources.len(),
            s.source_switches
        ));
    }
    // The slate: playing now, or how often it played.
    if s.slate_active {
        line.push_str(&format!("  SLATE on (start {})", s.slate_starts));
    } else if s.slate_starts > 0 {
        line.push_str(&format!("  slate starts {}", s.slate_starts));
    }
    // RTMPS sides name their TLS: version, cipher, the certificate's names.
    for (side, transport) in [
        ("src", &s.source_transport),
        ("dst", &s.destination_transport),
    ] {
        if let Some(t) = transport.as_ref().filter(|t| t.tls.is_some()) {
            line.push_str(&format!("  {side} {t}"));
        }
    }
    if let Some(e) = s
        .last_error
        .as_ref()
        .filter(|_| s.state != baton_relay::RelayState::Forwarding)
    {
        line.push_str(&format!("  last error: {}", e.error));
    }
    line
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.2} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        relay: RelayArgs,
    }

    #[test]
    fn takes_one_destination_or_several() {
        let one = Cli::try_parse_from(["relay", "rtmp://s/live/a", "rtmp://d/live/b"]).unwrap();
        assert_eq!(one.relay.destinations, ["rtmp://d/live/b"]);
        let two = Cli::try_parse_from([
            "relay",
            "rtmp://s/live/a",
            "rtmp://d/live/b",
            "srt://e:9000?streamid=b",
            "--grace",
            "10s",
        ])
        .unwrap();
        assert_eq!(
            two.relay.destinations,
            ["rtmp://d/live/b", "srt://e:9000?streamid=b"]
        );
        assert_eq!(two.relay.grace, Duration::from_secs(10));
        assert!(Cli::try_parse_from(["relay", "rtmp://s/live/a"]).is_err());
    }

    #[test]
    fn takes_backup_sources_and_failover_times() {
        let cli = Cli::try_parse_from([
            "relay",
            "rtmp://s/live/a",
            "--backup-source",
            "srt://b:9000?streamid=a",
            "rtmp://d/live/b",
            "--backup-source",
            "http://c/live/a.flv",
            "--failover-after",
            "3s",
            "--failback-after",
            "1m",
        ])
        .unwrap();
        assert_eq!(
            cli.relay.backup_sources,
            ["srt://b:9000?streamid=a", "http://c/live/a.flv"]
        );
        assert_eq!(cli.relay.destinations, ["rtmp://d/live/b"]);
        assert_eq!(cli.relay.failover_after, Duration::from_secs(3));
        assert_eq!(cli.relay.failback_after, Some(Duration::from_secs(60)));
        let none = Cli::try_parse_from(["relay", "rtmp://s/live/a", "rtmp://d/live/b"]).unwrap();
        assert!(none.relay.backup_sources.is_empty());
        assert_eq!(none.relay.slate, None);
        assert_eq!(none.relay.failback_after, None);
    }

    #[test]
    fn takes_a_slate_and_its_times() {
        let cli = Cli::try_parse_from([
            "relay",
            "rtmp://s/live/a",
            "rtmp://d/live/b",
            "--slate",
            "default",
            "--slate-hold",
            "10m",
        ])
        .unwrap();
        assert_eq!(cli.relay.slate.as_deref(), Some("default"));
        assert_eq!(cli.relay.slate_after, Duration::from_secs(1));
        assert_eq!(cli.relay.slate_hold, Duration::from_secs(600));
    }
}
