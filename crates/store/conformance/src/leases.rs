//! [`LeaseStore`] checks. Two kinds:
//!
//! * for every store (`conformance_tests!`): what holds for one node alone too — a node's
//!   claim names it and stays within its limit, never hands out an exited task, renewals keep
//!   what it claimed, and a write under a lease it was given applies (SQLite: the one node
//!   always owns every task);
//! * for stores several nodes share (`lease_conformance_tests!`, on two handles of one
//!   database, as two nodes): exclusivity, expiry on the database's clock, growing epochs,
//!   fenced writes, release, the previous owner first, concurrent claims.
//!
//! Expiry is tested without sleeping: a lease of zero seconds has expired by the next
//! transaction (the database's `now()` has moved on), and a grace of an hour keeps other nodes
//! away from it for the whole test.

use std::time::Duration;

use baton_domain::{
    Lease, LeaseStore, LeaseTerms, NodeId, NodeInfo, StoreError, Takeover, Task, TaskId, TaskStore,
};

use crate::fixtures::{exited, task};

/// A store of tasks and their leases: every type that is both is one.
pub trait TaskLeaseStore: TaskStore + LeaseStore {}

impl<S: TaskStore + LeaseStore + ?Sized> TaskLeaseStore for S {}

const HOUR: Duration = Duration::from_secs(3600);

/// Leases that live for an hour; others wait `grace` past an expiry.
fn long(grace: Duration) -> LeaseTerms {
    LeaseTerms { lease: HOUR, grace }
}

/// Leases that have expired by the next transaction; others wait `grace` past it.
fn expired_at_once(grace: Duration) -> LeaseTerms {
    LeaseTerms {
        lease: Duration::ZERO,
        grace,
    }
}

fn node(id: &str) -> NodeId {
    NodeId::parse(id).expect("node id")
}

async fn register(store: &dyn TaskLeaseStore, id: &str, capacity: u32) -> NodeId {
    let n = node(id);
    store
        .register_node(&NodeInfo {
            id: n.clone(),
            name: format!("{id}.example:8080"),
            capacity,
        })
        .await
        .expect("register node");
    n
}

fn ids(leases: &[Lease]) -> Vec<&str> {
    leases.iter().map(|l| l.task.0.as_str()).collect()
}

/// A changed copy of `t` at the next version.
fn next(t: &Task) -> Task {
    let mut n = t.clone();
    n.version += 1;
    n.updated_at += 1;
    n.spec.name = format!("{} v{}", t.spec.name, n.version);
    n
}

async fn stored(store: &dyn TaskLeaseStore, t: &Task) -> Task {
    store
        .get(&t.account, &t.id)
        .await
        .expect("get")
        .unwrap_or_else(|| panic!("task {} is stored", t.id))
}

/// For every store: a claim returns leases of the claiming node, at most `limit`, only of
/// tasks that have not exited; a renewal keeps them; a write under such a lease applies (and
/// still checks the version); a write under another task's lease is refused.
pub async fn leases_of_one_node(store: &dyn TaskLeaseStore) {
    let a = register(store, "node-a", 10).await;
    for (i, name) in ["l-1", "l-2", "l-3"].iter().enumerate() {
        store
            .insert(&task("acc", name, 10 + i as i64), &[])
            .await
            .expect("insert");
    }
    store
        .insert(&exited("acc", "l-x", 5), &[])
        .await
        .expect("insert");
    assert!(
        store
            .claim(&a, 0, long(HOUR))
            .await
            .expect("claim")
            .is_empty()
    );
    let first = store.claim(&a, 2, long(HOUR)).await.expect("claim");
    assert_eq!(ids(&first), ["l-1", "l-2"], "oldest first, at most 2");
    assert!(first.iter().all(|l| l.owner == a));
    let renewed = store.renew(&a, &first, long(HOUR)).await.expect("renew");
    assert_eq!(renewed, first, "what it holds, renewed");

    let t = task("acc", "l-1", 10);
    let v2 = next(&t);
    store
        .update_leased(&v2, 1, &[], &first[0])
        .await
        .expect("write under the lease");
    assert_eq!(stored(store, &t).await, v2);
    // The owner's poll: the versions of the tasks it names that exist, in one read.
    let mut versions = store
        .versions(&[
            TaskId("l-1".into()),
            TaskId("l-2".into()),
            TaskId("l-gone".into()),
        ])
        .await
        .expect("versions");
    versions.sort();
    assert_eq!(
        versions,
        [(TaskId("l-1".into()), 2), (TaskId("l-2".into()), 1)],
        "a missing task is left out"
    );
    assert!(store.versions(&[]).await.expect("versions").is_empty());
    let r = store.update_leased(&next(&t), 1, &[], &first[0]).await;
    assert!(
        matches!(r, Err(StoreError::Conflict { expected: 1, .. })),
        "the version is still checked: {r:?}"
    );
    let r = store.update_leased(&next(&v2), 2, &[], &first[1]).await;
    assert!(
        matches!(r, Err(StoreError::Invalid(_))),
        "another task's lease: {r:?}"
    );
    assert_eq!(stored(store, &t).await, v2);
}

