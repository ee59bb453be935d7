//! Property tests: random audit logs (with JSON escapes, klog and garbage lines) and random
//! queries. The prefilter, the thread count and the block size must never change the
//! output, and simple queries must agree with an oracle computed here with serde_json.

mod common;

use common::{arg, run, temp_file};
use proptest::prelude::*;
use serde_json::Value;
use std::fmt::Write as _;

const VERBS: &[&str] = &[
    "get",
    "list",
    "delete",
    "deletecollection",
    "create",
    "watch",
    "patch",
];
const RESOURCES: &[&str] = &[
    "pods",
    "secrets",
    "configmaps",
    "secretsx",
    "leases",
    "deployments",
];
const USERS: &[&str] = &[
    "alice",
    "bob",
    "system:kube-scheduler",
    "system:serviceaccount:kube-system:token-cleaner",
    "café",
    "日本",
    "q\"uote",
    "back\\slash",
    "system:node:cp1",
];
const NAMESPACES: &[&str] = &["prod", "kube-system", "default", "prod-2"];
const CODES: &[u16] = &[200, 201, 403, 404, 409, 500];

/// One generated line.
#[derive(Debug, Clone)]
enum Gen {
    Event {
        verb: usize,
        resource: usize,
        user: usize,
        /// `None`: cluster-scoped (no namespace).
        ns: Option<usize>,
        /// `None`: no responseStatus (RequestReceived).
        code: Option<usize>,
        /// Which characters are written as `\uXXXX` (or `\/`).
        mask: u64,
        escaped_key: bool,
        trap: bool,
    },
    Klog(usize),
    Blank,
    Garbage(usize),
}

