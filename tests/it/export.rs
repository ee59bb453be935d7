//! `auditq export`: the files read back with pyarrow (the Python in target/pyenv that
//! scripts/test.sh installs) and compared with what a search prints; partitions, a
//! previous export, and the failures (an unwritable directory, a full disk, SIGTERM)
//! that must leave no file half written.

use crate::common::{self, arg, bin, testdata};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The Python with pyarrow (scripts/test.sh creates it).
fn python() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run scripts/test.sh once (it creates target/pyenv with pyarrow)",
        p.display()
    );
    p
}

/// Reads an export back: the rows in `seq` order, their `raw` joined with newlines
/// (written to `raw_out`), the schema, and checks of the columns against the leaves.
const READ_BACK: &str = r#"
import sys, json, gzip, glob, os
import pyarrow as pa, pyarrow.dataset as ds
root, raw_out, fmt = sys.argv[1], sys.argv[2], sys.argv[3]
if fmt == "parquet":
    t = ds.dataset(root, format="parquet", partitioning="hive").to_table()
    for name in ("time", "stage_timestamp"):
        if name in t.column_names:
            t = t.set_column(t.column_names.index(name), name, t.column(name).cast(pa.int64()))
    rows = t.sort_by("seq").to_pylist()
    def tname(t):
        return f"map<{t.key_type}, {t.item_type}>" if pa.types.is_map(t) else str(t)
    schema = [[f.name, tname(f.type)] for f in ds.dataset(glob.glob(root + "/**/*.parquet", recursive=True)[0], format="parquet").schema]
else:
    rows = []
    for path in sorted(glob.glob(root + "/**/part-*.jsonl*", recursive=True)):
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            rows += [json.loads(line) for line in f]
    rows.sort(key=lambda r: r["seq"])
    schema = [[k, type(v).__name__] for k, v in rows[0].items()] if rows else []
with open(raw_out, "wb") as f:
    f.write("".join(r["raw"] + "\n" for r in rows).encode("utf-8"))
bad = []
seen = []
for r in rows:
    leaves = r["leaves"]
    def texts(path):
        return [l["text"] for l in leaves if l["path"] == path]
    if not r["complex"] & (1 << 4):
        want = texts("verb")
        if (r["verb"] is None) != (want == []) or (want and [r["verb"]] != want):
            bad.append(["verb", r["seq"], r["verb"], want])
    if not r["complex"] & (1 << 1) and r["groups"] is not None and r["groups"] != texts("user.groups"):
        bad.append(["groups", r["seq"], r["groups"], texts("user.groups")])
    if r["code"] is not None and texts("responseStatus.code") != [str(r["code"])]:
        bad.append(["code", r["seq"], r["code"], texts("responseStatus.code")])
    if r["seq"] != len(seen):
        bad.append(["seq", r["seq"]])
    seen.append(r["seq"])
info = {
    "rows": len(rows),
    "schema": schema,
    "bad": bad[:5],
    "files": sorted(os.path.relpath(p, root) for p in glob.glob(root + "/**/*", recursive=True) if os.path.isfile(p)),
    "hidden": sorted(p for p in glob.glob(root + "/**/.*", recursive=True)),
    "first": {k: v for k, v in rows[0].items() if k not in ("leaves", "raw", "request_object", "response_object")} if rows else None,
    "lines": [[r["seq"], r["source_file"], r["source_line"]] for r in rows[:3]],
    "clusters": sorted(set(str(r.get("cluster")) for r in rows)),
    "dates": sorted(set(str(r.get("date")) for r in rows)),
}
print(json.dumps(info, default=str))
"#;

struct ReadBack {
    info: serde_json::Value,
    raw: Vec<u8>,
}

fn read_back(dir: &Path, format: &str) -> ReadBack {
    let raw_out = dir.with_extension("raw");
    let out = Command::new(python())
        .args(["-c", READ_BACK])
        .arg(dir)
        .arg(&raw_out)
        .arg(format)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pyarrow read-back failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let raw = std::fs::read(&raw_out).unwrap();
    ReadBack { info, raw }
}

