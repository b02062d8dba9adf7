//! CloudWatch Logs delivered to S3 by a subscription filter through Firehose (Devo's SQS
//! collector's `aws_sqs_cloudwatch`). An object is gzip members (the pipeline reads them all),
//! holding subscription envelopes written one after another with no separator (or one per line,
//! with Firehose's decompression on):
//!
//! `{"messageType":"DATA_MESSAGE","owner":"<account>","logGroup":"...","logStream":"...",
//! "subscriptionFilters":[...],"logEvents":[{"id":"...","timestamp":...,"message":"..."}]}`
//!
//! Every envelope of an object is read, and every element of its `logEvents` is one event,
//! shaped as the `logs` service ships a log event ([`LogEventMessage`]), so one Devo parser reads
//! both; `CONTROL_MESSAGE` envelopes (Firehose's own health checks) are dropped and counted. An
//! object whose first record is no envelope was written with Firehose's message extraction on:
//! each line is a message, shipped as it stands.
//!
//! Some log groups carry records of a kind Devo has a table for; their messages go out alone, as
//! Devo's own services ship them (AWS's conventions decide, as OpenTelemetry's router does): a
//! log stream `eni-*` holds VPC flow log records (`cloud.aws.vpc.flow`), `*_CloudTrail_*`
//! CloudTrail records (`cloud.aws.cloudtrail.*`), a log group `aws-waf-logs-*` WAF logs
//! (`cloud.aws.waf.logs`), one with `guardduty` in its name GuardDuty findings
//! (`cloud.aws.guardduty.findings`).

use std::sync::Arc;

use chrono::{SecondsFormat, TimeZone, Utc};
use serde::Deserialize;

use super::FormatError;
use super::cloudtrail::RecordFields;
use super::json::{RawText, Reader, ScanError, Scanned, StrSpan, scan_object};
use super::lines::{AsTheyStand, LineDecoder, push_json_string};
use super::objects::{
    Event, EventSink, Format, ObjectDecoder, Position, Table, any_key, aws_logs_service,
    digits_shaped, file_name, present,
};

pub static FORMAT: Format = Format {
    name: "CloudWatch Logs through Firehose",
    table: "cloud.aws.cloudwatch.logs",
    typed_family: None,
    reads_key: any_key,
    claims: is_firehose_key,
    decoder: |options, _key| {
        Box::new(Decoder {
            region: options.region.clone(),
            routes: options.log_routes.clone(),
            head: Vec::new(),
            inner: None,
        })
    },
};

/// An object Firehose named (`[prefix]<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>[.gz]`,
/// outside `AWSLogs/`): its prefix is the user's own, its file name is Firehose's.
fn is_firehose_key(key: &str) -> bool {
    let name = file_name(key);
    let name = name.strip_suffix(".gz").unwrap_or(name);
    if aws_logs_service(key).is_some() || name.len() < 58 || !name.is_ascii() {
        return false;
    }
    let (head, uuid) = name.split_at(name.len() - 36);
    let uuid_ok = uuid.bytes().enumerate().all(|(i, b)| match i {
        8 | 13 | 18 | 23 => b == b'-',
        _ => b.is_ascii_hexdigit(),
    });
    let stamp = &head[head.len() - 21..];
    uuid_ok
        && stamp.starts_with('-')
        && stamp.ends_with('-')
        && digits_shaped(&stamp[1..20], "dddd-dd-dd-dd-dd-dd")
}

/// An envelope may be this large once decompressed (CloudWatch Logs sends batches of up to
/// 1 MiB of events, a little more with their JSON).
pub const MAX_ENVELOPE_BYTES: usize = 4 << 20;

/// A string written into a JSON text as serde_json writes it.
pub trait JsonString {
    fn push_json(&self, out: &mut String);
}

impl JsonString for str {
    fn push_json(&self, out: &mut String) {
        push_json_string(self, out);
    }
}

/// A string read from an envelope: copied as it stands when it holds no escapes (then it is
/// what serde_json writes), else unescaped and escaped again.
impl JsonString for RawText<'_> {
    fn push_json(&self, out: &mut String) {
        match self.plain_json() {
            Some(quoted) => out.push_str(quoted),
            None => push_json_string(&self.text().unwrap_or_default(), out),
        }
    }
}

