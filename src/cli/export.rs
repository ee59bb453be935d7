//! `auditq export`: its command line, the checks made before reading (the output
//! directory, a previous export), the run on the shared engine with the export sink, and
//! the commit (or removal) of the files. The table and the writers are
//! [`crate::export`].

use super::args::{EngineArgs, InputArgs, TimeArgs, parse_size};
use super::config::{self, Env, Reading};
use super::{EXIT_MATCH, EXIT_NO_MATCH, progress};
use crate::engine::Output;
use crate::error::Error;
use crate::export::files::Files;
use crate::export::{ExportError, ExportSink, Format, PartitionBy, Spec};
use crate::invalid::Invalid;
use crate::report;
use crate::search;
use crate::sink::{Sink, Stats};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// `--compress` of JSON lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compress {
    None,
    Gzip,
}

/// `auditq export`: the inputs are read as a search reads them (the same query, input,
/// time range and reading options).
#[derive(Debug, Clone, PartialEq, clap::Args)]
#[command(after_help = "Examples:\n  \
    auditq export -o /data/audit /var/log/kubernetes/\n  \
    auditq export --partition cluster,date --cluster prod-eu -o /data/audit -r --backups /var/log/kubernetes/\n  \
    auditq export --format jsonl --compress gzip -o out 'ns=prod' audit.log\n\n\
    The table, the files and their guarantees: docs/scale-out.md.")]
pub struct ExportArgs {
    /// Query text (optional: without one, every event) and input files, as in a search.
    #[command(flatten)]
    pub inputs: InputArgs,
    #[command(flatten)]
    pub time: TimeArgs,
    #[command(flatten)]
    pub engine: EngineArgs,

    /// The output directory (created if missing).
    #[arg(
        help_heading = "Export",
        short = 'o',
        long = "out",
        value_name = "DIR",
        required = true
    )]
    pub out: PathBuf,

    /// parquet (zstd-compressed, dictionary-encoded) or jsonl (one JSON object per event,
    /// the same columns).
    #[arg(help_heading = "Export", long, value_enum, default_value_t = Format::Parquet)]
    pub format: Format,

    /// Hive partitions: cluster, date, or both in either order (cluster=NAME/date=YYYY-MM-DD
    /// directories); the partition columns are then not in the files.
    #[arg(
        help_heading = "Export",
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "COLUMNS"
    )]
    pub partition: Vec<PartitionBy>,

    /// The cluster's name, written in the `cluster` column (and partition). Letters,
    /// digits, `.`, `_` and `-`.
    #[arg(help_heading = "Export", long, value_name = "NAME", value_parser = parse_cluster)]
    pub cluster: Option<String>,

    /// Add to an export already in the directory (or the cluster's partition) instead of
    /// refusing: new files beside the old ones (file names never collide).
    #[arg(help_heading = "Export", long)]
    pub append: bool,

    /// Replace an export already in the directory (or the cluster's partition): its part
    /// files are removed once this export is complete (never before).
    #[arg(help_heading = "Export", long, conflicts_with = "append")]
    pub overwrite: bool,

    /// With --format jsonl: gzip the files (`.jsonl.gz`).
    #[arg(help_heading = "Export", long, value_enum, value_name = "ALGORITHM")]
    pub compress: Option<Compress>,

    /// Events found inside an envelope (AKS, CloudWatch, GKE) get the Kubernetes event
    /// alone as `raw`, not the envelope record (the other columns are the same).
    #[arg(help_heading = "Export", long)]
    pub unwrap: bool,

    /// Print statistics to stderr at the end, as a search does.
    #[arg(help_heading = "Export", long)]
    pub stats: bool,

    /// Say which files are read, skipped (not audit logs, before the time range) or read
    /// from the middle.
    #[arg(help_heading = "Export", short = 'v', long)]
    pub verbose: bool,

    /// Data per Parquet row group, before encoding (tuning).
    #[arg(long, value_name = "BYTES", default_value = "128MiB", value_parser = parse_size, hide = true)]
    pub row_group_bytes: usize,

    /// Data per file before the next file of a partition is begun (tuning).
    #[arg(long, value_name = "BYTES", default_value = "1GiB", value_parser = parse_size, hide = true)]
    pub file_bytes: usize,
}

