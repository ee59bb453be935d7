//! Processing of one block of whole lines: framing, prefilter, parsing, evaluation and
//! formatting. Blocks are independent, so workers run this in parallel.

use crate::framing::{self, Line, Skip, legacy};
use crate::parse::{Json, Parser};
use crate::prefilter::{Found, Prefilter};
use crate::query::Expr;
use crate::query::fields::FieldRef;
use crate::sink::{EventWriter, field_text};
use std::collections::HashMap;
use std::sync::Arc;

/// What does not change while a search runs; shared by all workers.
pub struct Plan {
    pub expr: Expr,
    pub prefilter: Option<Prefilter>,
    pub writer: EventWriter,
    /// `--count-by`: aggregate instead of writing events.
    pub count_by: Option<Vec<FieldRef>>,
    /// `-c`: count only.
    pub count_only: bool,
    /// `--strict`: the first invalid line stops the block (and the run).
    pub strict: bool,
    /// `--max-line-bytes`: longer lines (and documents) are reported and skipped.
    pub max_line_bytes: usize,
    /// `-m`: with `--count-by`, groups must be counted in input order up to this many.
    pub max_count: Option<u64>,
}

/// Per-block counters, summed by the writer for `--stats`.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    pub lines: u64,
    pub bytes: u64,
    pub parsed: u64,
    pub events: u64,
    pub matched: u64,
    pub skipped: HashMap<Skip, u64>,
}

impl Counters {
    pub fn add(&mut self, other: &Counters) {
        self.lines += other.lines;
        self.bytes += other.bytes;
        self.parsed += other.parsed;
        self.events += other.events;
        self.matched += other.matched;
        for (kind, n) in &other.skipped {
            *self.skipped.entry(*kind).or_default() += n;
        }
    }
}

/// The result of one block, handed to the writer in input order.
#[derive(Default)]
pub struct BlockResult {
    /// Formatted matched events, back to back.
    pub out: Vec<u8>,
    /// End offset in `out` of each event (for `-m` and `-o json`).
    pub event_ends: Vec<usize>,
    pub counters: Counters,
    /// `--count-by` groups.
    pub groups: HashMap<Vec<String>, u64>,
    /// `--count-by` with `-m`: each match's group in order, so the writer can stop at m.
    pub group_keys: Vec<Vec<String>>,
    /// Lines longer than `--max-line-bytes`: (line within the block, 0-based; length).
    pub long_lines: Vec<(u64, u64)>,
    /// First line (0-based, within the block) of each skip kind, for the summary.
    pub first_skip: HashMap<Skip, u64>,
    /// `--strict`: the line (0-based, within the block) and reason that stopped it.
    pub strict_error: Option<(u64, String)>,
}

/// Per-worker state: the reusable parser.
pub struct BlockProcessor {
    plan: Arc<Plan>,
    parser: Parser,
}

impl BlockProcessor {
    pub fn new(plan: Arc<Plan>) -> Self {
        BlockProcessor {
            plan,
            parser: Parser::default(),
        }
    }

    /// Processes `block` (whole lines; the last may lack `\n`).
    pub fn process(&mut self, block: &[u8], result: &mut BlockResult) {
        result.counters.bytes = block.len() as u64;
        result.counters.lines = count_lines(block);
        if block.len() > self.plan.max_line_bytes {
            find_long_lines(block, self.plan.max_line_bytes, result);
        }
        let plan = Arc::clone(&self.plan);
        let Some(prefilter) = &plan.prefilter else {
            self.frame_all(block, 0, result);
            return;
        };
        let mut candidates = Vec::new();
        let mut document_from = None;
        prefilter.scan(block, |found| match found {
            Found::Line(start, end) => candidates.push((start, end)),
            Found::Document(start) => document_from = Some(start),
        });
        for (start, end) in candidates {
            if !self.line(block, start, &block[start..end], result) {
                return;
            }
        }
        if let Some(start) = document_from {
            self.frame_all(block, start, result);
        }
    }

    /// Frames every line from `from` on, joining pretty-printed documents.
    fn frame_all(&mut self, block: &[u8], from: usize, result: &mut BlockResult) {
        let mut pos = from;
        while pos < block.len() {
            let end = memchr::memchr(b'\n', &block[pos..]).map_or(block.len(), |p| pos + p);
            let line = &block[pos..end];
            if let Line::Json(json) = framing::classify(line)
                && framing::opens_document(json)
            {
                let doc_end = document_end(block, end);
                let document = &block[pos..doc_end];
                if document.len() > self.plan.max_line_bytes {
                    let line = count_lines(&block[..pos]);
                    result.long_lines.push((line, document.len() as u64));
                    *result.counters.skipped.entry(Skip::TooLong).or_default() += 1;
                } else if !self.document(block, pos, document, None, result) {
                    return;
                }
                pos = doc_end + 1;
                continue;
            }
            if !self.line(block, pos, line, result) {
                return;
            }
            pos = end + 1;
        }
    }

