//! Replays from the bucket (`--start-time` on S3 services): windows, resumption, late objects,
//! settling.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Span, DurationRound, Utc};

use crate::support::aws::Moto;
use crate::support::devo::{Receiver, Record};
use crate::support::samples::{trail_file, trail_record};
use crate::support::{Run, Workdir, audit_s3_yaml, config_yaml, setup};

const ACCOUNTS: [&str; 2] = ["111122223333", "444455556666"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Where CloudTrail writes the file it stamps `at` for `account` and `region`.
fn trail_key(account: &str, region: &str, at: DateTime<Utc>, n: usize) -> String {
    format!(
        "AWSLogs/{account}/CloudTrail/{region}/{}/{account}_CloudTrail_{region}_{}_{n:04}.json.gz",
        at.format("%Y/%m/%d"),
        at.format("%Y%m%dT%H%MZ")
    )
}

/// A replay set-up: moto, a receiver, a workdir whose config replays `audits_s3` from a bucket
/// that announces every object on the service's queue (which a replay must leave alone).
struct Replay {
    moto: Moto,
    receiver: Receiver,
    wd: Workdir,
    url: String,
    bucket: String,
}

fn replay_setup() -> Replay {
    let (moto, receiver, wd) = setup();
    let (queue, url, bucket) = moto.announcing_bucket("us-east-1", "replay", 30);
    wd.write_config(&config_yaml(
        receiver.port,
        &audit_s3_yaml(
            &queue,
            &format!("  s3_buckets:\n    audits_s3: s3://{bucket}/AWSLogs/\n"),
        ),
    ));
    Replay {
        moto,
        receiver,
        wd,
        url,
        bucket,
    }
}

impl Replay {
    /// Puts `objects` trail files of three records each (ids `<prefix>-<n>-<i>`), `every`
    /// apart from `start`, of the first account and region; their ids.
    fn put_spread(
        &self,
        prefix: &str,
        objects: usize,
        start: DateTime<Utc>,
        every: Span,
    ) -> BTreeSet<String> {
        let mut ids = BTreeSet::new();
        for n in 0..objects {
            let at = start + every * n as i32;
            let these: Vec<String> = (0..3).map(|i| format!("{prefix}-{n}-{i}")).collect();
            ids.extend(these.iter().cloned());
            let key = trail_key(ACCOUNTS[0], REGIONS[0], at, n);
            self.put(&key, ACCOUNTS[0], REGIONS[0], &these);
        }
        ids
    }

    /// Puts a trail file of `records` ids at `key`.
    fn put(&self, key: &str, account: &str, region: &str, ids: &[String]) {
        let records: Vec<String> = ids
            .iter()
            .map(|id| trail_record(id, "GetObject", "s3.amazonaws.com", account, region))
            .collect();
        self.moto
            .put_object("us-east-1", &self.bucket, key, trail_file(&records));
    }

    fn replay(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> (Run, u64) {
        self.wd.run_with_peak_rss(&[
            "audit",
            "--start-time",
            &rfc3339(start),
            "--end-time",
            &rfc3339(end),
        ])
    }

    fn state(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Option<serde_json::Value> {
        let name = format!(
            ".audit-events-all.s3.replay-{}-{}.json",
            start.format("%Y%m%dT%H%M%SZ"),
            end.format("%Y%m%dT%H%M%SZ")
        );
        let file = std::fs::read_dir(self.wd.path().join("state"))
            .ok()?
            .flatten()
            .find(|e| e.file_name().to_string_lossy().ends_with(&name))?;
        let text = std::fs::read_to_string(file.path()).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// How often each event id arrived (on connections closed cleanly), with its tag.
fn counted(records: &[Record]) -> BTreeMap<String, (usize, String)> {
    let mut out: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for r in records {
        let v: serde_json::Value = serde_json::from_str(&r.message).unwrap();
        let id = v["eventID"].as_str().unwrap().to_string();
        out.entry(id).or_insert((0, r.tag.clone())).0 += 1;
    }
    out
}

/// The calls of `op` the run's summary line counted.
fn calls(run: &Run, op: &str) -> u64 {
    run.stderr
        .split_whitespace()
        .find_map(|w| w.split_once(&format!("{op}=")).map(|(_, n)| n))
        .and_then(|n| n.trim_matches('"').parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_three_day_window_over_two_accounts_and_two_regions_ships_only_its_objects() {
    let r = replay_setup();
    let end = Utc::now().duration_trunc(Span::hours(1)).unwrap() - Span::hours(3);
    let start = end - Span::days(3);
    let mut inside = BTreeSet::new();
    let mut n = 0;
    for account in ACCOUNTS {
        for region in REGIONS {
            let mut stamps: Vec<DateTime<Utc>> = (0..3)
                .flat_map(|d| {
                    [
                        start + Span::days(d) + Span::minutes(5),
                        start + Span::days(d) + Span::hours(12),
                    ]
                })
                .collect();
            stamps.push(start);
            stamps.push(end - Span::minutes(5));
            for at in stamps {
                n += 1;
                let ids = vec![format!("in-{n}-a"), format!("in-{n}-b")];
                inside.extend(ids.iter().cloned());
                r.put(&trail_key(account, region, at, n), account, region, &ids);
            }
            // Just outside both ends: a minute before the start, at the end, after it.
            for at in [start - Span::minutes(1), end, end + Span::minutes(5)] {
                n += 1;
                r.put(
                    &trail_key(account, region, at, n),
                    account,
                    region,
                    &[format!("out-{n}")],
                );
            }
        }
        // CloudTrail's digests beside the logs are checked, after the logs (this one is no
        // digest: reported, and the replay goes on).
        r.moto.put_object(
            "us-east-1",
            &r.bucket,
            &format!(
                "AWSLogs/{account}/CloudTrail-Digest/us-east-1/{}/{account}_CloudTrail-Digest_us-east-1_x_us-east-1_{}.json.gz",
                start.format("%Y/%m/%d"),
                (start + Span::hours(1)).format("%Y%m%dT%H%M%SZ")
            ),
            crate::support::gzip(b"{\"digestStartTime\":\"x\"}"),
        );
    }
    let queued = r.moto.depth("us-east-1", &r.url);

    let began = Instant::now();
    let (run, rss) = r.replay(start, end);
    run.expect_code(0);
    let seconds = began.elapsed().as_secs_f64();
    let got = r.receiver.wait_for(inside.len(), Duration::from_secs(10));
    let counts = counted(&got);
    assert_eq!(
        counts.keys().cloned().collect::<BTreeSet<_>>(),
        inside,
        "the events stamped inside the window, none outside"
    );
    assert!(
        counts.values().all(|(n, _)| *n == 1),
        "each once: {counts:?}"
    );
    for (id, (_, tag)) in &counts {
        let account = ACCOUNTS.iter().any(|a| tag.contains(a));
        let region = REGIONS.iter().any(|g| tag.contains(g));
        assert!(
            tag.starts_with("cloud.aws.cloudtrail.events.") && account && region,
            "{id}: {tag}"
        );
    }
    let lists = calls(&run, "S3.ListObjectsV2");
    let gets = calls(&run, "S3.GetObject");
    assert_eq!(
        gets, 34,
        "one GetObject per object inside, the two digests' too: {}",
        run.stderr
    );
    run.expect_stderr("not a CloudTrail digest");
    // What S3 bills: GET-class (GetObject, HeadBucket) and LIST-class requests.
    run.expect_stderr(&format!(
        "units=s3_get_requests=35 s3_list_requests={lists}"
    ));
    eprintln!(
        "replay of 3 days, 2 accounts x 2 regions: {} events of 32 objects, {lists} ListObjectsV2, {gets} GetObject, {seconds:.2} s, peak RSS {} KiB",
        inside.len(),
        rss
    );
    // A replay leaves the queue and the service's own state alone.
    assert_eq!(r.moto.depth("us-east-1", &r.url), queued);
    let own = std::fs::read_dir(r.wd.path().join("state"))
        .unwrap()
        .flatten()
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with(".audit-events-all.s3.json")
        });
    assert!(!own, "the service's own state is not written");

    // Run again: the days that ended a day before are settled and not listed; nothing again.
    let state = r.state(start, end).unwrap();
    let settled = state["prefixes"]
        .as_object()
        .unwrap()
        .values()
        .filter(|p| p["settled"] == true)
        .count();
    assert!(settled >= 8, "{state}");
    let (again, _) = r.replay(start, end);
    again.expect_code(0);
    assert_eq!(calls(&again, "S3.GetObject"), 0, "{}", again.stderr);
    let relisted = calls(&again, "S3.ListObjectsV2");
    assert!(relisted < lists, "{relisted} < {lists}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(r.receiver.records().len(), inside.len(), "nothing twice");
}

#[test]
fn a_replay_killed_half_way_resumes_and_ships_every_event_once() {
    let r = replay_setup();
    let end = Utc::now().duration_trunc(Span::hours(1)).unwrap() - Span::hours(30);
    let start = end - Span::hours(6);
    let ids = r.put_spread("k", 40, start, Span::minutes(5));
    // Each object answers after a second: the objects come in waves of eight.
    r.moto.fault(
        serde_json::json!({"op": "GetObject", "match": r.bucket, "delay_ms": 1000, "times": 40}),
    );
    let mut child =
        r.wd.command(
            std::process::Command::new(env!("CARGO_BIN_EXE_devo-aws")),
            &[
                "audit",
                "--start-time",
                &rfc3339(start),
                "--end-time",
                &rfc3339(end),
            ],
        )
        .spawn()
        .unwrap();
    // Killed once the state says some objects were delivered, between two waves.
    let delivered = |r: &Replay| -> usize {
        r.state(start, end)
            .and_then(|s| {
                s["prefixes"].as_object().map(|p| {
                    p.values()
                        .map(|v| v["done"].as_array().map_or(0, Vec::len))
                        .sum()
                })
            })
            .unwrap_or(0)
    };
    let waited = Instant::now();
    while delivered(&r) < 8 && waited.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = delivered(&r);
    assert!(
        (8..40).contains(&at_kill),
        "killed half way: {at_kill} {:?}",
        r.state(start, end)
    );

    let (run, rss) = r.replay(start, end);
    run.expect_code(0);
    let got = r.receiver.wait_for(ids.len(), Duration::from_secs(10));
    let counts = counted(&got);
    assert_eq!(counts.keys().cloned().collect::<BTreeSet<_>>(), ids);
    assert!(
        counts.values().all(|(n, _)| *n == 1),
        "each once: {counts:?}"
    );
    let gets = calls(&run, "S3.GetObject");
    assert_eq!(
        gets as usize,
        40 - at_kill,
        "only what was left: {}",
        run.stderr
    );
    eprintln!(
        "killed after {at_kill} of 40 objects; the resumed run read {gets}: {} events each once, {} ListObjectsV2, peak RSS {rss} KiB",
        ids.len(),
        calls(&run, "S3.ListObjectsV2")
    );
}

#[test]
fn an_object_delivered_late_into_a_listed_prefix_is_shipped_by_the_next_run() {
    let r = replay_setup();
    let end = Utc::now().duration_trunc(Span::minutes(1)).unwrap() - Span::minutes(1);
    let start = end - Span::hours(2);
    let account = ACCOUNTS[1];
    let first = [start + Span::minutes(10), start + Span::minutes(20)];
    for (n, at) in first.iter().enumerate() {
        r.put(
            &trail_key(account, REGIONS[1], *at, n),
            account,
            REGIONS[1],
            &[format!("early-{n}")],
        );
    }
    r.replay(start, end).0.expect_code(0);
    r.receiver.wait_for(2, Duration::from_secs(10));

    // CloudTrail delivers a file stamped inside the window, after the replay listed its day.
    r.put(
        &trail_key(account, REGIONS[1], start + Span::minutes(15), 7),
        account,
        REGIONS[1],
        &["late".to_string()],
    );
    let (run, _) = r.replay(start, end);
    run.expect_code(0);
    assert_eq!(
        calls(&run, "S3.GetObject"),
        1,
        "only the late object: {}",
        run.stderr
    );
    let got = r.receiver.wait_for(3, Duration::from_secs(10));
    let counts = counted(&got);
    assert_eq!(
        counts.keys().map(String::as_str).collect::<Vec<_>>(),
        ["early-0", "early-1", "late"]
    );
    assert!(counts.values().all(|(n, _)| *n == 1), "{counts:?}");
}

#[test]
fn a_replay_without_its_bucket_or_with_a_bad_one_says_where_to_name_it() {
    let (moto, receiver, wd) = setup();
    let queue = crate::support::aws::unique_name("noreplay");
    moto.create_queue("us-east-1", &queue, 30);
    wd.write_config(&config_yaml(receiver.port, &audit_s3_yaml(&queue, "")));
    wd.run(&["audit", "--start-time", "2d"])
        .expect_code(3)
        .expect_stderr("inputs.aws.services.audit-events-all.s3_buckets.audits_s3");
    // Where it is named wrong, the config is refused with the key path.
    for (buckets, path, why) in [
        (
            "audits_s3: my-trail",
            "s3_buckets.audits_s3[0]",
            "is not an S3 URL such as s3://my-bucket/AWSLogs/",
        ),
        (
            "audits_s3: [s3://My_Trail/]",
            "s3_buckets.audits_s3[0]",
            "is not a bucket name",
        ),
        (
            "flowlogs: s3://flows/",
            "s3_buckets.flowlogs",
            "not a type this block reads from S3 (its types: audits_s3)",
        ),
    ] {
        wd.write_config(&config_yaml(
            receiver.port,
            &audit_s3_yaml(&queue, &format!("  s3_buckets:\n    {buckets}\n")),
        ));
        wd.run(&["audit", "--start-time", "2d"])
            .expect_code(3)
            .expect_stderr(&format!("inputs.aws.services.audit-events-all.{path}"))
            .expect_stderr(why);
    }
}

#[test]
fn check_says_where_a_replay_would_list() {
    let r = replay_setup();
    let at = Utc::now() - Span::hours(5);
    for account in ACCOUNTS {
        for region in REGIONS {
            r.put(
                &trail_key(account, region, at, 1),
                account,
                region,
                &["c".into()],
            );
        }
    }
    let run = r.wd.run(&["check", "--start-time", "1d"]);
    run.expect_code(0);
    let row = run
        .stdout
        .lines()
        .find(|l| l.starts_with("replay audit-events-all.s3"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(
        row.contains(&format!("s3://{}/AWSLogs/", r.bucket)),
        "{row}"
    );
    assert!(
        row.contains("s3:ListBucket granted; 4 prefixes to list"),
        "{row}"
    );
    assert!(
        row.contains("AWSLogs/111122223333/CloudTrail/eu-west-1/"),
        "{row}"
    );
    assert!(
        run.stdout.contains("s3:ListBucket"),
        "the IAM actions say it"
    );
    assert_eq!(r.receiver.records().len(), 0, "check ships nothing");
}

#[test]
fn a_flat_layout_keeps_its_progress_per_hour_and_settles_it() {
    let (moto, receiver, wd) = setup();
    let queue = crate::support::aws::unique_name("flat");
    moto.create_queue("us-east-1", &queue, 30);
    let bucket = crate::support::aws::unique_name("flat").to_lowercase();
    moto.create_bucket("us-east-1", &bucket);
    wd.write_config(&config_yaml(
        receiver.port,
        &format!(
            "non-cloudwatch-logs:\n  types: [s3accesslogs]\n  s3accesslogs_sqs_queue_name: {queue}\n  regions: [us-east-1]\n  s3_buckets:\n    s3accesslogs: s3://{bucket}/access/\n"
        ),
    ));
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/formats/s3access.log"
    ))
    .unwrap();
    let lines = sample.iter().filter(|b| **b == b'\n').count();
    let end = Utc::now().duration_trunc(Span::hours(1)).unwrap() - Span::hours(30);
    let start = end - Span::hours(6);
    // S3 server access logs without partitions: every key in one directory, named by its time.
    let name =
        |at: DateTime<Utc>, n: usize| format!("access/{}-{n:016X}", at.format("%Y-%m-%d-%H-%M-%S"));
    let inside = [start, start + Span::minutes(90), end - Span::seconds(1)];
    for (n, at) in inside.iter().enumerate() {
        moto.put_object("us-east-1", &bucket, &name(*at, n), sample.clone());
    }
    for (n, at) in [start - Span::seconds(1), end].iter().enumerate() {
        moto.put_object("us-east-1", &bucket, &name(*at, 10 + n), sample.clone());
    }
    let run = |wd: &Workdir| {
        wd.run(&[
            "s3logs",
            "s3accesslogs",
            "--start-time",
            &rfc3339(start),
            "--end-time",
            &rfc3339(end),
        ])
    };
    let first = run(&wd);
    first.expect_code(0);
    assert_eq!(calls(&first, "S3.GetObject"), 3, "{}", first.stderr);
    receiver.wait_for(3 * lines, Duration::from_secs(10));
    // The hours ended more than a day ago: settled, their names dropped.
    let state_file = std::fs::read_dir(wd.path().join("state"))
        .unwrap()
        .flatten()
        .find(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.contains(".replay-") && name.ends_with(".json")
        })
        .unwrap();
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state_file.path()).unwrap()).unwrap();
    let prefixes = state["prefixes"].as_object().unwrap();
    assert_eq!(prefixes.len(), 3, "an hour each: {state}");
    assert!(
        prefixes.iter().all(|(k, v)| k.contains("/access/@")
            && v["settled"] == true
            && v.get("done").is_none()),
        "{state}"
    );
    let again = run(&wd);
    again.expect_code(0);
    assert_eq!(calls(&again, "S3.GetObject"), 0, "{}", again.stderr);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.records().len(), 3 * lines, "each line once");
}

/// A replay the deadline cuts says so once, as what it is (not "Object not read" for every
/// object in flight, nor `failed=`), exits 4 with the resume command, and the command resumes.
#[test]
fn a_replay_cut_by_the_deadline_says_so_once_and_fails_nothing() {
    let r = replay_setup();
    let end = Utc::now().duration_trunc(Span::hours(1)).unwrap() - Span::hours(30);
    let start = end - Span::hours(6);
    let ids = r.put_spread("d", 24, start, Span::minutes(10));
    // Each object trickles in for about 3 s: a 1 s deadline cuts the eight in flight.
    r.moto.fault(serde_json::json!({"op": "GetObject", "match": r.bucket, "trickle_ms": 300, "piece": 64, "times": 8}));
    let cut = r.wd.run(&[
        "audit",
        "--deadline",
        "1s",
        "--start-time",
        &rfc3339(start),
        "--end-time",
        &rfc3339(end),
    ]);
    cut.expect_code(4)
        .expect_stderr("replay stopped by the run's deadline")
        .expect_stderr(&format!("resume with --start-time {}", rfc3339(start)))
        .expect_stderr(" failed=0 ");
    assert!(!cut.stderr.contains("Object not read"), "{}", cut.stderr);
    let (run, _) = r.replay(start, end);
    run.expect_code(0);
    let counts = counted(&r.receiver.wait_for(ids.len(), Duration::from_secs(10)));
    assert_eq!(counts.keys().cloned().collect::<BTreeSet<_>>(), ids);
}

/// A day with nothing to ship (CloudTrail's digests only) settles like any other: the next run
/// of the replay does not list it again.
#[test]
fn a_day_with_nothing_to_ship_settles() {
    let r = replay_setup();
    let day = Utc::now().duration_trunc(Span::days(1)).unwrap() - Span::days(3);
    let (start, end) = (day, day + Span::days(1));
    let digest = format!(
        "AWSLogs/{a}/CloudTrail-Digest/{g}/{d}/{a}_CloudTrail-Digest_{g}_trail_{g}_{t}.json.gz",
        a = ACCOUNTS[0],
        g = REGIONS[0],
        d = (day + Span::hours(5)).format("%Y/%m/%d"),
        t = (day + Span::hours(5)).format("%Y%m%dT%H%M%SZ"),
    );
    r.moto.put_object(
        "us-east-1",
        &r.bucket,
        &digest,
        crate::support::gzip(b"{\"digestStartTime\":\"x\"}"),
    );
    let (first, _) = r.replay(start, end);
    first.expect_code(0);
    let state = r.state(start, end).unwrap();
    let settled: Vec<&String> = state["prefixes"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, p)| p["settled"] == true)
        .map(|(k, _)| k)
        .collect();
    assert!(
        settled.iter().any(|k| k.contains("CloudTrail-Digest")),
        "{state}"
    );
    let (second, _) = r.replay(start, end);
    second.expect_code(0);
    assert!(
        calls(&second, "S3.ListObjectsV2") < calls(&first, "S3.ListObjectsV2"),
        "the settled day is not listed again: {} then {}",
        calls(&first, "S3.ListObjectsV2"),
        calls(&second, "S3.ListObjectsV2")
    );
}

/// A log archive replayed from its bucket (`s3_buckets: {archive: ...}` under Control Tower's
/// `o-<org>/AWSLogs/`): each object in the window is read as its key's layout says, those
/// outside it are not listed, and the queue is left alone.
#[test]
fn an_archive_replay_reads_each_kind_in_its_window() {
    let (moto, receiver, wd) = setup();
    let (queue, url, bucket) = moto.announcing_bucket("us-east-1", "archreplay", 30);
    let end = Utc::now().duration_trunc(Span::hours(1)).unwrap() - Span::hours(3);
    let start = end - Span::days(1);
    let org = "o-abc123def4/AWSLogs";
    let (account, region) = (ACCOUNTS[0], REGIONS[0]);
    let put_trail = |at: DateTime<Utc>, id: &str| {
        let key = format!(
            "{org}/{}",
            trail_key(account, region, at, 1).trim_start_matches("AWSLogs/")
        );
        let record = trail_record(id, "GetObject", "s3.amazonaws.com", account, region);
        moto.put_object("us-east-1", &bucket, &key, trail_file(&[record]));
    };
    put_trail(start + Span::hours(2), "inside");
    put_trail(start - Span::days(2), "before");
    let flow_day = (start + Span::hours(3)).format("%Y/%m/%d");
    let flow_stamp = (start + Span::hours(3)).format("%Y%m%dT%H%MZ");
    moto.put_object(
        "us-east-1",
        &bucket,
        &format!("{org}/{account}/vpcflowlogs/{region}/{flow_day}/{account}_vpcflowlogs_{region}_fl-0a_{flow_stamp}_a1b2.log.gz"),
        crate::support::gzip(b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n2 111122223333 eni-0a 10.0.0.1 10.0.0.2 443 49152 6 10 840 1620000000 1620000060 ACCEPT OK\n"),
    );
    wd.write_config(&config_yaml(
        receiver.port,
        &format!("non-cloudwatch-logs:\n  types: [archive]\n  archive_sqs_queue_name: {queue}\n  regions: [us-east-1]\n  max_receive_count: 5\n  s3_buckets:\n    archive: s3://{bucket}/{org}/\n"),
    ));
    let run = wd.run(&[
        "s3logs",
        "archive",
        "--start-time",
        &rfc3339(start),
        "--end-time",
        &rfc3339(end),
    ]);
    run.expect_code(0)
        .expect_stderr("events=2")
        .expect_stderr("failed=0");
    let records = receiver.wait_for(2, Duration::from_secs(10));
    let mut tags: Vec<&str> = records.iter().map(|r| r.tag.as_str()).collect();
    tags.sort_unstable();
    assert_eq!(
        tags,
        [
            "cloud.aws.cloudtrail.events.111122223333.us-east-1",
            "cloud.aws.vpc.unknown.111122223333.us-east-1",
        ]
    );
    assert!(
        records
            .iter()
            .any(|r| r.message.contains("\"eventID\":\"inside\""))
    );
    // The queue's notifications are left for the queue's own runs.
    assert_eq!(moto.depth("us-east-1", &url).0, 4);
}
