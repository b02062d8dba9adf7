//! `logs` (custom_service, types: [logs]): CloudWatch Logs groups, pulled by time.
//!
//! Per region, each configured group (a trailing `*` is a name prefix, expanded with
//! DescribeLogGroups) has its own cursor. FilterLogEvents reads [cursor, now − delay] across the
//! group's streams, all pages, in slices of an hour, paced under the API quota. `delay_seconds`
//! (default 120) is how late CloudWatch may ingest an event and still be collected. Events stamped
//! exactly at a cursor's end are remembered by id, so the next window can start there again
//! without shipping them twice.

use std::time::Duration;

use crate::aws::Aws;
use crate::config::{LogsPlan, ServiceKind, ServicePlan};
use crate::cycle::{Counters, RunContext, Summary, run_service};
use crate::devo::shipper::{Outbox, Shipped};
use crate::formats::firehose::{LogEventMessage, rfc3339_ms};
use crate::outcome::Failure;
use crate::sources::cursor::{CursorPlan, CursorPull, RegionPuller, SliceJob, each_puller};
use crate::sources::{TagRule, puller_account};
use crate::state::ServiceHandle;

const KIND: ServiceKind = ServiceKind::LOGS;
/// FilterLogEvents requests per second per account and region (the quota is 5).
const REQUESTS_PER_SECOND: u32 = 4;

/// The cursor of one log group in one region (and the name `--shard` deals out).
fn cursor_name(region: &str, group: &str) -> String {
    format!("{region}/{group}")
}

/// What `logs` takes from its config block, resolved before its cycle.
struct Plan {
    cursor: CursorPlan,
    /// `log_groups`: names, and prefixes ending in `*`.
    groups: Vec<String>,
    /// `late_events_seconds` (None: no late sweep).
    late_window: Option<Duration>,
}

impl Plan {
    fn resolve(plan: &ServicePlan, logs: &LogsPlan) -> Self {
        Self {
            cursor: CursorPlan::planned(plan, &logs.cursor),
            groups: logs.groups.clone(),
            late_window: logs.late_window,
        }
    }
}

/// One cycle of the service.
pub async fn run(ctx: &RunContext, service: &ServicePlan, logs: &LogsPlan) -> Summary {
    let plan = &Plan::resolve(service, logs);
    run_service(ctx, service, |counters, state| async move {
        let account = puller_account(&ctx.aws).await?.to_string();
        // Shards split log groups, not regions.
        let regions = (plan.cursor.regions.as_slice(), None);
        let client = (Aws::logs as fn(&Aws, &str) -> _, REQUESTS_PER_SECOND);
        each_puller(ctx, KIND, regions, &account, &counters, client, |at| {
            let puller = RegionLogs {
                at,
                plan,
                state: &state,
            };
            async move { puller.run().await }
        })
        .await
    })
    .await
}

struct RegionLogs<'a> {
    at: RegionPuller<'a, aws_sdk_cloudwatchlogs::Client>,
    plan: &'a Plan,
    state: &'a ServiceHandle,
}

