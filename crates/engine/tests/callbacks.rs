//! Task callbacks reach a real HTTP receiver, signed, and are retried when it fails.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use baton_domain::{
    AccountId, DEFAULT_GROUP, EventRecord, SourceProtocol, SourceType, TaskId, TaskSpec, TaskStore,
};
use baton_engine::testing::MemoryStore;
use baton_engine::webhook::{
    ALI_SIGNATURE_HEADER, ALI_TIMESTAMP_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign,
};
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

fn spec(name: &str, url: String, now: i64) -> TaskSpec {
    TaskSpec {
        name: name.into(),
        group: DEFAULT_GROUP.to_string(),
        region: "cn-shanghai".into(),
        source_type: SourceType::Live,
        source_protocol: Some(SourceProtocol::Rtmp),
        source_urls: vec!["rtmp://127.0.0.1:9/live/nothing".into()],
        dst_url: format!("rtmp://127.0.0.1:9/live/{name}"),
        extra_dst_urls: Vec::new(),
        failover: Default::default(),
        slate: Default::default(),
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
    }
}

async fn engine_with_keys(keys: CallbackKeys) -> Engine {
    engine_on(Arc::new(MemoryStore::new()), keys).await
}

/// An engine on `store` (the tests read its event log) with the accounts' callback `keys`.
async fn engine_on(store: Arc<MemoryStore>, keys: CallbackKeys) -> Engine {
    Engine::start(
        store as Arc<dyn TaskStore>,
        Arc::new(SystemClock) as Arc<dyn Clock>,
        Arc::new(LocalLauncher),
        keys,
        EngineConfig::default(),
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

async fn wait_for(state: &Mutex<Received>, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while state.lock().unwrap().bodies.len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "callbacks not delivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls the task's event log (every 50 ms, for up to 10 s) until `pick` takes a record
/// from it; panics naming `what` when none comes.
async fn wait_for_record(
    store: &MemoryStore,
    account: &AccountId,
    task: &TaskId,
    what: &str,
    mut pick: impl FnMut(Vec<EventRecord>) -> Option<EventRecord>,
) -> EventRecord {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let log = store.task_events(account, task, None, 10).await.unwrap();
        if let Some(record) = pick(log) {
            return record;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The receiver's check, written from the provider's text ("MD5Content = callback
/// domain|ALI-LIVE-TIMESTAMP|NotifyAuthKey"), not with Baton's function.
fn ali_valid(headers: &HeaderMap, host: &str, key: &str) -> bool {
    use md5::{Digest, Md5};
    let (Some(ts), Some(sig)) = (
        headers.get(ALI_TIMESTAMP_HEADER),
        headers.get(ALI_SIGNATURE_HEADER),
    ) else {
        return false;
    };
    let ts = ts.to_str().unwrap();
    let digest = Md5::digest(format!("{host}|{ts}|{key}"));
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    sig.to_str().unwrap() == hex
}

#[tokio::test]
async fn req_auth_yes_adds_the_providers_callback_signature() {
    let state = Arc::new(Mutex::new(Received::default()));
    let url = receiver(Arc::clone(&state)).await;
    let account = AccountId("acme".into());
    let engine = engine_with_keys(CallbackKeys::new([(account.clone(), b"own".to_vec())])).await;
    let now = SystemClock.now();
    let mut signed = spec("signed", url.clone(), now);
    signed.req_auth = Some("yes".into());
    signed.auth_key = Some("yourkey".into());
    let signed = engine.create(&account, signed).await.unwrap();
    wait_for(&state, 1).await;
    let mut off = spec("off", url.clone(), now);
    off.req_auth = Some("no".into());
    off.auth_key = Some("yourkey".into());
    let off = engine.create(&account, off).await.unwrap();
    wait_for(&state, 2).await;

    let got = state.lock().unwrap().bodies.clone();
    let of = |id: &str| {
        got.iter()
            .find(|(_, b)| b.contains(id))
            .map(|(h, b)| (h.clone(), b.clone()))
            .unwrap()
    };
    let (headers, body) = of(&signed.id.0);
    assert!(ali_valid(&headers, "127.0.0.1", "yourkey"), "{headers:?}");
    assert!(!ali_valid(&headers, "127.0.0.1", "otherkey"));
    // The same instant as Baton's own signature, which stays.
    assert_eq!(headers[ALI_TIMESTAMP_HEADER], headers[TIMESTAMP_HEADER]);
    let ts: i64 = headers[TIMESTAMP_HEADER].to_str().unwrap().parse().unwrap();
    assert_eq!(
        headers[SIGNATURE_HEADER].to_str().unwrap(),
        sign(b"own", ts, body.as_bytes())
    );
    let (headers, _) = of(&off.id.0);
    assert!(headers.get(ALI_SIGNATURE_HEADER).is_none());
    assert!(headers.get(ALI_TIMESTAMP_HEADER).is_none());
    assert!(headers.get(SIGNATURE_HEADER).is_some());
    engine.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn an_account_without_a_callback_secret_gets_nothing_unsigned() {
    let state = Arc::new(Mutex::new(Received::default()));
    let url = receiver(Arc::clone(&state)).await;
    let store = Arc::new(MemoryStore::new());
    let engine = engine_on(
        store.clone(),
        CallbackKeys::new([(AccountId("other".into()), b"theirs".to_vec())]),
    )
    .await;
    let account = AccountId("nokey".into());
    let task = engine
        .create(&account, spec("nokey", url, SystemClock.now()))
        .await
        .unwrap();
    // The event is due at once and the outbox is woken: its first attempt is made within
    // milliseconds. It is counted as failed and waits for the account's secret.
    let record = wait_for_record(&store, &account, &task.id, "no attempt made", |log| {
        let record = log.into_iter().next()?;
        assert_eq!(record.delivered_at, None, "delivered without a secret");
        (record.attempts >= 1).then_some(record)
    })
    .await;
    let error = record.last_error.as_deref().unwrap_or_default();
    assert!(error.contains("has no callback secret"), "{error}");
    assert!(
        state.lock().unwrap().bodies.is_empty(),
        "sent without a secret"
    );
    engine.shutdown(Duration::from_secs(1)).await;
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
    let engine = engine_on(
        store.clone(),
        CallbackKeys::new([(account.clone(), b"secret".to_vec())]),
    )
    .await;
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
                extra_dst_urls: Vec::new(),
                failover: Default::default(),
                slate: Default::default(),
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
    wait_for(&state, 1).await;
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
    // The event's log: delivered after one failed attempt, which says why it failed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let record = wait_for_record(&store, &account, &task.id, "delivery not recorded", |log| {
        log.into_iter()
            .find(|r| r.event.seq == 1 && r.delivered_at.is_some())
    })
    .await;
    assert_eq!(
        (
            record.attempts,
            record.last_error.as_deref(),
            record.given_up
        ),
        (1, Some("HTTP 503"), false)
    );
    // The metrics saw one failed attempt and a delivery (counted once the answer is in).
    let count = |outcome: &'static str| {
        engine
            .metrics()
            .callbacks
            .get_or_create(&baton_engine::metrics::OutcomeLabel { outcome })
            .get()
    };
    while count("delivered") == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "delivery not counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!((count("retry"), count("given_up")), (1, 0));
    // While the event waited for its retry it was pending; delivered, nothing is (the outbox
    // counts at each poll, every second).
    while engine.metrics().callbacks_pending.get() != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "pending not back to 0"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The task is in the scrape's table until it is deleted.
    let snapshots = engine.task_snapshots();
    assert_eq!(snapshots.len(), 1);
    assert_eq!(
        (&snapshots[0].id, &snapshots[0].account),
        (&task.id, &account)
    );
    engine.delete(&account, &task.id).await.unwrap();
    assert!(
        engine.task_snapshots().is_empty(),
        "a deleted task leaves the table"
    );
    engine.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_refused_connection_is_the_events_last_error_without_the_urls_query() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = Arc::new(MemoryStore::new());
    let account = AccountId("acme".into());
    let engine = engine_on(
        store.clone(),
        CallbackKeys::new([(account.clone(), b"secret".to_vec())]),
    )
    .await;
    let url = format!("http://user:hunter2@127.0.0.1:{port}/cb?token=s3cr3t-token");
    let task = engine
        .create(&account, spec("refused", url, SystemClock.now()))
        .await
        .unwrap();
    let record = wait_for_record(&store, &account, &task.id, "no attempt recorded", |log| {
        log.into_iter().find(|r| r.event.seq == 1 && r.attempts > 0)
    })
    .await;
    assert_eq!(
        (record.delivered_at, record.given_up),
        (None, false),
        "pending"
    );
    let error = record.last_error.unwrap_or_default();
    assert!(error.starts_with("connect error: "), "{error}");
    assert!(error.to_lowercase().contains("refused"), "{error}");
    for secret in ["s3cr3t", "hunter2", "token="] {
        assert!(!error.contains(secret), "{secret} in {error}");
    }
    engine.delete(&account, &task.id).await.unwrap();
    assert!(
        engine.task_snapshots().is_empty(),
        "a deleted task leaves the table"
    );
    engine.shutdown(Duration::from_secs(1)).await;
}
