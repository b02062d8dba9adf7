//! S3 object formats as plug-ins. Each format is one file under `formats/` with one [`Format`]
//! row: its name, its Devo table, and a constructor of its [`ObjectDecoder`]. A decoder is fed
//! an object's decompressed bytes chunk by chunk and hands out events (the message as shipped,
//! and the fields its tag needs) as they complete, so memory stays flat in the object's size: it
//! buffers at most one record or line, within the caps of its format.
//!
//! A record the decoder cannot read is reported to the sink with where it was (line or record
//! number) and the rest of the object goes on; an object it cannot read at all (not its format,
//! cut short) is an `Err`, and its message is left to the queue's redrive policy.

use std::collections::HashSet;

use super::FormatError;
use super::defined::Defined;

/// What a decoder knows of one event: its message, and what its tag is made of (each `None`
/// when the record does not say; the key's and the puller's are used then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// The message as shipped.
    pub message: &'a str,
    /// The event type, for `auto_event_type` (`s3` for a CloudTrail record of S3).
    pub event_type: Option<&'a str>,
    pub account: Option<&'a str>,
    pub region: Option<&'a str>,
    /// A table of its own, for a format whose records are of several kinds (CloudWatch Logs
    /// through Firehose, routed by log group); none: the format's.
    pub table: Option<Table>,
}

/// A Devo table a record is routed to, typed (with `auto_event_type`) under its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub typed_family: Option<&'static str>,
}

/// Where a record was in its object, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Line(u64),
    Record(u64),
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Line(n) => write!(f, "line {n}"),
            Self::Record(n) => write!(f, "record {n}"),
        }
    }
}

/// Where a decoder's events go.
pub trait EventSink {
    fn event(&mut self, event: Event<'_>);
    /// A record that cannot be read: reported and counted as failed; the object goes on.
    fn bad_record(&mut self, at: Position, error: &FormatError);
    /// A record left out on purpose (`drop_event_names`).
    fn dropped(&mut self);
    /// Something worth saying once about the object, such as a field name the decoder does
    /// not know (the field is carried all the same).
    fn notice(&mut self, what: &str, detail: &str);
}

/// Turns one object's bytes into events.
pub trait ObjectDecoder: Send {
    /// The next bytes of the object (decompressed).
    fn feed(&mut self, chunk: &[u8], out: &mut dyn EventSink) -> Result<(), FormatError>;
    /// The end of the object: what is left, and whether the object was whole.
    fn finish(&mut self, out: &mut dyn EventSink) -> Result<(), FormatError>;
    /// After `finish`, the events of an object that had to be read whole before any could be
    /// given (Parquet): a bounded number each call, the pipeline shipping between calls; false
    /// once there are no more. Most decoders give theirs as they are fed: none here.
    fn more(&mut self, _out: &mut dyn EventSink) -> Result<bool, FormatError> {
        Ok(false)
    }
}

/// What a service's config asks of its decoder.
#[derive(Debug, Clone, Default)]
pub struct DecoderOptions {
    /// `format: json`: line formats ship each line as a JSON object keyed by its field names.
    pub json: bool,
    /// CloudTrail `eventName`s to drop.
    pub drop_event_names: HashSet<String>,
    /// The object's region (its bucket's), for records that do not say theirs (CloudWatch Logs
    /// through Firehose).
    pub region: Option<String>,
    /// CloudWatch Logs through Firehose: `cloudwatchlogs_routes`.
    pub log_routes: std::sync::Arc<Vec<super::firehose::LogRoute>>,
}

/// One object format: a row of the table services choose from.
pub struct Format {
    /// For messages and the README (`CloudTrail`, `ALB access logs`).
    pub name: &'static str,
    /// The Devo table when events are not typed.
    pub table: &'static str,
    /// With `auto_event_type`, the family the event's type is appended to.
    pub typed_family: Option<&'static str>,
    /// Whether an announced key holds this format's objects (CloudTrail: not its digests).
    pub reads_key: fn(&str) -> bool,
    /// Whether a key, in a log archive holding every kind (`types: [archive]`), is this
    /// format's by AWS's documented layout (`AWSLogs/<account>/vpcflowlogs/...`). The claims of
    /// the formats never overlap; an object may be claimed and still not read (a digest).
    pub claims: fn(&str) -> bool,
    /// A decoder for the object at `key`.
    pub decoder: fn(&DecoderOptions, &str) -> Box<dyn ObjectDecoder>,
}

/// A kind of S3 objects, as it is read: a built-in format, or a kind the config defines.
#[derive(Debug, Clone, Copy)]
pub enum ObjectKind {
    Format(&'static Format),
    Defined(&'static Defined),
}

impl ObjectKind {
    /// The Devo table of its events when they are not typed.
    pub fn table(self) -> &'static str {
        match self {
            Self::Format(f) => f.table,
            Self::Defined(d) => d.table,
        }
    }

    /// With `auto_event_type`, the family the event's type is appended to.
    pub fn typed_family(self) -> Option<&'static str> {
        match self {
            Self::Format(f) => f.typed_family,
            Self::Defined(_) => None,
        }
    }

