//! `auditq doctor` on kube-apiserver manifests in testdata/doctor: a kubeadm manifest with
//! auditing as the Kubernetes auditing tutorial sets it up (policy mounted read-only, log
//! directory read-write), the same with a webhook, and each broken one way. Host files are
//! read under testdata/doctor/root (`--root`).

use crate::common;

use common::{run, testdata};

fn doctor(manifest: &str, root: &str) -> common::Run {
    let m = common::arg(&testdata(&format!("doctor/{manifest}")));
    let r = run(["doctor", "--root", root, &m]);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    r
}

fn root() -> String {
    common::arg(&testdata("doctor/root"))
}

#[test]
fn tutorial_manifests_are_clean_and_say_their_disk_use() {
    for m in ["kubeadm-audit.yaml", "webhook.yaml"] {
        let r = doctor(m, &root());
        assert_eq!(r.code, 0, "{m}: {}", r.stdout);
        assert!(
            r.stdout
                .contains("note: the audit log takes up to 1100 MB on the node"),
            "{}",
            r.stdout
        );
        assert!(r.stdout.ends_with("0 error(s), 0 warning(s)\n"));
    }
}

#[test]
fn each_broken_manifest_gets_its_finding_at_its_line() {
    // (manifest, exit code, expected line:col and text)
    let cases = [
        (
            "broken/missing-volume.yaml",
            2,
            ":25:7: error: volumeMount `audit` has no hostPath volume",
        ),
        (
            "broken/missing-mount.yaml",
            2,
            ":25:7: error: the policy file /etc/kubernetes/audit-policy.yaml is not inside any volumeMount",
        ),
        (
            "broken/mount-not-covering.yaml",
            2,
            ":26:7: error: the log file /var/log/kubernetes/audit/audit.log is not inside any volumeMount",
        ),
        (
            "broken/log-mount-read-only.yaml",
            2,
            ":26:7: error: the log file /var/log/kubernetes/audit/audit.log is in volumeMount `audit-log` (/var/log/kubernetes/audit/), which is readOnly",
        ),
        (
            "broken/maxbackup-0.yaml",
            1,
            ":27:7: warning: --audit-log-maxbackup and --audit-log-maxage are 0 or unset",
        ),
        (
            "broken/flag-typo.yaml",
            2,
            ":29:7: error: unknown flag --audit-log-max-size",
        ),
        (
            "broken/duplicate-flag.yaml",
            2,
            ":30:7: error: --audit-log-path is given twice (first at line 26)",
        ),
    ];
    for (m, code, text) in cases {
        let r = doctor(m, &root());
        assert_eq!(r.code, code, "{m}: {}", r.stdout);
        assert!(
            r.stdout.contains(&format!("{m}{text}")),
            "{m}: {}",
            r.stdout
        );
        assert!(r.stdout.contains("    fix: "), "{m}");
    }
    let r = doctor("broken/flag-typo.yaml", &root());
    assert!(r.stdout.contains("fix: write --audit-log-maxsize=100"));
    let r = doctor("broken/missing-mount.yaml", &root());
    assert!(
        r.stdout
            .contains("- mountPath: /etc/kubernetes/audit-policy.yaml"),
        "{}",
        r.stdout
    );
}

#[test]
fn host_files_are_read_under_root() {
    let empty = tempfile::tempdir().unwrap();
    let r = doctor("webhook.yaml", &common::arg(empty.path()));
    assert_eq!(r.code, 2);
    assert!(r.stdout.contains(":25:7: error: the policy file is /etc/kubernetes/audit-policy.yaml on the host, which cannot be read"));
    assert!(r.stdout.contains(":30:7: error: the webhook configuration /etc/kubernetes/audit-webhook.kubeconfig cannot be read"));
    // A policy the apiserver would refuse is an error of the manifest too.
    std::fs::create_dir_all(empty.path().join("etc/kubernetes")).unwrap();
    std::fs::copy(
        testdata("policies/broken/v1beta1.yaml"),
        empty.path().join("etc/kubernetes/audit-policy.yaml"),
    )
    .unwrap();
    let r = doctor("kubeadm-audit.yaml", &common::arg(empty.path()));
    assert_eq!(r.code, 2);
    assert!(
        r.stdout
            .contains("would not load: unknown group version audit.k8s.io/v1beta1"),
        "{}",
        r.stdout
    );
    let r = run(["doctor", "/no/such/manifest.yaml"]);
    assert_eq!(r.code, 2);
}

