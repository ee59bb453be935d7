#!/usr/bin/env python3
"""Load benchmark of `auditq serve` (docs/performance.md): concurrent clients POST
EventLists of 400 events (as kube-apiserver's webhook does, items without kind and
apiVersion, ~1.2 KB each) over keep-alive HTTP/1.1 for a while; auditq filters them and
writes the matches to a rotated file. Prints events/s received and written, answer times
(p50/p99) and auditq's resident memory sampled once a second.

usage: scripts/bench-serve.py [--clients 4] [--seconds 20] [--query 'verb=get'] [--bin PATH]
"""
import argparse
import http.client
import json
import multiprocessing as mp
import os
import subprocess
import tempfile
import time


def event(i, b):
    verbs = ["get", "list", "watch", "create", "update", "patch", "delete"]
    return {
        "level": "Metadata",
        "auditID": f"{b:08x}-{i:04x}-4a1b-9c2d-5e6f7a8b9c0d",
        "stage": "ResponseComplete",
        "requestURI": f"/api/v1/namespaces/team-{i % 13}/pods/web-{i}",
        "verb": verbs[i % len(verbs)],
        "user": {"username": f"system:serviceaccount:team-{i % 13}:deployer",
                 "uid": "6c4b1d0e-3b0a-4d8e-9b3a-1f2e3d4c5b6a",
                 "groups": ["system:serviceaccounts", "system:authenticated"]},
        "sourceIPs": ["10.20.30.40"],
        "userAgent": "kube-controller-manager/v1.34.1 (linux/amd64) kubernetes/abcdef0/system:serviceaccount:kube-system:deployment-controller",
        "objectRef": {"resource": "pods", "namespace": f"team-{i % 13}", "name": f"web-{i}", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": "2026-01-05T10:00:00.123456Z",
        "stageTimestamp": "2026-01-05T10:00:00.125678Z",
        "annotations": {"authorization.k8s.io/decision": "allow",
                        "authorization.k8s.io/reason": "RBAC: allowed by ClusterRoleBinding \"system:controller:deployment-controller\""},
    }


def body(b):
    items = [event(i, b) for i in range(400)]
    return (json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1",
                        "metadata": {}, "items": items}, separators=(",", ":")) + "\n").encode()


def client(port, seconds, index, out):
    bodies = [body(index * 1000 + k) for k in range(8)]
    conn = http.client.HTTPConnection("127.0.0.1", port)
    latencies, refused, sent = [], 0, 0
    end = time.monotonic() + seconds
    k = 0
    while time.monotonic() < end:
        data = bodies[k % len(bodies)]
        k += 1
        start = time.monotonic()
        conn.request("POST", "/audit?timeout=30s", body=data,
                      headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        if response.status == 200:
            latencies.append(time.monotonic() - start)
            sent += 400
        else:
            refused += 1
            time.sleep(0.01)
    out.put((latencies, refused, sent))


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--query", default="")
    p.add_argument("--bin", default=os.environ.get("AUDITQ", "target/release/auditq"))
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "audit.log")
        cmd = [a.bin, "serve", "--listen", "127.0.0.1:0", "--out", out, "--max-size", "100",
               "--max-backups", "3"]
        if a.query:
            cmd.append(a.query)
        server = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        line = server.stderr.readline()
        port = int(line.split(" addr=")[1].split()[0].rsplit(":", 1)[1])
        queue = mp.Queue()
        procs = [mp.Process(target=client, args=(port, a.seconds, i, queue)) for i in range(a.clients)]
        started = time.monotonic()
        for proc in procs:
            proc.start()
        samples = []
        while any(proc.is_alive() for proc in procs) and len(samples) < a.seconds + 30:
            time.sleep(1)
            samples.append(rss_kib(server.pid, "VmRSS:"))
            if len(samples) >= a.seconds:
                break
        results = [queue.get() for _ in procs]
        for proc in procs:
            proc.join()
        elapsed = time.monotonic() - started
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", "/metrics")
        metrics = conn.getresponse().read().decode()
        peak = rss_kib(server.pid, "VmHWM:")
        server.terminate()
        server.wait()
    latencies = sorted(x for r in results for x in r[0])
    refused = sum(r[1] for r in results)
    events = sum(r[2] for r in results)

    def metric(name):
        for l in metrics.splitlines():
            if l.startswith(name + " "):
                return int(float(l.split()[1]))
        return 0

    def pct(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0

    print(f"clients={a.clients} seconds={elapsed:.1f} query={a.query!r}")
    print(f"events answered 200: {events} ({events / elapsed:,.0f} events/s), batches refused (429/503): {refused}")
    print(f"events written: {metric('auditq_serve_events_written_total')}")
    print(f"answer time: p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, max {pct(1.0):.1f} ms")
    print(f"auditq RSS (MiB, each second): {[round(s / 1024, 1) for s in samples]}; peak {peak / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
