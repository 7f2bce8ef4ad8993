//! Configuration of the API listener's request handling.

use std::sync::Arc;

use crate::common::time::{SystemClock, WallClock};

/// The regions the Alibaba dialect accepts in `Region` by default: the provider's list for
/// these actions (StopLivePullToPush reference, "Enumeration Value") — `preregion` included.
pub const DEFAULT_REGIONS: [&str; 10] = [
    "ap-northeast-1",
    "ap-southeast-1",
    "ap-southeast-5",
    "eu-central-1",
    "me-central-1",
    "cn-beijing",
    "cn-shanghai",
    "cn-shenzhen",
    "cn-qingdao",
    "preregion",
];

/// How the API handles requests. `Default` gives the provider's limits.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Values accepted in `Region`. Default [`DEFAULT_REGIONS`].
    pub regions: Vec<String>,
    /// Requests per second per account and action (burst the same). Default 10, the
    /// provider's documented limit for the seven pull-to-push actions.
    pub actions_per_second: u32,
    /// Largest request body, bytes. Default 512 KiB (a Create with 30 source URLs of 2000
    /// characters, percent-encoded, fits).
    pub max_body_bytes: usize,
    /// How far a request's time may be from now, seconds. Default 900 (15 minutes, POP's).
    pub request_time_window: i64,
    /// Signature nonces remembered for replay protection. When all are within their window,
    /// further requests are refused with 503 until some expire. Default 262 144 (about 10 MB).
    pub nonce_cache_capacity: usize,
    /// `HostId` of error responses. Default: the request's `Host` header.
    pub host_id: Option<String>,
    /// `Recommend` of error responses: a URL template in which `{code}` and `{request_id}`
    /// are replaced. Default: empty (Baton has no troubleshooting site).
    pub recommend_url: Option<String>,
    /// The wall clock for request-time checks. Default the system clock.
    pub clock: Arc<dyn WallClock>,
}

impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            regions: DEFAULT_REGIONS.iter().map(|r| r.to_string()).collect(),
            actions_per_second: 10,
            max_body_bytes: 512 * 1024,
            request_time_window: 15 * 60,
            nonce_cache_capacity: 1 << 18,
            host_id: None,
            recommend_url: None,
            clock: Arc::new(SystemClock),
        }
    }
}
