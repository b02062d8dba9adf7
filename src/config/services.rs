//! The registry of services: what the seed's config calls each one, how it is selected, what it
//! is called in state and summaries, which queue it reads, and its own defaults. A service is a
//! row of data ([`ServiceRow`]); [`ServiceKind`] is a handle on one. The built-in rows are
//! [`ROWS`]; a kind of S3 objects the config defines (`kinds:` of `non-cloudwatch-logs`) gets a
//! row of the same shape when the config is loaded ([`ServiceKind::defined`]). Validation, `run`,
//! `check` and the command line iterate over [`Services::kinds`]; adding a service starts here.

use super::model::{Service, Services, TypeName};
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

    /// The services of this block: the built-in ones, and those `svc` defines.
    pub fn kinds(self, svc: Option<&Service>) -> impl Iterator<Item = ServiceKind> + '_ {
        ServiceKind::builtin()
            .chain(svc.into_iter().flat_map(|s| s.defined.iter().copied()))
            .filter(move |k| k.seed_key() == self)
    }

    /// The `types` of this block when it lists none: those whose queue is named, else those
    /// that need no queue.
    pub fn default_types(self, svc: &Service) -> Vec<TypeName> {
        let typed = || self.kinds(Some(svc)).filter(|k| k.selected_by().is_some());
        let with_queue: Vec<TypeName> = typed()
            .filter(|k| k.queue(svc).is_some())
            .filter_map(ServiceKind::type_name)
            .collect();
        if !with_queue.is_empty() {
            return with_queue;
        }
        typed()
            .filter(|k| k.queue_key().is_none())
            .filter_map(ServiceKind::type_name)
            .collect()
    }

    /// Whether this block (`svc`) reads `key` (one of a service block's own keys: the keys
    /// every block takes, such as `regions`, are not asked about).
    pub fn reads(self, svc: &Service, key: &str) -> bool {
        let kinds = || self.kinds(Some(svc));
        match key {
            "types" | "regions_by_type" => !self.allowed_types(svc).is_empty(),
            "drop_event_names" => matches!(self, Self::AuditEventsAll | Self::NonCloudwatchLogs),
            "archive_kinds" | "kinds" | "cloudwatchlogs_routes" => self == Self::NonCloudwatchLogs,
            "max_receive_count" => kinds().any(|k| k.queue_key().is_some()),
            "s3_file_type_filter" | "s3_buckets" => kinds().any(ServiceKind::reads_objects),
            "namespaces" | "statistics" | "period_seconds" | "metrics_api" => {
                self == Self::MetricsAll
            }
            "include_linked_accounts" => matches!(self, Self::CustomService | Self::MetricsAll),
            "delay_seconds" => kinds().any(|k| k.queue_key().is_none()),
            "format" => self == Self::NonCloudwatchLogs,
            "log_groups" | "late_events_seconds" => self == Self::CustomService,
            queue => kinds().any(|k| k.queue_key() == Some(queue)),
        }
    }

    /// The `types` this block (`svc`) may list (none: the block has no `types`).
    pub fn allowed_types(self, svc: &Service) -> Vec<&'static str> {
        self.kinds(Some(svc))
            .filter_map(ServiceKind::selected_by)
            .collect()
    }
}

