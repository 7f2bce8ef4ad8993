//! The PostgreSQL [`TaskStore`], [`BlockStore`], [`GroupStore`] and [`ReplayStore`]: one
//! database shared by the nodes that name it (`baton serve --database postgres://…`).
//!
//! Why PostgreSQL, and why sqlx: operators who outgrow one machine already run PostgreSQL (no
//! home-made consensus); sqlx (0.9, `postgres` feature) is the crate the SQLite store already
//! uses, so both stores share its pool, its runtime integration and nearly all their SQL
//! (`$N` placeholders, row-value `UPDATE … SET (…) = (…)`, `ON CONFLICT`). Queries are checked
//! at run time by the conformance suite, as the SQLite store's are.
//!
//! What differs from SQLite, and why:
//! * Writers do not take turns (no `BEGIN IMMEDIATE`): transactions are READ COMMITTED, and
//!   each read-then-write says how it stays atomic (versioned updates re-check their row; the
//!   block quota takes a per-account advisory lock; a group's deletion locks the group's row).
//!   Lists read their page and total in one REPEATABLE READ snapshot.
//! * The replay table is in the same database (row locks, not one writer per file).
//! * Text columns are `COLLATE "C"` (SQLite's byte order) and fuzzy filters use `ILIKE`
//!   (ASCII case folding under "C", as SQLite's LIKE): lists sort and filter identically.
//!
//! Durability: a write is committed when its future resolves; with PostgreSQL's default
//! `synchronous_commit = on`, that is on the server's disk (and its synchronous standbys').
//! Times are the callers' `now` (the engine's injected clock), exactly as with SQLite.
//!
//! TLS to the server is not built yet: `sslmode=require`, `verify-ca` and `verify-full` are
//! refused by name ([`connect`](PgStore::connect)); `prefer` (the default) connects in plain
//! text, as `disable` does.
//!
//! Task leases ([`LeaseStore`]: nodes, claims, renewals, fenced writes; `leases.rs`) let
//! several `baton serve` nodes share one database, each task pushed by the node holding its
//! lease (docs/design/multi-node.md).

mod blocks;
mod cluster;
mod codec;
mod groups;
mod leases;
mod migrate;
mod notices;
mod outbox;
mod replay;
mod tasks;

pub use notices::{Listening, Notice};

use std::str::FromStr;
use std::time::Duration;

use baton_domain::{
    AccountId, AppSelector, Block, BlockList, BlockQuery, BlockStore, CallbackEvent, ClusterStore,
    CreateGroup, DeleteGroup, EventRecord, GroupList, GroupStatus, GroupStore, Lease, LeaseState,
    LeaseStore, LeaseTerms, ListFilter, NodeId, NodeInfo, NodeStatus, OutboxEntry, Page, Purged,
    PutBlock, ReplayAnswer, ReplayEntry, ReplayStore, StoreError, StoreFuture, StreamPath, Tag,
    Task, TaskGroup, TaskId, TaskList, TaskStore, UnixTime,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{Connection, PgConnection, PgPool};

/// Connections in the pool (PostgreSQL serves them in parallel, readers and writers alike).
pub const MAX_CONNECTIONS: u32 = 8;

/// How long opening the store, or a query waiting for a free connection, waits for the
/// server before failing (an unreachable database fails the start with a clear error rather
/// than hanging it).
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL task, block, group and replay store. Cheap to clone (a pool handle).
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/dbname?…`, the
    /// libpq URL form sqlx reads, `PG*` environment variables filling what it leaves out) and
    /// migrates it. Errors never contain the password.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(|e| {
            StoreError::Invalid(format!(
                "database URL {} does not parse: {}",
                redact_url(url),
                redact_in(&e.to_string(), url)
            ))
        })?;
        PgStore::connect_with(options).await
    }

    /// Connects with `options` and migrates the database. TLS modes that need TLS are refused
    /// by name: TLS to PostgreSQL is not built into Baton yet.
    pub async fn connect_with(options: PgConnectOptions) -> Result<PgStore, StoreError> {
        refuse_unbuilt_tls(options.get_ssl_mode())?;
        let options = options.application_name("baton");
        // One connection first, for the migrations: a server that is down, a refused login or
        // a missing database fails here with PostgreSQL's own reason (the pool would only
        // report its timeout).
        let mut first = connect_first(PgConnection::connect_with(&options)).await?;
        migrate::migrate(&mut first).await?;
        first.close().await.map_err(backend)?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(backend)?;
        Ok(PgStore { pool })
    }

    /// The schema the store's tables are in: the first of the connection's `search_path`
    /// (`public` unless the URL sets `options=-c search_path=…`).
    pub async fn schema(&self) -> Result<String, StoreError> {
        sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }

    /// Closes every connection. Later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The first connection, bounded by [`ACQUIRE_TIMEOUT`] (a server that accepts TCP and never
/// answers must not hang the start).
async fn connect_first(
    connect: impl Future<Output = Result<PgConnection, sqlx::Error>>,
) -> Result<PgConnection, StoreError> {
    match tokio::time::timeout(ACQUIRE_TIMEOUT, connect).await {
        Ok(conn) => conn.map_err(backend),
        Err(_) => Err(StoreError::Backend(
            format!("no answer from the PostgreSQL server in {ACQUIRE_TIMEOUT:?}").into(),
        )),
    }
}

/// Whether `database` names a PostgreSQL database (a `postgres://` or `postgresql://` URL).
pub fn is_postgres_url(database: &str) -> bool {
    let lower = database.get(..13).unwrap_or(database).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// `url` with its password (if any) replaced by `***`, for logs and errors: `postgres://baton:***@db/baton`.
pub fn redact_url(url: &str) -> String {
    // scheme://[user[:password]@]host…: the password is between the first ':' after the
    // scheme's "//" and the last '@' before the path.
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return url.to_owned();
    };
    format!(
        "{}{}:***{}",
        &url[..start],
        &userinfo[..colon],
        &url[start + at..]
    )
}

/// `text` with the password of `url` (as written, and percent-decoded) masked.
fn redact_in(text: &str, url: &str) -> String {
    let redacted = redact_url(url);
    let mut out = text.replace(url, &redacted);
    if let Some(password) = password_of(url).filter(|p| !p.is_empty()) {
        out = out.replace(password, "***");
    }
    out
}

fn password_of(url: &str) -> Option<&str> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    Some(&userinfo[userinfo.find(':')? + 1..])
}

