//! The keeper under paused tokio time, on a fake database whose answers the test controls:
//! up, failing, hanging (a partition: no answer at all), slow.

use std::collections::BTreeMap;
use std::sync::Mutex;

use baton_domain::{CallbackEvent, LeaseState, NodeId, StoreFuture, Task};

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Up,
    /// Every call fails at once (connection refused).
    Down,
    /// Every call hangs (a partition: packets dropped).
    Hang,
    /// Every call answers after this long.
    Slow(Duration),
}

#[derive(Debug)]
struct State {
    mode: Mode,
    /// Live leases of the node, by task (what a renewal returns).
    owned: BTreeMap<TaskId, u64>,
    /// Tasks nobody owns, oldest first.
    free: Vec<TaskId>,
    renewals: Vec<Instant>,
    released: Vec<Lease>,
    /// Claims fail (renewals go on as the mode says).
    claims_fail: bool,
}

#[derive(Debug)]
struct FakeDb {
    node: NodeId,
    state: Mutex<State>,
}

impl FakeDb {
    fn new(free: usize) -> Arc<FakeDb> {
        Arc::new(FakeDb {
            node: NodeId::parse("n1").unwrap(),
            state: Mutex::new(State {
                mode: Mode::Up,
                owned: BTreeMap::new(),
                free: (0..free).map(|i| TaskId(format!("t{i}"))).collect(),
                renewals: Vec::new(),
                released: Vec::new(),
                claims_fail: false,
            }),
        })
    }

    fn set(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    fn lease(&self, task: &TaskId, epoch: u64) -> Lease {
        Lease {
            task: task.clone(),
            account: baton_domain::AccountId("acc".into()),
            owner: self.node.clone(),
            epoch,
        }
    }

    /// The lease of `task` expires (nobody took it): claimable again.
    fn expire(&self, task: &str) {
        let mut st = self.st();
        st.free.push(TaskId(task.into()));
    }

    /// Answers per the mode: `Ok(())` to go on, an error, or never. `slow`: whether this
    /// call is one that [`Mode::Slow`] slows (renewals only, so a round's time is the mode's).
    async fn gate(&self, slow: bool) -> Result<(), StoreError> {
        let mode = self.st().mode;
        match mode {
            Mode::Up => Ok(()),
            Mode::Slow(_) if !slow => Ok(()),
            Mode::Down => Err(StoreError::Backend("connection refused".into())),
            Mode::Hang => std::future::pending().await,
            Mode::Slow(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
        }
    }
}

impl LeaseStore for FakeDb {
    fn register_node<'a>(&'a self, _node: &'a NodeInfo) -> StoreFuture<'a, ()> {
        Box::pin(async move { self.gate(false).await })
    }

    fn claim<'a>(
        &'a self,
        _node: &'a NodeId,
        limit: u32,
        _terms: LeaseTerms,
    ) -> StoreFuture<'a, Vec<Lease>> {
        Box::pin(async move {
            self.gate(false).await?;
            let mut st = self.st();
            if st.claims_fail {
                return Err(StoreError::Backend("could not serialize access".into()));
            }
            let n = (limit as usize).min(st.free.len());
            let taken: Vec<TaskId> = st.free.drain(..n).collect();
            // A claim raises the epoch (`owned` keeps the last one, even for a task given up).
            Ok(taken
                .into_iter()
                .map(|t| {
                    let epoch = st.owned.get(&t).copied().unwrap_or(0) + 1;
                    st.owned.insert(t.clone(), epoch);
                    self.lease(&t, epoch)
                })
                .collect())
        })
    }

    /// The held leases the database still has at their epoch.
    fn renew<'a>(
        &'a self,
        _node: &'a NodeId,
        held: &'a [Lease],
        _terms: LeaseTerms,
    ) -> StoreFuture<'a, Vec<Lease>> {
        Box::pin(async move {
            self.st().renewals.push(Instant::now());
            self.gate(true).await?;
            let st = self.st();
            Ok(held
                .iter()
                .filter(|l| st.owned.get(&l.task) == Some(&l.epoch))
                .cloned()
                .collect())
        })
    }

    fn release<'a>(&'a self, leases: &'a [Lease]) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            self.gate(false).await?;
            let mut st = self.st();
            for l in leases {
                st.owned.remove(&l.task);
            }
            st.released.extend_from_slice(leases);
            Ok(leases.len() as u64)
        })
    }

    fn update_leased<'a>(
        &'a self,
        _task: &'a Task,
        _expected_version: u64,
        _events: &'a [CallbackEvent],
        _lease: &'a Lease,
    ) -> StoreFuture<'a, ()> {
        unreachable!("the keeper writes no task")
    }

    fn lease_of<'a>(&'a self, _id: &'a TaskId) -> StoreFuture<'a, Option<LeaseState>> {
        unreachable!("the keeper reads no single lease")
    }

    fn versions<'a>(&'a self, _tasks: &'a [TaskId]) -> StoreFuture<'a, Vec<(TaskId, u64)>> {
        unreachable!("the keeper reads no task")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Acquired(Vec<String>),
    Lost(Vec<String>, LossReason),
}

