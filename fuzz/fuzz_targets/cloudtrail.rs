//! The streaming CloudTrail scanner, fed in chunks split where the first byte says, and the
//! records it finds parsed for their tag fields.
#![no_main]
// Only part of the module is fuzzed here.
#![allow(dead_code)]

#[path = "../../src/formats/mod.rs"]
mod formats;

use crate::formats::cloudtrail::RecordFields;
use crate::formats::records::RecordsScanner;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, doc)) = data.split_first() else { return };
    let mut scanner = RecordsScanner::new("Records", &RecordFields::NAMES);
    for chunk in doc.chunks(usize::from(split).max(1)) {
        let fed = scanner.feed(chunk, |found| {
            if let Ok(record) = found {
                // A record the scan read is one serde_json reads, whole and alone. (Skipped as
                // the old parser did, not into a Value, which refuses numbers out of f64's range
                // such as 9999E999: valid JSON, and AWS's bytes are shipped as they are.)
                assert!(serde_json::from_str::<serde::de::IgnoredAny>(record.text).is_ok());
                let fields = RecordFields::parse(record.text);
                assert!(fields.is_ok(), "{fields:?}");
                let _ = fields.map(|(f, _)| f.event_type().map(str::len));
            }
            Ok(())
        });
        if fed.is_err() {
            return;
        }
    }
    let _ = scanner.finish();
});
