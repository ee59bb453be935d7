//! Envelopes (docs/formats.md): real samples from public repositories, checked against an
//! independent reading with serde_json; and one generated log wrapped every way (AKS,
//! CloudWatch in all its forms, GKE), where the same query must give the same events.

use crate::common;

use common::{arg, run, run_with, temp_file, testdata};
use serde_json::{Value, json};
use std::io::Write;

fn lines_of(path: &str) -> Vec<Value> {
    std::fs::read_to_string(testdata(path))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `auditq -o fields=… query file`, as lines.
fn fields(fields: &str, query: &str, file: &std::path::Path) -> Vec<String> {
    let r = run(["-o", &format!("fields={fields}"), query, "--", &arg(file)]);
    r.assert_sane(&[0, 1]);
    r.stdout.lines().map(str::to_string).collect()
}

#[test]
fn aks_record_from_elastic_matches_its_escaped_log() {
    let path = testdata("envelopes/elastic-aks-kube-audit.log");
    let record = &lines_of("envelopes/elastic-aks-kube-audit.log")[0];
    let event: Value = serde_json::from_str(record["properties"]["log"].as_str().unwrap()).unwrap();
    let expected = format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        event["auditID"].as_str().unwrap(),
        event["verb"].as_str().unwrap(),
        event["user"]["username"].as_str().unwrap(),
        event["objectRef"]["namespace"].as_str().unwrap(),
        event["responseStatus"]["code"],
        record["category"].as_str().unwrap(),
        record["properties"]["pod"].as_str().unwrap(),
        record["time"].as_str().unwrap(),
    );
    let got = fields(
        "auditid,verb,user,ns,code,category,properties.pod,\"time\"",
        "category=kube-audit resource=leases",
        &path,
    );
    assert_eq!(got, [expected]);
    // jsonl prints the record byte for byte; --unwrap the event as the API server wrote it.
    let r = run(["verb=update", "--", &arg(&path)]);
    assert_eq!(r.stdout, std::fs::read_to_string(&path).unwrap());
    let r = run(["--unwrap", "verb=update", "--", &arg(&path)]);
    assert_eq!(
        r.stdout,
        format!("{}\n", record["properties"]["log"].as_str().unwrap())
    );
    // --unwrap only chooses what jsonl and json print.
    let r = run(["--unwrap", "-o", "table", "", "--", &arg(&path)]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("use it with -o jsonl or -o json"),
        "{}",
        r.stderr
    );
    // -o json shows the mapped fields with the record's own.
    let r = run(["-o", "json", "", "--", &arg(&path)]);
    let shown: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(shown[0]["verb"], "update");
    assert_eq!(shown[0]["category"], "kube-audit");
    // Prefilter on and off agree (the needle `"update"` is escaped in the record).
    let r = run(["--no-prefilter", "-c", "verb=update", "--", &arg(&path)]);
    assert_eq!(r.stdout, "1\n");
}

#[test]
fn gke_entries_from_elastic_map_like_an_independent_reading() {
    let file = "envelopes/elastic-gcp-audit.log";
    let entries = lines_of(file);
    let k8s: Vec<&Value> = entries
        .iter()
        .filter(|e| e["protoPayload"]["serviceName"] == "k8s.io")
        .collect();
    assert_eq!(k8s.len(), 5);
    let expected: Vec<String> = k8s
        .iter()
        .map(|e| {
            let p = &e["protoPayload"];
            let method = p["methodName"].as_str().unwrap();
            format!(
                "{}\t{}\t{}\t{}\t{}\t{}",
                e["operation"]["id"].as_str().unwrap(),
                method.rsplit('.').next().unwrap(),
                p["authenticationInfo"]["principalEmail"].as_str().unwrap(),
                p["requestMetadata"]["callerIp"].as_str().unwrap(),
                e["resource"]["labels"]["cluster_name"].as_str().unwrap(),
                e["timestamp"].as_str().unwrap(),
            )
        })
        .collect();
    let path = testdata(file);
    let got = fields(
        "auditid,verb,user,ip,resource.labels.cluster_name,time",
        "",
        &path,
    );
    assert_eq!(got, expected);
    // Mapped request fields, and the original ones by path.
    assert_eq!(
        fields(
            "verb,apigroup,apiversion,resource,ns,uri",
            "resource=ingresses",
            &path
        ),
        [
            "list\textensions\tv1beta1\tingresses\tcos-auditd\t/apis/extensions/v1beta1/namespaces/cos-auditd/ingresses"
        ]
    );
    assert_eq!(
        fields("uri", "protoPayload.methodName=io.k8s.get", &path),
        ["/readyz", "/api/v1"]
    );
    assert_eq!(
        fields(
            "decision,annotations.\"k8s.io/removed-release\"",
            "resource=ingresses",
            &path
        ),
        ["allow\t1.22"]
    );
    // Two entries of other Google services: no event, and said so by --stats.
    let r = run(["--stats", "-c", "", "--", &arg(&path)]);
    assert_eq!(r.stdout, "5\n");
    assert!(
        r.stderr
            .contains("2 Cloud Audit Log entries of other services than k8s.io"),
        "{}",
        r.stderr
    );
}