/// How a service pulls.
#[derive(Debug, Clone, Copy)]
pub enum Pull {
    /// EventBridge events from its queue.
    QueueEvents,
    /// Security Hub findings, split out of the EventBridge events of its queue.
    QueueFindings,
    /// S3 objects of this format, announced on its queue.
    Objects(&'static Format),
    /// S3 objects of a kind the config defines, announced on its queue.
    Defined,
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
    /// The config block it reads.
    pub seed_key: SeedKey,
    /// The value of `types` that selects it in its block, for blocks with `types`.
    pub selected_by: Option<&'static str>,
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

/// The IAM actions of a queue's consumer, then `extra`.
macro_rules! queue_actions {
    ($($extra:literal),*) => {
        &[
            "sqs:GetQueueUrl",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            $($extra),*
        ]
    };
}

const QUEUE_ACTIONS: &[&str] = queue_actions!();
const OBJECT_ACTIONS: &[&str] = queue_actions!("s3:GetObject", "s3:ListBucket");
/// CloudTrail from S3: its digests are verified with the region's public keys.
const TRAIL_OBJECT_ACTIONS: &[&str] =
    queue_actions!("s3:GetObject", "s3:ListBucket", "cloudtrail:ListPublicKeys");
/// A log archive holds CloudTrail (and its digests) and GuardDuty's exports, encrypted.
const ARCHIVE_ACTIONS: &[&str] = queue_actions!(
    "s3:GetObject",
    "s3:ListBucket",
    "cloudtrail:ListPublicKeys",
    "kms:Decrypt"
);
/// GuardDuty encrypts what it exports with a KMS key, always.
const KMS_OBJECT_ACTIONS: &[&str] = queue_actions!("s3:GetObject", "s3:ListBucket", "kms:Decrypt");

/// The row of an S3 kind of `non-cloudwatch-logs`: selected by `types: [TYPE]`, fed by
/// `TYPE_sqs_queue_name`, read with `FORMAT` (or pulling as given), named
/// `non-cloudwatch-logs.TYPE` (its one spelling, written once), with the IAM actions of S3+SQS
/// (or those given).
macro_rules! s3_kind {
    ($types:literal, $format:expr) => {
        s3_kind!($types, Pull::Objects($format), OBJECT_ACTIONS)
    };
    ($types:literal, $pull:expr, $actions:expr) => {
        ServiceRow {
            seed_key: SeedKey::NonCloudwatchLogs,
            selected_by: Some($types),
            name: concat!("non-cloudwatch-logs.", $types),
            queue_key: Some(concat!($types, "_sqs_queue_name")),
            default_delay_secs: 300,
            iam_actions: $actions,
            pull: $pull,
        }
    };
}

const EVENTS_ROW: ServiceRow = ServiceRow {
    seed_key: SeedKey::EventsAll,
    selected_by: None,
    name: "service-events-all",
    queue_key: Some("cloudwatch_sqs_queue_name"),
    default_delay_secs: 300,
    iam_actions: QUEUE_ACTIONS,
    pull: Pull::QueueEvents,
};
const SECURITY_HUB_ROW: ServiceRow = ServiceRow {
    seed_key: SeedKey::CloudwatchConsumer,
    name: "sqs-cloudwatch-consumer",
    pull: Pull::QueueFindings,
    ..EVENTS_ROW
};
const AUDIT_S3_ROW: ServiceRow = ServiceRow {
    seed_key: SeedKey::AuditEventsAll,
    selected_by: Some("audits_s3"),
    name: "audit-events-all.s3",
    queue_key: Some("audit_sqs_queue_name"),
    default_delay_secs: 300,
    iam_actions: TRAIL_OBJECT_ACTIONS,
    pull: Pull::Objects(&formats::cloudtrail::FORMAT),
};
const AUDIT_API_ROW: ServiceRow = ServiceRow {
    seed_key: SeedKey::AuditEventsAll,
    selected_by: Some("audits_api"),
    name: "audit-events-all.api",
    queue_key: None,
    default_delay_secs: 900,
    iam_actions: &["cloudtrail:LookupEvents"],
    pull: Pull::AuditApi,
};
const METRICS_ROW: ServiceRow = ServiceRow {
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
};
/// The seed names the flow logs' queue key after the service (`vpcflowlogs_`), not the type.
const FLOW_LOGS_ROW: ServiceRow = ServiceRow {
    queue_key: Some("vpcflowlogs_sqs_queue_name"),
    ..s3_kind!("flowlogs", &formats::flowlogs::FORMAT)
};
const CLOUDFRONT_ROW: ServiceRow = s3_kind!("cloudfrontlogs", &formats::cloudfront::FORMAT);
const LOGS_ROW: ServiceRow = ServiceRow {
    seed_key: SeedKey::CustomService,
    selected_by: Some("logs"),
    name: "custom_service.logs",
    queue_key: None,
    default_delay_secs: 120,
    iam_actions: &["logs:DescribeLogGroups", "logs:FilterLogEvents"],
    pull: Pull::Logs,
};

/// The row of every built-in service, in the order `all` runs them.
pub static ROWS: &[ServiceRow] = &[
    EVENTS_ROW,
    SECURITY_HUB_ROW,
    AUDIT_S3_ROW,
    AUDIT_API_ROW,
    METRICS_ROW,
    FLOW_LOGS_ROW,
    CLOUDFRONT_ROW,
    LOGS_ROW,
    s3_kind!("alblogs", &formats::alb::FORMAT),
    s3_kind!("elblogs", &formats::elb::FORMAT),
    s3_kind!("waflogs", &formats::waf::FORMAT),
    s3_kind!("s3accesslogs", &formats::s3access::FORMAT),
    s3_kind!("route53logs", &formats::route53::FORMAT),
    s3_kind!(
        "guarddutyfindings",
        Pull::Objects(&formats::guardduty::FORMAT),
        KMS_OBJECT_ACTIONS
    ),
    s3_kind!("networkfirewalllogs", &formats::networkfirewall::FORMAT),
    s3_kind!("configlogs", &formats::awsconfig::FORMAT),
    s3_kind!("cloudwatchlogs", &formats::firehose::FORMAT),
    // A Security Lake subscriber's objects are encrypted with the lake's key when it has one.
    s3_kind!(
        "securitylake",
        Pull::Objects(&formats::securitylake::FORMAT),
        KMS_OBJECT_ACTIONS
    ),
    // GuardDuty's exports (and trails with SSE-KMS) in the archive are encrypted with a key.
    s3_kind!("archive", Pull::Archive, ARCHIVE_ACTIONS),
];

/// A service: a handle on its row (rows live as long as the run).
#[derive(Clone, Copy)]
pub struct ServiceKind(&'static ServiceRow);

impl PartialEq for ServiceKind {
    /// Names are unique (a defined kind may not take a built-in one's).
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for ServiceKind {}

impl std::fmt::Debug for ServiceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name)
    }
}

impl ServiceKind {
    pub const EVENTS: Self = Self(&EVENTS_ROW);
    pub const SECURITY_HUB: Self = Self(&SECURITY_HUB_ROW);
    pub const AUDIT_S3: Self = Self(&AUDIT_S3_ROW);
    pub const AUDIT_API: Self = Self(&AUDIT_API_ROW);
    pub const METRICS: Self = Self(&METRICS_ROW);
    pub const FLOW_LOGS: Self = Self(&FLOW_LOGS_ROW);
    pub const CLOUDFRONT: Self = Self(&CLOUDFRONT_ROW);
    pub const LOGS: Self = Self(&LOGS_ROW);

