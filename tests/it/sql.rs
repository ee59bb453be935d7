//! `auditq sql` on the command line: what it prints and what it refuses. That the SQL
//! returns auditq's answers is the conformance suite's work (tests/it/scale_out.rs).

use crate::common::run;

const DIALECTS: [&str; 5] = ["duckdb", "clickhouse", "spark", "trino", "bigquery"];

#[test]
fn every_preset_compiles_for_every_dialect() {
    let presets = run(["--presets"]);
    let names: Vec<String> = presets
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix('@'))
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
        .collect();
    assert!(names.len() >= 10, "{}", presets.stdout);
    for dialect in DIALECTS {
        for name in &names {
            let r = run(["sql", "--dialect", dialect, &format!("@{name}")]);
            assert_eq!(r.code, 0, "{dialect} @{name}: {}", r.stderr);
            assert!(r.stdout.starts_with("SELECT "), "{}", r.stdout);
            assert!(r.stdout.contains("\nORDER BY "), "{}", r.stdout);
        }
    }
}

#[test]
fn statement_shapes() {
    let r = run(["sql", "--dialect", "duckdb", "-c", "verb=get"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .starts_with("SELECT count(*) AS count\nFROM audit\nWHERE ")
    );
    let r = run([
        "sql",
        "--dialect",
        "spark",
        "--table",
        "logs",
        "--count-by",
        "user,verb",
        "code>=400",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("AS k1, "), "{}", r.stdout);
    assert!(r.stdout.contains("FROM logs\n"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("GROUP BY k1, k2\nORDER BY count DESC, k1, k2")
    );
    let r = run(["sql", "--dialect", "trino", "--where", "ns=prod"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("SELECT"), "{}", r.stdout);
    assert_eq!(r.stdout.lines().count(), 1);
}

#[test]
fn since_and_until_become_instants() {
    let r = run([
        "sql",
        "--dialect",
        "duckdb",
        "--where",
        "--since",
        "2026-01-05T10:00:00Z",
        "--until",
        "2026-01-05T11:00:00+01:00",
        "verb=get",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(">= 1767607200000000000"), "{}", r.stdout);
    assert!(r.stdout.contains("<= 1767607200000000000"), "{}", r.stdout);
}

#[test]
fn untranslatable_terms_are_refused_at_their_caret() {
    let r = run(["sql", "--dialect", "duckdb", "verb=get", r"ua~\bkubectl"]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("this regex cannot be written for DuckDB"),
        "{}",
        r.stderr
    );
    // The caret is under the term, in the part it is in.
    assert!(
        r.stderr.contains("\n  ua~\\bkubectl\n  ^^^^^^^^^^^^\n"),
        "{}",
        r.stderr
    );
    // The same regex with an ASCII word boundary is translated.
    let r = run(["sql", "--dialect", "duckdb", r"ua~(?-u:\b)kubectl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Trino's regexes have no multi-line anchors of the same meaning.
    let r = run(["sql", "--dialect", "trino", "uri~(?m)^/api"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("Trino"), "{}", r.stderr);
}

#[test]
fn refusals_and_conflicts() {
    let r = run(["sql", "verb=get"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--dialect"), "{}", r.stderr);
    let r = run(["sql", "--dialect", "postgres", "verb=get"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("duckdb"), "{}", r.stderr);
    let r = run(["sql", "--dialect", "duckdb", "--where", "-c", "verb=get"]);
    assert_eq!(r.code, 2);
    let r = run([
        "sql",
        "--dialect",
        "duckdb",
        "--count-by",
        "requestObject.kind",
        "verb=get",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("--count-by requestObject.kind: the table has no column for it"),
        "{}",
        r.stderr
    );
    let r = run(["sql", "--dialect", "duckdb", "usr=alice"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("did you mean `user`"), "{}", r.stderr);
}

#[test]
fn string_literals_cannot_break_out() {
    // A quote and a backslash in a value, for a dialect with backslash escapes and one
    // without: the statement holds them escaped.
    let r = run(["sql", "--dialect", "spark", "--where", r#"name="a'b\\c""#]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(r"'a\'b\\c'"), "{}", r.stdout);
    let r = run(["sql", "--dialect", "duckdb", "--where", r#"name="a'b\\c""#]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(r"'a''b\c'"), "{}", r.stdout);
}
