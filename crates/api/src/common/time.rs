//! Wall-clock time for the API (request-time windows, replay cache) and the providers' time
//! format `yyyy-MM-ddTHH:mm:ssZ` (UTC, second resolution), parsed strictly.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use baton_domain::{UnixTime, time};

/// Gives the API the current Unix time. Injected so tests can pin it (the captured SDK
/// requests carry fixed timestamps).
pub trait WallClock: Send + Sync + fmt::Debug + 'static {
    fn now(&self) -> UnixTime;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl WallClock for SystemClock {
    fn now(&self) -> UnixTime {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as UnixTime,
            // A host clock before 1970 is misconfigured; 0 keeps the arithmetic defined.
            Err(_) => 0,
        }
    }
}

/// A clock that shows what it is told (tests, replays of captured requests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(now: UnixTime) -> ManualClock {
        ManualClock(AtomicI64::new(now))
    }

    pub fn set(&self, now: UnixTime) {
        self.0.store(now, Ordering::SeqCst);
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl WallClock for ManualClock {
    fn now(&self) -> UnixTime {
        self.0.load(Ordering::SeqCst)
    }
}

/// Parses `yyyy-MM-ddTHH:mm:ssZ` (exactly 20 characters, UTC, years 1970–9999) into Unix
/// seconds. Anything else — fractions, offsets, lower-case `t`/`z`, out-of-range fields — is
/// `None`.
pub fn parse_utc(s: &str) -> Option<UnixTime> {
    let b = s.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        b[range].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (month, day) = (u32::try_from(month).ok()?, u32::try_from(day).ok()?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if year < 1970
        || !(1..=12).contains(&month)
        || day < 1
        || day > time::days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some(time::days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Formats Unix seconds as `yyyy-MM-ddTHH:mm:ssZ`. Times before 1970 or after 9999 are
/// clamped to the representable range (the domain never produces them).
pub fn format_utc(t: UnixTime) -> String {
    const MAX: UnixTime = 253_402_300_799; // 9999-12-31T23:59:59Z
    time::rfc3339(t.clamp(0, MAX))
}

/// An RFC3339 time: `yyyy-MM-ddTHH:mm:ss`, optional fraction, then `Z` or `±hh:mm`.
pub fn parse_rfc3339(v: &str) -> Option<UnixTime> {
    let b = v.as_bytes();
    if b.len() < 20 || !b[..19].is_ascii() {
        return None;
    }
    // RFC 3339 allows lower-case `t` and `z`.
    let head = v[..19].replacen('t', "T", 1);
    let base = parse_utc(&format!("{head}Z"))?;
    let mut rest = &v[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let (sign, hm) = match rest.as_bytes().first()? {
                b'+' => (1, &rest[1..]),
                b'-' => (-1, &rest[1..]),
                _ => return None,
            };
            let (h, m) = hm.split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    Some(base - offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0));
        // The captures' timestamp; `date -u -d 2026-11-22T19:07:58Z +%s`.
        assert_eq!(parse_utc("2026-11-22T19:07:58Z"), Some(1_795_374_478));
        assert_eq!(parse_utc("2024-02-29T23:59:59Z"), Some(1_709_251_199));
        assert_eq!(format_utc(1_795_374_478), "2026-11-22T19:07:58Z");
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn malformed_times_are_refused() {
        for s in [
            "",
            "2026-11-22T19:07:58",
            "2026-11-22T19:07:58z",
            "2026-11-22 19:07:58Z",
            "2026-11-22T19:07:58.000Z",
            "2026-11-22T19:07:58+08:00",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-00-10T00:00:00Z",
            "2026-01-00T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:60:00Z",
            "2026-01-01T00:00:60Z",
            "1969-12-31T23:59:59Z",
            "+026-01-01T00:00:00Z",
            "2026-1-01T00:00:00Z ",
            "２０２６-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_utc(s), None, "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(t in 0i64..253_402_300_799) {
            prop_assert_eq!(parse_utc(&format_utc(t)), Some(t));
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,24}") {
            let _ = parse_utc(&s);
        }
    }
}
