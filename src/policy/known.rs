//! The resources of Kubernetes' built-in API groups (as `kubectl api-resources` lists them
//! on a current cluster), for the "not a known resource" warning.

/// (group, resources with their subresources).
pub const BUILT_IN: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "bindings",
            "componentstatuses",
            "configmaps",
            "endpoints",
            "events",
            "limitranges",
            "namespaces",
            "namespaces/finalize",
            "namespaces/status",
            "nodes",
            "nodes/proxy",
            "nodes/status",
            "persistentvolumeclaims",
            "persistentvolumeclaims/status",
            "persistentvolumes",
            "persistentvolumes/status",
            "pods",
            "pods/attach",
            "pods/binding",
            "pods/ephemeralcontainers",
            "pods/eviction",
            "pods/exec",
            "pods/log",
            "pods/portforward",
            "pods/proxy",
            "pods/resize",
            "pods/status",
            "podtemplates",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "replicationcontrollers/status",
            "resourcequotas",
            "resourcequotas/status",
            "secrets",
            "serviceaccounts",
            "serviceaccounts/token",
            "services",
            "services/proxy",
            "services/status",
        ],
    ),
    (
        "apps",
        &[
            "controllerrevisions",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "statefulsets",
            "statefulsets/scale",
            "statefulsets/status",
        ],
    ),
    (
        "batch",
        &["cronjobs", "cronjobs/status", "jobs", "jobs/status"],
    ),
    (
        "rbac.authorization.k8s.io",
        &[
            "clusterrolebindings",
            "clusterroles",
            "rolebindings",
            "roles",
        ],
    ),
    (
        "networking.k8s.io",
        &[
            "ingressclasses",
            "ingresses",
            "ingresses/status",
            "ipaddresses",
            "networkpolicies",
            "servicecidrs",
            "servicecidrs/status",
        ],
    ),
    (
        "policy",
        &["poddisruptionbudgets", "poddisruptionbudgets/status"],
    ),
    (
        "autoscaling",
        &[
            "horizontalpodautoscalers",
            "horizontalpodautoscalers/status",
        ],
    ),
    (
        "storage.k8s.io",
        &[
            "csidrivers",
            "csinodes",
            "csistoragecapacities",
            "storageclasses",
            "volumeattachments",
            "volumeattachments/status",
            "volumeattributesclasses",
        ],
    ),
    ("coordination.k8s.io", &["leases", "leasecandidates"]),
    (
        "authentication.k8s.io",
        &["tokenreviews", "selfsubjectreviews"],
    ),
    (
        "authorization.k8s.io",
        &[
            "localsubjectaccessreviews",
            "selfsubjectaccessreviews",
            "selfsubjectrulesreviews",
            "subjectaccessreviews",
        ],
    ),
    (
        "admissionregistration.k8s.io",
        &[
            "mutatingwebhookconfigurations",
            "validatingwebhookconfigurations",
            "validatingadmissionpolicies",
            "validatingadmissionpolicies/status",
            "validatingadmissionpolicybindings",
            "mutatingadmissionpolicies",
            "mutatingadmissionpolicybindings",
        ],
    ),
    (
        "apiextensions.k8s.io",
        &[
            "customresourcedefinitions",
            "customresourcedefinitions/status",
        ],
    ),
    (
        "apiregistration.k8s.io",
        &["apiservices", "apiservices/status"],
    ),
    (
        "certificates.k8s.io",
        &[
            "certificatesigningrequests",
            "certificatesigningrequests/approval",
            "certificatesigningrequests/status",
            "clustertrustbundles",
        ],
    ),
    ("discovery.k8s.io", &["endpointslices"]),
    ("events.k8s.io", &["events"]),
    ("node.k8s.io", &["runtimeclasses"]),
    ("scheduling.k8s.io", &["priorityclasses"]),
    (
        "flowcontrol.apiserver.k8s.io",
        &[
            "flowschemas",
            "flowschemas/status",
            "prioritylevelconfigurations",
            "prioritylevelconfigurations/status",
        ],
    ),
    (
        "resource.k8s.io",
        &[
            "deviceclasses",
            "resourceclaims",
            "resourceclaims/status",
            "resourceclaimtemplates",
            "resourceslices",
        ],
    ),
];

/// The known resources of a built-in group (None: not a built-in group).
pub fn resources_of(group: &str) -> Option<&'static [&'static str]> {
    BUILT_IN.iter().find(|(g, _)| *g == group).map(|(_, r)| *r)
}

/// The groups a built-in resource (without subresource) belongs to.
pub fn groups_of(resource: &str) -> Vec<&'static str> {
    BUILT_IN
        .iter()
        .filter(|(_, rs)| rs.contains(&resource))
        .map(|(g, _)| *g)
        .collect()
}
