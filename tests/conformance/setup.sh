#!/usr/bin/env bash
# Installs the conformance suite's engines (tests/conformance/requirements.txt: DuckDB,
# chDB, PySpark, pyarrow) into target/conformance-venv, from PyPI with pip. Idempotent:
# when the venv holds exactly these pins (a stamp with the requirements' hash) it only
# checks Java and returns. pip's cache is target/pip-cache, so a rebuilt venv reuses the
# wheels (and PySpark's built sdist). PySpark needs Java 17 or later: installed with
# apt-get (default-jre-headless) when `java` is missing or older.
# Prints the venv's python path on its last line.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/conformance-venv
req=tests/conformance/requirements.txt
stamp="$venv/.requirements.sha256"

java_major() {
  java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1
}
if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ]; then
  echo "conformance setup: installing a Java runtime for PySpark (default-jre-headless)" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq default-jre-headless >/dev/null
  if [ "$(java_major)" -lt 17 ]; then
    echo "conformance setup: PySpark needs Java 17 or later; java -version says $(java_major)" >&2
    exit 2
  fi
fi

want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "$PWD/$venv/bin/python"
  exit 0
fi

start=$(date +%s)
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "conformance setup: needs Python 3.10 or later ($python)" >&2
  exit 2
fi
rm -f "$stamp"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --disable-pip-version-check -q \
  --cache-dir "${PIP_CACHE_DIR:-target/pip-cache}" -r "$req"
echo "$want" > "$stamp"
echo "conformance setup: engines installed in $venv in $(( $(date +%s) - start )) s" >&2
echo "$PWD/$venv/bin/python"
