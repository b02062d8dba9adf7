//! The registry of services: what the seed's config calls each one, how it is selected, what it
//! is called in state and summaries, which queue it reads, and its own defaults. Validation,
//! `run`, `check` and the command line all iterate over [`ServiceKind::ALL`]; adding a service
//! starts here.

use super::model::{LineOutput, Service, ServiceType, Services};

/// The seed's service keys under `inputs.aws.services`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedKey {
    EventsAll,
    CloudwatchConsumer,
    AuditEventsAll,
    MetricsAll,
    NonCloudwatchLogs,
    CustomService,
}

impl SeedKey {
    pub const ALL: [Self; 6] = [
        Self::EventsAll,
        Self::CloudwatchConsumer,
        Self::AuditEventsAll,
        Self::MetricsAll,
        Self::NonCloudwatchLogs,
        Self::CustomService,
    ];

    /// As written in `config.yaml`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EventsAll => "service-events-all",
            Self::CloudwatchConsumer => "sqs-cloudwatch-consumer",
            Self::AuditEventsAll => "audit-events-all",
            Self::MetricsAll => "metrics-all",
            Self::NonCloudwatchLogs => "non-cloudwatch-logs",
            Self::CustomService => "custom_service",
        }
    }

    /// The `types` of this block when it lists none: those whose queue is named, else those
    /// that need no queue.
    pub fn default_types(self, svc: &Service) -> Vec<ServiceType> {
        let kinds = || {
            ServiceKind::ALL
                .into_iter()
                .filter(move |k| k.seed_key() == self && k.selected_by().is_some())
        };
        let with_queue: Vec<ServiceType> = kinds()
            .filter(|k| k.queue(svc).is_some())
            .filter_map(ServiceKind::selected_by)
            .collect();
        if !with_queue.is_empty() {
            return with_queue;
        }
        kinds()
            .filter(|k| k.queue_key().is_none())
            .filter_map(ServiceKind::selected_by)
            .collect()
    }

    /// Whether this block reads `key` (one of a service block's own keys: the keys every block
    /// takes, such as `regions`, are not asked about).
    pub fn reads(self, key: &str) -> bool {
        let kinds = || {
            ServiceKind::ALL
                .into_iter()
                .filter(|k| k.seed_key() == self)
        };
        match key {
            "types" => !self.allowed_types().is_empty(),
            "drop_event_names" => self == Self::AuditEventsAll,
            "s3_file_type_filter" => {
                kinds().any(|k| k.queue_key().is_some() && k.selected_by().is_some())
            }
            "namespaces" | "statistics" | "period_seconds" => self == Self::MetricsAll,
            "delay_seconds" => kinds().any(|k| k.queue_key().is_none()),
            "format" => self == Self::NonCloudwatchLogs,
            "log_groups" | "late_events_seconds" => self == Self::CustomService,
            queue => kinds().any(|k| k.queue_key() == Some(queue)),
        }
    }

    /// The `types` this block may list (none: the block has no `types`).
    pub fn allowed_types(self) -> Vec<ServiceType> {
        ServiceKind::ALL
            .iter()
            .filter(|k| k.seed_key() == self)
            .filter_map(|k| k.selected_by())
            .collect()
    }
}

/// Every service devo-aws runs, one per summary line, in the order `all` runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// EventBridge events from SQS.
    Events,
    /// Security Hub findings from SQS.
    SecurityHub,
    /// CloudTrail log files from S3, announced on SQS.
    AuditS3,
    /// CloudTrail LookupEvents.
    AuditApi,
    /// CloudWatch metrics (ListMetrics, GetMetricData).
    Metrics,
    /// VPC Flow Logs from S3, announced on SQS.
    FlowLogs,
    /// CloudFront standard logs from S3, announced on SQS.
    CloudFront,
    /// CloudWatch Logs groups.
    Logs,
}

/// How `devo-aws check` proves a service reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The queue it consumes.
    Queue,
    CloudTrailApi,
    CloudWatchMetrics,
    LogGroups,
}

impl ServiceKind {
    pub const ALL: [Self; 8] = [
        Self::Events,
        Self::SecurityHub,
        Self::AuditS3,
        Self::AuditApi,
        Self::Metrics,
        Self::FlowLogs,
        Self::CloudFront,
        Self::Logs,
    ];

    /// The config block it reads.
    pub const fn seed_key(self) -> SeedKey {
        match self {
            Self::Events => SeedKey::EventsAll,
            Self::SecurityHub => SeedKey::CloudwatchConsumer,
            Self::AuditS3 | Self::AuditApi => SeedKey::AuditEventsAll,
            Self::Metrics => SeedKey::MetricsAll,
            Self::FlowLogs | Self::CloudFront => SeedKey::NonCloudwatchLogs,
            Self::Logs => SeedKey::CustomService,
        }
    }

