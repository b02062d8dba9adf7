//! The model of `config.yaml`, as serde reads it: the seed's keys and spelling, typed where the
//! seed names a closed set of values, with every default beside its field.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::window::parse_datetime;

/// The default spacing between two pulls of one service (the seed's default).
pub const DEFAULT_REQUEST_PERIOD_SECS: u64 = 300;

/// The whole file.
#[derive(Debug, Deserialize)]
pub struct Config {
    pub globals: Globals,
    pub outputs: BTreeMap<String, Output>,
    pub inputs: Inputs,
}

/// `globals:`.
#[derive(Debug, Deserialize)]
pub struct Globals {
    /// Seed's collector_id: one to five characters.
    pub id: ShortId,
    /// Seed's collector_name.
    pub name: String,
    #[serde(default)]
    pub debug: bool,
    #[serde(default)]
    pub persistence: Persistence,
}

/// `globals.persistence`.
#[derive(Debug, Default, Deserialize)]
pub struct Persistence {
    #[serde(rename = "type", default)]
    pub kind: PersistenceType,
    #[serde(default)]
    pub config: PersistenceConfig,
}

/// Where state is kept.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PersistenceType {
    /// Files in `directory_name` (one machine).
    #[default]
    Filesystem,
    /// Objects in an S3 bucket, written with conditional requests (several workers).
    S3,
}

/// `globals.persistence.config`.
#[derive(Debug, Deserialize)]
pub struct PersistenceConfig {
    /// Directory of the state files, relative to `<product>/` unless absolute (filesystem).
    #[serde(default = "default_state_dir")]
    pub directory_name: String,
    /// The bucket of the state objects (s3).
    pub bucket: Option<String>,
    /// Prepended to every state object's key (s3).
    #[serde(default)]
    pub prefix: String,
    /// The bucket's region (s3) [default: the run's region].
    pub region: Option<String>,
}

impl Default for PersistenceConfig {
    fn default() -> Self {
        Self {
            directory_name: default_state_dir(),
            bucket: None,
            prefix: String::new(),
            region: None,
        }
    }
}

fn default_state_dir() -> String {
    "state".into()
}

/// One entry of `outputs:`.
#[derive(Debug, Deserialize)]
pub struct Output {
    #[serde(rename = "type")]
    pub kind: OutputType,
    pub config: DevoOutput,
}

/// `outputs.<name>.type`: the seed's one output type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum OutputType {
    #[serde(rename = "devo_platform")]
    DevoPlatform,
}

/// `outputs.<name>.config.type`: how to reach Devo. Only TLS (`SSL`, any case).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transport {
    #[default]
    Ssl,
}

impl<'de> Deserialize<'de> for Transport {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.eq_ignore_ascii_case("ssl") {
            Ok(Self::Ssl)
        } else {
            Err(de::Error::custom(format!(
                "unsupported transport {text:?} (supported: SSL)"
            )))
        }
    }
}

/// `outputs.<name>.config` of a `devo_platform` output.
#[derive(Debug, Deserialize)]
pub struct DevoOutput {
    /// Host name of the Devo collector or relay; also the TLS server name.
    pub address: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// Transport: only `SSL` (TLS 1.2 or 1.3) is supported.
    #[serde(rename = "type", default)]
    pub transport: Transport,
    /// CA file of the Devo domain (relative names resolve in `certs/`).
    pub chain: String,
    /// Client certificate (PEM).
    pub cert: String,
    /// Client private key (PEM).
    pub key: String,
    /// Check that the server certificate names `address`. Some relays' certificates do not.
    #[serde(default = "default_true")]
    pub verify_hostname: bool,
    /// How long a write may wait for a server that does not read, and how long the server has
    /// to close after our close_notify, in seconds (default 30).
    pub timeout_seconds: Option<u64>,
    /// Pins the server certificate: its SHA-256 fingerprint (64 hex digits, colons allowed, as
    /// `openssl x509 -noout -fingerprint -sha256` prints it).
    pub server_fingerprint: Option<String>,
    /// Frame every record with octet counting (RFC 6587), not only those whose message holds a
    /// line break: for relays that take nothing else, such as syslog-ng's `syslog()` source.
    /// Devo takes both framings, so when one output asks for it every output gets it.
    #[serde(default)]
    pub octet_counting: bool,
}

