//! The embedded default [`TaskStore`], [`BlockStore`] and [`GroupStore`]: one SQLite database,
//! `<data-dir>/baton.db`; and the [`ReplayStore`] in a second one beside it,
//! `<data-dir>/baton-replay.db` (see `replay.rs` for why a second file).
//!
//! Why sqlx (0.9, `runtime-tokio`, bundled SQLite) rather than rusqlite and a blocking pool:
//! its pool and async API fit the engine's tokio runtime without a hand-made thread pool, and
//! the same crate drives the PostgreSQL store to come, so the SQL here is written for both —
//! `$N` placeholders (sqlx binds SQLite's `$N` by number), row-value `UPDATE … SET (…) = (…)`,
//! `LIKE … ESCAPE`. Queries are checked at run time (no `query!` macros, so no database or
//! offline cache at build time); the conformance suite runs every one of them.
//!
//! Durability: WAL journal with `synchronous = FULL` — a write is on disk when its future
//! resolves, so a task change acknowledged to a user survives `kill -9` and power loss. Writers
//! take the lock up front (`BEGIN IMMEDIATE`) and wait up to [`BUSY_TIMEOUT`] for each other;
//! readers never block writers. Migrations (`migrations/`, embedded) run at open.

mod blocks;
mod codec;
mod groups;
mod leases;
mod migrate;
mod outbox;
mod replay;
mod tasks;

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_domain::{
    AccountId, AppSelector, Block, BlockList, BlockQuery, BlockStore, CallbackEvent, ClusterStore,
    CreateGroup, DeleteGroup, EventRecord, GroupList, GroupStatus, GroupStore, Lease, LeaseState,
    LeaseStore, LeaseTerms, ListFilter, NodeId, NodeInfo, NodeStatus, OutboxEntry, Page, Purged,
    PutBlock, ReplayAnswer, ReplayEntry, ReplayStore, StoreError, StoreFuture, StreamPath, Tag,
    Task, TaskGroup, TaskId, TaskList, TaskStore, UnixTime,
};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// The database's file name inside the data directory.
pub const FILE_NAME: &str = "baton.db";

/// The replay database's file name inside the data directory (beside [`FILE_NAME`]).
pub const REPLAY_FILE_NAME: &str = "baton-replay.db";

/// How long a writer waits for another writer's transaction before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections in the pool: readers run in parallel; writers take turns.
const MAX_CONNECTIONS: u32 = 4;

/// The SQLite task, block and group store: one type for every port, so the binary opens one
/// database and a group's deletion can count its tasks in the same transaction. Cheap to
/// clone (a pool handle).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// `baton-replay.db`: the [`ReplayStore`].
    replay: SqlitePool,
    /// The outbox's claimed events ([`TaskStore::claim_due_events`]): event ID → end of the
    /// claim. In memory: one process has a SQLite database to itself, and its claims end with
    /// it (a restarted node delivers at once what it was delivering when it died).
    claims: Arc<Mutex<HashMap<String, UnixTime>>>,
    /// The one node ([`LeaseStore::register_node`]) and when it registered, for
    /// [`ClusterStore::nodes`].
    node: Arc<Mutex<Option<(NodeInfo, UnixTime)>>>,
}

impl SqliteStore {
    /// Opens (creating if needed) `<data_dir>/baton.db` and migrates it. The directory must
    /// exist: creating it is the binary's business.
    pub async fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_file(&data_dir.join(FILE_NAME)).await
    }

    /// Opens (creating if needed) the database at `path`, and the replay database beside it
    /// (`<stem>-replay.db`: [`REPLAY_FILE_NAME`] for [`FILE_NAME`]), and migrates them.
    pub async fn open_file(path: &Path) -> Result<SqliteStore, StoreError> {
        let pool = open_pool(path, MAX_CONNECTIONS, migrate::MIGRATIONS).await?;
        let stem = path
            .file_stem()
            .map_or_else(|| "baton".into(), |s| s.to_string_lossy().into_owned());
        let replay = replay::open(&path.with_file_name(format!("{stem}-replay.db"))).await?;
        Ok(SqliteStore {
            pool,
            replay,
            claims: Arc::default(),
            node: Arc::default(),
        })
    }

    fn claims(&self) -> std::sync::MutexGuard<'_, HashMap<String, UnixTime>> {
        self.claims.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes every connection (checkpointing the WALs). Later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
        self.replay.close().await;
    }
}

