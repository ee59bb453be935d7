#!/usr/bin/env python3
"""Scale-out benchmark (docs/performance.md, issue 16), all in one run on one machine:

- export: `auditq export --format parquet` of the generated log (MB/s of input), and its
  size against the same events as gzip'd JSON lines (`gzip -6`);
- one selective query (`verb=delete resource=secrets`, the events) and one aggregation
  (`--count-by user,verb`) by DuckDB, chDB and Spark (local mode) over the Parquet, with
  the SQL `auditq sql` writes, against auditq itself over the raw log;
- with --sizes 1,2,4,8: how each grows with the log (GiB).

Usage (from the repository; the engines come from tests/conformance/setup.sh's venv):

    scripts/bench-scale-out.sh                 # 1 GiB
    scripts/bench-scale-out.sh --sizes 1,2,4,8 # the growth table (needs ~30 GB of disk)

Prints Markdown tables. Times are medians of --runs runs (warm page cache); Spark's are
query times in a warm session (its start-up is printed apart).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AUDITQ = ROOT / "target/release/auditq"
GEN = ROOT / "target/release/examples/gen_audit"
DATA = ROOT / "bench-data"

SELECTIVE = "verb=delete resource=secrets"
KEYS = "user,verb"


def timed(fn, runs):
    times = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def run(args, **kw):
    return subprocess.run(args, check=True, **kw)


def sql_for(dialect, table, count_by=False):
    args = [str(AUDITQ), "sql", "--dialect", dialect, "--table", table]
    if count_by:
        args += ["--count-by", KEYS, ""]
    else:
        args += [SELECTIVE]
    return run(args, capture_output=True, text=True).stdout


def dir_size(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--engines", default="duckdb,chdb,spark")
    args = ap.parse_args()
    engines = args.engines.split(",")
    DATA.mkdir(exist_ok=True)

    import duckdb  # noqa: E402
    con = duckdb.connect()
    chdb = None
    if "chdb" in engines:
        import chdb as chdb_module
        chdb = chdb_module
    spark = None
    if "spark" in engines:
        start = time.perf_counter()
        from pyspark.sql import SparkSession
        spark = (SparkSession.builder.master("local[2]").appName("auditq-bench")
                 .config("spark.sql.legacy.parquet.nanosAsLong", "true")
                 .config("spark.driver.memory", "4g")
                 .config("spark.ui.enabled", "false").getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        print(f"Spark {spark.version} session start-up: {time.perf_counter() - start:.1f} s", file=sys.stderr)

    versions = [f"DuckDB {duckdb.__version__}"]
    if chdb:
        versions.append(f"chDB {chdb.__version__} (ClickHouse {chdb.query('SELECT version()', 'CSV').bytes().decode().strip()})")
    if spark:
        versions.append(f"Spark {spark.version}")
    print("Engines: " + ", ".join(versions))
    print()

    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        log = DATA / f"audit-{size}g.log"
        if not log.exists():
            run([str(GEN), "--seed", "42", "--bytes", f"{size}G", "--out", str(log)])
        run(["cat", str(log)], stdout=subprocess.DEVNULL)
        input_bytes = log.stat().st_size
        out = DATA / f"parquet-{size}g"

        def export():
            shutil.rmtree(out, ignore_errors=True)
            run([str(AUDITQ), "export", "--format", "parquet", "-o", str(out), str(log)],
                stderr=subprocess.DEVNULL)
        export_s, _ = timed(export, max(1, min(args.runs, 3)))
        parquet_bytes = dir_size(out)
        gz = DATA / f"audit-{size}g.jsonl.gz"
        if not gz.exists():
            with open(gz, "wb") as f:
                p1 = subprocess.Popen([str(AUDITQ), "-o", "jsonl", "", str(log)], stdout=subprocess.PIPE)
                run(["gzip", "-6", "-c"], stdin=p1.stdout, stdout=f)
                p1.wait()
        gz_bytes = gz.stat().st_size

        files = str(out / "**" / "*.parquet")
        results = {}
        # auditq on the raw log.
        sel_s, _ = timed(lambda: run([str(AUDITQ), "-o", "jsonl", SELECTIVE, str(log)], stdout=subprocess.DEVNULL), args.runs)
        agg_s, _ = timed(lambda: run([str(AUDITQ), "--count-by", KEYS, "-o", "json", str(log)], stdout=subprocess.DEVNULL), args.runs)
        results["auditq (raw log)"] = (sel_s, agg_s)
        # DuckDB.
        table = f"read_parquet('{files}')"
        q_sel, q_agg = sql_for("duckdb", table), sql_for("duckdb", table, True)
        results[f"DuckDB {duckdb.__version__} (Parquet)"] = (
            timed(lambda: con.execute(q_sel).fetchall(), args.runs)[0],
            timed(lambda: con.execute(q_agg).fetchall(), args.runs)[0],
        )
        if chdb:
            table = f"file('{out}/**/*.parquet', Parquet)"
            q_sel, q_agg = sql_for("clickhouse", table), sql_for("clickhouse", table, True)
            results[f"chDB {chdb.__version__} (Parquet)"] = (
                timed(lambda: chdb.query(q_sel, "Null"), args.runs)[0],
                timed(lambda: chdb.query(q_agg, "Null"), args.runs)[0],
            )
        if spark:
            df = spark.read.parquet(str(out))
            df.createOrReplaceTempView("audit")
            q_sel, q_agg = sql_for("spark", "audit"), sql_for("spark", "audit", True)
            results[f"Spark {spark.version} local[2] (Parquet)"] = (
                timed(lambda: spark.sql(q_sel).collect(), args.runs)[0],
                timed(lambda: spark.sql(q_agg).collect(), args.runs)[0],
            )
        rows.append((size, input_bytes, export_s, parquet_bytes, gz_bytes, results))

    print("| log | export | export MB/s | Parquet | gzip JSONL | Parquet / JSONL | Parquet / gzip JSONL |")
    print("|---|---|---|---|---|---|---|")
    for size, input_bytes, export_s, pq_bytes, gz_bytes, _ in rows:
        print(f"| {size} GiB | {export_s:.1f} s | {input_bytes / export_s / 1e6:.0f} | {pq_bytes / 2**20:.0f} MiB | "
              f"{gz_bytes / 2**20:.0f} MiB | 1/{input_bytes / pq_bytes:.1f} | {pq_bytes / gz_bytes:.2f} |")
    print()
    print(f"| log | engine | selective (`{SELECTIVE}`) | aggregation (`--count-by {KEYS}`) |")
    print("|---|---|---|---|")
    for size, *_, results in rows:
        for engine, (sel, agg) in results.items():
            print(f"| {size} GiB | {engine} | {sel:.2f} s | {agg:.2f} s |")
    if spark:
        spark.stop()


if __name__ == "__main__":
    main()
