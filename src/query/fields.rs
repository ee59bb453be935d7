//! Field names: the short names people remember, mapped to JSON paths in the Event.

use super::error::{QueryError, Span};
use crate::parse::Json;

/// A resolved field: where to look in the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    /// The name as the user wrote it (shown in tables and errors).
    pub name: String,
    /// Candidate paths; the first one present in an event is used. `time` needs two because
    /// v1alpha1/v1beta1 events carry `timestamp` instead of `requestReceivedTimestamp`.
    pub paths: Vec<Vec<String>>,
    /// A value computed from the event instead of read at a path.
    pub computed: Option<Computed>,
}

/// Values that are not at one JSON path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Computed {
    /// `resource/subresource` (or `resource` alone), as RBAC rules and audit policies
    /// write it: what `resource~…` matches when the regex holds a `/`.
    ResourcePath,
}

/// Short names: (name, path).
const SHORT_NAMES: &[(&str, &[&str])] = &[
    ("user", &["user", "username"]),
    ("group", &["user", "groups"]),
    ("as", &["impersonatedUser", "username"]),
    ("verb", &["verb"]),
    ("resource", &["objectRef", "resource"]),
    ("subresource", &["objectRef", "subresource"]),
    ("ns", &["objectRef", "namespace"]),
    ("namespace", &["objectRef", "namespace"]),
    ("name", &["objectRef", "name"]),
    ("apigroup", &["objectRef", "apiGroup"]),
    ("apiversion", &["objectRef", "apiVersion"]),
    ("stage", &["stage"]),
    ("level", &["level"]),
    ("code", &["responseStatus", "code"]),
    ("ip", &["sourceIPs"]),
    ("ua", &["userAgent"]),
    ("uri", &["requestURI"]),
    ("auditid", &["auditID"]),
    (
        "decision",
        &["annotations", "authorization.k8s.io/decision"],
    ),
    ("reason", &["annotations", "authorization.k8s.io/reason"]),
];

/// The verbs the API server writes (always in lower case).
pub const VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

/// Top-level Event keys accepted as bare names, so `requestURI=/healthz` works too.
pub const EVENT_KEYS: &[&str] = &[
    "kind",
    "apiVersion",
    "level",
    "auditID",
    "stage",
    "requestURI",
    "verb",
    "user",
    "impersonatedUser",
    "sourceIPs",
    "userAgent",
    "objectRef",
    "responseStatus",
    "requestObject",
    "responseObject",
    "requestReceivedTimestamp",
    "stageTimestamp",
    "annotations",
    "timestamp",
    "metadata",
];

/// Every name a user may type without a dot, for suggestions and docs.
pub fn known_names() -> impl Iterator<Item = &'static str> {
    SHORT_NAMES
        .iter()
        .map(|(n, _)| *n)
        .chain(std::iter::once("time"))
        .chain(EVENT_KEYS.iter().copied())
}

/// Resolves a field as written in the query (`user`, `objectRef.name`,
/// `annotations."pod-security.kubernetes.io/enforce-policy"`). A quoted name (`"user"` or
/// `'user'`) is always a JSON key, never a short name.
pub fn resolve(text: &str, span: Span) -> Result<FieldRef, QueryError> {
    let segments = split_path(text, span)?;
    let name = text.to_string();
    if segments.len() == 1 && !text.starts_with(['"', '\'']) {
        let short = segments[0].as_str();
        if short == "time" {
            return Ok(FieldRef::time(&name));
        }
        if let Some((_, path)) = SHORT_NAMES.iter().find(|(n, _)| *n == short) {
            return Ok(FieldRef {
                name,
                paths: vec![path.iter().map(|s| s.to_string()).collect()],
                computed: None,
            });
        }
        // Any other top-level key is a path (envelope fields such as `category` or
        // `logStream`); a name close to a known one is taken for a typo.
        if !EVENT_KEYS.contains(&short) && nearest(short).is_some() {
            return Err(unknown_field(short, span));
        }
    }
    Ok(FieldRef {
        name,
        paths: vec![segments],
        computed: None,
    })
}

