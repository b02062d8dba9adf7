//! `logs` (custom_service, types: [logs]): CloudWatch Logs groups, pulled by time.
//!
//! Per region, each configured group (a trailing `*` is a name prefix, expanded with
//! DescribeLogGroups) has its own cursor. FilterLogEvents reads [cursor, now − delay] across the
//! group's streams, all pages, in slices of an hour, paced under the API quota. `delay_seconds`
//! (default 120) is how late CloudWatch may ingest an event and still be collected. Events stamped
//! exactly at a cursor's end are remembered by id, so the next window can start there again
//! without shipping them twice.

use std::sync::Arc;
use std::time::Duration;

use chrono::{SecondsFormat, TimeZone, Utc};
use serde::Serialize;

use crate::config::{Service, ServiceKind};
use crate::cycle::{Counters, RunContext, Summary, run_service};
use crate::devo::shipper::{Outbox, Shipped};
use crate::outcome::Failure;
use crate::sources::cursor::{CursorPull, Pacer};
use crate::sources::{TagRule, each_region, puller_account};
use crate::state::ServiceHandle;
use crate::window::Window;

const KIND: ServiceKind = ServiceKind::Logs;
/// FilterLogEvents requests per second per account and region (the quota is 5).
const REQUESTS_PER_SECOND: u32 = 4;
const SLICE: Duration = Duration::from_secs(3600);

/// One log event as shipped.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogEventMessage<'a> {
    log_group: &'a str,
    log_stream: &'a str,
    event_id: &'a str,
    timestamp: String,
    ingestion_time: Option<String>,
    message: &'a str,
    region: &'a str,
    account_id: &'a str,
}

fn rfc3339_ms(ms: i64) -> Option<String> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// The cursor of one log group in one region (and the name `--shard` deals out).
fn cursor_name(region: &str, group: &str) -> String {
    format!("{region}/{group}")
}

/// One cycle of the service.
pub async fn run(ctx: &RunContext, svc: &Service) -> Summary {
    run_service(ctx, KIND, svc, |counters, state| async move {
        let account = puller_account(&ctx.aws).await?.to_string();
        // Shards split log groups, not regions.
        each_region(KIND.name(), svc.regions(), None, |region| {
            let puller = RegionLogs {
                ctx,
                svc,
                region,
                account: &account,
                client: ctx.aws.logs(region),
                pacer: Pacer::per_second(REQUESTS_PER_SECOND),
                counters: counters.clone(),
                state: state.clone(),
            };
            async move { puller.run().await }
        })
        .await
    })
    .await
}

struct RegionLogs<'a> {
    ctx: &'a RunContext,
    svc: &'a Service,
    region: &'a str,
    account: &'a str,
    client: aws_sdk_cloudwatchlogs::Client,
    pacer: Pacer,
    counters: Arc<Counters>,
    state: Arc<ServiceHandle>,
}

impl RegionLogs<'_> {
    async fn run(&self) -> Result<(), Failure> {
        let groups = self.groups().await?;
        let mut worst: Option<Failure> = None;
        let shard = self.ctx.worker.shard;
        for group in groups {
            if shard.is_some_and(|s| !s.owns_name(&cursor_name(self.region, &group))) {
                continue;
            }
            if self.ctx.should_stop() {
                break;
            }
            if let Err(f) = self.pull_group(&group).await {
                tracing::error!(message = "Log group failed.", region = %self.region, log_group = %group, error = %f);
                if worst.as_ref().is_none_or(|w| f.outcome > w.outcome) {
                    worst = Some(f);
                }
            }
        }
        worst.map_or(Ok(()), Err)
    }

    /// The configured groups, prefixes expanded.
    async fn groups(&self) -> Result<Vec<String>, Failure> {
        let mut out = Vec::new();
        for name in self
            .svc
            .log_groups
            .as_ref()
            .map(|g| g.0.as_slice())
            .unwrap_or_default()
        {
            let Some(prefix) = name.strip_suffix('*') else {
                out.push(name.clone());
                continue;
            };
            let mut token = None;
            loop {
                let page = self
                    .pacer
                    .paced(
                        self.client
                            .describe_log_groups()
                            .log_group_name_prefix(prefix)
                            .set_next_token(token)
                            .send(),
                    )
                    .await
                    .map_err(|e| self.failure("DescribeLogGroups", prefix, &e))?;
                out.extend(
                    page.log_groups()
                        .iter()
                        .filter_map(|g| g.log_group_name().map(String::from)),
                );
                token = page.next_token;
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn failure<E, R>(
        &self,
        op: &str,
        group: &str,
        e: &aws_sdk_cloudwatchlogs::error::SdkError<E, R>,
    ) -> Failure
    where
        E: aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let what = format!("CloudWatch Logs {op} {group} in {}", self.region);
        self.ctx.aws.failure(&what, e)
    }

    async fn pull_group(&self, group: &str) -> Result<(), Failure> {
        let delay = self.svc.delay(KIND.default_delay_secs());
        let latest = Utc::now() - chrono::Duration::from_std(delay).unwrap_or_default();
        let pull = CursorPull {
            ctx: self.ctx,
            state: &self.state,
            counters: &self.counters,
            start_time: self.svc.start_time.map(|t| t.0),
            lookback: Duration::from_secs(self.svc.request_period_secs()),
            slice: SLICE,
            align: None,
        };
        pull.run(
            &cursor_name(self.region, group),
            latest,
            &self.pacer,
            |slice, skip| self.pull_slice(group, slice, skip),
        )
        .await
    }

    /// Reads one slice, all pages, and ships it; returns what was shipped and the ids of the
    /// events stamped exactly at the slice's end.
    async fn pull_slice(
        &self,
        group: &str,
        slice: Window,
        skip_ids: Vec<String>,
    ) -> Result<(Shipped, Vec<String>), Failure> {
        let (start_ms, end_ms) = (slice.start.timestamp_millis(), slice.end.timestamp_millis());
        let tags = TagRule {
            table: "cloud.aws.cloudwatch.logs",
            typed_family: None,
            from_event: false,
        };
        let tag = tags.tag_fields(None, None, None, self.account, self.region);
        let mut outbox = Outbox::new(&self.ctx.shipper, &self.ctx.framing);
        let mut ids_at_end = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .pacer
                .paced(
                    self.client
                        .filter_log_events()
                        .log_group_name(group)
                        .start_time(start_ms)
                        .end_time(end_ms)
                        .set_next_token(token)
                        .send(),
                )
                .await
                .map_err(|e| self.failure("FilterLogEvents", group, &e))?;
            for e in page.events() {
                let (Some(ts), Some(id)) = (e.timestamp(), e.event_id()) else {
                    continue;
                };
                if ts == start_ms && skip_ids.iter().any(|s| s == id) {
                    continue;
                }
                if ts == end_ms {
                    ids_at_end.push(id.to_string());
                }
                let message = LogEventMessage {
                    log_group: group,
                    log_stream: e.log_stream_name().unwrap_or_default(),
                    event_id: id,
                    timestamp: rfc3339_ms(ts).unwrap_or_default(),
                    ingestion_time: e.ingestion_time().and_then(rfc3339_ms),
                    message: e.message().unwrap_or_default(),
                    region: self.region,
                    account_id: self.account,
                };
                match serde_json::to_string(&message) {
                    Ok(json) => outbox.push(&tag, &json).await,
                    Err(err) => {
                        tracing::warn!(message = "Log event skipped.", log_group = %group, event_id = %id, error = %err)
                    }
                }
            }
            token = page.next_token;
            if token.is_none() {
                break;
            }
        }
        Ok((outbox.finish().await, ids_at_end))
    }
}
