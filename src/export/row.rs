//! One exported row (docs/scale-out.md), built in the workers from the parsed event the
//! query matched, and carried to the export sink as compact bytes ([`Match::row`]).
//! The sink adds what only it knows (`raw`, `seq`, `source_file`, `source_line`,
//! `cluster`) and decodes the rest with [`RowView::decode`].
//!
//! [`Match::row`]: crate::sink::Match

use crate::parse::Json;
use crate::query::fields::{self, FieldRef, Value};
use crate::table::{self, Shape, TYPED};
use simd_json::StaticNode;
use std::collections::HashMap;

/// The typed fields other than `time`, in [`TYPED`] order.
pub const TYPED_FIELDS: usize = 20;

/// What a worker needs to build rows: the typed fields resolved once.
#[derive(Debug, Clone)]
pub struct RowBuilder {
    /// The typed fields other than `time`, each with its field.
    fields: Vec<(&'static table::Typed, FieldRef)>,
    time: FieldRef,
}

impl Default for RowBuilder {
    fn default() -> Self {
        RowBuilder::new()
    }
}

impl RowBuilder {
    pub fn new() -> RowBuilder {
        let fields = TYPED
            .iter()
            .filter(|t| t.shape != Shape::Time)
            .filter_map(|t| {
                let path: Vec<String> = t.path.iter().map(|s| s.to_string()).collect();
                let typed = table::typed_at(&path)?;
                let field = FieldRef {
                    name: typed.column.to_string(),
                    paths: vec![path],
                    computed: None,
                };
                Some((typed, field))
            })
            .collect();
        RowBuilder {
            fields,
            time: FieldRef::time("time"),
        }
    }

