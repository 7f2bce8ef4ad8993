//! The Alibaba dialect on its own: the API router over the in-memory task service, for the
//! SDK compatibility tests (interop/tests/test_aliyun_sdk.py) where `baton serve` does not
//! mount the API yet. Nothing runs; tasks only change state through the API.
//!
//! ```text
//! cargo run -p baton-api --example aliyun_server -- --listen 127.0.0.1:0 \
//!     --key LTAI5tTestAccessKeyId:TestAccessKeySecret0123456789ab:acct-a [--key …] [--qps 10]
//! ```
//! Prints `listening on ADDR` on stdout once bound; `GET /healthz` answers 200.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use baton_api::testing::MemoryTaskService;
use baton_api::{ApiConfig, StaticKeyStore, SystemClock, router};
use baton_domain::AccountId;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aliyun_server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let mut listen: SocketAddr = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    let mut keys = StaticKeyStore::new();
    let mut config = ApiConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--key" => {
                let v = value()?;
                let mut it = v.splitn(3, ':');
                match (it.next(), it.next(), it.next()) {
                    (Some(id), Some(secret), Some(account)) => {
                        keys.insert(id, AccountId(account.to_string()), secret);
                    }
                    _ => return Err(format!("--key {v:?}: expected ID:SECRET:ACCOUNT")),
                }
            }
            "--qps" => {
                config.actions_per_second = value()?.parse().map_err(|e| format!("--qps: {e}"))?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if keys.is_empty() {
        return Err("give at least one --key ID:SECRET:ACCOUNT".into());
    }
    let service = Arc::new(MemoryTaskService::new(Arc::new(SystemClock)));
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(router(service, Arc::new(keys), config));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("binding {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on {addr}");
    axum::serve(listener, app)
        .await
        .map_err(|e| format!("serving: {e}"))
}
