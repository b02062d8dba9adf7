//! What the line-oriented formats share: a splitter with a cap on the line, numbered lines as
//! text, the JSON form of a line (`format: json`: an object keyed by field names, `-` as null),
//! and the tokens of a line with quoted and bracketed fields (ALB, ELB, S3 access logs).

use super::FormatError;
use super::objects::{EventSink, ObjectDecoder, Position};

/// Longer lines are reported rather than buffered without bound.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Splits a stream of chunks into lines (`\n`, a trailing `\r` dropped), memory bounded by the
/// longest line.
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
    /// Skipping the rest of an over-long line.
    skipping: bool,
}

impl LineSplitter {
    /// Feeds bytes; `on_line` gets each complete line without its terminator, or an error for a
    /// line longer than [`MAX_LINE_BYTES`] (which is skipped; the lines after it still come).
    pub fn feed<F>(&mut self, chunk: &[u8], mut on_line: F)
    where
        F: FnMut(Result<&[u8], FormatError>),
    {
        let mut rest = chunk;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            let (line, after) = (&rest[..nl], &rest[nl + 1..]);
            rest = after;
            if std::mem::take(&mut self.skipping) {
                continue;
            }
            if self.partial.len() + line.len() > MAX_LINE_BYTES {
                self.partial.clear();
                on_line(Err(too_long()));
            } else if self.partial.is_empty() {
                on_line(Ok(trim_cr(line)));
            } else {
                self.partial.extend_from_slice(line);
                let whole = std::mem::take(&mut self.partial);
                on_line(Ok(trim_cr(&whole)));
            }
        }
        if !self.skipping {
            if self.partial.len() + rest.len() > MAX_LINE_BYTES {
                self.partial = Vec::new();
                self.skipping = true;
                on_line(Err(too_long()));
            } else {
                self.partial.extend_from_slice(rest);
            }
        }
    }

    /// The last line, when the object does not end with a line break.
    pub fn finish<F>(&mut self, mut on_line: F)
    where
        F: FnMut(Result<&[u8], FormatError>),
    {
        let last = std::mem::take(&mut self.partial);
        if !last.is_empty() && !self.skipping {
            on_line(Ok(trim_cr(&last)));
        }
    }
}

fn too_long() -> FormatError {
    FormatError::Shape(format!("a line longer than {MAX_LINE_BYTES} bytes"))
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The text of a line, or why it is not text.
pub fn utf8(line: &[u8]) -> Result<&str, FormatError> {
    std::str::from_utf8(line)
        .map_err(|_| FormatError::Shape("a line that is not UTF-8 text".into()))
}

/// The lines of an object, numbered from 1, as text; those that are not text or too long are
/// reported to the sink and skipped.
#[derive(Debug, Default)]
pub struct Lines {
    splitter: LineSplitter,
    number: u64,
}

impl Lines {
    /// Feeds bytes; `on_line` gets each complete line with its number.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        out: &mut dyn EventSink,
        on_line: &mut dyn FnMut(u64, &str, &mut dyn EventSink),
    ) {
        let number = &mut self.number;
        self.splitter.feed(chunk, |line| {
            *number += 1;
            match line.and_then(utf8) {
                Ok(text) => on_line(*number, text, &mut *out),
                Err(e) => out.bad_record(Position::Line(*number), &e),
            }
        });
    }

    /// The last line, when the object does not end with a line break.
    pub fn finish(
        &mut self,
        out: &mut dyn EventSink,
        on_line: &mut dyn FnMut(u64, &str, &mut dyn EventSink),
    ) {
        let number = &mut self.number;
        self.splitter.finish(|line| {
            *number += 1;
            match line.and_then(utf8) {
                Ok(text) => on_line(*number, text, &mut *out),
                Err(e) => out.bad_record(Position::Line(*number), &e),
            }
        });
    }
}

/// A format read line by line: what one line (numbered from 1) makes.
pub trait LineRule: Send {
    fn line(&mut self, number: u64, text: &str, out: &mut dyn EventSink);
}

