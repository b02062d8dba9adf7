//! The S3+SQS pipeline shared by every service that reads S3 objects (`audit` with
//! `types: [audits_s3]`, `flowlogs`, `cloudfront` and the kinds of `s3logs`): an SQS message
//! announces objects; each object is streamed from GetObject, decompressed as its first bytes say
//! (gzip or zstd, `formats::compression`), decoded by its format's plug-in (`formats::objects`), tagged,
//! framed and shipped in chunks. The message is acknowledged once the last chunk of its last
//! object is delivered.
//!
//! Objects are read in their own tasks (so decoding uses every core), at most
//! [`MAX_OBJECTS_IN_FLIGHT`] at once per service. Memory stays flat in the object's size: the
//! body is read 64 KiB at a time and events leave in batches of [`BATCH_BYTES`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_compression::tokio::bufread::{GzipDecoder, ZstdDecoder};
use chrono::{DateTime, Utc};
use regex::Regex;
use std::future::Future;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt};
use tokio::sync::Semaphore;

use crate::aws::Aws;
use crate::config::{KeyFilterPlan, ObjectPlan, QueuePlan, ServicePlan};
use crate::cycle::{Counters, RunContext, Stop, Summary, run_service};
use crate::devo::frame::{FrameBatch, Framing};
use crate::devo::shipper::{BATCH_BYTES, Outbox, Shipped, Shipper};
use crate::formats::FormatError;
use crate::formats::compression::Compression;
use crate::formats::digest::{FileHash, MAX_DIGEST_BYTES, is_digest_key, is_trail};
use crate::formats::objects::{
    DecoderOptions, Event, EventSink, Format, ObjectKind, Position, Table, kind_for,
};
use crate::formats::parquet::MAGIC;
use crate::formats::s3_notification::{self, Notification, ObjectRef};
use crate::outcome::{Failure, Outcome};
use crate::sources::partial::{ObjectSink, PartialNotes, Track};
use crate::sources::queue::{Incoming, MessageHandler, QueueJob, Rejection, consume};
use crate::sources::trail::{DigestStore, Fetched, TrailCheck};
use crate::sources::{TagRule, puller_account};
use crate::state::{PartialObject, ServiceHandle};

/// Objects read at once per service.
pub const MAX_OBJECTS_IN_FLIGHT: usize = 8;
/// A compressed object may inflate to this many times its stored size (CloudTrail, flow logs and
/// CloudFront logs compress 10 to 30 times), and always to [`MIN_DECOMPRESSED_CAP`]: past that
/// it is a bomb, reported and skipped. Memory does not grow with it either way; the cap
/// bounds the time a planted object costs every run.
pub const MAX_INFLATION: u64 = 400;
pub const MIN_DECOMPRESSED_CAP: u64 = 64 << 20;
/// Bytes read from an object at a time.
const READ_BYTES: usize = 64 << 10;
/// Room reserved per batch: a full batch plus what one read's events may add on top.
const BATCH_CAPACITY: usize = BATCH_BYTES + 2 * READ_BYTES;

/// One kind a service reads: its format, and how its events are tagged.
pub struct Route {
    /// Its `types` spelling.
    pub kind: &'static str,
    /// How its objects are read.
    pub read: ObjectKind,
    pub tags: TagRule,
    /// Objects of it read in this run (shown by an archive's summary).
    objects: AtomicU64,
}

impl Route {
    fn new(kind: &'static str, read: ObjectKind, tags: TagRule) -> Self {
        Self {
            kind,
            read,
            tags,
            objects: AtomicU64::new(0),
        }
    }
}

/// How one service reads its objects; shared with the object tasks.
pub struct ObjectSettings {
    /// The kinds it reads: one, or an archive's.
    pub routes: Vec<Route>,
    /// An archive: each object's kind is the one whose format claims its key.
    pub by_key: bool,
    /// `auto_event_type`: a record routed to a table of its own is typed too.
    pub by_event_type: bool,
    /// What the config asks of the decoder (`format: json`, `drop_event_names`).
    pub decoding: DecoderOptions,
    /// `s3_file_type_filter`: only keys matching it are read.
    pub key_filter: Option<KeyFilter>,
    /// Objects announced before this are acknowledged without being read.
    pub start_time: Option<DateTime<Utc>>,
    /// `expected_bucket_owner`: the accounts that may own the buckets read (none: any).
    pub expected_owners: Vec<String>,
    /// The owner found for each bucket, among `expected_owners`.
    pub owners_found: Mutex<HashMap<String, String>>,
    /// The notices given in this run (a field name a decoder does not know, ...): each is
    /// logged once.
    pub noticed: Mutex<HashSet<String>>,
}

impl ObjectSettings {
    /// `format` decoded with `decoding`, tagged from each event, every object read: how the
    /// benchmark and the tests read objects.
    pub fn plain(format: &'static Format, decoding: DecoderOptions) -> Self {
        let tags = TagRule {
            table: format.table,
            typed_family: None,
            from_event: true,
        };
        Self {
            routes: vec![Route::new(format.name, ObjectKind::Format(format), tags)],
            by_key: false,
            by_event_type: false,
            decoding,
            key_filter: None,
            start_time: None,
            expected_owners: Vec::new(),
            owners_found: Mutex::default(),
            noticed: Mutex::default(),
        }
    }

    /// Whether the object at `key`, of `route`, is a CloudTrail digest to check.
    fn is_digest(&self, route: usize, key: &str) -> bool {
        self.routes.get(route).is_some_and(|r| is_trail(r.read)) && is_digest_key(key)
    }

    fn known_owner(&self, bucket: &str) -> Option<String> {
        crate::lock(&self.owners_found).get(bucket).cloned()
    }

