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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, DurationRound, Utc};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;

use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;

use crate::aws::Aws;
use crate::config::{ObjectPlan, S3Root, ServicePlan};
use crate::cycle::{Counters, RunContext, Summary, run_service};
use crate::devo::shipper::Shipped;
use crate::formats::layout::{DirDate, key_stamp};
use crate::formats::s3_notification::ObjectRef;
use crate::outcome::{Failure, Outcome};
use crate::sources::objects::ObjectHandler;
use crate::sources::queue::MessageHandler;
use crate::sources::queue::Rejection;
use crate::state::{PrefixProgress, ServiceHandle, ServiceState};
use crate::window::{Backfill, rfc3339};

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
        replay(ctx, plan, objects, window, &handler, &state).await
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
    let (kind, counters) = (plan.kind, handler.counters.clone());
    let roots = roots_of(plan, objects)?;
    let saved = state.saved().await?;
    let now = ctx.aws.now();
    let end = window.end.or(saved.replay_end).unwrap_or(now).min(now);
    if window.end.is_none() && saved.replay_end.is_none() {
        state.update(|s| s.replay_end = Some(end)).await?;
    }
    let span = Span {
        start: window.start,
        end,
    };
    let mut found = Vec::new();
    for root in roots {
        found.push(Root::find(&ctx.aws, plan, root).await?);
    }
    let done: BTreeMap<String, PrefixProgress> = saved.prefixes;
    tracing::info!(
        message = "Replaying from the bucket, not the queue.",
        service = kind.name(),
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
    let kept = kept?;
    let resume = format!(
        "resume with --start-time {} --end-time {}",
        rfc3339(span.start),
        rfc3339(span.end)
    );
    let object_failure = crate::lock(&walk.failure).take();
    if let Some(f) = kept.failure.or(walked.err()).or(object_failure) {
        return Err(Failure::new(
            f.outcome,
            format!("{}; the replay stopped there: {resume}", f.reason),
        ));
    }
    if cut.load(Ordering::Relaxed) {
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
    if let Some(mistake) = handler.filtered_verdict() {
        return Err(mistake);
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

/// An S3 failure of a replay's listing, with the permission it needs.
fn needs_list_bucket(mut f: Failure) -> Failure {
    f.reason
        .push_str(" (a replay needs s3:ListBucket on the bucket)");
    f
}

impl Root {
    /// `root`'s bucket and its region: HeadBucket (which needs s3:ListBucket) from the service's
    /// first region tells it, even for a bucket of another region.
    async fn find(aws: &Aws, plan: &ServicePlan, root: &S3Root) -> Result<Self, Failure> {
        let asked_in = plan
            .regions
            .first()
            .cloned()
            .unwrap_or_else(|| aws.region());
        let name = &root.bucket;
        let head = aws.s3(&asked_in).head_bucket().bucket(name).send().await;
        let found = match &head {
            Ok(out) => out.bucket_region().map(String::from),
            Err(e) => e
                .raw_response()
                .and_then(|r| r.headers().get("x-amz-bucket-region"))
                .map(String::from),
        };
        if let (Err(e), None) = (&head, &found) {
            return Err(needs_list_bucket(
                aws.failure(&format!("S3 HeadBucket {name}"), e),
            ));
        }
        let region = found.unwrap_or(asked_in);
        Ok(Self {
            bucket: name.clone(),
            prefix: root.prefix.clone(),
            s3: aws.s3(&region),
            region,
        })
    }

    /// One page of the listing of `prefix`, `/` as delimiter.
    async fn list(
        &self,
        aws: &Aws,
        prefix: &str,
        token: Option<String>,
    ) -> Result<ListObjectsV2Output, Failure> {
        self.s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .delimiter("/")
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| {
                let what = format!("S3 ListObjectsV2 s3://{}/{prefix}", self.bucket);
                needs_list_bucket(aws.failure(&what, &e))
            })
    }
}

/// What a replay of `kind` over `window` would list, for `devo-aws check --start-time`: per root,
/// the bucket's region, that the credentials may list it, and the directories whose children
/// are dated (each account and region of an AWS layout), found by listing down to them. Reads
/// no object and writes no state.
pub async fn preview(
    aws: &Aws,
    plan: &ServicePlan,
    objects: &ObjectPlan,
    window: Backfill,
) -> Vec<(String, Result<String, Failure>)> {
    let check = |root: &str| format!("replay {} {root}", plan.kind.name());
    let roots = match roots_of(plan, objects) {
        Ok(roots) => roots,
        Err(f) => return vec![(check(""), Err(f))],
    };
    let end = window.end.unwrap_or_else(|| aws.now());
    let mut rows = Vec::new();
    for root in roots {
        let result = match Root::find(aws, plan, root).await {
            Ok(found) => dated_dirs(aws, &found).await.map(|dirs| {
                let shown: Vec<&str> = dirs.iter().take(4).map(String::as_str).collect();
                let more = dirs.len().saturating_sub(shown.len());
                format!(
                    "bucket in {}, s3:ListBucket granted; {} {} to list from {} to {}: {}{}",
                    found.region,
                    dirs.len(),
                    if dirs.len() == 1 {
                        "prefix"
                    } else {
                        "prefixes"
                    },
                    rfc3339(window.start),
                    rfc3339(end),
                    shown.join(" "),
                    if more > 0 {
                        format!(" (+{more} more)")
                    } else {
                        String::new()
                    }
                )
            }),
            Err(f) => Err(f),
        };
        rows.push((check(&root.to_string()), result));
    }
    rows
}

/// Directories below `root`'s prefix whose children are dated (or that hold objects), listing
/// no deeper than them and at most [`PLAN_LISTINGS`] times.
async fn dated_dirs(aws: &Aws, root: &Root) -> Result<Vec<String>, Failure> {
    let mut waiting = vec![root.prefix.clone()];
    let mut found = Vec::new();
    let mut listings = 0;
    while let Some(dir) = waiting.pop() {
        if listings == PLAN_LISTINGS {
            found.push(format!("{dir}..."));
            break;
        }
        listings += 1;
        let page = root.list(aws, &dir, None).await?;
        let subs: Vec<&str> = page
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix())
            .collect();
        let dated = subs.iter().any(|sub| {
            let part = sub
                .strip_prefix(dir.as_str())
                .unwrap_or(sub)
                .trim_end_matches('/');
            DirDate::default().extend(part).is_some()
        });
        if dated || !page.contents().is_empty() {
            found.push(dir);
        } else {
            waiting.extend(subs.into_iter().rev().map(String::from));
        }
    }
    Ok(found)
}

/// Listings `check` makes at most per root.
const PLAN_LISTINGS: usize = 200;

/// The listing of every root, sending each object to read.
struct Walk<'a> {
    ctx: &'a RunContext,
    roots: &'a [Root],
    span: Span,
    settle_before: DateTime<Utc>,
    done: &'a BTreeMap<String, PrefixProgress>,
    handler: &'a ObjectHandler<'a>,
    counters: &'a Counters,
    stop: &'a AtomicBool,
    cut: &'a AtomicBool,
    /// The first object that failed for a reason other than its own (S3 unreachable, ...).
    failure: std::sync::Mutex<Option<Failure>>,
}

