//! AWS Config snapshot and history files in S3 (`{"fileVersion":...,"configurationItems":[...]}`,
//! gzip), streamed by [`RecordsScanner`]: one event per configuration item, as compact JSON,
//! with its own `awsAccountId` and `awsRegion`. Config's writability check files are skipped.

use serde::Deserialize;

use super::FormatError;
use super::json::{Text, compacted};
use super::objects::{Event, EventSink, Format, ObjectDecoder, Position, present};
use super::records::RecordsScanner;

/// AWS Config files (`configlogs`).
pub static FORMAT: Format = Format {
    name: "AWS Config snapshots and history",
    table: "cloud.aws.configlogs.events",
    typed_family: None,
    reads_key: |key| !key.contains("ConfigWritabilityCheckFile"),
    decoder: |_, _| {
        Box::new(Decoder {
            scanner: RecordsScanner::new("configurationItems"),
            items: 0,
        })
    },
};

struct Decoder {
    scanner: RecordsScanner,
    items: u64,
}

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(rename = "awsAccountId", borrow)]
    account: Option<Text<'a>>,
    #[serde(rename = "awsRegion", borrow)]
    region: Option<Text<'a>>,
}

fn item(raw: &[u8], is_compact: bool, at: Position, out: &mut dyn EventSink) {
    let parsed = std::str::from_utf8(raw)
        .map_err(|_| FormatError::Shape("a configuration item that is not UTF-8".into()))
        .and_then(|text| {
            serde_json::from_str::<Fields<'_>>(text)
                .map(|f| (text, f))
                .map_err(|e| FormatError::NotJson(format!("configuration item: {e}")))
        });
    match parsed {
        Ok((text, f)) => out.event(Event {
            message: &compacted(text, is_compact),
            event_type: None,
            account: f.account.as_deref().and_then(present),
            region: f.region.as_deref().and_then(present),
        }),
        Err(e) => out.bad_record(at, &e),
    }
}

impl ObjectDecoder for Decoder {
    fn feed(&mut self, chunk: &[u8], out: &mut dyn EventSink) -> Result<(), FormatError> {
        let Self { scanner, items } = self;
        scanner.feed(chunk, |raw, is_compact| {
            *items += 1;
            item(raw, is_compact, Position::Record(*items), out);
            Ok(())
        })
    }

    fn finish(&mut self, _out: &mut dyn EventSink) -> Result<(), FormatError> {
        self.scanner.finish()
    }
}
