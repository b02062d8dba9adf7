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
use crate::config::{LogGroupArn, LogsPlan, ServiceKind, ServicePlan};
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

/// A log group pulled: the account's own (by name), or a linked account's, read by its ARN
/// through CloudWatch cross-account observability.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    name: String,
    /// A linked account's group: its ARN (without `:*`) and its account.
    linked: Option<(String, String)>,
}

impl Group {
    fn own(name: &str) -> Self {
        Self {
            name: name.to_string(),
            linked: None,
        }
    }

    /// The cursor of the group in `region` (and the name `--shard` deals out): `region/name`,
    /// and `region/account/name` for a linked account's.
    fn cursor(&self, region: &str) -> String {
        match &self.linked {
            None => format!("{region}/{}", self.name),
            Some((_, account)) => format!("{region}/{account}/{}", self.name),
        }
    }

    /// The account its events are tagged with: the linked one, else the puller's.
    fn account<'a>(&'a self, puller: &'a str) -> &'a str {
        self.linked.as_ref().map_or(puller, |(_, account)| account)
    }
}

/// What `logs` takes from its config block, resolved before its cycle.
struct Plan {
    cursor: CursorPlan,
    /// `log_groups`: names, and prefixes ending in `*`.
    groups: Vec<String>,
    /// `late_events_seconds` (None: no late sweep).
    late_window: Option<Duration>,
    /// `include_linked_accounts`: prefixes name linked accounts' groups too.
    linked: bool,
}

impl Plan {
    fn resolve(plan: &ServicePlan, logs: &LogsPlan) -> Self {
        Self {
            cursor: CursorPlan::planned(plan, &logs.cursor),
            groups: logs.groups.clone(),
            late_window: logs.late_window,
            linked: logs.include_linked_accounts,
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
            if shard.is_some_and(|s| !s.owns_name(&group.cursor(self.at.region))) {
                continue;
            }
            // (A backfill goes on, to say where it stopped and how to resume.)
            if self.at.ctx.should_stop() && self.at.ctx.options.backfill.is_none() {
                break;
            }
            if let Err(f) = self.pull_group(&group).await {
                tracing::error!(message = "Log group failed.", region = %self.at.region, log_group = %group.name, account = group.linked.as_ref().map(|(_, a)| a.as_str()), error = %f);
                if worst.as_ref().is_none_or(|w| f.outcome > w.outcome) {
                    worst = Some(f);
                }
            }
        }
        worst.map_or(Ok(()), Err)
    }

    /// The configured groups, prefixes expanded (with `include_linked_accounts`, to linked
    /// accounts' groups too); a group given by its ARN is pulled in its own region only.
    async fn groups(&self) -> Result<Vec<Group>, Failure> {
        let mut out = Vec::new();
        for name in &self.plan.groups {
            if let Some(arn) = LogGroupArn::parse(name) {
                if arn.region == self.at.region {
                    out.push(self.group_of(&arn));
                }
                continue;
            }
            let Some(prefix) = name.strip_suffix('*') else {
                out.push(Group::own(name));
                continue;
            };
            let before = out.len();
            let mut pages = self
                .at
                .client
                .describe_log_groups()
                .log_group_name_prefix(prefix)
                .set_include_linked_accounts(self.plan.linked.then_some(true))
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
                for g in page.log_groups() {
                    let arn = g.log_group_arn().and_then(LogGroupArn::parse);
                    match (arn, g.log_group_name()) {
                        (Some(arn), _) if self.plan.linked => out.push(self.group_of(&arn)),
                        (_, Some(name)) => out.push(Group::own(name)),
                        _ => {}
                    }
                }
            }
            if out.len() == before {
                self.matched_nothing(name);
            }
        }
        // A group named twice (by its ARN and by a prefix) is pulled once.
        let mut seen = std::collections::HashSet::new();
        out.retain(|g| seen.insert(g.cursor(self.at.region)));
        Ok(out)
    }

    /// The group of `arn`: a linked account's, or the puller's own (by name).
    fn group_of(&self, arn: &LogGroupArn) -> Group {
        if arn.account == self.at.account {
            return Group::own(&arn.name);
        }
        Group {
            name: arn.name.clone(),
            linked: Some((arn.arn(), arn.account.clone())),
        }
    }

    /// A prefix that names no group (a typo such as `/aws/lamda/*`): said in every run, and in
    /// the summary, since the run is otherwise a quiet success with nothing in it.
    fn matched_nothing(&self, name: &str) {
        let region = self.at.region;
        tracing::warn!(
            message = "No log group matches this prefix: nothing is pulled for it.",
            log_group = %name,
            region = %region
        );
        self.at
            .counters
            .note(format!("no log group in {region} matches {name}"));
    }

    async fn pull_group(&self, group: &Group) -> Result<(), Failure> {
        let latest = self.plan.cursor.latest_end(self.at.ctx);
        let pull = CursorPull {
            late_window: self.plan.late_window,
            ..CursorPull::new(self.at.ctx, self.state, self.at.counters, &self.plan.cursor)
        };
        pull.run(
            &group.cursor(self.at.region),
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
        group: &Group,
        job: SliceJob,
    ) -> Result<(Shipped, Vec<String>), Failure> {
        let at = &self.at;
        let tag = TagRule {
            table: "cloud.aws.cloudwatch.logs",
            typed_family: None,
            from_event: false,
        }
        .tag_fields(None, None, None, group.account(at.account), at.region);
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
        group: &Group,
        (start_ms, end_ms): (i64, i64),
        tag: &str,
        outbox: &mut Outbox,
        wanted: &dyn Fn(i64, &str, Option<i64>) -> bool,
    ) -> Result<Vec<(i64, String)>, Failure> {
        let at = &self.at;
        let mut at_end = Vec::new();
        let request = at.client.filter_log_events();
        let request = match &group.linked {
            Some((arn, _)) => request.log_group_identifier(arn),
            None => request.log_group_name(&group.name),
        };
        let mut pages = request
            .start_time(start_ms)
            .end_time(end_ms)
            .into_paginator()
            .send();
        let what = format!("CloudWatch Logs FilterLogEvents {}", group.name);
        let mut more = true;
        while let Some(page) = at.next_page(&mut more, || pages.next(), &what).await? {
            for e in page.events() {
                let (Some(ts), Some(id)) = (e.timestamp(), e.event_id()) else {
                    tracing::warn!(
                        message = "Log event without an id or a timestamp: skipped.",
                        log_group = %group.name,
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
                    log_group: group.name.as_str(),
                    log_stream: e.log_stream_name().unwrap_or_default(),
                    event_id: id,
                    timestamp: &timestamp,
                    ingestion_time: ingested.as_deref(),
                    message: e.message().unwrap_or_default(),
                    region: at.region,
                    account_id: group.account(at.account),
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
