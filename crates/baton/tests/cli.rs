//! The API commands end to end: the real `baton serve` on ephemeral 127.0.0.1 ports with a
//! temporary data dir, a token from `baton token create`, and the CLI binary driving tasks,
//! streams and groups through `/v1`.
//!
//! Assumptions about the server side:
//! * `baton token create --account root --name cli-test --data-dir DIR --init` exits 0 and prints
//!   the token as the last word of its last non-empty stdout line; it runs before the server
//!   starts, so the server finds the token at start-up.
//! * `baton serve --data-dir DIR --api-listen A --rtmp-listen R --play-listen P` serves `/v1`
//!   and `/healthz` (200 once ready) on A; with no ingest domain configured every domain
//!   belongs to `root`, so root may forbid and kick any stream.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::{Guard, Out, Serve, TempDir, create_token, free_port, run};

/// `baton ARGS` with a scrubbed environment plus `env` and `HOME`, its output piped.
fn command(args: &[&str], env: &[(&str, &str)], home: &Path) -> Command {
    let mut cmd = support::command(args);
    cmd.env("HOME", home).envs(env.iter().copied());
    cmd
}

/// Runs `baton ARGS` (see [`command`]), bounded by [`support::COMMAND_DEADLINE`].
fn baton(args: &[&str], env: &[(&str, &str)], home: &Path) -> Out {
    run(&mut command(args, env, home))
}

/// `baton serve` on ephemeral ports, with a token of the root account.
struct Server {
    // Dropped first: the server is killed before its directory is removed.
    server: support::Server,
    /// The endpoint (`http://127.0.0.1:PORT`).
    api: String,
    token: String,
    /// A token of another account than root.
    other_token: String,
    home: PathBuf,
    _dir: TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = TempDir::new("serve");
        let data = dir.0.join("data");
        let home = dir.0.join("home");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        let token = create_token(&data, "root", "cli-test");
        let other_token = create_token(&data, "acme", "cli-test-acme");
        let server = Serve {
            data_dir: Some(&data),
            env: &[("HOME", home.to_str().expect("UTF-8 temp dir"))],
            ..Serve::default()
        }
        .start();
        Server {
            api: format!("http://{}", server.api),
            server,
            token,
            other_token,
            home,
            _dir: dir,
        }
    }

    /// `baton ARGS` against this server with its token.
    fn cli(&self, args: &[&str]) -> Out {
        baton(
            args,
            &[("BATON_ENDPOINT", &self.api), ("BATON_TOKEN", &self.token)],
            &self.home,
        )
    }

    /// A source nobody publishes (this server's own ingest).
    fn source(&self, stream: &str) -> String {
        format!("rtmp://{}/live/{stream}", self.server.rtmp)
    }

    /// Creates a task pushing to a destination that does not exist (nothing listens on port
    /// 1); returns its ID.
    fn create_task(&self, name: &str, end: &str, extra: &[&str]) -> String {
        let source = self.source(name);
        let destination = format!("rtmp://127.0.0.1:1/live/{name}");
        let mut args = vec![
            "task",
            "create",
            "--json",
            "--source",
            &source,
            "--destination",
            &destination,
            "--name",
            name,
            "--end",
            end,
        ];
        args.extend_from_slice(extra);
        let task = self.cli(&args).ok().json();
        task["id"].as_str().expect("the task has an id").to_string()
    }

    fn describe(&self, id: &str) -> Value {
        self.cli(&["task", "describe", id, "--json"]).ok().json()
    }

    fn state(&self, id: &str) -> String {
        let task = self.describe(id);
        task["state"].as_str().unwrap_or_default().to_string()
    }
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .filter_map(|t| t["id"].as_str().map(str::to_string))
        .collect()
}

const LIVE: [&str; 3] = ["running", "recovering", "not_started"];

// ---- without a server ----

#[test]
fn no_token_is_a_clear_error() {
    let home = TempDir::new("home");
    let out = baton(&["task", "list"], &[], &home.0);
    assert_eq!(out.code, 1, "{out:#?}");
    for needle in ["--token", "BATON_TOKEN", "cli.toml", "BATON_CLI_CONFIG"] {
        assert!(out.stderr.contains(needle), "{needle} missing: {out:#?}");
    }
    assert!(out.stdout.is_empty());
}

