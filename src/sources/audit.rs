//! `audit` (audit-events-all): CloudTrail events.
//!
//! - `types: [audits_s3]` reads the trail's log files through the S3+SQS pipeline.
//! - `types: [audits_api]` pulls LookupEvents per region over [cursor, now − delay] (default delay
//!   900 s: CloudTrail makes events searchable within about 15 minutes), all pages, paced under
//!   its quota of 2 requests per second per account and region. LookupEvents works to the second;
//!   events stamped at a window's end are remembered by EventId so the next window, which starts
//!   there, does not ship them twice. The message is the event's `CloudTrailEvent`.

use std::collections::HashSet;

use chrono::{DateTime, SubsecRound, Utc};

use crate::aws::Aws;
use crate::config::{AuditPlan, ServiceKind, ServicePlan};
use crate::cycle::{Counters, RunContext, Summary, run_service};
use crate::devo::shipper::{Outbox, Shipped};
use crate::formats::cloudtrail::RecordFields;
use crate::formats::json::compacted;
use crate::outcome::Failure;
use crate::sources::cursor::{CursorPlan, CursorPull, RegionPuller, each_puller};
use crate::sources::{TagRule, puller_account};
use crate::window::Window;

const KIND: ServiceKind = ServiceKind::AUDIT_API;
/// How far back LookupEvents reaches.
const LOOKUP_DAYS: i64 = 90;
/// LookupEvents allows 2 requests per second per account and region.
const REQUESTS_PER_SECOND: u32 = 2;

/// What `audit` from the API takes from its config block, resolved before its cycle.
struct Plan {
    cursor: CursorPlan,
    /// `drop_event_names`.
    drop: HashSet<String>,
    tags: TagRule,
}

impl Plan {
    fn resolve(plan: &ServicePlan, audit: &AuditPlan) -> Self {
        Self {
            cursor: CursorPlan::planned(plan, &audit.cursor),
            drop: audit.drop_event_names.clone(),
            tags: TagRule::new(
                "cloud.aws.cloudtrail.events",
                Some("cloud.aws.cloudtrail"),
                plan.tags,
            ),
        }
    }
}

/// One cycle of `audit` from the API (`types: [audits_api]`); `types: [audits_s3]` is the
/// S3+SQS pipeline's (`objects`).
pub async fn run(ctx: &RunContext, service: &ServicePlan, audit: &AuditPlan) -> Summary {
    let plan = &Plan::resolve(service, audit);
    run_service(ctx, service, |counters, state| async move {
        let account = puller_account(&ctx.aws).await?.to_string();
        // LookupEvents works to the second: so do the windows.
        let latest = plan.cursor.latest_end(ctx).trunc_subsecs(0);
        // LookupEvents keeps 90 days: an older start_time (1970-01-01, as the seed's
        // documentation shows) starts there.
        let horizon = (ctx.aws.now() - chrono::Duration::days(LOOKUP_DAYS)).trunc_subsecs(0);
        let pull = CursorPull {
            start_time: plan
                .cursor
                .start_time
                .map(|t| t.trunc_subsecs(0).max(horizon)),
            ..CursorPull::new(ctx, &state, &counters, &plan.cursor)
        };
        let regions = (plan.cursor.regions.as_slice(), ctx.worker.shard);
        let client = (Aws::cloudtrail as fn(&Aws, &str) -> _, REQUESTS_PER_SECOND);
        each_puller(ctx, KIND, regions, &account, &counters, client, |at| {
            let (lookup, pull) = (Lookup { at, plan }, &pull);
            async move { lookup.run(pull, latest).await }
        })
        .await
    })
    .await
}

struct Lookup<'a> {
    at: RegionPuller<'a, aws_sdk_cloudtrail::Client>,
    plan: &'a Plan,
}

fn smithy_time(t: DateTime<Utc>) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs(t.timestamp())
}

impl Lookup<'_> {
    /// The region's cursor, up to `latest`.
    async fn run(&self, pull: &CursorPull<'_>, latest: DateTime<Utc>) -> Result<(), Failure> {
        pull.run(self.at.region, latest, &self.at.pacer, |job| {
            self.slice(job.slice, job.skip_ids)
        })
        .await
    }

    /// All pages of one slice, shipped; returns the ids of the events stamped at its end.
    async fn slice(
        &self,
        slice: Window,
        skip_ids: Vec<String>,
    ) -> Result<(Shipped, Vec<String>), Failure> {
        let at = &self.at;
        let (start, end) = (slice.start.timestamp(), slice.end.timestamp());
        let mut outbox: Outbox = Outbox::new(&at.ctx.shipper, &at.ctx.framing);
        let mut ids_at_end = Vec::new();
        let mut pages = at
            .client
            .lookup_events()
            .start_time(smithy_time(slice.start))
            .end_time(smithy_time(slice.end))
            .max_results(50)
            .into_paginator()
            .send();
        let mut more = true;
        while let Some(page) = at
            .next_page(&mut more, || pages.next(), "CloudTrail LookupEvents")
            .await?
        {
            for event in page.events() {
                let (Some(id), Some(time), Some(raw)) = (
                    event.event_id(),
                    event.event_time(),
                    event.cloud_trail_event(),
                ) else {
                    tracing::warn!(
                        message = "CloudTrail event without an id, a time or its record: skipped.",
                        region = %at.region,
                        event_id = event.event_id().unwrap_or("?")
                    );
                    Counters::add(&at.counters.failed, 1);
                    continue;
                };
                let time = time.secs();
                if time < start || time > end || (time == start && skip_ids.iter().any(|s| s == id))
                {
                    continue;
                }
                if time == end {
                    ids_at_end.push(id.to_string());
                }
                if event
                    .event_name()
                    .is_some_and(|n| self.plan.drop.contains(n))
                {
                    Counters::add(&at.counters.dropped, 1);
                    continue;
                }
                let (fields, is_compact) = match RecordFields::parse(raw) {
                    Ok(parsed) => parsed,
                    Err(e) => {
                        tracing::warn!(message = "CloudTrail event skipped.", region = %at.region, event_id = %id, error = %e);
                        Counters::add(&at.counters.failed, 1);
                        continue;
                    }
                };
                let tag = self.plan.tags.tag_fields(
                    fields.event_type().or(event
                        .event_source()
                        .map(|s| s.split('.').next().unwrap_or(s))),
                    fields.account.as_deref(),
                    fields.region.as_deref(),
                    at.account,
                    at.region,
                );
                outbox.push(&tag, &compacted(raw, is_compact)).await;
            }
            at.stop_within_slice(more)?;
        }
        Ok((outbox.finish().await, ids_at_end))
    }
}
