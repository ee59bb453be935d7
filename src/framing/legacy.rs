//! The legacy text format (`--audit-log-format=legacy`, and the pre-1.7 "basic audit"):
//!
//! ```text
//! 2017-06-15T21:50:50.259470834Z AUDIT: id="591e…" stage="RequestReceived" ip="10.2.1.3"
//!   method="update" user="…" groups="\"a\",\"b\"" as="<self>" asgroups="<lookup>"
//!   namespace="kube-system" uri="/api/v1/namespaces/kube-system/endpoints/x" response="200"
//! ```
//!
//! Each line is rewritten as an audit.k8s.io Event in JSON, so the query language sees the
//! same fields (`verb` from `method`, `objectRef` from the URI) for both formats.

use crate::parse::write_json_string;

/// Converts a legacy line (from its timestamp on) to Event JSON, or `None` if it is not one.
pub fn to_event_json(line: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(line).ok()?;
    let (timestamp, rest) = text.split_once(" AUDIT: ")?;
    let pairs = parse_pairs(rest)?;
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !matches!(*v, "<none>" | "<self>" | "<lookup>" | "<deferred>"))
    };
    let mut event = JsonObject::default();
    event.string("kind", "Event");
    event.string("level", "Metadata");
    if let Some(id) = get("id") {
        event.string("auditID", id);
    }
    if let Some(stage) = get("stage") {
        event.string("stage", stage);
    }
    if let Some(uri) = get("uri") {
        event.string("requestURI", uri);
    }
    if let Some(method) = get("method") {
        event.string("verb", method);
    }
    event.raw("user", &user_object(get("user"), get("groups")));
    if let Some(name) = get("as") {
        event.raw(
            "impersonatedUser",
            &user_object(Some(name), get("asgroups")),
        );
    }
    if let Some(ip) = get("ip") {
        event.raw("sourceIPs", &string_array(ip.split(',').map(str::trim)));
    }
    if let Some(object_ref) = object_ref(get("uri"), get("namespace")) {
        event.raw("objectRef", &object_ref);
    }
    if let Some(code) = get("response").and_then(|r| r.parse::<u16>().ok()) {
        event.raw(
            "responseStatus",
            format!("{{\"metadata\":{{}},\"code\":{code}}}").as_bytes(),
        );
    }
    event.string("requestReceivedTimestamp", timestamp);
    event.string("stageTimestamp", timestamp);
    Some(event.finish())
}

#[derive(Default)]
struct JsonObject(Vec<u8>);

impl JsonObject {
    fn key(&mut self, key: &str) {
        self.0.push(if self.0.is_empty() { b'{' } else { b',' });
        write_json_string(key, &mut self.0);
        self.0.push(b':');
    }

    fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        write_json_string(value, &mut self.0);
    }

    fn raw(&mut self, key: &str, json: &[u8]) {
        self.key(key);
        self.0.extend_from_slice(json);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.0.is_empty() {
            self.0.push(b'{');
        }
        self.0.push(b'}');
        self.0
    }
}

fn string_array<'a>(items: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let mut out = vec![b'['];
    for (i, item) in items.filter(|s| !s.is_empty()).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_string(item, &mut out);
    }
    out.push(b']');
    out
}

fn user_object(name: Option<&str>, groups: Option<&str>) -> Vec<u8> {
    let mut user = JsonObject::default();
    if let Some(name) = name {
        user.string("username", name);
    }
    if let Some(groups) = groups {
        let list = parse_pairs_list(groups);
        user.raw("groups", &string_array(list.iter().map(String::as_str)));
    }
    user.finish()
}

/// `groups="\"a\",\"b\""` holds a comma-separated list of quoted strings.
fn parse_pairs_list(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut rest = text.trim();
    while let Some(stripped) = rest.strip_prefix('"') {
        let Some((value, after)) = unquote(stripped) else {
            break;
        };
        items.push(value);
        rest = after.trim_start_matches(',').trim_start();
    }
    if items.is_empty() && !text.is_empty() {
        items.push(text.to_string());
    }
    items
}

