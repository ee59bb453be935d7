//! The [`LineHandler`] that follow mode uses: each complete line goes through the same
//! block processor as a file search (framing, prefilter, parse, query, format).

use super::LineHandler;
use crate::block::{BlockProcessor, BlockResult, Plan};
use std::io::{self, Write};
use std::sync::Arc;

pub struct QueryHandler<W: Write, E: Write> {
    processor: BlockProcessor,
    plan: Arc<Plan>,
    out: W,
    err: E,
    header_written: bool,
    /// The line `is_match` last processed and its result: `emit` nearly always follows
    /// with the same line, which then need not be parsed a second time.
    last: Option<(Vec<u8>, BlockResult)>,
}

impl<W: Write, E: Write> QueryHandler<W, E> {
    pub fn new(plan: Arc<Plan>, out: W, err: E) -> Self {
        QueryHandler {
            processor: BlockProcessor::new(Arc::clone(&plan)),
            plan,
            out,
            err,
            header_written: false,
            last: None,
        }
    }

    fn run(&mut self, line: &[u8]) -> BlockResult {
        if let Some((seen, result)) = self.last.take()
            && seen == line
        {
            return result;
        }
        let mut result = BlockResult::default();
        self.processor.process(line, &mut result);
        result
    }
}

impl<W: Write, E: Write> LineHandler for QueryHandler<W, E> {
    fn is_match(&mut self, line: &[u8]) -> bool {
        let result = self.run(line);
        let matched = result.counters.matched > 0;
        if matched {
            self.last = Some((line.to_vec(), result));
        }
        matched
    }

    fn emit(&mut self, line: &[u8]) -> io::Result<()> {
        let result = self.run(line);
        if result.out.is_empty() {
            return Ok(());
        }
        if !self.header_written {
            self.header_written = true;
            if let Some(header) = self.plan.writer.header() {
                self.out.write_all(&header)?;
            }
        }
        self.out.write_all(&result.out)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn warn(&mut self, message: &str) {
        let _ = writeln!(self.err, "auditq: warning: {message}");
    }
}
