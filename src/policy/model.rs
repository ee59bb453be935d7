//! An audit policy as the apiserver holds it once loaded (`audit.k8s.io/v1` Policy), with
//! where each part was written, for findings.

use super::yaml::Pos;
use std::fmt;

/// How much of a request is logged. Ordered: None < Metadata < Request < RequestResponse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    None,
    Metadata,
    Request,
    RequestResponse,
}

impl Level {
    pub const ALL: [Level; 4] = [
        Level::None,
        Level::Metadata,
        Level::Request,
        Level::RequestResponse,
    ];

    pub fn parse(text: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "None",
            Level::Metadata => "Metadata",
            Level::Request => "Request",
            Level::RequestResponse => "RequestResponse",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use crate::stage::Stage;

fn bit(stage: Stage) -> u8 {
    1 << (stage as u8)
}

/// A set of stages (omitted stages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Stages(u8);

impl Stages {
    pub fn insert(&mut self, stage: Stage) {
        self.0 |= bit(stage);
    }
    pub fn contains(self, stage: Stage) -> bool {
        self.0 & bit(stage) != 0
    }
    pub fn union(self, other: Stages) -> Stages {
        Stages(self.0 | other.0)
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Stage> {
        Stage::ALL.into_iter().filter(move |s| self.contains(*s))
    }
    /// Names joined with `,` (empty when none).
    pub fn names(self) -> String {
        self.iter().map(Stage::as_str).collect::<Vec<_>>().join(",")
    }
}

impl FromIterator<Stage> for Stages {
    fn from_iter<I: IntoIterator<Item = Stage>>(iter: I) -> Self {
        let mut s = Stages::default();
        for stage in iter {
            s.insert(stage);
        }
        s
    }
}

/// `resources:` entry of a rule.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupResources {
    pub group: String,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    /// Where the entry starts.
    pub pos: Pos,
    /// Where `group:`, and each resource, are written.
    pub group_pos: Option<Pos>,
    pub resource_pos: Vec<Pos>,
}

/// One rule, as loaded (unknown fields ignored, the last of duplicate keys kept).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub level: Level,
    pub users: Vec<String>,
    pub user_groups: Vec<String>,
    pub verbs: Vec<String>,
    pub resources: Vec<GroupResources>,
    pub namespaces: Vec<String>,
    pub non_resource_urls: Vec<String>,
    pub omit_stages: Stages,
    pub omit_managed_fields: Option<bool>,
    /// Where the rule (its `- ` item) starts, and where each key is written.
    pub pos: Pos,
    pub keys: Vec<(String, Pos)>,
}

impl Rule {
    /// A rule with this level that matches every request.
    pub fn catch_all(level: Level) -> Rule {
        Rule {
            level,
            users: vec![],
            user_groups: vec![],
            verbs: vec![],
            resources: vec![],
            namespaces: vec![],
            non_resource_urls: vec![],
            omit_stages: Stages::default(),
            omit_managed_fields: None,
            pos: Pos::default(),
            keys: vec![],
        }
    }

    /// Where `key` is written in this rule, else where the rule starts.
    pub fn key_pos(&self, key: &str) -> Pos {
        self.keys
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, p)| *p)
            .unwrap_or(self.pos)
    }

    /// Matches every request (no condition at all).
    pub fn is_catch_all(&self) -> bool {
        self.users.is_empty()
            && self.user_groups.is_empty()
            && self.verbs.is_empty()
            && self.resources.is_empty()
            && self.namespaces.is_empty()
            && self.non_resource_urls.is_empty()
    }
}

/// A loaded policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub rules: Vec<Rule>,
    pub omit_stages: Stages,
    pub omit_managed_fields: bool,
    /// Where `rules:` is written.
    pub rules_pos: Pos,
}
