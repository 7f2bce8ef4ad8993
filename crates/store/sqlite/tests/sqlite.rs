//! What is specific to the SQLite store: the file, its settings, migrations, crash durability,
//! and rows that do not decode.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use baton_domain::{
    AccountId, BlockStore, CreateGroup, DEFAULT_GROUP, DeleteGroup, ErrorSide, GroupStatus,
    GroupStore, LastError, Page, PutBlock, StoreError, Tag, TaskId, TaskStore,
};
use baton_store_conformance::{block, event, full_task, group, task};
use baton_store_sqlite::{FILE_NAME, SqliteStore};
use sqlx::{Connection, SqliteConnection};

fn fresh_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "sqlite-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

/// A second, raw connection to the store's file (to look behind the store's back).
async fn raw(dir: &Path) -> SqliteConnection {
    let url = format!("sqlite://{}", dir.join(FILE_NAME).display());
    SqliteConnection::connect(&url)
        .await
        .expect("raw connection")
}

#[tokio::test]
async fn reopening_keeps_everything_and_migrations_run_once() {
    let dir = fresh_dir("reopen");
    let store = SqliteStore::open(&dir).await.expect("open");
    let t = full_task();
    let e = event(&t, 1, 5);
    store
        .insert(&t, std::slice::from_ref(&e))
        .await
        .expect("insert");
    store.close().await;

    let store = SqliteStore::open(&dir).await.expect("reopen");
    assert_eq!(store.get(&t.account, &t.id).await.expect("get"), Some(t));
    let due = store.due_events(5, 10).await.expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].event, e);

    let mut conn = raw(&dir).await;
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(&mut conn)
        .await
        .expect("versions");
    assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .expect("journal mode");
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn blocks_survive_reopening() {
    let dir = fresh_dir("reopen-blocks");
    let store = SqliteStore::open(&dir).await.expect("open");
    let blocks = [
        block("acc", "a.example", "live", "s", i64::MIN, i64::MAX),
        block("acc", "b.example", "live", "s", 10, 20),
        block("other", "b.example", "直播", "流", 10, 30),
    ];
    for b in &blocks {
        assert_eq!(store.put_block(b, 10).await.expect("put"), PutBlock::Added);
    }
    store.close().await;

    let store = SqliteStore::open(&dir).await.expect("reopen");
    assert_eq!(store.active_blocks(i64::MIN).await.expect("active"), blocks);
    // The quota still sees them: `acc` has 2 active blocks at 15.
    assert_eq!(
        store
            .put_block(&block("acc", "c.example", "live", "s", 15, 50), 2)
            .await
            .expect("put"),
        PutBlock::QuotaExceeded
    );
}

