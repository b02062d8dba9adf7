//! Time windows, pure: where a cursor's next window lies, cutting it into slices that fit a
//! lease, alignment to a period, `--start-time`/`--end-time`, and the time formats of the config
//! and the command line. No I/O and no clock: callers pass `now`.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// `t` as RFC 3339 to the second (`2026-11-03T05:00:00Z`), as messages and logs show times.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `--start-time` / `--end-time`: a past window pulled for one run; saved cursors stay where
/// they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backfill {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

impl Backfill {
    /// The name of a replay of this window (S3 services): its start, and its end when
    /// `--end-time` fixed one (without it, the replay's first run fixes the end and keeps it in
    /// the replay's state, so that running it again resumes it).
    pub fn replay_name(&self) -> String {
        let compact = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
        match self.end {
            Some(end) => format!("replay-{}-{}", compact(self.start), compact(end)),
            None => format!("replay-{}", compact(self.start)),
        }
    }
}

/// A time window; both ends included (APIs and cursors work to the millisecond or second, and
/// events stamped exactly at an end are told apart by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The window to pull now, and whether delivering it may move the cursor.
///
/// - a backfill pulls its own window (never past `latest_end`) and leaves the cursor alone;
/// - otherwise the window starts where the cursor is, or at `start_time`, or `lookback` before
///   `latest_end` for a cursor never used, and ends at `latest_end`.
pub fn plan(
    cursor_until: Option<DateTime<Utc>>,
    start_time: Option<DateTime<Utc>>,
    backfill: Option<Backfill>,
    latest_end: DateTime<Utc>,
    lookback: Duration,
) -> Option<(Window, bool)> {
    let (start, end, advances) = match backfill {
        Some(b) => (b.start, b.end.unwrap_or(latest_end).min(latest_end), false),
        None => {
            let start = cursor_until.or(start_time).unwrap_or_else(|| {
                latest_end - chrono::Duration::from_std(lookback).unwrap_or_default()
            });
            (start, latest_end, true)
        }
    };
    (end > start).then_some((Window { start, end }, advances))
}

/// The slice of `window` that starts at `start`: at most `len` long, its end aligned down to
/// `align` when given (but at least one period long), never past the window's end.
pub fn next_slice(
    window: Window,
    start: DateTime<Utc>,
    len: Duration,
    align: Option<Duration>,
) -> Window {
    let len = chrono::Duration::from_std(len).unwrap_or(chrono::Duration::hours(1));
    let mut end = (start + len).min(window.end);
    if let Some(period) = align
        && end < window.end
    {
        let period_len = chrono::Duration::from_std(period).unwrap_or(chrono::Duration::zero());
        end = align_down(end, period)
            .max(start + period_len)
            .min(window.end);
    }
    Window { start, end }
}

/// The shortest slice: below it, a slice is not cut further.
const MIN_SLICE: Duration = Duration::from_secs(60);

/// The next slice's length after one of `len` took `took` under a lease of `lease`: halved
/// when it took more than a quarter of the lease, doubled back (up to `max`) when it took less
/// than a sixteenth.
pub fn adapt_slice(len: Duration, took: Duration, lease: Duration, max: Duration) -> Duration {
    if took > lease / 4 {
        (len / 2).max(MIN_SLICE).min(max)
    } else if took < lease / 16 {
        (len * 2).min(max)
    } else {
        len
    }
}

/// The longest an empty slice may grow to: a window that starts far in the past (`start_time:
/// 1970-01-01`, as the seed's documentation shows) crosses its empty years in a few calls.
pub const MAX_EMPTY_SLICE: Duration = Duration::from_secs(8 * 365 * 24 * 3600);

/// The next slice's length after an empty one of `len`: four times as long, up to
/// [`MAX_EMPTY_SLICE`]; progress follows the data, not empty time.
pub fn grow_empty_slice(len: Duration) -> Duration {
    (len * 4).min(MAX_EMPTY_SLICE)
}

/// Whole seconds from `from` to `to` (none when `to` is earlier).
pub fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    u64::try_from((to - from).num_seconds()).unwrap_or(0)
}

/// `t` rounded down to a multiple of `period` since the epoch.
pub fn align_down(t: DateTime<Utc>, period: Duration) -> DateTime<Utc> {
    let p = i64::try_from(period.as_secs().max(1)).unwrap_or(i64::MAX);
    let secs = t.timestamp().div_euclid(p) * p;
    DateTime::from_timestamp(secs, 0).unwrap_or(t)
}

