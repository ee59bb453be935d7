//! Query errors that point at the problem: the query text, a caret line, a hint.

use std::fmt;

/// A byte range in the query text, used to draw the caret line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
}

/// What went wrong in a query, where, and what to try instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub message: String,
    pub span: Span,
    pub hint: Option<String>,
    /// The query text the span refers to (filled in by [`crate::query::parse`]).
    pub query: String,
}

impl QueryError {
    pub fn new(message: impl Into<String>, span: Span) -> Self {
        QueryError {
            message: message.into(),
            span,
            hint: None,
            query: String::new(),
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for QueryError {
    /// Renders like a compiler diagnostic so the user sees exactly which part to fix:
    ///
    /// ```text
    /// invalid query: unknown field `usr`
    ///   usr=alice
    ///   ^^^
    ///   hint: did you mean `user`?
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid query: {}", self.message)?;
        let line: String = self
            .query
            .chars()
            .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
            .collect();
        writeln!(f, "  {line}")?;
        let start = self.query[..self.span.start.min(self.query.len())]
            .chars()
            .count();
        let end = self.span.end.clamp(self.span.start, self.query.len());
        let width = self.query[self.span.start.min(end)..end]
            .chars()
            .count()
            .max(1);
        write!(f, "  {}{}", " ".repeat(start), "^".repeat(width))?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for QueryError {}
