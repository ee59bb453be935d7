//! Sources: files, gzip files (recognised by their magic bytes, not their name) and stdin,
//! read in large blocks that always end at a line end.

use crate::framing::safe_cut_before;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

pub mod backups;
pub use backups::backups_of;

/// One input named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    Path(PathBuf),
}

impl Input {
    /// The name used in messages, like grep's `(standard input)`.
    pub fn display_name(&self) -> String {
        match self {
            Input::Stdin => "(standard input)".to_string(),
            Input::Path(p) => p.display().to_string(),
        }
    }

    /// Opens the input, decompressing gzip transparently.
    pub fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        match self {
            Input::Stdin => decompress_if_gzip(Box::new(io::stdin())),
            Input::Path(path) => decompress_if_gzip(Box::new(File::open(path)?)),
        }
    }
}

/// Whether the file at `path` starts with the gzip magic bytes.
pub fn is_gzip_file(path: &Path) -> bool {
    let mut magic = [0u8; 2];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| magic == GZIP_MAGIC)
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

fn decompress_if_gzip(reader: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    let mut buffered = BufReader::with_capacity(256 * 1024, reader);
    let head = buffered.fill_buf()?;
    if head.starts_with(&GZIP_MAGIC) {
        Ok(Box::new(MultiGzDecoder::new(buffered)))
    } else {
        Ok(Box::new(buffered))
    }
}

/// Whether the last line of `before` (which ends just before a `\n`) can end a document:
/// not an indented inner line of a pretty-printed document, nor one that opens an object.
fn line_may_end_document(before: &[u8]) -> bool {
    let start = memchr::memrchr(b'\n', before).map_or(0, |p| p + 1);
    let line = crate::framing::strip_line_end(&before[start..]);
    let indented = matches!(line.first(), Some(b' ' | b'\t'));
    let opens = matches!(line.last(), Some(b'{' | b'[' | b','));
    !indented && !opens
}

/// What the block reader produces.
#[derive(Debug)]
pub enum Chunk {
    /// Whole lines in `data[..len]` (the last may lack its `\n` at end of input).
    Lines { data: Vec<u8>, len: usize },
    /// A line longer than the limit, skipped without being cut into pieces.
    LongLine { bytes: u64 },
}

/// Reads blocks that end at a safe line boundary (never inside a pretty-printed
/// document), so blocks can be processed independently and in parallel.
pub struct BlockReader {
    reader: Box<dyn Read + Send>,
    carry: Vec<u8>,
    eof: bool,
    block_size: usize,
    max_line: usize,
    /// Return after one successful read(): for pipes, so output streams as input arrives.
    eager: bool,
    /// A read error met after some data: reported once that data has been handed out.
    pending_error: Option<io::Error>,
}

impl BlockReader {
    pub fn new(
        reader: Box<dyn Read + Send>,
        block_size: usize,
        max_line: usize,
        eager: bool,
    ) -> Self {
        BlockReader {
            reader,
            carry: Vec::new(),
            eof: false,
            block_size: block_size.max(64),
            max_line: max_line.max(1),
            eager,
            pending_error: None,
        }
    }

