//! Evaluation of a query against one parsed event.

use super::ast::{Expr, Term};
use super::fields::Value;
use crate::parse::Json;

impl Expr {
    /// True if `event` satisfies the expression.
    pub fn matches(&self, event: Json<'_, '_>) -> bool {
        match self {
            Expr::All => true,
            Expr::And(parts) => parts.iter().all(|p| p.matches(event)),
            Expr::Or(parts) => parts.iter().any(|p| p.matches(event)),
            Expr::Not(inner) => !inner.matches(event),
            Expr::Term(term) => term.matches(event),
        }
    }
}

impl Term {
    /// A missing field satisfies nothing, so `!=` on a missing field is true.
    pub fn matches(&self, event: Json<'_, '_>) -> bool {
        let (op, negated) = self.op.positive();
        let found = self.field.any_value(event, &mut |value| {
            self.patterns.iter().any(|p| match value {
                Value::Json(v) => p.matches(op, v),
                Value::Text(t) => p.matches_text(op, t),
            })
        });
        found != negated
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::Parser;
    use crate::query::parse_query;

    const EVENT: &str = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/prod/secrets/db","verb":"delete","user":{"username":"alice","groups":["dev","system:authenticated"]},"sourceIPs":["10.0.0.1","192.168.1.5"],"userAgent":"kubectl/v1.30.0","objectRef":{"resource":"secrets","namespace":"prod","name":"db","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestObject":{"spec":{"containers":[{"name":"a","securityContext":{"privileged":false}},{"name":"b","securityContext":{"privileged":true}}]}},"requestReceivedTimestamp":"2026-01-05T10:00:00.000000Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed","pod-security.kubernetes.io/enforce-policy":"restricted:latest"}}"#;

    fn check(query: &str) -> bool {
        let expr = parse_query(&[query.to_string()]).unwrap_or_else(|e| panic!("{e}"));
        Parser::default()
            .with_parsed(EVENT.as_bytes(), |root| expr.matches(root))
            .unwrap()
    }

    #[test]
    fn short_fields() {
        assert!(check("verb=delete resource=secrets"));
        assert!(check("user=alice ns=prod name=db"));
        assert!(check("group=dev"));
        assert!(check("ip=192.168.1.5"));
        assert!(check("ua~^kubectl/"));
        assert!(check("decision=allow"));
        assert!(check("reason='RBAC: allowed'"));
        assert!(check(
            "apiversion=v1 stage=ResponseComplete level=Metadata auditid=a1"
        ));
        assert!(check("uri=/api/v1/namespaces/prod/secrets/db"));
        assert!(!check("verb=get"));
    }

    #[test]
    fn operators() {
        assert!(check("code=200"));
        assert!(check("code>=200 code<300"));
        assert!(!check("code>200"));
        assert!(check("code<=200"));
        assert!(check("verb!=get"));
        assert!(!check("verb!=delete"));
        assert!(check("user!~^system:"));
        assert!(check("user=al*"));
        assert!(check("verb=get,list,delete"));
        assert!(check(
            "time>=2026-01-05T10:00:00Z time<2026-01-05T10:00:01Z"
        ));
        assert!(!check("time>2026-01-05T10:00:00Z"));
    }

    #[test]
    fn boolean_structure() {
        assert!(check("verb=get or verb=delete"));
        assert!(check("not verb=get"));
        assert!(check("!verb=get"));
        assert!(check("(verb=get or user=alice) and ns=prod"));
        assert!(!check("verb=get or verb=list and user=alice"));
        assert!(check("verb=get or verb=delete and user=alice"));
    }

    #[test]
    fn missing_fields_and_arrays() {
        assert!(!check("as=bob"));
        assert!(check("as!=bob"));
        assert!(!check("subresource=exec"));
        assert!(check(
            "requestObject.spec.containers.securityContext.privileged=true"
        ));
        assert!(check("requestObject.spec.containers.name=b"));
        assert!(check(
            "annotations.\"pod-security.kubernetes.io/enforce-policy\"=restricted*"
        ));
        assert!(!check("group=system:masters"));
        assert!(check("group!=system:masters"));
        assert!(check("objectRef.name=*"));
        assert!(!check("impersonatedUser=*"));
    }

    #[test]
    fn resource_with_subresource() {
        assert!(check("resource=secrets"));
        assert!(!check("resource=secrets/exec"));
        assert!(check("resource!=pods/exec"));
        assert!(check("resource~^secrets$"));
        assert!(!check("resource~^secrets/"));
    }

    #[test]
    fn times_compare_as_instants() {
        assert!(check("time=2026-01-05T10:00:00Z"));
        assert!(check("time=2026-01-05T06:00:00-04:00"));
        assert!(check("time!=2026-01-05T10:00:01Z"));
        assert!(!check("time=2026-01-05"));
    }

    #[test]
    fn quoted_field_names_are_json_keys() {
        assert!(!check("'verb'=delete") || check("verb=delete"));
        assert!(check("\"verb\"=delete"));
        assert!(!check("'user'=alice"));
        assert!(check("user=alice"));
    }
}
