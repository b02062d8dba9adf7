//! The services, one file per subcommand, and what they share: the SQS consumer and the rule
//! that turns an event into its Devo tag.

pub mod audit;
pub mod cursor;
pub mod events;
pub mod held;
pub mod logs;
pub mod metrics;
pub mod objects;
pub mod partial;
pub mod queue;
pub mod replay;
pub mod trail;

use crate::aws::Aws;
use crate::config::{Pulls, ServicePlan, TagChoice};
use crate::cycle::{RunContext, Summary};
use std::future::Future;

use futures_util::{StreamExt, stream};

use crate::devo::tag::{event_type_level, tag};
use crate::formats::eventbridge::AwsEvent;
use crate::outcome::{Failure, Outcome};
use crate::shard::Shard;

/// One cycle of the service of `plan`: how each service of the registry runs.
pub async fn run(ctx: &RunContext, plan: &ServicePlan) -> Summary {
    match &plan.pulls {
        Pulls::Events { queue } => events::run(ctx, plan, queue).await,
        Pulls::Objects { queue, objects } => match ctx.options.backfill {
            Some(window) => replay::run(ctx, plan, objects, window).await,
            None => objects::run(ctx, plan, queue, objects).await,
        },
        Pulls::Audit(audit) => audit::run(ctx, plan, audit).await,
        Pulls::Metrics(metrics) => metrics::run(ctx, plan, metrics).await,
        Pulls::Logs(logs) => logs::run(ctx, plan, logs).await,
    }
}

/// How one service tags its events.
#[derive(Debug, Clone)]
pub struct TagRule {
    /// The table when events are not typed (`cloud.aws.cloudwatch.events`).
    pub table: &'static str,
    /// With `auto_event_type`, the table is this family plus the event's type
    /// (`cloud.aws.cloudwatch` + `ec2`).
    pub typed_family: Option<&'static str>,
    /// Take account and region from the event (`use_region_and_account_id_from_event`).
    pub from_event: bool,
}

impl TagRule {
    /// Events of `table`, typed under `typed_family` when the config asks for it (`auto_event_type`).
    pub fn new(table: &'static str, typed_family: Option<&'static str>, choice: TagChoice) -> Self {
        Self {
            table,
            typed_family: typed_family.filter(|_| choice.by_event_type),
            from_event: choice.from_event,
        }
    }

    /// `TABLE.ACCOUNT_ID.REGION` for `event`, pulled in `region`. The puller's account is looked
    /// up (once a run) only when the event does not carry one or is not to be trusted for it.
    pub async fn tag(&self, event: &AwsEvent, region: &str, aws: &Aws) -> Result<String, Failure> {
        let needs_puller = !self.from_event || event.account.is_none();
        let puller = if needs_puller {
            puller_account(aws).await?
        } else {
            ""
        };
        Ok(self.tag_fields(
            event.event_type.as_deref(),
            event.account.as_deref(),
            event.region.as_deref(),
            puller,
            region,
        ))
    }

    /// The tag from an event's own fields, falling back to the puller's account and the
    /// pulled region where the event has none or is not to be trusted for them.
    pub fn tag_fields(
        &self,
        event_type: Option<&str>,
        account: Option<&str>,
        region: Option<&str>,
        puller_account: &str,
        pulled_region: &str,
    ) -> String {
        let typed;
        let table = match self.typed_family {
            Some(family) => {
                typed = format!("{family}.{}", event_type_level(event_type.unwrap_or("")));
                typed.as_str()
            }
            None => self.table,
        };
        let (account, region) = if self.from_event {
            (account, region)
        } else {
            (None, None)
        };
        tag(
            table,
            account.unwrap_or(puller_account),
            region.unwrap_or(pulled_region),
        )
    }
}

/// The puller's account (STS, once a run), as a failure of the run when it cannot be had.
pub async fn puller_account(aws: &Aws) -> Result<&str, Failure> {
    aws.identity().await.map(|i| i.account.as_str())
}

/// Regions pulled at once per service.
pub const MAX_CONCURRENT_REGIONS: usize = 4;

/// Runs `pull` for every region (of this `--shard`'s share, when given), a bounded number at
/// once; a failing region does not stop the others. The failure returned (the worst outcome)
/// names every region that failed and why (the summary line says it).
pub async fn each_region<'a, F, Fut>(
    service: &str,
    regions: &'a [String],
    shard: Option<Shard>,
    pull: F,
) -> Result<(), Failure>
where
    F: Fn(&'a str) -> Fut,
    Fut: Future<Output = Result<(), Failure>>,
{
    let mine = regions
        .iter()
        .enumerate()
        .filter(|(position, _)| shard.is_none_or(|s| s.owns_position(*position)))
        .map(|(_, region)| region);
    let mut failed: Vec<(&str, Failure)> = stream::iter(mine)
        .map(|region| {
            let pulled = pull(region);
            async move { pulled.await.err().map(|f| (region.as_str(), f)) }
        })
        .buffer_unordered(MAX_CONCURRENT_REGIONS)
        .filter_map(std::future::ready)
        .collect()
        .await;
    if failed.is_empty() {
        return Ok(());
    }
    failed.sort_by(|a, b| a.0.cmp(b.0));
    // Each region's failure is said once, in the service's summary line (its note).
    tracing::debug!(message = "Regions failed.", service, count = failed.len());
    let outcome = failed
        .iter()
        .map(|(_, f)| f.outcome)
        .max()
        .unwrap_or(Outcome::Temporary);
    let reasons: Vec<String> = failed
        .iter()
        .map(|(region, f)| {
            if f.reason.contains(region) {
                f.reason.clone()
            } else {
                format!("{region}: {}", f.reason)
            }
        })
        .collect();
    Err(Failure::new(outcome, reasons.join("; ")))
}

/// Devo's word before anything is received (see [`crate::devo::shipper::Shipper::ready`]).
pub async fn devo_ready(ctx: &RunContext) -> Result<(), Failure> {
    ctx.shipper.ready().await.map_err(|e| e.failure())
}
