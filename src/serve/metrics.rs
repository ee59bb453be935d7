//! What `/metrics` shows, in the Prometheus text format (version 0.0.4): plain atomic
//! counters, a gauge for the queue, and a histogram of the time to write a batch.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

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

#[derive(Default)]
pub struct Metrics {
    pub batches: AtomicU64,
    pub events_received: AtomicU64,
    pub events_matched: AtomicU64,
    pub events_written: AtomicU64,
    pub bytes_received: AtomicU64,
    pub bytes_written: AtomicU64,
    /// `--forward`: events delivered to every target (counted per target), and dropped.
    pub events_forwarded: AtomicU64,
    pub forward_dropped: AtomicU64,
    pub queue_depth: AtomicU64,
    /// Requests by protocol: HTTP/1.x, HTTP/2.
    pub requests_http1: AtomicU64,
    pub requests_http2: AtomicU64,
    pub queue_capacity: AtomicU64,
    /// Connections accepted (under `--max-connections`), and open now.
    pub connections: AtomicU64,
    pub connections_open: AtomicU64,
    rejected: [AtomicU64; Reason::ALL.len()],
    write_buckets: [AtomicU64; 12],
    write_count: AtomicU64,
    write_micros: AtomicU64,
}

impl Metrics {
    pub fn reject(&self, reason: Reason) {
        let i = Reason::ALL.iter().position(|r| *r == reason).unwrap_or(0);
        self.rejected[i].fetch_add(1, Relaxed);
    }

    pub fn rejected(&self, reason: Reason) -> u64 {
        let i = Reason::ALL.iter().position(|r| *r == reason).unwrap_or(0);
        self.rejected[i].load(Relaxed)
    }

    pub fn observe_write(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.write_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
        self.write_count.fetch_add(1, Relaxed);
        self.write_micros
            .fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }

    /// The text `/metrics` answers.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
            );
        };
        counter(
            "auditq_serve_batches_total",
            "Batches (EventList or Event bodies) written and answered 200.",
            self.batches.load(Relaxed),
        );
        counter(
            "auditq_serve_events_received_total",
            "Audit events in accepted batches.",
            self.events_received.load(Relaxed),
        );
        counter(
            "auditq_serve_events_matched_total",
            "Events that matched the query.",
            self.events_matched.load(Relaxed),
        );
        counter(
            "auditq_serve_events_written_total",
            "Matching events written to the output.",
            self.events_written.load(Relaxed),
        );
        counter(
            "auditq_serve_events_forwarded_total",
            "Events delivered to a --forward target (once per target).",
            self.events_forwarded.load(Relaxed),
        );
        counter(
            "auditq_serve_forward_dropped_total",
            "Events not delivered to a --forward target (queue full or attempts spent).",
            self.forward_dropped.load(Relaxed),
        );
        counter(
            "auditq_serve_received_bytes_total",
            "Bytes of accepted request bodies (after gzip decoding).",
            self.bytes_received.load(Relaxed),
        );
        counter(
            "auditq_serve_connections_total",
            "Connections accepted (not counting those closed at once over --max-connections).",
            self.connections.load(Relaxed),
        );
        counter(
            "auditq_serve_written_bytes_total",
            "Bytes written to the output.",
            self.bytes_written.load(Relaxed),
        );
        let _ = write!(
            out,
            "# HELP auditq_serve_requests_total Requests, by HTTP version.\n# TYPE auditq_serve_requests_total counter\nauditq_serve_requests_total{{proto=\"http1\"}} {}\nauditq_serve_requests_total{{proto=\"http2\"}} {}\n",
            self.requests_http1.load(Relaxed),
            self.requests_http2.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP auditq_serve_rejected_total Requests refused, by reason.\n# TYPE auditq_serve_rejected_total counter"
        );
        for (reason, n) in Reason::ALL.iter().zip(&self.rejected) {
            let _ = writeln!(
                out,
                "auditq_serve_rejected_total{{reason=\"{}\"}} {}",
                reason.label(),
                n.load(Relaxed)
            );
        }
        let _ = write!(
            out,
            "# HELP auditq_serve_queue_depth Batches received and not yet answered.\n# TYPE auditq_serve_queue_depth gauge\nauditq_serve_queue_depth {}\n",
            self.queue_depth.load(Relaxed)
        );
        let _ = write!(
            out,
            "# HELP auditq_serve_queue_capacity Batches held at most (--queue).\n# TYPE auditq_serve_queue_capacity gauge\nauditq_serve_queue_capacity {}\n",
            self.queue_capacity.load(Relaxed)
        );
        let _ = write!(
            out,
            "# HELP auditq_serve_connections_open Connections open now (--max-connections at most).\n# TYPE auditq_serve_connections_open gauge\nauditq_serve_connections_open {}\n",
            self.connections_open.load(Relaxed)
        );
        let name = "auditq_serve_write_seconds";
        let _ = write!(
            out,
            "# HELP {name} Time to filter and write one batch.\n# TYPE {name} histogram\n"
        );
        for (bound, n) in BUCKETS.iter().zip(&self.write_buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", n.load(Relaxed));
        }
        let count = self.write_count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.write_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
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
        assert!(text.contains("auditq_serve_write_seconds_bucket{le=\"0.0025\"} 0\n"));
        assert!(text.contains("auditq_serve_write_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("auditq_serve_write_seconds_bucket{le=\"+Inf\"} 1\n"));
        assert_eq!(m.rejected(Reason::Tls), 0);
    }
}
