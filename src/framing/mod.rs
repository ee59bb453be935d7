//! Framing: from raw lines to JSON documents.
//!
//! Real inputs are not clean JSON lines: `kubectl logs` mixes klog lines in and may prefix
//! each line with `[pod/…/container] ` and an RFC 3339 timestamp; files may start with a
//! BOM and end lines with CRLF; webhook captures hold pretty-printed EventLists; old
//! clusters wrote the legacy text format. This module recognises each shape.
//!
//! Which lines form one document is decided by [`document::Framer`]. To keep the common
//! case (one compact event per line) free of that work, lines are first grouped into
//! *regions* at hard boundaries — places no JSON document can span, such as a line ending
//! in `}` followed by one starting with `{` ([`crate::syntax::may_continue`]). A region of
//! one line is a record by itself; only longer regions go through the framer. Blocks are
//! cut only where the framer is at rest, so a record never spans two blocks.

pub mod cut;
pub mod document;
pub mod eventlist;
pub mod legacy;

use crate::syntax::may_continue;
pub use cut::Cutter;
pub use document::{Framer, Note, Record};

/// What one physical line holds, after prefixes are removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    Blank,
    /// A JSON object or array (or the first line of a pretty-printed one).
    Json(&'a [u8]),
    /// A legacy-format audit line: the text from its own timestamp on.
    Legacy(&'a [u8]),
    /// A klog line (`I0105 10:00:00.000000 1 file.go:12] …`).
    Klog,
    /// Anything else: YAML, free text, a JSON scalar.
    Other,
}

/// Why a line or document was not an event; counted for `--stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    Blank,
    Klog,
    NotJson,
    InvalidJson,
    NotAnEvent,
    TooLong,
}

impl Skip {
    pub const ALL: [Skip; 6] = [
        Skip::Blank,
        Skip::Klog,
        Skip::NotJson,
        Skip::InvalidJson,
        Skip::NotAnEvent,
        Skip::TooLong,
    ];

    /// The short name used in the `--stats` report.
    pub fn short_label(self) -> &'static str {
        match self {
            Skip::Blank => "blank",
            Skip::Klog => "klog",
            Skip::NotJson => "not-json",
            Skip::InvalidJson => "invalid",
            Skip::NotAnEvent => "non-event",
            Skip::TooLong => "too-long",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Skip::Blank => "blank",
            Skip::Klog => "klog",
            Skip::NotJson => "not JSON",
            Skip::InvalidJson => "invalid JSON",
            Skip::NotAnEvent => "JSON but not an audit event",
            Skip::TooLong => "longer than --max-line-bytes",
        }
    }
}

/// Classifies one line (without its `\n`).
pub fn classify(line: &[u8]) -> Line<'_> {
    let line = strip_nuls(strip_line_end(line));
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    let line = strip_pod_prefix(line);
    let with_timestamp = line;
    let (line, had_timestamp) = match strip_timestamp(line) {
        Some(rest) => (rest, true),
        None => (line, false),
    };
    if had_timestamp && line.starts_with(b"AUDIT: ") {
        return Line::Legacy(with_timestamp);
    }
    let body = trim_start(line);
    match body.first() {
        None => Line::Blank,
        Some(b'{' | b'[') => Line::Json(body),
        Some(_) if is_klog(body) => klog_legacy(body).map_or(Line::Klog, Line::Legacy),
        Some(_) => match strip_word_prefix(body) {
            Some(json) => Line::Json(json),
            None => match strip_word(body) {
                // `oc adm node-logs` of a legacy log: the node name, then the line.
                Some(rest) if strip_timestamp(rest).is_some_and(|r| r.starts_with(b"AUDIT: ")) => {
                    Line::Legacy(rest)
                }
                _ => legacy_without_timestamp(line),
            },
        },
    }
}

/// A klog line that wraps a legacy audit line (`I0612 10:00:00.000000 1 audit.go:45]
/// 2017-06-12T10:00:00Z AUDIT: id=…`): the legacy text from its timestamp on.
fn klog_legacy(line: &[u8]) -> Option<&[u8]> {
    let end = memchr::memmem::find(&line[..line.len().min(256)], b"] ")?;
    let rest = &line[end + 2..];
    strip_timestamp(rest)
        .is_some_and(|r| r.starts_with(b"AUDIT: "))
        .then_some(rest)
}

