//! Config errors refused with their key path and file, before anything is pulled.

use crate::support::aws::{Moto, unique_name};
use crate::support::devo::{Pki, closed_port};
use crate::support::{Workdir, config_yaml};

#[test]
fn bad_value_is_refused_with_its_key_path_and_nothing_is_pulled() {
    let moto = Moto::new();
    let wd = Workdir::new();
    let queue = unique_name("badcfg");
    let url = moto.create_queue("us-east-1", &queue, 30);
    moto.send("us-east-1", &url, &["{\"id\":\"x\"}".to_string()]);
    let services = format!(
        "service-events-all:\n  cloudwatch_sqs_queue_name: {queue}\n  regions: us-east-1\n"
    );
    wd.write_config(&config_yaml(closed_port(), &services));
    let run = wd.run(&["events"]);
    run.expect_code(3);
    let want = format!(
        "{}: inputs.aws.services.service-events-all.regions: invalid type: string \"us-east-1\", expected a list of region names",
        wd.config_file().display()
    );
    assert!(
        run.stderr.contains(&want),
        "want {want:?} in {}",
        run.stderr
    );
    assert_eq!(moto.depth("us-east-1", &url), (1, 0), "nothing received");
}

#[test]
fn out_of_range_value_names_the_list_item() {
    let wd = Workdir::new();
    let services =
        "service-events-all:\n  cloudwatch_sqs_queue_name: q\n  regions: [us-east-1, Frankfurt]\n";
    wd.write_config(&config_yaml(closed_port(), services));
    let run = wd.run(&["events"]);
    run.expect_code(3);
    assert!(
        run.stderr.contains(
            "inputs.aws.services.service-events-all.regions[1]: \"Frankfurt\" is not a region name"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn service_not_in_config_is_a_clear_error() {
    let wd = Workdir::new();
    let services = "service-events-all:\n  cloudwatch_sqs_queue_name: q\n  regions: [us-east-1]\n";
    wd.write_config(&config_yaml(closed_port(), services));
    let run = wd.run(&["securityhub"]);
    run.expect_code(3);
    let want = format!(
        "sqs-cloudwatch-consumer is not configured in {}",
        wd.config_file().display()
    );
    assert!(run.stderr.contains(&want), "{}", run.stderr);
}

#[test]
fn unknown_key_is_warned_about_by_name() {
    let wd = Workdir::new();
    let services = "service-events-all:\n  cloudwatch_sqs_queue_name: q\n  regions: [us-east-1]\n  colour: blue\n";
    wd.write_config(&config_yaml(closed_port(), services));
    let run = wd.run(&["--dry-run", "--deadline", "1s", "securityhub"]);
    assert!(
        run.stderr
            .contains("inputs.aws.services.service-events-all.colour"),
        "{}",
        run.stderr
    );
}

/// A key of another service (`log_groups` under `service-events-all`) is named, not taken.
#[test]
fn a_key_in_the_wrong_service_block_is_warned_about() {
    let wd = Workdir::new();
    let services = "service-events-all:\n  cloudwatch_sqs_queue_name: q\n  regions: [us-east-1]\n  log_groups: /aws/lambda/x\n";
    wd.write_config(&config_yaml(closed_port(), services));
    let run = wd.run(&["--dry-run", "--deadline", "1s", "securityhub"]);
    run.expect_stderr("Key not read by this service, ignored.")
        .expect_stderr("inputs.aws.services.service-events-all.log_groups");
}

/// `globals.debug: true` logs as `-vv` does; `-q` still wins.
#[test]
fn globals_debug_is_honoured() {
    let moto = Moto::new();
    let wd = Workdir::new();
    let queue = unique_name("debug");
    moto.create_queue("us-east-1", &queue, 30);
    let yaml = config_yaml(
        closed_port(),
        &format!(
            "service-events-all:\n  cloudwatch_sqs_queue_name: {queue}\n  regions: [us-east-1]\n"
        ),
    )
    .replace("debug: false", "debug: true");
    // A dry run reads the certificates as a real run does.
    let pki = Pki::new("debug");
    wd.write_certs(&pki, &pki);
    wd.write_config(&yaml);
    let run = wd.run(&["events", "--dry-run"]);
    run.expect_code(0).expect_stderr("DEBUG");
    let quiet = wd.run(&["events", "--dry-run", "-q"]);
    assert!(!quiet.stderr.contains("DEBUG"), "{}", quiet.stderr);
}

/// Numbers out of their range and ids that would name files outside the state directory are
/// refused at load time with their key path (exit 3): never a panic, never a stray file.
#[test]
fn huge_numbers_and_escaping_ids_are_refused_with_the_key_path() {
    let wd = Workdir::new();
    let events = "service-events-all:\n  cloudwatch_sqs_queue_name: q\n  regions: [us-east-1]\n";
    let base = config_yaml(closed_port(), events);
    for (from, to, path) in [
        (
            "regions: [us-east-1]\n",
            "regions: [us-east-1]\n        request_period_in_seconds: 18446744073709551615\n",
            "inputs.aws.services.service-events-all.request_period_in_seconds",
        ),
        (
            "regions: [us-east-1]\n",
            "regions: [us-east-1]\n        delay_seconds: 4000000000\n",
            "inputs.aws.services.service-events-all.delay_seconds",
        ),
        (
            "      key: client.key\n",
            "      key: client.key\n      timeout_seconds: 99999999\n",
            "outputs.devo_1.config.timeout_seconds",
        ),
        ("    id: 7\n", "    id: \"../..\"\n", "inputs.aws.id"),
        ("    id: 7\n", "    id: /etc\n", "inputs.aws.id"),
        ("  id: 1\n", "  id: \"a/b\"\n", "globals.id"),
    ] {
        assert!(base.contains(from), "{from}");
        wd.write_config(&base.replacen(from, to, 1));
        let run = wd.run(&["events", "--dry-run"]);
        run.expect_code(3).expect_stderr(path);
    }
    assert!(!wd.path().join("state").exists(), "nothing written");
}

/// Common mistakes in plain words: what is wrong, where, what is expected.
#[test]
fn common_config_mistakes_are_said_plainly() {
    let wd = Workdir::new();
    let events = "service-events-all:\n  cloudwatch_sqs_queue_name: q\n  regions: [us-east-1]\n";
    let base = config_yaml(closed_port(), events);
    let services_at = base.find("    services:\n").unwrap();
    for (yaml, want) in [
        (
            base.replace("      port: ", "     port: "),
            "is indented 5 spaces where this block's keys have 6",
        ),
        (
            base.replacen("      port: ", "      port: sixteen\n      x: ", 1),
            "outputs.devo_1.config.port: expected a whole number",
        ),
        (
            format!("{}    services:\n", &base[..services_at]),
            "inputs.aws.services: expected keys under this one",
        ),
        (
            format!("{}    services: {{}}\n", &base[..services_at]),
            "inputs.aws.services: no service is configured: add one of service-events-all",
        ),
    ] {
        wd.write_config(&yaml);
        let run = wd.run(&["all", "--dry-run"]);
        run.expect_code(3).expect_stderr(want);
    }
}

#[test]
fn missing_config_file_says_which() {
    let wd = Workdir::new();
    let run = wd.run(&["events"]);
    run.expect_code(3);
    run.expect_stderr("config.yaml: cannot read");
}

#[test]
fn prices_of_the_cost_estimate_are_checked() {
    let wd = Workdir::new();
    let services = "service-events-all:\n  cloudwatch_sqs_queue_name: q\n  regions: [us-east-1]\n";
    for (prices, want) in [
        (
            "{s3_gets: 0.4}",
            "inputs.aws.prices_usd_per_million.s3_gets: not a billed unit: expected one of sqs_requests, s3_get_requests",
        ),
        (
            "{s3_list_requests: -1}",
            "inputs.aws.prices_usd_per_million.s3_list_requests: -1 is out of range",
        ),
    ] {
        let yaml = config_yaml(closed_port(), services).replace(
            "    services:\n",
            &format!("    prices_usd_per_million: {prices}\n    services:\n"),
        );
        wd.write_config(&yaml);
        wd.run(&["events"]).expect_code(3).expect_stderr(want);
    }
}
