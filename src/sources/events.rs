//! `events` (service-events-all) and `securityhub` (sqs-cloudwatch-consumer): EventBridge events
//! from an SQS queue per region. Security Hub events are split into one event per finding.

use crate::config::{Pull, QueuePlan, ServicePlan};
use crate::cycle::{RunContext, Summary, run_service};
use crate::devo::frame::FrameBatch;
use crate::formats::FormatError;
use crate::formats::eventbridge::{AwsEvent, event_from_body, findings_from_body};
use crate::sources::TagRule;
use crate::sources::queue::{Incoming, MessageHandler, QueueJob, Rejection, consume};

/// Whether the service of `plan` splits Security Hub findings out of its events.
fn findings(plan: &ServicePlan) -> bool {
    matches!(plan.kind.row().pull, Pull::QueueFindings)
}

/// How the two EventBridge services tag their events.
fn tag_rule(plan: &ServicePlan) -> TagRule {
    if findings(plan) {
        TagRule::new("cloud.aws.securityhub.findings", None, plan.tags)
    } else {
        TagRule::new(
            "cloud.aws.cloudwatch.events",
            Some("cloud.aws.cloudwatch"),
            plan.tags,
        )
    }
}

/// Turns EventBridge messages into shipped events.
struct Handler<'a> {
    ctx: &'a RunContext,
    /// Security Hub: each finding an event.
    findings: bool,
    tags: TagRule,
}

impl Handler<'_> {
    fn parse(&self, body: &str) -> Result<Vec<AwsEvent>, FormatError> {
        if self.findings {
            findings_from_body(body)
        } else {
            event_from_body(body).map(|e| vec![e])
        }
    }
}

impl MessageHandler for Handler<'_> {
    fn frames(&self) -> bool {
        true
    }

    async fn frame(&self, message: Incoming<'_>, batch: &mut FrameBatch) -> Result<u64, Rejection> {
        let events = self
            .parse(message.body)
            .map_err(|e| Rejection::Poison(e.to_string()))?;
        for event in &events {
            let tag = self
                .tags
                .tag(event, message.region, &self.ctx.aws)
                .await
                .map_err(Rejection::Failed)?;
            batch.push(&tag, &event.message);
        }
        Ok(events.len() as u64)
    }
}

/// One cycle of `events` or `securityhub`.
pub async fn run(ctx: &RunContext, plan: &ServicePlan, queue: &QueuePlan) -> Summary {
    let handler = Handler {
        ctx,
        findings: findings(plan),
        tags: tag_rule(plan),
    };
    let job = QueueJob::new(plan, queue, &handler);
    run_service(ctx, plan, |counters, _state| async move {
        consume(ctx, &job, &counters).await
    })
    .await
}
