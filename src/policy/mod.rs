//! Audit policies (`--audit-policy-file`): loading as kube-apiserver does ([`load`]), a
//! reviewer's warnings ([`lint`]), and the apiserver's rule matching ([`matcher`]).
//! Independent of the search engine: it imports neither `cli` nor `search`.

pub(crate) mod doctor;
pub(crate) mod eval;
pub(crate) mod known;
pub(crate) mod lint;
pub mod load;
pub(crate) mod matcher;
pub(crate) mod model;
pub(crate) mod yaml;

#[cfg(test)]
mod checker_cases;

pub use load::{Finding, Loaded, Severity, load};
pub use matcher::{Attributes, Decision, evaluate};
pub use model::{Level, Policy, Rule, Stage, Stages};

/// Every finding on a policy file's text: decoding and validation, then (if the
/// apiserver would load it) the reviewer's warnings.
pub fn lint_text(text: &str) -> Loaded {
    let mut loaded = load(text);
    if let Some(policy) = &loaded.policy {
        loaded.findings.extend(lint::check(policy));
        loaded.findings.sort_by_key(|f| f.pos);
    }
    loaded
}
