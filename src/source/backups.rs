//! Lumberjack backups beside an active audit log, in the order they were written.

use std::path::{Path, PathBuf};

/// The lumberjack backups of `active` (`audit-2026-01-02T03-04-05.000.log`, also gzipped),
/// oldest first by the time in their names. When a `.log` and its `.log.gz` both exist,
/// compression is under way and only the `.log` is complete, so only it is listed.
pub fn backups_of(active: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(file)) = (active.parent(), active.file_name().and_then(|f| f.to_str()))
    else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let (stem, ext) = match file.rfind('.') {
        Some(dot) if dot > 0 => (&file[..dot], &file[dot..]),
        _ => (file, ""),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(time) = backup_time(&name, stem, ext) else {
            continue;
        };
        let plain = name.strip_suffix(".gz").unwrap_or(&name);
        let is_gz = name.len() != plain.len();
        if is_gz && dir.join(plain).exists() {
            continue;
        }
        found.push((time.to_string(), dir.join(&name)));
    }
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

/// The `2006-01-02T15-04-05.000` part of a backup name of `stem` + `ext`, if it is one.
pub fn backup_time<'a>(name: &'a str, stem: &str, ext: &str) -> Option<&'a str> {
    let rest = name.strip_prefix(stem)?.strip_prefix('-')?;
    let rest = rest.strip_suffix(".gz").unwrap_or(rest);
    let time = rest.strip_suffix(ext)?;
    const SHAPE: &[u8] = b"dddd-dd-ddTdd-dd-dd.ddd";
    let ok = time.len() == SHAPE.len()
        && SHAPE.iter().zip(time.bytes()).all(|(s, t)| match s {
            b'd' => t.is_ascii_digit(),
            other => *other == t,
        });
    ok.then_some(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_backup_names() {
        let t = backup_time("audit-2026-01-02T03-04-05.000.log", "audit", ".log");
        assert_eq!(t, Some("2026-01-02T03-04-05.000"));
        assert!(backup_time("audit-2026-01-02T03-04-05.000.log.gz", "audit", ".log").is_some());
        assert!(backup_time("audit.log", "audit", ".log").is_none());
        assert!(backup_time("audit-x.log", "audit", ".log").is_none());
        assert!(backup_time("other-2026-01-02T03-04-05.000.log", "audit", ".log").is_none());
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
