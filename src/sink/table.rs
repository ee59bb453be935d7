//! The human table: fixed-width columns, so rows can be printed as they stream in.

use super::field_text;
use crate::parse::Json;
use crate::query::Span;
use crate::query::fields::{self, FieldRef};
use crate::timefmt;
use anstyle::{AnsiColor, Style};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// One table column: a title, a width (0 = as wide as needed: the last column) and how
/// to get its text from an event.
pub struct Column {
    pub title: &'static str,
    width: usize,
    source: Source,
}

enum Source {
    Field(FieldRef),
    /// The user, service accounts shortened.
    ShortUser(FieldRef),
    Time,
    Resource,
}

fn field(name: &str) -> Source {
    let resolved = fields::resolve(name, Span::default());
    Source::Field(resolved.unwrap_or_else(|_| unreachable_field(name)))
}

/// Column names are constants checked by the tests, so resolution cannot fail.
fn unreachable_field(name: &str) -> FieldRef {
    FieldRef {
        name: name.to_string(),
        paths: vec![vec![name.to_string()]],
        computed: None,
    }
}

fn column(title: &'static str, width: usize, source: Source) -> Column {
    Column {
        title,
        width,
        source,
    }
}

pub fn default_columns() -> Vec<Column> {
    vec![
        column("TIME", 24, Source::Time),
        column("VERB", 10, field("verb")),
        column("USER", 40, short_user_field()),
        column("RESOURCE", 24, Source::Resource),
        column("NAMESPACE", 16, field("ns")),
        column("NAME", 32, field("name")),
        column("CODE", 0, field("code")),
    ]
}

fn short_user_field() -> Source {
    match field("user") {
        Source::Field(f) => Source::ShortUser(f),
        other => other,
    }
}

pub fn wide_columns() -> Vec<Column> {
    let mut columns = default_columns();
    if let Some(user) = columns.iter_mut().find(|c| c.title == "USER") {
        user.source = field("user");
    }
    if let Some(code) = columns.last_mut() {
        code.width = 4;
    }
    columns.extend([
        column("STAGE", 16, field("stage")),
        column("IP", 15, field("ip")),
        column("DECISION", 8, field("decision")),
        column("USER-AGENT", 28, field("ua")),
        column("AUDIT-ID", 36, field("auditid")),
        column("URI", 0, field("uri")),
    ]);
    columns
}

impl Column {
    pub fn text(&self, event: Json<'_, '_>) -> String {
        match &self.source {
            Source::Field(f) => field_text(event, f),
            Source::ShortUser(f) => short_user(&field_text(event, f)).into_owned(),
            Source::Time => event
                .get("requestReceivedTimestamp")
                .or_else(|| event.get("timestamp"))
                .and_then(|t| t.as_str())
                .map(|t| match timefmt::parse_timestamp(t) {
                    Some(nanos) => timefmt::format_nanos(nanos),
                    None => t.to_string(),
                })
                .unwrap_or_default(),
            Source::Resource => fields::resource_path_text(event).unwrap_or_default(),
        }
    }

    fn style(&self, text: &str) -> Style {
        match self.title {
            "VERB" => match text {
                "delete" | "deletecollection" => AnsiColor::Red.on_default().bold(),
                "create" | "update" | "patch" => AnsiColor::Yellow.on_default(),
                _ => Style::new(),
            },
            "CODE" => match text.parse::<u16>() {
                Ok(c) if c >= 400 => AnsiColor::Red.on_default().bold(),
                Ok(_) => AnsiColor::Green.on_default(),
                Err(_) => Style::new(),
            },
            "USER" => AnsiColor::Cyan.on_default(),
            "TIME" => Style::new().dimmed(),
            _ => Style::new(),
        }
    }
}

pub fn header(columns: &[Column], color: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let style = if color {
        Style::new().bold()
    } else {
        Style::new()
    };
    for (i, c) in columns.iter().enumerate() {
        cell(&mut out, c.title, c.width, style, i + 1 == columns.len());
    }
    out.push(b'\n');
    out
}

pub fn row(columns: &[Column], event: Json<'_, '_>, color: bool, out: &mut Vec<u8>) {
    for (i, c) in columns.iter().enumerate() {
        let text = c.text(event);
        let style = if color { c.style(&text) } else { Style::new() };
        cell(out, &text, c.width, style, i + 1 == columns.len());
    }
}

/// Pads or truncates (with `…`) to the column width, counting display width (a CJK
/// character or an emoji takes two columns); the last column is never padded.
fn cell(out: &mut Vec<u8>, text: &str, width: usize, style: Style, last: bool) {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let shown = if width > 0 && text.width() > width {
        let mut cut = String::new();
        let mut used = 0;
        for c in text.chars() {
            let w = c.width().unwrap_or(0);
            if used + w > width.saturating_sub(1) {
                break;
            }
            used += w;
            cut.push(c);
        }
        cut.push('…');
        cut
    } else {
        text
    };
    out.extend_from_slice(format!("{}{shown}{}", style.render(), style.render_reset()).as_bytes());
    if !last {
        let padding = width.saturating_sub(shown.width()) + 2;
        out.extend(std::iter::repeat_n(b' ', padding));
    }
}

/// `system:serviceaccount:NS:NAME` as `sa:NS/NAME`, for the narrow table (wide and
/// machine formats keep the full name).
pub fn short_user(user: &str) -> std::borrow::Cow<'_, str> {
    match user
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
    {
        Some((ns, name)) => format!("sa:{ns}/{name}").into(),
        None => user.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_accounts_are_shortened() {
        assert_eq!(
            short_user("system:serviceaccount:cert-manager:cert-manager"),
            "sa:cert-manager/cert-manager"
        );
        assert_eq!(short_user("system:node:cp1"), "system:node:cp1");
        assert_eq!(short_user("alice"), "alice");
    }

    #[test]
    fn cells_count_display_width() {
        let mut out = Vec::new();
        cell(&mut out, "日本語", 10, Style::new(), false);
        assert_eq!(String::from_utf8(out).unwrap().width(), 12);
        let mut out = Vec::new();
        cell(&mut out, "日本語日本語日本語", 7, Style::new(), false);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.width(), 9, "{text:?}");
        assert!(text.starts_with("日本語…"));
    }
}
