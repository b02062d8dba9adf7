//! Apache Parquet objects: Amazon Security Lake's OCSF records, and VPC flow logs written as
//! Parquet. Parquet says where its rows are in a footer at its end, so an object is written to a
//! temporary file as it downloads (never held in memory; at most [`MAX_OBJECT_BYTES`]), then
//! read a row group at a time, each column a page at a time, a few hundred rows per step (the
//! pipeline ships between steps): memory stays flat in the object's size. A row group larger than
//! [`MAX_ROW_GROUP_BYTES`] uncompressed is refused before a row is read (the object is reported;
//! its message is left to the queue's redrive policy).
//!
//! Each row becomes, as the format asks:
//! - one compact JSON object ([`Rows::Json`]), its fields in the schema's order (OCSF's), null
//!   fields left out as OCSF's JSON leaves them out, nested groups as objects, lists as arrays,
//!   maps as objects; integers and floats as JSON numbers (OCSF's `timestamp_t` is an integer of
//!   milliseconds: written as it is stored), Parquet timestamps (OCSF's `datetime_t`, the `_dt`
//!   fields) as RFC 3339 text, dates as `YYYY-MM-DD`;
//! - or one line of a text log ([`Rows::Lines`]): the top-level columns' names (`_` read as `-`)
//!   as a header line, then each row's values separated by spaces (`-` for null), handed to the
//!   text format's own decoder, so a VPC flow log in Parquet gives the events its text would.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};

use ::parquet::basic::{ConvertedType, LogicalType};
use ::parquet::file::reader::{FileReader, SerializedFileReader};
use ::parquet::record::reader::RowIter;
use ::parquet::record::{Field, List, Row};
use ::parquet::schema::types::{Type, TypePtr};
use chrono::{DateTime, NaiveDate, SecondsFormat};

use super::FormatError;
use super::lines::push_json_string;
use super::objects::{Event, EventSink, ObjectDecoder};

/// The magic bytes a Parquet file starts (and ends) with.
pub const MAGIC: &[u8] = b"PAR1";
/// The largest object spooled (Security Lake and VPC Flow Logs write objects of tens to a few
/// hundred megabytes).
pub const MAX_OBJECT_BYTES: u64 = 4 << 30;
/// The largest row group read, uncompressed: parquet-mr's default (Security Lake's writer). A row
/// group is read a page per column at a time (pages are about 1 MiB), so memory stays far under
/// it; it bounds what a file of huge pages could ask for.
pub const MAX_ROW_GROUP_BYTES: i64 = 128 << 20;
/// Rows read per step, between which the pipeline ships what they made.
const ROWS_PER_STEP: usize = 256;

/// What each row becomes.
pub enum Rows {
    /// One compact JSON object per row; `fields` says where its account, region and type are.
    Json(JsonFields),
    /// One line of a text log per row, after a header line, fed to this decoder.
    Lines(Box<dyn ObjectDecoder>),
}

