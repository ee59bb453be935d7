//! `auditq rbac`: least-privilege RBAC from what identities did (docs/rbac.md). The log
//! is read by the search engine ([`KEY_FIELDS`] of each matching event); [`RbacSink`]
//! keeps, per subject, one [`Evidence`] per distinct authorizer request (never one per
//! event); at the end [`generate`] turns them into Roles, ClusterRoles and bindings,
//! [`compare`] holds them against the RBAC a cluster has, and [`output`] writes YAML
//! (evidence as comments) or JSON.
//!
//! Each request is counted once: at its `ResponseComplete` or `Panic` event (or an event
//! without a stage). `RequestReceived` carries no decision and no response code, and
//! `ResponseStarted` (watch, exec) is always followed by the request's `ResponseComplete`
//! unless the log ends mid-request — such a request is not counted (a streaming reader
//! cannot know whether the final stage follows).

pub mod compare;
pub mod generate;
pub mod output;
pub mod rules;

use crate::sink::{Matched, Sink, Totals};
use crate::timefmt::Nanos;
use rules::Access;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;

/// The fields each worker extracts (in this order).
pub const KEY_FIELDS: &str = "user,group,as,impersonatedUser.groups,verb,apigroup,resource,subresource,ns,name,uri,stage,code,decision,time,auditid";

/// Sample auditIDs kept per rule.
pub const SAMPLES: usize = 3;

/// Who a role is for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    User(String),
    ServiceAccount { namespace: String, name: String },
    Group(String),
}

impl Subject {
    /// The subject a user name stands for (`system:serviceaccount:NS:NAME` is a
    /// service account).
    pub fn from_username(name: &str) -> Subject {
        match name
            .strip_prefix("system:serviceaccount:")
            .and_then(|rest| rest.split_once(':'))
        {
            Some((ns, sa)) if !ns.is_empty() && !sa.is_empty() && !sa.contains(':') => {
                Subject::ServiceAccount {
                    namespace: ns.into(),
                    name: sa.into(),
                }
            }
            _ => Subject::User(name.into()),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Subject::User(_) => "User",
            Subject::ServiceAccount { .. } => "ServiceAccount",
            Subject::Group(_) => "Group",
        }
    }

    /// The user name the apiserver authenticates (a group has none).
    pub fn username(&self) -> Option<String> {
        match self {
            Subject::User(n) => Some(n.clone()),
            Subject::ServiceAccount { namespace, name } => {
                Some(format!("system:serviceaccount:{namespace}:{name}"))
            }
            Subject::Group(_) => None,
        }
    }

    /// `bob`, `ns1:sa1`, `devs`: how it is written on the command line and in reports.
    pub fn display_name(&self) -> String {
        match self {
            Subject::User(n) | Subject::Group(n) => n.clone(),
            Subject::ServiceAccount { namespace, name } => format!("{namespace}:{name}"),
        }
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind(), self.display_name())
    }
}

/// Which subjects a run is about.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// User names (service accounts as `system:serviceaccount:NS:NAME`).
    pub users: BTreeSet<String>,
    pub groups: BTreeSet<String>,
    /// Every user and service account seen.
    pub all: bool,
}

/// What the authorizer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Denied,
}

/// Count, time range and sample auditIDs of the requests behind one rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    pub events: u64,
    pub first: Option<Nanos>,
    pub last: Option<Nanos>,
    /// Up to [`SAMPLES`], the first seen.
    pub samples: Vec<String>,
}

impl Evidence {
    pub fn add(&mut self, time: Option<Nanos>, audit_id: &str) {
        self.events += 1;
        if let Some(t) = time {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
        if self.samples.len() < SAMPLES
            && !audit_id.is_empty()
            && !self.samples.iter().any(|s| s == audit_id)
        {
            self.samples.push(audit_id.to_string());
        }
    }

    pub fn merge(&mut self, other: &Evidence) {
        self.events += other.events;
        for t in [other.first, other.last].into_iter().flatten() {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
        for s in &other.samples {
            if self.samples.len() < SAMPLES && !self.samples.contains(s) {
                self.samples.push(s.clone());
            }
        }
    }
}

/// What the authorizer was asked, without the name: the aggregation key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    pub verb: String,
    pub resource_request: bool,
    pub api_group: String,
    /// `resource` or `resource/subresource`.
    pub resource: String,
    /// Empty: cluster scope (a cluster-scoped resource, or all namespaces).
    pub namespace: String,
    /// Non-resource URL without the query string.
    pub path: String,
}

/// The names used with one [`Target`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Names {
    /// Every request named this object (and the verb carries names to the authorizer).
    One(String),
    /// Several names, or a request without one: no `resourceNames`.
    Any,
}

/// Allowed requests of one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    pub names: Names,
    /// The first [`NAMES_KEPT`] names used (for `--compare`: rules with resourceNames).
    pub names_seen: Vec<String>,
    /// A request without a name was among them.
    pub unnamed: bool,
    pub evidence: Evidence,
}

/// Names kept per target for `--compare`.
pub const NAMES_KEPT: usize = 16;

