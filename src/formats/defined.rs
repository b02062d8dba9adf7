//! Kinds of S3 objects the config defines (`kinds:` of `non-cloudwatch-logs`): third-party logs
//! landed in S3 (CrowdStrike Falcon Data Replication, Cisco Umbrella, Cloudflare Logpush, Okta,
//! ...), split into events by one of the splitters the built-in formats use, and shipped under
//! the table the config names. A record's account and region come from its own fields when the
//! config names them, else from the key (named groups `account` and `region` of `keys`, else
//! AWS's layout), else the puller's.
//!
//! Memory stays flat in the object's size as for every format: lines are capped at
//! [`MAX_LINE_BYTES`](super::lines::MAX_LINE_BYTES), JSON records at [`MAX_RECORD_BYTES`].

use regex::Regex;
use serde::Deserialize;

use super::FormatError;
use super::json::{MAX_FIELDS, Scanned, compacted, scan_alone};
use super::jsonseq::JsonSeq;
use super::lines::{AsTheyStand, LineDecoder, LineRule};
use super::objects::{Event, EventSink, ObjectDecoder, Position, key_account_region, present};
use super::records::{MAX_RECORD_BYTES, RecordsScanner};

/// How an object of a defined kind splits into events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Each line as it stands (empty lines left out).
    Lines,
    /// Each line one JSON object.
    JsonLines,
    /// One JSON array of objects (`[{...},{...}]`).
    JsonArray,
    /// The array of objects under a top-level field (`{"Records":[...]}`, `records_field`).
    Records,
    /// One JSON object: the object is the event.
    JsonObject,
    /// JSON objects one after another, with or without whitespace between them.
    JsonStream,
}

/// A kind the config defines, resolved.
#[derive(Debug)]
pub struct Defined {
    /// Its `types` name.
    pub name: String,
    pub split: Split,
    /// The Devo table of its events.
    pub table: &'static str,
    /// `split: records`: the field of the array.
    records_field: &'static str,
    /// The top-level fields read for tags: the account's, then the region's (either may be
    /// absent; kept for the run, as the records scanner holds them).
    fields: &'static [&'static str],
    account_at: Option<usize>,
    region_at: Option<usize>,
    /// `keys`: its objects, and where in the key its account and region are.
    keys: Option<Regex>,
}

impl Defined {
    /// A kind named `name`; `account_field` and `region_field` are the record fields of its
    /// tag, `records_field` the array's field for [`Split::Records`].
    pub fn new(
        name: &str,
        split: Split,
        table: &str,
        records_field: Option<&str>,
        account_field: Option<&str>,
        region_field: Option<&str>,
        keys: Option<Regex>,
    ) -> Self {
        let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
        let fields: Vec<&'static str> = [account_field, region_field]
            .into_iter()
            .flatten()
            .map(leak)
            .collect();
        let at = |f: Option<&str>| f.and_then(|f| fields.iter().position(|n| *n == f));
        let (account_at, region_at) = (at(account_field), at(region_field));
        Self {
            name: name.to_string(),
            split,
            table: leak(table),
            records_field: leak(records_field.unwrap_or("Records")),
            fields: Box::leak(fields.into_boxed_slice()),
            account_at,
            region_at,
            keys,
        }
    }

    /// Whether the object at `key` is of this kind (every key, when `keys` is not given).
    pub fn reads_key(&self, key: &str) -> bool {
        self.keys.as_ref().is_none_or(|re| re.is_match(key))
    }

    /// Whether an archive's object at `key` is of this kind (never, without `keys`).
    pub fn claims(&self, key: &str) -> bool {
        self.keys.as_ref().is_some_and(|re| re.is_match(key))
    }