/// Each line an event, as it stands (blank lines left out): a kind the config defines with
/// `split: lines`, messages Firehose extracted.
pub struct AsTheyStand;

impl LineRule for AsTheyStand {
    fn line(&mut self, _: u64, text: &str, out: &mut dyn EventSink) {
        if text.trim().is_empty() {
            return;
        }
        out.event(super::objects::Event {
            message: text,
            event_type: None,
            account: None,
            region: None,
            table: None,
        });
    }
}

/// The decoder of a format read line by line.
pub struct LineDecoder<R> {
    lines: Lines,
    rule: R,
}

impl<R: LineRule + 'static> LineDecoder<R> {
    /// A decoder that reads lines by `rule`.
    pub fn boxed(rule: R) -> Box<dyn ObjectDecoder> {
        Box::new(Self {
            lines: Lines::default(),
            rule,
        })
    }
}

impl<R: LineRule> ObjectDecoder for LineDecoder<R> {
    fn feed(&mut self, chunk: &[u8], out: &mut dyn EventSink) -> Result<(), FormatError> {
        let Self { lines, rule } = self;
        lines.feed(chunk, out, &mut |n, text, out| rule.line(n, text, out));
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn EventSink) -> Result<(), FormatError> {
        let Self { lines, rule } = self;
        lines.finish(out, &mut |n, text, out| rule.line(n, text, out));
        Ok(())
    }
}

/// How lines of quoted fields are laid out (ALB, ELB, S3 access logs): the names of a line's
/// fields, and the account and region a line carries.
pub trait Layout: Send + Sync + 'static {
    /// The names of the fields of a line with these values.
    fn names(&self, values: &[&str]) -> &'static [&'static str];
    /// The account and region in the line's own fields, if any.
    fn account_region<'a>(&self, _values: &[&'a str]) -> (Option<&'a str>, Option<&'a str>) {
        (None, None)
    }
}

/// A layout of one list of names, whose account and region are those of the ARN in one field
/// (ALB: the target group's; S3 access logs: the access point's).
pub struct FixedFields {
    pub names: &'static [&'static str],
    pub arn_at: usize,
}

impl Layout for FixedFields {
    fn names(&self, _values: &[&str]) -> &'static [&'static str] {
        self.names
    }

    fn account_region<'a>(&self, values: &[&'a str]) -> (Option<&'a str>, Option<&'a str>) {
        account_region_of_arn_at(values, self.arn_at)
    }
}

/// Lines of quoted fields (see [`quoted_fields`]) under a [`Layout`]: each shipped as it
/// stands, or with `format: json` as an object keyed by the layout's names.
pub struct QuotedLines<L> {
    layout: L,
    json: bool,
    /// The JSON keys of each list of names met, by its address.
    keys: Vec<(usize, JsonKeys)>,
    scratch: String,
}

impl<L: Layout> QuotedLines<L> {
    pub fn boxed(layout: L, json: bool) -> Box<dyn ObjectDecoder> {
        LineDecoder::boxed(Self {
            layout,
            json,
            keys: Vec::new(),
            scratch: String::new(),
        })
    }
}

impl<L: Layout> LineRule for QuotedLines<L> {
    fn line(&mut self, number: u64, text: &str, out: &mut dyn EventSink) {
        if text.is_empty() {
            return;
        }
        let Some(values) = quoted_fields(text) else {
            return out.bad_record(
                Position::Line(number),
                &FormatError::Shape("a quote that is not closed".into()),
            );
        };
        let (account, region) = self.layout.account_region(&values);
        let message = if self.json {
            let names = self.layout.names(&values);
            let at = names.as_ptr() as usize;
            if !self.keys.iter().any(|(k, _)| *k == at) {
                self.keys.push((at, JsonKeys::new(names.iter().copied())));
            }
            let keys = self.keys.iter().find(|(k, _)| *k == at).map(|(_, k)| k);
            self.scratch.clear();
            if let Some(keys) = keys {
                named_json(keys, &values, &mut self.scratch);
            }
            self.scratch.as_str()
        } else {
            text
        };
        out.event(super::objects::Event {
            message,
            event_type: None,
            account,
            region,
            table: None,
        });
    }
}

