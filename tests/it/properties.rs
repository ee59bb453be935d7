//! Property tests, in process (so they can run tens of thousands of cases): random logs
//! full of what breaks JSON readers, random queries, and two kinds of check.
//!
//! 1. **Paths agree.** The prefilter, the thread count, the block size and the way input
//!    arrives (a file read in big blocks, or a pipe that hands out a few bytes at a
//!    time) never change a byte of the output.
//! 2. **The oracle agrees.** Every generated event is also kept as a model (a
//!    `serde_json::Value` with the values Go's `encoding/json` would decode: last key
//!    wins, U+FFFD for bad surrogates and bad UTF-8, huge numbers clamped), and the query
//!    is evaluated on the model by an evaluator written here from docs/query.md. The
//!    auditIDs auditq prints must be exactly those, in order.
//!
//! The generators cover every class of issue #11: numbers in every JSON spelling
//! (exponents, fractions, beyond 64 bits, beyond f64), non-string values on string
//! fields, duplicate and escaped keys, stray `{`/`[` lines and unindented pretty
//! documents between events, lone and paired surrogates, invalid UTF-8, deep nesting on
//! both sides of the 10,000 limit, CRLF, kubectl prefixes, klog lines and garbage.
//!
//! Cases: `AUDITQ_PROPTEST_CASES` (default 4,000, sized for CI; raise it for a soak, see
//! docs/testing.md).

use auditq::block::Plan;
use auditq::query::parse_query;
use auditq::search::{self, Options, Target};
use auditq::sink::{EventWriter, Format, Printer};
use auditq::source::Input;
use proptest::prelude::*;
use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::sync::Arc;

// ------------------------------------------------------------------ the model

/// A string as written (bytes between the quotes) and as read (its model).
#[derive(Debug, Clone)]
struct Str {
    raw: Vec<u8>,
    model: String,
}

/// A JSON value as it will be written, with its model.
#[derive(Debug, Clone)]
enum Raw {
    Obj(Vec<(Str, Raw)>),
    Arr(Vec<Raw>),
    Str(Str),
    /// A number literal and the f64 (or i128 for integers) it reads as.
    Num(String, Value),
    Bool(bool),
    Null,
    /// `[[…[1]…]]`, this deep (modelled as `null`: no query looks inside, and a deep
    /// model would only exhaust the test's own stack).
    Deep(usize),
}

impl Raw {
    fn model(&self) -> Value {
        match self {
            Raw::Obj(members) => {
                let mut map = Map::new();
                for (k, v) in members {
                    map.insert(k.model.clone(), v.model()); // the last key wins
                }
                Value::Object(map)
            }
            Raw::Arr(items) => Value::Array(items.iter().map(Raw::model).collect()),
            Raw::Str(s) => Value::String(s.model.clone()),
            Raw::Num(_, v) => v.clone(),
            Raw::Bool(b) => Value::Bool(*b),
            Raw::Null | Raw::Deep(_) => Value::Null,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Raw::Obj(members) => {
                out.push(b'{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(k, out);
                    out.push(b':');
                    v.write(out);
                }
                out.push(b'}');
            }
            Raw::Arr(items) => {
                out.push(b'[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    v.write(out);
                }
                out.push(b']');
            }
            Raw::Str(s) => write_str(s, out),
            Raw::Num(text, _) => out.extend_from_slice(text.as_bytes()),
            Raw::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Raw::Null => out.extend_from_slice(b"null"),
            Raw::Deep(depth) => {
                out.extend(std::iter::repeat_n(b'[', *depth));
                out.push(b'1');
                out.extend(std::iter::repeat_n(b']', *depth));
            }
        }
    }

    /// Top-level members one per line: `indent` spaces before each, or none at all
    /// (an unindented pretty document).
    fn write_pretty(&self, indent: usize, out: &mut Vec<u8>) {
        let Raw::Obj(members) = self else {
            self.write(out);
            return;
        };
        out.extend_from_slice(b"{\n");
        for (i, (k, v)) in members.iter().enumerate() {
            out.extend(std::iter::repeat_n(b' ', indent));
            write_str(k, out);
            out.extend_from_slice(b": ");
            v.write(out);
            if i + 1 < members.len() {
                out.push(b',');
            }
            out.push(b'\n');
        }
        out.push(b'}');
    }
}

fn write_str(s: &Str, out: &mut Vec<u8>) {
    out.push(b'"');
    out.extend_from_slice(&s.raw);
    out.push(b'"');
}