/// TLS to PostgreSQL is not built: a mode that requires it is refused rather than silently
/// downgraded.
fn refuse_unbuilt_tls(mode: PgSslMode) -> Result<(), StoreError> {
    let name = match mode {
        PgSslMode::Disable | PgSslMode::Allow | PgSslMode::Prefer => return Ok(()),
        PgSslMode::Require => "require",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::VerifyFull => "verify-full",
    };
    Err(StoreError::Invalid(format!(
        "sslmode={name}: TLS to PostgreSQL is not built into Baton yet; \
         use sslmode=disable over a trusted network (or a local socket or tunnel)"
    )))
}

impl TaskStore for PgStore {
    fn insert<'a>(&'a self, task: &'a Task, events: &'a [CallbackEvent]) -> StoreFuture<'a, ()> {
        Box::pin(tasks::insert(&self.pool, task, events))
    }

    fn update<'a>(
        &'a self,
        task: &'a Task,
        expected_version: u64,
        events: &'a [CallbackEvent],
    ) -> StoreFuture<'a, ()> {
        Box::pin(tasks::update(
            &self.pool,
            task,
            expected_version,
            events,
            None,
        ))
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
        Box::pin(outbox::claim_due_events(&self.pool, now, limit, claim))
    }

    fn pending_events(&self) -> StoreFuture<'_, u64> {
        Box::pin(outbox::pending_events(&self.pool))
    }

    fn mark_delivered<'a>(&'a self, event_id: &'a str, now: UnixTime) -> StoreFuture<'a, ()> {
        Box::pin(outbox::mark_delivered(&self.pool, event_id, now))
    }

    fn reschedule_event<'a>(
        &'a self,
        event_id: &'a str,
        attempts: u32,
        next_attempt_at: UnixTime,
        error: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(outbox::reschedule(
            &self.pool,
            event_id,
            attempts,
            next_attempt_at,
            error,
        ))
    }

    fn give_up_event<'a>(
        &'a self,
        event_id: &'a str,
        attempts: u32,
        error: &'a str,
        now: UnixTime,
    ) -> StoreFuture<'a, ()> {
        Box::pin(outbox::give_up(&self.pool, event_id, attempts, error, now))
    }

    fn purge(&self, before: UnixTime) -> StoreFuture<'_, Purged> {
        Box::pin(outbox::purge(&self.pool, before))
    }
}

impl ClusterStore for PgStore {
    fn nodes(&self, alive_within: Duration, max_task_ids: u32) -> StoreFuture<'_, Vec<NodeStatus>> {
        Box::pin(cluster::nodes(&self.pool, alive_within, max_task_ids))
    }

    fn unowned_tasks(&self) -> StoreFuture<'_, u64> {
        Box::pin(cluster::unowned_tasks(&self.pool))
    }
}

