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

/// While a task runs, a patch's `destinations` may change the ones after the first (the relay
/// adds and removes them without disturbing the others); the first must stay as it is.
#[tokio::test]
async fn a_running_task_changes_its_extra_destinations_but_not_its_first() {
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
    let id = doc["id"].as_str().unwrap().to_string();
    let tid = TaskId(id.clone());
    h.service
        .set_runtime(&tid, |r| r.status = baton_domain::TaskStatus::Running);
    let path = format!("/v1/tasks/{id}");
    let patch = |v: Value| h.native(Method::PATCH, &path, Some(TOKEN), &[], Some(v));

    // A third one, then B removed: the first stays.
    let (status, _, doc) = patch(json!({"destinations": [A, B, C]})).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["destinations"], json!([A, B, C]), "{doc}");
    assert_eq!(doc["state"], "running", "{doc}");
    let (status, _, doc) = patch(json!({"destinations": [A, C]})).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        h.service.task(&tid).unwrap().spec.extra_dst_urls,
        [C.to_string()]
    );

    // The first changed, through `destinations` or `destination`: 409 naming the field the
    // client sent, and nothing written.
    let before = h.service.task(&tid).unwrap();
    for (request, field) in [
        (json!({"destinations": [C, A]}), "destinations"),
        (json!({"destinations": [B, C]}), "destinations"),
        (json!({"destination": B}), "destination"),
    ] {
        let (status, _, doc) = patch(request.clone()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{request}: {doc}");
        assert_eq!(
            (doc["code"].as_str(), doc["field"].as_str()),
            (Some("wrong_state"), Some(field)),
            "{request}: {doc}"
        );
        let detail = doc["detail"].as_str().unwrap();
        assert!(
            detail.contains("first destination cannot change"),
            "{detail}"
        );
        assert_eq!(h.service.task(&tid).unwrap(), before, "{request}");
    }
    // Other fields keep the dialects' rule.
    let (status, _, doc) = patch(json!({"name": "renamed"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{doc}");
    assert!(
        doc["detail"].as_str().unwrap().contains("not name"),
        "{doc}"
    );
}