    fn remember_owner(&self, bucket: &str, owner: &str) {
        crate::lock(&self.owners_found).insert(bucket.to_string(), owner.to_string());
    }

    /// The kind of the object at `key` (its index in `routes`): an archive's by the key's
    /// layout; none when no kind of the archive claims it.
    fn route_of(&self, key: &str) -> Option<usize> {
        kind_for(self.routes.iter().map(|r| r.read), self.by_key, key)
    }

    /// Why an object is not to be read, if it is not (what the key filter let through or held
    /// back is counted).
    fn skip_reason(&self, object: &ObjectRef) -> Option<&'static str> {
        let Some(route) = self.route_of(&object.key) else {
            return Some(UNCLAIMED);
        };
        if !self.routes[route].read.reads_key(&object.key) && !self.is_digest(route, &object.key) {
            return Some("not a file of this format");
        }
        if let Some(filter) = &self.key_filter
            && !filter.lets_through(&object.key)
        {
            return Some(FILTERED);
        }
        if let (Some(start), Some(at)) = (self.start_time, object.event_time)
            && at < start
        {
            return Some("older than start_time");
        }
        None
    }
}

/// Why an object `s3_file_type_filter` held back is not read.
const FILTERED: &str = "does not match s3_file_type_filter";
/// Why an object of an archive whose key no kind claims is not read.
const UNCLAIMED: &str = "its key is of no kind this archive reads";

/// `s3_file_type_filter`, and what it did in this run.
#[derive(Debug)]
pub struct KeyFilter {
    regex: Regex,
    /// Its key path, for what is said of it.
    path: String,
    passed: AtomicU64,
    held_back: AtomicU64,
    /// A key it held back.
    sample: Mutex<Option<String>>,
}

impl KeyFilter {
    /// The filter the plan compiled.
    fn new(plan: &KeyFilterPlan) -> Self {
        Self {
            regex: plan.regex.clone(),
            path: plan.path.clone(),
            passed: AtomicU64::new(0),
            held_back: AtomicU64::new(0),
            sample: Mutex::default(),
        }
    }

    fn lets_through(&self, key: &str) -> bool {
        let through = self.regex.is_match(key);
        if through {
            self.passed.fetch_add(1, Ordering::Relaxed);
        } else {
            self.held_back.fetch_add(1, Ordering::Relaxed);
            crate::lock(&self.sample).get_or_insert_with(|| key.to_string());
        }
        through
    }

    /// The mistake, when the filter let no object of this run through and held some back.
    fn matched_nothing(&self) -> Option<String> {
        let held_back = self.held_back.load(Ordering::Relaxed);
        if self.passed.load(Ordering::Relaxed) > 0 || held_back == 0 {
            return None;
        }
        let sample = crate::lock(&self.sample).clone().unwrap_or_default();
        Some(format!(
            "{} '{}' matched none of the {held_back} objects of this run (such as {sample}), so none was read (from a queue, their messages went back unread). Fix the pattern: it is matched against the whole key",
            self.path,
            self.regex.as_str()
        ))
    }
}

impl ObjectSettings {
    /// How the service of `plan` reads objects (`objects`, its part of the plan).
    fn planned(plan: &ServicePlan, objects: &ObjectPlan) -> Self {
        let routes = objects
            .kinds
            .iter()
            .map(|&(kind, read)| {
                let tags = TagRule::new(read.table(), read.typed_family(), plan.tags);
                Route::new(kind, read, tags)
            })
            .collect();
        Self {
            routes,
            by_key: objects.by_key,
            by_event_type: plan.tags.by_event_type,
            decoding: DecoderOptions {
                json: objects.json,
                drop_event_names: objects.drop_event_names.clone(),
                region: None,
                log_routes: objects.log_routes.clone(),
            },
            key_filter: objects.key_filter.as_ref().map(KeyFilter::new),
            start_time: plan.start_time,
            expected_owners: objects.expected_owners.clone(),
            owners_found: Mutex::default(),
            noticed: Mutex::default(),
        }
    }
}

/// One cycle of an S3+SQS service: what its queue announces (a replay, `--start-time`, is
/// `sources::replay`).
pub async fn run(
    ctx: &RunContext,
    plan: &ServicePlan,
    queue: &QueuePlan,
    objects: &ObjectPlan,
) -> Summary {
    run_service(ctx, plan, |counters, state| async move {
        let handler = ObjectHandler::planned(ctx, plan, objects, counters.clone(), state);
        let consumed = consume(ctx, &QueueJob::new(plan, queue, &handler), &counters).await;
        if let Some(kinds) = handler.kinds_read() {
            counters.note(kinds);
        }
        let checked = handler.finish().await;
        consumed.and(checked)
    })
    .await
}

/// The [`MessageHandler`] of the pipeline.
///
/// Every object a message announces is attempted, also after one failed. When one did fail, the
/// handler waits for the receipts of the others, remembers in the state which were delivered
/// (until the queue's retention period ends), and leaves the message to the queue: when it comes
/// back, only the objects not yet delivered are read.
pub struct ObjectHandler<'a> {
    ctx: &'a RunContext,
    settings: Arc<ObjectSettings>,
    pub counters: Arc<Counters>,
    state: Arc<ServiceHandle>,
    /// How far objects left in the middle were delivered, kept in the state.
    notes: Arc<PartialNotes>,
    slots: Arc<Semaphore>,
    /// CloudTrail's digests checked against what was shipped (a service that reads CloudTrail).
    trail: Option<Arc<TrailCheck>>,
    /// A replay's digests, checked once the files it lists (after the digests: `CloudTrail-Digest/`
    /// sorts before `CloudTrail/`) were read.
    digests_after: Mutex<Vec<(ObjectRef, Fetch)>>,
}

