//! `--forward URL`: the matching events of each written batch are sent on as one
//! `EventList` POST to another webhook (Falco, another auditq…), from a bounded queue of
//! its own, with retries (5 attempts, 1 s backoff growing by half each time, like the
//! apiserver's). When the queue is full, or the attempts are spent, the batch is dropped
//! and counted (`auditq_serve_forward_dropped_total`), never blocking the receiver: the
//! events are already in the output.

use super::metrics::Metrics;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::sync::mpsc;

/// Batches waiting to be forwarded, per target.
pub const QUEUE: usize = 64;
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(30);

/// One target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub uri: Uri,
}

impl Target {
    pub fn parse(text: &str) -> Result<Target, String> {
        let uri: Uri = text
            .parse()
            .map_err(|e| format!("`{text}` is not a URL: {e}"))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(format!(
                "`{text}`: give an http:// URL (forwarding over https is not supported yet)"
            ));
        }
        Ok(Target { uri })
    }
}

/// The sending half the writer holds: one queue per target.
pub struct Forwarder {
    queues: Vec<mpsc::Sender<(Bytes, u64)>>,
    metrics: Arc<Metrics>,
}

impl Forwarder {
    /// Starts one sender task per target on `runtime`.
    pub fn start(
        targets: &[Target],
        runtime: &tokio::runtime::Runtime,
        metrics: Arc<Metrics>,
    ) -> (Forwarder, Vec<tokio::task::JoinHandle<()>>) {
        let mut tasks = Vec::new();
        let queues = targets
            .iter()
            .map(|target| {
                let (tx, rx) = mpsc::channel(QUEUE);
                tasks.push(runtime.spawn(send_loop(target.clone(), rx, Arc::clone(&metrics))));
                tx
            })
            .collect();
        (Forwarder { queues, metrics }, tasks)
    }

    /// Queues the matched events (JSON lines) of one batch as an EventList; drops it when
    /// a queue is full.
    pub fn forward(&self, lines: &[u8], events: u64) {
        if events == 0 || self.queues.is_empty() {
            return;
        }
        let body = Bytes::from(event_list(lines));
        for queue in &self.queues {
            if queue.try_send((body.clone(), events)).is_err() {
                self.metrics.forward_dropped.fetch_add(events, Relaxed);
            }
        }
    }
}

/// `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[…]}` from
/// JSON lines.
pub fn event_list(lines: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines.len() + 100);
    out.extend_from_slice(
        br#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":["#,
    );
    let mut first = true;
    for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b"]}\n");
    out
}

async fn send_loop(
    target: Target,
    mut batches: mpsc::Receiver<(Bytes, u64)>,
    metrics: Arc<Metrics>,
) {
    while let Some((body, events)) = batches.recv().await {
        let mut backoff = FIRST_BACKOFF;
        let mut sent = false;
        for attempt in 1..=ATTEMPTS {
            match tokio::time::timeout(TIMEOUT, post(&target.uri, body.clone())).await {
                Ok(Ok(status)) if status.is_success() => {
                    sent = true;
                    break;
                }
                outcome => {
                    let why = match outcome {
                        Ok(Ok(status)) => status.to_string(),
                        Ok(Err(e)) => e,
                        Err(_) => "timed out".to_string(),
                    };
                    if attempt == 1 || attempt == ATTEMPTS {
                        super::log(
                            "warn",
                            "forwarding failed",
                            &[
                                ("target", &target.uri.to_string()),
                                ("attempt", &attempt.to_string()),
                                ("error", &why),
                            ],
                        );
                    }
                }
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(backoff).await;
                backoff = backoff.mul_f64(1.5);
            }
        }
        if sent {
            metrics.events_forwarded.fetch_add(events, Relaxed);
        } else {
            metrics.forward_dropped.fetch_add(events, Relaxed);
        }
    }
}

/// One POST over a new HTTP/1.1 connection; the answer's status.
async fn post(uri: &Uri, body: Bytes) -> Result<StatusCode, String> {
    let host = uri.host().unwrap_or("localhost");
    let port = uri.port_u16().unwrap_or(80);
    let tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let authority = uri.authority().map_or(host.to_string(), |a| a.to_string());
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = Request::post(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let _ = response.into_body().collect().await;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_one_event_list() {
        let body = event_list(b"{\"a\":1}\n{\"b\":2}\n");
        assert_eq!(
            body,
            b"{\"kind\":\"EventList\",\"apiVersion\":\"audit.k8s.io/v1\",\"metadata\":{},\"items\":[{\"a\":1},{\"b\":2}]}\n"
        );
        let list: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(list["items"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn only_http_targets() {
        assert!(Target::parse("http://127.0.0.1:9765/k8s-audit").is_ok());
        assert!(Target::parse("https://falco:9765/k8s-audit").is_err());
        assert!(Target::parse("falco").is_err());
    }
}
