//! `auditq serve`: receives the batches kube-apiserver's audit webhook POSTs (EventLists
//! of `audit.k8s.io/v1` or `v1beta1`, or single Events; gzip bodies too), filters them
//! with the query and writes the matches, answering 200 only once they are written.
//!
//! Two halves: the HTTP server (tokio, hyper; HTTP/1.1 and HTTP/2; rustls) reads and
//! checks requests on the runtime's threads; the caller's thread runs [`writer::run`],
//! the synchronous engine (the same block processor and sink as search and follow).
//! Between them a queue of at most `--queue` batches: a request that finds it full is
//! answered 429 with `Retry-After` at once, so memory stays bounded (see docs/webhook.md).

pub mod client_cert;
pub mod forward;
pub mod logging;
pub mod metrics;
pub mod output;
pub mod rotate;
pub mod tls;
pub mod writer;

use crate::sink::Sink;
use bytes_body::{Body, full};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use metrics::{Metrics, Reason};
use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, oneshot};
use writer::{Job, Message, Outcome, Plans};

/// How long a client may take to send its body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// A batch that waited this long in the queue is answered 503 without being written: the
/// apiserver stops waiting for an answer after 30 s and sends the batch again.
pub const MAX_QUEUE_WAIT: Duration = Duration::from_secs(25);
/// How long SIGTERM waits for in-flight requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// A refused source is logged at most this often.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// What `auditq serve` was asked to do (built by `cli`).
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Paths batches are POSTed to (`?timeout=…` and any query string are ignored).
    pub paths: Vec<String>,
    pub out: Option<PathBuf>,
    pub rotation: rotate::Rotation,
    pub fsync: bool,
    pub tls: Option<tls::TlsFiles>,
    pub token_file: Option<PathBuf>,
    /// Largest body accepted (after gzip decoding).
    pub max_body: usize,
    /// Batches held at once (received, queued or being written).
    pub queue: usize,
    /// Seconds in `Retry-After`.
    pub retry_after: u64,
    /// `--forward`: where matching events are sent on.
    pub forward: Vec<forward::Target>,
    /// `--forward-ca`, `--forward-cert`, `--forward-key`: TLS to `https://` targets.
    pub forward_tls: forward::ForwardTls,
    /// Connections open at once; more are closed at accept.
    pub max_connections: usize,
    /// `--log-format`: how the log lines on stderr are written.
    pub log_format: logging::LogFormat,
}

/// Why `auditq serve` cannot run: each message names the file, address or URL.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A certificate, key or CA file that cannot be used.
    #[error("{0}")]
    Tls(String),
    /// A `--forward` target's TLS set-up, or a forward that failed.
    #[error("{0}")]
    Forward(String),
    /// The `--token-file` cannot be used.
    #[error("{0}")]
    Tokens(String),
    /// The server could not start: listening, the runtime, signal handlers.
    #[error("{0}")]
    Start(String),
}

/// Why [`run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// SIGTERM or SIGINT: every answered batch is written.
    Signal,
    /// The output's reader went away (EPIPE): batches not written were answered 503.
    OutputClosed,
}

/// Reads `--token-file`: one token a line, or the first field of each line of a
/// kube-apiserver `--token-auth-file` (`token,user,uid,"groups"`); `#` comments.
pub fn read_tokens(path: &std::path::Path) -> Result<Vec<Vec<u8>>, ServeError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ServeError::Tokens(format!("{}: {e}", path.display())))?;
    let tokens: Vec<Vec<u8>> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split(',').next().unwrap_or("").trim().as_bytes().to_vec())
        .filter(|t| !t.is_empty())
        .collect();
    if tokens.is_empty() {
        return Err(ServeError::Tokens(format!(
            "{}: no token in it",
            path.display()
        )));
    }
    Ok(tokens)
}

/// Whether `given` is one of `tokens`, in time that does not depend on where they differ.
fn token_ok(tokens: &[Vec<u8>], given: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    let mut ok = subtle::Choice::from(0);
    for token in tokens {
        ok |= token.as_slice().ct_eq(given);
    }
    ok.into()
}

