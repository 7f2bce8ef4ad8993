//! `baton`: the self-hosted live-stream relay service.
//!
//! * `baton serve` runs the ingest server (RTMP + HTTP-FLV) and the control API.
//! * `baton relay SRC DST` runs one relay in the foreground, like
//!   `ffmpeg -i SRC -c copy -f flv DST` but in-process, with reconnects and one timeline.
//! * `baton task|stream|group|whoami` talk to a running server's native REST API (`/v1`).

mod admin;
mod cli;
mod config;
mod credentials;
mod datadir;
mod duration;
mod egress;
mod limits;
mod metrics;
mod relay_cmd;
mod serve;
mod service;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Parser, Debug)]
#[command(
    name = "baton",
    version,
    about = "Self-hosted live-stream relay service"
)]
struct Cli {
    /// Log filter (tracing-subscriber EnvFilter syntax), e.g. `info`, `baton_net=debug`.
    #[arg(long, global = true, env = "BATON_LOG", default_value = "info")]
    log: String,
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
    /// Show the account and token the API commands act as.
    Whoami(cli::WhoamiArgs),
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
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
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
            Command::Whoami(args) => cli::whoami(args).await,
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
