//! Task callbacks reach a real HTTP receiver, signed, and are retried when it fails.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use baton_domain::{AccountId, DEFAULT_GROUP, SourceProtocol, SourceType, TaskSpec, TaskStore};
use baton_engine::testing::MemoryStore;
use baton_engine::webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use baton_engine::{CallbackKeys, Clock, Engine, EngineConfig, LocalLauncher, SystemClock};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Received {
    bodies: Vec<(HeaderMap, String)>,
    fail_first: usize,
}

async fn receiver(state: Arc<Mutex<Received>>) -> String {
    let app = Router::new().route(
        "/cb",
        post(move |headers: HeaderMap, body: String| {
            let state = Arc::clone(&state);
            async move {
                let mut s = state.lock().unwrap();
                if s.fail_first > 0 {
                    s.fail_first -= 1;
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                s.bodies.push((headers, body));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/cb")
}

#[tokio::test]
async fn running_callback_is_delivered_signed_after_a_failed_attempt() {
    let state = Arc::new(Mutex::new(Received {
        fail_first: 1,
        ..Received::default()
    }));
    let url = receiver(Arc::clone(&state)).await;
    let store = Arc::new(MemoryStore::new());
    let account = AccountId("acme".into());
    let engine = Engine::start(
        store.clone() as Arc<dyn TaskStore>,
        Arc::new(SystemClock) as Arc<dyn Clock>,
        Arc::new(LocalLauncher),
        CallbackKeys::new([(account.clone(), b"secret".to_vec())]),
        EngineConfig::default(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let now = SystemClock.now();
    let task = engine
        .create(
            &account,
            TaskSpec {
                name: "cb".into(),
                group: DEFAULT_GROUP.to_string(),
                region: "cn-shanghai".into(),
                source_type: SourceType::Live,
                source_protocol: Some(SourceProtocol::Rtmp),
                source_urls: vec!["rtmp://127.0.0.1:9/live/nothing".into()],
                dst_url: "rtmp://127.0.0.1:9/live/out".into(),
                start_time: now,
                end_time: now + 3600,
                callback_url: Some(url),
                repeat_number: 0,
                retry_count: 3,
                retry_interval: 60,
                file_index: 0,
                offset: 0,
                auth_key: None,
                req_auth: None,
                notify_item_switch: None,
            },
        )
        .await
        .unwrap();
    // First attempt fails (503), the retry 2 s later succeeds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while state.lock().unwrap().bodies.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "callback not delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (headers, body) = state.lock().unwrap().bodies[0].clone();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["State"], "Running");
    assert_eq!(json["TaskId"], task.id.0);
    assert_eq!(json["Sequence"], 1);
    assert_eq!(json["EventId"], format!("{}.1", task.id.0));
    let timestamp: i64 = headers[TIMESTAMP_HEADER].to_str().unwrap().parse().unwrap();
    assert_eq!(
        headers[SIGNATURE_HEADER].to_str().unwrap(),
        sign(b"secret", timestamp, body.as_bytes())
    );
    engine.delete(&account, &task.id).await.unwrap();
    engine.shutdown(Duration::from_secs(1)).await;
}
