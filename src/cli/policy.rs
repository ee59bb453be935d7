//! `auditq policy lint|eval|explain`: audit policies checked as kube-apiserver loads them,
//! tried on a real log, and explained for one request. The policy model is
//! [`crate::policy`]; `eval` reads the log with the search engine.

use super::args::Args;
use super::config::{Config, Env};
use super::{EXIT_ERROR, EXIT_MATCH, EXIT_NO_MATCH};
use crate::block::Plan;
use crate::error::Error;
use crate::policy::load::Finding;
use crate::policy::{self, Attributes, Decision, Level, Policy, Severity, Stage};
use crate::prefilter::Prefilter;
use crate::report;
use crate::search::{self, Options};
use crate::sink::{EventWriter, Format, Matched, Sink, Totals};
use clap::{Subcommand, ValueEnum};
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `auditq policy`: check an audit policy (--audit-policy-file) as kube-apiserver loads
/// it, try it on a real log, explain one request.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum PolicyCommand {
    /// Load each policy file as kube-apiserver does (audit.k8s.io/v1, strict fields,
    /// validation), then give a reviewer's warnings. Exit 0 clean, 1 warnings only,
    /// 2 errors.
    Lint {
        /// Policy files (YAML).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Warnings fail too (exit 2).
        #[arg(long)]
        deny_warnings: bool,
        /// text (FILE:LINE:COL: …) or json (one document, for CI).
        #[arg(short, long, value_enum, default_value_t = LintFormat::Text)]
        output: LintFormat,
    },
    /// Replay a log through the policy: what it would log, per rule, and the bytes.
    Eval {
        /// The policy file.
        #[arg(value_name = "POLICY")]
        policy: PathBuf,
        /// Query text and log files, as in a search (stdin if no file).
        #[arg(value_name = "QUERY|FILE")]
        args: Vec<String>,
        /// Print the events the policy would log instead (JSON lines, input order), with
        /// its level and trimmed as the apiserver trims at that level.
        #[arg(long, conflicts_with_all = ["diff", "output"])]
        keep: bool,
        /// Compare with another policy on the same log.
        #[arg(long, value_name = "OTHER_POLICY")]
        diff: Option<PathBuf>,
        /// text or json (one document).
        #[arg(short, long, value_enum, default_value_t = LintFormat::Text)]
        output: LintFormat,
        /// As in a search: only events at or after WHEN.
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// As in a search: only events at or before WHEN.
        #[arg(long, value_name = "WHEN")]
        until: Option<String>,
        /// As in a search: also read the rotated backups.
        #[arg(long)]
        backups: bool,
        /// As in a search: read subdirectories.
        #[arg(short = 'r', long)]
        recursive: bool,
        /// Worker threads.
        #[arg(short = 'j', long, value_name = "N")]
        threads: Option<String>,
    },
    /// Which rule matches a request, its level, and why each earlier rule does not.
    Explain {
        /// The policy file.
        #[arg(value_name = "POLICY")]
        policy: PathBuf,
        /// The request: verb=get resource=secrets (or pods/log) group=apps ns=prod
        /// name=x user=alice groups=a,b, or path=/healthz for a non-resource request.
        #[arg(value_name = "REQUEST", required = true)]
        request: Vec<String>,
    },
}

/// Runs `auditq policy …`.
pub fn main(args: PolicyArgs) -> i32 {
    match run(args.command) {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => EXIT_MATCH,
        Err(e) => {
            let _ = writeln!(io::stderr(), "{}", report::error_line(&e.to_string()));
            EXIT_ERROR
        }
    }
}

fn run(command: PolicyCommand) -> Result<i32, Error> {
    match command {
        PolicyCommand::Lint {
            files,
            deny_warnings,
            output,
        } => lint(&files, deny_warnings, output),
        PolicyCommand::Explain { policy, request } => explain(&policy, &request.join(" ")),
        PolicyCommand::Eval {
            policy,
            args,
            keep,
            diff,
            output,
            since,
            until,
            backups,
            recursive,
            threads,
        } => {
            let mut argv: Vec<String> = vec!["auditq".into()];
            for (flag, value) in [("--since", since), ("--until", until), ("-j", threads)] {
                if let Some(v) = value {
                    argv.push(format!("{flag}={v}"));
                }
            }
            if backups {
                argv.push("--backups".into());
            }
            if recursive {
                argv.push("-r".into());
            }
            argv.extend(args);
            let search_args = Args::parse_checked_from(&argv).map_err(|e| {
                let text = e.to_string();
                Error::Usage(
                    text.lines()
                        .next()
                        .unwrap_or_default()
                        .trim_start_matches("error: ")
                        .to_string(),
                )
            })?;
            let config = Config::from_args(search_args, Env::detect())?;
            let a = load_for_use(&policy)?;
            let b = diff.as_deref().map(load_for_use).transpose()?;
            eval(&config, a, b, keep, output == LintFormat::Json)
        }
    }
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::Other(format!("{}: cannot read the policy: {e}", path.display())))
}

