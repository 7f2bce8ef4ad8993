//! The engine's task API beyond the lifecycle, under paused tokio time: tasks created with the
//! caller's ID, conditional changes (`apply_if`), each task's event log, and cursor listing.

use std::sync::Arc;
use std::time::Duration;

use baton_domain::{
    AccountId, CallbackState, Command, DEFAULT_GROUP, Field, ListFilter, Rejection, SourceProtocol,
    SourceType, StoreError, Task, TaskId, TaskPatch, TaskSpec, TaskStatus, TaskStore,
};
use baton_engine::testing::MemoryStore;
use baton_engine::{
    CallbackKeys, Clock, Engine, EngineConfig, EngineError, LocalLauncher, TokioClock,
};
use baton_net::ingest::AllowAll;
use baton_net::testing::MemoryNetwork;
use baton_relay::RelayConfig;
use tokio::time::sleep;
use tokio_util::sync::CancellationToken;

const T0: i64 = 1_800_000_000;

struct World {
    net: Arc<MemoryNetwork>,
    store: Arc<MemoryStore>,
    clock: Arc<TokioClock>,
}

fn world() -> World {
    let (net, _hub) = MemoryNetwork::with_default_ingest(Arc::new(AllowAll));
    World {
        net,
        store: Arc::new(MemoryStore::new()),
        clock: Arc::new(TokioClock::starting_at(T0)),
    }
}

