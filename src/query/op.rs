//! The comparison operators of a term (its own module: both the tree and the compiled
//! values use it).

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
