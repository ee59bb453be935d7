//! Processing of one block of whole records: framing, prefilter, parsing, evaluation and
//! formatting. A block always starts and ends where framing is at rest (see
//! [`crate::framing`]), so blocks are independent and workers run this in parallel;
//! follow mode runs the same code on what each wake-up brings.

use crate::envelope::{self, Found, Wants};
use crate::framing::{self, Framer, Line, Note, Record, Skip, legacy};
use crate::parse::{Json, ParseError, Parser};
use crate::prefilter::Prefilter;
use crate::query::Expr;
use crate::query::fields::FieldRef;
use crate::sink::{Counters, EventWriter, Match, Meta, Stage, field_text};
use std::collections::HashMap;
use std::sync::Arc;

/// What does not change while a search runs; shared by all workers.
pub struct Plan {
    pub expr: Expr,
    pub prefilter: Option<Prefilter>,
    pub writer: EventWriter,
    /// `--count-by`: the key of each match instead of its text.
    pub key_fields: Option<Vec<FieldRef>>,
    /// `-c`: count only.
    pub count_only: bool,
    /// `--strict`: the first invalid line stops the block (and the run).
    pub strict: bool,
    /// `--max-line-bytes`: longer lines and documents are reported and skipped.
    pub max_line_bytes: usize,
    /// Whether each match carries its time, auditID and stage (`--dedupe`, `--merge`).
    pub meta: bool,
    /// With `key_fields`: write each match's text too (`policy eval` needs both).
    pub text_with_key: bool,
    /// `--unwrap`: an event found inside an envelope (AKS, CloudWatch, GKE) is printed as
    /// the Kubernetes event alone instead of the envelope record.
    pub unwrap: bool,
    /// `auditq export`: each match carries its row of the exported table
    /// ([`Match::row`](crate::sink::Match)) and the line it starts on.
    pub export: Option<crate::export::row::RowBuilder>,
}

impl Plan {
    /// A plan with the given query that prints the original lines (for tests and tools).
    pub fn jsonl(expr: Expr, prefilter: bool) -> Plan {
        Plan {
            prefilter: if prefilter {
                Prefilter::new(&expr)
            } else {
                None
            },
            expr,
            writer: EventWriter::new(crate::sink::Format::Jsonl, false),
            key_fields: None,
            count_only: false,
            strict: false,
            max_line_bytes: crate::limits::DEFAULT_MAX_LINE_BYTES,
            meta: false,
            text_with_key: false,
            unwrap: false,
            export: None,
        }
    }
}

/// The result of one block, handed on in input order.
#[derive(Default)]
pub struct BlockResult {
    /// Formatted matched events, back to back.
    pub out: Vec<u8>,
    pub matches: Vec<Match>,
    pub counters: Counters,
    /// Lines longer than `--max-line-bytes`, with their length.
    pub long_lines: Vec<(Place, u64)>,
    /// Multi-line documents longer than `--max-line-bytes`, read line by line.
    pub long_documents: Vec<Place>,
    /// First line (0-based, within the block) of each skip kind, for the summary.
    pub first_skip: HashMap<Skip, u64>,
    /// `--strict`: where and why it stopped.
    pub strict_error: Option<(Place, String)>,
    /// Export: where each match's row is built before it is copied into its `Match`.
    pub row_scratch: Vec<u8>,
}

/// A line in a block: its index (0-based) and the offset of its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub line: u64,
    pub offset: u64,
}

impl Place {
    fn at(block: &[u8], start: usize) -> Place {
        Place {
            line: count_lines(&block[..start]),
            offset: start as u64,
        }
    }
}

impl BlockResult {
    /// Forgets everything, keeping allocations.
    pub fn clear(&mut self) {
        self.out.clear();
        self.matches.clear();
        self.counters = Counters::default();
        self.long_lines.clear();
        self.long_documents.clear();
        self.first_skip.clear();
        self.strict_error = None;
    }

