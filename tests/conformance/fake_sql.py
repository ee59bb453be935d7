"""A stand-in for `auditq sql`, for the harness' own test (selftest.py): hand-written SQL
for a few queries in each dialect, the statement shapes of the contract, a refusal
(exit 2, caret) for any other query, and one deliberately wrong translation
(`verb!=get` as `verb <> 'get'`, false where the event has no verb: auditq says true),
which the harness must report as a difference.

    fake_sql.py sql --dialect D [--table T] [--where | -c | --count-by F,…] QUERY…
"""

import os
import re
import sys

T0 = 1767607210000000000  # 2026-01-05T10:00:10Z in nanoseconds

PRIV = "requestObject.spec.containers.securityContext.privileged"


def conditions(dialect):
    contains = {"duckdb": "list_contains(groups, %s)", "clickhouse": "has(groups, %s)",
                "spark": "array_contains(groups, %s)"}[dialect]
    regex = {"duckdb": "regexp_matches(%s, %s)", "clickhouse": "match(%s, %s)",
             "spark": "%s RLIKE %s"}[dialect]
    leaf = {
        "duckdb": "len(list_filter(leaves, lambda x: x.path = '%s' AND x.text = 'true')) > 0",
        "clickhouse": "arrayExists(x -> x.path = '%s' AND x.text = 'true', leaves)",
        "spark": "exists(leaves, x -> x.path = '%s' AND x.text = 'true')",
    }[dialect]
    return {
        "verb=get": "verb = 'get'",
        "not verb=get": "NOT coalesce(verb = 'get', FALSE)",
        "verb!=get": "verb <> 'get'",  # wrong on purpose: NULL where verb is missing
        "code>=400": "code >= 400",
        "as=*": "impersonated_user IS NOT NULL",
        "ns=prod,staging": "namespace IN ('prod', 'staging')",
        "verb=delete resource=secrets": "verb = 'delete' AND resource = 'secrets'",
        "group=system:masters": contains % "'system:masters'",
        "ua~^kubectl/": regex % ("user_agent", "'^kubectl/'"),
        "time>=2026-01-05T10:00:10Z": "time_ns >= %d" % T0,
        PRIV + "=true": leaf % PRIV,
        "": "TRUE",
    }


def key_text(dialect, column):
    if column == "code":
        return {"duckdb": "CAST(code AS VARCHAR)", "clickhouse": "toString(code)",
                "spark": "CAST(code AS STRING)"}[dialect]
    return column


KEYS = {"verb": "verb", "user": "user", "ns": "namespace", "code": "code"}


def refuse(query, why):
    sys.stderr.write("auditq: cannot translate to SQL: %s\n  %s\n  %s\n" % (why, query, "^" * max(1, len(query))))
    return 2


def main(argv):
    if not argv or argv[0] != "sql":
        return refuse(" ".join(argv), "not a sql command")
    dialect, table, mode, fields, query = None, "audit", "events", None, []
    args = iter(argv[1:])
    for a in args:
        if a == "--dialect":
            dialect = next(args)
        elif a == "--table":
            table = next(args)
        elif a == "--where":
            mode = "where"
        elif a in ("-c", "--count"):
            mode = "count"
        elif a == "--count-by":
            mode, fields = "count-by", next(args).split(",")
        else:
            query.append(a)
    if dialect not in ("duckdb", "clickhouse", "spark", "trino", "bigquery"):
        return refuse(" ".join(query), "unknown dialect")
    text = " ".join(query)
    engine = dialect if dialect in ("duckdb", "clickhouse", "spark") else "duckdb"
    cond = conditions(engine).get(text)
    if cond is None and os.environ.get("FAKE_SQL_APPROXIMATE"):
        # To time the suite at full size: a condition on `leaves` for every query (wrong
        # in general: the differences it makes are not the point).
        token = max(re.findall(r"[A-Za-z0-9]+", text) or ["x"], key=len)
        cond = {
            "duckdb": "len(list_filter(leaves, lambda x: x.text = '%s')) > 0",
            "clickhouse": "arrayExists(x -> x.text = '%s', leaves)",
            "spark": "exists(leaves, x -> x.text = '%s')",
        }[engine] % token
    if cond is None:
        return refuse(text, "this stand-in knows only a few queries")
    if mode == "where":
        print(cond)
    elif mode == "events":
        print("SELECT raw, seq FROM %s WHERE %s ORDER BY seq;" % (table, cond))
    elif mode == "count":
        print("SELECT count(*) AS count FROM %s WHERE %s;" % (table, cond))
    else:
        if any(f not in KEYS for f in fields):
            return refuse(text, "count-by field")
        keys = ", ".join("%s AS %s" % (key_text(dialect, KEYS[f]), f.replace("ns", "ns_")) for f in fields)
        group = ", ".join(str(i + 1) for i in range(len(fields)))
        print("SELECT %s, count(*) AS count FROM %s WHERE %s GROUP BY %s ORDER BY count DESC;" % (keys, table, cond, group))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
