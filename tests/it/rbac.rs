//! `auditq rbac` against Kubernetes' own RBAC code (the Go program in tests/rbacref:
//! component-helpers' `Covers` and `BreakdownRule`, apimachinery's label selectors and
//! YAML decoder): for generated event sets, the bundled log and the corpus, every allowed
//! request is allowed by the generated roles, and no generated rule is broader than the
//! requests behind it (an atom of a rule without a request fails); `--compare` gives what
//! the same code gives. The model of which events count (final stage, decision) is this
//! file's own, from the raw JSON.

use crate::common::{self, run};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn harness() -> PathBuf {
    common::go::build(
        "rbacref",
        "tests/rbacref",
        common::go::Deps::Module("mod"),
        "Go is needed for the RBAC reference tests (tests/rbacref); install it (the test command builds the harness)",
    )
}

/// Runs the Go reference on these input lines.
fn reference(lines: &[Value]) -> Vec<Value> {
    let mut input = Vec::new();
    for l in lines {
        writeln!(input, "{l}").unwrap();
    }
    let mut child = Command::new(harness())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run rbacref");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    let answers: Vec<Value> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(answers.len(), lines.len());
    answers
}

/// One request as the model reads it from an event.
#[derive(Debug, Clone)]
struct Req {
    subject: String,
    groups: Vec<String>,
    allowed: bool,
    fields: Value,
}

/// The requests of a log, counted once (final stage), with the authorizer's decision,
/// per subject (the impersonated user when there is one).
fn model(log: &Path) -> Vec<Req> {
    let text = std::fs::read_to_string(log).unwrap();
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let e: Value = serde_json::from_str(line).unwrap();
        let stage = e["stage"].as_str().unwrap_or("");
        if !matches!(stage, "" | "ResponseComplete" | "Panic") {
            continue;
        }
        let code = e["responseStatus"]["code"].as_i64();
        let allowed = match e["annotations"]["authorization.k8s.io/decision"].as_str() {
            Some("allow") => true,
            Some("forbid") => false,
            _ => match code {
                Some(403) => false,
                None | Some(401) | Some(429) => continue,
                Some(_) => true,
            },
        };
        let who = if e["impersonatedUser"].is_object() {
            &e["impersonatedUser"]
        } else {
            &e["user"]
        };
        let o = &e["objectRef"];
        let uri = e["requestURI"].as_str().unwrap_or("");
        out.push(Req {
            subject: who["username"].as_str().unwrap_or("").to_string(),
            groups: who["groups"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|g| g.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
            allowed,
            fields: json!({
                "verb": e["verb"],
                "apiGroup": o["apiGroup"].as_str().unwrap_or(""),
                "resource": o["resource"].as_str().unwrap_or(""),
                "subresource": o["subresource"].as_str().unwrap_or(""),
                "namespace": o["namespace"].as_str().unwrap_or(""),
                "name": o["name"].as_str().unwrap_or(""),
                "path": uri.split('?').next().unwrap_or(""),
            }),
        });
    }
    out
}

fn subject_json(name: &str) -> Value {
    match name
        .strip_prefix("system:serviceaccount:")
        .and_then(|r| r.split_once(':'))
    {
        Some((ns, sa)) => json!({"kind": "ServiceAccount", "namespace": ns, "name": sa}),
        None => json!({"kind": "User", "name": name}),
    }
}

/// `auditq rbac --all-subjects LOG` checked by the reference; returns the YAML.
fn check_generated(log: &Path, extra: &[&str]) -> String {
    let mut args = vec!["rbac", "--all-subjects"];
    args.extend_from_slice(extra);
    let r = run(args.iter().copied().chain([log.to_str().unwrap()]));
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let yaml = r.stdout.clone();
    let reqs = model(log);
    let mut by_subject: BTreeMap<String, Vec<&Req>> = BTreeMap::new();
    for q in &reqs {
        by_subject.entry(q.subject.clone()).or_default().push(q);
    }
    let lines: Vec<Value> = by_subject
        .iter()
        .map(|(s, qs)| {
            json!({
                "mode": "generated",
                "objects": yaml,
                "subject": subject_json(s),
                "groups": qs[0].groups,
                "requests": qs.iter().filter(|q| q.allowed).map(|q| &q.fields).collect::<Vec<_>>(),
            })
        })
        .collect();
    let answers = reference(&lines);
    for ((s, _), a) in by_subject.iter().zip(&answers) {
        assert!(a.get("error").is_none(), "{s}: {a}");
        assert_eq!(
            a["notAllowed"],
            json!([]),
            "{s}: allowed requests the roles do not allow\n{yaml}"
        );
        assert_eq!(
            a["unjustified"],
            json!([]),
            "{s}: rules broader than the requests\n{yaml}"
        );
    }
    // Denied requests: as many as the model has, per subject.
    let j = run(args
        .iter()
        .copied()
        .chain(["-o", "json", log.to_str().unwrap()]));
    let doc: Value = serde_json::from_str(&j.stdout).unwrap();
    for s in doc["subjects"].as_array().unwrap() {
        let name = match s["subject"]["kind"].as_str().unwrap() {
            "ServiceAccount" => format!(
                "system:serviceaccount:{}:{}",
                s["subject"]["namespace"].as_str().unwrap(),
                s["subject"]["name"].as_str().unwrap()
            ),
            _ => s["subject"]["name"].as_str().unwrap().to_string(),
        };
        let denied: u64 = s["denied"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["events"].as_u64().unwrap())
            .sum();
        let want = by_subject[&name].iter().filter(|q| !q.allowed).count() as u64;
        assert_eq!(denied, want, "{name}");
        let allowed = s["allowed"]["events"].as_u64().unwrap();
        assert_eq!(
            allowed,
            by_subject[&name].iter().filter(|q| q.allowed).count() as u64,
            "{name}"
        );
    }
    yaml
}