/// A JSON string literal for `s`; characters whose bit is set in `mask` are escaped even
/// though they need not be (`\u0064`, `\/`), as some encoders do.
fn enc(s: &str, mask: u64, salt: u32) -> String {
    let mut out = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        let bit = mask.rotate_right(salt + i as u32) & 1 == 1;
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if bit => out.push_str("\\/"),
            c if bit && (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn render(g: &Gen) -> String {
    match g {
        Gen::Event {
            verb,
            resource,
            user,
            ns,
            code,
            mask,
            escaped_key,
            trap,
        } => {
            let (verb, resource, user) = (VERBS[*verb], RESOURCES[*resource], USERS[*user]);
            let m = *mask;
            let uri = match ns {
                Some(n) => format!("/api/v1/namespaces/{}/{resource}/x", NAMESPACES[*n]),
                None => format!("/api/v1/{resource}/x"),
            };
            let verb_key = if *escaped_key {
                "\"v\\u0065rb\""
            } else {
                "\"verb\""
            };
            let mut line = format!(
                r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{}","stage":"{}","requestURI":{},{verb_key}:{},"user":{{"username":{},"groups":["system:authenticated"]}},"sourceIPs":["10.0.0.1"],"userAgent":"kubectl/v1 \"quoted\" back\\slash","objectRef":{{"resource":{}"#,
                m,
                if code.is_some() {
                    "ResponseComplete"
                } else {
                    "RequestReceived"
                },
                enc(&uri, m, 1),
                enc(verb, m, 7),
                enc(user, m, 13),
                enc(resource, m, 23),
            );
            if let Some(n) = ns {
                let _ = write!(line, r#","namespace":{}"#, enc(NAMESPACES[*n], m, 31));
            }
            line.push_str(r#","name":"x","apiVersion":"v1"}"#);
            if let Some(c) = code {
                let _ = write!(
                    line,
                    r#","responseStatus":{{"metadata":{{}},"code":{}}}"#,
                    CODES[*c]
                );
            }
            if *trap {
                line.push_str(
                    r#","requestObject":{"kind":"Event","verb":"delete","objectRef":{"resource":"secrets","namespace":"kube-system"},"user":{"username":"alice"},"note":"\"verb\":\"delete\" secrets"}"#,
                );
            }
            line.push_str(r#","requestReceivedTimestamp":"2026-01-05T10:00:00.000001Z","stageTimestamp":"2026-01-05T10:00:00.000002Z"}"#);
            line
        }
        Gen::Klog(i) => format!(
            "I0105 10:00:00.{i:06} 1 audit.go:1] \"verb\":\"delete\" resource secrets user=alice"
        ),
        Gen::Blank => String::new(),
        Gen::Garbage(i) => match i % 4 {
            0 => r#"{"kind":"Event","verb":"del"#.to_string(),
            1 => "verb=delete resource=secrets \"verb\":\"delete\"".to_string(),
            2 => r#"{"kind":"NotEvent","verb":"delete","objectRef":{"resource":"secrets"}}"#
                .to_string(),
            _ => "[1,2,3]".to_string(),
        },
    }
}

fn gen_line() -> impl Strategy<Value = Gen> {
    let event = (
        0..VERBS.len(),
        0..RESOURCES.len(),
        0..USERS.len(),
        proptest::option::weighted(0.8, 0..NAMESPACES.len()),
        proptest::option::weighted(0.9, 0..CODES.len()),
        prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()],
        proptest::bool::weighted(0.1),
        proptest::bool::weighted(0.1),
    )
        .prop_map(
            |(verb, resource, user, ns, code, mask, escaped_key, trap)| Gen::Event {
                verb,
                resource,
                user,
                ns,
                code,
                mask,
                escaped_key,
                trap,
            },
        );
    prop_oneof![
        20 => event,
        1 => (0usize..1000).prop_map(Gen::Klog),
        1 => Just(Gen::Blank),
        1 => (0usize..4).prop_map(Gen::Garbage),
    ]
}

/// Queries from a small grammar.
fn gen_term() -> impl Strategy<Value = String> {
    let eq_op = prop_oneof![Just("="), Just("!=")];
    let pick = |pool: &'static [&'static str]| proptest::sample::select(pool.to_vec());
    prop_oneof![
        (eq_op.clone(), pick(VERBS)).prop_map(|(o, v)| format!("verb{o}{v}")),
        (eq_op.clone(), pick(RESOURCES)).prop_map(|(o, v)| format!("resource{o}{v}")),
        (eq_op.clone(), pick(NAMESPACES)).prop_map(|(o, v)| format!("ns{o}{v}")),
        (eq_op.clone(), pick(USERS)).prop_map(|(o, v)| format!(
            "user{o}'{}'",
            v.replace('\\', "\\\\").replace('\'', "\\'")
        )),
        (pick(VERBS), pick(VERBS)).prop_map(|(a, b)| format!("verb={a},{b}")),
        (pick(RESOURCES), pick(RESOURCES)).prop_map(|(a, b)| format!("resource!={a},{b}")),
        pick(&["system:*", "*ice", "b*", "*:*:*", "*é"]).prop_map(|g| format!("user={g}")),
        pick(&["del*", "*ete", "*list*", "get"]).prop_map(|g| format!("verb={g}")),
        pick(&["^del", "ete$", "^(get|list)$", "col"]).prop_map(|r| format!("verb~'{r}'")),
        pick(&["^secr", "s$", "x"]).prop_map(|r| format!("resource!~'{r}'")),
        (
            pick(&["=", "!=", "<", "<=", ">", ">="]),
            proptest::sample::select(CODES.to_vec())
        )
            .prop_map(|(o, c)| format!("code{o}{c}")),
        Just("ns=kube-system,prod".to_string()),
    ]
}

fn gen_query() -> impl Strategy<Value = String> {
    gen_term().prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} and {b}")),
            inner.clone().prop_map(|a| format!("not ({a})")),
            inner.prop_map(|a| format!("!({a})")),
        ]
    })
}

fn output(query: &str, file: &str, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["-o", "jsonl", "-e", query];
    args.extend_from_slice(extra);
    args.extend(["--", file]);
    let r = run(&args);
    r.assert_sane(&[0, 1]);
    (r.code, r.stdout)
}

fn write_log(lines: &[Gen]) -> (tempfile::TempDir, std::path::PathBuf, Vec<String>) {
    let rendered: Vec<String> = lines.iter().map(render).collect();
    let mut text = rendered.join("\n");
    text.push('\n');
    let (dir, path) = temp_file("gen.log", text.as_bytes());
    (dir, path, rendered)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn prefilter_threads_and_blocks_do_not_change_output(
        lines in proptest::collection::vec(gen_line(), 1..250),
        query in gen_query(),
    ) {
        let (_dir, path, _) = write_log(&lines);
        let file = arg(&path);
        let base = output(&query, &file, &[]);
        let full = output(&query, &file, &["--no-prefilter"]);
        prop_assert_eq!(&base, &full, "--no-prefilter differs for {}", query);
        let j1 = output(&query, &file, &["-j1", "--block-size", "4KiB"]);
        prop_assert_eq!(&base, &j1, "-j1 4KiB differs for {}", query);
        let j2 = output(&query, &file, &["-j2", "--block-size", "4KiB", "--no-prefilter"]);
        prop_assert_eq!(&base, &j2, "-j2 4KiB differs for {}", query);
    }

    #[test]
    fn simple_queries_match_the_oracle(
        lines in proptest::collection::vec(gen_line(), 1..250),
        verb in 0..VERBS.len(),
        resource in 0..RESOURCES.len(),
    ) {
        let (_dir, path, rendered) = write_log(&lines);
        let (verb, resource) = (VERBS[verb], RESOURCES[resource]);
        let expected: String = rendered
            .iter()
            .filter(|l| {
                serde_json::from_str::<Value>(l).is_ok_and(|v| {
                    v["kind"] == "Event" && v["verb"] == verb && v["objectRef"]["resource"] == resource
                })
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let query = format!("verb={verb} resource={resource}");
        let file = arg(&path);
        for extra in [&[][..], &["-j2", "--block-size", "4KiB"][..]] {
            let (code, out) = output(&query, &file, extra);
            prop_assert_eq!(&out, &expected, "{} {:?}", query, extra);
            prop_assert_eq!(code, if expected.is_empty() { 1 } else { 0 });
        }
    }
}

#[test]
fn encoder_escapes_as_expected() {
    assert_eq!(
        enc("delete", u64::MAX, 0),
        r#""\u0064\u0065\u006c\u0065\u0074\u0065""#
    );
    assert_eq!(enc("a/b", 0, 0), r#""a/b""#);
    assert_eq!(enc("a/b", u64::MAX, 0), r#""\u0061\/\u0062""#);
    assert_eq!(enc("q\"\\", u64::MAX, 0), r#""\u0071\"\\""#);
    let v: Value = serde_json::from_str(&render(&Gen::Event {
        verb: 2,
        resource: 1,
        user: 6,
        ns: Some(1),
        code: Some(0),
        mask: 0xdead_beef_1234_5678,
        escaped_key: true,
        trap: true,
    }))
    .unwrap();
    assert_eq!(v["verb"], "delete");
    assert_eq!(v["user"]["username"], "q\"uote");
}