const fn default_port() -> u16 {
    443
}

const fn default_true() -> bool {
    true
}

/// `inputs:`.
#[derive(Debug, Deserialize)]
pub struct Inputs {
    pub aws: AwsInput,
}

/// `inputs.aws`.
#[derive(Debug, Deserialize)]
pub struct AwsInput {
    /// Seed's short_unique_id: part of every state file's name.
    pub id: ShortId,
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default)]
    pub credentials: Option<Credentials>,
    pub services: Services,
    /// Ours: USD per million billed units, by unit (`s3_list_requests: 5.0`), for the run's cost
    /// estimate instead of us-east-1's list prices (`crate::bill`).
    #[serde(default)]
    pub prices_usd_per_million: BTreeMap<String, f64>,
}

/// `inputs.aws.credentials`. Its Debug output never shows the secret.
#[derive(Deserialize, Default, Clone)]
pub struct Credentials {
    pub access_key: Option<String>,
    pub access_secret: Option<String>,
    pub base_assume_role: Option<String>,
    pub target_assume_role: Option<String>,
    pub assume_role_external_id: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("access_secret", &redact(&self.access_secret))
            .field("base_assume_role", &self.base_assume_role)
            .field("target_assume_role", &self.target_assume_role)
            .field(
                "assume_role_external_id",
                &redact(&self.assume_role_external_id),
            )
            .finish()
    }
}

impl Services {
    /// The block of a seed key, when the config has it.
    pub fn get(&self, key: super::SeedKey) -> Option<&Service> {
        use super::SeedKey as K;
        match key {
            K::EventsAll => self.events.as_ref(),
            K::CloudwatchConsumer => self.securityhub.as_ref(),
            K::AuditEventsAll => self.audit.as_ref(),
            K::MetricsAll => self.metrics.as_ref(),
            K::NonCloudwatchLogs => self.non_cloudwatch_logs.as_ref(),
            K::CustomService => self.custom.as_ref(),
        }
    }

    /// Every service there is with this config: the built-in ones, then the kinds of S3
    /// objects it defines.
    pub fn kinds(&self) -> Vec<super::ServiceKind> {
        let defined = self
            .non_cloudwatch_logs
            .iter()
            .flat_map(|svc| svc.defined.iter().copied());
        super::ServiceKind::builtin().chain(defined).collect()
    }

    /// The services the config defines, in the registry's order.
    pub fn configured_kinds(&self) -> Vec<super::ServiceKind> {
        self.kinds()
            .into_iter()
            .filter(|k| k.configured(self).is_some())
            .collect()
    }

