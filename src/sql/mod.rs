//! `auditq sql`: the query language compiled into SQL over the exported table
//! (docs/scale-out.md), for DuckDB, ClickHouse, Spark, Trino and BigQuery, returning
//! exactly the events (or counts) auditq returns on the raw log.
//!
//! Every term is two-valued (`COALESCE(…, FALSE)`), so `not` and `!=` keep auditq's rule
//! that a missing field satisfies nothing; a typed column is used only where the row's
//! `complex` bit says it holds the field's one scalar (or list of scalars), otherwise the
//! term is evaluated on `leaves` with the walk's semantics; regexes and globs are written
//! for the engine's regex dialect ([`regex`]). What cannot be said exactly is refused.

pub(crate) mod regex;

use crate::query::fields::{FieldRef, canonical_path};
use crate::query::value::Pattern;
use crate::query::{Expr, Op, QueryError, Term};
use crate::table::{self, Shape, Typed};
use std::fmt::Write;

/// The SQL engines `auditq sql` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dialect {
    #[value(name = "duckdb")]
    DuckDb,
    #[value(name = "clickhouse")]
    ClickHouse,
    Spark,
    Trino,
    #[value(name = "bigquery")]
    BigQuery,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::DuckDb => "DuckDB",
            Dialect::ClickHouse => "ClickHouse",
            Dialect::Spark => "Spark",
            Dialect::Trino => "Trino",
            Dialect::BigQuery => "BigQuery",
        }
    }

    /// DuckDB, ClickHouse and BigQuery match with RE2; Spark with `java.util.regex`;
    /// Trino with Joni (Ruby's syntax).
    fn regex_is_re2(self) -> bool {
        matches!(
            self,
            Dialect::DuckDb | Dialect::ClickHouse | Dialect::BigQuery
        )
    }

    /// Backslashes are escapes in string literals (else only `''` is).
    fn backslash_escapes(self) -> bool {
        matches!(
            self,
            Dialect::ClickHouse | Dialect::Spark | Dialect::BigQuery
        )
    }
}

/// What the statement returns.
#[derive(Debug, Clone)]
pub enum Output {
    /// The events' `raw` text, in auditq's order.
    Events,
    /// One row: `count`.
    Count,
    /// The key fields' texts and `count`, most frequent first.
    CountBy(Vec<FieldRef>),
}

/// A string literal for `dialect`.
pub fn literal(text: &str, dialect: Dialect) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\'' if dialect.backslash_escapes() => out.push_str("\\'"),
            '\'' => out.push_str("''"),
            '\\' if dialect.backslash_escapes() => out.push_str("\\\\"),
            c if dialect.backslash_escapes() && (c.is_control()) => match c {
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if dialect == Dialect::ClickHouse => {
                    // ClickHouse reads `\xHH` as a byte: the character's UTF-8 bytes.
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(out, "\\x{b:02X}");
                    }
                }
                c => {
                    let _ = write!(out, "\\u{:04X}", c as u32);
                }
            },
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A number the engine reads as the same DOUBLE (`4e2`, `1.5e-1`).
fn number(n: f64, span: crate::query::Span) -> Result<String, QueryError> {
    if !n.is_finite() {
        return Err(QueryError::new(
            "this number is infinite: SQL has no literal for it",
            span,
        ));
    }
    Ok(format!("{n:e}"))
}

fn nanos(t: crate::timefmt::Nanos, span: crate::query::Span) -> Result<String, QueryError> {
    i64::try_from(t).map(|t| t.to_string()).map_err(|_| {
        QueryError::new(
            "this time is outside what the table holds (1677 to 2262: INT64 nanoseconds)",
            span,
        )
    })
}

/// The boolean condition for `expr` (two-valued: never NULL).
pub fn condition(expr: &Expr, dialect: Dialect) -> Result<String, QueryError> {
    let mut out = String::new();
    Compiler { dialect }.expr(expr, &mut out)?;
    Ok(out)
}

