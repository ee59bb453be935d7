//! Compiled right-hand sides of terms, and how they compare with a JSON scalar.

use super::error::{QueryError, Span};
use super::op::Op;
use crate::parse::Json;
use crate::timefmt::{Nanos, parse_timestamp};
use regex::Regex;

/// One value of a term, compiled for its operator.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// `=`: the exact text; `number` is set when the text is a number, so `code=404`
    /// also equals a JSON `404.0`; `time` when it is an RFC 3339 date and time, so equal
    /// instants are equal whatever their zone (`10:00:00Z` = `06:00:00-04:00`).
    Exact {
        text: String,
        number: Option<f64>,
        time: Option<Nanos>,
    },
    /// `=` with `*`: the literal pieces between the stars.
    Glob {
        parts: Vec<String>,
    },
    Regex(Regex),
    Number(f64),
    Time(Nanos),
}

impl Pattern {
    /// Compiles `text` for `op` (`!=`/`!~` are compiled as `=`/`~`).
    pub fn compile(op: Op, text: &str, span: Span) -> Result<Pattern, QueryError> {
        match op {
            Op::Eq | Op::Ne if text.contains('*') => Ok(Pattern::Glob {
                parts: text.split('*').map(str::to_string).collect(),
            }),
            Op::Eq | Op::Ne => Ok(Pattern::Exact {
                text: text.to_string(),
                number: parse_number(text),
                time: parse_instant(text),
            }),
            Op::Match | Op::NotMatch => Regex::new(text).map(Pattern::Regex).map_err(|e| {
                QueryError::new(format!("invalid regular expression: {}", first_line(&e)), span)
                    .with_hint("regexes use Rust syntax; quote them if they contain spaces, e.g. ua~'kubectl/v1\\.3.*'")
            }),
            Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                if let Some(n) = parse_number(text) {
                    Ok(Pattern::Number(n))
                } else if let Some(t) = parse_timestamp(text) {
                    Ok(Pattern::Time(t))
                } else {
                    Err(QueryError::new(
                        format!("`{}` compares numbers or times, not `{text}`", op.as_str()),
                        span,
                    )
                    .with_hint("use a number (code>=400) or an RFC 3339 time (time>2026-01-05T10:00:00Z)"))
                }
            }
        }
    }

    /// Whether `value` (a scalar, or for a bare `*` glob anything) satisfies `op` with this pattern.
    pub fn matches(&self, op: Op, value: Json<'_, '_>) -> bool {
        match self {
            Pattern::Exact { time: Some(t), .. } => {
                value.as_str().and_then(parse_timestamp) == Some(*t)
            }
            Pattern::Exact { text, number, .. } => {
                if let (Some(n), Some(v)) = (number, value.as_f64()) {
                    return *n == v;
                }
                value.scalar_text().is_some_and(|s| s == text.as_str())
            }
            Pattern::Glob { parts } => {
                if parts.iter().all(String::is_empty) {
                    return true;
                }
                value.scalar_text().is_some_and(|s| glob_match(parts, &s))
            }
            Pattern::Regex(re) => value.scalar_text().is_some_and(|s| re.is_match(&s)),
            Pattern::Number(n) => {
                let v = value
                    .as_f64()
                    .or_else(|| value.as_str().and_then(parse_number));
                v.is_some_and(|v| compare(op, v.partial_cmp(n)))
            }
            Pattern::Time(t) => value
                .as_str()
                .and_then(parse_timestamp)
                .is_some_and(|v| compare(op, Some(v.cmp(t)))),
        }
    }

    /// Whether a string (not a JSON value: a text computed from the event, such as
    /// `resource/subresource`) satisfies `op` with this pattern.
    pub fn matches_text(&self, op: Op, text: &str) -> bool {
        match self {
            Pattern::Exact { time: Some(t), .. } => parse_timestamp(text) == Some(*t),
            Pattern::Exact { text: want, .. } => text == want,
            Pattern::Glob { parts } => glob_match(parts, text),
            Pattern::Regex(re) => re.is_match(text),
            Pattern::Number(n) => parse_number(text).is_some_and(|v| compare(op, v.partial_cmp(n))),
            Pattern::Time(t) => parse_timestamp(text).is_some_and(|v| compare(op, Some(v.cmp(t)))),
        }
    }
}

/// An RFC 3339 date with a time (`2026-01-05T10:00:00Z`, also with a space for `T`), for
/// instant equality; a date alone (`2026-01-05`) compares as text.
fn parse_instant(text: &str) -> Option<Nanos> {
    let t = text.trim();
    if t.len() < 16 || !matches!(t.as_bytes()[10], b'T' | b't' | b' ') {
        return None;
    }
    parse_timestamp(t)
}

fn compare(op: Op, ordering: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    match (op, ordering) {
        (_, None) => false,
        (Op::Lt, Some(o)) => o == Less,
        (Op::Le, Some(o)) => o != Greater,
        (Op::Gt, Some(o)) => o == Greater,
        (Op::Ge, Some(o)) => o != Less,
        _ => false,
    }
}

pub fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
    {
        return None;
    }
    t.parse().ok()
}

fn first_line(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| text.lines().next().unwrap_or(""))
        .to_string()
}

/// Matches `s` against the pieces of a `*` glob: first piece is a prefix, last a suffix,
/// the rest must appear in order between them.
pub fn glob_match(parts: &[String], s: &str) -> bool {
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    if parts.len() == 1 {
        return s == first;
    }
    if !s.starts_with(first.as_str()) || s.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &s[first.len()..];
    if !rest.ends_with(last.as_str()) {
        return false;
    }
    rest = &rest[..rest.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle.as_str()) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(p: &str) -> Vec<String> {
        p.split('*').map(str::to_string).collect()
    }

    #[test]
    fn globs() {
        assert!(glob_match(&parts("system:*"), "system:node:a"));
        assert!(!glob_match(&parts("system:*"), "alice"));
        assert!(glob_match(&parts("*admin*"), "kubernetes-admin"));
        assert!(glob_match(&parts("a*b*c"), "a-b-c"));
        assert!(!glob_match(&parts("a*b*c"), "a-c-b"));
        assert!(!glob_match(&parts("ab*ba"), "aba"));
        assert!(glob_match(&parts("*"), "anything"));
    }

    #[test]
    fn bad_regex_points_at_value() {
        let err = Pattern::compile(Op::Match, "(", Span::new(4, 5)).unwrap_err();
        assert!(err.message.contains("invalid regular expression"));
        assert_eq!(err.span, Span::new(4, 5));
    }

    #[test]
    fn comparison_needs_number_or_time() {
        assert!(matches!(
            Pattern::compile(Op::Ge, "400", Span::default()),
            Ok(Pattern::Number(_))
        ));
        assert!(matches!(
            Pattern::compile(Op::Lt, "2026-01-05T10:00:00Z", Span::default()),
            Ok(Pattern::Time(_))
        ));
        assert!(Pattern::compile(Op::Lt, "abc", Span::default()).is_err());
    }
}
