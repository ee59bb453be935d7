//! Follow mode against the real lumberjack v2 (the library kube-apiserver
//! uses), driven by `tests/lumberjack/writer.go`: MaxSize 1 MiB, 30+
//! rotations, with and without compression, pause, kill -9 and SIGTERM
//! restarts. Every sequence number must appear exactly once, in order.
//!
//! Needs Go and Debian's golang-gopkg-natefinch-lumberjack.v2-dev; see
//! docs/follow.md ("Running the tests").
//!
//! A test binary of its own, not a module of `tests/it` (docs/testing.md): the writer
//! runs at full speed with MaxBackups, so the follower must keep up or lose pruned
//! backups; cargo runs test binaries one after another, so these tests (also one at a
//! time, [`serial`]) never share the two cores with the rest of the suite.

#[path = "it/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use common::follow::*;
use common::lumberjack::writer_bin;

/// Events per test: about 34 MB at ~1 KB each, i.e. 30+ rotations.
const COUNT: u64 = 34_000;
const SIZE: u64 = 1_100;
const RATE: u64 = 6_000;

/// The tests are CPU-heavy on a 2-core box; running them one at a time
/// keeps the follower from lagging behind pruning because of the others.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

struct Writer {
    backups: u32,
    compress: bool,
    start: u64,
    count: u64,
}

impl Writer {
    fn spawn(&self, log: &Path) -> Child {
        Command::new(writer_bin())
            .arg("-path")
            .arg(log)
            .args(["-count", &self.count.to_string()])
            .args(["-maxsize", "1"])
            .args(["-backups", &self.backups.to_string()])
            .arg(format!("-compress={}", self.compress))
            .args(["-rate", &RATE.to_string()])
            .args(["-size", &SIZE.to_string()])
            .args(["-start", &self.start.to_string()])
            .spawn()
            .expect("spawn writer")
    }
}

fn wait_ok(mut c: Child) {
    assert!(c.wait().unwrap().success(), "writer failed");
}

/// Waits until the follower's inotify watch exists, so it is ready before
/// the writer creates the file.
fn wait_watching(f: &Follower) {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let dir = format!("/proc/{}/fd", f.pid());
        let watching = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                std::fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy().contains("inotify"))
            });
        if watching {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "follower never set up its watch"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn full_run(compress: bool) {
    let _g = serial();
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("audit.log");
    let lg = log.to_str().unwrap();
    let mut all = Follower::spawn(&["--from-start", "--", lg]);
    let mut creates = Follower::spawn(&["--from-start", "verb=create", "--", lg]);
    wait_watching(&all);
    wait_watching(&creates);
    let w = Writer {
        backups: 3,
        compress,
        start: 0,
        count: COUNT,
    }
    .spawn(&log);
    wait_ok(w);
    let got = seqs(all.wait_lines_for(COUNT as usize, Duration::from_secs(60)));
    assert_eq!(got, range(0..=COUNT - 1));
    let total: usize = all.lines.iter().map(Vec::len).sum();
    assert!(
        total > 30 << 20,
        "only {total} bytes: fewer than 30 rotations"
    );
    let c = seqs(creates.wait_lines((COUNT / 10) as usize));
    assert_eq!(c, (0..COUNT).step_by(10).collect::<Vec<_>>());
    all.expect_quiet(Duration::from_millis(500));
    check_backups(&log, compress);
    let err = all.stderr();
    assert!(err.trim().is_empty(), "unexpected warnings: {err}");
}

/// Scenario 3: backups are at most MaxSize and end with '\n' (lumberjack
/// never splits an event across files).
fn check_backups(log: &Path, compress: bool) {
    let mut n = 0;
    for e in std::fs::read_dir(log.parent().unwrap()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name == "audit.log" || !name.starts_with("audit-") {
            continue;
        }
        n += 1;
        let data = if name.ends_with(".gz") {
            let mut v = Vec::new();
            use std::io::Read;
            flate2::read::MultiGzDecoder::new(std::fs::File::open(&p).unwrap())
                .read_to_end(&mut v)
                .unwrap();
            v
        } else {
            assert!(!compress, "uncompressed backup {name} left behind");
            std::fs::read(&p).unwrap()
        };
        assert!(data.len() <= 1 << 20, "{name} is {} bytes", data.len());
        assert_eq!(
            data.last(),
            Some(&b'\n'),
            "{name} does not end with a newline"
        );
    }
    assert_eq!(n, 3, "MaxBackups=3 should leave 3 backups");
}

#[test]
fn scenario_02_lumberjack_rotation_every_event_once() {
    full_run(false);
}

#[test]
fn scenario_02_lumberjack_compressed_every_event_once() {
    full_run(true);
}

#[test]
fn scenario_05_lumberjack_sigstop_across_rotations() {
    let _g = serial();
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("audit.log");
    let mut f = Follower::spawn(&["--from-start", "--", log.to_str().unwrap()]);
    wait_watching(&f);
    let w = Writer {
        backups: 100,
        compress: true,
        start: 0,
        count: COUNT,
    }
    .spawn(&log);
    f.wait_lines(1000);
    f.pause();
    // Stopped for ~8 rotations (one every ~160 ms at this rate).
    std::thread::sleep(Duration::from_millis(1300));
    f.resume();
    wait_ok(w);
    let got = seqs(f.wait_lines_for(COUNT as usize, Duration::from_secs(60)));
    assert_eq!(got, range(0..=COUNT - 1));
    f.expect_quiet(Duration::from_millis(500));
}

/// Starts a follower with `--state`, stops it with `how` after 8000 lines
/// while the writer keeps going, restarts it, and returns (first run,
/// second run) sequence numbers.
fn restart_run(how: fn(Follower) -> Vec<Vec<u8>>) -> (Vec<u64>, Vec<u64>) {
    let _g = serial();
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("audit.log");
    let state = d.path().join("state.json");
    let args = [
        "--from-start",
        "--state",
        state.to_str().unwrap(),
        "--",
        log.to_str().unwrap(),
    ];
    let mut a = Follower::spawn(&args);
    wait_watching(&a);
    let w = Writer {
        backups: 100,
        compress: true,
        start: 0,
        count: COUNT,
    }
    .spawn(&log);
    a.wait_lines(8000);
    let first = seqs(&how(a));
    // Down for a few rotations.
    std::thread::sleep(Duration::from_millis(700));
    let mut b = Follower::spawn(&args);
    wait_ok(w);
    let last = COUNT - 1;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let n = b.lines.len();
        b.wait_lines(n + 1);
        if seq(b.lines.last().unwrap()) == last {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "second run never reached {last}"
        );
    }
    b.expect_quiet(Duration::from_millis(500));
    let second = seqs(&b.lines);
    assert_eq!(
        first,
        range(0..=first.len() as u64 - 1),
        "first run not contiguous"
    );
    let b0 = second[0];
    assert_eq!(second, range(b0..=last), "second run not contiguous");
    assert!(
        b0 <= first.len() as u64,
        "lost events {}..{b0}",
        first.len()
    );
    (first, second)
}

