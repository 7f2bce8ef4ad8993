//! Baton's HTTP control API.
//!
//! * [`common`]: what every dialect shares — parameter decoding, request ids, the
//!   [`KeyStore`], signature algorithms, replay protection, throttling, time.
//! * [`aliyun`]: the Alibaba Cloud Live 2016-11-01 dialect (pull-to-push and ingest-control
//!   actions).
//! * [`TaskService`] and [`StreamService`]: the ports the dialects call; the engine implements
//!   them.
//!
//! Only this crate knows HTTP statuses, JSON spellings and cloud error codes
//! (ARCHITECTURE.md invariant 2): the domain's [`baton_domain::Rejection`]s are mapped here.

pub mod aliyun;
pub mod common;
pub mod config;
pub mod error;
pub mod service;
pub mod testing;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

pub use common::keys::{Credential, KeyStore, KeyStoreError, Policy, StaticKeyStore};
pub use common::time::{ManualClock, SystemClock, WallClock};
pub use config::{ApiConfig, DEFAULT_ACTION_LIMITS};
pub use error::ApiError;
pub use service::{ServiceError, StreamError, StreamService, TaskService};

/// The API's routes: `GET /` and `POST /` answer the Alibaba dialect, whose task actions call
/// `tasks` and whose ingest-control actions call `streams`. Mount it at `/` of the API
/// listener (beside `/healthz`, which it does not claim).
pub fn router(
    tasks: Arc<dyn TaskService>,
    streams: Arc<dyn StreamService>,
    keys: Arc<dyn KeyStore>,
    config: ApiConfig,
) -> Router {
    let state = Arc::new(aliyun::handler::AppState::new(tasks, streams, keys, config));
    Router::new()
        .route(
            "/",
            get(aliyun::handler::handle).post(aliyun::handler::handle),
        )
        .with_state(state)
}
