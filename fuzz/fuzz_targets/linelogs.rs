//! Line logs (VPC Flow Logs when the first byte is even, CloudFront otherwise): the splitter over
//! chunks split where the second byte says, the header, each line's fields and its JSON form.
#![no_main]
// Only part of the module is fuzzed here.
#![allow(dead_code)]

#[path = "../../src/formats/mod.rs"]
mod formats;

use crate::formats::lines::{FieldNames, LineFormat, LineSplitter, utf8};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [kind, split, body @ ..] = data else { return };
    let format = if kind % 2 == 0 { LineFormat::FlowLogs } else { LineFormat::CloudFront };
    let mut splitter = LineSplitter::default();
    let mut fields = FieldNames::new(format);
    let mut json = String::new();
    let mut on_line = |line: Result<&[u8], _>| {
        let Ok(Ok(text)) = line.map(utf8) else { return };
        if let Some(event) = fields.line(text)
            && let Some(values) = &event.values
        {
            json.clear();
            fields.to_json(values, &mut json);
            assert!(serde_json_valid(&json), "{json}");
        }
    };
    for chunk in body.chunks(usize::from(*split).max(1)) {
        splitter.feed(chunk, &mut on_line);
    }
    splitter.finish(&mut on_line);
});

/// The JSON form must always be a JSON object.
fn serde_json_valid(text: &str) -> bool {
    text.starts_with('{') && text.ends_with('}')
}
