//! JSON parsing with simd-json into a reusable tape, and a small read-only view over it.
//!
//! The tape (a flat array of nodes) is cheaper than a tree of maps: an audit event is
//! parsed once and only the few fields the query names are looked up.
//!
//! What counts as valid JSON is what Go's `encoding/json` (kube-apiserver and every Go
//! consumer) accepts, within kube-apiserver's nesting limit:
//! - numbers of any size (beyond f64 they read as ±1.7976931348623157e308, like jq);
//! - unpaired surrogate escapes and invalid UTF-8 in strings read as U+FFFD;
//! - a repeated key: the last one counts;
//! - nesting deeper than [`MAX_DEPTH`] is invalid (Go refuses it too).
//!
//! Every walk over a value ([`Json::write_json`], [`Json::walk_path`]) is iterative, so no
//! input can exhaust the native stack.

use crate::syntax;
use simd_json::{Buffers, Node, StaticNode, Tape};
use std::borrow::Cow;

/// The deepest nesting accepted: Go's `encoding/json` (and so kube-apiserver) refuses
/// deeper documents with "exceeded max depth".
pub const MAX_DEPTH: usize = crate::limits::MAX_DEPTH;

/// Why a document was not parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Not JSON.
    Syntax,
    /// Valid JSON nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// Parses documents one at a time, reusing all buffers between calls.
pub struct Parser {
    buffers: Buffers,
    scratch: Vec<u8>,
    tape: Option<Tape<'static>>,
}

impl Default for Parser {
    fn default() -> Self {
        Parser {
            buffers: Buffers::new(4096),
            scratch: Vec::with_capacity(4096),
            tape: Some(Tape::null().reset()),
        }
    }
}

impl Parser {
    /// Parses `bytes` (copied first: simd-json unescapes in place and the original bytes
    /// are still needed for output) and hands the root value to `f`.
    pub fn with_parsed<R>(
        &mut self,
        bytes: &[u8],
        f: impl FnOnce(Json<'_, '_>) -> R,
    ) -> Result<R, ParseError> {
        let mut f = Some(f);
        self.scratch.clear();
        let repaired_first = syntax::has_surrogate_escape(bytes);
        if repaired_first {
            self.scratch
                .extend_from_slice(&syntax::repair(bytes).ok_or(ParseError::Syntax)?);
        } else {
            self.scratch.extend_from_slice(bytes);
        }
        let tape = self.tape.take().unwrap_or_else(Tape::null).reset();
        let (tape, outcome) = parse_into(&mut self.scratch, &mut self.buffers, tape, &mut f);
        self.tape = Some(tape);
        if let Some(result) = outcome {
            return result;
        }
        if repaired_first {
            return Err(ParseError::Syntax);
        }
        // simd-json refuses some valid JSON (numbers beyond 64 bits or f64, surrogate and
        // UTF-8 problems Go reads as U+FFFD): repair and try once more.
        let fixed = syntax::repair(bytes).ok_or(ParseError::Syntax)?;
        self.scratch.clear();
        self.scratch.extend_from_slice(&fixed);
        let tape = self.tape.take().unwrap_or_else(Tape::null).reset();
        let (tape, outcome) = parse_into(&mut self.scratch, &mut self.buffers, tape, &mut f);
        self.tape = Some(tape);
        outcome.unwrap_or(Err(ParseError::Syntax))
    }
}

/// Parses `input` into `tape` and hands the root to `f` (taken from its option). Returns
/// the tape for reuse and the result, or `None` when simd-json refused the input.
#[allow(clippy::type_complexity)]
fn parse_into<R, F: FnOnce(Json<'_, '_>) -> R>(
    input: &mut [u8],
    buffers: &mut Buffers,
    tape: Tape<'static>,
    f: &mut Option<F>,
) -> (Tape<'static>, Option<Result<R, ParseError>>) {
    let mut tape: Tape<'_> = tape.reset();
    let outcome = match simd_json::fill_tape(input, buffers, &mut tape) {
        Err(_) => None,
        Ok(()) if depth_exceeds(&tape.0, MAX_DEPTH) => Some(Err(ParseError::TooDeep)),
        Ok(()) => f.take().map(|f| Ok(f(Json::root(&tape)))),
    };
    (tape.reset(), outcome)
}

