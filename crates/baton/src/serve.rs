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
use baton_net::ingest::rtmps::ServerCertificates;
use baton_net::ingest::{Ingest, IngestPolicy, IngestServer, SrtIngestServer};
use clap::Args;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use baton_domain::{
    BlockStore, ClusterStore, GroupStore, LeaseStore, NodeInfo, ReplayStore, TaskStore,
};
use baton_engine::{
    CallbackKeys, ClusterConfig, Engine, LocalIngest, StreamControl, StreamControlConfig,
    SystemClock,
};
use baton_relay::RelayPool;
use baton_store_postgres::PgStore;
use baton_store_sqlite::SqliteStore;

use crate::config::{Database, Overrides, Settings};
use crate::credentials::{
    Credentials, CredentialsFile, DomainConfig, LiveCredentials, ROOT_ACCOUNT,
};
use crate::service::{ControlService, EngineService, StoreGroupService, StoreNodeService};
use crate::startup::{Endpoints, FirstStart};

/// How long shutdown waits for connections and relays to close.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// TOML config file (keys: data_dir, api_listen, rtmp_listen, play_listen, srt_listen, metrics_listen, [ingest], [srt], ...).
    #[arg(long, env = "BATON_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for durable state [default: ./baton-data].
    #[arg(long, env = "BATON_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Where tasks are stored: `sqlite` (in the data dir) or a postgres://user:password@host/db
    /// URL (one node per database for now) [default: sqlite].
    #[arg(long, env = "BATON_DATABASE", hide_env_values = true)]
    database: Option<String>,
    /// HTTP control API listener [default: 127.0.0.1:8080].
    #[arg(long, env = "BATON_API_LISTEN")]
    api_listen: Option<SocketAddr>,
    /// RTMP ingest listener [default: 0.0.0.0:1935].
    #[arg(long, env = "BATON_RTMP_LISTEN")]
    rtmp_listen: Option<SocketAddr>,
    /// HTTP-FLV playback listener [default: 0.0.0.0:8081].
    #[arg(long, env = "BATON_PLAY_LISTEN")]
    play_listen: Option<SocketAddr>,
    /// SRT ingest listener (UDP), e.g. 0.0.0.0:10080 [default: none, SRT ingest off].
    #[arg(long, env = "BATON_SRT_LISTEN")]
    srt_listen: Option<SocketAddr>,
    /// RTMPS ingest listener (RTMP over TLS), e.g. 0.0.0.0:443; needs [rtmps] cert_file and
    /// key_file in the config [default: none, RTMPS ingest off].
    #[arg(long, env = "BATON_RTMPS_LISTEN")]
    rtmps_listen: Option<SocketAddr>,
    /// A listener of its own for GET /metrics, no token (e.g. 127.0.0.1:9464) [default: none;
    /// /metrics is on the API listener for root tokens].
    #[arg(long, env = "BATON_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
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

