//! The real lumberjack (the library kube-apiserver rotates its audit log with), driven by
//! `tests/lumberjack/writer.go`, built once per test process in GOPATH mode against
//! Debian's golang-gopkg-natefinch-lumberjack.v2-dev (scripts/test.sh installs it).

use std::path::PathBuf;

/// The Go writer (built on first use).
pub fn writer_bin() -> PathBuf {
    super::go::build(
        "lumberjack-writer",
        "tests/lumberjack/writer.go",
        super::go::Deps::DebianGopath,
        "install golang-go and golang-gopkg-natefinch-lumberjack.v2-dev (scripts/test.sh does), \
         or run the whole test command: scripts/test.sh",
    )
}
