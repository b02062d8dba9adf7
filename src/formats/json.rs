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

/// The most names [`scan_object`] looks for at once.
pub const MAX_FIELDS: usize = 4;
/// Nesting deeper than this is refused (serde_json's own limit).
const MAX_DEPTH: u32 = 128;

/// What [`scan_object`] found: where the object ends, the string values of the names asked for
/// (at its top level; `None` when absent or `null`), and whether it is compact.
#[derive(Debug)]
pub struct Scanned<'a> {
    /// The byte after the object's closing brace.
    pub end: usize,
    /// In the order of the names asked for; borrowed when the value holds no escapes.
    pub fields: [Option<Cow<'a, str>>; MAX_FIELDS],
    /// No whitespace outside strings ([`compacted`] has nothing to do).
    pub compact: bool,
}

/// Why [`scan_object`] found no object.
#[derive(Debug, PartialEq, Eq)]
pub enum ScanError {
    /// The bytes end inside the object, which is valid so far.
    Incomplete,
    /// Not JSON: what is wrong, and at which byte.
    Invalid(String),
}

/// Reads the JSON object at the start of `bytes` in one pass: it is validated as serde_json
/// would (grammar, escapes, control characters, depth; UTF-8 is the caller's), its end is found,
/// and the top-level string values named in `names` are picked up. serde_json would take a
/// second pass over the record (after the scan that frames it) and a third to tell whether it
/// is compact: this pass is the one CPU cost of a CloudTrail record besides gunzip and the copy.
pub fn scan_object<'a>(bytes: &'a [u8], names: &[&str]) -> Result<Scanned<'a>, ScanError> {
    let mut p = Scanner {
        b: bytes,
        i: 0,
        compact: true,
    };
    let mut fields: [Option<Cow<'a, str>>; MAX_FIELDS] = Default::default();
    let mut seen = [false; MAX_FIELDS];
    if p.peek()? != b'{' {
        return Err(p.invalid("expected a JSON object"));
    }
    p.i += 1;
    // One bit per open container, 1 for an object; `depth` of them.
    let (mut kinds, mut depth) = (1u128, 1u32);
    let mut want = Want::FirstKey;
    // The field whose value comes next, when it is one of `names` at the top level.
    let mut capture: Option<usize> = None;
    loop {
        let c = p.next_token()?;
        match want {
            Want::FirstKey | Want::Key => {
                if c == b'}' && want == Want::FirstKey {
                    // `{}`: closed as after a value.
                    want = Want::After;
                    continue;
                }
                if c != b'"' {
                    return Err(p.invalid("expected a key (a string)"));
                }
                let key = p.string()?;
                if depth == 1 {
                    capture = if key.escaped {
                        let key = key.text(bytes).map_err(|e| p.invalid(&e))?;
                        names.iter().position(|n| *n == key)
                    } else {
                        let raw = &bytes[key.start..key.end];
                        names.iter().position(|n| n.as_bytes() == raw)
                    };
                    if let Some(k) = capture
                        && std::mem::replace(&mut seen[k], true)
                    {
                        return Err(p.invalid(&format!("duplicate field `{}`", names[k])));
                    }
                }
                if p.next_token()? != b':' {
                    return Err(p.invalid("expected `:` after a key"));
                }
                p.i += 1;
                want = Want::Value;
            }
            Want::FirstValue | Want::Value => {
                let field = capture.take();
                let not_text = |p: &Scanner<'_>, k: usize| {
                    p.invalid(&format!("`{}` is not a string", names[k]))
                };
                match c {
                    // `[]`: closed as after a value.
                    b']' if want == Want::FirstValue => want = Want::After,
                    b'{' | b'[' => {
                        if let Some(k) = field {
                            return Err(not_text(&p, k));
                        }
                        if depth >= MAX_DEPTH {
                            return Err(p.invalid("nested too deep"));
                        }
                        p.i += 1;
                        kinds = (kinds << 1) | u128::from(c == b'{');
                        depth += 1;
                        want = if c == b'{' {
                            Want::FirstKey
                        } else {
                            Want::FirstValue
                        };
                    }
                    b'"' => {
                        let value = p.string()?;
                        if let Some(k) = field {
                            fields[k] = Some(value.text(bytes).map_err(|e| p.invalid(&e))?);
                        }
                        want = Want::After;
                    }
                    b't' | b'f' | b'n' => {
                        let word: &[u8] = match c {
                            b't' => b"true",
                            b'f' => b"false",
                            _ => b"null",
                        };
                        if let Some(k) = field.filter(|_| c != b'n') {
                            return Err(not_text(&p, k));
                        }
                        p.literal(word)?;
                        want = Want::After;
                    }
                    b'-' | b'0'..=b'9' => {
                        if let Some(k) = field {
                            return Err(not_text(&p, k));
                        }
                        p.number()?;
                        want = Want::After;
                    }
                    _ => return Err(p.invalid("expected a value")),
                }
            }
            Want::After => {
                let in_object = kinds & 1 == 1;
                match c {
                    b',' => {
                        p.i += 1;
                        want = if in_object { Want::Key } else { Want::Value };
                    }
                    b'}' | b']' if (c == b'}') == in_object => {
                        p.i += 1;
                        (kinds, depth) = (kinds >> 1, depth - 1);
                        if depth == 0 {
                            return Ok(Scanned {
                                end: p.i,
                                fields,
                                compact: p.compact,
                            });
                        }
                    }
                    _ if in_object => return Err(p.invalid("expected `,` or `}`")),
                    _ => return Err(p.invalid("expected `,` or `]`")),
                }
            }
        }
    }
}

