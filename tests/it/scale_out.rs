//! The scale-out conformance suite (`tests/conformance/`, docs/scale-out.md
//! "Conformance"): `auditq export` writes the corpus, the bundled samples, a generated log
//! and trap events to Parquet; DuckDB, chDB (ClickHouse) and PySpark run what
//! `auditq sql` makes of every query (the docs', the presets, the traps, 2,000
//! generated); each answer must be auditq's own on the raw logs.
//!
//! The engines live in the venv `tests/conformance/setup.sh` makes (`scripts/test.sh`
//! runs it); without it these tests fail, never skip. The query generator is checked
//! here too, with the system's python3 (it needs only the standard library).

use super::common;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// The two suites that start Spark run one at a time.
static ENGINES: Mutex<()> = Mutex::new(());

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn script(name: &str) -> PathBuf {
    root().join("tests/conformance").join(name)
}

/// The target directory the test binary was built in (`…/target`), for the suite's
/// scratch files and the venv.
fn target_dir() -> PathBuf {
    Path::new(common::bin())
        .parent()
        .and_then(Path::parent)
        .expect("auditq's binary is in target/<profile>/")
        .to_path_buf()
}

/// The venv's python with the engines importable: `AUDITQ_CONFORMANCE_PYTHON`, else
/// `target/conformance-venv/bin/python` (where setup.sh puts it).
fn engines_python() -> PathBuf {
    let python = std::env::var_os("AUDITQ_CONFORMANCE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/conformance-venv/bin/python"));
    const HINT: &str = "the conformance suite's engines are not installed: run \
        tests/conformance/setup.sh (scripts/test.sh runs it), or set \
        AUDITQ_CONFORMANCE_PYTHON to a python with duckdb, chdb, pyspark and pyarrow";
    assert!(python.is_file(), "{HINT} ({} is missing)", python.display());
    let check = Command::new(&python)
        .args(["-c", "import duckdb, chdb, pyspark, pyarrow"])
        .output()
        .expect("run the venv's python");
    assert!(
        check.status.success(),
        "{HINT}: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    python
}

fn report(output: &Output) -> String {
    format!(
        "{}\n--- stderr (last lines) ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
            .lines()
            .filter(|l| !l.contains(" WARN "))
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    )
}

#[test]
fn engines_return_what_auditq_returns() {
    let python = engines_python();
    let gen_audit = Path::new(common::bin())
        .parent()
        .unwrap()
        .join("examples/gen_audit");
    assert!(
        gen_audit.is_file(),
        "{} is missing: scripts/test.sh builds it (cargo build --release --example gen_audit)",
        gen_audit.display()
    );
    let corpus = common::corpus_dir();
    let _one = ENGINES.lock().unwrap_or_else(|e| e.into_inner());
    let output = Command::new(python)
        .arg(script("conformance.py"))
        .args(["run", "--auditq", common::bin(), "--gen-audit"])
        .arg(&gen_audit)
        .arg("--corpus")
        .arg(&corpus)
        .arg("--work")
        .arg(target_dir().join("conformance"))
        .output()
        .expect("run tests/conformance/conformance.py");
    let text = report(&output);
    assert!(
        output.status.success(),
        "the engines' answers differ from auditq's (or the suite could not run):\n{text}"
    );
    println!("{text}");
}

#[test]
fn harness_finds_a_wrong_translation_in_every_engine() {
    let python = engines_python();
    let _one = ENGINES.lock().unwrap_or_else(|e| e.into_inner());
    let output = Command::new(python)
        .arg(script("selftest.py"))
        .args(["--auditq", common::bin(), "--work"])
        .arg(target_dir().join("conformance-selftest"))
        .output()
        .expect("run tests/conformance/selftest.py");
    let text = report(&output);
    assert!(
        output.status.success(),
        "the harness' self-test failed:\n{text}"
    );
    assert!(text.contains("SELFTEST OK"), "{text}");
}

/// The generator's queries for `seed`, over the bundled sample and the trap events.
fn generated(seed: u32, count: usize) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let traps = dir.path().join("traps.log");
    let made = Command::new("python3")
        .arg(script("conformance.py"))
        .arg("traps")
        .arg(&traps)
        .output()
        .expect("python3");
    assert!(made.status.success(), "{}", report(&made));
    let output = Command::new("python3")
        .arg(script("conformance.py"))
        .args(["gen-queries", "--auditq", common::bin(), "--seed"])
        .arg(seed.to_string())
        .arg("--count")
        .arg(count.to_string())
        .arg(common::testdata("sample.log"))
        .arg(&traps)
        .output()
        .expect("python3");
    assert!(output.status.success(), "{}", report(&output));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<String>(l).unwrap())
        .collect()
}