/// `auditq ARGS`, its exit code, stdout and stderr.
fn auditq(args: &[String]) -> (i32, Vec<u8>, String) {
    let out = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.code().unwrap_or(-1), out.stdout, stderr)
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Exports `inputs` (with `extra` options) into a new directory and checks it against
/// the search: row count == `auditq -c`, `raw` == `auditq -o jsonl` byte for byte.
fn round_trip(inputs: &[String], extra: &[&str], format: &str) -> (tempfile::TempDir, ReadBack) {
    // Options of the reading, which the search takes too.
    let reading: Vec<String> = extra
        .iter()
        .filter(|o| ["-r", "--backups", "--unwrap"].contains(o))
        .map(|o| o.to_string())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut args = strings(&["export", "--format", format, "-o"]);
    args.push(arg(&out));
    args.extend(strings(extra));
    args.extend(inputs.iter().cloned());
    let (code, _, stderr) = auditq(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("exported "), "{stderr}");
    let mut search = strings(&["-o", "jsonl"]);
    search.extend(reading.iter().cloned());
    search.extend(inputs.iter().cloned());
    let (_, printed, _) = auditq(&search);
    let mut count = strings(&["-c"]);
    count.extend(reading.iter().filter(|o| *o != "--unwrap").cloned());
    count.extend(inputs.iter().cloned());
    let (_, counted, _) = auditq(&count);
    let counted: u64 = String::from_utf8_lossy(&counted).trim().parse().unwrap();
    let back = read_back(&out, format);
    assert_eq!(back.info["rows"], counted, "{}", back.info);
    assert!(counted > 0);
    assert_eq!(back.info["bad"], serde_json::json!([]), "{}", back.info);
    assert_eq!(
        back.info["hidden"],
        serde_json::json!([]),
        "temporary files left"
    );
    // Parquet and JSON strings are UTF-8: an invalid byte (testdata/edge/invalid.log) is
    // U+FFFD in `raw`; every other byte is the same.
    let printed = String::from_utf8_lossy(&printed).into_owned().into_bytes();
    if back.raw != printed {
        let (a, b) = (
            String::from_utf8_lossy(&back.raw),
            String::from_utf8_lossy(&printed),
        );
        let at = a.lines().zip(b.lines()).position(|(x, y)| x != y);
        panic!(
            "raw differs from -o jsonl at line {at:?} ({} vs {} bytes)",
            a.len(),
            b.len()
        );
    }
    (dir, back)
}

/// The columns and their Arrow types, as pyarrow reads them.
const SCHEMA: &[(&str, &str)] = &[
    ("time", "timestamp[ns, tz=UTC]"),
    ("time_ns", "int64"),
    ("time_text", "string"),
    ("stage_timestamp", "timestamp[ns, tz=UTC]"),
    ("audit_id", "string"),
    ("stage", "string"),
    ("level", "string"),
    ("verb", "string"),
    ("user", "string"),
    ("groups", "list<item: string>"),
    ("impersonated_user", "string"),
    ("impersonated_groups", "list<item: string>"),
    ("source_ips", "list<item: string>"),
    ("user_agent", "string"),
    ("request_uri", "string"),
    ("resource", "string"),
    ("subresource", "string"),
    ("resource_path", "string"),
    ("namespace", "string"),
    ("name", "string"),
    ("api_group", "string"),
    ("api_version", "string"),
    ("code", "int64"),
    ("decision", "string"),
    ("reason", "string"),
    ("annotations", "map<string, string>"),
    ("request_object", "string"),
    ("response_object", "string"),
    ("complex", "int64"),
    (
        "leaves",
        "list<item: struct<path: string not null, text: string, num: double, is_num: bool not null, ts: int64> not null>",
    ),
    ("raw", "string"),
    ("seq", "int64"),
    ("source_file", "string"),
    ("source_line", "int64"),
    ("cluster", "string"),
    ("date", "string"),
];

fn samples() -> Vec<String> {
    let mut files = vec![arg(&testdata("sample.log"))];
    for f in common::files_under(&testdata("edge")) {
        // A truncated gzip is an input error: an export of it is refused (tested below).
        if !f.ends_with("truncated.log.gz") {
            files.push(arg(&f));
        }
    }
    files
}

