//! Following standard input until EOF (e.g. `kubectl logs -f … | auditq -f`).

use std::io::{self, Read};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::reader::LineReader;
use super::{Out, Stopped};

/// Streams stdin line by line; the unterminated last line is flushed at EOF.
/// `poll(2)` with a timeout lets a SIGINT/SIGTERM (which only sets `stop`,
/// reads being restarted by `SA_RESTART`) end the loop promptly.
pub fn follow(
    out: &mut Out<'_>,
    max_line: usize,
    interval: Duration,
    stop: &Arc<AtomicBool>,
) -> io::Result<Stopped> {
    // A dup of fd 0 read directly: `Stdin`'s internal buffer could hold data
    // that `poll(2)` does not see.
    let fd = io::stdin().as_fd().try_clone_to_owned()?;
    let mut raw = std::fs::File::from(fd);
    let mut reader = LineReader::new(0, max_line);
    let mut chunk = OneRead {
        inner: &mut raw,
        done: false,
    };
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(Stopped::Signal);
        }
        if !readable(interval) {
            continue;
        }
        chunk.done = false;
        let p = match reader.read_some(&mut chunk, out, u64::MAX, "stdin") {
            Ok(p) => p,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(Stopped::BrokenPipe),
            Err(e) => return Err(e),
        };
        if p.eof && !chunk.done {
            reader.flush_partial(out, "stdin")?;
            out.flush()?;
            return Ok(Stopped::Eof);
        }
        out.flush()?;
    }
}

/// Adapter that lets exactly one `read` through per `read_some` call, so a
/// blocking pipe is never read twice without a `poll` (which would block
/// past a stop request) and output is flushed after every chunk.
struct OneRead<'a, R: Read> {
    inner: &'a mut R,
    done: bool,
}

impl<R: Read> Read for OneRead<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        self.done = true;
        let n = self.inner.read(buf)?;
        if n == 0 {
            // Real EOF: tell the caller by leaving `done` false.
            self.done = false;
        }
        Ok(n)
    }
}

/// True when fd 0 has data or EOF pending; false on timeout or EINTR (the
/// caller then re-checks the stop flag).
fn readable(timeout: Duration) -> bool {
    let mut fds = libc::pollfd {
        fd: 0,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd, count 1.
    let rc = unsafe { libc::poll(&mut fds, 1, ms) };
    rc > 0
}