/// Where a JSON row's account, region and event type are: paths of field names from the top
/// level, the first present wins.
#[derive(Clone, Copy)]
pub struct JsonFields {
    pub account: &'static [&'static [&'static str]],
    pub region: &'static [&'static [&'static str]],
    pub event_type: &'static [&'static [&'static str]],
}

/// Spools a Parquet object, then gives its rows (see the module's note).
pub struct ParquetDecoder {
    rows: Rows,
    state: State,
    /// Rows read so far (for the place of a bad one).
    read: u64,
    /// Reused for each row.
    text: String,
}

enum State {
    /// Writing the object to a temporary file (made at the first bytes).
    Spooling {
        file: Option<File>,
        bytes: u64,
    },
    /// Its rows, being read, and its schema (to tell its lists' layouts).
    Reading(RowIter<'static>, TypePtr),
    Done,
}

impl ParquetDecoder {
    pub fn new(rows: Rows) -> Self {
        Self {
            rows,
            state: State::Spooling {
                file: None,
                bytes: 0,
            },
            read: 0,
            text: String::new(),
        }
    }

    /// The spooled file's rows, once every row group is known to be within the cap.
    fn open(file: File, bytes: u64) -> Result<(RowIter<'static>, TypePtr), FormatError> {
        let reader = SerializedFileReader::new(file)
            .map_err(|e| FormatError::Shape(format!("not a Parquet file ({bytes} bytes): {e}")))?;
        for (i, group) in reader.metadata().row_groups().iter().enumerate() {
            // Where each column chunk is, checked here: the reader panics on a negative one.
            let outside = group.columns().iter().any(|column| {
                let start = column
                    .dictionary_page_offset()
                    .unwrap_or(column.data_page_offset());
                let len = column.compressed_size();
                start < 0 || len < 0 || (start as u64).saturating_add(len as u64) > bytes
            });
            if outside {
                return Err(FormatError::Shape(format!(
                    "row group {}: a column chunk outside the file (corrupt metadata)",
                    i + 1
                )));
            }
            if group.total_byte_size() > MAX_ROW_GROUP_BYTES {
                return Err(FormatError::Shape(format!(
                    "row group {} holds {} bytes uncompressed, more than the {} MiB devo-aws reads at once",
                    i + 1,
                    group.total_byte_size(),
                    MAX_ROW_GROUP_BYTES >> 20
                )));
            }
        }
        let schema = reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .root_schema_ptr();
        Ok((RowIter::from_file_into(Box::new(reader)), schema))
    }

    /// The header line of [`Rows::Lines`]: the top-level columns' names, `_` read as `-`.
    fn header(row: &Row, out: &mut String) {
        for (i, (name, _)) in row.get_column_iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&name.replace('_', "-"));
        }
        out.push('\n');
    }
}

/// One row, as `rows` asks (`read`: its number, from 1; `schema`: the file's).
fn shape_row(
    rows: &mut Rows,
    text: &mut String,
    (read, row, schema): (u64, &Row, &Type),
    out: &mut dyn EventSink,
) -> Result<(), FormatError> {
    text.clear();
    match rows {
        Rows::Json(fields) => {
            write_group(row, Some(schema), text);
            out.event(Event {
                message: text,
                event_type: first_text(row, fields.event_type),
                account: first_text(row, fields.account).filter(|a| is_account_id(a)),
                region: first_text(row, fields.region),
                table: None,
            });
            Ok(())
        }
        Rows::Lines(inner) => {
            if read == 1 {
                ParquetDecoder::header(row, text);
            }
            for (i, (_, field)) in row.get_column_iter().enumerate() {
                if i > 0 {
                    text.push(' ');
                }
                write_plain(field, text);
            }
            text.push('\n');
            inner.feed(text.as_bytes(), out)
        }
    }
}

impl ObjectDecoder for ParquetDecoder {
    fn feed(&mut self, chunk: &[u8], _out: &mut dyn EventSink) -> Result<(), FormatError> {
        let State::Spooling { file, bytes } = &mut self.state else {
            return Ok(());
        };
        *bytes += chunk.len() as u64;
        if *bytes > MAX_OBJECT_BYTES {
            return Err(FormatError::Shape(format!(
                "a Parquet object larger than {} GiB",
                MAX_OBJECT_BYTES >> 30
            )));
        }
        if file.is_none() {
            *file = Some(tempfile::tempfile().map_err(|e| {
                FormatError::Local(format!(
                    "cannot make a temporary file for a Parquet object in {} (TMPDIR): {e}",
                    std::env::temp_dir().display()
                ))
            })?);
        }
        if let Some(f) = file {
            f.write_all(chunk)
                .map_err(|e| FormatError::Local(format!("writing a Parquet object aside: {e}")))?;
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut dyn EventSink) -> Result<(), FormatError> {
        let State::Spooling { file, bytes } = std::mem::replace(&mut self.state, State::Done)
        else {
            return Ok(());
        };
        let Some(mut file) = file else {
            return Err(FormatError::Shape("an empty object: not Parquet".into()));
        };
        file.seek(SeekFrom::Start(0))
            .map_err(|e| FormatError::Local(format!("reading a Parquet object back: {e}")))?;
        // As for its rows (see `more`): a footer the reader panics on is a corrupt object.
        let (rows, schema) = catch_unwind(AssertUnwindSafe(|| Self::open(file, bytes)))
            .unwrap_or_else(|_| {
                Err(FormatError::Shape(
                    "the Parquet reader gave up on this file's footer".into(),
                ))
            })?;
        self.state = State::Reading(rows, schema);
        Ok(())
    }

    fn more(&mut self, out: &mut dyn EventSink) -> Result<bool, FormatError> {
        let Self {
            rows: shape,
            state,
            read,
            text,
        } = self;
        let State::Reading(rows, schema) = state else {
            return Ok(false);
        };
        for _ in 0..ROWS_PER_STEP {
            // The row reader panics on some malformed files instead of answering an error: such
            // an object is reported as corrupt, as one it refuses is.
            let row = match catch_unwind(AssertUnwindSafe(|| rows.next())) {
                Ok(Some(Ok(row))) => row,
                Ok(None) => {
                    *state = State::Done;
                    if let Rows::Lines(inner) = shape {
                        inner.finish(out)?;
                    }
                    return Ok(false);
                }
                Ok(Some(Err(e))) => {
                    return Err(FormatError::Shape(format!(
                        "Parquet row {}: {e}",
                        *read + 1
                    )));
                }
                Err(_) => {
                    return Err(FormatError::Shape(format!(
                        "Parquet row {}: the Parquet reader gave up on this file",
                        *read + 1
                    )));
                }
            };
            *read += 1;
            shape_row(shape, text, (*read, &row, schema), out)?;
        }
        Ok(true)
    }
}

/// Whether a panic raised in `file` (its location's path) is the parquet crate's, from the
/// registry or vendored: the decoder catches those and reports the object corrupt (see `more`),
/// so a panic hook lets them pass quietly.
pub fn panicked_in_reader(file: &str) -> bool {
    file.contains("/parquet-") || file.contains("/parquet/src/")
}

/// The text of the first of `paths` that holds a string in `row` (a path: field names from
/// the top level).
fn first_text<'r>(row: &'r Row, paths: &[&[&str]]) -> Option<&'r str> {
    paths.iter().find_map(|path| {
        let (last, groups) = path.split_last()?;
        let mut at = row;
        for name in groups {
            at = match field(at, name)? {
                Field::Group(inner) => inner,
                _ => return None,
            };
        }
        match field(at, last)? {
            Field::Str(s) if !s.is_empty() => Some(s.as_str()),
            _ => None,
        }
    })
}

/// A 12-digit AWS account id (a record may hold an ARN where its account should be).
fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The field of `row` named `name`.
fn field<'r>(row: &'r Row, name: &str) -> Option<&'r Field> {
    row.get_column_iter()
        .find(|(n, _)| n.as_str() == name)
        .map(|(_, f)| f)
}

