//! JSON files whose events are the elements of one array under a top-level key, read as a
//! stream: CloudTrail's `{"Records":[{...},{...}]}`, AWS Config's `{"configurationItems":[...]}`.
//! The scanner is fed the decompressed bytes chunk by chunk and hands out each element of the
//! array as raw JSON, so a 1 GiB file needs memory for one record, not for the file.
//!
//! The scan only tracks strings and nesting (with memchr over the bytes that matter); each record
//! is then parsed for the few fields a tag needs. Record bytes are passed on as AWS wrote them.

use super::FormatError;

/// Larger records are refused rather than buffered without bound. CloudTrail's own events stay
/// under 256 KB; four times that leaves room and keeps 8 objects in flight within 8 MiB.
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// Top-level keys are kept only one byte longer than the key looked for: enough to tell it from
/// any other key, so an endless key costs no memory.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Outside the Records array: in or around the top-level object.
    Top,
    /// Inside the Records array, between elements.
    Between,
    /// Inside one record.
    InRecord,
    /// After the top-level object closed.
    Done,
}

/// Push-based scanner of one file.
#[derive(Debug)]
pub struct RecordsScanner {
    /// The top-level key of the array of records.
    array: &'static str,
    place: Place,
    // Outside records: generic nesting, and the key last seen at depth 1.
    depth: u32,
    in_string: bool,
    escaped: bool,
    expect_key: bool,
    capturing_key: bool,
    key: Vec<u8>,
    // Inside a record: brace depth, string state, bytes carried over from earlier chunks.
    record_depth: u32,
    record_in_string: bool,
    record_escaped: bool,
    /// Whitespace was seen outside the record's strings (it is not compact JSON).
    record_spaced: bool,
    partial: Vec<u8>,
}

impl RecordsScanner {
    /// A scanner of the records under the top-level key `array`.
    pub fn new(array: &'static str) -> Self {
        Self {
            array,
            place: Place::Top,
            depth: 0,
            in_string: false,
            escaped: false,
            expect_key: false,
            capturing_key: false,
            key: Vec::new(),
            record_depth: 0,
            record_in_string: false,
            record_escaped: false,
            record_spaced: false,
            partial: Vec::new(),
        }
    }

    /// Feeds the next bytes; `on_record` gets each complete record's raw JSON, and whether it
    /// is compact (no whitespace outside its strings), which the scan sees on its way.
    pub fn feed<F>(&mut self, chunk: &[u8], mut on_record: F) -> Result<(), FormatError>
    where
        F: FnMut(&[u8], bool) -> Result<(), FormatError>,
    {
        let mut i = 0;
        while i < chunk.len() {
            match self.place {
                Place::InRecord => {
                    let start = i;
                    match self.scan_record(chunk, &mut i) {
                        Some(end) => {
                            let compact = !self.record_spaced;
                            if self.partial.is_empty() {
                                on_record(&chunk[start..end], compact)?;
                            } else {
                                self.partial.extend_from_slice(&chunk[start..end]);
                                let record = std::mem::take(&mut self.partial);
                                on_record(&record, compact)?;
                            }
                            self.place = Place::Between;
                        }
                        None => {
                            self.partial.extend_from_slice(&chunk[start..]);
                            if self.partial.len() > MAX_RECORD_BYTES {
                                return Err(FormatError::Shape(format!(
                                    "a record larger than {MAX_RECORD_BYTES} bytes"
                                )));
                            }
                        }
                    }
                }
                Place::Between => {
                    match chunk[i] {
                        b' ' | b'\n' | b'\r' | b'\t' | b',' => {}
                        b'{' => {
                            self.place = Place::InRecord;
                            self.record_depth = 0;
                            self.record_in_string = false;
                            self.record_escaped = false;
                            self.record_spaced = false;
                            // scan_record counts this brace.
                            continue;
                        }
                        b']' => {
                            self.place = Place::Top;
                            self.depth = 1;
                            self.key.clear();
                        }
                        other => {
                            return Err(FormatError::Shape(format!(
                                "{} holds something other than objects (byte {:?})",
                                self.array,
                                char::from(other)
                            )));
                        }
                    }
                    i += 1;
                }
                Place::Top => {
                    self.top_byte(chunk[i])?;
                    i += 1;
                }
                Place::Done => {
                    if !chunk[i].is_ascii_whitespace() {
                        return Err(FormatError::Shape(
                            "data after the end of the JSON document".into(),
                        ));
                    }
                    i += 1;
                }
            }
        }
        Ok(())
    }

