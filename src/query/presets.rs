//! Presets: named investigations used in a query like any term (`@exec ns=prod`).
//!
//! A [`Presets`] value is a registry of names → query texts: the built-ins below, plus the
//! presets of a user's TOML file (which may replace a built-in). It is built once (by the
//! command line's config) and handed to the parser; nothing here is global or mutable
//! after loading. The parser expands `@name` into the parsed expression of its query text,
//! parenthesised, so a preset behaves as one term.

use super::error::QueryError;
use super::fields::edit_distance;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a preset comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    BuiltIn,
    File(PathBuf),
}

/// One named query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preset {
    /// The name, without `@`.
    pub name: String,
    /// The query text it stands for.
    pub query: String,
    /// What it finds, in one line.
    pub description: String,
    pub origin: Origin,
    /// A user preset that replaces the built-in of the same name.
    pub replaces_builtin: bool,
}

/// The built-in presets: (name, query, meaning). Each query is written from the
/// Kubernetes API's own semantics (verbs, resources and subresources as the API server
/// records them), and each is checked against real audit logs in `tests/it/presets.rs`.
pub const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "exec",
        "resource=pods/exec,pods/attach,pods/portforward verb=create,get",
        "commands run in, attached to or port-forwarded to pods (kubectl exec/attach/port-forward/cp: \
         create, or get from WebSocket clients, on pods/exec, pods/attach, pods/portforward)",
    ),
    (
        "secrets-read",
        "resource=secrets verb=get,list,watch not user=system:*",
        "secrets read, listed or watched by users that are not system:* (people and outside \
         clients, not controllers, nodes or service accounts)",
    ),
    (
        "rbac-changes",
        "resource=roles,clusterroles,rolebindings,clusterrolebindings \
         verb=create,update,patch,delete,deletecollection",
        "roles, cluster roles and their bindings created, changed or deleted",
    ),
    (
        "anonymous",
        "user=system:anonymous or group=system:unauthenticated",
        "requests without credentials (user system:anonymous, group system:unauthenticated)",
    ),
    (
        "forbidden",
        "code=403",
        "requests refused with 403 Forbidden (authorization or admission denied them)",
    ),
    (
        "privileged-pods",
        "resource=pods verb=create (requestObject.spec.containers.securityContext.privileged=true \
         or requestObject.spec.initContainers.securityContext.privileged=true \
         or requestObject.spec.hostNetwork=true or requestObject.spec.hostPID=true \
         or requestObject.spec.hostIPC=true or requestObject.spec.volumes.hostPath=*)",
        "pods created privileged, in the host's network, PID or IPC namespace, or with a \
         hostPath volume (needs events logged at level Request or RequestResponse)",
    ),
    (
        "token-requests",
        "resource=serviceaccounts/token verb=create",
        "service-account tokens requested through the TokenRequest API \
         (create on serviceaccounts/token)",
    ),
    (
        "impersonation",
        "as=*",
        "requests made as another user (impersonatedUser is set: kubectl --as, Impersonate-User)",
    ),
    (
        "deletions",
        "verb=delete,deletecollection",
        "deletions of objects and collections",
    ),
    (
        "csr-approvals",
        "resource=certificatesigningrequests/approval verb=update,patch",
        "certificate signing requests approved or denied (the approval subresource, as \
         kubectl certificate approve/deny writes it)",
    ),
    (
        "node-proxy",
        "resource=nodes/proxy",
        "requests passed to a kubelet through the API server's node proxy (nodes/proxy, \
         which can run commands in any pod on the node)",
    ),
];

/// The registry of presets a query may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presets {
    /// Built-ins in their table order (a replaced one keeps its place), then file presets
    /// by name.
    list: Vec<Preset>,
}

impl Default for Presets {
    fn default() -> Self {
        Presets::builtin()
    }
}

/// A presets file that cannot be used: its path, the line (1-based) when known, what is
/// wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetFileError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for PresetFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for PresetFileError {}

