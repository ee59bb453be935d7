//! Counting values and printing the counts: what `--summary`, `--timeline` and
//! `--count-by` share (top-N order, tables aligned by display width, values made safe to
//! print, JSON rows).

use crate::timefmt::Nanos;
use serde::Serialize;
use std::collections::HashMap;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The widest value a table of counts shows whole; wider ones keep their start and end.
pub const MAX_LABEL_WIDTH: usize = 60;

/// How many events had each value of something.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    counts: HashMap<String, u64>,
}

impl Tally {
    /// Counts one event with `value` (empty: missing).
    pub fn add(&mut self, value: &str) {
        match self.counts.get_mut(value) {
            Some(n) => *n += 1,
            None => {
                self.counts.insert(value.to_string(), 1);
            }
        }
    }

    /// Distinct values seen.
    #[cfg(test)]
    pub fn distinct(&self) -> usize {
        self.counts.len()
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Every value, most frequent first (ties by value, so the order is stable).
    pub fn sorted(&self) -> Vec<(&str, u64)> {
        let mut rows: Vec<(&str, u64)> =
            self.counts.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        rows
    }

    /// The `n` most frequent values, and how many other values there were with how many
    /// events.
    pub fn top(&self, n: usize) -> Top<'_> {
        let mut rows = self.sorted();
        let rest = rows.split_off(n.min(rows.len()));
        Top {
            rows,
            others: Others {
                values: rest.len(),
                count: rest.iter().map(|r| r.1).sum(),
            },
        }
    }
}

/// The first rows of a [`Tally`] and what was left out.
#[derive(Debug)]
pub struct Top<'a> {
    pub rows: Vec<(&'a str, u64)>,
    pub others: Others,
}

/// Values left out of a top-N list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Others {
    /// How many distinct values.
    pub values: usize,
    /// How many events had them.
    pub count: u64,
}

/// A row of a JSON report: a value (`null` when missing or empty) and its count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsonRow {
    pub value: Option<String>,
    pub count: u64,
}

impl Top<'_> {
    pub fn json_rows(&self) -> Vec<JsonRow> {
        self.rows
            .iter()
            .map(|(v, n)| JsonRow {
                value: json_value(v),
                count: *n,
            })
            .collect()
    }
}

