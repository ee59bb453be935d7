//! `--merge`: several streams (one log each, e.g. one per apiserver of an HA control
//! plane, each possibly many files) become one, ordered by event time
//! (`requestReceivedTimestamp`, or `timestamp` in old events); ties keep input order.
//!
//! Events are taken from the stream that is furthest behind in time, and an event is
//! passed on once every stream that may still bring events has gone `window` past it. So
//! the disorder inside each stream is sorted out within the window, and memory holds the
//! events of one window per stream (plus the blocks read ahead), whatever the streams'
//! sizes. An event older than one already passed on (a stream out of order by more than
//! the window: a watch logged when it ended) is passed on at once, and counted.

use super::{Done, Processed, Throttle, Writer, weight};
use crate::block::BlockResult;
use crate::sink::{Matched, Meta};
use crate::timefmt::Nanos;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;

/// A block whose events are being taken.
struct Ready {
    result: Box<BlockResult>,
    /// The next match to take, and where its text starts.
    next: usize,
    start: usize,
}

struct Stream {
    /// Its targets not finished yet, in order.
    targets: VecDeque<usize>,
    /// The next block expected of the first target.
    block: u64,
    waiting: BTreeMap<(usize, u64), Done>,
    ready: VecDeque<Ready>,
    /// The latest time seen in it.
    frontier: Option<Nanos>,
    seq: u64,
}

impl Stream {
    /// Whether it may still bring events.
    fn active(&self) -> bool {
        !self.targets.is_empty() || !self.ready.is_empty()
    }
}

/// An event waiting in the window.
struct Entry {
    key: (Nanos, usize, u64),
    text: Vec<u8>,
    fields: Vec<String>,
    meta: Option<Box<Meta>>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

struct Merger<'w, 'a> {
    writer: &'w mut Writer<'a>,
    /// Bytes of results held in `waiting` and `ready` queues.
    held: u64,
    window: Nanos,
    streams: Vec<Stream>,
    /// Which stream each target belongs to.
    stream_of: Vec<usize>,
    heap: BinaryHeap<Reverse<Entry>>,
    last_released: Option<Nanos>,
    late: u64,
    stopped: bool,
}

/// The `--merge` writer: see the module docs.
pub(super) fn write(
    writer: &mut Writer<'_>,
    done: &Receiver<Done>,
    throttle: &Throttle,
    stop: &AtomicBool,
    window: Nanos,
) -> io::Result<()> {
    let count = writer
        .targets
        .iter()
        .map(|t| t.stream + 1)
        .max()
        .unwrap_or(0);
    let mut streams: Vec<Stream> = (0..count)
        .map(|_| Stream {
            targets: VecDeque::new(),
            block: 0,
            waiting: BTreeMap::new(),
            ready: VecDeque::new(),
            frontier: None,
            seq: 0,
        })
        .collect();
    let stream_of: Vec<usize> = writer.targets.iter().map(|t| t.stream).collect();
    for (i, t) in writer.targets.iter().enumerate() {
        streams[t.stream].targets.push_back(i);
    }
    let mut merger = Merger {
        writer,
        held: 0,
        window: window.max(0),
        streams,
        stream_of,
        heap: BinaryHeap::new(),
        last_released: None,
        late: 0,
        stopped: false,
    };
    for message in done {
        if merger.stopped || stop.load(Ordering::Relaxed) {
            continue;
        }
        if let Processed::Block(result) = &message.outcome {
            merger.held += weight(result);
        }
        let stream = merger.stream_of[message.target];
        merger.streams[stream]
            .waiting
            .insert((message.target, message.block), message);
        let result = merger.advance(stream).and_then(|()| merger.pump());
        if let Err(e) = result {
            stop.store(true, Ordering::Relaxed);
            return Err(e);
        }
        if merger.stopped {
            stop.store(true, Ordering::Relaxed);
        }
        throttle.set(merger.held, merger.behind().unwrap_or(usize::MAX));
    }
    if !merger.stopped {
        merger.pump()?;
        merger.release(Nanos::MAX)?;
    }
    if merger.late > 0 {
        merger.writer.report.warn(&format!(
            "--merge: {} events were more than the merge window ({}s) older than events already printed; printed out of time order",
            merger.late,
            merger.window / 1_000_000_000
        ))?;
    }
    Ok(())
}

impl Merger<'_, '_> {
    /// Moves a stream's blocks that arrived in order into its ready queue.
    fn advance(&mut self, s: usize) -> io::Result<()> {
        loop {
            let Some(&target) = self.streams[s].targets.front() else {
                return Ok(());
            };
            let block = self.streams[s].block;
            let Some(message) = self.streams[s].waiting.remove(&(target, block)) else {
                return Ok(());
            };
            self.streams[s].block += 1;
            match message.outcome {
                Processed::Block(result) => {
                    if !self.writer.account(target, &result, 0)? {
                        self.stopped = true;
                    }
                    self.streams[s].ready.push_back(Ready {
                        result,
                        next: 0,
                        start: 0,
                    });
                }
                Processed::End => {
                    self.streams[s].targets.pop_front();
                    self.streams[s].block = 0;
                }
                other => {
                    self.writer.other(target, other)?;
                }
            }
        }
    }

