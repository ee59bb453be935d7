//! Integration tests for every option and behaviour of the `auditq` binary.

use crate::common;

use common::{arg, count, event_line, run, run_with, temp_file, testdata};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

fn sample() -> PathBuf {
    testdata("sample.log")
}

fn sample_arg() -> String {
    arg(&sample())
}

fn edge(name: &str) -> PathBuf {
    testdata(&format!("edge/{name}"))
}

/// The lines of sample.log with their parsed JSON (an oracle independent of auditq).
fn sample_events() -> &'static Vec<(String, Value)> {
    static EVENTS: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let text = std::fs::read_to_string(sample()).expect("read sample.log");
        text.lines()
            .map(|l| {
                (
                    l.to_string(),
                    serde_json::from_str(l).expect("sample.log is JSON lines"),
                )
            })
            .collect()
    })
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or("")
}

fn is_delete_secret(v: &Value) -> bool {
    s(v, &["verb"]) == "delete" && s(v, &["objectRef", "resource"]) == "secrets"
}

const DQ: &str = "verb=delete resource=secrets";

// ---------------------------------------------------------------- positional arguments

#[test]
fn query_and_file_in_either_order_give_identical_output() {
    let a = run(["verb=delete", "resource=secrets", &sample_arg()]);
    let b = run([sample_arg().as_str(), "verb=delete", "resource=secrets"]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(a.lines().len(), 4);
}

#[test]
fn several_query_args_are_anded() {
    assert_eq!(count(&["verb=delete", "resource=secrets"], &sample()), 4);
    assert_eq!(count(&[DQ], &sample()), 4);
    let deletes = sample_events()
        .iter()
        .filter(|(_, v)| s(v, &["verb"]) == "delete")
        .count() as u64;
    assert_eq!(count(&["verb=delete"], &sample()), deletes);
}

#[test]
fn dash_e_forces_query_even_if_a_file_has_that_name() {
    // In a directory holding an (empty) file literally named `verb=delete`, the bare
    // argument is that file; `-e verb=delete` is the query.
    let (dir, _) = temp_file("verb=delete", b"");
    let as_file = common::cmd()
        .current_dir(dir.path())
        .args(["-c", "verb=delete", &sample_arg()])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&as_file.stdout).trim(), "4000");
    let as_query = common::cmd()
        .current_dir(dir.path())
        .args([
            "-c",
            "-e",
            "verb=delete",
            "-e",
            "resource=secrets",
            &sample_arg(),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&as_query.stdout).trim(), "4");
}

