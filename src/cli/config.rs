//! From the parsed command line to one typed configuration: which mode, the query, the
//! inputs, what to print. This module does nothing else (it reads the environment it is
//! given and asks the file system which arguments are files).

use super::args::{ColorWhen, EngineArgs, InputArgs, SearchArgs, TimeArgs};
use crate::engine::{Engine, Output};
use crate::error::Error;
use crate::follow::Start;
use crate::query::{self, Expr, Op, Presets, Term};
use crate::sink::{Format, TimelineSpec};
use crate::source::Input;
use crate::timefmt;
use std::path::{Path, PathBuf};

/// Search, or follow (`-f`).
#[derive(Debug)]
pub enum Mode {
    Search,
    Follow(FollowSettings),
}

/// What `--presets` lists: every preset, and the file user presets are read from.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetList {
    pub presets: Presets,
    pub file: PresetsFile,
    /// The file exists (and was read).
    pub file_found: bool,
}

/// Where user presets come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresetsFile {
    /// No file (`AUDITQ_PRESETS` set but empty, or no home directory).
    None,
    /// The usual place (`$XDG_CONFIG_HOME/auditq/presets.toml`, else
    /// `~/.config/auditq/presets.toml`); it need not exist.
    Default(PathBuf),
    /// Named by `AUDITQ_PRESETS`; it must exist.
    Named(PathBuf),
}

impl PresetsFile {
    pub fn path(&self) -> Option<&Path> {
        match self {
            PresetsFile::None => None,
            PresetsFile::Default(p) | PresetsFile::Named(p) => Some(p),
        }
    }

    /// Reads the environment: `AUDITQ_PRESETS`, `XDG_CONFIG_HOME`, `HOME`.
    pub fn from_env(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> PresetsFile {
        if let Some(named) = var("AUDITQ_PRESETS") {
            return if named.is_empty() {
                PresetsFile::None
            } else {
                PresetsFile::Named(PathBuf::from(named))
            };
        }
        let config_home = var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| {
                var("HOME")
                    .filter(|h| !h.is_empty())
                    .map(|h| PathBuf::from(h).join(".config"))
            });
        match config_home {
            Some(dir) => PresetsFile::Default(dir.join("auditq").join("presets.toml")),
            None => PresetsFile::None,
        }
    }

    /// The built-in presets and those of the file. A missing file is fine unless it was
    /// named by `AUDITQ_PRESETS`; an unreadable or invalid one is an error naming the file
    /// (and the line).
    pub fn load(&self) -> Result<(Presets, bool), Error> {
        let mut presets = Presets::builtin();
        let Some(path) = self.path() else {
            return Ok((presets, false));
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && matches!(self, PresetsFile::Default(_)) =>
            {
                return Ok((presets, false));
            }
            Err(e) => {
                return Err(Error::Other(format!(
                    "cannot read presets file {}: {e}",
                    path.display()
                )));
            }
        };
        presets
            .add_toml(&text, path)
            .map_err(|e| Error::Other(format!("invalid presets file {e}")))?;
        Ok((presets, true))
    }
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

/// Rows per `--summary` table without `--top`.
pub const DEFAULT_TOP: usize = 10;
/// Series of `--timeline-by` without `--top`.
pub const DEFAULT_SERIES: usize = 5;
/// Columns to draw in when stdout is not a terminal.
pub const DEFAULT_WIDTH: usize = 80;

/// The whole configuration of a search or a follow.
#[derive(Debug)]
pub struct Config {
    pub mode: Mode,
    /// Search: files and stdin; follow: paths to follow, or stdin alone.
    pub inputs: Vec<Input>,
    /// The query, the output and how the engine runs.
    pub engine: Engine,
    /// `-r`.
    pub recursive: bool,
    /// `--backups` (search: files bring their backups).
    pub backups: bool,
    pub verbose: bool,
    /// `--stats` (the progress bar stays off with it).
    pub stats: bool,
    /// stderr is a terminal (progress bar).
    pub stderr_is_terminal: bool,
}

/// The query and the inputs of a command that reads logs (search, follow, `policy eval`).
#[derive(Debug)]
pub struct Reading {
    pub expr: Expr,
    pub inputs: Vec<Input>,
    /// Follow mode: paths named that do not exist yet (they are in `inputs` too).
    pub waiting: Vec<PathBuf>,
}

impl Reading {
    /// Sorts the positional arguments into query text and inputs (stdin if none), and
    /// joins the query with the time range.
    pub fn from_args(
        inputs: &InputArgs,
        time: &TimeArgs,
        follow: bool,
        presets: &Presets,
    ) -> Result<Reading, Error> {
        let classified = classify_args(&inputs.args, &inputs.query, follow, presets)?;
        let mut all = classified.inputs;
        all.extend(inputs.files.iter().map(|p| path_input(p)));
        if follow {
            all.extend(classified.waiting.iter().cloned().map(Input::Path));
            let paths = all.iter().filter(|i| **i != Input::Stdin).count();
            if paths > 0 && paths < all.len() {
                return Err(Error::Usage("-f follows files or stdin, not both".into()));
            }
        }
        if all.is_empty() {
            all.push(Input::Stdin);
        }
        Ok(Reading {
            expr: build_expr(&classified.query, time, presets)?,
            inputs: all,
            waiting: classified.waiting,
        })
    }
}

/// The engine for `expr` with the reading options every command that reads logs takes.
pub fn engine(expr: Expr, args: &EngineArgs, cpus: usize) -> Engine {
    Engine::new(expr)
        .strict(args.strict)
        .prefilter(!args.no_prefilter)
        .max_line_bytes(args.max_line_bytes)
        .block_size(args.block_size)
        .threads(args.threads.map_or(cpus, usize::from))
        .no_mmap(args.no_mmap)
}

/// What the configuration depends on besides the arguments.
#[derive(Debug, Clone)]
pub struct Env {
    pub stdout_is_terminal: bool,
    pub stderr_is_terminal: bool,
    /// `NO_COLOR` is set (and not empty).
    pub no_color: bool,
    pub cpus: usize,
    /// Columns of the terminal on stdout, when it is one and its size is known.
    pub terminal_width: Option<usize>,
    /// Where user presets are read from.
    pub presets_file: PresetsFile,
}

impl Env {
    pub fn detect() -> Env {
        use std::io::IsTerminal;
        let stdout_is_terminal = std::io::stdout().is_terminal();
        Env {
            stdout_is_terminal,
            stderr_is_terminal: std::io::stderr().is_terminal(),
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            cpus: std::thread::available_parallelism().map_or(2, |n| n.get()),
            terminal_width: if stdout_is_terminal {
                terminal_width()
            } else {
                None
            },
            presets_file: PresetsFile::from_env(|name| std::env::var_os(name)),
        }
    }

