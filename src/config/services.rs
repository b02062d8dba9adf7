//! The registry of services: what the seed's config calls each one, how it is selected, what it
//! is called in state and summaries, which queue it reads, and its own defaults. Validation,
//! `run`, `check` and the command line all iterate over [`ServiceKind::ALL`]; adding a service
//! starts here.

use super::model::{Service, ServiceType, Services};
use crate::formats;
use crate::formats::objects::Format;

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
            "types" | "regions_by_type" => !self.allowed_types().is_empty(),
            "drop_event_names" => matches!(self, Self::AuditEventsAll | Self::NonCloudwatchLogs),
            "archive_kinds" => self == Self::NonCloudwatchLogs,
            "max_receive_count" => kinds().any(|k| k.queue_key().is_some()),
            "s3_file_type_filter" | "s3_buckets" => {
                kinds().any(|k| k.queue_key().is_some() && k.selected_by().is_some())
            }
            "namespaces" | "statistics" | "period_seconds" | "metrics_api" => {
                self == Self::MetricsAll
            }
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

/// Every service devo-aws runs, one per summary line, in the order `all` runs them. Its facts
/// are its row in [`ROWS`].
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
    /// ALB access logs from S3.
    Alb,
    /// Classic and Network Load Balancer access logs from S3.
    Elb,
    /// WAF logs from S3.
    Waf,
    /// S3 server access logs from S3.
    S3Access,
    /// Route 53 Resolver query logs from S3.
    Route53,
    /// GuardDuty findings exported to S3.
    GuardDuty,
    /// Network Firewall logs from S3.
    NetworkFirewall,
    /// AWS Config snapshots and history from S3.
    Config,
    /// A log archive: objects of every kind on one queue, each read as its key's layout says.
    Archive,
}

/// How a service pulls.
#[derive(Debug, Clone, Copy)]
pub enum Pull {
    /// EventBridge events from its queue (Security Hub findings split out of theirs).
    QueueEvents,
    /// S3 objects of this format, announced on its queue.
    Objects(&'static Format),
    /// S3 objects of every format, announced on one queue: each read by the format whose
    /// layout claims its key (`Format::claims`), among the kinds `archive_kinds` names.
    Archive,
    AuditApi,
    Metrics,
    Logs,
}

impl Pull {
    /// Whether each object's kind is chosen by its key (an archive).
    pub fn routes_by_key(self) -> bool {
        matches!(self, Self::Archive)
    }
}

/// Everything that sets one service apart.
#[derive(Debug)]
pub struct ServiceRow {
    pub kind: ServiceKind,
    /// The config block it reads.
    pub seed_key: SeedKey,
    /// The value of `types` that selects it in its block, for blocks with `types`.
    pub selected_by: Option<ServiceType>,
    /// Its name in state files, locks and the summary line.
    pub name: &'static str,
    /// The config key of the queue it consumes, if it consumes one.
    pub queue_key: Option<&'static str>,
    /// `delay_seconds` when not given: how far behind now the windows of a service pulled by
    /// time end (CloudTrail makes events searchable within about 15 minutes; CloudWatch may
    /// ingest a log event or a datapoint a few minutes late).
    pub default_delay_secs: u64,
    /// The IAM actions a run of it calls (on the queue, the bucket, the API; `s3:ListBucket` for
    /// replays, `--start-time`), beside
    /// `sts:GetCallerIdentity` which every run calls; `kms:Decrypt` is needed too when its
    /// queue or bucket is encrypted with a customer managed key.
    pub iam_actions: &'static [&'static str],
    pub pull: Pull,
}

const QUEUE_ACTIONS: &[&str] = &[
    "sqs:GetQueueUrl",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
];
const OBJECT_ACTIONS: &[&str] = &[
    "sqs:GetQueueUrl",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "s3:GetObject",
    "s3:ListBucket",
];
/// GuardDuty encrypts what it exports with a KMS key, always.
const KMS_OBJECT_ACTIONS: &[&str] = &[
    "sqs:GetQueueUrl",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "s3:GetObject",
    "s3:ListBucket",
    "kms:Decrypt",
];

