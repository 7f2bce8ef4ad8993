//! The nodes sharing the database, for operators ([`ClusterStore`](baton_domain::ClusterStore)):
//! `nodes` and `task_leases`, every time on the database's clock.

use std::time::Duration;

use baton_domain::{NodeId, NodeStatus, StoreError, TaskId};
use sqlx::{PgPool, Row};

use crate::backend;

/// Tasks that have not exited with no live lease (never claimed, released, or expired).
const UNOWNED: &str = "SELECT COUNT(*) FROM tasks t LEFT JOIN task_leases l ON l.task_id = t.id \
     WHERE t.status <> -1 AND (l.owner IS NULL OR l.expires_at <= now())";

pub(crate) async fn unowned_tasks(pool: &PgPool) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar(UNOWNED)
        .fetch_one(pool)
        .await
        .map_err(backend)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// One row per node: its heartbeat's age in seconds (the database's `now()` minus it), and its
/// live leases (counted, and the first IDs) — served by `task_leases_by_owner`.
const NODES: &str = "SELECT n.id, n.name, n.capacity, \
       EXTRACT(EPOCH FROM n.started_at)::BIGINT AS started_at, \
       GREATEST(EXTRACT(EPOCH FROM now() - n.heartbeat_at), 0)::FLOAT8 AS age, \
       (SELECT COUNT(*) FROM task_leases l WHERE l.owner = n.id AND l.expires_at > now()) AS tasks, \
       ARRAY(SELECT l.task_id FROM task_leases l WHERE l.owner = n.id AND l.expires_at > now() \
             ORDER BY l.task_id LIMIT $1) AS task_ids \
     FROM nodes n ORDER BY n.name, n.id";

pub(crate) async fn nodes(
    pool: &PgPool,
    alive_within: Duration,
    max_task_ids: u32,
) -> Result<Vec<NodeStatus>, StoreError> {
    let rows = sqlx::query(NODES)
        .bind(i64::from(max_task_ids))
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("id").map_err(backend)?;
            let corrupt = |reason: String| StoreError::Corrupt {
                what: "node",
                id: id.clone(),
                reason,
            };
            let capacity: i64 = row.try_get("capacity").map_err(backend)?;
            let tasks: i64 = row.try_get("tasks").map_err(backend)?;
            let age: f64 = row.try_get("age").map_err(backend)?;
            let heartbeat_age = Duration::try_from_secs_f64(age)
                .map_err(|_| corrupt(format!("heartbeat age {age}")))?;
            let task_ids: Vec<String> = row.try_get("task_ids").map_err(backend)?;
            Ok(NodeStatus {
                id: NodeId::parse(&id).map_err(corrupt)?,
                name: row.try_get("name").map_err(backend)?,
                started_at: row.try_get("started_at").map_err(backend)?,
                alive: heartbeat_age <= alive_within,
                heartbeat_age,
                capacity: u32::try_from(capacity)
                    .map_err(|_| corrupt(format!("capacity {capacity}")))?,
                tasks: u64::try_from(tasks).unwrap_or(0),
                task_ids: task_ids.into_iter().map(TaskId).collect(),
            })
        })
        .collect()
}