/// Opens (creating if needed) the WAL database at `path`, every commit on disk before it
/// returns (`synchronous = FULL`: an acknowledged change survives kill -9 and power loss), and
/// migrates it.
pub(crate) async fn open_pool(
    path: &Path,
    max_connections: u32,
    migrations: migrate::Migrations,
) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str("sqlite:")
        .map_err(backend)?
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(max_connections)
        .connect_with(options)
        .await
        .map_err(backend)?;
    migrate::migrate(&pool, migrations).await?;
    Ok(pool)
}

impl TaskStore for SqliteStore {
    fn insert<'a>(&'a self, task: &'a Task, events: &'a [CallbackEvent]) -> StoreFuture<'a, ()> {
        Box::pin(tasks::insert(&self.pool, task, events))
    }

    fn update<'a>(
        &'a self,
        task: &'a Task,
        expected_version: u64,
        events: &'a [CallbackEvent],
    ) -> StoreFuture<'a, ()> {
        Box::pin(tasks::update(&self.pool, task, expected_version, events))
    }

    fn delete<'a>(
        &'a self,
        account: &'a AccountId,
        id: &'a TaskId,
        expected_version: u64,
        events: &'a [CallbackEvent],
    ) -> StoreFuture<'a, ()> {
        Box::pin(tasks::delete(
            &self.pool,
            account,
            id,
            expected_version,
            events,
        ))
    }

    fn get<'a>(&'a self, account: &'a AccountId, id: &'a TaskId) -> StoreFuture<'a, Option<Task>> {
        Box::pin(tasks::get(&self.pool, account, id))
    }

    fn list<'a>(
        &'a self,
        account: &'a AccountId,
        filter: &'a ListFilter,
        page: Page,
    ) -> StoreFuture<'a, TaskList> {
        Box::pin(tasks::list(&self.pool, account, filter, page))
    }

    fn list_after<'a>(
        &'a self,
        account: &'a AccountId,
        filter: &'a ListFilter,
        after: Option<(UnixTime, TaskId)>,
        limit: u32,
    ) -> StoreFuture<'a, Vec<Task>> {
        Box::pin(async move {
            tasks::list_after(&self.pool, account, filter, after.as_ref(), limit).await
        })
    }

    fn unfinished(&self) -> StoreFuture<'_, Vec<Task>> {
        Box::pin(tasks::unfinished(&self.pool))
    }

    fn task_events<'a>(
        &'a self,
        account: &'a AccountId,
        id: &'a TaskId,
        before_seq: Option<u64>,
        limit: u32,
    ) -> StoreFuture<'a, Vec<EventRecord>> {
        Box::pin(outbox::task_events(
            &self.pool, account, id, before_seq, limit,
        ))
    }

    fn due_events(&self, now: UnixTime, limit: u32) -> StoreFuture<'_, Vec<OutboxEntry>> {
        Box::pin(outbox::due_events(&self.pool, now, limit))
    }

    fn claim_due_events(
        &self,
        now: UnixTime,
        limit: u32,
        claim: Duration,
    ) -> StoreFuture<'_, Vec<OutboxEntry>> {
        Box::pin(async move {
            let held = {
                let mut claims = self.claims();
                claims.retain(|_, until| *until > now);
                u32::try_from(claims.len()).unwrap_or(u32::MAX)
            };
            // Enough rows that the claimed ones, skipped, still leave `limit`.
            let due = outbox::due_events(&self.pool, now, limit.saturating_add(held)).await?;
            let until = now.saturating_add(i64::try_from(claim.as_secs()).unwrap_or(i64::MAX));
            // Filtered and claimed under one lock: two claims racing in this process never
            // return one event twice.
            let mut claims = self.claims();
            let claimed: Vec<OutboxEntry> = due
                .into_iter()
                .filter(|e| claims.get(&e.event.id).is_none_or(|u| *u <= now))
                .take(limit as usize)
                .collect();
            for e in &claimed {
                claims.insert(e.event.id.clone(), until);
            }
            Ok(claimed)
        })
    }

    fn pending_events(&self) -> StoreFuture<'_, u64> {
        Box::pin(outbox::pending_events(&self.pool))
    }

    fn mark_delivered<'a>(&'a self, event_id: &'a str, now: UnixTime) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            outbox::mark_delivered(&self.pool, event_id, now).await?;
            self.claims().remove(event_id);
            Ok(())
        })
    }

    fn reschedule_event<'a>(
        &'a self,
        event_id: &'a str,
        attempts: u32,
        next_attempt_at: UnixTime,
        error: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            outbox::reschedule(&self.pool, event_id, attempts, next_attempt_at, error).await?;
            self.claims().remove(event_id);
            Ok(())
        })
    }

    fn give_up_event<'a>(
        &'a self,
        event_id: &'a str,
        attempts: u32,
        error: &'a str,
        now: UnixTime,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            outbox::give_up(&self.pool, event_id, attempts, error, now).await?;
            self.claims().remove(event_id);
            Ok(())
        })
    }

    fn purge(&self, before: UnixTime) -> StoreFuture<'_, Purged> {
        Box::pin(outbox::purge(&self.pool, before))
    }
}

