//! Follow-mode scenarios from docs/follow-spec section 5, driven through the
//! binary with files manipulated by the test (rename/create/gzip/truncate/
//! rm/partial writes). Each test asserts the exact output sequence.

use crate::common;

use std::path::PathBuf;
use std::time::Duration;

use common::follow::*;

#[test]
fn scenario_01_appended_events_once_in_order() {
    let (_d, log) = log_dir();
    append(&log, "");
    let mut f = Follower::spawn(&["-n", "0", "--", s(&log)]);
    f.wait_open(&log);
    for chunk in 0..10 {
        append(&log, &events(chunk * 100 + 1..=chunk * 100 + 100));
    }
    f.expect_exactly(1..=1000);
}

#[test]
fn scenario_05_sigstop_across_rotation() {
    let (_d, log) = log_dir();
    let mut f = Follower::caught_up(&log, 10, &[]);
    f.pause();
    append(&log, &events(11..=15));
    rotate(&log, 0);
    append(&log, &events(16..=20));
    f.resume();
    f.expect_exactly(1..=20);
}

#[test]
fn scenario_06_three_rotations_between_polls() {
    let (_d, log) = log_dir();
    let mut f = Follower::caught_up(&log, 10, &["--poll"]);
    f.pause();
    append(&log, &events(11..=12));
    rotate(&log, 0);
    append(&log, &events(13..=14));
    rotate(&log, 10);
    append(&log, &events(15..=16));
    rotate(&log, 20);
    append(&log, &events(17..=18));
    f.resume();
    f.expect_exactly(1..=18);
}

#[test]
fn scenario_07_enoent_window_keeps_waiting() {
    let (_d, log) = log_dir();
    let mut f = Follower::caught_up(&log, 3, &[]);
    std::fs::rename(&log, backup_name(&log, 0)).unwrap();
    // Several poll intervals with no active file: must not exit.
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        f.child.try_wait().unwrap().is_none(),
        "exited during ENOENT window"
    );
    append(&log, &events(4..=6));
    f.expect_exactly(1..=6);
}

#[test]
fn scenario_08_backup_compressed_while_open() {
    let (_d, log) = log_dir();
    let mut f = Follower::caught_up(&log, 10, &[]);
    f.pause();
    append(&log, &events(11..=12));
    let b = rotate(&log, 0);
    gzip(&b);
    append(&log, &events(13..=14));
    f.resume();
    f.expect_exactly(1..=14);
}

#[test]
fn scenario_09_partial_gz_beside_log_ignored() {
    let (_d, log) = log_dir();
    let mut f = Follower::caught_up(&log, 5, &[]);
    f.pause();
    append(&log, &events(6..=7));
    let b = rotate(&log, 0);
    // A half-written .gz next to the complete .log (compression in progress).
    let mut partial = Vec::new();
    let full = {
        let gz = b.with_extension("tmpgz");
        write_gz(&gz, events(1..=7).as_bytes());
        std::fs::read(&gz).unwrap()
    };
    partial.extend_from_slice(&full[..full.len() / 2]);
    std::fs::write(format!("{}.gz", b.display()), &partial).unwrap();
    append(&log, &events(8..=9));
    f.resume();
    f.expect_exactly(1..=9);
}

#[test]
fn scenario_10_restart_checkpoint_into_gz_backup() {
    let (d, log) = log_dir();
    let state = d.path().join("state.json");
    let f = Follower::caught_up(&log, 5, &["--state", s(&state)]);
    let (lines, status, _) = f.terminate();
    assert_eq!(seqs(&lines), range(1..=5));
    assert!(status.success());
    append(&log, &events(6..=8));
    let b = rotate(&log, 0);
    gzip(&b);
    append(&log, &events(9..=10));
    let mut f = Follower::from_start(&log, &["--state", s(&state)]);
    f.expect_exactly(6..=10);
}

#[test]
fn scenario_11_pruned_while_open_read_to_eof() {
    let (_d, log) = log_dir();
    let mut f = Follower::caught_up(&log, 5, &[]);
    f.pause();
    append(&log, &events(6..=8));
    let b = rotate(&log, 0);
    std::fs::remove_file(&b).unwrap();
    append(&log, &events(9..=10));
    f.resume();
    f.expect_exactly(1..=10);
}

