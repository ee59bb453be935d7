//! Sinks: how matched events are written.
//!
//! Two halves, as in ripgrep's printer: an [`EventWriter`] formats one event into bytes
//! (workers run it in parallel, per block), and a [`Sink`] receives the formatted events in
//! input order and adds what spans them (headers, JSON array brackets, totals, the
//! `--stats` report). Search and follow drive the same sinks.

pub(crate) mod dedupe;
mod sinks;
pub(crate) mod summary;
pub(crate) mod table;
pub(crate) mod tally;
pub(crate) mod timeline;

pub use sinks::{
    Counter, Counters, Grouper, Match, Matched, Meta, Printer, Row, Sink, Source, Stage, Stats,
    Totals,
};
pub use summary::Summary;
pub use timeline::{Bucket, Timeline, TimelineSpec};

use crate::parse::Json;
use crate::query::fields::{self, FieldRef, Value};
use crate::query::{QueryError, Span};

/// The `-o/--output` choice.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    /// Each event as its JSON text, one per line (the original bytes where there are any).
    Jsonl,
    /// A JSON array of events.
    Json,
    Table,
    Wide,
    Csv,
    Tsv,
    /// `fields=a,b`: the named fields, tab-separated, no header.
    Fields(Vec<FieldRef>),
}

impl Format {
    /// Parses the `-o` argument.
    pub fn parse(text: &str) -> Result<Format, crate::invalid::Invalid> {
        Ok(match text {
            "jsonl" | "raw" => Format::Jsonl,
            "json" => Format::Json,
            "table" => Format::Table,
            "wide" => Format::Wide,
            "csv" => Format::Csv,
            "tsv" => Format::Tsv,
            other => match other.strip_prefix("fields=") {
                Some(list) => Format::Fields(parse_field_list(list).map_err(|e| e.to_string())?),
                None => {
                    return Err(format!(
                        "unknown output format `{other}`: use jsonl, json, table, wide, csv, tsv or fields=a,b"
                    )
                    .into());
                }
            },
        })
    }
}

/// Parses `user,verb,objectRef.name` into fields (used by `fields=` and `--count-by`).
pub fn parse_field_list(list: &str) -> Result<Vec<FieldRef>, QueryError> {
    let mut offset = 0;
    let mut out = Vec::new();
    for name in list.split(',') {
        let span = Span::new(offset, offset + name.len());
        offset += name.len() + 1;
        let field = fields::resolve(name.trim(), span).map_err(|mut e| {
            e.query = list.to_string();
            e
        })?;
        out.push(field);
    }
    Ok(out)
}

/// The text of a field in an event: scalars as they are, several values (arrays) joined
/// with `,`, objects as compact JSON, missing as empty.
pub fn field_text(event: Json<'_, '_>, field: &FieldRef) -> String {
    // One string, built in place (this runs for every key field of every match).
    let mut out = String::new();
    let mut first = true;
    field.any_value(event, &mut |value| {
        if !first {
            out.push(',');
        }
        first = false;
        match value {
            Value::Text(text) => out.push_str(text),
            Value::Json(leaf) => match leaf.scalar_text() {
                Some(text) => out.push_str(&text),
                None => {
                    let mut json = Vec::new();
                    leaf.write_json(&mut json);
                    out.push_str(&String::from_utf8_lossy(&json));
                }
            },
        }
        false
    });
    out
}

/// Formats events for one output format into a block buffer.
pub struct EventWriter {
    pub format: Format,
    pub color: bool,
    /// `auditq serve`: JSON output of an event without `kind` (the items of the
    /// apiserver's webhook batches) gets `"kind":"Event","apiVersion":<this>` first, as
    /// the apiserver's log backend writes it.
    pub fill_kind: Option<String>,
    columns: Vec<table::Column>,
}

impl EventWriter {
    pub fn new(format: Format, color: bool) -> Self {
        let columns = match format {
            Format::Wide => table::wide_columns(),
            _ => table::default_columns(),
        };
        EventWriter {
            format,
            color,
            fill_kind: None,
            columns,
        }
    }

    /// The first line(s) written before any event, if the format has one.
    pub fn header(&self) -> Option<Vec<u8>> {
        let names = || self.columns.iter().map(|c| c.title);
        match self.format {
            Format::Table | Format::Wide => Some(table::header(&self.columns, self.color)),
            Format::Csv => {
                Some(format!("{}\n", names().collect::<Vec<_>>().join(",")).into_bytes())
            }
            Format::Tsv => {
                Some(format!("{}\n", names().collect::<Vec<_>>().join("\t")).into_bytes())
            }
            _ => None,
        }
    }

