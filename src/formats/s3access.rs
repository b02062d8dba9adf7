//! Amazon S3 server access logs (plain text, not gzipped): space-separated fields, the time in
//! brackets and some fields quoted, in the order of the S3 user guide. Each line is shipped as
//! it stands, or with `format: json` as an object keyed by the guide's names. The records name
//! no account (the bucket owner is a canonical user id): it comes from an access point's ARN
//! when the request used one, else from the key when the logs are partitioned by date
//! (`<prefix><account>/<region>/<bucket>/YYYY/MM/DD/...`), else from the puller.

use super::lines::{FixedFields, QuotedLines};
use super::objects::{Format, any_key, aws_logs_service, digits_shaped, file_name};

/// An S3 server access log file, by its name: `[prefix]YYYY-mm-DD-HH-MM-SS-<16 upper-case
/// letters and digits>`, outside `AWSLogs/`.
fn is_access_log_key(key: &str) -> bool {
    let name = file_name(key);
    if aws_logs_service(key).is_some() || name.len() < 36 || !name.is_ascii() {
        return false;
    }
    let (stamp, unique) = name[name.len() - 36..].split_at(19);
    digits_shaped(stamp, "dddd-dd-dd-dd-dd-dd")
        && unique.len() == 17
        && unique.starts_with('-')
        && unique[1..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// S3 server access logs (`s3accesslogs`).
pub static FORMAT: Format = Format {
    name: "S3 server access logs",
    table: "web.aws.s3.access",
    typed_family: None,
    reads_key: any_key,
    claims: is_access_log_key,
    decoder: |options, _key| {
        QuotedLines::boxed(
            FixedFields {
                names: FIELDS,
                arn_at: ACCESS_POINT_ARN,
            },
            options.json,
        )
    },
};

/// The fields of an S3 server access log record, in order.
pub const FIELDS: &[&str] = &[
    "bucket_owner",
    "bucket",
    "time",
    "remote_ip",
    "requester",
    "request_id",
    "operation",
    "key",
    "request_uri",
    "http_status",
    "error_code",
    "bytes_sent",
    "object_size",
    "total_time",
    "turn_around_time",
    "referer",
    "user_agent",
    "version_id",
    "host_id",
    "signature_version",
    "cipher_suite",
    "authentication_type",
    "host_header",
    "tls_version",
    "access_point_arn",
    "acl_required",
];

/// Where `access_point_arn` is.
const ACCESS_POINT_ARN: usize = 24;

#[cfg(test)]
mod tests {
    use super::super::objects::DecoderOptions;
    use super::super::objects::testing::decode;
    use super::*;

    #[test]
    fn a_record_by_its_names() {
        let line = r#"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSV1.2 arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes"#;
        let json = DecoderOptions {
            json: true,
            ..DecoderOptions::default()
        };
        let got = decode(&FORMAT, &json, "k", line.as_bytes(), 11).unwrap();
        let v: serde_json::Value = serde_json::from_str(&got.events[0].0).unwrap();
        assert_eq!(v["time"], "06/Feb/2019:00:00:38 +0000");
        assert_eq!(
            v["request_uri"],
            "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1"
        );
        assert_eq!(v["acl_required"], "Yes");
        assert_eq!(got.events[0].2.as_deref(), Some("123456789012"));
        assert_eq!(got.events[0].3.as_deref(), Some("us-west-1"));
    }
}