/// A root holding `policy` (a file of testdata/policies) at /srv/audit/policy.yaml, and
/// kubeadm-audit.yaml changed to mount that host file at /etc/kubernetes/audit-policy.yaml
/// (the path the flag names, inside the pod). Returns (root, manifest, host policy path).
fn policy_at_srv(policy: &str) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("srv/audit")).unwrap();
    let host = root.path().join("srv/audit/policy.yaml");
    std::fs::copy(testdata(&format!("policies/{policy}")), &host).unwrap();
    let manifest = std::fs::read_to_string(testdata("doctor/kubeadm-audit.yaml")).unwrap();
    let changed = manifest.replace(
        " path: /etc/kubernetes/audit-policy.yaml",
        " path: /srv/audit/policy.yaml",
    );
    assert_ne!(changed, manifest);
    let path = root.path().join("kube-apiserver.yaml");
    std::fs::write(&path, changed).unwrap();
    (root, path, common::arg(&host))
}

#[test]
fn a_lint_error_in_the_policy_is_a_doctor_error_shown_at_the_policy_line() {
    let (root, manifest, host) = policy_at_srv("broken/ignored-fields.yaml");
    let r = run([
        "doctor",
        "--root",
        &common::arg(root.path()),
        &common::arg(&manifest),
    ]);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert_eq!(r.code, 2, "{}", r.stdout);
    // The manifest's finding at --audit-policy-file (line 25) is an error now.
    let m = common::arg(&manifest);
    let pointer = r
        .stdout
        .lines()
        .find(|l| l.starts_with(&format!("{m}:25:7: ")))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(
        pointer.contains(": error: the policy /srv/audit/policy.yaml"),
        "{pointer}"
    );
    // The policy's own finding, at its file's line, as `auditq policy lint` prints it
    // (the same line: lint is given the same host path), and its fix.
    let lint = run(["policy", "lint", &host]);
    assert_eq!(lint.code, 2);
    let lines: Vec<&str> = lint.stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("unknown field \"resource\""))
        .unwrap();
    assert!(
        lines[at].starts_with(&format!("{host}:7:5: error: ")),
        "{}",
        lines[at]
    );
    let doctor: Vec<&str> = r.stdout.lines().collect();
    let there = doctor
        .iter()
        .position(|l| *l == lines[at])
        .unwrap_or_else(|| panic!("{} not in\n{}", lines[at], r.stdout));
    // After the manifest's finding that points at the policy, with the in-pod path.
    assert!(doctor.iter().position(|l| *l == pointer).unwrap() < there);
    assert_eq!(
        doctor[there + 1],
        "    in the pod: /etc/kubernetes/audit-policy.yaml:7:5"
    );
    assert_eq!(doctor[there + 2], lines[at + 1]);
    assert!(doctor[there + 2].starts_with("    fix: write `resources:`"));
    // Every finding of lint is there, once.
    for l in lines.iter().filter(|l| l.starts_with(&host)) {
        if !l.starts_with(&format!("{host}: ")) {
            assert_eq!(doctor.iter().filter(|d| *d == l).count(), 1, "{l}");
        }
    }
    assert!(
        r.stdout
            .ends_with("1 error(s), 0 warning(s); the policy: 1 error(s), 6 warning(s)\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn lint_warnings_in_the_policy_are_doctor_warnings() {
    let (root, manifest, host) = policy_at_srv("gce-kube-up.yaml");
    let args = |deny: bool| {
        let mut a = vec![
            "doctor".to_string(),
            "--root".into(),
            common::arg(root.path()),
        ];
        if deny {
            a.push("--deny-warnings".into());
        }
        a.push(common::arg(&manifest));
        run(a)
    };
    let r = args(false);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains(":25:7: warning: the policy /srv/audit/policy.yaml"),
        "{}",
        r.stdout
    );
    let lint = run(["policy", "lint", &host]);
    assert_eq!(lint.code, 1);
    let findings = lint
        .stdout
        .lines()
        .filter(|l| l.starts_with(&format!("{host}:")) && !l.starts_with(&format!("{host}: ")));
    for l in findings {
        assert!(l.contains(": warning: "), "{l}");
        assert!(r.stdout.lines().any(|d| d == l), "{l} not in\n{}", r.stdout);
    }
    assert!(!r.stdout.contains(": error: "), "{}", r.stdout);
    assert_eq!(args(true).code, 2);
}
