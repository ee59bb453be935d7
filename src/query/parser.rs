//! Recursive-descent parser: `or` binds loosest, then `and` (also implied by a space),
//! then `not`/`!`, then parentheses and terms.

use super::ast::{Expr, Op, Term};
use super::error::{QueryError, Span};
use super::fields;
use super::lexer::{RawTerm, Token, tokenize};
use super::value::Pattern;

/// Parses one query text.
pub fn parse_text(text: &str) -> Result<Expr, QueryError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        end: text.len(),
    };
    if parser.tokens.is_empty() {
        return Ok(Expr::All);
    }
    let expr = parser.or_expr()?;
    match parser.tokens.get(parser.pos) {
        None => Ok(expr),
        Some((Token::RParen, span)) => {
            Err(QueryError::new("unmatched `)`", *span)
                .with_hint("remove it or add the `(` it closes"))
        }
        Some((_, span)) => Err(QueryError::new("unexpected token", *span)),
    }
}

struct Parser {
    tokens: Vec<(Token, Span)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn span_here(&self) -> Span {
        self.tokens
            .get(self.pos)
            .map(|(_, s)| *s)
            .unwrap_or(Span::new(self.end, self.end + 1))
    }

    fn or_expr(&mut self) -> Result<Expr, QueryError> {
        let mut parts = vec![self.and_expr()?];
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            parts.push(self.and_expr()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and_expr(&mut self) -> Result<Expr, QueryError> {
        let mut parts = vec![self.unary()?];
        loop {
            match self.peek() {
                Some(Token::And) => self.pos += 1,
                Some(Token::Term(_) | Token::Not | Token::LParen) => {}
                _ => break,
            }
            parts.push(self.unary()?);
        }
        Ok(Expr::and(parts))
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        if self.peek() == Some(&Token::Not) {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let span = self.span_here();
        let Some((token, _)) = self.tokens.get(self.pos).cloned() else {
            return Err(QueryError::new("the query ends too early", span)
                .with_hint("a term like verb=delete is missing here"));
        };
        self.pos += 1;
        match token {
            Token::LParen => {
                let inner = self.or_expr()?;
                if self.peek() != Some(&Token::RParen) {
                    return Err(
                        QueryError::new("unclosed `(`", span).with_hint("add the missing `)`")
                    );
                }
                self.pos += 1;
                Ok(inner)
            }
            Token::Term(raw) => build_term(raw),
            Token::RParen => Err(QueryError::new("unexpected `)`", span)),
            Token::And | Token::Or => Err(QueryError::new(
                "`and`/`or` needs a term on both sides",
                span,
            )
            .with_hint("e.g. verb=delete or verb=update")),
            Token::Not => unreachable_not(span),
        }
    }
}

fn unreachable_not(span: Span) -> Result<Expr, QueryError> {
    Err(QueryError::new("`not` needs a term after it", span))
}

/// Resolves the field and compiles each value; `resource=pods/exec` becomes
/// `resource=pods and subresource=exec`, the way people write it in RBAC rules, and a
/// regex with a `/` on `resource` is matched against `resource/subresource` as a whole.
fn build_term(raw: RawTerm) -> Result<Expr, QueryError> {
    let mut field = fields::resolve(&raw.field, raw.field_span)?;
    let has_slash = raw.values.iter().any(|(v, _)| v.contains('/'));
    if raw.field == "resource" && has_slash {
        match raw.op {
            Op::Match | Op::NotMatch => field = fields::FieldRef::resource_path(&raw.field),
            _ => return resource_with_subresource(raw),
        }
    }
    let patterns = raw
        .values
        .iter()
        .map(|(text, span)| Pattern::compile(raw.op, text, *span))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Expr::Term(Term {
        field,
        op: raw.op,
        patterns,
    }))
}

fn resource_with_subresource(raw: RawTerm) -> Result<Expr, QueryError> {
    let (op, negated) = raw.op.positive();
    let mut alternatives = Vec::new();
    for (text, span) in &raw.values {
        let mut parts = Vec::new();
        let (resource, sub) = match text.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (text.as_str(), None),
        };
        for (name, value) in [("resource", Some(resource)), ("subresource", sub)] {
            let Some(value) = value else { continue };
            parts.push(Expr::Term(Term {
                field: fields::resolve(name, raw.field_span)?,
                op,
                patterns: vec![Pattern::compile(op, value, *span)?],
            }));
        }
        alternatives.push(Expr::and(parts));
    }
    let any = if alternatives.len() == 1 {
        alternatives.remove(0)
    } else {
        Expr::Or(alternatives)
    };
    Ok(if negated || raw.op == Op::Ne {
        Expr::Not(Box::new(any))
    } else {
        any
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(expr: &Expr) -> String {
        match expr {
            Expr::All => "*".into(),
            Expr::And(p) => format!(
                "(and {})",
                p.iter().map(shape).collect::<Vec<_>>().join(" ")
            ),
            Expr::Or(p) => format!("(or {})", p.iter().map(shape).collect::<Vec<_>>().join(" ")),
            Expr::Not(e) => format!("(not {})", shape(e)),
            Expr::Term(t) => format!("{}{}", t.field.name, t.op.as_str()),
        }
    }

    fn parsed(text: &str) -> String {
        shape(&parse_text(text).unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn precedence() {
        assert_eq!(
            parsed("verb=a or verb=b ns=c"),
            "(or verb= (and verb= ns=))"
        );
        assert_eq!(
            parsed("verb=a and verb=b or ns=c"),
            "(or (and verb= verb=) ns=)"
        );
        assert_eq!(
            parsed("(verb=a or verb=b) ns=c"),
            "(and (or verb= verb=) ns=)"
        );
        assert_eq!(parsed("not verb=a ns=b"), "(and (not verb=) ns=)");
        assert_eq!(parsed("!(verb=a or ns=b)"), "(not (or verb= ns=))");
        assert_eq!(parsed(""), "*");
        assert_eq!(parsed("   "), "*");
    }

    #[test]
    fn resource_slash_expands() {
        assert_eq!(parsed("resource=pods/exec"), "(and resource= subresource=)");
        assert_eq!(
            parsed("resource=pods/exec,secrets"),
            "(or (and resource= subresource=) resource=)"
        );
        assert_eq!(
            parsed("resource!=pods/exec"),
            "(not (and resource= subresource=))"
        );
        assert_eq!(parsed("resource~^pods/exec$"), "resource~");
        assert_eq!(parsed("resource!~pods/"), "resource!~");
    }

    #[test]
    fn structural_errors() {
        let err = parse_text("(verb=a").unwrap_err();
        assert!(err.message.contains("unclosed"));
        assert_eq!(err.span, Span::new(0, 1));
        let err = parse_text("verb=a)").unwrap_err();
        assert!(err.message.contains("unmatched"));
        let err = parse_text("verb=a or").unwrap_err();
        assert!(err.message.contains("ends too early"));
        let err = parse_text("or verb=a").unwrap_err();
        assert!(err.message.contains("both sides"));
        let err = parse_text("usr=alice").unwrap_err();
        assert_eq!(err.span, Span::new(0, 3));
        let err = parse_text("ua~'('").unwrap_err();
        assert_eq!(err.span, Span::new(3, 6));
    }
}
