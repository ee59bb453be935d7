//! A reviewer's warnings on a policy the apiserver loads: rules that never match, secrets
//! and tokens written into the log, rules that write too much, stages logged twice, names
//! that match nothing, and requests that are not logged at all.

use super::known;
use super::load::{Finding, Severity, nearest};
use super::matcher::{self, Attributes};
use super::model::{GroupResources, Level, Policy, Rule, Stage};
use super::yaml::Pos;

fn warn(pos: Pos, message: String, fix: impl Into<String>) -> Finding {
    Finding {
        pos,
        severity: Severity::Warning,
        message,
        fix: fix.into(),
        refused: false,
    }
}

/// Every warning on a loaded policy, in file order.
pub fn check(policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    shadowed(policy, &mut out);
    sensitive(policy, &mut out);
    for (i, rule) in policy.rules.iter().enumerate() {
        volume(rule, i, &policy.rules[..i], &mut out);
        names(rule, &mut out);
    }
    if !policy.omit_stages.contains(Stage::RequestReceived)
        && policy
            .rules
            .iter()
            .any(|r| r.level > Level::None && !r.omit_stages.contains(Stage::RequestReceived))
    {
        out.push(warn(
            policy.rules_pos,
            "RequestReceived is not omitted: every logged request is written twice (RequestReceived, then ResponseComplete), which doubles the log for little".into(),
            "add `omitStages: [\"RequestReceived\"]` at the top level of the policy",
        ));
    }
    if !policy.rules.iter().any(Rule::is_catch_all) {
        out.push(warn(
            policy.rules_pos,
            "no rule matches every request: a request that matches no rule is not logged at all (level None)".into(),
            "end the rules with a catch-all: `- level: Metadata`",
        ));
    }
    out.sort_by_key(|f| f.pos);
    out
}

/// A rule that can never match, as an earlier rule matches every request it would.
fn shadowed(policy: &Policy, out: &mut Vec<Finding>) {
    for (j, later) in policy.rules.iter().enumerate() {
        if let Some((i, earlier)) = policy.rules[..j]
            .iter()
            .enumerate()
            .find(|(_, earlier)| covers(earlier, later))
        {
            let what = if earlier.is_catch_all() {
                "matches every request".to_string()
            } else {
                "matches every request this one would".to_string()
            };
            out.push(warn(
                later.pos,
                format!(
                    "rule {} never matches: rule {} (line {}) {what}, and the first matching rule wins",
                    j + 1,
                    i + 1,
                    earlier.pos.line
                ),
                "move this rule above the broader one, or remove it",
            ));
        }
    }
}

/// `a` matches every request that `b` matches.
pub fn covers(a: &Rule, b: &Rule) -> bool {
    let subset = |outer: &[String], inner: &[String]| {
        outer.is_empty() || (!inner.is_empty() && inner.iter().all(|x| outer.contains(x)))
    };
    if !subset(&a.users, &b.users) || !subset(&a.user_groups, &b.user_groups) {
        return false;
    }
    if !subset(&a.verbs, &b.verbs) {
        return false;
    }
    let a_resource = !a.namespaces.is_empty() || !a.resources.is_empty();
    let b_resource = !b.namespaces.is_empty() || !b.resources.is_empty();
    if a_resource {
        if !b_resource || !subset(&a.namespaces, &b.namespaces) {
            return false;
        }
        if a.resources.is_empty() {
            return true;
        }
        return !b.resources.is_empty()
            && b.resources
                .iter()
                .all(|gb| a.resources.iter().any(|ga| group_covers(ga, gb)));
    }
    if !a.non_resource_urls.is_empty() {
        return !b_resource
            && !b.non_resource_urls.is_empty()
            && b.non_resource_urls.iter().all(|u| {
                a.non_resource_urls.iter().any(|s| {
                    s == "*"
                        || s == u
                        || (s.ends_with('*') && u.starts_with(s.trim_end_matches('*')))
                })
            });
    }
    true
}

fn group_covers(a: &GroupResources, b: &GroupResources) -> bool {
    if a.group != b.group && a.group != "*" {
        return false;
    }
    if a.resources.is_empty() {
        return true;
    }
    if b.resources.is_empty() {
        return false;
    }
    let names_ok = a.resource_names.is_empty()
        || (!b.resource_names.is_empty()
            && b.resource_names
                .iter()
                .all(|n| a.resource_names.contains(n)));
    names_ok
        && b.resources.iter().all(|rb| {
            a.resources.iter().any(|ra| {
                ra == "*"
                    || ra == rb
                    || ra
                        .strip_suffix("/*")
                        .is_some_and(|base| rb == base || rb.split('/').next() == Some(base))
                    || ra
                        .strip_prefix("*/")
                        .is_some_and(|sub| rb.split_once('/').is_some_and(|(_, s)| s == sub))
            })
        })
}

