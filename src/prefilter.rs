//! The prefilter: byte needles derived from the query, searched with SIMD before any JSON
//! parsing, so records that cannot match are never parsed.
//!
//! Exactness rests on one argument: for every value a term can match, the raw bytes of
//! the record hold the needle, or hold an escape that could hide it. So a record is
//! parsed if it holds a needle of every clause, **or** holds such an escape (`\uXXXX`
//! decoding to a needle character, `\/` when a needle has a `/`), **or** is a legacy
//! text line (whose fields are derived, not written). Which needle a pattern gives:
//!
//! - a string value is written between quotes, so `verb=delete` gives `"delete"` and
//!   `user=system:*` gives `"system:`;
//! - `true`, `false` and `null` are written bare, so a pattern that can match one of them
//!   gets an unquoted needle;
//! - a number may be written in many ways (`403`, `4.03e2`, `403.0`), and compares by its
//!   value, so a pattern that can match a number's text gives no needle;
//! - text that JSON must escape (quotes, backslashes, control characters) gives none,
//!   nor do negations, regexes, comparisons and times (compared as instants).

use crate::query::value::{Pattern, glob_match};
use crate::query::{Expr, Op, Term};
use aho_corasick::AhoCorasick;
use memchr::memmem;

/// The legacy text marker: such lines are always candidates (their fields are derived).
const LEGACY_MARKER: &[u8] = b"AUDIT: ";

/// The member of a GKE Cloud Logging entry: such records are always candidates (the
/// event's verb, resource, namespace, stage and code are derived from other text).
const GKE_MARKER: &[u8] = b"\"protoPayload\"";

/// Keys whose string value may hold an audit event as escaped JSON (AKS `properties.log`,
/// CloudWatch `message`, Logs Insights `@message`, container runtime `log`): there the
/// needle `"delete"` reads `\"delete\"`, so such a record is always a candidate.
const WRAPPING_KEYS: [&[u8]; 3] = [b"log", b"message", b"@message"];

/// Needles in conjunctive normal form: every clause must have one of its needles present.
pub type Clauses = Vec<Vec<Vec<u8>>>;

pub struct Prefilter {
    driver: Driver,
    /// Every clause, the driver's included: a record is a candidate if it has them all.
    clauses: Vec<Vec<memmem::Finder<'static>>>,
    markers: Markers,
    /// Characters of the needles: an escape (`\u0064`, `\/`) of one of them may hide a needle.
    needle_chars: Vec<char>,
}

/// What [`Prefilter::scan`] finds in a block.
pub struct Scan {
    /// See [`Prefilter::scan`].
    pub triggers: Vec<usize>,
    /// How many `\n` bytes it holds.
    pub newlines: u64,
    /// Where the driver's needle starts, in order (when it was searched in the same
    /// pass; else [`Prefilter::next_needle`] finds them). A needle overlapping a marker
    /// may be left out: its record holds the marker, so it is a candidate anyway.
    pub needles: Option<Vec<usize>>,
}

/// The legacy and GKE markers (and a single driver needle with them), found in one
/// pass by a SIMD searcher (Teddy); where there is none, one `memmem` pass each.
enum Markers {
    Packed {
        searcher: aho_corasick::packed::Searcher,
        /// Whether the driver's one needle is its third pattern.
        driver: bool,
    },
    Finders(Vec<memmem::Finder<'static>>),
}

impl Markers {
    fn new(driver: &[Vec<u8>]) -> Markers {
        let mut patterns: Vec<&[u8]> = vec![LEGACY_MARKER, GKE_MARKER];
        if let [one] = driver {
            patterns.push(one);
        }
        let packed = aho_corasick::packed::Config::new()
            .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(patterns.iter().copied())
            .build();
        match packed {
            Some(searcher) => Markers::Packed {
                searcher,
                driver: patterns.len() == 3,
            },
            None => Markers::Finders(
                [LEGACY_MARKER, GKE_MARKER]
                    .iter()
                    .map(|m| memmem::Finder::new(m).into_owned())
                    .collect(),
            ),
        }
    }
}

/// Finds the positions worth looking at: hits of one clause (the rarest-looking one).
enum Driver {
    One(Box<memmem::Finder<'static>>),
    Many(AhoCorasick),
}

impl Prefilter {
    /// Builds a prefilter for `expr`, or `None` when no needle can be derived safely
    /// (then every record is parsed).
    pub fn new(expr: &Expr) -> Option<Prefilter> {
        let clauses = clauses(expr);
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
        let driver = match clauses[best].as_slice() {
            [one] => Driver::One(Box::new(memmem::Finder::new(one).into_owned())),
            many => Driver::Many(AhoCorasick::new(many).ok()?),
        };
        let finders = clauses
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
            clauses: finders,
            markers: Markers::new(&clauses[best]),
            needle_chars,
        })
    }

