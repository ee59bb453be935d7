"""A seeded random generator of auditq queries over the whole grammar (docs/query.md),
drawing fields and values from the data itself so that queries match sometimes: exact
values, globs, regexes, negations, numeric and time comparisons, lists, and/or/not
nesting, dotted paths through arrays, quoted keys, presets. Stdlib only.

It needs no model of the semantics: the suite compares engines with auditq's own answer.
"""

import datetime
import decimal
import random
import re

# Short names and their JSON paths (src/query/fields.rs).
SHORT_NAMES = {
    "user": ("user", "username"), "group": ("user", "groups"),
    "as": ("impersonatedUser", "username"), "verb": ("verb",),
    "resource": ("objectRef", "resource"), "subresource": ("objectRef", "subresource"),
    "ns": ("objectRef", "namespace"), "namespace": ("objectRef", "namespace"),
    "name": ("objectRef", "name"), "apigroup": ("objectRef", "apiGroup"),
    "apiversion": ("objectRef", "apiVersion"), "stage": ("stage",), "level": ("level",),
    "code": ("responseStatus", "code"), "ip": ("sourceIPs",), "ua": ("userAgent",),
    "uri": ("requestURI",), "auditid": ("auditID",),
    "decision": ("annotations", "authorization.k8s.io/decision"),
    "reason": ("annotations", "authorization.k8s.io/reason"),
    "time": ("requestReceivedTimestamp",),
}
EVENT_KEYS = {
    "kind", "apiVersion", "level", "auditID", "stage", "requestURI", "verb", "user",
    "impersonatedUser", "sourceIPs", "userAgent", "objectRef", "responseStatus",
    "requestObject", "responseObject", "requestReceivedTimestamp", "stageTimestamp",
    "annotations", "timestamp", "metadata",
}
# How often each short name is drawn (the fields people query most, more often).
SHORT_WEIGHTS = {
    "user": 8, "group": 4, "as": 3, "verb": 8, "resource": 7, "subresource": 2, "ns": 6,
    "namespace": 1, "name": 5, "apigroup": 2, "apiversion": 1, "stage": 3, "level": 2,
    "code": 6, "ip": 3, "ua": 4, "uri": 4, "auditid": 1, "decision": 2, "reason": 2,
    "time": 6,
}
RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
REGEX_META = set("\\.+*?()|[]{}^$#&-~")
SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_:/-]+$")
NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def go_text(v):
    """A JSON scalar's text as auditq compares it (Go's encoding/json for numbers)."""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, str):
        return v
    if isinstance(v, int) and abs(v) < 2 ** 53:
        return str(v)
    f = float(v)
    if f == 0:
        return "0"
    if abs(f) < 1e-6 or abs(f) >= 1e21:
        mant, exp = ("%r" % f).replace("e+", "e").split("e") if "e" in "%r" % f else ("%r" % f, "0")
        exp = int(exp)
        return "%se%s%d" % (mant.rstrip("0").rstrip(".") if "." in mant else mant, "+" if exp >= 0 else "-", abs(exp))
    s = format(decimal.Decimal(repr(f)), "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def regex_escape(text):
    """regex::escape: a backslash before each meta character."""
    return "".join("\\" + c if c in REGEX_META else c for c in text)


def quote(value):
    """'…' with `\\` and `'` escaped (the lexer's only escapes inside quotes)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def needs_quote(value, regex):
    if value == "" or value[0] in "'\"":
        return True
    if any(c.isspace() for c in value) or "(" in value or ")" in value:
        return True
    return "," in value and not regex


def field_text(path):
    """A JSON path as a query writes it (quoted segments where the lexer needs them)."""
    parts = []
    for seg in path:
        if SAFE_SEGMENT.match(seg) and not (len(path) == 1 and seg not in EVENT_KEYS):
            parts.append(seg)
        elif '"' not in seg:
            parts.append('"%s"' % seg)
        elif "'" not in seg:
            parts.append("'%s'" % seg)
        else:
            return None
    return ".".join(parts)


def usable(text):
    """Whether a text can be an argument (UTF-8, no NUL)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Pool:
    """Fields and values seen in the data: every path (arrays transparent) with a sample
    of its scalar values, and every `resource/subresource`."""

    def __init__(self, events, per_path=40, seed=0):
        rng = random.Random(seed)
        self.values = {}   # path tuple -> [scalar values]
        self.seen = {}     # path tuple -> times seen
        self.resource_paths = []
        self.times = []
        self.numbers = []

        def add(path, v):
            n = self.seen.get(path, 0) + 1
            self.seen[path] = n
            if isinstance(v, (dict, list)):
                return
            if isinstance(v, str) and not usable(v):
                return
            bucket = self.values.setdefault(path, [])
            if len(bucket) < per_path:
                bucket.append(v)
            else:
                j = rng.randrange(n)
                if j < per_path:
                    bucket[j] = v
            if isinstance(v, str) and RFC3339.match(v) and len(self.times) < 400:
                self.times.append(v)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and len(self.numbers) < 400:
                self.numbers.append(v)

        def walk(v, path, depth):
            if depth > 12:
                return
            if isinstance(v, list):
                for item in v:
                    walk(item, path, depth + 1)
                return
            if path:
                add(path, v)
            if isinstance(v, dict):
                for k, item in v.items():
                    if usable(k):
                        walk(item, path + (k,), depth + 1)

        for ev in events:
            if not isinstance(ev, dict):
                continue
            walk(ev, (), 0)
            ref = ev.get("objectRef")
            if isinstance(ref, dict) and isinstance(ref.get("resource"), str):
                sub = ref.get("subresource")
                self.resource_paths.append(ref["resource"] + ("/" + sub if isinstance(sub, str) else ""))
        self.paths = sorted(self.seen)
        # Common paths more often than rare ones; managedFields (thousands of paths that
        # all look alike) seldom.
        self.weights = [
            (1 + len(str(self.seen[p]))) * (0.03 if "managedFields" in p else 1.0) for p in self.paths
        ]
        self.resource_paths = sorted(set(self.resource_paths))
        if not self.times:
            self.times = ["2026-01-05T10:00:00Z"]
        if not self.numbers:
            self.numbers = [200, 403]


class QueryGen:
    def __init__(self, pool, seed, presets=()):
        self.pool = pool
        self.rng = random.Random(seed)
        self.presets = list(presets)
        self.short = sorted(SHORT_WEIGHTS)

    # ---------------------------------------------------------------- fields

    def field(self):
        """(text as written, candidate paths)."""
        r = self.rng.random()
        if r < 0.62:
            name = self.rng.choices(self.short, [SHORT_WEIGHTS[n] for n in self.short])[0]
            paths = [SHORT_NAMES[name]] + ([("timestamp",)] if name == "time" else [])
            return name, paths
        if r < 0.95 and self.pool.paths:
            for _ in range(20):
                path = self.rng.choices(self.pool.paths, self.pool.weights)[0]
                text = field_text(path)
                if text:
                    return text, [path]
        if r < 0.97:
            return self.rng.choice(["nosuch.field", "objectRef.nosuch", "'nosuch'", "user.groups.x"]), [("nosuch",)]
        key = self.rng.choice(sorted(EVENT_KEYS))
        return self.rng.choice(['"%s"' % key, "'%s'" % key, key]), [(key,)]

    def sample(self, paths, name):
        vals = []
        for p in paths:
            vals.extend(self.pool.values.get(tuple(p), []))
        if name == "resource" and self.rng.random() < 0.4:
            vals = vals + self.pool.resource_paths
        return vals

    # ---------------------------------------------------------------- values

    def any_value(self, vals):
        if vals and self.rng.random() < 0.9:
            return self.rng.choice(vals)
        return self.rng.choice(["zz-nothing", "", "0", "true", "null", "system:*", "get", 403, "kube-system"])

    def eq_value(self, vals):
        v = self.any_value(vals)
        text = go_text(v)
        r = self.rng.random()
        n = len(text)
        if r < 0.45 or n == 0:
            return text
        if r < 0.55:
            return text[: self.rng.randint(0, n)] + "*"
        if r < 0.63:
            return "*" + text[self.rng.randint(0, n):]
        if r < 0.71:
            i = self.rng.randint(0, n)
            j = self.rng.randint(i, n)
            return "*" + text[i:j] + "*"
        if r < 0.75:
            i = self.rng.randint(0, n)
            return text[:i] + "*" + text[self.rng.randint(i, n):]
        if r < 0.77:
            return "*"
        if r < 0.82:
            return text.swapcase() if self.rng.random() < 0.5 else text.upper()
        if r < 0.9 and isinstance(v, (int, float)) and not isinstance(v, bool):
            return self.rng.choice([text + ".0", "%se0" % text, go_text(float(v)), "%.3e" % float(v)])
        if r < 0.9 and isinstance(v, str) and RFC3339.match(v):
            return self.time_text(v, shift=False)
        if r < 0.95:
            return text + "x"
        return text

    def regex_value(self, vals):
        text = go_text(self.any_value(vals))
        n = len(text)
        esc = regex_escape
        r = self.rng.random()
        i = self.rng.randint(0, n)
        j = self.rng.randint(i, n)
        if r < 0.2:
            return "^" + esc(text[:max(1, j)])
        if r < 0.32:
            return esc(text[i:j]) or "."
        if r < 0.42:
            return esc(text[i:]) + "$"
        if r < 0.5:
            return "^" + esc(text) + "$"
        if r < 0.58:
            return "(?i)" + esc(text[i:j].swapcase() or "a")
        if r < 0.66:
            other = go_text(self.any_value(vals))
            return "^(%s|%s)$" % (esc(text), esc(other))
        if r < 0.74:
            return "^.{%d}$" % len(text) if self.rng.random() < 0.5 else "^.{%d,}" % max(0, len(text) - 2)
        classes = [r"\d", r"^\d+$", r"\d{2,}", r"\D", r"^\w+$", r"\W", r"\w\.\w", r"\bsystem\b",
                   r"\b\d", r"[[:alpha:]]", r"^[[:alpha:]]+$", r"[[:digit:]]{3}", r"[[:upper:]]",
                   r"[[:punct:]]", r"^[a-z]", r"[A-Z]", r".", r"\s", r"^\S+$", r"[^a-z0-9:./-]",
                   r"(?i)^SYSTEM:", r"(?i)kube", r"^$", r"^.*$", r"[\p{L}&&[^a-z]]", r"\p{Lu}",
                   r"(?s)a.b", r"(?m)^x", r"\x2f", r"\u{2f}", r"[0-9a-f]{8}-", r"(a|b)+c",
                   r"^(?:get|list)$", r"e{1,2}", r"\.\d+Z$", r"-0[0-9]:"]
        return self.rng.choice(classes)

    def time_text(self, v, shift=True):
        m = RFC3339.match(v)
        if not m:
            return v
        date, clock, frac, zone = m.groups()
        base = datetime.datetime.fromisoformat("%sT%s+00:00" % (date, clock))
        if zone not in ("Z", "z"):
            sign = 1 if zone[0] == "+" else -1
            base -= sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        frac = (frac or "")[1:]
        if shift:
            r = self.rng.random()
            if r < 0.3:
                base += datetime.timedelta(seconds=self.rng.randint(-5, 5))
            elif r < 0.45:
                frac = frac[: self.rng.randint(0, len(frac))]
            elif r < 0.55:
                frac = (frac + "000000000")[:9]
                frac = str(int(frac) + self.rng.choice([-1, 1])).zfill(9) if 0 < int(frac) < 999999999 else frac
        offset = self.rng.choice([0, 0, 0, -240, 330, 60, -600])
        local = base + datetime.timedelta(minutes=offset)
        if offset == 0:
            zone = self.rng.choice(["Z", "Z", "+00:00"])
        else:
            zone = "%s%02d:%02d" % ("+" if offset > 0 else "-", abs(offset) // 60, abs(offset) % 60)
        return local.strftime("%Y-%m-%dT%H:%M:%S") + ("." + frac if frac else "") + zone

    def cmp_value(self, vals, name):
        nums = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
        nums += [float(v) for v in vals if isinstance(v, str) and NUMBER.match(v) and len(v) < 30]
        times = [v for v in vals if isinstance(v, str) and RFC3339.match(v)]
        if name == "time" or (times and (not nums or self.rng.random() < 0.5)):
            return self.time_text(self.rng.choice(times or self.pool.times))
        pick = self.rng.choice(nums or self.pool.numbers)
        r = self.rng.random()
        if r < 0.5:
            return go_text(pick)
        if r < 0.8:
            return go_text(pick + self.rng.choice([-1, 1, -100, 100, 0.5]))
        return self.rng.choice(["0", "-1", "1e3", "399.5", "4e2", "1e21"])

    # ---------------------------------------------------------------- terms

    def term(self):
        name, paths = self.field()
        vals = self.sample(paths, name)
        op = self.rng.choices(["=", "!=", "~", "!~", "<", "<=", ">", ">=", "==", "=~"],
                              [34, 10, 18, 6, 5, 5, 5, 5, 1, 1])[0]
        if op in ("~", "!~", "=~"):
            value = self.regex_value(vals)
            values = [quote(value) if needs_quote(value, True) or self.rng.random() < 0.1 else value]
        elif op in ("<", "<=", ">", ">="):
            values = [self.cmp_value(vals, name)]
        else:
            k = 1 if self.rng.random() < 0.75 else self.rng.randint(2, 4)
            values = []
            for _ in range(k):
                value = self.eq_value(vals)
                values.append(quote(value) if needs_quote(value, False) or self.rng.random() < 0.1 else value)
        text = name + op + ",".join(values)
        return text if usable(text) else "verb=get"

    def expr(self, depth):
        r = self.rng.random()
        if depth <= 0 or r < 0.35:
            if self.presets and self.rng.random() < 0.04:
                return "@" + self.rng.choice(self.presets)
            return self.term()
        if r < 0.62:
            parts = [self.expr(depth - 1) for _ in range(self.rng.randint(2, 3))]
            joiner = self.rng.choice([" ", " and ", " and ", " AND ", " && "])
            return joiner.join(self.wrap(p) for p in parts)
        if r < 0.85:
            parts = [self.expr(depth - 1) for _ in range(self.rng.randint(2, 3))]
            joiner = self.rng.choice([" or ", " or ", " OR ", " || "])
            return joiner.join(self.wrap(p, loose=True) for p in parts)
        prefix = self.rng.choice(["not ", "not ", "!", "! ", "NOT "])
        inner = self.expr(depth - 1)
        return prefix + ("(%s)" % inner if " " in inner or prefix == "!" and inner.startswith("@") else inner)

    def wrap(self, text, loose=False):
        """Parenthesised when compound; an `or` operand sometimes left bare (and binds tighter)."""
        if " " not in text.strip() or (loose and self.rng.random() < 0.3 and " or " not in text.lower() and "||" not in text):
            return text
        return "(%s)" % text

    def query(self):
        return self.expr(self.rng.choice([0, 1, 1, 2, 2, 3]))

    def queries(self, count):
        seen, out = set(), []
        while len(out) < count:
            q = self.query()
            if q not in seen:
                seen.add(q)
                out.append(q)
        return out
