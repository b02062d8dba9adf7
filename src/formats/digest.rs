//! CloudTrail digest files (log file integrity validation): each hour CloudTrail writes, per
//! account and region of a trail, a digest naming every log file it delivered in that hour with
//! the SHA-256 of the file's uncompressed bytes, signed (SHA256withRSA, the signature in the
//! object's `x-amz-meta-signature`) with a key of the region whose public half CloudTrail's
//! ListPublicKeys gives, and chained to the digest before it by that digest's signature.
//!
//! What is pure lives here: the digest's shape, the string CloudTrail signs, the signature's
//! check, the hash of a log file, the trail a key belongs to, and the verdict event.

use aws_lc_rs::digest::{Context, SHA256};
use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use chrono::{DateTime, DurationRound, Utc};
use serde::{Deserialize, Serialize};

use super::FormatError;
use super::objects::{ObjectKind, file_name};

/// The Devo table of the verdicts: one event per digest checked, and one per file found after
/// a digest had called it missing.
pub const TABLE: &str = "cloud.aws.cloudtrail.integrity";
/// A digest's uncompressed size at most (an hour of a busy region names a few thousand files,
/// about 300 bytes each).
pub const MAX_DIGEST_BYTES: u64 = 32 << 20;
/// How long after a file's delivery a digest that does not name it may come and still name it
/// in its place: digests cover an hour of deliveries and come within minutes of its end.
pub const DIGEST_LATENESS: chrono::Duration = chrono::Duration::hours(1);

/// Whether objects of `kind` are CloudTrail log files, whose digests can be checked.
pub fn is_trail(kind: ObjectKind) -> bool {
    matches!(kind, ObjectKind::Format(f) if std::ptr::eq(f, &super::cloudtrail::FORMAT))
}

/// Whether `key` names a CloudTrail digest file.
pub fn is_digest_key(key: &str) -> bool {
    super::objects::aws_logs_service(key) == Some("CloudTrail-Digest") && key.ends_with(".json.gz")
}

/// The prefix under which the trail of `key` (a log file's or a digest's) delivers its log files
/// for one account and region, as an object name: `s3://bucket/[prefix/]AWSLogs/[o-id/]ACCOUNT/CloudTrail/REGION/`.
/// A digest and the files it names share it.
pub fn log_prefix(bucket: &str, key: &str) -> Option<String> {
    let (before, rest) = match key.strip_prefix("AWSLogs/") {
        Some(rest) => ("", rest),
        None => {
            let at = key.find("/AWSLogs/")?;
            (&key[..=at], &key[at + "/AWSLogs/".len()..])
        }
    };
    let mut parts = rest.splitn(5, '/');
    let mut first = parts.next()?;
    let org = if first.starts_with("o-") {
        let org = first;
        first = parts.next()?;
        Some(org)
    } else {
        None
    };
    let service = parts.next()?;
    let region = parts.next()?;
    if !matches!(service, "CloudTrail" | "CloudTrail-Digest") || region.is_empty() {
        return None;
    }
    let org = org.map(|o| format!("{o}/")).unwrap_or_default();
    Some(format!(
        "s3://{bucket}/{before}AWSLogs/{org}{first}/CloudTrail/{region}/"
    ))
}

/// The SHA-256 of a log file's uncompressed bytes, as they are read.
pub struct FileHash(Context);

impl Default for FileHash {
    fn default() -> Self {
        Self(Context::new(&SHA256))
    }
}

impl FileHash {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The hash, as digests write it (lower-case hex).
    pub fn finish(self) -> String {
        hex(self.0.finish().as_ref())
    }
}

/// The SHA-256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut hash = FileHash::default();
    hash.update(bytes);
    hash.finish()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| char::from(c).to_digit(16);
    let bytes = text.trim().as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks(2)
        .map(|pair| u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok())
        .collect()
}

/// A digest file, as CloudTrail writes it (the fields devo-aws reads).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Digest {
    pub aws_account_id: String,
    pub digest_start_time: String,
    pub digest_end_time: String,
    pub digest_s3_bucket: String,
    pub digest_s3_object: String,
    pub digest_public_key_fingerprint: String,
    pub digest_signature_algorithm: String,
    #[serde(default)]
    pub previous_digest_s3_bucket: Option<String>,
    #[serde(default)]
    pub previous_digest_s3_object: Option<String>,
    #[serde(default)]
    pub previous_digest_hash_value: Option<String>,
    #[serde(default)]
    pub previous_digest_signature: Option<String>,
    #[serde(default)]
    pub log_files: Vec<ListedFile>,
}

/// One log file a digest names.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedFile {
    pub s3_bucket: String,
    pub s3_object: String,
    pub hash_value: String,
}

impl ListedFile {
    pub fn name(&self) -> String {
        format!("s3://{}/{}", self.s3_bucket, self.s3_object)
    }
}

