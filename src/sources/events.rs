//! `events` (service-events-all) and `securityhub` (sqs-cloudwatch-consumer): EventBridge events
//! from an SQS queue per region. Security Hub events are split into one event per finding.

use crate::config::Service;
use crate::cycle::{RunContext, Summary, run_service};
use crate::formats::FormatError;
use crate::formats::eventbridge::{AwsEvent, event_from_body, findings_from_body};
use crate::sources::TagRule;
use crate::sources::queue::{MessageParser, QueueJob, consume};

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

impl MessageParser for Kind {
    fn parse(&self, body: &str) -> Result<Vec<AwsEvent>, FormatError> {
        match self {
            Self::Events => event_from_body(body).map(|e| vec![e]),
            Self::SecurityHub => findings_from_body(body),
        }
    }
}

/// One cycle of the service.
pub async fn run(ctx: &RunContext, kind: Kind, svc: &Service) -> Summary {
    let tags = kind.tag_rule(svc);
    let job = QueueJob {
        service: kind.service_key(),
        queue_name: svc.cloudwatch_sqs_queue_name.as_deref().unwrap_or_default(),
        regions: svc.regions(),
        parser: &kind,
        tags: &tags,
    };
    run_service(
        ctx,
        kind.service_key(),
        svc.request_period_secs(),
        |counters| async move { consume(ctx, &job, &counters).await },
    )
    .await
}
