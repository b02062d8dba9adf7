//! Line logs (flowlogs): the splitter over chunks, the header, each line's fields and its JSON form.
#![no_main]

use devo_aws::formats::lines::{FieldNames, LineFormat, LineSplitter, utf8};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, body)) = data.split_first() else { return };
    let mut splitter = LineSplitter::default();
    let mut fields = FieldNames::new(LineFormat::FlowLogs);
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
    for chunk in body.chunks(usize::from(split).max(1)) {
        splitter.feed(chunk, &mut on_line);
    }
    splitter.finish(&mut on_line);
});

/// The JSON form must always be a JSON object.
fn serde_json_valid(text: &str) -> bool {
    text.starts_with('{') && text.ends_with('}')
}