    /// Whether an announced key holds objects of it.
    pub fn reads_key(self, key: &str) -> bool {
        match self {
            Self::Format(f) => (f.reads_key)(key),
            Self::Defined(d) => d.reads_key(key),
        }
    }

    /// Whether a key of a log archive is of it.
    pub fn claims(self, key: &str) -> bool {
        match self {
            Self::Format(f) => (f.claims)(key),
            Self::Defined(d) => d.claims(key),
        }
    }

    /// A decoder of the object at `key`.
    pub fn decoder(self, options: &DecoderOptions, key: &str) -> Box<dyn ObjectDecoder> {
        match self {
            Self::Format(f) => (f.decoder)(options, key),
            Self::Defined(d) => d.decoder(),
        }
    }

    /// The account and region the key of an object says (for records that do not).
    pub fn key_account_region(self, key: &str) -> (Option<&str>, Option<&str>) {
        match self {
            Self::Format(_) => key_account_region(key),
            Self::Defined(d) => d.key_account_region(key),
        }
    }
}

/// Which of `kinds` reads the object at `key`, by its place: the one kind of a service, or in an
/// archive (`by_key`) the first whose layout claims the key (none: no kind does).
pub fn kind_for(
    kinds: impl IntoIterator<Item = ObjectKind>,
    by_key: bool,
    key: &str,
) -> Option<usize> {
    let mut kinds = kinds.into_iter();
    if by_key {
        kinds.position(|k| k.claims(key))
    } else {
        kinds.next().map(|_| 0)
    }
}

impl std::fmt::Debug for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Every key is read (the default of [`Format::reads_key`]).
pub fn any_key(_: &str) -> bool {
    true
}

/// A value that is there: AWS writes `-` for a field that does not apply.
pub fn present(value: &str) -> Option<&str> {
    (!value.is_empty() && value != "-").then_some(value)
}

/// The service part of a key in AWS's layout `[<prefix>/][o-org/]AWSLogs/[o-org/]<account>/
/// <service>/...` (`CloudTrail`, `vpcflowlogs`, `elasticloadbalancing`): Control Tower's
/// log-archive bucket (`o-org/AWSLogs/...`) and organisation trails (`AWSLogs/o-org/...`)
/// alike.
pub fn aws_logs_service(key: &str) -> Option<&str> {
    let rest = key
        .strip_prefix("AWSLogs/")
        .or_else(|| key.split_once("/AWSLogs/").map(|(_, r)| r))?;
    let mut parts = rest.split('/').peekable();
    if parts.peek().is_some_and(|p| p.starts_with("o-")) {
        parts.next();
    }
    let account = parts.next()?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    parts.next().filter(|s| !s.is_empty())
}

/// Whether `text` is digits and dashes where `shape` has `d` and `-` (`dddd-dd-dd`).
pub fn digits_shaped(text: &str, shape: &str) -> bool {
    text.len() == shape.len()
        && text.bytes().zip(shape.bytes()).all(|(t, s)| match s {
            b'd' => t.is_ascii_digit(),
            other => t == other,
        })
}

/// The file name of a key (after its last `/`).
pub fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// The account and region in a key under `AWSLogs/` (`AWSLogs/[o-org/]ACCOUNT/SERVICE/REGION/`,
/// and `AWSLogs/ACCOUNT/network-firewall/LOG-TYPE/REGION/`).
pub fn key_account_region(key: &str) -> (Option<&str>, Option<&str>) {
    let Some(rest) = key.split_once("AWSLogs/").map(|(_, r)| r) else {
        return partitioned_account_region(key);
    };
    let mut parts = rest.split('/').peekable();
    if parts.peek().is_some_and(|p| p.starts_with("o-")) {
        parts.next();
    }
    let account = parts
        .next()
        .filter(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()));
    let region = parts.take(3).find(|p| is_region(p));
    (account, region)
}

