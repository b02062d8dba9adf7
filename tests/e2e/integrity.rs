//! CloudTrail's digests checked against what was shipped: digests made as CloudTrail makes them
//! (gzip JSON naming each log file with the SHA-256 of its uncompressed bytes, signed
//! SHA256withRSA over CloudTrail's string to sign, the signature in `x-amz-meta-signature`,
//! chained by the previous digest's signature) with a test key pair whose public half the
//! launcher's ListPublicKeys gives; each verdict read back from the receiver.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use sha2::Digest as _;

use crate::support::aws::Moto;
use crate::support::devo::Receiver;
use crate::support::samples::{trail_file, trail_record};
use crate::support::{Run, Workdir, audit_s3_yaml, config_yaml, gzip, setup};

const REGION: &str = "us-east-1";
const INTEGRITY: &str = "cloud.aws.cloudtrail.integrity";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(bytes: &[u8]) -> String {
    hex(&sha2::Sha256::digest(bytes))
}

/// A digest as written: where, its signature and the hash of its uncompressed bytes.
#[derive(Clone)]
struct Written {
    key: String,
    signature: String,
    sha256: String,
}

/// A trail delivering to a bucket that announces every object on the audit queue, its digests
/// signed with a key ListPublicKeys knows.
struct Trail {
    moto: Moto,
    receiver: Receiver,
    wd: Workdir,
    url: String,
    bucket: String,
    account: String,
    /// `AWSLogs/[o-id/]ACCOUNT/`.
    prefix: String,
    key: RsaKeyPair,
    fingerprint: String,
    last: Option<Written>,
}

impl Trail {
    fn new(account: &str, org: Option<&str>) -> Self {
        let (moto, receiver, wd) = setup();
        let (queue, url, bucket) = moto.announcing_bucket(REGION, "trail", 30);
        wd.write_config(&config_yaml(
            receiver.port,
            &audit_s3_yaml(
                &queue,
                &format!("  s3_buckets:\n    audits_s3: s3://{bucket}/AWSLogs/\n"),
            ),
        ));
        let key = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let fingerprint = sha256(key.public_key().as_ref())[..32].to_string();
        moto.add_public_key(REGION, &fingerprint, key.public_key().as_ref());
        let org = org.map(|o| format!("{o}/")).unwrap_or_default();
        Self {
            moto,
            receiver,
            wd,
            url,
            bucket,
            account: account.to_string(),
            prefix: format!("AWSLogs/{org}{account}/"),
            key,
            fingerprint,
            last: None,
        }
    }

    /// Puts log file `n` of 2024-05-01 10:`n` (three records): its key and the SHA-256 of its
    /// uncompressed bytes.
    fn log_file(&self, n: u32) -> (String, String) {
        let account = &self.account;
        let key = format!(
            "{}CloudTrail/{REGION}/2024/05/01/{account}_CloudTrail_{REGION}_20240501T10{n:02}Z_file{n}.json.gz",
            self.prefix
        );
        let records: Vec<String> = (0..3)
            .map(|i| {
                let id = format!("{}-{n}-{i}", self.bucket);
                trail_record(&id, "GetObject", "s3.amazonaws.com", account, REGION)
            })
            .collect();
        let text = format!("{{\"Records\":[{}]}}", records.join(","));
        assert_eq!(gzip(text.as_bytes()), trail_file(&records));
        self.moto
            .put_object(REGION, &self.bucket, &key, gzip(text.as_bytes()));
        (key, sha256(text.as_bytes()))
    }