/// One log event as shipped, by this format and by the `logs` service alike (`T`: the kind of
/// its strings: `str`, or [`RawText`] as read from an envelope).
pub struct LogEventMessage<'a, T: JsonString + ?Sized = str> {
    pub log_group: &'a T,
    pub log_stream: &'a T,
    pub event_id: &'a T,
    /// RFC 3339 with milliseconds.
    pub timestamp: &'a str,
    pub ingestion_time: Option<&'a str>,
    pub message: &'a T,
    pub region: &'a str,
    pub account_id: &'a str,
}

impl<T: JsonString + ?Sized> LogEventMessage<'_, T> {
    /// Appends the event as one JSON object: `{"logGroup":...,"logStream":...,"eventId":...,
    /// "timestamp":...,"ingestionTime":...,"message":...,"region":...,"accountId":...}`
    /// (`ingestionTime` null when unknown), strings escaped as serde_json escapes them.
    pub fn write_json(&self, out: &mut String) {
        let texts = [
            ("{\"logGroup\":", self.log_group),
            (",\"logStream\":", self.log_stream),
            (",\"eventId\":", self.event_id),
        ];
        for (key, value) in texts {
            out.push_str(key);
            value.push_json(out);
        }
        out.push_str(",\"timestamp\":");
        push_json_string(self.timestamp, out);
        out.push_str(",\"ingestionTime\":");
        match self.ingestion_time {
            Some(v) => push_json_string(v, out),
            None => out.push_str("null"),
        }
        out.push_str(",\"message\":");
        self.message.push_json(out);
        out.push_str(",\"region\":");
        push_json_string(self.region, out);
        out.push_str(",\"accountId\":");
        push_json_string(self.account_id, out);
        out.push('}');
    }
}

/// RFC 3339 with milliseconds, the date and time formatted once per second (two seconds kept:
/// log events come in bursts of a second or two).
#[derive(Default)]
struct Stamps {
    /// (second, its text ending `.000Z`), the latest first.
    kept: [Option<(i64, String)>; 2],
}

impl Stamps {
    fn at(&mut self, ms: i64) -> &str {
        let (second, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
        if !matches!(&self.kept[0], Some((s, _)) if *s == second) {
            if matches!(&self.kept[1], Some((s, _)) if *s == second) {
                self.kept.swap(0, 1);
            } else {
                self.kept[1] = self.kept[0].take();
                let text = rfc3339_ms(second.saturating_mul(1000)).unwrap_or_default();
                self.kept[0] = Some((second, text));
            }
        }
        let Some((_, text)) = &mut self.kept[0] else {
            return "";
        };
        // `...:SS.mmmZ`: the milliseconds are the three digits before the `Z`.
        let n = text.len();
        if n >= 5 {
            let digits = [milli / 100, milli / 10 % 10, milli % 10].map(|d| b'0' + d as u8);
            if let Ok(digits) = std::str::from_utf8(&digits) {
                text.replace_range(n - 4..n - 1, digits);
            }
        }
        text
    }
}

/// Milliseconds since the epoch as RFC 3339 (`2024-05-01T10:00:00.123Z`).
pub fn rfc3339_ms(ms: i64) -> Option<String> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// Where a subscription envelope's fields stand in it.
#[derive(Default)]
struct Envelope {
    message_type: Option<StrSpan>,
    owner: Option<StrSpan>,
    log_group: Option<StrSpan>,
    log_stream: Option<StrSpan>,
    /// Kept from one envelope to the next (cleared), so most envelopes allocate nothing.
    log_events: Vec<LogEvent>,
}

struct LogEvent {
    id: Option<StrSpan>,
    timestamp: i64,
    message: StrSpan,
}

impl Envelope {
    /// Reads one envelope in one pass, its fields in any order, any others passed over.
    fn read(&mut self, r: &mut Reader<'_>) -> Result<(), ScanError> {
        let log_events = std::mem::take(&mut self.log_events);
        *self = Self {
            log_events,
            ..Self::default()
        };
        self.log_events.clear();
        r.object()?;
        let mut first = true;
        while let Some(key) = r.key(&mut first)? {
            match r.name(key).as_ref() {
                b"messageType" => self.message_type = r.string_or_null()?,
                b"owner" => self.owner = r.string_or_null()?,
                b"logGroup" => self.log_group = r.string_or_null()?,
                b"logStream" => self.log_stream = r.string_or_null()?,
                b"logEvents" => self.read_log_events(r)?,
                _ => r.skip()?,
            }
        }
        if self.message_type.is_none() {
            return Err(r.invalid("missing field `messageType`"));
        }
        Ok(())
    }

