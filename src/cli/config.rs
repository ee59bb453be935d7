//! From the parsed command line to one typed configuration: which mode, the query, the
//! inputs, what to print. This module does nothing else (it reads the environment it is
//! given and asks the file system which arguments are files).

use super::args::{Args, ColorWhen};
use crate::error::Error;
use crate::follow::Start;
use crate::query::{self, Expr, Op, Presets, Term};
use crate::sink::{Format, TimelineSpec};
use crate::source::Input;
use crate::timefmt;
use std::path::{Path, PathBuf};

/// What auditq was asked to do.
#[derive(Debug)]
pub enum Mode {
    Completions(clap_complete::Shell),
    Man,
    /// `--presets`: list them.
    Presets(PresetList),
    Search,
    Follow(FollowSettings),
    /// `auditq serve`.
    Serve(Box<super::serve::ServeConfig>),
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

/// What becomes of the matches.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Each event, in this format.
    Events(Format),
    /// `-c`.
    Count,
    /// `--count-by` (`--top`: only the largest groups; `-o json`: one JSON document).
    CountBy {
        fields: Vec<query::fields::FieldRef>,
        top: Option<usize>,
        json: bool,
    },
    /// `--summary` (`--top` rows per table; `-o json`: one JSON document).
    Summary { top: usize, json: bool },
    /// `--timeline`.
    Timeline(TimelineSpec),
}

/// Rows per `--summary` table without `--top`.
pub const DEFAULT_TOP: usize = 10;
/// Series of `--timeline-by` without `--top`.
pub const DEFAULT_SERIES: usize = 5;
/// Columns to draw in when stdout is not a terminal.
pub const DEFAULT_WIDTH: usize = 80;

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
    /// `--unwrap`: events inside envelopes are printed alone.
    pub unwrap: bool,
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

/// The width of the terminal on stdout (`TIOCGWINSZ`, else `$COLUMNS`).
fn terminal_width() -> Option<usize> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a `winsize` into the pointed-to struct, which lives here.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        return Some(usize::from(size.ws_col));
    }
    std::env::var("COLUMNS")
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&n| n > 0)
}

impl Config {
    pub fn from_args(args: Args, env: Env) -> Result<Config, Error> {
        let args = args.check().map_err(|e| {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            Error::Usage(first.trim_start_matches("error: ").to_string())
        })?;
        let exclusive = args.completions.is_some() || args.man;
        let (presets, file_found) = if exclusive {
            (Presets::builtin(), false)
        } else {
            env.presets_file.load()?
        };
        if let Some(super::args::Command::Policy(_) | super::args::Command::Doctor(_)) =
            &args.command
        {
            return Err(Error::Usage(
                "`auditq policy` and `auditq doctor` have no search configuration: run them through cli::main"
                    .into(),
            ));
        }
        if let Some(super::args::Command::Serve(serve)) = &args.command {
            let serve = super::serve::ServeConfig::from_args(serve, &presets)?;
            return Ok(Config {
                expr: serve.expr.clone(),
                output: Output::Events(serve.format.clone()),
                mode: Mode::Serve(Box::new(serve)),
                inputs: Vec::new(),
                color: false,
                stats: false,
                strict: false,
                prefilter: true,
                max_count: None,
                max_line_bytes: args.max_line_bytes,
                block_size: args.block_size,
                threads: 1,
                recursive: false,
                backups: false,
                merge: None,
                dedupe: false,
                verbose: false,
                no_mmap: false,
                stderr_is_terminal: env.stderr_is_terminal,
                unwrap: false,
            });
        }
        let mode = if let Some(shell) = args.completions {
            Mode::Completions(shell)
        } else if args.man {
            Mode::Man
        } else if args.presets {
            Mode::Presets(PresetList {
                presets: presets.clone(),
                file: env.presets_file.clone(),
                file_found,
            })
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
        let classified = classify_args(&args.args, &args.query, follow, &presets)?;
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
        let expr = build_expr(&classified.query, &args, &presets)?;
        let json = args.output == Some(Format::Json);
        let top = args.top.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        let output = if args.count {
            Output::Count
        } else if let Some(fields) = args.count_by.clone() {
            Output::CountBy {
                fields: fields.0,
                top,
                json,
            }
        } else if args.summary {
            Output::Summary {
                top: top.unwrap_or(DEFAULT_TOP),
                json,
            }
        } else if let Some(bucket) = args.timeline {
            Output::Timeline(TimelineSpec {
                bucket,
                by: args.timeline_by.clone(),
                series: top.unwrap_or(DEFAULT_SERIES),
                width: env.terminal_width.unwrap_or(DEFAULT_WIDTH),
                json,
            })
        } else {
            Output::Events(match args.output.clone() {
                Some(format) => format,
                None if env.stdout_is_terminal => Format::Table,
                None => Format::Jsonl,
            })
        };
        if args.unwrap && !matches!(output, Output::Events(Format::Jsonl | Format::Json)) {
            return Err(Error::Usage(
                "--unwrap chooses what jsonl and json print; use it with -o jsonl or -o json \
                 (tables and fields already show the event's fields)"
                    .into(),
            ));
        }
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
            unwrap: args.unwrap,
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

fn build_expr(parts: &[String], args: &Args, presets: &Presets) -> Result<Expr, Error> {
    let mut expr = query::parse_query_with(parts, presets)?;
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
        Config::from_args(Args::try_parse_from(argv).unwrap(), Env::plain())
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

    #[test]
    fn report_outputs() {
        assert_eq!(
            config(&["--summary"]).unwrap().output,
            Output::Summary {
                top: DEFAULT_TOP,
                json: false
            }
        );
        assert_eq!(
            config(&["--summary", "--top", "3", "-o", "json"])
                .unwrap()
                .output,
            Output::Summary { top: 3, json: true }
        );
        let Output::Timeline(spec) = config(&["--timeline", "--timeline-by", "user"])
            .unwrap()
            .output
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
            .output
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
