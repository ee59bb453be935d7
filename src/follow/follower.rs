//! One followed log: reads the open file to its end, notices rotation, truncation and
//! replacement by stat'ing the path, and walks unseen backups in name-time order before
//! the new active file. Reading goes through the same [`BlockReader`] (and so the same
//! framing) as a search; what it reads goes to the [`Handler`].

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::backups::{Backup, LogName, NameTime, format_time};
use super::checkpoint::Entry;
use super::identity::{self, FileId, Fingerprint};
use super::{Flow, Handler, OutputError, Step};
use crate::source::{BlockReader, Chunk, ReadMode};

/// Bytes read from one file before returning to the main loop (which flushes and
/// checkpoints), so a long catch-up still checkpoints.
const BUDGET: u64 = 4 << 20;
/// Fingerprints of fully read files remembered to avoid reading a file twice (e.g. a
/// backup that was compressed after we drained it).
const CONSUMED_MAX: usize = 1024;

/// Which file of the set is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// The active file, which may still grow.
    Active,
    /// A backup, complete, with the time in its name.
    Backup(NameTime),
}

/// The file currently being read.
pub(super) struct Open {
    pub reader: BlockReader,
    /// The plain file, for truncation checks and fingerprints (`None` for gzip).
    pub file: Option<File>,
    pub path: PathBuf,
    pub id: FileId,
    pub fp: Option<Fingerprint>,
    pub role: Role,
}

impl Open {
    fn label(&self) -> String {
        self.path.display().to_string()
    }
}

/// A backup waiting to be read, from `offset` on.
#[derive(Debug, Clone)]
pub(super) struct Queued {
    pub backup: Backup,
    pub offset: u64,
}

/// How a read of the current file ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadEnd {
    /// Everything available was read.
    AtEnd,
    /// The budget ran out with more to read.
    More,
    /// The file could not be read further (warned, and retired).
    Failed,
    /// The handler wants no more.
    Stop,
}

/// State of one followed path.
pub struct FileFollower {
    pub(super) name: LogName,
    pub(super) label: String,
    pub(super) max_line: usize,
    pub(super) block_size: usize,
    pub(super) cur: Option<Open>,
    /// Backups to read before the active file.
    pub(super) queue: VecDeque<Queued>,
    /// Backups with a name time at or before this are done (read or skipped).
    pub(super) watermark: Option<NameTime>,
    pub(super) consumed: VecDeque<Fingerprint>,
    /// Last position handed to the handler, for the checkpoint.
    pub(super) last: Option<Entry>,
    /// The block buffer, reused.
    pub(super) buf: Vec<u8>,
    last_warning: String,
    /// Wall-clock time the active file was last confirmed in place.
    last_seen_ms: NameTime,
    /// The unfinished bytes last shown to the handler: file, offset, length.
    unfinished_shown: Option<(String, u64, usize)>,
}

impl FileFollower {
    pub fn new(path: &Path, max_line: usize, block_size: usize) -> FileFollower {
        FileFollower {
            name: LogName::new(path),
            label: path.display().to_string(),
            max_line,
            block_size,
            cur: None,
            queue: VecDeque::new(),
            watermark: None,
            consumed: VecDeque::new(),
            last: None,
            buf: Vec::new(),
            last_warning: String::new(),
            last_seen_ms: super::backups::now_ms(),
            unfinished_shown: None,
        }
    }

    /// The current file's bytes read but not handed out: its label, their offset, them.
    pub fn unfinished(&self) -> Option<(String, u64, &[u8])> {
        let cur = self.cur.as_ref()?;
        let pending = cur.reader.pending();
        (!pending.is_empty()).then(|| (cur.label(), cur.reader.offset(), pending))
    }

    pub fn dir(&self) -> &Path {
        &self.name.dir
    }

    pub fn follow_path(&self) -> &Path {
        &self.name.active
    }

    /// Checkpoint entry for the current position, if any is known.
    pub fn position(&self, now: NameTime) -> Option<Entry> {
        self.last.clone().map(|e| Entry {
            saved_at_ms: now,
            ..e
        })
    }

    /// Warns once per distinct message, so a persistent problem (an unreadable file)
    /// does not flood stderr at every poll.
    pub(super) fn warn_once(&mut self, out: &mut dyn Handler, message: String) {
        if message != self.last_warning {
            out.warn(&message);
            self.last_warning = message;
        }
    }