    /// An environment for tests: not a terminal, no colour, 2 CPUs, no presets file.
    pub fn plain() -> Env {
        Env {
            stdout_is_terminal: false,
            stderr_is_terminal: false,
            no_color: false,
            cpus: 2,
            terminal_width: None,
            presets_file: PresetsFile::None,
        }
    }
}

/// The width of the terminal on stdout, else `$COLUMNS`.
fn terminal_width() -> Option<usize> {
    if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size_of(std::io::stdout())
        && w > 0
    {
        return Some(usize::from(w));
    }
    std::env::var("COLUMNS")
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&n| n > 0)
}

impl Config {
    /// The configuration of a search or follow: `presets` are those the query may use
    /// (see [`PresetsFile::load`]).
    pub fn from_args(args: SearchArgs, env: &Env, presets: &Presets) -> Result<Config, Error> {
        args.output.check().map_err(|e| {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            Error::Usage(first.trim_start_matches("error: ").to_string())
        })?;
        let f = &args.follow;
        let reading = Reading::from_args(&args.inputs, &args.time, f.follow, presets)?;
        let mode = if f.follow {
            Mode::Follow(FollowSettings {
                start: match (f.from_start || args.inputs.backups, f.lines) {
                    (true, _) => Start::FromStart,
                    (false, Some(n)) => Start::LastMatches(n),
                    (false, None) => Start::End,
                },
                poll: f.poll,
                state: f.state.clone(),
                waiting: reading.waiting,
            })
        } else {
            Mode::Search
        };
        let o = &args.output;
        let json = o.output == Some(Format::Json);
        let top = o.top.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        let output = if o.count {
            Output::Count
        } else if let Some(fields) = o.count_by.clone() {
            Output::CountBy {
                fields: fields.0,
                top,
                json,
            }
        } else if o.summary {
            Output::Summary {
                top: top.unwrap_or(DEFAULT_TOP),
                json,
            }
        } else if let Some(bucket) = o.timeline {
            Output::Timeline(TimelineSpec {
                bucket,
                by: o.timeline_by.clone(),
                series: top.unwrap_or(DEFAULT_SERIES),
                width: env.terminal_width.unwrap_or(DEFAULT_WIDTH),
                json,
            })
        } else {
            Output::Events(match o.output.clone() {
                Some(format) => format,
                None if env.stdout_is_terminal => Format::Table,
                None => Format::Jsonl,
            })
        };
        if o.unwrap && !matches!(output, Output::Events(Format::Jsonl | Format::Json)) {
            return Err(Error::Usage(
                "--unwrap chooses what jsonl and json print; use it with -o jsonl or -o json \
                 (tables and fields already show the event's fields)"
                    .into(),
            ));
        }
        let color = match o.color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => env.stdout_is_terminal && !env.no_color,
        };
        let engine = engine(reading.expr, &args.engine, env.cpus)
            .output_as(output)
            .color(color)
            .unwrap_envelopes(o.unwrap)
            .stats(o.stats)
            .dedupe(args.dedupe)
            .max_count(o.max_count)
            .merge(args.merge.then_some(args.merge_window.0));
        Ok(Config {
            mode,
            inputs: reading.inputs,
            engine,
            recursive: args.inputs.recursive,
            backups: args.inputs.backups,
            verbose: args.verbose,
            stats: o.stats,
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
    presets: &Presets,
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
            if follow && query::parse_query_with(std::slice::from_ref(arg), presets).is_err() {
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

pub(crate) fn build_expr(
    parts: &[String],
    time: &TimeArgs,
    presets: &Presets,
) -> Result<Expr, Error> {
    let mut expr = query::parse_query_with(parts, presets)?;
    let mut bounds = Vec::new();
    for (when, op) in [(time.since, Op::Ge), (time.until, Op::Le)] {
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
        span: query::Span::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(args: &[&str]) -> Result<Config, Error> {
        let mut argv = vec!["auditq"];
        argv.extend_from_slice(args);
        let args = super::super::args::Args::try_parse_from(argv).unwrap();
        Config::from_args(args.search, &Env::plain(), &Presets::builtin())
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
        assert!(
            !config(&["--strict", "verb=get"])
                .unwrap()
                .engine
                .uses_prefilter()
        );
        assert!(config(&["verb=get"]).unwrap().engine.uses_prefilter());
    }

    #[test]
    fn output_defaults_by_terminal() {
        assert_eq!(
            config(&[]).unwrap().engine.output().clone(),
            Output::Events(Format::Jsonl)
        );
        assert_eq!(
            config(&["-c"]).unwrap().engine.output().clone(),
            Output::Count
        );
    }

    #[test]
    fn report_outputs() {
        assert_eq!(
            config(&["--summary"]).unwrap().engine.output().clone(),
            Output::Summary {
                top: DEFAULT_TOP,
                json: false
            }
        );
        assert_eq!(
            config(&["--summary", "--top", "3", "-o", "json"])
                .unwrap()
                .engine
                .output()
                .clone(),
            Output::Summary { top: 3, json: true }
        );
        let Output::Timeline(spec) = config(&["--timeline", "--timeline-by", "user"])
            .unwrap()
            .engine
            .output()
            .clone()
        else {
            panic!()
        };
        assert_eq!(
            (spec.bucket, spec.series, spec.width, spec.json),
            (
                crate::sink::Bucket::Auto,
                DEFAULT_SERIES,
                DEFAULT_WIDTH,
                false
            )
        );
        assert_eq!(spec.by.map(|f| f.name), Some("user".to_string()));
        let Output::CountBy { top, json, .. } = config(&["--count-by", "verb", "-o", "json"])
            .unwrap()
            .engine
            .output()
            .clone()
        else {
            panic!()
        };
        assert_eq!((top, json), (None, true));
        // A library caller that skips `Args::check` is refused too.
        assert!(config(&["--summary", "-o", "csv"]).is_err());
    }

    #[test]
    fn presets_file_location() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            PresetsFile::from_env(move |name| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            })
        };
        assert_eq!(
            env(&[("HOME", "/home/u")]),
            PresetsFile::Default("/home/u/.config/auditq/presets.toml".into())
        );
        assert_eq!(
            env(&[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "/cfg")]),
            PresetsFile::Default("/cfg/auditq/presets.toml".into())
        );
        assert_eq!(
            env(&[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "relative")]),
            PresetsFile::Default("/home/u/.config/auditq/presets.toml".into())
        );
        assert_eq!(
            env(&[("HOME", "/home/u"), ("AUDITQ_PRESETS", "/p.toml")]),
            PresetsFile::Named("/p.toml".into())
        );
        assert_eq!(env(&[("AUDITQ_PRESETS", "")]), PresetsFile::None);
        assert_eq!(env(&[]), PresetsFile::None);
    }

    #[test]
    fn presets_files_load() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.toml");
        let (p, found) = PresetsFile::Default(missing.clone()).load().unwrap();
        assert!(!found && p == Presets::builtin());
        let e = PresetsFile::Named(missing).load().unwrap_err();
        assert!(e.to_string().contains("cannot read presets file"), "{e}");
        let file = dir.path().join("p.toml");
        std::fs::write(&file, "[presets.mine]\nquery = \"@exec ns=a\"\n").unwrap();
        let (p, found) = PresetsFile::Named(file.clone()).load().unwrap();
        assert!(found && p.get("mine").is_some());
        std::fs::write(&file, "[presets.mine]\nquery = \"@exec ns=a\"\nquery = 1\n").unwrap();
        let e = PresetsFile::Named(file.clone()).load().unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("invalid presets file {}:3: ", file.display())),
            "{e}"
        );
    }
}
