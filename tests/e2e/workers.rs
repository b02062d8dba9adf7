//! Several workers on one config, their state in S3: cursors written with conditional requests
//! and leased one worker at a time, SQS queues shared as competing consumers.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::support::aws::{Moto, unique_name};
use crate::support::devo::Receiver;
use crate::support::samples::{seed_lookup_events, trail_object};
use crate::support::{
    STATE_PREFIX as PREFIX, Workdir, config_yaml, let_aws_clock_pass, setup, with_s3_state,
};

/// The object of cursor `name` of the logs service.
fn cursor_object(name: &str) -> String {
    format!(
        "{PREFIX}/7.custom_service.logs/cursors/{}.json",
        name.replace('/', "%2F")
    )
}

/// One log group with `n` events ten minutes old, and a config pulling it with S3 state.
fn logs_with_s3_state(moto: &Moto, receiver: &Receiver, wd: &Workdir, n: i64) -> (String, String) {
    let bucket = unique_name("state").to_lowercase();
    moto.create_bucket("us-east-1", &bucket);
    let group = format!("/aws/lambda/{}", unique_name("fn"));
    moto.log_group("us-east-1", &group, &["s"]);
    let at = Utc::now().timestamp_millis() - 600_000;
    let events: Vec<(i64, String)> = (0..n).map(|i| (at + i, format!("line {i}"))).collect();
    moto.put_log_events("us-east-1", &group, "s", &events);
    let start = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    wd.write_config(&with_s3_state(
        &config_yaml(
            receiver.port,
            &format!("custom_service:\n  types: [logs]\n  log_groups: \"{group}\"\n  regions: [us-east-1]\n  start_time: {start}\n  delay_seconds: 0\n"),
        ),
        &bucket,
    ));
    let_aws_clock_pass();
    (bucket, group)
}

fn json(bytes: Option<Vec<u8>>) -> serde_json::Value {
    serde_json::from_slice(&bytes.expect("the object exists")).unwrap()
}

#[test]
fn s3_state_records_cursors_and_the_next_run_resumes() {
    let (moto, receiver, wd) = setup();
    let (bucket, group) = logs_with_s3_state(&moto, &receiver, &wd, 5);
    let object = cursor_object(&format!("us-east-1/{group}"));
    let dry = wd.run(&["logs", "--dry-run"]);
    dry.expect_code(0);
    assert_eq!(dry.stdout.lines().count(), 5);
    assert!(
        moto.get_object("us-east-1", &bucket, &object).is_none(),
        "a dry run writes no state"
    );
    let run = wd.run(&["logs"]);
    run.expect_code(0);
    assert_eq!(receiver.records().len(), 5);
    assert!(!wd.path().join("state").exists(), "no local state");

    let cursor = json(moto.get_object("us-east-1", &bucket, &object));
    assert_eq!(cursor["version"], 1);
    assert!(cursor["cursor"]["until"].as_str().is_some(), "{cursor}");
    assert!(
        cursor.get("lease").is_none(),
        "released at the end: {cursor}"
    );
    let service = json(moto.get_object(
        "us-east-1",
        &bucket,
        &format!("{PREFIX}/7.custom_service.logs/service.json"),
    ));
    assert!(service["last_pull"].as_str().is_some(), "{service}");

    // `check` tries the bucket, and reads and writes nothing.
    let check = wd.run(&["check"]);
    check.expect_code(0);
    assert!(
        check
            .stdout
            .lines()
            .any(|l| l.starts_with("state") && l.contains(&format!("s3://{bucket}/"))),
        "{}",
        check.stdout
    );
    let config = std::fs::read_to_string(wd.config_file()).unwrap();
    wd.write_config(&config.replace(&bucket, "no-such-state-bucket"));
    let check = wd.run(&["check"]);
    check.expect_code(3);
    assert!(
        check.stdout.contains("S3 HeadBucket no-such-state-bucket"),
        "{}",
        check.stdout
    );
    wd.write_config(&config);

    // Not due yet, then forced: nothing new, nothing shipped again.
    let run = wd.run(&["logs"]);
    run.expect_stderr("not due until");
    let run = wd.run(&["logs", "--force"]);
    run.expect_code(0);
    assert_eq!(receiver.records().len(), 5);
    // The service object read once, at the start: its write at the end goes on the ETag of that
    // read (no other worker wrote meanwhile); the cursor's object read once, to lease it.
    run.expect_stderr("S3.GetObject=2 ");
}

