//! `--timeline`: matches over time as horizontal bars, one row per bucket; with
//! `--timeline-by FIELD`, each row split into series (the top values of the field, the
//! rest as `other`). The workers extract the time (and the field) of each match through
//! [`key_fields`]; this sink counts per bucket and draws at the end, or writes one JSON
//! document with `-o json`.
//!
//! When no bucket is given, the one giving 20–60 rows is chosen at the end, from round
//! sizes. Counting cannot wait for that choice, so counts are kept in cells that every
//! possible final bucket is a whole number of; the cells grow coarser as the covered range
//! grows (and rules out the small buckets), which keeps memory small on long logs.

use super::sinks::{Matched, Sink, Totals};
use super::tally::{self, JsonRow, Others, Tally};
use crate::query::fields::{self, FieldRef};
use crate::timefmt::{self, Nanos};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use unicode_width::UnicodeWidthStr;

const MS: Nanos = 1_000_000;
const SECOND: Nanos = 1_000 * MS;
const MINUTE: Nanos = 60 * SECOND;
const HOUR: Nanos = 60 * MINUTE;
const DAY: Nanos = 24 * HOUR;

/// The most rows an automatic bucket gives (and it gives at least 20 whenever the range
/// allows).
const MAX_ROWS: i128 = 60;

/// Round bucket sizes, smallest first.
const CANDIDATES: &[Nanos] = &[
    MS,
    2 * MS,
    5 * MS,
    10 * MS,
    20 * MS,
    50 * MS,
    100 * MS,
    200 * MS,
    500 * MS,
    SECOND,
    2 * SECOND,
    5 * SECOND,
    10 * SECOND,
    15 * SECOND,
    30 * SECOND,
    MINUTE,
    2 * MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    3 * DAY,
    7 * DAY,
    14 * DAY,
    30 * DAY,
    60 * DAY,
    90 * DAY,
    180 * DAY,
    365 * DAY,
    730 * DAY,
    1825 * DAY,
    3650 * DAY,
    36_500 * DAY,
    365_000 * DAY,
];

/// Cell sizes for counting before the bucket is chosen: (cell, the largest candidate
/// below it). Every candidate from `cell` on is a multiple of `cell`, so once the range
/// covered needs more than [`MAX_ROWS`] rows of the candidate below, cells of this size
/// lose nothing.
const CELLS: &[(Nanos, Nanos)] = &[
    (10 * MS, 5 * MS),
    (100 * MS, 50 * MS),
    (SECOND, 500 * MS),
    (MINUTE, 30 * SECOND),
    (HOUR, 30 * MINUTE),
    (DAY, 12 * HOUR),
];

/// `--timeline`'s value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// Chosen from the range covered: 20–60 rows.
    Auto,
    Fixed(Nanos),
}

impl Bucket {
    /// `auto`, or a duration: `500ms`, `10s`, `5m`, `1h30m`, `1d`, `1w`.
    pub fn parse(text: &str) -> Result<Bucket, crate::invalid::Invalid> {
        if text == "auto" {
            return Ok(Bucket::Auto);
        }
        match timefmt::parse_duration(text) {
            Some(n) if n > 0 => Ok(Bucket::Fixed(n)),
            _ => Err(format!("`{text}` is not a time bucket like 500ms, 10s, 5m, 1h or 1d").into()),
        }
    }
}

/// Where buckets of this size start: whole multiples since the Unix epoch, except that
/// weeks (multiples of 7 days) start on Mondays.
fn origin(bucket: Nanos) -> Nanos {
    if bucket % (7 * DAY) == 0 {
        4 * DAY // 1970-01-05 was a Monday
    } else {
        0
    }
}

/// The index of the bucket holding `t`.
fn index(t: Nanos, bucket: Nanos) -> i128 {
    (t - origin(bucket)).div_euclid(bucket)
}

fn rows(first: Nanos, last: Nanos, bucket: Nanos) -> i128 {
    index(last, bucket) - index(first, bucket) + 1
}

