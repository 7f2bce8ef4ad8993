//! What a person sees when starting Baton: the start-up message (URLs always, the root
//! credentials only at the first start of a data dir, and credentials that work), `--version`
//! naming the commit, and logs fit for a pipe (no ANSI codes; `--log-format json` one object
//! per line).
//!
//! Each test runs the real binary on ephemeral 127.0.0.1 ports and a temporary data dir, and
//! stops it by its PID.

mod support;

use std::path::Path;

use support::{Serve, Server, TempDir, command, get, run};

/// `baton serve` on `data`, ready once the start-up message is out too (it is printed right
/// after the listeners are up).
fn start(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
    Serve {
        data_dir: Some(data),
        args,
        env,
        ready_line: Some("baton task list\n"),
        ..Serve::default()
    }
    .start()
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

    let first = start(&data, &[], &[]);
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

    let again = start(&data, &[], &[]);
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
    let text = start(&dir.0.join("text"), &[], &[]).stop();
    assert!(text.contains("baton is ready"), "{text}");
    assert!(!text.contains('\u{1b}'), "ANSI codes in a pipe:\n{text}");

    let text = start(&dir.0.join("json"), &["--log-format", "json"], &[]).stop();
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
    let text = start(&dir.0.join("env"), &[], &[("BATON_LOG_FORMAT", "json")]).stop();
    assert!(text.contains("\"message\":\"baton is ready\""), "{text}");
}

#[test]
fn version_names_the_commit() {
    let text = run(&mut command(&["--version"])).stdout;
    assert!(
        text.starts_with(&format!("baton {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
}
