//! `make bench`: devo-aws measured, with a results table on stdout.
//!
//! 1. decode → tag → frame of 20 gzip CloudTrail objects × 500 records (about 1.2 kB each),
//!    in process, against `gzip -dc` on the same bytes in the same run;
//! 2. the built binary end to end (moto, the TLS receiver) on those 20 objects, and on 200;
//! 3. the built binary on one CloudTrail object of 1 GiB uncompressed;
//! 4. `events` on 5,000 SQS messages;
//! 5. `metrics` on 2,000 metrics × 5 statistics, one window;
//! 6. a cron tick with nothing to do (queues empty, cursors current);
//! 7. `events` (20,000 messages, one queue) and `audit` from S3+SQS (200 objects × 500 records)
//!    against a stand-in for AWS that answers concurrently after 0, 10, 25 or 50 ms
//!    (benches/standin.rs), with up to 16 receives in flight and with one; and both at 25 ms
//!    with 50 ms of round trip to Devo (benches/rtt.rs); and the SDK alone on `events`' path
//!    (ReceiveMessage and DeleteMessageBatch, 16 at once, on a thread of its own: its CPU is the
//!    floor under devo-aws's).
//!
//! 8. decode → tag → frame of each S3 log format (the samples of tests/data/formats repeated to
//!    about 40 MB), in process, against `gzip -dc` on the same bytes;
//!    VPC flow log records as Parquet, read as a flow log and as a Security Lake object, beside
//!    `gzip -dc` on the same records as gzip text;
//! 9. the built binary (`s3logs TYPE`) on one object of each format at 8 MB and at 128 MB: peak
//!    RSS of each (memory flat in object size), Parquet objects too.
//!
//! 10. a replay from the bucket (`audit --start-time --end-time`): 10,000 CloudTrail objects of
//!     two accounts and two regions over ten days, listed and read from the stand-in at 25 ms.
//!
//! 11. side by side with a Python collector written as such collectors are (boto3 and Devo's
//!     devo-sdk Sender, benches/python_collector.py): 100 CloudTrail objects × 500 records through
//!     S3+SQS (moto) into the TLS receiver, one event in seven dropped by eventName; CPU, wall,
//!     peak RSS of each and the ratio, each round's CPU; and devo-aws on an empty queue (what a
//!     run costs before its first message).
//!
//! 12. workers: 1, 2 and 4 `events` processes at once, on one config with S3 state (the
//!     stand-in's conditional PutObject), draining one queue of 40,000 messages at 25 ms.
//!
//! `DEVO_AWS_BENCH=latency make bench` runs cases 7, 10 and 12 alone, `DEVO_AWS_BENCH=replay` case 10,
//! `DEVO_AWS_BENCH=peer` case 11; `DEVO_AWS_BENCH=formats` cases 8 and 9; `DEVO_AWS_BENCH=events`
//! the row of case 7 that issue 41 aims at (`events` at 25 ms, up to 16 receives) and the SDK's
//! beside it;
//! `DEVO_AWS_BENCH=workers` case 12.
//!
//! Wall and CPU seconds and peak RSS of the binary come from GNU time. `DEVO_AWS_BENCH_BIN` measures
//! another build of devo-aws (`cargo build --profile profiling`, which keeps symbols for perf);
//! `DEVO_AWS_BENCH_LOG=FILE` keeps the debug log of each run of it in FILE (the last run's). Run through
//! tests/support/with-moto.sh (the Makefile does), which starts moto.

mod flowparquet;
mod rtt;
mod standin;
#[allow(dead_code)]
#[path = "../tests/e2e/support/mod.rs"]
mod support;

use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use devo_aws::cycle::{Counters, Stop};
use devo_aws::devo::frame::{FrameBatch, Framing};
use devo_aws::formats::objects::{DecoderOptions, Format};
use devo_aws::formats::s3_notification::ObjectRef;
use devo_aws::formats::{
    alb, awsconfig, cloudtrail, elb, firehose, flowlogs, guardduty, networkfirewall, route53,
    s3access, securitylake, waf,
};
use devo_aws::sources::objects::{BatchSink, ObjectReader, ObjectSettings, Stored};

use support::aws::{Moto, unique_name};
use support::devo::{Pki, Receiver};
use support::samples::{self, trail_record};
use support::{Workdir, config_yaml, events_yaml, with_s3_state};

const OBJECTS: usize = 20;
const RECORDS: usize = 500;
const BIG_BYTES: usize = 1 << 30;
const FLOW_LINES: usize = 200_000;
const TRAIL_KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/bench.json.gz";
const FLOW_KEY: &str = "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2024/05/01/bench.log";
const LAKE_KEY: &str =
    "aws/VPC_FLOW/2.0/region=eu-west-1/accountId=111122223333/eventDay=20240501/bench.gz.parquet";

