//! The plan of each configured service: its config block resolved once, at load, into what the
//! run, `check` and the sources read. Nothing below the config reads a service's YAML block:
//! what is compiled (the key filter) or derived (defaults, the queue of the kind, the statistics,
//! the replay's roots) is done here, once, and a value that cannot be resolved is refused here
//! with its key path.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use regex::Regex;

use super::ParseError;
use super::model::{Config, LineOutput, MetricsApi, QueueUrl, S3Root, Service, parse_fingerprint};
use super::services::{Pull, ServiceKind};
use super::validate::SERVICES_PATH;
use super::validate::regex_reason;
use crate::formats::defined::Defined;
use crate::formats::objects::{ObjectKind, kind_for};

/// One configured service.
#[derive(Debug)]
pub struct ServicePlan {
    pub kind: ServiceKind,
    /// The regions pulled (never empty).
    pub regions: Vec<String>,
    /// `request_period_in_seconds`: the least spacing between two pulls.
    pub request_period: Duration,
    /// `start_time`: where a service with no saved state starts.
    pub start_time: Option<DateTime<Utc>>,
    /// How events are tagged.
    pub tags: TagChoice,
    /// How it pulls, with what only that way reads.
    pub pulls: Pulls,
}

/// What the config says of a service's tags.
#[derive(Debug, Clone, Copy)]
pub struct TagChoice {
    /// `auto_event_type`: the table by the event's own type.
    pub by_event_type: bool,
    /// `use_region_and_account_id_from_event`.
    pub from_event: bool,
}

/// How a service pulls.
#[derive(Debug)]
pub enum Pulls {
    /// EventBridge events (Security Hub findings) from a queue.
    Events { queue: QueuePlan },
    /// S3 objects announced on a queue, and listed in buckets by a replay.
    Objects {
        queue: QueuePlan,
        objects: ObjectPlan,
    },
    /// CloudTrail's LookupEvents.
    Audit(AuditPlan),
    /// CloudWatch metrics.
    Metrics(MetricsPlan),
    /// CloudWatch Logs groups.
    Logs(LogsPlan),
}

/// The queue a service consumes.
#[derive(Debug)]
pub struct QueuePlan {
    pub name: String,
    /// Its URL, when the config gave one (no GetQueueUrl then).
    pub url: Option<String>,
    /// `max_receive_count`: a message that cannot be understood is deleted once received this
    /// many times (none: left to the queue's redrive policy).
    pub max_receive_count: Option<u32>,
}

/// What an S3 service reads objects with.
#[derive(Debug)]
pub struct ObjectPlan {
    /// The kinds it reads, by their `types` spelling: one, or for an archive each kind whose
    /// format claims a key by its layout ([`ObjectPlan::kind_of`]).
    pub kinds: Vec<(&'static str, ObjectKind)>,
    /// An archive: each object's kind is chosen by its key.
    pub by_key: bool,
    /// `cloudwatchlogs_routes`.
    pub log_routes: std::sync::Arc<Vec<crate::formats::firehose::LogRoute>>,
    /// `format: json`: line events as JSON objects.
    pub json: bool,
    /// `drop_event_names`.
    pub drop_event_names: HashSet<String>,
    /// `s3_file_type_filter`, compiled.
    pub key_filter: Option<KeyFilterPlan>,
    /// `expected_bucket_owner` (none: any).
    pub expected_owners: Vec<String>,
    /// `s3_buckets` of its type: where a replay lists (none: a replay is refused).
    pub replay_roots: Vec<S3Root>,
    /// Their key path, for the refusal.
    pub replay_roots_path: String,
}

impl ObjectPlan {
    /// The kind (`types` spelling, format) of the object at `key`: the one kind of a service,
    /// or the archive's kind whose format claims the key (none: no kind of the archive does).
    pub fn kind_of(&self, key: &str) -> Option<(&'static str, ObjectKind)> {
        let at = kind_for(self.kinds.iter().map(|(_, k)| *k), self.by_key, key)?;
        self.kinds.get(at).copied()
    }

