"""Trap events: audit events shaped to catch a SQL translation that differs from auditq.

Each line is one event (JSON written by hand where Python's json module would not write
it: repeated keys, `403.0`, `4.03e2`). Stdlib only. `TRAP_QUERIES` are the queries aimed
at them; the suite runs them (with every other query) on all the data.
"""

import json

BASE_TIME = "2026-01-05T10:00:%02d.%06dZ"


def _event(i, **fields):
    """A v1 event with the usual fields; `fields` replace (None: drop) top-level keys."""
    ev = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": "trap-%04d" % i,
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/traps/pods/p%d" % i,
        "verb": "get",
        "user": {"username": "trap-user", "groups": ["system:authenticated"]},
        "sourceIPs": ["192.0.2.%d" % (i % 250 + 1)],
        "userAgent": "trap/1.0",
        "objectRef": {"resource": "pods", "namespace": "traps", "name": "p%d" % i, "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": BASE_TIME % (i % 60, i * 7919 % 1000000),
        "stageTimestamp": BASE_TIME % (i % 60, i * 7919 % 1000000 + 1 if i * 7919 % 1000000 < 999999 else 0),
        "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""},
    }
    for k, v in fields.items():
        k = {"user_": "user", "as_": "impersonatedUser"}.get(k, k)
        if v is None:
            ev.pop(k, None)
        else:
            ev[k] = v
    return ev


def _obj(**kw):
    return kw


