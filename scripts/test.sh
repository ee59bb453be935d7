#!/usr/bin/env bash
# The test command (README.md): installs what the tests need, then runs them all.
#  - Go and Debian's lumberjack package: the follow-mode tests rotate a real log with the
#    library kube-apiserver uses (built in GOPATH mode, no module download).
#  - AUDITQ_CORPUS: the real audit logs in ../shared/corpus (read, never copied).
#  - The scale-out conformance suite's engines (DuckDB, chDB, PySpark, pyarrow, from PyPI)
#    in target/conformance-venv: tests/conformance/setup.sh (fast when already there).
# Test binaries: the unit tests, tests/it (all integration tests) and
# tests/follow_lumberjack; AUDITQ_PROPTEST_CASES and AUDITQ_FOLLOW_MODEL_CASES raise the
# property tests above their CI-sized defaults (docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v go >/dev/null 2>&1 || need_apt+=(golang-go)
[ -d /usr/share/gocode/src/gopkg.in/natefinch/lumberjack.v2 ] || need_apt+=(golang-gopkg-natefinch-lumberjack.v2-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing test dependencies: ${need_apt[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# pyarrow, which tests/it/export.rs reads the exported Parquet with: a venv of its own in
# target/pyenv, created once (python3-venv from Debian if the venv module is missing).
if ! target/pyenv/bin/python -c 'import pyarrow' >/dev/null 2>&1; then
  if ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
  fi
  echo "installing pyarrow into target/pyenv" >&2
  python3 -m venv target/pyenv
  target/pyenv/bin/pip install -q pyarrow
fi

export AUDITQ_CORPUS="${AUDITQ_CORPUS:-../shared/corpus}"
if [ ! -f "$AUDITQ_CORPUS/SOURCES.md" ]; then
  echo "error: AUDITQ_CORPUS=$AUDITQ_CORPUS does not hold the corpus (SOURCES.md missing)" >&2
  exit 2
fi
export AUDITQ_CORPUS="$(cd "$AUDITQ_CORPUS" && pwd)"

AUDITQ_CONFORMANCE_PYTHON="$(tests/conformance/setup.sh | tail -1)"
export AUDITQ_CONFORMANCE_PYTHON

# The conformance suite generates a log with the gen_audit example; `cargo test` builds
# examples under hashed names only, so build the plain target/release/examples/gen_audit.
cargo build --release --example gen_audit
cargo test --release --all-targets "$@"