impl Walk<'_> {
    /// Whether to list or read no more (a failure, the run's deadline); with work left, the
    /// window is cut short.
    fn halted(&self) -> bool {
        let halted = self.stop.load(Ordering::Relaxed) || self.ctx.should_stop();
        if halted {
            self.cut.store(true, Ordering::Relaxed);
        }
        halted
    }

    /// Lists depth first (the directories waiting stay few however wide the tree), a bounded
    /// number at once.
    async fn run(
        &self,
        objects: mpsc::Sender<(String, ObjectRef, String)>,
        steps: mpsc::UnboundedSender<Step>,
    ) -> Result<(), Failure> {
        let mut waiting: Vec<Dir> = self
            .roots
            .iter()
            .enumerate()
            .rev()
            .map(|(root, r)| Dir {
                root,
                prefix: r.prefix.clone(),
                date: DirDate::default(),
            })
            .collect();
        let mut listing = FuturesUnordered::new();
        let mut failure = None;
        loop {
            while listing.len() < MAX_LISTS_IN_FLIGHT && !waiting.is_empty() && !self.halted() {
                let Some(dir) = waiting.pop() else { break };
                listing.push(self.list(dir, &objects, &steps));
            }
            let Some(listed) = listing.next().await else {
                break;
            };
            match listed {
                Ok(mut children) => {
                    children.reverse();
                    waiting.extend(children);
                }
                Err(f) => {
                    self.stop.store(true, Ordering::Relaxed);
                    failure.get_or_insert(f);
                }
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// Lists `dir` to its end: its subdirectories in the window are returned, its objects in the
    /// window not yet delivered go to be read.
    async fn list(
        &self,
        dir: Dir,
        objects: &mpsc::Sender<(String, ObjectRef, String)>,
        steps: &mpsc::UnboundedSender<Step>,
    ) -> Result<Vec<Dir>, Failure> {
        let root = &self.roots[dir.root];
        let name = format!("s3://{}/{}", root.bucket, dir.prefix);
        // Progress is kept per directory that spells a day, else per hour of the objects'
        // stamps (a flat layout holds years of objects in one directory).
        let day_span = dir.date.span().filter(|_| dir.date.has_day());
        let group_of = |at: DateTime<Utc>| -> (String, Option<DateTime<Utc>>) {
            match day_span {
                Some((_, to)) => (name.clone(), Some(to)),
                None => {
                    let hour = at.duration_trunc(chrono::Duration::hours(1)).ok();
                    let label =
                        hour.map_or_else(String::new, |h| h.format("@%Y-%m-%dT%H").to_string());
                    (
                        format!("{name}{label}"),
                        hour.map(|h| h + chrono::Duration::hours(1)),
                    )
                }
            }
        };
        // Each group's objects sent to be read, and when its time ends.
        let mut groups: BTreeMap<String, (u64, Option<DateTime<Utc>>)> = BTreeMap::new();
        if day_span.is_some() && self.done.contains_key(&name) {
            groups.insert(name.clone(), (0, day_span.map(|(_, to)| to)));
        }
        let mut children = Vec::new();
        let mut token = None;
        loop {
            if self.halted() {
                return Ok(Vec::new());
            }
            let page = root.list(&self.ctx.aws, &dir.prefix, token.take()).await?;
            for sub in page.common_prefixes() {
                let Some(prefix) = sub.prefix() else { continue };
                let part = prefix
                    .strip_prefix(dir.prefix.as_str())
                    .unwrap_or(prefix)
                    .trim_end_matches('/');
                let date = match dir.date.extend(part) {
                    Some(date) => date,
                    None => dir.date,
                };
                if let Some((from, to)) = date.span()
                    && !self.span.meets(from, to)
                {
                    continue;
                }
                let sub_name = format!("s3://{}/{prefix}", root.bucket);
                if self.done.get(&sub_name).is_some_and(|p| p.settled) {
                    tracing::debug!(message = "Prefix settled by an earlier run of the replay.", prefix = %sub_name);
                    continue;
                }
                children.push(Dir {
                    root: dir.root,
                    prefix: prefix.to_string(),
                    date,
                });
            }
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                let stamped = key_stamp(key).or_else(|| {
                    object
                        .last_modified()
                        .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
                });
                let Some(at) = stamped.filter(|at| self.span.contains(*at)) else {
                    continue;
                };
                let file = key.strip_prefix(dir.prefix.as_str()).unwrap_or(key);
                let object = ObjectRef {
                    bucket: root.bucket.clone(),
                    key: key.to_string(),
                    size: object.size().and_then(|n| u64::try_from(n).ok()),
                    event_time: None,
                    region: Some(root.region.clone()),
                };
                // Its group is counted even when nothing of it is to be shipped (digests,
                // filtered keys), so that it settles.
                let (group, ends) = group_of(at);
                let tally = groups.entry(group.clone()).or_insert((0, ends));
                if let Some(reason) = self.handler.skip_reason(&object) {
                    tracing::debug!(message = "Object skipped.", key, reason);
                    Counters::add(&self.counters.skipped, 1);
                    continue;
                }
                let progress = self.done.get(&group);
                if progress.is_some_and(|p| p.settled || p.done.contains(file)) {
                    tracing::debug!(
                        message = "Object delivered by an earlier run of the replay.",
                        key
                    );
                    Counters::add(&self.counters.skipped, 1);
                    continue;
                }
                tally.0 += 1;
                if objects
                    .send((group, object, file.to_string()))
                    .await
                    .is_err()
                {
                    return Ok(Vec::new());
                }
            }
            token = page.next_continuation_token().map(String::from);
            if token.is_none() || page.is_truncated() != Some(true) {
                break;
            }
        }
        for (group, (to_ship, ends)) in groups {
            let settles = ends.is_some_and(|to| to <= self.settle_before);
            let _ = steps.send(Step::Listed {
                dir: group,
                to_ship,
                settles,
            });
        }
        Ok(children)
    }
}

/// Reads the listed objects, [`crate::sources::objects::MAX_OBJECTS_IN_FLIGHT`] at once (the
/// handler's slots), telling the keeper of each.
async fn read_all(
    handler: &ObjectHandler<'_>,
    objects: mpsc::Receiver<(String, ObjectRef, String)>,
    steps: mpsc::UnboundedSender<Step>,
    walk: &Walk<'_>,
) {
    tokio_stream_of(objects)
        .for_each_concurrent(
            crate::sources::objects::MAX_OBJECTS_IN_FLIGHT,
            |(dir, object, name)| {
                let steps = steps.clone();
                async move {
                    if walk.halted() {
                        return;
                    }
                    let (bucket, key) = (object.bucket.clone(), object.key.clone());
                    let region = object.region.clone().unwrap_or_default();
                    let step = match handler.ship(object, region, "replay", None).await {
                        Ok(shipped) => Step::Shipped { dir, name, shipped },
                        Err(Rejection::Poison(reason)) => {
                            tracing::warn!(message = "Object cannot be read; the replay goes on without it.", %bucket, %key, error = %reason);
                            Step::Unread { dir }
                        }
                        Err(Rejection::Failed(_)) if walk.ctx.should_stop() => {
                            // The run's time is up: the object is for the next run of the
                            // replay, which resumes; nothing failed.
                            tracing::debug!(message = "Object left for the next run of the replay.", %bucket, %key);
                            walk.stop.store(true, Ordering::Relaxed);
                            walk.cut.store(true, Ordering::Relaxed);
                            Step::Left { dir }
                        }
                        Err(Rejection::Failed(f)) => {
                            tracing::error!(message = "Object not read; the replay stops.", %bucket, %key, error = %f);
                            walk.stop.store(true, Ordering::Relaxed);
                            walk.cut.store(true, Ordering::Relaxed);
                            crate::lock(&walk.failure).get_or_insert(f);
                            Step::Unread { dir }
                        }
                        // (An object alone is never held back by the filter here: the walk
                        // asked `skip_reason` before.)
                        Err(Rejection::Filtered) => Step::Left { dir },
                    };
                    let _ = steps.send(step);
                }
            },
        )
        .await;
}

/// A receiver as a stream.
fn tokio_stream_of<T>(mut rx: mpsc::Receiver<T>) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// What the keeper saw.
#[derive(Default)]
struct Kept {
    delivered: u64,
    unread: u64,
    failure: Option<Failure>,
}

/// One directory's tally in this run.
#[derive(Default)]
struct Tally {
    delivered: u64,
    unread: bool,
    listed: Option<(u64, bool)>,
}

/// Waits for each object's receipt, in the order they were shipped, and writes what was
/// delivered to the replay's state whenever no other receipt is waiting (so a burst of receipts
/// at the end of an epoch is one write).
///
/// `done` is what earlier runs delivered; only the directories this run touches are copied
/// from it, as they change.
async fn keep(
    state: &ServiceHandle,
    done: &BTreeMap<String, PrefixProgress>,
    counters: &Counters,
    mut steps: mpsc::UnboundedReceiver<Step>,
    stop: &AtomicBool,
) -> Result<Kept, Failure> {
    let mut kept = Kept::default();
    let mut progress: BTreeMap<String, PrefixProgress> = BTreeMap::new();
    let mut tallies: HashMap<String, Tally> = HashMap::new();
    let mut dirty: BTreeSet<String> = BTreeSet::new();
    // The state that could not be written, if it could not.
    let mut unwritten: Option<Failure> = None;
    while let Some(step) = steps.recv().await {
        let dir = match step {
            Step::Shipped { dir, name, shipped } => {
                let (events, bytes) = (shipped.events, shipped.bytes);
                match shipped.answer().await.outcome() {
                    Ok(answer) => {
                        if answer.is_delivered() {
                            progress
                                .entry(dir.clone())
                                .or_insert_with(|| done.get(&dir).cloned().unwrap_or_default())
                                .done
                                .insert(name);
                            tallies.entry(dir.clone()).or_default().delivered += 1;
                            kept.delivered += 1;
                        }
                        Counters::add(&counters.objects, 1);
                        Counters::add(&counters.events, events);
                        Counters::add(&counters.bytes, bytes);
                    }
                    Err(f) => {
                        stop.store(true, Ordering::Relaxed);
                        kept.failure.get_or_insert(f);
                    }
                }
                dir
            }
            Step::Unread { dir } => {
                kept.unread += 1;
                Counters::add(&counters.failed, 1);
                tallies.entry(dir.clone()).or_default().unread = true;
                dir
            }
            Step::Left { dir } => {
                tallies.entry(dir.clone()).or_default().unread = true;
                dir
            }
            Step::Listed {
                dir,
                to_ship,
                settles,
            } => {
                tallies.entry(dir.clone()).or_default().listed = Some((to_ship, settles));
                dir
            }
        };
        if let Some(t) = tallies.get(&dir)
            && let Some((to_ship, true)) = t.listed
            && !t.unread
            && t.delivered == to_ship
        {
            // Every object of a directory past its late deliveries: forget their names.
            progress.insert(
                dir.clone(),
                PrefixProgress {
                    done: Default::default(),
                    settled: true,
                },
            );
        }
        dirty.insert(dir);
        if steps.is_empty() && unwritten.is_none() {
            unwritten = write(state, &progress, &mut dirty).await.err();
            if unwritten.is_some() {
                // What is delivered from now on could not be remembered: read no more.
                stop.store(true, Ordering::Relaxed);
            }
        }
    }
    match unwritten {
        Some(e) => Err(e),
        None => write(state, &progress, &mut dirty).await.map(|()| kept),
    }
}

/// Writes the progress of the `dirty` directories.
async fn write(
    state: &ServiceHandle,
    progress: &BTreeMap<String, PrefixProgress>,
    dirty: &mut BTreeSet<String>,
) -> Result<(), Failure> {
    if dirty.is_empty() {
        return Ok(());
    }
    let changed: Vec<(String, PrefixProgress)> = std::mem::take(dirty)
        .into_iter()
        .filter_map(|d| progress.get(&d).map(|p| (d, p.clone())))
        .collect();
    state
        .update(|s: &mut ServiceState| {
            for (dir, p) in &changed {
                s.prefixes.insert(dir.clone(), p.clone());
            }
        })
        .await
        .map_err(Failure::from)
}
