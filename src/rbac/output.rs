//! Writing generated roles: YAML (what `kubectl apply -f` takes: one document per object,
//! the evidence of each rule as a comment above it, denied requests as comments after
//! the subject's objects) or one JSON document (objects, evidence and denials as data).

use super::generate::{Binding, Denied, Generated, Role, RoleKind, Rule};
use super::{Evidence, Subject, Target};
use crate::timefmt::format_nanos_exact;
use serde_json::{Map, Value, json};

const RBAC_API: &str = "rbac.authorization.k8s.io";

// ---------------------------------------------------------------- YAML text

/// Whether a string can be written as a plain YAML scalar that reads back as this same
/// string under YAML 1.1 and 1.2 (else it is double-quoted).
fn plain(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '/' || first == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/:@*+-".contains(c))
        && !s.ends_with(':')
        && !WORDS.contains(&s.to_ascii_lowercase().as_str())
}

/// A string as a YAML scalar: plain when that is safe, else double-quoted (a JSON
/// string is a valid YAML double-quoted scalar).
pub fn scalar(s: &str) -> String {
    if plain(s) {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
    }
}

fn leaf(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("null".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(scalar(s)),
        Value::Array(a) if a.is_empty() => Some("[]".into()),
        Value::Object(m) if m.is_empty() => Some("{}".into()),
        _ => None,
    }
}

fn write_after_key(out: &mut String, v: &Value, indent: usize) {
    match (leaf(v), v) {
        (Some(text), _) => {
            out.push(' ');
            out.push_str(&text);
            out.push('\n');
        }
        (None, Value::Array(items)) => {
            out.push('\n');
            write_seq(out, items, indent);
        }
        (None, Value::Object(m)) => {
            out.push('\n');
            write_map(out, m, indent + 2, false);
        }
        _ => out.push('\n'),
    }
}

/// A map in block style at `indent`; with `dash`, its first key follows a `- `.
pub fn write_map(out: &mut String, m: &Map<String, Value>, indent: usize, dash: bool) {
    write_entries(out, m.iter().map(|(k, v)| (k.as_str(), v)), indent, dash);
}

/// Map entries in this order, in block style (see [`write_map`]).
pub fn write_entries<'v>(
    out: &mut String,
    entries: impl Iterator<Item = (&'v str, &'v Value)>,
    indent: usize,
    dash: bool,
) {
    for (i, (k, v)) in entries.enumerate() {
        if i == 0 && dash {
            out.push_str(&" ".repeat(indent - 2));
            out.push_str("- ");
        } else {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&scalar(k));
        out.push(':');
        write_after_key(out, v, indent);
    }
}

/// A sequence in block style, its dashes at `indent`.
pub fn write_seq(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        match (leaf(item), item) {
            (Some(text), _) => {
                out.push_str(&" ".repeat(indent));
                out.push_str("- ");
                out.push_str(&text);
                out.push('\n');
            }
            (None, Value::Object(m)) => write_map(out, m, indent + 2, true),
            (None, Value::Array(inner)) => {
                out.push_str(&" ".repeat(indent));
                out.push_str("-\n");
                write_seq(out, inner, indent + 2);
            }
            _ => {}
        }
    }
}

/// Any JSON value as a YAML document body.
pub fn yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0, false),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        other => {
            out.push_str(&leaf(other).unwrap_or_default());
            out.push('\n');
        }
    }
    out
}

fn comment_text(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

// ---------------------------------------------------------------- objects

fn metadata(subject: &Subject, name: &str, namespace: Option<&str>) -> Value {
    let mut m = json!({
        "name": name,
        "labels": {
            "app.kubernetes.io/managed-by": "auditq",
            "rbac.auditq.io/subject-kind": subject.kind(),
        },
        "annotations": {"rbac.auditq.io/subject": subject.display_name()},
    });
    if let Some(ns) = namespace {
        m["namespace"] = json!(ns);
    }
    m
}

fn kind_name(kind: RoleKind) -> &'static str {
    match kind {
        RoleKind::ClusterRole => "ClusterRole",
        RoleKind::Role => "Role",
    }
}