/// The account and region of a key partitioned as S3 server access logs are
/// (`<prefix><account>/<region>/<bucket>/YYYY/MM/DD/...`): a 12-digit segment followed by a
/// region.
fn partitioned_account_region(key: &str) -> (Option<&str>, Option<&str>) {
    let hive = hive_account_region(key);
    if hive.0.is_some() || hive.1.is_some() {
        return hive;
    }
    let parts: Vec<&str> = key.split('/').collect();
    parts
        .windows(2)
        .find(|w| w[0].len() == 12 && w[0].bytes().all(|b| b.is_ascii_digit()) && is_region(w[1]))
        .map_or((None, None), |w| (Some(w[0]), Some(w[1])))
}

/// The account and region of a key partitioned Hive's way: Security Lake's
/// `region=<r>/accountId=<a>/`, VPC Flow Logs' `aws-account-id=<a>/aws-region=<r>/`.
fn hive_account_region(key: &str) -> (Option<&str>, Option<&str>) {
    let value = |names: &[&str]| {
        key.split('/').find_map(|part| {
            let (name, value) = part.split_once('=')?;
            names
                .contains(&name)
                .then_some(value)
                .filter(|v| !v.is_empty())
        })
    };
    (
        value(&["accountId", "aws-account-id"]).filter(|a| a.bytes().all(|b| b.is_ascii_digit())),
        value(&["region", "aws-region"]).filter(|r| is_region(r)),
    )
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`: letters, dashes, ending in a digit after a dash.
pub fn is_region(text: &str) -> bool {
    let mut parts = text.split('-');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && rest.len() >= 2
        && rest
            .last()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty())
        && rest[..rest.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
}

/// What the formats' unit tests share: a sink that keeps everything, and a decoder run.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// One event kept: message, event type, account, region.
    pub type Kept = (String, Option<String>, Option<String>, Option<String>);

    /// What a decoder handed out, for the formats' unit tests.
    #[derive(Debug, Default)]
    pub struct Collected {
        pub events: Vec<Kept>,
        pub bad: Vec<(Position, String)>,
        pub dropped: u64,
        /// The table of each event routed to one of its own.
        pub tables: Vec<Option<&'static str>>,
        pub notices: Vec<String>,
    }

    impl EventSink for Collected {
        fn event(&mut self, e: Event<'_>) {
            self.events.push((
                e.message.to_string(),
                e.event_type.map(String::from),
                e.account.map(String::from),
                e.region.map(String::from),
            ));
            self.tables.push(e.table.map(|t| t.name));
        }
        fn bad_record(&mut self, at: Position, error: &FormatError) {
            self.bad.push((at, error.to_string()));
        }
        fn dropped(&mut self) {
            self.dropped += 1;
        }
        fn notice(&mut self, what: &str, detail: &str) {
            self.notices.push(format!("{what}: {detail}"));
        }
    }

    /// `format`'s decoder over `bytes`, fed `chunk` bytes at a time.
    pub fn decode(
        format: &Format,
        options: &DecoderOptions,
        key: &str,
        bytes: &[u8],
        chunk: usize,
    ) -> Result<Collected, FormatError> {
        let mut d = (format.decoder)(options, key);
        let mut out = Collected::default();
        for c in bytes.chunks(chunk.max(1)) {
            d.feed(c, &mut out)?;
        }
        d.finish(&mut out)?;
        while d.more(&mut out)? {}
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_and_region_from_aws_logs_keys() {
        assert_eq!(
            key_account_region("AWSLogs/111122223333/vpcflowlogs/eu-west-1/2024/05/01/x.log.gz"),
            (Some("111122223333"), Some("eu-west-1"))
        );
        assert_eq!(
            key_account_region(
                "prefix/AWSLogs/o-abc123/111122223333/CloudTrail/us-east-2/2024/x.json.gz"
            ),
            (Some("111122223333"), Some("us-east-2"))
        );
        assert_eq!(
            key_account_region(
                "AWSLogs/111122223333/network-firewall/alert/us-gov-west-1/2024/05/01/10/x.log.gz"
            ),
            (Some("111122223333"), Some("us-gov-west-1"))
        );
        assert_eq!(
            key_account_region("cf/E2ABC.2024-05-01-10.abcd.gz"),
            (None, None)
        );
        assert_eq!(
            key_account_region(
                "logs/111122223333/eu-west-1/my-bucket/2024/05/01/2024-05-01-10-00-00-ABC"
            ),
            (Some("111122223333"), Some("eu-west-1"))
        );
        assert_eq!(
            key_account_region("AWSLogs/111122223333/elasticloadbalancing/-/2024/x.gz"),
            (Some("111122223333"), None)
        );
    }

    #[test]
    fn a_dash_is_no_value() {
        assert_eq!(present("-"), None);
        assert_eq!(present(""), None);
        assert_eq!(present("eu-west-1"), Some("eu-west-1"));
    }
}