    /// `logEvents`: `[{"id":...,"timestamp":...,"message":...}, ...]`.
    fn read_log_events(&mut self, r: &mut Reader<'_>) -> Result<(), ScanError> {
        r.array()?;
        let mut first = true;
        while r.element(&mut first)? {
            r.object()?;
            let (mut id, mut timestamp, mut message) = (None, 0, None);
            let mut first_field = true;
            while let Some(key) = r.key(&mut first_field)? {
                match r.name(key).as_ref() {
                    b"id" => id = r.string_or_null()?,
                    b"timestamp" => timestamp = r.integer()?,
                    b"message" => message = r.string_or_null()?,
                    _ => r.skip()?,
                }
            }
            let message = message.ok_or_else(|| r.invalid("a log event without its `message`"))?;
            self.log_events.push(LogEvent {
                id,
                timestamp,
                message,
            });
        }
        Ok(())
    }
}

/// What a log group's records are, in a route the config gives (`cloudwatchlogs_routes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Records {
    /// VPC flow log records: `cloud.aws.vpc.flow`, alone.
    VpcFlow,
    /// CloudTrail records: `cloud.aws.cloudtrail.*`, alone.
    Cloudtrail,
    /// WAF logs: `cloud.aws.waf.logs`, alone.
    Waf,
    /// GuardDuty findings: `cloud.aws.guardduty.findings`, alone.
    Guardduty,
    /// Route 53 Resolver query logs: `dns.aws.route53`, alone.
    Route53,
    /// Any other log events: `cloud.aws.cloudwatch.logs`, shaped as `logs` ships them.
    Logs,
}

/// A route the config gives: the log groups (and streams) whose records are of one kind. A
/// pattern's `*` stands for any run of characters; a route names a group, a stream or both.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogRoute {
    pub log_group: Option<String>,
    pub log_stream: Option<String>,
    pub records: Records,
}

impl LogRoute {
    fn matches(&self, group: &str, stream: &str) -> bool {
        let fits =
            |pattern: &Option<String>, text: &str| pattern.as_deref().is_none_or(|p| glob(p, text));
        (self.log_group.is_some() || self.log_stream.is_some())
            && fits(&self.log_group, group)
            && fits(&self.log_stream, stream)
    }
}

/// Whether `text` is `pattern`, where `*` stands for any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// Where a log group's records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// The log event, shaped as the `logs` service's.
    Logs,
    /// The message alone, under a table of its own.
    Alone(Table),
    /// A CloudTrail record alone, typed by its event source.
    CloudTrail,
}

/// A table whose events are not typed.
const fn untyped(name: &'static str) -> Table {
    Table {
        name,
        typed_family: None,
    }
}

const VPC_FLOW: Table = untyped("cloud.aws.vpc.flow");
const WAF: Table = untyped("cloud.aws.waf.logs");
const GUARDDUTY: Table = untyped("cloud.aws.guardduty.findings");
const ROUTE53: Table = untyped("dns.aws.route53");
const CLOUDTRAIL: Table = Table {
    name: "cloud.aws.cloudtrail.events",
    typed_family: Some("cloud.aws.cloudtrail"),
};

impl Records {
    fn route(self) -> Route {
        match self {
            Self::VpcFlow => Route::Alone(VPC_FLOW),
            Self::Cloudtrail => Route::CloudTrail,
            Self::Waf => Route::Alone(WAF),
            Self::Guardduty => Route::Alone(GUARDDUTY),
            Self::Route53 => Route::Alone(ROUTE53),
            Self::Logs => Route::Logs,
        }
    }
}

