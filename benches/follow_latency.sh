#!/usr/bin/env bash
# Follow-mode benchmark: write->output latency (p50/p99) at 1,000 and
# 50,000 events/s, idle CPU, CPU at 1,000 events/s, and the highest rate
# followed with no loss through lumberjack rotation (MaxSize 1 MiB,
# MaxBackups 3, so a follower that falls 3 files behind loses events).
#
# Usage: benches/follow_latency.sh            (from the crate root)
# Needs: cargo, go + golang-gopkg-natefinch-lumberjack.v2-dev, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release --quiet
bin=target/release/auditq
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$PWD/target/go-cache" \
  go build -o "$work/writer" tests/lumberjack/writer.go

# Reads auditq's output; prints latency percentiles from stageTimestamp
# (the writer's clock just before Write) to the moment the line arrives.
cat > "$work/lat.py" <<'PY'
import calendar, sys, time
cache = {}
lat = []
n = 0
for line in sys.stdin.buffer:
    now = time.time()
    i = line.find(b'"stageTimestamp":"')
    if i < 0:
        continue
    ts = line[i + 18:i + 48].split(b'"')[0].decode()
    sec = cache.get(ts[:19])
    if sec is None:
        sec = calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))
        cache[ts[:19]] = sec
    frac = float("0" + ts[19:].rstrip("Z")) if len(ts) > 20 else 0.0
    sent = sec + frac
    lat.append(now - sent)
    n += 1
lat.sort()
def pct(p):
    return lat[min(len(lat) - 1, int(len(lat) * p))] * 1000 if lat else float("nan")
print(f"lines={n} p50={pct(0.50):.2f}ms p99={pct(0.99):.2f}ms max={pct(1.0):.2f}ms")
PY

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

latency() { # rate count
  local d="$work/lat$1"; mkdir -p "$d"
  mkfifo "$d/fifo"
  python3 "$work/lat.py" < "$d/fifo" > "$d/out" &
  local py=$!
  "$bin" -f --from-start -- "$d/audit.log" > "$d/fifo" &
  local pid=$!
  sleep 0.5
  local c0; c0=$(cpu_ticks "$pid")
  # 20 backups: the Python consumer may lag; latency, not pruning, is measured here.
  "$work/writer" -path "$d/audit.log" -count "$2" -rate "$1" -maxsize 1 -backups 20 -size 1000 2>/dev/null
  sleep 1
  local c1; c1=$(cpu_ticks "$pid")
  kill -TERM "$pid"; wait "$pid" || true; wait "$py" || true
  local secs; secs=$(python3 -c "print($2/$1 + 1.3)")
  echo "rate=$1/s $(cat "$d/out") follower_cpu=$(python3 -c "print(f'{($c1-$c0)/$hz/$secs*100:.1f}%')")"
}

idle() {
  local d="$work/idle"; mkdir -p "$d"; : > "$d/audit.log"
  "$bin" -f -- "$d/audit.log" > /dev/null &
  local pid=$!
  sleep 1
  local c0; c0=$(cpu_ticks "$pid"); sleep 10; local c1; c1=$(cpu_ticks "$pid")
  kill -TERM "$pid"; wait "$pid" || true
  echo "idle: $((c1 - c0)) ticks in 10 s ($(python3 -c "print(f'{($c1-$c0)/$hz/10*100:.2f}%')") CPU)"
}

lossless() { # rate count [batch] -> prints ok/lost
  local d="$work/max$1-b${3:-1}"; rm -rf "$d"; mkdir -p "$d"
  "$bin" -f --from-start -- "$d/audit.log" > "$d/out" &
  local pid=$!
  sleep 0.5
  local t0; t0=$(date +%s.%N)
  "$work/writer" -path "$d/audit.log" -count "$2" -rate "$1" -maxsize 1 -backups 3 -size 1000 -batch "${3:-1}" 2>/dev/null
  local t1; t1=$(date +%s.%N)
  sleep 2
  kill -TERM "$pid"; wait "$pid" || true
  local got; got=$(wc -l < "$d/out")
  local inorder; inorder=$(python3 -c "
import sys
ids=[int(l.split(b'\"auditID\":\"')[1][24:36]) for l in open('$d/out','rb')]
print('yes' if ids==list(range($2)) else 'no')")
  # The writer sleeps 0.3 s after its last event (lets mill finish).
  local achieved; achieved=$(python3 -c "print(int($2/($t1-$t0-0.3)))")
  echo "rate=$1/s (0 = writer max) batch=${3:-1} achieved=${achieved}/s count=$2 output=$got exact_in_order=$inorder"
}

idle
latency 1000 10000
latency 50000 250000
for r in 50000 100000 200000 0; do lossless "$r" 300000; done
# One event per Write caps the Go writer near 80k events/s; batched writes (64 events per
# Write, still rotated by lumberjack at 1 MiB with 3 backups) show the follower's own limit.
for r in 200000 300000 0; do lossless "$r" 600000 64; done