#[test]
fn scenario_12_pruned_while_down_reports_gap() {
    let (d, log) = log_dir();
    let state = d.path().join("state.json");
    let f = Follower::caught_up(&log, 5, &["--state", s(&state)]);
    f.terminate();
    append(&log, &events(6..=7));
    let b1 = rotate(&log, 10);
    append(&log, &events(8..=9));
    let b2 = rotate(&log, 20);
    append(&log, &events(10..=11));
    rotate(&log, 30);
    append(&log, &events(12..=13));
    std::fs::remove_file(b1).unwrap();
    std::fs::remove_file(b2).unwrap();
    let mut f = Follower::from_start(&log, &["--state", s(&state)]);
    f.expect_exactly(10..=13);
    f.wait_stderr("may be missing");
}

#[test]
fn scenario_14_same_millisecond_backup_clobbered() {
    let (_d, log) = log_dir();
    let mut f = Follower::caught_up(&log, 3, &[]);
    f.pause();
    append(&log, &events(4..=5));
    let name = backup_name(&log, 0);
    std::fs::rename(&log, &name).unwrap();
    append(&log, &events(6..=7));
    // Second rotation in the same millisecond: the rename clobbers the
    // first backup, which only our open fd still holds.
    std::fs::rename(&log, &name).unwrap();
    append(&log, &events(8..=9));
    f.resume();
    f.expect_exactly(1..=9);
}

#[test]
fn scenario_15_copytruncate() {
    let (_d, log) = log_dir();
    let mut f = Follower::caught_up(&log, 5, &[]);
    f.pause();
    append(&log, &events(6..=7));
    std::fs::copy(&log, backup_name(&log, 0)).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, &events(8..=9));
    f.resume();
    f.expect_exactly(1..=9);
    f.wait_stderr("truncated");
}

#[test]
fn scenario_17_truncate_then_rewrite_past_offset() {
    let (_d, log) = log_dir();
    let mut f = Follower::caught_up(&log, 3, &[]);
    f.pause();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, &events(100..=120));
    f.resume();
    let mut want = range(1..=3);
    want.extend(100..=120);
    assert_eq!(seqs(f.wait_lines(24)), want);
    f.wait_stderr("truncated");
    f.expect_quiet(QUIET);
}

#[test]
fn scenario_18_rm_then_recreate() {
    let (_d, log) = log_dir();
    let mut f = Follower::caught_up(&log, 3, &[]);
    f.pause();
    append(&log, &events(4..=5));
    std::fs::remove_file(&log).unwrap();
    append(&log, &events(6..=8));
    f.resume();
    f.expect_exactly(1..=8);
}

#[test]
fn scenario_19_inode_reuse_different_first_line() {
    let (d, log) = log_dir();
    let state = d.path().join("state.json");
    let f = Follower::caught_up(&log, 3, &["--state", s(&state)]);
    f.terminate();
    std::fs::remove_file(&log).unwrap();
    // ext4 typically hands the freed inode to the next file: same (dev, ino).
    append(&log, &events(50..=60));
    let mut f = Follower::from_start(&log, &["--state", s(&state)]);
    f.expect_exactly(50..=60);
    f.wait_stderr("stale checkpoint");
}

#[test]
fn scenario_20_half_event_then_rest() {
    let (_d, log) = log_dir();
    append(&log, "");
    let mut f = Follower::spawn(&["-n", "0", "--", s(&log)]);
    f.wait_open(&log);
    let line = event(7);
    let (a, b) = line.split_at(line.len() / 2);
    append(&log, a);
    f.expect_quiet(Duration::from_millis(1500));
    append(&log, &format!("{b}\n"));
    assert_eq!(f.wait_lines(1), [format!("{line}\n").into_bytes()]);
    f.expect_quiet(QUIET);
}

#[test]
fn scenario_21_backup_without_final_newline() {
    let (_d, log) = log_dir();
    let mut f = Follower::caught_up(&log, 3, &[]);
    f.pause();
    // The writer crashed before writing the final '\n' of event 4.
    let crashed = event(4);
    append(&log, &crashed);
    rotate(&log, 0);
    append(&log, &events(5..=6));
    f.resume();
    let lines = f.wait_lines(6).to_vec();
    assert_eq!(lines[3], format!("{crashed}\n").into_bytes());
    assert_eq!(seqs(&lines), [1, 2, 3, 4, 5, 6]);
    f.wait_stderr("no final newline");
    f.expect_quiet(QUIET);
}

