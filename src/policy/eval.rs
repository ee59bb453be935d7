//! `auditq policy eval`: a log replayed through a policy. Each event the search hands on
//! (its text and [`KEY_FIELDS`]) gets the attributes the apiserver evaluated the policy
//! with, the policy's decision, and the bytes it would be written with at that level.

use super::{Attributes, Decision, Level, Policy, Stage};
use crate::parse::{Json, Parser, write_json_string};
use crate::sink::{Matched, Sink, Totals};
use crate::timefmt::Nanos;
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::PathBuf;

/// The fields each worker extracts for the policy (in this order).
pub const KEY_FIELDS: &str = "user.username,user.groups,verb,objectRef.apiGroup,objectRef.resource,objectRef.subresource,objectRef.namespace,objectRef.name,requestURI,stage,level,stageTimestamp";

/// The attributes the apiserver evaluated the policy with, from an event's key fields.
fn attributes(key: &[String]) -> Attributes {
    let get = |i: usize| key.get(i).cloned().unwrap_or_default();
    let verb = get(2);
    let subresource = get(5);
    let resource = get(4);
    // The name of an object being created is not known when the policy is evaluated
    // (it is not in the URL), except for a subresource of an existing object.
    let name = if verb == "create" && subresource.is_empty() {
        String::new()
    } else {
        get(7)
    };
    let uri = get(8);
    Attributes {
        user: Some(get(0)),
        groups: get(1)
            .split(',')
            .filter(|g| !g.is_empty())
            .map(String::from)
            .collect(),
        verb,
        resource_request: !resource.is_empty(),
        api_group: get(3),
        resource,
        subresource,
        namespace: get(6),
        name,
        path: uri.split('?').next().unwrap_or_default().to_string(),
    }
}

/// What one policy gives one event.
struct Outcome {
    decision: Decision,
    /// Logged at all (level above None, stage not omitted).
    logged: bool,
    /// Bytes written for it at that level.
    bytes: u64,
}

#[derive(Default, Clone)]
struct Tally {
    events: u64,
    bytes: u64,
}

struct PolicyStats {
    path: PathBuf,
    policy: Policy,
    /// Per rule, then "no rule" last.
    rules: Vec<Tally>,
    dropped_stage: Tally,
    logged: Tally,
    /// Events this policy logs at a higher level than the log has them.
    upward: u64,
}

impl PolicyStats {
    fn new(path: PathBuf, policy: Policy) -> Self {
        let n = policy.rules.len() + 1;
        PolicyStats {
            path,
            policy,
            rules: vec![Tally::default(); n],
            dropped_stage: Tally::default(),
            logged: Tally::default(),
            upward: 0,
        }
    }
}

/// The event as the apiserver would write it at `decision`'s level: request and
/// response objects dropped below their level, managedFields dropped when the rule says
/// so, `level` set. Read with the parser every search uses (the same repairs of what Go
/// reads), so what a search reads as an event can always be trimmed; `None` only for
/// text that is not a JSON object.
fn trimmed(parser: &mut Parser, text: &[u8], decision: &Decision) -> Option<Vec<u8>> {
    let text = text.trim_ascii();
    parser
        .with_parsed(text, |root| {
            if !root.is_object() {
                return None;
            }
            let mut out = Vec::with_capacity(text.len());
            out.push(b'{');
            let mut first = true;
            let mut wrote_level = false;
            for (key, value) in root.entries() {
                let drop = match key {
                    "requestObject" => decision.level < Level::Request,
                    "responseObject" => decision.level < Level::RequestResponse,
                    _ => false,
                };
                if drop {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                write_json_string(key, &mut out);
                out.push(b':');
                if key == "level" {
                    wrote_level = true;
                    write_json_string(decision.level.as_str(), &mut out);
                } else if decision.omit_managed_fields
                    && matches!(key, "requestObject" | "responseObject")
                    && value.is_object()
                {
                    write_without_managed_fields(value, &mut out);
                } else {
                    value.write_json(&mut out);
                }
            }
            if !wrote_level {
                if !first {
                    out.push(b',');
                }
                out.extend_from_slice(b"\"level\":");
                write_json_string(decision.level.as_str(), &mut out);
            }
            out.push(b'}');
            Some(out)
        })
        .ok()
        .flatten()
}

/// An object with its `metadata.managedFields` left out.
fn write_without_managed_fields(object: Json<'_, '_>, out: &mut Vec<u8>) {
    out.push(b'{');
    crate::envelope::write_members_except(object, Some("metadata"), "managedFields", out);
    out.push(b'}');
}

/// The event as this policy would write it: the line as it is when the level is the
/// same and nothing is trimmed, else re-written by [`trimmed`] (`None`: not an object,
/// which a search never hands on as an event).
fn written<'t>(
    parser: &mut Parser,
    text: &'t [u8],
    decision: &Decision,
    original: Option<Level>,
) -> Option<Cow<'t, [u8]>> {
    let text = text.trim_ascii();
    if original == Some(decision.level) && !decision.omit_managed_fields {
        return Some(Cow::Borrowed(text));
    }
    trimmed(parser, text, decision).map(Cow::Owned)
}

