//! The files of one export run: written as hidden temporary files (`.NAME.tmp`) beside
//! their final place, and renamed into place only when the whole run has succeeded
//! ([`Files::commit`]); on any error or signal they are removed ([`Files::abort`]), with
//! the directories the run created. A reader of the tree never sees a file half written,
//! nor the files of a run that failed.

use super::ExportError;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// A file of the run: where it is written and where it goes.
#[derive(Debug, Clone)]
struct Pending {
    tmp: PathBuf,
    path: PathBuf,
}

#[derive(Debug, Default)]
struct State {
    pending: Vec<Pending>,
    /// Directories this run created, parents first.
    created: Vec<PathBuf>,
    /// Aborted: no file may be created any more.
    closed: bool,
    /// Renamed into place: nothing to remove any more.
    committed: bool,
}

/// The registry of a run's files, shared with the signal watcher.
#[derive(Debug, Default)]
pub struct Files {
    state: Mutex<State>,
}

impl Files {
    pub fn new() -> Arc<Files> {
        Arc::new(Files::default())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates `dir` and its missing parents, remembering those this run created.
    pub fn create_dir(&self, dir: &Path) -> Result<(), ExportError> {
        let mut state = self.lock();
        create_dirs(dir, &mut state.created).map_err(|source| ExportError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })
    }

    /// Creates the temporary file of `dir/name` (and `dir`), registered for commit or abort.
    pub fn create(&self, dir: &Path, name: &str) -> Result<(File, PathBuf), ExportError> {
        let mut state = self.lock();
        let tmp = dir.join(format!(".{name}.tmp"));
        if state.closed {
            return Err(ExportError::Write {
                path: tmp,
                source: io::Error::new(io::ErrorKind::Interrupted, "the export was stopped"),
            });
        }
        create_dirs(dir, &mut state.created).map_err(|source| ExportError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|source| ExportError::Write {
                path: tmp.clone(),
                source,
            })?;
        state.pending.push(Pending {
            tmp: tmp.clone(),
            path: dir.join(name),
        });
        Ok((file, tmp))
    }

    /// Renames every file into place (each was synced when closed) and syncs their
    /// directories; returns the final paths.
    pub fn commit(&self) -> Result<Vec<PathBuf>, ExportError> {
        let mut state = self.lock();
        let mut done = Vec::new();
        let mut dirs: Vec<PathBuf> = Vec::new();
        for p in &state.pending {
            std::fs::rename(&p.tmp, &p.path).map_err(|source| ExportError::Write {
                path: p.path.clone(),
                source,
            })?;
            done.push(p.path.clone());
            if let Some(parent) = p.path.parent()
                && !dirs.iter().any(|d| d == parent)
            {
                dirs.push(parent.to_path_buf());
            }
        }
        // New directories must reach the disk too: sync each up to the output directory.
        for d in state.created.iter().rev() {
            if let Some(parent) = d.parent()
                && !dirs.iter().any(|x| x == parent)
            {
                dirs.push(parent.to_path_buf());
            }
        }
        for d in &dirs {
            if let Ok(dir) = File::open(d) {
                let _ = dir.sync_all();
            }
        }
        state.pending.clear();
        state.created.clear();
        state.committed = true;
        Ok(done)
    }

    /// Removes every temporary file and the directories this run created (when empty);
    /// no file can be created afterwards. Returns how many files were removed, or `None`
    /// when the run was already committed (nothing to undo).
    pub fn abort(&self) -> Option<usize> {
        let mut state = self.lock();
        if state.committed {
            return None;
        }
        state.closed = true;
        let mut removed = 0;
        for p in state.pending.drain(..) {
            if std::fs::remove_file(&p.tmp).is_ok() {
                removed += 1;
            }
        }
        for d in state.created.drain(..).rev() {
            let _ = std::fs::remove_dir(&d); // only when empty
        }
        Some(removed)
    }
}

/// `create_dir_all`, recording each directory it created.
fn create_dirs(dir: &Path, created: &mut Vec<PathBuf>) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut cursor = Some(dir);
    while let Some(d) = cursor {
        if d.as_os_str().is_empty() || d.is_dir() {
            break;
        }
        missing.push(d.to_path_buf());
        cursor = d.parent();
    }
    for d in missing.into_iter().rev() {
        match std::fs::create_dir(&d) {
            Ok(()) => created.push(d),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
