#!/usr/bin/env bash
# Envelope benchmark (issue 8, docs/performance.md): plain events must cost what they cost
# before envelopes were recognised (this build against PREV_REV, in the same hyperfine run),
# and the cost of unwrapping ~1 GiB of AKS records and of GKE entries is written down.
#
#   scripts/bench-envelopes.sh                 # PREV_REV=47c45c0 (main before issue 8)
#   RUNS=10 PREV_REV=<rev> scripts/bench-envelopes.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
PREV_REV=${PREV_REV:-47c45c0}
TARGET=${CARGO_TARGET_DIR:-target}
mkdir -p bench-data

# The earlier revision, built once with the same toolchain and dependencies.
PREV=bench-data/auditq-$PREV_REV
if [ ! -x "$PREV" ]; then
  rm -rf bench-data/prev-src
  git worktree add -f --detach bench-data/prev-src "$PREV_REV" >&2
  (cd bench-data/prev-src && cargo build --release --bin auditq) >&2
  cp "$TARGET/release/auditq" "$PREV"
  git worktree remove --force bench-data/prev-src
fi
cargo build --release --bin auditq --example gen_audit >&2
AUDITQ=$TARGET/release/auditq

plain=bench-data/audit-1g.log
[ -f "$plain" ] || "$TARGET/release/examples/gen_audit" --seed 42 --bytes 1G --out "$plain"
aks=bench-data/aks-1g.json
gke=bench-data/gke-1g.json
[ -f "$aks" ] || python3 scripts/wrap-envelopes.py aks "$plain" "$aks"
[ -f "$gke" ] || python3 scripts/wrap-envelopes.py gke "$plain" "$gke"
ls -l "$plain" "$aks" "$gke" >&2
cat "$plain" "$aks" "$gke" > /dev/null   # warm the page cache (if it fits)

sel='verb=delete resource=secrets'
unsel='user=system:*'
# The same answer from every form (a check, not a timing).
for f in "$plain" "$aks" "$gke"; do
  echo "$f: $("$AUDITQ" -c "$sel" "$f") × '$sel'" >&2
done

hyperfine --style basic --warmup 1 --runs "$RUNS" --export-markdown bench-data/envelopes.md \
  -n "prev $PREV_REV plain '$sel'" "$PREV '$sel' $plain > /dev/null" \
  -n "this plain '$sel'" "$AUDITQ '$sel' $plain > /dev/null" \
  -n "prev $PREV_REV plain '$unsel'" "$PREV '$unsel' $plain > /dev/null" \
  -n "this plain '$unsel'" "$AUDITQ '$unsel' $plain > /dev/null" \
  -n "AKS '$sel'" "$AUDITQ '$sel' $aks > /dev/null" \
  -n "AKS '$unsel'" "$AUDITQ '$unsel' $aks > /dev/null" \
  -n "GKE '$sel'" "$AUDITQ '$sel' $gke > /dev/null" \
  -n "GKE '$unsel'" "$AUDITQ '$unsel' $gke > /dev/null" >&2
cat bench-data/envelopes.md
