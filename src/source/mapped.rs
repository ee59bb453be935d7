//! Large plain files read through a memory map instead of `read()`: the kernel's copy
//! from the page cache (a fifth of a selective search) goes away, and blocks are slices
//! of the map.
//!
//! A mapped file that shrinks while it is read (truncation, copytruncate) would kill the
//! process with SIGBUS at the first access past its new end. auditq registers each map;
//! its SIGBUS handler replaces the faulting page of a registered map with a page of zeros
//! and lets the read go on, and the file is then reported as truncated while being read
//! (exit code 2). A SIGBUS anywhere else gets the previous handler (or the default
//! action), as if auditq had none.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Files at least this large are mapped (smaller ones cost less to read).
pub const MAP_MIN: u64 = 64 << 20;

const SLOTS: usize = 64;

struct Slot {
    start: AtomicUsize,
    len: AtomicUsize,
    hit: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    hit: AtomicBool::new(false),
};

static REGIONS: [Slot; SLOTS] = [FREE; SLOTS];
static PAGE: AtomicUsize = AtomicUsize::new(4096);
static INSTALL: Once = Once::new();
/// The SIGBUS action before ours, for faults that are not ours.
static mut PREVIOUS: Option<libc::sigaction> = None;

/// A file mapped into memory, read only.
pub struct Mapped {
    map: memmap2::Mmap,
    slot: Option<usize>,
}

impl Mapped {
    /// Maps `file` (a regular file at `path`); `None` when it should be read instead:
    /// smaller than [`MAP_MIN`], not a regular file, or no slot or map to be had.
    pub fn open(file: &File, path: &Path) -> io::Result<Option<Mapped>> {
        Mapped::open_from(file, path, MAP_MIN)
    }

    /// [`Mapped::open`] for files of at least `min` bytes (the fuzz target maps small
    /// files to reach this path).
    pub(crate) fn open_from(file: &File, path: &Path, min: u64) -> io::Result<Option<Mapped>> {
        let meta = file.metadata()?;
        if !meta.is_file() || meta.len() < min.max(1) {
            return Ok(None);
        }
        let _ = path;
        install();
        // SAFETY: the map is read only and private (MAP_PRIVATE, PROT_READ: nothing this
        // process does can write to the file through it; the test below checks the
        // flags in /proc/self/maps); a file that shrinks under it raises SIGBUS, which
        // the handler installed above turns into pages of zeros for registered maps (see
        // the module docs).
        let Ok(map) = (unsafe { memmap2::MmapOptions::new().map_copy_read_only(file) }) else {
            return Ok(None);
        };
        let _ = map.advise(memmap2::Advice::Sequential);
        let start = map.as_ptr() as usize;
        let slot = (0..SLOTS).find(|&i| {
            REGIONS[i]
                .start
                .compare_exchange(0, start, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        });
        let Some(slot) = slot else {
            return Ok(None);
        };
        REGIONS[slot].hit.store(false, Ordering::Release);
        REGIONS[slot].len.store(map.len(), Ordering::Release);
        Ok(Some(Mapped {
            map,
            slot: Some(slot),
        }))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Whether a page past the file's end was read (the file shrank while mapped).
    pub fn truncated(&self) -> bool {
        self.slot
            .is_some_and(|s| REGIONS[s].hit.load(Ordering::Acquire))
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            REGIONS[slot].len.store(0, Ordering::Release);
            REGIONS[slot].start.store(0, Ordering::Release);
        }
    }
}

/// What [`MappedBlocks`] hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappedChunk {
    /// Whole records: this range of the map.
    Lines(std::ops::Range<usize>),
    /// A line longer than the limit, skipped.
    LongLine { bytes: u64 },
}

/// Blocks of a mapped file that end where framing is at rest: what
/// [`super::BlockReader`] does for `read()`, on a map, without copying.
pub struct MappedBlocks {
    map: std::sync::Arc<Mapped>,
    pos: usize,
    block_size: usize,
    max_line: usize,
    cutter: crate::framing::Cutter,
}

impl MappedBlocks {
    pub fn new(
        map: std::sync::Arc<Mapped>,
        start: usize,
        block_size: usize,
        max_line: usize,
    ) -> Self {
        let max_line = max_line.max(1);
        MappedBlocks {
            map,
            pos: start,
            block_size: block_size.max(64),
            max_line,
            cutter: crate::framing::Cutter::new(max_line),
        }
    }

    /// The next chunk; `None` at the end of the file.
    pub fn next_chunk(&mut self) -> Option<MappedChunk> {
        let bytes = self.map.bytes();
        let rest = bytes.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        let mut window = self.block_size.min(rest.len());
        loop {
            let buf = &rest[..window];
            if window == rest.len() {
                return Some(self.hand_out(window));
            }
            let Some(last_nl) = memchr::memrchr(b'\n', buf) else {
                if window > self.max_line {
                    return Some(self.skip_long_line());
                }
                window = (window * 2).min(rest.len());
                continue;
            };
            let complete = last_nl + 1;
            if window - complete > self.max_line {
                self.cutter = crate::framing::Cutter::new(self.max_line);
                return Some(self.hand_out(complete));
            }
            let cut = self.cutter.find(buf, complete, false);
            if cut > 0 {
                return Some(self.hand_out(cut));
            }
            window = (window * 2).min(rest.len());
        }
    }

