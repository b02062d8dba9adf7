//! JSON objects one after another (with or without whitespace between them: CloudWatch Logs
//! envelopes as Firehose writes them, `json_stream` kinds), or the elements of one array
//! (`json_array` kinds), read as a stream: each object is found with [`scan_object`] over what
//! is buffered, so one may span chunks, and memory holds at most one object (capped).
//!
//! An object that is not JSON ends the reading: in a stream there is no telling where the next
//! object starts.

use super::FormatError;
use super::json::{ScanError, Scanned, scan_object};

/// Where a sequence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Before anything (an array's `[`).
    Start,
    /// Between objects.
    Between,
    /// After an array's `]`.
    Ended,
}

/// Push-based scanner of one object's sequence.
#[derive(Debug)]
pub struct JsonSeq {
    /// The objects are the elements of one array.
    array: bool,
    /// The fields [`scan_object`] picks up from each object.
    names: &'static [&'static str],
    /// The most bytes one object may take.
    cap: usize,
    /// The bytes not read yet: the start of an object that goes on in the next chunk.
    buf: Vec<u8>,
    place: Place,
    /// Objects found so far.
    objects: u64,
}

impl JsonSeq {
    /// A scanner of objects one after another (`array`: the elements of one array), picking up
    /// the top-level strings `names`, each object at most `cap` bytes.
    pub fn new(array: bool, names: &'static [&'static str], cap: usize) -> Self {
        Self {
            array,
            names,
            cap,
            buf: Vec::new(),
            place: Place::Start,
            objects: 0,
        }
    }

    /// Feeds the next bytes; `on_object` gets each whole object's number (from 1) and text with
    /// what the scan found, or why it is not text.
    pub fn feed<F>(&mut self, chunk: &[u8], on_object: F) -> Result<(), FormatError>
    where
        F: FnMut(u64, Result<(&str, &Scanned<'_>), FormatError>) -> Result<(), FormatError>,
    {
        self.buf.extend_from_slice(chunk);
        self.drain(on_object)
    }

    /// The end of the bytes: what is left, and whether the sequence was whole.
    pub fn finish<F>(&mut self, on_object: F) -> Result<(), FormatError>
    where
        F: FnMut(u64, Result<(&str, &Scanned<'_>), FormatError>) -> Result<(), FormatError>,
    {
        self.drain(on_object)?;
        let cut = !self.buf.is_empty() || (self.array && self.place != Place::Ended);
        if cut {
            return Err(shape("the object ends before its JSON does (truncated?)"));
        }
        Ok(())
    }

    /// Reads every whole object buffered; what is left is the start of the next one.
    fn drain<F>(&mut self, mut on_object: F) -> Result<(), FormatError>
    where
        F: FnMut(u64, Result<(&str, &Scanned<'_>), FormatError>) -> Result<(), FormatError>,
    {
        let mut i = 0;
        let result = loop {
            while self.buf.get(i).is_some_and(u8::is_ascii_whitespace) {
                i += 1;
            }
            let Some(&b) = self.buf.get(i) else {
                break Ok(());
            };
            match (self.array, self.place, b) {
                (true, Place::Start, b'[') => {
                    self.place = Place::Between;
                    i += 1;
                    continue;
                }
                (true, Place::Start, _) => break Err(shape("expected a JSON array")),
                (true, Place::Between, b',') => {
                    i += 1;
                    continue;
                }
                (true, Place::Between, b']') => {
                    self.place = Place::Ended;
                    i += 1;
                    continue;
                }
                (_, Place::Ended, _) => break Err(shape("something after the JSON array")),
                _ => {}
            }
            match scan_object(&self.buf[i..], self.names) {
                Ok(scanned) => {
                    self.objects += 1;
                    let bytes = &self.buf[i..i + scanned.end];
                    let text = std::str::from_utf8(bytes)
                        .map(|text| (text, &scanned))
                        .map_err(|_| shape("a record that is not UTF-8 text"));
                    if let Err(e) = on_object(self.objects, text) {
                        break Err(e);
                    }
                    i += scanned.end;
                }
                Err(ScanError::Incomplete) => break Ok(()),
                Err(ScanError::Invalid(why)) => {
                    break Err(FormatError::NotJson(format!(
                        "record {}: {why}",
                        self.objects + 1
                    )));
                }
            }
        };
        self.buf.drain(..i);
        if result.is_ok() && self.buf.len() > self.cap {
            return Err(shape(&format!("a record larger than {} bytes", self.cap)));
        }
        result
    }
}

fn shape(why: &str) -> FormatError {
    FormatError::Shape(why.to_string())
}
