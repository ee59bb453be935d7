//! Splits query text into tokens: parentheses, `and`/`or`/`not`, and whole terms.
//!
//! A term is lexed as one token (`field OP value[,value…]`) because its parts follow
//! different rules: fields may hold quoted path segments, values may hold parentheses.

use super::ast::Op;
use super::error::{QueryError, Span};

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Term(RawTerm),
    /// `@name`: a preset (the name without `@`).
    Preset(String),
}

/// A term before its field is resolved and its values compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTerm {
    pub field: String,
    pub field_span: Span,
    pub op: Op,
    pub op_span: Span,
    pub values: Vec<(String, Span)>,
}

pub fn tokenize(text: &str) -> Result<Vec<(Token, Span)>, QueryError> {
    let mut lexer = Lexer { text, pos: 0 };
    let mut tokens = Vec::new();
    while let Some(token) = lexer.next_token()? {
        tokens.push(token);
    }
    Ok(tokens)
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

const OPERATOR_START: &[char] = &['=', '!', '~', '<', '>'];

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn next_token(&mut self) -> Result<Option<(Token, Span)>, QueryError> {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += self.peek().map_or(1, char::len_utf8);
        }
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let single = |tok| Some((tok, Span::new(start, start + 1)));
        match c {
            '(' => {
                self.pos += 1;
                Ok(single(Token::LParen))
            }
            ')' => {
                self.pos += 1;
                Ok(single(Token::RParen))
            }
            '!' if !matches!(self.text[start + 1..].chars().next(), Some('=' | '~')) => {
                self.pos += 1;
                Ok(single(Token::Not))
            }
            _ => self.word_or_term(start).map(Some),
        }
    }

    fn word_or_term(&mut self, start: usize) -> Result<(Token, Span), QueryError> {
        let field_end = self.scan_field()?;
        let field = &self.text[start..field_end];
        let field_span = Span::new(start, field_end);
        let at_operator = self.peek().is_some_and(|c| OPERATOR_START.contains(&c));
        if !at_operator {
            if let Some(name) = field.strip_prefix('@') {
                return preset(name, field_span);
            }
            return match field.to_ascii_lowercase().as_str() {
                "and" | "&&" => Ok((Token::And, field_span)),
                "or" | "||" => Ok((Token::Or, field_span)),
                "not" => Ok((Token::Not, field_span)),
                _ => Err(bare_word(field, field_span)),
            };
        }
        if field.is_empty() {
            return Err(QueryError::new(
                "missing field name before the operator",
                Span::new(start, start + 1),
            )
            .with_hint("a term is field=value, e.g. verb=delete"));
        }
        let (op, op_span) = self.scan_operator();
        let values = self.scan_values(op, op_span)?;
        let span = Span::new(start, self.pos);
        Ok((
            Token::Term(RawTerm {
                field: field.to_string(),
                field_span,
                op,
                op_span,
                values,
            }),
            span,
        ))
    }

    /// A field runs to the operator; quoted segments (`annotations."a.b/c"`) are skipped whole.
    fn scan_field(&mut self) -> Result<usize, QueryError> {
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == '(' || c == ')' || OPERATOR_START.contains(&c) {
                break;
            }
            if c == '"' || c == '\'' {
                self.skip_quoted(c)?;
            } else {
                self.pos += c.len_utf8();
            }
        }
        Ok(self.pos)
    }

    fn skip_quoted(&mut self, quote: char) -> Result<String, QueryError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.pos += c.len_utf8();
            if c == quote {
                return Ok(out);
            }
            if c == '\\' {
                if let Some(next) = self.peek().filter(|n| *n == quote || *n == '\\') {
                    self.pos += 1;
                    out.push(next);
                    continue;
                }
            }
            out.push(c);
        }
        Err(
            QueryError::new("unterminated quote", Span::new(start, self.text.len()))
                .with_hint(format!("close the value with {quote}")),
        )
    }

    fn scan_operator(&mut self) -> (Op, Span) {
        let start = self.pos;
        let rest = &self.text[start..];
        let (op, len) = [
            ("!=", Op::Ne),
            ("!~", Op::NotMatch),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("=~", Op::Match),
            ("=", Op::Eq),
            ("~", Op::Match),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .iter()
        .find(|(s, _)| rest.starts_with(s))
        .map(|(s, op)| (*op, s.len()))
        .unwrap_or((Op::Eq, 1));
        self.pos += len;
        (op, Span::new(start, self.pos))
    }

    /// Values are comma-separated, except for regexes, where commas belong to the pattern
    /// (`{1,3}`); bare values end at white space or at a `)` that closes a group.
    fn scan_values(&mut self, op: Op, op_span: Span) -> Result<Vec<(String, Span)>, QueryError> {
        let split_commas = !matches!(op, Op::Match | Op::NotMatch);
        let mut values = Vec::new();
        loop {
            let start = self.pos;
            let value = match self.peek() {
                Some(q @ ('"' | '\'')) => self.skip_quoted(q)?,
                _ => self.scan_bare(split_commas),
            };
            let span = Span::new(start, self.pos);
            if value.is_empty() && span.start == span.end {
                return Err(QueryError::new("missing value after the operator", op_span)
                    .with_hint("write a value after the operator, e.g. verb=delete; quote an empty value as ''"));
            }
            values.push((value, span));
            if split_commas && self.peek() == Some(',') {
                self.pos += 1;
                continue;
            }
            return Ok(values);
        }
    }

    fn scan_bare(&mut self, split_commas: bool) -> String {
        let start = self.pos;
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            match c {
                c if c.is_whitespace() => break,
                ',' if split_commas => break,
                '(' => depth += 1,
                ')' if depth == 0 => break,
                ')' => depth -= 1,
                _ => {}
            }
            self.pos += c.len_utf8();
        }
        self.text[start..self.pos].to_string()
    }
}

