//! Nodes and task leases ([`LeaseStore`](baton_domain::LeaseStore)): claims with
//! `FOR UPDATE SKIP LOCKED`, renewals of the leases a node holds (owner and epoch) in one
//! statement, fenced task
//! writes. Every time is the database's `now()` (the transaction's start), never a node's.
//!
//! Why a claim cannot hand one task to two nodes: the candidate rows are locked
//! (`FOR UPDATE … SKIP LOCKED` on the task row: a claim in progress elsewhere is skipped,
//! not waited for), and the upsert of the lease re-checks claimability in its
//! `ON CONFLICT … DO UPDATE … WHERE`, which PostgreSQL evaluates on the lease row's latest
//! committed version under that row's lock — so a claim whose snapshot predates another
//! node's commit still sees that commit and claims nothing.

use std::time::Duration;

use baton_domain::{
    AccountId, Lease, LeaseState, LeaseTerms, NodeId, NodeInfo, StoreError, Takeover, TaskId,
    lease::fenced,
};
use sqlx::postgres::types::PgInterval;
use sqlx::{PgPool, Postgres, Row, Transaction};

use crate::backend;
use crate::codec::to_i64;

/// A duration as a PostgreSQL interval (microseconds).
fn interval(d: Duration) -> Result<PgInterval, StoreError> {
    let micros = i64::try_from(d.as_micros())
        .map_err(|_| StoreError::Invalid(format!("duration {d:?} is too long")))?;
    Ok(PgInterval {
        months: 0,
        days: 0,
        microseconds: micros,
    })
}

pub(crate) async fn register_node(pool: &PgPool, node: &NodeInfo) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO nodes (id, name, capacity, started_at, heartbeat_at)
         VALUES ($1, $2, $3, now(), now())
         ON CONFLICT (id) DO UPDATE SET (name, capacity, started_at, heartbeat_at) =
             (EXCLUDED.name, EXCLUDED.capacity, EXCLUDED.started_at, EXCLUDED.heartbeat_at)",
    )
    .bind(node.id.as_str())
    .bind(&node.name)
    .bind(i64::from(node.capacity))
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(())
}

/// Whether the lease row `l` may be claimed by `$1` (the claiming node), with `$3` the grace.
/// Used twice: to pick candidates, and again on the latest row version in the upsert.
macro_rules! claimable {
    ($l:literal) => {
        concat!(
            "(",
            $l,
            ".owner IS NULL OR (",
            $l,
            ".owner = $1 AND ",
            $l,
            ".expires_at <= now()) OR ",
            $l,
            ".expires_at <= now() - $3)"
        )
    };
}

const CLAIM: &str = concat!(
    "WITH picked AS (
         SELECT t.id
         FROM tasks t LEFT JOIN task_leases l ON l.task_id = t.id
         WHERE t.status <> -1 AND (l.task_id IS NULL OR ",
    claimable!("l"),
    ")
         ORDER BY (l.owner IS NOT DISTINCT FROM $1) DESC, t.created_at, t.id
         LIMIT $2
         FOR UPDATE OF t SKIP LOCKED
     )
     , claimed AS (
         INSERT INTO task_leases AS cur
             (task_id, owner, epoch, expires_at, claimed_at, last_owner)
         SELECT id, $1, 1, now() + $4, now(), $1 FROM picked
         ON CONFLICT (task_id) DO UPDATE
             SET (owner, epoch, expires_at, claimed_at, last_owner, previous_owner,
                  previous_epoch) =
                 ($1, cur.epoch + 1, EXCLUDED.expires_at, EXCLUDED.claimed_at, $1,
                  cur.last_owner, cur.epoch)
             WHERE ",
    claimable!("cur"),
    "
         RETURNING task_id, epoch
     )
     SELECT c.task_id, c.epoch, t.account FROM claimed c JOIN tasks t ON t.id = c.task_id"
);

pub(crate) async fn claim(
    pool: &PgPool,
    node: &NodeId,
    limit: u32,
    terms: LeaseTerms,
) -> Result<Vec<Lease>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(CLAIM)
        .bind(node.as_str())
        .bind(i64::from(limit))
        .bind(interval(terms.grace)?)
        .bind(interval(terms.lease)?)
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    let mut leases = rows
        .iter()
        .map(|row| lease_from_row(row, node))
        .collect::<Result<Vec<_>, _>>()?;
    leases.sort_by(|a, b| a.task.0.cmp(&b.task.0));
    Ok(leases)
}

