//! One followed log: reads the open file to EOF, notices rotation,
//! truncation and replacement by stat'ing the path, and walks unseen
//! backups in name-time order before the new active file.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::backups::{Backup, LogName, NameTime, format_time};
use super::checkpoint::Entry;
use super::identity::{self, FileId, Fingerprint};
use super::reader::{LineReader, LineSink};
use super::{Out, is_output_error};

/// Bytes read from one file before returning to the main loop (which
/// flushes and checkpoints), so a long catch-up still checkpoints.
const BUDGET: u64 = 4 << 20;
/// Fingerprints of fully read files remembered to avoid reading a file twice
/// (e.g. a backup that was compressed after we drained it).
const CONSUMED_MAX: usize = 1024;

/// The bytes of a plain file or a decompressed `.gz` backup.
pub(super) enum Src {
    Plain(File),
    Gz(Box<flate2::read::MultiGzDecoder<BufReader<File>>>),
}

impl Read for Src {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Src::Plain(f) => f.read(buf),
            Src::Gz(d) => d.read(buf),
        }
    }
}

/// The file currently being read.
pub(super) struct Open {
    pub src: Src,
    pub path: PathBuf,
    pub id: FileId,
    pub fp: Option<Fingerprint>,
    /// `Some(name time)` while reading a backup, `None` for the active file.
    pub backup_time: Option<NameTime>,
    pub reader: LineReader,
}

/// State of one followed path.
pub struct FileFollower {
    pub(super) name: LogName,
    pub(super) label: String,
    pub(super) max_line: usize,
    pub(super) cur: Option<Open>,
    /// Backups to read before the active file, with a start offset.
    pub(super) queue: VecDeque<(Backup, u64)>,
    /// Backups with a name time at or before this are done (read or skipped).
    pub(super) watermark: Option<NameTime>,
    pub(super) consumed: VecDeque<Fingerprint>,
    /// Last position handed to the handler, for the checkpoint.
    pub(super) last: Option<Entry>,
    last_warning: String,
    /// Wall-clock time the active file was last confirmed in place.
    last_seen_ms: NameTime,
}

