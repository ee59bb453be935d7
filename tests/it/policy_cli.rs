//! `auditq policy lint|eval|explain` driven as a user runs them, on the policies people
//! copy (testdata/policies, sources in testdata/SOURCES.md) and the sample log.

use crate::common;

use common::{run, run_with, testdata};
use serde_json::Value;

fn p(name: &str) -> String {
    common::arg(&testdata(&format!("policies/{name}")))
}

fn sample() -> String {
    common::arg(&testdata("sample.log"))
}

#[test]
fn lint_exit_codes_follow_the_worst_finding() {
    let r = run(["policy", "lint", &p("catch-all-metadata.yaml")]);
    r.assert_sane(&[0]);
    assert!(
        r.stdout
            .ends_with("0 error(s), 0 warning(s); kube-apiserver would load it\n")
    );
    // The documentation's example: loads, with reviewer warnings only.
    let r = run(["policy", "lint", &p("k8s-docs-example.yaml")]);
    r.assert_sane(&[1]);
    assert!(
        r.stdout
            .contains("k8s-docs-example.yaml:43:3: warning: rule 6 logs configmaps at Request"),
        "{}",
        r.stdout
    );
    let r = run([
        "policy",
        "lint",
        "--deny-warnings",
        &p("k8s-docs-example.yaml"),
    ]);
    r.assert_sane(&[2]);
    // kube-up's default: the RequestResponse catch-all of known groups.
    let r = run(["policy", "lint", &p("gce-kube-up.yaml")]);
    r.assert_sane(&[1]);
    assert!(
        r.stdout.contains(
            ":139:5: warning: rule 16 logs every resource of its group at RequestResponse"
        ),
        "{}",
        r.stdout
    );
    // The hardening guide's one-rule policy: secrets and tokens in the log.
    let r = run(["policy", "lint", &p("nsa-cisa-hardening.yaml")]);
    r.assert_sane(&[1]);
    for what in [
        "secrets at RequestResponse",
        "tokenreviews",
        "RequestReceived is not omitted",
    ] {
        assert!(r.stdout.contains(what), "{what}: {}", r.stdout);
    }
}

#[test]
fn lint_errors_name_line_column_and_fix() {
    let r = run(["policy", "lint", &p("broken/invalid.yaml")]);
    r.assert_sane(&[2]);
    let lines = r.lines();
    assert!(
        lines[0].contains(
            "invalid.yaml:6:9: error: rules[0].resources.group: Invalid value: \"apps/v1\""
        ),
        "{lines:?}"
    );
    assert!(lines[1].contains("fix: write `group: apps`"));
    assert!(lines[2].contains(":8:5: error: rules[1].level: Unsupported value: \"metadata\""));
    assert!(lines[3].contains("write `level: Metadata`"));
    assert!(lines[4].contains(":9:5: error: rules[1].nonResourceURLs[0]"));
    assert!(r.stdout.contains("would refuse to load it"));
    let r = run(["policy", "lint", &p("broken/v1beta1.yaml")]);
    r.assert_sane(&[2]);
    assert!(
        r.stdout
            .contains(":1:1: error: unknown group version audit.k8s.io/v1beta1")
    );
    assert!(r.stdout.contains("write `apiVersion: audit.k8s.io/v1`"));
    let r = run(["policy", "lint", &p("broken/bad-indent.yaml")]);
    r.assert_sane(&[2]);
    assert!(r.stdout.contains("bad-indent.yaml:5:"), "{}", r.stdout);
    assert!(r.stdout.contains("indentation"));
    // An ignored misspelt field: an error in lint though the apiserver loads the policy.
    let r = run(["policy", "lint", &p("broken/ignored-fields.yaml")]);
    r.assert_sane(&[2]);
    assert!(r.stdout.contains(":7:5: error: unknown field \"resource\" in rule 1: the apiserver warns, ignores it, and the rule then matches every resource"));
    assert!(r.stdout.contains(":10:5: warning: rule 2 never matches"));
    assert!(r.stdout.contains("would load it, with a warning"));
}

#[test]
fn lint_json_is_one_document_for_all_files() {
    let r = run([
        "policy",
        "lint",
        "-o",
        "json",
        &p("broken/invalid.yaml"),
        &p("catch-all-metadata.yaml"),
    ]);
    r.assert_sane(&[2]);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["loads"], false);
    assert_eq!(files[0]["findings"][0]["line"], 6);
    assert_eq!(files[0]["findings"][0]["apiserverRefuses"], true);
    assert_eq!(files[1]["findings"].as_array().unwrap().len(), 0);
    let r = run(["policy", "lint", "/no/such/policy.yaml"]);
    r.assert_sane(&[2]);
    assert!(
        r.stderr.starts_with("auditq: /no/such/policy.yaml:"),
        "{}",
        r.stderr
    );
}

