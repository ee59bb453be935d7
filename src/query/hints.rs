//! Hints for terms that can match nothing because of letter case: JSON keys and the
//! values the API server writes are case-sensitive, so `objectref.name=x` or
//! `verb=DELETE` silently select nothing. Said on stderr, never an error.

use super::ast::{Expr, Term};
use super::fields::{EVENT_KEYS, VERBS};
use super::value::Pattern;

/// Known keys of an audit event, by parent key ("" for the top level).
const KEYS: &[(&str, &[&str])] = &[
    ("", EVENT_KEYS),
    (
        "objectRef",
        &[
            "resource",
            "namespace",
            "name",
            "uid",
            "apiGroup",
            "apiVersion",
            "resourceVersion",
            "subresource",
        ],
    ),
    ("user", &["username", "uid", "groups", "extra"]),
    ("impersonatedUser", &["username", "uid", "groups", "extra"]),
    (
        "responseStatus",
        &["code", "status", "reason", "message", "metadata"],
    ),
];

/// Values the API server writes in one letter case, by event path.
const VALUES: &[(&str, &[&str])] = &[
    ("verb", VERBS),
    (
        "stage",
        &[
            "RequestReceived",
            "ResponseStarted",
            "ResponseComplete",
            "Panic",
        ],
    ),
    ("level", &["None", "Metadata", "Request", "RequestResponse"]),
];

/// The hints for `expr`, one per term that needs one.
pub fn case_hints(expr: &Expr) -> Vec<String> {
    let mut hints = Vec::new();
    walk(expr, &mut hints);
    hints.dedup();
    hints
}

fn walk(expr: &Expr, hints: &mut Vec<String>) {
    match expr {
        Expr::All => {}
        Expr::And(parts) | Expr::Or(parts) => parts.iter().for_each(|p| walk(p, hints)),
        Expr::Not(inner) => walk(inner, hints),
        Expr::Term(term) => term_hints(term, hints),
    }
}

fn term_hints(term: &Term, hints: &mut Vec<String>) {
    let Some(path) = term.field.paths.first() else {
        return;
    };
    // Keys: each segment against the known keys of its parent.
    let mut fixed = Vec::new();
    let mut changed = false;
    let mut parent = "";
    for segment in path {
        let known = KEYS.iter().find(|(p, _)| *p == parent).map(|(_, k)| *k);
        let right = known.and_then(|keys| {
            keys.iter()
                .find(|k| k.eq_ignore_ascii_case(segment) && *k != segment)
        });
        match right {
            Some(key) => {
                fixed.push(key.to_string());
                changed = true;
            }
            None => fixed.push(segment.clone()),
        }
        parent = fixed.last().map(String::as_str).unwrap_or("");
        parent = KEYS
            .iter()
            .map(|(p, _)| *p)
            .find(|p| *p == parent)
            .unwrap_or("-");
    }
    if changed {
        hints.push(format!(
            "`{}` matches no audit event: JSON keys are case-sensitive; did you mean `{}`?",
            term.field.name,
            fixed.join(".")
        ));
        return;
    }
    // Values: verbs, stages and levels have one spelling.
    let joined = path.join(".");
    let Some((_, values)) = VALUES.iter().find(|(p, _)| *p == joined) else {
        return;
    };
    for pattern in &term.patterns {
        if let Pattern::Exact { text, .. } = pattern
            && let Some(right) = values
                .iter()
                .find(|v| v.eq_ignore_ascii_case(text) && *v != text)
        {
            hints.push(format!(
                "`{}={text}` matches no audit event: values are case-sensitive; did you mean `{right}`?",
                term.field.name
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse_query;

    fn hints(q: &str) -> Vec<String> {
        case_hints(&parse_query(&[q.to_string()]).unwrap())
    }

    #[test]
    fn wrong_case_gets_a_hint_right_case_none() {
        assert!(hints("objectref.name=x")[0].contains("did you mean `objectRef.name`"));
        assert!(hints("objectRef.Namespace=x")[0].contains("`objectRef.namespace`"));
        assert!(hints("verb=DELETE")[0].contains("did you mean `delete`"));
        assert!(hints("stage=responsecomplete")[0].contains("`ResponseComplete`"));
        assert!(hints("verb=delete objectRef.name=x stage=Panic category=kube-audit").is_empty());
        assert!(hints("not verb=Get")[0].contains("`get`"));
    }
}
