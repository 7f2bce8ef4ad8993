//! Wall-clock time for the scheduler, injectable.
//!
//! Task times (start, end, retries) are Unix seconds. [`TokioClock`] derives them from
//! `tokio::time`, so `#[tokio::test(start_paused = true)]` moves schedules, retries and end
//! times forward without sleeping; [`SystemClock`] reads the system clock.

use std::time::{SystemTime, UNIX_EPOCH};

use baton_domain::UnixTime;
use tokio::time::{Duration, Instant};

/// Gives `now` to the domain.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    fn now(&self) -> UnixTime;

    /// The tokio instant at which Unix time `at` arrives (for sleeping until it).
    fn instant_at(&self, at: UnixTime) -> Instant {
        let delta = at - self.now();
        let now = Instant::now();
        if delta <= 0 {
            now
        } else {
            now + Duration::from_secs(delta as u64)
        }
    }
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as UnixTime,
            // A clock before 1970 is a misconfigured host; time 0 keeps arithmetic sane.
            Err(_) => 0,
        }
    }
}

/// Unix time that advances with `tokio::time` from a fixed starting point: paused-time tests
/// drive it with `tokio::time::advance` / auto-advance.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base_unix: UnixTime,
    base: Instant,
}

impl TokioClock {
    /// A clock that reads `start` now.
    pub fn starting_at(start: UnixTime) -> TokioClock {
        TokioClock {
            base_unix: start,
            base: Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> UnixTime {
        self.base_unix + self.base.elapsed().as_secs() as UnixTime
    }

    fn instant_at(&self, at: UnixTime) -> Instant {
        let offset = (at - self.base_unix).max(0) as u64;
        self.base + Duration::from_secs(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let clock = TokioClock::starting_at(1_700_000_000);
        assert_eq!(clock.now(), 1_700_000_000);
        tokio::time::sleep_until(clock.instant_at(1_700_000_090)).await;
        assert_eq!(clock.now(), 1_700_000_090);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now() > 1_577_836_800);
    }
}
