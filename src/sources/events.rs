//! `events` (service-events-all) and `securityhub` (sqs-cloudwatch-consumer): EventBridge events
//! from an SQS queue per region. Security Hub events are split into one event per finding.

use crate::config::{Service, ServiceKind};
use crate::cycle::{RunContext, Summary, run_service};
use crate::devo::shipper::Shipped;
use crate::formats::FormatError;
use crate::formats::eventbridge::{AwsEvent, event_from_body, findings_from_body};
use crate::sources::TagRule;
use crate::sources::queue::{Incoming, MessageHandler, QueueJob, Rejection, consume};

/// How the two EventBridge services tag their events.
fn tag_rule(kind: ServiceKind, svc: &Service) -> TagRule {
    let (table, typed_family) = match kind {
        ServiceKind::SecurityHub => ("cloud.aws.securityhub.findings", None),
        _ => (
            "cloud.aws.cloudwatch.events",
            svc.auto_event_type.then_some("cloud.aws.cloudwatch"),
        ),
    };
    TagRule {
        table,
        typed_family,
        from_event: svc.use_region_and_account_id_from_event,
    }
}

/// Turns EventBridge messages into shipped events.
struct Handler<'a> {
    ctx: &'a RunContext,
    kind: ServiceKind,
    tags: TagRule,
}

impl Handler<'_> {
    fn parse(&self, body: &str) -> Result<Vec<AwsEvent>, FormatError> {
        match self.kind {
            ServiceKind::SecurityHub => findings_from_body(body),
            _ => event_from_body(body).map(|e| vec![e]),
        }
    }
}

impl MessageHandler for Handler<'_> {
    async fn handle(&self, message: Incoming<'_>) -> Result<Shipped, Rejection> {
        let events = self
            .parse(message.body)
            .map_err(|e| Rejection::Poison(e.to_string()))?;
        let mut batch = self.ctx.framing.batch();
        for event in &events {
            let tag = self
                .tags
                .tag(event, message.region, &self.ctx.aws)
                .await
                .map_err(Rejection::Failed)?;
            batch.push(&tag, &event.message);
        }
        Ok(self.ctx.shipper.ship_counted(batch).await)
    }
}

/// One cycle of `events` or `securityhub`.
pub async fn run(ctx: &RunContext, kind: ServiceKind, svc: &Service) -> Summary {
    let handler = Handler {
        ctx,
        kind,
        tags: tag_rule(kind, svc),
    };
    let job = QueueJob::new(kind, svc, &handler);
    run_service(ctx, kind, svc, |counters, _state| async move {
        consume(ctx, &job, &counters).await
    })
    .await
}