/// An S3+SQS service of `non-cloudwatch-logs`, selected by `types: [TYPE]` and fed by
/// `<TYPE>_sqs_queue_name`.
const fn s3_logs(
    kind: ServiceKind,
    selected_by: ServiceType,
    name: &'static str,
    queue_key: &'static str,
    format: &'static Format,
) -> ServiceRow {
    ServiceRow {
        kind,
        seed_key: SeedKey::NonCloudwatchLogs,
        selected_by: Some(selected_by),
        name,
        queue_key: Some(queue_key),
        default_delay_secs: 300,
        iam_actions: OBJECT_ACTIONS,
        pull: Pull::Objects(format),
    }
}

/// The row of every service, in the order of [`ServiceKind::ALL`].
pub static ROWS: [ServiceRow; ServiceKind::ALL.len()] = [
    ServiceRow {
        kind: ServiceKind::Events,
        seed_key: SeedKey::EventsAll,
        selected_by: None,
        name: "service-events-all",
        queue_key: Some("cloudwatch_sqs_queue_name"),
        default_delay_secs: 300,
        iam_actions: QUEUE_ACTIONS,
        pull: Pull::QueueEvents,
    },
    ServiceRow {
        kind: ServiceKind::SecurityHub,
        seed_key: SeedKey::CloudwatchConsumer,
        selected_by: None,
        name: "sqs-cloudwatch-consumer",
        queue_key: Some("cloudwatch_sqs_queue_name"),
        default_delay_secs: 300,
        iam_actions: QUEUE_ACTIONS,
        pull: Pull::QueueEvents,
    },
    ServiceRow {
        kind: ServiceKind::AuditS3,
        seed_key: SeedKey::AuditEventsAll,
        selected_by: Some(ServiceType::AuditsS3),
        name: "audit-events-all.s3",
        queue_key: Some("audit_sqs_queue_name"),
        default_delay_secs: 300,
        iam_actions: OBJECT_ACTIONS,
        pull: Pull::Objects(&formats::cloudtrail::FORMAT),
    },
    ServiceRow {
        kind: ServiceKind::AuditApi,
        seed_key: SeedKey::AuditEventsAll,
        selected_by: Some(ServiceType::AuditsApi),
        name: "audit-events-all.api",
        queue_key: None,
        default_delay_secs: 900,
        iam_actions: &["cloudtrail:LookupEvents"],
        pull: Pull::AuditApi,
    },
    ServiceRow {
        kind: ServiceKind::Metrics,
        seed_key: SeedKey::MetricsAll,
        selected_by: None,
        name: "metrics-all",
        queue_key: None,
        default_delay_secs: 300,
        iam_actions: &[
            "cloudwatch:ListMetrics",
            "cloudwatch:GetMetricData",
            "cloudwatch:GetMetricStatistics",
        ],
        pull: Pull::Metrics,
    },
    s3_logs(
        ServiceKind::FlowLogs,
        ServiceType::FlowLogs,
        "non-cloudwatch-logs.flowlogs",
        "vpcflowlogs_sqs_queue_name",
        &formats::flowlogs::FORMAT,
    ),
    s3_logs(
        ServiceKind::CloudFront,
        ServiceType::CloudFrontLogs,
        "non-cloudwatch-logs.cloudfrontlogs",
        "cloudfrontlogs_sqs_queue_name",
        &formats::cloudfront::FORMAT,
    ),
    ServiceRow {
        kind: ServiceKind::Logs,
        seed_key: SeedKey::CustomService,
        selected_by: Some(ServiceType::Logs),
        name: "custom_service.logs",
        queue_key: None,
        default_delay_secs: 120,
        iam_actions: &["logs:DescribeLogGroups", "logs:FilterLogEvents"],
        pull: Pull::Logs,
    },
    s3_logs(
        ServiceKind::Alb,
        ServiceType::AlbLogs,
        "non-cloudwatch-logs.alblogs",
        "alblogs_sqs_queue_name",
        &formats::alb::FORMAT,
    ),
    s3_logs(
        ServiceKind::Elb,
        ServiceType::ElbLogs,
        "non-cloudwatch-logs.elblogs",
        "elblogs_sqs_queue_name",
        &formats::elb::FORMAT,
    ),
    s3_logs(
        ServiceKind::Waf,
        ServiceType::WafLogs,
        "non-cloudwatch-logs.waflogs",
        "waflogs_sqs_queue_name",
        &formats::waf::FORMAT,
    ),
    s3_logs(
        ServiceKind::S3Access,
        ServiceType::S3AccessLogs,
        "non-cloudwatch-logs.s3accesslogs",
        "s3accesslogs_sqs_queue_name",
        &formats::s3access::FORMAT,
    ),
    s3_logs(
        ServiceKind::Route53,
        ServiceType::Route53Logs,
        "non-cloudwatch-logs.route53logs",
        "route53logs_sqs_queue_name",
        &formats::route53::FORMAT,
    ),
    ServiceRow {
        iam_actions: KMS_OBJECT_ACTIONS,
        ..s3_logs(
            ServiceKind::GuardDuty,
            ServiceType::GuardDutyFindings,
            "non-cloudwatch-logs.guarddutyfindings",
            "guarddutyfindings_sqs_queue_name",
            &formats::guardduty::FORMAT,
        )
    },
    s3_logs(
        ServiceKind::NetworkFirewall,
        ServiceType::NetworkFirewallLogs,
        "non-cloudwatch-logs.networkfirewalllogs",
        "networkfirewalllogs_sqs_queue_name",
        &formats::networkfirewall::FORMAT,
    ),
    s3_logs(
        ServiceKind::Config,
        ServiceType::ConfigLogs,
        "non-cloudwatch-logs.configlogs",
        "configlogs_sqs_queue_name",
        &formats::awsconfig::FORMAT,
    ),
    // GuardDuty's exports (and trails with SSE-KMS) in the archive are encrypted with a key.
    ServiceRow {
        kind: ServiceKind::Archive,
        seed_key: SeedKey::NonCloudwatchLogs,
        selected_by: Some(ServiceType::Archive),
        name: "non-cloudwatch-logs.archive",
        queue_key: Some("archive_sqs_queue_name"),
        default_delay_secs: 300,
        iam_actions: KMS_OBJECT_ACTIONS,
        pull: Pull::Archive,
    },
];

