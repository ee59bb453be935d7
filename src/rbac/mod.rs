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
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
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

impl Target {
    /// The request the authorizer saw for this target, with no name.
    pub fn access(&self) -> rules::Access {
        rules::Access {
            verb: self.verb.clone(),
            resource_request: self.resource_request,
            api_group: self.api_group.clone(),
            resource: self.resource.clone(),
            namespace: self.namespace.clone(),
            name: String::new(),
            path: self.path.clone(),
        }
    }
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

/// One request, from the key fields of its event (owned; see [`Fields`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub username: String,
    pub groups: Vec<String>,
    pub access: Access,
    pub decision: Decision,
    pub time: Option<Nanos>,
    pub audit_id: String,
}

/// One request as the key fields of its event give it, borrowed (the sink's path: no
/// allocation for a request like one seen before).
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    pub username: &'a str,
    /// Comma-separated, as the engine joins them.
    pub groups: &'a str,
    pub verb: &'a str,
    pub api_group: &'a str,
    pub resource: &'a str,
    pub subresource: &'a str,
    pub namespace: &'a str,
    /// The name the authorizer saw (see [`verb_carries_name`]).
    pub name: &'a str,
    /// Non-resource URL without its query string (empty for a resource request).
    pub path: &'a str,
    pub decision: Decision,
    pub time: Option<Nanos>,
    pub audit_id: &'a str,
}

/// The request an event stands for, if it is counted (its final stage) and the
/// authorizer's decision is known: `authorization.k8s.io/decision`, else the response
/// code (403 denied; 401 and 429 never reached the authorizer; any other code allowed).
pub fn fields(key: &[String]) -> Option<Fields<'_>> {
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
    let verb = get(4);
    let resource_request = !resource.is_empty();
    let carries = match verb {
        "create" => !subresource.is_empty(),
        "list" | "watch" | "deletecollection" => false,
        _ => true,
    };
    Some(Fields {
        username,
        groups,
        verb,
        api_group: if resource_request { get(5) } else { "" },
        resource,
        subresource: if resource_request { subresource } else { "" },
        namespace: if resource_request { get(8) } else { "" },
        name: if resource_request && carries {
            get(9)
        } else {
            ""
        },
        path: if resource_request {
            ""
        } else {
            get(10).split('?').next().unwrap_or("")
        },
        decision,
        time: crate::timefmt::parse_timestamp(get(14)),
        audit_id: get(15),
    })
}

impl Fields<'_> {
    fn combined(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }

    fn target(&self) -> Target {
        Target {
            verb: self.verb.to_string(),
            resource_request: !self.resource.is_empty(),
            api_group: self.api_group.to_string(),
            resource: self.combined(),
            namespace: self.namespace.to_string(),
            path: self.path.to_string(),
        }
    }

    /// The aggregation key, packed into `buf`.
    fn pack(&self, buf: &mut String) {
        buf.clear();
        for part in [
            self.verb,
            self.api_group,
            self.resource,
            self.subresource,
            self.namespace,
            self.path,
        ] {
            buf.push_str(part);
            buf.push('\0');
        }
    }
}

/// The request an event stands for, owned (see [`fields`]).
pub fn request(key: &[String]) -> Option<Request> {
    let f = fields(key)?;
    let target = f.target();
    Some(Request {
        username: f.username.to_string(),
        groups: f
            .groups
            .split(',')
            .filter(|g| !g.is_empty())
            .map(String::from)
            .collect(),
        access: Access {
            verb: target.verb,
            resource_request: target.resource_request,
            api_group: target.api_group,
            resource: target.resource,
            namespace: target.namespace,
            name: f.name.to_string(),
            path: target.path,
        },
        decision: f.decision,
        time: f.time,
        audit_id: f.audit_id.to_string(),
    })
}

/// One subject while the log is read: keyed by the packed request.
#[derive(Default)]
struct Live {
    allowed: HashMap<Box<str>, (Target, Usage)>,
    denied: HashMap<Box<str>, (Target, String, Evidence)>,
    /// Group lists as the events carry them.
    groups: HashSet<Box<str>>,
}

impl Live {
    fn record(&mut self, f: &Fields<'_>, buf: &mut String) {
        if !self.groups.contains(f.groups) {
            self.groups.insert(f.groups.into());
        }
        f.pack(buf);
        match f.decision {
            Decision::Allowed => {
                let (_, usage) = match self.allowed.get_mut(buf.as_str()) {
                    Some(entry) => entry,
                    None => self.allowed.entry(buf.as_str().into()).or_insert_with(|| {
                        (
                            f.target(),
                            Usage {
                                names: if f.name.is_empty() {
                                    Names::Any
                                } else {
                                    Names::One(f.name.to_string())
                                },
                                names_seen: Vec::new(),
                                unnamed: false,
                                evidence: Evidence::default(),
                            },
                        )
                    }),
                };
                if f.name.is_empty() {
                    usage.unnamed = true;
                } else if usage.names_seen.len() < NAMES_KEPT
                    && !usage.names_seen.iter().any(|n| n == f.name)
                {
                    usage.names_seen.push(f.name.to_string());
                }
                if let Names::One(n) = &usage.names
                    && n != f.name
                {
                    usage.names = Names::Any;
                }
                usage.evidence.add(f.time, f.audit_id);
            }
            Decision::Denied => {
                buf.push_str(f.name);
                let (_, _, evidence) = match self.denied.get_mut(buf.as_str()) {
                    Some(entry) => entry,
                    None => self
                        .denied
                        .entry(buf.as_str().into())
                        .or_insert_with(|| (f.target(), f.name.to_string(), Evidence::default())),
                };
                evidence.add(f.time, f.audit_id);
            }
        }
    }

