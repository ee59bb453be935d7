//! The parsed query: a boolean tree of comparisons on event fields.

use super::error::Span;
use super::fields::FieldRef;
pub use super::op::Op;
use super::value::Pattern;

/// A boolean expression over one audit event.
#[derive(Debug, Clone)]
pub enum Expr {
    /// Matches every event (the empty query).
    All,
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Term(Term),
}

/// `field OP value[,value…]`: true if the field holds a value that satisfies the operator
/// for any of the listed values.
#[derive(Debug, Clone)]
pub struct Term {
    pub field: FieldRef,
    pub op: Op,
    pub patterns: Vec<Pattern>,
    /// Where the term is in the query part it came from (a term of a preset: the
    /// `@name`), for errors about it found after parsing (`auditq sql`).
    pub span: Span,
}

impl Expr {
    /// Combines expressions with AND, flattening and dropping `All`.
    pub fn and(parts: Vec<Expr>) -> Expr {
        let mut flat = Vec::new();
        for part in parts {
            match part {
                Expr::All => {}
                Expr::And(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        match flat.len() {
            0 => Expr::All,
            1 => flat.pop().unwrap_or(Expr::All),
            _ => Expr::And(flat),
        }
    }
}

impl Expr {
    /// Points every term at `span` (the terms of a preset, at its `@name`).
    pub fn set_spans(&mut self, span: Span) {
        match self {
            Expr::All => {}
            Expr::And(parts) | Expr::Or(parts) => parts.iter_mut().for_each(|p| p.set_spans(span)),
            Expr::Not(inner) => inner.set_spans(span),
            Expr::Term(term) => term.span = span,
        }
    }

    /// The earliest event time (`time`: `requestReceivedTimestamp`, or `timestamp` in old
    /// events) a matching event can have, when the expression implies one: what lets an
    /// archive search skip files that end before it.
    pub fn time_lower_bound(&self) -> Option<crate::timefmt::Nanos> {
        match self {
            Expr::All | Expr::Not(_) => None,
            Expr::And(parts) => parts.iter().filter_map(Expr::time_lower_bound).max(),
            Expr::Or(parts) => parts
                .iter()
                .map(Expr::time_lower_bound)
                .collect::<Option<Vec<_>>>()?
                .into_iter()
                .min(),
            Expr::Term(term) => term.time_lower_bound(),
        }
    }
}

impl Term {
    fn time_lower_bound(&self) -> Option<crate::timefmt::Nanos> {
        let time_paths = |p: &Vec<String>| matches!(p.as_slice(), [one] if one == "requestReceivedTimestamp" || one == "timestamp");
        if self.field.computed.is_some() || !self.field.paths.iter().all(time_paths) {
            return None;
        }
        let bounds: Vec<crate::timefmt::Nanos> = self
            .patterns
            .iter()
            .map(|p| match (self.op, p) {
                (Op::Ge | Op::Gt, Pattern::Time(t)) => Some(*t),
                (Op::Eq, Pattern::Exact { time: Some(t), .. }) => Some(*t),
                _ => None,
            })
            .collect::<Option<_>>()?;
        bounds.into_iter().min()
    }
}

#[cfg(test)]
mod tests {
    use crate::query::parse_query;
    use crate::timefmt::parse_timestamp;

    fn bound(q: &str) -> Option<i128> {
        parse_query(&[q.to_string()]).unwrap().time_lower_bound()
    }

    #[test]
    fn lower_time_bounds() {
        let t = |s: &str| parse_timestamp(s);
        assert_eq!(
            bound("time>=2026-01-05T10:00:00Z verb=get"),
            t("2026-01-05T10:00:00Z")
        );
        assert_eq!(
            bound("time>=2026-01-05T10:00:00Z time>2026-01-05T11:00:00Z"),
            t("2026-01-05T11:00:00Z")
        );
        assert_eq!(
            bound("time>=2026-01-05T10:00:00Z or time>=2026-01-05T09:00:00Z"),
            t("2026-01-05T09:00:00Z")
        );
        assert_eq!(bound("time>=2026-01-05T10:00:00Z or verb=get"), None);
        assert_eq!(bound("not time<2026-01-05T10:00:00Z"), None);
        assert_eq!(bound("time<=2026-01-05T10:00:00Z"), None);
        assert_eq!(
            bound("requestReceivedTimestamp>=2026-01-05T10:00:00Z"),
            t("2026-01-05T10:00:00Z")
        );
        assert_eq!(bound("stageTimestamp>=2026-01-05T10:00:00Z"), None);
    }
}
