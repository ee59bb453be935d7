//! `--summary`: what matched, instead of the events. The workers extract the texts of
//! [`key_fields`] for each match (in parallel, as for `--count-by`); this sink counts them
//! and prints short tables, or one JSON document with `-o json`.

use super::sinks::{Matched, Sink, Totals};
use super::tally::{self, JsonRow, Others, Tally, Top};
use crate::query::fields::{self, FieldRef};
use crate::timefmt::{self, Nanos};
use serde::Serialize;
use std::collections::HashMap;
use std::io::{self, Write};

/// Positions in [`key_fields`].
const TIME: usize = 0;
const VERB: usize = 1;
const CODE: usize = 2;
const STAGE: usize = 3;
const USER: usize = 4;
const RESOURCE: usize = 5;
const NAMESPACE: usize = 6;
const IP: usize = 7;
const AGENT: usize = 8;

const NANOS_PER_MINUTE: Nanos = 60_000_000_000;

/// The fields a summary needs from each match, in the order of the constants above.
pub fn key_fields() -> Vec<FieldRef> {
    vec![
        fields::named("time"),
        fields::named("verb"),
        fields::named("code"),
        fields::named("stage"),
        fields::named("user"),
        FieldRef::resource_path("resource"),
        fields::named("ns"),
        fields::named("ip"),
        fields::named("ua"),
    ]
}

/// Response code classes, in the order they are shown.
const CLASSES: [&str; 7] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other", "none"];

/// The class of a response code as `field_text` gives it (`403`; empty when missing).
fn code_class(code: &str) -> usize {
    if code.is_empty() {
        return 6;
    }
    match code.parse::<f64>() {
        Ok(c) if (100.0..600.0).contains(&c) && c.fract() == 0.0 => (c as usize) / 100 - 1,
        _ => 5,
    }
}

/// The counts behind a summary.
#[derive(Debug, Default)]
struct Counts {
    events: u64,
    first: Option<Nanos>,
    last: Option<Nanos>,
    untimed: u64,
    minutes: HashMap<i128, u64>,
    verbs: Tally,
    classes: [u64; 7],
    stages: Tally,
    users: Tally,
    resources: Tally,
    namespaces: Tally,
    ips: Tally,
    agents: Tally,
    forbidden: Tally,
    forbidden_resources: Tally,
    failed: Tally,
    failed_resources: Tally,
}

impl Counts {
    fn add(&mut self, key: &[String]) {
        let field = |i: usize| key.get(i).map_or("", String::as_str);
        self.events += 1;
        match timefmt::parse_timestamp(field(TIME)) {
            Some(t) => {
                self.first = Some(self.first.map_or(t, |f| f.min(t)));
                self.last = Some(self.last.map_or(t, |l| l.max(t)));
                *self
                    .minutes
                    .entry(t.div_euclid(NANOS_PER_MINUTE))
                    .or_default() += 1;
            }
            None => self.untimed += 1,
        }
        self.verbs.add(field(VERB));
        let class = code_class(field(CODE));
        self.classes[class] += 1;
        self.stages.add(field(STAGE));
        self.users.add(field(USER));
        self.resources.add(field(RESOURCE));
        self.namespaces.add(field(NAMESPACE));
        // The first of sourceIPs: where the request says it came from.
        self.ips.add(field(IP).split(',').next().unwrap_or(""));
        self.agents.add(field(AGENT));
        if field(CODE) == "403" {
            self.forbidden.add(field(USER));
            self.forbidden_resources.add(field(RESOURCE));
        }
        if class == 4 {
            self.failed.add(field(USER));
            self.failed_resources.add(field(RESOURCE));
        }
    }

    /// The busiest minute (the earliest of equally busy ones): its start and count.
    fn busiest(&self) -> Option<(Nanos, u64)> {
        self.minutes
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(m, n)| (m * NANOS_PER_MINUTE, *n))
    }
}

/// `--summary`.
pub struct Summary<W: Write> {
    out: W,
    top: usize,
    json: bool,
    counts: Counts,
}

impl<W: Write> Summary<W> {
    /// A summary with `top` rows per table, as tables or (`json`) one JSON document.
    pub fn new(top: usize, json: bool, out: W) -> Self {
        Summary {
            out,
            top: top.max(1),
            json,
            counts: Counts::default(),
        }
    }
}