    /// Handles one line; returns false when `--strict` must stop.
    fn line(&mut self, block: &[u8], start: usize, line: &[u8], result: &mut BlockResult) -> bool {
        if line.len() > self.plan.max_line_bytes {
            return true; // already reported by `find_long_lines`
        }
        match framing::classify(line) {
            Line::Blank => self.skip(block, start, Skip::Blank, result),
            Line::Klog => self.skip(block, start, Skip::Klog, result),
            Line::Other => self.skip(block, start, Skip::NotJson, result),
            Line::Json(json) => self.document(block, start, json, Some(json), result),
            Line::Legacy(text) => match legacy::to_event_json(text) {
                Some(json) => self.document(block, start, &json, None, result),
                None => self.skip(block, start, Skip::InvalidJson, result),
            },
        }
    }

    fn skip(&self, block: &[u8], start: usize, kind: Skip, result: &mut BlockResult) -> bool {
        *result.counters.skipped.entry(kind).or_default() += 1;
        let first = *result
            .first_skip
            .entry(kind)
            .or_insert_with(|| count_lines(&block[..start]));
        if self.plan.strict && kind == Skip::InvalidJson {
            // --strict stops at the first invalid line, so `first` is this line.
            result.strict_error = Some((first, kind.label().to_string()));
            return false;
        }
        true
    }

    /// Parses a JSON document and evaluates each event in it.
    fn document(
        &mut self,
        block: &[u8],
        start: usize,
        json: &[u8],
        original: Option<&[u8]>,
        result: &mut BlockResult,
    ) -> bool {
        result.counters.parsed += 1;
        let plan = &self.plan;
        let outcome = self.parser.with_parsed(json, |root| {
            visit_events(root, original, &mut |ev, orig| emit(plan, ev, orig, result))
        });
        match outcome {
            Ok(0) => self.skip(block, start, Skip::NotAnEvent, result),
            Ok(_) => true,
            Err(_) => self.skip(block, start, Skip::InvalidJson, result),
        }
    }
}

/// Calls `on_event` for each audit event in a document: the document itself, the items
/// of an EventList, or the elements of a JSON array. Returns how many there were.
fn visit_events<'t, 'i>(
    root: Json<'t, 'i>,
    original: Option<&[u8]>,
    on_event: &mut dyn FnMut(Json<'t, 'i>, Option<&[u8]>),
) -> usize {
    if root.is_array() {
        return root
            .elements()
            .map(|e| visit_events(e, None, on_event))
            .sum();
    }
    match root.get("kind").and_then(|k| k.as_str()) {
        Some("EventList") => root
            .get("items")
            .map(|items| {
                items
                    .elements()
                    .map(|e| visit_events(e, None, on_event))
                    .sum()
            })
            .unwrap_or(0),
        Some("Event") => {
            on_event(root, original);
            1
        }
        None if is_kindless_event(root) => {
            on_event(root, original);
            1
        }
        _ => 0,
    }
}

/// EventList items (v1alpha1, v1beta1) and some exports carry no `kind`; an object with
/// the fields every audit event has is taken as one.
fn is_kindless_event(value: Json<'_, '_>) -> bool {
    value.is_object()
        && ["auditID", "verb", "requestURI", "stage"]
            .iter()
            .any(|k| value.get(k).is_some())
}

fn emit(plan: &Plan, event: Json<'_, '_>, original: Option<&[u8]>, result: &mut BlockResult) {
    result.counters.events += 1;
    if !plan.expr.matches(event) {
        return;
    }
    result.counters.matched += 1;
    if let Some(fields) = &plan.count_by {
        let key: Vec<String> = fields.iter().map(|f| field_text(event, f)).collect();
        if plan.max_count.is_some() {
            result.group_keys.push(key);
        } else {
            *result.groups.entry(key).or_default() += 1;
        }
    } else if !plan.count_only {
        plan.writer.write(event, original, &mut result.out);
        result.event_ends.push(result.out.len());
    }
}

/// The end (index of the closing line's `\n`, or the block end) of a pretty-printed
/// document that starts on the line ending at `first_line_end`.
fn document_end(block: &[u8], first_line_end: usize) -> usize {
    let mut pos = first_line_end + 1;
    while pos < block.len() {
        let end = memchr::memchr(b'\n', &block[pos..]).map_or(block.len(), |p| pos + p);
        if framing::closes_document(&block[pos..end]) {
            return end;
        }
        pos = end + 1;
    }
    block.len()
}

/// Records every line longer than `limit`; only needed when a block can hold one, i.e.
/// when the limit is smaller than the block (the reader handles longer ones).
fn find_long_lines(block: &[u8], limit: usize, result: &mut BlockResult) {
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', block).chain(std::iter::once(block.len()));
    for (index, end) in ends.enumerate() {
        if end < start {
            break;
        }
        if end - start > limit {
            result.long_lines.push((index as u64, (end - start) as u64));
            *result.counters.skipped.entry(Skip::TooLong).or_default() += 1;
        }
        start = end + 1;
    }
}

pub fn count_lines(bytes: &[u8]) -> u64 {
    let newlines = bytecount::count(bytes, b'\n') as u64;
    newlines + u64::from(!bytes.is_empty() && !bytes.ends_with(b"\n"))
}