#[test]
fn gke_grpc_status_becomes_an_http_like_code() {
    let path = testdata("envelopes/elastic-gke-nonresource.log");
    let entry = &lines_of("envelopes/elastic-gke-nonresource.log")[0];
    assert_eq!(entry["protoPayload"]["status"]["code"], 7);
    assert_eq!(
        fields("code,verb,uri", "code=403", &path),
        ["403\tget\t/HNAP1"]
    );
    assert_eq!(fields("code", "protoPayload.status.code=7", &path), ["403"]);
}

#[test]
fn an_input_without_events_says_what_it_held() {
    let (_d, path) = temp_file(
        "x.json",
        b"{\"category\":\"kube-apiserver\",\"properties\":{\"log\":\"I0105 started\"}}\nnot json\n",
    );
    let r = run(["", "--", &arg(&path)]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no audit event in 2 line(s)")
            && r.stderr.contains("1 not JSON")
            && r.stderr
                .contains("AKS diagnostic records of another category"),
        "{}",
        r.stderr
    );
}

#[test]
fn unknown_top_level_names_are_paths_and_typos_still_get_a_hint() {
    let path = testdata("envelopes/elastic-aks-kube-audit.log");
    let r = run(["-c", "operationName=*diagnosticLogs*", "--", &arg(&path)]);
    assert_eq!(r.stdout, "1\n");
    let r = run(["-c", "usr=alice", "--", &arg(&path)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("did you mean `user`"), "{}", r.stderr);
}

// ---- one generated log, wrapped every way ----

/// The first `n` events of testdata/sample.log (generated, realistic).
fn sample(n: usize) -> Vec<String> {
    std::fs::read_to_string(testdata("sample.log"))
        .unwrap()
        .lines()
        .take(n)
        .map(str::to_string)
        .collect()
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap()
}

fn millis(event: &Value) -> i64 {
    // 2026-01-05T10:00:00.002284Z → ms since 10:00 (enough for ordering and for tests).
    let t = event["requestReceivedTimestamp"].as_str().unwrap();
    let secs: f64 = t[17..t.len() - 1].parse().unwrap();
    1_767_607_200_000 + (secs * 1000.0) as i64
}

fn aks_line(event: &str) -> String {
    json!({"category":"kube-audit","operationName":"Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
           "properties":{"log":event,"stream":"stdout","pod":"kube-apiserver-7d9f-abcde"},
           "time":"2026-01-05T10:00:01Z"})
    .to_string()
}

fn aks_object_line(event: &str) -> String {
    json!({"category":"kube-audit-admin","properties":{"log":parse(event),"pod":"kube-apiserver-7d9f-abcde"},
           "time":"2026-01-05T10:00:01Z"})
    .to_string()
}

fn cloudwatch_event(i: usize, event: &str) -> Value {
    json!({"logStreamName":"kube-apiserver-audit-0a1b2c3d4e5f","timestamp":millis(&parse(event)),
           "message":event,"ingestionTime":millis(&parse(event)) + 900,"eventId":format!("{i:056}")})
}

fn firehose_batch(events: &[(usize, &String)]) -> String {
    json!({"messageType":"DATA_MESSAGE","owner":"123456789012",
           "logGroup":"/aws/eks/prod/cluster","logStream":"kube-apiserver-audit-0a1b2c3d4e5f",
           "subscriptionFilters":["to-firehose"],
           "logEvents": events.iter().map(|(i, e)| json!({"id":format!("{i:056}"),"timestamp":millis(&parse(e)),"message":e})).collect::<Vec<_>>()})
    .to_string()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A GKE LogEntry for a Kubernetes event, the way Cloud Logging writes it.
fn gke_entry(event: &str) -> Value {
    let e = parse(event);
    let verb = e["verb"].as_str().unwrap();
    let o = &e["objectRef"];
    let (method, resource_name) = match o["resource"].as_str() {
        Some(resource) => {
            let group = o["apiGroup"].as_str().unwrap_or("");
            let version = o["apiVersion"].as_str().unwrap_or("v1");
            let method_group = if group.is_empty() {
                "core".to_string()
            } else {
                let g = group.trim_end_matches(".k8s.io");
                g.split('.').rev().collect::<Vec<_>>().join(".")
            };
            let sub = o["subresource"].as_str();
            let mut method = format!("io.k8s.{method_group}.{version}.{resource}");
            if let Some(sub) = sub {
                method = format!("{method}.{sub}");
            }
            let mut name = format!(
                "{}/{version}",
                if group.is_empty() { "core" } else { group }
            );
            if let Some(ns) = o["namespace"].as_str().filter(|_| resource != "namespaces") {
                name = format!("{name}/namespaces/{ns}");
            }
            name = format!("{name}/{resource}");
            if let Some(n) = o["name"].as_str() {
                name = format!("{name}/{n}");
            }
            if let Some(sub) = sub {
                name = format!("{name}/{sub}");
            }
            (format!("{method}.{verb}"), name)
        }
        None => {
            let uri = e["requestURI"].as_str().unwrap();
            let path = uri.split('?').next().unwrap().trim_start_matches('/');
            (format!("io.k8s.{verb}"), path.to_string())
        }
    };
    let code = e["responseStatus"]["code"].as_i64().unwrap_or(200);
    let grpc = match code {
        200..=299 => 0,
        401 => 16,
        403 => 7,
        404 => 5,
        409 => 6,
        429 => 8,
        _ => 13,
    };
    json!({
        "insertId": format!("ins-{}", e["auditID"].as_str().unwrap()),
        "labels": e["annotations"],
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
        "operation": {"first": true, "id": e["auditID"], "last": true, "producer": "k8s.io"},
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "authenticationInfo": {"principalEmail": e["user"]["username"]},
            "methodName": method,
            "requestMetadata": {"callerIp": e["sourceIPs"][0], "callerSuppliedUserAgent": e["userAgent"]},
            "resourceName": resource_name,
            "serviceName": "k8s.io",
            "status": {"code": grpc}
        },
        "receiveTimestamp": e["stageTimestamp"],
        "resource": {"labels": {"cluster_name": "prod", "location": "europe-west1", "project_id": "p"}, "type": "k8s_cluster"},
        "timestamp": e["requestReceivedTimestamp"]
    })
}

const QUERIES: &[&str] = &[
    "",
    "verb=delete resource=secrets",
    "user=system:serviceaccount:* verb=get,list",
    "ns=kube-system",
    "code>=400",
    "resource~pods/exec",
    "name=kube-scheduler",
    "ua~kubectl",
];

/// What each query selects: `fields` per event, in order.
fn selection(file: &std::path::Path, fields: &str) -> Vec<Vec<String>> {
    QUERIES
        .iter()
        .map(|q| {
            let r = run(["-o", &format!("fields={fields}"), q, "--", &arg(file)]);
            r.assert_sane(&[0, 1]);
            r.stdout.lines().map(str::to_string).collect()
        })
        .collect()
}

#[test]
fn one_log_wrapped_every_way_gives_the_same_events() {
    let events = sample(400);
    let plain: String = events.iter().map(|e| format!("{e}\n")).collect();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let plain_path = write("plain.log", plain.as_bytes());
    let all = "auditid,verb,user,resource,ns,name,code,time,ip,ua,uri,stage,decision";
    let expected = selection(&plain_path, all);
    // The independent reading: serde_json on the plain lines.
    let deletes = events
        .iter()
        .map(|e| parse(e))
        .filter(|e| e["verb"] == "delete" && e["objectRef"]["resource"] == "secrets")
        .count();
    assert_eq!(expected[1].len(), deletes);
    assert!(expected[0].len() == 400 && deletes > 0);

    let mut forms: Vec<(&str, Vec<u8>)> = Vec::new();
    forms.push((
        "aks-blob.json",
        events
            .iter()
            .map(|e| aks_line(e) + "\n")
            .collect::<String>()
            .into_bytes(),
    ));
    forms.push((
        "aks-object.json",
        events
            .iter()
            .map(|e| aks_object_line(e) + "\n")
            .collect::<String>()
            .into_bytes(),
    ));
    let batches: Vec<Value> = events
        .chunks(37)
        .map(|c| json!({"records": c.iter().map(|e| parse(&aks_line(e))).collect::<Vec<_>>()}))
        .collect();
    forms.push((
        "aks-eventhubs.json",
        batches
            .iter()
            .map(|b| b.to_string() + "\n")
            .collect::<String>()
            .into_bytes(),
    ));
    forms.push((
        "aks-eventhubs-pretty.json",
        batches
            .iter()
            .map(|b| serde_json::to_string_pretty(b).unwrap() + "\n")
            .collect::<String>()
            .into_bytes(),
    ));
    let filter_log_events = json!({
        "events": events.iter().enumerate().map(|(i, e)| cloudwatch_event(i, e)).collect::<Vec<_>>(),
        "searchedLogStreams": [{"logStreamName":"kube-apiserver-audit-0a1b2c3d4e5f","searchedCompletely":true}]
    });
    forms.push((
        "filter-log-events.json",
        serde_json::to_string_pretty(&filter_log_events)
            .unwrap()
            .into_bytes(),
    ));
    forms.push((
        "logs-tail.txt",
        events
            .iter()
            .map(|e| {
                let t = parse(e)["requestReceivedTimestamp"]
                    .as_str()
                    .unwrap()
                    .replace('Z', "+00:00");
                format!("{t} kube-apiserver-audit-0a1b2c3d4e5f {e}\n")
            })
            .collect::<String>()
            .into_bytes(),
    ));
    forms.push((
        "s3-export.txt",
        events
            .iter()
            .map(|e| {
                format!(
                    "{} {e}\n",
                    parse(e)["requestReceivedTimestamp"].as_str().unwrap()
                )
            })
            .collect::<String>()
            .into_bytes(),
    ));
    let indexed: Vec<(usize, &String)> = events.iter().enumerate().collect();
    let firehose: Vec<String> = indexed.chunks(50).map(firehose_batch).collect();
    forms.push(("firehose-concatenated", firehose.concat().into_bytes()));
    forms.push((
        "firehose-gzip-members",
        firehose.iter().flat_map(|b| gzip(b.as_bytes())).collect(),
    ));
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(["@timestamp", "@message"]).unwrap();
    for e in &events {
        let t = parse(e)["requestReceivedTimestamp"]
            .as_str()
            .unwrap()
            .replace('T', " ");
        csv.write_record([&t[..23], e.as_str()]).unwrap();
    }
    forms.push(("logs-insights.csv", csv.into_inner().unwrap()));
    forms.push((
        "node-logs.txt",
        events
            .iter()
            .map(|e| format!("master-0.ocp.example.com {e}\n"))
            .collect::<String>()
            .into_bytes(),
    ));
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(
        serde_json::to_string_pretty(&events.iter().map(|e| parse(e)).collect::<Vec<_>>())
            .unwrap()
            .as_bytes(),
    );
    forms.push(("bom-pretty-array.json", bom));
    // UTF-16 with a BOM, as Windows PowerShell writes `>` (little-endian) — and big-endian.
    for (name, big) in [("utf16le.json", false), ("utf16be.json", true)] {
        let text = format!("\u{FEFF}{plain}");
        let bytes: Vec<u8> = text
            .encode_utf16()
            .flat_map(|u| {
                if big {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                }
            })
            .collect();
        forms.push((name, bytes));
    }
    // Everything in one input: each event once, in order, in turn in a different form.
    let mixed: String = events
        .iter()
        .enumerate()
        .map(|(i, e)| match i % 4 {
            0 => format!("{e}\n"),
            1 => aks_line(e) + "\n",
            2 => cloudwatch_event(i, e).to_string() + "\n",
            _ => format!(
                "{} {e}\n",
                parse(e)["requestReceivedTimestamp"].as_str().unwrap()
            ),
        })
        .collect();
    forms.push(("mixed.log", mixed.into_bytes()));

    for (name, bytes) in &forms {
        let path = write(name, bytes);
        let got = selection(&path, all);
        for (q, (g, e)) in QUERIES.iter().zip(got.iter().zip(&expected)) {
            assert_eq!(g, e, "{name}: query {q:?}");
        }
        // --unwrap prints the event as the API server wrote it (string-wrapped forms).
        if !name.contains("object") && !name.contains("pretty") {
            let r = run([
                "--unwrap",
                "verb=delete resource=secrets",
                "--",
                &arg(&path),
            ]);
            let want: String = events
                .iter()
                .filter(|e| {
                    let v = parse(e);
                    v["verb"] == "delete" && v["objectRef"]["resource"] == "secrets"
                })
                .map(|e| format!("{e}\n"))
                .collect();
            assert_eq!(r.stdout, want, "{name}: --unwrap");
        }
    }
    // The prefilter never changes a result (the AKS and CloudWatch forms escape needles).
    for name in ["aks-blob.json", "filter-log-events.json", "mixed.log"] {
        let path = dir.path().join(name);
        for q in QUERIES {
            let a = run(["-c", q, "--", &arg(&path)]);
            let b = run(["-c", "--no-prefilter", q, "--", &arg(&path)]);
            assert_eq!(a.stdout, b.stdout, "{name}: {q}");
        }
    }
    // From stdin too.
    let r = run_with(["-c", "verb=delete resource=secrets"], Some(&forms[0].1));
    assert_eq!(r.stdout, format!("{deletes}\n"));
}

#[test]
fn gke_entries_generated_from_a_log_select_the_same_requests() {
    // Left out: requests through a proxy (a LogEntry has one callerIp, the event all
    // sourceIPs), and namespace objects, whose namespace the API server sets to their
    // name (requestinfo.go) but the generator leaves out.
    let events: Vec<String> = sample(400)
        .into_iter()
        .filter(|e| {
            let v = parse(e);
            v["sourceIPs"].as_array().is_none_or(|a| a.len() == 1)
                && !(v["objectRef"]["resource"] == "namespaces"
                    && v["objectRef"]["name"].is_string())
        })
        .collect();
    assert!(events.len() > 350);
    let dir = tempfile::tempdir().unwrap();
    let plain_path = dir.path().join("plain.log");
    std::fs::write(
        &plain_path,
        events.iter().map(|e| format!("{e}\n")).collect::<String>(),
    )
    .unwrap();
    // Fields a LogEntry carries (level, groups and query strings are not in it).
    let kept =
        "auditid,verb,user,resource,subresource,ns,name,apigroup,apiversion,ip,ua,time,decision";
    let expected = selection(&plain_path, kept);
    let entries: Vec<Value> = events.iter().map(|e| gke_entry(e)).collect();
    let lines: String = entries.iter().map(|e| e.to_string() + "\n").collect();
    let pretty = serde_json::to_string_pretty(&entries).unwrap();
    for (name, bytes) in [
        ("gke.jsonl", lines.as_bytes()),
        ("gcloud-read.json", pretty.as_bytes()),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let got = selection(&path, kept);
        for (q, (g, e)) in QUERIES.iter().zip(got.iter().zip(&expected)) {
            if q.contains("code") {
                continue;
            }
            assert_eq!(g, e, "{name}: query {q:?}");
        }
        let a = run(["-c", "verb=delete resource=secrets", "--", &arg(&path)]);
        let b = run([
            "-c",
            "--no-prefilter",
            "verb=delete resource=secrets",
            "--",
            &arg(&path),
        ]);
        assert_eq!(a.stdout, b.stdout);
        assert_eq!(a.stdout, format!("{}\n", expected[1].len()));
    }
}