    /// Reads what is available.
    pub fn step(&mut self, out: &mut dyn Handler) -> Result<Step, OutputError> {
        for _ in 0..64 {
            if self.cur.is_none() && !self.open_next(out) {
                return Ok(Step::Idle);
            }
            let role = self.cur.as_ref().map(|c| c.role);
            // Before reading: bytes past our offset in a truncated and rewritten file
            // would be the middle of some other line.
            if role == Some(Role::Active) && (self.check_truncation(out)? || self.copied_away(out))
            {
                continue;
            }
            match self.read_cur(out, BUDGET)? {
                ReadEnd::Failed => {
                    self.abandon();
                    continue;
                }
                ReadEnd::Stop => return Ok(Step::Done),
                ReadEnd::More => return Ok(Step::Busy),
                ReadEnd::AtEnd => {}
            }
            if let Some(Role::Backup(_)) = role {
                if self.retire(out)? == Flow::Stop {
                    return Ok(Step::Done);
                }
                continue;
            }
            if !self.path_moved(out) {
                return Ok(Step::Idle);
            }
            if self.rotate(out)? == Flow::Stop {
                return Ok(Step::Done);
            }
        }
        Ok(Step::Busy)
    }

    /// Reads from the current file, about `budget` bytes at most.
    pub(super) fn read_cur(
        &mut self,
        out: &mut dyn Handler,
        budget: u64,
    ) -> Result<ReadEnd, OutputError> {
        let Some(cur) = self.cur.as_mut() else {
            return Ok(ReadEnd::AtEnd);
        };
        let label = cur.label();
        let mut total = 0u64;
        let mut buf = std::mem::take(&mut self.buf);
        let outcome = loop {
            if total >= budget {
                break Ok(ReadEnd::More);
            }
            match cur.reader.next_chunk(&mut buf) {
                Ok(Some(Chunk::Lines { data, len })) => {
                    let offset = cur.reader.offset() - len as u64;
                    let flow = out.block(&label, offset, &data[..len]);
                    buf = data;
                    total += len as u64;
                    match flow {
                        Ok(Flow::Continue) => {}
                        Ok(Flow::Stop) => break Ok(ReadEnd::Stop),
                        Err(e) => break Err(e),
                    }
                }
                Ok(Some(Chunk::LongLine { bytes })) => {
                    let offset = cur.reader.offset().saturating_sub(bytes + 1);
                    if let Err(e) = out.long_line(&label, offset, bytes) {
                        break Err(e);
                    }
                    total += bytes;
                }
                Ok(Some(Chunk::Pause)) => {
                    let pending = cur.reader.pending();
                    let shown = (label.clone(), cur.reader.offset(), pending.len());
                    if pending.is_empty() || self.unfinished_shown.as_ref() == Some(&shown) {
                        break Ok(ReadEnd::AtEnd);
                    }
                    let flow = out.unfinished(&label, shown.1, pending);
                    self.unfinished_shown = Some(shown);
                    match flow {
                        Ok(Flow::Continue) => break Ok(ReadEnd::AtEnd),
                        Ok(Flow::Stop) => break Ok(ReadEnd::Stop),
                        Err(e) => break Err(e),
                    }
                }
                Ok(None) => break Ok(ReadEnd::AtEnd),
                Err(e) => {
                    out.warn(&format!(
                        "{label}: read error: {e}; skipping the rest of it"
                    ));
                    break Ok(ReadEnd::Failed);
                }
            }
        };
        self.buf = buf;
        self.note_position();
        outcome
    }

    /// Drops the current file after a read error (what could be read was handed out).
    pub(super) fn abandon(&mut self) {
        if let Some(cur) = self.cur.take() {
            if let Some(fp) = cur.fp {
                self.remember(fp);
            }
            if let Role::Backup(t) = cur.role {
                self.watermark = self.watermark.max(Some(t));
            }
        }
    }

    /// Records the current position (a record end) for the checkpoint.
    pub(super) fn note_position(&mut self) {
        let Some(cur) = self.cur.as_mut() else { return };
        if cur.fp.is_none()
            && let Some(f) = &cur.file
            && cur.reader.offset() > 0
        {
            cur.fp = identity::fingerprint_file(f).ok().flatten();
        }
        let fp = cur.fp.unwrap_or(Fingerprint { hash: 0, len: 0 });
        self.last = Some(Entry {
            follow: self.name.active.clone(),
            path: cur.path.clone(),
            dev: cur.id.dev,
            ino: cur.id.ino,
            fingerprint: fp.hash,
            first_line_len: fp.len,
            offset: cur.reader.offset(),
            saved_at_ms: 0,
            backup_time_ms: match cur.role {
                Role::Backup(t) => Some(t),
                Role::Active => None,
            },
        });
    }

