//! The walk of a replay's roots: directories listed depth first, a bounded number at once
//! (dated directories outside the window skipped), and the objects in the window read, a bounded
//! number at once, each telling the keeper how it went.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use chrono::{DateTime, DurationRound, Utc};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;

use super::{Dir, MAX_LISTS_IN_FLIGHT, Root, Span, Step};
use crate::cycle::{Counters, RunContext};
use crate::formats::layout::{DirDate, key_stamp};
use crate::formats::s3_notification::ObjectRef;
use crate::outcome::Failure;
use crate::sources::objects::ObjectHandler;
use crate::sources::queue::Rejection;
use crate::state::PrefixProgress;

/// The listing of every root, sending each object to read.
pub(super) struct Walk<'a> {
    pub(super) ctx: &'a RunContext,
    pub(super) roots: &'a [Root],
    pub(super) span: Span,
    pub(super) settle_before: DateTime<Utc>,
    pub(super) done: &'a BTreeMap<String, PrefixProgress>,
    pub(super) handler: &'a ObjectHandler<'a>,
    pub(super) counters: &'a Counters,
    pub(super) stop: &'a AtomicBool,
    pub(super) cut: &'a AtomicBool,
    /// The first object that failed for a reason other than its own (S3 unreachable, ...).
    pub(super) failure: std::sync::Mutex<Option<Failure>>,
}

impl Walk<'_> {
    /// Whether to list or read no more (a failure, the run's deadline); with work left, the
    /// window is cut short.
    pub(super) fn halted(&self) -> bool {
        let halted = self.stop.load(Ordering::Relaxed) || self.ctx.should_stop();
        if halted {
            self.cut.store(true, Ordering::Relaxed);
        }
        halted
    }

    /// Lists depth first (the directories waiting stay few however wide the tree), a bounded
    /// number at once.
    pub(super) async fn run(
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
    /// window not yet delivered go to be read, and each of its groups (the directory, or an hour
    /// of a flat layout) is told to the keeper, to settle when it may.
    async fn list(
        &self,
        dir: Dir,
        objects: &mpsc::Sender<(String, ObjectRef, String)>,
        steps: &mpsc::UnboundedSender<Step>,
    ) -> Result<Vec<Dir>, Failure> {
        let root = &self.roots[dir.root];
        let mut listing = Listing::new(self, &dir, root);
        let mut token = None;
        loop {
            if self.halted() {
                return Ok(Vec::new());
            }
            let page = root.list(&self.ctx.aws, &dir.prefix, token.take()).await?;
            listing.subdirs(self, &page);
            if !listing.objects(self, &page, objects).await {
                return Ok(Vec::new());
            }
            token = page.next_continuation_token().map(String::from);
            if token.is_none() || page.is_truncated() != Some(true) {
                break;
            }
        }
        Ok(listing.finish(self, steps))
    }
}

/// What the listing of one directory found so far.
struct Listing<'d> {
    dir: &'d Dir,
    root: &'d Root,
    /// `s3://bucket/prefix`.
    name: String,
    /// The day the directory spells, if it spells one.
    day_span: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Each group's objects sent to be read, and when its time ends.
    groups: BTreeMap<String, (u64, Option<DateTime<Utc>>)>,
    children: Vec<Dir>,
}

impl<'d> Listing<'d> {
    fn new(walk: &Walk<'_>, dir: &'d Dir, root: &'d Root) -> Self {
        let name = format!("s3://{}/{}", root.bucket, dir.prefix);
        let day_span = dir.date.span().filter(|_| dir.date.has_day());
        let mut groups = BTreeMap::new();
        if day_span.is_some() && walk.done.contains_key(&name) {
            groups.insert(name.clone(), (0, day_span.map(|(_, to)| to)));
        }
        Self {
            dir,
            root,
            name,
            day_span,
            groups,
            children: Vec::new(),
        }
    }