/// Where reading an object announced by a message starts: what earlier runs delivered of it, and
/// until when its message is kept (a note of progress is useless after).
pub struct Resume {
    pub earlier: Option<PartialObject>,
    pub expires: DateTime<Utc>,
}

impl<'a> ObjectHandler<'a> {
    /// The handler of the objects of the service of `plan`.
    pub fn planned(
        ctx: &'a RunContext,
        plan: &ServicePlan,
        objects: &ObjectPlan,
        counters: Arc<Counters>,
        state: Arc<ServiceHandle>,
    ) -> Self {
        let settings = ObjectSettings::planned(plan, objects);
        let trail = settings
            .routes
            .iter()
            .any(|r| is_trail(r.read))
            .then(|| Arc::new(TrailCheck::new(ctx, plan, counters.clone(), state.clone())));
        Self {
            ctx,
            settings: Arc::new(settings),
            counters,
            notes: Arc::new(PartialNotes::new(state.clone())),
            state,
            slots: Arc::new(Semaphore::new(MAX_OBJECTS_IN_FLIGHT)),
            trail,
            digests_after: Mutex::default(),
        }
    }

    /// At the end of the service's run: the notes of objects delivered whole forgotten, a
    /// replay's digests checked, then what the trail check has to say and write.
    pub async fn finish(&self) -> Result<(), Failure> {
        self.notes.flush().await;
        let Some(trail) = &self.trail else {
            return Ok(());
        };
        let digests = std::mem::take(&mut *crate::lock(&self.digests_after));
        for (object, fetch) in digests {
            match trail.digest(&object, &fetch).await {
                Ok(shipped) => {
                    Counters::add(&self.counters.events, shipped.events);
                    Counters::add(&self.counters.bytes, shipped.bytes);
                    shipped.answer().await.outcome()?;
                }
                Err(Rejection::Failed(f)) => return Err(f),
                Err(Rejection::Poison(why)) => {
                    Counters::add(&self.counters.failed, 1);
                    tracing::warn!(message = "Digest cannot be read; the replay goes on without it.", error = %why);
                }
                Err(Rejection::Filtered) => {}
            }
        }
        trail.finish().await
    }

    /// Reads and ships one object in a task of its own (one of [`MAX_OBJECTS_IN_FLIGHT`]);
    /// `region` is the bucket's, `origin` what announced it (an SQS message id), for reports.
    /// With `resume` (an object a message announced), how far it gets is noted in the state
    /// when the run leaves it in the middle, and reading passes over what earlier runs
    /// delivered of it.
    pub async fn ship(
        &self,
        object: ObjectRef,
        region: String,
        origin: &str,
        resume: Option<Resume>,
    ) -> Result<Shipped, Rejection> {
        let route = self.settings.route_of(&object.key).unwrap_or_default();
        if let Some(r) = self.settings.routes.get(route) {
            r.objects.fetch_add(1, Ordering::Relaxed);
        }
        let is_digest = self.settings.is_digest(route, &object.key);
        let log_file = self
            .settings
            .routes
            .get(route)
            .is_some_and(|r| is_trail(r.read) && !is_digest);
        let trail_of_file = self.trail.clone().filter(|_| log_file);
        // Before any wait: a digest announced in the same batch finds it being read.
        let _reading = trail_of_file.as_ref().map(|t| t.reading(&object));
        let fetch = Fetch {
            aws: self.ctx.aws.clone(),
            s3: self.ctx.aws.s3(&region),
            settings: self.settings.clone(),
            bucket: object.bucket.clone(),
            key: object.key.clone(),
        };
        if let Some(trail) = self.trail.as_ref().filter(|_| is_digest) {
            if self.ctx.options.backfill.is_some() {
                crate::lock(&self.digests_after).push((object, fetch));
                return Ok(Shipped::NOTHING);
            }
            return trail.digest(&object, &fetch).await;
        }
        let hash = match &trail_of_file {
            Some(trail) => trail.hashes(&object).await?,
            None => false,
        };
        let job = ObjectJob {
            fetch,
            trail: trail_of_file,
            shipper: self.ctx.shipper.clone(),
            framing: self.ctx.framing.clone(),
            resume: resume.map(|r| (self.notes.clone(), r)),
            reader: ObjectReader {
                settings: self.settings.clone(),
                counters: self.counters.clone(),
                puller_account: puller_account(&self.ctx.aws)
                    .await
                    .map_err(Rejection::Failed)?
                    .to_string(),
                region,
                message_id: origin.to_string(),
                object,
                stop: self.ctx.stop.clone(),
                skip: 0,
                route,
                hash,
            },
        };
        let slot = self.slots.clone().acquire_owned().await.map_err(|_| {
            Rejection::Failed(Failure::new(Outcome::Internal, "object slots closed"))
        })?;
        tokio::spawn(async move {
            let _slot = slot;
            job.run().await
        })
        .await
        .map_err(|e| {
            Rejection::Failed(Failure::new(Outcome::Internal, format!("object task: {e}")))
        })?
    }

