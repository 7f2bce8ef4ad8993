//! The systems under test, as child processes: Baton (`baton-bench host`), nginx-rtmp with
//! `push`, and one `ffmpeg -c copy` per relay. Each is started with its exact command line
//! recorded for the report, measured through its PIDs, and stopped by PID; whatever happens
//! (error, timeout, panic), dropping a [`Sut`] kills every process it started.

use std::fmt;
use std::fs::{self, File};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tracing::warn;

use crate::procstat::{self, Memory};

/// The nginx-rtmp module shipped by Debian's libnginx-mod-rtmp.
pub const NGINX_RTMP_MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";
/// nginx's `stream` module (Debian's libnginx-mod-stream): the RTMPS target's TLS terminator.
pub const NGINX_STREAM_MODULE: &str = "/usr/lib/nginx/modules/ngx_stream_module.so";

/// A system under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Target {
    Baton,
    /// Baton pushing `rtmps://`: the sink behind an nginx `stream` TLS terminator (a process
    /// of its own, not measured), so the row differs from `baton` by Baton's TLS cost.
    BatonRtmps,
    Nginx,
    Ffmpeg,
    /// One ffmpeg per relay writing all its destinations through the `tee` muxer (differs
    /// from `ffmpeg` only with `--destinations` above 1, where `ffmpeg` runs K processes).
    /// Refused for now (see [`Target::unavailable`]).
    FfmpegTee,
    /// No relay: the generator publishes straight into the sink. Calibrates the bench's own
    /// latency and CPU at each N.
    Direct,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Baton => "baton",
            Target::BatonRtmps => "baton (rtmps destinations)",
            Target::Nginx => "nginx-rtmp",
            Target::Ffmpeg => "ffmpeg -c copy",
            Target::FfmpegTee => "ffmpeg -c copy -f tee",
            Target::Direct => "direct (no relay)",
        })
    }
}

impl Target {
    /// Why this target cannot run here, if it cannot.
    pub fn unavailable(self) -> Option<String> {
        match self {
            Target::Baton => None,
            Target::BatonRtmps if !procstat::installed("nginx") => {
                Some("nginx (the TLS terminator) is not installed".into())
            }
            Target::BatonRtmps if !Path::new(NGINX_STREAM_MODULE).is_file() => Some(format!(
                "{NGINX_STREAM_MODULE} is missing (libnginx-mod-stream)"
            )),
            Target::Nginx if !procstat::installed("nginx") => Some("nginx is not installed".into()),
            Target::Nginx if !Path::new(NGINX_RTMP_MODULE).is_file() => Some(format!(
                "{NGINX_RTMP_MODULE} is missing (libnginx-mod-rtmp)"
            )),
            // Refused until the sink's ledger matches timestamps within a millisecond: the tee
            // muxer re-times every packet (video 0/33/66 ms where the source and a plain
            // `-f flv` have 0/34/67, audio's first frame 33 instead of 46 ms), so the exact-DTS
            // ledger counts every frame unexpected and lost (seen in a smoke, 2026-12-07).
            Target::FfmpegTee => Some(
                "not measurable yet: the tee muxer re-times packets by a millisecond and the \
                 sink's ledger matches timestamps exactly (every frame would count as lost)"
                    .into(),
            ),
            Target::Ffmpeg if !procstat::installed("ffmpeg") => {
                Some("ffmpeg is not installed".into())
            }
            _ => None,
        }
    }
}

/// A running system under test.
#[derive(Debug)]
pub struct Sut {
    pub target: Target,
    children: Vec<Child>,
    /// Processes measured but not spawned by us directly (nginx's worker).
    extra_pids: Vec<u32>,
    host: Option<HostPipe>,
    /// A helper that is not measured (the RTMPS target's TLS terminator).
    terminator: Option<Nginx>,
    /// Memory of the processes before any stream flowed (zero for ffmpeg, where each
    /// process *is* a relay).
    pub baseline: Memory,
    /// How it was started, for the report.
    pub commands: Vec<String>,
}