/// A plain string, written as JSON requires; characters whose bit is set in `mask` are
/// escaped although they need not be (`\u0064`, `\/`), as some encoders do.
fn plain(s: &str, mask: u64) -> Str {
    let mut raw = String::new();
    for (i, c) in s.chars().enumerate() {
        let bit = mask.rotate_right(i as u32) & 1 == 1;
        match c {
            '"' => raw.push_str("\\\""),
            '\\' => raw.push_str("\\\\"),
            '/' if bit => raw.push_str("\\/"),
            c if bit && (c as u32) < 0x10000 => {
                let _ = write!(raw, "\\u{:04x}", c as u32);
            }
            c => raw.push(c),
        }
    }
    Str {
        raw: raw.into_bytes(),
        model: s.to_string(),
    }
}

fn key(k: &str) -> Str {
    plain(k, 0)
}

/// Strings written in odd ways, with what Go reads from them.
fn odd_string(text: &str, kind: u8) -> Str {
    let base = String::from_utf8(plain(text, 0).raw).unwrap_or_default();
    let base = base.as_str();
    let model = |s: String| s.replace(base, text);
    let out = match kind % 5 {
        // A lone high surrogate, then the text.
        0 => Str {
            raw: format!("\\ud800{base}").into_bytes(),
            model: format!("\u{FFFD}{base}"),
        },
        // A lone low surrogate.
        1 => Str {
            raw: format!("{base}\\udc00").into_bytes(),
            model: format!("{base}\u{FFFD}"),
        },
        // A high surrogate followed by a non-surrogate escape.
        2 => Str {
            raw: format!("\\ud800\\u0041{base}").into_bytes(),
            model: format!("\u{FFFD}A{base}"),
        },
        // A proper pair.
        3 => Str {
            raw: format!("{base}\\ud83d\\ude00").into_bytes(),
            model: format!("{base}😀"),
        },
        // An invalid UTF-8 byte.
        _ => {
            let mut raw = base.as_bytes().to_vec();
            raw.push(0xff);
            Str {
                raw,
                model: format!("{base}\u{FFFD}"),
            }
        }
    };
    Str {
        model: model(out.model),
        ..out
    }
}

/// A number spelled one of many ways; returns the literal and its model value.
fn number(value: i64, spelling: u8) -> Raw {
    let as_f = |f: f64| Value::from(f);
    let (text, model) = match spelling % 12 {
        0 => (value.to_string(), Value::from(value)),
        1 => (format!("{value}.0"), as_f(value as f64)),
        2 => (format!("{}e2", value as f64 / 100.0), as_f(value as f64)),
        3 => (format!("{}e-1", value * 10), as_f(value as f64)),
        4 => (format!("{value}E0"), as_f(value as f64)),
        5 => ("1e400".to_string(), as_f(f64::MAX)),
        6 => ("-1e400".to_string(), as_f(f64::MIN)),
        7 => (
            "-9223372036854775809".to_string(),
            as_f(-9_223_372_036_854_775_809_f64),
        ),
        8 => (
            "18446744073709551616".to_string(),
            as_f(1.8446744073709552e19),
        ),
        9 => ("1e21".to_string(), as_f(1e21)),
        10 => ("-0".to_string(), Value::from(0)),
        _ => ("1e-7".to_string(), as_f(1e-7)),
    };
    Raw::Num(text, model)
}

const VERBS: &[&str] = &["get", "list", "delete", "create", "watch", "patch"];
const RESOURCES: &[&str] = &["pods", "secrets", "configmaps", "secretsx"];
const USERS: &[&str] = &[
    "alice",
    "system:kube-scheduler",
    "system:serviceaccount:kube-system:token-cleaner",
    "café",
    "日本",
    "q\"uote",
    "back\\slash",
];
const NAMESPACES: &[&str] = &["prod", "kube-system", "default"];
const CODES: &[i64] = &[200, 201, 403, 404, 409, 500];
const TIMES: &[&str] = &[
    "2026-01-05T10:00:00.000001Z",
    "2026-01-05T06:00:00-04:00",
    "2026-01-05T09:59:59.999Z",
    "2026-01-05T10:30:00+00:30",
];

/// One generated event.
#[derive(Debug, Clone)]
struct EventGen {
    verb: usize,
    /// 0: a string; others: `true`, `7`, `null`, an array, an object, an odd string.
    verb_shape: u8,
    resource: usize,
    ns: Option<usize>,
    user: usize,
    user_shape: u8,
    code: Option<(usize, u8)>,
    time: usize,
    mask: u64,
    /// 0: none; 1: `verb` twice; 2: `v\u0065rb` after `verb`; 3: `kind` twice (not an Event).
    dup: u8,
    /// 0: none; 1: nested 100 deep; 2: 9,000 deep (fine); 3: 10,001 deep (invalid).
    nesting: u8,
    trap: bool,
}

