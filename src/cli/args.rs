//! The command line as clap sees it: every flag, its value parser, and which flags
//! conflict or need each other. Turning this into a [`super::config::Config`] is the job of
//! the config module; running it, of `cli::run`.

use crate::query::fields::FieldRef;
use crate::sink::{self, Format};
use crate::timefmt;
use clap::{Parser, ValueEnum};
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
        time, or any dotted JSON path)."
)]
pub struct Args {
    /// Query text and input files (`-` is stdin); see the description above.
    #[arg(value_name = "QUERY|FILE")]
    pub args: Vec<String>,

    /// Input files, after `--` (never query text).
    #[arg(last = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Query text, even if it names a file (repeatable; joined with AND).
    #[arg(short = 'e', long = "query", value_name = "TEXT")]
    pub query: Vec<String>,

    /// Output: jsonl, json, table, wide, csv, tsv, or fields=a,b,… [default: the original
    /// lines when stdout is not a terminal, a table when it is]
    #[arg(short, long, value_name = "FORMAT", value_parser = parse_format)]
    pub output: Option<Format>,

    /// Print only the number of matching events (with -f: when stopped).
    #[arg(short, long, conflicts_with_all = ["count_by", "output"])]
    pub count: bool,

    /// Count matching events per value of FIELD[,FIELD…], most frequent first (with -f:
    /// when stopped).
    #[arg(long, value_name = "FIELDS", value_parser = parse_fields, conflicts_with = "output")]
    pub count_by: Option<FieldList>,

    /// Stop after N matching events.
    #[arg(short, long, value_name = "N")]
    pub max_count: Option<u64>,

    /// Only events at or after this time: a duration back from now (90m, 2h, 7d) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub since: Option<When>,

    /// Only events at or before this time: a duration back from now or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub until: Option<When>,

    /// Also read the rotated backups of each file (audit-2026-01-02T03-04-05.000.log[.gz]),
    /// oldest first. With -f: read them (and the whole file) before following, like --from-start.
    /// (A directory argument always means every audit log in it, backups included.)
    #[arg(long)]
    pub backups: bool,

    /// Read the subdirectories of directory arguments too.
    #[arg(short = 'r', long, conflicts_with = "follow")]
    pub recursive: bool,

    /// Merge the inputs (one per apiserver, each a file or a directory of backups) into
    /// one stream ordered by event time, ties in input order.
    #[arg(long, conflicts_with = "follow")]
    pub merge: bool,

    /// With --merge: how much disorder inside each input is sorted out (memory holds this
    /// much of each input).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_window, requires = "merge")]
    pub merge_window: Window,

    /// One event per request (auditID): the most complete stage (ResponseComplete, else
    /// Panic, else ResponseStarted, else RequestReceived), printed when its final stage
    /// is read.
    #[arg(long)]
    pub dedupe: bool,

    /// Say which files are read, skipped (not audit logs, before the time range) or read
    /// from the middle.
    #[arg(short = 'v', long, conflicts_with = "follow")]
    pub verbose: bool,

    /// Follow the files as they grow, through rotations (rename, gzip, pruning,
    /// copytruncate), like `tail -F` but losing and repeating nothing; stdin if no file.
    #[arg(short = 'f', long, conflicts_with = "threads")]
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

    /// Treat an invalid JSON line as an error (exit 2) instead of skipping it. Every line
    /// is then checked, so the prefilter is off.
    #[arg(long)]
    pub strict: bool,

    /// Print statistics to stderr at the end: lines, events, matches, skipped lines by
    /// kind, bytes, seconds.
    #[arg(long)]
    pub stats: bool,

    /// Worker threads [default: number of CPUs]. Not with -f (one stream, read in order).
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,

    /// Longest line (or multi-line document) accepted; longer ones are reported and skipped.
    #[arg(long, value_name = "BYTES", default_value = "64MiB", value_parser = parse_size)]
    pub max_line_bytes: usize,

    /// Parse every line (disable the byte-needle prefilter); for checking, never needed.
    #[arg(long)]
    pub no_prefilter: bool,

    /// Read large files with read() instead of mapping them (tuning, for comparison).
    #[arg(long, hide = true, conflicts_with = "follow")]
    pub no_mmap: bool,

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

/// A `--since`/`--until` value, resolved against the time auditq started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When(pub timefmt::Nanos);

/// A duration (`--merge-window 10s`), in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window(pub timefmt::Nanos);

fn parse_window(text: &str) -> Result<Window, String> {
    timefmt::parse_duration(text)
        .map(Window)
        .ok_or_else(|| format!("`{text}` is not a duration like 10s, 2m or 1h"))
}

/// A list of fields (`--count-by user,verb`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldList(pub Vec<FieldRef>);

fn parse_format(text: &str) -> Result<Format, String> {
    Format::parse(text)
}

fn parse_fields(text: &str) -> Result<FieldList, String> {
    sink::parse_field_list(text)
        .map(FieldList)
        .map_err(|e| e.to_string())
}

fn parse_when(text: &str) -> Result<When, String> {
    timefmt::parse_time_bound(text, chrono::Utc::now()).map(When)
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
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("`{text}` is not a size between 1 byte and the address space"))
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
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
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
        let ok = Args::try_parse_from(["auditq", "q", "--", "a", "b"]).unwrap();
        assert_eq!(ok.args, ["q"]);
        assert_eq!(ok.files, [PathBuf::from("a"), PathBuf::from("b")]);
    }
}
