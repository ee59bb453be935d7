//! Loading a policy file as kube-apiserver does (`LoadPolicyFromBytes`): decode, check the
//! API version, validate. Each problem is a [`Finding`] at the line of its key. Problems
//! the apiserver only warns about (unknown and duplicate fields: it falls back to lenient
//! decoding and ignores them) are errors here too, marked as not refused, with what the
//! apiserver then really does.

use super::model::{GroupResources, Level, Policy, Rule, Stage, Stages};
use super::yaml::{self, Node, Pos, Scalar};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    /// The word in `FILE:LINE:COL: error: …`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub pos: Pos,
    pub severity: Severity,
    pub message: String,
    /// How to fix it (may be empty).
    pub fix: String,
    /// The apiserver refuses to load the policy because of this (it exits at start).
    pub refused: bool,
}

/// What loading a file gives: the policy the apiserver would run (None if it refuses to
/// load), and every finding of decoding and validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub policy: Option<Policy>,
    pub findings: Vec<Finding>,
}

const POLICY_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "rules",
    "omitStages",
    "omitManagedFields",
];
const RULE_FIELDS: &[&str] = &[
    "level",
    "users",
    "userGroups",
    "verbs",
    "resources",
    "namespaces",
    "nonResourceURLs",
    "omitStages",
    "omitManagedFields",
];
const GROUP_FIELDS: &[&str] = &["group", "resources", "resourceNames"];

struct Decoder {
    findings: Vec<Finding>,
}

impl Decoder {
    fn refuse(&mut self, pos: Pos, message: String, fix: impl Into<String>) {
        self.findings.push(Finding {
            pos,
            severity: Severity::Error,
            message,
            fix: fix.into(),
            refused: true,
        });
    }

    fn strict(&mut self, pos: Pos, message: String, fix: String) {
        self.findings.push(Finding {
            pos,
            severity: Severity::Error,
            message,
            fix,
            refused: false,
        });
    }

    /// The entries of a map as the apiserver keeps them: known fields only, the last of
    /// duplicates; unknown and duplicate fields reported.
    fn fields<'n>(
        &mut self,
        entries: &'n [(String, Pos, Node)],
        known: &[&str],
        what: &str,
        ignored_means: &dyn Fn(&str) -> String,
    ) -> Vec<(&'n str, Pos, &'n Node)> {
        let mut out: Vec<(&str, Pos, &Node)> = Vec::new();
        for (key, pos, node) in entries {
            if !known.contains(&key.as_str()) {
                let near = nearest(key, known);
                let fix = match near {
                    Some(k) => format!("write `{k}:` (field names are case-sensitive)"),
                    None => format!("remove it; the fields of {what} are {}", known.join(", ")),
                };
                self.strict(
                    *pos,
                    format!(
                        "unknown field \"{key}\" in {what}: the apiserver warns, ignores it{}",
                        ignored_means(key)
                    ),
                    fix,
                );
                continue;
            }
            if let Some(i) = out.iter().position(|(k, ..)| *k == key) {
                let first = out[i].1;
                self.strict(
                    *pos,
                    format!(
                        "duplicate field \"{key}\" in {what} (first at line {}): the apiserver warns and keeps only this last one",
                        first.line
                    ),
                    "merge the two into one key".into(),
                );
                out.remove(i);
            }
            out.push((key.as_str(), *pos, node));
        }
        out
    }

    fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match node {
            Node::Scalar(Scalar::Str(s), _) => Some(s.clone()),
            Node::Scalar(Scalar::Null, _) => Some(String::new()),
            other => {
                self.refuse(
                    other.pos(),
                    format!(
                        "failed decoding: {path}: expected a string, found {}",
                        other.kind()
                    ),
                    "quote the value: \"…\"",
                );
                None
            }
        }
    }

    fn strings(&mut self, node: &Node, path: &str) -> Option<(Vec<String>, Vec<Pos>)> {
        match node {
            Node::Scalar(Scalar::Null, _) => Some((vec![], vec![])),
            Node::Seq(items, _) => {
                let mut out = Vec::new();
                let mut places = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Node::Scalar(Scalar::Str(s), p) => {
                            out.push(s.clone());
                            places.push(*p);
                        }
                        other => {
                            ok = false;
                            self.refuse(
                                other.pos(),
                                format!(
                                    "failed decoding: {path}[{i}]: expected a string, found {}",
                                    other.kind()
                                ),
                                "quote the value: \"…\" (a bare yes, no, on, off, null or number is not a string in YAML)",
                            );
                        }
                    }
                }
                ok.then_some((out, places))
            }
            other => {
                self.refuse(
                    other.pos(),
                    format!(
                        "failed decoding: {path}: expected a list, found {}",
                        other.kind()
                    ),
                    match other {
                        Node::Scalar(Scalar::Str(s), _) => format!("write a list: [\"{s}\"]"),
                        _ => "write a list: [a, b] or one `- item` per line".to_string(),
                    },
                );
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        match node {
            Node::Scalar(Scalar::Bool(b), _) => Some(*b),
            Node::Scalar(Scalar::Null, _) => Some(false),
            other => {
                self.refuse(
                    other.pos(),
                    format!(
                        "failed decoding: {path}: expected true or false, found {}",
                        other.kind()
                    ),
                    "write true or false, unquoted",
                );
                None
            }
        }
    }

    fn stages(&mut self, node: &Node, path: &str) -> Option<Stages> {
        let (names, places) = self.strings(node, path)?;
        let mut set = Stages::default();
        let mut ok = true;
        for (i, (name, pos)) in names.iter().zip(places).enumerate() {
            match Stage::parse(name) {
                Some(s) => set.insert(s),
                None => {
                    ok = false;
                    self.refuse(
                        pos,
                        format!(
                            "{path}[{i}]: Invalid value: \"{name}\": allowed stages are RequestReceived,ResponseStarted,ResponseComplete,Panic"
                        ),
                        match nearest(name, &["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"]) {
                            Some(s) => format!("write {s}"),
                            None => "use RequestReceived, ResponseStarted, ResponseComplete or Panic".into(),
                        },
                    );
                }
            }
        }
        ok.then_some(set)
    }
}

