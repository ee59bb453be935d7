//! auditq: select Kubernetes audit events exactly and fast.
