//! Runs auditq over the real-world corpus (third-party audit logs, see SOURCES.md in the
//! corpus directory). The corpus is found through the AUDITQ_CORPUS environment variable;
//! these tests fail (never skip) when it is not set.

use crate::common;

use common::{arg, corpus, corpus_dir, count, run};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn corpus_files() -> Vec<PathBuf> {
    let files = common::corpus_files();
    assert!(
        files.len() >= 60,
        "corpus looks incomplete: {} files",
        files.len()
    );
    files
}

/// `auditq -c -j1 [query…] -- file`, checked for sanity.
fn tool_count(query: &[&str], file: &Path) -> u64 {
    let mut args = vec!["-j1"];
    args.extend_from_slice(query);
    count(&args, file)
}

// ------------------------------------------------------------ independent oracle

/// Audit events in a JSON value: an Event, or the items of an EventList.
fn events_in(v: &Value, out: &mut Vec<Value>) {
    match v["kind"].as_str() {
        Some("Event") => out.push(v.clone()),
        Some("EventList") => {
            for item in v["items"].as_array().into_iter().flatten() {
                out.push(item.clone());
            }
        }
        _ => common::envelope_events_in(v, out),
    }
}

/// The events of a file read independently of auditq: one JSON document for the whole
/// file if it is one, otherwise one per line (lines that do not parse are not events).
fn oracle_events(file: &Path) -> Vec<Value> {
    let bytes = std::fs::read(file).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_start_matches('\u{feff}');
    let mut out = Vec::new();
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        events_in(&v, &mut out);
        return out;
    }
    for line in text.lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line.trim_end_matches('\r')) {
            events_in(&v, &mut out);
        }
    }
    out
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn verb(v: &Value) -> Option<&str> {
    str_at(v, &["verb"])
}

fn resource(v: &Value) -> Option<&str> {
    str_at(v, &["objectRef", "resource"])
}

fn code(v: &Value) -> Option<i64> {
    v.get("responseStatus")?.get("code")?.as_i64()
}

/// The oracle's count for each of several queries.
type Check = (&'static [&'static str], fn(&Value) -> bool);

const CHECKS: &[Check] = &[
    (&[], |_| true),
    (&["verb=delete"], |v| verb(v) == Some("delete")),
    (&["resource=secrets"], |v| resource(v) == Some("secrets")),
    (&["code>=400"], |v| code(v).is_some_and(|c| c >= 400)),
    (&["user=system:*"], |v| {
        str_at(v, &["user", "username"]).is_some_and(|u| u.starts_with("system:"))
    }),
    (&["ns=kube-system"], |v| {
        str_at(v, &["objectRef", "namespace"]) == Some("kube-system")
    }),
    (&["verb=get,list", "resource=pods"], |v| {
        matches!(verb(v), Some("get" | "list")) && resource(v) == Some("pods")
    }),
];

/// Files the oracle can read: JSON (lines or one document); not YAML, legacy text or docs.
fn is_json_file(p: &Path) -> bool {
    let name = p.file_name().unwrap().to_string_lossy();
    let json = name.ends_with(".json") || name.ends_with(".jsonl");
    let log = name.ends_with(".log") && !name.contains("legacy") && !name.contains("excerpt");
    json || log
}

// ------------------------------------------------------------ tests

#[test]
fn every_file_runs_without_panic() {
    for file in corpus_files() {
        for extra in [
            &[][..],
            &["--stats"][..],
            &["-o", "wide"][..],
            &["--strict"][..],
        ] {
            // `-c` counts; with `-o` the events are printed instead (-c and -o conflict).
            let mut args: Vec<String> = if extra.contains(&"-o") {
                Vec::new()
            } else {
                vec!["-c".into()]
            };
            args.extend(extra.iter().map(|s| s.to_string()));
            args.push("--".into());
            args.push(arg(&file));
            let r = run(&args);
            assert!(
                !r.stderr.contains("panicked"),
                "{}: {}",
                file.display(),
                r.stderr
            );
            let allowed: &[i32] = if extra == ["--strict"] {
                &[0, 1, 2]
            } else {
                &[0, 1]
            };
            assert!(
                allowed.contains(&r.code),
                "{} {extra:?}: exit {} {}",
                file.display(),
                r.code,
                r.stderr
            );
        }
    }
}