/// Records what the keeper told it, with the instant (relative to the test's start).
#[derive(Debug)]
struct Recorder {
    start: Instant,
    seen: Mutex<Vec<(Duration, Seen)>>,
}

impl Recorder {
    fn new() -> Arc<Recorder> {
        Arc::new(Recorder {
            start: Instant::now(),
            seen: Mutex::new(Vec::new()),
        })
    }

    fn seen(&self) -> Vec<(Duration, Seen)> {
        self.seen.lock().unwrap().clone()
    }
}

fn names(leases: &[Lease]) -> Vec<String> {
    leases.iter().map(|l| l.task.0.clone()).collect()
}

impl LeaseHolder for Recorder {
    fn acquired(&self, leases: &[Lease]) {
        self.seen
            .lock()
            .unwrap()
            .push((self.start.elapsed(), Seen::Acquired(names(leases))));
    }

    fn lost(&self, leases: &[Lease], why: &LossReason) {
        self.seen
            .lock()
            .unwrap()
            .push((self.start.elapsed(), Seen::Lost(names(leases), why.clone())));
    }
}

/// The times these tests' timelines are written for: lease 10 s, renew 3 s, margin 3 s,
/// grace 2 s (fence 7 s after a renewal is sent).
fn config(capacity: u32) -> LeaseConfig {
    LeaseConfig {
        lease: Duration::from_secs(10),
        renew: Duration::from_secs(3),
        margin: Duration::from_secs(3),
        grace: Duration::from_secs(2),
        capacity,
    }
}

