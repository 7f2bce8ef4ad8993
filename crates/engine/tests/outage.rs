//! Source outages through the whole engine, under paused tokio time, with the default relay
//! settings: a short outage costs nothing; a long one ends the relay, and the task's retry
//! starts the moment the source is back (watched through the hub for sources on Baton's own
//! ingest, probed otherwise) instead of at the end of its RetryInterval; a task at 1 whose
//! relay has not forwarded anything says so.

use std::sync::Arc;
use std::time::Duration;

use baton_domain::{
    AccountId, CallbackState, DEFAULT_GROUP, SourceProtocol, SourceType, Task, TaskId, TaskSpec,
    TaskStatus, TaskStore,
};
use baton_engine::{CallbackKeys, Clock, Engine, EngineConfig, LocalIngest, LocalLauncher};
use baton_net::hub::{StreamEvent, StreamKey};
use baton_net::testing::publish_test_stream;
use baton_relay::{DEFAULT_GRACE, ProbeConfig, RelayConfig, RelayState};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};
use tokio_util::sync::CancellationToken;

mod support;
use support::{T0, World, world};

const SRC: &str = "rtmp://mem/live/src";

/// How the engine watches the source while a task waits for its retry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Watch {
    /// `mem` is this node's ingest: its hub's publish notices.
    Hub,
    /// Nothing is known to be local: probes over the network.
    Probe,
}

