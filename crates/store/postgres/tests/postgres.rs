//! What is specific to the PostgreSQL store: migrations when several nodes start at once (and
//! the advisory lock that serializes them), a newer schema refused, reopening, rows that do not
//! decode, and URLs whose TLS mode is not built or whose password must not leak. The tests that
//! need a server are skipped (passing) without `BATON_TEST_POSTGRES`: see `common/mod.rs`.

mod common;

use std::time::Duration;

use baton_domain::{StoreError, TaskStore};
use baton_store_conformance::{event, full_task, task};
use baton_store_postgres::PgStore;
use common::{done, drop_schema, fresh_schema, raw};
use futures_util::future::join_all;
use sqlx::{AssertSqlSafe, Connection};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_migrate_once() {
    let Some((options, schema)) = fresh_schema().await else {
        return;
    };
    // Six nodes starting at once on one empty schema: without the lock, two would both run
    // CREATE TABLE and one fail.
    let stores = join_all((0..6).map(|_| PgStore::connect_with(options.clone()))).await;
    let stores: Vec<PgStore> = stores
        .into_iter()
        .map(|s| s.expect("every node starts"))
        .collect();
    let mut conn = raw(&options).await;
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .expect("versions");
    assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7, 8]);
    // Every node sees the others' writes.
    let t = task("acct", "t-1", 10);
    stores[0].insert(&t, &[]).await.expect("insert");
    for s in &stores {
        assert_eq!(
            s.get(&t.account, &t.id).await.expect("get"),
            Some(t.clone())
        );
    }
    for s in stores {
        s.close().await;
    }
    drop_schema(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_waits_for_the_migration_lock() {
    let Some((options, schema)) = fresh_schema().await else {
        return;
    };
    // Another node holds the migration lock of this schema (mid-migration).
    let mut holder = raw(&options).await;
    let mut tx = holder.begin().await.expect("begin");
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('baton.migrate'), hashtext($1))")
        .bind(&schema)
        .execute(&mut *tx)
        .await
        .expect("take the lock");
    let start = tokio::spawn(PgStore::connect_with(options.clone()));

    // The start waits on that lock (seen by the server), and has not finished.
    let mut watcher = raw(&options).await;
    let mut waiting = false;
    for _ in 0..200 {
        waiting = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
             WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = 'baton')",
        )
        .fetch_one(&mut watcher)
        .await
        .expect("pg_locks");
        if waiting {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(waiting, "the start never waited for the migration lock");
    assert!(!start.is_finished(), "started while another node migrates");
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(&schema)
    .fetch_one(&mut watcher)
    .await
    .expect("tables");
    assert_eq!(tables, 0, "migrated without the lock");

    // The holder commits: the start goes on and migrates.
    tx.commit().await.expect("release");
    let store = tokio::time::timeout(Duration::from_secs(10), start)
        .await
        .expect("the start finishes once the lock is free")
        .expect("join")
        .expect("start");
    let t = task("acct", "t-1", 10);
    store.insert(&t, &[]).await.expect("insert");
    done(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused() {
    let Some((options, schema)) = fresh_schema().await else {
        return;
    };
    let store = PgStore::connect_with(options.clone()).await.expect("open");
    store.close().await;
    let mut conn = raw(&options).await;
    sqlx::query("INSERT INTO schema_migrations VALUES (99, 'from the future', 0)")
        .execute(&mut conn)
        .await
        .expect("insert");
    let e = PgStore::connect_with(options)
        .await
        .expect_err("a newer schema is refused");
    assert!(
        matches!(&e, StoreError::Invalid(m) if m.contains("schema version 99 is newer")),
        "{e}"
    );
    drop_schema(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_keeps_everything() {
    let Some((options, _)) = fresh_schema().await else {
        return;
    };
    let store = PgStore::connect_with(options.clone()).await.expect("open");
    let t = full_task();
    let e = event(&t, 1, 5);
    store
        .insert(&t, std::slice::from_ref(&e))
        .await
        .expect("insert");
    store.close().await;

    let store = PgStore::connect_with(options).await.expect("reopen");
    assert_eq!(store.get(&t.account, &t.id).await.expect("get"), Some(t));
    let due = store.due_events(5, 10).await.expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].event, e);
    done(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_that_do_not_decode_are_corrupt_not_panics() {
    let Some((options, _)) = fresh_schema().await else {
        return;
    };
    let store = PgStore::connect_with(options.clone()).await.expect("open");
    let mut conn = raw(&options).await;
    for (i, edit) in [
        "UPDATE tasks SET status = 7",
        "UPDATE tasks SET source_urls = '{\"not\": \"an array\"}'",
        "UPDATE tasks SET retry_count = -1",
        "UPDATE tasks SET last_error = '[1, 2]'",
        "UPDATE tasks SET source_type = 'carrier-pigeon'",
    ]
    .into_iter()
    .enumerate()
    {
        let t = task("acct", &format!("t-{i}"), 10);
        store.insert(&t, &[]).await.expect("insert");
        sqlx::raw_sql(AssertSqlSafe(format!("{edit} WHERE id = 't-{i}'")))
            .execute(&mut conn)
            .await
            .expect("edit");
        let e = store
            .get(&t.account, &t.id)
            .await
            .expect_err("a row that does not decode");
        assert!(
            matches!(&e, StoreError::Corrupt { what: "task", id, .. } if *id == t.id.0),
            "{edit}: {e}"
        );
    }
    done(store).await;
}

/// Needs no server: refused before connecting.
#[tokio::test]
async fn tls_modes_are_refused_by_name_without_leaking_the_password() {
    for mode in ["require", "verify-ca", "verify-full"] {
        let url = format!("postgres://baton:hunter2@127.0.0.1:1/baton?sslmode={mode}");
        let e = PgStore::connect(&url)
            .await
            .expect_err("TLS is not built")
            .to_string();
        assert!(e.contains(&format!("sslmode={mode}")), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }
    let e = PgStore::connect("postgres://baton:hunter2@127.0.0.1:notaport/baton")
        .await
        .expect_err("a bad URL")
        .to_string();
    assert!(!e.contains("hunter2"), "{e}");
    assert!(e.contains("postgres://baton:***@"), "{e}");
}

/// Needs no server: nothing listens on port 1. The start fails at once with the reason (not
/// after the pool's timeout with none), and without the password.
#[tokio::test]
async fn an_unreachable_server_fails_at_once_with_its_reason() {
    let started = std::time::Instant::now();
    let e = PgStore::connect("postgres://baton:hunter2@127.0.0.1:1/baton?sslmode=disable")
        .await
        .expect_err("nothing listens there")
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(5), "{e}");
    assert!(e.to_lowercase().contains("refused"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
}
