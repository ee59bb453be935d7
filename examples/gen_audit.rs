//! Deterministic generator of realistic kube-apiserver audit logs.
//!
//! Writes `audit.k8s.io/v1` Events, one JSON object per line, with the same
//! field order and string escaping as the Go encoder used by kube-apiserver
//! (`<`, `>`, `&`, U+2028 and U+2029 are written as `\u003c`, `\u003e`,
//! `\u0026`, `\u2028`, `\u2029`).
//!
//! ```text
//! gen_audit [--seed N] [--events N | --bytes N[K|M|G]] [--start RFC3339] [--out PATH]
//! ```
//!
//! * `--seed N`     PRNG seed (default 1). Same seed and options => byte-identical output.
//! * `--events N`   number of events (default 1000 when neither `--events` nor `--bytes`).
//! * `--bytes N`    stop at the first line end at or after N bytes (K/M/G = 1024-based).
//! * `--start T`    clock start; the first event is received 1-5 ms later (default 2026-01-05T10:00:00Z).
//! * `--out PATH`   output file (default stdout).
//!
//! Fixed properties (see testdata/README.md):
//! * ~98% of events have `user.username` starting with `system:`, ~2% are humans;
//! * `verb=delete` on `resource=secrets` happens with probability exactly 1/2000 per event;
//! * requestReceivedTimestamp and stageTimestamp both strictly increase from line to
//!   line (gaps of 1-5 ms, request latency below 1 ms);
//! * ~5% of events carry large (2-20 KB) request/response bodies;
//! * 1 event in 500 carries strings that need escaping (quotes, backslashes,
//!   non-ASCII, `<>&`, U+2028, embedded JSON).
//!
//! No external crates: the PRNG is splitmix64.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

// ---------------------------------------------------------------------------
// PRNG and stable hashing
// ---------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    /// Uniform-ish integer in `0..n` (Lemire's multiply-shift, n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Stable (seed independent) hash, used for identities that must not change.
fn h64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

fn push_hex(out: &mut String, v: u64, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        out.push(HEX[((v >> (i * 4)) & 0xf) as usize] as char);
    }
}

fn push_uuid(out: &mut String, a: u64, b: u64) {
    let a = (a & !0xF000) | 0x4000;
    let b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    push_hex(out, a >> 32, 8);
    out.push('-');
    push_hex(out, a >> 16, 4);
    out.push('-');
    push_hex(out, a, 4);
    out.push('-');
    push_hex(out, b >> 48, 4);
    out.push('-');
    push_hex(out, b, 12);
}

fn stable_uuid(s: &str) -> String {
    let mut out = String::with_capacity(36);
    push_uuid(&mut out, h64(s), mix(h64(s) ^ 0x5555));
    out
}

/// Lowercase "k8s random suffix" characters (no vowels), stable from a hash.
fn suffix_from(mut v: u64, n: usize) -> String {
    const A: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut s = String::with_capacity(n);
    for _ in 0..n {
        s.push(A[(v % A.len() as u64) as usize] as char);
        v /= A.len() as u64;
        if v == 0 {
            v = mix(n as u64 ^ 0xabcdef);
        }
    }
    s
}

fn push_uint(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(b as char);
    }
}