/// A whole statement over `table` (a table name, or any table expression the engine
/// takes, such as DuckDB's `read_parquet('/data/**/*.parquet')`).
pub fn statement(
    expr: &Expr,
    dialect: Dialect,
    table: &str,
    output: &Output,
) -> Result<String, crate::error::Error> {
    let condition = condition(expr, dialect)?;
    let compiler = Compiler { dialect };
    Ok(match output {
        Output::Events => {
            let (raw, seq) = (compiler.col("raw"), compiler.col("seq"));
            format!("SELECT {raw}\nFROM {table}\nWHERE {condition}\nORDER BY {seq}")
        }
        Output::Count => format!("SELECT count(*) AS count\nFROM {table}\nWHERE {condition}"),
        Output::CountBy(fields) => {
            let mut keys = Vec::new();
            for (i, field) in fields.iter().enumerate() {
                keys.push(format!("{} AS k{}", compiler.key(field)?, i + 1));
            }
            let names: Vec<String> = (1..=fields.len()).map(|i| format!("k{i}")).collect();
            format!(
                "SELECT {}, count(*) AS count\nFROM {table}\nWHERE {condition}\nGROUP BY {}\nORDER BY count DESC, {}",
                keys.join(", "),
                names.join(", "),
                names.join(", ")
            )
        }
    })
}

struct Compiler {
    dialect: Dialect,
}

/// How to read one value of a field in SQL: its text, and where the table has them its
/// number (`num`, with `is_num` for a JSON number) and instant (`ts`).
struct Value<'a> {
    text: &'a str,
    num: Option<&'a str>,
    is_num: Option<&'a str>,
    ts: Option<&'a str>,
}

const LEAF: Value<'static> = Value {
    text: "l.text",
    num: Some("l.num"),
    is_num: Some("l.is_num"),
    ts: Some("l.ts"),
};