    /// The queue key of every service there is with this config.
    pub fn queue_keys(&self) -> Vec<&'static str> {
        self.kinds()
            .into_iter()
            .filter_map(super::ServiceKind::queue_key)
            .collect()
    }

    /// The keys of the service blocks that no service reads, by key path.
    pub fn unknown_keys(&self) -> Vec<String> {
        let queue_keys = self.queue_keys();
        super::SeedKey::ALL
            .into_iter()
            .filter_map(|key| self.get(key).map(|svc| (key, svc)))
            .flat_map(|(key, svc)| {
                svc.unknown_keys(&queue_keys)
                    .map(move |k| format!("inputs.aws.services.{}.{k}", key.as_str()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Makes the service of each kind of S3 objects the config defines (`kinds:`), once.
    pub fn register_defined(&mut self) {
        if let Some(svc) = &mut self.non_cloudwatch_logs {
            svc.defined = svc
                .kinds
                .keys()
                .map(|t| super::ServiceKind::defined(t))
                .collect();
        }
    }

    /// The first region the config names (the run's own region when the environment has none).
    pub fn first_region(&self) -> Option<&str> {
        super::SeedKey::ALL
            .into_iter()
            .filter_map(|k| self.get(k))
            .find_map(|svc| svc.regions().first().map(String::as_str))
    }

    /// `types` is optional in the seed's table: a block with `types` that lists none gets the
    /// types its queue names point to (`audit_sqs_queue_name` → `audits_s3`), else the one
    /// service of the block that needs no queue (`audits_api`, `logs`). What was filled in is
    /// marked ([`Services::defaulted_types`]).
    pub fn fill_default_types(&mut self) {
        for key in super::SeedKey::ALL {
            let default = match self.get(key) {
                Some(svc) if svc.types.is_empty() => key.default_types(svc),
                _ => continue,
            };
            if default.is_empty() {
                continue;
            }
            let slot = match key {
                super::SeedKey::AuditEventsAll => &mut self.audit,
                super::SeedKey::NonCloudwatchLogs => &mut self.non_cloudwatch_logs,
                super::SeedKey::CustomService => &mut self.custom,
                _ => continue,
            };
            if let Some(svc) = slot {
                svc.types = default;
                svc.types_defaulted = true;
            }
        }
    }

    /// The blocks whose `types` was not written, with the default they took.
    pub fn defaulted_types(&self) -> impl Iterator<Item = (super::SeedKey, &[TypeName])> {
        super::SeedKey::ALL.into_iter().filter_map(|key| {
            self.get(key)
                .filter(|svc| svc.types_defaulted)
                .map(|svc| (key, svc.types.as_slice()))
        })
    }
}

/// `inputs.aws.services`: each key is one of the seed's service names.
#[derive(Debug, Deserialize, Default)]
pub struct Services {
    #[serde(rename = "service-events-all")]
    pub events: Option<Service>,
    #[serde(rename = "sqs-cloudwatch-consumer")]
    pub securityhub: Option<Service>,
    #[serde(rename = "audit-events-all")]
    pub audit: Option<Service>,
    #[serde(rename = "metrics-all")]
    pub metrics: Option<Service>,
    #[serde(rename = "non-cloudwatch-logs")]
    pub non_cloudwatch_logs: Option<Service>,
    #[serde(rename = "custom_service")]
    pub custom: Option<Service>,
}

/// One service's settings. The seed's services share most keys, so one struct holds them all;
/// validation checks the keys each service needs and warns about keys it does not use.
#[derive(Debug, Deserialize, Default)]
pub struct Service {
    pub regions: Option<Regions>,
    /// Least spacing between two pulls of this service, in seconds (default 300).
    pub request_period_in_seconds: Option<u64>,
    /// Tag events by their own type (`cloud.aws.cloudwatch.ec2`) instead of the fixed table.
    #[serde(default)]
    pub auto_event_type: bool,
    /// Tag with the account and region found in each event (default) or the puller's.
    #[serde(default = "default_true")]
    pub use_region_and_account_id_from_event: bool,
    /// Where a service with no saved state starts (ISO 8601).
    pub start_time: Option<StartTime>,
    /// audit: `audits_api` / `audits_s3`; non-cloudwatch-logs: `flowlogs` / `cloudfrontlogs`;
    /// custom_service: `logs`.
    #[serde(default)]
    pub types: Vec<TypeName>,
    /// `types` was not written: the block's default was taken (for `check` to show).
    #[serde(skip)]
    pub types_defaulted: bool,
    /// audit: events whose `eventName` is listed are dropped.
    #[serde(default)]
    pub drop_event_names: Vec<String>,
    /// S3+SQS services: a regex on the object key; only matching objects are read.
    pub s3_file_type_filter: Option<String>,
    /// metrics: namespaces to pull (default: every namespace ListMetrics returns).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// metrics: statistics to ask for [default: [`DEFAULT_STATISTICS`]].
    #[serde(default)]
    pub statistics: Vec<String>,
    /// metrics: the period of each datapoint [default: [`DEFAULT_PERIOD_SECS`]].
    pub period_seconds: Option<u32>,
    /// metrics (ours): the call that pulls datapoints. `get_metric_data` (the default: 500
    /// queries a request, any statistic) bills each metric and statistic requested;
    /// `get_metric_statistics` gives the five basic statistics of one metric per request,
    /// billed as one request: a fifth of the bill for the default statistics.
    #[serde(default)]
    pub metrics_api: MetricsApi,
    /// audit (API), metrics, logs: how far behind now a window ends, for the source's own lag
    /// [default: the service's own, `ServiceKind::default_delay_secs`].
    pub delay_seconds: Option<u32>,
    /// archive: the kinds read from it, by their `types` spelling (default: every kind read
    /// from S3). An object of another kind is acknowledged unread, with a warning.
    #[serde(default)]
    pub archive_kinds: Vec<TypeName>,
    /// non-cloudwatch-logs: kinds of S3 objects the config defines, by their `types` name:
    /// each is then a type of the block, fed by `<name>_sqs_queue_name`.
    #[serde(default)]
    pub kinds: BTreeMap<String, KindDef>,
    /// cloudwatchlogs (ours): log groups whose records are of a kind Devo has a table for,
    /// tried in order before AWS's naming conventions (`{log_group: "/org/*/resolver",
    /// records: route53}`).
    #[serde(default)]
    pub cloudwatchlogs_routes: Vec<crate::formats::firehose::LogRoute>,
    /// The services of `kinds` (made when the config is loaded).
    #[serde(skip)]
    pub defined: Vec<super::ServiceKind>,
    /// flowlogs, cloudfront, alblogs, elblogs, s3accesslogs: `raw` (each line as it stands, the
    /// default) or `json`.
    #[serde(default)]
    pub format: LineOutput,
    /// logs: one log group name or a list; a trailing `*` means a prefix.
    pub log_groups: Option<OneOrMany>,
    /// logs (ours): prefixes in `log_groups` take the groups of the accounts linked to this
    /// monitoring account (CloudWatch cross-account observability) too; metrics (ours): the
    /// linked accounts' metrics are listed and pulled too, each tagged with its owner.
    #[serde(default)]
    pub include_linked_accounts: bool,
    /// logs: how far before the cursor each run looks for events ingested late (with old
    /// timestamps), in seconds [default: [`DEFAULT_LATE_EVENTS_SECS`]; 0: not at all; at most
    /// 14 days, the oldest timestamp CloudWatch Logs takes].
    pub late_events_seconds: Option<u64>,
    /// S3+SQS services: the accounts that may own the buckets announced (one id or a list).
    /// Objects of buckets owned by anyone else are reported and not read (S3 refuses them by
    /// ExpectedBucketOwner), so whoever can write to the queue cannot make us ship their data.
    pub expected_bucket_owner: Option<OneOrMany>,
    /// Queue-fed services: a message that cannot be understood is deleted once SQS has handed
    /// it out this many times (its id, keys and reason logged, counted as dropped). None: it is
    /// left to the queue's redrive policy. A message that failed for a passing reason (Devo or
    /// S3 unreachable) is never deleted by this.
    pub max_receive_count: Option<u32>,
    /// Blocks of several types: the regions of a type, when not the block's `regions` (`waflogs:
    /// [us-east-1]`). A queue given by its URL brings its region instead.
    #[serde(default)]
    pub regions_by_type: BTreeMap<TypeName, Regions>,
    /// S3+SQS services: where a replay (`--start-time`) lists each type's objects, by type:
    /// `s3://bucket[/prefix]` or a list of them (`audits_s3: s3://my-trail-bucket`).
    #[serde(default)]
    pub s3_buckets: BTreeMap<TypeName, OneOrMany>,
    /// Every other key: the queue keys (`cloudwatch_sqs_queue_name`, `audit_sqs_queue_name`,
    /// `<type>_sqs_queue_name`, named by the registry's rows), and keys no service reads
    /// (warned about: [`Service::unknown_keys`]).
    #[serde(flatten)]
    pub rest: BTreeMap<String, Loose>,
}

/// A queue given by its URL (`https://sqs.eu-west-1.amazonaws.com/111122223333/name`): no
/// GetQueueUrl is needed, and its region comes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrl {
    pub url: String,
    /// Its region, when the host names one (`sqs.<region>.amazonaws.com`, the legacy
    /// `<region>.queue.amazonaws.com`, a VPC endpoint's `...sqs.<region>.vpce.amazonaws.com`);
    /// none for another endpoint (a local emulator): the block's regions are used.
    pub region: Option<String>,
    pub account: String,
    pub name: String,
}

impl QueueUrl {
    /// `value` as a queue URL; none when it is not one (a queue name).
    pub fn parse(value: &str) -> Option<Self> {
        let rest = value
            .strip_prefix("https://")
            .or_else(|| value.strip_prefix("http://"))?;
        let (host, path) = rest.split_once('/')?;
        let (account, name) = path.trim_end_matches('/').split_once('/')?;
        let labels: Vec<&str> = host.split('.').collect();
        let region = labels
            .iter()
            .position(|l| *l == "sqs" || *l == "queue")
            .and_then(|at| match labels[at] {
                "sqs" => labels.get(at + 1),
                _ => at.checked_sub(1).and_then(|b| labels.get(b)),
            })
            .filter(|r| crate::formats::objects::is_region(r))
            .map(|r| (*r).to_string());
        Some(Self {
            url: value.to_string(),
            region,
            account: account.to_string(),
            name: name.to_string(),
        })
    }
}

/// The six fields of an ARN (`arn:partition:service:region:account:resource`), the resource
/// keeping its own colons.
pub(super) fn arn_fields(text: &str) -> Option<[&str; 6]> {
    let mut parts = text.splitn(6, ':');
    let fields = [(); 6].map(|()| parts.next());
    match fields {
        [Some(a), Some(b), Some(c), Some(d), Some(e), Some(f)] => Some([a, b, c, d, e, f]),
        _ => None,
    }
}

/// A log group's ARN (`arn:aws:logs:<region>:<account>:log-group:<name>`, `:*` after it as the
/// console shows it): a linked account's group is read by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroupArn {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub name: String,
}

impl LogGroupArn {
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.strip_suffix(":*").unwrap_or(text);
        let ["arn", partition, "logs", region, account, rest] = arn_fields(text)? else {
            return None;
        };
        let name = rest.strip_prefix("log-group:")?;
        let valid = !partition.is_empty()
            && crate::formats::objects::is_region(region)
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && !name.is_empty();
        valid.then(|| Self {
            partition: partition.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            name: name.to_string(),
        })
    }

    /// The ARN FilterLogEvents takes (`logGroupIdentifier`: no `:*`).
    pub fn arn(&self) -> String {
        format!(
            "arn:{}:logs:{}:{}:log-group:{}",
            self.partition, self.region, self.account, self.name
        )
    }
}

/// One place a replay lists: a bucket and the prefix under it (empty: the whole bucket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Root {
    pub bucket: String,
    pub prefix: String,
}