impl<W: Write> Sink for Summary<W> {
    fn event(&mut self, event: &Matched<'_>) -> io::Result<()> {
        self.counts.add(event.key);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, _: &Totals) -> io::Result<()> {
        let text = if self.json {
            let mut text = serde_json::to_string_pretty(&json_doc(&self.counts, self.top))
                .map_err(io::Error::other)?;
            text.push('\n');
            text
        } else {
            human(&self.counts, self.top)
        };
        self.out.write_all(text.as_bytes())?;
        self.out.flush()
    }
}

/// The tables people read.
fn human(c: &Counts, top: usize) -> String {
    let mut head: Vec<(&str, String)> = vec![("events", c.events.to_string())];
    if let (Some(first), Some(last)) = (c.first, c.last) {
        head.push(("first", timefmt::format_nanos(first)));
        head.push((
            "last",
            format!(
                "{} ({} after the first)",
                timefmt::format_nanos(last),
                tally::approx_duration(last - first)
            ),
        ));
    }
    if c.untimed > 0 {
        head.push(("without a time", c.untimed.to_string()));
    }
    if let Some((start, n)) = c.busiest() {
        head.push((
            "busiest minute",
            format!(
                "{} ({n} events)",
                timefmt::format_nanos_with(start, "%Y-%m-%dT%H:%MZ")
            ),
        ));
    }
    let forbidden = c.forbidden.total();
    let failed = c.failed.total();
    if c.events > 0 {
        head.push(("forbidden (403)", forbidden.to_string()));
        head.push(("failed (5xx)", failed.to_string()));
    }
    let label_width = head.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (label, value) in &head {
        out.push_str(&format!("{label:<label_width$}  {value}\n"));
    }
    if c.events == 0 {
        return out;
    }
    let classes = Top {
        rows: CLASSES
            .iter()
            .zip(c.classes)
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| (*name, n))
            .collect(),
        others: Others::default(),
    };
    let mut tables = vec![
        tally::counts_table("VERB", &c.verbs.top(top), c.events),
        tally::counts_table("CODE", &classes, c.events),
        tally::counts_table("STAGE", &c.stages.top(top), c.events),
        tally::counts_table("USER", &c.users.top(top), c.events),
        tally::counts_table("RESOURCE", &c.resources.top(top), c.events),
        tally::counts_table("NAMESPACE", &c.namespaces.top(top), c.events),
        tally::counts_table("SOURCE IP", &c.ips.top(top), c.events),
        tally::counts_table("USER AGENT", &c.agents.top(top), c.events),
    ];
    if forbidden > 0 {
        tables.push(tally::counts_table(
            "FORBIDDEN (403) USER",
            &c.forbidden.top(top),
            forbidden,
        ));
        tables.push(tally::counts_table(
            "FORBIDDEN (403) RESOURCE",
            &c.forbidden_resources.top(top),
            forbidden,
        ));
    }
    if failed > 0 {
        tables.push(tally::counts_table(
            "FAILED (5xx) USER",
            &c.failed.top(top),
            failed,
        ));
        tables.push(tally::counts_table(
            "FAILED (5xx) RESOURCE",
            &c.failed_resources.top(top),
            failed,
        ));
    }
    for table in tables {
        out.push('\n');
        out.push_str(&table);
    }
    out
}

/// The JSON document of `--summary -o json` (its shape is documented in docs/query.md).
#[derive(Debug, Serialize)]
struct JsonDoc {
    events: u64,
    first: Option<String>,
    last: Option<String>,
    untimed: u64,
    busiest_minute: Option<JsonMinute>,
    verbs: JsonList,
    codes: JsonCodes,
    stages: JsonList,
    users: JsonList,
    resources: JsonList,
    namespaces: JsonList,
    source_ips: JsonList,
    user_agents: JsonList,
    forbidden: JsonProblems,
    failed: JsonProblems,
}

#[derive(Debug, Serialize)]
struct JsonMinute {
    start: String,
    count: u64,
}