/// [`scan_object`] of `text` that is one JSON object and nothing after it but whitespace (a
/// JSON line, a record on its own).
pub fn scan_alone<'a>(text: &'a str, names: &[&str]) -> Result<Scanned<'a>, String> {
    let scanned = scan_object(text.as_bytes(), names).map_err(|e| match e {
        ScanError::Incomplete => "it ends before its JSON does".to_string(),
        ScanError::Invalid(why) => why,
    })?;
    if !text[scanned.end..].trim_start().is_empty() {
        return Err(format!(
            "something after the JSON object, at byte {}",
            scanned.end + 1
        ));
    }
    Ok(scanned)
}

/// A JSON string as it stands in the bytes read, quotes included.
#[derive(Debug, Clone, Copy)]
pub struct RawText<'a> {
    quoted: &'a str,
    escaped: bool,
}

impl<'a> RawText<'a> {
    /// `""`.
    pub const EMPTY: RawText<'static> = RawText {
        quoted: "\"\"",
        escaped: false,
    };

    /// Its text, unescaped; borrowed when it holds no escapes.
    #[inline]
    pub fn text(&self) -> Result<Cow<'a, str>, String> {
        if self.escaped {
            serde_json::from_str::<String>(self.quoted)
                .map(Cow::Owned)
                .map_err(|e| e.to_string())
        } else {
            Ok(Cow::Borrowed(&self.quoted[1..self.quoted.len() - 1]))
        }
    }

    /// The string as the JSON text it was read from, quotes included, when it holds no escapes
    /// (then it is what serde_json writes for its text: no quote, backslash or control
    /// character is in it).
    #[inline]
    pub fn plain_json(&self) -> Option<&'a str> {
        (!self.escaped).then_some(self.quoted)
    }
}

/// Where a string read by a [`Reader`] stands in its bytes.
#[derive(Debug, Clone, Copy)]
pub struct StrSpan {
    /// Its opening quote.
    start: usize,
    /// Its closing quote.
    end: usize,
    escaped: bool,
}

impl StrSpan {
    /// The string in `text`, the bytes it was read from once they are known to be UTF-8 (its
    /// quotes are ASCII, so it starts and ends on characters).
    #[inline]
    pub fn in_text(self, text: &str) -> RawText<'_> {
        RawText {
            quoted: text.get(self.start..=self.end).unwrap_or("\"\""),
            escaped: self.escaped,
        }
    }
}

