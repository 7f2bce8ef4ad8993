//! The live origins the sources benchmark relays from, as child processes (killed when
//! dropped): an HLS producer (ffmpeg's HLS muxer) whose files nginx serves, or one ffmpeg SRT
//! sender in listener mode per relay.

use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::process::{Child, Command};

use crate::sut::{free_port, log_file, shell_words, signal, spawn_nginx};

/// HLS segment length, seconds (the clip's GOP is 2 s, so every segment starts on a keyframe).
const HLS_TIME: &str = "2";
/// Segments the producer keeps in its sliding window.
const HLS_LIST_SIZE: &str = "6";

#[derive(Debug)]
enum Shape {
    /// Every relay pulls this playlist.
    Hls { playlist: String },
    /// Relay i calls the sender listening on `127.0.0.1:(base + i)`.
    Srt { base: u16 },
}

/// A running origin.
#[derive(Debug)]
pub struct Origin {
    shape: Shape,
    children: Vec<Child>,
    /// Measured but not spawned by us (nginx's worker).
    extra_pids: Vec<u32>,
    commands: Vec<String>,
}

impl Origin {
    /// One ffmpeg HLS producer looping `clip` in real time into `run_dir/hls`, served by nginx.
    /// Returns when the playlist lists three segments.
    pub async fn hls(clip: &Path, run_dir: &Path) -> Result<Origin> {
        let dir = std::path::absolute(run_dir.join("hls"))?;
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        let port = free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let nginx = spawn_nginx(&dir, &nginx_conf(&dir, addr), addr)
            .await
            .context("nginx (the HLS origin)")?;
        let playlist_path = dir.join("live.m3u8");
        let producer_args = looped(
            clip,
            &[
                "-f",
                "hls",
                "-hls_time",
                HLS_TIME,
                "-hls_list_size",
                HLS_LIST_SIZE,
                "-hls_flags",
                "delete_segments",
                "-hls_segment_filename",
                &dir.join("seg%05d.ts").display().to_string(),
                &playlist_path.display().to_string(),
            ],
        );
        let producer = spawn_ffmpeg(&producer_args, &dir, "producer.log")
            .context("starting the ffmpeg HLS producer")?;
        let origin = Origin {
            shape: Shape::Hls {
                playlist: format!("http://{addr}/live.m3u8"),
            },
            children: vec![nginx.child, producer],
            extra_pids: nginx.workers,
            commands: vec![
                format!("origin: ffmpeg {}", shell_words(&producer_args)),
                format!("origin: nginx {}", shell_words(&nginx.args)),
            ],
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let listed = fs::read_to_string(&playlist_path)
                .map(|p| p.matches("#EXTINF").count())
                .unwrap_or(0);
            if listed >= 3 {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "the HLS producer listed {listed} segments after 20 s (see {})",
                    dir.join("producer.log").display()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(origin)
    }

    /// `relays` ffmpeg senders looping `clip` in real time as MPEG-TS over SRT, each listening
    /// on its own port and streaming to the first caller.
    pub fn srt(clip: &Path, relays: usize, run_dir: &Path) -> Result<Origin> {
        let dir: PathBuf = run_dir.join("srt");
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let base = free_udp_ports(relays)?;
        let mut origin = Origin {
            shape: Shape::Srt { base },
            children: Vec::new(),
            extra_pids: Vec::new(),
            commands: Vec::new(),
        };
        for i in 0..relays {
            let port = usize::from(base) + i;
            let listen = format!("srt://127.0.0.1:{port}?mode=listener");
            let args = looped(clip, &["-f", "mpegts", &listen]);
            if i == 0 {
                origin.commands.push(format!(
                    "origin: ffmpeg {}   (one per relay, port = {base} + i)",
                    shell_words(&args)
                ));
            }
            let child = spawn_ffmpeg(&args, &dir, &format!("sender-{i}.log"))
                .context("starting an ffmpeg SRT sender")?;
            origin.children.push(child);
        }
        Ok(origin)
    }

    /// The source URL template for the Baton host (`{i}`, `{port}`; see `baton-bench host`).
    pub fn source_template(&self) -> String {
        match &self.shape {
            Shape::Hls { playlist } => format!("{playlist}?r={{i}}"),
            Shape::Srt { .. } => "srt://127.0.0.1:{port}".to_string(),
        }
    }

    /// The first port of the SRT senders.
    pub fn port_base(&self) -> Option<u16> {
        match self.shape {
            Shape::Srt { base } => Some(base),
            Shape::Hls { .. } => None,
        }
    }

    /// Relay `i`'s source URL.
    pub fn source(&self, i: usize) -> String {
        match &self.shape {
            Shape::Hls { playlist } => format!("{playlist}?r={i}"),
            Shape::Srt { base } => format!("srt://127.0.0.1:{}", usize::from(*base) + i),
        }
    }

    pub fn pids(&self) -> Vec<u32> {
        self.children
            .iter()
            .filter_map(Child::id)
            .chain(self.extra_pids.iter().copied())
            .collect()
    }

    pub fn commands(&self) -> Vec<String> {
        self.commands.clone()
    }

    /// Stops every process by PID.
    pub async fn stop(mut self) {
        for child in &mut self.children {
            let _ = child.start_kill();
        }
        for child in &mut self.children {
            let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
        }
        for &pid in &self.extra_pids {
            if Path::new(&format!("/proc/{pid}")).exists() {
                signal(pid, "KILL");
            }
        }
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        for &pid in &self.extra_pids {
            if Path::new(&format!("/proc/{pid}")).exists() {
                signal(pid, "KILL");
            }
        }
    }
}

/// ffmpeg arguments that loop `clip` in real time, copied, into `output` (format and target).
fn looped(clip: &Path, output: &[&str]) -> Vec<String> {
    let clip = clip.display().to_string();
    let input = [
        "-nostdin",
        "-loglevel",
        "error",
        "-re",
        "-stream_loop",
        "-1",
        "-i",
        &clip,
        "-c",
        "copy",
    ];
    input.iter().chain(output).map(|a| a.to_string()).collect()
}

/// Starts ffmpeg with `args`, its stderr in `dir/log`; killed when dropped.
fn spawn_ffmpeg(args: &[String], dir: &Path, log: &str) -> Result<Child> {
    Ok(Command::new("ffmpeg")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file(dir, log)?)
        .kill_on_drop(true)
        .spawn()?)
}

/// The first of `n` consecutive loopback UDP ports that were free a moment ago.
fn free_udp_ports(n: usize) -> Result<u16> {
    let n = u16::try_from(n).context("too many relays for consecutive UDP ports")?;
    let start = 30_000 + rand::random::<u16>() % 10_000;
    'bases: for base in (start..50_000).step_by(usize::from(n.max(1))) {
        let Some(end) = base.checked_add(n) else {
            break;
        };
        for port in base..end {
            if UdpSocket::bind(("127.0.0.1", port)).is_err() {
                continue 'bases;
            }
        }
        return Ok(base);
    }
    bail!("no {n} consecutive free UDP ports between 30000 and 50000")
}

/// nginx.conf for the HLS origin: one worker, loopback only, the producer's files with HLS
/// MIME types and no caching.
fn nginx_conf(dir: &Path, listen: SocketAddr) -> String {
    format!(
        "worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/logs/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    types {{
        application/vnd.apple.mpegurl m3u8;
        video/mp2t ts;
    }}
    server {{
        listen {listen};
        root {dir};
        add_header Cache-Control no-cache;
    }}
}}
",
        dir = dir.display(),
    )
}
