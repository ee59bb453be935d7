//! auditq's policy loading and rule matching against the real kube-apiserver code: the Go
//! program in tests/policyref (k8s.io/apiserver v0.37.2, `LoadPolicyFromBytes`,
//! `NewPolicyRuleEvaluator`) is built by this test (module mode, go.sum committed; the
//! build is cached under the target directory) and given generated policies × requests.
//! For every policy: auditq reports an apiserver-refused error exactly when the apiserver
//! refuses it; for every request of a loaded policy: the same level, omitted stages and
//! omitManagedFields. AUDITQ_POLICYREF_CASES sets the number of policies (default 3000).

use auditq::policy::{self, Attributes};
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The harness (built on first use; Go caches the build itself too).
fn harness() -> PathBuf {
    crate::common::go::build(
        "policyref",
        "tests/policyref",
        crate::common::go::Deps::Module("mod"),
        "Go is needed for the reference tests (tests/policyref); install it (the test command builds the harness)",
    )
}

/// A small deterministic generator (xorshift), so a failure is reproducible by seed.
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
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn some<'a>(&mut self, items: &[&'a str], max: usize) -> Vec<&'a str> {
        let n = 1 + self.below(max);
        (0..n).map(|_| self.pick(items)).collect()
    }
}

const USERS: &[&str] = &[
    "alice",
    "bob",
    "system:kube-proxy",
    "system:serviceaccount:kube-system:x",
];
const GROUPS: &[&str] = &[
    "system:authenticated",
    "system:nodes",
    "devs",
    "system:serviceaccounts",
];
const VERBS: &[&str] = &[
    "get", "list", "watch", "create", "update", "patch", "delete",
];
const API_GROUPS: &[&str] = &["", "apps", "rbac.authorization.k8s.io", "batch"];
const RESOURCES: &[&str] = &["pods", "secrets", "deployments", "configmaps", "nodes"];
const SUBRESOURCES: &[&str] = &["", "", "log", "status", "exec"];
const NAMESPACES: &[&str] = &["", "default", "kube-system", "prod"];
const NAMES: &[&str] = &["", "a", "b", "controller-leader"];
const PATHS: &[&str] = &[
    "/healthz",
    "/healthz/etcd",
    "/version",
    "/metrics",
    "/api",
    "/apis/apps",
];
const RULE_RESOURCES: &[&str] = &[
    "pods",
    "pods/log",
    "pods/*",
    "*/status",
    "*",
    "secrets",
    "deployments",
    "deployments/status",
    "configmaps",
    "nodes",
    "*/exec",
];
const URL_SPECS: &[&str] = &[
    "/healthz*",
    "/version",
    "*",
    "/api*",
    "/metrics",
    "/healthz",
];
const STAGES: &[&str] = &[
    "RequestReceived",
    "ResponseStarted",
    "ResponseComplete",
    "Panic",
];
const LEVELS: &[&str] = &["None", "Metadata", "Request", "RequestResponse"];

fn quoted(items: &[&str]) -> String {
    let q: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", q.join(", "))
}

/// A policy, mostly valid, sometimes broken in one of the ways people break them.
fn policy_text(g: &mut Gen) -> String {
    let mut t = String::new();
    let version = if g.chance(2) {
        "audit.k8s.io/v1beta1"
    } else {
        "audit.k8s.io/v1"
    };
    t.push_str(&format!("apiVersion: {version}\nkind: Policy\n"));
    if g.chance(30) {
        t.push_str(&format!("omitStages: {}\n", quoted(&g.some(STAGES, 2))));
    }
    if g.chance(15) {
        t.push_str(&format!("omitManagedFields: {}\n", g.chance(50)));
    }
    if g.chance(2) {
        t.push_str("rules: []\n");
        return t;
    }
    t.push_str("rules:\n");
    for _ in 0..1 + g.below(5) {
        let level = if g.chance(3) {
            "Metadta"
        } else {
            g.pick(LEVELS)
        };
        t.push_str(&format!("- level: {level}\n"));
        if g.chance(25) {
            t.push_str(&format!("  users: {}\n", quoted(&g.some(USERS, 2))));
        }
        if g.chance(20) {
            t.push_str(&format!("  userGroups: {}\n", quoted(&g.some(GROUPS, 2))));
        }
        if g.chance(40) {
            t.push_str(&format!("  verbs: {}\n", quoted(&g.some(VERBS, 3))));
        }
        let urls = g.chance(15);
        if urls {
            let mut specs = g.some(URL_SPECS, 2);
            if g.chance(5) {
                specs.push("healthz");
            }
            if g.chance(5) {
                specs.push("/a*b");
            }
            t.push_str(&format!("  nonResourceURLs: {}\n", quoted(&specs)));
        }
        if (!urls || g.chance(5)) && g.chance(50) {
            let key = if g.chance(3) { "resource" } else { "resources" };
            t.push_str(&format!("  {key}:\n"));
            for _ in 0..1 + g.below(2) {
                let group = if g.chance(4) {
                    "apps/v1"
                } else if g.chance(10) {
                    "*"
                } else {
                    g.pick(API_GROUPS)
                };
                t.push_str(&format!("  - group: \"{group}\"\n"));
                let has_resources = g.chance(80);
                if has_resources {
                    t.push_str(&format!(
                        "    resources: {}\n",
                        quoted(&g.some(RULE_RESOURCES, 3))
                    ));
                }
                if g.chance(15) {
                    t.push_str(&format!(
                        "    resourceNames: {}\n",
                        quoted(&g.some(&["a", "controller-leader"], 1))
                    ));
                }
            }
        }
        if (!urls || g.chance(5)) && g.chance(25) {
            t.push_str(&format!(
                "  namespaces: {}\n",
                quoted(&g.some(NAMESPACES, 2))
            ));
        }
        if g.chance(25) {
            let mut stages = g.some(STAGES, 2);
            if g.chance(5) {
                stages.push("Done");
            }
            t.push_str(&format!("  omitStages: {}\n", quoted(&stages)));
        }
        if g.chance(10) {
            t.push_str(&format!("  omitManagedFields: {}\n", g.chance(50)));
        }
        if g.chance(3) {
            t.push_str(&format!("  level: {}\n", g.pick(LEVELS)));
        }
    }
    t
}

