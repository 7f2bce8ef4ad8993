//! Schema migrations, embedded in the binary (`migrations/NNNN_name.sql`).
//!
//! A small runner rather than `sqlx::migrate!`: that macro pulls the whole `sqlx-macros`
//! compiler plugin into the build for what is a loop over a few files. Each migration runs in
//! one `BEGIN IMMEDIATE` transaction together with its row in `schema_migrations`, so a crash
//! mid-migration leaves the previous schema; a database written by a newer Baton (a version
//! this build does not know) is refused rather than used.

use sqlx::SqlitePool;

use baton_domain::StoreError;

use crate::backend;

/// A list of migrations, in order: (version, name, SQL). Versions are never reused or edited
/// once released; changes are new migrations.
pub(crate) type Migrations = &'static [(i64, &'static str, &'static str)];

/// The task database's (`baton.db`).
pub(crate) const MIGRATIONS: Migrations = &[
    (
        1,
        "tasks and outbox",
        include_str!("../migrations/0001_tasks_and_outbox.sql"),
    ),
    (2, "blocks", include_str!("../migrations/0002_blocks.sql")),
    (
        3,
        "playlists",
        include_str!("../migrations/0003_playlists.sql"),
    ),
    (
        4,
        "task groups",
        include_str!("../migrations/0004_task_groups.sql"),
    ),
    (
        5,
        "event log",
        include_str!("../migrations/0005_event_log.sql"),
    ),
    (
        6,
        "callback auth",
        include_str!("../migrations/0006_callback_auth.sql"),
    ),
    (
        7,
        "delivery errors",
        include_str!("../migrations/0007_delivery_errors.sql"),
    ),
    (
        8,
        "extra destinations",
        include_str!("../migrations/0008_extra_destinations.sql"),
    ),
    (
        9,
        "source failover",
        include_str!("../migrations/0009_source_failover.sql"),
    ),
    (
        10,
        "event detail",
        include_str!("../migrations/0010_event_detail.sql"),
    ),
    (
        11,
        "task slate",
        include_str!("../migrations/0011_task_slate.sql"),
    ),
];

/// Brings the schema of `pool`'s database up to `migrations`.
pub(crate) async fn migrate(pool: &SqlitePool, migrations: Migrations) -> Result<(), StoreError> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER NOT NULL PRIMARY KEY,
             name       TEXT    NOT NULL,
             applied_at INTEGER NOT NULL
         ) STRICT",
    )
    .execute(pool)
    .await
    .map_err(backend)?;

    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(backend)?;
    let current: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
    let current = current.unwrap_or(0);
    let known = migrations.last().map_or(0, |m| m.0);
    if current > known {
        return Err(StoreError::Invalid(format!(
            "the database's schema version {current} is newer than this Baton's ({known})"
        )));
    }
    for &(version, name, sql) in migrations.iter().filter(|m| m.0 > current) {
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at)
             VALUES ($1, $2, CAST(strftime('%s', 'now') AS INTEGER))",
        )
        .bind(version)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    }
    tx.commit().await.map_err(backend)
}
