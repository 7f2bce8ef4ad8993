//! The API's own metrics and the `/metrics` endpoint.
//!
//! [`ApiMetrics`] counts requests by dialect, action and HTTP status, times them, and counts
//! throttled requests and failed authentications. One middleware ([`track`], a route layer of
//! [`crate::router_with_metrics`]) does it for every dialect: the dialects only say what the
//! request was by putting an [`ActionName`] (and, on an error, an [`ErrorClass`]) into their
//! response's extensions; the native API's problems already say it with their status (401,
//! 403, 429). Counted once per request, never per frame.
//!
//! [`endpoint`] serves the binary's whole registry as OpenMetrics text. Metrics carry every
//! account's task ids, so on the API listener they answer only a native bearer token of the
//! root account (Prometheus sends one with `authorization: {credentials: …}` in its scrape
//! config); any other caller gets the native API's problem (401, or 403 `forbidden`).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::native::NativeState;
use crate::native::problem::Problem;

pub use crate::common::keys::ROOT_ACCOUNT;

/// The content type of OpenMetrics text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The action a dialect request named (its provider spelling), set on the response.
#[derive(Clone, Copy, Debug)]
pub struct ActionName(pub &'static str);

/// Why a request failed, when it is worth a metric of its own: `throttled` or `auth`.
#[derive(Clone, Copy, Debug)]
pub struct ErrorClass(pub &'static str);

/// Labels of a request count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `aliyun`, `volc`, `native` or `metrics`.
    pub dialect: &'static str,
    /// The provider's action name; for the native API, the method and route template.
    pub action: String,
    /// The HTTP status code.
    pub code: u16,
}

/// A dialect label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DialectLabel {
    pub dialect: &'static str,
}

/// The API's request metrics.
#[derive(Debug, Clone)]
pub struct ApiMetrics {
    requests: Family<RequestLabels, Counter>,
    seconds: Family<DialectLabel, Histogram>,
    throttled: Family<DialectLabel, Counter>,
    auth_failures: Family<DialectLabel, Counter>,
}

/// Every dialect label (series exist at 0 from the start, so `rate()` sees the first one).
pub const DIALECTS: [&str; 4] = ["aliyun", "volc", "native", "metrics"];

impl Default for ApiMetrics {
    fn default() -> ApiMetrics {
        let metrics = ApiMetrics {
            requests: Family::default(),
            // 0.5 ms to ~8 s, doubling.
            seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0005, 2.0, 15))
            }),
            throttled: Family::default(),
            auth_failures: Family::default(),
        };
        for dialect in DIALECTS {
            let label = DialectLabel { dialect };
            let _ = metrics.throttled.get_or_create(&label);
            let _ = metrics.auth_failures.get_or_create(&label);
            let _ = metrics.seconds.get_or_create(&label);
        }
        metrics
    }
}

impl ApiMetrics {
    /// Registers the metrics.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "baton_api_requests",
            "API requests by dialect, action and HTTP status",
            self.requests.clone(),
        );
        registry.register(
            "baton_api_request_seconds",
            "Seconds an API request took to answer, by dialect",
            self.seconds.clone(),
        );
        registry.register(
            "baton_api_throttled",
            "API requests refused by a rate limit, by dialect",
            self.throttled.clone(),
        );
        registry.register(
            "baton_api_auth_failures",
            "API requests refused for their credentials (missing, unknown, bad signature, not allowed), by dialect",
            self.auth_failures.clone(),
        );
    }
}

/// Counts and times a request (a route layer: the route template is known).
pub async fn track(State(metrics): State<ApiMetrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = request.uri().path();
    let dialect = if path == "/" {
        if crate::is_volcengine(request.uri().query().unwrap_or("")) {
            "volc"
        } else {
            "aliyun"
        }
    } else if path == "/metrics" {
        "metrics"
    } else {
        "native"
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| format!("{} {}", request.method(), p.as_str()));
    let response = next.run(request).await;
    let status = response.status();
    let action = match response.extensions().get::<ActionName>() {
        Some(ActionName(name)) => (*name).to_string(),
        None if dialect == "aliyun" || dialect == "volc" => "unknown".to_string(),
        None => route.unwrap_or_else(|| "unknown".to_string()),
    };
    let class = response
        .extensions()
        .get::<ErrorClass>()
        .map(|c| c.0)
        .or(match status {
            StatusCode::TOO_MANY_REQUESTS => Some("throttled"),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Some("auth"),
            _ => None,
        });
    let label = DialectLabel { dialect };
    match class {
        Some("throttled") => {
            metrics.throttled.get_or_create(&label).inc();
        }
        Some("auth") => {
            metrics.auth_failures.get_or_create(&label).inc();
        }
        _ => {}
    }
    metrics
        .requests
        .get_or_create(&RequestLabels {
            dialect,
            action,
            code: status.as_u16(),
        })
        .inc();
    metrics
        .seconds
        .get_or_create(&label)
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Encodes `registry` as OpenMetrics text.
pub fn render(registry: &Registry) -> Response {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, registry) {
        Ok(()) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "encoding the metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `GET /metrics` on the API listener: root's native tokens only.
pub(crate) fn endpoint(registry: Arc<Registry>, native: Arc<NativeState>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state((registry, native))
}

async fn scrape(
    State((registry, native)): State<(Arc<Registry>, Arc<NativeState>)>,
    headers: HeaderMap,
) -> Response {
    let caller = match native.caller(&headers).await {
        Ok(caller) => caller,
        Err(problem) => return problem.into_response(),
    };
    if caller.account.0 != ROOT_ACCOUNT {
        return Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("metrics show every account's tasks: only a token of the `{ROOT_ACCOUNT}` account may read them"),
        )
        .into_response();
    }
    render(&registry)
}
