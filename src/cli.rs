//! The command line: arguments, how positional arguments split into query and inputs,
//! and the exit code.

use crate::block::Plan;
use crate::framing::Skip;
use crate::prefilter::Prefilter;
use crate::query::{self, Expr, Op, Term};
use crate::search::{self, Options, Summary};
use crate::sink::{self, EventWriter, Format};
use crate::source::{self, Input};
use crate::timefmt;
use clap::{CommandFactory, Parser, ValueEnum};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Exit codes, as grep has them.
pub const EXIT_MATCH: i32 = 0;
pub const EXIT_NO_MATCH: i32 = 1;
pub const EXIT_ERROR: i32 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "auditq",
    version,
    about = "Query Kubernetes audit logs: exact, fast, through gzip, rotation and kubectl logs.",
    long_about = "Query Kubernetes audit logs: exact, fast, through gzip, rotation and kubectl logs.\n\n\
        Positional arguments that name an existing file (or `-` for stdin) are inputs; all \
        others are query text, joined with AND. After `--` every argument is a file.",
    after_help = "Examples:\n  \
        auditq 'verb=delete resource=secrets' /var/log/kubernetes/audit.log\n  \
        auditq -f /var/log/kubernetes/audit.log 'verb=delete resource=secrets'\n  \
        kubectl logs -n kube-system kube-apiserver-cp1 | auditq user=alice\n  \
        auditq --backups --since 2h 'ns=prod code>=400' /var/log/kubernetes/audit.log\n\n\
        Query language: docs/query.md (fields user, group, as, verb, resource, subresource, ns, \
        name, apigroup, apiversion, stage, level, code, ip, ua, uri, auditid, decision, reason, \
        time, or any dotted JSON path)."
)]
pub struct Args {
    /// Query text and input files (`-` is stdin); see the description above.
    #[arg(value_name = "QUERY|FILE")]
    pub args: Vec<String>,

    /// Query text, even if it names a file (repeatable; joined with AND).
    #[arg(short = 'e', long = "query", value_name = "TEXT")]
    pub query: Vec<String>,

    /// Output: jsonl, json, table, wide, csv, tsv, or fields=a,b,… [default: the original
    /// lines when stdout is not a terminal, a table when it is]
    #[arg(short, long, value_name = "FORMAT")]
    pub output: Option<String>,

    /// Print only the number of matching events.
    #[arg(short, long)]
    pub count: bool,

    /// Count matching events per value of FIELD[,FIELD…], most frequent first.
    #[arg(long, value_name = "FIELDS")]
    pub count_by: Option<String>,

    /// Stop after N matching events.
    #[arg(short, long, value_name = "N")]
    pub max_count: Option<u64>,

    /// Only events at or after this time: a duration back from now (90m, 2h, 7d) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,

    /// Only events at or before this time: a duration back from now or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,

    /// Also read the rotated backups of each file (audit-2026-01-02T03-04-05.000.log[.gz]), oldest first.
    #[arg(long)]
    pub backups: bool,

    /// Follow the files as they grow, through rotations (rename, gzip, pruning,
    /// copytruncate), like `tail -F` but losing and repeating nothing; stdin if no file.
    #[arg(short = 'f', long)]
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

    /// When to use colours (NO_COLOR is honoured with auto).
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,

    /// Treat an invalid JSON line as an error (exit 2) instead of skipping it.
    #[arg(long)]
    pub strict: bool,

    /// Print statistics to stderr: lines, events, matches, skipped lines by kind, bytes, seconds.
    #[arg(long)]
    pub stats: bool,

    /// Worker threads [default: number of CPUs].
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,

    /// Longest line (event) accepted; longer ones are reported and skipped.
    #[arg(long, value_name = "BYTES", default_value = "64MiB", value_parser = parse_size)]
    pub max_line_bytes: usize,

    /// Parse every line (disable the byte-needle prefilter); for checking, never needed.
    #[arg(long)]
    pub no_prefilter: bool,

