//! The path of large plain files: the input written to a file and read through a private
//! map, cut into blocks on the map (block size from the first byte), must give what
//! reading it as one block gives. Run with AddressSanitizer (`-s address`, cargo fuzz's
//! default) to check that no block reads outside the map.
//! The check is `auditq::fuzzing::mapped`, which `tests/it/fuzz_regressions.rs` also runs
//! on the inputs kept in `fuzz/regressions/mapped/`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| auditq::fuzzing::mapped(data));