/// The one node that registered, alive, holding every task that has not exited.
impl ClusterStore for SqliteStore {
    fn nodes(
        &self,
        _alive_within: Duration,
        max_task_ids: u32,
    ) -> StoreFuture<'_, Vec<NodeStatus>> {
        let node = self.node.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Box::pin(async move {
            let Some((node, started_at)) = node else {
                return Ok(Vec::new());
            };
            let leases = leases::unfinished_leases(&self.pool, &node.id, None).await?;
            Ok(vec![NodeStatus {
                id: node.id,
                name: node.name,
                started_at,
                heartbeat_age: Duration::ZERO,
                alive: true,
                capacity: node.capacity,
                tasks: leases.len() as u64,
                task_ids: leases
                    .into_iter()
                    .take(max_task_ids as usize)
                    .map(|l| l.task)
                    .collect(),
            }])
        })
    }

    /// The one node holds every task.
    fn unowned_tasks(&self) -> StoreFuture<'_, u64> {
        Box::pin(async { Ok(0) })
    }
}

/// One node owns every task (`leases.rs`).
impl LeaseStore for SqliteStore {
    /// Kept in memory for [`ClusterStore::nodes`] (the node is this process), with the wall
    /// clock's time — the only clock a node list of one node can show.
    fn register_node<'a>(&'a self, node: &'a NodeInfo) -> StoreFuture<'a, ()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        *self.node.lock().unwrap_or_else(|e| e.into_inner()) = Some((node.clone(), now));
        Box::pin(std::future::ready(Ok(())))
    }

    /// The first `limit` unfinished tasks (oldest first), at epoch 0, every time.
    fn claim<'a>(
        &'a self,
        node: &'a NodeId,
        limit: u32,
        _terms: LeaseTerms,
    ) -> StoreFuture<'a, Vec<Lease>> {
        Box::pin(leases::unfinished_leases(&self.pool, node, Some(limit)))
    }

    /// Every held lease of a task that has not exited: the one node loses a lease only when
    /// its task exits.
    fn renew<'a>(
        &'a self,
        node: &'a NodeId,
        held: &'a [Lease],
        _terms: LeaseTerms,
    ) -> StoreFuture<'a, Vec<Lease>> {
        Box::pin(async move {
            let unfinished = leases::unfinished_leases(&self.pool, node, None).await?;
            Ok(unfinished
                .into_iter()
                .filter(|l| held.iter().any(|h| h.task == l.task))
                .collect())
        })
    }

    /// Nothing to give to anyone: every lease stays the node's.
    fn release<'a>(&'a self, _leases: &'a [Lease]) -> StoreFuture<'a, u64> {
        Box::pin(std::future::ready(Ok(0)))
    }

    fn update_leased<'a>(
        &'a self,
        task: &'a Task,
        expected_version: u64,
        events: &'a [CallbackEvent],
        lease: &'a Lease,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if lease.task != task.id {
                return Err(StoreError::Invalid(format!(
                    "task {} written under the lease of another task",
                    task.id
                )));
            }
            tasks::update(&self.pool, task, expected_version, events).await
        })
    }

    /// No lease is ever recorded.
    fn lease_of<'a>(&'a self, _id: &'a TaskId) -> StoreFuture<'a, Option<LeaseState>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    fn versions<'a>(&'a self, tasks: &'a [TaskId]) -> StoreFuture<'a, Vec<(TaskId, u64)>> {
        Box::pin(leases::versions(&self.pool, tasks))
    }
}