fn request(g: &mut Gen) -> Attributes {
    let resource_request = g.chance(75);
    Attributes {
        user: (!g.chance(3)).then(|| g.pick(USERS).to_string()),
        groups: (0..g.below(3))
            .map(|_| g.pick(GROUPS).to_string())
            .collect(),
        verb: g.pick(VERBS).to_string(),
        resource_request,
        api_group: if resource_request {
            g.pick(API_GROUPS).into()
        } else {
            String::new()
        },
        resource: if resource_request {
            g.pick(RESOURCES).into()
        } else {
            String::new()
        },
        subresource: if resource_request {
            g.pick(SUBRESOURCES).into()
        } else {
            String::new()
        },
        namespace: if resource_request {
            g.pick(NAMESPACES).into()
        } else {
            String::new()
        },
        name: if resource_request {
            g.pick(NAMES).into()
        } else {
            String::new()
        },
        path: g.pick(PATHS).into(),
    }
}

fn request_json(a: &Attributes) -> Value {
    json!({
        "user": a.user, "groups": a.groups, "verb": a.verb, "resourceRequest": a.resource_request,
        "apiGroup": a.api_group, "resource": a.resource, "subresource": a.subresource,
        "namespace": a.namespace, "name": a.name, "path": a.path,
    })
}

#[test]
fn levels_stages_and_refusals_equal_the_apiservers() {
    let cases: usize = std::env::var("AUDITQ_POLICYREF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let bin = harness();
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    let mut inputs = Vec::new();
    let mut input_text = Vec::new();
    for _ in 0..cases {
        let text = policy_text(&mut g);
        let requests: Vec<Attributes> = (0..20).map(|_| request(&mut g)).collect();
        let line = json!({"policy": text, "requests": requests.iter().map(request_json).collect::<Vec<_>>()});
        writeln!(input_text, "{line}").unwrap();
        inputs.push((text, requests));
    }
    let mut child = Command::new(&bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run policyref");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input_text));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    let answers: Vec<Value> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(answers.len(), inputs.len());
    let (mut refused, mut compared) = (0, 0);
    for ((text, requests), answer) in inputs.iter().zip(&answers) {
        let loaded = policy::load(text);
        let ours = loaded.findings.iter().find(|f| f.refused);
        match (answer.get("error").and_then(Value::as_str), ours) {
            (Some(_), Some(_)) => {
                refused += 1;
                continue;
            }
            (None, None) => {}
            (theirs, ours) => panic!(
                "policy:\n{text}\napiserver: {theirs:?}\nauditq: {ours:?}\nall findings: {:?}",
                loaded.findings
            ),
        }
        let p = loaded.policy.as_ref().expect("loaded");
        let results = answer["results"].as_array().unwrap();
        for (attrs, expected) in requests.iter().zip(results) {
            let d = policy::evaluate(p, attrs);
            let mut stages: Vec<&str> = d.omit_stages.iter().map(|s| s.as_str()).collect();
            stages.sort();
            let got = json!({"level": d.level.as_str(), "omitStages": stages, "omitManagedFields": d.omit_managed_fields});
            assert_eq!(&got, expected, "policy:\n{text}\nrequest: {attrs:?}");
            compared += 1;
        }
    }
    // The generator must exercise both sides.
    assert!(
        refused > cases / 20 && compared > cases * 10,
        "refused {refused}, compared {compared}"
    );
    eprintln!("{cases} policies: {refused} refused by both, {compared} requests compared");
}

/// The error text of the apiserver appears in lint's finding for typical refusals.
#[test]
fn lint_findings_carry_the_apiservers_error_text() {
    let bin = harness();
    let policies = [
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadta\n",
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  resources:\n  - group: apps/v1\n",
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  nonResourceURLs: [healthz]\n",
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n",
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  omitStages: [Done]\n",
    ];
    let input: String = policies
        .iter()
        .map(|p| format!("{}\n", json!({"policy": p, "requests": []})))
        .collect();
    let mut child = Command::new(&bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for (p, line) in policies.iter().zip(text.lines()) {
        let theirs: Value = serde_json::from_str(line).unwrap();
        let theirs = theirs["error"].as_str().unwrap();
        let ours = policy::load(p);
        let f = ours.findings.iter().find(|f| f.refused).unwrap();
        // Our message is the apiserver's field error ("rules[0].level: Unsupported value: …").
        let core = f.message.split(": ").take(2).collect::<Vec<_>>().join(": ");
        assert!(
            theirs.contains(&core),
            "apiserver: {theirs}\nauditq: {}",
            f.message
        );
    }
}
