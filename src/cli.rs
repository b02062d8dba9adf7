//! The command line: subcommands and global options. The one source of the man page and the
//! shell completions.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{SeedKey, ServiceKind};
use crate::outcome::exit_codes_help;
use crate::shard::Shard;
use crate::window::Backfill;

/// `--version`: the version and the commit it was built from.
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("DEVO_AWS_COMMIT"),
    ")"
);

/// Ships AWS security and operations data to Devo over mutual TLS, one bounded cycle per run.
#[derive(Debug, Parser)]
#[command(
    name = "devo-aws",
    version,
    long_version = LONG_VERSION,
    about,
    long_about = None,
    after_help = exit_codes_help()
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes, before or after its name.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The config file [default: config/config.yaml, or config/$CONFIG_FILE when set]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print each event with its tag to stdout; acknowledge nothing, write no state
    #[arg(long, global = true)]
    pub dry_run: bool,

    /// Pull even if the service's request_period_in_seconds has not passed
    #[arg(long, global = true)]
    pub force: bool,

    /// Stop receiving after N messages per service (1 or more; leave it out for no limit)
    #[arg(long, global = true, value_name = "N", value_parser = parse_max_messages, allow_hyphen_values = true)]
    pub max_messages: Option<u64>,

    /// The run's time budget: stop pulling then, deliver, acknowledge and exit (e.g. 90s, 4m)
    #[arg(long, global = true, value_name = "DURATION", default_value = "4m", value_parser = parse_deadline)]
    pub deadline: Duration,

    /// Backfill from TIME (RFC 3339, or a duration ago such as 2h) for this run only; saved
    /// cursors do not move. S3 services replay the window from their buckets (s3_buckets), not
    /// their queues; with check, says where a replay would list
    #[arg(long, global = true, value_name = "TIME", value_parser = parse_time, allow_hyphen_values = true)]
    pub start_time: Option<DateTime<Utc>>,

    /// Backfill up to TIME (RFC 3339, or a duration ago) [default: now]
    #[arg(long, global = true, value_name = "TIME", value_parser = parse_time, requires = "start_time", allow_hyphen_values = true)]
    pub end_time: Option<DateTime<Utc>>,

    /// Pull only this worker's share of the work, worker I of N (from 1): regions by their
    /// position in the config, CloudWatch Logs groups by a hash of their name
    #[arg(long, global = true, value_name = "I/N")]
    pub shard: Option<Shard>,

    /// Log format on stderr
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Write the run's Prometheus metrics to FILE (atomically), for node_exporter's textfile
    /// collector
    #[arg(long, global = true, value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,

    /// Push the run's Prometheus metrics to a Pushgateway at URL (grouped by job, input id and
    /// shard); a failed push is a warning
    #[arg(long, global = true, value_name = "URL")]
    pub pushgateway: Option<String>,

    /// Write the run's figures as JSON to FILE (- for standard output)
    #[arg(long, global = true, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// More log detail (-v info, -vv debug, -vvv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Errors only, no summary
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

impl GlobalArgs {
    /// A backfill window that ends where or before it starts: a usage mistake (nothing would
    /// be pulled), said instead of a run that quietly does nothing.
    pub fn empty_window(&self) -> Option<String> {
        match (self.start_time, self.end_time) {
            (Some(start), Some(end)) if end <= start => Some(format!(
                "--end-time {} is not after --start-time {}: the window would be empty (swap them?)",
                end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )),
            _ => None,
        }
    }

    /// `--start-time` and `--end-time` as the window they give, if given.
    pub fn backfill(&self) -> Option<Backfill> {
        self.start_time.map(|start| Backfill {
            start,
            end: self.end_time,
        })
    }

    /// A backfill that starts after `now`: refused like a config mistake, since every S3
    /// object announced before it would be acknowledged unread.
    pub fn start_in_future(&self, now: DateTime<Utc>) -> Option<String> {
        self.start_time.filter(|start| *start > now).map(|start| {
            format!(
                "--start-time {} is after now ({}): a backfill window must start in the past (check the year)",
                start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )
        })
    }
}

