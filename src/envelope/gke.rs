//! GKE: a Cloud Logging `LogEntry` whose `protoPayload` is a `google.cloud.audit.AuditLog`
//! written by the Kubernetes API server (`serviceName` `k8s.io`), mapped to the fields of
//! an `audit.k8s.io/v1` Event. Every rule, and where it comes from, is in docs/formats.md.

use super::{Found, Kind, Seen, Unwrapped, Wants, write_members_except};
use crate::parse::{Json, write_json_string};

/// The HTTP status code that goes with a gRPC status code, as `google/rpc/code.proto`
/// documents each code's HTTP mapping.
pub fn http_code(grpc: i64) -> Option<u16> {
    Some(match grpc {
        0 => 200,
        1 => 499,
        2 => 500,
        3 => 400,
        4 => 504,
        5 => 404,
        6 => 409,
        7 => 403,
        8 => 429,
        9 => 400,
        10 => 409,
        11 => 400,
        12 => 501,
        13 => 500,
        14 => 503,
        15 => 500,
        16 => 401,
        _ => return None,
    })
}

/// What `methodName` and `resourceName` say about the request.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub verb: String,
    pub group: Option<String>,
    pub version: Option<String>,
    pub resource: Option<String>,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// The request path: `/api/v1/…` or `/apis/<group>/<version>/…` for a resource, the
    /// resource name itself for a non-resource request (`/readyz`).
    pub uri: Option<String>,
}