/// Derives objectRef from a resource URI, as the apiserver's request info resolver does:
/// `/api/v1/namespaces/ns/pods/name/exec`, `/apis/group/version/resource/name`.
fn object_ref(uri: Option<&str>, namespace: Option<&str>) -> Option<Vec<u8>> {
    let path = uri?.split('?').next()?;
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let (ns, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(*ns), rest),
        _ => (namespace, rest),
    };
    let mut object = JsonObject::default();
    match rest {
        [] => return None,
        [resource, tail @ ..] => {
            object.string("resource", resource);
            if let Some(ns) = ns {
                object.string("namespace", ns);
            }
            if let Some(name) = tail.first() {
                object.string("name", name);
            }
            if !group.is_empty() {
                object.string("apiGroup", group);
            }
            object.string("apiVersion", version);
            if let Some(sub) = tail.get(1) {
                object.string("subresource", sub);
            }
        }
    }
    Some(object.finish())
}

/// Parses `key="value" key="value"…` with Go `%q` quoting.
fn parse_pairs(text: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let eq = rest.find("=\"")?;
        let key = rest[..eq].trim().to_string();
        let (value, after) = unquote(&rest[eq + 2..])?;
        pairs.push((key, value));
        rest = after.trim_start();
    }
    (!pairs.is_empty()).then_some(pairs)
}

/// Reads a Go-quoted string body up to its closing quote; returns it and the rest.
fn unquote(text: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &text[i + 1..])),
            '\\' => {
                let (_, esc) = chars.next()?;
                match esc {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'x' | 'u' | 'U' => {
                        let digits = match esc {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = (0..digits)
                            .filter_map(|_| chars.next().map(|(_, h)| h))
                            .collect();
                        let code = u32::from_str_radix(&hex, 16).ok()?;
                        out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                    }
                    other => out.push(other),
                }
            }
            other => out.push(other),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Parser;

    const LINE: &str = r#"2017-06-15T21:50:50.259470834Z AUDIT: id="591e9fde" stage="ResponseComplete" ip="10.2.1.3" method="update" user="system:serviceaccount:kube-system:default" groups="\"system:serviceaccounts\",\"system:authenticated\"" as="<self>" asgroups="<lookup>" namespace="kube-system" uri="/api/v1/namespaces/kube-system/endpoints/kube-controller-manager" response="200""#;

    #[test]
    fn converts_to_event_fields() {
        let json = to_event_json(LINE.as_bytes()).unwrap();
        let mut parser = Parser::default();
        parser
            .with_parsed(&json, |ev| {
                assert_eq!(ev.get("auditID").unwrap().as_str(), Some("591e9fde"));
                assert_eq!(ev.get("verb").unwrap().as_str(), Some("update"));
                let user = ev.get("user").unwrap();
                assert_eq!(user.get("groups").unwrap().elements().count(), 2);
                assert!(ev.get("impersonatedUser").is_none());
                let obj = ev.get("objectRef").unwrap();
                assert_eq!(obj.get("resource").unwrap().as_str(), Some("endpoints"));
                assert_eq!(obj.get("namespace").unwrap().as_str(), Some("kube-system"));
                assert_eq!(
                    obj.get("name").unwrap().as_str(),
                    Some("kube-controller-manager")
                );
                assert_eq!(
                    ev.get("responseStatus")
                        .unwrap()
                        .get("code")
                        .unwrap()
                        .as_f64(),
                    Some(200.0)
                );
            })
            .unwrap();
    }

    #[test]
    fn basic_audit_and_subresources() {
        let line = r#"2017-05-25T04:55:04.961482167Z AUDIT: id="b7" ip="172.17.0.1" method="GET" user="<none>" groups="<none>" as="<self>" asgroups="<lookup>" namespace="<none>" uri="/healthz""#;
        let json = to_event_json(line.as_bytes()).unwrap();
        let text = String::from_utf8(json).unwrap();
        assert!(text.contains("\"verb\":\"GET\""));
        assert!(!text.contains("objectRef"));
        let line = r#"2017-05-25T04:55:04Z AUDIT: id="c" method="create" uri="/apis/apps/v1/namespaces/p/deployments/web/scale""#;
        let text = String::from_utf8(to_event_json(line.as_bytes()).unwrap()).unwrap();
        assert!(text.contains("\"subresource\":\"scale\""), "{text}");
        assert!(text.contains("\"apiGroup\":\"apps\""));
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(to_event_json(b"2017 AUDIT: nonsense").is_none());
        assert!(to_event_json(b"2017 AUDIT: id=\"unterminated").is_none());
        assert!(to_event_json(b"\xff AUDIT: id=\"x\"").is_none());
        assert!(to_event_json(br#"2017 AUDIT: id="\x4"#).is_none());
    }
}