/// The file format:
///
/// ```toml
/// [presets.team-a-deletes]
/// query = "ns=team-a @deletions"
/// description = "what was deleted in team A's namespace"
/// ```
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    presets: BTreeMap<toml::Spanned<String>, Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    query: toml::Spanned<String>,
    #[serde(default)]
    description: String,
}

impl Presets {
    /// The built-in presets only.
    pub fn builtin() -> Presets {
        Presets {
            list: BUILTIN
                .iter()
                .map(|(name, query, description)| Preset {
                    name: name.to_string(),
                    query: query.to_string(),
                    description: description.to_string(),
                    origin: Origin::BuiltIn,
                    replaces_builtin: false,
                })
                .collect(),
        }
    }

    /// The preset called `name` (without `@`).
    pub fn get(&self, name: &str) -> Option<&Preset> {
        self.list.iter().find(|p| p.name == name)
    }

    /// Every preset, built-ins first.
    pub fn iter(&self) -> impl Iterator<Item = &Preset> {
        self.list.iter()
    }

    /// The known name closest to `name` (a typo, or the start of a name), if any.
    pub fn nearest(&self, name: &str) -> Option<&str> {
        let lower = name.to_ascii_lowercase();
        if lower.len() >= 3
            && let Some(p) = self.list.iter().find(|p| p.name.starts_with(&lower))
        {
            return Some(&p.name);
        }
        self.list
            .iter()
            .map(|p| (edit_distance(&lower, &p.name.to_ascii_lowercase()), &p.name))
            .filter(|(d, n)| *d <= (n.len() / 3).max(2))
            .min_by_key(|(d, _)| *d)
            .map(|(_, n)| n.as_str())
    }

    /// Adds the presets of a TOML file (`text`, read from `path`). A preset named like a
    /// built-in replaces it. Every preset of the file must parse as a query (with the
    /// presets it uses), so a mistake is reported once, with its line, when the file is
    /// loaded.
    pub fn add_toml(&mut self, text: &str, path: &Path) -> Result<(), PresetFileError> {
        let error = |line: Option<usize>, message: String| PresetFileError {
            path: path.to_path_buf(),
            line,
            message,
        };
        let file: File = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|span| line_of(text, span.start));
            error(line, e.message().trim_end().to_string())
        })?;
        let mut added = Vec::new();
        for (name, entry) in file.presets {
            let line = line_of(text, name.span().start);
            let name = name.into_inner();
            if let Some(problem) = name_problem(&name) {
                return Err(error(Some(line), problem));
            }
            let query_line = line_of(text, entry.query.span().start);
            let preset = Preset {
                replaces_builtin: self.get(&name).is_some_and(|p| p.origin == Origin::BuiltIn),
                name,
                query: entry.query.into_inner(),
                description: entry.description.trim().to_string(),
                origin: Origin::File(path.to_path_buf()),
            };
            match self.list.iter_mut().find(|p| p.name == preset.name) {
                Some(slot) => *slot = preset.clone(),
                None => self.list.push(preset.clone()),
            }
            added.push((preset, query_line));
        }
        for (preset, line) in added {
            super::parser::parse_preset(&preset.name, self).map_err(|mut e| {
                e.query = preset.query.clone();
                error(Some(line), format!("preset `{}`: {e}", preset.name))
            })?;
        }
        Ok(())
    }
}

/// Why `name` cannot be a preset name, if it cannot.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a preset needs a name".to_string());
    }
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return None;
    }
    Some(format!(
        "invalid preset name `{name}`: use letters, digits, `-` and `_` (e.g. my-team)"
    ))
}

/// The error for `@name` when no preset has that name.
pub fn unknown(name: &str, presets: &Presets, span: super::Span) -> QueryError {
    let err = QueryError::new(format!("unknown preset `@{name}`"), span);
    match presets.nearest(name) {
        Some(best) => err.with_hint(format!(
            "did you mean `@{best}`? (auditq --presets lists every preset)"
        )),
        None => err.with_hint("auditq --presets lists every preset"),
    }
}

