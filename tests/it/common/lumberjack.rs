//! The real lumberjack (the library kube-apiserver rotates its audit log with), driven by
//! `tests/lumberjack/writer.go`, built once per test process in GOPATH mode against
//! Debian's golang-gopkg-natefinch-lumberjack.v2-dev (scripts/test.sh installs it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Builds the Go writer once per test process (GOPATH mode against the
/// Debian lumberjack package).
pub fn writer_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lumberjack-writer");
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("writer");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lumberjack/writer.go");
        let hint = "install golang-go and golang-gopkg-natefinch-lumberjack.v2-dev, then run the test command from docs/follow.md: \
                    GO111MODULE=off GOPATH=/usr/share/gocode go build -o /tmp/writer tests/lumberjack/writer.go && cargo test --test follow_lumberjack";
        let out = Command::new("go")
            .args(["build", "-o"])
            .arg(&bin)
            .arg(&src)
            .env("GO111MODULE", "off")
            .env("GOPATH", "/usr/share/gocode")
            .env("GOCACHE", dir.join("gocache"))
            .output()
            .unwrap_or_else(|e| panic!("cannot run `go` ({e}): {hint}"));
        assert!(
            out.status.success(),
            "building the lumberjack writer failed: {}\n{hint}",
            String::from_utf8_lossy(&out.stderr)
        );
        bin
    })
}
