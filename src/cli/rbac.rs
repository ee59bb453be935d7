//! `auditq rbac`: its options and its run. The log is read as a search reads it (the same
//! query, inputs, time range and reading options); [`crate::rbac`] does the rest.

use super::args::{EngineArgs, InputArgs, TimeArgs};
use super::config::{self, Env, Reading};
use super::{EXIT_ERROR, EXIT_MATCH, EXIT_NO_MATCH};
use crate::engine::Output;
use crate::error::Error;
use crate::invalid::Invalid;
use crate::rbac::compare::{self, ClusterRbac};
use crate::rbac::generate::{self, Options, Widen};
use crate::rbac::{self, RbacSink, Selection, output};
use crate::report;
use crate::search;
use clap::{ArgGroup, ValueEnum};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RbacFormat {
    /// YAML documents for `kubectl apply -f` (evidence as comments).
    Yaml,
    /// One JSON document: objects, evidence, denied requests.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WidenArg {
    /// A resource read (without resourceNames) with any of get, list, watch gets all three.
    GetListWatch,
}

/// `auditq rbac`: least-privilege Roles, ClusterRoles and bindings from what each
/// subject did, with the evidence of every rule; or, with --compare, the RBAC a cluster
/// has held against it.
#[derive(Debug, Clone, PartialEq, clap::Args)]
#[command(group(ArgGroup::new("who").required(true).multiple(true).args(["user", "serviceaccount", "group", "all_subjects"])))]
pub struct RbacArgs {
    /// Query text (restricting the events used) and log files, as in a search (stdin if
    /// no file).
    #[command(flatten)]
    pub inputs: InputArgs,
    #[command(flatten)]
    pub time: TimeArgs,
    #[command(flatten)]
    pub engine: EngineArgs,

    /// A user (as authenticated, or as impersonated); repeatable.
    #[arg(long, value_name = "NAME", help_heading = "Subjects")]
    pub user: Vec<String>,
    /// A service account, NAMESPACE:NAME; repeatable.
    #[arg(long, value_name = "NS:NAME", value_parser = parse_service_account, help_heading = "Subjects")]
    pub serviceaccount: Vec<String>,
    /// A group: the requests of every user in it, bound to the group; repeatable.
    #[arg(long, value_name = "NAME", help_heading = "Subjects")]
    pub group: Vec<String>,
    /// Every user and service account in the log.
    #[arg(long, conflicts_with_all = ["user", "serviceaccount"], help_heading = "Subjects")]
    pub all_subjects: bool,

    /// yaml (kubectl apply -f) or json.
    #[arg(short, long, value_enum, default_value_t = RbacFormat::Yaml)]
    pub output: RbacFormat,
    /// Keep namespaced rules in one Role per namespace, even when used in several.
    #[arg(long, conflicts_with = "compare")]
    pub prefer_roles: bool,
    /// Grant more than was used: get-list-watch gives a resource read with any of the
    /// three all three.
    #[arg(long, value_enum, value_name = "HOW", conflicts_with = "compare")]
    pub widen: Option<WidenArg>,
    /// Compare with the cluster's RBAC (the output of `kubectl get clusterroles,
    /// clusterrolebindings,roles,rolebindings -A -o yaml`): rules used, never used
    /// (sensitive ones flagged), allowed requests no binding explains, denied requests,
    /// a usage score.
    #[arg(long, value_name = "RBAC.yaml")]
    pub compare: Option<PathBuf>,
}

fn parse_service_account(text: &str) -> Result<String, Invalid> {
    match text.split_once(':') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains(':') => {
            Ok(format!("system:serviceaccount:{ns}:{name}"))
        }
        _ => Err(format!("`{text}` is not NAMESPACE:NAME (e.g. kube-system:coredns)").into()),
    }
}

