//! One event on the wire (see devo-wire.md): `<14>Mmm dd hh:mm:ss host tag: message\n`, or,
//! when the message holds a line break, the same record octet-counted (RFC 6587) so the break
//! cannot start a new, untagged event. Dry runs frame events as `tag: message` lines instead.

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
        batch.bytes.reserve_exact(bytes);
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
            bytes: crate::lock(&SPARE_BUFFERS).pop().unwrap_or_default(),
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
    bytes: Vec<u8>,
    events: u64,
}

impl FrameBatch {
    /// Appends one event.
    pub fn push(&mut self, tag: &str, message: &str) {
        self.events += 1;
        let Some(prefix) = &self.prefix else {
            self.bytes.extend_from_slice(tag.as_bytes());
            self.bytes.extend_from_slice(b": ");
            self.bytes
                .extend_from_slice(message.replace('\n', "\\n").as_bytes());
            self.bytes.push(b'\n');
            return;
        };
        if self.octet_counting || memchr::memchr(b'\n', message.as_bytes()).is_some() {
            let len = prefix.len() + tag.len() + 2 + message.len() + 1;
            // Writing into a Vec cannot fail.
            let _ = write!(self.bytes, "{len} ");
        }
        self.bytes.extend_from_slice(prefix.as_bytes());
        self.bytes.extend_from_slice(tag.as_bytes());
        self.bytes.extend_from_slice(b": ");
        self.bytes.extend_from_slice(message.as_bytes());
        self.bytes.push(b'\n');
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    /// Bytes framed so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
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

    #[test]
    fn dry_run_lines_show_the_tag() {
        let mut b = Framing::DryRun.batch();
        b.push("t.a.g", "x\ny");
        assert_eq!(b.events(), 1);
        assert_eq!(b.into_bytes(), b"t.a.g: x\\ny\n");
    }
}