impl S3Root {
    /// `s3://bucket[/prefix]` (a prefix ends with `/` unless written otherwise: `AWSLogs` lists
    /// `AWSLogs/`, while `logs/app-` lists the keys that start with it).
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{url:?} is not an S3 URL such as s3://my-bucket/AWSLogs/"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.']);
        if !valid {
            return Err(format!(
                "{bucket:?} is not a bucket name (3 to 63 lowercase letters, digits, '-' and '.')"
            ));
        }
        let prefix = prefix.trim_start_matches('/');
        let prefix = if prefix.is_empty() || prefix.ends_with(['/', '-', '_', '.']) {
            prefix.to_string()
        } else {
            format!("{prefix}/")
        };
        Ok(Self {
            bucket: bucket.to_string(),
            prefix,
        })
    }
}

impl fmt::Display for S3Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

impl Service {
    /// Where a replay of `t` lists (validated when the config was loaded; none: not configured).
    pub fn replay_roots(&self, t: &str) -> Vec<S3Root> {
        self.s3_buckets
            .get(t)
            .map(|urls| {
                urls.0
                    .iter()
                    .filter_map(|u| S3Root::parse(u).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn request_period_secs(&self) -> u64 {
        self.request_period_in_seconds
            .unwrap_or(DEFAULT_REQUEST_PERIOD_SECS)
    }

    /// `delay_seconds`, or the service's own default: how far behind now its windows end.
    pub fn delay(&self, default_secs: u64) -> std::time::Duration {
        std::time::Duration::from_secs(self.delay_seconds.map_or(default_secs, u64::from))
    }

    /// The block's `regions` (may be empty when each type has its own).
    pub fn regions(&self) -> &[String] {
        self.regions.as_ref().map_or(&[], |r| r.0.as_slice())
    }

    /// The regions a service of this block is pulled in: those of its queue when given by a URL
    /// that names one, else `regions_by_type` of its type, else the block's `regions`.
    pub fn regions_for(&self, t: Option<&str>, queue: Option<&str>) -> Vec<String> {
        if let Some(region) = queue.and_then(QueueUrl::parse).and_then(|u| u.region) {
            return vec![region];
        }
        t.and_then(|t| self.regions_by_type.get(t))
            .map_or_else(|| self.regions().to_vec(), |r| r.0.clone())
    }

    /// The queue that queue key `key` names here.
    pub fn queue_named(&self, key: &str) -> Option<&str> {
        match self.rest.get(key)? {
            Loose::Text(name) => Some(name),
            Loose::Other(_) => None,
        }
    }

    /// The keys of this block no service reads (not a queue key of any service of the
    /// config): warned about by key path.
    pub fn unknown_keys<'a>(&'a self, queue_keys: &'a [&str]) -> impl Iterator<Item = &'a str> {
        self.rest
            .keys()
            .map(String::as_str)
            .filter(|k| !queue_keys.contains(k))
    }

    /// The service-specific keys this block sets (those that only some blocks read).
    pub fn specific_keys(&self) -> Vec<&'static str> {
        [
            ("types", !self.types.is_empty()),
            ("drop_event_names", !self.drop_event_names.is_empty()),
            ("s3_file_type_filter", self.s3_file_type_filter.is_some()),
            ("namespaces", !self.namespaces.is_empty()),
            ("statistics", !self.statistics.is_empty()),
            ("period_seconds", self.period_seconds.is_some()),
            ("metrics_api", self.metrics_api != MetricsApi::GetMetricData),
            ("delay_seconds", self.delay_seconds.is_some()),
            ("format", self.format != LineOutput::Raw),
            ("log_groups", self.log_groups.is_some()),
            ("include_linked_accounts", self.include_linked_accounts),
            ("late_events_seconds", self.late_events_seconds.is_some()),
            (
                "expected_bucket_owner",
                self.expected_bucket_owner.is_some(),
            ),
            ("s3_buckets", !self.s3_buckets.is_empty()),
            ("max_receive_count", self.max_receive_count.is_some()),
            ("archive_kinds", !self.archive_kinds.is_empty()),
            ("regions_by_type", !self.regions_by_type.is_empty()),
            ("kinds", !self.kinds.is_empty()),
            (
                "cloudwatchlogs_routes",
                !self.cloudwatchlogs_routes.is_empty(),
            ),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect()
    }

    pub fn has_type(&self, t: &str) -> bool {
        self.types.iter().any(|have| have.as_str() == t)
    }

    /// `late_events_seconds`, or its default.
    pub fn late_events_secs(&self) -> u64 {
        self.late_events_seconds.unwrap_or(DEFAULT_LATE_EVENTS_SECS)
    }

    /// `period_seconds`, or its default.
    pub fn period_secs(&self) -> u32 {
        self.period_seconds.unwrap_or(DEFAULT_PERIOD_SECS)
    }

    /// `statistics`, or the default ones.
    pub fn statistics(&self) -> Vec<&str> {
        if self.statistics.is_empty() {
            DEFAULT_STATISTICS.to_vec()
        } else {
            self.statistics.iter().map(String::as_str).collect()
        }
    }
}

/// logs: how far before the cursor a run looks for late events when not told: a day.
pub const DEFAULT_LATE_EVENTS_SECS: u64 = 86_400;

/// metrics: the period of a datapoint when `period_seconds` is not given.
pub const DEFAULT_PERIOD_SECS: u32 = 300;
/// metrics: the statistics asked for when `statistics` is not given.
pub const DEFAULT_STATISTICS: [&str; 5] = ["Average", "Sum", "Minimum", "Maximum", "SampleCount"];

/// `metrics_api:` of `metrics-all`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricsApi {
    #[default]
    GetMetricData,
    GetMetricStatistics,
}

/// The statistics GetMetricStatistics gives (the others, such as `p99`, need GetMetricData).
pub const BASIC_STATISTICS: [&str; 5] = DEFAULT_STATISTICS;

/// A value of `types:` (`audits_s3`, `flowlogs`, a kind the config defines), checked against
/// the block's services when the config is validated.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(transparent)]
pub struct TypeName(pub String);

impl TypeName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for TypeName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for TypeName {
    fn from(t: &str) -> Self {
        Self(t.to_string())
    }
}

/// A key of a service block that is not one of its fields: a queue key's value (a queue name or
/// URL, a number taken as its digits), or anything else, told by what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loose {
    Text(String),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Loose;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose, E> {
                Ok(Loose::Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Loose, E> {
                Ok(Loose::Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Loose, E> {
                Ok(Loose::Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Loose, E> {
                Ok(Loose::Other("a number"))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Loose, E> {
                Ok(Loose::Other("true or false"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Loose, E> {
                Ok(Loose::Other("empty"))
            }
            fn visit_none<E: de::Error>(self) -> Result<Loose, E> {
                Ok(Loose::Other("empty"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Loose::Other("a list"))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Loose::Other("a map"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A kind of S3 objects the config defines (`kinds: {NAME: ...}` of `non-cloudwatch-logs`):
/// third-party logs landed in S3 (CrowdStrike, Umbrella, Cloudflare, Okta, ...).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindDef {
    /// How an object splits into events.
    pub split: crate::formats::defined::Split,
    /// `split: records`: the top-level field holding the array of records [default: `Records`].
    pub records_field: Option<String>,
    /// The Devo table of its events; the account and region are appended, as for every kind.
    pub tag: String,
    /// A regex on the object key: this kind's objects (others announced on its queue are
    /// skipped; in an archive, the keys it claims). Named groups `account` and `region` give
    /// the tag's when records do not.
    pub keys: Option<String>,
    /// JSON splits: the top-level string field holding a record's account (and region).
    pub account_field: Option<String>,
    pub region_field: Option<String>,
}

/// `format:` of the line services: each line as it stands, or a JSON object keyed by the
/// file's own field names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LineOutput {
    #[default]
    Raw,
    Json,
}

/// A short identifier written as a number or a string (`id: 123` or `id: "abc"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShortId(pub String);

impl<'de> Deserialize<'de> for ShortId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ShortId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a short id (a number or a string)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ShortId, E> {
                Ok(ShortId(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ShortId, E> {
                Ok(ShortId(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ShortId, E> {
                Ok(ShortId(v.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

impl fmt::Display for ShortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `regions:`: a list of region names.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Regions(pub Vec<String>);

impl<'de> Deserialize<'de> for Regions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Regions;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of region names")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Regions, A::Error> {
                let mut out = Vec::new();
                while let Some(r) = seq.next_element::<String>()? {
                    out.push(r);
                }
                Ok(Regions(out))
            }
        }
        // deserialize_any, so that a scalar reaches the visitor and gets its "expected" text.
        d.deserialize_any(V)
    }
}

/// A value written as one string or a list of strings (`log_groups`); numbers are taken as
/// their digits (`expected_bucket_owner: 111122223333`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a name or a list of names")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(ShortId(r)) = seq.next_element::<ShortId>()? {
                    out.push(r);
                }
                Ok(OneOrMany(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// `start_time:` as written (ISO 8601), parsed to UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartTime(pub DateTime<Utc>);

impl<'de> Deserialize<'de> for StartTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_datetime(&text).map(StartTime).ok_or_else(|| {
            de::Error::custom(format!(
                "expected an ISO 8601 date and time such as 2024-01-31T00:00:00Z, got {text:?}"
            ))
        })
    }
}

/// `AB:CD:...` or `abcd...`: 64 hex digits, colons allowed, as a SHA-256.
pub fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let hex: Vec<u8> = text.bytes().filter(|b| *b != b':').collect();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::QueueUrl;

    #[test]
    fn queue_urls_bring_their_region() {
        let region = |u: &str| QueueUrl::parse(u).and_then(|q| q.region);
        assert_eq!(
            region("https://sqs.eu-west-1.amazonaws.com/111122223333/flow"),
            Some("eu-west-1".into())
        );
        assert_eq!(
            region("https://us-gov-west-1.queue.amazonaws.com/111122223333/flow"),
            Some("us-gov-west-1".into())
        );
        assert_eq!(
            region("https://vpce-0abc-xyz.sqs.ap-southeast-2.vpce.amazonaws.com/111122223333/q"),
            Some("ap-southeast-2".into())
        );
        assert_eq!(
            region("https://sqs.cn-north-1.amazonaws.com.cn/111122223333/q"),
            Some("cn-north-1".into())
        );
        assert_eq!(region("http://localhost:5000/123456789012/q"), None);
        let q = QueueUrl::parse("https://sqs.eu-west-1.amazonaws.com/111122223333/flow/").unwrap();
        assert_eq!(
            (q.account.as_str(), q.name.as_str()),
            ("111122223333", "flow")
        );
        assert!(QueueUrl::parse("flow-logs").is_none());
        assert!(QueueUrl::parse("https://sqs.eu-west-1.amazonaws.com/").is_none());
    }
}