fn main() {
    let objects: Vec<Vec<u8>> = (0..OBJECTS).map(|o| trail_object(o, RECORDS)).collect();
    let raw_bytes: usize = objects.iter().map(|o| gunzip_len(o)).sum();
    println!("| case | wall s | CPU s | events | events/s | MB/s (uncompressed) | peak RSS MiB |");
    println!("|---|---|---|---|---|---|---|");

    // 1. In process, against gzip -dc on the same bytes.
    let gz = best_of(3, || gzip_dc(&objects));
    println!(
        "| gzip -dc, 20 objects | {:.3} | - | - | - | {:.0} | - |",
        gz.as_secs_f64(),
        mb_per_s(raw_bytes, gz)
    );
    let mut events = 0;
    let ours = best_of(3, || {
        let started = Instant::now();
        events = decode_in_process(cloudtrail_settings(), TRAIL_KEY, &objects);
        started.elapsed()
    });
    println!(
        "| decode → tag → frame, 20 objects | {:.3} | - | {events} | {:.0} | {:.0} | - |",
        ours.as_secs_f64(),
        events as f64 / ours.as_secs_f64(),
        mb_per_s(raw_bytes, ours)
    );
    println!(
        "| ratio to gzip -dc | {:.2} | | | | | |",
        gz.as_secs_f64() / ours.as_secs_f64()
    );
    // The same, each file hashed (SHA-256 of its decompressed bytes) as it is for a trail whose
    // digests devo-aws checks: what the check costs.
    let hashed = best_of(3, || {
        let started = Instant::now();
        decode_hashing(cloudtrail_settings(), TRAIL_KEY, &objects, true);
        started.elapsed()
    });
    println!(
        "| decode → tag → frame, 20 objects, hashed for their digest | {:.3} | - | {events} | {:.0} | {:.0} | - |",
        hashed.as_secs_f64(),
        events as f64 / hashed.as_secs_f64(),
        mb_per_s(raw_bytes, hashed)
    );
    if std::env::var("DEVO_AWS_BENCH").as_deref() == Ok("formats") {
        formats_rows();
        parquet_rows();
        if std::env::var_os("DEVO_AWS_TEST_ENDPOINT").is_some() {
            format_memory_rows();
            parquet_memory_rows();
        }
        return;
    }
    let flows = vec![flow_log_v5(FLOW_LINES)];
    for json in [false, true] {
        let mut events = 0;
        let took = best_of(3, || {
            let started = Instant::now();
            events = decode_in_process(flow_settings(json), FLOW_KEY, &flows);
            started.elapsed()
        });
        assert_eq!(events, FLOW_LINES as u64);
        println!(
            "| decode → tag → frame, VPC flow logs v5 ({}), 200,000 lines | {:.3} | - | {events} | {:.0} | {:.0} | - |",
            if json { "format: json" } else { "raw" },
            took.as_secs_f64(),
            events as f64 / took.as_secs_f64(),
            mb_per_s(flows[0].len(), took)
        );
    }

    formats_rows();

    if std::env::var_os("DEVO_AWS_TEST_ENDPOINT").is_none() {
        println!("\n(end-to-end cases skipped: run through `make bench`, which starts moto)");
        return;
    }
    let mut calls = Vec::new();
    if std::env::var("DEVO_AWS_BENCH").as_deref() == Ok("peer") {
        side_by_side();
        return;
    }
    if std::env::var("DEVO_AWS_BENCH").as_deref() == Ok("events") {
        let standin = standin::StandIn::start();
        let latency = std::env::var("DEVO_AWS_BENCH_LATENCY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(25);
        latency_header();
        let run = events_row(&standin, latency);
        sdk_floor_row(&standin, latency);
        println!(
            "\n| case | AWS calls by operation |\n|---|---|\n| events at the stand-in | {} |",
            run.calls
        );
        return;
    }
    if std::env::var("DEVO_AWS_BENCH").as_deref() == Ok("workers") {
        workers_standin(&standin::StandIn::start());
        return;
    }
    if std::env::var("DEVO_AWS_BENCH").as_deref() == Ok("replay") {
        replay_standin(&standin::StandIn::start(), &mut calls);
        println!("\n| case | AWS calls by operation |\n|---|---|");
        for (case, c) in calls {
            println!("| {case} | {c} |");
        }
        return;
    }
    if std::env::var("DEVO_AWS_BENCH").as_deref() != Ok("latency") {
        against_moto(&objects, raw_bytes, &mut calls);
        format_memory_rows();
        side_by_side();
    }
    at_aws_latency(&mut calls);
    workers_standin(&standin::StandIn::start());
    println!("\n| case | AWS calls by operation |\n|---|---|");
    for (case, c) in calls {
        println!("| {case} | {c} |");
    }
}

/// Each S3 log format of the bench: its name, decoder, sample in tests/data/formats, a key of
/// its layout, and its `types` value.
const FORMAT_CASES: [(&str, &Format, &str, &str, &str); 10] = [
    (
        "ALB access logs",
        &alb::FORMAT,
        "alb.log",
        "AWSLogs/1/elasticloadbalancing/us-east-2/x.log.gz",
        "alblogs",
    ),
    (
        "Classic LB access logs",
        &elb::FORMAT,
        "clb.log",
        "AWSLogs/1/elasticloadbalancing/eu-west-1/x.log.gz",
        "elblogs",
    ),
    (
        "NLB access logs",
        &elb::FORMAT,
        "nlb.log",
        "AWSLogs/1/elasticloadbalancing/us-east-2/x.log.gz",
        "elblogs",
    ),
    (
        "S3 server access logs",
        &s3access::FORMAT,
        "s3access.log",
        "s3-access/2019-02-06-00-00-38-X",
        "s3accesslogs",
    ),
    (
        "WAF logs",
        &waf::FORMAT,
        "waf.log",
        "AWSLogs/1/WAFLogs/ap-southeast-2/x.log.gz",
        "waflogs",
    ),
    (
        "Route 53 Resolver query logs",
        &route53::FORMAT,
        "route53.log",
        "AWSLogs/1/vpcdnsquerylogs/v/x.log.gz",
        "route53logs",
    ),
    (
        "GuardDuty findings",
        &guardduty::FORMAT,
        "guardduty.jsonl",
        "AWSLogs/1/GuardDuty/us-east-2/x.jsonl.gz",
        "guarddutyfindings",
    ),
    (
        "Network Firewall logs",
        &networkfirewall::FORMAT,
        "networkfirewall.log",
        "AWSLogs/1/network-firewall/alert/us-east-1/x.log.gz",
        "networkfirewalllogs",
    ),
    (
        "AWS Config snapshot",
        &awsconfig::FORMAT,
        "awsconfig-snapshot.json",
        "AWSLogs/1/Config/us-east-2/x.json.gz",
        "configlogs",
    ),
    (
        "CloudWatch Logs through Firehose",
        &firehose::FORMAT,
        "cwl-envelopes.json",
        "cwl/2024/05/01/10/logs-1-2024-05-01-10-15-42-0f8e2a4c-9b1d-4e3f-8a7b-6c5d4e3f2a1b.gz",
        "cloudwatchlogs",
    ),
];

/// Case 8: each S3 log format's decoder on its sample repeated to about [`FORMAT_BYTES`],
/// beside `gzip -dc` on the same gzip bytes.
fn formats_rows() {
    const FORMAT_BYTES: usize = 40 << 20;
    println!(
        "\n| format (sample repeated to about 40 MB) | events | decode → tag → frame MB/s | gzip -dc MB/s | ratio |\n|---|---|---|---|---|"
    );
    // `DEVO_AWS_BENCH_FORMAT=Firehose`: the formats whose name holds that text alone (to profile one).
    let only = std::env::var("DEVO_AWS_BENCH_FORMAT").unwrap_or_default();
    for (name, format, file, key, _) in FORMAT_CASES.iter().filter(|c| c.0.contains(&only)) {
        let raw = repeated_sample(file, FORMAT_BYTES);
        let gz = support::gzip(&raw);
        let objects = [gz];
        let gz_time = best_of(3, || gzip_dc(&objects));
        let (events, ours) = decode_best_of_3(format, key, &objects);
        println!(
            "| {name} | {events} | {:.0} | {:.0} | {:.2} |",
            mb_per_s(raw.len(), ours),
            mb_per_s(raw.len(), gz_time),
            gz_time.as_secs_f64() / ours.as_secs_f64()
        );
    }
}

/// Case 8, Parquet: VPC flow log records as Parquet (about 40 MB), read by the flow-log kind
/// (rows as text lines) and the Security Lake kind (rows as JSON), beside `gzip -dc` on the same
/// records as a gzip text flow log.
fn parquet_rows() {
    let (parquet, rows, text) = flowparquet::flow_object(40 << 20, true);
    let gz = [support::gzip(&text)];
    let gz_time = best_of(3, || gzip_dc(&gz));
    println!(
        "\n| Parquet ({:.1} MB, {rows} rows; the same records as text: {:.1} MB) | rows/s | Parquet MB/s | text-equivalent MB/s | gzip -dc MB/s (same records, gzip text) | ratio |\n|---|---|---|---|---|---|",
        parquet.len() as f64 / 1e6,
        text.len() as f64 / 1e6
    );
    let objects = [parquet];
    for (name, format, key) in [
        (
            "VPC flow logs (rows as their text lines)",
            &flowlogs::FORMAT,
            FLOW_KEY,
        ),
        (
            "Security Lake kind (rows as JSON)",
            &securitylake::FORMAT,
            LAKE_KEY,
        ),
    ] {
        let (events, ours) = decode_best_of_3(format, key, &objects);
        assert_eq!(events, rows, "{name}: every row");
        println!(
            "| {name} | {:.0} | {:.1} | {:.0} | {:.0} | {:.2} |",
            rows as f64 / ours.as_secs_f64(),
            mb_per_s(objects[0].len(), ours),
            mb_per_s(text.len(), ours),
            mb_per_s(text.len(), gz_time),
            gz_time.as_secs_f64() / ours.as_secs_f64()
        );
    }
}

/// Case 9, Parquet: the built binary on one Parquet object of about 8 MB, then 128 MB, through
/// moto and the receiver, as a flow log and as a Security Lake object: peak RSS of each run.
fn parquet_memory_rows() {
    println!(
        "\n| Parquet object through s3logs | rows (8 MB) | peak RSS MiB (8 MB) | rows (128 MB) | peak RSS MiB (128 MB) | growth MiB |\n|---|---|---|---|---|---|"
    );
    let objects: Vec<(Vec<u8>, u64)> = [8usize << 20, 128 << 20]
        .iter()
        .map(|&bytes| {
            let (parquet, rows, _) = flowparquet::flow_object(bytes, false);
            (parquet, rows)
        })
        .collect();
    for (kind, queue_key, key) in [
        ("flowlogs", "vpcflowlogs", FLOW_KEY),
        ("securitylake", "securitylake", LAKE_KEY),
    ] {
        let runs: Vec<Measured> = objects
            .iter()
            .map(|(parquet, rows)| {
                let run = one_object(kind, queue_key, key, parquet.clone());
                assert_eq!(run.events, *rows, "{kind}: every row delivered");
                run
            })
            .collect();
        memory_row(kind, &runs);
    }
}

/// The built binary (`s3logs KIND`) on one object at `key`, announced on a queue (its config
/// key `<queue_key>_sqs_queue_name`), through moto and the receiver.
fn one_object(kind: &str, queue_key: &str, key: &str, body: Vec<u8>) -> Measured {
    let (_pki, receiver, wd) = bench_dir();
    let moto = Moto::new();
    let (queue, _url, bucket) = moto.announcing_bucket("us-east-1", "bench-mem", 300);
    moto.put_object("us-east-1", &bucket, key, body);
    wd.write_config(&config_yaml(
        receiver.port,
        &format!("non-cloudwatch-logs:\n  types: [{kind}]\n  {queue_key}_sqs_queue_name: {queue}\n  regions: [us-east-1]\n"),
    ));
    timed(&wd, &["s3logs", kind, "--deadline", "10m"], &receiver)
}

/// A row of the memory tables: events and peak RSS of the 8 MB run, then the 128 MB one.
fn memory_row(name: &str, runs: &[Measured]) {
    println!(
        "| {name} | {} | {:.1} | {} | {:.1} | {:.1} |",
        runs[0].events,
        runs[0].rss_kib as f64 / 1024.0,
        runs[1].events,
        runs[1].rss_kib as f64 / 1024.0,
        (runs[1].rss_kib as f64 - runs[0].rss_kib as f64) / 1024.0
    );
}

/// `format`'s decoder on `objects` in process, best of 3: events and time.
fn decode_best_of_3(format: &'static Format, key: &str, objects: &[Vec<u8>]) -> (u64, Duration) {
    let mut events = 0;
    let took = best_of(3, || {
        let started = Instant::now();
        events = decode_in_process(
            ObjectSettings::plain(format, DecoderOptions::default()),
            key,
            objects,
        );
        started.elapsed()
    });
    (events, took)
}

/// Case 9: memory flat in object size, per format: the built binary (`s3logs TYPE`) on one
/// object of the sample repeated to about 8 MB, then to 128 MB, through moto and the receiver:
/// peak RSS of each run.
fn format_memory_rows() {
    println!(
        "\n| format, one object through s3logs | events (8 MB) | peak RSS MiB (8 MB) | events (128 MB) | peak RSS MiB (128 MB) | growth MiB |\n|---|---|---|---|---|---|"
    );
    let only = std::env::var("DEVO_AWS_BENCH_FORMAT").unwrap_or_default();
    for (name, format, file, key, kind) in FORMAT_CASES.iter().filter(|c| c.0.contains(&only)) {
        let runs: Vec<Measured> = [8usize << 20, 128 << 20]
            .iter()
            .map(|&bytes| {
                let gz = support::gzip(&repeated_sample(file, bytes));
                let expected = decode_in_process(
                    ObjectSettings::plain(format, DecoderOptions::default()),
                    key,
                    std::slice::from_ref(&gz),
                );
                let run = one_object(kind, kind, key, gz);
                assert_eq!(run.events, expected, "{name}: every event delivered");
                run
            })
            .collect();
        memory_row(name, &runs);
    }
}

/// A sample of tests/data/formats repeated to about `bytes`: its lines over and over, or for
/// the AWS Config snapshot its items in one `configurationItems` array.
fn repeated_sample(file: &str, bytes: usize) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/formats")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    if file.starts_with("cwl-") {
        // Subscription envelopes, compact and back to back, as Firehose writes them.
        let envelopes: Vec<String> = serde_json::Deserializer::from_str(&text)
            .into_iter::<serde_json::Value>()
            .map(|v| v.unwrap().to_string())
            .collect();
        let mut out = String::with_capacity(bytes + text.len());
        while out.len() < bytes {
            for e in &envelopes {
                out.push_str(e);
            }
        }
        return out.into_bytes();
    }
    if file.ends_with(".json") {
        let doc: std::collections::HashMap<String, Box<serde_json::value::RawValue>> =
            serde_json::from_str(&text).unwrap();
        let items: Vec<Box<serde_json::value::RawValue>> =
            serde_json::from_str(doc["configurationItems"].get()).unwrap();
        // AWS writes its files compact; the sample is pretty-printed for reading.
        let one: Vec<String> = items
            .iter()
            .map(|i| devo_aws::formats::json::compact(i.get()).into_owned())
            .collect();
        let mut out = String::from("{\"fileVersion\":\"1.0\",\"configurationItems\":[");
        let mut first = true;
        while out.len() < bytes {
            for item in &one {
                if !std::mem::take(&mut first) {
                    out.push(',');
                }
                out.push_str(item);
            }
        }
        out.push_str("]}");
        return out.into_bytes();
    }
    let mut out = String::with_capacity(bytes + text.len());
    let text = if text.ends_with('\n') {
        text
    } else {
        text + "\n"
    };
    while out.len() < bytes {
        out.push_str(&text);
    }
    out.into_bytes()
}

