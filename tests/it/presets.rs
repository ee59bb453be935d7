//! Presets (`@name`): every built-in run over the real corpus (`AUDITQ_CORPUS`, required)
//! and `testdata/sample.log` finds exactly the events an independent reading of the
//! Kubernetes semantics says (serde_json, written here without auditq), and named files
//! give the counts and auditIDs a reader of them expects; user presets from a TOML file.

use crate::common;

use common::{arg, cmd, corpus, temp_file, testdata};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `auditq ARGS` with no user presets file (so a developer's own file changes nothing).
fn run(args: &[&str]) -> common::Run {
    run_env(args, "")
}

/// `auditq ARGS` with `AUDITQ_PRESETS=presets`.
fn run_env(args: &[&str], presets: &str) -> common::Run {
    let out = cmd()
        .args(args)
        .env("AUDITQ_PRESETS", presets)
        .write_stdin(Vec::new())
        .output()
        .unwrap();
    common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stdout_bytes: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// JSON files of the corpus (lines or one document; not YAML, legacy text or excerpts).
fn corpus_json_files() -> Vec<PathBuf> {
    let files: Vec<PathBuf> = common::corpus_files()
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let json = name.ends_with(".json") || name.ends_with(".jsonl");
            let log =
                name.ends_with(".log") && !name.contains("legacy") && !name.contains("excerpt");
            json || log
        })
        .collect();
    assert!(
        files.len() >= 55,
        "corpus looks incomplete: {} JSON files",
        files.len()
    );
    files
}

// ------------------------------------------------------------ independent oracle

/// The audit events of a file: one JSON document for the whole file if it is one, else
/// one per line; Events, and the items of EventLists.
fn oracle_events(file: &Path) -> Vec<Value> {
    fn add(v: Value, out: &mut Vec<Value>) {
        match v["kind"].as_str() {
            Some("Event") => out.push(v),
            Some("EventList") => {
                if let Value::Array(items) = &v["items"] {
                    out.extend(items.iter().cloned());
                }
            }
            _ => common::envelope_events_in(&v, out),
        }
    }
    let text = String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned();
    let text = text.trim_start_matches('\u{feff}');
    let mut out = Vec::new();
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        add(v, &mut out);
        return out;
    }
    for line in text.lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line.trim_end_matches('\r')) {
            add(v, &mut out);
        }
    }
    out
}

fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| &v[*k])
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path).as_str()
}

fn verb_in(v: &Value, verbs: &[&str]) -> bool {
    text(v, &["verb"]).is_some_and(|verb| verbs.contains(&verb))
}

fn resource(v: &Value) -> Option<&str> {
    text(v, &["objectRef", "resource"])
}

fn subresource(v: &Value) -> Option<&str> {
    text(v, &["objectRef", "subresource"])
}

/// What each built-in preset means, from the Kubernetes API's semantics.
type Meaning = fn(&Value) -> bool;

const MEANINGS: &[(&str, Meaning)] = &[
    ("exec", |v| {
        // kubectl exec/attach/port-forward: POST (create), or GET from WebSocket clients.
        resource(v) == Some("pods")
            && matches!(subresource(v), Some("exec" | "attach" | "portforward"))
            && verb_in(v, &["create", "get"])
    }),
    ("secrets-read", |v| {
        resource(v) == Some("secrets")
            && verb_in(v, &["get", "list", "watch"])
            && !text(v, &["user", "username"]).is_some_and(|u| u.starts_with("system:"))
    }),
    ("rbac-changes", |v| {
        matches!(
            resource(v),
            Some("roles" | "clusterroles" | "rolebindings" | "clusterrolebindings")
        ) && verb_in(
            v,
            &["create", "update", "patch", "delete", "deletecollection"],
        )
    }),
    ("anonymous", |v| {
        text(v, &["user", "username"]) == Some("system:anonymous")
            || at(v, &["user", "groups"])
                .as_array()
                .is_some_and(|g| g.iter().any(|g| g == "system:unauthenticated"))
    }),
    ("forbidden", |v| {
        at(v, &["responseStatus", "code"]).as_f64() == Some(403.0)
    }),
    ("privileged-pods", |v| {
        if resource(v) != Some("pods") || !verb_in(v, &["create"]) {
            return false;
        }
        let spec = at(v, &["requestObject", "spec"]);
        let privileged = ["containers", "initContainers"].iter().any(|k| {
            spec[*k].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["securityContext"]["privileged"] == Value::Bool(true))
            })
        });
        let host = ["hostNetwork", "hostPID", "hostIPC"]
            .iter()
            .any(|k| spec[*k] == Value::Bool(true));
        let host_path = spec["volumes"]
            .as_array()
            .is_some_and(|vs| vs.iter().any(|v| v.get("hostPath").is_some()));
        privileged || host || host_path
    }),
    ("token-requests", |v| {
        resource(v) == Some("serviceaccounts")
            && subresource(v) == Some("token")
            && verb_in(v, &["create"])
    }),
    ("impersonation", |v| {
        !at(v, &["impersonatedUser", "username"]).is_null()
    }),
    ("deletions", |v| verb_in(v, &["delete", "deletecollection"])),
    ("csr-approvals", |v| {
        resource(v) == Some("certificatesigningrequests")
            && subresource(v) == Some("approval")
            && verb_in(v, &["update", "patch"])
    }),
    ("node-proxy", |v| {
        resource(v) == Some("nodes") && subresource(v) == Some("proxy")
    }),
];

