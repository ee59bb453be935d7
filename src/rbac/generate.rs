//! From one subject's requests to Roles, ClusterRoles and their bindings.
//!
//! - Requests the default ClusterRoles (`system:discovery`, `system:basic-user`,
//!   `system:public-info-viewer`) already allow are left out.
//! - Cluster scope (cluster-scoped resources, requests across all namespaces,
//!   non-resource URLs) → one ClusterRole and a ClusterRoleBinding. A namespaced request
//!   the cluster rule already allows adds its evidence to that rule.
//! - Namespaced requests → a Role and RoleBinding in their namespace; a rule used in
//!   several namespaces goes (unless `--prefer-roles`) into a ClusterRole bound by a
//!   RoleBinding in exactly those namespaces (one ClusterRole per set of namespaces), so
//!   it is granted nowhere it was not used.
//! - Rules are merged only where the result allows exactly the union: verbs of the same
//!   group, resource and names; then resources of the same group, verbs and names;
//!   non-resource URLs of the same verbs. Never across API groups.

use super::rules::{PolicyRule, default_rules};
use super::{Evidence, Names, Subject, SubjectLog, Target};
use std::collections::{BTreeMap, BTreeSet};

/// `--widen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Widen {
    /// A resource read with get, list or watch (without names) gets all three.
    GetListWatch,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub prefer_roles: bool,
    pub widen: Option<Widen>,
}

/// A generated rule and the requests behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub rule: PolicyRule,
    pub evidence: Evidence,
    /// Verbs added by `--widen`, not seen.
    pub widened: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RoleKind {
    ClusterRole,
    Role,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub kind: RoleKind,
    pub name: String,
    /// For a Role.
    pub namespace: Option<String>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// `ClusterRoleBinding` when `namespace` is `None`, else `RoleBinding`.
    pub name: String,
    pub namespace: Option<String>,
    pub role_kind: RoleKind,
    pub role_name: String,
}

/// A denied request (403), by what was asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Denied {
    pub target: Target,
    pub name: String,
    pub evidence: Evidence,
}

/// One subject's roles.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub subject: Subject,
    pub roles: Vec<Role>,
    pub bindings: Vec<Binding>,
    pub denied: Vec<Denied>,
    /// Allowed requests the default ClusterRoles cover (not in any role).
    pub defaults: Evidence,
    /// Allowed requests in all.
    pub allowed: Evidence,
}

/// A request without its namespace: what one rule item grants.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Atom {
    resource_request: bool,
    api_group: String,
    resource: String,
    path: String,
    verb: String,
    names: Names,
}

impl Atom {
    fn of(target: &Target, names: &Names) -> Atom {
        Atom {
            resource_request: target.resource_request,
            api_group: target.api_group.clone(),
            resource: target.resource.clone(),
            path: target.path.clone(),
            verb: target.verb.clone(),
            names: names.clone(),
        }
    }

    /// `self` grants at least what `other` needs (cluster atom over a namespaced one).
    fn covers(&self, other: &Atom) -> bool {
        self.resource_request == other.resource_request
            && self.api_group == other.api_group
            && self.resource == other.resource
            && self.path == other.path
            && self.verb == other.verb
            && (self.names == Names::Any || self.names == other.names)
    }
}

/// The order verbs are written in.
fn verb_rank(verb: &str) -> (usize, &str) {
    const ORDER: &[&str] = crate::query::fields::VERBS;
    (
        ORDER.iter().position(|v| *v == verb).unwrap_or(ORDER.len()),
        verb,
    )
}

fn sorted_verbs(verbs: &BTreeSet<String>) -> Vec<String> {
    let mut v: Vec<String> = verbs.iter().cloned().collect();
    v.sort_by(|a, b| verb_rank(a).cmp(&verb_rank(b)));
    v
}