impl FileFollower {
    pub fn new(path: &Path, max_line: usize) -> FileFollower {
        FileFollower {
            name: LogName::new(path),
            label: path.display().to_string(),
            max_line,
            cur: None,
            queue: VecDeque::new(),
            watermark: None,
            consumed: VecDeque::new(),
            last: None,
            last_warning: String::new(),
            last_seen_ms: super::backups::now_ms(),
        }
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

    /// Warns once per distinct message, so a persistent problem (an
    /// unreadable file) does not flood stderr at every poll.
    pub(super) fn warn_once(&mut self, out: &mut Out<'_>, message: String) {
        if message != self.last_warning {
            out.warn(&message);
            self.last_warning = message;
        }
    }

    /// Reads what is available. Returns true when input is still pending
    /// (the read budget ran out), so the caller should not sleep.
    pub fn step(&mut self, out: &mut Out<'_>) -> io::Result<bool> {
        for _ in 0..64 {
            if self.cur.is_none() && !self.open_next(out)? {
                return Ok(false);
            }
            let is_backup = self.cur.as_ref().is_some_and(|c| c.backup_time.is_some());
            // Before reading: bytes past our offset in a truncated and
            // rewritten file would be the middle of some other line.
            if !is_backup && self.check_truncation(out)? {
                continue;
            }
            let Some(eof) = self.read_cur(out, BUDGET)? else {
                continue;
            };
            if !eof {
                return Ok(true);
            }
            if is_backup {
                self.retire(out)?;
                continue;
            }
            if !self.path_moved(out) {
                return Ok(false);
            }
            self.rotate(out)?;
        }
        Ok(true)
    }

    /// Reads from the current file; `Ok(None)` when it failed and was
    /// given up (warned), `Ok(Some(eof))` otherwise.
    fn read_cur(&mut self, out: &mut Out<'_>, budget: u64) -> io::Result<Option<bool>> {
        let Some(cur) = self.cur.as_mut() else {
            return Ok(None);
        };
        let label = cur.path.display().to_string();
        let res = cur.reader.read_some(&mut cur.src, out, budget, &label);
        self.note_position();
        match res {
            Ok(p) => Ok(Some(p.eof)),
            Err(e) if is_output_error(&e) => Err(e),
            Err(e) => {
                self.warn_once(
                    out,
                    format!("{label}: read error: {e}; skipping the rest of it"),
                );
                self.retire(out)?;
                Ok(None)
            }
        }
    }

    /// Records the current line-end position for the checkpoint.
    pub(super) fn note_position(&mut self) {
        let Some(cur) = self.cur.as_mut() else { return };
        if cur.fp.is_none()
            && let Src::Plain(f) = &cur.src
            && cur.reader.line_end() > 0
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
            offset: cur.reader.line_end(),
            saved_at_ms: 0,
            backup_time_ms: cur.backup_time,
        });
    }

    /// True when the active path no longer names the open file (renamed,
    /// deleted, replaced, or a symlink retargeted).
    fn path_moved(&mut self, out: &mut Out<'_>) -> bool {
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

    /// Detects truncation of the open active file: size below our offset,
    /// or a different first line (truncated and rewritten past our offset).
    fn check_truncation(&mut self, out: &mut Out<'_>) -> io::Result<bool> {
        let Some(cur) = self.cur.as_mut() else {
            return Ok(false);
        };
        let Src::Plain(file) = &cur.src else {
            return Ok(false);
        };
        // An fstat/pread failure is treated as "unchanged": the next wake-up
        // tries again, and the stat of the path still catches rotation.
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
        } else {
            if cur.fp.is_none() && pos > 0 {
                cur.fp = first();
            }
            return Ok(false);
        };
        self.truncated(out, &msg)?;
        Ok(true)
    }

    /// Same inode, content restarted: copytruncate or an editor. A
    /// lumberjack-named copy with our fingerprint holds the lines written
    /// between our last read and the truncation: read its tail first.
    fn truncated(&mut self, out: &mut Out<'_>, msg: &str) -> io::Result<()> {
        out.warn(msg);
        let Some(cur) = self.cur.as_mut() else {
            return Ok(());
        };
        let (fp, offset) = (cur.fp, cur.reader.line_end());
        if let Src::Plain(f) = &mut cur.src
            && let Err(e) = f.seek(SeekFrom::Start(0))
        {
            out.warn(&format!("{}: cannot seek: {e}", self.label));
        }
        cur.reader.reset(0);
        cur.fp = None;
        let backups = self.list_backups(out);
        let newer: Vec<Backup> = backups
            .into_iter()
            .filter(|b| self.is_after_watermark(b.time))
            .collect();
        let mut copy = None;
        for b in &newer {
            if fp.is_some()
                && !b.compressed
                && identity::fingerprint_path(&b.path).ok().flatten() == fp
            {
                copy = Some(b.clone());
            }
            self.watermark = self.watermark.max(Some(b.time));
        }
        if let Some(b) = copy {
            // Read the copy's tail, then the active file from 0.
            self.queue.push_back((b, offset));
            self.cur = None;
        }
        self.note_position();
        Ok(())
    }

    /// The active path now names another file (or none): drain the old fd
    /// to EOF (lumberjack writes nothing after the rename, but the bytes
    /// written before it may not have been read), then plan what follows.
    fn rotate(&mut self, out: &mut Out<'_>) -> io::Result<()> {
        while let Some(false) = self.read_cur(out, u64::MAX)? {}
        let Some(old) = self.cur.as_ref() else {
            return Ok(());
        };
        let (id, fp) = (old.id, old.fp);
        self.retire(out)?;
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
        Ok(())
    }

    /// The rotated file vanished before we could see its backup (pruned
    /// while we were stopped): if its successors were pruned too, events are
    /// gone. We cannot tell, so say so with the time range at stake.
    fn warn_possible_gap(&mut self, out: &mut Out<'_>) {
        let Some((oldest, _)) = self.queue.front() else {
            return;
        };
        let msg = format!(
            "{}: the rotated file was pruned before auditq saw its backup; if later backups were pruned too, events between {} and {} are missing",
            self.label,
            format_time(self.last_seen_ms),
            format_time(oldest.time)
        );
        out.warn(&msg);
    }

    /// Finishes the current file: a final unterminated line is emitted with
    /// a warning (never glued to the next file), its fingerprint remembered.
    pub(super) fn retire(&mut self, out: &mut Out<'_>) -> io::Result<()> {
        let Some(mut cur) = self.cur.take() else {
            return Ok(());
        };
        let label = cur.path.display().to_string();
        cur.reader.flush_partial(out, &label)?;
        if let Some(fp) = cur.fp {
            self.remember(fp);
        }
        if let Some(t) = cur.backup_time {
            self.watermark = self.watermark.max(Some(t));
        }
        self.cur = Some(cur);
        self.note_position();
        self.cur = None;
        Ok(())
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

    /// Lists backups; an unreadable directory is a warning, not an error.
    pub(super) fn list_backups(&mut self, out: &mut Out<'_>) -> Vec<Backup> {
        match self.name.list() {
            Ok(v) => v,
            Err(e) => {
                let msg = format!("{}: cannot list backups: {e}", self.name.dir.display());
                self.warn_once(out, msg);
                Vec::new()
            }
        }
    }

    /// Queues backups newer than the watermark that were not read yet, in
    /// name-time order. Returns how many were added.
    pub(super) fn queue_unseen(&mut self, backups: &[Backup]) -> usize {
        let mut added = 0;
        for b in backups {
            let queued = self.queue.iter().any(|(q, _)| q.time == b.time);
            if queued || !self.is_after_watermark(b.time) {
                continue;
            }
            let fp = identity::fingerprint_path(&b.path).ok().flatten();
            if fp.is_some_and(|fp| self.consumed.contains(&fp)) {
                self.watermark = self.watermark.max(Some(b.time));
                continue;
            }
            self.queue.push_back((b.clone(), 0));
            added += 1;
        }
        added
    }

    /// Opens the next queued backup, else the active file. Returns false
    /// when there is nothing to read yet (e.g. the path does not exist).
    fn open_next(&mut self, out: &mut Out<'_>) -> io::Result<bool> {
        for _ in 0..64 {
            if let Some((b, offset)) = self.queue.pop_front() {
                if let Some(open) = self.open_backup(&b, offset, out) {
                    self.cur = Some(open);
                    return Ok(true);
                }
                continue;
            }
            let Some(file) = self.open_active_path(out) else {
                return Ok(false);
            };
            // A rotation between the last listing and this open would hide
            // files behind the one just opened: list again, read those first.
            let backups = self.list_backups(out);
            if self.queue_unseen(&backups) > 0 {
                continue;
            }
            match active_open(file, &self.name.active, 0, self.max_line) {
                Ok(open) => self.cur = Some(open),
                Err(e) => {
                    let msg = format!("{}: {e}", self.label);
                    self.warn_once(out, msg);
                    return Ok(false);
                }
            }
            self.note_position();
            return Ok(true);
        }
        Ok(false)
    }

    pub(super) fn open_active_path(&mut self, out: &mut Out<'_>) -> Option<File> {
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

    /// Opens a backup at `offset` (decompressing `.gz`). A `.log` that was
    /// compressed meanwhile is read from its `.gz`; one that is gone
    /// altogether is reported as a gap.
    fn open_backup(&mut self, b: &Backup, offset: u64, out: &mut Out<'_>) -> Option<Open> {
        let previous = self.watermark;
        self.watermark = self.watermark.max(Some(b.time));
        let mut b = b.clone();
        if !b.compressed && !b.path.exists() {
            let mut gz = b.path.clone().into_os_string();
            gz.push(".gz");
            b.path = PathBuf::from(gz);
            b.compressed = true;
        }
        match open_backup_file(&b, offset, self.max_line) {
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

/// Does backup `b` hold the file we had open (same inode, or same content
/// for a `.gz` made from it)?
fn same_file(b: &Backup, id: FileId, fp: Option<Fingerprint>) -> bool {
    if !b.compressed {
        let same_id = std::fs::metadata(&b.path).is_ok_and(|m| FileId::of(&m) == id);
        if same_id {
            return true;
        }
    }
    fp.is_some() && identity::fingerprint_path(&b.path).ok().flatten() == fp
}

/// Wraps an open active file positioned at `offset`.
pub(super) fn active_open(
    mut file: File,
    path: &Path,
    offset: u64,
    max_line: usize,
) -> io::Result<Open> {
    let id = FileId::of(&file.metadata()?);
    let fp = identity::fingerprint_file(&file)?;
    file.seek(SeekFrom::Start(offset))?;
    Ok(Open {
        src: Src::Plain(file),
        path: path.to_path_buf(),
        id,
        fp,
        backup_time: None,
        reader: LineReader::new(offset, max_line),
    })
}

/// Opens a backup and skips to `offset`; `Ok(None)` if it is shorter.
pub(super) fn open_backup_file(
    b: &Backup,
    offset: u64,
    max_line: usize,
) -> io::Result<Option<Open>> {
    let file = File::open(&b.path)?;
    let id = FileId::of(&file.metadata()?);
    let (src, fp) = if b.compressed {
        let fp = identity::fingerprint_gz(&b.path)?;
        let mut dec = flate2::read::MultiGzDecoder::new(BufReader::new(file));
        let skipped = io::copy(&mut (&mut dec).take(offset), &mut io::sink())?;
        if skipped < offset {
            return Ok(None);
        }
        (Src::Gz(Box::new(dec)), fp)
    } else {
        let mut file = file;
        if file.metadata()?.len() < offset {
            return Ok(None);
        }
        let fp = identity::fingerprint_file(&file)?;
        file.seek(SeekFrom::Start(offset))?;
        (Src::Plain(file), fp)
    };
    Ok(Some(Open {
        src,
        path: b.path.clone(),
        id,
        fp,
        backup_time: Some(b.time),
        reader: LineReader::new(offset, max_line),
    }))
}