/// A run's budget: a bounded cycle, so longer than zero and at most a day.
fn parse_deadline(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d.is_zero() || d > MAX_DEADLINE {
        return Err("must be longer than zero and at most 24h".into());
    }
    Ok(d)
}

const MAX_DEADLINE: Duration = Duration::from_secs(24 * 3600);

/// The most messages `--max-messages` takes.
const MAX_MESSAGES: u64 = 100_000_000;

/// `--max-messages`: 1 to [`MAX_MESSAGES`]. 0 ("no limit" in many tools) would receive nothing
/// and still record the pull, so it is refused, as is a negative number.
fn parse_max_messages(s: &str) -> Result<u64, String> {
    match s.trim().parse::<i64>() {
        Ok(0) => Err(
            "0 would receive nothing (and the next run would be \"not due\"): leave --max-messages out for no limit".into(),
        ),
        Ok(n) if n < 0 => Err(format!(
            "{n} is not a number of messages: give 1 or more, or leave --max-messages out for no limit"
        )),
        Ok(n) if n.unsigned_abs() > MAX_MESSAGES => Err(format!(
            "{n} is more than {MAX_MESSAGES}: leave --max-messages out for no limit"
        )),
        Ok(n) => Ok(n.unsigned_abs()),
        Err(_) => Err(format!("expected a number of messages such as 1000, got {s:?}")),
    }
}

/// RFC 3339 (or a date and time without zone, taken as UTC), or a duration ago (`90m`, `2h`,
/// also written `-2h`).
fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    crate::window::parse_time_or_ago(s, Utc::now())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// CloudWatch Events / EventBridge events from SQS (service-events-all)
    Events,
    /// Security Hub findings from SQS (sqs-cloudwatch-consumer)
    Securityhub,
    /// CloudTrail events from the API or S3+SQS (audit-events-all)
    Audit,
    /// CloudWatch metrics (metrics-all)
    Metrics,
    /// VPC Flow Logs from S3+SQS (non-cloudwatch-logs, type flowlogs)
    Flowlogs,
    /// CloudFront standard logs from S3+SQS (non-cloudwatch-logs, type cloudfrontlogs)
    Cloudfront,
    /// CloudWatch Logs groups (custom_service, type logs)
    Logs,
    /// Logs AWS writes to S3, announced on SQS (non-cloudwatch-logs): ALB, ELB and NLB access
    /// logs, WAF, S3 server access, Route 53 Resolver, GuardDuty findings, Network Firewall, AWS
    /// Config, CloudWatch Logs through Firehose; VPC Flow Logs and CloudFront; a log archive of every kind on one queue; and the
    /// kinds the config defines
    S3logs {
        /// The types to pull: alblogs, elblogs, waflogs, s3accesslogs, route53logs,
        /// guarddutyfindings, networkfirewalllogs, configlogs, cloudwatchlogs, flowlogs,
        /// cloudfrontlogs, archive, or a kind the config defines [default: every type
        /// non-cloudwatch-logs lists]
        #[arg(value_name = "TYPE")]
        types: Vec<String>,
    },
    /// Every service the config defines, concurrently
    All,
    /// Check the config, credentials, queues, log groups and the Devo connection; pull nothing
    Check,
}

impl Command {
    /// The services a subcommand runs among `kinds` (every service there is with the config):
    /// every one for `all`, none for `check`.
    pub fn services(&self, kinds: &[ServiceKind]) -> Vec<ServiceKind> {
        use ServiceKind as K;
        match self {
            Self::Events => vec![K::EVENTS],
            Self::Securityhub => vec![K::SECURITY_HUB],
            Self::Audit => vec![K::AUDIT_S3, K::AUDIT_API],
            Self::Metrics => vec![K::METRICS],
            Self::Flowlogs => vec![K::FLOW_LOGS],
            Self::Cloudfront => vec![K::CLOUDFRONT],
            Self::Logs => vec![K::LOGS],
            Self::S3logs { types } => kinds
                .iter()
                .copied()
                .filter(|k| k.seed_key() == SeedKey::NonCloudwatchLogs)
                .filter(|k| {
                    types.is_empty()
                        || k.selected_by()
                            .is_some_and(|t| types.iter().any(|n| n == t))
                })
                .collect(),
            Self::All => kinds.to_vec(),
            Self::Check => Vec::new(),
        }
    }