    /// The next position at or after `from` where a driver needle starts.
    pub fn next_needle(&self, block: &[u8], from: usize) -> Option<usize> {
        let rest = block.get(from..)?;
        match &self.driver {
            Driver::One(finder) => finder.find(rest),
            Driver::Many(ac) => ac.find(rest).map(|m| m.start()),
        }
        .map(|p| p + from)
    }

    /// The triggers of `bytes` (positions, in order, of legacy markers, GKE entries,
    /// strings holding escaped JSON objects under a wrapping key, and escapes that could
    /// hide a needle: a record holding one is always a candidate), the driver's needles
    /// when one pass can find them with the markers, and the newlines, counted in the
    /// escapes' pass (a block's line count would otherwise take a pass of its own).
    pub fn scan(&self, bytes: &[u8]) -> Scan {
        let mut positions = Vec::new();
        let mut needles = None;
        match &self.markers {
            Markers::Packed { searcher, driver } => {
                let mut found = Vec::new();
                for m in searcher.find_iter(bytes) {
                    if m.pattern().as_usize() < 2 {
                        positions.push(m.start());
                    } else {
                        found.push(m.start());
                    }
                }
                needles = driver.then_some(found);
            }
            Markers::Finders(finders) => {
                for finder in finders {
                    positions.extend(finder.find_iter(bytes));
                }
            }
        }
        // Backslashes in order; one escaped by the backslash before it is no escape.
        let mut escaped_until = 0;
        let newlines = newlines_and_backslashes(bytes, |at| {
            if at < escaped_until {
                return;
            }
            escaped_until = at + 2;
            if wraps_json(bytes, at) {
                positions.push(at);
            }
            match bytes.get(at + 1) {
                Some(b'u') if self.escape_may_hide_needle(&bytes[at + 2..]) => positions.push(at),
                Some(b'/') if self.needle_chars.contains(&'/') => positions.push(at),
                _ => {}
            }
        });
        positions.sort_unstable();
        Scan {
            triggers: positions,
            newlines,
            needles,
        }
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

    /// Whether `record` holds a needle of every clause.
    pub fn has_all_needles(&self, record: &[u8]) -> bool {
        self.clauses
            .iter()
            .all(|clause| clause.iter().any(|f| f.find(record).is_some()))
    }
}

/// Counts the newlines of `bytes` and calls `backslash` with the position of each `\\`,
/// in order, in one pass: 64 bytes at a time with AVX2 where the CPU has it (a count
/// of a mask, and its set bits), else with `memchr2`.
fn newlines_and_backslashes(bytes: &[u8], mut backslash: impl FnMut(usize)) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is there (checked just above).
        return unsafe { newlines_and_backslashes_avx2(bytes, &mut backslash) };
    }
    newlines_and_backslashes_portable(bytes, &mut backslash)
}

fn newlines_and_backslashes_portable(bytes: &[u8], backslash: &mut impl FnMut(usize)) -> u64 {
    let mut newlines = 0;
    for at in memchr::memchr2_iter(b'\\', b'\n', bytes) {
        if bytes[at] == b'\n' {
            newlines += 1;
        } else {
            backslash(at);
        }
    }
    newlines
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn newlines_and_backslashes_avx2(bytes: &[u8], backslash: &mut impl FnMut(usize)) -> u64 {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    };
    let newline = _mm256_set1_epi8(b'\n' as i8);
    let escape = _mm256_set1_epi8(b'\\' as i8);
    let mut newlines = 0u64;
    let mut chunks = bytes.chunks_exact(64);
    let mut base = 0;
    for chunk in &mut chunks {
        // SAFETY: each load reads 32 bytes inside the 64-byte chunk.
        let (low, high) = unsafe {
            (
                _mm256_loadu_si256(chunk.as_ptr().cast::<__m256i>()),
                _mm256_loadu_si256(chunk.as_ptr().add(32).cast::<__m256i>()),
            )
        };
        let mask = |v: __m256i, of: __m256i| {
            u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, of)) as u32)
        };
        newlines += u64::from((mask(low, newline) | mask(high, newline) << 32).count_ones());
        let mut escapes = mask(low, escape) | mask(high, escape) << 32;
        while escapes != 0 {
            backslash(base + escapes.trailing_zeros() as usize);
            escapes &= escapes - 1;
        }
        base += 64;
    }
    let rest = chunks.remainder();
    for (i, &b) in rest.iter().enumerate() {
        if b == b'\n' {
            newlines += 1;
        } else if b == b'\\' {
            backslash(base + i);
        }
    }
    newlines
}