/// A cluster name that is safe as a directory name and as a partition value.
fn parse_cluster(text: &str) -> Result<String, Invalid> {
    let ok = !text.is_empty()
        && !text.starts_with(['.', '_'])
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!(
            "`{text}` is not a cluster name auditq writes: use letters, digits, `.`, `_` and `-` (not first: `.` or `_`)"
        )
        .into())
    }
}

/// A name no other run has: the time and some randomness.
fn run_id() -> String {
    use std::hash::BuildHasher;
    let now = chrono::Utc::now();
    let random = std::collections::hash_map::RandomState::new()
        .hash_one((std::process::id(), now.timestamp_nanos_opt()));
    format!("{}-{:08x}", now.format("%Y%m%dT%H%M%SZ"), random as u32)
}

/// The part files (`part-*.parquet`, `part-*.jsonl[.gz]`) below `dir`.
fn part_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t)
                    if t.is_file()
                        && name.starts_with("part-")
                        && [".parquet", ".jsonl", ".jsonl.gz"]
                            .iter()
                            .any(|e| name.ends_with(e)) =>
                {
                    out.push(path)
                }
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// Before reading: the output directory exists and takes files, and holds no export
/// this one would mix with unless asked. Returns the part files `--overwrite` replaces.
fn prepare(args: &ExportArgs, files: &Files, run_id: &str) -> Result<Vec<PathBuf>, ExportError> {
    files.create_dir(&args.out)?;
    let probe = args.out.join(format!(".auditq-probe-{run_id}"));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut f| f.write_all(b"x"))
        .map_err(|source| ExportError::NotWritable {
            path: args.out.clone(),
            source,
        })?;
    let _ = std::fs::remove_file(&probe);
    let scope = match (
        &args.cluster,
        args.partition.contains(&PartitionBy::Cluster),
    ) {
        (Some(name), true) => args.out.join(format!("cluster={name}")),
        _ => args.out.clone(),
    };
    let old = part_files(&scope);
    if let Some(example) = old.first()
        && !args.append
        && !args.overwrite
    {
        return Err(ExportError::Exists {
            path: scope,
            files: old.len(),
            example: example.clone(),
        });
    }
    Ok(if args.overwrite { old } else { Vec::new() })
}

/// Removes the temporary files and turns `error` into the error printed.
fn aborted(files: &Files, error: ExportError) -> Error {
    let removed = files.abort().unwrap_or(0);
    Error::Export(ExportError::Aborted {
        error: Box::new(error),
        removed,
    })
}

/// Removes the temporary files when SIGINT or SIGTERM arrives before the run is
/// committed, says so, and exits 2. After the commit, signals change nothing (the export
/// is complete and the process about to exit).
fn watch_signals(files: Arc<Files>, dir: PathBuf) -> Result<(), ExportError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| ExportError::Signals(e.to_string()))?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            let name = if signal == SIGINT {
                "SIGINT"
            } else {
                "SIGTERM"
            };
            if let Some(removed) = files.abort() {
                let _ = writeln!(
                    io::stderr(),
                    "{}",
                    report::error_line(&format!(
                        "export interrupted by {name}: nothing was exported ({removed} temporary file(s) of this run removed under {})",
                        dir.display()
                    ))
                );
                std::process::exit(super::EXIT_ERROR);
            }
        }
    });
    Ok(())
}