    /// Why `object` is not to be read, if it is not (its key is not of this format, or does
    /// not match `s3_file_type_filter`, ...).
    pub fn skip_reason(&self, object: &ObjectRef) -> Option<&'static str> {
        let reason = self.settings.skip_reason(object)?;
        if reason == UNCLAIMED {
            let kinds: Vec<&str> = self.settings.routes.iter().map(|r| r.kind).collect();
            tracing::warn!(
                message = "Object of no kind this archive reads, by its key: acknowledged unread.",
                bucket = %object.bucket,
                key = %object.key,
                kinds = %kinds.join(",")
            );
            self.counters.note(
                "objects of no kind this archive reads were acknowledged unread (each named in a warning)".into(),
            );
        }
        Some(reason)
    }

    /// What an archive read of each kind, for its summary (none for a service of one kind).
    pub fn kinds_read(&self) -> Option<String> {
        if !self.settings.by_key {
            return None;
        }
        let read: Vec<String> = self
            .settings
            .routes
            .iter()
            .map(|r| (r.kind, r.objects.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .map(|(kind, n)| format!("{kind}={n}"))
            .collect();
        (!read.is_empty()).then(|| format!("objects read by kind: {}", read.join(" ")))
    }

    /// After an object failed: waits for the receipts of those shipped, counts them, and
    /// remembers the delivered ones with those of earlier runs.
    async fn keep_progress(
        &self,
        message: &Incoming<'_>,
        mut delivered: Vec<String>,
        shipped: Vec<(String, Shipped)>,
    ) -> Result<(), Failure> {
        let before = delivered.len();
        for (name, shipped) in shipped {
            let (events, bytes) = (shipped.events, shipped.bytes);
            if shipped.answer().await.outcome()?.is_delivered() {
                delivered.push(name);
            }
            Counters::add(&self.counters.events, events);
            Counters::add(&self.counters.bytes, bytes);
        }
        if delivered.len() > before {
            let retention = chrono::Duration::from_std(message.retention)
                .unwrap_or_else(|_| chrono::Duration::days(14));
            self.state
                .record_objects(message.id, delivered, Utc::now() + retention)
                .await?;
        }
        Ok(())
    }
}

/// How an object is named in the state.
fn object_name(object: &ObjectRef) -> String {
    format!("s3://{}/{}", object.bucket, object.key)
}

impl MessageHandler for ObjectHandler<'_> {
    fn filtered_verdict(&self) -> Option<Failure> {
        let filter = self.settings.key_filter.as_ref()?;
        filter
            .matched_nothing()
            .map(|why| Failure::new(Outcome::Config, why))
    }

    async fn handle(&self, message: Incoming<'_>) -> Result<Shipped, Rejection> {
        let objects = match s3_notification::parse(message.body) {
            Ok(Notification::Test) => {
                tracing::info!(message = "S3 test event deleted.", message_id = %message.id);
                return Ok(Shipped::NOTHING);
            }
            Ok(Notification::Objects(objects)) => objects,
            Err(e) => return Err(Rejection::Poison(e.to_string())),
        };
        let (done, mut partial) = self.earlier_progress(&message).await?;
        let expires = Utc::now()
            + chrono::Duration::from_std(message.retention)
                .unwrap_or_else(|_| chrono::Duration::days(14));
        let mut tally = ObjectTally::default();
        for object in objects {
            if let Some(reason) = self.skip_reason(&object) {
                tracing::debug!(message = "Object skipped.", bucket = %object.bucket, key = %object.key, reason);
                Counters::add(&self.counters.skipped, 1);
                tally.filtered += usize::from(reason == FILTERED);
                continue;
            }
            tally.attempted += 1;
            let name = object_name(&object);
            if done.contains(&name) {
                tracing::debug!(message = "Object delivered by an earlier run, not shipped again.", object = %name, message_id = %message.id);
                Counters::add(&self.counters.skipped, 1);
                continue;
            }
            let region = object
                .region
                .clone()
                .unwrap_or_else(|| message.region.to_string());
            let resume = Resume {
                earlier: partial.remove(&name),
                expires,
            };
            let shipped = self.ship(object, region, message.id, Some(resume)).await;
            tally.add(name, shipped, message.id, &self.counters);
        }
        if tally.attempted == 0 && tally.filtered > 0 {
            // Decided when the region is done, by what the filter did in the whole run.
            return Err(Rejection::Filtered);
        }
        if tally.failure.is_none() && tally.unreadable.is_empty() {
            return Ok(tally
                .shipped
                .into_iter()
                .fold(Shipped::NOTHING, |all, (_, s)| all.then(s)));
        }
        self.keep_progress(&message, done, tally.shipped)
            .await
            .map_err(Rejection::Failed)?;
        match tally.failure {
            Some(f) => Err(Rejection::Failed(f)),
            None => Err(Rejection::Poison(tally.unreadable.join("; "))),
        }
    }
}

impl ObjectHandler<'_> {
    /// What earlier runs delivered of `message`'s objects: those delivered whole, and how far
    /// others were (a message received for the first time has none, and the state is not read).
    async fn earlier_progress(
        &self,
        message: &Incoming<'_>,
    ) -> Result<(Vec<String>, BTreeMap<String, PartialObject>), Rejection> {
        if message.receive_count.is_some_and(|n| n <= 1) {
            return Ok(Default::default());
        }
        let earlier = self
            .state
            .message_progress(message.id)
            .await
            .map_err(|e| Rejection::Failed(e.into()))?;
        Ok(earlier.map_or_else(Default::default, |p| (p.objects, p.partial)))
    }
}

/// What became of the objects of one message.
#[derive(Default)]
struct ObjectTally {
    /// Objects shipped, by name, waiting for their receipts.
    shipped: Vec<(String, Shipped)>,
    /// Why objects could not be read (their own fault).
    unreadable: Vec<String>,
    /// The first failure not of an object's own (S3 unreachable, the deadline).
    failure: Option<Failure>,
    /// Objects the key filter held back, and objects it let through.
    filtered: usize,
    attempted: usize,
}

