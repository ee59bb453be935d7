//! `auditq serve` over real sockets: batches POSTed the way kube-apiserver's webhook
//! sends them (EventLists whose items have no kind/apiVersion, `?timeout=30s`), from the
//! corpus and generated; gzip; concurrent clients; TLS with client certificates (rcgen);
//! tokens; limits; malformed bodies; backpressure; SIGTERM under load; the rotated
//! output read back by auditq's own follower and search.

use crate::common;

use clap::CommandFactory;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::bin;

/// A running `auditq serve`.
struct Server {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `auditq serve --listen 127.0.0.1:0 ARGS` with stdout to `stdout`.
    fn start(args: &[&str], stdout: Stdio) -> Server {
        Server::start_at("127.0.0.1:0", args, stdout)
    }

    /// [`Server::start_at`] over TLS with `pki`'s server certificate (and, with
    /// `client_ca`, client certificates of its CA required), then `extra`.
    fn start_tls_at(
        listen: &str,
        pki: &Pki,
        client_ca: bool,
        extra: &[&str],
        stdout: Stdio,
    ) -> Server {
        let p = |name: &str| common::arg(&pki.dir.path().join(name));
        let (cert, key, ca) = (p("server.crt"), p("server.key"), p("ca.crt"));
        let mut args = vec!["--tls-cert", cert.as_str(), "--tls-key", key.as_str()];
        if client_ca {
            args.extend(["--client-ca", ca.as_str()]);
        }
        args.extend_from_slice(extra);
        Server::start_at(listen, &args, stdout)
    }

    fn start_at(listen: &str, args: &[&str], stdout: Stdio) -> Server {
        let mut child = Command::new(bin())
            .arg("serve")
            .args(["--listen", listen])
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap());
        let mut addr = None;
        let mut line = String::new();
        while lines.read_line(&mut line).unwrap() > 0 {
            stderr.lock().unwrap().push_str(&line);
            if line.contains("msg=listening") {
                let at = line.split(" addr=").nth(1).unwrap();
                addr = Some(at.split(' ').next().unwrap().parse().unwrap());
                break;
            }
            line.clear();
        }
        let Some(addr) = addr else {
            panic!("serve did not start: {}", stderr.lock().unwrap().as_str());
        };
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut line = String::new();
            while lines.read_line(&mut line).unwrap_or(0) > 0 {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Server {
            child,
            addr,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, then the exit code.
    fn stop(mut self) -> (i32, String) {
        terminate(&self.child);
        let status = self.child.wait().unwrap();
        // Let the stderr thread read the last lines.
        std::thread::sleep(Duration::from_millis(100));
        let stderr = self.stderr();
        assert!(!stderr.contains("panicked"), "{stderr}");
        (status.code().unwrap_or(-1), stderr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn terminate(child: &Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
}

/// One HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

fn request_bytes(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "{method} {target} HTTP/1.1\r\nHost: auditq\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn parse_answer(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

/// Sends one request over plain HTTP/1.1; `None` if the connection failed.
fn try_send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<Answer> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .ok()?;
    stream
        .write_all(&request_bytes(method, target, headers, body))
        .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    raw.starts_with(b"HTTP/").then(|| parse_answer(&raw))
}

fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    try_send(addr, method, target, headers, body).expect("no answer")
}

fn post(addr: SocketAddr, body: &[u8]) -> Answer {
    send(addr, "POST", "/audit?timeout=30s", &[], body)
}

/// Posts until 200, as the apiserver retries (429/503 with Retry-After).
fn post_until_ok(addr: SocketAddr, body: &[u8], gzip: bool) -> usize {
    let zipped;
    let (body, headers): (&[u8], &[(&str, &str)]) = if gzip {
        zipped = gz(body);
        (&zipped, &[("Content-Encoding", "gzip")])
    } else {
        (body, &[])
    };
    let mut refusals = 0;
    loop {
        let answer = send(addr, "POST", "/k8s-audit?timeout=30s", headers, body);
        match answer.status {
            200 => return refusals,
            429 | 503 => {
                assert!(answer.headers.contains_key("retry-after"), "{answer:?}");
                refusals += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => panic!("unexpected answer {answer:?}"),
        }
    }
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// An event as the apiserver's webhook sends it: no kind, no apiVersion.
fn item(id: &str, verb: &str, pad: usize) -> Value {
    json!({
        "level": "Metadata",
        "auditID": id,
        "stage": "ResponseComplete",
        "requestURI": format!("/api/v1/namespaces/ns/pods/{}", "p".repeat(pad)),
        "verb": verb,
        "user": {"username": "system:serviceaccount:ns:sa", "groups": ["system:authenticated"]},
        "sourceIPs": ["10.0.0.1"],
        "userAgent": "kubectl/v1.34.0",
        "objectRef": {"resource": "pods", "namespace": "ns", "name": "p", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": "2026-01-05T10:00:00.000000Z",
        "stageTimestamp": "2026-01-05T10:00:00.001000Z",
        "annotations": {"authorization.k8s.io/decision": "allow"}
    })
}

/// The body the apiserver sends: an EventList and a newline.
fn event_list(items: &[Value]) -> Vec<u8> {
    let mut body = serde_json::to_vec(&json!({
        "kind": "EventList",
        "apiVersion": "audit.k8s.io/v1",
        "metadata": {},
        "items": items,
    }))
    .unwrap();
    body.push(b'\n');
    body
}

/// Generated batches: `batches` EventLists of `size` items, ids `<tag>-<batch>-<i>`.
fn generated(tag: &str, batches: usize, size: usize, pad: usize) -> Vec<(Vec<String>, Vec<u8>)> {
    (0..batches)
        .map(|b| {
            let ids: Vec<String> = (0..size).map(|i| format!("{tag}-{b}-{i}")).collect();
            let verbs = ["get", "list", "delete", "create"];
            let items: Vec<Value> = ids
                .iter()
                .enumerate()
                .map(|(i, id)| item(id, verbs[i % 4], pad))
                .collect();
            (ids, event_list(&items))
        })
        .collect()
}

/// auditIDs of output lines, with how often each appears; checks every line is a whole
/// event with kind and apiVersion.
fn ids_of(text: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let event: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("output line is not JSON ({e}): {line:.200}"));
        assert_eq!(event["kind"], "Event", "{line:.200}");
        *out.entry(event["auditID"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    out
}

fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn the_webhook_batch_is_filtered_completed_and_answered() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("audit.log");
    let server = Server::start(
        &[
            "verb=delete",
            "--out",
            common::arg(&out).as_str(),
            "--fsync",
        ],
        Stdio::null(),
    );
    let batches = generated("a", 3, 400, 10);
    for (_, body) in &batches {
        let answer = post(server.addr, body);
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.body, "{\"events\":400,\"matched\":100}\n");
    }
    // Answered 200 means written: the file holds it now.
    let text = read_text(&out);
    let ids = ids_of(&text);
    assert_eq!(ids.len(), 300);
    assert!(ids.values().all(|&n| n == 1));
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let mut expected = item("a-0-2", "delete", 10);
    let object = expected.as_object_mut().unwrap();
    object.insert("kind".into(), json!("Event"));
    object.insert("apiVersion".into(), json!("audit.k8s.io/v1"));
    assert_eq!(first, expected);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .starts_with(r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","#),
        "kind and apiVersion first, as the log backend writes them"
    );
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("msg=stopped batches=3 events_written=300 http2_requests=0"),
        "{stderr}"
    );
}

#[test]
fn corpus_events_arrive_once_as_webhook_batches() {
    let corpus = common::corpus_dir();
    // Every event of the corpus's JSON lines, as the webhook would send it.
    let mut events = Vec::new();
    for (_, event) in common::corpus_v1_events() {
        if let Value::Object(mut event) = event
            && event.get("auditID").is_some()
        {
            event.remove("kind");
            event.remove("apiVersion");
            events.push(Value::Object(event));
        }
    }
    assert!(
        events.len() >= 50,
        "the corpus has {} v1 events",
        events.len()
    );
    let mut server = Server::start(&["-o", "jsonl"], Stdio::piped());
    let reader = common::read_in_background(server.child.stdout.take().unwrap());
    for chunk in events.chunks(7) {
        assert_eq!(post(server.addr, &event_list(chunk)).status, 200);
    }
    // A real v1beta1 EventList (pretty-printed, items without kind) and real single Events.
    let list_path = corpus.join("kubernetes__website/audit.md@v1.8-era.eventlist-v1beta1.json");
    let list = std::fs::read(&list_path).unwrap();
    let list_items = serde_json::from_slice::<Value>(&list).unwrap()["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(post(server.addr, &list).status, 200);
    let single = std::fs::read(corpus.join("falcosecurity__falco/delete_secret.json")).unwrap();
    let answer = post(server.addr, &single);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, "{\"events\":1,\"matched\":1}\n");
    terminate(&server.child);
    let text = reader.join().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), events.len() + list_items + 1);
    for (line, event) in lines.iter().zip(&events) {
        let mut got: Value = serde_json::from_str(line).unwrap();
        let got = got.as_object_mut().unwrap();
        assert_eq!(got.remove("kind"), Some(json!("Event")));
        assert_eq!(got.remove("apiVersion"), Some(json!("audit.k8s.io/v1")));
        assert_eq!(&Value::Object(got.clone()), event);
    }
    for line in &lines[events.len()..events.len() + list_items] {
        let got: Value = serde_json::from_str(line).unwrap();
        assert_eq!(got["apiVersion"], "audit.k8s.io/v1beta1", "{line}");
    }
    // A single Event is written byte for byte.
    assert_eq!(
        lines.last().unwrap().as_bytes(),
        String::from_utf8_lossy(&single).trim_end().as_bytes()
    );
}

#[test]
fn concurrent_clients_with_gzip_bodies_each_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("audit.log");
    let server = Server::start(&["--out", common::arg(&out).as_str()], Stdio::null());
    let addr = server.addr;
    let clients: Vec<_> = (0..4)
        .map(|c| {
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                for (i, (batch_ids, body)) in generated(&format!("c{c}"), 10, 400, 0)
                    .into_iter()
                    .enumerate()
                {
                    post_until_ok(addr, &body, i % 2 == 0);
                    ids.extend(batch_ids);
                }
                ids
            })
        })
        .collect();
    let mut sent = HashSet::new();
    for client in clients {
        sent.extend(client.join().unwrap());
    }
    let ids = ids_of(&read_text(&out));
    assert_eq!(ids.len(), sent.len());
    assert!(ids.iter().all(|(id, &n)| n == 1 && sent.contains(id)));
    drop(server);
}