/// Reads JSON values one token at a time, for a caller that knows the shape it expects: each
/// call reads one value (or one key), validated as [`scan_object`] validates (UTF-8 is the
/// caller's: check the bytes a value took once, then take its strings with
/// [`StrSpan::in_text`]), without building anything.
pub struct Reader<'a> {
    p: Scanner<'a>,
    depth: u32,
}

impl<'a> Reader<'a> {
    #[inline]
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            p: Scanner {
                b: bytes,
                i: 0,
                compact: true,
            },
            depth: 0,
        }
    }

    /// How many bytes have been read.
    #[inline]
    pub fn position(&self) -> usize {
        self.p.i
    }

    #[inline]
    pub fn invalid(&self, what: &str) -> ScanError {
        self.p.invalid(what)
    }

    /// Reads `open` (`{` or `[`) where a value is expected.
    #[inline]
    fn open(&mut self, open: u8, what: &str) -> Result<(), ScanError> {
        if self.p.next_token()? != open {
            return Err(self.p.invalid(what));
        }
        if self.depth >= MAX_DEPTH {
            return Err(self.p.invalid("nested too deep"));
        }
        self.depth += 1;
        self.p.i += 1;
        Ok(())
    }

    /// Reads the `{` of an object.
    #[inline]
    pub fn object(&mut self) -> Result<(), ScanError> {
        self.open(b'{', "expected a JSON object")
    }

    /// Reads the `[` of an array.
    #[inline]
    pub fn array(&mut self) -> Result<(), ScanError> {
        self.open(b'[', "expected a JSON array")
    }

    /// Whether another member (or element) follows in the container open, `close` ending it:
    /// reads the `,` before it, or the `close` (then false). `first` is true before the first.
    #[inline]
    fn more(&mut self, close: u8, first: &mut bool) -> Result<bool, ScanError> {
        let c = self.p.next_token()?;
        if c == close {
            self.p.i += 1;
            self.depth -= 1;
            return Ok(false);
        }
        if !std::mem::take(first) {
            if c != b',' {
                return Err(self.p.invalid(if close == b'}' {
                    "expected `,` or `}`"
                } else {
                    "expected `,` or `]`"
                }));
            }
            self.p.i += 1;
        }
        Ok(true)
    }

    /// The next key of the object open (its `:` read), or None at its end.
    #[inline]
    pub fn key(&mut self, first: &mut bool) -> Result<Option<StrSpan>, ScanError> {
        if !self.more(b'}', first)? {
            return Ok(None);
        }
        if self.p.next_token()? != b'"' {
            return Err(self.p.invalid("expected a key (a string)"));
        }
        let key = self.span()?;
        if self.p.next_token()? != b':' {
            return Err(self.p.invalid("expected `:` after a key"));
        }
        self.p.i += 1;
        Ok(Some(key))
    }

    /// Whether another element of the array open follows (false at its end).
    #[inline]
    pub fn element(&mut self, first: &mut bool) -> Result<bool, ScanError> {
        self.more(b']', first)
    }

    #[inline]
    fn span(&mut self) -> Result<StrSpan, ScanError> {
        let span = self.p.string()?;
        Ok(StrSpan {
            start: span.start - 1,
            end: span.end,
            escaped: span.escaped,
        })
    }

    /// A key's name, unescaped (empty when its escapes make no text).
    #[inline]
    pub fn name(&self, key: StrSpan) -> Cow<'a, [u8]> {
        let quoted = self.p.b.get(key.start..=key.end).unwrap_or_default();
        if key.escaped {
            Cow::Owned(
                serde_json::from_slice::<String>(quoted)
                    .unwrap_or_default()
                    .into_bytes(),
            )
        } else {
            Cow::Borrowed(
                quoted
                    .get(1..quoted.len().saturating_sub(1))
                    .unwrap_or_default(),
            )
        }
    }

    /// A string, or None for `null`.
    #[inline]
    pub fn string_or_null(&mut self) -> Result<Option<StrSpan>, ScanError> {
        match self.p.next_token()? {
            b'"' => self.span().map(Some),
            b'n' => self.p.literal(b"null").map(|()| None),
            _ => Err(self.p.invalid("expected a string")),
        }
    }

    /// An integer (an `i64`).
    #[inline]
    pub fn integer(&mut self) -> Result<i64, ScanError> {
        let c = self.p.next_token()?;
        if !(c == b'-' || c.is_ascii_digit()) {
            return Err(self.p.invalid("expected an integer"));
        }
        let start = self.p.i;
        self.p.number()?;
        std::str::from_utf8(&self.p.b[start..self.p.i])
            .ok()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| self.p.invalid("expected an integer"))
    }

    /// Reads past the next value, whatever it is.
    #[inline]
    pub fn skip(&mut self) -> Result<(), ScanError> {
        match self.p.next_token()? {
            b'"' => self.p.string().map(|_| ()),
            b'{' => {
                self.object()?;
                let mut first = true;
                while self.more(b'}', &mut first)? {
                    if self.p.next_token()? != b'"' {
                        return Err(self.p.invalid("expected a key (a string)"));
                    }
                    self.p.string()?;
                    if self.p.next_token()? != b':' {
                        return Err(self.p.invalid("expected `:` after a key"));
                    }
                    self.p.i += 1;
                    self.skip()?;
                }
                Ok(())
            }
            b'[' => {
                self.array()?;
                let mut first = true;
                while self.element(&mut first)? {
                    self.skip()?;
                }
                Ok(())
            }
            b't' => self.p.literal(b"true"),
            b'f' => self.p.literal(b"false"),
            b'n' => self.p.literal(b"null"),
            b'-' | b'0'..=b'9' => self.p.number(),
            _ => Err(self.p.invalid("expected a value")),
        }
    }
}

