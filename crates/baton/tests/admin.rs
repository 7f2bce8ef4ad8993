//! The admin commands (`baton token|key|account|domain`) against the server the user means:
//! the real binary, temporary directories, `baton serve` on ephemeral 127.0.0.1 ports.
//!
//! * From a directory that holds no server state they refuse, naming the absolute directory
//!   and the ways to point at the right one — and create nothing.
//! * Given the server's data dir the way `baton serve` was given it (`--config` with a
//!   `data_dir`, or `BATON_DATA_DIR`), from any working directory, they say which running
//!   server picks the change up and within what delay, and the printed token authenticates
//!   at `/v1/whoami` within that delay.
//! * A second `baton serve` on the same data dir is refused, naming the first.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_baton");
/// The delay the commands state ("picks this up within 1 s").
const STATED_DELAY: Duration = Duration::from_secs(1);
/// What the test machinery may add to it (process start, polling).
const SLACK: Duration = Duration::from_millis(500);

/// The host's variables that must not leak into the children.
const SCRUBBED: [&str; 8] = [
    "BATON_CONFIG",
    "BATON_DATA_DIR",
    "BATON_API_LISTEN",
    "BATON_RTMP_LISTEN",
    "BATON_PLAY_LISTEN",
    "BATON_ACCESS_KEY_ID",
    "BATON_ACCESS_KEY_SECRET",
    "BATON_TOKEN",
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
            "baton-admin-{tag}-{}-{nanos}-{}",
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

/// A child killed (by its PID) on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `baton ARGS` in `cwd`, environment scrubbed plus `env`; waits for it.
fn baton(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(cwd)
        .env("BATON_LOG", "warn")
        .stdin(Stdio::null());
    for var in SCRUBBED {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("running baton")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding an ephemeral port")
        .port()
}

/// `GET path` on `addr` with an optional bearer token: the status code (0: no answer).
fn get(addr: &str, path: &str, token: Option<&str>) -> u16 {
    let Ok(mut s) = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(1))
    else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|a| a.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// `baton serve ARGS` on ephemeral ports, ready; its API address.
fn serve(cwd: &Path, args: &[&str], log: &Path) -> (Guard, String) {
    for _ in 0..3 {
        let api = format!("127.0.0.1:{}", free_port());
        let rtmp = format!("127.0.0.1:{}", free_port());
        let play = format!("127.0.0.1:{}", free_port());
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .args(args)
            .args(["--api-listen", &api, "--rtmp-listen", &rtmp])
            .args(["--play-listen", &play])
            .current_dir(cwd)
            .env("BATON_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap());
        for var in SCRUBBED {
            cmd.env_remove(var);
        }
        let mut child = Guard(cmd.spawn().expect("spawning baton serve"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if child.0.try_wait().unwrap().is_some() {
                break;
            }
            if get(&api, "/healthz", None) == 200 {
                return (child, api);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{}", std::fs::read_to_string(log).unwrap_or_default());
    }
    panic!("baton serve did not start");
}

/// The token `baton token create` printed: the last line of stdout.
fn token_of(out: &Output) -> String {
    assert!(out.status.success(), "{out:#?}");
    text(&out.stdout)
        .lines()
        .last()
        .expect("a token line")
        .trim()
        .to_string()
}

#[test]
fn a_dir_without_server_state_is_refused_and_named() {
    let cwd = TempDir::new("cwd");
    let default = cwd.0.join("baton-data");
    for args in [
        &["token", "create"][..],
        &["key", "create"],
        &["account", "create", "acme"],
        &["domain", "add", "live.example.com"],
        &["token", "list"],
    ] {
        let out = baton(&cwd.0, args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:#?}");
        let err = text(&out.stderr);
        for needle in [
            default.to_str().unwrap(),
            "does not exist",
            "the default ./baton-data",
            "--data-dir",
            "BATON_DATA_DIR",
            "--config",
            "--init",
        ] {
            assert!(err.contains(needle), "{args:?}: {needle:?} not in {err}");
        }
        assert!(out.stdout.is_empty(), "{args:?}: nothing printed: {out:#?}");
        assert!(!default.exists(), "{args:?} created {}", default.display());
    }

    // An existing directory a server never used: named, with what chose it.
    let empty = cwd.0.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = baton(&cwd.0, &["token", "create", "--data-dir", "empty"], &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:#?}");
    assert!(err.contains(&format!("{} holds no server state", empty.display())));
    assert!(
        err.contains("given by --data-dir or BATON_DATA_DIR"),
        "{err}"
    );
    assert!(!empty.join("credentials.toml").exists());

    // Named by a config file's data_dir: the file is named too.
    let config = cwd.0.join("baton.toml");
    std::fs::write(&config, "data_dir = \"/nonexistent/baton-state\"\n").unwrap();
    let out = baton(
        &cwd.0,
        &["token", "create"],
        &[("BATON_CONFIG", config.to_str().unwrap())],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:#?}");
    assert!(
        err.contains("/nonexistent/baton-state does not exist"),
        "{err}"
    );
    assert!(err.contains(config.to_str().unwrap()), "{err}");

    // --init sets one up, and says no server runs on it yet.
    let out = baton(&cwd.0, &["token", "create", "--init"], &[]);
    token_of(&out);
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "wrote {}",
            default.join("credentials.toml").display()
        )),
        "{err}"
    );
    assert!(err.contains("no baton serve is running"), "{err}");
}

#[test]
fn a_token_from_the_servers_dir_works_within_the_stated_delay() {
    let root = TempDir::new("serve");
    let data = root.0.join("state");
    let config = root.0.join("baton.toml");
    std::fs::write(
        &config,
        format!("data_dir = {:?}\n", data.to_str().unwrap()),
    )
    .unwrap();
    let config_arg = config.to_str().unwrap();
    let (server, api) = serve(
        &root.0,
        &["--config", config_arg],
        &root.0.join("serve.log"),
    );
    let pid = server.0.id();
    // Another working directory, as an operator's shell would be.
    let elsewhere = TempDir::new("elsewhere");

    for (how, args, env) in [
        (
            "--config",
            vec![
                "token",
                "create",
                "--name",
                "by-config",
                "--config",
                config_arg,
            ],
            vec![],
        ),
        (
            "BATON_DATA_DIR",
            vec!["token", "create", "--name", "by-env"],
            vec![("BATON_DATA_DIR", data.to_str().unwrap())],
        ),
    ] {
        let out = baton(&elsewhere.0, &args, &env);
        let written = Instant::now();
        let token = token_of(&out);
        let err = text(&out.stderr);
        let says = format!("the server at http://{api} (pid {pid}) picks this up within 1 s");
        assert!(err.contains(&says), "{how}: {says:?} not in {err}");
        assert!(
            err.contains(&format!(
                "wrote {}",
                data.join("credentials.toml").display()
            )),
            "{how}: {err}"
        );
        let accepted = loop {
            if get(&api, "/v1/whoami", Some(&token)) == 200 {
                break written.elapsed();
            }
            assert!(
                written.elapsed() < STATED_DELAY + SLACK,
                "{how}: the token was not accepted within {STATED_DELAY:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        eprintln!("{how}: token accepted {accepted:?} after `baton token create` exited");
    }
    assert!(
        !elsewhere.0.join("baton-data").exists(),
        "nothing written to the working directory"
    );

    // One server per data dir.
    let second = Command::new(BIN)
        .args(["serve", "--config", config_arg])
        .args([
            "--api-listen",
            "127.0.0.1:0",
            "--rtmp-listen",
            "127.0.0.1:0",
        ])
        .args(["--play-listen", "127.0.0.1:0"])
        .env("BATON_LOG", "warn")
        .env_remove("BATON_DATA_DIR")
        .env_remove("BATON_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("running a second baton serve");
    assert_eq!(second.status.code(), Some(1), "{second:#?}");
    let err = text(&second.stderr);
    assert!(
        err.contains(&format!("http://{api} (pid {pid}) is using the data dir")),
        "{err}"
    );

    // Once the server is gone (killed: no clean shutdown), the commands say so.
    drop(server);
    let out = baton(
        &elsewhere.0,
        &["key", "create"],
        &[("BATON_DATA_DIR", data.to_str().unwrap())],
    );
    assert!(out.status.success(), "{out:#?}");
    assert!(
        text(&out.stderr).contains("no baton serve is running on this data dir"),
        "{out:#?}"
    );
}
