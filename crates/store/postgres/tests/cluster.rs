//! Several nodes on one database (issue 15 item 4, "one cluster, any node"): what two stores —
//! two pools, as two `baton serve` would have — on one schema must agree on. Real time against
//! a real server, every wait short and bounded; skipped (passing) without
//! `BATON_TEST_POSTGRES`: see `common/mod.rs`.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use baton_domain::{ClusterStore, LeaseStore, LeaseTerms, NodeId, NodeInfo, TaskStore};
use baton_store_conformance::{event, task};
use baton_store_postgres::PgStore;
use common::{done, fresh_schema};
use futures_util::future::join_all;

/// Two stores on one fresh schema.
async fn pair() -> Option<(PgStore, PgStore)> {
    let (options, _) = fresh_schema().await?;
    let a = PgStore::connect_with(options.clone())
        .await
        .expect("open store");
    let b = PgStore::connect_with(options)
        .await
        .expect("open the same store again");
    Some((a, b))
}

async fn done_pair(a: PgStore, b: PgStore) {
    b.close().await;
    done(a).await;
}

/// Two nodes claiming due events at once, many times over, never both get one event; between
/// them they get every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_never_share_an_event() {
    let Some((a, b)) = pair().await else {
        return;
    };
    let mut all = HashSet::new();
    for i in 0..20 {
        let t = task("acc", &format!("t{i:02}"), i);
        let events: Vec<_> = (1..=10).map(|s| event(&t, s, 10)).collect();
        all.extend(events.iter().map(|e| e.id.clone()));
        a.insert(&t, &events).await.expect("insert");
    }
    let claim = Duration::from_secs(60);
    // 8 claimers on each node, 7 events a claim: 112 asked for, 200 there — then again until
    // nothing is left.
    let mut seen = HashSet::new();
    loop {
        let rounds = join_all((0..16).map(|i| {
            let store = if i % 2 == 0 { &a } else { &b };
            store.claim_due_events(100, 7, claim)
        }))
        .await;
        let mut got = 0;
        for r in rounds {
            for e in r.expect("claim") {
                got += 1;
                assert!(
                    seen.insert(e.event.id.clone()),
                    "{} claimed twice",
                    e.event.id
                );
            }
        }
        if got == 0 {
            break;
        }
    }
    assert_eq!(seen, all);
    done_pair(a, b).await;
}

/// A node that claimed an event and died (never recorded an attempt) leaves it to another node
/// once the claim expires on the database's clock — and not before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_claim_is_taken_by_another_node() {
    let Some((a, b)) = pair().await else {
        return;
    };
    let t = task("acc", "t", 1);
    a.insert(&t, &[event(&t, 1, 10)]).await.expect("insert");
    let claim = Duration::from_millis(800);
    let ids = |v: Vec<baton_domain::OutboxEntry>| -> Vec<String> {
        v.into_iter().map(|e| e.event.id).collect()
    };
    assert_eq!(
        ids(a.claim_due_events(20, 10, claim).await.unwrap()),
        ["t.1"]
    );
    assert!(b.claim_due_events(20, 10, claim).await.unwrap().is_empty());
    // The caller's `now` does not end a claim (nodes' clocks need not agree); time does.
    assert!(
        b.claim_due_events(i64::MAX, 10, claim)
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    let taken = b.claim_due_events(20, 10, claim).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!((taken[0].event.id.as_str(), taken[0].attempts), ("t.1", 0));
    assert!(a.claim_due_events(20, 10, claim).await.unwrap().is_empty());
    // The taker records the attempt; the dead claimer's late record cannot revive it.
    b.mark_delivered("t.1", 21).await.expect("deliver");
    a.reschedule_event("t.1", 1, 22, "HTTP 503")
        .await
        .expect("late record");
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(
        a.claim_due_events(i64::MAX, 10, claim)
            .await
            .unwrap()
            .is_empty()
    );
    done_pair(a, b).await;
}

fn node(id: &str) -> NodeInfo {
    NodeInfo {
        id: NodeId::parse(id).unwrap(),
        name: format!("{id}.example:8080"),
        capacity: 3,
    }
}

