//! Baton's native REST API under `/v1`: JSON, bearer tokens, RFC 7807 problems, cursor
//! pagination, `Idempotency-Key` on create, ETag / `If-Match`, 409 with the current state, a
//! task's event log — and everything the providers' dialects lack (last error, retries, next
//! retry, live bitrate / fps / uptime, playlist position). The contract is
//! `openapi.json`, served at `/v1/openapi.json`; a test checks that every route is in it.
//!
//! One task model underneath: a task created here is the task the Alibaba and Volcengine
//! dialects list, and the other way round.

pub mod dto;
pub mod handlers;
pub mod problem;
pub mod spec;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{delete, get, post, put};
use baton_domain::AccountId;
use sha2::{Digest, Sha256};

use crate::Services;
use crate::common::keys::KeyStore;
use crate::common::signature::hex;
use crate::common::throttle::{Rate, Throttle};
use crate::config::ApiConfig;
use problem::Problem;

/// The OpenAPI document of the API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// What every request of the API needs.
pub struct NativeState {
    pub services: Services,
    pub keys: Arc<dyn KeyStore>,
    pub config: ApiConfig,
    throttle: Throttle<AccountId>,
    rate: Rate,
}

impl std::fmt::Debug for NativeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeState").finish_non_exhaustive()
    }
}

/// Who a request acts for.
#[derive(Clone, Debug)]
pub struct Caller {
    pub account: AccountId,
    /// The token's name.
    pub token: String,
}

impl NativeState {
    pub fn new(services: Services, keys: Arc<dyn KeyStore>, config: ApiConfig) -> NativeState {
        let rate = Rate::per_second(config.native_requests_per_second);
        NativeState {
            services,
            keys,
            throttle: Throttle::per_second(config.native_requests_per_second, 100_000),
            rate,
            config,
        }
    }

    /// The caller of a request: `Authorization: Bearer <token>`, a token created with
    /// `baton token create` (stored as its SHA-256), within the account's request rate.
    pub async fn caller(&self, headers: &HeaderMap) -> Result<Caller, Problem> {
        let value = headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                Problem::unauthorized(
                    "send Authorization: Bearer <token> (create one with `baton token create`)",
                )
            })?
            .to_str()
            .map_err(|_| Problem::unauthorized("the Authorization header is not text"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Problem::unauthorized("the Authorization header is not `Bearer <token>`")
            })?;
        let digest = hex(&Sha256::digest(token.as_bytes()));
        let info = self
            .keys
            .lookup_token(&digest)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "token lookup failed");
                Problem::internal()
            })?
            .ok_or_else(|| Problem::unauthorized("the token is not valid (revoked or mistyped)"))?;
        self.throttle
            .check_at(&info.account, self.rate, tokio::time::Instant::now())
            .map_err(|retry_after| {
                Problem::from_api(&crate::ApiError::Throttled { retry_after })
            })?;
        Ok(Caller {
            account: info.account,
            token: info.name,
        })
    }
}

/// The `/v1` routes.
pub fn router(state: Arc<NativeState>) -> Router {
    use handlers as h;
    Router::new()
        .route("/v1/openapi.json", get(h::openapi))
        .route("/v1/whoami", get(h::whoami))
        .route("/v1/tasks", get(h::list_tasks).post(h::create_task))
        .route(
            "/v1/tasks/{id}",
            get(h::get_task)
                .patch(h::update_task)
                .delete(h::delete_task),
        )
        .route("/v1/tasks/{id}/stop", post(h::stop_task))
        .route("/v1/tasks/{id}/start", post(h::start_task))
        .route("/v1/tasks/{id}/restart", post(h::restart_task))
        .route("/v1/tasks/{id}/events", get(h::task_events))
        .route("/v1/groups", get(h::list_groups).post(h::create_group))
        .route("/v1/groups/{name}", delete(h::delete_group))
        .route("/v1/blocks", get(h::list_blocks))
        .route(
            "/v1/blocks/{domain}/{app}/{stream}",
            put(h::forbid_stream).delete(h::resume_stream),
        )
        .route("/v1/streams", get(h::list_streams))
        .route("/v1/nodes", get(h::list_nodes))
        .route(
            "/v1/streams/{domain}/{app}/{stream}/kick",
            post(h::kick_stream),
        )
        .fallback(h::not_found)
        .method_not_allowed_fallback(h::method_not_allowed)
        .with_state(state)
}
