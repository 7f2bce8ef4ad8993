//! The commands that talk to a running server's native REST API (`/v1`): `baton task …`,
//! `baton stream …`, `baton group …`, `baton node list`, `baton whoami`, and `baton ui` (the dashboard's sign-in
//! link).
//!
//! Endpoint and token: `--endpoint` / `--token`, else `BATON_ENDPOINT` / `BATON_TOKEN`, else
//! the config file (`$BATON_CLI_CONFIG`, else `~/.config/baton/cli.toml`: `endpoint = "..."`,
//! `token = "..."`); the endpoint defaults to `http://127.0.0.1:8080`. Output: tables and
//! key-value views, or the API's JSON with `--json` (lists: one array of the items of every
//! page fetched; nothing for answers without a body). Exit codes: 0 ok; 1 an API error
//! (`error: <detail> (<code>)` on stderr) or a usage error; 2 the server cannot be reached.

pub mod client;
pub mod config;
pub mod group;
pub mod model;
pub mod node;
pub mod output;
pub mod stream;
pub mod task;
pub mod time;
pub mod ui;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Args;

use client::{Client, Failure, Request};
use config::{ConfigPath, missing_token, resolve};
use output::{key_values, print_json};

/// Options of every API command.
#[derive(Args, Debug, Clone, Default)]
pub struct ApiOpts {
    /// The Baton API [env: BATON_ENDPOINT; config file: endpoint; default:
    /// http://127.0.0.1:8080].
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// API token [env: BATON_TOKEN; config file: token].
    #[arg(long, global = true, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Print the API's JSON (lists: one array) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct TaskArgs {
    #[command(flatten)]
    pub api: ApiOpts,
    #[command(subcommand)]
    pub command: task::TaskCommand,
}

#[derive(Args, Debug)]
pub struct StreamArgs {
    #[command(flatten)]
    pub api: ApiOpts,
    #[command(subcommand)]
    pub command: stream::StreamCommand,
}

#[derive(Args, Debug)]
pub struct GroupArgs {
    #[command(flatten)]
    pub api: ApiOpts,
    #[command(subcommand)]
    pub command: group::GroupCommand,
}

#[derive(Args, Debug)]
pub struct NodeArgs {
    #[command(flatten)]
    pub api: ApiOpts,
    #[command(subcommand)]
    pub command: node::NodeCommand,
}

#[derive(Args, Debug)]
pub struct WhoamiArgs {
    #[command(flatten)]
    pub api: ApiOpts,
}

/// What a command needs: the client and the output mode.
#[derive(Debug)]
pub struct Ctx {
    pub client: Client,
    pub json: bool,
}

impl Ctx {
    fn new(opts: &ApiOpts) -> Result<Ctx, Failure> {
        let env = |k: &str| std::env::var(k).ok();
        let given = |flag: &Option<String>, var: &str| {
            flag.as_deref().is_some_and(|v| !v.trim().is_empty())
                || env(var).is_some_and(|v| !v.trim().is_empty())
        };
        let path = ConfigPath::locate(&env);
        // The file is read only when it is needed, so a broken one does not get in the way of
        // flags and environment.
        let file = if given(&opts.endpoint, "BATON_ENDPOINT") && given(&opts.token, "BATON_TOKEN") {
            None
        } else {
            match &path {
                Some(p) => Some((p, p.load()?)),
                None => None,
            }
        };
        let r = resolve(opts.endpoint.as_deref(), opts.token.as_deref(), &env, file);
        let Some(token) = r.token else {
            return Err(Failure::usage(missing_token(
                path.as_ref().map(|p| p.path.as_path()),
            )));
        };
        Ok(Ctx {
            client: Client::new(&r.endpoint, token)?,
            json: opts.json,
        })
    }
}

/// Prints a failure and turns the outcome into the exit code.
fn finish(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("{}", f.render());
            ExitCode::from(f.exit_code())
        }
    }
}

pub async fn task(args: TaskArgs) -> anyhow::Result<ExitCode> {
    Ok(finish(
        async {
            let ctx = Ctx::new(&args.api)?;
            task::run(&ctx, args.command).await
        }
        .await,
    ))
}

pub async fn stream(args: StreamArgs) -> anyhow::Result<ExitCode> {
    Ok(finish(
        async {
            let ctx = Ctx::new(&args.api)?;
            stream::run(&ctx, args.command).await
        }
        .await,
    ))
}

pub async fn group(args: GroupArgs) -> anyhow::Result<ExitCode> {
    Ok(finish(
        async {
            let ctx = Ctx::new(&args.api)?;
            group::run(&ctx, args.command).await
        }
        .await,
    ))
}

pub async fn node(args: NodeArgs) -> anyhow::Result<ExitCode> {
    Ok(finish(
        async {
            let ctx = Ctx::new(&args.api)?;
            node::run(&ctx, args.command).await
        }
        .await,
    ))
}

pub async fn whoami(args: WhoamiArgs) -> anyhow::Result<ExitCode> {
    Ok(finish(
        async {
            let ctx = Ctx::new(&args.api)?;
            let req = Request::get(&["whoami"]);
            let body = ctx.client.send(&req).await?.into_body(&req.describe())?;
            if ctx.json {
                print_json(&body);
            } else {
                let me: model::Whoami = model::view(&body, "whoami")?;
                print!(
                    "{}",
                    key_values(&[
                        ("Account", me.account),
                        ("Token", output::or_dash(me.token.as_deref())),
                        ("Endpoint", ctx.client.endpoint().to_string()),
                    ])
                );
            }
            Ok(())
        }
        .await,
    ))
}

/// The API commands' names: their usage errors exit 1 (2 means "cannot reach the server").
const COMMANDS: [&str; 5] = ["task", "stream", "group", "whoami", "ui"];

/// Whether the command line runs an API command: its first word that is not an option (or
/// the value of `--log`) is one of them.
pub fn is_api_command(args: &[OsString]) -> bool {
    let mut words = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(word) = words.next() {
        if word == "--log" {
            words.next();
        } else if !word.starts_with('-') {
            return COMMANDS.contains(&word.as_ref());
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn tells_api_commands() {
        assert!(is_api_command(&args(&["baton", "task", "list"])));
        assert!(is_api_command(&args(&[
            "baton", "--log", "debug", "whoami"
        ])));
        assert!(is_api_command(&args(&[
            "baton",
            "--log=debug",
            "stream",
            "kick"
        ])));
        assert!(!is_api_command(&args(&["baton", "serve", "--bogus"])));
        assert!(!is_api_command(&args(&["baton", "--log", "task", "serve"])));
        assert!(!is_api_command(&args(&["baton"])));
    }
}
