//! The S3+SQS pipeline: CloudTrail, VPC Flow Logs and CloudFront objects announced on SQS.

use std::collections::HashMap;

use crate::support::aws::Moto;
use crate::support::devo::{Receiver, Record};
use crate::support::samples::{FLOW_V2_HEADER, trail_file, trail_record};
use crate::support::{Workdir, audit_s3_yaml, config_yaml, flowlogs_yaml, gzip, setup};

/// A receiver, a workdir with matching certificates, moto, and a queue fed by a bucket's
/// notifications (with moto's s3:TestEvent already in it).
struct S3Setup {
    moto: Moto,
    receiver: Receiver,
    wd: Workdir,
    queue: String,
    url: String,
    bucket: String,
}

fn s3_setup(region: &str) -> S3Setup {
    let (moto, receiver, wd) = setup();
    let (queue, url, bucket) = moto.announcing_bucket(region, "objects", 30);
    S3Setup {
        moto,
        receiver,
        wd,
        queue,
        url,
        bucket,
    }
}

fn by_id(records: &[Record]) -> HashMap<String, (usize, String, String)> {
    let mut out: HashMap<String, (usize, String, String)> = HashMap::new();
    for r in records {
        let v: serde_json::Value = serde_json::from_str(&r.message).unwrap();
        let id = v["eventID"].as_str().unwrap().to_string();
        let e = out
            .entry(id)
            .or_insert((0, r.tag.clone(), r.message.clone()));
        e.0 += 1;
    }
    out
}

#[test]
fn cloudtrail_files_with_a_bad_digest_dropped_names_and_a_corrupt_object() {
    let s = s3_setup("us-east-1");
    let mut expected = HashMap::new();
    let mut first = Vec::new();
    let mut other_account = Vec::new();
    for (i, (account, region)) in [
        ("111122223333", "us-east-1"),
        ("444455556666", "eu-west-1"),
        ("111122223333", "ap-southeast-2"),
    ]
    .iter()
    .enumerate()
    {
        let id = format!("ct-a-{i}");
        let r = trail_record(&id, "GetObject", "s3.amazonaws.com", account, region);
        expected.insert(
            id,
            (
                format!("cloud.aws.cloudtrail.s3.{account}.{region}"),
                r.clone(),
            ),
        );
        // A record is filed under its own account's path.
        if *account == "111122223333" {
            first.push(r);
        } else {
            other_account.push(r);
        }
    }
    first.push(trail_record(
        "ct-dropped",
        "Decrypt",
        "kms.amazonaws.com",
        "111122223333",
        "us-east-1",
    ));
    let second: Vec<String> = (0..20)
        .map(|i| {
            let id = format!("ct-b-{i:02}");
            let r = trail_record(
                &id,
                "AssumeRole",
                "sts.amazonaws.com",
                "111122223333",
                "us-east-1",
            );
            expected.insert(
                id,
                (
                    "cloud.aws.cloudtrail.sts.111122223333.us-east-1".to_string(),
                    r.clone(),
                ),
            );
            r
        })
        .collect();
    let prefix = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01";
    s.moto.put_object(
        "us-east-1",
        &s.bucket,
        &format!("{prefix}/111122223333_CloudTrail_us-east-1_a.json.gz"),
        trail_file(&first),
    );
    s.moto.put_object(
        "us-east-1",
        &s.bucket,
        &format!("{prefix}/111122223333_CloudTrail_us-east-1_b with space.json.gz"),
        trail_file(&second),
    );
    s.moto.put_object(
        "us-east-1",
        &s.bucket,
        "AWSLogs/444455556666/CloudTrail/eu-west-1/2024/05/01/444455556666_CloudTrail_eu-west-1_c.json.gz",
        trail_file(&other_account),
    );
    s.moto.put_object(
        "us-east-1",
        &s.bucket,
        "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/01/111122223333_CloudTrail-Digest_us-east-1_x.json.gz",
        gzip(br#"{"awsAccountId":"111122223333","digestStartTime":"2024-05-01T09:00:00Z"}"#),
    );
    let mut corrupt = trail_file(&[trail_record(
        "ct-corrupt",
        "GetObject",
        "s3.amazonaws.com",
        "1",
        "us-east-1",
    )]);
    corrupt.truncate(corrupt.len() / 2);
    s.moto.put_object(
        "us-east-1",
        &s.bucket,
        &format!("{prefix}/111122223333_CloudTrail_us-east-1_corrupt.json.gz"),
        corrupt,
    );

    s.wd.write_config(&config_yaml(
        s.receiver.port,
        &audit_s3_yaml(
            &s.queue,
            "  auto_event_type: true\n  drop_event_names: [Decrypt, ConsoleLogin]\n",
        ),
    ));
    let run = s.wd.run(&["audit"]);
    run.expect_code(0);
    run.expect_stderr("corrupt or truncated");
    assert!(
        run.stderr.contains("_corrupt.json.gz"),
        "the corrupt object is named: {}",
        run.stderr
    );

    let got = by_id(&s.receiver.records());
    assert_eq!(got.len(), expected.len(), "{:?}", got.keys());
    for (id, (tag, message)) in &expected {
        let (count, got_tag, got_message) = &got[id];
        assert_eq!(*count, 1, "{id} exactly once");
        assert_eq!(got_tag, tag, "{id}");
        assert_eq!(
            got_message, message,
            "{id}: the record's bytes as CloudTrail wrote them"
        );
    }
    run.expect_stderr("dropped=1");
    // The digest is checked (tests/e2e/integrity.rs): this one is no digest.
    run.expect_stderr("not a CloudTrail digest");
    // Test event and good objects deleted; the corrupt object's and the digest's messages left
    // for redrive.
    assert_eq!(s.moto.depth("us-east-1", &s.url), (0, 2));
}

#[test]
fn cloudtrail_tags_without_auto_event_type_and_puller_identity() {
    let s = s3_setup("us-east-1");
    let record = trail_record(
        "ct-p-1",
        "GetObject",
        "s3.amazonaws.com",
        "444455556666",
        "eu-west-1",
    );
    s.moto.put_object(
        "us-east-1",
        &s.bucket,
        "AWSLogs/444455556666/CloudTrail/eu-west-1/2024/05/01/x.json.gz",
        trail_file(std::slice::from_ref(&record)),
    );
    s.wd.write_config(&config_yaml(
        s.receiver.port,
        &audit_s3_yaml(&s.queue, "  use_region_and_account_id_from_event: false\n"),
    ));
    s.wd.run(&["audit"]).expect_code(0);
    let records = s.receiver.records();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].tag,
        "cloud.aws.cloudtrail.events.123456789012.us-east-1"
    );
    assert_eq!(records[0].message, record);
}