/// A policy the apiserver would load, else an error naming its first problem.
fn load_for_use(path: &Path) -> Result<(PathBuf, Policy), Error> {
    let loaded = policy::load(&read(path)?);
    match loaded.policy {
        Some(p) => Ok((path.to_path_buf(), p)),
        None => {
            let first = loaded.findings.iter().find(|f| f.refused);
            Err(Error::Other(match first {
                Some(f) => format!(
                    "{}:{}:{}: kube-apiserver would refuse this policy: {} (auditq policy lint says more)",
                    path.display(),
                    f.pos.line,
                    f.pos.col,
                    f.message
                ),
                None => format!(
                    "{}: kube-apiserver would refuse this policy",
                    path.display()
                ),
            }))
        }
    }
}

// ---------------------------------------------------------------- lint

fn lint(files: &[PathBuf], deny_warnings: bool, output: LintFormat) -> Result<i32, Error> {
    let mut out = io::stdout().lock();
    let mut worst = None;
    let mut json = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                let _ = writeln!(
                    io::stderr(),
                    "{}",
                    report::error_line(&format!("{}: {e}", file.display()))
                );
                worst = Some(Severity::Error);
                continue;
            }
        };
        let loaded = policy::lint_text(&text);
        for f in &loaded.findings {
            worst = worst.max(Some(f.severity));
        }
        match output {
            LintFormat::Text => write_findings(&mut out, file, &loaded).map_err(Error::Output)?,
            LintFormat::Json => json.push(serde_json::json!({
                "file": file.display().to_string(),
                "loads": loaded.policy.is_some(),
                "findings": loaded.findings.iter().map(finding_json).collect::<Vec<_>>(),
            })),
        }
    }
    if output == LintFormat::Json {
        let doc = serde_json::json!({ "files": json });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        )
        .map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)?;
    Ok(match worst {
        None => EXIT_MATCH,
        Some(Severity::Warning) if !deny_warnings => EXIT_NO_MATCH,
        Some(_) => EXIT_ERROR,
    })
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn finding_json(f: &Finding) -> serde_json::Value {
    serde_json::json!({
        "line": f.pos.line,
        "column": f.pos.col,
        "severity": severity_name(f.severity),
        "message": f.message,
        "fix": f.fix,
        "apiserverRefuses": f.refused,
    })
}

fn write_findings(out: &mut dyn Write, file: &Path, loaded: &policy::Loaded) -> io::Result<()> {
    for f in &loaded.findings {
        writeln!(
            out,
            "{}:{}:{}: {}: {}",
            file.display(),
            f.pos.line,
            f.pos.col,
            severity_name(f.severity),
            f.message
        )?;
        if !f.fix.is_empty() {
            writeln!(out, "    fix: {}", f.fix)?;
        }
    }
    let errors = loaded
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = loaded.findings.len() - errors;
    let verdict = if loaded.policy.is_none() {
        "kube-apiserver would refuse to load it and exit"
    } else if errors > 0 {
        "kube-apiserver would load it, with a warning, ignoring what is marked as errors"
    } else {
        "kube-apiserver would load it"
    };
    writeln!(
        out,
        "{}: {errors} error(s), {warnings} warning(s); {verdict}",
        file.display()
    )
}

// ---------------------------------------------------------------- explain

/// Parses `verb=get resource=pods/log ns=prod user=alice …` into attributes.
pub fn parse_request(text: &str) -> Result<Attributes, String> {
    let mut a = Attributes {
        user: Some(String::new()),
        ..Attributes::default()
    };
    let mut path = None;
    for word in text.split_whitespace() {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!("`{word}` is not key=value"));
        };
        let value = value.to_string();
        match key {
            "verb" => a.verb = value,
            "resource" => match value.split_once('/') {
                Some((r, s)) => {
                    a.resource = r.into();
                    a.subresource = s.into();
                }
                None => a.resource = value,
            },
            "subresource" => a.subresource = value,
            "group" | "apigroup" => a.api_group = value,
            "ns" | "namespace" => a.namespace = value,
            "name" => a.name = value,
            "user" => a.user = Some(value),
            "groups" | "usergroups" => {
                a.groups = value
                    .split(',')
                    .filter(|g| !g.is_empty())
                    .map(String::from)
                    .collect()
            }
            "path" | "uri" => path = Some(value),
            other => {
                return Err(format!(
                    "unknown key `{other}` (use verb, resource, subresource, group, ns, name, user, groups, path)"
                ));
            }
        }
    }
    a.resource_request = !a.resource.is_empty();
    if a.resource_request && path.is_some() {
        return Err("give either resource=… or path=…, not both".into());
    }
    if !a.resource_request && path.is_none() && !a.namespace.is_empty() {
        return Err("ns=… needs resource=…".into());
    }
    a.path = path.unwrap_or_default();
    if a.verb.is_empty() {
        return Err("give verb=… (get, list, watch, create, update, patch, delete, …)".into());
    }
    Ok(a)
}

