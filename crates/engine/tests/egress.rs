//! Tasks of an account go only where its egress policy allows: an IP literal it may never
//! reach is refused at Create naming the field; a name that resolves there fails the relay
//! with the refusal as the task's last error (not a status from the target); callbacks go
//! only to allowed addresses and never follow a redirect.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::any;
use baton_domain::{
    AccountId, DEFAULT_GROUP, ErrorSide, Field, Rejection, SourceProtocol, SourceType, Task,
    TaskSpec, TaskStore,
};
use baton_engine::testing::MemoryStore;
use baton_engine::{
    CallbackKeys, Clock, Engine, EngineConfig, EngineError, LocalLauncher, SystemClock,
};
use baton_net::egress::{EgressPolicy, EgressRules};
use tokio_util::sync::CancellationToken;

async fn engine(store: Arc<MemoryStore>) -> Engine {
    let config = EngineConfig {
        egress: Arc::new(EgressPolicy::new(
            Some("root"),
            EgressRules::default(),
            HashMap::new(),
        )),
        ..EngineConfig::default()
    };
    Engine::start(
        store as Arc<dyn TaskStore>,
        Arc::new(SystemClock) as Arc<dyn Clock>,
        Arc::new(LocalLauncher),
        // Every account has its own callback secret (without one nothing is sent at all).
        CallbackKeys::new(["root", "acme"].map(|a| (AccountId(a.into()), b"secret".to_vec()))),
        config,
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

fn spec(source: &str, callback: Option<String>) -> TaskSpec {
    let now = SystemClock.now();
    TaskSpec {
        name: "egress".into(),
        group: DEFAULT_GROUP.to_string(),
        region: "cn-shanghai".into(),
        source_type: SourceType::Live,
        source_protocol: Some(SourceProtocol::Rtmp),
        source_urls: vec![source.into()],
        // A name: judged when the relay connects (these relays never get that far).
        dst_url: "rtmp://push.invalid/live/out".into(),
        extra_dst_urls: Vec::new(),
        failover: Default::default(),
        slate: Default::default(),
        start_time: now,
        end_time: now + 3600,
        callback_url: callback,
        repeat_number: 0,
        retry_count: 0,
        retry_interval: 60,
        file_index: 0,
        offset: 0,
        auth_key: None,
        req_auth: None,
        notify_item_switch: None,
    }
}

async fn wait_for<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A receiver counting POSTs to `/cb` (answered with `cb_status`, a redirect to `/other`
/// when 302) and to `/other`.
async fn receiver(cb_status: StatusCode) -> (String, Arc<AtomicU64>, Arc<AtomicU64>) {
    let (cb, other) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let app = Router::new()
        .route(
            "/cb",
            any({
                let cb = Arc::clone(&cb);
                move || async move {
                    cb.fetch_add(1, Ordering::SeqCst);
                    (cb_status, [(header::LOCATION, "/other")]).into_response()
                }
            }),
        )
        .route(
            "/other",
            any({
                let other = Arc::clone(&other);
                move || async move {
                    other.fetch_add(1, Ordering::SeqCst);
                    StatusCode::OK
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("127.0.0.1:{port}"), cb, other)
}

#[tokio::test]
async fn an_unreachable_ip_literal_is_refused_at_create_naming_the_field() {
    let engine = engine(Arc::new(MemoryStore::new())).await;
    let acme = AccountId("acme".into());
    for (source, callback, field) in [
        ("rtmp://127.0.0.1/live/src", None, Field::SourceUrls),
        (
            "http://2130706433:8081/live/src.flv",
            None,
            Field::SourceUrls,
        ),
        (
            "rtmp://[::ffff:169.254.169.254]/live/src",
            None,
            Field::SourceUrls,
        ),
        (
            "rtmp://origin.example/live/src",
            Some("http://10.0.0.1/cb".to_string()),
            Field::CallbackUrl,
        ),
    ] {
        match engine.create(&acme, spec(source, callback.clone())).await {
            Err(EngineError::Rejected(Rejection::Invalid { field: f, reason })) => {
                assert_eq!(f, field, "{source}");
                assert!(reason.starts_with("egress refused: "), "{reason}");
                assert!(reason.contains("egress.accounts.acme"), "{reason}");
            }
            other => panic!("{source} {callback:?}: {other:?}"),
        }
    }
    // Root's loopback origin needs no configuration; the metadata service is refused to it too.
    let root = AccountId("root".into());
    let task = engine
        .create(&root, spec("rtmp://127.0.0.1:9/live/src", None))
        .await
        .unwrap();
    engine.delete(&root, &task.id).await.unwrap();
    assert!(
        engine
            .create(&root, spec("http://169.254.169.254/latest/meta-data", None))
            .await
            .is_err()
    );
    engine.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_name_resolving_to_a_refused_address_fails_the_relay_with_the_refusal() {
    let store = Arc::new(MemoryStore::new());
    let engine = engine(Arc::clone(&store)).await;
    let acme = AccountId("acme".into());
    let (addr, hits, _) = receiver(StatusCode::NOT_FOUND).await;
    let port = addr.rsplit_once(':').unwrap().1;
    let mut s = spec(&format!("http://localhost:{port}/cb"), None);
    s.source_protocol = Some(SourceProtocol::HttpFlv);
    let task = engine.create(&acme, s).await.unwrap();
    let task: Task = wait_for("the relay's failure", async || {
        let t = engine.get(&acme, &task.id).await.unwrap();
        t.runtime.last_error.is_some().then_some(t)
    })
    .await;
    let error = task.runtime.last_error.unwrap();
    assert_eq!(
        (error.side, error.code.as_str()),
        (ErrorSide::Source, "EgressDenied")
    );
    assert!(
        error.message.starts_with(&format!(
            "source: egress refused: localhost:{port} resolves to a loopback address"
        )),
        "{}",
        error.message
    );
    assert!(!error.message.contains("404"), "{}", error.message);
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the target saw a request");
    engine.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn callbacks_go_only_where_allowed_and_follow_no_redirect() {
    let store = Arc::new(MemoryStore::new());
    let engine = engine(Arc::clone(&store)).await;
    // Root's receiver answers 302 → /other: a failed attempt, retried later, /other never hit.
    let (addr, cb, other) = receiver(StatusCode::FOUND).await;
    let root = AccountId("root".into());
    let callback = Some(format!("http://{addr}/cb"));
    let task = engine
        .create(&root, spec("rtmp://127.0.0.1:9/live/src", callback))
        .await
        .unwrap();
    let first = wait_for("the first attempt recorded", async || {
        let events = engine.task_events(&root, &task.id, None, 10).await.unwrap();
        let first = events.into_iter().find(|e| e.event.seq == 1)?;
        (first.attempts > 0 || first.delivered_at.is_some()).then_some(first)
    })
    .await;
    assert_eq!(first.delivered_at, None, "a redirect is not a delivery");
    assert_eq!(first.attempts, 1);
    assert_eq!(
        first.last_error.as_deref(),
        Some("HTTP 302"),
        "the log says why"
    );
    assert!(!first.given_up);
    assert_eq!(cb.load(Ordering::SeqCst), 1);
    assert_eq!(other.load(Ordering::SeqCst), 0, "the redirect was followed");

    // acme's callback names loopback: refused, given up at once, nothing sent.
    let (addr, cb, _) = receiver(StatusCode::OK).await;
    let port = addr.rsplit_once(':').unwrap().1;
    let acme = AccountId("acme".into());
    let callback = Some(format!("http://localhost:{port}/cb"));
    let task = engine
        .create(&acme, spec("rtmp://origin.invalid/live/src", callback))
        .await
        .unwrap();
    let events = wait_for("the callback given up", async || {
        let events = engine.task_events(&acme, &task.id, None, 10).await.unwrap();
        let first = events.iter().find(|e| e.event.seq == 1)?;
        first.delivered_at.is_some().then_some(events)
    })
    .await;
    let first = events.iter().find(|e| e.event.seq == 1).unwrap();
    assert_eq!(
        first.attempts, 1,
        "given up at its first attempt, not retried"
    );
    assert!(first.given_up, "{first:?}");
    let error = first.last_error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("egress refused: localhost:") && error.contains("egress.accounts.acme"),
        "the refusal names the rule: {error}"
    );
    assert_eq!(cb.load(Ordering::SeqCst), 0, "a refused callback was sent");
    engine.shutdown(Duration::from_secs(1)).await;
}