/// The closest of `known` to `word`, if close enough to be a typo.
pub fn nearest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (distance(&lower, &k.to_ascii_lowercase()), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// What a rule matches once the apiserver ignores an unknown field of it.
fn rule_field_ignored(key: &str) -> String {
    let lower = key.to_ascii_lowercase();
    let what = if lower.starts_with("resource") {
        "every resource"
    } else if lower.starts_with("verb") {
        "every verb"
    } else if lower.starts_with("user") && lower.contains("group") {
        "every user group"
    } else if lower.starts_with("user") {
        "every user"
    } else if lower.starts_with("namespace") {
        "every namespace"
    } else if lower.starts_with("nonresource") {
        "every request"
    } else {
        return String::new();
    };
    format!(", and the rule then matches {what}")
}

/// Loads a policy from the text of a file.
pub fn load(text: &str) -> Loaded {
    let mut d = Decoder { findings: vec![] };
    let policy = decode(text, &mut d);
    let policy = policy.filter(|_| !d.findings.iter().any(|f| f.refused));
    d.findings.sort_by_key(|f| f.pos);
    Loaded {
        policy,
        findings: d.findings,
    }
}

fn decode(text: &str, d: &mut Decoder) -> Option<Policy> {
    let start = Pos { line: 1, col: 1 };
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            d.refuse(
                start,
                "failed decoding: the file is empty".into(),
                "write an audit.k8s.io/v1 Policy (apiVersion, kind, rules)",
            );
            return None;
        }
        Err(e) => {
            d.refuse(e.pos, format!("failed decoding: {}", e.message), "");
            return None;
        }
    };
    let Node::Map(entries, _) = &root else {
        d.refuse(
            root.pos(),
            format!(
                "failed decoding: the policy is {}, not a map of fields",
                root.kind()
            ),
            "start with `apiVersion: audit.k8s.io/v1` and `kind: Policy`",
        );
        return None;
    };
    let fields = d.fields(entries, POLICY_FIELDS, "the Policy", &|_| String::new());
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, ..)| *key == k)
            .map(|(_, p, n)| (*p, *n))
    };
    let mut ok = true;
    match get("apiVersion") {
        None => {
            ok = false;
            d.refuse(
                start,
                "failed decoding: Object 'apiVersion' is missing".into(),
                "add `apiVersion: audit.k8s.io/v1` at the top",
            );
        }
        Some((p, n)) => match d.string(n, "apiVersion").as_deref() {
            Some("audit.k8s.io/v1") => {}
            Some(v @ ("audit.k8s.io/v1beta1" | "audit.k8s.io/v1alpha1")) => {
                ok = false;
                d.refuse(
                    p,
                    format!("unknown group version {v} in policy: current apiservers read audit.k8s.io/v1 only"),
                    "write `apiVersion: audit.k8s.io/v1` (the fields of a v1beta1 Policy are the same)",
                );
            }
            Some(v) => {
                ok = false;
                d.refuse(
                    p,
                    format!(
                        "failed decoding: no kind \"Policy\" is registered for version \"{v}\""
                    ),
                    "write `apiVersion: audit.k8s.io/v1`",
                );
            }
            None => ok = false,
        },
    }
    match get("kind") {
        None => {
            ok = false;
            d.refuse(
                start,
                "failed decoding: Object 'Kind' is missing".into(),
                "add `kind: Policy`",
            );
        }
        Some((p, n)) => match d.string(n, "kind").as_deref() {
            Some("Policy") => {}
            Some(k) => {
                ok = false;
                d.refuse(
                    p,
                    format!("failed decoding: no kind \"{k}\" is registered in audit.k8s.io/v1"),
                    "write `kind: Policy`",
                );
            }
            None => ok = false,
        },
    }
    if let Some((_, n)) = get("metadata")
        && !matches!(n, Node::Map(..) | Node::Scalar(Scalar::Null, _))
    {
        ok = false;
        d.refuse(
            n.pos(),
            format!(
                "failed decoding: metadata: expected a map, found {}",
                n.kind()
            ),
            "write `metadata:` with `name: …` under it, or remove it",
        );
    }
    let omit_stages = match get("omitStages") {
        Some((_, n)) => d.stages(n, "omitStages"),
        None => Some(Stages::default()),
    };
    let omit_managed_fields = match get("omitManagedFields") {
        Some((_, n)) => d.boolean(n, "omitManagedFields"),
        None => Some(false),
    };
    let mut rules = Vec::new();
    let mut rules_pos = start;
    match get("rules") {
        None | Some((_, Node::Scalar(Scalar::Null, _))) => {}
        Some((p, Node::Seq(items, _))) => {
            rules_pos = p;
            for (i, item) in items.iter().enumerate() {
                match rule(d, item, i) {
                    Some(r) => rules.push(r),
                    None => ok = false,
                }
            }
        }
        Some((_, n)) => {
            ok = false;
            d.refuse(
                n.pos(),
                format!(
                    "failed decoding: rules: expected a list, found {}",
                    n.kind()
                ),
                "write each rule as a `- level: …` item under `rules:`",
            );
        }
    }
    if ok && rules.is_empty() && !d.findings.iter().any(|f| f.refused) {
        d.refuse(
            rules_pos,
            "loaded illegal policy with 0 rules".into(),
            "add rules; a policy logging every request at Metadata has one rule: `- level: Metadata`",
        );
    }
    Some(Policy {
        rules,
        omit_stages: omit_stages?,
        omit_managed_fields: omit_managed_fields?,
        rules_pos,
    })
}

