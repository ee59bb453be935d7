//! `auditq doctor`: the audit set-up of a kube-apiserver static pod manifest, checked
//! before the kubelet restarts it: the `--audit-*` flags, the policy file and log
//! directory mounted into the pod, rotation limits, the webhook configuration.

use super::load::{Finding, Severity, nearest};
use super::yaml::{self, Node, Pos, Scalar};
use std::path::{Component, Path, PathBuf};

/// Every `--audit-*` flag of kube-apiserver (`k8s.io/apiserver/pkg/server/options/audit.go`).
const AUDIT_FLAGS: &[&str] = &[
    "audit-policy-file",
    "audit-log-path",
    "audit-log-maxage",
    "audit-log-maxbackup",
    "audit-log-maxsize",
    "audit-log-format",
    "audit-log-compress",
    "audit-log-mode",
    "audit-log-version",
    "audit-log-batch-buffer-size",
    "audit-log-batch-max-size",
    "audit-log-batch-max-wait",
    "audit-log-batch-throttle-enable",
    "audit-log-batch-throttle-qps",
    "audit-log-batch-throttle-burst",
    "audit-log-truncate-enabled",
    "audit-log-truncate-max-batch-size",
    "audit-log-truncate-max-event-size",
    "audit-webhook-config-file",
    "audit-webhook-initial-backoff",
    "audit-webhook-mode",
    "audit-webhook-version",
    "audit-webhook-batch-buffer-size",
    "audit-webhook-batch-max-size",
    "audit-webhook-batch-max-wait",
    "audit-webhook-batch-throttle-enable",
    "audit-webhook-batch-throttle-qps",
    "audit-webhook-batch-throttle-burst",
    "audit-webhook-truncate-enabled",
    "audit-webhook-truncate-max-batch-size",
    "audit-webhook-truncate-max-event-size",
];

struct Flag {
    name: String,
    value: String,
    pos: Pos,
}

struct Mount {
    name: String,
    path: String,
    read_only: bool,
}

fn find<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    match node {
        Node::Map(entries, _) => entries
            .iter()
            .rev()
            .find(|(k, ..)| k == key)
            .map(|(.., v)| v),
        _ => None,
    }
}

fn text(node: Option<&Node>) -> Option<String> {
    match node? {
        Node::Scalar(Scalar::Str(s) | Scalar::Number(s), _) => Some(s.clone()),
        Node::Scalar(Scalar::Bool(b), _) => Some(b.to_string()),
        _ => None,
    }
}

fn items(node: Option<&Node>) -> &[Node] {
    match node {
        Some(Node::Seq(items, _)) => items,
        _ => &[],
    }
}

/// `path` lies at or under `dir` (both absolute, compared by components).
fn under(path: &str, dir: &str) -> Option<PathBuf> {
    Path::new(path)
        .strip_prefix(Path::new(dir))
        .ok()
        .map(Path::to_path_buf)
}

/// A host path read under `root`.
fn on_host(root: &Path, host: &Path) -> PathBuf {
    let rel: PathBuf = host
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect();
    root.join(rel)
}

fn finding(severity: Severity, pos: Pos, message: String, fix: impl Into<String>) -> Finding {
    Finding {
        pos,
        severity,
        message,
        fix: fix.into(),
        refused: severity == Severity::Error,
    }
}

/// The findings of the policy file that `--audit-policy-file` names, as `auditq policy
/// lint` gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyFindings {
    /// The file read: the hostPath under `--root`.
    pub host: PathBuf,
    /// The path inside the pod (the flag's value).
    pub pod: String,
    pub findings: Vec<Finding>,
}

/// One finding of the manifest; the one at `--audit-policy-file` that says the policy
/// has findings carries them.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub finding: Finding,
    pub policy: Option<PolicyFindings>,
}

/// What doctor found: the manifest's findings in line order, and notes (what the
/// settings mean, e.g. in disk use).
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub entries: Vec<Entry>,
    pub notes: Vec<String>,
}

/// Checks a manifest's text; host paths are read under `root`.
pub fn check(manifest: &str, root: &Path) -> Checked {
    let mut notes = Vec::new();
    let mut policy = None;
    let out = check_into(manifest, root, &mut notes, &mut policy);
    let mut entries: Vec<Entry> = out
        .into_iter()
        .enumerate()
        .map(|(i, finding)| Entry {
            finding,
            policy: if policy.as_ref().is_some_and(|(at, _)| *at == i) {
                policy.take().map(|(_, p)| p)
            } else {
                None
            },
        })
        .collect();
    entries.sort_by_key(|e| e.finding.pos);
    Checked { entries, notes }
}

