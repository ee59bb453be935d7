//! Wake-ups: inotify (through `notify`) on the log directories, non-recursive,
//! as a hint only; the caller re-stats everything on every wake-up and at
//! least every poll interval, so a lost or overflowed event (or a filesystem
//! without inotify: NFS, overlayfs, exhausted watches) costs latency, never
//! data.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

/// Blocks until something may have changed or the poll interval elapsed.
pub struct Waker {
    _watcher: Option<notify::RecommendedWatcher>,
    rx: Option<Receiver<()>>,
}

impl Waker {
    /// Watches `dirs`; with `poll_only`, or when inotify is unavailable
    /// (reported through `warn`), falls back to pure timed polling.
    pub fn new(dirs: &[PathBuf], poll_only: bool, warn: &mut dyn FnMut(&str)) -> Waker {
        if poll_only {
            return Waker::polling();
        }
        match Self::inotify(dirs) {
            Ok(w) => w,
            Err(e) => {
                warn(&format!(
                    "file notifications unavailable ({e}); polling instead"
                ));
                Waker::polling()
            }
        }
    }

    fn polling() -> Waker {
        Waker {
            _watcher: None,
            rx: None,
        }
    }

    fn inotify(dirs: &[PathBuf]) -> notify::Result<Waker> {
        let (tx, rx) = channel();
        let mut watcher =
            notify::recommended_watcher(move |_res: notify::Result<notify::Event>| {
                // Content of the event is irrelevant: every wake-up re-stats.
                let _ = tx.send(());
            })?;
        let mut watched = 0;
        for dir in dirs {
            // A directory that does not exist yet is covered by polling.
            if watcher.watch(dir, RecursiveMode::NonRecursive).is_ok() {
                watched += 1;
            }
        }
        if watched == 0 && !dirs.is_empty() {
            return Err(notify::Error::generic("no directory could be watched"));
        }
        Ok(Waker {
            _watcher: Some(watcher),
            rx: Some(rx),
        })
    }

    /// Waits at most `timeout` for a change notification, then drains the
    /// queue so one burst of events costs one wake-up.
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
    }
}