    /// Whether the object at `key` is read (of a kind read, and a file of its format).
    pub fn reads(&self, key: &str) -> bool {
        self.kind_of(key).is_some_and(|(_, k)| k.reads_key(key))
    }
}

/// `s3_file_type_filter`, compiled, with its key path.
#[derive(Debug)]
pub struct KeyFilterPlan {
    pub path: String,
    pub regex: Regex,
}

/// What a service pulled by time reads.
#[derive(Debug, Clone)]
pub struct CursorSettings {
    /// `delay_seconds`, or the kind's default.
    pub delay: Duration,
}

/// `audit` from the API.
#[derive(Debug)]
pub struct AuditPlan {
    pub cursor: CursorSettings,
    /// `drop_event_names`.
    pub drop_event_names: HashSet<String>,
}

/// `metrics`.
#[derive(Debug)]
pub struct MetricsPlan {
    pub cursor: CursorSettings,
    /// `period_seconds`.
    pub period: u32,
    /// `statistics`, or the default ones.
    pub statistics: Vec<String>,
    /// `namespaces` (empty: every namespace).
    pub namespaces: Vec<String>,
    pub api: MetricsApi,
    /// `include_linked_accounts`.
    pub include_linked_accounts: bool,
}

/// `logs`.
#[derive(Debug)]
pub struct LogsPlan {
    pub cursor: CursorSettings,
    /// `log_groups`: names, and prefixes ending in `*`.
    pub groups: Vec<String>,
    /// `late_events_seconds` (None: no late sweep).
    pub late_window: Option<Duration>,
    /// `include_linked_accounts`.
    pub include_linked_accounts: bool,
}

impl ServicePlan {
    /// The queue it consumes, if it consumes one.
    pub fn queue(&self) -> Option<&str> {
        match &self.pulls {
            Pulls::Events { queue } | Pulls::Objects { queue, .. } => Some(&queue.name),
            _ => None,
        }
    }

