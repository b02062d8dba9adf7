//! CloudTrail log files (`{"Records":[{...},{...}]}`), streamed by [`RecordsScanner`]: each
//! record is read in one pass for the few fields its fate and its tag need, and shipped as
//! compact JSON. The record bytes are otherwise passed on as AWS wrote them.

use std::borrow::Cow;
use std::collections::HashSet;

use super::FormatError;
use super::json::{MAX_FIELDS, compacted, scan_alone};
use super::objects::{
    DecoderOptions, Event, EventSink, Format, ObjectDecoder, Position, aws_logs_service,
    key_account_region,
};
use super::records::{Record, RecordsScanner};

/// CloudTrail from S3 (`audit`, `types: [audits_s3]`).
pub static FORMAT: Format = Format {
    name: "CloudTrail",
    table: "cloud.aws.cloudtrail.events",
    typed_family: Some("cloud.aws.cloudtrail"),
    reads_key: is_log_key,
    claims: |key| {
        matches!(
            aws_logs_service(key),
            Some("CloudTrail" | "CloudTrail-Digest" | "CloudTrail-Insight")
        )
    },
    decoder: |options, key| Box::new(Decoder::new(options, key)),
};

/// One CloudTrail file's records, as events.
struct Decoder {
    scanner: RecordsScanner,
    rules: Rules,
    records: u64,
}

/// What decides a record's fate.
struct Rules {
    drop_event_names: HashSet<String>,
    /// The account of the log path (`AWSLogs/<account>/CloudTrail/...`), when the key has one.
    path_account: Option<String>,
}

impl Decoder {
    fn new(options: &DecoderOptions, key: &str) -> Self {
        Self {
            scanner: RecordsScanner::new("Records", &RecordFields::NAMES),
            rules: Rules {
                drop_event_names: options.drop_event_names.clone(),
                path_account: key_account_region(key).0.map(String::from),
            },
            records: 0,
        }
    }
}

impl Rules {
    /// One record's fate.
    fn record(
        &self,
        found: Result<Record<'_>, FormatError>,
        at: Position,
        out: &mut dyn EventSink,
    ) {
        let record = match found {
            Ok(r) => r,
            Err(e) => return out.bad_record(at, &e),
        };
        let fields = RecordFields::from(record.fields);
        // A record filed under another account's path (AWSLogs/<account>/CloudTrail/...) than
        // the one it names was not written there by CloudTrail.
        if let (Some(path_account), Some(record_account)) =
            (self.path_account.as_deref(), fields.account.as_deref())
            && path_account != record_account
        {
            return out.bad_record(
                at,
                &FormatError::Shape(format!(
                    "a record of account {record_account} in the log path of account {path_account}"
                )),
            );
        }
        if fields
            .event_name
            .as_deref()
            .is_some_and(|n| self.drop_event_names.contains(n))
        {
            return out.dropped();
        }
        out.event(Event {
            message: &compacted(record.text, record.compact),
            event_type: fields.event_type(),
            account: fields.account.as_deref(),
            region: fields.region.as_deref(),
            table: None,
        });
    }
}

impl ObjectDecoder for Decoder {
    fn feed(&mut self, chunk: &[u8], out: &mut dyn EventSink) -> Result<(), FormatError> {
        let Self {
            scanner,
            rules,
            records,
        } = self;
        scanner.feed(chunk, |found| {
            *records += 1;
            rules.record(found, Position::Record(*records), out);
            Ok(())
        })
    }

    fn finish(&mut self, _out: &mut dyn EventSink) -> Result<(), FormatError> {
        self.scanner.finish()
    }
}

/// The fields of a CloudTrail record that decide its fate and its tag.
#[derive(Debug)]
pub struct RecordFields<'a> {
    pub event_name: Option<Cow<'a, str>>,
    pub event_source: Option<Cow<'a, str>>,
    pub account: Option<Cow<'a, str>>,
    pub region: Option<Cow<'a, str>>,
}

impl<'a> From<[Option<Cow<'a, str>>; MAX_FIELDS]> for RecordFields<'a> {
    /// The fields a scan with [`RecordFields::NAMES`] found, in that order.
    fn from(fields: [Option<Cow<'a, str>>; MAX_FIELDS]) -> Self {
        let [event_name, event_source, account, region] = fields;
        Self {
            event_name,
            event_source,
            account,
            region,
        }
    }
}

impl<'a> RecordFields<'a> {
    /// The names of the fields, as a record spells them.
    pub const NAMES: [&'static str; MAX_FIELDS] = [
        "eventName",
        "eventSource",
        "recipientAccountId",
        "awsRegion",
    ];

    /// Reads a record's raw JSON (one record, nothing after it) for its tag fields; with them,
    /// whether the record is compact (for [`compacted`]).
    pub fn parse(record: &'a str) -> Result<(Self, bool), FormatError> {
        scan_alone(record, &Self::NAMES)
            .map(|s| (Self::from(s.fields), s.compact))
            .map_err(|why| FormatError::NotJson(format!("CloudTrail record: {why}")))
    }

    /// The event type for `auto_event_type`: the first label of `eventSource`
    /// (`s3.amazonaws.com` → `s3`).
    pub fn event_type(&self) -> Option<&str> {
        self.event_source
            .as_deref()
            .map(|s| s.split('.').next().unwrap_or(s))
    }
}

/// Whether an object key names a CloudTrail log file (digests and other files are skipped).
pub fn is_log_key(key: &str) -> bool {
    !key.contains("CloudTrail-Digest") && (key.ends_with(".json.gz") || key.ends_with(".json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_fields() {
        let (f, _) = RecordFields::parse(
            r#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject","recipientAccountId":"1","awsRegion":"eu-west-1"}"#,
        )
        .unwrap();
        assert_eq!(f.event_type(), Some("s3"));
        assert_eq!(f.event_name.as_deref(), Some("GetObject"));
    }

    #[test]
    fn digest_and_other_keys_are_not_logs() {
        assert!(is_log_key(
            "AWSLogs/1/CloudTrail/us-east-1/2024/05/01/1_CloudTrail_us-east-1_x.json.gz"
        ));
        assert!(!is_log_key(
            "AWSLogs/1/CloudTrail-Digest/us-east-1/2024/05/01/1_CloudTrail-Digest_x.json.gz"
        ));
        assert!(!is_log_key(
            "AWSLogs/1/CloudTrail/us-east-1/2024/05/01/readme.txt"
        ));
    }
}