/// The auditIDs (empty when missing) of the events auditq prints for `@preset`, in order.
fn tool_ids(preset: &str, file: &Path) -> Vec<String> {
    let query = format!("@{preset}");
    let r = run(&["-j1", "-o", "fields=auditid", &query, "--", &arg(file)]);
    r.assert_sane(&[0, 1]);
    r.stdout.lines().map(str::to_string).collect()
}

fn oracle_ids(meaning: Meaning, file: &Path) -> Vec<String> {
    oracle_events(file)
        .iter()
        .filter(|v| meaning(v))
        .map(|v| text(v, &["auditID"]).unwrap_or("").to_string())
        .collect()
}

// ------------------------------------------------------------ tests

#[test]
fn every_builtin_is_tested_here() {
    let r = run(&["--presets"]);
    let listed: Vec<&str> = r
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix('@'))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    let tested: Vec<&str> = MEANINGS.iter().map(|(n, _)| *n).collect();
    assert_eq!(listed, tested);
}

#[test]
fn builtins_find_what_the_oracle_finds_in_every_file() {
    let mut files = corpus_json_files();
    files.push(testdata("sample.log"));
    let mut found = vec![0usize; MEANINGS.len()];
    for file in &files {
        for (i, (preset, meaning)) in MEANINGS.iter().enumerate() {
            let want = oracle_ids(*meaning, file);
            assert_eq!(
                tool_ids(preset, file),
                want,
                "@{preset} on {}",
                file.display()
            );
            found[i] += want.len();
        }
    }
    // Every preset but csr-approvals (no approval in the corpus) finds something real.
    for ((preset, _), n) in MEANINGS.iter().zip(&found) {
        assert!(
            *n > 0 || *preset == "csr-approvals",
            "@{preset} found nothing"
        );
    }
}