/// The round bucket for a range: the smallest giving at most 60 rows (so 20–60 rows
/// whenever the range allows, since candidates are at most 3 times apart up to years).
pub fn choose_bucket(first: Nanos, last: Nanos) -> Nanos {
    if first == last {
        return SECOND;
    }
    CANDIDATES
        .iter()
        .copied()
        .find(|&b| rows(first, last, b) <= MAX_ROWS)
        .unwrap_or(365_000 * DAY)
}

/// A bucket size as written on the command line: `500ms`, `5m`, `1h30m`, `7d`.
pub fn format_bucket(nanos: Nanos) -> String {
    if nanos % SECOND != 0 {
        return if nanos % MS == 0 {
            format!("{}ms", nanos / MS)
        } else {
            format!("{}ns", nanos)
        };
    }
    let mut rest = nanos / SECOND;
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

/// What `--timeline` draws.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineSpec {
    pub bucket: Bucket,
    /// `--timeline-by`.
    pub by: Option<FieldRef>,
    /// How many series `--timeline-by` shows before `other`.
    pub series: usize,
    /// Columns to draw in (the terminal's width, or 80).
    pub width: usize,
    pub json: bool,
}

/// The fields the timeline needs from each match: the time, and the `--timeline-by` field.
pub fn key_fields(spec: &TimelineSpec) -> Vec<FieldRef> {
    let mut fields = vec![fields::named("time")];
    fields.extend(spec.by.clone());
    fields
}

/// Counts in one cell or bucket: in all, and per value id of the `--timeline-by` field.
#[derive(Debug, Default, Clone)]
struct Cell {
    total: u64,
    by: HashMap<u32, u64>,
}

impl Cell {
    fn merge(&mut self, other: Cell) {
        self.total += other.total;
        for (id, n) in other.by {
            *self.by.entry(id).or_default() += n;
        }
    }
}

/// Counts per cell of time.
#[derive(Debug)]
struct Histogram {
    /// Cell size; cells start at `origin(cell)` plus whole multiples.
    cell: Nanos,
    /// A `--timeline` bucket was given: cells are the buckets, never coarsened.
    fixed: bool,
    cells: BTreeMap<i128, Cell>,
    first: Option<Nanos>,
    last: Option<Nanos>,
}

impl Histogram {
    fn new(bucket: Bucket) -> Self {
        let (cell, fixed) = match bucket {
            Bucket::Fixed(b) => (b, true),
            Bucket::Auto => (MS, false),
        };
        Histogram {
            cell,
            fixed,
            cells: BTreeMap::new(),
            first: None,
            last: None,
        }
    }

    fn cell_mut(&mut self, t: Nanos) -> &mut Cell {
        let widened = self.first.is_none_or(|f| t < f) || self.last.is_none_or(|l| t > l);
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.last = Some(self.last.map_or(t, |l| l.max(t)));
        if widened && !self.fixed {
            self.coarsen();
        }
        self.cells.entry(index(t, self.cell)).or_default()
    }

    /// Coarser cells, as far as the range covered allows.
    fn coarsen(&mut self) {
        let (Some(first), Some(last)) = (self.first, self.last) else {
            return;
        };
        let Some(&(cell, _)) = CELLS
            .iter()
            .rev()
            .find(|(cell, below)| *cell > self.cell && rows(first, last, *below) > MAX_ROWS)
        else {
            return;
        };
        let old = std::mem::take(&mut self.cells);
        for (i, c) in old {
            let start = origin(self.cell) + i * self.cell;
            self.cells.entry(index(start, cell)).or_default().merge(c);
        }
        self.cell = cell;
    }

    /// The bucket size, and the counts per bucket index.
    fn buckets(&self, bucket: Bucket) -> Option<(Nanos, BTreeMap<i128, Cell>)> {
        let (first, last) = (self.first?, self.last?);
        let size = match bucket {
            Bucket::Fixed(b) => b,
            Bucket::Auto => choose_bucket(first, last),
        };
        let mut out: BTreeMap<i128, Cell> = BTreeMap::new();
        for (i, c) in &self.cells {
            let start = origin(self.cell) + i * self.cell;
            out.entry(index(start, size)).or_default().merge(c.clone());
        }
        Some((size, out))
    }
}

