//! The output closing under `auditq serve`: when the reader of stdout goes away
//! (`auditq serve | head -1`: EPIPE, `BrokenPipe`), nothing can be written again. The
//! sink is wrapped so that the first broken pipe is logged once, later batches fail at
//! once without writing, and the server is told to stop accepting; `auditq serve` then
//! exits 2. Other output errors (disk full on `--out`) only fail their batch (503) and
//! the next one is tried.

use crate::sink::{Match, Matched, Sink, Totals};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use tokio::sync::Notify;

/// Shared between the writer thread (which sees the error) and the server (which stops).
#[derive(Debug, Default)]
pub struct OutputClosed {
    closed: AtomicBool,
    notify: Notify,
}

impl OutputClosed {
    pub fn is_closed(&self) -> bool {
        self.closed.load(Relaxed)
    }

    /// Marks the output closed (logs once) and wakes the accept loop.
    pub fn close(&self, error: &io::Error) {
        if !self.closed.swap(true, Relaxed) {
            tracing::error!(
                error = %error,
                "output closed: stopping (batches not written are answered 503)"
            );
            self.notify.notify_one();
        }
    }

    /// Returns once the output is closed.
    pub async fn closed(&self) {
        // `notify_one` keeps a permit: a close before this wait is not missed.
        if !self.is_closed() {
            self.notify.notified().await;
        }
    }
}

/// A sink that notices its output closing.
pub struct Guarded<'a> {
    pub inner: &'a mut dyn Sink,
    pub state: &'a OutputClosed,
}

impl Guarded<'_> {
    fn check(&self, result: io::Result<()>) -> io::Result<()> {
        match &result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => self.state.close(e),
            _ => {}
        }
        result
    }

    fn refuse(&self) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the output is closed (its reader went away)",
        ))
    }
}

impl Sink for Guarded<'_> {
    fn begin(&mut self) -> io::Result<()> {
        let result = self.inner.begin();
        self.check(result)
    }

    fn event(&mut self, event: &Matched<'_>) -> io::Result<()> {
        if self.state.is_closed() {
            return self.refuse();
        }
        let result = self.inner.event(event);
        self.check(result)
    }

    fn events(&mut self, out: &[u8], matches: &[Match]) -> io::Result<()> {
        if self.state.is_closed() {
            return self.refuse();
        }
        let result = self.inner.events(out, matches);
        self.check(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.state.is_closed() {
            return self.refuse();
        }
        let result = self.inner.flush();
        self.check(result)
    }

    fn finish(&mut self, totals: &Totals) -> io::Result<()> {
        if self.state.is_closed() {
            return Ok(());
        }
        let result = self.inner.finish(totals);
        self.check(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Broken(io::ErrorKind);

    impl Sink for Broken {
        fn event(&mut self, _: &Matched<'_>) -> io::Result<()> {
            Ok(())
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(self.0))
        }
        fn finish(&mut self, _: &Totals) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn only_a_broken_pipe_closes_the_output() {
        let state = OutputClosed::default();
        let mut full = Broken(io::ErrorKind::StorageFull);
        let mut sink = Guarded {
            inner: &mut full,
            state: &state,
        };
        assert!(sink.flush().is_err());
        assert!(!state.is_closed(), "disk full: the next batch is tried");
        let mut pipe = Broken(io::ErrorKind::BrokenPipe);
        let mut sink = Guarded {
            inner: &mut pipe,
            state: &state,
        };
        assert!(sink.flush().is_err());
        assert!(state.is_closed());
        assert_eq!(
            sink.events(b"", &[]).unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
        assert!(sink.finish(&Totals::default()).is_ok());
    }
}