impl BlockStore for SqliteStore {
    fn put_block<'a>(&'a self, block: &'a Block, limit: u64) -> StoreFuture<'a, PutBlock> {
        Box::pin(blocks::put(&self.pool, block, limit))
    }

    fn remove_blocks<'a>(
        &'a self,
        account: &'a AccountId,
        domain: &'a str,
        app: &'a AppSelector,
        stream: &'a str,
    ) -> StoreFuture<'a, Vec<StreamPath>> {
        Box::pin(blocks::remove(&self.pool, account, domain, app, stream))
    }

    fn list_blocks<'a>(
        &'a self,
        account: &'a AccountId,
        domain: &'a str,
        now: UnixTime,
        page: Page,
    ) -> StoreFuture<'a, BlockList> {
        Box::pin(blocks::list(&self.pool, account, domain, now, page))
    }

    fn search_blocks<'a>(
        &'a self,
        account: &'a AccountId,
        query: &'a BlockQuery,
        now: UnixTime,
        page: Page,
    ) -> StoreFuture<'a, BlockList> {
        Box::pin(blocks::search(&self.pool, account, query, now, page))
    }

    fn active_blocks(&self, now: UnixTime) -> StoreFuture<'_, Vec<Block>> {
        Box::pin(blocks::active(&self.pool, now))
    }

    fn purge_expired_blocks(&self, now: UnixTime) -> StoreFuture<'_, u64> {
        Box::pin(blocks::purge_expired(&self.pool, now))
    }
}

impl GroupStore for SqliteStore {
    fn create_group<'a>(&'a self, group: &'a TaskGroup) -> StoreFuture<'a, CreateGroup> {
        Box::pin(groups::create(&self.pool, group))
    }

    fn update_group_tags<'a>(
        &'a self,
        account: &'a AccountId,
        name: &'a str,
        tags: &'a [Tag],
        now: UnixTime,
    ) -> StoreFuture<'a, bool> {
        Box::pin(groups::update_tags(&self.pool, account, name, tags, now))
    }

    fn delete_group<'a>(
        &'a self,
        account: &'a AccountId,
        name: &'a str,
        now: UnixTime,
    ) -> StoreFuture<'a, DeleteGroup> {
        Box::pin(groups::delete(&self.pool, account, name, now))
    }

    fn get_group<'a>(
        &'a self,
        account: &'a AccountId,
        name: &'a str,
    ) -> StoreFuture<'a, Option<TaskGroup>> {
        Box::pin(groups::get(&self.pool, account, name))
    }

    fn list_groups<'a>(
        &'a self,
        account: &'a AccountId,
        statuses: &'a [GroupStatus],
        page: Page,
    ) -> StoreFuture<'a, GroupList> {
        Box::pin(groups::list(&self.pool, account, statuses, page))
    }
}

impl ReplayStore for SqliteStore {
    fn record<'a>(
        &'a self,
        spent: &'a [ReplayEntry],
        answers: &'a [(ReplayEntry, ReplayAnswer)],
    ) -> StoreFuture<'a, Vec<bool>> {
        Box::pin(replay::record(&self.replay, spent, answers))
    }

    fn answer<'a>(&'a self, entry: &'a ReplayEntry) -> StoreFuture<'a, Option<ReplayAnswer>> {
        Box::pin(replay::answer(&self.replay, entry))
    }

    fn unexpired<'a>(
        &'a self,
        now: UnixTime,
        after: Option<ReplayEntry>,
        limit: u32,
    ) -> StoreFuture<'a, Vec<ReplayEntry>> {
        Box::pin(replay::unexpired(&self.replay, now, after, limit))
    }

    fn purge_replay(&self, now: UnixTime) -> StoreFuture<'_, u64> {
        Box::pin(replay::purge(&self.replay, now))
    }
}

/// A backend failure: the change was not made.
fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(Box::new(e))
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}