    /// What it reads objects with, if it reads S3 objects.
    pub fn objects(&self) -> Option<&ObjectPlan> {
        match &self.pulls {
            Pulls::Objects { objects, .. } => Some(objects),
            _ => None,
        }
    }
}

/// One Devo output, resolved: its files where they are, its pin parsed.
#[derive(Debug)]
pub struct OutputPlan {
    /// Its name under `outputs`.
    pub name: String,
    pub address: String,
    pub port: u16,
    pub chain: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub verify_hostname: bool,
    /// `server_fingerprint`, parsed.
    pub server_fingerprint: Option<[u8; 32]>,
    /// `timeout_seconds`.
    pub timeout: Option<Duration>,
    /// `octet_counting`.
    pub octet_counting: bool,
}

/// The plan of every Devo output of `config` (validated); certificate names resolve with
/// `cert_path`.
pub fn outputs(
    config: &Config,
    cert_path: impl Fn(&str) -> PathBuf,
) -> Result<Vec<OutputPlan>, ParseError> {
    config
        .devo_outputs()?
        .into_iter()
        .map(|(name, out)| {
            let server_fingerprint = match &out.server_fingerprint {
                None => None,
                Some(pin) => Some(parse_fingerprint(pin).ok_or_else(|| {
                    ParseError::invalid(
                        format!("outputs.{name}.config.server_fingerprint"),
                        "expected a SHA-256 fingerprint: 64 hex digits, colons allowed",
                    )
                })?),
            };
            Ok(OutputPlan {
                name: name.to_string(),
                address: out.address.clone(),
                port: out.port,
                chain: cert_path(&out.chain),
                cert: cert_path(&out.cert),
                key: cert_path(&out.key),
                verify_hostname: out.verify_hostname,
                server_fingerprint,
                timeout: out.timeout_seconds.map(Duration::from_secs),
                octet_counting: out.octet_counting,
            })
        })
        .collect()
}

/// The plan of every service `config` defines (validated), in the registry's order.
pub fn build(config: &Config) -> Result<Vec<ServicePlan>, ParseError> {
    let services = &config.inputs.aws.services;
    services
        .kinds()
        .into_iter()
        .filter_map(|kind| kind.configured(services).map(|svc| (kind, svc)))
        .map(|(kind, svc)| plan(kind, svc))
        .collect()
}

fn plan(kind: ServiceKind, svc: &Service) -> Result<ServicePlan, ParseError> {
    let path = format!("{SERVICES_PATH}.{}", kind.seed_key().as_str());
    let cursor = || CursorSettings {
        delay: svc.delay(kind.default_delay_secs()),
    };
    let queue = || {
        let name = kind.queue(svc).map(String::from).ok_or_else(|| {
            ParseError::invalid(
                format!("{path}.{}", kind.queue_key().unwrap_or("queue")),
                "expected a queue name",
            )
        })?;
        let url = QueueUrl::parse(&name);
        Ok::<_, ParseError>(QueuePlan {
            name: url.as_ref().map_or(name.clone(), |u| u.name.clone()),
            url: url.map(|u| u.url),
            max_receive_count: svc.max_receive_count,
        })
    };
    let drop_event_names = || svc.drop_event_names.iter().cloned().collect();
    let t = kind.selected_by().unwrap_or_default();
    let pulls = match kind.row().pull {
        Pull::QueueEvents | Pull::QueueFindings => Pulls::Events { queue: queue()? },
        Pull::Objects(format) => Pulls::Objects {
            queue: queue()?,
            objects: object_plan(kind, vec![(t, ObjectKind::Format(format))], svc, &path)?,
        },
        Pull::Defined => Pulls::Objects {
            queue: queue()?,
            objects: object_plan(kind, vec![(t, defined(svc, t, &path)?)], svc, &path)?,
        },
        Pull::Archive => Pulls::Objects {
            queue: queue()?,
            objects: object_plan(kind, archive_kinds(svc, &path)?, svc, &path)?,
        },
        Pull::AuditApi => Pulls::Audit(AuditPlan {
            cursor: cursor(),
            drop_event_names: drop_event_names(),
        }),
        Pull::Metrics => Pulls::Metrics(MetricsPlan {
            cursor: cursor(),
            period: svc.period_secs(),
            statistics: svc.statistics().into_iter().map(String::from).collect(),
            namespaces: svc.namespaces.clone(),
            api: svc.metrics_api,
            include_linked_accounts: svc.include_linked_accounts,
        }),
        Pull::Logs => {
            let late = Duration::from_secs(svc.late_events_secs());
            Pulls::Logs(LogsPlan {
                cursor: cursor(),
                groups: svc
                    .log_groups
                    .as_ref()
                    .map(|g| g.0.clone())
                    .unwrap_or_default(),
                late_window: (!late.is_zero()).then_some(late),
                include_linked_accounts: svc.include_linked_accounts,
            })
        }
    };
    Ok(ServicePlan {
        kind,
        regions: svc.regions_for(kind.selected_by(), kind.queue(svc)),
        request_period: Duration::from_secs(svc.request_period_secs()),
        start_time: svc.start_time.map(|t| t.0),
        tags: TagChoice {
            by_event_type: svc.auto_event_type,
            from_event: svc.use_region_and_account_id_from_event,
        },
        pulls,
    })
}

/// The kinds an archive reads: `archive_kinds`, else every built-in kind read from S3 and every
/// kind the block defines with `keys` (how its objects are found among the others).
fn archive_kinds(svc: &Service, path: &str) -> Result<Vec<(&'static str, ObjectKind)>, ParseError> {
    let mut kinds = Vec::new();
    for kind in ServiceKind::archivable_in(svc) {
        let Some(t) = kind.selected_by() else {
            continue;
        };
        let listed = svc.archive_kinds.iter().any(|a| a.as_str() == t);
        let by_default =
            svc.archive_kinds.is_empty() && svc.kinds.get(t).is_none_or(|def| def.keys.is_some());
        if !(listed || by_default) {
            continue;
        }
        let read = match kind.object_format() {
            Some(format) => ObjectKind::Format(format),
            None => defined(svc, t, path)?,
        };
        kinds.push((t, read));
    }
    Ok(kinds)
}

/// The kind `name` the block defines, resolved for the run (its `keys` compiled).
fn defined(svc: &Service, name: &str, path: &str) -> Result<ObjectKind, ParseError> {
    let path = format!("{path}.kinds.{name}");
    let def = svc
        .kinds
        .get(name)
        .ok_or_else(|| ParseError::invalid(&path, "no such kind is defined"))?;
    let keys =
        match &def.keys {
            Some(pattern) => Some(Regex::new(pattern).map_err(|e| {
                ParseError::invalid(format!("{path}.keys"), regex_reason(pattern, &e))
            })?),
            None => None,
        };
    let resolved = Defined::new(
        name,
        def.split,
        &def.tag,
        def.records_field.as_deref(),
        def.account_field.as_deref(),
        def.region_field.as_deref(),
        keys,
    );
    Ok(ObjectKind::Defined(Box::leak(Box::new(resolved))))
}

fn object_plan(
    kind: ServiceKind,
    kinds: Vec<(&'static str, ObjectKind)>,
    svc: &Service,
    path: &str,
) -> Result<ObjectPlan, ParseError> {
    let key_filter = match &svc.s3_file_type_filter {
        None => None,
        Some(pattern) => {
            let path = format!("{path}.s3_file_type_filter");
            let regex = Regex::new(pattern)
                .map_err(|e| ParseError::invalid(&path, regex_reason(pattern, &e)))?;
            Some(KeyFilterPlan { path, regex })
        }
    };
    let t = kind.selected_by();
    Ok(ObjectPlan {
        by_key: kind.row().pull.routes_by_key(),
        log_routes: std::sync::Arc::new(svc.cloudwatchlogs_routes.clone()),
        kinds,
        json: svc.format == LineOutput::Json,
        drop_event_names: svc.drop_event_names.iter().cloned().collect(),
        key_filter,
        expected_owners: svc
            .expected_bucket_owner
            .as_ref()
            .map(|o| o.0.clone())
            .unwrap_or_default(),
        replay_roots: t.map(|t| svc.replay_roots(t)).unwrap_or_default(),
        replay_roots_path: format!("{path}.s3_buckets.{}", t.unwrap_or_default()),
    })
}