/// What a reader of each file expects, counted by hand from the files (and their names).
#[test]
fn builtins_on_named_corpus_files() {
    let falco = |name: &str| format!("falcosecurity__falco/{name}.json");
    let cases: &[(&str, String, usize)] = &[
        // falco: one event per file, named after what it shows.
        ("exec", falco("exec_pod"), 1),
        ("exec", falco("attach_pod"), 1),
        ("exec", falco("create_cluster_role_pod_exec"), 0), // a role that allows exec is not an exec
        ("privileged-pods", falco("create_nginx_pod_privileged"), 1),
        (
            "privileged-pods",
            falco("create_nginx_pod_privileged_2nd_container"),
            1,
        ),
        (
            "privileged-pods",
            falco("create_nginx_pod_no_secctx_1st_container_privileged_2nd_container"),
            1,
        ),
        ("privileged-pods", falco("create_nginx_pod_hostnetwork"), 1),
        (
            "privileged-pods",
            falco("create_nginx_pod_sensitive_mount"),
            1,
        ),
        (
            "privileged-pods",
            falco("create_nginx_pod_sensitive_mount_2nd_container"),
            1,
        ),
        ("privileged-pods", falco("create_nginx_pod_unprivileged"), 0),
        (
            "privileged-pods",
            falco("create_nginx_pod_nohostnetwork"),
            0,
        ),
        (
            "privileged-pods",
            falco("create_nginx_pod_unsensitive_mount"),
            0,
        ),
        (
            "privileged-pods",
            falco("create_pod_kube_system_namespace"),
            0,
        ),
        ("rbac-changes", falco("create_clusterrole"), 1),
        ("rbac-changes", falco("create_clusterrolebinding"), 1),
        ("rbac-changes", falco("attach_cluster_admin_role"), 1),
        (
            "rbac-changes",
            falco("modify_cluster_role_node_problem_detector"),
            1,
        ),
        ("rbac-changes", falco("delete_clusterrolebinding"), 1),
        ("rbac-changes", falco("create_configmap"), 0),
        ("anonymous", falco("anonymous_creates_namespace_foo"), 1),
        ("anonymous", falco("some-user_creates_namespace_foo"), 0),
        ("deletions", falco("delete_secret"), 1),
        ("deletions", falco("delete_namespace_foo"), 1),
        ("deletions", falco("create_secret"), 0),
        ("secrets-read", falco("create_kube_system_secret"), 0),
        // audit2rbac's real v1beta1 log: RBAC setup, 403s, impersonation (SOURCES.md).
        (
            "rbac-changes",
            "liggitt__audit2rbac/at-501d132/demo.log".into(),
            364,
        ),
        (
            "forbidden",
            "liggitt__audit2rbac/at-501d132/demo.log".into(),
            11,
        ),
        (
            "impersonation",
            "liggitt__audit2rbac/at-501d132/demo.log".into(),
            37,
        ),
        (
            "deletions",
            "liggitt__audit2rbac/at-501d132/demo.log".into(),
            164,
        ),
        ("impersonation", "liggitt__audit2rbac/demo.log".into(), 37),
        ("forbidden", "liggitt__audit2rbac/demo.log".into(), 11),
        // OpenShift: the pods/exec that collected the log itself, 4×403 (SOURCES.md).
        (
            "exec",
            "openshift__cluster-logging-operator/audit_in.log".into(),
            1,
        ),
        (
            "forbidden",
            "openshift__cluster-logging-operator/audit_in.log".into(),
            4,
        ),
        (
            "anonymous",
            "openshift__cluster-logging-operator/raw_audit_oauth-apiserver.json".into(),
            1,
        ),
        // Panther's EKS test events: anonymous access, exec, token requests, CSRs.
        (
            "anonymous",
            "panther-labs__panther-analysis/eks_audit_test_logs.jsonl".into(),
            12,
        ),
        (
            "exec",
            "panther-labs__panther-analysis/eks_audit_test_logs.jsonl".into(),
            15,
        ),
        (
            "token-requests",
            "panther-labs__panther-analysis/eks_audit_test_logs.jsonl".into(),
            10,
        ),
        (
            "secrets-read",
            "panther-labs__panther-analysis/eks_audit_test_logs.jsonl".into(),
            13,
        ),
        (
            "privileged-pods",
            "panther-labs__panther-analysis/eks_audit_test_logs.jsonl".into(),
            13,
        ),
        (
            "forbidden",
            "panther-labs__panther-analysis/eks_audit_test_logs.jsonl".into(),
            37,
        ),
        (
            "rbac-changes",
            "panther-labs__panther-analysis/eks_audit_test_logs.jsonl".into(),
            38,
        ),
        // Creating or reading a CSR is no approval.
        (
            "csr-approvals",
            "panther-labs__panther-analysis/eks_audit_test_logs.jsonl".into(),
            0,
        ),
    ];
    for (preset, file, want) in cases {
        let path = corpus(file);
        let got = tool_ids(preset, &path).len();
        assert_eq!(got, *want, "@{preset} on {file}");
    }
    let ids = |preset: &str, file: &str| tool_ids(preset, &corpus(file));
    assert_eq!(
        ids("exec", &falco("exec_pod")),
        ["ca1ed9f4-7bf4-4c85-81a8-1b11253d1ba6"]
    );
    assert_eq!(
        ids("exec", &falco("attach_pod")),
        ["14933b4e-7b09-4964-af09-b7987367e1ba"]
    );
    assert_eq!(
        ids("exec", "openshift__cluster-logging-operator/audit_in.log"),
        ["9f18b792-8d7f-40ac-b5d4-24d6dc420946"]
    );
    assert_eq!(
        ids(
            "anonymous",
            "openshift__cluster-logging-operator/raw_audit_oauth-apiserver.json"
        ),
        ["cebbfb7d-eeb1-4b57-8726-97b4da435600"]
    );
    assert_eq!(
        ids(
            "rbac-changes",
            "openshift__cluster-logging-operator/audit_in.log"
        ),
        [
            "a2c86366-9635-477a-82f1-af580b8decb1",
            "6e537d79-307a-4eea-aed2-a18eaceb0dad"
        ]
    );
}