/// Shared database: one live owner per task; expiry on the database's clock; the owner takes
/// its expired lease back at once, others only after the grace; every claim raises the
/// epoch; a write under an older epoch is [`StoreError::Fenced`] and writes nothing.
pub async fn leases_are_exclusive_and_fenced(
    a_store: &dyn TaskLeaseStore,
    b_store: &dyn TaskLeaseStore,
) {
    let a = register(a_store, "node-a", 10).await;
    let b = register(b_store, "node-b", 10).await;
    let t = task("acc", "x-1", 10);
    a_store.insert(&t, &[]).await.expect("insert");

    let l1 = a_store
        .claim(&a, 10, expired_at_once(HOUR))
        .await
        .expect("claim");
    assert_eq!(l1.len(), 1);
    assert_eq!((l1[0].owner.clone(), l1[0].epoch), (a.clone(), 1));
    let state = b_store
        .lease_of(&t.id)
        .await
        .expect("lease")
        .expect("leased");
    assert_eq!(
        (state.owner, state.epoch, state.live),
        (Some(a.clone()), 1, false)
    );
    assert_eq!(state.previous, None, "never held before");

    // Expired, but within the grace: not B's yet; A (its owner) takes it back at once.
    assert!(
        b_store
            .claim(&b, 10, expired_at_once(HOUR))
            .await
            .expect("claim")
            .is_empty()
    );
    assert!(
        a_store
            .renew(&a, &l1, long(HOUR))
            .await
            .expect("renew")
            .is_empty(),
        "expired leases are never renewed"
    );
    let l2 = a_store
        .claim(&a, 10, expired_at_once(HOUR))
        .await
        .expect("claim");
    assert_eq!((l2.len(), l2[0].epoch), (1, 2));

    // Past the grace (zero): B takes it over, at the next epoch.
    let l3 = b_store
        .claim(&b, 10, long(Duration::ZERO))
        .await
        .expect("claim");
    assert_eq!(l3.len(), 1);
    assert_eq!((l3[0].owner.clone(), l3[0].epoch), (b.clone(), 3));
    // Who held it before (for B's TakenOver): A at epoch 2, by A's name.
    let state = b_store
        .lease_of(&t.id)
        .await
        .expect("lease")
        .expect("leased");
    assert_eq!(
        state.previous,
        Some(Takeover {
            node: a.to_string(),
            name: Some("node-a.example:8080".into()),
            epoch: 2,
        })
    );
    assert!(
        a_store
            .claim(&a, 10, long(Duration::ZERO))
            .await
            .expect("claim")
            .is_empty(),
        "B's lease is live"
    );
    assert!(
        a_store
            .renew(&a, &l2, long(HOUR))
            .await
            .expect("renew")
            .is_empty()
    );

    // A's writes under its old epochs are fenced and write nothing; B's applies.
    for old in [&l1[0], &l2[0]] {
        let r = a_store.update_leased(&next(&t), 1, &[], old).await;
        assert!(
            matches!(&r, Err(StoreError::Fenced { id, epoch, .. }) if *id == t.id && *epoch == old.epoch),
            "{r:?}"
        );
    }
    assert_eq!(stored(a_store, &t).await, t);
    b_store
        .update_leased(&next(&t), 1, &[], &l3[0])
        .await
        .expect("B writes");
    assert_eq!(stored(a_store, &t).await, next(&t));
    assert_eq!(
        b_store.renew(&b, &l3, long(HOUR)).await.expect("renew"),
        l3,
        "B renews its live lease (same epoch)"
    );
}