/// Why a digest's signature does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the object has no x-amz-meta-signature")]
    Unsigned,
    #[error("signed with {0}, not SHA256withRSA")]
    Algorithm(String),
    #[error("the signature is not hex")]
    NotHex,
    #[error("the signature does not verify with the public key of fingerprint {0}")]
    Invalid(String),
}

impl Digest {
    /// The digest in `inflated` (its uncompressed bytes).
    pub fn parse(inflated: &[u8]) -> Result<Self, FormatError> {
        serde_json::from_slice(inflated).map_err(|e| FormatError::NotJson(e.to_string()))
    }

    pub fn start(&self) -> Option<DateTime<Utc>> {
        parse_time(&self.digest_start_time)
    }

    pub fn end(&self) -> Option<DateTime<Utc>> {
        parse_time(&self.digest_end_time)
    }

    /// `s3://bucket/key` of the digest, as it says it was written.
    pub fn name(&self) -> String {
        format!("s3://{}/{}", self.digest_s3_bucket, self.digest_s3_object)
    }

    /// `s3://bucket/key` of the digest before it in the chain (none: the first of a chain).
    pub fn previous(&self) -> Option<(String, String)> {
        Some((
            self.previous_digest_s3_bucket.clone()?,
            self.previous_digest_s3_object.clone()?,
        ))
    }

    /// The text CloudTrail signs: the digest's end time as written, its S3 path, the SHA-256 of
    /// its uncompressed bytes, and the previous digest's signature (`null` for the first).
    pub fn string_to_sign(&self, inflated: &[u8]) -> String {
        format!(
            "{}\n{}/{}\n{}\n{}",
            self.digest_end_time,
            self.digest_s3_bucket,
            self.digest_s3_object,
            sha256_hex(inflated),
            self.previous_digest_signature.as_deref().unwrap_or("null")
        )
    }

    /// Checks the signature (`x-amz-meta-signature`, hex) of the digest whose uncompressed bytes
    /// are `inflated` with `public_key` (DER, PKCS #1, as ListPublicKeys gives it).
    pub fn verify(
        &self,
        inflated: &[u8],
        signature: Option<&str>,
        public_key: &[u8],
    ) -> Result<(), SignatureError> {
        let signature = signature.ok_or(SignatureError::Unsigned)?;
        if self.digest_signature_algorithm != "SHA256withRSA" {
            return Err(SignatureError::Algorithm(
                self.digest_signature_algorithm.clone(),
            ));
        }
        let signature = unhex(signature).ok_or(SignatureError::NotHex)?;
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key)
            .verify(self.string_to_sign(inflated).as_bytes(), &signature)
            .map_err(|_| SignatureError::Invalid(self.digest_public_key_fingerprint.clone()))
    }

    /// Each listed file against what was shipped of it (`shipped`, by name: its hash, or none
    /// when it was shipped without being hashed).
    pub fn compare<'a>(&self, shipped: impl Fn(&str) -> Option<Option<&'a str>>) -> Comparison {
        let mut seen = Comparison::default();
        for file in &self.log_files {
            let name = file.name();
            match shipped(&name) {
                Some(Some(hash)) if hash.eq_ignore_ascii_case(&file.hash_value) => {
                    seen.same.push(name);
                }
                Some(Some(_)) => seen.altered.push(name),
                Some(None) => seen.unhashed.push(name),
                None => seen
                    .missing
                    .push((name, file.hash_value.to_ascii_lowercase())),
            }
        }
        seen
    }

    /// The trail's name, from the digest's key
    /// (`ACCOUNT_CloudTrail-Digest_REGION_TRAIL_HOMEREGION_STAMP.json.gz`).
    pub fn trail(&self) -> Option<&str> {
        let name = file_name(&self.digest_s3_object).strip_suffix(".json.gz")?;
        let name = name.strip_suffix("_backfill").unwrap_or(name);
        let rest = name.split_once("_CloudTrail-Digest_")?.1;
        let rest = rest.split_once('_')?.1; // the region
        let rest = rest.rsplit_once('_')?.0; // the stamp
        Some(rest.rsplit_once('_')?.0) // the home region
    }
}

/// A digest's time (`2015-08-17T15:01:31Z`).
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What a digest's list says of what was shipped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Shipped with the hash the digest names.
    pub same: Vec<String>,
    /// Shipped before devo-aws had seen a digest of the trail (so not hashed).
    pub unhashed: Vec<String>,
    /// Shipped with another hash.
    pub altered: Vec<String>,
    /// Never shipped: the name, and the hash the digest names.
    pub missing: Vec<(String, String)>,
}

