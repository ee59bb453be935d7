#!/usr/bin/env bash
# Reproducible end-to-end benchmark: auditq vs wc -l vs jq on the same generated file,
# warm page cache, same run. Prints a Markdown table of medians for docs/performance.md.
#
#   scripts/bench.sh            # 1 GiB file (generated once into bench-data/)
#   scripts/bench.sh --big      # also the 4 GiB memory check
#   JQ_RUNS=3 RUNS=10 scripts/bench.sh
#   PREV_REV=2de4d1a scripts/bench.sh   # also an earlier revision, built beside this one,
#                                       # measured in the same hyperfine run
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-10}
JQ_RUNS=${JQ_RUNS:-2}

missing=()
for tool in hyperfine jq; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cargo build --release --bin auditq --example gen_audit
AUDITQ=target/release/auditq
mkdir -p bench-data
data=bench-data/audit-1g.log
[ -f "$data" ] || target/release/examples/gen_audit --seed 42 --bytes 1G --out "$data"
cat "$data" > /dev/null   # warm the page cache

selective='verb=delete resource=secrets'
unselective='user=system:*'
jq_selective='select(.verb=="delete" and .objectRef.resource=="secrets")'
jq_unselective='select(.user.username|startswith("system:"))'

prev_rows=()
if [ -n "${PREV_REV:-}" ]; then
  prev_dir=bench-data/prev-$PREV_REV
  if [ ! -x "$prev_dir/target/release/auditq" ]; then
    rm -rf "$prev_dir/src"
    git worktree add -f --detach "$prev_dir/src" "$PREV_REV" >&2
    (cd "$prev_dir/src" && CARGO_TARGET_DIR="../target" cargo build --release --bin auditq) >&2
    git worktree remove --force "$prev_dir/src"
  fi
  PREV=$prev_dir/target/release/auditq
  prev_rows=(
    -n "prev $PREV_REV '$selective'" "$PREV '$selective' $data > /dev/null"
    -n "prev $PREV_REV '$unselective'" "$PREV '$unselective' $data > /dev/null"
    -n "prev $PREV_REV -j1 '$selective'" "$PREV -j1 '$selective' $data > /dev/null"
    -n "prev $PREV_REV -j1 '$unselective'" "$PREV -j1 '$unselective' $data > /dev/null"
  )
fi

out=$(mktemp -d)
hyperfine --style basic --warmup 2 --runs "$RUNS" --export-json "$out/fast.json" \
  -n 'wc -l' "wc -l $data" \
  -n "auditq '$selective'" "$AUDITQ '$selective' $data > /dev/null" \
  -n "auditq --no-prefilter '$selective'" "$AUDITQ --no-prefilter '$selective' $data > /dev/null" \
  -n "auditq '$unselective'" "$AUDITQ '$unselective' $data > /dev/null" \
  -n "auditq -j1 '$selective'" "$AUDITQ -j1 '$selective' $data > /dev/null" \
  -n "auditq -j1 '$unselective'" "$AUDITQ -j1 '$unselective' $data > /dev/null" \
  -n "auditq --count-by user,verb (every event)" "$AUDITQ --count-by user,verb $data > /dev/null" \
  -n "auditq policy eval (docs example policy)" "$AUDITQ policy eval testdata/policies/k8s-docs-example.yaml $data > /dev/null" \
  "${prev_rows[@]}" >&2
hyperfine --style basic --warmup 0 --runs "$JQ_RUNS" --export-json "$out/jq.json" \
  -n "jq -c '$jq_selective'" "jq -c '$jq_selective' $data > /dev/null" \
  -n "jq -c '$jq_unselective'" "jq -c '$jq_unselective' $data > /dev/null" >&2

bytes=$(stat -c %s "$data")
echo "file: $data, $bytes bytes, $(wc -l < "$data") lines; $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
echo "| command | median s | min s | max s | GB/s |"
echo "|---|---:|---:|---:|---:|"
jq -r --argjson bytes "$bytes" '.results[] |
  "| `\(.command)` | \(.median*1000|round/1000) | \(.min*1000|round/1000) | \(.max*1000|round/1000) | \($bytes/.median/1e9*100|round/100) |"' \
  "$out/fast.json" "$out/jq.json"

echo
echo "Peak memory (/usr/bin/time -v, maximum resident set size; auditq reads with read(), no mmap):"
peak() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2 " KiB"}'; }
echo "- 1 GiB, selective:   $(peak $AUDITQ "$selective" "$data")"
echo "- 1 GiB, unselective: $(peak $AUDITQ "$unselective" "$data")"
if [ "${1:-}" = "--big" ]; then
  big=bench-data/audit-4g.log
  [ -f "$big" ] || target/release/examples/gen_audit --seed 43 --bytes 4G --out "$big"
  echo "- 4 GiB, selective:   $(peak $AUDITQ "$selective" "$big")"
  echo "- 4 GiB, unselective: $(peak $AUDITQ "$unselective" "$big")"
fi
rm -rf "$out"
