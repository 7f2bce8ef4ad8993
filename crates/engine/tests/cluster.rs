//! Two engines on one PostgreSQL database, as two `baton serve` nodes (issue 15): a task is
//! pushed only by the node holding its lease, and a user's command applied through the other
//! node reaches that owner — within one renew round by the owner's poll of its held tasks'
//! versions, at once through [`Engine::task_changed`] (what a cross-node notice calls).
//!
//! Real time against a real server, with short lease times: skipped (passing, said on stderr)
//! unless `BATON_TEST_POSTGRES` names a scratch database (`.ci/run` starts one). Each test
//! works in a schema of its own, dropped when it passed.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use baton_domain::{
    Command, LeaseStore, NodeId, NodeInfo, TaskId, TaskPatch, TaskStatus, TaskStore,
};
use baton_engine::{
    CallbackKeys, Clock, ClusterConfig, Engine, EngineConfig, LeaseConfig, LocalLauncher,
    MediaSources,
};
use baton_net::testing::publish_test_stream;
use baton_relay::RelayConfig;
use baton_store_postgres::PgStore;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tokio::time::{Instant, sleep};
use tokio_util::sync::CancellationToken;

mod support;
use support::{World, acct, live_spec as spec, world};

/// A fresh schema on the test server, and the options whose connections use it.
async fn fresh_schema() -> Option<(PgConnectOptions, String)> {
    let url = match std::env::var("BATON_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            eprintln!("skipped: BATON_TEST_POSTGRES is not set");
            return None;
        }
    };
    let base = PgConnectOptions::from_str(&url).expect("BATON_TEST_POSTGRES parses");
    let schema = format!("baton_test_{:016x}", rand::random::<u64>());
    let mut conn = PgConnection::connect_with(&base).await.expect("connect");
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .expect("create schema");
    Some((base.options([("search_path", schema.as_str())]), schema))
}

async fn drop_schema(options: &PgConnectOptions, schema: &str) {
    let mut conn = PgConnection::connect_with(options).await.expect("connect");
    sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut conn)
        .await
        .expect("drop schema");
}

/// One node: an engine on its own connection pool to the shared schema (playlist files from
/// the system's temp dir).
async fn node(w: &World, options: &PgConnectOptions, name: &str, lease: &LeaseConfig) -> Engine {
    let store = Arc::new(
        PgStore::connect_with(options.clone())
            .await
            .expect("open store"),
    );
    let mut relay = RelayConfig::new("", "");
    relay.client.dialer = Arc::new(Arc::clone(&w.net));
    Engine::start(
        Arc::clone(&store) as Arc<dyn TaskStore>,
        w.clock.clone() as Arc<dyn Clock>,
        Arc::new(LocalLauncher),
        CallbackKeys::default(),
        EngineConfig {
            relay,
            media: MediaSources {
                media_dir: None,
                local_roots: vec![std::env::temp_dir()],
            },
            cluster: Some(ClusterConfig {
                leases: store as Arc<dyn LeaseStore>,
                node: NodeInfo {
                    id: NodeId::parse(name).unwrap(),
                    name: format!("{name}.example:8080"),
                    capacity: 10,
                },
                lease: lease.clone(),
            }),
            ..EngineConfig::default()
        },
        CancellationToken::new(),
    )
    .await
    .expect("engine starts")
}

/// Lease 3 s, renew every second, margin 1 s, grace 1 s: a poll every second.
fn fast() -> LeaseConfig {
    LeaseConfig {
        lease: Duration::from_secs(3),
        renew: Duration::from_secs(1),
        margin: Duration::from_secs(1),
        grace: Duration::from_secs(1),
        capacity: 10,
    }
}

/// Waits until `cond` holds, at most `limit`; the time it took.
async fn until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

fn publish(w: &World) {
    let net = Arc::clone(&w.net);
    tokio::spawn(async move { publish_test_stream(&net, "rtmp://mem/live/src", 120, 0).await });
}

