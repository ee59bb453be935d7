//! What a search reads: the files of directories (log sets oldest first), backups of
//! files (`--backups`), and how much of each can be left unread because no event in it
//! can match the query's time bound (`--since`, or `time>=…` in the query).
//!
//! Skipping is exact, never a guess:
//! - A backup's name is the time it was rotated, after every event in it was written, and
//!   an event is written after it was received. So a backup named before the lower time
//!   bound holds no event that can match, and is skipped whole.
//! - Inside a plain file, the start is found by binary search on `stageTimestamp` (when
//!   the event was written; `timestamp` in old events), which follows file order up to a
//!   small disorder: events are written when a stage completes, by many request handlers
//!   at once. Everything before a line whose `stageTimestamp` is more than
//!   [`WRITE_DISORDER`] before the bound was received before the bound. (The measured
//!   disorder of `stageTimestamp` on the real logs of the corpus is 0 ms; that of
//!   `requestReceivedTimestamp` is 595 s — a watch — which is why it is not used.) When
//!   the probes show more disorder than that, the file is read whole.
//! - Nothing is skipped for an upper bound (`--until`): an event received before it can be
//!   written any time later (a watch, an exec session), after events received after it.

use crate::block::{BlockResult, Plan, scan_reader};
use crate::parse::Parser;
use crate::search::Target;
use crate::source::archive::{self, LogSet, Role};
use crate::source::{Input, ReadMode};
use crate::timefmt::{Nanos, parse_timestamp};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The most a line's `stageTimestamp` may be earlier than that of a line written before it
/// in the same file, for the start of a time range to be found by binary search.
pub const WRITE_DISORDER: Nanos = 60 * 1_000_000_000;

/// Files smaller than this are read whole (a search of them costs less than the probes).
const SEARCH_MIN_SIZE: u64 = 4 << 20;

/// How the inputs are read.
#[derive(Debug, Clone, Default)]
pub struct ArchiveOptions {
    /// `-r`: also the subdirectories of directories.
    pub recursive: bool,
    /// `--backups`: a file named on the command line brings its lumberjack backups.
    pub backups: bool,
    /// The earliest time a matching event can have.
    pub since: Option<Nanos>,
    pub max_line_bytes: usize,
}

/// Why a file, or part of one, is not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Found in a directory, but no audit event in its first lines.
    NotAuditLog(PathBuf),
    /// A subdirectory, without `-r`.
    Subdirectory(PathBuf),
    /// A directory argument in which no audit log was found (said even without `-v`):
    /// `subdirectories` of it were not read because `-r` was not given.
    NothingIn {
        path: PathBuf,
        subdirectories: usize,
    },
    /// A backup rotated before the time bound: `bytes` not read.
    BeforeTime { path: PathBuf, bytes: u64 },
    /// Read from `offset` on: what comes before was written before the time bound.
    StartsAt { path: PathBuf, offset: u64 },
}

/// The targets of a search and what was left out.
#[derive(Debug, Default)]
pub struct Planned {
    pub targets: Vec<Target>,
    pub notes: Vec<Note>,
    /// Bytes to read (compressed size for gzip).
    pub bytes_to_read: u64,
    /// Bytes of files (or parts of files) not read because of the time bound.
    pub bytes_skipped: u64,
    pub files_skipped: u64,
}

/// Plans a search of `inputs`: each input is a stream (for `--merge`), or for a directory
/// each log set in it is.
pub fn plan(inputs: &[Input], options: &ArchiveOptions) -> io::Result<Planned> {
    let mut planned = Planned::default();
    let mut stream = 0;
    for input in inputs {
        let path = match input {
            Input::Path(path) => path,
            other => {
                planned.targets.push(Target::whole(other.clone(), stream));
                stream += 1;
                continue;
            }
        };
        if path.is_dir() {
            let mut subdirectories = 0;
            if !options.recursive {
                for entry in std::fs::read_dir(path)?.flatten() {
                    if entry.path().is_dir() {
                        planned.notes.push(Note::Subdirectory(entry.path()));
                        subdirectories += 1;
                    }
                }
            }
            let mut found = false;
            for set in archive::scan_dir(path, options.recursive)? {
                let set = keep_audit_logs(set, options, &mut planned.notes);
                if !set.files.is_empty() {
                    plan_set(&set, stream, options, &mut planned);
                    stream += 1;
                    found = true;
                }
            }
            if !found {
                planned.notes.push(Note::NothingIn {
                    path: path.clone(),
                    subdirectories,
                });
            }
        } else {
            let set = archive::set_of_file(path, options.backups);
            plan_set(&set, stream, options, &mut planned);
            stream += 1;
        }
    }
    Ok(planned)
}