    /// The built-in services, in the order `all` runs them.
    pub fn builtin() -> impl Iterator<Item = Self> {
        ROWS.iter().map(Self)
    }

    /// The service of a kind of S3 objects the config defines as `types` (`kinds:` of
    /// `non-cloudwatch-logs`): a row of the built-in kinds' shape, made once when the config is
    /// loaded and kept for the run.
    pub fn defined(types: &str) -> Self {
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        Self(Box::leak(Box::new(ServiceRow {
            seed_key: SeedKey::NonCloudwatchLogs,
            selected_by: Some(leak(types.to_string())),
            name: leak(format!("non-cloudwatch-logs.{types}")),
            queue_key: Some(leak(format!("{types}_sqs_queue_name"))),
            default_delay_secs: 300,
            iam_actions: OBJECT_ACTIONS,
            pull: Pull::Defined,
        })))
    }

    /// Its row: every fact about it.
    pub fn row(self) -> &'static ServiceRow {
        self.0
    }

    pub fn seed_key(self) -> SeedKey {
        self.0.seed_key
    }

    pub fn selected_by(self) -> Option<&'static str> {
        self.0.selected_by
    }

    /// Its `types` value, owned.
    fn type_name(self) -> Option<TypeName> {
        self.selected_by().map(TypeName::from)
    }

    pub fn name(self) -> &'static str {
        self.0.name
    }

    pub fn queue_key(self) -> Option<&'static str> {
        self.0.queue_key
    }

    /// The queue it consumes, as configured.
    pub fn queue(self, svc: &Service) -> Option<&str> {
        self.queue_key().and_then(|key| svc.queue_named(key))
    }

    pub fn default_delay_secs(self) -> u64 {
        self.0.default_delay_secs
    }

    pub fn iam_actions(self) -> &'static [&'static str] {
        self.0.iam_actions
    }

    /// The S3 object format it reads, for built-in S3+SQS services of one kind.
    pub fn object_format(self) -> Option<&'static Format> {
        match self.0.pull {
            Pull::Objects(format) => Some(format),
            _ => None,
        }
    }

    /// Whether it reads S3 objects (of one kind, or of every kind: an archive).
    pub fn reads_objects(self) -> bool {
        matches!(
            self.0.pull,
            Pull::Objects(_) | Pull::Defined | Pull::Archive
        )
    }

    /// Whether an archive can read its objects (an S3 kind of its own format or definition).
    pub fn archivable(self) -> bool {
        matches!(self.0.pull, Pull::Objects(_) | Pull::Defined)
    }

    /// The kinds an archive of the block `svc` can read: every built-in kind read from S3, and
    /// every kind the block defines.
    pub fn archivable_in(svc: &Service) -> impl Iterator<Item = Self> + '_ {
        Self::builtin()
            .chain(svc.defined.iter().copied())
            .filter(|k| k.archivable())
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
        let none = Service::default();
        assert_eq!(
            SeedKey::AuditEventsAll.allowed_types(&none),
            ["audits_s3", "audits_api"]
        );
        assert!(SeedKey::EventsAll.allowed_types(&none).is_empty());
        let names: std::collections::HashSet<_> =
            ServiceKind::builtin().map(|k| k.name()).collect();
        assert_eq!(names.len(), ROWS.len(), "names are unique");
    }

    /// Each S3 kind's spelling is written once: its name and queue key are made of it (but
    /// the seed's flow logs queue key).
    #[test]
    fn each_s3_kind_is_named_by_its_type() {
        for kind in ServiceKind::builtin().filter(|k| k.seed_key() == SeedKey::NonCloudwatchLogs) {
            let t = kind.selected_by().unwrap_or_default();
            assert_eq!(kind.name(), format!("non-cloudwatch-logs.{t}"));
            if kind != ServiceKind::FLOW_LOGS {
                assert_eq!(
                    kind.queue_key(),
                    Some(format!("{t}_sqs_queue_name").as_str())
                );
            }
        }
        let defined = ServiceKind::defined("umbrella_dns");
        assert_eq!(defined.name(), "non-cloudwatch-logs.umbrella_dns");
        assert_eq!(defined.queue_key(), Some("umbrella_dns_sqs_queue_name"));
    }

    #[test]
    fn every_object_format_is_listed() {
        for kind in ServiceKind::builtin() {
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
}
