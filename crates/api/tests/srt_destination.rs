//! Issue 14: `srt://` destinations through every API — the native `destination`, Volcengine's
//! `DstAddr` and Alibaba's `DstUrl` (a documented extension, like `rtmps://`) — stored as
//! given; other schemes keep each dialect's error code.

mod support;

use axum::http::{Method, StatusCode};
use baton_domain::TaskId;
use baton_domain::time::rfc3339;
use serde_json::{Value, json};
use support::{CAPTURE_TIME, Harness, Sig, TOKEN, borrow, create_params};

const DST: &str = "srt://receiver.example.com:9000?streamid=live/out&latency=200";

fn dst_of(h: &Harness, id: &str) -> String {
    h.service.task(&TaskId(id.into())).unwrap().spec.dst_url
}

fn set(mut params: Vec<(String, String)>, key: &str, value: &str) -> Vec<(String, String)> {
    params.iter_mut().find(|(k, _)| k == key).unwrap().1 = value.into();
    params
}

#[tokio::test]
async fn alibaba_dst_url_takes_srt_as_an_extension() {
    let h = Harness::new();
    let params = create_params(CAPTURE_TIME + 60, CAPTURE_TIME + 3600);
    let (status, body) = h
        .call(
            Sig::V3,
            "CreateLivePullToPush",
            &borrow(&set(params.clone(), "DstUrl", DST)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(dst_of(&h, body["TaskId"].as_str().unwrap()), DST);
    for bad in ["udp://h:9000", "srt://:9000?mode=listener"] {
        let (status, body) = h
            .call(
                Sig::V3,
                "CreateLivePullToPush",
                &borrow(&set(params.clone(), "DstUrl", bad)),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["Code"], "InvalidParameter", "{bad}: {body}");
    }
}

#[tokio::test]
async fn volcengine_dst_addr_takes_srt() {
    let h = Harness::new();
    let now = CAPTURE_TIME;
    let base = |dst: &str| {
        json!({"StartTime": now, "EndTime": now + 3600, "Type": 0,
               "SrcAddr": "rtmp://s/live/a", "DstAddr": dst})
    };
    let (status, body) = h.volc("CreatePullToPushTask", base(DST)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(dst_of(&h, body["Result"]["TaskId"].as_str().unwrap()), DST);
    let (status, body) = h.volc("CreatePullToPushTask", base("udp://h:9000")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["ResponseMetadata"]["Error"]["Code"], "InvalidParam",
        "{body}"
    );
}

#[tokio::test]
async fn the_native_api_takes_srt_destinations() {
    let h = Harness::new();
    let body = |dst: &str| -> Value {
        json!({"name": "srt out", "source": {"type": "live", "urls": ["rtmp://src.example.com/live/a"]},
               "destination": dst,
               "start_time": rfc3339(CAPTURE_TIME), "end_time": rfc3339(CAPTURE_TIME + 3600)})
    };
    let (status, _, doc) = h
        .native(Method::POST, "/v1/tasks", Some(TOKEN), &[], Some(body(DST)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    assert_eq!(doc["destination"], DST, "{doc}");
    let (status, _, doc) = h
        .native(
            Method::POST,
            "/v1/tasks",
            Some(TOKEN),
            &[],
            Some(body("udp://h:9000")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
    assert_eq!(doc["field"], "destination", "{doc}");
}