/// Whether the nesting of a tape goes deeper than `limit`. A tape with at most `limit`
/// nodes cannot, so the common case costs nothing.
fn depth_exceeds(nodes: &[Node<'_>], limit: usize) -> bool {
    if nodes.len() <= limit {
        return false;
    }
    // Ends (exclusive node index) of the containers enclosing the current node.
    let mut ends: Vec<usize> = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        while ends.last().is_some_and(|&end| end <= i) {
            ends.pop();
        }
        if let Node::Object { count, .. } | Node::Array { count, .. } = node {
            ends.push(i + 1 + count);
            if ends.len() > limit {
                return true;
            }
        }
    }
    false
}

/// A value inside a parsed tape.
#[derive(Clone, Copy)]
pub struct Json<'t, 'i> {
    nodes: &'t [Node<'i>],
}

fn node_len(node: &Node<'_>) -> usize {
    match node {
        Node::Object { count, .. } | Node::Array { count, .. } => count + 1,
        _ => 1,
    }
}

impl<'t, 'i> Json<'t, 'i> {
    fn root(tape: &'t Tape<'i>) -> Self {
        let nodes = &tape.0[..];
        let len = nodes.first().map(node_len).unwrap_or(0);
        Json {
            nodes: &nodes[..len.min(nodes.len())],
        }
    }