impl Compiler {
    fn expr(&self, expr: &Expr, out: &mut String) -> Result<(), QueryError> {
        match expr {
            Expr::All => out.push_str("TRUE"),
            Expr::And(parts) | Expr::Or(parts) => {
                let joiner = if matches!(expr, Expr::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                out.push('(');
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push_str(joiner);
                    }
                    self.expr(part, out)?;
                }
                out.push(')');
            }
            Expr::Not(inner) => {
                out.push_str("(NOT ");
                self.expr(inner, out)?;
                out.push(')');
            }
            Expr::Term(term) => self.term(term, out)?,
        }
        Ok(())
    }

    fn term(&self, term: &Term, out: &mut String) -> Result<(), QueryError> {
        let (op, negated) = term.op.positive();
        let positive = self.positive(term, op)?;
        if negated {
            let _ = write!(out, "(NOT {positive})");
        } else {
            out.push_str(&positive);
        }
        Ok(())
    }

    /// The term with `=` or `~` for `!=` or `!~`: true when a value satisfies it.
    fn positive(&self, term: &Term, op: Op) -> Result<String, QueryError> {
        let field = &term.field;
        if field.computed.is_some() {
            // `resource/subresource`: one text or none.
            let column = self.col("resource_path");
            let value = Value {
                text: &column,
                num: None,
                is_num: None,
                ts: None,
            };
            return self
                .on_value(term, op, &value)?
                .map(|c| self.two_valued(&c))
                .ok_or_else(|| unsupported(term, "this comparison on resource/subresource"));
        }
        if is_time(field) {
            return self.time_term(term, op);
        }
        let path = match field.paths.as_slice() {
            [one] => one,
            _ => return Err(unsupported(term, "this field")),
        };
        let on_leaves = self.on_leaves(term, op, path)?;
        let Some(typed) = table::typed_at(path) else {
            return Ok(on_leaves);
        };
        let typed_condition = match typed.shape {
            Shape::Text if text_only(term) => {
                let column = self.col(typed.column);
                let value = Value {
                    text: &column,
                    num: None,
                    is_num: None,
                    ts: None,
                };
                self.on_value(term, op, &value)?
            }
            Shape::List if text_only(term) => {
                let value = Value {
                    text: "x",
                    num: None,
                    is_num: None,
                    ts: None,
                };
                self.on_value(term, op, &value)?
                    .map(|c| self.exists(&self.col(typed.column), "x", &c))
            }
            Shape::Integer => {
                let column = self.col(typed.column);
                let text = self.cast_text(&column);
                let num = self.cast_double(&column);
                let value = Value {
                    text: &text,
                    num: Some(&num),
                    is_num: Some("TRUE"),
                    ts: None,
                };
                self.on_value(term, op, &value)?
            }
            _ => None,
        };
        Ok(match typed_condition {
            Some(condition) => self.split_on_bit(typed, &condition, &on_leaves),
            None => on_leaves,
        })
    }

    /// `time`: the first of `requestReceivedTimestamp` and `timestamp` present.
    fn time_term(&self, term: &Term, op: Op) -> Result<String, QueryError> {
        let first = vec!["requestReceivedTimestamp".to_string()];
        let second = vec!["timestamp".to_string()];
        let on_first = self.on_leaves(term, op, &first)?;
        let on_second = self.on_leaves(term, op, &second)?;
        let present = self.any_leaf(&canonical_path(&first), "TRUE");
        let on_leaves = format!("(CASE WHEN {present} THEN {on_first} ELSE {on_second} END)");
        let (text, ns) = (self.col("time_text"), self.col("time_ns"));
        let value = Value {
            text: &text,
            num: None,
            is_num: Some("FALSE"),
            ts: Some(&ns),
        };
        Ok(match self.on_value(term, op, &value)? {
            Some(condition) => self.split_on_bit(table::time(), &condition, &on_leaves),
            None => on_leaves,
        })
    }

    /// The typed column's condition when the row's bit is clear, else the leaves'.
    fn split_on_bit(&self, typed: &Typed, condition: &str, on_leaves: &str) -> String {
        let bit = self.bit(typed);
        let condition = self.two_valued(condition);
        format!("(CASE WHEN {bit} = 0 THEN {condition} ELSE {on_leaves} END)")
    }

    /// True when a leaf at `path` satisfies the term.
    fn on_leaves(&self, term: &Term, op: Op, path: &[String]) -> Result<String, QueryError> {
        let condition = self
            .on_value(term, op, &LEAF)?
            .ok_or_else(|| unsupported(term, "this comparison"))?;
        Ok(self.any_leaf(&canonical_path(path), &condition))
    }

    fn any_leaf(&self, path: &str, condition: &str) -> String {
        let condition = format!("l.path = {} AND {}", literal(path, self.dialect), condition);
        self.exists(&self.col("leaves"), "l", &condition)
    }

    /// True when an element `var` of list `column` satisfies `condition` (never NULL).
    fn exists(&self, column: &str, var: &str, condition: &str) -> String {
        let exists = match self.dialect {
            Dialect::DuckDb => {
                format!("len(list_filter({column}, lambda {var}: {condition})) > 0")
            }
            Dialect::ClickHouse => format!("arrayExists({var} -> {condition}, {column})"),
            Dialect::Spark => format!("exists({column}, {var} -> {condition})"),
            Dialect::Trino => format!("any_match({column}, {var} -> {condition})"),
            Dialect::BigQuery => {
                format!("EXISTS(SELECT 1 FROM UNNEST({column}) AS {var} WHERE {condition})")
            }
        };
        self.two_valued(&exists)
    }

    /// A column name, quoted (`user`, `date` and `level` are keywords somewhere).
    fn col(&self, name: &str) -> String {
        match self.dialect {
            Dialect::DuckDb | Dialect::Trino => format!("\"{name}\""),
            _ => format!("`{name}`"),
        }
    }

    fn two_valued(&self, condition: &str) -> String {
        format!("COALESCE({condition}, FALSE)")
    }

    fn cast_text(&self, column: &str) -> String {
        match self.dialect {
            Dialect::ClickHouse => format!("toString({column})"),
            Dialect::BigQuery | Dialect::Spark => format!("CAST({column} AS STRING)"),
            _ => format!("CAST({column} AS VARCHAR)"),
        }
    }

    fn cast_double(&self, column: &str) -> String {
        match self.dialect {
            Dialect::ClickHouse => format!("toFloat64({column})"),
            Dialect::BigQuery => format!("CAST({column} AS FLOAT64)"),
            _ => format!("CAST({column} AS DOUBLE)"),
        }
    }

    /// The condition on one value for any of the term's patterns; `None` when `value`
    /// lacks what a pattern needs (its number or instant).
    fn on_value(&self, term: &Term, op: Op, value: &Value) -> Result<Option<String>, QueryError> {
        let mut any = Vec::new();
        for pattern in &term.patterns {
            match self.pattern(term, op, pattern, value)? {
                Some(c) => any.push(c),
                None => return Ok(None),
            }
        }
        Ok(Some(if any.len() == 1 {
            any.remove(0)
        } else {
            format!("({})", any.join(" OR "))
        }))
    }

    fn pattern(
        &self,
        term: &Term,
        op: Op,
        pattern: &Pattern,
        value: &Value,
    ) -> Result<Option<String>, QueryError> {
        let span = term.span;
        let text = value.text;
        Ok(Some(match pattern {
            Pattern::Exact { time: Some(t), .. } => {
                let Some(ts) = value.ts else { return Ok(None) };
                format!("{ts} = {}", nanos(*t, span)?)
            }
            Pattern::Exact {
                text: want,
                number: Some(n),
                ..
            } => {
                let equal_text = format!("{text} = {}", literal(want, self.dialect));
                match (value.is_num, value.num) {
                    (Some("TRUE"), Some(num)) => format!("{num} = {}", number(*n, span)?),
                    (Some(is_num), Some(num)) => format!(
                        "(({is_num} AND {num} = {}) OR {equal_text})",
                        number(*n, span)?
                    ),
                    _ => return Ok(None),
                }
            }
            Pattern::Exact { text: want, .. } => {
                format!("{text} = {}", literal(want, self.dialect))
            }
            Pattern::Glob { parts } if parts.iter().all(String::is_empty) => {
                // Any value at all (an object too, for leaves).
                if value.text == LEAF.text {
                    "TRUE".to_string()
                } else {
                    format!("{text} IS NOT NULL")
                }
            }
            Pattern::Glob { parts } if parts.len() == 2 && parts[1].is_empty() => {
                self.starts_with(text, &parts[0])
            }
            Pattern::Glob { parts } => self.regex_match(text, &regex::glob(parts)),
            Pattern::Regex(re) => {
                let translated = regex::translate(re.as_str(), self.dialect)
                    .map_err(|regex::Untranslatable(why)| {
                        QueryError::new(
                            format!("this regex cannot be written for {}: {why}", self.dialect.name()),
                            span,
                        )
                        .with_hint("rewrite it without that construct, or run auditq itself on the raw log (for Spark: rdd.pipe through auditq, see docs/scale-out.md)")
                    })?;
                self.regex_match(text, &translated)
            }
            Pattern::Number(n) => {
                let Some(num) = value.num else {
                    return Ok(None);
                };
                format!("{num} {} {}", comparison(op), number(*n, span)?)
            }
            Pattern::Time(t) => {
                let Some(ts) = value.ts else { return Ok(None) };
                format!("{ts} {} {}", comparison(op), nanos(*t, span)?)
            }
        }))
    }

    fn starts_with(&self, text: &str, prefix: &str) -> String {
        let prefix = literal(prefix, self.dialect);
        match self.dialect {
            Dialect::ClickHouse => format!("startsWith({text}, {prefix})"),
            Dialect::BigQuery => format!("STARTS_WITH({text}, {prefix})"),
            Dialect::Spark => format!("startswith({text}, {prefix})"),
            _ => format!("starts_with({text}, {prefix})"),
        }
    }

    fn regex_match(&self, text: &str, regex: &str) -> String {
        let regex = literal(regex, self.dialect);
        match self.dialect {
            Dialect::DuckDb => format!("regexp_matches({text}, {regex})"),
            Dialect::ClickHouse => format!("match({text}, {regex})"),
            Dialect::Spark => format!("({text} RLIKE {regex})"),
            Dialect::Trino => format!("regexp_like({text}, {regex})"),
            Dialect::BigQuery => format!("REGEXP_CONTAINS({text}, {regex})"),
        }
    }

    /// The `--count-by` key of `field`: its text as auditq prints it (`''` when missing).
    fn key(&self, field: &FieldRef) -> Result<String, crate::error::Error> {
        let refuse = || {
            crate::error::Error::Usage(format!(
                "--count-by {}: the table has no column for it; SQL counts by {}",
                field.name,
                count_by_fields()
            ))
        };
        if field.computed.is_some() {
            return Err(refuse());
        }
        let typed = if is_time(field) {
            table::time()
        } else {
            match field.paths.as_slice() {
                [one] => table::typed_at(one).ok_or_else(refuse)?,
                _ => return Err(refuse()),
            }
        };
        let column = &self.col(typed.column);
        let leaves = &self.col("leaves");
        let key = match typed.shape {
            Shape::Text | Shape::Time => column.to_string(),
            Shape::List => match self.dialect {
                Dialect::DuckDb => format!("array_to_string({column}, ',')"),
                Dialect::ClickHouse => format!("arrayStringConcat({column}, ',')"),
                Dialect::BigQuery => format!("ARRAY_TO_STRING({column}, ',')"),
                Dialect::Spark | Dialect::Trino => format!("array_join({column}, ',')"),
            },
            Shape::Integer => {
                // A code that is not one JSON integer: its leaves' texts, joined.
                let path = literal(&canonical_path(&owned(typed.path)), self.dialect);
                let texts = match self.dialect {
                    Dialect::DuckDb => format!(
                        "array_to_string(list_transform(list_filter({leaves}, lambda l: l.path = {path}), lambda l: l.text), ',')"
                    ),
                    Dialect::ClickHouse => format!(
                        "arrayStringConcat(arrayMap(l -> l.text, arrayFilter(l -> l.path = {path}, {leaves})), ',')"
                    ),
                    Dialect::Spark | Dialect::Trino => format!(
                        "array_join(transform(filter({leaves}, l -> l.path = {path}), l -> l.text), ',')"
                    ),
                    Dialect::BigQuery => format!(
                        "(SELECT STRING_AGG(l.text, ',' ORDER BY o) FROM UNNEST({leaves}) AS l WITH OFFSET o WHERE l.path = {path})"
                    ),
                };
                let bit = self.bit(typed);
                format!(
                    "(CASE WHEN {bit} = 0 THEN {} ELSE {texts} END)",
                    self.cast_text(column)
                )
            }
        };
        Ok(format!("COALESCE({key}, '')"))
    }
}

