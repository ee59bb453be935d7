//! RBAC policy rules and how the apiserver's RBAC authorizer matches a request against
//! one (`k8s.io/kubernetes/pkg/apis/rbac/v1/evaluation_helpers.go`: `VerbMatches`,
//! `APIGroupMatches`, `ResourceMatches`, `ResourceNameMatches`, `NonResourceURLMatches`),
//! and the default ClusterRoles every authenticated user has.

use serde::Serialize;

/// One `rules[]` item of a Role or ClusterRole (`rbac.authorization.k8s.io/v1`).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    pub verbs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub api_groups: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    #[serde(rename = "nonResourceURLs", skip_serializing_if = "Vec::is_empty")]
    pub non_resource_urls: Vec<String>,
}

/// A request as the authorizer sees it (`authorizer.Attributes`), without the user.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Access {
    pub verb: String,
    /// A resource request (else `path` is the non-resource URL).
    pub resource_request: bool,
    pub api_group: String,
    /// `resource` or `resource/subresource`.
    pub resource: String,
    pub namespace: String,
    /// The name the authorizer saw (empty when it saw none).
    pub name: String,
    pub path: String,
}

impl Access {
    fn subresource(&self) -> &str {
        self.resource.split_once('/').map_or("", |(_, s)| s)
    }
}

fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    rule.api_groups.iter().any(|g| g == "*" || g == group)
}

fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    rule.resources.iter().any(|r| {
        r == "*"
            || r == combined
            || (!subresource.is_empty()
                && r.len() == subresource.len() + 2
                && r.starts_with("*/")
                && r.ends_with(subresource))
    })
}

fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| n == name)
}

fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls.iter().any(|u| {
        u == "*"
            || u == path
            || u.strip_suffix('*')
                .is_some_and(|prefix| path.starts_with(prefix))
    })
}

/// Whether `rule` allows `access` (the authorizer's `RuleAllows`).
pub fn allows(rule: &PolicyRule, access: &Access) -> bool {
    if access.resource_request {
        verb_matches(rule, &access.verb)
            && api_group_matches(rule, &access.api_group)
            && resource_matches(rule, &access.resource, access.subresource())
            && resource_name_matches(rule, &access.name)
    } else {
        verb_matches(rule, &access.verb) && non_resource_url_matches(rule, &access.path)
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The rules of the default ClusterRoles bound to every authenticated user
/// (`system:discovery`, `system:basic-user`, `system:public-info-viewer`), copied from
/// kubernetes `plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go` (v1.28 to
/// v1.37: `/livez` and `/readyz` since v1.16, `selfsubjectreviews` since v1.28).
/// Requests these allow are left out of generated roles.
pub fn default_rules() -> Vec<PolicyRule> {
    let urls = |list: &[&str]| PolicyRule {
        verbs: strings(&["get"]),
        non_resource_urls: strings(list),
        ..PolicyRule::default()
    };
    vec![
        // system:discovery
        urls(&[
            "/livez",
            "/readyz",
            "/healthz",
            "/version",
            "/version/",
            "/openapi",
            "/openapi/*",
            "/api",
            "/api/*",
            "/apis",
            "/apis/*",
        ]),
        // system:basic-user
        PolicyRule {
            verbs: strings(&["create"]),
            api_groups: strings(&["authorization.k8s.io"]),
            resources: strings(&["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
            ..PolicyRule::default()
        },
        PolicyRule {
            verbs: strings(&["create"]),
            api_groups: strings(&["authentication.k8s.io"]),
            resources: strings(&["selfsubjectreviews"]),
            ..PolicyRule::default()
        },
        // system:public-info-viewer
        urls(&["/livez", "/readyz", "/healthz", "/version", "/version/"]),
    ]
}

/// Resources whose grant is worth a second look when it is never used.
const SENSITIVE_RESOURCES: &[&str] = &[
    "secrets",
    "nodes/proxy",
    "roles",
    "clusterroles",
    "rolebindings",
    "clusterrolebindings",
    "mutatingwebhookconfigurations",
    "validatingwebhookconfigurations",
    "validatingadmissionpolicies",
    "validatingadmissionpolicybindings",
    "customresourcedefinitions",
    "serviceaccounts/token",
    "pods/exec",
    "pods/attach",
    "certificatesigningrequests/approval",
    "*",
];

/// Verbs that grant more than access: privilege escalation.
const SENSITIVE_VERBS: &[&str] = &["escalate", "bind", "impersonate", "*"];

/// Why a rule is sensitive (the resources and verbs that make it so), empty if it is not.
pub fn sensitive(rule: &PolicyRule) -> Vec<String> {
    let mut why: Vec<String> = rule
        .resources
        .iter()
        .filter(|r| {
            SENSITIVE_RESOURCES.contains(&r.as_str()) || r.starts_with("*/") || r.ends_with("/*")
        })
        .cloned()
        .collect();
    why.extend(
        rule.verbs
            .iter()
            .filter(|v| SENSITIVE_VERBS.contains(&v.as_str()))
            .map(|v| format!("verb {v}")),
    );
    if rule.non_resource_urls.iter().any(|u| u == "*") {
        why.push("nonResourceURLs *".into());
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: strings(verbs),
            api_groups: strings(groups),
            resources: strings(resources),
            resource_names: strings(names),
            non_resource_urls: vec![],
        }
    }

    fn res(verb: &str, group: &str, resource: &str, name: &str) -> Access {
        Access {
            verb: verb.into(),
            resource_request: true,
            api_group: group.into(),
            resource: resource.into(),
            name: name.into(),
            ..Access::default()
        }
    }

    #[test]
    fn matching_is_the_authorizers() {
        let r = rule(&["get"], &[""], &["pods"], &[]);
        assert!(allows(&r, &res("get", "", "pods", "x")));
        assert!(!allows(&r, &res("get", "", "pods/log", "x")));
        assert!(!allows(&r, &res("get", "apps", "pods", "x")));
        let r = rule(&["*"], &["*"], &["*/log"], &[]);
        assert!(allows(&r, &res("get", "", "pods/log", "x")));
        assert!(!allows(&r, &res("get", "", "pods", "x")));
        let r = rule(&["get"], &[""], &["configmaps"], &["a"]);
        assert!(allows(&r, &res("get", "", "configmaps", "a")));
        assert!(!allows(&r, &res("list", "", "configmaps", "")));
        assert!(!allows(&r, &res("get", "", "configmaps", "")));
        let urls = PolicyRule {
            verbs: strings(&["get"]),
            non_resource_urls: strings(&["/apis/*", "/healthz"]),
            ..PolicyRule::default()
        };
        let path = |p: &str| Access {
            verb: "get".into(),
            path: p.into(),
            ..Access::default()
        };
        assert!(allows(&urls, &path("/apis/apps/v1")));
        assert!(allows(&urls, &path("/healthz")));
        assert!(!allows(&urls, &path("/healthz/etcd")));
        assert!(!allows(&urls, &path("/apis")));
    }

    #[test]
    fn sensitive_rules_are_named() {
        assert_eq!(
            sensitive(&rule(&["get"], &[""], &["secrets", "pods"], &[])),
            ["secrets"]
        );
        assert_eq!(
            sensitive(&rule(
                &["bind"],
                &["rbac.authorization.k8s.io"],
                &["roles"],
                &[]
            )),
            ["roles", "verb bind"]
        );
        assert!(sensitive(&rule(&["get"], &[""], &["pods"], &[])).is_empty());
    }
}