impl RegionLogs<'_> {
    async fn run(&self) -> Result<(), Failure> {
        let groups = self.groups().await?;
        let mut worst: Option<Failure> = None;
        let shard = self.at.ctx.worker.shard;
        for group in groups {
            if shard.is_some_and(|s| !s.owns_name(&cursor_name(self.at.region, &group))) {
                continue;
            }
            // (A backfill goes on, to say where it stopped and how to resume.)
            if self.at.ctx.should_stop() && self.at.ctx.options.backfill.is_none() {
                break;
            }
            if let Err(f) = self.pull_group(&group).await {
                tracing::error!(message = "Log group failed.", region = %self.at.region, log_group = %group, error = %f);
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
        for name in &self.plan.groups {
            let Some(prefix) = name.strip_suffix('*') else {
                out.push(name.clone());
                continue;
            };
            let before = out.len();
            let mut pages = self
                .at
                .client
                .describe_log_groups()
                .log_group_name_prefix(prefix)
                .into_paginator()
                .send();
            let mut more = true;
            while let Some(page) = self
                .at
                .next_page(
                    &mut more,
                    || pages.next(),
                    "CloudWatch Logs DescribeLogGroups",
                )
                .await?
            {
                out.extend(
                    page.log_groups()
                        .iter()
                        .filter_map(|g| g.log_group_name().map(String::from)),
                );
            }
            if out.len() == before {
                self.matched_nothing(name);
            }
        }
        Ok(out)
    }

    /// A prefix that names no group (a typo such as `/aws/lamda/*`, or a group's ARN pasted
    /// from the console, whose `:*` ending reads as a prefix): said in every run, and in the
    /// summary, since the run is otherwise a quiet success with nothing in it.
    fn matched_nothing(&self, name: &str) {
        let region = self.at.region;
        let hint = name.starts_with("arn:").then_some(
            " (this is an ARN: log_groups takes names such as /aws/lambda/my-function, or a prefix ending in *)",
        );
        tracing::warn!(
            message = "No log group matches this prefix: nothing is pulled for it.",
            log_group = %name,
            region = %region,
            hint
        );
        self.at.counters.note(format!(
            "no log group in {region} matches {name}{}",
            hint.unwrap_or_default()
        ));
    }

    async fn pull_group(&self, group: &str) -> Result<(), Failure> {
        let latest = self.plan.cursor.latest_end(self.at.ctx);
        let pull = CursorPull {
            late_window: self.plan.late_window,
            ..CursorPull::new(self.at.ctx, self.state, self.at.counters, &self.plan.cursor)
        };
        pull.run(
            &cursor_name(self.at.region, group),
            latest,
            &self.at.pacer,
            |job| self.pull_slice(group, job),
        )
        .await
    }

    /// Reads one slice, all pages, and ships it (with the late sweep that goes with it); returns
    /// what was shipped and the ids of the events stamped exactly at the slice's end.
    async fn pull_slice(
        &self,
        group: &str,
        job: SliceJob,
    ) -> Result<(Shipped, Vec<String>), Failure> {
        let at = &self.at;
        let tag = TagRule {
            table: "cloud.aws.cloudwatch.logs",
            typed_family: None,
            from_event: false,
        }
        .tag_fields(None, None, None, at.account, at.region);
        let mut outbox: Outbox = Outbox::new(&at.ctx.shipper, &at.ctx.framing);
        if let Some(late) = job.late {
            let (start, end) = (
                late.events.start.timestamp_millis(),
                late.events.end.timestamp_millis() - 1,
            );
            if end >= start {
                let newly = |_: i64, _: &str, ingested: Option<i64>| {
                    ingested.is_some_and(|i| i > late.ingested_after && i <= job.ingested_until)
                };
                self.ship_range(group, (start, end), &tag, &mut outbox, &newly)
                    .await?;
            }
        }
        let (start, end) = (
            job.slice.start.timestamp_millis(),
            job.slice.end.timestamp_millis(),
        );
        let skip = &job.skip_ids;
        let this_run = |ts: i64, id: &str, ingested: Option<i64>| {
            !(ts == start && skip.iter().any(|s| s == id))
                && ingested.is_none_or(|i| i <= job.ingested_until)
        };
        let shipped = self
            .ship_range(group, (start, end), &tag, &mut outbox, &this_run)
            .await?;
        let ids_at_end = shipped
            .into_iter()
            .filter(|(ts, _)| *ts == end)
            .map(|(_, id)| id)
            .collect();
        Ok((outbox.finish().await, ids_at_end))
    }

    /// FilterLogEvents over [start, end] (ms, both included), all pages: ships the events
    /// `wanted` keeps (given timestamp, id, ingestion time); returns (timestamp, id) of those
    /// shipped at the range's end.
    async fn ship_range(
        &self,
        group: &str,
        (start_ms, end_ms): (i64, i64),
        tag: &str,
        outbox: &mut Outbox,
        wanted: &dyn Fn(i64, &str, Option<i64>) -> bool,
    ) -> Result<Vec<(i64, String)>, Failure> {
        let at = &self.at;
        let mut at_end = Vec::new();
        let mut pages = at
            .client
            .filter_log_events()
            .log_group_name(group)
            .start_time(start_ms)
            .end_time(end_ms)
            .into_paginator()
            .send();
        let what = format!("CloudWatch Logs FilterLogEvents {group}");
        let mut more = true;
        while let Some(page) = at.next_page(&mut more, || pages.next(), &what).await? {
            for e in page.events() {
                let (Some(ts), Some(id)) = (e.timestamp(), e.event_id()) else {
                    tracing::warn!(
                        message = "Log event without an id or a timestamp: skipped.",
                        log_group = %group,
                        region = %at.region,
                        event_id = e.event_id().unwrap_or("?")
                    );
                    Counters::add(&at.counters.failed, 1);
                    continue;
                };
                if !wanted(ts, id, e.ingestion_time()) {
                    continue;
                }
                if ts == end_ms {
                    at_end.push((ts, id.to_string()));
                }
                let (timestamp, ingested) = (
                    rfc3339_ms(ts).unwrap_or_default(),
                    e.ingestion_time().and_then(rfc3339_ms),
                );
                let message = LogEventMessage {
                    log_group: group,
                    log_stream: e.log_stream_name().unwrap_or_default(),
                    event_id: id,
                    timestamp: &timestamp,
                    ingestion_time: ingested.as_deref(),
                    message: e.message().unwrap_or_default(),
                    region: at.region,
                    account_id: at.account,
                };
                let mut json = String::new();
                message.write_json(&mut json);
                outbox.push(tag, &json).await;
            }
            at.stop_within_slice(more)?;
        }
        Ok(at_end)
    }
}
