//! `devo-aws check`: is this config ready to run? Validates the config (already done by
//! loading it), makes a TLS handshake with the Devo output (certificate, key and chain valid and
//! matching, days to expiry), resolves the AWS identity through the role chain, and checks that
//! every configured queue, log group and API is reachable. Prints a table; reads and changes no
//! data (no message is received, no event shipped, no state written).

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::Utc;

use crate::aws::Aws;
use crate::config::{Loaded, ObjectPlan, Pulls, QueuePlan, SeedKey, ServiceKind};
use crate::devo::shipper::ShipError;
use crate::devo::tls::{
    CLIENT_CERT_WARN_DAYS, ClientCertificateExpired, DevoEndpoint, close_cleanly, not_after,
};
use crate::formats::digest::is_trail;
use crate::outcome::{Failure, Outcome};
use crate::sources::{queue, replay, trail};
use crate::state::StateStore;
use crate::window::Backfill;

/// One line of the table.
struct Row {
    check: String,
    result: Result<String, Failure>,
}

/// Runs every check, prints the table to stdout, returns the worst outcome.
pub async fn run(
    loaded: &Loaded,
    endpoints: Vec<Result<DevoEndpoint, String>>,
    replay: Option<Backfill>,
) -> Outcome {
    let mut rows = config_rows(loaded);
    for endpoint in endpoints {
        rows.extend(devo_rows(endpoint).await);
    }
    let aws = Arc::new(Aws::for_input(&loaded.config.inputs.aws).await);
    rows.push(Row {
        check: "aws identity".into(),
        result: aws
            .identity()
            .await
            .map(|i| format!("{} (account {})", i.arn, i.account)),
    });
    rows.push(clock(&aws));
    rows.push(Row {
        check: "state".into(),
        result: StateStore::from_config(loaded, &aws)
            .probe()
            .await
            .map_err(Failure::from),
    });
    rows.extend(service_rows(loaded, &aws).await);
    if let Some(window) = replay {
        rows.extend(replay_rows(loaded, &aws, window).await);
    }
    let text = format!(
        "{}\n{}",
        table(&rows),
        iam_actions(loaded.config.inputs.aws.services.configured_kinds())
    );
    // A closed pipe (`| head`) is no failure of the checks.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
    rows.iter()
        .filter_map(|r| r.result.as_ref().err().map(|f| f.outcome))
        .max()
        .unwrap_or(Outcome::Done)
}

/// The config is valid (loading it said so); a service key with a typo is an unknown key to
/// the model, which a run would leave out.
fn config_rows(loaded: &Loaded) -> Vec<Row> {
    let mut rows = vec![Row {
        check: "config".into(),
        result: Ok(format!("{} is valid", loaded.file().display())),
    }];
    let known: Vec<&str> = SeedKey::ALL.iter().map(|k| k.as_str()).collect();
    for key in &loaded.unknown_keys {
        if let Some(name) = key.strip_prefix(SERVICES_PREFIX)
            && !name.contains('.')
        {
            rows.push(Row {
                check: format!("config {key}"),
                result: Err(Failure::new(
                    Outcome::Config,
                    format!(
                        "{name:?} is no service devo-aws knows, so no run would pull it (services: {})",
                        known.join(", ")
                    ),
                )),
            });
        }
    }
    // What a run only warns about: shown as warnings, so `check` predicts the run's log.
    let warn = |check: String, text: String| Row {
        check,
        result: Err(Failure::new(Outcome::Done, text)),
    };
    for key in &loaded.unknown_keys {
        if key
            .strip_prefix(SERVICES_PREFIX)
            .is_none_or(|name| name.contains('.'))
        {
            rows.push(warn(
                format!("config {key}"),
                "unknown key: a run ignores it (a typo?)".into(),
            ));
        }
    }
    for key in loaded.config.misplaced_keys() {
        rows.push(warn(
            format!("config {key}"),
            "this service does not read this key: a run ignores it".into(),
        ));
    }
    for advice in &loaded.advice {
        rows.push(warn(format!("config {}", advice.path), advice.says.clone()));
    }
    for (key, types) in loaded.config.inputs.aws.services.defaulted_types() {
        let names = types
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        rows.push(warn(
            format!("config {SERVICES_PREFIX}{}.types", key.as_str()),
            format!("not given: a run takes [{names}] (write types: [{names}] to say so)"),
        ));
    }
    rows
}