/// The route of a log group's records: the first of the config's routes that matches it, else
/// AWS's naming conventions.
fn route(group: &str, stream: &str, routes: &[LogRoute]) -> Route {
    if let Some(given) = routes.iter().find(|r| r.matches(group, stream)) {
        given.records.route()
    } else if stream.starts_with("eni-") {
        Route::Alone(VPC_FLOW)
    } else if stream.contains("_CloudTrail_") {
        Route::CloudTrail
    } else if group.starts_with("aws-waf-logs-") {
        Route::Alone(WAF)
    } else if group
        .as_bytes()
        .windows(9)
        .any(|w| w.eq_ignore_ascii_case(b"guardduty"))
    {
        Route::Alone(GUARDDUTY)
    } else {
        Route::Logs
    }
}

/// Tells envelopes from extracted messages by the object's first record, then reads on.
struct Decoder {
    /// The bucket's region: the log events' (a log group's subscription and its Firehose are in
    /// one region; the envelope does not say which).
    region: Option<String>,
    /// `cloudwatchlogs_routes`.
    routes: Arc<Vec<LogRoute>>,
    /// The first bytes, until the first record tells the shape.
    head: Vec<u8>,
    inner: Option<Box<dyn ObjectDecoder>>,
}

impl Decoder {
    /// The reader of the rest, once the first record is whole (or cannot be an envelope).
    fn choose(&self, finished: bool) -> Result<Option<Box<dyn ObjectDecoder>>, FormatError> {
        let start = self.head.iter().position(|b| !b.is_ascii_whitespace());
        let envelopes = match start.map(|at| &self.head[at..]) {
            None if finished => return Ok(Some(self.messages())),
            None => return Ok(None),
            Some(first) if first.first() != Some(&b'{') => false,
            Some(first) => match scan_object(first, &["messageType"]) {
                Ok(Scanned { fields, .. }) => fields[0].is_some(),
                Err(ScanError::Incomplete)
                    if !finished && self.head.len() <= MAX_ENVELOPE_BYTES =>
                {
                    return Ok(None);
                }
                Err(_) => false,
            },
        };
        Ok(Some(if envelopes {
            Box::new(Envelopes {
                buf: Vec::new(),
                wait_for: 0,
                reading: Reading {
                    region: self.region.clone().unwrap_or_default(),
                    routes: self.routes.clone(),
                    envelopes: 0,
                    shaped: String::new(),
                    stamps: Stamps::default(),
                    envelope: Envelope::default(),
                },
            })
        } else {
            self.messages()
        }))
    }

    fn messages(&self) -> Box<dyn ObjectDecoder> {
        LineDecoder::boxed(AsTheyStand)
    }
}

