//! Persisted state: how far each service got, kept between runs.
//!
//! Two backends (`globals.persistence.type`) behind one handle per service and run:
//!
//! - `filesystem` ([`files`]): one JSON file per input and service, written atomically, and a
//!   lock file per service (and shard) so overlapping runs on one machine never pull one service
//!   twice at once.
//! - `s3` ([`s3`]): one object per cursor, written with conditional requests (`If-None-Match: *`
//!   to create, `If-Match` on the ETag to update) and carrying a lease (owner, expiry): several
//!   workers on several machines share one config, each cursor is moved by one worker at a time,
//!   and a cursor whose worker died is taken over once its lease has expired.
//!
//! State that cannot be read, is corrupt or was written by a newer version is an error, never a
//! silent restart from zero: restarting would re-ship or skip data.

pub mod files;
pub mod s3;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aws::Aws;
use crate::config::{Loaded, PersistenceType};
use crate::lock;
use crate::outcome::{Failure, Outcome};
use crate::shard::Shard;

/// The version this program writes; state with a higher one is refused.
pub const STATE_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{location}: {source}")]
    Io {
        location: String,
        source: std::io::Error,
    },
    #[error("{location}: corrupt state ({reason}); fix or remove it deliberately")]
    Corrupt { location: String, reason: String },
    #[error(
        "{location}: written by a newer devo-aws (state version {found}, this one reads {STATE_VERSION})"
    )]
    Newer { location: String, found: u32 },
    #[error("{location}: held by another devo-aws run")]
    Locked { location: String },
    #[error("{location}: another worker took this cursor over (its lease had expired)")]
    LeaseLost { location: String },
    #[error("{0}")]
    Aws(Failure),
}

impl StateError {
    /// How a run that meets this error ends.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Locked { .. } => Outcome::Locked,
            Self::LeaseLost { .. } => Outcome::Temporary,
            Self::Aws(f) => f.outcome,
            Self::Io { .. } | Self::Corrupt { .. } | Self::Newer { .. } => Outcome::Config,
        }
    }
}

impl From<StateError> for Failure {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Aws(f) => f,
            other => Failure::new(other.outcome(), other.to_string()),
        }
    }
}

/// The version a state object says it was written by (all its other keys ignored).
#[derive(Deserialize)]
struct VersionOnly {
    #[serde(default)]
    version: u32,
}

/// Parses state read from `location`: state written by a newer version is refused as such;
/// then every key must be one this version knows (a key it does not know would otherwise be
/// dropped, and what it held, such as cursors, silently restarted).
fn parse_versioned<T: serde::de::DeserializeOwned>(
    location: &str,
    bytes: &[u8],
) -> Result<T, StateError> {
    let corrupt = |e: serde_json::Error| StateError::Corrupt {
        location: location.to_string(),
        reason: e.to_string(),
    };
    let VersionOnly { version } = serde_json::from_slice(bytes).map_err(corrupt)?;
    if version > STATE_VERSION {
        return Err(StateError::Newer {
            location: location.to_string(),
            found: version,
        });
    }
    serde_json::from_slice(bytes).map_err(corrupt)
}

/// What is remembered of one service between runs: the whole state file of the filesystem
/// backend; in S3 the service object, whose cursors live in objects of their own.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceState {
    pub version: u32,
    /// When the last successful pull started (for `request_period_in_seconds`).
    pub last_pull: Option<DateTime<Utc>>,
    /// The same for each `--shard`, by its `I/N`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shard_pulls: BTreeMap<String, DateTime<Utc>>,
    /// Cursor services: how far each region (or region and log group) was delivered.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cursors: BTreeMap<String, Cursor>,
    /// S3+SQS services: the objects already delivered of messages that could not be
    /// acknowledged whole (one of their objects failed), by SQS message id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub messages: BTreeMap<String, MessageProgress>,
    /// metrics: the unit of each metric name (`region/namespace/name`), learnt once a day
    /// (GetMetricData does not report units).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub units: BTreeMap<String, UnitMemo>,
    /// A replay (its own state, beside the service's): the end of its window when
    /// `--end-time` was not given, fixed by its first run so that running it again resumes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_end: Option<DateTime<Utc>>,
    /// A replay: what was delivered of each prefix it listed (`s3://bucket/dir/`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prefixes: BTreeMap<String, PrefixProgress>,
    /// A CloudTrail service's ledger (its own state, `<input>.<service>.trail`): the log files
    /// delivered and the files digests named that were not.
    #[serde(default, skip_serializing_if = "TrailLedger::is_empty")]
    pub trail: TrailLedger,
}

