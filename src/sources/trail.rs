//! Whether the CloudTrail a service shipped is whole: each log file's SHA-256 is taken as it is
//! read (`formats::digest::FileHash`) and, once Devo has the file, remembered in the service's
//! trail ledger (`<input>.<service>.trail` in the state); each digest file that arrives (from the
//! queue or a replay) is checked, its signature with the region's public key (ListPublicKeys,
//! once per region and run) and its chain by the digest before it, then compared with the
//! ledger: files shipped as listed, shipped altered, never shipped (missing), and files shipped
//! that no digest named once their hour passed (unlisted). The verdict is an event of
//! `cloud.aws.cloudtrail.integrity`; a file a digest called missing that a later run ships
//! (a replay of its hour) gets one too. The ledger changes only once what it records reached Devo
//! and is written once at the end of the service's run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use std::future::Future;

use crate::aws::Aws;
use crate::config::{SeedKey, ServicePlan};
use crate::cycle::{Counters, RunContext};
use crate::devo::frame::Framing;
use crate::devo::shipper::{Outbox, Pending, Shipped, Shipper};
use crate::devo::tag::tag;
use crate::formats::digest::{
    DIGEST_LATENESS, Digest, FIRST, Found, LINKED, ListedFile, Place, TABLE, VALID, Verdict,
    log_prefix, replay_window, sha256_hex,
};
use crate::formats::objects::key_account_region;
use crate::formats::s3_notification::ObjectRef;
use crate::outcome::{Failure, Outcome};
use crate::sources::queue::Rejection;
use crate::state::{DeliveredFile, LedgerChange, MissingFile, ServiceHandle, TrailLedger};
use crate::window::rfc3339;

/// How long a file a digest called missing is remembered, for a late delivery (a replay) to be
/// compared with what the digest named.
const MISSING_KEPT: chrono::Duration = chrono::Duration::days(30);

/// A digest file as fetched: its uncompressed bytes and its signature.
pub struct Fetched {
    pub inflated: Vec<u8>,
    /// `x-amz-meta-signature`.
    pub signature: Option<String>,
}

/// Where digests are fetched from (S3, with the service's expected owners and caps).
pub trait DigestStore {
    /// The object, or none when it does not exist.
    fn fetch(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<Fetched>, Rejection>> + Send;
}

/// One service's check of its trail, for one run.
pub struct TrailCheck {
    aws: Arc<Aws>,
    shipper: Shipper,
    framing: Framing,
    counters: Arc<Counters>,
    state: Arc<ServiceHandle>,
    ledger_key: String,
    /// How a replay of this service is run (`audit`, `s3logs archive`).
    command: String,
    /// Files read whole in this run, by name: their hash, if hashed (delivered or not yet).
    read: Mutex<HashMap<String, Option<String>>>,
    /// Files being read now (by name, how many reads), and the news that one ended: a digest
    /// announced beside its files waits for them.
    reading: Mutex<HashMap<String, usize>>,
    read_ended: tokio::sync::Notify,
    /// What this run changes in the ledger, in order, once delivered.
    changes: Arc<Mutex<Vec<LedgerChange>>>,
    /// Files delivered in this run (name, hash), to compare with those digests called missing.
    delivered: Arc<Mutex<Vec<(String, String)>>>,
    /// A replay: the files it ships again are not remembered as delivered (a digest settled
    /// them, or will name them as it names the queue's).
    replay: bool,
    /// The saved ledger with this run's changes (read at the first digest).
    ledger: tokio::sync::Mutex<Option<Ledger>>,
    /// Public keys by region, then fingerprint (DER, PKCS #1).
    keys: tokio::sync::Mutex<HashMap<String, HashMap<String, Vec<u8>>>>,
}

/// The ledger as this run sees it.
struct Ledger {
    files: TrailLedger,
    /// This run's changes applied to it so far.
    applied: usize,
}

impl TrailCheck {
    /// The check of the service of `plan` (a CloudTrail kind, or an archive).
    pub fn new(
        ctx: &RunContext,
        plan: &ServicePlan,
        counters: Arc<Counters>,
        state: Arc<ServiceHandle>,
    ) -> Self {
        let kind = plan.kind;
        let command = match (kind.seed_key(), kind.selected_by()) {
            (SeedKey::NonCloudwatchLogs, Some(types)) => format!("s3logs {types}"),
            _ => "audit".to_string(),
        };
        Self {
            aws: ctx.aws.clone(),
            shipper: ctx.shipper.clone(),
            framing: ctx.framing.clone(),
            counters,
            state,
            ledger_key: format!("{}.{}.trail", ctx.input_id(), kind.name()),
            command,
            read: Mutex::default(),
            reading: Mutex::default(),
            read_ended: tokio::sync::Notify::new(),
            changes: Arc::default(),
            delivered: Arc::default(),
            replay: ctx.options.backfill.is_some(),
            ledger: tokio::sync::Mutex::default(),
            keys: tokio::sync::Mutex::default(),
        }
    }

