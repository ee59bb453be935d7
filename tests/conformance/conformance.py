#!/usr/bin/env python3
"""The scale-out conformance suite (docs/scale-out.md, "Conformance"): `auditq export`
writes the events of real, bundled, generated and trap logs to Parquet; DuckDB, chDB
(ClickHouse) and PySpark run what `auditq sql` translates each query into; every answer
must equal auditq's own on the raw logs: the events, by (audit_id, stage, seq) and their
`raw` text, and with `-c` / `--count-by` the counts.

    conformance.py run --auditq BIN --gen-audit BIN --corpus DIR [options]
    conformance.py gen-queries --auditq BIN [--count N] [--seed S] INPUT…   (stdlib only)
    conformance.py traps OUT                                                 (stdlib only)

`run` prints a summary and writes the full report to WORK/report.txt (and report.json);
it exits 1 on any difference, error, or a refused share of generated queries above
--max-refused. The engines come from tests/conformance/setup.sh.
"""

import argparse
import array
import bisect
import collections
import concurrent.futures
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import docqueries  # noqa: E402
import querygen  # noqa: E402
import traps  # noqa: E402

ENGINE_DIALECTS = ["duckdb", "clickhouse", "spark"]
TRANSLATE_ONLY = ["trino", "bigquery"]
DEFAULT_FIELD_SETS = [["verb"], ["user", "code"], ["ns", "resource", "subresource"], ["group", "as"],
                      ["decision", "stage"], ["time", "ip"]]
# The fields `auditq sql --count-by` takes (those with a typed column; docs/scale-out.md).
COUNT_BY_FIELDS = {"user", "group", "as", "verb", "resource", "subresource", "ns", "namespace", "name", "apigroup",
                   "apiversion", "stage", "level", "code", "ip", "ua", "uri", "auditid", "decision", "reason", "time"}
TABLE = "audit"


class Fatal(Exception):
    """The suite cannot go on (a missing engine, an export that failed, …)."""


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ running auditq


def run(argv, env=None, timeout=600):
    p = subprocess.run(argv, capture_output=True, env=env, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def pmap(fn, items, jobs):
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(fn, items))


def events_of(jsonl):
    """auditq's `-o jsonl` output: [(raw, event or None)]."""
    out = []
    for line in jsonl.split("\n"):
        if line:
            try:
                out.append((line, json.loads(line)))
            except ValueError:
                out.append((line, None))
    return out


def key_of(event):
    """(audit_id, stage) as the table's typed columns hold them for a plain event."""
    if not isinstance(event, dict):
        return (None, None)
    a, s = event.get("auditID"), event.get("stage")
    return (a if isinstance(a, str) else None, s if isinstance(s, str) else None)


# ------------------------------------------------------------------ inputs


def bundled_inputs():
    """The bundled samples: sample.log, edge cases (not the truncated gzip, an error by
    design), envelopes, the HA pair."""
    files = [os.path.join(ROOT, "testdata", "sample.log")]
    for sub in ("edge", "envelopes", os.path.join("ha", "cp1"), os.path.join("ha", "cp2")):
        d = os.path.join(ROOT, "testdata", sub)
        files += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f != "truncated.log.gz"]
    return files


def corpus_inputs(corpus):
    if not corpus or not os.path.isfile(os.path.join(corpus, "SOURCES.md")):
        raise Fatal("the corpus is needed: --corpus or AUDITQ_CORPUS=../shared/corpus (SOURCES.md missing in %r)" % corpus)
    files = []
    for root, dirs, names in os.walk(corpus):
        dirs.sort()
        files += [os.path.join(root, n) for n in sorted(names) if n not in ("SOURCES.md", "README.md")]
    return files


def generated_input(work, gen_audit, seed, size):
    path = os.path.join(work, "gen-seed%d-%s.log" % (seed, size))
    if not os.path.isfile(path):
        code, _, err = run([gen_audit, "--seed", str(seed), "--bytes", size, "--out", path + ".tmp"])
        if code != 0:
            raise Fatal("gen_audit failed: %s" % err)
        os.replace(path + ".tmp", path)
    return path


def trap_input(work):
    path = os.path.join(work, "traps.log")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(traps.trap_lines()) + "\n")
    return path


# ------------------------------------------------------------------ queries


class Query:
    def __init__(self, qid, source, args):
        self.id = qid
        self.source = source          # docs/…:line, preset, trap, generated
        self.args = list(args)        # auditq's query words (ANDed)
        self.seqs = array.array("q")  # the seqs of auditq's events (or of its complement's)
        self.complement = False       # seqs holds the events of `not (QUERY)`: the answer is the rest
        self.total = 0                # the table's rows
        self.unmatched = []           # auditq's lines the table does not hold
        self.where = {}               # dialect -> ("ok", sql) | ("refused", msg) | ("error", msg)

    @property
    def answer(self):
        """auditq's events as seqs, in its order (the table's)."""
        if not self.complement:
            return list(self.seqs)
        out = set(self.seqs)
        return [i for i in range(self.total) if i not in out]

    @property
    def text(self):
        return " ".join(shlex.quote(a) for a in self.args) if len(self.args) != 1 else self.args[0]

    def kind(self):
        return self.source.split(":")[0] if not self.source.startswith("docs/") else "docs"