#[test]
fn scenario_23_eight_mib_line_intact() {
    let (_d, log) = log_dir();
    append(&log, "");
    let mut f = Follower::spawn(&["-n", "0", "--", s(&log)]);
    f.wait_open(&log);
    let big = format!(
        "{{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"auditID\":\"00000000-0000-4000-8000-000000000001\",\"verb\":\"get\",\"pad\":\"{}\"}}",
        "y".repeat(8 << 20)
    );
    append(&log, &format!("{big}\n{}", events(2..=2)));
    let lines = f.wait_lines(2);
    assert_eq!(lines[0].len(), big.len() + 1);
    assert_eq!(&lines[0][..big.len()], big.as_bytes());
    assert_eq!(seq(&lines[1]), 2);
}

#[test]
fn scenario_24_crlf_stripped() {
    let (_d, log) = log_dir();
    append(&log, &format!("{}\r\n{}\r\n", event(1), event(2)));
    let mut f = Follower::from_start(&log, &[]);
    let lines = f.wait_lines(2);
    assert_eq!(lines[0], format!("{}\n", event(1)).into_bytes());
    assert_eq!(lines[1], format!("{}\n", event(2)).into_bytes());
}

#[test]
fn scenario_25_invalid_utf8_passes_through() {
    let (_d, log) = log_dir();
    let mut bad =
        b"{\"auditID\":\"00000000-0000-4000-8000-000000000001\",\"x\":\"\xff\xfe\xc3\"}\n".to_vec();
    bad.extend_from_slice(events(2..=2).as_bytes());
    append_bytes(&log, &bad);
    append(&log, &events(3..=3));
    let mut f = Follower::from_start(&log, &[]);
    // The query engine may pass the line through verbatim or reject it
    // (with a warning); either way the bytes are exact and the events after
    // it are intact (offsets did not drift).
    let first_len = bad.iter().position(|&c| c == b'\n').unwrap() + 1;
    f.wait_lines(2);
    if f.lines[0] == bad[..first_len] {
        f.wait_lines(3);
        assert_eq!(seqs(&f.lines[1..]), [2, 3]);
    } else {
        assert_eq!(seqs(&f.lines), [2, 3]);
    }
    f.expect_quiet(QUIET);
}

#[test]
fn scenario_28_restart_resumes_after_last_line() {
    let (d, log) = log_dir();
    let state = d.path().join("state.json");
    let f = Follower::caught_up(&log, 5, &["--state", s(&state)]);
    // A partial line at stop time must be re-read on restart, not lost.
    append(&log, &event(6)[..10]);
    f.wait_open(&log);
    f.terminate();
    append(&log, &format!("{}\n{}", &event(6)[10..], events(7..=8)));
    let mut f = Follower::from_start(&log, &["--state", s(&state)]);
    f.expect_exactly(6..=8);
}

#[test]
fn scenario_29_restart_after_rotations() {
    let (d, log) = log_dir();
    let state = d.path().join("state.json");
    let f = Follower::caught_up(&log, 5, &["--state", s(&state)]);
    f.terminate();
    append(&log, &events(6..=6));
    rotate(&log, 0);
    append(&log, &events(7..=8));
    let b = rotate(&log, 10);
    gzip(&b);
    append(&log, &events(9..=10));
    let mut f = Follower::from_start(&log, &["--state", s(&state)]);
    f.expect_exactly(6..=10);
}

#[test]
fn scenario_30_stale_checkpoint_falls_back() {
    let (d, log) = log_dir();
    let state = d.path().join("state.json");
    let f = Follower::caught_up(&log, 5, &["--state", s(&state)]);
    f.terminate();
    // Same first line, but shorter than the saved offset.
    std::fs::write(&log, events(1..=2)).unwrap();
    let mut f = Follower::from_start(&log, &["--state", s(&state)]);
    f.expect_exactly(1..=2);
    f.wait_stderr("stale checkpoint");
}

#[test]
fn scenario_31_last_n_reaches_into_gz_backup() {
    let (_d, log) = log_dir();
    let old = backup_name(&log, -2000);
    write_gz(
        &PathBuf::from(format!("{}.gz", old.display())),
        events(1..=10).as_bytes(),
    );
    append(&log, &events(11..=13));
    let mut f = Follower::spawn(&["-n", "10", "--", s(&log)]);
    assert_eq!(seqs(f.wait_lines(10)), range(4..=13));
    append(&log, &events(14..=14));
    f.expect_exactly(4..=14);
}