    /// Writes digest `n` (the hour that ends at 2024-05-01 `10+n`:01:31) naming `files` (key,
    /// hash), chained to the last one written, signed with `key` (the trail's unless given).
    fn digest(&mut self, n: u32, files: &[(String, String)], key: Option<&RsaKeyPair>) -> Written {
        let account = &self.account;
        let hour = 10 + n;
        let name = format!(
            "{}CloudTrail-Digest/{REGION}/2024/05/01/{account}_CloudTrail-Digest_{REGION}_org_trail_{REGION}_20240501T{hour:02}0131Z.json.gz",
            self.prefix
        );
        let previous = self.last.clone();
        let logs: Vec<serde_json::Value> = files
            .iter()
            .map(|(k, h)| serde_json::json!({"s3Bucket": self.bucket, "s3Object": k, "hashValue": h, "hashAlgorithm": "SHA-256", "newestEventTime": "2024-05-01T10:00:00Z", "oldestEventTime": "2024-05-01T10:00:00Z"}))
            .collect();
        let end = format!("2024-05-01T{hour:02}:01:31Z");
        let text = serde_json::json!({
            "awsAccountId": account,
            "digestStartTime": format!("2024-05-01T{:02}:01:31Z", hour - 1),
            "digestEndTime": end,
            "digestS3Bucket": self.bucket,
            "digestS3Object": name,
            "digestPublicKeyFingerprint": self.fingerprint,
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": "2024-05-01T10:00:00Z",
            "oldestEventTime": "2024-05-01T10:00:00Z",
            "previousDigestS3Bucket": previous.as_ref().map(|_| &self.bucket),
            "previousDigestS3Object": previous.as_ref().map(|p| &p.key),
            "previousDigestHashValue": previous.as_ref().map(|p| &p.sha256),
            "previousDigestHashAlgorithm": previous.as_ref().map(|_| "SHA-256"),
            "previousDigestSignature": previous.as_ref().map(|p| &p.signature),
            "logFiles": logs,
        })
        .to_string();
        let to_sign = format!(
            "{end}\n{}/{name}\n{}\n{}",
            self.bucket,
            sha256(text.as_bytes()),
            previous.as_ref().map_or("null", |p| p.signature.as_str())
        );
        let key = key.unwrap_or(&self.key);
        let mut signature = vec![0; key.public_modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            to_sign.as_bytes(),
            &mut signature,
        )
        .unwrap();
        let written = Written {
            key: name.clone(),
            signature: hex(&signature),
            sha256: sha256(text.as_bytes()),
        };
        self.moto.put_with_metadata(
            REGION,
            &self.bucket,
            &name,
            gzip(text.as_bytes()),
            &[
                ("signature", &written.signature),
                ("signature-algorithm", "SHA256withRSA"),
            ],
        );
        self.last = Some(written.clone());
        written
    }

    /// The trail's first digest (naming no file) read by a run: from then on its files are
    /// hashed as they are shipped.
    fn prime(&mut self) -> Written {
        let first = self.digest(0, &[], None);
        self.run(&["audit"]).expect_code(0);
        first
    }

    /// A run of `args`, due whenever it comes.
    fn run(&self, args: &[&str]) -> Run {
        let mut args = args.to_vec();
        args.push("--force");
        self.wd.run(&args)
    }

    /// The verdicts received so far, in order, with their tags.
    fn verdicts(&self) -> Vec<(String, serde_json::Value)> {
        self.receiver
            .records()
            .into_iter()
            .filter(|r| r.tag.starts_with(INTEGRITY))
            .map(|r| (r.tag.clone(), serde_json::from_str(&r.message).unwrap()))
            .collect()
    }

    fn tag(&self) -> String {
        format!("{INTEGRITY}.{}.{REGION}", self.account)
    }

