//! One bounded cycle of one service: lock, honour `request_period_in_seconds`, pull within the
//! run's budget, ship, acknowledge what was delivered, save state, and report one summary line.
//!
//! The pulling itself is the service's (see `sources/`); this module owns what every service
//! shares: the run context, the counters of the summary, and how outcomes rank into exit codes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::aws::Aws;
use crate::config::{Loaded, ServiceKind, ServicePlan};
use crate::devo::frame::Framing;
use crate::devo::shipper::Shipper;
use crate::outcome::{Failure, Outcome};
use crate::state::{ServiceHandle, StateError, StateStore, Worker};
use crate::window::Backfill;

/// What the command line asks of every service of the run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub dry_run: bool,
    pub force: bool,
    /// Stop receiving once this many messages were taken, per service.
    pub max_messages: Option<u64>,
    /// How long after the deadline a slice already being pulled may go on (the grace its lease
    /// was given for that): past it, the slice is given up.
    pub slice_grace: Duration,
    /// `--start-time` / `--end-time`.
    pub backfill: Option<Backfill>,
}

/// What the services of one run share.
pub struct RunContext {
    pub loaded: Arc<Loaded>,
    pub options: RunOptions,
    pub shipper: Shipper,
    pub framing: Framing,
    pub aws: Arc<Aws>,
    pub state: StateStore,
    /// Who this run is to the state (lease owner, shard).
    pub worker: Worker,
    /// The deadline, and the flag SIGINT / SIGTERM raise: wind down as at the deadline.
    pub stop: Stop,
    /// Progress bars of cursor windows: drawn only when stderr is a terminal.
    pub progress: indicatif::MultiProgress,
}

/// When a run winds down: its deadline, or a stop signal. Cheap to clone into tasks.
#[derive(Debug, Clone)]
pub struct Stop {
    deadline: Instant,
    interrupted: Arc<AtomicBool>,
}

impl Stop {
    /// Stop pulling at `deadline`, or once `interrupted` is raised.
    pub fn new(deadline: Instant, interrupted: Arc<AtomicBool>) -> Self {
        Self {
            deadline,
            interrupted,
        }
    }

    /// A stop that never comes (benchmarks, tests).
    pub fn never() -> Self {
        Self {
            deadline: Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600),
            interrupted: Arc::default(),
        }
    }

    /// Time to stop pulling.
    pub fn now(&self) -> bool {
        self.after(Duration::ZERO)
    }

    /// `grace` after the deadline has passed, or the process was asked to stop.
    fn after(&self, grace: Duration) -> bool {
        Instant::now() >= self.deadline + grace || self.interrupted.load(Ordering::Relaxed)
    }
}

impl RunContext {
    /// Time to stop pulling: the deadline passed or the process was asked to stop. What was
    /// pulled is still delivered and acknowledged.
    pub fn should_stop(&self) -> bool {
        self.stop.now()
    }

    /// Time to give up a slice being pulled: its grace after the deadline has passed, or the
    /// process was asked to stop.
    pub fn must_end_slice(&self) -> bool {
        self.stop.after(self.options.slice_grace)
    }

    pub fn input_id(&self) -> &str {
        &self.loaded.config.inputs.aws.id.0
    }
}

/// The counters of one service's summary line; shared by its regions.
#[derive(Debug, Default)]
pub struct Counters {
    pub messages: AtomicU64,
    pub objects: AtomicU64,
    /// Objects acknowledged without being read (filtered, older than start_time, digests).
    pub skipped: AtomicU64,
    /// Cursors left alone because another worker holds their lease.
    pub held: AtomicU64,
    pub events: AtomicU64,
    pub dropped: AtomicU64,
    pub failed: AtomicU64,
    pub bytes: AtomicU64,
    /// Queue-fed services: messages that could not be understood, deleted once received
    /// `max_receive_count` times.
    pub discarded: AtomicU64,
    /// Queue-fed services: messages waiting in each region's queue when the run opened it.
    pub backlog: std::sync::Mutex<BTreeMap<String, u64>>,
    /// Services pulled by time: how far each cursor has been delivered.
    pub cursors: std::sync::Mutex<BTreeMap<String, DateTime<Utc>>>,
    /// What the summary line must say beside its counters (a prefix that matched no log
    /// group, a deadline that left messages in the queue), each once.
    pub notes: std::sync::Mutex<Vec<String>>,
    /// CloudTrail services: what the digests said.
    pub digests: DigestTally,
}

