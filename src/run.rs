//! One run of the program: load the config, set up Devo and AWS, run the chosen services
//! concurrently within the run's budget, report one summary line per service, and rank the
//! outcomes into the exit code.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use futures_util::future::join_all;
use indicatif::MultiProgress;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::aws::{Aws, OperationFigures};
use crate::bill::{Bill, prices_label};
use crate::check;
use crate::cli::{Cli, Command, config_path};
use crate::config::{self, ConfigError, Loaded, ServiceKind};
use crate::cycle::{RunContext, RunOptions, Stop, Summary};
use crate::devo::frame::Framing;
use crate::devo::shipper::{Destination, EpochLimits, GiveUp, Shipper, ShipperStats};
use crate::devo::tls::{CLIENT_CERT_WARN_DAYS, DevoEndpoint, EndpointSpec};
use crate::outcome::Outcome;
use crate::report::{self, RunFigures};
use crate::sources;
use crate::state::files::write_atomically;
use crate::state::{StateStore, Worker};
use crate::window::rfc3339;

/// What a cursor's lease adds to the run's deadline (the time to deliver and record the window
/// in flight when the deadline comes): half the deadline, from 10 s to 2 minutes. A lease lasts
/// the deadline plus this from each renewal.
fn lease_grace(deadline: Duration) -> Duration {
    (deadline / 2).clamp(Duration::from_secs(10), Duration::from_secs(120))
}

/// How long after a stop signal the run still waits for Devo's receipts: within Kubernetes'
/// default `terminationGracePeriodSeconds` (30 s), leaving time to give back what was not
/// confirmed and to save the state.
pub const STOP_GRACE: Duration = Duration::from_secs(20);

/// When the run's time for delivery ends (the shipper's [`GiveUp`]): the deadline and its grace,
/// brought forward to [`STOP_GRACE`] after a stop signal.
struct DeliveryTime {
    deadline: Instant,
    give_up: watch::Sender<Instant>,
}

impl DeliveryTime {
    fn new(deadline: Duration) -> Self {
        let now = Instant::now();
        Self {
            deadline: now + deadline,
            give_up: watch::Sender::new(now + deadline + lease_grace(deadline)),
        }
    }
}

/// [`run`] on a runtime of its own, to its end. The binary calls this rather than polling
/// [`run`] itself: the futures of the whole run are then compiled once, here, and not a second
/// time into the binary (a release build does not share their instances between crates; this
/// took 37 s off a cold `make build` on 2 cores).
pub fn run_to_end(cli: Cli, debug_logging: &dyn Fn(), progress: MultiProgress) -> Outcome {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run(cli, debug_logging, progress)),
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            Outcome::Internal
        }
    }
}

/// Runs the command and returns the worst outcome. Errors that stop the run before any service
/// starts are reported here. `debug_logging` turns debug logs on, for `globals.debug: true`.
pub async fn run(cli: Cli, debug_logging: &dyn Fn(), progress: MultiProgress) -> Outcome {
    if let Some(mistake) = cli.global.start_in_future(Utc::now()) {
        tracing::error!("{mistake}");
        return Outcome::Config;
    }
    let path = config_path(cli.global.config.clone(), std::env::var("CONFIG_FILE").ok());
    let loaded = match config::load(&path) {
        Ok(l) => Arc::new(l),
        Err(e) => return fail(Outcome::Config, &e),
    };
    if loaded.config.globals.debug {
        debug_logging();
    }
    if cli.command == Command::Check {
        let endpoints = devo_endpoints(&loaded)
            .into_iter()
            .map(|(endpoint, _)| endpoint)
            .collect();
        return check::run(&loaded, endpoints, cli.global.backfill()).await;
    }
    let selected = match select(&loaded, &cli.command) {
        Ok(s) => s,
        Err(e) => return fail(Outcome::Config, &e),
    };
    if !loaded.config.inputs.aws.enabled {
        tracing::warn!(message = "inputs.aws.enabled is false: nothing to do.");
        return Outcome::Done;
    }
    let time = DeliveryTime::new(cli.global.deadline);
    let (shipper, shipper_task) =
        match start_shipper(&loaded, cli.global.dry_run, time.give_up.subscribe()) {
            Ok(s) => s,
            Err(e) => return fail(Outcome::Config, &*e),
        };
    let started = (Utc::now(), std::time::Instant::now());
    let watchers = Watchers {
        metrics_file: cli.global.metrics_file.clone(),
        pushgateway: cli.global.pushgateway.clone(),
        report: cli.global.report.clone(),
        shard: cli.global.shard,
        dry_run: cli.global.dry_run,
    };
    let ctx = context(cli, loaded, shipper, progress, time).await;
    let summaries: Vec<Summary> = join_all(
        ctx.loaded
            .plans
            .iter()
            .filter(|plan| selected.contains(&plan.kind))
            .map(|plan| sources::run(&ctx, plan)),
    )
    .await;
    let aws = ctx.aws.clone();
    let input = ctx.input_id().to_string();
    let prices = ctx.loaded.config.inputs.aws.prices_usd_per_million.clone();
    drop(ctx);
    let devo = shipper_done(shipper_task).await;
    let ended = Ended {
        summaries: &summaries,
        aws: &aws,
        input: &input,
        prices: &prices,
        started,
    };
    ended.tell(devo, &watchers).await
}