/// The end-to-end cases against moto (cases 2 to 6).
fn against_moto(objects: &[Vec<u8>], raw_bytes: usize, calls: &mut Vec<(&'static str, String)>) {
    // 2. End to end, 20 objects, then 200.
    let run = end_to_end(objects, OBJECTS * RECORDS);
    run.row("devo-aws audit, 20 objects × 500 records", raw_bytes);
    calls.push(("audit, 20 objects", run.calls.clone()));
    let many: Vec<Vec<u8>> = (0..200).map(|o| trail_object(o, RECORDS)).collect();
    let many_raw: usize = many.iter().map(|o| gunzip_len(o)).sum();
    let run = end_to_end(&many, 200 * RECORDS);
    run.row("devo-aws audit, 200 objects × 500 records", many_raw);
    calls.push(("audit, 200 objects", run.calls.clone()));

    // 3. End to end, one object of 1 GiB uncompressed.
    let (big, big_records, big_raw) = big_object();
    let run = end_to_end(&[big], big_records);
    run.row("devo-aws audit, one 1 GiB object", big_raw);
    calls.push(("audit, 1 GiB object", run.calls.clone()));

    // 4. events, 5,000 messages.
    let run = events_5000();
    run.row("devo-aws events, 5,000 SQS messages", 0);
    calls.push(("events, 5,000 messages", run.calls.clone()));

    // 5. metrics, 2,000 metrics × 5 statistics.
    let run = metrics_2000();
    run.row("devo-aws metrics, 2,000 metrics × 5 statistics", 0);
    calls.push(("metrics, 2,000 × 5", run.calls.clone()));

    // 6. Nothing to do.
    let run = idle_tick();
    run.row("devo-aws all, nothing to do (cron tick)", 0);
    calls.push(("idle tick", run.calls.clone()));
}

/// Case 7: at AWS's latency, against the stand-in, which answers concurrently after a delay.
fn at_aws_latency(calls: &mut Vec<(&'static str, String)>) {
    let standin = standin::StandIn::start();
    latency_header();
    for latency in [0, 10, 25, 50] {
        let run = events_row(&standin, latency);
        calls.push(("events at the stand-in", run.calls.clone()));
    }
    sdk_floor_row(&standin, 25);
    let one = events_standin(&standin, 25, Some(1), 0);
    one.latency_row("events, 20,000 messages, one queue", 25, "1", 20_000);
    let one = audit_standin(&standin, 25, Some(1), 0);
    one.latency_row("audit S3+SQS, 200 objects × 500 records", 25, "1", 100_000);
    let many = audit_standin(&standin, 25, None, 0);
    many.latency_row(
        "audit S3+SQS, 200 objects × 500 records",
        25,
        "up to 16",
        100_000,
    );
    println!(
        "| audit at 25 ms: up to 16 receives against 1 | | | {:.1} × | | | | | |",
        one.wall / many.wall
    );
    calls.push(("audit at the stand-in", many.calls.clone()));
    let far = events_standin(&standin, 25, None, DEVO_RTT_MS);
    far.latency_row(
        "events, 20,000 messages, one queue, Devo 50 ms away",
        25,
        "up to 16",
        20_000,
    );
    let far = audit_standin(&standin, 25, None, DEVO_RTT_MS);
    far.latency_row(
        "audit S3+SQS, 200 objects × 500 records, Devo 50 ms away",
        25,
        "up to 16",
        100_000,
    );
    replay_standin(&standin, calls);
}

/// The head of the table of runs at AWS's latency.
fn latency_header() {
    println!(
        "\n| at AWS latency (stand-in) | latency ms | receives in flight | wall s | CPU s | messages or events | per s | CPU µs / event | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|"
    );
}

/// Case 11: devo-aws and the Python peer on the same data, the same emulator and the same kind of
/// receiver, one after the other in one run.
fn side_by_side() {
    const SBS_OBJECTS: usize = 100;
    let moto = Moto::new();
    let object = |o: usize| {
        let records: Vec<String> = (0..RECORDS)
            .map(|r| {
                let name = if r % 7 == 3 { "Decrypt" } else { "GetObject" };
                trail_record(
                    &format!("sbs-{o:03}-{r:05}"),
                    name,
                    "s3.amazonaws.com",
                    "111122223333",
                    "us-east-1",
                )
            })
            .collect();
        samples::trail_file(&records)
    };
    let expected = (SBS_OBJECTS * (0..RECORDS).filter(|r| r % 7 != 3).count()) as u64;
    let fill = |prefix: &str| {
        let (queue, url, bucket) = moto.announcing_bucket("us-east-1", prefix, 300);
        for o in 0..SBS_OBJECTS {
            let key = format!(
                "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T10{:02}Z_{o:03}.json.gz",
                o % 60
            );
            moto.put_object("us-east-1", &bucket, &key, object(o));
        }
        (queue, url)
    };

    let (pki, receiver, wd) = bench_dir();
    let peer_receiver = Receiver::start_counting(&pki);
    let ours = || -> Measured {
        let (queue, url) = fill("sbs-rust");
        wd.write_config(&config_yaml(
            receiver.port,
            &format!("audit-events-all:\n  types: [audits_s3]\n  audit_sqs_queue_name: {queue}\n  regions: [us-east-1]\n  auto_event_type: true\n  drop_event_names: [Decrypt]\n"),
        ));
        let m = timed(&wd, &["audit", "--force", "--deadline", "10m"], &receiver);
        assert_eq!(m.events, expected, "devo-aws: every event once");
        assert_eq!(moto.depth("us-east-1", &url), (0, 0));
        m
    };
    let python = || -> Measured {
        let (queue, url) = fill("sbs-python");
        let times = wd.path().join("time-python.txt");
        let certs = wd.path().join("certs");
        let cert = |name: &str| certs.join(name).to_string_lossy().into_owned();
        let mut time = under_gnu_time(
            &times,
            concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python"),
        );
        time.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/python_collector.py"
        ));
        let port = peer_receiver.port.to_string();
        let before = lines_read(&peer_receiver, 0);
        let out = wd
            .command(
                time,
                &[
                    &queue,
                    "us-east-1",
                    "127.0.0.1",
                    &port,
                    &cert("client.key"),
                    &cert("client.crt"),
                    &cert("chain.crt"),
                    "Decrypt",
                ],
            )
            .output()
            .expect("GNU time");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // devo-sdk closes with a TCP shutdown, not a TLS close_notify: every line read counts.
        let events = lines_read(&peer_receiver, before + expected) - before;
        assert_eq!(events, expected, "the Python peer: every event once");
        assert_eq!(moto.depth("us-east-1", &url), (0, 0));
        Measured::timed(&times, events)
    };
    // Rounds taken in turn, so that the machine's drift touches both alike; the least CPU of each.
    let rounds: usize = std::env::var("DEVO_AWS_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let mut best: Option<(Measured, Measured)> = None;
    let mut ratios = Vec::new();
    for _ in 0..rounds.max(1) {
        let (o, p) = (ours(), python());
        ratios.push(format!("{:.1} ({:.2}/{:.2})", p.cpu / o.cpu, p.cpu, o.cpu));
        best = Some(match best {
            None => (o, p),
            Some((bo, bp)) => (
                if o.cpu < bo.cpu { o } else { bo },
                if p.cpu < bp.cpu { p } else { bp },
            ),
        });
    }
    let Some((ours, py)) = best else { return };
    // What a run costs before its first message: the same job on an empty queue.
    let idle = {
        let (queue, _, _) = moto.announcing_bucket("us-east-1", "sbs-idle", 300);
        wd.write_config(&config_yaml(
            receiver.port,
            &format!("audit-events-all:\n  types: [audits_s3]\n  audit_sqs_queue_name: {queue}\n  regions: [us-east-1]\n"),
        ));
        timed(&wd, &["audit", "--force", "--deadline", "10m"], &receiver)
    };
    println!(
        "\n| side by side: 100 CloudTrail objects × 500 records, S3+SQS (moto), least CPU of {rounds} rounds | CPU user+sys s | wall s | events | peak RSS MiB |\n|---|---|---|---|---|"
    );
    for (who, m) in [
        ("devo-aws", &ours),
        ("Python: boto3 + devo-sdk Sender", &py),
    ] {
        println!(
            "| {who} | {:.2} | {:.2} | {} | {:.1} |",
            m.cpu,
            m.wall,
            m.events,
            m.rss_kib as f64 / 1024.0
        );
    }
    println!(
        "| ratio (Python / devo-aws) | {:.1} × (rounds: {}) | {:.1} × | | {:.1} × |",
        py.cpu / ours.cpu,
        ratios.join(", "),
        py.wall / ours.wall,
        py.rss_kib as f64 / ours.rss_kib as f64
    );
    println!(
        "| devo-aws on an empty queue (its fixed cost a run) | {:.3} | {:.2} | 0 | {:.1} |",
        idle.cpu,
        idle.wall,
        idle.rss_kib as f64 / 1024.0
    );
}

/// Lines read by `receiver` on any connection, waiting a little for the last to be counted.
fn lines_read(receiver: &Receiver, want: u64) -> u64 {
    let lines = || -> u64 { receiver.connections().iter().map(|c| c.newlines).sum() };
    let started = Instant::now();
    while lines() < want && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    lines()
}

/// Case 10: a replay of 10,000 objects from the stand-in's bucket at 25 ms.
fn replay_standin(standin: &standin::StandIn, calls: &mut Vec<(&'static str, String)>) {
    const DAYS: i64 = 10;
    const PER_DAY: usize = 250;
    const RECORDS_EACH: usize = 10;
    let bucket = unique_name("standin-replay").to_lowercase();
    let start = chrono::DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let mut o = 0;
    let mut inside = 0;
    for account in ["111122223333", "444455556666"] {
        for region in ["us-east-1", "eu-west-1"] {
            // A day before and a day after the window: listed by neither.
            for day in -1..=DAYS {
                for i in 0..PER_DAY {
                    let at = start
                        + chrono::Duration::days(day)
                        + chrono::Duration::minutes(5 * i as i64);
                    let key = format!(
                        "AWSLogs/{account}/CloudTrail/{region}/{}/{account}_CloudTrail_{region}_{}_{o:05}.json.gz",
                        at.format("%Y/%m/%d"),
                        at.format("%Y%m%dT%H%MZ")
                    );
                    let records: Vec<String> = (0..RECORDS_EACH)
                        .map(|r| {
                            let id = format!("replay-{o:05}-{r:02}");
                            trail_record(&id, "GetObject", "s3.amazonaws.com", account, region)
                        })
                        .collect();
                    standin.put_object(&bucket, &key, samples::trail_file(&records));
                    o += 1;
                    if (0..DAYS).contains(&day) {
                        inside += 1;
                    }
                }
            }
        }
    }
    let (_pki, receiver, wd) = bench_dir();
    wd.write_config(&config_yaml(
        receiver.port,
        &format!("audit-events-all:\n  types: [audits_s3]\n  audit_sqs_queue_name: unused\n  regions: [us-east-1]\n  s3_buckets:\n    audits_s3: s3://{bucket}/AWSLogs/\n"),
    ));
    let end = start + chrono::Duration::days(DAYS);
    let extra = vec![("AWS_ENDPOINT_URL".to_string(), standin.endpoint.clone())];
    standin.take_most_gets_at_once();
    standin.set_latency(25);
    let m = timed_with(
        &wd,
        &[
            "audit",
            "--start-time",
            &start.to_rfc3339(),
            "--end-time",
            &end.to_rfc3339(),
            "--deadline",
            "10m",
        ],
        &receiver,
        &extra,
    );
    standin.set_latency(0);
    let at_once = standin.take_most_gets_at_once();
    assert_eq!(
        m.events as usize,
        inside * RECORDS_EACH,
        "every record of the window: {}\n{}",
        m.calls,
        m.summary
    );
    let lists = m
        .calls
        .split_whitespace()
        .find_map(|w| w.strip_prefix("S3.ListObjectsV2="))
        .unwrap_or("0")
        .to_string();
    println!(
        "\n| replay from the bucket (stand-in at 25 ms) | objects | events | wall s | CPU s | objects/s | events/s | GetObject at once | ListObjectsV2 | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    println!(
        "| audit --start-time, 10 days × 2 accounts × 2 regions | {inside} | {} | {:.2} | {:.2} | {:.0} | {:.0} | {at_once} | {lists} | {:.1} |",
        m.events,
        m.wall,
        m.cpu,
        inside as f64 / m.wall,
        m.events as f64 / m.wall,
        m.rss_kib as f64 / 1024.0
    );
    assert!(at_once >= 8, "at least 8 objects read at once: {at_once}");
    assert!(m.rss_kib <= 64 << 10, "peak RSS {} KiB", m.rss_kib);
    calls.push(("replay at the stand-in", m.calls.clone()));
}

/// The round trip to Devo of the far rows.
const DEVO_RTT_MS: u64 = 50;

/// The port to give devo-aws for `receiver`: its own, or a relay `rtt_ms` away.
fn devo_port(receiver: &Receiver, rtt_ms: u64) -> u16 {
    if rtt_ms == 0 {
        receiver.port
    } else {
        rtt::start(receiver.port, Duration::from_millis(rtt_ms))
    }
}

/// `events` on 20,000 messages in one queue of the stand-in, answering after `latency_ms`, with
/// Devo `devo_rtt_ms` away.
fn events_standin(
    standin: &standin::StandIn,
    latency_ms: u64,
    receives: Option<usize>,
    devo_rtt_ms: u64,
) -> Measured {
    let queue = eventbridge_queue(standin, "standin-events", "sev", 20_000);
    let measured = timed_at(
        standin,
        (latency_ms, receives, devo_rtt_ms),
        &events_yaml(&queue, &["us-east-1"]),
        "events",
    );
    assert_eq!(measured.events, 20_000, "every event");
    assert_eq!(standin.depth(&queue), (0, 0), "every message deleted");
    assert!(
        !measured.calls.contains("SQS.DeleteMessage="),
        "batch deletes only"
    );
    measured
}

/// A new queue of the stand-in (120 s of visibility) holding `n` EventBridge messages, their ids
/// `<id_prefix>-00000` on: its name.
fn eventbridge_queue(standin: &standin::StandIn, name: &str, id_prefix: &str, n: usize) -> String {
    let queue = unique_name(name);
    standin.create_queue(&queue, 120);
    standin.send(
        &queue,
        (0..n).map(|i| format!(r#"{{"version":"0","id":"{id_prefix}-{i:05}","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"111122223333","time":"2024-05-01T10:00:00Z","region":"us-east-1","resources":[],"detail":{{"instance-id":"i-0abc","state":"running"}}}}"#)),
    );
    queue
}

/// `events` on 20,000 messages from the stand-in at `latency_ms`, up to 16 receives: its row.
fn events_row(standin: &standin::StandIn, latency_ms: u64) -> Measured {
    let run = events_standin(standin, latency_ms, None, 0);
    run.latency_row(
        "events, 20,000 messages, one queue",
        latency_ms,
        "up to 16",
        20_000,
    );
    run
}

/// The SDK alone on `events`' path, as the row beside `events`: ReceiveMessage of 10 and
/// DeleteMessageBatch of what came, 16 at once, on a one-thread runtime with nothing else on it,
/// against the stand-in at `latency_ms`. The CPU of that thread per message is the floor no
/// code of devo-aws can go under with the official SDK.
fn sdk_floor_row(standin: &standin::StandIn, latency_ms: u64) {
    const MESSAGES: usize = 20_000;
    let queue = eventbridge_queue(standin, "standin-floor", "f", MESSAGES);
    standin.set_latency(latency_ms);
    let endpoint = standin.endpoint.clone();
    let (cpu, wall, messages) = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let credentials =
                aws_sdk_sqs::config::Credentials::new("AKIDBENCH", "bench", None, None, "bench");
            let sqs = support::aws::sqs_client(&endpoint, "us-east-1", credentials);
            let url = sqs
                .get_queue_url()
                .queue_name(&queue)
                .send()
                .await
                .unwrap()
                .queue_url
                .unwrap();
            let (cpu, started) = (thread_cpu(), Instant::now());
            let mut slots = futures_util::stream::FuturesUnordered::new();
            for _ in 0..16 {
                slots.push(receive_and_delete(&sqs, &url));
            }
            let mut messages = 0;
            while let Some(got) = futures_util::StreamExt::next(&mut slots).await {
                messages += got;
                if got > 0 {
                    slots.push(receive_and_delete(&sqs, &url));
                }
            }
            (thread_cpu() - cpu, started.elapsed(), messages)
        })
    })
    .join()
    .unwrap();
    standin.set_latency(0);
    assert_eq!(messages, MESSAGES, "every message");
    println!(
        "| the SDK alone (receive + batch delete, one thread), 20,000 messages | {latency_ms} | 16 | {:.2} | {:.2} | {messages} | {:.0} | {:.1} | - |",
        wall.as_secs_f64(),
        cpu,
        messages as f64 / wall.as_secs_f64(),
        cpu * 1e6 / messages as f64,
    );
}

