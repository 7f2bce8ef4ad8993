//! Task rows: insert, versioned update and delete, get, list (by page and by key), recovery
//! listing.

use baton_domain::{
    AccountId, CallbackEvent, ListFilter, Page, StoreError, Task, TaskId, TaskList, UnixTime,
};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use crate::codec::{
    bind_event, bind_task, event_columns, task_body_columns, task_body_values, task_columns,
    task_from_row, to_i64,
};
use crate::{backend, is_unique_violation};

const INSERT_TASK: &str = concat!(
    "INSERT INTO tasks (",
    task_columns!(),
    ") VALUES ($1, $2, ",
    task_body_values!(),
    ")"
);

const UPDATE_TASK: &str = concat!(
    "UPDATE tasks SET (",
    task_body_columns!(),
    ") = (",
    task_body_values!(),
    ") WHERE id = $1 AND account = $2 AND version = $40"
);

const INSERT_EVENT: &str = concat!(
    "INSERT INTO outbox (",
    event_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
);

const GET_TASK: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks WHERE id = $1 AND account = $2"
);

/// The filter of [`ListFilter`]: `NULL` parameters match everything; fuzzy ones are
/// `LIKE '%…%' ESCAPE '\'` patterns (SQLite's LIKE is ASCII case-insensitive); a task without
/// a region matches every region; the groups are a JSON array of names (`[]` matches nothing).
macro_rules! list_where {
    () => {
        " FROM tasks WHERE account = $1 \
          AND ($2 IS NULL OR id LIKE $2 ESCAPE '\\') \
          AND ($3 IS NULL OR name LIKE $3 ESCAPE '\\') \
          AND ($4 IS NULL OR dst_url LIKE $4 ESCAPE '\\') \
          AND ($5 IS NULL OR region = $5 OR region = '') \
          AND ($6 IS NULL OR status = $6) \
          AND ($7 IS NULL OR group_name IN (SELECT value FROM json_each($7)))"
    };
}

const LIST_TASKS: &str = concat!(
    "SELECT ",
    task_columns!(),
    list_where!(),
    " ORDER BY created_at DESC, id ASC LIMIT $8 OFFSET $9"
);

const COUNT_TASKS: &str = concat!("SELECT COUNT(*)", list_where!());

/// Keyset paging in list order: strictly after the position ($8 created_at, $9 id), if any.
/// The `tasks_by_account` index (account, created_at DESC, id) serves it.
const LIST_TASKS_AFTER: &str = concat!(
    "SELECT ",
    task_columns!(),
    list_where!(),
    " AND ($8 IS NULL OR created_at < $8 OR (created_at = $8 AND id > $9)) \
     ORDER BY created_at DESC, id ASC LIMIT $10"
);

const UNFINISHED: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks WHERE status <> -1 ORDER BY id"
);

pub(crate) async fn insert(
    pool: &SqlitePool,
    task: &Task,
    events: &[CallbackEvent],
) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    // A deleted task's events outlive it (its log): its ID stays taken until they are purged.
    let logged: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM outbox WHERE task_id = $1)")
            .bind(task.id.0.clone())
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
    if logged {
        return Err(StoreError::Duplicate {
            what: "task",
            id: task.id.0.clone(),
        });
    }
    bind_task(sqlx::query(INSERT_TASK), task)?
        .execute(&mut *tx)
        .await
        .map_err(|e| duplicate_or_backend(e, "task", &task.id.0))?;
    insert_events(&mut tx, events).await?;
    tx.commit().await.map_err(backend)
}

pub(crate) async fn update(
    pool: &SqlitePool,
    task: &Task,
    expected: u64,
    events: &[CallbackEvent],
) -> Result<(), StoreError> {
    if Some(task.version) != expected.checked_add(1) {
        return Err(StoreError::Invalid(format!(
            "task {} written as version {} over version {expected}",
            task.id, task.version
        )));
    }
    let mut tx = begin_write(pool).await?;
    let done = bind_task(sqlx::query(UPDATE_TASK), task)?
        .bind(to_i64(expected, "version")?)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    if done.rows_affected() == 0 {
        return Err(missing_or_conflict(&mut tx, &task.account, &task.id, expected).await);
    }
    insert_events(&mut tx, events).await?;
    tx.commit().await.map_err(backend)
}

pub(crate) async fn delete(
    pool: &SqlitePool,
    account: &AccountId,
    id: &TaskId,
    expected: u64,
    events: &[CallbackEvent],
) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    let done = sqlx::query("DELETE FROM tasks WHERE id = $1 AND account = $2 AND version = $3")
        .bind(id.0.clone())
        .bind(account.0.clone())
        .bind(to_i64(expected, "version")?)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    if done.rows_affected() == 0 {
        return Err(missing_or_conflict(&mut tx, account, id, expected).await);
    }
    insert_events(&mut tx, events).await?;
    tx.commit().await.map_err(backend)
}

pub(crate) async fn get(
    pool: &SqlitePool,
    account: &AccountId,
    id: &TaskId,
) -> Result<Option<Task>, StoreError> {
    let row = sqlx::query(GET_TASK)
        .bind(id.0.clone())
        .bind(account.0.clone())
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.as_ref().map(task_from_row).transpose()
}

