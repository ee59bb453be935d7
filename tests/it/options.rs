//! Every option × {search, follow}: each one either works the same in follow mode as in a
//! search, or is refused with a clear message — never accepted and ignored. The table
//! below must name every option clap knows (a new option fails the test until it is
//! decided here).

use crate::common;

use clap::CommandFactory;
use common::{arg, event_line, temp_file, testdata};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How an option behaves with `-f`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InFollow {
    /// Same output (stdout) as the search with the same option.
    Same,
    /// Same output, and the stderr of both holds this text.
    SameWithStderr(&'static str),
    /// Follow stops by itself (e.g. `-m`), with the same output.
    SameAndExits,
    /// Refused: exit 2, stderr holds this text.
    Refused(&'static str),
    /// Only meaningful with `-f` (a search refuses it); follow accepts it.
    FollowOnly,
    /// Not an option to combine (`--help`, `--version`, `--completions`, `--man`,
    /// `--presets`, the positional arguments): checked by other tests.
    NotApplicable,
}

/// (clap id, the option as passed, behaviour with -f).
fn table() -> Vec<(&'static str, Vec<&'static str>, InFollow)> {
    use InFollow::*;
    vec![
        ("args", vec![], NotApplicable),
        ("files", vec![], NotApplicable),
        ("query", vec!["-e", "ns=kube-system"], Same),
        ("output", vec!["-o", "jsonl"], Same),
        ("output", vec!["-o", "json"], Same),
        ("output", vec!["-o", "table"], Same),
        ("output", vec!["-o", "wide"], Same),
        ("output", vec!["-o", "csv"], Same),
        ("output", vec!["-o", "tsv"], Same),
        ("output", vec!["-o", "fields=user,verb,code"], Same),
        ("count", vec!["-c"], Same),
        ("count_by", vec!["--count-by", "user,verb"], Same),
        (
            "output",
            vec!["--count-by", "user,verb", "-o", "json"],
            Same,
        ),
        ("summary", vec!["--summary"], Same),
        ("output", vec!["--summary", "-o", "json"], Same),
        ("timeline", vec!["--timeline"], Same),
        ("timeline", vec!["--timeline=100ms", "-o", "json"], Same),
        (
            "timeline_by",
            vec!["--timeline", "--timeline-by", "user"],
            Same,
        ),
        ("top", vec!["--summary", "--top", "3"], Same),
        ("top", vec!["--count-by", "verb", "--top", "2"], Same),
        ("max_count", vec!["-m", "2"], SameAndExits),
        ("since", vec!["--since", "2026-01-05T10:00:00.5Z"], Same),
        ("until", vec!["--until", "2026-01-05T10:00:00.5Z"], Same),
        ("backups", vec!["--backups"], Same),
        ("recursive", vec!["-r"], Refused("cannot be used with")),
        ("merge", vec!["--merge"], Refused("cannot be used with")),
        (
            "merge_window",
            vec!["--merge", "--merge-window", "5s"],
            Refused("cannot be used with"),
        ),
        ("dedupe", vec!["--dedupe"], Same),
        ("verbose", vec!["-v"], Refused("cannot be used with")),
        ("follow", vec![], NotApplicable),
        ("lines", vec!["-n", "3"], FollowOnly),
        ("from_start", vec!["--from-start"], FollowOnly),
        ("poll", vec!["--poll"], FollowOnly),
        ("state", vec!["--state", "STATE"], FollowOnly),
        ("color", vec!["--color", "always", "-o", "table"], Same),
        (
            "strict",
            vec!["--strict"],
            SameWithStderr("stopped by --strict"),
        ),
        ("stats", vec!["--stats"], SameWithStderr("events parsed:")),
        ("threads", vec!["-j", "2"], Refused("cannot be used with")),
        (
            "max_line_bytes",
            vec!["--max-line-bytes", "2000"],
            SameWithStderr("longer than --max-line-bytes"),
        ),
        ("no_prefilter", vec!["--no-prefilter"], Same),
        ("unwrap", vec!["--unwrap"], Same),
        ("unwrap", vec!["--unwrap", "-o", "json"], Same),
        ("no_mmap", vec!["--no-mmap"], Refused("cannot be used with")),
        ("block_size", vec!["--block-size", "4KiB"], Same),
        ("completions", vec![], NotApplicable),
        ("man", vec![], NotApplicable),
        ("presets", vec![], NotApplicable),
        ("help", vec![], NotApplicable),
        ("version", vec![], NotApplicable),
    ]
}

/// A log with events of the sample, an invalid line in the middle, a line longer than
/// 2,000 bytes, two events inside envelopes (AKS, CloudWatch), and a lumberjack backup
/// beside it.
fn fixture() -> (tempfile::TempDir, std::path::PathBuf) {
    let sample = std::fs::read_to_string(testdata("sample.log")).unwrap();
    let lines: Vec<&str> = sample.lines().take(300).collect();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let mut active = String::new();
    for (i, line) in lines[100..].iter().enumerate() {
        active.push_str(line);
        active.push('\n');
        if i == 50 {
            active.push_str("{\"kind\":\"Event\",\"verb\":\"del\n");
        }
        if i == 70 {
            let aks = serde_json::json!({"category": "kube-audit", "properties": {"log": line, "pod": "kube-apiserver-1"}});
            active.push_str(&format!("{aks}\n"));
            let cloudwatch = serde_json::json!({"logStreamName": "kube-apiserver-audit-1", "timestamp": 1, "message": line});
            active.push_str(&format!("{cloudwatch}\n"));
        }
        if i == 60 {
            let long = event_line("get", "configmaps", "bob", "prod", &"x".repeat(2100), 200);
            active.push_str(&long);
            active.push('\n');
        }
    }
    std::fs::write(&log, active).unwrap();
    let backup: String = lines[..100].iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.path().join("audit-2026-01-05T09-59-00.000.log"), backup).unwrap();
    (dir, log)
}

struct Out {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

fn search(args: &[&str], log: &str) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_auditq"))
        .args(args)
        .args(["--", log])
        .stdin(Stdio::null())
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `auditq -f ARGS -- LOG`: lets it read, then sends SIGTERM (unless it ended by itself).
fn follow(args: &[&str], log: &str) -> Out {
    let mut child = Command::new(env!("CARGO_BIN_EXE_auditq"))
        .arg("-f")
        .args(args)
        .args(["--", log])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("NO_COLOR")
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut exited = None;
    while started.elapsed() < Duration::from_millis(1200) {
        if let Some(status) = child.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if exited.is_none() {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    }
    let mut stdout = Vec::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    Out {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr: stderr
            + if exited.is_some() {
                "<exited by itself>"
            } else {
                ""
            },
    }
}

#[test]
fn every_option_is_decided_for_follow_mode() {
    let known: Vec<String> = auditq::cli::args::Args::command()
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    let decided: Vec<&str> = table().iter().map(|(id, _, _)| *id).collect();
    for id in &known {
        assert!(
            decided.contains(&id.as_str()),
            "option `{id}` has no row in tests/it/options.rs: decide how it behaves with -f"
        );
    }
}

#[test]
fn each_option_works_the_same_in_follow_mode_or_is_refused() {
    let (dir, log) = fixture();
    let log = arg(&log);
    let state = arg(&dir.path().join("state.json"));
    for (id, option, expected) in table() {
        let option: Vec<&str> = option
            .iter()
            .map(|o| if *o == "STATE" { state.as_str() } else { o })
            .collect();
        let query = "user!=system:kube-scheduler";
        let mut search_args = option.clone();
        search_args.push(query);
        // Follow reads the backups and the whole file first, like `--backups` does.
        let mut follow_args = vec!["--from-start"];
        if id == "from_start" || id == "lines" {
            follow_args.clear();
        }
        follow_args.extend(option.iter().copied());
        follow_args.push(query);
        let mut search_backups = if option.contains(&"--backups") {
            Vec::new()
        } else {
            vec!["--backups"]
        };
        search_backups.extend(search_args.iter().copied());
        match expected {
            InFollow::NotApplicable => {}
            InFollow::Same | InFollow::SameWithStderr(_) | InFollow::SameAndExits => {
                let s = search(&search_backups, &log);
                let f = follow(&follow_args, &log);
                assert!(!s.stderr.contains("panicked") && !f.stderr.contains("panicked"));
                if f.stdout != s.stdout {
                    let (fo, so) = (
                        String::from_utf8_lossy(&f.stdout),
                        String::from_utf8_lossy(&s.stdout),
                    );
                    let diff = fo.lines().zip(so.lines()).position(|(a, b)| a != b);
                    panic!(
                        "{option:?}: follow output differs from search ({} vs {} lines; first difference at line {diff:?})\nfollow stderr: {}\nsearch stderr: {}",
                        fo.lines().count(),
                        so.lines().count(),
                        f.stderr,
                        s.stderr
                    );
                }
                assert!(
                    !s.stdout.is_empty(),
                    "{option:?}: the fixture matches nothing"
                );
                if let InFollow::SameWithStderr(text) = expected {
                    assert!(s.stderr.contains(text), "{option:?} search: {}", s.stderr);
                    assert!(f.stderr.contains(text), "{option:?} follow: {}", f.stderr);
                }
                if expected == InFollow::SameAndExits {
                    assert!(
                        f.stderr.contains("<exited by itself>"),
                        "{option:?}: {}",
                        f.stderr
                    );
                }
                if option == ["--strict"] {
                    assert_eq!((s.code, f.code), (2, 2), "{}", f.stderr);
                    // The same place (FILE:LINE) in both modes.
                    let strict = |err: &str| {
                        err.lines()
                            .find(|l| l.contains("stopped by --strict"))
                            .map(str::to_string)
                    };
                    assert_eq!(strict(&f.stderr), strict(&s.stderr));
                }
            }
            InFollow::Refused(text) => {
                let f = follow(&follow_args, &log);
                assert_eq!(f.code, 2, "{option:?} accepted with -f: {}", f.stderr);
                assert!(f.stderr.contains(text), "{option:?}: {}", f.stderr);
                let s = search(&search_args, &log);
                assert!([0, 1].contains(&s.code), "{option:?} search: {}", s.stderr);
            }
            InFollow::FollowOnly => {
                let s = search(&search_args, &log);
                assert_eq!(s.code, 2, "{option:?} accepted without -f");
                assert!(s.stderr.contains("--follow"), "{option:?}: {}", s.stderr);
                let f = follow(&follow_args, &log);
                assert!(
                    [0, 1].contains(&f.code),
                    "{option:?} refused with -f: {}",
                    f.stderr
                );
                assert!(!f.stdout.is_empty(), "{option:?}: no output");
            }
        }
    }
}

/// `-f -o json`: one JSON array, closed when SIGTERM ends following.
#[test]
fn follow_json_output_is_one_array_after_sigterm() {
    let (_dir, log) = fixture();
    let f = follow(&["--from-start", "-o", "json", "verb=get"], &arg(&log));
    let parsed: serde_json::Value = serde_json::from_slice(&f.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&f.stdout)));
    assert!(parsed.as_array().is_some_and(|a| !a.is_empty()));
    let (_d, empty) = temp_file("empty.log", b"");
    let f = follow(&["-o", "json", "verb=get"], &arg(&empty));
    assert_eq!(f.stdout, b"[]\n");
}
