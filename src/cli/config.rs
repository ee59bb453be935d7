//! From the parsed command line to one typed configuration: which mode, the query, the
//! inputs, what to print. This module does nothing else (it reads the environment it is
//! given and asks the file system which arguments are files).

use super::args::{Args, ColorWhen};
use crate::error::Error;
use crate::follow::Start;
use crate::query::{self, Expr, Op, Term};
use crate::sink::Format;
use crate::source::Input;
use crate::timefmt;
use std::path::{Path, PathBuf};

/// What auditq was asked to do.
#[derive(Debug)]
pub enum Mode {
    Completions(clap_complete::Shell),
    Man,
    Search,
    Follow(FollowSettings),
}

/// Follow mode's own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowSettings {
    pub start: Start,
    pub poll: bool,
    pub state: Option<PathBuf>,
    /// Paths named on the command line that do not exist yet (followed once they appear).
    pub waiting: Vec<PathBuf>,
}

/// What becomes of the matches.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Each event, in this format.
    Events(Format),
    /// `-c`.
    Count,
    /// `--count-by`.
    CountBy(Vec<query::fields::FieldRef>),
}

/// The whole configuration of one run.
#[derive(Debug)]
pub struct Config {
    pub mode: Mode,
    pub expr: Expr,
    /// Search: files and stdin; follow: paths to follow, or stdin alone.
    pub inputs: Vec<Input>,
    pub output: Output,
    pub color: bool,
    pub stats: bool,
    pub strict: bool,
    pub prefilter: bool,
    pub max_count: Option<u64>,
    pub max_line_bytes: usize,
    pub block_size: usize,
    pub threads: usize,
    /// `-r`.
    pub recursive: bool,
    /// `--backups` (search: files bring their backups).
    pub backups: bool,
    /// `--merge` with its window (ns).
    pub merge: Option<crate::timefmt::Nanos>,
    pub dedupe: bool,
    pub verbose: bool,
    /// `--no-mmap`.
    pub no_mmap: bool,
    /// stderr is a terminal (progress bar).
    pub stderr_is_terminal: bool,
}

/// What the configuration depends on besides the arguments.
#[derive(Debug, Clone, Copy)]
pub struct Env {
    pub stdout_is_terminal: bool,
    pub stderr_is_terminal: bool,
    /// `NO_COLOR` is set (and not empty).
    pub no_color: bool,
    pub cpus: usize,
}

