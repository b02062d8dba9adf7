//! The Devo side: an endpoint down, a foreign client certificate, framing through the real
//! shipper.

use std::time::Duration;

use devo_aws::devo::shipper::{EpochLimits, Receipt};

use crate::support::aws::{Moto, unique_name};
use crate::support::devo::{Behaviour, Pki, Receiver, closed_port, ship_batches, ship_direct};
use crate::support::{Workdir, config_yaml, events_yaml, setup_with_pki};

fn bodies(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!(r#"{{"id":"{prefix}-{i}","source":"aws.ec2","account":"1","region":"us-east-1","detail":{{}}}}"#))
        .collect()
}

#[test]
fn devo_down_keeps_every_message_and_the_next_run_delivers_them() {
    let moto = Moto::new();
    let pki = Pki::new("devo");
    let wd = Workdir::new();
    wd.write_certs(&pki, &pki);
    let queue = unique_name("down");
    let url = moto.create_queue("us-east-1", &queue, 30);
    moto.send("us-east-1", &url, &bodies("down", 40));

    wd.write_config(&config_yaml(
        closed_port(),
        &events_yaml(&queue, &["us-east-1"]),
    ));
    let failed = wd.run(&["events"]);
    assert_eq!(failed.code, 4, "temporary failure: {}", failed.stderr);
    failed.expect_stderr("cannot deliver to Devo");
    assert_eq!(
        moto.depth("us-east-1", &url),
        (40, 0),
        "every message back in the queue at once"
    );
    assert!(
        !wd.path().join("state/7.service-events-all.json").exists(),
        "no state advanced"
    );

    let receiver = Receiver::start(&pki);
    wd.write_config(&config_yaml(
        receiver.port,
        &events_yaml(&queue, &["us-east-1"]),
    ));
    let ok = wd.run(&["events"]);
    ok.expect_code(0);
    let mut ids: Vec<String> = receiver
        .records()
        .iter()
        .map(|r| r.message.clone())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40);
    assert_eq!(moto.depth("us-east-1", &url), (0, 0));
}

#[test]
fn client_certificate_from_another_ca_gets_nothing_through() {
    let moto = Moto::new();
    let devo_pki = Pki::new("devo");
    let stranger = Pki::new("stranger");
    let receiver = Receiver::start(&devo_pki);
    let wd = Workdir::new();
    // The chain is Devo's (so we trust the server) but our identity comes from another CA.
    wd.write_certs(&devo_pki, &stranger);
    let queue = unique_name("foreign");
    let url = moto.create_queue("us-east-1", &queue, 30);
    moto.send("us-east-1", &url, &bodies("foreign", 5));
    wd.write_config(&config_yaml(
        receiver.port,
        &events_yaml(&queue, &["us-east-1"]),
    ));

    let run = wd.run(&["events"]);
    assert_eq!(
        run.code, 3,
        "certificate problem is a config error: {}",
        run.stderr
    );
    assert!(receiver.records().is_empty(), "nothing delivered");
    assert!(
        receiver
            .connections()
            .iter()
            .all(|c| c.bytes.is_empty() && !c.clean_close),
        "no application byte accepted: {:?}",
        receiver.connections()
    );
    assert_eq!(
        moto.depth("us-east-1", &url),
        (5, 0),
        "messages kept and released"
    );
}

#[test]
fn server_from_another_ca_is_not_trusted() {
    let moto = Moto::new();
    let devo_pki = Pki::new("devo");
    let impostor = Pki::new("impostor");
    let receiver = Receiver::start(&impostor);
    let wd = Workdir::new();
    wd.write_certs(&devo_pki, &devo_pki);
    let queue = unique_name("impostor");
    let url = moto.create_queue("us-east-1", &queue, 30);
    moto.send("us-east-1", &url, &bodies("impostor", 3));
    wd.write_config(&config_yaml(
        receiver.port,
        &events_yaml(&queue, &["us-east-1"]),
    ));
    let run = wd.run(&["events"]);
    run.expect_code(3);
    assert!(receiver.bytes().is_empty());
    assert_eq!(moto.depth("us-east-1", &url), (3, 0));
}

/// The framing through the real shipper and TLS: a line break is octet-counted, non-ASCII text
/// goes out as raw UTF-8, and both framings mix on one connection.
#[test]
fn shipper_frames_line_breaks_with_octet_counting() {
    let pki = Pki::new("devo");
    let receiver = Receiver::start(&pki);
    let wd = Workdir::new();
    wd.write_certs(&pki, &pki);
    let receipt = ship_direct(
        &wd,
        receiver.port,
        &[
            ("my.app.test.one", "plain"),
            ("my.app.test.three", "line1\nline2"),
            ("my.app.test.utf8", "ünïcødé ✓"),
        ],
    );
    assert!(matches!(receipt, Receipt::Delivered), "{receipt:?}");
    let bytes = String::from_utf8(receiver.bytes()).unwrap();
    let date = &bytes[4..19];
    let header = format!("<14>{date} myhost ");
    let three = format!("{header}my.app.test.three: line1\nline2\n");
    assert_eq!(
        bytes,
        format!(
            "{header}my.app.test.one: plain\n{} {three}{header}my.app.test.utf8: ünïcødé ✓\n",
            three.len()
        )
    );
    assert_eq!(three.len(), 58, "the spec's own example length");
    let conns = receiver.connections();
    assert_eq!(conns.len(), 1);
    assert!(conns[0].clean_close);
}