fn rule(d: &mut Decoder, node: &Node, i: usize) -> Option<Rule> {
    let path = format!("rules[{i}]");
    let Node::Map(entries, pos) = node else {
        d.refuse(
            node.pos(),
            format!(
                "failed decoding: {path}: expected a map, found {}",
                node.kind()
            ),
            "write a rule as `- level: …` with its fields indented under it",
        );
        return None;
    };
    let fields = d.fields(
        entries,
        RULE_FIELDS,
        &format!("rule {}", i + 1),
        &rule_field_ignored,
    );
    let mut r = Rule::catch_all(Level::None);
    r.pos = *pos;
    r.keys = fields.iter().map(|(k, p, _)| (k.to_string(), *p)).collect();
    let mut ok = true;
    let mut level = None;
    for (key, kpos, value) in &fields {
        let p = format!("{path}.{key}");
        match *key {
            "level" => level = Some((*kpos, d.string(value, &p))),
            "users" => ok &= set(&mut r.users, d.strings(value, &p)),
            "userGroups" => ok &= set(&mut r.user_groups, d.strings(value, &p)),
            "verbs" => ok &= set(&mut r.verbs, d.strings(value, &p)),
            "namespaces" => ok &= set(&mut r.namespaces, d.strings(value, &p)),
            "nonResourceURLs" => ok &= set(&mut r.non_resource_urls, d.strings(value, &p)),
            "omitStages" => match d.stages(value, &p) {
                Some(s) => r.omit_stages = s,
                None => ok = false,
            },
            "omitManagedFields" => match value {
                Node::Scalar(Scalar::Null, _) => r.omit_managed_fields = None,
                _ => match d.boolean(value, &p) {
                    Some(b) => r.omit_managed_fields = Some(b),
                    None => ok = false,
                },
            },
            "resources" => match resources(d, value, &p) {
                Some(list) => r.resources = list,
                None => ok = false,
            },
            _ => {}
        }
    }
    match level {
        Some((_, None)) => ok = false,
        Some((lpos, Some(text))) if !text.is_empty() => match Level::parse(&text) {
            Some(l) => r.level = l,
            None => {
                ok = false;
                d.refuse(
                    lpos,
                    format!(
                        "{path}.level: Unsupported value: \"{text}\": supported values: \"None\", \"Metadata\", \"Request\", \"RequestResponse\""
                    ),
                    match nearest(&text, &["None", "Metadata", "Request", "RequestResponse"]) {
                        Some(l) => format!("write `level: {l}` (levels are case-sensitive)"),
                        None => "use None, Metadata, Request or RequestResponse".into(),
                    },
                );
            }
        },
        other => {
            ok = false;
            d.refuse(
                other.map(|l| l.0).unwrap_or(*pos),
                format!("{path}.level: Required value"),
                "add `level: None`, `Metadata`, `Request` or `RequestResponse`",
            );
        }
    }
    for (j, url) in r.non_resource_urls.iter().enumerate() {
        let upos = r.key_pos("nonResourceURLs");
        if url == "*" {
            continue;
        }
        if !url.starts_with('/') {
            ok = false;
            d.refuse(
                upos,
                format!("{path}.nonResourceURLs[{j}]: Invalid value: \"{url}\": non-resource URL rules must begin with a '/' character"),
                format!("write \"/{}\"", url.trim_start_matches('/')),
            );
        }
        if !url.is_empty() && url[..url.len() - 1].contains('*') {
            ok = false;
            d.refuse(
                upos,
                format!("{path}.nonResourceURLs[{j}]: Invalid value: \"{url}\": non-resource URL wildcards '*' must be the final character of the rule"),
                "keep one `*`, at the end: a prefix match (\"/healthz*\")",
            );
        }
    }
    if !r.non_resource_urls.is_empty() && (!r.resources.is_empty() || !r.namespaces.is_empty()) {
        ok = false;
        d.refuse(
            r.key_pos("nonResourceURLs"),
            format!("{path}.nonResourceURLs: Invalid value: rules cannot apply to both regular resources and non-resource URLs"),
            "split it in two rules: one with resources/namespaces, one with nonResourceURLs",
        );
    }
    ok.then_some(r)
}