/// `auditq policy eval`'s sink: each event (its text and [`KEY_FIELDS`]) judged by one
/// policy, or two with `--diff`; the report (or with `--keep` the events the first policy
/// logs, trimmed to its level) written at the end.
pub struct EvalSink<'w> {
    out: Box<dyn Write + 'w>,
    keep: bool,
    json: bool,
    stats: Vec<PolicyStats>,
    input: Tally,
    first_time: Option<Nanos>,
    last_time: Option<Nanos>,
    /// With --diff: (verb, resource) → (events logged by A only, by B only, at a different level).
    differ: HashMap<String, [u64; 3]>,
    buffer: Vec<u8>,
    parser: Parser,
}

impl<'w> EvalSink<'w> {
    /// A sink judging events by `policies` (one, or two to compare), each with the path
    /// it was read from.
    pub fn new(
        out: Box<dyn Write + 'w>,
        policies: Vec<(PathBuf, Policy)>,
        keep: bool,
        json: bool,
    ) -> EvalSink<'w> {
        EvalSink {
            out,
            keep,
            json,
            stats: policies
                .into_iter()
                .map(|(path, policy)| PolicyStats::new(path, policy))
                .collect(),
            input: Tally::default(),
            first_time: None,
            last_time: None,
            differ: HashMap::new(),
            buffer: Vec::new(),
            parser: Parser::default(),
        }
    }

    /// Events the first policy logs.
    pub fn logged_events(&self) -> u64 {
        self.stats.first().map_or(0, |s| s.logged.events)
    }
}

/// Text a search handed on as an event that is not a JSON object (never expected).
fn not_an_object() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "an event is not a JSON object and cannot be trimmed",
    )
}

impl EvalSink<'_> {
    fn outcome(
        parser: &mut Parser,
        policy: &Policy,
        key: &[String],
        text: &[u8],
    ) -> io::Result<Outcome> {
        let attrs = attributes(key);
        let decision = super::evaluate(policy, &attrs);
        let stage = Stage::parse(key.get(9).map(String::as_str).unwrap_or(""));
        let logged = decision.level > Level::None
            && !stage.is_some_and(|s| decision.omit_stages.contains(s));
        let original = Level::parse(key.get(10).map(String::as_str).unwrap_or(""));
        let bytes = if logged {
            written(parser, text, &decision, original)
                .ok_or_else(not_an_object)?
                .len() as u64
                + 1
        } else {
            0
        };
        Ok(Outcome {
            decision,
            logged,
            bytes,
        })
    }
}