/// `yaml` (from `config_yaml`) with a second Devo output at localhost:`port`.
fn with_second_output(yaml: &str, port: u16) -> String {
    yaml.replace(
        "inputs:\n",
        &format!(
            "  devo_2:\n    type: devo_platform\n    config:\n      address: localhost\n      port: {port}\n      type: SSL\n      chain: chain.crt\n      cert: client.crt\n      key: client.key\ninputs:\n"
        ),
    )
}

/// Every event goes to every output (how people move between Devo domains), and a message is
/// deleted only once each output has its receipt: with one output down nothing is received, and
/// the next run delivers to both.
#[test]
fn several_outputs_each_get_every_event() {
    let (moto, pki, first, wd) = setup_with_pki();
    let queue = unique_name("two");
    let url = moto.create_queue("us-east-1", &queue, 30);
    moto.send("us-east-1", &url, &bodies("two", 20));
    let services = events_yaml(&queue, &["us-east-1"]);

    let down = closed_port();
    wd.write_config(&with_second_output(
        &config_yaml(first.port, &services),
        down,
    ));
    wd.run(&["events"])
        .expect_code(4)
        .expect_stderr(&format!("localhost:{down}"));
    assert_eq!(moto.depth("us-east-1", &url), (20, 0), "nothing received");
    assert!(first.records().is_empty());

    let second = Receiver::start(&pki);
    wd.write_config(&with_second_output(
        &config_yaml(first.port, &services),
        second.port,
    ));
    wd.run(&["events"]).expect_code(0);
    for receiver in [&first, &second] {
        let mut ids: Vec<String> = receiver.records().into_iter().map(|r| r.message).collect();
        ids.sort();
        let mut want = bodies("two", 20);
        want.sort();
        assert_eq!(ids, want, "each output has each event once");
    }
    assert_eq!(moto.depth("us-east-1", &url), (0, 0));
}

/// `verify_hostname: false` skips the name check only: a certificate under the same chain that
/// is not a server's (another tenant's client certificate) is refused, and `server_fingerprint`
/// pins the one server certificate to take.
#[test]
fn relaxed_hostname_check_still_wants_a_server_certificate_and_honours_a_pin() {
    let (moto, pki, good, wd) = setup_with_pki();
    let queue = unique_name("relaxed");
    let url = moto.create_queue("us-east-1", &queue, 30);
    moto.send("us-east-1", &url, &bodies("relaxed", 3));
    let services = events_yaml(&queue, &["us-east-1"]);
    let with = |port: u16, extra: &str| {
        config_yaml(port, &services).replace(
            "      key: client.key\n",
            &format!("      key: client.key\n      verify_hostname: false\n{extra}"),
        )
    };

    let impostor = Receiver::start(&pki.with_client_as_server());
    wd.write_config(&with(impostor.port, ""));
    wd.run(&["events"])
        .expect_code(3)
        .expect_stderr("InvalidPurpose");
    assert!(impostor.bytes().is_empty(), "nothing sent to the impostor");

    let other = Pki::new("devo-other-server");
    wd.write_config(&with(
        good.port,
        &format!(
            "      server_fingerprint: \"{}\"\n",
            other.server_fingerprint()
        ),
    ));
    wd.run(&["events"])
        .expect_code(3)
        .expect_stderr("ApplicationVerificationFailure");
    assert!(good.records().is_empty());

    wd.write_config(&with(
        good.port,
        &format!(
            "      server_fingerprint: \"{}\"\n",
            pki.server_fingerprint()
        ),
    ));
    wd.run(&["events"]).expect_code(0);
    assert_eq!(good.records().len(), 3);
    assert_eq!(moto.depth("us-east-1", &url), (0, 0));
}

/// Epochs close concurrently (a far Devo costs latency, not throughput), but receipts are
/// answered in order: a later epoch that reached Devo does not speak for an earlier one that
/// failed. Its receipt fails too; the next run sends it again (a duplicate, never a loss).
#[test]
fn a_later_epoch_does_not_speak_for_an_earlier_one_that_failed() {
    let pki = Pki::new("devo");
    let receiver = Receiver::start_with(&pki, Behaviour::FirstFailsLate);
    let wd = Workdir::new();
    wd.write_certs(&pki, &pki);
    let limits = EpochLimits {
        attempts: 1,
        // Each batch is an epoch of its own.
        max_bytes: 1,
        ..EpochLimits::default()
    };
    let receipts = ship_batches(
        &wd,
        receiver.port,
        limits,
        &[
            &[("my.app.test.one", "first")],
            &[("my.app.test.two", "second")],
        ],
    );
    // (A connection made in advance for a third epoch carried nothing.)
    let conns: Vec<_> = receiver
        .connections()
        .into_iter()
        .filter(|c| c.byte_count > 0)
        .collect();
    assert_eq!(
        conns.len(),
        2,
        "the second epoch went out while the first closed"
    );
    assert!(!conns[0].clean_close);
    assert!(conns[1].clean_close, "the second epoch reached Devo");
    assert!(
        receipts.iter().all(|r| matches!(r, Receipt::Failed(_))),
        "{receipts:?}"
    );

    // With a server that closes cleanly, both are delivered.
    let receiver = Receiver::start(&pki);
    let receipts = ship_batches(
        &wd,
        receiver.port,
        EpochLimits {
            max_bytes: 1,
            idle: Duration::from_millis(10),
            ..EpochLimits::default()
        },
        &[
            &[("my.app.test.one", "first")],
            &[("my.app.test.two", "second")],
        ],
    );
    assert!(
        receipts.iter().all(|r| matches!(r, Receipt::Delivered)),
        "{receipts:?}"
    );
    assert_eq!(receiver.records().len(), 2);
}
