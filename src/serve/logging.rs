//! The log lines of `auditq serve` on stderr: `tracing` events (structured fields),
//! written one a line by [`Lines`], a `tracing-subscriber` layer, as logfmt
//! (`auditq: level=info msg="…" key=value …`, the default) or JSON
//! (`{"level":"info","msg":"…","key":"value",…}`, `--log-format json`).
//!
//! Only auditq's own events at `info` and above are written (not those of its
//! dependencies, such as h2's debug events).

use std::fmt::{self, Write as _};
use std::io::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// `--log-format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `auditq: level=info msg="…" key=value …`
    #[default]
    Logfmt,
    /// One JSON object a line: `{"level":"info","msg":"…","key":"value",…}`
    Json,
}

/// Installs the process-wide subscriber that writes serve's events in `format`. A second
/// call (a subscriber is installed already) changes nothing.
pub fn init(format: LogFormat) {
    let subscriber = tracing_subscriber::registry().with(Lines { format });
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Writes each event as one line on stderr.
#[derive(Debug, Clone, Copy)]
pub struct Lines {
    pub format: LogFormat,
}

impl Lines {
    fn wants(metadata: &Metadata<'_>) -> bool {
        metadata.is_event()
            && *metadata.level() <= Level::INFO
            && (metadata.target() == "auditq" || metadata.target().starts_with("auditq::"))
    }

    /// The line (with its newline) of an event at `level` with `fields`.
    pub fn render(&self, level: &Level, fields: &Fields) -> String {
        let level = match *level {
            Level::ERROR => "error",
            Level::WARN => "warn",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        let mut line = String::new();
        match self.format {
            LogFormat::Logfmt => {
                let _ = write!(line, "auditq: level={level} msg={}", quote(&fields.message));
                for (key, value) in &fields.pairs {
                    let text = match value {
                        Value::Text(text) | Value::Number(text) => text.as_str(),
                        Value::Bool(true) => "true",
                        Value::Bool(false) => "false",
                    };
                    let _ = write!(line, " {key}={}", quote(text));
                }
            }
            LogFormat::Json => {
                let _ = write!(
                    line,
                    "{{\"level\":\"{level}\",\"msg\":{}",
                    serde_json::Value::from(fields.message.as_str())
                );
                for (key, value) in &fields.pairs {
                    let value = match value {
                        Value::Text(text) => serde_json::Value::from(text.as_str()).to_string(),
                        Value::Number(text) => text.clone(),
                        Value::Bool(b) => b.to_string(),
                    };
                    let _ = write!(line, ",{}:{value}", serde_json::Value::from(*key));
                }
                line.push('}');
            }
        }
        line.push('\n');
        line
    }
}

impl<S: Subscriber> Layer<S> for Lines {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if Lines::wants(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        Lines::wants(metadata)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let line = self.render(event.metadata().level(), &fields);
        let _ = io::stderr().lock().write_all(line.as_bytes());
    }
}

/// A field's value: numbers stay numbers in JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Number(String),
    Bool(bool),
}

/// An event's message and its other fields, in the order they were given.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Fields {
    pub message: String,
    pub pairs: Vec<(&'static str, Value)>,
}

impl Fields {
    fn push(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = match value {
                Value::Text(text) | Value::Number(text) => text,
                Value::Bool(b) => b.to_string(),
            };
        } else {
            self.pairs.push((field.name(), value));
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::Text(value.to_string()));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::Number(value.to_string()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::Number(value.to_string()));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        let value = if value.is_finite() {
            Value::Number(value.to_string())
        } else {
            Value::Text(value.to_string())
        };
        self.push(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, Value::Text(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%x` fields and the message arrive here: their Debug is their Display.
        self.push(field, Value::Text(format!("{value:?}")));
    }
}

/// A logfmt value: as it is when it is one word of printable ASCII without `"` or `=`,
/// else a JSON string.
fn quote(value: &str) -> String {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'=')
    {
        value.to_string()
    } else {
        serde_json::Value::from(value).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Fields {
            message: "request refused".into(),
            pairs: vec![
                ("source", Value::Text("127.0.0.1".into())),
                ("detail", Value::Text("a \"b\" = c".into())),
                ("count", Value::Number("3".into())),
                ("empty", Value::Text(String::new())),
                ("ok", Value::Bool(true)),
            ],
        }
    }

    #[test]
    fn logfmt_lines_quote_what_needs_it() {
        let line = Lines {
            format: LogFormat::Logfmt,
        }
        .render(&Level::WARN, &fields());
        assert_eq!(
            line,
            "auditq: level=warn msg=\"request refused\" source=127.0.0.1 detail=\"a \\\"b\\\" = c\" count=3 empty=\"\" ok=true\n"
        );
    }

    #[test]
    fn json_lines_are_json_with_typed_values() {
        let line = Lines {
            format: LogFormat::Json,
        }
        .render(&Level::INFO, &fields());
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"level": "info", "msg": "request refused", "source": "127.0.0.1",
                "detail": "a \"b\" = c", "count": 3, "empty": "", "ok": true})
        );
    }
}