#[test]
fn parquet_of_the_samples_reads_back_as_the_search_prints_them() {
    let (_dir, back) = round_trip(&samples(), &[], "parquet");
    let schema: Vec<(String, String)> =
        serde_json::from_value(back.info["schema"].clone()).unwrap();
    let want: Vec<(String, String)> = SCHEMA
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    assert_eq!(schema, want);
    // Each line of sample.log is one event: line = seq + 1.
    let sample = arg(&testdata("sample.log"));
    assert_eq!(
        back.info["lines"],
        serde_json::json!([[0, sample, 1], [1, sample, 2], [2, sample, 3]])
    );
    let first = &back.info["first"];
    assert_eq!(first["verb"], "update");
    assert_eq!(first["groups"], serde_json::json!(["system:authenticated"]));
    assert_eq!(first["code"], 200);
    assert_eq!(first["date"], "2026-01-05");
    assert_eq!(first["cluster"], serde_json::Value::Null);
}

#[test]
fn parquet_of_the_corpus_reads_back_as_the_search_prints_it() {
    let corpus = arg(&common::corpus_dir());
    round_trip(&[corpus], &["-r"], "parquet");
}

#[test]
fn envelopes_export_the_inner_events() {
    let envelopes = arg(&testdata("envelopes"));
    for extra in [&[][..], &["--unwrap"]] {
        let (_dir, back) = round_trip(std::slice::from_ref(&envelopes), extra, "parquet");
        assert!(back.info["first"]["verb"].is_string(), "{}", back.info);
        assert!(back.info["first"]["audit_id"].is_string(), "{}", back.info);
    }
}

