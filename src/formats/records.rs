//! JSON files whose events are the elements of one array under a top-level key, read as a
//! stream: CloudTrail's `{"Records":[{...},{...}]}`, AWS Config's `{"configurationItems":[...]}`.
//! The scanner is fed the decompressed bytes chunk by chunk and hands out each element of the
//! array as raw JSON, so a 1 GiB file needs memory for one record, not for the file.
//!
//! Each record is read in one pass by [`scan_object`], which validates it, finds its end and picks
//! up the few fields a tag needs; a record that is not JSON is skipped to its closing brace
//! (strings and nesting tracked with memchr) and reported. Record bytes are passed on as AWS
//! wrote them.

use std::borrow::Cow;

use super::FormatError;
use super::json::{MAX_FIELDS, ScanError, Scanned, scan_object};

/// Larger records are refused rather than buffered without bound. CloudTrail's own events stay
/// under 256 KB; four times that leaves room and keeps 8 objects in flight within 8 MiB.
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// A record carried over from one chunk to the next is completed this many bytes at a time at
/// least (then as many as it holds already), each time read again from its start.
const CARRY_STEP: usize = 4 << 10;

/// One element of the array.
#[derive(Debug)]
pub struct Record<'a> {
    pub text: &'a str,
    /// The values of the scanner's names (top-level strings), in their order.
    pub fields: [Option<Cow<'a, str>>; MAX_FIELDS],
    /// No whitespace outside strings.
    pub compact: bool,
}

/// Top-level keys are kept only one byte longer than the key looked for: enough to tell it from
/// any other key, so an endless key costs no memory.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Outside the Records array: in or around the top-level object.
    Top,
    /// Inside the Records array, between elements.
    Between,
    /// At the start of a record, or inside one carried over from earlier chunks.
    InRecord,
    /// Inside a record that is not JSON, looking for its closing brace.
    Skipping,
    /// After the top-level object closed.
    Done,
}

/// Push-based scanner of one file.
#[derive(Debug)]
pub struct RecordsScanner {
    /// The top-level key of the array of records.
    array: &'static str,
    /// The fields picked up from each record.
    names: &'static [&'static str],
    place: Place,
    // Outside records: generic nesting, and the key last seen at depth 1.
    depth: u32,
    in_string: bool,
    escaped: bool,
    expect_key: bool,
    capturing_key: bool,
    key: Vec<u8>,
    /// The bytes of a record carried over from earlier chunks.
    partial: Vec<u8>,
    // Skipping a record that is not JSON: brace depth, string state, bytes so far, and why.
    record_depth: u32,
    record_in_string: bool,
    record_escaped: bool,
    skipped: usize,
    skip_reason: String,
}