/// One Devo output: its key file's permissions, its client certificate's time left, and a
/// handshake with a clean close.
async fn devo_rows(endpoint: Result<DevoEndpoint, String>) -> Vec<Row> {
    let mut rows = Vec::new();
    if let Ok(e) = &endpoint {
        if let Some(problem) = e.key_permissions_problem() {
            rows.push(Row {
                check: format!("devo key {}", e.display()),
                result: Err(Failure::new(Outcome::Config, problem)),
            });
        }
        if let Ok(Some(days)) = e.client_cert_days_left(Utc::now())
            && days < CLIENT_CERT_WARN_DAYS
        {
            rows.push(Row {
                check: format!("devo certificate {}", e.display()),
                // A warning: the run works, for now.
                result: Err(Failure::new(
                    Outcome::Done,
                    format!("the client certificate expires in {days} days: renew it"),
                )),
            });
        }
    }
    rows.push(devo(endpoint).await);
    rows
}

/// Each configured service in each region: its queue, API or log groups reachable.
async fn service_rows(loaded: &Loaded, aws: &Aws) -> Vec<Row> {
    let mut rows = Vec::new();
    for plan in &loaded.plans {
        for region in &plan.regions {
            let check = format!("{} {region}", plan.kind.name());
            let results = match &plan.pulls {
                Pulls::Events { queue } => vec![check_queue(aws, region, queue).await],
                Pulls::Objects { queue, objects } => {
                    let mut results = vec![check_queue(aws, region, queue).await];
                    // (A warning, such as a queue without a redrive policy, does not stop it.)
                    if let Some(filter) = &objects.key_filter
                        && results
                            .iter()
                            .all(|r| r.as_ref().err().is_none_or(|f| f.outcome == Outcome::Done))
                    {
                        results
                            .push(check_filter(aws, region, queue, &filter.regex, objects).await);
                    }
                    if objects.kinds.iter().any(|(_, read)| is_trail(*read)) {
                        results.push(check_digests(aws, region).await);
                    }
                    results
                }
                Pulls::Audit(_) => vec![check_lookup(aws, region).await],
                Pulls::Metrics(metrics) => {
                    vec![check_metrics(aws, region, &metrics.namespaces).await]
                }
                Pulls::Logs(logs) => {
                    let mut results = Vec::new();
                    for group in &logs.groups {
                        results.push(check_log_group(aws, region, group).await);
                    }
                    results
                }
            };
            rows.extend(results.into_iter().map(|result| Row {
                check: check.clone(),
                result,
            }));
        }
    }
    rows
}

/// With `--start-time`: where the replay of each S3 service would list, and whether it may.
async fn replay_rows(loaded: &Loaded, aws: &Aws, window: Backfill) -> Vec<Row> {
    let mut rows = Vec::new();
    for plan in &loaded.plans {
        let Some(objects) = plan.objects() else {
            continue;
        };
        for (check, result) in replay::preview(aws, plan, objects, window).await {
            rows.push(Row { check, result });
        }
    }
    rows
}

fn table(rows: &[Row]) -> String {
    let width = rows.iter().map(|r| r.check.len()).max().unwrap_or(5).max(5);
    let mut out = format!("{:width$}  {:6}  DETAIL\n", "CHECK", "RESULT");
    for r in rows {
        let (result, detail) = match &r.result {
            Ok(d) => ("ok", d.clone()),
            Err(f) if f.outcome == Outcome::Done => ("WARN", f.reason.clone()),
            Err(f) => ("FAIL", f.reason.clone()),
        };
        let _ = writeln!(out, "{:width$}  {result:6}  {detail}", r.check);
    }
    out
}

/// How far the host's clock may be from AWS's before it is worth a warning (windows follow AWS's
/// clock anyway).
pub const CLOCK_WARN_SECS: i64 = 60;

/// The host's clock against AWS's (the Date header of the answers so far).
fn clock(aws: &Aws) -> Row {
    let check = "clock".to_string();
    let Some(ms) = aws.clock_offset() else {
        return Row {
            check,
            result: Ok("no AWS answer told the time".into()),
        };
    };
    let detail = format!(
        "this host's clock is {:.1} s {} AWS's (windows end on AWS's clock)",
        (ms as f64 / 1000.0).abs(),
        if ms >= 0 { "behind" } else { "ahead of" }
    );
    Row {
        check,
        result: if ms.abs() > CLOCK_WARN_SECS * 1000 {
            Err(Failure::new(Outcome::Done, detail))
        } else {
            Ok(detail)
        },
    }
}

const SERVICES_PREFIX: &str = "inputs.aws.services.";

/// What `check` calls, of the IAM actions each configured service needs.
const EXERCISED: [&str; 7] = [
    "sqs:GetQueueUrl",
    "cloudtrail:ListPublicKeys",
    "sqs:GetQueueAttributes",
    "cloudtrail:LookupEvents",
    "cloudwatch:ListMetrics",
    "logs:DescribeLogGroups",
    "sts:GetCallerIdentity",
];

