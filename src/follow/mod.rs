//! Follow mode (`auditq -f`): like `tail -F`, but exact through
//! kube-apiserver/lumberjack rotation, compression, pruning, truncation and
//! restarts. See `docs/follow.md` for the guarantees and their limits.
//!
//! Every followed path is handled by a [`follower::FileFollower`] that holds
//! the file descriptor it reads until that file is drained to EOF, then
//! continues with unseen backups (in name-time order) and the new active
//! file. Files are recognised by `(dev, ino)` plus a first-line fingerprint.

pub(crate) use crate::source::backups;
pub mod checkpoint;
mod follower;
mod handler;
mod identity;
#[cfg(test)]
mod model_tests;
mod start;
mod stdin;
mod watch;

pub use handler::QueryHandler;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use follower::FileFollower;

/// Where following starts when no checkpoint applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At the current end of the active file (after its last complete record).
    End,
    /// Every existing backup in name-time order, then the active file.
    FromStart,
    /// The last n matching events (searching back through backups), then follow.
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
    /// Longer lines are reported and skipped.
    pub max_line_bytes: usize,
    /// How much is read at once.
    pub block_size: usize,
}

impl Default for FollowConfig {
    fn default() -> Self {
        FollowConfig {
            paths: Vec::new(),
            start: Start::End,
            poll_only: false,
            poll_interval: Duration::from_millis(250),
            state_file: None,
            max_line_bytes: crate::limits::DEFAULT_MAX_LINE_BYTES,
            block_size: 256 * 1024,
        }
    }
}

/// An error writing results: it ends the run (a closed pipe quietly). Problems with the
/// followed files never are errors: they become warnings.
#[derive(Debug)]
pub struct OutputError(pub io::Error);

/// Whether the handler wants more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// `-m` reached, or `--strict` met an invalid line.
    Stop,
}

/// What the follower hands its results to (the query engine, in [`QueryHandler`]).
pub trait Handler {
    /// A block of whole records read from `file` starting at byte `offset`.
    fn block(&mut self, file: &str, offset: u64, block: &[u8]) -> Result<Flow, OutputError>;
    /// A line longer than the limit, skipped.
    fn long_line(&mut self, file: &str, offset: u64, bytes: u64) -> Result<(), OutputError>;
    /// Output so far must reach the OS (before a checkpoint names it).
    fn flush(&mut self) -> Result<(), OutputError>;
    /// A warning (rotation gap, truncation, unreadable file, …) for stderr.
    fn warn(&mut self, message: &str);
    /// `-n N`: from now on keep the last `keep` matches instead of writing them.
    fn collect(&mut self, keep: usize);
    /// Stops collecting; returns what was kept, oldest first.
    fn take_collected(&mut self) -> Vec<Collected>;
    /// Writes matches kept by [`Handler::collect`].
    fn emit_collected(&mut self, items: Vec<Collected>) -> Result<Flow, OutputError>;
    /// The bytes of `file` from `offset` on that were read but not handed out (a line
    /// whose end has not arrived, after the lines of a document still open), each time
    /// reading pauses with them changed. `--strict` stops at a line no ending can make
    /// valid.
    fn unfinished(&mut self, file: &str, offset: u64, pending: &[u8]) -> Result<Flow, OutputError>;
    /// Following stops (a signal, `-m`) with these bytes of `file` not handed out.
    fn stopping(&mut self, file: &str, offset: u64, pending: &[u8]) -> Result<(), OutputError>;
    /// `file` has `lines` lines before `offset`, where reading starts (in the middle of
    /// a file: a block at offset 0 starts at line 1 without being told).
    fn lines_before(&mut self, file: &str, offset: u64, lines: u64);
}

/// A match kept for `-n`: its formatted text, its `--count-by` key, its meta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected {
    pub text: Vec<u8>,
    pub key: Vec<String>,
    pub meta: Option<Box<crate::sink::Meta>>,
}

/// Why following ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// SIGINT or SIGTERM.
    Signal,
    /// Standard input ended.
    Eof,
    /// The output was closed.
    BrokenPipe,
    /// The handler had enough (`-m`, `--strict`).
    Done,
}

/// Minimum spacing of checkpoint writes while records flow.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Runs until `stop` becomes true (SIGINT/SIGTERM set it; the binary installs the
/// handler with `signal_hook::flag`), stdin EOF, the handler stops, or the output fails.
/// Only output errors are returned; problems with log files become warnings.
pub fn run(
    config: &FollowConfig,
    handler: &mut dyn Handler,
    stop: &Arc<AtomicBool>,
) -> io::Result<Stopped> {
    let result = if config.paths.is_empty() {
        stdin::follow(handler, config, stop)
    } else {
        follow_files(config, handler, stop)
    };
    match result {
        Ok(stopped) => Ok(stopped),
        Err(OutputError(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Stopped::BrokenPipe),
        Err(OutputError(e)) => Err(e),
    }
}

fn follow_files(
    config: &FollowConfig,
    out: &mut dyn Handler,
    stop: &AtomicBool,
) -> Result<Stopped, OutputError> {
    let mut followers: Vec<FileFollower> = config
        .paths
        .iter()
        .map(|p| FileFollower::new(p, config.max_line_bytes, config.block_size))
        .collect();
    let mut dirs: Vec<PathBuf> = followers.iter().map(|f| f.dir().to_path_buf()).collect();
    dirs.sort();
    dirs.dedup();
    // The watch is set up before any file is opened so no change is missed.
    let waker = watch::Waker::new(&dirs, config.poll_only, &mut |m| out.warn(m));
    let saved = load_state(config, out);
    for f in &mut followers {
        let entry = saved.iter().find(|e| e.follow == f.follow_path());
        if f.start(config.start, entry, out)? == Flow::Stop {
            stopping(&followers, out)?;
            out.flush()?;
            return Ok(Stopped::Done);
        }
    }
    out.flush()?;
    let mut saver = Saver::new(config.state_file.clone(), saved);
    loop {
        let mut busy = false;
        for f in &mut followers {
            match f.step(out)? {
                Step::Idle => {}
                Step::Busy => busy = true,
                Step::Done => {
                    stopping(&followers, out)?;
                    out.flush()?;
                    saver.save(&followers, out, true);
                    return Ok(Stopped::Done);
                }
            }
        }
        out.flush()?;
        if stop.load(Ordering::Relaxed) {
            stopping(&followers, out)?;
            out.flush()?;
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

/// Tells the handler what each follower read but did not hand out when following stops.
fn stopping(followers: &[FileFollower], out: &mut dyn Handler) -> Result<(), OutputError> {
    for f in followers {
        if let Some((file, offset, pending)) = f.unfinished() {
            out.stopping(&file, offset, pending)?;
        }
    }
    Ok(())
}

/// What one [`FileFollower::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing more to read for now.
    Idle,
    /// The read budget ran out with input pending: do not sleep.
    Busy,
    /// The handler wants no more.
    Done,
}

fn load_state(config: &FollowConfig, out: &mut dyn Handler) -> Vec<checkpoint::Entry> {
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

    fn save(&mut self, followers: &[FileFollower], out: &mut dyn Handler, final_save: bool) {
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
