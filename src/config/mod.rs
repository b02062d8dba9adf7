//! The seed-compatible `config.yaml`: where its files live and how it is loaded; its model
//! ([`model`]), the registry of its services ([`services`]) and its validation ([`validate`]).
//!
//! The file is the one Devo's own AWS collector reads (globals / outputs / inputs.aws), so a
//! user's existing file must load unchanged. Loading happens in two passes: serde builds the typed
//! model (with the key path of any type error and a warning for every key we do not know), then
//! [`Config::validate`] checks ranges and cross-field rules the parameter table sets. Every error
//! names the file, the key path and the reason, and is raised before anything is pulled.

mod advice;
mod model;
mod plan;
mod services;
mod validate;

pub use advice::Advice;
pub use model::*;
pub use plan::{
    AuditPlan, CursorSettings, KeyFilterPlan, LogsPlan, MetricsPlan, ObjectPlan, OutputPlan, Pulls,
    QueuePlan, ServicePlan, TagChoice,
};
pub use services::{Pull, SeedKey, ServiceKind, ServiceRow};
pub use validate::{RANGES, Ranges, is_safe_id};

use std::path::{Path, PathBuf};

use serde::de;

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
    /// Keys the model does not know, by key path (warned about; `check` fails on a service key
    /// among them, a typo that would leave the service out).
    pub unknown_keys: Vec<String>,
    /// What the config may still get wrong (warned about; shown by `check`).
    pub advice: Vec<advice::Advice>,
    /// Each configured service, resolved: what the run and `check` read.
    pub plans: Vec<ServicePlan>,
    /// Each Devo output, resolved.
    pub outputs: Vec<OutputPlan>,
}

impl Loaded {
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
    let bytes = std::fs::read(file).map_err(|source| ConfigError::Read {
        file: file.to_path_buf(),
        source,
    })?;
    let text = utf8_text(bytes).map_err(|reason| ConfigError::Syntax {
        file: file.to_path_buf(),
        reason,
    })?;
    let (config, unknown_keys) = parse(&text).map_err(|e| e.in_file(file))?;
    config.validate().map_err(|e| e.in_file(file))?;
    let plans = plan::build(&config).map_err(|e| e.in_file(file))?;
    let product_dir = product_dir_of(file);
    let certs = product_dir.join("certs");
    let outputs =
        plan::outputs(&config, |name| resolve(&certs, name)).map_err(|e| e.in_file(file))?;
    for key in &unknown_keys {
        tracing::warn!(message = "Unknown key in config, ignored.", key = %key, file = %file.display());
    }
    for key in config.misplaced_keys() {
        tracing::warn!(message = "Key not read by this service, ignored.", key = %key, file = %file.display());
    }
    let advice = advice::advise(&config, file, &text);
    for a in &advice {
        tracing::warn!(message = "Config: check this.", key = %a.path, advice = %a.says);
    }
    Ok(Loaded {
        file: file.to_path_buf(),
        product_dir,
        config,
        unknown_keys,
        advice,
        plans,
        outputs,
    })
}

/// The file's text: UTF-8 (a byte-order mark dropped). UTF-16, as some Windows editors save
/// YAML, is named as such, with what to do.
fn utf8_text(bytes: Vec<u8>) -> Result<String, String> {
    let utf16 = bytes.starts_with(&[0xFF, 0xFE])
        || bytes.starts_with(&[0xFE, 0xFF])
        || bytes.iter().take(64).filter(|b| **b == 0).count() > 8;
    if utf16 {
        return Err(
            "the file is UTF-16 (as some Windows editors save text): save it as UTF-8".into(),
        );
    }
    let bytes = match bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 at byte {} (saved in another encoding, such as Latin-1?): save it as UTF-8",
            e.utf8_error().valid_up_to()
        )
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
    pub(crate) fn invalid(path: impl Into<String>, reason: impl Into<String>) -> Self {
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
        Ok(mut config) => {
            let services = &mut config.inputs.aws.services;
            services.register_defined();
            unknown.extend(services.unknown_keys());
            services.fill_default_types();
            for (key, types) in config.inputs.aws.services.defaulted_types() {
                let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
                tracing::info!(
                    message = "types not given: taking the default.",
                    service = key.as_str(),
                    types = %names.join(", ")
                );
            }
            Ok((config, unknown))
        }
        Err(e) => Err(match path_error {
            // "." is serde_path_to_error's name for the document root.
            Some((path, reason)) if path != "." => {
                let reason = plain_reason(text, &first_line(&reason));
                // serde_path_to_error's `?` stands for a key it could not name (a duplicate).
                let path = path.strip_suffix(".?").unwrap_or(&path).to_string();
                ParseError::invalid(path, reason)
            }
            Some((_, reason)) => ParseError::Syntax(first_line(&reason)),
            None => ParseError::Syntax(first_line(&e.to_string())),
        }),
    }
}

