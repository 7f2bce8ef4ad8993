//! Schema migrations, embedded in the binary (`migrations/NNNN_name.sql`), safe when several
//! nodes start at once.
//!
//! The SQLite store's small runner (not `sqlx::migrate!`, which pulls the `sqlx-macros`
//! compiler plugin into the build), in one transaction: PostgreSQL's DDL is transactional, so
//! a crash mid-migration leaves the previous schema. The transaction first takes a
//! transaction-scoped advisory lock (`pg_advisory_xact_lock`, keyed by the schema): a second
//! node starting at the same moment waits for the first's commit, then finds the migrations
//! applied and does nothing — rather than both creating the same tables and one failing. The
//! lock goes with the transaction, so a node killed mid-migration cannot leave it held. A
//! database migrated by a newer Baton (a version this build does not know) is refused.

use sqlx::{Connection, PgConnection};

use baton_domain::StoreError;

use crate::backend;

/// The migrations, in order: (version, name, SQL). Versions are never reused or edited once
/// released; changes are new migrations.
pub(crate) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "schema", include_str!("../migrations/0001_schema.sql")),
    (2, "leases", include_str!("../migrations/0002_leases.sql")),
    (
        3,
        "extra destinations",
        include_str!("../migrations/0003_extra_destinations.sql"),
    ),
    (
        4,
        "outbox claims",
        include_str!("../migrations/0004_outbox_claims.sql"),
    ),
    (5, "notices", include_str!("../migrations/0005_notices.sql")),
    (
        6,
        "source failover",
        include_str!("../migrations/0006_source_failover.sql"),
    ),
    (
        7,
        "event detail",
        include_str!("../migrations/0007_event_detail.sql"),
    ),
    (
        8,
        "task slate",
        include_str!("../migrations/0008_task_slate.sql"),
    ),
];

/// The advisory lock that serializes migrations of one schema (two int4 keys: Baton's
/// migration class, the current schema).
const LOCK: &str =
    "SELECT pg_advisory_xact_lock(hashtext('baton.migrate'), hashtext(current_schema()))";

/// Brings the schema of `conn`'s database up to [`MIGRATIONS`].
pub(crate) async fn migrate(conn: &mut PgConnection) -> Result<(), StoreError> {
    let mut tx = conn.begin().await.map_err(backend)?;
    sqlx::query(LOCK).execute(&mut *tx).await.map_err(backend)?;
    // Not `CREATE TABLE IF NOT EXISTS`: that logs a notice at every start.
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('schema_migrations') IS NOT NULL")
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
    if !exists {
        sqlx::raw_sql(
            "CREATE TABLE schema_migrations (
                 version    BIGINT NOT NULL PRIMARY KEY,
                 name       TEXT   NOT NULL,
                 applied_at BIGINT NOT NULL
             )",
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    }
    let current: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
    let current = current.unwrap_or(0);
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > known {
        return Err(StoreError::Invalid(format!(
            "the database's schema version {current} is newer than this Baton's ({known})"
        )));
    }
    for &(version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at)
             VALUES ($1, $2, CAST(extract(epoch FROM now()) AS BIGINT))",
        )
        .bind(version)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    }
    tx.commit().await.map_err(backend)
}
