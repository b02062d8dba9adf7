//! Classic Load Balancer and Network Load Balancer access logs in S3: space-separated fields,
//! some quoted. An NLB entry starts with its type (`tls`) and version; a Classic one with its
//! time. Each line is shipped as it stands, or with `format: json` as an object keyed by the
//! ELB user guide's names for its kind. Account and region come from an ACM certificate's ARN
//! on NLB lines that have one, else from the key (`AWSLogs/<account>/elasticloadbalancing/<region>/`).

use super::lines::{Layout, QuotedLines, account_region_of_arn_at};
use super::objects::{Format, any_key, aws_logs_service, file_name};

/// Classic and Network Load Balancer access logs (`elblogs`).
pub static FORMAT: Format = Format {
    name: "Classic and Network Load Balancer access logs",
    table: "web.aws.elb.access",
    typed_family: None,
    reads_key: any_key,
    claims: |key| {
        aws_logs_service(key) == Some("elasticloadbalancing") && !file_name(key).contains("_app.")
    },
    decoder: |options, _key| QuotedLines::boxed(Elb, options.json),
};

/// The fields of a Classic Load Balancer entry.
pub const CLASSIC_FIELDS: &[&str] = &[
    "time",
    "elb",
    "client:port",
    "backend:port",
    "request_processing_time",
    "backend_processing_time",
    "response_processing_time",
    "elb_status_code",
    "backend_status_code",
    "received_bytes",
    "sent_bytes",
    "request",
    "user_agent",
    "ssl_cipher",
    "ssl_protocol",
];

/// The fields of a Network Load Balancer (TLS listener) entry.
pub const NETWORK_FIELDS: &[&str] = &[
    "type",
    "version",
    "time",
    "elb",
    "listener",
    "client:port",
    "destination:port",
    "connection_time",
    "tls_handshake_time",
    "received_bytes",
    "sent_bytes",
    "incoming_tls_alert",
    "chosen_cert_arn",
    "chosen_cert_serial",
    "tls_cipher",
    "tls_protocol_version",
    "tls_named_group",
    "domain_name",
    "alpn_fe_protocol",
    "alpn_be_protocol",
    "alpn_client_preference_list",
    "tls_connection_creation_time",
];

/// Where an NLB entry's `chosen_cert_arn` is.
const CHOSEN_CERT_ARN: usize = 12;

struct Elb;

fn is_network(values: &[&str]) -> bool {
    values.first() == Some(&"tls")
}

impl Layout for Elb {
    fn names(&self, values: &[&str]) -> &'static [&'static str] {
        if is_network(values) {
            NETWORK_FIELDS
        } else {
            CLASSIC_FIELDS
        }
    }

    fn account_region<'a>(&self, values: &[&'a str]) -> (Option<&'a str>, Option<&'a str>) {
        if !is_network(values) {
            return (None, None);
        }
        account_region_of_arn_at(values, CHOSEN_CERT_ARN)
    }
}

#[cfg(test)]
mod tests {
    use super::super::objects::DecoderOptions;
    use super::super::objects::testing::decode;
    use super::*;

    #[test]
    fn classic_and_network_entries_by_their_own_names() {
        let classic = r#"2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -"#;
        let network = "tls 2.0 2018-12-20T02:59:40 net/my-network-loadbalancer/c6e77e28c25b2234 g3d4b5e8bb8464cd 72.21.218.154:51341 172.100.100.185:443 5 2 98 246 - arn:aws:acm:us-east-2:671290407336:certificate/2a108f19-aded-46b0-8493-c63eb1ef4a99 - ECDHE-RSA-AES128-SHA tlsv12 - my-network-loadbalancer-c6e77e28c25b2234.elb.us-east-2.amazonaws.com h2 h2 \"h2\",\"http/1.1\" 2018-12-20T02:59:30";
        let file = format!("{classic}\n{network}\n");
        let json = DecoderOptions {
            json: true,
            ..DecoderOptions::default()
        };
        let got = decode(&FORMAT, &json, "k", file.as_bytes(), 13).unwrap();
        let c: serde_json::Value = serde_json::from_str(&got.events[0].0).unwrap();
        assert_eq!(c["backend:port"], "10.0.0.1:80");
        assert_eq!(c["ssl_cipher"], serde_json::Value::Null);
        let n: serde_json::Value = serde_json::from_str(&got.events[1].0).unwrap();
        assert_eq!(n["tls_protocol_version"], "tlsv12");
        assert_eq!(got.events[1].2.as_deref(), Some("671290407336"));
        assert_eq!(got.events[1].3.as_deref(), Some("us-east-2"));
    }
}
