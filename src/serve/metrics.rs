//! What `/metrics` shows: counters, gauges and a histogram of the time to write a batch,
//! kept and written by the `prometheus-client` crate in the Prometheus text format
//! (version 0.0.4, [`CONTENT_TYPE`]).

use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Duration;

/// The `Content-Type` of what [`Metrics::render`] writes.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Why a request was refused (a label of `auditq_serve_rejected_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    NotFound,
    Method,
    Unauthorized,
    TooLarge,
    Malformed,
    Encoding,
    Busy,
    OutputFailed,
    Expired,
    Timeout,
    Tls,
    ShuttingDown,
    /// `--max-connections` open already: the connection was closed at accept.
    Connections,
}

impl Reason {
    pub const ALL: [Reason; 13] = [
        Reason::NotFound,
        Reason::Method,
        Reason::Unauthorized,
        Reason::TooLarge,
        Reason::Malformed,
        Reason::Encoding,
        Reason::Busy,
        Reason::OutputFailed,
        Reason::Expired,
        Reason::Timeout,
        Reason::Tls,
        Reason::ShuttingDown,
        Reason::Connections,
    ];

    fn index(self) -> usize {
        self as usize
    }

    pub fn label(self) -> &'static str {
        match self {
            Reason::NotFound => "not_found",
            Reason::Method => "method",
            Reason::Unauthorized => "unauthorized",
            Reason::TooLarge => "too_large",
            Reason::Malformed => "malformed",
            Reason::Encoding => "encoding",
            Reason::Busy => "busy",
            Reason::OutputFailed => "output_failed",
            Reason::Expired => "expired",
            Reason::Timeout => "body_timeout",
            Reason::Tls => "tls_handshake",
            Reason::ShuttingDown => "shutting_down",
            Reason::Connections => "too_many_connections",
        }
    }
}

