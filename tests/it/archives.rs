//! Offline forensics on archives written by the real lumberjack (tests/lumberjack/writer.go:
//! MaxSize 1 MiB, compression on, 30+ backups, event times stamped at write time):
//! directories, `--backups`, time ranges that skip (checked against a full reading done
//! here, independently), `--merge`, `--dedupe`, files that are not audit logs, `-r`.

use crate::common;

use common::lumberjack::writer_bin;
use common::{arg, run};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// An archive: `dir/audit.log` and its backups, `count` events from `start`.
fn write_archive(dir: &Path, start: u64, count: u64, compress: bool, rate: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let status = Command::new(writer_bin())
        .arg("-path")
        .arg(dir.join("audit.log"))
        .args(["-count", &count.to_string()])
        .args(["-maxsize", "1"])
        .args(["-backups", "0"])
        .arg(format!("-compress={compress}"))
        .args(["-rate", &rate.to_string()])
        .args(["-size", "1000"])
        .args(["-start", &start.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run the lumberjack writer");
    assert!(status.success());
}

/// One archive shared by the tests of this file (35,000 events, 30+ backups).
fn archive() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("archive-35k");
        if !dir.join("audit.log").exists() {
            let _ = std::fs::remove_dir_all(&dir);
            write_archive(&dir, 0, 35_000, true, 20_000);
        }
        dir
    })
}

/// The lines of the archive in written order, read here: backups by the time in their
/// names, then the active file; gzip decompressed.
fn written_lines(dir: &Path) -> Vec<String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "audit.log")
        .collect();
    names.sort(); // the time in the name sorts as text
    names.push(dir.join("audit.log"));
    let mut lines = Vec::new();
    for path in names {
        let mut text = String::new();
        let file = std::fs::File::open(&path).unwrap();
        if path.extension().is_some_and(|e| e == "gz") {
            flate2::read::MultiGzDecoder::new(file)
                .read_to_string(&mut text)
                .unwrap();
        } else {
            std::io::BufReader::new(file)
                .read_to_string(&mut text)
                .unwrap();
        }
        lines.extend(text.lines().map(str::to_string));
    }
    lines
}

fn time_of(line: &str) -> i128 {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let t = chrono::DateTime::parse_from_rfc3339(v["requestReceivedTimestamp"].as_str().unwrap())
        .unwrap();
    i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
}

