//! The checks of the seed's parameter table that types alone do not make: ranges, names, and
//! what each service needs, driven by the registry of services.

use super::model::*;
use super::{ParseError, Pull, SeedKey, ServiceKind};

pub(crate) const SERVICES_PATH: &str = "inputs.aws.services";

impl Config {
    /// The checks of the seed's parameter table that types alone do not make.
    pub fn validate(&self) -> Result<(), ParseError> {
        let g = &self.globals;
        check_id("globals.id", &g.id.0)?;
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
                if p.prefix.split('/').any(|part| part == "..")
                    || p.prefix.starts_with('/')
                    || p.prefix.chars().any(char::is_control)
                {
                    return Err(ParseError::invalid(
                        "globals.persistence.config.prefix",
                        "expected a key prefix such as devo-aws/ (no leading /, no .. parts)",
                    ));
                }
                if let Some(region) = &p.region {
                    check_len("globals.persistence.config.region", region, 1, 64)?;
                }
            }
        }
        self.devo_outputs()?;

        let aws = &self.inputs.aws;
        check_id("inputs.aws.id", &aws.id.0)?;
        if let Some(c) = &aws.credentials {
            validate_credentials(c)?;
        }
        for (unit, price) in &aws.prices_usd_per_million {
            let path = format!("inputs.aws.prices_usd_per_million.{unit}");
            if crate::bill::Unit::from_name(unit).is_none() {
                let names: Vec<&str> = crate::bill::Unit::ALL.iter().map(|u| u.name()).collect();
                return Err(ParseError::invalid(
                    path,
                    format!("not a billed unit: expected one of {}", names.join(", ")),
                ));
            }
            if !price.is_finite() || !(0.0..=1_000_000.0).contains(price) {
                return Err(ParseError::invalid(
                    path,
                    format!("{price} is out of range: expected 0 to 1000000 (USD per million)"),
                ));
            }
        }
        if SeedKey::ALL.iter().all(|k| aws.services.get(*k).is_none()) {
            let names: Vec<&str> = SeedKey::ALL.iter().map(|k| k.as_str()).collect();
            return Err(ParseError::invalid(
                SERVICES_PATH,
                format!("no service is configured: add one of {}", names.join(", ")),
            ));
        }
        for key in SeedKey::ALL {
            if let Some(svc) = aws.services.get(key) {
                validate_block(key, svc)?;
            }
        }
        check_queues_unshared(&aws.services)
    }

    /// Keys set in a service block that does not read them (`log_groups` under
    /// `service-events-all`), by key path: warned about like unknown keys.
    pub fn misplaced_keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        let services = &self.inputs.aws.services;
        let queue_keys = services.queue_keys();
        for key in SeedKey::ALL {
            let Some(svc) = services.get(key) else {
                continue;
            };
            let queues = svc.rest.keys().map(String::as_str);
            let set = svc
                .specific_keys()
                .into_iter()
                .chain(queues.filter(|k| queue_keys.contains(k)));
            for k in set {
                if !key.reads(svc, k) {
                    out.push(format!("{SERVICES_PATH}.{}.{k}", key.as_str()));
                }
            }
        }
        out
    }

    /// The Devo outputs, by name: every event goes to each of them.
    pub fn devo_outputs(&self) -> Result<Vec<(&str, &DevoOutput)>, ParseError> {
        let mut found = Vec::new();
        for (name, out) in &self.outputs {
            let p = format!("outputs.{name}");
            // The one output type there is; serde refused any other.
            let OutputType::DevoPlatform = out.kind;
            let c = &out.config;
            check_len(&format!("{p}.config.address"), &c.address, 1, 253)?;
            if let Some((host, port)) = c.address.rsplit_once(':')
                && !host.contains(':')
                && port.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(ParseError::invalid(
                    format!("{p}.config.address"),
                    format!(
                        "{:?} holds a port: write address: {host} and port: {port} (the port has its own key)",
                        c.address
                    ),
                ));
            }
            if c.address.contains(char::is_whitespace) || c.address.contains('/') {
                return Err(ParseError::invalid(
                    format!("{p}.config.address"),
                    "expected a host name such as collector-eu.devo.io",
                ));
            }
            check_range(
                &format!("{p}.config.timeout_seconds"),
                c.timeout_seconds,
                RANGES.timeout_seconds,
            )?;
            check_range(
                &format!("{p}.config.port"),
                Some(u64::from(c.port)),
                RANGES.port,
            )?;
            // (server_fingerprint is parsed, once, by the plan: `plan::outputs`.)
            // The seed caps these names at 20 characters; real file names and absolute paths are
            // longer, so any non-empty name is accepted.
            for (key, v) in [("chain", &c.chain), ("cert", &c.cert), ("key", &c.key)] {
                check_len(&format!("{p}.config.{key}"), v, 1, 4096)?;
            }
            found.push((name.as_str(), c));
        }
        if found.is_empty() {
            return Err(ParseError::invalid(
                "outputs",
                "expected at least one output of type devo_platform",
            ));
        }
        Ok(found)
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
    for (key, role) in [
        ("base_assume_role", &c.base_assume_role),
        ("target_assume_role", &c.target_assume_role),
    ] {
        if let Some(role) = role
            && !is_role_arn(role)
        {
            let name = role.rsplit('/').next().unwrap_or(role);
            return Err(ParseError::invalid(
                format!("{p}.{key}"),
                format!(
                    "{role:?} is not a role ARN: write the whole ARN, such as arn:aws:iam::111122223333:role/{name} (arn:aws-us-gov: or arn:aws-cn: in those partitions)"
                ),
            ));
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

/// `arn:<partition>:iam::<12 digits>:role/<path and name>`.
fn is_role_arn(s: &str) -> bool {
    let Some(["arn", partition, "iam", "", account, resource]) = arn_fields(s) else {
        return false;
    };
    partition.starts_with("aws")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource
            .strip_prefix("role/")
            .is_some_and(|name| !name.is_empty() && !name.ends_with('/'))
}

/// Checks one service block's keys against what its services need.
fn validate_block(key: SeedKey, svc: &Service) -> Result<(), ParseError> {
    let p = format!("{SERVICES_PATH}.{}", key.as_str());
    validate_common(&p, svc)?;
    check_defined_kinds(&p, svc)?;
    let allowed = key.allowed_types(svc);
    if !allowed.is_empty() {
        check_types(&p, &svc.types, &allowed)?;
    }
    for kind in key.kinds(Some(svc)) {
        if kind.selected_by().is_some_and(|t| !svc.has_type(t)) {
            continue;
        }
        if let Some(queue_key) = kind.queue_key() {
            if let Some(Loose::Other(what)) = svc.rest.get(queue_key) {
                return Err(ParseError::invalid(
                    format!("{p}.{queue_key}"),
                    format!("expected a queue name or URL, not {what}"),
                ));
            }
            require_name(&p, queue_key, kind.queue(svc))?;
        }
        if svc
            .regions_for(kind.selected_by(), kind.queue(svc))
            .is_empty()
        {
            return Err(ParseError::invalid(
                format!("{p}.regions"),
                "expected a list of region names",
            ));
        }
        validate_kind(kind, &p, svc)?;
    }
    check_regions_by_type(&p, svc)?;
    if let Some(owners) = &svc.expected_bucket_owner {
        for (i, account) in owners.0.iter().enumerate() {
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseError::invalid(
                    format!("{p}.expected_bucket_owner[{i}]"),
                    format!("{account:?} is not an AWS account id (12 digits)"),
                ));
            }
        }
    }
    check_buckets(&p, svc)?;
    check_archive_kinds(&p, svc)?;
    for (i, route) in svc.cloudwatchlogs_routes.iter().enumerate() {
        let named = |v: &Option<String>| v.as_deref().is_some_and(|p| !p.is_empty());
        if !named(&route.log_group) && !named(&route.log_stream) {
            return Err(ParseError::invalid(
                format!("{p}.cloudwatchlogs_routes[{i}]"),
                "a route names a log_group, a log_stream or both (`*` stands for any run of characters)",
            ));
        }
    }
    if let Some(re) = &svc.s3_file_type_filter {
        let path = format!("{p}.s3_file_type_filter");
        if let Some(quote) = re.chars().find(|c| TYPOGRAPHIC_QUOTES.contains(c)) {
            let bare: String = re
                .chars()
                .filter(|c| !TYPOGRAPHIC_QUOTES.contains(c))
                .collect();
            return Err(ParseError::invalid(
                path,
                format!(
                    "{re:?} holds a typographic quote ({quote}), as text pasted from a web page or a word processor does: no key holds one, so nothing would be read. Write the pattern with straight quotes or none: s3_file_type_filter: '{bare}'"
                ),
            ));
        }
        regex::Regex::new(re).map_err(|e| ParseError::invalid(path, regex_reason(re, &e)))?;
    }
    Ok(())
}

