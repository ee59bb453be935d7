//! `--summary`, `--timeline` and `--count-by` (with `--top` and `-o json`) on
//! `testdata/sample.log`, checked against an independent reading of the events with
//! serde_json and chrono.

use crate::common;

use common::{arg, run, testdata};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

fn sample() -> String {
    arg(&testdata("sample.log"))
}

fn events() -> Vec<Value> {
    std::fs::read_to_string(testdata("sample.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn text(v: &Value, path: &[&str]) -> String {
    let mut cur = v;
    for k in path {
        cur = &cur[*k];
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn nanos(time: &str) -> i128 {
    let t = chrono::DateTime::parse_from_rfc3339(time).unwrap();
    i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
}

fn resource_path(v: &Value) -> String {
    let (r, s) = (
        text(v, &["objectRef", "resource"]),
        text(v, &["objectRef", "subresource"]),
    );
    match (r.is_empty(), s.is_empty()) {
        (true, _) => String::new(),
        (false, true) => r,
        (false, false) => format!("{r}/{s}"),
    }
}

/// Top `n` as the JSON report writes it: `{"rows": [{"value", "count"}], "others": …}`,
/// most frequent first, ties by value, missing as null.
fn top_json(values: impl Iterator<Item = String>, n: usize) -> Value {
    let mut counts: HashMap<String, u64> = HashMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut rows: Vec<(String, u64)> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let rest = rows.split_off(n.min(rows.len()));
    json!({
        "rows": rows.iter().map(|(v, c)| json!({
            "value": if v.is_empty() { Value::Null } else { json!(v) },
            "count": c,
        })).collect::<Vec<_>>(),
        "others": {"values": rest.len(), "count": rest.iter().map(|r| r.1).sum::<u64>()},
    })
}

fn code(v: &Value) -> Option<u64> {
    v["responseStatus"]["code"].as_u64()
}

#[test]
fn summary_json_matches_an_independent_count() {
    let r = run(["--summary", "-o", "json", &sample()]);
    r.assert_sane(&[0]);
    let got: Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    let evs = events();
    assert_eq!(got["events"], 4000);
    let mut times: Vec<String> = evs
        .iter()
        .map(|v| text(v, &["requestReceivedTimestamp"]))
        .collect();
    times.sort_by_key(|t| nanos(t));
    assert_eq!(got["first"], json!(times[0]));
    assert_eq!(got["last"], json!(times[times.len() - 1]));
    assert_eq!(got["untimed"], 0);
    let mut minutes: BTreeMap<String, u64> = BTreeMap::new();
    for t in &times {
        *minutes.entry(format!("{}:00Z", &t[..16])).or_default() += 1;
    }
    let (minute, n) = minutes.iter().max_by_key(|(_, n)| **n).unwrap();
    assert_eq!(got["busiest_minute"], json!({"start": minute, "count": n}));
    let all = |f: fn(&Value) -> String| evs.iter().map(f).collect::<Vec<_>>().into_iter();
    assert_eq!(got["verbs"], top_json(all(|v| text(v, &["verb"])), 10));
    assert_eq!(got["stages"], top_json(all(|v| text(v, &["stage"])), 10));
    assert_eq!(
        got["users"],
        top_json(all(|v| text(v, &["user", "username"])), 10)
    );
    assert_eq!(got["resources"], top_json(all(resource_path), 10));
    assert_eq!(
        got["namespaces"],
        top_json(all(|v| text(v, &["objectRef", "namespace"])), 10)
    );
    assert_eq!(
        got["source_ips"],
        top_json(
            all(|v| v["sourceIPs"][0].as_str().unwrap_or("").to_string()),
            10
        )
    );
    assert_eq!(
        got["user_agents"],
        top_json(all(|v| text(v, &["userAgent"])), 10)
    );
    let class = |lo: u64| {
        evs.iter()
            .filter(|v| code(v).is_some_and(|c| c / 100 == lo))
            .count()
    };
    assert_eq!(
        got["codes"],
        json!({
            "1xx": class(1), "2xx": class(2), "3xx": class(3), "4xx": class(4), "5xx": class(5),
            "other": 0, "none": evs.iter().filter(|v| code(v).is_none()).count(),
        })
    );
    assert_eq!(got["codes"]["none"], 150);
    let forbidden: Vec<&Value> = evs.iter().filter(|v| code(v) == Some(403)).collect();
    let failed: Vec<&Value> = evs
        .iter()
        .filter(|v| code(v).is_some_and(|c| c / 100 == 5))
        .collect();
    for (key, group) in [("forbidden", &forbidden), ("failed", &failed)] {
        assert_eq!(got[key]["count"], group.len());
        let users = group.iter().map(|v| text(v, &["user", "username"]));
        assert_eq!(got[key]["users"], top_json(users, 10));
        assert_eq!(
            got[key]["resources"],
            top_json(group.iter().map(|v| resource_path(v)), 10)
        );
    }
    assert_eq!((forbidden.len(), failed.len()), (9, 4));
}

#[test]
fn summary_tables_for_people() {
    let r = run(["--summary", "--top", "3", "ns=prod", &sample()]);
    r.assert_sane(&[0]);
    let evs: Vec<Value> = events()
        .into_iter()
        .filter(|v| text(v, &["objectRef", "namespace"]) == "prod")
        .collect();
    let lines = r.lines();
    assert_eq!(lines[0], format!("events           {}", evs.len()));
    assert!(
        lines[1].starts_with("first            2026-01-05T10:00:0"),
        "{}",
        r.stdout
    );
    // The verb table: three rows, then the rest, each with its share.
    let start = lines.iter().position(|l| l.starts_with("VERB ")).unwrap();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for v in &evs {
        *counts.entry(text(v, &["verb"])).or_default() += 1;
    }
    let mut rows: Vec<(String, usize)> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (i, (verb, n)) in rows.iter().take(3).enumerate() {
        let cells: Vec<&str> = lines[start + 1 + i].split_whitespace().collect();
        let share = format!("{:.1}", *n as f64 * 100.0 / evs.len() as f64);
        assert_eq!(cells, [verb.as_str(), &n.to_string(), &share]);
    }
    let rest: usize = rows.iter().skip(3).map(|r| r.1).sum();
    let others = lines[start + 4];
    assert!(
        others.starts_with(&format!("… {} others", rows.len() - 3))
            && others.contains(&format!(" {rest} ")),
        "{others}"
    );
    // Every table's label column lines up (display width).
    use unicode_width::UnicodeWidthStr;
    let table: Vec<&str> = lines[start..start + 5].to_vec();
    assert!(
        table.iter().all(|l| l.width() == table[0].width()),
        "{table:?}"
    );
    let r = run(["--summary", "verb=nosuchverb", &sample()]);
    assert_eq!((r.code, r.stdout.as_str()), (1, "events  0\n"));
}

/// Counts per bucket of `size` nanoseconds (epoch-aligned), keyed by bucket start.
fn buckets(evs: &[Value], size: i128) -> BTreeMap<i128, Vec<&Value>> {
    let mut out: BTreeMap<i128, Vec<&Value>> = BTreeMap::new();
    for v in evs {
        let t = nanos(&text(v, &["requestReceivedTimestamp"]));
        out.entry(t.div_euclid(size) * size).or_default().push(v);
    }
    out
}

fn rfc3339(nanos: i128) -> String {
    let t = chrono::DateTime::from_timestamp(
        (nanos / 1_000_000_000) as i64,
        (nanos % 1_000_000_000) as u32,
    )
    .unwrap();
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[test]
fn timeline_json_matches_an_independent_count() {
    let r = run(["--timeline", "-o", "json", &sample()]);
    r.assert_sane(&[0]);
    let got: Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    // 12 seconds of events: 500 ms buckets give 25 rows (20–60).
    assert_eq!(got["bucket"], "500ms");
    assert_eq!(got["bucket_seconds"], 0.5);
    assert_eq!(got["events"], 4000);
    let evs = events();
    let want: Vec<Value> = buckets(&evs, 500_000_000)
        .iter()
        .map(|(start, vs)| json!({"start": rfc3339(*start), "count": vs.len()}))
        .collect();
    assert_eq!(want.len(), 25);
    assert_eq!(got["rows"], json!(want));
    assert!(got.get("series").is_none());

    let r = run([
        "--timeline=2s",
        "--timeline-by",
        "user",
        "--top",
        "3",
        "-o",
        "json",
        "user!=system:*",
        &sample(),
    ]);
    r.assert_sane(&[0]);
    let got: Value = serde_json::from_str(&r.stdout).unwrap();
    let people: Vec<Value> = evs
        .into_iter()
        .filter(|v| !text(v, &["user", "username"]).starts_with("system:"))
        .collect();
    let series = top_json(people.iter().map(|v| text(v, &["user", "username"])), 3);
    assert_eq!(got["field"], "user");
    assert_eq!(got["series"], series["rows"]);
    assert_eq!(got["others"], series["others"]);
    let names: Vec<String> = series["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_str().unwrap().to_string())
        .collect();
    let want: Vec<Value> = buckets(&people, 2_000_000_000)
        .iter()
        .map(|(start, vs)| {
            let per: Vec<usize> = names
                .iter()
                .map(|n| {
                    vs.iter()
                        .filter(|v| text(v, &["user", "username"]) == *n)
                        .count()
                })
                .collect();
            let others = vs.len() - per.iter().sum::<usize>();
            json!({"start": rfc3339(*start), "count": vs.len(), "series": per, "others": others})
        })
        .collect();
    assert_eq!(got["rows"], json!(want));
}

#[test]
fn timeline_rows_for_people() {
    let r = run(["--timeline=1s", &sample()]);
    r.assert_sane(&[0]);
    let lines = r.lines();
    assert_eq!(lines[0], "4000 events, 1s buckets");
    assert_eq!(lines[1], "TIME                  EVENTS");
    let evs = events();
    let want = buckets(&evs, 1_000_000_000);
    assert_eq!(lines.len() - 2, want.len());
    let max = want.values().map(Vec::len).max().unwrap();
    for (line, (start, vs)) in lines[2..].iter().zip(&want) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[0], rfc3339(*start));
        assert_eq!(cells[1], vs.len().to_string());
        // The bar fills the 80 columns at the busiest bucket.
        if vs.len() == max {
            use unicode_width::UnicodeWidthStr;
            assert_eq!(line.width(), 80, "{line}");
        }
    }
}

#[test]
fn count_by_json_and_top() {
    let r = run([
        "--count-by",
        "user,verb",
        "-o",
        "json",
        "user!=system:*",
        &sample(),
    ]);
    r.assert_sane(&[0]);
    let got: Value = serde_json::from_str(&r.stdout).unwrap();
    let mut counts: HashMap<(String, String), u64> = HashMap::new();
    for v in events() {
        let user = text(&v, &["user", "username"]);
        if !user.starts_with("system:") {
            *counts.entry((user, text(&v, &["verb"]))).or_default() += 1;
        }
    }
    let mut rows: Vec<((String, String), u64)> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    assert_eq!(got["fields"], json!(["user", "verb"]));
    assert_eq!(got["events"], 83);
    assert_eq!(got["groups"], rows.len());
    let want: Vec<Value> = rows
        .iter()
        .map(|((u, v), n)| json!({"values": [u, v], "count": n}))
        .collect();
    assert_eq!(got["rows"], json!(want));
    assert_eq!(got["others"], json!({"values": 0, "count": 0}));

    let r = run([
        "--count-by",
        "user",
        "--top",
        "2",
        "user!=system:*",
        &sample(),
    ]);
    assert_eq!(
        r.stdout,
        "USER                 COUNT\n\
         kubernetes-admin        26\n\
         alice@example.com       21\n\
         … 3 other groups        36\n"
    );
    let r = run([
        "--count-by",
        "user",
        "--top",
        "2",
        "-o",
        "json",
        "user!=system:*",
        &sample(),
    ]);
    let got: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(got["rows"].as_array().unwrap().len(), 2);
    assert_eq!(got["others"], json!({"values": 3, "count": 36}));
    assert_eq!(
        (got["events"].as_u64(), got["groups"].as_u64()),
        (Some(83), Some(5))
    );
}

#[test]
fn other_formats_are_refused_with_reports() {
    for report in [
        &["--summary"][..],
        &["--timeline"],
        &["--timeline=5m"],
        &["--count-by", "verb"],
    ] {
        for format in ["table", "jsonl", "csv", "fields=user"] {
            let mut args: Vec<&str> = report.to_vec();
            let s = sample();
            args.extend(["-o", format, &s]);
            let r = run(&args);
            assert_eq!(r.code, 2, "{args:?} accepted");
            assert!(
                r.stderr.contains("cannot be used with"),
                "{args:?}: {}",
                r.stderr
            );
            assert!(r.stdout.is_empty());
        }
    }
    for args in [
        &["--summary", "-c"][..],
        &["--timeline", "-c"],
        &["--summary", "--timeline"],
        &["--timeline", "--count-by", "verb"],
        &["--timeline-by", "user"],
        &["--top", "3"],
    ] {
        let r = run(args);
        assert_eq!(r.code, 2, "{args:?} accepted");
    }
    // `--timeline 5m` (no `=`) reads 5m as query text: the hint says how to write it.
    let r = run(["--timeline", "5m", &sample()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--timeline=5m"), "{}", r.stderr);
}