#[derive(Debug)]
struct HostPipe {
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Sut {
    /// No system under test (the [`Target::Direct`] calibration).
    pub fn none() -> Sut {
        Sut {
            target: Target::Direct,
            children: Vec::new(),
            extra_pids: Vec::new(),
            host: None,
            terminator: None,
            baseline: Memory::default(),
            commands: vec!["(none: the generator publishes to the sink itself)".into()],
        }
    }

    /// Starts `baton-bench host` with `relays` relays pulling `rtmp://{source}/live/s{i}` and
    /// pushing to `rtmp://{sink}/live/s{i + d × relays}` for each of their `destinations`
    /// (d = 0..K). Returns once the relays are spawned; the baseline is the idle host before
    /// that.
    pub async fn start_baton(
        relays: usize,
        destinations: usize,
        source: SocketAddr,
        sink: SocketAddr,
        options: &crate::measure::Options,
        run_dir: &Path,
    ) -> Result<Sut> {
        let source = format!("rtmp://{source}/live/s{{i}}");
        let destination = format!("rtmp://{sink}/live/s");
        let extra = ["--destinations".to_string(), destinations.to_string()];
        Sut::start_baton_urls(
            relays,
            &source,
            None,
            &destination,
            &extra,
            options,
            run_dir,
        )
        .await
    }

    /// As [`Sut::start_baton`], pushing `rtmps://` to an nginx `stream` TLS terminator in
    /// front of the sink, with a certificate of a CA made now (rcgen) that the host trusts.
    /// The terminator is not measured.
    pub async fn start_baton_rtmps(
        relays: usize,
        destinations: usize,
        source: SocketAddr,
        sink: SocketAddr,
        options: &crate::measure::Options,
        run_dir: &Path,
    ) -> Result<Sut> {
        let dir = run_dir.join(format!("rtmps-{relays}"));
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let (ca, cert, key) = (
            dir.join("ca.pem"),
            dir.join("cert.pem"),
            dir.join("key.pem"),
        );
        let (ca_pem, cert_pem, key_pem) = test_certificate()?;
        for (path, pem) in [(&ca, ca_pem), (&cert, cert_pem), (&key, key_pem)] {
            fs::write(path, pem).with_context(|| format!("writing {}", path.display()))?;
        }
        let port = free_port()?;
        let listen = SocketAddr::from(([127, 0, 0, 1], port));
        let conf = format!(
            "{head}stream {{
    server {{
        listen {listen} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        proxy_pass {sink};
    }}
}}
",
            head = nginx_head(NGINX_STREAM_MODULE, &dir, relays * destinations),
            cert = cert.display(),
            key = key.display(),
        );
        let terminator = spawn_nginx(&dir, &conf, listen).await?;
        let source = format!("rtmp://{source}/live/s{{i}}");
        let destination = format!("rtmps://127.0.0.1:{port}/live/s");
        let extra = [
            "--ca-file".to_string(),
            ca.display().to_string(),
            "--destinations".into(),
            destinations.to_string(),
        ];
        let mut sut = Sut::start_baton_urls(
            relays,
            &source,
            None,
            &destination,
            &extra,
            options,
            run_dir,
        )
        .await?;
        sut.target = Target::BatonRtmps;
        sut.commands.push(format!(
            "nginx {} (TLS terminator in front of the sink, not measured)",
            shell_words(&terminator.args)
        ));
        sut.terminator = Some(terminator);
        Ok(sut)
    }

    /// Starts `baton-bench host` with `relays` relays pulling `source` (a template: `{i}` is
    /// the relay's index, `{port}` is `port_base + i`) and pushing to `{destination}{i}`;
    /// `extra` goes to the host's command line.
    pub async fn start_baton_urls(
        relays: usize,
        source: &str,
        port_base: Option<u16>,
        destination: &str,
        extra: &[String],
        options: &crate::measure::Options,
        run_dir: &Path,
    ) -> Result<Sut> {
        let workers = options.host_workers;
        let exe = std::env::current_exe().context("locating the bench binary")?;
        let mut args = vec![
            "host".to_string(),
            "--relays".into(),
            relays.to_string(),
            "--source".into(),
            source.to_string(),
            "--destination".into(),
            destination.to_string(),
        ];
        args.extend(extra.iter().cloned());
        if let Some(base) = port_base {
            args.extend(["--port-base".to_string(), base.to_string()]);
        }
        if let Some(w) = workers {
            args.extend(["--workers".to_string(), w.to_string()]);
        }
        let log = log_file(run_dir, &format!("baton-host-{relays}.log"))?;
        let mut command = match options.host_wrapper.split_first() {
            Some((wrapper, wrapper_args)) => {
                let mut c = Command::new(wrapper);
                c.args(wrapper_args).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let mut child = command
            .args(&args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            bail!("the host's stdio pipes are missing");
        };
        let mut sut = Sut {
            target: Target::Baton,
            children: vec![child],
            extra_pids: Vec::new(),
            host: Some(HostPipe {
                stdin,
                stdout: BufReader::new(stdout).lines(),
            }),
            terminator: None,
            baseline: Memory::default(),
            commands: vec![format!("baton-bench {}", args.join(" "))],
        };
        sut.expect_line("ready", Duration::from_secs(10)).await?;
        // Let the runtime's threads settle before taking the idle baseline.
        tokio::time::sleep(Duration::from_millis(300)).await;
        sut.baseline = Memory::of(&sut.pids());
        sut.host_command("start", "started", Duration::from_secs(60))
            .await?;
        Ok(sut)
    }

    /// Starts nginx (one worker) with nginx-rtmp pushing every stream published to its
    /// `live` application to `rtmp://{sink}/live` and, for `destinations` K above 1, to
    /// `rtmp://{sink}/live{d}` (d = 1..K: one `push` line each). Returns it and its RTMP
    /// address.
    pub async fn start_nginx(
        relays: usize,
        destinations: usize,
        sink: SocketAddr,
        run_dir: &Path,
    ) -> Result<(Sut, SocketAddr)> {
        let dir = run_dir.join(format!("nginx-{relays}"));
        fs::create_dir_all(dir.join("logs"))
            .with_context(|| format!("creating {}", dir.display()))?;
        let port = free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let conf = nginx_conf(&dir, addr, sink, relays, destinations);
        let nginx = spawn_nginx(&dir, &conf, addr).await?;
        let mut sut = Sut {
            target: Target::Nginx,
            children: vec![nginx.child],
            extra_pids: nginx.workers,
            host: None,
            terminator: None,
            baseline: Memory::default(),
            commands: vec![
                format!("nginx {}", shell_words(&nginx.args)),
                format!("nginx.conf:\n{conf}"),
            ],
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        sut.baseline = Memory::of(&sut.pids());
        Ok((sut, addr))
    }

    /// Starts one `ffmpeg -c copy` per relay, pulling `rtmp://{source}/live/s{i}`.
    pub async fn start_ffmpeg(
        relays: usize,
        source: SocketAddr,
        sink: SocketAddr,
        run_dir: &Path,
    ) -> Result<Sut> {
        let input = |i: usize| format!("rtmp://{source}/live/s{i}");
        Sut::start_ffmpeg_inputs(
            relays,
            input,
            sink,
            &run_dir.join(format!("ffmpeg-{relays}")),
        )
        .await
    }

    /// Starts one `ffmpeg -c copy -f tee` per relay, relay i pulling
    /// `rtmp://{source}/live/s{i}` and pushing to `rtmp://{sink}/live/s{i + d × relays}` for
    /// d = 0..`destinations`.
    pub async fn start_ffmpeg_tee(
        relays: usize,
        destinations: usize,
        source: SocketAddr,
        sink: SocketAddr,
        run_dir: &Path,
    ) -> Result<Sut> {
        let dir = run_dir.join(format!("ffmpeg-tee-{relays}x{destinations}"));
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut sut = Sut {
            target: Target::FfmpegTee,
            children: Vec::new(),
            extra_pids: Vec::new(),
            host: None,
            terminator: None,
            baseline: Memory::default(),
            commands: Vec::new(),
        };
        for i in 0..relays {
            let outputs: Vec<String> = (0..destinations.max(1))
                .map(|d| format!("[f=flv]rtmp://{sink}/live/s{}", i + d * relays))
                .collect();
            let args: Vec<String> = [
                "-nostdin",
                "-loglevel",
                "error",
                "-i",
                &format!("rtmp://{source}/live/s{i}"),
                "-map",
                "0",
                "-c",
                "copy",
                "-f",
                "tee",
                &outputs.join("|"),
            ]
            .map(String::from)
            .to_vec();
            if i == 0 {
                sut.commands.push(format!(
                    "ffmpeg {}   (one per relay, i = 0..N)",
                    shell_words(&args)
                ));
            }
            let child = Command::new("ffmpeg")
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file(&dir, &format!("ffmpeg-{i}.log"))?)
                .kill_on_drop(true)
                .spawn()
                .context("starting ffmpeg")?;
            sut.children.push(child);
        }
        Ok(sut)
    }

    /// Starts one `ffmpeg -c copy` per relay, relay i reading `input(i)` and pushing to
    /// `rtmp://{sink}/live/s{i}`; logs go to `dir`.
    pub async fn start_ffmpeg_inputs(
        relays: usize,
        input: impl Fn(usize) -> String,
        sink: SocketAddr,
        dir: &Path,
    ) -> Result<Sut> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut sut = Sut {
            target: Target::Ffmpeg,
            children: Vec::new(),
            extra_pids: Vec::new(),
            host: None,
            terminator: None,
            baseline: Memory::default(),
            commands: Vec::new(),
        };
        for i in 0..relays {
            let args = ffmpeg_args(&input(i), sink, i);
            if i == 0 {
                sut.commands.push(format!(
                    "ffmpeg {}   (one per relay, i = 0..N)",
                    shell_words(&args)
                ));
            }
            let child = Command::new("ffmpeg")
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file(dir, &format!("ffmpeg-{i}.log"))?)
                .kill_on_drop(true)
                .spawn()
                .context("starting ffmpeg")?;
            sut.children.push(child);
        }
        Ok(sut)
    }

    /// The processes to measure.
    pub fn pids(&self) -> Vec<u32> {
        self.children
            .iter()
            .filter_map(Child::id)
            .chain(self.extra_pids.iter().copied())
            .collect()
    }

    /// Processes started that have exited already.
    pub fn exited(&mut self) -> usize {
        self.children
            .iter_mut()
            .map(Child::try_wait)
            .filter(|status| !matches!(status, Ok(None)))
            .count()
    }

    /// What to note about the target after a measurement window: processes that exited,
    /// and the Baton host's relay counters.
    pub async fn notes_after_window(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        let exited = self.exited();
        if exited > 0 {
            notes.push(format!(
                "{exited} process(es) of the target exited during the run"
            ));
        }
        if matches!(self.target, Target::Baton | Target::BatonRtmps)
            && let Ok(line) = self
                .host_command("status", "status", Duration::from_secs(10))
                .await
        {
            notes.push(format!(
                "relay counters: {}",
                line.trim_start_matches("status ")
            ));
        }
        notes
    }

    /// Baton host only: sends `command` and returns the answer line starting with `expect`.
    pub async fn host_command(
        &mut self,
        command: &str,
        expect: &str,
        timeout: Duration,
    ) -> Result<String> {
        let host = self
            .host
            .as_mut()
            .ok_or_else(|| anyhow!("not a Baton host"))?;
        host.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .context("writing to the host")?;
        host.stdin.flush().await.context("writing to the host")?;
        self.expect_line(expect, timeout).await
    }

    /// Stops everything: Baton cleanly (`stop`, its relays close their destinations), nginx
    /// with SIGTERM, ffmpeg with SIGKILL; anything still alive after a grace period is killed.
    /// Returns the Baton host's final counters line.
    pub async fn stop(mut self) -> Result<Option<String>> {
        let mut last_words = None;
        if self.host.is_some() {
            match self
                .host_command("stop", "stopped", Duration::from_secs(30))
                .await
            {
                Ok(line) => last_words = Some(line),
                Err(e) => warn!(error = %e, "the Baton host did not stop cleanly"),
            }
        }
        if self.target == Target::Nginx {
            for child in &self.children {
                if let Some(pid) = child.id() {
                    signal(pid, "TERM");
                }
            }
        }
        if self.target == Target::Ffmpeg {
            for child in &mut self.children {
                let _ = child.start_kill();
            }
        }
        for child in &mut self.children {
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        }
        for &pid in &self.extra_pids {
            if Path::new(&format!("/proc/{pid}")).exists() {
                signal(pid, "KILL");
            }
        }
        if let Some(mut terminator) = self.terminator.take() {
            let _ = terminator.child.start_kill();
            let _ = terminator.child.wait().await;
            for &pid in &terminator.workers {
                signal(pid, "KILL");
            }
        }
        Ok(last_words)
    }

    async fn expect_line(&mut self, expect: &str, timeout: Duration) -> Result<String> {
        let host = self
            .host
            .as_mut()
            .ok_or_else(|| anyhow!("not a Baton host"))?;
        let read = async {
            loop {
                match host
                    .stdout
                    .next_line()
                    .await
                    .context("reading from the host")?
                {
                    Some(line) if line.starts_with(expect) => return Ok(line),
                    Some(line) => warn!(line, "unexpected line from the host"),
                    None => bail!("the host exited (see its log in the run directory)"),
                }
            }
        };
        tokio::time::timeout(timeout, read)
            .await
            .map_err(|_| anyhow!("no {expect:?} from the host within {timeout:?}"))?
    }
}

