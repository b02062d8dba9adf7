//! devo-aws: parse the command line, set up logging, run one cycle, exit with its code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::FromArgMatches;
use indicatif::{MultiProgress, ProgressDrawTarget};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, reload};

use devo_aws::cli::{self, Cli, Generated, LogFormat};
use devo_aws::{outcome, run};

fn main() -> ExitCode {
    let matches = cli::command_with_generate().get_matches();
    if let Some(("generate", m)) = matches.subcommand()
        && let Some(what) = m.get_one::<Generated>("what")
    {
        return match cli::generate(*what, &mut std::io::stdout().lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("devo-aws: cannot write: {e}");
                ExitCode::from(outcome::Outcome::Internal.exit_code())
            }
        };
    }
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Some(mistake) = cli.global.empty_window() {
        cli::command_with_generate()
            .error(clap::error::ErrorKind::ArgumentConflict, mistake)
            .exit();
    }
    // Progress bars only on a terminal; log lines are written around them, never through them.
    let progress = if std::io::stderr().is_terminal() {
        MultiProgress::new()
    } else {
        MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
    };
    let debug_logging = init_logging(&cli, progress.clone());
    log_panics();
    let outcome = run::run_to_end(cli, &debug_logging, progress);
    ExitCode::from(outcome.exit_code())
}

/// Warnings, errors and the summary by default (quiet under cron); `-v` adds progress, `-q`
/// leaves errors only. `RUST_LOG` overrides all of it. Returns what `globals.debug: true` calls
/// to log as `-vv` does, when neither `-v`, `-q` nor `RUST_LOG` chose already.
fn init_logging(cli: &Cli, progress: MultiProgress) -> impl Fn() + use<> {
    let level = match (cli.global.quiet, cli.global.verbose) {
        (true, _) => "error",
        // aws-config says an AssumeRole refusal in its own words (the SDK's debug text): the
        // run says it in ours (`aws::RoleRefused`).
        (false, 0) => "warn,devo_aws::summary=info,aws_config::sts::assume_role=error",
        (false, 1) => "info,devo_aws=info,aws_config::sts::assume_role=error",
        (false, 2) => DEBUG_LEVEL,
        _ => "debug,devo_aws=trace",
    };
    let from_env = EnvFilter::try_from_default_env().ok();
    let chosen = from_env.is_some() || cli.global.quiet || cli.global.verbose > 0;
    let filter = without_sdk_bodies(from_env.unwrap_or_else(|| EnvFilter::new(level)));
    let (filter, handle) = reload::Layer::new(filter);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(AroundBars(progress))
        .with_ansi(
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        );
    let registry = tracing_subscriber::registry().with(filter);
    match cli.global.log_format {
        LogFormat::Text => registry.with(fmt).init(),
        LogFormat::Json => registry.with(fmt.json().flatten_event(true)).init(),
    }
    move || {
        if !chosen {
            let _ = handle.reload(without_sdk_bodies(EnvFilter::new(DEBUG_LEVEL)));
        }
    }
}

/// A panic goes to the run's log as one event, in its format (`--log-format json` stays JSON),
/// not as the default hook's raw text on stderr. The parquet crate panics on some malformed files
/// instead of answering an error; the decoder catches those and reports the object as corrupt
/// (`formats::parquet`), so they are logged at debug only. `RUST_BACKTRACE=1` adds the backtrace.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let panic = info.payload_as_str().unwrap_or("(no message)");
        if devo_aws::formats::parquet::panicked_in_reader(&at) {
            tracing::debug!(
                message = "The Parquet reader panicked (the object is reported as corrupt).",
                panic,
                at
            );
        } else {
            // The backtrace where RUST_BACKTRACE asks for it, as the default hook gives it.
            let trace = std::backtrace::Backtrace::capture();
            let trace = (trace.status() == std::backtrace::BacktraceStatus::Captured)
                .then(|| trace.to_string());
            tracing::error!(
                message = "Internal error (a panic); please report it.",
                panic,
                at,
                backtrace = trace
            );
        }
    }));
}

/// The SDK traces whole requests and responses (an AssumeRole body holds the external id, a
/// signed request the session token): those targets stay at debug, whatever `RUST_LOG` asks,
/// unless `DEVO_AWS_TRACE_AWS_BODIES=1` lets them through for a support case.
fn without_sdk_bodies(filter: EnvFilter) -> EnvFilter {
    if std::env::var_os("DEVO_AWS_TRACE_AWS_BODIES").is_some_and(|v| v == "1")
        || filter.max_level_hint() != Some(LevelFilter::TRACE)
    {
        // (A directive sets its target's level: only lower it where trace is on.)
        return filter;
    }
    SDK_BODY_TARGETS.iter().fold(filter, |f, target| {
        match format!("{target}=debug").parse() {
            Ok(directive) => f.add_directive(directive),
            Err(_) => f,
        }
    })
}

/// Where the SDK logs request and response bodies (at trace).
const SDK_BODY_TARGETS: [&str; 2] = ["aws_smithy_runtime::client::orchestrator", "aws_sigv4"];

/// What `-vv` (and `globals.debug: true`) logs.
const DEBUG_LEVEL: &str = "info,devo_aws=debug";

/// Writes each log line to stderr with the progress bars out of the way, so lines never tear a
/// bar.
#[derive(Clone)]
struct AroundBars(MultiProgress);

/// One log line, written when the event is done.
struct LogLine(MultiProgress, Vec<u8>);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for AroundBars {
    type Writer = LogLine;
    fn make_writer(&'a self) -> LogLine {
        LogLine(self.0.clone(), Vec::new())
    }
}

impl std::io::Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.1.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        let line = std::mem::take(&mut self.1);
        self.0.suspend(|| {
            let _ = std::io::Write::write_all(&mut std::io::stderr(), &line);
        });
    }
}
