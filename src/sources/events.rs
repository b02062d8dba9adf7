//! `events` (service-events-all) and `securityhub` (sqs-cloudwatch-consumer): EventBridge events
//! from an SQS queue per region. Security Hub events are split into one event per finding.

use crate::config::Service;
use crate::cycle::{RunContext, Summary, run_service};
use crate::devo::shipper::Shipped;
use crate::formats::FormatError;
use crate::formats::eventbridge::{AwsEvent, event_from_body, findings_from_body};
use crate::sources::TagRule;
use crate::sources::queue::{Incoming, MessageHandler, QueueJob, Rejection, consume};

/// Which of the two EventBridge services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Events,
    SecurityHub,
}

impl Kind {
    pub const fn service_key(self) -> &'static str {
        match self {
            Self::Events => "service-events-all",
            Self::SecurityHub => "sqs-cloudwatch-consumer",
        }
    }

    fn tag_rule(self, svc: &Service) -> TagRule {
        let (table, typed_family) = match self {
            Self::Events => (
                "cloud.aws.cloudwatch.events",
                svc.auto_event_type.then_some("cloud.aws.cloudwatch"),
            ),
            Self::SecurityHub => ("cloud.aws.securityhub.findings", None),
        };
        TagRule {
            table,
            typed_family,
            from_event: svc.use_region_and_account_id_from_event,
        }
    }
}

/// Turns EventBridge messages into shipped events.
struct Handler<'a> {
    ctx: &'a RunContext,
    kind: Kind,
    tags: TagRule,
}

impl Handler<'_> {
    fn parse(&self, body: &str) -> Result<Vec<AwsEvent>, FormatError> {
        match self.kind {
            Kind::Events => event_from_body(body).map(|e| vec![e]),
            Kind::SecurityHub => findings_from_body(body),
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

/// One cycle of the service.
pub async fn run(ctx: &RunContext, kind: Kind, svc: &Service) -> Summary {
    let handler = Handler {
        ctx,
        kind,
        tags: kind.tag_rule(svc),
    };
    let job = QueueJob {
        service: kind.service_key(),
        queue_name: svc.cloudwatch_sqs_queue_name.as_deref().unwrap_or_default(),
        regions: svc.regions(),
        handler: &handler,
    };
    run_service(
        ctx,
        kind.service_key(),
        svc.request_period_secs(),
        |counters, _state| async move { consume(ctx, &job, &counters).await },
    )
    .await
}