fn start(
    db: &Arc<FakeDb>,
    capacity: u32,
) -> (
    Arc<Recorder>,
    HeldLeases,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let rec = Recorder::new();
    let cancel = CancellationToken::new();
    let node = NodeInfo {
        id: db.node.clone(),
        name: "n1.example:8080".into(),
        capacity,
    };
    let held = HeldLeases::default();
    let task = LeaseKeeper::spawn(
        db.clone(),
        node,
        config(capacity),
        rec.clone(),
        held.clone(),
        cancel.clone(),
    );
    (rec, held, cancel, task)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Sleeps until `at` after the test's start.
async fn until(rec: &Recorder, at: f64) {
    sleep_until(rec.start + secs(at)).await;
}

#[tokio::test(start_paused = true)]
async fn renews_every_interval_and_claims_up_to_capacity() {
    let db = FakeDb::new(5);
    let (rec, held, _cancel, _task) = start(&db, 3);
    until(&rec, 10.0).await;
    assert_eq!(
        rec.seen(),
        [(
            secs(0.0),
            Seen::Acquired(vec!["t0".into(), "t1".into(), "t2".into()])
        )]
    );
    assert_eq!(held.len(), 3);
    assert_eq!(held.get(&TaskId("t1".into())).map(|l| l.epoch), Some(1));
    let at: Vec<Duration> = db.st().renewals.iter().map(|i| *i - rec.start).collect();
    assert_eq!(at, [secs(0.0), secs(3.0), secs(6.0), secs(9.0)]);
    assert_eq!(db.st().free.len(), 2, "no claim beyond the capacity");
}

/// A partition (the database never answers): the relays stop 7 s (lease − margin) after the
/// last successful renewal was *sent* — 3 s before the lease could expire on any clock.
#[tokio::test(start_paused = true)]
async fn a_hanging_database_fences_before_the_lease_can_expire() {
    let db = FakeDb::new(2);
    let (rec, held, _cancel, _task) = start(&db, 10);
    until(&rec, 1.0).await;
    db.set(Mode::Hang);
    until(&rec, 30.0).await;
    let seen = rec.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let (at, Seen::Lost(tasks, why)) = &seen[1] else {
        panic!("{seen:?}")
    };
    assert_eq!(
        *at,
        secs(7.0),
        "fenced at last renewal sent (0 s) + 10 s − 3 s"
    );
    assert!(*at < config(1).lease, "before the lease can expire");
    assert_eq!(tasks, &["t0", "t1"]);
    assert_eq!(
        why,
        &LossReason::Fenced {
            since_renewal: secs(7.0),
            error: None
        }
    );
    assert!(
        why.to_string()
            .contains("relays stopped before the leases could expire")
    );
    assert!(held.is_empty() && held.get(&TaskId("t0".into())).is_none());
}

/// A database that refuses connections: two failed renewals (3 s, 6 s) and the fence at 7 s,
/// naming the error.
#[tokio::test(start_paused = true)]
async fn a_failing_database_fences_and_says_why() {
    let db = FakeDb::new(1);
    let (rec, held, _cancel, _task) = start(&db, 10);
    until(&rec, 1.0).await;
    db.set(Mode::Down);
    until(&rec, 20.0).await;
    let seen = rec.seen();
    let (at, Seen::Lost(_, why)) = &seen[1] else {
        panic!("{seen:?}")
    };
    assert_eq!(*at, secs(7.0));
    let LossReason::Fenced { error: Some(e), .. } = why else {
        panic!("{why:?}")
    };
    assert!(e.contains("connection refused"), "{e}");
    assert!(held.is_empty());
    // It keeps trying (every 3 s) and claims the task back once its lease expired (a
    // renewal of a lease it gave up would be refused: it holds nothing to renew).
    db.set(Mode::Up);
    until(&rec, 19.5).await;
    assert_eq!(rec.seen().len(), 2);
    db.expire("t0");
    until(&rec, 22.0).await;
    assert_eq!(
        rec.seen().last(),
        Some(&(secs(21.0), Seen::Acquired(vec!["t0".into()])))
    );
    assert_eq!(held.get(&TaskId("t0".into())).map(|l| l.epoch), Some(2));
}

/// One failed renewal is not a fence: the next one (3 s later) is in time.
#[tokio::test(start_paused = true)]
async fn one_failed_renewal_does_not_fence() {
    let db = FakeDb::new(1);
    let (rec, held, _cancel, _task) = start(&db, 10);
    until(&rec, 2.0).await;
    db.set(Mode::Down);
    until(&rec, 4.0).await; // the 3 s renewal failed
    db.set(Mode::Up);
    until(&rec, 30.0).await;
    assert_eq!(rec.seen().len(), 1, "{:?}", rec.seen());
    assert_eq!(held.len(), 1);
}

/// A claim that fails does not spoil the renewal before it: the leases stay.
#[tokio::test(start_paused = true)]
async fn a_failed_claim_keeps_the_renewed_leases() {
    let db = FakeDb::new(1);
    let (rec, held, _cancel, _task) = start(&db, 10);
    until(&rec, 1.0).await;
    db.st().claims_fail = true;
    until(&rec, 30.0).await;
    assert_eq!(rec.seen().len(), 1, "{:?}", rec.seen());
    assert_eq!(held.len(), 1);
    db.st().claims_fail = false;
    db.expire("t9");
    until(&rec, 31.0).await;
    assert_eq!(held.len(), 2, "claims again at the next round");
}

/// A renewal as slow as the renew interval keeps the leases; one that answers after its own
/// fence deadline is not used (the fence of the last timely renewal has hit by then).
#[tokio::test(start_paused = true)]
async fn a_late_answer_is_not_used() {
    let db = FakeDb::new(1);
    let (rec, held, _cancel, _task) = start(&db, 10);
    until(&rec, 1.0).await;
    db.set(Mode::Slow(secs(3.0)));
    // Renewals sent at 3, 6, 9, 12 s answer at 6, 9, 12, 15 s: each in time.
    until(&rec, 14.0).await;
    assert_eq!(rec.seen().len(), 1, "{:?}", rec.seen());
    db.set(Mode::Slow(secs(8.0)));
    // The renewal sent at 15 s would answer at 23 s, after its own deadline (22 s): the
    // fence of the one sent at 12 s hits at 19 s, and the round is abandoned at 22 s (the
    // next one sent then).
    until(&rec, 22.5).await;
    let seen = rec.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        matches!(&seen[1], (at, Seen::Lost(_, LossReason::Fenced { .. })) if *at == secs(19.0)),
        "{seen:?}"
    );
    assert!(held.is_empty());
    let at: Vec<Duration> = db.st().renewals.iter().map(|i| *i - rec.start).collect();
    assert_eq!(at[at.len() - 2..], [secs(15.0), secs(22.0)]);
}