    /// The value of `types` that selects it in its block, for blocks with `types`.
    pub const fn selected_by(self) -> Option<ServiceType> {
        match self {
            Self::Events | Self::SecurityHub | Self::Metrics => None,
            Self::AuditS3 => Some(ServiceType::AuditsS3),
            Self::AuditApi => Some(ServiceType::AuditsApi),
            Self::FlowLogs => Some(ServiceType::FlowLogs),
            Self::CloudFront => Some(ServiceType::CloudFrontLogs),
            Self::Logs => Some(ServiceType::Logs),
        }
    }

    /// Its name in state files, locks and the summary line.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Events => "service-events-all",
            Self::SecurityHub => "sqs-cloudwatch-consumer",
            Self::AuditS3 => "audit-events-all.s3",
            Self::AuditApi => "audit-events-all.api",
            Self::Metrics => "metrics-all",
            Self::FlowLogs => "non-cloudwatch-logs.flowlogs",
            Self::CloudFront => "non-cloudwatch-logs.cloudfrontlogs",
            Self::Logs => "custom_service.logs",
        }
    }

    /// The config key of the queue it consumes, if it consumes one.
    pub const fn queue_key(self) -> Option<&'static str> {
        match self {
            Self::Events | Self::SecurityHub => Some("cloudwatch_sqs_queue_name"),
            Self::AuditS3 => Some("audit_sqs_queue_name"),
            Self::FlowLogs => Some("vpcflowlogs_sqs_queue_name"),
            Self::CloudFront => Some("cloudfrontlogs_sqs_queue_name"),
            Self::AuditApi | Self::Metrics | Self::Logs => None,
        }
    }

    /// The queue it consumes, as configured.
    pub fn queue(self, svc: &Service) -> Option<&str> {
        match self {
            Self::Events | Self::SecurityHub => svc.cloudwatch_sqs_queue_name.as_deref(),
            Self::AuditS3 => svc.audit_sqs_queue_name.as_deref(),
            Self::FlowLogs => svc.vpcflowlogs_sqs_queue_name.as_deref(),
            Self::CloudFront => svc.cloudfrontlogs_sqs_queue_name.as_deref(),
            Self::AuditApi | Self::Metrics | Self::Logs => None,
        }
    }

    /// `delay_seconds` when not given: how far behind now the windows of a service pulled by
    /// time end (CloudTrail makes events searchable within about 15 minutes; CloudWatch may
    /// ingest a log event or a datapoint a few minutes late).
    pub const fn default_delay_secs(self) -> u64 {
        match self {
            Self::AuditApi => 900,
            Self::Logs => 120,
            _ => 300,
        }
    }

    /// How `check` proves it reachable.
    pub const fn reach(self) -> Reach {
        match self {
            Self::AuditApi => Reach::CloudTrailApi,
            Self::Metrics => Reach::CloudWatchMetrics,
            Self::Logs => Reach::LogGroups,
            _ => Reach::Queue,
        }
    }

    /// The IAM actions a run of it calls (on the queue, the bucket, the API), beside
    /// `sts:GetCallerIdentity` which every run calls; `kms:Decrypt` is needed too when its
    /// queue or bucket is encrypted with a customer managed key.
    pub const fn iam_actions(self) -> &'static [&'static str] {
        const QUEUE: [&str; 5] = [
            "sqs:GetQueueUrl",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
        ];
        const OBJECTS: [&str; 6] = [
            QUEUE[0],
            QUEUE[1],
            QUEUE[2],
            QUEUE[3],
            QUEUE[4],
            "s3:GetObject",
        ];
        match self {
            Self::Events | Self::SecurityHub => &QUEUE,
            Self::AuditS3 | Self::FlowLogs | Self::CloudFront => &OBJECTS,
            Self::AuditApi => &["cloudtrail:LookupEvents"],
            Self::Metrics => &[
                "cloudwatch:ListMetrics",
                "cloudwatch:GetMetricData",
                "cloudwatch:GetMetricStatistics",
            ],
            Self::Logs => &["logs:DescribeLogGroups", "logs:FilterLogEvents"],
        }
    }

    /// Its config block, when the config defines it (and, in a block shared by several
    /// services, lists its type).
    pub fn configured(self, services: &Services) -> Option<&Service> {
        let svc = services.get(self.seed_key())?;
        match self.selected_by() {
            Some(t) => svc.has_type(t).then_some(svc),
            None => Some(svc),
        }
    }

    /// Line events as JSON objects (`format: json`) rather than as they stand.
    pub fn json_lines(svc: &Service) -> bool {
        svc.format == LineOutput::Json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shared_block_lists_its_types() {
        assert_eq!(
            SeedKey::AuditEventsAll.allowed_types(),
            [ServiceType::AuditsS3, ServiceType::AuditsApi]
        );
        assert!(SeedKey::EventsAll.allowed_types().is_empty());
        let names: std::collections::HashSet<_> =
            ServiceKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), ServiceKind::ALL.len(), "names are unique");
    }
}