    /// Advances through a record from `*i`; returns the end (exclusive) when it closes.
    fn scan_record(&mut self, chunk: &[u8], i: &mut usize) -> Option<usize> {
        while *i < chunk.len() {
            if self.record_in_string {
                if self.record_escaped {
                    self.record_escaped = false;
                    *i += 1;
                    continue;
                }
                match memchr::memchr2(b'"', b'\\', &chunk[*i..]) {
                    None => {
                        *i = chunk.len();
                        return None;
                    }
                    Some(off) => {
                        let at = *i + off;
                        if chunk[at] == b'\\' {
                            self.record_escaped = true;
                        } else {
                            self.record_in_string = false;
                        }
                        *i = at + 1;
                    }
                }
            } else {
                match memchr::memchr3(b'"', b'{', b'}', &chunk[*i..]) {
                    None => {
                        self.note_spaces(&chunk[*i..]);
                        *i = chunk.len();
                        return None;
                    }
                    Some(off) => {
                        let at = *i + off;
                        // Outside strings, between two of them or a brace: `:`, `,`, a number.
                        self.note_spaces(&chunk[*i..at]);
                        *i = at + 1;
                        match chunk[at] {
                            b'"' => self.record_in_string = true,
                            b'{' => self.record_depth += 1,
                            _ => {
                                self.record_depth = self.record_depth.saturating_sub(1);
                                if self.record_depth == 0 {
                                    return Some(at + 1);
                                }
                            }
                        }
                    }
                }
            }
        }
        None
    }