impl ServeArgs {
    /// The config file's `log_format`, if the file names one.
    pub fn log_format(&self) -> Option<crate::config::LogFormat> {
        self.config
            .as_deref()
            .and_then(crate::config::log_format_of)
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    info!(version = crate::VERSION, "baton starting");
    let settings = Settings::resolve(
        args.config.as_deref(),
        Overrides {
            data_dir: args.data_dir,
            database: args.database,
            api_listen: args.api_listen,
            rtmp_listen: args.rtmp_listen,
            play_listen: args.play_listen,
            srt_listen: args.srt_listen,
            rtmps_listen: args.rtmps_listen,
            metrics_listen: args.metrics_listen,
            media_dir: args.media_dir,
        },
    )?;
    // A data dir with no task store (or the empty file an interrupted start left) has never
    // been served: its first start shows the root credentials, once. With PostgreSQL the data
    // dir still holds the credentials file, which every first start writes.
    let first_start = match settings.database {
        Database::Sqlite => {
            std::fs::metadata(settings.data_dir.join(baton_store_sqlite::FILE_NAME))
                .map_or(true, |m| m.len() == 0)
        }
        Database::Postgres(_) => !settings
            .data_dir
            .join(crate::credentials::FILE_NAME)
            .is_file(),
    };
    // Stream keys and secrets live there: private, and tightened if an older install left
    // them readable.
    let sqlite = settings.database == Database::Sqlite;
    for path in crate::datadir::secure_with(&settings.data_dir, sqlite)? {
        warn!(path = %path.display(), "permissions were too open; restricted to the owner");
    }
    // One server per data dir; the admin commands read who serves it (`serve.json`).
    let mut serve_lock = crate::datadir::ServeLock::acquire(&settings.data_dir)?;
    let mut first = if first_start {
        Some(FirstStart {
            access_key: None,
            token: root_token(&settings.data_dir)?,
            callback_secret: None,
        })
    } else {
        None
    };
    let env_key = args.access_key_id.zip(args.access_key_secret);
    let (credentials, generated) =
        LiveCredentials::open(settings.credentials.clone(), env_key, &settings.data_dir)?;
    let credentials = Arc::new(credentials);
    if let Some(mut g) = generated {
        // The first start shows them in its message; otherwise printed here, once, when
        // generated: the user needs the key to call the API, and each callback secret to
        // check the account's callbacks.
        if let Some(first) = first.as_mut() {
            first.access_key = g.key.take();
            if let Some(i) = g
                .callback_secrets
                .iter()
                .position(|(a, _)| a == ROOT_ACCOUNT)
            {
                first.callback_secret = Some(g.callback_secrets.remove(i).1);
            }
        }
        if let Some(key) = &g.key {
            eprintln!(
                "baton: no API key was configured; generated one for account `root` (kept in {}):\n  AccessKeyId:     {}\n  AccessKeySecret: {}",
                g.path.display(),
                key.access_key_id,
                key.access_key_secret
            );
        }
        for (account, secret) in &g.callback_secrets {
            eprintln!(
                "baton: generated the callback secret of account `{account}` (kept in {}; it signs X-Baton-Signature):\n  {secret}",
                g.path.display()
            );
        }
    }

    // Every listener's flood must end at that listener's cap, never at the shared fd limit.
    let mut settings = settings;
    let fd_limit = crate::limits::raise_fd_limit();
    if let Some(limit) = fd_limit {
        let wanted = [
            settings.ingest.max_connections,
            settings.api_listener.max_connections,
            settings.http_flv.listener.max_connections,
        ];
        let fitted = crate::limits::fit_caps(limit, wanted);
        if fitted != wanted {
            warn!(
                fd_limit = limit,
                rtmp = fitted[0],
                api = fitted[1],
                play = fitted[2],
                "the connection caps exceed the open-file limit; lowered to fit (raise the hard limit, e.g. LimitNOFILE, to keep them)"
            );
        }
        settings.ingest.max_connections = fitted[0];
        settings.api_listener.max_connections = fitted[1];
        settings.http_flv.listener.max_connections = fitted[2];
    }
    info!(
        fd_limit = ?fd_limit,
        rtmp = settings.ingest.max_connections,
        api = settings.api_listener.max_connections,
        play = settings.http_flv.listener.max_connections,
        "connection caps"
    );

    let (store, shared) = open_store(&settings).await?;

    let groups: Arc<dyn baton_domain::GroupStore> = Arc::clone(&store) as _;
    let hub = StreamHub::new(settings.hub.clone());
    let cancel = CancellationToken::new();
    // Who may publish: ingest domains, forbidden streams, signed URLs.
    let control = StreamControl::start(
        Arc::clone(&store) as _,
        Arc::new(SystemClock),
        Arc::clone(&credentials) as _,
        Arc::clone(&hub),
        StreamControlConfig {
            // Other nodes sharing the database forbid and resume streams too: re-read the
            // blocks (the fallback when no change notice arrives).
            reload_interval: matches!(settings.database, Database::Postgres(_))
                .then_some(BLOCK_RELOAD_INTERVAL),
            ..StreamControlConfig::default()
        },
        cancel.child_token(),
    )
    .await
    .context("loading the block list")?;
    let policy: Arc<dyn IngestPolicy> = Arc::new(control.clone());
    let tracker = TaskTracker::new();
    let ready = Arc::new(AtomicBool::new(false));

    let net_metrics = baton_net::metrics::NetMetrics::default();
    let ingest = Ingest::with_metrics(
        settings.ingest.clone(),
        Arc::clone(&hub),
        Arc::clone(&policy),
        net_metrics.clone(),
    );
    let srt = match settings.srt_listen {
        Some(addr) => Some(
            SrtIngestServer::bind(addr, settings.srt.clone(), Arc::clone(&ingest))
                .await
                .with_context(|| format!("binding SRT ingest on {addr}"))?,
        ),
        None => None,
    };
    let rtmps = match &settings.rtmps {
        Some((addr, files)) => {
            let (cert, key) = files.read()?;
            let certificates = ServerCertificates::new(&cert, &key).with_context(|| {
                format!(
                    "rtmps.cert_file {} / key_file {}",
                    files.cert_file.display(),
                    files.key_file.display()
                )
            })?;
            let server = IngestServer::bind_tls(*addr, Arc::clone(&ingest), &certificates)
                .await
                .with_context(|| format!("binding RTMPS ingest on {addr}"))?;
            Some((server, certificates, files.clone()))
        }
        None => None,
    };
    let ingest = IngestServer::bind(settings.rtmp_listen, ingest)
        .await
        .with_context(|| format!("binding RTMP ingest on {}", settings.rtmp_listen))?;
    let play = TcpListener::bind(settings.play_listen)
        .await
        .with_context(|| format!("binding HTTP-FLV playback on {}", settings.play_listen))?;
    let api = TcpListener::bind(settings.api_listen)
        .await
        .with_context(|| format!("binding the control API on {}", settings.api_listen))?;
    let metrics_listener = match settings.metrics_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the metrics listener on {addr}"))?,
        ),
        None => None,
    };
    let endpoints = Endpoints {
        rtmp: ingest.local_addr().context("the RTMP listener's address")?,
        play: play
            .local_addr()
            .context("the HTTP-FLV listener's address")?,
        srt: srt.as_ref().map(SrtIngestServer::local_addr),
        rtmps: match &rtmps {
            Some((server, ..)) => Some(
                server
                    .local_addr()
                    .context("the RTMPS listener's address")?,
            ),
            None => None,
        },
        api: api.local_addr().context("the control API's address")?,
        metrics: match &metrics_listener {
            Some(l) => Some(l.local_addr().context("the metrics listener's address")?),
            None => None,
        },
    };

    let mut engine_config = settings.engine.clone();
    // The slate, read once here for every task's relay.
    if let Some(slate) = &settings.slate {
        engine_config.relay.slate = Some(load_slate(slate).await?);
    }
    // Tasks may not reach Baton's own API (as bound: the port may have been 0).
    let api_addr = endpoints.api;
    serve_lock.announce(api_addr)?;
    engine_config.egress = Arc::new(crate::egress::with_api_listener(
        (*engine_config.egress).clone(),
        api_addr,
    )?);
    engine_config.local_ingest = Some(local_ingest(
        &settings,
        &credentials.current().domains,
        Arc::clone(&hub),
    ));
    if let Some(shared) = &shared {
        let leases = Arc::new(shared.clone()) as Arc<dyn LeaseStore>;
        let lease = settings.cluster.lease.clone();
        let node = NodeInfo {
            id: crate::datadir::node_id(&settings.data_dir)?,
            name: (settings.cluster.name.clone()).unwrap_or_else(|| api_addr.to_string()),
            capacity: lease.capacity,
        };
        info!(
            node = %node.id,
            name = %node.name,
            capacity = lease.capacity,
            lease = ?lease.lease,
            renew = ?lease.renew,
            "running tasks under leases on the shared database"
        );
        engine_config.cluster = Some(ClusterConfig {
            leases,
            node,
            lease,
        });
    }
    // The one node of a SQLite data dir lists itself (`/v1/nodes`); on a shared database the
    // lease keeper registers the node (and renews its heartbeat).
    if engine_config.cluster.is_none() {
        let node = NodeInfo {
            id: crate::datadir::node_id(&settings.data_dir)?,
            name: api_addr.to_string(),
            capacity: SOLE_NODE_CAPACITY,
        };
        store
            .register_node(&node)
            .await
            .context("registering the node")?;
    }
    // Listening before the engine starts: nothing another node does from the engine's first
    // claim on goes unheard (the notices wait in a queue until the engine acts on them).
    let notices = match &shared {
        Some(pg) => Some(
            crate::cluster::listen(pg)
                .await
                .context("listening for the cluster's notices")?,
        ),
        None => None,
    };
    // A node is alive while its last heartbeat is younger than a lease.
    let alive_within = settings.cluster.lease.lease;
    let engine = Engine::start(
        Arc::clone(&store) as _,
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
    // What the other nodes of a shared database change, heard at once (polling is the
    // fallback); acted on until just before the engine shuts down.
    let notices_done = CancellationToken::new();
    let listening = notices.map(|(listening, queue)| {
        tokio::spawn(crate::cluster::act(
            queue,
            engine.clone(),
            control.clone(),
            notices_done.clone(),
        ));
        listening
    });
    // Spent signed requests still within their window, loaded before the API answers.
    let replay = baton_api::Replay::start(Arc::clone(&store) as _, &settings.api)
        .await
        .context("loading replay protection")?;
    let api_metrics = baton_api::ApiMetrics::default();
    let registry = Arc::new(crate::metrics::registry(
        &engine,
        &hub,
        &api_metrics,
        &net_metrics,
    ));
    let api_routes = baton_api::router_with_metrics(
        baton_api::Services {
            tasks: Arc::new(EngineService(engine.clone())),
            streams: Arc::new(ControlService(control)),
            groups: Arc::new(StoreGroupService {
                store: groups,
                clock: Arc::clone(&settings.api.clock),
            }),
            nodes: Arc::new(StoreNodeService {
                store: Arc::clone(&store) as _,
                alive_within,
            }),
            replay,
        },
        credentials,
        settings.api.clone(),
        Some(baton_api::MetricsExport {
            api: api_metrics,
            registry: Arc::clone(&registry),
        }),
    );

    tracker.spawn(ingest.run(cancel.child_token()));
    if let Some((server, certificates, files)) = rtmps {
        tracker.spawn(server.run(cancel.child_token()));
        tracker.spawn(reload_certificates(
            certificates,
            files,
            cancel.child_token(),
        ));
    }
    if let Some(srt) = srt {
        tracker.spawn(srt.run(cancel.child_token()));
    }
    {
        let (hub, policy, config, counters, cancel) = (
            Arc::clone(&hub),
            Arc::clone(&policy),
            settings.http_flv.clone(),
            net_metrics.listener("http_flv"),
            cancel.child_token(),
        );
        tracker.spawn(async move {
            if let Err(e) =
                http_flv::serve_play_counted(play, hub, policy, config, counters, cancel).await
            {
                error!(error = %e, "HTTP-FLV listener failed");
            }
        });
    }
    {
        let router = api_router(Arc::clone(&ready)).merge(api_routes);
        let cancel = cancel.child_token();
        let limits = settings.api_listener;
        let counters = net_metrics.listener("api");
        tracker.spawn(async move {
            info!(addr = ?api.local_addr().ok(), "control API listening");
            if let Err(e) =
                baton_net::http_listener::serve_counted(api, router, limits, counters, cancel).await
            {
                error!(error = %e, "control API listener failed");
            }
        });
    }
    if let Some(listener) = metrics_listener {
        let router = Router::new()
            .route("/metrics", get(own_metrics))
            .with_state(registry);
        let cancel = cancel.child_token();
        let limits = settings.api_listener;
        let counters = net_metrics.listener("metrics");
        tracker.spawn(async move {
            info!(addr = ?listener.local_addr().ok(), "metrics listening");
            if let Err(e) =
                baton_net::http_listener::serve_counted(listener, router, limits, counters, cancel)
                    .await
            {
                error!(error = %e, "metrics listener failed");
            }
        });
    }
    tracker.close();
    ready.store(true, Ordering::Release);
    info!(
        rtmp = %settings.rtmp_listen,
        play = %settings.play_listen,
        srt = ?settings.srt_listen,
        api = %settings.api_listen,
        data_dir = %settings.data_dir.display(),
        "baton is ready"
    );
    eprint!(
        "{}",
        crate::startup::message(
            crate::VERSION,
            &settings.data_dir,
            &endpoints,
            first.as_ref()
        )
    );

    shutdown_signal().await;
    info!("shutting down");
    ready.store(false, Ordering::Release);
    notices_done.cancel();
    drop(listening);
    // Relays first, so their destinations are closed cleanly (FCUnpublish, deleteStream).
    engine.shutdown(SHUTDOWN_DEADLINE / 2).await;
    cancel.cancel();
    if tokio::time::timeout(SHUTDOWN_DEADLINE, tracker.wait())
        .await
        .is_err()
    {
        warn!(deadline = ?SHUTDOWN_DEADLINE, "some connections did not close in time");
    }
    drop(serve_lock);
    Ok(ExitCode::SUCCESS)
}