#[test]
fn a_cursor_leased_by_another_worker_waits_until_its_lease_expires() {
    let (moto, receiver, wd) = setup();
    let (bucket, group) = logs_with_s3_state(&moto, &receiver, &wd, 5);
    let object = cursor_object(&format!("us-east-1/{group}"));
    let leased = |expires: chrono::DateTime<Utc>| {
        serde_json::json!({"version": 1, "lease": {"owner": "other-host/42/1", "expires": expires}, "generation": 1})
            .to_string()
            .into_bytes()
    };
    moto.put_object(
        "us-east-1",
        &bucket,
        &object,
        leased(Utc::now() + chrono::Duration::hours(1)),
    );
    let run = wd.run(&["logs"]);
    run.expect_code(0);
    run.expect_stderr("held=1");
    assert!(receiver.records().is_empty(), "a live lease is respected");
    assert_eq!(
        json(moto.get_object("us-east-1", &bucket, &object))["lease"]["owner"],
        "other-host/42/1"
    );

    // The other worker died: once its lease has expired, the cursor is taken over.
    moto.put_object(
        "us-east-1",
        &bucket,
        &object,
        leased(Utc::now() - chrono::Duration::seconds(1)),
    );
    let run = wd.run(&["logs", "--force"]);
    run.expect_code(0);
    run.expect_stderr("lease expired");
    assert_eq!(receiver.records().len(), 5);
    let cursor = json(moto.get_object("us-east-1", &bucket, &object));
    assert!(cursor.get("lease").is_none(), "{cursor}");
    assert!(cursor["cursor"]["until"].as_str().is_some(), "{cursor}");
}

/// A corrupt or newer-versioned state object: a clear error naming it, nothing pulled.
#[test]
fn s3_state_that_cannot_be_trusted_stops_the_service() {
    let (moto, receiver, wd) = setup();
    let (bucket, group) = logs_with_s3_state(&moto, &receiver, &wd, 5);
    let object = cursor_object(&format!("us-east-1/{group}"));
    for (contents, says) in [
        ("{\"version\": 1, \"cursor\": ", "corrupt state ("),
        ("{\"version\": 99}", "written by a newer devo-aws"),
    ] {
        moto.put_object("us-east-1", &bucket, &object, contents.as_bytes().to_vec());
        let run = wd.run(&["logs", "--force"]);
        assert_eq!(run.code, 3, "{contents}: {}", run.stderr);
        assert!(
            run.stderr.contains(says) && run.stderr.contains(&format!("s3://{bucket}/")),
            "{}",
            run.stderr
        );
        assert!(receiver.records().is_empty());
    }
}

