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

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::aws::Aws;
use crate::config::{CursorSettings, ServiceKind, ServicePlan};
use crate::cycle::{Counters, RunContext};
use crate::devo::shipper::Shipped;
use crate::outcome::{Failure, Outcome};
use crate::shard::Shard;
use crate::sources::each_region;
use crate::state::{Claim, Cursor, ServiceHandle};
use crate::window::{Window, adapt_slice, grow_empty_slice, next_slice, plan, rfc3339, seconds};

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

/// An answer that says whether another page follows it (it has a next token).
pub trait Page {
    fn has_next(&self) -> bool;
}

macro_rules! pages_by_next_token {
    ($($output:ty),+) => {$(
        impl Page for $output {
            fn has_next(&self) -> bool {
                self.next_token().is_some_and(|t| !t.is_empty())
            }
        }
    )+};
}

pages_by_next_token!(
    aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput,
    aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput,
    aws_sdk_cloudwatch::operation::list_metrics::ListMetricsOutput,
    aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput,
    aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsOutput
);

/// Runs `pull` with the puller of each region of service `kind` (of this `--shard`'s share when
/// `shard` is given; see [`each_region`]), its client made by `client`, paced at
/// `requests_per_second`, the puller's `account` the tags' fallback: the one place a service
/// pulled by time goes from its regions to its pullers.
pub async fn each_puller<'a, C, F, Fut>(
    ctx: &'a RunContext,
    kind: ServiceKind,
    (regions, shard): (&'a [String], Option<Shard>),
    account: &'a str,
    counters: &'a Counters,
    (client, requests_per_second): (fn(&Aws, &str) -> C, u32),
    pull: F,
) -> Result<(), Failure>
where
    F: Fn(RegionPuller<'a, C>) -> Fut,
    Fut: Future<Output = Result<(), Failure>>,
{
    each_region(kind.name(), regions, shard, |region| {
        let client = client(&ctx.aws, region);
        pull(RegionPuller::new(
            ctx,
            region,
            account,
            client,
            requests_per_second,
            counters,
        ))
    })
    .await
}

/// One region of a service pulled by time: what each such puller holds and does alike.
pub struct RegionPuller<'a, C> {
    pub ctx: &'a RunContext,
    pub region: &'a str,
    /// The puller's account: the tags' fallback.
    pub account: &'a str,
    /// The region's SDK client.
    pub client: C,
    /// The API's quota in this region.
    pub pacer: Pacer,
    pub counters: &'a Counters,
}

impl<'a, C> RegionPuller<'a, C> {
    /// The puller of `region` with `client`, paced at `requests_per_second`.
    pub fn new(
        ctx: &'a RunContext,
        region: &'a str,
        account: &'a str,
        client: C,
        requests_per_second: u32,
        counters: &'a Counters,
    ) -> Self {
        Self {
            ctx,
            region,
            account,
            client,
            pacer: Pacer::per_second(requests_per_second),
            counters,
        }
    }

    /// The next page of a paginator (`client.op().into_paginator().send()`, its `next` called
    /// here), in its turn under the quota; `what` names the call in a failure (`CloudTrail
    /// LookupEvents`). `more` starts true and is kept by this: after the last page (no next
    /// token) nothing is asked, and no turn under the quota is taken for it.
    pub async fn next_page<T, E, R, F>(
        &self,
        more: &mut bool,
        next: impl FnOnce() -> F,
        what: &str,
    ) -> Result<Option<T>, Failure>
    where
        T: Page,
        F: Future<Output = Option<Result<T, SdkError<E, R>>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        if !*more {
            return Ok(None);
        }
        let page = self
            .pacer
            .paced(next())
            .await
            .transpose()
            .map_err(|e| self.failure(what, &e))?;
        *more = page.as_ref().is_some_and(Page::has_next);
        Ok(page)
    }

    /// Between two pages of a slice: a slice under way when the deadline comes may finish
    /// within the grace its lease has for that (half the deadline, 10 s to 2 minutes); past it,
    /// with more pages to come, the slice is given up (what it shipped comes again with it next
    /// run: the cursor stays). The margin is the grace and one page's answer.
    pub fn stop_within_slice(&self, more_pages: bool) -> Result<(), Failure> {
        if more_pages && self.ctx.must_end_slice() {
            return Err(Failure::new(
                Outcome::Temporary,
                format!(
                    "the run had to stop in the middle of a slice in {}; it is pulled again next run",
                    self.region
                ),
            ));
        }
        Ok(())
    }

    /// The failure of AWS call `what` in this region.
    pub fn failure<E, R>(&self, what: &str, e: &SdkError<E, R>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        self.ctx
            .aws
            .failure(&format!("{what} in {}", self.region), e)
    }
}