    /// The formatted text of each match, in order.
    pub fn texts(&self) -> impl Iterator<Item = (&[u8], &Match)> {
        let mut start = 0;
        self.matches.iter().map(move |m| {
            let text = &self.out[start..m.end];
            start = m.end;
            (text, m)
        })
    }
}

/// Per-worker state: the reusable parser and scratch space.
pub struct BlockProcessor {
    plan: Arc<Plan>,
    parser: Parser,
    /// A multi-line document with its prefixes removed.
    joined: Vec<u8>,
    /// Events found inside envelopes, waiting for their own parse.
    found: Found,
    /// Export: the line (0-based, in the block) of the record being read, and the block
    /// offset up to which lines were counted for it.
    record_line: u64,
    counted_to: usize,
}

/// Processing stops (`--strict` met an invalid line).
struct Stop;

type Flow = Result<(), Stop>;

impl BlockProcessor {
    pub fn new(plan: Arc<Plan>) -> Self {
        BlockProcessor {
            plan,
            parser: Parser::default(),
            joined: Vec::new(),
            found: Found::default(),
            record_line: 0,
            counted_to: 0,
        }
    }

    /// Processes `block`: whole lines (the last may lack `\n`) that start and end where
    /// framing is at rest.
    pub fn process(&mut self, block: &[u8], result: &mut BlockResult) {
        result.counters.bytes = block.len() as u64;
        self.record_line = 0;
        self.counted_to = 0;
        let plan = Arc::clone(&self.plan);
        let scan = match &plan.prefilter {
            Some(prefilter) if !plan.strict => Some((prefilter, prefilter.scan(block))),
            _ => None,
        };
        result.counters.lines = match &scan {
            // The prefilter's scan counted the newlines.
            Some((_, scan)) => lines_of(block, scan.newlines),
            None => count_lines(block),
        };
        if block.len() > self.plan.max_line_bytes {
            find_long_lines(block, self.plan.max_line_bytes, result);
        }
        let _ = match scan {
            Some((prefilter, scan)) => self.candidates(block, prefilter, &scan, result),
            None => self.everything(block, result),
        };
    }

    /// Frames and processes every line.
    fn everything(&mut self, block: &[u8], result: &mut BlockResult) -> Flow {
        let mut regions = Regions::new(block);
        while let Some((start, end)) = regions.next_region() {
            self.region(block, start, end, None, result)?;
        }
        Ok(())
    }

    /// Processes only the regions holding a needle or a trigger.
    fn candidates(
        &mut self,
        block: &[u8],
        prefilter: &Prefilter,
        scan: &crate::prefilter::Scan,
        result: &mut BlockResult,
    ) -> Flow {
        let triggers = &scan.triggers;
        let mut next_found = 0;
        let mut next_trigger = 0;
        let mut pos = 0;
        // The next needle found so far: still the next one while it is at or after `pos`
        // (searching again from every trigger would make a block of triggers, such as a
        // file of AKS records, quadratic).
        let mut found: Option<Option<usize>> = None;
        while pos < block.len() {
            while triggers.get(next_trigger).is_some_and(|&t| t < pos) {
                next_trigger += 1;
            }
            let needle = match (&scan.needles, found) {
                // The scan found them.
                (Some(needles), _) => {
                    while needles.get(next_found).is_some_and(|&n| n < pos) {
                        next_found += 1;
                    }
                    needles.get(next_found).copied()
                }
                (None, Some(n)) if n.is_none_or(|n| n >= pos) => n,
                (None, _) => {
                    let n = prefilter.next_needle(block, pos);
                    found = Some(n);
                    n
                }
            };
            let at = match (needle, triggers.get(next_trigger)) {
                (None, None) => break,
                (Some(n), Some(&t)) => n.min(t),
                (Some(n), None) => n,
                (None, Some(&t)) => t,
            };
            let (start, end) = region_around(block, at);
            let filter = Filter {
                prefilter,
                triggers,
            };
            self.region(block, start, end, Some(filter), result)?;
            pos = end + 1;
        }
        Ok(())
    }