/// Drops the files of a set found in a directory that hold no audit event.
fn keep_audit_logs(mut set: LogSet, options: &ArchiveOptions, notes: &mut Vec<Note>) -> LogSet {
    set.files.retain(|f| {
        let audit = is_audit_log(&f.path, options.max_line_bytes);
        if !audit {
            notes.push(Note::NotAuditLog(f.path.clone()));
        }
        audit
    });
    set
}

/// How much of a file (decompressed) is looked at to tell what it holds.
const LOOK: u64 = 4 << 20;

/// The first [`LOOK`] bytes of `path`, every line looked at; `visit` gets each block's
/// result and returns `false` to stop.
fn look_into(
    path: &Path,
    max_line_bytes: usize,
    mut visit: impl FnMut(&BlockResult) -> bool,
) -> bool {
    let Ok(reader) = Input::Path(path.to_path_buf()).open() else {
        return false;
    };
    let mut plan = Plan::jsonl(crate::query::Expr::All, false);
    plan.max_line_bytes = max_line_bytes;
    scan_reader(
        reader,
        Arc::new(plan),
        256 << 10,
        ReadMode::Batch,
        |result, offset| visit(result) && offset <= LOOK,
    );
    true
}

/// What the first few MiB (decompressed) of a file hold, every line looked at: for the
/// note on an input that yielded no event when the prefilter skipped lines.
pub fn sniff(path: &Path, max_line_bytes: usize) -> Option<crate::sink::Counters> {
    let mut counters = crate::sink::Counters::default();
    look_into(path, max_line_bytes, |result| {
        counters.add(&result.counters);
        true
    })
    .then_some(counters)
}

/// Whether a file holds an audit event in its first few MiB (decompressed).
pub fn is_audit_log(path: &Path, max_line_bytes: usize) -> bool {
    let mut found = false;
    look_into(path, max_line_bytes, |result| {
        found = result.counters.events > 0;
        !found
    });
    found
}

fn plan_set(set: &LogSet, stream: usize, options: &ArchiveOptions, planned: &mut Planned) {
    for file in &set.files {
        let size = std::fs::metadata(&file.path).map_or(0, |m| m.len());
        if let (Some(since), Role::Backup(rotated_ms)) = (options.since, file.role) {
            // The name is rounded down to the millisecond: everything was written before
            // the next millisecond began.
            let written_before = (i128::from(rotated_ms) + 1) * 1_000_000;
            if written_before <= since {
                planned.notes.push(Note::BeforeTime {
                    path: file.path.clone(),
                    bytes: size,
                });
                planned.bytes_skipped += size;
                planned.files_skipped += 1;
                continue;
            }
        }
        let start = match options.since {
            Some(since) if size >= SEARCH_MIN_SIZE => start_offset(&file.path, since).unwrap_or(0),
            _ => 0,
        };
        if start > 0 {
            planned.notes.push(Note::StartsAt {
                path: file.path.clone(),
                offset: start,
            });
            planned.bytes_skipped += start;
        }
        planned.bytes_to_read += size - start.min(size);
        planned.targets.push(Target {
            input: Input::Path(file.path.clone()),
            start,
            stream,
        });
    }
}

/// A probe: the start of a line that begins a compact event, and its write time.
#[derive(Debug, Clone, Copy)]
struct Probe {
    offset: u64,
    time: Nanos,
}