/// `regions_by_type`: keyed by a type this block lists, each a list of region names.
fn check_regions_by_type(p: &str, svc: &Service) -> Result<(), ParseError> {
    for (t, regions) in &svc.regions_by_type {
        let path = format!("{p}.regions_by_type.{}", t.as_str());
        if !svc.has_type(t.as_str()) {
            return Err(ParseError::invalid(
                path,
                format!("{} is not among this block's types", t.as_str()),
            ));
        }
        if regions.0.is_empty() {
            return Err(ParseError::invalid(path, "expected a list of region names"));
        }
        for (i, r) in regions.0.iter().enumerate() {
            if !is_region_name(r) {
                return Err(ParseError::invalid(
                    format!("{path}[{i}]"),
                    format!("{r:?} is not a region name such as us-east-1"),
                ));
            }
        }
    }
    Ok(())
}

/// `archive_kinds`: each a kind read from S3 (one an archive can route to).
fn check_archive_kinds(p: &str, svc: &Service) -> Result<(), ParseError> {
    let routable: Vec<&str> = ServiceKind::archivable_in(svc)
        .filter_map(ServiceKind::selected_by)
        .collect();
    for (i, t) in svc.archive_kinds.iter().enumerate() {
        if svc
            .kinds
            .get(t.as_str())
            .is_some_and(|def| def.keys.is_none())
        {
            return Err(ParseError::invalid(
                format!("{p}.archive_kinds[{i}]"),
                format!(
                    "{} has no keys: an archive finds a kind's objects by its keys (a regex on the object key)",
                    t.as_str()
                ),
            ));
        }
        if !routable.contains(&t.as_str()) {
            return Err(ParseError::invalid(
                format!("{p}.archive_kinds[{i}]"),
                format!(
                    "{} is not a kind an archive reads (kinds: {})",
                    t.as_str(),
                    routable.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// `kinds`: each name a type of its own (not a built-in one's), a table as Devo's are written,
/// and a `keys` regex that compiles.
fn check_defined_kinds(p: &str, svc: &Service) -> Result<(), ParseError> {
    for (name, def) in &svc.kinds {
        let path = format!("{p}.kinds.{name}");
        let valid = !name.is_empty()
            && name.len() <= 40
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(ParseError::invalid(
                path,
                "a kind's name is 1 to 40 lower-case letters, digits and `_` (it names its queue key, state and summary)",
            ));
        }
        if ServiceKind::builtin().any(|k| k.selected_by() == Some(name.as_str())) {
            return Err(ParseError::invalid(
                path,
                format!("{name} is a built-in type: give the kind a name of its own"),
            ));
        }
        let levels: Vec<&str> = def.tag.split('.').collect();
        let tag_ok = levels.len() >= 3
            && levels.iter().all(|l| {
                !l.is_empty()
                    && l.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                    })
            });
        if !tag_ok {
            return Err(ParseError::invalid(
                format!("{path}.tag"),
                format!(
                    "{:?} is not a Devo table such as my.app.umbrella.dns (three or more levels of lower-case letters, digits, `_` and `-`; the account and region are appended)",
                    def.tag
                ),
            ));
        }
        if let Some(pattern) = &def.keys {
            regex::Regex::new(pattern).map_err(|e| {
                ParseError::invalid(format!("{path}.keys"), regex_reason(pattern, &e))
            })?;
        }
        let json = !matches!(def.split, crate::formats::defined::Split::Lines);
        for (field, value) in [
            ("account_field", &def.account_field),
            ("region_field", &def.region_field),
        ] {
            if value.is_some() && !json {
                return Err(ParseError::invalid(
                    format!("{path}.{field}"),
                    "split: lines has no fields: take the account and region from the key (named groups of keys)",
                ));
            }
        }
        if def.records_field.is_some() && def.split != crate::formats::defined::Split::Records {
            return Err(ParseError::invalid(
                format!("{path}.records_field"),
                "read only with split: records",
            ));
        }
    }
    Ok(())
}

/// Quotes a word processor or a web page puts for straight ones.
const TYPOGRAPHIC_QUOTES: [char; 6] = ['‘', '’', '“', '”', '‚', '„'];

/// `s3_buckets`: keyed by a type this block reads from S3, each value an S3 URL.
fn check_buckets(p: &str, svc: &Service) -> Result<(), ParseError> {
    for (t, urls) in &svc.s3_buckets {
        let path = format!("{p}.s3_buckets.{}", t.as_str());
        let reads_objects = SeedKey::ALL
            .into_iter()
            .flat_map(|key| key.kinds(Some(svc)).collect::<Vec<_>>())
            .any(|k| k.selected_by() == Some(t.as_str()) && k.reads_objects());
        if !reads_objects || !svc.has_type(t.as_str()) {
            return Err(ParseError::invalid(
                path,
                format!(
                    "{} is not a type this block reads from S3 (its types: {})",
                    t.as_str(),
                    svc.types
                        .iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        if urls.0.is_empty() {
            return Err(ParseError::invalid(
                path,
                "expected an S3 URL or a list of them",
            ));
        }
        for (i, url) in urls.0.iter().enumerate() {
            S3Root::parse(url).map_err(|why| ParseError::invalid(format!("{path}[{i}]"), why))?;
        }
    }
    Ok(())
}

/// The regex crate's report of a bad pattern in one line: what is wrong and where, with the
/// pattern marked (its own text spans lines, the first of which says only "regex parse error:").
pub(super) fn regex_reason(pattern: &str, e: &regex::Error) -> String {
    let text = e.to_string();
    let what = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or_else(|| text.lines().last().unwrap_or_default().trim());
    // Under the pattern (indented), a caret line marks the column of the mistake.
    let indent = |l: &str| l.len() - l.trim_start().len();
    let lines: Vec<&str> = text.lines().collect();
    let column = lines.iter().enumerate().skip(1).find_map(|(i, l)| {
        (l.trim_start().starts_with('^') && i >= 2)
            .then(|| indent(l).saturating_sub(indent(lines[i - 1])))
    });
    let at = column
        .map(|c| format!(" at character {} of {pattern:?}", c + 1))
        .unwrap_or_default();
    format!(
        "not a regular expression: {what}{at} (a regex on the object key, such as \\.json\\.gz$)"
    )
}

/// Two services (or two types of one block) on one queue in one region: each would take the
/// other's notifications and read them with its own decoder and tags, so one service gets
/// nothing and the other ships what is not its own. Refused with both key paths.
fn check_queues_unshared(services: &Services) -> Result<(), ParseError> {
    let mut seen: Vec<(String, String, String)> = Vec::new();
    for kind in services.kinds() {
        let (Some(svc), Some(key)) = (kind.configured(services), kind.queue_key()) else {
            continue;
        };
        let Some(queue) = kind.queue(svc) else {
            continue;
        };
        let path = format!("{SERVICES_PATH}.{}.{key}", kind.seed_key().as_str());
        let regions = svc.regions_for(kind.selected_by(), Some(queue));
        let queue = QueueUrl::parse(queue).map_or_else(|| queue.to_string(), |u| u.name);
        for region in regions {
            if let Some((_, _, first)) = seen
                .iter()
                .find(|(q, r, p)| *q == queue && *r == region && *p != path)
            {
                return Err(ParseError::invalid(
                    path,
                    format!(
                        "queue {queue:?} in {region} is also named by {first}: a queue feeds one service (give each its own queue, EventBridge rules and S3 notifications can target several; or read a queue carrying several kinds of S3 logs, such as a log archive, with types: [archive] and archive_sqs_queue_name)"
                    ),
                ));
            }
            seen.push((queue.clone(), region, path.clone()));
        }
    }
    Ok(())
}

/// What one service needs beyond its queue.
fn validate_kind(kind: ServiceKind, p: &str, svc: &Service) -> Result<(), ParseError> {
    match kind.row().pull {
        Pull::Metrics => {
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
            if svc.metrics_api == MetricsApi::GetMetricStatistics && svc.include_linked_accounts {
                return Err(ParseError::invalid(
                    format!("{p}.include_linked_accounts"),
                    "GetMetricStatistics cannot read a linked account's metrics: leave metrics_api at get_metric_data",
                ));
            }
            if svc.metrics_api == MetricsApi::GetMetricStatistics
                && let Some(other) = svc
                    .statistics()
                    .into_iter()
                    .find(|s| !BASIC_STATISTICS.contains(s))
            {
                return Err(ParseError::invalid(
                    format!("{p}.metrics_api"),
                    format!(
                        "get_metric_statistics gives only {}: {other} needs get_metric_data",
                        BASIC_STATISTICS.join(", ")
                    ),
                ));
            }
            if let Some(period) = svc.period_seconds
                && !(matches!(period, 1 | 5 | 10 | 30) || (period >= 60 && period % 60 == 0))
            {
                return Err(ParseError::invalid(
                    format!("{p}.period_seconds"),
                    "expected 1, 5, 10, 30 or a multiple of 60",
                ));
            }
            Ok(())
        }
        Pull::Logs => check_log_groups(kind, p, svc),
        // The others need their queue only, or nothing.
        _ => Ok(()),
    }
}

/// `log_groups` of `logs`: names, prefixes, and linked accounts' groups by their ARN, in a
/// region the service pulls.
fn check_log_groups(kind: ServiceKind, p: &str, svc: &Service) -> Result<(), ParseError> {
    match &svc.log_groups {
        Some(groups) if !groups.0.is_empty() => {
            for (i, g) in groups.0.iter().enumerate() {
                let path = format!("{p}.log_groups[{i}]");
                if !g.starts_with("arn:") {
                    check_len(&path, g, 1, 512)?;
                    continue;
                }
                let Some(arn) = LogGroupArn::parse(g) else {
                    return Err(ParseError::invalid(
                        path,
                        format!(
                            "{g:?} is not a log group ARN such as arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/app"
                        ),
                    ));
                };
                let regions = svc.regions_for(kind.selected_by(), None);
                if !regions.contains(&arn.region) {
                    return Err(ParseError::invalid(
                        path,
                        format!(
                            "the group is in {}, which regions does not list ({}): it would never be read",
                            arn.region,
                            regions.join(", ")
                        ),
                    ));
                }
            }
            Ok(())
        }
        _ => Err(ParseError::invalid(
            format!("{p}.log_groups"),
            "expected a log group name or a list of them",
        )),
    }
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
    if let Some(StartTime(at)) = c.start_time {
        let now = chrono::Utc::now();
        if at > now {
            return Err(ParseError::invalid(
                format!("{p}.start_time"),
                format!(
                    "{} is after now ({}): a service cannot start in the future, and every object announced before it would be skipped (check the year)",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            ));
        }
    }
    for (i, r) in c.regions().iter().enumerate() {
        if !is_region_name(r) {
            return Err(ParseError::invalid(
                format!("{p}.regions[{i}]"),
                format!("{r:?} is not a region name such as us-east-1"),
            ));
        }
    }
    check_range(
        &format!("{p}.request_period_in_seconds"),
        c.request_period_in_seconds,
        RANGES.request_period_in_seconds,
    )?;
    check_range(
        &format!("{p}.delay_seconds"),
        c.delay_seconds.map(u64::from),
        RANGES.delay_seconds,
    )?;
    check_range(
        &format!("{p}.period_seconds"),
        c.period_seconds.map(u64::from),
        RANGES.period_seconds,
    )?;
    check_range(
        &format!("{p}.late_events_seconds"),
        c.late_events_seconds,
        RANGES.late_events_seconds,
    )?;
    check_range(
        &format!("{p}.max_receive_count"),
        c.max_receive_count.map(u64::from),
        RANGES.max_receive_count,
    )?;
    Ok(())
}

/// The range of every number in the config, in seconds (but counts). The README's table repeats it.
pub struct Ranges {
    pub request_period_in_seconds: (u64, u64),
    pub delay_seconds: (u64, u64),
    pub period_seconds: (u64, u64),
    pub timeout_seconds: (u64, u64),
    pub port: (u64, u64),
    pub late_events_seconds: (u64, u64),
    pub max_receive_count: (u64, u64),
}

pub const RANGES: Ranges = Ranges {
    // At least a second; at most a week.
    request_period_in_seconds: (1, 7 * 86_400),
    // At most a day behind now.
    delay_seconds: (0, 86_400),
    // CloudWatch periods: 1, 5, 10, 30 or a multiple of 60, at most a day.
    period_seconds: (1, 86_400),
    // A write or a close may wait at most an hour.
    timeout_seconds: (1, 3_600),
    port: (1, 65_535),
    // CloudWatch Logs takes timestamps up to 14 days old.
    late_events_seconds: (0, 14 * 86_400),
    // SQS's own maxReceiveCount: 1 to 1,000 (a count, not seconds).
    max_receive_count: (1, 1_000),
};

/// `value`, when given, within `range` (both ends included).
fn check_range(path: &str, value: Option<u64>, range: (u64, u64)) -> Result<(), ParseError> {
    match value {
        Some(v) if v < range.0 || v > range.1 => Err(ParseError::invalid(
            path,
            format!("{v} is out of range: expected {} to {}", range.0, range.1),
        )),
        _ => Ok(()),
    }
}

/// Ids name state files, locks and S3 objects: 1 to 5 letters, digits, `-` and `_`, so no id
/// can reach outside the state directory or prefix (`../..`, `/`).
fn check_id(path: &str, v: &str) -> Result<(), ParseError> {
    check_len(path, v, 1, 5)?;
    if !v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ParseError::invalid(
            path,
            format!("{v:?}: expected letters, digits, - and _ only"),
        ));
    }
    Ok(())
}

/// Whether `v` may name a file or object under the state directory or prefix.
pub fn is_safe_id(v: &str) -> bool {
    check_id("", v).is_ok()
}

/// `us-east-1`, `us-gov-west-1`, `eu-central-2`: letters, dash-separated words, a number.
/// The words between a region's area and its number: a typo such as `us-est-1` names no region
/// and would only fail later, on every run, as an unreachable host.
const REGION_WORDS: [&str; 14] = [
    "east",
    "west",
    "north",
    "south",
    "central",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
    "gov",
    "iso",
    "isob",
    "isoe",
    "isof",
];

fn is_region_name(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| REGION_WORDS.contains(p))
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn check_types(p: &str, types: &[TypeName], allowed: &[&str]) -> Result<(), ParseError> {
    let names = || allowed.join(", ");
    if types.is_empty() {
        return Err(ParseError::invalid(
            format!("{p}.types"),
            format!("expected a list with one or more of: {}", names()),
        ));
    }
    for (i, t) in types.iter().enumerate() {
        if !allowed.contains(&t.as_str()) {
            return Err(ParseError::invalid(
                format!("{p}.types[{i}]"),
                format!(
                    "type {:?} does not belong here (expected one of: {})",
                    t.as_str(),
                    names()
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
    if let Some(url) = QueueUrl::parse(v) {
        if url.account.len() != 12 || !url.account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::invalid(
                path,
                format!(
                    "{v:?} is not a queue URL such as https://sqs.eu-west-1.amazonaws.com/111122223333/my-queue (the account after the host: 12 digits)"
                ),
            ));
        }
        return check_queue_name(path, &url.name);
    }
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

    #[test]
    fn region_names_and_typos() {
        for good in [
            "us-east-1",
            "us-gov-west-1",
            "eu-central-2",
            "ap-southeast-4",
            "us-iso-east-1",
            "il-central-1",
            "mx-central-1",
        ] {
            assert!(is_region_name(good), "{good}");
        }
        for bad in ["us-est-1", "useast1", "us-east", "US-EAST-1", "eu-centrl-1"] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }

    #[test]
    fn statistics_are_checked() {
        assert!(is_statistic("p99.9") && is_statistic("Average") && is_statistic("tm90"));
        assert!(!is_statistic("Mean") && !is_statistic("p"));
    }
}
