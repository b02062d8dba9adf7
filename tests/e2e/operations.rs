//! Operating it: exit codes, `all`, logs, secrets, the example config, deploy/.

use std::process::Command;

use crate::support::aws::{Moto, unique_name};
use crate::support::devo::{Pki, closed_port};
use crate::support::{Workdir, config_yaml, events_yaml, setup};

fn root() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn usage_error_exits_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_devo-aws"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_devo-aws"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "no subcommand");
}

#[test]
fn a_held_lock_skips_the_service_with_exit_5() {
    let wd = Workdir::new();
    let pki = Pki::new("devo");
    wd.write_certs(&pki, &pki);
    wd.write_config(&config_yaml(
        closed_port(),
        &events_yaml("q", &["us-east-1"]),
    ));
    std::fs::create_dir_all(wd.path().join("state")).unwrap();
    let lock = std::fs::File::create(wd.path().join("state/7.service-events-all.lock")).unwrap();
    lock.lock().unwrap();
    let run = wd.run(&["events"]);
    run.expect_code(5);
    run.expect_stderr("held by another devo-aws run");
    assert!(run.stderr.contains("status=\"locked\""), "{}", run.stderr);
}

#[test]
fn all_runs_every_configured_service_and_the_worst_outcome_wins() {
    let (moto, receiver, wd) = setup();
    let good = unique_name("all-good");
    moto.create_queue("us-east-1", &good, 30);
    // securityhub points at a queue that does not exist: a config error, exit 3.
    let services = format!(
        "service-events-all:\n  cloudwatch_sqs_queue_name: {good}\n  regions: [us-east-1]\nsqs-cloudwatch-consumer:\n  cloudwatch_sqs_queue_name: {}\n  regions: [us-east-1]\n",
        unique_name("missing")
    );
    wd.write_config(&config_yaml(receiver.port, &services));
    let run = wd.run(&["all"]);
    run.expect_code(3);
    assert!(
        run.stderr
            .contains("service=\"service-events-all\" status=\"ok\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("service=\"sqs-cloudwatch-consumer\" status=\"config-error\""),
        "{}",
        run.stderr
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let wd = Workdir::new();
    wd.write_config(&config_yaml(
        closed_port(),
        "service-events-all:\n  cloudwatch_sqs_queue_name: q\n  regions: [us-east-1]\n  colour: blue\n",
    ));
    let run = wd.run(&[
        "--log-format",
        "json",
        "-v",
        "--dry-run",
        "--deadline",
        "2s",
        "events",
    ]);
    assert!(!run.stderr.trim().is_empty());
    for line in run.stderr.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v.get("level").is_some(), "{line}");
    }
}

/// A failed service is an ERROR line, shown under -q too and levelled ERROR in JSON, with its
/// numbers as numbers and only the counters that apply to it.
#[test]
fn a_failed_service_is_an_error_line_even_when_quiet() {
    let (moto, receiver, wd) = setup();
    let queue = unique_name("failed");
    moto.create_queue("us-east-1", &queue, 30);
    wd.write_config(&config_yaml(
        receiver.port,
        &events_yaml(&queue, &["us-east-1"]),
    ));
    std::fs::create_dir_all(wd.path().join("state")).unwrap();
    std::fs::write(
        wd.path().join("state/7.service-events-all.json"),
        "{ not json",
    )
    .unwrap();

    let quiet = wd.run(&["events", "-q"]);
    quiet.expect_code(3);
    let line = quiet
        .stderr
        .lines()
        .find(|l| l.contains("summary"))
        .unwrap_or_else(|| panic!("a summary line under -q: {}", quiet.stderr));
    assert!(
        line.contains("ERROR") && line.contains("status=\"config-error\""),
        "{line}"
    );

    let json = wd.run(&["events", "--log-format", "json"]);
    json.expect_code(3);
    let summary: serde_json::Value = json
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "summary")
        .expect("a JSON summary");
    assert_eq!(summary["level"], "ERROR");
    assert_eq!(summary["exit_code"], 3);
    assert!(
        summary["events"].is_u64() && summary["seconds"].is_f64(),
        "{summary}"
    );
    assert!(
        summary["messages"].is_u64(),
        "a queue service counts messages"
    );
    assert!(
        summary.get("held").is_none(),
        "held is for services pulled by time: {summary}"
    );
    assert!(summary.get("objects").is_none(), "{summary}");
}