    /// Processes the region of lines `block[start..end]` (`end` at a line end).
    fn region(
        &mut self,
        block: &[u8],
        start: usize,
        end: usize,
        filter: Option<Filter<'_>>,
        result: &mut BlockResult,
    ) -> Flow {
        let single = memchr::memchr(b'\n', &block[start..end]).is_none();
        if single {
            if filter.is_none_or(|f| f.wants(block, start, end)) {
                self.line(block, start, end, result)?;
            }
            return Ok(());
        }
        let mut framer = Framer::new(self.plan.max_line_bytes);
        for (s, e) in lines(block, start, end) {
            framer.push(framing::content(&block[s..e]), s as u64, e as u64);
        }
        framer.finish();
        for note in framer.take_notes() {
            let Note::TooLong { start } = note;
            result.long_documents.push(Place::at(block, start as usize));
        }
        while let Some(record) = framer.pop() {
            let (s, e) = (record.start as usize, record.end as usize);
            if filter.is_some_and(|f| !f.wants(block, s, e)) {
                continue;
            }
            if record.lines == 1 {
                self.line(block, s, e, result)?;
            } else {
                self.document(block, record, result)?;
            }
        }
        Ok(())
    }

    /// Export: notes the line a record starting at `start` is on (records come in block
    /// order, so lines are counted once per block).
    fn at_record(&mut self, block: &[u8], start: usize) {
        if self.plan.export.is_none() {
            return;
        }
        if start < self.counted_to {
            self.record_line = 0;
            self.counted_to = 0;
        }
        self.record_line += bytecount::count(&block[self.counted_to..start], b'\n') as u64;
        self.counted_to = start;
    }

    /// A multi-line document: its lines' contents joined. If it does not parse (nested
    /// too deep), its lines are read one by one.
    fn document(&mut self, block: &[u8], record: Record, result: &mut BlockResult) -> Flow {
        let (start, end) = (record.start as usize, record.end as usize);
        self.at_record(block, start);
        if end - start > self.plan.max_line_bytes {
            result.long_documents.push(Place::at(block, start));
            return self.lines_alone(block, start, end, result);
        }
        let mut joined = std::mem::take(&mut self.joined);
        joined.clear();
        for (i, (s, e)) in lines(block, start, end).enumerate() {
            if i > 0 {
                joined.push(b'\n');
            }
            joined.extend_from_slice(framing::content(&block[s..e]));
        }
        let outcome = self.evaluate(&joined, None, result);
        self.joined = joined;
        match outcome {
            Ok(0) => self.skip(block, start, Skip::NotAnEvent, result),
            Ok(_) => Ok(()),
            Err(_) => self.lines_alone(block, start, end, result),
        }
    }

    fn lines_alone(
        &mut self,
        block: &[u8],
        start: usize,
        end: usize,
        result: &mut BlockResult,
    ) -> Flow {
        for (s, e) in lines(block, start, end) {
            self.line(block, s, e, result)?;
        }
        Ok(())
    }

    /// Handles one line read on its own.
    fn line(&mut self, block: &[u8], start: usize, end: usize, result: &mut BlockResult) -> Flow {
        let line = &block[start..end];
        if line.len() > self.plan.max_line_bytes {
            return Ok(()); // already reported by `find_long_lines`
        }
        self.at_record(block, start);
        match framing::classify(line) {
            Line::Blank => self.skip(block, start, Skip::Blank, result),
            Line::Klog => self.skip(block, start, Skip::Klog, result),
            Line::Other => match self.csv_row(line, result) {
                Some(0) => self.skip(block, start, Skip::NotAnEvent, result),
                Some(_) => Ok(()),
                None => self.skip(block, start, Skip::NotJson, result),
            },
            Line::Json(json) => match self.evaluate(json, Some(json), result) {
                Ok(0) => self.skip(block, start, Skip::NotAnEvent, result),
                Ok(_) => Ok(()),
                Err(_) => match self.concatenated(json, result) {
                    Some(0) => self.skip(block, start, Skip::NotAnEvent, result),
                    Some(_) => Ok(()),
                    None => self.skip(block, start, Skip::InvalidJson, result),
                },
            },
            Line::Legacy(text) => match legacy::to_event_json(text) {
                Some(json) => match self.evaluate(&json, None, result) {
                    Ok(0) => self.skip(block, start, Skip::NotAnEvent, result),
                    Ok(_) => Ok(()),
                    Err(_) => self.skip(block, start, Skip::InvalidJson, result),
                },
                None => self.skip(block, start, Skip::InvalidJson, result),
            },
        }
    }

