//! auditq's errors: typed inside, one wording each outside (printed after `auditq: `).

use crate::query::QueryError;
use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Query(#[from] QueryError),
    /// A command-line mistake that clap cannot see (it needs the file system).
    #[error("{0}")]
    Usage(String),
    #[error(
        "{0}: no such file (to search for this text, use -e '{0}'; query terms look like field=value)"
    )]
    NoSuchFile(String),
    /// Writing results failed (a closed pipe is not an error: auditq stops quietly).
    #[error("cannot write output: {0}")]
    Output(#[source] io::Error),
    #[error(transparent)]
    Serve(#[from] crate::serve::ServeError),
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    /// A `--compare` RBAC file that cannot be read as Kubernetes objects.
    #[error("{}: {error}", path.display())]
    Rbac {
        path: std::path::PathBuf,
        #[source]
        error: crate::rbac::compare::RbacFileError,
    },
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// Whether this is a closed pipe on the output, which ends a run quietly.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}