/// Binds the parameters of `list_where!` ($1 ... $7).
fn bind_filter(
    q: crate::codec::Query<'static>,
    account: &AccountId,
    filter: &ListFilter,
) -> Result<crate::codec::Query<'static>, StoreError> {
    let groups = filter
        .groups
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Invalid(format!("group names do not encode: {e}")))?;
    Ok(q.bind(account.0.clone())
        .bind(filter.task_id.as_deref().map(contains_pattern))
        .bind(filter.name.as_deref().map(contains_pattern))
        .bind(filter.dst_url.as_deref().map(contains_pattern))
        .bind(filter.region.clone())
        .bind(filter.status.map(|s| s.code()))
        .bind(groups))
}

pub(crate) async fn list(
    pool: &SqlitePool,
    account: &AccountId,
    filter: &ListFilter,
    page: Page,
) -> Result<TaskList, StoreError> {
    let bind = |q| bind_filter(q, account, filter);
    // One read transaction: the page and the total come from the same snapshot.
    let mut tx = pool.begin().await.map_err(backend)?;
    let total: i64 = bind(sqlx::query(COUNT_TASKS))?
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(backend)?;
    let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
    let rows = bind(sqlx::query(LIST_TASKS))?
        .bind(i64::from(page.size))
        .bind(offset)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    let tasks = rows.iter().map(task_from_row).collect::<Result<_, _>>()?;
    Ok(TaskList {
        tasks,
        // COUNT(*) is never negative.
        total: u64::try_from(total).unwrap_or(0),
    })
}

pub(crate) async fn list_after(
    pool: &SqlitePool,
    account: &AccountId,
    filter: &ListFilter,
    after: Option<&(UnixTime, TaskId)>,
    limit: u32,
) -> Result<Vec<Task>, StoreError> {
    let rows = bind_filter(sqlx::query(LIST_TASKS_AFTER), account, filter)?
        .bind(after.map(|(created_at, _)| *created_at))
        .bind(after.map(|(_, id)| id.0.clone()))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    rows.iter().map(task_from_row).collect()
}

pub(crate) async fn unfinished(pool: &SqlitePool) -> Result<Vec<Task>, StoreError> {
    let rows = sqlx::query(UNFINISHED)
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    rows.iter().map(task_from_row).collect()
}

/// A write transaction. `BEGIN IMMEDIATE` takes the write lock up front: a deferred
/// transaction that reads first can fail with `SQLITE_BUSY` on upgrade without waiting for
/// the busy timeout; this one waits its turn.
pub(crate) async fn begin_write(
    pool: &SqlitePool,
) -> Result<Transaction<'static, Sqlite>, StoreError> {
    pool.begin_with("BEGIN IMMEDIATE").await.map_err(backend)
}

async fn insert_events(
    tx: &mut Transaction<'static, Sqlite>,
    events: &[CallbackEvent],
) -> Result<(), StoreError> {
    for event in events {
        bind_event(sqlx::query(INSERT_EVENT), event)?
            .execute(&mut **tx)
            .await
            .map_err(|e| duplicate_or_backend(e, "event", &event.id))?;
    }
    Ok(())
}

/// Why a versioned write touched no row: the task is gone, or at another version.
async fn missing_or_conflict(
    tx: &mut Transaction<'static, Sqlite>,
    account: &AccountId,
    id: &TaskId,
    expected: u64,
) -> StoreError {
    let found =
        sqlx::query_scalar::<_, i64>("SELECT version FROM tasks WHERE id = $1 AND account = $2")
            .bind(id.0.clone())
            .bind(account.0.clone())
            .fetch_optional(&mut **tx)
            .await;
    match found {
        Ok(None) => StoreError::NotFound { id: id.clone() },
        Ok(Some(_)) => StoreError::Conflict {
            id: id.clone(),
            expected,
        },
        Err(e) => backend(e),
    }
}

fn duplicate_or_backend(e: sqlx::Error, what: &'static str, id: &str) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Duplicate {
            what,
            id: id.to_owned(),
        }
    } else {
        backend(e)
    }
}

/// `%needle%` with `\`, `%` and `_` escaped, for `LIKE … ESCAPE '\'`.
pub(crate) fn contains_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for c in needle.chars() {
        if matches!(c, '\\' | '%' | '_') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_wildcards() {
        assert_eq!(contains_pattern("ab"), "%ab%");
        assert_eq!(contains_pattern("1%_\\x"), "%1\\%\\_\\\\x%");
        assert_eq!(contains_pattern(""), "%%");
    }

    #[test]
    fn statements_have_every_placeholder() {
        for n in 1..=40 {
            assert!(UPDATE_TASK.contains(&format!("${n}")), "${n}");
        }
        assert!(!UPDATE_TASK.contains("$41"));
        assert_eq!(task_columns!().split(',').count(), 39);
        assert_eq!(task_body_values!().split(',').count(), 37);
        for n in 1..=9 {
            assert!(LIST_TASKS.contains(&format!("${n}")), "${n}");
        }
        for n in 1..=10 {
            assert!(LIST_TASKS_AFTER.contains(&format!("${n}")), "${n}");
        }
        assert_eq!(event_columns!().split(',').count(), 16);
        assert!(INSERT_EVENT.contains("$16") && !INSERT_EVENT.contains("$17"));
    }
}