#[test]
fn refusals_have_their_status_and_one_line_reason() {
    let server = Server::start(&["--max-body", "64KiB"], Stdio::null());
    let addr = server.addr;
    let ok = event_list(&[item("x", "get", 0)]);
    assert_eq!(send(addr, "GET", "/audit", &[], b"").status, 405);
    assert_eq!(send(addr, "PUT", "/k8s-audit", &[], &ok).status, 405);
    let missing = send(addr, "POST", "/nope?timeout=30s", &[], &ok);
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("/audit or /k8s-audit"), "{missing:?}");
    // Over the limit: declared, or only once decoded (a gzip bomb).
    let big = event_list(
        &(0..200)
            .map(|i| item(&i.to_string(), "get", 200))
            .collect::<Vec<_>>(),
    );
    assert!(big.len() > 64 << 10);
    let answer = post(addr, &big);
    assert_eq!(answer.status, 413, "{answer:?}");
    assert!(answer.body.contains("--max-body"));
    let answer = send(
        addr,
        "POST",
        "/audit",
        &[("Content-Encoding", "gzip")],
        &gz(&big),
    );
    assert_eq!(answer.status, 413, "{answer:?}");
    for (body, reason) in [
        (
            &b"{\"kind\":\"EventList\",\"items\":[{\"verb\":"[..],
            "malformed JSON: EOF while parsing",
        ),
        (b"not json", "malformed JSON"),
        (b"{\"kind\":\"Pod\"}", "not an audit event"),
        (b"", "empty body"),
    ] {
        let answer = post(addr, body);
        assert_eq!(answer.status, 400, "{answer:?}");
        assert!(answer.body.starts_with(reason), "{answer:?}");
        assert_eq!(answer.body.lines().count(), 1, "{answer:?}");
    }
    let answer = send(
        addr,
        "POST",
        "/audit",
        &[("Content-Encoding", "gzip")],
        b"not gzip",
    );
    assert_eq!(answer.status, 400);
    assert!(answer.body.starts_with("malformed gzip body"), "{answer:?}");
    let answer = send(addr, "POST", "/audit", &[("Content-Encoding", "br")], &ok);
    assert_eq!(answer.status, 415);
    assert_eq!(post(addr, &ok).status, 200);
    assert_eq!(send(addr, "GET", "/healthz", &[], b"").body, "ok\n");
    assert_eq!(send(addr, "GET", "/readyz", &[], b"").body, "ready\n");
    let metrics = send(addr, "GET", "/metrics", &[], b"").body;
    for line in [
        "auditq_serve_batches_total 1\n",
        "auditq_serve_events_received_total 1\n",
        "auditq_serve_events_written_total 1\n",
        "auditq_serve_rejected_total{reason=\"too_large\"} 2\n",
        "auditq_serve_rejected_total{reason=\"malformed\"} 5\n",
        "auditq_serve_rejected_total{reason=\"method\"} 2\n",
        "auditq_serve_rejected_total{reason=\"not_found\"} 1\n",
        "auditq_serve_rejected_total{reason=\"encoding\"} 1\n",
        "auditq_serve_queue_depth 0\n",
        "auditq_serve_write_seconds_count 1\n",
    ] {
        assert!(metrics.contains(line), "{line:?} not in\n{metrics}");
    }
    // Every refusal was counted, and this source logged once (rate limited).
    let (code, stderr) = server.stop();
    assert_eq!(code, 0);
    assert_eq!(
        stderr.matches("msg=\"request refused\"").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn slow_output_gets_backpressure_and_loses_nothing() {
    // stdout is a pipe nobody reads for a while: the writer blocks, the queue (2) fills.
    let mut server = Server::start(&["--queue", "2", "--retry-after", "1"], Stdio::piped());
    let addr = server.addr;
    let clients: Vec<_> = (0..3)
        .map(|c| {
            std::thread::spawn(move || {
                let mut refusals = 0;
                let mut ids = Vec::new();
                for (batch_ids, body) in generated(&format!("s{c}"), 4, 400, 100) {
                    refusals += post_until_ok(addr, &body, false);
                    ids.extend(batch_ids);
                }
                (ids, refusals)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let metrics = send(addr, "GET", "/metrics", &[], b"").body;
    assert!(
        metrics.contains("auditq_serve_rejected_total{reason=\"busy\"} ")
            && !metrics.contains("auditq_serve_rejected_total{reason=\"busy\"} 0\n"),
        "{metrics}"
    );
    assert_eq!(send(addr, "GET", "/readyz", &[], b"").status, 503);
    let reader = common::read_in_background(server.child.stdout.take().unwrap());
    let mut sent = HashSet::new();
    let mut refusals = 0;
    for client in clients {
        let (ids, r) = client.join().unwrap();
        sent.extend(ids);
        refusals += r;
    }
    assert!(refusals > 0);
    terminate(&server.child);
    let ids = ids_of(&reader.join().unwrap());
    assert_eq!(ids.len(), sent.len());
    assert!(ids.values().all(|&n| n == 1));
}

#[test]
fn sigterm_under_load_keeps_every_answered_batch_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("audit.log");
    let server = Server::start(&["--out", common::arg(&out).as_str()], Stdio::null());
    let addr = server.addr;
    let answered = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let answered = Arc::clone(&answered);
            std::thread::spawn(move || {
                for b in 0..500 {
                    let (ids, body) = generated(&format!("t{c}-{b}"), 1, 400, 0).remove(0);
                    match try_send(addr, "POST", "/audit?timeout=30s", &[], &body) {
                        Some(a) if a.status == 200 => answered.lock().unwrap().push(ids),
                        Some(a) if a.status == 503 || a.status == 429 => {}
                        Some(a) => panic!("{a:?}"),
                        None => return, // the server is gone
                    }
                }
            })
        })
        .collect();
    // SIGTERM once batches are flowing.
    while answered.lock().unwrap().len() < 8 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    for client in clients {
        client.join().unwrap();
    }
    let written = ids_of(&read_text(&out));
    assert!(written.values().all(|&n| n == 1), "an event written twice");
    let answered = answered.lock().unwrap();
    assert!(!answered.is_empty());
    for ids in answered.iter() {
        assert!(
            ids.iter().all(|id| written.contains_key(id)),
            "answered 200 but lost"
        );
    }
    // What was written is whole batches only.
    assert_eq!(written.len() % 400, 0);
}

#[test]
fn rotated_output_is_read_back_once_by_follow_and_search() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("audit.log");
    let out_arg = common::arg(&out);
    let server = Server::start(
        &["--out", &out_arg, "--max-size", "1", "--compress"],
        Stdio::null(),
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let follow_out = elsewhere.path().join("followed");
    let mut follower = Command::new(bin())
        .args(["-f", "--from-start", "--", &out_arg])
        .stdout(std::fs::File::create(&follow_out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut sent = HashSet::new();
    // ~1 KB events: 16 batches of 400 make about six files of 1 MiB.
    for (ids, body) in generated("r", 16, 400, 500) {
        post_until_ok(server.addr, &body, false);
        sent.extend(ids);
        std::thread::sleep(Duration::from_millis(30));
    }
    let (code, _) = server.stop();
    assert_eq!(code, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while read_text(&follow_out).lines().count() < sent.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    terminate(&follower);
    follower.wait().unwrap();
    let followed = ids_of(&read_text(&follow_out));
    assert_eq!(followed.len(), sent.len());
    assert!(
        followed.values().all(|&n| n == 1),
        "follow read an event twice"
    );
    // Backups with lumberjack's names, gzipped (once the mill has run).
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("audit-"))
        .collect();
    assert!(names.len() >= 4, "{names:?}");
    assert!(
        names
            .iter()
            .all(|n| n.len() == "audit-2026-01-05T10-00-00.000.log.gz".len()
                && n.ends_with(".log.gz")),
        "{names:?}"
    );
    let search = Command::new(bin())
        .arg(dir.path().join(".").to_str().unwrap())
        .output()
        .unwrap();
    let text = String::from_utf8(search.stdout).unwrap();
    let searched = ids_of(&text);
    assert_eq!(searched.len(), sent.len());
    assert!(
        searched.values().all(|&n| n == 1),
        "search read an event twice"
    );
}

/// Certificates made with rcgen: a CA, a server certificate for 127.0.0.1, a client
/// certificate signed by the CA, and one signed by another CA.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
    client: (String, String),
    stranger: (String, String),
}

fn ca(name: &str) -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    rcgen::CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// (certificate, key) PEM for `names`, signed by `issuer`.
fn leaf(
    names: &[&str],
    issuer: &rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let cert = rcgen::CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, issuer)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca("auditq test CA");
    let (server_cert, server_key) = leaf(&["127.0.0.1", "localhost"], &ca);
    std::fs::write(dir.path().join("ca.crt"), ca.pem()).unwrap();
    std::fs::write(dir.path().join("server.crt"), &server_cert).unwrap();
    std::fs::write(dir.path().join("server.key"), &server_key).unwrap();
    std::fs::write(
        dir.path().join("tokens"),
        "# token,user,uid\ns3cret,kube-apiserver,1\n",
    )
    .unwrap();
    let client = leaf(&["kube-apiserver"], &ca);
    let stranger = leaf(&["stranger"], &self::ca("someone else"));
    Pki {
        ca_pem: ca.pem(),
        dir,
        client,
        stranger,
    }
}

/// One POST over TLS (HTTP/1.1), with a client certificate if given.
fn tls_send(
    addr: SocketAddr,
    ca_pem: &str,
    client: Option<&(String, String)>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Answer, String> {
    tls_request(
        addr,
        ca_pem,
        client,
        "POST",
        "/audit?timeout=30s",
        headers,
        body,
    )
}

/// One request over TLS (HTTP/1.1), with a client certificate if given.
fn tls_request(
    addr: SocketAddr,
    ca_pem: &str,
    client: Option<&(String, String)>,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Answer, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("127.0.0.1").unwrap())
            .unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(&request_bytes(method, target, headers, body))
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw) {
        Ok(_) => {}
        // The server may close without close_notify after answering.
        Err(e) if !raw.is_empty() && e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Err(e) => return Err(e.to_string()),
    }
    if raw.is_empty() {
        return Err("no answer".into());
    }
    Ok(parse_answer(&raw))
}

#[test]
fn tls_requires_the_client_certificate_and_the_token() {
    let pki = pki();
    let p = |name: &str| common::arg(&pki.dir.path().join(name));
    let out = pki.dir.path().join("audit.log");
    let server = Server::start_tls_at(
        "127.0.0.1:0",
        &pki,
        true,
        &["--token-file", &p("tokens"), "--out", &common::arg(&out)],
        Stdio::null(),
    );
    assert!(server.stderr().contains("tls=on client_certs=required"));
    let body = event_list(&[item("tls-1", "get", 0)]);
    let token = [("Authorization", "Bearer s3cret")];
    let answer = tls_send(server.addr, &pki.ca_pem, Some(&pki.client), &token, &body).unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    let wrong = [("Authorization", "Bearer s3cres")];
    let answer = tls_send(server.addr, &pki.ca_pem, Some(&pki.client), &wrong, &body).unwrap();
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.headers.get("www-authenticate").map(String::as_str),
        Some("Bearer")
    );
    let answer = tls_send(server.addr, &pki.ca_pem, Some(&pki.client), &[], &body).unwrap();
    assert_eq!(answer.status, 401);
    // No client certificate, or one from another CA: no TLS session at all.
    assert!(tls_send(server.addr, &pki.ca_pem, None, &token, &body).is_err());
    assert!(tls_send(server.addr, &pki.ca_pem, Some(&pki.stranger), &token, &body).is_err());
    // Plain HTTP to the TLS port is no request either.
    assert!(try_send(server.addr, "POST", "/audit", &[], &body).is_none_or(|a| a.status != 200));
    let (code, stderr) = server.stop();
    assert_eq!(code, 0);
    assert_eq!(ids_of(&read_text(&out)).len(), 1);
    assert!(stderr.contains("reason=unauthorized"), "{stderr}");
}

