//! `make bench`: the S3+SQS pipeline measured, with a results table on stdout.
//!
//! 1. decode → tag → frame of 20 gzip CloudTrail objects × 500 records (about 1.2 kB each),
//!    in process, against `gzip -dc` on the same bytes in the same run;
//! 2. the built binary end to end (moto, the TLS receiver) on those 20 objects;
//! 3. the built binary on one CloudTrail object of 1 GiB uncompressed.
//!
//! Wall and CPU seconds and peak RSS of the binary come from GNU time. Run through
//! tests/support/with-moto.sh (the Makefile does), which starts moto.

#[allow(dead_code)]
#[path = "../tests/e2e/support/mod.rs"]
mod support;

use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use devo_aws::cycle::Counters;
use devo_aws::devo::frame::{FrameBatch, Framing};
use devo_aws::formats::s3_notification::ObjectRef;
use devo_aws::sources::TagRule;
use devo_aws::sources::objects::{BatchSink, ObjectFormat, ObjectReader, ObjectSettings};

use support::aws::{Moto, unique_name};
use support::devo::{Pki, Receiver};
use support::samples::{trail_file, trail_record};
use support::{Workdir, config_yaml};

const OBJECTS: usize = 20;
const RECORDS: usize = 500;
const BIG_BYTES: usize = 1 << 30;

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
        events = decode_in_process(&objects);
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

    if std::env::var_os("DEVO_AWS_TEST_ENDPOINT").is_none() {
        println!("\n(end-to-end cases skipped: run through `make bench`, which starts moto)");
        return;
    }
    // 2. End to end, 20 objects.
    let run = end_to_end(&objects, OBJECTS * RECORDS);
    run.row("devo-aws audit, 20 objects × 500 records", raw_bytes);

    // 3. End to end, one object of 1 GiB uncompressed.
    let (big, big_records, big_raw) = big_object();
    let run = end_to_end(&[big], big_records);
    run.row("devo-aws audit, one 1 GiB object", big_raw);
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn best_of(n: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..n).map(|_| f()).min().unwrap_or_default()
}

fn trail_object(o: usize, records: usize) -> Vec<u8> {
    let records: Vec<String> = (0..records)
        .map(|r| {
            trail_record(
                &format!("bench-{o:03}-{r:05}"),
                "GetObject",
                "s3.amazonaws.com",
                "111122223333",
                "us-east-1",
            )
        })
        .collect();
    trail_file(&records)
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
    async fn send(&mut self, batch: FrameBatch) {
        self.events += batch.events();
    }
}

fn decode_in_process(objects: &[Vec<u8>]) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let settings = Arc::new(ObjectSettings {
        format: ObjectFormat::CloudTrail,
        tags: TagRule {
            table: "cloud.aws.cloudtrail.events",
            typed_family: Some("cloud.aws.cloudtrail"),
            from_event: true,
        },
        json: false,
        key_filter: None,
        drop_event_names: HashSet::from(["Decrypt".to_string()]),
        start_time: None,
    });
    let framing = Framing::Syslog {
        host: "bench".into(),
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
                    key: format!(
                        "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/{i}.json.gz"
                    ),
                    size: None,
                    event_time: None,
                    region: None,
                },
            };
            let body = tokio::io::BufReader::new(std::io::Cursor::new(o.clone()));
            if reader.read(body, &framing, &mut sink).await.is_err() {
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
}

impl Measured {
    fn row(&self, case: &str, raw_bytes: usize) {
        println!(
            "| {case} | {:.2} | {:.2} | {} | {:.0} | {:.0} | {:.1} |",
            self.wall,
            self.cpu,
            self.events,
            self.events as f64 / self.wall,
            raw_bytes as f64 / 1e6 / self.wall,
            self.rss_kib as f64 / 1024.0
        );
    }
}

/// Puts the objects in a bucket that notifies a queue, runs `devo-aws audit` under GNU time and
/// checks that every record arrived.
fn end_to_end(objects: &[Vec<u8>], records: usize) -> Measured {
    let pki = Pki::new("bench");
    let receiver = Receiver::start_counting(&pki);
    let wd = Workdir::new();
    wd.write_certs(&pki, &pki);
    let moto = Moto::new();
    let queue = unique_name("bench");
    let url = moto.create_queue("us-east-1", &queue, 120);
    let bucket = unique_name("bench").to_lowercase();
    moto.bucket_notifying("us-east-1", &bucket, &url);
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
    let times = wd.path().join("time.txt");
    let mut time = Command::new("/usr/bin/time");
    time.arg("-f")
        .arg("%e %U %S %M")
        .arg("-o")
        .arg(&times)
        .arg(env!("CARGO_BIN_EXE_devo-aws"));
    let out = wd
        .command(time, &["audit", "--deadline", "10m"])
        .output()
        .expect("GNU time is needed: apt-get install time");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&times).unwrap();
    let f: Vec<f64> = text
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    let events: u64 = receiver
        .connections()
        .iter()
        .filter(|c| c.clean_close)
        .map(|c| c.newlines)
        .sum();
    assert_eq!(events as usize, records, "every record delivered");
    assert_eq!(moto.depth("us-east-1", &url), (0, 0));
    Measured {
        wall: f[0],
        cpu: f[1] + f[2],
        rss_kib: f[3] as u64,
        events,
    }
}
