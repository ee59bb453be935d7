"""The exported table's columns and types (docs/scale-out.md, "The table"), as pyarrow
types: the schema check of a real export, and what fake_export.py writes."""

import pyarrow as pa

LEAF = pa.struct([
    ("path", pa.string()), ("text", pa.string()), ("num", pa.float64()),
    ("is_num", pa.bool_()), ("ts", pa.int64()),
])
TS = pa.timestamp("ns", tz="UTC")
S = pa.string()
L = pa.list_(pa.string())

COLUMNS = [
    ("time", TS), ("time_ns", pa.int64()), ("time_text", S), ("stage_timestamp", TS),
    ("audit_id", S), ("stage", S), ("level", S), ("verb", S), ("user", S), ("groups", L),
    ("impersonated_user", S), ("impersonated_groups", L), ("source_ips", L),
    ("user_agent", S), ("request_uri", S), ("resource", S), ("subresource", S),
    ("resource_path", S), ("namespace", S), ("name", S), ("api_group", S),
    ("api_version", S), ("code", pa.int64()), ("decision", S), ("reason", S),
    ("annotations", pa.map_(pa.string(), pa.string())), ("request_object", S),
    ("response_object", S), ("complex", pa.int64()), ("leaves", pa.list_(LEAF)),
    ("raw", S), ("seq", pa.int64()), ("source_file", S), ("source_line", pa.int64()),
    ("cluster", S), ("date", S),
]
SCHEMA = pa.schema(COLUMNS)


def _same(want, got):
    """Equal up to the physical spelling of a type (large_string, large_list, a list's
    item name, a timestamp zone written `UTC` or `+00:00`, a map's nullable values)."""
    if want == got:
        return True
    if pa.types.is_string(want):
        return pa.types.is_string(got) or pa.types.is_large_string(got) or pa.types.is_string_view(got)
    if pa.types.is_timestamp(want):
        return pa.types.is_timestamp(got) and got.unit == "ns" and got.tz in ("UTC", "+00:00", "Etc/UTC")
    if pa.types.is_map(want):
        return pa.types.is_map(got) and _same(want.key_type, got.key_type) and _same(want.item_type, got.item_type)
    if pa.types.is_list(want):
        return (pa.types.is_list(got) or pa.types.is_large_list(got)) and _same(want.value_type, got.value_type)
    if pa.types.is_struct(want):
        if not pa.types.is_struct(got) or got.num_fields != want.num_fields:
            return False
        return all(
            want.field(i).name == got.field(i).name and _same(want.field(i).type, got.field(i).type)
            for i in range(want.num_fields)
        )
    return False


def check(schema, partitioned=()):
    """Problems of a Parquet file's schema against the contract (an empty list if none)."""
    problems = []
    names = schema.names
    for name, want in COLUMNS:
        if name in partitioned:
            if name in names:
                problems.append("partition column `%s` is also inside the file" % name)
            continue
        if name not in names:
            problems.append("column `%s` (%s) is missing" % (name, want))
            continue
        got = schema.field(name).type
        if not _same(want, got):
            problems.append("column `%s` is %s, the contract says %s" % (name, got, want))
    extra = [n for n in names if n not in dict(COLUMNS)]
    if extra:
        problems.append("columns not in the contract: %s" % ", ".join(extra))
    return problems
