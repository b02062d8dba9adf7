//! What a run tells those who watch it: Prometheus metrics (a file for node_exporter's textfile
//! collector, a push to a Pushgateway) and a JSON report, from the services' summaries, the AWS
//! calls and the shipper's figures. None of it changes what was delivered or the exit code.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use prometheus::{Encoder, GaugeVec, IntCounterVec, Opts, Registry, TextEncoder};
use serde_json::json;

use crate::aws::OperationFigures;
use crate::bill::{Bill, Unit, list_prices};
use crate::cycle::Summary;
use crate::devo::shipper::ShipperStats;
use crate::outcome::Outcome;
use crate::shard::Shard;

/// Everything a run reports.
pub struct RunFigures<'a> {
    pub input: &'a str,
    pub shard: Option<Shard>,
    pub summaries: &'a [Summary],
    pub operations: &'a BTreeMap<String, OperationFigures>,
    /// The units AWS bills for the run's requests, and the prices that override the list ones.
    pub bill: &'a Bill,
    pub prices: &'a BTreeMap<String, f64>,
    pub devo: ShipperStats,
    pub outcome: Outcome,
    pub started: DateTime<Utc>,
    pub seconds: f64,
    /// A dry run acknowledged nothing: it is no success to report.
    pub dry_run: bool,
}

/// How long a push may take.
const PUSH_TIMEOUT_SECS: u64 = 10;

/// The counters of each service, in the order of its summary's figures.
const SERVICE_COUNTERS: [(&str, &str); 8] = [
    (
        "devo_aws_messages_total",
        "SQS messages received in the run.",
    ),
    ("devo_aws_objects_total", "S3 objects read in the run."),
    (
        "devo_aws_skipped_objects_total",
        "S3 objects announced but not read.",
    ),
    (
        "devo_aws_events_total",
        "Events delivered to Devo in the run.",
    ),
    (
        "devo_aws_dropped_events_total",
        "Events dropped by drop_event_names.",
    ),
    (
        "devo_aws_failed_total",
        "Messages, objects, records or lines that could not be understood.",
    ),
    ("devo_aws_bytes_total", "Bytes framed for Devo in the run."),
    (
        "devo_aws_discarded_messages_total",
        "Messages that could not be understood, deleted after max_receive_count receives.",
    ),
];

/// The gauges of each service: cursors held by another worker, seconds, exit code, last success.
const SERVICE_GAUGES: [(&str, &str); 4] = [
    ("devo_aws_held_cursors", "Cursors leased by another worker."),
    (
        "devo_aws_service_duration_seconds",
        "Seconds the service took.",
    ),
    (
        "devo_aws_service_exit_code",
        "The service's outcome as an exit code (0 is done).",
    ),
    (
        "devo_aws_last_success_timestamp_seconds",
        "When the service last ended well (start of the run, Unix time).",
    ),
];

