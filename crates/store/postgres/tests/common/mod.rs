//! A PostgreSQL server for the tests, if the machine has one: `BATON_TEST_POSTGRES`, a URL of a
//! database the tests may create schemas in (`.ci/run` starts a throwaway cluster and sets
//! it). Each test works in a schema of its own (`baton_test_<random>`, the connection's
//! `search_path`), so tests run in parallel; a test that passed drops its schema.

#![allow(dead_code)] // Each test file uses a part.

use std::str::FromStr;

use baton_store_postgres::PgStore;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// The variable naming the test server.
pub const VAR: &str = "BATON_TEST_POSTGRES";

/// The test server's options, or `None` (said on stderr: the test is skipped) when unset.
pub fn server() -> Option<PgConnectOptions> {
    match std::env::var(VAR) {
        Ok(url) if !url.is_empty() => {
            Some(PgConnectOptions::from_str(&url).expect("BATON_TEST_POSTGRES parses"))
        }
        _ => {
            eprintln!("skipped: {VAR} is not set (a postgres:// URL of a scratch database)");
            None
        }
    }
}

/// A raw connection to the test server (to look behind the store's back).
pub async fn raw(options: &PgConnectOptions) -> PgConnection {
    PgConnection::connect_with(options)
        .await
        .expect("connect to the test server")
}

/// A new, empty schema and the options whose connections use it.
pub async fn fresh_schema() -> Option<(PgConnectOptions, String)> {
    let base = server()?;
    let schema = format!("baton_test_{:016x}", rand::random::<u64>());
    let mut conn = raw(&base).await;
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .expect("create schema");
    let options = base.options([("search_path", schema.as_str())]);
    Some((options, schema))
}

/// Drops `schema` and everything in it.
pub async fn drop_schema(schema: &str) {
    let base = server().expect("server");
    let mut conn = raw(&base).await;
    sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut conn)
        .await
        .expect("drop schema");
}

/// A store on a fresh schema.
pub async fn fresh() -> Option<PgStore> {
    let (options, _) = fresh_schema().await?;
    Some(PgStore::connect_with(options).await.expect("open store"))
}

/// Closes `store` and drops its schema.
pub async fn done(store: PgStore) {
    let schema = store.schema().await.expect("schema");
    assert!(schema.starts_with("baton_test_"), "{schema}");
    store.close().await;
    drop_schema(&schema).await;
}