/// A group (of schema `ty`, when known) as a JSON object, its null fields left out.
fn write_group(row: &Row, ty: Option<&Type>, out: &mut String) {
    out.push('{');
    let mut first = true;
    let types = ty.map_or(&[][..], Type::get_fields);
    for (i, (name, value)) in row.get_column_iter().enumerate() {
        if matches!(value, Field::Null) {
            continue;
        }
        if !std::mem::take(&mut first) {
            out.push(',');
        }
        push_json_string(name, out);
        out.push(':');
        write_json(value, types.get(i).map(|t| &**t), out);
    }
    out.push('}');
}

/// The elements of a list of schema `ty`, and their schema. A list written in the legacy
/// two-level layout (parquet-mr's Avro writer, which Security Lake's files come from:
/// `optional group profiles (LIST) { repeated binary array; }`) is read by the parquet crate as a
/// list holding the list (apache/arrow-rs#2394): that one level is taken off.
fn list_elements<'f>(list: &'f List, ty: Option<&'f Type>) -> (&'f [Field], Option<&'f Type>) {
    let elements = list.elements();
    let Some(ty) = ty.filter(|t| is_list(t)) else {
        return (elements, None);
    };
    let Some(repeated) = ty.get_fields().first() else {
        return (elements, None);
    };
    let two_level = repeated.is_primitive()
        || repeated.get_fields().len() > 1
        || repeated.name() == "array"
        || repeated.name() == format!("{}_tuple", ty.name());
    if !two_level {
        return (elements, repeated.get_fields().first().map(|t| &**t));
    }
    match elements {
        [Field::ListInternal(inner)] => (inner.elements(), Some(repeated)),
        _ => (elements, Some(repeated)),
    }
}

/// Whether `ty` is annotated as a list.
fn is_list(ty: &Type) -> bool {
    let info = ty.get_basic_info();
    info.converted_type() == ConvertedType::LIST
        || matches!(info.logical_type_ref(), Some(LogicalType::List))
}

/// A value (of schema `ty`, when known) as JSON (see the module's note).
fn write_json(value: &Field, ty: Option<&Type>, out: &mut String) {
    match value {
        Field::Null => out.push_str("null"),
        Field::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Field::Byte(n) => push_display(n, out),
        Field::Short(n) => push_display(n, out),
        Field::Int(n) => push_display(n, out),
        Field::Long(n) => push_display(n, out),
        Field::UByte(n) => push_display(n, out),
        Field::UShort(n) => push_display(n, out),
        Field::UInt(n) => push_display(n, out),
        Field::ULong(n) => push_display(n, out),
        Field::Float16(n) => push_float(f64::from(f32::from(*n)), out),
        Field::Float(n) => push_float(f64::from(*n), out),
        Field::Double(n) => push_float(*n, out),
        Field::Str(s) => push_json_string(s, out),
        Field::Group(row) => write_group(row, ty, out),
        Field::ListInternal(list) => {
            let (elements, element_type) = list_elements(list, ty);
            out.push('[');
            for (i, element) in elements.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(element, element_type, out);
            }
            out.push(']');
        }
        Field::MapInternal(map) => {
            out.push('{');
            for (i, (key, value)) in map.entries().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let mut name = String::new();
                write_plain(key, &mut name);
                push_json_string(&name, out);
                out.push(':');
                write_json(value, map_value_type(ty), out);
            }
            out.push('}');
        }
        other => {
            let mut text = String::new();
            write_plain(other, &mut text);
            push_json_string(&text, out);
        }
    }
}