impl ObjectDecoder for Decoder {
    fn feed(&mut self, chunk: &[u8], out: &mut dyn EventSink) -> Result<(), FormatError> {
        if let Some(inner) = &mut self.inner {
            return inner.feed(chunk, out);
        }
        self.head.extend_from_slice(chunk);
        if let Some(mut inner) = self.choose(false)? {
            inner.feed(&std::mem::take(&mut self.head), out)?;
            self.inner = Some(inner);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn EventSink) -> Result<(), FormatError> {
        if self.inner.is_none() {
            let mut inner = self.choose(true)?.unwrap_or_else(|| self.messages());
            inner.feed(&std::mem::take(&mut self.head), out)?;
            self.inner = Some(inner);
        }
        match &mut self.inner {
            Some(inner) => inner.finish(out),
            None => Ok(()),
        }
    }
}

/// Subscription envelopes, each read in one pass where it stands (in the chunk fed, or in what
/// is buffered of one that spans chunks: at most one envelope, capped), borrowing its strings.
struct Envelopes {
    /// The start of an envelope that goes on in the next chunk.
    buf: Vec<u8>,
    /// An envelope that did not end in what was buffered is read again only once this many
    /// bytes are (twice as many), so a large one costs a few passes, not one per chunk.
    wait_for: usize,
    reading: Reading,
}

/// What reading envelopes keeps from one to the next.
struct Reading {
    region: String,
    routes: Arc<Vec<LogRoute>>,
    /// Envelopes read so far.
    envelopes: u64,
    /// Where a log event shaped as `logs` ships it is written.
    shaped: String,
    stamps: Stamps,
    /// The envelope being read.
    envelope: Envelope,
}

impl Reading {
    /// Reads every whole envelope at the start of `data`: how many bytes they took (what is
    /// left is the start of the next one).
    fn read(&mut self, data: &[u8], out: &mut dyn EventSink) -> Result<usize, FormatError> {
        let mut at = 0;
        loop {
            at += data[at..]
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            let rest = &data[at..];
            if rest.is_empty() {
                return Ok(at);
            }
            let mut reader = Reader::new(rest);
            match self.envelope.read(&mut reader) {
                Ok(()) => {
                    self.envelopes += 1;
                    let end = reader.position();
                    at += end;
                    let Ok(text) = std::str::from_utf8(&rest[..end]) else {
                        let why = FormatError::Shape("an envelope that is not UTF-8".into());
                        out.bad_record(Position::Record(self.envelopes), &why);
                        continue;
                    };
                    let shaping = Shaping {
                        region: &self.region,
                        routes: &self.routes,
                        shaped: &mut self.shaped,
                        stamps: &mut self.stamps,
                    };
                    envelope_events(self.envelopes, (text, &self.envelope), shaping, out);
                }
                // The envelope goes on in the next chunk.
                Err(ScanError::Incomplete) => return Ok(at),
                Err(ScanError::Invalid(why)) => match scan_object(rest, &[]) {
                    // JSON, but no envelope: reported, and read past.
                    Ok(Scanned { end, .. }) => {
                        self.envelopes += 1;
                        let why = FormatError::Shape(format!("not a subscription envelope: {why}"));
                        out.bad_record(Position::Record(self.envelopes), &why);
                        at += end;
                    }
                    Err(ScanError::Incomplete) => return Ok(at),
                    Err(ScanError::Invalid(why)) => {
                        return Err(FormatError::NotJson(format!(
                            "envelope {}: {why}",
                            self.envelopes + 1
                        )));
                    }
                },
            }
        }
    }
}

impl Envelopes {
    /// What is buffered, read; an envelope still open may not outgrow the cap.
    fn read_buffered(&mut self, out: &mut dyn EventSink) -> Result<(), FormatError> {
        let used = self.reading.read(&self.buf, out)?;
        self.buf.drain(..used);
        self.wait_for = self.buf.len() * 2;
        if self.buf.len() > MAX_ENVELOPE_BYTES {
            return Err(FormatError::Shape(format!(
                "an envelope larger than {MAX_ENVELOPE_BYTES} bytes"
            )));
        }
        Ok(())
    }
}

impl ObjectDecoder for Envelopes {
    fn feed(&mut self, chunk: &[u8], out: &mut dyn EventSink) -> Result<(), FormatError> {
        if self.buf.is_empty() {
            // Read where it stands; only an envelope the chunk ends inside is copied.
            let used = self.reading.read(chunk, out)?;
            self.buf.extend_from_slice(&chunk[used..]);
            self.wait_for = self.buf.len() * 2;
            return Ok(());
        }
        self.buf.extend_from_slice(chunk);
        if self.buf.len() < self.wait_for {
            return Ok(());
        }
        self.read_buffered(out)
    }

    fn finish(&mut self, out: &mut dyn EventSink) -> Result<(), FormatError> {
        self.read_buffered(out)?;
        if self.buf.iter().any(|b| !b.is_ascii_whitespace()) {
            return Err(FormatError::Shape(
                "the object ends before its last envelope does (truncated?)".into(),
            ));
        }
        Ok(())
    }
}

/// What shaping a log event takes: the object's region, the config's routes, reused buffers.
struct Shaping<'a> {
    region: &'a str,
    routes: &'a [LogRoute],
    shaped: &'a mut String,
    stamps: &'a mut Stamps,
}