    /// A line of JSON values back to back without line ends (CloudWatch subscription
    /// records as Firehose writes them to S3): each value read on its own. `None` when
    /// the line is not two or more whole JSON values.
    fn concatenated(&mut self, json: &[u8], result: &mut BlockResult) -> Option<usize> {
        let mut stream =
            serde_json::Deserializer::from_slice(json).into_iter::<serde::de::IgnoredAny>();
        let mut ends = Vec::new();
        while let Some(Ok(_)) = stream.next() {
            ends.push(stream.byte_offset());
        }
        if ends.len() < 2 || !json[stream.byte_offset()..].trim_ascii().is_empty() {
            return None;
        }
        let mut count = 0;
        let mut start = 0;
        for end in ends {
            let piece = json[start..end].trim_ascii();
            start = end;
            count += self.evaluate(piece, Some(piece), result).unwrap_or(0);
        }
        Some(count)
    }

    /// A row of a CSV export (CloudWatch Logs Insights: `@timestamp,@message`) whose
    /// cells hold JSON: each such cell read as a document. `None` when no cell does.
    fn csv_row(&mut self, line: &[u8], result: &mut BlockResult) -> Option<usize> {
        if memchr::memmem::find(line, b",\"{").is_none() && !line.starts_with(b"\"{") {
            return None;
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(line);
        let mut row = csv::ByteRecord::new();
        if !reader.read_byte_record(&mut row).ok()? {
            return None;
        }
        let mut seen_json = false;
        let mut count = 0;
        for cell in row.iter() {
            let cell = cell.trim_ascii();
            if cell.first() != Some(&b'{') {
                continue;
            }
            if let Ok(n) = self.evaluate(cell, Some(cell), result) {
                seen_json = true;
                count += n;
            }
        }
        seen_json.then_some(count)
    }

    fn skip(&self, block: &[u8], start: usize, kind: Skip, result: &mut BlockResult) -> Flow {
        result.counters.skip(kind);
        let first = *result
            .first_skip
            .entry(kind)
            .or_insert_with(|| count_lines(&block[..start]));
        if self.plan.strict && kind == Skip::InvalidJson {
            // --strict stops at the first invalid line, so `first` is this line.
            let place = Place {
                line: first,
                offset: start as u64,
            };
            result.strict_error = Some((place, kind.label().to_string()));
            return Err(Stop);
        }
        Ok(())
    }

    /// Parses a JSON document and evaluates each event in it, including events inside
    /// envelopes ([`crate::envelope`]); returns how many there were.
    fn evaluate(
        &mut self,
        json: &[u8],
        original: Option<&[u8]>,
        result: &mut BlockResult,
    ) -> Result<usize, ParseError> {
        result.counters.parsed += 1;
        let plan = &self.plan;
        let wants = Wants {
            event: plan.unwrap,
            record: !plan.unwrap && plan.writer.format == crate::sink::Format::Jsonl,
        };
        let mut found = std::mem::take(&mut self.found);
        found.events.clear();
        found.seen.clear();
        let line = self.record_line;
        let count = self.parser.with_parsed(json, |root| {
            visit_events(
                root,
                original,
                &mut |ev, orig| emit(plan, ev, orig, line, result),
                &mut |v, is_root| {
                    envelope::open(v, is_root && original.is_some(), wants, &mut found);
                },
            )
        });
        let count = match count {
            Ok(count) => count,
            Err(e) => {
                self.found = found;
                return Err(e);
            }
        };
        for seen in found.seen.drain(..) {
            *result.counters.seen.entry(seen.label()).or_default() += 1;
        }
        let mut unwrapped = 0;
        for item in found.events.drain(..) {
            let printed: Option<&[u8]> = if plan.unwrap {
                Some(&item.event)
            } else if plan.writer.format != crate::sink::Format::Jsonl {
                None
            } else if item.record.is_empty() {
                original
            } else {
                Some(&item.record)
            };
            let outcome = self.parser.with_parsed(&item.merged, |root| {
                if is_event(root) {
                    emit(plan, root, printed, line, result);
                    true
                } else {
                    false
                }
            });
            match outcome {
                Ok(true) => {
                    unwrapped += 1;
                    if let Some(kind) = item.kind {
                        *result.counters.seen.entry(kind.label()).or_default() += 1;
                    }
                }
                Ok(false) => {
                    *result
                        .counters
                        .seen
                        .entry(envelope::Seen::WrappedNonEvent.label())
                        .or_default() += 1
                }
                Err(_) => {
                    *result
                        .counters
                        .seen
                        .entry(envelope::Seen::WrappedText.label())
                        .or_default() += 1
                }
            }
        }
        self.found = found;
        Ok(count + unwrapped)
    }
}

/// The prefilter's verdict on records of a region.
#[derive(Clone, Copy)]
struct Filter<'a> {
    prefilter: &'a Prefilter,
    triggers: &'a [usize],
}