#[test]
fn explain_gives_each_earlier_rules_reason() {
    let r = run([
        "policy",
        "explain",
        &p("k8s-docs-example.yaml"),
        "verb=get resource=pods/log user=alice groups=system:authenticated ns=prod",
    ]);
    r.assert_sane(&[0]);
    assert_eq!(
        r.stdout,
        "  rule 1 (line 8): no: resources: \"pods/log\" in the core group is not matched by {group \"\": [\"pods\"]}\n  rule 2 (line 15): matches\nlevel Metadata, omitted stages: RequestReceived\n"
    );
    let r = run([
        "policy",
        "explain",
        &p("catch-all-metadata.yaml"),
        "resource=pods",
    ]);
    r.assert_sane(&[2]);
    assert!(r.stderr.contains("verb="), "{}", r.stderr);
    let r = run([
        "policy",
        "explain",
        &p("broken/invalid.yaml"),
        "verb=get resource=pods",
    ]);
    r.assert_sane(&[2]);
    assert!(
        r.stderr.contains("kube-apiserver would refuse this policy"),
        "{}",
        r.stderr
    );
}

#[test]
fn eval_tables_add_up_and_keep_prints_what_would_be_logged() {
    let r = run([
        "policy",
        "eval",
        "-o",
        "json",
        &p("k8s-docs-example.yaml"),
        &sample(),
    ]);
    r.assert_sane(&[0]);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    let input = doc["inputEvents"].as_u64().unwrap();
    let s = &doc["policies"][0];
    let rules = s["rules"].as_array().unwrap();
    let matched: u64 = rules.iter().map(|r| r["events"].as_u64().unwrap()).sum();
    assert_eq!(
        matched, input,
        "every event is counted under exactly one rule (or none)"
    );
    let bytes: u64 = rules.iter().map(|r| r["bytes"].as_u64().unwrap()).sum();
    assert_eq!(bytes, s["loggedBytes"].as_u64().unwrap());
    for r in rules.iter().filter(|r| r["level"] == "None") {
        assert_eq!(r["bytes"], 0);
    }
    // --keep: the same events, in input order, with the level and trimming of the policy.
    let kept = run([
        "policy",
        "eval",
        "--keep",
        &p("k8s-docs-example.yaml"),
        &sample(),
    ]);
    kept.assert_sane(&[0]);
    let lines = kept.lines();
    assert_eq!(lines.len() as u64, s["loggedEvents"].as_u64().unwrap());
    let kept_bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    assert_eq!(kept_bytes as u64, s["loggedBytes"].as_u64().unwrap());
    let mut last = String::new();
    for line in &lines {
        let e: Value = serde_json::from_str(line).unwrap();
        let level = e["level"].as_str().unwrap();
        assert_ne!(e["stage"], "RequestReceived");
        if level == "Metadata" {
            assert!(e.get("requestObject").is_none() && e.get("responseObject").is_none());
        }
        if level == "Request" {
            assert!(e.get("responseObject").is_none());
        }
        let time = e["stageTimestamp"].as_str().unwrap_or_default().to_string();
        assert!(time >= last || time.is_empty(), "input order");
        last = time;
    }
    // Replaying the kept log through the same policy keeps all of it.
    let again = run_with(
        ["policy", "eval", "--keep", &p("k8s-docs-example.yaml")],
        Some(kept.stdout.as_bytes()),
    );
    assert_eq!(again.stdout, kept.stdout);
}

#[test]
fn eval_takes_a_query_and_diff_compares_two_policies() {
    let all = run([
        "policy",
        "eval",
        "-o",
        "json",
        &p("catch-all-metadata.yaml"),
        &sample(),
    ]);
    let secrets = run([
        "policy",
        "eval",
        "-o",
        "json",
        &p("catch-all-metadata.yaml"),
        "resource=secrets",
        &sample(),
    ]);
    let count = run(["-c", "resource=secrets", &sample()]).count();
    let all: Value = serde_json::from_str(&all.stdout).unwrap();
    let secrets: Value = serde_json::from_str(&secrets.stdout).unwrap();
    assert_eq!(secrets["inputEvents"].as_u64().unwrap(), count);
    assert!(all["inputEvents"].as_u64().unwrap() > count);
    let r = run([
        "policy",
        "eval",
        &p("catch-all-metadata.yaml"),
        "--diff",
        &p("nsa-cisa-hardening.yaml"),
        &sample(),
    ]);
    r.assert_sane(&[0]);
    assert!(r.stdout.contains("diff: "), "{}", r.stdout);
    assert!(r.stdout.contains("cannot be re-leveled upward"));
    // RequestReceived events: the catch-all omits them, the hardening guide logs them.
    let d = run([
        "policy",
        "eval",
        "-o",
        "json",
        &p("catch-all-metadata.yaml"),
        "--diff",
        &p("nsa-cisa-hardening.yaml"),
        "stage=RequestReceived",
        &sample(),
    ]);
    let doc: Value = serde_json::from_str(&d.stdout).unwrap();
    assert_eq!(doc["policies"][0]["loggedEvents"], 0);
    assert_eq!(doc["policies"][1]["loggedEvents"], doc["inputEvents"]);
    let bad = run([
        "policy",
        "eval",
        "--keep",
        "--diff",
        &p("catch-all-metadata.yaml"),
        &p("catch-all-metadata.yaml"),
    ]);
    bad.assert_sane(&[2]);
}

#[test]
fn a_search_still_reads_its_arguments_as_before() {
    let r = run(["-c", "verb=get", &sample()]);
    r.assert_sane(&[0]);
    let r = run(["policy"]);
    r.assert_sane(&[2]);
    assert!(r.stderr.contains("lint"), "{}", r.stderr);
}
