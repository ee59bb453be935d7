//! `--out FILE`, rotated the way kube-apiserver rotates its audit log (lumberjack v2):
//! when a write would take the file past `--max-size` MB, the file is renamed to
//! `<name>-YYYY-MM-DDTHH-MM-SS.mmm<ext>` (UTC, the rotation time) and a new one is
//! created; then, in the background, backups beyond `--max-backups` or older than
//! `--max-age` days are removed and the others gzipped (`….log.gz`, written beside the
//! `.log`, which is removed once the `.gz` is complete). The names are those
//! [`crate::source::backups::LogName`] reads, so `auditq -f FILE` and directory searches
//! read what was received, each event once.
//!
//! One write never spans two files: the server hands over a batch as one write, so a
//! batch larger than `--max-size` makes one file larger than `--max-size` (lumberjack
//! refuses such a write instead; losing the batch would be worse).

use crate::source::backups::{LogName, NameTime, now_ms};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Lumberjack's megabyte.
pub const MEGABYTE: u64 = 1024 * 1024;

/// How the output file is rotated and pruned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Bytes; `None`: never rotate.
    pub max_size: Option<u64>,
    /// Backups kept (0: all).
    pub max_backups: usize,
    /// Days a backup is kept (by the time in its name); `None`: forever.
    pub max_age_days: Option<u64>,
    pub compress: bool,
}

/// The output file: appends, rotates, and (with `--fsync`) syncs on flush.
pub struct RotatingFile {
    name: LogName,
    rotation: Rotation,
    fsync: bool,
    file: Option<File>,
    size: u64,
    last_backup: NameTime,
    mill: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
}

impl RotatingFile {
    /// Opens (creates) `path` for appending, and prunes/compresses old backups once.
    pub fn open(path: &Path, rotation: Rotation, fsync: bool) -> io::Result<RotatingFile> {
        let name = LogName::new(path);
        let mut out = RotatingFile {
            name,
            rotation,
            fsync,
            file: None,
            size: 0,
            last_backup: 0,
            mill: None,
        };
        out.reopen()?;
        if out.rotation.max_size.is_some() {
            let (tx, rx) = mpsc::channel::<()>();
            let name = out.name.clone();
            let rotation = out.rotation.clone();
            let handle = std::thread::Builder::new()
                .name("auditq-mill".into())
                .spawn(move || {
                    mill(&name, &rotation);
                    while rx.recv().is_ok() {
                        mill(&name, &rotation);
                    }
                })?;
            out.mill = Some((tx, handle));
        }
        Ok(out)
    }

    fn path(&self) -> &PathBuf {
        &self.name.active
    }

    fn reopen(&mut self) -> io::Result<()> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(self.path())?;
        self.size = file.metadata()?.len();
        self.file = Some(file);
        Ok(())
    }

    /// Renames the file to its backup name and starts a new one.
    fn rotate(&mut self) -> io::Result<()> {
        // As lumberjack: the old file is closed, not synced (a batch was answered when its
        // events reached the OS; with --fsync every flush already synced them). Syncing
        // 100 MB here would hold every batch for as long.
        let old = self.file.take();
        if self.fsync
            && let Some(file) = old
        {
            file.sync_all()?;
        }
        // Two rotations in one millisecond would get one name: take the next free one.
        let mut time = now_ms().max(self.last_backup + 1);
        let mut backup = self.name.backup_path(time);
        while backup.exists() || gz_of(&backup).exists() {
            time += 1;
            backup = self.name.backup_path(time);
        }
        fs::rename(self.path(), &backup)?;
        self.last_backup = time;
        self.reopen()?;
        if let Some((tx, _)) = &self.mill {
            let _ = tx.send(());
        }
        Ok(())
    }

    /// Stops the background pruning and compression after its current pass (what
    /// dropping it does, with the flush's error returned).
    #[cfg(test)]
    pub fn close(mut self) -> io::Result<()> {
        self.flush()?;
        if let Some((tx, handle)) = self.mill.take() {
            drop(tx);
            let _ = handle.join();
        }
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(max) = self.rotation.max_size
            && self.size > 0
            && self.size + buf.len() as u64 > max
        {
            self.rotate()?;
        }
        if self.file.is_none() {
            self.reopen()?;
        }
        let file = self.file.as_mut().expect("opened above");
        // The whole buffer, or an error: one write never spans two files.
        if let Err(e) = file.write_all(buf) {
            // Start again from the file as it is on the next write.
            self.file = None;
            return Err(e);
        }
        self.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.fsync
            && let Some(file) = &self.file
        {
            file.sync_data()?;
        }
        Ok(())
    }
}

impl Drop for RotatingFile {
    fn drop(&mut self) {
        if let Some((tx, handle)) = self.mill.take() {
            drop(tx);
            let _ = handle.join();
        }
    }
}