    /// The active file has shown nothing yet (not even a whole first line), but a backup
    /// we have not read appeared while its path stayed: lines were written here and copied
    /// away (copytruncate) between two looks. The backup is read first, then the active
    /// file again from its start.
    fn copied_away(&mut self, out: &mut dyn Handler) -> bool {
        let Some(cur) = &self.cur else {
            return false;
        };
        if cur.fp.is_some() || cur.reader.offset() > 0 || cur.role != Role::Active {
            return false;
        }
        let backups = self.list_backups(out);
        if self.queue_unseen(&backups) == 0 {
            return false;
        }
        self.cur = None;
        true
    }

    /// True when the active path no longer names the open file (renamed, deleted,
    /// replaced, or a symlink retargeted).
    fn path_moved(&mut self, out: &mut dyn Handler) -> bool {
        let meta = match std::fs::metadata(&self.name.active) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return true,
            Err(e) => {
                let msg = format!("{}: {e}", self.label);
                self.warn_once(out, msg);
                return false;
            }
        };
        let moved = self.cur.as_ref().is_some_and(|c| c.id != FileId::of(&meta));
        if !moved {
            self.last_seen_ms = super::backups::now_ms();
        }
        moved
    }

    /// Detects truncation of the open active file: size below our read position, or a
    /// different first line (truncated and rewritten past our offset).
    fn check_truncation(&mut self, out: &mut dyn Handler) -> Result<bool, OutputError> {
        let Some(cur) = self.cur.as_mut() else {
            return Ok(false);
        };
        let Some(file) = &cur.file else {
            return Ok(false);
        };
        // An fstat/pread failure is treated as "unchanged": the next wake-up tries
        // again, and the stat of the path still catches rotation.
        let Ok(size) = file.metadata().map(|m| m.len()) else {
            return Ok(false);
        };
        let pos = cur.reader.read_pos();
        let first = || identity::fingerprint_file(file).ok().flatten();
        let msg = if size < pos {
            format!(
                "{}: file truncated (size {size} < offset {pos}); reading it again from the start",
                self.label
            )
        } else if cur.fp.is_some() && first() != cur.fp {
            format!(
                "{}: file truncated and rewritten (first line changed); reading it again from the start",
                self.label
            )
        } else if cur.fp.is_none() && !still_there(file, cur.reader.offset(), cur.reader.pending())
        {
            // No whole first line yet, so no fingerprint: the bytes read but not handed
            // out tell whether the file was rewritten.
            format!(
                "{}: file truncated and rewritten (its first bytes changed); reading it again from the start",
                self.label
            )
        } else {
            if cur.fp.is_none() && pos > 0 {
                cur.fp = first();
            }
            return Ok(false);
        };
        self.truncated(out, &msg);
        Ok(true)
    }

    /// Same inode, content restarted: copytruncate or an editor. A lumberjack-named
    /// copy with our fingerprint holds the lines written between our last read and the
    /// truncation: read its tail first.
    fn truncated(&mut self, out: &mut dyn Handler, msg: &str) {
        out.warn(msg);
        let Some(cur) = self.cur.as_mut() else {
            return;
        };
        let (fp, offset) = (cur.fp, cur.reader.offset());
        if let Some(f) = &mut cur.file {
            if let Err(e) = f.seek(SeekFrom::Start(0)) {
                out.warn(&format!("{}: cannot seek: {e}", self.label));
            }
            match plain_reader(f, self.block_size, self.max_line, 0) {
                Ok(reader) => cur.reader = reader,
                Err(e) => out.warn(&format!("{}: {e}", self.label)),
            }
        }
        cur.fp = None;
        let backups = self.list_backups(out);
        let newer: Vec<Backup> = backups
            .into_iter()
            .filter(|b| self.is_after_watermark(b.time))
            .collect();
        if fp.is_none() && offset == 0 {
            // Nothing of this file was handed out: every backup that appeared since holds
            // lines written here before the truncation (copies of it). Read them first.
            if self.queue_unseen(&newer) > 0 {
                self.cur = None;
            }
            self.note_position();
            return;
        }
        // The copy made at the truncation has our first line: read its unread tail.
        // Backups made after it are copies of lines written after the truncation (when
        // several copytruncates came between two looks): read them whole, in order.
        let copy = newer.iter().position(|b| {
            // A copy may have been compressed since (its fingerprint is taken over the
            // decompressed bytes).
            fp.is_some() && identity::fingerprint_path(&b.path).ok().flatten() == fp
        });
        if let Some(b) = newer.last() {
            self.watermark = self.watermark.max(Some(b.time));
        }
        let after = copy.map_or(0, |i| i + 1);
        if let Some(i) = copy {
            self.queue.push_back(Queued {
                backup: newer[i].clone(),
                offset,
            });
        } else if offset > 0 {
            out.warn(&format!(
                "{}: no copy of the truncated file was found (copytruncate to another name, or pruned); events written after byte {offset} before the truncation are missing, if there were any",
                self.label
            ));
        }
        for b in &newer[after..] {
            self.queue.push_back(Queued {
                backup: b.clone(),
                offset: 0,
            });
        }
        if !self.queue.is_empty() {
            // Read those first, then the active file from 0.
            self.cur = None;
        }
        self.note_position();
    }

    /// The active path now names another file (or none): drain the old file to its end
    /// (lumberjack writes nothing after the rename, but the bytes written before it may
    /// not have been read), then plan what follows.
    fn rotate(&mut self, out: &mut dyn Handler) -> Result<Flow, OutputError> {
        loop {
            match self.read_cur(out, u64::MAX)? {
                ReadEnd::More => continue,
                ReadEnd::Stop => return Ok(Flow::Stop),
                ReadEnd::AtEnd => break,
                ReadEnd::Failed => {
                    self.abandon();
                    break;
                }
            }
        }
        let Some(old) = self.cur.as_ref() else {
            return Ok(Flow::Continue);
        };
        let (id, fp) = (old.id, old.fp);
        if self.retire(out)? == Flow::Stop {
            return Ok(Flow::Stop);
        }
        let backups = self.list_backups(out);
        let found = backups
            .iter()
            .rev() // the retired file is normally the newest backup
            .find(|b| same_file(b, id, fp))
            .map(|b| b.time);
        if let Some(t) = found {
            self.watermark = self.watermark.max(Some(t));
        }
        let queued = self.queue_unseen(&backups);
        if found.is_none() && fp.is_some() && queued > 0 {
            self.warn_possible_gap(out);
        }
        Ok(Flow::Continue)
    }

    /// The rotated file vanished before we could see its backup (pruned while we were
    /// stopped): if its successors were pruned too, events are gone. We cannot tell, so
    /// say so with the time range at stake.
    fn warn_possible_gap(&mut self, out: &mut dyn Handler) {
        let Some(oldest) = self.queue.front() else {
            return;
        };
        let msg = format!(
            "{}: the rotated file was pruned before auditq saw its backup; if later backups were pruned too, events between {} and {} are missing",
            self.label,
            format_time(self.last_seen_ms),
            format_time(oldest.backup.time)
        );
        out.warn(&msg);
    }

    /// Finishes the current file: what is left is handed out (a last line without `\n`
    /// with a warning, never glued to the next file), its fingerprint remembered.
    pub(super) fn retire(&mut self, out: &mut dyn Handler) -> Result<Flow, OutputError> {
        let Some(mut cur) = self.cur.take() else {
            return Ok(Flow::Continue);
        };
        let label = cur.label();
        let pending = cur.reader.pending();
        if !pending.is_empty() && !pending.ends_with(b"\n") {
            let from = pending
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            out.warn(&format!(
                "{label}: last line ({} bytes at offset {}) has no final newline; read as is",
                pending.len() - from,
                cur.reader.offset() + from as u64
            ));
        }
        cur.reader.finish_input();
        self.cur = Some(cur);
        let flow = loop {
            match self.read_cur(out, u64::MAX)? {
                ReadEnd::More => continue,
                ReadEnd::Stop => break Flow::Stop,
                ReadEnd::AtEnd | ReadEnd::Failed => break Flow::Continue,
            }
        };
        let Some(cur) = self.cur.take() else {
            return Ok(flow);
        };
        if let Some(fp) = cur.fp {
            self.remember(fp);
        }
        if let Role::Backup(t) = cur.role {
            self.watermark = self.watermark.max(Some(t));
        }
        self.cur = Some(cur);
        self.note_position();
        self.cur = None;
        Ok(flow)
    }

    fn remember(&mut self, fp: Fingerprint) {
        if self.consumed.len() == CONSUMED_MAX {
            self.consumed.pop_front();
        }
        self.consumed.push_back(fp);
    }

    pub(super) fn is_after_watermark(&self, t: NameTime) -> bool {
        self.watermark.is_none_or(|w| t > w)
    }

    /// Lists backups; an unreadable directory is a warning, not an error (a directory
    /// that does not exist yet is silent: it is waited for).
    pub(super) fn list_backups(&mut self, out: &mut dyn Handler) -> Vec<Backup> {
        match self.name.list() {
            Ok(v) => v,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                let msg = format!("{}: cannot list backups: {e}", self.name.dir.display());
                self.warn_once(out, msg);
                Vec::new()
            }
        }
    }

    /// Queues backups newer than the watermark that were not read yet, in name-time
    /// order. Returns how many were added.
    pub(super) fn queue_unseen(&mut self, backups: &[Backup]) -> usize {
        let mut added = 0;
        for b in backups {
            let queued = self.queue.iter().any(|q| q.backup.time == b.time);
            if queued || !self.is_after_watermark(b.time) {
                continue;
            }
            let fp = identity::fingerprint_path(&b.path).ok().flatten();
            if fp.is_some_and(|fp| self.consumed.contains(&fp)) {
                self.watermark = self.watermark.max(Some(b.time));
                continue;
            }
            self.queue.push_back(Queued {
                backup: b.clone(),
                offset: 0,
            });
            added += 1;
        }
        added
    }

    /// Opens the next queued backup, else the active file. Returns false when there is
    /// nothing to read yet (e.g. the path does not exist).
    fn open_next(&mut self, out: &mut dyn Handler) -> bool {
        for _ in 0..64 {
            if let Some(q) = self.queue.pop_front() {
                if let Some(open) = self.open_backup(&q.backup, q.offset, out) {
                    self.cur = Some(open);
                    return true;
                }
                continue;
            }
            let Some(file) = self.open_active_path(out) else {
                // No active file (not created yet, or rotated away and not recreated):
                // backups that appeared meanwhile are read now, not when it reappears.
                let backups = self.list_backups(out);
                if self.queue_unseen(&backups) > 0 {
                    continue;
                }
                return false;
            };
            // A rotation between the last listing and this open would hide files
            // behind the one just opened: list again, read those first.
            let backups = self.list_backups(out);
            if self.queue_unseen(&backups) > 0 {
                continue;
            }
            match active_open(file, &self.name.active, 0, self.max_line, self.block_size) {
                Ok(open) => self.cur = Some(open),
                Err(e) => {
                    let msg = format!("{}: {e}", self.label);
                    self.warn_once(out, msg);
                    return false;
                }
            }
            self.note_position();
            return true;
        }
        false
    }

    pub(super) fn open_active_path(&mut self, out: &mut dyn Handler) -> Option<File> {
        match File::open(&self.name.active) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                let msg = format!("{}: {e}", self.label);
                self.warn_once(out, msg);
                None
            }
        }
    }

    /// Opens a backup at `offset` (decompressing gzip). A `.log` that was compressed
    /// meanwhile is read from its `.gz`; one that is gone altogether is reported as a gap.
    fn open_backup(&mut self, b: &Backup, offset: u64, out: &mut dyn Handler) -> Option<Open> {
        let previous = self.watermark;
        self.watermark = self.watermark.max(Some(b.time));
        let mut b = b.clone();
        if !b.compressed && !b.path.exists() {
            let mut gz = b.path.clone().into_os_string();
            gz.push(".gz");
            b.path = PathBuf::from(gz);
            b.compressed = true;
        }
        match open_backup_file(&b, offset, self.max_line, self.block_size) {
            Ok(Some(open)) if open.fp.is_some_and(|fp| self.consumed.contains(&fp)) => None,
            Ok(Some(open)) => Some(open),
            Ok(None) => {
                let msg = format!(
                    "{}: backup ends before the checkpointed offset {offset}; skipped",
                    b.path.display()
                );
                self.warn_once(out, msg);
                None
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let from = previous.map_or_else(|| "its start".to_string(), format_time);
                let msg = format!(
                    "{}: backup {} was pruned before it could be read: events between {from} and {} are missing",
                    self.label,
                    b.path.display(),
                    format_time(b.time)
                );
                self.warn_once(out, msg);
                None
            }
            Err(e) => {
                let msg = format!("{}: {e}; skipped", b.path.display());
                self.warn_once(out, msg);
                None
            }
        }
    }
}