/// `@name` without an operator after it: a preset. (With an operator, `@timestamp=…`
/// stays a term on a field of that name, as before presets existed.)
fn preset(name: &str, span: Span) -> Result<(Token, Span), QueryError> {
    if name.is_empty() {
        return Err(QueryError::new("missing preset name after `@`", span)
            .with_hint("write @name, e.g. @exec; auditq --presets lists every preset"));
    }
    if let Some(problem) = super::presets::name_problem(name) {
        return Err(QueryError::new(problem, span).with_hint("auditq --presets lists every preset"));
    }
    Ok((Token::Preset(name.to_string()), span))
}

fn bare_word(word: &str, span: Span) -> QueryError {
    let err = QueryError::new(format!("`{word}` is not a comparison"), span);
    if super::fields::VERBS.contains(&word) {
        err.with_hint(format!("did you mean verb={word}?"))
    } else if crate::timefmt::parse_duration(word).is_some() {
        err.with_hint(format!(
            "a time bucket is written --timeline={word} (with `=`); terms look like field=value"
        ))
    } else if word.is_empty() {
        err.with_hint("a term is field=value, e.g. verb=delete")
    } else {
        err.with_hint(format!(
            "a term is field OP value, e.g. user={word}; operators are = != ~ !~ < <= > >="
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<Token> {
        tokenize(text)
            .unwrap()
            .into_iter()
            .map(|(t, _)| t)
            .collect()
    }

    #[test]
    fn lexes_terms_and_keywords() {
        let toks = terms("verb=delete and (ns!=prod or not user~^sys)");
        assert_eq!(toks.len(), 8);
        assert!(
            matches!(&toks[0], Token::Term(t) if t.field == "verb" && t.op == Op::Eq && t.values[0].0 == "delete")
        );
        assert_eq!(toks[1], Token::And);
        assert_eq!(toks[2], Token::LParen);
        assert!(matches!(&toks[3], Token::Term(t) if t.op == Op::Ne));
        assert_eq!(toks[4], Token::Or);
        assert_eq!(toks[5], Token::Not);
        assert!(matches!(&toks[6], Token::Term(t) if t.op == Op::Match && t.values[0].0 == "^sys"));
        assert_eq!(toks[7], Token::RParen);
    }

    #[test]
    fn lexes_operators() {
        for (text, op) in [
            ("code>=400", Op::Ge),
            ("code<=400", Op::Le),
            ("code>400", Op::Gt),
            ("code<400", Op::Lt),
            ("ua!~x", Op::NotMatch),
            ("verb==get", Op::Eq),
        ] {
            assert!(
                matches!(&terms(text)[0], Token::Term(t) if t.op == op),
                "{text}"
            );
        }
    }

    #[test]
    fn lexes_lists_and_quotes() {
        let toks = terms(r#"verb=get,list 'reason'="RBAC: \"x\"" ua~'a b'"#);
        let Token::Term(t) = &toks[0] else { panic!() };
        assert_eq!(
            t.values.iter().map(|v| v.0.as_str()).collect::<Vec<_>>(),
            ["get", "list"]
        );
        let Token::Term(t) = &toks[1] else { panic!() };
        assert_eq!(t.field, "'reason'");
        assert_eq!(t.values[0].0, "RBAC: \"x\"");
        let Token::Term(t) = &toks[2] else { panic!() };
        assert_eq!(t.values[0].0, "a b");
    }

    #[test]
    fn regex_keeps_commas_and_groups() {
        let toks = terms("(uri~^/api/(v1|v2){1,2})");
        assert_eq!(toks.len(), 3);
        assert!(matches!(&toks[1], Token::Term(t) if t.values[0].0 == "^/api/(v1|v2){1,2}"));
    }

    #[test]
    fn not_versus_not_equal() {
        let toks = terms("!verb=get");
        assert_eq!(toks[0], Token::Not);
        let toks = terms("verb!=get");
        assert_eq!(toks.len(), 1);
    }

    #[test]
    fn lexes_presets() {
        let toks = tokenize("@exec ns=prod and not (@secrets-read or @a_b)").unwrap();
        assert_eq!(toks[0], (Token::Preset("exec".into()), Span::new(0, 5)));
        assert_eq!(toks[5].0, Token::Preset("secrets-read".into()));
        assert_eq!(toks[7].0, Token::Preset("a_b".into()));
        assert_eq!(terms("@exec(ns=a)")[0], Token::Preset("exec".into()));
        // With an operator, `@…` is a field, as it was before presets.
        assert!(matches!(&terms("@timestamp=x")[0], Token::Term(t) if t.field == "@timestamp"));
        let err = tokenize("verb=get @").unwrap_err();
        assert!(err.message.contains("missing preset name"));
        assert_eq!(err.span, Span::new(9, 10));
        let err = tokenize("@a.b").unwrap_err();
        assert!(
            err.message.contains("invalid preset name"),
            "{}",
            err.message
        );
        assert_eq!(err.span, Span::new(0, 4));
    }

    #[test]
    fn bare_duration_hints_at_timeline() {
        let err = tokenize("5m").unwrap_err();
        assert!(err.hint.unwrap().contains("--timeline=5m"));
        let err = tokenize("500ms").unwrap_err();
        assert!(err.hint.unwrap().contains("--timeline=500ms"));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let err = tokenize("verb=").unwrap_err();
        assert!(err.message.contains("missing value"));
        assert_eq!(err.span, Span::new(4, 5));
        let err = tokenize("delete").unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean verb=delete?"));
        let err = tokenize("user='alice").unwrap_err();
        assert!(err.message.contains("unterminated"));
        let err = tokenize("=x").unwrap_err();
        assert!(err.message.contains("missing field"));
    }
}
