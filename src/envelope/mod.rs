//! Envelopes: audit events handed out inside other JSON, recognised by content (never by
//! file name) and unwrapped into the same event fields.
//!
//! | envelope | shape | the event |
//! |---|---|---|
//! | AKS diagnostic record | `{"category":"kube-audit","properties":{"log":…,"pod":…},"time":…}` | `properties.log` (a JSON string or an object) |
//! | AKS Event Hubs / blob batch | `{"records":[record, …]}` | each record's |
//! | CloudWatch Logs event | `{"timestamp":…,"message":"{…}"}` (also `@message`) | `message` |
//! | `aws logs filter-log-events` | `{"events":[event, …],…}` | each event's |
//! | subscription filter / Firehose | `{"messageType":"DATA_MESSAGE","logEvents":[event, …],…}` | each event's |
//! | container runtime log | `{"log":"{…}\n","stream":"stdout","time":…}` | `log` |
//! | GKE Cloud Logging entry | `{"protoPayload":{"@type":"…AuditLog","methodName":"io.k8s.…"},…}` | mapped by [`gke`] |
//!
//! What a query reads is the *merged* document: the envelope record's own members (the
//! wrapped text left out), then the event's members — so `category`, `logStream`,
//! `properties.pod`, `resource.labels.cluster_name` and every event field are there, and
//! where a name is in both, the event's counts (the last of a repeated key wins).
//!
//! This module is only consulted for JSON values that are not audit events, so plain
//! events never pay for it.

pub mod gke;

use crate::parse::{Json, write_json_string};

/// Which envelope held an event; named in notes and `--stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Aks,
    CloudWatch,
    Firehose,
    ContainerLog,
    Gke,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Aks => "AKS diagnostic records",
            Kind::CloudWatch => "CloudWatch Logs events",
            Kind::Firehose => "CloudWatch subscription (Firehose) batches",
            Kind::ContainerLog => "container log records",
            Kind::Gke => "GKE Cloud Logging entries",
        }
    }
}

/// What a JSON value that held no audit event was, when auditq can tell; for the note
/// that an input yielded no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seen {
    /// An AKS record of another category (kube-apiserver, guard, …).
    AksOtherCategory,
    /// A wrapped text (`message`, `properties.log`, `log`) that is not a JSON object.
    WrappedText,
    /// A wrapped JSON object that is not an audit event.
    WrappedNonEvent,
    /// A Firehose `CONTROL_MESSAGE`.
    FirehoseControl,
    /// A Cloud Audit Log entry of a service other than Kubernetes.
    GcpOtherService,
    /// A Cloud Logging entry without an audit log payload.
    GcpNotAudit,
}

impl Seen {
    pub fn label(self) -> &'static str {
        match self {
            Seen::AksOtherCategory => "AKS diagnostic records of another category than kube-audit",
            Seen::WrappedText => "log records whose message is text, not a JSON event",
            Seen::WrappedNonEvent => "log records whose message is JSON but not an audit event",
            Seen::FirehoseControl => "CloudWatch CONTROL_MESSAGE batches",
            Seen::GcpOtherService => "Cloud Audit Log entries of other services than k8s.io",
            Seen::GcpNotAudit => "Cloud Logging entries without an audit log payload",
        }
    }
}

/// One audit event found inside an envelope.
#[derive(Debug, Default)]
pub struct Unwrapped {
    /// What queries read: the record's members, then the event's (see the module docs).
    pub merged: Vec<u8>,
    /// The Kubernetes event alone (`--unwrap`); empty unless asked for.
    pub event: Vec<u8>,
    /// The envelope record as jsonl prints it: empty when the record is the whole
    /// document (whose original bytes are printed), else its compact JSON when asked for.
    pub record: Vec<u8>,
    pub kind: Option<Kind>,
}

impl Unwrapped {
    /// Puts `members` (`"key":value,…`, no braces) before the merged document's own, so
    /// they count least.
    fn prepend_members(&mut self, members: &[u8]) {
        if members.is_empty() {
            return;
        }
        let mut merged = Vec::with_capacity(self.merged.len() + members.len() + 2);
        merged.push(b'{');
        merged.extend_from_slice(members);
        merged.push(b',');
        merged.extend_from_slice(&self.merged[1..]);
        self.merged = merged;
    }
}

