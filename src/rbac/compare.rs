//! `--compare RBAC.yaml`: the RBAC a cluster has (what `kubectl get clusterroles,
//! clusterrolebindings,roles,rolebindings -A -o yaml` writes: a `List`, or YAML documents,
//! or JSON), held against what each subject did: the granted rules it used, those it
//! never used (the sensitive ones named), allowed requests no binding explains, and its
//! denied requests.
//!
//! Bindings apply as the RBAC authorizer applies them (`appliesTo`: a User by name, a
//! Group by the groups the subject's requests carried, a ServiceAccount by namespace —
//! the binding's own when the subject names none — and name); aggregated ClusterRoles get
//! the rules of every ClusterRole their selectors match, to a fixed point, as the
//! aggregation controller does.

use super::generate::Denied;
use super::output::{describe, evidence_value};
use super::rules::{Access, PolicyRule, allows, sensitive};
use super::{Evidence, Subject, SubjectLog, Target};
use crate::policy::yaml::{self, Node, Scalar};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Why an RBAC file cannot be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RbacFileError {
    #[error("line {line}, column {col}: {message}")]
    Yaml {
        line: usize,
        col: usize,
        message: String,
    },
    #[error("{what}")]
    Shape { what: String },
}

fn node_value(node: &Node) -> Value {
    match node {
        Node::Scalar(Scalar::Null, _) => Value::Null,
        Node::Scalar(Scalar::Bool(b), _) => Value::Bool(*b),
        Node::Scalar(Scalar::Number(n), _) => n
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| n.parse::<f64>().ok().map(Value::from))
            .unwrap_or_else(|| Value::String(n.clone())),
        Node::Scalar(Scalar::Str(s), _) => Value::String(s.clone()),
        Node::Seq(items, _) => Value::Array(items.iter().map(node_value).collect()),
        Node::Map(entries, _) => Value::Object(
            entries
                .iter()
                .map(|(k, _, v)| (k.clone(), node_value(v)))
                .collect(),
        ),
    }
}