/// Shared database: a released lease is claimable by anyone at once (next epoch), the old
/// lease's writes are fenced, a second release releases nothing; exited and deleted tasks
/// are never claimed.
pub async fn released_leases_are_taken_at_once(
    a_store: &dyn TaskLeaseStore,
    b_store: &dyn TaskLeaseStore,
) {
    let a = register(a_store, "node-a", 10).await;
    let b = register(b_store, "node-b", 10).await;
    let t = task("acc", "r-1", 10);
    a_store.insert(&t, &[]).await.expect("insert");
    let gone = task("acc", "r-2", 11);
    a_store.insert(&gone, &[]).await.expect("insert");
    let held = a_store.claim(&a, 10, long(HOUR)).await.expect("claim");
    assert_eq!(ids(&held), ["r-1", "r-2"]);
    a_store
        .delete(&gone.account, &gone.id, 1, &[])
        .await
        .expect("delete");
    assert_eq!(
        a_store.lease_of(&gone.id).await.expect("lease"),
        None,
        "deleted with its task"
    );

    assert_eq!(a_store.release(&held).await.expect("release"), 1);
    assert_eq!(a_store.release(&held).await.expect("release"), 0);
    let state = b_store
        .lease_of(&t.id)
        .await
        .expect("lease")
        .expect("leased");
    assert_eq!((state.owner, state.epoch), (None, 1));
    let taken = b_store.claim(&b, 10, long(HOUR)).await.expect("claim");
    assert_eq!(taken.len(), 1);
    assert_eq!((taken[0].owner.clone(), taken[0].epoch), (b.clone(), 2));
    // A release clears the owner, not who it was: B took it over from A (epoch 1).
    let state = b_store
        .lease_of(&t.id)
        .await
        .expect("lease")
        .expect("leased");
    let previous = state.previous.expect("a previous owner");
    assert_eq!((previous.node, previous.epoch), (a.to_string(), 1));
    let r = a_store.update_leased(&next(&t), 1, &[], &held[0]).await;
    assert!(matches!(r, Err(StoreError::Fenced { .. })), "{r:?}");

    let mut done = exited("acc", "r-x", 5);
    done.version = 1;
    a_store.insert(&done, &[]).await.expect("insert");
    assert!(
        a_store
            .claim(&a, 10, long(Duration::ZERO))
            .await
            .expect("claim")
            .is_empty()
    );

    // A renewal names the epoch: a lease the node gave up is not renewed through its old
    // epoch even when the same node holds the task again (a second process with its node ID
    // cannot keep alive a lease it does not run).
    let u = task("acc", "r-3", 12);
    a_store.insert(&u, &[]).await.expect("insert");
    let old = a_store.claim(&a, 10, long(HOUR)).await.expect("claim");
    assert_eq!(a_store.release(&old).await.expect("release"), 1);
    let new = a_store.claim(&a, 10, long(HOUR)).await.expect("claim");
    assert_eq!((ids(&new), new[0].epoch), (vec!["r-3"], 2));
    assert!(
        a_store
            .renew(&a, &old, long(HOUR))
            .await
            .expect("renew")
            .is_empty()
    );
    assert_eq!(
        a_store.renew(&a, &new, long(HOUR)).await.expect("renew"),
        new
    );
    assert!(
        b_store
            .renew(&b, &new, long(HOUR))
            .await
            .expect("renew")
            .is_empty(),
        "not B's"
    );
}

/// Shared database: after a restart a node's claim takes its own expired leases before
/// never-owned tasks (even older ones), within its limit; another node's expired leases wait
/// out the grace.
pub async fn the_previous_owner_claims_first(
    a_store: &dyn TaskLeaseStore,
    b_store: &dyn TaskLeaseStore,
) {
    let a = register(a_store, "node-a", 10).await;
    let b = register(b_store, "node-b", 10).await;
    for (name, created) in [("p-a1", 20), ("p-a2", 21), ("p-b1", 22)] {
        a_store
            .insert(&task("acc", name, created), &[])
            .await
            .expect("insert");
    }
    let mine = a_store
        .claim(&a, 2, expired_at_once(HOUR))
        .await
        .expect("claim");
    assert_eq!(ids(&mine), ["p-a1", "p-a2"]);
    let theirs = b_store
        .claim(&b, 1, expired_at_once(HOUR))
        .await
        .expect("claim");
    assert_eq!(ids(&theirs), ["p-b1"]);
    // Unowned and older than everything A had.
    a_store
        .insert(&task("acc", "p-new", 1), &[])
        .await
        .expect("insert");

    // "A restarted": re-registered, its leases expired. It gets its own two first.
    register(a_store, "node-a", 10).await;
    let back = a_store
        .claim(&a, 2, expired_at_once(HOUR))
        .await
        .expect("claim");
    assert_eq!(ids(&back), ["p-a1", "p-a2"]);
    assert!(back.iter().all(|l| l.epoch == 2));
    let more = a_store
        .claim(&a, 10, expired_at_once(HOUR))
        .await
        .expect("claim");
    assert_eq!(
        ids(&more),
        ["p-a1", "p-a2", "p-new"],
        "its own expired again, and the unowned one; not B's within the grace"
    );
}