/// The schema of a map's values: `map (MAP) { repeated key_value { key; value; } }`.
fn map_value_type(ty: Option<&Type>) -> Option<&Type> {
    let key_value = ty?.get_fields().first()?;
    key_value.get_fields().get(1).map(|t| &**t)
}

/// A value as text: strings as they are, null as `-`, times as RFC 3339, the rest as Parquet's
/// own display of them.
fn write_plain(value: &Field, out: &mut String) {
    match value {
        Field::Null => out.push('-'),
        Field::Str(s) => out.push_str(s),
        Field::Bytes(b) => out.push_str(&String::from_utf8_lossy(b.data())),
        Field::Date(days) => {
            let date = NaiveDate::from_num_days_from_ce_opt(days.saturating_add(719_163));
            match date {
                Some(d) => push_display(&d.format("%Y-%m-%d"), out),
                None => push_display(days, out),
            }
        }
        Field::TimestampMillis(ms) => match DateTime::from_timestamp_millis(*ms) {
            Some(t) => out.push_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true)),
            None => push_display(ms, out),
        },
        Field::TimestampMicros(us) => match DateTime::from_timestamp_micros(*us) {
            Some(t) => out.push_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true)),
            None => push_display(us, out),
        },
        other => push_display(other, out),
    }
}

fn push_display(value: &impl std::fmt::Display, out: &mut String) {
    // Writing into a String cannot fail.
    let _ = write!(out, "{value}");
}

/// A float as serde_json writes it; not finite: null (JSON has no NaN).
fn push_float(value: f64, out: &mut String) {
    match serde_json::Number::from_f64(value) {
        Some(n) => push_display(&n, out),
        None => out.push_str("null"),
    }
}

/// A text log's decoder for an object of text, or for one of Parquet its rows as lines fed to
/// that decoder ([`Rows::Lines`]): which, its first bytes tell.
pub struct TextOrParquet {
    head: Vec<u8>,
    text: Option<Box<dyn ObjectDecoder>>,
    chosen: Option<Box<dyn ObjectDecoder>>,
}

impl TextOrParquet {
    pub fn boxed(text: Box<dyn ObjectDecoder>) -> Box<dyn ObjectDecoder> {
        Box::new(Self {
            head: Vec::new(),
            text: Some(text),
            chosen: None,
        })
    }

    /// The decoder the first bytes call for, fed them.
    fn choose(&mut self, out: &mut dyn EventSink) -> Result<(), FormatError> {
        let Some(text) = self.text.take() else {
            return Ok(());
        };
        let mut chosen: Box<dyn ObjectDecoder> = if self.head.starts_with(MAGIC) {
            Box::new(ParquetDecoder::new(Rows::Lines(text)))
        } else {
            text
        };
        chosen.feed(&std::mem::take(&mut self.head), out)?;
        self.chosen = Some(chosen);
        Ok(())
    }
}

impl ObjectDecoder for TextOrParquet {
    fn feed(&mut self, chunk: &[u8], out: &mut dyn EventSink) -> Result<(), FormatError> {
        if let Some(chosen) = &mut self.chosen {
            return chosen.feed(chunk, out);
        }
        self.head.extend_from_slice(chunk);
        if self.head.len() >= MAGIC.len() {
            self.choose(out)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn EventSink) -> Result<(), FormatError> {
        self.choose(out)?;
        match &mut self.chosen {
            Some(chosen) => chosen.finish(out),
            None => Ok(()),
        }
    }

    fn more(&mut self, out: &mut dyn EventSink) -> Result<bool, FormatError> {
        match &mut self.chosen {
            Some(chosen) => chosen.more(out),
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::panicked_in_reader;

    #[test]
    fn the_readers_panics_are_told_from_ours() {
        assert!(panicked_in_reader(
            "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/parquet-60.2.0/src/util/bit_util.rs"
        ));
        assert!(panicked_in_reader(
            "/build/vendor/parquet/src/util/bit_util.rs"
        ));
        assert!(!panicked_in_reader("src/formats/parquet.rs"));
        assert!(!panicked_in_reader(
            "./fuzz_targets/../../src/formats/parquet.rs"
        ));
    }
}