/// Whether `file` still holds `bytes` at `offset` (read with `pread`).
fn still_there(file: &File, offset: u64, bytes: &[u8]) -> bool {
    use std::os::unix::fs::FileExt;
    if bytes.is_empty() {
        return true;
    }
    let mut now = vec![0u8; bytes.len()];
    match file.read_exact_at(&mut now, offset) {
        Ok(()) => now == bytes,
        // Shorter than that: truncated (the size check says so too).
        Err(_) => false,
    }
}

/// Does backup `b` hold the file we had open (same inode, or same content for a `.gz`
/// made from it)?
fn same_file(b: &Backup, id: FileId, fp: Option<Fingerprint>) -> bool {
    if !b.compressed {
        let same_id = std::fs::metadata(&b.path).is_ok_and(|m| FileId::of(&m) == id);
        if same_id {
            return true;
        }
    }
    fp.is_some() && identity::fingerprint_path(&b.path).ok().flatten() == fp
}

/// A block reader over a duplicate of `file`'s descriptor (sharing its offset), with
/// offsets counted from `offset`.
fn plain_reader(
    file: &File,
    block_size: usize,
    max_line: usize,
    offset: u64,
) -> io::Result<BlockReader> {
    let dup = file.try_clone()?;
    Ok(BlockReader::new(Box::new(dup), block_size, max_line, ReadMode::Follow).with_offset(offset))
}

