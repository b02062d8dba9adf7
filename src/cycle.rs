//! One bounded cycle of one service: lock, honour `request_period_in_seconds`, pull within the
//! run's budget, ship, acknowledge what was delivered, save state, and report one summary line.
//!
//! The pulling itself is the service's (see `sources/`); this module owns what every service
//! shares: the run context, the counters of the summary, and how outcomes rank into exit codes.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use crate::aws::Aws;
use crate::config::Loaded;
use crate::devo::frame::Framing;
use crate::devo::shipper::Shipper;
use crate::sources::cursor::Backfill;
use crate::state::{self, Cursor, StateError, StateStore};

/// How a run (or one service, or one region of it) ended. Ordered: the worst one decides the
/// exit code of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Done, including "nothing new" and "not due yet".
    Done,
    /// Another run holds this service's lock.
    Locked,
    /// Network, throttling, Devo unreachable: the next run retries.
    Temporary,
    /// The config, the certificates or the credentials must change.
    Config,
    /// A bug.
    Internal,
}

impl Outcome {
    /// The documented exit code.
    pub const fn exit_code(self) -> u8 {
        match self {
            Self::Done => 0,
            Self::Internal => 1,
            Self::Config => 3,
            Self::Temporary => 4,
            Self::Locked => 5,
        }
    }
}

/// A failure of part of a service, with its class.
#[derive(Debug, Clone)]
pub struct Failure {
    pub outcome: Outcome,
    pub reason: String,
}

impl Failure {
    pub fn new(outcome: Outcome, reason: impl Into<String>) -> Self {
        Self {
            outcome,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// What the command line asks of every service of the run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub dry_run: bool,
    pub force: bool,
    /// Stop receiving once this many messages were taken, per service.
    pub max_messages: Option<u64>,
    /// When the run stops pulling and winds down.
    pub deadline: Instant,
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
    /// Set on SIGINT / SIGTERM: wind down as at the deadline.
    pub interrupted: Arc<AtomicBool>,
    /// Progress bars of cursor windows: drawn only when stderr is a terminal.
    pub progress: indicatif::MultiProgress,
}

impl RunContext {
    /// Time to stop pulling: the deadline passed or the process was asked to stop. What was
    /// pulled is still delivered and acknowledged.
    pub fn should_stop(&self) -> bool {
        Instant::now() >= self.options.deadline || self.interrupted.load(Ordering::Relaxed)
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
    pub events: AtomicU64,
    pub dropped: AtomicU64,
    pub failed: AtomicU64,
    pub bytes: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// A service's part of the run: what it did and how it ended.
#[derive(Debug)]
pub struct Summary {
    pub service: &'static str,
    pub outcome: Outcome,
    pub note: Option<String>,
    pub counters: Arc<Counters>,
    pub seconds: f64,
}

impl Summary {
    /// Logs the summary line (shown even when logging is quiet).
    pub fn report(&self) {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let status = match self.outcome {
            Outcome::Done => "ok",
            Outcome::Locked => "locked",
            Outcome::Temporary => "temporary-failure",
            Outcome::Config => "config-error",
            Outcome::Internal => "internal-error",
        };
        tracing::info!(
            target: "devo_aws::summary",
            service = self.service,
            status,
            messages = get(&c.messages),
            objects = get(&c.objects),
            skipped = get(&c.skipped),
            events = get(&c.events),
            dropped = get(&c.dropped),
            failed = get(&c.failed),
            bytes = get(&c.bytes),
            seconds = format_args!("{:.3}", self.seconds),
            note = self.note.as_deref().unwrap_or(""),
            "summary"
        );
    }
}

/// One service's saved state during its run: cursors are committed as their windows are
/// delivered, so a run that dies keeps what it finished.
pub struct ServiceState {
    store: StateStore,
    key: String,
    state: Mutex<state::ServiceState>,
    dry_run: bool,
}

impl ServiceState {
    pub fn cursor(&self, name: &str) -> Option<Cursor> {
        lock(&self.state).cursors.get(name).cloned()
    }

    /// Records that `name` was delivered up to `cursor` and saves it (a dry run saves nothing).
    pub fn advance(&self, name: &str, cursor: Cursor) -> Result<(), StateError> {
        if self.dry_run {
            return Ok(());
        }
        let mut state = lock(&self.state);
        state.cursors.insert(name.to_string(), cursor);
        self.store.save(&self.key, &state)
    }

    fn save_pull(&self, at: chrono::DateTime<Utc>) -> Result<(), StateError> {
        let mut state = lock(&self.state);
        state.last_pull = Some(at);
        self.store.save(&self.key, &state)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `pull` as service `name` under its lock and request period, then saves its state.
/// `pull` fills the counters, may advance cursors, and returns the worst failure of its parts.
pub async fn run_service<F, Fut>(
    ctx: &RunContext,
    name: &'static str,
    request_period_secs: u64,
    pull: F,
) -> Summary
where
    F: FnOnce(Arc<Counters>, Arc<ServiceState>) -> Fut,
    Fut: Future<Output = Option<Failure>>,
{
    let started = std::time::Instant::now();
    let counters = Arc::new(Counters::default());
    let finish = |outcome, note: Option<String>, counters: Arc<Counters>| Summary {
        service: name,
        outcome,
        note,
        counters,
        seconds: started.elapsed().as_secs_f64(),
    };
    let key = format!("{}.{name}", ctx.input_id());
    // Dry runs write nothing, so they need no lock either and may run beside a real one.
    let _lock = if ctx.options.dry_run {
        None
    } else {
        match ctx.state.lock(&key) {
            Ok(l) => Some(l),
            Err(e @ StateError::Locked { .. }) => {
                tracing::warn!(message = "Service skipped: another run holds it.", service = name, error = %e);
                return finish(Outcome::Locked, Some(e.to_string()), counters);
            }
            Err(e) => return finish(Outcome::Config, Some(e.to_string()), counters),
        }
    };
    let state = match ctx.state.load(&key) {
        Ok(s) => s,
        Err(e) => return finish(Outcome::Config, Some(e.to_string()), counters),
    };
    let now = Utc::now();
    if let Some(last) = state.last_pull
        && !ctx.options.force
    {
        let due = last + Duration::from_secs(request_period_secs);
        if now < due {
            let note = format!(
                "not due until {} (request_period_in_seconds {request_period_secs}; --force pulls now)",
                due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            tracing::info!(message = "Service skipped: pulled recently.", service = name, %note);
            return finish(Outcome::Done, Some(note), counters);
        }
    }
    let handle = Arc::new(ServiceState {
        store: ctx.state.clone(),
        key,
        state: Mutex::new(state),
        dry_run: ctx.options.dry_run,
    });
    let failure = pull(counters.clone(), handle.clone()).await;
    match failure {
        Some(f) => finish(f.outcome, Some(f.reason), counters),
        None if ctx.options.dry_run => finish(
            Outcome::Done,
            Some("dry run: nothing acknowledged".into()),
            counters,
        ),
        None => match handle.save_pull(now) {
            Ok(()) => finish(Outcome::Done, None, counters),
            Err(e) => finish(Outcome::Config, Some(e.to_string()), counters),
        },
    }
}