/// A field by a name this crate knows resolves (a short name, `time`, a top-level key or
/// a dotted path written in the code); never fails, for fields chosen by auditq itself.
pub fn named(name: &str) -> FieldRef {
    resolve(name, Span::default()).unwrap_or_else(|_| FieldRef {
        name: name.to_string(),
        paths: vec![name.split('.').map(str::to_string).collect()],
        computed: None,
    })
}

impl FieldRef {
    /// The `time` field: `requestReceivedTimestamp`, or `timestamp` in old events.
    pub fn time(name: &str) -> FieldRef {
        FieldRef {
            name: name.to_string(),
            paths: vec![
                vec!["requestReceivedTimestamp".into()],
                vec!["timestamp".into()],
            ],
            computed: None,
        }
    }

    /// The `resource/subresource` field (see [`Computed::ResourcePath`]).
    pub fn resource_path(name: &str) -> FieldRef {
        FieldRef {
            name: name.to_string(),
            paths: vec![
                vec!["objectRef".into(), "resource".into()],
                vec!["objectRef".into(), "subresource".into()],
            ],
            computed: Some(Computed::ResourcePath),
        }
    }

    /// The path this field reads in `event`: the first candidate present, else the first.
    pub fn path_in(&self, event: Json<'_, '_>) -> Option<&[String]> {
        if let [only] = self.paths.as_slice() {
            return Some(only);
        }
        let present = |p: &&Vec<String>| event.walk_path(p, &mut |_| true);
        self.paths
            .iter()
            .find(present)
            .or(self.paths.first())
            .map(Vec::as_slice)
    }

    /// Calls `visit` with every value of this field in `event`, in document order, until
    /// it returns true: the texts of a computed field, or the JSON values at the path
    /// (array elements one by one). Returns whether `visit` returned true.
    pub fn any_value(
        &self,
        event: Json<'_, '_>,
        visit: &mut dyn FnMut(Value<'_, '_, '_>) -> bool,
    ) -> bool {
        match self.computed {
            Some(Computed::ResourcePath) => match resource_path_text(event) {
                Some(text) => visit(Value::Text(&text)),
                None => false,
            },
            None => match self.path_in(event) {
                Some(path) => event.walk_path(path, &mut |v| visit(Value::Json(v))),
                None => false,
            },
        }
    }
}

/// A path as one text, the same for the same keys however the query wrote them: the keys
/// joined with `.`, a key that is empty or holds `.`, `"`, `'`, `\\` or a space written as
/// a JSON string. The `path` of the exported `leaves` (docs/scale-out.md), and what
/// `auditq sql` looks them up by.
pub fn canonical_path(keys: &[String]) -> String {
    let mut out = String::new();
    for key in keys {
        push_canonical_key(&mut out, key);
    }
    out
}

/// Appends `key` to the canonical path `out` (see [`canonical_path`]): a `.` first unless
/// `out` is empty, then the key, as a JSON string when it needs quoting.
pub fn push_canonical_key(out: &mut String, key: &str) {
    if !out.is_empty() {
        out.push('.');
    }
    out.push_str(&canonical_key(key));
}

/// One key as [`canonical_path`] writes it.
pub fn canonical_key(key: &str) -> std::borrow::Cow<'_, str> {
    if key.is_empty() || key.contains(['.', '"', '\'', '\\', ' ']) {
        std::borrow::Cow::Owned(serde_json::to_string(key).unwrap_or_default())
    } else {
        std::borrow::Cow::Borrowed(key)
    }
}

/// One value of a field: a JSON value in the event, or a computed text.
#[derive(Clone, Copy)]
pub enum Value<'a, 't, 'i> {
    Json(Json<'t, 'i>),
    Text(&'a str),
}

/// `resource/subresource`, `resource`, or `None` without a resource.
pub fn resource_path_text(event: Json<'_, '_>) -> Option<String> {
    let object = event.get("objectRef")?;
    let get = |k: &str| object.get(k).and_then(|v| v.as_str());
    match (get("resource"), get("subresource")) {
        (Some(r), Some(s)) => Some(format!("{r}/{s}")),
        (Some(r), None) => Some(r.to_string()),
        _ => None,
    }
}

