//! Follow mode (`auditq -f`): like `tail -F`, but exact through
//! kube-apiserver/lumberjack rotation, compression, pruning, truncation and
//! restarts. See `docs/follow.md` for the guarantees and their limits.
//!
//! Every followed path is handled by a [`follower::FileFollower`] that holds
//! the file descriptor it reads until that file is drained to EOF, then
//! continues with unseen backups (in name-time order) and the new active
//! file. Files are recognised by `(dev, ino)` plus a first-line fingerprint.

pub mod backups;
mod checkpoint;
mod follower;
mod identity;
pub mod query_handler;
mod reader;
mod start;
mod stdin;
mod watch;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use follower::FileFollower;
use reader::LineSink;

/// Where following starts when no checkpoint applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At the current end of the active file (after its last complete line).
    End,
    /// Every existing backup in name-time order, then the active file.
    FromStart,
    /// The last n matching lines (searching back through backups), then follow.
    LastMatches(usize),
}

/// Everything `run` needs to know.
#[derive(Debug, Clone)]
pub struct FollowConfig {
    /// Files to follow; empty means follow stdin until EOF.
    pub paths: Vec<PathBuf>,
    pub start: Start,
    /// `--poll`: no inotify, only the stat loop.
    pub poll_only: bool,
    /// Period of the stat safety net (default 250 ms).
    pub poll_interval: Duration,
    /// `--state FILE`: checkpoint to resume from and keep up to date.
    pub state_file: Option<PathBuf>,
    /// Longer lines are reported and skipped (default 64 MiB).
    pub max_line_bytes: usize,
}

impl Default for FollowConfig {
    fn default() -> Self {
        FollowConfig {
            paths: Vec::new(),
            start: Start::End,
            poll_only: false,
            poll_interval: Duration::from_millis(250),
            state_file: None,
            max_line_bytes: 64 << 20,
        }
    }
}

/// Implemented by the query engine. Lines are complete, without `'\n'` (and
/// without a trailing `'\r'`).
pub trait LineHandler {
    fn is_match(&mut self, line: &[u8]) -> bool;
    /// Write one selected line (the handler adds the newline / formats it).
    /// `Err(BrokenPipe)` => stop quietly.
    fn emit(&mut self, line: &[u8]) -> io::Result<()>;
    /// Flush emitted output to the OS; called after each batch (at least
    /// once per wake-up), before checkpointing.
    fn flush(&mut self) -> io::Result<()>;
    /// A warning for stderr (rotation gap, truncation, stale checkpoint,
    /// unreadable file ...); the handler prints it.
    fn warn(&mut self, message: &str);
}

/// What happened during a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FollowSummary {
    pub matched: u64,
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stopped {
    Signal,
    Eof,
    BrokenPipe,
}

/// Minimum spacing of checkpoint writes while lines flow.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Runs until `stop` becomes true (SIGINT/SIGTERM set it; the binary
/// installs the handler with `signal_hook::flag`), stdin EOF, or a broken
/// pipe. Only output errors and an unusable state file are returned as
/// errors; problems with individual log files become warnings.
pub fn run(
    config: &FollowConfig,
    handler: &mut dyn LineHandler,
    stop: &Arc<AtomicBool>,
) -> io::Result<FollowSummary> {
    let mut out = Out::new(handler);
    let result = if config.paths.is_empty() {
        stdin::follow(&mut out, config.max_line_bytes, config.poll_interval, stop)
    } else {
        follow_files(config, &mut out, stop)
    };
    match result {
        Ok(_) => Ok(FollowSummary {
            matched: out.matched,
        }),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(FollowSummary {
            matched: out.matched,
        }),
        Err(e) => Err(e),
    }
}

fn follow_files(
    config: &FollowConfig,
    out: &mut Out<'_>,
    stop: &Arc<AtomicBool>,
) -> io::Result<Stopped> {
    let mut followers: Vec<FileFollower> = config
        .paths
        .iter()
        .map(|p| FileFollower::new(p, config.max_line_bytes))
        .collect();
    let mut dirs: Vec<PathBuf> = followers.iter().map(|f| f.dir().to_path_buf()).collect();
    dirs.sort();
    dirs.dedup();
    // The watch is set up before any file is opened so no change is missed.
    let waker = watch::Waker::new(&dirs, config.poll_only, &mut |m| out.warn(m));
    let saved = load_state(config, out);
    for f in &mut followers {
        let entry = saved.iter().find(|e| e.follow == f.follow_path());
        f.start(config.start, entry, out)?;
    }
    out.flush()?;
    let mut saver = Saver::new(config.state_file.clone(), saved);
    loop {
        let mut busy = false;
        for f in &mut followers {
            busy |= f.step(out)?;
        }
        out.flush()?;
        if stop.load(Ordering::Relaxed) {
            saver.save(&followers, out, true);
            return Ok(Stopped::Signal);
        }
        saver.save(&followers, out, false);
        if !busy {
            // A zero interval would spin; 10 ms keeps idle CPU negligible.
            waker.wait(config.poll_interval.max(Duration::from_millis(10)));
        }
    }
}

