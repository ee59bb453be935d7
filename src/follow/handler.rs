//! The [`Handler`] follow mode uses: each block goes through the same block processor
//! as a file search (framing, prefilter, parse, query, format) and the same [`Sink`].

use super::{Collected, Flow, Handler, OutputError};
use crate::block::{BlockProcessor, BlockResult, Plan};
use crate::report::Report;
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
    started: Instant,
}

impl<'a> QueryHandler<'a> {
    pub fn new(
        plan: Arc<Plan>,
        sink: &'a mut dyn Sink,
        err: &'a mut dyn Write,
        max_count: Option<u64>,
    ) -> Self {
        let max_line_bytes = plan.max_line_bytes;
        QueryHandler {
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

fn output(e: io::Error) -> OutputError {
    OutputError(e)
}

impl Handler for QueryHandler<'_> {
    fn block(&mut self, file: &str, offset: u64, block: &[u8]) -> Result<Flow, OutputError> {
        self.warn_nul_runs(file, offset, block);
        self.result.clear();
        self.processor.process(block, &mut self.result);
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
        let strict = self
            .report
            .block(0, file, &result, written, Some(offset))
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

    fn long_line(&mut self, file: &str, offset: u64, bytes: u64) -> Result<(), OutputError> {
        self.report
            .long_line(0, file, bytes, Some(offset))
            .map_err(output)
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
