//! Configuration of the API listener's request handling.

use std::collections::HashMap;
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

/// The provider's per-account rate limits (requests per second) of the actions that differ
/// from [`ApiConfig::actions_per_second`]'s default of 10: the ingest-control actions
/// (cloud-apis.md §2.2), and DescribeLiveStreamsOnlineList (10,000 a minute: 166 a second).
/// Keyed by wire action name.
pub const DEFAULT_ACTION_LIMITS: [(&str, u32); 4] = [
    ("ForbidLiveStream", 20),
    ("ResumeLiveStream", 30),
    ("DescribeLiveStreamsBlockList", 50),
    ("DescribeLiveStreamsOnlineList", 166),
];

/// Spent signed requests per access key within the window ([`ApiConfig::replay_share_per_key`]):
/// 2¹⁹. At the provider's default rates an account's keys together send at most 170 Alibaba
/// requests per second (the seven task actions at 10, Forbid 20, Resume 30, BlockList 50) and
/// 130 Volcengine mutations; with an honest clock each entry lives ~910 s: ≤ 273,000 entries.
/// (DescribeLiveStreamsOnlineList's 166 a second is a read: a client polling it at the limit
/// all the time adds 151,000, still within.)
pub const DEFAULT_REPLAY_SHARE: usize = 1 << 19;

/// How the API handles requests. `Default` gives the provider's limits.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Values accepted in `Region`. Default [`DEFAULT_REGIONS`].
    pub regions: Vec<String>,
    /// Requests per second per account and action (burst the same) of every action without
    /// its own limit in [`ApiConfig::action_limits`]. Default 10, the provider's documented
    /// limit for the seven pull-to-push actions. 0 counts as 1.
    pub actions_per_second: u32,
    /// Requests per second per account of particular actions, by wire name (e.g.
    /// `ForbidLiveStream`), overriding `actions_per_second`. Default
    /// [`DEFAULT_ACTION_LIMITS`] (Forbid 20, Resume 30, BlockList 50). Names that are not an
    /// action of the API are ignored (and logged when the router is built). 0 counts as 1.
    pub action_limits: HashMap<String, u32>,
    /// Largest request body, bytes. Default 512 KiB (a Create with 30 source URLs of 2000
    /// characters, percent-encoded, fits).
    pub max_body_bytes: usize,
    /// How far a request's time may be from now, seconds. Default 900 (15 minutes, POP's).
    pub request_time_window: i64,
    /// Spent signed requests (Alibaba nonces, Volcengine state-changing requests) each access
    /// key may have within their window (15 minutes after their signed time). A key that has
    /// this many gets `Throttling.User` (Volcengine: `FlowLimitExceeded`) until its oldest
    /// expire; no other key is affected. Default [`DEFAULT_REPLAY_SHARE`] (at most ~5 MB of
    /// memory per key), more than a key can spend in a window at the provider's default rates.
    pub replay_share_per_key: usize,
    /// `HostId` of error responses. Default: the request's `Host` header.
    pub host_id: Option<String>,
    /// `Recommend` of error responses: a URL template in which `{code}` and `{request_id}`
    /// are replaced. Default: empty (Baton has no troubleshooting site).
    pub recommend_url: Option<String>,
    /// Requests per second per account on the native API (`/v1`), burst the same.
    /// Default 50. 0 counts as 1.
    pub native_requests_per_second: u32,
    /// The wall clock for request-time checks. Default the system clock.
    pub clock: Arc<dyn WallClock>,
}

impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            regions: DEFAULT_REGIONS.iter().map(|r| r.to_string()).collect(),
            actions_per_second: 10,
            action_limits: DEFAULT_ACTION_LIMITS
                .iter()
                .map(|(action, rate)| (action.to_string(), *rate))
                .collect(),
            max_body_bytes: 512 * 1024,
            request_time_window: 15 * 60,
            replay_share_per_key: DEFAULT_REPLAY_SHARE,
            host_id: None,
            recommend_url: None,
            native_requests_per_second: 50,
            clock: Arc::new(SystemClock),
        }
    }
}

impl ApiConfig {
    /// Requests per second per account allowed for the action named `action`: its entry in
    /// [`ApiConfig::action_limits`], else [`ApiConfig::actions_per_second`].
    pub fn rate_of(&self, action: &str) -> u32 {
        self.action_limits
            .get(action)
            .copied()
            .unwrap_or(self.actions_per_second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_limits_per_action() {
        let c = ApiConfig::default();
        assert_eq!(c.rate_of("ForbidLiveStream"), 20);
        assert_eq!(c.rate_of("ResumeLiveStream"), 30);
        assert_eq!(c.rate_of("DescribeLiveStreamsBlockList"), 50);
        assert_eq!(c.rate_of("StopLivePullToPush"), 10);
        assert_eq!(c.rate_of("CreateLivePullToPush"), 10);
        // The default moves the actions without their own limit only.
        let c = ApiConfig {
            actions_per_second: 3,
            ..ApiConfig::default()
        };
        assert_eq!(c.rate_of("StopLivePullToPush"), 3);
        assert_eq!(c.rate_of("ForbidLiveStream"), 20);
    }
}
