//! The error of a value that is not valid — an option's value, a request description —
//! with what is wrong in words. Clap prints it after the option's name; elsewhere it
//! becomes [`crate::error::Error::Usage`]. The lowest module: anything may use it.

/// A value that is not valid, and why (one sentence, naming the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl From<String> for Invalid {
    fn from(text: String) -> Invalid {
        Invalid(text)
    }
}

impl From<&str> for Invalid {
    fn from(text: &str) -> Invalid {
        Invalid(text.to_string())
    }
}
