//! Line-oriented log objects: VPC Flow Logs (space-separated, a header line naming the fields)
//! and CloudFront standard logs (tab-separated, `#Version` / `#Fields` headers). Each data line
//! is an event as it stands, or with `format: json` an object keyed by the file's own field names.

use super::FormatError;

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

/// One data line, understood against its file's field names.
#[derive(Debug, PartialEq, Eq)]
pub struct LineEvent<'a> {
    /// The line itself.
    pub line: &'a str,
    /// Its values, when the line has exactly one per field name.
    pub values: Option<Vec<&'a str>>,
}

/// Which line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFormat {
    FlowLogs,
    CloudFront,
}

/// The field names of one file, learnt from its header.
#[derive(Debug)]
pub struct FieldNames {
    format: LineFormat,
    names: Vec<String>,
    /// Each name as a JSON key (`"name":`), encoded once per header rather than once per line.
    json_keys: Vec<String>,
    first_line: bool,
}

impl FieldNames {
    pub fn new(format: LineFormat) -> Self {
        Self {
            format,
            names: Vec::new(),
            json_keys: Vec::new(),
            first_line: true,
        }
    }

    fn learn<'a>(&mut self, names: impl Iterator<Item = &'a str>) {
        self.names = names.map(String::from).collect();
        self.json_keys = self
            .names
            .iter()
            .map(|n| {
                let mut key = String::with_capacity(n.len() + 3);
                push_json_string(n, &mut key);
                key.push(':');
                key
            })
            .collect();
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Reads one line: a header (learnt, no event) or a data line (an event).
    pub fn line<'a>(&mut self, line: &'a str) -> Option<LineEvent<'a>> {
        let first = std::mem::take(&mut self.first_line);
        match self.format {
            LineFormat::FlowLogs => {
                // The first line of a flow log object names its fields, in the order of the
                // flow log's format (`version account-id ...` by default; any order when custom).
                if first && is_flow_header(line) {
                    self.learn(line.split(' '));
                    return None;
                }
                if line.is_empty() {
                    return None;
                }
                Some(self.event(line, line.split(' ').collect()))
            }
            LineFormat::CloudFront => {
                if let Some(header) = line.strip_prefix('#') {
                    if let Some(fields) = header.strip_prefix("Fields:") {
                        self.learn(fields.split_whitespace());
                    }
                    return None;
                }
                if line.is_empty() {
                    return None;
                }
                Some(self.event(line, line.split('\t').collect()))
            }
        }
    }

    fn event<'a>(&self, line: &'a str, values: Vec<&'a str>) -> LineEvent<'a> {
        let parsed = !self.names.is_empty() && values.len() == self.names.len();
        LineEvent {
            line,
            values: parsed.then_some(values),
        }
    }

    /// The value of field `name` in a parsed event.
    pub fn value<'a>(&self, event: &LineEvent<'a>, name: &str) -> Option<&'a str> {
        let at = self.names.iter().position(|n| n == name)?;
        event.values.as_ref().and_then(|v| v.get(at).copied())
    }

    /// `{"field":"value",...}` in the file's field order, every value a string.
    pub fn to_json(&self, values: &[&str], out: &mut String) {
        out.push('{');
        for (i, (key, value)) in self.json_keys.iter().zip(values).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(key);
            push_json_string(value, out);
        }
        out.push('}');
    }
}

fn push_json_string(s: &str, out: &mut String) {
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

/// `version account-id interface-id ...`: lower-case names with dashes, the first `version`.
/// Every field a VPC flow log record may carry (versions 2 to 8, the ECS fields among them).
/// Custom formats list any of them, in any order.
const FLOW_LOG_FIELDS: [&str; 46] = [
    // v2
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
    // v3
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    // v4
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    // v5
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
    // v7: ECS
    "ecs-cluster-arn",
    "ecs-cluster-name",
    "ecs-container-instance-arn",
    "ecs-container-instance-id",
    "ecs-container-id",
    "ecs-second-container-id",
    "ecs-service-name",
    "ecs-task-definition-arn",
    "ecs-task-arn",
    "ecs-task-id",
    // v8
    "reject-reason",
    // later additions
    "resource-id",
    "encryption-status",
    "ecs-service-arn",
    "ecs-task-definition-family",
    "ecs-container-name",
    "ecs-launch-type",
];

/// A flow log header: every token a known field name (a data line holds addresses, numbers and
/// ids, never only field names).
fn is_flow_header(line: &str) -> bool {
    !line.is_empty() && line.split(' ').all(|f| FLOW_LOG_FIELDS.contains(&f))
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
    fn flow_log_v2_header_and_lines() {
        let mut f = FieldNames::new(LineFormat::FlowLogs);
        let header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
        assert!(f.line(header).is_none());
        let line = "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1620000000 1620000060 ACCEPT OK";
        let e = f.line(line).unwrap();
        assert_eq!(e.line, line);
        assert_eq!(f.value(&e, "account-id"), Some("123456789012"));
        let mut json = String::new();
        f.to_json(e.values.as_deref().unwrap(), &mut json);
        assert!(
            json.starts_with(
                r#"{"version":"2","account-id":"123456789012","interface-id":"eni-1""#
            ),
            "{json}"
        );
        let odd = f.line("2 123 short").unwrap();
        assert!(odd.values.is_none());
    }

    #[test]
    fn cloudfront_headers_and_tabs() {
        let mut f = FieldNames::new(LineFormat::CloudFront);
        assert!(f.line("#Version: 1.0").is_none());
        assert!(
            f.line("#Fields: date time x-edge-location sc-bytes")
                .is_none()
        );
        let e = f.line("2024-05-01\t10:00:00\tFRA2-C1\t1234").unwrap();
        assert_eq!(f.value(&e, "x-edge-location"), Some("FRA2-C1"));
        assert_eq!(f.names(), ["date", "time", "x-edge-location", "sc-bytes"]);
    }
}