/// The name of a subject's objects: `auditq:user:bob`, `auditq:serviceaccount:ns1:sa1`,
/// `auditq:group:devs` (`/` and `%`, which object names cannot hold, become `-`).
pub fn base_name(subject: &Subject) -> String {
    let raw = match subject {
        Subject::User(n) => format!("auditq:user:{n}"),
        Subject::ServiceAccount { namespace, name } => {
            format!("auditq:serviceaccount:{namespace}:{name}")
        }
        Subject::Group(n) => format!("auditq:group:{n}"),
    };
    raw.chars()
        .map(|c| if c == '/' || c == '%' { '-' } else { c })
        .collect()
}

/// Merges atoms into as few rules as grant exactly their union.
fn compact(atoms: &BTreeMap<Atom, Evidence>, widen: Option<Widen>) -> Vec<Rule> {
    // Verbs of the same group, resource (or URL) and names.
    type Verbs = (BTreeSet<String>, Evidence, BTreeSet<String>);
    let mut by_target: BTreeMap<(bool, String, String, String, Names), Verbs> = BTreeMap::new();
    for (a, ev) in atoms {
        let e = by_target
            .entry((
                a.resource_request,
                a.api_group.clone(),
                a.resource.clone(),
                a.path.clone(),
                a.names.clone(),
            ))
            .or_default();
        e.0.insert(a.verb.clone());
        e.1.merge(ev);
    }
    if widen == Some(Widen::GetListWatch) {
        for ((resource_request, _, _, _, names), (verbs, _, widened)) in &mut by_target {
            let reads = ["get", "list", "watch"];
            if *resource_request && *names == Names::Any && reads.iter().any(|r| verbs.contains(*r))
            {
                for r in reads {
                    if verbs.insert(r.to_string()) {
                        widened.insert(r.to_string());
                    }
                }
            }
        }
    }
    // Resources (or URLs) of the same group, verbs and names.
    type Merged = (Vec<String>, Evidence, BTreeSet<String>);
    let mut by_verbs: BTreeMap<(bool, String, Vec<String>, Names), Merged> = BTreeMap::new();
    for ((resource_request, group, resource, path, names), (verbs, ev, widened)) in by_target {
        let e = by_verbs
            .entry((resource_request, group, sorted_verbs(&verbs), names))
            .or_default();
        e.0.push(if resource_request { resource } else { path });
        e.1.merge(&ev);
        e.2.extend(widened);
    }
    let mut rules: Vec<Rule> = by_verbs
        .into_iter()
        .map(
            |((resource_request, group, verbs, names), (items, evidence, widened))| {
                let rule = if resource_request {
                    PolicyRule {
                        verbs,
                        api_groups: vec![group],
                        resources: items,
                        resource_names: match names {
                            Names::One(n) => vec![n],
                            Names::Any => vec![],
                        },
                        non_resource_urls: vec![],
                    }
                } else {
                    PolicyRule {
                        verbs,
                        non_resource_urls: items,
                        ..PolicyRule::default()
                    }
                };
                Rule {
                    rule,
                    evidence,
                    widened: sorted_verbs(&widened),
                }
            },
        )
        .collect();
    // Resource rules first (by group, resources), then non-resource URLs.
    rules.sort_by(|a, b| {
        (
            a.rule.resources.is_empty(),
            &a.rule.api_groups,
            &a.rule.resources,
            &a.rule.non_resource_urls,
            &a.rule.resource_names,
        )
            .cmp(&(
                b.rule.resources.is_empty(),
                &b.rule.api_groups,
                &b.rule.resources,
                &b.rule.non_resource_urls,
                &b.rule.resource_names,
            ))
    });
    rules
}