fn set(target: &mut Vec<String>, value: Option<(Vec<String>, Vec<Pos>)>) -> bool {
    match value {
        Some((v, _)) => {
            *target = v;
            true
        }
        None => false,
    }
}

fn resources(d: &mut Decoder, node: &Node, path: &str) -> Option<Vec<GroupResources>> {
    let items = match node {
        Node::Scalar(Scalar::Null, _) => return Some(vec![]),
        Node::Seq(items, _) => items,
        other => {
            d.refuse(
                other.pos(),
                format!(
                    "failed decoding: {path}: expected a list of {{group, resources}}, found {}",
                    other.kind()
                ),
                "write `resources:` then `- group: \"\"` and `  resources: [\"pods\"]` under it",
            );
            return None;
        }
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let Node::Map(entries, pos) = item else {
            ok = false;
            let fix = match item {
                Node::Scalar(Scalar::Str(s), _) => format!(
                    "a resource is written inside a group: `- group: \"\"` then `resources: [\"{s}\"]`"
                ),
                _ => "write `- group: \"\"` and `resources: [\"pods\"]`".into(),
            };
            d.refuse(
                item.pos(),
                format!("failed decoding: {path}[{i}]: expected a map with group and resources, found {}", item.kind()),
                fix,
            );
            continue;
        };
        let fields = d.fields(entries, GROUP_FIELDS, "a resources entry", &|k| {
            if k.to_ascii_lowercase().starts_with("resource") {
                ", and the entry then matches every resource of its group".into()
            } else if k.to_ascii_lowercase().contains("group") {
                ", and the entry then matches the core group (\"\") only".into()
            } else {
                String::new()
            }
        });
        let mut gr = GroupResources {
            pos: *pos,
            ..GroupResources::default()
        };
        for (key, kpos, value) in &fields {
            let p = format!("{path}[{i}].{key}");
            match *key {
                "group" => {
                    gr.group_pos = Some(*kpos);
                    match d.string(value, &p) {
                        Some(g) => gr.group = g,
                        None => ok = false,
                    }
                }
                "resources" => match d.strings(value, &p) {
                    Some((v, places)) => {
                        gr.resources = v;
                        gr.resource_pos = places;
                    }
                    None => ok = false,
                },
                "resourceNames" => ok &= set(&mut gr.resource_names, d.strings(value, &p)),
                _ => {}
            }
        }
        let group = &gr.group;
        if !group.is_empty() && group != "*" {
            if let Some(problems) = dns_subdomain_problems(group) {
                ok = false;
                let fix = match group.split_once('/') {
                    Some((g, v)) if !g.is_empty() => format!(
                        "write `group: {g}` — a group is written without its version (`{v}`); every version of the group matches"
                    ),
                    _ if group.starts_with('v') && group[1..].chars().next().is_some_and(|c| c.is_ascii_digit()) => {
                        "the core group (v1: pods, secrets, …) is written `group: \"\"`".into()
                    }
                    _ => "write the API group in lower case, without version (e.g. apps, rbac.authorization.k8s.io)".into(),
                };
                d.refuse(
                    gr.group_pos.unwrap_or(*pos),
                    format!("{path}.group: Invalid value: \"{group}\": {problems}"),
                    fix,
                );
            }
        }
        if !gr.resource_names.is_empty() && gr.resources.is_empty() {
            ok = false;
            d.refuse(
                *pos,
                format!("{path}.resourceNames: Invalid value: using resourceNames requires at least one resource"),
                "add `resources: [\"…\"]` to this entry",
            );
        }
        out.push(gr);
    }
    ok.then_some(out)
}

