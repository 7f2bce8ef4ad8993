//! What an operator sees of the cluster: the nodes sharing the database, their heartbeats and
//! the tasks each holds (`/v1/nodes`, `baton node list`; issue 15 item 4).

use std::fmt;
use std::time::Duration;

use crate::lease::NodeId;
use crate::store::StoreFuture;
use crate::task::{TaskId, UnixTime};

/// One node as the database has it.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeStatus {
    pub id: NodeId,
    /// What the node calls itself (its API address): for people.
    pub name: String,
    /// When it (last) started: seconds since the epoch, on the database's clock.
    pub started_at: UnixTime,
    /// How long ago its last heartbeat was, on the database's clock (nodes' clocks need not
    /// agree with it or with each other).
    pub heartbeat_age: Duration,
    /// Whether its last heartbeat is at most the lease time old (`alive_within`): a node that
    /// is not alive has lost, or is about to lose, every lease it held.
    pub alive: bool,
    /// The most tasks it runs at once.
    pub capacity: u32,
    /// How many tasks it holds a live lease on.
    pub tasks: u64,
    /// The first of those tasks, by ID (at most the `max_task_ids` asked for).
    pub task_ids: Vec<TaskId>,
}

/// The cluster's membership, read for operators. Object-safe, runtime-neutral, as
/// [`TaskStore`](crate::TaskStore).
pub trait ClusterStore: Send + Sync + fmt::Debug {
    /// Every node registered on the database, by name then ID: a node is `alive` if its
    /// heartbeat is at most `alive_within` old; its tasks are those it holds an unexpired lease
    /// on, their IDs listed up to `max_task_ids`. A store that one node has to itself (SQLite)
    /// lists that node (once it [registered](crate::LeaseStore::register_node)), alive, with
    /// every task that has not exited.
    fn nodes(&self, alive_within: Duration, max_task_ids: u32) -> StoreFuture<'_, Vec<NodeStatus>>;

    /// How many tasks that have not exited no node holds a live lease on: between an owner's
    /// death and a takeover (seconds), or for as long as every node is at its capacity — then
    /// they run nowhere, which an operator must see. A store of one node runs every task: 0.
    fn unowned_tasks(&self) -> StoreFuture<'_, u64>;
}
