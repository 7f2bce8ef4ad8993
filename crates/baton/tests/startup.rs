//! What a person sees when starting Baton: the start-up message (URLs always, the root
//! credentials only at the first start of a data dir, and credentials that work), `--version`
//! naming the commit, and logs fit for a pipe (no ANSI codes; `--log-format json` one object
//! per line).
//!
//! Each test runs the real binary on ephemeral 127.0.0.1 ports and a temporary data dir, and
//! stops it by its PID.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_baton");
const START_DEADLINE: Duration = Duration::from_secs(30);

/// Host variables that would change what the children do.
const SCRUBBED: [&str; 14] = [
    "BATON_ENDPOINT",
    "BATON_TOKEN",
    "BATON_CONFIG",
    "BATON_DATA_DIR",
    "BATON_API_LISTEN",
    "BATON_RTMP_LISTEN",
    "BATON_PLAY_LISTEN",
    "BATON_SRT_LISTEN",
    "BATON_ACCESS_KEY_ID",
    "BATON_ACCESS_KEY_SECRET",
    "BATON_LOG_FORMAT",
    "NO_COLOR",
    "http_proxy",
    "HTTP_PROXY",
];

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "baton-startup-{tag}-{}-{nanos}-{}",
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding an ephemeral port")
        .port()
}

/// A child process killed (by its PID) on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `baton serve` and what it printed so far.
struct Running {
    process: Guard,
    api: String,
    log: PathBuf,
}

impl Running {
    fn start(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Running {
        for attempt in 1..=3 {
            let api = format!("127.0.0.1:{}", free_port());
            let log = data.with_file_name(format!("serve-{attempt}-{}.log", free_port()));
            let mut cmd = Command::new(BIN);
            cmd.args([
                "serve",
                "--data-dir",
                data.to_str().expect("UTF-8 temp dir"),
                "--api-listen",
                &api,
                "--rtmp-listen",
                &format!("127.0.0.1:{}", free_port()),
                "--play-listen",
                &format!("127.0.0.1:{}", free_port()),
            ])
            .args(extra)
            .env("BATON_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(&log).expect("creating the log"),
            ));
            for var in SCRUBBED {
                cmd.env_remove(var);
            }
            for (k, v) in env {
                cmd.env(k, v);
            }
            let mut process = Guard(cmd.spawn().expect("spawning baton serve"));
            let deadline = Instant::now() + START_DEADLINE;
            loop {
                if process.0.try_wait().unwrap().is_some() {
                    break;
                }
                // The message is printed right after the listeners are up.
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if text.contains("baton task list\n") && get(&api, "/healthz", None).0 == 200 {
                    return Running { process, api, log };
                }
                assert!(Instant::now() < deadline, "not ready in time:\n{text}");
                std::thread::sleep(Duration::from_millis(100));
            }
            eprintln!(
                "baton serve exited (attempt {attempt}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        panic!("baton serve did not start");
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops it; everything it wrote to stderr.
    fn stop(self) -> String {
        let text = self.stderr();
        drop(self.process);
        text
    }
}

/// `GET path` on `addr` (HTTP/1.0), with a bearer token: status and body.
fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2))
    else {
        return (0, String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    if write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}\r\n").is_err() {
        return (0, String::new());
    }
    let mut response = String::new();
    let _ = s.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

/// The word after `label` on the line that has it.
fn value_after<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
}

#[test]
fn the_first_start_prints_working_credentials_once_and_later_starts_only_the_urls() {
    let dir = TempDir::new("first");
    let data = dir.0.join("data");

    let first = Running::start(&data, &[], &[]);
    let text = first.stderr();
    let token = value_after(&text, "Token ").expect("a token in the first message");
    let key_id = value_after(&text, "AccessKeyId ").expect("an AccessKeyId");
    let key_secret = value_after(&text, "AccessKeySecret ").expect("an AccessKeySecret");
    assert!(token.starts_with("btn_"), "{text}");
    for wanted in [
        format!("API             http://{}", first.api),
        format!("http://{}/ui/#token={token}", first.api),
        format!(
            "export BATON_ENDPOINT=http://{} BATON_TOKEN={token}",
            first.api
        ),
        "/live/STREAM.flv".to_string(),
        "ffmpeg -re -i input.mp4".to_string(),
    ] {
        assert!(text.contains(&wanted), "{wanted:?} missing:\n{text}");
    }
    // The printed token is the root account's.
    let (status, body) = get(&first.api, "/v1/whoami", Some(token));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"root\""), "{body}");
    assert_eq!(get(&first.api, "/v1/whoami", Some("btn_wrong")).0, 401);
    // The file keeps the key (the server signs with it) but the token only as its SHA-256.
    let stored = std::fs::read_to_string(data.join("credentials.toml")).unwrap();
    assert!(!stored.contains(token), "the token itself was stored");
    assert!(stored.contains(key_id) && stored.contains(key_secret));
    first.stop();

    let again = Running::start(&data, &[], &[]);
    let text = again.stderr();
    for secret in [token, key_id, key_secret] {
        assert!(!text.contains(secret), "a secret shown again:\n{text}");
    }
    assert!(text.contains(&format!("API             http://{}", again.api)));
    assert!(text.contains("baton token create --data-dir"), "{text}");
    // The first start's token still works.
    assert_eq!(get(&again.api, "/v1/whoami", Some(token)).0, 200);
    again.stop();
}

#[test]
fn logs_in_a_pipe_have_no_ansi_codes_and_json_logs_are_one_object_a_line() {
    let dir = TempDir::new("logs");
    let text = Running::start(&dir.0.join("text"), &[], &[]).stop();
    assert!(text.contains("baton is ready"), "{text}");
    assert!(!text.contains('\u{1b}'), "ANSI codes in a pipe:\n{text}");

    let text = Running::start(&dir.0.join("json"), &["--log-format", "json"], &[]).stop();
    let mut objects = 0;
    for line in text.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
        objects += 1;
    }
    assert!(objects >= 3, "{text}");
    assert!(text.contains("\"message\":\"baton is ready\""), "{text}");
    // Every log line is an object: what is not is the start-up message (plain text).
    let message_start = text.find("----").expect("the start-up message");
    let message_end = text.rfind("----").unwrap();
    for line in text[..message_start]
        .lines()
        .chain(text[message_end..].lines().skip(1))
    {
        assert!(line.starts_with('{'), "not JSON: {line}");
    }

    // The environment variable picks it too.
    let text = Running::start(&dir.0.join("env"), &[], &[("BATON_LOG_FORMAT", "json")]).stop();
    assert!(text.contains("\"message\":\"baton is ready\""), "{text}");
}

#[test]
fn version_names_the_commit() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!("baton {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
}