#[test]
fn secrets_never_reach_logs_errors_or_dry_run_output() {
    let moto = Moto::new();
    let wd = Workdir::new();
    let queue = unique_name("secret");
    let url = moto.create_queue("us-east-1", &queue, 30);
    moto.send(
        "us-east-1",
        &url,
        &[r#"{"id":"s","source":"aws.ec2","detail":{}}"#.to_string()],
    );
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY";
    let yaml = config_yaml(
        closed_port(),
        &events_yaml(&queue, &["us-east-1"]),
    )
    .replace(
        "    enabled: true\n",
        &format!("    enabled: true\n    credentials:\n      access_key: AKIAEXAMPLEKEY\n      access_secret: {secret}\n      assume_role_external_id: ext-{secret}\n"),
    );
    wd.write_config(&yaml);
    // A config error that involves the credentials block.
    let bad = wd.run(&["-vv", "events"]);
    bad.expect_code(3);
    bad.expect_stderr("assume_role_external_id");
    // A full dry run at the most verbose level.
    wd.write_config(&yaml.replace(
        &format!("      assume_role_external_id: ext-{secret}\n"),
        "",
    ));
    let pki = Pki::new("secrets");
    wd.write_certs(&pki, &pki);
    let run = wd.run(&["-vvv", "--dry-run", "events"]);
    run.expect_code(0);
    for out in [&bad.stdout, &bad.stderr, &run.stdout, &run.stderr] {
        assert!(!out.contains(secret), "secret printed: {out}");
        assert!(!out.contains("SECRETKEY"), "part of the secret printed");
    }
    assert!(
        run.stdout.contains("\"id\":\"s\""),
        "the dry run did print the event"
    );
}

#[test]
fn config_example_loads() {
    let wd = Workdir::new();
    std::fs::copy(root().join("config.example.yaml"), wd.config_file()).unwrap();
    let run = wd.run(&[
        "--dry-run",
        "--deadline",
        "1s",
        "--max-messages",
        "0",
        "metrics",
    ]);
    assert!(
        !run.stderr.contains("config.yaml:"),
        "no config error: {}",
        run.stderr
    );
    assert!(!run.stderr.contains("Unknown key"), "{}", run.stderr);
}

/// deploy/: the Kubernetes CronJob, the crontab line and the systemd units say what the README
/// promises.
#[test]
fn deploy_files_have_the_keys_that_matter() {
    let docs: Vec<serde_json::Value> = serde_saphyr::from_str_multiple(
        &std::fs::read_to_string(root().join("deploy/kubernetes/cronjob.yaml")).unwrap(),
    )
    .unwrap();
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        ["ServiceAccount", "PersistentVolumeClaim", "CronJob"]
    );
    assert!(
        docs[0]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].is_string(),
        "IRSA"
    );
    let cron = &docs[2]["spec"];
    assert_eq!(cron["concurrencyPolicy"], "Forbid");
    let pod = &cron["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "devo-aws");
    let volumes = pod["volumes"].as_array().unwrap();
    assert!(
        volumes.iter().any(|v| v["configMap"]["name"].is_string()),
        "config from a ConfigMap"
    );
    assert!(
        volumes
            .iter()
            .any(|v| v["secret"]["secretName"].is_string()),
        "certs from a Secret"
    );
    assert!(
        volumes
            .iter()
            .any(|v| v["persistentVolumeClaim"]["claimName"].is_string()),
        "state on a volume"
    );
    let mounts: Vec<&str> = pod["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["mountPath"].as_str())
        .collect();
    assert_eq!(
        mounts,
        [
            "/devo-collector/config",
            "/devo-collector/certs",
            "/devo-collector/state"
        ]
    );
    let args = container_args(pod);
    assert_eq!(args[0], "all");

    let crontab = std::fs::read_to_string(root().join("deploy/cron/devo-aws.crontab")).unwrap();
    let line = crontab
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .unwrap();
    assert!(line.split_whitespace().count() > 6);
    assert!(
        line.starts_with("*/5 * * * * ") && line.contains("devo-aws all"),
        "{line}"
    );

    let service = std::fs::read_to_string(root().join("deploy/systemd/devo-aws.service")).unwrap();
    assert!(
        service.contains("Type=oneshot")
            && service.contains("ExecStart=/usr/local/bin/devo-aws all")
    );
    assert!(service.contains("SuccessExitStatus=5"));
    let timer = std::fs::read_to_string(root().join("deploy/systemd/devo-aws.timer")).unwrap();
    assert!(timer.contains("OnCalendar=*:0/5") && timer.contains("Unit=devo-aws.service"));
}

/// deploy/compose/: for users of docker compose, a container that runs one bounded cycle every
/// 5 minutes. The file parses, its command line is one the CLI takes (with a deadline under the
/// interval), and every.sh really runs its command at the interval, one run at a time.
#[test]
fn compose_recipe_runs_devo_aws_on_a_schedule() {
    let compose: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(root().join("deploy/compose/compose.yaml")).unwrap(),
    )
    .unwrap();
    let service = &compose["services"]["devo-aws"];
    assert_eq!(service["build"]["target"], "scheduler");
    assert_eq!(service["restart"], "unless-stopped");
    let command: Vec<&str> = service["command"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    let ["every", seconds, "--", rest @ ..] = command.as_slice() else {
        panic!("{command:?}");
    };
    let interval: u64 = seconds.parse().unwrap();
    use clap::Parser;
    let cli = devo_aws::cli::Cli::try_parse_from(rest.iter().copied()).unwrap();
    assert!(cli.global.deadline.as_secs() < interval, "{command:?}");
    let containerfile = std::fs::read_to_string(root().join("deploy/Containerfile")).unwrap();
    assert!(containerfile.contains("AS scheduler"));
    assert!(
        containerfile
            .trim_end()
            .lines()
            .rev()
            .find(|l| l.starts_with("FROM"))
            .is_some_and(|l| l.contains("distroless")),
        "the one-shot image stays the default (last) target"
    );

    // every.sh itself: a 1 s interval (whole seconds, as `date +%s` counts), a command that
    // takes 0.3 s, 3.2 s in all: about 3 runs, one after the other, never two at once.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("runs");
    let mut every = std::process::Command::new("sh")
        .arg(root().join("deploy/compose/every.sh"))
        .args(["1", "--", "sh", "-c"])
        .arg(format!(
            "echo start >> {0}; sleep 0.3; echo end >> {0}",
            log.display()
        ))
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(3200));
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &every.id().to_string()])
        .status();
    let status = every.wait().unwrap();
    assert!(status.success(), "ends cleanly on SIGTERM: {status:?}");
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let runs = lines.iter().filter(|l| *l == "start").count();
    assert!((2..=4).contains(&runs), "about one run a second: {lines:?}");
    assert!(
        lines
            .chunks(2)
            .all(|pair| pair == ["start", "end"] || pair == ["start"]),
        "one run at a time, the last one let finish: {lines:?}"
    );
}