/// One word of name characters and the blanks after it (`ip-10-0-1-2.ec2.internal `,
/// `kube-apiserver-audit-0a1b2c `): the node name `oc adm node-logs` puts before each
/// line, the log stream `aws logs tail` puts after the time. Returns the rest.
fn strip_word(line: &[u8]) -> Option<&[u8]> {
    if !line.first().is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    let space = memchr::memchr(b' ', &line[..line.len().min(256)])?;
    let word_ok = line[..space].iter().all(|&b| {
        b.is_ascii_alphanumeric()
            || matches!(b, b'.' | b'-' | b'_' | b':' | b'/' | b'$' | b'[' | b']')
    });
    word_ok.then(|| trim_start(&line[space + 1..]))
}

/// [`strip_word`] when a JSON object follows the word.
fn strip_word_prefix(line: &[u8]) -> Option<&[u8]> {
    strip_word(line).filter(|rest| rest.first() == Some(&b'{'))
}

/// The part of a line that may be JSON: without a BOM, a `kubectl logs --prefix` or
/// `--timestamps` prefix, and a trailing `\r`. (Continuation lines of a pretty-printed
/// document get the same treatment: no valid JSON line starts with such a prefix.)
pub fn content(line: &[u8]) -> &[u8] {
    let line = strip_nuls(strip_line_end(line));
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    let line = strip_pod_prefix(line);
    let line = strip_timestamp(line).unwrap_or(line);
    match line.first() {
        Some(b) if b.is_ascii_alphanumeric() => strip_word_prefix(line).unwrap_or(line),
        _ => line,
    }
}

/// Whether no JSON document can span the end of a line with content `prev` and the start
/// of one with content `next` (both not blank).
pub fn hard_boundary(prev: &[u8], next: &[u8]) -> bool {
    match (
        document::last_significant(prev),
        document::first_significant(next),
    ) {
        (Some(tail), Some(head)) => !may_continue(tail, head),
        _ => false,
    }
}

/// Whether a line's content is blank (JSON white space only).
pub fn is_blank(content: &[u8]) -> bool {
    document::first_significant(content).is_none()
}

/// `kubectl logs --timestamps` output of a legacy line keeps the legacy line's own
/// timestamp after the kubelet's; find the `AUDIT: ` marker after one timestamp.
fn legacy_without_timestamp(line: &[u8]) -> Line<'_> {
    match line.iter().position(|&b| b == b' ') {
        Some(space)
            if looks_like_timestamp(&line[..space])
                && line[space + 1..].starts_with(b"AUDIT: ") =>
        {
            Line::Legacy(line)
        }
        _ => Line::Other,
    }
}

/// Removes NUL bytes at the start of a line: the sparse hole a writer without `O_APPEND`
/// leaves after copytruncate. (Follow mode warns about them.)
fn strip_nuls(line: &[u8]) -> &[u8] {
    match line.first() {
        Some(0) => &line[line.iter().position(|&b| b != 0).unwrap_or(line.len())..],
        _ => line,
    }
}