async fn engine(w: &World, watch: Watch) -> Engine {
    let mut relay = RelayConfig::new("", "");
    relay.client.dialer = Arc::new(Arc::clone(&w.net));
    relay.jitter_seed = Some(7);
    let local_ingest = (watch == Watch::Hub).then(|| LocalIngest {
        hub: Arc::clone(&w.hub),
        hosts: vec!["mem".into()],
        rtmp_port: 1935,
        http_flv_port: 8081,
    });
    Engine::start(
        w.store.clone() as Arc<dyn TaskStore>,
        w.clock.clone() as Arc<dyn Clock>,
        Arc::new(LocalLauncher),
        CallbackKeys::default(),
        EngineConfig {
            relay,
            local_ingest,
            probe: ProbeConfig {
                jitter_seed: Some(7),
                ..ProbeConfig::default()
            },
            ..EngineConfig::default()
        },
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

fn spec(dst: &str) -> TaskSpec {
    TaskSpec {
        name: "outage".into(),
        group: DEFAULT_GROUP.to_string(),
        region: "cn-shanghai".into(),
        source_type: SourceType::Live,
        source_protocol: Some(SourceProtocol::Rtmp),
        source_urls: vec![SRC.into()],
        dst_url: format!("rtmp://mem/live/{dst}"),
        extra_dst_urls: Vec::new(),
        failover: Default::default(),
        slate: Default::default(),
        start_time: T0,
        end_time: T0 + 3600,
        callback_url: Some("http://127.0.0.1:9/cb".into()),
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

fn acct() -> AccountId {
    AccountId("root".into())
}

fn publish(w: &World, seconds: u32) -> JoinHandle<usize> {
    let net = Arc::clone(&w.net);
    tokio::spawn(async move { publish_test_stream(&net, SRC, seconds, 0).await.unwrap() })
}

async fn get(engine: &Engine, id: &TaskId) -> Task {
    engine.get(&acct(), id).await.unwrap()
}

/// The task's events in order, and which of them are delivered as callbacks.
fn events(w: &World, id: &TaskId) -> (Vec<CallbackState>, Vec<CallbackState>) {
    let all: Vec<_> = w
        .store
        .events()
        .into_iter()
        .filter(|e| &e.task_id == id)
        .collect();
    (
        all.iter().map(|e| e.state).collect(),
        all.iter()
            .filter(|e| e.is_deliverable())
            .map(|e| e.state)
            .collect(),
    )
}

/// Polls every 100 ms until `check` holds, at most `limit`; how long it took.
async fn within(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() <= limit {
        if check().await {
            return Some(start.elapsed());
        }
        sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test(start_paused = true)]
async fn a_10_second_outage_keeps_the_destination_session_and_the_task_recovers_at_once() {
    let w = world();
    let engine = engine(&w, Watch::Hub).await;
    let observer = w.hub.subscribe(StreamKey::new("mem", "live", "dst"));
    let first = publish(&w, 5);
    let task = engine.create(&acct(), spec("dst")).await.unwrap();
    first.await.unwrap();
    // The encoder is away 10.2 s (the case: longer than the old 10 s grace).
    sleep(Duration::from_millis(10_200)).await;
    assert_eq!(
        get(&engine, &task.id).await.runtime.status,
        TaskStatus::Abnormal
    );
    let second = publish(&w, 10);
    let back = within(Duration::from_secs(5), async || {
        get(&engine, &task.id).await.runtime.status == TaskStatus::Running
    })
    .await
    .expect("1 again");
    assert!(
        back <= Duration::from_millis(500),
        "back to 1 after {back:?}"
    );
    sleep(Duration::from_secs(3)).await;
    let t = get(&engine, &task.id).await;
    assert_eq!(t.runtime.run, 1, "the same run: no retry was needed");
    let relay = engine.relay_status(&task.id).expect("the relay runs");
    assert_eq!(relay.destination_sessions, 1);
    engine.stop(&acct(), &task.id).await.unwrap();
    second.abort();
    let mut left = 0;
    while let Some(e) = observer.try_recv() {
        left += usize::from(e == StreamEvent::PublisherLeft);
    }
    assert_eq!(left, 1, "one destination session, ended by the stop");
    let (all, delivered) = events(&w, &task.id);
    use CallbackState::*;
    assert_eq!(all, [Running, Forwarding, Recovering, Running, Offline]);
    assert_eq!(delivered, [Running, Recovering, Running, Offline]);
}

/// An outage longer than the grace period: the relay fails, the task waits for its retry,
/// and the source is back 12 s into the 60 s interval.
async fn retry_starts_when_the_source_is_back(watch: Watch) {
    let w = world();
    let engine = engine(&w, watch).await;
    publish(&w, 3);
    let task = engine.create(&acct(), spec("dst")).await.unwrap();
    sleep(Duration::from_secs(3) + DEFAULT_GRACE + Duration::from_secs(2)).await;
    let waiting = get(&engine, &task.id).await;
    let rt = &waiting.runtime;
    assert_eq!(
        (rt.status, rt.retries, rt.run),
        (TaskStatus::Abnormal, 1, 1)
    );
    let due = rt.next_retry_at.expect("a retry is scheduled");
    assert!(!w.hub.is_publishing(&StreamKey::new("mem", "live", "dst")));
    assert_eq!(engine.watched_sources(), 1, "{watch:?}");

    sleep(Duration::from_secs(10)).await;
    let returned = w.clock.now();
    assert!(returned < due - 40, "well inside the interval");
    let publisher = publish(&w, 8);
    let dst = StreamKey::new("mem", "live", "dst");
    let pushing = within(Duration::from_secs(10), async || w.hub.is_publishing(&dst))
        .await
        .expect("the retry pushes");
    assert!(
        pushing <= Duration::from_secs(1),
        "{watch:?}: the relay started {pushing:?} after the source came back"
    );
    let up = within(Duration::from_secs(5), async || {
        get(&engine, &task.id).await.runtime.status == TaskStatus::Running
    })
    .await
    .expect("1 again");
    assert!(up <= Duration::from_secs(1), "{watch:?}: 1 after {up:?}");
    let t = get(&engine, &task.id).await;
    assert_eq!(t.runtime.run, 2, "one retry");
    assert_eq!((t.runtime.retries, t.runtime.next_retry_at), (0, None));
    assert_eq!(engine.watched_sources(), 0);
    // The interval's timer finds nothing due.
    sleep(Duration::from_secs(60)).await;
    assert_eq!(get(&engine, &task.id).await.runtime.run, 2);
    publisher.await.unwrap();
    use CallbackState::*;
    let (all, delivered) = events(&w, &task.id);
    assert_eq!(
        all[..5],
        [Running, Forwarding, Recovering, Running, Forwarding]
    );
    assert_eq!(delivered[..3], [Running, Recovering, Running]);
}

#[tokio::test(start_paused = true)]
async fn a_source_on_this_ingest_back_during_the_retry_interval_is_retried_at_once() {
    retry_starts_when_the_source_is_back(Watch::Hub).await;
}

#[tokio::test(start_paused = true)]
async fn a_remote_source_back_during_the_retry_interval_is_retried_at_once() {
    retry_starts_when_the_source_is_back(Watch::Probe).await;
}

#[tokio::test(start_paused = true)]
async fn stopping_or_deleting_a_waiting_task_ends_its_watch() {
    for watch in [Watch::Hub, Watch::Probe] {
        let w = world();
        let engine = engine(&w, watch).await;
        let a = engine.create(&acct(), spec("a")).await.unwrap();
        let b = engine.create(&acct(), spec("b")).await.unwrap();
        // No source at all: both relays give up after the grace period.
        sleep(DEFAULT_GRACE + Duration::from_secs(2)).await;
        assert_eq!(engine.watched_sources(), 2, "{watch:?}");
        engine.stop(&acct(), &a.id).await.unwrap();
        assert_eq!(engine.watched_sources(), 1, "{watch:?}");
        engine.delete(&acct(), &b.id).await.unwrap();
        assert_eq!(engine.watched_sources(), 0, "{watch:?}");
        publish(&w, 5);
        sleep(Duration::from_secs(3)).await;
        let t = get(&engine, &a.id).await;
        assert_eq!((t.runtime.status, t.runtime.run), (TaskStatus::Stopped, 1));
        for dst in ["a", "b"] {
            assert!(!w.hub.is_publishing(&StreamKey::new("mem", "live", dst)));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_engine_restart_watches_again() {
    let w = world();
    let first = engine(&w, Watch::Hub).await;
    let task = first.create(&acct(), spec("dst")).await.unwrap();
    sleep(DEFAULT_GRACE + Duration::from_secs(2)).await;
    assert_eq!(first.watched_sources(), 1);
    first.shutdown(Duration::from_secs(1)).await;
    drop(first);

    let second = engine(&w, Watch::Hub).await;
    assert_eq!(
        second.watched_sources(),
        1,
        "Recover watches the source again"
    );
    publish(&w, 5);
    let dst = StreamKey::new("mem", "live", "dst");
    let pushing = within(Duration::from_secs(5), async || w.hub.is_publishing(&dst)).await;
    assert!(
        pushing.is_some_and(|d| d <= Duration::from_secs(1)),
        "{pushing:?}"
    );
    assert_eq!(get(&second, &task.id).await.runtime.run, 2);
}

#[tokio::test(start_paused = true)]
async fn a_task_at_1_tells_connecting_from_forwarding() {
    let w = world();
    let engine = engine(&w, Watch::Hub).await;
    let task = engine.create(&acct(), spec("dst")).await.unwrap();
    sleep(Duration::from_secs(5)).await;
    // The provider's status says running from StartTime on; the relay and the log do not.
    let t = get(&engine, &task.id).await;
    assert_eq!(t.runtime.status, TaskStatus::Running);
    let relay = engine.relay_status(&task.id).expect("a relay");
    assert_eq!(relay.state, RelayState::Connecting);
    assert_eq!(relay.first_forwarded, None);
    assert_eq!(events(&w, &task.id).0, [CallbackState::Running]);

    publish(&w, 5);
    sleep(Duration::from_secs(2)).await;
    let relay = engine.relay_status(&task.id).expect("a relay");
    assert_eq!(relay.state, RelayState::Forwarding);
    let (all, delivered) = events(&w, &task.id);
    assert_eq!(all, [CallbackState::Running, CallbackState::Forwarding]);
    assert_eq!(delivered, [CallbackState::Running]);
    let forwarding = w
        .store
        .events()
        .into_iter()
        .find(|e| e.state == CallbackState::Forwarding)
        .unwrap();
    assert!(
        (T0 + 5..=T0 + 6).contains(&forwarding.time),
        "{forwarding:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_publisher_that_sends_nothing_is_not_a_source_back() {
    let w = world();
    let engine = engine(&w, Watch::Hub).await;
    // Someone holds the stream's publisher slot and sends no media.
    let silent = w.hub.publish(StreamKey::new("mem", "live", "src")).unwrap();
    let task = engine.create(&acct(), spec("dst")).await.unwrap();
    sleep(DEFAULT_GRACE + Duration::from_secs(2)).await;
    let t = get(&engine, &task.id).await;
    assert_eq!((t.runtime.status, t.runtime.run), (TaskStatus::Abnormal, 1));
    assert_eq!(engine.watched_sources(), 1);
    // Published, but not back: the retry waits.
    sleep(Duration::from_secs(10)).await;
    assert_eq!(get(&engine, &task.id).await.runtime.run, 1);
    // The real encoder takes over: media, and the retry starts.
    drop(silent);
    publish(&w, 5);
    let dst = StreamKey::new("mem", "live", "dst");
    let pushing = within(Duration::from_secs(5), async || w.hub.is_publishing(&dst)).await;
    assert!(
        pushing.is_some_and(|d| d <= Duration::from_secs(1)),
        "{pushing:?}"
    );
    assert_eq!(get(&engine, &task.id).await.runtime.run, 2);
}
