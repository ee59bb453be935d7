//! The search pipeline: a reader thread cuts inputs into blocks, worker threads process
//! blocks in parallel, and the calling thread writes results in input order.
//!
//! Memory stays flat whatever the input size: a fixed pool of block buffers circulates
//! reader → worker → writer → reader, so at most `pool` blocks are alive at once.

use crate::block::{BlockProcessor, BlockResult, Counters, Plan};
use crate::framing::Skip;
use crate::source::{BlockReader, Chunk, Input};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How to run a search (everything except the query, which is in [`Plan`]).
#[derive(Debug, Clone)]
pub struct Options {
    pub threads: usize,
    pub block_size: usize,
    pub max_line_bytes: usize,
    pub max_count: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            block_size: 1 << 20,
            max_line_bytes: 64 << 20,
            max_count: None,
        }
    }
}

/// What a search found, for the exit code and `--stats`.
#[derive(Debug, Default)]
pub struct Summary {
    pub counters: Counters,
    pub groups: HashMap<Vec<String>, u64>,
    /// An input could not be read, or `--strict` stopped the run.
    pub had_error: bool,
    pub seconds: f64,
    /// Per input: the first line of each skip kind, for the hint printed at the end.
    pub first_skips: Vec<(String, Skip, u64)>,
}

struct Job {
    seq: u64,
    input: usize,
    work: Work,
}

enum Work {
    /// A buffer and how many of its bytes are the block.
    Lines(Vec<u8>, usize),
    LongLine(u64),
    Failed(String),
}

struct Done {
    seq: u64,
    input: usize,
    outcome: Outcome,
}

enum Outcome {
    Block(Vec<u8>, Box<BlockResult>),
    LongLine(u64),
    Failed(String),
}

/// Runs the search over `inputs`, writing to `out`; messages go to `err`.
pub fn run(
    inputs: &[Input],
    plan: Arc<Plan>,
    options: &Options,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Summary> {
    let started = Instant::now();
    let threads = options.threads.max(1);
    let pool_size = threads * 4 + 2;
    let stop = AtomicBool::new(false);
    let (pool_tx, pool_rx) = sync_channel::<Vec<u8>>(pool_size);
    for _ in 0..pool_size {
        let _ = pool_tx.send(Vec::new());
    }
    let (job_tx, job_rx) = sync_channel::<Job>(pool_size);
    let (done_tx, done_rx) = sync_channel::<Done>(pool_size);
    let job_rx = Mutex::new(job_rx);
    let mut writer = Writer::new(inputs, plan.as_ref(), options, out, err);
    let result = std::thread::scope(|scope| {
        let stop = &stop;
        scope.spawn(move || read_inputs(inputs, options, &pool_rx, job_tx, stop));
        for _ in 0..threads {
            let done_tx = done_tx.clone();
            let plan = Arc::clone(&plan);
            let job_rx = &job_rx;
            scope.spawn(move || work(plan, job_rx, done_tx));
        }
        drop(done_tx);
        writer.write_in_order(&done_rx, &pool_tx, stop)
    });
    let mut summary = writer.finish(result)?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn read_inputs(
    inputs: &[Input],
    options: &Options,
    pool: &Receiver<Vec<u8>>,
    jobs: SyncSender<Job>,
    stop: &AtomicBool,
) {
    let mut seq = 0;
    // A buffer taken from the pool but not sent on (end of input, errors) is kept here,
    // so the pool never loses buffers.
    let mut spare: Option<Vec<u8>> = None;
    for (index, input) in inputs.iter().enumerate() {
        let mut send = |work| {
            let ok = jobs
                .send(Job {
                    seq,
                    input: index,
                    work,
                })
                .is_ok();
            seq += 1;
            ok
        };
        let reader = match input.open() {
            Ok(reader) => reader,
            Err(e) => {
                if !send(Work::Failed(e.to_string())) {
                    return;
                }
                continue;
            }
        };
        let eager = *input == Input::Stdin;
        let mut blocks =
            BlockReader::new(reader, options.block_size, options.max_line_bytes, eager);
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let mut buf = match spare.take() {
                Some(buf) => buf,
                None => match pool.recv() {
                    Ok(buf) => buf,
                    Err(_) => return,
                },
            };
            let chunk = blocks.next_chunk(&mut buf);
            if !matches!(chunk, Ok(Some(Chunk::Lines { .. }))) {
                spare = Some(buf);
            }
            let work = match chunk {
                Ok(None) => break,
                Ok(Some(Chunk::Lines { data, len })) => Work::Lines(data, len),
                Ok(Some(Chunk::LongLine { bytes })) => Work::LongLine(bytes),
                Err(e) => Work::Failed(e.to_string()),
            };
            let failed = matches!(work, Work::Failed(_));
            if !send(work) {
                return;
            }
            if failed {
                break;
            }
        }
    }
}

fn work(plan: Arc<Plan>, jobs: &Mutex<Receiver<Job>>, done: SyncSender<Done>) {
    let mut processor = BlockProcessor::new(plan);
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let outcome = match job.work {
            Work::Lines(lines, len) => {
                let mut result = BlockResult::default();
                processor.process(&lines[..len], &mut result);
                Outcome::Block(lines, Box::new(result))
            }
            Work::LongLine(bytes) => Outcome::LongLine(bytes),
            Work::Failed(message) => Outcome::Failed(message),
        };
        let done_msg = Done {
            seq: job.seq,
            input: job.input,
            outcome,
        };
        if done.send(done_msg).is_err() {
            return;
        }
    }
}

