//! Recursive-descent parser: `or` binds loosest, then `and` (also implied by a space),
//! then `not`/`!`, then parentheses, terms and presets (`@name`, expanded to the parsed
//! expression of the preset's query, as if parenthesised).

use super::ast::{Expr, Op, Term};
use super::error::{QueryError, Span};
use super::fields;
use super::lexer::{RawTerm, Token, tokenize};
use super::presets::{self, Presets};
use super::value::Pattern;

/// Parses one query text, with the built-in presets.
#[cfg(test)]
pub fn parse_text(text: &str) -> Result<Expr, QueryError> {
    parse_text_with(text, &Presets::builtin())
}

/// Parses one query text; `@name` is looked up in `presets`.
pub fn parse_text_with(text: &str, presets: &Presets) -> Result<Expr, QueryError> {
    parse(text, presets, &mut Vec::new()).map_err(Failure::into_error)
}

/// Parses the query of preset `name` (a preset file is checked this way when it is
/// loaded); a cycle back to `name` is named from it. Spans point into its query.
pub fn parse_preset(name: &str, presets: &Presets) -> Result<Expr, QueryError> {
    let Some(preset) = presets.get(name) else {
        return Err(presets::unknown(name, presets, Span::default()));
    };
    parse(&preset.query, presets, &mut vec![name.to_string()]).map_err(Failure::into_error)
}

/// Why parsing failed: a mistake in the text being parsed (its span points into that
/// text), or one inside a preset it uses (already worded; its span is moved to the
/// outermost `@name` on the way up, since that is what the user wrote).
enum Failure {
    Here(QueryError),
    InPreset(QueryError),
}

impl Failure {
    fn into_error(self) -> QueryError {
        match self {
            Failure::Here(e) | Failure::InPreset(e) => e,
        }
    }
}

impl From<QueryError> for Failure {
    fn from(e: QueryError) -> Self {
        Failure::Here(e)
    }
}

/// Parses `text`; `stack` holds the presets being expanded (outermost first).
fn parse(text: &str, presets: &Presets, stack: &mut Vec<String>) -> Result<Expr, Failure> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        end: text.len(),
        presets,
        stack,
    };
    if parser.tokens.is_empty() {
        return Ok(Expr::All);
    }
    let expr = parser.or_expr()?;
    match parser.tokens.get(parser.pos) {
        None => Ok(expr),
        Some((Token::RParen, span)) => Err(QueryError::new("unmatched `)`", *span)
            .with_hint("remove it or add the `(` it closes")
            .into()),
        Some((_, span)) => Err(QueryError::new("unexpected token", *span).into()),
    }
}

struct Parser<'p, 's> {
    tokens: Vec<(Token, Span)>,
    pos: usize,
    end: usize,
    presets: &'p Presets,
    stack: &'s mut Vec<String>,
}

impl Parser<'_, '_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn span_here(&self) -> Span {
        self.tokens
            .get(self.pos)
            .map(|(_, s)| *s)
            .unwrap_or(Span::new(self.end, self.end + 1))
    }

    fn or_expr(&mut self) -> Result<Expr, Failure> {
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

    fn and_expr(&mut self) -> Result<Expr, Failure> {
        let mut parts = vec![self.unary()?];
        loop {
            match self.peek() {
                Some(Token::And) => self.pos += 1,
                Some(Token::Term(_) | Token::Preset(_) | Token::Not | Token::LParen) => {}
                _ => break,
            }
            parts.push(self.unary()?);
        }
        Ok(Expr::and(parts))
    }

    fn unary(&mut self) -> Result<Expr, Failure> {
        if self.peek() == Some(&Token::Not) {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, Failure> {
        let span = self.span_here();
        let Some((token, _)) = self.tokens.get(self.pos).cloned() else {
            return Err(QueryError::new("the query ends too early", span)
                .with_hint("a term like verb=delete is missing here")
                .into());
        };
        self.pos += 1;
        match token {
            Token::LParen => {
                let inner = self.or_expr()?;
                if self.peek() != Some(&Token::RParen) {
                    return Err(QueryError::new("unclosed `(`", span)
                        .with_hint("add the missing `)`")
                        .into());
                }
                self.pos += 1;
                Ok(inner)
            }
            Token::Term(raw) => Ok(build_term(raw)?),
            Token::Preset(name) => self.preset(&name, span),
            Token::RParen => Err(QueryError::new("unexpected `)`", span).into()),
            Token::And | Token::Or => Err(QueryError::new(
                "`and`/`or` needs a term on both sides",
                span,
            )
            .with_hint("e.g. verb=delete or verb=update")
            .into()),
            Token::Not => Err(unreachable_not(span).into()),
        }
    }

    /// `@name` at `span`: the parsed query of the preset. A cycle, or a mistake inside
    /// the preset (or a preset it uses), is reported at `span`.
    fn preset(&mut self, name: &str, span: Span) -> Result<Expr, Failure> {
        let Some(preset) = self.presets.get(name) else {
            return Err(presets::unknown(name, self.presets, span).into());
        };
        if let Some(at) = self.stack.iter().position(|n| n == name) {
            let chain: Vec<String> = self.stack[at..]
                .iter()
                .chain(std::iter::once(&name.to_string()))
                .map(|n| format!("@{n}"))
                .collect();
            return Err(Failure::InPreset(
                QueryError::new(format!("preset cycle: {}", chain.join(" → ")), span)
                    .with_hint("a preset cannot use itself, directly or through other presets"),
            ));
        }
        self.stack.push(name.to_string());
        let result = parse(&preset.query, self.presets, self.stack);
        let chain: Vec<String> = self.stack.iter().map(|n| format!("@{n}")).collect();
        self.stack.pop();
        let result = result.map(|mut expr| {
            expr.set_spans(span);
            expr
        });
        result.map_err(|failure| match failure {
            Failure::Here(inner) => {
                let mut e = QueryError::new(
                    format!(
                        "in preset {} (`{}`): {}",
                        chain.join(" → "),
                        preset.query,
                        inner.message
                    ),
                    span,
                );
                e.hint = inner.hint;
                Failure::InPreset(e)
            }
            Failure::InPreset(mut e) => {
                e.span = span;
                Failure::InPreset(e)
            }
        })
    }
}

fn unreachable_not(span: Span) -> QueryError {
    QueryError::new("`not` needs a term after it", span)
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
        span: term_span(&raw),
    }))
}