def trap_lines():
    """The trap events, one JSON text per line."""
    events = []
    n = [0]

    def add(**fields):
        n[0] += 1
        events.append(json.dumps(_event(n[0], **fields), ensure_ascii=False, separators=(",", ":")))

    def raw(text):
        """A hand-written line; `{id}` is replaced by a fresh auditID."""
        n[0] += 1
        events.append(text.replace("{id}", "trap-%04d" % n[0]))

    ref = lambda **kw: dict({"resource": "pods", "namespace": "traps", "apiVersion": "v1"}, **kw)

    # Missing fields.
    add(verb=None)
    add(user_=None)
    add(objectRef=None)
    add(responseStatus=None)
    add(annotations=None)
    add(sourceIPs=None, userAgent=None)
    add(requestReceivedTimestamp=None)
    add(stage=None, level=None)
    add(objectRef=ref(namespace=None, name=None))
    add(user_={"groups": ["dev"]})  # no username
    # Arrays where one value is expected, objects, nested arrays.
    add(verb=["get", "delete"])
    add(verb={"x": "get"})
    add(verb=[])
    add(user_={"username": ["alice", "bob"], "groups": ["dev"]})
    add(user_={"username": {"first": "alice"}, "groups": "system:masters"})
    add(user_={"username": "nested", "groups": [["system:masters"], "dev", [["deep"]]]})
    add(objectRef=[ref(resource="secrets", name="a"), ref(resource="pods", name="b", subresource="exec")])
    add(objectRef=ref(resource=["pods", "secrets"], subresource="exec", name="arr"))
    add(objectRef=ref(resource="pods", subresource="exec", name="execpod"))
    add(objectRef=ref(resource="pods", subresource=["exec", "log"], name="subarr"))
    add(responseStatus={"code": [403, 200]})
    # Not here: a code that is an object (`--count-by code` in SQL keys it by its
    # leaves' texts, which objects lack): a known limit, docs/scale-out.md.
    add(sourceIPs=[["10.0.0.1"], ["10.0.0.2", ["10.0.0.3"]]])
    add(sourceIPs="10.9.9.9")
    add(sourceIPs=[])
    add(sourceIPs=["2001:db8::1", "10.0.0.1"])
    add(as_={"username": "bob", "groups": ["dev", "ops"]})
    add(as_={"username": ["bob", "carol"]})
    add(as_={"groups": ["only-groups"]})
    add(as_=None, user_={"username": "alice", "groups": None})
    # Numbers: as strings, floats, exponents, huge, negative zero, booleans, null.
    add(responseStatus={"code": "403"})
    raw('{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseComplete","verb":"get","user":{"username":"floaty"},"responseStatus":{"code":403.0},"requestReceivedTimestamp":"2026-01-05T10:00:01.5Z"}')
    raw('{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseComplete","verb":"get","user":{"username":"expo"},"responseStatus":{"code":4.03e2},"requestReceivedTimestamp":"2026-01-05T10:00:02.5Z"}')
    raw('{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseComplete","verb":"get","user":{"username":"huge"},"responseStatus":{"code":1e21},"requestReceivedTimestamp":"2026-01-05T10:00:03.5Z"}')
    raw('{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseComplete","verb":"get","user":{"username":"big"},"responseStatus":{"code":18446744073709551616},"requestReceivedTimestamp":"2026-01-05T10:00:04.5Z"}')
    raw('{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseComplete","verb":"get","user":{"username":"negzero"},"responseStatus":{"code":-0},"requestReceivedTimestamp":"2026-01-05T10:00:05.5Z"}')
    raw('{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseComplete","verb":"get","user":{"username":"tiny"},"responseStatus":{"code":1e-7},"requestReceivedTimestamp":"2026-01-05T10:00:06.5Z"}')
    add(responseStatus={"code": None})
    add(responseStatus={"code": True})
    add(verb=True)
    add(verb=None, requestURI="/healthz")
    add(verb="null")
    add(verb=7)
    add(objectRef=ref(name="403"))
    add(objectRef=ref(name="0403"))
    add(objectRef=ref(name=" 42 "))
    # Times: offsets, fractions, lowercase, out of the INT64-nanosecond range, not a string.
    add(requestReceivedTimestamp="2026-01-05T06:00:00-04:00")
    add(requestReceivedTimestamp="2026-01-05T15:30:00+05:30")
    add(requestReceivedTimestamp="2026-01-05T10:00:00Z")
    add(requestReceivedTimestamp="2026-01-05T10:00:00.000000001Z")
    add(requestReceivedTimestamp="2026-01-05T09:59:59.999999999Z")
    add(requestReceivedTimestamp="2026-01-05t10:00:07z")
    # Not here: times outside 1677-2262 (INT64 nanoseconds hold none; export warns and
    # stores NULL, so SQL comparisons miss them): a known limit, docs/scale-out.md.
    add(requestReceivedTimestamp="2026-01-05")
    add(requestReceivedTimestamp="not a time")
    add(requestReceivedTimestamp=1767607200)
    add(requestReceivedTimestamp=["2026-01-05T10:00:00Z"])
    add(requestReceivedTimestamp=None, timestamp="2026-01-05T10:00:08Z")
    add(timestamp="2020-01-01T00:00:00Z")  # both: requestReceivedTimestamp wins
    add(stageTimestamp="2026-01-05T10:00:00+01:00")
    # `_`, `%`, `\`, `*` and quotes in names (LIKE's wildcards and escape).
    for name in ["a_b", "axb", "a%b", "a%%b", "100%", "x_y%z", "a\\b", "a\\\\b", "a*b", "*", "it's", 'say "hi"', "a[b]", "a.b", "^$"]:
        add(objectRef=ref(name=name))
    # Case and non-ASCII.
    for user in ["Alice", "alice", "ALICE", "ǅemal", "ǆemal", "Ǆemal", "straße", "STRASSE", "İstanbul", "istanbul", "café", "cafe\u0301", "日本", "Ωmega", "ωmega", "K", "\u212a"]:
        add(user_={"username": user, "groups": ["people"]})
    # Digits, word characters and boundaries beyond ASCII; POSIX classes.
    for name in ["pod-123", "pod-١٢٣", "pod-１２３", "pod-²", "über", "naïve-1", "x-é-y", "é", "abc", "ABC123", "tab\there"]:
        add(objectRef=ref(name=name))
    # Newlines and other line terminators in values; empty strings.
    for ua in ["kubectl\nevil", "trailing\n", "cr\rhere", "nl\u0085next", "ls\u2028sep", "", " ", "\u0000nul"]:
        add(userAgent=ua)
    add(verb="")
    add(objectRef=ref(namespace=""))
    add(user_={"username": "", "groups": [""]})
    add(annotations={"authorization.k8s.io/decision": "", "": "empty-key", "with space": "x", "a.b/c": "dotted", "q\"uote": "q", "it's": "apos"})
    add(annotations={"authorization.k8s.io/decision": "forbid", "authorization.k8s.io/reason": "RBAC: denied, (really)", "n": 5})
    # Repeated keys (the last counts), an escaped key name.
    raw('{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseComplete","verb":"get","verb":"delete","user":{"username":"dup"},"objectRef":{"resource":"pods","namespace":"first"},"objectRef":{"resource":"secrets","namespace":"second"},"requestReceivedTimestamp":"2026-01-05T10:00:09.5Z"}')
    raw('{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseComplete","verb":"get","v\\u0065rb":"patch","user":{"username":"escaped-key"},"requestReceivedTimestamp":"2026-01-05T10:00:10.5Z"}')
    # Request bodies: nested arrays and objects along dotted paths.
    pod = lambda containers, **spec: {"kind": "Pod", "apiVersion": "v1", "spec": dict({"containers": containers}, **spec)}
    add(verb="create", level="Request", requestObject=pod([{"name": "a", "image": "nginx", "securityContext": {"privileged": True}}]))
    add(verb="create", level="Request", requestObject=pod([{"name": "a", "securityContext": {"privileged": "true"}}, {"name": "b"}]))
    add(verb="create", level="Request", requestObject=pod([{"name": "a", "securityContext": {"privileged": False}}], hostNetwork=True))
    add(verb="create", level="Request", requestObject=pod([[{"name": "nested", "securityContext": {"privileged": True}}]]))
    add(verb="create", level="Request", requestObject=pod([], volumes=[{"name": "v", "hostPath": {"path": "/"}}]))
    add(verb="create", level="Request", requestObject=pod([], volumes=[{"name": "v", "hostPath": None}]))
    add(verb="create", level="Request", requestObject=pod([{"name": "ports", "ports": [{"containerPort": 80}, {"containerPort": 443.0}, {"containerPort": "8080"}]}]))
    add(verb="create", level="Request", requestObject={"kind": "Secret", "data": {"key": "dmFsdWU="}, "stringData": {"a.b": "dotted key"}})
    add(verb="update", level="RequestResponse", requestObject={"metadata": {"labels": {"app": "web", "tier": ["a", "b"]}}}, responseObject={"metadata": {"labels": {"app": "web"}}, "status": {"replicas": 3}})
    # Same auditID on several stages; old API versions.
    for stage in ["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"]:
        ev = _event(9000, stage=stage, verb="watch")
        events.append(json.dumps(ev, separators=(",", ":")))
    raw('{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1","metadata":{"creationTimestamp":"2026-01-05T10:00:11Z"},"level":"Metadata","timestamp":"2026-01-05T10:00:11Z","auditID":"{id}","stage":"ResponseComplete","requestURI":"/api/v1/pods","verb":"list","user":{"username":"old-beta","groups":["system:authenticated"]},"sourceIPs":["10.1.1.1"],"objectRef":{"resource":"pods","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200}}')
    raw('{"kind":"Event","apiVersion":"audit.k8s.io/v1alpha1","metadata":{"creationTimestamp":"2026-01-05T06:00:12-04:00"},"level":"Metadata","timestamp":"2026-01-05T06:00:12-04:00","auditID":"{id}","stage":"ResponseComplete","requestURI":"/api/v1/secrets","verb":"get","user":{"username":"old-alpha"},"sourceIPs":["10.1.1.2"],"objectRef":{"resource":"secrets","namespace":"prod","name":"s"},"responseStatus":{"code":403}}')
    # Without a kind, and an EventList (its items are printed re-serialised).
    raw('{"auditID":"{id}","verb":"delete","user":{"username":"kindless"},"objectRef":{"resource":"secrets","namespace":"prod"},"requestReceivedTimestamp":"2026-01-05T10:00:13Z"}')
    raw('{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"{id}-a","stage":"ResponseComplete","verb":"get","user":{"username":"listed"},"responseStatus":{"code":404},"requestReceivedTimestamp":"2026-01-05T10:00:14Z"},{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"{id}-b","stage":"ResponseComplete","verb":"delete","user":{"username":"listed"},"responseStatus":{"code":4.04e2},"requestReceivedTimestamp":"2026-01-05T10:00:15Z"}]}')
    return events


