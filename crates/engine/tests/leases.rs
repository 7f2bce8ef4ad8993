//! The engine under leases ([`ClusterConfig`]) on paused tokio time: it runs a task only once
//! its node holds the task's lease, stops the relay on its own when it cannot renew (before
//! the lease could expire) or when the lease is gone, without writing the task as a
//! non-owner; a user's command on a task it does not own is written but starts nothing; a
//! shutdown releases the leases after the relays stopped. The leases are a scripted database
//! over the in-memory store (the real SQL is the PostgreSQL conformance suite's).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_domain::{
    CallbackEvent, Lease, LeaseState, LeaseStore, LeaseTerms, NodeId, NodeInfo, StoreFuture, Task,
    TaskId, TaskStatus, TaskStore,
};
use baton_engine::testing::MemoryStore;
use baton_engine::{
    CallbackKeys, Clock, ClusterConfig, Engine, EngineConfig, EngineError, LeaseConfig,
    LocalLauncher,
};
use baton_net::testing::publish_test_stream;
use baton_relay::RelayConfig;
use tokio::time::sleep;
use tokio_util::sync::CancellationToken;

mod support;
use support::{T0, World, acct, dst, live_spec as spec, world};

#[derive(Debug)]
struct State {
    /// Whether the database answers (false: every call hangs, a partition).
    up: bool,
    /// Whether this node may claim (false: every task is owned by another node).
    claimable: bool,
    /// The lease of each claimed task: (owner is this node, epoch).
    leases: BTreeMap<TaskId, (bool, u64)>,
    released: Vec<Lease>,
}

/// A shared database's leases for one node, scripted by the test; tasks in `store`.
#[derive(Debug)]
struct Leases {
    store: Arc<MemoryStore>,
    state: Mutex<State>,
}

impl Leases {
    fn new(store: Arc<MemoryStore>) -> Arc<Leases> {
        Arc::new(Leases {
            store,
            state: Mutex::new(State {
                up: true,
                claimable: true,
                leases: BTreeMap::new(),
                released: Vec::new(),
            }),
        })
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Another node claims `task` (the next epoch).
    fn taken_over(&self, task: &TaskId) {
        let mut st = self.st();
        let epoch = st.leases.get(task).map_or(1, |l| l.1 + 1);
        st.leases.insert(task.clone(), (false, epoch));
    }

    async fn gate(&self) {
        if !self.st().up {
            std::future::pending::<()>().await;
        }
    }
}

impl LeaseStore for Leases {
    fn register_node<'a>(&'a self, _node: &'a NodeInfo) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.gate().await;
            Ok(())
        })
    }

    fn claim<'a>(
        &'a self,
        node: &'a NodeId,
        limit: u32,
        _terms: LeaseTerms,
    ) -> StoreFuture<'a, Vec<Lease>> {
        Box::pin(async move {
            self.gate().await;
            let tasks = self.store.unfinished().await?;
            let mut st = self.st();
            if !st.claimable {
                return Ok(Vec::new());
            }
            let mut claimed = Vec::new();
            for t in tasks {
                if claimed.len() >= limit as usize || st.leases.contains_key(&t.id) {
                    continue;
                }
                st.leases.insert(t.id.clone(), (true, 1));
                claimed.push(Lease {
                    task: t.id,
                    account: t.account,
                    owner: node.clone(),
                    epoch: 1,
                });
            }
            Ok(claimed)
        })
    }

    fn renew<'a>(
        &'a self,
        _node: &'a NodeId,
        held: &'a [Lease],
        _terms: LeaseTerms,
    ) -> StoreFuture<'a, Vec<Lease>> {
        Box::pin(async move {
            self.gate().await;
            let st = self.st();
            Ok(held
                .iter()
                .filter(|l| st.leases.get(&l.task) == Some(&(true, l.epoch)))
                .cloned()
                .collect())
        })
    }

    fn release<'a>(&'a self, leases: &'a [Lease]) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            self.gate().await;
            let mut st = self.st();
            st.released.extend_from_slice(leases);
            Ok(leases.len() as u64)
        })
    }

    fn update_leased<'a>(
        &'a self,
        task: &'a Task,
        expected_version: u64,
        events: &'a [CallbackEvent],
        lease: &'a Lease,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.gate().await;
            if self.st().leases.get(&lease.task) != Some(&(true, lease.epoch)) {
                return Err(baton_domain::lease::fenced(lease));
            }
            self.store.update(task, expected_version, events).await
        })
    }

    fn lease_of<'a>(&'a self, _id: &'a TaskId) -> StoreFuture<'a, Option<LeaseState>> {
        Box::pin(async { Ok(None) })
    }

    fn versions<'a>(&'a self, tasks: &'a [TaskId]) -> StoreFuture<'a, Vec<(TaskId, u64)>> {
        Box::pin(async move {
            self.gate().await;
            self.store.versions(tasks).await
        })
    }
}

