//! JSON parsing with simd-json into a reusable tape, and a small read-only view over it.
//!
//! The tape (a flat array of nodes) is cheaper than a tree of maps: an audit event is
//! parsed once and only the few fields the query names are looked up.

use simd_json::{Buffers, Node, StaticNode, Tape};
use std::borrow::Cow;

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
    ) -> Result<R, simd_json::Error> {
        self.scratch.clear();
        self.scratch.extend_from_slice(bytes);
        let mut tape: Tape<'_> = self.tape.take().unwrap_or_else(Tape::null).reset();
        let result = simd_json::fill_tape(&mut self.scratch, &mut self.buffers, &mut tape)
            .map(|()| f(Json::root(&tape)));
        self.tape = Some(tape.reset());
        result
    }
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

    /// A member of an object, or `None` for a missing key or a non-object.
    pub fn get(&self, key: &str) -> Option<Json<'t, 'i>> {
        self.entries().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The key/value pairs of an object (empty for other values).
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

    /// The text a scalar compares as: strings as they are, numbers and booleans as JSON
    /// writes them. Objects and arrays have none.
    pub fn scalar_text(&self) -> Option<Cow<'i, str>> {
        match self.first()? {
            Node::String(s) => Some(Cow::Borrowed(s)),
            Node::Static(s) => Some(Cow::Owned(static_text(*s))),
            _ => None,
        }
    }

    /// Writes this value as compact JSON.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self.first() {
            Some(Node::String(s)) => write_json_string(s, out),
            Some(Node::Static(s)) => out.extend_from_slice(static_text(*s).as_bytes()),
            Some(Node::Object { .. }) => {
                out.push(b'{');
                for (i, (key, value)) in self.entries().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_json_string(key, out);
                    out.push(b':');
                    value.write_json(out);
                }
                out.push(b'}');
            }
            Some(Node::Array { .. }) => {
                out.push(b'[');
                for (i, value) in self.elements().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    value.write_json(out);
                }
                out.push(b']');
            }
            None => out.extend_from_slice(b"null"),
        }
    }
}

fn static_text(node: StaticNode) -> String {
    match node {
        StaticNode::I64(n) => n.to_string(),
        StaticNode::U64(n) => n.to_string(),
        StaticNode::F64(n) => n.to_string(),
        StaticNode::Bool(b) => b.to_string(),
        StaticNode::Null => "null".to_string(),
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
        let mut parser = Parser::default();
        let line = br#"{"a":"q\"b\\n\n","n":[1,-2,2.5],"o":{}}"#;
        let out = parser
            .with_parsed(line, |root| {
                let mut out = Vec::new();
                root.write_json(&mut out);
                out
            })
            .unwrap();
        assert_eq!(out, line.to_vec());
    }

    #[test]
    fn invalid_json_is_an_error_and_parser_is_reusable() {
        let mut parser = Parser::default();
        assert!(parser.with_parsed(b"{\"a\":", |_| ()).is_err());
        assert!(parser.with_parsed(b"\xff\xfe", |_| ()).is_err());
        assert!(parser.with_parsed(b"{\"a\":1}", |_| ()).is_ok());
    }
}