fn event_raw(g: &EventGen, id: usize) -> Raw {
    let mut members: Vec<(Str, Raw)> = Vec::new();
    let s = |text: &str, salt: u32| Raw::Str(plain(text, g.mask.rotate_left(salt)));
    members.push((key("kind"), s("Event", 0)));
    members.push((key("apiVersion"), s("audit.k8s.io/v1", 3)));
    members.push((key("auditID"), Raw::Str(plain(&format!("e{id}"), 0))));
    members.push((
        key("stage"),
        s(
            if g.code.is_some() {
                "ResponseComplete"
            } else {
                "RequestReceived"
            },
            5,
        ),
    ));
    let verb = VERBS[g.verb];
    let verb_value = match g.verb_shape % 8 {
        1 => Raw::Bool(true),
        2 => number(7, 0),
        3 => Raw::Null,
        4 => Raw::Arr(vec![s(verb, 7), s("get", 9)]),
        5 => Raw::Obj(vec![(key("x"), s(verb, 11))]),
        6 => Raw::Str(odd_string(verb, g.verb_shape / 8)),
        _ => s(verb, 13),
    };
    if g.dup == 1 {
        members.push((key("verb"), s("list", 17)));
    }
    members.push((key("verb"), verb_value));
    if g.dup == 2 {
        members.push((
            Str {
                raw: b"v\\u0065rb".to_vec(),
                model: "verb".into(),
            },
            s("deletecollection", 19),
        ));
    }
    let user_value = match g.user_shape % 6 {
        1 => number(7, g.user_shape / 6),
        2 => Raw::Bool(false),
        3 => Raw::Str(odd_string(USERS[g.user], g.user_shape / 6)),
        _ => s(USERS[g.user], 23),
    };
    members.push((
        key("user"),
        Raw::Obj(vec![
            (key("username"), user_value),
            (
                key("groups"),
                Raw::Arr(vec![s("system:authenticated", 29), s("dev", 31)]),
            ),
        ]),
    ));
    let mut object_ref = vec![(key("resource"), s(RESOURCES[g.resource], 37))];
    if let Some(ns) = g.ns {
        object_ref.push((key("namespace"), s(NAMESPACES[ns], 41)));
    }
    object_ref.push((key("name"), s("x/y", 43)));
    members.push((key("objectRef"), Raw::Obj(object_ref)));
    if let Some((code, spelling)) = g.code {
        members.push((
            key("responseStatus"),
            Raw::Obj(vec![(key("code"), number(CODES[code], spelling))]),
        ));
    }
    if g.trap {
        // A decoy: another event's fields inside the request body.
        members.push((
            key("requestObject"),
            Raw::Obj(vec![
                (key("kind"), s("Event", 47)),
                (key("verb"), s("delete", 53)),
                (
                    key("objectRef"),
                    Raw::Obj(vec![(key("resource"), s("secrets", 59))]),
                ),
                (key("note"), s("\"verb\":\"delete\" secrets 403", 61)),
            ]),
        ));
    }
    let depth = match g.nesting {
        1 => 100,
        2 => 9_000,
        3 => 10_001,
        _ => 0,
    };
    if depth > 0 {
        members.push((key("responseObject"), Raw::Deep(depth)));
    }
    members.push((key("requestReceivedTimestamp"), s(TIMES[g.time], 67)));
    if g.dup == 3 {
        members.push((key("kind"), s("Other", 71)));
    }
    Raw::Obj(members)
}

/// Whether a model is an audit event that auditq must read (the document as a whole
/// is valid within the nesting limit, and its `kind` is `Event`).
fn is_event(model: &Value) -> bool {
    model.get("kind").and_then(Value::as_str) == Some("Event")
}

/// One generated item of the log: its bytes (lines joined, no final `\n`) and the
/// models of the events it holds.
#[derive(Debug, Clone)]
enum Item {
    /// One event on one line; `prefix`: none, kubectl `--timestamps`, `--prefix`; `crlf`.
    Line(EventGen, u8, bool),
    /// One event over several lines, indented or not.
    Pretty(EventGen, bool),
    /// An EventList, pretty, with items on lines of their own.
    List(Vec<EventGen>),
    /// A lone `{` or `[`.
    Stray(bool),
    Klog(u16),
    Blank,
    Garbage(u8),
}