/// Stop, Restart, Disable, Enable, an Update of the start time and Delete, each through the
/// node that does not own the task, reach the owner's relay and timers within one poll (a
/// renew round of 1 s, with slack); the other node never starts a relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_through_another_node_reach_the_owner_within_a_poll() {
    let Some((options, schema)) = fresh_schema().await else {
        return;
    };
    let w = world();
    publish(&w);
    let a = node(&w, &options, "node-a", &fast()).await;
    let now = w.clock.now();
    let id = a
        .create(&acct(), spec(now, now + 3600))
        .await
        .expect("created")
        .id;
    // Created through A, claimed by A at once (its keeper is woken) before B exists.
    until(Duration::from_secs(5), "A runs the task", || {
        a.relay_run(&id) == Some(1)
    })
    .await;
    let b = node(&w, &options, "node-b", &fast()).await;
    let poll = Duration::from_secs(3);
    let b_idle = |b: &Engine, id: &TaskId| {
        assert_eq!(b.relay_run(id), None, "the non-owner never pushes");
        assert!(b.held_leases().expect("leases").get(id).is_none());
    };

    b.stop(&acct(), &id).await.expect("stopped through B");
    let took = until(poll, "A stops the relay", || a.relay_run(&id).is_none()).await;
    eprintln!("stop through B reached A in {took:?}");
    b_idle(&b, &id);

    b.restart(&acct(), &id).await.expect("restarted through B");
    until(poll, "A runs run 2", || a.relay_run(&id) == Some(2)).await;
    // A restart of a running task: the old run stops, the new one starts.
    b.restart(&acct(), &id).await.expect("restarted again");
    until(poll, "A runs run 3", || a.relay_run(&id) == Some(3)).await;
    b_idle(&b, &id);

    b.disable(&acct(), &id).await.expect("disabled through B");
    until(poll, "A stops run 3", || a.relay_run(&id).is_none()).await;
    b.enable(&acct(), &id, false)
        .await
        .expect("enabled through B");
    until(poll, "A runs run 4", || a.relay_run(&id) == Some(4)).await;
    b_idle(&b, &id);
    assert!(a.task_snapshots().iter().any(|s| s.id == id));
    assert!(
        b.task_snapshots().is_empty(),
        "the non-owner reports no task"
    );

    // A task that has not started: its start time moved through the other node re-arms the
    // owner's timer.
    let now = w.clock.now();
    let mut second = spec(now + 3600, now + 7200);
    // Its own destination: the ingest takes one publisher per stream.
    second.dst_url = "rtmp://mem/live/dst2".into();
    let later = a.create(&acct(), second).await.expect("created").id;
    // Created through A, which its woken keeper claims at once — unless B's round came first
    // on a loaded machine: whichever holds it is its owner, the other one the other node.
    let holds = |n: &Engine| n.held_leases().expect("leases").get(&later).is_some();
    until(
        Duration::from_secs(5),
        "a node holds the second task",
        || holds(&a) || holds(&b),
    )
    .await;
    let (owner, other) = if holds(&a) { (&a, &b) } else { (&b, &a) };
    let patch = TaskPatch {
        start_time: Some(w.clock.now() + 2),
        ..TaskPatch::default()
    };
    other.update(&acct(), &later, patch).await.expect("updated");
    until(
        Duration::from_secs(6),
        "the owner starts it at the new time",
        || owner.relay_run(&later) == Some(1),
    )
    .await;
    b_idle(other, &later);

    // Stopped, its end time moved to 2 s from now through the other node: the owner's End
    // timer ends it then, and the owner gives its lease back.
    other.stop(&acct(), &later).await.expect("stopped");
    let patch = TaskPatch {
        end_time: Some(w.clock.now() + 2),
        ..TaskPatch::default()
    };
    other.update(&acct(), &later, patch).await.expect("updated");
    until(
        Duration::from_secs(6),
        "the owner ends it at the new end time",
        || !holds(owner),
    )
    .await;
    assert_eq!(
        owner.get(&acct(), &later).await.unwrap().runtime.status,
        TaskStatus::Exited
    );

    b.delete(&acct(), &id).await.expect("deleted through B");
    until(
        poll,
        "A stops the deleted task and gives its lease back",
        || a.relay_run(&id).is_none() && a.held_leases().expect("leases").get(&id).is_none(),
    )
    .await;
    assert!(a.task_snapshots().is_empty());
    a.shutdown(Duration::from_secs(2)).await;
    b.shutdown(Duration::from_secs(2)).await;
    drop_schema(&options, &schema).await;
}

