//! GuardDuty findings exported to S3 (gzip JSON lines, one finding per line; GuardDuty encrypts
//! them with a KMS key, which the role must be allowed to use: kms:Decrypt). Each finding names
//! its `accountId` and `region`.

use serde::Deserialize;

use super::json::Text;

use super::jsonlines::{Tags, decoder};
use super::objects::{Format, any_key};

/// GuardDuty findings (`guarddutyfindings`).
pub static FORMAT: Format = Format {
    name: "GuardDuty findings",
    table: "cloud.aws.guardduty.findings",
    typed_family: None,
    reads_key: any_key,
    decoder: |_, _| decoder(tags),
};

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(rename = "accountId", borrow)]
    account: Option<Text<'a>>,
    #[serde(borrow)]
    region: Option<Text<'a>>,
}

fn tags(line: &str) -> Result<Tags<'_>, serde_json::Error> {
    let f: Fields<'_> = serde_json::from_str(line)?;
    Ok(Tags {
        event_type: None,
        account: f.account.map(|t| t.0),
        region: f.region.map(|t| t.0),
    })
}
