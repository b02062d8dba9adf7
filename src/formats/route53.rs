//! Route 53 Resolver query logs in S3 (gzip JSON lines, one query per line), with the account
//! and region of each query in its own `account_id` and `region` fields.

use serde::Deserialize;

use super::json::Text;

use super::jsonlines::{Tags, decoder};
use super::objects::{Format, any_key};

/// Route 53 Resolver query logs (`route53logs`).
pub static FORMAT: Format = Format {
    name: "Route 53 Resolver query logs",
    table: "dns.aws.route53",
    typed_family: None,
    reads_key: any_key,
    decoder: |_, _| decoder(tags),
};

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    account_id: Option<Text<'a>>,
    #[serde(borrow)]
    region: Option<Text<'a>>,
}

fn tags(line: &str) -> Result<Tags<'_>, serde_json::Error> {
    let f: Fields<'_> = serde_json::from_str(line)?;
    Ok(Tags {
        event_type: None,
        account: f.account_id.map(|t| t.0),
        region: f.region.map(|t| t.0),
    })
}
