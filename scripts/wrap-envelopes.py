#!/usr/bin/env python3
"""Wraps a plain audit log (one event per line) as AKS diagnostic records or GKE Cloud
Logging entries, for scripts/bench-envelopes.sh. Usage: wrap-envelopes.py aks|gke IN OUT"""
import json
import sys

kind, src, dst = sys.argv[1:4]
GRPC = {401: 16, 403: 7, 404: 5, 409: 6, 429: 8}


def gke(line):
    e = json.loads(line)
    o = e.get("objectRef") or {}
    verb = e["verb"]
    if o.get("resource"):
        g, v, r, sub = o.get("apiGroup", ""), o.get("apiVersion", "v1"), o["resource"], o.get("subresource")
        mg = "core" if not g else ".".join(reversed(g.replace(".k8s.io", "").split(".")))
        method = f"io.k8s.{mg}.{v}.{r}" + (f".{sub}" if sub else "") + f".{verb}"
        name = f"{g or 'core'}/{v}"
        if o.get("namespace") and r != "namespaces":
            name += f"/namespaces/{o['namespace']}"
        name += f"/{r}" + (f"/{o['name']}" if o.get("name") else "") + (f"/{sub}" if sub else "")
    else:
        method, name = f"io.k8s.{verb}", e["requestURI"].split("?")[0].lstrip("/")
    code = (e.get("responseStatus") or {}).get("code", 200)
    payload = {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "authenticationInfo": {"principalEmail": e["user"]["username"]},
        "methodName": method,
        "requestMetadata": {"callerIp": (e.get("sourceIPs") or [""])[0], "callerSuppliedUserAgent": e.get("userAgent", "")},
        "resourceName": name,
        "serviceName": "k8s.io",
        "status": {"code": 0 if code < 400 else GRPC.get(code, 13)},
    }
    for a, b in (("requestObject", "request"), ("responseObject", "response")):
        if a in e:
            payload[b] = e[a]
    return json.dumps({
        "insertId": e["auditID"], "labels": e.get("annotations", {}),
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
        "operation": {"first": True, "id": e["auditID"], "last": True, "producer": "k8s.io"},
        "protoPayload": payload, "receiveTimestamp": e["stageTimestamp"],
        "resource": {"labels": {"cluster_name": "prod", "location": "europe-west1", "project_id": "p"}, "type": "k8s_cluster"},
        "timestamp": e["requestReceivedTimestamp"],
    }, separators=(",", ":"))


def aks(line):
    return json.dumps({
        "category": "kube-audit",
        "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
        "properties": {"log": line, "stream": "stdout", "pod": "kube-apiserver-7d9f-abcde"},
        "time": "2026-01-05T10:00:01Z",
    }, separators=(",", ":"))


wrap = {"aks": aks, "gke": gke}[kind]
with open(src) as fin, open(dst, "w") as fout:
    for line in fin:
        line = line.rstrip("\n")
        if line:
            fout.write(wrap(line) + "\n")