/// The 1-based line holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parser::parse_text_with;

    #[test]
    fn every_builtin_parses_and_is_described() {
        let presets = Presets::builtin();
        for p in presets.iter() {
            parse_text_with(&p.query, &presets).unwrap_or_else(|e| panic!("@{}: {e}", p.name));
            assert!(name_problem(&p.name).is_none(), "{}", p.name);
            assert!(!p.description.is_empty() && !p.description.contains('\n'));
            assert!(!p.description.contains("  "), "{}", p.description);
            assert!(!p.query.contains("  "), "{}", p.query);
        }
        let names: Vec<&str> = presets.iter().map(|p| p.name.as_str()).collect();
        for name in [
            "exec",
            "secrets-read",
            "rbac-changes",
            "anonymous",
            "forbidden",
            "privileged-pods",
            "token-requests",
            "impersonation",
            "deletions",
            "csr-approvals",
            "node-proxy",
        ] {
            assert!(names.contains(&name), "{name}");
        }
    }

    #[test]
    fn nearest_names() {
        let p = Presets::builtin();
        assert_eq!(p.nearest("exc"), Some("exec"));
        assert_eq!(p.nearest("secret"), Some("secrets-read"));
        assert_eq!(p.nearest("rbac"), Some("rbac-changes"));
        assert_eq!(p.nearest("deletion"), Some("deletions"));
        assert_eq!(p.nearest("zzzzzzzz"), None);
    }

    #[test]
    fn file_presets_add_and_replace() {
        let mut p = Presets::builtin();
        let text = "# mine\n[presets.team-a]\nquery = \"ns=team-a @deletions\"\n\
                    description = \"team A deletes\"\n\n[presets.deletions]\nquery = \"verb=delete\"\n";
        p.add_toml(text, Path::new("/x/presets.toml")).unwrap();
        let team = p.get("team-a").unwrap();
        assert_eq!(team.query, "ns=team-a @deletions");
        assert_eq!(team.description, "team A deletes");
        assert_eq!(team.origin, Origin::File("/x/presets.toml".into()));
        assert!(!team.replaces_builtin);
        let del = p.get("deletions").unwrap();
        assert!(del.replaces_builtin);
        assert_eq!(del.query, "verb=delete");
        // A replaced built-in keeps its place; new ones come after the built-ins.
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names.iter().position(|n| *n == "deletions"), Some(8));
        assert_eq!(names.last(), Some(&"team-a"));
    }

    #[test]
    fn file_errors_name_the_line() {
        let bad = |text: &str| {
            Presets::builtin()
                .add_toml(text, Path::new("p.toml"))
                .unwrap_err()
        };
        let e = bad("[presets.a]\nquery = \"verb=get\"\n\n[presets.b]\nquery = oops\n");
        assert_eq!(e.line, Some(5), "{e}");
        assert!(e.to_string().starts_with("p.toml:5: "), "{e}");
        let e = bad("[presets.a]\nqeury = \"verb=get\"\n");
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("qeury"), "{e}");
        let e = bad("[presets.a]\ndescription = \"x\"\n");
        assert!(e.message.contains("query"), "{e}");
        let e = bad("[presets.\"my team\"]\nquery = \"verb=get\"\n");
        assert_eq!(e.line, Some(1));
        assert!(e.message.contains("invalid preset name"), "{e}");
        let e = bad("\n[presets.a]\nquery = \"usr=x\"\n");
        assert_eq!(e.line, Some(3));
        assert!(
            e.message
                .contains("preset `a`: invalid query: unknown field `usr`"),
            "{e}"
        );
        assert!(e.message.contains("did you mean `user`"), "{e}");
        let e = bad("[presets.a]\nquery = \"@b\"\n[presets.b]\nquery = \"@a\"\n");
        assert!(e.message.contains("@a → @b → @a"), "{e}");
        let e = bad("[preset.a]\nquery = \"verb=get\"\n");
        assert!(e.message.contains("preset"), "{e}");
    }

    #[test]
    fn empty_file_is_fine() {
        let mut p = Presets::builtin();
        p.add_toml("", Path::new("p.toml")).unwrap();
        p.add_toml("# nothing yet\n", Path::new("p.toml")).unwrap();
        assert_eq!(p, Presets::builtin());
    }
}
