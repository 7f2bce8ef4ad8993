//! 32-bit wire timestamps ↔ 64-bit timeline milliseconds.
//!
//! RTMP (spec 1.0 section 5.3.1.1, extended timestamp 5.3.1.3) and FLV (spec E.4.1,
//! `Timestamp` + `TimestampExtended`) carry milliseconds in 32 bits, which wrap after
//! 2^32 ms ≈ 49.7 days. Everything inside Baton works on `i64` milliseconds.

/// Turns a stream of 32-bit timestamps into monotonic-in-spirit `i64` milliseconds across the
/// 32-bit wrap.
///
/// Each timestamp is read as a signed step from the previous one
/// (`ts.wrapping_sub(last) as i32`), so a small backwards step (B-frame DTS reorder at the
/// source, audio/video interleaving) stays a small backwards step and is never mistaken for a
/// wrap, while `0xFFFF_FFF0 → 0x10` is a step of +32 ms. Steps beyond ±2^31 ms (≈ 24.8 days)
/// are ambiguous by construction and read as the shorter way round.
///
/// The first timestamp maps to itself (`0xFFFF_FF00` → `4294967040`); the output may later go
/// below zero if the source steps backwards from 0.
#[derive(Clone, Debug, Default)]
pub struct TimestampUnwrapper {
    /// The previous wire timestamp and what it unwrapped to.
    last: Option<(u32, i64)>,
}

impl TimestampUnwrapper {
    /// An unwrapper that has seen nothing: the next timestamp maps to itself.
    pub fn new() -> Self {
        TimestampUnwrapper { last: None }
    }

    /// Unwraps one wire timestamp.
    pub fn unwrap(&mut self, ts: u32) -> i64 {
        let value = match self.last {
            None => i64::from(ts),
            // Reinterpreting the wrapped difference as i32 is the whole trick: it picks the
            // nearer of the two readings (forward past the wrap, or backward).
            Some((last_ts, last_value)) => last_value + i64::from(ts.wrapping_sub(last_ts) as i32),
        };
        self.last = Some((ts, value));
        value
    }

    /// Forgets the history: the next timestamp maps to itself again (a new connection).
    pub fn reset(&mut self) {
        self.last = None;
    }
}

/// The 32-bit timestamp written on the wire for an output timeline position: `dts` modulo
/// 2^32. Values past 0xFFFFFF are legal (RTMP extended timestamp, FLV `TimestampExtended`);
/// the receiver unwraps them again.
pub fn wire_timestamp(dts: i64) -> u32 {
    // `as u32` keeps the low 32 bits, i.e. reduction modulo 2^32 (two's complement makes this
    // the Euclidean remainder for negative values too).
    dts as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_value_maps_to_itself() {
        let mut u = TimestampUnwrapper::new();
        assert_eq!(u.unwrap(0xFFFF_FF00), 0xFFFF_FF00);
    }

    #[test]
    fn crosses_the_wrap_forward() {
        let mut u = TimestampUnwrapper::new();
        assert_eq!(u.unwrap(u32::MAX - 20), i64::from(u32::MAX) - 20);
        assert_eq!(u.unwrap(u32::MAX), i64::from(u32::MAX));
        assert_eq!(u.unwrap(12), (1i64 << 32) + 12);
        assert_eq!(u.unwrap(40), (1i64 << 32) + 40);
    }

    #[test]
    fn small_backward_step_across_the_wrap_is_not_a_wrap() {
        let mut u = TimestampUnwrapper::new();
        assert_eq!(u.unwrap(5), 5);
        // An audio frame interleaved 10 ms behind a video frame that sits just past the wrap.
        let mut u2 = TimestampUnwrapper::new();
        u2.unwrap(u32::MAX - 3);
        assert_eq!(u2.unwrap(6), (1i64 << 32) + 6);
        assert_eq!(u2.unwrap(u32::MAX - 4), i64::from(u32::MAX) - 4);
        assert_eq!(u2.unwrap(40), (1i64 << 32) + 40);
        // Backwards from 0 goes negative rather than jumping ~49.7 days ahead.
        assert_eq!(u.unwrap(u32::MAX - 1), -2);
        let mut u3 = TimestampUnwrapper::new();
        u3.unwrap(0);
        assert_eq!(u3.unwrap(u32::MAX), -1);
    }

    #[test]
    fn reset_forgets_history() {
        let mut u = TimestampUnwrapper::new();
        u.unwrap(u32::MAX);
        u.unwrap(100);
        u.reset();
        assert_eq!(u.unwrap(7), 7);
    }

    #[test]
    fn wire_timestamp_wraps_modulo_2_pow_32() {
        assert_eq!(wire_timestamp(0), 0);
        assert_eq!(wire_timestamp(0x00FF_FFFF + 1), 0x0100_0000);
        assert_eq!(wire_timestamp(1i64 << 32), 0);
        assert_eq!(wire_timestamp((1i64 << 32) + 5), 5);
        assert_eq!(wire_timestamp(-1), u32::MAX);
    }

    proptest! {
        /// A monotonic source crossing the wrap any number of times, with small backward
        /// jitter, unwraps to the true 64-bit value, and `wire_timestamp` inverts it.
        #[test]
        fn unwrap_tracks_true_time(
            start in any::<u32>(),
            steps in proptest::collection::vec(-2_000i64..100_000_000, 1..200),
        ) {
            let mut u = TimestampUnwrapper::new();
            let mut truth = i64::from(start);
            prop_assert_eq!(u.unwrap(start), truth);
            for step in steps {
                truth += step;
                let wire = wire_timestamp(truth);
                prop_assert_eq!(u.unwrap(wire), truth);
            }
        }
    }
}
