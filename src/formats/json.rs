//! Compact JSON without re-serialising: insignificant whitespace is dropped from the text as it
//! stands, so field order, number spelling and escapes stay exactly as AWS wrote them.

use std::borrow::Cow;

use serde::Deserialize;

/// A JSON string, borrowed from the input when it holds no escapes. (serde gives an
/// `Option<Cow<str>>` field an owned copy every time; through this newtype it borrows.)
#[derive(Debug, Deserialize)]
pub struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

/// `raw` compacted, unless the scan that found it saw that it is compact already (see
/// `records::RecordsScanner::feed`).
pub fn compacted(raw: &str, known_compact: bool) -> Cow<'_, str> {
    if known_compact {
        Cow::Borrowed(raw)
    } else {
        compact(raw)
    }
}

/// `raw` (valid JSON) without whitespace outside strings; borrowed when already compact.
pub fn compact(raw: &str) -> Cow<'_, str> {
    let bytes = raw.as_bytes();
    let Some(start) = first_whitespace_outside_strings(bytes) else {
        return Cow::Borrowed(raw);
    };
    let is_ws = |b: u8| matches!(b, b' ' | b'\n' | b'\r' | b'\t');
    let mut in_string = false;
    let mut escaped = false;
    let mut out = String::with_capacity(raw.len());
    out.push_str(&raw[..start]);
    // The scan above stopped outside a string.
    let mut run_start = start;
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if is_ws(b) {
            out.push_str(&raw[run_start..i]);
            run_start = i + 1;
        }
    }
    out.push_str(&raw[run_start..]);
    Cow::Owned(out)
}

/// Where the first whitespace outside a string is. Most of a record's bytes are inside strings,
/// so strings are crossed with memchr (to the next quote or backslash) rather than byte by byte:
/// this check is on the hot path of every CloudTrail record, which is nearly always compact.
fn first_whitespace_outside_strings(bytes: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // Inside a string: jump to its closing quote, stepping over escapes.
                i += 1;
                loop {
                    let at = i + memchr::memchr2(b'"', b'\\', bytes.get(i..)?)?;
                    if bytes[at] == b'\\' {
                        i = at + 2;
                    } else {
                        i = at + 1;
                        break;
                    }
                }
            }
            b' ' | b'\n' | b'\r' | b'\t' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_borrows_when_it_can() {
        #[derive(Deserialize)]
        struct F<'a> {
            #[serde(borrow)]
            a: Option<Text<'a>>,
            #[serde(borrow)]
            b: Option<Text<'a>>,
        }
        let f: F<'_> = serde_json::from_str(r#"{"a":"plain","b":"es\"caped"}"#).unwrap();
        assert!(matches!(
            f.a.as_ref().map(|t| &t.0),
            Some(Cow::Borrowed("plain"))
        ));
        assert_eq!(f.b.as_deref(), Some("es\"caped"));
    }

    #[test]
    fn keeps_compact_text_borrowed() {
        assert!(matches!(
            compact(r#"{"a":"b c","n":1.50}"#),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn drops_only_whitespace_outside_strings() {
        let pretty =
            "{\n  \"a\" : \"b \\\" c\",\n\t\"n\": [1, 2.0e3],\r\n \"u\": \"\\u00e9 x\"\n}\n";
        assert_eq!(
            compact(pretty),
            r#"{"a":"b \" c","n":[1,2.0e3],"u":"\u00e9 x"}"#
        );
    }

    #[test]
    fn whitespace_inside_strings_is_not_compacted_away() {
        let compact_text = r#"{"ua":"aws-cli/2.15 Python/3.11","e":"a\" b","n":1}"#;
        assert!(matches!(compact(compact_text), Cow::Borrowed(_)));
        assert_eq!(compact(r#"{"a":"x\\", "b":" "}"#), r#"{"a":"x\\","b":" "}"#);
        // Malformed input (a dangling backslash) is left alone, never a panic.
        assert!(matches!(compact("{\"a\":\"\\"), Cow::Borrowed(_)));
    }

    #[test]
    fn escaped_backslash_before_quote_ends_the_string() {
        assert_eq!(compact(r#"{"a": "x\\", "b": 1}"#), r#"{"a":"x\\","b":1}"#);
    }
}
