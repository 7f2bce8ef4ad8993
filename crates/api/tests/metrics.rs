//! The API's metrics through the router: every dialect's requests counted by action and
//! status (Alibaba's and Volcengine's actions by their provider names, the native API's by
//! method and route), authentication failures counted apart, and `/metrics` answering only a
//! root token (another account's token gets the native problem 403 `forbidden`).

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use support::{Harness, Sig, TOKEN, TOKEN_ROOT};
use tower::ServiceExt;

async fn scrape(h: &Harness, token: Option<&str>) -> (StatusCode, String, String) {
    let mut request = Request::builder().uri("/metrics");
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    let response = h
        .router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        content_type,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

fn value(scrape: &str, series: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn requests_are_counted_by_dialect_action_and_status() {
    let h = Harness::new();
    let (status, _) = h
        .call(
            Sig::Rpc,
            "DescribeLivePullToPushList",
            &[("Region", "cn-shanghai")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let bad = h
        .build(Sig::Rpc, Method::GET, "DescribeLivePullToPushList", &[])
        .finish(support::AK, "not-the-secret-0123456789abcdef");
    let (status, _) = h.send(bad).await;
    assert_ne!(status, StatusCode::OK);
    let (status, _) = h
        .volc("StopPullToPushTask", json!({"TaskId": "nope"}))
        .await;
    assert_ne!(status, StatusCode::OK);
    let (status, _, _) = h
        .native(Method::GET, "/v1/tasks", Some(TOKEN), &[], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = h.native(Method::GET, "/v1/tasks", None, &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Not root: the native problem.
    let (status, content_type, body) = scrape(&h, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(content_type, "application/problem+json");
    assert!(body.contains("\"code\":\"forbidden\""), "{body}");

    let (status, content_type, text) = scrape(&h, Some(TOKEN_ROOT)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("application/openmetrics-text"));
    let count = |labels: &str| value(&text, &format!("baton_api_requests_total{{{labels}}}"));
    assert_eq!(
        count(r#"dialect="aliyun",action="DescribeLivePullToPushList",code="200""#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        count(r#"dialect="native",action="GET /v1/tasks",code="200""#),
        Some(1.0)
    );
    assert_eq!(
        count(r#"dialect="native",action="GET /v1/tasks",code="401""#),
        Some(1.0)
    );
    assert_eq!(
        count(r#"dialect="metrics",action="GET /metrics",code="403""#),
        Some(1.0)
    );
    assert!(
        text.lines().any(|l| l
            .starts_with(r#"baton_api_requests_total{dialect="volc",action="StopPullToPushTask""#)),
        "{text}"
    );
    let auth = |dialect: &str| {
        value(
            &text,
            &format!("baton_api_auth_failures_total{{dialect=\"{dialect}\"}}"),
        )
    };
    assert_eq!(auth("aliyun"), Some(1.0), "the bad signature");
    assert_eq!(auth("native"), Some(1.0), "no token");
    assert_eq!(auth("metrics"), Some(1.0), "not root");
    assert_eq!(auth("volc"), Some(0.0));
    assert_eq!(
        value(
            &text,
            r#"baton_api_request_seconds_count{dialect="native"}"#
        ),
        Some(2.0)
    );
}

#[tokio::test]
async fn a_throttled_request_is_counted() {
    let h = Harness::with_config(|c| c.native_requests_per_second = 1);
    let mut throttled = 0;
    for _ in 0..5 {
        let (status, _, _) = h
            .native(Method::GET, "/v1/tasks", Some(TOKEN), &[], None)
            .await;
        throttled += u32::from(status == StatusCode::TOO_MANY_REQUESTS);
    }
    assert!(throttled > 0);
    let (_, _, text) = scrape(&h, Some(TOKEN_ROOT)).await;
    assert_eq!(
        value(&text, r#"baton_api_throttled_total{dialect="native"}"#),
        Some(f64::from(throttled)),
        "{text}"
    );
}
