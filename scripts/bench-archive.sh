#!/usr/bin/env bash
# Archive benchmark (docs/performance.md, issue #7): the 1 GiB generated log of
# scripts/bench.sh split into ten gzip lumberjack backups, searched by auditq, by
# `zcat | grep -F` and by `zcat | jq`, in the same hyperfine run; `--since` over the last
# tenth; memory of --dedupe and --merge.
#
#   scripts/bench-archive.sh            # RUNS=5 JQ_RUNS=1 PLAIN_RUNS=21 by default
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
JQ_RUNS=${JQ_RUNS:-1}
# The plain-file runs take a quarter of a second each, and vary by ±15 % on this VM:
# more of them make the medians comparable.
PLAIN_RUNS=${PLAIN_RUNS:-21}

missing=()
for tool in hyperfine jq python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cargo build --release --bin auditq --example gen_audit
AUDITQ=target/release/auditq
mkdir -p bench-data
data=bench-data/audit-1g.log
[ -f "$data" ] || target/release/examples/gen_audit --seed 42 --bytes 1G --out "$data"
arch=bench-data/archive-1g
if [ ! -f "$arch.complete" ]; then
  rm -rf "$arch" && mkdir -p "$arch"
  # Ten parts by lines; each named like a lumberjack backup rotated just after its last
  # event was written (stageTimestamp), then gzipped (gzip -6, like lumberjack's default).
  python3 - "$data" "$arch" <<'PY'
import json, sys, datetime, os
src, out = sys.argv[1], sys.argv[2]
lines = sum(1 for _ in open(src, 'rb'))
per = lines // 10 + 1
part, n, f, last = 0, 0, None, None
def close():
    f.close()
    t = datetime.datetime.fromisoformat(last.replace('Z', '+00:00')) + datetime.timedelta(milliseconds=1)
    name = 'audit-' + t.strftime('%Y-%m-%dT%H-%M-%S.') + '%03d' % (t.microsecond // 1000) + '.log'
    os.rename(os.path.join(out, 'part'), os.path.join(out, name))
for line in open(src, 'rb'):
    if f is None:
        f = open(os.path.join(out, 'part'), 'wb')
    f.write(line)
    n += 1
    if n == per:
        last = json.loads(line)['stageTimestamp']
        close(); f = None; n = 0
if f is not None:
    last = json.loads(line)['stageTimestamp']
    close()
PY
  gzip -6 "$arch"/audit-*.log
  touch "$arch.complete"
fi
cat "$arch"/*.gz > /dev/null   # warm the page cache

selective='verb=delete resource=secrets'
# The last tenth: everything after the ninth backup was rotated (the time in its name, plus
# 1 ms), i.e. the requests received while the tenth file was written.
since=$(ls "$arch"/*.gz | sed -n 9p | python3 -c '
import sys, re
m = re.search(r"(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-(\d\d)\.(\d{3})", sys.stdin.read())
d, H, M, S, ms = m.groups()
ms = int(ms) + 1
print(f"{d}T{H}:{M}:{S}.{ms:03d}Z" if ms < 1000 else f"{d}T{H}:{M}:{S}.999Z")')
out=$(mktemp -d)
hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$out/a.json" \
  -n "auditq '$selective' DIR" "$AUDITQ '$selective' $arch > /dev/null" \
  -n "auditq -j1 '$selective' DIR" "$AUDITQ -j1 '$selective' $arch > /dev/null" \
  -n "zcat DIR/*.gz | grep -F '\"verb\":\"delete\"'" "zcat $arch/*.gz | grep -F '\"verb\":\"delete\"' > /dev/null" \
  -n "auditq --since (last tenth) '$selective' DIR" "$AUDITQ --since $since '$selective' $arch > /dev/null" \
  -n "auditq -c DIR (every event)" "$AUDITQ -c $arch > /dev/null" >&2
cat "$data" > /dev/null   # warm the page cache
hyperfine --style basic --warmup 3 --runs "$PLAIN_RUNS" --export-json "$out/plain.json" \
  -n "auditq '$selective' FILE (1 GiB plain)" "$AUDITQ '$selective' $data > /dev/null" \
  -n "auditq --no-mmap '$selective' FILE" "$AUDITQ --no-mmap '$selective' $data > /dev/null" \
  -n "wc -l FILE" "wc -l $data > /dev/null" \
  -n "grep -cF '\"verb\":\"delete\"' FILE" "grep -cF '\"verb\":\"delete\"' $data | cat > /dev/null" >&2
# (GNU grep stops at the first match when its output is /dev/null: hence `| cat`.)
hyperfine --style basic --warmup 0 --runs "$JQ_RUNS" --export-json "$out/jq.json" \
  -n "zcat DIR/*.gz | jq -c 'select(.verb==\"delete\" and …)'" \
  "zcat $arch/*.gz | jq -c 'select(.verb==\"delete\" and .objectRef.resource==\"secrets\")' > /dev/null" >&2

total=$(cat "$arch"/*.gz | wc -c)
echo "archive: $arch, 10 gzip backups, $total compressed bytes, $(stat -c %s "$data") uncompressed; $(nproc) CPUs"
echo
echo "| command | median s | min s | max s |"
echo "|---|---:|---:|---:|"
jq -r '.results[] | "| `\(.command)` | \(.median*1000|round/1000) | \(.min*1000|round/1000) | \(.max*1000|round/1000) |"' \
  "$out/a.json" "$out/jq.json" "$out/plain.json"
echo
echo "--since $since (the last tenth: after the ninth backup was rotated):"
$AUDITQ -c --stats --since "$since" "$selective" "$arch" 2>&1 >/dev/null | grep -E 'bytes read|skipped by time'
echo "same count as a full scan filtered the same way: $($AUDITQ -c --since "$since" "$selective" "$arch") = $($AUDITQ -c "$selective time>=$since" "$arch")"
echo
peak() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2 " KiB"}'; }
echo "Peak memory (maximum resident set size):"
echo "- selective, DIR:                $(peak $AUDITQ "$selective" "$arch")"
echo "- --dedupe, every event, DIR:    $(peak $AUDITQ --dedupe "$arch")"
half=$(mktemp -d)
mkdir -p "$half/a" "$half/b"
i=0; for f in "$arch"/*.gz; do if [ $((i % 2)) -eq 0 ]; then ln -sf "$(realpath "$f")" "$half/a/"; else ln -sf "$(realpath "$f")" "$half/b/"; fi; i=$((i+1)); done
echo "- --merge of two halves, every event: $(peak $AUDITQ --merge "$half/a" "$half/b")"
echo "- --merge --dedupe of two halves:     $(peak $AUDITQ --merge --dedupe "$half/a" "$half/b")"
rm -rf "$out" "$half"