/// Issues the root token of a first start into the data dir's credentials file.
fn root_token(data_dir: &std::path::Path) -> anyhow::Result<String> {
    let file = CredentialsFile::in_dir(data_dir);
    let credentials = file.load()?;
    let mut name = "root-first-start".to_string();
    if credentials.tokens.iter().any(|t| t.name == name) {
        name = format!("root-first-start-{}", crate::credentials::random_string(6));
    }
    let issued = file.create_token(&Credentials::default(), ROOT_ACCOUNT, Some(name))?;
    Ok(issued.token)
}

/// This node's ingest as tasks' sources name it: loopback, the listeners' own addresses and
/// the configured ingest domains (exact names; those configured at start). A task whose
/// source is one of its streams has that stream watched through the hub while it waits for
/// a retry; any other source is probed, which works for this node too, only less promptly.
fn local_ingest(settings: &Settings, domains: &[DomainConfig], hub: Arc<StreamHub>) -> LocalIngest {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).into();
    for addr in [settings.rtmp_listen, settings.play_listen] {
        if !addr.ip().is_unspecified() {
            hosts.push(addr.ip().to_string());
        }
    }
    // The domain of SRT publishes that name none is, by configuration, a name of this node.
    if settings.srt_listen.is_some() && settings.srt.domain != baton_net::ingest::DEFAULT_DOMAIN {
        hosts.push(settings.srt.domain.clone());
    }
    hosts.extend(
        domains
            .iter()
            .filter(|d| !d.name.contains('*'))
            .map(|d| d.name.to_ascii_lowercase()),
    );
    hosts.sort();
    hosts.dedup();
    LocalIngest {
        hub,
        hosts,
        rtmp_port: settings.rtmp_listen.port(),
        http_flv_port: settings.play_listen.port(),
    }
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

