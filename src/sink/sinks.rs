//! The [`Sink`] trait and its implementations: every way results leave auditq.

use super::tally;
use super::{EventWriter, Format};
use crate::framing::Skip;
use crate::query::fields::FieldRef;
use std::collections::HashMap;
use std::io::{self, Write};
use unicode_width::UnicodeWidthStr;

/// One matched event, formatted: its text (ending in `\n`) and, for `--count-by`, its key;
/// with `meta` when the plan asked for it (`--dedupe`, `--merge`).
#[derive(Debug, Clone, Copy)]
pub struct Matched<'a> {
    pub text: &'a [u8],
    pub key: &'a [String],
    pub meta: Option<&'a Meta>,
    /// `auditq export`: the event's row.
    pub row: Option<&'a Row>,
}

/// An exported row as a worker built it ([`crate::export::row`]), and the line (0-based,
/// within its block) its record starts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub bytes: Vec<u8>,
}

/// Where the events of the next block come from (for `auditq export`'s `source_file` and
/// `source_line`).
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// The target's index in the run.
    pub target: usize,
    pub input: &'a crate::source::Input,
    /// The byte the target was read from (a time range can start a file in the middle).
    pub start: u64,
    /// Lines of the target read before this block.
    pub lines_before: u64,
}

/// What ordering and deduplication need to know of an event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// `requestReceivedTimestamp` (or `timestamp` in old events), in ns since the epoch.
    pub time: Option<crate::timefmt::Nanos>,
    pub audit_id: Option<String>,
    /// `None` when the event names no stage the apiserver writes.
    pub stage: Option<Stage>,
}

pub use crate::stage::Stage;

/// One matched event in a block of results (workers fill these, in parallel).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Match {
    /// End of its formatted text in the block's output (the text starts where the
    /// previous match's ends).
    pub end: usize,
    /// `--count-by`: the values of the key fields.
    pub key: Vec<String>,
    /// When the plan asks for it (`--dedupe`, `--merge`).
    pub meta: Option<Box<Meta>>,
    /// `auditq export`: the event's row.
    pub row: Option<Box<Row>>,
}

impl Match {
    /// This match, formatted in `out`, as the sink sees it.
    pub fn matched<'a>(&'a self, out: &'a [u8], start: usize) -> Matched<'a> {
        Matched {
            text: &out[start..self.end],
            key: &self.key,
            meta: self.meta.as_deref(),
            row: self.row.as_deref(),
        }
    }
}

/// What was read, for `--stats` and the closing messages.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    pub lines: u64,
    pub bytes: u64,
    /// Documents (lines or multi-line documents) handed to the JSON parser.
    pub parsed: u64,
    pub events: u64,
    pub matched: u64,
    pub skipped: HashMap<Skip, u64>,
    /// What envelopes were met: events found in each kind, and records that held none
    /// (by [`crate::envelope::Kind::label`] and [`crate::envelope::Seen::label`]).
    pub seen: std::collections::BTreeMap<&'static str, u64>,
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
        for (what, n) in &other.seen {
            *self.seen.entry(what).or_default() += n;
        }
    }

    pub fn skip(&mut self, kind: Skip) {
        *self.skipped.entry(kind).or_default() += 1;
    }
}

/// The totals handed to [`Sink::finish`].
#[derive(Debug, Default, Clone)]
pub struct Totals {
    pub counters: Counters,
    /// Matches handed to the sink (after `-m`).
    pub written: u64,
    pub seconds: f64,
    /// Bytes read from the inputs (compressed bytes for gzip).
    pub bytes_read: u64,
    /// Files, and bytes of files, left unread because of the time range.
    pub files_skipped: u64,
    pub bytes_skipped: u64,
}