    /// Marks the log file `object` as being read until the guard drops.
    pub fn reading(self: &Arc<Self>, object: &ObjectRef) -> Reading {
        let name = format!("s3://{}/{}", object.bucket, object.key);
        *crate::lock(&self.reading).entry(name.clone()).or_default() += 1;
        Reading {
            check: self.clone(),
            name,
        }
    }

    /// Waits until none of `digest`'s files is being read in this run (each started before:
    /// announced in the same batch of messages, or listed in the same replay).
    async fn reads_of(&self, digest: &Digest) {
        let names: std::collections::HashSet<String> =
            digest.log_files.iter().map(ListedFile::name).collect();
        loop {
            let ended = self.read_ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if !crate::lock(&self.reading).keys().any(|n| names.contains(n)) {
                return;
            }
            ended.await;
        }
    }

    /// Whether the log file `object` is to be hashed: a digest of its trail, account and region
    /// was seen (by an earlier run, or this one). Others are remembered by name only, so a trail
    /// without digests costs no hashing.
    pub async fn hashes(&self, object: &ObjectRef) -> Result<bool, Rejection> {
        let Some(prefix) = log_prefix(&object.bucket, &object.key) else {
            return Ok(false);
        };
        let ledger = self.ledger().await.map_err(Rejection::Failed)?;
        Ok(ledger.files.trails.contains_key(&prefix))
    }

    /// A log file was read whole with `sha256` (if hashed; S3 got it at `stored`) and `shipped`:
    /// it is remembered once `shipped` is delivered.
    pub fn file_read(
        &self,
        object: &ObjectRef,
        sha256: Option<String>,
        stored: DateTime<Utc>,
        shipped: Shipped,
    ) -> Shipped {
        let name = format!("s3://{}/{}", object.bucket, object.key);
        crate::lock(&self.read).insert(name.clone(), sha256.clone());
        let file = sha256.clone().map(|h| (name.clone(), h));
        let changes = if self.replay {
            Vec::new()
        } else {
            vec![LedgerChange::Delivered {
                name,
                file: DeliveredFile { sha256, stored },
            }]
        };
        self.when_delivered(shipped, changes, file)
    }

    /// `shipped`, recording `changes` (and the file delivered) once it is delivered (at once
    /// when nothing was shipped).
    fn when_delivered(
        &self,
        shipped: Shipped,
        changes: Vec<LedgerChange>,
        file: Option<(String, String)>,
    ) -> Shipped {
        let (recorded, delivered) = (self.changes.clone(), self.delivered.clone());
        let record = move || {
            crate::lock(&recorded).extend(changes);
            crate::lock(&delivered).extend(file);
        };
        let Some(receipt) = shipped.receipt else {
            record();
            return shipped;
        };
        let (answer, forwarded) = Pending::channel();
        tokio::spawn(async move {
            let receipt = receipt.await;
            if receipt.is_delivered() {
                record();
            }
            let _ = answer.send(receipt);
        });
        Shipped {
            receipt: Some(forwarded),
            ..shipped
        }
    }

    /// Checks the digest `object` (fetched from `store`, as is the digest before it) and ships
    /// its verdict.
    pub async fn digest(
        &self,
        object: &ObjectRef,
        store: &impl DigestStore,
    ) -> Result<Shipped, Rejection> {
        let name = format!("s3://{}/{}", object.bucket, object.key);
        let poison = |why: String| Rejection::Poison(format!("{name}: {why}"));
        let Some(fetched) = store.fetch(&object.bucket, &object.key).await? else {
            return Err(poison("the object no longer exists".into()));
        };
        let digest = Digest::parse(&fetched.inflated)
            .map_err(|e| poison(format!("not a CloudTrail digest: {e}")))?;
        let (account, region) = key_account_region(&object.key);
        let place = Place {
            name,
            account: account.unwrap_or(&digest.aws_account_id).to_string(),
            region: region.unwrap_or_default().to_string(),
        };
        // From now on, the files of its trail are hashed.
        if let Some(prefix) = log_prefix(&object.bucket, &object.key) {
            crate::lock(&self.changes).push(LedgerChange::Trail {
                prefix,
                at: Utc::now(),
            });
        }
        let signature = self.signature(&digest, &fetched, &place).await?;
        let chain = chain(&digest, store).await?;
        self.reads_of(&digest).await;
        let (verdict, changes) = self.compare(&digest, place, signature, chain).await?;
        Ok(self.ship_verdict(verdict, changes).await)
    }

