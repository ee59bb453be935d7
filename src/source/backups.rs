//! Lumberjack backups: their names, their order, and listing them. Below both search
//! (`--backups`) and follow mode, which share this one module.
//!
//! Lumberjack v2 renames `<prefix><ext>` to `<prefix>-2006-01-02T15-04-05.000<ext>`
//! (UTC, rotation time) and may later gzip it to `...<ext>.gz`. While it
//! compresses, a complete `.log` and a partial `.gz` coexist, so the `.log`
//! always wins. Backups are ordered by the time in their *name*: mtimes change
//! when a backup is compressed, names do not.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Milliseconds since the Unix epoch (UTC), as encoded in a backup name.
pub type NameTime = i64;

/// Where a followed file and its backups live, split the way lumberjack
/// splits it (`filepath.Ext`: the suffix from the last dot of the base name).
#[derive(Debug, Clone)]
pub struct LogName {
    pub active: PathBuf,
    pub dir: PathBuf,
    prefix: Vec<u8>,
    ext: Vec<u8>,
}

/// One backup file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub path: PathBuf,
    pub time: NameTime,
    pub compressed: bool,
}

impl LogName {
    pub fn new(active: &Path) -> LogName {
        let dir = match active.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base = active.file_name().map(OsStr::as_bytes).unwrap_or(b"");
        let dot = base.iter().rposition(|&b| b == b'.').unwrap_or(base.len());
        LogName {
            active: active.to_path_buf(),
            dir,
            prefix: base[..dot].to_vec(),
            ext: base[dot..].to_vec(),
        }
    }

    /// Parses `<prefix>-YYYY-MM-DDTHH-MM-SS.mmm<ext>(.gz)?`; `None` for any
    /// other name.
    pub fn parse(&self, name: &[u8]) -> Option<(NameTime, bool)> {
        let rest = name
            .strip_prefix(self.prefix.as_slice())?
            .strip_prefix(b"-")?;
        let (rest, compressed) = match rest.strip_suffix(b".gz") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let stamp = rest.strip_suffix(self.ext.as_slice())?;
        Some((parse_stamp(stamp)?, compressed))
    }

    /// The name lumberjack gives the backup made at `time` (UTC):
    /// `<prefix>-YYYY-MM-DDTHH-MM-SS.mmm<ext>` beside the active file.
    pub fn backup_path(&self, time: NameTime) -> PathBuf {
        let stamp = chrono::DateTime::from_timestamp_millis(time)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H-%M-%S%.3f");
        let mut name = self.prefix.clone();
        name.extend_from_slice(format!("-{stamp}").as_bytes());
        name.extend_from_slice(&self.ext);
        self.dir.join(OsStr::from_bytes(&name))
    }

    /// Lists backups sorted by name time; where both `X.log` and `X.log.gz`
    /// exist only the `.log` is kept (the `.gz` may be half written).
    pub fn list(&self) -> io::Result<Vec<Backup>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name();
            if let Some((time, compressed)) = self.parse(name.as_bytes()) {
                out.push(Backup {
                    path: entry.path(),
                    time,
                    compressed,
                });
            }
        }
        out.sort_by_key(|b| (b.time, b.compressed));
        out.dedup_by(|later, first| later.time == first.time);
        Ok(out)
    }
}

/// Strict parse of `2006-01-02T15-04-05.000`: exactly lumberjack's layout, so
/// unrelated files that merely share the prefix are ignored.
pub(super) fn parse_stamp(stamp: &[u8]) -> Option<NameTime> {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd-dd-dd.ddd";
    if stamp.len() != SHAPE.len() {
        return None;
    }
    for (&c, &s) in stamp.iter().zip(SHAPE) {
        let ok = if s == b'd' {
            c.is_ascii_digit()
        } else {
            c == s
        };
        if !ok {
            return None;
        }
    }
    let text = std::str::from_utf8(stamp).ok()?;
    let t = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H-%M-%S%.3f").ok()?;
    Some(t.and_utc().timestamp_millis())
}

