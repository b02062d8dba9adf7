//! What the services that pull AWS APIs by time share: where a cursor's next window lies,
//! slicing a long window so progress is committed as it is delivered, pacing calls under an API
//! quota, and waiting for a slice's receipt before its cursor moves.
//!
//! With S3 state a cursor is leased (see `state::s3`). While a slice is pulled and delivered,
//! the lease is renewed every third of its length as long as the holder makes progress (an API
//! answer came back, or an epoch reached Devo); a holder stuck in one call renews nothing, so its
//! cursor is taken over once the lease runs out. A holder that finds its lease lost drops the
//! slice at once. Slices shrink when one takes more than a quarter of the lease, so that each
//! fits well inside it, and grow back when they are quick.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// Spaces calls to stay under a quota (requests per second per account and region), and counts
/// the answers (a holder's sign of progress).
pub struct Pacer {
    next: Mutex<Instant>,
    interval: Duration,
    answers: AtomicU64,
}

impl Pacer {
    pub fn per_second(requests: u32) -> Self {
        Self {
            next: Mutex::new(Instant::now()),
            interval: Duration::from_secs(1) / requests.max(1),
            answers: AtomicU64::new(0),
        }
    }

    /// Sends `request` in its turn and counts its answer.
    pub async fn paced<T>(&self, request: impl Future<Output = T>) -> T {
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(Instant::now());
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
        let answer = request.await;
        self.answers.fetch_add(1, Ordering::Relaxed);
        answer
    }

    /// Answers received so far.
    pub fn answers(&self) -> u64 {
        self.answers.load(Ordering::Relaxed)
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
        pacer: &Pacer,
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
        let pulled = self.pull_from(key, cursor, latest_end, pacer, pull).await;
        self.state.release(key).await;
        pulled
    }

    async fn pull_from<F, Fut>(
        &self,
        key: &str,
        cursor: Option<Cursor>,
        latest_end: DateTime<Utc>,
        pacer: &Pacer,
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
        let lease = self.state.lease_length();
        let mut len = self.slice;
        let mut start = window.start;
        while start < window.end {
            if self.ctx.should_stop() {
                break;
            }
            let slice = next_slice(window, start, len, self.align);
            let began = Instant::now();
            let work = async {
                let (shipped, ids_at_end) = pull(slice, std::mem::take(&mut skip)).await?;
                let (events, bytes) = (shipped.events, shipped.bytes);
                let delivered = delivery(shipped).await?;
                Ok::<_, Failure>((events, bytes, delivered, ids_at_end))
            };
            let (events, bytes, delivered, ids_at_end) =
                self.keeping_lease(key, pacer, work).await?;
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
            len = adapt_slice(len, began.elapsed(), lease, self.slice);
            start = slice.end;
        }
        bar.finish_and_clear();
        Ok(())
    }
}

impl CursorPull<'_> {
    /// Runs `work` (one slice), renewing the lease of `key` every third of its length while the
    /// holder makes progress; a lost lease drops the work at once.
    async fn keeping_lease<T>(
        &self,
        key: &str,
        pacer: &Pacer,
        work: impl Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        let progress = || (pacer.answers(), self.ctx.shipper.health().epochs_delivered);
        let mut seen = progress();
        let mut beat = tokio::time::interval(self.state.lease_length() / 3);
        beat.tick().await;
        tokio::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return done,
                _ = beat.tick() => {
                    let now = progress();
                    if now != seen {
                        seen = now;
                        self.state.renew(key).await.map_err(Failure::from)?;
                    }
                }
            }
        }
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