/// The account and region of the ARN at field `at` of a line's values, each when present.
pub fn account_region_of_arn_at<'a>(
    values: &[&'a str],
    at: usize,
) -> (Option<&'a str>, Option<&'a str>) {
    let (region, account) = values
        .get(at)
        .map_or((None, None), |arn| arn_region_account(arn));
    (account, region)
}

/// The region and account of an ARN (`arn:aws:SERVICE:REGION:ACCOUNT:...`), each when present.
pub fn arn_region_account(arn: &str) -> (Option<&str>, Option<&str>) {
    let mut parts = arn.split(':');
    if parts.next() != Some("arn") {
        return (None, None);
    }
    let mut parts = parts.skip(2);
    let region = parts.next().and_then(super::objects::present);
    let account = parts.next().and_then(super::objects::present);
    (region, account)
}

/// Field names encoded once as JSON keys (`"name":`), for the JSON form of lines.
#[derive(Debug, Default, Clone)]
pub struct JsonKeys {
    keys: Vec<String>,
}

impl JsonKeys {
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            keys: names
                .into_iter()
                .map(|n| {
                    let mut key = String::with_capacity(n.len() + 3);
                    push_json_string(n, &mut key);
                    key.push(':');
                    key
                })
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// `{"field":"value",...}` in the names' order, every value a string, and `-` (what AWS
    /// writes for a field that does not apply) as null. Values past the names are left out.
    pub fn to_json(&self, values: &[&str], out: &mut String) {
        out.push('{');
        for (i, (key, value)) in self.keys.iter().zip(values).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(key);
            if *value == "-" {
                out.push_str("null");
            } else {
                push_json_string(value, out);
            }
        }
        out.push('}');
    }
}

/// The fields of a line separated by single spaces, where a field may be a quoted string
/// (`"GET http://x/ HTTP/1.1"`, with `\"` inside) or a bracketed one (`[06/Feb/2019:00:00:38
/// +0000]`): the field's text without its quotes or brackets. None when a quote is not closed.
pub fn quoted_fields(line: &str) -> Option<Vec<&str>> {
    let bytes = line.as_bytes();
    let mut fields = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' => i += 1,
            b'"' => {
                let start = i + 1;
                let mut j = start;
                loop {
                    match bytes.get(j)? {
                        b'\\' => j += 2,
                        b'"' => break,
                        _ => j += 1,
                    }
                }
                fields.push(line.get(start..j)?);
                i = j + 1;
            }
            // A bracketed field ends at a `]` followed by a space or the end; `[2001:db8::1]:80`
            // (an IPv6 address and port) is a plain field.
            b'[' if bracket_end(bytes, i).is_some() => {
                let end = bracket_end(bytes, i)?;
                fields.push(&line[i + 1..end]);
                i = end + 1;
            }
            _ => {
                let end = memchr::memchr(b' ', &bytes[i..]).map_or(bytes.len(), |n| i + n);
                fields.push(&line[i..end]);
                i = end;
            }
        }
    }
    Some(fields)
}

/// Where the bracketed field starting at `start` ends (its `]`), when it is one.
fn bracket_end(bytes: &[u8], start: usize) -> Option<usize> {
    let end = start + 1 + memchr::memchr(b']', &bytes[start + 1..])?;
    matches!(bytes.get(end + 1), None | Some(b' ')).then_some(end)
}

/// A JSON object of `names` and `values`; values past the names under `field_N` (N from 1),
/// so no value is lost when AWS adds fields at the end of its lines.
pub fn named_json(names: &JsonKeys, values: &[&str], out: &mut String) {
    names.to_json(values, out);
    if values.len() > names.len() {
        out.pop();
        for (n, value) in values.iter().enumerate().skip(names.len()) {
            if n > 0 {
                out.push(',');
            }
            out.push_str(&format!("\"field_{}\":", n + 1));
            push_json_string(value, out);
        }
        out.push('}');
    }
}

