//! What a run tells the user besides its results: messages about the input (lines too
//! long, invalid lines under `--strict`, unreadable inputs), with file and line, and the
//! totals. Shared by search and follow so each message has one wording.

use crate::block::{BlockResult, Place};
use crate::framing::Skip;
use crate::sink::Totals;
use crate::source::Input;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// The prefix of every message auditq prints.
pub const PREFIX: &str = "auditq: ";

/// Formats an error message as printed.
pub fn error_line(message: &str) -> String {
    format!("{PREFIX}{message}")
}

/// Formats a warning as printed.
pub fn warning_line(message: &str) -> String {
    format!("{PREFIX}warning: {message}")
}

/// The note on an input that yielded no audit event: what its lines were.
pub fn no_event_note(name: &str, c: &crate::sink::Counters) -> String {
    format!("{name}: no audit event in {} line(s); {}", c.lines, held(c))
}

/// What the lines of an input were, when none was an audit event.
pub fn held(c: &crate::sink::Counters) -> String {
    let mut parts: Vec<String> = Skip::ALL
        .iter()
        .filter_map(|k| {
            let n = c.skipped.get(k).copied().unwrap_or(0);
            (n > 0).then(|| format!("{n} {}", k.label()))
        })
        .collect();
    for (what, n) in &c.seen {
        parts.push(format!("{n} {what}"));
    }
    if parts.is_empty() {
        return "nothing auditq recognises".into();
    }
    format!(
        "it held {} (formats auditq reads: docs/formats.md)",
        parts.join(", ")
    )
}

/// Where in an input a message points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    /// A line number (1-based).
    Line(u64),
    /// A byte offset, where the line is not known (follow mode resuming from a
    /// checkpoint in the middle of a file).
    Byte(u64),
}

/// `FILE:LINE` or `FILE: byte N`, as messages name places.
pub fn place(name: &str, at: Where) -> String {
    match at {
        Where::Line(line) => format!("{name}:{line}"),
        Where::Byte(offset) => format!("{name}: byte {offset}"),
    }
}

/// Messages and totals of one run.
pub struct Report<'a> {
    err: &'a mut dyn Write,
    max_line_bytes: usize,
    /// Lines seen so far per input, to turn block-relative line numbers into file lines.
    lines_before: Vec<u64>,
    first_skip: BTreeMap<(usize, Skip), u64>,
    /// What each input held, for the note on an input that yielded no event.
    per_input: BTreeMap<usize, crate::sink::Counters>,
    pub totals: Totals,
}

impl<'a> Report<'a> {
    pub fn new(inputs: usize, max_line_bytes: usize, err: &'a mut dyn Write) -> Self {
        Report {
            err,
            max_line_bytes,
            lines_before: vec![0; inputs],
            first_skip: BTreeMap::new(),
            per_input: BTreeMap::new(),
            totals: Totals::default(),
        }
    }

    /// An error about the input (the run goes on, and exits 2).
    pub fn error(&mut self, message: &str) -> io::Result<()> {
        writeln!(self.err, "{}", error_line(message))
    }

    pub fn warn(&mut self, message: &str) -> io::Result<()> {
        writeln!(self.err, "{}", warning_line(message))
    }

    /// Input `input` starts again from line 1 (follow mode: the next file).
    pub fn restart_lines(&mut self, input: usize, at_line: u64) {
        if let Some(n) = self.lines_before.get_mut(input) {
            *n = at_line;
        }
    }

    /// Lines of input `input` accounted for so far.
    pub fn lines_before(&self, input: usize) -> u64 {
        self.lines_before.get(input).copied().unwrap_or(0)
    }

    fn line_base(&mut self, input: usize) -> &mut u64 {
        if self.lines_before.len() <= input {
            self.lines_before.resize(input + 1, 0);
        }
        &mut self.lines_before[input]
    }

