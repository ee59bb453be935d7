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

use crate::syntax::{Scanner, may_continue};
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

/// For the first bytes of a line whose end has not arrived yet (`partial`, no `\n`):
/// where its JSON starts, when that is settled whatever the rest of the line is — the
/// offset of the `{` or `[` that [`classify`] will read the line's JSON from, which is
/// also where [`content`] has it start (after white space). `None` while a prefix may
/// still grow or turn out to be one (a timestamp, `[pod/…] `, a node name, a BOM, NULs),
/// and for lines that are not JSON (klog, legacy, text).
pub fn settled_json_start(partial: &[u8]) -> Option<usize> {
    // What a prefix of `partial[at..]` would leave undecided: a proper prefix of `full`.
    let unsure = |at: usize, full: &[u8]| {
        partial.len() - at < full.len() && full.starts_with(&partial[at..])
    };
    let mut at = partial.iter().position(|&b| b != 0)?;
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    if unsure(at, BOM) {
        return None;
    }
    if partial[at..].starts_with(BOM) {
        at += 3;
    }
    if unsure(at, b"[pod/") {
        return None;
    }
    if partial[at..].starts_with(b"[pod/") {
        at += memchr::memmem::find(&partial[at..], b"] ")? + 2;
    }
    if partial.get(at).is_some_and(u8::is_ascii_digit) {
        let window = &partial[at..partial.len().min(at + 48)];
        match memchr::memchr(b' ', window) {
            Some(space) if looks_like_timestamp(&window[..space]) => {
                at += space + 1;
                if unsure(at, b"AUDIT: ") || partial[at..].starts_with(b"AUDIT: ") {
                    return None;
                }
            }
            Some(_) => {}
            None if window.len() < 48 => return None,
            None => {}
        }
    }
    // No blank may come before a node name here: `content` would not strip the name.
    let body = at
        + partial[at..]
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t'))?;
    match partial[body] {
        b'{' | b'[' => Some(body),
        b if b.is_ascii_alphanumeric() && body == at => {
            let line = &partial[body..];
            if line.len() < 14 && is_klog_prefix(line) || is_klog(line) {
                return None;
            }
            let window = &line[..line.len().min(256)];
            let space = memchr::memchr(b' ', window)?;
            strip_word(line)?;
            let rest = space
                + 1
                + line[space + 1..]
                    .iter()
                    .position(|b| !matches!(b, b' ' | b'\t'))?;
            (line[rest] == b'{').then_some(body + rest)
        }
        _ => None,
    }
}

/// Whether `text`, shorter than a klog header, may still become one.
fn is_klog_prefix(text: &[u8]) -> bool {
    const SHAPE: &[u8] = b"Ldddd dd:dd:dd";
    SHAPE.iter().zip(text).all(|(s, t)| match s {
        b'L' => matches!(t, b'I' | b'W' | b'E' | b'F'),
        b'd' => t.is_ascii_digit(),
        other => other == t,
    })
}

