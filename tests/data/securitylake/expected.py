"""Writes <file>.expected.jsonl beside each Parquet sample: its rows as devo-aws must ship them,
read by an independent implementation (pyarrow, not the parquet crate devo-aws uses).

Conventions (devo-aws's, see src/formats/parquet.rs): one compact JSON object per row, fields in
the schema's order, null fields left out (at any depth; nulls inside lists stay null), maps as
objects, Parquet timestamps as RFC 3339 with the unit's precision and `Z`, integers and floats
as numbers. Run with pyarrow installed (not needed by the tests):  python3 expected.py
"""

import datetime
import glob
import json

import pyarrow.parquet as pq


def shaped(value, arrow_type):
    import pyarrow as pa
    if value is None:
        return None
    if pa.types.is_struct(arrow_type):
        out = {}
        for field in arrow_type:
            v = shaped(value.get(field.name), field.type)
            if v is not None:
                out[field.name] = v
        return out
    if pa.types.is_map(arrow_type):
        return {str(k): shaped(v, arrow_type.item_type) for k, v in value}
    if pa.types.is_list(arrow_type):
        return [shaped(v, arrow_type.value_type) for v in value]
    if pa.types.is_timestamp(arrow_type):
        digits = {"ms": 3, "us": 6}[arrow_type.unit]
        text = value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
        return text[: 20 + digits] + "Z"
    return value


for path in sorted(glob.glob("*.parquet")):
    table = pq.read_table(path)
    with open(path + ".expected.jsonl", "w") as out:
        for row in table.to_pylist():
            record = {}
            for field in table.schema:
                v = shaped(row[field.name], field.type)
                if v is not None:
                    record[field.name] = v
            out.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")
