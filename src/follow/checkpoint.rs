//! `--state FILE`: where each followed log was last read up to.
//!
//! Written only after the handler flushed its output, always where framing is at rest
//! (a record end), and atomically (temp file in the same directory, fsync, rename, fsync
//! of the directory) so a crash leaves either the old or the new state, never a torn one.
//!
//! The format is JSON, read and written with serde:
//! `{"version":2,"files":[{"follow":…,"path":…,"dev":…,"ino":…,
//! "fingerprint":"<16 hex>","first_line_len":…,"offset":…,"saved_at_ms":…,
//! "backup_time_ms":…?}]}`. Version 1 (same fields; offsets at line ends) is still read:
//! for logs of one event per line, line ends and record ends are the same places.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The version written.
const VERSION: u32 = 2;

/// Position in one followed log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The followed (active) path given on the command line: the lookup key.
    pub follow: PathBuf,
    /// The file being read when saved (the active file or a backup).
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    /// First-line fingerprint; `first_line_len == 0` means not known yet.
    #[serde(serialize_with = "hex_out", deserialize_with = "hex_in")]
    pub fingerprint: u64,
    pub first_line_len: usize,
    /// Offset just after the last record handed to the handler.
    pub offset: u64,
    /// Wall-clock time of the save (epoch ms), used to name gaps.
    pub saved_at_ms: i64,
    /// Name time of the file when it was a lumberjack backup; `None` when it
    /// was the active file. Tells which backups are newer on restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_time_ms: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u32,
    files: Vec<Entry>,
}

fn hex_out<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{value:016x}"))
}

fn hex_in<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let text = String::deserialize(d)?;
    u64::from_str_radix(&text, 16).map_err(serde::de::Error::custom)
}

/// Atomically replaces `path` with the given entries.
pub fn save(path: &Path, entries: &[Entry]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = write_synced(&tmp, &render(entries)?).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    // The rename is only durable once the directory is synced; failure here
    // (some filesystems refuse fsync on directories) is not worth an error.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn write_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(data)?;
    f.sync_all()
}

fn render(entries: &[Entry]) -> io::Result<Vec<u8>> {
    let state = StateFile {
        version: VERSION,
        files: entries.to_vec(),
    };
    let mut out = serde_json::to_vec(&state).map_err(io::Error::other)?;
    out.push(b'\n');
    Ok(out)
}

/// Loads the state file: `Ok(None)` if it does not exist, `Err` if it is
/// unreadable or malformed (the caller warns and uses the configured start).
pub fn load(path: &Path) -> io::Result<Option<Vec<Entry>>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    parse(&bytes).map(Some)
}

/// Parses a state file of any known version.
pub fn parse(bytes: &[u8]) -> io::Result<Vec<Entry>> {
    let malformed = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    let state: StateFile = serde_json::from_slice(bytes)
        .map_err(|e| malformed(format!("malformed state file ({e})")))?;
    match state.version {
        1 | VERSION => Ok(state.files),
        v => Err(malformed(format!(
            "state file version {v} is not one this auditq reads (1 or {VERSION})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entry {
        Entry {
            follow: PathBuf::from("/var/log/audit.log"),
            path: PathBuf::from("/var/log/audit-2024-01-01T00-00-00.000.log"),
            dev: 2049,
            ino: 123_456,
            fingerprint: 0xdead_beef_0123_4567,
            first_line_len: 812,
            offset: 1 << 40,
            saved_at_ms: 1_700_000_000_000,
            backup_time_ms: Some(1_600_000_000_000),
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(load(&path).unwrap(), None);
        let entries = vec![
            sample(),
            Entry {
                offset: 7,
                backup_time_ms: None,
                ..sample()
            },
        ];
        save(&path, &entries).unwrap();
        assert_eq!(load(&path).unwrap(), Some(entries));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"version\":2") && text.contains("\"deadbeef01234567\""));
    }

    #[test]
    fn version_1_files_are_still_read() {
        let v1 = r#"{"version":1,"files":[{"follow":"/var/log/audit.log","path":"/var/log/audit.log","dev":2049,"ino":7,"fingerprint":"00000000000000ff","first_line_len":3,"offset":12,"saved_at_ms":5}]}"#;
        let entries = parse(v1.as_bytes()).unwrap();
        assert_eq!(entries[0].fingerprint, 255);
        assert_eq!(entries[0].backup_time_ms, None);
    }

    #[test]
    fn atomic_write_leaves_no_temp_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "old").unwrap();
        save(&path, &[sample()]).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        assert!(load(&path).unwrap().is_some());
    }

    #[test]
    fn malformed_is_an_error() {
        for bad in [
            "",
            "{",
            "{\"version\":3,\"files\":[]}",
            "[1,2]",
            "{\"version\":1}",
            "{\"version\":1,\"files\":[{\"follow\":1}]}",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
