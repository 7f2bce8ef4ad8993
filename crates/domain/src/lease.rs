//! The lease port: which node owns which task (issue 15 item 2; docs/design/multi-node.md).
//!
//! Several `baton serve` nodes share one database. Each running task is owned by one node
//! through a *lease*: an owner (a [`NodeId`]), an *epoch* that grows by one every time the task
//! changes hands, and an expiry kept on the **database's** clock (never a node's: clock skew
//! between nodes cannot make two of them believe they own a task). A node
//!
//! * [claims](LeaseStore::claim) tasks that have no live owner, up to its capacity — first its
//!   own expired leases (a restarted node takes its tasks back), others' only after a grace
//!   beyond their expiry (so a node that restarts quickly gets its tasks back);
//! * [renews](LeaseStore::renew) the leases it holds (owner *and* epoch) in one statement every
//!   renew interval (and its heartbeat in the same transaction);
//! * writes a task's state only [under its lease](LeaseStore::update_leased): the write names
//!   `(owner, epoch)` and fails with [`StoreError::Fenced`] — nothing applied — unless that is
//!   still the task's lease;
//! * [releases](LeaseStore::release) its leases when it stops cleanly (SIGTERM), so others take
//!   them over at once instead of after the expiry.
//!
//! Writes are fenced by the database; *pushes* cannot be (a destination such as YouTube does
//! not check a fencing token), so a node also fences itself: it stops its relays before its
//! leases can expire, on a local monotonic deadline (the engine's `lease` module). The times
//! here are therefore durations the database adds to its own `now()`, not instants.
//!
//! A store for one node only (SQLite) implements the port trivially: the single node always
//! owns every task, at epoch 0, and never loses a lease.

use std::fmt;
use std::time::Duration;

use crate::event::CallbackEvent;
use crate::note::Takeover;
use crate::store::{StoreError, StoreFuture};
use crate::task::{AccountId, Task, TaskId};

/// A node's identity: stable across restarts (kept in its data dir), so a restarted node
/// recognises its own leases. Any non-empty text of at most [`NodeId::MAX_LEN`] bytes,
/// printable ASCII (a UUID in practice).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(String);

impl NodeId {
    /// The longest node ID accepted.
    pub const MAX_LEN: usize = 64;