#[test]
fn generated_queries_parse_vary_and_sometimes_match() {
    let queries = generated(7, 400);
    assert_eq!(queries.len(), 400);
    assert_eq!(
        generated(7, 400),
        queries,
        "the same seed gives the same queries"
    );
    assert_ne!(generated(8, 50), queries[..50], "another seed, others");

    let sample = common::testdata("sample.log");
    let (mut some, mut all) = (0, 0);
    for (i, q) in queries.iter().enumerate() {
        // Exit 1: parsed, and nothing matched in an empty input.
        let r = common::run(["-c", q.as_str(), "--", "/dev/null"]);
        assert_eq!(
            r.code, 1,
            "generated query {q:?} does not parse: {}",
            r.stderr
        );
        if i < 120 {
            let n = common::count(&[q.as_str()], &sample);
            some += usize::from(n > 0);
            all += usize::from(n == 4000);
        }
    }
    // Drawn from the data, they match sometimes, and not always everything.
    assert!(some >= 40, "only {some} of 120 queries match an event");
    assert!(120 - all >= 60, "{all} of 120 queries match every event");

    // The grammar is covered: every operator, lists, nesting, negation, presets, dotted
    // paths, quoted keys, globs.
    let joined = queries.join("\n");
    for needle in [
        "!=",
        "!~",
        "<=",
        ">=",
        "=~",
        "==",
        " or ",
        " and ",
        "not ",
        "(",
        "@",
        "*",
        "~^",
        "requestObject.",
        "annotations.",
        "(?i)",
        "\\d",
        "time>",
        "'",
    ] {
        assert!(
            joined.contains(needle),
            "no generated query holds {needle:?}"
        );
    }
    let lists = queries
        .iter()
        .filter(|q| q.contains(',') && !q.contains('~'))
        .count();
    assert!(lists >= 20, "only {lists} queries with value lists");
}

/// The Python blocks of docs/scale-out.md marked `# scale-out: NAME`, run as written
/// against the bundled sample (`OUT`: its export; `LOG`: the log; `auditq` on PATH): each
/// prints the lines auditq prints for the same query.
#[test]
fn scale_out_md_engine_paths_print_what_auditq_prints() {
    let python = engines_python();
    let markdown = std::fs::read_to_string(root().join("docs/scale-out.md")).unwrap();
    let mut blocks: Vec<(String, String)> = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in markdown.lines() {
        match current.as_mut() {
            None if line == "```python" => current = Some((String::new(), String::new())),
            Some(_) if line == "```" => {
                let (name, code) = current.take().unwrap();
                if !name.is_empty() {
                    blocks.push((name, code));
                }
            }
            Some((name, code)) => {
                if let Some(n) = line.strip_prefix("# scale-out: ") {
                    *name = n.trim().to_string();
                }
                code.push_str(line);
                code.push('\n');
            }
            None => {}
        }
    }
    assert!(blocks.len() >= 4, "docs/scale-out.md lost its engine paths");

    let dir = tempfile::tempdir().unwrap();
    let log = common::testdata("sample.log");
    let out = dir.path().join("export");
    let export = common::run([
        "export",
        "--format",
        "parquet",
        "-o",
        common::arg(&out).as_str(),
        "--",
        common::arg(&log).as_str(),
    ]);
    assert_eq!(export.code, 0, "auditq export: {}", export.stderr);
    let query = "verb=delete resource=secrets";
    let want = common::run(["-o", "jsonl", query, "--", common::arg(&log).as_str()]).stdout;
    assert!(!want.is_empty());
    let bin_dir = Path::new(common::bin()).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let _one = ENGINES.lock().unwrap_or_else(|e| e.into_inner());
    for (name, code) in blocks {
        assert!(code.contains(query), "{name}: the block runs another query");
        let code = code
            .replace("OUT", &common::arg(&out))
            .replace("LOG", &common::arg(&log));
        let output = Command::new(&python)
            .args(["-c", &code])
            .env("PATH", &path)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{name}:\n{}", report(&output));
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            want,
            "docs/scale-out.md `{name}` printed other lines than auditq"
        );
    }
}