/// deploy/kubernetes/cronjob-workers.yaml: 4 workers per cycle, state in S3, no volume; its
/// config passes the real parser and validation.
#[test]
fn workers_cronjob_runs_four_pods_on_s3_state() {
    let docs: Vec<serde_json::Value> = serde_saphyr::from_str_multiple(
        &std::fs::read_to_string(root().join("deploy/kubernetes/cronjob-workers.yaml")).unwrap(),
    )
    .unwrap();
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(kinds, ["ServiceAccount", "ConfigMap", "CronJob"]);
    let (config, unknown) =
        devo_aws::config::parse(docs[1]["data"]["config.yaml"].as_str().unwrap()).unwrap();
    assert!(unknown.is_empty(), "{unknown:?}");
    config.validate().unwrap();
    assert_eq!(
        config.globals.persistence.kind,
        devo_aws::config::PersistenceType::S3
    );
    let job = &docs[2]["spec"]["jobTemplate"]["spec"];
    assert_eq!(job["parallelism"], 4);
    assert_eq!(job["completions"], 4);
    let pod = &job["template"]["spec"];
    assert!(
        pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v.get("persistentVolumeClaim").is_none()),
        "no state volume"
    );
    assert_eq!(pod["containers"][0]["args"][0], "all");
}

/// Permanent AWS errors are exit 3, not "try again": no credentials anywhere (saying where they
/// were looked for) and a region typo; and a run without AWS_REGION asks no instance metadata
/// service for one (the config names its regions), so it logs no SDK Debug dump.
#[test]
fn permanent_aws_errors_are_config_errors_and_the_sdk_stays_quiet() {
    let (moto, receiver, wd) = setup();
    let queue = unique_name("operator");
    // With a dead-letter queue: no warning is due.
    moto.create_queue_with_dlq("eu-west-1", &queue, 30, 5);
    wd.write_config(&config_yaml(
        receiver.port,
        &events_yaml(&queue, &["eu-west-1"]),
    ));
    let home = tempfile::tempdir().unwrap();
    // A stand-in for the instance metadata service, on loopback: it counts who asks.
    let imds = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let imds_url = format!("http://{}", imds.local_addr().unwrap());
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = asked.clone();
    std::thread::spawn(move || {
        for conn in imds.incoming().flatten() {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            use std::io::Write;
            let mut conn = conn;
            let _ = conn.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
        }
    });
    let run = |strip: &[&str]| {
        let mut command = wd.command(
            std::process::Command::new(env!("CARGO_BIN_EXE_devo-aws")),
            &["events", "--force"],
        );
        for var in strip {
            command.env_remove(var);
        }
        let out = command
            .env("HOME", home.path())
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds_url)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, stderr) = run(&["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("no AWS credentials found; looked in the standard AWS chain")
            && stderr.contains("environment (AWS_ACCESS_KEY_ID)")
            && stderr.contains("EC2 instance role"),
        "{stderr}"
    );

    let (code, stderr) = run(&["AWS_REGION", "AWS_EC2_METADATA_DISABLED"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        !stderr.contains("WARN") && stderr.lines().all(|l| l.len() < 400),
        "no SDK warnings or dumps: {stderr}"
    );
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "no instance metadata asked for a region"
    );

    wd.write_config(&config_yaml(
        receiver.port,
        &events_yaml(&queue, &["us-est-1"]),
    ));
    wd.run(&["events"])
        .expect_code(3)
        .expect_stderr("\"us-est-1\" is not a region name");
}