fn rfc3339(nanos: i128) -> String {
    let t = chrono::DateTime::from_timestamp(
        (nanos / 1_000_000_000) as i64,
        (nanos % 1_000_000_000) as u32,
    )
    .unwrap();
    t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

#[test]
fn a_directory_and_backups_give_the_events_in_written_order() {
    let dir = archive();
    let backups = std::fs::read_dir(dir).unwrap().count() - 1;
    assert!(backups >= 30, "only {backups} backups");
    let expected: String = written_lines(dir)
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(expected.lines().count(), 35_000);
    let r = run(["--", &arg(dir)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout == expected, "directory: not the written order");
    let r = run(["--backups", "--", &arg(&dir.join("audit.log"))]);
    assert!(r.stdout == expected, "--backups: not the written order");
}

#[test]
fn time_ranges_equal_a_full_scan_and_skip_what_cannot_match() {
    let dir = archive();
    let lines = written_lines(dir);
    let times: Vec<i128> = lines.iter().map(|l| time_of(l)).collect();
    let (first, last) = (times[0], *times.last().unwrap());
    let span = last - first;
    let at = |f: f64| first + (span as f64 * f) as i128;
    let second = 1_000_000_000;
    // (since, until): inside one file, across files, before the first, after the last,
    // empty, open-ended.
    let ranges: Vec<(Option<i128>, Option<i128>)> = vec![
        (Some(at(0.5)), Some(at(0.51))),
        (Some(at(0.2)), Some(at(0.8))),
        (Some(first - second), Some(first + 5_000_000)),
        (Some(last + 1), None),
        (Some(last + second), Some(last + 2 * second)),
        (Some(at(0.9)), None),
        (Some(at(0.97)), None),
        (None, Some(at(0.1))),
        (None, Some(first - 1)),
        (Some(at(0.3)), Some(at(0.3))),
        (Some(at(0.99)), Some(at(0.2))),
        (Some(first), Some(last)),
        (Some(times[17_000]), None),
    ];
    for (since, until) in ranges {
        let expected: String = lines
            .iter()
            .zip(&times)
            .filter(|(_, t)| since.is_none_or(|s| **t >= s) && until.is_none_or(|u| **t <= u))
            .map(|(l, _)| format!("{l}\n"))
            .collect();
        let mut args: Vec<String> = vec!["--stats".into()];
        if let Some(s) = since {
            args.extend(["--since".into(), rfc3339(s)]);
        }
        if let Some(u) = until {
            args.extend(["--until".into(), rfc3339(u)]);
        }
        args.extend(["--".into(), arg(dir)]);
        let r = run(&args);
        assert!([0, 1].contains(&r.code), "{}", r.stderr);
        assert!(
            r.stdout == expected,
            "{args:?}: {} lines, expected {}",
            r.stdout.lines().count(),
            expected.lines().count()
        );
        if since.is_some_and(|s| s >= at(0.9)) {
            let skipped = r
                .stderr
                .lines()
                .find(|l| l.starts_with("skipped by time:"))
                .unwrap_or_else(|| panic!("{}", r.stderr))
                .to_string();
            assert!(!skipped.contains(" 0 files"), "{args:?}: {skipped}");
        }
    }
}

/// `--since` over the last tenth reads only the backups rotated after it and the active
/// file: every byte of the others is left unread (`--stats` says how many).
#[test]
fn since_the_last_tenth_leaves_earlier_backups_unread() {
    let dir = archive();
    let times: Vec<i128> = written_lines(dir).iter().map(|l| time_of(l)).collect();
    let since = times[times.len() * 9 / 10];
    let mut read_expected = 0;
    let mut skipped_expected = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let size = std::fs::metadata(&path).unwrap().len();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let rotated = name.strip_prefix("audit-").map(|rest| {
            let t = chrono::NaiveDateTime::parse_from_str(&rest[..23], "%Y-%m-%dT%H-%M-%S%.3f")
                .unwrap();
            i128::from(t.and_utc().timestamp_millis())
        });
        match rotated {
            Some(ms) if (ms + 1) * 1_000_000 <= since => skipped_expected += size,
            _ => read_expected += size,
        }
    }
    let total = read_expected + skipped_expected;
    let r = run(["-c", "--stats", "--since", &rfc3339(since), "--", &arg(dir)]);
    let stat = |label: &str, field: usize| -> u64 {
        r.stderr
            .lines()
            .find(|l| l.starts_with(label))
            .and_then(|l| l.split_whitespace().nth(field))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{label} in {}", r.stderr))
    };
    assert_eq!(stat("bytes read:", 2), read_expected);
    assert_eq!(stat("skipped by time:", 5), skipped_expected);
    // The active file (1 MiB, plain) outweighs the small gzip backups; count files too.
    assert!(stat("skipped by time:", 3) >= 25, "{}", r.stderr);
    assert!(skipped_expected < total);
}

/// Three apiservers writing at the same time; `--merge` gives a stable sort of their
/// concatenation by requestReceivedTimestamp (ties in input order).
#[test]
fn merge_of_three_archives_is_a_stable_sort_by_time() {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("merge-3");
    let _ = std::fs::remove_dir_all(&base);
    let dirs: Vec<PathBuf> = ["cp1", "cp2", "cp3"].iter().map(|n| base.join(n)).collect();
    std::thread::scope(|s| {
        for (i, d) in dirs.iter().enumerate() {
            s.spawn(move || write_archive(d, 100_000 * i as u64, 6_000, i != 1, 3_000));
        }
    });
    let mut all: Vec<(i128, usize, String)> = Vec::new();
    for d in &dirs {
        for line in written_lines(d) {
            let n = all.len();
            all.push((time_of(&line), n, line));
        }
    }
    all.sort_by_key(|(t, n, _)| (*t, *n));
    let expected: String = all.iter().map(|(_, _, l)| format!("{l}\n")).collect();
    let mut args = vec!["--merge".to_string(), "--".to_string()];
    args.extend(dirs.iter().map(|d| arg(d)));
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 18_000);
    assert!(r.stdout == expected, "not a stable sort by time");
    assert!(!r.stderr.contains("out of time order"), "{}", r.stderr);
}

#[test]
fn dedupe_keeps_one_event_per_audit_id_on_the_corpus() {
    let corpus = common::corpus_dir();
    for rel in [
        "liggitt__audit2rbac/at-501d132/demo.log",
        "openshift__cluster-logging-operator/audit_in.log",
        "panther-labs__panther-analysis/eks_audit_test_logs.jsonl",
    ] {
        let path = corpus.join(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut ids = std::collections::HashSet::new();
        let mut without = 0;
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if v["kind"] != "Event" && v.get("auditID").is_none() && v.get("verb").is_none() {
                continue;
            }
            match v["auditID"].as_str() {
                Some(id) => {
                    ids.insert(id.to_string());
                }
                None => without += 1,
            }
        }
        let r = run(["-c", "--dedupe", "--", &arg(&path)]);
        assert_eq!(r.count(), ids.len() as u64 + without, "{rel}");
    }
}

#[test]
fn files_that_are_not_audit_logs_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sample.log"),
        d.join("audit.log"),
    )
    .unwrap();
    std::fs::write(d.join("README.txt"), "notes about this cluster\n").unwrap();
    std::fs::write(
        d.join("policy.yaml"),
        "apiVersion: audit.k8s.io/v1\nkind: Policy\n",
    )
    .unwrap();
    std::fs::create_dir(d.join("cp2")).unwrap();
    std::fs::copy(d.join("audit.log"), d.join("cp2/audit.log")).unwrap();
    let r = run(["-c", "-v", "--", &arg(d)]);
    assert_eq!((r.code, r.count()), (0, 4000), "{}", r.stderr);
    assert!(
        r.stderr.contains("README.txt: not an audit log"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("policy.yaml: not an audit log"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("use -r"), "{}", r.stderr);
    let r = run(["-c", "--stats", "-r", "--", &arg(d)]);
    assert_eq!(r.count(), 8000);
    assert!(
        r.stderr
            .contains("2 file(s) in the directories are not audit logs"),
        "{}",
        r.stderr
    );
    let r = run(["-c", "--", &arg(d)]);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
}