#[test]
fn scenario_28_lumberjack_kill9_restart_with_state() {
    let (first, second) = restart_run(|f| f.kill9().0);
    let repeated = first.len() as u64 - second[0];
    // Only the last checkpoint interval (100 ms, ~600 events at this rate,
    // plus one read batch) may repeat.
    assert!(repeated <= 2000, "{repeated} events repeated after kill -9");
    eprintln!("kill -9: {repeated} events repeated");
}

#[test]
fn scenario_28_lumberjack_sigterm_restart_exact() {
    let (first, second) = restart_run(|f| {
        let (lines, status, _) = f.terminate();
        assert!(status.success());
        lines
    });
    assert_eq!(
        second[0],
        first.len() as u64,
        "SIGTERM restart must neither lose nor repeat"
    );
}

/// Scenario 12 with the real writer: the follower is stopped for far more
/// than MaxBackups rotations, so unread backups are pruned. Expect one gap,
/// reported on stderr with a time range, and no duplicates or reordering.
#[test]
fn scenario_12_lumberjack_sigstop_beyond_maxbackups() {
    let _g = serial();
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("audit.log");
    let mut f = Follower::spawn(&["--from-start", "--", log.to_str().unwrap()]);
    wait_watching(&f);
    let count = 20_000;
    let w = Writer {
        backups: 3,
        compress: false,
        start: 0,
        count,
    }
    .spawn(&log);
    f.wait_lines(1000);
    f.pause();
    // ~12 rotations at ~6 MB/s, MaxBackups=3: some backups are pruned unread.
    std::thread::sleep(Duration::from_millis(2000));
    f.resume();
    wait_ok(w);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while f.lines.last().map(|l| seq(l)) != Some(count - 1) {
        let n = f.lines.len();
        f.wait_lines(n + 1);
        assert!(
            std::time::Instant::now() < deadline,
            "never reached the last event"
        );
    }
    f.expect_quiet(Duration::from_millis(500));
    let got = seqs(&f.lines);
    let gaps: Vec<(u64, u64)> = got
        .windows(2)
        .filter(|w| w[1] != w[0] + 1)
        .map(|w| (w[0], w[1]))
        .collect();
    assert_eq!(got[0], 0);
    assert_eq!(gaps.len(), 1, "expected exactly one gap, got {gaps:?}");
    assert!(
        gaps[0].1 > gaps[0].0,
        "out of order or duplicated: {gaps:?}"
    );
    let err = f.stderr();
    assert!(err.contains("missing"), "gap not reported: {err}");
    eprintln!("gap {:?} reported as: {err}", gaps[0]);
}