impl Filter<'_> {
    /// Whether the record `block[start..end]` may match: it holds a trigger, or every needle.
    fn wants(&self, block: &[u8], start: usize, end: usize) -> bool {
        let first = self.triggers.partition_point(|&t| t < start);
        self.triggers.get(first).is_some_and(|&t| t < end)
            || self.prefilter.has_all_needles(&block[start..end])
    }
}

/// Calls `on_event` for each audit event in a document: the document itself, the items
/// of an EventList, or the elements of a JSON array (at any depth); and `on_other` for
/// every other value met (with whether it is the whole document), where envelopes are
/// looked for. Returns how many events there were. Iterative, so nesting never costs
/// native stack.
fn visit_events<'t, 'i>(
    root: Json<'t, 'i>,
    original: Option<&[u8]>,
    on_event: &mut dyn FnMut(Json<'t, 'i>, Option<&[u8]>),
    on_other: &mut dyn FnMut(Json<'t, 'i>, bool),
) -> usize {
    let mut count = 0;
    if is_event(root) {
        on_event(root, original);
        return 1;
    }
    let mut stack = vec![root];
    let mut children = Vec::new();
    let mut first = true;
    while let Some(value) = stack.pop() {
        let is_root = std::mem::take(&mut first);
        let items = if value.is_array() {
            Some(value)
        } else if value.get("kind").and_then(|k| k.as_str()) == Some("EventList") {
            value.get("items")
        } else {
            None
        };
        let Some(items) = items else {
            if is_event(value) {
                on_event(value, None);
                count += 1;
            } else {
                // Not an event: an envelope, perhaps (see `crate::envelope`).
                on_other(value, is_root);
            }
            continue;
        };
        children.clear();
        children.extend(items.elements());
        stack.extend(children.drain(..).rev());
    }
    count
}

/// An audit event: `kind` is `Event`, or there is no `kind` (EventList items of v1alpha1
/// and v1beta1, some exports) but the fields every audit event has.
fn is_event(value: Json<'_, '_>) -> bool {
    if !value.is_object() {
        return false;
    }
    match value.get("kind") {
        Some(kind) => kind.as_str() == Some("Event"),
        None => ["auditID", "verb", "requestURI", "stage"]
            .iter()
            .any(|k| value.get(k).is_some()),
    }
}