    /// Block size for reading (tuning).
    #[arg(long, value_name = "BYTES", default_value = "1MiB", value_parser = parse_size, hide = true)]
    pub block_size: usize,

    /// Print shell completions for SHELL (bash, zsh, fish, elvish, powershell) and exit.
    #[arg(long, value_name = "SHELL", exclusive = true)]
    pub completions: Option<clap_complete::Shell>,

    /// Print the man page (roff) and exit.
    #[arg(long, exclusive = true)]
    pub man: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// Parses `64MiB`, `1M`, `512k`, `1000`.
pub fn parse_size(text: &str) -> Result<usize, String> {
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
            return Err(format!(
                "`{text}`: unknown unit `{unit}` (use KiB, MiB or GiB)"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Runs auditq with the process arguments; returns the exit code.
pub fn main() -> i32 {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let (before, after) = split_double_dash(argv);
    let args = match Args::try_parse_from(before) {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_MATCH
            };
        }
    };
    let stderr = io::stderr();
    let mut err = stderr.lock();
    match run(args, after, &mut err) {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(err, "auditq: {message}");
            EXIT_ERROR
        }
    }
}

/// Splits at the first `--`: what follows is always files.
fn split_double_dash(argv: Vec<std::ffi::OsString>) -> (Vec<std::ffi::OsString>, Vec<PathBuf>) {
    match argv.iter().position(|a| a == "--") {
        Some(i) => (
            argv[..i].to_vec(),
            argv[i + 1..].iter().map(PathBuf::from).collect(),
        ),
        None => (argv, Vec::new()),
    }
}

fn run(args: Args, forced_files: Vec<PathBuf>, err: &mut dyn Write) -> Result<i32, String> {
    if let Some(shell) = args.completions {
        clap_complete::generate(shell, &mut Args::command(), "auditq", &mut io::stdout());
        return Ok(EXIT_MATCH);
    }
    if args.man {
        clap_mangen::Man::new(Args::command())
            .render(&mut io::stdout())
            .map_err(|e| e.to_string())?;
        return Ok(EXIT_MATCH);
    }
    let (query_parts, mut inputs) = classify_args(&args.args, &args.query)?;
    inputs.extend(forced_files.into_iter().map(|p| path_input(&p)));
    if args.follow {
        let expr = build_expr(&args, &query_parts)?;
        return run_follow(&args, expr, inputs, err);
    }
    if inputs.is_empty() {
        inputs.push(Input::Stdin);
    }
    if args.backups {
        inputs = with_backups(inputs);
    }
    let expr = build_expr(&args, &query_parts)?;
    let stdout = io::stdout();
    let is_tty = stdout.is_terminal();
    let plan = build_plan(&args, expr, is_tty)?;
    let options = Options {
        threads: args.threads.unwrap_or(Options::default().threads).max(1),
        block_size: args.block_size,
        max_line_bytes: args.max_line_bytes,
        max_count: args.max_count,
    };
    let mut out = io::BufWriter::with_capacity(256 * 1024, stdout.lock());
    let plan = Arc::new(plan);
    let summary = search::run(&inputs, Arc::clone(&plan), &options, &mut out, err)
        .map_err(|e| e.to_string())?;
    let printed = print_totals(&args, &plan, &summary, &mut out);
    match printed.and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => return Err(e.to_string()),
        _ => {}
    }
    report(&args, &summary, err);
    Ok(if summary.had_error {
        EXIT_ERROR
    } else if summary.counters.matched > 0 {
        EXIT_MATCH
    } else {
        EXIT_NO_MATCH
    })
}