impl ServiceKind {
    pub const ALL: [Self; 17] = [
        Self::Events,
        Self::SecurityHub,
        Self::AuditS3,
        Self::AuditApi,
        Self::Metrics,
        Self::FlowLogs,
        Self::CloudFront,
        Self::Logs,
        Self::Alb,
        Self::Elb,
        Self::Waf,
        Self::S3Access,
        Self::Route53,
        Self::GuardDuty,
        Self::NetworkFirewall,
        Self::Config,
        Self::Archive,
    ];

    /// Its row: every fact about it.
    pub fn row(self) -> &'static ServiceRow {
        &ROWS[self as usize]
    }

    pub fn seed_key(self) -> SeedKey {
        self.row().seed_key
    }

    pub fn selected_by(self) -> Option<ServiceType> {
        self.row().selected_by
    }

    pub fn name(self) -> &'static str {
        self.row().name
    }

    pub fn queue_key(self) -> Option<&'static str> {
        self.row().queue_key
    }

    /// The queue it consumes, as configured.
    pub fn queue(self, svc: &Service) -> Option<&str> {
        self.queue_key().and_then(|key| svc.queue_named(key))
    }

    pub fn default_delay_secs(self) -> u64 {
        self.row().default_delay_secs
    }

    pub fn iam_actions(self) -> &'static [&'static str] {
        self.row().iam_actions
    }

    /// The S3 object format it reads, for S3+SQS services of one kind.
    pub fn object_format(self) -> Option<&'static Format> {
        match self.row().pull {
            Pull::Objects(format) => Some(format),
            _ => None,
        }
    }

    /// Whether it reads S3 objects (of one kind, or of every kind: an archive).
    pub fn reads_objects(self) -> bool {
        matches!(self.row().pull, Pull::Objects(_) | Pull::Archive)
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

    #[test]
    fn every_queue_key_is_read_from_the_config() {
        for kind in ServiceKind::ALL {
            if let Some(key) = kind.queue_key() {
                assert!(
                    Service::is_queue_key(key),
                    "{key}: add it to Service::queue_names"
                );
            }
        }
    }

    #[test]
    fn every_object_format_is_listed() {
        for kind in ServiceKind::ALL {
            if let Some(format) = kind.object_format() {
                assert!(
                    formats::OBJECT_FORMATS
                        .iter()
                        .any(|f| std::ptr::eq(*f, format)),
                    "{format:?}: add it to formats::OBJECT_FORMATS"
                );
            }
        }
    }

    #[test]
    fn each_row_is_its_kinds() {
        for (i, kind) in ServiceKind::ALL.into_iter().enumerate() {
            assert_eq!(ROWS[i].kind, kind);
            assert_eq!(kind as usize, i);
        }
    }
}
