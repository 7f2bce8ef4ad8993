//! The engine: applies the domain's state machine to tasks and carries out its effects.
//!
//! One command at a time per task (a per-task async lock): read the task, apply the command
//! at `clock.now()`, write the new state and its events in one store transaction,
//! and only then carry out the effects — start or stop relays, set timers, wake the callback
//! delivery. A write that loses an optimistic-concurrency race is retried from a fresh read.
//!
//! Relays report through their state-change channel and their end ([`supervisor`]); timers
//! fire from one scheduler ([`timers`]); callbacks are delivered from the store's outbox
//! ([`outbox`]); a task waiting out its RetryInterval after its source failed has the source
//! watched ([`watch`]) and retries as soon as it is back. After a restart, [`Engine::start`] applies `Recover` to every unfinished
//! task, so every task that should be running is running again within seconds.

mod error_code;
mod notes;
mod outbox;
mod owner;
mod supervisor;
mod timers;
mod watch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_domain::{
    AccountId, Command, Effect, EventRecord, Lease, LeaseStore, ListFilter, NodeInfo, Page, Policy,
    Rejection, StoreError, Task, TaskId, TaskList, TaskPatch, TaskSpec, TaskStatus, TaskStore,
    Timer, Transition, UnixTime,
};
use baton_net::egress::{Egress, EgressPolicy};
use baton_relay::{PlayerConfig, ProbeConfig, RelayConfig};
use rand::Rng;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::Clock;
use crate::capability::{
    MediaSources, Unsupported, check_reachable, check_supported, relay_config,
};
use crate::lease::{HeldLeases, LeaseConfig, LeaseHolder, LeaseKeeper, LossReason};
use crate::metrics::{EngineMetrics, TaskEntry, TaskSnapshot};

pub use error_code::error_code;
pub use notes::{DOWN_EVERY, SWITCH_EVERY};
pub use outbox::CallbackKeys;
pub use supervisor::{LocalLauncher, RelayLauncher};
pub use watch::LocalIngest;

use supervisor::Supervisor;
use timers::{Fired, Timers};
use watch::SourceWatches;

/// How many times a command is re-applied after losing a concurrent-write race.
const CONFLICT_RETRIES: usize = 5;

/// Settings of the engine.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The relay settings every task's relay starts from (grace period, backoff, ...).
    pub relay: RelayConfig,
    pub policy: Policy,
    /// How often exited tasks past their retention are purged.
    pub purge_interval: Duration,
    /// Time a stopping relay gets to close its destination before a restart goes on.
    pub stop_timeout: Duration,
    /// Where playlist files may come from (media library, local roots).
    pub media: MediaSources,
    /// How playlists are played (pacing lead, HTTP reads).
    pub player: PlayerConfig,
    /// Where each account's sources, playlist items, destinations and callbacks may connect. Default
    /// unrestricted (tests on in-memory networks); `baton serve` sets its `[egress]` policy.
    pub egress: Arc<EgressPolicy>,
    /// Baton's own ingest, whose streams are watched through its hub while their tasks wait
    /// for a retry (`None`: every source is probed).
    pub local_ingest: Option<LocalIngest>,
    /// How a source on another server is probed while its task waits for a retry (the
    /// connections are the relay's: `relay.client`).
    pub probe: ProbeConfig,
    /// Run tasks under leases on a database several nodes may share (`None`: this node owns
    /// every task, as on SQLite). See [`ClusterConfig`].
    pub cluster: Option<ClusterConfig>,
}