fn run_follow(
    args: &Args,
    expr: Expr,
    inputs: Vec<Input>,
    err: &mut dyn Write,
) -> Result<i32, String> {
    use crate::follow::{self, FollowConfig, Start, query_handler::QueryHandler};
    use std::sync::atomic::AtomicBool;
    if args.count || args.count_by.is_some() || args.backups || args.max_count.is_some() {
        return Err("-f cannot be combined with -c, --count-by, -m or --backups".into());
    }
    let stdout = io::stdout();
    let plan = Arc::new(build_plan(args, expr, stdout.is_terminal())?);
    let mut config = FollowConfig {
        max_line_bytes: args.max_line_bytes,
        poll_only: args.poll,
        state_file: args.state.clone(),
        start: match (args.from_start, args.lines) {
            (true, _) => Start::FromStart,
            (false, Some(n)) => Start::LastMatches(n),
            (false, None) => Start::End,
        },
        ..FollowConfig::default()
    };
    for input in inputs {
        match input {
            Input::Path(path) => config.paths.push(path),
            Input::Stdin if config.paths.is_empty() => {}
            Input::Stdin => return Err("-f follows files or stdin, not both".into()),
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("cannot install signal handler: {e}"))?;
    }
    let out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut handler = QueryHandler::new(plan, out, err);
    let summary = follow::run(&config, &mut handler, &stop).map_err(|e| e.to_string())?;
    Ok(if summary.matched > 0 {
        EXIT_MATCH
    } else {
        EXIT_NO_MATCH
    })
}

/// A positional argument is an input if it is `-` or names an existing file; one that
/// looks like a path but does not exist is an error (not a confusing query error).
fn classify_args(
    args: &[String],
    forced_query: &[String],
) -> Result<(Vec<String>, Vec<Input>), String> {
    let mut query = forced_query.to_vec();
    let mut inputs = Vec::new();
    for arg in args {
        if arg == "-" {
            inputs.push(Input::Stdin);
        } else if Path::new(arg).exists() {
            inputs.push(path_input(Path::new(arg)));
        } else if looks_like_path(arg) {
            return Err(format!(
                "{arg}: no such file (to search for this text, use -e '{arg}'; query terms look like field=value)"
            ));
        } else {
            query.push(arg.clone());
        }
    }
    Ok((query, inputs))
}

fn path_input(path: &Path) -> Input {
    if path == Path::new("-") {
        Input::Stdin
    } else {
        Input::Path(path.to_path_buf())
    }
}

fn looks_like_path(arg: &str) -> bool {
    let has_operator = arg.contains(['=', '~', '<', '>', ' ', '(', ')']);
    let has_file_shape = arg.contains('/')
        || [".log", ".gz", ".json", ".jsonl", ".txt"]
            .iter()
            .any(|ext| arg.ends_with(ext));
    !has_operator && has_file_shape
}

fn with_backups(inputs: Vec<Input>) -> Vec<Input> {
    let mut all = Vec::new();
    for input in inputs {
        if let Input::Path(path) = &input {
            all.extend(source::backups_of(path).into_iter().map(Input::Path));
        }
        all.push(input);
    }
    all
}

fn build_expr(args: &Args, parts: &[String]) -> Result<Expr, String> {
    let mut expr = query::parse_query(parts).map_err(|e| e.to_string())?;
    let now = chrono::Utc::now();
    let mut bounds = Vec::new();
    for (flag, value, op) in [
        ("--since", &args.since, Op::Ge),
        ("--until", &args.until, Op::Le),
    ] {
        if let Some(text) = value {
            let nanos = timefmt::parse_time_bound(text, now).map_err(|e| format!("{flag}: {e}"))?;
            bounds.push(time_term(op, nanos));
        }
    }
    if !bounds.is_empty() {
        bounds.insert(0, expr);
        expr = Expr::and(bounds);
    }
    Ok(expr)
}

fn time_term(op: Op, nanos: timefmt::Nanos) -> Expr {
    let field = query::fields::resolve("time", query::Span::default())
        .unwrap_or_else(|_| unreachable!("`time` is a built-in field"));
    Expr::Term(Term {
        field,
        op,
        patterns: vec![query::value::Pattern::Time(nanos)],
    })
}

