//! Framing as input arrives: arbitrary bytes read as one block, and read as a stream cut
//! into blocks by the reader (block size and pipe chunking from the first two bytes),
//! must give the same output and the same counts.
//! The check is `auditq::fuzzing::framing`, which `tests/it/fuzz_regressions.rs` also runs on
//! the inputs kept in `fuzz/regressions/framing/`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| auditq::fuzzing::framing(data));