    fn at(nodes: &'t [Node<'i>], index: usize) -> Option<(Self, usize)> {
        let len = node_len(nodes.get(index)?);
        let end = index.checked_add(len)?.min(nodes.len());
        Some((
            Json {
                nodes: &nodes[index..end],
            },
            end,
        ))
    }

    fn first(&self) -> Option<&Node<'i>> {
        self.nodes.first()
    }

    pub fn is_object(&self) -> bool {
        matches!(self.first(), Some(Node::Object { .. }))
    }

    pub fn is_array(&self) -> bool {
        matches!(self.first(), Some(Node::Array { .. }))
    }

    pub fn as_str(&self) -> Option<&'i str> {
        match self.first()? {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_static(&self) -> Option<StaticNode> {
        match self.first()? {
            Node::Static(s) => Some(*s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self.as_static()? {
            StaticNode::I64(n) => Some(n as f64),
            StaticNode::U64(n) => Some(n as f64),
            StaticNode::F64(n) => Some(n),
            _ => None,
        }
    }

    /// A member of an object, or `None` for a missing key or a non-object. When a key is
    /// repeated, the last one counts, as in Go's `encoding/json` and jq.
    pub fn get(&self, key: &str) -> Option<Json<'t, 'i>> {
        let nodes = self.nodes;
        let Some(Node::Object { len, .. }) = nodes.first() else {
            return None;
        };
        let mut index = 1;
        let mut found = None;
        for _ in 0..*len {
            let Some(Node::String(k)) = nodes.get(index) else {
                break;
            };
            let Some(value) = nodes.get(index + 1) else {
                break;
            };
            let end = (index + 1 + node_len(value)).min(nodes.len());
            if *k == key {
                found = Some((index + 1, end));
            }
            index = end;
        }
        found.map(|(start, end)| Json {
            nodes: &nodes[start..end],
        })
    }

    /// The key/value pairs of an object (empty for other values), repeated keys included.
    pub fn entries(&self) -> impl Iterator<Item = (&'i str, Json<'t, 'i>)> + 't {
        let nodes = self.nodes;
        let mut remaining = match nodes.first() {
            Some(Node::Object { len, .. }) => *len,
            _ => 0,
        };
        let mut index = 1;
        std::iter::from_fn(move || {
            if remaining == 0 {
                return None;
            }
            remaining -= 1;
            let Some(Node::String(key)) = nodes.get(index) else {
                remaining = 0;
                return None;
            };
            let (value, next) = Json::at(nodes, index + 1)?;
            index = next;
            Some((*key, value))
        })
    }

    /// The elements of an array (empty for other values).
    pub fn elements(&self) -> impl Iterator<Item = Json<'t, 'i>> + 't {
        let nodes = self.nodes;
        let mut remaining = match nodes.first() {
            Some(Node::Array { len, .. }) => *len,
            _ => 0,
        };
        let mut index = 1;
        std::iter::from_fn(move || {
            if remaining == 0 {
                return None;
            }
            remaining -= 1;
            let (value, next) = Json::at(nodes, index)?;
            index = next;
            Some(value)
        })
    }

    /// The text a scalar compares as: strings as they are, `true`/`false`/`null`, numbers
    /// as Go's `encoding/json` writes them (see [`number_text`]). Objects and arrays have none.
    pub fn scalar_text(&self) -> Option<Cow<'i, str>> {
        match self.first()? {
            Node::String(s) => Some(Cow::Borrowed(s)),
            Node::Static(s) => Some(Cow::Owned(static_text(*s))),
            _ => None,
        }
    }

    /// Walks `path` from this value, fanning out over arrays met on the way and at the
    /// end, and calls `visit` on every value reached, in document order, until it
    /// returns true. Returns whether it did. Iterative: depth costs heap, not stack.
    pub fn walk_path(self, path: &[String], visit: &mut dyn FnMut(Json<'t, 'i>) -> bool) -> bool {
        // The common case, no array on the way: no allocation.
        let mut value = self;
        let mut depth = 0;
        while !value.is_array() {
            match path.get(depth) {
                None => return visit(value),
                Some(key) => match value.get(key) {
                    Some(child) => {
                        value = child;
                        depth += 1;
                    }
                    None => return false,
                },
            }
        }
        let mut stack: Vec<(Json<'t, 'i>, usize)> = vec![(value, depth)];
        let mut children = Vec::new();
        while let Some((value, depth)) = stack.pop() {
            if value.is_array() {
                children.clear();
                children.extend(value.elements());
                stack.extend(children.drain(..).rev().map(|c| (c, depth)));
                continue;
            }
            match path.get(depth) {
                None => {
                    if visit(value) {
                        return true;
                    }
                }
                Some(key) => {
                    if let Some(child) = value.get(key) {
                        stack.push((child, depth + 1));
                    }
                }
            }
        }
        false
    }

    /// Writes this value as compact JSON (iteratively: any depth is safe).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        struct Frame {
            object: bool,
            remaining: usize,
            expect_key: bool,
        }
        let mut stack: Vec<Frame> = Vec::new();
        if self.nodes.is_empty() {
            out.extend_from_slice(b"null");
            return;
        }
        for node in self.nodes {
            if let Some(top) = stack.last_mut()
                && top.object
                && top.expect_key
            {
                if let Node::String(key) = node {
                    write_json_string(key, out);
                    out.push(b':');
                }
                top.expect_key = false;
                continue;
            }
            let complete = match node {
                Node::String(s) => {
                    write_json_string(s, out);
                    true
                }
                Node::Static(s) => {
                    out.extend_from_slice(static_text(*s).as_bytes());
                    true
                }
                Node::Object { len, .. } | Node::Array { len, .. } => {
                    let object = matches!(node, Node::Object { .. });
                    out.push(if object { b'{' } else { b'[' });
                    if *len == 0 {
                        out.push(if object { b'}' } else { b']' });
                        true
                    } else {
                        stack.push(Frame {
                            object,
                            remaining: *len,
                            expect_key: object,
                        });
                        false
                    }
                }
            };
            if !complete {
                continue;
            }
            // A value ended: close every container it completes, or write a separator.
            while let Some(top) = stack.last_mut() {
                top.remaining -= 1;
                if top.remaining > 0 {
                    out.push(b',');
                    top.expect_key = top.object;
                    break;
                }
                out.push(if top.object { b'}' } else { b']' });
                stack.pop();
            }
        }
    }
}

fn static_text(node: StaticNode) -> String {
    match node {
        StaticNode::I64(n) => n.to_string(),
        StaticNode::U64(n) => n.to_string(),
        StaticNode::F64(n) => number_text(n),
        StaticNode::Bool(b) => b.to_string(),
        StaticNode::Null => "null".to_string(),
    }
}

/// A number as Go's `encoding/json` writes a float64 (the shortest text that reads back
/// as the same value; exponent form below 1e-6 and from 1e21 on, as `1e+21`, `1e-7`).
/// One difference: zero is always `0`, because simd-json reads `-0` as the integer 0.
pub fn number_text(n: f64) -> String {
    if n == 0.0 {
        return "0".to_string();
    }
    let abs = n.abs();
    if (1e-6..1e21).contains(&abs) {
        return format!("{n}");
    }
    let text = format!("{n:e}");
    match text.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
        _ => text,
    }
}