async fn engine(w: &World) -> Engine {
    let mut relay = RelayConfig::new("", "");
    relay.client.dialer = Arc::new(Arc::clone(&w.net));
    relay.jitter_seed = Some(7);
    Engine::start(
        w.store.clone() as Arc<dyn TaskStore>,
        w.clock.clone() as Arc<dyn Clock>,
        Arc::new(LocalLauncher),
        CallbackKeys::default(),
        EngineConfig {
            relay,
            ..EngineConfig::default()
        },
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

/// A live task starting at `start`, without a callback URL.
fn spec(name: &str, start: i64) -> TaskSpec {
    TaskSpec {
        name: name.into(),
        group: DEFAULT_GROUP.to_string(),
        region: "cn-shanghai".into(),
        source_type: SourceType::Live,
        source_protocol: Some(SourceProtocol::Rtmp),
        source_urls: vec!["rtmp://mem/live/src".into()],
        dst_url: "rtmp://mem/live/dst".into(),
        extra_dst_urls: Vec::new(),
        failover: Default::default(),
        slate: Default::default(),
        start_time: start,
        end_time: T0 + 3600,
        callback_url: None,
        repeat_number: 0,
        retry_count: 2,
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

fn id(s: &str) -> TaskId {
    TaskId(s.into())
}

fn rename(name: &str) -> Command {
    Command::Update(TaskPatch {
        name: Some(name.into()),
        ..TaskPatch::default()
    })
}

fn ids(tasks: &[Task]) -> Vec<&str> {
    tasks.iter().map(|t| t.id.as_str()).collect()
}

#[tokio::test(start_paused = true)]
async fn create_with_id_names_the_task_once() {
    let w = world();
    let engine = engine(&w).await;
    let task = engine
        .create_with_id(&acct(), id("my-task_1"), spec("mine", T0 + 100))
        .await
        .unwrap();
    assert_eq!(task.id, id("my-task_1"));
    assert_eq!((task.version, task.created_at), (1, T0));
    assert_eq!(engine.get(&acct(), &task.id).await.unwrap(), task);

    // Taken, in any account: nothing changes.
    for account in [acct(), AccountId("other".into())] {
        match engine
            .create_with_id(&account, id("my-task_1"), spec("again", T0 + 100))
            .await
        {
            Err(EngineError::Store(StoreError::Duplicate { what, id })) => {
                assert_eq!((what, id.as_str()), ("task", "my-task_1"));
            }
            other => panic!("expected a duplicate, got {other:?}"),
        }
    }
    assert_eq!(engine.get(&acct(), &task.id).await.unwrap(), task);

    // Not a task ID at all.
    match engine
        .create_with_id(&acct(), id("bad.id"), spec("bad", T0 + 100))
        .await
    {
        Err(EngineError::Rejected(Rejection::Invalid { field, .. })) => {
            assert_eq!(field, Field::TaskId)
        }
        other => panic!("expected an invalid ID, got {other:?}"),
    }
    // It runs like any task: its start timer fires.
    sleep(Duration::from_secs(101)).await;
    let t = engine.get(&acct(), &task.id).await.unwrap();
    assert_eq!(t.runtime.status, TaskStatus::Running);
    // Deleted, its ID stays taken while its events are kept (its log, and the event IDs a
    // new task of that ID would repeat).
    engine.delete(&acct(), &task.id).await.unwrap();
    let again = engine
        .create_with_id(&acct(), id("my-task_1"), spec("again", T0 + 200))
        .await;
    assert!(
        matches!(again, Err(EngineError::Store(StoreError::Duplicate { .. }))),
        "{again:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn apply_if_applies_only_at_the_expected_version() {
    let w = world();
    let engine = engine(&w).await;
    let task = engine.create(&acct(), spec("t", T0 + 100)).await.unwrap();
    assert_eq!(task.version, 1);

    let mismatch = |r: Result<Task, EngineError>| match r {
        Err(EngineError::VersionMismatch { current }) => *current,
        other => panic!("expected a version mismatch, got {other:?}"),
    };
    let current = mismatch(engine.apply_if(&acct(), &task.id, rename("x"), 2).await);
    assert_eq!(current, task, "the task as it is");
    assert_eq!(
        engine.get(&acct(), &task.id).await.unwrap(),
        task,
        "nothing applied"
    );

    let renamed = engine
        .apply_if(&acct(), &task.id, rename("x"), 1)
        .await
        .unwrap();
    assert_eq!((renamed.version, renamed.spec.name.as_str()), (2, "x"));
    let current = mismatch(
        engine
            .apply_if(&acct(), &task.id, Command::Disable, 1)
            .await,
    );
    assert_eq!(current, renamed);
    assert_eq!(
        engine.get(&acct(), &task.id).await.unwrap().runtime.status,
        TaskStatus::NotStarted
    );

    // Two changes from the same read: one wins, the other finds the winner's version.
    let account = acct();
    let (a, b) = tokio::join!(
        engine.apply_if(&account, &task.id, Command::Disable, 2),
        engine.apply_if(&account, &task.id, rename("y"), 2),
    );
    let (won, lost) = match (a, b) {
        (Ok(won), lost @ Err(_)) | (lost @ Err(_), Ok(won)) => (won, mismatch(lost)),
        other => panic!("exactly one must win: {other:?}"),
    };
    assert_eq!(won.version, 3);
    assert_eq!(lost, won, "the loser sees the winner's change");
    assert_eq!(engine.get(&acct(), &task.id).await.unwrap(), won);

    // At the right version the command's own rules still apply; unknown tasks are not found.
    let stopped = if won.runtime.status == TaskStatus::Stopped {
        won
    } else {
        engine.disable(&acct(), &task.id).await.unwrap()
    };
    assert_eq!(stopped.runtime.status, TaskStatus::Stopped);
    let r = engine
        .apply_if(&acct(), &task.id, Command::Stop, stopped.version)
        .await;
    assert!(
        matches!(r, Err(EngineError::Rejected(Rejection::TaskHasStopped))),
        "{r:?}"
    );
    let r = engine
        .apply_if(&acct(), &id("nope"), Command::Stop, 1)
        .await;
    assert!(
        matches!(r, Err(EngineError::Rejected(Rejection::NotFound))),
        "{r:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn task_events_log_every_event_without_a_callback_url() {
    let w = world();
    let engine = engine(&w).await;
    let task = engine.create(&acct(), spec("quiet", T0)).await.unwrap();
    sleep(Duration::from_secs(1)).await;
    engine.stop(&acct(), &task.id).await.unwrap();
    sleep(Duration::from_secs(1)).await;
    engine.delete(&acct(), &task.id).await.unwrap();

    // Kept after the deletion, newest first, recorded as delivered when they happened.
    let log = engine
        .task_events(&acct(), &task.id, None, 10)
        .await
        .unwrap();
    let summary: Vec<_> = log
        .iter()
        .map(|r| (r.event.seq, r.event.state, r.event.time, r.delivered_at))
        .collect();
    assert_eq!(
        summary,
        [
            (3, CallbackState::Exit, T0 + 2, Some(T0 + 2)),
            (2, CallbackState::Offline, T0 + 1, Some(T0 + 1)),
            (1, CallbackState::Running, T0, Some(T0)),
        ]
    );
    assert!(
        log.iter()
            .all(|r| r.event.url.is_empty() && r.attempts == 0)
    );
    // Never due for delivery.
    assert!(w.store.due_events(i64::MAX, 100).await.unwrap().is_empty());

    // Pages by sequence number; nothing for another account or an unknown task.
    let page = engine
        .task_events(&acct(), &task.id, Some(3), 1)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].event.seq, 2);
    let other = AccountId("other".into());
    assert!(
        engine
            .task_events(&other, &task.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        engine
            .task_events(&acct(), &id("nope"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn list_after_pages_through_an_account_in_list_order() {
    let w = world();
    let engine = engine(&w).await;
    // Three created in the same second (ordered by ID), then one a second for two seconds.
    for name in ["t-c", "t-a", "t-b"] {
        engine
            .create_with_id(&acct(), id(name), spec(name, T0 + 100))
            .await
            .unwrap();
    }
    for name in ["t-1", "t-2"] {
        sleep(Duration::from_secs(1)).await;
        engine
            .create_with_id(&acct(), id(name), spec(name, T0 + 100))
            .await
            .unwrap();
    }
    engine
        .create_with_id(&AccountId("other".into()), id("t-9"), spec("t-9", T0 + 100))
        .await
        .unwrap();

    let all = ListFilter::default();
    let mut walked = Vec::new();
    let mut after = None;
    for _ in 0..4 {
        let page = engine
            .list_after(&acct(), &all, after.clone(), 2)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.created_at, last.id.clone()));
        walked.extend(ids(&page).into_iter().map(str::to_owned));
    }
    assert_eq!(walked, ["t-2", "t-1", "t-a", "t-b", "t-c"]);
    let past = engine.list_after(&acct(), &all, after, 2).await.unwrap();
    assert!(past.is_empty(), "nothing after the last");

    let named = ListFilter {
        name: Some("T-".into()),
        ..ListFilter::default()
    };
    let page = engine
        .list_after(&acct(), &named, Some((T0, id("t-a"))), 10)
        .await
        .unwrap();
    assert_eq!(ids(&page), ["t-b", "t-c"]);
    // The tasks are the engine's own view of them.
    assert_eq!(page[0], engine.get(&acct(), &id("t-b")).await.unwrap());
}
