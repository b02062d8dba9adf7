//! events and securityhub through SQS: exact bytes, exactly once, acknowledgement.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::support::aws::unique_name;
use crate::support::devo::Record;
use crate::support::{config_yaml, events_yaml, setup};

/// A receiver, a workdir with matching certificates, and moto.
fn event(id: &str, source: &str, account: &str, region: &str, detail: &str) -> String {
    format!(
        r#"{{"version":"0","id":"{id}","detail-type":"Test","source":"{source}","account":"{account}","time":"2024-05-01T10:00:00Z","region":"{region}","resources":[],"detail":{detail}}}"#
    )
}

fn events_service(queue: &str, regions: &[&str], extra: &str) -> String {
    format!("{}{extra}", events_yaml(queue, regions))
}

#[test]
fn exact_bytes_of_events_with_non_ascii_and_pretty_json() {
    let (moto, receiver, wd) = setup();
    let queue = unique_name("exact");
    let url = moto.create_queue("us-east-1", &queue, 30);
    let plain = event(
        "e-1",
        "aws.ec2",
        "111122223333",
        "eu-west-1",
        r#"{"state":"running"}"#,
    );
    let unicode = event(
        "e-2",
        "aws.s3",
        "111122223333",
        "us-east-1",
        r#"{"name":"ünïcødé ✓ 日本"}"#,
    );
    let pretty = "{\n  \"id\": \"e-3\",\n  \"source\": \"com.example.app\",\n  \"detail\": {\"a\": \"x y\"}\n}";
    moto.send(
        "us-east-1",
        &url,
        &[plain.clone(), unicode.clone(), pretty.to_string()],
    );
    wd.write_config(&config_yaml(
        receiver.port,
        &events_service(&queue, &["us-east-1"], "  auto_event_type: true\n"),
    ));

    let run = wd.run(&["events"]);
    run.expect_code(0);

    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let bytes = String::from_utf8(receiver.bytes()).unwrap();
    let mut lines: Vec<&str> = bytes.split_inclusive('\n').collect();
    lines.sort_by_key(|l| l.find("\"e-").map(|i| &l[i..i + 5]));
    let expected = [
        format!("cloud.aws.cloudwatch.ec2.111122223333.eu-west-1: {plain}\n"),
        format!("cloud.aws.cloudwatch.s3.111122223333.us-east-1: {unicode}\n"),
        // No account or region in the event: the puller's (moto's account, the pulled region).
        "cloud.aws.cloudwatch.com_example_app.123456789012.us-east-1: {\"id\":\"e-3\",\"source\":\"com.example.app\",\"detail\":{\"a\":\"x y\"}}\n".to_string(),
    ];
    assert_eq!(lines.len(), 3, "{bytes}");
    for (line, want) in lines.iter().zip(&expected) {
        // <14>Mmm dd hh:mm:ss host tag: message\n
        let (header, rest) = line.split_at(4 + 15);
        assert!(header.starts_with("<14>"), "{line}");
        let date = &header[4..];
        assert!(
            date.as_bytes()[3] == b' ' && date.as_bytes()[6] == b' ' && &date[9..10] == ":",
            "{date:?}"
        );
        assert_eq!(rest, format!(" {host} {want}"), "record bytes");
    }
    assert_eq!(
        moto.depth("us-east-1", &url),
        (0, 0),
        "every delivered message deleted"
    );
}

