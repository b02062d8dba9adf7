//! CloudFront standard logs (access logs, legacy) in S3: W3C extended format, tab-separated,
//! under `#Version:` and `#Fields:` header lines. Each record is shipped as it stands, or with
//! `format: json` as an object keyed by the `#Fields` names. The records carry neither account
//! nor region: the key and the puller give them.

use super::lines::{JsonKeys, LineDecoder, LineRule};
use super::objects::{
    Event, EventSink, Format, any_key, aws_logs_service, digits_shaped, file_name,
};

/// A CloudFront standard log file, by its name: `<distribution id>.<YYYY-MM-DD-HH>.<unique id>`
/// (then `.gz`), outside `AWSLogs/`.
fn is_cloudfront_key(key: &str) -> bool {
    if aws_logs_service(key).is_some() {
        return false;
    }
    let name = file_name(key);
    let name = name.strip_suffix(".gz").unwrap_or(name);
    let mut parts = name.split('.');
    let (Some(distribution), Some(hour), Some(unique), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let id = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    };
    id(distribution) && digits_shaped(hour, "dddd-dd-dd-dd") && !unique.is_empty()
}

/// CloudFront standard logs from S3 (`cloudfront`).
pub static FORMAT: Format = Format {
    name: "CloudFront standard logs",
    table: "cloud.aws.cloudfront.unknown",
    typed_family: Some("cloud.aws.cloudfront"),
    reads_key: any_key,
    claims: is_cloudfront_key,
    decoder: |options, _key| {
        LineDecoder::boxed(Rule {
            fields: None,
            json: options.json,
            scratch: String::new(),
        })
    },
};

/// The state of one object: its `#Fields:` names, once seen.
struct Rule {
    fields: Option<(usize, JsonKeys)>,
    json: bool,
    scratch: String,
}

impl LineRule for Rule {
    fn line(&mut self, _number: u64, text: &str, out: &mut dyn EventSink) {
        if let Some(header) = text.strip_prefix('#') {
            if let Some(names) = header.strip_prefix("Fields:") {
                let names: Vec<&str> = names.split_whitespace().collect();
                self.fields = Some((names.len(), JsonKeys::new(names)));
            }
            return;
        }
        if text.is_empty() {
            return;
        }
        let values: Vec<&str> = text.split('\t').collect();
        let parsed = self.fields.as_ref().filter(|(n, _)| *n == values.len());
        let message = match parsed {
            Some((_, keys)) if self.json => {
                self.scratch.clear();
                keys.to_json(&values, &mut self.scratch);
                self.scratch.as_str()
            }
            _ => text,
        };
        out.event(Event {
            message,
            event_type: Some(if parsed.is_some() {
                "accesslogs"
            } else {
                "unknown"
            }),
            account: None,
            region: None,
            table: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::objects::DecoderOptions;
    use super::super::objects::testing::decode;
    use super::*;

    #[test]
    fn headers_are_learnt_and_records_typed() {
        let file = "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes\n2024-05-01\t10:00:00\tFRA2-C1\t1234\nodd line\n";
        let json = DecoderOptions {
            json: true,
            ..DecoderOptions::default()
        };
        let got = decode(&FORMAT, &json, "k", file.as_bytes(), 3).unwrap();
        assert_eq!(
            got.events[0].0,
            r#"{"date":"2024-05-01","time":"10:00:00","x-edge-location":"FRA2-C1","sc-bytes":"1234"}"#
        );
        assert_eq!(got.events[0].1.as_deref(), Some("accesslogs"));
        assert_eq!(
            got.events[1],
            ("odd line".into(), Some("unknown".into()), None, None)
        );
    }
}