/// Whether a methodName segment is an API version (`v1`, `v1beta1`, `v2alpha3`).
fn is_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let tail = &rest[digits..];
    tail.is_empty()
        || ["alpha", "beta"].iter().any(|w| {
            tail.strip_prefix(w)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// Reads `methodName` (`io.k8s.core.v1.pods.exec.create`, `io.k8s.get`) and
/// `resourceName` (`core/v1/namespaces/prod/pods/web/exec`, `readyz`).
pub fn request(method: &str, resource_name: Option<&str>) -> Request {
    let parts: Vec<&str> = method.split('.').collect();
    let mut out = Request {
        verb: parts.last().copied().unwrap_or_default().to_string(),
        ..Request::default()
    };
    let version_at = parts.iter().position(|p| is_version(p));
    let Some(v) = version_at else {
        // A non-resource request (`io.k8s.get` on `readyz`, `api/v1`).
        out.uri = resource_name.map(|r| format!("/{}", r.trim_start_matches('/')));
        return out;
    };
    let after = &parts[v + 1..parts.len().saturating_sub(1).max(v + 1)];
    out.version = Some(parts[v].to_string());
    out.resource = after.first().map(|s| s.to_string());
    out.subresource = after.get(1).map(|s| s.to_string());
    // The group from the method name: the reversed domain after `io.k8s.` (`core` is the
    // core group); used only when resourceName does not name it.
    let reversed: Vec<&str> = parts[..v].to_vec();
    let method_group = match reversed.as_slice() {
        ["io", "k8s", "core"] => Some(String::new()),
        ["io", "k8s", rest @ ..] if !rest.is_empty() => Some(
            rest.iter()
                .rev()
                .copied()
                .chain(["k8s", "io"])
                .collect::<Vec<_>>()
                .join("."),
        ),
        _ => None,
    };
    let rn: Vec<&str> = resource_name
        .unwrap_or("")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    if rn.len() >= 3 && rn[1] == parts[v] {
        out.group = Some(if rn[0] == "core" {
            String::new()
        } else {
            rn[0].to_string()
        });
        let rest = &rn[2..];
        let resource = out.resource.as_deref().unwrap_or("");
        // rest: [namespaces, ns, resource, name, sub…] or [resource, name, sub…]
        let (ns, tail) = match rest {
            ["namespaces", ns, tail @ ..]
                if resource != "namespaces" || !tail.is_empty() && tail[0] == resource =>
            {
                (Some(*ns), tail)
            }
            _ => (None, rest),
        };
        out.namespace = ns.map(str::to_string);
        if let [res, tail @ ..] = tail {
            if out.resource.is_none() {
                out.resource = Some(res.to_string());
            }
            out.name = tail.first().map(|s| s.to_string());
            if out.subresource.is_none() {
                out.subresource = tail.get(1).map(|s| s.to_string());
            }
        }
        // The API server sets a namespace object's namespace to its name
        // (k8s.io/apiserver endpoints/request/requestinfo.go); so does this mapping.
        if out.resource.as_deref() == Some("namespaces") && out.namespace.is_none() {
            out.namespace = out.name.clone();
        }
        let group = out.group.as_deref().unwrap_or("");
        let prefix = if group.is_empty() {
            "/api".to_string()
        } else {
            format!("/apis/{group}")
        };
        out.uri = Some(format!("{prefix}/{}", rn[1..].join("/")));
    } else {
        out.group = method_group;
    }
    out
}

/// One LogEntry: an event when it is a Kubernetes audit log, a note otherwise.
pub(super) fn entry(
    record: Json<'_, '_>,
    payload: Json<'_, '_>,
    root: bool,
    wants: Wants,
    found: &mut Found,
) {
    let audit_type = payload
        .get("@type")
        .and_then(|t| t.as_str())
        .is_some_and(|t| t.ends_with("google.cloud.audit.AuditLog"));
    if !audit_type {
        found.seen.push(Seen::GcpNotAudit);
        return;
    }
    let method = payload.get("methodName").and_then(|m| m.as_str());
    let k8s = payload.get("serviceName").and_then(|s| s.as_str()) == Some("k8s.io")
        || method.is_some_and(|m| m.starts_with("io.k8s."));
    let Some(method) = method.filter(|_| k8s) else {
        found.seen.push(Seen::GcpOtherService);
        return;
    };
    let resource_name = payload.get("resourceName").and_then(|r| r.as_str());
    let req = request(method, resource_name);
    let str_at = |v: Json<'_, '_>, path: &[&str]| {
        let mut v = v;
        for k in path {
            v = v.get(k)?;
        }
        v.as_str().map(str::to_string)
    };

    let mut ev = Vec::with_capacity(1024);
    ev.extend_from_slice(br#"{"kind":"Event","apiVersion":"audit.k8s.io/v1""#);
    let string_member = |ev: &mut Vec<u8>, key: &str, value: &str| {
        ev.push(b',');
        write_json_string(key, ev);
        ev.push(b':');
        write_json_string(value, ev);
    };
    let operation = record.get("operation");
    if let Some(id) = operation
        .and_then(|o| o.get("id"))
        .and_then(|i| i.as_str())
        .or_else(|| record.get("insertId").and_then(|i| i.as_str()))
    {
        string_member(&mut ev, "auditID", id);
    }
    let flag = |k: &str| {
        operation.and_then(|o| o.get(k)).and_then(|f| f.as_static())
            == Some(simd_json::StaticNode::Bool(true))
    };
    let stage = if flag("last") {
        Some("ResponseComplete")
    } else if flag("first") {
        Some("ResponseStarted")
    } else {
        None
    };
    if let Some(stage) = stage {
        string_member(&mut ev, "stage", stage);
    }
    if let Some(uri) = &req.uri {
        string_member(&mut ev, "requestURI", uri);
    }
    string_member(&mut ev, "verb", &req.verb);
    if let Some(user) = str_at(payload, &["authenticationInfo", "principalEmail"]) {
        ev.extend_from_slice(br#","user":{"username":"#);
        write_json_string(&user, &mut ev);
        ev.push(b'}');
    }
    if let Some(ip) = str_at(payload, &["requestMetadata", "callerIp"]) {
        ev.extend_from_slice(br#","sourceIPs":["#);
        write_json_string(&ip, &mut ev);
        ev.push(b']');
    }
    if let Some(ua) = str_at(payload, &["requestMetadata", "callerSuppliedUserAgent"]) {
        string_member(&mut ev, "userAgent", &ua);
    }
    if req.resource.is_some() {
        ev.extend_from_slice(br#","objectRef":{"#);
        let mut first = true;
        for (key, value) in [
            ("resource", &req.resource),
            ("namespace", &req.namespace),
            ("name", &req.name),
            ("apiGroup", &req.group),
            ("apiVersion", &req.version),
            ("subresource", &req.subresource),
        ] {
            let Some(value) = value else { continue };
            if key == "apiGroup" && value.is_empty() {
                continue;
            }
            if !first {
                ev.push(b',');
            }
            first = false;
            write_json_string(key, &mut ev);
            ev.push(b':');
            write_json_string(value, &mut ev);
        }
        ev.push(b'}');
    }
    if let Some(code) = status_code(payload) {
        ev.extend_from_slice(format!(r#","responseStatus":{{"code":{code}}}"#).as_bytes());
    }
    if let Some(time) = record.get("timestamp").and_then(|t| t.as_str()) {
        string_member(&mut ev, "requestReceivedTimestamp", time);
        string_member(&mut ev, "stageTimestamp", time);
    }
    if let Some(labels) = record.get("labels").filter(Json::is_object) {
        ev.extend_from_slice(br#","annotations":"#);
        labels.write_json(&mut ev);
    }
    for (from, to) in [("request", "requestObject"), ("response", "responseObject")] {
        if let Some(object) = payload.get(from).filter(Json::is_object) {
            ev.push(b',');
            write_json_string(to, &mut ev);
            ev.push(b':');
            object.write_json(&mut ev);
        }
    }
    ev.push(b'}');

    let mut merged = Vec::with_capacity(ev.len() * 3);
    merged.push(b'{');
    write_members_except(record, None, "", &mut merged);
    if merged.len() > 1 {
        merged.push(b',');
    }
    merged.extend_from_slice(&ev[1..]);
    let mut unwrapped = Unwrapped {
        merged,
        kind: Some(Kind::Gke),
        ..Unwrapped::default()
    };
    if wants.event {
        unwrapped.event = ev;
    }
    if wants.record && !root {
        record.write_json(&mut unwrapped.record);
    }
    found.events.push(unwrapped);
}

/// The HTTP-like code: the code of a `Status` response when the API server returned one
/// (a real HTTP code), else the gRPC `status.code` through [`http_code`] (0 when absent:
/// proto3 leaves a zero code out, so `"status":{}` is OK).
fn status_code(payload: Json<'_, '_>) -> Option<u16> {
    let response = payload.get("response");
    let is_status = response
        .and_then(|r| r.get("@type"))
        .and_then(|t| t.as_str())
        .is_some_and(|t| t.ends_with("v1.Status"));
    if is_status
        && let Some(code) = response
            .and_then(|r| r.get("code"))
            .and_then(|c| c.as_f64())
        && (100.0..600.0).contains(&code)
    {
        return Some(code as u16);
    }
    let grpc = payload
        .get("status")
        .map(|s| s.get("code").and_then(|c| c.as_f64()).unwrap_or(0.0))
        .unwrap_or(0.0);
    http_code(grpc as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, name: &str) -> Request {
        request(method, Some(name))
    }

    #[test]
    fn method_and_resource_names_map_to_the_request() {
        let r = req(
            "io.k8s.core.v1.pods.exec.create",
            "core/v1/namespaces/prod/pods/web/exec",
        );
        assert_eq!(r.verb, "create");
        assert_eq!(r.group.as_deref(), Some(""));
        assert_eq!(r.version.as_deref(), Some("v1"));
        assert_eq!(r.resource.as_deref(), Some("pods"));
        assert_eq!(r.subresource.as_deref(), Some("exec"));
        assert_eq!(r.namespace.as_deref(), Some("prod"));
        assert_eq!(r.name.as_deref(), Some("web"));
        assert_eq!(
            r.uri.as_deref(),
            Some("/api/v1/namespaces/prod/pods/web/exec")
        );

        let r = req(
            "io.k8s.authorization.rbac.v1.clusterrolebindings.create",
            "rbac.authorization.k8s.io/v1/clusterrolebindings/admin-all",
        );
        assert_eq!(r.group.as_deref(), Some("rbac.authorization.k8s.io"));
        assert_eq!(r.resource.as_deref(), Some("clusterrolebindings"));
        assert_eq!(r.name.as_deref(), Some("admin-all"));
        assert_eq!(r.namespace, None);

        let r = req(
            "io.k8s.core.v1.secrets.list",
            "core/v1/namespaces/prod/secrets",
        );
        assert_eq!(
            (r.namespace.as_deref(), r.name.as_deref()),
            (Some("prod"), None)
        );

        let r = req(
            "io.k8s.core.v1.namespaces.delete",
            "core/v1/namespaces/prod",
        );
        assert_eq!(
            (r.resource.as_deref(), r.name.as_deref()),
            (Some("namespaces"), Some("prod"))
        );
        assert_eq!(r.namespace.as_deref(), Some("prod"));
        let r = req(
            "io.k8s.core.v1.namespaces.status.update",
            "core/v1/namespaces/prod/status",
        );
        assert_eq!(r.name.as_deref(), Some("prod"));
        assert_eq!(r.subresource.as_deref(), Some("status"));

        let r = req("io.k8s.get", "readyz");
        assert_eq!(r.verb, "get");
        assert_eq!(r.resource, None);
        assert_eq!(r.uri.as_deref(), Some("/readyz"));

        // No resourceName: the group from the method name.
        let r = request("io.k8s.authorization.rbac.v1.roles.list", None);
        assert_eq!(r.group.as_deref(), Some("rbac.authorization.k8s.io"));
        assert!(is_version("v1beta1") && is_version("v2") && !is_version("velero"));
    }

    #[test]
    fn grpc_codes() {
        assert_eq!(http_code(0), Some(200));
        assert_eq!(http_code(7), Some(403));
        assert_eq!(http_code(16), Some(401));
        assert_eq!(http_code(5), Some(404));
        assert_eq!(http_code(6), Some(409));
        assert_eq!(http_code(99), None);
    }
}
