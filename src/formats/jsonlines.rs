//! Objects of JSON lines, one event per line (WAF, Route 53 Resolver query logs, GuardDuty
//! findings, Network Firewall logs): each line is shipped as AWS wrote it (one line of JSON
//! already), and parsed only for the fields its tag needs, by the format's own `tags` function,
//! which also proves it is JSON. A line that is not is reported with its number; the others go
//! on.

use std::borrow::Cow;

use serde::Deserialize;

use super::FormatError;
use super::json::Text;
use super::lines::{LineDecoder, LineRule};
use super::objects::{Event, EventSink, ObjectDecoder, Position, present};

/// What a line's JSON says of its tag (each borrowed from the line when it can be).
#[derive(Debug, Default)]
pub struct Tags<'a> {
    pub event_type: Option<Cow<'a, str>>,
    pub account: Option<Cow<'a, str>>,
    pub region: Option<Cow<'a, str>>,
}

/// How a format finds its tag fields in a line.
pub type TagsOf = fn(&str) -> Result<Tags<'_>, serde_json::Error>;

/// The account and region a record names at its top level, under any of AWS's spellings
/// (`account_id` / `accountId`, `region`).
#[derive(Deserialize)]
struct AccountRegion<'a> {
    #[serde(rename = "accountId", alias = "account_id", borrow)]
    account: Option<Text<'a>>,
    #[serde(borrow)]
    region: Option<Text<'a>>,
}

/// The tags of a record that names its account and region itself (Route 53 Resolver query
/// logs, GuardDuty findings).
pub fn own_account_region(line: &str) -> Result<Tags<'_>, serde_json::Error> {
    let f: AccountRegion<'_> = serde_json::from_str(line)?;
    Ok(Tags {
        event_type: None,
        account: f.account.map(|t| t.0),
        region: f.region.map(|t| t.0),
    })
}

/// A decoder of JSON lines whose tags `tags_of` finds.
pub fn decoder(tags_of: TagsOf) -> Box<dyn ObjectDecoder> {
    LineDecoder::boxed(JsonLines { tags_of })
}

struct JsonLines {
    tags_of: TagsOf,
}

impl LineRule for JsonLines {
    fn line(&mut self, number: u64, text: &str, out: &mut dyn EventSink) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let tags = match (self.tags_of)(text) {
            Ok(tags) => tags,
            Err(e) => {
                return out
                    .bad_record(Position::Line(number), &FormatError::NotJson(e.to_string()));
            }
        };
        out.event(Event {
            message: text,
            event_type: tags.event_type.as_deref().and_then(present),
            account: tags.account.as_deref().and_then(present),
            region: tags.region.as_deref().and_then(present),
        });
    }
}