#[test]
fn prefilter_agrees_with_full_parse_on_every_file() {
    let queries: &[&[&str]] = &[
        &["verb=delete"],
        &["resource=secrets"],
        &["user=system:*"],
        &["ns=kube-system"],
        &["code>=400"],
        &["verb=get,list", "resource=pods"],
        &["verb!=get", "not user~'^system:'"],
    ];
    for file in corpus_files() {
        for q in queries {
            let mut args: Vec<String> = vec!["-o".into(), "jsonl".into(), "-j1".into()];
            args.extend(q.iter().map(|s| s.to_string()));
            let mut slow = args.clone();
            slow.push("--no-prefilter".into());
            for a in [&mut args, &mut slow] {
                a.push("--".into());
                a.push(arg(&file));
            }
            let fast = run(&args);
            let full = run(&slow);
            fast.assert_sane(&[0, 1]);
            full.assert_sane(&[0, 1]);
            assert_eq!(
                (fast.code, &fast.stdout),
                (full.code, &full.stdout),
                "{} {q:?}: prefilter disagrees",
                file.display()
            );
        }
    }
}

#[test]
fn counts_match_independent_oracle_for_json_files() {
    let mut checked = 0;
    for file in corpus_files() {
        if !is_json_file(&file) {
            continue;
        }
        let events = oracle_events(&file);
        for (query, pred) in CHECKS {
            let want = events.iter().filter(|v| pred(v)).count() as u64;
            assert_eq!(
                tool_count(query, &file),
                want,
                "{} {query:?}",
                file.display()
            );
        }
        checked += 1;
    }
    assert!(checked >= 55, "only {checked} JSON files checked");
}

#[test]
fn audit2rbac_demo_log() {
    let f = corpus("liggitt__audit2rbac/at-501d132/demo.log");
    let events = oracle_events(&f);
    assert_eq!(events.len(), 757);
    assert_eq!(tool_count(&[], &f), 757);
    let deletes = events.iter().filter(|v| verb(v) == Some("delete")).count() as u64;
    assert_eq!(tool_count(&["verb=delete"], &f), deletes);
    let errors = events
        .iter()
        .filter(|v| code(v).is_some_and(|c| c >= 400))
        .count() as u64;
    assert_eq!(errors, 101, "SOURCES.md: 101 events with 403/404");
    assert_eq!(tool_count(&["code>=400"], &f), errors);
    let impersonated = events
        .iter()
        .filter(|v| v.get("impersonatedUser").is_some())
        .count() as u64;
    assert_eq!(impersonated, 37);
    let rr = events
        .iter()
        .filter(|v| str_at(v, &["stage"]) == Some("RequestReceived"))
        .count() as u64;
    assert_eq!(tool_count(&["stage=RequestReceived"], &f), rr);
    assert_eq!(rr, 320);
    // v1beta1 `timestamp`: time bounds work on it.
    assert_eq!(tool_count(&["time>=2017-09-11T00:00:00Z"], &f), 757);
    assert_eq!(tool_count(&["time>2017-09-12T00:00:00Z"], &f), 0);
}

#[test]
fn openshift_audit_in_log_with_220kb_event() {
    let f = corpus("openshift__cluster-logging-operator/audit_in.log");
    assert_eq!(tool_count(&[], &f), 100);
    let text = std::fs::read_to_string(&f).unwrap();
    let r = run(["-o", "jsonl", "--", &arg(&f)]);
    assert_eq!(r.stdout, text, "jsonl output must be the input lines");
    let largest = text.lines().max_by_key(|l| l.len()).unwrap();
    assert!(largest.len() > 220_000);
    let v: Value = serde_json::from_str(largest).unwrap();
    let id = v["auditID"].as_str().unwrap();
    let r = run(["-o", "jsonl", &format!("auditid={id}"), "--", &arg(&f)]);
    assert_eq!(r.stdout, format!("{largest}\n"));
    let r = run([
        "-o",
        "jsonl",
        "--block-size",
        "4KiB",
        "-j2",
        &format!("auditid={id}"),
        "--",
        &arg(&f),
    ]);
    assert_eq!(r.stdout, format!("{largest}\n"));
    assert_eq!(tool_count(&["stage=ResponseStarted"], &f), 8);
    assert_eq!(tool_count(&["code=101"], &f), 2);
    assert_eq!(tool_count(&["code=403"], &f), 4);
    assert_eq!(tool_count(&["code=404"], &f), 3);
    assert_eq!(tool_count(&["code=409"], &f), 4);
}