/// serde's words for a few common mistakes, said plainly: where, what is wrong, what is
/// expected.
fn plain_reason(text: &str, reason: &str) -> String {
    let (what, at) = match reason.rsplit_once(" at line ") {
        Some((what, at)) => (what, Some(at)),
        None => (reason, None),
    };
    let line_no = at
        .and_then(|a| a.split(',').next())
        .and_then(|n| n.trim().parse::<usize>().ok());
    let line = |n: usize| text.lines().nth(n.saturating_sub(1)).unwrap_or("");
    let value_at = |n: usize| {
        line(n)
            .split_once(':')
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let indent = |l: &str| l.len() - l.trim_start().len();
    let place = at.map(|a| format!(" (line {a})")).unwrap_or_default();
    if let Some(field) = what
        .strip_prefix("missing field `")
        .and_then(|f| f.strip_suffix('`'))
    {
        // The block began at line_no: its first key sets the indentation; a later key indented
        // less (but not back to the parent) ended the block early.
        if let Some(start) = line_no {
            let block = indent(line(start));
            let misplaced = text
                .lines()
                .enumerate()
                .skip(start)
                .take_while(|(_, l)| l.trim().is_empty() || indent(l) > 0)
                .find(|(_, l)| !l.trim().is_empty() && indent(l) < block && indent(l) + 2 > block);
            if let Some((i, l)) = misplaced {
                return format!(
                    "`{field}` is missing here{place}: line {} (`{}`) is indented {} spaces where this block's keys have {block}, so the block ends before it",
                    i + 1,
                    l.trim(),
                    indent(l)
                );
            }
        }
        return format!("`{field}` is missing{place}");
    }
    if what.starts_with("invalid u") || what.starts_with("invalid i") {
        let got = line_no.map(value_at).unwrap_or_default();
        return format!("expected a whole number{place}, got {got:?}");
    }
    if what == "expected mapping start" {
        return format!("expected keys under this one{place}, found nothing or a single value");
    }
    if what == "expected sequence start" {
        let got = line_no.map(value_at).unwrap_or_default();
        return format!(
            "expected a list{place}, got {got:?}: write [{got}] (or one `- item` per line below the key)"
        );
    }
    if what == "expected string scalar" {
        let got = line_no.map(value_at).unwrap_or_default();
        return format!("expected a single value{place}, got {got:?}");
    }
    if let Some(key) = what
        .strip_prefix("duplicate mapping key: ")
        .and_then(|rest| rest.split(',').next())
    {
        // The first one: back up the block (lines indented as the key, or deeper).
        let first = line_no.and_then(|n| {
            let key_indent = indent(line(n));
            (1..n)
                .rev()
                .map(|i| (i, line(i)))
                .take_while(|(_, l)| l.trim().is_empty() || indent(l) >= key_indent)
                .find(|(_, l)| {
                    indent(l) == key_indent
                        && l.trim_start()
                            .strip_prefix(key)
                            .is_some_and(|r| r.trim_start().starts_with(':'))
                })
                .map(|(i, _)| i)
        });
        let earlier = first
            .map(|i| format!(", first at line {i}"))
            .unwrap_or_default();
        return format!(
            "`{key}` is given twice in this block{place}{earlier}: keep one (YAML takes a key once per block)"
        );
    }
    reason.to_string()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
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
    fn audit_types_default_to_what_the_block_names() {
        let with = |block: &str| {
            let text = GOOD.replace(
                "      sqs-cloudwatch-consumer:",
                &format!("{block}      sqs-cloudwatch-consumer:"),
            );
            let (c, _) = parse(&text).unwrap();
            c.validate().map(|()| c)
        };
        let api = with("      audit-events-all:\n        regions: [us-east-1]\n").unwrap();
        assert_eq!(
            api.inputs.aws.services.audit.unwrap().types,
            [TypeName::from("audits_api")]
        );
        let s3 = with("      audit-events-all:\n        audit_sqs_queue_name: trail\n        regions: [us-east-1]\n").unwrap();
        assert_eq!(
            s3.inputs.aws.services.audit.unwrap().types,
            [TypeName::from("audits_s3")]
        );
        let none = with("      non-cloudwatch-logs:\n        regions: [us-east-1]\n");
        assert_eq!(
            none.err(),
            Some(ParseError::invalid(
                "inputs.aws.services.non-cloudwatch-logs.types",
                "expected a list with one or more of: flowlogs, cloudfrontlogs, alblogs, elblogs, waflogs, s3accesslogs, route53logs, guarddutyfindings, networkfirewalllogs, configlogs, cloudwatchlogs, securitylake, archive"
            ))
        );
    }

    #[test]
    fn keys_in_the_wrong_block_are_named() {
        let text = GOOD.replace(
            "        cloudwatch_sqs_queue_name: events-queue\n",
            "        cloudwatch_sqs_queue_name: events-queue\n        log_groups: /aws/x\n        delay_seconds: 60\n",
        );
        let (c, unknown) = parse(&text).unwrap();
        c.validate().unwrap();
        assert!(unknown.is_empty());
        assert_eq!(
            c.misplaced_keys(),
            [
                "inputs.aws.services.service-events-all.delay_seconds",
                "inputs.aws.services.service-events-all.log_groups"
            ]
        );
        let (example, _) = parse(include_str!("../../config.example.yaml")).unwrap();
        assert!(
            example.misplaced_keys().is_empty(),
            "{:?}",
            example.misplaced_keys()
        );
    }

    /// Queue keys are looked up by the rows' names: one no row names is unknown, one of another
    /// block misplaced, one that is not a name refused; a defined kind is checked like a type.
    #[test]
    fn queue_keys_and_defined_kinds_are_checked() {
        let with = |block: &str| {
            let text = GOOD.replace(
                "      sqs-cloudwatch-consumer:",
                &format!("{block}      sqs-cloudwatch-consumer:"),
            );
            parse(&text).and_then(|(c, unknown)| c.validate().map(|()| (c, unknown)))
        };
        let (c, unknown) = with(
            "      non-cloudwatch-logs:\n        types: [alblogs]\n        alblogs_sqs_queue_name: alb\n        albogs_sqs_queue_name: typo\n        waflogs_sqs_queue_name: waf\n        regions: [us-east-1]\n",
        )
        .unwrap();
        assert_eq!(
            unknown,
            ["inputs.aws.services.non-cloudwatch-logs.albogs_sqs_queue_name"]
        );
        assert!(
            c.misplaced_keys().is_empty(),
            "waflogs is read by this block"
        );
        let refused = |block: &str| {
            with(block).err().map(|e| match e {
                ParseError::Invalid { path, reason } => format!("{path}: {reason}"),
                ParseError::Syntax(reason) => reason,
            })
        };
        let as_list = refused(
            "      non-cloudwatch-logs:\n        types: [alblogs]\n        alblogs_sqs_queue_name: [a, b]\n        regions: [us-east-1]\n",
        );
        assert_eq!(
            as_list.as_deref(),
            Some(
                "inputs.aws.services.non-cloudwatch-logs.alblogs_sqs_queue_name: expected a queue name or URL, not a list"
            )
        );
        let kind = |name: &str, body: &str| {
            refused(&format!(
                "      non-cloudwatch-logs:\n        types: [{name}]\n        {name}_sqs_queue_name: q\n        regions: [us-east-1]\n        kinds:\n          {name}:\n{body}"
            ))
        };
        let lines = "            split: lines\n";
        assert!(
            kind("waflogs", &format!("{lines}            tag: a.b.c\n"))
                .is_some_and(|e| e.contains("waflogs is a built-in type"))
        );
        assert!(
            kind("okta", &format!("{lines}            tag: Okta Logs\n"))
                .is_some_and(|e| e.contains("kinds.okta.tag: \"Okta Logs\" is not a Devo table"))
        );
        assert!(
            kind(
                "okta",
                &format!("{lines}            tag: a.b.c\n            account_field: id\n")
            )
            .is_some_and(|e| e.contains("kinds.okta.account_field: split: lines has no fields"))
        );
        assert!(
            kind(
                "okta",
                "            split: json_lines\n            tag: a.b.c\n            keys: '(['\n"
            )
            .is_some_and(|e| e.contains("kinds.okta.keys: not a regular expression"))
        );
        assert_eq!(
            kind(
                "okta",
                "            split: json_lines\n            tag: sec.okta.system\n"
            ),
            None
        );
        let url = refused(
            "      non-cloudwatch-logs:\n        types: [alblogs]\n        alblogs_sqs_queue_name: https://sqs.eu-west-1.amazonaws.com/1234/alb\n",
        );
        assert!(url.is_some_and(|e| e.contains("alblogs_sqs_queue_name: \"https://sqs.eu-west-1.amazonaws.com/1234/alb\" is not a queue URL")));
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
        let (c, unknown) = parse(include_str!("../../config.example.yaml")).unwrap();
        c.validate().unwrap();
        assert!(unknown.is_empty(), "{unknown:?}");
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
}