/// What a run ended with, once every service is done and the shipper has delivered.
struct Ended<'a> {
    summaries: &'a [Summary],
    aws: &'a Aws,
    input: &'a str,
    prices: &'a BTreeMap<String, f64>,
    started: (chrono::DateTime<Utc>, std::time::Instant),
}

impl Ended<'_> {
    /// Says each summary, the AWS calls and their bill, tells the watchers; the worst outcome.
    async fn tell(&self, devo: ShipperStats, watchers: &Watchers) -> Outcome {
        for s in self.summaries {
            s.report();
        }
        let outcome = self
            .summaries
            .iter()
            .map(|s| s.outcome)
            .max()
            .unwrap_or(Outcome::Done);
        let (operations, bill) = (self.aws.operation_figures(), self.aws.bill());
        report_aws(self.aws, &operations, &bill, self.prices);
        let figures = RunFigures {
            input: self.input,
            shard: watchers.shard,
            summaries: self.summaries,
            operations: &operations,
            bill: &bill,
            prices: self.prices,
            devo,
            outcome,
            started: self.started.0,
            seconds: self.started.1.elapsed().as_secs_f64(),
            dry_run: watchers.dry_run,
        };
        watchers.tell(&figures).await;
        outcome
    }
}

/// The shipper's figures, once it has delivered what it held.
async fn shipper_done(task: JoinHandle<ShipperStats>) -> ShipperStats {
    match task.await {
        Ok(stats) => {
            tracing::debug!(
                message = "Shipper done.",
                epochs = stats.epochs,
                connections = stats.connections,
                events = stats.events_delivered,
                bytes = stats.bytes_delivered
            );
            if let Some(slow) = stats.slow_reads {
                tracing::warn!(
                    message = "Devo read our data slowly in this run; delivery epochs were cut so that each close fits the close timeout, and acknowledgements came later. If it persists, relieve the relay (or the network to it), or raise timeout_seconds on the output.",
                    read_kb_per_sec = slow.bytes_per_sec / 1000,
                    epochs_cut_to_kib = slow.epoch_bytes / 1024,
                    closes_timed_out = slow.timeouts
                );
            }
            stats
        }
        Err(e) => {
            tracing::error!(message = "Shipper task failed.", error = %e);
            ShipperStats::default()
        }
    }
}

/// The AWS requests made, by operation, what they bill, and a warning when the host's clock is
/// off AWS's.
fn report_aws(
    aws: &Aws,
    operations: &BTreeMap<String, OperationFigures>,
    bill: &Bill,
    prices: &BTreeMap<String, f64>,
) {
    if let Some(ms) = aws.clock_offset()
        && ms.abs() > check::CLOCK_WARN_SECS * 1000
    {
        tracing::warn!(
            message = "This host's clock is off AWS's; windows follow AWS's clock.",
            aws_ahead_by_seconds = ms / 1000
        );
    }
    // Calls by operation; where S3 answered with objects, the bytes they came to.
    let listed: Vec<String> = operations
        .iter()
        .map(|(op, f)| match op.as_str() {
            "S3.GetObject" => format!("{op}={} ({} bytes)", f.attempts, f.bytes),
            _ => format!("{op}={}", f.attempts),
        })
        .collect();
    tracing::info!(target: "devo_aws::summary", calls = %listed.join(" "), "aws calls");
    tracing::info!(
        target: "devo_aws::summary",
        units = %bill.line(),
        estimated_usd = format!("{:.6}", bill.usd(prices)),
        prices = %prices_label(prices),
        "aws bill"
    );
}