/// One slice to pull, as a service's pull sees it.
#[derive(Debug)]
pub struct SliceJob {
    pub slice: Window,
    /// Ids already shipped at the slice's start (stamped exactly there).
    pub skip_ids: Vec<String>,
    /// Logs: events ingested after this (ms, AWS's clock) are not this run's: the next run's
    /// late sweep takes them.
    pub ingested_until: i64,
    /// Logs: the late sweep that goes with this slice (the first of a run).
    pub late: Option<LateSweep>,
}

/// Events that reached the group since the last run with timestamps before its window: those
/// in `events` (event time, end excluded) ingested after `ingested_after` (and up to the job's
/// `ingested_until`). Each event is thus shipped once: by the first run that sees it ingested,
/// in its window or in this sweep.
#[derive(Debug, Clone, Copy)]
pub struct LateSweep {
    pub events: Window,
    pub ingested_after: i64,
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
    /// Logs: how far back before the cursor a late sweep looks (None: no sweep).
    pub late_window: Option<Duration>,
}

/// What every service pulled by time takes from its config block, resolved once, before its
/// cycle starts.
#[derive(Debug, Clone)]
pub struct CursorPlan {
    /// The regions pulled (validated non-empty).
    pub regions: Vec<String>,
    /// Where a cursor never used starts (`start_time`); else `lookback` back.
    pub start_time: Option<DateTime<Utc>>,
    /// `request_period_in_seconds`.
    pub lookback: Duration,
    /// `delay_seconds`, or the kind's default: the time CloudWatch and CloudTrail may take to
    /// have what happened.
    pub delay: Duration,
}

impl CursorPlan {
    /// The cursor part of the plan of a service pulled by time (`settings`, its own part).
    pub fn planned(plan: &ServicePlan, settings: &CursorSettings) -> Self {
        Self {
            regions: plan.regions.clone(),
            start_time: plan.start_time,
            lookback: plan.request_period,
            delay: settings.delay,
        }
    }

    /// Where a window may end now: AWS's clock less the delay.
    pub fn latest_end(&self, ctx: &RunContext) -> DateTime<Utc> {
        ctx.aws.now() - chrono::Duration::from_std(self.delay).unwrap_or_default()
    }
}

/// The longest slice: an hour, so a long window commits its progress every hour of data.
pub const MAX_SLICE: Duration = Duration::from_secs(3600);