/// Removes a trailing `\r` (CRLF files).
pub fn strip_line_end(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_start(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(line.len());
    &line[start..]
}

/// `kubectl logs --prefix`: `[pod/name/container] `.
fn strip_pod_prefix(line: &[u8]) -> &[u8] {
    if !line.starts_with(b"[pod/") {
        return line;
    }
    match memchr::memmem::find(line, b"] ") {
        Some(end) => &line[end + 2..],
        None => line,
    }
}

/// `kubectl logs --timestamps`: an RFC 3339 time and one space. Also the timestamp that
/// starts a legacy line. Returns the rest of the line.
fn strip_timestamp(line: &[u8]) -> Option<&[u8]> {
    if !line.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let space = memchr::memchr(b' ', &line[..line.len().min(48)])?;
    looks_like_timestamp(&line[..space]).then(|| &line[space + 1..])
}

/// `2026-01-05T10:00:00…`: date, `T`, time; the rest (fraction, zone) is not checked.
fn looks_like_timestamp(text: &[u8]) -> bool {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd";
    text.len() >= SHAPE.len()
        && SHAPE.iter().zip(text).all(|(s, t)| match s {
            b'd' => t.is_ascii_digit(),
            other => other == t,
        })
}

/// klog header: `Lmmdd hh:mm:ss` with L one of I, W, E, F.
fn is_klog(line: &[u8]) -> bool {
    const SHAPE: &[u8] = b"Ldddd dd:dd:dd";
    line.len() >= SHAPE.len()
        && SHAPE.iter().zip(line).all(|(s, t)| match s {
            b'L' => matches!(t, b'I' | b'W' | b'E' | b'F'),
            b'd' => t.is_ascii_digit(),
            other => other == t,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_json_and_blank() {
        assert_eq!(classify(b"{\"a\":1}"), Line::Json(b"{\"a\":1}"));
        assert_eq!(classify(b"{\"a\":1}\r"), Line::Json(b"{\"a\":1}"));
        assert_eq!(classify(b"\xEF\xBB\xBF{}"), Line::Json(b"{}"));
        assert_eq!(classify(b""), Line::Blank);
        assert_eq!(classify(b"  \r"), Line::Blank);
    }

    #[test]
    fn kubectl_prefixes() {
        assert_eq!(
            classify(b"2026-01-05T10:00:00.123456789Z {\"a\":1}"),
            Line::Json(b"{\"a\":1}")
        );
        assert_eq!(
            classify(b"[pod/kube-apiserver-cp1/kube-apiserver] {\"a\":1}"),
            Line::Json(b"{\"a\":1}")
        );
        assert_eq!(
            classify(b"[pod/kube-apiserver-cp1/kube-apiserver] 2026-01-05T10:00:00+02:00 {}"),
            Line::Json(b"{}")
        );
        assert_eq!(
            classify(b"2026-01-05T10:00:00.123456789Z I0105 10:00:00.000000       1 x.go:12] hi"),
            Line::Klog
        );
    }

    #[test]
    fn klog_legacy_and_other() {
        assert_eq!(
            classify(b"I0105 10:00:00.000000       1 x.go:12] msg"),
            Line::Klog
        );
        assert_eq!(
            classify(b"E0317 09:15:55.998046 1 audit.go:126] AUDIT: id=\"x\""),
            Line::Klog
        );
        let legacy = b"2017-06-15T21:50:50.259470834Z AUDIT: id=\"x\" method=\"get\"";
        assert_eq!(classify(legacy), Line::Legacy(legacy));
        let both = b"2026-01-05T10:00:00.1Z 2017-06-15T21:50:50Z AUDIT: id=\"x\"";
        assert_eq!(classify(both), Line::Legacy(&both[23..]));
        assert_eq!(classify(b"kind: Event"), Line::Other);
        assert_eq!(classify(b"\"str\""), Line::Other);
        assert_eq!(classify(b"2026-01-05T10:00:00Z"), Line::Other);
    }

    #[test]
    fn node_names_streams_and_wrapped_legacy_lines() {
        let json = b"{\"kind\":\"Event\"}";
        let node = [b"master-0.example.com ".as_slice(), json].concat();
        assert_eq!(classify(&node), Line::Json(json));
        assert_eq!(content(&node), json);
        let tail = [
            b"2024-05-01T10:00:00.123000+00:00 kube-apiserver-audit-0a1b2c ".as_slice(),
            json,
        ]
        .concat();
        assert_eq!(classify(&tail), Line::Json(json));
        let klog = b"I0612 10:00:00.123456 1 audit.go:45] 2017-06-12T10:00:00.1Z AUDIT: id=\"x\"";
        assert_eq!(classify(klog), Line::Legacy(&klog[37..]));
        let node_legacy = b"node-1 2017-06-12T10:00:00.1Z AUDIT: id=\"x\"";
        assert_eq!(classify(node_legacy), Line::Legacy(&node_legacy[7..]));
        assert_eq!(classify(b"hello world"), Line::Other);
        assert_eq!(classify(b"true {"), Line::Json(b"{"));
    }

    #[test]
    fn content_and_boundaries() {
        assert_eq!(content(b"\xEF\xBB\xBF{}\r"), b"{}");
        assert_eq!(content(b"2026-01-05T10:00:00Z   \"a\": 1,"), b"  \"a\": 1,");
        assert_eq!(content(b"[pod/a/b] }"), b"}");
        assert!(hard_boundary(b"{\"a\":1}", b"{\"b\":2}"));
        assert!(hard_boundary(b"I0105 10:00:00.000 1 x.go:1] hi", b"{"));
        assert!(!hard_boundary(b"{", b"  \"kind\": \"Event\","));
        assert!(!hard_boundary(b"  }", b"]"));
        assert!(is_blank(b" \t\r"));
    }
}