    /// Appends the encoded row of `event` to `out`.
    pub fn build(&self, event: Json<'_, '_>, out: &mut Vec<u8>) {
        let mut enc = Encoder { out };
        let mut scratch = String::new();
        // time: time_ns, time_text, and its complex bit.
        let mut complex = 0i64;
        let time = table::time();
        let mut count = 0;
        let mut one_string = None;
        scratch.clear();
        self.time.any_value(event, &mut |v| {
            if let Value::Json(v) = v {
                push_text(&mut scratch, count, v);
                one_string = if count == 0 {
                    v.as_str().map(str::to_string)
                } else {
                    None
                };
                count += 1;
            }
            false
        });
        let time_ns = if count == 1 {
            one_string.as_deref().and_then(nanos)
        } else {
            None
        };
        if count > 0 && (count != 1 || one_string.is_none()) {
            complex |= 1 << time.bit;
        }
        enc.opt_i64(time_ns);
        enc.opt_str((count > 0).then_some(scratch.as_str()));
        enc.opt_i64(
            event
                .get("stageTimestamp")
                .and_then(|v| v.as_str())
                .and_then(nanos),
        );
        for (typed, field) in &self.fields {
            let mut count = 0usize;
            let mut scalars = 0usize;
            let mut integer = None;
            scratch.clear();
            match typed.shape {
                Shape::List => {
                    // Texts back to back, each as a string of the list.
                    let mut list = Vec::new();
                    field.any_value(event, &mut |v| {
                        if let Value::Json(v) = v {
                            let start = scratch.len();
                            push_text(&mut scratch, 0, v);
                            list.push((start, scratch.len()));
                            scalars += usize::from(v.scalar_text().is_some());
                            count += 1;
                        }
                        false
                    });
                    if count == 0 {
                        enc.varint(0);
                    } else {
                        enc.varint(count as u64 + 1);
                        for (s, e) in list {
                            enc.str(&scratch[s..e]);
                        }
                    }
                    if scalars != count {
                        complex |= 1 << typed.bit;
                    }
                }
                Shape::Text => {
                    field.any_value(event, &mut |v| {
                        if let Value::Json(v) = v {
                            push_text(&mut scratch, count, v);
                            scalars += usize::from(v.scalar_text().is_some());
                            count += 1;
                        }
                        false
                    });
                    enc.opt_str((count > 0).then_some(scratch.as_str()));
                    if count > 0 && !(count == 1 && scalars == 1) {
                        complex |= 1 << typed.bit;
                    }
                }
                Shape::Integer | Shape::Time => {
                    field.any_value(event, &mut |v| {
                        if let Value::Json(v) = v {
                            integer = match v.as_static() {
                                Some(StaticNode::I64(n)) => Some(n),
                                Some(StaticNode::U64(n)) => i64::try_from(n).ok(),
                                _ => None,
                            };
                            count += 1;
                        }
                        false
                    });
                    let value = if count == 1 { integer } else { None };
                    enc.opt_i64(value);
                    if count > 0 && value.is_none() {
                        complex |= 1 << typed.bit;
                    }
                }
            }
        }
        enc.opt_str(fields::resource_path_text(event).as_deref());
        // annotations: the string members, the last of repeated keys.
        match event.get("annotations").filter(|a| a.is_object()) {
            None => enc.varint(0),
            Some(annotations) => {
                let members = unique_members(annotations);
                let strings: Vec<(&str, &str)> = members
                    .iter()
                    .filter_map(|(k, v)| Some((*k, v.as_str()?)))
                    .collect();
                enc.varint(strings.len() as u64 + 1);
                for (k, v) in strings {
                    enc.str(k);
                    enc.str(v);
                }
            }
        }
        let mut json = Vec::new();
        for key in ["requestObject", "responseObject"] {
            match event.get(key) {
                Some(v) => {
                    json.clear();
                    v.write_json(&mut json);
                    enc.opt_bytes(Some(&json));
                }
                None => enc.opt_bytes(None),
            }
        }
        enc.opt_i64(Some(complex));
        write_leaves(event, &mut enc);
        enc.opt_str(Some(&date_of(time_ns)));
    }
}

/// The `date` of a time: `YYYY-MM-DD` in UTC, or Hive's name for a missing value.
pub fn date_of(time_ns: Option<i64>) -> String {
    let date = time_ns.and_then(|ns| {
        let secs = ns.div_euclid(1_000_000_000);
        let nsec = ns.rem_euclid(1_000_000_000) as u32;
        chrono::DateTime::from_timestamp(secs, nsec)
    });
    match date {
        Some(d) => d.format("%Y-%m-%d").to_string(),
        None => HIVE_DEFAULT_PARTITION.to_string(),
    }
}

/// What Hive (and Spark, Trino) call the partition of a NULL value.
pub const HIVE_DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// An RFC 3339 time as nanoseconds, when INT64 holds it.
fn nanos(text: &str) -> Option<i64> {
    crate::timefmt::parse_timestamp(text).and_then(|n| i64::try_from(n).ok())
}

/// Appends a value's text as `field_text` writes it (`,` between values, objects as JSON).
fn push_text(out: &mut String, index: usize, v: Json<'_, '_>) {
    if index > 0 {
        out.push(',');
    }
    match v.scalar_text() {
        Some(text) => out.push_str(&text),
        None => {
            let mut json = Vec::new();
            v.write_json(&mut json);
            out.push_str(&String::from_utf8_lossy(&json));
        }
    }
}

/// The members of an object as [`Json::get`] sees them: each key once, with the value of
/// its last occurrence, in the order of those last occurrences.
fn unique_members<'t, 'i>(object: Json<'t, 'i>) -> Vec<(&'i str, Json<'t, 'i>)> {
    let mut members: Vec<(&'i str, Json<'t, 'i>)> = object.entries().collect();
    if members.len() <= 16 {
        let mut i = 0;
        while i < members.len() {
            let key = members[i].0;
            if members[i + 1..].iter().any(|(k, _)| *k == key) {
                members.remove(i);
            } else {
                i += 1;
            }
        }
        return members;
    }
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(members.len());
    for (i, (k, _)) in members.iter().enumerate() {
        last.insert(k, i);
    }
    if last.len() == members.len() {
        return members;
    }
    members
        .iter()
        .enumerate()
        .filter(|(i, (k, _))| last.get(k) == Some(i))
        .map(|(_, m)| *m)
        .collect()
}

/// The `leaves`: every value reached walking from the root as [`Json::walk_path`] walks
/// (members by `get`, arrays transparent), objects included, the root and arrays not.
/// Iterative: depth costs heap, not stack.
fn write_leaves(root: Json<'_, '_>, enc: &mut Encoder<'_>) {
    // Paths live in one arena (UTF-8: keys and `.`); a pending value names its path by
    // range.
    let mut arena: Vec<u8> = Vec::new();
    let mut stack: Vec<(Json<'_, '_>, usize, usize)> = Vec::new();
    let mut count = 0u32;
    // The count first, as 4 bytes filled in at the end; the leaves right after it.
    let at = enc.out.len();
    enc.out.extend_from_slice(&[0; 4]);
    let leaf = &mut *enc;
    push_members(root, (0, 0), &mut arena, &mut stack);
    while let Some((value, start, end)) = stack.pop() {
        if value.is_array() {
            let before = stack.len();
            stack.extend(value.elements().map(|e| (e, start, end)));
            stack[before..].reverse();
            continue;
        }
        count = count.saturating_add(1);
        leaf.bytes(&arena[start..end]);
        if value.is_object() {
            leaf.opt_str(None);
            leaf.opt_f64(None);
            leaf.byte(0);
            leaf.opt_i64(None);
            push_members(value, (start, end), &mut arena, &mut stack);
            continue;
        }
        let text = value.scalar_text();
        leaf.opt_str(text.as_deref());
        let is_num = matches!(
            value.as_static(),
            Some(StaticNode::I64(_) | StaticNode::U64(_) | StaticNode::F64(_))
        );
        let num = if is_num {
            value.as_f64()
        } else {
            value.as_str().and_then(crate::query::value::parse_number)
        };
        leaf.opt_f64(num);
        leaf.byte(u8::from(is_num));
        leaf.opt_i64(value.as_str().and_then(nanos));
    }
    enc.out[at..at + 4].copy_from_slice(&count.to_le_bytes());
}

/// Pushes the members of `object` (each key once, as `get` sees them) on `stack`, so that
/// they pop in document order, each with its path (`canonical_path`) in `arena`.
fn push_members<'t, 'i>(
    object: Json<'t, 'i>,
    (start, end): (usize, usize),
    arena: &mut Vec<u8>,
    stack: &mut Vec<(Json<'t, 'i>, usize, usize)>,
) {
    let before = stack.len();
    for (key, value) in unique_members(object) {
        let child_start = arena.len();
        arena.extend_from_within(start..end);
        if end > start {
            arena.push(b'.');
        }
        arena.extend_from_slice(fields::canonical_key(key).as_bytes());
        stack.push((value, child_start, arena.len()));
    }
    stack[before..].reverse();
}

/// Writes the compact row encoding: varints, strings as varint length and bytes,
/// optional values with a leading tag.
struct Encoder<'a> {
    out: &'a mut Vec<u8>,
}

impl Encoder<'_> {
    fn byte(&mut self, b: u8) {
        self.out.push(b);
    }

