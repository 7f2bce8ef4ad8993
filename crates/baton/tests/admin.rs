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

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{Out, Serve, TempDir, command, get, run};

/// The delay the commands state ("picks this up within 1 s").
const STATED_DELAY: Duration = Duration::from_secs(1);
/// What the test machinery may add to it (process start, polling).
const SLACK: Duration = Duration::from_millis(500);

/// `baton ARGS` in `cwd`, environment scrubbed plus `env`; waits for it.
fn baton(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    run(command(args).current_dir(cwd).envs(env.iter().copied()))
}

/// The token `baton token create` printed (its stdout's last word), once it succeeded.
fn token_of(out: &Out) -> String {
    assert_eq!(out.code, 0, "{out:#?}");
    out.last_word()
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
        assert_eq!(out.code, 1, "{args:?}: {out:#?}");
        let err = &out.stderr;
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
    let err = &out.stderr;
    assert_eq!(out.code, 1, "{out:#?}");
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
    let err = &out.stderr;
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        err.contains("/nonexistent/baton-state does not exist"),
        "{err}"
    );
    assert!(err.contains(config.to_str().unwrap()), "{err}");

    // --init sets one up, and says no server runs on it yet.
    let out = baton(&cwd.0, &["token", "create", "--init"], &[]);
    token_of(&out);
    let err = &out.stderr;
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
    let server = Serve {
        args: &["--config", config_arg],
        cwd: Some(&root.0),
        ..Serve::default()
    }
    .start();
    let (api, pid) = (server.api.clone(), server.pid);
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
        let err = &out.stderr;
        let says = format!("the server at http://{api} (pid {pid}) picks this up within 1 s");
        assert!(err.contains(&says), "{how}: {says:?} not in {err}");
        assert!(
            err.contains(&format!(
                "wrote {}",
                data.join("credentials.toml").display()
            )),
            "{how}: {err}"
        );
        support::wait_until(
            (STATED_DELAY + SLACK).saturating_sub(written.elapsed()),
            &format!("{how}: the token was not accepted within {STATED_DELAY:?}"),
            || get(&api, "/v1/whoami", Some(&token)).0 == 200,
        );
        let accepted = written.elapsed();
        eprintln!("{how}: token accepted {accepted:?} after `baton token create` exited");
    }
    assert!(
        !elsewhere.0.join("baton-data").exists(),
        "nothing written to the working directory"
    );

    // One server per data dir.
    let second = baton(
        &root.0,
        &[
            "serve",
            "--config",
            config_arg,
            "--api-listen",
            "127.0.0.1:0",
            "--rtmp-listen",
            "127.0.0.1:0",
            "--play-listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert_eq!(second.code, 1, "{second:#?}");
    let err = &second.stderr;
    assert!(
        err.contains(&format!("http://{api} (pid {pid}) is using the data dir")),
        "{err}"
    );

    // Once the server is gone (killed: no clean shutdown), the commands say so.
    server.stop();
    let out = baton(
        &elsewhere.0,
        &["key", "create"],
        &[("BATON_DATA_DIR", data.to_str().unwrap())],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        out.stderr
            .contains("no baton serve is running on this data dir"),
        "{out:#?}"
    );
}
