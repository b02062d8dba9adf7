//! Every S3 object format, on files shaped as AWS writes them (tests/data/formats, with their
//! sources in its README): announced on SQS, read from S3, and shipped under Devo's own tables
//! with the account and region of each record (else of the key), never `-`. Every shipped byte
//! and tag is asserted.

use std::path::Path;

use crate::support::devo::Record;
use crate::support::{config_yaml, gzip, setup};

/// One sample object and what must come of it.
struct Case {
    /// The `types` value and the queue key's prefix.
    kind: &'static str,
    file: &'static str,
    key: &'static str,
    gzipped: bool,
    /// Keys beside `types` and the queue in the service block.
    extra: &'static str,
    /// The tag of each event, in order (the messages are the file's records).
    tags: &'static [&'static str],
}

fn sample(file: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/formats")
        .join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// JSON without the whitespace outside its strings (what a pretty-printed record is shipped as).
fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !c.is_whitespace() {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// The records of a file as they must be shipped.
fn messages(case: &Case) -> Vec<String> {
    let text = String::from_utf8(sample(case.file)).unwrap();
    if case.kind == "configlogs" {
        use serde_json::value::RawValue;
        let doc: std::collections::HashMap<String, Box<RawValue>> =
            serde_json::from_str(&text).unwrap();
        let items: Vec<Box<RawValue>> =
            serde_json::from_str(doc["configurationItems"].get()).unwrap();
        return items.iter().map(|i| compact(i.get())).collect();
    }
    text.lines()
        .filter(|l| !l.is_empty())
        .filter(|l| {
            // Flow log headers are not records.
            let header = case.kind == "flowlogs"
                && l.split(' ').all(|t| {
                    t.starts_with(|c: char| c.is_ascii_lowercase())
                        && t.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                });
            !header
        })
        .map(String::from)
        .collect()
}

const CASES: &[Case] = &[
    Case {
        kind: "alblogs",
        file: "alb.log",
        key: "AWSLogs/123456789012/elasticloadbalancing/us-east-2/2018/07/02/123456789012_elasticloadbalancing_us-east-2_app.my-loadbalancer.50dc6c495c0c9188_20180702T2225Z_10.0.0.1_a1b2c3.log.gz",
        gzipped: true,
        extra: "",
        tags: &[
            "web.aws.alb.access.123456789012.us-east-2",
            "web.aws.alb.access.123456789012.us-east-2",
        ],
    },
    Case {
        kind: "elblogs",
        file: "clb.log",
        key: "AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2015/05/13/123456789012_elasticloadbalancing_eu-west-1_my-loadbalancer_20150513T2340Z_172.160.001.192_5zvk2pvf.log",
        gzipped: false,
        extra: "",
        tags: &[
            "web.aws.elb.access.123456789012.eu-west-1",
            "web.aws.elb.access.123456789012.eu-west-1",
        ],
    },
    Case {
        kind: "elblogs",
        file: "nlb.log",
        key: "AWSLogs/671290407336/elasticloadbalancing/us-east-2/2020/04/01/671290407336_elasticloadbalancing_us-east-2_net.my-network-loadbalancer.c6e77e28c25b2234_20200401T0850Z_a1b2c3.log.gz",
        gzipped: true,
        extra: "",
        tags: &["web.aws.elb.access.671290407336.us-east-2"],
    },
    Case {
        kind: "s3accesslogs",
        file: "s3access.log",
        key: "s3-access/2019-02-06-00-00-38-5E4D87FC1EXAMPLE",
        gzipped: false,
        extra: "",
        tags: &["web.aws.s3.access.123456789012.us-west-1"],
    },
    Case {
        kind: "waflogs",
        file: "waf.log",
        key: "AWSLogs/111122223333/WAFLogs/ap-southeast-2/STMTest/2019/12/13/23/50/111122223333_waflogs_ap-southeast-2_STMTest_20191213T2350Z_a1b2c3.log.gz",
        gzipped: true,
        extra: "",
        tags: &["cloud.aws.waf.logs.111122223333.ap-southeast-2"],
    },
    Case {
        kind: "route53logs",
        file: "route53.log",
        key: "AWSLogs/626345947581/vpcdnsquerylogs/vpc-01e31a7c/2021/12/11/vpc-01e31a7c.2021-12-11T22:45:00Z.a1b2c3.log.gz",
        gzipped: true,
        extra: "",
        tags: &[
            "dns.aws.route53.626345947581.us-east-1",
            "dns.aws.route53.626345947581.us-east-1",
            "dns.aws.route53.626345947581.us-east-1",
            "dns.aws.route53.111122223333.us-east-1",
        ],
    },
    Case {
        kind: "guarddutyfindings",
        file: "guardduty.jsonl",
        key: "guardduty/AWSLogs/973743533182/GuardDuty/us-east-2/2022/01/28/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d.jsonl.gz",
        gzipped: true,
        extra: "",
        tags: &["cloud.aws.guardduty.findings.973743533182.us-east-2"],
    },
    Case {
        kind: "networkfirewalllogs",
        file: "networkfirewall.log",
        key: "AWSLogs/123456789012/network-firewall/alert/us-east-1/2025/10/17/10/123456789012_network-firewall_alert_us-east-1_test-firewall_202510171030_a1b2c3.log.gz",
        gzipped: true,
        extra: "  auto_event_type: true\n",
        tags: &[
            "cloud.aws.networkfirewall.alert.123456789012.us-east-1",
            "cloud.aws.networkfirewall.netflow.123456789012.us-east-1",
        ],
    },
    Case {
        kind: "configlogs",
        file: "awsconfig-snapshot.json",
        key: "AWSLogs/123456789012/Config/us-east-2/2016/9/27/ConfigSnapshot/123456789012_Config_us-east-2_ConfigSnapshot_20160927T183939Z_16da64e4-cb65-4846-b061-e6c3ba43cb96.json.gz",
        gzipped: true,
        extra: "",
        tags: &[
            "cloud.aws.configlogs.events.123456789012.us-east-2",
            "cloud.aws.configlogs.events.123456789012.us-east-2",
        ],
    },
    Case {
        kind: "flowlogs",
        file: "tgw-default.log",
        key: "AWSLogs/123456789012/vpcflowlogs/eu-west-3/2023/11/14/123456789012_vpcflowlogs_eu-west-3_tgw-attach-0123456789abcdef0_20231114T2215Z_a1b2c3.log.gz",
        gzipped: true,
        extra: "  auto_event_type: true\n",
        // The second record's region is `-`: the key's is taken.
        tags: &[
            "cloud.aws.vpc.flowlogs.123456789012.us-east-1",
            "cloud.aws.vpc.flowlogs.123456789012.eu-west-3",
        ],
    },
    Case {
        kind: "flowlogs",
        file: "tgw-flow-otel.log",
        key: "AWSLogs/123456789012/vpcflowlogs/us-east-1/2023/11/14/123456789012_vpcflowlogs_us-east-1_tgw_20231114T2215Z_d4e5f6.log.gz",
        gzipped: true,
        extra: "  auto_event_type: true\n",
        tags: &["cloud.aws.vpc.flowlogs.123456789012.us-east-1"],
    },
    Case {
        kind: "flowlogs",
        file: "vpc-v5-and-repeated-header.log",
        key: "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2024/05/01/123456789012_vpcflowlogs_eu-west-1_fl-0a1b2c3d_20240501T1000Z_a1b2c3.log.gz",
        gzipped: true,
        extra: "",
        tags: &[
            "cloud.aws.vpc.unknown.123456789012.eu-west-1",
            "cloud.aws.vpc.unknown.123456789012.eu-west-1",
        ],
    },
    Case {
        kind: "flowlogs",
        file: "vpc-custom-newer-fields.log",
        key: "AWSLogs/123456789012/vpcflowlogs/us-west-2/2026/05/01/123456789012_vpcflowlogs_us-west-2_fl-0f_20260501T1000Z_a1b2c3.log.gz",
        gzipped: true,
        extra: "  auto_event_type: true\n",
        tags: &["cloud.aws.vpc.flowlogs.123456789012.us-west-2"],
    },
];

/// The queue key of a `types` value (the seed's spelling for flow logs).
fn queue_key(kind: &str) -> String {
    match kind {
        "flowlogs" => "vpcflowlogs_sqs_queue_name".into(),
        other => format!("{other}_sqs_queue_name"),
    }
}

#[test]
fn every_format_ships_each_record_with_its_own_tag() {
    let (moto, receiver, wd) = setup();
    let mut shipped = 0;
    for case in CASES {
        let (queue, url, bucket) = moto.announcing_bucket("us-east-1", case.kind, 30);
        let bytes = sample(case.file);
        let body = if case.gzipped { gzip(&bytes) } else { bytes };
        moto.put_object("us-east-1", &bucket, case.key, body);
        wd.write_config(&config_yaml(
            receiver.port,
            &format!(
                "non-cloudwatch-logs:\n  types: [{}]\n  {}: {queue}\n  regions: [us-east-1]\n{}",
                case.kind,
                queue_key(case.kind),
                case.extra
            ),
        ));
        let run = wd.run(&["s3logs", case.kind, "--force"]);
        run.expect_code(0).expect_stderr("failed=0");
        let records = receiver.wait_for(
            shipped + case.tags.len(),
            std::time::Duration::from_secs(10),
        );
        let got: Vec<(String, String)> = records[shipped..]
            .iter()
            .map(|Record { tag, message, .. }| (tag.clone(), message.clone()))
            .collect();
        let want: Vec<(String, String)> = case
            .tags
            .iter()
            .map(|t| t.to_string())
            .zip(messages(case))
            .collect();
        assert_eq!(got, want, "{}", case.file);
        assert_eq!(
            moto.depth("us-east-1", &url),
            (0, 0),
            "{} acknowledged",
            case.file
        );
        shipped += case.tags.len();
        if case.file == "vpc-custom-newer-fields.log" {
            run.expect_stderr("next-hop-type")
                .expect_stderr("interface-type");
        }
        eprintln!(
            "{}: {} events, tags {:?}",
            case.file,
            case.tags.len(),
            case.tags
        );
    }
}

/// A line that is not JSON in the middle of a JSON-lines object is counted in `failed` and
/// reported with its key and line number; the lines around it are shipped, and the message is
/// acknowledged (the object was read whole).
#[test]
fn a_line_that_cannot_be_read_is_reported_with_its_number_and_the_rest_shipped() {
    let (moto, receiver, wd) = setup();
    let (queue, url, bucket) = moto.announcing_bucket("us-east-1", "badline", 30);
    let text = String::from_utf8(sample("route53.log")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(2, "{\"version\":\"1.100000\",\"account_id\":");
    let key = "AWSLogs/626345947581/vpcdnsquerylogs/vpc-01e31a7c/2021/12/11/broken.log.gz";
    moto.put_object("us-east-1", &bucket, key, gzip(lines.join("\n").as_bytes()));
    wd.write_config(&config_yaml(
        receiver.port,
        &format!("non-cloudwatch-logs:\n  types: [route53logs]\n  route53logs_sqs_queue_name: {queue}\n  regions: [us-east-1]\n"),
    ));
    let run = wd.run(&["s3logs"]);
    run.expect_code(0)
        .expect_stderr("failed=1")
        .expect_stderr("at=line 3")
        .expect_stderr(key);
    assert_eq!(
        receiver
            .wait_for(4, std::time::Duration::from_secs(10))
            .len(),
        4
    );
    assert_eq!(moto.depth("us-east-1", &url), (0, 0));
}

/// GuardDuty exports are encrypted with a KMS key: a role that may not use it gets S3's
/// AccessDenied naming KMS, and the run says what to grant.
#[test]
fn a_guardduty_export_the_role_cannot_decrypt_says_kms_decrypt() {
    let (moto, receiver, wd) = setup();
    let (queue, _url, bucket) = moto.announcing_bucket("us-east-1", "gdkms", 30);
    let key = "AWSLogs/973743533182/GuardDuty/us-east-2/2022/01/28/finding.jsonl.gz";
    moto.put_object("us-east-1", &bucket, key, gzip(&sample("guardduty.jsonl")));
    moto.fault(serde_json::json!({
        "op": "GetObject", "match": bucket, "status": 403, "code": "AccessDenied",
        "message": "User: arn:aws:sts::111122223333:assumed-role/devo/devo-aws is not authorized to perform: kms:Decrypt on the resource associated with this ciphertext because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access",
        "times": 1
    }));
    wd.write_config(&config_yaml(
        receiver.port,
        &format!("non-cloudwatch-logs:\n  types: [guarddutyfindings]\n  guarddutyfindings_sqs_queue_name: {queue}\n  regions: [us-east-1]\n"),
    ));
    let run = wd.run(&["s3logs", "guarddutyfindings"]);
    run.expect_code(0)
        .expect_stderr("kms:Decrypt on the KMS key that encrypts the object")
        .expect_stderr(key);
    assert!(receiver.records().is_empty());
}

/// An object is decompressed as its bytes say (zstd in two frames, as CloudWatch Logs delivers
/// vended logs, beside gzip), honouring the `Content-Encoding` it was stored with; one whose
/// `Content-Encoding` its bytes contradict is reported with both and its message left to the
/// redrive policy, while the others' are acknowledged.
#[test]
fn each_object_is_decompressed_as_its_bytes_say() {
    let (moto, receiver, wd) = setup();
    let (queue, url, bucket) = moto.announcing_bucket("us-east-1", "packed", 30);
    let text = String::from_utf8(sample("route53.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (first, second) = lines.split_at(2);
    let mut zst = zstd::encode_all(format!("{}\n", first.join("\n")).as_bytes(), 3).unwrap();
    zst.extend(zstd::encode_all(second.join("\n").as_bytes(), 3).unwrap());
    let dir = "AWSLogs/626345947581/vpcdnsquerylogs/vpc-01e31a7c/2021/12/11";
    moto.put_encoded(
        "us-east-1",
        &bucket,
        &format!("{dir}/a.log.zst"),
        zst,
        Some("zstd"),
    );
    moto.put_object(
        "us-east-1",
        &bucket,
        &format!("{dir}/b.log.gz"),
        gzip(&sample("route53.log")),
    );
    let liar = format!("{dir}/c.log.gz");
    moto.put_encoded(
        "us-east-1",
        &bucket,
        &liar,
        sample("route53.log"),
        Some("gzip"),
    );
    wd.write_config(&config_yaml(
        receiver.port,
        &format!("non-cloudwatch-logs:\n  types: [route53logs]\n  route53logs_sqs_queue_name: {queue}\n  regions: [us-east-1]\n"),
    ));
    let run = wd.run(&["s3logs"]);
    run.expect_code(0)
        .expect_stderr("objects=2 skipped=0 events=8")
        .expect_stderr(&liar)
        .expect_stderr("gzip\", but its first bytes are not compressed");
    let records = receiver.wait_for(8, std::time::Duration::from_secs(10));
    let mut got: Vec<&str> = records.iter().map(|r| r.message.as_str()).collect();
    got.sort_unstable();
    let mut want: Vec<&str> = lines.iter().chain(lines.iter()).copied().collect();
    want.sort_unstable();
    assert_eq!(got, want);
    // The liar's message stays in the queue (invisible until its redrive); the others' were
    // deleted.
    assert_eq!(moto.depth("us-east-1", &url), (0, 1));
}

/// A Control Tower log-archive bucket announced on one queue (`types: [archive]`): each object
/// is read as its key's layout says (CloudTrail of an organisation, AWS Config, VPC flow logs,
/// ALB, under `o-<org>/AWSLogs/...` as Control Tower writes them), each event under its own
/// kind's tag; a CloudTrail digest and Config's writability check are acknowledged unread, and
/// an object of no kind is named in a warning and acknowledged.
#[test]
fn a_log_archive_queue_reads_each_object_as_its_key_says() {
    use crate::support::samples::{trail_file, trail_record};
    let (moto, receiver, wd) = setup();
    let (queue, url, bucket) = moto.announcing_bucket("us-east-1", "archive", 30);
    let org = "o-abc123def4/AWSLogs";
    let trail = vec![
        trail_record(
            "ct-1",
            "GetObject",
            "s3.amazonaws.com",
            "111122223333",
            "eu-west-1",
        ),
        trail_record(
            "ct-2",
            "PutObject",
            "s3.amazonaws.com",
            "111122223333",
            "eu-central-1",
        ),
    ];
    let objects: Vec<(String, Vec<u8>)> = vec![
        (
            format!(
                "{org}/111122223333/CloudTrail/eu-west-1/2024/05/01/111122223333_CloudTrail_eu-west-1_20240501T1005Z_a1b2c3.json.gz"
            ),
            trail_file(&trail),
        ),
        (
            format!(
                "{org}/111122223333/CloudTrail-Digest/eu-west-1/2024/05/01/111122223333_CloudTrail-Digest_eu-west-1_trail_eu-west-1_20240501T1105Z.json.gz"
            ),
            gzip(br#"{"awsAccountId":"111122223333","digestStartTime":"2024-05-01T10:05:00Z"}"#),
        ),
        (
            format!(
                "{org}/123456789012/Config/us-east-2/2016/9/27/ConfigSnapshot/123456789012_Config_us-east-2_ConfigSnapshot_20160927T183939Z_16da64e4.json.gz"
            ),
            gzip(&sample("awsconfig-snapshot.json")),
        ),
        (
            format!("{org}/123456789012/Config/ConfigWritabilityCheckFile"),
            b"check".to_vec(),
        ),
        (
            format!(
                "{org}/123456789012/vpcflowlogs/us-east-1/2023/11/14/123456789012_vpcflowlogs_us-east-1_tgw_20231114T2215Z_d4e5f6.log.gz"
            ),
            gzip(&sample("tgw-flow-otel.log")),
        ),
        (
            format!(
                "{org}/123456789012/elasticloadbalancing/us-east-2/2018/07/02/123456789012_elasticloadbalancing_us-east-2_app.my-loadbalancer.50dc6c495c0c9188_20180702T2225Z_10.0.0.1_a1b2c3.log.gz"
            ),
            gzip(&sample("alb.log")),
        ),
        (
            format!("{org}/123456789012/SSM/run-command/i-0abc/stdout"),
            b"hello\n".to_vec(),
        ),
    ];
    for (key, body) in &objects {
        moto.put_object("us-east-1", &bucket, key, body.clone());
    }
    wd.write_config(&config_yaml(
        receiver.port,
        &format!("non-cloudwatch-logs:\n  types: [archive]\n  archive_sqs_queue_name: {queue}\n  regions: [us-east-1]\n  max_receive_count: 5\n"),
    ));
    let run = wd.run(&["s3logs", "archive"]);
    // The digest is checked (tests/e2e/integrity.rs): this one is no digest, reported, and its
    // message left to the redrive policy.
    run.expect_code(0)
        .expect_stderr("messages=8 objects=4 skipped=2")
        .expect_stderr("not a CloudTrail digest")
        .expect_stderr("objects read by kind: audits_s3=2 flowlogs=1 alblogs=1 configlogs=1")
        .expect_stderr("Object of no kind this archive reads")
        .expect_stderr("SSM/run-command/i-0abc/stdout");
    let case = |file: &str| CASES.iter().find(|c| c.file == file).unwrap();
    let mut want: Vec<(String, String)> = vec![
        (
            "cloud.aws.cloudtrail.events.111122223333.eu-west-1".into(),
            trail[0].clone(),
        ),
        (
            "cloud.aws.cloudtrail.events.111122223333.eu-central-1".into(),
            trail[1].clone(),
        ),
    ];
    for file in ["awsconfig-snapshot.json", "alb.log"] {
        let c = case(file);
        want.extend(c.tags.iter().map(|t| t.to_string()).zip(messages(c)));
    }
    // Flow logs without auto_event_type: the table of every flow log.
    want.extend(messages(case("tgw-flow-otel.log")).into_iter().map(|m| {
        (
            "cloud.aws.vpc.unknown.123456789012.us-east-1".to_string(),
            m,
        )
    }));
    let records = receiver.wait_for(want.len(), std::time::Duration::from_secs(10));
    let mut got: Vec<(String, String)> = records
        .iter()
        .map(|r| (r.tag.clone(), r.message.clone()))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(
        moto.depth("us-east-1", &url),
        (0, 1),
        "every message acknowledged but the digest's"
    );
    let mut per_table = std::collections::BTreeMap::new();
    for (tag, _) in &got {
        let table: Vec<&str> = tag.split('.').take(4).collect();
        *per_table.entry(table.join(".")).or_insert(0) += 1;
    }
    eprintln!("archive delivered per kind: {per_table:?}");
}

/// A real estate's queues where they are, in one block: ALB queues of one name in two regions,
/// a central flow-log queue given by its URL (its region comes with it), WAF in us-east-1 only
/// (`regions_by_type`). `check` proves each queue in its own region, and a run reads each.
#[test]
fn each_type_is_read_in_its_own_regions() {
    use crate::support::aws::unique_name;
    let (moto, receiver, wd) = setup();
    let alb = unique_name("alb");
    for region in ["us-east-1", "eu-west-1"] {
        let url = moto.create_queue(region, &alb, 30);
        let bucket = unique_name("alb").to_lowercase();
        moto.bucket_notifying(region, &bucket, &url);
        let case = CASES.iter().find(|c| c.file == "alb.log").unwrap();
        moto.put_object(region, &bucket, case.key, gzip(&sample(case.file)));
    }
    let (flow, flow_url, flow_bucket) = moto.announcing_bucket("eu-west-1", "flow", 30);
    let flow_case = CASES
        .iter()
        .find(|c| c.file == "tgw-flow-otel.log")
        .unwrap();
    moto.put_object(
        "eu-west-1",
        &flow_bucket,
        flow_case.key,
        gzip(&sample(flow_case.file)),
    );
    let (waf, waf_url, waf_bucket) = moto.announcing_bucket("us-east-1", "waf", 30);
    let waf_case = CASES.iter().find(|c| c.file == "waf.log").unwrap();
    moto.put_object(
        "us-east-1",
        &waf_bucket,
        waf_case.key,
        gzip(&sample(waf_case.file)),
    );
    // The URL as AWS gives it (moto reads the queue's name and account from it).
    let flow_by_url = format!("https://sqs.eu-west-1.amazonaws.com/123456789012/{flow}");
    wd.write_config(&config_yaml(
        receiver.port,
        &format!(
            "non-cloudwatch-logs:\n  types: [alblogs, flowlogs, waflogs]\n  alblogs_sqs_queue_name: {alb}\n  vpcflowlogs_sqs_queue_name: {flow_by_url}\n  waflogs_sqs_queue_name: {waf}\n  regions: [us-east-1, eu-west-1]\n  regions_by_type:\n    waflogs: [us-east-1]\n  max_receive_count: 5\n"
        ),
    ));
    let check = wd.run(&["check"]);
    check.expect_code(0);
    let rows: Vec<&str> = check
        .stdout
        .lines()
        .filter(|l| l.starts_with("non-cloudwatch-logs."))
        .filter(|l| {
            l.split_whitespace()
                .nth(2)
                .is_some_and(|r| ["ok", "WARN", "FAIL"].contains(&r))
        })
        .collect();
    let names: Vec<String> = rows
        .iter()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        names,
        [
            "non-cloudwatch-logs.flowlogs eu-west-1 ok",
            "non-cloudwatch-logs.alblogs us-east-1 ok",
            "non-cloudwatch-logs.alblogs eu-west-1 ok",
            "non-cloudwatch-logs.waflogs us-east-1 ok",
        ],
        "{}",
        check.stdout
    );
    let run = wd.run(&["s3logs"]);
    // The queue given by its URL is not looked up.
    run.expect_code(0)
        .expect_stderr("failed=0")
        .expect_stderr("SQS.GetQueueUrl=3 ");
    let records = receiver.wait_for(2 + 2 + 1 + 1, std::time::Duration::from_secs(10));
    let mut tags: Vec<&str> = records.iter().map(|r| r.tag.as_str()).collect();
    tags.sort_unstable();
    assert_eq!(
        tags,
        [
            "cloud.aws.vpc.unknown.123456789012.us-east-1",
            "cloud.aws.waf.logs.111122223333.ap-southeast-2",
            "web.aws.alb.access.123456789012.us-east-2",
            "web.aws.alb.access.123456789012.us-east-2",
            "web.aws.alb.access.123456789012.us-east-2",
            "web.aws.alb.access.123456789012.us-east-2",
        ]
    );
    assert_eq!(moto.depth("eu-west-1", &flow_url), (0, 0));
    assert_eq!(moto.depth("us-east-1", &waf_url), (0, 0));
}

/// Kinds the config defines (`kinds:`): Cisco Umbrella DNS logs (CSV lines, found by their keys)
/// and CrowdStrike Falcon Data Replication events (JSON lines, the account from `cid`), real
/// samples (tests/data/formats/README.md), each on its own queue under its own table; an object
/// of another key on the Umbrella queue is skipped. Then the same Umbrella kind read from a log
/// archive beside CloudTrail, claimed by its `keys`.
#[test]
fn kinds_the_config_defines_are_read_like_aws_own() {
    use crate::support::samples::{trail_file, trail_record};
    let (moto, receiver, wd) = setup();
    let (umbrella, umbrella_url, umbrella_bucket) =
        moto.announcing_bucket("us-east-1", "umbrella", 30);
    let (falcon, falcon_url, falcon_bucket) = moto.announcing_bucket("us-east-1", "falcon", 30);
    let umbrella_key = "dnslogs/2020-07-23/2020-07-23-23-50-a1b2.csv.gz";
    moto.put_object(
        "us-east-1",
        &umbrella_bucket,
        umbrella_key,
        gzip(&sample("umbrella-dns.csv")),
    );
    moto.put_object(
        "us-east-1",
        &umbrella_bucket,
        "auditlogs/2020-07-23/x.csv.gz",
        gzip(b"\"1\",\"x\"\n"),
    );
    moto.put_object(
        "us-east-1",
        &falcon_bucket,
        "data/8c1dd0d6-4a4c-4a7c-a1b2-c3d4e5f60718/part-00000.gz",
        gzip(&sample("crowdstrike-fdr.jsonl")),
    );
    let kinds = "  kinds:\n    umbrella_dns:\n      split: lines\n      tag: sec.cisco.umbrella.dns\n      keys: '^dnslogs/'\n    falcon_fdr:\n      split: json_lines\n      tag: edr.crowdstrike.falcon.fdr\n      account_field: cid\n";
    wd.write_config(&config_yaml(
        receiver.port,
        &format!("non-cloudwatch-logs:\n  types: [umbrella_dns, falcon_fdr]\n  umbrella_dns_sqs_queue_name: {umbrella}\n  falcon_fdr_sqs_queue_name: {falcon}\n  regions: [us-east-1]\n  max_receive_count: 5\n{kinds}"),
    ));
    wd.run(&["check"])
        .expect_code(0)
        .expect_stdout("non-cloudwatch-logs.umbrella_dns us-east-1");
    let run = wd.run(&["s3logs", "umbrella_dns", "falcon_fdr"]);
    run.expect_code(0)
        .expect_stderr(r#"service="non-cloudwatch-logs.umbrella_dns" status="ok" exit_code=0 messages=3 objects=1 skipped=1 events=3 failed=0"#)
        .expect_stderr(r#"service="non-cloudwatch-logs.falcon_fdr" status="ok" exit_code=0 messages=2 objects=1 skipped=0 events=1 failed=0"#);
    let records = receiver.wait_for(4, std::time::Duration::from_secs(10));
    let mut got: Vec<(String, String)> = records
        .iter()
        .map(|r| (r.tag.clone(), r.message.clone()))
        .collect();
    got.sort();
    let umbrella_lines = String::from_utf8(sample("umbrella-dns.csv")).unwrap();
    let fdr = String::from_utf8(sample("crowdstrike-fdr.jsonl")).unwrap();
    let mut want: Vec<(String, String)> = umbrella_lines
        .lines()
        .map(|l| {
            (
                "sec.cisco.umbrella.dns.123456789012.us-east-1".to_string(),
                l.to_string(),
            )
        })
        .collect();
    want.push((
        "edr.crowdstrike.falcon.fdr.11111111111111111111111111111111.us-east-1".to_string(),
        fdr.trim_end().to_string(),
    ));
    want.sort();
    assert_eq!(got, want);
    assert_eq!(moto.depth("us-east-1", &umbrella_url), (0, 0));
    assert_eq!(moto.depth("us-east-1", &falcon_url), (0, 0));
    wd.run(&["s3logs", "no_such_kind"])
        .expect_code(3)
        .expect_stderr("\"no_such_kind\" is no type of S3 logs");

    // The same kind among an archive's: claimed by its keys.
    let (archive, archive_url, archive_bucket) = moto.announcing_bucket("us-east-1", "mixed", 30);
    let trail = vec![trail_record(
        "m-1",
        "GetObject",
        "s3.amazonaws.com",
        "111122223333",
        "us-east-1",
    )];
    moto.put_object(
        "us-east-1",
        &archive_bucket,
        "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T1005Z_m1.json.gz",
        trail_file(&trail),
    );
    moto.put_object(
        "us-east-1",
        &archive_bucket,
        umbrella_key,
        gzip(&sample("umbrella-dns.csv")),
    );
    wd.write_config(&config_yaml(
        receiver.port,
        &format!("non-cloudwatch-logs:\n  types: [archive]\n  archive_sqs_queue_name: {archive}\n  archive_kinds: [audits_s3, umbrella_dns]\n  regions: [us-east-1]\n  max_receive_count: 5\n{kinds}"),
    ));
    wd.run(&["s3logs", "archive"])
        .expect_code(0)
        .expect_stderr("objects read by kind: audits_s3=1 umbrella_dns=1");
    let records = receiver.wait_for(4 + 1 + 3, std::time::Duration::from_secs(10));
    let tags: Vec<&str> = records[4..].iter().map(|r| r.tag.as_str()).collect();
    assert_eq!(
        tags.iter()
            .filter(|t| t.starts_with("sec.cisco.umbrella.dns."))
            .count(),
        3
    );
    assert!(tags.contains(&"cloud.aws.cloudtrail.events.111122223333.us-east-1"));
    assert_eq!(moto.depth("us-east-1", &archive_url), (0, 0));
}

/// CloudWatch Logs through Firehose (`types: [cloudwatchlogs]`), in the three shapes Firehose
/// writes: subscription envelopes compact and back to back, several to a gzip member and two
/// members to an object (with a control message, and log groups routed to VPC flow logs and
/// CloudTrail); the envelopes newline-delimited (decompression on); the messages alone
/// (extraction on). Every event's bytes and tag are asserted.
#[test]
fn cloudwatch_logs_through_firehose_in_each_shape() {
    use crate::support::samples::trail_record;
    let (moto, receiver, wd) = setup();
    let (queue, url, bucket) = moto.announcing_bucket("us-east-1", "firehose", 30);
    let envelopes = String::from_utf8(sample("cwl-envelopes.json")).unwrap();
    let control = String::from_utf8(sample("cwl-control.json")).unwrap();
    // The two envelopes, compact and back to back (`}{`), as Firehose writes them.
    let compact_pair = compact(&envelopes);
    let flow = "2 111122223333 eni-0a1b2c3d4e5f67890 10.0.0.1 10.0.0.2 443 49152 6 10 840 1620000000 1620000060 ACCEPT OK";
    let trail = trail_record(
        "cw-1",
        "GetObject",
        "s3.amazonaws.com",
        "111122223333",
        "us-east-1",
    );
    let envelope = |group: &str, stream: &str, message: &str| {
        serde_json::json!({
            "messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": group,
            "logStream": stream, "subscriptionFilters": ["to-firehose"],
            "logEvents": [{"id": "1", "timestamp": 1714557600000_i64, "message": message}],
        })
        .to_string()
    };
    // A Route 53 Resolver query log record, in a group the config routes (no convention names it).
    let resolver = String::from_utf8(sample("route53.log")).unwrap();
    let resolver = resolver.lines().next().unwrap().to_string();
    let routed = format!(
        "{}{}{}{}",
        compact(&control),
        envelope("vpc-flow-logs", "eni-0a1b2c3d4e5f67890-all", flow),
        envelope(
            "aws-cloudtrail-logs-111122223333",
            "111122223333_CloudTrail_us-east-1",
            &trail
        ),
        envelope("resolver-query-logs", "vpc-01e31a7c", &resolver),
    );
    let mut members = gzip(compact_pair.as_bytes());
    members.extend(gzip(routed.as_bytes()));
    let prefix = "cwl/2024/05/01/10/org-logs-to-s3-1-2024-05-01-10";
    moto.put_object(
        "us-east-1",
        &bucket,
        &format!("{prefix}-15-42-0f8e2a4c-9b1d-4e3f-8a7b-6c5d4e3f2a1b.gz"),
        members,
    );
    moto.put_object(
        "us-east-1",
        &bucket,
        &format!("{prefix}-16-42-1f8e2a4c-9b1d-4e3f-8a7b-6c5d4e3f2a1b"),
        envelopes.clone().into_bytes(),
    );
    moto.put_object(
        "us-east-1",
        &bucket,
        &format!("{prefix}-17-42-2f8e2a4c-9b1d-4e3f-8a7b-6c5d4e3f2a1b.gz"),
        gzip(b"some text\nsome other text\n"),
    );
    wd.write_config(&config_yaml(
        receiver.port,
        &format!("non-cloudwatch-logs:\n  types: [cloudwatchlogs]\n  cloudwatchlogs_sqs_queue_name: {queue}\n  regions: [us-east-1]\n  max_receive_count: 5\n  cloudwatchlogs_routes:\n    - log_group: 'resolver-*'\n      records: route53\n"),
    ));
    let run = wd.run(&["s3logs", "cloudwatchlogs"]);
    run.expect_code(0)
        .expect_stderr("objects=3 skipped=0 events=9 dropped=1 failed=0");
    let logs_tag = "cloud.aws.cloudwatch.logs.123456789012.us-east-1";
    let shaped = [
        r#"{"logGroup":"/my/first/log/group","logStream":"/my/first/log/stream","eventId":"39494971786919662926967737244165955921131981322179969024","timestamp":"2026-02-13T20:49:46.034Z","ingestionTime":null,"message":"some text","region":"us-east-1","accountId":"123456789012"}"#,
        r#"{"logGroup":"/my/second/log/group","logStream":"/my/second/log/stream","eventId":"39494969221575739759196034780948230027606320717924401152","timestamp":"2026-02-13T20:47:51.000Z","ingestionTime":null,"message":"some other text","region":"us-east-1","accountId":"123456789012"}"#,
    ];
    let mut want: Vec<(String, String)> = Vec::new();
    for _ in 0..2 {
        // The gzip object and the decompressed one: the same two envelopes.
        want.extend(shaped.iter().map(|m| (logs_tag.to_string(), m.to_string())));
    }
    want.push((
        "cloud.aws.vpc.flow.111122223333.us-east-1".into(),
        flow.into(),
    ));
    want.push((
        "cloud.aws.cloudtrail.events.111122223333.us-east-1".into(),
        trail.clone(),
    ));
    want.push(("dns.aws.route53.111122223333.us-east-1".into(), resolver));
    // Extracted: the messages alone, under the puller's account.
    want.push((logs_tag.into(), "some text".into()));
    want.push((logs_tag.into(), "some other text".into()));
    let records = receiver.wait_for(want.len(), std::time::Duration::from_secs(10));
    let mut got: Vec<(String, String)> = records
        .iter()
        .map(|r| (r.tag.clone(), r.message.clone()))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(moto.depth("us-east-1", &url), (0, 0));
}

/// A Security Lake subscriber's queue (`types: [securitylake]`): real OCSF objects of both
/// source versions (tests/data/securitylake) announced as Security Lake announces them (no
/// `detail-type`) and by an S3 event notification; every row shipped byte for byte as pyarrow
/// reads it, tagged with the account and region the record names, else the key's partitions
/// (`accountId=`, `region=`); with `auto_event_type`, the OCSF class is the table's last level. A
/// Parquet object that is not whole, or that the parquet crate panics on, is reported, its message
/// left to the redrive policy.
#[test]
fn security_lake_objects_from_a_subscribers_queue() {
    let (moto, receiver, wd) = setup();
    let bucket = crate::support::aws::unique_name("aws-security-data-lake-us-east-1");
    moto.create_bucket("us-east-1", &bucket);
    let url = moto.create_queue("us-east-1", &crate::support::aws::unique_name("lake"), 30);
    let lake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/securitylake");
    let objects = [
        // Names its account and region (OCSF 1.0's cloud.account_uid).
        (
            "v1-route53-example0.gz.parquet",
            "aws/ROUTE53/1.0/region=us-east-1/accountId=123456789012/eventDay=20230307/a.gz.parquet",
        ),
        // Names neither account (left to the key) nor... its region: us-east-2.
        (
            "v2-cloudtrail-consolelogin.parquet",
            "aws/CLOUD_TRAIL_MGMT/2.0/region=eu-west-1/accountId=444455556666/eventDay=20221110/b.gz.parquet",
        ),
        (
            "v2-vpcflow-input0.parquet",
            "aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20230307/c.gz.parquet",
        ),
        (
            "v2-eks-audit.parquet",
            "ext/eks-audit/2.0/region=ap-south-1/accountId=777788889999/eventDay=20240501/d.parquet",
        ),
    ];
    for (file, key) in objects {
        moto.put_object(
            "us-east-1",
            &bucket,
            key,
            std::fs::read(lake.join(file)).unwrap(),
        );
    }
    let truncated = std::fs::read(lake.join("v2-cloudtrail-updatetrail.parquet")).unwrap();
    let cut = "aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=123456789012/eventDay=20221110/cut.gz.parquet";
    moto.put_object(
        "us-east-1",
        &bucket,
        cut,
        truncated[..truncated.len() / 2].to_vec(),
    );
    // A file the parquet crate's row reader panics on (tests/data/securitylake/README.md).
    let panics = "aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=123456789012/eventDay=20221110/panics.gz.parquet";
    moto.put_object(
        "us-east-1",
        &bucket,
        panics,
        std::fs::read(lake.join("fuzz-reader-panics.parquet")).unwrap(),
    );
    let lake_notice = |key: &str| {
        serde_json::json!({"source": "aws.s3", "time": "2024-05-01T10:00:00Z",
            "account": "123456789012", "region": "us-east-1",
            "resources": [format!("arn:aws:s3:::{bucket}")],
            "detail": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1},
                "request-id": "N4N7GDK58NMKJ12R", "requester": "securitylake.amazonaws.com"}})
        .to_string()
    };
    let s3_notice = |key: &str| {
        serde_json::json!({"Records": [{"eventName": "ObjectCreated:Put", "awsRegion": "us-east-1",
            "s3": {"bucket": {"name": bucket}, "object": {"key": key.replace('=', "%3D")}}}]})
        .to_string()
    };
    let mut bodies: Vec<String> = objects[..3].iter().map(|(_, k)| lake_notice(k)).collect();
    bodies.push(s3_notice(objects[3].1));
    bodies.push(lake_notice(cut));
    bodies.push(lake_notice(panics));
    moto.send("us-east-1", &url, &bodies);
    wd.write_config(&config_yaml(
        receiver.port,
        &format!("non-cloudwatch-logs:\n  types: [securitylake]\n  securitylake_sqs_queue_name: {url}\n  regions: [us-east-1]\n"),
    ));
    let run = wd.run(&["s3logs", "securitylake"]);
    run.expect_code(0)
        .expect_stderr("messages=6 objects=4 skipped=0 events=4 failed=4");
    assert!(
        run.stderr
            .contains("cut.gz.parquet: unexpected shape: not a Parquet file"),
        "{}",
        run.stderr
    );
    // Reported as corrupt in the run's log, no panic text on stderr.
    assert!(
        run.stderr.contains(
            "panics.gz.parquet: unexpected shape: Parquet row 1: the Parquet reader gave up"
        ) && !run.stderr.contains("panicked"),
        "{}",
        run.stderr
    );
    let expected = |file: &str| {
        std::fs::read_to_string(lake.join(format!("{file}.expected.jsonl")))
            .unwrap()
            .trim_end()
            .to_string()
    };
    let mut got: Vec<(String, String)> = receiver
        .records()
        .into_iter()
        .map(|r| (r.tag, r.message))
        .collect();
    got.sort();
    let table = "cloud.aws.amazon.security_lake.events";
    let mut want = vec![
        (
            format!("{table}.123456789012.us-east-1"),
            expected(objects[0].0),
        ),
        (
            format!("{table}.444455556666.us-east-2"),
            expected(objects[1].0),
        ),
        (
            format!("{table}.123456789012.us-east-1"),
            expected(objects[2].0),
        ),
        (
            format!("{table}.777788889999.ap-south-1"),
            expected(objects[3].0),
        ),
    ];
    want.sort();
    assert_eq!(got, want);
    // The messages of the cut object and of the one the reader panics on stay for the redrive
    // policy; the others are deleted.
    assert_eq!(moto.depth("us-east-1", &url), (0, 2));

    let (_, typed_receiver, typed_wd) = setup();
    let typed_url = moto.create_queue(
        "us-east-1",
        &crate::support::aws::unique_name("lake-typed"),
        30,
    );
    moto.send("us-east-1", &typed_url, &[lake_notice(objects[1].1)]);
    typed_wd.write_config(&config_yaml(
        typed_receiver.port,
        &format!("non-cloudwatch-logs:\n  types: [securitylake]\n  securitylake_sqs_queue_name: {typed_url}\n  regions: [us-east-1]\n  auto_event_type: true\n"),
    ));
    typed_wd.run(&["s3logs", "securitylake"]).expect_code(0);
    let tags: Vec<String> = typed_receiver
        .records()
        .into_iter()
        .map(|r| r.tag)
        .collect();
    assert_eq!(
        tags,
        ["cloud.aws.amazon.security_lake.authentication.444455556666.us-east-2"]
    );
}
