//! Calendar arithmetic on Unix seconds (UTC, proleptic Gregorian), without a date crate: the
//! providers' `yyyy-MM-ddTHH:mm:ssZ` format and calendar months. The one place for it: the
//! API parses and formats with it, the engine stamps callbacks, ingest control adds months.

use crate::task::UnixTime;

/// `1700000000` → `2023-11-14T22:13:20Z`.
pub fn rfc3339(t: UnixTime) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// `t` plus `months` calendar months (UTC), clamping the day to the month's length.
pub fn add_months(t: UnixTime, months: u32) -> UnixTime {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let total = i64::from(m) - 1 + i64::from(months);
    let year = y + total.div_euclid(12);
    let month = u32::try_from(total.rem_euclid(12)).unwrap_or(0) + 1;
    let day = d.min(days_in_month(year, month));
    days_from_civil(year, month, day) * 86_400 + secs
}

pub fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date (H. Hinnant's days_from_civil, public domain).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day since 1970-01-01 (H. Hinnant's civil_from_days).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T2026_11_22: UnixTime = 1_795_305_600; // 2026-11-22T00:00:00Z

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-800_000i64, -1, 0, 1, 59, 60, 10_956, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(T2026_11_22 / 86_400), (2026, 11, 22));
    }

    #[test]
    fn six_calendar_months() {
        let t = T2026_11_22 + 3_723; // 01:02:03
        let resumed = crate::ingest::default_resume_at(t);
        assert_eq!(civil_from_days(resumed / 86_400), (2027, 5, 22));
        assert_eq!(resumed % 86_400, 3_723);
        // Aug 31 → Feb 28 (2027 is not a leap year), Aug 31 2027 → Feb 29 2028.
        let aug31 = days_from_civil(2026, 8, 31) * 86_400;
        assert_eq!(
            civil_from_days(add_months(aug31, 6) / 86_400),
            (2027, 2, 28)
        );
        let aug31 = days_from_civil(2027, 8, 31) * 86_400;
        assert_eq!(
            civil_from_days(add_months(aug31, 6) / 86_400),
            (2028, 2, 29)
        );
        assert_eq!(
            civil_from_days(add_months(aug31, 0) / 86_400),
            (2027, 8, 31)
        );
        assert_eq!(
            civil_from_days(add_months(aug31, 29) / 86_400),
            (2030, 1, 31)
        );
    }
}