const FLOW_V5_HEADER: &str = "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path";

fn flow_lines() -> (Vec<String>, Vec<String>) {
    let v2: Vec<String> = (0..5)
        .map(|i| format!("2 111122223333 eni-0a1b2c3d 10.0.0.{i} 10.0.1.5 443 5000{i} 6 10 840 1714557600 1714557660 ACCEPT OK"))
        .collect();
    let v5: Vec<String> = (0..3)
        .map(|i| format!("5 vpc-1 subnet-1 i-0abc eni-9 444455556666 IPv4 10.1.0.{i} 10.1.0.9 22 6000{i} 10.1.0.{i} 10.1.0.9 6 500 5 1714557600 1714557660 REJECT 2 OK eu-west-1 euw1-az1 - - - - ingress -"))
        .collect();
    (v2, v5)
}

#[test]
fn flow_logs_v2_and_v5_lines_as_they_stand() {
    let s = s3_setup("us-east-1");
    let (v2, v5) = flow_lines();
    s.moto.put_object(
        "us-east-1",
        &s.bucket,
        "AWSLogs/111122223333/vpcflowlogs/us-east-1/2024/05/01/111122223333_vpcflowlogs_us-east-1_fl-1_20240501T1000Z_a.log.gz",
        gzip(format!("{FLOW_V2_HEADER}\n{}\n", v2.join("\n")).as_bytes()),
    );
    s.moto.put_object(
        "us-east-1",
        &s.bucket,
        "AWSLogs/444455556666/vpcflowlogs/eu-west-1/2024/05/01/444455556666_vpcflowlogs_eu-west-1_fl-2_20240501T1000Z_b.log.gz",
        gzip(format!("{FLOW_V5_HEADER}\n{}", v5.join("\n")).as_bytes()),
    );
    s.wd.write_config(&config_yaml(
        s.receiver.port,
        &flowlogs_yaml(&s.queue, "  auto_event_type: true\n"),
    ));
    let run = s.wd.run(&["flowlogs"]);
    run.expect_code(0);
    let mut got: Vec<(String, String)> = s
        .receiver
        .records()
        .into_iter()
        .map(|r| (r.tag, r.message))
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = v2
        .iter()
        .map(|l| {
            (
                "cloud.aws.vpc.flowlogs.111122223333.us-east-1".to_string(),
                l.clone(),
            )
        })
        .chain(v5.iter().map(|l| {
            (
                "cloud.aws.vpc.flowlogs.444455556666.eu-west-1".to_string(),
                l.clone(),
            )
        }))
        .collect();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(s.moto.depth("us-east-1", &s.url), (0, 0));
}

#[test]
fn flow_logs_as_json_objects_keyed_by_the_header() {
    let s = s3_setup("us-east-1");
    let (v2, _) = flow_lines();
    s.moto.put_object(
        "us-east-1",
        &s.bucket,
        "AWSLogs/111122223333/vpcflowlogs/us-east-1/2024/05/01/f.log",
        format!("{FLOW_V2_HEADER}\n{}\n", v2[0]).into_bytes(),
    );
    s.wd.write_config(&config_yaml(
        s.receiver.port,
        &flowlogs_yaml(&s.queue, "  format: json\n"),
    ));
    s.wd.run(&["flowlogs"]).expect_code(0);
    let records = s.receiver.records();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].tag,
        "cloud.aws.vpc.unknown.111122223333.us-east-1"
    );
    assert_eq!(
        records[0].message,
        r#"{"version":"2","account-id":"111122223333","interface-id":"eni-0a1b2c3d","srcaddr":"10.0.0.0","dstaddr":"10.0.1.5","srcport":"443","dstport":"50000","protocol":"6","packets":"10","bytes":"840","start":"1714557600","end":"1714557660","action":"ACCEPT","log-status":"OK"}"#
    );
}