fn explain(path: &Path, request: &str) -> Result<i32, Error> {
    let attrs = parse_request(request).map_err(Error::Usage)?;
    let (_, p) = load_for_use(path)?;
    let d = policy::evaluate(&p, &attrs);
    let mut out = String::new();
    for (i, rule) in p.rules.iter().enumerate() {
        if Some(i) == d.rule {
            break;
        }
        let why = policy::matcher::mismatch(rule, &attrs).unwrap_or_default();
        out.push_str(&format!(
            "  rule {} (line {}): no: {why}\n",
            i + 1,
            rule.pos.line
        ));
    }
    let stages = if d.omit_stages.is_empty() {
        "none".to_string()
    } else {
        d.omit_stages.names()
    };
    match d.rule {
        Some(i) => out.push_str(&format!(
            "  rule {} (line {}): matches\nlevel {}, omitted stages: {stages}{}\n",
            i + 1,
            p.rules[i].pos.line,
            d.level,
            if d.omit_managed_fields {
                ", managedFields omitted"
            } else {
                ""
            }
        )),
        None => out.push_str(&format!(
            "no rule matches: level None (not logged), omitted stages: {stages}\n"
        )),
    }
    let mut o = io::stdout().lock();
    o.write_all(out.as_bytes())
        .and_then(|()| o.flush())
        .map_err(Error::Output)?;
    Ok(EXIT_MATCH)
}

// ---------------------------------------------------------------- eval

/// The fields each worker extracts for the policy (in this order).
const KEY_FIELDS: &str = "user.username,user.groups,verb,objectRef.apiGroup,objectRef.resource,objectRef.subresource,objectRef.namespace,objectRef.name,requestURI,stage,level,stageTimestamp";

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

/// The top-level entries of an event (values left as raw JSON).
struct Top<'a>(Vec<(std::borrow::Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Top<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Top<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut m: M,
            ) -> Result<Top<'a>, M::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) =
                    m.next_entry::<std::borrow::Cow<'de, str>, &'de RawValue>()?
                {
                    out.push((k, v));
                }
                Ok(Top(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// The event as the apiserver would write it at `level` (None if it cannot be read as
/// one JSON object).
fn trimmed(text: &[u8], decision: &Decision) -> Option<Vec<u8>> {
    let text = text.trim_ascii();
    let top: Top<'_> = serde_json::from_slice(text).ok()?;
    let mut out = Vec::with_capacity(text.len());
    out.push(b'{');
    let mut first = true;
    let mut wrote_level = false;
    for (key, value) in &top.0 {
        let drop = match key.as_ref() {
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
        serde_json::to_writer(&mut out, key.as_ref()).ok()?;
        out.push(b':');
        if key == "level" {
            wrote_level = true;
            serde_json::to_writer(&mut out, decision.level.as_str()).ok()?;
        } else if decision.omit_managed_fields
            && matches!(key.as_ref(), "requestObject" | "responseObject")
        {
            let mut v: serde_json::Value = serde_json::from_str(value.get()).ok()?;
            if let Some(meta) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                meta.remove("managedFields");
            }
            serde_json::to_writer(&mut out, &v).ok()?;
        } else {
            out.extend_from_slice(value.get().as_bytes());
        }
    }
    if !wrote_level {
        if !first {
            out.push(b',');
        }
        out.extend_from_slice(format!("\"level\":\"{}\"", decision.level).as_bytes());
    }
    out.push(b'}');
    Some(out)
}

/// The event as this policy would write it: the line as it is when the level is the
/// same and nothing is trimmed, else re-written by [`trimmed`].
fn written<'t>(
    text: &'t [u8],
    decision: &Decision,
    original: Option<Level>,
) -> std::borrow::Cow<'t, [u8]> {
    let text = text.trim_ascii();
    if original == Some(decision.level) && !decision.omit_managed_fields {
        return std::borrow::Cow::Borrowed(text);
    }
    trimmed(text, decision).map_or(std::borrow::Cow::Borrowed(text), std::borrow::Cow::Owned)
}

struct EvalSink<'w> {
    out: Box<dyn Write + 'w>,
    keep: bool,
    json: bool,
    stats: Vec<PolicyStats>,
    input: Tally,
    first_time: Option<i64>,
    last_time: Option<i64>,
    /// With --diff: (verb, resource) → (events logged by A only, by B only, at a different level).
    differ: HashMap<String, [u64; 3]>,
    buffer: Vec<u8>,
}

