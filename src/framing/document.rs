//! Which lines form one JSON document: the rule behind multi-line (pretty-printed)
//! events and EventLists, made so that the result never depends on where blocks are cut
//! or how the input arrives.
//!
//! **The rule.** Lines are read in order. A line whose content (after prefixes) starts
//! with `{` or `[` *opens* a document; the document is the shortest run of lines from it
//! that is one valid JSON value ending at a line end (checked by [`Scanner`]). When no
//! such run exists — the JSON breaks first, the input ends, or the run grows beyond the
//! document limit — the opening line is read on its own, and reading goes on with the next
//! line by the same rule. Every other line is read on its own. So a stray `{` never
//! swallows the events after it, and a pretty-printed event without indentation is still
//! one event.
//!
//! **Linear time.** A failed document is not rescanned line by line: while scanning from
//! line *i*, every nested container that starts a line *j* is tracked. If *j*'s container
//! closes at a line end before the failure, lines *j..=e* are a valid document on their
//! own; if it is still open when the scan from *i* fails, a scan from *j* would fail at the
//! same byte (the same token in the same local context). Only the failing line is scanned
//! again. (The one exception, the length limit, is documented: lines inside an over-long
//! document that is still open are read one by one.)

use crate::syntax::{Scanner, Token};
use std::collections::{BTreeMap, VecDeque};

/// A run of lines read as one unit: offsets of the first line's start and the last line's
/// end (without its `\n`), and how many lines it spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub start: u64,
    pub end: u64,
    pub lines: u64,
}

/// A note about framing, for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// A document starting at this offset grew beyond the limit; its lines were read one
    /// by one.
    TooLong { start: u64 },
}

/// Whether a line's content (prefixes removed) opens a document.
pub fn opens_document(content: &[u8]) -> bool {
    matches!(first_significant(content), Some(b'{' | b'['))
}

/// The first byte that is not JSON white space.
pub fn first_significant(content: &[u8]) -> Option<u8> {
    content
        .iter()
        .copied()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\r'))
}

/// The last byte that is not JSON white space.
pub fn last_significant(content: &[u8]) -> Option<u8> {
    content
        .iter()
        .rev()
        .copied()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\r'))
}

/// The scan of one candidate document.
struct Scan {
    scanner: Scanner,
    /// Start offset and index (in `held`) of the opening line.
    start: u64,
    /// Bytes scanned so far (line ends included), against the limit.
    bytes: usize,
    /// For each open container: the held index of the line it opens, if it is that
    /// line's first token.
    candidates: Vec<Option<usize>>,
    /// Candidate (held index) → held index of the line where it closed at a line end.
    complete: BTreeMap<usize, usize>,
}

/// Frames lines into records, one line at a time; see the module docs for the rule.
pub struct Framer {
    max_doc: usize,
    /// Lines of the open scan: (start, end) offsets.
    held: Vec<(u64, u64)>,
    scan: Option<Scan>,
    out: VecDeque<Record>,
    notes: Vec<Note>,
}

impl Framer {
    /// A framer whose documents may span at most `max_doc` bytes.
    pub fn new(max_doc: usize) -> Framer {
        Framer {
            max_doc: max_doc.max(1),
            held: Vec::new(),
            scan: None,
            out: VecDeque::new(),
            notes: Vec::new(),
        }
    }

    /// Whether every line pushed so far is decided (no document is open).
    pub fn at_rest(&self) -> bool {
        self.scan.is_none()
    }

    /// The next decided record, in input order.
    pub fn pop(&mut self) -> Option<Record> {
        self.out.pop_front()
    }