fn render(items: &[Item]) -> (Vec<u8>, Vec<Value>) {
    let mut out = Vec::new();
    let mut events = Vec::new();
    let mut id = 0;
    let mut make = |g: &EventGen| {
        id += 1;
        let raw = event_raw(g, id);
        let model = raw.model();
        let readable = is_event(&model) && g.nesting != 3;
        (raw, readable.then_some(model))
    };
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        match item {
            Item::Line(g, prefix, crlf) => {
                let (raw, model) = make(g);
                events.extend(model);
                match prefix % 3 {
                    1 => out.extend_from_slice(b"2026-01-05T10:00:00.123456789Z "),
                    2 => out.extend_from_slice(b"[pod/kube-apiserver-cp1/kube-apiserver] "),
                    _ => {}
                }
                raw.write(&mut out);
                if *crlf {
                    out.push(b'\r');
                }
            }
            Item::Pretty(g, indented) => {
                let (raw, model) = make(g);
                events.extend(model);
                raw.write_pretty(if *indented { 2 } else { 0 }, &mut out);
            }
            Item::List(gens) => {
                out.extend_from_slice(b"{\n\"kind\": \"EventList\",\n\"apiVersion\": \"audit.k8s.io/v1\",\n\"items\": [\n");
                let made: Vec<(Raw, Option<Value>)> = gens.iter().map(&mut make).collect();
                // An item nested too deep makes the whole list invalid: its lines are then
                // read one by one, and only the last item (no trailing comma) parses alone.
                if gens.iter().any(|g| g.nesting == 3) {
                    events.extend(made.last().and_then(|(_, m)| m.clone()));
                } else {
                    events.extend(made.iter().filter_map(|(_, m)| m.clone()));
                }
                for (j, (raw, _)) in made.iter().enumerate() {
                    raw.write(&mut out);
                    out.extend_from_slice(if j + 1 < made.len() { b",\n" } else { b"\n" });
                }
                out.extend_from_slice(b"]\n}");
            }
            Item::Stray(array) => out.push(if *array { b'[' } else { b'{' }),
            Item::Klog(n) => {
                let _ = std::io::Write::write_fmt(
                    &mut out,
                    format_args!("I0105 10:00:00.{n:06} 1 audit.go:1] \"verb\":\"delete\" secrets alice"),
                );
            }
            Item::Blank => {}
            Item::Garbage(k) => out.extend_from_slice(match k % 5 {
                0 => b"{\"kind\":\"Event\",\"verb\":\"del" as &[u8],
                1 => b"verb=delete resource=secrets \"verb\":\"delete\"",
                2 => b"{\"kind\":\"NotEvent\",\"verb\":\"delete\",\"objectRef\":{\"resource\":\"secrets\"}}",
                3 => b"\xff\xfe not UTF-8 \"delete\"",
                _ => b"[1,2,3]",
            }),
        }
    }
    out.push(b'\n');
    (out, events)
}

fn gen_event() -> impl Strategy<Value = EventGen> {
    (
        (
            0..VERBS.len(),
            prop_oneof![6 => Just(0u8), 4 => any::<u8>()],
            0..RESOURCES.len(),
            proptest::option::weighted(0.8, 0..NAMESPACES.len()),
            0..USERS.len(),
            prop_oneof![6 => Just(0u8), 3 => any::<u8>()],
        ),
        (
            proptest::option::weighted(0.9, (0..CODES.len(), any::<u8>())),
            0..TIMES.len(),
            prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()],
            prop_oneof![12 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)],
            prop_oneof![60 => Just(0u8), 3 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)],
            proptest::bool::weighted(0.1),
        ),
    )
        .prop_map(
            |(
                (verb, verb_shape, resource, ns, user, user_shape),
                (code, time, mask, dup, nesting, trap),
            )| {
                EventGen {
                    verb,
                    verb_shape,
                    resource,
                    ns,
                    user,
                    user_shape,
                    code,
                    time,
                    mask,
                    dup,
                    nesting,
                    trap,
                }
            },
        )
}

