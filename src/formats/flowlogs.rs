//! VPC Flow Logs (and Transit Gateway flow logs) in S3: space-separated values under a header
//! line that names the fields, in the order of the flow log's format (the default `version
//! account-id ...`, or any custom order). Each record is shipped as it stands, or with
//! `format: json` as an object keyed by the header's names (`-`, AWS's "no value", as null).
//!
//! A header is a line of field names only (lower case, digits and dashes, each starting with a
//! letter; a record always holds numbers or addresses). A field name devo-aws does not know
//! keeps the rest of the header working: it is carried under its own name and noted once. A
//! header repeated further down is learnt again, never shipped. A record's account and region
//! come from its `account-id` and `region` fields when they have a value.

use super::lines::{JsonKeys, LineDecoder, LineRule};
use super::objects::{Event, EventSink, Format, any_key, aws_logs_service, present};
use super::parquet::TextOrParquet;

/// VPC Flow Logs from S3 (`flowlogs`).
pub static FORMAT: Format = Format {
    name: "VPC Flow Logs",
    table: "cloud.aws.vpc.unknown",
    typed_family: Some("cloud.aws.vpc"),
    reads_key: any_key,
    claims: |key| aws_logs_service(key) == Some("vpcflowlogs"),
    // VPC Flow Logs written as Parquet give the events their text would.
    decoder: |options, _key| {
        TextOrParquet::boxed(LineDecoder::boxed(Rule {
            header: None,
            json: options.json,
            scratch: String::new(),
        }))
    },
};

/// Every field a VPC or Transit Gateway flow log record may carry, as the VPC user guide lists
/// them (versions 2 to 11; a custom format names any of them, in any order).
pub const FIELDS: &[&str] = &[
    // v2 (the default format)
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
    // v3
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    // v4
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    // v5
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
    // v7: ECS
    "ecs-cluster-arn",
    "ecs-cluster-name",
    "ecs-container-instance-arn",
    "ecs-container-instance-id",
    "ecs-container-id",
    "ecs-second-container-id",
    "ecs-service-name",
    "ecs-task-definition-arn",
    "ecs-task-arn",
    "ecs-task-id",
    // v8
    "reject-reason",
    // v9 to v11
    "resource-id",
    "encryption-status",
    "ecs-service-arn",
    "ecs-task-definition-family",
    "ecs-container-name",
    "ecs-launch-type",
    // Transit Gateway flow logs
    "resource-type",
    "tgw-id",
    "tgw-attachment-id",
    "tgw-src-vpc-account-id",
    "tgw-dst-vpc-account-id",
    "tgw-src-vpc-id",
    "tgw-dst-vpc-id",
    "tgw-src-subnet-id",
    "tgw-dst-subnet-id",
    "tgw-src-eni",
    "tgw-dst-eni",
    "tgw-src-az-id",
    "tgw-dst-az-id",
    "tgw-pair-attachment-id",
    "packets-lost-no-route",
    "packets-lost-blackhole",
    "packets-lost-mtu-exceeded",
    "packets-lost-ttl-expired",
];

