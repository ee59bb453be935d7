//! auditq: select Kubernetes audit events exactly and fast.
//!
//! The data path: [`source`] (files, gzip, stdin) → [`framing`] (lines, prefixes,
//! EventLists, legacy text) → [`prefilter`] (byte needles) → [`parse`] (simd-json) →
//! [`query`] (evaluation) → [`sink`] (output). [`search`] runs that path on all cores.

pub(crate) mod archive;
pub mod block;
pub mod cli;
pub(crate) mod engine;
pub(crate) mod envelope;
pub(crate) mod error;
pub(crate) mod export;
pub mod follow;
pub(crate) mod framing;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod invalid;
pub(crate) mod limits;
pub(crate) mod parse;
pub mod policy;
pub mod prefilter;
pub mod query;
pub mod rbac;
pub(crate) mod report;
pub mod search;
pub(crate) mod serve;
pub mod sink;
pub mod source;
pub(crate) mod sql;
pub(crate) mod stage;
pub(crate) mod syntax;
pub(crate) mod table;
pub(crate) mod timefmt;
