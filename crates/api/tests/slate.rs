//! Issue 16: a live task's slate through the native API (`slate`: `false`, `true`, or
//! `{file, after_seconds, hold_seconds}`; absent: the operator's `[slate]`).

mod support;

use axum::http::{Method, StatusCode};
use baton_domain::time::rfc3339;
use baton_domain::{TaskId, TaskSlate};
use serde_json::{Value, json};
use support::{CAPTURE_TIME, Harness, TOKEN};

fn body(slate: Option<Value>) -> Value {
    let mut body = json!({"name": "slated",
        "source": {"type": "live", "urls": ["rtmp://src.example.com/live/a"]},
        "destination": "rtmp://dst.example.com/live/b",
        "start_time": rfc3339(CAPTURE_TIME + 600), "end_time": rfc3339(CAPTURE_TIME + 3600)});
    if let Some(slate) = slate {
        body["slate"] = slate;
    }
    body
}

async fn create(h: &Harness, body: Value) -> (StatusCode, Value) {
    let (status, _, doc) = h
        .native(Method::POST, "/v1/tasks", Some(TOKEN), &[], Some(body))
        .await;
    (status, doc)
}

#[tokio::test]
async fn a_live_task_takes_its_own_slate_setting_and_a_patch_replaces_it() {
    let h = Harness::new();
    // Absent: the operator's `[slate]`; not echoed.
    let (status, doc) = create(&h, body(None)).await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    assert_eq!(doc.get("slate"), None, "{doc}");
    let id = doc["id"].as_str().unwrap().to_string();
    assert_eq!(
        h.service.task(&TaskId(id)).unwrap().spec.slate,
        TaskSlate::Inherit
    );

    let (status, doc) = create(
        &h,
        body(Some(json!({"file": "https://cdn.example.com/slate.mp4",
            "after_seconds": 2, "hold_seconds": 600}))),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    assert_eq!(
        doc["slate"],
        json!({"file": "https://cdn.example.com/slate.mp4", "after_seconds": 2, "hold_seconds": 600})
    );
    let id = doc["id"].as_str().unwrap().to_string();
    assert_eq!(
        h.service.task(&TaskId(id.clone())).unwrap().spec.slate,
        TaskSlate::On {
            file: Some("https://cdn.example.com/slate.mp4".into()),
            after: Some(2),
            hold: Some(600),
        }
    );

    // `false`: none, whatever the operator says; `true`: the operator's (or built-in) one;
    // `null`: back to the operator's.
    for (patch, want, echoed) in [
        (json!(false), TaskSlate::Off, json!(false)),
        (
            json!(true),
            TaskSlate::On {
                file: None,
                after: None,
                hold: None,
            },
            json!({}),
        ),
        (json!(null), TaskSlate::Inherit, Value::Null),
    ] {
        let (status, _, doc) = h
            .native(
                Method::PATCH,
                &format!("/v1/tasks/{id}"),
                Some(TOKEN),
                &[],
                Some(json!({ "slate": patch })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{patch}: {doc}");
        assert_eq!(doc["slate"], echoed, "{patch}: {doc}");
        assert_eq!(
            h.service.task(&TaskId(id.clone())).unwrap().spec.slate,
            want
        );
    }
}

#[tokio::test]
async fn bad_slate_settings_are_refused_naming_the_field() {
    let h = Harness::new();
    for (slate, field) in [
        // A task may not read the server's files: `default` or an http(s) URL.
        (json!({"file": "/etc/passwd"}), "slate"),
        (json!({"file": "file:///srv/slate.flv"}), "slate"),
        (json!({"after_seconds": 0}), "slate"),
        (json!({"after_seconds": 61}), "slate"),
        (json!({"hold_seconds": 86_401}), "slate"),
        (json!({"hold_seconds": -1}), "slate.hold_seconds"),
        (json!({"files": "default"}), "body"),
        (json!("yes"), "body"),
    ] {
        let (status, doc) = create(&h, body(Some(slate.clone()))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{slate}: {doc}");
        assert_eq!(doc["field"], field, "{slate}: {doc}");
    }
    // A playlist has no slate.
    let mut playlist = body(Some(json!(true)));
    playlist["source"] = json!({"type": "url", "urls": ["https://h.example.com/a.mp4"]});
    let (status, doc) = create(&h, playlist).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(doc["field"], "slate", "{doc}");
}
