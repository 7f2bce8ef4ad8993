//! Forbidden streams: put under a per-account quota, remove, list, search, the active set,
//! purge.

use baton_domain::{
    AccountId, AppSelector, Block, BlockList, BlockQuery, Page, PutBlock, StoreError, StreamPath,
    UnixTime,
};
use sqlx::{PgPool, Row};

use crate::backend;
use crate::codec::{block_columns, block_from_row, path_from_row};
use crate::tasks::{begin_write, contains_pattern};

const INSERT_BLOCK: &str = concat!(
    "INSERT INTO blocks (",
    block_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6)"
);

const REPLACE_BLOCK: &str = "UPDATE blocks SET (created_at, resume_at) = ($5, $6) \
     WHERE account = $1 AND domain = $2 AND app = $3 AND stream = $4";

/// A transaction-scoped advisory lock on one account's blocks (two int4 keys: the class
/// `blocks`, the account), released at commit or rollback.
const LOCK_ACCOUNT_BLOCKS: &str =
    "SELECT pg_advisory_xact_lock(hashtext('baton.blocks'), hashtext($1))";

/// An account's blocks active at $2 (the quota).
const COUNT_ACTIVE: &str = "SELECT COUNT(*) FROM blocks WHERE account = $1 AND resume_at > $2";

/// `$3 IS NULL`: every app of the domain.
const REMOVE_BLOCKS: &str = "DELETE FROM blocks \
     WHERE account = $1 AND domain = $2 AND ($3 IS NULL OR app = $3) AND stream = $4 \
     RETURNING domain, app, stream";

macro_rules! list_where {
    () => {
        " FROM blocks WHERE account = $1 AND domain = $2 AND resume_at > $3"
    };
}

const LIST_BLOCKS: &str = concat!(
    "SELECT ",
    block_columns!(),
    list_where!(),
    " ORDER BY app, stream LIMIT $4 OFFSET $5"
);

const COUNT_LISTED: &str = concat!("SELECT COUNT(*)", list_where!());

/// [`BlockQuery`]: `NULL` parameters match everything; $5 is the exact stream, $6 the fuzzy
/// one as a `LIKE '%…%' ESCAPE '\'` pattern (at most one of them is bound).
macro_rules! search_where {
    () => {
        " FROM blocks WHERE account = $1 AND resume_at > $2 \
          AND ($3 IS NULL OR domain = $3) \
          AND ($4 IS NULL OR app = $4) \
          AND ($5 IS NULL OR stream = $5) \
          AND ($6 IS NULL OR stream ILIKE $6 ESCAPE '\\')"
    };
}

const SEARCH_BLOCKS_ASC: &str = concat!(
    "SELECT ",
    block_columns!(),
    search_where!(),
    " ORDER BY resume_at ASC, domain, app, stream LIMIT $7 OFFSET $8"
);

const SEARCH_BLOCKS_DESC: &str = concat!(
    "SELECT ",
    block_columns!(),
    search_where!(),
    " ORDER BY resume_at DESC, domain, app, stream LIMIT $7 OFFSET $8"
);

const COUNT_SEARCHED: &str = concat!("SELECT COUNT(*)", search_where!());

const ACTIVE_BLOCKS: &str = concat!(
    "SELECT ",
    block_columns!(),
    " FROM blocks WHERE resume_at > $1 ORDER BY domain, app, stream, account"
);

