//! `--dedupe`: one event per request. kube-apiserver writes an event per stage of a
//! request (RequestReceived, ResponseStarted, ResponseComplete or Panic), all with the
//! request's auditID; this keeps the most complete one.
//!
//! An event of a final stage (ResponseComplete, Panic) is passed on when it is read; a
//! request's earlier stages wait for it (at most `limit` requests, holding at most
//! `byte_limit` bytes of events, at once) and are dropped when it comes. Requests whose
//! final stage is not in the input are passed on at the end, most complete stage first
//! seen, in the order they were first seen. When more requests wait than that (a watch
//! can stay open for hours), the oldest is passed on early (with its best stage so far),
//! counted in a warning, and a stage of it read later is dropped: one event per request.

use super::{Match, Matched, Meta, Sink, Stage, Totals};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::{self, Write};

/// How many requests may wait for their final stage at once.
pub const DEFAULT_OPEN_LIMIT: usize = 100_000;
/// How many bytes of waiting events may be held at once (their text and key fields).
pub const DEFAULT_OPEN_BYTES: usize = 32 << 20;
/// How many finished requests are remembered, so a stage read after its final one (the
/// same event twice, or written out of order) is still dropped.
const DONE_MEMORY: usize = 100_000;

/// A request's auditID, held compactly: a UUID in the lowercase form kube-apiserver
/// writes as its 128 bits (two words, so an `Id` is 24 bytes, instead of a 36-byte
/// string on the heap), anything else as its text. Two IDs are equal exactly when their
/// texts are.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum Id {
    Uuid(u64, u64),
    Text(Box<str>),
}

impl Id {
    fn of(id: &str) -> Id {
        let b = id.as_bytes();
        if b.len() == 36 {
            let mut value: u128 = 0;
            let mut ok = true;
            for (i, &c) in b.iter().enumerate() {
                if matches!(i, 8 | 13 | 18 | 23) {
                    ok &= c == b'-';
                    continue;
                }
                let digit = match c {
                    b'0'..=b'9' => c - b'0',
                    b'a'..=b'f' => c - b'a' + 10,
                    _ => {
                        ok = false;
                        break;
                    }
                };
                value = value << 4 | u128::from(digit);
            }
            if ok {
                return Id::Uuid((value >> 64) as u64, value as u64);
            }
        }
        Id::Text(id.into())
    }
}

struct Open {
    /// When it was first seen (its place at the end of the input).
    first: u64,
    stage: Option<Stage>,
    text: Vec<u8>,
    key: Vec<String>,
    meta: Meta,
}

impl Open {
    /// The bytes it holds (its event and key fields), for the byte limit.
    fn size(&self) -> usize {
        let id = self.meta.audit_id.as_ref().map_or(0, |id| id.len());
        self.text.len() + self.key.iter().map(|k| k.len() + 24).sum::<usize>() + id + 160
    }
}

/// Keeps the most complete stage of each request; see the module docs.
pub struct Dedupe<S, E: Write> {
    inner: S,
    err: E,
    limit: usize,
    /// The most bytes of waiting events held at once.
    byte_limit: usize,
    /// Bytes of waiting events held now.
    bytes: usize,
    open: HashMap<Id, Open>,
    /// First-seen order of the open requests.
    order: BTreeMap<u64, Id>,
    seen: u64,
    done: HashSet<Id>,
    done_order: VecDeque<Id>,
    early: u64,
    dropped: u64,
}

impl<S: Sink, E: Write> Dedupe<S, E> {
    pub fn new(inner: S, err: E, limit: usize) -> Self {
        Self::with_byte_limit(inner, err, limit, DEFAULT_OPEN_BYTES)
    }

    /// At most `limit` waiting requests, holding at most `byte_limit` bytes of events.
    pub fn with_byte_limit(inner: S, err: E, limit: usize, byte_limit: usize) -> Self {
        Dedupe {
            inner,
            err,
            limit: limit.max(1),
            byte_limit,
            bytes: 0,
            open: HashMap::new(),
            order: BTreeMap::new(),
            seen: 0,
            done: HashSet::new(),
            done_order: VecDeque::new(),
            early: 0,
            dropped: 0,
        }
    }

    fn finished(&mut self, id: Id) {
        if self.done_order.len() == DONE_MEMORY
            && let Some(old) = self.done_order.pop_front()
        {
            self.done.remove(&old);
        }
        self.done.insert(id.clone());
        self.done_order.push_back(id);
    }

    /// Passes a waiting request on with its best stage so far.
    fn pass_open(&mut self, id: &Id) -> io::Result<()> {
        if let Some(open) = self.open.remove(id) {
            self.order.remove(&open.first);
            self.bytes -= open.size();
            self.inner.event(&Matched {
                text: &open.text,
                key: &open.key,
                meta: Some(&open.meta),
                row: None,
            })?;
            // One event per request: a stage read after it is dropped.
            self.finished(id.clone());
        }
        Ok(())
    }

    /// Passes the oldest waiting requests on early while more are waiting, or more bytes
    /// held, than allowed (the newest one always stays).
    fn keep_within_limits(&mut self) -> io::Result<()> {
        while self.open.len() > 1 && (self.open.len() > self.limit || self.bytes > self.byte_limit)
        {
            let Some(oldest) = self.order.first_key_value().map(|(_, v)| v.clone()) else {
                break;
            };
            self.pass_open(&oldest)?;
            self.early += 1;
        }
        Ok(())
    }
}

impl<S: Sink, E: Write> Sink for Dedupe<S, E> {
    fn begin(&mut self) -> io::Result<()> {
        self.inner.begin()
    }