fn bundled(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/rbac")
        .join(name)
}

/// A small deterministic generator (xorshift).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A log of paired stages: users, service accounts in several namespaces, impersonation,
/// subresources, named and unnamed requests, non-resource URLs with query strings,
/// discovery, 403s, decision annotations, 401s.
fn generated_log(g: &mut Gen, events: usize) -> String {
    const USERS: &[&str] = &[
        "alice",
        "system:serviceaccount:shop:api",
        "system:serviceaccount:ops:agent",
        "system:kube-scheduler",
    ];
    const RES: &[(&str, &str, &str)] = &[
        ("", "pods", ""),
        ("", "pods", "log"),
        ("", "pods", "exec"),
        ("", "configmaps", ""),
        ("", "secrets", ""),
        ("apps", "deployments", ""),
        ("apps", "deployments", "scale"),
        ("", "nodes", ""),
        ("coordination.k8s.io", "leases", ""),
        ("authorization.k8s.io", "selfsubjectaccessreviews", ""),
    ];
    const VERBS: &[&str] = &[
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
    ];
    const NS: &[&str] = &["shop", "ops", "default", ""];
    const NAMES: &[&str] = &["a", "b", "leader"];
    const PATHS: &[&str] = &[
        "/metrics",
        "/healthz",
        "/apis/apps/v1",
        "/version",
        "/logs/x",
        "/openapi/v2",
    ];
    let mut out = String::new();
    for i in 0..events {
        let user = g.pick(USERS);
        let impersonated = g
            .chance(10)
            .then(|| g.pick(&["bob", "system:serviceaccount:shop:impersonated"]));
        let verb;
        let mut object = Value::Null;
        let uri;
        if g.chance(20) {
            verb = g.pick(&["get", "post", "put"]).to_string();
            let path = g.pick(PATHS);
            uri = if g.chance(50) {
                format!("{path}?timeout=32s&x=1")
            } else {
                path.to_string()
            };
        } else {
            let (group, res, sub) = RES[g.below(RES.len())];
            verb = g.pick(VERBS).to_string();
            let ns = if res == "nodes" || res == "selfsubjectaccessreviews" {
                ""
            } else {
                g.pick(NS)
            };
            let name = if g.chance(60) { g.pick(NAMES) } else { "" };
            let mut o = json!({"resource": res, "apiVersion": "v1"});
            if !group.is_empty() {
                o["apiGroup"] = json!(group);
            }
            if !sub.is_empty() {
                o["subresource"] = json!(sub);
            }
            if !ns.is_empty() {
                o["namespace"] = json!(ns);
            }
            if !name.is_empty() {
                o["name"] = json!(name);
            }
            uri = format!("/api/v1/{res}?limit=500");
            object = o;
        }
        let code = match g.below(20) {
            0..=2 => 403,
            3 => 401,
            4 => 404,
            5 => 429,
            _ => 200,
        };
        let decision = match (g.chance(50), code) {
            (true, 403) => Some("forbid"),
            (true, 401 | 429) => None,
            (true, _) => Some("allow"),
            _ => None,
        };
        for stage in ["RequestReceived", "ResponseComplete"] {
            let mut e = json!({
                "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
                "auditID": format!("id-{i}"), "stage": stage, "requestURI": uri, "verb": verb,
                "user": {"username": user, "groups": ["system:authenticated", if user.starts_with("system:serviceaccount:") {"system:serviceaccounts"} else {"devs"}]},
                "requestReceivedTimestamp": format!("2026-01-01T00:{:02}:{:02}Z", (i / 60) % 60, i % 60),
            });
            if let Some(imp) = impersonated {
                e["impersonatedUser"] =
                    json!({"username": imp, "groups": ["system:authenticated"]});
            }
            if !object.is_null() {
                e["objectRef"] = object.clone();
            }
            if stage == "ResponseComplete" {
                e["responseStatus"] = json!({"code": code});
                if let Some(d) = decision {
                    e["annotations"] = json!({"authorization.k8s.io/decision": d});
                }
            }
            out.push_str(&e.to_string());
            out.push('\n');
        }
    }
    out
}