/// Task ownership with fenced leases (docs/design/multi-node.md): the engine runs only the
/// tasks its node holds a lease on. At start it recovers nothing by itself: the lease keeper
/// claims tasks (up to the capacity) and each acquired task is recovered; a lost lease stops
/// the task's relay at once without writing the task (the node is not its owner any more).
/// Writes of the owner's commands (relay reports, timers, recovery) are made under the lease
/// and refused without it; a user's command (update, stop, restart, …) on a task this node
/// does not own is written (versioned) but its relay and timer effects are left to the owner,
/// which brings what it runs in line with the stored task ([`Engine::task_changed`], on a
/// cross-node notice or its own poll every renew round).
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    pub leases: Arc<dyn LeaseStore>,
    pub node: NodeInfo,
    pub lease: LeaseConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            relay: RelayConfig::new("", ""),
            policy: Policy::default(),
            purge_interval: Duration::from_secs(600),
            stop_timeout: Duration::from_secs(5),
            media: MediaSources::default(),
            player: PlayerConfig::default(),
            egress: Arc::default(),
            local_ingest: None,
            probe: ProbeConfig::default(),
            cluster: None,
        }
    }
}

/// Why the engine refused or failed a request.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Rejected(#[from] Rejection),
    #[error("{0}")]
    Unsupported(Unsupported),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// [`Engine::apply_if`]: the task is not at the version the caller expected (someone
    /// changed it since the caller read it). Nothing was applied; `current` is the task as it
    /// is now (with its live playlist position), for the caller to decide again.
    #[error("task {} is at version {}, not the expected one", current.id, current.version)]
    VersionMismatch { current: Box<Task> },
    /// A command only the task's owner applies (a relay report, a timer, a recovery) on a
    /// node that holds no lease on the task ([`ClusterConfig`]): not applied.
    #[error("task {id} is not owned by this node (no lease)")]
    NotOwner { id: TaskId },
}

/// The task engine. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn TaskStore>,
    clock: Arc<dyn Clock>,
    config: EngineConfig,
    locks: Mutex<HashMap<TaskId, Arc<tokio::sync::Mutex<()>>>>,
    supervisor: Supervisor,
    watches: SourceWatches,
    timers: Timers,
    outbox: outbox::Outbox,
    cancel: CancellationToken,
    metrics: EngineMetrics,
    /// Every task this engine wrote and that has not exited, as last written: what a metrics
    /// scrape reads (updated once per write, never per frame).
    table: Mutex<HashMap<TaskId, TaskEntry>>,
    /// The leases this node holds ([`ClusterConfig`]; `None`: it owns every task).
    held: Option<HeldLeases>,
    /// Under leases: what this node runs for each task it holds, as far as the stored task is
    /// concerned (see [`owner`]).
    owned: Mutex<HashMap<TaskId, owner::Owned>>,
    /// A poll of the held tasks' versions is in progress (at most one at a time).
    polling: std::sync::atomic::AtomicBool,
    /// Stops the lease keeper: after the relays, so its leases are released only once they
    /// stopped pushing.
    keeper: Mutex<Option<(CancellationToken, tokio::task::JoinHandle<()>)>>,
}

