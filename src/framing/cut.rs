//! Where a reader may end a block: only where framing is at rest, so that no record spans
//! two blocks and the result never depends on block size or on how input arrives.
//!
//! Two kinds of place are at rest: a *hard boundary* between two lines (no JSON document
//! can span it), found by looking at a few bytes around the last line ends of a buffer;
//! and any place where the [`Framer`] has no document open. The cutter tries the first
//! (free for JSON lines) and falls back on the second, scanning each line at most once.
//! A line longer than the document limit is a record of its own and a boundary too.

use super::document::{Framer, opens_document};
use super::{content, hard_boundary, is_blank};
use crate::syntax::Scanner;

/// How many line pairs back from the end of a buffer to look for a hard boundary.
const LOOK_BACK: usize = 8;

#[derive(Debug)]
enum State {
    /// Every line scanned is decided.
    Idle,
    /// One line that opens a document, undecided: alone if a hard boundary follows it.
    Pending { start: usize, end: usize },
    /// A document may be open.
    Framing(Box<Framer>),
}

/// Finds the last place in a growing buffer where a block may end.
#[derive(Debug)]
pub struct Cutter {
    max_doc: usize,
    state: State,
    /// Buffer offset up to which lines were scanned (a line start).
    scanned: usize,
    /// The last place found at rest (a line start), 0 if none yet.
    rest: usize,
}

impl std::fmt::Debug for Framer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Framer")
    }
}

impl Cutter {
    pub fn new(max_doc: usize) -> Cutter {
        Cutter {
            max_doc,
            state: State::Idle,
            scanned: 0,
            rest: 0,
        }
    }

    /// The last place at rest in `buf[..end]`, where `end` is just after its last `\n`
    /// (`buf` starts at a place at rest). With `eager`, a last line that is a complete
    /// document by itself counts as decided without waiting for the next line.
    /// Returns 0 when there is none yet.
    pub fn find(&mut self, buf: &[u8], end: usize, eager: bool) -> usize {
        if let Some(hard) = last_hard_boundary(&buf[..end])
            && hard >= self.scanned
        {
            self.state = State::Idle;
            self.scanned = hard;
            self.rest = hard;
        }
        while self.scanned < end {
            let start = self.scanned;
            let line_end = memchr::memchr(b'\n', &buf[start..end]).map_or(end, |p| start + p);
            self.scanned = line_end + 1;
            self.line(buf, start, line_end);
        }
        if eager
            && let State::Pending {
                start,
                end: line_end,
            } = self.state
            && decided_alone(content(&buf[start..line_end]))
        {
            self.state = State::Idle;
            self.rest = self.scanned;
        }
        self.rest
    }

    fn line(&mut self, buf: &[u8], start: usize, end: usize) {
        let text = content(&buf[start..end]);
        let next_start = end + 1;
        match &mut self.state {
            State::Idle => {
                if end - start <= self.max_doc && opens_document(text) {
                    self.state = State::Pending { start, end };
                } else {
                    self.rest = next_start;
                }
            }
            State::Pending {
                start: p_start,
                end: p_end,
            } => {
                let (p_start, p_end) = (*p_start, *p_end);
                let pending = content(&buf[p_start..p_end]);
                if !is_blank(text) && hard_boundary(pending, text) {
                    // The pending line is a record of its own; this one starts afresh.
                    self.state = State::Idle;
                    self.rest = start;
                    self.line(buf, start, end);
                    return;
                }
                let mut framer = Box::new(Framer::new(self.max_doc));
                framer.push(pending, p_start as u64, p_end as u64);
                framer.push(text, start as u64, end as u64);
                self.state = State::Framing(framer);
                self.settle(next_start);
            }
            State::Framing(framer) => {
                framer.push(text, start as u64, end as u64);
                self.settle(next_start);
            }
        }
    }

    /// After a line pushed into the framer: drop decided records, note a rest.
    fn settle(&mut self, next_start: usize) {
        if let State::Framing(framer) = &mut self.state {
            while framer.pop().is_some() {}
            let _ = framer.take_notes();
            if framer.at_rest() {
                self.state = State::Idle;
                self.rest = next_start;
            }
        }
    }