/// With polls 10 s apart, a notice ([`Engine::task_changed`]) carries a Stop and a Restart
/// through the other node to the owner at once; a notice of the version the owner already
/// runs, and one on the node that does not own the task, change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_reaches_the_owner_at_once() {
    let Some((options, schema)) = fresh_schema().await else {
        return;
    };
    let slow = LeaseConfig {
        lease: Duration::from_secs(30),
        renew: Duration::from_secs(10),
        margin: Duration::from_secs(5),
        grace: Duration::from_secs(1),
        capacity: 10,
    };
    let w = world();
    publish(&w);
    let a = node(&w, &options, "node-a", &slow).await;
    let now = w.clock.now();
    let task = a.create(&acct(), spec(now, now + 3600)).await.unwrap();
    let id = task.id;
    until(Duration::from_secs(5), "A runs the task", || {
        a.relay_run(&id) == Some(1)
    })
    .await;
    let b = node(&w, &options, "node-b", &slow).await;

    let stopped = b.stop(&acct(), &id).await.unwrap();
    b.task_changed(&id, Some(stopped.version)).await;
    assert_eq!(a.relay_run(&id), Some(1), "no notice yet, no poll yet");
    a.task_changed(&id, Some(stopped.version)).await;
    assert_eq!(a.relay_run(&id), None, "stopped when the notice returns");

    let restarted = b.apply(&acct(), &id, Command::Restart).await.unwrap();
    a.task_changed(&id, None).await;
    assert_eq!(a.relay_run(&id), Some(2));
    // The same notice again: nothing to do.
    a.task_changed(&id, Some(restarted.version)).await;
    assert_eq!(a.relay_run(&id), Some(2));
    assert_eq!(b.relay_run(&id), None);
    a.shutdown(Duration::from_secs(2)).await;
    b.shutdown(Duration::from_secs(2)).await;
    drop_schema(&options, &schema).await;
}

/// A node stopping cleanly releases its leases; told so ([`Engine::leases_released`], what a
/// notice of the release calls), another node claims the task at once instead of at its next
/// round (10 s away here) and pushes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_lease_is_claimed_at_once_when_told() {
    let Some((options, schema)) = fresh_schema().await else {
        return;
    };
    let slow = LeaseConfig {
        lease: Duration::from_secs(30),
        renew: Duration::from_secs(10),
        margin: Duration::from_secs(5),
        grace: Duration::from_secs(1),
        capacity: 10,
    };
    let w = world();
    publish(&w);
    let a = node(&w, &options, "node-a", &slow).await;
    let now = w.clock.now();
    let id = a.create(&acct(), spec(now, now + 3600)).await.unwrap().id;
    until(Duration::from_secs(5), "A runs the task", || {
        a.relay_run(&id) == Some(1)
    })
    .await;
    let b = node(&w, &options, "node-b", &slow).await;
    // B's first round is over (registered, nothing to claim): its next one is 10 s away.
    sleep(Duration::from_millis(500)).await;
    assert_eq!(b.relay_run(&id), None);
    a.shutdown(Duration::from_secs(2)).await;
    assert_eq!(a.relay_run(&id), None);
    b.leases_released();
    let took = until(Duration::from_secs(3), "B claims and runs the task", || {
        b.relay_run(&id).is_some()
    })
    .await;
    eprintln!("released by A, pushed by B {took:?} after the notice");
    b.shutdown(Duration::from_secs(2)).await;
    drop_schema(&options, &schema).await;
}

/// A playlist playing its one 3 s file once: its RepeatNumber set to forever through the
/// other node reaches the owner's playing list, which goes on past the file's end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_number_changed_elsewhere_reaches_the_playing_list() {
    let Some((options, schema)) = fresh_schema().await else {
        return;
    };
    let file = std::env::temp_dir().join(format!("baton-cluster-{schema}.flv"));
    std::fs::write(&file, baton_net::testing::test_flv_file(3, 30, 0x64, 1)).unwrap();
    let w = world();
    let a = node(&w, &options, "node-a", &fast()).await;
    let now = w.clock.now();
    let mut list = spec(now, now + 3600);
    list.source_type = baton_domain::SourceType::Url;
    list.source_urls = vec![file.to_string_lossy().into_owned()];
    list.repeat_number = 0;
    let id = a.create(&acct(), list).await.expect("created").id;
    until(Duration::from_secs(5), "A plays the list", || {
        a.relay_run(&id) == Some(1)
    })
    .await;
    let b = node(&w, &options, "node-b", &fast()).await;
    let patch = TaskPatch {
        repeat_number: Some(-1),
        ..TaskPatch::default()
    };
    b.update(&acct(), &id, patch)
        .await
        .expect("updated through B");
    sleep(Duration::from_secs(6)).await;
    assert_eq!(
        a.relay_run(&id),
        Some(1),
        "still playing, past the file's end"
    );
    let t = a.get(&acct(), &id).await.unwrap();
    assert_eq!(t.runtime.status, TaskStatus::Running);
    assert!(t.runtime.current_loop >= 1, "{:?}", t.runtime);
    assert_eq!(b.relay_run(&id), None);
    a.shutdown(Duration::from_secs(2)).await;
    b.shutdown(Duration::from_secs(2)).await;
    let _ = std::fs::remove_file(&file);
    drop_schema(&options, &schema).await;
}

