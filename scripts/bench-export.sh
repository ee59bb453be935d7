#!/usr/bin/env bash
# `auditq export` on the generated 1 GiB log (the one scripts/bench.sh uses): input MB/s,
# the Parquet size against `gzip -c` of the JSON lines, and where the Parquet bytes go
# (per-column compressed sizes from the file metadata, read with pyarrow).
#
#   scripts/bench-export.sh            # hyperfine if present (RUNS runs), else one timed run
#   RUNS=3 scripts/bench-export.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}

cargo build --release --bin auditq --example gen_audit
AUDITQ=target/release/auditq
mkdir -p bench-data
data=bench-data/audit-1g.log
[ -f "$data" ] || target/release/examples/gen_audit --seed 42 --bytes 1G --out "$data"
cat "$data" > /dev/null   # warm the page cache

if ! target/pyenv/bin/python -c 'import pyarrow' >/dev/null 2>&1; then
  python3 -m venv target/pyenv
  target/pyenv/bin/pip install -q pyarrow
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
input_bytes=$(stat -c %s "$data")

if command -v hyperfine >/dev/null; then
  hyperfine --style basic --runs "$RUNS" --export-json "$out/export.json" \
    --prepare "rm -rf $out/parquet" \
    -n 'auditq export (parquet)' "$AUDITQ export -o $out/parquet $data" \
    --prepare "rm -rf $out/jsonl" \
    -n 'auditq export --format jsonl' "$AUDITQ export --format jsonl -o $out/jsonl $data"
  target/pyenv/bin/python - "$out/export.json" "$input_bytes" <<'EOF'
import json, sys
runs = json.load(open(sys.argv[1]))["results"]
size = int(sys.argv[2])
for r in runs:
    print(f"{r['command']}: median {r['median']:.2f} s, {size / r['median'] / 1e6:.0f} MB/s of input "
          f"(user {r['user']:.2f} s, system {r['system']:.2f} s)")
EOF
else
  rm -rf "$out/parquet" "$out/jsonl"
  /usr/bin/time -f 'parquet: %e s wall, %U s user, %S s system, %M KiB max RSS' \
    "$AUDITQ" export -o "$out/parquet" "$data"
  /usr/bin/time -f 'jsonl: %e s wall, %U s user, %S s system, %M KiB max RSS' \
    "$AUDITQ" export --format jsonl -o "$out/jsonl" "$data"
fi
[ -d "$out/parquet" ] || "$AUDITQ" export -o "$out/parquet" "$data"

jsonl=$("$AUDITQ" -o jsonl '' "$data" | wc -c)
gz=$("$AUDITQ" -o jsonl '' "$data" | gzip -c | wc -c)
parquet=$(du -cb "$out"/parquet/*.parquet | tail -1 | cut -f1)
echo "JSON lines (auditq -o jsonl): $jsonl bytes; gzip -c of them: $gz bytes"
echo "parquet: $parquet bytes = $(( parquet * 100 / gz ))% of the gzip; the JSON lines are $(( jsonl * 10 / parquet ))/10 times its size"

target/pyenv/bin/python - "$out/parquet" <<'EOF'
import glob, sys, collections
import pyarrow.parquet as pq
sizes = collections.Counter()
raw = collections.Counter()
for path in glob.glob(sys.argv[1] + "/*.parquet"):
    md = pq.ParquetFile(path).metadata
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        for c in range(rg.num_columns):
            col = rg.column(c)
            top = col.path_in_schema.split(".")[0]
            sizes[top] += col.total_compressed_size
            raw[top] += col.total_uncompressed_size
total = sum(sizes.values())
print(f"{'column':<20}{'compressed':>14}{'share':>8}{'uncompressed':>16}")
for name, size in sizes.most_common():
    print(f"{name:<20}{size:>14,}{size * 100 / total:>7.1f}%{raw[name]:>16,}")
EOF
