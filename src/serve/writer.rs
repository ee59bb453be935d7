//! The synchronous half of `auditq serve`: one thread takes the batches the server
//! received, runs each through the same [`BlockProcessor`] as search and follow (framing,
//! prefilter, parse, query, format), hands the matches to the same [`Sink`], flushes it
//! (to the OS; with `--fsync` to the disk) and only then answers.

use super::forward::Forwarder;
use super::metrics::Metrics;
use crate::block::{BlockProcessor, BlockResult, Plan};
use crate::framing::Skip;
use crate::sink::Sink;
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// A batch to write, and where its answer goes.
pub struct Job {
    pub body: Vec<u8>,
    pub received: Instant,
    pub reply: oneshot::Sender<Outcome>,
}

/// What the server is told to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Written (and flushed): 200.
    Written { events: u64, matched: u64 },
    /// 400 with this one-line reason; nothing was written.
    Malformed(String),
    /// The output failed: 503 with Retry-After (part of the batch may have been written).
    OutputFailed(String),
    /// Waited in the queue longer than the sender waits for an answer: 503, not written.
    Expired,
}

pub enum Message {
    Job(Job),
    /// The server stopped: finish the output.
    Stop,
}

/// The plans for the two EventList versions: items get the `apiVersion` of their list.
pub struct Plans {
    pub v1: Arc<Plan>,
    pub v1beta1: Arc<Plan>,
}

/// Takes batches until [`Message::Stop`] (or until every sender is gone).
pub fn run(
    jobs: &Receiver<Message>,
    plans: &Plans,
    sink: &mut dyn Sink,
    metrics: &Metrics,
    max_wait: Duration,
    forward: &Forwarder,
) {
    let mut v1 = BlockProcessor::new(Arc::clone(&plans.v1));
    let mut v1beta1 = BlockProcessor::new(Arc::clone(&plans.v1beta1));
    let mut result = BlockResult::default();
    while let Ok(Message::Job(job)) = jobs.recv() {
        let outcome = if job.reply.is_closed() {
            // The sender hung up: not writing it means a retry is not a duplicate.
            None
        } else if job.received.elapsed() > max_wait {
            Some(Outcome::Expired)
        } else {
            let started = Instant::now();
            let (processor, api_version) = if is_v1beta1(&job.body) {
                (&mut v1beta1, "audit.k8s.io/v1beta1")
            } else {
                (&mut v1, "audit.k8s.io/v1")
            };
            // A plain EventList is read as lines of items (prefiltered, written byte for
            // byte); anything else as one document.
            let lines = crate::framing::eventlist::items_as_lines(&job.body, api_version);
            let outcome = write_batch(
                processor,
                &job.body,
                lines.as_deref(),
                &mut result,
                sink,
                metrics,
            );
            if let Outcome::Written { matched, .. } = outcome {
                metrics.observe_write(started.elapsed());
                forward.forward(&result.out, matched);
            }
            Some(outcome)
        };
        metrics.queue_depth.dec();
        if let Some(outcome) = outcome {
            let _ = job.reply.send(outcome);
        }
    }
}

/// Processes and writes one batch: `body` as received, or `lines`, its items as JSON
/// lines, when it could be cut so (`body` still names what is wrong with it).
pub fn write_batch(
    processor: &mut BlockProcessor,
    body: &[u8],
    lines: Option<&[u8]>,
    result: &mut BlockResult,
    sink: &mut dyn Sink,
    metrics: &Metrics,
) -> Outcome {
    result.clear();
    processor.process(lines.unwrap_or(body), result);
    if let Some(reason) = problem(body, result) {
        return Outcome::Malformed(reason);
    }
    if let Err(e) = sink
        .events(&result.out, &result.matches)
        .and_then(|()| sink.flush())
    {
        return Outcome::OutputFailed(e.to_string());
    }
    let events = result.counters.events;
    let matched = result.matches.len() as u64;
    metrics.batches.inc();
    metrics.events_received.inc_by(events);
    metrics.events_matched.inc_by(matched);
    metrics.events_written.inc_by(matched);
    metrics.bytes_received.inc_by(body.len() as u64);
    metrics.bytes_written.inc_by(result.out.len() as u64);
    Outcome::Written { events, matched }
}

/// Whether the body's list is `audit.k8s.io/v1beta1` (the apiserver writes `kind` and
/// `apiVersion` before `items`; a body naming it elsewhere is read as v1).
fn is_v1beta1(body: &[u8]) -> bool {
    let head = match memchr::memmem::find(body, b"\"items\"") {
        Some(at) => &body[..at],
        None => body,
    };
    memchr::memmem::find(head, b"\"audit.k8s.io/v1beta1\"").is_some()
}

/// Why a body is refused (400): something in it is not JSON, or it holds no audit event
/// and is not an (empty) EventList.
fn problem(body: &[u8], result: &BlockResult) -> Option<String> {
    let skipped = |kind| result.counters.skipped.get(&kind).copied().unwrap_or(0);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some("empty body: expected an audit.k8s.io EventList or Event".into());
    }
    if skipped(Skip::InvalidJson) + skipped(Skip::NotJson) + skipped(Skip::Klog) > 0
        || !result.long_lines.is_empty()
        || !result.long_documents.is_empty()
    {
        let detail = match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Err(e) => e.to_string(),
            Ok(_) => "a line is not a JSON audit event".to_string(),
        };
        return Some(format!("malformed JSON: {detail}"));
    }
    if skipped(Skip::NotAnEvent) > 0 && !is_empty_list(body) {
        return Some(
            "not an audit event: expected an audit.k8s.io EventList or Event (kind, items, auditID, verb, stage…)"
                .into(),
        );
    }
    None
}

