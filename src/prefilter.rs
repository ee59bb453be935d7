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

/// The legacy text marker: such lines are always candidates (their fields are derived).
const LEGACY_MARKER: &[u8] = b"AUDIT: ";
/// A line that starts with white space only occurs inside a pretty-printed document; such
/// a block is framed line by line, without the prefilter, because one event spans lines.
const INDENTED_LINE: [&[u8]; 2] = [b"\n ", b"\n\t"];

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
    legacy: memmem::Finder<'static>,
    indented: Vec<memmem::Finder<'static>>,
    /// Characters of the needles: an escape (`\u0064`, `\/`) of one of them may hide a needle.
    needle_chars: Vec<char>,
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
        let mut needle_chars: Vec<char> = clauses
            .iter()
            .flatten()
            .flat_map(|n| {
                String::from_utf8_lossy(n)
                    .chars()
                    .filter(|c| *c != '"')
                    .collect::<Vec<_>>()
            })
            .collect();
        needle_chars.sort_unstable();
        needle_chars.dedup();
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
        Some(Prefilter {
            driver,
            others,
            legacy: memmem::Finder::new(LEGACY_MARKER).into_owned(),
            indented: INDENTED_LINE
                .iter()
                .map(|t| memmem::Finder::new(t).into_owned())
                .collect(),
            needle_chars,
        })
    }

    /// Scans `block` for candidate lines, calling `on_found` for each in order.
    /// A block with a pretty-printed document is handed over whole as [`Found::Document`].
    pub fn scan(&self, block: &[u8], mut on_found: impl FnMut(Found)) {
        if self.indented.iter().any(|f| f.find(block).is_some()) {
            on_found(Found::Document(0));
            return;
        }
        let triggers = self.trigger_positions(block);
        let mut triggers = triggers.iter().copied().peekable();
        let mut pos = 0;
        let mut next_needle = self.next_needle(block, 0);
        while pos < block.len() {
            if next_needle.is_some_and(|at| at < pos) {
                next_needle = self.next_needle(block, pos);
            }
            while triggers.next_if(|&t| t < pos).is_some() {}
            let next_trigger = triggers.peek().copied();
            let (at, forced) = match (next_needle, next_trigger) {
                (None, None) => return,
                (Some(n), Some(t)) if t <= n => (t, true),
                (None, Some(t)) => (t, true),
                (Some(n), _) => (n, false),
            };
            let start = memchr::memrchr(b'\n', &block[..at]).map_or(0, |p| p + 1);
            let end = memchr::memchr(b'\n', &block[at..]).map_or(block.len(), |p| at + p);
            let line = &block[start..end];
            if ends_open(line) {
                on_found(Found::Document(start));
                return;
            }
            let trigger_in_line = next_trigger.is_some_and(|t| t < end);
            if forced || trigger_in_line || self.has_all_needles(line) {
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

    /// Positions of legacy markers and of escapes that could hide a needle, in order.
    fn trigger_positions(&self, bytes: &[u8]) -> Vec<usize> {
        let mut positions: Vec<usize> = self.legacy.find_iter(bytes).collect();
        let mut pos = 0;
        while let Some(found) = memchr::memchr(b'\\', &bytes[pos..]) {
            let at = pos + found;
            match bytes.get(at + 1) {
                Some(b'u') if self.escape_may_hide_needle(&bytes[at + 2..]) => positions.push(at),
                Some(b'/') if self.needle_chars.contains(&'/') => positions.push(at),
                _ => {}
            }
            // Skip the escaped byte too, so `\\u0064` (an escaped backslash) is not an escape.
            pos = at + 2;
            if pos >= bytes.len() {
                break;
            }
        }
        positions.sort_unstable();
        positions
    }

    /// `hex` follows `\u`: does it encode a needle character? Surrogates and malformed
    /// escapes count as "maybe", which costs a parse, never a result.
    fn escape_may_hide_needle(&self, hex: &[u8]) -> bool {
        let Some(digits) = hex.get(..4).and_then(|h| std::str::from_utf8(h).ok()) else {
            return true;
        };
        match u32::from_str_radix(digits, 16).ok().map(char::from_u32) {
            Some(Some(c)) => self.needle_chars.binary_search(&c).is_ok(),
            _ => true,
        }
    }

    fn has_all_needles(&self, line: &[u8]) -> bool {
        let driver = match &self.driver {
            Driver::One(finder) => finder.find(line).is_some(),
            Driver::Many(ac) => ac.is_match(line),
        };
        driver
            && self
                .others
                .iter()
                .all(|clause| clause.iter().any(|f| f.find(line).is_some()))
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
    fn pretty_documents_hand_over_the_block() {
        let block = "{\"verb\":\"delete\"}\n{\n  \"verb\": \"delete\"\n}\n";
        assert_eq!(scan("verb=delete", block), vec![Found::Document(0)]);
        let block = "{\"verb\":\"delete\"}\n{\"verb\":\"delete\",\"items\":[\n";
        assert_eq!(
            scan("verb=delete", block),
            vec![Found::Line(0, 17), Found::Document(18)]
        );
    }

    #[test]
    fn only_escapes_of_needle_characters_are_candidates() {
        let block = "{\"uri\":\"/a?b=1\\u0026c=2\"}\n{\"v\":\"\\u0064\"}\n{\"v\":\"\\\\u0064\"}\n{\"v\":\"\\/\"}\n";
        assert_eq!(scan("verb=delete", block), vec![Found::Line(26, 40)]);
        assert_eq!(scan("uri=/x", block), vec![Found::Line(57, 67)]);
    }
}