/// Everything seen of one subject.
#[derive(Debug, Clone, Default)]
pub struct SubjectLog {
    pub allowed: BTreeMap<Target, Usage>,
    /// Denied requests, by target and name.
    pub denied: BTreeMap<(Target, String), Evidence>,
    /// Groups the subject's requests carried (for `--compare`: group bindings).
    pub groups: BTreeSet<String>,
}

/// Whether the authorizer sees the name of a request with this verb: never for create
/// of a top-level resource (the name is in the body), list, watch (the audit name of a
/// list comes from a field selector; RBAC rules with names on lists are a trap) and
/// deletecollection.
pub fn verb_carries_name(verb: &str, resource: &str) -> bool {
    match verb {
        "create" => resource.contains('/'),
        "list" | "watch" | "deletecollection" => false,
        _ => true,
    }
}

/// One request, from the key fields of its event.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub username: String,
    pub groups: Vec<String>,
    pub access: Access,
    pub decision: Decision,
    pub time: Option<Nanos>,
    pub audit_id: String,
}

/// The request an event stands for, if it is counted (its final stage) and the
/// authorizer's decision is known: `authorization.k8s.io/decision`, else the response
/// code (403 denied; 401 and 429 never reached the authorizer; any other code allowed).
pub fn request(key: &[String]) -> Option<Request> {
    let get = |i: usize| key.get(i).map_or("", String::as_str);
    match get(11) {
        "" | "ResponseComplete" | "Panic" => {}
        _ => return None,
    }
    let decision = match get(13) {
        "allow" => Decision::Allowed,
        "forbid" => Decision::Denied,
        _ => match get(12) {
            "403" => Decision::Denied,
            "" | "401" | "429" => return None,
            _ => Decision::Allowed,
        },
    };
    let impersonated = get(2);
    let (username, groups) = if impersonated.is_empty() {
        (get(0), get(1))
    } else {
        (impersonated, get(3))
    };
    if username.is_empty() {
        return None;
    }
    let resource = get(6);
    let subresource = get(7);
    let resource_request = !resource.is_empty();
    let combined = if subresource.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}/{subresource}")
    };
    let verb = get(4);
    let access = if resource_request {
        Access {
            verb: verb.to_string(),
            resource_request,
            api_group: get(5).to_string(),
            namespace: get(8).to_string(),
            name: if verb_carries_name(verb, &combined) {
                get(9).to_string()
            } else {
                String::new()
            },
            resource: combined,
            path: String::new(),
        }
    } else {
        let uri = get(10);
        Access {
            verb: verb.to_string(),
            path: uri.split('?').next().unwrap_or("").to_string(),
            ..Access::default()
        }
    };
    Some(Request {
        username: username.to_string(),
        groups: groups
            .split(',')
            .filter(|g| !g.is_empty())
            .map(String::from)
            .collect(),
        access,
        decision,
        time: crate::timefmt::parse_timestamp(get(14)),
        audit_id: get(15).to_string(),
    })
}

/// `auditq rbac`'s sink: each event's request added to its subjects' logs.
#[derive(Default)]
pub struct RbacSink {
    selection: Selection,
    pub subjects: BTreeMap<Subject, SubjectLog>,
    /// Of user names: the subject each stands for, or none (not selected).
    known: HashMap<String, Option<Subject>>,
    /// Requests counted (allowed or denied) for a selected subject.
    pub requests: u64,
    /// Events at a stage that is not counted.
    pub other_stages: u64,
}

impl RbacSink {
    pub fn new(selection: Selection) -> RbacSink {
        let mut sink = RbacSink {
            selection,
            ..RbacSink::default()
        };
        // Selected subjects appear even when the log has nothing of them.
        let users: Vec<String> = sink.selection.users.iter().cloned().collect();
        for u in users {
            sink.subjects.entry(Subject::from_username(&u)).or_default();
        }
        let groups: Vec<String> = sink.selection.groups.iter().cloned().collect();
        for g in groups {
            sink.subjects.entry(Subject::Group(g)).or_default();
        }
        sink
    }

    /// Adds one request (also what the tests call directly).
    pub fn add(&mut self, r: &Request) {
        let user_subject = match self.known.get(&r.username) {
            Some(s) => s.clone(),
            None => {
                let s = (self.selection.all || self.selection.users.contains(&r.username))
                    .then(|| Subject::from_username(&r.username));
                self.known.insert(r.username.clone(), s.clone());
                s
            }
        };
        let mut counted = false;
        if let Some(s) = user_subject {
            Self::record(self.subjects.entry(s).or_default(), r);
            counted = true;
        }
        if !self.selection.groups.is_empty() {
            for g in &r.groups {
                if self.selection.groups.contains(g) {
                    let log = self.subjects.entry(Subject::Group(g.clone())).or_default();
                    Self::record(log, r);
                    counted = true;
                }
            }
        }
        if counted {
            self.requests += 1;
        }
    }

