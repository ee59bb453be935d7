//! The one engine builder: what every command that reads audit events (search, follow,
//! `serve`, `policy eval`) assembles from its options — the [`Plan`] the workers share,
//! the [`search::Options`] or [`FollowConfig`] that run it, and the [`Sink`] the results
//! go to. Each command says what it wants of the engine here and nowhere else.

use crate::block::Plan;
use crate::follow::{FollowConfig, Start};
use crate::prefilter::Prefilter;
use crate::query::Expr;
use crate::query::fields::FieldRef;
use crate::search;
use crate::sink::dedupe::{self, Dedupe};
use crate::sink::{
    Counter, EventWriter, Format, Grouper, Printer, Sink, Stats, Summary, Timeline, TimelineSpec,
    summary, timeline,
};
use crate::timefmt::Nanos;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// What becomes of the matches.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Each event, in this format.
    Events(Format),
    /// `-c`.
    Count,
    /// `--count-by` (`--top`: only the largest groups; `-o json`: one JSON document).
    CountBy {
        fields: Vec<FieldRef>,
        top: Option<usize>,
        json: bool,
    },
    /// `--summary` (`--top` rows per table; `-o json`: one JSON document).
    Summary { top: usize, json: bool },
    /// `--timeline`.
    Timeline(TimelineSpec),
    /// Each match's text and these key fields, for a sink of the caller's own
    /// (`policy eval`); [`Engine::sink`] has none for it.
    Keyed(Vec<FieldRef>),
    /// Each match's original line and its row of the exported table (`auditq export`,
    /// whose sink is its own); [`Engine::sink`] has none for it.
    Rows,
    /// Only these key fields of each match, for a sink of the caller's own that needs no
    /// text (`auditq rbac`); [`Engine::sink`] has none for it.
    Keys(Vec<FieldRef>),
}

/// How the engine runs: built with [`Engine::new`] and its setters, then asked for the
/// plan, the run options and the sink.
#[derive(Debug, Clone)]
pub struct Engine {
    expr: Expr,
    output: Output,
    color: bool,
    prefilter: bool,
    strict: bool,
    unwrap: bool,
    fill_kind: Option<String>,
    stats: bool,
    dedupe: bool,
    max_count: Option<u64>,
    max_line_bytes: usize,
    block_size: usize,
    threads: usize,
    merge: Option<Nanos>,
    no_mmap: bool,
}

impl Engine {
    /// An engine for `expr` printing the original lines, prefilter on, default limits,
    /// one worker per CPU.
    pub fn new(expr: Expr) -> Engine {
        let defaults = search::Options::default();
        Engine {
            expr,
            output: Output::Events(Format::Jsonl),
            color: false,
            prefilter: true,
            strict: false,
            unwrap: false,
            fill_kind: None,
            stats: false,
            dedupe: false,
            max_count: None,
            max_line_bytes: defaults.max_line_bytes,
            block_size: defaults.block_size,
            threads: defaults.threads,
            merge: None,
            no_mmap: false,
        }
    }

    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    #[cfg(test)]
    pub fn output(&self) -> &Output {
        &self.output
    }

    pub fn line_limit(&self) -> usize {
        self.max_line_bytes
    }

    pub fn count_limit(&self) -> Option<u64> {
        self.max_count
    }

    /// Whether the byte prefilter is used (never with `--strict`, which checks every line).
    pub fn uses_prefilter(&self) -> bool {
        self.prefilter && !self.strict
    }

    pub fn strict_mode(&self) -> bool {
        self.strict
    }

    pub fn output_as(mut self, output: Output) -> Self {
        self.output = output;
        self
    }

    pub fn color(mut self, on: bool) -> Self {
        self.color = on;
        self
    }

    /// `--no-prefilter` (off), or a caller whose answer must not depend on the query
    /// (`serve` parses every item to answer 200 or 400).
    pub fn prefilter(mut self, on: bool) -> Self {
        self.prefilter = on;
        self
    }

    pub fn strict(mut self, on: bool) -> Self {
        self.strict = on;
        self
    }

    pub fn unwrap_envelopes(mut self, on: bool) -> Self {
        self.unwrap = on;
        self
    }

    /// Write `kind` and `apiVersion` into items that lack them (webhook EventList items).
    pub fn fill_kind(mut self, api_version: &str) -> Self {
        self.fill_kind = Some(api_version.to_string());
        self
    }

    pub fn stats(mut self, on: bool) -> Self {
        self.stats = on;
        self
    }

    pub fn dedupe(mut self, on: bool) -> Self {
        self.dedupe = on;
        self
    }

    pub fn max_count(mut self, n: Option<u64>) -> Self {
        self.max_count = n;
        self
    }

    pub fn max_line_bytes(mut self, n: usize) -> Self {
        self.max_line_bytes = n;
        self
    }

    pub fn block_size(mut self, n: usize) -> Self {
        self.block_size = n;
        self
    }

    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// `--merge` with its window.
    pub fn merge(mut self, window: Option<Nanos>) -> Self {
        self.merge = window;
        self
    }

    pub fn no_mmap(mut self, on: bool) -> Self {
        self.no_mmap = on;
        self
    }

