//! Mistakes a user migrating from Devo's AWS collector makes: each is said (what, where, what to
//! write instead), never a quiet exit 0 that pulls nothing or ships the wrong thing.

use crate::support::aws::unique_name;
use crate::support::devo::closed_port;
use crate::support::samples::trail_object;
use crate::support::{
    Workdir, audit_s3_yaml, config_yaml, events_yaml, let_aws_clock_pass, logs_yaml, setup,
};

const EVENTS: &str =
    "service-events-all:\n  cloudwatch_sqs_queue_name: q\n  regions: [us-east-1]\n";

/// A start_time in the future (2027 typed for 2026) would make every S3+SQS service acknowledge
/// each notification unread: refused with its key path, in the config and in `--start-time`.
#[test]
fn a_start_time_in_the_future_is_refused() {
    let wd = Workdir::new();
    let future = (chrono::Utc::now() + chrono::Duration::days(365)).to_rfc3339();
    wd.write_config(&config_yaml(
        closed_port(),
        &audit_s3_yaml("q", &format!("  start_time: {future}\n")),
    ));
    for args in [&["audit", "--dry-run"][..], &["check"]] {
        wd.run(args)
            .expect_code(3)
            .expect_stderr("inputs.aws.services.audit-events-all.start_time: ")
            .expect_stderr("is after now");
    }
    wd.write_config(&config_yaml(closed_port(), EVENTS));
    wd.run(&["events", "--dry-run", "--start-time", &future])
        .expect_code(3)
        .expect_stderr("--start-time ")
        .expect_stderr("is after now");
    assert!(!wd.path().join("state").exists(), "nothing written");
}

/// An end before the start is a usage error, not a run that quietly does nothing.
#[test]
fn an_end_time_before_the_start_time_is_a_usage_error() {
    let wd = Workdir::new();
    wd.write_config(&config_yaml(closed_port(), EVENTS));
    wd.run(&[
        "logs",
        "--start-time",
        "2024-05-02T00:00:00Z",
        "--end-time",
        "2024-05-01T00:00:00Z",
    ])
    .expect_code(2)
    .expect_stderr(
        "--end-time 2024-05-01T00:00:00Z is not after --start-time 2024-05-02T00:00:00Z",
    );
}

/// Two services on one queue would take each other's messages (Security Hub findings shipped
/// unsplit under the events tag): refused at load and in `check`, naming both key paths.
#[test]
fn two_services_on_one_queue_are_refused() {
    let wd = Workdir::new();
    let both = format!(
        "{}sqs-cloudwatch-consumer:\n  cloudwatch_sqs_queue_name: q\n  regions: [eu-west-1, us-east-1]\n",
        EVENTS
    );
    wd.write_config(&config_yaml(closed_port(), &both));
    for args in [&["events", "--dry-run"][..], &["check"]] {
        wd.run(args).expect_code(3).expect_stderr(
            "inputs.aws.services.sqs-cloudwatch-consumer.cloudwatch_sqs_queue_name: queue \"q\" in us-east-1 is also named by inputs.aws.services.service-events-all.cloudwatch_sqs_queue_name",
        );
    }
    // The same name in regions apart is two queues.
    let apart = both.replace("[eu-west-1, us-east-1]", "[eu-west-1]");
    wd.write_config(&config_yaml(closed_port(), &apart));
    let run = wd.run(&["events", "--dry-run", "--deadline", "2s"]);
    assert!(!run.stderr.contains("is also named by"), "{}", run.stderr);
}