    fn record(log: &mut SubjectLog, r: &Request) {
        for g in &r.groups {
            if !log.groups.contains(g) {
                log.groups.insert(g.clone());
            }
        }
        let a = &r.access;
        let target = Target {
            verb: a.verb.clone(),
            resource_request: a.resource_request,
            api_group: a.api_group.clone(),
            resource: a.resource.clone(),
            namespace: a.namespace.clone(),
            path: a.path.clone(),
        };
        match r.decision {
            Decision::Allowed => {
                let usage = log.allowed.entry(target).or_insert_with(|| Usage {
                    names: if a.name.is_empty() {
                        Names::Any
                    } else {
                        Names::One(a.name.clone())
                    },
                    names_seen: Vec::new(),
                    unnamed: false,
                    evidence: Evidence::default(),
                });
                if a.name.is_empty() {
                    usage.unnamed = true;
                } else if usage.names_seen.len() < NAMES_KEPT && !usage.names_seen.contains(&a.name)
                {
                    usage.names_seen.push(a.name.clone());
                }
                if let Names::One(n) = &usage.names
                    && *n != a.name
                {
                    usage.names = Names::Any;
                }
                usage.evidence.add(r.time, &r.audit_id);
            }
            Decision::Denied => log
                .denied
                .entry((target, a.name.clone()))
                .or_default()
                .add(r.time, &r.audit_id),
        }
    }
}

impl Sink for RbacSink {
    fn event(&mut self, event: &Matched<'_>) -> io::Result<()> {
        match request(event.key) {
            Some(r) => self.add(&r),
            None => {
                if !matches!(
                    event.key.get(11).map(String::as_str),
                    Some("" | "ResponseComplete" | "Panic") | None
                ) {
                    self.other_stages += 1;
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, _: &Totals) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pairs: &[(usize, &str)]) -> Vec<String> {
        let mut k = vec![String::new(); 16];
        for (i, v) in pairs {
            k[*i] = v.to_string();
        }
        k
    }

    #[test]
    fn requests_from_events() {
        // Impersonation: the impersonated user and groups are the subject.
        let r = request(&key(&[
            (0, "system:admin"),
            (1, "system:masters"),
            (2, "bob"),
            (3, "system:authenticated"),
            (4, "list"),
            (6, "pods"),
            (8, "default"),
            (10, "/api/v1/namespaces/default/pods?limit=5"),
            (11, "ResponseComplete"),
            (12, "200"),
        ]))
        .unwrap();
        assert_eq!(
            (r.username.as_str(), r.groups.as_slice()),
            ("bob", &["system:authenticated".to_string()][..])
        );
        assert!(r.access.resource_request && r.decision == Decision::Allowed);
        // Query strings never reach non-resource URLs.
        let r = request(&key(&[
            (0, "a"),
            (4, "get"),
            (10, "/healthz?verbose=1"),
            (12, "200"),
        ]))
        .unwrap();
        assert_eq!(r.access.path, "/healthz");
        // The stage and the decision.
        assert!(request(&key(&[(0, "a"), (4, "get"), (11, "RequestReceived")])).is_none());
        assert!(request(&key(&[(0, "a"), (4, "get"), (12, "401")])).is_none());
        let r = request(&key(&[(0, "a"), (4, "get"), (12, "404"), (13, "forbid")])).unwrap();
        assert_eq!(r.decision, Decision::Denied);
        let r = request(&key(&[(0, "a"), (4, "get"), (12, "403"), (13, "allow")])).unwrap();
        assert_eq!(r.decision, Decision::Allowed);
        // A create's name is not the authorizer's, except on a subresource.
        let r = request(&key(&[
            (0, "a"),
            (4, "create"),
            (6, "pods"),
            (9, "p"),
            (12, "201"),
        ]))
        .unwrap();
        assert_eq!(r.access.name, "");
        let r = request(&key(&[
            (0, "a"),
            (4, "create"),
            (6, "pods"),
            (7, "exec"),
            (9, "p"),
            (12, "101"),
        ]))
        .unwrap();
        assert_eq!(
            (r.access.resource.as_str(), r.access.name.as_str()),
            ("pods/exec", "p")
        );
    }

    #[test]
    fn names_narrow_only_while_one_is_used() {
        let mut sink = RbacSink::new(Selection {
            all: true,
            ..Selection::default()
        });
        let get = |name: &str, id: &str| {
            request(&key(&[
                (0, "system:serviceaccount:ns1:sa"),
                (4, "get"),
                (6, "configmaps"),
                (8, "ns1"),
                (9, name),
                (12, "200"),
                (15, id),
            ]))
            .unwrap()
        };
        sink.add(&get("a", "1"));
        sink.add(&get("a", "2"));
        let s = Subject::ServiceAccount {
            namespace: "ns1".into(),
            name: "sa".into(),
        };
        let log = &sink.subjects[&s];
        let usage = log.allowed.values().next().unwrap();
        assert_eq!(usage.names, Names::One("a".into()));
        assert_eq!(usage.evidence.samples, ["1", "2"]);
        sink.add(&get("b", "3"));
        let usage = sink.subjects[&s].allowed.values().next().unwrap();
        assert_eq!(
            (usage.names.clone(), usage.evidence.events),
            (Names::Any, 3)
        );
    }
}