#[test]
fn generated_logs_roles_allow_every_request_and_nothing_more() {
    let dir = tempfile::tempdir().unwrap();
    let cases: usize = std::env::var("AUDITQ_RBACREF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    for seed in 0..cases as u64 {
        let mut g = Gen(0x9E37_79B9_7F4A_7C15 ^ (seed + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
        let n = 20 + g.below(200);
        let log = dir.path().join(format!("gen-{seed}.log"));
        std::fs::write(&log, generated_log(&mut g, n)).unwrap();
        let extra: &[&str] = if seed % 3 == 1 {
            &["--prefer-roles"]
        } else {
            &[]
        };
        check_generated(&log, extra);
    }
}

#[test]
fn the_bundled_log_and_the_corpus_demo_log() {
    let yaml = check_generated(&bundled("app.log"), &[]);
    // The multi-namespace service account: one ClusterRole bound in both namespaces.
    assert!(
        yaml.contains("name: auditq:serviceaccount:shop:checkout:namespaces\n  namespace: staging"),
        "{yaml}"
    );
    // A create of a subresource keeps its name; a create of events does not.
    assert!(yaml.contains(
        "  resourceNames:\n  - web-0\n  resources:\n  - pods/exec\n  verbs:\n  - create\n"
    ));
    assert!(yaml.contains("  resources:\n  - events\n  verbs:\n  - create\n"));
    // Query strings never reach nonResourceURLs; discovery is left out.
    assert!(yaml.contains("- nonResourceURLs:\n  - /metrics\n"));
    assert!(!yaml.contains("?") && !yaml.contains("/apis/apps/v1"));
    for rel in [
        "liggitt__audit2rbac/demo.log",
        "liggitt__audit2rbac/at-501d132/demo.log",
    ] {
        check_generated(&common::corpus(rel), &[]);
    }
}

/// audit2rbac's demo: what audit2rbac derives (its README and testdata; the program
/// cannot be fetched here) for each identity of the demo log, and what auditq derives.
/// The differences are named in docs/rbac.md.
#[test]
fn audit2rbac_demo_log_same_permissions() {
    for rel in [
        "liggitt__audit2rbac/demo.log",
        "liggitt__audit2rbac/at-501d132/demo.log",
    ] {
        let log = common::corpus(rel);
        let json = |who: &[&str]| -> Value {
            let mut args = vec!["rbac", "-o", "json"];
            args.extend_from_slice(who);
            let r = run(args.iter().copied().chain([log.to_str().unwrap()]));
            assert_eq!(r.code, 0, "{}", r.stderr);
            serde_json::from_str(&r.stdout).unwrap()
        };
        // bob: list pods in default (a Role and RoleBinding in default), as audit2rbac;
        // audit2rbac's discovery ClusterRole for /api, /apis… is left to system:discovery.
        let bob = json(&["--user", "bob"]);
        let objects = &bob["subjects"][0]["objects"];
        let kinds: Vec<(&str, &str)> = objects
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["kind"].as_str().unwrap(),
                    o["metadata"]["namespace"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(kinds, [("Role", "default"), ("RoleBinding", "default")]);
        assert_eq!(
            objects[0]["rules"],
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}])
        );
        // sa1: list pods cluster-wide (a ClusterRole and ClusterRoleBinding), as audit2rbac.
        let sa = json(&["--serviceaccount", "ns1:sa1"]);
        let objects = &sa["subjects"][0]["objects"];
        assert_eq!(objects[0]["kind"], "ClusterRole");
        assert_eq!(
            objects[0]["rules"],
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}])
        );
        assert_eq!(
            objects[1]["subjects"],
            json!([{"kind": "ServiceAccount", "name": "sa1", "namespace": "ns1"}])
        );
        // alice: only denied requests, no role (audit2rbac: "No allowed requests found").
        let alice = json(&["--user", "alice"]);
        assert_eq!(alice["subjects"][0]["objects"], json!([]));
        assert_eq!(alice["subjects"][0]["denied"].as_array().unwrap().len(), 3);
    }
}

