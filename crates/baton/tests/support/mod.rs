//! What the binary's integration tests share: the real `baton` binary run with a scrubbed
//! environment, `baton serve` on free 127.0.0.1 ports (ready once `/healthz` answers 200,
//! killed by its PID on drop, its stderr shown when a test fails), tokens made with
//! `baton token create`, temporary directories, and a raw HTTP/1.1 client.
//!
//! Every wait is bounded: a command by [`COMMAND_DEADLINE`], a server's start by
//! [`START_DEADLINE`], other waits by the limit their caller names.
//!
//! Not every test file uses every item; those some files leave unused carry
//! `#[allow(dead_code)]`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_baton");
/// The longest a CLI command may take.
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(30);
/// The longest `baton serve` may take to get ready.
pub const START_DEADLINE: Duration = Duration::from_secs(30);

/// Host variables besides `BATON_*` (all removed) that would change what the children do.
const SCRUBBED: [&str; 5] = [
    "NO_COLOR",
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
];

/// Removes the host's `BATON_*`, `NO_COLOR` and proxy variables from `cmd`.
fn scrub(cmd: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("BATON_") {
            cmd.env_remove(name);
        }
    }
    for var in SCRUBBED {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost");
}

/// A directory removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory under the system's temp dir, named after `tag`.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "baton-test-{tag}-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("creating a temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port nothing listens on right now (bound, then closed).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding an ephemeral port")
        .port()
}

/// `127.0.0.1:PORT` on a [`free_port`].
fn free_addr() -> String {
    format!("127.0.0.1:{}", free_port())
}

/// Calls `f` every `every` until it gives a value or `limit` has passed (then `None`).
pub fn poll<T>(limit: Duration, every: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = f() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// Waits (polling every 50 ms) until `ok` holds; panics naming `what` after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut ok: impl FnMut() -> bool) {
    if poll(limit, Duration::from_millis(50), || ok().then_some(())).is_none() {
        panic!("timed out after {limit:?}: {what}");
    }
}

/// A child process killed (by its PID) and reaped on drop.
#[derive(Debug)]
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `baton ARGS` with the host's variables scrubbed, `BATON_LOG=warn`, no stdin, stdout and
/// stderr piped. The caller adds its environment and working directory.
#[allow(dead_code)] // not used by listeners.rs
pub fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    scrub(&mut cmd);
    cmd.env("BATON_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// What a finished command left.
#[derive(Debug)]
#[allow(dead_code)] // not used by listeners.rs
pub struct Out {
    /// The exit code (-1: killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

#[allow(dead_code)] // not every file uses every accessor
impl Out {
    /// Itself, once it exited 0.
    pub fn ok(self) -> Out {
        assert_eq!(self.code, 0, "command failed: {self:#?}");
        self
    }

    /// Stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    /// The last word of the last non-empty stdout line (where `baton token create` prints
    /// the token).
    pub fn last_word(&self) -> String {
        self.stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or_else(|| panic!("nothing printed: {self:#?}"))
            .to_string()
    }
}

/// Runs `cmd` (see [`command`]) to its end, bounded by [`COMMAND_DEADLINE`]: past it the
/// child is killed and the test fails.
#[allow(dead_code)] // not used by listeners.rs
pub fn run(cmd: &mut Command) -> Out {
    let mut child = Guard(cmd.spawn().expect("spawning baton"));
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut s);
            }
            s
        })
    };
    let stdout = reader(child.0.stdout.take().map(|p| Box::new(p) as _));
    let stderr = reader(child.0.stderr.take().map(|p| Box::new(p) as _));
    let status = poll(COMMAND_DEADLINE, Duration::from_millis(20), || {
        child.0.try_wait().expect("waiting for baton")
    })
    .unwrap_or_else(|| panic!("{cmd:?} did not finish in {COMMAND_DEADLINE:?}"));
    Out {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// A token of `account` named `name`, made by `baton token create --init` in `data` (the
/// account is created first unless it is `root`).
#[allow(dead_code)] // used by cli.rs and metrics.rs
pub fn create_token(data: &Path, account: &str, name: &str) -> String {
    let data = data.to_str().expect("UTF-8 data dir");
    if account != "root" {
        run(&mut command(&[
            "account",
            "create",
            account,
            "--init",
            "--data-dir",
            data,
        ]))
        .ok();
    }
    run(&mut command(&[
        "token",
        "create",
        "--account",
        account,
        "--name",
        name,
        "--data-dir",
        data,
        "--init",
    ]))
    .ok()
    .last_word()
}

/// How to start `baton serve`; the listeners always get free 127.0.0.1 ports.
#[derive(Debug, Default)]
pub struct Serve<'a> {
    /// `--data-dir`; `None`: `args` or the working directory's default decide.
    pub data_dir: Option<&'a Path>,
    /// More arguments after `serve`.
    pub args: &'a [&'a str],
    /// Variables set on top of the scrubbed environment (`BATON_LOG=info`).
    pub env: &'a [(&'a str, &'a str)],
    /// The working directory (default: the test's).
    pub cwd: Option<&'a Path>,
    /// Also `--metrics-listen` on a free port.
    pub metrics: bool,
    /// Run under `ulimit -n` of this (soft and hard).
    pub fd_limit: Option<u32>,
    /// Ready only once stderr also has this.
    pub ready_line: Option<&'a str>,
}