impl Engine {
    /// Starts the engine on `store`: recovers every unfinished task (timers re-armed, running
    /// tasks' relays started again), then serves. Relays run through `launcher` (a
    /// [`RelayPool`] in production).
    pub async fn start(
        store: Arc<dyn TaskStore>,
        clock: Arc<dyn Clock>,
        launcher: Arc<dyn RelayLauncher>,
        keys: CallbackKeys,
        config: EngineConfig,
        cancel: CancellationToken,
    ) -> Result<Engine, EngineError> {
        let metrics = EngineMetrics::default();
        let engine = Arc::new_cyclic(|weak: &std::sync::Weak<Inner>| {
            let fire_weak = weak.clone();
            let timers = Timers::start(Arc::clone(&clock), cancel.child_token(), move |fired| {
                let inner = fire_weak.upgrade();
                async move {
                    if let Some(inner) = inner {
                        Engine { inner }.fire(fired).await;
                    }
                }
            });
            let report_weak = weak.clone();
            let report: supervisor::Report = Arc::new(move |account, id, command| {
                let inner = report_weak.upgrade();
                Box::pin(async move {
                    let Some(inner) = inner else { return };
                    let engine = Engine { inner };
                    if let Err(e) = engine.apply(&account, &id, command).await {
                        warn!(task = %id, error = %e, "relay report not applied");
                    }
                })
            });
            let supervisor = Supervisor::new(launcher, Arc::clone(&clock), Arc::clone(&report));
            let watches = SourceWatches::new(
                config.local_ingest.clone(),
                config.relay.client.clone(),
                config.probe.clone(),
                Arc::clone(&config.egress),
                report,
                cancel.child_token(),
            );
            Inner {
                outbox: outbox::Outbox::start(
                    Arc::clone(&store),
                    Arc::clone(&clock),
                    keys,
                    Egress::new(Arc::clone(&config.egress), "")
                        .with_tls(config.relay.client.tls.clone()),
                    metrics.clone(),
                    cancel.child_token(),
                ),
                store,
                clock,
                locks: Mutex::new(HashMap::new()),
                supervisor,
                watches,
                timers,
                held: config.cluster.as_ref().map(|_| HeldLeases::default()),
                owned: Mutex::new(HashMap::new()),
                polling: std::sync::atomic::AtomicBool::new(false),
                config,
                cancel,
                metrics,
                table: Mutex::new(HashMap::new()),
                keeper: Mutex::new(None),
            }
        });
        let engine = Engine { inner: engine };
        match (&engine.inner.config.cluster, &engine.inner.held) {
            (Some(cluster), Some(held)) => {
                let cancel = CancellationToken::new();
                let holder = Arc::new(EngineHolder {
                    engine: Arc::downgrade(&engine.inner),
                });
                let task = LeaseKeeper::spawn(
                    Arc::clone(&cluster.leases),
                    cluster.node.clone(),
                    cluster.lease.clone(),
                    holder,
                    held.clone(),
                    cancel.clone(),
                );
                *engine
                    .inner
                    .keeper
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some((cancel, task));
            }
            _ => engine.recover().await?,
        }
        engine.spawn_purger();
        Ok(engine)
    }

    /// Creates a task (CreateLivePullToPush) with a fresh random ID.
    pub async fn create(&self, account: &AccountId, spec: TaskSpec) -> Result<Task, EngineError> {
        self.create_with_id(account, new_task_id(), spec).await
    }

    /// Creates a task with an ID the caller chose (clients that name their tasks, or make a
    /// create idempotent by naming it up front); otherwise as [`Engine::create`]. The ID must
    /// be a valid task ID (else [`Rejection::Invalid`]); one that exists already, in any
    /// account, is [`EngineError::Store`]`(`[`StoreError::Duplicate`]`)` and nothing changes.
    pub async fn create_with_id(
        &self,
        account: &AccountId,
        id: TaskId,
        spec: TaskSpec,
    ) -> Result<Task, EngineError> {
        check_supported(&spec, &self.inner.config.media).map_err(EngineError::Unsupported)?;
        check_reachable(&spec, None, account, &self.inner.config.egress)?;
        let now = self.inner.clock.now();
        let transition = Task::create(id, account.clone(), spec, now)?;
        let started = tokio::time::Instant::now();
        let inserted = self
            .inner
            .store
            .insert(&transition.task, &transition.events())
            .await;
        self.inner
            .metrics
            .store_write_seconds
            .observe(started.elapsed().as_secs_f64());
        inserted?;
        if self.inner.held.is_none() {
            // Under leases the task is remembered by its owner, once it recovers it.
            self.remember(&transition.task);
        }
        info!(task = %transition.task.id, account = %account, "task created");
        let task = transition.task.clone();
        self.execute(&transition, None).await;
        if let Some(held) = &self.inner.held {
            // Owned by nobody yet: the keeper claims it (and its effects run then) now rather
            // than at its next round.
            held.wake_keeper();
        }
        Ok(task)
    }

    /// One task, with a playing list's position as it is now (the stored one is at most
    /// [`PROGRESS_EVERY`](supervisor::PROGRESS_EVERY) old).
    pub async fn get(&self, account: &AccountId, id: &TaskId) -> Result<Task, EngineError> {
        let task = self
            .inner
            .store
            .get(account, id)
            .await?
            .ok_or(EngineError::Rejected(Rejection::NotFound))?;
        Ok(self.live(task))
    }

