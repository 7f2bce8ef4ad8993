//! Two nodes on one PostgreSQL database, in process (issue 15 item 4): a forbid through one
//! node's [`StreamControl`] kicks the publisher held by the other's hub once the other reloads
//! its blocks (what a change notice, or the polling fallback, calls). Real time against a real
//! server, short and bounded; skipped (passing) unless `BATON_TEST_POSTGRES` names a server.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_domain::{AccountId, AppSelector, PublishAuth, StreamPath};
use baton_engine::{DomainDirectory, StreamControl, StreamControlConfig, SystemClock};
use baton_net::hub::{HubConfig, StreamHub, StreamKey};
use baton_net::ingest::{Ingest, IngestConfig};
use baton_net::testing::{MemoryNetwork, publish_test_stream};
use baton_store_postgres::PgStore;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tokio_util::sync::CancellationToken;

/// Every domain is `acme`'s; nothing needs a signature.
struct Directory;

impl DomainDirectory for Directory {
    fn owner(&self, _domain: &str) -> Option<AccountId> {
        Some(acme())
    }
    fn publish_auth(&self, _domain: &str) -> Option<PublishAuth> {
        None
    }
}

fn acme() -> AccountId {
    AccountId("acme".into())
}

/// Two stores on a fresh schema, and the schema's name (`None`: no server configured).
async fn two_stores() -> Option<(PgStore, PgStore, PgConnectOptions, String)> {
    let Ok(url) = std::env::var("BATON_TEST_POSTGRES") else {
        eprintln!("skipped: BATON_TEST_POSTGRES is not set");
        return None;
    };
    let base = PgConnectOptions::from_str(&url).expect("BATON_TEST_POSTGRES parses");
    let schema = format!("baton_test_{:016x}", rand::random::<u64>());
    let mut conn = PgConnection::connect_with(&base).await.expect("connect");
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .expect("create schema");
    let options = base.clone().options([("search_path", schema.as_str())]);
    let a = PgStore::connect_with(options.clone()).await.expect("open");
    let b = PgStore::connect_with(options).await.expect("open again");
    Some((a, b, base, schema))
}

async fn drop_schema(base: &PgConnectOptions, schema: &str) {
    let mut conn = PgConnection::connect_with(base).await.expect("connect");
    sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut conn)
        .await
        .expect("drop schema");
}

async fn control(store: &PgStore, hub: &Arc<StreamHub>) -> StreamControl {
    StreamControl::start(
        Arc::new(store.clone()),
        Arc::new(SystemClock),
        Arc::new(Directory),
        Arc::clone(hub),
        StreamControlConfig::default(),
        CancellationToken::new(),
    )
    .await
    .expect("start ingest control")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbid_through_one_node_kicks_a_publisher_on_the_other() {
    let Some((a_store, b_store, base, schema)) = two_stores().await else {
        return;
    };
    let (a_hub, b_hub) = (
        StreamHub::new(HubConfig::default()),
        StreamHub::new(HubConfig::default()),
    );
    let a = control(&a_store, &a_hub).await;
    let b = control(&b_store, &b_hub).await;
    let net = MemoryNetwork::new(Ingest::new(
        IngestConfig::default(),
        Arc::clone(&b_hub),
        Arc::new(b.clone()),
    ));
    let url = "rtmp://live.example/live/s";
    let publisher = tokio::spawn({
        let net = Arc::clone(&net);
        async move { publish_test_stream(&net, url, 30, 0).await }
    });
    let key = StreamKey::new("live.example", "live", "s");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !b_hub.is_publishing(&key) {
        assert!(Instant::now() < deadline, "never published");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let path = StreamPath::new("live.example", "live", "s");
    let started = Instant::now();
    a.forbid(&acme(), path.clone(), None, false)
        .await
        .expect("forbid through A");
    assert_eq!(b.reload_blocks().await.expect("reload on B"), 1);
    tokio::time::timeout(Duration::from_secs(1), publisher)
        .await
        .expect("B's publisher was not disconnected within 1 s")
        .expect("join")
        .ok();
    let took = started.elapsed();
    eprintln!("forbid through A to B's publisher disconnected: {took:?}");
    assert!(took < Duration::from_secs(1));
    let refused = publish_test_stream(&net, url, 1, 0).await;
    assert!(refused.is_err(), "{refused:?}");

    a.resume(
        &acme(),
        "live.example",
        &AppSelector::Named("live".into()),
        "s",
    )
    .await
    .expect("resume through A");
    assert_eq!(b.reload_blocks().await.expect("reload on B"), 0);
    assert!(b.check_publish(&key, None, None).is_ok());

    a_store.close().await;
    b_store.close().await;
    drop_schema(&base, &schema).await;
}

/// Replay protection holds across nodes: the spent-requests table is shared, and a node that
/// does not have an entry in memory asks the database before it runs the request. An Alibaba
/// nonce spent through A is refused through B; a Volcengine request run through A is not run
/// again through B, which answers A's stored answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonces_and_signed_requests_are_spent_once_across_nodes() {
    use std::sync::atomic::{AtomicBool, Ordering};

    use baton_api::common::replay::{nonce_entry, signature_entry};
    use baton_api::{ApiConfig, ApiError, Replay};
    use baton_domain::ReplayAnswer;

    let Some((a_store, b_store, base, schema)) = two_stores().await else {
        return;
    };
    let config = ApiConfig::default();
    let a = Replay::start(Arc::new(a_store.clone()), &config)
        .await
        .expect("replay on A");
    let b = Replay::start(Arc::new(b_store.clone()), &config)
        .await
        .expect("replay on B");
    let now = config.clock.now();

    let nonce = nonce_entry("AKID", "nonce-1", now, 900);
    a.spend(nonce, now).await.expect("first use through A");
    let again = b.spend(nonce, now).await;
    assert!(matches!(again, Err(ApiError::NonceUsed)), "{again:?}");
    // And the other way round, with another nonce.
    let other = nonce_entry("AKID", "nonce-2", now, 900);
    b.spend(other, now).await.expect("first use through B");
    assert!(matches!(
        a.spend(other, now).await,
        Err(ApiError::NonceUsed)
    ));

    let signed = signature_entry("AKID", "signature-1", now, 900);
    let first = a
        .once(signed, now, async {
            ReplayAnswer {
                status: 200,
                body: b"first".to_vec(),
            }
        })
        .await
        .expect("runs through A");
    let ran_again = Arc::new(AtomicBool::new(false));
    let second = b
        .once(signed, now, {
            let ran_again = Arc::clone(&ran_again);
            async move {
                ran_again.store(true, Ordering::SeqCst);
                ReplayAnswer {
                    status: 200,
                    body: b"second".to_vec(),
                }
            }
        })
        .await
        .expect("answered through B");
    assert_eq!(second, first);
    assert!(!ran_again.load(Ordering::SeqCst), "ran twice");

    a_store.close().await;
    b_store.close().await;
    drop_schema(&base, &schema).await;
}
