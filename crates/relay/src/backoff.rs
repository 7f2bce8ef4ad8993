//! Exponential backoff with jitter.

use std::time::Duration;

use rand::Rng;

/// Delays between reconnection attempts: `initial × multiplier^n`, capped at `max`, each
/// scaled by a random factor in `[1 − jitter, 1 + jitter]` so that many relays that lost the
/// same server don't come back in lockstep.
#[derive(Clone, Debug, PartialEq)]
pub struct BackoffConfig {
    pub initial: Duration,
    pub max: Duration,
    pub multiplier: f64,
    /// Fraction in `0.0..=1.0`.
    pub jitter: f64,
}

impl BackoffConfig {
    pub const fn new(initial: Duration, max: Duration) -> BackoffConfig {
        BackoffConfig {
            initial,
            max,
            multiplier: 2.0,
            jitter: 0.2,
        }
    }
}

/// The state of one backoff sequence.
#[derive(Clone, Debug)]
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
}

impl Backoff {
    pub fn new(config: BackoffConfig) -> Backoff {
        Backoff { config, attempt: 0 }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let exp = self
            .config
            .multiplier
            .max(1.0)
            .powi(self.attempt.min(32) as i32);
        let base = (self.config.initial.as_secs_f64() * exp).min(self.config.max.as_secs_f64());
        self.attempt = self.attempt.saturating_add(1);
        let jitter = self.config.jitter.clamp(0.0, 1.0);
        let factor = if jitter > 0.0 {
            rng.random_range(1.0 - jitter..=1.0 + jitter)
        } else {
            1.0
        };
        Duration::from_secs_f64((base * factor).max(0.0))
    }

    /// Attempts made since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Back to the initial delay (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn grows_exponentially_to_the_cap_with_bounded_jitter() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut b = Backoff::new(BackoffConfig::new(
            Duration::from_millis(500),
            Duration::from_secs(8),
        ));
        let expected = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0];
        for want in expected {
            let got = b.next_delay(&mut rng).as_secs_f64();
            assert!(
                got >= want * 0.8 - 1e-9 && got <= want * 1.2 + 1e-9,
                "{got} vs {want}"
            );
        }
        assert_eq!(b.attempts(), 7);
        b.reset();
        let got = b.next_delay(&mut rng).as_secs_f64();
        assert!((0.4..=0.6).contains(&got));
    }

    #[test]
    fn jitter_spreads_delays() {
        let mut rng = StdRng::seed_from_u64(1);
        let config = BackoffConfig::new(Duration::from_secs(1), Duration::from_secs(1));
        let delays: Vec<Duration> = (0..20)
            .map(|_| Backoff::new(config.clone()).next_delay(&mut rng))
            .collect();
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 10);
    }
}