    /// The group of an object stamped `at`, and when its time ends: progress is kept per
    /// directory that spells a day, else per hour of the objects' stamps (a flat layout holds
    /// years of objects in one directory).
    fn group_of(&self, at: DateTime<Utc>) -> (String, Option<DateTime<Utc>>) {
        match self.day_span {
            Some((_, to)) => (self.name.clone(), Some(to)),
            None => {
                let hour = at.duration_trunc(chrono::Duration::hours(1)).ok();
                let label = hour.map_or_else(String::new, |h| h.format("@%Y-%m-%dT%H").to_string());
                (
                    format!("{}{label}", self.name),
                    hour.map(|h| h + chrono::Duration::hours(1)),
                )
            }
        }
    }

    /// The page's subdirectories to list: in the window, and not settled by an earlier run.
    fn subdirs(&mut self, walk: &Walk<'_>, page: &ListObjectsV2Output) {
        for sub in page.common_prefixes() {
            let Some(prefix) = sub.prefix() else { continue };
            let part = prefix
                .strip_prefix(self.dir.prefix.as_str())
                .unwrap_or(prefix)
                .trim_end_matches('/');
            let date = self.dir.date.extend(part).unwrap_or(self.dir.date);
            if let Some((from, to)) = date.span()
                && !walk.span.meets(from, to)
            {
                continue;
            }
            let sub_name = format!("s3://{}/{prefix}", self.root.bucket);
            if walk.done.get(&sub_name).is_some_and(|p| p.settled) {
                tracing::debug!(message = "Prefix settled by an earlier run of the replay.", prefix = %sub_name);
                continue;
            }
            self.children.push(Dir {
                root: self.dir.root,
                prefix: prefix.to_string(),
                date,
            });
        }
    }

    /// Sends the page's objects in the window, not delivered yet, to be read (false: reading
    /// has stopped).
    async fn objects(
        &mut self,
        walk: &Walk<'_>,
        page: &ListObjectsV2Output,
        objects: &mpsc::Sender<(String, ObjectRef, String)>,
    ) -> bool {
        for listed in page.contents() {
            let Some(key) = listed.key() else { continue };
            let stamped = key_stamp(key).or_else(|| {
                listed
                    .last_modified()
                    .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
            });
            let Some(at) = stamped.filter(|at| walk.span.contains(*at)) else {
                continue;
            };
            let file = key.strip_prefix(self.dir.prefix.as_str()).unwrap_or(key);
            let object = ObjectRef {
                bucket: self.root.bucket.clone(),
                key: key.to_string(),
                size: listed.size().and_then(|n| u64::try_from(n).ok()),
                event_time: None,
                region: Some(self.root.region.clone()),
            };
            // Its group is counted even when nothing of it is to be shipped (digests, filtered
            // keys), so that it settles.
            let (group, ends) = self.group_of(at);
            let tally = self.groups.entry(group.clone()).or_insert((0, ends));
            if let Some(reason) = walk.handler.skip_reason(&object) {
                tracing::debug!(message = "Object skipped.", key, reason);
                Counters::add(&walk.counters.skipped, 1);
                continue;
            }
            let progress = walk.done.get(&group);
            if progress.is_some_and(|p| p.settled || p.done.contains(file)) {
                tracing::debug!(
                    message = "Object delivered by an earlier run of the replay.",
                    key
                );
                Counters::add(&walk.counters.skipped, 1);
                continue;
            }
            tally.0 += 1;
            if objects
                .send((group, object, file.to_string()))
                .await
                .is_err()
            {
                return false;
            }
        }
        true
    }

    /// Tells the keeper of each group listed to its end (and whether its time ended long
    /// enough ago for it to settle); the subdirectories to list.
    fn finish(self, walk: &Walk<'_>, steps: &mpsc::UnboundedSender<Step>) -> Vec<Dir> {
        for (group, (to_ship, ends)) in self.groups {
            let settles = ends.is_some_and(|to| to <= walk.settle_before);
            let _ = steps.send(Step::Listed {
                dir: group,
                to_ship,
                settles,
            });
        }
        self.children
    }
}

/// Reads the listed objects, [`crate::sources::objects::MAX_OBJECTS_IN_FLIGHT`] at once (the
/// handler's slots), telling the keeper of each.
pub(super) async fn read_all(
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
