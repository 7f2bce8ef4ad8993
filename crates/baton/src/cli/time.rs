//! Times on the command line (`--start now`, `--end +2h`, RFC 3339) and in tables
//! (`2026-11-23T04:00:00Z (in 2h)`), on Unix seconds without a date crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use baton_domain::time::{days_from_civil, days_in_month, rfc3339};

/// The local clock, Unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Unix seconds as the API writes them: `2026-11-23T04:00:00Z`.
pub fn format_utc(t: i64) -> String {
    rfc3339(t)
}

/// Parses RFC 3339 (`2026-11-23T04:00:00Z`, `2026-11-23T12:00:00.5+08:00`, `t`/`z` and a
/// space separator accepted) into Unix seconds; fractions are dropped.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        b[range].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let (month, day) = (u32::try_from(month).ok()?, u32::try_from(day).ok()?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &b[19..];
    if rest.first() == Some(&b'.') {
        let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = &rest[1 + digits..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digit = |c: &u8| c.is_ascii_digit().then(|| i64::from(c - b'0'));
            let (h, m) = (digit(h1)? * 10 + digit(h2)?, digit(m1)? * 10 + digit(m2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let offset = h * 3600 + m * 60;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };
    let second = second.min(59); // a leap second is the last second of its minute
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// A time given on the command line: `now`, an RFC 3339 time, or `+DURATION` (`+2h`, `+30m`,
/// `+7d`, `+90s`) from a base the command chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Now,
    At(i64),
    After(Duration),
}

impl When {
    /// The clap value parser.
    pub fn parse(s: &str) -> Result<When, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("now") {
            return Ok(When::Now);
        }
        if let Some(d) = s.strip_prefix('+') {
            return crate::duration::parse(d).map(When::After);
        }
        parse_rfc3339(s).map(When::At).ok_or_else(|| {
            format!(
                "{s:?} is not a time: use RFC 3339 (2026-11-23T20:00:00Z, \
                 2026-11-23T21:00:00+01:00), now, or +DURATION (+30m, +2h, +7d)"
            )
        })
    }

    /// Unix seconds, `+DURATION` counted from `base`.
    pub fn resolve(self, now: i64, base: i64) -> i64 {
        match self {
            When::Now => now,
            When::At(t) => t,
            When::After(d) => base.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        }
    }
}

/// `in 5m`, `3m ago`, `now`: how far `t` is from `now`, for tables.
pub fn relative(t: i64, now: i64) -> String {
    let d = t - now;
    if d == 0 {
        return "now".to_string();
    }
    let span = span(d.unsigned_abs());
    if d > 0 {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// `45s`, `12m`, `1h30m`, `3d`: a coarse span for relative hints.
fn span(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..172_800 => match s / 60 % 60 {
            0 => format!("{}h", s / 3600),
            m => format!("{}h{m}m", s / 3600),
        },
        _ => format!("{}d", s / 86_400),
    }
}

/// `1h02m03s`: an uptime or another elapsed time, to the second.
pub fn elapsed(seconds: f64) -> String {
    let s = if seconds.is_finite() && seconds > 0.0 {
        seconds as u64
    } else {
        0
    };
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{s:02}s"),
        (0, _, _) => format!("{h}h{m:02}m{s:02}s"),
        _ => format!("{d}d{h:02}h{m:02}m"),
    }
}

/// A time from the server with its relative hint: `2026-11-23T04:00:00Z (in 2h)`; the text as
/// sent if it does not parse.
pub fn with_hint(s: &str, now: i64) -> String {
    match parse_rfc3339(s) {
        Some(t) => format!("{s} ({})", relative(t, now)),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_with_offsets_and_fractions() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-11-22T19:07:58Z"), Some(1_795_374_478));
        assert_eq!(parse_rfc3339("2026-11-22t19:07:58z"), Some(1_795_374_478));
        assert_eq!(parse_rfc3339("2026-11-22 19:07:58Z"), Some(1_795_374_478));
        assert_eq!(
            parse_rfc3339("2026-11-23T03:07:58+08:00"),
            Some(1_795_374_478)
        );
        assert_eq!(
            parse_rfc3339("2026-11-22T14:07:58.999-05:00"),
            Some(1_795_374_478)
        );
        for bad in [
            "",
            "2026-11-22",
            "2026-11-22T19:07:58",
            "2026-11-22T19:07:58.Z",
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T19:07:58+8:00",
            "2026-11-22T19:07:58+08:00 ",
            "tomorrow",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn formats_like_the_server() {
        assert_eq!(format_utc(1_795_374_478), "2026-11-22T19:07:58Z");
    }

    #[test]
    fn command_line_times() {
        assert_eq!(When::parse("now"), Ok(When::Now));
        assert_eq!(When::parse("NOW"), Ok(When::Now));
        assert_eq!(
            When::parse("+2h"),
            Ok(When::After(Duration::from_secs(7200)))
        );
        assert_eq!(
            When::parse("+30m"),
            Ok(When::After(Duration::from_secs(1800)))
        );
        assert_eq!(
            When::parse("+7d"),
            Ok(When::After(Duration::from_secs(7 * 86_400)))
        );
        assert_eq!(
            When::parse("2026-11-22T19:07:58Z"),
            Ok(When::At(1_795_374_478))
        );
        assert!(When::parse("+2 fortnights").is_err());
        assert!(When::parse("2h").is_err());
        assert!(When::parse("").is_err());

        let (now, base) = (1_000, 5_000);
        assert_eq!(When::Now.resolve(now, base), 1_000);
        assert_eq!(When::At(42).resolve(now, base), 42);
        assert_eq!(
            When::After(Duration::from_secs(60)).resolve(now, base),
            5_060
        );
    }

    #[test]
    fn relative_hints() {
        let now = 1_000_000;
        assert_eq!(relative(now, now), "now");
        assert_eq!(relative(now + 300, now), "in 5m");
        assert_eq!(relative(now - 180, now), "3m ago");
        assert_eq!(relative(now - 59, now), "59s ago");
        assert_eq!(relative(now + 5400, now), "in 1h30m");
        assert_eq!(relative(now + 7200, now), "in 2h");
        assert_eq!(relative(now - 3 * 86_400 - 5, now), "3d ago");
        assert_eq!(
            with_hint("1970-01-12T13:46:40Z", now + 120),
            "1970-01-12T13:46:40Z (2m ago)"
        );
        assert_eq!(with_hint("soon", now), "soon");
    }

    #[test]
    fn elapsed_times() {
        assert_eq!(elapsed(0.0), "0s");
        assert_eq!(elapsed(-3.0), "0s");
        assert_eq!(elapsed(f64::NAN), "0s");
        assert_eq!(elapsed(59.9), "59s");
        assert_eq!(elapsed(725.0), "12m05s");
        assert_eq!(elapsed(3723.0), "1h02m03s");
        assert_eq!(elapsed(2.0 * 86_400.0 + 3600.0 * 4.0 + 60.0), "2d04h01m");
    }
}