impl ObjectTally {
    /// Counts how shipping the object `name` (`s3://bucket/key`) of message `message_id` went.
    fn add(
        &mut self,
        name: String,
        shipped: Result<Shipped, Rejection>,
        message_id: &str,
        counters: &Counters,
    ) {
        match shipped {
            Ok(s) => {
                Counters::add(&counters.objects, 1);
                self.shipped.push((name, s));
            }
            Err(Rejection::Poison(reason)) => {
                tracing::warn!(
                    message = "Object cannot be read; its message is left to the queue's redrive policy.",
                    object = %name,
                    message_id,
                    error = %reason
                );
                Counters::add(&counters.failed, 1);
                self.unreadable.push(reason);
            }
            Err(Rejection::Failed(f)) => {
                self.failure.get_or_insert(f);
            }
            // (An object alone is never held back by the filter here.)
            Err(Rejection::Filtered) => self.filtered += 1,
        }
    }
}

/// What S3 says of an object as stored: its size and its `Content-Encoding`.
#[derive(Debug, Default)]
pub struct Stored {
    pub bytes: Option<u64>,
    pub encoding: Option<String>,
}

/// One object to fetch and ship, with everything its task needs.
struct ObjectJob {
    fetch: Fetch,
    /// The trail check, for a CloudTrail log file (its hash is remembered once delivered).
    trail: Option<Arc<TrailCheck>>,
    shipper: Shipper,
    framing: Framing,
    /// For an object a message announced: where its notes go, and what earlier runs delivered.
    resume: Option<(Arc<PartialNotes>, Resume)>,
    reader: ObjectReader,
}

impl ObjectJob {
    async fn run(mut self) -> Result<Shipped, Rejection> {
        let got = self.fetch.get(None).await?;
        let etag = got.e_tag.clone();
        let stored_at = got
            .last_modified
            .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
            .unwrap_or_else(Utc::now);
        let stored = Stored {
            bytes: got.content_length.and_then(|n| u64::try_from(n).ok()),
            encoding: got.content_encoding.clone(),
        };
        let track = self.resume.take().map(|(notes, resume)| {
            self.reader.skip = self.reader.resume_from(resume.earlier, etag.as_deref());
            Track {
                notes,
                message_id: self.reader.message_id.clone(),
                object: object_name(&self.reader.object),
                etag: etag.clone(),
                expires: resume.expires,
            }
        });
        let body = Resuming {
            fetch: self.fetch,
            body: Some(got.body),
            etag,
            offset: 0,
            length: stored.bytes,
            retries_left: BODY_RETRIES,
        }
        .into_reader();
        let outbox = Outbox::new(&self.shipper, &self.framing);
        let mut sink = ObjectSink::new(outbox, track, self.reader.skip);
        match self
            .reader
            .read(body, &stored, &self.framing, &mut sink)
            .await
        {
            Ok(hash) => {
                let shipped = sink.finish().await;
                Ok(match &self.trail {
                    Some(trail) => trail.file_read(&self.reader.object, hash, stored_at, shipped),
                    None => shipped,
                })
            }
            Err(e) => {
                sink.leave(&self.reader.counters).await;
                Err(e)
            }
        }
    }
}

impl DigestStore for Fetch {
    /// A digest (or the one before it, in the same bucket or another): GetObject with the
    /// service's expected owners, gunzipped whole (at most [`MAX_DIGEST_BYTES`]), and its
    /// signature.
    async fn fetch(&self, bucket: &str, key: &str) -> Result<Option<Fetched>, Rejection> {
        let fetch = Fetch {
            aws: self.aws.clone(),
            s3: self.s3.clone(),
            settings: self.settings.clone(),
            bucket: bucket.to_string(),
            key: key.to_string(),
        };
        let got = match fetch.get(None).await {
            Ok(got) => got,
            Err(Rejection::Poison(why)) if why.ends_with("the object no longer exists") => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let signature = got.metadata().and_then(|m| m.get("signature")).cloned();
        if got
            .content_length
            .is_some_and(|n| n as u64 > MAX_DIGEST_BYTES)
        {
            return Err(fetch.poison(format!("a digest over {MAX_DIGEST_BYTES} bytes")));
        }
        let body = got.body.collect().await.map_err(|e| {
            Rejection::Failed(Failure::new(
                Outcome::Temporary,
                format!("reading s3://{bucket}/{key}: {e}"),
            ))
        })?;
        let body = body.into_bytes();
        let mut inflated = Vec::new();
        let mut reader = std::io::Read::take(
            flate2::read::MultiGzDecoder::new(body.as_ref()),
            MAX_DIGEST_BYTES + 1,
        );
        std::io::Read::read_to_end(&mut reader, &mut inflated)
            .map_err(|e| fetch.poison(format!("not a gzip digest: {e}")))?;
        if inflated.len() as u64 > MAX_DIGEST_BYTES {
            return Err(fetch.poison(format!("a digest over {MAX_DIGEST_BYTES} bytes")));
        }
        Ok(Some(Fetched {
            inflated,
            signature,
        }))
    }
}

/// How often a body that broke off is fetched again from where it stopped, per object.
const BODY_RETRIES: u32 = 3;

/// GetObject of one object.
struct Fetch {
    aws: Arc<Aws>,
    s3: aws_sdk_s3::Client,
    settings: Arc<ObjectSettings>,
    bucket: String,
    key: String,
}

impl Fetch {
    fn poison(&self, reason: impl std::fmt::Display) -> Rejection {
        Rejection::Poison(format!("s3://{}/{}: {reason}", self.bucket, self.key))
    }