fn gen_item() -> impl Strategy<Value = Item> {
    prop_oneof![
        20 => (gen_event(), any::<u8>(), proptest::bool::weighted(0.1))
            .prop_map(|(g, p, crlf)| Item::Line(g, if p < 200 { 0 } else { p }, crlf)),
        2 => (gen_event(), any::<bool>()).prop_map(|(g, i)| Item::Pretty(g, i)),
        1 => proptest::collection::vec(gen_event(), 0..4).prop_map(Item::List),
        2 => any::<bool>().prop_map(Item::Stray),
        1 => any::<u16>().prop_map(Item::Klog),
        1 => Just(Item::Blank),
        2 => any::<u8>().prop_map(Item::Garbage),
    ]
}

// ------------------------------------------------------------------ queries

/// A query as text and as a tree the oracle evaluates.
#[derive(Debug, Clone)]
enum Q {
    Term {
        field: &'static str,
        op: &'static str,
        values: Vec<String>,
    },
    And(Box<Q>, Box<Q>),
    Or(Box<Q>, Box<Q>),
    Not(Box<Q>),
}

impl Q {
    fn text(&self) -> String {
        match self {
            Q::Term { field, op, values } => {
                let quoted: Vec<String> = values
                    .iter()
                    .map(|v| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'")))
                    .collect();
                format!("{field}{op}{}", quoted.join(","))
            }
            Q::And(a, b) => format!("({} and {})", a.text(), b.text()),
            Q::Or(a, b) => format!("({} or {})", a.text(), b.text()),
            Q::Not(a) => format!("not {}", a.text()),
        }
    }
}

fn gen_term() -> impl Strategy<Value = Q> {
    let eq = prop_oneof![Just("="), Just("!=")];
    let re = prop_oneof![Just("~"), Just("!~")];
    let cmp = prop_oneof![Just("<"), Just("<="), Just(">"), Just(">=")];
    let pick = |pool: &'static [&'static str]| proptest::sample::select(pool.to_vec());
    let term = |field: &'static str, op: &'static str, v: &str| Q::Term {
        field,
        op,
        values: vec![v.to_string()],
    };
    prop_oneof![
        (
            eq.clone(),
            pick(&[
                "get",
                "delete",
                "list",
                "true",
                "7",
                "null",
                "deletecollection",
                "del*",
                "*ete",
                "*ru*",
                "7*",
                "nu*",
                "*"
            ])
        )
            .prop_map(move |(o, v)| term("verb", o, v)),
        (eq.clone(), pick(RESOURCES)).prop_map(move |(o, v)| term("resource", o, v)),
        (eq.clone(), pick(NAMESPACES)).prop_map(move |(o, v)| term("ns", o, v)),
        (
            eq.clone(),
            pick(&[
                "alice",
                "café",
                "日本",
                "q\"uote",
                "back\\slash",
                "system:*",
                "*ice",
                "7",
                "7*",
                "false",
                "*\u{FFFD}*",
                "\u{FFFD}alice"
            ])
        )
            .prop_map(move |(o, v)| term("user", o, v)),
        (
            eq.clone(),
            pick(&[
                "403",
                "40*",
                "4*3",
                "1e+21",
                "1*",
                "-92*",
                "0",
                "1.7976931348623157e+308",
                "*e*",
                "200"
            ])
        )
            .prop_map(move |(o, v)| term("code", o, v)),
        (cmp.clone(), pick(&["400", "500", "0", "1e300", "-1"]))
            .prop_map(move |(o, v)| term("code", o, v)),
        (
            re.clone(),
            pick(&["^del", "ete$", "^(get|list)$", "^7$", "^true$"])
        )
            .prop_map(move |(o, v)| term("verb", o, v)),
        (re, pick(&["^40", "e", "^-", "00$"])).prop_map(move |(o, v)| term("code", o, v)),
        (eq.clone(), pick(&["dev", "system:*"])).prop_map(move |(o, v)| term("group", o, v)),
        (
            eq,
            pick(&[
                "2026-01-05T10:00:00.000001Z",
                "2026-01-05T10:00:00Z",
                "2026-01-05T06:00:00-04:00",
                "2026-01-05T10:00:00+00:00"
            ])
        )
            .prop_map(move |(o, v)| term("time", o, v)),
        (
            cmp,
            pick(&["2026-01-05T10:00:00Z", "2026-01-05T09:59:59.999Z"])
        )
            .prop_map(move |(o, v)| term("time", o, v)),
        (pick(VERBS), pick(VERBS)).prop_map(|(a, b)| Q::Term {
            field: "verb",
            op: "=",
            values: vec![a.to_string(), b.to_string()],
        }),
    ]
}

fn gen_query() -> impl Strategy<Value = Q> {
    gen_term().prop_recursive(3, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Q::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Q::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Q::Not(Box::new(a))),
        ]
    })
}

