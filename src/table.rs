//! The exported table's contract (docs/scale-out.md): which query fields have a typed
//! column, under which name and `complex` bit. `export` writes it, `sql` reads it; both
//! take it from here.

/// How a typed column holds its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One text (the field's `--count-by` text).
    Text,
    /// A list with one text per value reached.
    List,
    /// `code`: one JSON integer.
    Integer,
    /// `time`: `time_text` holds the text, `time_ns` the instant.
    Time,
}

/// A query field with a typed column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Typed {
    /// The JSON path (keys) the column holds, as [`crate::query::fields`] resolves the
    /// short name; `time` has two candidates and is matched by name.
    pub path: &'static [&'static str],
    pub column: &'static str,
    pub shape: Shape,
    /// The row's `complex` bit for this field.
    pub bit: u32,
}

const fn typed(
    path: &'static [&'static str],
    column: &'static str,
    shape: Shape,
    bit: u32,
) -> Typed {
    Typed {
        path,
        column,
        shape,
        bit,
    }
}

/// Every typed field, by bit.
pub const TYPED: &[Typed] = &[
    typed(&["user", "username"], "user", Shape::Text, 0),
    typed(&["user", "groups"], "groups", Shape::List, 1),
    typed(
        &["impersonatedUser", "username"],
        "impersonated_user",
        Shape::Text,
        2,
    ),
    typed(
        &["impersonatedUser", "groups"],
        "impersonated_groups",
        Shape::List,
        3,
    ),
    typed(&["verb"], "verb", Shape::Text, 4),
    typed(&["objectRef", "resource"], "resource", Shape::Text, 5),
    typed(&["objectRef", "subresource"], "subresource", Shape::Text, 6),
    typed(&["objectRef", "namespace"], "namespace", Shape::Text, 7),
    typed(&["objectRef", "name"], "name", Shape::Text, 8),
    typed(&["objectRef", "apiGroup"], "api_group", Shape::Text, 9),
    typed(&["objectRef", "apiVersion"], "api_version", Shape::Text, 10),
    typed(&["stage"], "stage", Shape::Text, 11),
    typed(&["level"], "level", Shape::Text, 12),
    typed(&["responseStatus", "code"], "code", Shape::Integer, 13),
    typed(&["sourceIPs"], "source_ips", Shape::List, 14),
    typed(&["userAgent"], "user_agent", Shape::Text, 15),
    typed(&["requestURI"], "request_uri", Shape::Text, 16),
    typed(&["auditID"], "audit_id", Shape::Text, 17),
    typed(
        &["annotations", "authorization.k8s.io/decision"],
        "decision",
        Shape::Text,
        18,
    ),
    typed(
        &["annotations", "authorization.k8s.io/reason"],
        "reason",
        Shape::Text,
        19,
    ),
    typed(&["requestReceivedTimestamp"], "time_text", Shape::Time, 20),
];

/// The typed field at `path` (`time`'s two candidate paths are looked up by the caller).
pub fn typed_at(path: &[String]) -> Option<&'static Typed> {
    TYPED
        .iter()
        .filter(|t| t.shape != Shape::Time)
        .find(|t| t.path.len() == path.len() && t.path.iter().zip(path).all(|(a, b)| a == b))
}

/// The `time` field's typed columns.
pub fn time() -> &'static Typed {
    &TYPED[20]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_positions() {
        for (i, t) in TYPED.iter().enumerate() {
            assert_eq!(t.bit as usize, i, "{}", t.column);
        }
        assert_eq!(time().column, "time_text");
    }
}
