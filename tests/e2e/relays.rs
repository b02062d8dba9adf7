//! Relays that restart, drain or close on their own: a receipt is taken only for what the
//! receiver read. Each scenario ships EventBridge events through SQS and CloudTrail files through
//! S3+SQS, and reports sent / received / duplicates / left in the queue.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use devo_aws::devo::shipper::{BATCH_BYTES, EPOCH_BYTES, MOST_BYTES_UNCONFIRMED, Receipt};

use crate::support::aws::{Moto, unique_name};
use crate::support::devo::{Behaviour, Pki, Receiver, Record, ship_direct};
use crate::support::samples::trail_object;
use crate::support::syslog::{Kind, SyslogServer};
use crate::support::{Workdir, audit_s3_yaml, config_yaml, events_yaml, setup_with};

/// What a scenario sent, and what came of it.
#[derive(Debug, Default)]
pub struct Tally {
    pub sent: usize,
    pub received: usize,
    pub duplicates: usize,
    pub duplicate_bytes: usize,
    pub missing: Vec<String>,
}

impl Tally {
    /// `records` (by the `field` of their JSON message) against the `sent` ids; records of
    /// other ids are not counted.
    pub fn of(sent: &[String], field: &str, records: &[Record]) -> Self {
        let wanted: std::collections::HashSet<&str> = sent.iter().map(String::as_str).collect();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut duplicate_bytes = 0;
        let values: Vec<(String, usize)> = records
            .iter()
            .map(|r| {
                let v: serde_json::Value = serde_json::from_str(&r.message).unwrap();
                (
                    v[field].as_str().unwrap_or_default().to_string(),
                    r.message.len() + r.tag.len(),
                )
            })
            .collect();
        for (id, bytes) in values.iter().filter(|(id, _)| wanted.contains(id.as_str())) {
            let n = seen.entry(id.as_str()).or_default();
            *n += 1;
            if *n > 1 {
                duplicate_bytes += bytes;
            }
        }
        Self {
            sent: sent.len(),
            received: sent
                .iter()
                .filter(|id| seen.contains_key(id.as_str()))
                .count(),
            duplicates: seen.values().map(|n| n - 1).sum(),
            duplicate_bytes,
            missing: sent
                .iter()
                .filter(|id| !seen.contains_key(id.as_str()))
                .take(5)
                .cloned()
                .collect(),
        }
    }

    pub fn assert_all_received(&self, what: &str) {
        assert!(
            self.missing.is_empty() && self.received == self.sent,
            "{what}: {} of {} received, missing e.g. {:?}",
            self.received,
            self.sent,
            self.missing
        );
    }
}

/// EventBridge bodies with unique ids `prefix-N`, each with `pad` bytes of detail: the bodies
/// and their ids.
pub fn events(prefix: &str, n: usize, pad: usize) -> (Vec<String>, Vec<String>) {
    let filler = "x".repeat(pad);
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    let bodies = ids
        .iter()
        .map(|id| {
            format!(
                r#"{{"id":"{id}","source":"aws.ec2","account":"123456789012","region":"us-east-1","detail":{{"pad":"{filler}"}}}}"#
            )
        })
        .collect();
    (bodies, ids)
}

/// CloudTrail objects (gzip, `records` each) put in `bucket`, announced on its queue: the
/// event ids.
pub fn trail_objects(
    moto: &Moto,
    bucket: &str,
    prefix: &str,
    objects: usize,
    records: usize,
) -> Vec<String> {
    let mut all = Vec::new();
    for o in 0..objects {
        let ids: Vec<String> = (0..records).map(|r| format!("{prefix}-{o}-{r}")).collect();
        let key =
            format!("AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/{prefix}-{o}.json.gz");
        moto.put_object("us-east-1", bucket, &key, trail_object(ids.iter().cloned()));
        all.extend(ids);
    }
    all
}

