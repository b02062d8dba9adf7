//! Compact JSON without re-serialising: insignificant whitespace is dropped from the text as it
//! stands, so field order, number spelling and escapes stay exactly as AWS wrote them.

use std::borrow::Cow;

/// `raw` (valid JSON) without whitespace outside strings; borrowed when already compact.
pub fn compact(raw: &str) -> Cow<'_, str> {
    let bytes = raw.as_bytes();
    let mut in_string = false;
    let mut escaped = false;
    let is_ws = |b: u8| matches!(b, b' ' | b'\n' | b'\r' | b'\t');
    let first_ws = bytes.iter().position(|&b| {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            false
        } else if b == b'"' {
            in_string = true;
            false
        } else {
            is_ws(b)
        }
    });
    let Some(start) = first_ws else {
        return Cow::Borrowed(raw);
    };
    let mut out = String::with_capacity(raw.len());
    out.push_str(&raw[..start]);
    // The scan above stopped outside a string.
    in_string = false;
    escaped = false;
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn escaped_backslash_before_quote_ends_the_string() {
        assert_eq!(compact(r#"{"a": "x\\", "b": 1}"#), r#"{"a":"x\\","b":1}"#);
    }
}
