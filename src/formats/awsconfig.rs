//! AWS Config snapshot and history files in S3 (`{"fileVersion":...,"configurationItems":[...]}`,
//! gzip), streamed by [`RecordsScanner`]: one event per configuration item, as compact JSON,
//! with its own `awsAccountId` and `awsRegion`. Config's writability check files are skipped.

use super::FormatError;
use super::json::compacted;
use super::objects::{
    Event, EventSink, Format, ObjectDecoder, Position, aws_logs_service, present,
};
use super::records::{Record, RecordsScanner};

/// AWS Config files (`configlogs`).
pub static FORMAT: Format = Format {
    name: "AWS Config snapshots and history",
    table: "cloud.aws.configlogs.events",
    typed_family: None,
    reads_key: |key| !key.contains("ConfigWritabilityCheckFile"),
    claims: |key| aws_logs_service(key) == Some("Config"),
    decoder: |_, _| {
        Box::new(Decoder {
            scanner: RecordsScanner::new("configurationItems", &["awsAccountId", "awsRegion"]),
            items: 0,
        })
    },
};

struct Decoder {
    scanner: RecordsScanner,
    items: u64,
}

fn item(found: Result<Record<'_>, FormatError>, at: Position, out: &mut dyn EventSink) {
    match found {
        Ok(item) => {
            let [account, region, ..] = &item.fields;
            out.event(Event {
                message: &compacted(item.text, item.compact),
                event_type: None,
                account: account.as_deref().and_then(present),
                region: region.as_deref().and_then(present),
                table: None,
            });
        }
        Err(e) => out.bad_record(at, &e),
    }
}

impl ObjectDecoder for Decoder {
    fn feed(&mut self, chunk: &[u8], out: &mut dyn EventSink) -> Result<(), FormatError> {
        let Self { scanner, items } = self;
        scanner.feed(chunk, |found| {
            *items += 1;
            item(found, Position::Record(*items), out);
            Ok(())
        })
    }

    fn finish(&mut self, _out: &mut dyn EventSink) -> Result<(), FormatError> {
        self.scanner.finish()
    }
}
