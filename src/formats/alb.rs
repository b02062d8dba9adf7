//! Application Load Balancer access logs in S3 (gzip): space-separated fields, some quoted, in
//! the order of the ELB user guide. Each line is shipped as it stands, or with `format: json`
//! as an object keyed by the guide's names (fields AWS adds later under `field_N`). A record's
//! account and region come from its target group's ARN, else from the key
//! (`AWSLogs/<account>/elasticloadbalancing/<region>/...`).

use super::lines::{FixedFields, QuotedLines};
use super::objects::{Format, any_key, aws_logs_service, file_name};

/// ALB access logs (`alblogs`).
pub static FORMAT: Format = Format {
    name: "ALB access logs",
    table: "web.aws.alb.access",
    typed_family: None,
    reads_key: any_key,
    claims: |key| {
        aws_logs_service(key) == Some("elasticloadbalancing") && file_name(key).contains("_app.")
    },
    decoder: |options, _key| {
        QuotedLines::boxed(
            FixedFields {
                names: FIELDS,
                arn_at: TARGET_GROUP_ARN,
            },
            options.json,
        )
    },
};

/// The fields of an ALB access log entry, in order.
pub const FIELDS: &[&str] = &[
    "type",
    "time",
    "elb",
    "client:port",
    "target:port",
    "request_processing_time",
    "target_processing_time",
    "response_processing_time",
    "elb_status_code",
    "target_status_code",
    "received_bytes",
    "sent_bytes",
    "request",
    "user_agent",
    "ssl_cipher",
    "ssl_protocol",
    "target_group_arn",
    "trace_id",
    "domain_name",
    "chosen_cert_arn",
    "matched_rule_priority",
    "request_creation_time",
    "actions_executed",
    "redirect_url",
    "error_reason",
    "target:port_list",
    "target_status_code_list",
    "classification",
    "classification_reason",
    "conn_trace_id",
    "transformed_host",
    "transformed_uri",
    "request_transform_status",
];

/// Where `target_group_arn` is.
const TARGET_GROUP_ARN: usize = 16;

#[cfg(test)]
mod tests {
    use super::super::objects::DecoderOptions;
    use super::super::objects::testing::decode;
    use super::*;

    const LINE: &str = r#"https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90"#;

    #[test]
    fn a_line_as_it_stands_with_the_target_groups_account_and_region() {
        let got = decode(&FORMAT, &DecoderOptions::default(), "k", LINE.as_bytes(), 9).unwrap();
        assert_eq!(
            got.events,
            [(
                LINE.to_string(),
                None,
                Some("123456789012".into()),
                Some("us-east-2".into())
            )]
        );
    }

    #[test]
    fn json_names_every_field() {
        let json = DecoderOptions {
            json: true,
            ..DecoderOptions::default()
        };
        let got = decode(&FORMAT, &json, "k", LINE.as_bytes(), 4096).unwrap();
        let v: serde_json::Value = serde_json::from_str(&got.events[0].0).unwrap();
        assert_eq!(v["request"], "GET https://www.example.com:443/ HTTP/1.1");
        assert_eq!(v["redirect_url"], serde_json::Value::Null);
        assert_eq!(v["conn_trace_id"], "TID_1234abcd5678ef90");
    }
}