/// `--timeline`.
pub struct Timeline<W: Write> {
    out: W,
    spec: TimelineSpec,
    histogram: Histogram,
    events: u64,
    untimed: u64,
    /// `--timeline-by`: the values seen (by id) and their totals.
    ids: HashMap<String, u32>,
    values: Vec<String>,
    totals: Tally,
}

impl<W: Write> Timeline<W> {
    pub fn new(spec: TimelineSpec, out: W) -> Self {
        Timeline {
            out,
            histogram: Histogram::new(spec.bucket),
            spec,
            events: 0,
            untimed: 0,
            ids: HashMap::new(),
            values: Vec::new(),
            totals: Tally::default(),
        }
    }

    fn id(&mut self, value: &str) -> u32 {
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        let id = self.values.len() as u32;
        self.ids.insert(value.to_string(), id);
        self.values.push(value.to_string());
        id
    }
}

impl<W: Write> Sink for Timeline<W> {
    fn event(&mut self, event: &Matched<'_>) -> io::Result<()> {
        self.events += 1;
        let time = event.key.first().map_or("", String::as_str);
        let Some(t) = timefmt::parse_timestamp(time) else {
            self.untimed += 1;
            return Ok(());
        };
        let by = match (&self.spec.by, event.key.get(1)) {
            (Some(_), Some(value)) => {
                self.totals.add(value);
                Some(self.id(value))
            }
            (Some(_), None) => {
                self.totals.add("");
                Some(self.id(""))
            }
            (None, _) => None,
        };
        let cell = self.histogram.cell_mut(t);
        cell.total += 1;
        if let Some(id) = by {
            *cell.by.entry(id).or_default() += 1;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, _: &Totals) -> io::Result<()> {
        let chart = Chart::new(self);
        let text = if self.spec.json {
            let mut text = serde_json::to_string_pretty(&chart.json()).map_err(io::Error::other)?;
            text.push('\n');
            text
        } else {
            chart.draw()
        };
        self.out.write_all(text.as_bytes())?;
        self.out.flush()
    }
}

/// Bar characters of the series, in order; `other` is drawn with [`OTHER`].
const SERIES_CHARS: &[char] = &[
    '█', '▓', '▒', '░', '#', '=', '+', '*', '~', ':', 'o', 'x', '%', '&', '$', '@',
];
const OTHER: char = '·';
/// Eighths of a cell, for the single-series bar.
const EIGHTHS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
/// Runs of more empty buckets than this are drawn as one line.
const EMPTY_RUN: usize = 5;

/// One series of `--timeline-by`.
struct Series {
    value: String,
    total: u64,
    mark: char,
}

/// The counts, ready to draw.
struct Chart<'a> {
    spec: &'a TimelineSpec,
    events: u64,
    untimed: u64,
    first: Option<Nanos>,
    last: Option<Nanos>,
    /// Bucket size and the counts of non-empty buckets.
    buckets: Option<(Nanos, BTreeMap<i128, Cell>)>,
    series: Vec<Series>,
    /// Ids of the series' values, in series order.
    series_ids: Vec<u32>,
    others: Others,
}

/// One bucket's counts: in all, per series, and `other`.
struct Counts {
    total: u64,
    series: Vec<u64>,
    other: u64,
}

impl<'a> Chart<'a> {
    fn new<W: Write>(t: &'a Timeline<W>) -> Self {
        let top = t.totals.top(t.spec.series.max(1));
        let series: Vec<Series> = top
            .rows
            .iter()
            .enumerate()
            .map(|(i, (value, total))| Series {
                value: value.to_string(),
                total: *total,
                mark: SERIES_CHARS[i % SERIES_CHARS.len()],
            })
            .collect();
        let series_ids = series
            .iter()
            .map(|s| t.ids.get(&s.value).copied().unwrap_or(u32::MAX))
            .collect();
        Chart {
            spec: &t.spec,
            events: t.events,
            untimed: t.untimed,
            first: t.histogram.first,
            last: t.histogram.last,
            buckets: t.histogram.buckets(t.spec.bucket),
            series,
            series_ids,
            others: top.others,
        }
    }