// ------------------------------------------------------------------ the oracle

/// The values of a field in an event: fanned out over arrays on the way and at the end.
fn values_at<'v>(event: &'v Value, path: &[&str], out: &mut Vec<&'v Value>) {
    if let Value::Array(items) = event {
        for item in items {
            values_at(item, path, out);
        }
        return;
    }
    match path.split_first() {
        None => out.push(event),
        Some((k, rest)) => {
            if let Some(child) = event.get(*k) {
                values_at(child, rest, out);
            }
        }
    }
}

/// A number as Go's encoding/json writes a float64 (zero is `0`).
fn go_number(v: &serde_json::Number) -> String {
    if let Some(i) = v.as_i64() {
        return i.to_string();
    }
    if let Some(u) = v.as_u64() {
        return u.to_string();
    }
    let f = v.as_f64().unwrap_or(0.0);
    if f == 0.0 {
        return "0".into();
    }
    if (1e-6..1e21).contains(&f.abs()) {
        return format!("{f}");
    }
    let e = format!("{f:e}");
    match e.split_once('e') {
        Some((m, x)) if !x.starts_with('-') => format!("{m}e+{x}"),
        _ => e,
    }
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".into()),
        Value::Number(n) => Some(go_number(n)),
        _ => None,
    }
}

/// A number written as one: digits, signs, a point, an exponent (not `inf`, `NaN`).
fn as_number(text: &str) -> Option<f64> {
    let t = text.trim();
    let numeric = !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c));
    numeric.then(|| t.parse().ok()).flatten()
}

fn instant(text: &str) -> Option<i128> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos()))
}

fn glob(pattern: &str, text: &str) -> bool {
    let re = format!(
        "^{}$",
        pattern
            .split('*')
            .map(regex::escape)
            .collect::<Vec<_>>()
            .join(".*")
    );
    regex::Regex::new(&re).unwrap().is_match(text)
}

fn eval(q: &Q, ev: &Value) -> bool {
    match q {
        Q::And(a, b) => eval(a, ev) && eval(b, ev),
        Q::Or(a, b) => eval(a, ev) || eval(b, ev),
        Q::Not(a) => !eval(a, ev),
        Q::Term { field, op, values } => {
            let path: Vec<&str> = match *field {
                "verb" => vec!["verb"],
                "resource" => vec!["objectRef", "resource"],
                "ns" => vec!["objectRef", "namespace"],
                "user" => vec!["user", "username"],
                "group" => vec!["user", "groups"],
                "code" => vec!["responseStatus", "code"],
                "time" => vec!["requestReceivedTimestamp"],
                other => panic!("no path for {other}"),
            };
            let mut found = Vec::new();
            values_at(ev, &path, &mut found);
            let positive = match *op {
                "!=" => "=",
                "!~" => "~",
                o => o,
            };
            let any = found.iter().any(|v| {
                values.iter().any(|want| match positive {
                    "=" if want == "*" => true,
                    "=" if want.len() >= 16 && instant(want).is_some() => {
                        v.as_str().and_then(instant) == instant(want)
                    }
                    "=" if want.contains('*') => text_of(v).is_some_and(|t| glob(want, &t)),
                    "=" => match (as_number(want), v.as_f64()) {
                        (Some(n), Some(x)) => n == x,
                        _ => text_of(v).as_deref() == Some(want.as_str()),
                    },
                    "~" => {
                        text_of(v).is_some_and(|t| regex::Regex::new(want).unwrap().is_match(&t))
                    }
                    cmp => {
                        let ordering = match (as_number(want), instant(want)) {
                            (Some(n), _) => v
                                .as_f64()
                                .or_else(|| v.as_str().and_then(as_number))
                                .and_then(|x| x.partial_cmp(&n)),
                            (None, Some(t)) => v.as_str().and_then(instant).map(|x| x.cmp(&t)),
                            _ => None,
                        };
                        ordering.is_some_and(|o| match cmp {
                            "<" => o.is_lt(),
                            "<=" => o.is_le(),
                            ">" => o.is_gt(),
                            _ => o.is_ge(),
                        })
                    }
                })
            });
            if *op == "!=" || *op == "!~" {
                !any
            } else {
                any
            }
        }
    }
}

// ------------------------------------------------------------------ running auditq

/// How a run reads its input.
#[derive(Debug, Clone, Copy)]
struct Way {
    prefilter: bool,
    threads: usize,
    block_size: usize,
    /// A pipe handing out at most this many bytes per read.
    dribble: Option<usize>,
}