/// Where the run's figures go (`--metrics-file`, `--pushgateway`, `--report`). A failure to
/// tell them is a warning: it changes nothing that was delivered, nor the exit code.
struct Watchers {
    metrics_file: Option<PathBuf>,
    pushgateway: Option<String>,
    report: Option<PathBuf>,
    shard: Option<crate::shard::Shard>,
    dry_run: bool,
}

impl Watchers {
    async fn tell(&self, figures: &RunFigures<'_>) {
        if let Some(path) = &self.report {
            let text = format!("{:#}\n", figures.json());
            let written = if path.as_os_str() == "-" {
                std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes())
            } else {
                write_atomically(path, text.as_bytes())
            };
            if let Err(e) = written {
                tracing::warn!(message = "Cannot write the run report.", path = %path.display(), error = %e);
            }
        }
        if self.metrics_file.is_none() && self.pushgateway.is_none() {
            return;
        }
        let text = match figures.prometheus_text() {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(message = "Cannot make the run's metrics.", error = %e);
                return;
            }
        };
        if let Some(path) = &self.metrics_file
            && let Err(e) = write_atomically(path, text.as_bytes())
        {
            tracing::warn!(message = "Cannot write the metrics file.", path = %path.display(), error = %e);
        }
        if let Some(url) = &self.pushgateway
            && let Err(e) = report::push(url, &figures.push_path(), text).await
        {
            tracing::warn!(message = "Cannot push the run's metrics; nothing else is affected.", error = %e);
        }
    }
}

/// The configured services of the subcommand; naming one the config lacks is an error.
fn select(loaded: &Loaded, command: &Command) -> Result<Vec<ServiceKind>, ConfigError> {
    let kinds = loaded.config.inputs.aws.services.kinds();
    if let [unknown, ..] = command.unknown_types(&kinds).as_slice() {
        let known: Vec<&str> = kinds
            .iter()
            .filter(|k| k.seed_key() == config::SeedKey::NonCloudwatchLogs)
            .filter_map(|k| k.selected_by())
            .collect();
        return Err(ConfigError::Invalid {
            file: loaded.file().to_path_buf(),
            path: "s3logs TYPE".into(),
            reason: format!(
                "{unknown:?} is no type of S3 logs (types: {})",
                known.join(", ")
            ),
        });
    }
    let wanted = command.services(&kinds);
    let selected: Vec<ServiceKind> = wanted
        .iter()
        .copied()
        .filter(|k| loaded.plans.iter().any(|p| p.kind == *k))
        .collect();
    match wanted.as_slice() {
        [first, ..] if selected.is_empty() && *command != Command::All => {
            Err(ConfigError::ServiceMissing {
                service: first.seed_key().as_str(),
                file: loaded.file().to_path_buf(),
            })
        }
        _ => Ok(selected),
    }
}

/// The shipper toward every Devo output (standard output for a dry run), each with its own
/// timeouts.
fn start_shipper(
    loaded: &Loaded,
    dry_run: bool,
    give_up: GiveUp,
) -> Result<(Shipper, JoinHandle<ShipperStats>), Box<dyn std::error::Error>> {
    // A dry run builds the endpoints as a real run does (certificates read and matched, the
    // address checked), so a config that would fail is not reported fine; it only does not
    // connect.
    let endpoints = devo_endpoints(loaded)
        .into_iter()
        .map(|(endpoint, limits)| endpoint.map(|e| (e, limits)))
        .collect::<Result<Vec<_>, String>>()?;
    for (endpoint, _) in &endpoints {
        client_cert_in_date(endpoint)?;
    }
    let destinations = if dry_run {
        vec![(Destination::Stdout, EpochLimits::default())]
    } else {
        endpoints
            .into_iter()
            .map(|(endpoint, limits)| {
                let limits = EpochLimits {
                    give_up: Some(give_up.clone()),
                    ..limits
                };
                (Destination::Devo(Arc::new(endpoint)), limits)
            })
            .collect()
    };
    Ok(Shipper::start(destinations))
}