/// A database of the first schema (tasks only) gains the blocks table, the playlist columns,
/// the task groups and the event log's index and last error at open, its tasks kept — in the
/// default group, without a last error — and its events listed in their task's log.
#[tokio::test]
async fn a_schema_1_database_is_migrated() {
    let dir = fresh_dir("upgrade");
    let store = SqliteStore::open(&dir).await.expect("open");
    let t = task("acc", "kept", 1);
    store.insert(&t, &[]).await.expect("insert");
    let mut grouped = task("acc", "grouped", 2);
    grouped.spec.group = "custom".into();
    grouped.spec.extra_dst_urls = vec!["rtmp://x.example/live/b".into()];
    grouped.spec.failover.after = Some(3);
    grouped.spec.slate = baton_domain::TaskSlate::Off;
    grouped.runtime.last_error = Some(LastError {
        side: ErrorSide::Source,
        code: "Timeout".into(),
        message: "source: no data".into(),
        at: 3,
    });
    let e = event(&grouped, 1, 2);
    store
        .insert(&grouped, std::slice::from_ref(&e))
        .await
        .expect("insert");
    store.close().await;
    // Back to schema 1, as an older Baton left it.
    let mut conn = raw(&dir).await;
    sqlx::raw_sql(
        "DROP TABLE blocks; ALTER TABLE tasks DROP COLUMN current_loop; \
         ALTER TABLE outbox DROP COLUMN item; DROP TABLE task_groups; \
         DROP INDEX tasks_by_group; ALTER TABLE tasks DROP COLUMN group_name; \
         DROP INDEX outbox_by_task; ALTER TABLE tasks DROP COLUMN last_error; \
         ALTER TABLE outbox DROP COLUMN auth_key; \
         ALTER TABLE outbox DROP COLUMN last_error; ALTER TABLE outbox DROP COLUMN given_up; \
         ALTER TABLE tasks DROP COLUMN extra_dst_urls; \
         ALTER TABLE tasks DROP COLUMN failover_after; \
         ALTER TABLE tasks DROP COLUMN failback_after; \
         ALTER TABLE outbox DROP COLUMN detail; \
         ALTER TABLE tasks DROP COLUMN slate; \
         DELETE FROM schema_migrations WHERE version >= 2",
    )
    .execute(&mut conn)
    .await
    .expect("downgrade");
    conn.close().await.expect("close");

    let store = SqliteStore::open(&dir).await.expect("reopen");
    assert_eq!(store.get(&t.account, &t.id).await.expect("get"), Some(t));
    grouped.spec.group = DEFAULT_GROUP.into();
    grouped.spec.extra_dst_urls = Vec::new();
    grouped.spec.failover = Default::default();
    grouped.spec.slate = Default::default();
    grouped.runtime.last_error = None;
    assert_eq!(
        store.get(&grouped.account, &grouped.id).await.expect("get"),
        Some(grouped.clone()),
        "a task older than groups is in the default group, with one destination"
    );
    let log = store
        .task_events(&grouped.account, &grouped.id, None, 10)
        .await
        .expect("task events");
    assert_eq!(
        log.into_iter().map(|r| r.event).collect::<Vec<_>>(),
        [e],
        "events older than the log are in it"
    );
    let b = block("acc", "d", "live", "s", 1, 2);
    assert_eq!(store.put_block(&b, 1).await.expect("put"), PutBlock::Added);
    assert_eq!(store.active_blocks(1).await.expect("active"), [b]);
    let g = group("acc", "g", 1);
    assert_eq!(
        store.create_group(&g).await.expect("create"),
        CreateGroup::Created
    );
    assert_eq!(
        store.get_group(&g.account, "g").await.expect("get"),
        Some(g)
    );
}