async fn engine(w: &World, leases: &Arc<Leases>) -> Engine {
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
            cluster: Some(ClusterConfig {
                leases: leases.clone() as Arc<dyn LeaseStore>,
                node: NodeInfo {
                    id: NodeId::parse("node-a").unwrap(),
                    name: "a.example:8080".into(),
                    capacity: 10,
                },
                // The times this file's timelines are written for (fence 7 s after a
                // renewal is sent).
                lease: LeaseConfig {
                    lease: Duration::from_secs(10),
                    renew: Duration::from_secs(3),
                    margin: Duration::from_secs(3),
                    grace: Duration::from_secs(2),
                    capacity: 10,
                },
            }),
            ..EngineConfig::default()
        },
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

fn publish(w: &World) {
    let net = Arc::clone(&w.net);
    tokio::spawn(async move { publish_test_stream(&net, "rtmp://mem/live/src", 600, 0).await });
}

/// A created task runs as soon as its lease is claimed (the keeper is woken, not waited
/// for); when the database stops answering, the relay stops 7 s (lease 10 s − margin 3 s)
/// after the last renewal was sent, and the task is not written by the fenced node.
#[tokio::test(start_paused = true)]
async fn a_partitioned_node_stops_its_relay_before_the_lease_can_expire() {
    let w = world();
    publish(&w);
    let leases = Leases::new(w.store.clone());
    let engine = engine(&w, &leases).await;
    sleep(Duration::from_millis(100)).await;
    let task = engine.create(&acct(), spec(T0, T0 + 600)).await.unwrap();
    sleep(Duration::from_secs(2)).await;
    assert!(w.hub.is_publishing(&dst()), "claimed at once and running");
    let held = engine.held_leases().unwrap();
    assert_eq!(held.get(&task.id).map(|l| l.epoch), Some(1));

    // Renewals go out at 0.1 + 3k s (the wake at creation moved them to its instant, ~0.1 s).
    // Partition after the one at ~3.1 s: fenced at ~3.1 + 7 = ~10.1 s.
    sleep(Duration::from_millis(1500)).await; // ~3.6 s
    leases.st().up = false;
    let before = w.store.get(&acct(), &task.id).await.unwrap().unwrap();
    sleep(Duration::from_millis(6300)).await; // ~9.9 s
    assert!(w.hub.is_publishing(&dst()), "still within the fence");
    sleep(Duration::from_millis(400)).await; // ~10.3 s
    assert!(!w.hub.is_publishing(&dst()), "fenced: the push stopped");
    assert!(held.is_empty());
    sleep(Duration::from_secs(30)).await;
    let after = w.store.get(&acct(), &task.id).await.unwrap().unwrap();
    assert_eq!(
        after.version, before.version,
        "a fenced node writes nothing"
    );
    assert_eq!(after.runtime.status, TaskStatus::Running);
    assert!(!w.hub.is_publishing(&dst()));
}

/// Another node took the task over (a higher epoch): the next renewal misses it and the
/// relay stops; the old owner's reports are not applied, and the task leaves its metrics.
#[tokio::test(start_paused = true)]
async fn a_task_taken_over_stops_here_at_the_next_renewal() {
    let w = world();
    publish(&w);
    let leases = Leases::new(w.store.clone());
    let engine = engine(&w, &leases).await;
    let task = engine.create(&acct(), spec(T0, T0 + 600)).await.unwrap();
    sleep(Duration::from_secs(2)).await;
    assert!(w.hub.is_publishing(&dst()));
    let version = w
        .store
        .get(&acct(), &task.id)
        .await
        .unwrap()
        .unwrap()
        .version;
    assert_eq!(engine.task_snapshots().len(), 1, "the owner reports it");
    leases.taken_over(&task.id);
    sleep(Duration::from_secs(3)).await;
    assert!(!w.hub.is_publishing(&dst()), "stopped at the next renewal");
    assert_eq!(engine.held_leases().unwrap().get(&task.id), None);
    assert!(
        engine.task_snapshots().is_empty(),
        "a lost task leaves the metrics table"
    );
    let t = w.store.get(&acct(), &task.id).await.unwrap().unwrap();
    assert_eq!(
        t.version, version,
        "no report of the stopped relay was written"
    );
    // A timer or report of this node for the task is refused by name.
    let r = engine
        .apply(&acct(), &task.id, baton_domain::Command::Recover)
        .await;
    assert!(matches!(r, Err(EngineError::NotOwner { .. })), "{r:?}");
}