    /// The TYPEs of `s3logs` that are no type there is with the config (`kinds`).
    pub fn unknown_types(&self, kinds: &[ServiceKind]) -> Vec<String> {
        let Self::S3logs { types } = self else {
            return Vec::new();
        };
        types
            .iter()
            .filter(|t| !kinds.iter().any(|k| k.selected_by() == Some(t.as_str())))
            .cloned()
            .collect()
    }
}

/// What `devo-aws generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generated {
    Man,
    Bash,
    Zsh,
    Fish,
}

/// The command line as parsed: [`Cli`] plus a hidden `generate WHAT` subcommand for
/// `make generate`. It is added here, not in [`Cli`], so the man page and completions made from
/// [`Cli`] do not mention it.
pub fn command_with_generate() -> clap::Command {
    use clap::CommandFactory;
    Cli::command().subcommand(
        clap::Command::new("generate")
            .hide(true)
            .about("Write the man page or a shell completion script to stdout")
            .arg(
                clap::Arg::new("what")
                    .required(true)
                    .value_parser(clap::value_parser!(Generated)),
            ),
    )
}

/// Writes the man page or a completion script, both made from the clap definitions above.
pub fn generate(what: Generated, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let mut cmd = Cli::command();
    let shell = match what {
        Generated::Man => return man_page(cmd, out),
        Generated::Bash => Shell::Bash,
        Generated::Zsh => Shell::Zsh,
        Generated::Fish => Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "devo-aws", &mut script);
    if shell == Shell::Bash {
        // clap_complete names the states of a hyphenated binary two ways (`devo__aws__subcmd__x`
        // when it reads the words, `devo__subcmd__aws__subcmd__x` in its case labels), so
        // nothing completes after a subcommand: one spelling for both.
        let text = String::from_utf8_lossy(&script).replace("devo__subcmd__aws", "devo__aws");
        script = text.into_bytes();
    }
    out.write_all(&script)
}