#[test]
fn tls_certificate_is_reloaded_when_its_files_change() {
    let pki = pki();
    let server = Server::start_tls_at("127.0.0.1:0", &pki, false, &[], Stdio::null());
    let body = event_list(&[item("r-1", "get", 0)]);
    assert_eq!(
        tls_send(server.addr, &pki.ca_pem, None, &[], &body)
            .unwrap()
            .status,
        200
    );
    // A new pair from another CA: clients trusting only the old CA now fail.
    let other = pki_other_server();
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(pki.dir.path().join("server.key"), &other.1).unwrap();
    std::fs::write(pki.dir.path().join("server.crt"), &other.0).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let _ = tls_send(server.addr, &pki.ca_pem, None, &[], &body); // triggers the check
    assert!(tls_send(server.addr, &pki.ca_pem, None, &[], &body).is_err());
    assert_eq!(
        tls_send(server.addr, &other.2, None, &[], &body)
            .unwrap()
            .status,
        200
    );
    assert!(server.stderr().contains("msg=\"tls certificate reloaded\""));
}

/// (server cert, key, CA) of a second CA.
fn pki_other_server() -> (String, String, String) {
    let ca = ca("another CA");
    let (cert, key) = leaf(&["127.0.0.1"], &ca);
    (cert, key, ca.pem())
}

