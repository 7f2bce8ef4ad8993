//! The storage port: where tasks and their callback outbox live.
//!
//! Every write of a task state and the events it produced is one transaction (outbox, STYLE
//! habit 8), and it is committed — durable — when the future resolves: the
//! engine acknowledges a change only after that. Optimistic concurrency: every task write names
//! the version it was computed from, and loses with [`StoreError::Conflict`] if another write
//! got there first; the engine re-reads and re-applies.
//!
//! The outbox is also each task's event log ([`TaskStore::task_events`]). An event that is not
//! [deliverable](CallbackEvent::is_deliverable) (its task has no callback URL) is stored as
//! delivered at its own time (`delivered_at` = the event's time): never due, purged like a
//! delivered event.
//!
//! The trait is object-safe (`Arc<dyn TaskStore>`) and runtime-neutral: methods return boxed
//! `Send` futures ([`StoreFuture`]) rather than using `async fn`, which is not object-safe.
//! Implementations: `baton-store-sqlite`; every implementation passes the conformance suite in
//! `baton-store-conformance`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::event::CallbackEvent;
use crate::request::{ListFilter, Page};
use crate::task::{AccountId, Task, TaskId, UnixTime};

/// The future a [`TaskStore`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Durable storage of tasks and their callback outbox.
pub trait TaskStore: Send + Sync + fmt::Debug {
    /// Stores a new task and its events (those that are not deliverable as delivered at their
    /// own time, see the module docs). [`StoreError::Duplicate`] if a task with its ID exists
    /// (in any account: IDs are global), or events of a task with its ID are still stored (a
    /// deleted task's log, until purged): an ID is not reused while anything of its task is
    /// kept, so event IDs stay unique and one task's log never continues another's.
    fn insert<'a>(&'a self, task: &'a Task, events: &'a [CallbackEvent]) -> StoreFuture<'a, ()>;

    /// Replaces a stored task (found by account and ID) with `task` and appends `events`, if
    /// the stored version is `expected_version`; `task.version` must be `expected_version + 1`
    /// (a [`Transition`](crate::Transition) sets it). [`StoreError::NotFound`] if there is no
    /// such task, [`StoreError::Conflict`] if its version differs. Nothing is written then.
    fn update<'a>(
        &'a self,
        task: &'a Task,
        expected_version: u64,
        events: &'a [CallbackEvent],
    ) -> StoreFuture<'a, ()>;

    /// Deletes a task if its stored version is `expected_version`, and appends `events` (the
    /// `Exit` callback), in one transaction. Errors as [`TaskStore::update`].
    fn delete<'a>(
        &'a self,
        account: &'a AccountId,
        id: &'a TaskId,
        expected_version: u64,
        events: &'a [CallbackEvent],
    ) -> StoreFuture<'a, ()>;

    /// One task of one account (`None` for another account's task).
    fn get<'a>(&'a self, account: &'a AccountId, id: &'a TaskId) -> StoreFuture<'a, Option<Task>>;

    /// One page of an account's tasks matching `filter` (see [`ListFilter`]), newest first
    /// (creation time descending, then ID ascending), and how many match in all.
    fn list<'a>(
        &'a self,
        account: &'a AccountId,
        filter: &'a ListFilter,
        page: Page,
    ) -> StoreFuture<'a, TaskList>;

    /// The account's tasks matching `filter`, in list order (created_at descending, then id
    /// ascending), strictly after `after` (a (created_at, id) position in that order) when
    /// given, at most `limit`. Keyset paging for cursors: unlike [`TaskStore::list`]'s page
    /// numbers, a task created or deleted meanwhile neither repeats nor hides another, and
    /// the position need not be a task that still exists.
    fn list_after<'a>(
        &'a self,
        account: &'a AccountId,
        filter: &'a ListFilter,
        after: Option<(UnixTime, TaskId)>,
        limit: u32,
    ) -> StoreFuture<'a, Vec<Task>>;

    /// Every task, of every account, that has not exited: after a restart the engine applies
    /// [`Command::Recover`](crate::Command::Recover) to each (timers, relays). Ordered by ID.
    fn unfinished(&self) -> StoreFuture<'_, Vec<Task>>;

    /// The account's events of task `id` (kept after the task is deleted, until purged),
    /// newest first (seq descending), those with seq < `before_seq` when given, at most
    /// `limit`. Deliverable or not, delivered or not.
    fn task_events<'a>(
        &'a self,
        account: &'a AccountId,
        id: &'a TaskId,
        before_seq: Option<u64>,
        limit: u32,
    ) -> StoreFuture<'a, Vec<EventRecord>>;

    /// Up to `limit` undelivered events whose next attempt is due at `now`, earliest due first,
    /// then in the order they were stored. Events that are not deliverable are never due.
    fn due_events(&self, now: UnixTime, limit: u32) -> StoreFuture<'_, Vec<OutboxEntry>>;

    /// Claims up to `limit` of the events [`TaskStore::due_events`] would return, for `claim`,
    /// and returns them in the same order: an event claimed and not yet expired is not returned
    /// by another claim — through this handle or any other on the same database — until its
    /// claim expires or an attempt is recorded ([`TaskStore::mark_delivered`],
    /// [`TaskStore::reschedule_event`], [`TaskStore::give_up_event`] end the claim).
    ///
    /// This is how several nodes sharing one database deliver each event from one node: the
    /// claimer attempts it and records the attempt; a claimer that dies mid-delivery leaves the
    /// event to whoever claims after the expiry. Delivery stays **at least once**: a claimer
    /// slower than its claim (or one whose record of a delivery was lost) lets another node
    /// deliver the event again — receivers deduplicate by event ID, as with any retry.
    ///
    /// `claim` is measured on the store's clock: the database server's for a shared database
    /// (nodes' clocks need not agree), `now` for a store that one process has to itself
    /// (where claims need not outlive the process either).
    fn claim_due_events(
        &self,
        now: UnixTime,
        limit: u32,
        claim: Duration,
    ) -> StoreFuture<'_, Vec<OutboxEntry>>;

    /// How many events wait for delivery: not delivered and not given up, due now or at a
    /// later retry. Events that are not deliverable are never counted.
    fn pending_events(&self) -> StoreFuture<'_, u64>;

    /// Records that an event was delivered: it is never due again. Idempotent; an unknown ID
    /// is not an error (the event may have been purged).
    fn mark_delivered<'a>(&'a self, event_id: &'a str, now: UnixTime) -> StoreFuture<'a, ()>;

    /// Records a failed attempt: `attempts` made so far, next attempt at `next_attempt_at`,
    /// and why it failed (`error`: short, no secret, no URL query — see
    /// [`EventRecord::last_error`]). No effect on a delivered or unknown event.
    fn reschedule_event<'a>(
        &'a self,
        event_id: &'a str,
        attempts: u32,
        next_attempt_at: UnixTime,
        error: &'a str,
    ) -> StoreFuture<'a, ()>;

    /// Records a last failed attempt after which the event is given up (never due again,
    /// purged like a delivered one): `attempts` made in all, why the last failed, when.
    /// No effect on a delivered or unknown event.
    fn give_up_event<'a>(
        &'a self,
        event_id: &'a str,
        attempts: u32,
        error: &'a str,
        now: UnixTime,
    ) -> StoreFuture<'a, ()>;

    /// Deletes exited tasks whose exit time is before `before`, and delivered events delivered
    /// before `before` (the engine passes `now - retention`) — events that were not
    /// deliverable count as delivered at their own time.
    fn purge(&self, before: UnixTime) -> StoreFuture<'_, Purged>;
}