/// The man page: clap's sections, the subcommands listed here (they have no pages of their
/// own), then EXIT STATUS, ENVIRONMENT and FILES.
fn man_page(cmd: clap::Command, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use roff::{Roff, bold, roman};
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    let mut page = Roff::new();
    page.control("SH", ["SUBCOMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        page.control("TP", []);
        page.text([bold(sub.get_name().to_string())]);
        page.text([roman(
            sub.get_about().map(|a| a.to_string()).unwrap_or_default(),
        )]);
    }
    page.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in crate::outcome::EXIT_CODES {
        page.control("TP", []);
        page.text([bold(code.to_string())]);
        page.text([roman(meaning)]);
    }
    page.text([roman(
        "With all, the worst outcome wins (1 > 3 > 4 > 5 > 0).",
    )]);
    page.control("SH", ["ENVIRONMENT"]);
    for (name, meaning) in ENVIRONMENT {
        page.control("TP", []);
        page.text([bold(name)]);
        page.text([roman(meaning)]);
    }
    page.control("SH", ["FILES"]);
    for (name, meaning) in FILES {
        page.control("TP", []);
        page.text([bold(name)]);
        page.text([roman(meaning)]);
    }
    page.to_writer(out)
}

/// What the environment changes, for the man page.
const ENVIRONMENT: [(&str, &str); 7] = [
    (
        "CONFIG_FILE",
        "the config file's name under config/ when --config is not given",
    ),
    (
        "AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY",
        "the standard AWS chain, used when the config has no credentials block",
    ),
    (
        "AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>",
        "other AWS endpoints (an emulator, a VPC endpoint); S3 then uses path-style addressing",
    ),
    ("RUST_LOG", "log filter, overriding -v and -q"),
    (
        "DEVO_AWS_TRACE_AWS_BODIES",
        "1 lets the AWS SDK's request and response bodies into traces (they hold secrets)",
    ),
    ("NO_COLOR", "no colours in logs, even on a terminal"),
    (
        "DEVO_AWS_TEST_ENDPOINT",
        "the AWS emulator of the tests (make test sets it)",
    ),
];

/// The files a run reads and writes, for the man page.
const FILES: [(&str, &str); 4] = [
    (
        "config/config.yaml",
        "the config, in the layout of Devo's AWS collector (<product>/config/)",
    ),
    (
        "certs/",
        "chain.crt, the client certificate and its key (mode 600), unless the config gives absolute paths",
    ),
    (
        "state/<input>.<service>.json",
        "how far each service got, written atomically; .lock files keep two runs apart",
    ),
    (
        "s3://<bucket>/<prefix><input>.<service>/",
        "the same state in S3 (globals.persistence.type: s3)",
    ),
];

/// The config file: `--config`, else `config/$CONFIG_FILE`, else `config/config.yaml`.
pub fn config_path(explicit: Option<PathBuf>, config_file_env: Option<String>) -> PathBuf {
    explicit.unwrap_or_else(|| {
        let name = config_file_env
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "config.yaml".into());
        PathBuf::from("config").join(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
        command_with_generate().debug_assert();
    }

    #[test]
    fn global_options_go_before_or_after_the_subcommand() {
        let before =
            Cli::try_parse_from(["devo-aws", "--dry-run", "--deadline", "30s", "events"]).unwrap();
        let after =
            Cli::try_parse_from(["devo-aws", "events", "--dry-run", "--deadline", "30s"]).unwrap();
        for cli in [before, after] {
            assert!(cli.global.dry_run);
            assert_eq!(cli.global.deadline, Duration::from_secs(30));
            assert_eq!(cli.command, Command::Events);
        }
    }

    #[test]
    fn deadline_is_bounded_and_shard_checked() {
        for bad in ["0s", "25h", "500000000y", "soon"] {
            assert!(
                Cli::try_parse_from(["devo-aws", "events", "--deadline", bad]).is_err(),
                "{bad}"
            );
        }
        let cli = Cli::try_parse_from(["devo-aws", "all", "--deadline", "24h", "--shard", "3/4"])
            .unwrap();
        assert_eq!(cli.global.deadline, MAX_DEADLINE);
        assert_eq!(cli.global.shard.map(|s| s.to_string()), Some("3/4".into()));
        assert!(Cli::try_parse_from(["devo-aws", "all", "--shard", "5/4"]).is_err());
    }

    #[test]
    fn backfill_times_absolute_or_relative() {
        let cli = Cli::try_parse_from([
            "devo-aws",
            "logs",
            "--start-time",
            "2h",
            "--end-time",
            "2024-05-01T00:00:00Z",
        ])
        .unwrap();
        let start = cli.global.start_time.unwrap();
        assert!(
            (Utc::now() - start - chrono::Duration::hours(2))
                .num_seconds()
                .abs()
                < 5
        );
        assert_eq!(
            cli.global.end_time.unwrap().to_rfc3339(),
            "2024-05-01T00:00:00+00:00"
        );
        assert!(
            Cli::try_parse_from(["devo-aws", "logs", "--end-time", "1h"]).is_err(),
            "end without start"
        );
        assert!(Cli::try_parse_from(["devo-aws", "logs", "--start-time", "soon"]).is_err());
    }

    #[test]
    fn config_file_env_names_a_file_in_config_dir() {
        assert_eq!(config_path(None, None), PathBuf::from("config/config.yaml"));
        assert_eq!(
            config_path(None, Some("prod.yaml".into())),
            PathBuf::from("config/prod.yaml")
        );
        assert_eq!(
            config_path(Some("/etc/x.yaml".into()), Some("prod.yaml".into())),
            PathBuf::from("/etc/x.yaml")
        );
    }
}
