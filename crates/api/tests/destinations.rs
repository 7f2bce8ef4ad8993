//! Issue 16: several destinations per task through the native API (`destinations`: the first,
//! then the extra ones); the dialects keep one.

mod support;

use axum::http::{Method, StatusCode};
use baton_domain::TaskId;
use baton_domain::time::rfc3339;
use serde_json::{Value, json};
use support::{CAPTURE_TIME, Harness, TOKEN};

const A: &str = "rtmp://a.example.com/live/out";
const B: &str = "srt://b.example.com:9000?streamid=live/out";
const C: &str = "rtmps://c.example.com/app/key";

fn body(destinations: Value) -> Value {
    let mut b = json!({"name": "fan-out",
        "source": {"type": "live", "urls": ["rtmp://src.example.com/live/a"]},
        "start_time": rfc3339(CAPTURE_TIME + 600), "end_time": rfc3339(CAPTURE_TIME + 3600)});
    for (k, v) in destinations.as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

#[tokio::test]
async fn a_task_takes_several_destinations_and_describes_them_in_order() {
    let h = Harness::new();
    let (status, _, doc) = h
        .native(
            Method::POST,
            "/v1/tasks",
            Some(TOKEN),
            &[],
            Some(body(json!({"destinations": [A, B]}))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    assert_eq!(doc["destination"], A, "{doc}");
    assert_eq!(doc["destinations"], json!([A, B]), "{doc}");
    let id = doc["id"].as_str().unwrap().to_string();
    let spec = h.service.task(&TaskId(id.clone())).unwrap().spec;
    assert_eq!(
        (spec.dst_url.as_str(), spec.extra_dst_urls),
        (A, vec![B.to_string()])
    );

    // One destination: `destinations` has it alone.
    let (status, _, one) = h
        .native(
            Method::POST,
            "/v1/tasks",
            Some(TOKEN),
            &[],
            Some(body(json!({"destination": C}))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{one}");
    assert_eq!(one["destinations"], json!([C]), "{one}");

    // A patch's `destination` replaces the first only; `destinations` replaces them all.
    let path = format!("/v1/tasks/{id}");
    let (status, _, doc) = h
        .native(
            Method::PATCH,
            &path,
            Some(TOKEN),
            &[],
            Some(json!({"destination": C})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["destinations"], json!([C, B]), "{doc}");
    let (status, _, doc) = h
        .native(
            Method::PATCH,
            &path,
            Some(TOKEN),
            &[],
            Some(json!({"destinations": [B]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["destinations"], json!([B]), "{doc}");
}

#[tokio::test]
async fn bad_destination_lists_are_refused_naming_the_field() {
    let h = Harness::new();
    let nine: Vec<String> = (0..9)
        .map(|i| format!("rtmp://d{i}.example.com/live/s"))
        .collect();
    for (destinations, field) in [
        (json!({"destinations": [A, "udp://h:9000"]}), "destinations"),
        (json!({"destinations": [A, B, A]}), "destinations"),
        (json!({"destinations": nine}), "destinations"),
        (json!({"destinations": []}), "destinations"),
        (
            json!({"destination": A, "destinations": [B]}),
            "destinations",
        ),
        (json!({}), "destination"),
    ] {
        let (status, _, doc) = h
            .native(
                Method::POST,
                "/v1/tasks",
                Some(TOKEN),
                &[],
                Some(body(destinations.clone())),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{destinations}: {doc}");
        assert_eq!(doc["field"], field, "{destinations}: {doc}");
    }
}