fn build_plan(args: &Args, expr: Expr, is_tty: bool) -> Result<Plan, String> {
    let format = match &args.output {
        Some(text) => Format::parse(text)?,
        None if is_tty => Format::Table,
        None => Format::Jsonl,
    };
    let color = match args.color {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => is_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let count_by = match &args.count_by {
        Some(list) => Some(sink::parse_field_list(list).map_err(|e| e.to_string())?),
        None => None,
    };
    let prefilter = if args.no_prefilter {
        None
    } else {
        Prefilter::new(&expr)
    };
    Ok(Plan {
        expr,
        prefilter,
        writer: EventWriter::new(format, color),
        count_by,
        count_only: args.count,
        strict: args.strict,
        max_line_bytes: args.max_line_bytes,
        max_count: args.max_count,
    })
}

fn print_totals(
    args: &Args,
    plan: &Plan,
    summary: &Summary,
    out: &mut dyn Write,
) -> io::Result<()> {
    if args.count {
        writeln!(out, "{}", summary.counters.matched)?;
    }
    if let Some(fields) = &plan.count_by {
        let mut rows: Vec<(Vec<String>, u64)> = summary
            .groups
            .iter()
            .map(|(key, n)| {
                let cells = key.iter().map(|k| {
                    if k.is_empty() {
                        "<none>".to_string()
                    } else {
                        k.clone()
                    }
                });
                (cells.collect(), *n)
            })
            .collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let titles: Vec<String> = fields.iter().map(|f| f.name.to_uppercase()).collect();
        let widths: Vec<usize> = (0..fields.len())
            .map(|i| {
                rows.iter()
                    .map(|(k, _)| k[i].chars().count())
                    .chain([titles[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String], count: &str| {
            let mut text = String::new();
            for (cell, width) in cells.iter().zip(&widths) {
                text.push_str(&format!("{cell:<width$}  "));
            }
            format!("{text}{count:>7}\n")
        };
        out.write_all(line(&titles, "COUNT").as_bytes())?;
        for (cells, n) in rows {
            out.write_all(line(&cells, &n.to_string()).as_bytes())?;
        }
    }
    Ok(())
}

fn report(args: &Args, summary: &Summary, err: &mut dyn Write) {
    for (name, kind, line) in &summary.first_skips {
        if *kind == Skip::InvalidJson && !args.strict {
            let n = summary.counters.skipped.get(kind).copied().unwrap_or(0);
            let _ = writeln!(
                err,
                "auditq: skipped {n} invalid JSON line(s); first at {name}:{line} (use --strict to stop on them)"
            );
            break;
        }
    }
    if args.stats {
        let c = &summary.counters;
        let _ = writeln!(err, "lines:              {}", c.lines);
        let _ = writeln!(err, "documents parsed:   {}", c.parsed);
        let _ = writeln!(
            err,
            "lines not parsed:   {} (rejected by the prefilter, or inside multi-line documents)",
            c.lines
                .saturating_sub(c.parsed + c.skipped.values().sum::<u64>())
        );
        let _ = writeln!(err, "events parsed:      {}", c.events);
        let _ = writeln!(err, "matches:            {}", c.matched);
        for kind in Skip::ALL {
            let _ = writeln!(
                err,
                "skipped {:<11} {}",
                format!("{}:", short_label(kind)),
                c.skipped.get(&kind).copied().unwrap_or(0)
            );
        }
        let _ = writeln!(err, "bytes:              {}", c.bytes);
        let _ = writeln!(err, "seconds:            {:.3}", summary.seconds);
        let _ = writeln!(
            err,
            "throughput:         {:.1} MB/s",
            c.bytes as f64 / 1e6 / summary.seconds.max(1e-9)
        );
    }
}

fn short_label(kind: Skip) -> &'static str {
    match kind {
        Skip::Blank => "blank",
        Skip::Klog => "klog",
        Skip::NotJson => "not-json",
        Skip::InvalidJson => "invalid",
        Skip::NotAnEvent => "non-event",
        Skip::TooLong => "too-long",
    }
}