    /// One page of an account's tasks (see [`TaskStore::list`]), with live playlist positions.
    pub async fn list(
        &self,
        account: &AccountId,
        filter: &ListFilter,
        page: Page,
    ) -> Result<TaskList, EngineError> {
        let mut list = self.inner.store.list(account, filter, page).await?;
        list.tasks = list.tasks.into_iter().map(|t| self.live(t)).collect();
        Ok(list)
    }

    /// The account's tasks matching `filter` in list order (creation time descending, then ID)
    /// strictly after the position `after` (the last listed task's `(created_at, id)`), at
    /// most `limit`, with live playlist positions: cursor paging (see
    /// [`TaskStore::list_after`]). An empty result means there are no more.
    pub async fn list_after(
        &self,
        account: &AccountId,
        filter: &ListFilter,
        after: Option<(UnixTime, TaskId)>,
        limit: u32,
    ) -> Result<Vec<Task>, EngineError> {
        let tasks = self
            .inner
            .store
            .list_after(account, filter, after, limit)
            .await?;
        Ok(tasks.into_iter().map(|t| self.live(t)).collect())
    }

    /// A task's event log, newest first (seq descending): every event it had, with or without
    /// a callback URL (an empty `url`: recorded, never delivered), and what became of its
    /// delivery. Those with seq < `before_seq` when given (the last seen one's, to page on),
    /// at most `limit`. Kept after the task is deleted until purged with delivered events
    /// (the retention period); an unknown task has no events, which is not an error.
    pub async fn task_events(
        &self,
        account: &AccountId,
        id: &TaskId,
        before_seq: Option<u64>,
        limit: u32,
    ) -> Result<Vec<EventRecord>, EngineError> {
        Ok(self
            .inner
            .store
            .task_events(account, id, before_seq, limit)
            .await?)
    }

    /// `task` with its current run's playlist position, if it plays one.
    fn live(&self, mut task: Task) -> Task {
        if let Some(p) = self
            .inner
            .supervisor
            .playlist_progress(&task.id, task.runtime.run)
        {
            task.runtime.current_file_index = p.file_index;
            task.runtime.current_offset = u32::try_from(p.offset_ms / 1000).unwrap_or(u32::MAX);
            task.runtime.current_loop = p.loops_done;
        }
        task
    }

    pub async fn update(
        &self,
        account: &AccountId,
        id: &TaskId,
        patch: TaskPatch,
    ) -> Result<Task, EngineError> {
        self.apply(account, id, Command::Update(patch)).await
    }

    pub async fn stop(&self, account: &AccountId, id: &TaskId) -> Result<Task, EngineError> {
        self.apply(account, id, Command::Stop).await
    }

    pub async fn restart(&self, account: &AccountId, id: &TaskId) -> Result<Task, EngineError> {
        self.apply(account, id, Command::Restart).await
    }

    /// Volcengine's Stop: a running or not yet started task → stopped.
    pub async fn disable(&self, account: &AccountId, id: &TaskId) -> Result<Task, EngineError> {
        self.apply(account, id, Command::Disable).await
    }

    /// Volcengine's Continue (`from_start` false) and Relaunch (true) of a stopped task.
    pub async fn enable(
        &self,
        account: &AccountId,
        id: &TaskId,
        from_start: bool,
    ) -> Result<Task, EngineError> {
        self.apply(account, id, Command::Enable { from_start })
            .await
    }

    pub async fn delete(&self, account: &AccountId, id: &TaskId) -> Result<(), EngineError> {
        self.apply(account, id, Command::Delete).await.map(|_| ())
    }

    /// The engine's event metrics (store writes, callbacks), for the binary to register.
    pub fn metrics(&self) -> &EngineMetrics {
        &self.inner.metrics
    }

