//! The services pulled by time (logs, audit from the API, metrics): windows, resumption,
//! backfill, pacing, late events.

use std::time::{Duration, Instant};

use chrono::Utc;

use crate::support::aws::unique_name;
use crate::support::devo::Receiver;
use crate::support::samples::{lookup_event, lookup_events};
use crate::support::{audit_api_yaml, config_yaml, let_aws_clock_pass, logs_yaml, setup};

fn messages(receiver: &Receiver) -> Vec<serde_json::Value> {
    receiver
        .records()
        .iter()
        .map(|r| {
            assert_eq!(r.tag, "cloud.aws.cloudwatch.logs.123456789012.us-east-1");
            serde_json::from_str(&r.message).unwrap()
        })
        .collect()
}

fn texts(values: &[serde_json::Value]) -> Vec<String> {
    let mut t: Vec<String> = values
        .iter()
        .map(|v| v["message"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

#[test]
fn logs_resume_where_the_last_run_ended_with_nothing_repeated() {
    let (moto, receiver, wd) = setup();
    let group = format!("/aws/lambda/{}", unique_name("fn"));
    moto.log_group(
        "us-east-1",
        &group,
        &["2024/05/01/[$LATEST]a", "2024/05/01/[$LATEST]b"],
    );
    let now = Utc::now().timestamp_millis();
    let first: Vec<(i64, String)> = (0..6)
        .map(|i| (now - 600_000 + i * 60_000, format!("first {i} ünï\tline")))
        .collect();
    moto.put_log_events("us-east-1", &group, "2024/05/01/[$LATEST]a", &first[..3]);
    moto.put_log_events("us-east-1", &group, "2024/05/01/[$LATEST]b", &first[3..]);
    let start = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    wd.write_config(&config_yaml(
        receiver.port,
        &logs_yaml(
            &format!("\"{group}\""),
            &format!("  start_time: {start}\n  delay_seconds: 0\n"),
        ),
    ));

    let_aws_clock_pass();
    let run = wd.run(&["logs"]);
    run.expect_code(0);
    let got = messages(&receiver);
    assert_eq!(
        texts(&got),
        first.iter().map(|e| e.1.clone()).collect::<Vec<_>>()
    );
    let one = got
        .iter()
        .find(|v| v["message"] == "first 0 ünï\tline")
        .unwrap();
    assert_eq!(one["logGroup"], group.as_str());
    assert_eq!(one["logStream"], "2024/05/01/[$LATEST]a");
    assert_eq!(one["region"], "us-east-1");
    assert_eq!(one["accountId"], "123456789012");
    assert!(one["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(one["eventId"].as_str().is_some_and(|s| !s.is_empty()));
    let state =
        std::fs::read_to_string(wd.path().join("state/7.custom_service.logs.json")).unwrap();
    assert!(state.contains(&format!("us-east-1/{group}")), "{state}");

    // New events after the cursor: only they are shipped.
    std::thread::sleep(Duration::from_millis(20));
    let later: Vec<(i64, String)> = (0..2)
        .map(|i| (Utc::now().timestamp_millis() + i, format!("second {i}")))
        .collect();
    moto.put_log_events("us-east-1", &group, "2024/05/01/[$LATEST]a", &later);
    let_aws_clock_pass();
    let before = receiver.records().len();
    let run = wd.run(&["logs", "--force"]);
    run.expect_code(0);
    let all = messages(&receiver);
    assert_eq!(
        all.len(),
        before + 2,
        "only the new events: {:?}",
        texts(&all)
    );
    assert_eq!(texts(&all[before..]), ["second 0", "second 1"]);

    // Nothing new: nothing shipped.
    let run = wd.run(&["logs", "--force"]);
    run.expect_code(0);
    assert_eq!(receiver.records().len(), before + 2);
}

#[test]
fn late_ingested_log_event_is_collected_within_the_delay() {
    let (moto, receiver, wd) = setup();
    let group = unique_name("late");
    moto.log_group("us-east-1", &group, &["s"]);
    wd.write_config(&config_yaml(
        receiver.port,
        &logs_yaml(&group, "  delay_seconds: 3\n"),
    ));
    wd.run(&["logs"]).expect_code(0);
    // Stamped before the first run ended, ingested after it: the cursor stopped 3 s short.
    let stamped = Utc::now().timestamp_millis() - 1_000;
    moto.put_log_events(
        "us-east-1",
        &group,
        "s",
        &[(stamped, "late but not lost".into())],
    );
    // The delay, then the second AWS's Date header may lag.
    std::thread::sleep(Duration::from_secs(3));
    let_aws_clock_pass();
    let run = wd.run(&["logs", "--force"]);
    run.expect_code(0);
    assert_eq!(texts(&messages(&receiver)), ["late but not lost"]);
}

#[test]
fn backfill_pulls_a_past_window_and_leaves_the_cursor_alone() {
    let (moto, receiver, wd) = setup();
    let group = unique_name("backfill");
    moto.log_group("us-east-1", &group, &["s"]);
    let now = Utc::now();
    let old = (now - chrono::Duration::hours(3)).timestamp_millis();
    moto.put_log_events("us-east-1", &group, "s", &[(old, "three hours ago".into())]);
    let_aws_clock_pass();
    wd.write_config(&config_yaml(
        receiver.port,
        &logs_yaml(&group, "  delay_seconds: 0\n"),
    ));
    // The first run looks back one request period (300 s): the old event is not in it.
    wd.run(&["logs"]).expect_code(0);
    assert!(receiver.records().is_empty());
    let state_file = wd.path().join("state/7.custom_service.logs.json");
    let cursor_before = std::fs::read_to_string(&state_file).unwrap();

    // An explicit window always pulls: no --force needed, however recent the last pull.
    let run = wd.run(&["logs", "--start-time", "4h", "--end-time", "2h"]);
    run.expect_code(0);
    assert_eq!(texts(&messages(&receiver)), ["three hours ago"]);
    let cursor_after = std::fs::read_to_string(&state_file).unwrap();
    let cursors =
        |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap()["cursors"].clone();
    assert_eq!(
        cursors(&cursor_after),
        cursors(&cursor_before),
        "backfill did not move the cursor"
    );

    // Cut short by --deadline: exit 4, how far it got, and where to resume.
    let cut = wd.run(&[
        "logs",
        "--start-time",
        "4h",
        "--end-time",
        "2h",
        "--deadline",
        "1ms",
    ]);
    cut.expect_code(4)
        .expect_stderr("stopped at")
        .expect_stderr("% of the window done; resume with --start-time ");
}

#[test]
fn log_group_prefix_is_expanded_and_calls_are_paced() {
    let (moto, receiver, wd) = setup();
    let prefix = unique_name("/pace");
    let groups: Vec<String> = (0..9).map(|i| format!("{prefix}/g{i}")).collect();
    let ts = Utc::now().timestamp_millis() - 1_000;
    for g in &groups {
        moto.log_group("us-east-1", g, &["s"]);
        moto.put_log_events("us-east-1", g, "s", &[(ts, format!("from {g}"))]);
    }
    let_aws_clock_pass();
    wd.write_config(&config_yaml(
        receiver.port,
        &logs_yaml(&format!("\"{prefix}*\""), "  delay_seconds: 0\n"),
    ));
    let started = Instant::now();
    let run = wd.run(&["-v", "logs"]);
    let seconds = started.elapsed().as_secs_f64();
    run.expect_code(0);
    assert_eq!(messages(&receiver).len(), 9);
    // 1 DescribeLogGroups + 9 FilterLogEvents at 4 requests/s: at least 9 intervals of 250 ms.
    run.expect_stderr("CloudWatchLogs.FilterLogEvents=9");
    run.expect_stderr("CloudWatchLogs.DescribeLogGroups=1");
    assert!(seconds >= 2.25, "paced: {seconds:.2} s for 10 calls");
}

/// A LookupEvents entry whose CloudTrailEvent is a small CloudTrail record.
#[test]
fn audit_api_pages_resumes_drops_and_paces() {
    let (moto, receiver, wd) = setup();
    // LookupEvents has no per-test namespace in moto: use a region of our own.
    let account = format!("{:012}", std::process::id());
    let now = Utc::now().timestamp();
    let mut seeded = Vec::new();
    let mut expected = Vec::new();
    for i in 0..120 {
        let (source, name) = if i == 7 {
            ("kms.amazonaws.com", "Decrypt")
        } else {
            ("iam.amazonaws.com", "CreateUser")
        };
        let (entry, trail) = lookup_event(
            &format!("api-{i:03}"),
            name,
            source,
            now - 1800 + i * 10,
            &account,
        );
        seeded.push(entry);
        if name != "Decrypt" {
            expected.push(trail);
        }
    }
    moto.seed_cloudtrail("us-east-1", &seeded);
    let start = (Utc::now() - chrono::Duration::minutes(50)).to_rfc3339();
    wd.write_config(&config_yaml(
        receiver.port,
        &audit_api_yaml(&format!(
            "  start_time: {start}\n  auto_event_type: true\n  drop_event_names: [Decrypt]\n"
        )),
    ));
    let started = Instant::now();
    let run = wd.run(&["-v", "audit"]);
    let seconds = started.elapsed().as_secs_f64();
    run.expect_code(0);
    let records = receiver.records();
    let mut got: Vec<String> = records
        .iter()
        .filter(|r| r.message.contains(&account))
        .map(|r| {
            assert_eq!(
                r.tag,
                format!("cloud.aws.cloudtrail.iam.{account}.us-east-1")
            );
            r.message.clone()
        })
        .collect();
    got.sort();
    expected.sort();
    assert_eq!(
        got, expected,
        "every event once, the dropped one not at all"
    );
    run.expect_stderr("dropped=1");
    // 119 kept + 1 dropped over 3 pages of 50 in one slice (the window is under an hour): 3 calls
    // at 2 per second.
    run.expect_stderr("CloudTrail.LookupEvents=3");
    assert!(seconds >= 1.0, "paced: {seconds:.2} s");

    // Resume: only events after the cursor.
    let later = Utc::now().timestamp() + 1;
    std::thread::sleep(Duration::from_millis(1100));
    let (entry, trail) = lookup_event(
        "api-new",
        "CreateUser",
        "iam.amazonaws.com",
        later,
        &account,
    );
    moto.seed_cloudtrail("us-east-1", &[entry]);
    std::thread::sleep(Duration::from_millis(1100));
    let before = receiver.records().len();
    let run = wd.run(&["audit", "--force"]);
    run.expect_code(0);
    let after: Vec<String> = receiver.records()[before..]
        .iter()
        .map(|r| r.message.clone())
        .collect();
    assert_eq!(after, [trail]);
}

#[test]
fn metrics_one_event_per_metric_and_timestamp_without_repeats() {
    let (moto, receiver, wd) = setup();
    let namespace = unique_name("Devo/Test");
    let minute = Utc::now().timestamp() / 60 * 60;
    let mut points = Vec::new();
    for (name, dim) in [("Latency", "a"), ("Latency", "b"), ("Errors", "a")] {
        for k in 2..6 {
            points.push((name, dim, minute - k * 60 + 7, k as f64));
        }
    }
    moto.put_metrics(
        "us-east-1",
        &namespace,
        &points,
        &[("Latency", "Milliseconds"), ("Errors", "Count")],
    );
    let start = (Utc::now() - chrono::Duration::minutes(30)).to_rfc3339();
    wd.write_config(&config_yaml(
        receiver.port,
        &format!(
            "metrics-all:\n  regions: [us-east-1]\n  namespaces: [\"{namespace}\"]\n  period_seconds: 60\n  delay_seconds: 0\n  start_time: {start}\n"
        ),
    ));
    let run = wd.run(&["-v", "metrics"]);
    run.expect_code(0);
    let events: Vec<serde_json::Value> = receiver
        .records()
        .iter()
        .map(|r| {
            assert_eq!(r.tag, "cloud.aws.cloudwatch.metrics.123456789012.us-east-1");
            serde_json::from_str(&r.message).unwrap()
        })
        .collect();
    assert_eq!(events.len(), points.len(), "{events:?}");
    let e = events
        .iter()
        .find(|e| e["metricName"] == "Errors" && e["Sum"] == 3.0)
        .expect("the Errors datapoint of value 3");
    assert_eq!(e["namespace"], namespace.as_str());
    assert_eq!(e["dimensions"], serde_json::json!({"Api": "a"}));
    assert_eq!(e["period"], 60);
    assert_eq!(e["region"], "us-east-1");
    assert_eq!(e["accountId"], "123456789012");
    for stat in ["Average", "Minimum", "Maximum"] {
        assert_eq!(e[stat], 3.0, "{stat}");
    }
    assert_eq!(e["SampleCount"], 1.0);
    assert!(e["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(e["unit"], "Count");
    assert!(
        events
            .iter()
            .filter(|e| e["metricName"] == "Latency")
            .all(|e| e["unit"] == "Milliseconds"),
        "{events:?}"
    );
    // 3 metrics × 5 statistics = 15 queries: one GetMetricData call; a unit per metric name.
    run.expect_stderr("CloudWatch.GetMetricData=1");
    run.expect_stderr("CloudWatch.ListMetrics=1");
    run.expect_stderr("CloudWatch.GetMetricStatistics=2");
    // What AWS bills: the 15 metrics requested, the 3 other CloudWatch requests.
    run.expect_stderr("units=cloudwatch_metrics_requested=15 cloudwatch_requests=3");

    let before = receiver.records().len();
    let run = wd.run(&["metrics", "--force"]);
    run.expect_code(0);
    assert!(
        !run.stderr.contains("GetMetricStatistics"),
        "units are remembered: {}",
        run.stderr
    );
    assert_eq!(
        receiver.records().len(),
        before,
        "no datapoint shipped twice"
    );
}

/// A monitoring account with `include_linked_accounts` pulls its linked accounts' metrics too:
/// each datapoint asked of the account that owns it, carrying and tagged with that account; the
/// own account's units still learnt; the next run repeats nothing.
#[test]
fn linked_accounts_metrics_carry_their_owner() {
    let (moto, receiver, wd) = setup();
    let linked = moto.assume("arn:aws:iam::111122223333:role/monitoring-source");
    let namespace = unique_name("Devo/Linked");
    let minute = Utc::now().timestamp() / 60 * 60;
    let at = minute - 3 * 60 + 7;
    moto.put_metrics(
        "us-east-1",
        &namespace,
        &[("Requests", "own", at, 5.0)],
        &[("Requests", "Count")],
    );
    linked.put_metrics(
        "us-east-1",
        &namespace,
        &[("Requests", "linked", at, 8.0)],
        &[],
    );
    let start = (Utc::now() - chrono::Duration::minutes(30)).to_rfc3339();
    wd.write_config(&config_yaml(
        receiver.port,
        &format!(
            "metrics-all:\n  regions: [us-east-1]\n  namespaces: [\"{namespace}\"]\n  period_seconds: 60\n  delay_seconds: 0\n  start_time: {start}\n  include_linked_accounts: true\n  statistics: [Sum]\n"
        ),
    ));
    wd.run(&["-v", "metrics"])
        .expect_code(0)
        .expect_stderr("CloudWatch.GetMetricData=1");
    let mut got: Vec<(String, serde_json::Value)> = receiver
        .records()
        .iter()
        .map(|r| (r.tag.clone(), serde_json::from_str(&r.message).unwrap()))
        .collect();
    got.sort_by_key(|(tag, _)| tag.clone());
    // The period's start, as AWS stamps it.
    let stamp = chrono::DateTime::from_timestamp(at / 60 * 60, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let event = |api: &str, sum: f64, unit: serde_json::Value, account: &str| {
        serde_json::json!({"namespace": namespace, "metricName": "Requests",
            "dimensions": {"Api": api}, "timestamp": stamp, "period": 60, "unit": unit,
            "Sum": sum, "region": "us-east-1", "accountId": account})
    };
    assert_eq!(
        got,
        [
            (
                "cloud.aws.cloudwatch.metrics.111122223333.us-east-1".to_string(),
                event("linked", 8.0, "Count".into(), "111122223333")
            ),
            (
                "cloud.aws.cloudwatch.metrics.123456789012.us-east-1".to_string(),
                event("own", 5.0, "Count".into(), "123456789012")
            ),
        ]
    );
    wd.run(&["metrics", "--force"]).expect_code(0);
    assert_eq!(receiver.records().len(), 2, "nothing repeated");
}

/// A host clock running ahead of AWS's (faketime, 20 minutes) must not move a cursor past data
/// AWS does not have yet: windows end on AWS's clock (the Date header of its answers), so an
/// event put right after that run is collected by the next; `check` reports the offset.
#[test]
fn a_host_clock_ahead_of_aws_loses_nothing() {
    let (moto, receiver, wd) = setup();
    let group = format!("/aws/lambda/{}", unique_name("skew"));
    moto.log_group("us-east-1", &group, &["s"]);
    wd.write_config(&config_yaml(
        receiver.port,
        &logs_yaml(&format!("\"{group}\""), "  delay_seconds: 0\n"),
    ));
    let ahead = |args: &str| {
        wd.shell(&format!(
            "faketime -f +20m $DEVO_AWS {args} --config $CONFIG 2>&1"
        ))
    };
    let first = ahead("logs");
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );
    // Put at once: the Date header tells the second, so a window ending on its rounding rather
    // than its floor could end after this event's time and ingestion.
    let now = Utc::now().timestamp_millis();
    moto.put_log_events(
        "us-east-1",
        &group,
        "s",
        &[(now, "after the skewed run".into())],
    );
    let check = ahead("check");
    let text = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(
        text.lines()
            .any(|l| l.starts_with("clock") && l.contains("WARN") && l.contains("ahead of AWS")),
        "{text}"
    );
    let_aws_clock_pass();
    wd.run(&["logs", "--force"]).expect_code(0);
    assert_eq!(texts(&messages(&receiver)), ["after the skewed run"]);
}

/// GetMetricData's per-result status: PartialData is completed by the next page; InternalError
/// (exit 4) and Forbidden (exit 3) leave the window uncommitted, so the next run skips nothing.
#[test]
fn metric_results_that_are_not_complete_are_not_skipped() {
    let (moto, receiver, wd) = setup();
    let namespace = unique_name("Devo/Status");
    let minute = Utc::now().timestamp() / 60 * 60;
    let points: Vec<(&str, &str, i64, f64)> = (2..8)
        .map(|k| ("Requests", "a", minute - k * 60 + 7, k as f64))
        .collect();
    moto.put_metrics("us-east-1", &namespace, &points, &[]);
    let start = (Utc::now() - chrono::Duration::minutes(30)).to_rfc3339();
    wd.write_config(&config_yaml(
        receiver.port,
        &format!(
            "metrics-all:\n  regions: [us-east-1]\n  namespaces: [\"{namespace}\"]\n  period_seconds: 60\n  delay_seconds: 0\n  start_time: {start}\n"
        ),
    ));
    for (status, code) in [("InternalError", 4), ("Forbidden", 3)] {
        moto.fault(serde_json::json!({"op": "GetMetricData", "result_status": status, "match": namespace, "times": 1}));
        let run = wd.run(&["metrics", "--force"]);
        run.expect_code(code)
            .expect_stderr(&format!("answered {status}"));
        assert!(
            receiver.records().is_empty(),
            "nothing shipped, nothing committed"
        );
    }
    moto.fault(serde_json::json!({"op": "GetMetricData", "result_status": "PartialData", "match": namespace, "times": 1}));
    let run = wd.run(&["metrics", "--force"]);
    run.expect_code(0)
        .expect_stderr("CloudWatch.GetMetricData=2");
    assert_eq!(
        receiver.records().len(),
        points.len(),
        "every datapoint, after NextToken"
    );
}

/// LookupEvents entries without an id, a time or their record are counted as failed and
/// reported, not dropped in silence; the others go through.
#[test]
fn lookup_entries_without_id_or_record_are_counted_and_reported() {
    let (moto, receiver, wd) = setup();
    let region = "ca-central-1";
    let account = format!("{:012}", u64::from(std::process::id()) + 23);
    let now = Utc::now().timestamp();
    let good: Vec<serde_json::Value> = lookup_events("whole", 2, now - 600, &account);
    let (mut no_id, _) = lookup_event(
        "no-id",
        "CreateUser",
        "iam.amazonaws.com",
        now - 500,
        &account,
    );
    no_id.as_object_mut().unwrap().remove("EventId");
    let (mut no_record, _) = lookup_event(
        "no-record",
        "CreateUser",
        "iam.amazonaws.com",
        now - 400,
        &account,
    );
    no_record.as_object_mut().unwrap().remove("CloudTrailEvent");
    let mut seeded = good;
    seeded.extend([no_id, no_record]);
    moto.seed_cloudtrail(region, &seeded);
    let start = (Utc::now() - chrono::Duration::minutes(30)).to_rfc3339();
    wd.write_config(&config_yaml(
        receiver.port,
        &format!("audit-events-all:\n  types: [audits_api]\n  regions: [{region}]\n  delay_seconds: 0\n  start_time: {start}\n"),
    ));
    let run = wd.run(&["audit"]);
    run.expect_code(0)
        .expect_stderr("CloudTrail event without an id, a time or its record: skipped.")
        .expect_stderr("failed=2");
    let shipped = receiver
        .records()
        .iter()
        .filter(|r| r.message.contains(&account))
        .count();
    assert_eq!(shipped, 2);
}

/// `start_time: 1970-01-01` (the seed's documentation shows it): progress follows the data, not
/// empty time. Empty slices grow four times at a turn (and LookupEvents reaches back 90 days
/// only), so the events of the last hour arrive in a few calls and seconds.
#[test]
fn a_start_time_far_in_the_past_crosses_empty_time_in_a_few_calls() {
    let (moto, receiver, wd) = setup();
    let region = "sa-east-1";
    let account = format!("{:012}", u64::from(std::process::id()) + 31);
    let now = Utc::now().timestamp();
    let seeded: Vec<serde_json::Value> = lookup_events("epoch", 3, now - 900, &account);
    moto.seed_cloudtrail(region, &seeded);
    let group = format!("/aws/lambda/{}", unique_name("epoch"));
    moto.log_group(region, &group, &["s"]);
    moto.put_log_events(
        region,
        &group,
        "s",
        &[(
            Utc::now().timestamp_millis() - 600_000,
            "ten minutes ago".into(),
        )],
    );
    wd.write_config(&config_yaml(
        receiver.port,
        &format!(
            "audit-events-all:\n  types: [audits_api]\n  regions: [{region}]\n  delay_seconds: 0\n  start_time: 1970-01-01T00:00:00.000Z\ncustom_service:\n  types: [logs]\n  log_groups: \"{group}\"\n  regions: [{region}]\n  delay_seconds: 0\n  start_time: 1970-01-01T00:00:00.000Z\n"
        ),
    ));
    let_aws_clock_pass();
    let started = Instant::now();
    let run = wd.run(&["all", "--deadline", "60s"]);
    let seconds = started.elapsed().as_secs_f64();
    run.expect_code(0);
    let calls = |op: &str| -> u64 {
        run.stderr
            .split_whitespace()
            .find_map(|w| {
                w.trim_start_matches("calls=")
                    .strip_prefix(&format!("{op}="))
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let (lookups, filters) = (
        calls("CloudTrail.LookupEvents"),
        calls("CloudWatchLogs.FilterLogEvents"),
    );
    eprintln!("from 1970: {seconds:.1} s, LookupEvents {lookups}, FilterLogEvents {filters}");
    assert!(
        lookups <= 12 && filters <= 20,
        "LookupEvents {lookups}, FilterLogEvents {filters}"
    );
    assert!(seconds < 20.0, "{seconds:.1} s");
    let records = receiver.records();
    assert_eq!(
        records
            .iter()
            .filter(|r| r.message.contains(&account))
            .count(),
        3
    );
    assert!(
        records
            .iter()
            .any(|r| r.message.contains("ten minutes ago"))
    );
}

/// Events that reach a log group late, with timestamps older than the cursor (an agent that
/// buffered, a forwarder back online), are collected by the next run: 600 events collected, 50
/// more put with timestamps 30 minutes old, the next run ships exactly those 50, and a run after
/// that ships nothing. Each event once.
#[test]
fn late_ingested_log_events_are_collected_once() {
    let (moto, receiver, wd) = setup();
    let group = format!("/aws/lambda/{}", unique_name("late"));
    moto.log_group("us-east-1", &group, &["a", "b"]);
    let now = Utc::now().timestamp_millis();
    let first: Vec<(i64, String)> = (0..600)
        .map(|i| (now - 300_000 + i * 100, format!("on time {i}")))
        .collect();
    moto.put_log_events("us-east-1", &group, "a", &first);
    // delay_seconds (1), then the second AWS's Date header may lag.
    let wait_past_delay = || {
        std::thread::sleep(Duration::from_secs(1));
        let_aws_clock_pass();
    };
    let start = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    wd.write_config(&config_yaml(
        receiver.port,
        &logs_yaml(
            &format!("\"{group}\""),
            &format!("  start_time: {start}\n  delay_seconds: 1\n"),
        ),
    ));
    wait_past_delay();
    wd.run(&["logs"]).expect_code(0);
    assert_eq!(messages(&receiver).len(), 600);

    let late: Vec<(i64, String)> = (0..50)
        .map(|i| (now - 1_800_000 + i * 1000, format!("late {i}")))
        .collect();
    moto.put_log_events("us-east-1", &group, "b", &late);
    wait_past_delay();
    wd.run(&["logs", "--force"]).expect_code(0);
    let all = texts(&messages(&receiver));
    assert_eq!(all.len(), 650, "the 50 late events, once");
    assert!(all.iter().any(|t| t == "late 49"));
    let mut unique = all.clone();
    unique.dedup();
    assert_eq!(unique.len(), 650, "no duplicates");

    wait_past_delay();
    let quiet = wd.run(&["logs", "--force"]);
    quiet.expect_code(0).expect_stderr("events=0");
    assert_eq!(messages(&receiver).len(), 650);
}

/// `metrics_api: get_metric_statistics`: the same events, byte for byte, as GetMetricData gives,
/// billed per request instead of per metric and statistic; a percentile is refused with it.
#[test]
fn metrics_through_get_metric_statistics_are_the_same_events_for_less() {
    let (moto, receiver, wd) = setup();
    let (_, statistics_receiver, statistics_wd) = setup();
    let namespace = unique_name("Devo/Stats");
    let minute = Utc::now().timestamp() / 60 * 60;
    let mut points = Vec::new();
    // Names of its own: moto's CloudWatch mixes series of one name across namespaces.
    for (name, dim) in [
        ("StatLatency", "a"),
        ("StatLatency", "b"),
        ("StatErrors", "a"),
    ] {
        for k in 2..6 {
            points.push((name, dim, minute - k * 60 + 7, k as f64 * 1.5));
        }
    }
    moto.put_metrics(
        "us-east-1",
        &namespace,
        &points,
        &[("StatLatency", "Milliseconds"), ("StatErrors", "Count")],
    );
    let start = (Utc::now() - chrono::Duration::minutes(30)).to_rfc3339();
    let yaml = |port: u16, extra: &str| {
        config_yaml(
            port,
            &format!(
                "metrics-all:\n  regions: [us-east-1]\n  namespaces: [\"{namespace}\"]\n  period_seconds: 60\n  delay_seconds: 0\n  start_time: {start}\n{extra}"
            ),
        )
    };
    wd.write_config(&yaml(receiver.port, ""));
    statistics_wd.write_config(&yaml(
        statistics_receiver.port,
        "  metrics_api: get_metric_statistics\n",
    ));
    let data = wd.run(&["metrics"]);
    data.expect_code(0);
    let statistics = statistics_wd.run(&["metrics"]);
    statistics.expect_code(0);
    // moto's GetMetricData stamps a datapoint at its own second; AWS, like GetMetricStatistics
    // (moto's too), at the start of its period. The rest is compared field by field.
    let messages = |r: &crate::support::devo::Receiver| {
        let mut m: Vec<String> = r
            .records()
            .into_iter()
            .map(|r| {
                let mut v: serde_json::Value = serde_json::from_str(&r.message).unwrap();
                let at = v["timestamp"].as_str().unwrap().to_string();
                v["timestamp"] = format!("{}00Z", &at[..17]).into();
                v.to_string()
            })
            .collect();
        m.sort();
        m
    };
    let through_data = messages(&receiver);
    assert_eq!(through_data.len(), points.len());
    assert_eq!(messages(&statistics_receiver), through_data);
    // 3 metrics: 3 GetMetricStatistics for the datapoints, 2 for the units of the 2 names.
    statistics
        .expect_stderr("CloudWatch.GetMetricStatistics=5")
        .expect_stderr("units=cloudwatch_requests=6 ");
    assert!(!statistics.stderr.contains("CloudWatch.GetMetricData"));
    data.expect_stderr("units=cloudwatch_metrics_requested=15 cloudwatch_requests=3");

    statistics_wd.write_config(&yaml(
        statistics_receiver.port,
        "  metrics_api: get_metric_statistics\n  statistics: [Average, p99]\n",
    ));
    statistics_wd
        .run(&["metrics"])
        .expect_code(3)
        .expect_stderr("inputs.aws.services.metrics-all.metrics_api: get_metric_statistics gives only Average, Sum, Minimum, Maximum, SampleCount: p99 needs get_metric_data");
    statistics_wd.write_config(&yaml(
        statistics_receiver.port,
        "  metrics_api: get_metric_statistics\n  include_linked_accounts: true\n",
    ));
    statistics_wd
        .run(&["metrics"])
        .expect_code(3)
        .expect_stderr("inputs.aws.services.metrics-all.include_linked_accounts: GetMetricStatistics cannot read a linked account's metrics: leave metrics_api at get_metric_data");
}

/// A monitoring account reads its linked accounts' log groups (CloudWatch cross-account
/// observability): one named by its ARN, the others found by a prefix with
/// `include_linked_accounts`; each event carries and is tagged with its group's account, each
/// group has its own cursor per account, and the next run repeats nothing.
#[test]
fn linked_accounts_log_groups_are_read_by_arn_and_by_prefix() {
    let (moto, receiver, wd) = setup();
    let linked = moto.assume("arn:aws:iam::111122223333:role/monitoring-source");
    let other = moto.assume("arn:aws:iam::444455556666:role/monitoring-source");
    let base = format!("/linked/{}", unique_name("app"));
    let (by_arn, by_prefix) = (format!("{base}/api"), format!("{base}/worker"));
    let now = Utc::now().timestamp_millis();
    linked.log_group("us-east-1", &by_arn, &["s"]);
    linked.put_log_events(
        "us-east-1",
        &by_arn,
        "s",
        &[(now - 60_000, "from the api".into())],
    );
    other.log_group("us-east-1", &by_prefix, &["s"]);
    other.put_log_events(
        "us-east-1",
        &by_prefix,
        "s",
        &[(now - 50_000, "from the worker".into())],
    );
    let arn = format!("arn:aws:logs:us-east-1:111122223333:log-group:{by_arn}:*");
    let start = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    wd.write_config(&config_yaml(
        receiver.port,
        &logs_yaml(
            &format!("[\"{arn}\", \"{base}/w*\"]"),
            &format!(
                "  start_time: {start}\n  delay_seconds: 0\n  include_linked_accounts: true\n"
            ),
        ),
    ));
    let_aws_clock_pass();
    wd.run(&["logs"])
        .expect_code(0)
        .expect_stderr("events=2 failed=0");
    let records = receiver.records();
    let mut got: Vec<(String, String, String)> = records
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.message).unwrap();
            (
                r.tag.clone(),
                v["accountId"].as_str().unwrap().to_string(),
                v["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                "cloud.aws.cloudwatch.logs.111122223333.us-east-1".to_string(),
                "111122223333".to_string(),
                "from the api".to_string()
            ),
            (
                "cloud.aws.cloudwatch.logs.444455556666.us-east-1".to_string(),
                "444455556666".to_string(),
                "from the worker".to_string()
            ),
        ]
    );
    let state =
        std::fs::read_to_string(wd.path().join("state/7.custom_service.logs.json")).unwrap();
    assert!(
        state.contains(&format!("us-east-1/111122223333/{by_arn}")),
        "{state}"
    );
    assert!(
        state.contains(&format!("us-east-1/444455556666/{by_prefix}")),
        "{state}"
    );
    let_aws_clock_pass();
    wd.run(&["logs", "--force"])
        .expect_code(0)
        .expect_stderr("events=0");
    assert_eq!(receiver.records().len(), 2, "nothing repeated");
}
