//! One event on the wire (see devo-wire.md): `<14>Mmm dd hh:mm:ss host tag: message\n`, or,
//! when the message holds a line break, the same record octet-counted (RFC 6587) so the break
//! cannot start a new, untagged event. Dry runs frame events as `tag: message` lines instead.
//!
//! A batch also knows where its frames end, so that the shipper can make every TLS record end on
//! a frame (see [`Framed`]): a receiver hands on what it could decrypt, and a record that ended
//! inside a frame would leave a torn event at the server when the connection dies after it.

use std::io::Write;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// Batch buffers the shipper is done with (their epoch settled, or printed), for the next
/// batches. A fresh buffer costs a page fault per 4 KiB written into it: perf counted 70 % of a
/// CloudTrail run's page faults there, and the kernel time they take.
static SPARE_BUFFERS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// Spares kept at most: two epochs' worth of batches (an epoch of 4 MiB holds 16 of 256 KiB).
const SPARES_KEPT: usize = 32;

/// Buffers smaller than this are not kept (a batch of one queue event).
const SPARE_MIN_BYTES: usize = 64 << 10;

/// Hands a batch's buffer back once its bytes are written or copied.
pub fn recycle(mut bytes: Vec<u8>) {
    let mut spares = crate::lock(&SPARE_BUFFERS);
    if spares.len() < SPARES_KEPT && bytes.capacity() >= SPARE_MIN_BYTES {
        bytes.clear();
        spares.push(bytes);
    }
}

/// The most plaintext one TLS record carries (RFC 8446 5.1): the shipper writes each chunk of a
/// [`Framed`] batch up to this long as one record.
pub const TLS_RECORD_BYTES: usize = 16 << 10;

/// Framed bytes and where they may be cut into TLS records: each chunk between two cuts is whole
/// frames, at most [`TLS_RECORD_BYTES`] long unless it is one frame longer than that (which then
/// spans several records, and alone may be torn by a connection that dies while it is written).
#[derive(Debug, Default, Clone)]
pub struct Framed {
    pub bytes: Vec<u8>,
    /// Offsets (ascending, inside the bytes) where a chunk ends and the next begins.
    pub cuts: Vec<usize>,
}