/// Whether the backslash at `at` is the first escape of a string that starts with `{`
/// (and blanks) and is the value of one of [`WRAPPING_KEYS`]: `"log":"{\"kind\"…`.
/// Checked at backslashes the trigger scan visits anyway, looking back a few bytes.
fn wraps_json(bytes: &[u8], at: usize) -> bool {
    let before = &bytes[..at];
    let trimmed = before.trim_ascii_end();
    let Some(rest) = trimmed.strip_suffix(b"{") else {
        return false;
    };
    let Some(rest) = rest.strip_suffix(b"\"") else {
        return false;
    };
    let Some(rest) = rest.trim_ascii_end().strip_suffix(b":") else {
        return false;
    };
    let Some(rest) = rest.trim_ascii_end().strip_suffix(b"\"") else {
        return false;
    };
    WRAPPING_KEYS.iter().any(|key| {
        rest.strip_suffix(*key)
            .is_some_and(|r| r.last() == Some(&b'"'))
    })
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
    if term.op != Op::Eq || term.field.computed.is_some() {
        return None;
    }
    term.patterns.iter().map(pattern_needle).collect()
}

const LITERALS: [&str; 3] = ["true", "false", "null"];

/// The needle every JSON value matching `pattern` leaves in the raw bytes, if any.
fn pattern_needle(pattern: &Pattern) -> Option<Vec<u8>> {
    match pattern {
        Pattern::Exact {
            number: Some(_), ..
        }
        | Pattern::Exact { time: Some(_), .. } => None,
        Pattern::Exact { text, .. } if LITERALS.contains(&text.as_str()) => {
            Some(text.clone().into_bytes())
        }
        Pattern::Exact { text, .. } if is_plain(text) => Some(format!("\"{text}\"").into_bytes()),
        Pattern::Glob { parts } => {
            // A number's text may be written differently in the bytes: no needle if the
            // glob could match one (every piece made of number characters).
            if parts.iter().all(|p| p.bytes().all(is_number_byte)) {
                return None;
            }
            let (index, longest) = parts.iter().enumerate().max_by_key(|(_, p)| p.len())?;
            if longest.is_empty() || !is_plain(longest) {
                return None;
            }
            // `true`/`false`/`null` are written without quotes.
            let bare = LITERALS.iter().any(|l| glob_match(parts, l));
            let mut needle = String::new();
            if !bare && index == 0 {
                needle.push('"');
            }
            needle.push_str(longest);
            if !bare && index == parts.len() - 1 {
                needle.push('"');
            }
            Some(needle.into_bytes())
        }
        _ => None,
    }
}

/// A byte of a number's text (`-1.5e+21`).
fn is_number_byte(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
}