impl RunFigures<'_> {
    /// The metrics in Prometheus' text format (0.0.4).
    pub fn prometheus_text(&self) -> Result<String, prometheus::Error> {
        let registry = Registry::new();
        self.service_metrics(&registry)?;
        self.run_metrics(&registry)?;
        let mut out = Vec::new();
        TextEncoder::new().encode(&registry.gather(), &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Each service's figures, its backlog and its cursors' lag.
    fn service_metrics(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        let counters: Vec<IntCounterVec> = SERVICE_COUNTERS
            .iter()
            .map(|(name, help)| counter(registry, name, help, &["service"]))
            .collect::<Result<_, _>>()?;
        let [held, duration, exit_code, last_success] =
            SERVICE_GAUGES.map(|(name, help)| gauge(registry, name, help, &["service"]));
        let (held, duration, exit_code, last_success) =
            (held?, duration?, exit_code?, last_success?);
        for s in self.summaries {
            let name = s.kind.name();
            let c = &s.counters;
            let values = [
                &c.messages,
                &c.objects,
                &c.skipped,
                &c.events,
                &c.dropped,
                &c.failed,
                &c.bytes,
                &c.discarded,
            ];
            for (counter, value) in counters.iter().zip(values) {
                counter
                    .with_label_values(&[name])
                    .inc_by(value.load(Ordering::Relaxed));
            }
            held.with_label_values(&[name])
                .set(c.held.load(Ordering::Relaxed) as f64);
            duration.with_label_values(&[name]).set(s.seconds);
            exit_code
                .with_label_values(&[name])
                .set(f64::from(s.outcome.exit_code()));
            // A trail found not whole was still delivered: its own alert says so.
            if matches!(s.outcome, Outcome::Done | Outcome::Integrity) && !self.dry_run {
                last_success
                    .with_label_values(&[name])
                    .set(self.started.timestamp() as f64);
            }
        }
        self.backlog_and_lag(registry)
    }

    /// Each queue's backlog, how far behind now each cursor's delivered data ends, and what the
    /// CloudTrail digests said.
    fn backlog_and_lag(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        let backlog = gauge(
            registry,
            "devo_aws_queue_backlog_messages",
            "Messages waiting in the queue when the run opened it.",
            &["service", "region"],
        )?;
        let lag = gauge(
            registry,
            "devo_aws_lag_seconds",
            "How far behind now a cursor's delivered data ends.",
            &["service", "cursor"],
        )?;
        let now = Utc::now();
        let digests = counter(
            registry,
            "devo_aws_cloudtrail_digests_total",
            "CloudTrail digests checked, and those whose signature or chain does not hold.",
            &["service", "verdict"],
        )?;
        let files = counter(
            registry,
            "devo_aws_cloudtrail_digest_files_total",
            "CloudTrail log files by what the digests said of them: same (shipped as listed), unhashed (shipped before the trail's digests were seen), altered, missing (listed, never shipped), unlisted (shipped, named by no digest), found (shipped after a digest called it missing).",
            &["service", "verdict"],
        )?;
        for s in self.summaries {
            let (name, c) = (s.kind.name(), &s.counters);
            if let Some(figures) = c.digests.said() {
                for (verdict, n) in figures {
                    let family = if matches!(verdict, "checked" | "unverified") {
                        &digests
                    } else {
                        &files
                    };
                    family.with_label_values(&[name, verdict]).inc_by(n);
                }
            }
            for (region, waiting) in crate::lock(&c.backlog).iter() {
                backlog
                    .with_label_values(&[name, region])
                    .set(*waiting as f64);
            }
            for (cursor, until) in crate::lock(&c.cursors).iter() {
                lag.with_label_values(&[name, cursor])
                    .set(lag_seconds(now, *until));
            }
        }
        Ok(())
    }

    /// The AWS requests by operation, then the rest of the run's own figures.
    fn run_metrics(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        let counter =
            |name: &str, help: &str, labels: &[&str]| counter(registry, name, help, labels);
        let requests = counter(
            "devo_aws_aws_requests_total",
            "AWS requests made (each attempt), by operation.",
            &["operation"],
        )?;
        let retries = counter(
            "devo_aws_aws_retries_total",
            "AWS requests that were retries of an earlier attempt.",
            &["operation"],
        )?;
        let throttles = counter(
            "devo_aws_aws_throttles_total",
            "AWS requests answered with throttling.",
            &["operation"],
        )?;
        let answered = counter(
            "devo_aws_aws_response_bytes_total",
            "Bytes of AWS's answers (for S3.GetObject, the objects read).",
            &["operation"],
        )?;
        for (operation, f) in self.operations {
            requests.with_label_values(&[operation]).inc_by(f.attempts);
            answered.with_label_values(&[operation]).inc_by(f.bytes);
            retries.with_label_values(&[operation]).inc_by(f.retries);
            throttles
                .with_label_values(&[operation])
                .inc_by(f.throttled);
        }
        self.devo_and_bill_metrics(registry)
    }

    /// The delivery to Devo, what AWS bills, and the run itself.
    fn devo_and_bill_metrics(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        let counter =
            |name: &str, help: &str, labels: &[&str]| counter(registry, name, help, labels);
        let gauge = |name: &str, help: &str, labels: &[&str]| gauge(registry, name, help, labels);
        let devo = [
            (
                "devo_aws_devo_epochs_total",
                "Delivery epochs Devo acknowledged with a clean close.",
                self.devo.epochs,
            ),
            (
                "devo_aws_devo_connections_total",
                "TLS connections opened to Devo.",
                self.devo.connections,
            ),
            (
                "devo_aws_devo_replays_total",
                "Epochs written again after a close that was not clean.",
                self.devo.replays,
            ),
            (
                "devo_aws_devo_bytes_total",
                "Bytes Devo acknowledged.",
                self.devo.bytes_delivered,
            ),
        ];
        for (name, help, value) in devo {
            counter(name, help, &[])?
                .with_label_values::<&str>(&[])
                .inc_by(value);
        }
        let billed = counter(
            "devo_aws_aws_billed_units_total",
            "Units AWS bills for the run's requests (SQS requests per 64 KB, S3 GET and LIST requests, CloudWatch metrics requested and API requests).",
            &["unit"],
        )?;
        for unit in Unit::ALL {
            let n = self.bill.units.get(&unit).copied().unwrap_or(0);
            billed.with_label_values(&[unit.name()]).inc_by(n);
        }
        gauge(
            "devo_aws_aws_estimated_cost_usd",
            "What the run's AWS requests cost, estimated at us-east-1 list prices (or prices_usd_per_million).",
            &[],
        )?
        .with_label_values::<&str>(&[])
        .set(self.bill.usd(self.prices));
        let run = gauge("devo_aws_run_exit_code", "The run's exit code.", &[])?;
        run.with_label_values::<&str>(&[])
            .set(f64::from(self.outcome.exit_code()));
        let took = gauge(
            "devo_aws_run_duration_seconds",
            "Seconds the run took.",
            &[],
        )?;
        took.with_label_values::<&str>(&[]).set(self.seconds);
        Ok(())
    }

    /// The same figures as JSON.
    pub fn json(&self) -> serde_json::Value {
        let now = Utc::now();
        let services: Vec<serde_json::Value> = self
            .summaries
            .iter()
            .map(|s| {
                let c = &s.counters;
                let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
                let lag: BTreeMap<String, f64> = crate::lock(&c.cursors)
                    .iter()
                    .map(|(k, until)| (k.clone(), lag_seconds(now, *until)))
                    .collect();
                json!({
                    "service": s.kind.name(),
                    "status": s.outcome.status(),
                    "exit_code": s.outcome.exit_code(),
                    "messages": get(&c.messages),
                    "objects": get(&c.objects),
                    "skipped": get(&c.skipped),
                    "held": get(&c.held),
                    "events": get(&c.events),
                    "dropped": get(&c.dropped),
                    "failed": get(&c.failed),
                    "bytes": get(&c.bytes),
                    "discarded": get(&c.discarded),
                    "seconds": s.seconds,
                    "note": s.note,
                    "backlog": *crate::lock(&c.backlog),
                    "cloudtrail_digests": c.digests.said().map(|figures| {
                        figures.iter().map(|(k, n)| ((*k).to_string(), json!(n))).collect::<serde_json::Map<_, _>>()
                    }),
                    "lag_seconds": lag,
                })
            })
            .collect();
        json!({
            "input": self.input,
            "shard": self.shard.map(|s| s.to_string()),
            "started": self.started.to_rfc3339(),
            "seconds": self.seconds,
            "exit_code": self.outcome.exit_code(),
            "dry_run": self.dry_run,
            "services": services,
            "aws_requests": self
                .operations
                .iter()
                .map(|(op, f)| (op.clone(), json!({"attempts": f.attempts, "retries": f.retries, "throttled": f.throttled, "bytes": f.bytes})))
                .collect::<serde_json::Map<_, _>>(),
            "aws_bill": {
                "units": self
                    .bill
                    .units
                    .iter()
                    .map(|(u, n)| (u.name().to_string(), json!(n)))
                    .collect::<serde_json::Map<_, _>>(),
                "estimated_usd": self.bill.usd(self.prices),
                "prices": list_prices(),
                "prices_overridden": self.prices,
            },
            "devo": {
                "epochs": self.devo.epochs,
                "connections": self.devo.connections,
                "replays": self.devo.replays,
                "events": self.devo.events_delivered,
                "bytes": self.devo.bytes_delivered,
                "slow_reads": self.devo.slow_reads.map(|s| serde_json::json!({
                    "read_bytes_per_sec": s.bytes_per_sec,
                    "epochs_cut_to_bytes": s.epoch_bytes,
                    "closes_timed_out": s.timeouts,
                })),
            },
        })
    }

    /// The Pushgateway group of this run: job, input id and shard, so that workers do not
    /// overwrite each other; and `DEVO_AWS_WORKER` when set (workers that share the queues
    /// without `--shard`, such as the pods of an indexed Kubernetes Job).
    pub fn push_path(&self) -> String {
        let shard = self
            .shard
            .map_or_else(|| "all".to_string(), |s| s.to_string().replace('/', "-of-"));
        let mut path = format!("/metrics/job/devo-aws/input/{}/shard/{shard}", self.input);
        if let Ok(worker) = std::env::var("DEVO_AWS_WORKER")
            && !worker.is_empty()
            && worker
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            path.push_str(&format!("/worker/{worker}"));
        }
        path
    }
}

