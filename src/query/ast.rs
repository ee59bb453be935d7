//! The parsed query: a boolean tree of comparisons on event fields.

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