    fn into_log(self) -> SubjectLog {
        SubjectLog {
            allowed: self.allowed.into_values().collect(),
            denied: self
                .denied
                .into_values()
                .map(|(t, n, e)| ((t, n), e))
                .collect(),
            groups: self
                .groups
                .iter()
                .flat_map(|g| g.split(','))
                .filter(|g| !g.is_empty())
                .map(String::from)
                .collect(),
        }
    }
}

/// `auditq rbac`'s sink: each event's request added to its subjects' logs.
#[derive(Default)]
pub struct RbacSink {
    selection: Selection,
    live: Vec<(Subject, Live)>,
    /// Of user names: the index in `live` of the subject each stands for, or none (not
    /// selected).
    known: HashMap<Box<str>, Option<usize>>,
    /// Of selected groups: their index in `live`.
    groups: HashMap<String, usize>,
    buf: String,
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
            sink.live
                .push((Subject::from_username(&u), Live::default()));
            sink.known.insert(u.into(), Some(sink.live.len() - 1));
        }
        let groups: Vec<String> = sink.selection.groups.iter().cloned().collect();
        for g in groups {
            sink.live.push((Subject::Group(g.clone()), Live::default()));
            sink.groups.insert(g, sink.live.len() - 1);
        }
        sink
    }

    /// Adds one request (the tests' way in).
    pub fn add(&mut self, r: &Request) {
        let groups = r.groups.join(",");
        let (resource, subresource) = r
            .access
            .resource
            .split_once('/')
            .unwrap_or((r.access.resource.as_str(), ""));
        self.add_fields(&Fields {
            username: &r.username,
            groups: &groups,
            verb: &r.access.verb,
            api_group: &r.access.api_group,
            resource,
            subresource,
            namespace: &r.access.namespace,
            name: &r.access.name,
            path: &r.access.path,
            decision: r.decision,
            time: r.time,
            audit_id: &r.audit_id,
        });
    }

    fn add_fields(&mut self, f: &Fields<'_>) {
        let index = match self.known.get(f.username) {
            Some(i) => *i,
            None => {
                let i = self.selection.all.then(|| {
                    self.live
                        .push((Subject::from_username(f.username), Live::default()));
                    self.live.len() - 1
                });
                self.known.insert(f.username.into(), i);
                i
            }
        };
        let mut counted = false;
        if let Some(i) = index {
            self.live[i].1.record(f, &mut self.buf);
            counted = true;
        }
        if !self.groups.is_empty() {
            for g in f.groups.split(',') {
                if let Some(&i) = self.groups.get(g) {
                    self.live[i].1.record(f, &mut self.buf);
                    counted = true;
                }
            }
        }
        if counted {
            self.requests += 1;
        }
    }

    /// Every subject's log, in subject order.
    pub fn into_subjects(self) -> BTreeMap<Subject, SubjectLog> {
        let mut out: BTreeMap<Subject, SubjectLog> = BTreeMap::new();
        for (s, live) in self.live {
            out.insert(s, live.into_log());
        }
        out
    }
}

impl Sink for RbacSink {
    fn event(&mut self, event: &Matched<'_>) -> io::Result<()> {
        match fields(event.key) {
            Some(f) => self.add_fields(&f),
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
        let s = Subject::ServiceAccount {
            namespace: "ns1".into(),
            name: "sa".into(),
        };
        let all = || {
            RbacSink::new(Selection {
                all: true,
                ..Selection::default()
            })
        };
        let (mut one, mut two) = (all(), all());
        for sink in [&mut one, &mut two] {
            sink.add(&get("a", "1"));
            sink.add(&get("a", "2"));
        }
        let subjects = one.into_subjects();
        let usage = subjects[&s].allowed.values().next().unwrap();
        assert_eq!(usage.names, Names::One("a".into()));
        assert_eq!(usage.evidence.samples, ["1", "2"]);
        two.add(&get("b", "3"));
        let usage = two.into_subjects()[&s]
            .allowed
            .values()
            .next()
            .unwrap()
            .clone();
        assert_eq!(
            (usage.names.clone(), usage.evidence.events),
            (Names::Any, 3)
        );
        assert_eq!(usage.names_seen, ["a", "b"]);
    }
}