/// What the caller will need besides the merged document.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wants {
    /// The Kubernetes event alone (`--unwrap`).
    pub event: bool,
    /// The record's compact JSON (jsonl output of a record inside a batch).
    pub record: bool,
}

/// What [`open`] found in a value.
#[derive(Debug, Default)]
pub struct Found {
    pub events: Vec<Unwrapped>,
    pub seen: Vec<Seen>,
}

/// Looks for audit events inside `value` (a JSON object that is not an event itself);
/// `root` says whether it is the whole document. Returns whether it was an envelope.
pub fn open(value: Json<'_, '_>, root: bool, wants: Wants, found: &mut Found) -> bool {
    if !value.is_object() {
        return false;
    }
    if let Some(records) = value.get("records").filter(Json::is_array) {
        let mut any = false;
        for record in records.elements() {
            any |= record_of(record, false, wants, found);
        }
        return any;
    }
    if value.get("messageType").and_then(|m| m.as_str()) == Some("CONTROL_MESSAGE") {
        found.seen.push(Seen::FirehoseControl);
        return true;
    }
    if let Some(events) = value.get("logEvents").filter(Json::is_array) {
        let mut batch = Vec::new();
        write_members_except(value, None, "logEvents", &mut batch);
        for event in events.elements() {
            let at = found.events.len();
            wrap(event, "message", None, Kind::Firehose, false, wants, found);
            for unwrapped in &mut found.events[at..] {
                unwrapped.prepend_members(&batch);
            }
        }
        return true;
    }
    if let Some(events) = value.get("events").filter(Json::is_array)
        && events
            .elements()
            .next()
            .is_some_and(|e| e.get("message").is_some())
    {
        for event in events.elements() {
            wrap(
                event,
                "message",
                None,
                Kind::CloudWatch,
                false,
                wants,
                found,
            );
        }
        return true;
    }
    record_of(value, root, wants, found)
}

/// One record: an AKS diagnostic record, a CloudWatch event, a container log record or a
/// Cloud Logging entry.
fn record_of(record: Json<'_, '_>, root: bool, wants: Wants, found: &mut Found) -> bool {
    if record.get("properties").is_some_and(|p| p.is_object()) && record.get("category").is_some() {
        let category = record.get("category").and_then(|c| c.as_str());
        if !matches!(category, Some("kube-audit" | "kube-audit-admin")) {
            found.seen.push(Seen::AksOtherCategory);
            return true;
        }
        if !wrap(
            record,
            "log",
            Some("properties"),
            Kind::Aks,
            root,
            wants,
            found,
        ) {
            found.seen.push(Seen::WrappedText);
        }
        return true;
    }
    if let Some(payload) = record.get("protoPayload") {
        gke::entry(record, payload, root, wants, found);
        return true;
    }
    if record.get("insertId").is_some() && record.get("logName").is_some() {
        found.seen.push(Seen::GcpNotAudit);
        return true;
    }
    for key in ["message", "@message"] {
        if record.get(key).is_some() {
            return wrap(record, key, None, Kind::CloudWatch, root, wants, found);
        }
    }
    if record.get("log").is_some() && record.get("stream").is_some() {
        return wrap(record, "log", None, Kind::ContainerLog, root, wants, found);
    }
    false
}

/// Builds the merged document of `record` around its member `key` (inside `parent` when
/// given): a JSON string holding the event, or the event object. The member is left out.
/// False when the record has no such member (nothing is recorded then).
fn wrap(
    record: Json<'_, '_>,
    key: &str,
    parent: Option<&str>,
    kind: Kind,
    root: bool,
    wants: Wants,
    found: &mut Found,
) -> bool {
    let holder = match parent {
        Some(p) => record.get(p),
        None => Some(record),
    };
    let Some(inner) = holder.and_then(|h| h.get(key)) else {
        return false;
    };
    let mut event_text = Vec::new();
    let body: &[u8] = match inner.as_str() {
        Some(text) => text.trim().as_bytes(),
        None if inner.is_object() => {
            inner.write_json(&mut event_text);
            &event_text
        }
        None => {
            found.seen.push(Seen::WrappedText);
            return true;
        }
    };
    // An object with at least one member: `{` then something other than `}`.
    let members = match body.strip_prefix(b"{") {
        Some(rest) if rest.trim_ascii_start().first().is_some_and(|&b| b != b'}') => rest,
        Some(_) => {
            found.seen.push(Seen::WrappedNonEvent);
            return true;
        }
        None => {
            found.seen.push(Seen::WrappedText);
            return true;
        }
    };
    let mut merged = Vec::with_capacity(body.len() + 256);
    merged.push(b'{');
    write_members_except(record, parent, key, &mut merged);
    if merged.len() > 1 {
        merged.push(b',');
    }
    merged.extend_from_slice(members);
    let mut unwrapped = Unwrapped {
        merged,
        kind: Some(kind),
        ..Unwrapped::default()
    };
    if wants.event {
        unwrapped.event = body.to_vec();
    }
    if wants.record && !root {
        record.write_json(&mut unwrapped.record);
    }
    found.events.push(unwrapped);
    true
}

