//! The command line: [`args`] (what clap parses), [`config`] (the typed configuration
//! built from it), and here, running it and turning the outcome into an exit code.

pub mod args;
pub(crate) mod config;
pub(crate) mod doctor;
pub(crate) mod export;
pub(crate) mod policy;
mod progress;
pub(crate) mod rbac;
pub(crate) mod serve;
pub(crate) mod sql;

use crate::archive::{self, ArchiveOptions, Note};
use crate::error::Error;
use crate::follow::{self, QueryHandler};
use crate::query::presets::Origin;
use crate::report::{self, Report};
use crate::search;
use args::{Args, Command};
use clap::CommandFactory;
use config::{Config, Env, Mode, PresetList};
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;

/// Exit codes, as grep has them.
pub const EXIT_MATCH: i32 = 0;
pub const EXIT_NO_MATCH: i32 = 1;
pub const EXIT_ERROR: i32 = 2;

/// Runs auditq with the process arguments; returns the exit code. The one place an
/// error is printed.
pub fn main() -> i32 {
    let command = match Args::parse_checked() {
        Ok(args) => args.into_command(),
        Err(e) => return clap_exit(&e),
    };
    match run(command, &Env::detect()) {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => EXIT_MATCH,
        Err(e) => {
            let _ = writeln!(io::stderr(), "{}", report::error_line(&e.to_string()));
            EXIT_ERROR
        }
    }
}

/// Runs one command; returns the exit code.
pub fn run(command: Command, env: &Env) -> Result<i32, Error> {
    match command {
        Command::Completions(shell) => {
            clap_complete::generate(shell, &mut Args::command(), "auditq", &mut io::stdout());
            Ok(EXIT_MATCH)
        }
        Command::Man => {
            clap_mangen::Man::new(Args::command())
                .render(&mut io::stdout())
                .map_err(Error::Output)?;
            Ok(EXIT_MATCH)
        }
        Command::Presets => {
            let (presets, file_found) = env.presets_file.load()?;
            let list = PresetList {
                presets,
                file: env.presets_file.clone(),
                file_found,
            };
            let mut out = io::stdout().lock();
            out.write_all(list_presets(&list).as_bytes())
                .and_then(|()| out.flush())
                .map_err(Error::Output)?;
            Ok(EXIT_MATCH)
        }
        Command::Search(args) => {
            let (presets, _) = env.presets_file.load()?;
            let config = Config::from_args(*args, env, &presets)?;
            // Terms that cannot match because of letter case (`verb=DELETE`).
            for hint in crate::query::hints::case_hints(config.engine.expr()) {
                eprintln!("{}", report::warning_line(&hint));
            }
            match &config.mode {
                Mode::Follow(_) => run_follow(&config),
                Mode::Search => run_search(&config),
            }
        }
        Command::Serve(args) => {
            let (presets, _) = env.presets_file.load()?;
            serve::run(&serve::ServeConfig::from_args(&args, &presets)?)
        }
        Command::Policy(args) => policy::run(args, env),
        Command::Doctor(args) => doctor::run(args),
        Command::Sql(args) => sql::run(args, env),
        Command::Export(args) => export::run(*args, env),
        Command::Rbac(args) => rbac::run(*args, env),
    }
}