/// One ReceiveMessage of 10 and one DeleteMessageBatch of what it brought: how many came.
async fn receive_and_delete(sqs: &aws_sdk_sqs::Client, url: &str) -> usize {
    use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
    let got = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let entries: Vec<_> = got
        .messages()
        .iter()
        .enumerate()
        .map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(m.receipt_handle().unwrap())
                .build()
                .unwrap()
        })
        .collect();
    let got = entries.len();
    if got > 0 {
        sqs.delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
    }
    got
}

/// The CPU seconds (user + system) the calling thread has used.
fn thread_cpu() -> f64 {
    support::stat_cpu_seconds("/proc/thread-self/stat", 11)
}

/// Case 12: 1, 2 and 4 workers (`events` processes at once on one config with S3 state, as
/// deploy/kubernetes/cronjob-workers.yaml runs them) draining one queue of 40,000 messages from the
/// stand-in at 25 ms: events/s of each, and every event delivered exactly once.
fn workers_standin(standin: &standin::StandIn) {
    const MESSAGES: usize = 40_000;
    println!(
        "\n| workers on one queue (stand-in, 25 ms, S3 state) | wall s | events | events/s | × one worker |\n|---|---|---|---|---|"
    );
    let mut one = 0.0;
    for workers in [1, 2, 4] {
        let queue = eventbridge_queue(standin, "standin-workers", "w", MESSAGES);
        // A receiver that keeps what it gets: each event's id is checked.
        let pki = Pki::new("bench");
        let receiver = Receiver::start(&pki);
        let wd = Workdir::new();
        wd.write_certs(&pki, &pki);
        let state = unique_name("standin-state").to_lowercase();
        wd.write_config(&with_s3_state(
            &config_yaml(receiver.port, &events_yaml(&queue, &["us-east-1"])),
            &state,
        ));
        standin.set_latency(25);
        let started = Instant::now();
        let running: Vec<std::process::Child> = (0..workers)
            .map(|w| {
                wd.command(
                    Command::new(devo_aws_bin()),
                    &["events", "--force", "--deadline", "10m"],
                )
                .env("AWS_ENDPOINT_URL", &standin.endpoint)
                .env("DEVO_AWS_WORKER", w.to_string())
                .stderr(Stdio::null())
                .spawn()
                .expect("devo-aws")
            })
            .collect();
        for mut child in running {
            assert!(child.wait().unwrap().success(), "a worker failed");
        }
        let wall = started.elapsed().as_secs_f64();
        standin.set_latency(0);

        let records = receiver.wait_for(MESSAGES, Duration::from_secs(10));
        let ids: std::collections::HashSet<String> = records
            .iter()
            .filter_map(|r| serde_json::from_str::<serde_json::Value>(&r.message).ok())
            .filter_map(|v| v["id"].as_str().map(String::from))
            .collect();
        assert_eq!(records.len(), MESSAGES, "every event, none twice");
        assert_eq!(ids.len(), MESSAGES, "every event once");
        assert_eq!(standin.depth(&queue), (0, 0), "every message deleted");
        let rate = MESSAGES as f64 / wall;
        if workers == 1 {
            one = rate;
        }
        println!(
            "| {workers} | {wall:.2} | {MESSAGES} | {rate:.0} | {:.2} |",
            rate / one
        );
    }
}