def preset_names(auditq):
    code, out, err = run([auditq, "--presets"], env=clean_env())
    if code != 0:
        raise Fatal("auditq --presets failed: %s" % err)
    return [m.group(1) for m in re.finditer(r"^@([\w-]+)", out, re.M)]


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("AUDITQ_PRESETS", "NO_COLOR")}
    env["XDG_CONFIG_HOME"] = os.path.join(ROOT, "testdata", "no-config")
    env["AUDITQ_PRESETS"] = ""
    env.update(extra or {})
    return env


def all_queries(auditq, events, generated, seed, extra=()):
    qs, seen = [], set()

    def add(source, args):
        key = tuple(args)
        if key not in seen:
            seen.add(key)
            qs.append(Query(len(qs), source, args))

    for q in extra:
        add("extra", [q])
    found, field_sets = docqueries.doc_queries(ROOT)
    for label, args in found:
        add(label, args)
    presets = preset_names(auditq)
    for name in presets:
        add("preset", ["@" + name])
    for q in traps.TRAP_QUERIES:
        add("trap", [q])
    pool = querygen.Pool([e for _, e in events], seed=seed)
    gen = querygen.QueryGen(pool, seed, presets)
    before = len(qs)
    while len(qs) - before < generated:
        add("generated", [gen.query()])
    return qs, field_sets



# ------------------------------------------------------------------ the table


class Table:
    """The export as pyarrow reads it: raw and keys by seq."""

    def __init__(self, directory):
        import pyarrow.dataset as ds
        import schema
        from engines import parquet_files

        files = parquet_files(directory)
        if not files:
            raise Fatal("the export wrote no Parquet file under %s" % directory)
        import pyarrow.parquet as pq
        self.schema_problems = []
        for f in files[:3]:
            self.schema_problems += ["%s: %s" % (os.path.relpath(f, directory), p) for p in schema.check(pq.read_schema(f), self._partitions(f, directory))]
        data = ds.dataset(directory, format="parquet", partitioning="hive")
        cols = [c for c in ("seq", "audit_id", "stage", "raw", "source_file", "source_line") if c in data.schema.names]
        t = data.to_table(columns=cols).sort_by("seq")
        get = lambda c: t.column(c).to_pylist() if c in cols else [None] * t.num_rows
        self.seq = get("seq")
        self.raw = get("raw")
        self.audit_id, self.stage = get("audit_id"), get("stage")
        self.source_file, self.source_line = get("source_file"), get("source_line")
        self.index = {s: i for i, s in enumerate(self.seq)}
        self.by_raw = collections.defaultdict(list)   # raw as UTF-8 bytes -> seqs
        for s, r in zip(self.seq, self.raw):
            self.by_raw[r.encode("utf-8") if isinstance(r, str) else b""].append(s)

    @staticmethod
    def _partitions(f, directory):
        rel = os.path.relpath(os.path.dirname(f), directory)
        return [p.split("=")[0] for p in rel.split(os.sep) if "=" in p]

    def where(self, seq):
        i = self.index.get(seq)
        if i is None:
            return "seq %s (not in the table)" % seq
        place = "%s:%s" % (self.source_file[i], self.source_line[i]) if self.source_file[i] else "?"
        return "seq %d %s/%s at %s: %s" % (seq, self.audit_id[i], self.stage[i], place, short(self.raw[i]))

    def match(self, lines):
        """auditq's output lines (bytes) as seqs: each the next one in the table's order
        with the same raw text (auditq prints in the export's order; invalid UTF-8 reads
        as U+FFFD). Lines the table lacks apart."""
        seqs, unmatched, last = array.array("q"), [], -1
        for line in lines:
            cands = self.by_raw.get(line)
            if cands is None:
                cands = self.by_raw.get(line.decode("utf-8", "replace").encode("utf-8"))
            if not cands:
                unmatched.append(line.decode("utf-8", "replace"))
                continue
            k = bisect.bisect_right(cands, last)
            s = cands[k] if k < len(cands) else cands[0]
            seqs.append(s)
            last = s
        return seqs, unmatched


def output_lines(argv, env, limit=None):
    """The lines a command prints (bytes), or None once there are more than `limit`
    (the command is stopped then)."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    chunks, newlines = [], 0
    while True:
        chunk = p.stdout.read(1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
        newlines += chunk.count(b"\n")
        if limit is not None and newlines > limit:
            p.kill()
            p.communicate()
            return None, None, ""
    err = p.stderr.read().decode("utf-8", "replace")
    p.wait()
    data = b"".join(chunks)
    return p.returncode, [l for l in data.split(b"\n") if l], err


def complement_args(args):
    """`not (A and B …)` of a query's words; None when the query is empty (matches all)."""
    parts = [a for a in args if a.strip()]
    if not parts:
        return None
    return ["not (" + " and ".join("(%s)" % a for a in parts) + ")"]