fn load_state(config: &FollowConfig, out: &mut Out<'_>) -> Vec<checkpoint::Entry> {
    let Some(path) = &config.state_file else {
        return Vec::new();
    };
    match checkpoint::load(path) {
        Ok(entries) => entries.unwrap_or_default(),
        Err(e) => {
            out.warn(&format!(
                "state file {}: {e}; ignoring it and using the configured start",
                path.display()
            ));
            Vec::new()
        }
    }
}

/// Writes the checkpoint after output was flushed: at most every
/// [`CHECKPOINT_EVERY`] while positions move, and once more on a clean stop.
struct Saver {
    path: Option<PathBuf>,
    /// Entries loaded at start, kept for followers that have no position
    /// yet (file missing) so a restart in that state does not forget them.
    loaded: Vec<checkpoint::Entry>,
    last_saved: Option<Vec<checkpoint::Entry>>,
    last_time: Instant,
    warned: bool,
}

impl Saver {
    fn new(path: Option<PathBuf>, loaded: Vec<checkpoint::Entry>) -> Saver {
        Saver {
            path,
            loaded,
            last_saved: None,
            last_time: Instant::now(),
            warned: false,
        }
    }

    fn save(&mut self, followers: &[FileFollower], out: &mut Out<'_>, final_save: bool) {
        let Some(path) = &self.path else { return };
        if !final_save && self.last_time.elapsed() < CHECKPOINT_EVERY {
            return;
        }
        let now = backups::now_ms();
        let entries: Vec<_> = followers
            .iter()
            .filter_map(|f| {
                f.position(now).or_else(|| {
                    let old = self.loaded.iter().find(|e| e.follow == f.follow_path());
                    old.cloned()
                })
            })
            .collect();
        let same = self
            .last_saved
            .as_ref()
            .is_some_and(|old| same_positions(old, &entries));
        if same && !final_save {
            return;
        }
        self.last_time = Instant::now();
        match checkpoint::save(path, &entries) {
            Ok(()) => self.last_saved = Some(entries),
            Err(e) if !self.warned => {
                self.warned = true;
                out.warn(&format!("cannot write state file {}: {e}", path.display()));
            }
            Err(_) => {}
        }
    }
}

/// Positions equal apart from the save time.
fn same_positions(a: &[checkpoint::Entry], b: &[checkpoint::Entry]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            checkpoint::Entry {
                saved_at_ms: 0,
                ..x.clone()
            } == checkpoint::Entry {
                saved_at_ms: 0,
                ..y.clone()
            }
        })
}

/// The handler seen as a line sink: filters, emits and counts matches.
pub(crate) struct Out<'a> {
    handler: &'a mut dyn LineHandler,
    matched: u64,
}

impl<'a> Out<'a> {
    fn new(handler: &'a mut dyn LineHandler) -> Self {
        Out {
            handler,
            matched: 0,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.handler.flush()
    }

    /// Emits lines collected for `-n N` (already known to match).
    fn emit_matched(&mut self, line: &[u8]) -> io::Result<()> {
        self.matched += 1;
        self.handler.emit(line)
    }

    fn is_match(&mut self, line: &[u8]) -> bool {
        self.handler.is_match(line)
    }
}

impl LineSink for Out<'_> {
    fn line(&mut self, line: &[u8]) -> io::Result<()> {
        if self.handler.is_match(line) {
            self.matched += 1;
            self.handler.emit(line).map_err(output_error)?;
        }
        Ok(())
    }

    fn warn(&mut self, message: &str) {
        self.handler.warn(message);
    }
}

/// Marks an output failure so the follower does not mistake it for a
/// problem with the file it is reading.
fn output_error(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        e
    } else {
        io::Error::new(e.kind(), OutputError(e))
    }
}

/// Wrapper identifying errors that came from the handler.
#[derive(Debug)]
struct OutputError(io::Error);

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "output: {}", self.0)
    }
}

impl std::error::Error for OutputError {}

/// True when `e` came from the handler (stop) rather than from a log file
/// (warn and carry on).
fn is_output_error(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
        || e.get_ref().is_some_and(|inner| inner.is::<OutputError>())
}
