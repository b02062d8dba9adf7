//! GuardDuty findings exported to S3 (gzip JSON lines, one finding per line; GuardDuty encrypts
//! them with a KMS key, which the role must be allowed to use: kms:Decrypt). Each finding names
//! its `accountId` and `region`.

use super::jsonlines::{decoder, own_account_region};
use super::objects::{Format, any_key, aws_logs_service};

/// GuardDuty findings (`guarddutyfindings`).
pub static FORMAT: Format = Format {
    name: "GuardDuty findings",
    table: "cloud.aws.guardduty.findings",
    typed_family: None,
    reads_key: any_key,
    claims: |key| aws_logs_service(key) == Some("GuardDuty"),
    decoder: |_, _| decoder(own_account_region),
};
