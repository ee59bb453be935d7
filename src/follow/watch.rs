//! Wake-ups: inotify (through `notify`) on the log directories, non-recursive, as a hint
//! only; the caller re-stats everything on every wake-up and at least every poll interval,
//! so a lost or overflowed event (or a filesystem without inotify: NFS, overlayfs,
//! exhausted watches) costs latency, never data. A directory that does not exist yet is
//! watched once it appears.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

/// Blocks until something may have changed or the poll interval elapsed.
pub struct Waker {
    watcher: Option<RefCell<notify::RecommendedWatcher>>,
    rx: Option<Receiver<()>>,
    /// Directories not watched yet because they do not exist (yet).
    missing: RefCell<Vec<PathBuf>>,
}

impl Waker {
    /// Watches `dirs`; with `poll_only`, or when inotify is unavailable (reported through
    /// `warn`), falls back to pure timed polling.
    pub fn new(dirs: &[PathBuf], poll_only: bool, warn: &mut dyn FnMut(&str)) -> Waker {
        if poll_only {
            return Waker::polling();
        }
        let (tx, rx) = channel();
        let watcher = notify::recommended_watcher(move |_res: notify::Result<notify::Event>| {
            // Content of the event is irrelevant: every wake-up re-stats.
            let _ = tx.send(());
        });
        let watcher = match watcher {
            Ok(w) => w,
            Err(e) => {
                warn(&format!(
                    "file notifications unavailable ({e}); polling instead"
                ));
                return Waker::polling();
            }
        };
        let waker = Waker {
            watcher: Some(RefCell::new(watcher)),
            rx: Some(rx),
            missing: RefCell::new(Vec::new()),
        };
        for dir in dirs {
            if let Err(e) = waker.watch(dir) {
                warn(&format!(
                    "cannot watch {} ({e}); polling it instead",
                    dir.display()
                ));
            }
        }
        waker
    }

    fn polling() -> Waker {
        Waker {
            watcher: None,
            rx: None,
            missing: RefCell::new(Vec::new()),
        }
    }

    /// Adds a watch; a directory that does not exist yet is remembered and tried again
    /// at every wake-up (polling covers it meanwhile).
    fn watch(&self, dir: &Path) -> notify::Result<()> {
        let Some(watcher) = &self.watcher else {
            return Ok(());
        };
        if !dir.exists() {
            self.missing.borrow_mut().push(dir.to_path_buf());
            return Ok(());
        }
        watcher.borrow_mut().watch(dir, RecursiveMode::NonRecursive)
    }

    /// Watches the directories that have appeared since the last look.
    fn watch_appeared(&self) {
        let Some(watcher) = &self.watcher else {
            return;
        };
        self.missing.borrow_mut().retain(|dir| {
            !dir.exists()
                || watcher
                    .borrow_mut()
                    .watch(dir, RecursiveMode::NonRecursive)
                    .is_err()
        });
    }

    /// Waits at most `timeout` for a change notification, then drains the queue so one
    /// burst of events costs one wake-up.
    pub fn wait(&self, timeout: Duration) {
        match &self.rx {
            Some(rx) => {
                match rx.recv_timeout(timeout) {
                    Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => std::thread::sleep(timeout),
                }
                while rx.try_recv().is_ok() {}
            }
            None => std::thread::sleep(timeout),
        }
        if !self.missing.borrow().is_empty() {
            self.watch_appeared();
        }
    }
}
