//! The prefilter: byte needles derived from the query, searched with SIMD before any JSON
//! parsing, so lines that cannot match are never parsed.
//!
//! Exactness rests on one argument. A term `verb=delete` can only hold if the string value
//! `delete` appears in the line; JSON writes that value either literally as `"delete"` or
//! with a backslash escape. So a line is a candidate if it holds every needle, **or** holds
//! any escape that could hide a needle (`\u…`, `\/`), **or** is a legacy text line (whose
//! fields are derived, not written). Values whose plain form needs escaping (quotes,
//! backslashes, control characters) and numbers (`404` may be written `404.0`) give no
//! needle at all; neither do negations, regexes and comparisons.

use crate::query::{Expr, Op, Term, value::Pattern};
use aho_corasick::AhoCorasick;
use memchr::memmem;

/// Byte strings that make a line a candidate whatever its needles (see module docs).
const ESCAPE_TRIGGERS: [&[u8]; 3] = [b"\\u", b"\\/", b"AUDIT: "];
/// Line endings that mean a pretty-printed document starts: such a block is framed line
/// by line, without the prefilter, because one event spans many lines.
const DOCUMENT_TRIGGERS: [&[u8]; 4] = [b"{\n", b"[\n", b"{\r", b"[\r"];

/// Needles in conjunctive normal form: every clause must have one of its needles present.
pub type Clauses = Vec<Vec<Vec<u8>>>;

/// What the block scanner found next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A line (start..end, without `\n`) that may match and must be parsed.
    Line(usize, usize),
    /// From this line start on, the block holds a pretty-printed document.
    Document(usize),
}

pub struct Prefilter {
    driver: Driver,
    others: Vec<Vec<memmem::Finder<'static>>>,
    triggers: AhoCorasick,
    escape_finders: Vec<memmem::Finder<'static>>,
}

enum Driver {
    One(Box<memmem::Finder<'static>>),
    Many(AhoCorasick),
}

impl Prefilter {
    /// Builds a prefilter for `expr`, or `None` when no needle can be derived safely
    /// (then every line is parsed).
    pub fn new(expr: &Expr) -> Option<Prefilter> {
        let mut clauses = clauses(expr);
        if clauses.is_empty() {
            return None;
        }
        let best = (0..clauses.len()).max_by_key(|&i| clause_rank(&clauses[i]))?;
        let driver_clause = clauses.swap_remove(best);
        let driver = match driver_clause.as_slice() {
            [one] => Driver::One(Box::new(memmem::Finder::new(one).into_owned())),
            many => Driver::Many(AhoCorasick::new(many).ok()?),
        };
        let others = clauses
            .iter()
            .map(|clause| {
                clause
                    .iter()
                    .map(|n| memmem::Finder::new(n).into_owned())
                    .collect()
            })
            .collect();
        let mut triggers: Vec<&[u8]> = ESCAPE_TRIGGERS.to_vec();
        triggers.extend(DOCUMENT_TRIGGERS);
        Some(Prefilter {
            driver,
            others,
            triggers: AhoCorasick::new(triggers).ok()?,
            escape_finders: ESCAPE_TRIGGERS
                .iter()
                .map(|t| memmem::Finder::new(t).into_owned())
                .collect(),
        })
    }

    /// Scans `block` for candidate lines, calling `on_found` for each in order.
    /// Stops after a [`Found::Document`], since the rest of the block needs full framing.
    pub fn scan(&self, block: &[u8], mut on_found: impl FnMut(Found)) {
        let mut pos = 0;
        let mut next_trigger = self.next_trigger(block, 0);
        while pos < block.len() {
            if next_trigger.is_some_and(|(at, _)| at < pos) {
                next_trigger = self.next_trigger(block, pos);
            }
            let next_needle = self.next_needle(block, pos);
            let (at, is_document) = match (next_needle, next_trigger) {
                (None, None) => return,
                (Some(n), Some((t, doc))) if t <= n => (t, doc),
                (None, Some((t, doc))) => (t, doc),
                (Some(n), _) => (n, false),
            };
            let start = memchr::memrchr(b'\n', &block[..at]).map_or(0, |p| p + 1);
            let end = memchr::memchr(b'\n', &block[at..]).map_or(block.len(), |p| at + p);
            let line = &block[start..end];
            if is_document || ends_open(line) {
                on_found(Found::Document(start));
                return;
            }
            if self.is_candidate(line) {
                on_found(Found::Line(start, end));
            }
            pos = end + 1;
        }
    }

    fn next_needle(&self, block: &[u8], from: usize) -> Option<usize> {
        let rest = &block[from..];
        match &self.driver {
            Driver::One(finder) => finder.find(rest),
            Driver::Many(ac) => ac.find(rest).map(|m| m.start()),
        }
        .map(|p| p + from)
    }

    fn next_trigger(&self, block: &[u8], from: usize) -> Option<(usize, bool)> {
        self.triggers.find(&block[from..]).map(|m| {
            (
                from + m.start(),
                m.pattern().as_usize() >= ESCAPE_TRIGGERS.len(),
            )
        })
    }

    /// Whether a line found by the driver or a trigger needs parsing.
    fn is_candidate(&self, line: &[u8]) -> bool {
        let has_all = self
            .others
            .iter()
            .all(|clause| clause.iter().any(|f| f.find(line).is_some()));
        has_all && self.driver_present(line)
            || self.escape_finders.iter().any(|f| f.find(line).is_some())
    }

