//! `/metrics` end to end on the real `baton serve`: a VOD task (a generated FLV in the media
//! dir, looped) relays into the server's own RTMP ingest, so one scrape shows a running relay
//! and a live ingest stream. Proves: the API listener's `/metrics` answers only root's tokens
//! (401 without one, the native problem 403 for another account's), the own metrics listener
//! needs none; the task's series move between scrapes (bytes, frames, bitrate); the stream's
//! series and the API's request counters are there; every metric the shipped Grafana
//! dashboard queries exists in a real scrape; and a deleted task's series vanish.

#![cfg(unix)]

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use support::{Serve, Server, TempDir, create_token, http, wait_until};

/// `baton serve` with a media dir holding `clip.flv` (a generated FLV), its own metrics
/// listener and `extra` arguments; tokens of root and of another account.
fn start(tag: &str, extra: &[&str]) -> (Server, String, String, TempDir) {
    let dir = TempDir::new(&format!("metrics-{tag}"));
    let (data, media) = (dir.0.join("data"), dir.0.join("media"));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(
        media.join("clip.flv"),
        baton_net::testing::test_flv_file(2, 30, 100, 1),
    )
    .unwrap();
    let root = create_token(&data, "root", "root");
    let other = create_token(&data, "acme", "acme");
    let mut args = vec!["--media-dir", media.to_str().expect("UTF-8 temp dir")];
    args.extend_from_slice(extra);
    let server = Serve {
        data_dir: Some(&data),
        args: &args,
        metrics: true,
        ..Serve::default()
    }
    .start();
    (server, root, other, dir)
}

/// A sample's value in a scrape: `name{...needle...} value`.
fn sample(scrape: &str, name: &str, needle: &str) -> Option<f64> {
    scrape.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        if !rest.starts_with('{') || !rest.contains(needle) {
            return None;
        }
        rest.rsplit(' ').next()?.parse().ok()
    })
}

/// The metric names a scrape declares (`# TYPE`), with the sample names they expose.
fn exposed_names(scrape: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in scrape.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            names.insert(name.to_string());
            let suffixes: &[&str] = match kind {
                "counter" => &["_total"],
                "histogram" => &["_bucket", "_sum", "_count"],
                _ => &[],
            };
            for s in suffixes {
                names.insert(format!("{name}{s}"));
            }
        } else if !line.starts_with('#') {
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

#[test]
fn metrics_follow_a_running_relay_and_forget_a_deleted_task() {
    let (server, root, other, _dir) = start("relay", &[]);
    let metrics = server.metrics.clone().expect("a metrics listener");

    // Who may read them.
    let (status, _) = http(&server.api, "GET", "/metrics", None, "");
    assert_eq!(status, 401);
    let (status, body) = http(&server.api, "GET", "/metrics", Some(&other), "");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("\"code\":\"forbidden\""), "{body}");
    let (status, scrape) = http(&server.api, "GET", "/metrics", Some(&root), "");
    assert_eq!(status, 200);
    assert!(scrape.ends_with("# EOF\n"), "OpenMetrics text: {scrape}");

    // A looping VOD task into the server's own ingest.
    let (status, body) = http(
        &server.api,
        "POST",
        "/v1/groups",
        Some(&root),
        r#"{"name":"g1"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let end = "2099-01-01T00:00:00Z";
    let task = format!(
        r#"{{"name":"m1","group":"g1","source":{{"type":"vod","urls":["clip"]}},"destinations":["rtmp://{0}/live/metrics1","rtmp://{0}/live/metrics1b"],"end_time":"{end}","repeat":-1}}"#,
        server.rtmp
    );
    let (status, body) = http(&server.api, "POST", "/v1/tasks", Some(&root), &task);
    assert_eq!(status, 201, "{body}");
    let id = body
        .split("\"id\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the task's id")
        .to_string();
    let this = format!("task_id=\"{id}\"");

    // Its series move (the own listener: no token).
    let scrape = || http(&metrics, "GET", "/metrics", None, "").1;
    wait_until(Duration::from_secs(20), "the relay forwards", || {
        sample(&scrape(), "baton_relay_bitrate_out_bits", &this).is_some_and(|v| v > 0.0)
    });
    let first = scrape();
    std::thread::sleep(Duration::from_millis(1500));
    let started = Instant::now();
    let second = scrape();
    let took = started.elapsed();
    eprintln!("one scrape took {took:?} ({} bytes)", second.len());
    for name in [
        "baton_relay_bytes_out_total",
        "baton_relay_bytes_in_total",
        "baton_relay_frames_out_total",
    ] {
        let (a, b) = (sample(&first, name, &this), sample(&second, name, &this));
        assert!(a.is_some() && b > a, "{name} moves: {a:?} -> {b:?}");
    }
    assert!(second.contains(&format!(
        "baton_relay_state{{{this},account=\"root\",group=\"g1\",state=\"forwarding\"}} 1"
    )));
    for (side, protocol) in [("source", "playlist"), ("destination", "rtmp")] {
        assert!(
            second.contains(&format!(
                "baton_relay_transport{{{this},account=\"root\",group=\"g1\",side=\"{side}\",protocol=\"{protocol}\"}} 1"
            )),
            "{second}"
        );
    }
    // Each of its two destinations on its own.
    for d in ["0", "1"] {
        let this_one = format!("{this},account=\"root\",group=\"g1\",destination=\"{d}\"");
        assert!(
            second.contains(&format!(
                "baton_destination_state{{{this_one},state=\"forwarding\"}} 1"
            )),
            "{second}"
        );
        assert_eq!(
            sample(&second, "baton_destination_sessions_total", &this_one),
            Some(1.0),
            "{second}"
        );
        for name in [
            "baton_destination_bytes_out_total",
            "baton_destination_frames_out_total",
        ] {
            let (a, b) = (
                sample(&first, name, &this_one),
                sample(&second, name, &this_one),
            );
            assert!(a.is_some() && b > a, "{name} {d} moves: {a:?} -> {b:?}");
        }
    }
    assert_eq!(
        sample(&second, "baton_task_status", &this),
        Some(1.0),
        "{second}"
    );
    assert!(
        sample(&second, "baton_relay_fps", &this).is_some_and(|v| v > 0.0),
        "{second}"
    );
    assert_eq!(
        sample(&second, "baton_stream_publishing", "stream=\"metrics1\""),
        Some(1.0),
        "the destination is this server's ingest: {second}"
    );
    for name in [
        "baton_stream_bitrate_in_bits",
        "baton_stream_fps",
        "baton_stream_uptime_seconds",
        "baton_stream_gop_cache_frames",
    ] {
        assert!(
            sample(&second, name, "stream=\"metrics1\"").is_some_and(|v| v > 0.0),
            "{name}: {second}"
        );
    }
    assert!(
        sample(
            &second,
            "baton_stream_frames_in_total",
            "stream=\"metrics1\""
        )
        .is_some_and(|v| v > 0.0)
    );
    assert!(
        sample(
            &second,
            "baton_api_requests_total",
            "dialect=\"native\",action=\"POST /v1/tasks\",code=\"201\""
        ) == Some(1.0),
        "{second}"
    );
    assert!(
        sample(
            &second,
            "baton_api_auth_failures_total",
            "dialect=\"metrics\""
        )
        .is_some_and(|v| v >= 2.0)
    );
    assert!(second.contains("baton_store_write_seconds_count"));

    // The relay is a connection of the RTMP listener; the API listener counted ours.
    assert!(
        sample(
            &second,
            "baton_listener_connections_accepted_total",
            "listener=\"rtmp\""
        )
        .is_some_and(|v| v >= 1.0),
        "{second}"
    );
    assert!(
        sample(
            &second,
            "baton_listener_connections_accepted_total",
            "listener=\"api\""
        )
        .is_some_and(|v| v >= 4.0)
    );
    // A second task pushing to the same stream: the ingest refuses it (stream busy).
    let task2 = task.replace("\"m1\"", "\"m2\"");
    let (status, body) = http(&server.api, "POST", "/v1/tasks", Some(&root), &task2);
    assert_eq!(status, 201, "{body}");
    wait_until(
        Duration::from_secs(15),
        "a refused publish is counted",
        || {
            sample(
                &scrape(),
                "baton_ingest_publish_refused_total",
                "protocol=\"rtmp\",reason=\"stream_busy\"",
            )
            .is_some_and(|v| v >= 1.0)
        },
    );

    // Every metric the Grafana dashboard queries is exposed.
    let dashboard_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/grafana/baton.json");
    let dashboard = std::fs::read_to_string(&dashboard_path).expect("docs/grafana/baton.json");
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).expect("JSON");
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 6, "the dashboard's queries: {exprs:?}");
    let exposed = exposed_names(&scrape());
    for expr in &exprs {
        for name in metric_names(expr) {
            assert!(
                exposed.contains(&name),
                "the dashboard queries {name} ({expr}); the scrape has none"
            );
        }
    }

    // Deleted: its series go with it.
    let (status, body) = http(
        &server.api,
        "DELETE",
        &format!("/v1/tasks/{id}"),
        Some(&root),
        "",
    );
    assert!(status == 204 || status == 200, "{status} {body}");
    wait_until(Duration::from_secs(10), "the task's series vanish", || {
        !scrape().contains(&this)
    });
}