/// Small things: a closed pipe (`2>&1 | head`) ends quietly, `--version` names the commit, the
/// man page has EXIT STATUS, ENVIRONMENT and FILES and refers to no page that does not exist.
#[test]
fn closed_pipes_version_and_man_page() {
    let moto = Moto::new();
    let wd = Workdir::new();
    let queue = unique_name("pipe");
    let url = moto.create_queue("us-east-1", &queue, 30);
    let bodies: Vec<String> = (0..40)
        .map(|i| {
            format!(
                r#"{{"id":"pipe-{i}","source":"aws.ec2","detail":{{"pad":"{}"}}}}"#,
                "x".repeat(2000)
            )
        })
        .collect();
    moto.send("us-east-1", &url, &bodies);
    wd.write_config(&config_yaml(
        closed_port(),
        &events_yaml(&queue, &["us-east-1"]),
    ));
    let out = wd.shell(
        "$DEVO_AWS events --dry-run --max-messages 40 -vv --config $CONFIG 2>&1 | head -c 100 >/dev/null; exit ${PIPESTATUS[0]}",
    );
    let code = out.status.code();
    assert!(
        code != Some(101),
        "no panic on a closed pipe: {:?} {}",
        code,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        moto.depth("us-east-1", &url).0 + moto.depth("us-east-1", &url).1,
        40
    );

    let version = Command::new(env!("CARGO_BIN_EXE_devo-aws"))
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    assert!(
        version.starts_with("devo-aws 0.") && version.contains('('),
        "{version}"
    );

    let man = std::fs::read_to_string(root().join("man/devo-aws.1")).unwrap();
    for section in [
        ".SH \"EXIT STATUS\"",
        ".SH ENVIRONMENT",
        ".SH FILES",
        ".SH SUBCOMMANDS",
    ] {
        assert!(man.contains(section), "{section}");
    }
    assert!(
        !man.contains("devo-aws-events(1)") && !man.contains("\\-events(1)"),
        "no pages that do not exist"
    );
}

/// deploy/iam/: one policy per service, with exactly the actions the registry says a run calls
/// (and sts:GetCallerIdentity; kms:Decrypt for encrypted queues and buckets).
#[test]
fn iam_policies_match_what_each_service_calls() {
    use devo_aws::config::ServiceKind;
    for kind in ServiceKind::builtin() {
        let file = root().join(format!("deploy/iam/{}.json", kind.name()));
        let policy: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let mut actions: Vec<String> = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["Action"].as_array().unwrap().clone())
            .map(|a| a.as_str().unwrap().to_string())
            .filter(|a| a != "kms:Decrypt" && a != "sts:GetCallerIdentity")
            .collect();
        actions.sort();
        let mut want: Vec<String> = kind
            .iam_actions()
            .iter()
            .filter(|a| **a != "kms:Decrypt")
            .map(|a| a.to_string())
            .collect();
        want.sort();
        assert_eq!(actions, want, "{}", file.display());
    }
}