/// From the field to the last value.
fn term_span(raw: &RawTerm) -> Span {
    let end = raw.values.last().map_or(raw.op_span.end, |(_, s)| s.end);
    Span::new(raw.field_span.start, end.max(raw.field_span.end))
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
                span: term_span(&raw),
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

    fn with_presets(toml: &str) -> Presets {
        let mut p = Presets::builtin();
        p.add_toml(toml, std::path::Path::new("p.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        p
    }

    #[test]
    fn presets_expand_as_one_parenthesised_term() {
        assert_eq!(parsed("@forbidden"), "code=");
        assert_eq!(parsed("@anonymous ns=a"), "(and (or user= group=) ns=)");
        assert_eq!(parsed("not @anonymous"), "(not (or user= group=))");
        assert_eq!(
            parsed("verb=a or @anonymous"),
            "(or verb= (or user= group=))"
        );
        assert_eq!(parsed("@deletions @forbidden"), "(and verb= code=)");
        assert_eq!(
            parsed("@secrets-read and not user=system:*"),
            "(and resource= verb= (not user=) (not user=))"
        );
    }

    #[test]
    fn presets_use_presets() {
        let p = with_presets(
            "[presets.team]\nquery = \"ns=team-a @deletions\"\n\
             [presets.team-noisy]\nquery = \"@team or @forbidden\"\n",
        );
        let e = parse_text_with("@team-noisy user=x", &p).unwrap();
        assert_eq!(shape(&e), "(and (or (and ns= verb=) code=) user=)");
    }

    #[test]
    fn unknown_presets_point_at_the_name() {
        let err = parse_text("verb=get @exc").unwrap_err();
        assert_eq!(err.message, "unknown preset `@exc`");
        assert_eq!(err.span, Span::new(9, 13));
        assert!(err.hint.unwrap().contains("did you mean `@exec`?"));
        let err = parse_text("@nothing-like-this").unwrap_err();
        assert_eq!(
            err.hint.as_deref(),
            Some("auditq --presets lists every preset")
        );
    }

    /// Preset files are checked when loaded, so these registries are built by hand.
    fn unchecked(entries: &[(&str, &str)]) -> Presets {
        let mut text = String::new();
        for (name, query) in entries {
            text.push_str(&format!("[presets.{name}]\nquery = '{query}'\n"));
        }
        let mut p = Presets::builtin();
        let _ = p.add_toml(&text, std::path::Path::new("p.toml"));
        p
    }

    #[test]
    fn cycles_are_named() {
        let p = unchecked(&[("a", "verb=get @b"), ("b", "ns=x or @a"), ("c", "@c")]);
        let err = parse_text_with("user=x @a", &p).unwrap_err();
        assert_eq!(err.message, "preset cycle: @a → @b → @a");
        assert_eq!(err.span, Span::new(7, 9));
        let err = parse_text_with("(@b)", &p).unwrap_err();
        assert_eq!(err.message, "preset cycle: @b → @a → @b");
        assert_eq!(err.span, Span::new(1, 3));
        let err = parse_text_with("@c", &p).unwrap_err();
        assert_eq!(err.message, "preset cycle: @c → @c");
        let err = parse_preset("a", &p).unwrap_err();
        assert_eq!(err.message, "preset cycle: @a → @b → @a");
        assert_eq!(err.span, Span::new(9, 11), "points at @b in a's query");
        // The same preset twice, not nested, is no cycle.
        let p = unchecked(&[("d", "@forbidden or @forbidden")]);
        assert_eq!(
            shape(&parse_text_with("@d @d", &p).unwrap()),
            "(and (or code= code=) (or code= code=))"
        );
    }

    #[test]
    fn mistakes_inside_presets_point_at_the_outer_name() {
        let p = unchecked(&[("bad", "usr=x"), ("outer", "verb=get @bad")]);
        let err = parse_text_with("ns=a @outer", &p).unwrap_err();
        assert_eq!(
            err.message,
            "in preset @outer → @bad (`usr=x`): unknown field `usr`"
        );
        assert_eq!(err.span, Span::new(5, 11));
        assert!(err.hint.unwrap().contains("did you mean `user`"));
        let p = unchecked(&[("typo", "@exc")]);
        let err = parse_text_with("@typo", &p).unwrap_err();
        assert_eq!(
            err.message,
            "in preset @typo (`@exc`): unknown preset `@exc`"
        );
        assert_eq!(err.span, Span::new(0, 5));
    }
}
