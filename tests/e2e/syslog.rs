//! Delivery against servers we did not write: rsyslog and syslog-ng (Debian's packages, client
//! certificates verified) as Devo, each test against both; SQS queues with a dead-letter queue,
//! and Devo outages.

use std::process::Stdio;
use std::time::Duration;

use devo_aws::devo::shipper::Receipt;

use crate::support::aws::{Moto, unique_name};
use crate::support::devo::{Behaviour, Pki, Receiver, closed_port, ship_direct, ship_framed};
use crate::support::samples::trail_object;
use crate::support::syslog::{Kind, SyslogServer};
use crate::support::{
    Workdir, audit_s3_yaml, config_yaml, events_yaml, setup_syslog, with_s3_state,
};

/// EventBridge bodies with unique ids, each carrying `pad` bytes of detail.
fn bodies(prefix: &str, n: usize, pad: usize) -> Vec<String> {
    let filler = "x".repeat(pad);
    (0..n)
        .map(|i| {
            format!(
                r#"{{"id":"{prefix}-{i}","source":"aws.ec2","account":"123456789012","region":"us-east-1","detail":{{"pad":"{filler}"}}}}"#
            )
        })
        .collect()
}

/// The `id` of each received EventBridge event, sorted.
fn ids(messages: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut ids: Vec<String> = messages
        .into_iter()
        .map(|m| {
            let v: serde_json::Value = serde_json::from_str(&m).unwrap();
            v["id"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    ids
}

fn expected_ids(prefix: &str, n: usize) -> Vec<String> {
    let mut ids: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    ids.sort();
    ids
}

/// rsyslog answers a resumed TLS session with internal_error: every connection must make a full
/// handshake, or every second epoch fails. 200 events of 50 KB make at least three epochs.
#[test]
fn a_syslog_server_receives_many_epochs_in_one_run() {
    for kind in Kind::ALL {
        let (moto, server, wd) = setup_syslog(kind);
        let queue = unique_name("epochs");
        let url = moto.create_queue("us-east-1", &queue, 60);
        moto.send("us-east-1", &url, &bodies("epoch", 200, 50_000));
        wd.write_config(&server.config_yaml(&events_yaml(&queue, &["us-east-1"])));

        let run = wd.run(&["events", "-vv"]);
        run.expect_code(0);
        let epochs = run.stderr.matches("Delivery epoch closed cleanly").count();
        assert!(epochs >= 3, "{epochs} epochs");
        assert!(
            !run.stderr.contains("Delivery to Devo failed"),
            "no epoch needed a retry"
        );
        let records = server.wait_for(200, Duration::from_secs(20));
        assert_eq!(
            ids(records.into_iter().map(|r| r.message)),
            expected_ids("epoch", 200),
            "each event exactly once"
        );
        assert_eq!(moto.depth("us-east-1", &url), (0, 0));
    }
}

/// Four processes on one queue at once, each with its own connections to rsyslog.
#[test]
fn four_workers_at_once_into_a_syslog_server() {
    for kind in Kind::ALL {
        let moto = Moto::new();
        let pki = Pki::new("devo");
        let server = SyslogServer::start(kind, &pki);
        let queue = unique_name("four");
        let url = moto.create_queue("us-east-1", &queue, 60);
        moto.send("us-east-1", &url, &bodies("four", 400, 100));
        let workdirs: Vec<Workdir> = (0..4)
            .map(|_| {
                let wd = Workdir::new();
                wd.write_certs(&pki, &pki);
                wd.write_config(&server.config_yaml(&events_yaml(&queue, &["us-east-1"])));
                wd
            })
            .collect();
        let children: Vec<_> = workdirs
            .iter()
            .map(|wd| {
                wd.command(
                    std::process::Command::new(env!("CARGO_BIN_EXE_devo-aws")),
                    &["events"],
                )
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "{stderr}");
            assert!(!stderr.contains("Delivery to Devo failed"), "{stderr}");
        }
        let records = server.wait_for(400, Duration::from_secs(20));
        assert_eq!(
            ids(records.into_iter().map(|r| r.message)),
            expected_ids("four", 400)
        );
        assert_eq!(moto.depth("us-east-1", &url), (0, 0));
    }
}

/// The exact bytes rsyslog received: a pretty-printed, non-ASCII EventBridge event from the
/// binary (one compact record), and through the shipper an octet-counted record whose message
/// holds a line break.
#[test]
fn exact_bytes_of_a_multiline_event_through_a_syslog_server() {
    for kind in Kind::ALL {
        let (moto, server, wd) = setup_syslog(kind);
        let queue = unique_name("bytes");
        let url = moto.create_queue("us-east-1", &queue, 30);
        let pretty = "{\n  \"id\": \"pretty-1\",\n  \"source\": \"aws.ec2\",\n  \"account\": \"123456789012\",\n  \"region\": \"eu-west-1\",\n  \"detail\": {\n    \"name\": \"café ✓\"\n  }\n}\n";
        moto.send("us-east-1", &url, &[pretty.to_string()]);
        wd.write_config(&server.config_yaml(&events_yaml(&queue, &["us-east-1"])));
        let run = wd.run(&["events"]);
        run.expect_code(0);
        server.wait_for(1, Duration::from_secs(10));

        let receipt = ship_framed(
            &wd,
            server.port,
            kind == Kind::SyslogNg,
            &[
                ("my.app.test.three", "line1\nline2"),
                ("my.app.test.one", "plain ü"),
            ],
        );
        assert!(matches!(receipt, Receipt::Delivered), "{receipt:?}");
        let raw = server.settled(Duration::from_millis(300));
        assert_eq!(raw.len(), 3, "{raw:?}");
        let raw = server.raw_records();
        let host = gethostname();
        let date = &raw[0][4..19];
        assert_eq!(
            raw[0],
            format!(
                "<14>{date} {host} cloud.aws.cloudwatch.events.123456789012.eu-west-1: {{\"id\":\"pretty-1\",\"source\":\"aws.ec2\",\"account\":\"123456789012\",\"region\":\"eu-west-1\",\"detail\":{{\"name\":\"café ✓\"}}}}"
            )
        );
        let date = &raw[1][4..19];
        assert_eq!(
            raw[1],
            format!("<14>{date} myhost my.app.test.three: line1\nline2")
        );
        assert_eq!(
            raw[2],
            format!("<14>{date} myhost my.app.test.one: plain ü")
        );
    }
}

fn gethostname() -> String {
    let out = std::process::Command::new("hostname").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Devo down for two runs (unreachable, then refusing our certificate) with a queue whose
/// redrive policy moves a message after 2 receives: the runs receive nothing, so after recovery
/// every event is delivered and the dead-letter queue stays empty.
#[test]
fn outage_of_two_runs_sends_nothing_to_the_dead_letter_queue() {
    for kind in Kind::ALL {
        let moto = Moto::new();
        let pki = Pki::new("devo");
        let stranger = Pki::new("stranger");
        let wd = Workdir::new();
        let queue = unique_name("outage");
        let (url, dlq) = moto.create_queue_with_dlq("us-east-1", &queue, 30, 2);
        moto.send("us-east-1", &url, &bodies("outage", 30, 10));
        let services = events_yaml(&queue, &["us-east-1"]);

        wd.write_certs(&pki, &pki);
        wd.write_config(&config_yaml(closed_port(), &services));
        let down = wd.run(&["events"]);
        down.expect_code(4);
        down.expect_stderr("nothing was received");

        let server = SyslogServer::start(kind, &pki);
        wd.write_config(&server.config_yaml(&services));
        wd.write_certs(&pki, &stranger);
        let refused = wd.run(&["events"]);
        refused.expect_code(3);

        wd.write_certs(&pki, &pki);
        let ok = wd.run(&["events"]);
        ok.expect_code(0);
        let records = server.wait_for(30, Duration::from_secs(10));
        assert_eq!(
            ids(records.into_iter().map(|r| r.message)),
            expected_ids("outage", 30)
        );
        assert_eq!(moto.depth("us-east-1", &url), (0, 0));
        assert_eq!(
            moto.depth("us-east-1", &dlq),
            (0, 0),
            "dead-letter queue empty"
        );
    }
}

/// Devo takes the connection check but drops every epoch: each failed run raises the receive
/// count of one receive batch at most, so two such runs move at most 10 messages to the
/// dead-letter queue, and the next good run delivers all the others.
#[test]
fn failing_epochs_raise_one_receive_batch_per_region_at_most() {
    for kind in Kind::ALL {
        let moto = Moto::new();
        let pki = Pki::new("devo");
        let wd = Workdir::new();
        wd.write_certs(&pki, &pki);
        let queue = unique_name("batch");
        let (url, dlq) = moto.create_queue_with_dlq("us-east-1", &queue, 30, 2);
        moto.send("us-east-1", &url, &bodies("batch", 60, 10));
        // Passes the check (no data), resets the connection at the first byte of data.
        let failing = Receiver::start_with(&pki, Behaviour::ResetAfter(1));
        wd.write_config(&config_yaml(
            failing.port,
            &events_yaml(&queue, &["us-east-1"]),
        ));
        for _ in 0..2 {
            let run = wd.run(&["events", "-v"]);
            run.expect_code(4);
            assert!(
                run.stderr
                    .contains("Releasing messages not acknowledged. count=10"),
                "one receive batch held: {}",
                run.stderr
            );
        }
        let server = SyslogServer::start(kind, &pki);
        wd.write_config(&server.config_yaml(&events_yaml(&queue, &["us-east-1"])));
        let ok = wd.run(&["events"]);
        ok.expect_code(0);
        let delivered = server.wait_for(50, Duration::from_secs(10)).len();
        let (dead, _) = moto.depth("us-east-1", &dlq);
        assert!(dead <= 10, "{dead} messages in the dead-letter queue");
        assert_eq!(
            delivered as u64 + dead,
            60,
            "{delivered} delivered, {dead} dead"
        );
        assert_eq!(moto.depth("us-east-1", &url), (0, 0));
    }
}

/// A server that sends close_notify right after the handshake has read nothing: no receipt,
/// nothing deleted, exit 4.
#[test]
fn a_close_before_our_data_is_not_a_receipt() {
    let moto = Moto::new();
    let pki = Pki::new("devo");
    let draining = Receiver::start_with(&pki, Behaviour::CloseAfterHandshake);
    let wd = Workdir::new();
    wd.write_certs(&pki, &pki);
    let receipt = ship_direct(&wd, draining.port, &[("my.app.test.one", "lost?")]);
    assert!(matches!(receipt, Receipt::Failed(_)), "{receipt:?}");

    let queue = unique_name("drain");
    let url = moto.create_queue("us-east-1", &queue, 30);
    moto.send("us-east-1", &url, &bodies("drain", 5, 10));
    wd.write_config(&config_yaml(
        draining.port,
        &events_yaml(&queue, &["us-east-1"]),
    ));
    let run = wd.run(&["events"]);
    run.expect_code(4);
    run.expect_stderr("before our close_notify");
    assert_eq!(moto.depth("us-east-1", &url), (5, 0), "nothing deleted");
}

/// A dry run receives too, and receiving counts toward the redrive policy: it takes 10 messages
/// per queue unless told otherwise, and says what the policy is.
#[test]
fn dry_run_takes_ten_messages_per_queue_and_names_the_redrive_policy() {
    let moto = Moto::new();
    let pki = Pki::new("devo");
    let wd = Workdir::new();
    wd.write_certs(&pki, &pki);
    let queue = unique_name("dry");
    let (url, dlq) = moto.create_queue_with_dlq("us-east-1", &queue, 30, 2);
    moto.send("us-east-1", &url, &bodies("dry", 30, 10));
    wd.write_config(&config_yaml(
        closed_port(),
        &events_yaml(&queue, &["us-east-1"]),
    ));

    let run = wd.run(&["events", "--dry-run"]);
    run.expect_code(0);
    assert_eq!(run.stdout.lines().count(), 10, "{}", run.stdout);
    assert!(
        run.stderr.contains("redrive policy") && run.stderr.contains("max_receive_count=2"),
        "{}",
        run.stderr
    );
    let more = wd.run(&["events", "--dry-run", "--max-messages", "25"]);
    assert_eq!(more.stdout.lines().count(), 25, "{}", more.stdout);
    assert_eq!(
        moto.depth("us-east-1", &url),
        (30, 0),
        "all back in the queue"
    );
    assert_eq!(moto.depth("us-east-1", &dlq), (0, 0));
}

/// A CloudTrail notification announcing three objects, the second missing at first: the other
/// two are delivered and remembered, the message is left to the queue; when it comes back (the
/// missing object now there) only that one is shipped. With either state backend.
#[test]
fn a_message_of_several_objects_ships_each_object_once() {
    for kind in Kind::ALL {
        for backend in ["filesystem", "s3"] {
            let (moto, server, wd) = setup_syslog(kind);
            let queue = unique_name("several");
            let url = moto.create_queue("us-east-1", &queue, 2);
            let bucket = unique_name("trail").to_lowercase();
            moto.create_bucket("us-east-1", &bucket);
            let key = |i: usize| {
                format!("AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/part-{i}.json.gz")
            };
            let ids = |i: usize| (0..5).map(move |n| format!("{backend}-obj{i}-{n}"));
            moto.put_object("us-east-1", &bucket, &key(1), trail_object(ids(1)));
            moto.put_object("us-east-1", &bucket, &key(3), trail_object(ids(3)));
            let inner =
                serde_json::json!({"s3Bucket": bucket, "s3ObjectKey": [key(1), key(2), key(3)]});
            let sns = serde_json::json!({"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:111122223333:trail", "Message": inner.to_string()});
            moto.send("us-east-1", &url, &[sns.to_string()]);
            let mut yaml = server.config_yaml(&audit_s3_yaml(&queue, ""));
            if backend == "s3" {
                let state = unique_name("state").to_lowercase();
                moto.create_bucket("us-east-1", &state);
                yaml = with_s3_state(&yaml, &state);
            }
            wd.write_config(&yaml);

            let first = wd.run(&["audit", "--force"]);
            first.expect_code(0);
            assert!(
                first.stderr.contains(&key(2)) && first.stderr.contains("no longer exists"),
                "the missing object is reported: {}",
                first.stderr
            );
            let received = |n| {
                let mut ids: Vec<String> = server
                    .wait_for(n, Duration::from_secs(10))
                    .into_iter()
                    .map(|r| {
                        let v: serde_json::Value = serde_json::from_str(&r.message).unwrap();
                        v["eventID"].as_str().unwrap().to_string()
                    })
                    .collect();
                ids.sort();
                ids
            };
            let mut want: Vec<String> = ids(1).chain(ids(3)).collect();
            want.sort();
            assert_eq!(received(10), want, "{backend}: objects 1 and 3 once");
            assert_eq!(
                moto.depth("us-east-1", &url).1,
                1,
                "the message is not deleted"
            );

            moto.put_object("us-east-1", &bucket, &key(2), trail_object(ids(2)));
            std::thread::sleep(Duration::from_millis(2500));
            let second = wd.run(&["audit", "--force"]);
            second.expect_code(0);
            want.extend(ids(2));
            want.sort();
            assert_eq!(
                received(15),
                want,
                "{backend}: object 2 shipped, 1 and 3 not again"
            );
            assert_eq!(
                moto.depth("us-east-1", &url),
                (0, 0),
                "{backend}: message deleted"
            );
        }
    }
}
