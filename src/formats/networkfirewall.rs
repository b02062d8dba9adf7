//! AWS Network Firewall logs in S3 (gzip JSON lines: alert, flow and TLS logs). The region is
//! that of the line's `availability_zone` (`us-east-1a` → `us-east-1`), the event type that of
//! its `event.event_type` (`alert`, `netflow`, `tls`), and the account comes from the key
//! (`AWSLogs/<account>/network-firewall/<log type>/<region>/...`). Devo has no table of its own
//! for these: `cloud.aws.networkfirewall.logs`, or by type with `auto_event_type`.

use std::borrow::Cow;

use serde::Deserialize;

use super::FormatError;
use super::json::Text;

use super::jsonlines::{Tags, decoder};
use super::objects::{Format, any_key, is_region};

/// Network Firewall logs (`networkfirewalllogs`).
pub static FORMAT: Format = Format {
    name: "Network Firewall logs",
    table: "cloud.aws.networkfirewall.logs",
    typed_family: Some("cloud.aws.networkfirewall"),
    reads_key: any_key,
    decoder: |_, _| decoder(tags),
};

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    availability_zone: Option<Text<'a>>,
    #[serde(borrow)]
    event: Option<Inner<'a>>,
}

#[derive(Deserialize)]
struct Inner<'a> {
    #[serde(borrow)]
    event_type: Option<Text<'a>>,
}

/// The region of an availability zone's name (`eu-west-1b` → `eu-west-1`).
fn zone_region(zone: &str) -> Option<&str> {
    let region = zone.trim_end_matches(|c: char| c.is_ascii_lowercase());
    is_region(region).then_some(region)
}

fn tags(line: &str) -> Result<Tags<'_>, FormatError> {
    let f: Fields<'_> =
        serde_json::from_str(line).map_err(|e| FormatError::NotJson(e.to_string()))?;
    let region = match f.availability_zone {
        Some(Text(Cow::Borrowed(zone))) => zone_region(zone).map(Cow::Borrowed),
        Some(Text(Cow::Owned(zone))) => zone_region(&zone).map(|r| Cow::Owned(r.to_string())),
        None => None,
    };
    Ok(Tags {
        event_type: f.event.and_then(|e| e.event_type).map(|t| t.0),
        account: None,
        region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_of_a_zone() {
        assert_eq!(zone_region("us-east-1a"), Some("us-east-1"));
        assert_eq!(zone_region("use1-az1"), None);
    }
}