/// Whether `line` is a header: every token a field name (`[a-z][a-z0-9-]*`), at least one of
/// them a known one.
fn is_header(line: &str) -> bool {
    let name = |t: &str| {
        t.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    !line.is_empty() && line.split(' ').all(name) && line.split(' ').any(|t| FIELDS.contains(&t))
}

/// The field names of the object, as its last header said.
#[derive(Debug, Default)]
struct Header {
    count: usize,
    json: JsonKeys,
    account: Option<usize>,
    region: Option<usize>,
}

impl Header {
    fn new(line: &str, out: &mut dyn EventSink) -> Self {
        let names: Vec<&str> = line.split(' ').collect();
        for unknown in names.iter().filter(|n| !FIELDS.contains(n)) {
            out.notice(
                "a flow log field devo-aws does not know, carried as is",
                unknown,
            );
        }
        Self {
            count: names.len(),
            json: JsonKeys::new(names.iter().copied()),
            account: names.iter().position(|n| *n == "account-id"),
            region: names.iter().position(|n| *n == "region"),
        }
    }
}

/// The state of one object: its last header.
struct Rule {
    header: Option<Header>,
    json: bool,
    scratch: String,
}

impl LineRule for Rule {
    fn line(&mut self, _number: u64, text: &str, out: &mut dyn EventSink) {
        if is_header(text) {
            self.header = Some(Header::new(text, out));
            return;
        }
        if text.is_empty() {
            return;
        }
        let values: Vec<&str> = text.split(' ').collect();
        let Some(h) = self.header.as_ref().filter(|h| h.count == values.len()) else {
            // Not a record of the header's shape: shipped as it stands, typed `unknown`.
            return out.event(Event {
                message: text,
                event_type: Some("unknown"),
                account: None,
                region: None,
                table: None,
            });
        };
        let field = |at: Option<usize>| at.and_then(|i| values.get(i)).and_then(|v| present(v));
        let message = if self.json {
            self.scratch.clear();
            h.json.to_json(&values, &mut self.scratch);
            self.scratch.as_str()
        } else {
            text
        };
        out.event(Event {
            message,
            event_type: Some("flowlogs"),
            account: field(h.account),
            region: field(h.region),
            table: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::objects::DecoderOptions;
    use super::super::objects::testing::decode;
    use super::*;

    const V2: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

    /// A flow log delivered as Parquet gives the events (messages, types, accounts, regions) its
    /// text gives for the same records, raw and with `format: json`, whatever the chunking
    /// (tests/data/formats/vpcflow.parquet and vpcflow-parquet.log hold the same four records).
    #[test]
    fn parquet_gives_what_its_text_gives() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/formats");
        let parquet = std::fs::read(dir.join("vpcflow.parquet")).unwrap();
        let text = std::fs::read(dir.join("vpcflow-parquet.log")).unwrap();
        let key = "AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/01/x.log.parquet";
        for json in [false, true] {
            let options = DecoderOptions {
                json,
                ..DecoderOptions::default()
            };
            let from_text = decode(&FORMAT, &options, key, &text, 4096).unwrap();
            assert_eq!(from_text.events.len(), 4);
            for chunk in [3, 4096] {
                let from_parquet = decode(&FORMAT, &options, key, &parquet, chunk).unwrap();
                assert_eq!(
                    from_parquet.events, from_text.events,
                    "json {json}, by {chunk}"
                );
                assert!(from_parquet.bad.is_empty());
            }
        }
    }

    #[test]
    fn default_format_records_json_and_a_repeated_header() {
        let file = format!(
            "{V2}\n2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1620000000 1620000060 ACCEPT OK\n{V2}\n2 123456789012 eni-1 - - - - - - - 1620000000 1620000060 - NODATA\n"
        );
        for chunk in [1, 7, 4096] {
            let got = decode(
                &FORMAT,
                &DecoderOptions::default(),
                "k",
                file.as_bytes(),
                chunk,
            )
            .unwrap();
            assert_eq!(got.events.len(), 2, "the second header is no record");
            assert_eq!(got.events[0].1.as_deref(), Some("flowlogs"));
            assert_eq!(got.events[0].2.as_deref(), Some("123456789012"));
        }
        let json = DecoderOptions {
            json: true,
            ..DecoderOptions::default()
        };
        let got = decode(&FORMAT, &json, "k", file.as_bytes(), 64).unwrap();
        assert!(
            got.events[1].0.contains(r#""srcaddr":null"#),
            "{}",
            got.events[1].0
        );
    }

    #[test]
    fn an_unknown_field_keeps_the_header_and_a_dash_is_no_region() {
        let file = "version account-id region novel-field srcaddr\n5 111122223333 - x 10.0.0.1\n";
        let got = decode(&FORMAT, &DecoderOptions::default(), "k", file.as_bytes(), 5).unwrap();
        assert_eq!(got.notices.len(), 1, "{:?}", got.notices);
        assert!(got.notices[0].ends_with("novel-field"));
        assert_eq!(
            got.events[0],
            (
                "5 111122223333 - x 10.0.0.1".into(),
                Some("flowlogs".into()),
                Some("111122223333".into()),
                None
            )
        );
    }

    #[test]
    fn a_record_of_another_shape_is_shipped_as_unknown() {
        let file = format!("{V2}\n2 123 short\n");
        let got = decode(
            &FORMAT,
            &DecoderOptions::default(),
            "k",
            file.as_bytes(),
            64,
        )
        .unwrap();
        assert_eq!(got.events[0].1.as_deref(), Some("unknown"));
    }
}
