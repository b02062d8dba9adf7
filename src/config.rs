//! The seed-compatible `config.yaml`: its model, where its files live, and its validation.
//!
//! The file is the one Devo's own AWS collector reads (globals / outputs / inputs.aws), so a
//! user's existing file must load unchanged. Loading happens in two passes: serde builds the typed
//! model (with the key path of any type error and a warning for every key we do not know), then
//! [`Config::validate`] checks ranges and cross-field rules the parameter table sets. Every error
//! names the file, the key path and the reason, and is raised before anything is pulled.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::window::parse_datetime;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// The default spacing between two pulls of one service (the seed's default).
pub const DEFAULT_REQUEST_PERIOD_SECS: u64 = 300;

/// A config file that could not be used, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: not valid YAML: {reason}")]
    Syntax { file: PathBuf, reason: String },
    #[error("{file}: {path}: {reason}")]
    Invalid {
        file: PathBuf,
        path: String,
        reason: String,
    },
    #[error("{service} is not configured in {file}")]
    ServiceMissing {
        service: &'static str,
        file: PathBuf,
    },
}

/// A loaded, validated configuration and the directory layout it lives in.
#[derive(Debug)]
pub struct Loaded {
    pub file: PathBuf,
    /// `<product>/`: the parent of the `config/` directory holding the file.
    pub product_dir: PathBuf,
    pub config: Config,
}

impl Loaded {
    /// Where a certificate named in an output lives: relative names resolve in `<product>/certs/`.
    pub fn cert_path(&self, name: &str) -> PathBuf {
        resolve(&self.product_dir.join("certs"), name)
    }

    /// The state directory: `persistence.config.directory_name` under `<product>/`.
    pub fn state_dir(&self) -> PathBuf {
        resolve(
            &self.product_dir,
            &self.config.globals.persistence.config.directory_name,
        )
    }

    /// The file name to show in messages about this config.
    pub fn file(&self) -> &Path {
        &self.file
    }
}

fn resolve(base: &Path, name: &str) -> PathBuf {
    let path = Path::new(name);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// Reads, parses and validates `file`. Unknown keys are returned (and logged) by name.
pub fn load(file: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
        file: file.to_path_buf(),
        source,
    })?;
    let (config, unknown_keys) = parse(&text).map_err(|e| e.in_file(file))?;
    config.validate().map_err(|e| e.in_file(file))?;
    for key in &unknown_keys {
        tracing::warn!(message = "Unknown key in config, ignored.", key = %key, file = %file.display());
    }
    let product_dir = product_dir_of(file);
    Ok(Loaded {
        file: file.to_path_buf(),
        product_dir,
        config,
    })
}

/// `<product>/config/config.yaml` → `<product>`; a file elsewhere → its own directory.
fn product_dir_of(file: &Path) -> PathBuf {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if dir.file_name().is_some_and(|n| n == "config") {
        dir.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    } else {
        dir
    }
}

/// An error found before the file name is known.
#[derive(Debug, PartialEq)]
pub enum ParseError {
    Syntax(String),
    Invalid { path: String, reason: String },
}

impl ParseError {
    fn invalid(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            reason: reason.into(),
        }
    }

    fn in_file(self, file: &Path) -> ConfigError {
        let file = file.to_path_buf();
        match self {
            Self::Syntax(reason) => ConfigError::Syntax { file, reason },
            Self::Invalid { path, reason } => ConfigError::Invalid { file, path, reason },
        }
    }
}

/// Parses YAML text into the model, collecting the paths of keys the model does not know.
pub fn parse(text: &str) -> Result<(Config, Vec<String>), ParseError> {
    let mut unknown = Vec::new();
    let mut path_error = None;
    let result = serde_saphyr::with_deserializer_from_str(text, |de| {
        // serde_ignored writes `?` for the Some of an Option: not a key the user wrote.
        let mut on_unknown = |path: serde_ignored::Path<'_>| {
            let shown: Vec<String> = path
                .to_string()
                .split('.')
                .filter(|s| *s != "?")
                .map(String::from)
                .collect();
            unknown.push(shown.join("."));
        };
        let de = serde_ignored::Deserializer::new(de, &mut on_unknown);
        serde_path_to_error::deserialize::<_, Config>(de).map_err(|e| {
            let path = e.path().to_string();
            let reason = e.into_inner().to_string();
            path_error = Some((path, reason.clone()));
            <serde_saphyr::Error as de::Error>::custom(reason)
        })
    });
    match result {
        Ok(config) => Ok((config, unknown)),
        Err(e) => Err(match path_error {
            // "." is serde_path_to_error's name for the document root.
            Some((path, reason)) if path != "." => ParseError::invalid(path, first_line(&reason)),
            Some((_, reason)) => ParseError::Syntax(first_line(&reason)),
            None => ParseError::Syntax(first_line(&e.to_string())),
        }),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}

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
    pub kind: String,
    pub config: DevoOutput,
}