    /// Notes gathered so far (over-long documents).
    pub fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    /// Reads one line: its content (prefixes removed) and its offsets in the input.
    pub fn push(&mut self, content: &[u8], start: u64, end: u64) {
        if (end - start) as usize > self.max_doc {
            // Too long to be (part of) a document: it ends any open one and is read alone
            // (and reported as too long by whoever reads it).
            self.fail();
            self.single(start, end);
            return;
        }
        if self.scan.is_none() {
            if !opens_document(content) {
                self.single(start, end);
                return;
            }
            self.scan = Some(Scan {
                scanner: Scanner::default(),
                start,
                bytes: 0,
                candidates: Vec::new(),
                complete: BTreeMap::new(),
            });
        }
        let Some(scan) = self.scan.as_mut() else {
            return;
        };
        let line_bytes = (end - start) as usize + 1;
        if !self.held.is_empty() && scan.bytes + line_bytes > self.max_doc {
            self.notes.push(Note::TooLong { start: scan.start });
            self.fail();
            self.push(content, start, end);
            return;
        }
        scan.bytes += line_bytes;
        let index = self.held.len();
        self.held.push((start, end));
        let mut first_token = true;
        let mut pending_close: Option<usize> = None;
        let candidates = &mut scan.candidates;
        let result = scan.scanner.line(content, &mut |token| {
            match token {
                Token::Open(depth) => {
                    candidates.truncate(depth - 1);
                    candidates.push(first_token.then_some(index));
                    pending_close = None;
                }
                Token::Close(_) => pending_close = candidates.pop().flatten(),
                Token::Other => pending_close = None,
            }
            first_token = false;
        });
        if result.is_err() {
            if index == 0 {
                // The opening line breaks on its own: read it alone.
                self.held.clear();
                self.scan = None;
                self.single(start, end);
            } else {
                // Decide the lines before this one, then read this one afresh.
                self.held.pop();
                self.fail();
                self.push(content, start, end);
            }
            return;
        }
        if let Some(candidate) = pending_close {
            if candidate == 0 {
                self.out.push_back(Record {
                    start: scan.start,
                    end,
                    lines: self.held.len() as u64,
                });
                self.held.clear();
                self.scan = None;
                return;
            }
            scan.complete.insert(candidate, index);
        }
    }

    /// Whether the document open now (if any) may go on with a next line whose content
    /// starts with `bytes` (its end not arrived yet): false when no such line can
    /// continue it, so it will be decided without that line.
    pub fn may_continue_with(&self, bytes: &[u8]) -> bool {
        self.scan
            .as_ref()
            .is_some_and(|scan| scan.scanner.clone().feed(bytes).is_ok())
    }

    /// The input ended: an open document is read line by line.
    pub fn finish(&mut self) {
        if self.scan.is_some() {
            self.fail();
        }
    }

    fn single(&mut self, start: u64, end: u64) {
        self.out.push_back(Record {
            start,
            end,
            lines: 1,
        });
    }