/// A relay that sends close_notify a second after the handshake, having read nothing (a relay
/// draining its connections, a load balancer's idle timeout): its close is no receipt, whether
/// it comes before ours or crosses it. Nothing is deleted, the run exits 4 (Devo's check fails
/// before anything is received), and the next run, against a sound receiver, delivers all.
#[test]
fn a_close_notify_that_does_not_answer_ours_is_no_receipt() {
    let (moto, pki, late, wd) = setup_with(Behaviour::CloseNotifyAfter(Duration::from_secs(1)));

    // The shipper alone: our close_notify goes out long before the relay's, which crosses it.
    let receipt = ship_direct(&wd, late.port, &[("my.app.test.one", "lost?")]);
    assert!(matches!(receipt, Receipt::Failed(_)), "{receipt:?}");

    let queue = unique_name("late");
    let url = moto.create_queue("us-east-1", &queue, 30);
    let (bodies, event_ids) = events("late", 20, 100);
    moto.send("us-east-1", &url, &bodies);
    let (trail_queue, trail_url, bucket) = moto.announcing_bucket("us-east-1", "latetrail", 30);
    let trail_ids = trail_objects(&moto, &bucket, "late", 2, 50);
    let trail_waiting = moto.depth("us-east-1", &trail_url).0;
    let services = format!(
        "{}{}",
        events_yaml(&queue, &["us-east-1"]),
        audit_s3_yaml(&trail_queue, "")
    );
    wd.write_config(&config_yaml(late.port, &services));
    let run = wd.run(&["all"]);
    // The relay's close_notify and its reset come together: one or the other is read first.
    run.expect_code(4).expect_stderr("reset");
    let read: u64 = late.connections().iter().map(|c| c.byte_count).sum();
    assert_eq!(read, 0, "the relay read nothing");
    assert_eq!(moto.depth("us-east-1", &url), (20, 0), "no event deleted");
    assert_eq!(
        moto.depth("us-east-1", &trail_url),
        (trail_waiting, 0),
        "no notification deleted"
    );

    let sound = Receiver::start(&pki);
    wd.write_config(&config_yaml(sound.port, &services));
    wd.run(&["all", "--force"]).expect_code(0);
    let records = sound.records();
    let events_tally = Tally::of(&event_ids, "id", &records);
    let trail_tally = Tally::of(&trail_ids, "eventID", &records);
    events_tally.assert_all_received("events");
    trail_tally.assert_all_received("audit");
    assert_eq!(events_tally.duplicates + trail_tally.duplicates, 0);
    assert_eq!(moto.depth("us-east-1", &url), (0, 0));
    assert_eq!(moto.depth("us-east-1", &trail_url), (0, 0));
    eprintln!(
        "late close_notify: run 1 exit 4, 0 of {} messages deleted, relay read 0 bytes; run 2 exit 0: events {events_tally:?}, audit {trail_tally:?}",
        20 + trail_waiting
    );
}