    /// Fills `buf` with the next chunk; `Ok(None)` at end of input. `buf` keeps its length
    /// from use to use (the chunk says how much of it is data), so its bytes are zeroed
    /// only when it grows, not for every block: a memset per block cost more than a third
    /// of a selective search.
    pub fn next_chunk(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<Chunk>> {
        let mut filled = self.carry.len();
        if buf.len() < filled {
            buf.resize(filled, 0);
        }
        buf[..filled].copy_from_slice(&self.carry);
        self.carry.clear();
        if let Some(e) = self.pending_error.take() {
            return Err(e);
        }
        loop {
            if let Some(cut) = self.cut_point(&buf[..filled], true).filter(|&cut| cut > 0) {
                if self.pending_error.is_none() {
                    self.carry.extend_from_slice(&buf[cut..filled]);
                }
                let data = std::mem::take(buf);
                return Ok(Some(Chunk::Lines { data, len: cut }));
            }
            if let Some(e) = self.pending_error.take() {
                return Err(e);
            }
            if self.eof {
                return Ok(None);
            }
            if filled > self.max_line && self.cut_point(&buf[..filled], false).is_none() {
                return self.skip_long_line(filled as u64).map(Some);
            }
            let want = self.block_size.max(filled);
            filled = self.read_more(buf, filled, want);
        }
    }

    /// Where to end the block: after the last `\n` that is followed by a safe line start,
    /// once enough data is buffered (or all of it at end of input). With `wait_for_full`
    /// false, any safe line end will do: it tells whether `buf` holds a whole line at all.
    fn cut_point(&self, buf: &[u8], wait_for_full: bool) -> Option<usize> {
        if buf.is_empty() {
            return None;
        }
        if self.pending_error.is_some() {
            // Damaged input (a truncated gzip): keep whole lines only, never a torn one.
            return Some(memchr::memrchr(b'\n', buf).map_or(0, |nl| nl + 1));
        }
        if self.eof {
            return Some(buf.len());
        }
        if wait_for_full && buf.len() < self.block_size && !self.eager {
            return None;
        }
        let mut end = buf.len();
        while let Some(nl) = memchr::memrchr(b'\n', &buf[..end]) {
            let safe = match buf.get(nl + 1) {
                Some(&next) => safe_cut_before(next),
                // The next line is not read yet: judge by the line that ends here.
                None => line_may_end_document(&buf[..nl]),
            };
            if safe {
                return Some(nl + 1);
            }
            end = nl;
        }
        None
    }

    /// Reads up to `want` bytes after `filled`; returns the new fill. An error ends the
    /// input, after the data read before it (see `pending_error`).
    fn read_more(&mut self, buf: &mut Vec<u8>, mut filled: usize, want: usize) -> usize {
        let end = filled + want;
        if buf.len() < end {
            buf.resize(end, 0);
        }
        while filled < end {
            match self.reader.read(&mut buf[filled..end]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    filled += n;
                    if self.eager {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.eof = true;
                    self.pending_error = Some(e);
                    break;
                }
            }
        }
        filled
    }

    /// Drops the over-long first line of `buf` and everything up to its `\n`.
    fn skip_long_line(&mut self, already: u64) -> io::Result<Chunk> {
        let mut skipped = already;
        let mut scratch = vec![0u8; 64 * 1024];
        loop {
            let n = match self.reader.read(&mut scratch) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(Chunk::LongLine { bytes: skipped });
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if let Some(nl) = memchr::memchr(b'\n', &scratch[..n]) {
                skipped += nl as u64;
                self.carry.extend_from_slice(&scratch[nl + 1..n]);
                return Ok(Chunk::LongLine { bytes: skipped });
            }
            skipped += n as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(input: &[u8], block: usize, max_line: usize) -> Vec<String> {
        let mut reader = BlockReader::new(
            Box::new(input.to_vec().leak() as &[u8]),
            block,
            max_line,
            false,
        );
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while let Some(chunk) = reader.next_chunk(&mut buf).unwrap() {
            out.push(match chunk {
                Chunk::Lines { data, len } => String::from_utf8(data[..len].to_vec()).unwrap(),
                Chunk::LongLine { bytes } => format!("<long {bytes}>"),
            });
        }
        out
    }

    #[test]
    fn blocks_end_at_line_ends_and_cover_everything() {
        let input = b"{\"a\":1}\n{\"b\":2}\n{\"c\":3}\nlast";
        let got = chunks(input, 64, 1000);
        assert_eq!(got.concat().as_bytes(), input);
        for chunk in &got[..got.len() - 1] {
            assert!(chunk.ends_with('\n'));
        }
    }

    #[test]
    fn never_cuts_inside_pretty_documents() {
        let mut input = Vec::new();
        for _ in 0..20 {
            input.extend_from_slice(b"{\n  \"kind\": \"Event\",\n  \"verb\": \"get\"\n}\n");
        }
        for chunk in chunks(&input, 64, 10_000) {
            assert!(
                chunk.starts_with("{\n") && chunk.ends_with("}\n"),
                "{chunk:?}"
            );
        }
    }

    #[test]
    fn long_lines_are_skipped_whole() {
        let mut input = b"{\"a\":1}\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 5000));
        input.extend_from_slice(b"\n{\"b\":2}\n");
        let got = chunks(&input, 64, 1000);
        assert!(got.iter().any(|c| c.starts_with("<long")), "{got:?}");
        let text = got.concat();
        assert!(text.contains("{\"a\":1}") && text.contains("{\"b\":2}"));
        assert!(!text.contains("xxx"));
    }

    #[test]
    fn detects_gzip_by_magic() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not-named-gz.log");
        let mut enc = GzEncoder::new(File::create(&path).unwrap(), Compression::fast());
        enc.write_all(b"{\"a\":1}\n").unwrap();
        enc.finish().unwrap();
        assert!(is_gzip_file(&path));
        let mut text = String::new();
        Input::Path(path)
            .open()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{\"a\":1}\n");
    }
}