    /// A line longer than `--max-line-bytes`, skipped by the reader; `offset` (follow
    /// mode) places it by byte instead of by line.
    pub fn long_line(
        &mut self,
        input: usize,
        name: &str,
        bytes: u64,
        offset: Option<u64>,
    ) -> io::Result<()> {
        let base = self.line_base(input);
        *base += 1;
        let line = *base;
        self.totals.counters.lines += 1;
        self.totals.counters.skip(Skip::TooLong);
        let limit = self.max_line_bytes;
        let place = match offset {
            Some(offset) => format!("{}: line", place(name, Where::Byte(offset))),
            None => format!("{}: line", place(name, Where::Line(line))),
        };
        self.error(&format!(
            "{place} of {bytes} bytes is longer than --max-line-bytes ({limit}); skipped"
        ))
    }

    /// Accounts for a processed block of which `written` matches were handed on; prints
    /// its messages. Places are lines counted per input, or, with `offset` (follow mode,
    /// which may start in the middle of a file), bytes from the block's offset.
    /// Returns true when `--strict` stopped at an invalid line.
    pub fn block(
        &mut self,
        input: usize,
        name: &str,
        result: &BlockResult,
        written: u64,
        offset: Option<u64>,
    ) -> io::Result<bool> {
        let base = *self.line_base(input);
        *self.line_base(input) += result.counters.lines;
        for (kind, line) in &result.first_skip {
            self.first_skip
                .entry((input, *kind))
                .or_insert(base + line + 1);
        }
        let at = |at: &Place| match offset {
            Some(o) => place(name, Where::Byte(o + at.offset)),
            None => place(name, Where::Line(base + at.line + 1)),
        };
        let limit = self.max_line_bytes;
        for (place, bytes) in &result.long_lines {
            let at = at(place);
            self.error(&format!(
                "{at}: line of {bytes} bytes is longer than --max-line-bytes ({limit}); skipped"
            ))?;
        }
        for place in &result.long_documents {
            let at = at(place);
            self.warn(&format!(
                "{at}: a multi-line document starting here is longer than --max-line-bytes ({limit}); its lines were read one by one"
            ))?;
        }
        self.totals.counters.add(&result.counters);
        self.per_input
            .entry(input)
            .or_default()
            .add(&result.counters);
        self.totals.written += written;
        if let Some((place, reason)) = &result.strict_error {
            let at = at(place);
            self.error(&format!("{at}: {reason} (stopped by --strict)"))?;
            return Ok(true);
        }
        Ok(false)
    }

    /// `--strict`, follow mode: following stopped with `bytes` bytes of a record read
    /// but not its end (a line without its `\n`, or a document still open).
    pub fn unfinished_at_stop(&mut self, name: &str, at: Where, bytes: usize) -> io::Result<()> {
        self.error(&format!(
            "{}: incomplete when auditq stopped: {bytes} byte(s) of a record without its end (stopped by --strict)",
            place(name, at)
        ))
    }

    /// Never a silent zero: each input that was read and yielded no audit event, with
    /// what its lines were (see [`held`]). With the prefilter on, lines without a needle
    /// were not looked at: the caller looks again before saying anything.
    pub fn empty_inputs(&self, inputs: &[Input]) -> Vec<(Input, crate::sink::Counters)> {
        self.per_input
            .iter()
            .filter(|(_, c)| c.events == 0 && c.lines > 0)
            .filter_map(|(input, c)| Some((inputs.get(*input)?.clone(), c.clone())))
            .collect()
    }

    /// The first line of each kind of skipped line, per input.
    pub fn first_skips(&self, inputs: &[Input]) -> Vec<(String, Skip, u64)> {
        self.first_skip
            .iter()
            .map(|((input, kind), line)| {
                let name = inputs
                    .get(*input)
                    .map_or_else(|| "(input)".to_string(), Input::display_name);
                (name, *kind, *line)
            })
            .collect()
    }

    /// The closing hint about invalid lines that were skipped (without `--strict`).
    pub fn invalid_lines_hint(
        first_skips: &[(String, Skip, u64)],
        totals: &Totals,
        err: &mut dyn Write,
    ) {
        if let Some((name, _, line)) = first_skips.iter().find(|(_, k, _)| *k == Skip::InvalidJson)
        {
            let n = totals
                .counters
                .skipped
                .get(&Skip::InvalidJson)
                .copied()
                .unwrap_or(0);
            let _ = writeln!(
                err,
                "{}",
                error_line(&format!(
                    "skipped {n} invalid JSON line(s); first at {name}:{line} (use --strict to stop on them)"
                ))
            );
        }
    }
}
