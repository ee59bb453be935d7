//! Sources: files, gzip files (recognised by their magic bytes, not their name) and stdin,
//! read in large blocks that always end at a line end.

use crate::framing::Cutter;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) mod archive;
pub(crate) mod backups;
pub(crate) mod mapped;
pub use backups::backups_of;

/// One input named on the command line (or made in memory, for tests and tools).
#[derive(Debug, Clone)]
pub enum Input {
    Stdin,
    Path(PathBuf),
    Memory(Arc<MemoryInput>),
}

/// Bytes read as if they were a file or, with `dribble`, a slow pipe handing out at most
/// that many bytes per read.
#[derive(Debug)]
pub struct MemoryInput {
    pub name: String,
    pub bytes: Vec<u8>,
    pub dribble: Option<usize>,
}

impl PartialEq for Input {
    fn eq(&self, other: &Input) -> bool {
        match (self, other) {
            (Input::Stdin, Input::Stdin) => true,
            (Input::Path(a), Input::Path(b)) => a == b,
            (Input::Memory(a), Input::Memory(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Input {}

impl Input {
    /// An in-memory input.
    pub fn memory(name: &str, bytes: Vec<u8>, dribble: Option<usize>) -> Input {
        Input::Memory(Arc::new(MemoryInput {
            name: name.to_string(),
            bytes,
            dribble,
        }))
    }

    /// The name used in messages, like grep's `(standard input)`.
    pub fn display_name(&self) -> String {
        match self {
            Input::Stdin => "(standard input)".to_string(),
            Input::Path(p) => p.display().to_string(),
            Input::Memory(m) => m.name.clone(),
        }
    }

    /// Opens the input, decompressing gzip transparently.
    pub fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        match self {
            Input::Stdin => decompress_if_gzip(Box::new(io::stdin())),
            Input::Path(path) => decompress_if_gzip(Box::new(File::open(path)?)),
            Input::Memory(m) => decompress_if_gzip(Box::new(Dribble {
                input: Arc::clone(m),
                pos: 0,
            })),
        }
    }

    /// How the input is read: pipes are streamed (output as input arrives).
    pub fn read_mode(&self) -> ReadMode {
        match self {
            Input::Stdin => ReadMode::Stream,
            Input::Memory(m) if m.dribble.is_some() => ReadMode::Stream,
            _ => ReadMode::Batch,
        }
    }
}

/// Reads a [`MemoryInput`], at most `dribble` bytes at a time.
struct Dribble {
    input: Arc<MemoryInput>,
    pos: usize,
}

impl Read for Dribble {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = &self.input.bytes[self.pos..];
        let n = rest
            .len()
            .min(buf.len())
            .min(self.input.dribble.unwrap_or(usize::MAX));
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
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

/// Whether a file must be decoded before it is read as lines: gzip, or UTF-16 with a
/// byte order mark (as Windows PowerShell writes `>` redirections).
pub fn needs_decoding(path: &Path) -> bool {
    let mut head = [0u8; 4];
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    head[..got.min(2)] == GZIP_MAGIC || utf16_bom(&head[..got]).is_some()
}

/// A UTF-16 byte order mark followed by an ASCII character (every audit log starts with
/// one: `{`, `[`, a blank, a letter): `Some(true)` big-endian, `Some(false)`
/// little-endian. Bytes `FF FE` before other text are not taken for UTF-16.
fn utf16_bom(head: &[u8]) -> Option<bool> {
    match head {
        [0xFE, 0xFF, 0, c] if c.is_ascii() && *c != 0 => Some(true),
        [0xFF, 0xFE, c, 0] if c.is_ascii() && *c != 0 => Some(false),
        _ => None,
    }
}

/// Decodes UTF-16 (its byte order mark included in the input) to UTF-8; an unpaired
/// surrogate becomes U+FFFD, as Go reads it.
struct Utf16 {
    inner: BufReader<Box<dyn Read + Send>>,
    big_endian: bool,
    out: Vec<u8>,
    pos: usize,
    units: Vec<u16>,
    /// An odd byte left over from the last read.
    carry: Option<u8>,
    started: bool,
}

impl Utf16 {
    fn new(reader: Box<dyn Read + Send>, big_endian: bool) -> Utf16 {
        Utf16 {
            inner: BufReader::with_capacity(GZIP_PIECE, reader),
            big_endian,
            out: Vec::new(),
            pos: 0,
            units: Vec::new(),
            carry: None,
            started: false,
        }
    }

    /// Decodes the next piece into `out`; false at the end of the input.
    fn fill(&mut self) -> io::Result<bool> {
        let mut raw = vec![0u8; GZIP_PIECE];
        let n = loop {
            match self.inner.read(&mut raw) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        let mut bytes: Vec<u8> = self.carry.take().into_iter().collect();
        bytes.extend_from_slice(&raw[..n]);
        if n == 0 {
            if !bytes.is_empty() || !self.units.is_empty() {
                self.units.clear();
                self.out.extend_from_slice("\u{FFFD}".as_bytes());
                return Ok(true);
            }
            return Ok(false);
        }
        if bytes.len() % 2 == 1 {
            self.carry = bytes.pop();
        }
        for pair in bytes.chunks_exact(2) {
            let unit = if self.big_endian {
                u16::from_be_bytes([pair[0], pair[1]])
            } else {
                u16::from_le_bytes([pair[0], pair[1]])
            };
            self.units.push(unit);
        }
        if !self.started && self.units.first() == Some(&0xFEFF) {
            self.units.remove(0);
        }
        self.started = true;
        // Keep a trailing high surrogate for the next piece.
        let keep = matches!(self.units.last(), Some(0xD800..=0xDBFF));
        let tail = if keep { self.units.pop() } else { None };
        for c in char::decode_utf16(self.units.drain(..)) {
            let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
            let mut buf = [0u8; 4];
            self.out
                .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        self.units.extend(tail);
        Ok(true)
    }
}

impl Read for Utf16 {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() {
            self.out.clear();
            self.pos = 0;
            if !self.fill()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Wraps `reader` in a gzip decoder when its first bytes are the gzip magic (any name).
/// The first two bytes are waited for, however the input trickles in.
pub fn decompress_if_gzip(reader: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    let mut head = [0u8; 4];
    let mut got = 0;
    let mut reader = reader;
    while got < head.len() {
        match reader.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let reader: Box<dyn Read + Send> =
        Box::new(io::Cursor::new(head[..got].to_vec()).chain(reader));
    if head[..got.min(2)] == GZIP_MAGIC {
        Ok(Box::new(Gunzip::new(reader)))
    } else if let Some(big_endian) = utf16_bom(&head[..got]) {
        Ok(Box::new(Utf16::new(reader, big_endian)))
    } else {
        Ok(Box::new(BufReader::with_capacity(256 * 1024, reader)))
    }
}

/// Size of the compressed pieces fed to the gzip decoder and of its output pieces.
const GZIP_PIECE: usize = 64 * 1024;

/// A gzip decoder whose work does not depend on how its input arrives: compressed bytes
/// are fed in full pieces of [`GZIP_PIECE`] bytes (or to the end) and decompressed into a
/// buffer of its own. So a damaged stream yields the same good prefix whether it comes
/// from a file or a pipe, and whatever the reader's block size (flate2 drops the output of
/// a call that meets corruption, and how much that is depends on the call's buffers).
struct Gunzip {
    decoder: MultiGzDecoder<BufReader<FullReads>>,
    out: Vec<u8>,
    pos: usize,
    len: usize,
}

impl Gunzip {
    fn new(reader: Box<dyn Read + Send>) -> Gunzip {
        let full = FullReads { inner: reader };
        Gunzip {
            decoder: MultiGzDecoder::new(BufReader::with_capacity(GZIP_PIECE, full)),
            out: vec![0; GZIP_PIECE],
            pos: 0,
            len: 0,
        }
    }
}

impl Read for Gunzip {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            self.len = self.decoder.read(&mut self.out)?;
            self.pos = 0;
        }
        let n = buf.len().min(self.len - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Fills each read to the end of the buffer (or of the input).
struct FullReads {
    inner: Box<dyn Read + Send>,
}

impl Read for FullReads {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // What came before an error is handed out; the error recurs next time.
                Err(_) if filled > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

/// What the block reader produces.
#[derive(Debug)]
pub enum Chunk {
    /// Whole records in `data[..len]` (the last line may lack its `\n` at end of input).
    Lines { data: Vec<u8>, len: usize },
    /// A line longer than the limit, skipped without being cut into pieces.
    LongLine { bytes: u64 },
    /// Nothing more for now (a followed file at its end, a pipe with nothing to read).
    Pause,
}

/// How a [`BlockReader`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// To the end in large blocks (files).
    Batch,
    /// A block after every successful read, so output streams as input arrives (pipes).
    Stream,
    /// Like `Stream`, but the end of the data is only a pause: the file may grow. The end
    /// is real after [`BlockReader::finish_input`].
    Follow,
}

/// Reads blocks that end where framing is at rest ([`Cutter`]), so blocks can be
/// processed independently and in parallel, with the same result for every block size
/// and however the input arrives.
pub struct BlockReader {
    reader: Box<dyn Read + Send>,
    carry: Vec<u8>,
    eof: bool,
    block_size: usize,
    max_line: usize,
    mode: ReadMode,
    /// A read error met after some data: reported once that data has been handed out.
    pending_error: Option<io::Error>,
    cutter: Cutter,
    /// Offset in the input just after what was handed out (blocks and skipped lines).
    consumed: u64,
    /// The last read returned no data (follow mode) or would block.
    paused: bool,
    /// Skipping an over-long line whose end has not arrived yet: bytes skipped so far.
    skipping: Option<u64>,
    /// Follow mode: the input will not grow, its end is the end.
    finishing: bool,
    /// The last block handed out ended the input with a line without `\n`: its offset
    /// and length.
    unterminated: Option<(u64, usize)>,
}

impl BlockReader {
    pub fn new(
        reader: Box<dyn Read + Send>,
        block_size: usize,
        max_line: usize,
        mode: ReadMode,
    ) -> Self {
        let max_line = max_line.max(1);
        BlockReader {
            reader,
            carry: Vec::new(),
            eof: false,
            block_size: block_size.max(64),
            max_line,
            mode,
            pending_error: None,
            cutter: Cutter::new(max_line),
            consumed: 0,
            paused: false,
            skipping: None,
            finishing: false,
            unterminated: None,
        }
    }

    /// Starts counting offsets at `offset` (a reader opened in the middle of a file).
    pub fn with_offset(mut self, offset: u64) -> Self {
        self.consumed = offset;
        self
    }

    /// Offset in the input just after everything handed out so far: always a place where
    /// framing is at rest, so reading may resume there.
    pub fn offset(&self) -> u64 {
        self.consumed
    }

    /// Offset of the next byte to be read from the source.
    pub fn read_pos(&self) -> u64 {
        self.consumed + self.carry.len() as u64
    }

    /// Bytes read but not handed out yet (an unfinished line or document).
    pub fn pending(&self) -> &[u8] {
        &self.carry
    }

    /// Follow mode: the input is complete (its file was rotated away or the pipe closed);
    /// what is left, an unterminated last line included, is handed out.
    pub fn finish_input(&mut self) {
        self.finishing = true;
    }

    /// Whether the last block ended the input with a line lacking its `\n` (an event
    /// cut short by a crash, or a pipe closed mid-line): its offset and length.
    pub fn unterminated_tail(&self) -> Option<(u64, usize)> {
        self.unterminated
    }

    /// Fills `buf` with the next chunk; `Ok(None)` at end of input. `buf` keeps its length
    /// from use to use (the chunk says how much of it is data), so its bytes are zeroed
    /// only when it grows, not for every block: a memset per block cost more than a third
    /// of a selective search.
    pub fn next_chunk(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<Chunk>> {
        if let Some(already) = self.skipping.take() {
            return self.skip_long_line(already).map(Some);
        }
        let mut filled = self.carry.len();
        if buf.len() < filled {
            buf.resize(filled, 0);
        }
        buf[..filled].copy_from_slice(&self.carry);
        self.carry.clear();
        if let Some(e) = self.pending_error.take() {
            return Err(e);
        }
        self.paused = false;
        loop {
            if let Some(cut) = self.cut_point(&buf[..filled]) {
                if self.pending_error.is_none() {
                    self.carry.extend_from_slice(&buf[cut..filled]);
                }
                self.cutter.consume(cut);
                if self.eof && cut == filled && buf[cut - 1] != b'\n' {
                    let from = memchr::memrchr(b'\n', &buf[..cut]).map_or(0, |p| p + 1);
                    self.unterminated = Some((self.consumed + from as u64, cut - from));
                }
                self.consumed += cut as u64;
                let data = std::mem::take(buf);
                return Ok(Some(Chunk::Lines { data, len: cut }));
            }
            if let Some(e) = self.pending_error.take() {
                return Err(e);
            }
            if self.eof {
                return Ok(None);
            }
            if self.paused {
                self.carry.extend_from_slice(&buf[..filled]);
                return Ok(Some(Chunk::Pause));
            }
            let last_nl = memchr::memrchr(b'\n', &buf[..filled]);
            if filled > self.max_line && last_nl.is_none() {
                return self.skip_long_line(filled as u64).map(Some);
            }
            let want = self.block_size.max(filled);
            filled = self.read_more(buf, filled, want);
        }
    }

    /// Where to end the block, if it can end yet.
    fn cut_point(&mut self, buf: &[u8]) -> Option<usize> {
        if buf.is_empty() {
            return None;
        }
        let last_nl = memchr::memrchr(b'\n', buf);
        if self.pending_error.is_some() {
            // Damaged input (a truncated gzip): it ends at its last whole line.
            return Some(last_nl.map_or(0, |nl| nl + 1)).filter(|&c| c > 0);
        }
        if self.eof {
            return Some(buf.len());
        }
        let complete = last_nl? + 1;
        if buf.len() - complete > self.max_line {
            // The next line is too long to be part of a document: everything before it
            // is decided (and it is skipped on its own).
            self.cutter = Cutter::new(self.max_line);
            return Some(complete);
        }
        let eager = self.mode != ReadMode::Batch;
        if !eager && buf.len() < self.block_size {
            return None;
        }
        Some(self.cutter.find(buf, complete, eager)).filter(|&c| c > 0)
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
                Ok(0) if self.mode == ReadMode::Follow && !self.finishing => {
                    self.paused = true;
                    break;
                }
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    filled += n;
                    if self.mode != ReadMode::Batch {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.paused = true;
                    break;
                }
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
        self.cutter = Cutter::new(self.max_line);
        loop {
            let n = match self.reader.read(&mut scratch) {
                Ok(0) if self.mode == ReadMode::Follow && !self.finishing => {
                    // The rest of the line may still arrive: keep skipping it then.
                    self.skipping = Some(skipped);
                    return Ok(Chunk::Pause);
                }
                Ok(0) => {
                    self.eof = true;
                    self.consumed += skipped;
                    return Ok(Chunk::LongLine { bytes: skipped });
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.skipping = Some(skipped);
                    return Ok(Chunk::Pause);
                }
                Err(e) => return Err(e),
            };
            if let Some(nl) = memchr::memchr(b'\n', &scratch[..n]) {
                skipped += nl as u64;
                self.carry.extend_from_slice(&scratch[nl + 1..n]);
                self.consumed += skipped + 1;
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
            ReadMode::Batch,
        );
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while let Some(chunk) = reader.next_chunk(&mut buf).unwrap() {
            out.push(match chunk {
                Chunk::Lines { data, len } => String::from_utf8(data[..len].to_vec()).unwrap(),
                Chunk::LongLine { bytes } => format!("<long {bytes}>"),
                Chunk::Pause => unreachable!("batch reads never pause"),
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
    fn block_size_never_changes_the_blocks_content() {
        let mut input = Vec::new();
        for i in 0..30 {
            input.extend_from_slice(format!("{{\"a\":{i}}}\n").as_bytes());
            if i % 7 == 0 {
                input.extend_from_slice(b"{\n\"kind\":\"Event\",\n\"verb\":\"get\"\n}\n{\n");
            }
        }
        for block in [64, 100, 333, 4096] {
            let got = chunks(&input, block, 10_000);
            assert_eq!(got.concat().as_bytes(), &input[..]);
            for chunk in &got {
                assert!(!chunk.starts_with('"'), "cut inside a document: {chunk:?}");
            }
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
