//! auditq: select Kubernetes audit events exactly and fast.
//!
//! The data path: [`source`] (files, gzip, stdin) → [`framing`] (lines, prefixes,
//! EventLists, legacy text) → [`prefilter`] (byte needles) → [`parse`] (simd-json) →
//! [`query`] (evaluation) → [`sink`] (output). [`search`] runs that path on all cores.

pub mod archive;
pub mod block;
pub mod cli;
pub mod envelope;
pub mod error;
pub mod follow;
pub mod framing;
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
pub mod parse;
pub mod policy;
pub mod prefilter;
pub mod query;
pub mod report;
pub mod search;
pub mod serve;
pub mod sink;
pub mod source;
pub mod syntax;
pub mod timefmt;
