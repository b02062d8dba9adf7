//! Nothing lost when Devo misbehaves: in every case below no SQS message is deleted for events
//! Devo did not receive in full, and the next run, against a sound Devo, delivers everything.

use std::collections::HashSet;

use crate::support::aws::{Moto, unique_name};
use crate::support::devo::{Behaviour, Pki, Receiver};
use crate::support::{Workdir, config_yaml};

const EVENTS: usize = 60;

/// Runs `events` against a misbehaving receiver, then against a sound one.
fn misbehaving(pki_bad: &Pki, behaviour: Behaviour, expect_code: i32) {
    let moto = Moto::new();
    let pki = Pki::new("devo");
    let wd = Workdir::new();
    let queue = unique_name("fault");
    let url = moto.create_queue("us-east-1", &queue, 30);
    let bodies: Vec<String> = (0..EVENTS)
        .map(|i| format!(r#"{{"id":"f-{i:03}","source":"aws.ec2","account":"1","region":"us-east-1","detail":{{"pad":"{}"}}}}"#, "x".repeat(200)))
        .collect();
    moto.send("us-east-1", &url, &bodies);
    let services = format!(
        "service-events-all:\n  cloudwatch_sqs_queue_name: {queue}\n  regions: [us-east-1]\n"
    );
    let with_timeout = |port: u16| {
        config_yaml(port, &services).replace(
            "      key: client.key\n",
            "      key: client.key\n      timeout_seconds: 2\n",
        )
    };

    let bad = Receiver::start_with(pki_bad, behaviour);
    // The client trusts the misbehaving server's CA: only the behaviour (or the expiry) is wrong.
    wd.write_certs(pki_bad, pki_bad);
    wd.write_config(&with_timeout(bad.port));
    let failed = wd.run(&["events"]);
    assert_eq!(failed.code, expect_code, "{behaviour:?}: {}", failed.stderr);
    assert_eq!(
        moto.depth("us-east-1", &url),
        (EVENTS as u64, 0),
        "{behaviour:?}: every message back in the queue"
    );

    let good = Receiver::start(&pki);
    wd.write_certs(&pki, &pki);
    wd.write_config(&with_timeout(good.port));
    let ok = wd.run(&["events"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let ids: HashSet<String> = good
        .records()
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.message).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        ids.len(),
        EVENTS,
        "{behaviour:?}: everything delivered by the next run"
    );
    assert_eq!(moto.depth("us-east-1", &url), (0, 0));
}

#[test]
fn reset_after_some_bytes() {
    misbehaving(&Pki::new("devo"), Behaviour::ResetAfter(2000), 4);
}

#[test]
fn server_stalls_without_reading() {
    misbehaving(&Pki::new("devo"), Behaviour::Stall, 4);
}

#[test]
fn server_closes_without_close_notify() {
    misbehaving(&Pki::new("devo"), Behaviour::CloseWithoutNotify, 4);
}

#[test]
fn expired_server_certificate() {
    misbehaving(&Pki::with_expired_server("devo"), Behaviour::Normal, 3);
}