#[test]
fn scenario_31_last_n_counts_matches_only() {
    let (_d, log) = log_dir();
    let old = backup_name(&log, -2000);
    std::fs::write(&old, events(1..=40)).unwrap();
    append(&log, &events(41..=45));
    let mut f = Follower::spawn(&["-n", "3", "verb=create", "--", s(&log)]);
    assert_eq!(seqs(f.wait_lines(3)), [20, 30, 40]);
    append(&log, &events(46..=50));
    assert_eq!(seqs(f.wait_lines(4)), [20, 30, 40, 50]);
    f.expect_quiet(QUIET);
}

#[test]
fn scenario_32_n0_only_new_events() {
    let (_d, log) = log_dir();
    append(&log, &events(1..=5));
    let mut f = Follower::spawn(&["-n", "0", "--", s(&log)]);
    f.wait_open(&log);
    append(&log, &events(6..=7));
    f.expect_exactly(6..=7);
}

#[test]
fn scenario_33_from_start_all_files_in_name_order() {
    let (_d, log) = log_dir();
    let b1 = backup_name(&log, -3000);
    write_gz(
        &PathBuf::from(format!("{}.gz", b1.display())),
        events(1..=3).as_bytes(),
    );
    std::fs::write(backup_name(&log, -2000), events(4..=6)).unwrap();
    let b3 = backup_name(&log, -1000);
    write_gz(
        &PathBuf::from(format!("{}.gz", b3.display())),
        events(7..=9).as_bytes(),
    );
    append(&log, &events(10..=12));
    let mut f = Follower::from_start(&log, &[]);
    f.expect_exactly(1..=12);
}

#[test]
fn scenario_34_from_start_during_compression() {
    let (_d, log) = log_dir();
    let b1 = backup_name(&log, -1000);
    std::fs::write(&b1, events(1..=3)).unwrap();
    std::fs::write(format!("{}.gz", b1.display()), b"\x1f\x8b\x08\x00partial").unwrap();
    append(&log, &events(4..=5));
    let mut f = Follower::from_start(&log, &[]);
    f.expect_exactly(1..=5);
    assert!(!f.stderr().contains("gz"), "{}", f.stderr());
}

