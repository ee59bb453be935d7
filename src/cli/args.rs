//! The command line as clap sees it: every flag, its value parser, and which flags
//! conflict or need each other. Turning this into a [`super::config::Config`] is the job of
//! the config module; running it, of `cli::run`.

use crate::invalid::Invalid;
use crate::query::fields::FieldRef;
use crate::sink::{self, Bucket, Format};
use crate::timefmt;
use clap::error::ErrorKind;
use clap::{ArgGroup, CommandFactory, Parser, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "auditq",
    version,
    about = "Query Kubernetes audit logs: exact, fast, through gzip, rotation and kubectl logs.",
    long_about = "Query Kubernetes audit logs: exact, fast, through gzip, rotation and kubectl logs.\n\n\
        Positional arguments that name an existing file (or `-` for stdin) are inputs; all \
        others are query text, joined with AND. With -f, an argument that looks like a path \
        (has a `/`, or ends in .log, .gz, .json) and is not a query is a file to wait for. \
        After `--` every argument is a file.",
    after_help = "Examples:\n  \
        auditq 'verb=delete resource=secrets' /var/log/kubernetes/audit.log\n  \
        auditq -f /var/log/kubernetes/audit.log 'verb=delete resource=secrets'\n  \
        kubectl logs -n kube-system kube-apiserver-cp1 | auditq user=alice\n  \
        auditq --backups --since 2h 'ns=prod code>=400' /var/log/kubernetes/audit.log\n\n\
        Query language: docs/query.md (fields user, group, as, verb, resource, subresource, ns, \
        name, apigroup, apiversion, stage, level, code, ip, ua, uri, auditid, decision, reason, \
        time, or any dotted JSON path); presets: @name as a term (auditq --presets).\n\n\
        Audit policies: auditq policy lint|eval|explain (auditq policy --help; docs/policy.md).\n\n\
        Least-privilege RBAC from the log: auditq rbac (auditq rbac --help; docs/rbac.md)."
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// The search (what auditq does without a subcommand).
    #[command(flatten)]
    pub search: SearchArgs,

    /// Print shell completions for SHELL (bash, zsh, fish, elvish, powershell) and exit.
    #[arg(help_heading = "Other", long, value_name = "SHELL", exclusive = true)]
    pub completions: Option<clap_complete::Shell>,

    /// Print the man page (roff) and exit.
    #[arg(help_heading = "Other", long, exclusive = true)]
    pub man: bool,

    /// List every preset (@name in a query): its query, what it finds, and where it comes
    /// from (built-in, or the presets file: $AUDITQ_PRESETS, else
    /// $XDG_CONFIG_HOME/auditq/presets.toml, else ~/.config/auditq/presets.toml).
    #[arg(help_heading = "Other", long, exclusive = true)]
    pub presets: bool,

    /// `auditq serve|policy|doctor|export …` (their options live in the subcommand).
    #[command(subcommand)]
    pub command: Option<Sub>,
}

/// What auditq was asked to do: the one command model every entry point dispatches on.
#[derive(Debug)]
pub enum Command {
    /// No subcommand: search (or with -f, follow).
    Search(Box<SearchArgs>),
    Serve(Box<super::serve::ServeArgs>),
    Policy(super::policy::PolicyArgs),
    Doctor(super::doctor::DoctorArgs),
    Sql(super::sql::SqlArgs),
    Export(Box<super::export::ExportArgs>),
    Rbac(Box<super::rbac::RbacArgs>),
    /// `--completions SHELL`.
    Completions(clap_complete::Shell),
    /// `--man`.
    Man,
    /// `--presets`.
    Presets,
}

