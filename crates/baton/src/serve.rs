//! `baton serve`: wires the ingest server, HTTP-FLV playback and the control API together, and
//! shuts them down gracefully on SIGTERM / Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use baton_net::http_flv;
use baton_net::hub::StreamHub;
use baton_net::ingest::{Ingest, IngestPolicy, IngestServer};
use clap::Args;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use baton_engine::{CallbackKeys, Engine, StreamControl, StreamControlConfig, SystemClock};
use baton_relay::RelayPool;
use baton_store_sqlite::SqliteStore;

use crate::config::{Overrides, Settings};
use crate::credentials::LiveCredentials;
use crate::service::{ControlService, EngineService, StoreGroupService};

/// How long shutdown waits for connections and relays to close.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// TOML config file (keys: data_dir, api_listen, rtmp_listen, play_listen, [ingest]).
    #[arg(long, env = "BATON_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for durable state [default: ./baton-data].
    #[arg(long, env = "BATON_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// HTTP control API listener [default: 127.0.0.1:8080].
    #[arg(long, env = "BATON_API_LISTEN")]
    api_listen: Option<SocketAddr>,
    /// RTMP ingest listener [default: 0.0.0.0:1935].
    #[arg(long, env = "BATON_RTMP_LISTEN")]
    rtmp_listen: Option<SocketAddr>,
    /// HTTP-FLV playback listener [default: 0.0.0.0:8081].
    #[arg(long, env = "BATON_PLAY_LISTEN")]
    play_listen: Option<SocketAddr>,
    /// The media library of SourceType `vod` tasks (media ID = file name).
    #[arg(long, env = "BATON_MEDIA_DIR")]
    media_dir: Option<PathBuf>,
    /// An API key of the root account (with --access-key-secret).
    #[arg(long, env = "BATON_ACCESS_KEY_ID", requires = "access_key_secret")]
    access_key_id: Option<String>,
    /// The secret of --access-key-id.
    #[arg(
        long,
        env = "BATON_ACCESS_KEY_SECRET",
        hide_env_values = true,
        requires = "access_key_id"
    )]
    access_key_secret: Option<String>,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::resolve(
        args.config.as_deref(),
        Overrides {
            data_dir: args.data_dir,
            api_listen: args.api_listen,
            rtmp_listen: args.rtmp_listen,
            play_listen: args.play_listen,
            media_dir: args.media_dir,
        },
    )?;
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data dir {}", settings.data_dir.display()))?;
    let env_key = args.access_key_id.zip(args.access_key_secret);
    let (credentials, generated) =
        LiveCredentials::open(settings.credentials.clone(), env_key, &settings.data_dir)?;
    let credentials = Arc::new(credentials);
    if let Some(g) = generated {
        // Printed once, on the first start: the user needs it to call the API.
        eprintln!(
            "baton: no API key was configured; generated one for account `root` (kept in {}):\n  AccessKeyId:     {}\n  AccessKeySecret: {}",
            g.path.display(),
            g.key.access_key_id,
            g.key.access_key_secret
        );
    }

    let store = SqliteStore::open(&settings.data_dir)
        .await
        .with_context(|| format!("opening the task store in {}", settings.data_dir.display()))?;
    let store = Arc::new(store);
    let groups: Arc<dyn baton_domain::GroupStore> = Arc::clone(&store) as _;
    let hub = StreamHub::new(settings.hub.clone());
    let cancel = CancellationToken::new();
    // Who may publish: ingest domains, forbidden streams, signed URLs.
    let control = StreamControl::start(
        Arc::clone(&store) as _,
        Arc::new(SystemClock),
        Arc::clone(&credentials) as _,
        Arc::clone(&hub),
        StreamControlConfig::default(),
        cancel.child_token(),
    )
    .await
    .context("loading the block list")?;
    let policy: Arc<dyn IngestPolicy> = Arc::new(control.clone());
    let tracker = TaskTracker::new();
    let ready = Arc::new(AtomicBool::new(false));

    let ingest = Ingest::new(
        settings.ingest.clone(),
        Arc::clone(&hub),
        Arc::clone(&policy),
    );
    let ingest = IngestServer::bind(settings.rtmp_listen, ingest)
        .await
        .with_context(|| format!("binding RTMP ingest on {}", settings.rtmp_listen))?;
    let play = TcpListener::bind(settings.play_listen)
        .await
        .with_context(|| format!("binding HTTP-FLV playback on {}", settings.play_listen))?;
    let api = TcpListener::bind(settings.api_listen)
        .await
        .with_context(|| format!("binding the control API on {}", settings.api_listen))?;

    // Tasks may not reach Baton's own API (as bound: the port may have been 0).
    let mut engine_config = settings.engine.clone();
    let api_addr = api.local_addr().context("the control API's address")?;
    engine_config.egress = Arc::new(crate::egress::with_api_listener(
        (*engine_config.egress).clone(),
        api_addr,
    )?);
    let engine = Engine::start(
        store,
        Arc::new(SystemClock),
        Arc::new(RelayPool::per_core().context("starting the relay threads")?),
        CallbackKeys::dynamic({
            let credentials = Arc::clone(&credentials);
            move |account| credentials.callback_secret(account)
        }),
        engine_config,
        cancel.child_token(),
    )
    .await
    .context("starting the task engine")?;
    let api_routes = baton_api::router(
        baton_api::Services {
            tasks: Arc::new(EngineService(engine.clone())),
            streams: Arc::new(ControlService(control)),
            groups: Arc::new(StoreGroupService {
                store: groups,
                clock: Arc::clone(&settings.api.clock),
            }),
        },
        credentials,
        settings.api.clone(),
    );

    tracker.spawn(ingest.run(cancel.child_token()));
    {
        let (hub, policy, config, cancel) = (
            Arc::clone(&hub),
            Arc::clone(&policy),
            settings.http_flv.clone(),
            cancel.child_token(),
        );
        tracker.spawn(async move {
            if let Err(e) = http_flv::serve_play(play, hub, policy, config, cancel).await {
                error!(error = %e, "HTTP-FLV listener failed");
            }
        });
    }
    {
        let router = api_router(Arc::clone(&ready)).merge(api_routes);
        let cancel = cancel.child_token();
        tracker.spawn(async move {
            info!(addr = ?api.local_addr().ok(), "control API listening");
            if let Err(e) = axum::serve(api, router)
                .with_graceful_shutdown(async move { cancel.cancelled().await })
                .await
            {
                error!(error = %e, "control API listener failed");
            }
        });
    }
    tracker.close();
    ready.store(true, Ordering::Release);
    info!(
        rtmp = %settings.rtmp_listen,
        play = %settings.play_listen,
        api = %settings.api_listen,
        data_dir = %settings.data_dir.display(),
        "baton is ready"
    );

    shutdown_signal().await;
    info!("shutting down");
    ready.store(false, Ordering::Release);
    // Relays first, so their destinations are closed cleanly (FCUnpublish, deleteStream).
    engine.shutdown(SHUTDOWN_DEADLINE / 2).await;
    cancel.cancel();
    if tokio::time::timeout(SHUTDOWN_DEADLINE, tracker.wait())
        .await
        .is_err()
    {
        warn!(deadline = ?SHUTDOWN_DEADLINE, "some connections did not close in time");
    }
    Ok(ExitCode::SUCCESS)
}

fn api_router(ready: Arc<AtomicBool>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(ready)
}

async fn healthz(State(ready): State<Arc<AtomicBool>>) -> (StatusCode, &'static str) {
    if ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n")
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