struct State {
    paths: Vec<String>,
    tokens: Option<Vec<Vec<u8>>>,
    max_body: usize,
    retry_after: u64,
    permits: Arc<Semaphore>,
    jobs: mpsc::Sender<Message>,
    metrics: Arc<Metrics>,
    stopping: AtomicBool,
    output: Arc<output::OutputClosed>,
    /// `--client-ca`, named when a client certificate is refused.
    client_ca: Option<PathBuf>,
    /// Per source: when it was last logged, and refusals since.
    refused: Mutex<HashMap<IpAddr, (Instant, u64)>>,
}

impl State {
    /// Counts a refusal, and logs it unless this source was logged less than a minute ago.
    fn refuse(&self, peer: IpAddr, reason: Reason, detail: &str) {
        self.metrics.reject(reason);
        let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        if refused.len() > 10_000 {
            refused.retain(|_, (at, _)| at.elapsed() < LOG_EVERY);
        }
        let now = Instant::now();
        let entry = refused.entry(peer).or_insert((now - LOG_EVERY * 2, 0));
        entry.1 += 1;
        if now.duration_since(entry.0) >= LOG_EVERY {
            let count = entry.1;
            entry.0 = now;
            entry.1 = 0;
            drop(refused);
            tracing::warn!(
                source = %peer,
                reason = reason.label(),
                detail,
                refused_since_last_log = count,
                "request refused"
            );
        }
    }
}

mod bytes_body {
    use http_body_util::Full;
    use hyper::body::Bytes;

    pub type Body = Full<Bytes>;

    pub fn full(text: impl Into<Bytes>) -> Body {
        Full::new(text.into())
    }
}