/// Parses RFC 3339, a date and time without zone (taken as UTC), or a bare date.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, fmt) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// A time as [`parse_datetime`] takes it, or a duration before `now` (`90m`, `2h`).
pub fn parse_time_or_ago(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Some(t) = parse_datetime(s) {
        return Ok(t);
    }
    // `-2h` is how many write "two hours ago".
    let ago = humantime::parse_duration(s.strip_prefix('-').unwrap_or(s)).map_err(|_| {
        format!(
            "expected a time such as 2024-05-01T00:00:00Z or a duration ago such as 2h, got {s:?}"
        )
    })?;
    chrono::Duration::from_std(ago)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| format!("{s:?} reaches too far back"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_ago() {
        let now = t("2024-05-01T12:00:00Z");
        assert_eq!(parse_time_or_ago("2h", now), Ok(t("2024-05-01T10:00:00Z")));
        assert_eq!(parse_time_or_ago("-2h", now), Ok(t("2024-05-01T10:00:00Z")));
        assert_eq!(
            parse_time_or_ago("2024-04-01", now),
            Ok(t("2024-04-01T00:00:00Z"))
        );
        assert!(parse_time_or_ago("yesterday", now).is_err());
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn cursor_then_start_time_then_lookback() {
        let end = t("2024-05-01T12:00:00Z");
        let until = t("2024-05-01T11:00:00Z");
        let hour = Duration::from_secs(3600);
        assert_eq!(
            plan(
                Some(until),
                Some(t("2024-01-01T00:00:00Z")),
                None,
                end,
                hour
            ),
            Some((Window { start: until, end }, true))
        );
        assert_eq!(
            plan(None, Some(t("2024-05-01T10:00:00Z")), None, end, hour).map(|w| w.0.start),
            Some(t("2024-05-01T10:00:00Z"))
        );
        assert_eq!(
            plan(None, None, None, end, hour).map(|w| w.0.start),
            Some(t("2024-05-01T11:00:00Z"))
        );
        assert_eq!(plan(Some(end), None, None, end, hour), None);
    }

    #[test]
    fn backfill_never_moves_the_cursor_and_stops_at_the_latest_end() {
        let end = t("2024-05-01T12:00:00Z");
        let b = Backfill {
            start: t("2024-04-01T00:00:00Z"),
            end: Some(t("2024-06-01T00:00:00Z")),
        };
        assert_eq!(
            plan(None, None, Some(b), end, Duration::ZERO),
            Some((
                Window {
                    start: b.start,
                    end
                },
                false
            ))
        );
    }

    #[test]
    fn alignment_to_the_period() {
        let five = Duration::from_secs(300);
        assert_eq!(
            align_down(t("2024-05-01T10:07:31Z"), five),
            t("2024-05-01T10:05:00Z")
        );
        assert_eq!(
            align_down(t("2024-05-01T10:05:00Z"), five),
            t("2024-05-01T10:05:00Z")
        );
    }

    #[test]
    fn slices_cover_the_window_aligned() {
        let w = Window {
            start: t("2024-05-01T00:00:00Z"),
            end: t("2024-05-01T02:30:00Z"),
        };
        let hour = Duration::from_secs(3600);
        let first = next_slice(w, w.start, hour, None);
        assert_eq!(first.end, t("2024-05-01T01:00:00Z"));
        let last = next_slice(w, t("2024-05-01T02:00:00Z"), hour, None);
        assert_eq!(last.end, w.end);
        let five = Duration::from_secs(300);
        let aligned = next_slice(w, w.start, Duration::from_secs(420), Some(five));
        assert_eq!(aligned.end, t("2024-05-01T00:05:00Z"));
        let short = next_slice(w, w.start, Duration::from_secs(60), Some(five));
        assert_eq!(short.end, t("2024-05-01T00:05:00Z"), "at least one period");
    }

    #[test]
    fn slices_shrink_to_fit_the_lease_and_grow_back() {
        let (hour, lease) = (Duration::from_secs(3600), Duration::from_secs(60));
        assert_eq!(
            adapt_slice(hour, Duration::from_secs(30), lease, hour),
            hour / 2
        );
        assert_eq!(
            adapt_slice(
                Duration::from_secs(90),
                Duration::from_secs(30),
                lease,
                hour
            ),
            MIN_SLICE
        );
        assert_eq!(
            adapt_slice(hour / 4, Duration::from_secs(1), lease, hour),
            hour / 2
        );
        assert_eq!(
            adapt_slice(hour, Duration::from_secs(10), lease, hour),
            hour
        );
    }
}
