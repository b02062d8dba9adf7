//! Replay: with `--start-time` (and `--end-time`), an S3+SQS service lists its buckets
//! (`s3_buckets` in its block) instead of reading its queue, and ships the objects AWS stamped
//! inside the window with the same decoders, caps, tags and receipts as the queue path.
//!
//! - **Listing.** Each root (`s3://bucket/prefix`) is walked with `/` as delimiter. Directories
//!   that spell a date (`2026/11/03`, `year=2026/month=11`, `hour=05`) outside the window are not
//!   listed, so AWS's layouts (`AWSLogs/[o-org/]<account>/CloudTrail/<region>/YYYY/MM/DD/`, VPC
//!   Flow Logs, ELB, WAF, GuardDuty, Config, partitioned S3 access logs) cost one listing per
//!   account, region and day; accounts and regions are listed [`MAX_LISTS_IN_FLIGHT`] at once.
//!   An object is in the window when the stamp of its file name (else its LastModified) is.
//! - **Progress.** The replay has its own state (`<input>.<service>.replay-<start>[-<end>]`),
//!   never the service's: per directory listed (per hour of the stamps in a flat layout, such as
//!   CloudFront's or S3 access logs' without partitions), the names of the objects delivered,
//!   written after each receipt. Run again with the same window, it resumes and ships each object once.
//! - **Late objects.** A directory is listed whole every time it is replayed, so an object AWS
//!   delivered into it after an earlier listing is shipped by the next run of the replay. Once
//!   every object of a directory (or hour) was delivered and its day (or hour) ended
//!   [`LATE_OBJECTS`] before the listing, it is settled: its names are forgotten, and a settled
//!   directory is not listed again.
//!
//! The parts, one job each: `walk` (listing the roots and reading what is listed), `keep` (the
//! receipts in order, and the replay's state), `root` (a bucket found, and one listing of it),
//! `preview` (what `devo-aws check --start-time` says a replay would list).

mod keep;
mod preview;
mod root;
mod walk;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::config::{ObjectPlan, S3Root, ServicePlan};
use crate::cycle::{Counters, RunContext, Summary, run_service};
use crate::devo::shipper::Shipped;
use crate::formats::layout::DirDate;
use crate::formats::s3_notification::ObjectRef;
use crate::outcome::{Failure, Outcome};
use crate::sources::objects::ObjectHandler;
use crate::sources::queue::MessageHandler;
use crate::state::{PrefixProgress, ServiceHandle};
use crate::window::{Backfill, rfc3339};
use keep::{Kept, keep};
pub use preview::preview;
use walk::{Walk, read_all};

/// Directories listed at once per service.
pub const MAX_LISTS_IN_FLIGHT: usize = 8;
/// How long after its day (or hour) ends a directory may still get objects: CloudTrail delivers
/// within about 15 minutes, and late deliveries of hours are known.
pub const LATE_OBJECTS: chrono::Duration = chrono::Duration::hours(24);
/// Objects listed and not yet read: listing stays this far ahead of reading.
const LISTED_AHEAD: usize = 256;

/// The window a replay ships: `[start, end)` on the objects' stamps.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl Span {
    fn contains(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }

    fn meets(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        from < self.end && self.start < to
    }
}

/// One directory to list.
#[derive(Debug, Clone)]
struct Dir {
    root: usize,
    prefix: String,
    date: DirDate,
}

/// One root as found: its bucket, the prefix listed under it, the bucket's region and client.
struct Root {
    bucket: String,
    prefix: String,
    region: String,
    s3: aws_sdk_s3::Client,
}

/// What the walk tells the progress keeper.
enum Step {
    /// An object of `dir` was read and shipped; its receipt will tell.
    Shipped {
        dir: String,
        name: String,
        shipped: Shipped,
    },
    /// An object of `dir` could not be read (reported): the directory cannot settle.
    Unread { dir: String },
    /// An object of `dir` was left for a later run (the deadline or a stop signal came): no
    /// failure, but the directory cannot settle in this run.
    Left { dir: String },
    /// `dir` was listed to its end: `to_ship` of its objects went to be read, and it may settle
    /// once they are delivered, if its time ended before `settle_before`.
    Listed {
        dir: String,
        to_ship: u64,
        settles: bool,
    },
}

/// One cycle of the S3 service of `plan` (reading with `objects`) run with `--start-time`: the
/// replay of `window` from its buckets, under its own state.
pub async fn run(
    ctx: &RunContext,
    plan: &ServicePlan,
    objects: &ObjectPlan,
    window: Backfill,
) -> Summary {
    run_service(ctx, plan, |counters, state| async move {
        let handler = ObjectHandler::planned(ctx, plan, objects, counters, state.clone());
        let replayed = replay(ctx, plan, objects, window, &handler, &state).await;
        let checked = handler.finish().await;
        replayed.and(checked)
    })
    .await
}