/// Writes results in input order and keeps the totals.
struct Writer<'a> {
    inputs: &'a [Input],
    plan: &'a Plan,
    options: &'a Options,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    summary: Summary,
    /// Lines seen so far per input, to turn block-relative line numbers into file lines.
    lines_before: Vec<u64>,
    written: u64,
    first_skip: BTreeMap<(usize, Skip), u64>,
    started_output: bool,
}

impl<'a> Writer<'a> {
    fn new(
        inputs: &'a [Input],
        plan: &'a Plan,
        options: &'a Options,
        out: &'a mut dyn Write,
        err: &'a mut dyn Write,
    ) -> Self {
        Writer {
            inputs,
            plan,
            options,
            out,
            err,
            summary: Summary::default(),
            lines_before: vec![0; inputs.len()],
            written: 0,
            first_skip: BTreeMap::new(),
            started_output: false,
        }
    }

    fn write_in_order(
        &mut self,
        done: &Receiver<Done>,
        pool: &SyncSender<Vec<u8>>,
        stop: &AtomicBool,
    ) -> io::Result<()> {
        let mut pending = BTreeMap::new();
        let mut next = 0;
        let mut failure = Ok(());
        for message in done {
            pending.insert(message.seq, message);
            while let Some(message) = pending.remove(&next) {
                next += 1;
                let buffer = if stop.load(Ordering::Relaxed) {
                    recycle(message.outcome)
                } else {
                    match self.handle(message) {
                        Ok((buffer, keep_going)) => {
                            if !keep_going {
                                stop.store(true, Ordering::Relaxed);
                            }
                            buffer
                        }
                        Err(e) => {
                            stop.store(true, Ordering::Relaxed);
                            failure = Err(e);
                            None
                        }
                    }
                };
                let _ = pool.try_send(buffer.unwrap_or_default());
            }
        }
        failure
    }

