//! Spent signed requests ([`ReplayStore`]): the `replay` table, in the same database as the
//! tasks (PostgreSQL locks rows, not the database: the API's batches do not queue behind task
//! writes as they would in one SQLite file).
//!
//! A batch is one statement however many entries it has: the entries go in as three arrays
//! bound to `UNNEST`, and `RETURNING` names the rows that were new (an existing identity is
//! `ON CONFLICT DO NOTHING`: a replay — also when another node inserted it concurrently: the
//! insert waits for that transaction and then does nothing).

use std::collections::HashSet;

use baton_domain::{ReplayAnswer, ReplayEntry, StoreError, UnixTime};
use sqlx::{PgPool, Row};

use crate::backend;
use crate::tasks::begin_write;

const RECORD: &str = "INSERT INTO replay (expires_at, key_hash, digest) \
     SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::int8[]) \
     ON CONFLICT DO NOTHING \
     RETURNING expires_at, key_hash, digest";

const SET_ANSWER: &str = "UPDATE replay SET (status, body) = ($4, $5) \
     WHERE expires_at = $1 AND key_hash = $2 AND digest = $3";

const ANSWER: &str = "SELECT status, body FROM replay \
     WHERE expires_at = $1 AND key_hash = $2 AND digest = $3 AND status IS NOT NULL";

/// `$2 IS NULL`: the first page.
const UNEXPIRED: &str = "SELECT expires_at, key_hash, digest FROM replay \
     WHERE expires_at >= $1 AND ($2::int8 IS NULL OR (expires_at, key_hash, digest) > ($2, $3, $4)) \
     ORDER BY expires_at, key_hash, digest LIMIT $5";

pub(crate) async fn record(
    pool: &PgPool,
    spent: &[ReplayEntry],
    answers: &[(ReplayEntry, ReplayAnswer)],
) -> Result<Vec<bool>, StoreError> {
    let mut tx = begin_write(pool).await?;
    let mut recorded = HashSet::new();
    if !spent.is_empty() {
        let expires: Vec<i64> = spent.iter().map(|e| e.expires_at).collect();
        let keys: Vec<i64> = spent.iter().map(|e| to_sql(e.key)).collect();
        let digests: Vec<i64> = spent.iter().map(|e| to_sql(e.digest)).collect();
        let rows = sqlx::query(RECORD)
            .bind(expires)
            .bind(keys)
            .bind(digests)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        for row in &rows {
            recorded.insert(entry_from_row(row)?);
        }
    }
    for (entry, answer) in answers {
        sqlx::query(SET_ANSWER)
            .bind(entry.expires_at)
            .bind(to_sql(entry.key))
            .bind(to_sql(entry.digest))
            .bind(i64::from(answer.status))
            .bind(answer.body.clone())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    tx.commit().await.map_err(backend)?;
    // `remove`: an entry given twice is new only at its first occurrence.
    Ok(spent.iter().map(|e| recorded.remove(e)).collect())
}

pub(crate) async fn answer(
    pool: &PgPool,
    entry: &ReplayEntry,
) -> Result<Option<ReplayAnswer>, StoreError> {
    let row = sqlx::query(ANSWER)
        .bind(entry.expires_at)
        .bind(to_sql(entry.key))
        .bind(to_sql(entry.digest))
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    let Some(row) = row else { return Ok(None) };
    let status: i64 = row.try_get(0).map_err(backend)?;
    let body: Vec<u8> = row.try_get(1).map_err(backend)?;
    let status = u16::try_from(status).map_err(|_| StoreError::Corrupt {
        what: "replay answer",
        id: format!("{entry:?}"),
        reason: format!("status {status} is not an HTTP status"),
    })?;
    Ok(Some(ReplayAnswer { status, body }))
}

pub(crate) async fn unexpired(
    pool: &PgPool,
    now: UnixTime,
    after: Option<ReplayEntry>,
    limit: u32,
) -> Result<Vec<ReplayEntry>, StoreError> {
    let rows = sqlx::query(UNEXPIRED)
        .bind(now)
        .bind(after.map(|a| a.expires_at))
        .bind(after.map(|a| to_sql(a.key)))
        .bind(after.map(|a| to_sql(a.digest)))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    rows.iter().map(entry_from_row).collect()
}

pub(crate) async fn purge(pool: &PgPool, now: UnixTime) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM replay WHERE expires_at < $1")
        .bind(now)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected())
}

/// A u64 digest as a BIGINT that sorts as the u64 does: the top bit flipped.
fn to_sql(v: u64) -> i64 {
    (v ^ (1 << 63)) as i64
}

fn from_sql(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

fn entry_from_row(row: &sqlx::postgres::PgRow) -> Result<ReplayEntry, StoreError> {
    Ok(ReplayEntry {
        expires_at: row.try_get(0).map_err(backend)?,
        key: from_sql(row.try_get(1).map_err(backend)?),
        digest: from_sql(row.try_get(2).map_err(backend)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_form_keeps_the_order() {
        let values = [0, 1, (1 << 63) - 1, 1 << 63, u64::MAX - 1, u64::MAX];
        for w in values.windows(2) {
            assert!(to_sql(w[0]) < to_sql(w[1]), "{w:?}");
        }
        for v in values {
            assert_eq!(from_sql(to_sql(v)), v);
        }
    }
}