    /// The account and region of the object at `key`: `keys`' named groups, else AWS's layout.
    pub fn key_account_region<'k>(&self, key: &'k str) -> (Option<&'k str>, Option<&'k str>) {
        let (layout_account, layout_region) = key_account_region(key);
        let Some(caps) = self.keys.as_ref().and_then(|re| re.captures(key)) else {
            return (layout_account, layout_region);
        };
        let group = |name: &str| {
            caps.name(name)
                .map(|m| m.as_str())
                .filter(|s| !s.is_empty())
        };
        (
            group("account").or(layout_account),
            group("region").or(layout_region),
        )
    }

    /// A decoder of one object of this kind.
    pub fn decoder(&'static self) -> Box<dyn ObjectDecoder> {
        match self.split {
            Split::Lines => LineDecoder::boxed(AsTheyStand),
            Split::JsonLines => LineDecoder::boxed(JsonLines { kind: self }),
            Split::Records => Box::new(Records {
                kind: self,
                scanner: RecordsScanner::new(self.records_field, self.fields),
                records: 0,
            }),
            Split::JsonArray | Split::JsonObject | Split::JsonStream => Box::new(Objects {
                kind: self,
                seq: JsonSeq::new(
                    self.split == Split::JsonArray,
                    self.fields,
                    MAX_RECORD_BYTES,
                ),
            }),
        }
    }

    /// The event of one JSON record, with its tag fields.
    fn event<'a>(
        &self,
        text: &'a str,
        fields: &'a [Option<std::borrow::Cow<'a, str>>; MAX_FIELDS],
        compact: bool,
        out: &mut dyn EventSink,
    ) {
        let field = |at: Option<usize>| at.and_then(|i| fields[i].as_deref()).and_then(present);
        out.event(Event {
            message: &compacted(text, compact),
            event_type: None,
            account: field(self.account_at),
            region: field(self.region_at),
            table: None,
        });
    }
}

/// Each line one JSON object.
struct JsonLines {
    kind: &'static Defined,
}

impl LineRule for JsonLines {
    fn line(&mut self, number: u64, text: &str, out: &mut dyn EventSink) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        match scan_alone(text, self.kind.fields) {
            Ok(scanned) => self.kind.event(text, &scanned.fields, scanned.compact, out),
            Err(why) => out.bad_record(Position::Line(number), &FormatError::NotJson(why)),
        }
    }
}

/// The records under a top-level field.
struct Records {
    kind: &'static Defined,
    scanner: RecordsScanner,
    records: u64,
}

impl ObjectDecoder for Records {
    fn feed(&mut self, chunk: &[u8], out: &mut dyn EventSink) -> Result<(), FormatError> {
        let Self {
            kind,
            scanner,
            records,
        } = self;
        scanner.feed(chunk, |record| {
            *records += 1;
            match record {
                Ok(r) => kind.event(r.text, &r.fields, r.compact, out),
                Err(e) => out.bad_record(Position::Record(*records), &e),
            }
            Ok(())
        })
    }

    fn finish(&mut self, _: &mut dyn EventSink) -> Result<(), FormatError> {
        self.scanner.finish()
    }
}

/// JSON objects one after another, or the elements of one array.
struct Objects {
    kind: &'static Defined,
    seq: JsonSeq,
}