#[test]
fn scenario_35_stdin_last_line_flushed_at_eof() {
    let input = format!("{}{}", events(1..=3), event(4));
    let mut child = std::process::Command::new(bin())
        .arg("-f")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<Vec<u8>> = out
        .stdout
        .split_inclusive(|&c| c == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(seqs(&lines), range(1..=4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no final newline"));
}

#[test]
fn scenario_38_poll_only_same_output_through_rotation() {
    let (_d, log) = log_dir();
    let mut f = Follower::caught_up(&log, 5, &["--poll"]);
    append(&log, &events(6..=7));
    let b = rotate(&log, 0);
    append(&log, &events(8..=9));
    gzip(&b);
    f.expect_exactly(1..=9);
}

#[test]
fn scenario_40_symlink_target_followed() {
    let d = tempfile::tempdir().unwrap();
    let real = d.path().join("real.log");
    let link = d.path().join("audit.log");
    append(&real, &events(1..=2));
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let mut f = Follower::spawn(&["--from-start", "--", s(&link)]);
    f.wait_lines(2);
    append(&real, &events(3..=4));
    f.expect_exactly(1..=4);
}

#[test]
fn exit_code_and_sigterm_clean() {
    let (_d, log) = log_dir();
    append(&log, &events(1..=2));
    let f = Follower::spawn(&["--from-start", "verb=nosuchverb", "--", s(&log)]);
    f.wait_open(&log);
    let (lines, status, _) = f.terminate();
    assert!(lines.is_empty());
    assert_eq!(status.code(), Some(1));
    let mut f = Follower::from_start(&log, &[]);
    f.wait_lines(2);
    let (_, status, _) = f.terminate();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn scenario_13_checkpointed_backup_pruned_by_age() {
    let (d, log) = log_dir();
    let state = d.path().join("state.json");
    // The checkpoint points into a backup that maxage pruning removed.
    let now = chrono::Utc::now().timestamp_millis();
    let gone = backup_name(&log, -3000);
    std::fs::write(
        &state,
        format!(
            "{{\"version\":1,\"files\":[{{\"follow\":\"{}\",\"path\":\"{}\",\"dev\":1,\"ino\":2,\"fingerprint\":\"0123456789abcdef\",\"first_line_len\":10,\"offset\":100,\"saved_at_ms\":{},\"backup_time_ms\":{}}}]}}",
            s(&log),
            s(&gone),
            now - 2800,
            now - 2900
        ),
    )
    .unwrap();
    std::fs::write(backup_name(&log, -2000), events(4..=6)).unwrap();
    append(&log, &events(7..=8));
    let mut f = Follower::spawn(&["-n", "0", "--state", s(&state), "--", s(&log)]);
    f.expect_exactly(4..=8);
    f.wait_stderr("may be missing");
}

#[test]
fn scenario_16_copytruncate_non_append_writer_nul_run() {
    use std::os::unix::fs::FileExt;
    let (_d, log) = log_dir();
    let mut f = Follower::caught_up(&log, 5, &[]);
    f.pause();
    append(&log, &events(6..=7));
    let writer_pos = std::fs::metadata(&log).unwrap().len();
    std::fs::copy(&log, backup_name(&log, 0)).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
    file.set_len(0).unwrap();
    // The writer's fd keeps its offset: a hole of NULs, then new events.
    file.write_all_at(events(8..=9).as_bytes(), writer_pos)
        .unwrap();
    f.resume();
    f.expect_exactly(1..=9);
    f.wait_stderr("NUL bytes");
}

#[test]
fn scenario_40_unreadable_backup_clear_error() {
    let (_d, log) = log_dir();
    std::fs::write(backup_name(&log, -3000), events(1..=3)).unwrap();
    let bad = backup_name(&log, -2000);
    std::fs::create_dir(&bad).unwrap();
    append(&log, &events(4..=5));
    let mut f = Follower::from_start(&log, &[]);
    f.expect_exactly(1..=5);
    f.wait_stderr(bad.file_name().unwrap().to_str().unwrap());
}

#[test]
fn several_paths_each_in_file_order() {
    let (_d1, a) = log_dir();
    let (_d2, b) = log_dir();
    append(&a, &events(1..=3));
    append(&b, &events(101..=103));
    let mut f = Follower::spawn(&["--from-start", "--", s(&a), s(&b)]);
    f.wait_lines(6);
    append(&a, &events(4..=5));
    rotate(&a, 0);
    append(&a, &events(6..=7));
    append(&b, &events(104..=105));
    let got = seqs(f.wait_lines(12));
    let from_a: Vec<u64> = got.iter().copied().filter(|n| *n < 100).collect();
    let from_b: Vec<u64> = got.iter().copied().filter(|n| *n > 100).collect();
    assert_eq!(from_a, range(1..=7));
    assert_eq!(from_b, range(101..=105));
    f.expect_quiet(QUIET);
}

#[test]
fn scenario_35_stdin_open_pipe_stops_on_sigint() {
    use std::io::Write;
    let mut f = Follower::spawn_with(&[], std::process::Stdio::piped());
    let mut input = f.child.stdin.take().unwrap();
    input.write_all(events(1..=2).as_bytes()).unwrap();
    input.flush().unwrap();
    assert_eq!(seqs(f.wait_lines(2)), range(1..=2));
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(f.pid(), libc::SIGINT) }, 0);
    let (_, status, _) = f.finish();
    assert_eq!(status.code(), Some(0));
    drop(input);
}

// ------------------------------------------------------------ one framing (issue #6)

/// `kubectl logs -f … | auditq -f`: a pretty-printed event and a pretty EventList arrive
/// on a pipe that stays open, in pieces; each is printed (as one compact line) as soon as
/// it is complete, before the pipe closes.
#[test]
fn stdin_pretty_event_and_eventlist_in_follow_mode() {
    use std::io::Write;
    let mut f = Follower::spawn_with(&["verb=delete"], std::process::Stdio::piped());
    let mut stdin = f.child.stdin.take().unwrap();
    let pretty = "{\n  \"kind\": \"Event\",\n  \"auditID\": \"p1\",\n  \"verb\": \"delete\"\n}\n";
    let (a, b) = pretty.split_at(20);
    stdin.write_all(a.as_bytes()).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    stdin.write_all(b.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let lines = f.wait_lines(1).to_vec();
    assert_eq!(
        String::from_utf8_lossy(&lines[0]),
        "{\"kind\":\"Event\",\"auditID\":\"p1\",\"verb\":\"delete\"}\n"
    );
    let list = "{\n\"kind\": \"EventList\",\n\"items\": [\n{\"kind\":\"Event\",\"auditID\":\"l1\",\"verb\":\"delete\"},\n{\"kind\":\"Event\",\"auditID\":\"l2\",\"verb\":\"get\"},\n{\"kind\":\"Event\",\"auditID\":\"l3\",\"verb\":\"delete\"}\n]\n}\n";
    stdin.write_all(list.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let lines = f.wait_lines(3).to_vec();
    assert!(String::from_utf8_lossy(&lines[1]).contains("\"l1\""));
    assert!(String::from_utf8_lossy(&lines[2]).contains("\"l3\""));
    f.expect_quiet(QUIET);
    drop(stdin);
    let (_, status, stderr) = f.finish();
    assert!(status.success(), "{stderr}");
}

/// A backup that is gzip but not named `.gz` (compressed by another tool, or renamed) is
/// recognised by its magic bytes when follow reaches it after a rotation.
#[test]
fn gzip_backup_without_gz_name_followed_after_rotation() {
    let (_d, log) = log_dir();
    append(&log, &events(1..=3));
    let mut f = Follower::spawn(&["--", s(&log)]);
    f.wait_open(&log);
    f.pause();
    append(&log, &events(4..=6));
    let b1 = rotate(&log, -2000);
    append(&log, &events(7..=9));
    let b2 = rotate(&log, -1000);
    // Replace the second backup by a gzip of itself, keeping its name.
    let plain = std::fs::read(&b2).unwrap();
    let tmp = b2.with_extension("tmp");
    write_gz(&tmp, &plain);
    std::fs::rename(&tmp, &b2).unwrap();
    append(&log, &events(10..=12));
    f.resume();
    f.expect_exactly(4..=12);
    assert!(b1.exists());
}

/// A followed file that is gzip (whatever its name) is read decompressed, never as bytes.
#[test]
fn gzip_active_file_is_read_decompressed() {
    let (_d, log) = log_dir();
    write_gz(&log, events(1..=5).as_bytes());
    let mut f = Follower::from_start(&log, &[]);
    f.expect_exactly(1..=5);
    let mut f = Follower::spawn(&["--", s(&log)]);
    f.expect_quiet(QUIET);
    let (lines, status, stderr) = f.terminate();
    assert!(lines.is_empty() && status.code() == Some(1), "{stderr}");
}

/// Waits until stderr holds `pat`, at most `limit`; returns how long that took.
fn stderr_within(f: &Follower, pat: &str, limit: Duration) -> Duration {
    let t0 = std::time::Instant::now();
    while !f.stderr().contains(pat) {
        assert!(
            t0.elapsed() < limit,
            "no {pat:?} within {limit:?}: {}",
            f.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    t0.elapsed()
}

const BROKEN: &str = "{\"kind\":\"Event\", broken";
const OPEN: &str = "{\"kind\":\"Event\",";

#[test]
fn strict_reports_a_line_that_can_never_be_valid_without_waiting_for_the_next() {
    // Without its newline, and with it: no following line comes either way.
    for (ending, lines_before) in [("", 0), ("\n", 0), ("", 3)] {
        let (_d, log) = log_dir();
        // Lines before the start (-n 0 starts at the end) are counted.
        append(&log, &events(101..=100 + lines_before));
        let mut f = Follower::spawn(&["--strict", "-n", "0", "--", s(&log)]);
        f.wait_open(&log);
        append(&log, &format!("{}\n{BROKEN}{ending}", event(1)));
        assert_eq!(seqs(f.wait_lines(1)), [1]);
        let want = format!(
            "{}:{}: invalid JSON (stopped by --strict)",
            s(&log),
            lines_before + 2
        );
        stderr_within(&f, &want, Duration::from_secs(2));
        // It stops by itself, exit 2.
        let (_, status, err) = f.finish();
        assert_eq!(status.code(), Some(2), "{err}");
        assert_eq!(err.matches("auditq: ").count(), 1, "{err}");
    }
}

#[test]
fn strict_waits_for_a_line_that_may_still_become_valid() {
    let (_d, log) = log_dir();
    append(&log, "");
    let mut f = Follower::spawn(&["--strict", "--", s(&log)]);
    f.wait_open(&log);
    append(&log, &format!("{}\n{}", event(1), &event(2)[..40]));
    assert_eq!(seqs(f.wait_lines(1)), [1]);
    f.expect_quiet(QUIET);
    assert!(!f.stderr().contains("auditq: "), "{}", f.stderr());
    append(&log, &format!("{}\n", &event(2)[40..]));
    assert_eq!(seqs(f.wait_lines(2)), [1, 2]);
    let (_, status, err) = f.terminate();
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn strict_reports_an_incomplete_record_at_sigterm() {
    for ending in ["", "\n"] {
        let (_d, log) = log_dir();
        append(&log, "");
        let mut f = Follower::spawn(&["--strict", "--", s(&log)]);
        f.wait_open(&log);
        append(&log, &format!("{}\n{OPEN}{ending}", event(1)));
        assert_eq!(seqs(f.wait_lines(1)), [1]);
        // A continuation could still complete it: nothing is said before the stop.
        f.expect_quiet(QUIET);
        assert!(!f.stderr().contains("auditq: "), "{}", f.stderr());
        let (_, status, err) = f.terminate();
        assert_eq!(status.code(), Some(2), "{err}");
        let want = format!(
            "auditq: {}:2: incomplete when auditq stopped: {} byte(s) of a record without its end (stopped by --strict)",
            s(&log),
            OPEN.len() + ending.len()
        );
        assert!(err.contains(&want), "{err}");
    }
}

#[test]
fn strict_reports_an_incomplete_record_when_max_count_stops() {
    let (_d, log) = log_dir();
    append(&log, &format!("{}\n{OPEN}", event(1)));
    let mut f = Follower::spawn(&["--strict", "-m", "1", "--from-start", "--", s(&log)]);
    let (lines, status, err) = f.finish();
    assert_eq!(seqs(&lines), [1]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{}:2: incomplete when auditq stopped", s(&log))),
        "{err}"
    );
}

#[test]
fn without_strict_unfinished_lines_change_nothing() {
    for tail in [BROKEN, OPEN] {
        let (_d, log) = log_dir();
        append(&log, "");
        let mut f = Follower::spawn(&["--", s(&log)]);
        f.wait_open(&log);
        append(&log, &format!("{}\n{tail}", event(1)));
        assert_eq!(seqs(f.wait_lines(1)), [1]);
        f.expect_quiet(QUIET);
        let (_, status, err) = f.terminate();
        assert_eq!(status.code(), Some(0), "{err}");
        assert!(!err.contains("auditq: "), "{err}");
    }
}

#[test]
fn strict_names_lines_of_the_file_read_after_a_rotation() {
    let (_d, log) = log_dir();
    append(&log, &events(1..=4));
    let mut f = Follower::spawn(&["--strict", "--from-start", "--", s(&log)]);
    assert_eq!(seqs(f.wait_lines(4)), range(1..=4));
    rotate(&log, 0);
    append(&log, &format!("{}\n{}\n{BROKEN}\n", event(5), event(6)));
    assert_eq!(seqs(f.wait_lines(6)), range(1..=6));
    // Line 3 of the new file, not line 7 of the two.
    let want = format!("{}:3: invalid JSON (stopped by --strict)", s(&log));
    stderr_within(&f, &want, Duration::from_secs(5));
    let (_, status, _) = f.finish();
    assert_eq!(status.code(), Some(2));
}

#[test]
fn strict_after_resuming_from_a_checkpoint_names_bytes() {
    let (d, log) = log_dir();
    let state = d.path().join("state.json");
    append(&log, &events(1..=2));
    let mut f = Follower::spawn(&["--from-start", "--state", s(&state), "--", s(&log)]);
    f.wait_lines(2);
    f.terminate();
    let offset = std::fs::metadata(&log).unwrap().len();
    append(&log, &format!("{BROKEN}\n"));
    let mut f = Follower::spawn(&["--strict", "--state", s(&state), "--", s(&log)]);
    let want = format!(
        "{}: byte {offset}: invalid JSON (stopped by --strict)",
        s(&log)
    );
    stderr_within(&f, &want, Duration::from_secs(5));
    let (_, status, _) = f.finish();
    assert_eq!(status.code(), Some(2));
}