/// The YAML documents of `text` (separated by `---` lines) as JSON values.
pub fn documents(text: &str) -> Result<Vec<Value>, RbacFileError> {
    let mut docs = Vec::new();
    let mut start_line = 0;
    let mut current = String::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut flush = |current: &mut String, start_line: usize| -> Result<(), RbacFileError> {
        match yaml::parse(current) {
            Ok(Some(node)) => docs.push(node_value(&node)),
            Ok(None) => {}
            Err(e) => {
                return Err(RbacFileError::Yaml {
                    line: e.pos.line + start_line,
                    col: e.pos.col,
                    message: e.message,
                });
            }
        }
        current.clear();
        Ok(())
    };
    for (i, line) in lines.iter().enumerate() {
        if *line == "---" || line.starts_with("--- ") || *line == "..." {
            flush(&mut current, start_line)?;
            start_line = i + 1;
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    flush(&mut current, start_line)?;
    Ok(docs)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn rule_of(v: &Value) -> PolicyRule {
    PolicyRule {
        verbs: strings(&v["verbs"]),
        api_groups: strings(&v["apiGroups"]),
        resources: strings(&v["resources"]),
        resource_names: strings(&v["resourceNames"]),
        non_resource_urls: strings(&v["nonResourceURLs"]),
    }
}

/// A label selector (`matchLabels`, `matchExpressions`).
#[derive(Debug, Clone, Default)]
struct Selector {
    labels: BTreeMap<String, String>,
    expressions: Vec<(String, String, Vec<String>)>,
}

impl Selector {
    fn of(v: &Value) -> Selector {
        Selector {
            labels: v["matchLabels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
            expressions: v["matchExpressions"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|e| {
                            (
                                e["key"].as_str().unwrap_or("").to_string(),
                                e["operator"].as_str().unwrap_or("").to_string(),
                                strings(&e["values"]),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// `metav1.LabelSelectorAsSelector(...).Matches(labels)`; an empty selector matches
    /// everything, an unknown operator nothing.
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|(k, op, values)| {
                let value = labels.get(k);
                match op.as_str() {
                    "In" => value.is_some_and(|v| values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !values.contains(v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }
}

#[derive(Debug, Clone, Default)]
struct RoleDef {
    labels: BTreeMap<String, String>,
    rules: Vec<PolicyRule>,
    selectors: Vec<Selector>,
}

#[derive(Debug, Clone)]
struct SubjectRef {
    kind: String,
    name: String,
    namespace: String,
}

#[derive(Debug, Clone)]
struct BindingDef {
    name: String,
    /// `None`: a ClusterRoleBinding.
    namespace: Option<String>,
    role_kind: String,
    role_name: String,
    subjects: Vec<SubjectRef>,
}

/// The RBAC objects of a cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterRbac {
    cluster_roles: BTreeMap<String, RoleDef>,
    roles: BTreeMap<(String, String), Vec<PolicyRule>>,
    bindings: Vec<BindingDef>,
}

impl ClusterRbac {
    /// Reads the objects of `text`; other kinds are skipped.
    pub fn parse(text: &str) -> Result<ClusterRbac, RbacFileError> {
        let mut rbac = ClusterRbac::default();
        let mut items = Vec::new();
        for doc in documents(text)? {
            match doc.get("items").and_then(Value::as_array) {
                Some(list) => items.extend(list.iter().cloned()),
                None => items.push(doc),
            }
        }
        for item in &items {
            let meta = &item["metadata"];
            let name = meta["name"].as_str().unwrap_or("").to_string();
            let namespace = meta["namespace"].as_str().unwrap_or("").to_string();
            match item["kind"].as_str().unwrap_or("") {
                "ClusterRole" => {
                    let def = RoleDef {
                        labels: meta["labels"]
                            .as_object()
                            .map(|m| {
                                m.iter()
                                    .filter_map(|(k, v)| {
                                        v.as_str().map(|s| (k.clone(), s.to_string()))
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                        rules: item["rules"]
                            .as_array()
                            .map(|a| a.iter().map(rule_of).collect())
                            .unwrap_or_default(),
                        selectors: item["aggregationRule"]["clusterRoleSelectors"]
                            .as_array()
                            .map(|a| a.iter().map(Selector::of).collect())
                            .unwrap_or_default(),
                    };
                    rbac.cluster_roles.insert(name, def);
                }
                "Role" => {
                    rbac.roles.insert(
                        (namespace, name),
                        item["rules"]
                            .as_array()
                            .map(|a| a.iter().map(rule_of).collect())
                            .unwrap_or_default(),
                    );
                }
                kind @ ("ClusterRoleBinding" | "RoleBinding") => {
                    rbac.bindings.push(BindingDef {
                        name,
                        namespace: (kind == "RoleBinding").then_some(namespace),
                        role_kind: item["roleRef"]["kind"].as_str().unwrap_or("").into(),
                        role_name: item["roleRef"]["name"].as_str().unwrap_or("").into(),
                        subjects: item["subjects"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .map(|s| SubjectRef {
                                        kind: s["kind"].as_str().unwrap_or("").into(),
                                        name: s["name"].as_str().unwrap_or("").into(),
                                        namespace: s["namespace"].as_str().unwrap_or("").into(),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    });
                }
                _ => {}
            }
        }
        if rbac.cluster_roles.is_empty() && rbac.roles.is_empty() && rbac.bindings.is_empty() {
            return Err(RbacFileError::Shape {
                what: "no Role, ClusterRole, RoleBinding or ClusterRoleBinding in it (give what `kubectl get clusterroles,clusterrolebindings,roles,rolebindings -A -o yaml` writes)".into(),
            });
        }
        rbac.aggregate();
        Ok(rbac)
    }

    /// Aggregated ClusterRoles get the rules of the ClusterRoles their selectors match,
    /// until nothing changes (an aggregate may aggregate another).
    fn aggregate(&mut self) {
        for _ in 0..16 {
            let mut changed = false;
            let names: Vec<String> = self.cluster_roles.keys().cloned().collect();
            for name in &names {
                let selectors = self.cluster_roles[name].selectors.clone();
                if selectors.is_empty() {
                    continue;
                }
                let mut add = Vec::new();
                for (other, def) in &self.cluster_roles {
                    if other != name && selectors.iter().any(|s| s.matches(&def.labels)) {
                        add.extend(def.rules.iter().cloned());
                    }
                }
                let role = self.cluster_roles.get_mut(name).expect("known name");
                for r in add {
                    if !role.rules.contains(&r) {
                        role.rules.push(r);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// The rules of a binding's role (none if the role does not exist).
    fn role_rules(&self, b: &BindingDef) -> Vec<PolicyRule> {
        match (b.role_kind.as_str(), &b.namespace) {
            ("ClusterRole", _) => self
                .cluster_roles
                .get(&b.role_name)
                .map(|r| r.rules.clone())
                .unwrap_or_default(),
            ("Role", Some(ns)) => self
                .roles
                .get(&(ns.clone(), b.role_name.clone()))
                .cloned()
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

/// Whether binding subject `s` is `subject` (with `groups`), in a binding of `namespace`.
fn applies(
    s: &SubjectRef,
    binding_ns: Option<&str>,
    subject: &Subject,
    groups: &BTreeSet<String>,
) -> bool {
    match s.kind.as_str() {
        "User" => subject.username().is_some_and(|u| u == s.name),
        "Group" => match subject {
            Subject::Group(g) => *g == s.name,
            _ => groups.contains(&s.name),
        },
        "ServiceAccount" => {
            let ns = if s.namespace.is_empty() {
                binding_ns.unwrap_or("")
            } else {
                &s.namespace
            };
            !ns.is_empty()
                && subject
                    .username()
                    .is_some_and(|u| u == format!("system:serviceaccount:{ns}:{}", s.name))
        }
        _ => false,
    }
}

/// One granted rule of a subject, and the requests it allowed.
#[derive(Debug, Clone)]
pub struct Grant {
    /// `ClusterRoleBinding/NAME` or `RoleBinding/NS/NAME`.
    pub binding: String,
    /// `ClusterRole/NAME` or `Role/NS/NAME`.
    pub role: String,
    /// Where it applies: `None` cluster-wide.
    pub namespace: Option<String>,
    pub rule: PolicyRule,
    pub used: Evidence,
}

impl Grant {
    fn covers(&self, target: &Target, access: &Access) -> bool {
        let in_scope = match &self.namespace {
            None => true,
            Some(ns) => target.resource_request && target.namespace == *ns,
        };
        in_scope && allows(&self.rule, access)
    }
}

/// One subject held against the cluster's RBAC.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub subject: Subject,
    pub grants: Vec<Grant>,
    /// Allowed requests no grant allows (system:masters, another authorizer, or RBAC
    /// changed since); those the default ClusterRoles allow are not listed.
    pub unexplained: Vec<(Target, String, Evidence)>,
    pub denied: Vec<Denied>,
}

/// The accesses a target stands for: each name it was used with, and no name.
fn accesses(target: &Target, names: &[String], unnamed: bool) -> Vec<Access> {
    let base = target.access();
    let mut out: Vec<Access> = names
        .iter()
        .map(|n| Access {
            name: n.clone(),
            ..base.clone()
        })
        .collect();
    if unnamed || out.is_empty() {
        out.push(base);
    }
    out
}

/// Compares one subject's log with the cluster's RBAC.
pub fn compare(
    rbac: &ClusterRbac,
    subject: &Subject,
    log: &SubjectLog,
    denied: Vec<Denied>,
) -> Comparison {
    let mut grants = Vec::new();
    for b in &rbac.bindings {
        if !b
            .subjects
            .iter()
            .any(|s| applies(s, b.namespace.as_deref(), subject, &log.groups))
        {
            continue;
        }
        let binding = match &b.namespace {
            Some(ns) => format!("RoleBinding/{ns}/{}", b.name),
            None => format!("ClusterRoleBinding/{}", b.name),
        };
        let role = match (&b.namespace, b.role_kind.as_str()) {
            (Some(ns), "Role") => format!("Role/{ns}/{}", b.role_name),
            (_, kind) => format!("{kind}/{}", b.role_name),
        };
        for rule in rbac.role_rules(b) {
            grants.push(Grant {
                binding: binding.clone(),
                role: role.clone(),
                namespace: b.namespace.clone(),
                rule,
                used: Evidence::default(),
            });
        }
    }
    let defaults = super::rules::default_rules();
    let mut unexplained = Vec::new();
    for (target, usage) in &log.allowed {
        // The default ClusterRoles (bound to system:authenticated by every apiserver).
        let mut explained = accesses(target, &[], true)
            .iter()
            .any(|a| defaults.iter().any(|r| allows(r, a)));
        for access in accesses(target, &usage.names_seen, usage.unnamed) {
            let mut this = false;
            for g in grants.iter_mut() {
                if g.covers(target, &access) {
                    g.used.merge(&usage.evidence);
                    this = true;
                }
            }
            explained |= this;
        }
        if !explained {
            let name = match &usage.names {
                super::Names::One(n) => n.clone(),
                super::Names::Any => String::new(),
            };
            unexplained.push((target.clone(), name, usage.evidence.clone()));
        }
    }
    Comparison {
        subject: subject.clone(),
        grants,
        unexplained,
        denied,
    }
}

fn grant_value(g: &Grant) -> Value {
    let mut v = json!({
        "binding": g.binding,
        "role": g.role,
        "scope": g.namespace.clone().unwrap_or_else(|| "cluster".into()),
        "rule": serde_json::to_value(&g.rule).unwrap_or(Value::Null),
    });
    if g.used.events > 0 {
        v["evidence"] = evidence_value(&g.used);
    } else {
        let why = sensitive(&g.rule);
        if !why.is_empty() {
            v["sensitive"] = json!(why);
        }
    }
    v
}

/// The report of one subject, its entries in reading order (JSON sorts them).
pub fn report(c: &Comparison) -> Vec<(&'static str, Value)> {
    let used: Vec<&Grant> = c.grants.iter().filter(|g| g.used.events > 0).collect();
    let unused: Vec<&Grant> = c.grants.iter().filter(|g| g.used.events == 0).collect();
    let score = if c.grants.is_empty() {
        Value::Null
    } else {
        json!(((used.len() as f64 / c.grants.len() as f64) * 1000.0).round() / 1000.0)
    };
    let request = |t: &Target, n: &str, e: &Evidence| {
        let mut v = json!({"request": describe(t, n)});
        if let (Value::Object(m), Value::Object(e)) = (&mut v, evidence_value(e)) {
            m.extend(e);
        }
        v
    };
    vec![
        (
            "subject",
            json!({"kind": c.subject.kind(), "name": c.subject.display_name()}),
        ),
        ("granted", json!(c.grants.len())),
        ("used", json!(used.len())),
        ("usageScore", score),
        (
            "sensitiveUnused",
            json!(
                unused
                    .iter()
                    .filter(|g| !sensitive(&g.rule).is_empty())
                    .count()
            ),
        ),
        (
            "rulesNeverUsed",
            json!(unused.iter().map(|g| grant_value(g)).collect::<Vec<_>>()),
        ),
        (
            "rulesUsed",
            json!(used.iter().map(|g| grant_value(g)).collect::<Vec<_>>()),
        ),
        (
            "allowedNotExplained",
            json!(
                c.unexplained
                    .iter()
                    .map(|(t, n, e)| request(t, n, e))
                    .collect::<Vec<_>>()
            ),
        ),
        (
            "denied",
            json!(
                c.denied
                    .iter()
                    .map(|d| request(&d.target, &d.name, &d.evidence))
                    .collect::<Vec<_>>()
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const RBAC: &str = "apiVersion: v1
kind: List
items:
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata:
    name: view
    labels:
      rbac.authorization.k8s.io/aggregate-to-edit: \"true\"
  rules:
  - apiGroups: [\"\"]
    resources: [pods]
    verbs: [get, list]
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata:
    name: edit
  aggregationRule:
    clusterRoleSelectors:
    - matchLabels:
        rbac.authorization.k8s.io/aggregate-to-edit: \"true\"
  rules: []
- apiVersion: rbac.authorization.k8s.io/v1
  kind: Role
  metadata: {name: secrets, namespace: ns1}
  rules:
  - apiGroups: [\"\"]
    resources: [secrets]
    verbs: [get]
- apiVersion: rbac.authorization.k8s.io/v1
  kind: RoleBinding
  metadata: {name: b, namespace: ns1}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
  subjects:
  - {kind: ServiceAccount, name: sa1}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: RoleBinding
  metadata: {name: s, namespace: ns1}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: secrets}
  subjects:
  - {kind: Group, name: system:serviceaccounts}
";

    #[test]
    fn aggregation_bindings_and_usage() {
        let rbac = ClusterRbac::parse(RBAC).unwrap();
        assert_eq!(rbac.cluster_roles["edit"].rules.len(), 1);
        let subject = Subject::from_username("system:serviceaccount:ns1:sa1");
        let mut log = SubjectLog::default();
        log.groups.insert("system:serviceaccounts".into());
        let target = Target {
            verb: "list".into(),
            resource_request: true,
            api_group: String::new(),
            resource: "pods".into(),
            namespace: "ns1".into(),
            path: String::new(),
        };
        log.allowed.insert(
            target.clone(),
            super::super::Usage {
                names: super::super::Names::Any,
                names_seen: vec![],
                unnamed: true,
                evidence: Evidence {
                    events: 2,
                    ..Evidence::default()
                },
            },
        );
        let other_ns = Target {
            namespace: "ns2".into(),
            ..target
        };
        log.allowed.insert(
            other_ns,
            super::super::Usage {
                names: super::super::Names::Any,
                names_seen: vec![],
                unnamed: true,
                evidence: Evidence {
                    events: 1,
                    ..Evidence::default()
                },
            },
        );
        let c = compare(&rbac, &subject, &log, vec![]);
        assert_eq!(c.grants.len(), 2);
        assert_eq!(c.grants.iter().filter(|g| g.used.events == 2).count(), 1);
        assert_eq!(c.unexplained.len(), 1);
        let r: serde_json::Map<String, Value> = report(&c)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(r["usageScore"], json!(0.5));
        assert_eq!(r["sensitiveUnused"], json!(1));
    }

    #[test]
    fn bad_files_are_refused_with_a_place() {
        assert!(matches!(
            ClusterRbac::parse("a: [b\n"),
            Err(RbacFileError::Yaml { .. })
        ));
        assert!(matches!(
            ClusterRbac::parse("kind: Pod\n"),
            Err(RbacFileError::Shape { .. })
        ));
        let two = "kind: Role\nmetadata: {name: a, namespace: n}\n---\nkind: Role\nmetadata: {name: b, namespace: n}\n";
        assert_eq!(ClusterRbac::parse(two).unwrap().roles.len(), 2);
    }
}