/// Runs `auditq export`.
pub fn run(args: ExportArgs, env: &Env) -> Result<i32, Error> {
    for (i, p) in args.partition.iter().enumerate() {
        if args.partition[..i].contains(p) {
            return Err(Error::Usage(format!(
                "--partition names `{}` twice",
                p.column()
            )));
        }
    }
    if args.partition.contains(&PartitionBy::Cluster) && args.cluster.is_none() {
        return Err(Error::Usage(
            "--partition cluster needs --cluster NAME (audit events do not name their cluster)"
                .into(),
        ));
    }
    if args.compress.is_some() && args.format == Format::Parquet {
        return Err(Error::Usage(
            "--compress is for --format jsonl (Parquet files are always compressed with zstd)"
                .into(),
        ));
    }
    let (presets, _) = env.presets_file.load()?;
    let reading = Reading::from_args(&args.inputs, &args.time, false, &presets)?;
    let engine = config::engine(reading.expr, &args.engine, env.cpus)
        .output_as(Output::Rows)
        .unwrap_envelopes(args.unwrap);
    let mut err = io::stderr();
    for hint in crate::query::hints::case_hints(engine.expr()) {
        let _ = writeln!(err, "{}", report::warning_line(&hint));
    }
    let files = Files::new();
    let run_id = run_id();
    let old = prepare(&args, &files, &run_id).map_err(|e| {
        files.abort();
        Error::Export(e)
    })?;
    watch_signals(Arc::clone(&files), args.out.clone()).map_err(|e| aborted(&files, e))?;
    let planned = super::plan_inputs(
        &reading.inputs,
        &engine,
        args.inputs.recursive,
        args.inputs.backups,
    )
    .inspect_err(|_| {
        files.abort();
    })?;
    super::report_notes(args.verbose, args.stats, &planned, &mut err);
    let spec = Spec {
        dir: args.out.clone(),
        format: args.format,
        gzip: args.compress == Some(Compress::Gzip),
        partition: args.partition.clone(),
        cluster: args.cluster.clone(),
        run_id,
        row_group_bytes: args.row_group_bytes,
        file_bytes: args.file_bytes,
    };
    let mut sink = ExportSink::new(spec, Arc::clone(&files));
    let plan = Arc::new(engine.plan());
    let read = Arc::new(AtomicU64::new(0));
    let options = engine.search_options(
        (planned.files_skipped, planned.bytes_skipped),
        Some(Arc::clone(&read)),
    );
    let bar = (env.stderr_is_terminal && !args.stats && planned.bytes_to_read > 0)
        .then(|| progress::Progress::start(read, planned.bytes_to_read, planned.targets.len()));
    let outcome = {
        let mut out: Box<dyn Sink + '_> = if args.stats {
            Box::new(Stats::new(&mut sink, io::stderr()))
        } else {
            Box::new(&mut sink)
        };
        search::run(&planned.targets, plan, &options, out.as_mut(), &mut err)
    };
    if let Some(bar) = bar {
        bar.finish();
    }
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            let error = sink.take_error().unwrap_or(ExportError::Write {
                path: args.out.clone(),
                source: e,
            });
            return Err(aborted(&files, error));
        }
    };
    super::closing_notes(&engine, &outcome, &mut err);
    if outcome.had_error {
        return Err(aborted(
            &files,
            ExportError::Incomplete(
                "the export is incomplete: an input could not be read, or --strict stopped at an invalid line (see above)"
                    .into(),
            ),
        ));
    }
    let written = files.commit().map_err(|e| aborted(&files, e))?;
    let events = sink.events();
    if events > 0 {
        for path in &old {
            if let Err(e) = std::fs::remove_file(path) {
                let _ = writeln!(
                    err,
                    "{}",
                    report::warning_line(&format!(
                        "--overwrite: cannot remove {} of the previous export: {e}",
                        path.display()
                    ))
                );
            }
            remove_empty_parents(path, &args.out);
        }
    } else if !old.is_empty() {
        let _ = writeln!(
            err,
            "{}",
            report::warning_line("nothing was exported: the previous export is left as it was")
        );
    }
    let bytes_out: u64 = written
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let totals = &outcome.totals;
    let mb = |b: u64| b as f64 / 1e6;
    let _ = writeln!(
        err,
        "{}",
        report::PREFIX.to_string()
            + &format!(
                "exported {events} event(s) into {} file(s) in {} partition(s) under {}: {:.1} MB read, {:.1} MB written, {:.2} s ({:.0} MB/s)",
                written.len(),
                sink.partitions(),
                args.out.display(),
                mb(totals.bytes_read),
                mb(bytes_out),
                totals.seconds,
                mb(totals.bytes_read) / totals.seconds.max(1e-9),
            )
    );
    Ok(if events > 0 {
        EXIT_MATCH
    } else {
        EXIT_NO_MATCH
    })
}

/// Removes the directories left empty between `path` and `root` (partitions of a
/// replaced export).
fn remove_empty_parents(path: &Path, root: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_names() {
        assert!(parse_cluster("prod-eu.1_a").is_ok());
        for bad in ["", "a/b", "..", ".x", "_x", "a b", "x=y"] {
            assert!(parse_cluster(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn run_ids_differ() {
        assert_ne!(run_id(), run_id());
    }
}