/// The roles and bindings for one subject.
pub fn generate(subject: &Subject, log: &SubjectLog, options: &Options) -> Generated {
    let defaults_rules = default_rules();
    let mut defaults = Evidence::default();
    let mut allowed = Evidence::default();
    let mut cluster: BTreeMap<Atom, Evidence> = BTreeMap::new();
    let mut namespaced: BTreeMap<Atom, BTreeMap<String, Evidence>> = BTreeMap::new();
    for (target, usage) in &log.allowed {
        allowed.merge(&usage.evidence);
        let access = target.access();
        if defaults_rules
            .iter()
            .any(|r| super::rules::allows(r, &access))
        {
            defaults.merge(&usage.evidence);
            continue;
        }
        let atom = Atom::of(target, &usage.names);
        if target.namespace.is_empty() {
            cluster.entry(atom).or_default().merge(&usage.evidence);
        } else {
            namespaced
                .entry(atom)
                .or_default()
                .entry(target.namespace.clone())
                .or_default()
                .merge(&usage.evidence);
        }
    }
    // Namespaced requests the cluster rules already allow.
    namespaced.retain(|atom, per_ns| {
        let Some((_, ev)) = cluster.iter_mut().find(|(c, _)| c.covers(atom)) else {
            return true;
        };
        for e in per_ns.values() {
            ev.merge(e);
        }
        false
    });
    let base = base_name(subject);
    let mut roles = Vec::new();
    let mut bindings = Vec::new();
    if !cluster.is_empty() {
        roles.push(Role {
            kind: RoleKind::ClusterRole,
            name: base.clone(),
            namespace: None,
            rules: compact(&cluster, options.widen),
        });
        bindings.push(Binding {
            name: base.clone(),
            namespace: None,
            role_kind: RoleKind::ClusterRole,
            role_name: base.clone(),
        });
    }
    let mut per_ns: BTreeMap<String, BTreeMap<Atom, Evidence>> = BTreeMap::new();
    let mut shared: BTreeMap<BTreeSet<String>, BTreeMap<Atom, Evidence>> = BTreeMap::new();
    for (atom, by_ns) in namespaced {
        if options.prefer_roles || by_ns.len() == 1 {
            for (ns, ev) in by_ns {
                per_ns.entry(ns).or_default().insert(atom.clone(), ev);
            }
        } else {
            let mut ev = Evidence::default();
            for e in by_ns.values() {
                ev.merge(e);
            }
            let set: BTreeSet<String> = by_ns.into_keys().collect();
            shared.entry(set).or_default().insert(atom, ev);
        }
    }
    let several = shared.len() > 1;
    for (i, (namespaces, atoms)) in shared.into_iter().enumerate() {
        let name = if several {
            format!("{base}:namespaces-{}", i + 1)
        } else {
            format!("{base}:namespaces")
        };
        roles.push(Role {
            kind: RoleKind::ClusterRole,
            name: name.clone(),
            namespace: None,
            rules: compact(&atoms, options.widen),
        });
        for ns in namespaces {
            bindings.push(Binding {
                name: name.clone(),
                namespace: Some(ns),
                role_kind: RoleKind::ClusterRole,
                role_name: name.clone(),
            });
        }
    }
    for (ns, atoms) in per_ns {
        roles.push(Role {
            kind: RoleKind::Role,
            name: base.clone(),
            namespace: Some(ns.clone()),
            rules: compact(&atoms, options.widen),
        });
        bindings.push(Binding {
            name: base.clone(),
            namespace: Some(ns),
            role_kind: RoleKind::Role,
            role_name: base.clone(),
        });
    }
    bindings.sort_by(|a, b| {
        (a.namespace.is_some(), &a.namespace, a.role_kind, &a.name).cmp(&(
            b.namespace.is_some(),
            &b.namespace,
            b.role_kind,
            &b.name,
        ))
    });
    let denied = log
        .denied
        .iter()
        .map(|((target, name), evidence)| Denied {
            target: target.clone(),
            name: name.clone(),
            evidence: evidence.clone(),
        })
        .collect();
    Generated {
        subject: subject.clone(),
        roles,
        bindings,
        denied,
        defaults,
        allowed,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Decision, RbacSink, Request, Selection};
    use super::*;
    use crate::rbac::rules::Access;

    fn req(user: &str, verb: &str, group: &str, resource: &str, ns: &str, name: &str) -> Request {
        Request {
            username: user.into(),
            groups: vec![],
            access: Access {
                verb: verb.into(),
                resource_request: true,
                api_group: group.into(),
                resource: resource.into(),
                namespace: ns.into(),
                name: name.into(),
                path: String::new(),
            },
            decision: Decision::Allowed,
            time: None,
            audit_id: "id".into(),
        }
    }

    fn run(requests: &[Request], options: &Options) -> Generated {
        let mut sink = RbacSink::new(Selection {
            all: true,
            ..Selection::default()
        });
        for r in requests {
            sink.add(r);
        }
        let subjects = sink.into_subjects();
        let (s, log) = subjects.iter().next().unwrap();
        generate(s, log, options)
    }

    #[test]
    fn verbs_merge_then_resources_and_scopes_follow_evidence() {
        let g = run(
            &[
                req("bob", "get", "", "pods", "a", ""),
                req("bob", "list", "", "pods", "a", ""),
                req("bob", "get", "", "services", "a", ""),
                req("bob", "list", "", "services", "a", ""),
                req("bob", "get", "apps", "deployments", "a", "web"),
                req("bob", "list", "", "configmaps", "a", ""),
                req("bob", "list", "", "configmaps", "b", ""),
                req("bob", "list", "", "nodes", "", ""),
            ],
            &Options::default(),
        );
        let kinds: Vec<_> = g
            .roles
            .iter()
            .map(|r| (r.kind, r.name.as_str(), r.namespace.as_deref()))
            .collect();
        assert_eq!(
            kinds,
            [
                (RoleKind::ClusterRole, "auditq:user:bob", None),
                (RoleKind::ClusterRole, "auditq:user:bob:namespaces", None),
                (RoleKind::Role, "auditq:user:bob", Some("a")),
            ]
        );
        let role = &g.roles[2];
        let rules: Vec<_> = role
            .rules
            .iter()
            .map(|r| {
                (
                    r.rule.api_groups.clone(),
                    r.rule.resources.clone(),
                    r.rule.verbs.clone(),
                    r.rule.resource_names.clone(),
                )
            })
            .collect();
        assert_eq!(
            rules,
            [
                (
                    vec!["".to_string()],
                    vec!["pods".to_string(), "services".to_string()],
                    vec!["get".to_string(), "list".to_string()],
                    vec![]
                ),
                (
                    vec!["apps".to_string()],
                    vec!["deployments".to_string()],
                    vec!["get".to_string()],
                    vec!["web".to_string()]
                ),
            ]
        );
        assert_eq!(g.bindings.len(), 4);
        let prefer = run(
            &[
                req("bob", "list", "", "configmaps", "a", ""),
                req("bob", "list", "", "configmaps", "b", ""),
            ],
            &Options {
                prefer_roles: true,
                widen: None,
            },
        );
        assert!(prefer.roles.iter().all(|r| r.kind == RoleKind::Role));
    }

    #[test]
    fn widening_only_when_asked_and_only_unnamed_reads() {
        let g = run(
            &[
                req("bob", "get", "", "pods", "a", ""),
                req("bob", "get", "", "pods", "a", "x"),
                req("bob", "get", "", "secrets", "a", "s"),
            ],
            &Options {
                prefer_roles: false,
                widen: Some(Widen::GetListWatch),
            },
        );
        let rules = &g.roles[0].rules;
        assert_eq!(rules[0].rule.verbs, ["get", "list", "watch"]);
        assert_eq!(rules[0].widened, ["list", "watch"]);
        assert_eq!(rules[1].rule.resource_names, ["s"]);
        assert_eq!(rules[1].rule.verbs, ["get"]);
    }

    #[test]
    fn discovery_is_left_out() {
        let mut r = req("bob", "get", "", "", "", "");
        r.access.resource_request = false;
        r.access.path = "/apis/apps/v1".into();
        let g = run(&[r], &Options::default());
        assert!(g.roles.is_empty());
        assert_eq!(g.defaults.events, 1);
    }
}
