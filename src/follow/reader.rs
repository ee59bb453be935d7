//! Incremental line reader: hands out complete lines only, keeps the bytes
//! after the last `'\n'` for the next read, and tracks exact byte offsets so
//! a checkpoint always names a line end.

use std::io::{self, Read};

const CHUNK: usize = 256 * 1024;

/// Receives the lines (without `'\n'` and a trailing `'\r'`) and warnings.
pub trait LineSink {
    fn line(&mut self, line: &[u8]) -> io::Result<()>;
    fn warn(&mut self, message: &str);
}

/// What one [`LineReader::read_some`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub bytes: u64,
    /// The source returned 0 (end of file for now).
    pub eof: bool,
}

/// Line splitter over any `Read`, with a cap on line length.
#[derive(Debug)]
pub struct LineReader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    scan: usize,
    /// Absolute source offset of `buf[start]`.
    start_off: u64,
    /// Absolute offset just after the last `'\n'` consumed.
    line_end: u64,
    /// Dropping the rest of an over-long line until its `'\n'`.
    skipping: bool,
    max_line: usize,
}

impl LineReader {
    /// A reader whose first byte is at absolute offset `offset`.
    pub fn new(offset: u64, max_line: usize) -> LineReader {
        LineReader {
            buf: Vec::new(),
            start: 0,
            end: 0,
            scan: 0,
            start_off: offset,
            line_end: offset,
            skipping: false,
            max_line: max_line.max(1),
        }
    }

    /// Offset right after the last complete line: the only safe resume point.
    pub fn line_end(&self) -> u64 {
        self.line_end
    }

    /// Offset of the next byte to be read from the source.
    pub fn read_pos(&self) -> u64 {
        self.start_off + (self.end - self.start) as u64
    }

    /// Forgets everything and restarts at `offset` (after a truncation).
    pub fn reset(&mut self, offset: u64) {
        *self = LineReader::new(offset, self.max_line);
    }

    /// Reads until end of data or until about `budget` bytes were consumed
    /// (so the caller can flush and checkpoint during a long catch-up).
    pub fn read_some(
        &mut self,
        src: &mut dyn Read,
        sink: &mut dyn LineSink,
        budget: u64,
        label: &str,
    ) -> io::Result<Progress> {
        let mut total = 0u64;
        while total < budget {
            self.make_room();
            let n = match src.read(&mut self.buf[self.end..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Ok(Progress {
                    bytes: total,
                    eof: true,
                });
            }
            self.end += n;
            total += n as u64;
            self.split(sink, label)?;
        }
        Ok(Progress {
            bytes: total,
            eof: false,
        })
    }

    /// Emits a final unterminated line (file retired, stdin EOF) with a
    /// warning, so it is never glued to the next file's first line.
    pub fn flush_partial(&mut self, sink: &mut dyn LineSink, label: &str) -> io::Result<()> {
        let skipping = self.skipping;
        let pending = self.end - self.start;
        if !skipping && pending > 0 {
            sink.warn(&format!(
                "{label}: last line ({pending} bytes at offset {}) has no final newline; emitted as is",
                self.start_off
            ));
            let line = strip_cr(&self.buf[self.start..self.end]).to_vec();
            sink.line(&line)?;
        }
        let end = self.read_pos();
        self.reset(end);
        Ok(())
    }

    fn make_room(&mut self) {
        if self.start > 0 && (self.start == self.end || self.end == self.buf.len()) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scan -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let want = (self.buf.len() * 2).clamp(CHUNK, self.max_line.saturating_add(CHUNK));
            let want = want.max(self.end + CHUNK.min(64 * 1024));
            self.buf.resize(want, 0);
        }
    }

    fn split(&mut self, sink: &mut dyn LineSink, label: &str) -> io::Result<()> {
        while let Some(i) = memchr::memchr(b'\n', &self.buf[self.scan..self.end]) {
            let nl = self.scan + i;
            let len = nl - self.start;
            if self.skipping {
                self.skipping = false;
            } else if len > self.max_line {
                self.warn_long(sink, label);
            } else {
                let line = &self.buf[self.start..nl];
                emit_line(line, self.line_end, sink, label)?;
            }
            self.start_off += (len + 1) as u64;
            self.line_end = self.start_off;
            self.start = nl + 1;
            self.scan = self.start;
        }
        self.scan = self.end;
        if !self.skipping && self.end - self.start > self.max_line {
            self.warn_long(sink, label);
            self.skipping = true;
        }
        if self.skipping {
            self.start_off += (self.end - self.start) as u64;
            self.start = self.end;
            self.scan = self.end;
        }
        Ok(())
    }

    fn warn_long(&self, sink: &mut dyn LineSink, label: &str) {
        sink.warn(&format!(
            "{label}: line at offset {} is longer than {} bytes; skipped",
            self.line_end, self.max_line
        ));
    }
}

/// Hands one line to the sink. A run of NUL bytes at its start is what a
/// writer without `O_APPEND` leaves after copytruncate (a sparse hole before
/// its next write): reported and dropped, so the event after it survives.
fn emit_line(line: &[u8], offset: u64, sink: &mut dyn LineSink, label: &str) -> io::Result<()> {
    let nuls = line.iter().take_while(|&&b| b == 0).count();
    if nuls > 0 {
        sink.warn(&format!(
            "{label}: {nuls} NUL bytes at offset {offset} skipped (sparse file after copytruncate?)"
        ));
    }
    let rest = &line[nuls..];
    if nuls > 0 && rest.is_empty() {
        return Ok(());
    }
    sink.line(strip_cr(rest))
}