#[test]
fn compare_agrees_with_the_reference() {
    let cluster = bundled("cluster.yaml");
    let cluster_text = std::fs::read_to_string(&cluster).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut logs = vec![bundled("app.log")];
    for seed in 0..10u64 {
        let mut g = Gen(0xC0FF_EE00 ^ (seed + 1).wrapping_mul(0x9E37_79B9));
        let log = dir.path().join(format!("cmp-{seed}.log"));
        std::fs::write(&log, generated_log(&mut g, 150)).unwrap();
        logs.push(log);
    }
    // A cluster RBAC for the generated subjects too.
    let generated_cluster = dir.path().join("cluster.yaml");
    std::fs::write(
        &generated_cluster,
        format!(
            "{cluster_text}\n---\n{}",
            include_str!("../../testdata/rbac/cluster-extra.yaml")
        ),
    )
    .unwrap();
    for log in &logs {
        let r = run([
            "rbac",
            "--all-subjects",
            "-o",
            "json",
            "--compare",
            generated_cluster.to_str().unwrap(),
            log.to_str().unwrap(),
        ]);
        assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
        let doc: Value = serde_json::from_str(&r.stdout).unwrap();
        let reqs = model(log);
        let text = std::fs::read_to_string(&generated_cluster).unwrap();
        let mut subjects = Vec::new();
        let mut lines = Vec::new();
        for s in doc["subjects"].as_array().unwrap() {
            let name = match s["subject"]["kind"].as_str().unwrap() {
                "ServiceAccount" => format!(
                    "system:serviceaccount:{}",
                    s["subject"]["name"].as_str().unwrap()
                ),
                _ => s["subject"]["name"].as_str().unwrap().to_string(),
            };
            let mine: Vec<&Req> = reqs
                .iter()
                .filter(|q| q.subject == name && q.allowed)
                .collect();
            let groups: BTreeSet<String> = reqs
                .iter()
                .filter(|q| q.subject == name)
                .flat_map(|q| q.groups.clone())
                .collect();
            lines.push(json!({
                "mode": "compare", "objects": text, "subject": subject_json(&name),
                "groups": groups, "requests": mine.iter().map(|q| &q.fields).collect::<Vec<_>>(),
            }));
            subjects.push((s.clone(), mine));
        }
        let answers = reference(&lines);
        for ((s, mine), a) in subjects.iter().zip(&answers) {
            assert!(a.get("error").is_none(), "{a}");
            assert_eq!(
                s["granted"], a["granted"],
                "{}: granted rules",
                s["subject"]
            );
            assert_eq!(s["used"], a["used"], "{}: used rules\n{s:#}", s["subject"]);
            let not_allowed = mine
                .iter()
                .zip(a["allowed"].as_array().unwrap())
                .filter(|(_, ok)| !ok.as_bool().unwrap())
                .count() as u64;
            let unexplained: u64 = s["allowedNotExplained"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["events"].as_u64().unwrap())
                .sum();
            assert_eq!(
                unexplained, not_allowed,
                "{}: allowed requests no binding explains\n{s:#}",
                s["subject"]
            );
        }
    }
}

#[test]
fn options_are_refused_or_work() {
    let log = bundled("app.log");
    let log = log.to_str().unwrap();
    let r = run(["rbac", log]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--user"), "{}", r.stderr);
    let r = run(["rbac", "--user", "nobody", log]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .starts_with("# auditq rbac: User nobody — 0 allowed requests")
    );
    let r = run([
        "rbac",
        "--user",
        "dev-bob",
        "--compare",
        "/nonexistent.yaml",
        log,
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cannot read the RBAC file"),
        "{}",
        r.stderr
    );
    // A group: the requests of its members, bound to the group.
    let r = run(["rbac", "--group", "devs", log]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("  kind: Group\n  name: devs\n"),
        "{}",
        r.stdout
    );
    // The query narrows the events used.
    let r = run(["rbac", "--all-subjects", "-o", "json", "verb=get", log]);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    for s in doc["subjects"].as_array().unwrap() {
        for o in s["objects"].as_array().unwrap() {
            for rule in o["rules"].as_array().into_iter().flatten() {
                assert_eq!(rule["verbs"], json!(["get"]));
            }
        }
    }
    // --widen grants what it says, and says so.
    let r = run([
        "rbac",
        "--serviceaccount",
        "shop:checkout",
        "--widen",
        "get-list-watch",
        log,
    ]);
    assert!(
        r.stdout.contains("# widened (--widen): get not seen"),
        "{}",
        r.stdout
    );
}
