//! `auditq policy lint|eval|explain`: audit policies checked as kube-apiserver loads them,
//! tried on a real log, and explained for one request. The policy model is
//! [`crate::policy`]; `eval` reads the log with the search engine.

use super::args::{EngineArgs, InputArgs, TimeArgs};
use super::config::{self, Env, Reading};
use super::{EXIT_ERROR, EXIT_MATCH, EXIT_NO_MATCH};
use crate::engine::Output;
use crate::error::Error;
use crate::invalid::Invalid;
use crate::policy::eval::{self, EvalSink};
use crate::policy::load::Finding;
use crate::policy::{self, Attributes, Policy, Severity};
use crate::report;
use crate::search;
use clap::{Subcommand, ValueEnum};
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
    Eval(Box<EvalArgs>),
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

/// `auditq policy eval`: the log is read as a search reads it (the same query, input and
/// reading options).
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct EvalArgs {
    /// The policy file.
    #[arg(value_name = "POLICY")]
    pub policy: PathBuf,
    /// Query text and log files, as in a search (stdin if no file).
    #[command(flatten)]
    pub inputs: InputArgs,
    #[command(flatten)]
    pub time: TimeArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Print the events the policy would log instead (JSON lines, input order), with
    /// its level and trimmed as the apiserver trims at that level.
    #[arg(long, conflicts_with_all = ["diff", "output"])]
    pub keep: bool,
    /// Compare with another policy on the same log.
    #[arg(long, value_name = "OTHER_POLICY")]
    pub diff: Option<PathBuf>,
    /// text or json (one document).
    #[arg(short, long, value_enum, default_value_t = LintFormat::Text)]
    pub output: LintFormat,
}

/// Runs `auditq policy …`.
pub fn run(args: PolicyArgs, env: &Env) -> Result<i32, Error> {
    match args.command {
        PolicyCommand::Lint {
            files,
            deny_warnings,
            output,
        } => lint(&files, deny_warnings, output),
        PolicyCommand::Explain { policy, request } => explain(&policy, &request.join(" ")),
        PolicyCommand::Eval(args) => eval(*args, env),
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

fn finding_json(f: &Finding) -> serde_json::Value {
    serde_json::json!({
        "line": f.pos.line,
        "column": f.pos.col,
        "severity": f.severity.name(),
        "message": f.message,
        "fix": f.fix,
        "apiserverRefuses": f.refused,
    })
}

/// One finding as `auditq policy lint` prints it: `FILE:LINE:COL: severity: message`,
/// then `    in the pod: PATH:LINE:COL` for a policy finding, then `    fix: …`.
pub(super) fn write_finding(
    out: &mut dyn Write,
    file: &Path,
    pod: Option<&str>,
    f: &Finding,
) -> io::Result<()> {
    writeln!(
        out,
        "{}:{}:{}: {}: {}",
        file.display(),
        f.pos.line,
        f.pos.col,
        f.severity.name(),
        f.message
    )?;
    if let Some(pod) = pod {
        writeln!(out, "    in the pod: {pod}:{}:{}", f.pos.line, f.pos.col)?;
    }
    if !f.fix.is_empty() {
        writeln!(out, "    fix: {}", f.fix)?;
    }
    Ok(())
}

fn write_findings(out: &mut dyn Write, file: &Path, loaded: &policy::Loaded) -> io::Result<()> {
    for f in &loaded.findings {
        write_finding(out, file, None, f)?;
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
pub fn parse_request(text: &str) -> Result<Attributes, Invalid> {
    let mut a = Attributes {
        user: Some(String::new()),
        ..Attributes::default()
    };
    let mut path = None;
    for word in text.split_whitespace() {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!("`{word}` is not key=value").into());
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
                )
                .into());
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
    let attrs = parse_request(request).map_err(|e| Error::Usage(e.0))?;
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

fn eval(args: EvalArgs, env: &Env) -> Result<i32, Error> {
    let a = load_for_use(&args.policy)?;
    let b = args.diff.as_deref().map(load_for_use).transpose()?;
    let (presets, _) = env.presets_file.load()?;
    let reading = Reading::from_args(&args.inputs, &args.time, false, &presets)?;
    let key_fields = crate::sink::parse_field_list(eval::KEY_FIELDS)
        .map_err(|e| Error::Other(format!("internal: {e}")))?;
    let engine = config::engine(reading.expr, &args.engine, env.cpus)
        .output_as(Output::Keyed(key_fields))
        // The policy judges (and `--keep` trims) the Kubernetes event, not its envelope.
        .unwrap_envelopes(true);
    let plan = Arc::new(engine.plan());
    let planned = super::plan_inputs(
        &reading.inputs,
        &engine,
        args.inputs.recursive,
        args.inputs.backups,
    )?;
    let mut policies = vec![a];
    policies.extend(b);
    let out = io::BufWriter::with_capacity(256 * 1024, io::stdout().lock());
    let mut sink = EvalSink::new(
        Box::new(out),
        policies,
        args.keep,
        args.output == LintFormat::Json,
    );
    let options = engine.search_options((planned.files_skipped, planned.bytes_skipped), None);
    let mut err = io::stderr();
    let outcome = search::run(&planned.targets, plan, &options, &mut sink, &mut err)
        .map_err(Error::Output)?;
    Ok(if outcome.had_error {
        EXIT_ERROR
    } else if sink.logged_events() > 0 {
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
}