#[test]
fn after_double_dash_everything_is_a_file() {
    let r = run(["-c", "--", "verb=delete", &sample_arg()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("verb=delete"), "{}", r.stderr);
    assert!(!r.stderr.contains("invalid query"), "{}", r.stderr);
    // The file after `--` was still read: 4000 events counted.
    assert_eq!(r.count(), 4000);
}

#[test]
fn nonexistent_path_like_arg_is_no_such_file() {
    for missing in ["nosuch/audit.log", "audit-missing.log", "x.json.gz"] {
        let r = run(["verb=get", missing]);
        assert_eq!(r.code, 2, "{missing}");
        assert!(r.stderr.contains("no such file"), "{missing}: {}", r.stderr);
        assert!(r.stderr.contains(missing), "{}", r.stderr);
        assert!(!r.stderr.contains("invalid query"), "{}", r.stderr);
    }
}

// ---------------------------------------------------------------- inputs

#[test]
fn stdin_without_file_and_with_dash() {
    let data = std::fs::read(sample()).unwrap();
    let a = run_with(["-c", DQ], Some(&data));
    assert_eq!((a.code, a.stdout.trim()), (0, "4"));
    let b = run_with(["-c", DQ, "-"], Some(&data));
    assert_eq!((b.code, b.stdout.trim()), (0, "4"));
    let c = run_with(["-c", DQ, "--", "-"], Some(&data));
    assert_eq!(c.stdout.trim(), "4");
}

#[test]
fn several_inputs_in_one_run() {
    let r = run([
        "-c",
        DQ,
        &sample_arg(),
        &arg(&edge("escapes.log")),
        &arg(&edge("crlf-bom.log")),
    ]);
    assert_eq!(r.count(), 4 + 4 + 2);
    let data = std::fs::read(edge("klog-mixed.log")).unwrap();
    let r = run_with(["-c", DQ, &arg(&edge("escapes.log")), "-"], Some(&data));
    assert_eq!(r.count(), 4 + 1);
}

#[test]
fn gzip_detected_by_magic_bytes() {
    let gz = std::fs::read(edge("sample.log.gz")).unwrap();
    let (_d, path) = temp_file("plain-name.log", &gz);
    assert_eq!(count(&[], &path), 200);
    let via_stdin = run_with(["-c"], Some(&gz));
    assert_eq!(via_stdin.count(), 200);
    // The same events as the .gz file.
    let a = run(["-o", "jsonl", "--", &arg(&path)]);
    let b = run(["-o", "jsonl", "--", &arg(&edge("sample.log.gz"))]);
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(a.lines().len(), 200);
}

#[test]
fn truncated_gzip_prints_events_before_damage_then_error() {
    // `zcat` recovers 92 complete lines from this file (testdata/README.md says 94,
    // which is wrong: `gzip -dc truncated.log.gz | wc -l` is 92).
    let full = run(["-o", "jsonl", "--", &arg(&edge("sample.log.gz"))]);
    let r = run(["-o", "jsonl", "--", &arg(&edge("truncated.log.gz"))]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("truncated.log.gz"), "{}", r.stderr);
    let got = r.lines();
    assert_eq!(got.len(), 92);
    assert_eq!(got[..], full.lines()[..92]);
}

#[test]
fn unreadable_inputs_are_reported_and_others_still_run() {
    let r = run([
        "-c",
        "--",
        "/nonexistent/audit.log",
        &arg(&edge("sample.log.gz")),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("/nonexistent/audit.log"), "{}", r.stderr);
    assert_eq!(r.count(), 200);

    // A directory means every audit log in it (the truncated gzip among them is reported).
    let dir = testdata("edge");
    let r = run(["-c", &arg(&dir), &arg(&edge("escapes.log"))]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("truncated.log.gz"), "{}", r.stderr);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let each: u64 = names
        .iter()
        .map(|p| run(["-c", "--", &arg(p)]).count())
        .sum();
    assert_eq!(r.count(), each + 9);
}

#[test]
fn exit_codes() {
    assert_eq!(run(["verb=delete", &sample_arg()]).code, 0);
    assert_eq!(run(["verb=nosuchverb", &sample_arg()]).code, 1);
    assert_eq!(run(["-c", "verb=nosuchverb", &sample_arg()]).code, 1);
    assert_eq!(run(["usr=x", &sample_arg()]).code, 2);
    assert_eq!(run(["--no-such-option"]).code, 2);
    assert_eq!(run(["--help"]).code, 0);
    assert_eq!(run(["--version"]).code, 0);
}

// ---------------------------------------------------------------- output formats

#[test]
fn jsonl_output_is_byte_identical_to_input_lines() {
    let expected: String = sample_events()
        .iter()
        .filter(|(_, v)| is_delete_secret(v))
        .map(|(l, _)| format!("{l}\n"))
        .collect();
    let r = run(["-o", "jsonl", DQ, &sample_arg()]);
    assert_eq!(r.stdout_bytes, expected.as_bytes());
    // Default when stdout is not a terminal is the original lines too.
    let r = run([DQ, &sample_arg()]);
    assert_eq!(r.stdout, expected);
    // CRLF/BOM input: lines come back as they were, without the BOM/CR noise? At least
    // each output line parses.
    let r = run(["-o", "jsonl", "--", &arg(&edge("crlf-bom.log"))]);
    assert_eq!(r.lines().len(), 4);
}

#[test]
fn json_output_is_a_valid_array() {
    let r = run(["-o", "json", DQ, &sample_arg()]);
    assert_eq!(r.code, 0);
    let v: Value = serde_json::from_str(&r.stdout).expect("valid JSON");
    let items = v.as_array().expect("array");
    assert_eq!(items.len(), 4);
    let expected: Vec<&Value> = sample_events()
        .iter()
        .filter(|(_, v)| is_delete_secret(v))
        .map(|(_, v)| v)
        .collect();
    for (got, want) in items.iter().zip(expected) {
        assert_eq!(got, want);
    }
    // No match: still a valid (empty) array.
    let r = run(["-o", "json", "verb=nosuchverb", &sample_arg()]);
    assert_eq!(r.code, 1);
    let v: Value = serde_json::from_str(&r.stdout).expect("valid JSON when empty");
    assert_eq!(v.as_array().map(Vec::len), Some(0));
    // Pretty EventList items come out as objects too.
    let r = run(["-o", "json", "--", &arg(&edge("eventlist-pretty.json"))]);
    let v: Value = serde_json::from_str(&r.stdout).expect("valid JSON");
    assert_eq!(v.as_array().map(Vec::len), Some(3));
}

#[test]
fn table_output() {
    let r = run(["-o", "table", DQ, &sample_arg()]);
    let lines = r.lines();
    assert_eq!(lines.len(), 5);
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "TIME",
            "VERB",
            "USER",
            "RESOURCE",
            "NAMESPACE",
            "NAME",
            "CODE"
        ]
    );
    for row in &lines[1..] {
        assert!(row.starts_with("2026-01-05T10:"), "{row}");
        assert!(row.contains(" delete "), "{row}");
        assert!(row.contains(" secrets "), "{row}");
        assert!(!row.contains('\x1b'));
    }
}

