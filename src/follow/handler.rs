//! The [`Handler`] follow mode uses: each block goes through the same block processor
//! as a file search (framing, prefilter, parse, query, format) and the same [`Sink`].

use super::{Collected, Flow, Handler, OutputError};
use crate::block::{BlockProcessor, BlockResult, Plan};
use crate::framing;
use crate::report::{Report, Where};
use crate::sink::{Matched, Sink, Totals};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Instant;

/// Runs the query on what the follower reads and writes matches to a sink.
pub struct QueryHandler<'a> {
    processor: BlockProcessor,
    sink: &'a mut dyn Sink,
    report: Report<'a>,
    max_count: Option<u64>,
    result: BlockResult,
    /// `-n N`: how many to keep, and what was kept.
    collecting: Option<(usize, VecDeque<Collected>)>,
    strict_error: bool,
    /// `--strict`, and the framing's document limit (`--max-line-bytes`).
    strict: bool,
    max_line_bytes: usize,
    /// Per file read lately: the offset where its next block starts and the lines
    /// before it, so messages name lines. A block elsewhere (a resumed checkpoint) has
    /// no known line: messages then name its bytes.
    lines: Vec<(String, u64, u64)>,
    started: Instant,
}

/// How many files [`QueryHandler`] counts lines of at once (the active file and the
/// backups read around a rotation).
const LINES_KEPT: usize = 8;

impl<'a> QueryHandler<'a> {
    pub fn new(
        plan: Arc<Plan>,
        sink: &'a mut dyn Sink,
        err: &'a mut dyn Write,
        max_count: Option<u64>,
    ) -> Self {
        let max_line_bytes = plan.max_line_bytes;
        let strict = plan.strict;
        QueryHandler {
            strict,
            max_line_bytes,
            lines: Vec::new(),
            processor: BlockProcessor::new(plan),
            sink,
            report: Report::new(1, max_line_bytes, err),
            max_count,
            result: BlockResult::default(),
            collecting: None,
            strict_error: false,
            started: Instant::now(),
        }
    }

    /// Starts the output (before anything is read).
    pub fn begin(&mut self) -> io::Result<()> {
        self.sink.begin()
    }

    /// Matches written so far.
    pub fn written(&self) -> u64 {
        self.report.totals.written
    }

    /// Whether `--strict` stopped the run.
    pub fn strict_error(&self) -> bool {
        self.strict_error
    }

    /// Ends the output (closes a JSON array, prints counts and `--stats`).
    pub fn finish(&mut self) -> io::Result<Totals> {
        let mut totals = self.report.totals.clone();
        totals.seconds = self.started.elapsed().as_secs_f64();
        self.sink.finish(&totals)?;
        Ok(totals)
    }

    fn room(&self) -> u64 {
        self.max_count
            .map_or(u64::MAX, |m| m.saturating_sub(self.report.totals.written))
    }

    /// Warns about runs of NUL bytes at line starts: what a writer without `O_APPEND`
    /// leaves after copytruncate (a sparse hole). Framing skips them.
    fn warn_nul_runs(&mut self, file: &str, offset: u64, block: &[u8]) {
        if memchr::memchr(0, block).is_none() {
            return;
        }
        let mut start = 0;
        while start < block.len() {
            let end = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |p| start + p);
            let nuls = block[start..end].iter().take_while(|&&b| b == 0).count();
            if nuls > 0 {
                let at = offset + start as u64;
                let _ = self.report.warn(&format!(
                    "{file}: {nuls} NUL bytes at offset {at} skipped (sparse file after copytruncate?)"
                ));
            }
            start = end + 1;
        }
    }
}