/// What a CloudTrail service remembers for the digests to come: each log file delivered, until a
/// digest names it, and each file a digest named that was never delivered, until it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TrailLedger {
    /// By `s3://bucket/key`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub delivered: BTreeMap<String, DeliveredFile>,
    /// By `s3://bucket/key`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub missing: BTreeMap<String, MissingFile>,
    /// The trails (by the prefix of their log files for one account and region) whose digests
    /// were seen, and when last: their files are hashed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub trails: BTreeMap<String, DateTime<Utc>>,
}

/// A log file delivered to Devo.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DeliveredFile {
    /// The SHA-256 of its uncompressed bytes (hex); none when it was shipped before a digest of
    /// its trail was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// When S3 got it (its LastModified): the hour whose digest names it.
    pub stored: DateTime<Utc>,
}

/// A log file a digest named that was not delivered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MissingFile {
    /// The hash the digest names.
    pub sha256: String,
    /// The digest that named it (`s3://bucket/key`).
    pub digest: String,
    /// Forgotten after (what a late delivery would be compared with).
    pub until: DateTime<Utc>,
}

/// Files remembered delivered at most: the earliest stored go first past it.
pub const MAX_FILES_REMEMBERED: usize = 200_000;
/// Files remembered missing at most: the soonest forgotten go first past it.
pub const MAX_MISSING_REMEMBERED: usize = 20_000;
/// How long a delivered file waits for a digest to name it: past it, it is forgotten (a trail
/// without log file validation has no digests).
pub const DELIVERED_KEPT: chrono::Duration = chrono::Duration::days(3);
/// How long a trail whose digests stopped coming keeps its files hashed.
pub const TRAIL_KEPT: chrono::Duration = chrono::Duration::days(7);

/// A change to a ledger, made once what it records reached Devo.
#[derive(Debug, Clone)]
pub enum LedgerChange {
    /// A log file was delivered.
    Delivered { name: String, file: DeliveredFile },
    /// A digest named these files (delivered or missing), or called them unlisted: settled.
    Settled { names: Vec<String> },
    /// A digest named a file never delivered.
    Missing { name: String, file: MissingFile },
    /// A digest of the trail whose log files are under `prefix` was seen.
    Trail { prefix: String, at: DateTime<Utc> },
}

impl TrailLedger {
    pub fn is_empty(&self) -> bool {
        self.delivered.is_empty() && self.missing.is_empty() && self.trails.is_empty()
    }

    /// Applies `change`.
    pub fn apply(&mut self, change: &LedgerChange) {
        match change {
            LedgerChange::Delivered { name, file } => {
                self.delivered.insert(name.clone(), file.clone());
            }
            LedgerChange::Settled { names } => {
                for name in names {
                    self.delivered.remove(name);
                    self.missing.remove(name);
                }
            }
            LedgerChange::Missing { name, file } => {
                self.missing.insert(name.clone(), file.clone());
            }
            LedgerChange::Trail { prefix, at } => {
                let last = self.trails.entry(prefix.clone()).or_insert(*at);
                *last = (*last).max(*at);
            }
        }
    }