    fn counts(&self, cell: Option<&Cell>) -> Counts {
        let Some(cell) = cell else {
            return Counts {
                total: 0,
                series: vec![0; self.series.len()],
                other: 0,
            };
        };
        let series: Vec<u64> = self
            .series_ids
            .iter()
            .map(|id| cell.by.get(id).copied().unwrap_or(0))
            .collect();
        let other = if self.spec.by.is_some() {
            cell.total - series.iter().sum::<u64>()
        } else {
            0
        };
        Counts {
            total: cell.total,
            series,
            other,
        }
    }

    fn time_label(&self, start: Nanos, bucket: Nanos) -> String {
        let format = if bucket % SECOND != 0 {
            "%Y-%m-%dT%H:%M:%S%.3fZ"
        } else if bucket % DAY == 0 {
            "%Y-%m-%d"
        } else {
            "%Y-%m-%dT%H:%M:%SZ"
        };
        timefmt::format_nanos_with(start, format)
    }

    fn draw(&self) -> String {
        let mut out = String::new();
        let Some((bucket, cells)) = &self.buckets else {
            out.push_str(&format!("{} events, none with a time\n", self.events));
            return out;
        };
        let bucket = *bucket;
        let by = match &self.spec.by {
            Some(field) => format!(", by {}", field.name),
            None => String::new(),
        };
        out.push_str(&format!(
            "{} events, {} buckets{by}",
            self.events,
            format_bucket(bucket)
        ));
        if self.untimed > 0 {
            out.push_str(&format!(" ({} without a time, not drawn)", self.untimed));
        }
        out.push('\n');
        // Legend: one line per series.
        if self.spec.by.is_some() {
            let mut legend: Vec<(char, String, u64)> = self
                .series
                .iter()
                .map(|s| {
                    (
                        s.mark,
                        tally::fit(&tally::shown(&s.value), tally::MAX_LABEL_WIDTH),
                        s.total,
                    )
                })
                .collect();
            if self.others.values > 0 {
                let s = if self.others.values == 1 { "" } else { "s" };
                legend.push((
                    OTHER,
                    format!("other ({} value{s})", self.others.values),
                    self.others.count,
                ));
            }
            let w = legend.iter().map(|l| l.1.width()).max().unwrap_or(0);
            let nw = legend
                .iter()
                .map(|l| l.2.to_string().len())
                .max()
                .unwrap_or(0);
            for (mark, label, n) in legend {
                let pad = " ".repeat(w - label.width());
                out.push_str(&format!("{mark} {label}{pad}  {n:>nw$}\n"));
            }
        }
        let (Some(&lo), Some(&hi)) = (cells.keys().next(), cells.keys().next_back()) else {
            return out;
        };
        let origin = origin(bucket);
        let start_of = |i: i128| origin + i * bucket;
        let max = cells.values().map(|c| c.total).max().unwrap_or(0).max(1);
        // Columns: time, events, one per series (and other), bar.
        let time_width = self.time_label(start_of(lo), bucket).width();
        let count_width = max.to_string().len().max("EVENTS".len());
        let mut columns: Vec<(char, usize)> = Vec::new();
        if self.spec.by.is_some() {
            for (i, s) in self.series.iter().enumerate() {
                let most = cells
                    .values()
                    .map(|c| self.counts(Some(c)).series[i])
                    .max()
                    .unwrap_or(0);
                columns.push((s.mark, most.to_string().len()));
            }
            if self.others.values > 0 {
                let most = cells
                    .values()
                    .map(|c| self.counts(Some(c)).other)
                    .max()
                    .unwrap_or(0);
                columns.push((OTHER, most.to_string().len()));
            }
        }
        let prefix =
            time_width + 2 + count_width + columns.iter().map(|c| c.1 + 2).sum::<usize>() + 2;
        let bar_width = self.spec.width.saturating_sub(prefix).max(10);
        let mut header = format!("{:<time_width$}  {:>count_width$}", "TIME", "EVENTS");
        for (mark, w) in &columns {
            header.push_str(&format!("  {:>w$}", mark.to_string()));
        }
        out.push_str(header.trim_end());
        out.push('\n');
        let mut i = lo;
        while i <= hi {
            if !cells.contains_key(&i) {
                let run_end = cells.range(i..).next().map_or(hi + 1, |(k, _)| *k);
                let run = (run_end - i) as usize;
                if run > EMPTY_RUN {
                    out.push_str(&format!(
                        "… {run} empty buckets ({})\n",
                        tally::approx_duration(bucket * run as i128)
                    ));
                    i = run_end;
                    continue;
                }
            }
            let counts = self.counts(cells.get(&i));
            let mut line = format!(
                "{:<time_width$}  {:>count_width$}",
                self.time_label(start_of(i), bucket),
                counts.total
            );
            let mut values = counts.series.clone();
            if self.others.values > 0 {
                values.push(counts.other);
            }
            for ((_, w), n) in columns.iter().zip(&values) {
                line.push_str(&format!("  {n:>w$}"));
            }
            let bar = if self.spec.by.is_some() {
                stacked_bar(&counts, &self.series, max, bar_width)
            } else {
                bar(counts.total, max, bar_width)
            };
            if !bar.is_empty() {
                line.push_str("  ");
                line.push_str(&bar);
            }
            out.push_str(&line);
            out.push('\n');
            i += 1;
        }
        out
    }

