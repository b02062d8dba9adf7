//! AWS Network Firewall logs in S3 (gzip JSON lines: alert, flow and TLS logs). The region is
//! that of the line's `availability_zone` (`us-east-1a` → `us-east-1`), the event type that of
//! its `event.event_type` (`alert`, `netflow`, `tls`), else that of the key's log type (TLS
//! engine events, as AWS documents them, name none), and the account comes from the key
//! (`AWSLogs/<account>/network-firewall/<log type>/<region>/...`). Devo has no table of its own
//! for these: `cloud.aws.networkfirewall.logs`, or by type with `auto_event_type`.

use std::borrow::Cow;

use serde::Deserialize;

use super::FormatError;
use super::json::Text;

use super::jsonlines::{Tags, decoder_typed};
use super::objects::{Format, any_key, aws_logs_service, is_region};

/// Network Firewall logs (`networkfirewalllogs`).
pub static FORMAT: Format = Format {
    name: "Network Firewall logs",
    table: "cloud.aws.networkfirewall.logs",
    typed_family: Some("cloud.aws.networkfirewall"),
    reads_key: any_key,
    claims: |key| aws_logs_service(key) == Some("network-firewall"),
    decoder: |_, key| decoder_typed(tags, key_event_type(key).map(String::from)),
};

/// The event type a key's log type stands for: `network-firewall/alert/` → `alert`,
/// `network-firewall/flow/` → `netflow` (as flow events name themselves), `network-firewall/tls/`
/// → `tls`.
fn key_event_type(key: &str) -> Option<&'static str> {
    let after = key.split("/network-firewall/").nth(1)?;
    match after.split('/').next()? {
        "alert" => Some("alert"),
        "flow" => Some("netflow"),
        "tls" => Some("tls"),
        _ => None,
    }
}

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
    fn event_type_of_a_key() {
        let key = |t: &str| {
            format!("AWSLogs/111122223333/network-firewall/{t}/us-east-1/fw/2026/11/03/10/x.log.gz")
        };
        assert_eq!(key_event_type(&key("tls")), Some("tls"));
        assert_eq!(key_event_type(&key("flow")), Some("netflow"));
        assert_eq!(key_event_type(&key("alert")), Some("alert"));
        assert_eq!(key_event_type("logs/x.log.gz"), None);
    }

    #[test]
    fn region_of_a_zone() {
        assert_eq!(zone_region("us-east-1a"), Some("us-east-1"));
        assert_eq!(zone_region("use1-az1"), None);
    }
}