/// `outputs.<name>.config` of a `devo_platform` output.
#[derive(Debug, Deserialize)]
pub struct DevoOutput {
    /// Host name of the Devo collector or relay; also the TLS server name.
    pub address: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// Transport: only `SSL` (TLS 1.2 or 1.3) is supported.
    #[serde(rename = "type", default = "default_transport")]
    pub transport: String,
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
}

const fn default_port() -> u16 {
    443
}

fn default_transport() -> String {
    "SSL".into()
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
    /// events, securityhub: the queue EventBridge delivers to.
    pub cloudwatch_sqs_queue_name: Option<String>,
    /// audit: `audits_api` / `audits_s3`; non-cloudwatch-logs: `flowlogs` / `cloudfrontlogs`;
    /// custom_service: `logs`.
    #[serde(default)]
    pub types: Vec<String>,
    /// audit: events whose `eventName` is listed are dropped.
    #[serde(default)]
    pub drop_event_names: Vec<String>,
    /// audit (audits_s3): the queue announcing CloudTrail objects.
    pub audit_sqs_queue_name: Option<String>,
    /// S3+SQS services: a regex on the object key; only matching objects are read.
    pub s3_file_type_filter: Option<String>,
    /// metrics: namespaces to pull (default: every namespace ListMetrics returns).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// metrics: statistics to ask for.
    #[serde(default)]
    pub statistics: Vec<String>,
    /// metrics: the period of each datapoint.
    pub period_seconds: Option<u32>,
    /// audit (API), metrics, logs: how far behind now a window ends, for the source's own lag.
    pub delay_seconds: Option<u32>,
    /// flowlogs: the queue announcing VPC Flow Log objects.
    pub vpcflowlogs_sqs_queue_name: Option<String>,
    /// cloudfront: the queue announcing CloudFront log objects.
    pub cloudfrontlogs_sqs_queue_name: Option<String>,
    /// flowlogs, cloudfront: `raw` (each line as it stands, the default) or `json`.
    pub format: Option<String>,
    /// logs: one log group name or a list; a trailing `*` means a prefix.
    pub log_groups: Option<OneOrMany>,
}

impl Service {
    pub fn request_period_secs(&self) -> u64 {
        self.request_period_in_seconds
            .unwrap_or(DEFAULT_REQUEST_PERIOD_SECS)
    }

    /// `delay_seconds`, or the service's own default: how far behind now its windows end.
    pub fn delay(&self, default_secs: u64) -> std::time::Duration {
        std::time::Duration::from_secs(self.delay_seconds.map_or(default_secs, u64::from))
    }

    /// The regions to pull (validated non-empty).
    pub fn regions(&self) -> &[String] {
        self.regions.as_ref().map_or(&[], |r| r.0.as_slice())
    }