/// Lumberjack's `millRunOnce`: remove backups beyond the count or the age, then gzip the
/// rest. Errors are left for the next pass (as lumberjack does).
fn mill(name: &LogName, rotation: &Rotation) {
    let Ok(mut backups) = name.list() else { return };
    // Newest first.
    backups.reverse();
    let mut remove = Vec::new();
    if rotation.max_backups > 0 && backups.len() > rotation.max_backups {
        remove.extend(backups.split_off(rotation.max_backups));
    }
    if let Some(days) = rotation.max_age_days {
        let cutoff = now_ms().saturating_sub(i64::try_from(days * 86_400_000).unwrap_or(i64::MAX));
        let (keep, old): (Vec<_>, Vec<_>) = backups.into_iter().partition(|b| b.time >= cutoff);
        backups = keep;
        remove.extend(old);
    }
    for backup in remove {
        // Both the .log and a (maybe partial) .log.gz of that time.
        let plain = if backup.compressed {
            backup.path.with_extension("")
        } else {
            backup.path.clone()
        };
        let _ = fs::remove_file(&plain);
        let _ = fs::remove_file(gz_of(&plain));
    }
    if rotation.compress {
        for backup in backups.iter().filter(|b| !b.compressed) {
            let _ = compress(&backup.path);
        }
    }
}

fn gz_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".gz");
    PathBuf::from(name)
}

/// Writes `path.gz` beside `path`, then removes `path` (readers prefer the `.log` while
/// both exist, so they never read a partial `.gz`).
fn compress(path: &Path) -> io::Result<()> {
    let mut src = File::open(path)?;
    let dst = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(gz_of(path))?;
    let mut gz = flate2::write::GzEncoder::new(dst, flate2::Compression::default());
    io::copy(&mut src, &mut gz)?;
    let dst = gz.finish()?;
    dst.sync_all()?;
    fs::remove_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut out: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        out.sort();
        out
    }

    #[test]
    fn rotates_before_a_write_that_would_pass_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let rotation = Rotation {
            max_size: Some(100),
            ..Rotation::default()
        };
        let mut out = RotatingFile::open(&path, rotation, false).unwrap();
        out.write_all(&[b'a'; 60]).unwrap();
        out.write_all(&[b'b'; 60]).unwrap();
        out.write_all(&[b'c'; 150]).unwrap();
        out.close().unwrap();
        let names = names(dir.path());
        assert_eq!(names.len(), 3, "{names:?}");
        assert_eq!(fs::read(&path).unwrap(), vec![b'c'; 150]);
        let backups = LogName::new(&path).list().unwrap();
        assert_eq!(fs::read(&backups[0].path).unwrap(), vec![b'a'; 60]);
        assert_eq!(fs::read(&backups[1].path).unwrap(), vec![b'b'; 60]);
    }

    #[test]
    fn removes_backups_older_than_max_age_by_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let name = LogName::new(&path);
        let old = name.backup_path(now_ms() - 3 * 86_400_000);
        let old_gz = gz_of(&name.backup_path(now_ms() - 5 * 86_400_000));
        let recent = name.backup_path(now_ms() - 3_600_000);
        for p in [&old, &old_gz, &recent] {
            fs::write(p, b"x\n").unwrap();
        }
        let rotation = Rotation {
            max_size: Some(MEGABYTE),
            max_backups: 0,
            max_age_days: Some(2),
            compress: false,
        };
        mill(&name, &rotation);
        assert!(!old.exists() && !old_gz.exists());
        assert!(recent.exists());
    }

    #[test]
    fn prunes_and_compresses_like_lumberjack() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let rotation = Rotation {
            max_size: Some(10),
            max_backups: 2,
            max_age_days: None,
            compress: true,
        };
        let mut out = RotatingFile::open(&path, rotation, false).unwrap();
        for i in 0..5u8 {
            out.write_all(&[b'0' + i; 10]).unwrap();
        }
        out.close().unwrap();
        // One more pass, after the last rotation's.
        mill(
            &LogName::new(&path),
            &Rotation {
                max_size: Some(10),
                max_backups: 2,
                max_age_days: None,
                compress: true,
            },
        );
        let backups = LogName::new(&path).list().unwrap();
        assert_eq!(backups.len(), 2, "{:?}", names(dir.path()));
        assert!(backups.iter().all(|b| b.compressed));
        let mut text = String::new();
        for b in &backups {
            let mut gz = flate2::read::GzDecoder::new(File::open(&b.path).unwrap());
            io::Read::read_to_string(&mut gz, &mut text).unwrap();
        }
        assert_eq!(text, "22222222223333333333");
        assert_eq!(fs::read(&path).unwrap(), b"4444444444");
    }
}