    /// Drops what is past its time, then the oldest past the bounds.
    pub fn bound(&mut self, now: DateTime<Utc>) {
        self.delivered
            .retain(|_, f| f.stored + DELIVERED_KEPT > now);
        self.missing.retain(|_, m| m.until > now);
        self.trails.retain(|_, at| *at + TRAIL_KEPT > now);
        drop_oldest(&mut self.delivered, MAX_FILES_REMEMBERED, |f| f.stored);
        drop_oldest(&mut self.missing, MAX_MISSING_REMEMBERED, |m| m.until);
    }
}

/// Keeps the `keep` entries of `map` latest by `when`.
fn drop_oldest<T, K: Ord + Copy>(
    map: &mut BTreeMap<String, T>,
    keep: usize,
    when: impl Fn(&T) -> K,
) {
    let excess = map.len().saturating_sub(keep);
    if excess == 0 {
        return;
    }
    let mut by_age: Vec<(K, String)> = map.iter().map(|(k, v)| (when(v), k.clone())).collect();
    by_age.sort();
    for (_, k) in by_age.into_iter().take(excess) {
        map.remove(&k);
    }
}

/// What a replay delivered of one prefix.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PrefixProgress {
    /// The names (after the prefix) of the objects delivered, while the prefix may still get
    /// objects delivered late.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub done: BTreeSet<String>,
    /// Every object of the window was delivered and the prefix's time ended long enough before
    /// it was listed for no late object to come: it is not listed again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub settled: bool,
}

/// A metric's unit as last learnt; `None` when it had no datapoint to tell.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UnitMemo {
    pub unit: Option<String>,
    pub learnt: DateTime<Utc>,
}

/// Units remembered at most per service: the oldest go first past it.
pub const MAX_UNITS_REMEMBERED: usize = 50_000;

/// Keeps the `keep` units learnt last (of those learnt at once, the first names go first).
fn forget_oldest(units: &mut BTreeMap<String, UnitMemo>, keep: usize) {
    drop_oldest(units, keep, |m| m.learnt);
}

/// What was delivered of the objects of one message: those delivered whole (of a message that
/// announces several), and how far each object was delivered that a run left in the middle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MessageProgress {
    /// `s3://bucket/key` of each object delivered.
    #[serde(default)]
    pub objects: Vec<String>,
    /// When the queue drops the message anyway (its retention period): forgotten then.
    pub expires: DateTime<Utc>,
    /// Objects delivered in part, by `s3://bucket/key`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub partial: BTreeMap<String, PartialObject>,
}

/// How far one object was delivered: its first `records` records (events, and the records
/// dropped or skipped as bad among them, in the order its decoder reads them) reached Devo. The
/// next read of the same object (the same ETag) passes over them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PartialObject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    pub records: u64,
}

/// A change to what is remembered of a message's objects.
#[derive(Debug, Clone)]
pub enum ObjectNote {
    /// `object` was delivered up to here.
    Partial {
        object: String,
        progress: PartialObject,
        expires: DateTime<Utc>,
    },
    /// `object` was delivered whole: what was noted of it in part is forgotten.
    Whole { object: String },
}

impl ObjectNote {
    /// The object noted.
    pub fn object(&self) -> &str {
        match self {
            Self::Partial { object, .. } | Self::Whole { object } => object,
        }
    }
}

/// Messages remembered at most per service: the oldest go first past it.
pub const MAX_MESSAGES_REMEMBERED: usize = 10_000;

impl ServiceState {
    /// Records that `objects` of `message_id` were delivered whole (what was noted of them in
    /// part is forgotten), dropping what expired (and the soonest to expire past
    /// [`MAX_MESSAGES_REMEMBERED`]).
    fn remember(
        &mut self,
        message_id: &str,
        objects: Vec<String>,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        let progress = self.progress_of(message_id, expires);
        progress.partial.retain(|name, _| !objects.contains(name));
        progress.objects = objects;
        progress.expires = expires;
        self.bound_messages(now);
    }