/// The verdict on one digest: the event shipped to [`TABLE`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    /// `whole` (every file shipped as listed), `incomplete` (files missing or shipped that no
    /// digest names), `altered` (a file shipped with another hash), `unverified` (the digest's
    /// signature or chain does not hold: its list is not trusted or not linked).
    pub verdict: &'static str,
    pub digest: String,
    pub account: String,
    pub region: String,
    pub trail: Option<String>,
    pub digest_start_time: String,
    pub digest_end_time: String,
    /// `valid`, or why not.
    pub signature: String,
    /// `linked` (to the digest before it), `first` (the first of a chain), or why not.
    pub chain: String,
    pub listed: usize,
    pub same: usize,
    /// Shipped before devo-aws had seen a digest of this trail, account and region: their
    /// bytes were not hashed (files are hashed from the first digest of a trail on).
    pub unhashed: usize,
    pub altered: usize,
    pub missing: usize,
    pub unlisted: usize,
    pub altered_files: Vec<String>,
    pub missing_files: Vec<String>,
    pub unlisted_files: Vec<String>,
    /// How to fetch the missing files: the replay of the hours they were stamped in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
}

/// `signature` and `chain` of a digest that holds.
pub const VALID: &str = "valid";
pub const LINKED: &str = "linked";
pub const FIRST: &str = "first";

/// Where a digest is, and whose.
pub struct Place {
    /// `s3://bucket/key`.
    pub name: String,
    pub account: String,
    pub region: String,
}

impl Verdict {
    /// The verdict on `digest` at `place`, given its signature and chain (`valid`, `linked` or
    /// `first`, or why not), what its list says of what was shipped and the files no digest
    /// named (the replay that fetches the missing ones is its caller's to say).
    pub fn judge(
        digest: &Digest,
        place: Place,
        (signature, chain): (String, String),
        seen: &Comparison,
        unlisted: &[String],
    ) -> Self {
        let trusted = signature == VALID && (chain == LINKED || chain == FIRST);
        Self {
            verdict: if !trusted {
                "unverified"
            } else if !seen.altered.is_empty() {
                "altered"
            } else if !seen.missing.is_empty() || !unlisted.is_empty() {
                "incomplete"
            } else {
                "whole"
            },
            digest: place.name,
            account: place.account,
            region: place.region,
            trail: digest.trail().map(String::from),
            digest_start_time: digest.digest_start_time.clone(),
            digest_end_time: digest.digest_end_time.clone(),
            signature,
            chain,
            listed: digest.log_files.len(),
            same: seen.same.len(),
            unhashed: seen.unhashed.len(),
            altered: seen.altered.len(),
            missing: seen.missing.len(),
            unlisted: unlisted.len(),
            altered_files: seen.altered.clone(),
            missing_files: seen.missing.iter().map(|(n, _)| n.clone()).collect(),
            unlisted_files: unlisted.to_vec(),
            replay: None,
        }
    }

    /// Whether its list is to be trusted: the signature and the chain hold.
    pub fn is_trusted(&self) -> bool {
        self.verdict != "unverified"
    }

    /// Whether it is a verdict an auditor must look at.
    pub fn is_alarm(&self) -> bool {
        self.verdict != "whole"
    }
}

/// A file a digest had called missing, shipped since: the event shipped to [`TABLE`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Found {
    /// `found` (the hash the digest names) or `altered`.
    pub verdict: &'static str,
    pub file: String,
    pub digest: String,
    pub account: String,
    pub region: String,
}

