//! What the services that pull AWS APIs by time share: where a cursor's next window lies,
//! slicing a long window so progress is committed as it is delivered, pacing calls under an API
//! quota, and waiting for a slice's receipt before its cursor moves.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::cycle::{Counters, Failure, RunContext};
use crate::devo::shipper::Shipped;
use crate::sources::{Delivery, delivery};
use crate::state::{Claim, Cursor, ServiceHandle};

/// `--start-time` / `--end-time`: a past window pulled for one run; saved cursors stay where
/// they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backfill {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
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
    cursor: Option<&Cursor>,
    start_time: Option<DateTime<Utc>>,
    backfill: Option<Backfill>,
    latest_end: DateTime<Utc>,
    lookback: Duration,
) -> Option<(Window, bool)> {
    let (start, end, advances) = match backfill {
        Some(b) => (b.start, b.end.unwrap_or(latest_end).min(latest_end), false),
        None => {
            let start = cursor.map(|c| c.until).or(start_time).unwrap_or_else(|| {
                latest_end - chrono::Duration::from_std(lookback).unwrap_or_default()
            });
            (start, latest_end, true)
        }
    };
    (end > start).then_some((Window { start, end }, advances))
}

/// `window` cut into consecutive slices of at most `len`, sharing their ends.
pub fn slices(window: Window, len: Duration) -> Vec<Window> {
    let len = chrono::Duration::from_std(len).unwrap_or(chrono::Duration::hours(1));
    let mut out = Vec::new();
    let mut start = window.start;
    while start < window.end {
        let end = (start + len).min(window.end);
        out.push(Window { start, end });
        start = end;
    }
    out
}

/// Spaces calls to stay under a quota (requests per second per account and region).
pub struct Pacer {
    next: Mutex<Instant>,
    interval: Duration,
}

impl Pacer {
    pub fn per_second(requests: u32) -> Self {
        Self {
            next: Mutex::new(Instant::now()),
            interval: Duration::from_secs(1) / requests.max(1),
        }
    }

    /// Waits for this call's turn.
    pub async fn wait(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(Instant::now());
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// Pulls cursor `key`: plans its window (aligned down to `align` when given), then pulls it
/// slice by slice with `pull`, waiting for each slice's receipt and committing the cursor once it
/// is delivered, so a run cut short keeps every slice it finished. `pull` gets the slice and the
/// ids already shipped at its start, and returns what it shipped and the ids at its end.
pub struct CursorPull<'a> {
    pub ctx: &'a RunContext,
    pub state: &'a ServiceHandle,
    pub counters: &'a Counters,
    pub start_time: Option<DateTime<Utc>>,
    /// How far back a cursor never used starts.
    pub lookback: Duration,
    pub slice: Duration,
    pub align: Option<Duration>,
}

impl CursorPull<'_> {
    pub async fn run<F, Fut>(
        &self,
        key: &str,
        latest_end: DateTime<Utc>,
        pull: F,
    ) -> Result<(), Failure>
    where
        F: FnMut(Window, Vec<String>) -> Fut,
        Fut: Future<Output = Result<(Shipped, Vec<String>), Failure>>,
    {
        let cursor = match self.state.claim(key).await.map_err(Failure::from)? {
            Claim::Granted(cursor) => cursor,
            Claim::Held(why) => {
                tracing::info!(message = "Cursor skipped: another worker holds it.", cursor = key, %why);
                Counters::add(&self.counters.held, 1);
                return Ok(());
            }
        };
        let pulled = self.pull_from(key, cursor, latest_end, pull).await;
        self.state.release(key).await;
        pulled
    }

    async fn pull_from<F, Fut>(
        &self,
        key: &str,
        cursor: Option<Cursor>,
        latest_end: DateTime<Utc>,
        mut pull: F,
    ) -> Result<(), Failure>
    where
        F: FnMut(Window, Vec<String>) -> Fut,
        Fut: Future<Output = Result<(Shipped, Vec<String>), Failure>>,
    {
        let planned = plan(
            cursor.as_ref(),
            self.start_time,
            self.ctx.options.backfill,
            latest_end,
            self.lookback,
        );
        let Some((mut window, advances)) = planned else {
            return Ok(());
        };
        if let Some(period) = self.align {
            window = Window {
                start: align_down(window.start, period),
                end: align_down(window.end, period),
            };
            if window.end <= window.start {
                return Ok(());
            }
        }
        let bar = self
            .ctx
            .progress
            .add(ProgressBar::new(seconds(window.start, window.end)));
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(key.to_string());
        let mut skip = if advances {
            cursor.map(|c| c.ids_at_until).unwrap_or_default()
        } else {
            Vec::new()
        };
        for slice in slices(window, self.slice) {
            if self.ctx.should_stop() {
                break;
            }
            let (shipped, ids_at_end) = pull(slice, std::mem::take(&mut skip)).await?;
            let (events, bytes) = (shipped.events, shipped.bytes);
            let delivered = delivery(shipped).await?;
            Counters::add(&self.counters.events, events);
            Counters::add(&self.counters.bytes, bytes);
            if advances && delivered == Delivery::Delivered {
                let cursor = Cursor {
                    until: slice.end,
                    ids_at_until: ids_at_end.clone(),
                };
                self.state
                    .advance(key, cursor)
                    .await
                    .map_err(Failure::from)?;
            }
            skip = ids_at_end;
            bar.set_position(seconds(window.start, slice.end));
            bar.set_message(slice.end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        bar.finish_and_clear();
        Ok(())
    }
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    u64::try_from((to - from).num_seconds()).unwrap_or(0)
}

/// `t` rounded down to a multiple of `period` since the epoch.
pub fn align_down(t: DateTime<Utc>, period: Duration) -> DateTime<Utc> {
    let p = i64::try_from(period.as_secs().max(1)).unwrap_or(i64::MAX);
    let secs = t.timestamp().div_euclid(p) * p;
    DateTime::from_timestamp(secs, 0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn cursor_then_start_time_then_lookback() {
        let end = t("2024-05-01T12:00:00Z");
        let cursor = Cursor {
            until: t("2024-05-01T11:00:00Z"),
            ids_at_until: vec![],
        };
        let hour = Duration::from_secs(3600);
        assert_eq!(
            plan(
                Some(&cursor),
                Some(t("2024-01-01T00:00:00Z")),
                None,
                end,
                hour
            ),
            Some((
                Window {
                    start: cursor.until,
                    end
                },
                true
            ))
        );
        assert_eq!(
            plan(None, Some(t("2024-05-01T10:00:00Z")), None, end, hour).map(|w| w.0.start),
            Some(t("2024-05-01T10:00:00Z"))
        );
        assert_eq!(
            plan(None, None, None, end, hour).map(|w| w.0.start),
            Some(t("2024-05-01T11:00:00Z"))
        );
        assert_eq!(
            plan(
                Some(&Cursor {
                    until: end,
                    ids_at_until: vec![]
                }),
                None,
                None,
                end,
                hour
            ),
            None
        );
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
    fn slices_cover_the_window() {
        let w = Window {
            start: t("2024-05-01T00:00:00Z"),
            end: t("2024-05-01T02:30:00Z"),
        };
        let s = slices(w, Duration::from_secs(3600));
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].start, w.start);
        assert_eq!(s[2].end, w.end);
        assert!(s.windows(2).all(|p| p[0].end == p[1].start));
    }
}