/// Subcommands. A first argument `serve`, `policy`, `doctor` or `export` is the
/// subcommand; a file of that name is searched as `./serve` or after `--`.
#[derive(Debug, Clone, clap::Subcommand, PartialEq)]
pub enum Sub {
    /// Receive kube-apiserver's audit webhook: filter the batches, write the matches
    /// (auditq serve --help).
    Serve(Box<super::serve::ServeArgs>),
    /// Check an audit policy (--audit-policy-file) as kube-apiserver loads it, try it on
    /// a real log, explain one request (auditq policy --help).
    ///
    /// `lint` loads policy files as kube-apiserver does and adds a reviewer's warnings;
    /// `eval` replays a log through a policy (what it would log, per rule, and the
    /// bytes); `explain` names the rule that matches one request and why each earlier
    /// rule does not.
    Policy(super::policy::PolicyArgs),
    /// Check the audit set-up of a kube-apiserver static pod manifest before the kubelet
    /// restarts it (auditq doctor --help).
    ///
    /// Checks the --audit-* flags, that the policy file and the log directory are mounted
    /// into the pod, rotation, and the webhook configuration. Exit 0 clean, 1 warnings
    /// only, 2 errors.
    Doctor(super::doctor::DoctorArgs),
    /// Compile a query into SQL for DuckDB, ClickHouse, Spark, Trino or BigQuery over the
    /// table `auditq export` writes: the same events, or counts (auditq sql --help).
    Sql(super::sql::SqlArgs),
    /// Write every event read (or matched) into Parquet or normalised JSON lines for
    /// DuckDB, ClickHouse, Spark, Trino or BigQuery (auditq export --help).
    ///
    /// One row per event with typed columns, every value of the event (`leaves`) and the
    /// event as auditq prints it (`raw`); hive partitions by cluster and date. Files are
    /// written under temporary names and renamed into place only when the whole export
    /// succeeded (docs/scale-out.md).
    Export(Box<super::export::ExportArgs>),
    /// Least-privilege RBAC from the audit log: Roles, ClusterRoles and bindings for what
    /// each subject did, with evidence; or the cluster's RBAC compared with it (auditq
    /// rbac --help; docs/rbac.md).
    ///
    /// Only allowed requests make rules (authorization.k8s.io/decision=allow, or a
    /// response other than 401, 403 and 429 without it); 403s are listed as denied.
    Rbac(Box<super::rbac::RbacArgs>),
}

/// Query text and inputs, as every command that reads logs takes them (search, follow,
/// `policy eval`).
#[derive(Debug, Clone, PartialEq, clap::Args)]
#[command(next_help_heading = "Inputs")]
pub struct InputArgs {
    /// Query text and input files (`-` is stdin); see the description above.
    #[arg(value_name = "QUERY|FILE")]
    pub args: Vec<String>,

    /// Input files, after `--` (never query text).
    #[arg(last = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Query text, even if it names a file (repeatable; joined with AND).
    #[arg(short = 'e', long = "query", value_name = "TEXT")]
    pub query: Vec<String>,

    /// Also read the rotated backups of each file (audit-2026-01-02T03-04-05.000.log[.gz]),
    /// oldest first. With -f: read them (and the whole file) before following, like --from-start.
    /// (A directory argument always means every audit log in it, backups included.)
    #[arg(long)]
    pub backups: bool,

    /// Read the subdirectories of directory arguments too.
    #[arg(short = 'r', long)]
    pub recursive: bool,
}

/// `--since` and `--until`.
#[derive(Debug, Clone, Copy, PartialEq, clap::Args)]
#[command(next_help_heading = "Time range")]
pub struct TimeArgs {
    /// Only events at or after this time: a duration back from now (90m, 2h, 7d) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub since: Option<When>,

    /// Only events at or before this time: a duration back from now or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub until: Option<When>,
}

/// How the engine reads: every command that reads logs takes these.
#[derive(Debug, Clone, PartialEq, clap::Args)]
#[command(next_help_heading = "Reading")]
pub struct EngineArgs {
    /// Worker threads [default: number of CPUs]. Not with -f (one stream, read in order).
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,

    /// Treat an invalid JSON line as an error (exit 2) instead of skipping it. Every line
    /// is then checked, so the prefilter is off.
    #[arg(long)]
    pub strict: bool,

    /// Longest line (or multi-line document) accepted; longer ones are reported and skipped.
    #[arg(long, value_name = "BYTES", default_value = "64MiB", value_parser = parse_size)]
    pub max_line_bytes: usize,

    /// Parse every line (disable the byte-needle prefilter); for checking, never needed.
    #[arg(long)]
    pub no_prefilter: bool,

