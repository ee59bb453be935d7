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