/// A top-N list: its rows and what was left out.
#[derive(Debug, Serialize)]
struct JsonList {
    rows: Vec<JsonRow>,
    others: Others,
}

#[derive(Debug, Serialize)]
struct JsonCodes {
    #[serde(rename = "1xx")]
    c1: u64,
    #[serde(rename = "2xx")]
    c2: u64,
    #[serde(rename = "3xx")]
    c3: u64,
    #[serde(rename = "4xx")]
    c4: u64,
    #[serde(rename = "5xx")]
    c5: u64,
    other: u64,
    none: u64,
}

#[derive(Debug, Serialize)]
struct JsonProblems {
    count: u64,
    users: JsonList,
    resources: JsonList,
}

fn list(tally: &Tally, top: usize) -> JsonList {
    let top = tally.top(top);
    JsonList {
        rows: top.json_rows(),
        others: top.others,
    }
}

fn json_doc(c: &Counts, top: usize) -> JsonDoc {
    let [c1, c2, c3, c4, c5, other, none] = c.classes;
    JsonDoc {
        events: c.events,
        first: c.first.map(timefmt::format_nanos_exact),
        last: c.last.map(timefmt::format_nanos_exact),
        untimed: c.untimed,
        busiest_minute: c.busiest().map(|(start, count)| JsonMinute {
            start: timefmt::format_nanos_exact(start),
            count,
        }),
        verbs: list(&c.verbs, top),
        codes: JsonCodes {
            c1,
            c2,
            c3,
            c4,
            c5,
            other,
            none,
        },
        stages: list(&c.stages, top),
        users: list(&c.users, top),
        resources: list(&c.resources, top),
        namespaces: list(&c.namespaces, top),
        source_ips: list(&c.ips, top),
        user_agents: list(&c.agents, top),
        forbidden: JsonProblems {
            count: c.forbidden.total(),
            users: list(&c.forbidden, top),
            resources: list(&c.forbidden_resources, top),
        },
        failed: JsonProblems {
            count: c.failed.total(),
            users: list(&c.failed, top),
            resources: list(&c.failed_resources, top),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(time: &str, verb: &str, code: &str, user: &str, resource: &str) -> Vec<String> {
        [
            time,
            verb,
            code,
            "ResponseComplete",
            user,
            resource,
            "ns",
            "10.0.0.1,10.0.0.2",
            "kubectl",
        ]
        .map(str::to_string)
        .to_vec()
    }

    fn summary(keys: &[Vec<String>], top: usize, json: bool) -> String {
        let mut out = Vec::new();
        let mut s = Summary::new(top, json, &mut out);
        for k in keys {
            s.event(&Matched {
                text: b"",
                key: k,
                meta: None,
                row: None,
            })
            .unwrap();
        }
        s.finish(&Totals::default()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn key_fields_are_in_order() {
        let names: Vec<String> = key_fields().into_iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "time", "verb", "code", "stage", "user", "resource", "ns", "ip", "ua"
            ]
        );
        assert_eq!(key_fields()[NAMESPACE].paths, [["objectRef", "namespace"]]);
    }

    #[test]
    fn code_classes() {
        let class = |c: &str| CLASSES[code_class(c)];
        assert_eq!(class("200"), "2xx");
        assert_eq!(class("101"), "1xx");
        assert_eq!(class("403"), "4xx");
        assert_eq!(class("599"), "5xx");
        assert_eq!(class("600"), "other");
        assert_eq!(class("42"), "other");
        assert_eq!(class("abc"), "other");
        assert_eq!(class(""), "none");
    }

    #[test]
    fn aggregates() {
        let keys = vec![
            key("2026-01-05T10:00:59.5Z", "get", "200", "alice", "pods"),
            key("2026-01-05T10:01:00Z", "get", "403", "bob", "secrets"),
            key("2026-01-05T10:01:30Z", "delete", "500", "bob", "pods/exec"),
            key("2026-01-05T09:59:00Z", "get", "", "alice", ""),
            key("", "list", "201", "", "pods"),
        ];
        let mut c = Counts::default();
        for k in &keys {
            c.add(k);
        }
        assert_eq!(c.events, 5);
        assert_eq!(c.untimed, 1);
        assert_eq!(
            c.first.map(timefmt::format_nanos),
            Some("2026-01-05T09:59:00.000Z".into())
        );
        assert_eq!(
            c.last.map(timefmt::format_nanos),
            Some("2026-01-05T10:01:30.000Z".into())
        );
        let (start, n) = c.busiest().unwrap();
        assert_eq!(
            (timefmt::format_nanos(start).as_str(), n),
            ("2026-01-05T10:01:00.000Z", 2)
        );
        assert_eq!(c.classes, [0, 2, 0, 1, 1, 0, 1]);
        assert_eq!(c.verbs.sorted(), [("get", 3), ("delete", 1), ("list", 1)]);
        assert_eq!(c.forbidden.sorted(), [("bob", 1)]);
        assert_eq!(c.failed_resources.sorted(), [("pods/exec", 1)]);
        assert_eq!(c.ips.sorted(), [("10.0.0.1", 5)]);
    }

    #[test]
    fn busiest_minute_ties_go_to_the_earliest() {
        let mut c = Counts::default();
        for t in [
            "2026-01-05T10:05:00Z",
            "2026-01-05T10:01:00Z",
            "2026-01-05T10:03:00Z",
        ] {
            c.add(&key(t, "get", "200", "a", "pods"));
        }
        let (start, n) = c.busiest().unwrap();
        assert_eq!(
            (timefmt::format_nanos(start).as_str(), n),
            ("2026-01-05T10:01:00.000Z", 1)
        );
    }

    #[test]
    fn human_layout() {
        let keys = vec![
            key("2026-01-05T10:00:00Z", "get", "200", "alice", "pods"),
            key("2026-01-05T10:00:30Z", "get", "403", "bob", "secrets"),
            key("2026-01-05T10:02:00Z", "delete", "200", "alice", "pods"),
        ];
        let text = summary(&keys, 1, false);
        assert!(
            text.starts_with(
                "events           3\n\
                 first            2026-01-05T10:00:00.000Z\n\
                 last             2026-01-05T10:02:00.000Z (2m 0s after the first)\n\
                 busiest minute   2026-01-05T10:00Z (2 events)\n\
                 forbidden (403)  1\n\
                 failed (5xx)     0\n\n\
                 VERB       EVENTS      %\n\
                 get             2   66.7\n\
                 … 1 other       1   33.3\n\n\
                 CODE  EVENTS      %\n\
                 2xx        2   66.7\n\
                 4xx        1   33.3\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "\nFORBIDDEN (403) USER  EVENTS      %\nbob                        1  100.0\n"
            ),
            "{text}"
        );
        assert!(!text.contains("FAILED"), "{text}");
        assert_eq!(summary(&[], 10, false), "events  0\n");
    }

    #[test]
    fn json_document() {
        let keys = vec![
            key("2026-01-05T10:00:00.000001Z", "get", "200", "alice", "pods"),
            key("2026-01-05T10:00:30Z", "get", "503", "", "secrets"),
        ];
        let v: serde_json::Value = serde_json::from_str(&summary(&keys, 1, true)).unwrap();
        assert_eq!(v["events"], 2);
        assert_eq!(v["first"], "2026-01-05T10:00:00.000001Z");
        assert_eq!(v["last"], "2026-01-05T10:00:30Z");
        assert_eq!(v["busiest_minute"]["count"], 2);
        assert_eq!(v["codes"]["2xx"], 1);
        assert_eq!(v["codes"]["5xx"], 1);
        assert_eq!(
            v["verbs"]["rows"][0],
            serde_json::json!({"value": "get", "count": 2})
        );
        assert_eq!(v["users"]["rows"][0]["value"], serde_json::Value::Null);
        assert_eq!(
            v["users"]["others"],
            serde_json::json!({"values": 1, "count": 1})
        );
        assert_eq!(v["failed"]["count"], 1);
        assert_eq!(v["failed"]["resources"]["rows"][0]["value"], "secrets");
        assert_eq!(v["forbidden"]["count"], 0);
        let empty: serde_json::Value = serde_json::from_str(&summary(&[], 3, true)).unwrap();
        assert_eq!(empty["events"], 0);
        assert!(empty["first"].is_null() && empty["busiest_minute"].is_null());
    }
}