# Queries aimed at the traps (they run on all the data, like every other query).
_TRAP_QUERIES = [
    # NULL logic: a missing field is never equal, and != / !~ / not are true without it.
    "not verb=get", "verb!=get", "verb!~^g", "not verb~^g", "as!=bob", "not as=bob", "as=bob",
    "as=*", "not as=*", "as!=*", "user!=*", "verb=*", "not verb=*", "code!=200", "not code=200",
    "code!=200 and not code=403", "not (verb=get or code=403)", "not (verb=get and code=403)",
    "not not verb=get", "ns!=traps", "ns=''", "ns!=''", "verb=''", "user=''", "group=''",
    "decision=''", "reason=''", "decision!=allow", "ua=''", "ua!=''",
    # Arrays, objects, nested arrays along dotted paths.
    "verb=delete", "verb=get,delete", "verb~^del", "user=alice", "user=bob", "user=*",
    "user.username=alice", "user.username.first=alice", "group=system:masters", "group=deep",
    "group=dev", "group!=dev", "group~^system:", "group=system:*", "resource=pods/exec",
    "resource=secrets", "resource=pods", "subresource=exec", "subresource=log",
    "resource~^pods/(exec|log)$", "resource~/", "resource~^pods$", "resource!=pods",
    "ip=10.0.0.3", "ip=10.0.0.*", "ip~^2001:", "ip=10.9.9.9", "ip!=10.0.0.1", "sourceIPs=*",
    "not ip=*", "as=carol", "impersonatedUser.groups=ops", "impersonatedUser=*",
    "objectRef.name=a", "objectRef.resource=secrets", "objectRef=*", "responseStatus.code=403",
    "responseStatus.code.value=403", "code=403", "code>=400", "code<300", "code=*",
    "requestObject.spec.containers.securityContext.privileged=true",
    "requestObject.spec.containers.securityContext.privileged!=true",
    "requestObject.spec.containers.name=nested", "requestObject.spec.volumes.hostPath=*",
    "requestObject.spec.volumes.hostPath.path=/", "requestObject.spec.volumes.hostPath=null",
    "requestObject.spec.containers.ports.containerPort=443",
    "requestObject.spec.containers.ports.containerPort>=443",
    "requestObject.spec.containers.ports.containerPort=8080",
    "requestObject.spec.containers.ports.containerPort~^80",
    "requestObject.metadata.labels.tier=b", "requestObject.kind=Secret",
    "requestObject.stringData.\"a.b\"=*", "responseObject.status.replicas>2", "requestObject=*",
    "'user'=*", "'user'=alice", "\"verb\"=get", "user.groups=dev",
    # Numbers vs numeric strings, floats, exponents.
    "code=403.0", "code=4.03e2", "code=403", "code='403'", "code~^403$", "code=40*", "code=4*3",
    "code=1e+21", "code=1e21", "code~e", "code=0", "code=-0", "code=1e-7", "code~^1e-07$",
    "code<0.001", "code>1e20", "code=null", "code=true", "code!=403", "name=403", "name=403.0",
    "name>=400", "name<500", "name=' 42 '", "name=42", "name>41", "verb=true", "verb=null",
    "verb=7", "verb=7.0", "verb>6", "annotations.n=5", "annotations.n>4",
    # Time comparisons as instants across zones; v1beta1 `timestamp`.
    "time=2026-01-05T10:00:00Z", "time=2026-01-05T06:00:00-04:00", "time=2026-01-05T10:00:00+00:00",
    "time>=2026-01-05T10:00:00Z", "time<2026-01-05T10:00:00Z", "time<=2026-01-05T10:00:00Z",
    "time>2026-01-05T10:00:00Z", "time>2026-01-05T09:59:59.999999999Z",
    "time<2026-01-05T10:00:00.000000001Z", "time>=2026-01-05T10:00:00.000000001Z",
    "time<2000-01-01T00:00:00Z", "time>3000-01-01T00:00:00Z", "time>=2026-01-05T10:00:07Z",
    "time=2026-01-05T10:00:07Z", "time=2026-01-05", "time=2026-01-05*", "time~Z$",
    "time~-04:00$", "time='not a time'", "time=*", "not time=*", "time=1767607200",
    "time>1767607100", "time=2026-01-05T10:00:08Z", "time=2020-01-01T00:00:00Z",
    "timestamp=*", "timestamp>=2026-01-05T10:00:11Z", "stageTimestamp=2026-01-05T09:00:00Z",
    "stageTimestamp<2026-01-05T10:00:00Z", "requestReceivedTimestamp<2026-01-05T10:00:00Z",
    "time>=2026-01-05T10:00:12Z time<2026-01-05T10:00:13Z",
    # Globs with LIKE's wildcards and escape character; a bare `*`.
    "name=a_b", "name=a_*", "name=a%b", "name=a%*", "name=*%", "name=*%*", "name=x_y%z",
    "name=*_*", "name='a\\\\b'", "name='a\\\\*'", "name=*\\\\*", "name='*\\\\\\\\*'", "name=a*b",
    "name=*", "name=**", "name=a**b", "name=***", "name=\"it's\"",
    "name='say \"hi\"'", "name=a[b]", "name=a.b", "name=a?b", "name=^$", "name=a.*",
    # Regex dialects: \d, \w, \b, (?i), ., $, POSIX classes, anchors, escapes.
    "name~\\d", "name~^pod-\\d+$", "name~^pod-[0-9]+$", "name~\\d{3}", "name~^pod-\\D+$",
    "name~^\\w+$", "name~^\\w+-\\w+-\\w+$", "name~\\bé", "name~\\bpod\\b", "name~\\Bod",
    "name~[[:alpha:]]", "name~^[[:alpha:]]+$", "name~[[:digit:]]", "name~^[[:^alpha:]]+$",
    "name~\\p{L}", "name~^\\p{Lu}", "name~\\s", "name~(?i)^abc", "name~^a.b$", "name~a\\.b",
    "name~a\\[b", "name~a\\\\\\\\b", "name~^\\^\\$$", "name~%", "name~_", "name~x{1,3}",
    "user~(?i)^alice$", "user~^alice$", "user~(?i)ǆemal", "user~(?i)^straße$",
    "user~(?i)^strasse$", "user~(?i)istanbul", "user~(?i)^k$", "user~(?i)ωmega",
    "user~^Ω", "user=Alice", "user=alice", "user=ALICE", "user~^.{4}$", "user~^.{5}$",
    "user~é$", "user~^caf", "user=café", "user~^日", "user~(?-i)Alice", "user~(?i:A)lice",
    "ua~^kubectl.evil$", "ua~(?s)^kubectl.evil$", "ua~evil$", "ua~^trailing$",
    "ua~trailing$", "ua~(?m)^trailing$", "ua~^trailing\\n$", "ua~\\n", "ua~^cr.here$",
    "ua~^nl.next$", "ua~^ls.sep$", "ua~^.$", "ua~^$", "ua~^\\s$", "ua~(?m)^evil",
    "ua~\\x00", "ua~\\A", "ua~\\z", "ua~'^ $'", "ua!~^kubectl",
    "reason~'^RBAC: denied, \\(really\\)$'", "reason='RBAC: denied, (really)'",
    "annotations.''=empty-key", "annotations.\"with space\"=x", "annotations.\"a.b/c\"=dotted",
    "annotations.'q\"uote'=q", "annotations.\"it's\"=apos", "decision=forbid",
    "annotations.\"authorization.k8s.io/decision\"=forbid", "annotations=*",
    # Repeated keys, escaped key names, API versions, stages, kindless events.
    "user=dup verb=delete", "user=dup verb=get", "user=dup ns=second", "user=dup ns=first",
    "user=escaped-key verb=patch", "user=escaped-key verb=get", "apiVersion=audit.k8s.io/v1beta1",
    "apiVersion~alpha", "stage=Panic", "stage=RequestReceived", "auditid=trap-9000",
    "auditid=trap-9000 stage!=ResponseComplete", "user=kindless", "kind=*", "not kind=*",
    "user=listed code=404", "metadata.creationTimestamp=*",
    # Operators spelled otherwise, lists with globs and numbers.
    "verb==get", "ua=~^trap", "verb=get,list,watch", "code=403,404,4.03e2", "user=alice,bob,*ice",
    "ns=traps && code=200 || verb=delete", "!(verb=get) ns=traps", "! verb=get",
]

TRAP_QUERIES = list(dict.fromkeys(_TRAP_QUERIES))