    /// Every task this engine knows that has not exited (created, recovered or changed since
    /// it started), with its relay's status while one runs: what a metrics scrape reports.
    /// Under leases, only the tasks this node holds a lease on: metrics are per node (each
    /// node exports the tasks it runs; Prometheus scrapes every node), and a task this node
    /// only wrote for a user, or lost to another node, is the owner's to report — its row
    /// here would be stale. Reads the engine's table and the relays' status cells; touches no
    /// store.
    pub fn task_snapshots(&self) -> Vec<TaskSnapshot> {
        let held = self.inner.held.as_ref();
        let entries: Vec<(TaskId, TaskEntry)> = self
            .inner
            .table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(id, _)| held.is_none_or(|held| held.get(id).is_some()))
            .map(|(id, e)| (id.clone(), e.clone()))
            .collect();
        entries
            .into_iter()
            .map(|(id, e)| TaskSnapshot {
                relay: self.inner.supervisor.status(&id),
                id,
                account: e.account,
                group: e.group,
                status: e.status,
                retries: e.retries,
                last_error: e.last_error,
            })
            .collect()
    }

    /// Records a task as written: an exited (or purged) task leaves the table.
    fn remember(&self, task: &Task) {
        let mut table = self.inner.table.lock().unwrap_or_else(|e| e.into_inner());
        if task.runtime.status == TaskStatus::Exited {
            table.remove(&task.id);
        } else {
            table.insert(task.id.clone(), TaskEntry::of(task));
        }
    }

    /// The run of the task's relay running on this node, if one runs here.
    pub fn relay_run(&self, id: &TaskId) -> Option<u64> {
        self.inner.supervisor.run_of(id)
    }

    /// The live status of a task's relay, if one runs.
    pub fn relay_status(&self, id: &TaskId) -> Option<baton_relay::RelayStatus> {
        self.inner.supervisor.status(id)
    }

    /// How many tasks have their source watched now (waiting for a retry after their source
    /// failed).
    pub fn watched_sources(&self) -> usize {
        self.inner.watches.count()
    }

    /// Applies `command` to a task: read, apply, write, then effects.
    pub async fn apply(
        &self,
        account: &AccountId,
        id: &TaskId,
        command: Command,
    ) -> Result<Task, EngineError> {
        self.apply_at(account, id, command, None).await
    }

    /// Applies `command` as [`Engine::apply`] does, if the task is at `expected_version`: a
    /// conditional change (If-Match, a client's read-modify-write). Checked inside the task's
    /// lock, against the stored version, so no other change can come between the check and
    /// the write; otherwise [`EngineError::VersionMismatch`] and nothing is applied.
    pub async fn apply_if(
        &self,
        account: &AccountId,
        id: &TaskId,
        command: Command,
        expected_version: u64,
    ) -> Result<Task, EngineError> {
        self.apply_at(account, id, command, Some(expected_version))
            .await
    }

    /// Applies `command` to a task, at version `expected` if given.
    async fn apply_at(
        &self,
        account: &AccountId,
        id: &TaskId,
        command: Command,
        expected: Option<u64>,
    ) -> Result<Task, EngineError> {
        let lock = self.lock_of(id);
        let _guard = lock.lock().await;
        let mut attempts = 0;
        // Under leases: the lease this node holds on the task, if any, read once (a lease
        // gained or lost meanwhile is the keeper's next call).
        let lease = self.inner.held.as_ref().and_then(|h| h.get(id));
        if self.inner.held.is_some() && lease.is_none() && owners_command(&command) {
            return Err(EngineError::NotOwner { id: id.clone() });
        }
        loop {
            let task = self
                .inner
                .store
                .get(account, id)
                .await?
                .ok_or(Rejection::NotFound)?;
            // Re-checked after a lost write race too: the winner moved the version.
            if expected.is_some_and(|v| v != task.version) {
                let current = Box::new(self.live(task));
                return Err(EngineError::VersionMismatch { current });
            }
            // A stopped list keeps the position it stopped at, not the last stored one (up to
            // PROGRESS_EVERY old), for a Continue to resume from.
            let task = match command {
                Command::Stop | Command::Disable => self.live(task),
                _ => task,
            };
            let now = self.inner.clock.now();
            let transition = task.apply(command.clone(), now, &self.inner.config.policy)?;
            if matches!(command, Command::Update(_)) && transition.task.spec != task.spec {
                // A stopped task's new sources must be runnable too.
                check_supported(&transition.task.spec, &self.inner.config.media)
                    .map_err(EngineError::Unsupported)?;
                check_reachable(
                    &transition.task.spec,
                    Some(&task.spec),
                    account,
                    &self.inner.config.egress,
                )?;
            }
            let started = tokio::time::Instant::now();
            let written = self.write(&task, &transition, now, lease.as_ref()).await;
            // Timed when it reached the store (see `write`: an unchanged task is not written).
            if transition.purge_at().is_some_and(|at| at <= now)
                || transition.task.version != task.version
            {
                self.inner
                    .metrics
                    .store_write_seconds
                    .observe(started.elapsed().as_secs_f64());
            }
            match written {
                Ok(()) => {
                    if self.inner.held.is_none() || lease.is_some() {
                        self.remember(&transition.task);
                    }
                    self.execute(&transition, lease.as_ref()).await;
                    if let Some(lease) = &lease {
                        // In line with the stored task even if another node's write came
                        // before this one; an exited task's lease given back.
                        self.settle(task.version, &transition.task, lease).await;
                    }
                    return Ok(transition.task);
                }
                Err(StoreError::Conflict { .. }) if attempts < CONFLICT_RETRIES => attempts += 1,
                Err(e @ StoreError::Fenced { .. }) => {
                    // Another node claimed the task: stop pushing it now.
                    if let (Some(held), Some(lease)) = (&self.inner.held, &lease) {
                        held.remove_if(lease);
                        if self.inner.supervisor.abort(id) {
                            warn!(task = %id, epoch = lease.epoch, "write fenced: another node owns the task; relay stopped");
                        }
                        self.forget_lost(lease);
                    }
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Stores a transition: nothing if the task did not change, a delete when it is purged
    /// now, an update otherwise — with its callback events, in one transaction.
    async fn write(
        &self,
        before: &Task,
        transition: &Transition,
        now: UnixTime,
        lease: Option<&Lease>,
    ) -> Result<(), StoreError> {
        let store = &self.inner.store;
        let events = transition.events();
        if transition.purge_at().is_some_and(|at| at <= now) {
            return store
                .delete(&before.account, &before.id, before.version, &events)
                .await;
        }
        if transition.task.version == before.version {
            return Ok(());
        }
        match (lease, &self.inner.config.cluster) {
            (Some(lease), Some(cluster)) => {
                cluster
                    .leases
                    .update_leased(&transition.task, before.version, &events, lease)
                    .await
            }
            _ => {
                store
                    .update(&transition.task, before.version, &events)
                    .await
            }
        }
    }

    /// Carries out a stored transition's effects, in order. Under leases, a task this node
    /// does not own (`lease` `None`) gets only its callbacks and purge here: relays, source
    /// watches and timers are its owner's.
    async fn execute(&self, transition: &Transition, lease: Option<&Lease>) {
        let task = &transition.task;
        let owner = self.inner.held.is_none() || lease.is_some();
        for effect in &transition.effects {
            let owners_effect = !matches!(effect, Effect::Notify(_) | Effect::Purge { .. });
            if owners_effect && !owner {
                continue;
            }
            match effect {
                Effect::StartRelay { run } => self.start_relay(task, *run, lease),
                Effect::StopRelay { run } => {
                    self.inner
                        .supervisor
                        .stop(&task.id, *run, self.inner.config.stop_timeout)
                        .await;
                }
                // Of what may change while a task runs, RepeatNumber (a playlist's) and the
                // destinations reach the relay.
                Effect::UpdateRelay { run } => self.update_relay(task, *run).await,
                Effect::WatchSource { run } => self.watch_source(task, *run),
                Effect::UnwatchSource { run } => self.inner.watches.unwatch(&task.id, *run),
                Effect::Schedule { at, timer } => {
                    self.inner
                        .timers
                        .set(&task.account, &task.id, *timer, *at)
                        .await;
                }
                // Events without a URL are only recorded: nothing to deliver.
                Effect::Notify(event) if event.is_deliverable() => self.inner.outbox.wake(),
                Effect::Notify(_) => {}
                Effect::Purge { at } => {
                    if *at <= self.inner.clock.now() {
                        self.inner.timers.forget(&task.account, &task.id).await;
                        self.inner
                            .locks
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&task.id);
                        info!(task = %task.id, "task deleted");
                    }
                    // Later purges are the purger's job (exited tasks past retention).
                }
            }
        }
    }

    /// Brings run `run`'s relay in line with the task's spec: its playlist's RepeatNumber and
    /// its destinations (see `Supervisor::sync_destinations`: the unchanged ones are not
    /// touched).
    async fn update_relay(&self, task: &Task, run: u64) {
        let supervisor = &self.inner.supervisor;
        supervisor.set_repeat(&task.id, run, task.spec.repeat_number);
        let wanted: Vec<String> = std::iter::once(&task.spec.dst_url)
            .chain(&task.spec.extra_dst_urls)
            .cloned()
            .collect();
        supervisor.sync_destinations(&task.id, run, &wanted).await;
    }

    /// Starts run `run` of the task's relay; under leases only while `lease` is held.
    fn start_relay(&self, task: &Task, run: u64, lease: Option<&Lease>) {
        let c = &self.inner.config;
        let config = relay_config(task, &c.relay, &c.media, &c.player, &c.egress);
        let supervisor = &self.inner.supervisor;
        match (&self.inner.held, lease) {
            (Some(held), Some(lease)) => {
                // Started under the keeper's lock: never after it gave the lease up.
                let started = held.if_held(lease, || {
                    self.note_started(&task.id, run);
                    supervisor.start(&task.account, &task.id, run, config)
                });
                if started.is_none() {
                    warn!(task = %task.id, run, "relay not started: the lease was lost meanwhile");
                }
            }
            _ => supervisor.start(&task.account, &task.id, run, config),
        }
    }

    /// Watches the task's source for run `run`'s retry.
    fn watch_source(&self, task: &Task, run: u64) {
        if let Some(source) = task.spec.source_urls.first() {
            let hls = task.spec.source_protocol == Some(baton_domain::SourceProtocol::Hls);
            self.inner
                .watches
                .watch(&task.account, &task.id, run, source, hls);
        }
    }

    async fn fire(&self, fired: Fired) {
        let command = match fired.timer {
            Timer::Start => Command::StartTimeReached,
            Timer::End => Command::EndTimeReached,
            Timer::Retry => {
                let run = match self.inner.store.get(&fired.account, &fired.id).await {
                    Ok(Some(task)) => task.runtime.run,
                    _ => return,
                };
                Command::RetryDue { run }
            }
        };
        if let Err(e) = self.apply(&fired.account, &fired.id, command).await {
            match e {
                EngineError::Rejected(Rejection::NotFound) | EngineError::NotOwner { .. } => {}
                e => warn!(task = %fired.id, timer = ?fired.timer, error = %e, "timer not applied"),
            }
        }
    }

    async fn recover(&self) -> Result<(), EngineError> {
        let tasks = self.inner.store.unfinished().await?;
        let count = tasks.len();
        for task in tasks {
            if let Err(e) = self.apply(&task.account, &task.id, Command::Recover).await {
                warn!(task = %task.id, error = %e, "task not recovered");
            }
        }
        if count > 0 {
            info!(tasks = count, "tasks recovered");
        }
        Ok(())
    }

    fn spawn_purger(&self) {
        let weak = Arc::downgrade(&self.inner);
        let cancel = self.inner.cancel.child_token();
        let interval = self.inner.config.purge_interval;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(interval) => {}
                }
                let Some(inner) = weak.upgrade() else { return };
                let retention = i64::try_from(inner.config.policy.retention).unwrap_or(i64::MAX);
                let before = inner.clock.now().saturating_sub(retention);
                match inner.store.purge(before).await {
                    Ok(purged) if purged.tasks > 0 => {
                        info!(tasks = purged.tasks, "exited tasks purged")
                    }
                    Ok(_) => {}
                    Err(e) => warn!(error = %e, "purge failed"),
                }
            }
        });
    }

    fn lock_of(&self, id: &TaskId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.inner.locks.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(locks.entry(id.clone()).or_default())
    }

    /// Stops every relay (destinations closed cleanly) and the background tasks.
    pub async fn shutdown(&self, timeout: Duration) {
        self.inner.cancel.cancel();
        self.inner.supervisor.stop_all(timeout).await;
        // Only now, the relays stopped: release the leases for other nodes to take over.
        let keeper = self
            .inner
            .keeper
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((cancel, task)) = keeper {
            cancel.cancel();
            let _ = task.await;
        }
    }

    /// An exited (or deleted) task's lease: not renewed any more, released in the database so
    /// that it stops counting against this node's capacity.
    fn give_back(&self, lease: &Lease) {
        let (Some(held), Some(cluster)) = (&self.inner.held, &self.inner.config.cluster) else {
            return;
        };
        held.remove_if(lease);
        let leases = Arc::clone(&cluster.leases);
        let lease = lease.clone();
        tokio::spawn(async move {
            if let Err(e) = leases.release(std::slice::from_ref(&lease)).await {
                warn!(task = %lease.task, error = %e, "exited task's lease not released; it expires");
            }
        });
    }

    /// The leases this node holds ([`ClusterConfig`]; `None` when it owns every task).
    pub fn held_leases(&self) -> Option<&HeldLeases> {
        self.inner.held.as_ref()
    }
}