/// Ids are strings of up to 5 digits in the seed: `007` is taken as written, and names the
/// state files as written.
#[test]
fn ids_with_leading_zeros_are_taken_as_written() {
    let (moto, receiver, wd) = setup();
    let queue = unique_name("zeros");
    let url = moto.create_queue("us-east-1", &queue, 30);
    moto.send("us-east-1", &url, &["{\"id\":\"z\"}".to_string()]);
    let yaml = config_yaml(receiver.port, &events_yaml(&queue, &["us-east-1"])).replacen(
        "    id: 7\n",
        "    id: 007\n",
        1,
    );
    wd.write_config(&yaml);
    wd.run(&["events"]).expect_code(0);
    assert_eq!(receiver.records().len(), 1);
    assert!(
        wd.path().join("state/007.service-events-all.json").exists(),
        "{:?}",
        std::fs::read_dir(wd.path().join("state"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect::<Vec<_>>()
    );
}

/// Messages in the user's words: what is wrong, where (key path and line), what to write.
#[test]
fn config_mistakes_say_what_to_write_instead() {
    let wd = Workdir::new();
    let base = config_yaml(closed_port(), EVENTS);
    for (from, to, want) in [
        (
            "regions: [us-east-1]\n",
            "regions: [us-east-1]\n        s3_file_type_filter: \"(json\"\n",
            "inputs.aws.services.service-events-all.s3_file_type_filter: not a regular expression: unclosed group at character 1 of \"(json\"",
        ),
        (
            "  name: e2e\n",
            "  name: e2e\n  name: again\n",
            "globals: `name` is given twice in this block (line 5, column 3), first at line 4: keep one",
        ),
        (
            "regions: [us-east-1]\n",
            "regions: [us-east-1]\n        drop_event_names: Decrypt\n",
            "inputs.aws.services.service-events-all.drop_event_names: expected a list (line 27, column 27), got \"Decrypt\": write [Decrypt]",
        ),
        (
            "address: localhost\n",
            "address: localhost:443\n",
            "outputs.devo_1.config.address: \"localhost:443\" holds a port: write address: localhost and port: 443",
        ),
    ] {
        assert!(base.contains(from), "{from}");
        wd.write_config(&base.replacen(from, to, 1));
        wd.run(&["events", "--dry-run"])
            .expect_code(3)
            .expect_stderr(want);
    }
}

/// A log group prefix that matches nothing (a typo) warns in every run, with the group and
/// region, and the summary says so; a group's ARN pasted from the console (`...:*`) is the group.
#[test]
fn a_log_group_prefix_that_matches_nothing_is_said_every_run() {
    let (moto, receiver, wd) = setup();
    let group = unique_name("/aws/lambda/real");
    moto.log_group("us-east-1", &group, &["s"]);
    let arn = format!("arn:aws:logs:us-east-1:123456789012:log-group:{group}:*");
    let typo = group.replace("lambda", "lamda");
    wd.write_config(&config_yaml(
        receiver.port,
        &logs_yaml(&format!("[\"{arn}\", \"{typo}*\"]"), "  delay_seconds: 0\n"),
    ));
    let_aws_clock_pass();
    for _ in 0..2 {
        let run = wd.run(&["logs", "--force"]);
        run.expect_code(0)
            .expect_stderr("No log group matches this prefix")
            .expect_stderr(&format!("log_group={typo}*"))
            .expect_stderr(&format!(
                "note=\"no log group in us-east-1 matches {typo}*\""
            ));
        assert!(!run.stderr.contains("matches arn:"), "{}", run.stderr);
    }
}

/// A run the deadline cuts short with a backlog left says so in its summary, with how many
/// messages went back: not a bare status="ok".
#[test]
fn a_deadline_that_leaves_a_backlog_is_said_in_the_summary() {
    let (moto, receiver, wd) = setup();
    let queue = unique_name("backlog");
    let url = moto.create_queue("us-east-1", &queue, 30);
    let bodies: Vec<String> = (0..60).map(|i| format!("{{\"id\":\"b{i}\"}}")).collect();
    moto.send("us-east-1", &url, &bodies);
    // Every receive answers after 1.5 s: the 2 s deadline ends the run with most still waiting.
    moto.fault(
        serde_json::json!({"op": "ReceiveMessage", "match": queue, "delay_ms": 1500, "times": 100}),
    );
    wd.write_config(&config_yaml(
        receiver.port,
        &events_yaml(&queue, &["us-east-1"]),
    ));
    let run = wd.run(&["events", "--deadline", "2s"]);
    run.expect_code(0)
        .expect_stderr("the deadline (or a stop signal) ended the run in us-east-1 with the queue not drained: ")
        .expect_stderr("received messages went back to the queue");
    let (waiting, in_flight) = moto.depth("us-east-1", &url);
    assert_eq!(in_flight, 0, "nothing left invisible");
    assert_eq!(
        waiting as usize + receiver.records().len(),
        60,
        "every message delivered or back"
    );
    assert!(waiting > 0, "a backlog is left");
}

/// Certificate mistakes named by their cause, in a real run and in a dry run alike (a dry run
/// reads and matches the certificates as a real run does; it only does not connect).
#[test]
fn certificate_mistakes_are_named_by_their_cause() {
    let (moto, receiver, wd) = setup();
    let queue = unique_name("certs");
    let url = moto.create_queue("us-east-1", &queue, 30);
    moto.send("us-east-1", &url, &["{\"id\":\"c\"}".to_string()]);
    wd.write_config(&config_yaml(
        receiver.port,
        &events_yaml(&queue, &["us-east-1"]),
    ));
    let certs = wd.path().join("certs");
    let key = certs.join("client.key");
    let plain = std::fs::read(&key).unwrap();
    let encrypted = std::process::Command::new("openssl")
        .args(["pkey", "-aes256", "-passout", "pass:secret", "-in"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(encrypted.status.success(), "openssl pkey -aes256");
    std::fs::write(&key, &encrypted.stdout).unwrap();
    for args in [&["events"][..], &["events", "--dry-run"]] {
        wd.run(args)
            .expect_code(3)
            .expect_stderr("client.key: the key is encrypted: devo-aws needs an unencrypted key (openssl pkey -in ");
    }
    std::fs::write(&key, &plain).unwrap();

    let cert = certs.join("client.crt");
    let own = std::fs::read_to_string(&cert).unwrap();
    let chain = std::fs::read_to_string(certs.join("chain.crt")).unwrap();
    std::fs::write(&cert, format!("{chain}{own}")).unwrap();
    for args in [&["events"][..], &["events", "--dry-run"]] {
        wd.run(args).expect_code(3).expect_stderr(
            "client.crt: the first certificate in cert is a CA, not yours: put the client certificate first",
        );
    }
    std::fs::remove_file(certs.join("chain.crt")).unwrap();
    wd.run(&["events", "--dry-run"])
        .expect_code(3)
        .expect_stderr("chain.crt: cannot read CA chain");
    assert_eq!(moto.depth("us-east-1", &url), (1, 0), "nothing received");
    assert!(receiver.records().is_empty());
}

/// An expired client certificate stops the run before anything is received; one that expires
/// within 30 days is warned about in every run, not only in `check`.
#[test]
fn client_certificates_near_or_past_expiry_are_said_in_every_run() {
    use crate::support::devo::{Pki, Receiver};
    let moto = crate::support::aws::Moto::new();
    let queue = unique_name("expiry");
    let url = moto.create_queue("us-east-1", &queue, 30);
    moto.send("us-east-1", &url, &["{\"id\":\"e\"}".to_string()]);

    let expired = Pki::with_expired_client("devo-expired-run");
    let receiver = Receiver::start(&expired);
    let wd = Workdir::new();
    wd.write_certs(&expired, &expired);
    wd.write_config(&config_yaml(
        receiver.port,
        &events_yaml(&queue, &["us-east-1"]),
    ));
    for args in [&["events"][..], &["events", "--dry-run"]] {
        wd.run(args)
            .expect_code(3)
            .expect_stderr("the client certificate expired on ")
            .expect_stderr("nothing was received from AWS");
    }
    assert_eq!(moto.depth("us-east-1", &url), (1, 0), "nothing received");

    let soon = Pki::with_client_expiring_in("devo-soon", 10);
    let receiver = Receiver::start(&soon);
    wd.write_certs(&soon, &soon);
    wd.write_config(&config_yaml(
        receiver.port,
        &events_yaml(&queue, &["us-east-1"]),
    ));
    wd.run(&["events"])
        .expect_code(0)
        .expect_stderr("The client certificate expires soon: renew it.")
        .expect_stderr("days_left=9");
    assert_eq!(receiver.records().len(), 1);
}

/// `check` shows, as warnings, what a run only warns about: an unknown key, a key in a service
/// block that does not read it, and `types` left to its default.
#[test]
fn check_shows_what_runs_warn_about() {
    let (moto, receiver, wd) = setup();
    let queue = unique_name("warned");
    moto.create_queue("us-east-1", &queue, 30);
    let services = format!(
        "{}  log_groups: /aws/lambda/x\n  colour: blue\naudit-events-all:\n  audit_sqs_queue_name: {queue}\n  regions: [us-east-1]\n",
        events_yaml(&queue.replace("warned", "warned-ev"), &["us-east-1"])
    );
    moto.create_queue("us-east-1", &queue.replace("warned", "warned-ev"), 30);
    wd.write_config(&config_yaml(receiver.port, &services));
    let run = wd.run(&["check"]);
    run.expect_code(0);
    let row = |key: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(&format!("config {key} ")))
            .unwrap_or_else(|| panic!("no row for {key}:\n{}", run.stdout))
            .to_string()
    };
    let p = "inputs.aws.services";
    assert!(
        row(&format!("{p}.service-events-all.log_groups"))
            .contains("WARN    this service does not read this key"),
        "{}",
        run.stdout
    );
    assert!(row(&format!("{p}.service-events-all.colour")).contains("WARN    unknown key"));
    assert!(
        row(&format!("{p}.audit-events-all.types")).contains(
            "WARN    not given: a run takes [audits_s3] (write types: [audits_s3] to say so)"
        ),
        "{}",
        run.stdout
    );
}

/// STS refusing AssumeRole (a wrong trust policy or external id) is a credentials error a human
/// must fix: exit 3, said once, with the role, where the credentials came from and AWS's own
/// code and message, in our words (not the SDK's Debug text).
#[test]
fn an_assume_role_refused_by_sts_exits_3_naming_the_role() {
    let (moto, receiver, wd) = setup();
    let queue = unique_name("refused");
    moto.create_queue("us-east-1", &queue, 30);
    let name = unique_name("devo");
    let role = format!("arn:aws:iam::222233334444:role/{name}");
    let yaml = config_yaml(receiver.port, &events_yaml(&queue, &["us-east-1"])).replace(
        "    enabled: true\n",
        &format!("    enabled: true\n    credentials:\n      access_key: AKIAEXAMPLE\n      access_secret: not-a-real-secret\n      target_assume_role: {role}\n      assume_role_external_id: wrong-id\n"),
    );
    wd.write_config(&yaml);
    moto.fault(serde_json::json!({"op": "AssumeRole", "match": name, "status": 403, "code": "AccessDenied", "message": "User: arn:aws:iam::111122223333:user/devo is not authorized to perform: sts:AssumeRole on resource: the role", "times": 20}));
    let run = wd.run(&["events"]);
    run.expect_code(3);
    run.expect_stderr(&format!("cannot assume role {role}"))
        .expect_stderr("AccessDenied: User: arn:aws:iam::111122223333:user/devo is not authorized")
        .expect_stderr("credentials from inputs.aws.credentials: access key AKIAEXAMPLE");
    assert!(!run.stderr.contains("ErrorMetadata"), "{}", run.stderr);
    // Nothing billed is nothing, not minus nothing.
    run.expect_stderr("estimated_usd=\"0.000000\"");
    assert!(!run.stderr.contains("not-a-real-secret") && !run.stderr.contains("wrong-id"));
    assert_eq!(
        run.stderr.matches("AccessDenied: User").count(),
        1,
        "said once: {}",
        run.stderr
    );
}

/// A key filter that selects nothing (`\.json$` for CloudTrail's `.json.gz`) is a mistake, not
/// a reason to acknowledge every object unread: the run gives the messages back and exits 3,
/// naming the key, the pattern, the count and a key it held back; `check` tries the filter on
/// the keys waiting in the queue. Once fixed, everything is delivered.
#[test]
fn a_key_filter_that_selects_nothing_acknowledges_nothing() {
    let (moto, receiver, wd) = setup();
    let (queue, url, bucket) = moto.announcing_bucket("us-east-1", "filter", 30);
    for n in 0..3 {
        moto.put_object(
            "us-east-1",
            &bucket,
            &format!("AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T1000Z_f{n}.json.gz"),
            trail_object([format!("f-{n}")]),
        );
    }
    let with_filter = |filter: &str| {
        config_yaml(
            receiver.port,
            &audit_s3_yaml(&queue, &format!("  s3_file_type_filter: '{filter}'\n")),
        )
    };
    wd.write_config(&with_filter(r"\.json$"));
    wd.run(&["check"]).expect_code(3).expect_stdout(
        r"s3_file_type_filter '\.json$' matches none of the 3 keys waiting in the queue",
    );
    let run = wd.run(&["audit"]);
    run.expect_code(3)
        .expect_stderr("inputs.aws.services.audit-events-all.s3_file_type_filter '")
        .expect_stderr(
            "matched none of the 3 objects of this run (such as AWSLogs/111122223333/CloudTrail/",
        )
        .expect_stderr("none was read");
    assert_eq!(
        moto.depth("us-east-1", &url),
        (3, 0),
        "every message back, unread"
    );
    assert!(receiver.records().is_empty());

    // Pasted from a web page: typographic quotes, refused at load with the fix.
    wd.write_config(&with_filter(r"‘.*\.json\.gz$’"));
    wd.run(&["audit"])
        .expect_code(3)
        .expect_stderr("inputs.aws.services.audit-events-all.s3_file_type_filter: ")
        .expect_stderr("holds a typographic quote (‘)");
    assert_eq!(moto.depth("us-east-1", &url), (3, 0));

    wd.write_config(&with_filter(r".*\.json\.gz$"));
    wd.run(&["check"])
        .expect_code(0)
        .expect_stdout("matches 3 of the 3 keys waiting in the queue");
    wd.run(&["audit", "--force"]).expect_code(0);
    assert_eq!(receiver.records().len(), 3);
    assert_eq!(moto.depth("us-east-1", &url), (0, 0));
}

/// `--max-messages 0` (no limit in many tools) and negative counts are refused in our words;
/// `--start-time -2h` is two hours ago.
#[test]
fn command_line_numbers_and_times_in_our_words() {
    let wd = Workdir::new();
    wd.write_config(&config_yaml(closed_port(), EVENTS));
    wd.run(&["events", "--max-messages", "0"])
        .expect_code(2)
        .expect_stderr("0 would receive nothing")
        .expect_stderr("leave --max-messages out for no limit");
    wd.run(&["events", "--max-messages", "-1"])
        .expect_code(2)
        .expect_stderr("-1 is not a number of messages: give 1 or more");
    let dry = wd.run(&[
        "logs",
        "--dry-run",
        "--start-time",
        "-2h",
        "--end-time",
        "-1h",
    ]);
    assert!(
        !dry.stderr.contains("unexpected argument") && dry.code != 2,
        "{}",
        dry.stderr
    );
}

/// What a valid config may still get wrong is said by every run and by `check`, with its key
/// path: lowercase event names, a queue no listed type reads, an AWS namespace without AWS/, a
/// secret in a file others may read, an external id YAML cut at " #", keys in both the config
/// and the environment. A role name where an ARN belongs, and a UTF-16 file, are refused.
#[test]
fn config_advice_is_said_by_runs_and_check() {
    let wd = Workdir::new();
    let services = "audit-events-all:\n  types: [audits_api]\n  audit_sqs_queue_name: trail-queue\n  regions: [us-east-1]\n  drop_event_names: [decrypt, assumerole, GetObject, lookupevent]\nmetrics-all:\n  regions: [us-east-1]\n  namespaces: [EC2, AWS/RDS, MyApp]\n";
    let credentials = "    enabled: true\n    credentials:\n      access_key: AKIAEXAMPLE\n      access_secret: not-a-real-secret\n      target_assume_role: arn:aws:iam::222233334444:role/devo\n      assume_role_external_id: acme #42\n";
    let yaml = config_yaml(closed_port(), services).replace("    enabled: true\n", credentials);
    wd.write_config(&yaml);
    let advice = [
        "inputs.aws.services.audit-events-all.audit_sqs_queue_name advice=not read: types does not list audits_s3",
        "inputs.aws.services.audit-events-all.drop_event_names[0] advice=\"decrypt\" drops nothing: CloudTrail's event names are CamelCase and matched exactly; did you mean Decrypt?",
        "drop_event_names[1] advice=\"assumerole\" drops nothing",
        "did you mean AssumeRole?",
        "drop_event_names[3] advice=\"lookupevent\" drops nothing",
        "inputs.aws.services.metrics-all.namespaces[0] advice=\"EC2\" is a custom namespace, and AWS's own are under AWS/: did you mean AWS/EC2?",
        "config.yaml advice=mode 0644 lets group or others read the access_secret it holds: chmod 600",
        "inputs.aws.credentials.assume_role_external_id advice=YAML takes what follows",
        "inputs.aws.credentials.access_key advice=AWS_ACCESS_KEY_ID is set in the environment too",
    ];
    let run = wd.run(&["audit", "--dry-run", "--deadline", "1s"]);
    for says in advice {
        run.expect_stderr(says);
    }
    assert!(
        !run.stderr.contains("drop_event_names[2]"),
        "GetObject is right"
    );
    assert!(!run.stderr.contains("namespaces[1]") && !run.stderr.contains("namespaces[2]"));
    assert!(!run.stderr.contains("not-a-real-secret") && !run.stderr.contains("acme"));
    let check = wd.run(&["check"]);
    check
        .expect_stdout("config inputs.aws.services.audit-events-all.audit_sqs_queue_name")
        .expect_stdout("did you mean AWS/EC2?");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(wd.config_file(), std::fs::Permissions::from_mode(0o600)).unwrap();
    let run = wd.run(&["audit", "--dry-run", "--deadline", "1s"]);
    assert!(!run.stderr.contains("mode 0644"), "{}", run.stderr);

    // A role name is not an ARN.
    wd.write_config(&yaml.replace(
        "      target_assume_role: arn:aws:iam::222233334444:role/devo\n",
        "      base_assume_role: devo-base\n      target_assume_role: arn:aws:iam::222233334444:role/devo\n",
    ));
    wd.run(&["audit", "--dry-run"])
        .expect_code(3)
        .expect_stderr("inputs.aws.credentials.base_assume_role: \"devo-base\" is not a role ARN: write the whole ARN, such as arn:aws:iam::111122223333:role/devo-base");

    // Saved as UTF-16 by a Windows editor.
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(yaml.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    std::fs::write(wd.config_file(), utf16).unwrap();
    wd.run(&["audit", "--dry-run"])
        .expect_code(3)
        .expect_stderr("the file is UTF-16 (as some Windows editors save text): save it as UTF-8");
}

/// A namespace that lists no metric is said by the run (and its summary), every time.
#[test]
fn a_namespace_that_lists_nothing_is_said() {
    let (_moto, receiver, wd) = setup();
    wd.write_config(&config_yaml(
        receiver.port,
        "metrics-all:\n  regions: [us-east-1]\n  namespaces: [EC2]\n  delay_seconds: 0\n",
    ));
    wd.run(&["metrics", "--force"])
        .expect_code(0)
        .expect_stderr("A configured namespace lists no metric.")
        .expect_stderr("note=\"namespace \\\"EC2\\\" lists no metric in us-east-1 (AWS's own namespaces are under AWS/, such as AWS/EC2)");
}

/// A Network Firewall TLS event (AWS documents them without `event.event_type`) is typed by
/// its key's log type; a Security Hub finding in OCSF ("Findings Imported V2") is tagged with
/// the account and region it names, not its delegated administrator's.
#[test]
fn events_that_name_their_type_or_account_elsewhere_are_tagged_by_it() {
    let (moto, receiver, wd) = setup();
    let (queue, _, bucket) = moto.announcing_bucket("us-east-1", "nfwtls", 30);
    let tls = r#"{"firewall_name":"fw","availability_zone":"us-east-1a","event_timestamp":"1729000000","event":{"timestamp":"2024-10-15T13:46:40Z","src_ip":"10.0.0.5","src_port":50000,"dest_ip":"203.0.113.7","dest_port":443,"sni":"example.com","tls_error":{"error_message":"revoked"}}}"#;
    moto.put_object(
        "us-east-1",
        &bucket,
        "AWSLogs/123456789012/network-firewall/tls/us-east-1/fw/2024/10/15/13/123456789012_network-firewall_tls_us-east-1_fw_202410151345_a1.log.gz",
        crate::support::gzip(format!("{tls}\n").as_bytes()),
    );
    let hub = unique_name("hubv2");
    let hub_url = moto.create_queue("us-east-1", &hub, 30);
    let finding = r#"{"finding_info":{"uid":"v2-1"},"cloud":{"account":{"uid":"222233334444"},"region":"eu-west-1","provider":"AWS"}}"#;
    let body = format!(
        r#"{{"version":"0","id":"h2","detail-type":"Findings Imported V2","source":"aws.securityhub","account":"999988887777","region":"us-east-1","detail":{{"findings":[{finding}]}}}}"#
    );
    moto.send("us-east-1", &hub_url, &[body]);
    wd.write_config(&config_yaml(
        receiver.port,
        &format!("non-cloudwatch-logs:\n  types: [networkfirewalllogs]\n  networkfirewalllogs_sqs_queue_name: {queue}\n  regions: [us-east-1]\n  auto_event_type: true\nsqs-cloudwatch-consumer:\n  cloudwatch_sqs_queue_name: {hub}\n  regions: [us-east-1]\n"),
    ));
    wd.run(&["all"]).expect_code(0);
    let mut tags: Vec<String> = receiver.records().into_iter().map(|r| r.tag).collect();
    tags.sort();
    assert_eq!(
        tags,
        [
            "cloud.aws.networkfirewall.tls.123456789012.us-east-1",
            "cloud.aws.securityhub.findings.222233334444.eu-west-1",
        ]
    );
}