/// The replay of the service of `plan` over `window`.
async fn replay(
    ctx: &RunContext,
    plan: &ServicePlan,
    objects: &ObjectPlan,
    window: Backfill,
    handler: &ObjectHandler<'_>,
    state: &Arc<ServiceHandle>,
) -> Result<(), Failure> {
    let counters = handler.counters.clone();
    let roots = roots_of(plan, objects)?;
    let saved = state.saved().await?;
    let now = ctx.aws.now();
    let span = span_of(window, saved.replay_end, now, state).await?;
    let mut found = Vec::new();
    for root in roots {
        found.push(Root::find(&ctx.aws, plan, root).await?);
    }
    let done: BTreeMap<String, PrefixProgress> = saved.prefixes;
    tracing::info!(
        message = "Replaying from the bucket, not the queue.",
        service = plan.kind.name(),
        start = %rfc3339(span.start),
        end = %rfc3339(span.end),
        roots = %roots.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "),
        prefixes_done = done.values().filter(|p| p.settled).count()
    );
    // `stop`: a failure ends the replay; `cut`: something of the window was left for later.
    let (stop, cut) = (AtomicBool::new(false), AtomicBool::new(false));
    let (steps_tx, steps_rx) = mpsc::unbounded_channel::<Step>();
    let (objects_tx, objects_rx) = mpsc::channel::<(String, ObjectRef, String)>(LISTED_AHEAD);
    let walk = Walk {
        ctx,
        roots: &found,
        span,
        settle_before: now - LATE_OBJECTS,
        done: &done,
        handler,
        counters: &counters,
        stop: &stop,
        cut: &cut,
        failure: std::sync::Mutex::default(),
    };
    let keeper = keep(state, &done, &counters, steps_rx, &stop);
    let reading = read_all(handler, objects_rx, steps_tx.clone(), &walk);
    let (walked, (), kept) = tokio::join!(walk.run(objects_tx, steps_tx), reading, keeper);
    let mut kept = kept?;
    let resume = format!(
        "resume with --start-time {} --end-time {}",
        rfc3339(span.start),
        rfc3339(span.end)
    );
    let object_failure = crate::lock(&walk.failure).take();
    if let Some(f) = kept.failure.take().or(walked.err()).or(object_failure) {
        return Err(Failure::new(
            f.outcome,
            format!("{}; the replay stopped there: {resume}", f.reason),
        ));
    }
    ended(&kept, cut.load(Ordering::Relaxed), &resume, &counters)?;
    handler.filtered_verdict().map_or(Ok(()), Err)
}

/// The window a replay ships: from its start to `--end-time`, else to the end its first run
/// fixed (written now, on the first run, so that running it again resumes it), never past now.
async fn span_of(
    window: Backfill,
    saved_end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    state: &ServiceHandle,
) -> Result<Span, Failure> {
    let end = window.end.or(saved_end).unwrap_or(now).min(now);
    if window.end.is_none() && saved_end.is_none() {
        state.update(|s| s.replay_end = Some(end)).await?;
    }
    Ok(Span {
        start: window.start,
        end,
    })
}

/// How a replay that did not fail ended: cut by the run's deadline (exit 4, with how to
/// resume), or whole, with the objects that could not be read said in the summary.
fn ended(kept: &Kept, cut: bool, resume: &str, counters: &Counters) -> Result<(), Failure> {
    if cut {
        return Err(Failure::new(
            Outcome::Temporary,
            format!(
                "replay stopped by the run's deadline with {} objects delivered; {resume}",
                kept.delivered
            ),
        ));
    }
    if kept.unread > 0 {
        counters.note(format!(
            "{} objects could not be read (reported above); {resume} once they are mended",
            kept.unread
        ));
    }
    Ok(())
}

/// The roots the plan names, or the config error that says where to name them.
fn roots_of<'p>(plan: &ServicePlan, objects: &'p ObjectPlan) -> Result<&'p [S3Root], Failure> {
    if objects.replay_roots.is_empty() {
        return Err(Failure::new(
            Outcome::Config,
            format!(
                "--start-time replays {} from its bucket, not its queue: set {} (s3://bucket/prefix) to where AWS writes them",
                plan.kind.name(),
                objects.replay_roots_path
            ),
        ));
    }
    Ok(&objects.replay_roots)
}