impl EvalSink<'_> {
    fn outcome(policy: &Policy, key: &[String], text: &[u8]) -> Outcome {
        let attrs = attributes(key);
        let decision = policy::evaluate(policy, &attrs);
        let stage = Stage::parse(key.get(9).map(String::as_str).unwrap_or(""));
        let logged = decision.level > Level::None
            && !stage.is_some_and(|s| decision.omit_stages.contains(s));
        let original = Level::parse(key.get(10).map(String::as_str).unwrap_or(""));
        let bytes = if logged {
            written(text, &decision, original).len() as u64 + 1
        } else {
            0
        };
        Outcome {
            decision,
            logged,
            bytes,
        }
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
            let t = t as i64;
            self.first_time = Some(self.first_time.map_or(t, |f| f.min(t)));
            self.last_time = Some(self.last_time.map_or(t, |l| l.max(t)));
        }
        let original = Level::parse(event.key.get(10).map(String::as_str).unwrap_or(""));
        let mut outcomes = Vec::with_capacity(self.stats.len());
        for s in &mut self.stats {
            let o = Self::outcome(&s.policy, event.key, event.text);
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
                self.buffer
                    .extend_from_slice(&written(event.text, &o.decision, original));
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

fn eval(
    config: &Config,
    a: (PathBuf, Policy),
    b: Option<(PathBuf, Policy)>,
    keep: bool,
    json: bool,
) -> Result<i32, Error> {
    let key_fields = crate::sink::parse_field_list(KEY_FIELDS)
        .map_err(|e| Error::Other(format!("internal: {e}")))?;
    let plan = Arc::new(Plan {
        prefilter: if config.prefilter {
            Prefilter::new(&config.expr)
        } else {
            None
        },
        expr: config.expr.clone(),
        writer: EventWriter::new(Format::Jsonl, false),
        key_fields: Some(key_fields),
        count_only: false,
        strict: config.strict,
        max_line_bytes: config.max_line_bytes,
        meta: false,
        text_with_key: true,
        // The policy judges (and `--keep` trims) the Kubernetes event, not its envelope.
        unwrap: true,
    });
    let planned = super::plan_inputs(config)?;
    let stdout = io::stdout();
    let mut stats = vec![PolicyStats::new(a.0, a.1)];
    if let Some((p, policy)) = b {
        stats.push(PolicyStats::new(p, policy));
    }
    let mut sink = EvalSink {
        out: Box::new(io::BufWriter::with_capacity(256 * 1024, stdout.lock())),
        keep,
        json,
        stats,
        input: Tally::default(),
        first_time: None,
        last_time: None,
        differ: HashMap::new(),
        buffer: Vec::new(),
    };
    let options = Options {
        threads: config.threads,
        block_size: config.block_size,
        max_line_bytes: config.max_line_bytes,
        max_count: None,
        merge: None,
        progress: None,
        skipped: (planned.files_skipped, planned.bytes_skipped),
        no_mmap: config.no_mmap,
    };
    let mut err = io::stderr();
    let outcome = search::run(&planned.targets, plan, &options, &mut sink, &mut err)
        .map_err(Error::Output)?;
    Ok(if outcome.had_error {
        EXIT_ERROR
    } else if sink.stats[0].logged.events > 0 {
        EXIT_MATCH
    } else {
        EXIT_NO_MATCH
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse() {
        let a = parse_request("verb=get resource=pods/log ns=prod user=alice groups=a,b").unwrap();
        assert_eq!(
            (a.resource.as_str(), a.subresource.as_str()),
            ("pods", "log")
        );
        assert!(a.resource_request);
        assert_eq!(a.groups, ["a", "b"]);
        let a = parse_request("verb=get path=/healthz").unwrap();
        assert!(!a.resource_request);
        assert!(parse_request("get secrets").is_err());
        assert!(parse_request("resource=pods").is_err());
    }

    #[test]
    fn trimming_follows_the_level() {
        let line = br#"{"kind":"Event","level":"RequestResponse","requestObject":{"metadata":{"managedFields":[1]}},"responseObject":{"a":1},"verb":"create"}"#;
        let mut d = Decision {
            rule: Some(0),
            level: Level::Metadata,
            omit_stages: Default::default(),
            omit_managed_fields: false,
        };
        assert_eq!(
            trimmed(line, &d).unwrap(),
            br#"{"kind":"Event","level":"Metadata","verb":"create"}"#
        );
        d.level = Level::Request;
        d.omit_managed_fields = true;
        assert_eq!(
            trimmed(line, &d).unwrap(),
            br#"{"kind":"Event","level":"Request","requestObject":{"metadata":{}},"verb":"create"}"#
        );
    }
}