impl Env {
    pub fn detect() -> Env {
        use std::io::IsTerminal;
        Env {
            stdout_is_terminal: std::io::stdout().is_terminal(),
            stderr_is_terminal: std::io::stderr().is_terminal(),
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            cpus: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

impl Config {
    pub fn from_args(args: Args, env: Env) -> Result<Config, Error> {
        let mode = if let Some(shell) = args.completions {
            Mode::Completions(shell)
        } else if args.man {
            Mode::Man
        } else if args.follow {
            Mode::Follow(FollowSettings {
                start: match (args.from_start || args.backups, args.lines) {
                    (true, _) => Start::FromStart,
                    (false, Some(n)) => Start::LastMatches(n),
                    (false, None) => Start::End,
                },
                poll: args.poll,
                state: args.state.clone(),
                waiting: Vec::new(),
            })
        } else {
            Mode::Search
        };
        let follow = matches!(mode, Mode::Follow(_));
        let classified = classify_args(&args.args, &args.query, follow)?;
        let mut inputs = classified.inputs;
        inputs.extend(args.files.iter().map(|p| path_input(p)));
        let mut mode = mode;
        if let Mode::Follow(settings) = &mut mode {
            settings.waiting = classified.waiting.clone();
            inputs.extend(classified.waiting.into_iter().map(Input::Path));
            let paths = inputs.iter().filter(|i| **i != Input::Stdin).count();
            if paths > 0 && paths < inputs.len() {
                return Err(Error::Usage("-f follows files or stdin, not both".into()));
            }
        }
        if inputs.is_empty() {
            inputs.push(Input::Stdin);
        }
        let expr = build_expr(&classified.query, &args)?;
        let output = if args.count {
            Output::Count
        } else if let Some(fields) = args.count_by.clone() {
            Output::CountBy(fields.0)
        } else {
            Output::Events(match args.output.clone() {
                Some(format) => format,
                None if env.stdout_is_terminal => Format::Table,
                None => Format::Jsonl,
            })
        };
        let color = match args.color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => env.stdout_is_terminal && !env.no_color,
        };
        Ok(Config {
            mode,
            expr,
            inputs,
            output,
            color,
            stats: args.stats,
            strict: args.strict,
            prefilter: !args.no_prefilter && !args.strict,
            max_count: args.max_count,
            max_line_bytes: args.max_line_bytes,
            block_size: args.block_size,
            threads: args.threads.map_or(env.cpus, usize::from).max(1),
            recursive: args.recursive,
            backups: args.backups,
            merge: args.merge.then_some(args.merge_window.0),
            dedupe: args.dedupe,
            verbose: args.verbose,
            no_mmap: args.no_mmap,
            stderr_is_terminal: env.stderr_is_terminal,
        })
    }
}

/// Positional arguments sorted into query text, inputs, and (follow mode) paths to wait for.
#[derive(Debug, Default)]
struct Classified {
    query: Vec<String>,
    inputs: Vec<Input>,
    waiting: Vec<PathBuf>,
}

/// A positional argument is an input if it is `-` or names an existing file. One that
/// looks like a path but does not exist is an error (not a confusing query error) — except
/// in follow mode, where it is a file to wait for, like `tail -F`, unless it parses as a
/// query.
fn classify_args(
    args: &[String],
    forced_query: &[String],
    follow: bool,
) -> Result<Classified, Error> {
    let mut out = Classified {
        query: forced_query.to_vec(),
        ..Classified::default()
    };
    for arg in args {
        if arg == "-" {
            out.inputs.push(Input::Stdin);
        } else if Path::new(arg).exists() {
            out.inputs.push(path_input(Path::new(arg)));
        } else if looks_like_path(arg) {
            if follow && query::parse_query(std::slice::from_ref(arg)).is_err() {
                out.waiting.push(PathBuf::from(arg));
            } else if follow {
                out.query.push(arg.clone());
            } else {
                return Err(Error::NoSuchFile(arg.clone()));
            }
        } else {
            out.query.push(arg.clone());
        }
    }
    Ok(out)
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

fn build_expr(parts: &[String], args: &Args) -> Result<Expr, Error> {
    let mut expr = query::parse_query(parts)?;
    let mut bounds = Vec::new();
    for (when, op) in [(args.since, Op::Ge), (args.until, Op::Le)] {
        if let Some(when) = when {
            bounds.push(time_term(op, when.0));
        }
    }
    if !bounds.is_empty() {
        bounds.insert(0, expr);
        expr = Expr::and(bounds);
    }
    Ok(expr)
}

fn time_term(op: Op, nanos: timefmt::Nanos) -> Expr {
    let field = query::fields::FieldRef::time("time");
    Expr::Term(Term {
        field,
        op,
        patterns: vec![query::value::Pattern::Time(nanos)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(args: &[&str]) -> Result<Config, Error> {
        let mut argv = vec!["auditq"];
        argv.extend_from_slice(args);
        let env = Env {
            stdout_is_terminal: false,
            stderr_is_terminal: false,
            no_color: false,
            cpus: 2,
        };
        Config::from_args(Args::try_parse_from(argv).unwrap(), env)
    }

    #[test]
    fn follow_waits_for_missing_paths_search_refuses_them() {
        let c = config(&["-f", "/nonexistent/dir/audit.log", "verb=delete"]).unwrap();
        let Mode::Follow(settings) = &c.mode else {
            panic!("{:?}", c.mode)
        };
        assert_eq!(
            settings.waiting,
            [PathBuf::from("/nonexistent/dir/audit.log")]
        );
        assert_eq!(c.inputs, [Input::Path("/nonexistent/dir/audit.log".into())]);
        let e = config(&["/nonexistent/dir/audit.log", "verb=delete"]).unwrap_err();
        assert!(e.to_string().contains("no such file"), "{e}");
    }

    #[test]
    fn follow_backups_means_from_start() {
        let c = config(&["-f", "--backups", "x.log"]).unwrap();
        let Mode::Follow(settings) = &c.mode else {
            panic!()
        };
        assert_eq!(settings.start, Start::FromStart);
    }

    #[test]
    fn strict_turns_the_prefilter_off() {
        assert!(!config(&["--strict", "verb=get"]).unwrap().prefilter);
        assert!(config(&["verb=get"]).unwrap().prefilter);
    }

    #[test]
    fn output_defaults_by_terminal() {
        assert_eq!(config(&[]).unwrap().output, Output::Events(Format::Jsonl));
        assert_eq!(config(&["-c"]).unwrap().output, Output::Count);
    }
}