/// `{"kind":"EventList","items":[]}` (or `null` items): a valid batch of nothing.
fn is_empty_list(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct List {
        kind: Option<String>,
        items: Option<Vec<serde::de::IgnoredAny>>,
    }
    match serde_json::from_slice::<List>(body) {
        Ok(List {
            kind: Some(kind),
            items,
        }) => kind == "EventList" && items.is_none_or(|i| i.is_empty()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse_query;
    use crate::sink::{EventWriter, Format, Printer};

    fn plan(query: &str, api: &str) -> Arc<Plan> {
        let expr = parse_query(&[query.to_string()]).unwrap();
        let mut plan = Plan::jsonl(expr, false);
        let mut writer = EventWriter::new(Format::Jsonl, false);
        writer.fill_kind = Some(api.to_string());
        plan.writer = writer;
        Arc::new(plan)
    }

    fn run_path(query: &str, body: &[u8], lines: Option<&[u8]>) -> (Outcome, String) {
        let plan = plan(query, "audit.k8s.io/v1");
        let mut processor = BlockProcessor::new(Arc::clone(&plan));
        let mut out = Vec::new();
        let outcome = {
            let mut sink = Printer::new(&plan.writer, &mut out);
            write_batch(
                &mut processor,
                body,
                lines,
                &mut BlockResult::default(),
                &mut sink,
                &Metrics::default(),
            )
        };
        (outcome, String::from_utf8(out).unwrap())
    }

    /// Runs a batch as `run` does (cut into lines when it is a plain list), and checks
    /// that reading it as one document gives the same answer and the same events.
    fn run_one(query: &str, body: &[u8]) -> (Outcome, String) {
        let lines = crate::framing::eventlist::items_as_lines(body, "audit.k8s.io/v1");
        let (outcome, text) = run_path(query, body, lines.as_deref());
        let (whole_outcome, whole_text) = run_path(query, body, None);
        let values = |t: &str| {
            t.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .collect::<Vec<_>>()
        };
        let same_answer = match (&outcome, &whole_outcome) {
            (Outcome::Malformed(_), Outcome::Malformed(_)) => true,
            (a, b) => a == b,
        };
        assert!(same_answer, "{outcome:?} vs {whole_outcome:?}");
        assert_eq!(values(&text), values(&whole_text));
        (outcome, text)
    }

    const LIST: &[u8] = br#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[{"level":"Metadata","auditID":"1","stage":"ResponseComplete","verb":"get","user":{"username":"alice"}},{"level":"Metadata","auditID":"2","stage":"ResponseComplete","verb":"delete","user":{"username":"bob"}}]}
"#;

    #[test]
    fn list_items_are_filtered_and_completed() {
        let (outcome, text) = run_one("verb=delete", LIST);
        assert_eq!(
            outcome,
            Outcome::Written {
                events: 2,
                matched: 1
            }
        );
        assert_eq!(
            text,
            "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\",\"auditID\":\"2\",\"stage\":\"ResponseComplete\",\"verb\":\"delete\",\"user\":{\"username\":\"bob\"}}\n"
        );
    }

    #[test]
    fn malformed_and_foreign_bodies_are_refused_whole() {
        for body in [
            &b"{\"kind\":\"EventList\",\"items\":[{\"verb\":\"get\"}"[..],
            b"",
            b"hello",
            b"{\"kind\":\"ConfigMap\"}",
            b"{\"verb\":\"get\",\"auditID\":\"x\"}\n{oops\n",
        ] {
            let (outcome, text) = run_one("", body);
            assert!(
                matches!(outcome, Outcome::Malformed(_)),
                "{body:?}: {outcome:?}"
            );
            assert_eq!(text, "", "nothing written for {body:?}");
        }
        let (outcome, _) = run_one("", b"{\"kind\":\"EventList\",\"items\":[");
        let Outcome::Malformed(reason) = outcome else {
            panic!()
        };
        assert!(reason.starts_with("malformed JSON: EOF"), "{reason}");
        assert!(!reason.contains('\n'));
    }

    #[test]
    fn items_are_written_as_they_came() {
        // Go's encoder writes `<` as `\u003c`; a cut list keeps it so.
        let body = br#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[{"level":"Metadata","auditID":"1","stage":"ResponseComplete","verb":"get","requestURI":"/api?x=\u003c1","user":{"username":"alice"}}]}"#;
        let (outcome, text) = run_one("", body);
        assert_eq!(
            outcome,
            Outcome::Written {
                events: 1,
                matched: 1
            }
        );
        assert_eq!(
            text,
            "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\",\"auditID\":\"1\",\"stage\":\"ResponseComplete\",\"verb\":\"get\",\"requestURI\":\"/api?x=\\u003c1\",\"user\":{\"username\":\"alice\"}}\n"
        );
        // A bad item refuses the whole batch, as when it is read as one document.
        let bad = br#"{"kind":"EventList","items":[{"level":"Metadata","auditID":"1","stage":"ResponseComplete","verb":"get"},{"verb":tru}]}"#;
        assert!(matches!(run_one("", bad).0, Outcome::Malformed(_)));
    }

    #[test]
    fn empty_lists_are_fine() {
        let (outcome, text) = run_one("", b"{\"kind\":\"EventList\",\"apiVersion\":\"audit.k8s.io/v1\",\"metadata\":{},\"items\":[]}\n");
        assert_eq!(
            outcome,
            Outcome::Written {
                events: 0,
                matched: 0
            }
        );
        assert_eq!(text, "");
    }

    #[test]
    fn version_of_the_list() {
        assert!(is_v1beta1(
            br#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1beta1","items":[]}"#
        ));
        assert!(!is_v1beta1(LIST));
    }
}