    fn s3_name(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

/// A whole hour: the files shipped by one run, their digest (chained to the first one) by the
/// next: verified, exit 0, and the ledger settled.
#[test]
fn a_whole_hour_is_verified() {
    let mut t = Trail::new("111122223333", None);
    let first = t.prime();
    let files: Vec<(String, String)> = (1..=3).map(|n| t.log_file(n)).collect();
    t.run(&["audit"]).expect_code(0);
    let second = t.digest(1, &files, None);
    let run = t.run(&["audit"]);
    run.expect_code(0);
    let verdicts = t.verdicts();
    assert_eq!(verdicts.len(), 2, "{verdicts:?}");
    let (tag, v) = &verdicts[0];
    assert_eq!(tag, &t.tag());
    assert_eq!(v["digest"], t.s3_name(&first.key));
    assert_eq!(
        (v["verdict"].as_str(), v["chain"].as_str()),
        (Some("whole"), Some("first"))
    );
    let (tag, v) = &verdicts[1];
    assert_eq!(tag, &t.tag());
    let expected = serde_json::json!({
        "verdict": "whole",
        "digest": t.s3_name(&second.key),
        "account": "111122223333",
        "region": REGION,
        "trail": "org_trail",
        "digestStartTime": "2024-05-01T10:01:31Z",
        "digestEndTime": "2024-05-01T11:01:31Z",
        "signature": "valid",
        "chain": "linked",
        "listed": 3, "same": 3, "unhashed": 0, "altered": 0, "missing": 0, "unlisted": 0,
        "alteredFiles": [], "missingFiles": [], "unlistedFiles": [],
    });
    assert_eq!(v, &expected);
    run.expect_stderr("messages=1 objects=1 skipped=0 events=1 ");
    run.expect_stderr(
        "digests=\"checked=1 unverified=0 same=3 unhashed=0 altered=0 missing=0 unlisted=0 found=0\"",
    );
    let ledger =
        std::fs::read_to_string(t.wd.path().join("state/7.audit-events-all.s3.trail.json"))
            .unwrap();
    let ledger: serde_json::Value = serde_json::from_str(&ledger).unwrap();
    assert!(ledger["trail"]["delivered"].is_null(), "settled: {ledger}");
    assert!(
        ledger["trail"]["trails"][format!(
            "s3://{}/AWSLogs/111122223333/CloudTrail/us-east-1/",
            t.bucket
        )]
        .is_string(),
        "the trail's files are hashed from its first digest on: {ledger}"
    );
    assert_eq!(t.moto.depth(REGION, &t.url), (0, 0));
}

/// A file shipped with other bytes than CloudTrail wrote: named, exit 6.
#[test]
fn an_altered_file_is_named() {
    let mut t = Trail::new("222233334444", None);
    t.prime();
    let (a, a_hash) = t.log_file(1);
    let (b, _) = t.log_file(2);
    t.run(&["audit"]).expect_code(0);
    t.digest(
        1,
        &[(a, a_hash), (b.clone(), sha256(b"what CloudTrail wrote"))],
        None,
    );
    let run = t.run(&["audit", "--report", "-", "--metrics-file", "digests.prom"]);
    run.expect_code(6)
        .expect_stderr("status=\"integrity-alarm\"");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let figures = &report["services"][0]["cloudtrail_digests"];
    assert_eq!(
        (
            figures["checked"].as_u64(),
            figures["same"].as_u64(),
            figures["altered"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{report}"
    );
    assert_eq!(report["exit_code"], 6);
    let metrics = std::fs::read_to_string(t.wd.path().join("digests.prom")).unwrap();
    for line in [
        r#"devo_aws_cloudtrail_digest_files_total{service="audit-events-all.s3",verdict="altered"} 1"#,
        r#"devo_aws_cloudtrail_digests_total{service="audit-events-all.s3",verdict="checked"} 1"#,
        r#"devo_aws_service_exit_code{service="audit-events-all.s3"} 6"#,
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    run.expect_stderr("A CloudTrail digest found the trail not whole.");
    let verdicts = t.verdicts();
    let (_, v) = &verdicts[1];
    assert_eq!(v["verdict"], "altered");
    assert_eq!(
        (v["same"].as_u64(), v["altered"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(v["alteredFiles"], serde_json::json!([t.s3_name(&b)]));
}

/// A notification lost: the file is missing from what was shipped, named with the replay that
/// fetches it (exit 6); that replay ships it, and says it was found with the hash the digest
/// named (exit 0).
#[test]
fn a_lost_notification_is_missing_then_found_by_a_replay() {
    let mut t = Trail::new("333344445555", None);
    t.prime();
    let a = t.log_file(1);
    let b = t.log_file(2);
    assert_eq!(t.moto.lose_messages(REGION, &t.url, "file2.json.gz"), 1);
    t.run(&["audit"]).expect_code(0);
    t.digest(1, &[a, b.clone()], None);
    let run = t.run(&["audit"]);
    run.expect_code(6);
    let (_, v) = &t.verdicts()[1];
    assert_eq!(v["verdict"], "incomplete");
    assert_eq!(v["missingFiles"], serde_json::json!([t.s3_name(&b.0)]));
    let replay = "devo-aws audit --start-time 2024-05-01T10:00:00Z --end-time 2024-05-01T11:00:00Z";
    assert_eq!(v["replay"], replay);
    run.expect_stderr(replay);

    let args: Vec<&str> = replay.split(' ').skip(1).collect();
    let run = t.run(&args);
    run.expect_code(0).expect_stderr("found=1");
    let verdicts = t.verdicts();
    let (tag, found) = verdicts.last().unwrap();
    assert_eq!(tag, &t.tag());
    assert_eq!(
        found,
        &serde_json::json!({"verdict": "found", "file": t.s3_name(&b.0), "digest": v["digest"], "account": t.account, "region": REGION})
    );
    let ledger =
        std::fs::read_to_string(t.wd.path().join("state/7.audit-events-all.s3.trail.json"))
            .unwrap();
    assert!(!ledger.contains("file2"), "no longer missing: {ledger}");
}

/// A digest whose chain does not hold (its previous signature is not the previous digest's),
/// and one signed with a key ListPublicKeys does not know: unverified, exit 6.
#[test]
fn a_broken_chain_and_an_unknown_key_are_unverified() {
    let mut t = Trail::new("444455556666", None);
    let file = t.log_file(1);
    t.digest(0, &[], None);
    t.run(&["audit"]).expect_code(0);
    if let Some(last) = t.last.as_mut() {
        last.signature = "00ff".into();
    }
    t.digest(1, std::slice::from_ref(&file), None);
    let run = t.run(&["audit"]);
    run.expect_code(6).expect_stderr("unverified=1");
    let (_, v) = &t.verdicts()[1];
    assert_eq!(v["verdict"], "unverified");
    assert_eq!(v["signature"], "valid");
    assert!(v["chain"].as_str().unwrap().starts_with("broken: "), "{v}");
    assert_eq!(
        v["unhashed"], 1,
        "shipped before the trail's first digest was seen"
    );

    let stranger = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    t.fingerprint = "0123456789abcdef0123456789abcdef".into();
    t.digest(2, &[file], Some(&stranger));
    t.run(&["audit"]).expect_code(6);
    let (_, v) = &t.verdicts()[2];
    assert_eq!(v["verdict"], "unverified");
    assert_eq!(
        v["signature"],
        "signed with an unknown key: ListPublicKeys in us-east-1 has no key of fingerprint 0123456789abcdef0123456789abcdef"
    );
}

/// An organisation trail's layout (`AWSLogs/o-id/ACCOUNT/...`), a member account's files.
#[test]
fn an_organisation_trails_hour_is_verified() {
    let mut t = Trail::new("555566667777", Some("o-exampleorg1"));
    t.prime();
    let files: Vec<(String, String)> = (1..=2).map(|n| t.log_file(n)).collect();
    t.run(&["audit"]).expect_code(0);
    let digest = t.digest(1, &files, None);
    assert!(
        digest
            .key
            .starts_with("AWSLogs/o-exampleorg1/555566667777/CloudTrail-Digest/")
    );
    t.run(&["audit"]).expect_code(0);
    let (tag, v) = &t.verdicts()[1];
    assert_eq!(tag, "cloud.aws.cloudtrail.integrity.555566667777.us-east-1");
    assert_eq!(
        (v["verdict"].as_str(), v["same"].as_u64()),
        (Some("whole"), Some(2))
    );
}

/// `check` says whether the digests can be verified; a run whose role may not call
/// ListPublicKeys stops with exit 3 and says what to grant, the digest left on the queue.
#[test]
fn check_and_a_role_without_list_public_keys() {
    let mut t = Trail::new("666677778888", None);
    let check = t.wd.run(&["check"]);
    check
        .expect_code(0)
        .expect_stdout("CloudTrail digests verifiable: ListPublicKeys gives");
    check.expect_stdout("cloudtrail:ListPublicKeys*");
    // The one ListPublicKeys of this test: around its digest's end, 2024-05-01T19:01:31Z.
    let from = chrono::DateTime::parse_from_rfc3339("2024-04-30T19:01:31Z")
        .unwrap()
        .timestamp();
    t.moto.fault(serde_json::json!({"op": "ListPublicKeys", "status": 400, "code": "AccessDeniedException", "message": "User is not authorized to perform: cloudtrail:ListPublicKeys", "times": 1, "match": from.to_string()}));
    t.digest(9, &[], None);
    let run = t.run(&["audit"]);
    run.expect_code(3)
        .expect_stderr("the role needs cloudtrail:ListPublicKeys to verify CloudTrail digests");
    assert_eq!(
        t.moto.depth(REGION, &t.url),
        (1, 0),
        "the digest's message is back on the queue for the next run"
    );
}