/// Secrets, configmaps, token reviews and service account tokens at Request or above.
fn sensitive(policy: &Policy, out: &mut Vec<Finding>) {
    // (group, resource, subresource, what leaks, verbs whose request body holds it
    // (logged from Request on), whether responses hold it (logged at RequestResponse)).
    const WRITES: &[&str] = &["create", "update", "patch"];
    type Sensitive = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static [&'static str],
        bool,
    );
    const SENSITIVE: &[Sensitive] = &[
        ("", "secrets", "", "secret values", WRITES, true),
        (
            "",
            "configmaps",
            "",
            "configmap contents, where credentials often end up",
            WRITES,
            true,
        ),
        (
            "authentication.k8s.io",
            "tokenreviews",
            "",
            "the bearer token under review, in every TokenReview",
            &["create"],
            true,
        ),
        (
            "",
            "serviceaccounts",
            "token",
            "the service account tokens issued",
            &[],
            true,
        ),
    ];
    for (group, resource, sub, what, body_verbs, in_response) in SENSITIVE {
        let attrs = Attributes {
            user: Some(String::new()),
            resource_request: true,
            api_group: group.to_string(),
            resource: resource.to_string(),
            subresource: sub.to_string(),
            ..Attributes::default()
        };
        for (i, rule) in policy.rules.iter().enumerate() {
            if !rule.non_resource_urls.is_empty()
                && rule.resources.is_empty()
                && rule.namespaces.is_empty()
            {
                continue;
            }
            let mut loose = rule.clone();
            loose.users.clear();
            loose.user_groups.clear();
            loose.verbs.clear();
            loose.namespaces.clear();
            let mut named = false;
            for gr in &mut loose.resources {
                named |= !gr.resource_names.is_empty();
                gr.resource_names.clear();
            }
            if matcher::mismatch(&loose, &attrs).is_some() {
                continue;
            }
            let full = if sub.is_empty() {
                resource.to_string()
            } else {
                format!("{resource}/{sub}")
            };
            let verbs_hit = |verbs: &[&str]| {
                rule.verbs.is_empty() || rule.verbs.iter().any(|v| verbs.contains(&v.as_str()))
            };
            let leaks =
                (rule.level >= Level::Request && !body_verbs.is_empty() && verbs_hit(body_verbs))
                    || (rule.level == Level::RequestResponse && *in_response);
            if leaks {
                out.push(warn(
                    rule.key_pos("level"),
                    format!(
                        "rule {} logs {full} at {}: the log would hold {what}",
                        i + 1,
                        rule.level
                    ),
                    format!(
                        "add a rule before it: `- level: Metadata` with `resources: [{{group: \"{group}\", resources: [\"{full}\"]}}]`"
                    ),
                ));
            }
            let restricted = !rule.users.is_empty()
                || !rule.user_groups.is_empty()
                || !rule.verbs.is_empty()
                || !rule.namespaces.is_empty()
                || named;
            if !restricted {
                break;
            }
        }
    }
}

/// The rule matches every resource (of some group, or all).
fn broad(rule: &Rule) -> bool {
    (rule.resources.is_empty() && rule.non_resource_urls.is_empty())
        || rule
            .resources
            .iter()
            .any(|g| g.resources.is_empty() || g.resources.iter().any(|r| r == "*"))
}

fn volume(rule: &Rule, i: usize, earlier: &[Rule], out: &mut Vec<Finding>) {
    if !broad(rule) {
        return;
    }
    // Lists and watches reach this rule (no earlier rule takes them all).
    let as_lists = Rule {
        verbs: vec!["list".into(), "watch".into()],
        ..rule.clone()
    };
    let lists = (rule.verbs.is_empty() || rule.verbs.iter().any(|v| v == "list" || v == "watch"))
        && !earlier.iter().any(|e| covers(e, &as_lists));
    if rule.level == Level::RequestResponse {
        out.push(warn(
            rule.key_pos("level"),
            format!(
                "rule {} logs every resource{} at RequestResponse: every response body is written{}, gigabytes a day on a busy cluster",
                i + 1,
                if rule.resources.is_empty() { "" } else { " of its group" },
                if lists { ", whole lists included" } else { "" }
            ),
            "name the resources you need in full and log the rest at Metadata (or Request)",
        ));
    } else if rule.level == Level::Request && lists {
        out.push(warn(
            rule.key_pos("level"),
            format!(
                "rule {} logs list and watch of every resource at Request: the most frequent requests (controllers, kubelets), which have no body, so this only adds volume; a later change to RequestResponse writes every list",
                i + 1
            ),
            "add a rule before it: `- level: Metadata` with `verbs: [\"list\", \"watch\"]` (or None for system users' watches)",
        ));
    }
}