/// Groups are in the same file: they survive reopening, deleted ones too.
#[tokio::test]
async fn groups_survive_reopening() {
    let dir = fresh_dir("reopen-groups");
    let store = SqliteStore::open(&dir).await.expect("open");
    let mut kept = group("acc", "kept", 1);
    kept.tags = vec![Tag {
        category: "Custom".into(),
        key: "k".into(),
        value: "v".into(),
    }];
    let gone = group("acc", "gone", 2);
    for g in [&kept, &gone] {
        assert_eq!(
            store.create_group(g).await.expect("create"),
            CreateGroup::Created
        );
    }
    assert_eq!(
        store
            .delete_group(&gone.account, &gone.name, 3)
            .await
            .expect("delete"),
        DeleteGroup::Deleted
    );
    store.close().await;

    let store = SqliteStore::open(&dir).await.expect("reopen");
    let listed = store
        .list_groups(
            &kept.account,
            &[],
            Page {
                number: 1,
                size: 10,
            },
        )
        .await
        .expect("list");
    let mut gone_now = gone;
    gone_now.status = GroupStatus::Deleted;
    gone_now.updated_at = 3;
    assert_eq!(listed.groups, [gone_now, kept]);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = fresh_dir("newer");
    SqliteStore::open(&dir).await.expect("open").close().await;
    let mut conn = raw(&dir).await;
    sqlx::query("INSERT INTO schema_migrations VALUES (999, 'from the future', 0)")
        .execute(&mut conn)
        .await
        .expect("insert");
    conn.close().await.expect("close");
    let r = SqliteStore::open(&dir).await;
    assert!(
        matches!(r, Err(StoreError::Invalid(ref m)) if m.contains("999")),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_missing_directory_is_an_error() {
    let dir = fresh_dir("missing").join("not-there");
    let r = SqliteStore::open(&dir).await;
    assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
}

#[tokio::test]
async fn counters_beyond_i64_are_refused_not_wrapped() {
    let dir = fresh_dir("big");
    let store = SqliteStore::open(&dir).await.expect("open");
    let mut t = task("acc", "big", 1);
    t.version = u64::MAX;
    let r = store.insert(&t, &[]).await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    t.version = 1;
    t.runtime.run = i64::MAX as u64 + 1;
    let r = store.insert(&t, &[]).await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    let mut e = event(&t, 1, 1);
    e.seq = u64::MAX;
    t.runtime.run = 0;
    let r = store.insert(&t, &[e]).await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    assert_eq!(
        store.get(&t.account, &t.id).await.expect("get"),
        None,
        "nothing written"
    );
}

#[tokio::test]
async fn rows_that_do_not_decode_are_corrupt_errors() {
    let dir = fresh_dir("corrupt");
    let store = SqliteStore::open(&dir).await.expect("open");
    let t = task("acc", "c", 1);
    store.insert(&t, &[event(&t, 1, 1)]).await.expect("insert");
    let mut conn = raw(&dir).await;
    let edits = [
        ("UPDATE tasks SET status = 7", "status"),
        ("UPDATE tasks SET source_type = 'tape'", "source_type"),
        (
            "UPDATE tasks SET source_protocol = 'carrier-pigeon'",
            "source_protocol",
        ),
        ("UPDATE tasks SET source_urls = 'not json'", "source_urls"),
        ("UPDATE tasks SET source_urls = '[1, 2]'", "source_urls"),
        ("UPDATE tasks SET retries = -1", "retries"),
        ("UPDATE tasks SET version = -5", "version"),
        (
            "UPDATE tasks SET invalid_reason = 'Gremlins'",
            "invalid_reason",
        ),
        ("UPDATE tasks SET file_index = 4294967296", "file_index"),
        ("UPDATE tasks SET last_error = 'not json'", "last_error"),
        ("UPDATE tasks SET last_error = '[]'", "last_error"),
        (
            "UPDATE tasks SET last_error = '{\"side\": \"left\", \"code\": \"C\", \"message\": \"m\", \"at\": 1}'",
            "last_error",
        ),
        (
            "UPDATE tasks SET last_error = '{\"side\": \"source\", \"code\": \"C\", \"at\": 1}'",
            "last_error",
        ),
        (
            "UPDATE tasks SET last_error = '{\"side\": \"source\", \"code\": \"C\", \"message\": \"m\", \"at\": \"now\"}'",
            "last_error",
        ),
    ];
    for (sql, column) in edits {
        let mut tx = conn.begin().await.expect("begin");
        sqlx::raw_sql(sql).execute(&mut *tx).await.expect(sql);
        tx.commit().await.expect("commit");
        let r = store.get(&t.account, &t.id).await;
        match r {
            Err(StoreError::Corrupt { id, reason, .. }) => {
                assert_eq!(id, "c");
                assert!(reason.contains(column), "{sql}: {reason}");
            }
            other => panic!("{sql}: {other:?}"),
        }
        assert!(store.unfinished().await.is_err(), "{sql}");
        // Put the row back (its event too: the ID is taken while its events are stored).
        sqlx::raw_sql("DELETE FROM tasks; DELETE FROM outbox")
            .execute(&mut conn)
            .await
            .expect("delete");
        let fresh = task("acc", "c", 1);
        store
            .insert(&fresh, &[event(&fresh, 1, 1)])
            .await
            .expect("reinsert");
    }
    store
        .create_group(&group("acc", "g", 1))
        .await
        .expect("create group");
    let account = AccountId("acc".into());
    let group_edits = [
        ("UPDATE task_groups SET status = 7", "status"),
        ("UPDATE task_groups SET tags = 'not json'", "tags"),
        ("UPDATE task_groups SET tags = '{}'", "tags"),
        ("UPDATE task_groups SET tags = '[{\"key\": \"k\"}]'", "tags"),
        (
            "UPDATE task_groups SET tags = '[{\"category\": \"Custom\", \"key\": 1, \"value\": \"v\"}]'",
            "tags",
        ),
    ];
    for (sql, column) in group_edits {
        sqlx::query("UPDATE task_groups SET status = 0, tags = '[]'")
            .execute(&mut conn)
            .await
            .expect("restore");
        assert!(store.get_group(&account, "g").await.expect("get").is_some());
        sqlx::raw_sql(sql).execute(&mut conn).await.expect(sql);
        match store.get_group(&account, "g").await {
            Err(StoreError::Corrupt { what, id, reason }) => {
                assert_eq!((what, id.as_str()), ("group", "g"));
                assert!(reason.contains(column), "{sql}: {reason}");
            }
            other => panic!("{sql}: {other:?}"),
        }
        let page = Page {
            number: 1,
            size: 10,
        };
        assert!(
            store.list_groups(&account, &[], page).await.is_err(),
            "{sql}"
        );
    }
    sqlx::query("UPDATE outbox SET state = 'Idle'")
        .execute(&mut conn)
        .await
        .expect("edit");
    let r = store.due_events(10, 10).await;
    assert!(
        matches!(r, Err(StoreError::Corrupt { what: "event", .. })),
        "{r:?}"
    );
    let r = store.task_events(&account, &t.id, None, 10).await;
    assert!(
        matches!(r, Err(StoreError::Corrupt { what: "event", .. })),
        "{r:?}"
    );
    sqlx::query("UPDATE outbox SET state = 'Running', attempts = -1")
        .execute(&mut conn)
        .await
        .expect("edit");
    let r = store.task_events(&account, &t.id, None, 10).await;
    assert!(
        matches!(r, Err(StoreError::Corrupt { what: "event", ref reason, .. }) if reason.contains("attempts")),
        "{r:?}"
    );
}

/// Child half of [`an_acknowledged_write_survives_kill_9`]: inserts tasks forever, printing
/// `acked <n>` after each insert's future resolved.
#[test]
#[ignore = "run by an_acknowledged_write_survives_kill_9 as a child process"]
fn kill_9_child() {
    let Ok(dir) = std::env::var("BATON_KILL9_DIR") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = SqliteStore::open(Path::new(&dir)).await.expect("open");
        for n in 0.. {
            let t = task("acc", &format!("k-{n}"), n);
            store.insert(&t, &[event(&t, 1, n)]).await.expect("insert");
            println!("acked {n}");
        }
    });
}

