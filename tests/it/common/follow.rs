//! Shared helpers for the follow-mode integration tests: spawn the binary,
//! collect its stdout lines in a thread, wait with deadlines, and
//! manipulate log files the way lumberjack (or an operator) would.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const DEADLINE: Duration = Duration::from_secs(20);

/// How long no further line must arrive after the expected ones (to catch duplicates).
pub const QUIET: Duration = Duration::from_millis(600);

/// A fresh temp dir and the path of `audit.log` in it (not created); keep the dir alive.
pub fn log_dir() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("audit.log");
    (d, p)
}

/// A path as a `&str` argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A running `auditq -f` with its output collected in the background.
pub struct Follower {
    pub child: Child,
    rx: Receiver<Vec<u8>>,
    pub lines: Vec<Vec<u8>>,
    stderr: Arc<Mutex<String>>,
}

pub use super::bin;

impl Follower {
    /// Spawns `auditq -f ARGS...`; pass paths after `--`.
    pub fn spawn(args: &[&str]) -> Follower {
        Self::spawn_with(args, Stdio::null())
    }

    /// Spawns `auditq -f ARGS --from-start -- log`.
    pub fn from_start(log: &Path, args: &[&str]) -> Follower {
        let mut all = args.to_vec();
        all.extend(["--from-start", "--", s(log)]);
        Self::spawn(&all)
    }

    /// Writes events `1..=n` to `log`, then [`Follower::from_start`] and waits until it
    /// printed them and went idle: a follower that has caught up.
    pub fn caught_up(log: &Path, n: u64, args: &[&str]) -> Follower {
        append(log, &events(1..=n));
        let mut f = Self::from_start(log, args);
        f.wait_lines(n as usize);
        f.settle();
        f
    }