#[test]
fn an_unreachable_server_exits_2() {
    let home = TempDir::new("home");
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let out = baton(
        &["whoami", "--endpoint", &endpoint, "--token", "t"],
        &[],
        &home.0,
    );
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(out.stderr.contains("cannot reach"), "{out:#?}");
    assert!(out.stderr.contains(&endpoint), "{out:#?}");
}

#[test]
fn the_config_file_gives_endpoint_and_token() {
    let dir = TempDir::new("config");
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let file = dir.0.join("cli.toml");
    std::fs::write(&file, format!("endpoint = \"{endpoint}\"\ntoken = \"t\"\n")).unwrap();
    let out = baton(
        &["task", "list"],
        &[("BATON_CLI_CONFIG", file.to_str().unwrap())],
        &dir.0,
    );
    // It got as far as connecting to the file's endpoint with the file's token.
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(out.stderr.contains(&endpoint), "{out:#?}");
    // The default file under $HOME too.
    std::fs::create_dir_all(dir.0.join(".config/baton")).unwrap();
    std::fs::rename(&file, dir.0.join(".config/baton/cli.toml")).unwrap();
    let out = baton(&["task", "list"], &[], &dir.0);
    assert_eq!(out.code, 2, "{out:#?}");
    // A named file that does not exist is an error, not a silent default.
    let out = baton(
        &["task", "list"],
        &[("BATON_CLI_CONFIG", "/nonexistent/cli.toml")],
        &dir.0,
    );
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains("/nonexistent/cli.toml"), "{out:#?}");
}

#[test]
fn usage_errors_exit_1() {
    let home = TempDir::new("home");
    let out = baton(
        &["task", "create", "--source", "rtmp://a/b/c"],
        &[],
        &home.0,
    );
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains("--destination"), "{out:#?}");
    let out = baton(
        &["stream", "forbid", "live.example.com/live", "--token", "t"],
        &[],
        &home.0,
    );
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains("DOMAIN/APP/STREAM"), "{out:#?}");
    let out = baton(&["task", "--help"], &[], &home.0);
    assert_eq!(out.code, 0, "{out:#?}");
}

// ---- against the server ----

#[test]

fn whoami_and_a_bad_token() {
    let s = Server::start();
    let me = s.cli(&["whoami", "--json"]).ok().json();
    assert_eq!(me["account"], "root", "{me}");
    let out = s.cli(&["whoami"]).ok();
    assert!(out.stdout.contains("root"), "{out:#?}");

    let out = baton(
        &["whoami", "--endpoint", &s.api, "--token", "not-a-token"],
        &[],
        &s.home,
    );
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains("(unauthorized)"), "{out:#?}");
}

#[test]