/// What a run's CloudTrail digests said, per service.
#[derive(Debug, Default)]
pub struct DigestTally {
    /// Digests checked (their verdict delivered).
    pub checked: AtomicU64,
    /// Digests whose signature or chain does not hold.
    pub unverified: AtomicU64,
    /// Listed files shipped with the hash listed.
    pub same: AtomicU64,
    /// Listed files shipped before a digest of their trail was seen (not hashed).
    pub unhashed: AtomicU64,
    pub altered: AtomicU64,
    pub missing: AtomicU64,
    /// Files shipped that no digest named.
    pub unlisted: AtomicU64,
    /// Files a digest had called missing, shipped since.
    pub found: AtomicU64,
}

impl DigestTally {
    /// The figures by name, in the order of the summary line, the JSON report and the metrics.
    pub fn figures(&self) -> [(&'static str, u64); 8] {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        [
            ("checked", get(&self.checked)),
            ("unverified", get(&self.unverified)),
            ("same", get(&self.same)),
            ("unhashed", get(&self.unhashed)),
            ("altered", get(&self.altered)),
            ("missing", get(&self.missing)),
            ("unlisted", get(&self.unlisted)),
            ("found", get(&self.found)),
        ]
    }

    /// What an auditor must look at: unverified digests, altered, missing and unlisted files.
    pub fn alarms(&self) -> u64 {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        get(&self.unverified) + get(&self.altered) + get(&self.missing) + get(&self.unlisted)
    }