    /// What is remembered of `message_id`, begun (to expire at `expires`) when nothing is.
    fn progress_of(&mut self, message_id: &str, expires: DateTime<Utc>) -> &mut MessageProgress {
        self.messages
            .entry(message_id.to_string())
            .or_insert_with(|| MessageProgress {
                objects: Vec::new(),
                expires,
                partial: BTreeMap::new(),
            })
    }

    /// Applies `note` to what is remembered of `message_id`'s objects.
    fn note_object(&mut self, message_id: &str, note: ObjectNote, now: DateTime<Utc>) {
        match note {
            ObjectNote::Partial {
                object,
                progress,
                expires,
            } => {
                let entry = self.progress_of(message_id, expires);
                entry.expires = entry.expires.max(expires);
                entry.partial.insert(object, progress);
            }
            ObjectNote::Whole { object } => {
                if let Some(entry) = self.messages.get_mut(message_id) {
                    entry.partial.remove(&object);
                    if entry.partial.is_empty() && entry.objects.is_empty() {
                        self.messages.remove(message_id);
                    }
                }
            }
        }
        self.bound_messages(now);
    }

    /// Drops what expired, and the soonest to expire past [`MAX_MESSAGES_REMEMBERED`].
    fn bound_messages(&mut self, now: DateTime<Utc>) {
        self.messages.retain(|_, p| p.expires > now);
        while self.messages.len() > MAX_MESSAGES_REMEMBERED {
            let soonest = self
                .messages
                .iter()
                .min_by_key(|(_, p)| p.expires)
                .map(|(id, _)| id.clone());
            match soonest {
                Some(id) => self.messages.remove(&id),
                None => break,
            };
        }
    }
}

impl ServiceState {
    /// When `shard` (or the whole service) last pulled.
    pub fn last_pull_of(&self, shard: Option<Shard>) -> Option<DateTime<Utc>> {
        match shard {
            Some(s) => self.shard_pulls.get(&s.to_string()).copied(),
            None => self.last_pull,
        }
    }

    fn set_pull(&mut self, shard: Option<Shard>, at: DateTime<Utc>) {
        match shard {
            Some(s) => {
                self.shard_pulls.insert(s.to_string(), at);
            }
            None => self.last_pull = Some(at),
        }
    }
}

/// How far one cursor has been delivered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    /// Everything up to and including this instant was delivered.
    pub until: DateTime<Utc>,
    /// Ids of the events stamped exactly `until`: the next window starts there again and skips
    /// them, so an event late for its second is neither lost nor shipped twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids_at_until: Vec<String>,
    /// Logs: every event ingested up to this instant (ms, AWS's clock) with a timestamp before
    /// `until` was delivered; later ingestions of older timestamps are the next run's late sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingested_until: Option<i64>,
}

/// `now` + `length`, saturating.
pub fn lease_expiry(now: DateTime<Utc>, length: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(length)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Who this run is, as the state sees it.
#[derive(Debug, Clone)]
pub struct Worker {
    /// Names this run in leases (host, process id, start).
    pub owner: String,
    pub shard: Option<Shard>,
    /// How long a lease lasts from its last renewal: the run's deadline and the time to wind
    /// down after it.
    pub lease_length: std::time::Duration,
    /// Reads only: takes no lock or lease, writes nothing.
    pub dry_run: bool,
}

impl Worker {
    /// The owner name of this process, started at `started`.
    pub fn owner_name(started: DateTime<Utc>) -> String {
        format!(
            "{}/{}/{}",
            gethostname::gethostname().to_string_lossy(),
            std::process::id(),
            started.timestamp_micros()
        )
    }
}

/// Where state is kept.
#[derive(Clone)]
pub enum StateStore {
    Files(files::FileStore),
    S3(s3::S3Store),
}

/// Whether this run may move a cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Yes: the cursor as saved (none yet for a cursor never used).
    Granted(Option<Cursor>),
    /// No: another worker holds its lease (who, and until when, as far as known).
    Held(String),
}