/// Text that JSON (and Go's `%q`) writes as itself when no `\u`/`\/` escape is used, and
/// that no repair (U+FFFD for invalid UTF-8 or surrogates) can produce.
fn is_plain(text: &str) -> bool {
    !text.is_empty()
        && !text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)
        && !text.contains('\u{FFFD}')
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
            vec![vec![b("\"system:masters\"")]]
        );
    }

    #[test]
    fn literals_are_bare_and_numbers_give_none() {
        assert_eq!(
            needles("requestObject.spec.hostNetwork=true"),
            vec![vec![b("true")]]
        );
        assert_eq!(needles("verb=true"), vec![vec![b("true")]]);
        assert_eq!(needles("verb=*ru*"), vec![vec![b("ru")]]);
        assert_eq!(needles("verb=nu*"), vec![vec![b("nu")]]);
        assert!(needles("code=40*").is_empty());
        assert!(needles("code=1e*").is_empty());
        assert!(needles("user=7*").is_empty());
        assert_eq!(needles("user=a*7"), vec![vec![b("7\"")]]);
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
        assert!(needles("time=2026-01-05T10:00:00Z").is_empty());
        assert!(needles("resource~pods/exec").is_empty());
    }

    #[test]
    fn or_unions_one_clause_per_side() {
        assert_eq!(
            needles("verb=delete or resource=secrets"),
            vec![vec![b("\"delete\""), b("\"secrets\"")]]
        );
    }

    impl Prefilter {
        fn triggers(&self, bytes: &[u8]) -> Vec<usize> {
            self.scan(bytes).triggers
        }
    }

    fn prefilter(q: &str) -> Prefilter {
        Prefilter::new(&parse_query(&[q.to_string()]).unwrap()).unwrap()
    }

    #[test]
    fn escapes_and_legacy_lines_are_triggers() {
        let block =
            "{\"verb\":\"\\u0064elete\"}\n{\"a\":1}\n2017-01-01T00:00:00Z AUDIT: id=\"x\"\n";
        assert_eq!(prefilter("verb=delete").triggers(block.as_bytes()), [9, 52]);
    }

    #[test]
    fn only_escapes_of_needle_characters_are_triggers() {
        let block = "{\"uri\":\"/a?b=1\\u0026c=2\"}\n{\"v\":\"\\u0064\"}\n{\"v\":\"\\\\u0064\"}\n{\"v\":\"\\/\"}\n";
        assert_eq!(prefilter("verb=delete").triggers(block.as_bytes()), [32]);
        assert_eq!(prefilter("uri=/x").triggers(block.as_bytes()), [63]);
    }

    #[test]
    fn envelopes_that_hide_needles_are_triggers() {
        let aks = r#"{"category":"kube-audit","properties":{"log":"{\"verb\":\"delete\"}"}}"#;
        assert_eq!(prefilter("verb=delete").triggers(aks.as_bytes()), [47]);
        let pretty = r#"{"message": "{\n  \"verb\": 1}"}"#;
        assert_eq!(prefilter("verb=delete").triggers(pretty.as_bytes()), [14]);
        let gke = r#"{"protoPayload":{"methodName":"io.k8s.core.v1.secrets.delete"}}"#;
        assert_eq!(prefilter("verb=delete").triggers(gke.as_bytes()), [1]);
        // An annotation holding JSON in a plain event is no trigger.
        let plain = r#"{"annotations":{"last-applied":"{\"a\":1}"}}"#;
        assert!(
            prefilter("verb=delete")
                .triggers(plain.as_bytes())
                .is_empty()
        );
    }

    proptest::proptest! {
        /// The scan counts every newline, escaped ones (`\` then a newline) included.
        #[test]
        fn the_scan_counts_every_newline(
            bytes in proptest::collection::vec(
                proptest::sample::select(b"\\\nu0064/\"A{".to_vec()),
                0..300,
            )
        ) {
            let scan = prefilter("verb=delete").scan(&bytes);
            proptest::prop_assert_eq!(scan.newlines, bytecount::count(&bytes, b'\n') as u64);
        }

        /// The SIMD pass and the portable one find the same newlines and backslashes.
        #[test]
        fn both_passes_agree(
            bytes in proptest::collection::vec(
                proptest::sample::select(b"\\\nab".to_vec()),
                0..400,
            )
        ) {
            let mut portable = Vec::new();
            let count = newlines_and_backslashes_portable(&bytes, &mut |at| portable.push(at));
            let mut fast = Vec::new();
            let fast_count = newlines_and_backslashes(&bytes, |at| fast.push(at));
            proptest::prop_assert_eq!(count, fast_count);
            proptest::prop_assert_eq!(portable, fast);
        }
    }

    #[test]
    fn needles_in_all_clauses() {
        let p = prefilter("verb=delete resource=secrets");
        assert!(p.has_all_needles(br#"{"verb":"delete","r":"secrets"}"#));
        assert!(!p.has_all_needles(br#"{"verb":"delete"}"#));
        assert_eq!(p.next_needle(b"xx\"secrets\"", 0), Some(2));
    }
}