/// The events of one envelope: each log event, as its log group's route says; a control
/// message is dropped.
fn envelope_events(
    n: u64,
    (text, envelope): (&str, &Envelope),
    shaping: Shaping<'_>,
    out: &mut dyn EventSink,
) {
    let Shaping {
        region,
        routes,
        shaped,
        stamps,
    } = shaping;
    let read = |span: Option<StrSpan>| span.map_or(RawText::EMPTY, |s| s.in_text(text));
    let message_type = read(envelope.message_type);
    if message_type.text().as_deref() != Ok("DATA_MESSAGE") {
        out.dropped();
        return;
    }
    let raw_group = read(envelope.log_group);
    let raw_stream = read(envelope.log_stream);
    let owner_text = read(envelope.owner).text().unwrap_or_default();
    let (group, stream) = match (raw_group.text(), raw_stream.text()) {
        (Ok(group), Ok(stream)) => (group, stream),
        (Err(why), _) | (_, Err(why)) => {
            let why = FormatError::Shape(format!("not a subscription envelope: {why}"));
            return out.bad_record(Position::Record(n), &why);
        }
    };
    let owner = present(&owner_text);
    let route = route(&group, &stream, routes);
    for e in &envelope.log_events {
        let message = e.message.in_text(text);
        if let Route::Logs = route {
            let event = LogEventMessage {
                log_group: &raw_group,
                log_stream: &raw_stream,
                event_id: &read(e.id),
                timestamp: stamps.at(e.timestamp),
                ingestion_time: None,
                message: &message,
                region,
                account_id: owner.unwrap_or_default(),
            };
            shaped.clear();
            event.write_json(shaped);
            out.event(Event {
                message: shaped,
                event_type: None,
                account: owner,
                region: present(region),
                table: None,
            });
            continue;
        }
        match message.text() {
            Ok(message) => record_alone(n, &message, route, (owner, region), out),
            Err(why) => out.bad_record(Position::Record(n), &FormatError::Shape(why)),
        }
    }
}