/// A Role or ClusterRole without its rules.
fn role_head(subject: &Subject, role: &Role) -> Value {
    json!({
        "apiVersion": format!("{RBAC_API}/v1"),
        "kind": kind_name(role.kind),
        "metadata": metadata(subject, &role.name, role.namespace.as_deref()),
    })
}

fn rule_value(rule: &Rule) -> Value {
    serde_json::to_value(&rule.rule).unwrap_or(Value::Null)
}

pub fn role_object(subject: &Subject, role: &Role) -> Value {
    let mut v = role_head(subject, role);
    v["rules"] = Value::Array(role.rules.iter().map(rule_value).collect());
    v
}

pub fn subject_value(subject: &Subject) -> Value {
    match subject {
        Subject::User(n) => json!({"apiGroup": RBAC_API, "kind": "User", "name": n}),
        Subject::Group(n) => json!({"apiGroup": RBAC_API, "kind": "Group", "name": n}),
        Subject::ServiceAccount { namespace, name } => {
            json!({"kind": "ServiceAccount", "name": name, "namespace": namespace})
        }
    }
}

pub fn binding_object(subject: &Subject, b: &Binding) -> Value {
    json!({
        "apiVersion": format!("{RBAC_API}/v1"),
        "kind": if b.namespace.is_some() { "RoleBinding" } else { "ClusterRoleBinding" },
        "metadata": metadata(subject, &b.name, b.namespace.as_deref()),
        "roleRef": {"apiGroup": RBAC_API, "kind": kind_name(b.role_kind), "name": b.role_name},
        "subjects": [subject_value(subject)],
    })
}

// ---------------------------------------------------------------- evidence

/// `3 events, 2017-09-11T20:27:42Z to 2017-09-11T20:29:04Z; auditIDs a, b, c`.
pub fn evidence_text(e: &Evidence) -> String {
    let mut t = format!("{} event{}", e.events, if e.events == 1 { "" } else { "s" });
    match (e.first, e.last) {
        (Some(a), Some(b)) if a == b => t.push_str(&format!(" at {}", format_nanos_exact(a))),
        (Some(a), Some(b)) => t.push_str(&format!(
            ", {} to {}",
            format_nanos_exact(a),
            format_nanos_exact(b)
        )),
        _ => {}
    }
    if !e.samples.is_empty() {
        t.push_str(&format!(
            "; auditID{} {}",
            if e.samples.len() == 1 { "" } else { "s" },
            e.samples.join(", ")
        ));
    }
    comment_text(&t)
}

pub fn evidence_value(e: &Evidence) -> Value {
    json!({
        "events": e.events,
        "first": e.first.map(format_nanos_exact),
        "last": e.last.map(format_nanos_exact),
        "auditIDs": e.samples,
    })
}

/// `list pods in ns1`, `get configmaps "a" in ns1`, `list nodes at the cluster scope`,
/// `get deployments.apps …`, `get /metrics`.
pub fn describe(target: &Target, name: &str) -> String {
    if !target.resource_request {
        return format!("{} {}", target.verb, target.path);
    }
    let mut t = format!("{} {}", target.verb, target.resource);
    if !target.api_group.is_empty() {
        // pods/log in group g reads `pods/log.g`? keep the group apart for clarity.
        t.push_str(&format!(" (group {})", target.api_group));
    }
    if !name.is_empty() {
        t.push_str(&format!(
            " {}",
            serde_json::to_string(name).unwrap_or_default()
        ));
    }
    if target.namespace.is_empty() {
        t.push_str(" at the cluster scope");
    } else {
        t.push_str(&format!(" in {}", target.namespace));
    }
    comment_text(&t)
}

fn denied_value(d: &Denied) -> Value {
    let mut v = evidence_value(&d.evidence);
    v["verb"] = json!(d.target.verb);
    if d.target.resource_request {
        v["apiGroup"] = json!(d.target.api_group);
        v["resource"] = json!(d.target.resource);
        v["namespace"] = json!(d.target.namespace);
        v["name"] = json!(d.name);
    } else {
        v["nonResourceURL"] = json!(d.target.path);
    }
    v
}

fn object_ref(role: &Role) -> String {
    match &role.namespace {
        Some(ns) => format!("{}/{ns}/{}", kind_name(role.kind), role.name),
        None => format!("{}/{}", kind_name(role.kind), role.name),
    }
}