/// `make demo`: every service against the emulator's samples, delivered over mutual TLS to the
/// demo's own receiver, and what arrived per tag.
#[test]
fn the_demo_delivers_every_service() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(format!("{root}/tests/support/demo.sh"))
        .env("DEVO_AWS_BIN", env!("CARGO_BIN_EXE_devo-aws"))
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // (moto's LookupEvents is shared by the tests' region: the total is not the demo's 40.)
    assert!(
        stdout.contains(" events in all; devo-aws exited 0"),
        "{stdout}"
    );
    for tag in [
        "cloud.aws.cloudwatch.ec2.123456789012.us-east-1",
        "cloud.aws.securityhub.findings.123456789012.us-east-1",
        "cloud.aws.cloudtrail.events.123456789012.us-east-1",
        "cloud.aws.cloudwatch.metrics.123456789012.us-east-1",
        "cloud.aws.cloudwatch.logs.123456789012.us-east-1",
        "cloud.aws.vpc.flowlogs.123456789012.eu-west-3",
        "cloud.aws.cloudfront.accesslogs.123456789012.us-east-1",
        "web.aws.alb.access.123456789012.us-east-2",
        "web.aws.elb.access.123456789012.eu-west-1",
        "cloud.aws.waf.logs.111122223333.ap-southeast-2",
        "web.aws.s3.access.123456789012.us-west-1",
        "dns.aws.route53.626345947581.us-east-1",
        "cloud.aws.guardduty.findings.973743533182.us-east-2",
        "cloud.aws.networkfirewall.alert.123456789012.us-east-1",
        "cloud.aws.configlogs.events.123456789012.us-east-2",
        // From the log archive's one queue, and the verdict of its trail's digest.
        "cloud.aws.cloudtrail.sts.210987654321.eu-west-1",
        "cloud.aws.cloudtrail.integrity.210987654321.eu-west-1",
        // A kind the config defines.
        "sec.cisco.umbrella.dns.123456789012.us-east-1",
        // A Security Lake subscriber's queue: OCSF records typed by their class.
        "cloud.aws.amazon.security_lake.api_activity.123456789012.us-east-2",
        "cloud.aws.amazon.security_lake.dns_activity.123456789012.us-east-1",
        "cloud.aws.amazon.security_lake.security_finding.123456789100.us-east-1",
    ] {
        assert!(stdout.contains(tag), "{tag} in {stdout}");
    }
    assert_eq!(stderr.matches("status=\"ok\"").count(), 19, "{stderr}");
    assert!(
        stderr.contains("objects read by kind: audits_s3=2 flowlogs=1 configlogs=1"),
        "{stderr}"
    );
    assert!(!stderr.contains(" WARN "), "{stderr}");
}

/// The arguments of a pod spec's first container.
fn container_args(pod: &serde_json::Value) -> Vec<&str> {
    pod["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect()
}

/// deploy/kubernetes/: both manifests pass kubernetes-validate in strict mode, and agree with the
/// checks devo-aws makes: the job outlives the run's deadline and a slice's grace after it, and
/// the key as a Secret with fsGroup arrives (root's, group-readable, 0440) is accepted, while a
/// key others may read still is not.
#[test]
fn kubernetes_manifests_are_valid_and_agree_with_the_checks() {
    let validate = root().join(".venv/bin/kubernetes-validate");
    for file in ["cronjob.yaml", "cronjob-workers.yaml"] {
        let path = root().join("deploy/kubernetes").join(file);
        let out = Command::new(&validate)
            .args(["--strict", "--quiet"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{file}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let docs: Vec<serde_json::Value> =
            serde_saphyr::from_str_multiple(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let job = &docs[2]["spec"]["jobTemplate"]["spec"];
        let pod = &job["template"]["spec"];
        let args = container_args(pod);
        let at = args.iter().position(|a| *a == "--deadline").unwrap();
        let deadline = humantime::parse_duration(args[at + 1]).unwrap().as_secs();
        // run::lease_grace: half the deadline, from 10 s to 2 minutes.
        let grace = (deadline / 2).clamp(10, 120);
        let active = job["activeDeadlineSeconds"].as_u64().unwrap();
        assert!(
            active >= deadline + grace,
            "{file}: activeDeadlineSeconds {active} < --deadline {deadline} s + grace {grace} s"
        );
        let secret = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["secret"].is_object())
            .unwrap();
        assert_eq!(secret["secret"]["defaultMode"], 0o400, "{file}");
    }

    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let (moto, receiver, wd) = setup();
    let queue = unique_name("k8s-key");
    moto.create_queue("us-east-1", &queue, 30);
    wd.write_config(&config_yaml(
        receiver.port,
        &events_yaml(&queue, &["us-east-1"]),
    ));
    let key = wd.path().join("certs/client.key");
    let by_root = std::fs::metadata(&key).unwrap().uid() == 0;
    for (mode, accepted) in [
        (0o440, by_root),
        (0o640, by_root),
        (0o444, false),
        (0o600, true),
    ] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let run = wd.run(&["events"]);
        run.expect_code(0);
        assert_eq!(
            !run.stderr
                .contains("The client private key is readable by others."),
            accepted,
            "mode {mode:o}: {}",
            run.stderr
        );
    }
}