/// One service's state during one run. Cursors are committed as their windows are delivered, so
/// a run that dies keeps what it finished.
pub struct ServiceHandle {
    worker: Worker,
    last_pull: Option<DateTime<Utc>>,
    backend: Backend,
}

enum Backend {
    Files {
        store: files::FileStore,
        key: String,
        cursors: BTreeMap<String, Cursor>,
        /// Held for the run (none in a dry run).
        _lock: Option<files::ServiceLock>,
    },
    S3 {
        store: s3::S3Store,
        key: String,
        /// The cursors this run leased, with what it last wrote of them.
        leased: Mutex<BTreeMap<String, s3::Leased>>,
    },
}

impl StateStore {
    /// The backend `globals.persistence` names (S3 with the run's credentials; the bucket's
    /// region, or the run's).
    pub fn from_config(loaded: &Loaded, aws: &Arc<Aws>) -> Self {
        let persistence = &loaded.config.globals.persistence;
        let p = &persistence.config;
        match persistence.kind {
            // validate() made sure the bucket is there.
            PersistenceType::S3 => {
                let region = p.region.clone().unwrap_or_else(|| aws.region());
                let bucket = p.bucket.as_deref().unwrap_or_default();
                Self::S3(s3::S3Store::new(aws.clone(), &region, bucket, &p.prefix))
            }
            PersistenceType::Filesystem => Self::Files(files::FileStore::new(&loaded.state_dir())),
        }
    }

    /// Where state is kept, for `devo-aws check`: the directory, or the bucket once HeadBucket
    /// says it is reachable with these credentials (and `s3:ListBucket` granted, which state
    /// reads need). Reads and writes no state.
    pub async fn probe(&self) -> Result<String, StateError> {
        match self {
            Self::Files(store) => store.describe(),
            Self::S3(store) => store.probe().await,
        }
    }

    /// Opens the state of `key` (`<input id>.<service>`) for this run: takes the service's lock
    /// (filesystem, not in a dry run) and reads when it last pulled.
    pub async fn open(&self, key: &str, worker: &Worker) -> Result<ServiceHandle, StateError> {
        let (last_pull, backend) = match self {
            Self::Files(store) => {
                let lock = if worker.dry_run {
                    None
                } else {
                    Some(store.lock(key, worker.shard)?)
                };
                let state = store.load(key)?;
                (
                    state.last_pull_of(worker.shard),
                    Backend::Files {
                        store: store.clone(),
                        key: key.to_string(),
                        cursors: state.cursors,
                        _lock: lock,
                    },
                )
            }
            Self::S3(store) => {
                let state = store.load_service(key).await?;
                (
                    state.and_then(|s| s.last_pull_of(worker.shard)),
                    Backend::S3 {
                        store: store.clone(),
                        key: key.to_string(),
                        leased: Mutex::default(),
                    },
                )
            }
        };
        Ok(ServiceHandle {
            worker: worker.clone(),
            last_pull,
            backend,
        })
    }
}

impl ServiceHandle {
    /// When this service (or this shard of it) last pulled successfully.
    pub fn last_pull(&self) -> Option<DateTime<Utc>> {
        self.last_pull
    }

    /// Asks to move cursor `name` in this run (a dry run is always granted, and takes nothing).
    pub async fn claim(&self, name: &str) -> Result<Claim, StateError> {
        match &self.backend {
            Backend::Files { cursors, .. } => Ok(Claim::Granted(cursors.get(name).cloned())),
            Backend::S3 {
                store, key, leased, ..
            } => {
                let (claim, lease) = store.claim(key, name, &self.worker).await?;
                if let Some(lease) = lease {
                    lock(leased).insert(name.to_string(), lease);
                }
                Ok(claim)
            }
        }
    }

