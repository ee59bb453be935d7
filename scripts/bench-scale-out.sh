#!/usr/bin/env bash
# Scale-out benchmark (docs/performance.md): export speed and size, and DuckDB, chDB and
# Spark over the Parquet against auditq over the raw log, in one run. Arguments go to
# scripts/bench-scale-out.py (e.g. --sizes 1,2,4,8).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin auditq --example gen_audit
tests/conformance/setup.sh >&2
exec target/conformance-venv/bin/python scripts/bench-scale-out.py "$@"