fn collect_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr" | "query", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

/// The `baton_…` metric names a PromQL expression uses.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("baton_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.push(name);
    }
    names
}

#[test]
fn an_srt_destination_shows_its_transport_and_send_statistics() {
    let srt = format!("127.0.0.1:{}", support::free_port());
    let (server, root, _, _dir) = start("srt", &["--srt-listen", &srt]);
    let metrics = server.metrics.clone().expect("a metrics listener");
    // A looping VOD task pushed as MPEG-TS over SRT into the server's own SRT ingest.
    let task = format!(
        r#"{{"name":"s1","source":{{"type":"vod","urls":["clip"]}},"destination":"srt://{srt}?streamid=live/srt1","end_time":"2099-01-01T00:00:00Z","repeat":-1}}"#
    );
    let (status, body) = http(&server.api, "POST", "/v1/tasks", Some(&root), &task);
    assert_eq!(status, 201, "{body}");
    let scrape = || http(&metrics, "GET", "/metrics", None, "").1;
    let dst = "side=\"destination\"";
    wait_until(Duration::from_secs(20), "SRT packets sent", || {
        sample(&scrape(), "baton_relay_bitrate_out_bits", "task_id").is_some_and(|v| v > 0.0)
    });
    let s = scrape();
    assert!(
        s.contains("side=\"destination\",protocol=\"srt\"} 1"),
        "{s}"
    );
    for name in [
        "baton_relay_srt_rtt_seconds",
        "baton_relay_srt_packets_lost_total",
        "baton_relay_srt_packets_retransmitted_total",
        "baton_relay_srt_packets_dropped_total",
        "baton_relay_srt_send_buffer_seconds",
    ] {
        assert!(sample(&s, name, dst).is_some(), "{name}: {s}");
    }
    // The source is a playlist: no SRT series for it.
    assert!(sample(&s, "baton_relay_srt_rtt_seconds", "side=\"source\"").is_none());
    // The ingest got it over SRT.
    assert_eq!(
        sample(&s, "baton_stream_publishing", "stream=\"srt1\""),
        Some(1.0),
        "{s}"
    );
}