    fn event(&mut self, event: &Matched<'_>) -> io::Result<()> {
        let Some((meta, id)) = event
            .meta
            .and_then(|m| m.audit_id.as_deref().map(|id| (m, id)))
        else {
            // No auditID: nothing to pair it with.
            return self.inner.event(event);
        };
        let id = Id::of(id);
        if self.done.contains(&id) {
            self.dropped += 1;
            return Ok(());
        }
        if meta.stage.is_some_and(Stage::is_final) {
            if let Some(open) = self.open.remove(&id) {
                self.order.remove(&open.first);
                self.bytes -= open.size();
                self.dropped += 1;
            }
            self.finished(id);
            return self.inner.event(event);
        }
        if let Some(open) = self.open.get_mut(&id) {
            self.dropped += 1;
            if meta.stage > open.stage {
                self.bytes -= open.size();
                open.stage = meta.stage;
                open.text = event.text.to_vec();
                open.key = event.key.to_vec();
                open.meta = meta.clone();
                self.bytes += open.size();
            }
            return self.keep_within_limits();
        }
        let open = Open {
            first: self.seen + 1,
            stage: meta.stage,
            text: event.text.to_vec(),
            key: event.key.to_vec(),
            meta: meta.clone(),
        };
        self.seen += 1;
        self.bytes += open.size();
        self.order.insert(self.seen, id.clone());
        self.open.insert(id, open);
        self.keep_within_limits()
    }

    fn events(&mut self, out: &[u8], matches: &[Match]) -> io::Result<()> {
        let mut start = 0;
        for m in matches {
            self.event(&m.matched(out, start))?;
            start = m.end;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    fn finish(&mut self, totals: &Totals) -> io::Result<()> {
        let ids: Vec<Id> = self.order.values().cloned().collect();
        for id in ids {
            self.pass_open(&id)?;
        }
        if self.early > 0 {
            writeln!(
                self.err,
                "{}",
                crate::report::warning_line(&format!(
                    "--dedupe: {} requests were passed on before their final stage, because more than {} were open at once or their events took more than {} MiB",
                    self.early,
                    self.limit,
                    self.byte_limit >> 20
                ))
            )?;
        }
        let mut totals = totals.clone();
        totals.written = totals.written.saturating_sub(self.dropped);
        self.inner.finish(&totals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::{EventWriter, Format, Printer};

    fn feed(events: &[(&str, Stage)], limit: usize) -> (String, String) {
        let writer = EventWriter::new(Format::Jsonl, false);
        let mut out = Vec::new();
        let mut err = Vec::new();
        {
            let mut d = Dedupe::new(Printer::new(&writer, &mut out), &mut err, limit);
            for (id, stage) in events {
                let text = format!("{id}:{stage:?}\n");
                let meta = Meta {
                    time: None,
                    audit_id: (!id.is_empty()).then(|| id.to_string()),
                    stage: Some(*stage),
                };
                d.event(&Matched {
                    text: text.as_bytes(),
                    key: &[],
                    meta: Some(&meta),
                    row: None,
                })
                .unwrap();
            }
            d.finish(&Totals::default()).unwrap();
        }
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    use Stage::*;

    #[test]
    fn ids_are_equal_exactly_when_their_texts_are() {
        let uuid = "4f1e2d3c-0a9b-4c8d-8e7f-112233445566";
        assert!(matches!(Id::of(uuid), Id::Uuid(..)));
        assert_eq!(std::mem::size_of::<Id>(), 24);
        assert_eq!(Id::of(uuid), Id::of(uuid));
        // Upper case, other lengths and misplaced hyphens stay text: never equal to a UUID.
        let upper = uuid.to_uppercase();
        assert!(matches!(Id::of(&upper), Id::Text(_)));
        assert_ne!(Id::of(&upper), Id::of(uuid));
        assert!(matches!(
            Id::of("4f1e2d3c0a9b-4c8d-8e7f-1122-33445566"),
            Id::Text(_)
        ));
        assert!(matches!(Id::of("short"), Id::Text(_)));
        assert_ne!(Id::of(uuid), Id::of("4f1e2d3c-0a9b-4c8d-8e7f-112233445567"));
    }

    #[test]
    fn keeps_the_final_stage_when_it_comes() {
        let (out, _) = feed(
            &[
                ("a", RequestReceived),
                ("b", RequestReceived),
                ("a", ResponseComplete),
                ("c", ResponseComplete),
                ("b", ResponseStarted),
                ("", RequestReceived),
            ],
            10,
        );
        assert_eq!(
            out,
            "a:ResponseComplete\nc:ResponseComplete\n:RequestReceived\nb:ResponseStarted\n"
        );
    }

    #[test]
    fn stages_after_the_final_one_are_dropped() {
        let (out, _) = feed(
            &[
                ("a", ResponseComplete),
                ("a", RequestReceived),
                ("a", ResponseComplete),
            ],
            10,
        );
        assert_eq!(out, "a:ResponseComplete\n");
    }

    #[test]
    fn too_many_open_requests_pass_the_oldest_early() {
        let (out, err) = feed(
            &[
                ("a", RequestReceived),
                ("b", RequestReceived),
                ("c", RequestReceived),
                ("b", ResponseComplete),
            ],
            2,
        );
        assert_eq!(
            out,
            "a:RequestReceived\nb:ResponseComplete\nc:RequestReceived\n"
        );
        assert!(
            err.contains("1 requests were passed on before their final stage"),
            "{err}"
        );
    }
}