impl Drop for Sut {
    fn drop(&mut self) {
        // Children are killed by `kill_on_drop`; nginx's worker is not our child.
        let terminator = self.terminator.iter().flat_map(|t| t.workers.iter());
        for &pid in self.extra_pids.iter().chain(terminator) {
            if Path::new(&format!("/proc/{pid}")).exists() {
                signal(pid, "KILL");
            }
        }
    }
}

/// An nginx the bench started: the master (killed when dropped), its workers (not our
/// children: whoever keeps them kills them by PID) and its command line.
#[derive(Debug)]
pub struct Nginx {
    pub child: Child,
    pub workers: Vec<u32>,
    pub args: Vec<String>,
}

/// Starts nginx in the foreground with `conf` written to `dir/nginx.conf`, its prefix and
/// logs under `dir`; returns once it listens on `listen` and has a worker.
pub async fn spawn_nginx(dir: &Path, conf: &str, listen: SocketAddr) -> Result<Nginx> {
    fs::create_dir_all(dir.join("logs")).with_context(|| format!("creating {}", dir.display()))?;
    let conf_path = dir.join("nginx.conf");
    fs::write(&conf_path, conf).with_context(|| format!("writing {}", conf_path.display()))?;
    let args = vec![
        "-p".to_string(),
        format!("{}/", dir.display()),
        "-c".into(),
        conf_path.display().to_string(),
        "-e".into(),
        dir.join("logs/error.log").display().to_string(),
        "-g".into(),
        "daemon off;".into(),
    ];
    let child = Command::new("nginx")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(log_file(dir, "stdout.log")?)
        .stderr(log_file(dir, "stderr.log")?)
        .kill_on_drop(true)
        .spawn()
        .context("starting nginx")?;
    let master = child.id().ok_or_else(|| anyhow!("nginx exited at once"))?;
    let mut nginx = Nginx {
        child,
        workers: Vec::new(),
        args,
    };
    wait_listening(listen, Duration::from_secs(10))
        .await
        .with_context(|| {
            format!(
                "nginx did not listen (see {}/logs/error.log)",
                dir.display()
            )
        })?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        nginx.workers = procstat::children(master);
        if !nginx.workers.is_empty() {
            return Ok(nginx);
        }
        if tokio::time::Instant::now() > deadline {
            // The master is killed with `nginx` dropped here.
            bail!("nginx started no worker process");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The ffmpeg relay command line for stream `i` reading `input`, as the issues specify it.
pub fn ffmpeg_args(input: &str, sink: SocketAddr, i: usize) -> Vec<String> {
    [
        "-nostdin",
        "-loglevel",
        "error",
        "-i",
        input,
        "-c",
        "copy",
        "-f",
        "flv",
        &format!("rtmp://{sink}/live/s{i}"),
    ]
    .map(String::from)
    .to_vec()
}

/// nginx.conf for the benchmark: one worker, RTMP on loopback only, `destinations` `push`
/// lines to the sink (apps `live`, `live1`, …: `push` keeps the stream name, so the sink
/// tells a relay's destinations apart by app).
pub fn nginx_conf(
    dir: &Path,
    listen: SocketAddr,
    sink: SocketAddr,
    relays: usize,
    destinations: usize,
) -> String {
    let push: String = (0..destinations.max(1))
        .map(|d| {
            let app = if d == 0 {
                "live".to_string()
            } else {
                format!("live{d}")
            };
            format!("            push rtmp://{sink}/{app};\n")
        })
        .collect();
    format!(
        "{head}rtmp {{
    server {{
        listen {listen};
        chunk_size 4096;
        application live {{
            live on;
{push}        }}
    }}
}}
",
        head = nginx_head(NGINX_RTMP_MODULE, dir, relays * destinations.max(1)),
    )
}