/// Whether a line that has not ended yet (`partial`, its first bytes, without `\n`) is
/// read as invalid JSON however it ends, after the complete lines `before` (which start
/// where framing is at rest): its JSON start is settled ([`settled_json_start`]), what
/// follows can no longer become one or more JSON values ([`Scanner::sequence`]), and it
/// cannot continue the document those lines leave open, if any. `max_doc` is the
/// document limit of the framing. An over-long line is not looked at (it is reported as
/// too long instead).
pub fn line_never_valid(before: &[u8], partial: &[u8], max_doc: usize) -> bool {
    if partial.len() > max_doc {
        return false;
    }
    let Some(start) = settled_json_start(partial) else {
        return false;
    };
    // A `\r` at the end may be the line end, which is not part of the line.
    let json = strip_line_end(&partial[start..]);
    if Scanner::sequence().feed(json).is_ok() {
        return false;
    }
    let mut framer = Framer::new(max_doc);
    let mut pos = 0;
    for line in before.split_inclusive(|&b| b == b'\n') {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        framer.push(content(text), pos as u64, (pos + text.len()) as u64);
        pos += line.len();
    }
    !framer.may_continue_with(json)
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

    /// Where classify reads a line's JSON from, as an offset in `line`.
    fn json_at(line: &[u8]) -> Option<usize> {
        match classify(line) {
            Line::Json(body) => Some(body.as_ptr() as usize - line.as_ptr() as usize),
            _ => None,
        }
    }

    fn line_pieces() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just(&b"\0\0"[..]),
            Just(&b"\xEF\xBB\xBF"[..]),
            Just(&b"[pod/kube-apiserver-cp1/kube-apiserver] "[..]),
            Just(&b"[pod/x"[..]),
            Just(&b"2026-01-05T10:00:00.123456789Z "[..]),
            Just(&b"2026-01-05"[..]),
            Just(&b"node-1.example "[..]),
            Just(&b"I0105 10:00:00.000000       1 x.go:12] "[..]),
            Just(&b"AUDIT: id=\"x\""[..]),
            Just(&b"  "[..]),
            Just(&b"\t"[..]),
            Just(&b"\r"[..]),
            Just(&b"{\"kind\":\"Event\","[..]),
            Just(&b" broken"[..]),
            Just(&b"[1,"[..]),
            Just(&b"}"[..]),
            Just(&b"]"[..]),
            Just(&b"\"s\""[..]),
            Just(&b"hello"[..]),
            Just(&b" "[..]),
            Just(&b"7"[..]),
        ];
        proptest::collection::vec(piece, 0..7).prop_map(|v| v.concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// A settled JSON start is where `classify` reads the JSON of every line that
        /// begins with those bytes, and `content` starts there too (up to white space).
        #[test]
        fn a_settled_json_start_holds_for_every_ending(line in line_pieces(), ending in line_pieces()) {
            for k in 0..=line.len() {
                let partial = &line[..k];
                let Some(start) = settled_json_start(partial) else { continue };
                let opener = matches!(partial[start], b'{' | b'[');
                proptest::prop_assert!(opener);
                for tail in [&line[k..], &ending[..]] {
                    let full = [partial, tail].concat();
                    proptest::prop_assert_eq!(json_at(&full), Some(start), "{:?}", String::from_utf8_lossy(&full));
                    let c = content(&full);
                    let c_at = c.as_ptr() as usize - full.as_ptr() as usize;
                    proptest::prop_assert!(c_at <= start && full[c_at..start].iter().all(|b| matches!(b, b' ' | b'\t')),
                        "{:?}", String::from_utf8_lossy(&full));
                }
            }
        }
    }

    #[test]
    fn settled_json_starts_by_hand() {
        assert_eq!(settled_json_start(b"{\"kind\":\"Event\", broken"), Some(0));
        assert_eq!(settled_json_start(b"  ["), Some(2));
        assert_eq!(settled_json_start(b"2026-01-05T10:00:00Z {"), Some(21));
        assert_eq!(settled_json_start(b"node-1 {"), Some(7));
        // Undecided: a prefix that may grow.
        for partial in [
            &b"[pod/a"[..],
            b"[p",
            b"2026-01-05T10:00",
            b"\0",
            b"\xEF",
            b"node-1",
            b"node-1 ",
            b"",
        ] {
            assert_eq!(
                settled_json_start(partial),
                None,
                "{:?}",
                String::from_utf8_lossy(partial)
            );
        }
        // Not JSON.
        for partial in [
            &b"I0105 10:00:00.000000 1 x.go:1] {"[..],
            b"hello world",
            b"\"a\":",
            b"2026-01-05T10:00:00Z AUDIT",
        ] {
            assert_eq!(
                settled_json_start(partial),
                None,
                "{:?}",
                String::from_utf8_lossy(partial)
            );
        }
    }

    #[test]
    fn lines_that_can_never_be_valid() {
        let max = 1 << 20;
        assert!(line_never_valid(b"", b"{\"kind\":\"Event\", broken", max));
        assert!(!line_never_valid(b"", b"{\"kind\":\"Event\",", max));
        assert!(!line_never_valid(b"", b"{\"kind\":\"Ev", max));
        // Values back to back may still come.
        assert!(!line_never_valid(b"", b"{\"a\":1} {\"b\"", max));
        assert!(line_never_valid(b"", b"{\"a\":1} ]", max));
        // A line that may continue an open document is not decided.
        assert!(!line_never_valid(b"[\n", b"{\"a\":1}, {\"b\"", max));
        assert!(line_never_valid(b"[\n", b"{\"a\":1}} x", max));
        assert!(line_never_valid(
            b"{\n",
            b"{\"kind\":\"Event\", broken",
            max
        ));
        // Prefixes not settled, text, a CR that may be the line end.
        assert!(!line_never_valid(b"", b"[pod/a/b", max));
        assert!(!line_never_valid(b"", b"hello, world", max));
        assert!(line_never_valid(b"", b"{x\r", max));
        assert!(!line_never_valid(b"", b"{\"a\":1}\r", max));
        // Too long to be a document: reported as too long.
        assert!(!line_never_valid(b"", b"{x", 1));
    }
}