#[test]
fn serve_options_stay_in_the_subcommand() {
    let run = |args: &[&str]| {
        let o = Command::new(bin()).args(args).output().unwrap();
        (
            o.status.code().unwrap(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    // Serve options are not options of a search, and search options not of serve.
    let (code, err) = run(&["--max-size", "1", "verb=get"]);
    assert_eq!(code, 2, "{err}");
    let (code, err) = run(&["serve", "--stats"]);
    assert_eq!(code, 2);
    assert!(err.contains("--stats"), "{err}");
    let (code, err) = run(&["-c", "serve"]);
    assert_eq!(code, 2, "a search option before `serve`: {err}");
    // No plain HTTP beyond loopback unless asked.
    let (code, err) = run(&["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(code, 2);
    assert!(err.contains("--insecure-listen"), "{err}");
    for (args, needs) in [
        (&["serve", "--fsync"][..], "--out"),
        (&["serve", "--compress"], "--max-size"),
        (&["serve", "--client-ca", "x"], "--tls-cert"),
        (&["serve", "--token-file", "x"], "--tls-cert"),
        (&["serve", "-o", "json"], "never ends"),
        (&["serve", "--path", "audit"], "not a path"),
    ] {
        let (code, err) = run(args);
        assert_eq!(code, 2, "{args:?}");
        assert!(err.contains(needs), "{args:?}: {err}");
    }
    let o = Command::new(bin())
        .args(["serve", "--print-kubeconfig", "https://auditq:9780/audit"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("    server: https://auditq:9780/audit\n"),
        "{text}"
    );
    assert!(text.contains("client-certificate:"));
    // A file named `serve` is still searched when it is not the first argument, or
    // after `--`.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("serve"),
        event_list(&[item("f", "delete", 0)]),
    )
    .unwrap();
    for args in [&["verb=delete", "serve"][..], &["--", "serve"]] {
        let o = Command::new(bin())
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        let text = String::from_utf8(o.stdout).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("\"auditID\":\"f\""), "{text}");
    }
}

/// Where each `auditq serve` option is tested (a new option fails until it is listed).
#[test]
fn every_serve_option_is_tested() {
    let tested = [
        (
            "query",
            "the_webhook_batch_is_filtered_completed_and_answered",
        ),
        ("query_flag", "serve_options_stay_in_the_subcommand (clap)"),
        ("listen", "every test (127.0.0.1:0)"),
        ("insecure_listen", "serve_options_stay_in_the_subcommand"),
        ("path", "refusals_have_their_status_and_one_line_reason"),
        (
            "out",
            "the_webhook_batch_is_filtered_completed_and_answered",
        ),
        ("output", "corpus_events_arrive_once_as_webhook_batches"),
        (
            "max_size",
            "rotated_output_is_read_back_once_by_follow_and_search",
        ),
        (
            "max_backups",
            "rotate.rs unit test prunes_and_compresses_like_lumberjack",
        ),
        (
            "max_age",
            "rotate.rs removes_backups_older_than_max_age_by_their_names",
        ),
        (
            "compress",
            "rotated_output_is_read_back_once_by_follow_and_search",
        ),
        (
            "fsync",
            "the_webhook_batch_is_filtered_completed_and_answered",
        ),
        (
            "tls_cert",
            "tls_requires_the_client_certificate_and_the_token",
        ),
        (
            "tls_key",
            "tls_certificate_is_reloaded_when_its_files_change",
        ),
        (
            "client_ca",
            "tls_requires_the_client_certificate_and_the_token",
        ),
        (
            "token_file",
            "tls_requires_the_client_certificate_and_the_token",
        ),
        ("max_body", "refusals_have_their_status_and_one_line_reason"),
        ("queue", "slow_output_gets_backpressure_and_loses_nothing"),
        (
            "retry_after",
            "slow_output_gets_backpressure_and_loses_nothing",
        ),
        ("print_kubeconfig", "serve_options_stay_in_the_subcommand"),
        ("forward", "forward_sends_the_matches_on_to_another_webhook"),
        (
            "forward_ca",
            "forward_over_https_with_a_client_certificate_reuses_connections",
        ),
        (
            "forward_cert",
            "forward_over_https_with_a_client_certificate_reuses_connections",
        ),
        (
            "forward_key",
            "forward_over_https_with_a_client_certificate_reuses_connections",
        ),
        (
            "max_connections",
            "connections_over_max_connections_are_closed_at_accept",
        ),
        ("log_format", "json_log_format_gives_one_json_object_a_line"),
        ("help", "clap"),
    ];
    let command = auditq::cli::args::Args::command();
    let serve = command.find_subcommand("serve").unwrap();
    for arg in serve.get_arguments() {
        let id = arg.get_id().as_str();
        assert!(
            tested.iter().any(|(t, _)| *t == id),
            "serve option `{id}` is not listed in tests/it/serve.rs"
        );
    }
}

/// The Go driver (tests/webhook: kube-apiserver's webhook backend), built in module mode
/// on first use.
fn driver() -> PathBuf {
    common::go::build(
        "webhook-driver",
        "tests/webhook",
        common::go::Deps::Module("readonly"),
        "Go 1.26 or later is needed (tests/webhook/go.mod)",
    )
}

/// A free port on 127.0.0.1 (to restart a server on the same address).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The kubeconfig `--print-kubeconfig` prints, with the test's certificate paths.
fn webhook_kubeconfig(pki: &Pki, url: &str) -> PathBuf {
    let o = Command::new(bin())
        .args(["serve", "--print-kubeconfig", url])
        .output()
        .unwrap();
    let dir = pki.dir.path();
    std::fs::write(dir.join("client.crt"), &pki.client.0).unwrap();
    std::fs::write(dir.join("client.key"), &pki.client.1).unwrap();
    let text = String::from_utf8(o.stdout)
        .unwrap()
        .replace("/etc/kubernetes/auditq/", &format!("{}/", dir.display()));
    let path = dir.join("webhook.kubeconfig");
    std::fs::write(&path, text).unwrap();
    path
}

/// (auditID, stage) of each line, counted.
fn keys_of(text: &str) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        let key = (
            event["auditID"].as_str().unwrap_or("").to_string(),
            event["stage"].as_str().unwrap_or("").to_string(),
        );
        *out.entry(key).or_default() += 1;
    }
    out
}

/// Runs the driver against `auditq serve` over TLS with a client certificate; with
/// `restart`, the server is stopped (SIGTERM) and started again on the same port while
/// the driver sends. Returns (what was sent, what was written).
fn drive(mode: &str, extra: &[&str], restart: bool) -> (String, String) {
    let pki = pki();
    let p = |name: &str| common::arg(&pki.dir.path().join(name));
    let listen = format!("127.0.0.1:{}", free_port());
    let kubeconfig = webhook_kubeconfig(&pki, &format!("https://{listen}/audit"));
    let out = p("audit.log");
    let args = ["--out", out.as_str()];
    let server = Server::start_tls_at(&listen, &pki, true, &args, Stdio::null());
    let mut sender = Command::new(driver())
        .args(["-kubeconfig", &common::arg(&kubeconfig), "-mode", mode])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let server = if restart {
        std::thread::sleep(Duration::from_millis(1200));
        let (code, stderr) = server.stop();
        assert_eq!(code, 0, "{stderr}");
        std::thread::sleep(Duration::from_millis(800));
        Server::start_tls_at(&listen, &pki, true, &args, Stdio::null())
    } else {
        server
    };
    let mut sent = String::new();
    sender
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut sent)
        .unwrap();
    let mut errors = String::new();
    sender
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut errors)
        .unwrap();
    assert!(sender.wait().unwrap().success(), "{errors}");
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    // Go's client negotiated HTTP/2 (ALPN), as the apiserver's does.
    assert!(!stderr.contains("http2_requests=0"), "{stderr}");
    assert!(stderr.contains("http2_requests="), "{stderr}");
    (sent, read_text(Path::new(&out)))
}

