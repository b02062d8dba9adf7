//! Route 53 Resolver query logs in S3 (gzip JSON lines, one query per line), with the account
//! and region of each query in its own `account_id` and `region` fields.

use super::jsonlines::{decoder, own_account_region};
use super::objects::{Format, any_key, aws_logs_service};

/// Route 53 Resolver query logs (`route53logs`).
pub static FORMAT: Format = Format {
    name: "Route 53 Resolver query logs",
    table: "dns.aws.route53",
    typed_family: None,
    reads_key: any_key,
    claims: |key| aws_logs_service(key) == Some("vpcdnsquerylogs"),
    decoder: |_, _| decoder(own_account_region),
};
