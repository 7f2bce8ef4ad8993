//! The callback outbox: due events, delivery, retries; each task's event log; and purge.

use baton_domain::{AccountId, EventRecord, OutboxEntry, Purged, StoreError, TaskId, UnixTime};
use std::time::Duration;

use sqlx::PgPool;

use crate::backend;
use crate::codec::{entry_from_row, event_columns, record_from_row};
use crate::tasks::begin_write;

/// Served by the `outbox_by_task` index (account, task_id, seq).
const TASK_EVENTS: &str = concat!(
    "SELECT ",
    event_columns!(),
    ", last_error, given_up",
    " FROM outbox WHERE account = $1 AND task_id = $2 AND ($3 IS NULL OR seq < $3) \
     ORDER BY seq DESC LIMIT $4"
);

const DUE_EVENTS: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= $1 \
     ORDER BY next_attempt_at, position LIMIT $2"
);

/// Claims the due events that nobody holds a live claim on. The rows are picked and locked
/// with `FOR UPDATE SKIP LOCKED` (a row another node is claiming right now is skipped, not
/// waited for); PostgreSQL re-checks the `WHERE` on the latest committed version of each
/// locked row, so a claim committed after this statement's snapshot is still seen and the row
/// is not claimed twice. Returned in due order (`RETURNING` has none of its own).
const CLAIM_DUE_EVENTS: &str = concat!(
    "WITH claimed AS (UPDATE outbox SET claimed_until = now() + make_interval(secs => $3) \
     WHERE position IN (SELECT position FROM outbox \
         WHERE delivered_at IS NULL AND next_attempt_at <= $1 \
           AND (claimed_until IS NULL OR claimed_until <= now()) \
         ORDER BY next_attempt_at, position LIMIT $2 FOR UPDATE SKIP LOCKED) \
     RETURNING position, ",
    event_columns!(),
    ") SELECT ",
    event_columns!(),
    " FROM claimed ORDER BY next_attempt_at, position"
);

pub(crate) async fn claim_due_events(
    pool: &PgPool,
    now: UnixTime,
    limit: u32,
    claim: Duration,
) -> Result<Vec<OutboxEntry>, StoreError> {
    let rows = sqlx::query(CLAIM_DUE_EVENTS)
        .bind(now)
        .bind(i64::from(limit))
        .bind(claim.as_secs_f64())
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    rows.iter().map(entry_from_row).collect()
}

pub(crate) async fn due_events(
    pool: &PgPool,
    now: UnixTime,
    limit: u32,
) -> Result<Vec<OutboxEntry>, StoreError> {
    let rows = sqlx::query(DUE_EVENTS)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    rows.iter().map(entry_from_row).collect()
}

/// Counted from the `outbox_due` index (it holds exactly the undelivered rows).
pub(crate) async fn pending_events(pool: &PgPool) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL")
        .fetch_one(pool)
        .await
        .map_err(backend)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) async fn task_events(
    pool: &PgPool,
    account: &AccountId,
    id: &TaskId,
    before_seq: Option<u64>,
    limit: u32,
) -> Result<Vec<EventRecord>, StoreError> {
    // Stored numbers are at most i64::MAX: a larger bound is below none of them, as no bound.
    let before = before_seq.and_then(|b| i64::try_from(b).ok());
    let rows = sqlx::query(TASK_EVENTS)
        .bind(account.0.clone())
        .bind(id.0.clone())
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    rows.iter().map(record_from_row).collect()
}

pub(crate) async fn mark_delivered(
    pool: &PgPool,
    event_id: &str,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET delivered_at = $2, claimed_until = NULL \
         WHERE event_id = $1 AND delivered_at IS NULL",
    )
    .bind(event_id.to_owned())
    .bind(now)
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(())
}

pub(crate) async fn reschedule(
    pool: &PgPool,
    event_id: &str,
    attempts: u32,
    next_attempt_at: UnixTime,
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET attempts = $2, next_attempt_at = $3, last_error = $4, \
         claimed_until = NULL WHERE event_id = $1 AND delivered_at IS NULL",
    )
    .bind(event_id.to_owned())
    .bind(i64::from(attempts))
    .bind(next_attempt_at)
    .bind(error.to_owned())
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(())
}

pub(crate) async fn give_up(
    pool: &PgPool,
    event_id: &str,
    attempts: u32,
    error: &str,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET attempts = $2, last_error = $3, given_up = true, delivered_at = $4, \
         claimed_until = NULL WHERE event_id = $1 AND delivered_at IS NULL",
    )
    .bind(event_id.to_owned())
    .bind(i64::from(attempts))
    .bind(error.to_owned())
    .bind(now)
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(())
}

pub(crate) async fn purge(pool: &PgPool, before: UnixTime) -> Result<Purged, StoreError> {
    let mut tx = begin_write(pool).await?;
    let tasks = sqlx::query("DELETE FROM tasks WHERE status = -1 AND exit_time < $1")
        .bind(before)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
    // The leases of the tasks just purged (a lease row without its task is only clutter).
    sqlx::query(
        "DELETE FROM task_leases l WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = l.task_id)",
    )
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    let events =
        sqlx::query("DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
    tx.commit().await.map_err(backend)?;
    Ok(Purged { tasks, events })
}
