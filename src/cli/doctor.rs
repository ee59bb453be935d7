//! `auditq doctor`: its options and its printing. The checks are [`crate::policy::doctor`].

use super::{EXIT_ERROR, EXIT_MATCH, EXIT_NO_MATCH};
use crate::error::Error;
use crate::policy::doctor::{Checked, PolicyFindings};
use crate::policy::{self, Finding, Severity};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// `auditq doctor`: check the audit set-up of a kube-apiserver static pod manifest before
/// the kubelet restarts it: --audit-* flags, the policy file and log directory mounted
/// into the pod, rotation, the webhook configuration. Exit 0 clean, 1 warnings only, 2
/// errors.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct DoctorArgs {
    /// The manifest.
    #[arg(
        value_name = "MANIFEST",
        default_value = "/etc/kubernetes/manifests/kube-apiserver.yaml"
    )]
    pub manifest: PathBuf,
    /// Read host paths (the policy, the webhook configuration) under this directory.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Warnings fail too (exit 2).
    #[arg(long)]
    pub deny_warnings: bool,
}

/// Runs `auditq doctor …`; returns the exit code.
pub fn run(args: DoctorArgs) -> Result<i32, Error> {
    let text = std::fs::read_to_string(&args.manifest)
        .map_err(|e| Error::Other(format!("{}: {e}", args.manifest.display())))?;
    let checked = policy::doctor::check(&text, &args.root);
    let mut out = io::stdout().lock();
    write_checked(&mut out, &args.manifest, &checked)
        .and_then(|()| out.flush())
        .map_err(Error::Output)?;
    let worst = checked
        .entries
        .iter()
        .flat_map(|e| std::iter::once(&e.finding).chain(e.policy.iter().flat_map(|p| &p.findings)))
        .map(|f| f.severity)
        .max();
    Ok(match worst {
        None => EXIT_MATCH,
        Some(Severity::Warning) if !args.deny_warnings => EXIT_NO_MATCH,
        Some(_) => EXIT_ERROR,
    })
}

/// Errors and warnings among `findings`.
fn counts<'f>(findings: impl Iterator<Item = &'f Finding>) -> (usize, usize) {
    findings.fold((0, 0), |(e, w), f| match f.severity {
        Severity::Error => (e + 1, w),
        Severity::Warning => (e, w + 1),
    })
}

fn write_checked(out: &mut dyn Write, manifest: &Path, checked: &Checked) -> io::Result<()> {
    let mut policy: Option<&PolicyFindings> = None;
    for e in &checked.entries {
        super::policy::write_finding(out, manifest, None, &e.finding)?;
        if let Some(p) = &e.policy {
            for f in &p.findings {
                super::policy::write_finding(out, &p.host, Some(&p.pod), f)?;
            }
            policy = Some(p);
        }
    }
    for note in &checked.notes {
        writeln!(out, "note: {note}")?;
    }
    let (errors, warnings) = counts(checked.entries.iter().map(|e| &e.finding));
    write!(
        out,
        "{}: {errors} error(s), {warnings} warning(s)",
        manifest.display()
    )?;
    if let Some(p) = policy {
        let (errors, warnings) = counts(p.findings.iter());
        write!(
            out,
            "; the policy: {errors} error(s), {warnings} warning(s)"
        )?;
    }
    writeln!(out)
}
