//! What a valid config may still get wrong: keys no selected type reads, names that match
//! nothing as written, a secret in a file others can read, a value YAML cut at a comment. Each
//! is a warning with its key path, said by every run and shown by `check`; none stops a run.

use std::path::Path;

use super::SeedKey;
use super::model::{Config, Credentials, Service};
use super::validate::SERVICES_PATH;

/// One piece of advice: the key path (or file) it is about, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    pub path: String,
    pub says: String,
}

impl Advice {
    fn new(path: impl Into<String>, says: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            says: says.into(),
        }
    }
}

/// Every piece of advice on `config`, read from `file` whose text is `text`.
pub fn advise(config: &Config, file: &Path, text: &str) -> Vec<Advice> {
    let mut out = Vec::new();
    for key in SeedKey::ALL {
        if let Some(svc) = config.inputs.aws.services.get(key) {
            let p = format!("{SERVICES_PATH}.{}", key.as_str());
            unselected_keys(key, &p, svc, &mut out);
            if key == SeedKey::AuditEventsAll {
                event_names(&p, svc, &mut out);
            }
            if key == SeedKey::MetricsAll {
                namespaces(&p, svc, &mut out);
            }
        }
    }
    if let Some(c) = &config.inputs.aws.credentials {
        credentials(c, file, text, &mut out);
    }
    out
}

/// Keys of a type the block's `types` does not list: the queue is never read.
fn unselected_keys(key: SeedKey, p: &str, svc: &Service, out: &mut Vec<Advice>) {
    let mut reads_s3 = false;
    for kind in key.kinds(Some(svc)) {
        let selected = kind.selected_by().is_none_or(|t| svc.has_type(t));
        reads_s3 |= selected && kind.reads_objects();
        let (Some(t), Some(queue_key), Some(_)) =
            (kind.selected_by(), kind.queue_key(), kind.queue(svc))
        else {
            continue;
        };
        if !selected {
            out.push(Advice::new(
                format!("{p}.{queue_key}"),
                format!(
                    "not read: types does not list {t} (add {t} to types to read this queue, or remove the key)"
                ),
            ));
        }
    }
    if !reads_s3 && svc.s3_file_type_filter.is_some() && key != SeedKey::CustomService {
        out.push(Advice::new(
            format!("{p}.s3_file_type_filter"),
            "not read: types lists no type read from S3",
        ));
    }
}

/// CloudTrail's event names most often dropped: a name written in another case is matched to
/// one of these in the advice.
const COMMON_EVENT_NAMES: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "ConsoleLogin",
    "CreateLogStream",
    "Decrypt",
    "DescribeInstances",
    "Encrypt",
    "GenerateDataKey",
    "GetBucketAcl",
    "GetBucketLocation",
    "GetCallerIdentity",
    "GetObject",
    "GetSecretValue",
    "HeadObject",
    "ListBuckets",
    "ListObjects",
    "LookupEvents",
    "PutLogEvents",
    "PutObject",
];

/// `drop_event_names` are matched exactly, and CloudTrail's names are CamelCase: a name with no
/// capital letter drops nothing.
fn event_names(p: &str, svc: &Service, out: &mut Vec<Advice>) {
    for (i, name) in svc.drop_event_names.iter().enumerate() {
        if name.chars().any(|c| c.is_ascii_uppercase()) {
            continue;
        }
        let meant = COMMON_EVENT_NAMES
            .iter()
            .find(|known| known.eq_ignore_ascii_case(name))
            .map_or_else(
                || "write it as CloudTrail does, such as Decrypt or AssumeRole".to_string(),
                |known| format!("did you mean {known}?"),
            );
        out.push(Advice::new(
            format!("{p}.drop_event_names[{i}]"),
            format!(
                "{name:?} drops nothing: CloudTrail's event names are CamelCase and matched exactly; {meant}"
            ),
        ));
    }
}

/// AWS's own namespaces, under `AWS/`: one written without it names a custom namespace that has
/// no metrics.
const AWS_NAMESPACES: &[&str] = &[
    "ApiGateway",
    "ApplicationELB",
    "AutoScaling",
    "Billing",
    "CertificateManager",
    "CloudFront",
    "DynamoDB",
    "EBS",
    "EC2",
    "ECS",
    "EFS",
    "EKS",
    "ELB",
    "ES",
    "ElastiCache",
    "Events",
    "Firehose",
    "GuardDuty",
    "KMS",
    "Kafka",
    "Kinesis",
    "Lambda",
    "Logs",
    "NATGateway",
    "NetworkELB",
    "NetworkFirewall",
    "RDS",
    "Redshift",
    "Route53",
    "S3",
    "SES",
    "SNS",
    "SQS",
    "States",
    "TransitGateway",
    "Usage",
    "VPN",
    "WAFV2",
];

fn namespaces(p: &str, svc: &Service, out: &mut Vec<Advice>) {
    for (i, ns) in svc.namespaces.iter().enumerate() {
        if ns.contains('/') {
            continue;
        }
        if let Some(known) = AWS_NAMESPACES.iter().find(|k| k.eq_ignore_ascii_case(ns)) {
            out.push(Advice::new(
                format!("{p}.namespaces[{i}]"),
                format!(
                    "{ns:?} is a custom namespace, and AWS's own are under AWS/: did you mean AWS/{known}?"
                ),
            ));
        }
    }
}

fn credentials(c: &Credentials, file: &Path, text: &str, out: &mut Vec<Advice>) {
    let p = "inputs.aws.credentials";
    if c.access_secret.is_some()
        && let Some(mode) = readable_by_others(file)
    {
        out.push(Advice::new(
            file.display().to_string(),
            format!(
                "mode {mode:04o} lets group or others read the access_secret it holds: chmod 600 it (or 640 with root as its owner)"
            ),
        ));
    }
    if c.assume_role_external_id.is_some() && cut_at_comment(text, "assume_role_external_id") {
        out.push(Advice::new(
            format!("{p}.assume_role_external_id"),
            "YAML takes what follows \" #\" as a comment, and the external id as what comes before it: if the # belongs to the id, quote the whole value ('...')",
        ));
    }
    if c.access_key.is_some() && std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        out.push(Advice::new(
            format!("{p}.access_key"),
            "AWS_ACCESS_KEY_ID is set in the environment too, and is not used: the config's keys are (remove one of them)",
        ));
    }
}

/// The file's mode when group or others may read it.
fn readable_by_others(file: &Path) -> Option<u32> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(file).ok()?;
    let mode = meta.permissions().mode() & 0o777;
    let allowed = if meta.uid() == 0 { 0o037 } else { 0o077 };
    (mode & allowed & 0o044 != 0).then_some(mode)
}

/// Whether `key`'s value is plain (unquoted) and holds ` #`, where YAML starts a comment.
fn cut_at_comment(text: &str, key: &str) -> bool {
    text.lines().any(|line| {
        let Some((k, value)) = line.trim_start().split_once(':') else {
            return false;
        };
        let value = value.trim_start();
        k.trim() == key
            && !value.starts_with(['\'', '"'])
            && value
                .split_once(" #")
                .is_some_and(|(v, _)| !v.trim().is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_value_with_a_comment_is_seen_cut() {
        assert!(cut_at_comment(
            "  assume_role_external_id: acme #42\n",
            "assume_role_external_id"
        ));
        assert!(!cut_at_comment(
            "  assume_role_external_id: 'acme #42'\n",
            "assume_role_external_id"
        ));
        assert!(!cut_at_comment(
            "  assume_role_external_id: acme\n  # a comment\n",
            "assume_role_external_id"
        ));
    }
}
