#!/usr/bin/env python3
"""Builds testdata/ha/ from testdata/sample.log: the same 4000 requests as two
apiservers of an HA control plane would have logged them, each rotated by lumberjack
into two gzip backups and an active file.

- Each request goes to cp1 or cp2 by the parity of the first hex digit of its auditID.
- Every request that completed (stage ResponseComplete) also gets its RequestReceived
  stage, as the apiserver writes it when no policy omits it: the same event without
  responseStatus, requestObject and responseObject, stageTimestamp = requestReceivedTimestamp.
- Each apiserver's events are written in stageTimestamp order (the apiserver writes a
  stage when it completes), then cut at 10:00:04 and 10:00:08 into
  audit-2026-01-05T10-00-04.000.log.gz, audit-2026-01-05T10-00-08.000.log.gz (the
  rotation times: a backup's name is when it was rotated) and audit.log.

Deterministic: run `python3 scripts/make-ha-sample.py` to rebuild byte-identical files.
"""
import gzip, json, os, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
src = os.path.join(root, "testdata", "sample.log")
out = os.path.join(root, "testdata", "ha")
CUTS = ["2026-01-05T10:00:04", "2026-01-05T10:00:08"]
NAMES = ["audit-2026-01-05T10-00-04.000.log.gz", "audit-2026-01-05T10-00-08.000.log.gz", "audit.log"]

servers = {"cp1": [], "cp2": []}
with open(src, encoding="utf-8") as f:
    for n, line in enumerate(f):
        line = line.rstrip("\n")
        ev = json.loads(line)
        server = "cp1" if int(ev["auditID"][0], 16) % 2 == 0 else "cp2"
        if ev.get("stage") == "ResponseComplete":
            rr = {k: v for k, v in ev.items() if k not in ("responseStatus", "requestObject", "responseObject")}
            rr["stage"] = "RequestReceived"
            rr["stageTimestamp"] = ev["requestReceivedTimestamp"]
            servers[server].append((rr["stageTimestamp"], n, 0, json.dumps(rr, separators=(",", ":"))))
        servers[server].append((ev["stageTimestamp"], n, 1, line))

for server, events in servers.items():
    events.sort()
    parts = [[], [], []]
    for ts, _, _, line in events:
        i = sum(1 for c in CUTS if ts >= c)
        parts[i].append(line + "\n")
    d = os.path.join(out, server)
    os.makedirs(d, exist_ok=True)
    for name, lines in zip(NAMES, parts):
        data = "".join(lines).encode("utf-8")
        path = os.path.join(d, name)
        if name.endswith(".gz"):
            with open(path, "wb") as raw:
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as g:
                    g.write(data)
        else:
            with open(path, "wb") as w:
                w.write(data)
        print(f"{path}: {len(lines)} events", file=sys.stderr)