def short(text, n=300):
    text = text if isinstance(text, str) else repr(text)
    return text if len(text) <= n else text[:n] + "…(%d chars)" % len(text)


# ------------------------------------------------------------------ the suite


class Report:
    def __init__(self):
        self.lines = []
        self.differences = []   # dicts
        self.errors = []        # strings
        self.refused = collections.defaultdict(list)   # dialect -> [(query, message)]
        self.compared = collections.Counter()          # (engine, what) -> n
        self.engines = {}                              # dialect -> version
        self.not_sampled = {}                          # dialect -> {query id} it does not run
        self.skipped = collections.Counter()           # dialect -> queries not run (sampled)

    def difference(self, **d):
        self.differences.append(d)

    def error(self, text):
        self.errors.append(text)
        log("error: " + text.splitlines()[0])


def sql_cmd(args):
    return (shlex.split(args.sql_cmd) if args.sql_cmd else [args.auditq]) + ["sql"]


def translate(args, q, dialect, mode=("--where",), table=False):
    argv = sql_cmd(args) + ["--dialect", dialect] + (["--table", TABLE] if table else []) + list(mode) + q.args
    code, out, err = run(argv, env=clean_env({"AUDITQ": args.auditq}))
    if code == 0 and out.strip():
        return ("ok", out.strip().rstrip(";").strip())
    if code == 2 and "^" in err:
        return ("refused", err.strip())
    return ("error", "exit %d: %s%s" % (code, err.strip(), " (no output)" if code == 0 else ""))


def compare_events(report, engine, q, sql, got, table, what):
    """got: [seq] the engine returned for q; auditq's in q.answer."""
    want = collections.Counter(q.answer)
    have = collections.Counter(got)
    if len(have) != len(got):
        report.difference(engine=engine, what=what + ": a seq twice", query=q.text, source=q.source, sql=sql,
                          auditq=len(want), engine_count=len(got), only_auditq=[],
                          only_engine=[table.where(s) for s, n in have.items() if n > 1][:5], more=0)
        return False
    if want == have and not q.unmatched:
        return True
    only_auditq = sorted((want - have).elements())
    only_engine = sorted((have - want).elements())
    report.difference(
        engine=engine, what=what, query=q.text, source=q.source, sql=sql,
        auditq=len(q.answer) + len(q.unmatched), engine_count=len(got),
        only_auditq=[table.where(s) for s in only_auditq[:5]] + ["not in the table: " + short(l) for l in q.unmatched[:3]],
        only_engine=[table.where(s) for s in only_engine[:5]],
        more=max(0, len(only_auditq) - 5) + max(0, len(only_engine) - 5),
    )
    return False


def batch_sql(conds):
    bits = ", ".join("CASE WHEN (%s) THEN '1' ELSE '0' END" % c for c in conds)
    zeros = "0" * len(conds)
    return "SELECT seq, bits FROM (SELECT seq, concat(%s, '') AS bits FROM %s) AS t WHERE bits <> '%s'" % (bits, TABLE, zeros)


def run_batches(report, eng, dialect, qs, table, chunk):
    """One SELECT per chunk: seq and a '0'/'1' per query (CASE WHEN cond: WHERE's reading
    of NULL). A chunk that fails is split, down to the query that fails."""
    ready = [q for q in qs if q.where.get(dialect, ("",))[0] == "ok"]
    report.skipped[dialect] = len([q for q in ready if q.id in report.not_sampled.get(dialect, ())])
    ready = [q for q in ready if q.id not in report.not_sampled.get(dialect, ())]
    got = {}

    def go(part):
        sql = batch_sql([q.where[dialect][1] for q in part])
        try:
            _, rows = eng.query(sql)
        except Exception as e:  # noqa: BLE001 - an engine's error, reported
            if len(part) == 1:
                q = part[0]
                report.difference(engine=eng.name, what="engine error", query=q.text, source=q.source,
                                  sql=q.where[dialect][1], auditq=len(q.answer), engine_count=None,
                                  only_auditq=[], only_engine=[], more=0, message=first_lines(str(e)))
                return
            half = len(part) // 2
            go(part[:half])
            go(part[half:])
            return
        for q in part:
            got[q.id] = []
        for seq, bits in rows:
            for i, b in enumerate(bits):
                if b == "1":
                    got[part[i].id].append(seq)

    for start in range(0, len(ready), chunk):
        go(ready[start:start + chunk])
    for q in ready:
        if q.id in got:
            report.compared[(dialect, "events")] += 1
            compare_events(report, eng.name, q, q.where[dialect][1], got[q.id], table, "events (--where, batched)")


def first_lines(text, n=6):
    return "\n".join(text.strip().splitlines()[:n])


def column(cols, name):
    for i, c in enumerate(cols):
        if c.lower() == name:
            return i
    return None


