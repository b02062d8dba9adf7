//! Hostile input: objects shaped to exhaust memory or time, reported and skipped while the rest
//! of the queue goes on, with the process's peak memory measured.

use std::io::Write;

use crate::support::aws::Moto;
use crate::support::devo::sorted_field;
use crate::support::samples::{seed_lookup_events, trail_object};
use crate::support::{audit_s3_yaml, config_yaml, setup};

/// `count` gzip members of `size` bytes of `byte`, back to back (devo-aws reads multi-member
/// gzip): a big inflated size from a small, quickly made object.
fn members(count: usize, size: usize, byte: u8) -> Vec<u8> {
    let one = {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![byte; size]).unwrap();
        enc.finish().unwrap()
    };
    one.repeat(count)
}

fn gzip_text(text: &str) -> Vec<u8> {
    crate::support::gzip(text.as_bytes())
}

fn key(name: &str) -> String {
    format!("AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/{name}.json.gz")
}

/// The issue's planted object (`{"` then 256 MiB of `a`, about 250 KB gzipped), a gzip bomb,
/// an endless record and a record-less flood, beside a good object: each hostile one is
/// reported with its key and the cap it hit, the good one is delivered, and the process stays
/// within 64 MiB.
#[test]
fn planted_objects_are_capped_reported_and_skipped() {
    let (moto, receiver, wd) = setup();
    let (queue, url, bucket) = moto.announcing_bucket("us-east-1", "hostile", 60);
    let put = |moto: &Moto, name: &str, body: Vec<u8>| {
        moto.put_object("us-east-1", &bucket, &key(name), body);
    };
    let mut endless_key = gzip_text("{\"");
    endless_key.extend(members(256, 1 << 20, b'a'));
    put(&moto, "endless-key", endless_key);
    let mut bomb = gzip_text("{\"Records\":[");
    bomb.extend(members(64, 8 << 20, b' '));
    put(&moto, "bomb", bomb);
    let mut endless_record = gzip_text("{\"Records\":[{\"eventID\":\"");
    endless_record.extend(members(4, 1 << 20, b'b'));
    put(&moto, "endless-record", endless_record);
    let good: Vec<String> = (0..50).map(|i| format!("good-{i}")).collect();
    put(&moto, "good", trail_object(good.clone()));
    wd.write_config(&config_yaml(receiver.port, &audit_s3_yaml(&queue, "")));

    let started = std::time::Instant::now();
    let (run, peak_kib) = wd.run_with_peak_rss(&["audit"]);
    let seconds = started.elapsed().as_secs_f64();
    run.expect_code(0);
    eprintln!(
        "hostile objects: {seconds:.1} s, peak RSS {} MiB",
        peak_kib / 1024
    );
    for (name, cap) in [
        ("endless-key", "inflates past"),
        ("bomb", "inflates past"),
        ("endless-record", "larger than 1048576 bytes"),
    ] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(&key(name)) && l.contains(cap)),
            "{name} reported with {cap:?}: {}",
            run.stderr
        );
    }
    let got = sorted_field(&receiver.records(), "eventID");
    let mut want = good;
    want.sort();
    assert_eq!(
        got, want,
        "the good object delivered, nothing of the others"
    );
    assert!(peak_kib < 64 * 1024, "peak RSS {peak_kib} KiB");
    // The hostile messages stay for the redrive policy; the good one and the test event go.
    assert_eq!(moto.depth("us-east-1", &url).1, 3);
}

