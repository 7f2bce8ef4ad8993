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
