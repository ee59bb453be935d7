//! Differential: the prefilter never changes a result. The first line of the input is
//! the query (skipped when it does not parse), the rest the log.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let query = String::from_utf8_lossy(&data[..split]).into_owned();
    let log = data.get(split + 1..).unwrap_or(&[]);
    let Ok(expr) = auditq::query::parse_query(&[query]) else {
        return;
    };
    let with = auditq::search::scan_bytes(log, expr.clone(), true, 1 << 20, None);
    let without = auditq::search::scan_bytes(log, expr, false, 1 << 20, None);
    assert_eq!(with.output, without.output);
    assert_eq!(with.counters.matched, without.counters.matched);
});