/// A lease the database no longer has as this node's (taken over) is lost at the next renewal.
#[tokio::test(start_paused = true)]
async fn a_lease_missing_from_a_renewal_is_lost_at_once() {
    let db = FakeDb::new(2);
    let (rec, held, _cancel, _task) = start(&db, 10);
    until(&rec, 1.0).await;
    db.st().owned.remove(&TaskId("t1".into()));
    until(&rec, 4.0).await;
    assert_eq!(
        rec.seen().last(),
        Some(&(
            secs(3.0),
            Seen::Lost(vec!["t1".into()], LossReason::NotRenewed)
        ))
    );
    assert_eq!(held.all().len(), 1);
    // A lease at another epoch (claimed by a second process with this node's ID, say) is
    // not the one held: lost, and not adopted.
    db.st().owned.insert(TaskId("t0".into()), 7);
    until(&rec, 7.0).await;
    assert_eq!(
        rec.seen().last(),
        Some(&(
            secs(6.0),
            Seen::Lost(vec!["t0".into()], LossReason::NotRenewed)
        ))
    );
    assert!(held.is_empty());
}

/// SIGTERM: relays stopped, every lease released (others take them over at once).
#[tokio::test(start_paused = true)]
async fn shutdown_stops_relays_and_releases_the_leases() {
    let db = FakeDb::new(2);
    let (rec, held, cancel, task) = start(&db, 10);
    until(&rec, 4.0).await;
    cancel.cancel();
    task.await.unwrap();
    assert_eq!(
        rec.seen().last(),
        Some(&(
            secs(4.0),
            Seen::Lost(vec!["t0".into(), "t1".into()], LossReason::Shutdown)
        ))
    );
    assert!(held.is_empty());
    assert_eq!(db.st().released.len(), 2);
    assert!(db.st().owned.is_empty());
}

/// Registration waits for the database; nothing is claimed before.
#[tokio::test(start_paused = true)]
async fn registration_retries_until_the_database_answers() {
    let db = FakeDb::new(1);
    db.set(Mode::Down);
    let (rec, _held, _cancel, _task) = start(&db, 10);
    until(&rec, 5.0).await;
    assert!(rec.seen().is_empty());
    db.set(Mode::Up);
    until(&rec, 7.0).await;
    assert_eq!(rec.seen(), [(secs(6.0), Seen::Acquired(vec!["t0".into()]))]);
}

#[test]
fn the_defaults_keep_the_invariant_and_bad_times_are_refused() {
    let c = LeaseConfig::default();
    assert_eq!(c.check(), Ok(()));
    // Fenced 3 s after a renewal is sent; the lease lives 5 s; others claim after 6 s.
    assert_eq!(c.fence_after(), Duration::from_secs(3));
    assert_eq!(config(1).check(), Ok(()));
    let bad_margin = LeaseConfig {
        margin: Duration::from_millis(500),
        ..LeaseConfig::default()
    };
    assert!(bad_margin.check().unwrap_err().starts_with("margin"));
    let slow_renew = LeaseConfig {
        renew: Duration::from_secs(2),
        ..LeaseConfig::default()
    };
    assert!(slow_renew.check().unwrap_err().starts_with("renew"));
    let none = LeaseConfig {
        capacity: 0,
        ..LeaseConfig::default()
    };
    assert!(none.check().unwrap_err().starts_with("capacity"));
}

#[test]
fn the_fence_deadline_only_moves_forward() {
    let t0 = Instant::now();
    let mut f = Fence::default();
    assert_eq!(f.deadline(), None);
    f.renewed(t0 + secs(3.0), secs(7.0));
    f.renewed(t0, secs(7.0));
    assert_eq!(f.deadline(), Some(t0 + secs(10.0)));
    assert!(Fence::in_time(t0, t0 + secs(6.9), secs(7.0)));
    assert!(!Fence::in_time(t0, t0 + secs(7.0), secs(7.0)));
}