/// A log event's message shipped alone, as the record of the kind its route names.
fn record_alone(
    n: u64,
    message: &str,
    route: Route,
    (owner, region): (Option<&str>, &str),
    out: &mut dyn EventSink,
) {
    match route {
        Route::Alone(table) => out.event(Event {
            message,
            event_type: None,
            account: owner,
            region: present(region),
            table: Some(table),
        }),
        Route::CloudTrail => match RecordFields::parse(message) {
            Ok((fields, _)) => out.event(Event {
                message,
                event_type: fields.event_type(),
                account: fields.account.as_deref().and_then(present).or(owner),
                region: fields
                    .region
                    .as_deref()
                    .and_then(present)
                    .or(present(region)),
                table: Some(CLOUDTRAIL),
            }),
            Err(err) => out.bad_record(Position::Record(n), &err),
        },
        Route::Logs => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::objects::DecoderOptions;
    use crate::formats::objects::testing::decode;

    fn options() -> DecoderOptions {
        DecoderOptions {
            region: Some("eu-west-1".into()),
            ..DecoderOptions::default()
        }
    }

    const ONE: &str = r#"{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/my/first/log/group","logStream":"/my/first/log/stream","subscriptionFilters":["f"],"logEvents":[{"id":"3949","timestamp":1771015786034,"message":"some text"}]}"#;
    const CONTROL: &str = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"log_group_name","logStream":"log_stream_name","subscriptionFilters":["s"],"logEvents":[{"id":"","timestamp":1763029869851,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;

    #[test]
    fn every_envelope_in_any_chunking() {
        let object = format!("{ONE}{CONTROL}\n{ONE}");
        for chunk in [1, 7, 64, 4096] {
            let got = decode(&FORMAT, &options(), "k", object.as_bytes(), chunk).unwrap();
            assert_eq!(got.events.len(), 2, "by {chunk}");
            assert_eq!(got.dropped, 1, "the control message");
            assert_eq!(
                got.events[0],
                (
                    r#"{"logGroup":"/my/first/log/group","logStream":"/my/first/log/stream","eventId":"3949","timestamp":"2026-02-13T20:49:46.034Z","ingestionTime":null,"message":"some text","region":"eu-west-1","accountId":"123456789012"}"#.to_string(),
                    None,
                    Some("123456789012".to_string()),
                    Some("eu-west-1".to_string())
                )
            );
        }
    }

    /// Strings with escapes (as a JSON encoder may write them) come out as the `logs` service
    /// writes the same text; fields in another order and unknown ones are read; an envelope
    /// that is JSON but no envelope is reported wherever the chunks cut it, and the rest go on.
    #[test]
    fn escapes_order_and_bad_envelopes() {
        let odd = r#"{"logEvents":[{"message":"caf\u00e9 \/ \"q\" \\ \t","extra":[1,{"a":null}],"timestamp":1771015786034,"id":"7"}],"logStream":"s\u0031","owner":"123456789012","messageType":"DATA_MESSAGE","logGroup":"/g","x":{}}"#;
        let not_one = r#"{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":5}]}"#;
        let object = format!("{odd}{not_one}{ONE}");
        let mut expected = String::new();
        LogEventMessage::<str> {
            log_group: "/g",
            log_stream: "s1",
            event_id: "7",
            timestamp: "2026-02-13T20:49:46.034Z",
            ingestion_time: None,
            message: "café / \"q\" \\ \t",
            region: "eu-west-1",
            account_id: "123456789012",
        }
        .write_json(&mut expected);
        for chunk in [1, 5, 64, 4096] {
            let got = decode(&FORMAT, &options(), "k", object.as_bytes(), chunk).unwrap();
            assert_eq!(got.events.len(), 2, "by {chunk}");
            assert_eq!(got.events[0].0, expected, "by {chunk}");
            assert_eq!(got.bad.len(), 1, "by {chunk}: {:?}", got.bad);
        }
        let broken = format!("{ONE}{{\"messageType\":tru}}{ONE}");
        assert!(decode(&FORMAT, &options(), "k", broken.as_bytes(), 64).is_err());
        let mut latin1 = ONE.replace("some text", "caf\u{e9}").into_bytes();
        latin1.retain(|b| *b != 0xc3);
        latin1.extend_from_slice(ONE.as_bytes());
        let got = decode(&FORMAT, &options(), "k", &latin1, 16).unwrap();
        assert_eq!(
            (got.events.len(), got.bad.len()),
            (1, 1),
            "not UTF-8: reported, the rest go on"
        );
    }

    #[test]
    fn extracted_messages_are_lines() {
        let got = decode(&FORMAT, &options(), "k", b"{\"a\":1}\nplain text\n", 3).unwrap();
        let messages: Vec<&str> = got.events.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(messages, [r#"{"a":1}"#, "plain text"]);
    }

    #[test]
    fn log_groups_route_their_records() {
        let route = |group, stream| route(group, stream, &[]);
        assert_eq!(
            route("vpc-flow", "eni-0a1b2c3d-all"),
            Route::Alone(VPC_FLOW)
        );
        assert_eq!(
            route("aws-cloudtrail-logs", "123456789012_CloudTrail_us-east-1"),
            Route::CloudTrail
        );
        assert_eq!(route("aws-waf-logs-prod", "x"), Route::Alone(WAF));
        assert_eq!(route("/aws/events/GuardDuty", "x"), Route::Alone(GUARDDUTY));
        assert_eq!(
            route("/aws/lambda/app", "2024/05/01/[$LATEST]abc"),
            Route::Logs
        );
    }
    #[test]
    fn the_configs_routes_come_first() {
        let routes = [
            LogRoute {
                log_group: Some("/org/*/resolver-*".into()),
                log_stream: None,
                records: Records::Route53,
            },
            LogRoute {
                log_group: None,
                log_stream: Some("eni-*".into()),
                records: Records::Logs,
            },
        ];
        assert_eq!(
            route("/org/prod/resolver-queries", "vpc-1", &routes),
            Route::Alone(ROUTE53)
        );
        assert_eq!(
            route("flows", "eni-0a", &routes),
            Route::Logs,
            "over the default"
        );
        assert_eq!(route("aws-waf-logs-x", "s", &routes), Route::Alone(WAF));
        for (pattern, text, fits) in [
            ("a*", "abc", true),
            ("*c", "abc", true),
            ("a*c", "abbbc", true),
            ("a*b*c", "axbyc", true),
            ("a*b*c", "axc", false),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("*", "", true),
        ] {
            assert_eq!(glob(pattern, text), fits, "{pattern} {text}");
        }
    }
}