impl RecordsScanner {
    /// A scanner of the records under the top-level key `array`, picking up the top-level
    /// string fields `names` (at most [`MAX_FIELDS`]) of each.
    pub fn new(array: &'static str, names: &'static [&'static str]) -> Self {
        Self {
            array,
            names,
            place: Place::Top,
            depth: 0,
            in_string: false,
            escaped: false,
            expect_key: false,
            capturing_key: false,
            key: Vec::new(),
            partial: Vec::new(),
            record_depth: 0,
            record_in_string: false,
            record_escaped: false,
            skipped: 0,
            skip_reason: String::new(),
        }
    }

    /// Feeds the next bytes; `on_record` gets each record, or why one could not be read (the
    /// scan then goes on after it).
    pub fn feed<F>(&mut self, chunk: &[u8], mut on_record: F) -> Result<(), FormatError>
    where
        F: FnMut(Result<Record<'_>, FormatError>) -> Result<(), FormatError>,
    {
        let mut i = 0;
        while i < chunk.len() {
            match self.place {
                Place::InRecord if self.partial.is_empty() => {
                    match scan_object(&chunk[i..], self.names) {
                        Ok(scanned) => {
                            let end = i + scanned.end;
                            on_record(record(&chunk[i..end], scanned))?;
                            i = end;
                            self.place = Place::Between;
                        }
                        Err(ScanError::Incomplete) => {
                            self.partial.extend_from_slice(&chunk[i..]);
                            self.check_carried()?;
                            i = chunk.len();
                        }
                        // Skipped from its opening brace, at `i`.
                        Err(ScanError::Invalid(why)) => self.start_skip(why),
                    }
                }
                Place::InRecord => {
                    let before = self.partial.len();
                    let take = (chunk.len() - i).min(before.max(CARRY_STEP));
                    self.partial.extend_from_slice(&chunk[i..i + take]);
                    match scan_object(&self.partial, self.names) {
                        Ok(scanned) => {
                            // What was carried was incomplete: the record ends in this chunk.
                            let used = scanned.end.saturating_sub(before);
                            on_record(record(&self.partial[..scanned.end], scanned))?;
                            self.partial.clear();
                            i += used;
                            self.place = Place::Between;
                        }
                        Err(ScanError::Incomplete) => {
                            self.check_carried()?;
                            i += take;
                        }
                        Err(ScanError::Invalid(why)) => {
                            let carried = std::mem::take(&mut self.partial);
                            self.start_skip(why);
                            let mut at = 0;
                            match self.scan_record(&carried, &mut at) {
                                // (What was carried is valid so far, so it ends in this chunk.)
                                Some(end) => {
                                    self.end_skip(&mut on_record)?;
                                    i += end.saturating_sub(before);
                                }
                                None => {
                                    self.skipped = carried.len();
                                    i += take;
                                }
                            }
                        }
                    }
                }
                Place::Skipping => {
                    let start = i;
                    match self.scan_record(chunk, &mut i) {
                        Some(_) => self.end_skip(&mut on_record)?,
                        None => {
                            self.skipped += chunk.len() - start;
                            if self.skipped > MAX_RECORD_BYTES {
                                return Err(too_large());
                            }
                        }
                    }
                }
                Place::Between => {
                    match chunk[i] {
                        b' ' | b'\n' | b'\r' | b'\t' | b',' => {}
                        b'{' => {
                            self.place = Place::InRecord;
                            // The record is read from this brace.
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

    /// Advances through a record being skipped from `*i` (its braces outside strings counted);
    /// returns the end (exclusive) when it closes.
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
                        *i = chunk.len();
                        return None;
                    }
                    Some(off) => {
                        let at = *i + off;
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

    /// A record that is not JSON: skipped from its opening brace to its closing one.
    fn start_skip(&mut self, why: String) {
        self.place = Place::Skipping;
        self.record_depth = 0;
        self.record_in_string = false;
        self.record_escaped = false;
        self.skipped = 0;
        self.skip_reason = why;
    }

    /// The skipped record closed: it is reported, and the scan goes on after it.
    fn end_skip<F>(&mut self, on_record: &mut F) -> Result<(), FormatError>
    where
        F: FnMut(Result<Record<'_>, FormatError>) -> Result<(), FormatError>,
    {
        self.place = Place::Between;
        on_record(Err(FormatError::NotJson(std::mem::take(
            &mut self.skip_reason,
        ))))
    }

    fn check_carried(&self) -> Result<(), FormatError> {
        if self.partial.len() > MAX_RECORD_BYTES {
            return Err(too_large());
        }
        Ok(())
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

fn too_large() -> FormatError {
    FormatError::Shape(format!("a record larger than {MAX_RECORD_BYTES} bytes"))
}

/// A record as scanned, once its bytes are known to be UTF-8.
fn record<'a>(raw: &'a [u8], scanned: Scanned<'a>) -> Result<Record<'a>, FormatError> {
    let text = std::str::from_utf8(raw)
        .map_err(|_| FormatError::Shape("a record that is not UTF-8".into()))?;
    Ok(Record {
        text,
        fields: scanned.fields,
        compact: scanned.compact,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_in_chunks(doc: &str, chunk: usize) -> Result<Vec<String>, FormatError> {
        let mut s = RecordsScanner::new("Records", &[]);
        let mut out = Vec::new();
        for c in doc.as_bytes().chunks(chunk) {
            s.feed(c, |r| {
                out.push(r?.text.to_string());
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
        let mut keys = RecordsScanner::new("Records", &[]);
        keys.feed(b"{\"", |_| Ok(())).unwrap();
        for _ in 0..64 {
            keys.feed(&chunk, |_| Ok(())).unwrap();
        }
        assert!(keys.key.capacity() <= 64, "{}", keys.key.capacity());
        assert!(keys.finish().is_err(), "still truncated");

        let mut record = RecordsScanner::new("Records", &[]);
        record.feed(b"{\"Records\":[{\"k\":\"", |_| Ok(())).unwrap();
        let mut fed = 0;
        let refused = loop {
            match record.feed(&chunk, |_| Ok(())) {
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
        let mut s = RecordsScanner::new("configurationItems", &[]);
        let mut out = Vec::new();
        s.feed(doc.as_bytes(), |r| {
            out.push(r?.text.to_string());
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
            let mut s = RecordsScanner::new("Records", &[]);
            let mut out = Vec::new();
            for c in doc.as_bytes().chunks(chunk) {
                s.feed(c, |r| {
                    let r = r?;
                    let found = matches!(
                        super::super::json::compact(r.text),
                        std::borrow::Cow::Borrowed(_)
                    );
                    assert_eq!(r.compact, found, "{}", r.text);
                    out.push(r.compact);
                    Ok(())
                })
                .unwrap();
            }
            assert_eq!(out, [true, false, false, true], "chunk {chunk}");
        }
    }

    /// A record that is not JSON is reported where it is, and the records after it come out
    /// whole, with their fields, however the bytes are chunked.
    #[test]
    fn a_record_that_is_not_json_is_reported_and_the_rest_go_on() {
        let doc = concat!(
            r#"{"Records":[{"n":"1","x":[1,2]},{"n":"2","bad":tru,"s":"}"},"#,
            r#"{"n":"3","big":""#,
            "                                                                  ",
            r#""},{"n":4},{"n":"5"}]}"#
        );
        for chunk in [1, 2, 3, 7, 16, 64, 4096] {
            let mut s = RecordsScanner::new("Records", &["n"]);
            let mut out = Vec::new();
            for c in doc.as_bytes().chunks(chunk) {
                s.feed(c, |r| {
                    out.push(match r {
                        Ok(r) => r.fields[0].as_deref().unwrap_or("?").to_string(),
                        Err(e) => format!("bad: {e}"),
                    });
                    Ok(())
                })
                .unwrap();
            }
            s.finish().unwrap();
            assert_eq!(out.len(), 5, "chunk {chunk}: {out:?}");
            assert_eq!(out[0], "1");
            assert!(
                out[1].starts_with("bad: not JSON: expected a value"),
                "{out:?}"
            );
            assert_eq!(out[2], "3");
            assert!(out[3].contains("`n` is not a string"), "{out:?}");
            assert_eq!(out[4], "5", "chunk {chunk}");
        }
    }

    #[test]
    fn empty_records_is_fine() {
        assert!(scan_in_chunks(r#"{"Records":[]}"#, 3).unwrap().is_empty());
    }
}