    /// `valid`, or why the signature of `digest` does not hold.
    async fn signature(
        &self,
        digest: &Digest,
        fetched: &Fetched,
        place: &Place,
    ) -> Result<String, Rejection> {
        if digest.name() != place.name {
            return Ok(format!(
                "moved: the digest says it was written to {}",
                digest.name()
            ));
        }
        let Some(key) = self.public_key(&place.region, digest).await? else {
            return Ok(format!(
                "signed with an unknown key: ListPublicKeys in {} has no key of fingerprint {}",
                place.region, digest.digest_public_key_fingerprint
            ));
        };
        Ok(
            match digest.verify(&fetched.inflated, fetched.signature.as_deref(), &key) {
                Ok(()) => VALID.to_string(),
                Err(e) => e.to_string(),
            },
        )
    }

    /// The public key of `digest`'s fingerprint in `region`: those valid around the digest's
    /// end, asked of CloudTrail once per region (and again for a fingerprint not among them).
    async fn public_key(
        &self,
        region: &str,
        digest: &Digest,
    ) -> Result<Option<Vec<u8>>, Rejection> {
        let fingerprint = &digest.digest_public_key_fingerprint;
        let mut keys = self.keys.lock().await;
        if let Some(key) = keys.get(region).and_then(|k| k.get(fingerprint)) {
            return Ok(Some(key.clone()));
        }
        let end = digest.end().unwrap_or_else(Utc::now);
        let listed = public_keys(&self.aws, region, end)
            .await
            .map_err(Rejection::Failed)?;
        let known = keys.entry(region.to_string()).or_default();
        known.extend(listed);
        Ok(known.get(fingerprint).cloned())
    }

    /// The verdict of `digest` (its signature and chain checked) against the ledger, and what it
    /// changes in the ledger once delivered.
    async fn compare(
        &self,
        digest: &Digest,
        place: Place,
        signature: String,
        chain: String,
    ) -> Result<(Verdict, Vec<LedgerChange>), Rejection> {
        let ledger = self.ledger().await.map_err(Rejection::Failed)?;
        let read = crate::lock(&self.read).clone();
        let delivered = &ledger.files.delivered;
        let seen = digest.compare(|n| {
            read.get(n)
                .or_else(|| delivered.get(n).map(|f| &f.sha256))
                .map(Option::as_deref)
        });
        let unlisted = unlisted(digest, &ledger.files);
        // A file an earlier digest called missing is settled by the end of the run's found.
        let earlier_missing: std::collections::HashSet<String> = seen
            .same
            .iter()
            .chain(&seen.altered)
            .filter(|n| ledger.files.missing.contains_key(*n))
            .cloned()
            .collect();
        drop(ledger);
        let mut verdict = Verdict::judge(digest, place, (signature, chain), &seen, &unlisted);
        verdict.replay = replay_window(&verdict.missing_files).map(|(from, to)| {
            format!(
                "devo-aws {} --start-time {} --end-time {}",
                self.command,
                rfc3339(from),
                rfc3339(to)
            )
        });
        // A digest that is not trusted settles nothing: its files wait for one that is.
        let mut changes = Vec::new();
        if verdict.is_trusted() {
            let until = Utc::now() + MISSING_KEPT;
            let settled = (seen.same.into_iter().chain(seen.unhashed))
                .chain(seen.altered)
                .chain(unlisted);
            changes.push(LedgerChange::Settled {
                names: settled.filter(|n| !earlier_missing.contains(n)).collect(),
            });
            changes.extend(
                seen.missing
                    .into_iter()
                    .map(|(name, sha256)| LedgerChange::Missing {
                        name,
                        file: MissingFile {
                            sha256,
                            digest: verdict.digest.clone(),
                            until,
                        },
                    }),
            );
        }
        Ok((verdict, changes))
    }

