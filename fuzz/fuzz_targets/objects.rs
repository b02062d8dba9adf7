//! Every S3 object format's decoder (chosen by the first byte, with `format: json` by its high
//! bit), fed in chunks split where the second byte says: no panic, every message of a JSON
//! format valid JSON, no `-` in a tag field.
#![no_main]
// Only part of the module is fuzzed here.
#![allow(dead_code)]

#[path = "../../src/formats/mod.rs"]
mod formats;

use crate::formats::FormatError;
use crate::formats::OBJECT_FORMATS;
use crate::formats::objects::{DecoderOptions, Event, EventSink, Position};
use libfuzzer_sys::fuzz_target;

/// Checks what the decoder hands out.
struct Check {
    /// The format's every message is JSON (not a line format, whose unparsed lines go as they are).
    json_format: bool,
}

impl EventSink for Check {
    fn event(&mut self, e: Event<'_>) {
        if self.json_format {
            assert!(
                serde_json::from_str::<serde::de::IgnoredAny>(e.message).is_ok(),
                "{}",
                e.message
            );
        }
        for part in [e.event_type, e.account, e.region].into_iter().flatten() {
            assert!(part != "-", "a dash is no value");
        }
    }
    fn bad_record(&mut self, _at: Position, _error: &FormatError) {}
    fn dropped(&mut self) {}
    fn notice(&mut self, _what: &str, _detail: &str) {}
}

fuzz_target!(|data: &[u8]| {
    let [kind, split, body @ ..] = data else { return };
    let format = OBJECT_FORMATS[usize::from(*kind) % OBJECT_FORMATS.len()];
    let json = kind & 0x80 != 0;
    let options = DecoderOptions {
        json,
        ..DecoderOptions::default()
    };
    let mut decoder = (format.decoder)(&options, "AWSLogs/111122223333/x/us-east-1/k");
    let json_format = !matches!(
        format.name,
        "VPC Flow Logs"
            | "CloudFront standard logs"
            | "ALB access logs"
            | "Classic and Network Load Balancer access logs"
            | "S3 server access logs"
    );
    let mut check = Check { json_format };
    for chunk in body.chunks(usize::from(*split).max(1)) {
        if decoder.feed(chunk, &mut check).is_err() {
            return;
        }
    }
    let _ = decoder.finish(&mut check);
});
