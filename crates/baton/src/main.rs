//! `baton`: the self-hosted live-stream relay service.
//!
//! * `baton serve` runs the ingest server (RTMP + HTTP-FLV) and the control API.
//! * `baton relay SRC DST` runs one relay in the foreground, like
//!   `ffmpeg -i SRC -c copy -f flv DST` but in-process, with reconnects and one timeline.
//! * `baton task|stream|group|whoami` talk to a running server's native REST API (`/v1`);
//!   `baton ui` prints the link that opens its web dashboard signed in.

mod admin;
mod cli;
mod cluster;
mod config;
#[cfg(test)]
mod config_keys;
mod credentials;
mod datadir;
mod duration;
mod egress;
mod limits;
mod metrics;
mod relay_cmd;
mod serve;
mod service;
mod startup;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// `0.1.0 (commit 1a2b3c4d5e6f, 2026-12-07)`: the version and the commit it was built from,
/// with that commit's date (see `build.rs`).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("BATON_BUILD"), ")");

#[derive(Parser, Debug)]
#[command(
    name = "baton",
    version = VERSION,
    about = "Self-hosted live-stream relay service"
)]
struct Cli {
    /// Log filter (tracing-subscriber EnvFilter syntax), e.g. `info`, `baton_net=debug`.
    #[arg(long, global = true, env = "BATON_LOG", default_value = "info")]
    log: String,
    /// Log lines as text (colored only on a terminal, never with NO_COLOR set) or as one
    /// JSON object per line [default: the config file's `log_format`, else text].
    #[arg(long, global = true, env = "BATON_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the service: RTMP ingest, HTTP-FLV playback and the control API.
    Serve(serve::ServeArgs),
    /// Relay one stream in the foreground until Ctrl-C.
    Relay(relay_cmd::RelayArgs),
    /// Manage accounts.
    #[command(subcommand)]
    Account(admin::AccountCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(admin::KeyCommand),
    /// Manage bearer tokens of the native API (`/v1`).
    #[command(subcommand)]
    Token(admin::TokenCommand),
    /// Manage ingest domains and sign publish URLs.
    #[command(subcommand)]
    Domain(admin::DomainCommand),
    /// Create, list, watch and control relay tasks (native API).
    Task(cli::TaskArgs),
    /// Forbid, resume and kick published streams (native API).
    Stream(cli::StreamArgs),
    /// Manage task groups (native API).
    Group(cli::GroupArgs),
    /// List the cluster's nodes, their heartbeats and tasks (native API, root account).
    Node(cli::NodeArgs),
    /// Show the account and token the API commands act as.
    Whoami(cli::WhoamiArgs),
    /// Print the link that opens the web dashboard (`/ui/`) signed in.
    Ui(cli::ui::UiArgs),
}

/// Colored logs only for a person at a terminal, and never when `NO_COLOR` is set to anything
/// (<https://no-color.org>).
fn colors() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        // The API commands exit 1 on usage errors: their 2 means "cannot reach the server".
        Err(e) if e.use_stderr() && cli::is_api_command(&args) => {
            let _ = e.print();
            return ExitCode::from(1);
        }
        Err(e) => e.exit(),
    };
    let filter = EnvFilter::try_new(&cli.log).unwrap_or_else(|e| {
        eprintln!("baton: bad --log filter {:?}: {e}; using `info`", cli.log);
        EnvFilter::new("info")
    });
    // `baton serve --config FILE` may name the format; a file that does not parse is
    // reported by `serve` itself, with the default format.
    let format = cli.log_format.unwrap_or_else(|| match &cli.command {
        Command::Serve(args) => args.log_format().unwrap_or_default(),
        _ => LogFormat::default(),
    });
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(colors()).init(),
        LogFormat::Json => logs.json().with_ansi(false).init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("baton: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Relay(args) => relay_cmd::run(args).await,
            Command::Account(command) => admin::account(command),
            Command::Key(command) => admin::key(command),
            Command::Token(command) => admin::token(command),
            Command::Domain(command) => admin::domain(command),
            Command::Task(args) => cli::task(args).await,
            Command::Stream(args) => cli::stream(args).await,
            Command::Group(args) => cli::group(args).await,
            Command::Node(args) => cli::node(args).await,
            Command::Whoami(args) => cli::whoami(args).await,
            Command::Ui(args) => cli::ui::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("baton: {e:#}");
            ExitCode::FAILURE
        }
    }
}
