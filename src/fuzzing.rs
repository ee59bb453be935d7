//! The checks of the fuzz targets (`fuzz/fuzz_targets/`, see docs/architecture.md
//! "Fuzzing"), in one place: each target calls its function here on libFuzzer's input,
//! and the regression test (`tests/it/fuzz_regressions.rs`) calls the same function on
//! the inputs kept in `fuzz/regressions/<target>/`. Each panics when its check fails.

use crate::block::{BlockProcessor, BlockResult, Plan};
use crate::query::parse_query;
use crate::search::scan_bytes;
use crate::source::mapped::{Mapped, MappedBlocks, MappedChunk};
use std::sync::Arc;

/// `framing`: arbitrary bytes read as one block, read as reader blocks of another size,
/// and read as a pipe handing out a few bytes at a time (block size and bytes per read
/// from the first two bytes) give the same output and the same counts.
pub fn framing(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let (knobs, input) = data.split_at(2);
    let block = 64 + usize::from(knobs[0]) * 16;
    let dribble = usize::from(knobs[1] % 64) + 1;
    let expr = parse_query(&["verb=delete".to_string()]).expect("valid query");
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

/// `prefilter` (differential): the first line of the input is a query (nothing to check
/// when it does not parse), the rest a log; the prefilter on and off give the same output
/// and the same number of matches.
pub fn prefilter(data: &[u8]) {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let query = String::from_utf8_lossy(&data[..split]).into_owned();
    let log = data.get(split + 1..).unwrap_or(&[]);
    let Ok(expr) = parse_query(&[query]) else {
        return;
    };
    let with = scan_bytes(log, expr.clone(), true, 1 << 20, None);
    let without = scan_bytes(log, expr, false, 1 << 20, None);
    assert_eq!(with.output, without.output);
    assert_eq!(with.counters.matched, without.counters.matched);
}

/// `query`: the lexer and parser (one query argument a line), the prefilter built from
/// what parses, and the `--fields` list parser, on arbitrary text: an error (which
/// renders), never a panic.
pub fn query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parts: Vec<String> = text.split('\n').map(str::to_string).collect();
    match parse_query(&parts) {
        Ok(expr) => {
            let _ = crate::prefilter::Prefilter::new(&expr);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    for part in &parts {
        let _ = crate::sink::parse_field_list(part);
    }
}

/// `checkpoint`: the `--state` reader on arbitrary bytes: an error, never a panic.
pub fn checkpoint(data: &[u8]) {
    let _ = crate::follow::checkpoint::parse(data);
}

/// `mapped`: the path of large plain files — the bytes written to a file, read through a
/// private map (SIGBUS handler installed) in blocks cut on the map (block size from the
/// first byte) — gives the output and the counts of reading the same bytes as one block.
/// Run under AddressSanitizer, it checks that no block reads outside the map.
pub fn mapped(data: &[u8]) {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let Some((knob, input)) = data.split_first() else {
        return;
    };
    let block = 64 + usize::from(*knob) * 16;
    let expr = parse_query(&["verb=delete".to_string()]).expect("valid query");
    let whole = scan_bytes(input, expr.clone(), true, 1 << 20, None);
    let path = std::env::temp_dir().join(format!(
        "auditq-fuzz-mapped-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = std::fs::File::create(&path).and_then(|mut f| f.write_all(input));
    let file = written.and_then(|()| std::fs::File::open(&path));
    let _ = std::fs::remove_file(&path);
    let Ok(file) = file else {
        return;
    };
    let Ok(Some(map)) = Mapped::open_from(&file, &path, 1) else {
        return;
    };
    let map = Arc::new(map);
    let mut processor = BlockProcessor::new(Arc::new(Plan::jsonl(expr, true)));
    let mut blocks = MappedBlocks::new(
        Arc::clone(&map),
        0,
        block,
        crate::limits::DEFAULT_MAX_LINE_BYTES,
    );
    let mut out = Vec::new();
    let mut events = 0;
    let mut result = BlockResult::default();
    while let Some(chunk) = blocks.next_chunk() {
        if let MappedChunk::Lines(range) = chunk {
            result.clear();
            processor.process(&map.bytes()[range], &mut result);
            out.extend_from_slice(&result.out);
            events += result.counters.events;
        }
    }
    assert_eq!(out, whole.output, "mapped, block size {block}");
    assert_eq!(events, whole.counters.events);
}