    /// The open scan failed after its held lines: the opening line is read alone, the
    /// others by what the scan learned about them.
    fn fail(&mut self) {
        let Some(scan) = self.scan.take() else {
            return;
        };
        let held = std::mem::take(&mut self.held);
        let mut j = 0;
        while j < held.len() {
            let (start, end) = held[j];
            match scan.complete.get(&j) {
                Some(&last) if j > 0 => {
                    self.out.push_back(Record {
                        start,
                        end: held[last].1,
                        lines: (last - j + 1) as u64,
                    });
                    j = last + 1;
                }
                _ => {
                    self.single(start, end);
                    j += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames `text` (lines split at `\n`) and returns each record's text.
    fn frame(text: &str, max_doc: usize) -> Vec<String> {
        let mut framer = Framer::new(max_doc);
        let mut pos = 0u64;
        for line in text.split('\n') {
            let end = pos + line.len() as u64;
            framer.push(line.as_bytes(), pos, end);
            pos = end + 1;
        }
        framer.finish();
        let mut out = Vec::new();
        while let Some(r) = framer.pop() {
            out.push(text[r.start as usize..r.end as usize].to_string());
        }
        out
    }

    #[test]
    fn compact_lines_are_records() {
        assert_eq!(
            frame("{\"a\":1}\n{\"b\":2}", 100),
            ["{\"a\":1}", "{\"b\":2}"]
        );
    }

    #[test]
    fn pretty_documents_with_and_without_indentation() {
        let pretty = "{\n  \"kind\": \"Event\",\n  \"verb\": \"get\"\n}";
        assert_eq!(frame(pretty, 1000), [pretty]);
        let flat = "{\n\"kind\":\"Event\",\n\"verb\":\"delete\"\n}";
        assert_eq!(frame(flat, 1000), [flat]);
        let list = "[\n{\"a\":1},\n{\"b\":2}\n]\n{\"c\":3}";
        assert_eq!(
            frame(list, 1000),
            ["[\n{\"a\":1},\n{\"b\":2}\n]", "{\"c\":3}"]
        );
    }

    #[test]
    fn a_stray_opener_swallows_nothing() {
        assert_eq!(
            frame("{\n{\"a\":1}\n{\"b\":2}", 1000),
            ["{", "{\"a\":1}", "{\"b\":2}"]
        );
        assert_eq!(
            frame("[\n{\"a\":1}\n{\"b\":2}", 1000),
            ["[", "{\"a\":1}", "{\"b\":2}"]
        );
        assert_eq!(frame("[\n[\n{\"a\":1}", 1000), ["[", "[", "{\"a\":1}"]);
    }

    #[test]
    fn nested_documents_inside_a_broken_one_survive() {
        // The outer `[` never closes; the inner pretty object is a document of its own.
        let text = "[\n{\n\"a\": 1\n}\nnot json";
        assert_eq!(frame(text, 1000), ["[", "{\n\"a\": 1\n}", "not json"]);
        // A nested candidate still open at the failure is read line by line.
        let text = "[\n{\n\"a\": 1\n]";
        assert_eq!(frame(text, 1000), ["[", "{", "\"a\": 1", "]"]);
    }

    #[test]
    fn trailing_tokens_after_a_close_make_it_no_document() {
        assert_eq!(
            frame("{\"a\":1} x\n{\"b\":2}", 1000),
            ["{\"a\":1} x", "{\"b\":2}"]
        );
        assert_eq!(frame("[\n{\"a\":1},\n2]", 1000), ["[\n{\"a\":1},\n2]"]);
    }

    #[test]
    fn the_length_limit_reads_lines_one_by_one() {
        let doc = "{\n\"a\": 1,\n\"b\": 2\n}";
        assert_eq!(frame(doc, 10), ["{", "\"a\": 1,", "\"b\": 2", "}"]);
        assert_eq!(frame(doc, 1000), [doc]);
    }

    #[test]
    fn open_document_at_end_is_read_line_by_line() {
        assert_eq!(frame("{\n\"a\": 1,", 1000), ["{", "\"a\": 1,"]);
    }

    #[test]
    fn result_is_independent_of_where_framing_restarts_at_rest() {
        // Framing restarted at any point where the framer was at rest gives the same.
        let text = "x\n{\n\"a\":[1,\n2]\n}\n[\n{\"b\":1}\n{\"c\":\n3}\ny";
        let whole = frame(text, 1000);
        let mut framer = Framer::new(1000);
        let mut pos = 0u64;
        let mut rest_points = vec![0usize];
        for line in text.split('\n') {
            let end = pos + line.len() as u64;
            framer.push(line.as_bytes(), pos, end);
            pos = end + 1;
            if framer.at_rest() {
                rest_points.push(pos as usize);
            }
        }
        for &cut in &rest_points {
            if cut > text.len() {
                continue;
            }
            let mut parts = frame(&text[..cut.saturating_sub(1)], 1000);
            if cut == 0 {
                parts.clear();
            }
            parts.extend(frame(&text[cut..], 1000));
            assert_eq!(parts, whole, "restart at {cut}");
        }
    }
}
