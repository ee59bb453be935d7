"""A stand-in for `auditq export --format parquet -o DIR INPUT…`, for the harness' own
test (selftest.py) until the real command exists: it reads the events with
`auditq -o jsonl ''` (so `raw` is what auditq prints) and writes the contract's columns
(schema.py) with pyarrow. Typed columns, `complex` and `leaves` follow docs/scale-out.md
for ordinary events; it is no reference for the corner cases (source_file and
source_line are left NULL: `-o jsonl` does not say where an event came from)."""

import datetime
import json
import os
import re
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from querygen import go_text  # noqa: E402
from schema import SCHEMA  # noqa: E402

TEXT = [
    ("user", ("user", "username"), 0), ("impersonated_user", ("impersonatedUser", "username"), 2),
    ("verb", ("verb",), 4), ("resource", ("objectRef", "resource"), 5),
    ("subresource", ("objectRef", "subresource"), 6), ("namespace", ("objectRef", "namespace"), 7),
    ("name", ("objectRef", "name"), 8), ("api_group", ("objectRef", "apiGroup"), 9),
    ("api_version", ("objectRef", "apiVersion"), 10), ("stage", ("stage",), 11),
    ("level", ("level",), 12), ("user_agent", ("userAgent",), 15),
    ("request_uri", ("requestURI",), 16), ("audit_id", ("auditID",), 17),
    ("decision", ("annotations", "authorization.k8s.io/decision"), 18),
    ("reason", ("annotations", "authorization.k8s.io/reason"), 19),
]
LISTS = [("groups", ("user", "groups"), 1), ("impersonated_groups", ("impersonatedUser", "groups"), 3),
         ("source_ips", ("sourceIPs",), 14)]
TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$")


def time_ns(text):
    if not isinstance(text, str):
        return None
    m = TIME.match(text)
    if not m:
        return None
    date, clock, frac, zone = m.groups()
    try:
        dt = datetime.datetime.fromisoformat("%sT%s" % (date, clock)).replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        dt -= sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    secs = (dt - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)) // datetime.timedelta(seconds=1)
    ns = secs * 10**9 + int(((frac or "") + "000000000")[:9])
    return ns if -(2**63) <= ns < 2**63 else None


def reached(v, path):
    """The values at `path`, arrays transparent on the way and at the end."""
    if isinstance(v, list):
        return [x for item in v for x in reached(item, path)]
    if not path:
        return [v]
    if isinstance(v, dict) and path[0] in v:
        return reached(v[path[0]], path[1:])
    return []


def one(v, path):
    """The value at `path` without walking arrays, and whether an array was met."""
    for key in path:
        if isinstance(v, list):
            return None, True
        if not isinstance(v, dict) or key not in v:
            return None, False
        v = v[key]
    return v, isinstance(v, list)


def text(v):
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    return go_text(v)


def canonical(keys):
    return ".".join(
        json.dumps(k, ensure_ascii=False) if k == "" or any(c in k for c in ".\"'\\ ") else k for k in keys
    )


def number(v):
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str) and re.fullmatch(r"[0-9+\-.eE]+", v.strip() or "x"):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def leaves(event):
    out = []

    def walk(v, keys):
        if isinstance(v, list):
            for item in v:
                walk(item, keys)
            return
        if keys:
            is_num = isinstance(v, (int, float)) and not isinstance(v, bool)
            out.append({
                "path": canonical(keys), "text": None if isinstance(v, dict) else go_text(v),
                "num": number(v), "is_num": is_num, "ts": time_ns(v),
            })
        if isinstance(v, dict):
            for k, item in v.items():
                walk(item, keys + [k])

    walk(event, [])
    return out


def row(event, raw, seq):
    r = {"raw": raw, "seq": seq, "source_file": None, "source_line": None, "cluster": None}
    complex_bits = 0
    for column, path, bit in TEXT:
        values = reached(event, path)
        v, array = one(event, path)
        r[column] = ",".join(text(x) for x in values) if values else None
        if values and (array or isinstance(v, dict) or len(values) != 1):
            complex_bits |= 1 << bit
    for column, path, bit in LISTS:
        values = reached(event, path)
        r[column] = [text(x) for x in values] if values else None
        if any(isinstance(x, dict) for x in values):
            complex_bits |= 1 << bit
    code, array = one(event, ("responseStatus", "code"))
    r["code"] = code if isinstance(code, int) and not isinstance(code, bool) and not array and -(2**63) <= code < 2**63 else None
    if code is not None and r["code"] is None:
        complex_bits |= 1 << 13
    t = event.get("requestReceivedTimestamp", event.get("timestamp"))
    r["time_text"] = t if isinstance(t, str) else (text(t) if t is not None else None)
    r["time_ns"] = time_ns(t)
    r["time"] = r["time_ns"]
    if t is not None and not isinstance(t, str):
        complex_bits |= 1 << 20
    r["stage_timestamp"] = time_ns(event.get("stageTimestamp"))
    ref = event.get("objectRef")
    res = ref.get("resource") if isinstance(ref, dict) else None
    sub = ref.get("subresource") if isinstance(ref, dict) else None
    r["resource_path"] = (res + "/" + sub if isinstance(sub, str) else res) if isinstance(res, str) else None
    ann = event.get("annotations")
    r["annotations"] = [(k, v) for k, v in ann.items() if isinstance(v, str)] if isinstance(ann, dict) else None
    for column, key in (("request_object", "requestObject"), ("response_object", "responseObject")):
        r[column] = json.dumps(event[key], separators=(",", ":"), ensure_ascii=False) if key in event else None
    r["complex"] = complex_bits
    r["leaves"] = leaves(event)
    r["date"] = (
        datetime.datetime.fromtimestamp(r["time_ns"] // 10**9, datetime.timezone.utc).strftime("%Y-%m-%d")
        if r["time_ns"] is not None and 0 <= r["time_ns"] < 253402300800 * 10**9 else "__HIVE_DEFAULT_PARTITION__"
    )
    return r


def main(argv):
    if not argv or argv[0] != "export":
        print("fake_export: only `export --format parquet -o DIR INPUT…`", file=sys.stderr)
        return 2
    args = argv[1:]
    out, inputs, i = None, [], 0
    while i < len(args):
        if args[i] == "--format":
            assert args[i + 1] == "parquet"
            i += 2
        elif args[i] == "-o":
            out = args[i + 1]
            i += 2
        elif args[i] == "--":
            i += 1
        else:
            inputs.append(args[i])
            i += 1
    proc = subprocess.run([os.environ["AUDITQ"], "-o", "jsonl", "", "--"] + inputs, capture_output=True)
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
        return proc.returncode
    rows = []
    lines = [l for l in proc.stdout.decode("utf-8", "replace").split("\n") if l]
    for seq, line in enumerate(lines):
        rows.append(row(json.loads(line), line, seq))
    os.makedirs(out, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    pq.write_table(table, os.path.join(out, "part-00000.parquet"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