pub(crate) async fn renew(
    pool: &PgPool,
    node: &NodeId,
    held: &[Lease],
    terms: LeaseTerms,
) -> Result<Vec<Lease>, StoreError> {
    let mut tasks = Vec::with_capacity(held.len());
    let mut epochs = Vec::with_capacity(held.len());
    for lease in held.iter().filter(|l| l.owner == *node) {
        tasks.push(lease.task.0.as_str());
        epochs.push(to_i64(lease.epoch, "epoch")?);
    }
    let mut tx = pool.begin().await.map_err(backend)?;
    sqlx::query("UPDATE nodes SET heartbeat_at = now() WHERE id = $1")
        .bind(node.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    let rows = sqlx::query(
        "UPDATE task_leases l SET expires_at = now() + $2
         FROM UNNEST($3::text[], $4::bigint[]) AS h (task_id, epoch)
         WHERE l.task_id = h.task_id AND l.epoch = h.epoch
           AND l.owner = $1 AND l.expires_at > now()
         RETURNING l.task_id, l.epoch",
    )
    .bind(node.as_str())
    .bind(interval(terms.lease)?)
    .bind(&tasks)
    .bind(&epochs)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    let mut leases = Vec::with_capacity(rows.len());
    for row in &rows {
        let task: String = row.try_get("task_id").map_err(backend)?;
        let epoch: i64 = row.try_get("epoch").map_err(backend)?;
        // One of `held` (the UPDATE matched its task and epoch).
        if let Some(lease) = held
            .iter()
            .find(|l| l.task.0 == task && i64::try_from(l.epoch) == Ok(epoch))
        {
            leases.push(lease.clone());
        }
    }
    leases.sort_by(|a, b| a.task.0.cmp(&b.task.0));
    Ok(leases)
}

pub(crate) async fn release(pool: &PgPool, leases: &[Lease]) -> Result<u64, StoreError> {
    let mut released = 0;
    let mut tx = pool.begin().await.map_err(backend)?;
    for lease in leases {
        released += sqlx::query(
            "UPDATE task_leases SET owner = NULL, expires_at = now()
             WHERE task_id = $1 AND owner = $2 AND epoch = $3",
        )
        .bind(lease.task.0.as_str())
        .bind(lease.owner.as_str())
        .bind(to_i64(lease.epoch, "epoch")?)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
    }
    tx.commit().await.map_err(backend)?;
    Ok(released)
}

/// Inside a task write's transaction, after the task row's UPDATE (the lock order of a claim):
/// holds `lease`'s row (`FOR SHARE`: a claim of the task that got past the task row waits for
/// this transaction; one that did not skips the task, locked by the UPDATE) or fails with
/// [`StoreError::Fenced`] when it is not the task's lease any more.
pub(crate) async fn hold(
    tx: &mut Transaction<'static, Postgres>,
    lease: &Lease,
) -> Result<(), StoreError> {
    let held = sqlx::query_scalar::<_, i32>(
        "SELECT 1 FROM task_leases WHERE task_id = $1 AND owner = $2 AND epoch = $3 FOR SHARE",
    )
    .bind(lease.task.0.as_str())
    .bind(lease.owner.as_str())
    .bind(to_i64(lease.epoch, "epoch")?)
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?;
    match held {
        Some(_) => Ok(()),
        None => Err(fenced(lease)),
    }
}

pub(crate) async fn lease_of(pool: &PgPool, id: &TaskId) -> Result<Option<LeaseState>, StoreError> {
    let row = sqlx::query(
        "SELECT l.owner, l.epoch, l.expires_at > now() AS live, l.previous_owner,
                l.previous_epoch, n.name AS previous_name
         FROM task_leases l LEFT JOIN nodes n ON n.id = l.previous_owner
         WHERE l.task_id = $1",
    )
    .bind(id.0.as_str())
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let owner: Option<String> = row.try_get("owner").map_err(backend)?;
    let owner = owner
        .map(|o| NodeId::parse(&o))
        .transpose()
        .map_err(|reason| corrupt(&id.0, reason))?;
    let epoch: i64 = row.try_get("epoch").map_err(backend)?;
    let previous_owner: Option<String> = row.try_get("previous_owner").map_err(backend)?;
    let previous_epoch: Option<i64> = row.try_get("previous_epoch").map_err(backend)?;
    let previous = match (previous_owner, previous_epoch) {
        (Some(node), Some(epoch)) => Some(Takeover {
            node,
            name: row.try_get("previous_name").map_err(backend)?,
            epoch: u64::try_from(epoch)
                .map_err(|_| corrupt(&id.0, format!("previous epoch {epoch}")))?,
        }),
        _ => None,
    };
    Ok(Some(LeaseState {
        owner,
        epoch: u64::try_from(epoch).map_err(|_| corrupt(&id.0, format!("epoch {epoch}")))?,
        live: row.try_get("live").map_err(backend)?,
        previous,
    }))
}

pub(crate) async fn versions(
    pool: &PgPool,
    tasks: &[TaskId],
) -> Result<Vec<(TaskId, u64)>, StoreError> {
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = tasks.iter().map(|t| t.0.as_str()).collect();
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT id, version FROM tasks WHERE id = ANY($1::text[])")
            .bind(&ids)
            .fetch_all(pool)
            .await
            .map_err(backend)?;
    rows.into_iter()
        .map(|(id, version)| match u64::try_from(version) {
            Ok(v) => Ok((TaskId(id), v)),
            Err(_) => Err(StoreError::Corrupt {
                what: "task",
                reason: format!("version {version}"),
                id,
            }),
        })
        .collect()
}

fn lease_from_row(row: &sqlx::postgres::PgRow, node: &NodeId) -> Result<Lease, StoreError> {
    let task: String = row.try_get("task_id").map_err(backend)?;
    let epoch: i64 = row.try_get("epoch").map_err(backend)?;
    let account: String = row.try_get("account").map_err(backend)?;
    Ok(Lease {
        epoch: u64::try_from(epoch).map_err(|_| corrupt(&task, format!("epoch {epoch}")))?,
        task: TaskId(task),
        account: AccountId(account),
        owner: node.clone(),
    })
}

fn corrupt(id: &str, reason: String) -> StoreError {
    StoreError::Corrupt {
        what: "lease",
        id: id.to_owned(),
        reason,
    }
}