    /// Counts, reports and ships `verdict`; `changes` are made once it is delivered.
    async fn ship_verdict(&self, verdict: Verdict, changes: Vec<LedgerChange>) -> Shipped {
        let tally = &self.counters.digests;
        Counters::add(&tally.checked, 1);
        Counters::add(
            &tally.unverified,
            u64::from(verdict.verdict == "unverified"),
        );
        Counters::add(&tally.same, verdict.same as u64);
        Counters::add(&tally.unhashed, verdict.unhashed as u64);
        Counters::add(&tally.altered, verdict.altered as u64);
        Counters::add(&tally.missing, verdict.missing as u64);
        Counters::add(&tally.unlisted, verdict.unlisted as u64);
        if verdict.is_alarm() {
            tracing::warn!(
                message = "A CloudTrail digest found the trail not whole.",
                verdict = verdict.verdict,
                digest = %verdict.digest,
                signature = %verdict.signature,
                chain = %verdict.chain,
                altered = %verdict.altered_files.join(","),
                missing = %verdict.missing_files.join(","),
                unlisted = %verdict.unlisted_files.join(","),
                fetch_missing_with = verdict.replay.as_deref()
            );
        } else {
            tracing::info!(message = "CloudTrail digest verified: every file it names was shipped as it names it.", digest = %verdict.digest, files = verdict.same);
        }
        let event = serde_json::to_string(&verdict).unwrap_or_default();
        let shipped = self
            .ship_one(&tag(TABLE, &verdict.account, &verdict.region), &event)
            .await;
        self.when_delivered(shipped, changes, None)
    }

    async fn ship_one(&self, tag: &str, event: &str) -> Shipped {
        let mut outbox: Outbox = Outbox::new(&self.shipper, &self.framing);
        outbox.push(tag, event).await;
        outbox.finish().await
    }

    /// The ledger as saved, with this run's changes so far.
    async fn ledger(&self) -> Result<tokio::sync::MappedMutexGuard<'_, Ledger>, Failure> {
        let mut ledger = self.ledger.lock().await;
        if ledger.is_none() {
            let saved = self.state.saved_at(&self.ledger_key).await?;
            *ledger = Some(Ledger {
                files: saved.trail,
                applied: 0,
            });
        }
        let mut ledger = tokio::sync::MutexGuard::map(ledger, |l| {
            l.get_or_insert_with(|| Ledger {
                files: TrailLedger::default(),
                applied: 0,
            })
        });
        let changes = crate::lock(&self.changes);
        for change in &changes[ledger.applied..] {
            ledger.files.apply(change);
        }
        ledger.applied = changes.len();
        drop(changes);
        Ok(ledger)
    }

    /// At the end of the service's run: ships a verdict for each file delivered in it that a
    /// digest had called missing, then writes this run's changes to the ledger.
    pub async fn finish(&self) -> Result<(), Failure> {
        let delivered = std::mem::take(&mut *crate::lock(&self.delivered));
        if !delivered.is_empty() {
            self.found(delivered).await?;
        }
        let changes = std::mem::take(&mut *crate::lock(&self.changes));
        if changes.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        self.state
            .update_at(Some(&self.ledger_key), |state| {
                for change in &changes {
                    state.trail.apply(change);
                }
                state.trail.bound(now);
            })
            .await
            .map_err(Failure::from)
    }

    /// Ships a verdict for each of `delivered` (name, hash) that a digest had called missing.
    async fn found(&self, delivered: Vec<(String, String)>) -> Result<(), Failure> {
        let ledger = self.ledger().await?;
        let found: Vec<(String, String, MissingFile)> = delivered
            .into_iter()
            .filter_map(|(name, sha256)| {
                let missing = ledger.files.missing.get(&name)?.clone();
                Some((name, sha256, missing))
            })
            .collect();
        drop(ledger);
        for (name, sha256, missing) in found {
            let same = sha256.eq_ignore_ascii_case(&missing.sha256);
            let (account, region) = name
                .strip_prefix("s3://")
                .and_then(|n| n.split_once('/'))
                .map_or((None, None), |(_, key)| key_account_region(key));
            let event = Found {
                verdict: if same { "found" } else { "altered" },
                file: name.clone(),
                digest: missing.digest.clone(),
                account: account.unwrap_or_default().to_string(),
                region: region.unwrap_or_default().to_string(),
            };
            Counters::add(&self.counters.digests.found, u64::from(same));
            Counters::add(&self.counters.digests.altered, u64::from(!same));
            tracing::warn!(message = "A CloudTrail file a digest had called missing was shipped.", verdict = event.verdict, file = %name, digest = %missing.digest);
            let text = serde_json::to_string(&event).unwrap_or_default();
            let shipped = self
                .ship_one(&tag(TABLE, &event.account, &event.region), &text)
                .await;
            Counters::add(&self.counters.events, shipped.events);
            Counters::add(&self.counters.bytes, shipped.bytes);
            let receipt = shipped.answer().await;
            if receipt.is_delivered() {
                crate::lock(&self.changes).push(LedgerChange::Settled { names: vec![name] });
            }
        }
        Ok(())
    }
}

