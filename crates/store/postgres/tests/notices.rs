//! Cross-node notices against a real server: what each trigger sends, only to listeners of the
//! same schema, only at COMMIT, and a broken listening connection re-opened with a
//! [`Notice::Resync`]. Skipped (passing) without `BATON_TEST_POSTGRES`: see `common/mod.rs`.

mod common;

use std::time::Duration;

use baton_domain::{
    AccountId, BlockStore, LeaseStore, LeaseTerms, NodeId, NodeInfo, StreamPath, TaskId, TaskStore,
};
use baton_store_conformance::{block, task};
use baton_store_postgres::{Notice, PgStore};
use common::{done, fresh_schema, raw};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// How long a notice may take to arrive on a loopback server.
const SOON: Duration = Duration::from_secs(5);

async fn listening(
    store: &PgStore,
) -> (baton_store_postgres::Listening, UnboundedReceiver<Notice>) {
    let (tx, rx) = unbounded_channel();
    let l = store
        .listen(move |n| {
            let _ = tx.send(n);
        })
        .await
        .expect("listen");
    (l, rx)
}

async fn next(rx: &mut UnboundedReceiver<Notice>) -> Notice {
    tokio::time::timeout(SOON, rx.recv())
        .await
        .expect("a notice in time")
        .expect("listening")
}

/// Nothing more arrives for a while (what was sent has been received).
async fn quiet(rx: &mut UnboundedReceiver<Notice>) {
    if let Ok(n) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
        panic!("unexpected notice {n:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_another_node_commits_is_heard() {
    let Some((options, _)) = fresh_schema().await else {
        return;
    };
    let a = PgStore::connect_with(options.clone())
        .await
        .expect("node a");
    let b = PgStore::connect_with(options).await.expect("node b");
    let (_listening, mut rx) = listening(&a).await;

    // A task inserted, updated and deleted through the other node.
    let mut t = task("acct", "t-1", 10);
    b.insert(&t, &[]).await.expect("insert");
    assert_eq!(
        next(&mut rx).await,
        Notice::Task(TaskId("t-1".into()), Some(t.version))
    );
    let before = t.version;
    t.version += 1;
    b.update(&t, before, &[]).await.expect("update");
    assert_eq!(
        next(&mut rx).await,
        Notice::Task(TaskId("t-1".into()), Some(t.version))
    );

    // A lease claimed says nothing; released, it is news.
    let node = NodeId::parse("node-b").expect("id");
    b.register_node(&NodeInfo {
        id: node.clone(),
        name: "b:8080".into(),
        capacity: 10,
    })
    .await
    .expect("register");
    let terms = LeaseTerms {
        lease: Duration::from_secs(60),
        grace: Duration::from_secs(1),
    };
    let leases = b.claim(&node, 10, terms).await.expect("claim");
    assert_eq!(leases.len(), 1);
    quiet(&mut rx).await;
    assert_eq!(b.release(&leases).await.expect("release"), 1);
    assert_eq!(next(&mut rx).await, Notice::Released);

    // Blocks: forbid and resume, one notice per statement.
    let acct = AccountId("acct".into());
    b.put_block(
        &block("acct", "d.example", "live", "s", 10, i64::MAX / 2),
        100,
    )
    .await
    .expect("forbid");
    assert_eq!(next(&mut rx).await, Notice::Blocks);
    let removed = b
        .remove_blocks(&acct, "d.example", &baton_domain::AppSelector::All, "s")
        .await
        .expect("resume");
    assert_eq!(removed, [StreamPath::new("d.example", "live", "s")]);
    assert_eq!(next(&mut rx).await, Notice::Blocks);

    b.delete(&t.account, &t.id, t.version, &[])
        .await
        .expect("delete");
    assert_eq!(
        next(&mut rx).await,
        Notice::Task(TaskId("t-1".into()), None)
    );
    quiet(&mut rx).await;
    b.close().await;
    done(a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_schemas_and_rolled_back_writes_say_nothing() {
    let Some((options, _)) = fresh_schema().await else {
        return;
    };
    let Some((other_options, _)) = fresh_schema().await else {
        return;
    };
    let a = PgStore::connect_with(options.clone())
        .await
        .expect("node a");
    let other = PgStore::connect_with(other_options)
        .await
        .expect("other cluster");
    let (_listening, mut rx) = listening(&a).await;

    // Another cluster (schema) on the same database.
    other
        .insert(&task("acct", "t-9", 10), &[])
        .await
        .expect("insert");
    // A write that fails (a stale version) changes nothing and notifies nobody.
    let t = task("acct", "t-1", 10);
    a.insert(&t, &[]).await.expect("insert");
    assert_eq!(
        next(&mut rx).await,
        Notice::Task(TaskId("t-1".into()), Some(t.version))
    );
    let mut stale = t.clone();
    stale.version += 5;
    assert!(a.update(&stale, t.version + 3, &[]).await.is_err());
    quiet(&mut rx).await;
    done(other).await;
    done(a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_listening_connection_comes_back_with_a_resync() {
    let Some((options, _)) = fresh_schema().await else {
        return;
    };
    let a = PgStore::connect_with(options.clone())
        .await
        .expect("node a");
    let (_listening, mut rx) = listening(&a).await;
    let schema = a.schema().await.expect("schema");

    // The server ends the listening session (as a restart or a network cut would).
    let mut admin = raw(&options).await;
    let killed: i64 = sqlx::query_scalar(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE query = $1",
    )
    .bind(format!("LISTEN \"baton:{schema}\""))
    .fetch_one(&mut admin)
    .await
    .expect("terminate");
    assert_eq!(killed, 1, "the one listening connection");
    assert_eq!(next(&mut rx).await, Notice::Resync);
    // And it hears again.
    let t2 = task("acct", "t-2", 10);
    a.insert(&t2, &[]).await.expect("insert");
    assert_eq!(
        next(&mut rx).await,
        Notice::Task(TaskId("t-2".into()), Some(t2.version))
    );
    done(a).await;
}