    /// The figures, when the digests said anything in the run (none else: the summary line, the
    /// report and the metrics say nothing of digests then).
    pub fn said(&self) -> Option<[(&'static str, u64); 8]> {
        let figures = self.figures();
        figures.iter().any(|(_, n)| *n > 0).then_some(figures)
    }

    /// The summary line's word for it (none when no digest was checked).
    pub fn summary(&self) -> Option<String> {
        self.said().map(|figures| {
            figures
                .iter()
                .map(|(name, n)| format!("{name}={n}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
    }
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn note_backlog(&self, region: &str, waiting: u64) {
        crate::lock(&self.backlog).insert(region.to_string(), waiting);
    }

    pub fn note_cursor(&self, cursor: &str, until: DateTime<Utc>) {
        crate::lock(&self.cursors).insert(cursor.to_string(), until);
    }

    /// Something the summary line must say (said once however often it is noted).
    pub fn note(&self, text: String) {
        let mut notes = crate::lock(&self.notes);
        if !notes.contains(&text) {
            notes.push(text);
        }
    }
}

/// A service's part of the run: what it did and how it ended.
#[derive(Debug)]
pub struct Summary {
    pub kind: ServiceKind,
    pub outcome: Outcome,
    pub note: Option<String>,
    pub counters: Arc<Counters>,
    pub seconds: f64,
}

impl Summary {
    /// Logs the summary line: at INFO (shown even when logging is quiet) when the service is done
    /// or locked, at ERROR when it failed. Counters that cannot apply to the service (messages
    /// of a service pulled by time, `held` of a queue) are left out; numbers stay numbers.
    pub fn report(&self) {
        let c = &self.counters;
        let kind = self.kind;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let when = |applies: bool, a: &AtomicU64| applies.then(|| get(a));
        let queue = kind.queue_key().is_some();
        let objects = kind.reads_objects();
        let drops = kind.seed_key() == crate::config::SeedKey::AuditEventsAll;
        let seconds = (self.seconds * 1000.0).round() / 1000.0;
        macro_rules! summary {
            ($level:ident) => {
                tracing::$level!(
                    target: "devo_aws::summary",
                    service = kind.name(),
                    status = self.outcome.status(),
                    exit_code = self.outcome.exit_code(),
                    messages = when(queue, &c.messages),
                    objects = when(objects, &c.objects),
                    skipped = when(objects, &c.skipped),
                    held = when(!queue, &c.held),
                    events = get(&c.events),
                    dropped = when(drops || get(&c.dropped) > 0, &c.dropped),
                    failed = get(&c.failed),
                    bytes = get(&c.bytes),
                    discarded = when(queue && get(&c.discarded) > 0, &c.discarded),
                    digests = c.digests.summary(),
                    seconds,
                    note = self.note.as_deref(),
                    "summary"
                )
            };
        }
        match self.outcome {
            Outcome::Done | Outcome::Locked => summary!(info),
            Outcome::Integrity => summary!(warn),
            _ => summary!(error),
        }
    }
}

/// How early a run may come and still pull: cron and systemd timers do not start to the
/// millisecond (start jitter, `RandomizedDelaySec`, a slow previous run), so a run within 10 % of
/// the period, at most 60 s, before the due time is due. Without it, a 5-minute schedule with the
/// default period of 300 s would pull every 5 or 10 minutes at random.
pub fn due_tolerance(request_period_secs: u64) -> Duration {
    Duration::from_secs((request_period_secs / 10).min(60))
}

/// When a service last pulled at `last` is due again.
fn due_at(last: DateTime<Utc>, request_period_secs: u64) -> DateTime<Utc> {
    let early =
        Duration::from_secs(request_period_secs).saturating_sub(due_tolerance(request_period_secs));
    chrono::Duration::from_std(early)
        .ok()
        .and_then(|d| last.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Runs `pull` as the service of `plan` under its lock and request period, then saves its
/// state. `pull` fills the counters, may advance cursors, and returns the worst failure of its
/// parts.
pub async fn run_service<F, Fut>(ctx: &RunContext, plan: &ServicePlan, pull: F) -> Summary
where
    F: FnOnce(Arc<Counters>, Arc<ServiceHandle>) -> Fut,
    Fut: Future<Output = Result<(), Failure>>,
{
    let kind = plan.kind;
    let (name, request_period_secs) = (kind.name(), plan.request_period.as_secs());
    let started = std::time::Instant::now();
    let counters = Arc::new(Counters::default());
    let finish = |outcome, note: Option<String>, counters: Arc<Counters>| {
        let noted = std::mem::take(&mut *crate::lock(&counters.notes));
        let all: Vec<String> = note.into_iter().chain(noted).collect();
        Summary {
            kind,
            outcome,
            note: (!all.is_empty()).then(|| all.join("; ")),
            counters,
            seconds: started.elapsed().as_secs_f64(),
        }
    };
    // A replay of an S3 service keeps its own state: the service's is not touched.
    let key = match ctx.options.backfill {
        Some(window) if kind.object_format().is_some() => {
            format!("{}.{name}.{}", ctx.input_id(), window.replay_name())
        }
        _ => format!("{}.{name}", ctx.input_id()),
    };
    // Dry runs write nothing, so they take no lock either and may run beside a real one.
    let handle = match ctx.state.open(&key, &ctx.worker).await {
        Ok(h) => Arc::new(h),
        Err(e @ StateError::Locked { .. }) => {
            tracing::warn!(message = "Service skipped: another run holds it.", service = name, error = %e);
            return finish(Outcome::Locked, Some(e.to_string()), counters);
        }
        Err(e) => return finish(e.outcome(), Some(e.to_string()), counters),
    };
    let now = Utc::now();
    if let Some(last) = handle.last_pull()
        && !ctx.options.force
        && ctx.options.backfill.is_none()
    {
        let due = due_at(last, request_period_secs);
        if now < due {
            let note = format!(
                "not due until {} (request_period_in_seconds {request_period_secs}; --force pulls now)",
                due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            tracing::info!(message = "Service skipped: pulled recently.", service = name, %note);
            return finish(Outcome::Done, Some(note), counters);
        }
    }
    match pull(counters.clone(), handle.clone()).await {
        Err(f) => finish(f.outcome, Some(f.reason), counters),
        Ok(()) if ctx.options.dry_run => finish(
            Outcome::Done,
            Some("dry run: nothing acknowledged".into()),
            counters,
        ),
        Ok(()) => match handle.finish(now).await {
            Ok(()) if counters.digests.alarms() > 0 => {
                let note = format!(
                    "CloudTrail digests found the trail not whole ({}): see the verdicts in {}",
                    counters.digests.summary().unwrap_or_default(),
                    crate::formats::digest::TABLE
                );
                finish(Outcome::Integrity, Some(note), counters)
            }
            Ok(()) => finish(Outcome::Done, None, counters),
            Err(e) => finish(e.outcome(), Some(e.to_string()), counters),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_a_little_early_is_due() {
        let last = DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            due_at(last, 300),
            at("2024-05-01T10:04:30Z"),
            "10 % of 300 s"
        );
        assert_eq!(
            due_at(last, 3600),
            at("2024-05-01T10:59:00Z"),
            "at most 60 s"
        );
        assert_eq!(
            due_at(last, 5),
            at("2024-05-01T10:00:05Z"),
            "none under 10 s"
        );
        assert_eq!(due_at(last, u64::MAX), DateTime::<Utc>::MAX_UTC);
    }
}