fn task_lifecycle() {
    let s = Server::start();
    let id = s.create_task("cli-e2e", "+1h", &[]);
    assert!(LIVE.contains(&s.state(&id).as_str()));

    // list: JSON and the table.
    let all = s.cli(&["task", "list", "--json", "--all"]).ok().json();
    assert!(ids(&all).contains(&id), "{all}");
    let filtered = s
        .cli(&["task", "list", "--json", "--name", "CLI-E2", "--limit", "1"])
        .ok()
        .json();
    assert_eq!(ids(&filtered), vec![id.clone()]);
    let table = s.cli(&["task", "list"]).ok().stdout;
    assert!(table.starts_with("ID "), "{table}");
    assert!(table.contains(&id) && table.contains("cli-e2e"), "{table}");

    // describe: the JSON document and the view.
    let task = s.cli(&["task", "describe", &id, "--json"]).ok().json();
    assert_eq!(task["id"], id.as_str());
    assert_eq!(task["name"], "cli-e2e");
    assert_eq!(task["source"]["type"], "live");
    let view = s.cli(&["task", "describe", &id]).ok().stdout;
    for key in ["State:", "Destination:", "Retries used:", "Version:"] {
        assert!(view.contains(key), "{key} missing:\n{view}");
    }

    // update, with and without a matching If-Match. The task runs: its callback may change,
    // its name may not (409 naming the state).
    let version = s.describe(&id)["version"].as_i64().expect("version");
    let updated = s
        .cli(&[
            "task",
            "update",
            &id,
            "--callback",
            "http://127.0.0.1:9/cb",
            "--if-match",
            &version.to_string(),
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(updated["callback_url"], "http://127.0.0.1:9/cb");
    let stale = s.cli(&[
        "task",
        "update",
        &id,
        "--callback",
        "http://127.0.0.1:9/other",
        "--if-match",
        &version.to_string(),
    ]);
    assert_eq!(stale.code, 1, "{stale:#?}");
    assert!(stale.stderr.contains("(precondition_failed)"), "{stale:#?}");
    let renamed = s.cli(&["task", "update", &id, "--name", "x"]);
    assert_eq!(renamed.code, 1, "{renamed:#?}");
    assert!(renamed.stderr.contains("(wrong_state)"), "{renamed:#?}");

    // stop; stopping again is the error path: exit 1, the code and the current state.
    let out = s.cli(&["task", "stop", &id]).ok();
    assert!(out.stdout.contains("stopped"), "{out:#?}");
    assert_eq!(s.state(&id), "stopped");
    let again = s.cli(&["task", "stop", &id]);
    assert_eq!(again.code, 1, "{again:#?}");
    assert!(again.stderr.starts_with("error: "), "{again:#?}");
    assert!(again.stderr.contains("(wrong_state)"), "{again:#?}");
    assert!(
        again.stderr.contains("current state: stopped"),
        "{again:#?}"
    );

    // start, restart.
    let started = s.cli(&["task", "start", &id, "--json"]).ok().json();
    assert!(
        LIVE.contains(&started["state"].as_str().unwrap_or_default()),
        "{started}"
    );
    s.cli(&["task", "restart", &id]).ok();

    // events: a list (maybe empty), JSON and table.
    let events = s.cli(&["task", "events", &id, "--json"]).ok().json();
    assert!(events.is_array(), "{events}");
    s.cli(&["task", "events", &id, "--limit", "5"]).ok();

    // delete; then it is gone.
    s.cli(&["task", "delete", &id]).ok();
    let gone = s.cli(&["task", "describe", &id]);
    assert_eq!(gone.code, 1, "{gone:#?}");
    assert!(gone.stderr.contains("(not_found)"), "{gone:#?}");
    let all = s.cli(&["task", "list", "--json", "--all"]).ok().json();
    assert!(!ids(&all).contains(&id), "{all}");
}

#[test]

fn creates_are_idempotent() {
    let s = Server::start();
    // The same body twice: an absolute end time (+1h would differ by the second).
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let end = baton_domain::time::rfc3339(now + 3600);
    let key = ["--idempotency-key", "cli-test-key-1"];
    let first = s.create_task("cli-idem", &end, &key);
    let second = s.create_task("cli-idem", &end, &key);
    assert_eq!(first, second);
    let list = s
        .cli(&["task", "list", "--json", "--name", "cli-idem"])
        .ok()
        .json();
    assert_eq!(ids(&list), vec![first]);

    // The same key with another body.
    let out = s.cli(&[
        "task",
        "create",
        "--source",
        &s.source("other"),
        "--destination",
        "rtmp://127.0.0.1:1/live/elsewhere",
        "--end",
        &end,
        "--idempotency-key",
        "cli-test-key-1",
    ]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains("(idempotency_key_reused)"), "{out:#?}");
}

#[test]

fn forbid_blocklist_resume_kick() {
    let s = Server::start();
    let stream = "live.example.com/live/cli-blocked";
    let block = s
        .cli(&["stream", "forbid", stream, "--until", "+1h", "--json"])
        .ok()
        .json();
    assert_eq!(block["domain"], "live.example.com");
    assert_eq!(block["app"], "live");
    assert_eq!(block["stream"], "cli-blocked");
    assert!(block["resume_at"].is_string(), "{block}");

    let listed = s
        .cli(&["stream", "blocklist", "--json", "--all"])
        .ok()
        .json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["stream"].as_str())
        .collect();
    assert_eq!(names, vec!["cli-blocked"], "{listed}");
    let contains = s
        .cli(&[
            "stream",
            "blocklist",
            "--json",
            "--domain",
            "live.example.com",
            "--stream",
            "blocked",
            "--contains",
        ])
        .ok()
        .json();
    assert_eq!(contains.as_array().map(Vec::len), Some(1), "{contains}");
    let table = s.cli(&["stream", "blocklist"]).ok().stdout;
    assert!(
        table.contains("cli-blocked") && table.contains("(in "),
        "{table}"
    );

    // The publish URL form names the same stream.
    s.cli(&[
        "stream",
        "resume",
        "rtmp://live.example.com/live/cli-blocked",
    ])
    .ok();
    let listed = s.cli(&["stream", "blocklist", "--json"]).ok().json();
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "{listed}");

    s.cli(&["stream", "kick", stream]).ok();
}

