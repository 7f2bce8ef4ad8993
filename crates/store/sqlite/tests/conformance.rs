//! The store conformance suite, on a fresh SQLite database per test.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use baton_store_sqlite::SqliteStore;

/// A new empty directory under Cargo's per-target test scratch space.
fn fresh_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "conformance-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

async fn fresh() -> SqliteStore {
    SqliteStore::open(&fresh_dir()).await.expect("open store")
}

baton_store_conformance::conformance_tests!(fresh);

/// Two stores (two pools, as two processes would have) on one fresh data dir.
async fn fresh_pair() -> (SqliteStore, SqliteStore) {
    let dir = fresh_dir();
    let a = SqliteStore::open(&dir).await.expect("open store");
    let b = SqliteStore::open(&dir)
        .await
        .expect("open the same store again");
    (a, b)
}

mod replay {
    use super::fresh_pair;
    baton_store_conformance::replay_conformance_tests!(fresh_pair);
}