/// Renders a name time (or any epoch-ms instant) as RFC 3339 UTC for warnings.
pub fn format_time(ms: NameTime) -> String {
    crate::timefmt::format_nanos(i128::from(ms) * 1_000_000)
}

/// Current wall-clock time in epoch ms.
pub fn now_ms() -> NameTime {
    chrono::Utc::now().timestamp_millis()
}

/// The lumberjack backups of `active` (`audit-2026-01-02T03-04-05.000.log`, also gzipped),
/// oldest first by the time in their names. When a `.log` and its `.log.gz` both exist,
/// compression is under way and only the `.log` is complete, so only it is listed.
/// (Follow mode and `--backups` share this listing.)
pub fn backups_of(active: &Path) -> Vec<PathBuf> {
    LogName::new(active)
        .list()
        .map(|list| list.into_iter().map(|b| b.path).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> LogName {
        LogName::new(Path::new("/var/log/audit.log"))
    }

    #[test]
    fn splits_like_lumberjack() {
        let n = name();
        assert_eq!(n.dir, Path::new("/var/log"));
        assert!(n.parse(b"audit-2024-01-01T12-00-00.000.log").is_some());
        let bare = LogName::new(Path::new("audit"));
        assert_eq!(bare.dir, Path::new("."));
        assert!(bare.parse(b"audit-2024-01-01T12-00-00.000").is_some());
    }

    #[test]
    fn parses_time_and_compression() {
        let n = name();
        let (t, gz) = n.parse(b"audit-2024-01-01T12-00-00.123.log.gz").unwrap();
        assert!(gz);
        assert_eq!(format_time(t), "2024-01-01T12:00:00.123Z");
        let (_, gz) = n.parse(b"audit-2024-01-01T12-00-00.123.log").unwrap();
        assert!(!gz);
    }

    #[test]
    fn backup_path_is_what_parse_reads() {
        let n = name();
        let path = n.backup_path(1_767_225_845_123);
        assert_eq!(
            path.file_name().unwrap(),
            "audit-2026-01-01T00-04-05.123.log"
        );
        assert_eq!(
            n.parse(path.file_name().unwrap().as_bytes()),
            Some((1_767_225_845_123, false))
        );
    }

    #[test]
    fn rejects_other_names() {
        let n = name();
        for bad in [
            &b"audit.log"[..],
            b"audit-2024-01-01T12-00-00.log",
            b"audit-2024-01-01T12-00-00.000.txt",
            b"audit-2024-01-01 12-00-00.000.log",
            b"other-2024-01-01T12-00-00.000.log",
            b"audit-2024-13-01T12-00-00.000.log",
            b"audit-2024-01-01T12-00-00.000.log.gz.tmp",
        ] {
            assert_eq!(n.parse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn lists_sorted_and_prefers_plain() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "audit-2024-01-02T00-00-00.000.log",
            "audit-2024-01-01T00-00-00.000.log.gz",
            "audit-2024-01-02T00-00-00.000.log.gz",
            "audit-2023-12-31T23-59-59.999.log",
            "audit.log",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(f), b"x\n").unwrap();
        }
        let n = LogName::new(&dir.path().join("audit.log"));
        let got: Vec<String> = n
            .list()
            .unwrap()
            .iter()
            .map(|b| b.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            got,
            [
                "audit-2023-12-31T23-59-59.999.log",
                "audit-2024-01-01T00-00-00.000.log.gz",
                "audit-2024-01-02T00-00-00.000.log",
            ]
        );
    }

    #[test]
    fn lists_backups_oldest_first_preferring_plain_over_partial_gz() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "audit.log",
            "audit-2026-01-02T03-04-05.000.log.gz",
            "audit-2026-01-01T00-00-00.000.log.gz",
            "audit-2026-01-03T00-00-00.000.log",
            "audit-2026-01-03T00-00-00.000.log.gz",
            "unrelated.log",
        ];
        for name in names {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let found: Vec<String> = backups_of(&dir.path().join("audit.log"))
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            found,
            [
                "audit-2026-01-01T00-00-00.000.log.gz",
                "audit-2026-01-02T03-04-05.000.log.gz",
                "audit-2026-01-03T00-00-00.000.log"
            ]
        );
    }
}