fn answer(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(full(format!("{text}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn retry(status: StatusCode, text: &str, seconds: u64) -> Response<Body> {
    let mut response = answer(status, text);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

async fn handle(
    state: Arc<State>,
    peer: IpAddr,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if request.version() == hyper::Version::HTTP_2 {
        state.metrics.requests_http2.inc();
    } else {
        state.metrics.requests_http1.inc();
    }
    let path = request.uri().path();
    let method = request.method().clone();
    if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        if method != Method::GET && method != Method::HEAD {
            state.refuse(peer, Reason::Method, path);
            let mut r = answer(StatusCode::METHOD_NOT_ALLOWED, "use GET");
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return Ok(r);
        }
        return Ok(match path {
            "/healthz" => answer(StatusCode::OK, "ok"),
            "/readyz" if state.stopping.load(Relaxed) => {
                answer(StatusCode::SERVICE_UNAVAILABLE, "shutting down")
            }
            "/readyz" if state.permits.available_permits() == 0 => {
                answer(StatusCode::SERVICE_UNAVAILABLE, "queue full")
            }
            "/readyz" => answer(StatusCode::OK, "ready"),
            _ => {
                let mut r = Response::new(full(state.metrics.render()));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(metrics::CONTENT_TYPE),
                );
                r
            }
        });
    }
    if !state.paths.iter().any(|p| p == path) {
        state.refuse(peer, Reason::NotFound, path);
        return Ok(answer(
            StatusCode::NOT_FOUND,
            &format!("no such path: POST batches to {}", state.paths.join(" or ")),
        ));
    }
    if method != Method::POST {
        state.refuse(peer, Reason::Method, method.as_str());
        let mut r = answer(StatusCode::METHOD_NOT_ALLOWED, "use POST");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return Ok(r);
    }
    if let Some(tokens) = &state.tokens {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
            .unwrap_or(b"");
        if !token_ok(tokens, given) {
            state.refuse(peer, Reason::Unauthorized, "missing or wrong bearer token");
            let mut r = answer(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return Ok(r);
        }
    }
    let gzip = match request
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("identity") | Some("") => false,
        Some("gzip") | Some("x-gzip") => true,
        Some(other) => {
            state.refuse(peer, Reason::Encoding, other);
            return Ok(answer(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!("unsupported Content-Encoding `{other}`: send gzip or nothing"),
            ));
        }
    };
    let too_large = || {
        answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "body over --max-body ({} bytes); lower --audit-webhook-batch-max-size or raise --max-body",
                state.max_body
            ),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body as u64) {
        state.refuse(peer, Reason::TooLarge, "Content-Length");
        return Ok(too_large());
    }
    if state.stopping.load(Relaxed) {
        state.refuse(peer, Reason::ShuttingDown, "");
        return Ok(retry(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down",
            state.retry_after,
        ));
    }
    // A place in the queue before the body is read: memory is bounded by
    // --queue × --max-body.
    let Ok(permit) = Arc::clone(&state.permits).try_acquire_owned() else {
        state.refuse(peer, Reason::Busy, "queue full");
        return Ok(retry(
            StatusCode::TOO_MANY_REQUESTS,
            "queue full: retry later",
            state.retry_after,
        ));
    };
    let limited = http_body_util::Limited::new(request.into_body(), state.max_body);
    let body = match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
        Err(_) => {
            state.refuse(peer, Reason::Timeout, "");
            return Ok(answer(
                StatusCode::REQUEST_TIMEOUT,
                "body not received in time",
            ));
        }
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            state.refuse(peer, Reason::TooLarge, "body");
            return Ok(too_large());
        }
        Ok(Err(e)) => {
            state.refuse(peer, Reason::Malformed, &e.to_string());
            return Ok(answer(
                StatusCode::BAD_REQUEST,
                &format!("cannot read the body: {e}"),
            ));
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let body = if gzip {
        match gunzip(&body, state.max_body) {
            Ok(Some(plain)) => plain,
            Ok(None) => {
                state.refuse(peer, Reason::TooLarge, "gzip body");
                return Ok(too_large());
            }
            Err(e) => {
                state.refuse(peer, Reason::Malformed, "gzip");
                return Ok(answer(
                    StatusCode::BAD_REQUEST,
                    &format!("malformed gzip body: {e}"),
                ));
            }
        }
    } else {
        body.to_vec()
    };
    let (reply, answered) = oneshot::channel();
    state.metrics.queue_depth.inc();
    let job = Job {
        body,
        received: Instant::now(),
        reply,
    };
    if state.jobs.send(Message::Job(job)).is_err() {
        state.metrics.queue_depth.dec();
        state.refuse(peer, Reason::ShuttingDown, "");
        return Ok(retry(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down",
            state.retry_after,
        ));
    }
    let outcome = answered.await;
    drop(permit);
    Ok(match outcome {
        Ok(Outcome::Written { events, matched }) => answer(
            StatusCode::OK,
            &format!("{{\"events\":{events},\"matched\":{matched}}}"),
        ),
        Ok(Outcome::Malformed(reason)) => {
            state.refuse(peer, Reason::Malformed, &reason);
            answer(StatusCode::BAD_REQUEST, &reason)
        }
        Ok(Outcome::OutputFailed(_)) if state.output.is_closed() => {
            // Logged once when it closed; the apiserver keeps the batch and sends it again.
            state.refuse(peer, Reason::OutputFailed, "the output is closed");
            retry(
                StatusCode::SERVICE_UNAVAILABLE,
                "the output is closed: auditq is stopping",
                state.retry_after,
            )
        }
        Ok(Outcome::OutputFailed(e)) => {
            state.refuse(peer, Reason::OutputFailed, &e);
            tracing::error!(error = %e, "cannot write output");
            retry(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("cannot write the output: {e}"),
                state.retry_after,
            )
        }
        Ok(Outcome::Expired) => {
            state.refuse(peer, Reason::Expired, "waited too long in the queue");
            retry(
                StatusCode::SERVICE_UNAVAILABLE,
                "output too slow: retry later",
                state.retry_after,
            )
        }
        Err(_) => retry(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down",
            state.retry_after,
        ),
    })
}

/// A connection's place under `--max-connections`, given back (and the gauge lowered)
/// when its task ends, however it ends.
struct Open {
    _permit: tokio::sync::OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.metrics.connections_open.dec();
    }
}

/// Decodes a gzip body; `None` when it is longer than `limit` decoded.
fn gunzip(body: &[u8], limit: usize) -> io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)?;
    Ok((out.len() <= limit).then_some(out))
}