/// Runs `auditq rbac`.
pub fn run(args: RbacArgs, env: &Env) -> Result<i32, Error> {
    let cluster = match &args.compare {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::Other(format!(
                    "{}: cannot read the RBAC file: {e}",
                    path.display()
                ))
            })?;
            Some(ClusterRbac::parse(&text).map_err(|e| Error::Rbac {
                path: path.clone(),
                error: e,
            })?)
        }
        None => None,
    };
    let (presets, _) = env.presets_file.load()?;
    let reading = Reading::from_args(&args.inputs, &args.time, false, &presets)?;
    let key_fields = crate::sink::parse_field_list(rbac::KEY_FIELDS)
        .map_err(|e| Error::Other(format!("internal: {e}")))?;
    let engine = config::engine(reading.expr, &args.engine, env.cpus)
        .output_as(Output::Keys(key_fields))
        .unwrap_envelopes(true);
    let plan = Arc::new(engine.plan());
    let planned = super::plan_inputs(
        &reading.inputs,
        &engine,
        args.inputs.recursive,
        args.inputs.backups,
    )?;
    let selection = Selection {
        users: args
            .user
            .iter()
            .chain(&args.serviceaccount)
            .cloned()
            .collect(),
        groups: args.group.iter().cloned().collect(),
        all: args.all_subjects,
    };
    let mut sink = RbacSink::new(selection);
    let options = engine.search_options((planned.files_skipped, planned.bytes_skipped), None);
    let mut err = io::stderr();
    let outcome = search::run(&planned.targets, plan, &options, &mut sink, &mut err)
        .map_err(Error::Output)?;
    if sink.requests == 0 && sink.other_stages > 0 {
        let _ = writeln!(
            err,
            "{}",
            report::warning_line(
                "no ResponseComplete or Panic event: requests are counted at their final stage, and the policy of this log may omit it"
            )
        );
    }
    let mut text = String::new();
    let mut json = Vec::new();
    let mut reports = Vec::new();
    let generate_options = Options {
        prefer_roles: args.prefer_roles,
        widen: args.widen.map(|WidenArg::GetListWatch| Widen::GetListWatch),
    };
    let requests = sink.requests;
    for (subject, log) in &sink.into_subjects() {
        let generated = generate::generate(subject, log, &generate_options);
        match &cluster {
            Some(rbac) => {
                let c = compare::compare(rbac, subject, log, generated.denied);
                reports.push(compare::report(&c));
            }
            None => match args.output {
                RbacFormat::Yaml => output::write_yaml(&generated, &mut text),
                RbacFormat::Json => json.push(output::subject_json(&generated)),
            },
        }
    }
    if cluster.is_some() && args.output == RbacFormat::Yaml {
        text.push_str("subjects:\n");
        for r in &reports {
            output::write_entries(&mut text, r.iter().map(|(k, v)| (*k, v)), 2, true);
        }
        if reports.is_empty() {
            text = "subjects: []\n".into();
        }
    } else if cluster.is_some() || args.output == RbacFormat::Json {
        json.extend(reports.into_iter().map(|r| {
            serde_json::Value::Object(r.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        }));
        let doc = serde_json::json!({ "subjects": json });
        text = match args.output {
            RbacFormat::Json => {
                let mut t = serde_json::to_string_pretty(&doc).unwrap_or_default();
                t.push('\n');
                t
            }
            RbacFormat::Yaml => output::yaml(&doc),
        };
    }
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Error::Output)?;
    Ok(if outcome.had_error {
        EXIT_ERROR
    } else if requests > 0 {
        EXIT_MATCH
    } else {
        EXIT_NO_MATCH
    })
}

#[cfg(test)]
mod tests {
    use super::super::args::{Args, Command};
    use clap::Parser;

    #[test]
    fn options_parse_and_conflict() {
        let ok = Args::try_parse_from([
            "auditq",
            "rbac",
            "--serviceaccount",
            "ns1:sa1",
            "--user",
            "bob",
            "x.log",
        ])
        .unwrap();
        let Command::Rbac(a) = ok.into_command() else {
            panic!("not rbac")
        };
        assert_eq!(a.serviceaccount, ["system:serviceaccount:ns1:sa1"]);
        assert_eq!(a.inputs.args, ["x.log"]);
        let bad = |args: &[&str]| Args::try_parse_from(args).unwrap_err().to_string();
        assert!(bad(&["auditq", "rbac", "x.log"]).contains("required"));
        assert!(bad(&["auditq", "rbac", "--serviceaccount", "sa1"]).contains("NAMESPACE:NAME"));
        assert!(
            bad(&["auditq", "rbac", "--all-subjects", "--user", "a"]).contains("cannot be used")
        );
        assert!(
            bad(&[
                "auditq",
                "rbac",
                "--user",
                "a",
                "--compare",
                "r.yaml",
                "--widen",
                "get-list-watch"
            ])
            .contains("cannot be used")
        );
        assert!(bad(&["auditq", "rbac", "--user", "a", "-o", "table"]).contains("invalid value"));
    }
}