/// The apiserver's check of a group name (a lower-case RFC 1123 DNS subdomain).
fn dns_subdomain_problems(name: &str) -> Option<String> {
    if name.len() > 253 {
        return Some("must be no more than 253 characters".into());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.split('.').all(label_ok) {
        None
    } else {
        Some("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<(usize, bool, String)> {
        load(text)
            .findings
            .into_iter()
            .map(|f| (f.pos.line, f.refused, f.message))
            .collect()
    }

    const HEAD: &str = "apiVersion: audit.k8s.io/v1\nkind: Policy\n";

    #[test]
    fn loads_a_valid_policy() {
        let l = load(&format!(
            "{HEAD}omitStages: [RequestReceived]\nrules:\n  - level: None\n    users: [\"system:kube-proxy\"]\n    verbs: [watch]\n    resources:\n      - group: \"\"\n        resources: [endpoints, services]\n  - level: Metadata\n"
        ));
        assert_eq!(l.findings, vec![]);
        let p = l.policy.unwrap();
        assert_eq!(p.rules.len(), 2);
        assert_eq!(p.rules[0].resources[0].resources, ["endpoints", "services"]);
        assert_eq!(p.rules[1].pos.line, 11);
        assert!(p.omit_stages.contains(Stage::RequestReceived));
    }

    #[test]
    fn unknown_and_duplicate_fields_are_strict_errors_only() {
        let l = load(&format!(
            "{HEAD}rules:\n  - level: Request\n    resource:\n      - group: \"\"\n  - level: None\n    level: Metadata\n"
        ));
        let f = &l.findings;
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(
            !f[0].refused && f[0].message.contains("matches every resource"),
            "{f:?}"
        );
        assert_eq!(f[0].pos, Pos { line: 5, col: 5 });
        assert!(f[0].fix.contains("`resources:`"));
        assert!(f[1].message.contains("duplicate"));
        let p = l.policy.unwrap();
        assert!(p.rules[0].resources.is_empty());
        assert_eq!(p.rules[1].level, Level::Metadata);
    }

    #[test]
    fn refusals_match_the_apiserver() {
        let e = errors("apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules:\n- level: None\n");
        assert!(e[0].1 && e[0].2.contains("v1 only"));
        let e = errors(&format!("{HEAD}rules: []\n"));
        assert_eq!(
            e,
            vec![(3, true, "loaded illegal policy with 0 rules".into())]
        );
        let e = errors(&format!(
            "{HEAD}rules:\n- level: metadata\n- verbs: [get]\n"
        ));
        assert!(e[0].2.contains("Unsupported value"), "{e:?}");
        assert!(e[1].2.contains("rules[1].level: Required value"), "{e:?}");
        let e = errors(&format!(
            "{HEAD}rules:\n- level: None\n  resources:\n  - group: apps/v1\n    resourceNames: [x]\n"
        ));
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[1].0, 6);
        let e = errors(&format!(
            "{HEAD}rules:\n- level: None\n  nonResourceURLs: [\"/a*b\", \"healthz\"]\n  namespaces: [a]\n"
        ));
        assert_eq!(e.len(), 3, "{e:?}");
        let e = errors(&format!("{HEAD}rules:\n- level: None\n  verbs: get\n"));
        assert!(e[0].2.contains("expected a list"), "{e:?}");
        let e = errors(&format!("{HEAD}omitStages: [Foo]\nrules:\n- level: None\n"));
        assert!(e[0].2.contains("allowed stages"), "{e:?}");
    }
}
