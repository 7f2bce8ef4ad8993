//! The lease keeper: holds this node's task leases on a shared database — claims tasks up to
//! the node's capacity, renews its leases, reports leases gained and lost — and **fences the
//! node itself**: when it cannot renew in time, it stops its relays before any lease can
//! expire (docs/design/multi-node.md).
//!
//! The fencing invariant. A renewal sent at local instant `s` that succeeds extends the
//! leases to `db_now + lease`, where `db_now` is when the database ran it — after `s` in real
//! time. So the leases live at least until `s + lease` (real time). The keeper stops every
//! relay at `s + lease − margin` on the local *monotonic* clock (tokio's `Instant`, never the
//! wall clock nor the database's) unless a later renewal succeeded first. The margin covers
//! the time to stop the relays and the rate difference of two clocks (the database's and
//! this one), so no relay of this node pushes after its lease could have been taken over.
//! Clock *offsets* between nodes play no part: only durations measured on one clock are
//! compared. A response that arrives after the deadline it would have extended changes
//! nothing (the relays are already stopped). Renewals name the leases held (owner and
//! epoch): a lease given up by the fence is not renewed again, and the node claims it back
//! once it has expired — its own first, before other nodes' grace ends.
//!
//! Defaults: lease 5 s, renew every 1 s, margin 2 s — a node fences itself 3 s after the
//! sending of its last successful renewal, so two renewals in a row may fail (or hang) before
//! it does (the second one must answer within 1 s); others take its tasks over 5 s + grace
//! (default 1 s) after that renewal, on the database's clock: 5 to 7 s after a `kill -9`
//! (the renewal came up to 1 s before the kill, the claiming node's round up to 1 s after
//! the grace), within the 10 s.
//!
//! Time is tokio's: `#[tokio::test(start_paused = true)]` drives renewals, slow and hanging
//! databases and the fence deterministically (the tests below).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_domain::{Lease, LeaseStore, LeaseTerms, NodeInfo, StoreError, TaskId};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// The lease protocol's times and this node's capacity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseConfig {
    /// How long a claim or renewal keeps a lease (on the database's clock). Default 5 s.
    pub lease: Duration,
    /// How often the node renews its leases (and claims more, and checks its tasks for
    /// changes made through other nodes). Default 1 s.
    pub renew: Duration,
    /// How long before a lease could expire the node stops its relays if it could not renew.
    /// Default 2 s.
    pub margin: Duration,
    /// How long past another node's lease expiry this node waits before taking the task over
    /// (the previous owner, restarting, gets it back first). Default 1 s.
    pub grace: Duration,
    /// The most tasks this node runs at once. Default 1000.
    pub capacity: u32,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig {
            lease: Duration::from_secs(5),
            renew: Duration::from_secs(1),
            margin: Duration::from_secs(2),
            grace: Duration::from_secs(1),
            capacity: 1000,
        }
    }
}

impl LeaseConfig {
    /// The terms the database applies.
    pub fn terms(&self) -> LeaseTerms {
        LeaseTerms {
            lease: self.lease,
            grace: self.grace,
        }
    }

    /// How long after sending its last successful renewal the node fences itself.
    pub fn fence_after(&self) -> Duration {
        self.lease.saturating_sub(self.margin)
    }

    /// Refuses times that cannot keep the invariant: a margin of at least a second, and a
    /// renewal at least twice within the fence (one lost or slow renewal must not fence).
    /// Each error starts with the name of the setting at fault (`margin`, `renew`,
    /// `capacity`), as the config file spells it.
    pub fn check(&self) -> Result<(), String> {
        if self.margin < Duration::from_secs(1) {
            return Err(format!(
                "margin {:?} is under 1 s: relays could outlive the lease",
                self.margin
            ));
        }
        if self.renew.is_zero() || self.renew * 2 > self.fence_after() {
            return Err(format!(
                "renew {:?} must fit twice into lease − margin ({:?} − {:?})",
                self.renew, self.lease, self.margin
            ));
        }
        if self.capacity == 0 {
            return Err("capacity must be at least 1 relay".into());
        }
        Ok(())
    }
}

/// The local fence deadline: `sent + lease − margin` of the last successful renewal (or
/// claim). Pure: instants are passed in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fence {
    deadline: Option<Instant>,
}