def crosscheck(report, args, eng, dialect, sample, table):
    """Full `auditq sql` statements, one at a time: the events in auditq's order, raw."""
    for q in sample:
        status, sql = translate(args, q, dialect, mode=(), table=True)
        if status == "refused":
            report.refused[dialect].append((q, "statement: " + sql.splitlines()[0]))
            continue
        if status == "error":
            report.error("%s: auditq sql %s failed: %s" % (dialect, q.text, sql))
            continue
        try:
            cols, rows = eng.query(sql)
        except Exception as e:  # noqa: BLE001
            report.difference(engine=eng.name, what="engine error (statement)", query=q.text, source=q.source,
                              sql=sql, auditq=len(q.answer), engine_count=None, only_auditq=[], only_engine=[],
                              more=0, message=first_lines(str(e)))
            continue
        report.compared[(dialect, "statements")] += 1
        si, ri = column(cols, "seq"), column(cols, "raw")
        if ri is None:
            report.difference(engine=eng.name, what="statement shape", query=q.text, source=q.source, sql=sql,
                              auditq=len(q.answer), engine_count=len(rows), only_auditq=[], only_engine=[], more=0,
                              message="the statement must return the column raw; it returned %s" % cols)
            continue
        if si is not None:
            seqs = [r[si] for r in rows]
        else:
            # raw alone (auditq sql's statement): the rows are the table's events in order.
            raws = [r[ri] if isinstance(r[ri], str) else "" for r in rows]
            seqs, unmatched = table.match([x.encode("utf-8") for x in raws])
            seqs = list(seqs)
            if unmatched:
                report.difference(engine=eng.name, what="raw", query=q.text, source=q.source, sql=sql,
                                  auditq=len(q.answer), engine_count=len(rows), only_auditq=[],
                                  only_engine=[short(u) for u in unmatched[:3]], more=len(unmatched) - 3,
                                  message="the engine returned raw texts the table does not hold")
                continue
        if not compare_events(report, eng.name, q, sql, seqs, table, "events (statement)"):
            continue
        if seqs != q.answer:
            report.difference(engine=eng.name, what="order", query=q.text, source=q.source, sql=sql,
                              auditq=len(q.answer), engine_count=len(rows), only_auditq=[], only_engine=[], more=0,
                              message="same events in another order than auditq's (first at %d)"
                              % next(i for i, (a, b) in enumerate(zip(seqs, q.answer)) if a != b))
            continue
        bad = [s for s, r in zip(seqs, rows) if r[ri] != table.raw[table.index[s]]]
        for s in bad[:1]:
            report.difference(engine=eng.name, what="raw", query=q.text, source=q.source, sql=sql,
                              auditq=len(q.answer), engine_count=len(rows), only_auditq=[table.where(s)],
                              only_engine=[short(rows[seqs.index(s)][ri])], more=len(bad) - 1,
                              message="the engine's raw differs from the table's")


def union(stmts):
    return " UNION ALL ".join("SELECT %d AS q__, * FROM (%s) AS t%d" % (i, s, i) for i, s in enumerate(stmts))


def run_counts(report, eng, dialect, items, expected, normalise):
    """items: [(label, query, sql)]; batched by UNION ALL, one by one when that fails."""
    results = {}
    for start in range(0, len(items), 25):
        part = items[start:start + 25]
        try:
            _, rows = eng.query(union([s for _, _, s in part]))
            for i in range(len(part)):
                results[start + i] = []
            for r in rows:
                results[start + r[0]].append(tuple(r[1:]))
        except Exception:  # noqa: BLE001 - retried one by one
            for i, (_, q, s) in enumerate(part):
                try:
                    _, rows = eng.query(s)
                    results[start + i] = [tuple(r) for r in rows]
                except Exception as e:  # noqa: BLE001
                    report.difference(engine=eng.name, what="engine error (%s)" % part[i][0], query=q.text,
                                      source=q.source, sql=s, auditq=None, engine_count=None, only_auditq=[],
                                      only_engine=[], more=0, message=first_lines(str(e)))
    for i, (label, q, sql) in enumerate(items):
        if i not in results:
            continue
        report.compared[(dialect, label.split(" ")[0])] += 1
        got, want = normalise(results[i]), expected[i]
        if got != want:
            report.difference(engine=eng.name, what=label, query=q.text, source=q.source, sql=sql,
                              auditq=sum(want.values()), engine_count=sum(got.values()),
                              only_auditq=["%s × %d" % (k, n) for k, n in sorted((want - got).items(), key=str)[:8]],
                              only_engine=["%s × %d" % (k, n) for k, n in sorted((got - want).items(), key=str)[:8]],
                              more=0)