impl Serve<'_> {
    /// Starts it and waits until it is ready. A free port can be taken between probing and
    /// binding: a server that exits before it is ready is started again on other ports
    /// (three times in all).
    pub fn start(&self) -> Server {
        let logs = TempDir::new("serve-logs");
        for attempt in 1..=3 {
            let (api, rtmp, play) = (free_addr(), free_addr(), free_addr());
            let metrics = self.metrics.then(free_addr);
            let stderr_log = logs.0.join(format!("stderr-{attempt}.log"));
            let stdout_log = logs.0.join(format!("stdout-{attempt}.log"));
            let mut cmd = match self.fd_limit {
                Some(n) => {
                    let mut sh = Command::new("sh");
                    sh.arg("-c")
                        .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                        .arg(BIN);
                    sh
                }
                None => Command::new(BIN),
            };
            cmd.arg("serve");
            if let Some(data) = self.data_dir {
                cmd.arg("--data-dir").arg(data);
            }
            cmd.args(self.args)
                .args(["--api-listen", &api, "--rtmp-listen", &rtmp])
                .args(["--play-listen", &play]);
            if let Some(metrics) = &metrics {
                cmd.args(["--metrics-listen", metrics]);
            }
            if let Some(cwd) = self.cwd {
                cmd.current_dir(cwd);
            }
            scrub(&mut cmd);
            cmd.env("BATON_LOG", "info")
                .envs(self.env.iter().copied())
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&stdout_log).expect("creating a log"))
                .stderr(std::fs::File::create(&stderr_log).expect("creating a log"));
            let process = Guard(cmd.spawn().expect("spawning baton serve"));
            let mut server = Server {
                pid: process.0.id(),
                process,
                api,
                rtmp,
                play,
                metrics,
                stderr_log,
                stdout_log,
                _logs: None,
            };
            let ready = poll(START_DEADLINE, Duration::from_millis(50), || {
                if server.process.0.try_wait().ok().flatten().is_some() {
                    return Some(false);
                }
                (get(&server.api, "/healthz", None).0 == 200).then_some(true)
            });
            match ready {
                Some(true) => {
                    server._logs = Some(logs);
                    if let Some(line) = self.ready_line {
                        wait_until(START_DEADLINE, line, || server.stderr().contains(line));
                    }
                    return server;
                }
                Some(false) => eprintln!(
                    "baton serve exited (attempt {attempt}):\n{}",
                    server.stderr()
                ),
                None => panic!(
                    "baton serve not ready in {START_DEADLINE:?}:\n{}",
                    server.stderr()
                ),
            }
        }
        panic!("baton serve did not start");
    }
}

/// A running `baton serve`: killed by its PID on drop, its output shown if the test failed.
#[derive(Debug)]
pub struct Server {
    process: Guard,
    /// Its process ID.
    pub pid: u32,
    /// The API listener (`127.0.0.1:PORT`).
    pub api: String,
    /// The RTMP ingest listener.
    pub rtmp: String,
    /// The HTTP-FLV play listener.
    pub play: String,
    /// The metrics listener, if asked for.
    pub metrics: Option<String>,
    stderr_log: PathBuf,
    stdout_log: PathBuf,
    /// The logs' directory, removed after the server is killed.
    _logs: Option<TempDir>,
}

impl Server {
    /// Everything it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// Kills it (no clean shutdown); everything it wrote to stderr.
    #[allow(dead_code)] // used by startup.rs and admin.rs
    pub fn stop(mut self) -> String {
        self.kill();
        self.stderr()
    }

    /// Whether it has exited (by itself, or after a signal).
    #[allow(dead_code)] // used by cluster.rs
    pub fn exited(&mut self) -> bool {
        self.process.0.try_wait().ok().flatten().is_some()
    }

    fn kill(&mut self) {
        let _ = self.process.0.kill();
        let _ = self.process.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- baton serve (pid {}, api {}, rtmp {}, play {}, metrics {:?}) stderr ---\n{}\n--- stdout ---\n{}",
                self.pid,
                self.api,
                self.rtmp,
                self.play,
                self.metrics,
                self.stderr(),
                std::fs::read_to_string(&self.stdout_log).unwrap_or_default()
            );
        }
    }
}

/// `GET path` on `addr` with an optional bearer token: (status, body); see [`http`].
pub fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, String) {
    http(addr, "GET", path, token, "")
}

/// One HTTP/1.1 request (`Connection: close`, a JSON body) to `addr`: the status and the
/// body (de-chunked). Status 0: no answer (refused, reset or timed out).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    let Ok(addr_parsed) = addr.parse() else {
        panic!("not a socket address: {addr}");
    };
    let Ok(mut s) = TcpStream::connect_timeout(&addr_parsed, Duration::from_secs(2)) else {
        return (0, String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .strip_prefix("HTTP/1.")
        .and_then(|t| t.get(2..5))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

/// A chunked body's data (as far as it is whole).
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        let Some(data) = rest.get(..n).filter(|_| n > 0) else {
            break;
        };
        out.push_str(data);
        body = rest.get(n + 2..).unwrap_or_default();
    }
    out
}