/// A task another node owns: a user's command through this node is written (versioned), and
/// starts nothing here — no relay, no timer (its Start timer is the owner's: the task stays
/// not started here).
#[tokio::test(start_paused = true)]
async fn user_commands_on_a_task_owned_elsewhere_start_nothing_here() {
    let w = world();
    publish(&w);
    let leases = Leases::new(w.store.clone());
    leases.st().claimable = false;
    let engine = engine(&w, &leases).await;
    let task = engine
        .create(&acct(), spec(T0 + 1, T0 + 600))
        .await
        .unwrap();
    sleep(Duration::from_secs(5)).await;
    let t = engine.get(&acct(), &task.id).await.unwrap();
    assert_eq!(
        t.runtime.status,
        TaskStatus::NotStarted,
        "the Start timer is the owner's"
    );
    assert!(!w.hub.is_publishing(&dst()), "not this node's task");
    let t = engine.disable(&acct(), &task.id).await.unwrap();
    assert_eq!(t.runtime.status, TaskStatus::Stopped);
    let t = engine.enable(&acct(), &task.id, false).await.unwrap();
    assert_eq!(t.runtime.status, TaskStatus::Running, "written");
    sleep(Duration::from_secs(5)).await;
    assert!(
        !w.hub.is_publishing(&dst()),
        "but started by the owner, not here"
    );
    assert_eq!(
        w.store
            .get(&acct(), &task.id)
            .await
            .unwrap()
            .unwrap()
            .version,
        t.version
    );
}

/// SIGTERM: the relays stop, then the leases are released.
#[tokio::test(start_paused = true)]
async fn shutdown_releases_the_leases_after_the_relays_stopped() {
    let w = world();
    publish(&w);
    let leases = Leases::new(w.store.clone());
    let engine = engine(&w, &leases).await;
    let task = engine.create(&acct(), spec(T0, T0 + 600)).await.unwrap();
    sleep(Duration::from_secs(2)).await;
    assert!(w.hub.is_publishing(&dst()));
    engine.shutdown(Duration::from_secs(5)).await;
    assert!(!w.hub.is_publishing(&dst()));
    let released: Vec<TaskId> = leases
        .st()
        .released
        .iter()
        .map(|l| l.task.clone())
        .collect();
    assert_eq!(released, [task.id]);
}

/// A task that exits gives its lease back (not renewed, released).
#[tokio::test(start_paused = true)]
async fn an_exited_task_gives_its_lease_back() {
    let w = world();
    publish(&w);
    let leases = Leases::new(w.store.clone());
    let engine = engine(&w, &leases).await;
    let task = engine.create(&acct(), spec(T0, T0 + 30)).await.unwrap();
    sleep(Duration::from_secs(2)).await;
    assert!(w.hub.is_publishing(&dst()));
    assert!(engine.held_leases().unwrap().get(&task.id).is_some());
    sleep(Duration::from_secs(30)).await; // past its end time
    let t = w.store.get(&acct(), &task.id).await.unwrap().unwrap();
    assert_eq!(t.runtime.status, TaskStatus::Exited);
    assert!(!w.hub.is_publishing(&dst()));
    assert!(engine.held_leases().unwrap().is_empty());
    let released: Vec<TaskId> = leases
        .st()
        .released
        .iter()
        .map(|l| l.task.clone())
        .collect();
    assert_eq!(released, [task.id]);
}

/// Without a database answer at start nothing runs (nothing is recovered without a lease).
#[tokio::test(start_paused = true)]
async fn nothing_runs_without_a_lease() {
    let w = world();
    publish(&w);
    let mut t = Task::create(
        TaskId("00000000-0000-4000-8000-000000000001".into()),
        acct(),
        spec(T0, T0 + 600),
        T0,
    )
    .unwrap()
    .task;
    t.runtime.status = TaskStatus::Running;
    w.store.insert(&t, &[]).await.unwrap();
    let leases = Leases::new(w.store.clone());
    leases.st().up = false;
    let _engine = engine(&w, &leases).await;
    sleep(Duration::from_secs(20)).await;
    assert!(
        !w.hub.is_publishing(&dst()),
        "not recovered without its lease"
    );
    leases.st().up = true;
    sleep(Duration::from_secs(4)).await;
    assert!(w.hub.is_publishing(&dst()), "recovered once claimed");
}

/// Metrics are per node: a node exports the tasks it holds a lease on (and their relays), not
/// a task another node owns — created, changed through this node, or taken over from it.
#[tokio::test(start_paused = true)]
async fn a_node_exports_only_the_tasks_it_holds() {
    let w = world();
    publish(&w);
    let leases = Leases::new(w.store.clone());
    let engine = engine(&w, &leases).await;
    let mine = engine.create(&acct(), spec(T0, T0 + 600)).await.unwrap();
    sleep(Duration::from_secs(2)).await;
    let ids = |engine: &Engine| -> Vec<TaskId> {
        engine.task_snapshots().into_iter().map(|s| s.id).collect()
    };
    assert_eq!(ids(&engine), std::slice::from_ref(&mine.id));

    // Another node owns the next one: written through this node, exported by the owner.
    leases.st().claimable = false;
    let theirs = engine
        .create(&acct(), spec(T0 + 1, T0 + 600))
        .await
        .unwrap();
    engine.disable(&acct(), &theirs.id).await.unwrap();
    sleep(Duration::from_secs(4)).await;
    assert_eq!(ids(&engine), std::slice::from_ref(&mine.id));

    // Taken over: no longer exported here.
    leases.taken_over(&mine.id);
    sleep(Duration::from_secs(3)).await;
    assert!(ids(&engine).is_empty(), "{:?}", ids(&engine));
}