/// `audit` from S3+SQS: 200 objects × 500 records announced on a queue of the stand-in, with Devo
/// `devo_rtt_ms` away.
fn audit_standin(
    standin: &standin::StandIn,
    latency_ms: u64,
    receives: Option<usize>,
    devo_rtt_ms: u64,
) -> Measured {
    let queue = unique_name("standin-trail");
    let bucket = unique_name("standin-bucket").to_lowercase();
    standin.create_queue(&queue, 120);
    let mut notes = Vec::new();
    for o in 0..200 {
        let key = format!(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_{o}.json.gz"
        );
        standin.put_object(&bucket, &key, trail_object(o, RECORDS));
        notes.push(
            serde_json::json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "eventTime": "2024-05-01T10:00:00Z", "awsRegion": "us-east-1", "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}]})
                .to_string(),
        );
    }
    standin.send(&queue, notes);
    let measured = timed_at(
        standin,
        (latency_ms, receives, devo_rtt_ms),
        &format!(
            "audit-events-all:\n  types: [audits_s3]\n  audit_sqs_queue_name: {queue}\n  regions: [us-east-1]\n"
        ),
        "audit",
    );
    assert_eq!(measured.events, 100_000, "every record");
    assert_eq!(standin.depth(&queue), (0, 0));
    measured
}