impl Compiler {
    /// The row's `complex` bit for `typed` (0 or not).
    fn bit(&self, typed: &Typed) -> String {
        let mask = 1u64 << typed.bit;
        let complex = self.col("complex");
        match self.dialect {
            Dialect::ClickHouse => format!("bitAnd({complex}, {mask})"),
            Dialect::Trino => format!("bitwise_and({complex}, {mask})"),
            _ => format!("({complex} & {mask})"),
        }
    }
}

fn owned(path: &[&str]) -> Vec<String> {
    path.iter().map(|s| s.to_string()).collect()
}

/// The fields `--count-by` takes in SQL.
pub fn count_by_fields() -> String {
    "user, group, as, verb, resource, subresource, ns, name, apigroup, apiversion, stage, level, code, ip, ua, uri, auditid, decision, reason, time".to_string()
}

fn is_time(field: &FieldRef) -> bool {
    field.paths.len() == 2 && field.paths == FieldRef::time("time").paths
}

/// Whether every pattern compares text only (no number, no instant), which a typed text
/// column answers.
fn text_only(term: &Term) -> bool {
    term.patterns.iter().all(|p| match p {
        Pattern::Exact { number, time, .. } => number.is_none() && time.is_none(),
        Pattern::Glob { .. } | Pattern::Regex(_) => true,
        Pattern::Number(_) | Pattern::Time(_) => false,
    })
}