#[test]
fn kubernetes_website_eventlists_and_legacy() {
    for (file, events) in [
        ("audit.md@013acc43.eventlist-v1alpha1.json", 1),
        ("audit.md@v1.8-era.eventlist-v1beta1.json", 1),
        ("audit.md@013acc43.v1alpha1.jsonl", 2),
        ("audit.md@v1.8-era.v1beta1.jsonl", 2),
        ("audit.md@013acc43.legacy-v1.7.log", 2),
        ("audit.md@v1.8-era.legacy-v1.8.log", 2),
    ] {
        let f = corpus(&format!("kubernetes__website/{file}"));
        assert_eq!(tool_count(&[], &f), events, "{file}");
    }
    // The EventList item has no kind/apiVersion but is still an event with a verb.
    let f = corpus("kubernetes__website/audit.md@v1.8-era.eventlist-v1beta1.json");
    let r = run(["-o", "json", "--", &arg(&f)]);
    let v: Value = serde_json::from_str(&r.stdout).expect("valid JSON");
    let want = oracle_events(&f);
    assert_eq!(v.as_array().unwrap(), &want);
    // Legacy lines are queryable through the same fields.
    let f = corpus("kubernetes__website/audit.md@013acc43.legacy-v1.7.log");
    let methods: Vec<String> = std::fs::read_to_string(&f)
        .unwrap()
        .lines()
        .filter_map(|l| l.split("method=\"").nth(1))
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .collect();
    assert_eq!(methods.len(), 2);
    let verb_q = format!("verb={}", methods[0]);
    let same = methods.iter().filter(|m| **m == methods[0]).count() as u64;
    assert_eq!(tool_count(&[&verb_q], &f), same);
}

#[test]
fn openshift_pretty_single_events() {
    for name in [
        "raw_audit_kubernetes.json",
        "raw_audit_openshift.json",
        "raw_audit_oauth-apiserver.json",
        "log5607_sample.json",
    ] {
        let f = corpus(&format!("openshift__cluster-logging-operator/{name}"));
        assert_eq!(tool_count(&[], &f), 1, "{name}");
        let r = run(["-o", "json", "--", &arg(&f)]);
        let v: Value = serde_json::from_str(&r.stdout).expect("valid JSON");
        let want: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        assert_eq!(v.as_array().unwrap(), &vec![want], "{name}");
    }
    let f = corpus("openshift__cluster-logging-operator/raw_audit_oauth-apiserver.json");
    assert_eq!(tool_count(&["user=system:anonymous"], &f), 1);
    let f = corpus("openshift__cluster-logging-operator/raw_audit_kubernetes.json");
    assert_eq!(
        tool_count(&["verb=get", "resource=kubecontrollermanagers"], &f),
        1
    );
}

#[test]
fn falco_folder() {
    let dir = corpus_dir().join("falcosecurity__falco");
    let files = common::files_under(&dir);
    assert_eq!(files.len(), 47);
    let mut args = vec!["-c".to_string(), "--".to_string()];
    args.extend(files.iter().map(|f| arg(f)));
    let r = run(&args);
    r.assert_sane(&[0]);
    assert_eq!(r.count(), 51);
    let oracle: usize = files.iter().map(|f| oracle_events(f).len()).sum();
    assert_eq!(oracle, 51);
    let not_event = dir.join("fal_01_003.json");
    let r = run(["-c", "--", &arg(&not_event)]);
    assert_eq!((r.code, r.count()), (1, 0));
    let r = run(["-c", "--strict", "--", &arg(&not_event)]);
    assert!(!r.stderr.contains("panicked"));
    assert_eq!(
        tool_count(&[], &dir.join("create_configmap_sensitive_values.json")),
        6
    );
    let exec = tool_count(&["resource=pods/exec"], &dir.join("exec_pod.json"));
    assert_eq!(exec, 1);
}
