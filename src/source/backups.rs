//! Lumberjack backups beside an active audit log, in the order they were written.

use std::path::{Path, PathBuf};

/// The lumberjack backups of `active` (`audit-2026-01-02T03-04-05.000.log`, also gzipped),
/// oldest first by the time in their names. When a `.log` and its `.log.gz` both exist,
/// compression is under way and only the `.log` is complete, so only it is listed.
/// (Follow mode and `--backups` share this listing, see [`crate::follow::backups`].)
pub fn backups_of(active: &Path) -> Vec<PathBuf> {
    crate::follow::backups::LogName::new(active)
        .list()
        .map(|list| list.into_iter().map(|b| b.path).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

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