    fn varint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.out.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.out.push(n as u8);
    }

    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    /// Length and bytes (UTF-8 text).
    fn bytes(&mut self, b: &[u8]) {
        self.varint(b.len() as u64);
        self.out.extend_from_slice(b);
    }

    /// 0 for none, else length + 1 and the bytes (UTF-8: they come from `&str` or from
    /// `write_json` of parsed strings).
    fn opt_bytes(&mut self, s: Option<&[u8]>) {
        match s {
            None => self.varint(0),
            Some(s) => {
                self.varint(s.len() as u64 + 1);
                self.out.extend_from_slice(s);
            }
        }
    }

    fn opt_str(&mut self, s: Option<&str>) {
        self.opt_bytes(s.map(str::as_bytes));
    }

    fn opt_i64(&mut self, n: Option<i64>) {
        match n {
            None => self.byte(0),
            Some(n) => {
                self.byte(1);
                self.out.extend_from_slice(&n.to_le_bytes());
            }
        }
    }

    fn opt_f64(&mut self, n: Option<f64>) {
        match n {
            None => self.byte(0),
            Some(n) => {
                self.byte(1);
                self.out.extend_from_slice(&n.to_le_bytes());
            }
        }
    }
}

/// A row that does not decode (never made by [`RowBuilder::build`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("internal: an export row does not decode")]
pub struct Corrupt;

/// Reads what [`Encoder`] wrote.
#[derive(Clone, Copy)]
struct Decoder<'a> {
    buf: &'a [u8],
}

