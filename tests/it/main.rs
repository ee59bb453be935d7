//! The integration tests, as one test binary (docs/testing.md): one link of the library
//! and its dependencies instead of one a file, and one process whose test threads are
//! kept busy across files. Each file is a module; run one with a name filter, e.g.
//! `cargo test --release --test it serve::`.
//!
//! `tests/follow_lumberjack.rs` is a binary of its own: its tests must have the machine
//! to themselves (see there).

mod common;

mod archives;
mod cli;
mod corpus;
mod docs;
mod doctor;
mod export;
mod follow_scenarios;
mod formats;
mod fuzz_regressions;
mod options;
mod policy_cli;
mod policy_reference;
mod presets;
mod properties;
mod rbac;
mod reports;
mod scale_out;
mod serve;
mod sql;
