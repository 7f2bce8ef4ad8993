//! 33-bit PTS/DTS (ISO/IEC 13818-1 2.4.3.7) unwrapped onto one i64 90 kHz timeline.

/// The PTS/DTS fields are 33 bits wide and wrap about every 26.5 hours.
pub(crate) const WRAP: i64 = 1 << 33;
const HALF: i64 = 1 << 32;

/// Maps raw 33-bit timestamps onto a continuous i64 timeline.
///
/// Each value is placed at the point nearest to the previous one (within ±2^32 ticks, about
/// 13 hours), so a wrap from 2^33-1 to 0 moves forward while the ordinary backward steps of
/// B-frame PTS and audio/video interleaving stay small backward steps. One unwrapper serves a
/// whole program: its streams share the one 90 kHz clock.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Unwrapper {
    last: Option<i64>,
}

impl Unwrapper {
    /// Unwraps `raw` (only its low 33 bits are used).
    pub(crate) fn unwrap(&mut self, raw: u64) -> i64 {
        // Masked to 33 bits, so the cast cannot lose anything.
        let raw = (raw & (WRAP as u64 - 1)) as i64;
        let value = match self.last {
            None => raw,
            Some(last) => {
                let delta = (raw - last.rem_euclid(WRAP) + HALF).rem_euclid(WRAP) - HALF;
                last.saturating_add(delta)
            }
        };
        self.last = Some(value);
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_is_taken_as_is() {
        let mut u = Unwrapper::default();
        assert_eq!(u.unwrap(12345), 12345);
    }

    #[test]
    fn wrap_moves_forward() {
        let mut u = Unwrapper::default();
        assert_eq!(u.unwrap((WRAP - 3000) as u64), WRAP - 3000);
        assert_eq!(u.unwrap(600), WRAP + 600);
        assert_eq!(u.unwrap(4200), WRAP + 4200);
        // A second wrap, in steps under 2^32.
        assert_eq!(u.unwrap(1 << 32), WRAP + (1 << 32));
        assert_eq!(u.unwrap((WRAP - 10) as u64), 2 * WRAP - 10);
        assert_eq!(u.unwrap(5), 2 * WRAP + 5);
    }

    #[test]
    fn small_backward_steps_are_not_wraps() {
        let mut u = Unwrapper::default();
        assert_eq!(u.unwrap(90_000), 90_000);
        assert_eq!(u.unwrap(86_400), 86_400);
        // Backward across the wrap point: from just after it to just before it.
        assert_eq!(u.unwrap(100), 100);
        assert_eq!(u.unwrap((WRAP - 3600) as u64), -3600);
    }
}