#[test]
fn five_hundred_events_over_two_regions_exactly_once() {
    let (moto, receiver, wd) = setup();
    let queue = unique_name("bulk");
    let regions = ["us-east-1", "eu-west-1"];
    let mut urls = Vec::new();
    for region in regions {
        let url = moto.create_queue(region, &queue, 30);
        let bodies: Vec<String> = (0..250)
            .map(|i| {
                event(
                    &format!("{region}-{i:03}"),
                    "aws.ec2",
                    "111122223333",
                    region,
                    r#"{"n":1}"#,
                )
            })
            .collect();
        moto.send(region, &url, &bodies);
        urls.push((region, url));
    }
    wd.write_config(&config_yaml(
        receiver.port,
        &events_service(&queue, &["us-east-1", "eu-west-1"], ""),
    ));

    let started = Instant::now();
    let run = wd.run(&["events"]);
    let seconds = started.elapsed().as_secs_f64();
    run.expect_code(0);
    eprintln!(
        "500 events over 2 regions: {seconds:.2} s, {:.0} events/s",
        500.0 / seconds
    );

    let records = receiver.records();
    let mut seen: HashMap<String, (usize, String)> = HashMap::new();
    for Record { tag, message, .. } in &records {
        let v: serde_json::Value = serde_json::from_str(message).unwrap();
        let id = v["id"].as_str().unwrap().to_string();
        let entry = seen.entry(id).or_insert((0, tag.clone()));
        entry.0 += 1;
    }
    assert_eq!(records.len(), 500, "records received");
    assert_eq!(seen.len(), 500, "distinct ids");
    for (id, (count, tag)) in &seen {
        assert_eq!(*count, 1, "{id} received {count} times");
        let region = if id.starts_with("us-east-1") {
            "us-east-1"
        } else {
            "eu-west-1"
        };
        assert_eq!(
            tag,
            &format!("cloud.aws.cloudwatch.events.111122223333.{region}")
        );
    }
    for (region, url) in &urls {
        assert_eq!(moto.depth(region, url), (0, 0), "{region} queue empty");
    }
    assert!(
        run.stderr.contains("summary"),
        "a summary line: {}",
        run.stderr
    );
    run.expect_stderr("events=500");

    // Nothing new: a second run (forced past request_period_in_seconds) ships nothing.
    let before = receiver.bytes().len();
    let again = wd.run(&["events", "--force"]);
    again.expect_code(0);
    assert_eq!(receiver.bytes().len(), before, "second run sent nothing");
}

#[test]
fn request_period_skips_a_run_that_comes_too_soon() {
    let (moto, receiver, wd) = setup();
    let queue = unique_name("period");
    let url = moto.create_queue("us-east-1", &queue, 30);
    wd.write_config(&config_yaml(
        receiver.port,
        &events_service(
            &queue,
            &["us-east-1"],
            "  request_period_in_seconds: 3600\n",
        ),
    ));
    wd.run(&["events"]).expect_code(0);
    moto.send(
        "us-east-1",
        &url,
        &[event("late", "aws.ec2", "1", "us-east-1", "{}")],
    );
    let skipped = wd.run(&["events"]);
    skipped.expect_code(0);
    skipped.expect_stderr("not due until");
    assert_eq!(moto.depth("us-east-1", &url), (1, 0), "not pulled");
    wd.run(&["events", "--force"]).expect_code(0);
    assert_eq!(receiver.wait_for(1, Duration::from_secs(1)).len(), 1);
}

/// Cron does not start on the second: a run that comes within 10 % of the period (at most 60 s)
/// before its due time pulls; one that comes earlier does not; a late one does.
#[test]
fn a_run_started_a_little_early_is_due() {
    let (moto, receiver, wd) = setup();
    let queue = unique_name("early");
    let url = moto.create_queue("us-east-1", &queue, 30);
    wd.write_config(&config_yaml(
        receiver.port,
        &events_yaml(&queue, &["us-east-1"]),
    ));
    let state = wd.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let pulled_ago = |secs: i64| {
        let last = (chrono::Utc::now() - chrono::Duration::seconds(secs)).to_rfc3339();
        std::fs::write(
            state.join("7.service-events-all.json"),
            format!(r#"{{"version":1,"last_pull":"{last}"}}"#),
        )
        .unwrap();
    };
    let mut sent = 0;
    for (ago, due) in [(285, true), (250, false), (400, true)] {
        moto.send(
            "us-east-1",
            &url,
            &[event(
                &format!("early-{ago}"),
                "aws.ec2",
                "1",
                "us-east-1",
                "{}",
            )],
        );
        sent += 1;
        pulled_ago(ago);
        let run = wd.run(&["events"]);
        run.expect_code(0);
        if due {
            assert_eq!(
                moto.depth("us-east-1", &url),
                (0, 0),
                "{ago} s after the last pull: due"
            );
        } else {
            run.expect_stderr("not due until");
            assert_eq!(
                moto.depth("us-east-1", &url),
                (1, 0),
                "{ago} s after: not due"
            );
        }
    }
    assert_eq!(receiver.wait_for(sent, Duration::from_secs(2)).len(), sent);
}

#[test]
fn securityhub_ships_one_event_per_finding() {
    let (moto, receiver, wd) = setup();
    let queue = unique_name("hub");
    let url = moto.create_queue("eu-west-1", &queue, 30);
    let body = r#"{"version":"0","id":"h-1","detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","account":"111122223333","region":"eu-west-1","detail":{"findings":[{"Id":"f-1","AwsAccountId":"444455556666","Region":"eu-central-1","Title":"one"},{"Id":"f-2","Title":"two"}]}}"#;
    let sns = serde_json::json!({
        "Type": "Notification",
        "MessageId": "sns-1",
        "TopicArn": "arn:aws:sns:eu-west-1:111122223333:hub",
        "Message": body,
    })
    .to_string();
    moto.send("eu-west-1", &url, &[sns]);
    wd.write_config(&config_yaml(
        receiver.port,
        &format!("sqs-cloudwatch-consumer:\n  cloudwatch_sqs_queue_name: {queue}\n  regions: [eu-west-1]\n  auto_event_type: true\n"),
    ));
    let run = wd.run(&["securityhub"]);
    run.expect_code(0);
    let mut records = receiver.records();
    records.sort_by(|a, b| a.message.cmp(&b.message));
    let got: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r.tag.as_str(), r.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "cloud.aws.securityhub.findings.444455556666.eu-central-1",
                r#"{"Id":"f-1","AwsAccountId":"444455556666","Region":"eu-central-1","Title":"one"}"#
            ),
            (
                "cloud.aws.securityhub.findings.111122223333.eu-west-1",
                r#"{"Id":"f-2","Title":"two"}"#
            ),
        ]
    );
    assert_eq!(moto.depth("eu-west-1", &url), (0, 0));
}