    /// The buffer lost its first `cut` bytes (a block was handed on at a place at rest).
    /// (A cut beyond the last place at rest — at the end of input — starts afresh.)
    pub fn consume(&mut self, cut: usize) {
        if cut > self.rest {
            *self = Cutter::new(self.max_doc);
            return;
        }
        self.scanned -= cut;
        self.rest -= cut;
        if let State::Pending { start, end } = &mut self.state {
            // Pending lines start at or after the last place at rest.
            *start -= cut;
            *end -= cut;
        }
        // Offsets inside a framer only name records the cutter drops anyway.
    }
}

/// Whether a line that opens a document is a record by itself whatever follows: a
/// complete document, or JSON that breaks within the line (the framer then reads it
/// alone), so no next line is needed to decide it.
fn decided_alone(text: &[u8]) -> bool {
    Scanner::document(text).is_ok() || Scanner::default().line(text, &mut |_| {}).is_err()
}

/// The start of the line after the last hard boundary among the last few line pairs of
/// `buf` (which ends just after a `\n`).
fn last_hard_boundary(buf: &[u8]) -> Option<usize> {
    // Non-blank lines from the end: (start, end).
    let mut next: Option<(usize, usize)> = None;
    let mut cursor = buf.len().checked_sub(1)?; // the final `\n`
    for _ in 0..LOOK_BACK * 2 {
        let start = memchr::memrchr(b'\n', &buf[..cursor]).map_or(0, |p| p + 1);
        let line = (start, cursor);
        if !is_blank(content(&buf[start..cursor])) {
            if let Some((n_start, n_end)) = next
                && hard_boundary(content(&buf[start..cursor]), content(&buf[n_start..n_end]))
            {
                return Some(cursor + 1);
            }
            next = Some(line);
        }
        if start == 0 {
            return None;
        }
        cursor = start - 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_before_the_last_line_of_json_lines() {
        let buf = b"{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n";
        let mut c = Cutter::new(1000);
        assert_eq!(c.find(buf, buf.len(), false), 16);
        let mut c = Cutter::new(1000);
        assert_eq!(c.find(buf, buf.len(), true), buf.len());
    }

    #[test]
    fn never_cuts_inside_a_pretty_document() {
        let buf = b"{\"a\":1}\n{\n  \"b\": [\n    1\n  ]\n}\n{\"c\":";
        let end = buf.iter().rposition(|&b| b == b'\n').unwrap() + 1;
        let mut c = Cutter::new(1000);
        let cut = c.find(buf, end, true);
        assert_eq!(cut, end, "{}", String::from_utf8_lossy(&buf[..cut]));
        let mut c = Cutter::new(1000);
        assert_eq!(c.find(buf, 20, false), 8);
    }

    #[test]
    fn incremental_scanning_across_growth() {
        let doc = b"{\n\"a\": 1,\n\"b\": 2\n}\n";
        let mut c = Cutter::new(1000);
        assert_eq!(c.find(doc, 2, false), 0);
        assert_eq!(c.find(doc, 10, false), 0);
        assert_eq!(c.find(doc, doc.len(), false), doc.len());
        c.consume(doc.len());
        assert_eq!(c.rest, 0);
    }

    #[test]
    fn a_line_that_breaks_on_its_own_is_decided_without_the_next() {
        let buf = b"{\"a\":1}\n{\"kind\":\"Event\", broken\n";
        let mut c = Cutter::new(1000);
        assert_eq!(c.find(buf, buf.len(), true), buf.len());
        // Not in batch reading, which waits for the next line anyway.
        let mut c = Cutter::new(1000);
        assert_eq!(c.find(buf, buf.len(), false), 8);
        // An opening line that may go on waits.
        let buf = b"{\"kind\":\"Event\",\n";
        let mut c = Cutter::new(1000);
        assert_eq!(c.find(buf, buf.len(), true), 0);
    }

    #[test]
    fn stray_opener_then_lines() {
        let buf = b"{\n{\"a\":1}\n{\"b\":2}\n";
        let mut c = Cutter::new(1000);
        assert_eq!(c.find(buf, buf.len(), true), buf.len());
    }
}