#[test]
fn builtins_on_the_sample_log() {
    let sample = testdata("sample.log");
    let count = |preset: &str| tool_ids(preset, &sample).len();
    for (preset, want) in [
        ("exec", 8),
        ("secrets-read", 10),
        ("rbac-changes", 2),
        ("anonymous", 262),
        ("forbidden", 9),
        ("privileged-pods", 43),
        ("token-requests", 53),
        ("impersonation", 5),
        ("deletions", 23),
        ("csr-approvals", 0),
        ("node-proxy", 17),
    ] {
        assert_eq!(count(preset), want, "@{preset}");
    }
    assert_eq!(
        tool_ids("exec", &sample),
        [
            "b3ba8dcc-7663-4e84-93b1-6a4bb132d38e",
            "c2c01c29-3ac2-4d50-af20-43e7c7fb69ca",
            "95ce0e37-8304-4bd1-8789-02448176ef7f",
            "015edc9a-6a99-452f-92b2-8b71d94611cb",
            "647eb549-3855-444a-9fbf-7c01768b8b5d",
            "c40cf597-f26e-495d-8409-2f1626b557d6",
            "6691fde0-5fb2-4d24-b946-61a0e5c935c8",
            "8df278ad-4eda-40df-b709-dd133b354f01",
        ]
    );
    assert_eq!(
        tool_ids("impersonation", &sample),
        [
            "9f355ffc-1c48-4d92-a6f7-9cd38691a578",
            "0bb07fcb-5c0c-4c99-b5cf-eb6dd75d28c8",
            "e746ba15-774f-49d5-a96d-c5293121bad0",
            "7b688fec-ed93-4fc3-aca3-7068d87f57ac",
            "b644f26c-4ff3-4696-a313-536dd04d225a",
        ]
    );
    assert_eq!(
        tool_ids("rbac-changes", &sample),
        [
            "dd7419e9-7a2f-4de5-8e86-12f789fc7ace",
            "40a80bc0-2634-403e-b359-469893a5be25"
        ]
    );
}

/// CSR approvals are in no corpus file: `kubectl certificate approve` and `deny` as the
/// API server records them (update on the approval subresource), next to what is not one.
#[test]
fn csr_approvals_on_recorded_shapes() {
    let event = |id: &str, verb: &str, sub: &str| {
        let sub = if sub.is_empty() {
            String::new()
        } else {
            format!(r#","subresource":"{sub}""#)
        };
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseComplete","requestURI":"/apis/certificates.k8s.io/v1/certificatesigningrequests/csr-x","verb":"{verb}","user":{{"username":"admin"}},"objectRef":{{"resource":"certificatesigningrequests","name":"csr-x","apiGroup":"certificates.k8s.io","apiVersion":"v1"{sub}}},"responseStatus":{{"code":200}}}}"#
        )
    };
    let lines = [
        event("approve", "update", "approval"),
        event("patch-approval", "patch", "approval"),
        event("create", "create", ""),
        event("status", "update", "status"),
        event("get", "get", "approval"),
    ];
    let (_dir, path) = temp_file("csr.log", (lines.join("\n") + "\n").as_bytes());
    assert_eq!(
        tool_ids("csr-approvals", &path),
        ["approve", "patch-approval"]
    );
    let meaning = MEANINGS
        .iter()
        .find(|(n, _)| *n == "csr-approvals")
        .unwrap()
        .1;
    assert_eq!(oracle_ids(meaning, &path), ["approve", "patch-approval"]);
}

#[test]
fn presets_combine_with_terms_and_each_other() {
    let sample = arg(&testdata("sample.log"));
    let c = |q: &[&str]| {
        let mut args = vec!["-c"];
        args.extend_from_slice(q);
        args.push(&sample);
        run(&args).stdout.trim().parse::<u64>().unwrap()
    };
    assert_eq!(
        c(&["@exec ns=prod"]),
        c(&["resource=pods/exec,pods/attach,pods/portforward verb=create,get ns=prod"])
    );
    assert_eq!(c(&["@secrets-read and not user=system:*"]), 10);
    assert_eq!(
        c(&["@forbidden or @deletions"]),
        c(&["code=403 or verb=delete,deletecollection"])
    );
    assert_eq!(c(&["not @anonymous"]), 4000 - 262);
    assert_eq!(c(&["@exec", "@forbidden"]), c(&["@exec @forbidden"]));
}

#[test]
fn unknown_preset_points_at_it() {
    let r = run(&["verb=get @exc", &arg(&testdata("sample.log"))]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "auditq: invalid query: unknown preset `@exc`\n  verb=get @exc\n           ^^^^\n  hint: did you mean `@exec`? (auditq --presets lists every preset)\n"
    );
}