/// `/v1/nodes`' data: every registered node (by name), its heartbeat's age and aliveness on
/// the database's clock, and the tasks it holds a live lease on — the same through either
/// store; a node whose heartbeat is older than `alive_within` is not alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_show_heartbeats_and_held_tasks() {
    let Some((a, b)) = pair().await else {
        return;
    };
    for i in 0..6 {
        a.insert(&task("acc", &format!("t{i}"), i), &[])
            .await
            .expect("insert");
    }
    // Nobody holds anything yet.
    assert_eq!(a.unowned_tasks().await.expect("unowned"), 6);
    let (n1, n2) = (node("n1"), node("n2"));
    a.register_node(&n1).await.expect("register");
    b.register_node(&n2).await.expect("register");
    let terms = LeaseTerms {
        lease: Duration::from_secs(30),
        grace: Duration::from_secs(1),
    };
    assert_eq!(a.claim(&n1.id, 3, terms).await.expect("claim").len(), 3);
    let second = b.claim(&n2.id, 3, terms).await.expect("claim");
    assert_eq!(second.len(), 3);
    // Both nodes at capacity: none left over. One released: it is nobody's until claimed.
    assert_eq!(b.unowned_tasks().await.expect("unowned"), 0);
    b.release(&second[2..]).await.expect("release");
    assert_eq!(a.unowned_tasks().await.expect("unowned"), 1);

    for store in [&a, &b] {
        let nodes = store
            .nodes(Duration::from_secs(10), 2)
            .await
            .expect("nodes");
        let view: Vec<(&str, &str, bool, u32, u64, usize)> = nodes
            .iter()
            .map(|n| {
                (
                    n.id.as_str(),
                    n.name.as_str(),
                    n.alive,
                    n.capacity,
                    n.tasks,
                    n.task_ids.len(),
                )
            })
            .collect();
        assert_eq!(
            view,
            [
                ("n1", "n1.example:8080", true, 3, 3, 2),
                ("n2", "n2.example:8080", true, 3, 2, 2)
            ]
        );
        assert!(
            nodes
                .iter()
                .all(|n| n.heartbeat_age < Duration::from_secs(5))
        );
        assert!(nodes.iter().all(|n| n.started_at > 1_700_000_000));
    }
    // n1's IDs are the first of its tasks by ID; the two nodes' tasks are disjoint.
    let nodes = a.nodes(Duration::from_secs(10), 10).await.expect("nodes");
    let mut all: Vec<&str> = nodes
        .iter()
        .flat_map(|n| n.task_ids.iter().map(|t| t.0.as_str()))
        .collect();
    all.sort_unstable();
    all.sort_unstable();
    assert_eq!(all.len(), 5, "{all:?}: five held, one released");
    // Older than `alive_within`: not alive (and its count unchanged while its leases last).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let nodes = a
        .nodes(Duration::from_millis(200), 10)
        .await
        .expect("nodes");
    assert!(
        nodes
            .iter()
            .all(|n| !n.alive && n.heartbeat_age >= Duration::from_millis(300))
    );
    done_pair(a, b).await;
}

/// Idempotent creates hold across nodes: the native API derives a keyed create's task ID from
/// the account and the key, and task IDs are the shared table's primary key — a create
/// replayed through B finds the task A created (a duplicate), which B then reads and answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_create_replayed_through_another_node_finds_the_same_task() {
    use baton_domain::StoreError;

    let Some((a_store, b_store)) = pair().await else {
        return;
    };
    let t = task("acme", "idem-0123", 1_800_000_000);
    a_store.insert(&t, &[]).await.expect("created through A");
    let again = b_store.insert(&t, &[]).await;
    assert!(
        matches!(again, Err(StoreError::Duplicate { .. })),
        "{again:?}"
    );
    assert_eq!(
        b_store
            .get(&t.account, &t.id)
            .await
            .expect("read through B"),
        Some(t)
    );
    done_pair(a_store, b_store).await;
}