    fn hand_out(&mut self, len: usize) -> MappedChunk {
        let range = self.pos..self.pos + len;
        self.cutter.consume(len);
        self.pos += len;
        MappedChunk::Lines(range)
    }

    /// Skips the over-long line at the position, up to and with its `\n`.
    fn skip_long_line(&mut self) -> MappedChunk {
        let rest = &self.map.bytes()[self.pos..];
        let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        self.pos += (len + 1).min(rest.len());
        self.cutter = crate::framing::Cutter::new(self.max_line);
        MappedChunk::LongLine { bytes: len as u64 }
    }
}

fn install() {
    INSTALL.call_once(|| {
        // SAFETY: sysconf and sigaction with a handler that only uses atomics, mmap and
        // the saved previous action.
        unsafe {
            let page = libc::sysconf(libc::_SC_PAGESIZE);
            if page > 0 {
                PAGE.store(page as usize, Ordering::Release);
            }
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, &action, &mut old) == 0 {
                PREVIOUS = Some(old);
            }
        }
    });
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: `info` is the kernel's siginfo for this signal.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE.load(Ordering::Acquire);
    for slot in &REGIONS {
        let start = slot.start.load(Ordering::Acquire);
        let len = slot.len.load(Ordering::Acquire);
        if start != 0 && addr >= start && addr < start + len {
            let at = addr & !(page - 1);
            // SAFETY: replaces one page of our own read-only map with zeros.
            let mapped = unsafe {
                libc::mmap(
                    at as *mut libc::c_void,
                    page,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_FIXED | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if mapped != libc::MAP_FAILED {
                slot.hit.store(true, Ordering::Release);
                return;
            }
        }
    }
    // Not ours: what would have happened without us.
    // SAFETY: reads the action saved at install time (written once, before any map).
    unsafe {
        match *std::ptr::addr_of!(PREVIOUS) {
            Some(old) if old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN => {
                if old.sa_flags & libc::SA_SIGINFO != 0 {
                    let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                        std::mem::transmute(old.sa_sigaction);
                    f(sig, info, context);
                } else {
                    let f: extern "C" fn(libc::c_int) = std::mem::transmute(old.sa_sigaction);
                    f(sig);
                }
            }
            _ => {
                libc::signal(libc::SIGBUS, libc::SIG_DFL);
                libc::raise(libc::SIGBUS);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// The map is what the SAFETY comment of [`Mapped::open`] says: read only and
    /// private (`r--p` in /proc/self/maps), never a shared map of the file.
    #[test]
    fn the_map_is_read_only_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("private.log");
        std::fs::write(&path, vec![b'\n'; MAP_MIN as usize + 10]).unwrap();
        let file = File::open(&path).unwrap();
        let map = Mapped::open(&file, &path).unwrap().expect("mapped");
        let start = map.bytes().as_ptr() as usize;
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let line = maps
            .lines()
            .find(|l| {
                let range = l.split_whitespace().next().unwrap_or("");
                let (a, b) = range.split_once('-').unwrap_or(("0", "0"));
                let a = usize::from_str_radix(a, 16).unwrap_or(0);
                let b = usize::from_str_radix(b, 16).unwrap_or(0);
                a <= start && start < b
            })
            .expect("the map is in /proc/self/maps");
        let perms = line.split_whitespace().nth(1).unwrap();
        assert_eq!(perms, "r--p", "{line}");
        assert!(line.ends_with("private.log"), "{line}");
    }

    #[test]
    fn mapped_blocks_cover_the_file_like_the_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        let mut f = File::create(&path).unwrap();
        let mut all = Vec::new();
        let mut i = 0;
        while all.len() < MAP_MIN as usize + 5000 {
            let line = if i % 1000 == 7 {
                "{\n  \"kind\": \"Event\",\n  \"verb\": \"get\"\n}\n".to_string()
            } else {
                format!(
                    "{{\"kind\":\"Event\",\"n\":{i},\"pad\":\"{}\"}}\n",
                    "p".repeat(i % 300)
                )
            };
            all.extend_from_slice(line.as_bytes());
            i += 1;
        }
        f.write_all(&all).unwrap();
        drop(f);
        let file = File::open(&path).unwrap();
        let map = std::sync::Arc::new(Mapped::open(&file, &path).unwrap().expect("mapped"));
        let mut blocks = MappedBlocks::new(map, 0, 4096, 1 << 20);
        let mut seen = Vec::new();
        while let Some(MappedChunk::Lines(range)) = blocks.next_chunk() {
            let block = &all[range];
            assert!(!block.starts_with(b"  "), "cut inside a document");
            seen.extend_from_slice(block);
        }
        assert!(seen == all);
    }

    #[test]
    fn a_file_truncated_while_mapped_reads_as_zeros_and_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        let mut f = File::create(&path).unwrap();
        let line = vec![b'x'; 1023];
        for _ in 0..(MAP_MIN as usize / 1024 + 10) {
            f.write_all(&line).unwrap();
            f.write_all(b"\n").unwrap();
        }
        drop(f);
        let file = File::open(&path).unwrap();
        let mapped = Mapped::open(&file, &path).unwrap().expect("mapped");
        assert!(!mapped.truncated());
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(4096)
            .unwrap();
        let bytes = mapped.bytes();
        let tail = bytes[bytes.len() - 100];
        assert_eq!(tail, 0, "past the new end: zeros, no crash");
        assert!(mapped.truncated());
    }
}