impl Sink for EvalSink<'_> {
    fn event(&mut self, event: &Matched<'_>) -> io::Result<()> {
        self.input.events += 1;
        self.input.bytes += event.text.trim_ascii_end().len() as u64 + 1;
        if let Some(t) = event
            .key
            .get(11)
            .and_then(|t| crate::timefmt::parse_timestamp(t))
        {
            self.first_time = Some(self.first_time.map_or(t, |f| f.min(t)));
            self.last_time = Some(self.last_time.map_or(t, |l| l.max(t)));
        }
        let original = Level::parse(event.key.get(10).map(String::as_str).unwrap_or(""));
        let mut outcomes = Vec::with_capacity(self.stats.len());
        for s in &mut self.stats {
            let o = Self::outcome(&mut self.parser, &s.policy, event.key, event.text)?;
            let slot = o.decision.rule.unwrap_or(s.policy.rules.len());
            s.rules[slot].events += 1;
            if o.logged {
                s.rules[slot].bytes += o.bytes;
                s.logged.events += 1;
                s.logged.bytes += o.bytes;
                if original.is_some_and(|l| l < o.decision.level) {
                    s.upward += 1;
                }
            } else if o.decision.level > Level::None {
                s.dropped_stage.events += 1;
            }
            outcomes.push(o);
        }
        if self.keep {
            let o = &outcomes[0];
            if o.logged {
                self.buffer.clear();
                let text = written(&mut self.parser, event.text, &o.decision, original)
                    .ok_or_else(not_an_object)?;
                self.buffer.extend_from_slice(&text);
                self.buffer.push(b'\n');
                self.out.write_all(&self.buffer)?;
            }
        }
        if let [a, b] = outcomes.as_slice() {
            let index = match (a.logged, b.logged) {
                (true, false) => Some(0),
                (false, true) => Some(1),
                (true, true) if a.decision.level != b.decision.level => Some(2),
                _ => None,
            };
            if let Some(i) = index {
                let k = event.key;
                let what = match (k[4].as_str(), k[5].as_str()) {
                    ("", _) => format!("{} {}", k[2], k[8].split('?').next().unwrap_or("")),
                    (r, "") => format!("{} {r}", k[2]),
                    (r, s) => format!("{} {r}/{s}", k[2]),
                };
                self.differ.entry(what).or_default()[i] += 1;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self, _: &Totals) -> io::Result<()> {
        if !self.keep {
            let text = if self.json {
                self.json_report()
            } else {
                self.report()
            };
            self.out.write_all(text.as_bytes())?;
        }
        self.out.flush()
    }
}

fn human(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

impl EvalSink<'_> {
    fn days(&self) -> Option<f64> {
        match (self.first_time, self.last_time) {
            (Some(a), Some(b)) if b > a => Some((b - a) as f64 / 86_400e9),
            _ => None,
        }
    }

    fn report(&self) -> String {
        let mut o = String::new();
        for s in &self.stats {
            o.push_str(&format!("policy {}\n", s.path.display()));
            o.push_str(&format!(
                "{:>5}  {:>5}  {:<16} {:>10} {:>12} {:>7}\n",
                "rule", "line", "level", "events", "bytes", "share"
            ));
            for (i, t) in s.rules.iter().enumerate() {
                let (name, line, level) = match s.policy.rules.get(i) {
                    Some(r) => (
                        (i + 1).to_string(),
                        r.pos.line.to_string(),
                        r.level.as_str(),
                    ),
                    None => ("none".into(), "-".into(), "None"),
                };
                let share = if s.logged.bytes > 0 {
                    100.0 * t.bytes as f64 / s.logged.bytes as f64
                } else {
                    0.0
                };
                let events = t.events;
                o.push_str(&format!(
                    "{name:>5}  {line:>5}  {level:<16} {events:>10} {:>12} {share:>6.1}%\n",
                    t.bytes
                ));
            }
            let ratio = if self.input.bytes > 0 {
                100.0 * s.logged.bytes as f64 / self.input.bytes as f64
            } else {
                0.0
            };
            o.push_str(&format!(
                "logged: {} of {} events, {} of {} bytes ({ratio:.1}% of the input){}\n",
                s.logged.events,
                self.input.events,
                s.logged.bytes,
                self.input.bytes,
                match self.days() {
                    Some(d) if d >= 1.0 / 24.0 =>
                        format!(", {}/day", human(s.logged.bytes as f64 / d)),
                    _ => String::new(),
                }
            ));
            if s.dropped_stage.events > 0 {
                o.push_str(&format!(
                    "not logged: {} events of an omitted stage\n",
                    s.dropped_stage.events
                ));
            }
            if s.upward > 0 {
                o.push_str(&format!(
                    "note: {} events would be logged at a higher level than this log has them: their request or response bodies are not in the log, so their bytes are a lower bound\n",
                    s.upward
                ));
            }
            o.push('\n');
        }
        if let [a, b] = self.stats.as_slice() {
            let mut rows: Vec<(&String, &[u64; 3])> = self.differ.iter().collect();
            rows.sort_by(|x, y| {
                (y.1[0] + y.1[1] + y.1[2])
                    .cmp(&(x.1[0] + x.1[1] + x.1[2]))
                    .then(x.0.cmp(y.0))
            });
            o.push_str(&format!(
                "diff: {} logs {} events the other does not, {} logs {}; {} events are logged by both at different levels\n",
                a.path.display(),
                rows.iter().map(|r| r.1[0]).sum::<u64>(),
                b.path.display(),
                rows.iter().map(|r| r.1[1]).sum::<u64>(),
                rows.iter().map(|r| r.1[2]).sum::<u64>()
            ));
            if !rows.is_empty() {
                o.push_str(&format!(
                    "{:<48} {:>10} {:>10} {:>10}\n",
                    "request", "first only", "other only", "level"
                ));
                for (what, c) in rows.iter().take(15) {
                    o.push_str(&format!(
                        "{what:<48} {:>10} {:>10} {:>10}\n",
                        c[0], c[1], c[2]
                    ));
                }
            }
            o.push('\n');
        }
        o.push_str("note: this log holds only what the policy in force logged: requests it did not log are not in it, and events it logged at a lower level cannot be re-leveled upward\n");
        o
    }

    fn json_report(&self) -> String {
        let policies: Vec<serde_json::Value> = self
            .stats
            .iter()
            .map(|s| {
                serde_json::json!({
                    "policy": s.path.display().to_string(),
                    "rules": s.rules.iter().enumerate().map(|(i, t)| serde_json::json!({
                        "rule": if i < s.policy.rules.len() { serde_json::json!(i + 1) } else { serde_json::Value::Null },
                        "line": s.policy.rules.get(i).map(|r| r.pos.line),
                        "level": s.policy.rules.get(i).map(|r| r.level.as_str()).unwrap_or("None"),
                        "events": t.events,
                        "bytes": t.bytes,
                    })).collect::<Vec<_>>(),
                    "loggedEvents": s.logged.events,
                    "loggedBytes": s.logged.bytes,
                    "omittedStageEvents": s.dropped_stage.events,
                    "higherLevelThanLog": s.upward,
                    "bytesPerDay": self.days().map(|d| s.logged.bytes as f64 / d),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "inputEvents": self.input.events,
            "inputBytes": self.input.bytes,
            "policies": policies,
        });
        format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(level: Level, omit_managed_fields: bool) -> Decision {
        Decision {
            rule: Some(0),
            level,
            omit_stages: Default::default(),
            omit_managed_fields,
        }
    }

    #[test]
    fn trimming_follows_the_level() {
        let line = br#"{"kind":"Event","level":"RequestResponse","requestObject":{"metadata":{"managedFields":[1]}},"responseObject":{"a":1},"verb":"create"}"#;
        let mut p = Parser::default();
        assert_eq!(
            trimmed(&mut p, line, &decision(Level::Metadata, false)).unwrap(),
            br#"{"kind":"Event","level":"Metadata","verb":"create"}"#
        );
        assert_eq!(
            trimmed(&mut p, line, &decision(Level::Request, true)).unwrap(),
            br#"{"kind":"Event","level":"Request","requestObject":{"metadata":{}},"verb":"create"}"#
        );
    }

    #[test]
    fn what_go_reads_is_trimmed_too() {
        // A number beyond 64 bits and a lone surrogate: serde_json refuses both, so the
        // old second reader printed such a line untrimmed, bodies and all.
        let line = br#"{"kind":"Event","level":"RequestResponse","requestObject":{"n":123456789012345678901234567890,"s":"\ud800"},"responseObject":{"secret":"x"},"verb":"create"}"#;
        let mut p = Parser::default();
        let out = trimmed(&mut p, line, &decision(Level::Metadata, false)).unwrap();
        assert_eq!(
            out,
            br#"{"kind":"Event","level":"Metadata","verb":"create"}"#
        );
        let out = written(
            &mut p,
            line,
            &decision(Level::Request, false),
            Some(Level::RequestResponse),
        )
        .unwrap();
        let text = String::from_utf8(out.into_owned()).unwrap();
        assert!(
            text.contains("\"requestObject\"") && !text.contains("secret"),
            "{text}"
        );
        assert!(trimmed(&mut p, b"[1]", &decision(Level::Metadata, false)).is_none());
    }

    #[test]
    fn unchanged_events_are_written_as_they_are() {
        let line = br#"{"level":"Metadata", "verb":"get"}"#;
        let mut p = Parser::default();
        let out = written(
            &mut p,
            line,
            &decision(Level::Metadata, false),
            Some(Level::Metadata),
        )
        .unwrap();
        assert!(matches!(out, Cow::Borrowed(_)));
    }
}
