//! The apiserver's rule matching (`pkg/audit/policy/checker.go`): the first rule that
//! matches a request gives its level and omitted stages; none matching means level None.

use super::model::{Level, Policy, Rule, Stages};

/// A request as the apiserver's policy evaluation sees it (authorizer attributes).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes {
    /// The authenticated user (None: no user at all, which matches no `users`/`userGroups`).
    pub user: Option<String>,
    pub groups: Vec<String>,
    pub verb: String,
    /// A resource request (has an objectRef); else a non-resource request (path only).
    pub resource_request: bool,
    pub api_group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    /// The object's name; empty for create (the policy is evaluated before it is known)
    /// and for lists.
    pub name: String,
    /// The URL path (without the query).
    pub path: String,
}

/// What the policy does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The index of the matching rule (None: no rule matched).
    pub rule: Option<usize>,
    pub level: Level,
    pub omit_stages: Stages,
    pub omit_managed_fields: bool,
}

/// Evaluates the policy as `EvaluatePolicyRule` does.
pub fn evaluate(policy: &Policy, attrs: &Attributes) -> Decision {
    for (i, rule) in policy.rules.iter().enumerate() {
        if mismatch(rule, attrs).is_none() {
            return Decision {
                rule: Some(i),
                level: rule.level,
                omit_stages: rule.omit_stages.union(policy.omit_stages),
                omit_managed_fields: rule
                    .omit_managed_fields
                    .unwrap_or(policy.omit_managed_fields),
            };
        }
    }
    Decision {
        rule: None,
        level: Level::None,
        omit_stages: policy.omit_stages,
        omit_managed_fields: policy.omit_managed_fields,
    }
}

fn has(list: &[String], value: &str) -> bool {
    list.iter().any(|s| s == value)
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why the rule does not match (the first reason, in the apiserver's order), or None if
/// it matches.
pub fn mismatch(r: &Rule, a: &Attributes) -> Option<String> {
    if !r.users.is_empty() {
        match &a.user {
            None => return Some("users: the request has no user".into()),
            Some(u) if !has(&r.users, u) => {
                return Some(format!("users: \"{u}\" is not in [{}]", list(&r.users)));
            }
            _ => {}
        }
    }
    if !r.user_groups.is_empty()
        && (a.user.is_none() || !a.groups.iter().any(|g| has(&r.user_groups, g)))
    {
        return Some(format!(
            "userGroups: none of the user's groups [{}] is in [{}]",
            list(&a.groups),
            list(&r.user_groups)
        ));
    }
    if !r.verbs.is_empty() && !has(&r.verbs, &a.verb) {
        return Some(format!(
            "verbs: \"{}\" is not in [{}]",
            a.verb,
            list(&r.verbs)
        ));
    }
    if !r.namespaces.is_empty() || !r.resources.is_empty() {
        return resource_mismatch(r, a);
    }
    if !r.non_resource_urls.is_empty() {
        if a.resource_request {
            return Some("nonResourceURLs: the request is for a resource, not a URL path".into());
        }
        if !r
            .non_resource_urls
            .iter()
            .any(|spec| path_matches(&a.path, spec))
        {
            return Some(format!(
                "nonResourceURLs: \"{}\" is not in [{}]",
                a.path,
                list(&r.non_resource_urls)
            ));
        }
    }
    None
}

/// `pathMatches`: `*`, exact, or a prefix before a trailing `*`.
pub fn path_matches(path: &str, spec: &str) -> bool {
    spec == "*"
        || spec == path
        || (spec.ends_with('*') && path.starts_with(spec.trim_end_matches('*')))
}

fn resource_mismatch(r: &Rule, a: &Attributes) -> Option<String> {
    if !a.resource_request {
        return Some(format!(
            "resources/namespaces: \"{}\" is a non-resource request (no objectRef)",
            a.path
        ));
    }
    if !r.namespaces.is_empty() && !has(&r.namespaces, &a.namespace) {
        let ns = if a.namespace.is_empty() {
            "\"\" (cluster-scoped)".to_string()
        } else {
            format!("\"{}\"", a.namespace)
        };
        return Some(format!(
            "namespaces: {ns} is not in [{}]",
            list(&r.namespaces)
        ));
    }
    if r.resources.is_empty() {
        return None;
    }
    let combined = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    for gr in &r.resources {
        if gr.group != a.api_group && gr.group != "*" {
            continue;
        }
        if gr.resources.is_empty() {
            return None;
        }
        for res in &gr.resources {
            if !gr.resource_names.is_empty() && !has(&gr.resource_names, &a.name) {
                continue;
            }
            if *res == combined || res == "*" {
                return None;
            }
            if !a.subresource.is_empty() && res.strip_prefix("*/") == Some(a.subresource.as_str()) {
                return None;
            }
            if res.strip_suffix("/*") == Some(a.resource.as_str()) {
                return None;
            }
        }
    }
    let group = if a.api_group.is_empty() {
        "the core group".to_string()
    } else {
        format!("group \"{}\"", a.api_group)
    };
    let named = if a.name.is_empty() {
        String::new()
    } else {
        format!(" named \"{}\"", a.name)
    };
    Some(format!(
        "resources: \"{combined}\"{named} in {group} is not matched by {}",
        r.resources
            .iter()
            .map(|g| {
                let names = if g.resource_names.is_empty() {
                    String::new()
                } else {
                    format!(" names [{}]", list(&g.resource_names))
                };
                format!("{{group \"{}\": [{}]{names}}}", g.group, list(&g.resources))
            })
            .collect::<Vec<_>>()
            .join(", ")
    ))
}