    /// GetObject, with the bucket's owner expected to be one of `expected_bucket_owner` when
    /// that is set (the owner found is remembered per bucket); `from` (an offset and the ETag
    /// the object must still have) asks for the rest of a body that broke off.
    async fn get(
        &self,
        from: Option<(u64, Option<&str>)>,
    ) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, Rejection> {
        let settings = &self.settings;
        let owners: Vec<Option<String>> = match settings.known_owner(&self.bucket) {
            Some(owner) => vec![Some(owner)],
            None if settings.expected_owners.is_empty() => vec![None],
            None => settings.expected_owners.iter().cloned().map(Some).collect(),
        };
        for owner in &owners {
            let got = self
                .s3
                .get_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .set_expected_bucket_owner(owner.clone())
                .set_range(from.map(|(offset, _)| format!("bytes={offset}-")))
                .set_if_match(from.and_then(|(_, etag)| etag.map(String::from)))
                .send()
                .await;
            let e = match got {
                Ok(got) => {
                    if let Some(owner) = owner {
                        settings.remember_owner(&self.bucket, owner);
                    }
                    return Ok(got);
                }
                Err(e) => e,
            };
            let code = e
                .as_service_error()
                .and_then(aws_sdk_s3::error::ProvideErrorMetadata::code);
            let kms = e
                .as_service_error()
                .and_then(aws_sdk_s3::error::ProvideErrorMetadata::message)
                .is_some_and(|m| m.contains("kms:") || m.contains("KMS"));
            // What is wrong with this object (or its bucket) alone: the other objects and
            // messages go on.
            let object_fault = match code {
                Some("AccessDenied") if kms => Some(
                    "access denied by KMS: the role needs kms:Decrypt on the KMS key that encrypts the object (GuardDuty encrypts its exports with one)",
                ),
                Some("AccessDenied") if owner.is_some() => continue,
                Some("NoSuchKey") => Some("the object no longer exists"),
                Some("NoSuchBucket") => Some("the bucket no longer exists"),
                Some("AccessDenied") => Some(
                    "access denied (the role needs s3:GetObject on it, and kms:Decrypt when it is encrypted with a KMS key)",
                ),
                Some("InvalidObjectState") => Some("archived (restore it first)"),
                _ => None,
            };
            return Err(match object_fault {
                Some(reason) => self.poison(reason),
                None => {
                    let what = format!("S3 GetObject s3://{}/{}", self.bucket, self.key);
                    Rejection::Failed(self.aws.failure(&what, &e))
                }
            });
        }
        Err(self.poison(format!(
            "the bucket is owned by none of expected_bucket_owner ({}), or access is denied",
            settings.expected_owners.join(", ")
        )))
    }
}

/// An object's body that, when the connection to S3 breaks in its middle (a reset, or a close
/// short of its length), is fetched again from where it stopped (a ranged GetObject of the same
/// ETag), up to [`BODY_RETRIES`] times: the bytes read so far are not read again, and the
/// decoder goes on as if nothing happened.
struct Resuming {
    fetch: Fetch,
    body: Option<aws_sdk_s3::primitives::ByteStream>,
    etag: Option<String>,
    /// Bytes of the body read so far.
    offset: u64,
    length: Option<u64>,
    retries_left: u32,
}

impl Resuming {
    fn into_reader(self) -> impl AsyncBufRead + Send + Unpin + 'static {
        let chunks = futures_util::stream::unfold(self, |mut body| async move {
            let chunk = body.next_chunk().await?;
            Some((chunk, body))
        });
        tokio::io::BufReader::with_capacity(
            READ_BYTES,
            tokio_util::io::StreamReader::new(Box::pin(chunks)),
        )
    }

    async fn next_chunk(&mut self) -> Option<io::Result<bytes::Bytes>> {
        loop {
            let body = self.body.as_mut()?;
            let broke = match body.next().await {
                Some(Ok(chunk)) => {
                    self.offset += chunk.len() as u64;
                    return Some(Ok(chunk));
                }
                None if self.length.is_none_or(|n| self.offset >= n) => return None,
                None => "the body ended short of its length".to_string(),
                Some(Err(e)) => {
                    aws_smithy_types::error::display::DisplayErrorContext(e).to_string()
                }
            };
            let object = format!("s3://{}/{}", self.fetch.bucket, self.fetch.key);
            let read = match self.length {
                Some(n) => format!("{} of {n} bytes", self.offset),
                None => format!("{} bytes", self.offset),
            };
            if self.retries_left == 0 {
                self.body = None;
                return Some(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    format!(
                        "reading {object} broke off after {read} ({BODY_RETRIES} times): {broke}"
                    ),
                )));
            }
            self.retries_left -= 1;
            tracing::warn!(
                message = "Reading an object broke off; fetching the rest from where it stopped.",
                object,
                read,
                error = broke
            );
            match self
                .fetch
                .get(Some((self.offset, self.etag.as_deref())))
                .await
            {
                Ok(rest) => self.body = Some(rest.body),
                Err(e) => {
                    self.body = None;
                    let why = e.reason();
                    return Some(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        format!(
                            "reading {object} broke off after {read}, and fetching the rest failed: {why}"
                        ),
                    )));
                }
            }
        }
    }
}

/// Where an object's framed batches go, each with the records read from the start of the
/// object through it.
pub trait BatchSink {
    fn send(&mut self, batch: FrameBatch, through: u64) -> impl Future<Output = ()> + Send;
}

impl BatchSink for ObjectSink {
    async fn send(&mut self, batch: FrameBatch, through: u64) {
        self.ship(batch, through).await;
    }
}