/// Issue 16: a running task's extra destinations patched through the node that does not own
/// it: the owner's reconciliation adds the new one to its relay and removes the dropped one,
/// and the destination kept keeps its one session (never reconnected); the other node never
/// starts a relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destinations_changed_elsewhere_reach_the_owners_relay() {
    let Some((options, schema)) = fresh_schema().await else {
        return;
    };
    let w = world();
    publish(&w);
    let a = node(&w, &options, "node-a", &fast()).await;
    let now = w.clock.now();
    let mut two = spec(now, now + 3600);
    two.dst_url = "rtmp://mem/live/a".into();
    two.extra_dst_urls = vec!["rtmp://mem/live/b".into()];
    let id = a.create(&acct(), two).await.expect("created").id;
    let key = |name: &str| baton_net::hub::StreamKey::new("mem", "live", name);
    until(Duration::from_secs(5), "A pushes to a and b", || {
        w.hub.is_publishing(&key("a")) && w.hub.is_publishing(&key("b"))
    })
    .await;
    let b = node(&w, &options, "node-b", &fast()).await;
    let patch = TaskPatch {
        extra_dst_urls: Some(vec!["rtmp://mem/live/c".into()]),
        ..TaskPatch::default()
    };
    b.update(&acct(), &id, patch)
        .await
        .expect("updated through B");
    let took = until(Duration::from_secs(3), "c added, b removed on A", || {
        w.hub.is_publishing(&key("c")) && !w.hub.is_publishing(&key("b"))
    })
    .await;
    eprintln!("destinations synced on the owner {took:?} after the patch through B");
    let relay = a.relay_status(&id).expect("A's relay runs");
    let sessions: Vec<(&str, u64)> = relay
        .destinations
        .iter()
        .map(|d| (d.url.as_str(), d.sessions))
        .collect();
    assert_eq!(
        sessions,
        [("rtmp://mem/live/a", 1), ("rtmp://mem/live/c", 1)],
        "a not reconnected"
    );
    assert_eq!(a.relay_run(&id), Some(1), "the same run");
    assert_eq!(b.relay_run(&id), None);
    a.shutdown(Duration::from_secs(2)).await;
    b.shutdown(Duration::from_secs(2)).await;
    drop_schema(&options, &schema).await;
}

/// Issue 16: the node that takes a task over records it in the task's log — `TakenOver`,
/// naming the previous owner (its name and ID) and its lease's epoch — recorded, never
/// delivered; the first owner of a task (nobody held it before) records nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_owner_records_the_takeover_with_the_previous_owner() {
    let Some((options, schema)) = fresh_schema().await else {
        return;
    };
    let w = world();
    publish(&w);
    let a = node(&w, &options, "node-a", &fast()).await;
    let now = w.clock.now();
    let mut task = spec(now, now + 3600);
    task.callback_url = Some("http://127.0.0.1:9/cb".into());
    let id = a.create(&acct(), task).await.unwrap().id;
    until(Duration::from_secs(5), "A runs the task", || {
        a.relay_run(&id) == Some(1)
    })
    .await;
    let b = node(&w, &options, "node-b", &fast()).await;
    a.shutdown(Duration::from_secs(2)).await;
    b.leases_released();
    until(Duration::from_secs(3), "B claims and runs the task", || {
        b.relay_run(&id).is_some()
    })
    .await;
    // The takeover is applied before the recovery that starts B's relay.
    let log = b
        .task_events(&acct(), &id, None, 100)
        .await
        .expect("events");
    let taken: Vec<_> = log
        .iter()
        .filter(|r| r.event.state == baton_domain::CallbackState::TakenOver)
        .collect();
    assert_eq!(taken.len(), 1, "{log:#?}");
    assert_eq!(
        taken[0].event.detail.as_deref(),
        Some("from node node-a.example:8080 (node-a), epoch 1")
    );
    assert!(
        !taken[0].event.is_deliverable(),
        "recorded, never a callback"
    );
    // A's first claim recorded no takeover: only B's is in the log.
    b.shutdown(Duration::from_secs(2)).await;
    drop_schema(&options, &schema).await;
}