fn unknown_field(name: &str, span: Span) -> QueryError {
    let err = QueryError::new(format!("unknown field `{name}`"), span);
    match nearest(name) {
        Some(best) => err.with_hint(format!(
            "did you mean `{best}`? (any dotted JSON path works too, e.g. `objectRef.name`)"
        )),
        None => err.with_hint(
            "fields are short names like user, verb, resource, ns, name, code, time, \
             or dotted JSON paths like objectRef.name",
        ),
    }
}

/// The known name closest to `name` by edit distance, if it is close enough to be a typo.
pub fn nearest(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    known_names()
        .map(|candidate| {
            (
                edit_distance(&lower, &candidate.to_ascii_lowercase()),
                candidate,
            )
        })
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, for suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Splits `a.b."c.d".e` into segments; quoted segments may contain dots.
fn split_path(text: &str, span: Span) -> Result<Vec<String>, QueryError> {
    let mut segments = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut current = String::new();
    let mut quoted_segment = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '"' | '\'' if current.is_empty() && !quoted_segment => {
                let close = text[i + 1..].find(c).ok_or_else(|| {
                    QueryError::new(
                        "unterminated quote in field name",
                        Span::new(span.start + i, span.end),
                    )
                })?;
                current.push_str(&text[i + 1..i + 1 + close]);
                quoted_segment = true;
                while chars.peek().is_some_and(|(j, _)| *j <= i + 1 + close) {
                    chars.next();
                }
            }
            '.' => {
                if current.is_empty() && !quoted_segment {
                    return Err(QueryError::new(
                        "empty segment in field path",
                        Span::new(span.start + i, span.start + i + 1),
                    )
                    .with_hint("write paths like objectRef.name"));
                }
                segments.push(std::mem::take(&mut current));
                quoted_segment = false;
            }
            _ => current.push(c),
        }
    }
    if current.is_empty() && !quoted_segment {
        return Err(QueryError::new("missing field name", span)
            .with_hint("a term is field=value, e.g. verb=delete"));
    }
    segments.push(current);
    Ok(segments)
}

#[cfg(test)]
mod tests {
    #[test]
    fn canonical_paths() {
        let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            super::canonical_path(&keys(&["requestObject", "spec", "containers"])),
            "requestObject.spec.containers"
        );
        assert_eq!(
            super::canonical_path(&keys(&["annotations", "authorization.k8s.io/decision"])),
            "annotations.\"authorization.k8s.io/decision\""
        );
        assert_eq!(
            super::canonical_path(&keys(&["a", "", "b\"c"])),
            "a.\"\".\"b\\\"c\""
        );
    }

    use super::*;

    fn sp() -> Span {
        Span::new(0, 1)
    }

    #[test]
    fn short_names_map_to_paths() {
        let f = resolve("user", sp()).unwrap();
        assert_eq!(
            f.paths,
            vec![vec!["user".to_string(), "username".to_string()]]
        );
        let f = resolve("ns", sp()).unwrap();
        assert_eq!(f.paths[0], vec!["objectRef", "namespace"]);
        let f = resolve("time", sp()).unwrap();
        assert_eq!(f.paths.len(), 2);
    }

    #[test]
    fn dotted_and_quoted_paths() {
        let f = resolve(
            "annotations.\"pod-security.kubernetes.io/enforce-policy\"",
            sp(),
        )
        .unwrap();
        assert_eq!(
            f.paths[0],
            vec!["annotations", "pod-security.kubernetes.io/enforce-policy"]
        );
        let f = resolve("requestObject.spec.containers", sp()).unwrap();
        assert_eq!(f.paths[0].len(), 3);
    }

    #[test]
    fn unknown_name_suggests_nearest() {
        let err = resolve("usr", sp()).unwrap_err();
        assert!(err.message.contains("unknown field `usr`"));
        assert!(err.hint.unwrap().contains("`user`"));
        let err = resolve("namepsace", sp()).unwrap_err();
        assert!(err.hint.unwrap().contains("`namespace`"));
    }

    #[test]
    fn empty_segment_is_an_error() {
        assert!(resolve("a..b", sp()).is_err());
        assert!(resolve("a.", sp()).is_err());
    }
}