/// Wraps an open active file positioned at `offset`. A gzip file (by its magic bytes) is
/// read decompressed, to its end, with offsets in decompressed bytes.
pub(super) fn active_open(
    mut file: File,
    path: &Path,
    offset: u64,
    max_line: usize,
    block_size: usize,
) -> io::Result<Open> {
    let id = FileId::of(&file.metadata()?);
    if identity::is_gzip(&file)? {
        let fp = identity::fingerprint_gz(path)?;
        let mut dec = crate::source::decompress_if_gzip(Box::new(file))?;
        io::copy(&mut (&mut dec).take(offset), &mut io::sink())?;
        let reader =
            BlockReader::new(dec, block_size, max_line, ReadMode::Stream).with_offset(offset);
        return Ok(Open {
            reader,
            file: None,
            path: path.to_path_buf(),
            id,
            fp,
            role: Role::Active,
        });
    }
    let fp = identity::fingerprint_file(&file)?;
    file.seek(SeekFrom::Start(offset))?;
    let reader = plain_reader(&file, block_size, max_line, offset)?;
    Ok(Open {
        reader,
        file: Some(file),
        path: path.to_path_buf(),
        id,
        fp,
        role: Role::Active,
    })
}

/// Opens a backup (gzip recognised by its magic bytes, whatever its name) and skips to
/// `offset`; `Ok(None)` if it is shorter.
pub(super) fn open_backup_file(
    b: &Backup,
    offset: u64,
    max_line: usize,
    block_size: usize,
) -> io::Result<Option<Open>> {
    let mut file = File::open(&b.path)?;
    let id = FileId::of(&file.metadata()?);
    let role = Role::Backup(b.time);
    if !identity::is_gzip(&file)? {
        if file.metadata()?.len() < offset {
            return Ok(None);
        }
        let fp = identity::fingerprint_file(&file)?;
        file.seek(SeekFrom::Start(offset))?;
        let reader = plain_reader(&file, block_size, max_line, offset)?;
        return Ok(Some(Open {
            reader,
            file: Some(file),
            path: b.path.clone(),
            id,
            fp,
            role,
        }));
    }
    let fp = identity::fingerprint_gz(&b.path)?;
    let mut dec = flate2::read::MultiGzDecoder::new(io::BufReader::new(file));
    let skipped = io::copy(&mut (&mut dec).take(offset), &mut io::sink())?;
    if skipped < offset {
        return Ok(None);
    }
    // A complete backup: its end is its end (Batch mode), not a pause.
    let reader =
        BlockReader::new(Box::new(dec), block_size, max_line, ReadMode::Stream).with_offset(offset);
    Ok(Some(Open {
        reader,
        file: None,
        path: b.path.clone(),
        id,
        fp,
        role,
    }))
}
