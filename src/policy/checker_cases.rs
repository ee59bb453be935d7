//! The apiserver's own checker tests (`pkg/audit/policy/checker_test.go`, k8s.io/apiserver
//! v0.37.2: `testAuditLevel`, `TestChecker`, `TestCheckerPolicyOmitStages`,
//! `TestOmitManagedFields`) restated as a table over [`super::matcher::evaluate`].

use super::matcher::{Attributes, evaluate};
use super::model::{GroupResources, Level, Policy, Rule, Stage, Stages};
use super::yaml::Pos;

fn attrs(name: &str) -> Attributes {
    let tim = |a: Attributes| Attributes {
        user: Some("tim@k8s.io".into()),
        groups: vec!["humans".into(), "developers".into()],
        verb: if a.verb.is_empty() {
            "get".into()
        } else {
            a.verb
        },
        ..a
    };
    match name {
        "namespaced" => tim(Attributes {
            namespace: "default".into(),
            resource: "pods".into(),
            name: "busybox".into(),
            resource_request: true,
            path: "/api/v1/namespaces/default/pods/busybox".into(),
            ..Attributes::default()
        }),
        "cluster" => tim(Attributes {
            api_group: "rbac.authorization.k8s.io".into(),
            resource: "clusterroles".into(),
            name: "edit".into(),
            resource_request: true,
            path: "/apis/rbac.authorization.k8s.io/v1beta1/clusterroles/edit".into(),
            ..Attributes::default()
        }),
        "nonResource" => tim(Attributes {
            path: "/logs/kubelet.log".into(),
            ..Attributes::default()
        }),
        "subresource" => Attributes {
            subresource: "log".into(),
            ..attrs("namespaced")
        },
        "Unauthorized" => Attributes {
            user: None,
            groups: vec![],
            ..attrs("namespaced")
        },
        "ClusterRoleUpdate" => tim(Attributes {
            verb: "update".into(),
            api_group: "rbac.authorization.k8s.io".into(),
            resource: "clusterroles".into(),
            subresource: "status".into(),
            name: "somerole".into(),
            resource_request: true,
            path: "/apis/rbac.authorization.k8s.io/v1beta1/clusterroles/somerole".into(),
            ..Attributes::default()
        }),
        other => panic!("no attributes {other}"),
    }
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn gr(group: &str, resources: &[&str], names: &[&str]) -> GroupResources {
    GroupResources {
        group: group.into(),
        resources: strings(resources),
        resource_names: strings(names),
        ..GroupResources::default()
    }
}

fn rule(name: &str) -> Rule {
    let r = |level| Rule::catch_all(level);
    match name {
        "default" => r(Level::Metadata),
        "create" => Rule {
            verbs: strings(&["create"]),
            ..r(Level::Request)
        },
        "tims" => Rule {
            users: strings(&["tim@k8s.io"]),
            ..r(Level::Metadata)
        },
        "humans" => Rule {
            user_groups: strings(&["humans"]),
            ..r(Level::Metadata)
        },
        "serviceAccounts" => Rule {
            user_groups: strings(&["system:serviceaccounts"]),
            ..r(Level::Request)
        },
        "getPods" => Rule {
            verbs: strings(&["get"]),
            resources: vec![gr("", &["pods"], &[])],
            ..r(Level::RequestResponse)
        },
        "getPodLogs" => Rule {
            verbs: strings(&["get"]),
            resources: vec![gr("", &["pods/log"], &[])],
            ..r(Level::Request)
        },
        "getPodWildcardMatching" => Rule {
            verbs: strings(&["get"]),
            resources: vec![gr("", &["*"], &[])],
            ..r(Level::Request)
        },
        "getPodResourceWildcardMatching" => Rule {
            verbs: strings(&["get"]),
            resources: vec![gr("", &["*/log"], &[])],
            ..r(Level::Request)
        },
        "getPodSubResourceWildcardMatching" => Rule {
            verbs: strings(&["get"]),
            resources: vec![gr("", &["pods/*"], &[])],
            ..r(Level::Request)
        },
        "getClusterRoles" => Rule {
            verbs: strings(&["get"]),
            resources: vec![gr("rbac.authorization.k8s.io", &["clusterroles"], &[])],
            namespaces: strings(&[""]),
            ..r(Level::RequestResponse)
        },
        "getGroupWildCardMatchingWithSubresourceWildcardMatching" => Rule {
            verbs: strings(&["update"]),
            resources: vec![gr("*", &["*/status"], &[])],
            ..r(Level::RequestResponse)
        },
        "getLogs" => Rule {
            verbs: strings(&["get"]),
            non_resource_urls: strings(&["/logs*"]),
            ..r(Level::RequestResponse)
        },
        "getMetrics" => Rule {
            verbs: strings(&["get"]),
            non_resource_urls: strings(&["/metrics"]),
            ..r(Level::Request)
        },
        "clusterRoleEdit" => Rule {
            resources: vec![gr(
                "rbac.authorization.k8s.io",
                &["clusterroles"],
                &["edit"],
            )],
            ..r(Level::Request)
        },
        "omit RequestReceived" => Rule {
            omit_stages: [Stage::RequestReceived].into_iter().collect(),
            ..r(Level::Request)
        },
        "only audit panic" => Rule {
            omit_stages: [
                Stage::RequestReceived,
                Stage::ResponseStarted,
                Stage::ResponseComplete,
            ]
            .into_iter()
            .collect(),
            ..r(Level::Request)
        },
        other => panic!("no rule {other}"),
    }
}

fn policy(stages: Stages, rules: &[&str]) -> Policy {
    Policy {
        rules: rules.iter().map(|r| rule(r)).collect(),
        omit_stages: stages,
        omit_managed_fields: false,
        rules_pos: Pos::default(),
    }
}

use Level::{Metadata as M, None as N, Request as R, RequestResponse as RR};

/// `testAuditLevel`: (request, expected level, rules).
const LEVELS: &[(&str, Level, &[&str])] = &[
    ("namespaced", M, &["default"]),
    ("namespaced", N, &["create"]),
    ("namespaced", M, &["tims"]),
    ("namespaced", M, &["humans"]),
    ("namespaced", N, &["serviceAccounts"]),
    ("namespaced", RR, &["getPods"]),
    ("namespaced", N, &["getClusterRoles"]),
    ("namespaced", N, &["getLogs"]),
    ("namespaced", N, &["getMetrics"]),
    (
        "namespaced",
        M,
        &["getMetrics", "serviceAccounts", "default"],
    ),
    ("namespaced", RR, &["getMetrics", "getPods", "default"]),
    ("namespaced", RR, &["getPodLogs", "getPods"]),
    ("cluster", M, &["default"]),
    ("cluster", N, &["create"]),
    ("cluster", M, &["tims"]),
    ("cluster", M, &["humans"]),
    ("cluster", N, &["serviceAccounts"]),
    ("cluster", N, &["getPods"]),
    ("cluster", RR, &["getClusterRoles"]),
    ("cluster", R, &["clusterRoleEdit", "getClusterRoles"]),
    ("cluster", N, &["getLogs"]),
    ("cluster", N, &["getMetrics"]),
    ("cluster", M, &["getMetrics", "serviceAccounts", "default"]),
    ("cluster", RR, &["getMetrics", "getClusterRoles", "default"]),
    ("cluster", N, &["getPodLogs", "getPods"]),
    ("nonResource", M, &["default"]),
    ("nonResource", N, &["create"]),
    ("nonResource", M, &["tims"]),
    ("nonResource", M, &["humans"]),
    ("nonResource", N, &["serviceAccounts"]),
    ("nonResource", N, &["getPods"]),
    ("nonResource", N, &["getClusterRoles"]),
    ("nonResource", RR, &["getLogs"]),
    ("nonResource", N, &["getMetrics"]),
    (
        "nonResource",
        M,
        &["getMetrics", "serviceAccounts", "default"],
    ),
    (
        "nonResource",
        RR,
        &["getLogs", "getClusterRoles", "default"],
    ),
    ("nonResource", N, &["getPodLogs", "getPods"]),
    ("subresource", R, &["getPodLogs", "getPods"]),
    ("subresource", R, &["getPodWildcardMatching"]),
    ("subresource", R, &["getPodResourceWildcardMatching"]),
    ("subresource", R, &["getPodSubResourceWildcardMatching"]),
    ("Unauthorized", N, &["tims"]),
    ("Unauthorized", M, &["tims", "default"]),
    ("Unauthorized", N, &["humans"]),
    ("Unauthorized", M, &["humans", "default"]),
    (
        "ClusterRoleUpdate",
        RR,
        &["getGroupWildCardMatchingWithSubresourceWildcardMatching"],
    ),
];

fn stages(list: &[Stage]) -> Stages {
    list.iter().copied().collect()
}

#[test]
fn test_audit_level_without_and_with_policy_stages() {
    let policy_wide = stages(&[Stage::RequestReceived, Stage::ResponseStarted]);
    for policy_stages in [Stages::default(), policy_wide] {
        for (req, level, rules) in LEVELS {
            let d = evaluate(&policy(policy_stages, rules), &attrs(req));
            assert_eq!(d.level, *level, "request {req} rules {rules:?}");
            assert_eq!(
                d.omit_stages, policy_stages,
                "request {req} rules {rules:?}"
            );
        }
    }
}

#[test]
fn test_checker_omit_stages() {
    use Stage::*;
    let rr = stages(&[RequestReceived]);
    let panic_only = stages(&[RequestReceived, ResponseStarted, ResponseComplete]);
    let wide = stages(&[RequestReceived, ResponseStarted]);
    // (request, policy stages, expected level, expected stages, rules)
    let cases: Vec<(&str, Stages, Level, Stages, &[&str])> = vec![
        (
            "namespaced",
            Stages::default(),
            R,
            rr,
            &["omit RequestReceived", "getPods", "default"],
        ),
        (
            "namespaced",
            Stages::default(),
            R,
            panic_only,
            &["only audit panic", "getPods", "default"],
        ),
        (
            "cluster",
            Stages::default(),
            R,
            rr,
            &["omit RequestReceived", "getPods", "default"],
        ),
        (
            "cluster",
            Stages::default(),
            R,
            panic_only,
            &["only audit panic", "getPods", "default"],
        ),
        (
            "nonResource",
            Stages::default(),
            R,
            rr,
            &["omit RequestReceived", "getPods", "default"],
        ),
        (
            "nonResource",
            Stages::default(),
            R,
            panic_only,
            &["only audit panic", "getPods", "default"],
        ),
        (
            "namespaced",
            wide,
            R,
            wide,
            &["omit RequestReceived", "getPods", "default"],
        ),
        (
            "namespaced",
            wide,
            R,
            panic_only,
            &["only audit panic", "getPods", "default"],
        ),
        (
            "cluster",
            wide,
            R,
            wide,
            &["omit RequestReceived", "getPods", "default"],
        ),
        (
            "cluster",
            wide,
            R,
            panic_only,
            &["only audit panic", "getPods", "default"],
        ),
        (
            "nonResource",
            wide,
            M,
            wide,
            &["default", "omit RequestReceived", "getPods"],
        ),
        (
            "nonResource",
            wide,
            R,
            panic_only,
            &["only audit panic", "getPods", "default"],
        ),
    ];
    for (req, ps, level, expected, rules) in cases {
        let d = evaluate(&policy(ps, rules), &attrs(req));
        assert_eq!(
            (d.level, d.omit_stages),
            (level, expected),
            "{req} {rules:?}"
        );
    }
}

#[test]
fn test_omit_managed_fields() {
    // (policy default, rule override, expected)
    for (default, over, expected) in [
        (false, None, false),
        (true, None, true),
        (true, Some(false), false),
        (false, Some(true), true),
    ] {
        let mut p = policy(Stages::default(), &["default"]);
        p.omit_managed_fields = default;
        p.rules[0].omit_managed_fields = over;
        assert_eq!(
            evaluate(&p, &attrs("namespaced")).omit_managed_fields,
            expected
        );
    }
}
