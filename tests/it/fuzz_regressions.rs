//! Inputs the fuzzers (fuzz/, see docs/architecture.md) found crashing, kept as tests
//! that run the fuzz targets' checks (`auditq::fuzzing`, the same functions the targets
//! call) on them: `fuzz/regressions/<target>/*`.

use auditq::fuzzing;
use auditq::query::parse_query;
use auditq::search::scan_bytes;
use std::path::Path;

/// A fuzz target's check: panics when it fails.
type Check = fn(&[u8]);

/// Each fuzz target (fuzz/Cargo.toml) and its check.
const TARGETS: [(&str, Check); 5] = [
    ("checkpoint", fuzzing::checkpoint),
    ("framing", fuzzing::framing),
    ("mapped", fuzzing::mapped),
    ("prefilter", fuzzing::prefilter),
    ("query", fuzzing::query),
];

fn regressions() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions")
}

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(regressions().join(target)) else {
        return Vec::new();
    };
    let mut all: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    all.sort();
    all
}

#[test]
fn every_kept_input_passes_its_targets_check() {
    assert!(
        !inputs("framing").is_empty(),
        "fuzz/regressions/framing is empty"
    );
    for (target, check) in TARGETS {
        for (name, data) in inputs(target) {
            println!("{name}");
            check(&data);
        }
    }
}

/// A folder of `fuzz/regressions` that names no target would never run.
#[test]
fn every_regressions_folder_names_a_fuzz_target() {
    let manifest = std::fs::read_to_string(regressions().join("../Cargo.toml")).unwrap();
    for entry in std::fs::read_dir(regressions()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            TARGETS.iter().any(|(t, _)| *t == name),
            "fuzz/regressions/{name}: no such target in TARGETS"
        );
    }
    for (target, _) in TARGETS {
        assert!(
            manifest.contains(&format!("path = \"fuzz_targets/{target}.rs\"")),
            "{target} is not a target in fuzz/Cargo.toml"
        );
    }
}

/// A damaged gzip gives the same good prefix however it arrives (the first fuzz find).
#[test]
fn corrupt_gzip_gives_the_same_prefix_from_a_file_and_a_pipe() {
    let mut gz = Vec::new();
    {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::fast());
        for i in 0..20_000 {
            writeln!(
                enc,
                "{{\"kind\":\"Event\",\"verb\":\"delete\",\"auditID\":\"{i}\"}}"
            )
            .unwrap();
        }
        enc.finish().unwrap();
    }
    let len = gz.len();
    gz[len / 2] ^= 0x55;
    gz[len / 2 + 1] ^= 0xaa;
    let expr = parse_query(&["verb=delete".to_string()]).unwrap();
    let file = scan_bytes(&gz, expr.clone(), true, 1 << 20, None);
    for (block, dribble) in [(4096, Some(7)), (100_000, Some(1000)), (64, None)] {
        let other = scan_bytes(&gz, expr.clone(), true, block, dribble);
        assert_eq!(file.output, other.output, "{block} {dribble:?}");
    }
    assert!(!file.output.is_empty());
}