/// What comes next in [`scan_object`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// After `{`: a key or `}`.
    FirstKey,
    /// After `,` in an object.
    Key,
    /// After `[`: a value or `]`.
    FirstValue,
    /// After `:`, or `,` in an array.
    Value,
    /// After a value: `,` or the container's end.
    After,
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    compact: bool,
}

/// A string's content (between its quotes) in the scanned bytes.
struct Span {
    start: usize,
    end: usize,
    escaped: bool,
}

impl Span {
    fn text<'a>(&self, bytes: &'a [u8]) -> Result<Cow<'a, str>, String> {
        if self.escaped {
            serde_json::from_slice::<String>(&bytes[self.start - 1..=self.end])
                .map(Cow::Owned)
                .map_err(|e| e.to_string())
        } else {
            std::str::from_utf8(&bytes[self.start..self.end])
                .map(Cow::Borrowed)
                .map_err(|_| "a string that is not UTF-8".to_string())
        }
    }
}

impl Scanner<'_> {
    fn invalid(&self, what: &str) -> ScanError {
        ScanError::Invalid(format!("{what} at byte {}", self.i + 1))
    }

    fn peek(&self) -> Result<u8, ScanError> {
        self.b.get(self.i).copied().ok_or(ScanError::Incomplete)
    }

    /// The next byte that is not whitespace (whitespace makes the object not compact).
    #[inline(always)]
    fn next_token(&mut self) -> Result<u8, ScanError> {
        loop {
            match self.peek()? {
                b' ' | b'\n' | b'\r' | b'\t' => {
                    self.compact = false;
                    self.i += 1;
                }
                c => return Ok(c),
            }
        }
    }

    /// The string opening at `self.i`, crossed eight bytes at a time to its closing quote.
    /// (Inlined: returned through memory, its result cost more than the scan of a short string.)
    #[inline(always)]
    fn string(&mut self) -> Result<Span, ScanError> {
        let start = self.i + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            i += special_byte(&self.b[i..]).ok_or(ScanError::Incomplete)?;
            match self.b[i] {
                b'"' => {
                    self.i = i + 1;
                    return Ok(Span {
                        start,
                        end: i,
                        escaped,
                    });
                }
                b'\\' => {
                    escaped = true;
                    match self.b.get(i + 1) {
                        None => return Err(ScanError::Incomplete),
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u') => {
                            let hex = self.b.get(i + 2..i + 6);
                            match hex {
                                Some(h) if h.iter().all(u8::is_ascii_hexdigit) => i += 6,
                                Some(_) => {
                                    self.i = i;
                                    return Err(self.invalid("a bad \\u escape"));
                                }
                                None if self.b[i + 2..].iter().all(u8::is_ascii_hexdigit) => {
                                    return Err(ScanError::Incomplete);
                                }
                                None => {
                                    self.i = i;
                                    return Err(self.invalid("a bad \\u escape"));
                                }
                            }
                        }
                        Some(_) => {
                            self.i = i;
                            return Err(self.invalid("a bad escape"));
                        }
                    }
                }
                _ => {
                    self.i = i;
                    return Err(self.invalid("a control character inside a string"));
                }
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), ScanError> {
        let rest = &self.b[self.i..];
        if rest.starts_with(word) {
            self.i += word.len();
            Ok(())
        } else if word.starts_with(rest) {
            Err(ScanError::Incomplete)
        } else {
            Err(self.invalid("expected a value"))
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`; a number at the end of the
    /// bytes may go on.
    fn number(&mut self) -> Result<(), ScanError> {
        let b = self.b;
        let mut i = self.i;
        let digits = |i: &mut usize| {
            let from = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => {}
        }
        let mut ok = i > self.i && b[i - 1].is_ascii_digit();
        if ok && b.get(i) == Some(&b'.') {
            i += 1;
            ok = digits(&mut i);
        }
        if ok && matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            ok = digits(&mut i);
        }
        if i >= b.len() {
            return Err(ScanError::Incomplete);
        }
        if !ok {
            self.i = i;
            return Err(self.invalid("a malformed number"));
        }
        self.i = i;
        Ok(())
    }
}

/// Where the first `"`, `\` or control character (below 0x20) is in `b`, eight bytes at a time.
#[inline(always)]
fn special_byte(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte's high bit is set where it is zero (the lowest such bit is exact).
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut chunks = b.chunks_exact(8);
    let mut at = 0;
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let found = zero(w ^ (ONES * u64::from(b'"')))
            | zero(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| at + p)
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

    const NAMES: &[&str] = &["eventName", "awsRegion"];

    fn scanned(text: &str) -> Result<(usize, Vec<Option<String>>, bool), ScanError> {
        scan_object(text.as_bytes(), NAMES).map(|s| {
            (
                s.end,
                s.fields[..NAMES.len()]
                    .iter()
                    .map(|f| f.as_deref().map(String::from))
                    .collect(),
                s.compact,
            )
        })
    }

    #[test]
    fn the_scan_finds_the_end_the_fields_and_compactness() {
        let text = r#"{"eventName":"GetObject","x":{"awsRegion":"no"},"l":[1,-2.5e3,true,null,"s\"}"],"awsRegion":"eu-west-1"}tail"#;
        let (end, fields, compact) = scanned(text).unwrap();
        assert_eq!(&text[end..], "tail");
        assert_eq!(fields, [Some("GetObject".into()), Some("eu-west-1".into())]);
        assert!(compact);
        let (_, fields, compact) =
            scanned("{ \"eventName\" : \"a\\u0042\",\n\"awsRegion\":null}").unwrap();
        assert_eq!(fields, [Some("aB".into()), None]);
        assert!(!compact);
        assert!(
            scanned(r#"{"ua":"a b","n":1}"#).unwrap().2,
            "spaces in strings"
        );
    }

    /// Every prefix of an object is incomplete, never invalid; whatever serde_json refuses,
    /// the scan refuses.
    /// JSON that serde_json refuses.
    const MALFORMED: [&str; 13] = [
        r#"{"a":tru}"#,
        r#"{"a":01}"#,
        r#"{"a":1.}"#,
        r#"{"a":-}"#,
        r#"{"a":1e}"#,
        r#"{"a" 1}"#,
        r#"{"a":1,}"#,
        r#"{"a":[1,]}"#,
        r#"{"a":[1}"#,
        r#"{a:1}"#,
        r#"{"a":"\x"}"#,
        r#"{"a":"\u12G4"}"#,
        "{\"a\":\"tab\there\"}",
    ];

    #[test]
    fn the_scan_agrees_with_serde_json() {
        let good = r#"{"eventName":"x\\y\u00e9","a":[{},[],{"b":[0,1.5,-0.0e-1,2E+3]}],"t":true,"f":false,"n":null,"awsRegion":"r"}"#;
        for cut in 0..good.len() {
            assert_eq!(
                scanned(&good[..cut]).err(),
                Some(ScanError::Incomplete),
                "{}",
                &good[..cut]
            );
        }
        assert!(scanned(good).is_ok());
        let not_records = [
            r#"{"eventName":5}"#,
            r#"{"eventName":{"x":1}}"#,
            r#"{"eventName":"a","eventName":"b"}"#,
            r#"["eventName"]"#,
        ];
        for bad in MALFORMED.iter().chain(&not_records) {
            assert!(
                matches!(scanned(bad), Err(ScanError::Invalid(_))),
                "{bad}: {:?}",
                scanned(bad)
            );
            assert!(
                serde_json::from_str::<serde_json::Value>(bad).is_err()
                    || bad.contains("eventName"),
                "{bad}"
            );
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(scanned(&deep), Err(ScanError::Invalid(_))));
    }

    #[test]
    fn the_reader_skips_what_serde_json_reads_and_refuses_the_rest() {
        let skip = |text: &str| {
            let mut r = Reader::new(text.as_bytes());
            r.skip().map(|()| r.position())
        };
        let good = r#"{"eventName":"x\\y\u00e9","a":[{},[],{"b":[0,1.5,-0.0e-1,2E+3]}],"t":true,"f":false,"n":null} "#;
        assert_eq!(skip(good), Ok(good.len() - 1));
        for cut in 0..good.len() - 1 {
            assert_eq!(
                skip(&good[..cut]),
                Err(ScanError::Incomplete),
                "{}",
                &good[..cut]
            );
        }
        for bad in MALFORMED {
            assert!(matches!(skip(bad), Err(ScanError::Invalid(_))), "{bad}");
            assert!(
                serde_json::from_str::<serde_json::Value>(bad).is_err(),
                "{bad}"
            );
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(skip(&deep), Err(ScanError::Invalid(_))));
        // Keys, strings and integers, as a caller that knows the shape reads them.
        let text = r#"{"k":"pl\"ain","\u006e":-12,"z":null,"p":"plain"}"#;
        let mut r = Reader::new(text.as_bytes());
        r.object().unwrap();
        let mut first = true;
        let key = r.key(&mut first).unwrap().unwrap();
        assert_eq!(r.name(key).as_ref(), b"k");
        let value = r.string_or_null().unwrap().unwrap().in_text(text);
        assert_eq!(value.text().unwrap(), "pl\"ain");
        assert_eq!(value.plain_json(), None, "escaped: not as it stands");
        let key = r.key(&mut first).unwrap().unwrap();
        assert_eq!(r.name(key).as_ref(), b"n", "unescaped");
        assert_eq!(r.integer(), Ok(-12));
        r.key(&mut first).unwrap().unwrap();
        assert!(r.string_or_null().unwrap().is_none());
        r.key(&mut first).unwrap().unwrap();
        let plain = r.string_or_null().unwrap().unwrap().in_text(text);
        assert_eq!(plain.plain_json(), Some("\"plain\""));
        assert!(r.key(&mut first).unwrap().is_none());
        assert_eq!(r.position(), text.len());
    }

    #[test]
    fn special_bytes_are_found_wherever_they_are() {
        for at in 0..20 {
            for special in [b'"', b'\\', 0x01, 0x1f] {
                let mut b = vec![b'a'; 20];
                b.extend_from_slice("é€".as_bytes());
                b[at] = special;
                assert_eq!(special_byte(&b), Some(at));
            }
        }
        assert_eq!(special_byte("abc é€ 0x7f\u{7f} ~".as_bytes()), None);
    }
}