const BASE: Way = Way {
    prefilter: true,
    threads: 2,
    block_size: 1 << 20,
    dribble: None,
};

fn search(log: &[u8], query: &str, way: Way) -> Vec<u8> {
    let expr = parse_query(&[query.to_string()]).unwrap_or_else(|e| panic!("{query}: {e}"));
    let plan = Arc::new(Plan::jsonl(expr, way.prefilter));
    let input = Target::whole(Input::memory("gen.log", log.to_vec(), way.dribble), 0);
    let options = Options {
        threads: way.threads,
        block_size: way.block_size,
        ..Options::default()
    };
    let mut out = Vec::new();
    let mut err = Vec::new();
    {
        let writer = EventWriter::new(Format::Jsonl, false);
        let mut sink = Printer::new(&writer, &mut out);
        search::run(&[input], plan, &options, &mut sink, &mut err).expect("in-memory search");
    }
    out
}

/// The auditIDs of the printed events, in order.
fn audit_ids(output: &[u8]) -> Vec<String> {
    let re = regex::bytes::Regex::new(r#""auditID":"(e\d+)""#).unwrap();
    output
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            let caps = re
                .captures(line)
                .unwrap_or_else(|| panic!("no auditID in {}", String::from_utf8_lossy(line)));
            String::from_utf8_lossy(&caps[1]).into_owned()
        })
        .collect()
}

fn gen_way() -> impl Strategy<Value = Way> {
    prop_oneof![
        Just(Way {
            prefilter: false,
            ..BASE
        }),
        Just(Way { threads: 1, ..BASE }),
        (64usize..5000).prop_map(|b| Way {
            block_size: b,
            ..BASE
        }),
        (1usize..300).prop_map(|d| Way {
            dribble: Some(d),
            ..BASE
        }),
        (64usize..2000, any::<bool>()).prop_map(|(b, p)| Way {
            prefilter: p,
            threads: 2,
            block_size: b,
            dribble: Some(b / 3 + 1),
        }),
    ]
}

fn cases() -> u32 {
    std::env::var("AUDITQ_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn every_path_agrees_and_matches_the_oracle(
        items in proptest::collection::vec(gen_item(), 1..40),
        query in gen_query(),
        way in gen_way(),
    ) {
        let (log, events) = render(&items);
        let text = query.text();
        let base = search(&log, &text, BASE);
        let expected: Vec<String> = events
            .iter()
            .filter(|e| eval(&query, e))
            .map(|e| e["auditID"].as_str().unwrap().to_string())
            .collect();
        prop_assert_eq!(audit_ids(&base), expected, "oracle, query {}", text);
        let other = search(&log, &text, way);
        prop_assert!(
            base == other,
            "{:?} differs for {}:\n{}\nvs\n{}",
            way,
            text,
            String::from_utf8_lossy(&base),
            String::from_utf8_lossy(&other)
        );
    }
}

// ------------------------------------------------------------------ the issue's cases

fn count(log: &str, query: &str, way: Way) -> usize {
    search(log.as_bytes(), query, way)
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count()
}

fn all_ways(log: &str, query: &str) -> usize {
    let n = count(log, query, BASE);
    for way in [
        Way {
            prefilter: false,
            ..BASE
        },
        Way {
            threads: 1,
            block_size: 64,
            ..BASE
        },
        Way {
            dribble: Some(3),
            ..BASE
        },
    ] {
        assert_eq!(count(log, query, way), n, "{way:?} for {query} on {log:?}");
    }
    n
}

#[test]
fn case_1_globs_on_numbers_with_exponent_or_fraction() {
    let log = r#"{"kind":"Event","auditID":"n1","responseStatus":{"code":4.03e2}}
{"kind":"Event","auditID":"n2","responseStatus":{"code":1e2}}
"#;
    assert_eq!(all_ways(log, "code=40*"), 1);
    assert_eq!(all_ways(log, "code=10*"), 1);
    assert_eq!(all_ways(log, "code=403"), 1);
}

#[test]
fn case_2_quoted_needles_on_non_strings() {
    let log = r#"{"kind":"Event","auditID":"b1","verb":true,"user":{"username":7}}
"#;
    assert_eq!(all_ways(log, "verb=true"), 1);
    assert_eq!(all_ways(log, "user=7*"), 1);
    assert_eq!(all_ways(log, "user=7"), 1);
}

