//! The stages of a request's handling: each logged stage is one audit event. One type for
//! the whole crate: `--dedupe` and `--merge` read it from events, audit policies omit
//! stages by it.

/// A stage, ordered by how complete the request is when it is logged (what `--dedupe`
/// keeps: the greatest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    RequestReceived,
    ResponseStarted,
    Panic,
    ResponseComplete,
}

impl Stage {
    /// Every stage, in the order the Kubernetes documentation lists them.
    pub const ALL: [Stage; 4] = [
        Stage::RequestReceived,
        Stage::ResponseStarted,
        Stage::ResponseComplete,
        Stage::Panic,
    ];

    /// The stage of this name (as the apiserver writes it; case matters), if any.
    pub fn parse(text: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::RequestReceived => "RequestReceived",
            Stage::ResponseStarted => "ResponseStarted",
            Stage::ResponseComplete => "ResponseComplete",
            Stage::Panic => "Panic",
        }
    }

    /// The last stage a request can have.
    pub fn is_final(self) -> bool {
        matches!(self, Stage::ResponseComplete | Stage::Panic)
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_order() {
        for s in Stage::ALL {
            assert_eq!(Stage::parse(s.as_str()), Some(s));
        }
        assert_eq!(Stage::parse("responsecomplete"), None);
        assert!(Stage::RequestReceived < Stage::ResponseStarted);
        assert!(Stage::ResponseStarted < Stage::Panic && Stage::Panic < Stage::ResponseComplete);
        assert!(Stage::Panic.is_final() && !Stage::ResponseStarted.is_final());
    }
}
