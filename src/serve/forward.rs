//! `--forward URL`: the matching events of each written batch are sent on as one
//! `EventList` POST to another webhook (Falco, another auditq…), from a bounded queue of
//! its own, with retries (5 attempts, 1 s backoff growing by half each time, like the
//! apiserver's). When the queue is full, or the attempts are spent, the batch is dropped
//! and counted (`auditq_serve_forward_dropped_total`), never blocking the receiver: the
//! events are already in the output.
//!
//! `http://` and `https://` targets share one client (hyper-util's pooled client with
//! hyper-rustls): connections are kept alive and reused. `https://` targets are verified
//! against `--forward-ca`, else the webpki roots; `--forward-cert`/`--forward-key` give a
//! client certificate to targets that require one.

use super::ServeError;
use super::metrics::Metrics;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Uri};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Batches waiting to be forwarded, per target.
pub const QUEUE: usize = 64;
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(30);
/// An idle kept-alive connection to a target is closed after this long.
const IDLE: Duration = Duration::from_secs(90);

/// One target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub uri: Uri,
}

impl Target {
    pub fn parse(text: &str) -> Result<Target, crate::invalid::Invalid> {
        let uri: Uri = text
            .parse()
            .map_err(|e| format!("`{text}` is not a URL: {e}"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(format!("`{text}`: give an http:// or https:// URL").into());
        }
        Ok(Target { uri })
    }

    pub fn is_https(&self) -> bool {
        self.uri.scheme_str() == Some("https")
    }
}

/// TLS towards `https://` targets: `--forward-ca` (else the webpki roots, Mozilla's
/// list), and `--forward-cert`/`--forward-key`, a client certificate for targets that
/// require one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardTls {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// The client configuration for `https://` targets (ring, TLS 1.2 and 1.3, HTTP/1.1 by
/// ALPN); an error names the file that does not load.
pub fn client_config(tls: &ForwardTls) -> Result<ClientConfig, ServeError> {
    let roots = match &tls.ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in super::tls::read_certs(ca)? {
                roots
                    .add(cert)
                    .map_err(|e| ServeError::Forward(format!("{}: {e}", ca.display())))?;
            }
            roots
        }
        None => RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
    };
    let builder = ClientConfig::builder_with_provider(super::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Forward(e.to_string()))?
        .with_root_certificates(roots);
    match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let chain = super::tls::read_certs(cert)?;
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| ServeError::Forward(format!("{}: {e}", key.display())))?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                ServeError::Forward(format!("{} and {}: {e}", cert.display(), key.display()))
            })
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// One pooled client for every target: connections are kept alive and reused.
type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

fn http_client(tls: ClientConfig) -> HttpClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(IDLE)
        .pool_max_idle_per_host(4)
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .build(connector)
}

/// The sending half the writer holds: one queue per target.
pub struct Forwarder {
    queues: Vec<mpsc::Sender<(Bytes, u64)>>,
    metrics: Arc<Metrics>,
}

impl Forwarder {
    /// Starts one sender task per target on `runtime`, sharing one connection pool.
    pub fn start(
        targets: &[Target],
        tls: ClientConfig,
        runtime: &tokio::runtime::Runtime,
        metrics: Arc<Metrics>,
    ) -> (Forwarder, Vec<tokio::task::JoinHandle<()>>) {
        let mut tasks = Vec::new();
        let client = {
            // The pool's timer and the connector's resolver run on the runtime.
            let _entered = runtime.enter();
            http_client(tls)
        };
        let queues = targets
            .iter()
            .map(|target| {
                let (tx, rx) = mpsc::channel(QUEUE);
                tasks.push(runtime.spawn(send_loop(
                    target.clone(),
                    client.clone(),
                    rx,
                    Arc::clone(&metrics),
                )));
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
                self.metrics.forward_dropped.inc_by(events);
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
    client: HttpClient,
    mut batches: mpsc::Receiver<(Bytes, u64)>,
    metrics: Arc<Metrics>,
) {
    while let Some((body, events)) = batches.recv().await {
        let mut backoff = FIRST_BACKOFF;
        let mut sent = false;
        for attempt in 1..=ATTEMPTS {
            match tokio::time::timeout(TIMEOUT, post(&client, &target.uri, body.clone())).await {
                Ok(Ok(status)) if status.is_success() => {
                    sent = true;
                    break;
                }
                outcome => {
                    let why = match outcome {
                        Ok(Ok(status)) => status.to_string(),
                        Ok(Err(e)) => e.to_string(),
                        Err(_) => "timed out".to_string(),
                    };
                    if attempt == 1 || attempt == ATTEMPTS {
                        tracing::warn!(
                            target = %target.uri,
                            attempt,
                            error = %why,
                            "forwarding failed"
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
            metrics.events_forwarded.inc_by(events);
        } else {
            metrics.forward_dropped.inc_by(events);
        }
    }
}

/// One POST (over a kept-alive connection when the pool has one); the answer's status.
async fn post(client: &HttpClient, uri: &Uri, body: Bytes) -> Result<StatusCode, ServeError> {
    use http_body_util::BodyExt;
    let request = Request::post(uri.clone())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|e| ServeError::Forward(e.to_string()))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| ServeError::Forward(chain(&e)))?;
    let status = response.status();
    // Read the answer to its end, so that the connection can be used again.
    let _ = response.into_body().collect().await;
    Ok(status)
}

/// An error and its causes, `outer: inner: …` (the client's own error says only
/// "client error (Connect)"; the cause says which certificate was refused).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
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
    fn http_and_https_targets() {
        assert!(Target::parse("http://127.0.0.1:9765/k8s-audit").is_ok());
        assert!(
            Target::parse("https://falco:9765/k8s-audit")
                .unwrap()
                .is_https()
        );
        assert!(Target::parse("ftp://falco/x").is_err());
        assert!(Target::parse("falco").is_err());
    }

    #[test]
    fn client_config_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.crt");
        std::fs::write(&ca, "not a certificate\n").unwrap();
        let tls = ForwardTls {
            ca: Some(ca.clone()),
            ..ForwardTls::default()
        };
        let e = client_config(&tls).unwrap_err();
        assert!(e.to_string().contains(&ca.display().to_string()), "{e}");
        assert!(client_config(&ForwardTls::default()).is_ok());
    }
}
