//! A fixed-size log-linear latency histogram (microseconds), HDR-style: exact below 1 024 µs,
//! then 64 sub-buckets per power of two (relative error under 1.6 %). Recording is a few
//! integer operations and never allocates, so the sink can record every frame.

/// Values below this are stored exactly (one bucket per microsecond).
const LINEAR: u64 = 1024;
/// Sub-buckets per power of two above [`LINEAR`].
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Powers of two covered above [`LINEAR`]: 2^10 µs .. 2^36 µs (about 19 hours).
const OCTAVES: u64 = 26;
const BUCKETS: usize = (LINEAR + OCTAVES * SUB) as usize;

/// Latency histogram in microseconds.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Box<[u32]>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
            max: 0,
        }
    }

    /// Records one value (µs). Values beyond the range land in the last bucket.
    pub fn record(&mut self, micros: u64) {
        let i = bucket(micros).min(BUCKETS - 1);
        self.counts[i] = self.counts[i].saturating_add(1);
        self.total += 1;
        self.max = self.max.max(micros);
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.saturating_add(*b);
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0..=1), as the upper bound of its bucket (so a reported
    /// p99 is never below the true one by more than the bucket width). `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                return Some(upper_bound(i).min(self.max));
            }
        }
        Some(self.max)
    }
}

fn bucket(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    // v >= 2^10: octave = floor(log2 v) - 10, sub-bucket = the next SUB_BITS bits.
    let log = 63 - v.leading_zeros();
    let octave = u64::from(log - 10);
    let sub = (v >> (log - SUB_BITS)) & (SUB - 1);
    (LINEAR + octave * SUB + sub) as usize
}

/// The largest value that falls into bucket `i`.
fn upper_bound(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let octave = (i - LINEAR) / SUB;
    let sub = (i - LINEAR) % SUB;
    let log = octave + 10;
    let width = 1u64 << (log - u64::from(SUB_BITS));
    (1u64 << log) + (sub + 1) * width - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_below_linear_range() {
        let mut h = Histogram::new();
        for v in 0..1000 {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), Some(499));
        assert_eq!(h.quantile(0.99), Some(989));
        assert_eq!(h.quantile(1.0), Some(999));
    }

    #[test]
    fn relative_error_is_bounded_above_linear_range() {
        for v in [
            1024u64,
            1500,
            4095,
            4096,
            10_000,
            123_456,
            9_999_999,
            1 << 35,
        ] {
            let b = bucket(v);
            let ub = upper_bound(b);
            assert!(ub >= v, "{v}: upper bound {ub}");
            assert!(
                (ub - v) as f64 / v as f64 <= 1.0 / 64.0,
                "{v}: upper bound {ub}"
            );
            if b > 0 {
                assert!(upper_bound(b - 1) < v, "{v} belongs to an earlier bucket");
            }
        }
    }

    #[test]
    fn buckets_are_monotonic_and_contiguous() {
        let mut prev = 0;
        for v in 0..200_000u64 {
            let b = bucket(v);
            assert!(b == prev || b == prev + 1, "gap at {v}");
            prev = b;
        }
    }

    #[test]
    fn merge_empty_and_overflow() {
        let empty = Histogram::new();
        assert_eq!(empty.quantile(0.5), None);
        let mut a = Histogram::new();
        a.record(u64::MAX);
        let mut b = Histogram::new();
        b.record(10);
        b.merge(&a);
        assert_eq!(b.count(), 2);
        assert_eq!(b.quantile(0.5), Some(10));
        assert_eq!(b.max(), u64::MAX);
        assert!(b.quantile(1.0).is_some());
    }
}
