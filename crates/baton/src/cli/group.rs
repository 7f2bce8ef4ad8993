//! `baton group …`: task groups.

use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::Ctx;
use super::client::{Failure, Request, list};
use super::model::{Group, view};
use super::output::{Table, escape, key_values, or_dash, print_json};
use super::time::{self, with_hint};

#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// Lists task groups by name.
    List(ListArgs),
    /// Creates a task group.
    Create {
        /// The group's name (1–64 characters).
        name: String,
        /// The project it belongs to [server default: default].
        #[arg(long)]
        project: Option<String>,
        /// A tag; repeat for more.
        #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
        tags: Vec<(String, String)>,
    },
    /// Deletes a group that has no tasks that have not ended.
    Delete {
        /// The group's name.
        name: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    Available,
    Deleted,
    Any,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Which groups [server default: available].
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// Groups per page (1–500) [server default: 50].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500))]
    pub limit: Option<u32>,
    /// Follow the pages to the end of the list (default: the first page).
    #[arg(long)]
    pub all: bool,
}

/// `env=prod` → (`env`, `prod`); the value may be empty or contain `=`.
pub fn parse_tag(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// The `GroupCreate` document.
pub fn create_body(name: &str, project: Option<&str>, tags: &[(String, String)]) -> Value {
    let mut body = Map::new();
    body.insert("name".into(), json!(name));
    if let Some(p) = project {
        body.insert("project".into(), json!(p));
    }
    if !tags.is_empty() {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        body.insert("tags".into(), Value::Array(tags));
    }
    Value::Object(body)
}

fn tags_cell(g: &Group) -> String {
    let tags: Vec<String> = g
        .tags
        .iter()
        .map(|t| format!("{}={}", t.key, t.value))
        .collect();
    or_dash(Some(&tags.join(",")))
}

/// The `baton group list` table.
pub fn group_table(groups: &[Group], now: i64) -> String {
    let mut table = Table::new(&["NAME", "PROJECT", "STATUS", "TAGS", "CREATED"]);
    for g in groups {
        table.row(vec![
            g.name.clone(),
            g.project.clone(),
            g.status.clone(),
            tags_cell(g),
            with_hint(&g.created_at, now),
        ]);
    }
    table.render()
}

pub async fn run(ctx: &Ctx, command: GroupCommand) -> Result<(), Failure> {
    match command {
        GroupCommand::List(a) => {
            let status = a.status.map(|s| match s {
                StatusArg::Available => "available",
                StatusArg::Deleted => "deleted",
                StatusArg::Any => "any",
            });
            let req = Request::get(&["groups"])
                .query("limit", a.limit)
                .query("status", status);
            let (values, rest) = list(&ctx.client, req, a.all).await?;
            if ctx.json {
                print_json(&Value::Array(values));
            } else if values.is_empty() {
                println!("no groups");
            } else {
                let groups = values
                    .iter()
                    .map(|v| view(v, "group"))
                    .collect::<Result<Vec<Group>, _>>()?;
                print!("{}", group_table(&groups, time::now()));
            }
            if rest.is_some() {
                eprintln!("(more groups: --all lists every page)");
            }
            Ok(())
        }
        GroupCommand::Create {
            name,
            project,
            tags,
        } => {
            let req = Request::new(Method::POST, &["groups"]).json(create_body(
                &name,
                project.as_deref(),
                &tags,
            ));
            let what = req.describe();
            let body = ctx.client.send(&req).await?.into_body(&what)?;
            if ctx.json {
                print_json(&body);
            } else {
                let g: Group = view(&body, "group")?;
                let now = time::now();
                println!("created group {}", escape(&g.name));
                print!(
                    "{}",
                    key_values(&[
                        ("Name", g.name.clone()),
                        ("Project", g.project.clone()),
                        ("Status", g.status.clone()),
                        ("Tags", tags_cell(&g)),
                        ("Created", with_hint(&g.created_at, now)),
                    ])
                );
            }
            Ok(())
        }
        GroupCommand::Delete { name } => {
            ctx.client
                .send(&Request::new(Method::DELETE, &["groups", &name]))
                .await?;
            if !ctx.json {
                println!("group {name} deleted");
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        command: GroupCommand,
    }

    #[test]
    fn parses_group_commands() {
        let c = Cli::try_parse_from([
            "group",
            "create",
            "shows",
            "--project",
            "tv",
            "--tag",
            "env=prod",
            "--tag",
            "note=a=b",
            "--tag",
            "empty=",
        ])
        .unwrap();
        let GroupCommand::Create {
            name,
            project,
            tags,
        } = c.command
        else {
            panic!("{:?}", c.command)
        };
        assert_eq!(
            create_body(&name, project.as_deref(), &tags),
            json!({"name": "shows", "project": "tv", "tags": [
                {"key": "env", "value": "prod"},
                {"key": "note", "value": "a=b"},
                {"key": "empty", "value": ""}]})
        );
        assert_eq!(create_body("g", None, &[]), json!({"name": "g"}));
        assert!(Cli::try_parse_from(["group", "create", "g", "--tag", "novalue"]).is_err());
        assert!(Cli::try_parse_from(["group", "create", "g", "--tag", "=v"]).is_err());
        assert!(Cli::try_parse_from(["group", "list", "--status", "any", "--all"]).is_ok());
        assert!(Cli::try_parse_from(["group", "delete"]).is_err());
    }

    #[test]
    fn renders_groups() {
        let g: Group = view(
            &json!({"name": "shows", "project": "tv", "status": "available",
                    "tags": [{"category": "Custom", "key": "env", "value": "prod"}],
                    "created_at": "2026-11-22T19:00:00Z", "updated_at": "2026-11-22T19:00:00Z"}),
            "group",
        )
        .unwrap();
        assert_eq!(
            group_table(&[g], 1_795_374_478),
            "\
NAME   PROJECT  STATUS     TAGS      CREATED
shows  tv       available  env=prod  2026-11-22T19:00:00Z (7m ago)
"
        );
    }
}
