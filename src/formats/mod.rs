//! Parsers for what arrives from AWS. Each takes bytes and gives events (tag inputs and the
//! message text), or a [`FormatError`] saying why the input cannot be understood.
//!
//! The S3 object formats are plug-ins (see [`objects`]): one file each, with one [`objects::Format`]
//! row; [`OBJECT_FORMATS`] lists them.

pub mod alb;
pub mod awsconfig;
pub mod cloudfront;
pub mod cloudtrail;
pub mod compression;
pub mod elb;
pub mod eventbridge;
pub mod flowlogs;
pub mod guardduty;
pub mod json;
pub mod jsonlines;
pub mod layout;
pub mod lines;
pub mod networkfirewall;
pub mod objects;
pub mod records;
pub mod route53;
pub mod s3_notification;
pub mod s3access;
pub mod waf;

/// Every S3 object format.
pub const OBJECT_FORMATS: &[&objects::Format] = &[
    &cloudtrail::FORMAT,
    &flowlogs::FORMAT,
    &cloudfront::FORMAT,
    &alb::FORMAT,
    &elb::FORMAT,
    &waf::FORMAT,
    &s3access::FORMAT,
    &route53::FORMAT,
    &guardduty::FORMAT,
    &networkfirewall::FORMAT,
    &awsconfig::FORMAT,
];

/// Input that cannot be understood: reported with where it came from, never fatal to a run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("unexpected shape: {0}")]
    Shape(String),
}
