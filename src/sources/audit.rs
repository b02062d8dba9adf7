//! `audit` (audit-events-all): CloudTrail events.
//!
//! - `types: [audits_s3]` reads the trail's log files through the S3+SQS pipeline.
//! - `types: [audits_api]` pulls LookupEvents per region over [cursor, now − delay] (default delay
//!   900 s: CloudTrail makes events searchable within about 15 minutes), all pages, paced under
//!   its quota of 2 requests per second per account and region. LookupEvents works to the second;
//!   events stamped at a window's end are remembered by EventId so the next window, which starts
//!   there, does not ship them twice. The message is the event's `CloudTrailEvent`.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};

use crate::config::{Service, ServiceKind};
use crate::cycle::{Counters, RunContext, Summary, run_service};
use crate::devo::shipper::{Outbox, Shipped};
use crate::formats::cloudtrail::RecordFields;
use crate::formats::json::compact;
use crate::outcome::Failure;
use crate::sources::cursor::{CursorPull, Pacer};
use crate::sources::{TagRule, each_region, puller_account};
use crate::window::Window;

const KIND: ServiceKind = ServiceKind::AuditApi;
/// LookupEvents allows 2 requests per second per account and region.
const REQUESTS_PER_SECOND: u32 = 2;
const SLICE: Duration = Duration::from_secs(3600);

fn tag_rule(svc: &Service) -> TagRule {
    TagRule {
        table: "cloud.aws.cloudtrail.events",
        typed_family: svc.auto_event_type.then_some("cloud.aws.cloudtrail"),
        from_event: svc.use_region_and_account_id_from_event,
    }
}

/// One cycle of `audit` from the API (`types: [audits_api]`); `types: [audits_s3]` is the
/// S3+SQS pipeline's (`objects`).
pub async fn run(ctx: &RunContext, svc: &Service) -> Summary {
    run_service(ctx, KIND, svc, |counters, state| async move {
        let account = puller_account(&ctx.aws).await?.to_string();
        let drop: HashSet<&str> = svc.drop_event_names.iter().map(String::as_str).collect();
        let tags = tag_rule(svc);
        let delay = svc.delay(KIND.default_delay_secs());
        // LookupEvents works to the second: so do the windows.
        let latest =
            (Utc::now() - chrono::Duration::from_std(delay).unwrap_or_default()).trunc_subsecs(0);
        let pull = CursorPull {
            ctx,
            state: &state,
            counters: &counters,
            start_time: svc.start_time.map(|t| t.0.trunc_subsecs(0)),
            lookback: Duration::from_secs(svc.request_period_secs()),
            slice: SLICE,
            align: None,
        };
        each_region(KIND.name(), svc.regions(), ctx.worker.shard, |region| {
            let lookup = Lookup {
                ctx,
                region,
                account: &account,
                client: ctx.aws.cloudtrail(region),
                pacer: Pacer::per_second(REQUESTS_PER_SECOND),
                counters: &counters,
                tags: &tags,
                drop: &drop,
            };
            let pull = &pull;
            async move {
                pull.run(region, latest, &lookup.pacer, |slice, skip| {
                    lookup.slice(slice, skip)
                })
                .await
            }
        })
        .await
    })
    .await
}

struct Lookup<'a> {
    ctx: &'a RunContext,
    region: &'a str,
    account: &'a str,
    client: aws_sdk_cloudtrail::Client,
    pacer: Pacer,
    counters: &'a Counters,
    tags: &'a TagRule,
    drop: &'a HashSet<&'a str>,
}

fn smithy_time(t: DateTime<Utc>) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs(t.timestamp())
}

impl Lookup<'_> {
    /// All pages of one slice, shipped; returns the ids of the events stamped at its end.
    async fn slice(
        &self,
        slice: Window,
        skip_ids: Vec<String>,
    ) -> Result<(Shipped, Vec<String>), Failure> {
        let (start, end) = (slice.start.timestamp(), slice.end.timestamp());
        let mut outbox = Outbox::new(&self.ctx.shipper, &self.ctx.framing);
        let mut ids_at_end = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .pacer
                .paced(
                    self.client
                        .lookup_events()
                        .start_time(smithy_time(slice.start))
                        .end_time(smithy_time(slice.end))
                        .max_results(50)
                        .set_next_token(token)
                        .send(),
                )
                .await
                .map_err(|e| {
                    let what = format!("CloudTrail LookupEvents in {}", self.region);
                    self.ctx.aws.failure(&what, &e)
                })?;
            for event in page.events() {
                let (Some(id), Some(at), Some(raw)) = (
                    event.event_id(),
                    event.event_time(),
                    event.cloud_trail_event(),
                ) else {
                    continue;
                };
                let at = at.secs();
                if at < start || at > end || (at == start && skip_ids.iter().any(|s| s == id)) {
                    continue;
                }
                if at == end {
                    ids_at_end.push(id.to_string());
                }
                if event.event_name().is_some_and(|n| self.drop.contains(n)) {
                    Counters::add(&self.counters.dropped, 1);
                    continue;
                }
                let fields = match RecordFields::parse(raw) {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::warn!(message = "CloudTrail event skipped.", region = %self.region, event_id = %id, error = %e);
                        Counters::add(&self.counters.failed, 1);
                        continue;
                    }
                };
                let tag = self.tags.tag_fields(
                    fields.event_type().or(event
                        .event_source()
                        .map(|s| s.split('.').next().unwrap_or(s))),
                    fields.account.as_deref(),
                    fields.region.as_deref(),
                    self.account,
                    self.region,
                );
                outbox.push(&tag, &compact(raw)).await;
            }
            token = page.next_token;
            if token.is_none() {
                break;
            }
        }
        Ok((outbox.finish().await, ids_at_end))
    }
}