    /// Records that `name` was delivered up to `cursor` (a dry run records nothing).
    pub async fn advance(&self, name: &str, cursor: Cursor) -> Result<(), StateError> {
        if self.worker.dry_run {
            return Ok(());
        }
        match &self.backend {
            Backend::Files { store, key, .. } => store.update(key, |state| {
                state.cursors.insert(name.to_string(), cursor);
            }),
            Backend::S3 {
                store, key, leased, ..
            } => {
                let Some(lease) = lock(leased).get(name).cloned() else {
                    return Err(StateError::LeaseLost {
                        location: store.cursor_location(key, name),
                    });
                };
                // A failed write keeps the lease as it was (the next advance or the release tries
                // again from it); a lost lease is forgotten.
                match store
                    .write_cursor(key, name, &lease, Some(cursor), Some(self.lease_expiry()))
                    .await
                {
                    Ok(renewed) => {
                        lock(leased).insert(name.to_string(), renewed);
                        Ok(())
                    }
                    Err(e) => {
                        if matches!(e, StateError::LeaseLost { .. }) {
                            lock(leased).remove(name);
                        }
                        Err(e)
                    }
                }
            }
        }
    }

    /// How long a lease lasts from its last renewal.
    pub fn lease_length(&self) -> std::time::Duration {
        self.worker.lease_length
    }

    /// A lease taken or renewed now ends then.
    fn lease_expiry(&self) -> DateTime<Utc> {
        lease_expiry(Utc::now(), self.worker.lease_length)
    }

    /// Renews this run's lease of `name` from now (S3 state; nothing to do on files). A lease
    /// found lost is an error: the holder must stop pulling that cursor. A write that failed
    /// otherwise is only reported (the lease may well last until the next try).
    pub async fn renew(&self, name: &str) -> Result<(), StateError> {
        let Backend::S3 {
            store, key, leased, ..
        } = &self.backend
        else {
            return Ok(());
        };
        let Some(lease) = lock(leased).get(name).cloned() else {
            return Ok(());
        };
        match store
            .write_cursor(key, name, &lease, None, Some(self.lease_expiry()))
            .await
        {
            Ok(renewed) => {
                lock(leased).insert(name.to_string(), renewed);
                Ok(())
            }
            Err(e @ StateError::LeaseLost { .. }) => {
                lock(leased).remove(name);
                Err(e)
            }
            Err(e) => {
                tracing::warn!(message = "Could not renew a cursor's lease; trying again later.", cursor = name, error = %e);
                Ok(())
            }
        }
    }

    /// Gives up this run's lease of `name`, so another worker may take it at once. A failure is
    /// only reported: the lease expires on its own.
    pub async fn release(&self, name: &str) {
        let Backend::S3 {
            store, key, leased, ..
        } = &self.backend
        else {
            return;
        };
        let Some(lease) = lock(leased).remove(name) else {
            return;
        };
        if let Err(e) = store.write_cursor(key, name, &lease, None, None).await {
            tracing::warn!(message = "Could not release a cursor's lease; it will expire.", cursor = name, error = %e);
        }
    }

    /// What earlier runs delivered of message `message_id`'s objects (none when unknown).
    pub async fn message_progress(
        &self,
        message_id: &str,
    ) -> Result<Option<MessageProgress>, StateError> {
        let state = self.saved().await?;
        let now = Utc::now();
        Ok(state
            .messages
            .get(message_id)
            .filter(|p| p.expires > now)
            .cloned())
    }

    /// Remembers which objects of message `message_id` were delivered whole, until `expires` (a
    /// dry run records nothing).
    pub async fn record_objects(
        &self,
        message_id: &str,
        objects: Vec<String>,
        expires: DateTime<Utc>,
    ) -> Result<(), StateError> {
        let now = Utc::now();
        self.update(|state| state.remember(message_id, objects.clone(), expires, now))
            .await
    }

    /// Applies `notes` (by message id) to what is remembered of objects, in one write.
    pub async fn note_objects(&self, notes: &[(String, ObjectNote)]) -> Result<(), StateError> {
        if notes.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        self.update(|state| {
            for (message_id, note) in notes {
                state.note_object(message_id, note.clone(), now);
            }
        })
        .await
    }