#[test]
fn real_webhook_sender_delivers_corpus_and_generated_events_once() {
    // The corpus's v1 events (as JSON lines the driver converts to the apiserver's
    // internal events), then generated ones, in batch mode.
    let mut lines = String::new();
    let mut expected: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (line, event) in common::corpus_v1_events() {
        lines.push_str(&line);
        lines.push('\n');
        let key = (
            event["auditID"].as_str().unwrap_or("").to_string(),
            event["stage"].as_str().unwrap_or("").to_string(),
        );
        *expected.entry(key).or_default() += 1;
    }
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, &lines).unwrap();
    for i in 0..5000 {
        *expected
            .entry((format!("gen-{i}"), "ResponseComplete".to_string()))
            .or_default() += 1;
    }
    let (sent, written) = drive(
        "batch",
        &[
            "-events",
            &common::arg(&events),
            "-generate",
            "5000",
            "-batch-max-wait",
            "200ms",
        ],
        false,
    );
    // Events Go cannot read (a corpus line with a time in another layout) are skipped
    // by the driver, which names them.
    let mut sent_count = 0;
    for line in sent.lines() {
        if let Some(rest) = line.strip_prefix("skip ") {
            let (id, stage) = rest.split_once(' ').unwrap();
            let n = expected
                .get_mut(&(id.to_string(), stage.to_string()))
                .unwrap();
            *n -= 1;
        } else if let Some(n) = line.strip_prefix("sent ") {
            sent_count = n.parse().unwrap();
        }
    }
    expected.retain(|_, n| *n > 0);
    assert_eq!(sent_count, expected.values().sum::<usize>());
    assert!(sent_count > 5000);
    assert_eq!(keys_of(&written), expected);
}

#[test]
fn real_webhook_sender_loses_nothing_across_a_restart() {
    for mode in ["batch", "blocking"] {
        let (sent, written) = drive(
            mode,
            &[
                "-generate",
                "1500",
                "-pace",
                "2ms",
                "-batch-max-wait",
                "200ms",
            ],
            true,
        );
        assert_eq!(sent.trim(), "sent 1500", "{mode}");
        let keys = keys_of(&written);
        assert_eq!(keys.len(), 1500, "{mode}: events lost");
        assert!(keys.values().all(|&n| n == 1), "{mode}: an event twice");
    }
}

