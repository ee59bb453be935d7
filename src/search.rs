//! The search pipeline: a reader thread cuts inputs into blocks, worker threads process
//! blocks in parallel, and the calling thread hands the results to the [`Sink`] in input
//! order. That is all this module does: restore order and recycle buffers.
//!
//! Memory stays flat whatever the input size: a fixed pool of block buffers circulates
//! reader → worker → writer → reader, so at most `pool` blocks are alive at once.

use crate::block::{BlockProcessor, BlockResult, Plan};
use crate::framing::Skip;
use crate::report::Report;
use crate::sink::{Sink, Totals};
use crate::source::{BlockReader, Chunk, Input};
use std::collections::BTreeMap;
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
            block_size: crate::limits::DEFAULT_BLOCK_SIZE,
            max_line_bytes: crate::limits::DEFAULT_MAX_LINE_BYTES,
            max_count: None,
        }
    }
}

/// What a search found, for the exit code and the closing messages.
#[derive(Debug, Default)]
pub struct Outcome {
    pub totals: Totals,
    /// An input could not be read, or `--strict` stopped the run.
    pub had_error: bool,
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
    outcome: Processed,
}

enum Processed {
    Block(Vec<u8>, Box<BlockResult>),
    LongLine(u64),
    Failed(String),
}

/// Runs the search over `inputs`, handing matches to `sink` (and finishing it);
/// messages go to `err`. An output error is returned; input errors are reported and
/// counted in the outcome.
pub fn run(
    inputs: &[Input],
    plan: Arc<Plan>,
    options: &Options,
    sink: &mut dyn Sink,
    err: &mut dyn Write,
) -> io::Result<Outcome> {
    let started = Instant::now();
    sink.begin()?;
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
    let mut writer = Writer::new(inputs, options, sink, err);
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
    writer.finish(result, started.elapsed().as_secs_f64())
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
        let mut blocks = BlockReader::new(
            reader,
            options.block_size,
            options.max_line_bytes,
            input.read_mode(),
        );
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
                Ok(Some(Chunk::Pause)) => continue,
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
                Processed::Block(lines, Box::new(result))
            }
            Work::LongLine(bytes) => Processed::LongLine(bytes),
            Work::Failed(message) => Processed::Failed(message),
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

/// Hands results to the sink in input order and keeps the totals.
struct Writer<'a> {
    inputs: &'a [Input],
    options: &'a Options,
    sink: &'a mut dyn Sink,
    report: Report<'a>,
    had_error: bool,
}

impl<'a> Writer<'a> {
    fn new(
        inputs: &'a [Input],
        options: &'a Options,
        sink: &'a mut dyn Sink,
        err: &'a mut dyn Write,
    ) -> Self {
        Writer {
            inputs,
            options,
            sink,
            report: Report::new(inputs.len(), options.max_line_bytes, err),
            had_error: false,
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

    /// Hands on one result; returns its buffer for reuse and whether to go on.
    fn handle(&mut self, message: Done) -> io::Result<(Option<Vec<u8>>, bool)> {
        let input = message.input;
        let name = self.inputs[input].display_name();
        match message.outcome {
            Processed::Failed(e) => {
                self.report.error(&format!("{name}: {e}"))?;
                self.had_error = true;
                Ok((None, true))
            }
            Processed::LongLine(bytes) => {
                self.report.long_line(input, &name, bytes, None)?;
                Ok((None, true))
            }
            Processed::Block(buffer, result) => {
                let keep_going = self.block(input, &name, &result)?;
                if self.inputs[input].read_mode() != crate::source::ReadMode::Batch {
                    self.sink.flush()?;
                }
                Ok((Some(buffer), keep_going))
            }
        }
    }

    fn block(&mut self, input: usize, name: &str, result: &BlockResult) -> io::Result<bool> {
        let limit = self
            .options
            .max_count
            .map_or(u64::MAX, |m| m.saturating_sub(self.report.totals.written));
        let take = result
            .matches
            .len()
            .min(usize::try_from(limit).unwrap_or(usize::MAX));
        self.sink.events(&result.out, &result.matches[..take])?;
        let strict = self.report.block(input, name, result, take as u64, None)?;
        if strict {
            self.had_error = true;
            return Ok(false);
        }
        Ok(self
            .options
            .max_count
            .is_none_or(|m| self.report.totals.written < m))
    }

    fn finish(self, result: io::Result<()>, seconds: f64) -> io::Result<Outcome> {
        let broken_pipe = match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => true,
            Err(e) => return Err(e),
            Ok(()) => false,
        };
        let mut totals = self.report.totals.clone();
        totals.seconds = seconds;
        if !broken_pipe {
            match self.sink.finish(&totals) {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => return Err(e),
                _ => {}
            }
        }
        let first_skips = self.report.first_skips(self.inputs);
        Ok(Outcome {
            totals,
            had_error: self.had_error,
            first_skips,
        })
    }
}

fn recycle(outcome: Processed) -> Option<Vec<u8>> {
    match outcome {
        Processed::Block(buffer, _) => Some(buffer),
        _ => None,
    }
}

/// What [`scan_bytes`] found.
#[derive(Debug, Default)]
pub struct Scanned {
    /// The JSON lines of the matching events.
    pub output: Vec<u8>,
    pub counters: crate::sink::Counters,
}

/// Runs the search pipeline on one in-memory input in the calling thread: the same block
/// reader, framing and block processor as [`run`], without threads, printing JSON lines.
/// `dribble` reads it as a pipe handing out that many bytes at a time. For tests and
/// fuzzing.
pub fn scan_bytes(
    bytes: &[u8],
    expr: crate::query::Expr,
    prefilter: bool,
    block_size: usize,
    dribble: Option<usize>,
) -> Scanned {
    let plan = Arc::new(Plan::jsonl(expr, prefilter));
    let input = Input::memory("(memory)", bytes.to_vec(), dribble);
    let mut scanned = Scanned::default();
    let Ok(reader) = input.open() else {
        return scanned;
    };
    let mut blocks = BlockReader::new(reader, block_size, plan.max_line_bytes, input.read_mode());
    let mut processor = BlockProcessor::new(plan);
    let mut buf = Vec::new();
    let mut result = BlockResult::default();
    while let Ok(Some(chunk)) = blocks.next_chunk(&mut buf) {
        match chunk {
            Chunk::Lines { data, len } => {
                result.clear();
                processor.process(&data[..len], &mut result);
                scanned.output.extend_from_slice(&result.out);
                scanned.counters.add(&result.counters);
                buf = data;
            }
            Chunk::LongLine { .. } => {
                scanned.counters.lines += 1;
                scanned.counters.skip(Skip::TooLong);
            }
            Chunk::Pause => {}
        }
    }
    scanned
}