impl<'a> Decoder<'a> {
    fn byte(&mut self) -> Result<u8, Corrupt> {
        let (&b, rest) = self.buf.split_first().ok_or(Corrupt)?;
        self.buf = rest;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, Corrupt> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(n);
            }
        }
        Err(Corrupt)
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], Corrupt> {
        let len = usize::try_from(len).map_err(|_| Corrupt)?;
        if len > self.buf.len() {
            return Err(Corrupt);
        }
        let (head, rest) = self.buf.split_at(len);
        self.buf = rest;
        Ok(head)
    }

    fn str(&mut self) -> Result<&'a str, Corrupt> {
        let len = self.varint()?;
        std::str::from_utf8(self.take(len)?).map_err(|_| Corrupt)
    }

    fn opt_str(&mut self) -> Result<Option<&'a str>, Corrupt> {
        match self.varint()? {
            0 => Ok(None),
            n => std::str::from_utf8(self.take(n - 1)?)
                .map(Some)
                .map_err(|_| Corrupt),
        }
    }

    fn opt_8(&mut self) -> Result<Option<[u8; 8]>, Corrupt> {
        match self.byte()? {
            0 => Ok(None),
            _ => {
                let bytes = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(bytes);
                Ok(Some(a))
            }
        }
    }

    fn opt_i64(&mut self) -> Result<Option<i64>, Corrupt> {
        Ok(self.opt_8()?.map(i64::from_le_bytes))
    }

    fn opt_f64(&mut self) -> Result<Option<f64>, Corrupt> {
        Ok(self.opt_8()?.map(f64::from_le_bytes))
    }

    /// A list of `count` items each read by `skip`, as a view.
    fn items(
        &mut self,
        count: u64,
        skip: fn(&mut Decoder<'a>) -> Result<(), Corrupt>,
    ) -> Result<Items<'a>, Corrupt> {
        let start = self.buf;
        for _ in 0..count {
            skip(self)?;
        }
        let used = start.len() - self.buf.len();
        Ok(Items {
            count: count as usize,
            bytes: &start[..used],
        })
    }
}

/// A sequence of encoded items (strings, pairs, leaves).
#[derive(Clone, Copy, Debug)]
pub struct Items<'a> {
    pub count: usize,
    bytes: &'a [u8],
}

impl<'a> Items<'a> {
    /// The strings of a list.
    pub fn strings(&self) -> impl Iterator<Item = &'a str> + 'a {
        let mut d = Decoder { buf: self.bytes };
        (0..self.count).map_while(move |_| d.str().ok())
    }

    /// The (key, value) pairs of a map.
    pub fn pairs(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let mut d = Decoder { buf: self.bytes };
        (0..self.count).map_while(move |_| Some((d.str().ok()?, d.str().ok()?)))
    }

    /// The leaves.
    pub fn leaves(&self) -> impl Iterator<Item = Leaf<'a>> + 'a {
        let mut d = Decoder { buf: self.bytes };
        (0..self.count).map_while(move |_| Leaf::read(&mut d).ok())
    }
}

/// One entry of `leaves`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Leaf<'a> {
    pub path: &'a str,
    pub text: Option<&'a str>,
    pub num: Option<f64>,
    pub is_num: bool,
    pub ts: Option<i64>,
}