impl Fence {
    /// A renewal (or claim) sent at `sent` succeeded: the leases it returned are safe to use
    /// until `sent + fence_after`. Never moves the deadline back.
    pub fn renewed(&mut self, sent: Instant, fence_after: Duration) {
        let candidate = sent + fence_after;
        self.deadline = Some(self.deadline.map_or(candidate, |d| d.max(candidate)));
    }

    /// When the node must have stopped its relays (`None`: it holds nothing to fence).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether a response to a request sent at `sent` still arrives in time to be used at
    /// `now` (before the deadline that request would set).
    pub fn in_time(sent: Instant, now: Instant, fence_after: Duration) -> bool {
        now < sent + fence_after
    }

    /// Forgets the deadline (every lease given up).
    pub fn clear(&mut self) {
        self.deadline = None;
    }
}

/// Why leases were lost: said in logs, and to the [`LeaseHolder`] for its task events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LossReason {
    /// No renewal succeeded in time: the node stopped the relays itself, before the leases
    /// could expire. `error` is the last renewal's failure (`None`: it did not answer).
    Fenced {
        since_renewal: Duration,
        error: Option<String>,
    },
    /// The database no longer has the lease as this node's at its epoch (it expired, or
    /// another node took the task over, or it was released).
    NotRenewed,
    /// The node is stopping and released its leases (SIGTERM).
    Shutdown,
}

impl fmt::Display for LossReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LossReason::Fenced {
                since_renewal,
                error,
            } => {
                write!(
                    f,
                    "fenced: no lease renewal succeeded for {:.1} s",
                    since_renewal.as_secs_f64()
                )?;
                if let Some(e) = error {
                    write!(f, " (last error: {e})")?;
                }
                f.write_str("; relays stopped before the leases could expire")
            }
            LossReason::NotRenewed => {
                f.write_str("lease lost: expired or taken over by another node")
            }
            LossReason::Shutdown => f.write_str("node stopping: leases released"),
        }
    }
}

/// What the keeper tells the engine. Called from the keeper's task; `lost` must stop the
/// relays at once (cancel, not a graceful wait: the fence deadline is near), without writing
/// the tasks' state as this node (it is not their owner any more).
pub trait LeaseHolder: Send + Sync + 'static {
    /// The node now owns these tasks: run them.
    fn acquired(&self, leases: &[Lease]);
    /// The node no longer owns these tasks: stop their relays now.
    fn lost(&self, leases: &[Lease], why: &LossReason);
    /// A round renewed the leases of `held` (every lease held now): the holder's chance to
    /// check the held tasks for changes made by other nodes (the polling fallback of the
    /// cross-node notices). Must not block: the keeper's round waits for it.
    fn renewed(&self, held: &[Lease]) {
        let _ = held;
    }
}

/// The leases this node holds now, shared with the engine (its writes name them).
#[derive(Clone, Debug, Default)]
pub struct HeldLeases {
    inner: Arc<Mutex<BTreeMap<TaskId, Lease>>>,
    /// Wakes the keeper for a round now (a task was created: claim it without waiting).
    wake: Arc<tokio::sync::Notify>,
}

impl HeldLeases {
    /// Runs `f` if `lease` is held, under the lock the keeper takes to give leases up: a
    /// relay started in `f` is either started before the keeper gives the lease up (and then
    /// stopped by it), or not at all. `f` must not block.
    pub fn if_held<R>(&self, lease: &Lease, f: impl FnOnce() -> R) -> Option<R> {
        let held = self.lock();
        (held.get(&lease.task) == Some(lease)).then(f)
    }

    /// Forgets `lease` (a write under it was fenced): it is not renewed again.
    pub fn remove_if(&self, lease: &Lease) {
        let mut held = self.lock();
        if held.get(&lease.task) == Some(lease) {
            held.remove(&lease.task);
        }
    }

    /// Asks the keeper for a round now (renew and claim), instead of at the next interval.
    pub fn wake_keeper(&self) {
        self.wake.notify_one();
    }

