//! The query lexer and parser on arbitrary text: an error, never a panic, and the error
//! renders (caret line included).
//! The check is `auditq::fuzzing::query`, which `tests/it/fuzz_regressions.rs` also runs on
//! the inputs kept in `fuzz/regressions/query/`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| auditq::fuzzing::query(data));