impl<'a> CursorPull<'a> {
    /// The pull of a service's cursors: a cursor never used starts at the plan's `start_time`,
    /// or one request period back; slices of at most [`MAX_SLICE`], not aligned.
    pub fn new(
        ctx: &'a RunContext,
        state: &'a ServiceHandle,
        counters: &'a Counters,
        plan: &CursorPlan,
    ) -> Self {
        Self {
            ctx,
            state,
            counters,
            start_time: plan.start_time,
            lookback: plan.lookback,
            slice: MAX_SLICE,
            align: None,
            late_window: None,
        }
    }
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
        F: FnMut(SliceJob) -> Fut,
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
        if let Some(c) = &cursor {
            self.counters.note_cursor(key, c.until);
        }
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
        F: FnMut(SliceJob) -> Fut,
        Fut: Future<Output = Result<(Shipped, Vec<String>), Failure>>,
    {
        let ingested_until = latest_end.timestamp_millis();
        let Some((window, advances, mut late)) = self.window(cursor.as_ref(), latest_end) else {
            return Ok(());
        };
        let mut progress = WindowProgress::new(self.ctx, key, window, advances);
        let mut skip = if advances {
            cursor.map(|c| c.ids_at_until).unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut len = self.slice;
        let mut start = window.start;
        while start < window.end || late.is_some() {
            if self.ctx.should_stop() {
                if !advances {
                    return Err(progress.cut_short(start, "the run's deadline"));
                }
                break;
            }
            let slice = next_slice(window, start, len, self.align);
            let began = Instant::now();
            let job = SliceJob {
                slice,
                skip_ids: std::mem::take(&mut skip),
                ingested_until,
                late: late.take(),
            };
            let (events, delivered, ids_at_end) =
                match self.keeping_lease(key, pacer, self.ship(pull(job))).await {
                    Ok(done) => done,
                    Err(f) if !advances => {
                        return Err(progress.cut_short(start, &f.reason).with_outcome(f.outcome));
                    }
                    Err(f) => return Err(f),
                };
            if advances && delivered {
                self.commit(key, slice.end, ids_at_end.clone(), ingested_until)
                    .await?;
            }
            skip = ids_at_end;
            progress.slice_done(slice.end);
            // (Aligned slices, metrics', stay as they are: a request's datapoints are bounded.)
            len = if events == 0 && self.align.is_none() && !self.ctx.should_stop() {
                grow_empty_slice(len)
            } else {
                let lease = self.state.lease_length();
                adapt_slice(len.min(self.slice), began.elapsed(), lease, self.slice)
            };
            start = slice.end;
        }
        progress.finish(start);
        Ok(())
    }

    /// A slice pulled: its epoch closed at once (its receipt is awaited), its events and bytes
    /// counted; how many events, whether they were delivered, and the ids at its end.
    async fn ship(
        &self,
        pulled: impl Future<Output = Result<(Shipped, Vec<String>), Failure>>,
    ) -> Result<(u64, bool, Vec<String>), Failure> {
        let (shipped, ids_at_end) = pulled.await?;
        let (events, bytes) = (shipped.events, shipped.bytes);
        // The slice is all shipped and its receipt awaited: no idle wait for it.
        if shipped.receipt.is_some() {
            self.ctx.shipper.flush().await;
        }
        let delivered = shipped.answer().await.outcome()?.is_delivered();
        Counters::add(&self.counters.events, events);
        Counters::add(&self.counters.bytes, bytes);
        Ok((events, delivered, ids_at_end))
    }

    /// Records that `key` was delivered up to `until`.
    async fn commit(
        &self,
        key: &str,
        until: DateTime<Utc>,
        ids_at_until: Vec<String>,
        ingested_until: i64,
    ) -> Result<(), Failure> {
        let cursor = Cursor {
            until,
            ids_at_until,
            ingested_until: self.late_window.map(|_| ingested_until),
        };
        self.state
            .advance(key, cursor)
            .await
            .map_err(Failure::from)?;
        self.counters.note_cursor(key, until);
        Ok(())
    }
}

/// How far the window of one cursor has come: a bar on a terminal, else a log line every
/// [`PROGRESS_EVERY`]; and, for a backfill cut short, where to resume.
struct WindowProgress<'a> {
    key: &'a str,
    window: Window,
    advances: bool,
    bar: ProgressBar,
    reported: Instant,
}