#[test]
fn stream_list_shows_a_waiting_player() {
    let s = Server::start();
    let empty = s.cli(&["stream", "list", "--json"]).ok().json();
    assert_eq!(empty, serde_json::json!([]));
    assert!(
        s.cli(&["stream", "list"])
            .ok()
            .stdout
            .contains("no live streams")
    );
    // An HTTP-FLV player of a stream nobody publishes yet waits for it (10 s): the stream is
    // live with one player and no publisher.
    let mut player = TcpStream::connect(&s.server.play).unwrap();
    player
        .write_all(b"GET /live/cli-watched.flv HTTP/1.1\r\nHost: live.example.com\r\n\r\n")
        .unwrap();
    let listed = support::poll(Duration::from_secs(5), Duration::from_millis(100), || {
        let listed = s.cli(&["stream", "list", "--json"]).ok().json();
        listed
            .as_array()
            .is_some_and(|a| !a.is_empty())
            .then_some(listed)
    })
    .unwrap_or_else(|| s.cli(&["stream", "list", "--json"]).ok().json());
    let item = &listed[0];
    assert_eq!(
        (&item["domain"], &item["app"], &item["stream"]),
        (
            &"live.example.com".into(),
            &"live".into(),
            &"cli-watched".into()
        ),
        "{listed}"
    );
    assert_eq!(item["publishing"], false);
    assert_eq!(item["players"], 1);
    assert_eq!(item["protocol"], Value::Null);
    let filtered = s
        .cli(&["stream", "list", "--json", "--app", "other"])
        .ok()
        .json();
    assert_eq!(filtered, serde_json::json!([]));
    let table = s.cli(&["stream", "list"]).ok().stdout;
    assert!(
        table.starts_with("STREAM") && table.contains("live.example.com/live/cli-watched"),
        "{table}"
    );
    drop(player);
}

#[test]
fn groups() {
    let s = Server::start();
    let group = s
        .cli(&[
            "group",
            "create",
            "cli-g",
            "--tag",
            "env=test",
            "--project",
            "cli",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(group["name"], "cli-g");
    assert_eq!(group["tags"][0]["key"], "env");
    let list = s.cli(&["group", "list", "--json", "--all"]).ok().json();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "cli-g"),
        "{list}"
    );
    let again = s.cli(&["group", "create", "cli-g"]);
    assert_eq!(again.code, 1, "{again:#?}");
    assert!(again.stderr.contains("(group_exists)"), "{again:#?}");

    let id = s.create_task("cli-in-group", "+1h", &["--group", "cli-g"]);
    let busy = s.cli(&["group", "delete", "cli-g"]);
    assert_eq!(busy.code, 1, "{busy:#?}");
    assert!(busy.stderr.contains("(group_not_empty)"), "{busy:#?}");
    s.cli(&["task", "delete", &id]).ok();
    s.cli(&["group", "delete", "cli-g"]).ok();

    let missing = s.cli(&[
        "task",
        "create",
        "--group",
        "no-such-group",
        "--source",
        &s.source("x"),
        "--destination",
        "rtmp://127.0.0.1:1/live/x",
        "--end",
        "+1h",
    ]);
    assert_eq!(missing.code, 1, "{missing:#?}");
    assert!(missing.stderr.contains("(not_found)"), "{missing:#?}");
}