fn emit(
    plan: &Plan,
    event: Json<'_, '_>,
    original: Option<&[u8]>,
    line: u64,
    result: &mut BlockResult,
) {
    result.counters.events += 1;
    if !plan.expr.matches(event) {
        return;
    }
    result.counters.matched += 1;
    let mut key = Vec::new();
    if let Some(fields) = &plan.key_fields {
        key = fields.iter().map(|f| field_text(event, f)).collect();
    }
    if (plan.key_fields.is_none() || plan.text_with_key) && !plan.count_only {
        plan.writer.write(event, original, &mut result.out);
    }
    let row = plan.export.as_ref().map(|rows| {
        // Built in a buffer that keeps its size, then copied once at its exact size.
        let scratch = &mut result.row_scratch;
        scratch.clear();
        rows.build(event, scratch);
        Box::new(crate::sink::Row {
            line,
            bytes: scratch.as_slice().to_vec(),
        })
    });
    result.matches.push(Match {
        end: result.out.len(),
        key,
        meta: plan.meta.then(|| Box::new(meta(event))),
        row,
    });
}

/// The time, auditID and stage of an event.
fn meta(event: Json<'_, '_>) -> Meta {
    let time_field = crate::query::fields::FieldRef::time("time");
    let mut time = None;
    time_field.any_value(event, &mut |v| {
        if let crate::query::fields::Value::Json(v) = v {
            time = v.as_str().and_then(crate::timefmt::parse_timestamp);
        }
        true
    });
    Meta {
        time,
        audit_id: event
            .get("auditID")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        stage: event
            .get("stage")
            .and_then(|v| v.as_str())
            .and_then(Stage::parse),
    }
}

/// The lines (start, end without `\n`) of `block[start..end]`.
fn lines(block: &[u8], start: usize, end: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut pos = start;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let line_end = memchr::memchr(b'\n', &block[pos..end]).map_or(end, |p| pos + p);
        let line = (pos, line_end);
        if line_end >= end {
            done = true;
        } else {
            pos = line_end + 1;
        }
        Some(line)
    })
}

/// The region around position `at`: the lines that no hard boundary separates from the
/// line holding `at`. Returns (start of its first line, end of its last line).
pub fn region_around(block: &[u8], at: usize) -> (usize, usize) {
    let line_start = memchr::memrchr(b'\n', &block[..at]).map_or(0, |p| p + 1);
    let line_end = memchr::memchr(b'\n', &block[at..]).map_or(block.len(), |p| at + p);
    let content = framing::content(&block[line_start..line_end]);
    if framing::is_blank(content) {
        return (line_start, line_end);
    }
    // The common case, a compact event between compact events: the bytes next to the
    // line ends decide without finding the neighbouring lines.
    if let (Some(before), Some(after)) = (
        plain_tail_before(block, line_start),
        plain_head_after(block, line_end),
    ) && framing::hard_boundary(before, content)
        && framing::hard_boundary(content, after)
    {
        return (line_start, line_end);
    }
    // Backwards: join the previous non-blank line while no hard boundary separates it.
    let mut start = line_start;
    let mut first = content;
    let mut cursor = line_start;
    while cursor > 0 {
        let prev_end = cursor - 1;
        let prev_start = memchr::memrchr(b'\n', &block[..prev_end]).map_or(0, |p| p + 1);
        let prev = framing::content(&block[prev_start..prev_end]);
        cursor = prev_start;
        if framing::is_blank(prev) {
            continue;
        }
        if framing::hard_boundary(prev, first) {
            break;
        }
        start = prev_start;
        first = prev;
    }
    (start, extend_forward(block, line_end, content))
}