    fn json(&self) -> JsonTimeline {
        let by = self.spec.by.is_some();
        let (bucket, rows) = match &self.buckets {
            Some((bucket, cells)) => (
                Some(*bucket),
                cells
                    .iter()
                    .map(|(i, cell)| {
                        let counts = self.counts(Some(cell));
                        JsonBucket {
                            start: timefmt::format_nanos_exact(origin(*bucket) + i * bucket),
                            count: counts.total,
                            series: by.then_some(counts.series),
                            others: by.then_some(counts.other),
                        }
                    })
                    .collect(),
            ),
            None => (None, Vec::new()),
        };
        JsonTimeline {
            bucket: bucket.map(format_bucket),
            bucket_seconds: bucket.map(|b| b as f64 / SECOND as f64),
            events: self.events,
            untimed: self.untimed,
            first: self.first.map(timefmt::format_nanos_exact),
            last: self.last.map(timefmt::format_nanos_exact),
            field: self.spec.by.as_ref().map(|f| f.name.clone()),
            series: by.then(|| {
                self.series
                    .iter()
                    .map(|s| JsonRow {
                        value: tally::json_value(&s.value),
                        count: s.total,
                    })
                    .collect()
            }),
            others: by.then_some(self.others),
            rows,
        }
    }
}

/// A bar of `n` out of `max` in `width` columns, in eighths of a column; never empty for
/// `n > 0`.
fn bar(n: u64, max: u64, width: usize) -> String {
    if n == 0 {
        return String::new();
    }
    let eighths = ((n as u128 * width as u128 * 8 + max as u128 / 2) / max as u128).max(1) as usize;
    let mut out = "█".repeat(eighths / 8);
    out.push_str(EIGHTHS[eighths % 8]);
    out
}

/// A bar of the bucket's total, split into the series' marks (then `other`): the bar is as
/// long as the total's share of `max` (at least one column), and its columns go to the
/// parts by largest remainder, so each part's length is its share of the bar rounded
/// (a small bucket's one column goes to its largest part).
fn stacked_bar(counts: &Counts, series: &[Series], max: u64, width: usize) -> String {
    if counts.total == 0 {
        return String::new();
    }
    let cells = ((counts.total as u128 * width as u128 + max as u128 / 2) / max as u128).max(1);
    let marks: Vec<char> = series.iter().map(|s| s.mark).chain([OTHER]).collect();
    let parts: Vec<u64> = counts
        .series
        .iter()
        .copied()
        .chain([counts.other])
        .collect();
    let total = counts.total as u128;
    let mut widths: Vec<u128> = parts.iter().map(|&n| n as u128 * cells / total).collect();
    let mut left = cells - widths.iter().sum::<u128>();
    let mut by_remainder: Vec<usize> = (0..parts.len()).collect();
    by_remainder.sort_by_key(|&i| std::cmp::Reverse(parts[i] as u128 * cells % total));
    for i in by_remainder {
        if left == 0 {
            break;
        }
        if parts[i] > 0 {
            widths[i] += 1;
            left -= 1;
        }
    }
    let mut out = String::new();
    for (mark, w) in marks.iter().zip(widths) {
        out.extend(std::iter::repeat_n(*mark, w as usize));
    }
    out
}