/// How far behind `now` a cursor's delivered data ends, in seconds.
fn lag_seconds(now: DateTime<Utc>, until: DateTime<Utc>) -> f64 {
    ((now - until).num_milliseconds() as f64 / 1000.0).max(0.0)
}

/// A counter family, registered.
fn counter(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

/// A gauge family, registered.
fn gauge(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<GaugeVec, prometheus::Error> {
    let g = GaugeVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

/// POSTs `text` to the Pushgateway at `base` under `path` (POST keeps the group's other metrics,
/// such as the last success of a service that failed this time).
pub async fn push(base: &str, path: &str, text: String) -> Result<(), String> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let sent = tokio::task::spawn_blocking(move || {
        let tls = ureq::tls::TlsConfig::builder()
            .unversioned_rustls_crypto_provider(std::sync::Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_secs(PUSH_TIMEOUT_SECS)))
            .tls_config(tls)
            .build()
            .into();
        agent
            .post(&url)
            .header("Content-Type", "text/plain; version=0.0.4")
            .send(text.as_bytes())
            .map(|_| ())
            .map_err(|e| format!("{url}: {e}"))
    })
    .await;
    sent.map_err(|e| e.to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An https Pushgateway is reached with the crypto provider devo-aws gives ureq (none of
    /// ureq's own is built): a server that closes the connection during the handshake is an
    /// error naming the URL, not a panic for want of a provider.
    #[tokio::test]
    async fn an_https_push_uses_our_crypto_provider() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((stream, _)) = listener.accept() {
                drop(stream);
            }
        });
        let base = format!("https://127.0.0.1:{port}");
        let err = push(&base, "/metrics/job/devo_aws", "a 1\n".into())
            .await
            .unwrap_err();
        assert!(err.starts_with(&base), "{err}");
        assert!(
            !err.contains("panic") && !err.contains("CryptoProvider"),
            "{err}"
        );
    }
}