/// Whoever can send to the queue can name any bucket: with `expected_bucket_owner`, objects of
/// buckets owned by another account are reported and not read (S3 refuses them by
/// ExpectedBucketOwner); and a CloudTrail record filed under another account's path is not
/// shipped.
#[test]
fn objects_from_someone_elses_bucket_or_account_are_not_shipped() {
    let (moto, receiver, wd) = setup();
    let (queue, url, bucket) = moto.announcing_bucket("us-east-1", "owner", 60);
    let path = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01";
    moto.put_object(
        "us-east-1",
        &bucket,
        &format!("{path}/a.json.gz"),
        trail_object((0..3).map(|i| format!("owned-{i}"))),
    );
    // moto's buckets belong to its default account, 123456789012.
    wd.write_config(&config_yaml(
        receiver.port,
        &audit_s3_yaml(
            &queue,
            "  expected_bucket_owner: [\"111122223333\", \"444455556666\"]\n",
        ),
    ));
    let run = wd.run(&["audit"]);
    run.expect_code(0)
        .expect_stderr("owned by none of expected_bucket_owner (111122223333, 444455556666)");
    assert!(receiver.records().is_empty(), "nothing of a foreign bucket");
    assert_eq!(
        moto.depth("us-east-1", &url).1,
        1,
        "left to the redrive policy"
    );

    let forged = crate::support::samples::trail_file(&[
        crate::support::samples::trail_record(
            "forged-1",
            "GetObject",
            "s3.amazonaws.com",
            "999999999999",
            "us-east-1",
        ),
        crate::support::samples::trail_record(
            "real-1",
            "GetObject",
            "s3.amazonaws.com",
            "111122223333",
            "us-east-1",
        ),
    ]);
    moto.put_object("us-east-1", &bucket, &format!("{path}/b.json.gz"), forged);
    wd.write_config(&config_yaml(
        receiver.port,
        &audit_s3_yaml(&queue, "  expected_bucket_owner: 123456789012\n"),
    ));
    let run = wd.run(&["audit", "--force"]);
    run.expect_code(0)
        .expect_stderr("a record of account 999999999999 in the log path of account 111122223333");
    let ids = sorted_field(&receiver.records(), "eventID");
    assert!(!ids.contains(&"forged-1".to_string()), "{ids:?}");
    assert!(ids.contains(&"real-1".to_string()), "{ids:?}");
}

/// `--deadline` is honoured inside long work: within an object read (a chunk of 64 KiB; the
/// object trickles in), and
/// within a slice of a service pulled by time once the grace of its lease is spent (10 s here,
/// and one page). The run delivers what it has, gives the rest back (the message to the queue,
/// the slice to the next run) and exits 4.
#[test]
fn the_deadline_is_honoured_inside_an_object_and_inside_a_slice() {
    let (moto, receiver, wd) = setup();
    let (queue, url, bucket) = moto.announcing_bucket("us-east-1", "deadline", 60);
    moto.put_object(
        "us-east-1",
        &bucket,
        &key("big"),
        trail_object((0..40_000).map(|i| format!("big-{i}"))),
    );
    wd.write_config(&config_yaml(receiver.port, &audit_s3_yaml(&queue, "")));
    // The object's body (380 kB) comes 8 KiB every 200 ms (9 s in all), so the deadline falls
    // inside it however long the run takes to start on a loaded machine (a 300 ms deadline and
    // a quick read once ended before the first receive: exit 0, no object read).
    moto.fault(serde_json::json!({"op": "GetObject", "match": bucket, "trickle_ms": 200}));
    let started = std::time::Instant::now();
    let run = wd.run(&["audit", "--deadline", "3s"]);
    let object_seconds = started.elapsed().as_secs_f64();
    run.expect_code(4)
        .expect_stderr("the run's deadline (or a stop signal) came in the middle of the object");
    assert_eq!(moto.depth("us-east-1", &url), (1, 0), "the message is back");
    assert!(object_seconds < 8.0, "{object_seconds:.1} s");

    // 1,500 CloudTrail events are 30 LookupEvents pages at 2 a second.
    let region = "ap-northeast-2";
    let account = format!("{:012}", u64::from(std::process::id()) + 11);
    seed_lookup_events(&moto, region, "slow", 1500, &account);
    let start = (chrono::Utc::now() - chrono::Duration::minutes(50)).to_rfc3339();
    wd.write_config(&config_yaml(
        receiver.port,
        &format!("audit-events-all:\n  types: [audits_api]\n  regions: [{region}]\n  delay_seconds: 0\n  start_time: {start}\n"),
    ));
    let started = std::time::Instant::now();
    let run = wd.run(&["audit", "--deadline", "1s"]);
    let slice_seconds = started.elapsed().as_secs_f64();
    run.expect_code(4).expect_stderr("in the middle of a slice");
    assert!(
        (11.0..14.0).contains(&slice_seconds),
        "{slice_seconds:.1} s: the 1 s deadline, 10 s of grace and one page"
    );
    assert!(
        !wd.path().join("state/7.audit-events-all.api.json").exists()
            || !std::fs::read_to_string(wd.path().join("state/7.audit-events-all.api.json"))
                .unwrap()
                .contains(region),
        "the cursor did not move"
    );
    eprintln!(
        "deadline: object {object_seconds:.2} s (3 s), slice {slice_seconds:.2} s (1 s + 10 s grace)"
    );
}
