//! Following standard input until EOF (e.g. `kubectl logs -f … | auditq -f`), through
//! the same block reader and framing as every other input: pretty-printed events and
//! EventLists arriving on a pipe are read whole, gzip is recognised by its magic bytes.

use std::io::{self, Read};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Flow, FollowConfig, Handler, OutputError, Stopped};
use crate::source::{BlockReader, Chunk, ReadMode, decompress_if_gzip};

/// Streams stdin; what is decided is handed on after every read. `poll(2)` with a
/// timeout lets a SIGINT/SIGTERM (which only sets `stop`, reads being restarted by
/// `SA_RESTART`) end the loop promptly.
pub fn follow(
    out: &mut dyn Handler,
    config: &FollowConfig,
    stop: &Arc<AtomicBool>,
) -> Result<Stopped, OutputError> {
    // A dup of fd 0 read directly: `Stdin`'s internal buffer could hold data that
    // `poll(2)` does not see.
    let raw = match io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => std::fs::File::from(fd),
        Err(e) => {
            out.warn(&format!("cannot read standard input: {e}"));
            return Ok(Stopped::Eof);
        }
    };
    let polled = Polled {
        inner: raw,
        timeout: config.poll_interval,
        stop: Arc::clone(stop),
    };
    // The gzip check waits for the first bytes (or a stop).
    let reader = match decompress_if_gzip(Box::new(polled)) {
        Ok(r) => r,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Stopped::Signal),
        Err(e) => {
            out.warn(&format!("standard input: {e}"));
            return Ok(Stopped::Eof);
        }
    };
    let mut blocks = BlockReader::new(
        reader,
        config.block_size,
        config.max_line_bytes,
        ReadMode::Stream,
    );
    let mut buf = Vec::new();
    let label = "(standard input)";
    let mut shown = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            out.stopping(label, blocks.offset(), blocks.pending())?;
            return Ok(Stopped::Signal);
        }
        match blocks.next_chunk(&mut buf) {
            Ok(Some(Chunk::Lines { data, len })) => {
                let offset = blocks.offset() - len as u64;
                if let Some((at, bytes)) = blocks.unterminated_tail() {
                    out.warn(&format!(
                        "{label}: last line ({bytes} bytes at offset {at}) has no final newline; read as is"
                    ));
                }
                let flow = out.block(label, offset, &data[..len])?;
                buf = data;
                out.flush()?;
                if flow == Flow::Stop {
                    out.stopping(label, blocks.offset(), blocks.pending())?;
                    return Ok(Stopped::Done);
                }
            }
            Ok(Some(Chunk::LongLine { bytes })) => {
                out.long_line(label, blocks.offset().saturating_sub(bytes + 1), bytes)?;
            }
            Ok(Some(Chunk::Pause)) => {
                let now = (blocks.offset(), blocks.pending().len());
                if now.1 > 0 && shown != Some(now) {
                    shown = Some(now);
                    if out.unfinished(label, now.0, blocks.pending())? == Flow::Stop {
                        out.flush()?;
                        return Ok(Stopped::Done);
                    }
                }
            }
            Ok(None) => {
                out.flush()?;
                return Ok(Stopped::Eof);
            }
            Err(e) => {
                out.warn(&format!("{label}: read error: {e}"));
                out.flush()?;
                return Ok(Stopped::Eof);
            }
        }
    }
}

/// Reads fd 0 only when `poll(2)` says it is readable, waiting in steps of `timeout`;
/// once `stop` is set the read fails with `WouldBlock`, which the block reader turns into
/// a pause, so the follow loop sees the stop.
struct Polled {
    inner: std::fs::File,
    timeout: Duration,
    stop: Arc<AtomicBool>,
}

impl Read for Polled {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while !readable(self.timeout) {
            if self.stop.load(Ordering::Relaxed) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        self.inner.read(buf)
    }
}

/// True when fd 0 has data or EOF pending; false on timeout or EINTR (the caller then
/// re-checks the stop flag).
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