#[test]
fn forward_sends_the_matches_on_to_another_webhook() {
    // The next webhook is another auditq serve.
    let mut next = Server::start(&[], Stdio::piped());
    let reader = common::read_in_background(next.child.stdout.take().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("audit.log");
    let target = format!("http://{}/k8s-audit", next.addr);
    let first = Server::start(
        &[
            "verb=delete",
            "--out",
            &common::arg(&out),
            "--forward",
            &target,
        ],
        Stdio::null(),
    );
    let mut deletes = HashSet::new();
    for (ids, body) in generated("fw", 3, 400, 0) {
        assert_eq!(post(first.addr, &body).status, 200);
        deletes.extend(ids.into_iter().skip(2).step_by(4));
    }
    wait_for_metric(first.addr, "auditq_serve_events_forwarded_total 300\n", 20);
    let (code, _) = first.stop();
    assert_eq!(code, 0);
    terminate(&next.child);
    let forwarded = ids_of(&reader.join().unwrap());
    let written = ids_of(&read_text(&out));
    assert_eq!(written.len(), 300);
    assert_eq!(forwarded, written);
    assert!(forwarded.keys().all(|id| deletes.contains(id)));
    // --forward takes JSON only; its TLS options need an https:// target.
    for (args, says) in [
        (&["--forward", &target, "-o", "table"][..], "-o jsonl"),
        (
            &["--forward", &target, "--forward-ca", "ca.crt"],
            "https://",
        ),
        (&["--forward", "ftp://falco/x"], "https://"),
        (
            &["--forward", "https://falco/x", "--forward-cert", "c.crt"],
            "--forward-key",
        ),
        (&["--forward-ca", "ca.crt"], "--forward"),
    ] {
        let o = Command::new(bin())
            .arg("serve")
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let _ = &mut next;
}

/// Waits until `/metrics` of `addr` (plain HTTP) contains `line`; the metrics text.
fn wait_for_metric(addr: SocketAddr, line: &str, seconds: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let metrics = send(addr, "GET", "/metrics", &[], b"").body;
        if metrics.contains(line) {
            return metrics;
        }
        assert!(Instant::now() < deadline, "no {line:?} in {metrics}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value of one metric line (`name value`).
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[test]
fn forward_over_https_with_a_client_certificate_reuses_connections() {
    let pki = pki();
    let dir = pki.dir.path();
    let p = |name: &str| common::arg(&dir.join(name));
    std::fs::write(dir.join("client.crt"), &pki.client.0).unwrap();
    std::fs::write(dir.join("client.key"), &pki.client.1).unwrap();
    let other = pki_other_server();
    std::fs::write(dir.join("other-ca.crt"), &other.2).unwrap();
    // The next webhook: another auditq serve, over TLS, requiring a client certificate.
    let mut next = Server::start_tls_at("127.0.0.1:0", &pki, true, &[], Stdio::piped());
    let reader = common::read_in_background(next.child.stdout.take().unwrap());
    let target = format!("https://127.0.0.1:{}/k8s-audit", next.addr.port());
    let out = dir.join("audit.log");
    let first = Server::start(
        &[
            "verb=delete",
            "--out",
            &common::arg(&out),
            "--forward",
            &target,
            "--forward-ca",
            &p("ca.crt"),
            "--forward-cert",
            &p("client.crt"),
            "--forward-key",
            &p("client.key"),
        ],
        Stdio::null(),
    );
    let mut deletes = HashSet::new();
    for (ids, body) in generated("tfw", 5, 400, 0) {
        assert_eq!(post(first.addr, &body).status, 200);
        deletes.extend(ids.into_iter().skip(2).step_by(4));
    }
    wait_for_metric(first.addr, "auditq_serve_events_forwarded_total 500\n", 30);
    // Five batches over one kept-alive connection (and this request's own).
    let metrics = tls_request(
        next.addr,
        &pki.ca_pem,
        Some(&pki.client),
        "GET",
        "/metrics",
        &[],
        b"",
    )
    .unwrap()
    .body;
    assert_eq!(
        metric(&metrics, "auditq_serve_requests_total{proto=\"http1\"}"),
        6
    );
    assert!(
        metric(&metrics, "auditq_serve_connections_total") <= 2,
        "connections not reused: {metrics}"
    );
    // The same, trusting another CA: the target's certificate is refused.
    let wrong = Server::start(
        &[
            "--forward",
            &target,
            "--forward-ca",
            &p("other-ca.crt"),
            "--forward-cert",
            &p("client.crt"),
            "--forward-key",
            &p("client.key"),
        ],
        Stdio::null(),
    );
    assert_eq!(
        post(wrong.addr, &event_list(&[item("w-1", "get", 0)])).status,
        200
    );
    // Five attempts (1 + 1.5 + 2.25 + 3.4 s apart), then dropped and counted.
    let metrics = wait_for_metric(wrong.addr, "auditq_serve_forward_dropped_total 1\n", 40);
    assert!(metrics.contains("auditq_serve_events_forwarded_total 0\n"));
    let (code, stderr) = wrong.stop();
    assert_eq!(code, 0);
    let failed: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("msg=\"forwarding failed\""))
        .collect();
    assert_eq!(failed.len(), 2, "first and last attempt logged: {stderr}");
    for line in failed {
        assert!(line.contains(&format!("target={target}")), "{line}");
        assert!(line.contains("invalid peer certificate"), "{line}");
        assert!(line.contains("UnknownIssuer"), "{line}");
    }
    let (code, _) = first.stop();
    assert_eq!(code, 0);
    terminate(&next.child);
    let forwarded = ids_of(&reader.join().unwrap());
    let written = ids_of(&read_text(&out));
    assert_eq!(written.len(), 500);
    assert_eq!(forwarded, written, "every match forwarded once");
    assert!(forwarded.values().all(|&n| n == 1));
    assert!(forwarded.keys().all(|id| deletes.contains(id)));
    assert!(!forwarded.contains_key("w-1"));
    let _ = &mut next;
}

#[test]
fn client_ca_is_reloaded_when_its_file_changes() {
    let pki = pki();
    let dir = pki.dir.path();
    let out = dir.join("audit.log");
    let server = Server::start_tls_at(
        "127.0.0.1:0",
        &pki,
        true,
        &["--out", &common::arg(&out)],
        Stdio::null(),
    );
    let status = |client: &(String, String), id: &str| {
        tls_send(
            server.addr,
            &pki.ca_pem,
            Some(client),
            &[],
            &event_list(&[item(id, "get", 0)]),
        )
        .map(|a| a.status)
    };
    let rotated = ca("rotated CA");
    let new_client = leaf(&["kube-apiserver"], &rotated);
    assert_eq!(status(&pki.client, "old-1"), Ok(200));
    assert!(status(&new_client, "new-0").is_err());
    // A half-written CA file: the old CA stays, and it is said once.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(dir.join("ca.crt"), "-----BEGIN CERTIFICATE-----\nMIIB").unwrap();
    for id in ["old-2", "old-3"] {
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(status(&pki.client, id), Ok(200));
        assert!(status(&new_client, "new-x").is_err());
    }
    // The rotated CA: its clients are in, the old CA's are out, without a restart.
    std::fs::write(dir.join("ca.crt"), rotated.pem()).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(status(&new_client, "new-1"), Ok(200));
    assert!(status(&pki.client, "old-4").is_err());
    assert_eq!(status(&new_client, "new-2"), Ok(200));
    let (code, stderr) = server.stop();
    assert_eq!(code, 0);
    assert_eq!(
        stderr
            .matches("msg=\"client CA not reloaded (keeping the previous one)\"")
            .count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}:", dir.join("ca.crt").display())),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("msg=\"client CA reloaded\"").count(),
        1,
        "{stderr}"
    );
    let ids: Vec<String> = ids_of(&read_text(&out)).into_keys().collect();
    assert_eq!(ids, ["new-1", "new-2", "old-1", "old-2", "old-3"]);
}

#[test]
fn connections_over_max_connections_are_closed_at_accept() {
    let server = Server::start(&["--max-connections", "2"], Stdio::null());
    let held: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // The third: closed at once, no answer.
    let mut third = TcpStream::connect(server.addr).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = third.write_all(&request_bytes("GET", "/healthz", &[], b""));
    let mut raw = Vec::new();
    let started = Instant::now();
    let _ = third.read_to_end(&mut raw);
    assert!(raw.is_empty(), "{}", String::from_utf8_lossy(&raw));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "not closed at once"
    );
    // One place free again: requests are served.
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    let metrics = send(server.addr, "GET", "/metrics", &[], b"").body;
    assert!(
        metrics.contains("auditq_serve_rejected_total{reason=\"too_many_connections\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("auditq_serve_connections_open 1\n"),
        "{metrics}"
    );
    let body = event_list(&[item("c-1", "get", 0)]);
    assert_eq!(post(server.addr, &body).status, 200);
    let (code, stderr) = server.stop();
    assert_eq!(code, 0);
    assert!(stderr.contains("reason=too_many_connections"), "{stderr}");
}

#[test]
fn closed_stdout_stops_the_server_with_status_2() {
    let mut server = Server::start(&[], Stdio::piped());
    let mut lines = BufReader::new(server.child.stdout.take().unwrap());
    let body = event_list(&[item("p-1", "get", 0), item("p-2", "get", 0)]);
    assert_eq!(post(server.addr, &body).status, 200);
    let mut line = String::new();
    lines.read_line(&mut line).unwrap();
    assert!(line.contains("\"auditID\":\"p-1\""), "{line}");
    // `auditq serve | head -1`: the reader exits.
    drop(lines);
    let answer = post(server.addr, &event_list(&[item("p-3", "get", 0)]));
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(answer.headers.contains_key("retry-after"), "{answer:?}");
    // It stops by itself, with status 2, and says why once.
    let deadline = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running: {}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(100));
    let stderr = server.stderr();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.matches("output closed").count(), 1, "{stderr}");
    assert!(stderr.contains("level=error"), "{stderr}");
    assert!(!stderr.contains("cannot write output"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Nothing listens any more: the apiserver keeps its batches until a restart.
    assert!(try_send(server.addr, "POST", "/audit", &[], &body).is_none());
}

/// Runs the real `openssl` CLI in `dir`; panics if it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA made by `openssl req -x509` in `dir`: `NAME.crt` and `NAME.key`.
fn openssl_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
        ],
    );
}