/// The top of the benchmark's nginx.conf files: `module` loaded, one worker, room for two
/// connections a stream (and their fds), pid and error log in `dir`.
fn nginx_head(module: &str, dir: &Path, streams: usize) -> String {
    let connections = (streams * 2 + 64).max(1024);
    format!(
        "load_module {module};
worker_processes 1;
worker_rlimit_nofile {nofile};
pid {dir}/nginx.pid;
error_log {dir}/logs/error.log warn;
events {{
    worker_connections {connections};
}}
",
        nofile = connections * 2,
        dir = dir.display(),
    )
}

pub fn log_file(dir: &Path, name: &str) -> Result<File> {
    let path: PathBuf = dir.join(name);
    File::create(&path).with_context(|| format!("creating {}", path.display()))
}

/// A loopback port that was free a moment ago (nginx binds it itself).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr().context("finding a free port")?.port())
}

async fn wait_listening(addr: SocketAddr, timeout: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("nothing listens on {addr} after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends a signal by PID with kill(1) (the bench forbids `unsafe`, so no libc call).
pub fn signal(pid: u32, name: &str) {
    let _ = std::process::Command::new("kill")
        .args(["-s", name, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

pub fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if a.contains([' ', ';', '\'', '|', '[']) {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// (CA, certificate, key) PEMs: a CA made now and a certificate for 127.0.0.1 it signed.
fn test_certificate() -> Result<(String, String, String)> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "baton-bench CA");
    let ca_pem = ca.self_signed(&ca_key)?.pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate()?;
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])?.signed_by(&key, &issuer)?;
    Ok((ca_pem, cert.pem(), key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_pushes_once_per_destination_to_its_own_app() {
        let addr = |p| SocketAddr::from(([127, 0, 0, 1], p));
        let conf = nginx_conf(Path::new("/tmp/x"), addr(1935), addr(2000), 100, 3);
        let pushes: Vec<&str> = conf.lines().filter(|l| l.contains("push ")).collect();
        assert_eq!(
            pushes.iter().map(|l| l.trim()).collect::<Vec<_>>(),
            [
                "push rtmp://127.0.0.1:2000/live;",
                "push rtmp://127.0.0.1:2000/live1;",
                "push rtmp://127.0.0.1:2000/live2;"
            ]
        );
        // Two connections a sink stream, at least 1024.
        assert!(conf.contains("worker_connections 1024;"));
    }
}