/// The replay window (an hour, on the files' stamps) that ships the missing files `names`:
/// from the earliest stamp's hour to the hour after the latest.
pub fn replay_window(names: &[String]) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let stamps: Vec<DateTime<Utc>> = names
        .iter()
        .filter_map(|n| super::layout::key_stamp(n))
        .collect();
    let hour = chrono::Duration::hours(1);
    let first = stamps.iter().min()?.duration_trunc(hour).ok()?;
    let last = stamps.iter().max()?.duration_trunc(hour).ok()?;
    Some((first, last + hour))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};

    const KEY: &str = "AWSLogs/o-aa1bb2cc3d/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_my_org-trail_us-east-1_20150817T150131Z.json.gz";

    fn digest(previous: Option<&str>) -> Digest {
        let text = serde_json::json!({
            "awsAccountId": "111122223333",
            "digestStartTime": "2015-08-17T14:01:31Z",
            "digestEndTime": "2015-08-17T15:01:31Z",
            "digestS3Bucket": "trail-bucket",
            "digestS3Object": KEY,
            "digestPublicKeyFingerprint": "31e8b5433410dfb61a9dc45cc65b22ff",
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": "2015-08-17T14:52:27Z",
            "previousDigestS3Bucket": previous.map(|_| "trail-bucket"),
            "previousDigestS3Object": previous.map(|_| "AWSLogs/x.json.gz"),
            "previousDigestHashValue": previous.map(|_| "aa"),
            "previousDigestHashAlgorithm": "SHA-256",
            "previousDigestSignature": previous,
            "logFiles": [
                {"s3Bucket": "trail-bucket", "s3Object": "AWSLogs/o-aa1bb2cc3d/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1445Z_a.json.gz", "hashValue": "AB01", "hashAlgorithm": "SHA-256", "newestEventTime": "x", "oldestEventTime": "y"},
                {"s3Bucket": "trail-bucket", "s3Object": "AWSLogs/o-aa1bb2cc3d/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1450Z_b.json.gz", "hashValue": "cd02", "hashAlgorithm": "SHA-256"},
                {"s3Bucket": "trail-bucket", "s3Object": "AWSLogs/o-aa1bb2cc3d/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1555Z_c.json.gz", "hashValue": "ef03", "hashAlgorithm": "SHA-256"}
            ]
        });
        Digest::parse(text.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn the_string_to_sign_is_cloudtrails() {
        let d = digest(None);
        let text = d.string_to_sign(b"abc");
        assert_eq!(
            text,
            format!(
                "2015-08-17T15:01:31Z\ntrail-bucket/{KEY}\nba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\nnull"
            )
        );
        assert!(digest(Some("0a1b")).string_to_sign(b"").ends_with("\n0a1b"));
        assert_eq!(d.trail(), Some("my_org-trail"));
        assert_eq!(
            d.start().map(|t| t.to_rfc3339()).as_deref(),
            Some("2015-08-17T14:01:31+00:00")
        );
    }

    #[test]
    fn signatures_verify_with_the_right_key_only() {
        let rng = SystemRandom::new();
        let key = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let other = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let d = digest(Some("77"));
        let inflated = b"{\"the\":\"digest\"}";
        let mut signature = vec![0; key.public_modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &rng,
            d.string_to_sign(inflated).as_bytes(),
            &mut signature,
        )
        .unwrap();
        let signature = hex(&signature);
        let public = key.public_key().as_ref();
        assert_eq!(d.verify(inflated, Some(&signature), public), Ok(()));
        assert!(matches!(
            d.verify(b"{\"the\":\"other\"}", Some(&signature), public),
            Err(SignatureError::Invalid(_))
        ));
        assert!(matches!(
            d.verify(inflated, Some(&signature), other.public_key().as_ref()),
            Err(SignatureError::Invalid(_))
        ));
        assert_eq!(
            d.verify(inflated, None, public),
            Err(SignatureError::Unsigned)
        );
        assert_eq!(
            d.verify(inflated, Some("xyz"), public),
            Err(SignatureError::NotHex)
        );
    }

    #[test]
    fn listed_files_are_same_altered_or_missing() {
        let d = digest(None);
        let seen = d.compare(|name| {
            if name.ends_with("_a.json.gz") {
                Some(Some("ab01"))
            } else if name.ends_with("_b.json.gz") {
                Some(Some("ffff"))
            } else {
                None
            }
        });
        assert_eq!(seen.same.len(), 1);
        assert!(seen.altered[0].ends_with("_b.json.gz"));
        assert!(seen.missing[0].0.ends_with("_c.json.gz"));
        assert_eq!(seen.missing[0].1, "ef03");
        let names: Vec<String> = d.log_files.iter().map(ListedFile::name).collect();
        let (from, to) = replay_window(&names).unwrap();
        assert_eq!(
            (from.to_rfc3339(), to.to_rfc3339()),
            (
                "2015-08-17T14:00:00+00:00".into(),
                "2015-08-17T16:00:00+00:00".into()
            )
        );
    }

    #[test]
    fn a_digest_and_its_files_share_their_log_prefix() {
        let prefix = "s3://b/AWSLogs/o-aa1bb2cc3d/111122223333/CloudTrail/us-east-2/";
        assert_eq!(log_prefix("b", KEY).as_deref(), Some(prefix));
        assert_eq!(
            log_prefix(
                "b",
                "AWSLogs/o-aa1bb2cc3d/111122223333/CloudTrail/us-east-2/2015/08/17/f.json.gz"
            )
            .as_deref(),
            Some(prefix)
        );
        assert_eq!(
            log_prefix(
                "b",
                "logs/AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2015/x.json.gz"
            )
            .as_deref(),
            Some("s3://b/logs/AWSLogs/111122223333/CloudTrail/eu-west-1/")
        );
        assert_eq!(
            log_prefix("b", "AWSLogs/111122223333/vpcflowlogs/eu-west-1/x"),
            None
        );
        assert!(is_digest_key(KEY));
        assert!(!is_digest_key(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2015/08/17/f.json.gz"
        ));
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(unhex("0aFf"), Some(vec![10, 255]));
        assert_eq!(unhex("0a1"), None);
    }
}