/// `GET /metrics` on the metrics listener: the operator's, no token.
async fn own_metrics(
    State(registry): State<Arc<prometheus_client::registry::Registry>>,
) -> axum::response::Response {
    baton_api::metrics::render(&registry)
}

/// Completes on Ctrl-C or SIGTERM.
/// Every port a store serves: one database for tasks, blocks, groups and spent requests.
trait Store: TaskStore + BlockStore + GroupStore + ReplayStore + LeaseStore + ClusterStore {}

impl<S: TaskStore + BlockStore + GroupStore + ReplayStore + LeaseStore + ClusterStore> Store for S {}

/// Opens the configured store: SQLite in the data dir, or PostgreSQL — shared with other
/// nodes, its tasks run under leases (docs/design/multi-node.md): with it come the leases.
async fn open_store(settings: &Settings) -> anyhow::Result<(Arc<dyn Store>, Option<PgStore>)> {
    match &settings.database {
        Database::Sqlite => {
            let store = SqliteStore::open(&settings.data_dir)
                .await
                .with_context(|| {
                    format!("opening the task store in {}", settings.data_dir.display())
                })?;
            info!(data_dir = %settings.data_dir.display(), "task store: SQLite");
            Ok((Arc::new(store), None))
        }
        Database::Postgres(url) => {
            let shown = settings.database.redacted();
            let store = PgStore::connect(url)
                .await
                .with_context(|| format!("opening the task store at {shown}"))?;
            info!(database = %shown, "task store: PostgreSQL");
            Ok((Arc::new(store.clone()), Some(store)))
        }
    }
}

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