    /// Read large files with read() instead of mapping them (tuning, for comparison).
    #[arg(long, hide = true)]
    pub no_mmap: bool,

    /// Block size for reading (tuning).
    #[arg(long, value_name = "BYTES", default_value = "1MiB", value_parser = parse_size, hide = true)]
    pub block_size: usize,
}

/// What becomes of the matches of a search or a follow.
#[derive(Debug, Clone, PartialEq, clap::Args)]
#[group(skip)]
#[command(next_help_heading = "Output")]
#[command(group(ArgGroup::new("aggregate").multiple(true).args(["count_by", "summary", "timeline"])))]
pub struct OutputArgs {
    /// Output: jsonl, json, table, wide, csv, tsv, or fields=a,b,… [default: the original
    /// lines when stdout is not a terminal, a table when it is]
    #[arg(short, long, value_name = "FORMAT", value_parser = parse_format)]
    pub output: Option<Format>,

    /// Events found inside an envelope (AKS diagnostic records, CloudWatch Logs, GKE Cloud
    /// Logging entries) are printed as the Kubernetes event alone, not as the envelope
    /// record they came in. With -o jsonl or json only (docs/formats.md).
    #[arg(long, conflicts_with_all = ["count", "count_by", "summary", "timeline"])]
    pub unwrap: bool,

    /// Print only the number of matching events (with -f: when stopped).
    #[arg(short, long, conflicts_with_all = ["count_by", "output", "summary", "timeline"])]
    pub count: bool,

    /// Count matching events per value of FIELD[,FIELD…], most frequent first (with -f:
    /// when stopped). With -o json: one JSON document.
    #[arg(long, value_name = "FIELDS", value_parser = parse_fields)]
    pub count_by: Option<FieldList>,

    /// Print what matched instead of the events: time range, totals by verb, code class
    /// and stage, top users, resources, namespaces, source IPs and user agents, forbidden
    /// and failed requests, the busiest minute (with -f: when stopped). With -o json: one
    /// JSON document.
    #[arg(long, conflicts_with_all = ["count_by", "timeline"])]
    pub summary: bool,

    /// Draw the matches over time as bars, one row per BUCKET (500ms, 10s, 5m, 1h, 1d…;
    /// without a value, one giving 20–60 rows). With -f: when stopped. With -o json: one
    /// JSON document.
    #[arg(
        long,
        value_name = "BUCKET",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "auto",
        value_parser = parse_bucket,
        conflicts_with = "count_by"
    )]
    pub timeline: Option<Bucket>,

    /// With --timeline: one series (column and bar segment) per top value of FIELD, the
    /// rest as `other`.
    #[arg(long, value_name = "FIELD", requires = "timeline", value_parser = parse_field)]
    pub timeline_by: Option<FieldRef>,

    /// Rows of each --summary table [default: 10]; series of --timeline-by [default: 5];
    /// with --count-by, only the N largest groups [default: all].
    #[arg(long, value_name = "N", requires = "aggregate", value_parser = clap::value_parser!(u64).range(1..))]
    pub top: Option<u64>,

    /// Stop after N matching events.
    #[arg(short, long, value_name = "N")]
    pub max_count: Option<u64>,

    /// When to use colours (NO_COLOR is honoured with auto).
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,

    /// Print statistics to stderr at the end: lines, events, matches, skipped lines by
    /// kind, bytes, seconds.
    #[arg(long)]
    pub stats: bool,
}

/// Follow mode (`-f`) and its own options.
#[derive(Debug, Clone, PartialEq, clap::Args)]
#[command(next_help_heading = "Follow")]
pub struct FollowArgs {
    /// Follow the files as they grow, through rotations (rename, gzip, pruning,
    /// copytruncate), like `tail -F` but losing and repeating nothing; stdin if no file.
    #[arg(short = 'f', long, conflicts_with_all = ["threads", "recursive", "merge", "verbose", "no_mmap"])]
    pub follow: bool,

    /// With -f: first show the last N matching events (searching back through backups).
    #[arg(short = 'n', long = "lines", value_name = "N", requires = "follow")]
    pub lines: Option<usize>,

    /// With -f: first read every backup (oldest first) and the whole file, then follow.
    #[arg(long, requires = "follow", conflicts_with = "lines")]
    pub from_start: bool,