    /// Changes the saved state with `change` (a dry run changes nothing).
    pub async fn update(&self, change: impl Fn(&mut ServiceState)) -> Result<(), StateError> {
        self.update_at(None, change).await
    }

    /// Changes the saved state of `other` (a key beside the service's, such as its trail
    /// ledger), or the service's own (a dry run changes nothing).
    pub async fn update_at(
        &self,
        other: Option<&str>,
        change: impl Fn(&mut ServiceState),
    ) -> Result<(), StateError> {
        if self.worker.dry_run {
            return Ok(());
        }
        match &self.backend {
            Backend::Files { store, key, .. } => store.update(other.unwrap_or(key), change),
            Backend::S3 { store, key, .. } => {
                store.update_service(other.unwrap_or(key), change).await
            }
        }
    }

    /// The saved state of `other`, a key beside the service's (none yet: the default).
    pub async fn saved_at(&self, other: &str) -> Result<ServiceState, StateError> {
        match &self.backend {
            Backend::Files { store, .. } => store.load(other),
            Backend::S3 { store, .. } => Ok(store.load_service(other).await?.unwrap_or_default()),
        }
    }

    /// The metric units learnt by earlier runs.
    pub async fn units(&self) -> Result<BTreeMap<String, UnitMemo>, StateError> {
        Ok(self.saved().await?.units)
    }

    /// Adds `learnt` units to those remembered (a dry run records nothing).
    pub async fn record_units(
        &self,
        learnt: &BTreeMap<String, UnitMemo>,
    ) -> Result<(), StateError> {
        if learnt.is_empty() {
            return Ok(());
        }
        self.update(|state: &mut ServiceState| {
            state.units.extend(learnt.clone());
            forget_oldest(&mut state.units, MAX_UNITS_REMEMBERED);
        })
        .await
    }

    /// The service's saved state as it is now (S3: the service object).
    pub async fn saved(&self) -> Result<ServiceState, StateError> {
        let (Backend::Files { key, .. } | Backend::S3 { key, .. }) = &self.backend;
        self.saved_at(key).await
    }