/// Groups and resources that match nothing.
fn names(rule: &Rule, out: &mut Vec<Finding>) {
    for gr in &rule.resources {
        let gpos = gr.group_pos.unwrap_or(gr.pos);
        if gr.group == "core" || gr.group == "v1" {
            out.push(warn(
                gpos,
                format!("group \"{}\" matches nothing: the core group (pods, secrets, …) is written \"\"", gr.group),
                "write `group: \"\"`",
            ));
            continue;
        }
        if !gr.resource_names.is_empty() && rule.verbs.iter().any(|v| v == "create") {
            out.push(warn(
                gr.pos,
                "resourceNames never match a create: the policy is evaluated before the new object's name is known".into(),
                "match creates by resource (and namespace) only",
            ));
        }
        let Some(known) = known::resources_of(&gr.group) else {
            continue;
        };
        let group_name = if gr.group.is_empty() {
            "the core group (\"\")".to_string()
        } else {
            format!("group \"{}\"", gr.group)
        };
        for (k, res) in gr.resources.iter().enumerate() {
            let pos = gr.resource_pos.get(k).copied().unwrap_or(gr.pos);
            if res == "*" || res.starts_with("*/") {
                continue;
            }
            let base = res.strip_suffix("/*").unwrap_or(res);
            if known.contains(&base) || (res.ends_with("/*") && known.contains(&base)) {
                continue;
            }
            let plain = base.split('/').next().unwrap_or(base);
            let lower = base.to_ascii_lowercase();
            let fix = if known.contains(&lower.as_str()) {
                format!("write \"{lower}\" (resources are lower case)")
            } else if known.contains(&format!("{lower}s").as_str()) {
                format!("write \"{lower}s\" (resources are plural and lower case)")
            } else if let Some(g) = known::groups_of(plain).first()
                && !known.contains(&plain)
            {
                let g = if g.is_empty() { "\"\"" } else { g };
                format!("{plain} is in group {g}: write `group: {g}`")
            } else if let Some(n) = nearest(base, known) {
                format!("did you mean \"{n}\"?")
            } else {
                "check `kubectl api-resources` for the resource's name and group".into()
            };
            out.push(warn(
                pos,
                format!("\"{res}\" is not a resource of {group_name}: this entry never matches it"),
                fix,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::load::load;
    use super::*;

    fn warnings(rules: &str) -> Vec<(usize, String)> {
        let text = format!(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n{rules}"
        );
        let loaded = load(&text);
        assert!(loaded.findings.is_empty(), "{:?}", loaded.findings);
        check(&loaded.policy.unwrap())
            .into_iter()
            .map(|f| (f.pos.line, f.message))
            .collect()
    }

    #[test]
    fn catch_all_alone_is_clean() {
        assert_eq!(warnings("- level: Metadata\n"), vec![]);
    }

    #[test]
    fn shadowed_rules() {
        let w = warnings("- level: Metadata\n- level: None\n  users: [a]\n");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].1.contains("rule 2 never matches: rule 1 (line 5)"),
            "{w:?}"
        );
        let w = warnings(
            "- level: None\n  resources: [{group: \"\", resources: [\"pods/*\"]}]\n- level: Metadata\n  verbs: [get]\n  resources: [{group: \"\", resources: [pods, pods/log]}]\n- level: Metadata\n",
        );
        assert!(w[0].1.contains("rule 2 never matches"), "{w:?}");
        // pods does not cover pods/log
        let w = warnings(
            "- level: None\n  resources: [{group: \"\", resources: [pods]}]\n- level: Metadata\n  resources: [{group: \"\", resources: [pods/log]}]\n- level: Metadata\n",
        );
        assert_eq!(w, vec![]);
    }

    #[test]
    fn secrets_at_request_unless_an_earlier_rule_takes_them() {
        let w = warnings("- level: Request\n");
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w.iter().any(|(_, m)| m.contains("secrets at Request")));
        let w = warnings(
            "- level: Metadata\n  resources: [{group: \"\", resources: [secrets, configmaps, serviceaccounts/token]}, {group: authentication.k8s.io, resources: [tokenreviews]}]\n- level: Request\n  verbs: [create]\n",
        );
        assert!(
            w.iter().all(|(_, m)| !m.contains(" at Request: the log")),
            "{w:?}"
        );
    }

    #[test]
    fn names_that_match_nothing() {
        let w = warnings(
            "- level: None\n  resources:\n  - group: \"\"\n    resources: [Pod, deployments]\n  - group: core\n- level: Metadata\n",
        );
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].1.contains("\"Pod\" is not a resource"));
        assert!(w[1].1.contains("\"deployments\""));
        assert!(w[2].1.contains("core group"));
    }
}