/// Whether only a task's owner applies `command`: everything but a user's request (relay
/// reports, timers, source watches, recovery). Under leases such a command needs the lease.
fn owners_command(command: &Command) -> bool {
    !matches!(
        command,
        Command::Update(_)
            | Command::Stop
            | Command::Restart
            | Command::Disable
            | Command::Enable { .. }
            | Command::Delete
    )
}

/// The engine as the lease keeper's [`LeaseHolder`].
struct EngineHolder {
    engine: std::sync::Weak<Inner>,
}

impl LeaseHolder for EngineHolder {
    fn acquired(&self, leases: &[Lease]) {
        let Some(inner) = self.engine.upgrade() else {
            return;
        };
        let engine = Engine { inner };
        for lease in leases {
            if !engine.note_acquired(&lease.task) {
                // A poll found it held first and recovers it.
                continue;
            }
            let engine = engine.clone();
            let lease = lease.clone();
            tokio::spawn(async move { engine.recover_acquired(&lease).await });
        }
    }

    fn renewed(&self, held: &[Lease]) {
        if let Some(inner) = self.engine.upgrade() {
            Engine { inner }.poll_held(held.to_vec());
        }
    }

    fn lost(&self, leases: &[Lease], why: &LossReason) {
        let Some(inner) = self.engine.upgrade() else {
            return;
        };
        let engine = Engine { inner };
        for lease in leases {
            if engine.inner.supervisor.abort(&lease.task) {
                warn!(task = %lease.task, epoch = lease.epoch, "relay stopped: {why}");
            }
            engine.forget_lost(lease);
        }
    }
}

/// A fresh task ID: a random UUID (version 4), lower-case, as the providers issue them.
fn new_task_id() -> TaskId {
    let b: [u8; 16] = rand::rng().random();
    let mut b = b;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    TaskId(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_are_v4_uuids_the_domain_accepts() {
        let id = new_task_id();
        assert_eq!(id.0.len(), 36);
        assert_eq!(&id.0[14..15], "4");
        assert!(TaskId::parse(&id.0).is_ok());
        assert_ne!(new_task_id(), id);
    }
}