/// `--presets`: every preset with its query, meaning and origin, then where user presets
/// are read from.
pub fn list_presets(list: &PresetList) -> String {
    let mut out = String::new();
    for preset in list.presets.iter() {
        let origin = match (&preset.origin, preset.replaces_builtin) {
            (Origin::BuiltIn, _) => "built-in".to_string(),
            (Origin::File(path), false) => path.display().to_string(),
            (Origin::File(path), true) => {
                format!(
                    "{}, replacing the built-in @{}",
                    path.display(),
                    preset.name
                )
            }
        };
        out.push_str(&format!("@{}  ({origin})\n", preset.name));
        if !preset.description.is_empty() {
            out.push_str(&format!("    {}\n", preset.description));
        }
        out.push_str(&format!("    {}\n\n", preset.query));
    }
    out.push_str("Use a preset as a term: auditq '@exec ns=prod' audit.log\n");
    match (list.file.path(), list.file_found) {
        (Some(path), true) => {
            out.push_str(&format!("User presets: {}\n", path.display()));
        }
        (Some(path), false) => out.push_str(&format!(
            "User presets: {} (no such file yet; AUDITQ_PRESETS may name another)\n",
            path.display()
        )),
        (None, _) => out.push_str(
            "User presets: none (AUDITQ_PRESETS is empty, or there is no home directory)\n",
        ),
    }
    out.push_str(
        "A user preset (it may use presets, and replace a built-in):\n  [presets.my-team]\n  query = \"ns=team-a @deletions\"\n  description = \"what was deleted in team A's namespace\"\n",
    );
    out
}

/// The files a search of `config` reads, and from where: directories, backups, the
/// time bound of its query (what search and `policy eval` both read).
pub(crate) fn plan_inputs(
    inputs: &[crate::source::Input],
    engine: &crate::engine::Engine,
    recursive: bool,
    backups: bool,
) -> Result<archive::Planned, Error> {
    let options = ArchiveOptions {
        recursive,
        backups,
        since: engine.expr().time_lower_bound(),
        max_line_bytes: engine.line_limit(),
    };
    archive::plan(inputs, &options)
        .map_err(|e| Error::Other(format!("cannot list the inputs: {e}")))
}

fn run_search(config: &Config) -> Result<i32, Error> {
    let engine = &config.engine;
    let plan = Arc::new(engine.plan());
    // Not locked: the progress bar's thread draws on stderr too.
    let mut err = io::stderr();
    let planned = plan_inputs(&config.inputs, engine, config.recursive, config.backups)?;
    report_notes(config.verbose, config.stats, &planned, &mut err);
    let stdout = io::stdout();
    let out = io::BufWriter::with_capacity(256 * 1024, stdout.lock());
    let mut sink = engine.sink(&plan, Box::new(out));
    let read = Arc::new(AtomicU64::new(0));
    let options = engine.search_options(
        (planned.files_skipped, planned.bytes_skipped),
        Some(Arc::clone(&read)),
    );
    let bar = (config.stderr_is_terminal && !config.stats && planned.bytes_to_read > 0)
        .then(|| progress::Progress::start(read, planned.bytes_to_read, planned.targets.len()));
    let outcome = search::run(&planned.targets, plan, &options, sink.as_mut(), &mut err);
    if let Some(bar) = bar {
        bar.finish();
    }
    let outcome = outcome.map_err(Error::Output)?;
    closing_notes(engine, &outcome, &mut err);
    Ok(if outcome.had_error {
        EXIT_ERROR
    } else if outcome.totals.written > 0 {
        EXIT_MATCH
    } else {
        EXIT_NO_MATCH
    })
}

/// After a run: inputs that held no audit event, and the hint about invalid lines.
pub(crate) fn closing_notes(
    engine: &crate::engine::Engine,
    outcome: &search::Outcome,
    err: &mut dyn Write,
) {
    for (input, counters) in &outcome.empty_inputs {
        // With the prefilter, lines without a needle were not looked at: look again at
        // the start of the file (stdin cannot be read twice).
        let seen = match input {
            _ if !engine.uses_prefilter() => Some(counters.clone()),
            crate::source::Input::Path(path) => archive::sniff(path, engine.line_limit()),
            _ => None,
        };
        if let Some(seen) = seen.filter(|c| c.events == 0 && c.lines > 0) {
            let note = report::no_event_note(&input.display_name(), &seen);
            let _ = writeln!(err, "{}", report::warning_line(&note));
        }
    }
    if !engine.strict_mode() {
        Report::invalid_lines_hint(&outcome.first_skips, &outcome.totals, err);
    }
}