/// Receives matched events in input order. ripgrep's `Sink`, for audit events.
pub trait Sink {
    /// Before the first input is read.
    fn begin(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// The events that follow come from `source` (called before each block's events).
    fn source(&mut self, _source: &Source<'_>) {}
    /// One matched event.
    fn event(&mut self, event: &Matched<'_>) -> io::Result<()>;
    /// Matched events whose texts are back to back in `out` (see [`Match::end`]).
    fn events(&mut self, out: &[u8], matches: &[Match]) -> io::Result<()> {
        let mut start = 0;
        for m in matches {
            self.event(&m.matched(out, start))?;
            start = m.end;
        }
        Ok(())
    }
    /// What was written so far should reach the OS (follow mode, streamed input).
    fn flush(&mut self) -> io::Result<()>;
    /// No more events (end of input, `-m` reached, SIGINT/SIGTERM in follow mode): close
    /// what is open and print totals.
    fn finish(&mut self, totals: &Totals) -> io::Result<()>;
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn begin(&mut self) -> io::Result<()> {
        (**self).begin()
    }

    fn source(&mut self, source: &Source<'_>) {
        (**self).source(source)
    }

    fn event(&mut self, event: &Matched<'_>) -> io::Result<()> {
        (**self).event(event)
    }

    fn events(&mut self, out: &[u8], matches: &[Match]) -> io::Result<()> {
        (**self).events(out, matches)
    }

    fn flush(&mut self) -> io::Result<()> {
        (**self).flush()
    }

    fn finish(&mut self, totals: &Totals) -> io::Result<()> {
        (**self).finish(totals)
    }
}

impl<S: Sink + ?Sized> Sink for &mut S {
    fn begin(&mut self) -> io::Result<()> {
        (**self).begin()
    }

    fn source(&mut self, source: &Source<'_>) {
        (**self).source(source)
    }

    fn event(&mut self, event: &Matched<'_>) -> io::Result<()> {
        (**self).event(event)
    }

    fn events(&mut self, out: &[u8], matches: &[Match]) -> io::Result<()> {
        (**self).events(out, matches)
    }

    fn flush(&mut self) -> io::Result<()> {
        (**self).flush()
    }

    fn finish(&mut self, totals: &Totals) -> io::Result<()> {
        (**self).finish(totals)
    }
}

/// Prints each event: JSON lines, tables, CSV, TSV, fields, or one JSON array.
pub struct Printer<W: Write> {
    out: W,
    header: Option<Vec<u8>>,
    json_array: bool,
    started: bool,
}

impl<W: Write> Printer<W> {
    pub fn new(writer: &EventWriter, out: W) -> Self {
        Printer {
            out,
            header: writer.header(),
            json_array: writer.format == Format::Json,
            started: false,
        }
    }
}

impl<W: Write> Sink for Printer<W> {
    fn event(&mut self, event: &Matched<'_>) -> io::Result<()> {
        let first = !self.started;
        self.started = true;
        if first && let Some(header) = &self.header {
            self.out.write_all(header)?;
        }
        if self.json_array {
            self.out.write_all(if first { b"[\n" } else { b",\n" })?;
            let text = event.text.strip_suffix(b"\n").unwrap_or(event.text);
            return self.out.write_all(text);
        }
        self.out.write_all(event.text)
    }

    fn events(&mut self, out: &[u8], matches: &[Match]) -> io::Result<()> {
        let Some(last) = matches.last() else {
            return Ok(());
        };
        if self.json_array || !self.started {
            let (first, rest) = matches.split_at(1);
            self.event(&first[0].matched(out, 0))?;
            if self.json_array {
                let mut start = first[0].end;
                for m in rest {
                    self.event(&m.matched(out, start))?;
                    start = m.end;
                }
                return Ok(());
            }
            return self.out.write_all(&out[first[0].end..last.end]);
        }
        // Texts are back to back: one write for the whole block.
        self.out.write_all(&out[..last.end])
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self, _: &Totals) -> io::Result<()> {
        if self.json_array {
            self.out
                .write_all(if self.started { b"\n]\n" } else { b"[]\n" })?;
        }
        self.out.flush()
    }
}

/// `-c`: the number of matches, printed at the end.
pub struct Counter<W: Write> {
    out: W,
    count: u64,
}

impl<W: Write> Counter<W> {
    pub fn new(out: W) -> Self {
        Counter { out, count: 0 }
    }
}

impl<W: Write> Sink for Counter<W> {
    fn event(&mut self, _: &Matched<'_>) -> io::Result<()> {
        self.count += 1;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, _: &Totals) -> io::Result<()> {
        writeln!(self.out, "{}", self.count)?;
        self.out.flush()
    }
}

/// `--count-by`: matches per key, most frequent first, printed at the end (as a table,
/// or one JSON document).
pub struct Grouper<W: Write> {
    out: W,
    names: Vec<String>,
    titles: Vec<String>,
    groups: HashMap<Vec<String>, u64>,
    /// `--top`: only the largest groups.
    top: Option<usize>,
    json: bool,
}

impl<W: Write> Grouper<W> {
    /// Every group, as a table.
    pub fn new(fields: &[FieldRef], out: W) -> Self {
        Grouper::with_options(fields, None, false, out)
    }

    /// The `top` largest groups (all if `None`), as a table or (`json`) one JSON document.
    pub fn with_options(fields: &[FieldRef], top: Option<usize>, json: bool, out: W) -> Self {
        Grouper {
            out,
            names: fields.iter().map(|f| f.name.clone()).collect(),
            titles: fields.iter().map(|f| f.name.to_uppercase()).collect(),
            groups: HashMap::new(),
            top,
            json,
        }
    }

    /// `--count-by -o json`: `{"fields": [...], "events": N, "groups": N, "rows":
    /// [{"values": [...], "count": N}], "others": {"values": N, "count": N}}`.
    fn write_json(&mut self, rows: &[(Vec<String>, u64)], others: tally::Others) -> io::Result<()> {
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            fields: &'a [String],
            events: u64,
            groups: usize,
            rows: Vec<Group>,
            others: tally::Others,
        }
        #[derive(serde::Serialize)]
        struct Group {
            values: Vec<Option<String>>,
            count: u64,
        }
        let doc = Doc {
            fields: &self.names,
            events: rows.iter().map(|r| r.1).sum::<u64>() + others.count,
            groups: rows.len() + others.values,
            rows: rows
                .iter()
                .map(|(key, count)| Group {
                    values: key.iter().map(|k| tally::json_value(k)).collect(),
                    count: *count,
                })
                .collect(),
            others,
        };
        let mut text = serde_json::to_string_pretty(&doc).map_err(io::Error::other)?;
        text.push('\n');
        self.out.write_all(text.as_bytes())?;
        self.out.flush()
    }
}

impl<W: Write> Sink for Grouper<W> {
    fn event(&mut self, event: &Matched<'_>) -> io::Result<()> {
        match self.groups.get_mut(event.key) {
            Some(n) => *n += 1,
            None => {
                self.groups.insert(event.key.to_vec(), 1);
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, _: &Totals) -> io::Result<()> {
        // Sorted as shown (`<none>` for a missing value), the same for tables and JSON.
        let mut rows: Vec<(Vec<String>, u64, Vec<String>)> = self
            .groups
            .drain()
            .map(|(key, n)| {
                let shown = key.iter().map(|k| tally::shown(k)).collect();
                (key, n, shown)
            })
            .collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.2.cmp(&b.2)));
        let rest = rows.split_off(self.top.unwrap_or(usize::MAX).min(rows.len()));
        let others = tally::Others {
            values: rest.len(),
            count: rest.iter().map(|r| r.1).sum(),
        };
        if self.json {
            let raw: Vec<(Vec<String>, u64)> = rows.into_iter().map(|(k, n, _)| (k, n)).collect();
            return self.write_json(&raw, others);
        }
        let mut rows: Vec<(Vec<String>, u64)> = rows.into_iter().map(|(_, n, s)| (s, n)).collect();
        if others.values > 0 {
            let s = if others.values == 1 { "" } else { "s" };
            let mut label = vec![String::new(); self.titles.len()];
            label[0] = format!("… {} other group{s}", others.values);
            rows.push((label, others.count));
        }
        let widths: Vec<usize> = (0..self.titles.len())
            .map(|i| {
                rows.iter()
                    .map(|(k, _)| k[i].width())
                    .chain([self.titles[i].width()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String], count: &str| {
            let mut text = String::new();
            for (cell, width) in cells.iter().zip(&widths) {
                text.push_str(cell);
                text.push_str(&" ".repeat(width - cell.width() + 2));
            }
            format!("{text}{count:>7}\n")
        };
        self.out.write_all(line(&self.titles, "COUNT").as_bytes())?;
        for (cells, n) in rows {
            self.out
                .write_all(line(&cells, &n.to_string()).as_bytes())?;
        }
        self.out.flush()
    }
}

/// `--stats`: passes everything on, then reports the totals on `err`.
pub struct Stats<S, E: Write> {
    inner: S,
    err: E,
}

impl<S: Sink, E: Write> Stats<S, E> {
    pub fn new(inner: S, err: E) -> Self {
        Stats { inner, err }
    }
}

impl<S: Sink, E: Write> Sink for Stats<S, E> {
    fn begin(&mut self) -> io::Result<()> {
        self.inner.begin()
    }

    fn source(&mut self, source: &Source<'_>) {
        self.inner.source(source)
    }

    fn event(&mut self, event: &Matched<'_>) -> io::Result<()> {
        self.inner.event(event)
    }

    fn events(&mut self, out: &[u8], matches: &[Match]) -> io::Result<()> {
        self.inner.events(out, matches)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    fn finish(&mut self, totals: &Totals) -> io::Result<()> {
        self.inner.finish(totals)?;
        let c = &totals.counters;
        let skipped: u64 = c.skipped.values().sum();
        let mut report = String::new();
        let mut row = |label: &str, value: String| {
            report.push_str(&format!("{:<20}{value}\n", format!("{label}:")));
        };
        row("lines", c.lines.to_string());
        row("documents parsed", c.parsed.to_string());
        row(
            "lines not parsed",
            format!(
                "{} (rejected by the prefilter, or inside multi-line documents)",
                c.lines.saturating_sub(c.parsed + skipped)
            ),
        );
        row("events parsed", c.events.to_string());
        row("matches", c.matched.to_string());
        row("written", totals.written.to_string());
        for kind in Skip::ALL {
            let n = c.skipped.get(&kind).copied().unwrap_or(0);
            row(&format!("skipped {}", kind.short_label()), n.to_string());
        }
        // Envelopes met (AKS, CloudWatch, GKE): events found in each, records without one.
        for (what, n) in &c.seen {
            row("envelopes", format!("{n} {what}"));
        }
        row("bytes", c.bytes.to_string());
        row(
            "bytes read",
            format!("{} (from files; compressed for gzip)", totals.bytes_read),
        );
        row(
            "skipped by time",
            format!(
                "{} files, {} bytes",
                totals.files_skipped, totals.bytes_skipped
            ),
        );
        row("seconds", format!("{:.3}", totals.seconds));
        row(
            "throughput",
            format!(
                "{:.1} MB/s",
                c.bytes as f64 / 1e6 / totals.seconds.max(1e-9)
            ),
        );
        self.err.write_all(report.as_bytes())?;
        self.err.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched<'a>(text: &'a [u8], key: &'a [String]) -> Matched<'a> {
        Matched {
            text,
            key,
            meta: None,
            row: None,
        }
    }

    #[test]
    fn json_array_is_closed_even_when_empty() {
        let writer = EventWriter::new(Format::Json, false);
        let mut out = Vec::new();
        Printer::new(&writer, &mut out)
            .finish(&Totals::default())
            .unwrap();
        assert_eq!(out, b"[]\n");
        let mut out = Vec::new();
        let mut p = Printer::new(&writer, &mut out);
        p.event(&matched(b"{\"a\":1}\n", &[])).unwrap();
        p.event(&matched(b"{\"b\":2}\n", &[])).unwrap();
        p.finish(&Totals::default()).unwrap();
        assert_eq!(out, b"[\n{\"a\":1},\n{\"b\":2}\n]\n");
    }

    #[test]
    fn grouper_aligns_wide_characters() {
        let mut out = Vec::new();
        let fields = crate::sink::parse_field_list("user").unwrap();
        let mut g = Grouper::new(&fields, &mut out);
        let k1 = ["日本".to_string()];
        let k2 = ["ab".to_string()];
        g.event(&matched(b"", &k1)).unwrap();
        g.event(&matched(b"", &k1)).unwrap();
        g.event(&matched(b"", &k2)).unwrap();
        g.finish(&Totals::default()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let widths: Vec<usize> = text.lines().map(|l| l.width()).collect();
        assert_eq!(text.lines().nth(1).unwrap().trim_end(), "日本        2");
        assert!(widths.iter().all(|&w| w == widths[0]), "{text}");
    }
}