#[test]
fn wide_output() {
    let r = run(["-o", "wide", DQ, &sample_arg()]);
    let lines = r.lines();
    assert_eq!(lines.len(), 5);
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "TIME",
            "VERB",
            "USER",
            "RESOURCE",
            "NAMESPACE",
            "NAME",
            "CODE",
            "STAGE",
            "IP",
            "DECISION",
            "USER-AGENT",
            "AUDIT-ID",
            "URI"
        ]
    );
    let ids: Vec<&str> = sample_events()
        .iter()
        .filter(|(_, v)| is_delete_secret(v))
        .map(|(_, v)| s(v, &["auditID"]))
        .collect();
    for (row, id) in lines[1..].iter().zip(ids) {
        assert!(row.contains(id), "{row} lacks {id}");
    }
}

#[test]
fn csv_and_tsv_output() {
    let line = event_line("delete", "secrets", r#"al\"ice"#, "prod", "a,b", 200);
    let (_d, path) = temp_file("comma.log", format!("{line}\n").as_bytes());
    let r = run(["-o", "csv", "--", &arg(&path)]);
    assert_eq!(
        r.stdout,
        "TIME,VERB,USER,RESOURCE,NAMESPACE,NAME,CODE\n\
         2026-01-05T10:00:00.000Z,delete,\"al\"\"ice\",secrets,prod,\"a,b\",200\n"
    );
    let r = run(["-o", "csv", DQ, &sample_arg()]);
    assert_eq!(r.lines().len(), 5);
    assert!(r.lines()[1..].iter().all(|l| l.split(',').count() == 7));

    let r = run(["-o", "tsv", DQ, &sample_arg()]);
    let lines = r.lines();
    assert_eq!(
        lines[0],
        "TIME\tVERB\tUSER\tRESOURCE\tNAMESPACE\tNAME\tCODE"
    );
    assert_eq!(lines.len(), 5);
    for l in &lines[1..] {
        let cols: Vec<&str> = l.split('\t').collect();
        assert_eq!(cols.len(), 7, "{l}");
        assert_eq!((cols[1], cols[3]), ("delete", "secrets"));
    }
}

#[test]
fn fields_output() {
    let r = run(["-o", "fields=user,verb,code", DQ, &sample_arg()]);
    let expected: String = sample_events()
        .iter()
        .filter(|(_, v)| is_delete_secret(v))
        .map(|(_, v)| {
            format!(
                "{}\tdelete\t{}\n",
                s(v, &["user", "username"]),
                v["responseStatus"]["code"]
                    .as_u64()
                    .map(|c| c.to_string())
                    .unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(r.stdout, expected);
    let bad = run(["-o", "fields=usr", &sample_arg()]);
    assert_eq!(bad.code, 2);
    let bad = run(["-o", "yaml", &sample_arg()]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("unknown output format"),
        "{}",
        bad.stderr
    );
}

#[test]
fn count_flag() {
    let r = run(["-c", &sample_arg()]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "4000\n"));
    let r = run(["-c", "verb=nosuchverb", &sample_arg()]);
    assert_eq!((r.code, r.stdout.as_str()), (1, "0\n"));
}

fn count_by_oracle(keys: &[&[&str]]) -> Vec<(Vec<String>, u64)> {
    let mut m: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for (_, v) in sample_events() {
        let key = keys.iter().map(|p| s(v, p).to_string()).collect();
        *m.entry(key).or_default() += 1;
    }
    let mut rows: Vec<_> = m.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows
}

fn parse_count_by(stdout: &str, ncols: usize) -> Vec<(Vec<String>, u64)> {
    stdout
        .lines()
        .skip(1)
        .map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(parts.len(), ncols + 1, "{l}");
            (
                parts[..ncols].iter().map(|p| p.to_string()).collect(),
                parts[ncols].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn count_by_one_field_sorted_by_count() {
    let r = run(["--count-by", "verb", &sample_arg()]);
    assert_eq!(r.code, 0);
    let header: Vec<&str> = r.lines()[0].split_whitespace().collect();
    assert_eq!(header, ["VERB", "COUNT"]);
    assert_eq!(parse_count_by(&r.stdout, 1), count_by_oracle(&[&["verb"]]));
}

#[test]
fn count_by_two_fields_sorted_by_count() {
    let r = run(["--count-by", "user,verb", &sample_arg()]);
    let header: Vec<&str> = r.lines()[0].split_whitespace().collect();
    assert_eq!(header, ["USER", "VERB", "COUNT"]);
    let got = parse_count_by(&r.stdout, 2);
    assert_eq!(got, count_by_oracle(&[&["user", "username"], &["verb"]]));
    assert!(got.windows(2).all(|w| w[0].1 >= w[1].1));
}

// ---------------------------------------------------------------- limits and time

#[test]
fn count_by_respects_max_count() {
    let r = run(["--count-by", "verb", "-m", "5", &sample_arg()]);
    let total: u64 = parse_count_by(&r.stdout, 1).iter().map(|(_, n)| n).sum();
    assert_eq!(total, 5);
}

#[test]
fn max_count_exact_across_threads_and_blocks() {
    let all = run(["-o", "jsonl", "verb=get", &sample_arg()]);
    for n in ["1", "3", "17", "250"] {
        let k: usize = n.parse().unwrap();
        for extra in [
            vec![],
            vec!["-j1"],
            vec!["-j2"],
            vec!["-j1", "--block-size", "4KiB"],
            vec!["-j2", "--block-size", "4KiB"],
        ] {
            let mut args = vec!["-m", n, "verb=get"];
            args.extend(extra.iter().copied());
            let sa = sample_arg();
            args.push(&sa);
            let r = run(&args);
            assert_eq!(r.code, 0);
            assert_eq!(r.lines(), all.lines()[..k], "-m {n} {extra:?}");
            let mut cargs = args.clone();
            cargs.insert(0, "-c");
            assert_eq!(run(&cargs).count(), k as u64, "-c -m {n} {extra:?}");
        }
    }
}

#[test]
fn since_until_rfc3339_and_durations() {
    let t = "2026-01-05T10:00:06Z";
    let ge = sample_events()
        .iter()
        .filter(|(_, v)| s(v, &["stageTimestamp"]) >= "2026-01-05T10:00:06")
        .count() as u64;
    let r = run(["-c", "--since", t, &sample_arg()]);
    assert_eq!(r.count(), ge);
    let r = run(["-c", "--until", t, &sample_arg()]);
    assert_eq!(r.count(), 4000 - ge);
    let r = run([
        "-c",
        "--since",
        "2026-01-05T10:00:03Z",
        "--until",
        "2026-01-05T10:00:04Z",
        &sample_arg(),
    ]);
    let between = sample_events()
        .iter()
        .filter(|(_, v)| {
            let ts = s(v, &["stageTimestamp"]);
            ("2026-01-05T10:00:03".."2026-01-05T10:00:04").contains(&ts)
        })
        .count() as u64;
    assert_eq!(r.count(), between);
    // The log is from 2026-01-05; "now" is much later.
    let r = run(["-c", "--since", "2h", &sample_arg()]);
    assert_eq!((r.code, r.count()), (1, 0));
    let r = run(["-c", "--until", "2h", &sample_arg()]);
    assert_eq!((r.code, r.count()), (0, 4000));
    let r = run(["-c", "--since", "3650d", &sample_arg()]);
    assert_eq!(r.count(), 4000);
    let r = run(["-c", "--since", "yesterdayish", &sample_arg()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--since"), "{}", r.stderr);
}

// ---------------------------------------------------------------- colour

#[test]
fn color_always_never_and_no_color() {
    let r = run(["--color", "always", "-o", "table", DQ, &sample_arg()]);
    assert!(
        r.stdout.contains("\x1b["),
        "no ANSI escapes with --color always"
    );
    let r = run(["--color", "never", "-o", "table", DQ, &sample_arg()]);
    assert!(!r.stdout.contains('\x1b'));
    let out = common::cmd()
        .env("NO_COLOR", "1")
        .args(["-o", "table", DQ, &sample_arg()])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\x1b'));
    // jsonl is never coloured: it must stay byte-identical.
    let r = run(["--color", "always", "-o", "jsonl", DQ, &sample_arg()]);
    assert!(!r.stdout.contains('\x1b'));
}

// ---------------------------------------------------------------- invalid input

#[test]
fn strict_stops_on_invalid_json_with_file_and_line() {
    let f = arg(&edge("invalid.log"));
    let r = run(["--strict", "-c", &f]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("invalid.log:2"), "{}", r.stderr);
    let r = run(["-c", &f]);
    assert_eq!((r.code, r.count()), (0, 4));
    assert!(r.stderr.contains("--strict"), "{}", r.stderr);
    assert!(r.stderr.contains("invalid.log:2"), "{}", r.stderr);
    assert_eq!(count(&[DQ], &edge("invalid.log")), 2);
}

#[test]
fn stats_on_stderr() {
    // Without a query every event is parsed, so `events parsed:` is the number of events.
    let r = run(["--stats", "-c", &arg(&edge("klog-mixed.log"))]);
    assert_eq!(r.stdout, "4\n");
    let stat = |label: &str| -> String {
        r.stderr
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no `{label}` in {}", r.stderr))
            .split_whitespace()
            .last()
            .unwrap()
            .to_string()
    };
    let text = std::fs::read_to_string(edge("klog-mixed.log")).unwrap();
    assert_eq!(stat("lines:"), text.lines().count().to_string());
    assert_eq!(stat("events parsed:"), "4");
    assert_eq!(stat("matches:"), "4");
    assert_eq!(stat("bytes:"), text.len().to_string());
    assert_ne!(stat("skipped klog:"), "0");
    assert!(stat("seconds:").parse::<f64>().is_ok());
}

#[test]
fn completions_and_man() {
    let r = run(["--completions", "bash"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("auditq") && r.stdout.contains("--count-by"));
    let r = run(["--completions", "zsh"]);
    assert_eq!(r.code, 0);
    assert!(!r.stdout.is_empty());
    let r = run(["--man"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains(".TH"), "not roff");
    assert!(r.stdout.contains("strict"));
}

/// A `get configmaps` event whose body (padded to about `pad` bytes) embeds a whole
/// `delete secrets` event: a trap for substring matching and for cutting lines.
fn trap_line(pad: usize) -> String {
    let inner = event_line("delete", "secrets", "mallory", "prod", "trap", 200);
    let base = event_line("get", "configmaps", "bob", "prod", "big", 200);
    let body = format!(
        r#","requestObject":{{"pad":"{}","embedded":{inner}}}}}"#,
        "x".repeat(pad)
    );
    format!("{}{body}", &base[..base.len() - 1])
}

#[test]
fn long_line_with_default_limit_works_and_is_not_a_false_match() {
    let real = event_line("delete", "secrets", "alice", "prod", "real", 200);
    let big = trap_line(300 * 1024);
    assert!(big.len() > 300_000);
    let content = format!("{real}\n{big}\n{real}\n");
    let (_d, path) = temp_file("big.log", content.as_bytes());
    assert_eq!(count(&[DQ], &path), 2);
    assert_eq!(count(&["verb=get"], &path), 1);
    assert_eq!(count(&["user=mallory"], &path), 0);
    let r = run(["-o", "jsonl", "name=big", "--", &arg(&path)]);
    assert_eq!(r.stdout, format!("{big}\n"));
    for extra in [["-j1", "--block-size=4KiB"], ["-j2", "--block-size=4KiB"]] {
        let r = run(["-c", DQ, extra[0], extra[1], "--", &arg(&path)]);
        assert_eq!(r.count(), 2, "{extra:?}");
    }
}

#[test]
fn max_line_bytes_skips_and_reports_long_lines() {
    let real = event_line("delete", "secrets", "alice", "prod", "real", 200);
    let big = trap_line(5000);
    let content = format!("{real}\n{big}\n{real}\n");
    let (_d, path) = temp_file("long.log", content.as_bytes());
    let r = run(["-c", "--max-line-bytes", "1KiB", "--", &arg(&path)]);
    assert_eq!(r.count(), 2, "{}", r.stderr);
    assert!(r.stderr.contains("long.log:2"), "{}", r.stderr);
}

#[test]
fn max_line_bytes_never_cuts_a_long_line_into_a_false_match() {
    let real = event_line("delete", "secrets", "alice", "prod", "real", 200);
    let big = trap_line(5000);
    let content = format!("{real}\n{big}\n{real}\n");
    let (_d, path) = temp_file("long.log", content.as_bytes());
    for bs in ["4KiB", "1MiB"] {
        for j in ["-j1", "-j2"] {
            let r = run([
                "-o",
                "jsonl",
                DQ,
                "--max-line-bytes",
                "1KiB",
                "--block-size",
                bs,
                j,
                "--",
                &arg(&path),
            ]);
            assert_eq!(r.stdout, format!("{real}\n{real}\n"), "{bs} {j}");
            assert_ne!(r.code, 101);
            let r = run([
                "-c",
                "user=mallory",
                "--max-line-bytes",
                "1KiB",
                "--block-size",
                bs,
                j,
                "--",
                &arg(&path),
            ]);
            assert_eq!(r.count(), 0, "{bs} {j}");
        }
    }
    // With a small block size the too-long line is reported with file:line.
    let r = run([
        "-c",
        "--max-line-bytes",
        "1KiB",
        "--block-size",
        "1KiB",
        "--",
        &arg(&path),
    ]);
    assert_eq!(r.count(), 2, "{}", r.stderr);
    assert!(r.stderr.contains("long.log:2"), "{}", r.stderr);
}

// ---------------------------------------------------------------- query errors

fn assert_query_error(query: &str, caret_col: usize, hint_part: &str) {
    let r = run([query, &sample_arg()]);
    assert_eq!(r.code, 2, "{query}");
    assert!(r.stdout.is_empty());
    let lines: Vec<&str> = r.stderr.lines().collect();
    let qline = lines
        .iter()
        .position(|l| l.trim_start() == query)
        .unwrap_or_else(|| panic!("query not echoed: {}", r.stderr));
    let caret = lines[qline + 1];
    let qstart = lines[qline].find(query).unwrap();
    let cstart = caret.find('^').expect("caret line");
    assert_eq!(
        cstart - qstart,
        caret_col,
        "caret position for {query}: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("hint:") && r.stderr.contains(hint_part),
        "{query}: {}",
        r.stderr
    );
}

#[test]
fn bad_queries_show_query_caret_and_hint() {
    assert_query_error("usr=alice", 0, "`user`");
    assert_query_error("ua~'('", 3, "regex");
    assert_query_error("(verb=get", 0, "`)`");
    assert_query_error("verb=get)", 8, "`(`");
    assert_query_error("code>=abc", 6, "number");
}

// ---------------------------------------------------------------- closed pipe

#[test]
fn closed_pipe_ends_quietly() {
    let bin = assert_cmd::cargo::cargo_bin("auditq");
    let mut child = Command::new(bin)
        .args(["-o", "jsonl", &sample_arg()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(first.starts_with('{'));
    drop(reader);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101));
    assert!(stderr.trim().is_empty(), "not quiet: {stderr}");
}

// ---------------------------------------------------------------- edge files

#[test]
fn edge_files_give_documented_counts() {
    // (file, events, `verb=delete resource=secrets`) from testdata/README.md.
    let table: &[(&str, u64, u64)] = &[
        ("klog-mixed.log", 4, 1),
        ("kubectl-timestamps.log", 5, 1),
        ("kubectl-prefix.log", 5, 2),
        ("crlf-bom.log", 4, 2),
        ("eventlist-oneline.json", 3, 1),
        ("eventlist-pretty.json", 3, 1),
        ("event-pretty.json", 1, 1),
        ("v1beta1.log", 2, 1),
        ("v1alpha1.log", 3, 1),
        ("escapes.log", 9, 4),
        // The `\xff\xfe` event counts: invalid UTF-8 reads as U+FFFD, as in Go.
        ("invalid.log", 4, 2),
        ("sample.log.gz", 200, 0),
    ];
    for &(file, events, deletes) in table {
        let path = edge(file);
        assert_eq!(count(&[], &path), events, "{file}: events");
        assert_eq!(count(&[DQ], &path), deletes, "{file}: delete secrets");
        assert_eq!(
            count(
                &["verb=delete", "resource=secrets", "--no-prefilter"],
                &path
            ),
            deletes,
            "{file}: delete secrets without prefilter"
        );
    }
}

#[test]
fn legacy_lines_become_events() {
    // 6 legacy lines = 3 requests (RequestReceived) + their completions.
    let path = edge("legacy.log");
    assert_eq!(count(&[], &path), 6);
    assert_eq!(count(&["stage=RequestReceived"], &path), 3);
    assert_eq!(count(&[DQ], &path), 1);
    let r = run(["-o", "fields=user,verb,ns,name", DQ, "--", &arg(&path)]);
    assert_eq!(r.stdout, "bob\tdelete\tprod\tdb-credentials\n");
}

#[test]
fn escapes_match_decoded_values_only() {
    let path = edge("escapes.log");
    let r = run(["-o", "jsonl", DQ, "--", &arg(&path)]);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let expected: String = [1, 4, 5, 9]
        .iter()
        .map(|n| format!("{}\n", lines[n - 1]))
        .collect();
    assert_eq!(r.stdout, expected);
    assert_eq!(count(&["verb=deletecollection"], &path), 1);
}

#[test]
fn kubectl_prefix_output_is_the_json_part() {
    let r = run(["-o", "json", DQ, "--", &arg(&edge("kubectl-prefix.log"))]);
    let v: Value = serde_json::from_str(&r.stdout).expect("valid JSON");
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(is_delete_secret));
}

#[test]
fn escapes_log_agrees_with_serde_oracle() {
    let path = edge("escapes.log");
    let text = std::fs::read_to_string(&path).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("escapes.log lines are valid JSON"))
        .collect();
    type Pred = fn(&Value) -> bool;
    let checks: &[(&str, Pred)] = &[
        ("user=alice@example.com", |v| {
            s(v, &["user", "username"]) == "alice@example.com"
        }),
        ("uri~^/api/v1/namespaces/prod/secrets", |v| {
            s(v, &["requestURI"]).starts_with("/api/v1/namespaces/prod/secrets")
        }),
        ("verb=deletecollection", |v| {
            s(v, &["verb"]) == "deletecollection"
        }),
        ("resource=configmaps", |v| {
            s(v, &["objectRef", "resource"]) == "configmaps"
        }),
        ("name=secrets", |v| {
            s(v, &["objectRef", "name"]) == "secrets"
        }),
        ("verb=delete", |v| s(v, &["verb"]) == "delete"),
        ("ns=prod", |v| s(v, &["objectRef", "namespace"]) == "prod"),
    ];
    for (query, pred) in checks {
        let want = events.iter().filter(|v| pred(v)).count() as u64;
        assert_eq!(count(&[query], &path), want, "{query}");
        assert_eq!(
            count(&[query, "--no-prefilter"], &path),
            want,
            "{query} --no-prefilter"
        );
    }
}

#[test]
fn subresource_queries() {
    let o = |v: &Value, k: &str| s(v, &["objectRef", k]).to_string();
    let exec = sample_events()
        .iter()
        .filter(|(_, v)| o(v, "resource") == "pods" && o(v, "subresource") == "exec")
        .count() as u64;
    assert!(exec > 0);
    assert_eq!(count(&["resource=pods/exec"], &sample()), exec);
    assert_eq!(
        count(&["resource=pods", "subresource=exec"], &sample()),
        exec
    );
    let pods = sample_events()
        .iter()
        .filter(|(_, v)| o(v, "resource") == "pods")
        .count() as u64;
    assert_eq!(count(&["resource=pods"], &sample()), pods);
}

#[test]
fn prefixed_and_crlf_lines_output_their_json_part() {
    // --timestamps / --prefix / BOM / CRLF are framing: -o jsonl prints the JSON text.
    for file in [
        "kubectl-timestamps.log",
        "kubectl-prefix.log",
        "crlf-bom.log",
    ] {
        let text = std::fs::read_to_string(edge(file)).unwrap();
        let want: String = text
            .lines()
            .filter_map(|l| {
                let l = l.trim_start_matches('\u{feff}').trim_end_matches('\r');
                let json = &l[l.find('{')?..];
                let v: Value = serde_json::from_str(json).ok()?;
                (v["kind"] == "Event").then(|| format!("{json}\n"))
            })
            .collect();
        let r = run(["-o", "jsonl", "--", &arg(&edge(file))]);
        assert_eq!(r.stdout, want, "{file}");
    }
}

#[test]
fn count_by_missing_value_is_none() {
    // Non-resource requests have no objectRef: their resource is shown as <none>.
    let healthz = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"h","stage":"ResponseComplete","requestURI":"/healthz","verb":"get","user":{"username":"x"}}"#;
    let pods = event_line("get", "pods", "x", "prod", "p", 200);
    let content = format!("{healthz}\n{healthz}\n{pods}\n");
    let (_d, path) = temp_file("nonres.log", content.as_bytes());
    let r = run(["--count-by", "resource", "--", &arg(&path)]);
    assert_eq!(
        parse_count_by(&r.stdout, 1),
        vec![
            (vec!["<none>".to_string()], 2),
            (vec!["pods".to_string()], 1)
        ]
    );
    let r = run(["--count-by", "resource", "verb=nosuchverb", &sample_arg()]);
    assert_eq!(r.code, 1);
    assert_eq!(r.lines().len(), 1, "only the header: {}", r.stdout);
}

#[test]
fn backups_are_read_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let line = |name: &str| event_line("get", "pods", "alice", "prod", name, 200);
    let write =
        |file: &str, content: &[u8]| std::fs::write(dir.path().join(file), content).unwrap();
    write("audit.log", format!("{}\n", line("active")).as_bytes());
    write(
        "audit-2026-01-02T03-04-05.000.log",
        format!("{}\n", line("second")).as_bytes(),
    );
    // A gzipped, older backup (gzip bytes taken from the test data: 200 events).
    write(
        "audit-2026-01-01T00-00-00.000.log.gz",
        &std::fs::read(edge("sample.log.gz")).unwrap(),
    );
    // Not a backup of audit.log.
    write(
        "other-2026-01-03T00-00-00.000.log",
        format!("{}\n", line("other")).as_bytes(),
    );
    let active = arg(&dir.path().join("audit.log"));
    assert_eq!(run(["-c", &active]).count(), 1);
    let r = run(["-c", "--backups", &active]);
    assert_eq!(r.count(), 202, "{}", r.stderr);
    let r = run([
        "-o",
        "fields=name",
        "--backups",
        "user=alice",
        "resource=pods",
        &active,
    ]);
    let names: Vec<&str> = r.lines();
    assert_eq!(names[names.len() - 2..], ["second", "active"]);
    assert!(!names.contains(&"other"));
}

#[test]
fn max_count_across_several_files() {
    let two = format!(
        "{}\n{}\n",
        event_line("delete", "secrets", "a", "prod", "one", 200),
        event_line("delete", "secrets", "a", "prod", "two", 200)
    );
    let (_d, path) = temp_file("two.log", two.as_bytes());
    let r = run([
        "-o",
        "fields=name",
        "-m",
        "3",
        DQ,
        &arg(&path),
        &sample_arg(),
    ]);
    let first_sample = sample_events()
        .iter()
        .find(|(_, v)| is_delete_secret(v))
        .map(|(_, v)| s(v, &["objectRef", "name"]).to_string())
        .unwrap();
    assert_eq!(r.stdout, format!("one\ntwo\n{first_sample}\n"));
}

#[test]
fn large_pretty_documents_across_blocks() {
    let events: Vec<Value> = sample_events()[..300]
        .iter()
        .map(|(_, v)| v.clone())
        .collect();
    let list = serde_json::json!({
        "kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": events,
    });
    let list_text = serde_json::to_string_pretty(&list).unwrap();
    let many: String = events[..100]
        .iter()
        .map(|e| serde_json::to_string_pretty(e).unwrap() + "\n")
        .collect();
    let (_d1, list_path) = temp_file("list.json", list_text.as_bytes());
    let (_d2, many_path) = temp_file("many.json", many.as_bytes());
    let gets = |n: usize| events[..n].iter().filter(|v| v["verb"] == "get").count() as u64;
    for extra in [
        &[][..],
        &["-j1", "--block-size", "4KiB"][..],
        &["-j2", "--block-size", "4KiB"][..],
        &["-j2", "--block-size", "4KiB", "--no-prefilter"][..],
    ] {
        let mut q: Vec<&str> = vec!["verb=get"];
        q.extend_from_slice(extra);
        assert_eq!(count(&q, &list_path), gets(300), "EventList {extra:?}");
        assert_eq!(count(&q, &many_path), gets(100), "pretty events {extra:?}");
        assert_eq!(count(extra, &many_path), 100, "pretty events {extra:?}");
    }
    let r = run(["-o", "json", "verb=get", "--", &arg(&list_path)]);
    let got: Value = serde_json::from_str(&r.stdout).expect("valid JSON");
    let want: Vec<&Value> = events.iter().filter(|v| v["verb"] == "get").collect();
    assert_eq!(got.as_array().unwrap().iter().collect::<Vec<_>>(), want);
    let r = run_with(["-c", "verb=get"], Some(list_text.as_bytes()));
    assert_eq!(r.count(), gets(300));
}

#[test]
fn gzip_multi_member_stdin_and_no_final_newline() {
    let gz = std::fs::read(edge("sample.log.gz")).unwrap();
    let (_d, path) = temp_file("multi.log.gz", &[gz.clone(), gz].concat());
    assert_eq!(count(&[], &path), 400);
    let truncated = std::fs::read(edge("truncated.log.gz")).unwrap();
    let r = run_with(["-c"], Some(&truncated));
    assert_eq!((r.code, r.count()), (2, 92));
    assert!(r.stderr.contains("standard input"), "{}", r.stderr);
    let first = sample_events()[0].0.clone();
    let r = run_with(["-o", "jsonl"], Some(first.as_bytes()));
    assert_eq!((r.code, r.stdout), (0, format!("{first}\n")));
}

/// Issue #11, case 5: `--strict` checks every line, also those the prefilter would skip.
#[test]
fn case_5_strict_checks_lines_the_prefilter_would_skip() {
    let good = event_line("delete", "secrets", "alice", "prod", "a", 200);
    let log = format!("{good}\n{{\"kind\":\"Event\",\"verb\":\"get\n{good}\n");
    let (_d, path) = temp_file("strict.log", log.as_bytes());
    for extra in [&[][..], &["--no-prefilter"][..]] {
        let mut args = vec!["--strict", "-c", "verb=delete"];
        args.extend_from_slice(extra);
        let p = arg(&path);
        args.extend(["--", p.as_str()]);
        let r = run(&args);
        assert_eq!(r.code, 2, "{extra:?}: {}", r.stderr);
        assert!(r.stderr.contains("strict.log:2"), "{}", r.stderr);
    }
}