/// A poison message is left to the redrive policy, and a queue that has none is warned about
/// (by the run and by `check`); with `max_receive_count`, the message is deleted once received
/// that many times, with its id and reason, and counted.
#[test]
fn poison_message_is_reported_and_the_rest_delivered() {
    let (moto, receiver, wd) = setup();
    let queue = unique_name("poison");
    let url = moto.create_queue("us-east-1", &queue, 2);
    let good: Vec<String> = (0..5)
        .map(|i| event(&format!("g-{i}"), "aws.ec2", "1", "us-east-1", "{}"))
        .collect();
    let mut bodies = good.clone();
    bodies.insert(2, "this is not json".to_string());
    moto.send("us-east-1", &url, &bodies);
    wd.write_config(&config_yaml(
        receiver.port,
        &events_service(&queue, &["us-east-1"], ""),
    ));
    let run = wd.run(&["events"]);
    run.expect_code(0);
    run.expect_stderr("cannot be understood");
    run.expect_stderr("message_id");
    run.expect_stderr("Queue without a redrive policy");
    let mut messages: Vec<String> = receiver.records().into_iter().map(|r| r.message).collect();
    messages.sort();
    assert_eq!(messages, good);
    assert_eq!(
        moto.depth("us-east-1", &url),
        (0, 1),
        "the poison message is left in flight for the redrive policy"
    );
    wd.run(&["check"])
        .expect_code(0)
        .expect_stdout("WARN")
        .expect_stdout("it has no redrive policy");

    wd.write_config(&config_yaml(
        receiver.port,
        &events_service(&queue, &["us-east-1"], "  max_receive_count: 2\n"),
    ));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let run = wd.run(&["events", "--force"]);
    run.expect_code(0)
        .expect_stderr("received max_receive_count times: deleted")
        .expect_stderr("received=2")
        .expect_stderr("discarded=1");
    assert!(!run.stderr.contains("Queue without a redrive policy"));
    assert_eq!(moto.depth("us-east-1", &url), (0, 0), "deleted");
    assert_eq!(
        receiver.records().len(),
        good.len(),
        "nothing shipped twice"
    );
}

#[test]
fn dry_run_prints_tagged_events_and_acknowledges_nothing() {
    let (moto, receiver, wd) = setup();
    let queue = unique_name("dry");
    let url = moto.create_queue("us-east-1", &queue, 30);
    let body = event("d-1", "aws.ec2", "111122223333", "us-east-1", "{}");
    moto.send("us-east-1", &url, std::slice::from_ref(&body));
    wd.write_config(&config_yaml(
        receiver.port,
        &events_service(&queue, &["us-east-1"], ""),
    ));
    let run = wd.run(&["--dry-run", "all"]);
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        format!("cloud.aws.cloudwatch.events.111122223333.us-east-1: {body}\n")
    );
    assert!(receiver.connections().is_empty(), "nothing sent to Devo");
    assert_eq!(
        moto.depth("us-east-1", &url),
        (1, 0),
        "released at once, not deleted"
    );
    assert!(!wd.path().join("state").exists(), "no state written");
}
