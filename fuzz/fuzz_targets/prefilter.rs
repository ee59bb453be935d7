//! Differential: the prefilter never changes a result. The first line of the input is
//! the query (skipped when it does not parse), the rest the log.
//! The check is `auditq::fuzzing::prefilter`, which `tests/it/fuzz_regressions.rs` also runs on
//! the inputs kept in `fuzz/regressions/prefilter/`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| auditq::fuzzing::prefilter(data));
