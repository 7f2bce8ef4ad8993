//! Baton's HTTP control API.
//!
//! * [`common`]: what every dialect shares — parameter decoding, request ids, the
//!   [`KeyStore`], signature algorithms, replay protection, throttling, time.
//! * [`aliyun`]: the Alibaba Cloud Live 2016-11-01 dialect (pull-to-push and ingest-control
//!   actions).
//! * [`volc`]: the Volcengine Live 2023-01-01 dialect (pull-to-push tasks and groups, ingest
//!   control).
//! * [`ui`]: the web dashboard at `/ui/` (embedded static files; its data comes from `/v1`).
//! * [`TaskService`], [`StreamService`] and [`GroupService`]: the ports the dialects call; the
//!   engine and the store implement them.
//!
//! Only this crate knows HTTP statuses, JSON spellings and cloud error codes
//! (ARCHITECTURE.md invariant 2): the domain's [`baton_domain::Rejection`]s are mapped here.

pub mod aliyun;
pub mod common;
pub mod config;
pub mod error;
pub mod metrics;
pub mod native;
pub mod service;
pub mod testing;
pub mod ui;
pub mod volc;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::get;

pub use common::keys::{Credential, KeyStore, KeyStoreError, Policy, StaticKeyStore, TokenInfo};
pub use common::replay::Replay;
pub use common::time::{ManualClock, SystemClock, WallClock};
pub use config::{ApiConfig, DEFAULT_ACTION_LIMITS, DEFAULT_REPLAY_SHARE};
pub use error::ApiError;
pub use metrics::ApiMetrics;
pub use service::{
    AudioView, DestinationView, GroupError, GroupService, LiveStreamView, MAX_NODE_TASK_IDS,
    NodeService, PublisherView, RelayPhase, RelayView, ServiceError, SrtSendView, SrtView,
    StreamError, StreamService, TaskService, TlsView, TransportView, VideoView,
};

/// The services the API calls.
#[derive(Clone)]
pub struct Services {
    pub tasks: Arc<dyn TaskService>,
    pub streams: Arc<dyn StreamService>,
    pub groups: Arc<dyn GroupService>,
    /// The cluster's nodes (`/v1/nodes`).
    pub nodes: Arc<dyn NodeService>,
    /// Replay protection of both dialects ([`Replay::start`] on the durable store).
    pub replay: Replay,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

/// Both dialects' request state.
struct Dialects {
    aliyun: Arc<aliyun::handler::AppState>,
    volc: Arc<volc::handler::VolcState>,
}

/// The API's routes: `GET /` and `POST /` answer the Alibaba dialect, and the Volcengine
/// dialect for requests whose `Version` query parameter is `2023-01-01` (its SDK always puts
/// `Action` and `Version` in the query; no Alibaba request carries that version); `/v1/…` is
/// the native API ([`native`]); `/ui/` the dashboard ([`ui`]). Mount it at `/` of the API listener (beside `/healthz`, which
/// it does not claim).
pub fn router(services: Services, keys: Arc<dyn KeyStore>, config: ApiConfig) -> Router {
    router_with_metrics(services, keys, config, None)
}

/// What the API listener needs to serve metrics: the API's own counters, and the registry
/// `GET /metrics` encodes (which holds them and every other part's).
#[derive(Debug, Clone)]
pub struct MetricsExport {
    pub api: ApiMetrics,
    pub registry: Arc<prometheus_client::registry::Registry>,
}

/// [`router`], and with `metrics`: every request counted and timed, and `GET /metrics`
/// ([`metrics`]; root's native tokens only).
pub fn router_with_metrics(
    services: Services,
    keys: Arc<dyn KeyStore>,
    config: ApiConfig,
    metrics: Option<MetricsExport>,
) -> Router {
    for name in config.action_limits.keys() {
        if aliyun::Action::from_name(name).is_none() && volc::Action::from_name(name).is_none() {
            tracing::warn!(action = %name, "a rate limit names no action of the API; ignored");
        }
    }
    let native_state = Arc::new(native::NativeState::new(
        services.clone(),
        keys.clone(),
        config.clone(),
    ));
    let native = native::router(Arc::clone(&native_state));
    let state = Arc::new(Dialects {
        aliyun: Arc::new(aliyun::handler::AppState::new(
            services.tasks.clone(),
            services.streams.clone(),
            keys.clone(),
            services.replay.clone(),
            config.clone(),
        )),
        volc: Arc::new(volc::handler::VolcState::new(
            services.tasks,
            services.streams,
            services.groups,
            keys,
            services.replay,
            config,
        )),
    });
    let router = Router::new()
        .route("/", get(dispatch).post(dispatch))
        .with_state(state)
        .merge(native)
        .merge(ui::router());
    match metrics {
        Some(m) => router
            .merge(metrics::endpoint(m.registry, native_state))
            .route_layer(axum::middleware::from_fn_with_state(m.api, metrics::track)),
        None => router,
    }
}

async fn dispatch(State(state): State<Arc<Dialects>>, request: Request) -> Response {
    if is_volcengine(request.uri().query().unwrap_or("")) {
        volc::handler::handle(state.volc.clone(), request).await
    } else {
        aliyun::handler::handle(State(state.aliyun.clone()), request).await
    }
}

/// Whether a query carries `Version=2023-01-01`.
fn is_volcengine(query: &str) -> bool {
    query
        .split('&')
        .any(|pair| pair.strip_prefix("Version=") == Some(volc::VERSION))
}