/// A client certificate `NAME.crt` (key `NAME.key`) signed by the CA `ca` the way
/// tutorials do it: `openssl x509 -req` without `-extfile`, which makes X.509 v1 (with
/// `extfile`, the file of extensions to add instead: v3).
fn openssl_client(dir: &Path, name: &str, ca: &str, extfile: Option<&str>) {
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    let (crt, key, csr, out) = (
        format!("{ca}.crt"),
        format!("{ca}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
    );
    let mut args = vec![
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &crt,
        "-CAkey",
        &key,
        "-CAcreateserial",
        "-days",
        "1",
        "-out",
        &out,
    ];
    if let Some(ext) = extfile {
        args.extend(["-extfile", ext]);
    }
    openssl(dir, &args);
    let text = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in", &out])
        .current_dir(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    let v1 = text.contains("Version: 1 (0x0)");
    assert_eq!(v1, extfile.is_none(), "{name}: {text}");
}

/// One POST of `body` by the real `curl` over TLS with the client certificate `NAME.crt`
/// of `dir` (`extra`: more curl options): the status, or curl's error.
fn curl_post(
    addr: SocketAddr,
    server_ca: &Path,
    dir: &Path,
    name: &str,
    body: &[u8],
    extra: &[&str],
) -> Result<u16, String> {
    let body_file = dir.join(format!("{name}.body"));
    std::fs::write(&body_file, body).unwrap();
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .args(["--cacert", &common::arg(server_ca)])
        .args(["--cert", &common::arg(&dir.join(format!("{name}.crt")))])
        .args(["--key", &common::arg(&dir.join(format!("{name}.key")))])
        .args(["-H", "Content-Type: application/json"])
        .args(["--data-binary", &format!("@{}", common::arg(&body_file))])
        .args(extra)
        .arg(format!("https://{addr}/audit?timeout=30s"))
        .output()
        .expect("curl");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().parse().unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `auditq serve` over TLS with `pki`'s server certificate and `--client-ca client_ca`.
fn start_with_client_ca(pki: &Pki, client_ca: &Path, extra: &[&str]) -> Server {
    let p = |name: &str| common::arg(&pki.dir.path().join(name));
    let (cert, key, ca) = (p("server.crt"), p("server.key"), common::arg(client_ca));
    let mut args = vec![
        "--tls-cert",
        cert.as_str(),
        "--tls-key",
        key.as_str(),
        "--client-ca",
        ca.as_str(),
    ];
    args.extend_from_slice(extra);
    Server::start_at("127.0.0.1:0", &args, Stdio::null())
}

const V1_WARNING: &str = "msg=\"client certificate is X.509 v1 (no extensions)";

#[test]
fn v1_client_certificate_of_the_client_ca_is_accepted_with_one_warning() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    openssl_ca(dir.path(), "ca");
    openssl_client(dir.path(), "kube-apiserver", "ca", None);
    let out = dir.path().join("audit.log");
    let server = start_with_client_ca(
        &pki,
        &dir.path().join("ca.crt"),
        &["--out", &common::arg(&out)],
    );
    let server_ca = pki.dir.path().join("ca.crt");
    // Two connections (TLS 1.3, then TLS 1.2: both handshake signatures are checked
    // with the v1 certificate's key).
    for (id, extra) in [("v1-a", &[][..]), ("v1-b", &["--tls-max", "1.2"][..])] {
        let body = event_list(&[item(id, "get", 0)]);
        let status = curl_post(
            server.addr,
            &server_ca,
            dir.path(),
            "kube-apiserver",
            &body,
            extra,
        );
        assert_eq!(status, Ok(200), "{}", server.stderr());
    }
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr.matches(V1_WARNING).count(), 1, "{stderr}");
    let warning = stderr.lines().find(|l| l.contains(V1_WARNING)).unwrap();
    assert!(warning.starts_with("auditq: level=warn "), "{warning}");
    assert!(
        warning.contains(" subject=\"CN=kube-apiserver\" issuer=\"CN=ca\" "),
        "{warning}"
    );
    assert!(warning.contains("extendedKeyUsage=clientAuth"), "{warning}");
    assert!(!stderr.contains("request refused"), "{stderr}");
    let ids = ids_of(&read_text(&out));
    assert_eq!(ids.keys().collect::<Vec<_>>(), ["v1-a", "v1-b"], "{ids:?}");
}

#[test]
fn a_client_closing_during_the_handshake_is_not_a_refusal() {
    // A TCP health check, a client exiting with a spare connection half open (the
    // apiserver's Go client does this): auditq refused nothing and says nothing.
    let pki = pki();
    let server = start_with_client_ca(&pki, &pki.dir.path().join("ca.crt"), &[]);
    drop(TcpStream::connect(server.addr).unwrap());
    let mut half = TcpStream::connect(server.addr).unwrap();
    // The first bytes of a ClientHello record, then gone.
    std::io::Write::write_all(&mut half, &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
    drop(half);
    // A real refusal afterwards shows the server had seen the two connections.
    let mut plain = TcpStream::connect(server.addr).unwrap();
    std::io::Write::write_all(&mut plain, b"POST /audit HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let _ = std::io::Read::read(&mut plain, &mut [0u8; 64]);
    let stderr = wait_for_stderr(&server, "msg=\"request refused\"");
    let (code, stderr_at_stop) = server.stop();
    assert_eq!(code, 0, "{stderr_at_stop}");
    assert_eq!(stderr.matches("request refused").count(), 1, "{stderr}");
    assert!(
        refusal_detail(&stderr).starts_with("not a TLS handshake"),
        "{stderr}"
    );
}

/// `server`'s stderr once it contains `needle` (10 s at most).
fn wait_for_stderr(server: &Server, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stderr = server.stderr();
        if stderr.contains(needle) || Instant::now() > deadline {
            return stderr;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `detail` of the (first) refusal logged in `stderr`.
fn refusal_detail(stderr: &str) -> String {
    let line = stderr
        .lines()
        .find(|l| l.contains("msg=\"request refused\"") && l.contains("reason=tls_handshake"))
        .unwrap_or_else(|| panic!("no TLS refusal logged: {stderr}"));
    assert!(line.contains(" source=127.0.0.1 "), "{line}");
    let detail = line.split(" detail=").nth(1).unwrap();
    let detail = detail.split(" refused_since_last_log=").next().unwrap();
    serde_json::from_str::<String>(detail).unwrap_or_else(|_| detail.to_string())
}

#[test]
fn v1_client_certificate_of_another_ca_is_refused_in_words() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    openssl_ca(dir.path(), "ca");
    openssl_ca(dir.path(), "other-ca");
    openssl_client(dir.path(), "intruder", "other-ca", None);
    let client_ca = dir.path().join("ca.crt");
    let server = start_with_client_ca(&pki, &client_ca, &[]);
    let body = event_list(&[item("x", "get", 0)]);
    let server_ca = pki.dir.path().join("ca.crt");
    let refused = curl_post(server.addr, &server_ca, dir.path(), "intruder", &body, &[]);
    assert!(refused.is_err(), "{refused:?}");
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        refusal_detail(&stderr),
        format!(
            "client certificate not signed by --client-ca {}",
            client_ca.display()
        )
    );
    assert!(!stderr.contains(V1_WARNING), "{stderr}");
}

#[test]
fn v1_intermediate_is_refused_as_go_refuses_it() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    openssl_ca(dir.path(), "ca");
    // An intermediate "CA" made without extensions (v1), and a v3 client certificate
    // it signs; the client presents both.
    openssl_client(dir.path(), "intermediate", "ca", None);
    std::fs::write(
        dir.path().join("client.ext"),
        "extendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    openssl_client(dir.path(), "leaf", "intermediate", Some("client.ext"));
    let chain = [
        std::fs::read_to_string(dir.path().join("leaf.crt")).unwrap(),
        std::fs::read_to_string(dir.path().join("intermediate.crt")).unwrap(),
    ]
    .concat();
    std::fs::write(dir.path().join("leaf.crt"), chain).unwrap();
    let server = start_with_client_ca(&pki, &dir.path().join("ca.crt"), &[]);
    let body = event_list(&[item("x", "get", 0)]);
    let server_ca = pki.dir.path().join("ca.crt");
    let refused = curl_post(server.addr, &server_ca, dir.path(), "leaf", &body, &[]);
    assert!(refused.is_err(), "{refused:?}");
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    let detail = refusal_detail(&stderr);
    assert!(
        detail.starts_with("a certificate acting as a CA in the client's chain is X.509 v1"),
        "{detail}"
    );
}

#[test]
fn expired_client_certificate_is_refused_saying_expired() {
    let pki = pki();
    // A v3 client certificate of the right CA, valid in 2020 only.
    let issuer = rcgen::CertifiedIssuer::self_signed(
        {
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, "expiring CA");
            params
        },
        rcgen::KeyPair::generate().unwrap(),
    )
    .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["kube-apiserver".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2020, 12, 31);
    let expired = (
        params.signed_by(&key, &issuer).unwrap().pem(),
        key.serialize_pem(),
    );
    let dir = tempfile::tempdir().unwrap();
    let client_ca = dir.path().join("ca.crt");
    std::fs::write(&client_ca, issuer.pem()).unwrap();
    let server = start_with_client_ca(&pki, &client_ca, &[]);
    let body = event_list(&[item("x", "get", 0)]);
    assert!(tls_send(server.addr, &pki.ca_pem, Some(&expired), &[], &body).is_err());
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    let detail = refusal_detail(&stderr);
    assert!(
        detail
            .starts_with("client certificate expired: valid until 2020-12-31 00:00:00 UTC, now 20"),
        "{detail}"
    );
}

#[test]
fn missing_client_certificate_is_refused_in_words() {
    let pki = pki();
    let server = Server::start_tls_at("127.0.0.1:0", &pki, true, &[], Stdio::null());
    let body = event_list(&[item("x", "get", 0)]);
    assert!(tls_send(server.addr, &pki.ca_pem, None, &[], &body).is_err());
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    let detail = refusal_detail(&stderr);
    assert!(
        detail.starts_with(&format!(
            "no client certificate: --client-ca {} requires one",
            pki.dir.path().join("ca.crt").display()
        )),
        "{detail}"
    );
}

#[test]
fn json_log_format_gives_one_json_object_a_line() {
    let mut child = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    let listening: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
    assert_eq!(listening["level"], "info", "{first}");
    assert_eq!(listening["msg"], "listening", "{first}");
    assert_eq!(listening["tls"], "off", "{first}");
    let addr: SocketAddr = listening["addr"].as_str().unwrap().parse().unwrap();
    assert_eq!(post(addr, b"not json").status, 400);
    assert_eq!(post(addr, &event_list(&[item("j", "get", 0)])).status, 200);
    terminate(&child);
    assert!(child.wait().unwrap().success());
    let mut rest = String::new();
    lines.read_to_string(&mut rest).unwrap();
    let events: Vec<Value> = rest
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for event in &events {
        assert!(
            event["level"].is_string() && event["msg"].is_string(),
            "{event}"
        );
    }
    let refused = events
        .iter()
        .find(|e| e["msg"] == "request refused")
        .unwrap();
    assert_eq!(refused["level"], "warn");
    assert_eq!(refused["reason"], "malformed");
    assert_eq!(refused["refused_since_last_log"], 1, "a number: {refused}");
    let stopped = events.iter().find(|e| e["msg"] == "stopped").unwrap();
    assert_eq!(stopped["batches"], 1);
    assert_eq!(stopped["events_written"], 1);
}

#[test]
fn metrics_are_valid_prometheus_text() {
    let server = Server::start(&[], Stdio::null());
    assert_eq!(
        post(server.addr, &event_list(&[item("m", "get", 0)])).status,
        200
    );
    assert_eq!(post(server.addr, b"not json").status, 400);
    let answer = send(server.addr, "GET", "/metrics", &[], b"");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.headers.get("content-type").map(String::as_str),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = answer.body;
    // Text format 0.0.4: HELP and TYPE before the samples of each family, no `# EOF`
    // (that ends the OpenMetrics format, which is served with another Content-Type).
    assert!(!text.contains("# EOF"), "{text}");
    let mut families: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = HashSet::new();
    let mut series = HashSet::new();
    let mut samples: BTreeMap<String, f64> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            assert!(help.ends_with('.'), "{line}");
            assert!(helped.insert(name.to_string()), "two HELP for {name}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(helped.contains(name), "TYPE before HELP: {line}");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(
                families
                    .insert(name.to_string(), kind.to_string())
                    .is_none(),
                "{line}"
            );
        } else {
            let (key, value) = line.rsplit_once(' ').unwrap();
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
            assert!(series.insert(key.to_string()), "twice: {line}");
            let name = key.split('{').next().unwrap();
            let family = [
                name,
                name.strip_suffix("_bucket").unwrap_or(""),
                name.strip_suffix("_sum").unwrap_or(""),
                name.strip_suffix("_count").unwrap_or(""),
            ]
            .into_iter()
            .find(|f| families.contains_key(*f))
            .unwrap_or_else(|| panic!("sample of no declared family: {line}"));
            if family != name {
                assert_eq!(families[family], "histogram", "{line}");
            }
            if families[family] == "counter" {
                assert!(name.ends_with("_total"), "{line}");
            }
            samples.insert(key.to_string(), value);
        }
    }
    for name in [
        "auditq_serve_batches_total",
        "auditq_serve_events_received_total",
        "auditq_serve_events_matched_total",
        "auditq_serve_events_written_total",
        "auditq_serve_events_forwarded_total",
        "auditq_serve_forward_dropped_total",
        "auditq_serve_received_bytes_total",
        "auditq_serve_written_bytes_total",
        "auditq_serve_requests_total",
        "auditq_serve_rejected_total",
        "auditq_serve_connections_total",
        "auditq_serve_connections_open",
        "auditq_serve_queue_depth",
        "auditq_serve_queue_capacity",
        "auditq_serve_write_seconds",
    ] {
        assert!(families.contains_key(name), "no family {name}: {text}");
    }
    assert_eq!(families.len(), 15, "{families:?}");
    assert_eq!(samples["auditq_serve_batches_total"], 1.0);
    assert_eq!(
        samples["auditq_serve_rejected_total{reason=\"malformed\"}"],
        1.0
    );
    assert_eq!(
        samples["auditq_serve_rejected_total{reason=\"tls_handshake\"}"],
        0.0
    );
    assert_eq!(samples["auditq_serve_requests_total{proto=\"http1\"}"], 3.0);
    assert_eq!(samples["auditq_serve_queue_capacity"], 16.0);
    // Buckets are cumulative and end at +Inf = _count.
    let buckets: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("auditq_serve_write_seconds_bucket{"))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 13);
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert_eq!(
        samples["auditq_serve_write_seconds_bucket{le=\"+Inf\"}"],
        1.0
    );
    assert_eq!(samples["auditq_serve_write_seconds_count"], 1.0);
    assert!(samples["auditq_serve_write_seconds_sum"] > 0.0);
    server.stop();
}

