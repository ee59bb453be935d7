//! The parsed query: a boolean tree of comparisons on event fields.

use super::fields::FieldRef;
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Match,
    NotMatch,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Match => "~",
            Op::NotMatch => "!~",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// `!=` and `!~` are the negations of `=` and `~`, which keeps the rule for missing
    /// fields and arrays simple: `a!=v` is exactly `not a=v`.
    pub fn positive(self) -> (Op, bool) {
        match self {
            Op::Ne => (Op::Eq, true),
            Op::NotMatch => (Op::Match, true),
            other => (other, false),
        }
    }
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