    /// With -f: only poll with stat() (for NFS, overlayfs, or when inotify is exhausted).
    #[arg(long, requires = "follow")]
    pub poll: bool,

    /// With -f: keep a checkpoint here, so a restart resumes where output stopped.
    #[arg(long, value_name = "FILE", requires = "follow")]
    pub state: Option<PathBuf>,
}

/// Everything a search (or follow) takes.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct SearchArgs {
    #[command(flatten)]
    pub inputs: InputArgs,

    #[command(flatten)]
    pub time: TimeArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub engine: EngineArgs,

    #[command(flatten)]
    pub follow: FollowArgs,

    /// Merge the inputs (one per apiserver, each a file or a directory of backups) into
    /// one stream ordered by event time, ties in input order.
    #[arg(help_heading = "Archives", long)]
    pub merge: bool,

    /// With --merge: how much disorder inside each input is sorted out (memory holds this
    /// much of each input).
    #[arg(help_heading = "Archives", long, value_name = "DURATION", default_value = "10s", value_parser = parse_window, requires = "merge")]
    pub merge_window: Window,

    /// One event per request (auditID): the most complete stage (ResponseComplete, else
    /// Panic, else ResponseStarted, else RequestReceived), printed when its final stage
    /// is read.
    #[arg(help_heading = "Archives", long)]
    pub dedupe: bool,

    /// Say which files are read, skipped (not audit logs, before the time range) or read
    /// from the middle.
    #[arg(help_heading = "Archives", short = 'v', long)]
    pub verbose: bool,
}

impl Args {
    /// Parses the process arguments, with the checks clap cannot express (see
    /// [`SearchArgs::check`]).
    pub fn parse_checked() -> Result<Args, clap::Error> {
        Args::try_parse().and_then(Args::check)
    }

    /// [`Args::parse_checked`] on the given arguments.
    pub fn parse_checked_from<I, T>(argv: I) -> Result<Args, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Args::try_parse_from(argv).and_then(Args::check)
    }

    fn check(self) -> Result<Args, clap::Error> {
        self.search.output.check()?;
        Ok(self)
    }

    /// The command these arguments ask for.
    pub fn into_command(self) -> Command {
        if let Some(shell) = self.completions {
            return Command::Completions(shell);
        }
        if self.man {
            return Command::Man;
        }
        if self.presets {
            return Command::Presets;
        }
        match self.command {
            Some(Sub::Serve(serve)) => Command::Serve(serve),
            Some(Sub::Policy(policy)) => Command::Policy(policy),
            Some(Sub::Doctor(doctor)) => Command::Doctor(doctor),
            Some(Sub::Sql(sql)) => Command::Sql(sql),
            Some(Sub::Export(export)) => Command::Export(export),
            Some(Sub::Rbac(rbac)) => Command::Rbac(rbac),
            None => Command::Search(Box::new(self.search)),
        }
    }
}