/// Shared database: many claims at once (two nodes, several claims each, concurrently) never
/// give one task to two claims, and every task ends up claimed exactly once.
pub async fn concurrent_claims_never_share_a_task(
    a_store: &dyn TaskLeaseStore,
    b_store: &dyn TaskLeaseStore,
) {
    let a = register(a_store, "node-a", 100).await;
    let b = register(b_store, "node-b", 100).await;
    const TASKS: usize = 40;
    for i in 0..TASKS {
        a_store
            .insert(&task("acc", &format!("c-{i:02}"), i as i64), &[])
            .await
            .expect("insert");
    }
    let claims = (0..8).map(|i| {
        let (store, n) = if i % 2 == 0 {
            (a_store, &a)
        } else {
            (b_store, &b)
        };
        async move {
            (
                n.clone(),
                store.claim(n, 7, long(HOUR)).await.expect("claim"),
            )
        }
    });
    let results = futures_util::future::join_all(claims).await;
    let mut owner_of = std::collections::HashMap::new();
    for (n, leases) in &results {
        assert!(leases.len() <= 7);
        for l in leases {
            assert_eq!(&l.owner, n);
            assert_eq!(l.epoch, 1);
            assert!(
                owner_of.insert(l.task.clone(), n.clone()).is_none(),
                "{} claimed twice",
                l.task
            );
        }
    }
    // What is left goes to whoever claims next; nothing twice.
    let rest = a_store.claim(&a, 100, long(HOUR)).await.expect("claim");
    for l in &rest {
        assert!(
            owner_of.insert(l.task.clone(), a.clone()).is_none(),
            "{} claimed twice",
            l.task
        );
    }
    assert_eq!(owner_of.len(), TASKS);
    for (id, n) in &owner_of {
        let state = b_store.lease_of(id).await.expect("lease").expect("leased");
        assert_eq!(state.owner.as_ref(), Some(n));
    }
    let _: &TaskId = owner_of.keys().next().expect("one");
}

/// Shared database: a write under a lease and a claim of the same task at the same moment,
/// many times over: each write either applies or is [`StoreError::Fenced`] (then the claim took
/// the task), never a backend error (a deadlock: the two lock the task and lease rows in one
/// order), and a write that applied is never followed by a claim the write did not see.
pub async fn fenced_writes_and_claims_do_not_deadlock(
    a_store: &dyn TaskLeaseStore,
    b_store: &dyn TaskLeaseStore,
) {
    let a = register(a_store, "node-a", 10).await;
    let b = register(b_store, "node-b", 10).await;
    let t = task("acc", "d-1", 10);
    a_store.insert(&t, &[]).await.expect("insert");
    let (mut applied, mut fenced) = (0, 0);
    for _ in 0..40 {
        // A holds the task under a lease that has already expired (anyone may claim it).
        let la = a_store
            .claim(&a, 1, expired_at_once(Duration::ZERO))
            .await
            .expect("claim");
        assert_eq!(la.len(), 1, "A claims the expired lease");
        let current = stored(a_store, &t).await;
        let changed = next(&current);
        let write = a_store.update_leased(&changed, current.version, &[], &la[0]);
        let claim = b_store.claim(&b, 1, expired_at_once(Duration::ZERO));
        let (written, claimed) = futures_util::future::join(write, claim).await;
        let claimed = claimed.expect("the claim never fails");
        match written {
            Ok(()) => applied += 1,
            Err(StoreError::Fenced { .. }) => {
                fenced += 1;
                assert_eq!(claimed.len(), 1, "fenced only by B's claim");
            }
            Err(e) => panic!("neither applied nor fenced: {e}"),
        }
    }
    assert_eq!(applied + fenced, 40);
}