def key_value(v):
    """A count-by key as auditq prints it in JSON: text, or None for missing and empty."""
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return querygen.go_text(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def norm_count_by(rows):
    c = collections.Counter()
    for r in rows:
        c[tuple(key_value(v) for v in r[:-1])] += int(r[-1])
    return c


def norm_count(rows):
    return collections.Counter({"count": int(rows[0][0])}) if len(rows) == 1 and len(rows[0]) == 1 else collections.Counter({"rows": repr(rows)})


def main_run(args):
    t_start = time.time()
    report = Report()
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    timings = collections.OrderedDict()

    def lap(name, t0):
        timings[name] = time.time() - t0
        log("%-28s %6.1f s" % (name, timings[name]))

    # Engines first: a missing one fails before anything else runs.
    import engines
    t0 = time.time()
    active = {}
    for d in args.engines:
        try:
            active[d] = engines.ENGINES[d]()
        except engines.Missing as e:
            raise Fatal("engine for %s is not installed (%s): run tests/conformance/setup.sh and use its python "
                        "(target/conformance-venv/bin/python)" % (d, e))
        report.engines[d] = "%s %s" % (active[d].name, active[d].version)
        log("engine %-10s %s" % (d, report.engines[d]))
    lap("engines started", t0)

    # Inputs.
    t0 = time.time()
    if args.inputs:
        inputs = [os.path.abspath(p) for p in args.inputs]
    else:
        inputs = corpus_inputs(args.corpus) + bundled_inputs()
        inputs.append(generated_input(work, args.gen_audit, args.gen_seed, args.gen_size))
        inputs.append(trap_input(work))
    if args.traps and args.inputs:
        inputs.append(trap_input(work))
    lap("inputs", t0)

    # Export once.
    t0 = time.time()
    export_dir = os.path.join(work, "export")
    shutil.rmtree(export_dir, ignore_errors=True)
    export = shlex.split(args.export_cmd) if args.export_cmd else [args.auditq]
    code, _, err = run(export + ["export", "--format", "parquet", "-o", export_dir, "--"] + inputs, env=clean_env({"AUDITQ": args.auditq}))
    if code != 0:
        raise Fatal("export failed (exit %d): %s" % (code, err.strip()))
    table = Table(export_dir)
    for p in table.schema_problems:
        report.error("schema: " + p)
    lap("export (%d events)" % len(table.seq), t0)

    # The table holds exactly what auditq reads, in its order.
    t0 = time.time()
    code, everything, err = run([args.auditq, "-o", "jsonl", "", "--"] + inputs, env=clean_env())
    if code not in (0, 1):
        raise Fatal("auditq on the inputs failed (exit %d): %s" % (code, err))
    events = events_of(everything)
    if table.seq != list(range(len(table.seq))):
        report.error("seq is not 0, 1, … %d in the export" % (len(table.seq) - 1))
    if [r for r, _ in events] != table.raw:
        n = next((i for i, (a, b) in enumerate(zip([r for r, _ in events], table.raw)) if a != b), min(len(events), len(table.raw)))
        report.error("the export's raw column, in seq order, is not what `auditq -o jsonl ''` prints: %d events vs %d "
                     "rows, first difference at %d:\n  auditq: %s\n  table:  %s"
                     % (len(events), len(table.raw), n, short(events[n][0] if n < len(events) else None),
                        short(table.raw[n] if n < len(table.raw) else None)))
    for i, (raw, ev) in enumerate(events[:len(table.seq)]):
        if key_of(ev) != (table.audit_id[i], table.stage[i]) and isinstance(ev, dict) and all(
                isinstance(ev.get(k), str) for k in ("auditID", "stage")):
            report.error("seq %d: audit_id/stage %r, the event says %r" % (i, (table.audit_id[i], table.stage[i]), key_of(ev)))
            break
    lap("export checked", t0)

    # Queries.
    t0 = time.time()
    qs, doc_field_sets = all_queries(args.auditq, events, args.generated, args.seed, args.extra_query)
    if args.only:
        qs = [q for q in qs if re.search(args.only, q.text)]
    qs = [q for q in qs if q.kind() in args.sources]
    lap("%d queries" % len(qs), t0)

    # auditq's answers on the raw logs.
    t0 = time.time()

    half = len(table.seq) // 2

    def answer(q):
        """auditq -o jsonl QUERY, or when it prints more than half the events, its
        complement `not (QUERY)` (the same answer, fewer lines to read)."""
        env = clean_env()
        code, lines, err = output_lines([args.auditq, "-o", "jsonl"] + q.args + ["--"] + inputs, env, half)
        if lines is not None or complement_args(q.args) is None:
            if lines is None:
                return True, 0, [], ""
            seqs, unmatched = table.match(lines)
            return False, code, (seqs, unmatched), err
        code, lines, err = output_lines([args.auditq, "-o", "jsonl"] + complement_args(q.args) + ["--"] + inputs, env)
        return True, code, table.match(lines) if code in (0, 1) else (array.array("q"), []), err

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for q, (complement, code, result, err) in zip(qs, pool.map(answer, qs)):
            q.total = len(table.seq)
            q.complement = complement
            if code not in (0, 1):
                report.error("auditq %s%s (%s): exit %d%s: %s" % (
                    "not " if complement else "", q.text, q.source, code,
                    " (the query does not parse)" if code == 2 and "^" in err else "", first_lines(err)))
                continue
            if complement and result == []:
                continue  # the empty query: every event
            q.seqs, q.unmatched = result
            if complement and q.unmatched:
                report.error("auditq not (%s) printed events the table lacks: %s" % (q.text, short(q.unmatched[0])))
    lap("auditq answers", t0)
    matching = sum(1 for q in qs if q.complement or len(q.seqs))
    log("queries matching some event: %d of %d" % (matching, len(qs)))

    # Translations: every dialect, one condition per query.
    t0 = time.time()
    dialects = list(args.engines) + [d for d in args.translate_only if d not in args.engines]
    jobs = [(q, d) for d in dialects for q in qs]
    for (q, d), res in zip(jobs, pmap(lambda j: translate(args, j[0], j[1]), jobs, args.jobs)):
        q.where[d] = res
        if res[0] == "refused":
            report.refused[d].append((q, res[1].splitlines()[0]))
        elif res[0] == "error":
            report.error("auditq sql --dialect %s --where %s: %s" % (d, q.text, first_lines(res[1])))
    lap("translated (%d)" % len(jobs), t0)

    # Samples for statements and counts (deterministic).
    rng = random.Random(args.seed)
    non_generated = [q for q in qs if q.source != "generated"]
    generated = [q for q in qs if q.source == "generated"]
    focus = [q for q in qs if q.source == "extra" or (args.focus and re.search(args.focus, q.text))]
    rest = [q for q in qs if q not in focus]
    cross = focus + [q for q in rest if q.source.startswith("docs/") or q.source == "preset"][: args.crosscheck // 2]
    cross += rng.sample(rest, max(0, min(len(rest), args.crosscheck - len(cross))))
    focus_ids = {q.id for q in focus}
    others = [q for q in non_generated if q.id not in focus_ids]
    counted = focus + rng.sample(others, min(len(others), args.counts // 3))
    counted += rng.sample(generated, max(0, min(len(generated), args.counts - len(counted))))
    cross = list(dict.fromkeys(cross))
    counted = list(dict.fromkeys(counted))
    field_sets = []
    for fs in doc_field_sets + DEFAULT_FIELD_SETS:
        if fs not in field_sets and all(f in COUNT_BY_FIELDS for f in fs):
            field_sets.append(fs)

    # Engines that run a sample of the generated queries (Spark's higher-order functions
    # on `leaves` cost about 0.1 s per query on 17,000 rows, even batched).
    for d, n in args.sample.items():
        if n < len(generated):
            keep = {q.id for q in random.Random(args.seed + 1).sample(generated, n)}
            report.not_sampled[d] = {q.id for q in generated if q.id not in keep}

    # auditq's counts.
    t0 = time.time()
    count_jobs = [(q, None) for q in counted]
    count_jobs += [(q, field_sets[(i * 3 + k) % len(field_sets)]) for i, q in enumerate(counted) for k in range(args.count_by_sets)]

    def auditq_count(job):
        q, fs = job
        if fs is None:
            code, out, err = run([args.auditq, "-c"] + q.args + ["--"] + inputs, env=clean_env())
            return ("count", collections.Counter({"count": int(out.strip())}) if code in (0, 1) and out.strip() else err)
        code, out, err = run([args.auditq, "--count-by", ",".join(fs), "-o", "json"] + q.args + ["--"] + inputs, env=clean_env())
        if code not in (0, 1):
            return ("count-by", err)
        doc = json.loads(out)
        c = collections.Counter()
        for r in doc["rows"]:
            c[tuple(v if v != "" else None for v in r["values"])] += r["count"]
        return ("count-by", c)

    expected = pmap(auditq_count, count_jobs, args.jobs)
    for (q, fs), (kind, c) in zip(count_jobs, expected):
        if not isinstance(c, collections.Counter):
            report.error("auditq %s %s: %s" % ("-c" if fs is None else "--count-by " + ",".join(fs), q.text, c))
        elif fs is None and c["count"] != len(q.answer) + len(q.unmatched):
            report.error("auditq -c %s says %d, -o jsonl printed %d events" % (q.text, c["count"], len(q.answer)))
    lap("auditq counts (%d)" % len(count_jobs), t0)

    # Each engine.
    for d, eng in active.items():
        t0 = time.time()
        eng.load(export_dir, TABLE)
        # The engine reads the same raw text and keys as pyarrow.
        cols, rows = eng.query("SELECT seq, audit_id, stage, raw FROM %s ORDER BY seq" % TABLE)
        mism = [r[0] for r in rows if (r[1], r[2], r[3]) != (table.audit_id[table.index[r[0]]], table.stage[table.index[r[0]]], table.raw[table.index[r[0]]])]
        if len(rows) != len(table.seq) or mism:
            report.error("%s reads the table otherwise than pyarrow: %d rows (pyarrow %d), %d differ (first %s)"
                         % (eng.name, len(rows), len(table.seq), len(mism), mism[:1]))
        run_batches(report, eng, d, qs, table, args.chunk)
        lap("%s: %d queries batched" % (d, report.compared[(d, "events")]), t0)
        t0 = time.time()
        crosscheck(report, args, eng, d, cross, table)
        lap("%s: %d statements" % (d, report.compared[(d, "statements")]), t0)
        t0 = time.time()
        items, want = [], []
        for (q, fs), (kind, c) in zip(count_jobs, expected):
            if not isinstance(c, collections.Counter) or q.id in report.not_sampled.get(d, ()):
                continue
            mode = ("-c",) if fs is None else ("--count-by", ",".join(fs))
            status, sql = translate(args, q, d, mode=mode, table=True)
            if status == "refused":
                report.refused[d].append((q, " ".join(mode) + ": " + sql.splitlines()[0]))
            elif status == "error":
                report.error("auditq sql --dialect %s %s %s: %s" % (d, " ".join(mode), q.text, first_lines(sql)))
            else:
                items.append(("count" if fs is None else "count-by " + ",".join(fs), q, sql))
                want.append(c)
        counts = [(i, it) for i, it in enumerate(items) if it[0] == "count"]
        by = [(i, it) for i, it in enumerate(items) if it[0] != "count"]
        run_counts(report, eng, d, [it for _, it in counts], [want[i] for i, _ in counts], norm_count)
        for fs in field_sets:
            label = "count-by " + ",".join(fs)
            part = [(i, it) for i, it in by if it[0] == label]
            if part:
                run_counts(report, eng, d, [it for _, it in part], [want[i] for i, _ in part], norm_count_by)
        lap("%s: %d counts, %d count-by" % (d, report.compared[(d, "count")], report.compared[(d, "count-by")]), t0)
        eng.close()

    # Refusals: a small share of the generated queries at most.
    for d in dialects:
        refused_gen = {q.id for q in generated if q.where.get(d, ("",))[0] == "refused"}
        share = len(refused_gen) / max(1, len(generated))
        if share > args.max_refused:
            report.error("%s refuses %d of %d generated queries (%.1f%%, at most %.1f%% allowed)"
                         % (d, len(refused_gen), len(generated), 100 * share, 100 * args.max_refused))

    for d in active:
        if not report.compared[(d, "events")]:
            report.error("%s: no query was compared" % d)

    timings["total"] = time.time() - t_start
    write_report(report, qs, args, work, dialects, timings, len(table.seq), inputs)
    return report


def write_report(report, qs, args, work, dialects, timings, rows, inputs):
    out = []
    p = out.append
    p("auditq scale-out conformance")
    p("inputs: %d files, %d events; queries: %d (%s)" % (
        len(inputs), rows, len(qs), ", ".join("%s %d" % (k, n) for k, n in sorted(collections.Counter(q.kind() for q in qs).items()))))
    for d, v in report.engines.items():
        p("engine %-10s %s" % (d, v))
    p("")
    p("%-11s %9s %9s %9s %9s %9s %9s %9s" % ("dialect", "compared", "refused", "gen.ref", "not run", "statemts", "counts", "count-by"))
    n_gen = sum(1 for q in qs if q.source == "generated")
    for d in dialects:
        refused_ids = {q.id for q, _ in report.refused[d] if q.where.get(d, ("",))[0] == "refused"}
        gen_ref = sum(1 for q in qs if q.id in refused_ids and q.source == "generated")
        p("%-11s %9d %9d %8.1f%% %9d %9d %9d %9d" % (
            d, report.compared[(d, "events")], len(refused_ids), 100.0 * gen_ref / max(1, n_gen), report.skipped[d],
            report.compared[(d, "statements")], report.compared[(d, "count")], report.compared[(d, "count-by")]))
    diff_by = collections.Counter(x["engine"] for x in report.differences)
    p("")
    p("differences: %d (%s); errors: %d" % (len(report.differences), ", ".join("%s %d" % kv for kv in diff_by.items()) or "none", len(report.errors)))
    p("times: " + ", ".join("%s %.0fs" % (k, v) for k, v in timings.items()))
    summary = "\n".join(out)
    details = []
    for e in report.errors:
        details.append("ERROR " + e)
    for x in report.differences:
        details.append("DIFFERENCE [%s] %s\n  query (%s): %s\n  sql: %s\n  auditq: %s events, engine: %s%s" % (
            x["engine"], x["what"], x["source"], x["query"], x["sql"], x["auditq"], x["engine_count"],
            ("\n  " + x["message"].replace("\n", "\n  ")) if x.get("message") else ""))
        for s in x["only_auditq"]:
            details.append("    only auditq: " + s)
        for s in x["only_engine"]:
            details.append("    only engine: " + s)
        if x["more"]:
            details.append("    … %d more" % x["more"])
    refusals = []
    for d in dialects:
        if report.refused[d]:
            refusals.append("refused by %s (%d):" % (d, len(report.refused[d])))
            for q, m in report.refused[d]:
                refusals.append("  [%s] %s  — %s" % (q.source, q.text, m))
    full = summary + "\n\n" + "\n".join(details + [""] + refusals) + "\n"
    with open(os.path.join(work, "report.txt"), "w", encoding="utf-8") as f:
        f.write(full)
    with open(os.path.join(work, "report.json"), "w", encoding="utf-8") as f:
        json.dump({"engines": report.engines, "differences": report.differences, "errors": report.errors,
                   "refused": {d: [{"query": q.text, "source": q.source, "message": m} for q, m in report.refused[d]] for d in dialects},
                   "compared": {"%s %s" % k: n for k, n in report.compared.items()}, "timings": timings}, f, indent=1)
    print(summary)
    shown = details[:60]
    if shown:
        print("\n" + "\n".join(shown))
        if len(details) > 60:
            print("… %d more lines" % (len(details) - 60))
    for d in dialects:
        if report.refused[d]:
            print("\nrefused by %s: %d (listed in %s)" % (d, len(report.refused[d]), os.path.join(work, "report.txt")))
            for q, m in report.refused[d][:10]:
                print("  [%s] %s — %s" % (q.source, q.text, m))
    print("\nfull report: %s" % os.path.join(work, "report.txt"))


# ------------------------------------------------------------------ CLI


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--auditq", default=os.path.join(ROOT, "target", "release", "auditq"))
    r.add_argument("--gen-audit", default=os.path.join(ROOT, "target", "release", "examples", "gen_audit"))
    r.add_argument("--corpus", default=os.environ.get("AUDITQ_CORPUS"))
    r.add_argument("--work", default=os.path.join(ROOT, "target", "conformance"))
    r.add_argument("--engines", default=",".join(ENGINE_DIALECTS), type=lambda s: [x for x in s.split(",") if x])
    r.add_argument("--translate-only", default=",".join(TRANSLATE_ONLY), type=lambda s: [x for x in s.split(",") if x])
    r.add_argument("--generated", type=int, default=2000, help="random queries (default 2000)")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--gen-seed", type=int, default=11)
    r.add_argument("--gen-size", default="5M")
    r.add_argument("--counts", type=int, default=100, help="queries whose -c and --count-by are compared")
    r.add_argument("--count-by-sets", type=int, default=3, help="field sets per counted query")
    r.add_argument("--crosscheck", type=int, default=24, help="queries run as full statements per engine")
    r.add_argument("--chunk", type=int, default=150, help="queries per batched SELECT")
    r.add_argument("--sample", default="spark=500", type=lambda s: {k: int(v) for k, v in (x.split("=") for x in s.split(",") if x)},
                   help="ENGINE=N,…: that engine runs N of the generated queries (default spark=500; every other query always)")
    r.add_argument("--max-refused", type=float, default=0.05)
    r.add_argument("--jobs", type=int, default=2)
    r.add_argument("--only", help="only queries matching this regex (to rerun a difference)")
    r.add_argument("--extra-query", action="append", default=[], help="a query to add (always cross-checked and counted)")
    r.add_argument("--sources", default="extra,docs,preset,trap,generated", type=lambda s: s.split(","),
                   help="which queries: extra, docs, preset, trap, generated")
    r.add_argument("--focus", help="queries matching this regex are always cross-checked and counted")
    r.add_argument("--inputs", nargs="*", help="instead of the corpus, samples, generated and trap logs")
    r.add_argument("--traps", action="store_true", help="with --inputs: add the trap events")
    r.add_argument("--export-cmd", help="instead of `auditq` for `export …` (the harness' own test)")
    r.add_argument("--sql-cmd", help="instead of `auditq sql` (the harness' own test)")
    g = sub.add_parser("gen-queries")
    g.add_argument("--auditq", default=os.path.join(ROOT, "target", "release", "auditq"))
    g.add_argument("--count", type=int, default=2000)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("inputs", nargs="+")
    t = sub.add_parser("traps")
    t.add_argument("out")
    args = ap.parse_args(argv)

    if args.cmd == "traps":
        with open(args.out, "w", encoding="utf-8") as f:
            f.write("\n".join(traps.trap_lines()) + "\n")
        return 0
    if args.cmd == "gen-queries":
        code, out, err = run([args.auditq, "-o", "jsonl", "", "--"] + args.inputs, env=clean_env())
        if code not in (0, 1):
            log(err)
            return 2
        pool = querygen.Pool([e for _, e in events_of(out)], seed=args.seed)
        gen = querygen.QueryGen(pool, args.seed, preset_names(args.auditq))
        for q in gen.queries(args.count):
            print(json.dumps(q, ensure_ascii=False))
        return 0
    try:
        report = main_run(args)
    except Fatal as e:
        print("conformance: %s" % e, file=sys.stderr)
        return 2
    if report.errors or report.differences:
        print("\nFAILED: %d differences, %d errors" % (len(report.differences), len(report.errors)))
        return 1
    print("\nOK: every engine returned what auditq returns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