/// `devo-aws <command>` on `services` against the stand-in (instead of moto), which answers after
/// a latency in ms, with at most that many receives in flight and Devo a round trip in ms away.
fn timed_at(
    standin: &standin::StandIn,
    (latency_ms, receives, devo_rtt_ms): (u64, Option<usize>, u64),
    services: &str,
    command: &str,
) -> Measured {
    let (_pki, receiver, wd) = bench_dir();
    wd.write_config(&config_yaml(devo_port(&receiver, devo_rtt_ms), services));
    let mut extra = vec![("AWS_ENDPOINT_URL".to_string(), standin.endpoint.clone())];
    if let Some(n) = receives {
        extra.push(("DEVO_AWS_RECEIVES_IN_FLIGHT".to_string(), n.to_string()));
    }
    standin.set_latency(latency_ms);
    let measured = timed_with(&wd, &[command, "--deadline", "10m"], &receiver, &extra);
    standin.set_latency(0);
    measured
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn best_of(n: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..n).map(|_| f()).min().unwrap_or_default()
}

fn trail_object(o: usize, records: usize) -> Vec<u8> {
    samples::trail_object((0..records).map(|r| format!("bench-{o:03}-{r:05}")))
}

fn gunzip_len(gz: &[u8]) -> usize {
    let mut d = flate2::read::MultiGzDecoder::new(gz);
    std::io::copy(&mut d, &mut std::io::sink()).unwrap() as usize
}

