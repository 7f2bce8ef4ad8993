//! Per-key rate limiting with the generic cell rate algorithm (GCRA, as in `governor`): each
//! key has a theoretical arrival time (TAT); a request at `now` conforms when
//! `TAT - now <= tolerance`, and then moves TAT to `max(TAT, now) + interval`.
//!
//! `rate` requests per second with a burst of `rate`: interval = 1 s / rate and tolerance =
//! (burst − 1) × interval, so an idle key may send `rate` requests at once and then one per
//! interval. Time is `tokio::time::Instant`, so paused-time tests drive it.
//!
//! Keys may have different rates ([`Throttle::check_at`]): the rate is a property of the key
//! (e.g. of the action in an (account, action) key), so a key's TAT is always advanced with
//! the same interval.
//!
//! Memory: one entry per key. An entry whose TAT has passed carries no information (a fresh
//! key behaves the same), so when the map reaches `max_keys` those are dropped; keys come
//! from authenticated (account, action) pairs, which bounds the rest.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use baton_domain::AccountId;
use tokio::time::Instant;

use crate::config::ApiConfig;
use crate::error::ApiError;

/// A GCRA limiter per key.
#[derive(Debug)]
pub struct Throttle<K> {
    default: Rate,
    max_keys: usize,
    tats: Mutex<HashMap<K, Instant>>,
}

/// A rate in GCRA terms: `rate` per second with a burst of `rate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    interval: Duration,
    tolerance: Duration,
}

impl Rate {
    /// `rate` requests per second (at least 1), burst `rate`.
    pub fn per_second(rate: u32) -> Rate {
        let rate = rate.max(1);
        let interval = Duration::from_secs(1) / rate;
        Rate {
            interval,
            tolerance: interval * (rate - 1),
        }
    }
}

impl<K: Eq + Hash + Clone> Throttle<K> {
    /// `rate` requests per second per key (at least 1), burst `rate`; remembers at most
    /// about `max_keys` active keys.
    pub fn per_second(rate: u32, max_keys: usize) -> Throttle<K> {
        Throttle {
            default: Rate::per_second(rate),
            max_keys: max_keys.max(1),
            tats: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a request of `key` at `now` conforms at the throttle's rate; if it does, it is
    /// counted. If not, the error is how long until one would.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        self.check_at(key, self.default, now)
    }

    /// [`Throttle::check`] at `rate` (always the same for a given key).
    pub fn check_at(&self, key: &K, rate: Rate, now: Instant) -> Result<(), Duration> {
        // A poisoned lock only means a panic elsewhere mid-update; the map is still usable.
        let mut tats = self.tats.lock().unwrap_or_else(|e| e.into_inner());
        let tat = tats.get(key).copied().unwrap_or(now).max(now);
        let ahead = tat.duration_since(now);
        if ahead > rate.tolerance {
            return Err(ahead - rate.tolerance);
        }
        if tats.len() >= self.max_keys && !tats.contains_key(key) {
            tats.retain(|_, t| *t > now);
        }
        tats.insert(key.clone(), tat + rate.interval);
        Ok(())
    }

    /// Number of keys remembered.
    pub fn len(&self) -> usize {
        self.tats.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A dialect's limits: per account and action, each action at its configured rate
/// ([`ApiConfig::rate_of`] its wire name).
#[derive(Debug)]
pub struct ActionThrottle<A> {
    throttle: Throttle<(AccountId, A)>,
    rates: HashMap<A, Rate>,
}

/// Throttle entries kept before idle ones are dropped (accounts × actions).
const ACTION_KEYS: usize = 100_000;

impl<A: Copy + Eq + Hash> ActionThrottle<A> {
    /// Limits for `actions`, given with their wire names.
    pub fn new(actions: impl IntoIterator<Item = (A, &'static str)>, config: &ApiConfig) -> Self {
        ActionThrottle {
            throttle: Throttle::per_second(config.actions_per_second, ACTION_KEYS),
            rates: actions
                .into_iter()
                .map(|(a, name)| (a, Rate::per_second(config.rate_of(name))))
                .collect(),
        }
    }

    /// The rate of `action` (the default for an action not given to [`ActionThrottle::new`]).
    pub fn rate(&self, action: A) -> Rate {
        self.rates
            .get(&action)
            .copied()
            .unwrap_or(self.throttle.default)
    }

    /// Whether `account` may call `action` at `now`; [`ApiError::Throttled`] says when it may.
    pub fn check(&self, account: &AccountId, action: A, now: Instant) -> Result<(), ApiError> {
        self.throttle
            .check_at(&(account.clone(), action), self.rate(action), now)
            .map_err(|retry_after| ApiError::Throttled { retry_after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate() {
        let t = Throttle::per_second(10, 100);
        let start = Instant::now();
        for i in 0..10 {
            assert!(t.check(&"a", start).is_ok(), "request {i} of the burst");
        }
        assert_eq!(t.check(&"a", start), Err(Duration::from_millis(100)));
        // Other keys are independent.
        assert!(t.check(&"b", start).is_ok());
        // One interval later, exactly one more.
        let later = start + Duration::from_millis(100);
        assert!(t.check(&"a", later).is_ok());
        assert!(t.check(&"a", later).is_err());
        // After a full second idle, a full burst again.
        let idle = later + Duration::from_secs(1);
        for _ in 0..10 {
            assert!(t.check(&"a", idle).is_ok());
        }
        assert!(t.check(&"a", idle).is_err());
    }

    #[test]
    fn sustained_rate_is_the_configured_one() {
        let t = Throttle::per_second(10, 100);
        let start = Instant::now();
        let mut allowed = 0;
        // 100 requests per second for 5 s: 10 (burst) + 10 per second.
        for ms in (0..5000).step_by(10) {
            if t.check(&"a", start + Duration::from_millis(ms)).is_ok() {
                allowed += 1;
            }
        }
        assert!((59..=61).contains(&allowed), "{allowed}");
    }

    #[test]
    fn keys_with_their_own_rates() {
        let t = Throttle::per_second(10, 100);
        let start = Instant::now();
        let twenty = Rate::per_second(20);
        for i in 0..20 {
            assert!(t.check_at(&"forbid", twenty, start).is_ok(), "request {i}");
        }
        assert_eq!(
            t.check_at(&"forbid", twenty, start),
            Err(Duration::from_millis(50))
        );
        for i in 0..10 {
            assert!(t.check(&"stop", start).is_ok(), "request {i}");
        }
        assert!(t.check(&"stop", start).is_err());
        let later = start + Duration::from_millis(50);
        assert!(t.check_at(&"forbid", twenty, later).is_ok());
        assert!(t.check(&"stop", later).is_err());
        assert_eq!(Rate::per_second(0), Rate::per_second(1));
    }

    #[test]
    fn idle_keys_are_dropped_when_full() {
        let t = Throttle::per_second(10, 4);
        let start = Instant::now();
        for k in 0..4 {
            assert!(t.check(&k, start).is_ok());
        }
        assert_eq!(t.len(), 4);
        assert!(t.check(&99, start + Duration::from_secs(1)).is_ok());
        assert_eq!(t.len(), 1);
    }
}
