//! Objects of JSON lines, one event per line (WAF, Route 53 Resolver query logs, GuardDuty
//! findings, Network Firewall logs): each line is shipped as AWS wrote it (one line of JSON
//! already), and read only for the fields its tag needs, by the format's own `tags` function,
//! which also proves it is JSON. A line that is not is reported with its number; the others go
//! on.

use std::borrow::Cow;

use super::FormatError;
use super::json::scan_alone;
use super::lines::{LineDecoder, LineRule};
use super::objects::{Event, EventSink, ObjectDecoder, Position, present};

/// What a line's JSON says of its tag (each borrowed from the line when it can be).
#[derive(Debug, Default)]
pub struct Tags<'a> {
    pub event_type: Option<Cow<'a, str>>,
    pub account: Option<Cow<'a, str>>,
    pub region: Option<Cow<'a, str>>,
}

/// How a format finds its tag fields in a line (and proves it is JSON).
pub type TagsOf = fn(&str) -> Result<Tags<'_>, FormatError>;

/// The tags of a record that names its account and region itself, at its top level, under any
/// of AWS's spellings (`account_id` / `accountId`, `region`): Route 53 Resolver query logs,
/// GuardDuty findings.
pub fn own_account_region(line: &str) -> Result<Tags<'_>, FormatError> {
    let [account, account_id, region, _] = scan_alone(line, &["accountId", "account_id", "region"])
        .map_err(FormatError::NotJson)?
        .fields;
    Ok(Tags {
        event_type: None,
        account: account.or(account_id),
        region,
    })
}

/// A decoder of JSON lines whose tags `tags_of` finds.
pub fn decoder(tags_of: TagsOf) -> Box<dyn ObjectDecoder> {
    decoder_typed(tags_of, None)
}

/// The same, with the event type of a line that names none (taken from the object's key).
pub fn decoder_typed(tags_of: TagsOf, default_type: Option<String>) -> Box<dyn ObjectDecoder> {
    LineDecoder::boxed(JsonLines {
        tags_of,
        default_type,
    })
}

struct JsonLines {
    tags_of: TagsOf,
    default_type: Option<String>,
}

impl LineRule for JsonLines {
    fn line(&mut self, number: u64, text: &str, out: &mut dyn EventSink) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let tags = match (self.tags_of)(text) {
            Ok(tags) => tags,
            Err(e) => return out.bad_record(Position::Line(number), &e),
        };
        out.event(Event {
            message: text,
            event_type: tags
                .event_type
                .as_deref()
                .and_then(present)
                .or(self.default_type.as_deref()),
            account: tags.account.as_deref().and_then(present),
            region: tags.region.as_deref().and_then(present),
            table: None,
        });
    }
}