/// `gzip -dc` over the objects, concatenated (gzip reads the members one after another).
fn gzip_dc(objects: &[Vec<u8>]) -> Duration {
    let file = tempfile::NamedTempFile::new().unwrap();
    for o in objects {
        file.as_file().write_all(o).unwrap();
    }
    let started = Instant::now();
    let status = Command::new("gzip")
        .arg("-dc")
        .arg(file.path())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    started.elapsed()
}

/// Counts what the reader frames, as the shipper would receive it.
#[derive(Default)]
struct Count {
    events: u64,
}

impl BatchSink for Count {
    async fn send(&mut self, batch: FrameBatch, _through: u64) {
        self.events += batch.events();
    }
}

fn cloudtrail_settings() -> ObjectSettings {
    ObjectSettings::plain(
        &cloudtrail::FORMAT,
        DecoderOptions {
            json: false,
            drop_event_names: HashSet::from(["Decrypt".to_string()]),
            ..DecoderOptions::default()
        },
    )
}

fn flow_settings(json: bool) -> ObjectSettings {
    ObjectSettings::plain(
        &flowlogs::FORMAT,
        DecoderOptions {
            json,
            ..DecoderOptions::default()
        },
    )
}

/// A VPC Flow Logs object in the version 5 format (29 fields), `lines` records, plain text.
fn flow_log_v5(lines: usize) -> Vec<u8> {
    let mut body = String::from(
        "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path\n",
    );
    for i in 0..lines {
        body.push_str(&format!(
            "5 vpc-0abc subnet-0abc i-0abc eni-0abc 111122223333 IPv4 10.0.{}.{} 10.0.1.5 443 {} 10.0.0.1 10.0.1.5 6 840 10 1714557600 1714557660 ACCEPT 19 OK eu-west-1 euw1-az1 - - AMAZON - ingress 1\n",
            i / 250 % 250,
            i % 250,
            40000 + i % 20000
        ));
    }
    body.into_bytes()
}

/// Decodes, tags and frames `objects` (all under `key`) in this process; returns the events.
fn decode_in_process(settings: ObjectSettings, key: &str, objects: &[Vec<u8>]) -> u64 {
    decode_hashing(settings, key, objects, false)
}

/// [`decode_in_process`], each object hashed as the pipeline hashes a CloudTrail log file
/// whose trail has digests (`hash`).
fn decode_hashing(settings: ObjectSettings, key: &str, objects: &[Vec<u8>], hash: bool) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let settings = Arc::new(settings);
    let framing = Framing::Syslog {
        host: "bench".into(),
        octet_counting: false,
    };
    let mut sink = Count::default();
    rt.block_on(async {
        for (i, o) in objects.iter().enumerate() {
            let reader = ObjectReader {
                settings: settings.clone(),
                counters: Arc::new(Counters::default()),
                puller_account: "111122223333".into(),
                region: "us-east-1".into(),
                message_id: "bench".into(),
                object: ObjectRef {
                    bucket: "bench".into(),
                    key: key.into(),
                    size: None,
                    event_time: None,
                    region: None,
                },
                stop: Stop::never(),
                skip: 0,
                route: 0,
                hash,
            };
            let body = tokio::io::BufReader::new(std::io::Cursor::new(o.clone()));
            let stored = Stored {
                bytes: Some(o.len() as u64),
                encoding: None,
            };
            if reader
                .read(body, &stored, &framing, &mut sink)
                .await
                .is_err()
            {
                panic!("bench object {i} did not decode");
            }
        }
    });
    sink.events
}

/// One CloudTrail object of at least 1 GiB uncompressed: (gzip bytes, records, raw bytes).
fn big_object() -> (Vec<u8>, usize, usize) {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(b"{\"Records\":[").unwrap();
    let (mut raw, mut n) = (12usize, 0usize);
    while raw < BIG_BYTES {
        let r = trail_record(
            &format!("big-{n:09}"),
            "GetObject",
            "s3.amazonaws.com",
            "111122223333",
            "us-east-1",
        );
        if n > 0 {
            enc.write_all(b",").unwrap();
            raw += 1;
        }
        enc.write_all(r.as_bytes()).unwrap();
        raw += r.len();
        n += 1;
    }
    enc.write_all(b"]}").unwrap();
    (enc.finish().unwrap(), n, raw + 2)
}

struct Measured {
    wall: f64,
    cpu: f64,
    rss_kib: u64,
    events: u64,
    /// The run's "aws calls" summary line.
    calls: String,
    /// The run's summary lines of its services.
    summary: String,
}

impl Measured {
    fn row(&self, case: &str, raw_bytes: usize) {
        let mb = if raw_bytes == 0 {
            "-".to_string()
        } else {
            format!("{:.0}", raw_bytes as f64 / 1e6 / self.wall)
        };
        println!(
            "| {case} | {:.3} | {:.2} | {} | {:.0} | {mb} | {:.1} |",
            self.wall,
            self.cpu,
            self.events,
            self.events as f64 / self.wall,
            self.rss_kib as f64 / 1024.0
        );
    }

    /// A row of the latency table: `count` messages (events) per second of wall time.
    fn latency_row(&self, case: &str, latency_ms: u64, receives: &str, count: u64) {
        println!(
            "| {case} | {latency_ms} | {receives} | {:.2} | {:.2} | {count} | {:.0} | {:.1} | {:.1} |",
            self.wall,
            self.cpu,
            count as f64 / self.wall,
            self.cpu * 1e6 / self.events.max(1) as f64,
            self.rss_kib as f64 / 1024.0
        );
    }
}