impl LeaseStore for PgStore {
    fn register_node<'a>(&'a self, node: &'a NodeInfo) -> StoreFuture<'a, ()> {
        Box::pin(leases::register_node(&self.pool, node))
    }

    fn claim<'a>(
        &'a self,
        node: &'a NodeId,
        limit: u32,
        terms: LeaseTerms,
    ) -> StoreFuture<'a, Vec<Lease>> {
        Box::pin(leases::claim(&self.pool, node, limit, terms))
    }

    fn renew<'a>(
        &'a self,
        node: &'a NodeId,
        held: &'a [Lease],
        terms: LeaseTerms,
    ) -> StoreFuture<'a, Vec<Lease>> {
        Box::pin(leases::renew(&self.pool, node, held, terms))
    }

    fn release<'a>(&'a self, leases: &'a [Lease]) -> StoreFuture<'a, u64> {
        Box::pin(leases::release(&self.pool, leases))
    }

    fn update_leased<'a>(
        &'a self,
        task: &'a Task,
        expected_version: u64,
        events: &'a [CallbackEvent],
        lease: &'a Lease,
    ) -> StoreFuture<'a, ()> {
        Box::pin(tasks::update(
            &self.pool,
            task,
            expected_version,
            events,
            Some(lease),
        ))
    }

    fn lease_of<'a>(&'a self, id: &'a TaskId) -> StoreFuture<'a, Option<LeaseState>> {
        Box::pin(leases::lease_of(&self.pool, id))
    }

    fn versions<'a>(&'a self, tasks: &'a [TaskId]) -> StoreFuture<'a, Vec<(TaskId, u64)>> {
        Box::pin(leases::versions(&self.pool, tasks))
    }
}

impl BlockStore for PgStore {
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

    fn announce_kick<'a>(&'a self, path: &'a StreamPath) -> StoreFuture<'a, ()> {
        Box::pin(notices::announce_kick(&self.pool, path))
    }
}

impl GroupStore for PgStore {
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

impl ReplayStore for PgStore {
    fn record<'a>(
        &'a self,
        spent: &'a [ReplayEntry],
        answers: &'a [(ReplayEntry, ReplayAnswer)],
    ) -> StoreFuture<'a, Vec<bool>> {
        Box::pin(replay::record(&self.pool, spent, answers))
    }

    fn answer<'a>(&'a self, entry: &'a ReplayEntry) -> StoreFuture<'a, Option<ReplayAnswer>> {
        Box::pin(replay::answer(&self.pool, entry))
    }

    fn unexpired<'a>(
        &'a self,
        now: UnixTime,
        after: Option<ReplayEntry>,
        limit: u32,
    ) -> StoreFuture<'a, Vec<ReplayEntry>> {
        Box::pin(replay::unexpired(&self.pool, now, after, limit))
    }

    fn purge_replay(&self, now: UnixTime) -> StoreFuture<'_, u64> {
        Box::pin(replay::purge(&self.pool, now))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            redact_url("postgres://baton:s3cr%40t@db.example:5432/baton?sslmode=disable"),
            "postgres://baton:***@db.example:5432/baton?sslmode=disable"
        );
        // An '@' in the password (unescaped) still masks all of it.
        assert_eq!(
            redact_url("postgresql://u:p@ss@h/d"),
            "postgresql://u:***@h/d"
        );
        assert_eq!(redact_url("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact_url("postgres://h:5432/d"), "postgres://h:5432/d");
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(
            redact_in(
                "bad port in postgres://u:hunter2@h:x/d",
                "postgres://u:hunter2@h:x/d"
            ),
            "bad port in postgres://u:***@h:x/d"
        );
    }

    #[test]
    fn postgres_urls_are_recognized() {
        assert!(is_postgres_url("postgres://h/d"));
        assert!(is_postgres_url("PostgreSQL://h/d"));
        assert!(!is_postgres_url("sqlite://x.db"));
        assert!(!is_postgres_url("/var/lib/baton"));
        assert!(!is_postgres_url("postgres"));
    }

    #[test]
    fn tls_modes_that_need_tls_are_refused_by_name() {
        assert!(refuse_unbuilt_tls(PgSslMode::Disable).is_ok());
        assert!(refuse_unbuilt_tls(PgSslMode::Prefer).is_ok());
        for (mode, name) in [
            (PgSslMode::Require, "sslmode=require"),
            (PgSslMode::VerifyCa, "sslmode=verify-ca"),
            (PgSslMode::VerifyFull, "sslmode=verify-full"),
        ] {
            let e = refuse_unbuilt_tls(mode).unwrap_err().to_string();
            assert!(e.contains(name) && e.contains("not built"), "{e}");
        }
    }
}