#[test]
fn real_webhook_sender_delivers_with_a_v1_client_certificate() {
    // kube-apiserver's own webhook client (Go) presenting a v1 certificate made by
    // `openssl x509 -req`, as its kubeconfig's client-certificate.
    let mut pki = pki();
    let dir = tempfile::tempdir().unwrap();
    openssl_ca(dir.path(), "ca");
    openssl_client(dir.path(), "kube-apiserver", "ca", None);
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    pki.client = (read("kube-apiserver.crt"), read("kube-apiserver.key"));
    let listen = format!("127.0.0.1:{}", free_port());
    let kubeconfig = webhook_kubeconfig(&pki, &format!("https://{listen}/audit"));
    let out = pki.dir.path().join("audit.log");
    let p = |name: &str| common::arg(&pki.dir.path().join(name));
    let (cert, key, ca, out_arg) = (
        p("server.crt"),
        p("server.key"),
        common::arg(&dir.path().join("ca.crt")),
        common::arg(&out),
    );
    let server = Server::start_at(
        &listen,
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--client-ca",
            &ca,
            "--out",
            &out_arg,
        ],
        Stdio::null(),
    );
    let sender = Command::new(driver())
        .args(["-kubeconfig", &common::arg(&kubeconfig), "-mode", "batch"])
        .args(["-generate", "300", "-batch-max-wait", "200ms"])
        .output()
        .unwrap();
    assert!(
        sender.status.success(),
        "{}",
        String::from_utf8_lossy(&sender.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&sender.stdout).trim(), "sent 300");
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr.matches(V1_WARNING).count(), 1, "{stderr}");
    assert!(!stderr.contains("request refused"), "{stderr}");
    let keys = keys_of(&read_text(&out));
    assert_eq!(keys.len(), 300, "{stderr}");
    assert!(keys.values().all(|&n| n == 1));
}