/// Runs the server until SIGTERM or SIGINT, or until the output closes; the writer runs
/// on this thread with `sink`. Returns an error if the server cannot start (bind, TLS
/// files, token file, `--forward` TLS files).
pub fn run(settings: &Settings, plans: &Plans, sink: &mut dyn Sink) -> Result<Ending, ServeError> {
    logging::init(settings.log_format);
    let client_ca = settings.tls.as_ref().and_then(|t| t.client_ca.clone());
    let tls = match &settings.tls {
        Some(files) => Some(tokio_rustls::TlsAcceptor::from(tls::server_config(files)?)),
        None => None,
    };
    let forward_tls = forward::client_config(&settings.forward_tls)?;
    let tokens = match &settings.token_file {
        Some(path) => Some(read_tokens(path)?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("auditq-serve")
        .build()
        .map_err(|e| ServeError::Start(format!("cannot start the server: {e}")))?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(settings.listen))
        .map_err(|e| ServeError::Start(format!("cannot listen on {}: {e}", settings.listen)))?;
    let local = listener
        .local_addr()
        .map_err(|e| ServeError::Start(format!("cannot listen on {}: {e}", settings.listen)))?;
    raise_file_limit(settings.max_connections);
    let metrics = Arc::new(Metrics::default());
    metrics.queue_capacity.set(settings.queue as i64);
    let closed = Arc::new(output::OutputClosed::default());
    let connections = Arc::new(Semaphore::new(settings.max_connections));
    let (jobs, received) = mpsc::channel();
    let state = Arc::new(State {
        paths: settings.paths.clone(),
        tokens,
        max_body: settings.max_body,
        retry_after: settings.retry_after,
        permits: Arc::new(Semaphore::new(settings.queue)),
        jobs: jobs.clone(),
        metrics: Arc::clone(&metrics),
        stopping: AtomicBool::new(false),
        output: Arc::clone(&closed),
        client_ca: client_ca.clone(),
        refused: Mutex::new(HashMap::new()),
    });
    // Signals are caught before "listening" is said: a SIGTERM right after it is handled.
    let (mut sigterm, mut sigint) = runtime
        .block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            Ok::<_, io::Error>((
                signal(SignalKind::terminate())?,
                signal(SignalKind::interrupt())?,
            ))
        })
        .map_err(|e| ServeError::Start(format!("cannot install signal handlers: {e}")))?;
    tracing::info!(
        addr = %local,
        tls = if tls.is_some() { "on" } else { "off" },
        client_certs = if client_ca.is_some() { "required" } else { "no" },
        paths = %settings.paths.join(","),
        "listening"
    );
    let server_state = Arc::clone(&state);
    let server = runtime.spawn(async move {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, do not spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = sigterm.recv() => break,
                _ = sigint.recv() => break,
                _ = server_state.output.closed() => break,
            };
            // Over --max-connections: closed at once (dropped), before any TLS work.
            let Ok(connection) = Arc::clone(&connections).try_acquire_owned() else {
                drop(tcp);
                server_state.refuse(
                    peer.ip(),
                    Reason::Connections,
                    "--max-connections reached: connection closed",
                );
                continue;
            };
            server_state.metrics.connections.inc();
            server_state.metrics.connections_open.inc();
            let _ = tcp.set_nodelay(true);
            let state = Arc::clone(&server_state);
            let tls = tls.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let _open = Open {
                    _permit: connection,
                    metrics: Arc::clone(&state.metrics),
                };
                let ip = peer.ip();
                let service_state = Arc::clone(&state);
                let service = hyper::service::service_fn(move |request| {
                    handle(Arc::clone(&service_state), ip, request)
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                match tls {
                    Some(acceptor) => {
                        let handshake =
                            tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp));
                        let stream = match handshake.await {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(e)) if client_cert::closed_by_client(&e) => {
                                // A TCP probe, a load balancer's health check, a client
                                // that exits with a spare connection half open: nothing
                                // was refused.
                                tracing::debug!(source = %ip, "client closed the connection during the TLS handshake");
                                return;
                            }
                            Ok(Err(e)) => {
                                let why = client_cert::refusal(&e, state.client_ca.as_deref());
                                return state.refuse(ip, Reason::Tls, &why);
                            }
                            Err(_) => {
                                return state.refuse(ip, Reason::Tls, "handshake timed out");
                            }
                        };
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        let _ = watcher.watch(conn.into_owned()).await;
                    }
                    None => {
                        let conn = builder.serve_connection(TokioIo::new(tcp), service);
                        let _ = watcher.watch(conn.into_owned()).await;
                    }
                }
            });
        }
        server_state.stopping.store(true, Relaxed);
        if !server_state.output.is_closed() {
            tracing::info!("stopping: finishing batches in flight");
        }
        drop(listener);
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
        let _ = server_state.jobs.send(Message::Stop);
    });
    drop(jobs);
    let (forwarder, forwarding) = forward::Forwarder::start(
        &settings.forward,
        forward_tls,
        &runtime,
        Arc::clone(&metrics),
    );
    let mut guarded = output::Guarded {
        inner: sink,
        state: &closed,
    };
    writer::run(
        &received,
        plans,
        &mut guarded,
        &metrics,
        MAX_QUEUE_WAIT,
        &forwarder,
    );
    // What is queued for --forward gets its chance (its retries are bounded).
    drop(forwarder);
    runtime.block_on(async {
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
            for task in forwarding {
                let _ = task.await;
            }
        })
        .await;
    });
    // Late requests still waiting get 503 (their reply channels close).
    drop(received);
    let _ = runtime.block_on(server);
    runtime.shutdown_timeout(Duration::from_secs(1));
    tracing::info!(
        batches = metrics.batches.get(),
        events_written = metrics.events_written.get(),
        http2_requests = metrics.requests_http2.get(),
        "stopped"
    );
    Ok(if closed.is_closed() {
        Ending::OutputClosed
    } else {
        Ending::Signal
    })
}

