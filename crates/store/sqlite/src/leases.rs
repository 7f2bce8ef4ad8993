//! The [`LeaseStore`](baton_domain::LeaseStore) of one node alone: SQLite is the embedded,
//! single-node store (one `baton serve` per data dir), so its node owns every task, always, at
//! epoch 0. Nothing is stored: a claim or a renewal lists the unfinished tasks (the caller
//! keeps track of what it already holds), a release gives nothing to anyone, and a write
//! under a lease is the plain versioned write. This keeps one engine code path (and one
//! conformance suite) for both stores without pretending SQLite can be shared.

use baton_domain::{AccountId, Lease, NodeId, StoreError, TaskId};
use sqlx::SqlitePool;

use crate::backend;

/// The first `limit` tasks that have not exited, oldest first, as leases of `node`.
pub(crate) async fn unfinished_leases(
    pool: &SqlitePool,
    node: &NodeId,
    limit: Option<u32>,
) -> Result<Vec<Lease>, StoreError> {
    let limit = limit.map_or(-1, i64::from); // SQLite: a negative LIMIT is no limit
    let ids: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, account FROM tasks WHERE status <> -1 ORDER BY created_at, id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let mut leases: Vec<Lease> = ids
        .into_iter()
        .map(|(id, account)| Lease {
            task: TaskId(id),
            account: AccountId(account),
            owner: node.clone(),
            epoch: 0,
        })
        .collect();
    leases.sort_by(|a, b| a.task.0.cmp(&b.task.0));
    Ok(leases)
}

/// The version of each of `tasks` that still exists (one statement: the IDs as a JSON array).
pub(crate) async fn versions(
    pool: &SqlitePool,
    tasks: &[TaskId],
) -> Result<Vec<(TaskId, u64)>, StoreError> {
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(&tasks.iter().map(|t| t.0.as_str()).collect::<Vec<_>>())
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT id, version FROM tasks WHERE id IN (SELECT value FROM json_each($1))",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, v)| Some((TaskId(id), u64::try_from(v).ok()?)))
        .collect())
}