    /// Records that the pull that started `at` succeeded (a dry run records nothing).
    pub async fn finish(&self, at: DateTime<Utc>) -> Result<(), StateError> {
        let shard = self.worker.shard;
        self.update(|state| state.set_pull(shard, at)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An object noted in part is forgotten once noted whole, or once its message records it
    /// among the objects delivered; a message with nothing left is dropped.
    #[test]
    fn partial_objects_are_kept_until_delivered_whole() {
        let now = Utc::now();
        let expires = now + chrono::Duration::hours(1);
        let partial = |object: &str, records| ObjectNote::Partial {
            object: object.into(),
            progress: PartialObject {
                etag: Some("\"e\"".into()),
                records,
            },
            expires,
        };
        let mut state = ServiceState::default();
        state.note_object("m", partial("s3://b/a", 10), now);
        state.note_object("m", partial("s3://b/b", 20), now);
        state.note_object("m", partial("s3://b/a", 30), now);
        assert_eq!(state.messages["m"].partial["s3://b/a"].records, 30);
        state.remember("m", vec!["s3://b/a".into()], expires, now);
        assert_eq!(
            state.messages["m"].partial.keys().collect::<Vec<_>>(),
            ["s3://b/b"]
        );
        state.note_object(
            "m",
            ObjectNote::Whole {
                object: "s3://b/b".into(),
            },
            now,
        );
        assert!(state.messages["m"].partial.is_empty());
        state.note_object("n", partial("s3://b/c", 1), now);
        state.note_object(
            "n",
            ObjectNote::Whole {
                object: "s3://b/c".into(),
            },
            now,
        );
        assert!(!state.messages.contains_key("n"));
    }

    /// A key this version does not know is refused, not dropped with what it held.
    #[test]
    fn unknown_keys_are_refused() {
        let unknown = parse_versioned::<ServiceState>(
            "here",
            br#"{"version":1,"cursor":{"us-east-1":{"until":"2026-01-01T00:00:00Z"}}}"#,
        );
        assert!(
            matches!(&unknown, Err(StateError::Corrupt { reason, .. }) if reason.contains("unknown field `cursor`")),
            "{unknown:?}"
        );
        let newer = parse_versioned::<ServiceState>("here", br#"{"version":2,"news":1}"#);
        assert!(matches!(newer, Err(StateError::Newer { found: 2, .. })));
    }

    #[test]
    fn units_past_the_bound_forget_the_oldest() {
        let now = Utc::now();
        let memo = |hours_ago: i64| UnitMemo {
            unit: Some("Count".into()),
            learnt: now - chrono::Duration::hours(hours_ago),
        };
        let mut units: BTreeMap<String, UnitMemo> = [("a", 5), ("b", 1), ("c", 9), ("d", 1)]
            .into_iter()
            .map(|(k, h)| (k.to_string(), memo(h)))
            .collect();
        forget_oldest(&mut units, 2);
        assert_eq!(units.keys().collect::<Vec<_>>(), ["b", "d"]);
        forget_oldest(&mut units, 2);
        assert_eq!(units.len(), 2);
    }

    /// A ledger's files are settled by name, its trails kept while their digests come, and
    /// what is past its time or its bound is forgotten.
    #[test]
    fn the_trail_ledger_settles_and_stays_bounded() {
        let now = Utc::now();
        let delivered = |hours_ago: i64| DeliveredFile {
            sha256: Some("ab".into()),
            stored: now - chrono::Duration::hours(hours_ago),
        };
        let mut ledger = TrailLedger::default();
        for (name, file) in [("s3://b/a", delivered(1)), ("s3://b/old", delivered(80))] {
            ledger.apply(&LedgerChange::Delivered {
                name: name.into(),
                file,
            });
        }
        ledger.apply(&LedgerChange::Missing {
            name: "s3://b/m".into(),
            file: MissingFile {
                sha256: "cd".into(),
                digest: "s3://b/d".into(),
                until: now + chrono::Duration::days(1),
            },
        });
        ledger.apply(&LedgerChange::Trail {
            prefix: "s3://b/AWSLogs/1/CloudTrail/r/".into(),
            at: now - chrono::Duration::days(8),
        });
        ledger.bound(now);
        assert_eq!(ledger.delivered.keys().collect::<Vec<_>>(), ["s3://b/a"]);
        assert!(ledger.trails.is_empty(), "no digest for 7 days");
        ledger.apply(&LedgerChange::Settled {
            names: vec!["s3://b/a".into(), "s3://b/m".into()],
        });
        assert!(ledger.is_empty());
        for i in 0..MAX_FILES_REMEMBERED + 2 {
            ledger.apply(&LedgerChange::Delivered {
                name: format!("s3://b/{i:07}"),
                file: delivered(i64::try_from(i % 48).unwrap()),
            });
        }
        ledger.bound(now);
        assert_eq!(ledger.delivered.len(), MAX_FILES_REMEMBERED);
    }

    #[test]
    fn remembered_messages_expire_and_stay_bounded() {
        let now = Utc::now();
        let objects = || vec!["s3://b/k".to_string()];
        let progress = |secs: i64| now + chrono::Duration::seconds(secs);
        let mut state = ServiceState::default();
        state.remember("old", objects(), progress(-1), now);
        state.remember("new", objects(), progress(60), now);
        assert!(
            !state.messages.contains_key("old"),
            "expired ones go at the next write"
        );
        state.remember("newer", objects(), progress(120), now);
        assert_eq!(state.messages.len(), 2);
        for i in 0..MAX_MESSAGES_REMEMBERED {
            state.remember(&format!("m{i}"), objects(), progress(1_000), now);
        }
        assert_eq!(state.messages.len(), MAX_MESSAGES_REMEMBERED);
        assert!(
            !state.messages.contains_key("new"),
            "the soonest to expire went first"
        );
    }
}