/// The IAM actions each configured service needs; those `check` exercised are marked.
fn iam_actions(kinds: Vec<ServiceKind>) -> String {
    let mut out = String::from(
        "IAM ACTIONS (* exercised by check; the others are used by a run; kms:Decrypt too for encrypted queues and buckets)\n",
    );
    let mark = |a: &str| if EXERCISED.contains(&a) { "*" } else { "" };
    for kind in kinds {
        let actions: Vec<String> = kind
            .iam_actions()
            .iter()
            .map(|a| format!("{a}{}", mark(a)))
            .collect();
        let _ = writeln!(out, "{:36}  {}", kind.name(), actions.join(" "));
    }
    let _ = writeln!(out, "{:36}  sts:GetCallerIdentity*", "every run");
    out
}

/// A handshake and a clean close with the Devo output, and the certificates' expiry.
async fn devo(endpoint: Result<DevoEndpoint, String>) -> Row {
    let endpoint = match endpoint {
        Ok(e) => e,
        Err(reason) => {
            return Row {
                check: "devo".into(),
                result: Err(Failure::new(Outcome::Config, reason)),
            };
        }
    };
    let check = format!("devo {}", endpoint.display());
    let now = Utc::now();
    let days = |t: chrono::DateTime<Utc>| (t - now).num_days();
    if let Err(ClientCertificateExpired(at)) = endpoint.client_cert_days_left(now) {
        return Row {
            check,
            result: Err(Failure::new(
                Outcome::Config,
                format!(
                    "the client certificate expired {} days ago ({at})",
                    -days(at)
                ),
            )),
        };
    }
    let conn = match endpoint.connect().await {
        Ok(c) => c,
        Err(e) => {
            return Row {
                check,
                result: Err(tls_failure(&endpoint, &e)),
            };
        }
    };
    let (_, session) = conn.stream.get_ref();
    let version = session
        .protocol_version()
        .map_or_else(|| "TLS".to_string(), |v| format!("{v:?}"));
    let server_days = session
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(not_after)
        .map(days);
    // TLS 1.3 servers judge the client certificate after the handshake: the close tells.
    if let Err(e) = close_cleanly(conn, std::time::Duration::from_secs(10)).await {
        return Row {
            check,
            result: Err(tls_failure(&endpoint, &e)),
        };
    }
    let mut detail = format!("{version} handshake and clean close");
    if let Some(d) = endpoint.client_cert_not_after().map(days) {
        let _ = write!(detail, "; client certificate valid {d} more days");
    }
    if let Some(d) = server_days {
        let _ = write!(detail, "; server certificate valid {d} more days");
    }
    Row {
        check,
        result: Ok(detail),
    }
}

fn tls_failure(endpoint: &DevoEndpoint, e: &std::io::Error) -> Failure {
    ShipError::at(endpoint, e).failure()
}

/// The URL of `queue` in `region` (the config's, when it gave one), with what to call it in
/// messages.
async fn queue_url(
    aws: &Aws,
    region: &str,
    queue: &QueuePlan,
) -> Result<(String, String), Failure> {
    let what = format!("SQS queue {} in {region}", queue.name);
    let url = queue::queue_url(aws, &aws.sqs(region), region, queue).await?;
    Ok((url, what))
}

/// The queue reachable, with how many messages wait in it; one without a redrive policy (and no
/// `max_receive_count`) is a warning: a message devo-aws cannot understand would come back
/// until its retention ends.
async fn check_queue(aws: &Aws, region: &str, queue: &QueuePlan) -> Result<String, Failure> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let sqs = aws.sqs(region);
    let (url, what) = queue_url(aws, region, queue).await?;
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .map_err(|e| aws.failure(&what, &e))?;
    let attribute = |name: &QueueAttributeName| attrs.attributes().and_then(|a| a.get(name));
    let waiting = attribute(&QueueAttributeName::ApproximateNumberOfMessages)
        .map_or("?", String::as_str)
        .to_string();
    let reachable = format!(
        "queue {} reachable, about {waiting} messages waiting",
        queue.name
    );
    let redrive = attribute(&QueueAttributeName::RedrivePolicy).map(String::as_str);
    match queue::unguarded(redrive, queue.max_receive_count) {
        Some(warning) => Err(Failure::new(
            Outcome::Done,
            format!("{reachable}; but {warning}"),
        )),
        None => Ok(reachable),
    }
}

