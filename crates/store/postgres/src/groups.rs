//! Task groups: create (or revive), replace tags, soft delete guarded by the group's tasks,
//! get, list by status.

use baton_domain::{
    AccountId, CreateGroup, DeleteGroup, GroupList, GroupStatus, Page, StoreError, Tag, TaskGroup,
    UnixTime,
};
use sqlx::{PgPool, Row};

use crate::backend;
use crate::codec::{bind_group, group_columns, group_from_row, tags_to_json};
use crate::tasks::begin_write;

/// A new group, or the revival of a deleted one of the same name: the conflicting row is
/// replaced only when it is deleted (status 1), so an available group makes this a no-op
/// (no row changed → `Exists`). One statement: atomic without a read first.
const CREATE_GROUP: &str = concat!(
    "INSERT INTO task_groups (",
    group_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (account, name) DO UPDATE SET \
       project = excluded.project, tags = excluded.tags, status = excluded.status, \
       created_at = excluded.created_at, updated_at = excluded.updated_at \
     WHERE task_groups.status = 1"
);

const UPDATE_TAGS: &str = "UPDATE task_groups SET tags = $3, updated_at = $4 \
     WHERE account = $1 AND name = $2 AND status = 0";

/// Locks the group's row to commit (`FOR UPDATE`): a concurrent deletion, revival or tag
/// update of the same group waits for this one.
const AVAILABLE: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM task_groups \
     WHERE account = $1 AND name = $2 AND status = 0 FOR UPDATE) AS g";

/// The group's tasks that have not exited (they keep it in use).
const TASKS_IN_GROUP: &str = "SELECT COUNT(*) FROM tasks \
     WHERE account = $1 AND group_name = $2 AND status <> -1";

const MARK_DELETED: &str = "UPDATE task_groups SET status = 1, updated_at = $3 \
     WHERE account = $1 AND name = $2 AND status = 0";

const GET_GROUP: &str = concat!(
    "SELECT ",
    group_columns!(),
    " FROM task_groups WHERE account = $1 AND name = $2"
);

/// `$2` is an array of status codes, `NULL` for every status.
macro_rules! list_where {
    () => {
        " FROM task_groups WHERE account = $1 \
          AND ($2::int8[] IS NULL OR status = ANY($2))"
    };
}

const LIST_GROUPS: &str = concat!(
    "SELECT ",
    group_columns!(),
    list_where!(),
    " ORDER BY name LIMIT $3 OFFSET $4"
);

const COUNT_GROUPS: &str = concat!("SELECT COUNT(*)", list_where!());

pub(crate) async fn create(pool: &PgPool, group: &TaskGroup) -> Result<CreateGroup, StoreError> {
    if group.status != GroupStatus::Available {
        return Err(StoreError::Invalid(format!(
            "group {} created with status {:?}",
            group.name, group.status
        )));
    }
    let mut tx = begin_write(pool).await?;
    let changed = bind_group(sqlx::query(CREATE_GROUP), group)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
    tx.commit().await.map_err(backend)?;
    Ok(if changed == 0 {
        CreateGroup::Exists
    } else {
        CreateGroup::Created
    })
}

pub(crate) async fn update_tags(
    pool: &PgPool,
    account: &AccountId,
    name: &str,
    tags: &[Tag],
    now: UnixTime,
) -> Result<bool, StoreError> {
    let mut tx = begin_write(pool).await?;
    let changed = sqlx::query(UPDATE_TAGS)
        .bind(account.0.clone())
        .bind(name.to_owned())
        .bind(tags_to_json(tags))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
    tx.commit().await.map_err(backend)?;
    Ok(changed > 0)
}

pub(crate) async fn delete(
    pool: &PgPool,
    account: &AccountId,
    name: &str,
    now: UnixTime,
) -> Result<DeleteGroup, StoreError> {
    // The group's row is locked from the check to the deletion (see AVAILABLE).
    let mut tx = begin_write(pool).await?;
    let count = |sql: &'static str| {
        sqlx::query(sql)
            .bind(account.0.clone())
            .bind(name.to_owned())
    };
    let available: i64 = count(AVAILABLE)
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(backend)?;
    if available == 0 {
        tx.rollback().await.map_err(backend)?;
        return Ok(DeleteGroup::NotFound);
    }
    let tasks: i64 = count(TASKS_IN_GROUP)
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(backend)?;
    if tasks > 0 {
        tx.rollback().await.map_err(backend)?;
        return Ok(DeleteGroup::InUse {
            // COUNT(*) is positive here.
            tasks: u64::try_from(tasks).unwrap_or(0),
        });
    }
    count(MARK_DELETED)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(DeleteGroup::Deleted)
}

pub(crate) async fn get(
    pool: &PgPool,
    account: &AccountId,
    name: &str,
) -> Result<Option<TaskGroup>, StoreError> {
    let row = sqlx::query(GET_GROUP)
        .bind(account.0.clone())
        .bind(name.to_owned())
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.as_ref().map(group_from_row).transpose()
}

pub(crate) async fn list(
    pool: &PgPool,
    account: &AccountId,
    statuses: &[GroupStatus],
    page: Page,
) -> Result<GroupList, StoreError> {
    let codes = (!statuses.is_empty()).then(|| {
        statuses
            .iter()
            .map(|s| i64::from(s.code()))
            .collect::<Vec<i64>>()
    });
    let bind = |q: crate::codec::Query<'static>| q.bind(account.0.clone()).bind(codes.clone());
    // One snapshot (REPEATABLE READ): the page and the total agree.
    let mut tx = crate::tasks::begin_snapshot(pool).await?;
    let total: i64 = bind(sqlx::query(COUNT_GROUPS))
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(backend)?;
    let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
    let rows = bind(sqlx::query(LIST_GROUPS))
        .bind(i64::from(page.size))
        .bind(offset)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    let groups = rows.iter().map(group_from_row).collect::<Result<_, _>>()?;
    Ok(GroupList {
        groups,
        // COUNT(*) is never negative.
        total: u64::try_from(total).unwrap_or(0),
    })
}
