//! Helpers shared by the integration tests: running the binary, test data paths, temp
//! files, test events; [`follow`] adds running `auditq -f` and handling log files.
#![allow(dead_code)]

pub mod follow;
pub mod go;
pub mod lumberjack;

use assert_cmd::Command;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The auditq binary cargo built for the tests.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_auditq")
}

/// The repository's `testdata` directory.
pub fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

/// The real corpus (`AUDITQ_CORPUS`, see README): tests that need it fail, never skip,
/// when it is not set.
pub fn corpus_dir() -> PathBuf {
    const MSG: &str = "set AUDITQ_CORPUS to the corpus directory (../shared/corpus); see README";
    let dir = PathBuf::from(std::env::var_os("AUDITQ_CORPUS").unwrap_or_else(|| panic!("{MSG}")));
    assert!(
        dir.is_dir(),
        "{MSG} (AUDITQ_CORPUS={} is not a directory)",
        dir.display()
    );
    dir
}

/// A file of the corpus, which must exist.
pub fn corpus(rel: &str) -> PathBuf {
    let p = corpus_dir().join(rel);
    assert!(p.is_file(), "corpus file missing: {}", p.display());
    p
}

/// Every file of the corpus, in sorted path order.
pub fn corpus_files() -> Vec<PathBuf> {
    files_under(&corpus_dir())
}

/// Every file below `dir` (recursively), in sorted path order.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    files
}

/// Every line of the corpus's files that is an audit.k8s.io/v1 Event, with its value
/// (files that are not text, and other lines, are passed over).
pub fn corpus_v1_events() -> Vec<(String, serde_json::Value)> {
    let mut events = Vec::new();
    for path in corpus_files() {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for line in text.lines() {
            if let Ok(event) = serde_json::from_str::<serde_json::Value>(line)
                && event["kind"] == "Event"
                && event["apiVersion"] == "audit.k8s.io/v1"
            {
                events.push((line.to_string(), event));
            }
        }
    }
    events
}

/// Reads `from` (a child's stdout) to its end in a thread, so that the child never
/// blocks on a full pipe; join the handle for the text.
pub fn read_in_background(
    mut from: impl std::io::Read + Send + 'static,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        from.read_to_string(&mut text).unwrap();
        text
    })
}

/// A path as a `String` argument.
pub fn arg(path: &Path) -> String {
    path.to_str().expect("UTF-8 path").to_string()
}

/// The output of one run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stdout_bytes: Vec<u8>,
    pub stderr: String,
}

impl Run {
    /// Stdout lines.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// Stdout parsed as the number printed by `-c`.
    pub fn count(&self) -> u64 {
        self.stdout.trim().parse().unwrap_or_else(|_| {
            panic!(
                "expected a count on stdout, got {:?} (stderr {:?})",
                self.stdout, self.stderr
            )
        })
    }

    /// Panics unless stderr has no panic message and the exit code is one of `codes`.
    pub fn assert_sane(&self, codes: &[i32]) -> &Self {
        assert!(
            !self.stderr.contains("panicked"),
            "panic in stderr: {}",
            self.stderr
        );
        assert!(
            codes.contains(&self.code),
            "exit code {} not in {codes:?}; stderr: {}",
            self.code,
            self.stderr
        );
        self
    }
}

/// A command for the binary with colours off and NO_COLOR cleared.
pub fn cmd() -> Command {
    let mut c = Command::cargo_bin("auditq").expect("auditq binary");
    c.env_remove("NO_COLOR");
    c
}

/// Runs auditq with `args` and optional stdin.
pub fn run_with<I, S>(args: I, stdin: Option<&[u8]>) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut c = cmd();
    c.args(args);
    if let Some(input) = stdin {
        c.write_stdin(input.to_vec());
    }
    let out = c.output().expect("run auditq");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stdout_bytes: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs auditq with `args` (no stdin).
pub fn run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    run_with(args, Some(b""))
}

/// `auditq -c [query] -- file`: the number of matches (exit 0 or 1 required).
pub fn count(query: &[&str], file: &Path) -> u64 {
    let mut args: Vec<String> = vec!["-c".into()];
    args.extend(query.iter().map(|s| s.to_string()));
    args.push("--".into());
    args.push(arg(file));
    let r = run(&args);
    r.assert_sane(&[0, 1]);
    r.count()
}

/// Writes `content` to a fresh temp file with the given name; keep the dir alive.
pub fn temp_file(name: &str, content: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    let mut f = std::fs::File::create(&path).expect("create temp file");
    f.write_all(content).expect("write temp file");
    (dir, path)
}

/// A compact audit.k8s.io/v1 event line (no newline) with this auditID and verb, and
/// `rest` (JSON members, each starting with `,`) after them.
pub fn event_json(audit_id: &str, verb: &str, rest: &str) -> String {
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"{audit_id}","verb":"{verb}"{rest}}}"#
    )
}

/// A realistic compact v1 audit event line (no newline).
pub fn event_line(
    verb: &str,
    resource: &str,
    user: &str,
    ns: &str,
    name: &str,
    code: u16,
) -> String {
    event_json(
        &format!("id-{verb}-{name}"),
        verb,
        &format!(
            r#","level":"Metadata","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/{ns}/{resource}/{name}","user":{{"username":"{user}","groups":["system:authenticated"]}},"sourceIPs":["10.0.0.1"],"userAgent":"test","objectRef":{{"resource":"{resource}","namespace":"{ns}","name":"{name}","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":{code}}},"requestReceivedTimestamp":"2026-01-05T10:00:00.000001Z","stageTimestamp":"2026-01-05T10:00:00.000002Z""#
        ),
    )
}

/// Events inside envelopes (docs/formats.md), read with serde_json alone: AKS records
/// (`properties.log` a JSON string or object, category kube-audit or kube-audit-admin)
/// alone or in `records`, CloudWatch events (`message`) alone or in `events`/`logEvents`.
pub fn envelope_events_in(v: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    let inner = |text_or_object: &serde_json::Value| -> Option<serde_json::Value> {
        let event = match text_or_object {
            serde_json::Value::String(text) => {
                serde_json::from_str::<serde_json::Value>(text).ok()?
            }
            other => other.clone(),
        };
        (event["kind"] == "Event").then_some(event)
    };
    for batch in ["records", "events", "logEvents"] {
        if let Some(items) = v[batch].as_array() {
            for item in items {
                envelope_events_in(item, out);
            }
            return;
        }
    }
    if matches!(
        v["category"].as_str(),
        Some("kube-audit" | "kube-audit-admin")
    ) {
        out.extend(inner(&v["properties"]["log"]));
    } else if v.get("message").is_some() {
        out.extend(inner(&v["message"]));
    }
}
