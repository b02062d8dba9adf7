//! `audit` (audit-events-all): CloudTrail events. `types: [audits_s3]` reads the trail's log
//! files through the S3+SQS pipeline.

use crate::config::Service;
use crate::cycle::{Outcome, RunContext, Summary};
use crate::sources::objects::{self, ObjectFormat};

/// One cycle of each configured audit type; the worst outcome is the service's.
pub async fn run(ctx: &RunContext, svc: &Service) -> Vec<Summary> {
    let mut summaries = Vec::new();
    if svc.has_type("audits_s3") {
        summaries.push(objects::run(ctx, ObjectFormat::CloudTrail, svc).await);
    }
    if svc.has_type("audits_api") {
        let note = "audit types: [audits_api] is not available in this version yet";
        tracing::error!("{note}");
        summaries.push(Summary::not_run(
            "audit-events-all.api",
            Outcome::Internal,
            note,
        ));
    }
    summaries
}
