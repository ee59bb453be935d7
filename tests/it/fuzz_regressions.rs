//! Inputs the fuzzers (fuzz/, see docs/architecture.md) found crashing, kept as tests
//! that run the fuzz targets' checks on them: `fuzz/regressions/<target>/*`.

use auditq::query::parse_query;
use auditq::search::scan_bytes;
use std::path::Path;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut all: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    all.sort();
    all
}

/// The `framing` target: one block, reader blocks, and a trickling pipe agree.
fn framing(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let (knobs, input) = data.split_at(2);
    let block = 64 + usize::from(knobs[0]) * 16;
    let dribble = usize::from(knobs[1] % 64) + 1;
    let expr = parse_query(&["verb=delete".to_string()]).unwrap();
    let whole = scan_bytes(input, expr.clone(), true, 1 << 20, None);
    let cut = scan_bytes(input, expr.clone(), true, block, None);
    let streamed = scan_bytes(input, expr, false, block, Some(dribble));
    assert_eq!(whole.output, cut.output, "block size {block}");
    assert_eq!(
        whole.output, streamed.output,
        "stream, {dribble} bytes per read"
    );
    assert_eq!(whole.counters.events, cut.counters.events);
    assert_eq!(whole.counters.lines, streamed.counters.lines);
}

#[test]
fn framing_regressions() {
    let all = inputs("framing");
    assert!(!all.is_empty(), "fuzz/regressions/framing is empty");
    for (name, data) in all {
        println!("{name}");
        framing(&data);
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