/// Writes the members of `record` as `"key":value,…` (no braces), leaving out `skip`
/// (inside the object member `parent` when given; that object is written without it).
pub fn write_members_except(
    record: Json<'_, '_>,
    parent: Option<&str>,
    skip: &str,
    out: &mut Vec<u8>,
) {
    let mut first = true;
    for (key, value) in record.entries() {
        let inside = parent == Some(key) && value.is_object();
        if parent.is_none() && key == skip {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_json_string(key, out);
        out.push(b':');
        if inside {
            out.push(b'{');
            let mut first_inner = true;
            for (k, v) in value.entries() {
                if k == skip {
                    continue;
                }
                if !first_inner {
                    out.push(b',');
                }
                first_inner = false;
                write_json_string(k, out);
                out.push(b':');
                v.write_json(out);
            }
            out.push(b'}');
        } else {
            value.write_json(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Parser;

    fn open_text(text: &str, wants: Wants) -> Found {
        let mut found = Found::default();
        Parser::default()
            .with_parsed(text.as_bytes(), |root| {
                open(root, true, wants, &mut found);
            })
            .unwrap();
        found
    }

    const EV: &str = r#"{"kind":"Event","verb":"delete","objectRef":{"resource":"secrets"}}"#;

    #[test]
    fn aks_string_and_object_logs_merge_with_the_record() {
        let escaped = serde_json::to_string(EV).unwrap();
        let line = format!(
            r#"{{"category":"kube-audit","properties":{{"log":{escaped},"pod":"kube-apiserver-1"}},"time":"2026-01-05T10:00:00Z"}}"#
        );
        let found = open_text(
            &line,
            Wants {
                event: true,
                record: true,
            },
        );
        assert_eq!(found.events.len(), 1);
        let merged: serde_json::Value = serde_json::from_slice(&found.events[0].merged).unwrap();
        assert_eq!(merged["verb"], "delete");
        assert_eq!(merged["category"], "kube-audit");
        assert_eq!(merged["properties"]["pod"], "kube-apiserver-1");
        assert!(merged["properties"].get("log").is_none());
        assert_eq!(found.events[0].event, EV.as_bytes());
        assert!(
            found.events[0].record.is_empty(),
            "a root record prints its own bytes"
        );

        let object = format!(
            r#"{{"records":[{{"category":"kube-audit-admin","properties":{{"log":{EV}}}}}]}}"#
        );
        let found = open_text(
            &object,
            Wants {
                event: false,
                record: true,
            },
        );
        assert_eq!(found.events.len(), 1);
        let merged: serde_json::Value = serde_json::from_slice(&found.events[0].merged).unwrap();
        assert_eq!(merged["objectRef"]["resource"], "secrets");
        assert_eq!(merged["category"], "kube-audit-admin");
        assert!(!found.events[0].record.is_empty());
    }

    #[test]
    fn what_is_not_an_event_is_said() {
        let found = open_text(
            r#"{"category":"kube-apiserver","properties":{"log":"I0105 started"}}"#,
            Wants::default(),
        );
        assert!(found.events.is_empty());
        assert_eq!(found.seen, [Seen::AksOtherCategory]);
        let found = open_text(
            r#"{"events":[{"timestamp":1,"message":"time=… authenticator"},{"message":"{}"}]}"#,
            Wants::default(),
        );
        assert_eq!(found.seen, [Seen::WrappedText, Seen::WrappedNonEvent]);
        let found = open_text(
            r#"{"messageType":"CONTROL_MESSAGE","logEvents":[]}"#,
            Wants::default(),
        );
        assert!(found.events.is_empty());
    }
}
