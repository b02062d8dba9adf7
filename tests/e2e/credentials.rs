//! Credentials: role chains into the target account, bad keys, and what `devo-aws check` says.

use crate::support::aws::{Moto, unique_name};
use crate::support::devo::{Pki, Receiver, closed_port};
use crate::support::{Workdir, config_yaml, events_yaml, setup};

fn with_credentials(yaml: &str, block: &str) -> String {
    yaml.replace(
        "    enabled: true\n",
        &format!("    enabled: true\n    credentials:\n{block}"),
    )
}

#[test]
fn role_chain_lands_in_the_target_account_with_the_external_id() {
    let (moto, receiver, wd) = setup();
    let target_account = "222233334444";
    let target_role = format!("arn:aws:iam::{target_account}:role/devo-target");
    // The queue exists only in the target account: visible only through the chain.
    let queue = unique_name("chain");
    let in_target = moto.assume(&target_role);
    let url = in_target.create_queue("us-east-1", &queue, 30);
    in_target.send(
        "us-east-1",
        &url,
        &[r#"{"id":"c-1","source":"aws.ec2","detail":{}}"#.to_string()],
    );

    let external = unique_name("ext");
    let yaml = with_credentials(
        &config_yaml(receiver.port, &events_yaml(&queue, &["us-east-1"])),
        &format!(
            "      access_key: AKIAEXAMPLE\n      access_secret: not-a-real-secret\n      base_assume_role: arn:aws:iam::111122223333:role/devo-base\n      target_assume_role: {target_role}\n      assume_role_external_id: {external}\n"
        ),
    );
    wd.write_config(&yaml);
    let run = wd.run(&["events"]);
    run.expect_code(0);
    let records = receiver.records();
    assert_eq!(records.len(), 1);
    // No account in the event: the puller's, which is the target account.
    assert_eq!(
        records[0].tag,
        format!("cloud.aws.cloudwatch.events.{target_account}.us-east-1")
    );
    assert_eq!(in_target.depth("us-east-1", &url), (0, 0));

    let chain: Vec<(String, String, Option<String>)> = moto
        .assumed_roles()
        .iter()
        .filter(|r| r["RoleSessionName"] == "devo-aws")
        .map(|r| {
            (
                r["RoleArn"].as_str().unwrap().to_string(),
                r["RoleSessionName"].as_str().unwrap().to_string(),
                r["ExternalId"].as_str().map(String::from),
            )
        })
        .filter(|(_, _, ext)| ext.as_deref().is_none_or(|e| e == external))
        .collect();
    assert!(
        chain.iter().any(
            |(arn, _, ext)| arn == "arn:aws:iam::111122223333:role/devo-base" && ext.is_none()
        ),
        "{chain:?}"
    );
    assert!(
        chain
            .iter()
            .any(|(arn, _, ext)| arn == &target_role && ext.as_deref() == Some(external.as_str())),
        "{chain:?}"
    );

    // At RUST_LOG=trace the SDK would print the AssumeRole body with the external id and the
    // signed requests: kept out unless DEVO_AWS_TRACE_AWS_BODIES=1 asks for them.
    let traced = |bodies: bool| {
        let mut command = wd.command(
            std::process::Command::new(env!("CARGO_BIN_EXE_devo-aws")),
            &["events", "--force"],
        );
        command.env("RUST_LOG", "trace");
        if bodies {
            command.env("DEVO_AWS_TRACE_AWS_BODIES", "1");
        }
        let out = command.output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let quiet = traced(false);
    assert!(quiet.contains("TRACE"), "tracing is on");
    for secret in [external.as_str(), "not-a-real-secret"] {
        assert!(!quiet.contains(secret), "{secret} in a trace");
    }
    assert!(
        traced(true).contains(external.as_str()),
        "the documented switch lets SDK bodies through"
    );

    let check = wd.run(&["check"]);
    assert_eq!(check.code, 0, "{}\n{}", check.stdout, check.stderr);
    assert!(
        check.stdout.contains(&format!(
            "assumed-role/devo-target/devo-aws (account {target_account})"
        )),
        "{}",
        check.stdout
    );
}

#[test]
fn bad_keys_give_a_clear_error_naming_the_input() {
    let (moto, receiver, wd) = setup();
    let queue = unique_name("badkeys");
    moto.create_queue("us-east-1", &queue, 30);
    wd.write_config(&with_credentials(
        &config_yaml(receiver.port, &events_yaml(&queue, &["us-east-1"])),
        "      access_key: BADKEY0000EXAMPLE\n      access_secret: wrong-secret\n",
    ));
    let run = wd.run(&["events"]);
    run.expect_code(3);
    run.expect_stderr("InvalidClientTokenId");
    assert!(
        run.stderr
            .contains("credentials from inputs.aws.credentials: access key BADKEY0000EXAMPLE"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("wrong-secret"));
    let check = wd.run(&["check"]);
    check.expect_code(3);
    assert!(
        check.stdout.contains("aws identity") && check.stdout.contains("FAIL"),
        "{}",
        check.stdout
    );
}

/// `check` with a good config and with each kind of breakage.
#[test]
fn check_reports_each_part_and_fails_on_any() {
    let moto = Moto::new();
    let pki = Pki::new("devo");
    let receiver = Receiver::start(&pki);
    let queue = unique_name("check");
    let (url, _) = moto.create_queue_with_dlq("us-east-1", &queue, 30, 5);
    moto.send("us-east-1", &url, &["{}".to_string()]);
    let services = events_yaml(&queue, &["us-east-1"]);

    let good = Workdir::new();
    good.write_certs(&pki, &pki);
    good.write_config(&config_yaml(receiver.port, &services));
    let run = good.run(&["check"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for row in [
        "config ",
        "devo localhost:",
        "aws identity ",
        "service-events-all us-east-1 ",
    ] {
        let line = run
            .stdout
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("{row} in {}", run.stdout));
        assert!(line.contains(" ok "), "{line}");
    }
    assert!(
        run.stdout.contains("client certificate valid"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("about 1 messages waiting"),
        "{}",
        run.stdout
    );
    assert_eq!(
        moto.depth("us-east-1", &url),
        (1, 0),
        "check reads no message"
    );
    assert!(receiver.records().is_empty(), "check ships nothing");
    assert!(!good.path().join("state").exists(), "check writes no state");

    let devo_row = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("devo"))
            .unwrap_or_default()
            .to_string()
    };

    let wrong_ca = Workdir::new();
    wrong_ca.write_certs(&Pki::new("other"), &pki);
    wrong_ca.write_config(&config_yaml(receiver.port, &services));
    let run = wrong_ca.run(&["check"]);
    run.expect_code(3);
    assert!(devo_row(&run.stdout).contains("FAIL"), "{}", run.stdout);

    let expired_pki = Pki::with_expired_client("devo-expired");
    let expired_receiver = Receiver::start(&expired_pki);
    let expired = Workdir::new();
    expired.write_certs(&expired_pki, &expired_pki);
    expired.write_config(&config_yaml(expired_receiver.port, &services));
    let run = expired.run(&["check"]);
    run.expect_code(3);
    assert!(
        devo_row(&run.stdout).contains("client certificate expired"),
        "{}",
        run.stdout
    );

    let missing = Workdir::new();
    missing.write_certs(&pki, &pki);
    missing.write_config(&config_yaml(
        receiver.port,
        &events_yaml(&unique_name("nosuch"), &["us-east-1"]),
    ));
    let run = missing.run(&["check"]);
    run.expect_code(3);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("service-events-all") && l.contains("FAIL")),
        "{}",
        run.stdout
    );

    let down = Workdir::new();
    down.write_certs(&pki, &pki);
    down.write_config(&config_yaml(closed_port(), &services));
    let run = down.run(&["check"]);
    run.expect_code(4);
    assert!(devo_row(&run.stdout).contains("FAIL"), "{}", run.stdout);
}

/// A client key readable by group or others is named with its mode, as ssh does; `check` fails
/// on it (exit 3).
#[test]
fn a_private_key_readable_by_others_is_reported() {
    use std::os::unix::fs::PermissionsExt;
    let (moto, receiver, wd) = setup();
    let queue = unique_name("keymode");
    moto.create_queue("us-east-1", &queue, 30);
    wd.write_config(&config_yaml(
        receiver.port,
        &events_yaml(&queue, &["us-east-1"]),
    ));
    let key = wd.path().join("certs/client.key");
    let clean = wd.run(&["events"]);
    clean.expect_code(0);
    assert!(
        !clean.stderr.contains("readable by others"),
        "{}",
        clean.stderr
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    wd.run(&["events", "--force"])
        .expect_code(0)
        .expect_stderr("The client private key is readable by others.")
        .expect_stderr(&format!("{}: mode 0644", key.display()));
    let check = wd.run(&["check"]);
    check.expect_code(3);
    assert!(
        check
            .stdout
            .lines()
            .any(|l| l.starts_with("devo key") && l.contains("FAIL") && l.contains("0644")),
        "{}",
        check.stdout
    );
}

/// `check` predicts the run: a service key with a typo (that a run would leave out) fails, so
/// does a state directory no file can be written in; a client certificate that expires in 4
/// days is a warning; and the IAM actions of each service are listed, those exercised marked.
#[test]
fn check_predicts_the_run() {
    let moto = Moto::new();
    let pki = Pki::with_client_expiring_in("soon", 4);
    let receiver = Receiver::start(&pki);
    let wd = Workdir::new();
    wd.write_certs(&pki, &pki);
    let queue = unique_name("predict");
    let hub_queue = unique_name("predict-hub");
    moto.create_queue("us-east-1", &queue, 30);
    moto.create_queue("us-east-1", &hub_queue, 30);
    let good = config_yaml(
        receiver.port,
        &format!(
            "{}sqs-cloudwatch-consumer:\n  cloudwatch_sqs_queue_name: {hub_queue}\n  regions: [us-east-1]\n",
            events_yaml(&queue, &["us-east-1"])
        ),
    );
    wd.write_config(&good);
    let check = wd.run(&["check"]);
    check.expect_code(0);
    let line = |name: &str| {
        check
            .stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {}", check.stdout))
            .to_string()
    };
    assert!(
        line("devo certificate").contains("WARN")
            && line("devo certificate").contains("expires in")
    );
    assert!(
        line("service-events-all  ").contains("sqs:GetQueueUrl*")
            && line("service-events-all  ").contains("sqs:ReceiveMessage "),
        "{}",
        check.stdout
    );

    wd.write_config(&good.replace("service-events-all:", "service-event-all:"));
    let typo = wd.run(&["check"]);
    typo.expect_code(3);
    assert!(
        typo.stdout.lines().any(|l| l.contains("service-event-all")
            && l.contains("FAIL")
            && l.contains("no service devo-aws knows")),
        "{}",
        typo.stdout
    );

    wd.write_config(&good);
    std::fs::write(
        wd.path().join("state"),
        "a file where the state directory goes",
    )
    .unwrap();
    let state = wd.run(&["check"]);
    state.expect_code(3);
    assert!(
        state
            .stdout
            .lines()
            .any(|l| l.starts_with("state") && l.contains("FAIL")),
        "{}",
        state.stdout
    );
}