pub(crate) async fn put(pool: &PgPool, block: &Block, limit: u64) -> Result<PutBlock, StoreError> {
    let p = &block.path;
    // The account's block lock first, held to commit: puts of one account take turns, so the
    // count and the insert see the same blocks and two puts cannot both take the last free
    // slot (nor both insert one new path: the second finds the first's row and replaces it).
    let mut tx = begin_write(pool).await?;
    sqlx::query(LOCK_ACCOUNT_BLOCKS)
        .bind(block.account.0.clone())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    let replaced = sqlx::query(REPLACE_BLOCK)
        .bind(block.account.0.clone())
        .bind(p.domain.clone())
        .bind(p.app.clone())
        .bind(p.stream.clone())
        .bind(block.created_at)
        .bind(block.resume_at)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
    if replaced > 0 {
        tx.commit().await.map_err(backend)?;
        return Ok(PutBlock::Replaced);
    }
    let active: i64 = sqlx::query_scalar(COUNT_ACTIVE)
        .bind(block.account.0.clone())
        .bind(block.created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
    // COUNT(*) is never negative.
    if u64::try_from(active).unwrap_or(0) >= limit {
        tx.rollback().await.map_err(backend)?;
        return Ok(PutBlock::QuotaExceeded);
    }
    sqlx::query(INSERT_BLOCK)
        .bind(block.account.0.clone())
        .bind(p.domain.clone())
        .bind(p.app.clone())
        .bind(p.stream.clone())
        .bind(block.created_at)
        .bind(block.resume_at)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(PutBlock::Added)
}

pub(crate) async fn remove(
    pool: &PgPool,
    account: &AccountId,
    domain: &str,
    app: &AppSelector,
    stream: &str,
) -> Result<Vec<StreamPath>, StoreError> {
    let app = match app {
        AppSelector::All => None,
        AppSelector::Named(name) => Some(name.clone()),
    };
    let mut tx = begin_write(pool).await?;
    let rows = sqlx::query(REMOVE_BLOCKS)
        .bind(account.0.clone())
        .bind(domain.to_owned())
        .bind(app)
        .bind(stream.to_owned())
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    let mut paths = rows
        .iter()
        .map(path_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    paths.sort();
    Ok(paths)
}

pub(crate) async fn list(
    pool: &PgPool,
    account: &AccountId,
    domain: &str,
    now: UnixTime,
    page: Page,
) -> Result<BlockList, StoreError> {
    // One snapshot (REPEATABLE READ): the page and the total agree.
    let mut tx = crate::tasks::begin_snapshot(pool).await?;
    let total: i64 = sqlx::query_scalar(COUNT_LISTED)
        .bind(account.0.clone())
        .bind(domain.to_owned())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
    let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
    let rows = sqlx::query(LIST_BLOCKS)
        .bind(account.0.clone())
        .bind(domain.to_owned())
        .bind(now)
        .bind(i64::from(page.size))
        .bind(offset)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    let blocks = rows.iter().map(block_from_row).collect::<Result<_, _>>()?;
    Ok(BlockList {
        blocks,
        // COUNT(*) is never negative.
        total: u64::try_from(total).unwrap_or(0),
    })
}

pub(crate) async fn search(
    pool: &PgPool,
    account: &AccountId,
    query: &BlockQuery,
    now: UnixTime,
    page: Page,
) -> Result<BlockList, StoreError> {
    let (exact, fuzzy) = match &query.stream {
        None => (None, None),
        Some(s) if query.fuzzy => (None, Some(contains_pattern(s))),
        Some(s) => (Some(s.clone()), None),
    };
    let bind = |q: crate::codec::Query<'static>| {
        q.bind(account.0.clone())
            .bind(now)
            .bind(query.domain.clone())
            .bind(query.app.clone())
            .bind(exact.clone())
            .bind(fuzzy.clone())
    };
    let sql = if query.newest_end_first {
        SEARCH_BLOCKS_DESC
    } else {
        SEARCH_BLOCKS_ASC
    };
    // One snapshot (REPEATABLE READ): the page and the total agree.
    let mut tx = crate::tasks::begin_snapshot(pool).await?;
    let total: i64 = bind(sqlx::query(COUNT_SEARCHED))
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(backend)?;
    let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
    let rows = bind(sqlx::query(sql))
        .bind(i64::from(page.size))
        .bind(offset)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    let blocks = rows.iter().map(block_from_row).collect::<Result<_, _>>()?;
    Ok(BlockList {
        blocks,
        // COUNT(*) is never negative.
        total: u64::try_from(total).unwrap_or(0),
    })
}

pub(crate) async fn active(pool: &PgPool, now: UnixTime) -> Result<Vec<Block>, StoreError> {
    let rows = sqlx::query(ACTIVE_BLOCKS)
        .bind(now)
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    rows.iter().map(block_from_row).collect()
}

pub(crate) async fn purge_expired(pool: &PgPool, now: UnixTime) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM blocks WHERE resume_at <= $1")
        .bind(now)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected())
}