    pub fn has_type(&self, t: &str) -> bool {
        self.types.iter().any(|x| x == t)
    }
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
        d.deserialize_any(V)
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

/// A value written as one string or a list of strings (`log_groups`).
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
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(r) = seq.next_element::<String>()? {
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

const SERVICES_PATH: &str = "inputs.aws.services";

impl Config {
    /// The checks of the seed's parameter table that types alone do not make.
    pub fn validate(&self) -> Result<(), ParseError> {
        let g = &self.globals;
        check_len("globals.id", &g.id.0, 1, 5)?;
        check_len("globals.name", &g.name, 1, 64)?;
        let p = &g.persistence.config;
        match g.persistence.kind {
            PersistenceType::Filesystem => check_len(
                "globals.persistence.config.directory_name",
                &p.directory_name,
                1,
                4096,
            )?,
            PersistenceType::S3 => {
                let bucket = p.bucket.as_deref().ok_or_else(|| {
                    ParseError::invalid(
                        "globals.persistence.config.bucket",
                        "required with persistence type s3",
                    )
                })?;
                check_len("globals.persistence.config.bucket", bucket, 3, 63)?;
                check_len("globals.persistence.config.prefix", &p.prefix, 0, 512)?;
                if let Some(region) = &p.region {
                    check_len("globals.persistence.config.region", region, 1, 64)?;
                }
            }
        }
        self.devo_output()?;

        let aws = &self.inputs.aws;
        check_len("inputs.aws.id", &aws.id.0, 1, 5)?;
        if let Some(c) = &aws.credentials {
            validate_credentials(c)?;
        }
        let s = &aws.services;
        for (name, svc) in [
            ("service-events-all", &s.events),
            ("sqs-cloudwatch-consumer", &s.securityhub),
            ("audit-events-all", &s.audit),
            ("metrics-all", &s.metrics),
            ("non-cloudwatch-logs", &s.non_cloudwatch_logs),
            ("custom_service", &s.custom),
        ] {
            if let Some(svc) = svc {
                validate_service(name, svc)?;
            }
        }
        Ok(())
    }

    /// The one Devo output (the first `devo_platform` entry) and its key path.
    pub fn devo_output(&self) -> Result<(&str, &DevoOutput), ParseError> {
        let mut found = None;
        for (name, out) in &self.outputs {
            let p = format!("outputs.{name}");
            if out.kind != "devo_platform" {
                return Err(ParseError::invalid(
                    format!("{p}.type"),
                    format!(
                        "unsupported output type {:?} (supported: devo_platform)",
                        out.kind
                    ),
                ));
            }
            let c = &out.config;
            check_len(&format!("{p}.config.address"), &c.address, 1, 253)?;
            if c.address.contains(char::is_whitespace) || c.address.contains('/') {
                return Err(ParseError::invalid(
                    format!("{p}.config.address"),
                    "expected a host name such as collector-eu.devo.io",
                ));
            }
            if c.timeout_seconds == Some(0) {
                return Err(ParseError::invalid(
                    format!("{p}.config.timeout_seconds"),
                    "expected a number of seconds of at least 1",
                ));
            }
            if c.port == 0 {
                return Err(ParseError::invalid(
                    format!("{p}.config.port"),
                    "expected a port from 1 to 65535",
                ));
            }
            if !c.transport.eq_ignore_ascii_case("ssl") {
                return Err(ParseError::invalid(
                    format!("{p}.config.type"),
                    format!("unsupported transport {:?} (supported: SSL)", c.transport),
                ));
            }
            // The seed caps these names at 20 characters; real file names and absolute paths are
            // longer, so any non-empty name is accepted.
            for (key, v) in [("chain", &c.chain), ("cert", &c.cert), ("key", &c.key)] {
                check_len(&format!("{p}.config.{key}"), v, 1, 4096)?;
            }
            found.get_or_insert((name.as_str(), c));
        }
        found.ok_or_else(|| {
            ParseError::invalid("outputs", "expected one output of type devo_platform")
        })
    }
}

fn validate_credentials(c: &Credentials) -> Result<(), ParseError> {
    let p = "inputs.aws.credentials";
    for (key, v) in [
        ("access_key", &c.access_key),
        ("access_secret", &c.access_secret),
        ("base_assume_role", &c.base_assume_role),
        ("target_assume_role", &c.target_assume_role),
        ("assume_role_external_id", &c.assume_role_external_id),
    ] {
        if let Some(v) = v {
            check_len(&format!("{p}.{key}"), v, 1, 2048)?;
        }
    }
    match (&c.access_key, &c.access_secret) {
        (Some(_), None) => Err(ParseError::invalid(
            format!("{p}.access_secret"),
            "missing: access_key is set, so access_secret is required",
        )),
        (None, Some(_)) => Err(ParseError::invalid(
            format!("{p}.access_key"),
            "missing: access_secret is set, so access_key is required",
        )),
        _ if c.assume_role_external_id.is_some() && c.target_assume_role.is_none() => {
            Err(ParseError::invalid(
                format!("{p}.assume_role_external_id"),
                "only used with target_assume_role (cross-account), which is not set",
            ))
        }
        _ => Ok(()),
    }
}

/// Checks one service's keys against what that service needs.
fn validate_service(name: &str, svc: &Service) -> Result<(), ParseError> {
    let p = format!("{SERVICES_PATH}.{name}");
    validate_common(&p, svc)?;
    match name {
        "service-events-all" | "sqs-cloudwatch-consumer" => {
            require_name(
                &p,
                "cloudwatch_sqs_queue_name",
                svc.cloudwatch_sqs_queue_name.as_deref(),
            )?;
        }
        "audit-events-all" => {
            check_types(&p, &svc.types, &["audits_api", "audits_s3"])?;
            if svc.has_type("audits_s3") {
                require_name(
                    &p,
                    "audit_sqs_queue_name",
                    svc.audit_sqs_queue_name.as_deref(),
                )?;
            }
        }
        "metrics-all" => {
            for (i, stat) in svc.statistics.iter().enumerate() {
                if !is_statistic(stat) {
                    return Err(ParseError::invalid(
                        format!("{p}.statistics[{i}]"),
                        format!(
                            "{stat:?} is not a CloudWatch statistic (Average, Sum, Minimum, Maximum, SampleCount, or a percentile such as p99)"
                        ),
                    ));
                }
            }
            if let Some(period) = svc.period_seconds
                && !(matches!(period, 1 | 5 | 10 | 30) || (period >= 60 && period % 60 == 0))
            {
                return Err(ParseError::invalid(
                    format!("{p}.period_seconds"),
                    "expected 1, 5, 10, 30 or a multiple of 60",
                ));
            }
        }
        "non-cloudwatch-logs" => {
            check_types(&p, &svc.types, &["flowlogs", "cloudfrontlogs"])?;
            if svc.has_type("flowlogs") {
                require_name(
                    &p,
                    "vpcflowlogs_sqs_queue_name",
                    svc.vpcflowlogs_sqs_queue_name.as_deref(),
                )?;
            }
            if svc.has_type("cloudfrontlogs") {
                require_name(
                    &p,
                    "cloudfrontlogs_sqs_queue_name",
                    svc.cloudfrontlogs_sqs_queue_name.as_deref(),
                )?;
            }
            if let Some(f) = &svc.format
                && f != "raw"
                && f != "json"
            {
                return Err(ParseError::invalid(
                    format!("{p}.format"),
                    "expected raw or json",
                ));
            }
        }
        _ => {
            check_types(&p, &svc.types, &["logs"])?;
            match &svc.log_groups {
                Some(groups) if !groups.0.is_empty() => {
                    for (i, g) in groups.0.iter().enumerate() {
                        check_len(&format!("{p}.log_groups[{i}]"), g, 1, 512)?;
                    }
                }
                _ => {
                    return Err(ParseError::invalid(
                        format!("{p}.log_groups"),
                        "expected a log group name or a list of them",
                    ));
                }
            }
        }
    }
    if let Some(re) = &svc.s3_file_type_filter {
        regex::Regex::new(re).map_err(|e| {
            ParseError::invalid(
                format!("{p}.s3_file_type_filter"),
                first_line(&e.to_string()),
            )
        })?;
    }
    Ok(())
}

/// The five basic statistics, or an extended one such as `p99`, `p99.9`, `tm90`, `IQM`.
fn is_statistic(s: &str) -> bool {
    const BASIC: [&str; 6] = ["Average", "Sum", "Minimum", "Maximum", "SampleCount", "IQM"];
    if BASIC.contains(&s) {
        return true;
    }
    let digits = ["p", "tm", "wm", "tc", "ts", "pr"]
        .iter()
        .find_map(|prefix| s.strip_prefix(prefix));
    digits.is_some_and(|d| {
        !d.is_empty()
            && d.bytes().all(|b| {
                b.is_ascii_digit() || b == b'.' || b == b'(' || b == b')' || b == b':' || b == b'%'
            })
    })
}

fn validate_common(p: &str, c: &Service) -> Result<(), ParseError> {
    if c.regions().is_empty() {
        return Err(ParseError::invalid(
            format!("{p}.regions"),
            "expected a list of region names",
        ));
    }
    for (i, r) in c.regions().iter().enumerate() {
        if !is_region_name(r) {
            return Err(ParseError::invalid(
                format!("{p}.regions[{i}]"),
                format!("{r:?} is not a region name such as us-east-1"),
            ));
        }
    }
    if c.request_period_in_seconds == Some(0) {
        return Err(ParseError::invalid(
            format!("{p}.request_period_in_seconds"),
            "expected a number of seconds of at least 1",
        ));
    }
    Ok(())
}

/// `us-east-1`, `us-gov-west-1`, `eu-central-2`: letters, dash-separated words, a number.
fn is_region_name(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn check_types(p: &str, types: &[String], allowed: &[&str]) -> Result<(), ParseError> {
    if types.is_empty() {
        return Err(ParseError::invalid(
            format!("{p}.types"),
            format!(
                "expected a list with one or more of: {}",
                allowed.join(", ")
            ),
        ));
    }
    for (i, t) in types.iter().enumerate() {
        if !allowed.contains(&t.as_str()) {
            return Err(ParseError::invalid(
                format!("{p}.types[{i}]"),
                format!(
                    "unknown type {t:?} (expected one of: {})",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn require_name(p: &str, key: &str, v: Option<&str>) -> Result<(), ParseError> {
    let path = format!("{p}.{key}");
    match v {
        Some(v) => check_queue_name(&path, v),
        None => Err(ParseError::invalid(
            path,
            "missing: required by the types listed",
        )),
    }
}

/// SQS queue names: 1 to 80 letters, digits, `-` and `_`, optionally ending in `.fifo`.
fn check_queue_name(path: &str, v: &str) -> Result<(), ParseError> {
    let base = v.strip_suffix(".fifo").unwrap_or(v);
    if base.is_empty()
        || v.len() > 80
        || !base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ParseError::invalid(
            path,
            format!("{v:?} is not an SQS queue name (1 to 80 letters, digits, - and _)"),
        ));
    }
    Ok(())
}

fn check_len(path: &str, v: &str, min: usize, max: usize) -> Result<(), ParseError> {
    let n = v.chars().count();
    if n < min || n > max {
        return Err(ParseError::invalid(
            path,
            format!("expected {min} to {max} characters, got {n}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
globals:
  debug: false
  id: 1
  name: aws
  persistence:
    type: filesystem
    config:
      directory_name: state
outputs:
  devo_1:
    type: devo_platform
    config:
      address: collector-eu.devo.io
      port: 443
      type: SSL
      chain: chain.crt
      cert: my_domain.crt
      key: my_domain.key
inputs:
  aws:
    id: 12
    enabled: true
    credentials:
      access_key: AKIAEXAMPLE
      access_secret: very-secret
    services:
      service-events-all:
        request_period_in_seconds: 60
        cloudwatch_sqs_queue_name: events-queue
        auto_event_type: true
        regions:
          - us-east-1
          - eu-west-1
      sqs-cloudwatch-consumer:
        cloudwatch_sqs_queue_name: hub-queue
        regions: [us-east-1]
"#;

    fn invalid(text: &str) -> (String, String) {
        match parse(text).and_then(|(c, _)| c.validate().map(|()| c)) {
            Err(ParseError::Invalid { path, reason }) => (path, reason),
            other => panic!("expected an invalid-value error, got {other:?}"),
        }
    }

    #[test]
    fn seed_layout_parses() {
        let (c, unknown) = parse(GOOD).unwrap();
        c.validate().unwrap();
        assert!(unknown.is_empty(), "{unknown:?}");
        let ev = c.inputs.aws.services.events.as_ref().unwrap();
        assert_eq!(ev.regions(), ["us-east-1", "eu-west-1"]);
        assert!(ev.auto_event_type);
        assert_eq!(ev.request_period_secs(), 60);
        assert_eq!(c.inputs.aws.id.0, "12");
        let hub = c.inputs.aws.services.securityhub.as_ref().unwrap();
        assert_eq!(hub.request_period_secs(), DEFAULT_REQUEST_PERIOD_SECS);
    }

    #[test]
    fn s3_persistence_needs_a_bucket_and_unknown_types_are_refused() {
        let files = "    type: filesystem\n    config:\n      directory_name: state\n";
        let s3 = GOOD.replace(
            files,
            "    type: s3\n    config:\n      bucket: my-state\n      prefix: devo/\n",
        );
        let (c, unknown) = parse(&s3).unwrap();
        c.validate().unwrap();
        assert!(unknown.is_empty(), "{unknown:?}");
        let p = &c.globals.persistence;
        assert_eq!(p.kind, PersistenceType::S3);
        assert_eq!(
            (p.config.bucket.as_deref(), p.config.prefix.as_str()),
            (Some("my-state"), "devo/")
        );
        let (path, reason) = invalid(&s3.replace("      bucket: my-state\n", ""));
        assert_eq!(path, "globals.persistence.config.bucket");
        assert_eq!(reason, "required with persistence type s3");
        let (path, reason) = invalid(&GOOD.replace("type: filesystem", "type: redis"));
        assert_eq!(path, "globals.persistence.type");
        assert!(reason.contains("s3"), "{reason}");
    }

    #[test]
    fn regions_as_a_string_names_the_key_path() {
        let text = GOOD.replace("regions: [us-east-1]", "regions: us-east-1");
        let (path, reason) = invalid(&text);
        assert_eq!(path, "inputs.aws.services.sqs-cloudwatch-consumer.regions");
        assert!(
            reason.contains("expected a list of region names"),
            "{reason}"
        );
    }

    #[test]
    fn bad_region_name_is_pointed_at() {
        let text = GOOD.replace("- eu-west-1", "- Europe");
        let (path, _) = invalid(&text);
        assert_eq!(path, "inputs.aws.services.service-events-all.regions[1]");
    }

    #[test]
    fn wrong_type_names_the_key_path() {
        let text = GOOD.replace(
            "request_period_in_seconds: 60",
            "request_period_in_seconds: soon",
        );
        let (path, _) = invalid(&text);
        assert_eq!(
            path,
            "inputs.aws.services.service-events-all.request_period_in_seconds"
        );
    }

    #[test]
    fn unknown_keys_are_reported_by_path() {
        let text = GOOD.replace(
            "auto_event_type: true",
            "auto_event_type: true\n        colour: blue",
        );
        let (_, unknown) = parse(&text).unwrap();
        assert_eq!(unknown, ["inputs.aws.services.service-events-all.colour"]);
    }

    #[test]
    fn secret_never_in_debug_output() {
        let (c, _) = parse(GOOD).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
    }

    #[test]
    fn long_certificate_names_are_accepted() {
        let text = GOOD.replace(
            "cert: my_domain.crt",
            "cert: /etc/devo/a-rather-long-domain-name.crt",
        );
        let (c, _) = parse(&text).unwrap();
        c.validate().unwrap();
    }

    #[test]
    fn missing_secret_is_refused() {
        let text = GOOD.replace("      access_secret: very-secret\n", "");
        let (path, _) = invalid(&text);
        assert_eq!(path, "inputs.aws.credentials.access_secret");
    }

    #[test]
    fn the_example_config_loads() {
        let (c, unknown) = parse(include_str!("../config.example.yaml")).unwrap();
        c.validate().unwrap();
        assert!(unknown.is_empty(), "{unknown:?}");
    }

    #[test]
    fn statistics_are_checked() {
        assert!(is_statistic("p99.9") && is_statistic("Average") && is_statistic("tm90"));
        assert!(!is_statistic("Mean") && !is_statistic("p"));
    }

    #[test]
    fn product_dir_follows_the_seed_layout() {
        assert_eq!(
            product_dir_of(Path::new("/x/aws/config/config.yaml")),
            Path::new("/x/aws")
        );
        assert_eq!(
            product_dir_of(Path::new("config/config.yaml")),
            Path::new(".")
        );
        assert_eq!(
            product_dir_of(Path::new("/etc/devo.yaml")),
            Path::new("/etc")
        );
    }

    #[test]
    fn datetimes_in_iso_forms() {
        let want = DateTime::parse_from_rfc3339("2024-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_datetime("2024-01-02T03:04:05.000Z"), Some(want));
        assert_eq!(parse_datetime("2024-01-02T03:04:05"), Some(want));
        assert!(parse_datetime("yesterday").is_none());
    }
}
