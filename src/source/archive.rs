//! Directories of audit logs: which files they hold and in what order. Each lumberjack
//! set (an active file `audit.log` and its backups `audit-2026-01-05T10-00-00.000.log`,
//! `….log.gz`) is read oldest first by the times in the backups' names, the active file
//! last; other files are read on their own. When both `x.log` and `x.log.gz` exist, the
//! `.log` is read (the `.gz` may still be being written).

use super::backups::{LogName, NameTime, parse_stamp};
use std::collections::BTreeMap;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What a file's name says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The file the writer appends to (no time in its name).
    Active,
    /// A backup, rotated at the time in its name (epoch ms).
    Backup(NameTime),
    /// A file of no set.
    Other,
}

/// One file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFile {
    pub path: PathBuf,
    pub role: Role,
}

/// The files of one log in reading order: backups oldest first, then the active file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSet {
    /// The active file's path (it may not exist).
    pub active: PathBuf,
    pub files: Vec<ArchiveFile>,
}

/// `name` split as a lumberjack backup name: (prefix, time, extension, compressed).
fn backup_parts(name: &[u8]) -> Option<(&[u8], NameTime, &[u8], bool)> {
    const STAMP: usize = 23; // 2006-01-02T15-04-05.000
    let (name, compressed) = match name.strip_suffix(b".gz") {
        Some(n) => (n, true),
        None => (name, false),
    };
    (0..name.len()).rev().find_map(|i| {
        if name[i] != b'-' || name.len() < i + 1 + STAMP {
            return None;
        }
        let time = parse_stamp(&name[i + 1..i + 1 + STAMP])?;
        let ext = &name[i + 1 + STAMP..];
        let ext_ok = ext.is_empty() || (ext[0] == b'.' && !ext[1..].contains(&b'.'));
        ext_ok.then_some((&name[..i], time, ext, compressed))
    })
}

/// The log sets and other files of a directory (and of its subdirectories with
/// `recurse`), in reading order: sets and files by name, each set oldest first.
pub fn scan_dir(dir: &Path, recurse: bool) -> io::Result<Vec<LogSet>> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        let is_dir = kind.is_dir() || (kind.is_symlink() && path.is_dir());
        if is_dir {
            dirs.push(path);
        } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
            files.push(path);
        }
    }
    let mut sets = group(dir, &files);
    if recurse {
        dirs.sort();
        for sub in dirs {
            sets.extend(scan_dir(&sub, true)?);
        }
    }
    Ok(sets)
}

/// Groups the files of one directory into sets.
fn group(dir: &Path, files: &[PathBuf]) -> Vec<LogSet> {
    // Key: the active file's name. Value: backups (time, compressed, path).
    let mut sets: BTreeMap<Vec<u8>, Vec<(NameTime, bool, PathBuf)>> = BTreeMap::new();
    let mut plain: Vec<&PathBuf> = Vec::new();
    for path in files {
        let name = path.file_name().map(|n| n.as_bytes()).unwrap_or_default();
        match backup_parts(name) {
            Some((prefix, time, ext, compressed)) => {
                let active = [prefix, ext].concat();
                sets.entry(active)
                    .or_default()
                    .push((time, compressed, path.clone()));
            }
            None => plain.push(path),
        }
    }
    let mut out: BTreeMap<Vec<u8>, LogSet> = BTreeMap::new();
    for path in plain {
        let name = path
            .file_name()
            .map(|n| n.as_bytes().to_vec())
            .unwrap_or_default();
        let role = if sets.contains_key(&name) {
            Role::Active
        } else {
            Role::Other
        };
        out.insert(
            name,
            LogSet {
                active: path.clone(),
                files: vec![ArchiveFile {
                    path: path.clone(),
                    role,
                }],
            },
        );
    }
    for (active, mut backups) in sets {
        backups.sort_by_key(|(time, compressed, _)| (*time, *compressed));
        backups.dedup_by(|later, first| later.0 == first.0);
        let active_path = dir.join(std::ffi::OsStr::from_bytes(&active));
        let set = out.entry(active).or_insert_with(|| LogSet {
            active: active_path,
            files: Vec::new(),
        });
        let mut files: Vec<ArchiveFile> = backups
            .into_iter()
            .map(|(time, _, path)| ArchiveFile {
                path,
                role: Role::Backup(time),
            })
            .collect();
        files.append(&mut set.files);
        set.files = files;
    }
    out.into_values().collect()
}

/// The set of one file named on the command line: with `backups`, its lumberjack backups
/// first (as `--backups` always did), else the file alone.
pub fn set_of_file(path: &Path, backups: bool) -> LogSet {
    let mut files = Vec::new();
    if backups {
        let name = LogName::new(path);
        if let Ok(list) = name.list() {
            files.extend(list.into_iter().map(|b| ArchiveFile {
                path: b.path,
                role: Role::Backup(b.time),
            }));
        }
    }
    files.push(ArchiveFile {
        path: path.to_path_buf(),
        role: Role::Active,
    });
    LogSet {
        active: path.to_path_buf(),
        files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(set: &LogSet) -> Vec<String> {
        set.files
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn splits_backup_names() {
        let (prefix, _, ext, gz) = backup_parts(b"audit-2026-01-05T10-00-00.000.log.gz").unwrap();
        assert_eq!((prefix, ext, gz), (&b"audit"[..], &b".log"[..], true));
        let (prefix, _, ext, _) =
            backup_parts(b"kube-apiserver-audit-2026-01-05T10-00-00.000.log").unwrap();
        assert_eq!((prefix, ext), (&b"kube-apiserver-audit"[..], &b".log"[..]));
        let (prefix, _, ext, _) = backup_parts(b"audit-2026-01-05T10-00-00.000").unwrap();
        assert_eq!((prefix, ext), (&b"audit"[..], &b""[..]));
        assert!(backup_parts(b"audit.log").is_none());
        assert!(backup_parts(b"audit-2026-01-05T10-00-00.log").is_none());
        assert!(backup_parts(b"audit-2026-01-05T10-00-00.000.log.1").is_none());
    }

    #[test]
    fn groups_a_directory_into_sets_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "audit.log",
            "audit-2026-01-02T00-00-00.000.log.gz",
            "audit-2026-01-01T00-00-00.000.log",
            "audit-2026-01-03T00-00-00.000.log",
            "audit-2026-01-03T00-00-00.000.log.gz",
            "other-2026-01-01T00-00-00.000.json",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), b"x\n").unwrap();
        }
        std::fs::create_dir(dir.path().join("cp2")).unwrap();
        std::fs::write(dir.path().join("cp2/audit.log"), b"x\n").unwrap();
        let sets = scan_dir(dir.path(), false).unwrap();
        let all: Vec<Vec<String>> = sets.iter().map(names).collect();
        assert_eq!(
            all,
            [
                vec![
                    "audit-2026-01-01T00-00-00.000.log",
                    "audit-2026-01-02T00-00-00.000.log.gz",
                    "audit-2026-01-03T00-00-00.000.log",
                    "audit.log"
                ],
                vec!["notes.txt"],
                vec!["other-2026-01-01T00-00-00.000.json"],
            ]
        );
        assert_eq!(sets[0].files[3].role, Role::Active);
        assert_eq!(sets[1].files[0].role, Role::Other);
        let deep = scan_dir(dir.path(), true).unwrap();
        assert_eq!(deep.len(), 4);
        assert!(deep[3].active.ends_with("cp2/audit.log"));
    }
}