impl Objects {
    /// Each object an event; one that is not text is reported.
    fn each<'o>(
        kind: &'static Defined,
        out: &'o mut dyn EventSink,
    ) -> impl FnMut(u64, Result<(&str, &Scanned<'_>), FormatError>) -> Result<(), FormatError> + 'o
    {
        move |n, object| {
            match object {
                Ok((text, scanned)) => kind.event(text, &scanned.fields, scanned.compact, out),
                Err(e) => out.bad_record(Position::Record(n), &e),
            }
            Ok(())
        }
    }
}

impl ObjectDecoder for Objects {
    fn feed(&mut self, chunk: &[u8], out: &mut dyn EventSink) -> Result<(), FormatError> {
        self.seq.feed(chunk, Self::each(self.kind, out))
    }

    fn finish(&mut self, out: &mut dyn EventSink) -> Result<(), FormatError> {
        self.seq.finish(Self::each(self.kind, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::objects::testing::Collected;

    fn kind(split: Split, account: Option<&str>, keys: Option<&str>) -> &'static Defined {
        Box::leak(Box::new(Defined::new(
            "test",
            split,
            "my.app.test.events",
            None,
            account,
            Some("region"),
            keys.map(|k| Regex::new(k).unwrap()),
        )))
    }

    fn decode(
        kind: &'static Defined,
        bytes: &[u8],
        chunk: usize,
    ) -> Result<Collected, FormatError> {
        let mut d = kind.decoder();
        let mut out = Collected::default();
        for c in bytes.chunks(chunk.max(1)) {
            d.feed(c, &mut out)?;
        }
        d.finish(&mut out)?;
        while d.more(&mut out)? {}
        Ok(out)
    }

    fn messages(c: &Collected) -> Vec<&str> {
        c.events.iter().map(|e| e.0.as_str()).collect()
    }

    #[test]
    fn every_split_in_any_chunking() {
        let json = br#"{"a": 1, "acct": "111122223333", "region": "eu-west-1"}"#;
        let cases: [(Split, Vec<u8>, usize); 6] = [
            (Split::Lines, b"one\r\n\ntwo\n".to_vec(), 2),
            (Split::JsonLines, [&json[..], b"\n", &json[..]].concat(), 2),
            (
                Split::JsonArray,
                [b"[ ", &json[..], b",\n", &json[..], b" ]\n"].concat(),
                2,
            ),
            (
                Split::Records,
                [b"{\"Records\":[", &json[..], b",", &json[..], b"]}"].concat(),
                2,
            ),
            (Split::JsonObject, json.to_vec(), 1),
            (
                Split::JsonStream,
                [&json[..], &json[..], b"\n", &json[..]].concat(),
                3,
            ),
        ];
        for (split, bytes, n) in cases {
            for chunk in [1, 3, 7, 4096] {
                let got = decode(kind(split, Some("acct"), None), &bytes, chunk)
                    .unwrap_or_else(|e| panic!("{split:?} by {chunk}: {e}"));
                assert_eq!(got.events.len(), n, "{split:?} by {chunk}");
                if split != Split::Lines {
                    assert_eq!(
                        got.events[0],
                        (
                            r#"{"a":1,"acct":"111122223333","region":"eu-west-1"}"#.to_string(),
                            None,
                            Some("111122223333".to_string()),
                            Some("eu-west-1".to_string())
                        ),
                        "{split:?} by {chunk}"
                    );
                }
            }
        }
        let lines = decode(kind(Split::Lines, None, None), b"one\r\n\ntwo", 3).unwrap();
        assert_eq!(messages(&lines), ["one", "two"]);
    }

    #[test]
    fn bad_input_is_reported_and_bounded() {
        let k = kind(Split::JsonLines, None, None);
        let got = decode(k, b"{\"a\":1}\nnot json\n{\"b\":2}\n", 5).unwrap();
        assert_eq!(messages(&got), [r#"{"a":1}"#, r#"{"b":2}"#]);
        assert_eq!(got.bad.len(), 1);
        let array = kind(Split::JsonArray, None, None);
        assert!(decode(array, b"{\"a\":1}", 4).is_err(), "not an array");
        assert!(decode(array, b"[{\"a\":1},", 4).is_err(), "truncated");
        let stream = kind(Split::JsonStream, None, None);
        assert!(decode(stream, b"{\"a\":1} nope", 4).is_err());
        let endless = [b"{\"a\":\"".to_vec(), vec![b'x'; MAX_RECORD_BYTES + 10]].concat();
        assert!(decode(stream, &endless, 64 << 10).is_err(), "capped");
    }

    #[test]
    fn keys_choose_objects_and_give_account_and_region() {
        let k = kind(
            Split::Lines,
            None,
            Some(r"^umbrella/(?P<account>\d{12})/dnslogs/(?P<region>[a-z0-9-]+)/"),
        );
        let key = "umbrella/111122223333/dnslogs/eu-west-1/2024-05-01/x.csv.gz";
        assert!(k.reads_key(key) && k.claims(key));
        assert_eq!(
            k.key_account_region(key),
            (Some("111122223333"), Some("eu-west-1"))
        );
        assert!(!k.reads_key("other/x.gz") && !k.claims("other/x.gz"));
        let any = kind(Split::Lines, None, None);
        assert!(any.reads_key("other/x.gz") && !any.claims("other/x.gz"));
    }
}
