//! The store conformance suite on PostgreSQL, a fresh schema per test. Skipped (passing, with a
//! line on stderr) unless `BATON_TEST_POSTGRES` names a server: see `common/mod.rs`.

mod common;

use baton_store_postgres::PgStore;
use common::{done, fresh, fresh_schema};

baton_store_conformance::conformance_tests!(optional fresh, done);

/// Two stores (two pools, as two nodes would have) on one fresh schema.
async fn fresh_pair() -> Option<(PgStore, PgStore)> {
    let (options, _) = fresh_schema().await?;
    let a = PgStore::connect_with(options.clone())
        .await
        .expect("open store");
    let b = PgStore::connect_with(options)
        .await
        .expect("open the same store again");
    Some((a, b))
}

async fn done_pair((a, b): (PgStore, PgStore)) {
    b.close().await;
    done(a).await;
}

mod replay {
    use super::{done_pair, fresh_pair};
    baton_store_conformance::replay_conformance_tests!(optional fresh_pair, done_pair);
}

mod leases {
    use super::{done_pair, fresh_pair};
    baton_store_conformance::lease_conformance_tests!(optional fresh_pair, done_pair);
}