impl<'a> Leaf<'a> {
    fn read(d: &mut Decoder<'a>) -> Result<Leaf<'a>, Corrupt> {
        Ok(Leaf {
            path: d.str()?,
            text: d.opt_str()?,
            num: d.opt_f64()?,
            is_num: d.byte()? != 0,
            ts: d.opt_i64()?,
        })
    }
}

/// A typed column's value in a row.
#[derive(Debug, Clone, Copy)]
pub enum TypedValue<'a> {
    Text(Option<&'a str>),
    List(Option<Items<'a>>),
    Integer(Option<i64>),
}

/// A decoded row, borrowing its bytes.
#[derive(Debug, Clone)]
pub struct RowView<'a> {
    pub time_ns: Option<i64>,
    pub time_text: Option<&'a str>,
    pub stage_timestamp: Option<i64>,
    /// The typed fields other than `time`, in [`TYPED`] order.
    pub typed: [TypedValue<'a>; TYPED_FIELDS],
    pub resource_path: Option<&'a str>,
    pub annotations: Option<Items<'a>>,
    pub request_object: Option<&'a str>,
    pub response_object: Option<&'a str>,
    pub complex: i64,
    pub leaves: Items<'a>,
    pub date: &'a str,
}

impl<'a> RowView<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<RowView<'a>, Corrupt> {
        let mut d = Decoder { buf: bytes };
        let time_ns = d.opt_i64()?;
        let time_text = d.opt_str()?;
        let stage_timestamp = d.opt_i64()?;
        let mut typed = [TypedValue::Text(None); TYPED_FIELDS];
        for (slot, t) in typed
            .iter_mut()
            .zip(TYPED.iter().filter(|t| t.shape != Shape::Time))
        {
            *slot = match t.shape {
                Shape::Text => TypedValue::Text(d.opt_str()?),
                Shape::List => match d.varint()? {
                    0 => TypedValue::List(None),
                    n => TypedValue::List(Some(d.items(n - 1, |d| d.str().map(drop))?)),
                },
                Shape::Integer | Shape::Time => TypedValue::Integer(d.opt_i64()?),
            };
        }
        let resource_path = d.opt_str()?;
        let annotations = match d.varint()? {
            0 => None,
            n => Some(d.items(n - 1, |d| {
                d.str()?;
                d.str().map(drop)
            })?),
        };
        let request_object = d.opt_str()?;
        let response_object = d.opt_str()?;
        let complex = d.opt_i64()?.ok_or(Corrupt)?;
        let count = d.take(4)?;
        let count = u32::from_le_bytes([count[0], count[1], count[2], count[3]]);
        let leaves = d.items(u64::from(count), |d| Leaf::read(d).map(drop))?;
        let date = d.opt_str()?.ok_or(Corrupt)?;
        if !d.buf.is_empty() {
            return Err(Corrupt);
        }
        Ok(RowView {
            time_ns,
            time_text,
            stage_timestamp,
            typed,
            resource_path,
            annotations,
            request_object,
            response_object,
            complex,
            leaves,
            date,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Parser;
    use proptest::prelude::*;

    fn row_of(json: &str) -> Vec<u8> {
        let mut out = Vec::new();
        Parser::default()
            .with_parsed(json.as_bytes(), |ev| RowBuilder::new().build(ev, &mut out))
            .unwrap();
        out
    }

    fn column<'a>(row: &RowView<'a>, name: &str) -> TypedValue<'a> {
        let i = TYPED
            .iter()
            .filter(|t| t.shape != Shape::Time)
            .position(|t| t.column == name)
            .unwrap();
        row.typed[i]
    }

    fn bit(name: &str) -> i64 {
        1 << TYPED.iter().find(|t| t.column == name).unwrap().bit
    }

    #[test]
    fn typed_columns_and_complex_bits() {
        let bytes = row_of(
            r#"{"kind":"Event","verb":"get","verb":"delete","user":{"username":["a","b"],"groups":["g1",{"x":1}]},
            "objectRef":{"resource":"pods","subresource":"exec","namespace":{"n":1}},"sourceIPs":["1.2.3.4"],
            "responseStatus":{"code":403},"requestReceivedTimestamp":"2026-01-05T10:00:00.123456Z",
            "stageTimestamp":"2026-01-05T10:00:01Z","annotations":{"a":"1","b":2,"a":"3"},
            "requestObject":{"k":[1,2]}}"#,
        );
        let row = RowView::decode(&bytes).unwrap();
        assert_eq!(row.time_ns, Some(1_767_607_200_123_456_000));
        assert_eq!(row.time_text, Some("2026-01-05T10:00:00.123456Z"));
        assert_eq!(row.stage_timestamp, Some(1_767_607_201_000_000_000));
        assert_eq!(row.date, "2026-01-05");
        let TypedValue::Text(verb) = column(&row, "verb") else {
            panic!()
        };
        assert_eq!(verb, Some("delete"));
        let TypedValue::Text(user) = column(&row, "user") else {
            panic!()
        };
        assert_eq!(user, Some("a,b"));
        let TypedValue::List(Some(groups)) = column(&row, "groups") else {
            panic!()
        };
        assert_eq!(groups.strings().collect::<Vec<_>>(), ["g1", "{\"x\":1}"]);
        let TypedValue::Text(ns) = column(&row, "namespace") else {
            panic!()
        };
        assert_eq!(ns, Some("{\"n\":1}"));
        let TypedValue::Integer(code) = column(&row, "code") else {
            panic!()
        };
        assert_eq!(code, Some(403));
        let TypedValue::Text(name) = column(&row, "name") else {
            panic!()
        };
        assert_eq!(name, None);
        assert_eq!(
            row.complex,
            bit("user") | bit("groups") | bit("namespace"),
            "{:b}",
            row.complex
        );
        assert_eq!(row.resource_path, Some("pods/exec"));
        assert_eq!(
            row.annotations.unwrap().pairs().collect::<Vec<_>>(),
            [("a", "3")]
        );
        assert_eq!(row.request_object, Some("{\"k\":[1,2]}"));
        assert_eq!(row.response_object, None);
        let leaves: Vec<Leaf<'_>> = row.leaves.leaves().collect();
        let k: Vec<_> = leaves
            .iter()
            .filter(|l| l.path == "requestObject.k")
            .map(|l| (l.text, l.num, l.is_num))
            .collect();
        assert_eq!(
            k,
            [(Some("1"), Some(1.0), true), (Some("2"), Some(2.0), true)]
        );
        let obj = leaves.iter().find(|l| l.path == "requestObject").unwrap();
        assert_eq!((obj.text, obj.num, obj.is_num), (None, None, false));
        let t = leaves
            .iter()
            .find(|l| l.path == "requestReceivedTimestamp")
            .unwrap();
        assert_eq!(t.ts, row.time_ns);
        assert_eq!(leaves.iter().filter(|l| l.path == "verb").count(), 1);
    }

    #[test]
    fn code_and_time_bits() {
        let row =
            row_of(r#"{"kind":"Event","responseStatus":{"code":403.5},"timestamp":["x","y"]}"#);
        let row = RowView::decode(&row).unwrap();
        assert_eq!(row.complex, bit("code") | bit("time_text"));
        assert_eq!(row.time_ns, None);
        assert_eq!(row.date, HIVE_DEFAULT_PARTITION);
        let row = row_of(r#"{"kind":"Event","timestamp":"2262-05-01T00:00:00Z"}"#);
        let row = RowView::decode(&row).unwrap();
        // Outside INT64 nanoseconds: NULL, but one string, so not complex.
        assert_eq!((row.time_ns, row.complex), (None, 0));
        assert_eq!(row.time_text, Some("2262-05-01T00:00:00Z"));
    }

    /// A JSON text with repeated keys, awkward keys, nested arrays and every scalar.
    fn json_value(depth: u32) -> BoxedStrategy<String> {
        let key = prop_oneof![
            Just("a".to_string()),
            Just("b".to_string()),
            Just("".to_string()),
            Just("c.d".to_string()),
            Just("e f".to_string()),
            Just("q\\\"".to_string()),
        ];
        let scalar = prop_oneof![
            Just("1".to_string()),
            Just("-2.5".to_string()),
            Just("true".to_string()),
            Just("null".to_string()),
            Just("\"42\"".to_string()),
            Just("\"x,y\"".to_string()),
            Just("\"2026-01-05T10:00:00Z\"".to_string()),
        ];
        if depth == 0 {
            return scalar.boxed();
        }
        let inner = json_value(depth - 1);
        prop_oneof![
            2 => scalar,
            1 => proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(","))),
            2 => proptest::collection::vec((key, inner), 0..5).prop_map(|members| {
                let body: Vec<String> =
                    members.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
        .boxed()
    }

    /// Every key path of a serde value (arrays transparent), for the property below.
    fn key_paths(v: &serde_json::Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match v {
            serde_json::Value::Array(items) => {
                for item in items {
                    key_paths(item, prefix, out);
                }
            }
            serde_json::Value::Object(members) => {
                for (k, v) in members {
                    prefix.push(k.clone());
                    out.push(prefix.clone());
                    key_paths(v, prefix, out);
                    prefix.pop();
                }
            }
            _ => {}
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        /// For every path P, the leaves with path P are, in order, what `walk_path(P)`
        /// visits (their texts; NULL for objects).
        #[test]
        fn leaves_reproduce_walk_path(body in json_value(4), extra in proptest::collection::vec(
            proptest::sample::select(vec!["a", "b", "", "c.d", "zz"]), 1..4)) {
            let json = format!("{{\"kind\":\"Event\",\"x\":{body},\"a\":{body}}}");
            let mut paths = Vec::new();
            // serde_json keeps the last of repeated keys, as `get` does.
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            key_paths(&value, &mut Vec::new(), &mut paths);
            paths.push(extra.iter().map(|s| s.to_string()).collect());
            let bytes = row_of(&json);
            let row = RowView::decode(&bytes).unwrap();
            let leaves: Vec<Leaf<'_>> = row.leaves.leaves().collect();
            let all_paths: std::collections::HashSet<String> =
                paths.iter().map(|p| fields::canonical_path(p)).collect();
            for leaf in &leaves {
                prop_assert!(all_paths.contains(leaf.path), "leaf path {} not a key path", leaf.path);
            }
            Parser::default().with_parsed(json.as_bytes(), |root| {
                for path in &paths {
                    let mut walked = Vec::new();
                    root.walk_path(path, &mut |v| {
                        walked.push(v.scalar_text().map(|t| t.into_owned()));
                        false
                    });
                    let canonical = fields::canonical_path(path);
                    let mine: Vec<Option<String>> = leaves
                        .iter()
                        .filter(|l| l.path == canonical)
                        .map(|l| l.text.map(str::to_string))
                        .collect();
                    assert_eq!(mine, walked, "path {canonical} in {json}");
                }
            }).unwrap();
        }
    }
}
