//! VPC flow log records written as Parquet for the bench (the version 2 columns with the types
//! AWS writes for flow logs delivered as Parquet, gzip pages, row groups of [`ROWS_PER_GROUP`]),
//! made with the parquet crate's writer; and the same records as the text format.

use std::sync::Arc;

use parquet::basic::{Compression, GzipLevel};
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

const SCHEMA: &str = "message flow_log {
  optional int32 version; optional binary account_id (STRING);
  optional binary interface_id (STRING); optional binary srcaddr (STRING);
  optional binary dstaddr (STRING); optional int32 srcport; optional int32 dstport;
  optional int32 protocol; optional int64 packets; optional int64 bytes; optional int64 start;
  optional int64 end; optional binary action (STRING); optional binary log_status (STRING);
}";
const HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n";
/// Rows per row group (about 1.5 MB of Parquet each).
const ROWS_PER_GROUP: usize = 50_000;

/// One flow log record.
struct Flow {
    interface: String,
    src: String,
    dst: String,
    ports: (i32, i32),
    protocol: i32,
    packets: i64,
    bytes: i64,
    start: i64,
    accept: bool,
}

/// Varied records (a xorshift sequence), so the object compresses as real traffic does.
struct Flows(u64);

impl Flows {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn flow(&mut self) -> Flow {
        let r = self.next_u64();
        let ip = |x: u64| format!("10.{}.{}.{}", x & 0xff, (x >> 8) & 0xff, (x >> 16) & 0xff);
        Flow {
            interface: format!("eni-{:017x}", r & 0xfff),
            src: ip(r >> 12),
            dst: ip(self.next_u64()),
            ports: (
                (r >> 36) as i32 & 0xffff,
                [443, 80, 22, 53][(r >> 52) as usize & 3],
            ),
            protocol: [6, 17][(r >> 54) as usize & 1],
            packets: (r >> 55) as i64 & 0xff,
            bytes: (r >> 40) as i64 & 0xfffff,
            start: 1_714_557_600 + (r >> 44) as i64 % 600,
            accept: r & 1 == 0,
        }
    }
}

/// A Parquet object of about `bytes` bytes; its rows, and (when `text`) the same records as
/// the text format, uncompressed.
pub fn flow_object(bytes: usize, text: bool) -> (Vec<u8>, u64, Vec<u8>) {
    let schema = Arc::new(parse_message_type(SCHEMA).unwrap());
    let properties = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::GZIP(GzipLevel::default()))
            .build(),
    );
    let mut out = Vec::new();
    let mut lines = Vec::new();
    if text {
        lines.extend_from_slice(HEADER.as_bytes());
    }
    let mut writer = SerializedFileWriter::new(&mut out, schema, properties).unwrap();
    let mut flows = Flows(0x9e37_79b9_7f4a_7c15);
    let mut rows = 0u64;
    while writer.bytes_written() < bytes {
        let group: Vec<Flow> = (0..ROWS_PER_GROUP).map(|_| flows.flow()).collect();
        if text {
            for f in &group {
                lines.extend_from_slice(
                    format!(
                        "2 111122223333 {} {} {} {} {} {} {} {} {} {} {} OK\n",
                        f.interface,
                        f.src,
                        f.dst,
                        f.ports.0,
                        f.ports.1,
                        f.protocol,
                        f.packets,
                        f.bytes,
                        f.start,
                        f.start + 60,
                        if f.accept { "ACCEPT" } else { "REJECT" }
                    )
                    .as_bytes(),
                );
            }
        }
        write_group(&mut writer, &group);
        rows += group.len() as u64;
    }
    writer.close().unwrap();
    (out, rows, lines)
}

fn write_group(writer: &mut SerializedFileWriter<&mut Vec<u8>>, group: &[Flow]) {
    let defined = vec![1i16; group.len()];
    let texts = |f: &dyn Fn(&Flow) -> String| -> Vec<ByteArray> {
        group
            .iter()
            .map(|r| ByteArray::from(f(r).as_str()))
            .collect()
    };
    let ints = |f: &dyn Fn(&Flow) -> i32| -> Vec<i32> { group.iter().map(f).collect() };
    let longs = |f: &dyn Fn(&Flow) -> i64| -> Vec<i64> { group.iter().map(f).collect() };
    let mut row_group = writer.next_row_group().unwrap();
    let mut column = 0;
    while let Some(mut c) = row_group.next_column().unwrap() {
        let d = Some(&defined[..]);
        match column {
            0 => c.typed::<Int32Type>().write_batch(&ints(&|_| 2), d, None),
            1 => {
                c.typed::<ByteArrayType>()
                    .write_batch(&texts(&|_| "111122223333".into()), d, None)
            }
            2 => c
                .typed::<ByteArrayType>()
                .write_batch(&texts(&|r| r.interface.clone()), d, None),
            3 => c
                .typed::<ByteArrayType>()
                .write_batch(&texts(&|r| r.src.clone()), d, None),
            4 => c
                .typed::<ByteArrayType>()
                .write_batch(&texts(&|r| r.dst.clone()), d, None),
            5 => c
                .typed::<Int32Type>()
                .write_batch(&ints(&|r| r.ports.0), d, None),
            6 => c
                .typed::<Int32Type>()
                .write_batch(&ints(&|r| r.ports.1), d, None),
            7 => c
                .typed::<Int32Type>()
                .write_batch(&ints(&|r| r.protocol), d, None),
            8 => c
                .typed::<Int64Type>()
                .write_batch(&longs(&|r| r.packets), d, None),
            9 => c
                .typed::<Int64Type>()
                .write_batch(&longs(&|r| r.bytes), d, None),
            10 => c
                .typed::<Int64Type>()
                .write_batch(&longs(&|r| r.start), d, None),
            11 => c
                .typed::<Int64Type>()
                .write_batch(&longs(&|r| r.start + 60), d, None),
            12 => c.typed::<ByteArrayType>().write_batch(
                &texts(&|r| if r.accept { "ACCEPT" } else { "REJECT" }.into()),
                d,
                None,
            ),
            _ => c
                .typed::<ByteArrayType>()
                .write_batch(&texts(&|_| "OK".into()), d, None),
        }
        .unwrap();
        c.close().unwrap();
        column += 1;
    }
    row_group.close().unwrap();
}