    /// The plan every worker (or the follower, or the webhook writer) shares.
    pub fn plan(&self) -> Plan {
        let format = match &self.output {
            Output::Events(format) => format.clone(),
            _ => Format::Jsonl,
        };
        let mut writer = EventWriter::new(format, self.color);
        writer.fill_kind = self.fill_kind.clone();
        let (key_fields, text_with_key) = match &self.output {
            Output::CountBy { fields, .. } => (Some(fields.clone()), false),
            Output::Summary { .. } => (Some(summary::key_fields()), false),
            Output::Timeline(spec) => (Some(timeline::key_fields(spec)), false),
            Output::Keyed(fields) => (Some(fields.clone()), true),
            Output::Keys(fields) => (Some(fields.clone()), false),
            Output::Events(_) | Output::Count | Output::Rows => (None, false),
        };
        Plan {
            prefilter: if self.uses_prefilter() {
                Prefilter::new(&self.expr)
            } else {
                None
            },
            expr: self.expr.clone(),
            writer,
            key_fields,
            count_only: self.output == Output::Count,
            strict: self.strict,
            max_line_bytes: self.max_line_bytes,
            meta: self.dedupe || self.merge.is_some(),
            text_with_key,
            unwrap: self.unwrap,
            export: (self.output == Output::Rows).then(crate::export::row::RowBuilder::new),
        }
    }

    /// How a search runs this engine; `skipped` are the files and bytes the input plan
    /// left unread (for `--stats`), `progress` counts bytes read for a progress bar.
    pub fn search_options(
        &self,
        skipped: (u64, u64),
        progress: Option<Arc<AtomicU64>>,
    ) -> search::Options {
        search::Options {
            threads: self.threads,
            block_size: self.block_size,
            max_line_bytes: self.max_line_bytes,
            max_count: self.max_count,
            merge: self.merge,
            progress,
            skipped,
            no_mmap: self.no_mmap,
        }
    }

    /// How the follower runs this engine on `paths` (empty: stdin).
    pub fn follow_config(
        &self,
        paths: Vec<PathBuf>,
        start: Start,
        poll_only: bool,
        state_file: Option<PathBuf>,
    ) -> FollowConfig {
        FollowConfig {
            paths,
            start,
            poll_only,
            state_file,
            max_line_bytes: self.max_line_bytes,
            block_size: self.block_size,
            ..FollowConfig::default()
        }
    }

    /// The sink of this engine's output, writing results to `out` and `--stats` and
    /// `--dedupe` notes to stderr. [`Output::Keyed`] has no sink here (its caller brings
    /// one): it gets the printer of the original lines.
    pub fn sink<'w>(&self, plan: &Plan, out: Box<dyn Write + 'w>) -> Box<dyn Sink + 'w> {
        let mut sink: Box<dyn Sink + 'w> = match &self.output {
            Output::Events(_) | Output::Keyed(_) | Output::Rows | Output::Keys(_) => {
                Box::new(Printer::new(&plan.writer, out))
            }
            Output::Count => Box::new(Counter::new(out)),
            Output::CountBy { fields, top, json } => {
                Box::new(Grouper::with_options(fields, *top, *json, out))
            }
            Output::Summary { top, json } => Box::new(Summary::new(*top, *json, out)),
            Output::Timeline(spec) => Box::new(Timeline::new(spec.clone(), out)),
        };
        if self.stats {
            sink = Box::new(Stats::new(sink, io::stderr()));
        }
        if self.dedupe {
            sink = Box::new(Dedupe::new(sink, io::stderr(), dedupe::DEFAULT_OPEN_LIMIT));
        }
        sink
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(text: &str) -> Expr {
        crate::query::parse_query(&[text.to_string()]).unwrap()
    }

    #[test]
    fn strict_turns_the_prefilter_off() {
        let e = Engine::new(expr("verb=delete"));
        assert!(e.plan().prefilter.is_some());
        let e = e.strict(true);
        assert!(e.plan().prefilter.is_none() && e.plan().strict);
        assert!(
            Engine::new(expr("verb=delete"))
                .prefilter(false)
                .plan()
                .prefilter
                .is_none()
        );
    }

    #[test]
    fn outputs_choose_keys_and_counting() {
        let count = Engine::new(Expr::All).output_as(Output::Count).plan();
        assert!(count.count_only && count.key_fields.is_none());
        let fields = crate::sink::parse_field_list("user,verb").unwrap();
        let keyed = Engine::new(Expr::All)
            .output_as(Output::Keyed(fields.clone()))
            .plan();
        assert!(keyed.text_with_key && keyed.key_fields == Some(fields.clone()));
        let keys = Engine::new(Expr::All)
            .output_as(Output::Keys(fields.clone()))
            .plan();
        assert!(!keys.text_with_key && keys.key_fields == Some(fields));
        let merged = Engine::new(Expr::All).merge(Some(1)).plan();
        assert!(merged.meta);
        let served = Engine::new(Expr::All).fill_kind("audit.k8s.io/v1").plan();
        assert_eq!(served.writer.fill_kind.as_deref(), Some("audit.k8s.io/v1"));
    }

    #[test]
    fn options_carry_the_limits() {
        let o = Engine::new(Expr::All)
            .threads(0)
            .block_size(4096)
            .max_count(Some(3))
            .search_options((1, 2), None);
        assert_eq!(
            (o.threads, o.block_size, o.max_count, o.skipped),
            (1, 4096, Some(3), (1, 2))
        );
    }
}