#[test]
fn case_3_a_lone_opener_swallows_nothing() {
    let event = r#"{"kind":"Event","auditID":"x","verb":"delete"}"#;
    for opener in ["{", "["] {
        let log = format!("{opener}\n{event}\n{event}\n");
        assert_eq!(all_ways(&log, "verb=delete"), 2, "{opener}");
        let many: String = std::iter::once(format!("{opener}\n"))
            .chain((0..40_000).map(|_| format!("{event}\n")))
            .collect();
        assert_eq!(all_ways(&many, "verb=delete"), 40_000, "{opener} + 40,000");
    }
}

#[test]
fn case_4_pretty_event_without_indentation() {
    let log = "{\n\"kind\":\"Event\",\n\"verb\":\"delete\"\n}\n";
    assert_eq!(all_ways(log, "verb=delete"), 1);
}

#[test]
fn case_6_deep_nesting_never_aborts() {
    let deep = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    let ip = format!(r#"{{"kind":"Event","sourceIPs":{}}}"#, deep(19_000));
    assert_eq!(
        all_ways(&ip, "ip=1"),
        0,
        "beyond the limit: invalid, counted"
    );
    assert_eq!(all_ways(&deep(26_000), "verb=x"), 0);
    let obj = format!(
        r#"{{"kind":"Event","requestObject":{}1{}}}"#,
        "{\"a\":".repeat(16_000),
        "}".repeat(16_000)
    );
    assert_eq!(all_ways(&obj, ""), 0);
    let ok = format!(r#"{{"kind":"Event","sourceIPs":{}}}"#, deep(9_999));
    assert_eq!(all_ways(&ok, "ip=1"), 1, "within the limit");
}

#[test]
fn case_7_numbers_beyond_64_bits_keep_the_event() {
    for n in [
        "18446744073709551616",
        "-9223372036854775809",
        "1e400",
        "-1e400",
    ] {
        let log = format!(
            r#"{{"kind":"Event","verb":"delete","requestObject":{{"spec":{{"size":{n}}}}}}}"#
        );
        assert_eq!(all_ways(&log, "verb=delete"), 1, "{n}");
    }
}

#[test]
fn case_8_duplicate_keys_last_one_wins() {
    let log = r#"{"kind":"Event","verb":"get","verb":"delete"}
{"kind":"Event","verb":"get","v\u0065rb":"delete"}
{"kind":"Event","kind":"List","verb":"delete"}
"#;
    assert_eq!(all_ways(log, "verb=delete"), 2);
    assert_eq!(all_ways(log, "verb=get"), 0);
}

#[test]
fn case_9_invalid_surrogates_read_as_replacement_characters() {
    let log = r#"{"kind":"Event","verb":"delete","user":{"username":"\ud800"}}
{"kind":"Event","verb":"delete","user":{"username":"\udc00"}}
{"kind":"Event","verb":"delete","user":{"username":"\ud800\u0041"}}
"#;
    assert_eq!(all_ways(log, "verb=delete"), 3);
    assert_eq!(all_ways(log, "user='\u{FFFD}'"), 2);
    assert_eq!(all_ways(log, "user='\u{FFFD}A'"), 1);
}

#[test]
fn case_10_times_are_instants_beyond_1677_and_2262() {
    let log = r#"{"kind":"Event","requestReceivedTimestamp":"2026-01-05T10:00:00Z"}
{"kind":"Event","requestReceivedTimestamp":"1500-01-01T00:00:00Z"}
{"kind":"Event","requestReceivedTimestamp":"2500-01-01T00:00:00Z"}
"#;
    assert_eq!(all_ways(log, "time=2026-01-05T06:00:00-04:00"), 1);
    assert_eq!(all_ways(log, "time<1600-01-01T00:00:00Z"), 1);
    assert_eq!(all_ways(log, "time>2400-01-01T00:00:00Z"), 1);
}

#[test]
fn case_10_regex_on_resource_with_a_slash_sees_the_subresource() {
    let log = r#"{"kind":"Event","objectRef":{"resource":"pods","subresource":"exec"}}
{"kind":"Event","objectRef":{"resource":"pods"}}
"#;
    assert_eq!(all_ways(log, "resource~^pods/exec$"), 1);
    assert_eq!(all_ways(log, "resource~^pods$"), 2);
}

#[test]
fn case_10_quoted_field_names_are_keys() {
    let log = r#"{"kind":"Event","user":{"username":"alice"}}
"#;
    assert_eq!(all_ways(log, "user=alice"), 1);
    assert_eq!(all_ways(log, "'user'=alice"), 0);
    assert_eq!(all_ways(log, "\"user\"=alice"), 0);
}