    /// Writes one matched event. `original` is the event's own JSON text when the input
    /// held it whole (one line), so jsonl output is byte for byte the input.
    pub fn write(&self, event: Json<'_, '_>, original: Option<&[u8]>, out: &mut Vec<u8>) {
        match &self.format {
            Format::Jsonl | Format::Json => match original {
                Some(bytes) => out.extend_from_slice(bytes),
                None => {
                    let start = out.len();
                    event.write_json(out);
                    if let Some(api_version) = &self.fill_kind
                        && event.is_object()
                        && event.get("kind").is_none()
                    {
                        let empty = out.len() == start + 2;
                        let fill = format!(
                            "\"kind\":\"Event\",\"apiVersion\":{}{}",
                            serde_json::Value::from(api_version.as_str()),
                            if empty { "" } else { "," }
                        );
                        out.splice(start + 1..start + 1, fill.into_bytes());
                    }
                }
            },
            Format::Table | Format::Wide => table::row(&self.columns, event, self.color, out),
            Format::Csv => {
                let texts = self.columns.iter().map(|c| c.text(event));
                join_cells(texts.map(|t| csv_cell(&t)), ",", out);
            }
            Format::Tsv => {
                let texts = self.columns.iter().map(|c| c.text(event));
                join_cells(texts.map(|t| tsv_cell(&t)), "\t", out);
            }
            Format::Fields(fields) => {
                let texts = fields.iter().map(|f| field_text(event, f));
                join_cells(texts.map(|t| tsv_cell(&t)), "\t", out);
            }
        }
        out.push(b'\n');
    }
}

fn join_cells(cells: impl Iterator<Item = String>, separator: &str, out: &mut Vec<u8>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.extend_from_slice(separator.as_bytes());
        }
        out.extend_from_slice(cell.as_bytes());
    }
}

fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn tsv_cell(text: &str) -> String {
    text.replace(['\t', '\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Parser;

    const EVENT: &[u8] = br#"{"kind":"Event","verb":"get","user":{"username":"a,b","groups":["g1","g2"]},"objectRef":{"resource":"pods","subresource":"exec","namespace":"ns"},"responseStatus":{"code":403},"requestReceivedTimestamp":"2026-01-05T10:00:00.123456Z"}"#;

    fn render(format: &str) -> String {
        let writer = EventWriter::new(Format::parse(format).unwrap(), false);
        let mut out = writer.header().unwrap_or_default();
        Parser::default()
            .with_parsed(EVENT, |ev| writer.write(ev, Some(EVENT), &mut out))
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn jsonl_is_the_original() {
        assert_eq!(render("jsonl").as_bytes(), [EVENT, b"\n"].concat());
    }

    #[test]
    fn fill_kind_completes_list_items_only() {
        let mut writer = EventWriter::new(Format::Jsonl, false);
        writer.fill_kind = Some("audit.k8s.io/v1".into());
        let mut out = Vec::new();
        let item = br#"{"level":"Metadata","auditID":"a"}"#;
        Parser::default()
            .with_parsed(item, |ev| writer.write(ev, None, &mut out))
            .unwrap();
        Parser::default()
            .with_parsed(EVENT, |ev| writer.write(ev, None, &mut out))
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a"}"#
        );
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with(r#"{"kind":"Event","verb""#)
        );
    }

    #[test]
    fn fields_and_csv() {
        assert_eq!(render("fields=verb,group,code,as"), "get\tg1,g2\t403\t\n");
        let csv = render("csv");
        assert!(
            csv.starts_with("TIME,VERB,USER,RESOURCE,NAMESPACE,NAME,CODE\n"),
            "{csv}"
        );
        assert!(csv.contains("\"a,b\""));
        assert!(csv.contains("pods/exec"));
        assert!(render("tsv").contains("get\ta,b\tpods/exec\tns\t\t403"));
    }

    #[test]
    fn table_has_header_and_row() {
        let text = render("table");
        let mut lines = text.lines();
        assert!(lines.next().unwrap().starts_with("TIME"));
        let row = lines.next().unwrap();
        assert!(
            row.contains("2026-01-05T10:00:00.123Z")
                && row.contains("pods/exec")
                && row.contains("403")
        );
    }

    #[test]
    fn bad_formats_are_errors() {
        assert!(Format::parse("yaml").is_err());
        assert!(
            Format::parse("fields=usr")
                .unwrap_err()
                .0
                .contains("did you mean `user`")
        );
    }
}