/// A relay that resets connections at random points (two in three, after up to 300 kB):
/// runs go on until the queues are empty; every event arrives, and the copies stay within the
/// bound of the README (a reset connection's epoch at most, and a failed run's epochs in
/// flight).
#[test]
fn a_relay_that_resets_at_random_points_loses_nothing() {
    let seed: u64 = std::env::var("DEVO_AWS_RELAY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()));
    let (moto, _, relay, wd) = setup_with(Behaviour::ResetAtRandom {
        seed,
        within: 300_000,
        sound: 3,
    });
    let queue = unique_name("resets");
    let url = moto.create_queue("us-east-1", &queue, 30);
    let (bodies, event_ids) = events("reset", 300, 2_000);
    moto.send("us-east-1", &url, &bodies);
    let (trail_queue, trail_url, bucket) = moto.announcing_bucket("us-east-1", "resettrail", 30);
    let trail_ids = trail_objects(&moto, &bucket, "reset", 10, 200);
    wd.write_config(&config_yaml(
        relay.port,
        &format!(
            "{}{}",
            events_yaml(&queue, &["us-east-1"]),
            audit_s3_yaml(&trail_queue, "")
        ),
    ));
    let mut codes = Vec::new();
    for _ in 0..20 {
        let run = wd.run(&["all", "--force"]);
        codes.push(run.code);
        assert!(matches!(run.code, 0 | 4), "exit {}", run.code);
        if moto.depth("us-east-1", &url) == (0, 0) && moto.depth("us-east-1", &trail_url) == (0, 0)
        {
            break;
        }
    }
    let records = relay.every_record();
    let events_tally = Tally::of(&event_ids, "id", &records);
    let trail_tally = Tally::of(&trail_ids, "eventID", &records);
    let connections = relay.connections();
    let resets = connections
        .iter()
        .filter(|c| !c.clean_close && c.byte_count > 0)
        .count();
    let failed_runs = codes.iter().filter(|c| **c == 4).count();
    eprintln!(
        "random resets (seed {seed}): runs {codes:?}, {} connections, {resets} reset with data; events {events_tally:?}, audit {trail_tally:?}",
        connections.len()
    );
    events_tally.assert_all_received("events");
    trail_tally.assert_all_received("audit");
    assert_eq!(moto.depth("us-east-1", &url), (0, 0), "events queue empty");
    assert_eq!(
        moto.depth("us-east-1", &trail_url),
        (0, 0),
        "audit queue empty"
    );
    let bound = resets * (EPOCH_BYTES + BATCH_BYTES) + failed_runs * MOST_BYTES_UNCONFIRMED;
    let copies = events_tally.duplicate_bytes + trail_tally.duplicate_bytes;
    assert!(copies <= bound, "{copies} bytes of copies, bound {bound}");
}

/// A relay stopped while two closes of ours await their answers, as rsyslog is on SIGTERM: it
/// drops what it read of both epochs, ends the first with close_notify and a FIN (an answer, to
/// all appearances) and the second with close_notify and a reset. The first answer comes with
/// the second connection's own close, so it is no receipt: both epochs are replayed on the relay
/// started again, and every record arrives. An answer voided that way is a failed attempt of its
/// epoch (the README's bound (1)): at most one epoch of copies each.
#[test]
fn a_relay_stopped_as_it_answers_loses_nothing() {
    let (moto, _, relay, wd) = setup_with(Behaviour::StopsWhileClosing(Duration::from_millis(500)));
    let (trail_queue, trail_url, bucket) = moto.announcing_bucket("us-east-1", "stoptrail", 30);
    let trail_ids = trail_objects(&moto, &bucket, "stop", 10, 300);
    wd.write_config(&config_yaml(relay.port, &audit_s3_yaml(&trail_queue, "")));
    let run = wd.run(&["all"]);
    run.expect_code(0).expect_stderr("it was stopping");
    let dropped = relay
        .connections()
        .iter()
        .filter(|c| c.byte_count > 0 && !c.clean_close)
        .count();
    assert_eq!(dropped, 2, "the relay stopped with two closes awaiting");
    let tally = Tally::of(&trail_ids, "eventID", &relay.records());
    let voided = run.stderr.matches("it was stopping").count();
    eprintln!("relay stopped as it answered: {voided} answers voided; {tally:?}");
    tally.assert_all_received("audit");
    assert_eq!(moto.depth("us-east-1", &trail_url), (0, 0));
    let bound = voided * (EPOCH_BYTES + BATCH_BYTES);
    assert!(
        tally.duplicate_bytes <= bound,
        "{} bytes of copies, bound {bound}",
        tally.duplicate_bytes
    );
}

/// A number from the environment (the sizes of `make test-relays`), else `small`.
fn size(name: &str, small: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(small)
}

/// rsyslog and syslog-ng, each paused (SIGSTOP) for a second in the middle of a run, then stopped
/// (SIGTERM) and started again on the same port, as an operator restarts a relay; then clean runs
/// until the queues are empty. Every event of the backlog (events through SQS, CloudTrail files
/// through S3+SQS) is in the servers' output files, and the copies stay within the README's
/// bound. `make test-relays` runs it at full size.
#[test]
fn a_syslog_server_restarted_mid_run_loses_nothing() {
    let (objects, records, messages) = (
        size("DEVO_AWS_RELAY_OBJECTS", 10),
        size("DEVO_AWS_RELAY_RECORDS", 300),
        size("DEVO_AWS_RELAY_EVENTS", 100),
    );
    for kind in Kind::ALL {
        let moto = Moto::new();
        let pki = Pki::new("devo");
        let wd = Workdir::new();
        wd.write_certs(&pki, &pki);
        let first = SyslogServer::start(kind, &pki);
        let queue = unique_name("restart");
        let url = moto.create_queue("us-east-1", &queue, 30);
        let (bodies, event_ids) = events("restart", messages, 500);
        moto.send("us-east-1", &url, &bodies);
        let (trail_queue, trail_url, bucket) =
            moto.announcing_bucket("us-east-1", "restarttrail", 30);
        let trail_ids = trail_objects(&moto, &bucket, "restart", objects, records);
        wd.write_config(&first.config_yaml(&format!(
            "{}{}",
            events_yaml(&queue, &["us-east-1"]),
            audit_s3_yaml(&trail_queue, "")
        )));
        let total = event_ids.len() + trail_ids.len();
        let mut run = wd
            .command(Command::new(env!("CARGO_BIN_EXE_devo-aws")), &["all"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Stopped once a fifth of the backlog is in: epochs are being written and closed.
        let started = Instant::now();
        while first.records().len() < total / 5
            && started.elapsed() < Duration::from_secs(60)
            && run.try_wait().unwrap().is_none()
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let stopped_at = started.elapsed();
        first.signal("STOP");
        std::thread::sleep(Duration::from_secs(1));
        let port = first.port;
        let mut received = first.terminate();
        let second = SyslogServer::start_on(kind, &pki, port);
        let out = run.wait_with_output().unwrap();
        let first_code = out.status.code().unwrap_or(-1);
        eprintln!(
            "{kind:?}: run 1 exited {first_code}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut codes = vec![first_code];
        for _ in 0..3 {
            if moto.depth("us-east-1", &url) == (0, 0)
                && moto.depth("us-east-1", &trail_url) == (0, 0)
            {
                break;
            }
            codes.push(wd.run(&["all", "--force"]).code);
        }
        received.extend(second.settled(Duration::from_millis(500)));
        let events_tally = Tally::of(&event_ids, "id", &received);
        let trail_tally = Tally::of(&trail_ids, "eventID", &received);
        eprintln!(
            "{kind:?} stopped {:.2} s into the run: runs {codes:?}; events {events_tally:?}; audit {trail_tally:?}; left: events {:?}, audit {:?}",
            stopped_at.as_secs_f64(),
            moto.depth("us-east-1", &url),
            moto.depth("us-east-1", &trail_url)
        );
        events_tally.assert_all_received(&format!("{kind:?} events"));
        trail_tally.assert_all_received(&format!("{kind:?} audit"));
        assert_eq!(
            moto.depth("us-east-1", &url),
            (0, 0),
            "{kind:?} events left"
        );
        assert_eq!(
            moto.depth("us-east-1", &trail_url),
            (0, 0),
            "{kind:?} audit left"
        );
        // Each epoch in flight at the stop may be replayed (3 attempts) and, when the run gave
        // up, shipped again by the next.
        let copies = events_tally.duplicate_bytes + trail_tally.duplicate_bytes;
        assert!(
            copies <= 4 * MOST_BYTES_UNCONFIRMED,
            "{kind:?}: {copies} bytes of copies"
        );
    }
}