impl<'a> WindowProgress<'a> {
    fn new(ctx: &RunContext, key: &'a str, window: Window, advances: bool) -> Self {
        let total = seconds(window.start, window.end);
        let bar = ctx.progress.add(ProgressBar::new(total.max(1)));
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {percent:>3}% up to {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(format!(
            "{}: {key}",
            if advances { "pull" } else { "backfill" }
        ));
        Self {
            key,
            window,
            advances,
            bar,
            reported: Instant::now(),
        }
    }

    fn percent_done(&self, at: DateTime<Utc>) -> u64 {
        let total = seconds(self.window.start, self.window.end);
        seconds(self.window.start, at) * 100 / total.max(1)
    }

    /// A slice up to `end` is done.
    fn slice_done(&mut self, end: DateTime<Utc>) {
        self.bar.set_position(seconds(self.window.start, end));
        self.bar.set_message(rfc3339(end));
        if self.bar.is_hidden() && self.reported.elapsed() >= PROGRESS_EVERY {
            self.reported = Instant::now();
            tracing::info!(
                message = "Progress.",
                cursor = self.key,
                backfill = !self.advances,
                up_to = %rfc3339(end),
                percent = self.percent_done(end)
            );
        }
    }

    /// A backfill that ends before its window does: where to resume.
    fn cut_short(self, at: DateTime<Utc>, why: &str) -> Failure {
        self.bar.abandon();
        Failure::new(
            Outcome::Temporary,
            format!(
                "backfill of {} stopped at {} ({why}): {}% of the window done; resume with --start-time {} --end-time {}",
                self.key,
                rfc3339(at),
                self.percent_done(at),
                rfc3339(at),
                rfc3339(self.window.end)
            ),
        )
    }

    /// The pull ended at `start`: the bar finished, or left where it stopped.
    fn finish(self, start: DateTime<Utc>) {
        if start >= self.window.end {
            self.bar
                .set_position(seconds(self.window.start, self.window.end).max(1));
            self.bar.finish();
        } else {
            self.bar.abandon();
        }
    }
}

/// How often a window's progress is logged when no bar is drawn (JSON logs, cron).
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

impl CursorPull<'_> {
    /// The window to pull now (aligned when asked), whether delivering it moves the cursor, and
    /// the late sweep due with it (logs: what was ingested since the last run with timestamps
    /// before its cursor). None: nothing to do.
    fn window(
        &self,
        cursor: Option<&Cursor>,
        latest_end: DateTime<Utc>,
    ) -> Option<(Window, bool, Option<LateSweep>)> {
        let planned = plan(
            cursor.map(|c| c.until),
            self.start_time,
            self.ctx.options.backfill,
            latest_end,
            self.lookback,
        );
        let ingested_until = latest_end.timestamp_millis();
        let late = match (cursor, self.late_window) {
            (Some(c), Some(back)) if self.ctx.options.backfill.is_none() => c
                .ingested_until
                .filter(|after| *after < ingested_until)
                .map(|ingested_after| LateSweep {
                    events: Window {
                        start: c.until - chrono::Duration::from_std(back).unwrap_or_default(),
                        end: c.until,
                    },
                    ingested_after,
                }),
            _ => None,
        };
        let (mut window, advances) = match (planned, cursor, late) {
            (Some(p), _, _) => p,
            // Nothing new by time, but a sweep is due: a window of the cursor's instant alone.
            (None, Some(c), Some(_)) => (
                Window {
                    start: c.until,
                    end: c.until,
                },
                true,
            ),
            _ => return None,
        };
        if let Some(period) = self.align {
            window = Window {
                start: crate::window::align_down(window.start, period),
                end: crate::window::align_down(window.end, period),
            };
            if window.end <= window.start {
                return None;
            }
        }
        Some((window, advances, late))
    }

    /// Runs `work` (one slice), renewing the lease of `key` every third of its length while the
    /// holder makes progress; a lost lease drops the work at once.
    async fn keeping_lease<T>(
        &self,
        key: &str,
        pacer: &Pacer,
        work: impl Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        let progress = || (pacer.answers(), self.ctx.shipper.epochs_delivered());
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