/// A change is committed before it is acknowledged: every insert the child reported done is
/// there after the child is killed with SIGKILL mid-stream.
#[test]
fn an_acknowledged_write_survives_kill_9() {
    let dir = fresh_dir("kill9");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "kill_9_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BATON_KILL9_DIR", &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut acked = Vec::new();
    while acked.len() < 25 {
        let line = lines.next().expect("child output").expect("utf-8");
        if let Some(n) = line.strip_prefix("acked ") {
            acked.push(n.parse::<i64>().expect("number"));
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    // Lines already written before the kill are acknowledgements too.
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("acked ") {
            acked.push(n.parse::<i64>().expect("number"));
        }
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = SqliteStore::open(&dir).await.expect("reopen after kill");
        let account = AccountId("acc".into());
        for n in &acked {
            let id = TaskId(format!("k-{n}"));
            assert!(
                store.get(&account, &id).await.expect("get").is_some(),
                "acknowledged task {id} lost"
            );
        }
        let due = store.due_events(i64::MAX, u32::MAX).await.expect("due");
        assert!(due.len() >= acked.len(), "acknowledged events lost");
    });
}

/// Claims of due events live in the process (one node has the file to itself): they end at the
/// caller's `now` plus the claim, and with the process — a reopened store delivers at once what
/// the previous process had claimed when it died.
#[tokio::test]
async fn claims_expire_on_the_callers_clock_and_with_the_process() {
    let dir = fresh_dir("claims");
    let store = SqliteStore::open(&dir).await.expect("open");
    let t = task("acc", "t", 1);
    store.insert(&t, &[event(&t, 1, 10)]).await.expect("insert");
    let claim = std::time::Duration::from_secs(30);
    let ids = |v: Vec<baton_domain::OutboxEntry>| -> Vec<String> {
        v.into_iter().map(|e| e.event.id).collect()
    };
    assert_eq!(
        ids(store.claim_due_events(20, 10, claim).await.unwrap()),
        ["t.1"]
    );
    assert!(
        store
            .claim_due_events(49, 10, claim)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(store.claim_due_events(50, 10, claim).await.unwrap()),
        ["t.1"]
    );
    store.close().await;
    let store = SqliteStore::open(&dir).await.expect("reopen");
    assert_eq!(
        ids(store.claim_due_events(51, 10, claim).await.unwrap()),
        ["t.1"]
    );
}