/// Raises the soft open-file limit towards what `--max-connections` needs (a socket
/// each, plus the listener, the output, backups and the runtime's own), as far as the
/// hard limit allows (as Go programs do at start); warns if that is not enough.
fn raise_file_limit(max_connections: usize) {
    use rlimit::Resource;
    let Ok((soft, hard)) = Resource::NOFILE.get() else {
        return;
    };
    let needed = (max_connections as u64).saturating_add(64);
    let now = match raised_soft_limit(soft, hard, needed) {
        Some(raised) if Resource::NOFILE.set(raised, hard).is_ok() => raised,
        _ => soft,
    };
    if now != rlimit::INFINITY && now < needed {
        tracing::warn!(
            nofile = now,
            max_connections,
            "the open-file limit is below --max-connections + 64: accepting may fail before the cap is reached (raise ulimit -n or lower --max-connections)"
        );
    }
}

/// The soft limit to set for `needed` open files under `soft` and `hard`, if it should
/// be raised at all.
fn raised_soft_limit(soft: u64, hard: u64, needed: u64) -> Option<u64> {
    if soft == rlimit::INFINITY || soft >= needed {
        return None;
    }
    let raised = if hard == rlimit::INFINITY {
        needed
    } else {
        needed.min(hard)
    };
    (raised > soft).then_some(raised)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_file_limit_is_raised_up_to_the_hard_limit() {
        const INF: u64 = rlimit::INFINITY;
        assert_eq!(raised_soft_limit(1024, 4096, 1088), Some(1088));
        assert_eq!(raised_soft_limit(1024, 1050, 1088), Some(1050));
        assert_eq!(raised_soft_limit(1024, INF, 5000), Some(5000));
        assert_eq!(raised_soft_limit(2048, 4096, 1088), None);
        assert_eq!(raised_soft_limit(1024, 1024, 1088), None);
        assert_eq!(raised_soft_limit(INF, INF, 1088), None);
    }

    #[test]
    fn the_open_file_limit_of_this_process_covers_what_it_asked_for() {
        // The real call: afterwards the soft limit is what was needed, or the hard limit.
        raise_file_limit(100);
        let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
        assert!(soft >= 164 || soft == hard, "{soft} {hard}");
    }
}
