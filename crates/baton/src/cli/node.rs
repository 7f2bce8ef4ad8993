//! `baton node list`: the cluster's nodes — their heartbeats and the tasks each holds (a
//! token of the root account; `GET /v1/nodes`).

use clap::Subcommand;
use serde::Deserialize;
use serde_json::Value;

use super::Ctx;
use super::client::{Failure, Request};
use super::model::{list_items, view};
use super::output::{Table, print_json};
use super::time::{self, with_hint};

#[derive(Subcommand, Debug)]
pub enum NodeCommand {
    /// Lists the nodes sharing the database: ID, name (API address), start, heartbeat age,
    /// alive or not, capacity, and the tasks each holds (root account only).
    List,
}

/// One item of `GET /v1/nodes`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Node {
    pub id: String,
    pub name: String,
    pub started_at: String,
    pub heartbeat_age_seconds: f64,
    pub alive: bool,
    pub capacity: u64,
    pub tasks: u64,
    pub task_ids: Vec<String>,
}

/// Task IDs shown in a table cell (the rest counted).
const SHOWN_TASK_IDS: usize = 3;

/// The `baton node list` table.
pub fn node_table(nodes: &[Node], now: i64) -> String {
    let mut table = Table::new(&[
        "ID",
        "NAME",
        "STARTED",
        "HEARTBEAT",
        "ALIVE",
        "CAPACITY",
        "TASKS",
        "TASK IDS",
    ]);
    for n in nodes {
        let mut ids = n
            .task_ids
            .iter()
            .take(SHOWN_TASK_IDS)
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        let more = n
            .tasks
            .saturating_sub(ids.split(' ').filter(|s| !s.is_empty()).count() as u64);
        if more > 0 {
            ids.push_str(&format!(" (+{more})"));
        }
        table.row(vec![
            n.id.clone(),
            n.name.clone(),
            with_hint(&n.started_at, now),
            format!("{:.1}s ago", n.heartbeat_age_seconds),
            if n.alive { "yes" } else { "NO" }.into(),
            n.capacity.to_string(),
            n.tasks.to_string(),
            if ids.is_empty() {
                "-".into()
            } else {
                ids.trim().to_string()
            },
        ]);
    }
    table.render()
}

/// What the table's reader must know about tasks no node holds (nothing when there are none).
fn unowned_line(unowned: u64) -> Option<String> {
    (unowned > 0).then(|| {
        format!(
            "{unowned} task(s) held by no node: waiting for a takeover (a node died seconds ago), \
             or every node is at its capacity ([cluster] capacity, or another node)"
        )
    })
}

pub async fn run(ctx: &Ctx, command: NodeCommand) -> Result<(), Failure> {
    match command {
        NodeCommand::List => {
            let req = Request::get(&["nodes"]);
            let what = req.describe();
            let body = ctx.client.send(&req).await?.into_body(&what)?;
            let items = list_items(&body, &what)?;
            if ctx.json {
                print_json(&Value::Array(items));
            } else if items.is_empty() {
                println!("no nodes");
            } else {
                let nodes = items
                    .iter()
                    .map(|v| view(v, "node"))
                    .collect::<Result<Vec<Node>, _>>()?;
                print!("{}", node_table(&nodes, time::now()));
            }
            if !ctx.json {
                let unowned = body.get("unowned_tasks").and_then(Value::as_u64);
                if let Some(line) = unowned.and_then(unowned_line) {
                    println!("{line}");
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unowned_tasks_are_said_only_when_there_are_some() {
        assert_eq!(unowned_line(0), None);
        assert!(unowned_line(4).is_some_and(|l| l.starts_with("4 task(s) held by no node")));
    }

    #[test]
    fn the_table_shows_heartbeats_and_a_few_task_ids() {
        let nodes = [
            Node {
                id: "5f0c1a9e".into(),
                name: "10.0.0.1:8080".into(),
                started_at: "2026-12-07T20:00:00Z".into(),
                heartbeat_age_seconds: 1.25,
                alive: true,
                capacity: 100,
                tasks: 5,
                task_ids: ["a", "b", "c", "d", "e"].map(String::from).to_vec(),
            },
            Node {
                id: "77aa".into(),
                name: "10.0.0.2:8080".into(),
                started_at: "2026-12-07T19:00:00Z".into(),
                heartbeat_age_seconds: 42.0,
                alive: false,
                capacity: 100,
                tasks: 0,
                task_ids: vec![],
            },
        ];
        let now = 1_796_680_800; // 2026-12-07T21:00:00Z
        let out = node_table(&nodes, now);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        for needle in ["ID", "HEARTBEAT", "ALIVE", "TASK IDS"] {
            assert!(lines[0].contains(needle), "{out}");
        }
        assert!(
            lines[1].contains("1.2s ago") && lines[1].contains("yes"),
            "{out}"
        );
        assert!(lines[1].contains("a b c (+2)"), "{out}");
        assert!(
            lines[2].contains("42.0s ago") && lines[2].contains("NO"),
            "{out}"
        );
        assert!(lines[2].trim_end().ends_with('-'), "{out}");
    }
}