impl QueryHandler<'_> {
    /// Lines of `file` before `offset`, if known: none before offset 0, else where the
    /// last block of that file ended.
    fn lines_at(&self, file: &str, offset: u64) -> Option<u64> {
        if offset == 0 {
            return Some(0);
        }
        self.lines
            .iter()
            .find(|(f, at, _)| f == file && *at == offset)
            .map(|(.., n)| *n)
    }

    /// `file` continues at `offset` with `lines` lines before it (`None`: not known).
    fn set_lines(&mut self, file: &str, offset: u64, lines: Option<u64>) {
        self.lines.retain(|(f, ..)| f != file);
        if let Some(n) = lines {
            if self.lines.len() == LINES_KEPT {
                self.lines.remove(0);
            }
            self.lines.push((file.to_string(), offset, n));
        }
    }

    /// Processes one block of `file` at `offset` and hands on its results. With
    /// `only_if_strict`, the results are dropped unless `--strict` stops in the block
    /// (the block is then what has not ended yet, read as it stands).
    fn handle(
        &mut self,
        file: &str,
        offset: u64,
        block: &[u8],
        only_if_strict: bool,
    ) -> Result<Flow, OutputError> {
        self.result.clear();
        self.processor.process(block, &mut self.result);
        if only_if_strict && self.result.strict_error.is_none() {
            return Ok(Flow::Continue);
        }
        let result = std::mem::take(&mut self.result);
        let mut written = 0u64;
        if let Some((keep, kept)) = &mut self.collecting {
            for (text, m) in result.texts() {
                if kept.len() == *keep {
                    kept.pop_front();
                }
                kept.push_back(Collected {
                    text: text.to_vec(),
                    key: m.key.clone(),
                    meta: m.meta.clone(),
                });
            }
        } else {
            let room = usize::try_from(self.room()).unwrap_or(usize::MAX);
            let take = result.matches.len().min(room);
            self.sink
                .events(&result.out, &result.matches[..take])
                .map_err(output)?;
            written = take as u64;
        }
        let lines = self.lines_at(file, offset);
        self.set_lines(
            file,
            offset + block.len() as u64,
            lines.map(|n| n + result.counters.lines),
        );
        let strict = match lines {
            Some(n) => {
                self.report.restart_lines(0, n);
                self.report.block(0, file, &result, written, None)
            }
            None => self.report.block(0, file, &result, written, Some(offset)),
        }
        .map_err(output)?;
        self.result = result;
        if strict {
            self.strict_error = true;
            return Ok(Flow::Stop);
        }
        Ok(if self.room() == 0 {
            Flow::Stop
        } else {
            Flow::Continue
        })
    }
}

fn output(e: io::Error) -> OutputError {
    OutputError(e)
}

impl Handler for QueryHandler<'_> {
    fn block(&mut self, file: &str, offset: u64, block: &[u8]) -> Result<Flow, OutputError> {
        self.warn_nul_runs(file, offset, block);
        self.handle(file, offset, block, false)
    }

    fn long_line(&mut self, file: &str, offset: u64, bytes: u64) -> Result<(), OutputError> {
        let lines = self.lines_at(file, offset);
        self.set_lines(file, offset + bytes + 1, lines.map(|n| n + 1));
        match lines {
            Some(n) => {
                self.report.restart_lines(0, n);
                self.report.long_line(0, file, bytes, None)
            }
            None => self.report.long_line(0, file, bytes, Some(offset)),
        }
        .map_err(output)
    }

    fn unfinished(&mut self, file: &str, offset: u64, pending: &[u8]) -> Result<Flow, OutputError> {
        if !self.strict || self.strict_error {
            return Ok(Flow::Continue);
        }
        let cut = memchr::memrchr(b'\n', pending).map_or(0, |p| p + 1);
        let (before, partial) = pending.split_at(cut);
        if !framing::line_never_valid(before, partial, self.max_line_bytes) {
            return Ok(Flow::Continue);
        }
        // What has not ended is read as it stands: the first invalid line in it (this
        // one, or one before it that it leaves undecided no more) stops the run.
        self.handle(file, offset, pending, true)
    }

    fn stopping(&mut self, file: &str, offset: u64, pending: &[u8]) -> Result<(), OutputError> {
        if !self.strict || self.strict_error {
            return Ok(());
        }
        // The first line that is not blank: where the unfinished record starts.
        let mut start = 0;
        for (line, text) in (0u64..).zip(pending.split_inclusive(|&b| b == b'\n')) {
            let content = framing::content(text.strip_suffix(b"\n").unwrap_or(text));
            if !framing::is_blank(content) {
                let at = match self.lines_at(file, offset) {
                    Some(n) => Where::Line(n + line + 1),
                    None => Where::Byte(offset + start as u64),
                };
                self.strict_error = true;
                return self
                    .report
                    .unfinished_at_stop(file, at, pending.len() - start)
                    .map_err(output);
            }
            start += text.len();
        }
        Ok(())
    }

    fn lines_before(&mut self, file: &str, offset: u64, lines: u64) {
        self.set_lines(file, offset, Some(lines));
    }

    fn flush(&mut self) -> Result<(), OutputError> {
        self.sink.flush().map_err(output)
    }

    fn warn(&mut self, message: &str) {
        let _ = self.report.warn(message);
    }

    fn collect(&mut self, keep: usize) {
        self.collecting = Some((keep, VecDeque::new()));
    }

    fn take_collected(&mut self) -> Vec<Collected> {
        self.collecting
            .take()
            .map(|(_, kept)| kept.into())
            .unwrap_or_default()
    }

    fn emit_collected(&mut self, items: Vec<Collected>) -> Result<Flow, OutputError> {
        for item in items {
            if self.room() == 0 {
                return Ok(Flow::Stop);
            }
            self.sink
                .event(&Matched {
                    text: &item.text,
                    key: &item.key,
                    meta: item.meta.as_deref(),
                    row: None,
                })
                .map_err(output)?;
            self.report.totals.written += 1;
        }
        Ok(if self.room() == 0 {
            Flow::Stop
        } else {
            Flow::Continue
        })
    }
}
