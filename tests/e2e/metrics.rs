//! Watching a run: Prometheus metrics written for node_exporter's textfile collector and
//! pushed to a real Pushgateway, checked by promtool, and the JSON report.

use std::process::Stdio;

use crate::support::aws::unique_name;
use crate::support::prom::{PROMTOOL, Pushgateway, check_metrics};
use crate::support::{config_yaml, events_yaml, logs_yaml, setup};

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One run writes a textfile that promtool accepts, pushes the same figures to the Pushgateway
/// (its /metrics shows them) and writes a JSON report with them.
#[test]
fn a_run_reports_its_figures_three_ways() {
    let (moto, receiver, wd) = setup();
    let gateway = Pushgateway::start();
    let queue = unique_name("watched");
    let url = moto.create_queue("us-east-1", &queue, 30);
    let bodies: Vec<String> = (0..7)
        .map(|i| format!(r#"{{"id":"w-{i}","source":"aws.ec2","account":"1","region":"us-east-1","detail":{{}}}}"#))
        .collect();
    moto.send("us-east-1", &url, &bodies);
    let group = format!("/aws/lambda/{}", unique_name("watched"));
    moto.log_group("us-east-1", &group, &["s"]);
    let start = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    wd.write_config(&config_yaml(
        receiver.port,
        &format!(
            "{}{}",
            events_yaml(&queue, &["us-east-1"]),
            logs_yaml(
                &format!("\"{group}\""),
                &format!("  start_time: {start}\n  delay_seconds: 0\n")
            )
        ),
    ));
    let textfile = wd.path().join("devo_aws.prom");
    let report = wd.path().join("report.json");
    let run = wd.run(&[
        "all",
        "--metrics-file",
        textfile.to_str().unwrap(),
        "--pushgateway",
        &gateway.url,
        "--report",
        report.to_str().unwrap(),
    ]);
    run.expect_code(0);

    let text = std::fs::read_to_string(&textfile).unwrap();
    let (ok, said) = check_metrics(&text);
    assert!(ok && said.trim().is_empty(), "promtool: {said}\n{text}");
    assert!(
        text.contains("devo_aws_events_total{service=\"service-events-all\"} 7"),
        "{text}"
    );
    assert!(
        text.contains("devo_aws_last_success_timestamp_seconds{service=\"custom_service.logs\"}")
    );
    assert!(
        text.contains("devo_aws_lag_seconds{cursor=\"us-east-1/"),
        "{text}"
    );
    assert!(
        text.contains(
            "devo_aws_queue_backlog_messages{region=\"us-east-1\",service=\"service-events-all\"} 7"
        ),
        "{text}"
    );
    assert!(text.contains("devo_aws_aws_requests_total{operation=\"SQS.ReceiveMessage\"}"));
    assert!(text.contains("devo_aws_aws_retries_total{operation=\"SQS.ReceiveMessage\"} 0"));
    assert!(text.contains("devo_aws_aws_throttles_total{operation=\"SQS.ReceiveMessage\"} 0"));
    assert!(text.contains("devo_aws_devo_replays_total 0"), "{text}");
    assert!(
        text.contains("devo_aws_aws_billed_units_total{unit=\"sqs_requests\"}")
            && text.contains("devo_aws_aws_estimated_cost_usd "),
        "{text}"
    );

    let pushed = gateway.metrics();
    let line = pushed
        .lines()
        .find(|l| l.starts_with("devo_aws_events_total{") && l.contains("service-events-all"))
        .unwrap_or_else(|| panic!("{pushed}"));
    assert!(
        line.contains("input=\"7\"")
            && line.contains("job=\"devo-aws\"")
            && line.contains("shard=\"all\"")
            && line.ends_with(" 7"),
        "{line}"
    );

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["exit_code"], 0);
    let events = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "service-events-all")
        .unwrap();
    assert_eq!(events["events"], 7);
    assert_eq!(events["backlog"]["us-east-1"], 7);
    let bill = &report["aws_bill"];
    assert!(
        bill["units"]["sqs_requests"].as_u64().unwrap() >= 3,
        "{bill}"
    );
    assert!(bill["estimated_usd"].as_f64().unwrap() > 0.0, "{bill}");
    assert!(
        bill["prices"]
            .as_str()
            .unwrap()
            .starts_with("us-east-1 list prices of")
    );
}

/// Four workers (--shard i/4) keep four groups in the Pushgateway; an unreachable Pushgateway
/// is a warning that changes neither what is delivered nor the exit code.
#[test]
fn workers_keep_their_groups_and_a_dead_pushgateway_changes_nothing() {
    let (moto, receiver, wd) = setup();
    let gateway = Pushgateway::start();
    let queue = unique_name("shards");
    let regions = ["us-east-1", "us-west-2", "eu-west-1", "ap-south-1"];
    for region in regions {
        moto.create_queue(region, &queue, 30);
    }
    wd.write_config(&config_yaml(receiver.port, &events_yaml(&queue, &regions)));
    let children: Vec<_> = (1..=4)
        .map(|i| {
            wd.command(
                std::process::Command::new(env!("CARGO_BIN_EXE_devo-aws")),
                &[
                    "events",
                    "--shard",
                    &format!("{i}/4"),
                    "--pushgateway",
                    &gateway.url,
                ],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
        })
        .collect();
    for mut child in children {
        assert_eq!(child.wait().unwrap().code(), Some(0));
    }
    let pushed = gateway.metrics();
    for i in 1..=4 {
        assert!(
            pushed.contains(&format!("shard=\"{i}-of-4\"")),
            "group of shard {i}: {pushed}"
        );
    }

    let url = moto.create_queue("us-east-1", &unique_name("nogw"), 30);
    let _ = url;
    let dead = format!("http://127.0.0.1:{}", crate::support::devo::closed_port());
    let run = wd.run(&["events", "--force", "--pushgateway", &dead]);
    run.expect_code(0)
        .expect_stderr("Cannot push the run's metrics; nothing else is affected.");
}

/// deploy/prometheus/alerts.yaml passes `promtool check rules`, and the CronJobs push.
#[test]
fn alert_rules_check_and_the_cronjobs_push() {
    let out = std::process::Command::new(PROMTOOL)
        .args(["check", "rules"])
        .arg(root().join("deploy/prometheus/alerts.yaml"))
        .output()
        .expect("promtool");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "deploy/kubernetes/cronjob.yaml",
        "deploy/kubernetes/cronjob-workers.yaml",
    ] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        assert!(text.contains("--pushgateway"), "{file} pushes its metrics");
    }
}