/// The capacity the one node of a SQLite data dir shows in `/v1/nodes`: it runs every task
/// (no lease limits it).
const SOLE_NODE_CAPACITY: u32 = 100_000;

/// How often a node on a shared database re-reads the forbidden streams
/// ([`StreamControl::reload_blocks`]) when no change notice told it to: a forbid through
/// another node disconnects this node's publisher within this (a notice makes it sooner).
const BLOCK_RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// How often the RTMPS listener's certificate and key files are checked for a change.
const CERTIFICATE_RELOAD_INTERVAL: Duration = Duration::from_secs(10);

/// Reloads the RTMPS listener's certificate and key when either file changes (a renewal), so
/// the next handshake presents the new pair without a restart. A pair that does not load
/// (half written, mismatched) is logged and the one in use stays; it is tried again at the
/// next change.
async fn reload_certificates(
    certificates: Arc<ServerCertificates>,
    files: crate::config::RtmpsFiles,
    cancel: CancellationToken,
) {
    let mut stamp = files.stamp();
    let mut tick = tokio::time::interval(CERTIFICATE_RELOAD_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = files.stamp();
        if now == stamp {
            continue;
        }
        stamp = now;
        let loaded = files
            .read()
            .and_then(|(cert, key)| Ok(certificates.replace(&cert, &key)?));
        match loaded {
            Ok(()) => info!(cert_file = %files.cert_file.display(), "RTMPS certificate reloaded"),
            Err(e) => {
                error!(error = %format!("{e:#}"), cert_file = %files.cert_file.display(), "RTMPS certificate not reloaded; the one in use stays")
            }
        }
    }
}