    /// Takes events from the stream furthest behind and passes on what the window allows.
    fn pump(&mut self) -> io::Result<()> {
        while !self.stopped {
            self.release(self.watermark())?;
            let Some(s) = self.behind() else {
                return Ok(());
            };
            if !self.take(s)? {
                return Ok(()); // wait for more of it
            }
        }
        Ok(())
    }

    /// The active stream furthest behind (one with nothing seen yet first).
    fn behind(&self) -> Option<usize> {
        (0..self.streams.len())
            .filter(|&s| self.streams[s].active())
            .min_by_key(|&s| (self.streams[s].frontier.map_or(Nanos::MIN, |t| t), s))
    }

    /// Where events may be passed on: a window behind the active stream furthest behind.
    fn watermark(&self) -> Nanos {
        let mut mark = Nanos::MAX;
        for stream in self.streams.iter().filter(|s| s.active()) {
            match stream.frontier {
                None => return Nanos::MIN,
                Some(t) => mark = mark.min(t.saturating_sub(self.window)),
            }
        }
        mark
    }

    /// Takes one event of stream `s` into the window; false when none is there yet.
    fn take(&mut self, s: usize) -> io::Result<bool> {
        let stream = &mut self.streams[s];
        let Some(ready) = stream.ready.front_mut() else {
            return Ok(false);
        };
        let Some(m) = ready.result.matches.get(ready.next) else {
            if let Some(done) = stream.ready.pop_front() {
                self.held = self.held.saturating_sub(weight(&done.result));
            }
            return Ok(true);
        };
        let text = ready.result.out[ready.start..m.end].to_vec();
        ready.start = m.end;
        ready.next += 1;
        let time = m
            .meta
            .as_ref()
            .and_then(|meta| meta.time)
            .or(stream.frontier)
            .unwrap_or(Nanos::MIN);
        stream.frontier = Some(stream.frontier.map_or(time, |f| f.max(time)));
        stream.seq += 1;
        let entry = Entry {
            key: (time, s, stream.seq),
            text,
            fields: m.key.clone(),
            meta: m.meta.clone(),
        };
        if self.last_released.is_some_and(|last| time < last) {
            self.late += 1;
            self.emit(entry)?;
        } else {
            self.heap.push(Reverse(entry));
        }
        Ok(true)
    }

    /// Passes on every event at or before `mark`, in order.
    fn release(&mut self, mark: Nanos) -> io::Result<()> {
        while let Some(Reverse(top)) = self.heap.peek() {
            if top.key.0 > mark || self.stopped {
                break;
            }
            let Some(Reverse(entry)) = self.heap.pop() else {
                break;
            };
            self.last_released = Some(entry.key.0);
            self.emit(entry)?;
        }
        Ok(())
    }

    fn emit(&mut self, entry: Entry) -> io::Result<()> {
        if self.writer.room() == 0 {
            self.stopped = true;
            return Ok(());
        }
        self.writer.sink.event(&Matched {
            text: &entry.text,
            key: &entry.fields,
            meta: entry.meta.as_deref(),
            row: None,
        })?;
        self.writer.report.totals.written += 1;
        if self.writer.room() == 0 {
            self.stopped = true;
        }
        Ok(())
    }
}