/// The JSON document of `--timeline -o json` (its shape is documented in docs/query.md).
#[derive(Debug, Serialize)]
struct JsonTimeline {
    /// The bucket size (`500ms`, `5m`), `null` when no match had a time.
    bucket: Option<String>,
    bucket_seconds: Option<f64>,
    events: u64,
    untimed: u64,
    first: Option<String>,
    last: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    series: Option<Vec<JsonRow>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    others: Option<Others>,
    /// Non-empty buckets, oldest first.
    rows: Vec<JsonBucket>,
}

#[derive(Debug, Serialize)]
struct JsonBucket {
    start: String,
    count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    series: Option<Vec<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    others: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Nanos {
        timefmt::parse_timestamp(text).unwrap()
    }

    #[test]
    fn bucket_values() {
        assert_eq!(Bucket::parse("auto"), Ok(Bucket::Auto));
        assert_eq!(Bucket::parse("500ms"), Ok(Bucket::Fixed(500 * MS)));
        assert_eq!(Bucket::parse("5m"), Ok(Bucket::Fixed(5 * MINUTE)));
        assert_eq!(Bucket::parse("1h30m"), Ok(Bucket::Fixed(90 * MINUTE)));
        assert_eq!(Bucket::parse("1w"), Ok(Bucket::Fixed(7 * DAY)));
        for bad in ["0s", "0ms", "ms", "5", "soon", "-1m", ""] {
            assert!(Bucket::parse(bad).is_err(), "{bad}");
        }
        for b in [
            500 * MS,
            5 * MINUTE,
            90 * MINUTE,
            DAY,
            7 * DAY,
            36 * HOUR + 1500 * MS,
        ] {
            let text = format_bucket(b);
            if b % SECOND == 0 {
                assert_eq!(Bucket::parse(&text), Ok(Bucket::Fixed(b)), "{text}");
            }
        }
        assert_eq!(format_bucket(90 * MINUTE), "1h30m");
        assert_eq!(format_bucket(7 * DAY), "7d");
        assert_eq!(format_bucket(1500 * MS), "1500ms");
    }

    const MIN_ROWS: i128 = 20;

    #[test]
    fn chosen_buckets_give_20_to_60_rows() {
        let base = t("2026-01-05T10:00:00Z");
        // From 50 ms to ten years: the rows always fit.
        let mut span = 50 * MS;
        while span < 3650 * DAY {
            for offset in [0, 7 * MS, 13 * SECOND + 1, 5 * HOUR + 17 * MINUTE] {
                let (first, last) = (base + offset, base + offset + span);
                let b = choose_bucket(first, last);
                let r = rows(first, last, b);
                assert!(
                    r <= MAX_ROWS,
                    "span {span}: {} gives {r} rows",
                    format_bucket(b)
                );
                assert!(
                    r >= MIN_ROWS,
                    "span {span}: {} gives {r} rows",
                    format_bucket(b)
                );
            }
            span = span * 13 / 10;
        }
        // The sample log's 12 seconds: 500 ms buckets.
        let b = choose_bucket(
            t("2026-01-05T10:00:00.002284Z"),
            t("2026-01-05T10:00:12.026828Z"),
        );
        assert_eq!(format_bucket(b), "500ms");
        assert_eq!(choose_bucket(base, base), SECOND);
        assert_eq!(choose_bucket(base, base + 3 * HOUR), 5 * MINUTE);
    }