/// Upper bounds (seconds) of the write-latency histogram.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A counter for each of a fixed set of label values, written in that order (a
/// `Family` creates its series on first use and writes them in hash order; these are
/// all known at start and shown from 0).
#[derive(Debug, Clone)]
struct Labeled {
    label: &'static str,
    series: Vec<(&'static str, Counter)>,
}

impl EncodeMetric for Labeled {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (value, counter) in &self.series {
            let labels = [(self.label, *value)];
            counter.encode(encoder.encode_family(&labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// Every metric of `auditq serve`. The handles are shared with the registry that
/// writes them: counting is an atomic add.
#[derive(Debug)]
pub struct Metrics {
    pub batches: Counter,
    pub events_received: Counter,
    pub events_matched: Counter,
    pub events_written: Counter,
    pub bytes_received: Counter,
    pub bytes_written: Counter,
    /// `--forward`: events delivered to every target (counted per target), and dropped.
    pub events_forwarded: Counter,
    pub forward_dropped: Counter,
    /// Requests by protocol: HTTP/1.x, HTTP/2.
    pub requests_http1: Counter,
    pub requests_http2: Counter,
    pub queue_depth: Gauge,
    pub queue_capacity: Gauge,
    /// Connections accepted (under `--max-connections`), and open now.
    pub connections: Counter,
    pub connections_open: Gauge,
    rejected: [Counter; Reason::ALL.len()],
    write_seconds: Histogram,
    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        // Counters are registered without `_total`: the encoder appends it. Help texts
        // get their final period from the registry.
        let mut counter = |name: &str, help: &str| {
            let counter = Counter::default();
            registry.register(name, help, counter.clone());
            counter
        };
        let batches = counter(
            "auditq_serve_batches",
            "Batches (EventList or Event bodies) written and answered 200",
        );
        let events_received = counter(
            "auditq_serve_events_received",
            "Audit events in accepted batches",
        );
        let events_matched = counter(
            "auditq_serve_events_matched",
            "Events that matched the query",
        );
        let events_written = counter(
            "auditq_serve_events_written",
            "Matching events written to the output",
        );
        let events_forwarded = counter(
            "auditq_serve_events_forwarded",
            "Events delivered to a --forward target (once per target)",
        );
        let forward_dropped = counter(
            "auditq_serve_forward_dropped",
            "Events not delivered to a --forward target (queue full or attempts spent)",
        );
        let bytes_received = counter(
            "auditq_serve_received_bytes",
            "Bytes of accepted request bodies (after gzip decoding)",
        );
        let connections = counter(
            "auditq_serve_connections",
            "Connections accepted (not counting those closed at once over --max-connections)",
        );
        let bytes_written = counter("auditq_serve_written_bytes", "Bytes written to the output");
        let (requests_http1, requests_http2) = (Counter::default(), Counter::default());
        registry.register(
            "auditq_serve_requests",
            "Requests, by HTTP version",
            Labeled {
                label: "proto",
                series: vec![
                    ("http1", requests_http1.clone()),
                    ("http2", requests_http2.clone()),
                ],
            },
        );
        let rejected: [Counter; Reason::ALL.len()] = Default::default();
        registry.register(
            "auditq_serve_rejected",
            "Requests refused, by reason",
            Labeled {
                label: "reason",
                series: Reason::ALL
                    .iter()
                    .zip(&rejected)
                    .map(|(reason, counter)| (reason.label(), counter.clone()))
                    .collect(),
            },
        );
        let mut gauge = |name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let queue_depth = gauge(
            "auditq_serve_queue_depth",
            "Batches received and not yet answered",
        );
        let queue_capacity = gauge(
            "auditq_serve_queue_capacity",
            "Batches held at most (--queue)",
        );
        let connections_open = gauge(
            "auditq_serve_connections_open",
            "Connections open now (--max-connections at most)",
        );
        let write_seconds = Histogram::new(BUCKETS);
        registry.register(
            "auditq_serve_write_seconds",
            "Time to filter and write one batch",
            write_seconds.clone(),
        );
        Metrics {
            batches,
            events_received,
            events_matched,
            events_written,
            bytes_received,
            bytes_written,
            events_forwarded,
            forward_dropped,
            requests_http1,
            requests_http2,
            queue_depth,
            queue_capacity,
            connections,
            connections_open,
            rejected,
            write_seconds,
            registry,
        }
    }

    pub fn reject(&self, reason: Reason) {
        self.rejected[reason.index()].inc();
    }

    #[cfg(test)]
    pub fn rejected(&self, reason: Reason) -> u64 {
        self.rejected[reason.index()].get()
    }

    pub fn observe_write(&self, took: Duration) {
        self.write_seconds.observe(took.as_secs_f64());
    }

    /// The text `/metrics` answers (its type: [`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.reject(Reason::Busy);
        m.reject(Reason::Busy);
        m.observe_write(Duration::from_millis(3));
        let text = m.render();
        assert!(text.contains("auditq_serve_rejected_total{reason=\"busy\"} 2\n"));
        assert!(text.contains("auditq_serve_rejected_total{reason=\"tls_handshake\"} 0\n"));
        assert!(text.contains("auditq_serve_write_seconds_bucket{le=\"0.0025\"} 0\n"));
        assert!(text.contains("auditq_serve_write_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("auditq_serve_write_seconds_bucket{le=\"+Inf\"} 1\n"));
        assert!(
            text.contains("auditq_serve_write_seconds_sum 0.003\n"),
            "{text}"
        );
        assert!(text.contains(
            "# HELP auditq_serve_batches_total Batches (EventList or Event bodies) written and answered 200.\n# TYPE auditq_serve_batches_total counter\n"
        ));
        assert_eq!(m.rejected(Reason::Tls), 0);
        assert_eq!(m.rejected(Reason::Busy), 2);
        for (i, reason) in Reason::ALL.iter().enumerate() {
            assert_eq!(reason.index(), i, "{reason:?}");
        }
    }
}