    /// Notes whitespace in `span`, a part of the record outside its strings.
    fn note_spaces(&mut self, span: &[u8]) {
        if !self.record_spaced {
            self.record_spaced = span
                .iter()
                .any(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'));
        }
    }

    /// One byte of the top-level object, outside the Records array.
    fn top_byte(&mut self, b: u8) -> Result<(), FormatError> {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                self.capturing_key = false;
                return Ok(());
            }
            if self.capturing_key && self.key.len() <= self.array.len() {
                self.key.push(b);
            }
            return Ok(());
        }
        match b {
            b'"' => {
                self.in_string = true;
                if self.depth == 1 && self.expect_key {
                    self.capturing_key = true;
                    self.key.clear();
                }
            }
            b':' if self.depth == 1 => self.expect_key = false,
            b',' if self.depth == 1 => {
                self.expect_key = true;
                self.key.clear();
            }
            b'[' if self.depth == 1 && !self.expect_key && self.key == self.array.as_bytes() => {
                self.place = Place::Between;
            }
            b'{' | b'[' => {
                if self.depth == 0 && b == b'[' {
                    return Err(FormatError::Shape(format!(
                        "expected a JSON object with {}",
                        self.array
                    )));
                }
                if self.depth == 0 {
                    self.expect_key = true;
                }
                self.depth += 1;
            }
            b'}' | b']' => {
                if self.depth == 0 {
                    return Err(FormatError::Shape("unbalanced JSON".into()));
                }
                self.depth -= 1;
                if self.depth == 0 {
                    self.place = Place::Done;
                }
            }
            b' ' | b'\n' | b'\r' | b'\t' => {}
            _ if self.depth == 0 => {
                return Err(FormatError::Shape(format!(
                    "expected a JSON object with {}",
                    self.array
                )));
            }
            _ => {}
        }
        Ok(())
    }

    /// Called at the end of the object's bytes: a file cut short is an error.
    pub fn finish(&self) -> Result<(), FormatError> {
        match self.place {
            Place::Done => Ok(()),
            _ => Err(FormatError::Shape(
                "the file ends before its JSON does (truncated?)".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_in_chunks(doc: &str, chunk: usize) -> Result<Vec<String>, FormatError> {
        let mut s = RecordsScanner::new("Records");
        let mut out = Vec::new();
        for c in doc.as_bytes().chunks(chunk) {
            s.feed(c, |r, _| {
                out.push(String::from_utf8(r.to_vec()).unwrap());
                Ok(())
            })?;
        }
        s.finish()?;
        Ok(out)
    }

    const DOC: &str = r#"{"Records":[{"eventName":"A","x":{"y":"}{\"]"}},
      {"eventName":"B","list":[1,{"z":2}],"s":"a\\"} ]}"#;

    #[test]
    fn records_come_out_whole_whatever_the_chunking() {
        for chunk in [1, 2, 3, 7, 64, 4096] {
            let got = scan_in_chunks(DOC, chunk).unwrap();
            assert_eq!(
                got,
                [
                    r#"{"eventName":"A","x":{"y":"}{\"]"}}"#,
                    r#"{"eventName":"B","list":[1,{"z":2}],"s":"a\\"}"#
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn other_top_level_keys_are_skipped() {
        let doc = r#"{"Other":{"Records":[{"no":1}]},"Records":[{"yes":1}],"Tail":[1]}"#;
        assert_eq!(scan_in_chunks(doc, 5).unwrap(), [r#"{"yes":1}"#]);
    }

    /// An endless top-level key or string costs no memory; an endless record is refused at
    /// [`MAX_RECORD_BYTES`].
    #[test]
    fn endless_keys_strings_and_records_are_bounded() {
        let chunk = vec![b'a'; 64 << 10];
        let mut keys = RecordsScanner::new("Records");
        keys.feed(b"{\"", |_, _| Ok(())).unwrap();
        for _ in 0..64 {
            keys.feed(&chunk, |_, _| Ok(())).unwrap();
        }
        assert!(keys.key.capacity() <= 64, "{}", keys.key.capacity());
        assert!(keys.finish().is_err(), "still truncated");

        let mut record = RecordsScanner::new("Records");
        record
            .feed(b"{\"Records\":[{\"k\":\"", |_, _| Ok(()))
            .unwrap();
        let mut fed = 0;
        let refused = loop {
            match record.feed(&chunk, |_, _| Ok(())) {
                Ok(()) => fed += chunk.len(),
                Err(e) => break e,
            }
            assert!(fed <= 2 * MAX_RECORD_BYTES, "never refused");
        };
        assert!(refused.to_string().contains("larger than"), "{refused}");
        assert!(record.partial.capacity() <= 2 * MAX_RECORD_BYTES + chunk.len());
    }

    #[test]
    fn truncated_file_is_an_error() {
        let cut = &DOC[..DOC.len() - 10];
        assert!(scan_in_chunks(cut, 16).is_err());
        assert!(scan_in_chunks("[1,2]", 16).is_err());
        assert!(scan_in_chunks(r#"{"Records":[1]}"#, 16).is_err());
    }

    #[test]
    fn the_array_key_is_the_scanners_own() {
        let doc = r#"{"fileVersion":"1.0","configurationItems":[{"a":1},{"b":[2]}]}"#;
        let mut s = RecordsScanner::new("configurationItems");
        let mut out = Vec::new();
        s.feed(doc.as_bytes(), |r, _| {
            out.push(String::from_utf8(r.to_vec()).unwrap());
            Ok(())
        })
        .unwrap();
        s.finish().unwrap();
        assert_eq!(out, [r#"{"a":1}"#, r#"{"b":[2]}"#]);
    }

    /// The scan says which records are compact, as `json::compact` would find, however the
    /// bytes are chunked.
    #[test]
    fn the_scan_tells_compact_records() {
        let doc = "{\"Records\":[{\"a\":\"b c\",\"n\":1},\n {\"a\": 1},{\"a\":{\"b\":[1, 2]}},{\"s\":\"x\\\\\"}]}";
        for chunk in [1, 2, 5, 4096] {
            let mut s = RecordsScanner::new("Records");
            let mut out = Vec::new();
            for c in doc.as_bytes().chunks(chunk) {
                s.feed(c, |r, compact| {
                    let text = String::from_utf8(r.to_vec()).unwrap();
                    let found = matches!(
                        super::super::json::compact(&text),
                        std::borrow::Cow::Borrowed(_)
                    );
                    assert_eq!(compact, found, "{text}");
                    out.push(compact);
                    Ok(())
                })
                .unwrap();
            }
            assert_eq!(out, [true, false, false, true], "chunk {chunk}");
        }
    }

    #[test]
    fn empty_records_is_fine() {
        assert!(scan_in_chunks(r#"{"Records":[]}"#, 3).unwrap().is_empty());
    }
}
