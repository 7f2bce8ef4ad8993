//! `baton serve --database postgres://…`: tasks live in PostgreSQL (a second data dir on the
//! same database sees them), the password never reaches the logs, and a second node on one
//! database joins the cluster; each node runs its tasks under leases, as the node ID kept in
//! its data dir. Several nodes running and taking over tasks: `tests/cluster.rs`. Skipped (passing, with a line on
//! stderr) unless `BATON_TEST_POSTGRES` names a server (`.ci/run` starts one); each run works in
//! a schema of its own, dropped at the end.

mod support;

use std::path::Path;

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use support::{Serve, Server, TempDir, get, http};

/// The test server's URL with a password added (trust authentication ignores it: it is there
/// to be masked) and the connection's search_path set to `schema`.
fn database_url(base: &str, schema: &str) -> String {
    let with_password = base.replacen("://postgres@", "://postgres:hunter2@", 1);
    let sep = if with_password.contains('?') {
        '&'
    } else {
        '?'
    };
    format!("{with_password}{sep}options=-c%20search_path%3D{schema}")
}

async fn sql(base: &str, statement: String) {
    let mut conn = PgConnection::connect(base).await.expect("connect");
    sqlx::raw_sql(AssertSqlSafe(statement))
        .execute(&mut conn)
        .await
        .expect("statement");
}

fn start(data: &Path, database: &str) -> Server {
    Serve {
        data_dir: Some(data),
        args: &["--database", database],
        ready_line: Some("baton task list\n"),
        ..Serve::default()
    }
    .start()
}

fn token_of(text: &str) -> String {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix("Token "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no token in:\n{text}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_live_in_postgres_and_a_second_node_joins() {
    let base = match std::env::var("BATON_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            eprintln!("skipped: BATON_TEST_POSTGRES is not set");
            return;
        }
    };
    assert!(
        base.contains("://postgres@"),
        "this test expects the trust-authenticated user postgres (as .ci/run sets): {base}"
    );
    let schema = format!("baton_e2e_{:016x}", rand::random::<u64>());
    sql(&base, format!("CREATE SCHEMA {schema}")).await;
    let url = database_url(&base, &schema);

    let dir = TempDir::new("pg");
    let (data_a, data_b, data_c) = (dir.0.join("a"), dir.0.join("b"), dir.0.join("c"));
    let a = start(&data_a, &url);
    let text = a.stderr();
    assert!(
        !text.contains("hunter2"),
        "the password was logged:\n{text}"
    );
    assert!(
        text.contains("postgres:***@") && text.contains("task store: PostgreSQL"),
        "{text}"
    );
    // The data dir keeps the credentials, and no SQLite database.
    assert!(data_a.join("credentials.toml").is_file());
    assert!(!data_a.join("baton.db").exists() && !data_a.join("baton-replay.db").exists());
    let root = token_of(&text);
    let (status, body) = http(
        &a.api,
        "POST",
        "/v1/groups",
        Some(&root),
        r#"{"name":"g1"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let task = r#"{"name":"pg1","group":"g1","source":{"type":"live","urls":["rtmp://127.0.0.1:9/live/in"]},"destination":"rtmp://127.0.0.1:9/live/out","start_time":"2098-01-01T00:00:00Z","end_time":"2099-01-01T00:00:00Z"}"#;
    let (status, body) = http(&a.api, "POST", "/v1/tasks", Some(&root), task);
    assert_eq!(status, 201, "{body}");
    let id = body
        .split("\"id\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the task's id")
        .to_string();

    // The node runs its tasks under leases: registered under the ID kept in its data dir,
    // and the owner of the task's lease (claimed at once, the keeper woken by the creation).
    let node_id = std::fs::read_to_string(data_a.join("node-id")).expect("node-id file");
    let node_id = node_id.trim();
    let mut conn = PgConnection::connect(&base).await.expect("connect");
    let mut owner = None;
    for _ in 0..50 {
        owner = sqlx::query_scalar::<_, Option<String>>(AssertSqlSafe(format!(
            "SELECT owner FROM {schema}.task_leases WHERE task_id = $1"
        )))
        .bind(&id)
        .fetch_optional(&mut conn)
        .await
        .expect("lease")
        .flatten();
        if owner.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        owner.as_deref(),
        Some(node_id),
        "the task's lease is node a's"
    );
    let nodes: Vec<String> =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT id FROM {schema}.nodes")))
            .fetch_all(&mut conn)
            .await
            .expect("nodes");
    assert_eq!(nodes, [node_id]);
    // `/v1/nodes` shows it from the database: alive, holding the task.
    let (status, body) = get(&a.api, "/v1/nodes", Some(&root));
    assert_eq!(status, 200, "{body}");
    let listed: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let listed = &listed["items"];
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(listed[0]["id"], node_id, "{body}");
    assert_eq!(listed[0]["name"], a.api.as_str(), "{body}");
    assert_eq!(listed[0]["alive"], true, "{body}");
    assert_eq!(listed[0]["tasks"], 1, "{body}");
    assert_eq!(listed[0]["task_ids"][0], id.as_str(), "{body}");

    // A second node on the same database joins: registered beside node a, which keeps the
    // task (its lease is live).
    let c = start(&data_c, &url);
    assert!(!c.stderr().contains("hunter2"), "{}", c.stderr());
    let node_c = std::fs::read_to_string(data_c.join("node-id")).expect("node-id file");
    let mut nodes: Vec<String> =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT id FROM {schema}.nodes")))
            .fetch_all(&mut conn)
            .await
            .expect("nodes");
    nodes.sort();
    let mut both = vec![node_id.to_string(), node_c.trim().to_string()];
    both.sort();
    assert_eq!(nodes, both);
    let owner: Option<String> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT owner FROM {schema}.task_leases WHERE task_id = $1"
    )))
    .bind(&id)
    .fetch_one(&mut conn)
    .await
    .expect("lease");
    assert_eq!(owner.as_deref(), Some(node_id), "still node a's");
    c.stop();

    // Node a gone (kill -9), another data dir on the same database serves the same task: it
    // lives in PostgreSQL.
    a.stop();
    let b = start(&data_b, &url);
    let root_b = token_of(&b.stderr());
    let (status, body) = get(&b.api, &format!("/v1/tasks/{id}"), Some(&root_b));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"name\":\"pg1\""), "{body}");
    b.stop();

    sql(&base, format!("DROP SCHEMA {schema} CASCADE")).await;
}