/// A value in JSON output: `None` (null) when missing or empty.
pub fn json_value(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

/// A value as shown to people: `<none>` when missing, control characters (an escape
/// sequence in a user agent, a newline in a name) written as `\u{1b}`, so what a log
/// holds cannot move the cursor or forge lines of the report.
pub fn shown(text: &str) -> String {
    if text.is_empty() {
        return "<none>".to_string();
    }
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `text` in at most `max` columns: whole if it fits, else its start and its end around
/// `…` (user agents and service accounts differ at either end).
pub fn fit(text: &str, max: usize) -> String {
    if text.width() <= max {
        return text.to_string();
    }
    let room = max.saturating_sub(1);
    let head_room = room / 2;
    let mut head = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > head_room {
            break;
        }
        used += w;
        head.push(c);
    }
    let mut tail: Vec<char> = Vec::new();
    let mut tail_used = 0;
    for c in text.chars().rev() {
        let w = c.width().unwrap_or(0);
        if used + tail_used + w > room {
            break;
        }
        tail_used += w;
        tail.push(c);
    }
    head.push('…');
    head.extend(tail.into_iter().rev());
    head
}

/// A table of counts with a share column: a title row (`TITLE  EVENTS  %`), one row per
/// value, and `… N others` when values were left out. Columns are aligned by display
/// width (values wider than [`MAX_LABEL_WIDTH`] are shortened in the middle); the share
/// is of `total`.
pub fn counts_table(title: &str, top: &Top<'_>, total: u64) -> String {
    let mut labels: Vec<String> = top
        .rows
        .iter()
        .map(|(v, _)| fit(&shown(v), MAX_LABEL_WIDTH))
        .collect();
    let mut counts: Vec<u64> = top.rows.iter().map(|r| r.1).collect();
    if top.others.values > 0 {
        let s = if top.others.values == 1 { "" } else { "s" };
        labels.push(format!("… {} other{s}", top.others.values));
        counts.push(top.others.count);
    }
    let label_width = labels
        .iter()
        .map(|l| l.width())
        .chain([title.width()])
        .max()
        .unwrap_or(0);
    let count_width = counts
        .iter()
        .map(|n| n.to_string().len())
        .chain(["EVENTS".len()])
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let mut line = |label: &str, count: &str, share: &str| {
        out.push_str(label);
        out.push_str(&" ".repeat(label_width - label.width() + 2));
        out.push_str(&format!("{count:>count_width$}  {share:>5}\n"));
    };
    line(title, "EVENTS", "%");
    for (label, n) in labels.iter().zip(&counts) {
        line(label, &n.to_string(), &percent(*n, total));
    }
    out
}

/// `n` as a share of `total`, one decimal.
pub fn percent(n: u64, total: u64) -> String {
    if total == 0 {
        return "-".to_string();
    }
    format!("{:.1}", n as f64 * 100.0 / total as f64)
}

/// A duration for people, to about three digits: `350ms`, `12.0s`, `3m 20s`, `2h 5m`,
/// `3d 4h`.
pub fn approx_duration(nanos: Nanos) -> String {
    const S: Nanos = 1_000_000_000;
    let nanos = nanos.max(0);
    if nanos < S {
        return format!("{}ms", nanos / 1_000_000);
    }
    if nanos < 60 * S {
        return format!("{:.1}s", nanos as f64 / S as f64);
    }
    let secs = nanos / S;
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if secs < 3600 {
        format!("{m}m {s}s")
    } else if secs < 86_400 {
        format!("{h}h {m}m")
    } else {
        format!("{d}d {h}h")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(values: &[&str]) -> Tally {
        let mut t = Tally::default();
        for v in values {
            t.add(v);
        }
        t
    }

    #[test]
    fn top_orders_by_count_then_value() {
        let t = tally(&["b", "a", "c", "c", "b", "d", "c"]);
        let top = t.top(2);
        assert_eq!(top.rows, [("c", 3), ("b", 2)]);
        assert_eq!(
            top.others,
            Others {
                values: 2,
                count: 2
            }
        );
        assert_eq!(t.top(10).others, Others::default());
        assert_eq!((t.distinct(), t.total()), (4, 7));
    }

    #[test]
    fn tables_align_and_show_the_rest() {
        let t = tally(&["日本", "日本", "ab", "", "x"]);
        let text = counts_table("USER", &t.top(3), 5);
        assert_eq!(
            text,
            "USER       EVENTS      %\n\
             日本            2   40.0\n\
             <none>          1   20.0\n\
             ab              1   20.0\n\
             … 1 other       1   20.0\n"
        );
        let widths: Vec<usize> = text.lines().map(|l| l.width()).collect();
        assert!(widths.iter().all(|&w| w == widths[0]), "{text}");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(shown("a\u{1b}[31mb\nc"), "a\\u{1b}[31mb\\u{a}c");
        assert_eq!(shown(""), "<none>");
        assert_eq!(json_value(""), None);
        assert_eq!(percent(1, 3), "33.3");
        assert_eq!(percent(0, 0), "-");
    }

    #[test]
    fn long_values_keep_both_ends() {
        assert_eq!(fit("abcdef", 6), "abcdef");
        assert_eq!(fit("abcdefgh", 6), "ab…fgh");
        assert_eq!(fit("日本語日本語", 7), "日…本語");
        let ua = "kube-controller-manager/v1.31.4 (linux/amd64) kubernetes/a78aa47/system:serviceaccount:kube-system:replicaset-controller";
        let short = fit(ua, MAX_LABEL_WIDTH);
        assert_eq!(short.width(), MAX_LABEL_WIDTH);
        assert!(
            short.starts_with("kube-controller-manager/")
                && short.ends_with(":replicaset-controller")
        );
    }

    #[test]
    fn durations_for_people() {
        let s = 1_000_000_000;
        assert_eq!(approx_duration(350_000_000), "350ms");
        assert_eq!(approx_duration(12 * s + 24_000_000), "12.0s");
        assert_eq!(approx_duration(200 * s), "3m 20s");
        assert_eq!(approx_duration(7500 * s), "2h 5m");
        assert_eq!(approx_duration(4 * 86_400 * s + 3600 * s), "4d 1h");
    }
}
