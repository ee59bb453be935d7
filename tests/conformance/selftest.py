#!/usr/bin/env python3
"""The harness' own test, runnable before `auditq export` and `auditq sql` exist: the
suite runs with fake_export.py (pyarrow writes the contract's table) and fake_sql.py
(hand-written SQL for a few queries, refusals for the rest, and one wrong translation)
on a small log (the first 600 events of testdata/sample.log and ten trap events with
missing fields). It must compare the hand-written queries on every engine, find exactly
the wrong one (`verb!=get`, NULL where the event has no verb) on each, count the
refusals, and find nothing else.

    selftest.py --auditq BIN [--engines duckdb,clickhouse,spark]
"""

import argparse
import collections
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import conformance  # noqa: E402
import traps  # noqa: E402

HAND_WRITTEN = [
    "verb=get", "not verb=get", "verb!=get", "code>=400", "as=*", "ns=prod,staging",
    "verb=delete resource=secrets", "group=system:masters", "ua~^kubectl/",
    "time>=2026-01-05T10:00:10Z", "requestObject.spec.containers.securityContext.privileged=true", "",
]
WRONG = "verb!=get"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--auditq", default=os.path.join(ROOT, "target", "release", "auditq"))
    ap.add_argument("--engines", default="duckdb,clickhouse,spark")
    ap.add_argument("--work", default=os.path.join(ROOT, "target", "conformance-selftest"))
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    log = os.path.join(a.work, "selftest.log")
    with open(os.path.join(ROOT, "testdata", "sample.log"), encoding="utf-8") as f:
        head = [next(f) for _ in range(600)]
    with open(log, "w", encoding="utf-8") as f:
        f.writelines(head)
        f.write("\n".join(traps.trap_lines()[:10]) + "\n")
    py = sys.executable
    argv = ["run", "--auditq", a.auditq, "--work", a.work, "--inputs", log, "--engines", a.engines,
            "--translate-only", "", "--generated", "40", "--counts", "20", "--crosscheck", "6",
            "--max-refused", "1.0", "--chunk", "5", "--sources", "extra,docs,preset,generated",
            "--export-cmd", "%s %s" % (py, os.path.join(HERE, "fake_export.py")),
            "--sql-cmd", "%s %s" % (py, os.path.join(HERE, "fake_sql.py")),
            "--focus", "^(%s)$" % "|".join(conformance.re.escape(q) for q in HAND_WRITTEN if q)]
    for q in HAND_WRITTEN:
        argv += ["--extra-query", q]
    report = conformance_run(argv)
    problems = []
    engines = [e for e in a.engines.split(",") if e]
    if report.errors:
        problems.append("errors: %s" % report.errors)
    wrong = collections.defaultdict(set)
    for d in report.differences:
        if d["query"] != WRONG:
            problems.append("unexpected difference: %s %s %s" % (d["engine"], d["what"], d["query"]))
        wrong[d["engine"]].add(d["what"])
    for e in engines:
        name = report.engines[e].split(" ")[0]
        found = [w for eng, ws in wrong.items() if eng.startswith(name) for w in ws]
        if "events (--where, batched)" not in found or "events (statement)" not in found:
            problems.append("%s: the wrong translation of %s was not found in both the batch and the statement (%s)" % (e, WRONG, found))
        for what, least in (("events", len(HAND_WRITTEN)), ("statements", len(HAND_WRITTEN)), ("count", len(HAND_WRITTEN)), ("count-by", 4)):
            if report.compared[(e, what)] < least:
                problems.append("%s: only %d %s compared, expected %d or more" % (e, report.compared[(e, what)], what, least))
        if len(report.refused[e]) < 40:
            problems.append("%s: %d refusals counted; the stand-in refuses the 40 generated queries" % (e, len(report.refused[e])))
    if problems:
        print("SELFTEST FAILED:\n  " + "\n  ".join(problems))
        return 1
    print("SELFTEST OK: the hand-written translations agree with auditq on %s; the wrong one was found on each"
          % ", ".join(engines))
    return 0


def conformance_run(argv):
    """conformance.py run, returning its report."""
    captured = {}
    real = conformance.main_run

    def keep(args):
        captured["report"] = real(args)
        return captured["report"]

    conformance.main_run = keep
    try:
        conformance.main(argv)
    finally:
        conformance.main_run = real
    return captured["report"]


if __name__ == "__main__":
    sys.exit(main())