/// Decodes one object's bytes into framed, tagged events. Independent of where the bytes come
/// from and where the batches go, so the benchmark measures exactly this.
pub struct ObjectReader {
    pub settings: Arc<ObjectSettings>,
    pub counters: Arc<Counters>,
    /// The fallback account of tags.
    pub puller_account: String,
    /// The bucket's region (or the queue's when the notification does not say).
    pub region: String,
    /// The announcing message, for reports.
    pub message_id: String,
    pub object: ObjectRef,
    /// The run's stop: reading ends within one 64 KiB chunk of it.
    pub stop: Stop,
    /// Records delivered by earlier runs: read, and passed over.
    pub skip: u64,
    /// Its kind: its index in the settings' routes.
    pub route: usize,
    /// Hash its decompressed bytes (a CloudTrail log file of a trail with digests).
    pub hash: bool,
}

impl ObjectReader {
    fn route(&self) -> &Route {
        &self.settings.routes[self.route]
    }

    fn poison(&self, reason: impl std::fmt::Display) -> Rejection {
        Rejection::Poison(format!(
            "s3://{}/{}: {reason}",
            self.object.bucket, self.object.key
        ))
    }

    /// How many records to pass over, given what earlier runs delivered of the object and the
    /// ETag it has now: none when the object was replaced since.
    fn resume_from(&self, earlier: Option<PartialObject>, etag: Option<&str>) -> u64 {
        let Some(earlier) = earlier else { return 0 };
        let object = object_name(&self.object);
        if earlier.etag.is_some() && earlier.etag.as_deref() != etag {
            tracing::warn!(
                message = "An object partly delivered by an earlier run was replaced since; it is read whole.",
                %object,
                records_delivered = earlier.records
            );
            return 0;
        }
        tracing::info!(
            message = "Resuming an object partly delivered by an earlier run.",
            %object,
            records_passed_over = earlier.records,
            message_id = %self.message_id
        );
        earlier.records
    }

    /// Reads the object (gzip or zstd, multi-member or multi-frame, as its first bytes and its
    /// `Content-Encoding` say; else plain text), handing batches of about [`BATCH_BYTES`] to
    /// `sink` as they fill, passing over its first [`ObjectReader::skip`] records. The object's
    /// size in S3 sets how far a compressed object may inflate. When reading stops early (the run's stop, a read error, a
    /// corrupt part), what was framed before is still handed to `sink`. A CloudTrail log file's
    /// SHA-256 (of its uncompressed bytes, as its digest names it) comes back.
    pub async fn read<R, S>(
        &self,
        body: R,
        stored: &Stored,
        framing: &Framing,
        sink: &mut S,
    ) -> Result<Option<String>, Rejection>
    where
        R: AsyncBufRead + Unpin + Send + 'static,
        S: BatchSink,
    {
        let mut out = Out {
            batch: framing.batch_with_capacity(BATCH_CAPACITY),
            records: 0,
            tags: TagCache::default(),
            hash: self.hash.then(FileHash::default),
        };
        let read = self.read_into(body, stored, framing, sink, &mut out).await;
        if !out.batch.is_empty() {
            sink.send(out.batch, out.records).await;
        }
        read.map(|()| out.hash.map(FileHash::finish))
    }

    async fn read_into<R, S>(
        &self,
        mut body: R,
        stored: &Stored,
        framing: &Framing,
        sink: &mut S,
        out: &mut Out,
    ) -> Result<(), Rejection>
    where
        R: AsyncBufRead + Unpin + Send + 'static,
        S: BatchSink,
    {
        let head = body.fill_buf().await.map_err(|e| self.read_error(&e))?;
        let compression =
            Compression::of(head, stored.encoding.as_deref()).map_err(|e| self.poison(e))?;
        let mut source = decompressed(body, compression);
        let decoding = DecoderOptions {
            region: Some(self.region.clone()),
            ..self.settings.decoding.clone()
        };
        let mut decoder = self.route().read.decoder(&decoding, &self.object.key);
        let mut buf = vec![0u8; READ_BYTES];
        let mut first = true;
        let cap = stored
            .bytes
            .map_or(MIN_DECOMPRESSED_CAP, |n| n.saturating_mul(MAX_INFLATION))
            .max(MIN_DECOMPRESSED_CAP);
        let mut read = 0u64;
        loop {
            self.stopped_in_the_middle()?;
            let n = source
                .read(&mut buf)
                .await
                .map_err(|e| self.read_error(&e))?;
            if n == 0 {
                break;
            }
            read += n as u64;
            if compression.compressed() && read > cap {
                return Err(self.poison(format!(
                    "inflates past {cap} bytes ({MAX_INFLATION} times its stored size, at least {MIN_DECOMPRESSED_CAP}): a {compression} bomb?"
                )));
            }
            let chunk = &buf[..n];
            if std::mem::take(&mut first) && chunk.contains(&0) && !chunk.starts_with(MAGIC) {
                return Err(self.poison("neither gzip, zstd nor text"));
            }
            if let Some(hash) = &mut out.hash {
                hash.update(chunk);
            }
            decoder
                .feed(chunk, &mut self.tagging(out))
                .map_err(|e| self.decode_error(e))?;
            out.ship_if_full(framing, sink).await;
        }
        decoder
            .finish(&mut self.tagging(out))
            .map_err(|e| self.decode_error(e))?;
        // An object read whole before its records (Parquet): a step of them at a time.
        while decoder
            .more(&mut self.tagging(out))
            .map_err(|e| self.decode_error(e))?
        {
            self.stopped_in_the_middle()?;
            out.ship_if_full(framing, sink).await;
        }
        Ok(())
    }

    /// A decoder's error: the object's fault (poison), unless it is this machine's.
    fn decode_error(&self, e: FormatError) -> Rejection {
        match e {
            FormatError::Local(why) => Rejection::Failed(Failure::new(
                Outcome::Temporary,
                format!("{}: {why}", object_name(&self.object)),
            )),
            other => self.poison(other),
        }
    }