#[test]
fn jsonl_reads_back_the_same_rows() {
    let (_d, back) = round_trip(&samples(), &["--compress", "gzip"], "jsonl");
    let names: Vec<String> = back.info["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, SCHEMA.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    assert_eq!(back.info["first"]["time"], "2026-01-05T10:00:00.002284000Z");
    let files = back.info["files"].as_array().unwrap();
    assert!(
        files
            .iter()
            .all(|f| f.as_str().unwrap().ends_with(".jsonl.gz"))
    );
    round_trip(&samples(), &[], "jsonl");
}

#[test]
fn partitions_clusters_and_previous_exports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tree");
    let sample = arg(&testdata("sample.log"));
    let export = |extra: &[&str]| {
        let mut args = strings(&["export", "--partition", "cluster,date", "-o"]);
        args.push(arg(&out));
        args.extend(strings(extra));
        args.push(sample.clone());
        auditq(&args)
    };
    let (code, _, err) = export(&["--cluster", "c1"]);
    assert_eq!(code, 0, "{err}");
    let back = read_back(&out, "parquet");
    assert_eq!(back.info["rows"], 4000);
    let files = back.info["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    let file = files[0].as_str().unwrap();
    assert!(
        file.starts_with("cluster=c1/date=2026-01-05/part-00000-") && file.ends_with(".parquet"),
        "{file}"
    );
    // The partition columns come from the directories, not from the files.
    let schema: Vec<String> = back.info["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[0].as_str().unwrap().to_string())
        .collect();
    assert!(!schema.contains(&"cluster".to_string()) && !schema.contains(&"date".to_string()));
    assert_eq!(back.info["clusters"], serde_json::json!(["c1"]));
    // A second cluster into the same tree.
    let (code, _, err) = export(&["--cluster", "c2"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(read_back(&out, "parquet").info["rows"], 8000);
    // The same cluster again: refused, unless appended or replaced.
    let (code, _, err) = export(&["--cluster", "c1"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("already holds an export") && err.contains("--append"),
        "{err}"
    );
    let (code, _, err) = export(&["--cluster", "c1", "--append"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(read_back(&out, "parquet").info["rows"], 12000);
    let (code, _, err) = export(&["--cluster", "c1", "--overwrite"]);
    assert_eq!(code, 0, "{err}");
    let back = read_back(&out, "parquet");
    assert_eq!(back.info["rows"], 8000);
    assert_eq!(back.info["clusters"], serde_json::json!(["c1", "c2"]));
    // `cluster` needs a name.
    let (code, _, err) = export(&[]);
    assert_eq!(code, 2);
    assert!(err.contains("--partition cluster needs --cluster"), "{err}");
    let (code, _, err) = export(&["--cluster", "a/b"]);
    assert_eq!(code, 2);
    assert!(err.contains("not a cluster name"), "{err}");
}

#[test]
fn an_unwritable_directory_is_refused_before_reading() {
    let (_d, file) = common::temp_file("plain", b"x");
    let out = file.join("out");
    let (code, _, err) = auditq(&strings(&[
        "export",
        "-o",
        &arg(&out),
        &arg(&testdata("sample.log")),
    ]));
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot create the output directory") && err.contains(&arg(&out)),
        "{err}"
    );
}

/// A log of `mib` MiB made of sample.log's lines.
fn big_log(dir: &Path, mib: usize) -> PathBuf {
    let sample = std::fs::read(testdata("sample.log")).unwrap();
    let path = dir.join("big.log");
    let mut data = Vec::with_capacity(mib << 20);
    while data.len() < mib << 20 {
        data.extend_from_slice(&sample);
    }
    std::fs::write(&path, data).unwrap();
    path
}

/// Everything in `dir`, recursively (files and directories).
fn everything(dir: &Path) -> Vec<PathBuf> {
    if !dir.exists() {
        return Vec::new();
    }
    common::files_under(dir)
}

#[test]
fn a_full_disk_leaves_nothing() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let log = big_log(dir.path(), 12);
    let out = dir.path().join("out");
    for format in ["parquet", "jsonl"] {
        let mut cmd = Command::new(bin());
        cmd.args(["export", "--format", format, "-o"])
            .arg(&out)
            .arg(&log)
            .stdin(Stdio::null());
        // SAFETY: between fork and exec only async-signal-safe calls (signal, setrlimit).
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let limit = libc::rlimit {
                    rlim_cur: 256 << 10,
                    rlim_max: 256 << 10,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let o = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{format}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            err.contains("cannot write") && err.contains("file size limit") && err.contains(".tmp"),
            "{format}: {err}"
        );
        assert!(err.contains("nothing was exported"), "{err}");
        assert_eq!(everything(&out), Vec::<PathBuf>::new(), "{format}");
    }
}

#[test]
fn sigterm_mid_export_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = big_log(dir.path(), 40);
    let out = dir.path().join("out");
    let child = Command::new(bin())
        .args(["export", "-o"])
        .arg(&out)
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the export has begun writing a file.
    let started = std::time::Instant::now();
    while everything(&out).is_empty() && started.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    if o.status.code() == Some(0) {
        // It finished first: then the files are complete (they read back).
        assert!(err.contains("exported"), "{err}");
        return;
    }
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    assert_eq!(everything(&out), Vec::<PathBuf>::new());
}

#[test]
fn an_input_error_exports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, _, err) = auditq(&strings(&[
        "export",
        "-o",
        &arg(&out),
        &arg(&testdata("sample.log")),
        &arg(&testdata("edge/truncated.log.gz")),
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the export is incomplete") && err.contains("nothing was exported"),
        "{err}"
    );
    assert_eq!(everything(&out), Vec::<PathBuf>::new());
}

/// Every option of a search is either an option of `export` too or refused by clap
/// (never accepted and ignored).
#[test]
fn every_search_option_works_or_is_refused() {
    use clap::CommandFactory;
    let top = auditq::cli::args::Args::command();
    let export = top
        .get_subcommands()
        .find(|s| s.get_name() == "export")
        .expect("export subcommand")
        .clone();
    let shared: Vec<String> = export
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    for a in top.get_arguments() {
        let id = a.get_id().to_string();
        let Some(long) = a.get_long() else {
            continue; // positional: the inputs and query, shared
        };
        let parsed = auditq::cli::args::Args::parse_checked_from([
            "auditq".to_string(),
            "export".into(),
            "-o".into(),
            "x".into(),
            format!("--{long}"),
        ]);
        if shared.contains(&id) {
            if let Err(e) = parsed {
                assert_ne!(
                    e.kind(),
                    clap::error::ErrorKind::UnknownArgument,
                    "--{long}: {e}"
                );
            }
        } else {
            let e = parsed.expect_err(&format!("--{long} accepted by export"));
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::UnknownArgument,
                "--{long}"
            );
        }
    }
    // What export takes of a search's options.
    for id in [
        "args",
        "files",
        "query",
        "since",
        "until",
        "backups",
        "recursive",
        "threads",
        "strict",
        "max_line_bytes",
        "no_prefilter",
        "unwrap",
        "stats",
        "verbose",
    ] {
        assert!(shared.contains(&id.to_string()), "{id}");
    }
}