    #[test]
    fn weeks_start_on_monday() {
        let monday = t("2026-01-05T00:00:00Z");
        assert_eq!(
            origin(7 * DAY) + index(monday + DAY, 7 * DAY) * 7 * DAY,
            monday
        );
        assert_eq!(
            index(t("2026-01-04T23:59:59Z"), 7 * DAY) + 1,
            index(monday, 7 * DAY)
        );
    }

    /// Coarsening cells while counting gives the counts of bucketing all times at the end.
    #[test]
    fn coarse_cells_lose_nothing() {
        let base = t("2026-01-05T10:00:00Z");
        let mut seed = 42u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 33
        };
        for case in 0..60 {
            let span = [SECOND, 90 * SECOND, 2 * HOUR, 40 * DAY][case % 4] as u64;
            let times: Vec<Nanos> = (0..300).map(|_| base + (next() % span) as Nanos).collect();
            let mut h = Histogram::new(Bucket::Auto);
            for &time in &times {
                h.cell_mut(time).total += 1;
            }
            let (bucket, got) = h.buckets(Bucket::Auto).unwrap();
            let first = *times.iter().min().unwrap();
            let last = *times.iter().max().unwrap();
            assert_eq!(bucket, choose_bucket(first, last));
            let mut want: BTreeMap<i128, u64> = BTreeMap::new();
            for &time in &times {
                *want.entry(index(time, bucket)).or_default() += 1;
            }
            let got: BTreeMap<i128, u64> = got.into_iter().map(|(i, c)| (i, c.total)).collect();
            assert_eq!(got, want, "case {case}");
            assert!(h.cells.len() <= 2000, "{} cells", h.cells.len());
        }
    }

    fn spec(by: Option<&str>, bucket: Bucket, json: bool) -> TimelineSpec {
        TimelineSpec {
            bucket,
            by: by.map(fields::named),
            series: 2,
            width: 60,
            json,
        }
    }

    fn draw(spec: TimelineSpec, keys: &[(&str, &str)]) -> String {
        let mut out = Vec::new();
        let mut tl = Timeline::new(spec, &mut out);
        for (time, value) in keys {
            let key = vec![time.to_string(), value.to_string()];
            tl.event(&Matched {
                text: b"",
                key: &key,
                meta: None,
                row: None,
            })
            .unwrap();
        }
        tl.finish(&Totals::default()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn single_series_bars() {
        let keys = [
            ("2026-01-05T10:00:05Z", ""),
            ("2026-01-05T10:00:06Z", ""),
            ("2026-01-05T10:00:07Z", ""),
            ("2026-01-05T10:00:08Z", ""),
            ("2026-01-05T10:02:01Z", ""),
            ("bad time", ""),
        ];
        let text = draw(spec(None, Bucket::Fixed(MINUTE), false), &keys);
        let bar_width = 60 - (20 + 2 + 6 + 2);
        assert_eq!(
            text,
            format!(
                "6 events, 1m buckets (1 without a time, not drawn)\n\
                 TIME                  EVENTS\n\
                 2026-01-05T10:00:00Z       4  {}\n\
                 2026-01-05T10:01:00Z       0\n\
                 2026-01-05T10:02:00Z       1  {}\n",
                "█".repeat(bar_width),
                "█".repeat(bar_width / 4) + "▌"
            )
        );
    }

    #[test]
    fn long_gaps_are_one_line() {
        let keys = [("2026-01-05T10:00:00Z", ""), ("2026-01-05T11:00:00Z", "")];
        let text = draw(spec(None, Bucket::Fixed(MINUTE), false), &keys);
        assert_eq!(text.lines().count(), 5, "{text}");
        assert!(text.contains("\n… 59 empty buckets (59m 0s)\n"), "{text}");
    }

    #[test]
    fn series_split_rows() {
        let keys = [
            ("2026-01-05T10:00:00Z", "alice"),
            ("2026-01-05T10:00:01Z", "alice"),
            ("2026-01-05T10:00:02Z", "bob"),
            ("2026-01-05T10:01:00Z", "carol"),
            ("2026-01-05T10:01:00Z", ""),
            ("2026-01-05T10:01:00Z", "alice"),
            ("2026-01-05T10:01:00Z", "bob"),
        ];
        let text = draw(spec(Some("user"), Bucket::Fixed(MINUTE), false), &keys);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "7 events, 1m buckets, by user");
        assert_eq!(lines[1], "█ alice             3");
        assert_eq!(lines[2], "▓ bob               2");
        assert_eq!(lines[3], "· other (2 values)  2");
        assert_eq!(lines[4], "TIME                  EVENTS  █  ▓  ·");
        let width: usize = 60 - (20 + 2 + 6 + 3 * 3 + 2);
        assert_eq!(width, 21);
        let row = |a: usize, b: usize, o: usize| "█".repeat(a) + &"▓".repeat(b) + &"·".repeat(o);
        // 3 of max 4: 16 columns, 2/3 and 1/3 of them (10.7 → 11, 5.3 → 5).
        assert_eq!(
            lines[5],
            format!("2026-01-05T10:00:00Z       3  2  1  0  {}", row(11, 5, 0))
        );
        // 4: all 21 columns, 1/4, 1/4 and 2/4 of them (5.25, 5.25, 10.5 → 5, 5, 11).
        assert_eq!(
            lines[6],
            format!("2026-01-05T10:01:00Z       4  1  1  2  {}", row(5, 5, 11))
        );
    }

    #[test]
    fn a_small_bucket_shows_its_largest_part() {
        let series: Vec<Series> = ['█', '▓', '▒']
            .iter()
            .map(|&mark| Series {
                value: String::new(),
                total: 0,
                mark,
            })
            .collect();
        let counts = Counts {
            total: 10,
            series: vec![5, 2, 3],
            other: 0,
        };
        assert_eq!(stacked_bar(&counts, &series, 682, 44), "█");
        let counts = Counts {
            total: 10,
            series: vec![5, 2, 3],
            other: 0,
        };
        assert_eq!(
            stacked_bar(&counts, &series, 10, 20),
            "██████████▓▓▓▓▒▒▒▒▒▒"
        );
        let none = Counts {
            total: 0,
            series: vec![0, 0, 0],
            other: 0,
        };
        assert_eq!(stacked_bar(&none, &series, 10, 20), "");
    }

    #[test]
    fn json_document() {
        let keys = [
            ("2026-01-05T10:00:00.5Z", "alice"),
            ("2026-01-05T10:03:00Z", "bob"),
            ("2026-01-05T10:03:10Z", "alice"),
            ("nope", "alice"),
        ];
        let text = draw(spec(Some("user"), Bucket::Fixed(MINUTE), true), &keys);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["bucket"], "1m");
        assert_eq!(v["bucket_seconds"], 60.0);
        assert_eq!(
            (v["events"].as_u64(), v["untimed"].as_u64()),
            (Some(4), Some(1))
        );
        assert_eq!(v["field"], "user");
        // Series count timed events (the ones drawn).
        assert_eq!(
            v["series"],
            serde_json::json!([{"value": "alice", "count": 2}, {"value": "bob", "count": 1}])
        );
        assert_eq!(v["others"], serde_json::json!({"values": 0, "count": 0}));
        assert_eq!(
            v["rows"],
            serde_json::json!([
                {"start": "2026-01-05T10:00:00Z", "count": 1, "series": [1, 0], "others": 0},
                {"start": "2026-01-05T10:03:00Z", "count": 2, "series": [1, 1], "others": 0}
            ])
        );
        let text = draw(spec(None, Bucket::Auto, true), &keys[..1]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(v.get("series").is_none() && v.get("field").is_none());
        assert_eq!(v["rows"][0]["start"], "2026-01-05T10:00:00Z");
        let v: serde_json::Value =
            serde_json::from_str(&draw(spec(None, Bucket::Auto, true), &[])).unwrap();
        assert!(v["bucket"].is_null());
        assert_eq!(v["rows"], serde_json::json!([]));
        assert_eq!(
            draw(spec(None, Bucket::Auto, false), &[]),
            "0 events, none with a time\n"
        );
    }
}
