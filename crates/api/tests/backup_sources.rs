//! Issue 16: a live task's backup sources through the native API (`source.urls`: the
//! source, then the backups; `source.failover_after_seconds`, `source.failback_after_seconds`).

mod support;

use axum::http::{Method, StatusCode};
use baton_domain::time::rfc3339;
use baton_domain::{SourceFailover, TaskId};
use serde_json::{Value, json};
use support::{CAPTURE_TIME, Harness, TOKEN};

const P: &str = "rtmp://primary.example.com/live/a";
const B1: &str = "rtmps://backup1.example.com/live/a";
const B2: &str = "rtmp://backup2.example.com/live/a";

fn body(source: Value) -> Value {
    json!({"name": "backed-up", "source": source,
        "destination": "rtmp://dst.example.com/live/b",
        "start_time": rfc3339(CAPTURE_TIME + 600), "end_time": rfc3339(CAPTURE_TIME + 3600)})
}

#[tokio::test]
async fn a_live_task_takes_backup_sources_and_failover_settings() {
    let h = Harness::new();
    let (status, _, doc) = h
        .native(
            Method::POST,
            "/v1/tasks",
            Some(TOKEN),
            &[],
            Some(body(json!({"type": "live", "urls": [P, B1, B2],
                "failover_after_seconds": 3, "failback_after_seconds": 30}))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    assert_eq!(doc["source"]["urls"], json!([P, B1, B2]), "{doc}");
    assert_eq!(doc["source"]["failover_after_seconds"], 3);
    assert_eq!(doc["source"]["failback_after_seconds"], 30);
    let id = doc["id"].as_str().unwrap().to_string();
    let spec = h.service.task(&TaskId(id.clone())).unwrap().spec;
    assert_eq!(spec.source_urls, [P, B1, B2]);
    assert_eq!(
        spec.failover,
        SourceFailover {
            after: Some(3),
            failback_after: Some(30)
        }
    );

    // A patch's source replaces the source object, its settings with it.
    let (status, _, doc) = h
        .native(
            Method::PATCH,
            &format!("/v1/tasks/{id}"),
            Some(TOKEN),
            &[],
            Some(json!({"source": {"type": "live", "urls": [P, B2]}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["source"]["urls"], json!([P, B2]), "{doc}");
    assert_eq!(doc["source"].get("failover_after_seconds"), None, "{doc}");
    let spec = h.service.task(&TaskId(id)).unwrap().spec;
    assert_eq!(spec.failover, SourceFailover::default());
}

#[tokio::test]
async fn bad_backup_sources_and_settings_are_refused_naming_the_field() {
    let h = Harness::new();
    for (source, field) in [
        // One source and at most three backups.
        (
            json!({"type": "live", "urls": [P, B1, B2, "rtmp://b3/l/s", "rtmp://b4/l/s"]}),
            "source.urls",
        ),
        // Each backup is checked like the source: the protocol's schemes, none twice.
        (
            json!({"type": "live", "urls": [P, "http://h/a.flv"]}),
            "source.urls",
        ),
        (json!({"type": "live", "urls": [P, B1, P]}), "source.urls"),
        (
            json!({"type": "live", "urls": [P, B1], "failover_after_seconds": 0}),
            "source.failover_after_seconds",
        ),
        (
            json!({"type": "live", "urls": [P, B1], "failover_after_seconds": 31}),
            "source.failover_after_seconds",
        ),
        (
            json!({"type": "live", "urls": [P, B1], "failback_after_seconds": 3601}),
            "source.failback_after_seconds",
        ),
        (
            json!({"type": "url", "urls": ["https://h/a.mp4"], "failover_after_seconds": 5}),
            "source.failover_after_seconds",
        ),
    ] {
        let (status, _, doc) = h
            .native(
                Method::POST,
                "/v1/tasks",
                Some(TOKEN),
                &[],
                Some(body(source.clone())),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{source}: {doc}");
        assert_eq!(doc["field"], field, "{source}: {doc}");
    }
}