/// Custom flow log formats list fields in any order: the header is known by its field names, so
/// it is not shipped, lines are tagged `.flowlogs`, and `format: json` keys them by the header.
#[test]
fn custom_flow_log_formats_in_any_order() {
    let s = s3_setup("us-east-1");
    let formats = [
        (
            "srcaddr dstaddr srcport dstport protocol action account-id",
            "10.0.0.1 10.0.0.2 443 50001 6 ACCEPT 111122223333",
        ),
        (
            "account-id action log-status interface-id bytes flow-direction pkt-src-aws-service",
            "111122223333 REJECT OK eni-1 840 ingress S3",
        ),
        (
            "ecs-cluster-name ecs-task-id reject-reason region vpc-id account-id start end",
            "prod 0123abcd - us-east-1 vpc-1 111122223333 1714557600 1714557660",
        ),
    ];
    for (i, (header, line)) in formats.iter().enumerate() {
        s.moto.put_object(
            "us-east-1",
            &s.bucket,
            &format!("AWSLogs/111122223333/vpcflowlogs/us-east-1/2024/05/01/custom-{i}.log"),
            format!("{header}\n{line}\n").into_bytes(),
        );
    }
    s.wd.write_config(&config_yaml(
        s.receiver.port,
        &flowlogs_yaml(&s.queue, "  format: json\n  auto_event_type: true\n"),
    ));
    s.wd.run(&["flowlogs"]).expect_code(0);
    let records = s.receiver.records();
    assert_eq!(records.len(), 3, "no header shipped: {records:?}");
    for (header, line) in formats {
        // In the header's order; `-` (AWS's "no value") as null.
        let pairs: Vec<String> = header
            .split(' ')
            .zip(line.split(' '))
            .map(|(k, v)| match v {
                "-" => format!("\"{k}\":null"),
                v => format!("\"{k}\":\"{v}\""),
            })
            .collect();
        let want = format!("{{{}}}", pairs.join(","));
        assert!(
            records
                .iter()
                .any(|r| r.message == want
                    && r.tag.starts_with("cloud.aws.vpc.flowlogs.111122223333.")),
            "{want} in {records:?}"
        );
    }
}

#[test]
fn cloudfront_standard_logs() {
    let s = s3_setup("us-east-1");
    let fields = "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken";
    let lines: Vec<String> = (0..4)
        .map(|i| {
            format!("2024-05-01\t10:00:0{i}\tFRA56-P1\t{}\t203.0.113.{i}\tGET\td111111abcdef8.cloudfront.net\t/index.html\t200\t-\tMozilla/5.0%20(X11)\t-\t-\tHit\treq-{i}\texample.com\thttps\t120\t0.002", 1000 + i)
        })
        .collect();
    let body = format!("#Version: 1.0\n#Fields: {fields}\n{}\n", lines.join("\n"));
    s.moto.put_object(
        "us-east-1",
        &s.bucket,
        "cf-logs/E2EXAMPLE.2024-05-01-10.abcd1234.gz",
        gzip(body.as_bytes()),
    );
    s.wd.write_config(&config_yaml(
        s.receiver.port,
        &format!(
            "non-cloudwatch-logs:\n  types: [cloudfrontlogs]\n  cloudfrontlogs_sqs_queue_name: {}\n  regions: [us-east-1]\n  auto_event_type: true\n",
            s.queue
        ),
    ));
    let run = s.wd.run(&["cloudfront"]);
    run.expect_code(0);
    let mut got: Vec<String> = s
        .receiver
        .records()
        .into_iter()
        .map(|r| {
            // No account or region in the records: the puller's account and the bucket's region.
            assert_eq!(
                r.tag,
                "cloud.aws.cloudfront.accesslogs.123456789012.us-east-1"
            );
            r.message
        })
        .collect();
    got.sort();
    assert_eq!(got, lines);
}

#[test]
fn objects_older_than_start_time_are_acknowledged_unread() {
    let s = s3_setup("us-east-1");
    let (v2, _) = flow_lines();
    s.moto.put_object(
        "us-east-1",
        &s.bucket,
        "AWSLogs/111122223333/vpcflowlogs/us-east-1/2024/05/01/old.log",
        format!("{FLOW_V2_HEADER}\n{}\n", v2[0]).into_bytes(),
    );
    // Announced before the service's start_time (a start_time in the future is refused).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let start = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    s.wd.write_config(&config_yaml(
        s.receiver.port,
        &flowlogs_yaml(&s.queue, &format!("  start_time: {start}\n")),
    ));
    let run = s.wd.run(&["flowlogs"]);
    run.expect_code(0);
    assert!(s.receiver.records().is_empty());
    run.expect_stderr("skipped=1");
    assert_eq!(s.moto.depth("us-east-1", &s.url), (0, 0));
}
