//! Every S3 object format's decoder, and every splitter of the kinds a config defines (chosen by
//! the first byte, with `format: json` by its high bit), fed in chunks split where the second
//! byte says: no panic, every message of a JSON format valid JSON, no `-` in a tag field.
#![no_main]
// Only part of the module is fuzzed here.
#![allow(dead_code)]

#[path = "../../src/formats/mod.rs"]
mod formats;

use crate::formats::FormatError;
use crate::formats::OBJECT_FORMATS;
use crate::formats::defined::{Defined, Split};
use crate::formats::objects::{DecoderOptions, Event, EventSink, ObjectKind, Position};
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

/// Every splitter of a kind the config defines.
const SPLITS: [Split; 6] = [
    Split::Lines,
    Split::JsonLines,
    Split::JsonArray,
    Split::Records,
    Split::JsonObject,
    Split::JsonStream,
];

/// libFuzzer's panic hook aborts at every panic, caught or not. The Parquet reader panics on some
/// malformed files, and the decoder catches those and reports the object corrupt (see
/// src/formats/parquet.rs), so a panic raised inside the parquet crate is let through to that
/// catch; any other panic still goes to libFuzzer's hook, and one the decoder does not catch
/// still aborts (libfuzzer-sys aborts on a panic that leaves the target).
fn let_parquet_panics_reach_the_decoder() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_parquet = info
                .location()
                .is_some_and(|at| formats::parquet::panicked_in_reader(at.file()));
            if !in_parquet {
                fuzzer_hook(info);
            }
        }));
    });
}

/// One defined kind per splitter, made once.
static DEFINED: std::sync::OnceLock<[&'static Defined; 6]> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let [kind, split, body @ ..] = data else { return };
    let_parquet_panics_reach_the_decoder();
    let defined = DEFINED.get_or_init(|| {
        SPLITS.map(|s| {
            let d = Defined::new("fuzz", s, "my.app.fuzz", None, Some("acct"), Some("region"), None);
            &*Box::leak(Box::new(d))
        })
    });
    let choice = usize::from(*kind & 0x7f) % (OBJECT_FORMATS.len() + SPLITS.len());
    let read = match OBJECT_FORMATS.get(choice) {
        Some(format) => ObjectKind::Format(format),
        None => ObjectKind::Defined(defined[choice - OBJECT_FORMATS.len()]),
    };
    let json = kind & 0x80 != 0;
    let options = DecoderOptions {
        json,
        ..DecoderOptions::default()
    };
    let mut decoder = read.decoder(&options, "AWSLogs/111122223333/x/us-east-1/k");
    let json_format = match read {
        ObjectKind::Format(format) => !matches!(
            format.name,
            "VPC Flow Logs"
                | "CloudFront standard logs"
                | "ALB access logs"
                | "Classic and Network Load Balancer access logs"
                | "S3 server access logs"
                // Messages extracted by Firehose are shipped as they stand.
                | "CloudWatch Logs through Firehose"
        ),
        ObjectKind::Defined(d) => d.split != Split::Lines,
    };
    let mut check = Check { json_format };
    for chunk in body.chunks(usize::from(*split).max(1)) {
        if decoder.feed(chunk, &mut check).is_err() {
            return;
        }
    }
    if decoder.finish(&mut check).is_err() {
        return;
    }
    // Parquet's rows come after the object is whole.
    while let Ok(true) = decoder.more(&mut check) {}
});