/// Puts the objects in a bucket that notifies a queue, runs `devo-aws audit` under GNU time and
/// checks that every record arrived.
fn end_to_end(objects: &[Vec<u8>], records: usize) -> Measured {
    let (_pki, receiver, wd) = bench_dir();
    let moto = Moto::new();
    let (queue, url, bucket) = moto.announcing_bucket("us-east-1", "bench", 120);
    for (i, o) in objects.iter().enumerate() {
        let key = format!(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_{i}.json.gz"
        );
        moto.put_object("us-east-1", &bucket, &key, o.clone());
    }
    wd.write_config(&config_yaml(
        receiver.port,
        &format!("audit-events-all:\n  types: [audits_s3]\n  audit_sqs_queue_name: {queue}\n  regions: [us-east-1]\n  auto_event_type: true\n"),
    ));
    let measured = timed(&wd, &["audit", "--deadline", "10m"], &receiver);
    assert_eq!(measured.events as usize, records, "every record delivered");
    assert_eq!(moto.depth("us-east-1", &url), (0, 0));
    measured
}

/// Runs `devo-aws ARGS` under GNU time: wall, CPU, peak RSS, events received, AWS calls.
fn timed(wd: &Workdir, args: &[&str], receiver: &Receiver) -> Measured {
    timed_with(wd, args, receiver, &[])
}

/// [`timed`] with more environment.
fn timed_with(
    wd: &Workdir,
    args: &[&str],
    receiver: &Receiver,
    env: &[(String, String)],
) -> Measured {
    let times = wd.path().join("time.txt");
    let time = under_gnu_time(&times, &devo_aws_bin());
    let before: u64 = received(receiver);
    let mut command = wd.command(time, args);
    command.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let log = std::env::var_os("DEVO_AWS_BENCH_LOG");
    if log.is_some() {
        command.env("RUST_LOG", "devo_aws=debug");
    }
    let out = command
        .output()
        .expect("GNU time is needed: apt-get install time");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Some(log) = log {
        std::fs::write(log, stderr.as_bytes()).unwrap();
    }
    assert!(out.status.success(), "{stderr}");
    let calls = stderr
        .lines()
        .find_map(|l| l.split_once("calls=").map(|(_, c)| c.to_string()))
        .unwrap_or_default();
    let summary = stderr
        .lines()
        .filter(|l| l.contains(" summary service="))
        .collect::<Vec<_>>()
        .join("\n");
    Measured {
        calls,
        summary,
        ..Measured::timed(&times, received(receiver) - before)
    }
}

/// The binary measured: the bench build, or `DEVO_AWS_BENCH_BIN` (a build with symbols, for perf).
fn devo_aws_bin() -> String {
    std::env::var("DEVO_AWS_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_devo-aws").to_string())
}

/// `program` run under GNU time, which writes its wall, user and system seconds and peak RSS
/// to `times` (read by [`Measured::timed`]).
fn under_gnu_time(times: &std::path::Path, program: &str) -> Command {
    let mut time = Command::new("/usr/bin/time");
    time.arg("-f")
        .arg("%e %U %S %M")
        .arg("-o")
        .arg(times)
        .arg(program);
    time
}

impl Measured {
    /// What GNU time wrote to `times` ([`under_gnu_time`]), for a run that delivered `events`.
    fn timed(times: &std::path::Path, events: u64) -> Self {
        let f: Vec<f64> = std::fs::read_to_string(times)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        Self {
            wall: f[0],
            cpu: f[1] + f[2],
            rss_kib: f[3] as u64,
            events,
            calls: String::new(),
            summary: String::new(),
        }
    }
}

/// Events received over cleanly closed connections (one per line: no record here has a break).
fn received(receiver: &Receiver) -> u64 {
    receiver
        .connections()
        .iter()
        .filter(|c| c.clean_close)
        .map(|c| c.newlines)
        .sum()
}

fn bench_dir() -> (Pki, Receiver, Workdir) {
    let pki = Pki::new("bench");
    let receiver = Receiver::start_counting(&pki);
    let wd = Workdir::new();
    wd.write_certs(&pki, &pki);
    (pki, receiver, wd)
}

fn events_5000() -> Measured {
    let (_pki, receiver, wd) = bench_dir();
    let moto = Moto::new();
    let queue = unique_name("bench-events");
    let bodies: Vec<String> = (0..5000)
        .map(|i| format!(r#"{{"version":"0","id":"ev-{i:05}","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"111122223333","time":"2024-05-01T10:00:00Z","region":"us-east-1","resources":["arn:aws:ec2:us-east-1:111122223333:instance/i-0abc"],"detail":{{"instance-id":"i-0abc","state":"running"}}}}"#))
        .collect();
    let regions: Vec<&str> = moto
        .spread_queues(&queue, &bodies, 120)
        .into_iter()
        .map(|(region, _)| region)
        .collect();
    wd.write_config(&config_yaml(receiver.port, &events_yaml(&queue, &regions)));
    let measured = timed(&wd, &["events", "--deadline", "10m"], &receiver);
    assert_eq!(measured.events, 5000);
    assert!(
        !measured.calls.contains("SQS.DeleteMessage="),
        "batch deletes only"
    );
    measured
}

fn metrics_2000() -> Measured {
    let (_pki, receiver, wd) = bench_dir();
    let moto = Moto::new();
    let namespace = unique_name("Bench/Metrics");
    let at = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 300
        - 2)
        * 300
        + 10;
    let names: Vec<String> = (0..2000).map(|i| format!("m{i:04}")).collect();
    let points: Vec<(&str, &str, i64, f64)> =
        names.iter().map(|n| (n.as_str(), "a", at, 1.0)).collect();
    moto.put_metrics("us-east-1", &namespace, &points, &[]);
    let start = chrono::DateTime::from_timestamp(at - 290, 0)
        .unwrap()
        .to_rfc3339();
    wd.write_config(&config_yaml(
        receiver.port,
        &format!("metrics-all:\n  regions: [us-east-1]\n  namespaces: [\"{namespace}\"]\n  delay_seconds: 0\n  start_time: {start}\n"),
    ));
    let measured = timed(&wd, &["metrics", "--deadline", "10m"], &receiver);
    assert_eq!(measured.events, 2000, "one event per metric");
    measured
}

fn idle_tick() -> Measured {
    let (_pki, receiver, wd) = bench_dir();
    let moto = Moto::new();
    let queue = unique_name("bench-idle");
    moto.create_queue("us-east-1", &queue, 30);
    let group = unique_name("bench-idle");
    moto.log_group("us-east-1", &group, &["s"]);
    wd.write_config(&config_yaml(
        receiver.port,
        &format!("service-events-all:\n  cloudwatch_sqs_queue_name: {queue}\n  regions: [us-east-1]\ncustom_service:\n  types: [logs]\n  log_groups: {group}\n  regions: [us-east-1]\n  delay_seconds: 0\n"),
    ));
    // The first run sets the cursors; the measured one finds nothing new.
    timed(&wd, &["all", "--force"], &receiver);
    timed(&wd, &["all", "--force"], &receiver)
}
