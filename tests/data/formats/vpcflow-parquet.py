"""Writes vpcflow.parquet and vpcflow-parquet.log: the same four VPC flow log records as Parquet
(the columns and types AWS documents for flow logs delivered to S3 as Parquet, gzip
compression) and as the text format (a header line, `-` for a missing value). The records are
those OpenTelemetry's fixture holds (opentelemetry-collector-contrib,
extension/encoding/awslogsencodingextension/internal/unmarshaler/vpc-flow-log/testdata/
valid_flow_log_parquet_expected.yaml). Run with pyarrow installed (the tests do not need it).
"""

import pyarrow as pa
import pyarrow.parquet as pq

COLUMNS = [
    ("version", pa.int32()), ("account_id", pa.string()), ("interface_id", pa.string()),
    ("srcaddr", pa.string()), ("dstaddr", pa.string()), ("srcport", pa.int32()),
    ("dstport", pa.int32()), ("protocol", pa.int32()), ("packets", pa.int64()),
    ("bytes", pa.int64()), ("start", pa.int64()), ("end", pa.int64()), ("action", pa.string()),
    ("log_status", pa.string()), ("vpc_id", pa.string()), ("subnet_id", pa.string()),
    ("instance_id", pa.string()), ("tcp_flags", pa.int32()), ("type", pa.string()),
    ("pkt_srcaddr", pa.string()), ("pkt_dstaddr", pa.string()), ("az_id", pa.string()),
    ("traffic_path", pa.int32()),
]
A, VPC = "123456789012", "vpc-0aaa1111bbbb2222c"
ROWS = [
    [5, A, "eni-0abc1234def567890", "10.0.1.100", "10.0.2.200", 49152, 22, 6, 15, 3500,
     1700000000, 1700000060, "ACCEPT", "OK", VPC, "subnet-0ddd3333eeee4444f",
     "i-0abcdef1234567890", 2, "IPv4", "203.0.113.50", "10.0.2.200", "use1-az1", 1],
    [5, A, "eni-0abc1234def567890", "10.0.1.100", "10.0.3.53", 55000, 53, 17, 2, 140,
     1700000010, 1700000070, "REJECT", "OK", VPC, "subnet-0ddd3333eeee4444f",
     "i-0abcdef1234567890", None, "IPv4", "10.0.1.100", "10.0.3.53", "use1-az1", 1],
    [5, A, "eni-0fff9999aaaa8888b", "192.168.1.50", "192.168.2.100", 443, 60000, 6, 100, 50000,
     1700000020, 1700000080, "ACCEPT", "OK", VPC, "subnet-0eee5555ffff6666a",
     "i-0fedcba0987654321", 19, "IPv4", "203.0.113.50", "192.168.2.100", "use1-az2", 2],
    [5, A, "eni-0fff9999aaaa8888b", None, None, None, None, None, None, None,
     1700000030, 1700000090, None, "NODATA", VPC, "subnet-0eee5555ffff6666a",
     "i-0fedcba0987654321", None, None, None, None, "use1-az2", None],
]
schema = pa.schema([pa.field(n, t) for n, t in COLUMNS])
table = pa.Table.from_pylist([dict(zip([c[0] for c in COLUMNS], r)) for r in ROWS], schema=schema)
pq.write_table(table, "vpcflow.parquet", compression="gzip")
with open("vpcflow-parquet.log", "w") as out:
    out.write(" ".join(n.replace("_", "-") for n, _ in COLUMNS) + "\n")
    for r in ROWS:
        out.write(" ".join("-" if v is None else str(v) for v in r) + "\n")