    fn driver_present(&self, line: &[u8]) -> bool {
        match &self.driver {
            Driver::One(finder) => finder.find(line).is_some(),
            Driver::Many(ac) => ac.is_match(line),
        }
    }
}

/// A compact line never ends with `{` or `[`; a pretty-printed one's first line does.
fn ends_open(line: &[u8]) -> bool {
    let trimmed = line
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r'))
        .map(|p| line[p]);
    matches!(trimmed, Some(b'{' | b'['))
}

/// Longer needles are rarer and make memmem faster; a single needle beats alternatives.
fn clause_rank(clause: &[Vec<u8>]) -> (bool, usize) {
    let shortest = clause.iter().map(Vec::len).min().unwrap_or(0);
    (clause.len() == 1, shortest)
}

/// Derives needle clauses from an expression. Soundness: every event matching `expr`
/// contains (unescaped) at least one needle of every clause.
pub fn clauses(expr: &Expr) -> Clauses {
    match expr {
        Expr::All | Expr::Not(_) => Vec::new(),
        Expr::Term(term) => term_clause(term).into_iter().collect(),
        Expr::And(parts) => parts.iter().flat_map(clauses).collect(),
        Expr::Or(parts) => {
            let mut union = Vec::new();
            for part in parts {
                let part_clauses = clauses(part);
                let Some(best) = part_clauses.into_iter().max_by_key(|c| clause_rank(c)) else {
                    return Vec::new();
                };
                union.extend(best);
            }
            union.sort();
            union.dedup();
            vec![union]
        }
    }
}

fn term_clause(term: &Term) -> Option<Vec<Vec<u8>>> {
    if term.op != Op::Eq {
        return None;
    }
    term.patterns
        .iter()
        .map(|p| pattern_needle(p, term.field.quoted_needle))
        .collect()
}

fn pattern_needle(pattern: &Pattern, quoted: bool) -> Option<Vec<u8>> {
    match pattern {
        Pattern::Exact { text, number: None } if is_plain(text) => Some(if quoted {
            format!("\"{text}\"").into_bytes()
        } else {
            text.clone().into_bytes()
        }),
        Pattern::Glob { parts } => {
            let (index, longest) = parts.iter().enumerate().max_by_key(|(_, p)| p.len())?;
            if longest.is_empty() || !is_plain(longest) {
                return None;
            }
            let mut needle = String::new();
            if quoted && index == 0 {
                needle.push('"');
            }
            needle.push_str(longest);
            if quoted && index == parts.len() - 1 {
                needle.push('"');
            }
            Some(needle.into_bytes())
        }
        _ => None,
    }
}

/// Text that JSON (and Go's `%q`) writes as itself when no `\u`/`\/` escape is used.
fn is_plain(text: &str) -> bool {
    !text.is_empty() && !text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse_query;

    fn needles(q: &str) -> Clauses {
        clauses(&parse_query(&[q.to_string()]).unwrap())
    }

    fn b(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }

    #[test]
    fn derives_quoted_needles() {
        assert_eq!(
            needles("verb=delete resource=secrets"),
            vec![vec![b("\"delete\"")], vec![b("\"secrets\"")]]
        );
        assert_eq!(needles("user=system:*"), vec![vec![b("\"system:")]]);
        assert_eq!(needles("user=*admin"), vec![vec![b("admin\"")]]);
        assert_eq!(
            needles("verb=get,list"),
            vec![vec![b("\"get\""), b("\"list\"")]]
        );
        assert_eq!(
            needles("group=system:masters"),
            vec![vec![b("system:masters")]]
        );
        assert_eq!(
            needles("requestObject.spec.hostNetwork=true"),
            vec![vec![b("true")]]
        );
    }

    #[test]
    fn no_needles_when_unsafe() {
        assert!(needles("verb!=delete").is_empty());
        assert!(needles("not verb=delete").is_empty());
        assert!(needles("code=404").is_empty());
        assert!(needles("code>=400").is_empty());
        assert!(needles("ua~kubectl").is_empty());
        assert!(needles("user=*").is_empty());
        assert!(needles("reason='say \"hi\"'").is_empty());
        assert!(needles("verb=delete or code>=500").is_empty());
    }

    #[test]
    fn or_unions_one_clause_per_side() {
        assert_eq!(
            needles("verb=delete or resource=secrets"),
            vec![vec![b("\"delete\""), b("\"secrets\"")]]
        );
    }

    fn scan(q: &str, block: &str) -> Vec<Found> {
        let pf = Prefilter::new(&parse_query(&[q.to_string()]).unwrap()).unwrap();
        let mut found = Vec::new();
        pf.scan(block.as_bytes(), |f| found.push(f));
        found
    }

    #[test]
    fn scans_candidate_lines() {
        let block =
            "{\"verb\":\"get\"}\n{\"verb\":\"delete\",\"r\":\"secrets\"}\n{\"verb\":\"delete\"}\n";
        assert_eq!(
            scan("verb=delete resource=secrets", block),
            vec![Found::Line(15, 46)]
        );
    }

    #[test]
    fn escapes_and_legacy_lines_are_candidates() {
        let block =
            "{\"verb\":\"\\u0064elete\"}\n{\"a\":1}\n2017-01-01T00:00:00Z AUDIT: id=\"x\"\n";
        assert_eq!(
            scan("verb=delete", block),
            vec![Found::Line(0, 22), Found::Line(31, 65)]
        );
    }

    #[test]
    fn pretty_documents_stop_the_scan() {
        let block = "{\"verb\":\"delete\"}\n{\n  \"verb\": \"delete\"\n}\n";
        assert_eq!(
            scan("verb=delete", block),
            vec![Found::Line(0, 17), Found::Document(18)]
        );
    }
}