impl OutputArgs {
    /// Conflicts that depend on a value: `--summary`, `--timeline` and `--count-by` print
    /// one report, which `-o json` turns into one JSON document; any other `-o` is refused
    /// (never ignored), as a clap conflict.
    pub fn check(&self) -> Result<(), clap::Error> {
        let report = if self.summary {
            Some("--summary")
        } else if self.timeline.is_some() {
            Some("--timeline")
        } else if self.count_by.is_some() {
            Some("--count-by")
        } else {
            None
        };
        match (report, &self.output) {
            (Some(flag), Some(format)) if *format != Format::Json => Err(Args::command().error(
                ErrorKind::ArgumentConflict,
                format!(
                    "the argument '--output <FORMAT>' cannot be used with '{flag}' \
                         except as `-o json` (one JSON document)"
                ),
            )),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// A `--since`/`--until` value, resolved against the time auditq started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When(pub timefmt::Nanos);

/// A duration (`--merge-window 10s`), in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window(pub timefmt::Nanos);

fn parse_window(text: &str) -> Result<Window, Invalid> {
    timefmt::parse_duration(text)
        .map(Window)
        .ok_or_else(|| format!("`{text}` is not a duration like 500ms, 10s, 2m or 1h").into())
}

/// A list of fields (`--count-by user,verb`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldList(pub Vec<FieldRef>);

fn parse_format(text: &str) -> Result<Format, Invalid> {
    Format::parse(text)
}

pub(crate) fn parse_fields(text: &str) -> Result<FieldList, Invalid> {
    sink::parse_field_list(text)
        .map(FieldList)
        .map_err(|e| e.to_string().into())
}

fn parse_field(text: &str) -> Result<FieldRef, Invalid> {
    match parse_fields(text)?.0.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err("give one field (e.g. user)".into()),
    }
}

fn parse_bucket(text: &str) -> Result<Bucket, Invalid> {
    Bucket::parse(text)
}

fn parse_when(text: &str) -> Result<When, Invalid> {
    timefmt::parse_time_bound(text, chrono::Utc::now()).map(When)
}

/// Parses `64MiB`, `1M`, `512k`, `1000`: the one size grammar of every option.
pub fn parse_size(text: &str) -> Result<usize, Invalid> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: usize = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size like 64MiB"))?;
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => {
            return Err(format!("`{text}`: unknown unit `{unit}` (use KiB, MiB or GiB)").into());
        }
    };
    n.checked_mul(factor).filter(|&n| n > 0).ok_or_else(|| {
        format!("`{text}` is not a size between 1 byte and the address space").into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn reports_take_json_and_refuse_other_formats() {
        let checked = |args: &[&str]| Args::parse_checked_from(args);
        for report in [&["--summary"][..], &["--timeline"], &["--count-by", "user"]] {
            let mut argv = vec!["auditq"];
            argv.extend_from_slice(report);
            assert!(checked(&argv).is_ok());
            argv.extend(["-o", "json"]);
            assert!(checked(&argv).is_ok(), "{argv:?}");
            argv.pop();
            argv.push("table");
            let e = checked(&argv).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ArgumentConflict);
            assert!(e.to_string().contains("except as `-o json`"), "{e}");
        }
        let a = checked(&["auditq", "--timeline", "x.log"]).unwrap();
        assert_eq!(
            (a.search.output.timeline, a.search.inputs.args),
            (Some(Bucket::Auto), vec!["x.log".to_string()])
        );
        let a = checked(&["auditq", "--timeline=5m"]).unwrap();
        assert_eq!(
            a.search.output.timeline,
            Some(Bucket::Fixed(300_000_000_000))
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert!(Args::try_parse_from(["auditq", "--merge", "--merge-window", "500ms"]).is_ok());
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("1x").is_err());
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn values_are_checked_by_clap() {
        let bad = |args: &[&str]| Args::try_parse_from(args).unwrap_err().to_string();
        assert!(bad(&["auditq", "-o", "yaml"]).contains("unknown output format"));
        assert!(bad(&["auditq", "--since", "soon"]).contains("duration"));
        assert!(bad(&["auditq", "--count-by", "usr"]).contains("did you mean `user`"));
        assert!(bad(&["auditq", "-j", "0"]).contains("--threads"));
        assert!(bad(&["auditq", "-c", "--count-by", "user"]).contains("cannot be used"));
        assert!(bad(&["auditq", "-n", "3"]).contains("--follow"));
        assert!(bad(&["auditq", "-f", "-j", "2"]).contains("cannot be used"));
        assert!(bad(&["auditq", "--summary", "--count-by", "user"]).contains("cannot be used"));
        assert!(bad(&["auditq", "--timeline-by", "user"]).contains("--timeline"));
        assert!(bad(&["auditq", "--top", "3"]).contains("--count-by"));
        assert!(bad(&["auditq", "--summary", "--top", "0"]).contains("--top"));
        assert!(bad(&["auditq", "--timeline=soon"]).contains("bucket"));
        assert!(bad(&["auditq", "--timeline", "--timeline-by", "user,verb"]).contains("one field"));
        let ok = Args::try_parse_from(["auditq", "q", "--", "a", "b"]).unwrap();
        assert_eq!(ok.search.inputs.args, ["q"]);
        assert_eq!(
            ok.search.inputs.files,
            [PathBuf::from("a"), PathBuf::from("b")]
        );
    }
}