#[test]

fn watch_ends_when_the_task_is_deleted() {
    let s = Server::start();
    let id = s.create_task("cli-watch", "+1h", &[]);
    let mut cmd = command(
        &["task", "describe", &id, "--watch", "--interval", "200ms"],
        &[("BATON_ENDPOINT", &s.api), ("BATON_TOKEN", &s.token)],
        &s.home,
    );
    let mut watch = Guard(cmd.spawn().expect("spawning the watch"));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        watch.0.try_wait().unwrap().is_none(),
        "the watch ended early"
    );
    s.cli(&["task", "delete", &id]).ok();
    let status = support::poll(Duration::from_secs(10), Duration::from_millis(50), || {
        watch.0.try_wait().unwrap()
    })
    .expect("the watch did not end after the delete");
    assert!(status.success(), "{status:?}");
    let mut stdout = String::new();
    watch
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(stdout.contains("State:"), "{stdout}");
    assert!(stdout.contains("was deleted"), "{stdout}");
}

#[test]
fn callback_secrets_are_the_accounts_own_and_rotate() {
    let home = TempDir::new("home");
    let data = TempDir::new("data");
    let dir = data.0.to_str().unwrap();
    let secret_of = |out: &Out| -> String {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix("callback secret: "))
            .unwrap_or_else(|| panic!("no secret printed: {out:#?}"))
            .to_string()
    };
    let created = baton(
        &["account", "create", "acme", "--data-dir", dir, "--init"],
        &[],
        &home.0,
    )
    .ok();
    let first = secret_of(&created);
    let rotated = baton(
        &[
            "account",
            "rotate-callback-secret",
            "acme",
            "--data-dir",
            dir,
        ],
        &[],
        &home.0,
    )
    .ok();
    let second = secret_of(&rotated);
    assert_ne!(first, second);
    assert!(second.len() >= 16);
    // Root has an entry once rotated, even if no server ever started.
    let root = baton(
        &[
            "account",
            "rotate-callback-secret",
            "root",
            "--data-dir",
            dir,
        ],
        &[],
        &home.0,
    )
    .ok();
    let root_secret = secret_of(&root);
    let file = std::fs::read_to_string(data.0.join("credentials.toml")).unwrap();
    assert!(file.contains(&second) && !file.contains(&first), "{file}");
    assert!(file.contains(&root_secret), "{file}");
    let unknown = baton(
        &[
            "account",
            "rotate-callback-secret",
            "nobody",
            "--data-dir",
            dir,
        ],
        &[],
        &home.0,
    );
    assert_eq!(unknown.code, 1, "{unknown:#?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data.0), 0o700);
        assert_eq!(mode(&data.0.join("credentials.toml")), 0o600);
    }
}

/// `baton node list` on SQLite: the one node (its API address as its name), alive, holding
/// every task that has not exited; to root only — another account's token gets the forbidden
/// problem.
#[test]
fn node_list_shows_the_one_node_and_its_tasks() {
    let s = Server::start();
    let id = s.create_task("node-list", "+1h", &[]);
    let nodes = s.cli(&["node", "list", "--json"]).ok().json();
    let nodes = nodes.as_array().expect("a JSON array");
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    let n = &nodes[0];
    assert_eq!(n["name"], s.server.api.as_str(), "{n}");
    assert_eq!(n["alive"], true, "{n}");
    assert_eq!(n["tasks"], 1, "{n}");
    assert_eq!(n["task_ids"], serde_json::json!([id]), "{n}");
    assert!(n["id"].as_str().is_some_and(|id| !id.is_empty()), "{n}");

    let table = s.cli(&["node", "list"]).ok().stdout;
    assert!(table.starts_with("ID "), "{table}");
    assert!(table.contains(&id) && table.contains("yes"), "{table}");

    let out = baton(
        &["node", "list"],
        &[("BATON_ENDPOINT", &s.api), ("BATON_TOKEN", &s.other_token)],
        &s.home,
    );
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains("(forbidden)"), "{out:#?}");
}