/// Where reading a plain file may start for events at or after `since`: the start of a
/// line (at a hard boundary, so framing is at rest) such that every line before it was
/// written more than [`WRITE_DISORDER`] before `since`. 0 when it cannot tell (gzip, not
/// one event per line, disorder beyond the window).
pub fn start_offset(path: &Path, since: Nanos) -> io::Result<u64> {
    let file = File::open(path)?;
    if crate::source::is_gzip_file(path) {
        return Ok(0);
    }
    let size = file.metadata()?.len();
    let target = since.saturating_sub(WRITE_DISORDER);
    let mut parser = Parser::default();
    let mut probes: Vec<Probe> = Vec::new();
    // First, evenly spaced probes: the file must be in write order (within the window)
    // at each of them, or it is read whole (two logs concatenated, a hand-made file).
    let spread = (size >> 20).clamp(2, 32);
    for i in 0..spread {
        if let Some(p) = probe(&file, size * i / spread, size, &mut parser)? {
            probes.push(p);
        }
    }
    let ordered = probes
        .windows(2)
        .all(|w| w[1].offset <= w[0].offset || w[1].time + WRITE_DISORDER >= w[0].time);
    let latest = probes.iter().map(|p| p.time).max();
    if !ordered || latest.is_none() {
        return Ok(0);
    }
    let (mut lo, mut hi) = (0u64, size);
    while hi.saturating_sub(lo) > 256 << 10 {
        let mid = lo + (hi - lo) / 2;
        let Some(probe) = probe(&file, mid, size, &mut parser)? else {
            break;
        };
        // The probes must agree with file order within the window.
        let disordered = probes.iter().any(|p| {
            (p.offset < probe.offset && p.time > probe.time + WRITE_DISORDER)
                || (p.offset > probe.offset && probe.time > p.time + WRITE_DISORDER)
        });
        if disordered {
            return Ok(0);
        }
        probes.push(probe);
        if probe.offset >= hi {
            hi = mid;
        } else if probe.time < target {
            lo = probe.offset;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// The first line at or after `at` that is a compact event after a hard boundary, and
/// its write time (`stageTimestamp`, or `timestamp` in old events).
fn probe(file: &File, at: u64, size: u64, parser: &mut Parser) -> io::Result<Option<Probe>> {
    for window in [64 << 10, 1 << 20] {
        let found = probe_within(file, at, size, window, parser)?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

fn probe_within(
    file: &File,
    at: u64,
    size: u64,
    window: usize,
    parser: &mut Parser,
) -> io::Result<Option<Probe>> {
    let len = window.min(size.saturating_sub(at) as usize);
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        let n = file.read_at(&mut buf[got..], at + got as u64)?;
        if n == 0 {
            break;
        }
        got += n;
    }
    buf.truncate(got);
    // Skip the (partial) line `at` falls in: the probe starts at the next line.
    let mut pos = match memchr::memchr(b'\n', &buf) {
        Some(nl) => nl + 1,
        None => return Ok(None),
    };
    if pos < 2 {
        pos = match memchr::memchr(b'\n', &buf[pos..]) {
            Some(nl) => pos + nl + 1,
            None => return Ok(None),
        };
    }
    for _ in 0..16 {
        let Some(nl) = memchr::memchr(b'\n', &buf[pos..]) else {
            return Ok(None);
        };
        let line = crate::framing::strip_line_end(&buf[pos..pos + nl]);
        let before = crate::framing::strip_line_end(&buf[..pos - 1]);
        let after_hard = before.last() == Some(&b'}') && line.first() == Some(&b'{');
        if after_hard && line.last() == Some(&b'}') {
            let time = parser
                .with_parsed(line, |root| {
                    root.get("stageTimestamp")
                        .or_else(|| root.get("timestamp"))
                        .and_then(|v| v.as_str())
                        .and_then(parse_timestamp)
                })
                .ok()
                .flatten();
            if let Some(time) = time {
                return Ok(Some(Probe {
                    offset: at + pos as u64,
                    time,
                }));
            }
        }
        pos += nl + 1;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn event(second: u64, pad: usize) -> String {
        let t = format!(
            "2026-01-05T10:{:02}:{:02}.000000Z",
            second / 60,
            second % 60
        );
        format!(
            r#"{{"kind":"Event","auditID":"{second}","verb":"get","requestReceivedTimestamp":"{t}","stageTimestamp":"{t}","pad":"{}"}}"#,
            "x".repeat(pad)
        )
    }

    #[test]
    fn binary_search_finds_a_start_before_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut f = File::create(&path).unwrap();
        for s in 0..3600 {
            writeln!(f, "{}", event(s, 2000)).unwrap();
        }
        drop(f);
        let since = parse_timestamp("2026-01-05T10:50:00Z").unwrap();
        let start = start_offset(&path, since).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(start > 0 && text.as_bytes()[start as usize - 1] == b'\n');
        let first = &text[start as usize..];
        let second: u64 = first[first.find("\"auditID\":\"").unwrap() + 11..]
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        // Before 10:49:00 (the bound less the window), but not much before.
        assert!(second < 49 * 60, "{second}");
        assert!(second > 45 * 60, "{second}");
    }

    #[test]
    fn disorder_beyond_the_window_reads_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut f = File::create(&path).unwrap();
        for s in 0..3600 {
            // Two logs concatenated: the second half starts over.
            writeln!(f, "{}", event(s % 1800, 2000)).unwrap();
        }
        drop(f);
        let since = parse_timestamp("2026-01-05T10:25:00Z").unwrap();
        assert_eq!(start_offset(&path, since).unwrap(), 0);
    }
}