/// Writes `s` as a JSON string literal, escaping what JSON requires.
pub fn write_json_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compact(line: &[u8]) -> String {
        let out = Parser::default()
            .with_parsed(line, |root| {
                let mut out = Vec::new();
                root.write_json(&mut out);
                out
            })
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn navigates_objects_and_arrays() {
        let mut parser = Parser::default();
        let line = br#"{"a":{"b":[1,{"c":"x"},true]},"d":"\u0064elete","e":null}"#;
        parser
            .with_parsed(line, |root| {
                let b = root.get("a").unwrap().get("b").unwrap();
                let items: Vec<_> = b.elements().collect();
                assert_eq!(items.len(), 3);
                assert_eq!(items[1].get("c").unwrap().as_str(), Some("x"));
                assert_eq!(items[2].scalar_text().unwrap(), "true");
                assert_eq!(root.get("d").unwrap().as_str(), Some("delete"));
                assert!(root.get("missing").is_none());
                assert_eq!(root.get("e").unwrap().scalar_text().unwrap(), "null");
            })
            .unwrap();
    }

    #[test]
    fn round_trips_compact_json() {
        let line = r#"{"a":"q\"b\\n\n","n":[1,-2,2.5,[],{},[[1],{"x":[]}]],"o":{}}"#;
        assert_eq!(compact(line.as_bytes()), line);
        assert_eq!(compact(b"[]"), "[]");
        assert_eq!(compact(b"\"s\""), "\"s\"");
    }

    #[test]
    fn invalid_json_is_an_error_and_parser_is_reusable() {
        let mut parser = Parser::default();
        assert_eq!(
            parser.with_parsed(b"{\"a\":", |_| ()),
            Err(ParseError::Syntax)
        );
        assert!(parser.with_parsed(b"\xff\xfe", |_| ()).is_err());
        assert!(parser.with_parsed(b"{\"a\":1}", |_| ()).is_ok());
    }

    #[test]
    fn last_duplicate_key_wins() {
        Parser::default()
            .with_parsed(br#"{"verb":"get","v\u0065rb":"delete"}"#, |root| {
                assert_eq!(root.get("verb").unwrap().as_str(), Some("delete"));
            })
            .unwrap();
    }

    #[test]
    fn big_numbers_surrogates_and_bad_utf8_keep_the_event() {
        assert_eq!(
            compact(br#"{"a":-9223372036854775809,"b":1e400,"c":18446744073709551616}"#),
            r#"{"a":-9223372036854776000,"b":1.7976931348623157e+308,"c":18446744073709552000}"#
        );
        assert_eq!(
            compact(br#"["\ud800","x\udc00","\ud800\u0041"]"#),
            "[\"\u{FFFD}\",\"x\u{FFFD}\",\"\u{FFFD}A\"]"
        );
        assert_eq!(compact(br#"["\ud83d\ude00"]"#), "[\"😀\"]");
        assert_eq!(compact(b"[\"a\xffb\"]"), "[\"a\u{FFFD}b\"]");
    }

    #[test]
    fn depth_is_limited_like_go() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(Parser::default().with_parsed(ok.as_bytes(), |_| ()).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(
            Parser::default().with_parsed(deep.as_bytes(), |_| ()),
            Err(ParseError::TooDeep)
        );
        // Deep but within the limit: writing and walking must not recurse.
        let obj = format!("{}1{}", "{\"a\":".repeat(9_000), "}".repeat(9_000));
        assert_eq!(compact(obj.as_bytes()), obj);
    }

    #[test]
    fn numbers_read_as_go_writes_them() {
        for (n, text) in [
            (403.0, "403"),
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (-0.0, "0"),
            (-2.5, "-2.5"),
            (f64::MAX, "1.7976931348623157e+308"),
        ] {
            assert_eq!(number_text(n), text);
        }
    }

    #[test]
    fn walk_path_fans_out_in_order() {
        Parser::default()
            .with_parsed(br#"{"a":[{"b":1},[{"b":2},{"b":3}],{"c":4}]}"#, |root| {
                let mut seen = Vec::new();
                let path = ["a".to_string(), "b".to_string()];
                root.walk_path(&path, &mut |v| {
                    seen.push(v.scalar_text().unwrap().into_owned());
                    false
                });
                assert_eq!(seen, ["1", "2", "3"]);
            })
            .unwrap();
    }
}
