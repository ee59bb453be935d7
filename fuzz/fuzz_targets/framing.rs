//! Framing as input arrives: arbitrary bytes read as one block, and read as a stream cut
//! into blocks by the reader (block size and pipe chunking from the first two bytes),
//! must give the same output and the same counts.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (knobs, input) = data.split_at(2);
    let block = 64 + usize::from(knobs[0]) * 16;
    let dribble = usize::from(knobs[1] % 64) + 1;
    let expr = auditq::query::parse_query(&["verb=delete".to_string()]).expect("valid query");
    let whole = auditq::search::scan_bytes(input, expr.clone(), true, 1 << 20, None);
    let cut = auditq::search::scan_bytes(input, expr.clone(), true, block, None);
    let streamed =
        auditq::search::scan_bytes(input, expr, false, block, Some(dribble));
    assert_eq!(whole.output, cut.output, "block size {block}");
    assert_eq!(whole.output, streamed.output, "stream, {dribble} bytes per read");
    assert_eq!(whole.counters.events, cut.counters.events);
    assert_eq!(whole.counters.lines, streamed.counters.lines);
});