fn push_pad(out: &mut String, v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut v = v;
    for i in (0..width).rev() {
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    for &b in &buf[..width] {
        out.push(b as char);
    }
}

// ---------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u64, u64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Writes `2026-01-05T10:00:00.123456Z` (micros = true) or `2026-01-05T10:00:00Z`.
fn push_time(out: &mut String, us: i64, micros: bool) {
    let secs = us.div_euclid(1_000_000);
    let frac = us.rem_euclid(1_000_000) as u64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u64;
    let (y, m, d) = civil_from_days(days);
    push_pad(out, y as u64, 4);
    out.push('-');
    push_pad(out, m, 2);
    out.push('-');
    push_pad(out, d, 2);
    out.push('T');
    push_pad(out, sod / 3600, 2);
    out.push(':');
    push_pad(out, sod / 60 % 60, 2);
    out.push(':');
    push_pad(out, sod % 60, 2);
    if micros {
        out.push('.');
        push_pad(out, frac, 6);
    }
    out.push('Z');
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)` into microseconds since the epoch.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_us = 0i64;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let mut digits = s[start..i].to_string();
        digits.truncate(6);
        while digits.len() < 6 {
            digits.push('0');
        }
        frac_us = digits.parse().ok()?;
    }
    let off = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        c @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let v = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if *c == b'+' { v } else { -v }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - off;
    Some(secs * 1_000_000 + frac_us)
}

// ---------------------------------------------------------------------------
// JSON writing with Go's encoding/json escaping (HTML-safe)
// ---------------------------------------------------------------------------

fn esc(out: &mut String, v: &str) {
    out.push('"');
    let clean = v.bytes().all(|b| {
        b >= 0x20 && b != b'"' && b != b'\\' && b != b'<' && b != b'>' && b != b'&' && b != 0xE2
    });
    if clean {
        out.push_str(v);
    } else {
        for c in v.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\0'..='\u{1f}' => {
                    out.push_str("\\u");
                    push_hex(out, u64::from(c), 4);
                }
                _ => out.push(c),
            }
        }
    }
    out.push('"');
}

/// Minimal streaming JSON writer; commas are inserted automatically.
struct J<'a> {
    s: &'a mut String,
    comma: bool,
}

impl<'a> J<'a> {
    fn new(s: &'a mut String) -> Self {
        J { s, comma: false }
    }
    fn pre(&mut self) {
        if self.comma {
            self.s.push(',');
        }
    }
    fn o(&mut self) {
        self.pre();
        self.s.push('{');
        self.comma = false;
    }
    fn a(&mut self) {
        self.pre();
        self.s.push('[');
        self.comma = false;
    }
    fn end_o(&mut self) {
        self.s.push('}');
        self.comma = true;
    }
    fn end_a(&mut self) {
        self.s.push(']');
        self.comma = true;
    }
    fn k(&mut self, k: &str) {
        self.pre();
        esc(self.s, k);
        self.s.push(':');
        self.comma = false;
    }
    fn s(&mut self, v: &str) {
        self.pre();
        esc(self.s, v);
        self.comma = true;
    }
    fn n(&mut self, v: i64) {
        self.pre();
        if v < 0 {
            self.s.push('-');
        }
        push_uint(self.s, v.unsigned_abs());
        self.comma = true;
    }
    fn raw(&mut self, v: &str) {
        self.pre();
        self.s.push_str(v);
        self.comma = true;
    }
    fn time(&mut self, us: i64, micros: bool) {
        self.pre();
        self.s.push('"');
        push_time(self.s, us, micros);
        self.s.push('"');
        self.comma = true;
    }
    fn ks(&mut self, k: &str, v: &str) {
        self.k(k);
        self.s(v);
    }
    fn kn(&mut self, k: &str, v: i64) {
        self.k(k);
        self.n(v);
    }
    fn kb(&mut self, k: &str, v: bool) {
        self.k(k);
        self.raw(if v { "true" } else { "false" });
    }
    fn kraw(&mut self, k: &str, v: &str) {
        self.k(k);
        self.raw(v);
    }
    fn ko(&mut self, k: &str) {
        self.k(k);
        self.o();
    }
    fn ka(&mut self, k: &str) {
        self.k(k);
        self.a();
    }
    /// `"k":{}`
    fn kempty(&mut self, k: &str) {
        self.k(k);
        self.raw("{}");
    }
}

// ---------------------------------------------------------------------------
// Cluster model
// ---------------------------------------------------------------------------

const VERSION_UA: &str = "v1.31.4 (linux/amd64) kubernetes/a78aa47";

const NODES: &[&str] = &[
    "cp1",
    "cp2",
    "cp3",
    "worker-01",
    "worker-02",
    "worker-03",
    "worker-04",
    "worker-05",
    "worker-06",
    "worker-07",
    "worker-08",
    "worker-09",
    "worker-10",
    "worker-11",
    "worker-12",
];

fn node_ip(i: usize) -> String {
    if i < 3 {
        format!("10.0.0.{}", 11 + i)
    } else {
        format!("10.0.1.{}", 20 + i)
    }
}

/// (namespace, app, image)
const APPS: &[(&str, &str, &str)] = &[
    ("prod", "web", "registry.example.com/shop/web:2.14.1"),
    ("prod", "api", "registry.example.com/shop/api:5.2.0"),
    (
        "prod",
        "checkout",
        "registry.example.com/shop/checkout:1.9.3",
    ),
    (
        "prod",
        "payments",
        "registry.example.com/shop/payments:3.0.7",
    ),
    ("prod", "redis", "docker.io/library/redis:7.4.1"),
    (
        "staging",
        "web",
        "registry.example.com/shop/web:2.15.0-rc.1",
    ),
    ("staging", "api", "registry.example.com/shop/api:5.3.0-rc.2"),
    (
        "staging",
        "worker",
        "registry.example.com/shop/worker:0.8.2",
    ),
    ("monitoring", "grafana", "docker.io/grafana/grafana:11.3.0"),
    (
        "monitoring",
        "kube-state-metrics",
        "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0",
    ),
    (
        "cert-manager",
        "cert-manager",
        "quay.io/jetstack/cert-manager-controller:v1.16.1",
    ),
    (
        "cert-manager",
        "cert-manager-webhook",
        "quay.io/jetstack/cert-manager-webhook:v1.16.1",
    ),
    (
        "ingress-nginx",
        "ingress-nginx-controller",
        "registry.k8s.io/ingress-nginx/controller:v1.11.3",
    ),
    (
        "kube-system",
        "coredns",
        "registry.k8s.io/coredns/coredns:v1.11.3",
    ),
    (
        "kube-system",
        "metrics-server",
        "registry.k8s.io/metrics-server/metrics-server:v0.7.2",
    ),
    (
        "argocd",
        "argocd-repo-server",
        "quay.io/argoproj/argocd:v2.13.1",
    ),
    ("default", "hello", "docker.io/library/nginx:1.27.3"),
];

/// Privileged node agents created by the daemon-set controller: (namespace, app, image).
const DAEMONS: &[(&str, &str, &str)] = &[
    (
        "kube-system",
        "kube-proxy",
        "registry.k8s.io/kube-proxy:v1.31.4",
    ),
    (
        "logging",
        "fluent-bit",
        "cr.fluentbit.io/fluent/fluent-bit:3.1.9",
    ),
    (
        "monitoring",
        "node-exporter",
        "quay.io/prometheus/node-exporter:v1.8.2",
    ),
    (
        "kube-system",
        "csi-node",
        "registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.12.0",
    ),
];

const CONTROLLERS: &[&str] = &[
    "generic-garbage-collector",
    "resourcequota-controller",
    "horizontal-pod-autoscaler",
    "node-controller",
    "ttl-controller",
    "statefulset-controller",
    "job-controller",
    "cronjob-controller",
    "disruption-controller",
    "pv-protection-controller",
    "ephemeral-volume-controller",
];

const ENV_NAMES: &[&str] = &[
    "LOG_LEVEL",
    "PORT",
    "DATABASE_URL",
    "REDIS_HOST",
    "FEATURE_FLAGS",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "JAVA_OPTS",
    "GOMAXPROCS",
    "TZ",
    "NODE_ENV",
    "SENTRY_DSN",
    "CACHE_TTL_SECONDS",
    "WORKER_CONCURRENCY",
    "HTTP_TIMEOUT",
    "AWS_REGION",
    "S3_BUCKET",
    "KAFKA_BROKERS",
    "UPSTREAM_URL",
    "MAX_CONNECTIONS",
];

const SIDECARS: &[(&str, &str)] = &[
    ("log-shipper", "docker.io/fluent/fluent-bit:3.1.9"),
    (
        "metrics-exporter",
        "quay.io/prometheus/statsd-exporter:v0.27.1",
    ),
    ("config-reloader", "ghcr.io/stakater/reloader:v1.1.0"),
    ("oauth2-proxy", "quay.io/oauth2-proxy/oauth2-proxy:v7.7.1"),
];

fn group_version(resource: &str) -> (&'static str, &'static str) {
    match resource {
        "leases" => ("coordination.k8s.io", "v1"),
        "deployments" | "replicasets" | "statefulsets" | "daemonsets" => ("apps", "v1"),
        "clusterroles" | "clusterrolebindings" | "roles" | "rolebindings" => {
            ("rbac.authorization.k8s.io", "v1")
        }
        "tokenreviews" => ("authentication.k8s.io", "v1"),
        "subjectaccessreviews" | "selfsubjectaccessreviews" => ("authorization.k8s.io", "v1"),
        "endpointslices" => ("discovery.k8s.io", "v1"),
        "jobs" | "cronjobs" => ("batch", "v1"),
        "certificates" | "certificaterequests" => ("cert-manager.io", "v1"),
        "ingresses" => ("networking.k8s.io", "v1"),
        "horizontalpodautoscalers" => ("autoscaling", "v2"),
        "poddisruptionbudgets" => ("policy", "v1"),
        _ => ("", "v1"),
    }
}

fn kind_group_label(resource: &str) -> String {
    let (g, _) = group_version(resource);
    if g.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{g}")
    }
}

struct Extra {
    pod: String,
    pod_uid: String,
    node: String,
    node_uid: String,
    cred: String,
}

struct Ident {
    name: String,
    uid: Option<String>,
    groups: Vec<String>,
    extra: Option<Extra>,
    ua: String,
    ips: Vec<String>,
    reason: String,
    human: bool,
}

struct ObjRef {
    resource: &'static str,
    ns: Option<String>,
    name: Option<String>,
    uid: Option<String>,
    sub: Option<&'static str>,
}

struct Failure {
    message: String,
    reason: &'static str,
    name: Option<String>,
    group: &'static str,
    kind: String,
    cause: Option<(String, String, String)>,
}

struct Ev {
    level: &'static str,
    stage: &'static str,
    uri: String,
    verb: &'static str,
    user: Ident,
    imp: Option<Ident>,
    obj: Option<ObjRef>,
    code: u16,
    fail: Option<Failure>,
    req: Option<String>,
    resp: Option<String>,
    ann: Vec<(&'static str, String)>,
    /// kubelet / controller requests that can fail with 404 if object is missing.
    may_404: bool,
}

struct Container {
    name: String,
    image: String,
    env: Vec<(String, Option<String>, bool)>, // (name, value, from secret)
    privileged: bool,
    port: Option<i64>,
    mounts: Vec<(String, String, bool)>,
}

struct PodTpl {
    app: String,
    containers: Vec<Container>,
    volumes: Vec<(String, u8, String)>, // (name, kind 0=hostPath 1=configMap 2=secret 3=emptyDir, source)
    host_network: bool,
    api_access: String,
}

// ---------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------

type Scenario = fn(&mut Gen) -> Ev;

struct Gen {
    rng: Rng,
    t: i64,
    rv: u64,
    sys_table: Vec<(u64, Scenario)>,
    sys_total: u64,
    human_table: Vec<(u64, Scenario)>,
    human_total: u64,
}

fn table(entries: &[(u64, Scenario)]) -> (Vec<(u64, Scenario)>, u64) {
    let mut acc = 0;
    let v = entries
        .iter()
        .map(|&(w, f)| {
            acc += w;
            (acc, f)
        })
        .collect();
    (v, acc)
}

impl Gen {
    fn new(seed: u64, start: i64) -> Gen {
        let (sys_table, sys_total) = table(&[
            (2000, Gen::kubelet_lease_update),
            (700, Gen::kubelet_lease_get),
            (260, Gen::kubelet_node_get),
            (260, Gen::kubelet_node_status),
            (320, Gen::kubelet_watch_volume),
            (160, Gen::kubelet_get_volume),
            (330, Gen::kubelet_pod_status),
            (130, Gen::kubelet_event),
            (130, Gen::kubelet_token),
            (110, Gen::kubelet_pod_get),
            (120, Gen::kubelet_watch_misc),
            (520, Gen::cm_lease_update),
            (520, Gen::cm_lease_get),
            (60, Gen::cm_discovery),
            (380, Gen::sched_lease_update),
            (380, Gen::sched_lease_get),
            (70, Gen::sched_binding),
            (70, Gen::sched_watch),
            (220, Gen::ctrl_endpoints),
            (160, Gen::ctrl_endpointslices),
            (230, Gen::ctrl_rs_create_pod),
            (25, Gen::ctrl_rs_delete_pod),
            (60, Gen::ctrl_rs_status),
            (120, Gen::ctrl_deploy_status),
            (80, Gen::ctrl_ds_create_pod),
            (260, Gen::ctrl_watch_misc),
            (45, Gen::ctrl_root_ca),
            (30, Gen::ctrl_namespace),
            (20, Gen::ctrl_clusterrole_agg),
            (330, Gen::apiserver_lease),
            (330, Gen::apiserver_lease_get),
            (230, Gen::apiserver_misc),
            (700, Gen::anon_health),
            (160, Gen::prom_watch),
            (150, Gen::prom_metrics),
            (90, Gen::ksm_watch),
            (110, Gen::rbac_proxy_tokenreview),
            (110, Gen::rbac_proxy_sar),
            (40, Gen::metrics_server),
            (90, Gen::coredns_watch),
            (90, Gen::kube_proxy_watch),
            (100, Gen::certmgr_secrets),
            (170, Gen::certmgr_lease),
            (60, Gen::certmgr_misc),
            (160, Gen::ingress_lease),
            (90, Gen::ingress_watch),
            (120, Gen::argocd_patch),
            (130, Gen::argocd_get),
            (110, Gen::app_get_config),
            (90, Gen::fluentbit_get),
        ]);
        let (human_table, human_total) = table(&[
            (30, Gen::h_list_pods),
            (20, Gen::h_get_pod),
            (10, Gen::h_list_events),
            (40, Gen::h_discovery),
            (10, Gen::h_exec),
            (15, Gen::h_logs),
            (15, Gen::h_apply),
            (10, Gen::h_get_secret),
            (8, Gen::h_delete_pod),
            (5, Gen::h_rbac),
            (3, Gen::h_namespace),
            (15, Gen::h_configmap),
            (10, Gen::h_nodes),
            (6, Gen::h_impersonate),
            (5, Gen::h_can_i),
        ]);
        Gen {
            rng: Rng(mix(seed ^ 0x00a0_d17e_5eed)),
            t: start,
            rv: 48_213_377 + seed % 1000,
            sys_table,
            sys_total,
            human_table,
            human_total,
        }
    }

    fn pick_scenario(&mut self, human: bool) -> Scenario {
        let (tab, total) = if human {
            (&self.human_table, self.human_total)
        } else {
            (&self.sys_table, self.sys_total)
        };
        let r = self.rng.below(total);
        let i = tab.partition_point(|&(acc, _)| acc <= r);
        tab[i].1
    }

    fn next_rv(&mut self) -> String {
        self.rv += self.rng.range(1, 40);
        self.rv.to_string()
    }

    fn uuid(&mut self) -> String {
        let mut s = String::with_capacity(36);
        let (a, b) = (self.rng.next(), self.rng.next());
        push_uuid(&mut s, a, b);
        s
    }

    fn node_idx(&mut self) -> usize {
        self.rng.below(NODES.len() as u64) as usize
    }

    fn app(&mut self) -> (&'static str, &'static str, &'static str) {
        *self.rng.pick(APPS)
    }

    fn pod_name(&mut self, app: &str) -> String {
        let rs = suffix_from(h64(app), 10);
        let x = self.rng.next();
        format!("{app}-{rs}-{}", suffix_from(x, 5))
    }

    // ----- identities -----

    fn id_node(&mut self, i: usize) -> Ident {
        Ident {
            name: format!("system:node:{}", NODES[i]),
            uid: None,
            groups: vec!["system:nodes".into(), "system:authenticated".into()],
            extra: None,
            ua: format!("kubelet/{VERSION_UA}"),
            ips: vec![node_ip(i)],
            reason: String::new(),
            human: false,
        }
    }

    fn id_component(&mut self, user: &str, prog: &str, suffix: &str) -> Ident {
        let cp = self.rng.below(3) as usize;
        Ident {
            name: user.to_string(),
            uid: None,
            groups: vec!["system:authenticated".into()],
            extra: None,
            ua: format!("{prog}/{VERSION_UA}{suffix}"),
            ips: vec![node_ip(cp)],
            reason: format!(
                "RBAC: allowed by ClusterRoleBinding \"{user}\" of ClusterRole \"{user}\" to User \"{user}\""
            ),
            human: false,
        }
    }

    fn id_apiserver(&mut self) -> Ident {
        Ident {
            name: "system:apiserver".into(),
            uid: Some(stable_uuid("system:apiserver")),
            groups: vec!["system:authenticated".into(), "system:masters".into()],
            extra: None,
            ua: format!("kube-apiserver/{VERSION_UA}"),
            ips: vec!["::1".into()],
            reason: String::new(),
            human: false,
        }
    }

    fn id_controller(&mut self, ctrl: &str) -> Ident {
        let cp = self.rng.below(3) as usize;
        let sa = format!("system:serviceaccount:kube-system:{ctrl}");
        Ident {
            uid: Some(stable_uuid(&sa)),
            ua: format!("kube-controller-manager/{VERSION_UA}/{sa}"),
            name: sa,
            groups: vec![
                "system:serviceaccounts".into(),
                "system:serviceaccounts:kube-system".into(),
                "system:authenticated".into(),
            ],
            extra: None,
            ips: vec![node_ip(cp)],
            reason: format!(
                "RBAC: allowed by ClusterRoleBinding \"system:controller:{ctrl}\" of ClusterRole \"system:controller:{ctrl}\" to ServiceAccount \"{ctrl}/kube-system\""
            ),
            human: false,
        }
    }

    /// A service account token bound to a pod (has `extra`).
    fn id_pod_sa(&mut self, ns: &str, sa: &str, ua: &str, role: &str) -> Ident {
        let name = format!("system:serviceaccount:{ns}:{sa}");
        // Prometheus (scraping from outside) and Argo CD use long-lived
        // secret-based tokens: no pod binding, hence no `extra`.
        let legacy = matches!(sa, "prometheus" | "argocd-application-controller");
        let h = h64(&name);
        let node = NODES[3 + (h % 12) as usize];
        let pod = format!("{sa}-{}-{}", suffix_from(h, 10), suffix_from(h >> 20, 5));
        let ip = format!("10.244.{}.{}", h % 12 + 1, (h >> 8) % 250 + 2);
        let cred = format!("JTI={}", stable_uuid(&format!("{name}/jti")));
        Ident {
            uid: Some(stable_uuid(&name)),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
                "system:authenticated".into(),
            ],
            extra: (!legacy).then(|| Extra {
                pod_uid: stable_uuid(&pod),
                pod,
                node_uid: stable_uuid(node),
                node: node.to_string(),
                cred,
            }),
            ua: ua.to_string(),
            ips: vec![ip],
            reason: if role.starts_with("Role ") {
                format!(
                    "RBAC: allowed by RoleBinding \"{sa}/{ns}\" of {role} to ServiceAccount \"{sa}/{ns}\""
                )
            } else {
                format!(
                    "RBAC: allowed by ClusterRoleBinding \"{sa}\" of ClusterRole \"{role}\" to ServiceAccount \"{sa}/{ns}\""
                )
            },
            name,
            human: false,
        }
    }

    fn id_human(&mut self) -> Ident {
        const UAS: &[&str] = &[
            "kubectl/v1.31.4 (darwin/arm64) kubernetes/a78aa47",
            "kubectl/v1.30.6 (linux/amd64) kubernetes/1d5d5ba",
            "kubectl/v1.31.4 (windows/amd64) kubernetes/a78aa47",
            "k9s/v0.32.7 (darwin/arm64) kubernetes/$Format",
            "Helm/3.16.3",
        ];
        let which = self.rng.below(5);
        let ua = self.rng.pick(UAS).to_string();
        let ip = match self.rng.below(3) {
            0 => vec![format!("203.0.113.{}", 10 + which * 7)],
            1 => vec![format!("198.51.100.{}", 20 + which), "10.0.0.5".into()],
            _ => vec![format!("192.168.{}.{}", 10 + which, 40 + which * 3)],
        };
        let (name, uid, groups, reason): (&str, Option<String>, Vec<String>, String) = match which {
            0 => (
                "alice@example.com",
                None,
                vec!["oidc:platform-team".into(), "system:authenticated".into()],
                "RBAC: allowed by ClusterRoleBinding \"platform-admins\" of ClusterRole \"cluster-admin\" to Group \"oidc:platform-team\"".into(),
            ),
            1 => (
                "bob",
                Some(stable_uuid("bob")),
                vec!["developers".into(), "system:authenticated".into()],
                "RBAC: allowed by RoleBinding \"developers-edit/prod\" of ClusterRole \"edit\" to Group \"developers\"".into(),
            ),
            2 => (
                "carol",
                Some(stable_uuid("carol")),
                vec!["viewers".into(), "system:authenticated".into()],
                "RBAC: allowed by ClusterRoleBinding \"viewers\" of ClusterRole \"view\" to Group \"viewers\"".into(),
            ),
            3 => (
                "oidc:dave",
                None,
                vec!["oidc:sre".into(), "system:authenticated".into()],
                "RBAC: allowed by ClusterRoleBinding \"sre-admin\" of ClusterRole \"admin\" to Group \"oidc:sre\"".into(),
            ),
            _ => (
                "kubernetes-admin",
                None,
                vec!["kubeadm:cluster-admins".into(), "system:authenticated".into()],
                "RBAC: allowed by ClusterRoleBinding \"kubeadm:cluster-admins\" of ClusterRole \"cluster-admin\" to Group \"kubeadm:cluster-admins\"".into(),
            ),
        };
        Ident {
            name: name.into(),
            uid,
            groups,
            extra: None,
            ua,
            ips: ip,
            reason,
            human: true,
        }
    }

    // ----- event skeleton -----

    fn ev(&mut self, user: Ident) -> Ev {
        Ev {
            level: "Metadata",
            stage: "ResponseComplete",
            uri: String::new(),
            verb: "get",
            user,
            imp: None,
            obj: None,
            code: 0,
            fail: None,
            req: None,
            resp: None,
            ann: Vec::new(),
            may_404: false,
        }
    }

    fn watch_q(&mut self, field: Option<&str>) -> String {
        let secs = self.rng.range(300, 599);
        let rv = self.rv - self.rng.below(50_000);
        let mut q = String::from("?allowWatchBookmarks=true");
        if let Some(f) = field {
            q.push_str("&fieldSelector=");
            q.push_str(&f.replace('=', "%3D"));
        }
        q.push_str(&format!(
            "&resourceVersion={rv}&timeout={}m{}s&timeoutSeconds={secs}&watch=true",
            secs / 60,
            secs % 60
        ));
        q
    }

    fn list_q(&mut self) -> &'static str {
        const LIST_QUERIES: [&str; 4] = [
            "?limit=500&resourceVersion=0",
            "?resourceVersion=0",
            "?limit=500",
            "",
        ];
        LIST_QUERIES[self.rng.below(4) as usize]
    }

    /// Fills verb, requestURI and objectRef.
    fn req(
        &mut self,
        e: &mut Ev,
        verb: &'static str,
        resource: &'static str,
        ns: Option<&str>,
        name: Option<&str>,
    ) {
        self.req_sub(e, verb, resource, ns, name, None, "");
    }

    #[allow(clippy::too_many_arguments)]
    fn req_sub(
        &mut self,
        e: &mut Ev,
        verb: &'static str,
        resource: &'static str,
        ns: Option<&str>,
        name: Option<&str>,
        sub: Option<&'static str>,
        query: &str,
    ) {
        let (group, version) = group_version(resource);
        let mut uri = String::with_capacity(96);
        if group.is_empty() {
            uri.push_str("/api/v1");
        } else {
            uri.push_str("/apis/");
            uri.push_str(group);
            uri.push('/');
            uri.push_str(version);
        }
        if let Some(ns) = ns {
            uri.push_str("/namespaces/");
            uri.push_str(ns);
        }
        uri.push('/');
        uri.push_str(resource);
        let mut obj_name = name.map(str::to_string);
        if let Some(n) = name {
            if verb != "watch" && verb != "list" {
                uri.push('/');
                uri.push_str(n);
            }
        }
        if let Some(s) = sub {
            uri.push('/');
            uri.push_str(s);
        }
        let q = match verb {
            "watch" => {
                let f = name.map(|n| format!("metadata.name={n}"));
                self.watch_q(f.as_deref())
            }
            "list" if query.is_empty() => {
                obj_name = None;
                self.list_q().to_string()
            }
            _ => query.to_string(),
        };
        uri.push_str(&q);
        e.verb = verb;
        e.uri = uri;
        e.obj = Some(ObjRef {
            resource,
            ns: ns.map(str::to_string),
            name: obj_name,
            uid: None,
            sub,
        });
    }

    fn nonresource(&mut self, e: &mut Ev, path: &str) {
        e.verb = "get";
        e.uri = path.to_string();
        e.obj = None;
    }

    // ----- scenarios: kubelet -----

    fn kubelet_lease_update(&mut self) -> Ev {
        let i = self.node_idx();
        let u = self.id_node(i);
        let mut e = self.ev(u);
        self.req_sub(
            &mut e,
            "update",
            "leases",
            Some("kube-node-lease"),
            Some(NODES[i]),
            None,
            "?timeout=10s",
        );
        e
    }

    fn kubelet_lease_get(&mut self) -> Ev {
        let i = self.node_idx();
        let u = self.id_node(i);
        let mut e = self.ev(u);
        self.req_sub(
            &mut e,
            "get",
            "leases",
            Some("kube-node-lease"),
            Some(NODES[i]),
            None,
            "?timeout=10s",
        );
        e
    }

    fn kubelet_node_get(&mut self) -> Ev {
        let i = self.node_idx();
        let u = self.id_node(i);
        let mut e = self.ev(u);
        self.req_sub(
            &mut e,
            "get",
            "nodes",
            None,
            Some(NODES[i]),
            None,
            "?resourceVersion=0&timeout=10s",
        );
        e
    }

    fn kubelet_node_status(&mut self) -> Ev {
        let i = self.node_idx();
        let u = self.id_node(i);
        let mut e = self.ev(u);
        self.req_sub(
            &mut e,
            "patch",
            "nodes",
            None,
            Some(NODES[i]),
            Some("status"),
            "?timeout=10s",
        );
        e
    }

    fn kubelet_watch_volume(&mut self) -> Ev {
        let i = self.node_idx();
        let u = self.id_node(i);
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        let (res, name) = match self.rng.below(4) {
            0 => ("configmaps", "kube-root-ca.crt".to_string()),
            1 => ("configmaps", format!("{app}-config")),
            2 => ("secrets", format!("{app}-tls")),
            _ => ("secrets", "db-credentials".to_string()),
        };
        self.req(&mut e, "watch", res, Some(ns), Some(&name));
        e
    }

    fn kubelet_get_volume(&mut self) -> Ev {
        let i = self.node_idx();
        let u = self.id_node(i);
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        let (res, name) = match self.rng.below(3) {
            0 => ("configmaps", format!("{app}-config")),
            1 => ("secrets", format!("{app}-tls")),
            _ => ("secrets", "registry-pull-secret".to_string()),
        };
        self.req(&mut e, "get", res, Some(ns), Some(&name));
        e.may_404 = true;
        e
    }

    fn kubelet_pod_status(&mut self) -> Ev {
        let i = self.node_idx();
        let u = self.id_node(i);
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        let pod = self.pod_name(app);
        self.req_sub(
            &mut e,
            "patch",
            "pods",
            Some(ns),
            Some(&pod),
            Some("status"),
            "",
        );
        e.level = "Request";
        let uid = self.uuid();
        let mut b = String::with_capacity(900);
        {
            let mut j = J::new(&mut b);
            j.o();
            j.ko("metadata");
            j.ks("uid", &uid);
            j.end_o();
            j.ko("status");
            j.ka("$setElementOrder/conditions");
            for t in [
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled",
            ] {
                j.o();
                j.ks("type", t);
                j.end_o();
            }
            j.end_a();
            j.ka("conditions");
            for t in ["Ready", "ContainersReady"] {
                j.o();
                j.kraw("lastProbeTime", "null");
                j.k("lastTransitionTime");
                j.time(self.t - 1_000_000 * self.rng.range(1, 300) as i64, false);
                j.ks("status", "True");
                j.ks("type", t);
                j.end_o();
            }
            j.end_a();
            j.end_o();
            j.end_o();
        }
        e.req = Some(b);
        e
    }

    fn kubelet_event(&mut self) -> Ev {
        let i = self.node_idx();
        let u = self.id_node(i);
        let mut e = self.ev(u);
        let (ns, _, _) = self.app();
        self.req(&mut e, "create", "events", Some(ns), None);
        e
    }

    fn kubelet_token(&mut self) -> Ev {
        let i = self.node_idx();
        let u = self.id_node(i);
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        self.req_sub(
            &mut e,
            "create",
            "serviceaccounts",
            Some(ns),
            Some(app),
            Some("token"),
            "",
        );
        e
    }

    fn kubelet_pod_get(&mut self) -> Ev {
        let i = self.node_idx();
        let u = self.id_node(i);
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        let pod = self.pod_name(app);
        self.req(&mut e, "get", "pods", Some(ns), Some(&pod));
        e.may_404 = true;
        e
    }

    fn kubelet_watch_misc(&mut self) -> Ev {
        let i = self.node_idx();
        let u = self.id_node(i);
        let mut e = self.ev(u);
        match self.rng.below(4) {
            0 => {
                let q = self.watch_q(Some(&format!("spec.nodeName={}", NODES[i])));
                self.req_sub(&mut e, "watch", "pods", None, None, None, "");
                e.uri = format!("/api/v1/pods{q}");
            }
            1 => self.req(&mut e, "watch", "nodes", None, Some(NODES[i])),
            2 => self.req(&mut e, "watch", "services", None, None),
            _ => {
                self.req(&mut e, "list", "services", None, None);
            }
        }
        e
    }

    // ----- scenarios: control plane components -----

    fn cm_lease_update(&mut self) -> Ev {
        let u = self.id_component(
            "system:kube-controller-manager",
            "kube-controller-manager",
            "/leader-election",
        );
        let mut e = self.ev(u);
        self.req_sub(
            &mut e,
            "update",
            "leases",
            Some("kube-system"),
            Some("kube-controller-manager"),
            None,
            "?timeout=5s",
        );
        e
    }

    fn cm_lease_get(&mut self) -> Ev {
        let u = self.id_component(
            "system:kube-controller-manager",
            "kube-controller-manager",
            "/leader-election",
        );
        let mut e = self.ev(u);
        self.req_sub(
            &mut e,
            "get",
            "leases",
            Some("kube-system"),
            Some("kube-controller-manager"),
            None,
            "?timeout=5s",
        );
        e
    }

    fn cm_discovery(&mut self) -> Ev {
        let c = *self.rng.pick(&[
            "generic-garbage-collector",
            "resourcequota-controller",
            "namespace-controller",
        ]);
        let u = self.id_controller(c);
        let mut e = self.ev(u);
        let p = *self.rng.pick(&["/api?timeout=32s", "/apis?timeout=32s"]);
        self.nonresource(&mut e, p);
        e
    }

    fn sched_lease_update(&mut self) -> Ev {
        let u = self.id_component(
            "system:kube-scheduler",
            "kube-scheduler",
            "/leader-election",
        );
        let mut e = self.ev(u);
        self.req_sub(
            &mut e,
            "update",
            "leases",
            Some("kube-system"),
            Some("kube-scheduler"),
            None,
            "?timeout=5s",
        );
        e
    }

    fn sched_lease_get(&mut self) -> Ev {
        let u = self.id_component(
            "system:kube-scheduler",
            "kube-scheduler",
            "/leader-election",
        );
        let mut e = self.ev(u);
        self.req_sub(
            &mut e,
            "get",
            "leases",
            Some("kube-system"),
            Some("kube-scheduler"),
            None,
            "?timeout=5s",
        );
        e
    }

    fn sched_binding(&mut self) -> Ev {
        let u = self.id_component("system:kube-scheduler", "kube-scheduler", "/scheduler");
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        let pod = self.pod_name(app);
        self.req_sub(
            &mut e,
            "create",
            "pods",
            Some(ns),
            Some(&pod),
            Some("binding"),
            "",
        );
        e.level = "Request";
        let node = NODES[3 + self.rng.below(12) as usize];
        let uid = self.uuid();
        let mut b = String::with_capacity(300);
        {
            let mut j = J::new(&mut b);
            j.o();
            j.ks("kind", "Binding");
            j.ks("apiVersion", "v1");
            j.ko("metadata");
            j.ks("name", &pod);
            j.ks("namespace", ns);
            j.ks("uid", &uid);
            j.kraw("creationTimestamp", "null");
            j.end_o();
            j.ko("target");
            j.ks("kind", "Node");
            j.ks("name", node);
            j.end_o();
            j.end_o();
        }
        e.req = Some(b);
        e
    }

    fn sched_watch(&mut self) -> Ev {
        let u = self.id_component("system:kube-scheduler", "kube-scheduler", "/scheduler");
        let mut e = self.ev(u);
        let r = *self.rng.pick(&[
            "pods",
            "nodes",
            "persistentvolumeclaims",
            "poddisruptionbudgets",
            "namespaces",
        ]);
        let verb = if self.rng.chance(1, 5) {
            "list"
        } else {
            "watch"
        };
        self.req(&mut e, verb, r, None, None);
        e
    }

    // ----- scenarios: controllers (kube-controller-manager service accounts) -----

    fn ctrl_endpoints(&mut self) -> Ev {
        let u = self.id_controller("endpoint-controller");
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        self.req(&mut e, "update", "endpoints", Some(ns), Some(app));
        e
    }

    fn ctrl_endpointslices(&mut self) -> Ev {
        let u = self.id_controller("endpointslice-controller");
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        let name = format!("{app}-{}", suffix_from(h64(app) >> 7, 5));
        self.req(&mut e, "update", "endpointslices", Some(ns), Some(&name));
        e
    }

    fn ctrl_rs_create_pod(&mut self) -> Ev {
        let u = self.id_controller("replicaset-controller");
        let mut e = self.ev(u);
        let (ns, app, image) = self.app();
        self.req(&mut e, "create", "pods", Some(ns), None);
        e.level = "RequestResponse";
        let privileged = self.rng.chance(3, 100);
        let host = self.rng.chance(2, 100);
        let tpl = self.pod_tpl(app, image, privileged, host, false);
        let pod = self.pod_name(app);
        let (req, resp) = self.pod_bodies(ns, &tpl, &pod, "ReplicaSet", "kube-controller-manager");
        e.req = Some(req);
        // Audit policy: pods at RequestResponse in system namespaces, Request elsewhere.
        if matches!(
            ns,
            "kube-system" | "monitoring" | "cert-manager" | "ingress-nginx"
        ) {
            e.resp = Some(resp);
        } else {
            e.level = "Request";
        }
        e.obj.as_mut().unwrap().name = Some(pod);
        let policy = if ns == "prod" || ns == "staging" {
            "baseline:latest"
        } else {
            "privileged:latest"
        };
        e.ann
            .push(("pod-security.kubernetes.io/enforce-policy", policy.into()));
        e
    }

    fn ctrl_rs_delete_pod(&mut self) -> Ev {
        let u = self.id_controller("replicaset-controller");
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        let pod = self.pod_name(app);
        self.req(&mut e, "delete", "pods", Some(ns), Some(&pod));
        if self.rng.chance(1, 3) {
            e.obj.as_mut().unwrap().uid = Some(self.uuid());
        }
        e
    }

    fn ctrl_rs_status(&mut self) -> Ev {
        let u = self.id_controller("replicaset-controller");
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        let name = format!("{app}-{}", suffix_from(h64(app), 10));
        self.req_sub(
            &mut e,
            "update",
            "replicasets",
            Some(ns),
            Some(&name),
            Some("status"),
            "",
        );
        e
    }

    fn ctrl_deploy_status(&mut self) -> Ev {
        let u = self.id_controller("deployment-controller");
        let mut e = self.ev(u);
        let (ns, app, image) = self.app();
        self.req_sub(
            &mut e,
            "update",
            "deployments",
            Some(ns),
            Some(app),
            Some("status"),
            "",
        );
        // Audit policy: deployments/status at level Request.
        e.level = "Request";
        let tpl = self.pod_tpl(app, image, false, false, false);
        let rv = self.next_rv();
        let req = self.deployment_body(ns, &tpl, &rv, None, true);
        e.req = Some(req);
        e
    }

    fn ctrl_ds_create_pod(&mut self) -> Ev {
        let u = self.id_controller("daemon-set-controller");
        let mut e = self.ev(u);
        let (ns, app, image) = *self.rng.pick(DAEMONS);
        self.req(&mut e, "create", "pods", Some(ns), None);
        e.level = "RequestResponse";
        let privileged = !self.rng.chance(1, 5);
        let tpl = self.pod_tpl(app, image, privileged, true, true);
        let pod = format!("{app}-{}", suffix_from(self.rng.next(), 5));
        let (req, resp) = self.pod_bodies(ns, &tpl, &pod, "DaemonSet", "kube-controller-manager");
        e.req = Some(req);
        e.resp = Some(resp);
        e.obj.as_mut().unwrap().name = Some(pod);
        e.ann.push((
            "pod-security.kubernetes.io/enforce-policy",
            "privileged:latest".into(),
        ));
        e
    }

    fn ctrl_watch_misc(&mut self) -> Ev {
        let c = *self.rng.pick(CONTROLLERS);
        let u = self.id_controller(c);
        let mut e = self.ev(u);
        let r = *self.rng.pick(&[
            "pods",
            "deployments",
            "replicasets",
            "statefulsets",
            "jobs",
            "nodes",
            "namespaces",
            "serviceaccounts",
            "clusterroles",
            "rolebindings",
            "configmaps",
            "secrets",
            "horizontalpodautoscalers",
        ]);
        match self.rng.below(6) {
            0 => self.req(&mut e, "list", r, None, None),
            1 if c == "node-controller" || c == "ttl-controller" => {
                let i = self.node_idx();
                self.req(&mut e, "patch", "nodes", None, Some(NODES[i]));
            }
            1 | 2 => {
                let (ns, app, _) = self.app();
                self.req(&mut e, "get", "deployments", Some(ns), Some(app));
                if c == "horizontal-pod-autoscaler" {
                    self.req_sub(
                        &mut e,
                        "get",
                        "deployments",
                        Some(ns),
                        Some(app),
                        Some("scale"),
                        "",
                    );
                }
            }
            _ => self.req(&mut e, "watch", r, None, None),
        }
        e
    }

    fn ctrl_root_ca(&mut self) -> Ev {
        let u = self.id_controller("root-ca-cert-publisher");
        let mut e = self.ev(u);
        let (ns, _, _) = self.app();
        let v = if self.rng.chance(1, 2) {
            "update"
        } else {
            "get"
        };
        self.req(&mut e, v, "configmaps", Some(ns), Some("kube-root-ca.crt"));
        e
    }

    fn ctrl_namespace(&mut self) -> Ev {
        let u = self.id_controller("namespace-controller");
        let mut e = self.ev(u);
        let ns = "preview-pr-4821";
        match self.rng.below(6) {
            0 => self.req(&mut e, "deletecollection", "configmaps", Some(ns), None),
            1 => self.req(&mut e, "delete", "configmaps", Some(ns), Some("app-config")),
            2 => self.req(&mut e, "get", "namespaces", None, Some(ns)),
            3 => self.req_sub(
                &mut e,
                "update",
                "namespaces",
                None,
                Some(ns),
                Some("finalize"),
                "",
            ),
            _ => {
                let r = *self.rng.pick(&[
                    "pods",
                    "configmaps",
                    "serviceaccounts",
                    "rolebindings",
                    "leases",
                ]);
                self.req(&mut e, "list", r, Some(ns), None);
            }
        }
        e
    }

    fn ctrl_clusterrole_agg(&mut self) -> Ev {
        let u = self.id_controller("clusterrole-aggregation-controller");
        let mut e = self.ev(u);
        let n = *self.rng.pick(&["admin", "edit", "view"]);
        let v = if self.rng.chance(1, 4) {
            "update"
        } else {
            "get"
        };
        self.req(&mut e, v, "clusterroles", None, Some(n));
        e
    }

    // ----- scenarios: kube-apiserver itself and anonymous probes -----

    fn apiserver_lease(&mut self) -> Ev {
        let u = self.id_apiserver();
        let mut e = self.ev(u);
        let cp = self.rng.below(3);
        let name = format!("apiserver-{}", suffix_from(h64(NODES[cp as usize]), 26));
        self.req_sub(
            &mut e,
            "update",
            "leases",
            Some("kube-system"),
            Some(&name),
            None,
            "",
        );
        e
    }

    fn apiserver_lease_get(&mut self) -> Ev {
        let mut e = self.apiserver_lease();
        e.verb = "get";
        e
    }

    fn apiserver_misc(&mut self) -> Ev {
        let u = self.id_apiserver();
        let mut e = self.ev(u);
        match self.rng.below(5) {
            0 => {
                let n = *self.rng.pick(&["default", "kube-system", "kube-public"]);
                self.req(&mut e, "get", "namespaces", None, Some(n));
            }
            1 => self.req(
                &mut e,
                "get",
                "services",
                Some("default"),
                Some("kubernetes"),
            ),
            2 => self.req(
                &mut e,
                "get",
                "endpoints",
                Some("default"),
                Some("kubernetes"),
            ),
            3 => {
                let r = *self.rng.pick(&[
                    "clusterroles",
                    "rolebindings",
                    "namespaces",
                    "priorityclasses",
                ]);
                self.req(&mut e, "watch", r, None, None);
            }
            _ => self.req(&mut e, "list", "resourcequotas", None, None),
        }
        e
    }

    fn anon_health(&mut self) -> Ev {
        let cp = self.rng.below(3) as usize;
        let u = Ident {
            name: "system:anonymous".into(),
            uid: None,
            groups: vec!["system:unauthenticated".into()],
            extra: None,
            ua: "kube-probe/1.31".into(),
            ips: vec![node_ip(cp)],
            reason: "RBAC: allowed by ClusterRoleBinding \"system:public-info-viewer\" of ClusterRole \"system:public-info-viewer\" to Group \"system:unauthenticated\"".into(),
            human: false,
        };
        let mut e = self.ev(u);
        let p = *self.rng.pick(&[
            "/livez",
            "/readyz",
            "/healthz",
            "/readyz?verbose",
            "/livez?exclude=etcd",
        ]);
        self.nonresource(&mut e, p);
        e
    }

    // ----- scenarios: in-cluster workloads -----

    fn prom_watch(&mut self) -> Ev {
        let u = self.id_pod_sa(
            "monitoring",
            "prometheus",
            "Prometheus/2.54.1",
            "prometheus",
        );
        let mut e = self.ev(u);
        let r = *self
            .rng
            .pick(&["pods", "endpoints", "services", "nodes", "endpointslices"]);
        let verb = if self.rng.chance(1, 6) {
            "list"
        } else {
            "watch"
        };
        if r == "nodes" {
            self.req(&mut e, verb, r, None, None);
        } else {
            let (ns, _, _) = self.app();
            self.req(&mut e, verb, r, Some(ns), None);
        }
        e
    }

    fn prom_metrics(&mut self) -> Ev {
        let u = self.id_pod_sa(
            "monitoring",
            "prometheus",
            "Prometheus/2.54.1",
            "prometheus",
        );
        let mut e = self.ev(u);
        if self.rng.chance(1, 2) {
            self.nonresource(&mut e, "/metrics");
        } else {
            let i = self.node_idx();
            self.req_sub(
                &mut e,
                "get",
                "nodes",
                None,
                Some(NODES[i]),
                Some("proxy"),
                "",
            );
            e.uri.push_str("/metrics/cadvisor");
        }
        e
    }

    fn ksm_watch(&mut self) -> Ev {
        let u = self.id_pod_sa(
            "monitoring",
            "kube-state-metrics",
            &format!(
                "kube-state-metrics/v2.13.0 (linux/amd64) kubernetes/{:07x}",
                h64("ksm") >> 36
            ),
            "kube-state-metrics",
        );
        let mut e = self.ev(u);
        let r = *self.rng.pick(&[
            "pods",
            "deployments",
            "secrets",
            "configmaps",
            "nodes",
            "namespaces",
            "serviceaccounts",
            "jobs",
            "leases",
        ]);
        self.req(&mut e, "watch", r, None, None);
        e
    }

    fn rbac_proxy_tokenreview(&mut self) -> Ev {
        let u = self.id_pod_sa(
            "monitoring",
            "node-exporter",
            "kube-rbac-proxy/v0.18.1 (linux/amd64) kubernetes/$Format",
            "node-exporter",
        );
        let mut e = self.ev(u);
        self.req(&mut e, "create", "tokenreviews", None, None);
        e
    }

    fn rbac_proxy_sar(&mut self) -> Ev {
        let mut e = self.rbac_proxy_tokenreview();
        self.req(&mut e, "create", "subjectaccessreviews", None, None);
        e
    }

    fn metrics_server(&mut self) -> Ev {
        let u = self.id_pod_sa(
            "kube-system",
            "metrics-server",
            "metrics-server/v0.7.2 (linux/amd64) kubernetes/$Format",
            "system:metrics-server",
        );
        let mut e = self.ev(u);
        if self.rng.chance(1, 2) {
            self.req(&mut e, "list", "nodes", None, None);
        } else {
            self.req(&mut e, "watch", "pods", None, None);
        }
        e
    }

    fn coredns_watch(&mut self) -> Ev {
        let u = self.id_pod_sa(
            "kube-system",
            "coredns",
            "coredns/v1.11.3 (linux/amd64) kubernetes/CoreDNS",
            "system:coredns",
        );
        let mut e = self.ev(u);
        let r = *self.rng.pick(&["endpointslices", "services", "namespaces"]);
        self.req(&mut e, "watch", r, None, None);
        e
    }

    fn kube_proxy_watch(&mut self) -> Ev {
        let ua = format!("kube-proxy/{VERSION_UA}");
        let u = self.id_pod_sa("kube-system", "kube-proxy", &ua, "system:node-proxier");
        let mut e = self.ev(u);
        let r = *self.rng.pick(&["endpointslices", "services", "nodes"]);
        self.req(&mut e, "watch", r, None, None);
        e
    }

    fn id_certmgr(&mut self) -> Ident {
        self.id_pod_sa(
            "cert-manager",
            "cert-manager",
            "cert-manager-controller/v1.16.1 (linux/amd64) cert-manager/0e07b59",
            "cert-manager-controller-certificates",
        )
    }

    fn certmgr_secrets(&mut self) -> Ev {
        let u = self.id_certmgr();
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        let name = format!("{app}-tls");
        match self.rng.below(4) {
            0 => self.req(&mut e, "update", "secrets", Some(ns), Some(&name)),
            1 => self.req(&mut e, "list", "secrets", Some(ns), None),
            _ => {
                self.req(&mut e, "get", "secrets", Some(ns), Some(&name));
                e.may_404 = true;
            }
        }
        e
    }

    fn certmgr_lease(&mut self) -> Ev {
        let u = self.id_certmgr();
        let mut e = self.ev(u);
        let v = if self.rng.chance(1, 2) {
            "update"
        } else {
            "get"
        };
        self.req_sub(
            &mut e,
            v,
            "leases",
            Some("kube-system"),
            Some("cert-manager-controller"),
            None,
            "?timeout=5s",
        );
        e.user.reason = "RBAC: allowed by RoleBinding \"cert-manager:leaderelection/kube-system\" of Role \"cert-manager:leaderelection\" to ServiceAccount \"cert-manager/cert-manager\"".into();
        e
    }

    fn certmgr_misc(&mut self) -> Ev {
        let u = self.id_certmgr();
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        match self.rng.below(4) {
            0 => self.req(&mut e, "create", "events", Some(ns), None),
            1 => self.req_sub(
                &mut e,
                "update",
                "certificates",
                Some(ns),
                Some(&format!("{app}-tls")),
                Some("status"),
                "",
            ),
            2 => self.req(&mut e, "create", "certificaterequests", Some(ns), None),
            _ => self.req(&mut e, "watch", "certificates", None, None),
        }
        e
    }

    fn id_ingress(&mut self) -> Ident {
        self.id_pod_sa(
            "ingress-nginx",
            "ingress-nginx",
            "nginx-ingress-controller/v1.11.3 (linux/amd64) ingress-nginx/0106de65cfccb74405a6dfa7d9daffc6f0a6ef1a",
            "ingress-nginx",
        )
    }

    fn ingress_lease(&mut self) -> Ev {
        let u = self.id_ingress();
        let mut e = self.ev(u);
        let v = if self.rng.chance(1, 2) {
            "update"
        } else {
            "get"
        };
        self.req(
            &mut e,
            v,
            "leases",
            Some("ingress-nginx"),
            Some("ingress-nginx-leader"),
        );
        e
    }

    fn ingress_watch(&mut self) -> Ev {
        let u = self.id_ingress();
        let mut e = self.ev(u);
        let r = *self.rng.pick(&[
            "ingresses",
            "configmaps",
            "secrets",
            "endpointslices",
            "services",
        ]);
        self.req(&mut e, "watch", r, None, None);
        e
    }

    fn id_argocd(&mut self) -> Ident {
        self.id_pod_sa(
            "argocd",
            "argocd-application-controller",
            "argocd-application-controller/v2.13.1+af54ef8 (linux/amd64) kubernetes/af54ef8",
            "argocd-application-controller",
        )
    }

    fn argocd_patch(&mut self) -> Ev {
        let u = self.id_argocd();
        let mut e = self.ev(u);
        let (ns, app, image) = self.app();
        self.req_sub(
            &mut e,
            "patch",
            "deployments",
            Some(ns),
            Some(app),
            None,
            "?fieldManager=argocd-controller&force=true",
        );
        e.level = "RequestResponse";
        let tpl = self.pod_tpl(app, image, false, false, false);
        let req = self.apply_patch_body(ns, &tpl, true);
        let rv = self.next_rv();
        let resp = self.deployment_body(ns, &tpl, &rv, None, false);
        e.req = Some(req);
        e.resp = Some(resp);
        e
    }

    fn argocd_get(&mut self) -> Ev {
        let u = self.id_argocd();
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        match self.rng.below(3) {
            0 => self.req(&mut e, "get", "deployments", Some(ns), Some(app)),
            1 => self.req(
                &mut e,
                "get",
                "configmaps",
                Some("argocd"),
                Some("argocd-cm"),
            ),
            _ => {
                let r = *self
                    .rng
                    .pick(&["deployments", "services", "configmaps", "secrets"]);
                self.req(&mut e, "watch", r, None, None);
            }
        }
        e
    }

    fn app_get_config(&mut self) -> Ev {
        let (ns, app) = *self.rng.pick(&[
            ("prod", "web"),
            ("prod", "api"),
            ("prod", "checkout"),
            ("staging", "worker"),
            ("default", "hello"),
        ]);
        let ua = *self.rng.pick(&[
            "Go-http-client/2.0",
            "OpenAPI-Generator/31.0.0/python",
            "okhttp/4.12.0",
        ]);
        let u = self.id_pod_sa(ns, app, ua, "Role \"app-config-reader\"");
        let mut e = self.ev(u);
        match self.rng.below(5) {
            0 | 1 => self.req(
                &mut e,
                "get",
                "configmaps",
                Some(ns),
                Some(&format!("{app}-config")),
            ),
            2 => self.req(&mut e, "get", "secrets", Some(ns), Some("db-credentials")),
            3 => self.req(&mut e, "watch", "configmaps", Some(ns), None),
            _ => {
                let v = if self.rng.chance(1, 2) {
                    "update"
                } else {
                    "get"
                };
                self.req(
                    &mut e,
                    v,
                    "leases",
                    Some(ns),
                    Some(&format!("{app}-leader")),
                );
            }
        }
        e.may_404 = true;
        e
    }

    fn fluentbit_get(&mut self) -> Ev {
        let u = self.id_pod_sa("logging", "fluent-bit", "Fluent-Bit", "fluent-bit-read");
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        if self.rng.chance(1, 4) {
            self.req(&mut e, "get", "namespaces", None, Some(ns));
        } else {
            let pod = self.pod_name(app);
            self.req(&mut e, "get", "pods", Some(ns), Some(&pod));
            e.may_404 = true;
        }
        e
    }

    // ----- the rare verb=delete resource=secrets scenario (P = 1/2000 exactly) -----

    fn delete_secret(&mut self) -> Ev {
        let mut e = match self.rng.below(10) {
            0..=3 => {
                let u = self.id_certmgr();
                let mut e = self.ev(u);
                let (ns, app, _) = self.app();
                let name = format!("{app}-tls-{}", suffix_from(self.rng.next(), 5));
                self.req(&mut e, "delete", "secrets", Some(ns), Some(&name));
                e
            }
            4 | 5 => {
                let u = self.id_controller("namespace-controller");
                let mut e = self.ev(u);
                let n = *self
                    .rng
                    .pick(&["db-credentials", "app-tls", "registry-pull-secret"]);
                self.req(
                    &mut e,
                    "delete",
                    "secrets",
                    Some("preview-pr-4821"),
                    Some(n),
                );
                e
            }
            6 => {
                let u = self.id_controller("token-cleaner");
                let mut e = self.ev(u);
                let n = format!("bootstrap-token-{}", suffix_from(self.rng.next(), 6));
                self.req(&mut e, "delete", "secrets", Some("kube-system"), Some(&n));
                e
            }
            _ => {
                let u = self.id_human();
                let mut e = self.ev(u);
                let (ns, app, _) = self.app();
                let n = if e.user.ua.starts_with("Helm") {
                    format!("sh.helm.release.v1.{app}.v{}", self.rng.range(1, 30))
                } else {
                    (*self
                        .rng
                        .pick(&["db-credentials", "api-token", "registry-pull-secret"]))
                    .to_string()
                };
                self.req(&mut e, "delete", "secrets", Some(ns), Some(&n));
                e
            }
        };
        if self.rng.chance(1, 3) {
            e.obj.as_mut().unwrap().uid = Some(self.uuid());
        }
        e
    }

    // ----- scenarios: humans -----

    fn h_list_pods(&mut self) -> Ev {
        let u = self.id_human();
        let mut e = self.ev(u);
        let (ns, _, _) = self.app();
        self.req_sub(&mut e, "list", "pods", Some(ns), None, None, "?limit=500");
        e
    }

    fn h_get_pod(&mut self) -> Ev {
        let u = self.id_human();
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        let pod = self.pod_name(app);
        self.req(&mut e, "get", "pods", Some(ns), Some(&pod));
        e.may_404 = true;
        e
    }

    fn h_list_events(&mut self) -> Ev {
        let u = self.id_human();
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        let pod = self.pod_name(app);
        let q = format!(
            "?fieldSelector=involvedObject.name%3D{pod}%2CinvolvedObject.namespace%3D{ns}%2CinvolvedObject.kind%3DPod&limit=500"
        );
        self.req_sub(&mut e, "list", "events", Some(ns), None, None, &q);
        e
    }

    fn h_discovery(&mut self) -> Ev {
        let u = self.id_human();
        let mut e = self.ev(u);
        let p = *self.rng.pick(&[
            "/api?timeout=32s",
            "/apis?timeout=32s",
            "/version?timeout=32s",
            "/openapi/v3?timeout=32s",
            "/api",
            "/apis",
            "/version",
        ]);
        self.nonresource(&mut e, p);
        e
    }

    fn h_exec(&mut self) -> Ev {
        let u = self.id_human();
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        let pod = self.pod_name(app);
        let q = format!("?command=%2Fbin%2Fsh&container={app}&stdin=true&stdout=true&tty=true");
        self.req_sub(
            &mut e,
            "create",
            "pods",
            Some(ns),
            Some(&pod),
            Some("exec"),
            &q,
        );
        e.code = 101;
        e
    }

    fn h_logs(&mut self) -> Ev {
        let u = self.id_human();
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        let pod = self.pod_name(app);
        let q = if self.rng.chance(1, 2) {
            format!("?container={app}&follow=true&tailLines=100")
        } else {
            "?sinceSeconds=3600".to_string()
        };
        self.req_sub(&mut e, "get", "pods", Some(ns), Some(&pod), Some("log"), &q);
        e
    }

    fn h_apply(&mut self) -> Ev {
        let u = self.id_human();
        let mut e = self.ev(u);
        let (ns, app, image) = self.app();
        self.req_sub(
            &mut e,
            "patch",
            "deployments",
            Some(ns),
            Some(app),
            None,
            "?fieldManager=kubectl-client-side-apply&fieldValidation=Strict",
        );
        e.level = "RequestResponse";
        let tpl = self.pod_tpl(app, image, false, false, false);
        let req = self.apply_patch_body(ns, &tpl, false);
        let rv = self.next_rv();
        let last = self.last_applied(ns, &tpl);
        let resp = self.deployment_body(ns, &tpl, &rv, Some(&last), false);
        e.req = Some(req);
        e.resp = Some(resp);
        e
    }

    fn h_get_secret(&mut self) -> Ev {
        let u = self.id_human();
        let mut e = self.ev(u);
        let (ns, _, _) = self.app();
        if self.rng.chance(1, 3) {
            self.req(&mut e, "list", "secrets", Some(ns), None);
        } else {
            let n = *self
                .rng
                .pick(&["db-credentials", "api-token", "registry-pull-secret"]);
            self.req(&mut e, "get", "secrets", Some(ns), Some(n));
            e.may_404 = true;
        }
        e
    }

    fn h_delete_pod(&mut self) -> Ev {
        let u = self.id_human();
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        let pod = self.pod_name(app);
        self.req(&mut e, "delete", "pods", Some(ns), Some(&pod));
        e
    }

    fn h_rbac(&mut self) -> Ev {
        let u = self.id_human();
        let mut e = self.ev(u);
        let (ns, _, _) = self.app();
        match self.rng.below(3) {
            0 => self.req(&mut e, "create", "rolebindings", Some(ns), None),
            1 => {
                let n = *self.rng.pick(&["admin", "edit", "view", "cluster-admin"]);
                self.req(&mut e, "get", "clusterroles", None, Some(n));
            }
            _ => self.req(&mut e, "list", "rolebindings", Some(ns), None),
        }
        e
    }

    fn h_namespace(&mut self) -> Ev {
        let u = self.id_human();
        let mut e = self.ev(u);
        match self.rng.below(3) {
            0 => self.req(&mut e, "create", "namespaces", None, None),
            1 => self.req(
                &mut e,
                "delete",
                "namespaces",
                None,
                Some("preview-pr-4821"),
            ),
            _ => self.req(&mut e, "list", "namespaces", None, None),
        }
        e
    }

    fn h_configmap(&mut self) -> Ev {
        let u = self.id_human();
        let mut e = self.ev(u);
        let (ns, app, _) = self.app();
        let name = format!("{app}-config");
        match self.rng.below(3) {
            0 => self.req(&mut e, "update", "configmaps", Some(ns), Some(&name)),
            _ => self.req(&mut e, "get", "configmaps", Some(ns), Some(&name)),
        }
        e
    }

    fn h_nodes(&mut self) -> Ev {
        let u = self.id_human();
        let mut e = self.ev(u);
        if self.rng.chance(1, 2) {
            self.req(&mut e, "list", "nodes", None, None);
        } else {
            let i = self.node_idx();
            self.req(&mut e, "get", "nodes", None, Some(NODES[i]));
        }
        e
    }

    fn h_impersonate(&mut self) -> Ev {
        let mut u = self.id_human();
        u.name = "kubernetes-admin".into();
        u.uid = None;
        u.groups = vec![
            "kubeadm:cluster-admins".into(),
            "system:authenticated".into(),
        ];
        u.reason = "RBAC: allowed by RoleBinding \"app-config-reader/prod\" of Role \"app-config-reader\" to ServiceAccount \"app/prod\"".into();
        let mut e = self.ev(u);
        e.imp = Some(Ident {
            name: "system:serviceaccount:prod:app".into(),
            uid: None,
            groups: vec![
                "system:serviceaccounts".into(),
                "system:serviceaccounts:prod".into(),
                "system:authenticated".into(),
            ],
            extra: None,
            ua: String::new(),
            ips: Vec::new(),
            reason: String::new(),
            human: false,
        });
        if self.rng.chance(1, 2) {
            self.req(&mut e, "list", "pods", Some("prod"), None);
        } else {
            self.req(
                &mut e,
                "get",
                "secrets",
                Some("prod"),
                Some("db-credentials"),
            );
        }
        e
    }

    fn h_can_i(&mut self) -> Ev {
        let u = self.id_human();
        let mut e = self.ev(u);
        self.req(&mut e, "create", "selfsubjectaccessreviews", None, None);
        e
    }

    // ----- bodies -----

    fn pod_tpl(
        &mut self,
        app: &str,
        image: &str,
        privileged: bool,
        host: bool,
        daemon: bool,
    ) -> PodTpl {
        let nc = match self.rng.below(100) {
            0..=69 => 1,
            70..=91 => 2,
            _ if daemon => 2,
            _ => 3,
        };
        let mut volumes = Vec::new();
        if host {
            const HP: &[(&str, &str)] = &[
                ("varlog", "/var/log"),
                ("proc", "/proc"),
                ("sys", "/sys"),
                ("rootfs", "/"),
                ("containerd-sock", "/run/containerd/containerd.sock"),
                ("kubelet-dir", "/var/lib/kubelet"),
            ];
            let n = self.rng.range(1, 3) as usize;
            let off = self.rng.below(HP.len() as u64) as usize;
            for k in 0..n {
                let (name, path) = HP[(off + k) % HP.len()];
                volumes.push((name.to_string(), 0, path.to_string()));
            }
        }
        volumes.push(("config".into(), 1, format!("{app}-config")));
        if self.rng.chance(1, 3) {
            volumes.push(("tls".into(), 2, format!("{app}-tls")));
        }
        if self.rng.chance(1, 4) {
            volumes.push(("tmp".into(), 3, String::new()));
        }
        let mut containers = Vec::with_capacity(nc);
        for ci in 0..nc {
            let (name, img) = if ci == 0 {
                (app.to_string(), image.to_string())
            } else {
                let (n, i) = SIDECARS[(ci - 1 + (h64(app) % 4) as usize) % SIDECARS.len()];
                (n.to_string(), i.to_string())
            };
            let n_env = if ci == 0 && self.rng.chance(1, 10) {
                self.rng.range(8, 36)
            } else {
                self.rng.range(0, 6)
            } as usize;
            let mut env = Vec::with_capacity(n_env);
            for k in 0..n_env {
                let base = ENV_NAMES[k % ENV_NAMES.len()];
                let en = if k < ENV_NAMES.len() {
                    base.to_string()
                } else {
                    format!("{base}_{}", k / ENV_NAMES.len())
                };
                if self.rng.chance(1, 8) {
                    env.push((en, None, true));
                } else {
                    let v = match self.rng.below(4) {
                        0 => "info".to_string(),
                        1 => self.rng.range(1, 65535).to_string(),
                        2 => format!("http://{}.{}.svc.cluster.local:8080", app, "prod"),
                        _ => format!("{:x}", self.rng.next()),
                    };
                    env.push((en, Some(v), false));
                }
            }
            let mut mounts = Vec::new();
            for (vn, kind, src) in &volumes {
                if ci == 0 || self.rng.chance(1, 3) {
                    let mp = match kind {
                        0 => format!("/host{}", src.trim_end_matches('/')),
                        1 => "/etc/app".to_string(),
                        2 => "/etc/tls".to_string(),
                        _ => "/tmp".to_string(),
                    };
                    mounts.push((vn.clone(), mp, *kind != 3));
                }
            }
            containers.push(Container {
                name,
                image: img,
                env,
                privileged: privileged && ci == 0,
                port: if ci == 0 {
                    Some(*self.rng.pick(&[8080, 8443, 9090, 3000, 6379]))
                } else {
                    None
                },
                mounts,
            });
        }
        PodTpl {
            app: app.to_string(),
            containers,
            volumes,
            host_network: daemon && self.rng.chance(1, 2),
            api_access: format!("kube-api-access-{}", suffix_from(self.rng.next(), 5)),
        }
    }

    fn pod_spec(&mut self, j: &mut J, t: &PodTpl, node: Option<&str>) {
        j.o();
        j.ka("volumes");
        for (name, kind, src) in &t.volumes {
            j.o();
            j.ks("name", name);
            match kind {
                0 => {
                    j.ko("hostPath");
                    j.ks("path", src);
                    j.ks("type", if src.ends_with(".sock") { "Socket" } else { "" });
                    j.end_o();
                }
                1 => {
                    j.ko("configMap");
                    j.ks("name", src);
                    j.kn("defaultMode", 420);
                    j.end_o();
                }
                2 => {
                    j.ko("secret");
                    j.ks("secretName", src);
                    j.kn("defaultMode", 420);
                    j.end_o();
                }
                _ => j.kempty("emptyDir"),
            }
            j.end_o();
        }
        j.o();
        j.ks("name", &t.api_access);
        j.kraw(
            "projected",
            "{\"sources\":[{\"serviceAccountToken\":{\"expirationSeconds\":3607,\"path\":\"token\"}},{\"configMap\":{\"name\":\"kube-root-ca.crt\",\"items\":[{\"key\":\"ca.crt\",\"path\":\"ca.crt\"}]}},{\"downwardAPI\":{\"items\":[{\"path\":\"namespace\",\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":\"metadata.namespace\"}}]}}],\"defaultMode\":420}",
        );
        j.end_o();
        j.end_a();
        j.ka("containers");
        for c in &t.containers {
            j.o();
            j.ks("name", &c.name);
            j.ks("image", &c.image);
            if let Some(p) = c.port {
                j.ka("ports");
                j.o();
                j.ks("name", "http");
                j.kn("containerPort", p);
                j.ks("protocol", "TCP");
                j.end_o();
                j.end_a();
            }
            if !c.env.is_empty() {
                j.ka("env");
                for (n, v, from_secret) in &c.env {
                    j.o();
                    j.ks("name", n);
                    if let Some(v) = v {
                        j.ks("value", v);
                    }
                    if *from_secret {
                        j.ko("valueFrom");
                        j.ko("secretKeyRef");
                        j.ks("name", "db-credentials");
                        j.ks("key", "password");
                        j.end_o();
                        j.end_o();
                    }
                    j.end_o();
                }
                j.end_a();
            }
            let cpu = *self.rng.pick(&["100m", "250m", "500m", "1"]);
            let mem = *self.rng.pick(&["128Mi", "256Mi", "512Mi", "1Gi"]);
            j.ko("resources");
            j.ko("limits");
            j.ks("memory", mem);
            j.end_o();
            j.ko("requests");
            j.ks("cpu", cpu);
            j.ks("memory", mem);
            j.end_o();
            j.end_o();
            j.ka("volumeMounts");
            for (vn, mp, ro) in &c.mounts {
                j.o();
                j.ks("name", vn);
                if *ro {
                    j.kb("readOnly", true);
                }
                j.ks("mountPath", mp);
                j.end_o();
            }
            j.o();
            j.ks("name", &t.api_access);
            j.kb("readOnly", true);
            j.ks("mountPath", "/var/run/secrets/kubernetes.io/serviceaccount");
            j.end_o();
            j.end_a();
            if let Some(p) = c.port {
                for probe in ["livenessProbe", "readinessProbe"] {
                    j.ko(probe);
                    j.ko("httpGet");
                    j.ks(
                        "path",
                        if probe == "livenessProbe" {
                            "/healthz"
                        } else {
                            "/readyz"
                        },
                    );
                    j.kn("port", p);
                    j.ks("scheme", "HTTP");
                    j.end_o();
                    j.kn("timeoutSeconds", 1);
                    j.kn("periodSeconds", 10);
                    j.kn("successThreshold", 1);
                    j.kn("failureThreshold", 3);
                    j.end_o();
                }
            }
            j.ks("terminationMessagePath", "/dev/termination-log");
            j.ks("terminationMessagePolicy", "File");
            j.ks("imagePullPolicy", "IfNotPresent");
            j.ko("securityContext");
            if c.privileged {
                j.kb("privileged", true);
            } else {
                j.ko("capabilities");
                j.ka("drop");
                j.s("ALL");
                j.end_a();
                j.end_o();
                j.kb("privileged", false);
                j.kb("runAsNonRoot", true);
                j.kb("readOnlyRootFilesystem", true);
                j.kb("allowPrivilegeEscalation", false);
            }
            j.end_o();
            j.end_o();
        }
        j.end_a();
        j.ks("restartPolicy", "Always");
        j.kn("terminationGracePeriodSeconds", 30);
        j.ks(
            "dnsPolicy",
            if t.host_network {
                "ClusterFirstWithHostNet"
            } else {
                "ClusterFirst"
            },
        );
        j.ks("serviceAccountName", &t.app);
        j.ks("serviceAccount", &t.app);
        if let Some(n) = node {
            j.ks("nodeName", n);
        }
        if t.host_network {
            j.kb("hostNetwork", true);
        }
        j.kempty("securityContext");
        j.ks("schedulerName", "default-scheduler");
        j.kraw(
            "tolerations",
            "[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300},{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}]",
        );
        j.kn("priority", 0);
        j.kb("enableServiceLinks", true);
        j.ks("preemptionPolicy", "PreemptLowerPriority");
        j.end_o();
    }

    fn managed_fields(
        &mut self,
        j: &mut J,
        t: &PodTpl,
        manager: &str,
        owner_uid: Option<&str>,
        template: bool,
    ) {
        j.ka("managedFields");
        j.o();
        j.ks("manager", manager);
        j.ks("operation", "Update");
        j.ks("apiVersion", if template { "apps/v1" } else { "v1" });
        j.k("time");
        j.time(self.t - 1_000_000 * self.rng.range(0, 86_400) as i64, false);
        j.ks("fieldsType", "FieldsV1");
        j.ko("fieldsV1");
        j.ko("f:metadata");
        j.ko("f:labels");
        j.kempty(".");
        j.kempty("f:app");
        j.end_o();
        if let Some(uid) = owner_uid {
            j.ko("f:ownerReferences");
            j.kempty(".");
            j.kempty(&format!("k:{{\"uid\":\"{uid}\"}}"));
            j.end_o();
        }
        j.end_o();
        j.ko("f:spec");
        if template {
            j.ko("f:template");
            j.ko("f:spec");
        }
        j.ko("f:containers");
        for c in &t.containers {
            j.ko(&format!("k:{{\"name\":\"{}\"}}", c.name));
            j.kempty(".");
            if !c.env.is_empty() {
                j.ko("f:env");
                j.kempty(".");
                for (n, v, _) in &c.env {
                    j.ko(&format!("k:{{\"name\":\"{n}\"}}"));
                    j.kempty(".");
                    j.kempty("f:name");
                    j.kempty(if v.is_some() {
                        "f:value"
                    } else {
                        "f:valueFrom"
                    });
                    j.end_o();
                }
                j.end_o();
            }
            for f in [
                "f:image",
                "f:imagePullPolicy",
                "f:name",
                "f:resources",
                "f:securityContext",
                "f:volumeMounts",
            ] {
                j.kempty(f);
            }
            j.end_o();
        }
        j.end_o();
        for f in [
            "f:dnsPolicy",
            "f:restartPolicy",
            "f:schedulerName",
            "f:securityContext",
            "f:volumes",
        ] {
            j.kempty(f);
        }
        if template {
            j.end_o();
            j.end_o();
        }
        j.end_o();
        j.end_o();
        j.end_o();
        j.end_a();
    }

    /// (requestObject, responseObject) for a pod created by a controller.
    fn pod_bodies(
        &mut self,
        ns: &str,
        t: &PodTpl,
        name: &str,
        owner: &str,
        manager: &str,
    ) -> (String, String) {
        let owner_uid = self.uuid();
        let owner_name = if owner == "ReplicaSet" {
            format!("{}-{}", t.app, suffix_from(h64(&t.app), 10))
        } else {
            t.app.clone()
        };
        let gen_name = &name[..name.len() - 5];
        let mut out = [String::with_capacity(6000), String::with_capacity(9000)];
        let uid = self.uuid();
        let rv = self.next_rv();
        for (idx, b) in out.iter_mut().enumerate() {
            let resp = idx == 1;
            let mut j = J::new(b);
            j.o();
            j.ks("kind", "Pod");
            j.ks("apiVersion", "v1");
            j.ko("metadata");
            if resp {
                j.ks("name", name);
            }
            j.ks("generateName", gen_name);
            j.ks("namespace", ns);
            if resp {
                j.ks("uid", &uid);
                j.ks("resourceVersion", &rv);
                j.k("creationTimestamp");
                j.time(self.t, false);
            } else {
                j.kraw("creationTimestamp", "null");
            }
            j.ko("labels");
            j.ks("app", &t.app);
            if owner == "ReplicaSet" {
                j.ks("pod-template-hash", &suffix_from(h64(&t.app), 10));
            } else {
                j.ks(
                    "controller-revision-hash",
                    &suffix_from(h64(&t.app) >> 3, 10),
                );
                j.ks("pod-template-generation", "3");
            }
            j.end_o();
            j.ka("ownerReferences");
            j.o();
            j.ks("apiVersion", "apps/v1");
            j.ks("kind", owner);
            j.ks("name", &owner_name);
            j.ks("uid", &owner_uid);
            j.kb("controller", true);
            j.kb("blockOwnerDeletion", true);
            j.end_o();
            j.end_a();
            if resp {
                self.managed_fields(&mut j, t, manager, Some(&owner_uid), false);
            }
            j.end_o();
            j.k("spec");
            self.pod_spec(&mut j, t, None);
            j.k("status");
            if resp {
                j.raw("{\"phase\":\"Pending\",\"qosClass\":\"Burstable\"}");
            } else {
                j.raw("{}");
            }
            j.end_o();
        }
        let [a, b] = out;
        (a, b)
    }

    fn deployment_body(
        &mut self,
        ns: &str,
        t: &PodTpl,
        rv: &str,
        last_applied: Option<&str>,
        with_status: bool,
    ) -> String {
        let mut b = String::with_capacity(8000);
        let mut j = J::new(&mut b);
        let generation = self.rng.range(2, 40) as i64;
        let replicas = self.rng.range(1, 6) as i64;
        j.o();
        j.ks("kind", "Deployment");
        j.ks("apiVersion", "apps/v1");
        j.ko("metadata");
        j.ks("name", &t.app);
        j.ks("namespace", ns);
        j.ks("uid", &stable_uuid(&format!("deploy/{ns}/{}", t.app)));
        j.ks("resourceVersion", rv);
        j.kn("generation", generation);
        j.k("creationTimestamp");
        j.time(self.t - 86_400_000_000 * 40, false);
        j.ko("labels");
        j.ks("app", &t.app);
        j.ks("app.kubernetes.io/part-of", "shop");
        j.end_o();
        j.ko("annotations");
        j.ks(
            "deployment.kubernetes.io/revision",
            &(generation - 1).to_string(),
        );
        if let Some(l) = last_applied {
            j.ks("kubectl.kubernetes.io/last-applied-configuration", l);
        }
        j.end_o();
        if !with_status {
            self.managed_fields(&mut j, t, "kubectl-client-side-apply", None, true);
        }
        j.end_o();
        j.ko("spec");
        j.kn("replicas", replicas);
        j.ko("selector");
        j.ko("matchLabels");
        j.ks("app", &t.app);
        j.end_o();
        j.end_o();
        j.ko("template");
        j.ko("metadata");
        j.kraw("creationTimestamp", "null");
        j.ko("labels");
        j.ks("app", &t.app);
        j.end_o();
        j.end_o();
        j.k("spec");
        self.pod_spec(&mut j, t, None);
        j.end_o();
        j.kraw(
            "strategy",
            "{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxUnavailable\":\"25%\",\"maxSurge\":\"25%\"}}",
        );
        j.kn("revisionHistoryLimit", 10);
        j.kn("progressDeadlineSeconds", 600);
        j.end_o();
        j.ko("status");
        if with_status {
            j.kn("observedGeneration", generation);
            j.kn("replicas", replicas);
            j.kn("updatedReplicas", replicas);
            j.kn("readyReplicas", replicas);
            j.kn("availableReplicas", replicas);
            j.ka("conditions");
            for (ty, reason, msg) in [
                (
                    "Available",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.".to_string(),
                ),
                (
                    "Progressing",
                    "NewReplicaSetAvailable",
                    format!(
                        "ReplicaSet \"{}-{}\" has successfully progressed.",
                        t.app,
                        suffix_from(h64(&t.app), 10)
                    ),
                ),
            ] {
                j.o();
                j.ks("type", ty);
                j.ks("status", "True");
                j.k("lastUpdateTime");
                j.time(self.t - 1_000_000 * 3600, false);
                j.k("lastTransitionTime");
                j.time(self.t - 1_000_000 * 7200, false);
                j.ks("reason", reason);
                j.ks("message", &msg);
                j.end_o();
            }
            j.end_a();
        }
        j.end_o();
        j.end_o();
        b
    }

    /// kubectl's last-applied-configuration: compact JSON with sorted keys plus "\n".
    fn last_applied(&mut self, ns: &str, t: &PodTpl) -> String {
        let mut b = String::with_capacity(1024);
        let mut j = J::new(&mut b);
        j.o();
        j.ks("apiVersion", "apps/v1");
        j.ks("kind", "Deployment");
        j.ko("metadata");
        j.kempty("annotations");
        j.ko("labels");
        j.ks("app", &t.app);
        j.end_o();
        j.ks("name", &t.app);
        j.ks("namespace", ns);
        j.end_o();
        j.ko("spec");
        j.ko("template");
        j.ko("spec");
        j.ka("containers");
        for c in &t.containers {
            j.o();
            if !c.env.is_empty() {
                j.ka("env");
                for (n, v, _) in c.env.iter().take(8) {
                    j.o();
                    j.ks("name", n);
                    j.ks("value", v.as_deref().unwrap_or(""));
                    j.end_o();
                }
                j.end_a();
            }
            j.ks("image", &c.image);
            j.ks("name", &c.name);
            j.end_o();
        }
        j.end_a();
        j.end_o();
        j.end_o();
        j.end_o();
        j.end_o();
        b.push('\n');
        b
    }

    fn apply_patch_body(&mut self, ns: &str, t: &PodTpl, server_side: bool) -> String {
        let mut b = String::with_capacity(2048);
        let last = if server_side {
            String::new()
        } else {
            self.last_applied(ns, t)
        };
        let mut j = J::new(&mut b);
        j.o();
        if server_side {
            j.ks("apiVersion", "apps/v1");
            j.ks("kind", "Deployment");
        }
        j.ko("metadata");
        if server_side {
            j.ko("labels");
            j.ks("app.kubernetes.io/instance", &t.app);
            j.end_o();
            j.ks("name", &t.app);
            j.ks("namespace", ns);
        } else {
            j.ko("annotations");
            j.ks("kubectl.kubernetes.io/last-applied-configuration", &last);
            j.end_o();
        }
        j.end_o();
        j.ko("spec");
        j.ko("template");
        j.ko("spec");
        if !server_side {
            j.ka("$setElementOrder/containers");
            for c in &t.containers {
                j.o();
                j.ks("name", &c.name);
                j.end_o();
            }
            j.end_a();
        }
        j.ka("containers");
        for c in &t.containers {
            j.o();
            if !c.env.is_empty() {
                j.ka("env");
                for (n, v, _) in c.env.iter().take(6) {
                    j.o();
                    j.ks("name", n);
                    j.ks("value", v.as_deref().unwrap_or(""));
                    j.end_o();
                }
                j.end_a();
            }
            j.ks("image", &c.image);
            j.ks("name", &c.name);
            j.end_o();
        }
        j.end_a();
        j.end_o();
        j.end_o();
        j.end_o();
        j.end_o();
        b
    }

    // ----- event assembly -----

    fn make_event(&mut self) -> Ev {
        let mut e = if self.rng.chance(1, 2000) {
            self.delete_secret()
        } else if self.rng.chance(1, 50) {
            let f = self.pick_scenario(true);
            f(self)
        } else {
            let f = self.pick_scenario(false);
            f(self)
        };
        // Stage.
        if e.verb == "watch" {
            if self.rng.chance(17, 20) {
                e.stage = "ResponseStarted";
            }
        } else if self.rng.chance(1, 25) {
            e.stage = "RequestReceived";
        } else if self.rng.chance(1, 20_000) {
            e.stage = "Panic";
        }
        // Response code and failures.
        if e.code == 0 {
            e.code = if e.verb == "create" { 201 } else { 200 };
        }
        let forbid = e.user.human
            && match e.user.name.as_str() {
                "carol" => self.rng.chance(2, 5),
                "oidc:dave" => self.rng.chance(1, 5),
                _ => self.rng.chance(1, 50),
            };
        let obj_desc = e.obj.as_ref().map(|o| {
            (
                o.resource,
                o.name.clone().unwrap_or_default(),
                o.ns.clone(),
                group_version(o.resource).0,
            )
        });
        if e.stage == "Panic" {
            e.code = 500;
            e.fail = Some(Failure {
                message: format!(
                    "APIServer panic'd on {} {}: runtime error: invalid memory address or nil pointer dereference",
                    e.verb.to_uppercase(),
                    e.uri
                ),
                reason: "InternalError",
                name: None,
                group: "",
                kind: String::new(),
                cause: None,
            });
        } else if forbid {
            e.code = 403;
            let (res, name, ns, group) = obj_desc.clone().unwrap_or(("", String::new(), None, ""));
            let message = if res.is_empty() {
                format!(
                    "forbidden: User \"{}\" cannot get path \"{}\"",
                    e.user.name, e.uri
                )
            } else {
                let head = if name.is_empty() {
                    res.to_string()
                } else {
                    format!("{res} \"{name}\"")
                };
                let scope = match &ns {
                    Some(ns) => format!(" in the namespace \"{ns}\""),
                    None => " at the cluster scope".to_string(),
                };
                format!(
                    "{head} is forbidden: User \"{}\" cannot {} resource \"{res}\" in API group \"{group}\"{scope}",
                    e.user.name, e.verb
                )
            };
            e.fail = Some(Failure {
                message,
                reason: "Forbidden",
                name: (!name.is_empty()).then_some(name),
                group,
                kind: res.to_string(),
                cause: None,
            });
            e.user.reason = String::new();
            e.req = None;
            e.resp = None;
        } else if let Some((res, name, _, group)) = obj_desc {
            let label = kind_group_label(res);
            let has_sub = e.obj.as_ref().is_some_and(|o| o.sub.is_some());
            let mut invalid_kind: Option<&'static str> = None;
            let roll = self.rng.below(1000);
            let (code, reason, message, cause) = match e.verb {
                "get" if e.may_404 && roll < 30 => (
                    404,
                    "NotFound",
                    format!("{label} \"{name}\" not found"),
                    None,
                ),
                "delete" if roll < 20 => (
                    404,
                    "NotFound",
                    format!("{label} \"{name}\" not found"),
                    None,
                ),
                "update" if roll < 20 => (
                    409,
                    "Conflict",
                    format!(
                        "Operation cannot be fulfilled on {label} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
                    ),
                    None,
                ),
                "create" if roll < 10 && !name.is_empty() && !has_sub => (
                    409,
                    "AlreadyExists",
                    format!("{label} \"{name}\" already exists"),
                    None,
                ),
                "create" | "patch"
                    if roll >= 990 && !has_sub && matches!(res, "pods" | "deployments") =>
                {
                    // Invalid errors name the Kind ("Pod", "Deployment.apps"), not the resource.
                    let (kind, qual, field) = if res == "pods" {
                        ("Pod", "Pod", "spec.containers[0].image")
                    } else {
                        (
                            "Deployment",
                            "Deployment.apps",
                            "spec.template.spec.containers[0].image",
                        )
                    };
                    invalid_kind = Some(kind);
                    (
                        422,
                        "Invalid",
                        format!("{qual} \"{name}\" is invalid: {field}: Required value"),
                        Some((
                            "FieldValueRequired".to_string(),
                            "Required value".to_string(),
                            field.to_string(),
                        )),
                    )
                }
                _ if roll == 999 || (roll == 998 && e.verb == "list") => (
                    500,
                    "InternalError",
                    "Internal error occurred: etcdserver: request timed out".to_string(),
                    None,
                ),
                _ => (0, "", String::new(), None),
            };
            if code != 0 {
                e.code = code;
                e.fail = Some(Failure {
                    message,
                    reason,
                    name: (!name.is_empty() && code != 500).then_some(name),
                    group: if code == 500 { "" } else { group },
                    kind: match (code, invalid_kind) {
                        (500, _) => String::new(),
                        (_, Some(k)) => k.to_string(),
                        _ => res.to_string(),
                    },
                    cause,
                });
                e.resp = None;
            }
        }
        if e.stage == "RequestReceived" {
            e.req = None;
            e.resp = None;
        } else {
            let decision = if forbid { "forbid" } else { "allow" };
            e.ann
                .push(("authorization.k8s.io/decision", decision.into()));
            e.ann
                .push(("authorization.k8s.io/reason", e.user.reason.clone()));
        }
        if e.req.is_none() && e.resp.is_none() && e.level != "Metadata" {
            e.level = "Metadata";
        }
        // 1 in 500: strings that need escaping.
        if self.rng.chance(1, 500) {
            match self.rng.below(6) {
                0 => e.user.ua = "kubectl/v1.31.4 (windows/amd64) kubernetes/a78aa47 \"quoted\" C:\\Users\\bob\\kubectl.exe".into(),
                1 => e.user.ua = "opérateur-café/1.0 (日本; naïve) kubernetes/$Format".into(),
                2 => e.user.ua = "Mozilla/5.0 <script>alert(\"x\")</script> & friends".into(),
                3 => e.ann.push((
                    "example.com/note",
                    "<b>\"déploiement\"</b> & 日本語 \\ backslash\ttab\u{2028}line-separator".into(),
                )),
                4 => e.ann.push((
                    "kubectl.kubernetes.io/last-applied-configuration",
                    "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"annotations\":{},\"name\":\"db-credentials\",\"namespace\":\"prod\"},\"verb\":\"delete\",\"objectRef\":{\"resource\":\"secrets\"},\"user\":{\"username\":\"system:admin\"},\"stringData\":{\"note\":\"a<b && c>d\"}}\n".into(),
                )),
                _ => e.user.ua = "weird-agent/0.1 literal \\u003c backslash-u \\\" end".into(),
            }
        }
        e
    }

    fn write_user(j: &mut J, u: &Ident) {
        j.o();
        j.ks("username", &u.name);
        if let Some(uid) = &u.uid {
            j.ks("uid", uid);
        }
        j.ka("groups");
        for g in &u.groups {
            j.s(g);
        }
        j.end_a();
        if let Some(x) = &u.extra {
            j.ko("extra");
            for (k, v) in [
                ("authentication.kubernetes.io/credential-id", &x.cred),
                ("authentication.kubernetes.io/node-name", &x.node),
                ("authentication.kubernetes.io/node-uid", &x.node_uid),
                ("authentication.kubernetes.io/pod-name", &x.pod),
                ("authentication.kubernetes.io/pod-uid", &x.pod_uid),
            ] {
                j.ka(k);
                j.s(v);
                j.end_a();
            }
            j.end_o();
        }
        j.end_o();
    }

    /// Appends one event line (with trailing '\n') to `out`.
    fn write_next(&mut self, out: &mut String) {
        let mut e = self.make_event();
        self.t += self.rng.range(1000, 5000) as i64;
        let received = self.t;
        let staged = if e.stage == "RequestReceived" {
            received + self.rng.range(1, 20) as i64
        } else {
            received + self.rng.range(40, 950) as i64
        };
        let audit_id = self.uuid();
        let mut j = J::new(out);
        j.o();
        j.ks("kind", "Event");
        j.ks("apiVersion", "audit.k8s.io/v1");
        j.ks("level", e.level);
        j.ks("auditID", &audit_id);
        j.ks("stage", e.stage);
        j.ks("requestURI", &e.uri);
        j.ks("verb", e.verb);
        j.k("user");
        Gen::write_user(&mut j, &e.user);
        if let Some(imp) = &e.imp {
            j.k("impersonatedUser");
            Gen::write_user(&mut j, imp);
        }
        j.ka("sourceIPs");
        for ip in &e.user.ips {
            j.s(ip);
        }
        j.end_a();
        j.ks("userAgent", &e.user.ua);
        if let Some(o) = &e.obj {
            let (group, version) = group_version(o.resource);
            j.ko("objectRef");
            j.ks("resource", o.resource);
            if let Some(ns) = &o.ns {
                j.ks("namespace", ns);
            }
            if let Some(n) = &o.name {
                j.ks("name", n);
            }
            if let Some(u) = &o.uid {
                j.ks("uid", u);
            }
            if !group.is_empty() {
                j.ks("apiGroup", group);
            }
            j.ks("apiVersion", version);
            if let Some(s) = o.sub {
                j.ks("subresource", s);
            }
            j.end_o();
        }
        if e.stage != "RequestReceived" {
            j.ko("responseStatus");
            j.kempty("metadata");
            if let Some(f) = &e.fail {
                j.ks("status", "Failure");
                j.ks("message", &f.message);
                j.ks("reason", f.reason);
                if f.name.is_some() || !f.kind.is_empty() || f.cause.is_some() {
                    j.ko("details");
                    if let Some(n) = &f.name {
                        j.ks("name", n);
                    }
                    if !f.group.is_empty() {
                        j.ks("group", f.group);
                    }
                    if !f.kind.is_empty() {
                        j.ks("kind", &f.kind);
                    }
                    if let Some((reason, msg, field)) = &f.cause {
                        j.ka("causes");
                        j.o();
                        j.ks("reason", reason);
                        j.ks("message", msg);
                        j.ks("field", field);
                        j.end_o();
                        j.end_a();
                    }
                    j.end_o();
                }
            }
            j.kn("code", i64::from(e.code));
            j.end_o();
        }
        if let Some(b) = &e.req {
            j.kraw("requestObject", b);
        }
        if let Some(b) = &e.resp {
            j.kraw("responseObject", b);
        }
        j.k("requestReceivedTimestamp");
        j.time(received, true);
        j.k("stageTimestamp");
        j.time(staged, true);
        if !e.ann.is_empty() {
            e.ann.sort_by(|a, b| a.0.cmp(b.0));
            e.ann.dedup_by(|a, b| a.0 == b.0);
            j.ko("annotations");
            for (k, v) in &e.ann {
                j.ks(k, v);
            }
            j.end_o();
        }
        j.end_o();
        out.push('\n');
    }
}

// ---------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------

fn parse_size(s: &str) -> Option<u64> {
    let (num, mult) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1u64 << 10),
        b'm' | b'M' => (&s[..s.len() - 1], 1 << 20),
        b'g' | b'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

const USAGE: &str =
    "usage: gen_audit [--seed N] [--events N | --bytes N[K|M|G]] [--start RFC3339] [--out PATH]";

fn run() -> Result<(), String> {
    let mut seed = 1u64;
    let mut events: Option<u64> = None;
    let mut bytes: Option<u64> = None;
    let mut start = parse_rfc3339("2026-01-05T10:00:00Z").expect("valid default");
    let mut out_path: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            return Ok(());
        }
        let mut val = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--seed" => seed = val()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--events" => events = Some(val()?.parse().map_err(|e| format!("--events: {e}"))?),
            "--bytes" => {
                let v = val()?;
                bytes = Some(parse_size(&v).ok_or(format!("--bytes: invalid size {v:?}"))?);
            }
            "--start" => {
                let v = val()?;
                start = parse_rfc3339(&v).ok_or(format!("--start: invalid RFC3339 time {v:?}"))?;
            }
            "--out" => out_path = Some(val()?),
            _ => return Err(format!("unknown argument {a:?}\n{USAGE}")),
        }
    }
    if events.is_some() && bytes.is_some() {
        return Err(format!(
            "--events and --bytes are mutually exclusive\n{USAGE}"
        ));
    }
    let sink: Box<dyn Write> = match &out_path {
        Some(p) if p != "-" => Box::new(std::fs::File::create(p).map_err(|e| format!("{p}: {e}"))?),
        _ => Box::new(io::stdout().lock()),
    };
    let mut w = BufWriter::with_capacity(1 << 20, sink);
    let mut g = Gen::new(seed, start);
    let mut buf = String::with_capacity(1 << 17);
    let mut written = 0u64;
    let mut n = 0u64;
    let limit_events = events.unwrap_or(if bytes.is_some() { u64::MAX } else { 1000 });
    let limit_bytes = bytes.unwrap_or(u64::MAX);
    while n < limit_events && written + (buf.len() as u64) < limit_bytes {
        g.write_next(&mut buf);
        n += 1;
        if buf.len() >= 1 << 16 {
            w.write_all(buf.as_bytes()).map_err(|e| e.to_string())?;
            written += buf.len() as u64;
            buf.clear();
        }
    }
    w.write_all(buf.as_bytes()).map_err(|e| e.to_string())?;
    w.flush().map_err(|e| e.to_string())?;
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.contains("Broken pipe") => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_audit: {e}");
            ExitCode::FAILURE
        }
    }
}