/// `s3_file_type_filter` against the keys of up to ten messages waiting in the queue, peeked at
/// (received with visibility 0: they stay in the queue, and each peek counts as a receive
/// toward its redrive policy). A filter that matches none of them, or of the objects this
/// format reads, is a warning: a run would read nothing of them.
async fn check_filter(
    aws: &Aws,
    region: &str,
    queue: &QueuePlan,
    regex: &regex::Regex,
    objects: &ObjectPlan,
) -> Result<String, Failure> {
    use crate::formats::s3_notification::{Notification, parse};
    let filter = regex.as_str();
    let (url, what) = queue_url(aws, region, queue).await?;
    let peeked = aws
        .sqs(region)
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .wait_time_seconds(0)
        .send()
        .await
        .map_err(|e| aws.failure(&what, &e))?;
    let keys: Vec<String> = peeked
        .messages()
        .iter()
        .filter_map(|m| match parse(m.body()?) {
            Ok(Notification::Objects(objects)) => Some(objects),
            _ => None,
        })
        .flatten()
        .map(|o| o.key)
        .filter(|key| objects.reads(key))
        .collect();
    let Some(sample) = keys.first() else {
        return Ok(format!(
            "s3_file_type_filter '{filter}': no object waiting in the queue to try it on (peeked at {} messages)",
            peeked.messages().len()
        ));
    };
    let matched = keys.iter().filter(|k| regex.is_match(k)).count();
    if matched == 0 {
        return Err(Failure::new(
            Outcome::Config,
            format!(
                "s3_file_type_filter '{filter}' matches none of the {} keys waiting in the queue (such as {sample}): a run would read none of them and give their messages back. Fix the pattern: it is matched against the whole key",
                keys.len()
            ),
        ));
    }
    Ok(format!(
        "s3_file_type_filter '{filter}' matches {matched} of the {} keys waiting in the queue (peeked at with visibility 0: counted as a receive)",
        keys.len()
    ))
}

/// CloudTrail's digests of `region` verifiable: ListPublicKeys answers with the keys their
/// signatures are checked with (none is a warning: no digest could be verified).
async fn check_digests(aws: &Aws, region: &str) -> Result<String, Failure> {
    let keys = trail::public_keys(aws, region, Utc::now()).await?;
    if keys.is_empty() {
        return Err(Failure::new(
            Outcome::Done,
            format!(
                "CloudTrail ListPublicKeys in {region} gives no public key: no digest of the region could be verified"
            ),
        ));
    }
    Ok(format!(
        "CloudTrail digests verifiable: ListPublicKeys gives {} public key(s) in {region}",
        keys.len()
    ))
}

async fn check_lookup(aws: &Aws, region: &str) -> Result<String, Failure> {
    aws.cloudtrail(region)
        .lookup_events()
        .max_results(1)
        .send()
        .await
        .map_err(|e| aws.failure(&format!("CloudTrail LookupEvents in {region}"), &e))?;
    Ok("CloudTrail LookupEvents reachable".into())
}

/// ListMetrics reachable, and each configured namespace listing some metric (one that lists
/// none is a warning: a run pulls nothing from it).
async fn check_metrics(aws: &Aws, region: &str, namespaces: &[String]) -> Result<String, Failure> {
    let what = format!("CloudWatch ListMetrics in {region}");
    let client = aws.cloudwatch(region);
    if namespaces.is_empty() {
        client
            .list_metrics()
            .send()
            .await
            .map_err(|e| aws.failure(&what, &e))?;
        return Ok("CloudWatch ListMetrics reachable".into());
    }
    let mut empty = Vec::new();
    for ns in namespaces {
        let page = client
            .list_metrics()
            .namespace(ns)
            .send()
            .await
            .map_err(|e| aws.failure(&what, &e))?;
        if page.metrics().is_empty() {
            empty.push(ns.as_str());
        }
    }
    if empty.is_empty() {
        return Ok(format!(
            "CloudWatch ListMetrics reachable; each of the {} namespaces lists metrics",
            namespaces.len()
        ));
    }
    let hint = if empty.iter().any(|ns| !ns.contains('/')) {
        " (AWS's own namespaces are under AWS/, such as AWS/EC2)"
    } else {
        ""
    };
    Err(Failure::new(
        Outcome::Done,
        format!(
            "CloudWatch ListMetrics reachable, but these namespaces list no metric, so a run pulls nothing from them: {}{hint}",
            empty.join(", ")
        ),
    ))
}

async fn check_log_group(aws: &Aws, region: &str, group: &str) -> Result<String, Failure> {
    let prefix = group.strip_suffix('*').unwrap_or(group);
    let what = format!("log group {group} in {region}");
    let page = aws
        .logs(region)
        .describe_log_groups()
        .log_group_name_prefix(prefix)
        .send()
        .await
        .map_err(|e| aws.failure(&what, &e))?;
    let names: Vec<&str> = page
        .log_groups()
        .iter()
        .filter_map(|g| g.log_group_name())
        .collect();
    let found = if group.ends_with('*') {
        !names.is_empty()
    } else {
        names.contains(&group)
    };
    if found {
        Ok(format!(
            "log group {group} reachable ({} matching)",
            names.len()
        ))
    } else {
        Err(Failure::new(
            Outcome::Config,
            format!("{what}: no such log group"),
        ))
    }
}