    pub fn spawn_with(args: &[&str], stdin: impl Into<Stdio>) -> Follower {
        let mut child = Command::new(bin())
            .arg("-f")
            .args(args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn auditq");
        let (tx, rx) = channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut r = BufReader::new(out);
            loop {
                let mut line = Vec::new();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut r = BufReader::new(err);
            let mut buf = [0u8; 4096];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Follower {
            child,
            rx,
            lines: Vec::new(),
            stderr,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until `n` lines in total were printed; panics after the deadline.
    pub fn wait_lines(&mut self, n: usize) -> &[Vec<u8>] {
        self.wait_lines_for(n, DEADLINE)
    }

    pub fn wait_lines_for(&mut self, n: usize, limit: Duration) -> &[Vec<u8>] {
        let deadline = Instant::now() + limit;
        while self.lines.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(l) => self.lines.push(l),
                Err(RecvTimeoutError::Timeout) => panic!(
                    "timeout: got {} of {n} lines: {:?}\nstderr: {}",
                    self.lines.len(),
                    self.lines.iter().map(|l| short(l)).collect::<Vec<_>>(),
                    self.stderr()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "auditq exited: got {} of {n} lines\nstderr: {}",
                    self.lines.len(),
                    self.stderr()
                ),
            }
        }
        &self.lines
    }

    /// Asserts that no further line arrives within `d` (used after the
    /// expected output was received, to catch duplicates).
    pub fn expect_quiet(&mut self, d: Duration) {
        if let Ok(l) = self.rx.recv_timeout(d) {
            panic!(
                "unexpected extra line: {:?}\nstderr: {}",
                String::from_utf8_lossy(&l),
                self.stderr()
            );
        }
    }

    /// Waits until the output is the events `want`, in order, then asserts that nothing
    /// more arrives within [`QUIET`].
    pub fn expect_exactly(&mut self, want: std::ops::RangeInclusive<u64>) {
        let want = range(want);
        let got = seqs(self.wait_lines(want.len()));
        assert_eq!(got, want, "stderr: {}", self.stderr());
        self.expect_quiet(QUIET);
    }

    /// Waits until stderr contains `pat`.
    pub fn wait_stderr(&self, pat: &str) {
        let deadline = Instant::now() + DEADLINE;
        while !self.stderr().contains(pat) {
            assert!(
                Instant::now() < deadline,
                "stderr never contained {pat:?}: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the process holds `path` open (it is positioned and its
    /// watch is set up: the watch is created before any file is opened).
    pub fn wait_open(&self, path: &Path) {
        let want = std::fs::canonicalize(path).unwrap();
        let deadline = Instant::now() + DEADLINE;
        loop {
            let dir = format!("/proc/{}/fd", self.pid());
            let open = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| std::fs::read_link(e.path()).is_ok_and(|t| t == want));
            if open {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "auditq never opened {}",
                path.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({sig})");
    }

    /// SIGSTOP, and wait until the kernel reports the process stopped.
    /// Waits until the follower's main thread sleeps (waiting for a change, between two
    /// looks), so that [`Follower::pause`] cannot stop it between its truncation check
    /// and the read that follows it: the window a SIGSTOP could otherwise hold open for
    /// as long as a test likes, where a real copytruncate has microseconds.
    pub fn settle(&self) {
        let deadline = Instant::now() + DEADLINE;
        let mut sleeping = 0;
        while sleeping < 3 {
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
            let state = stat.rsplit(')').next().unwrap().trim_start().chars().next();
            sleeping = if state == Some('S') { sleeping + 1 } else { 0 };
            assert!(Instant::now() < deadline, "the follower never went idle");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
        let deadline = Instant::now() + DEADLINE;
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
            let state = stat.rsplit(')').next().unwrap().trim_start().chars().next();
            if state == Some('T') {
                return;
            }
            assert!(Instant::now() < deadline, "process never stopped");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    /// SIGTERM, wait for exit, collect the remaining output.
    pub fn terminate(mut self) -> (Vec<Vec<u8>>, ExitStatus, String) {
        self.signal(libc::SIGTERM);
        self.finish()
    }

    pub fn kill9(mut self) -> (Vec<Vec<u8>>, String) {
        self.signal(libc::SIGKILL);
        let (lines, _, err) = self.finish();
        (lines, err)
    }

    /// Waits for exit (up to the deadline) and drains the output.
    pub fn finish(&mut self) -> (Vec<Vec<u8>>, ExitStatus, String) {
        let deadline = Instant::now() + DEADLINE;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "auditq did not exit");
            std::thread::sleep(Duration::from_millis(10));
        };
        while let Ok(l) = self.rx.recv_timeout(Duration::from_secs(5)) {
            self.lines.push(l);
        }
        std::thread::sleep(Duration::from_millis(20));
        (std::mem::take(&mut self.lines), status, self.stderr())
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An output line shown by its sequence number when it has one.
fn short(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(line);
    match s.find("-4000-8000-") {
        Some(i) if s.len() >= i + 23 => s[i + 11..i + 23].trim_start_matches('0').to_string(),
        _ => s.chars().take(60).collect(),
    }
}

/// Test event number `n`: a JSON line with a unique auditID.
pub fn event(n: u64) -> String {
    super::event_json(
        &format!("00000000-0000-4000-8000-{n:012}"),
        if n % 10 == 0 { "create" } else { "get" },
        &format!(",\"n\":{n}"),
    )
}

/// Lines for events `range`, each ending in '\n'.
pub fn events(range: std::ops::RangeInclusive<u64>) -> String {
    range.map(|n| event(n) + "\n").collect()
}

/// Appends to a file (creating it), in one write.
pub fn append(path: &Path, data: &str) {
    append_bytes(path, data.as_bytes());
}

pub fn append_bytes(path: &Path, data: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(data).unwrap();
}

/// The sequence number in an output line (from the auditID).
pub fn seq(line: &[u8]) -> u64 {
    let s = String::from_utf8_lossy(line);
    let i = s
        .find("-4000-8000-")
        .unwrap_or_else(|| panic!("no auditID in {s}"));
    s[i + 11..i + 23].parse().unwrap()
}

pub fn seqs(lines: &[Vec<u8>]) -> Vec<u64> {
    lines.iter().map(|l| seq(l)).collect()
}

pub fn range(r: std::ops::RangeInclusive<u64>) -> Vec<u64> {
    r.collect()
}

/// A lumberjack backup name for `active` at `now + offset_ms` (UTC).
pub fn backup_name(active: &Path, offset_ms: i64) -> PathBuf {
    let t = chrono::Utc::now() + chrono::Duration::milliseconds(offset_ms);
    let stem = active.file_stem().unwrap().to_string_lossy();
    let ext = active
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    active.with_file_name(format!("{stem}-{}{ext}", t.format("%Y-%m-%dT%H-%M-%S%.3f")))
}

/// Lumberjack rotation: rename to a backup name, create an empty active file.
pub fn rotate(active: &Path, offset_ms: i64) -> PathBuf {
    let b = backup_name(active, offset_ms);
    std::fs::rename(active, &b).unwrap();
    std::fs::File::create(active).unwrap();
    b
}

/// Gzips `path` to `path.gz` and removes `path` (lumberjack's compress).
pub fn gzip(path: &Path) -> PathBuf {
    let data = std::fs::read(path).unwrap();
    let gz = PathBuf::from(format!("{}.gz", path.display()));
    write_gz(&gz, &data);
    std::fs::remove_file(path).unwrap();
    gz
}

pub fn write_gz(path: &Path, data: &[u8]) {
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(data).unwrap();
    enc.finish().unwrap();
}