    /// Err when the run's deadline (or a stop signal) has come: what was read is shipped, the
    /// message goes back to the queue for the rest.
    fn stopped_in_the_middle(&self) -> Result<(), Rejection> {
        if self.stop.now() {
            return Err(Rejection::Failed(Failure::new(
                Outcome::Temporary,
                format!(
                    "s3://{}/{}: the run's deadline (or a stop signal) came in the middle of the object; the next run reads the rest",
                    self.object.bucket, self.object.key
                ),
            )));
        }
        Ok(())
    }

    /// A corrupt or truncated compressed stream is the object's fault; anything else (the
    /// connection to S3) is worth another try.
    fn read_error(&self, e: &io::Error) -> Rejection {
        match e.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
                self.poison(format!("corrupt or truncated: {e}"))
            }
            _ => Rejection::Failed(Failure::new(
                Outcome::Temporary,
                format!(
                    "reading s3://{}/{}: {e}",
                    self.object.bucket, self.object.key
                ),
            )),
        }
    }

    /// Where the decoder's events go: tagged and framed into the batch.
    fn tagging<'b>(&'b self, out: &'b mut Out) -> Tagging<'b> {
        Tagging { reader: self, out }
    }
}

/// The bytes of `body` decompressed as `compression` says (every gzip member, every zstd
/// frame).
fn decompressed<R>(body: R, compression: Compression) -> std::pin::Pin<Box<dyn AsyncRead + Send>>
where
    R: AsyncBufRead + Unpin + Send + 'static,
{
    match compression {
        Compression::Gzip => {
            let mut decoder = GzipDecoder::new(body);
            decoder.multiple_members(true);
            Box::pin(decoder)
        }
        Compression::Zstd => {
            let mut decoder = ZstdDecoder::new(body);
            decoder.multiple_members(true);
            Box::pin(decoder)
        }
        Compression::None => Box::pin(body),
    }
}

/// What reading an object has made so far: the batch being filled, and the records read.
struct Out {
    batch: FrameBatch,
    /// Records read from the start of the object (events, dropped and bad records).
    records: u64,
    tags: TagCache,
    /// A CloudTrail log file's SHA-256, so far.
    hash: Option<FileHash>,
}

impl Out {
    /// Sends the batch once it is full, and starts the next.
    async fn ship_if_full<S: BatchSink>(&mut self, framing: &Framing, sink: &mut S) {
        if self.batch.len() >= BATCH_BYTES {
            let full =
                std::mem::replace(&mut self.batch, framing.batch_with_capacity(BATCH_CAPACITY));
            sink.send(full, self.records).await;
        }
    }
}

/// The [`EventSink`] of an object: each event tagged and framed into the batch; bad records
/// reported with their place and counted. The records an earlier run delivered are passed over.
struct Tagging<'b> {
    reader: &'b ObjectReader,
    out: &'b mut Out,
}

impl Tagging<'_> {
    /// Counts one more record; whether it is new (not delivered by an earlier run).
    fn new_record(&mut self) -> bool {
        self.out.records += 1;
        self.out.records > self.reader.skip
    }
}

impl EventSink for Tagging<'_> {
    fn event(&mut self, event: Event<'_>) {
        if !self.new_record() {
            return;
        }
        let tag = self
            .out
            .tags
            .get(&self.reader.route().tags, self.reader, &event);
        self.out.batch.push(tag, event.message);
    }

    fn bad_record(&mut self, at: Position, error: &FormatError) {
        if !self.new_record() {
            return;
        }
        let r = self.reader;
        tracing::warn!(
            message = "Record skipped.",
            bucket = %r.object.bucket,
            key = %r.object.key,
            at = %at,
            message_id = %r.message_id,
            error = %error
        );
        Counters::add(&r.counters.failed, 1);
    }

    fn dropped(&mut self) {
        if self.new_record() {
            Counters::add(&self.reader.counters.dropped, 1);
        }
    }

    fn notice(&mut self, what: &str, detail: &str) {
        let r = self.reader;
        let first = crate::lock(&r.settings.noticed).insert(format!("{what}: {detail}"));
        if first {
            tracing::warn!(
                message = "Noticed in an object (said once a run).",
                what,
                detail,
                bucket = %r.object.bucket,
                key = %r.object.key
            );
        }
    }
}

/// The last tag made, kept because neighbouring events mostly share theirs.
#[derive(Default)]
struct TagCache {
    key: (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<Table>,
    ),
    tag: String,
}

impl TagCache {
    fn get(&mut self, rule: &TagRule, reader: &ObjectReader, event: &Event<'_>) -> &str {
        let (account, region) = (event.account, event.region);
        // A record routed to a table of its own is tagged by that table's rule.
        let routed;
        let rule = match event.table {
            Some(table) => {
                routed = TagRule {
                    table: table.name,
                    typed_family: table.typed_family.filter(|_| reader.settings.by_event_type),
                    from_event: rule.from_event,
                };
                &routed
            }
            None => rule,
        };
        // Untyped tags do not depend on the event's type: neighbours of other types share one.
        let event_type = event.event_type.filter(|_| rule.typed_family.is_some());
        let same = self.key.0.as_deref() == event_type
            && self.key.1.as_deref() == account
            && self.key.2.as_deref() == region
            && self.key.3 == event.table
            && !self.tag.is_empty();
        if !same {
            let (key_account, key_region) =
                reader.route().read.key_account_region(&reader.object.key);
            self.tag = rule.tag_fields(
                event_type,
                account.or(key_account),
                region.or(key_region),
                &reader.puller_account,
                &reader.region,
            );
            self.key = (
                event_type.map(String::from),
                account.map(String::from),
                region.map(String::from),
                event.table,
            );
        }
        &self.tag
    }
}