fn comparison(op: Op) -> &'static str {
    match op {
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
        _ => "=",
    }
}

fn unsupported(term: &Term, what: &str) -> QueryError {
    QueryError::new(format!("{what} has no SQL translation"), term.span)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse_query;

    fn sql(query: &str, dialect: Dialect) -> String {
        condition(&parse_query(&[query.to_string()]).unwrap(), dialect).unwrap()
    }

    #[test]
    fn typed_columns_with_their_bit() {
        let c = sql("verb=delete", Dialect::DuckDb);
        assert!(
            c.contains("(\"complex\" & 16) = 0 THEN COALESCE(\"verb\" = 'delete', FALSE)"),
            "{c}"
        );
        assert!(c.contains("l.path = 'verb'"), "{c}");
        let c = sql("code>=400", Dialect::ClickHouse);
        assert!(c.contains("bitAnd(`complex`, 8192)"), "{c}");
        assert!(c.contains("toFloat64(`code`) >= 4e2"), "{c}");
    }

    #[test]
    fn negation_is_two_valued() {
        let c = sql("as!=bob", Dialect::Spark);
        assert!(c.starts_with("(NOT (CASE WHEN"), "{c}");
    }

    #[test]
    fn literals_per_dialect() {
        assert_eq!(literal("a'b\\c", Dialect::DuckDb), "'a''b\\c'");
        assert_eq!(literal("a'b\\c\n", Dialect::Spark), "'a\\'b\\\\c\\n'");
        assert_eq!(literal("\u{1}", Dialect::ClickHouse), "'\\x01'");
    }

    #[test]
    fn untranslatable_is_refused_at_the_term() {
        let expr = parse_query(&["verb=get ua~\\bkubectl".to_string()]).unwrap();
        let err = condition(&expr, Dialect::DuckDb).unwrap_err();
        assert_eq!(err.span, crate::query::Span::new(9, 21));
        assert!(err.message.contains("DuckDB"), "{}", err.message);
    }
}