/// An expired client certificate stops the run before anything is received (no server takes
/// it); one that expires within [`CLIENT_CERT_WARN_DAYS`] is warned about in every run.
fn client_cert_in_date(endpoint: &DevoEndpoint) -> Result<(), String> {
    let days_left = endpoint
        .client_cert_days_left(Utc::now())
        .map_err(|expired| {
            format!(
                "devo {}: {expired}: renew it (nothing was received from AWS)",
                endpoint.display()
            )
        })?;
    if let Some(days_left) = days_left.filter(|d| *d < CLIENT_CERT_WARN_DAYS) {
        tracing::warn!(
            message = "The client certificate expires soon: renew it.",
            devo = %endpoint.display(),
            days_left,
            expires = %endpoint
                .client_cert_not_after()
                .map(rfc3339)
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// What the services of this run share.
async fn context(
    cli: Cli,
    loaded: Arc<Loaded>,
    shipper: Shipper,
    progress: MultiProgress,
    time: DeliveryTime,
) -> RunContext {
    let aws = Arc::new(Aws::for_input(&loaded.config.inputs.aws).await);
    let dry_run = cli.global.dry_run;
    let grace = lease_grace(cli.global.deadline);
    // Devo takes both framings: one output that wants every record octet-counted gets it for all.
    let octet_counting = loaded.outputs.iter().any(|output| output.octet_counting);
    RunContext {
        state: StateStore::from_config(&loaded, &aws),
        worker: Worker {
            owner: Worker::owner_name(Utc::now()),
            shard: cli.global.shard,
            lease_length: cli.global.deadline + grace,
            dry_run,
        },
        aws,
        loaded,
        options: RunOptions {
            dry_run,
            force: cli.global.force,
            max_messages: cli.global.max_messages,
            slice_grace: grace,
            backfill: cli.global.backfill(),
        },
        shipper,
        framing: if dry_run {
            Framing::DryRun
        } else {
            Framing::syslog_for_this_host(octet_counting)
        },
        stop: Stop::new(time.deadline, watch_for_stop_signals(time.give_up)),
        progress,
    }
}

/// A flag raised by SIGINT or SIGTERM (a Kubernetes pod being stopped, Ctrl-C): the run stops
/// pulling, delivers and acknowledges what it holds within [`STOP_GRACE`], and releases the rest.
fn watch_for_stop_signals(give_up: watch::Sender<Instant>) -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let raised = flag.clone();
    tokio::spawn(async move {
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(message = "Cannot watch for SIGTERM.", error = %e);
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::warn!(
            message = "Stop requested: finishing delivery of what was pulled.",
            at_most_seconds = STOP_GRACE.as_secs()
        );
        raised.store(true, Ordering::Relaxed);
        give_up.send_modify(|at| *at = (*at).min(Instant::now() + STOP_GRACE));
    });
    flag
}

fn fail(outcome: Outcome, e: &dyn std::error::Error) -> Outcome {
    tracing::error!("{e}");
    outcome
}

/// One Devo output: its endpoint (or why its files do not make one), and its limits.
type OutputSetup = (Result<DevoEndpoint, String>, EpochLimits);

/// Each Devo output's endpoint and limits.
fn devo_endpoints(loaded: &Loaded) -> Vec<OutputSetup> {
    loaded
        .outputs
        .iter()
        .map(|out| {
            let endpoint = DevoEndpoint::new(&EndpointSpec {
                address: &out.address,
                port: out.port,
                chain: &out.chain,
                cert: &out.cert,
                key: &out.key,
                verify_hostname: out.verify_hostname,
                server_fingerprint: out.server_fingerprint,
            })
            .map_err(|e| format!("outputs.{}: {e}", out.name));
            let mut limits = EpochLimits::default();
            if let Some(timeout) = out.timeout {
                limits.write_timeout = timeout;
                limits.close_timeout = timeout;
            }
            (endpoint, limits)
        })
        .collect()
}