/// Drops one trailing `'\r'` (CRLF files).
fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        lines: Vec<Vec<u8>>,
        warnings: Vec<String>,
    }

    impl LineSink for Collect {
        fn line(&mut self, line: &[u8]) -> io::Result<()> {
            self.lines.push(line.to_vec());
            Ok(())
        }
        fn warn(&mut self, message: &str) {
            self.warnings.push(message.to_string());
        }
    }

    fn feed(r: &mut LineReader, c: &mut Collect, data: &[u8]) -> Progress {
        r.read_some(&mut &data[..], c, u64::MAX, "t").unwrap()
    }

    #[test]
    fn partial_line_waits_for_newline() {
        let mut r = LineReader::new(0, 1024);
        let mut c = Collect::default();
        feed(&mut r, &mut c, b"one\ntw");
        assert_eq!(c.lines, [b"one".to_vec()]);
        assert_eq!(r.line_end(), 4);
        assert_eq!(r.read_pos(), 6);
        feed(&mut r, &mut c, b"o\n");
        assert_eq!(c.lines, [b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(r.line_end(), 8);
        assert_eq!(r.read_pos(), 8);
    }

    #[test]
    fn crlf_is_stripped_and_offsets_stay_exact() {
        let mut r = LineReader::new(10, 1024);
        let mut c = Collect::default();
        feed(&mut r, &mut c, b"a\r\n\xff\xfe\r\n");
        assert_eq!(c.lines, [b"a".to_vec(), b"\xff\xfe".to_vec()]);
        assert_eq!(r.line_end(), 10 + 7);
    }

    #[test]
    fn over_long_line_skipped_then_resync() {
        let mut r = LineReader::new(0, 8);
        let mut c = Collect::default();
        feed(&mut r, &mut c, b"short\n0123456789ABCDEF");
        feed(&mut r, &mut c, b"GHIJ\nok\n");
        assert_eq!(c.lines, [b"short".to_vec(), b"ok".to_vec()]);
        assert_eq!(c.warnings.len(), 1);
        assert_eq!(r.line_end(), 6 + 21 + 3);
    }

    #[test]
    fn long_line_in_one_chunk_also_skipped() {
        let mut r = LineReader::new(0, 4);
        let mut c = Collect::default();
        feed(&mut r, &mut c, b"123456\nab\n");
        assert_eq!(c.lines, [b"ab".to_vec()]);
        assert_eq!(c.warnings.len(), 1);
    }

    #[test]
    fn multi_megabyte_line_is_intact() {
        let mut r = LineReader::new(0, 64 << 20);
        let mut c = Collect::default();
        let mut data = vec![b'x'; 8 << 20];
        data.push(b'\n');
        feed(&mut r, &mut c, &data);
        assert_eq!(c.lines.len(), 1);
        assert_eq!(c.lines[0].len(), 8 << 20);
    }

    #[test]
    fn flush_partial_emits_with_warning() {
        let mut r = LineReader::new(0, 1024);
        let mut c = Collect::default();
        feed(&mut r, &mut c, b"a\nbroken");
        r.flush_partial(&mut c, "t").unwrap();
        assert_eq!(c.lines, [b"a".to_vec(), b"broken".to_vec()]);
        assert_eq!(c.warnings.len(), 1);
        assert_eq!(r.line_end(), 8);
    }

    #[test]
    fn nul_run_is_reported_and_dropped() {
        let mut r = LineReader::new(0, 1024);
        let mut c = Collect::default();
        feed(&mut r, &mut c, b"\0\0\0{\"a\":1}\n\0\0\nok\n");
        assert_eq!(c.lines, [b"{\"a\":1}".to_vec(), b"ok".to_vec()]);
        assert_eq!(c.warnings.len(), 2);
        assert_eq!(r.line_end(), 17);
    }

    #[test]
    fn budget_stops_early() {
        let mut r = LineReader::new(0, 1024);
        let mut c = Collect::default();
        let data = vec![b'a'; 3 * CHUNK];
        let mut src = &data[..];
        let p = r.read_some(&mut src, &mut c, 1, "t").unwrap();
        assert!(!p.eof);
    }

    /// A reader that hands out at most `step` bytes per call, to exercise
    /// every possible split of lines across reads.
    struct Dribble<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    proptest::proptest! {
        #[test]
        fn any_chunking_gives_the_same_lines(
            data in proptest::collection::vec(proptest::sample::select(vec![b'a', b'b', b'\r', b'\n', 0xff]), 0..400),
            step in 1usize..50,
            max in 1usize..30,
        ) {
            let mut r = LineReader::new(0, max);
            let mut c = Collect::default();
            let mut src = Dribble { data: &data, step };
            while !r.read_some(&mut src, &mut c, 7, "t").unwrap().eof {}
            let complete = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let want: Vec<Vec<u8>> = data[..complete]
                .split(|&b| b == b'\n')
                .take(data[..complete].iter().filter(|&&b| b == b'\n').count())
                .filter(|l| l.len() <= max)
                .map(|l| strip_cr(l).to_vec())
                .collect();
            proptest::prop_assert_eq!(c.lines, want);
            proptest::prop_assert_eq!(r.line_end(), complete as u64);
            proptest::prop_assert_eq!(r.read_pos(), data.len() as u64);
        }
    }
}