/// From the line ending at `end` (whose content is `last`), joins the following lines
/// while no hard boundary separates them; returns the end of the last one joined.
fn extend_forward<'a>(block: &'a [u8], mut end: usize, mut last: &'a [u8]) -> usize {
    let mut cursor = end;
    while cursor + 1 < block.len() {
        let next_start = cursor + 1;
        let next_end =
            memchr::memchr(b'\n', &block[next_start..]).map_or(block.len(), |p| next_start + p);
        let next = framing::content(&block[next_start..next_end]);
        cursor = next_end;
        if framing::is_blank(next) {
            continue;
        }
        if framing::hard_boundary(last, next) {
            break;
        }
        end = next_end;
        last = next;
    }
    end
}

/// The last byte of the line ending just before `line_start`, as a one-byte content,
/// when it is certainly that line's last significant content byte: a `}`, `]`-free value
/// end that no prefix can end with. `None` when the full line must be looked at.
fn plain_tail_before(block: &[u8], line_start: usize) -> Option<&[u8]> {
    if line_start == 0 {
        return Some(b"");
    }
    let nl = line_start - 1;
    let end = block[..nl]
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r'))?;
    let b = block[end];
    // Prefixes end in `Z`, a digit or `]`; a blank line ends in `\n`.
    matches!(b, b'}' | b'"' | b'{' | b'[' | b',' | b':' | b'e' | b'l').then(|| &block[end..=end])
}

/// The first byte of the line starting just after `line_end`, as a one-byte content,
/// when no prefix can start there. `None` when the full line must be looked at.
fn plain_head_after(block: &[u8], line_end: usize) -> Option<&[u8]> {
    if line_end >= block.len() {
        return Some(b"");
    }
    let start = line_end + 1;
    let at = start
        + block[start..]
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t'))?;
    let b = block[at];
    // Prefixes start with `[pod/`, a digit, a BOM or NUL; a blank line with `\r`/`\n`.
    matches!(
        b,
        b'{' | b'"' | b'}' | b',' | b':' | b'I' | b'W' | b'E' | b'F'
    )
    .then(|| &block[at..=at])
}

/// Splits a block into regions, in order (blank lines around a region are regions of
/// their own).
struct Regions<'a> {
    block: &'a [u8],
    pos: usize,
}

impl<'a> Regions<'a> {
    fn new(block: &'a [u8]) -> Self {
        Regions { block, pos: 0 }
    }

    fn next_region(&mut self) -> Option<(usize, usize)> {
        let block = self.block;
        if self.pos >= block.len() {
            // An empty last line after a final `\n` is not a line.
            return None;
        }
        let start = self.pos;
        let line_end = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |p| start + p);
        let first = framing::content(&block[start..line_end]);
        let end = if framing::is_blank(first) {
            line_end
        } else {
            extend_forward(block, line_end, first)
        };
        self.pos = end + 1;
        Some((start, end))
    }
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
            let place = Place {
                line: index as u64,
                offset: start as u64,
            };
            result.long_lines.push((place, (end - start) as u64));
            result.counters.skip(Skip::TooLong);
        }
        start = end + 1;
    }
}

pub fn count_lines(bytes: &[u8]) -> u64 {
    lines_of(bytes, bytecount::count(bytes, b'\n') as u64)
}

/// Reads `reader` block by block on this thread — the block reader and block processor
/// of a search, without its workers — and hands each block's result to `visit` with the
/// bytes read so far; `visit` returns `false` to stop. A line longer than the plan's
/// `max_line_bytes` comes as a result with that line counted as skipped. Used where a
/// few megabytes are looked at (is a file an audit log, what does it hold) and by
/// [`crate::search::scan_bytes`].
pub fn scan_reader(
    reader: Box<dyn std::io::Read + Send>,
    plan: Arc<Plan>,
    block_size: usize,
    mode: crate::source::ReadMode,
    mut visit: impl FnMut(&BlockResult, u64) -> bool,
) {
    use crate::source::{BlockReader, Chunk};
    let mut blocks = BlockReader::new(reader, block_size, plan.max_line_bytes, mode);
    let mut processor = BlockProcessor::new(plan);
    let mut buf = Vec::new();
    let mut result = BlockResult::default();
    while let Ok(Some(chunk)) = blocks.next_chunk(&mut buf) {
        result.clear();
        match chunk {
            Chunk::Lines { data, len } => {
                processor.process(&data[..len], &mut result);
                buf = data;
            }
            Chunk::LongLine { .. } => {
                result.counters.lines += 1;
                result.counters.skip(Skip::TooLong);
            }
            Chunk::Pause => continue,
        }
        if !visit(&result, blocks.offset()) {
            return;
        }
    }
}