/// What was left unread, said once: with `-v` every file, with `--stats` a count; a
/// directory with no audit log in it always (never a silent zero).
pub(crate) fn report_notes(
    verbose: bool,
    stats: bool,
    planned: &archive::Planned,
    err: &mut dyn Write,
) {
    for note in &planned.notes {
        if let Note::NothingIn {
            path,
            subdirectories,
        } = note
        {
            let text = match subdirectories {
                0 => format!("{}: no audit log in this directory", path.display()),
                n => format!(
                    "{}: no audit log in this directory; {n} subdirector{} not read (use -r to read them)",
                    path.display(),
                    if *n == 1 { "y" } else { "ies" }
                ),
            };
            let _ = writeln!(err, "{}", report::warning_line(&text));
        }
    }
    let not_audit = planned
        .notes
        .iter()
        .filter(|n| matches!(n, Note::NotAuditLog(_)))
        .count();
    if verbose {
        for note in &planned.notes {
            let text = match note {
                Note::NotAuditLog(path) => {
                    format!(
                        "{}: not an audit log (no event in its first lines); skipped",
                        path.display()
                    )
                }
                Note::NothingIn { .. } => continue,
                Note::Subdirectory(path) => {
                    format!(
                        "{}: a subdirectory; skipped (use -r to read it)",
                        path.display()
                    )
                }
                Note::BeforeTime { path, bytes } => format!(
                    "{}: rotated before the time range; skipped ({bytes} bytes)",
                    path.display()
                ),
                Note::StartsAt { path, offset } => format!(
                    "{}: read from byte {offset} (what comes before was written before the time range)",
                    path.display()
                ),
            };
            let _ = writeln!(err, "{}", report::warning_line(&text));
        }
    } else if stats && not_audit > 0 {
        let _ = writeln!(
            err,
            "{}",
            report::warning_line(&format!(
                "{not_audit} file(s) in the directories are not audit logs; skipped (-v names them)"
            ))
        );
    }
}

fn run_follow(config: &Config) -> Result<i32, Error> {
    let Mode::Follow(settings) = &config.mode else {
        return Err(Error::Other("not in follow mode".into()));
    };
    let engine = &config.engine;
    let plan = Arc::new(engine.plan());
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| Error::Other(format!("cannot install signal handler: {e}")))?;
    }
    let stderr = io::stderr();
    let mut err = stderr.lock();
    for path in &settings.waiting {
        let _ = writeln!(
            err,
            "{}",
            report::warning_line(&format!(
                "{} does not exist yet; waiting for it to appear",
                path.display()
            ))
        );
    }
    let paths = config
        .inputs
        .iter()
        .filter_map(|i| match i {
            crate::source::Input::Path(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    let follow_config =
        engine.follow_config(paths, settings.start, settings.poll, settings.state.clone());
    let stdout = io::stdout();
    let out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut sink = engine.sink(&plan, Box::new(out));
    let mut handler = QueryHandler::new(plan, sink.as_mut(), &mut err, engine.count_limit());
    handler.begin().map_err(Error::Output)?;
    let stopped = follow::run(&follow_config, &mut handler, &stop).map_err(Error::Output)?;
    if stopped != follow::Stopped::BrokenPipe {
        match handler.finish().map_err(Error::Output) {
            Err(e) if !e.is_broken_pipe() => return Err(e),
            _ => {}
        }
    }
    Ok(if handler.strict_error() {
        EXIT_ERROR
    } else if handler.written() > 0 {
        EXIT_MATCH
    } else {
        EXIT_NO_MATCH
    })
}

/// Prints a clap error, or the `--help`/`--version` text it carries, and gives the exit
/// code for it: 2 for an error, 0 for help and version.
pub(crate) fn clap_exit(e: &clap::Error) -> i32 {
    let _ = e.print();
    if e.use_stderr() {
        EXIT_ERROR
    } else {
        EXIT_MATCH
    }
}