// ---------------------------------------------------------------- documents

/// One subject as YAML documents, evidence as comments.
pub fn write_yaml(g: &Generated, out: &mut String) {
    let s = &g.subject;
    out.push_str(&format!(
        "# auditq rbac: {} — {} allowed request{} ({} left to the default ClusterRoles), {} denied\n",
        comment_text(&s.to_string()),
        g.allowed.events,
        if g.allowed.events == 1 { "" } else { "s" },
        g.defaults.events,
        g.denied.iter().map(|d| d.evidence.events).sum::<u64>()
    ));
    for role in &g.roles {
        out.push_str("---\n");
        let head = role_head(s, role);
        if let Value::Object(m) = &head {
            write_map(out, m, 0, false);
        }
        if role.rules.is_empty() {
            out.push_str("rules: []\n");
            continue;
        }
        out.push_str("rules:\n");
        for rule in &role.rules {
            out.push_str("# ");
            out.push_str(&evidence_text(&rule.evidence));
            out.push('\n');
            if !rule.widened.is_empty() {
                out.push_str(&format!(
                    "# widened (--widen): {} not seen\n",
                    rule.widened.join(", ")
                ));
            }
            write_seq(out, &[rule_value(rule)], 0);
        }
    }
    for b in &g.bindings {
        out.push_str("---\n");
        if let Value::Object(m) = binding_object(s, b) {
            write_map(out, &m, 0, false);
        }
    }
    if !g.denied.is_empty() {
        out.push_str(&format!(
            "# denied (403) for {}, not granted above:\n",
            comment_text(&s.to_string())
        ));
        for d in &g.denied {
            out.push_str(&format!(
                "#   {}: {}\n",
                describe(&d.target, &d.name),
                evidence_text(&d.evidence)
            ));
        }
    }
}

/// One subject as JSON: its objects (ready for `kubectl apply`), the evidence of each
/// rule, and the denied requests.
pub fn subject_json(g: &Generated) -> Value {
    let s = &g.subject;
    let mut objects: Vec<Value> = g.roles.iter().map(|r| role_object(s, r)).collect();
    objects.extend(g.bindings.iter().map(|b| binding_object(s, b)));
    let mut evidence = Vec::new();
    for role in &g.roles {
        for (i, rule) in role.rules.iter().enumerate() {
            let mut e = evidence_value(&rule.evidence);
            e["object"] = json!(object_ref(role));
            e["rule"] = json!(i);
            if !rule.widened.is_empty() {
                e["widened"] = json!(rule.widened);
            }
            evidence.push(e);
        }
    }
    let mut subject = json!({"kind": s.kind(), "name": s.display_name()});
    if let Subject::ServiceAccount { namespace, name } = s {
        subject = json!({"kind": "ServiceAccount", "namespace": namespace, "name": name});
    }
    json!({
        "subject": subject,
        "allowed": evidence_value(&g.allowed),
        "leftToDefaultRoles": evidence_value(&g.defaults),
        "objects": objects,
        "evidence": evidence,
        "denied": g.denied.iter().map(denied_value).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_quote_what_yaml_would_read_otherwise() {
        for (s, want) in [
            ("pods", "pods"),
            ("", "\"\""),
            ("*", "\"*\""),
            ("/apis/*", "/apis/*"),
            ("yes", "\"yes\""),
            ("On", "\"On\""),
            ("123", "\"123\""),
            ("1:20", "\"1:20\""),
            ("auditq:user:bob", "auditq:user:bob"),
            ("a: b", "\"a: b\""),
            ("x#y", "\"x#y\""),
            ("ns:", "\"ns:\""),
            ("don't", "\"don't\""),
        ] {
            assert_eq!(scalar(s), want, "{s}");
        }
    }

    #[test]
    fn block_style_like_kubectl() {
        let v = json!({"kind": "Role", "rules": [{"apiGroups": [""], "verbs": ["get"]}], "metadata": {"name": "x", "labels": {}}});
        assert_eq!(
            yaml(&v),
            "kind: Role\nmetadata:\n  labels: {}\n  name: x\nrules:\n- apiGroups:\n  - \"\"\n  verbs:\n  - get\n"
        );
    }
}