fn check_into(
    manifest: &str,
    root: &Path,
    notes: &mut Vec<String>,
    policy: &mut Option<(usize, PolicyFindings)>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let start = Pos { line: 1, col: 1 };
    let doc = match yaml::parse(manifest) {
        Ok(Some(doc)) => doc,
        Ok(None) => {
            out.push(finding(
                Severity::Error,
                start,
                "the manifest is empty".into(),
                "",
            ));
            return out;
        }
        Err(e) => {
            out.push(finding(Severity::Error, e.pos, e.message, ""));
            return out;
        }
    };
    let Some(spec) = find(&doc, "spec") else {
        out.push(finding(
            Severity::Error,
            start,
            "no `spec`: not a Pod manifest".into(),
            "",
        ));
        return out;
    };
    let container = items(find(spec, "containers")).iter().find(|c| {
        text(find(c, "name")).as_deref() == Some("kube-apiserver")
            || items(find(c, "command"))
                .iter()
                .any(|a| text(Some(a)).is_some_and(|t| t.ends_with("kube-apiserver")))
    });
    let Some(container) = container else {
        out.push(finding(
            Severity::Error,
            spec.pos(),
            "no kube-apiserver container in spec.containers".into(),
            "",
        ));
        return out;
    };
    // Flags, from command and args.
    let mut flags: Vec<Flag> = Vec::new();
    for list in ["command", "args"] {
        let args = items(find(container, list));
        let mut i = 0;
        while i < args.len() {
            let pos = args[i].pos();
            let arg = text(Some(&args[i])).unwrap_or_default();
            i += 1;
            let Some(flag) = arg.strip_prefix("--") else {
                continue;
            };
            let (name, value) = match flag.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => {
                    let next = args
                        .get(i)
                        .and_then(|n| text(Some(n)))
                        .filter(|v| !v.starts_with("--"));
                    if next.is_some() {
                        i += 1;
                    }
                    (flag.to_string(), next.unwrap_or_default())
                }
            };
            flags.push(Flag { name, value, pos });
        }
    }
    let audit: Vec<&Flag> = flags
        .iter()
        .filter(|f| f.name.starts_with("audit"))
        .collect();
    for (i, f) in audit.iter().enumerate() {
        if !AUDIT_FLAGS.contains(&f.name.as_str()) {
            out.push(finding(
                Severity::Error,
                f.pos,
                format!(
                    "unknown flag --{}: kube-apiserver exits at start on an unknown flag",
                    f.name
                ),
                match nearest(&f.name, AUDIT_FLAGS) {
                    Some(n) => format!("write --{n}={}", f.value),
                    None => "remove it".into(),
                },
            ));
        }
        if let Some(first) = audit[..i].iter().find(|g| g.name == f.name) {
            out.push(finding(
                Severity::Error,
                f.pos,
                format!(
                    "--{} is given twice (first at line {}): the last one wins, silently",
                    f.name, first.pos.line
                ),
                "keep one",
            ));
        }
    }
    let get = |name: &str| audit.iter().rev().find(|f| f.name == name).copied();
    for name in [
        "audit-log-maxage",
        "audit-log-maxbackup",
        "audit-log-maxsize",
    ] {
        if let Some(f) = get(name)
            && f.value.parse::<u64>().is_err()
        {
            out.push(finding(
                Severity::Error,
                f.pos,
                format!("--{name}={}: not a whole number", f.value),
                format!("write --{name}=N"),
            ));
        }
    }
    for (name, allowed) in [
        ("audit-log-format", &["json", "legacy"][..]),
        (
            "audit-log-mode",
            &["batch", "blocking", "blocking-strict"][..],
        ),
        (
            "audit-webhook-mode",
            &["batch", "blocking", "blocking-strict"][..],
        ),
        ("audit-log-compress", &["true", "false"][..]),
        ("audit-log-truncate-enabled", &["true", "false"][..]),
    ] {
        if let Some(f) = get(name)
            && !allowed.contains(&f.value.as_str())
        {
            out.push(finding(
                Severity::Error,
                f.pos,
                format!(
                    "--{name}={}: must be one of {}",
                    f.value,
                    allowed.join(", ")
                ),
                format!("write --{name}={}", allowed[0]),
            ));
        }
    }
    if get("audit-log-format").is_some_and(|f| f.value == "legacy") {
        let f = get("audit-log-format").unwrap();
        out.push(finding(
            Severity::Warning,
            f.pos,
            "--audit-log-format=legacy writes text lines that most tools cannot read back".into(),
            "write --audit-log-format=json",
        ));
    }
    // Mounts and volumes.
    let mounts: Vec<Mount> = items(find(container, "volumeMounts"))
        .iter()
        .filter_map(|m| {
            Some(Mount {
                name: text(find(m, "name"))?,
                path: text(find(m, "mountPath"))?,
                read_only: text(find(m, "readOnly")).as_deref() == Some("true"),
            })
        })
        .collect();
    let volumes: Vec<(String, String)> = items(find(spec, "volumes"))
        .iter()
        .filter_map(|v| {
            Some((
                text(find(v, "name"))?,
                text(find(find(v, "hostPath")?, "path"))?,
            ))
        })
        .collect();
    let mounts_pos = find(container, "volumeMounts")
        .map(Node::pos)
        .unwrap_or(container.pos());
    // The host path of a path inside the pod, or a finding saying why there is none.
    let resolve = |path: &str,
                   what: &str,
                   pos: Pos,
                   want_rw: bool,
                   out: &mut Vec<Finding>|
     -> Option<PathBuf> {
        let best = mounts
            .iter()
            .filter_map(|m| under(path, &m.path).map(|rest| (m, rest)))
            .max_by_key(|(m, _)| m.path.len());
        let Some((m, rest)) = best else {
            let dir = if want_rw {
                Path::new(path).parent().unwrap_or(Path::new("/"))
            } else {
                Path::new(path)
            };
            out.push(finding(
                Severity::Error,
                pos,
                format!("{what} {path} is not inside any volumeMount of the kube-apiserver container: the apiserver cannot {} it and exits (the static pod disappears)", if want_rw { "write" } else { "read" }),
                format!(
                    "add under volumeMounts (line {}):\n      - mountPath: {}\n        name: audit{}\n    and under spec.volumes:\n      - hostPath:\n          path: {}\n          type: {}\n        name: audit{}",
                    mounts_pos.line,
                    dir.display(),
                    if want_rw { "-log" } else { "-policy" },
                    dir.display(),
                    if want_rw { "DirectoryOrCreate" } else { "File" },
                    if want_rw { "-log" } else { "-policy" },
                ),
            ));
            return None;
        };
        if want_rw && m.read_only {
            out.push(finding(Severity::Error, pos, format!("{what} {path} is in volumeMount `{}` ({}), which is readOnly: the apiserver cannot write the log", m.name, m.path), format!("set `readOnly: false` on the mount `{}` (or remove readOnly)", m.name)));
        }
        let Some((_, host)) = volumes.iter().find(|(n, _)| *n == m.name) else {
            out.push(finding(Severity::Error, pos, format!("volumeMount `{}` has no hostPath volume of that name in spec.volumes: the pod is not created", m.name), format!("add to spec.volumes:\n      - hostPath:\n          path: {}\n        name: {}", m.path, m.name)));
            return None;
        };
        Some(if rest.as_os_str().is_empty() {
            PathBuf::from(host)
        } else {
            Path::new(host).join(rest)
        })
    };
    let log_path = get("audit-log-path");
    let webhook = get("audit-webhook-config-file");
    match get("audit-policy-file") {
        None if log_path.is_some() || webhook.is_some() => {
            let f = log_path.or(webhook).unwrap();
            out.push(finding(
                Severity::Error,
                f.pos,
                "an audit backend without --audit-policy-file: kube-apiserver logs nothing".into(),
                "add --audit-policy-file=/etc/kubernetes/audit-policy.yaml (and mount it)",
            ));
        }
        None => {
            out.push(finding(
                Severity::Warning,
                container.pos(),
                "auditing is off: no --audit-policy-file, no --audit-log-path".into(),
                "add --audit-policy-file=… and --audit-log-path=…, with their volumes",
            ));
        }
        Some(f) => {
            if let Some(host) = resolve(&f.value, "the policy file", f.pos, false, &mut out) {
                let file = on_host(root, &host);
                match std::fs::read_to_string(&file) {
                    Err(e) => out.push(finding(
                        Severity::Error,
                        f.pos,
                        format!(
                            "the policy file is {} on the host, which cannot be read: {e}",
                            host.display()
                        ),
                        "create it (auditq policy lint checks it)",
                    )),
                    Ok(text) => {
                        let loaded = super::lint_text(&text);
                        let errors = loaded
                            .findings
                            .iter()
                            .filter(|x| x.severity == Severity::Error)
                            .count();
                        let warnings = loaded.findings.len() - errors;
                        if loaded.policy.is_none() {
                            out.push(finding(
                                Severity::Error,
                                f.pos,
                                format!(
                                    "the policy {} would not load: {} (its findings follow)",
                                    host.display(),
                                    loaded
                                        .findings
                                        .iter()
                                        .find(|x| x.refused)
                                        .map(|x| x.message.as_str())
                                        .unwrap_or(""),
                                ),
                                "fix the policy first",
                            ));
                        } else if errors + warnings > 0 {
                            // As lint says it: a lint error is an error here too (the
                            // apiserver may load such a policy, but not as written).
                            let severity = if errors > 0 {
                                Severity::Error
                            } else {
                                Severity::Warning
                            };
                            out.push(finding(
                                severity,
                                f.pos,
                                format!(
                                    "the policy {} loads, with {errors} error(s) and {warnings} warning(s) from auditq policy lint (they follow)",
                                    host.display()
                                ),
                                "fix the policy's findings below",
                            ));
                        }
                        if !loaded.findings.is_empty() {
                            *policy = Some((
                                out.len() - 1,
                                PolicyFindings {
                                    host: file,
                                    pod: f.value.clone(),
                                    findings: loaded.findings,
                                },
                            ));
                        }
                    }
                }
            }
        }
    }
    if let Some(f) = log_path
        && f.value != "-"
    {
        resolve(&f.value, "the log file", f.pos, true, &mut out);
        let n = |name: &str| {
            get(name)
                .and_then(|f| f.value.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let (age, backups, size) = (
            n("audit-log-maxage"),
            n("audit-log-maxbackup"),
            n("audit-log-maxsize"),
        );
        if backups == 0 && age == 0 {
            out.push(finding(Severity::Warning, get("audit-log-maxbackup").map_or(f.pos, |g| g.pos), "--audit-log-maxbackup and --audit-log-maxage are 0 or unset: every rotated file is kept, and the disk fills".into(), "add --audit-log-maxbackup=10 (and --audit-log-maxage=7)"));
        }
        if size == 0 {
            out.push(finding(Severity::Warning, f.pos, "--audit-log-maxsize is 0 or unset: the log is never rotated by size and grows without bound".into(), "add --audit-log-maxsize=100 (MB)"));
        } else if backups > 0 {
            notes.push(format!(
                "the audit log takes up to {} MB on the node ({size} MB × ({backups} backups + 1){}){}",
                size * (backups + 1),
                if get("audit-log-compress").is_some_and(|c| c.value == "true") { ", less with compression" } else { "" },
                if age > 0 { format!("; backups older than {age} days are removed") } else { String::new() }
            ));
        }
    }
    if let Some(f) = webhook
        && let Some(host) = resolve(
            &f.value,
            "the webhook configuration",
            f.pos,
            false,
            &mut out,
        )
    {
        let file = on_host(root, &host);
        match std::fs::read_to_string(&file) {
            Err(e) => out.push(finding(
                Severity::Error,
                f.pos,
                format!(
                    "the webhook configuration {} cannot be read: {e}",
                    host.display()
                ),
                "create it: a kubeconfig whose cluster has a server URL",
            )),
            Ok(text) => {
                let server = yaml::parse(&text)
                    .ok()
                    .flatten()
                    .and_then(|k| items(find(&k, "clusters")).iter().find_map(text_of_server));
                if server.is_none() {
                    out.push(finding(Severity::Error, f.pos, format!("the webhook configuration {} is not a kubeconfig with clusters[].cluster.server", host.display()), "write a kubeconfig: clusters: [{name: audit, cluster: {server: https://…}}], users, contexts, current-context"));
                }
            }
        }
    }
    out
}

fn text_of_server(cluster: &Node) -> Option<String> {
    text(find(find(cluster, "cluster")?, "server")).filter(|s| s.starts_with("http"))
}