pub fn push_json_string(s: &str, out: &mut String) {
    // What serde_json would escape: `"`, `\` and control characters. Most values have none and
    // are copied as they are, without serde_json's allocation.
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else if let Ok(quoted) = serde_json::to_string(s) {
        // Serialising a &str into a String cannot fail.
        out.push_str(&quoted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_what_serde_json_writes() {
        for v in [
            "",
            "10.0.0.1",
            "ünïcødé",
            "a\"quote",
            "back\\slash",
            "tab\tand\nline",
            "\u{1}\u{1f}",
            "del\u{7f}",
            "/slash/",
        ] {
            let mut out = String::new();
            push_json_string(v, &mut out);
            assert_eq!(out, serde_json::to_string(v).unwrap(), "{v:?}");
        }
    }

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, |l| {
                out.push(String::from_utf8(l.unwrap().to_vec()).unwrap())
            });
        }
        s.finish(|l| out.push(String::from_utf8(l.unwrap().to_vec()).unwrap()));
        out
    }

    #[test]
    fn lines_across_chunks_and_crlf() {
        assert_eq!(
            split(&[b"ab", b"c\r\nd", b"ef\n", b"last"]),
            ["abc", "def", "last"]
        );
        assert_eq!(split(&[b"one\n"]), ["one"]);
    }

    /// Regression: a long line ended in the chunk that made it too long was passed on whole,
    /// and the lines after an over-long one in the same chunk were lost.
    #[test]
    fn over_long_lines_are_reported_and_skipped_and_the_rest_kept() {
        for split_at in [10, MAX_LINE_BYTES - 5, MAX_LINE_BYTES + 3] {
            let mut bytes = b"first\n".to_vec();
            bytes.extend(vec![b'x'; MAX_LINE_BYTES + 5]);
            bytes.extend_from_slice(b"\nnext\nlast\n");
            let (a, b) = bytes.split_at(split_at);
            let mut s = LineSplitter::default();
            let (mut lines, mut errors) = (Vec::new(), 0);
            for chunk in [a, b] {
                s.feed(chunk, |l| match l {
                    Ok(l) => lines.push(String::from_utf8(l.to_vec()).unwrap()),
                    Err(_) => errors += 1,
                });
            }
            assert_eq!(lines, ["first", "next", "last"], "split at {split_at}");
            assert_eq!(errors, 1, "split at {split_at}");
        }
    }

    #[test]
    fn arn_parts() {
        assert_eq!(
            arn_region_account(
                "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/x/1"
            ),
            (Some("us-east-2"), Some("123456789012"))
        );
        assert_eq!(arn_region_account("arn:aws:s3:::bucket"), (None, None));
        assert_eq!(arn_region_account("-"), (None, None));
    }

    #[test]
    fn quoted_and_bracketed_fields() {
        assert_eq!(
            quoted_fields(r#"a [06/Feb/2019:00:00:38 +0000] "GET /x HTTP/1.1" "say \"hi\"" - z"#)
                .unwrap(),
            [
                "a",
                "06/Feb/2019:00:00:38 +0000",
                "GET /x HTTP/1.1",
                r#"say \"hi\""#,
                "-",
                "z"
            ]
        );
        assert!(quoted_fields(r#"a "open"#).is_none());
        assert_eq!(
            quoted_fields("h [fe80::1]:443 [2001:db8::1]:80 z").unwrap(),
            ["h", "[fe80::1]:443", "[2001:db8::1]:80", "z"]
        );
    }

    #[test]
    fn json_of_named_values_keeps_the_extra_ones_and_nulls_dashes() {
        let keys = JsonKeys::new(["a", "b"]);
        let mut out = String::new();
        named_json(&keys, &["1", "-", "3"], &mut out);
        assert_eq!(out, r#"{"a":"1","b":null,"field_3":"3"}"#);
        assert!(serde_json::from_str::<serde_json::Value>(&out).is_ok());
    }
}