/// The lines of `bytes`, which hold `newlines` newlines: the last may lack its `\n`.
fn lines_of(bytes: &[u8], newlines: u64) -> u64 {
    newlines + u64::from(!bytes.is_empty() && !bytes.ends_with(b"\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse_query;

    fn run(query: &str, input: &str, prefilter: bool) -> (String, Counters) {
        let expr = parse_query(&[query.to_string()]).unwrap();
        let plan = Arc::new(Plan::jsonl(expr, prefilter));
        let mut processor = BlockProcessor::new(plan);
        let mut result = BlockResult::default();
        processor.process(input.as_bytes(), &mut result);
        (String::from_utf8(result.out).unwrap(), result.counters)
    }

    const EV: &str = r#"{"kind":"Event","verb":"delete","objectRef":{"resource":"secrets"}}"#;

    #[test]
    fn regions_split_at_hard_boundaries() {
        let block = format!("{EV}\n{EV}\n{{\n  \"a\": 1\n}}\n\n{EV}");
        let mut regions = Regions::new(block.as_bytes());
        let mut got = Vec::new();
        while let Some((s, e)) = regions.next_region() {
            got.push(block[s..e].lines().count());
        }
        assert_eq!(got, [1, 1, 3, 0, 1]); // the blank line is a region of its own
        let at = block.find("\"a\"").unwrap();
        let (s, e) = region_around(block.as_bytes(), at);
        assert_eq!(&block[s..e], "{\n  \"a\": 1\n}");
    }

    #[test]
    fn stray_opener_and_flat_pretty_event_agree_with_and_without_prefilter() {
        let stray = format!("{{\n{EV}\n{EV}\n");
        for pf in [true, false] {
            let (out, c) = run("verb=delete", &stray, pf);
            assert_eq!(out.lines().count(), 2, "prefilter {pf}");
            assert_eq!(
                c.skipped.get(&Skip::InvalidJson),
                if pf { None } else { Some(&1) }
            );
        }
        let flat = "{\n\"kind\":\"Event\",\n\"verb\":\"delete\"\n}\n";
        for pf in [true, false] {
            let (out, _) = run("verb=delete", flat, pf);
            assert_eq!(
                out, "{\"kind\":\"Event\",\"verb\":\"delete\"}\n",
                "prefilter {pf}"
            );
        }
    }

    #[test]
    fn numbers_and_non_strings_match_with_the_prefilter() {
        let line = r#"{"kind":"Event","auditID":"n1","verb":true,"user":{"username":7},"responseStatus":{"code":4.03e2}}"#;
        for q in ["code=40*", "verb=true", "user=7*", "code=403", "code=4*3"] {
            for pf in [true, false] {
                assert_eq!(run(q, line, pf).0.lines().count(), 1, "{q} prefilter {pf}");
            }
        }
    }

    #[test]
    fn deep_nesting_is_invalid_not_fatal() {
        let deep = format!(
            "{{\"kind\":\"Event\",\"sourceIPs\":{}1{}}}",
            "[".repeat(20_000),
            "]".repeat(20_000)
        );
        let (out, c) = run("ip=1", &deep, false);
        assert!(out.is_empty());
        assert_eq!(c.skipped.get(&Skip::InvalidJson), Some(&1));
        let ok = format!(
            "{{\"kind\":\"Event\",\"sourceIPs\":{}1{}}}",
            "[".repeat(9_000),
            "]".repeat(9_000)
        );
        assert_eq!(run("ip=1", &ok, false).0.lines().count(), 1);
    }
}