/// `[slate]`: the built-in defaults, or the operator's clip read into memory once.
async fn load_slate(
    settings: &crate::config::SlateSettings,
) -> anyhow::Result<baton_relay::SlateConfig> {
    let clip = if settings.file == "default" {
        baton_relay::SlateClip::Default
    } else {
        let clip =
            baton_relay::Slate::load(&settings.file, &baton_net::egress::Egress::unrestricted())
                .await
                .with_context(|| format!("slate.file {}", settings.file))?;
        info!(slate = %settings.file, resolution = ?clip.resolution(), loop_duration = ?clip.loop_duration(), audio = clip.has_audio(), "slate loaded");
        baton_relay::SlateClip::Clip(Arc::new(clip))
    };
    Ok(baton_relay::SlateConfig {
        clip,
        after: settings.after,
        hold: settings.hold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FileConfig, Overrides};
    use baton_net::hub::{HubConfig, StreamKey};

    #[test]
    fn the_local_ingest_is_reached_through_loopback_the_listen_address_and_the_domains() {
        let settings = Settings::resolve(
            None,
            Overrides {
                rtmp_listen: Some("10.0.0.5:1936".parse().unwrap()),
                ..Overrides::default()
            },
        )
        .unwrap();
        let domains: Vec<DomainConfig> = toml::from_str::<FileConfig>(
            "[[domains]]\nname = \"Live.Example.com\"\naccount = \"root\"\n[[domains]]\nname = \"*.wild.example\"\naccount = \"root\"\n",
        )
        .unwrap()
        .domains;
        let local = local_ingest(&settings, &domains, StreamHub::new(HubConfig::default()));
        let key = |d: &str| Some(StreamKey::new(d, "live", "s"));
        assert_eq!(
            local.stream_of("rtmp://10.0.0.5:1936/live/s"),
            key("10.0.0.5")
        );
        assert_eq!(
            local.stream_of("rtmp://localhost:1936/live/s"),
            key("localhost")
        );
        assert_eq!(
            local.stream_of("rtmp://live.example.com:1936/live/s"),
            key("live.example.com")
        );
        // The play listener (0.0.0.0:8081 by default): loopback and the domains.
        assert_eq!(
            local.stream_of("http://127.0.0.1:8081/live/s.flv"),
            key("127.0.0.1")
        );
        assert_eq!(
            local.stream_of("rtmp://10.0.0.5/live/s"),
            None,
            "another port"
        );
        assert_eq!(local.stream_of("rtmp://a.wild.example:1936/live/s"), None);
    }
}