/// A page of tasks and the total count of matches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskList {
    /// The page's tasks, in list order.
    pub tasks: Vec<Task>,
    /// How many tasks match the filter in all pages.
    pub total: u64,
}

/// A stored callback event awaiting delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The event, as stored with the transition that produced it.
    pub event: CallbackEvent,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When it is due (the event's time, until an attempt fails).
    pub next_attempt_at: UnixTime,
}

/// One event of a task's log ([`TaskStore::task_events`]) and what became of its delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRecord {
    /// The event, as stored with the transition that produced it.
    pub event: CallbackEvent,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// When it was delivered (or given up), or recorded if it was not deliverable; `None`
    /// while delivery is pending.
    pub delivered_at: Option<UnixTime>,
    /// Why the last failed attempt failed (`HTTP 503`, `connect error: Connection refused`,
    /// `timed out after 10 s`, an egress refusal): short, never a secret or a URL's query.
    /// `None` while no attempt failed; kept once the event is delivered after all.
    pub last_error: Option<String>,
    /// Delivery was given up (after its last attempt, or at once when retrying cannot help):
    /// `delivered_at` is then when, not a delivery.
    pub given_up: bool,
}

/// What [`TaskStore::purge`] deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Exited tasks deleted.
    pub tasks: u64,
    /// Delivered events deleted.
    pub events: u64,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The task was changed by someone else since it was read (optimistic concurrency).
    #[error("task {id} was changed concurrently (expected version {expected})")]
    Conflict { id: TaskId, expected: u64 },
    /// No such task (for this account).
    #[error("task {id} does not exist")]
    NotFound { id: TaskId },
    /// A task with this ID, or an event with this ID, exists already.
    #[error("{what} {id} exists already")]
    Duplicate { what: &'static str, id: String },
    /// The caller broke the port's contract (e.g. a version that does not follow the expected
    /// one, or a number the backend cannot hold).
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// A stored row does not decode into a task or event (the database was edited by hand or
    /// by a newer Baton).
    #[error("stored {what} {id} is corrupt: {reason}")]
    Corrupt {
        what: &'static str,
        id: String,
        reason: String,
    },
    /// A write under a lease ([`LeaseStore::update_leased`](crate::LeaseStore::update_leased))
    /// that is no longer the task's lease: another node claimed the task since (a higher
    /// epoch), or the lease was released. Nothing was written; retrying cannot help — the
    /// writer is not the task's owner any more and must stop its relay.
    #[error(
        "task {id}: the lease of node {owner} at epoch {epoch} is not the task's lease any more"
    )]
    Fenced {
        id: TaskId,
        owner: String,
        epoch: u64,
    },
    /// The backend failed (I/O, locking, connection). The change was not made; retrying may
    /// help.
    #[error("store backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}
