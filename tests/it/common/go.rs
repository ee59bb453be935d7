//! The Go programs the tests drive (the real lumberjack writer, kube-apiserver's webhook
//! sender, the apiserver's policy code), each built once per test process into the
//! target directory; Go's own build cache makes a later process's build fast.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// How the program finds its dependencies.
#[derive(Clone, Copy)]
pub enum Deps {
    /// Module mode with this `-mod=` (go.mod and go.sum committed beside the program).
    Module(&'static str),
    /// GOPATH mode against Debian's Go packages in /usr/share/gocode (no download).
    DebianGopath,
}

/// The `go` command: the toolchain in /usr/local/go when there is one (the module-mode
/// programs need a recent Go), else the one on PATH.
fn go() -> &'static str {
    if Path::new("/usr/local/go/bin/go").exists() {
        "/usr/local/go/bin/go"
    } else {
        "go"
    }
}

/// Builds `src` (relative to the repository: a package directory, or one `.go` file) as
/// `name` in the target directory, once per test process, and returns the binary;
/// panics with `hint` (what to install) when Go or the build fails.
pub fn build(name: &str, src: &str, deps: Deps, hint: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    // Held during the build: tests that need the same program wait for one build.
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(bin) = built.get(name) {
        return bin.clone();
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("go")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join(name);
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(src);
    let mut cmd = Command::new(go());
    cmd.args(["build", "-o"]).arg(&bin);
    if src.is_dir() {
        cmd.arg(".").current_dir(&src);
    } else {
        cmd.arg(&src);
    }
    match deps {
        Deps::Module(m) => cmd
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", format!("-mod={m}")),
        Deps::DebianGopath => cmd
            .env("GO111MODULE", "off")
            .env("GOPATH", "/usr/share/gocode")
            .env("GOCACHE", dir.join("gocache")),
    };
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{}` ({e}): {hint}", go()));
    assert!(
        out.status.success(),
        "building {} failed: {}\n{hint}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    built.insert(name.to_string(), bin.clone());
    bin
}
