//! The `--state` checkpoint reader on arbitrary bytes: an error, never a panic.
//! The check is `auditq::fuzzing::checkpoint`, which `tests/it/fuzz_regressions.rs` also runs on
//! the inputs kept in `fuzz/regressions/checkpoint/`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| auditq::fuzzing::checkpoint(data));