    /// Writes one result; returns its buffer for reuse and whether to go on.
    fn handle(&mut self, message: Done) -> io::Result<(Option<Vec<u8>>, bool)> {
        let name = self.inputs[message.input].display_name();
        match message.outcome {
            Outcome::Failed(e) => {
                writeln!(self.err, "auditq: {name}: {e}")?;
                self.summary.had_error = true;
                Ok((None, true))
            }
            Outcome::LongLine(bytes) => {
                self.lines_before[message.input] += 1;
                let line = self.lines_before[message.input];
                writeln!(
                    self.err,
                    "auditq: {name}:{line}: line of {bytes} bytes is longer than --max-line-bytes ({}); skipped",
                    self.options.max_line_bytes
                )?;
                *self
                    .summary
                    .counters
                    .skipped
                    .entry(Skip::TooLong)
                    .or_default() += 1;
                self.summary.counters.lines += 1;
                Ok((None, true))
            }
            Outcome::Block(buffer, result) => {
                let keep_going = self.block(message.input, &name, *result)?;
                if self.inputs[message.input] == Input::Stdin {
                    self.out.flush()?;
                }
                Ok((Some(buffer), keep_going))
            }
        }
    }

    fn block(&mut self, input: usize, name: &str, result: BlockResult) -> io::Result<bool> {
        let base = self.lines_before[input];
        self.lines_before[input] += result.counters.lines;
        for (kind, line) in &result.first_skip {
            self.first_skip
                .entry((input, *kind))
                .or_insert(base + line + 1);
        }
        let mut counters = result.counters;
        let limit = self
            .options
            .max_count
            .map(|m| m.saturating_sub(self.written));
        let take = limit.map_or(result.event_ends.len(), |l| {
            (l as usize).min(result.event_ends.len())
        });
        counters.matched = counters.matched.min(limit.unwrap_or(u64::MAX));
        for key in result
            .group_keys
            .into_iter()
            .take(counters.matched as usize)
        {
            *self.summary.groups.entry(key).or_default() += 1;
        }
        for (line, bytes) in &result.long_lines {
            writeln!(
                self.err,
                "auditq: {name}:{}: line of {bytes} bytes is longer than --max-line-bytes ({}); skipped",
                base + line + 1,
                self.options.max_line_bytes
            )?;
        }
        self.write_events(&result.out, &result.event_ends[..take])?;
        self.written += counters.matched;
        self.summary.counters.add(&counters);
        for (key, n) in result.groups {
            *self.summary.groups.entry(key).or_default() += n;
        }
        if let Some((line, reason)) = result.strict_error {
            writeln!(
                self.err,
                "auditq: {name}:{}: {reason} (stopped by --strict)",
                base + line + 1
            )?;
            self.summary.had_error = true;
            return Ok(false);
        }
        Ok(self.options.max_count.is_none_or(|m| self.written < m))
    }

    fn write_events(&mut self, out: &[u8], ends: &[usize]) -> io::Result<()> {
        if ends.is_empty() {
            return Ok(());
        }
        if !self.started_output {
            self.started_output = true;
            if let Some(header) = self.plan.writer.header() {
                self.out.write_all(&header)?;
            }
        }
        if self.plan.writer.format != crate::sink::Format::Json {
            return self.out.write_all(&out[..ends[ends.len() - 1]]);
        }
        let mut start = 0;
        for &end in ends {
            let sep: &[u8] = if self.written == 0 && start == 0 {
                b"[\n"
            } else {
                b",\n"
            };
            self.out.write_all(sep)?;
            self.out.write_all(&out[start..end - 1])?;
            start = end;
        }
        Ok(())
    }

    fn finish(mut self, result: io::Result<()>) -> io::Result<Summary> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(self.summary),
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        if self.plan.writer.format == crate::sink::Format::Json
            && !self.plan.count_only
            && self.plan.count_by.is_none()
        {
            let close: &[u8] = if self.started_output {
                b"\n]\n"
            } else {
                b"[]\n"
            };
            self.out.write_all(close)?;
        }
        self.summary.first_skips = self
            .first_skip
            .iter()
            .map(|((input, kind), line)| (self.inputs[*input].display_name(), *kind, *line))
            .collect();
        Ok(self.summary)
    }
}

fn recycle(outcome: Outcome) -> Option<Vec<u8>> {
    match outcome {
        Outcome::Block(buffer, _) => Some(buffer),
        _ => None,
    }
}
