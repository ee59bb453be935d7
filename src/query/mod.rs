//! The query language: `verb=delete resource=secrets`, `user~^system: or code>=400`.
//!
//! lexer → parser → [`Expr`] (evaluated against a parsed event in [`eval`]).

pub(crate) mod ast;
pub mod error;
pub(crate) mod eval;
pub mod fields;
pub(crate) mod hints;
pub(crate) mod lexer;
pub(crate) mod op;
pub(crate) mod parser;
pub(crate) mod presets;
pub(crate) mod value;

pub use ast::{Expr, Op, Term};
pub use error::{QueryError, Span};
pub use presets::Presets;

/// Parses the query parts given on the command line and joins them with AND; `@name`
/// means a built-in preset.
///
/// Each part is parsed on its own, so `'verb=get or verb=list' ns=prod` means
/// `(verb=get or verb=list) and ns=prod`, as a shell user expects.
pub fn parse_query(parts: &[String]) -> Result<Expr, QueryError> {
    parse_query_with(parts, &Presets::builtin())
}

/// [`parse_query`] with the presets of `presets` (built-ins and a user's file).
pub fn parse_query_with(parts: &[String], presets: &Presets) -> Result<Expr, QueryError> {
    let mut exprs = Vec::with_capacity(parts.len());
    for part in parts {
        let expr = parser::parse_text_with(part, presets).map_err(|mut e| {
            e.query = part.clone();
            e
        })?;
        exprs.push(expr);
    }
    Ok(Expr::and(exprs))
}