/// Scenario 4: an event larger than MaxSize is refused by lumberjack (the
/// apiserver's blocking mode swallows the error): nothing of it reaches the
/// file, and the stream around it is intact.
#[test]
fn scenario_04_lumberjack_oversize_event_dropped() {
    let _g = serial();
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("audit.log");
    let mut f = Follower::spawn(&["--from-start", "--", log.to_str().unwrap()]);
    wait_watching(&f);
    let out = Command::new(writer_bin())
        .arg("-path")
        .arg(&log)
        .args(["-count", "3000", "-maxsize", "1", "-backups", "10"])
        .args(["-rate", "0", "-size", "1000", "-oversize-every", "1000"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: Vec<u64> = (0..3000).filter(|n| n % 1000 != 0).collect();
    assert_eq!(seqs(f.wait_lines(want.len())), want);
    f.expect_quiet(Duration::from_millis(500));
    assert_eq!(f.stderr(), "");
}

/// Regression for the `lossless` benchmark with 64 events per Write, as
/// fast as the writer goes (~1 MiB rotations every few ms, MaxBackups 3).
/// Every line at most once and in order; a loss is allowed only when the
/// follower fell behind pruning, and then stderr must say so.
#[test]
fn lumberjack_batch64_max_speed_never_repeats() {
    let _g = serial();
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("audit.log");
    let mut f = Follower::spawn(&["--from-start", "--", log.to_str().unwrap()]);
    wait_watching(&f);
    let count: u64 = 300_000;
    let w = Command::new(writer_bin())
        .arg("-path")
        .arg(&log)
        .args(["-count", &count.to_string()])
        .args(["-maxsize", "1", "-backups", "3", "-rate", "0"])
        .args(["-size", "1000", "-batch", "64"])
        .spawn()
        .expect("spawn writer");
    wait_ok(w);
    // The last event is in the active file, which is never pruned.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while f.lines.last().map(|l| seq(l)) != Some(count - 1) {
        let n = f.lines.len();
        f.wait_lines(n + 1);
        assert!(
            std::time::Instant::now() < deadline,
            "never reached the last event"
        );
    }
    f.expect_quiet(Duration::from_millis(500));
    let got = seqs(&f.lines);
    let back: Vec<(u64, u64)> = got
        .windows(2)
        .filter(|w| w[1] <= w[0])
        .map(|w| (w[0], w[1]))
        .take(5)
        .collect();
    assert!(back.is_empty(), "repeated or out of order: {back:?}");
    let err = f.stderr();
    if (got.len() as u64) < count {
        assert!(
            err.contains("missing"),
            "{} events lost without a gap warning: {err}",
            count - got.len() as u64
        );
    }
    eprintln!("{} of {count} events; stderr: {err}", got.len());
}

/// What the `lossless` benchmark actually measured when it reported "repeated"
/// lines: it reused one directory per rate, so `--from-start` found the
/// previous run's backups and active file (lumberjack appends to it) and
/// correctly printed them first. Their auditIDs reappear in the new run, but
/// no file is read twice: output = leftover files once, then the new events.
#[test]
fn lumberjack_from_start_reads_leftover_files_once() {
    let _g = serial();
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("audit.log");
    let count = 3_000;
    let previous = Writer {
        backups: 3,
        compress: false,
        start: 0,
        count,
    };
    wait_ok(previous.spawn(&log));
    let mut files: Vec<PathBuf> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p != &log)
        .collect();
    files.sort();
    files.push(log.clone());
    let mut want = Vec::new();
    for p in &files {
        let text = std::fs::read(p).unwrap();
        want.extend(
            text.split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(seq),
        );
    }
    assert!(want.len() > 1000, "leftover too small: {}", want.len());
    want.extend(0..count);
    let mut f = Follower::spawn(&["--from-start", "--", log.to_str().unwrap()]);
    wait_watching(&f);
    wait_ok(previous.spawn(&log));
    let got = seqs(f.wait_lines_for(want.len(), Duration::from_secs(60)));
    assert_eq!(got, want);
    f.expect_quiet(Duration::from_millis(500));
    let err = f.stderr();
    assert!(err.trim().is_empty(), "unexpected warnings: {err}");
}

/// `auditq -f /var/log/kubernetes/audit.log 'verb=create'` before the apiserver (here the
/// real lumberjack writer) has created the file, or even its directory: auditq says once
/// that it waits, then follows the file from its first event through its rotations.
#[test]
fn path_that_appears_later_is_followed_from_its_first_event() {
    let _g = serial();
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("kubernetes").join("audit.log");
    let lg = log.to_str().unwrap().to_string();
    let mut f = Follower::spawn(&[lg.as_str(), "verb=create"]);
    std::thread::sleep(Duration::from_secs(2));
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let w = Writer {
        backups: 0,
        compress: false,
        start: 1,
        count: 3_000,
    };
    wait_ok(w.spawn(&log));
    let got = seqs(f.wait_lines(300));
    assert_eq!(got, (1..=300).map(|n| n * 10).collect::<Vec<_>>());
    f.expect_quiet(Duration::from_millis(600));
    let stderr = f.stderr();
    assert_eq!(stderr.matches("does not exist yet").count(), 1, "{stderr}");
    assert!(!stderr.contains("notifications"), "{stderr}");
    assert!(!stderr.contains("cannot list backups"), "{stderr}");
}