#[test]
fn user_presets_from_a_file() {
    let toml = r#"
# team presets
[presets.team-a]
query = "ns=prod @deletions"
description = "what was deleted in prod"

[presets.forbidden]
query = "code=401,403"
description = "refused, by authentication or authorization"

[presets.busy]
query = "@team-a or @forbidden"
"#;
    let (_dir, file) = temp_file("presets.toml", toml.as_bytes());
    let file = arg(&file);
    let sample = arg(&testdata("sample.log"));
    let count = |q: &str| {
        let r = run_env(&["-c", q, &sample], &file);
        r.assert_sane(&[0, 1]);
        r.count()
    };
    assert_eq!(
        count("@team-a"),
        count("ns=prod verb=delete,deletecollection")
    );
    assert_eq!(count("@forbidden"), count("code=401,403"));
    assert_eq!(
        count("@busy"),
        count("(ns=prod verb=delete,deletecollection) or code=401,403")
    );
    let list = run_env(&["--presets"], &file);
    assert_eq!(list.code, 0);
    assert!(
        list.stdout.contains(&format!(
            "@forbidden  ({file}, replacing the built-in @forbidden)\n"
        )),
        "{}",
        list.stdout
    );
    assert!(list.stdout.contains(&format!(
        "@team-a  ({file})\n    what was deleted in prod\n    ns=prod @deletions\n"
    )));
    assert!(list.stdout.contains("@exec  (built-in)\n"));
    assert!(list.stdout.contains(&format!("User presets: {file}\n")));
}

#[test]
fn bad_preset_files_are_errors_naming_file_and_line() {
    let sample = arg(&testdata("sample.log"));
    let cases = [
        (
            "[presets.a]\nquery = \"verb=get\"\n\n[presets.b]\nquery = verb=get\n",
            5,
            "unexpected key or value",
        ),
        ("[presets.a]\nqeury = \"verb=get\"\n", 2, "qeury"),
        (
            "[presets.a]\nquery = \"usr=alice\"\n",
            2,
            "preset `a`: invalid query: unknown field `usr`",
        ),
        (
            "[presets.a]\nquery = \"@b\"\n[presets.b]\nquery = \"ns=x @a\"\n",
            2,
            "preset cycle: @a → @b → @a",
        ),
        (
            "[presets.\"a b\"]\nquery = \"verb=get\"\n",
            1,
            "invalid preset name `a b`",
        ),
    ];
    for (toml, line, text) in cases {
        let (_dir, file) = temp_file("presets.toml", toml.as_bytes());
        let file = arg(&file);
        let r = run_env(&["-c", "verb=get", &sample], &file);
        assert_eq!(r.code, 2, "{toml}");
        let prefix = format!("auditq: invalid presets file {file}:{line}: ");
        assert!(r.stderr.starts_with(&prefix), "{toml}\n{}", r.stderr);
        assert!(r.stderr.contains(text), "{toml}\n{}", r.stderr);
        assert!(r.stdout.is_empty());
    }
    let r = run_env(&["--presets"], "/nonexistent/presets.toml");
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("auditq: cannot read presets file /nonexistent/presets.toml: "),
        "{}",
        r.stderr
    );
}

#[test]
fn presets_file_in_the_config_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("auditq");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(
        config.join("presets.toml"),
        "[presets.mine]\nquery = \"verb=get\"\n",
    )
    .unwrap();
    let out = cmd()
        .args(["-c", "@mine", &arg(&testdata("sample.log"))])
        .env_remove("AUDITQ_PRESETS")
        .env("XDG_CONFIG_HOME", dir.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1467\n");
    // No file there: built-ins only, no error.
    let empty = tempfile::tempdir().unwrap();
    let out = cmd()
        .args(["-c", "@forbidden", &arg(&testdata("sample.log"))])
        .env_remove("AUDITQ_PRESETS")
        .env("XDG_CONFIG_HOME", empty.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "9\n");
}

#[test]
fn presets_flag_is_exclusive() {
    let r = run(&["--presets", "verb=get"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot be used with"), "{}", r.stderr);
}

/// docs/query.md's table of built-ins says what `--presets` says.
#[test]
fn docs_table_lists_every_builtin() {
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/query.md"))
        .unwrap();
    let list = run(&["--presets"]).stdout;
    let mut lines = list.lines();
    let mut checked = 0;
    while let Some(line) = lines.next() {
        let Some(name) = line.strip_suffix("  (built-in)") else {
            continue;
        };
        let description = lines.next().unwrap().trim();
        let query = lines.next().unwrap().trim();
        let row = format!("| `{name}` | `{query}` | {description} |");
        assert!(docs.contains(&row), "docs/query.md lacks the row\n{row}");
        checked += 1;
    }
    assert_eq!(checked, MEANINGS.len());
}