/// A log file being read (see [`TrailCheck::reading`]).
pub struct Reading {
    check: Arc<TrailCheck>,
    name: String,
}

impl Drop for Reading {
    fn drop(&mut self) {
        let mut reading = crate::lock(&self.check.reading);
        if let Some(n) = reading.get_mut(&self.name) {
            *n -= 1;
            if *n == 0 {
                reading.remove(&self.name);
            }
        }
        drop(reading);
        self.check.read_ended.notify_waiters();
    }
}

/// `linked` when the digest before `digest` is where it says, with the hash and signature it
/// names; `first` for the first digest of a chain; else why not.
async fn chain(digest: &Digest, store: &impl DigestStore) -> Result<String, Rejection> {
    let Some((bucket, key)) = digest.previous() else {
        return Ok(FIRST.to_string());
    };
    let previous = format!("s3://{bucket}/{key}");
    let Some(fetched) = store.fetch(&bucket, &key).await? else {
        return Ok(format!("broken: the digest before it ({previous}) is gone"));
    };
    let hash = sha256_hex(&fetched.inflated);
    if digest
        .previous_digest_hash_value
        .as_deref()
        .is_none_or(|h| !h.eq_ignore_ascii_case(&hash))
    {
        return Ok(format!(
            "broken: the digest before it ({previous}) is not the one it names (its hash differs)"
        ));
    }
    if fetched.signature.as_deref().map(str::trim) != digest.previous_digest_signature.as_deref() {
        return Ok(format!(
            "broken: the digest before it ({previous}) carries another signature than the one it names"
        ));
    }
    Ok(LINKED.to_string())
}

/// The files of `digest`'s trail, account and region that S3 got in the hour before its own
/// (its window less a digest's lateness: each digest of a chain looks at the hour after the one
/// before it looked at) and that no digest named. A file shipped again long after (a
/// redelivered notification) is in no digest's hour, and is forgotten in time.
fn unlisted(digest: &Digest, ledger: &TrailLedger) -> Vec<String> {
    let (Some(prefix), Some(start)) = (
        log_prefix(&digest.digest_s3_bucket, &digest.digest_s3_object),
        digest.start(),
    ) else {
        return Vec::new();
    };
    let listed: std::collections::HashSet<String> =
        digest.log_files.iter().map(ListedFile::name).collect();
    ledger
        .delivered
        .range(prefix.clone()..)
        .take_while(|(n, _)| n.starts_with(&prefix))
        .filter(|(n, f)| {
            let hour = start - DIGEST_LATENESS - DIGEST_LATENESS..start - DIGEST_LATENESS;
            hour.contains(&f.stored) && !listed.contains(*n)
        })
        .map(|(n, _)| n.clone())
        .collect()
}

/// The public keys CloudTrail signed digests with in `region` around `at`, by fingerprint
/// (ListPublicKeys; a role without it is a config error).
pub async fn public_keys(
    aws: &Aws,
    region: &str,
    at: DateTime<Utc>,
) -> Result<HashMap<String, Vec<u8>>, Failure> {
    let time = |t: DateTime<Utc>| aws_smithy_types::DateTime::from_secs(t.timestamp());
    let mut keys = HashMap::new();
    let mut token = None;
    loop {
        let answer = aws
            .cloudtrail(region)
            .list_public_keys()
            .start_time(time(at - chrono::Duration::days(1)))
            .end_time(time(at + chrono::Duration::days(1)))
            .set_next_token(token)
            .send()
            .await;
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                let what = format!(
                    "CloudTrail ListPublicKeys in {region} (to verify the trail's digests)"
                );
                let mut failure = aws.failure(&what, &e);
                if failure.reason.contains("AccessDenied") {
                    failure = Failure::new(
                        Outcome::Config,
                        format!(
                            "{}: the role needs cloudtrail:ListPublicKeys to verify CloudTrail digests",
                            failure.reason
                        ),
                    );
                }
                return Err(failure);
            }
        };
        for key in answer.public_key_list() {
            if let (Some(fingerprint), Some(value)) = (key.fingerprint(), key.value()) {
                keys.insert(fingerprint.to_string(), value.as_ref().to_vec());
            }
        }
        token = answer.next_token().map(String::from);
        if token.is_none() {
            return Ok(keys);
        }
    }
}