/// A worker killed while it holds a cursor: the others skip the cursor until the lease expires
/// (the dead run's deadline plus half of it, at least 10 s), then take it over from where it was
/// recorded and deliver everything.
#[test]
fn a_killed_workers_cursor_is_taken_over_when_its_lease_expires() {
    let (moto, receiver, wd) = setup();
    let (bucket, group) = logs_with_s3_state(&moto, &receiver, &wd, 5);
    let object = cursor_object(&format!("us-east-1/{group}"));
    // The dead worker's pull hangs long enough to be killed holding the lease.
    moto.fault(
        serde_json::json!({"op": "FilterLogEvents", "match": group, "delay_ms": 4000, "times": 1}),
    );
    let mut dead = wd
        .command(
            std::process::Command::new(env!("CARGO_BIN_EXE_devo-aws")),
            &["logs", "--deadline", "2s"],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while moto.get_object("us-east-1", &bucket, &object).is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    dead.kill().unwrap();
    dead.wait().unwrap();
    let lease = json(moto.get_object("us-east-1", &bucket, &object));
    assert!(
        lease["lease"]["owner"].is_string(),
        "killed holding it: {lease}"
    );

    let run = wd.run(&["logs", "--force"]);
    run.expect_code(0);
    run.expect_stderr("held=1");
    assert!(receiver.records().is_empty());

    // Until the lease the dead run wrote expires (its 2 s deadline + 10 s grace from when it
    // wrote it, which a loaded machine makes later than the run's start).
    let expires = chrono::DateTime::parse_from_rfc3339(lease["lease"]["expires"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let left = (expires - chrono::Utc::now()).to_std().unwrap_or_default();
    assert!(left <= Duration::from_secs(12), "{lease}");
    std::thread::sleep(left + Duration::from_millis(500));
    let run = wd.run(&["logs", "--force"]);
    run.expect_code(0);
    run.expect_stderr("lease expired");
    assert_eq!(
        receiver.records().len(),
        5,
        "every event, from the recorded cursor"
    );
    assert!(
        json(moto.get_object("us-east-1", &bucket, &object))
            .get("lease")
            .is_none()
    );
}

/// A run that outlives its lease (its pull hangs past the expiry): another worker takes the
/// cursor over and delivers; the late run's write is refused (412), so it cannot move the cursor
/// back, and it ends with exit 4. Its slice is not even shipped: its time for delivery (the
/// deadline and its grace) ran out while the pull hung. No loss, and here no duplicate.
#[test]
fn a_run_that_outlives_its_lease_cannot_move_the_cursor() {
    let (moto, receiver, wd) = setup();
    let (bucket, group) = logs_with_s3_state(&moto, &receiver, &wd, 5);
    let object = cursor_object(&format!("us-east-1/{group}"));
    // Lease: 1 s deadline + 10 s grace; the pull answers after 18 s, well after the other
    // worker's run (started at 12 s; it took up to 3 s under a loaded CI) has delivered.
    moto.fault(
        serde_json::json!({"op": "FilterLogEvents", "match": group, "delay_ms": 18000, "times": 1}),
    );
    let started = Instant::now();
    let late = wd
        .command(
            std::process::Command::new(env!("CARGO_BIN_EXE_devo-aws")),
            &["logs", "--deadline", "1s"],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(12).saturating_sub(started.elapsed()));
    let run = wd.run(&["logs", "--force"]);
    run.expect_code(0);
    run.expect_stderr("lease expired");
    assert_eq!(receiver.records().len(), 5);
    let taken = json(moto.get_object("us-east-1", &bucket, &object));

    let out = late.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("another worker took this cursor over"),
        "{stderr}"
    );
    assert_eq!(
        json(moto.get_object("us-east-1", &bucket, &object)),
        taken,
        "the late run wrote nothing"
    );
    assert_eq!(
        receiver.wait_for(10, Duration::from_secs(2)).len(),
        5,
        "the late run shipped nothing past its time for delivery"
    );
}

/// `--shard I/N` deals out regions by position and log groups by name; shards share one state
/// directory, each keeping the others' cursors.
#[test]
fn shards_split_regions_and_log_groups_and_share_a_state_directory() {
    let (moto, receiver, wd) = setup();
    let queue = unique_name("shard");
    let regions = ["us-east-1", "us-west-2", "eu-west-1"];
    for region in regions {
        let url = moto.create_queue(region, &queue, 30);
        moto.send(
            region,
            &url,
            &[format!(r#"{{"id":"{region}","source":"aws.ec2","account":"1","region":"{region}","detail":{{}}}}"#)],
        );
    }
    let prefix = format!("/devo-aws/{queue}/");
    let at = Utc::now().timestamp_millis() - 600_000;
    for g in 0..6 {
        let group = format!("{prefix}g{g}");
        moto.log_group("us-east-1", &group, &["s"]);
        moto.put_log_events("us-east-1", &group, "s", &[(at, group.clone())]);
    }
    let_aws_clock_pass();
    let start = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    wd.write_config(&config_yaml(
        receiver.port,
        &format!(
            "service-events-all:\n  cloudwatch_sqs_queue_name: {queue}\n  regions: [{}]\n\
             custom_service:\n  types: [logs]\n  log_groups: \"{prefix}*\"\n  regions: [us-east-1]\n  start_time: {start}\n  delay_seconds: 0\n",
            regions.join(", ")
        ),
    ));
    let got = |receiver: &Receiver| -> Vec<String> {
        let mut ids: Vec<String> = receiver
            .records()
            .iter()
            .map(|r| {
                let v: serde_json::Value = serde_json::from_str(&r.message).unwrap();
                v.get("id")
                    .unwrap_or(&v["message"])
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        ids.sort();
        ids
    };
    let run = wd.run(&["all", "--shard", "2/2"]);
    run.expect_code(0);
    let second = got(&receiver);
    assert!(second.contains(&"us-west-2".to_string()), "{second:?}");
    assert!(
        !second
            .iter()
            .any(|id| id == "us-east-1" || id == "eu-west-1"),
        "{second:?}"
    );
    let run = wd.run(&["all", "--shard", "1/2"]);
    run.expect_code(0);
    let mut expected: Vec<String> = regions.iter().map(|r| r.to_string()).collect();
    expected.extend((0..6).map(|g| format!("{prefix}g{g}")));
    expected.sort();
    assert_eq!(
        got(&receiver),
        expected,
        "each event once, by one shard or the other"
    );
    let logs_second = second.iter().filter(|id| id.starts_with(&prefix)).count();
    assert!(logs_second < 6, "the groups were split: {second:?}");
    let state =
        std::fs::read_to_string(wd.path().join("state/7.custom_service.logs.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(state["cursors"].as_object().unwrap().len(), 6, "{state}");
    assert!(state["shard_pulls"]["1/2"].is_string() && state["shard_pulls"]["2/2"].is_string());
}

/// `DEVO_AWS_WORKERS` processes (default 4) run `all` at once on one config, over
/// `DEVO_AWS_WORKER_EVENTS` events (default 2,000; `make test-workers` runs 20,000): a quarter
/// EventBridge events on SQS, half CloudTrail records in S3 objects announced on SQS, a quarter
/// CloudWatch Logs events in 20 groups. Every event arrives exactly once.
#[test]
fn workers_share_one_config_and_ship_every_event_exactly_once() {
    let get = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (workers, total) = (
        get("DEVO_AWS_WORKERS", 4),
        get("DEVO_AWS_WORKER_EVENTS", 2000),
    );
    let (moto, receiver, wd) = setup();
    let name = unique_name("workers");
    let visibility = 120;

    // EventBridge events.
    let n_events = total / 4;
    let bodies: Vec<String> = (0..n_events)
        .map(|i| format!(r#"{{"id":"w-e-{i:05}","source":"aws.ec2","account":"1","region":"us-east-1","detail":{{}}}}"#))
        .collect();
    let mut queues = moto.spread_queues(&name, &bodies, visibility);
    let regions: Vec<&str> = queues.iter().map(|(region, _)| *region).collect();

    // CloudTrail objects of 100 records.
    let n_audit = total / 2;
    let (audit_queue, url, bucket) = moto.announcing_bucket("us-east-1", "workers", visibility);
    queues.push(("us-east-1", url));
    let ids: Vec<String> = (0..n_audit).map(|i| format!("w-a-{i:05}")).collect();
    for (object, ids) in ids.chunks(100).enumerate() {
        moto.put_object(
            "us-east-1",
            &bucket,
            &format!("AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/t_{object:04}.json.gz"),
            trail_object(ids.iter().cloned()),
        );
    }

    // CloudWatch Logs: 20 groups under one prefix.
    let n_logs = total - n_events - n_audit;
    let prefix = format!("/devo-aws/{name}/");
    let at = Utc::now().timestamp_millis() - 600_000;
    let per_group = n_logs.div_ceil(20);
    for (g, ids) in (0..n_logs)
        .collect::<Vec<_>>()
        .chunks(per_group)
        .enumerate()
    {
        let group = format!("{prefix}g{g:02}");
        moto.log_group("us-east-1", &group, &["s"]);
        let events: Vec<(i64, String)> = ids
            .iter()
            .map(|i| (at + *i as i64, format!("w-l-{i:05}")))
            .collect();
        moto.put_log_events("us-east-1", &group, "s", &events);
    }
    let_aws_clock_pass();

    let state = format!("{bucket}-state");
    moto.create_bucket("us-east-1", &state);
    let start = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    wd.write_config(&with_s3_state(
        &config_yaml(
            receiver.port,
            &format!(
                "service-events-all:\n  cloudwatch_sqs_queue_name: {name}\n  regions: [{}]\n\
                 audit-events-all:\n  types: [audits_s3]\n  audit_sqs_queue_name: {audit_queue}\n  regions: [us-east-1]\n\
                 custom_service:\n  types: [logs]\n  log_groups: \"{prefix}*\"\n  regions: [us-east-1]\n  start_time: {start}\n  delay_seconds: 0\n",
                regions.join(", ")
            ),
        ),
        &state,
    ));

    let (started, cpu_before) = (Instant::now(), children_cpu_seconds());
    let children: Vec<_> = (0..workers)
        .map(|_| {
            wd.command(
                std::process::Command::new(env!("CARGO_BIN_EXE_devo-aws")),
                &["all", "--deadline", "15m"],
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut logs_per_worker = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        for line in stderr.lines().filter(|l| l.contains("summary")) {
            eprintln!("{line}");
        }
        logs_per_worker.push(
            stderr
                .lines()
                .find(|l| l.contains("service=\"custom_service.logs\""))
                .and_then(|l| l.split(" events=").nth(1))
                .and_then(|rest| rest.split(' ').next())
                .unwrap_or("?")
                .to_string(),
        );
    }
    let (elapsed, cpu) = (started.elapsed(), children_cpu_seconds() - cpu_before);

    let records = receiver.wait_for(total, Duration::from_secs(10));
    let mut copies: HashMap<String, usize> = HashMap::new();
    for r in &records {
        let v: serde_json::Value = serde_json::from_str(&r.message).unwrap();
        let id = ["id", "eventID", "message"]
            .iter()
            .find_map(|k| v[*k].as_str().filter(|s| s.starts_with("w-")))
            .unwrap_or_else(|| panic!("no id in {}", r.message));
        *copies.entry(id.to_string()).or_default() += 1;
    }
    let twice: Vec<&String> = copies
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id)
        .collect();
    assert!(twice.is_empty(), "shipped twice: {twice:?}");
    assert_eq!(copies.len(), total, "every event");
    assert_eq!(records.len(), total, "exactly once");
    for (region, url) in &queues {
        assert_eq!(moto.depth(region, url), (0, 0), "{region} {url}");
    }
    eprintln!(
        "{workers} workers: {total} events ({n_events} events, {n_audit} audit from S3, {n_logs} logs) in {:.1} s = {:.0} events/s, devo-aws CPU {cpu:.2} s; logs events per worker: {}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        logs_per_worker.join(" ")
    );
}

/// CPU seconds (user + system) of this process's waited-for children.
fn children_cpu_seconds() -> f64 {
    crate::support::stat_cpu_seconds("/proc/self/stat", 13)
}

/// A long slice (1,500 CloudTrail events: 30 LookupEvents pages at 2 a second, about 15 s): its
/// holder renews the cursor's lease while pages come back (the expiry in the cursor object moves
/// forward), two workers started during the slice skip the cursor (held=1), and each event is
/// shipped once.
#[test]
fn a_long_slice_renews_its_lease_and_is_shipped_once() {
    let (moto, receiver, wd) = setup();
    // LookupEvents has no per-test namespace in moto: a region and an account of our own.
    let region = "ap-northeast-3";
    let account = format!("{:012}", u64::from(std::process::id()) + 7);
    seed_lookup_events(&moto, region, "lease", 1500, &account);
    let bucket = unique_name("state").to_lowercase();
    moto.create_bucket("us-east-1", &bucket);
    let start = (Utc::now() - chrono::Duration::minutes(50)).to_rfc3339();
    wd.write_config(&with_s3_state(
        &config_yaml(
            receiver.port,
            &format!("audit-events-all:\n  types: [audits_api]\n  regions: [{region}]\n  delay_seconds: 0\n  start_time: {start}\n"),
        ),
        &bucket,
    ));
    let spawn = |args: &[&str]| {
        wd.command(
            std::process::Command::new(env!("CARGO_BIN_EXE_devo-aws")),
            args,
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
    };
    let object = format!("{PREFIX}/7.audit-events-all.api/cursors/{region}.json");
    let expiry = || {
        moto.get_object("us-east-1", &bucket, &object).map(|b| {
            json(Some(b))["lease"]["expires"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
    };
    let started = Instant::now();
    let holder = spawn(&["audit", "--deadline", "20s"]);
    std::thread::sleep(Duration::from_secs(3).saturating_sub(started.elapsed()));
    let early = expiry().expect("leased");
    std::thread::sleep(Duration::from_secs(8).saturating_sub(started.elapsed()));
    let others = [spawn(&["audit", "--force"]), spawn(&["audit", "--force"])];
    for other in others {
        let out = other.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains("held=1"), "the cursor is leased: {stderr}");
    }
    std::thread::sleep(Duration::from_secs(12).saturating_sub(started.elapsed()));
    let later = expiry().expect("still leased");
    assert!(
        later > early,
        "renewed while pages come back: {early} then {later}"
    );
    let out = holder.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let mut ids: Vec<String> = receiver
        .records()
        .iter()
        .filter(|r| r.message.contains(&account))
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.message).unwrap();
            v["eventID"].as_str().unwrap().to_string()
        })
        .collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!((ids.len(), total), (1500, 1500), "each event once");
}