    /// The lease held for `task`, if any: the engine writes the task under it.
    pub fn get(&self, task: &TaskId) -> Option<Lease> {
        self.lock().get(task).cloned()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Every lease held, by task.
    pub fn all(&self) -> Vec<Lease> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<TaskId, Lease>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The keeper of one node's leases. [`LeaseKeeper::spawn`] runs it until `cancel`.
pub struct LeaseKeeper {
    store: Arc<dyn LeaseStore>,
    node: NodeInfo,
    config: LeaseConfig,
    holder: Arc<dyn LeaseHolder>,
    held: HeldLeases,
    fence: Fence,
    /// The last renewal's failure, for the fence's reason.
    last_error: Option<String>,
    last_renewal: Option<Instant>,
}

impl fmt::Debug for LeaseKeeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseKeeper")
            .field("node", &self.node)
            .field("config", &self.config)
            .field("held", &self.held.len())
            .field("fence", &self.fence)
            .finish()
    }
}

/// The result of one round: the renewed leases and when their answer came, then new claims.
type Round = Result<(Vec<Lease>, Instant, Vec<Lease>), StoreError>;

impl LeaseKeeper {
    /// Starts keeping `node`'s leases on `store` in `held`: registers the node (retrying every
    /// renew interval until the database answers), then renews and claims every
    /// `config.renew` (or when woken, [`HeldLeases::wake_keeper`]). On `cancel`, stops the
    /// relays and releases every lease held (others take them over at once).
    pub fn spawn(
        store: Arc<dyn LeaseStore>,
        node: NodeInfo,
        config: LeaseConfig,
        holder: Arc<dyn LeaseHolder>,
        held: HeldLeases,
        cancel: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let keeper = LeaseKeeper {
            store,
            node,
            config,
            holder,
            held: held.clone(),
            fence: Fence::default(),
            last_error: None,
            last_renewal: None,
        };
        tokio::spawn(keeper.run(cancel))
    }

    async fn run(mut self, cancel: CancellationToken) {
        loop {
            // Every renew interval until it answers: a call that fails at once is tried again
            // after the interval, one that hangs is abandoned after it and tried again at once.
            let register =
                tokio::time::timeout(self.config.renew, self.store.register_node(&self.node));
            let pause = tokio::select! {
                r = register => match r {
                    Ok(Ok(())) => break,
                    Ok(Err(e)) => {
                        warn!(node = %self.node.id, error = %e, "cannot register the node; retrying");
                        true
                    }
                    Err(_) => {
                        warn!(node = %self.node.id, "no answer registering the node; retrying");
                        false
                    }
                },
                () = cancel.cancelled() => return,
            };
            if pause {
                tokio::select! {
                    () = tokio::time::sleep(self.config.renew) => {}
                    () = cancel.cancelled() => return,
                }
            }
        }
        info!(node = %self.node.id, capacity = self.node.capacity, "node registered; claiming tasks");
        loop {
            let sent = Instant::now();
            let store = self.store.clone();
            let node = self.node.id.clone();
            let terms = self.config.terms();
            let capacity = self.config.capacity;
            let held = self.held.all();
            let fence_after = self.config.fence_after();
            let deadline = sent + fence_after;
            let id = self.node.id.clone();
            // Each call abandoned at the round's own fence deadline: an answer after it could
            // not be used, and a connection that hangs (a partition; TCP may take hours to
            // notice) must not keep the keeper from trying again. A failed claim does not
            // spoil the renewal before it.
            let round = async move {
                let renewed =
                    match tokio::time::timeout_at(deadline, store.renew(&node, &held, terms)).await
                    {
                        Ok(renewed) => renewed?,
                        Err(_) => {
                            return Err(StoreError::Backend(
                                format!("no answer in {fence_after:?}").into(),
                            ));
                        }
                    };
                let renewed_at = Instant::now();
                let room =
                    capacity.saturating_sub(u32::try_from(renewed.len()).unwrap_or(u32::MAX));
                let claimed = match tokio::time::timeout_at(
                    deadline,
                    store.claim(&node, room, terms),
                )
                .await
                {
                    Ok(Ok(claimed)) => claimed,
                    Ok(Err(e)) => {
                        warn!(node = %id, error = %e, "claiming tasks failed; next round claims again");
                        Vec::new()
                    }
                    Err(_) => {
                        warn!(node = %id, "no answer claiming tasks; next round claims again");
                        Vec::new()
                    }
                };
                Ok((renewed, renewed_at, claimed))
            };
            tokio::pin!(round);
            // Wait for the round, fencing on the way if the last renewal's deadline comes
            // first (the round goes on until its own deadline: the database may answer).
            let result: Round = loop {
                let deadline = self.fence.deadline().filter(|_| !self.held.is_empty());
                tokio::select! {
                    r = &mut round => break r,
                    () = sleep_until_opt(deadline) => self.fence_now(),
                    () = cancel.cancelled() => {
                        self.shutdown().await;
                        return;
                    }
                }
            };
            self.finish_round(sent, result);
            let next = sent + self.config.renew;
            let wake = Arc::clone(&self.held.wake);
            loop {
                let deadline = self.fence.deadline().filter(|_| !self.held.is_empty());
                tokio::select! {
                    () = sleep_until(next) => break,
                    () = wake.notified() => break,
                    () = sleep_until_opt(deadline) => self.fence_now(),
                    () = cancel.cancelled() => {
                        self.shutdown().await;
                        return;
                    }
                }
            }
        }
    }