    /// `id` if it is a valid node ID (non-empty, ≤ 64 bytes, printable ASCII without spaces).
    pub fn parse(id: &str) -> Result<NodeId, String> {
        if id.is_empty() || id.len() > Self::MAX_LEN {
            return Err(format!(
                "a node ID has 1 to {} characters, not {}",
                Self::MAX_LEN,
                id.len()
            ));
        }
        if !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "a node ID is printable ASCII without spaces: {id:?}"
            ));
        }
        Ok(NodeId(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a node tells the cluster about itself when it starts ([`LeaseStore::register_node`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    pub id: NodeId,
    /// Where the node can be reached or how an operator knows it (its API address, a host
    /// name); shown in node lists, never used for ownership.
    pub name: String,
    /// The most tasks (relays) it runs at once: it claims no more.
    pub capacity: u32,
}

/// The times of the lease protocol, as durations on the database's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTerms {
    /// How long a claim or renewal keeps a lease: `expires_at = db now() + lease`.
    pub lease: Duration,
    /// How long past a lease's expiry *other* nodes wait before taking it over (the owner,
    /// restarted, takes its own expired leases back at once).
    pub grace: Duration,
}

/// One task's lease as its owner holds it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    pub task: TaskId,
    /// The task's account (the engine reads and writes tasks by account and ID).
    pub account: AccountId,
    pub owner: NodeId,
    /// Grows by one each time the task is claimed: a write under an older epoch is refused.
    pub epoch: u64,
}

/// Task ownership with fenced leases (module docs). Object-safe, runtime-neutral, as
/// [`TaskStore`](crate::TaskStore).
pub trait LeaseStore: Send + Sync + fmt::Debug {
    /// Records `node` as a member of the cluster (started now, heartbeat now, its capacity),
    /// replacing what a previous run of the same node recorded. Its leases are kept: a
    /// restarted node claims its expired ones back first.
    fn register_node<'a>(&'a self, node: &'a NodeInfo) -> StoreFuture<'a, ()>;

    /// Claims at most `limit` tasks that have not exited and have no live owner, for `node`:
    /// the task's epoch grows by one and its lease expires `terms.lease` from the database's
    /// now. `node`'s own expired leases come first and are claimable at once; other nodes'
    /// only `terms.grace` after they expired; never-owned and released ones at once. Claims
    /// by several nodes at once never hand one task to two of them (rows being claimed by
    /// another node are skipped, not waited for). Returns the leases claimed.
    fn claim<'a>(
        &'a self,
        node: &'a NodeId,
        limit: u32,
        terms: LeaseTerms,
    ) -> StoreFuture<'a, Vec<Lease>>;

    /// Extends each of `held` (the leases `node` holds) that is still the task's lease — same
    /// owner, same epoch — and has not expired, to `terms.lease` from the database's now, and
    /// records `node`'s heartbeat, in one transaction. Returns the leases renewed: one of
    /// `held` that is missing was lost (it expired, or was taken over, or released), and its
    /// relay must stop. An expired lease is never renewed (another node may already be pushing
    /// it); the node may claim it again. Matching the epoch, not only the owner, means a lease
    /// is renewed only by the claim that got it: a second process with the same node ID (a
    /// copied data dir), or the same process after it gave a lease up, cannot keep alive a
    /// lease it does not run.
    fn renew<'a>(
        &'a self,
        node: &'a NodeId,
        held: &'a [Lease],
        terms: LeaseTerms,
    ) -> StoreFuture<'a, Vec<Lease>>;

    /// Gives up `leases` (those still held at their epoch): others may claim them at once.
    /// Returns how many were released.
    fn release<'a>(&'a self, leases: &'a [Lease]) -> StoreFuture<'a, u64>;

    /// [`TaskStore::update`](crate::TaskStore::update) under `lease`: the same write, applied
    /// only if `lease` is still the task's lease (its owner and epoch; an expired lease that
    /// nobody took over still counts — its epoch is still the latest). Otherwise
    /// [`StoreError::Fenced`] and nothing is written. A claim of the task waits for a fenced
    /// write in progress, and a fenced write after the claim fails: the two never interleave.
    fn update_leased<'a>(
        &'a self,
        task: &'a Task,
        expected_version: u64,
        events: &'a [CallbackEvent],
        lease: &'a Lease,
    ) -> StoreFuture<'a, ()>;

    /// The current lease of task `id`, if it ever had one (expired ones too: the database
    /// decides, with `live` false once `expires_at` has passed on its clock).
    fn lease_of<'a>(&'a self, id: &'a TaskId) -> StoreFuture<'a, Option<LeaseState>>;

    /// The stored version of each of `tasks` that still exists, in one read (a task missing
    /// from the answer was deleted). The owner's polling fallback: a user's command applied on
    /// another node changed the task's version, and the owner brings what it runs for the task
    /// in line with the stored state ([`Task::owner_plan`]). In no particular order.
    fn versions<'a>(&'a self, tasks: &'a [TaskId]) -> StoreFuture<'a, Vec<(TaskId, u64)>>;
}

/// A task's lease as the database has it ([`LeaseStore::lease_of`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseState {
    /// `None` once released.
    pub owner: Option<NodeId>,
    pub epoch: u64,
    /// Whether it has not expired, on the database's clock.
    pub live: bool,
    /// Who held the task before the latest claim — the owner of the claim before (kept
    /// through a release, which clears `owner`), its name, and that lease's epoch — if anyone
    /// did. The new owner records a `TakenOver` event when that was another node.
    pub previous: Option<Takeover>,
}

/// The error of a write under a lease that is no longer the task's.
pub fn fenced(lease: &Lease) -> StoreError {
    StoreError::Fenced {
        id: lease.task.clone(),
        owner: lease.owner.to_string(),
        epoch: lease.epoch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_short_printable_ascii() {
        assert!(NodeId::parse("5f0c1a9e-0d7b-4a52-9d7e-2f1c3b4a5d6e").is_ok());
        assert!(NodeId::parse("").is_err());
        assert!(NodeId::parse("a b").is_err());
        assert!(NodeId::parse("é").is_err());
        assert!(NodeId::parse(&"x".repeat(65)).is_err());
        assert_eq!(NodeId::parse("n1").unwrap().to_string(), "n1");
    }
}