impl Framed {
    /// The chunks to write as records, in order.
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        let ends = self.cuts.iter().copied().chain([self.bytes.len()]);
        let mut start = 0;
        ends.filter_map(move |end| {
            let chunk = self.bytes.get(start..end).filter(|c| !c.is_empty());
            start = end;
            chunk
        })
    }

    /// Where the last chunk starts.
    fn last_chunk_start(&self) -> usize {
        self.cuts.last().copied().unwrap_or(0)
    }

    /// Appends `next`'s frames, keeping the chunks whole and within a record: the two chunks
    /// that meet are joined when they fit in one.
    pub fn append(&mut self, next: &Framed) {
        let offset = self.bytes.len();
        let first_next = next.cuts.first().copied().unwrap_or(next.bytes.len());
        if offset > self.last_chunk_start()
            && offset - self.last_chunk_start() + first_next > TLS_RECORD_BYTES
        {
            self.cuts.push(offset);
        }
        self.cuts.extend(next.cuts.iter().map(|c| c + offset));
        self.bytes.extend_from_slice(&next.bytes);
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// How events are written out.
#[derive(Debug, Clone)]
pub enum Framing {
    /// Syslog records for Devo, stamped with the sending host's name; every record
    /// octet-counted when `octet_counting`, else only those whose message holds a line break.
    Syslog { host: String, octet_counting: bool },
    /// `tag: message` lines for `--dry-run`; line breaks inside a message shown as `\n`.
    DryRun,
}

impl Framing {
    /// The framing for Devo, with this machine's host name (spaces cannot appear in it).
    pub fn syslog_for_this_host(octet_counting: bool) -> Self {
        let host = gethostname::gethostname()
            .to_string_lossy()
            .replace(char::is_whitespace, "_");
        Self::Syslog {
            host: if host.is_empty() {
                "localhost".into()
            } else {
                host
            },
            octet_counting,
        }
    }

    /// Starts a batch of events framed with the current time in their headers.
    pub fn batch(&self) -> FrameBatch {
        self.batch_at(Utc::now())
    }

    /// A batch with room for `bytes` reserved up front.
    pub fn batch_with_capacity(&self, bytes: usize) -> FrameBatch {
        let mut batch = self.batch();
        batch.framed.bytes.reserve_exact(bytes);
        batch
    }

    fn batch_at(&self, now: DateTime<Utc>) -> FrameBatch {
        let (prefix, octet_counting) = match self {
            // Devo stamps arrival time itself; the date is there because syslog wants one.
            Self::Syslog {
                host,
                octet_counting,
            } => (
                Some(format!("<14>{} {host} ", now.format("%b %e %H:%M:%S"))),
                *octet_counting,
            ),
            Self::DryRun => (None, false),
        };
        FrameBatch {
            prefix,
            octet_counting,
            framed: Framed {
                bytes: crate::lock(&SPARE_BUFFERS).pop().unwrap_or_default(),
                cuts: Vec::new(),
            },
            events: 0,
        }
    }
}

/// Framed events ready to be written, with how many they are.
#[derive(Debug, Default)]
pub struct FrameBatch {
    prefix: Option<String>,
    /// Every record octet-counted, not only multi-line ones.
    octet_counting: bool,
    framed: Framed,
    events: u64,
}

impl FrameBatch {
    /// Appends one event.
    pub fn push(&mut self, tag: &str, message: &str) {
        self.events += 1;
        let start = self.framed.bytes.len();
        let bytes = &mut self.framed.bytes;
        match &self.prefix {
            None => {
                bytes.extend_from_slice(tag.as_bytes());
                bytes.extend_from_slice(b": ");
                bytes.extend_from_slice(message.replace('\n', "\\n").as_bytes());
            }
            Some(prefix) => {
                if self.octet_counting || memchr::memchr(b'\n', message.as_bytes()).is_some() {
                    let len = prefix.len() + tag.len() + 2 + message.len() + 1;
                    // Writing into a Vec cannot fail.
                    let _ = write!(bytes, "{len} ");
                }
                bytes.extend_from_slice(prefix.as_bytes());
                bytes.extend_from_slice(tag.as_bytes());
                bytes.extend_from_slice(b": ");
                bytes.extend_from_slice(message.as_bytes());
            }
        }
        bytes.push(b'\n');
        self.cut_records(start);
    }

    /// Keeps the chunk being filled within one TLS record: the frame that began at `start` goes
    /// to a new chunk when it does not fit in the current one, and a frame longer than a record
    /// is a chunk of its own.
    fn cut_records(&mut self, start: usize) {
        let framed = &mut self.framed;
        let end = framed.bytes.len();
        let chunk_start = framed.last_chunk_start();
        if end - chunk_start <= TLS_RECORD_BYTES {
            return;
        }
        if start > chunk_start {
            framed.cuts.push(start);
        }
        if end - start > TLS_RECORD_BYTES {
            framed.cuts.push(end);
        }
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    /// Bytes framed so far.
    pub fn len(&self) -> usize {
        self.framed.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.framed.bytes
    }

    /// The bytes with their record cuts, for the shipper.
    pub fn into_framed(self) -> Framed {
        self.framed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syslog(host: &str, octet_counting: bool) -> Framing {
        Framing::Syslog {
            host: host.into(),
            octet_counting,
        }
    }

    #[test]
    fn octet_counting_frames_every_record_when_asked() {
        let mut b = syslog("h", true).batch_at(at());
        b.push("a.b", "one");
        b.push("a.b", "two\nlines");
        assert_eq!(
            String::from_utf8(b.into_bytes()).unwrap(),
            "31 <14>Jan  1 00:00:00 h a.b: one\n37 <14>Jan  1 00:00:00 h a.b: two\nlines\n"
        );
    }

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn one_line_event_is_newline_framed() {
        let mut b = syslog("myhost", false).batch_at(at());
        b.push(
            "cloud.aws.cloudtrail.events.123456789012.us-east-1",
            r#"{"a":1}"#,
        );
        assert_eq!(
            String::from_utf8(b.into_bytes()).unwrap(),
            "<14>Jan  1 00:00:00 myhost cloud.aws.cloudtrail.events.123456789012.us-east-1: {\"a\":1}\n"
        );
    }

    #[test]
    fn line_break_gets_octet_counting() {
        let mut b = syslog("myhost", false).batch_at(at());
        b.push("my.app.test.three", "line1\nline2");
        // The spec's own example.
        assert_eq!(
            String::from_utf8(b.into_bytes()).unwrap(),
            "58 <14>Jan  1 00:00:00 myhost my.app.test.three: line1\nline2\n"
        );
    }

    #[test]
    fn octet_count_is_in_bytes_not_chars() {
        let mut b = syslog("h", false).batch_at(at());
        b.push("a.b", "é\n");
        let bytes = b.into_bytes();
        let text = String::from_utf8(bytes).unwrap();
        let (len, record) = text.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), record.len());
    }

    /// Every chunk is whole frames within one record, but for a frame longer than a record,
    /// which is a chunk of its own; appending keeps that and joins chunks that fit together.
    #[test]
    fn chunks_end_on_frames_and_fit_in_a_record() {
        let mut b = syslog("h", false).batch_at(at());
        let big = "b".repeat(TLS_RECORD_BYTES + 5);
        for i in 0..300 {
            b.push("a.b", &format!("{i:03}{}", "x".repeat(i % 97)));
            if i == 150 {
                b.push("a.b", &big);
            }
        }
        let framed = b.into_framed();
        let check = |framed: &Framed| {
            let chunks: Vec<&[u8]> = framed.chunks().collect();
            assert_eq!(chunks.concat(), framed.bytes);
            for c in &chunks {
                assert!(c.ends_with(b"\n") && c.starts_with(b"<14>"));
                assert!(c.len() <= TLS_RECORD_BYTES || !c[..c.len() - 1].contains(&b'\n'));
            }
            chunks.len()
        };
        let n = check(&framed);
        assert!(n >= 3, "{n} chunks");
        let one = |m: &str| {
            let mut b = syslog("h", false).batch_at(at());
            b.push("a.b", m);
            b.into_framed()
        };
        let mut joined = one("one");
        joined.append(&one("two"));
        assert_eq!(check(&joined), 1, "small frames share a record");
        joined.append(&framed);
        joined.append(&Framed::default());
        joined.append(&one("three"));
        assert!(check(&joined) <= n + 2);
    }

    #[test]
    fn dry_run_lines_show_the_tag() {
        let mut b = Framing::DryRun.batch();
        b.push("t.a.g", "x\ny");
        assert_eq!(b.events(), 1);
        assert_eq!(b.into_bytes(), b"t.a.g: x\\ny\n");
    }
}