    /// Applies a round's answer (sent at `sent`).
    fn finish_round(&mut self, sent: Instant, result: Round) {
        let fence_after = self.config.fence_after();
        let (renewed, claimed) = match result {
            Ok((renewed, at, claimed)) if Fence::in_time(sent, at, fence_after) => {
                (renewed, claimed)
            }
            Ok(_) => {
                warn!(node = %self.node.id, "lease renewal answered too late to use; next round renews again");
                self.last_error = Some("the renewal answered after its fence deadline".into());
                return;
            }
            Err(e) => {
                warn!(node = %self.node.id, error = %e, held = self.held.len(), "lease renewal failed");
                self.last_error = Some(e.to_string());
                return;
            }
        };
        self.last_error = None;
        self.last_renewal = Some(sent);
        let mut lost = Vec::new();
        let mut gained = Vec::new();
        {
            let mut held = self.held.lock();
            let live: BTreeMap<TaskId, Lease> = renewed
                .into_iter()
                .chain(claimed)
                .map(|l| (l.task.clone(), l))
                .collect();
            held.retain(|id, lease| {
                let kept = live.get(id) == Some(lease);
                if !kept {
                    lost.push(lease.clone());
                }
                kept
            });
            for (id, lease) in live {
                if let std::collections::btree_map::Entry::Vacant(slot) = held.entry(id) {
                    slot.insert(lease.clone());
                    gained.push(lease);
                }
            }
            if held.is_empty() {
                self.fence.clear();
            } else {
                self.fence.renewed(sent, fence_after);
            }
        }
        if !lost.is_empty() {
            let why = LossReason::NotRenewed;
            warn!(node = %self.node.id, tasks = lost.len(), "{why}");
            self.holder.lost(&lost, &why);
        }
        if !gained.is_empty() {
            info!(node = %self.node.id, tasks = gained.len(), held = self.held.len(), "leases acquired");
            self.holder.acquired(&gained);
        }
        self.holder.renewed(&self.held.all());
    }

    /// The fence deadline passed without a renewal: stop every relay, now.
    fn fence_now(&mut self) {
        let leases: Vec<Lease> = std::mem::take(&mut *self.held.lock())
            .into_values()
            .collect();
        self.fence.clear();
        if leases.is_empty() {
            return;
        }
        let why = LossReason::Fenced {
            since_renewal: self.last_renewal.map_or(Duration::ZERO, |at| at.elapsed()),
            error: self.last_error.clone(),
        };
        warn!(node = %self.node.id, tasks = leases.len(), "{why}");
        self.holder.lost(&leases, &why);
    }

    /// SIGTERM: stop the relays, then release the leases so others take them over at once.
    async fn shutdown(&mut self) {
        let leases: Vec<Lease> = std::mem::take(&mut *self.held.lock())
            .into_values()
            .collect();
        self.fence.clear();
        if leases.is_empty() {
            return;
        }
        let why = LossReason::Shutdown;
        self.holder.lost(&leases, &why);
        // Bounded: a database that does not answer lets the leases expire instead.
        match tokio::time::timeout(self.config.renew, self.store.release(&leases)).await {
            Ok(Ok(n)) => info!(node = %self.node.id, released = n, "{why}"),
            Ok(Err(e)) => {
                warn!(node = %self.node.id, error = %e, "leases not released; they expire")
            }
            Err(_) => warn!(node = %self.node.id, "lease release timed out; they expire"),
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
