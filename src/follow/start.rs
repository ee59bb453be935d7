//! Where following begins: a checkpoint if one applies, else `--from-start`,
//! the end of the active file, or the last N matching lines.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::backups::format_time;
use super::checkpoint::Entry;
use super::follower::{FileFollower, Queued, ReadEnd, active_open, open_backup_file};
use super::identity::{self, FileId, Fingerprint};
use super::{Collected, Flow, Handler, OutputError, Start};

/// What a checkpoint says about the active file.
enum Resumed {
    /// It names the active file: reading resumes there.
    InActive,
    /// It names the active file, but an offset beyond its end (warned).
    Stale,
    /// It names some other file (a backup, or one that is gone).
    OtherFile,
}

impl FileFollower {
    /// Positions the follower: a valid checkpoint `entry` wins over `start`.
    pub fn start(
        &mut self,
        start: Start,
        entry: Option<&Entry>,
        out: &mut dyn Handler,
    ) -> Result<Flow, OutputError> {
        if let Some(e) = entry
            && self.resume(e, out)
        {
            return Ok(Flow::Continue);
        }
        match start {
            Start::FromStart => {
                let backups = self.list_backups(out);
                self.queue_unseen(&backups);
                Ok(Flow::Continue)
            }
            Start::End | Start::LastMatches(0) => {
                self.start_at_end(out);
                Ok(Flow::Continue)
            }
            Start::LastMatches(n) => self.start_last(n, out),
        }
    }

    /// After the last complete line of the active file; existing backups are
    /// treated as already seen. A missing file will be read from 0 once it
    /// appears (everything in it is new).
    fn start_at_end(&mut self, out: &mut dyn Handler) {
        // Open before listing: if a rotation slips in between, the opened
        // file shows up as a backup and is drained as usual.
        let file = self.open_active_path(out);
        let backups = self.list_backups(out);
        self.watermark = backups.last().map(|b| b.time);
        let Some(file) = file else { return };
        let (max_line, block) = (self.max_line, self.block_size);
        let path = self.name.active.clone();
        let opened = end_offset(&file, &path)
            .and_then(|offset| active_open(file, &path, offset, max_line, block));
        match opened {
            Ok(open) => {
                // Messages name lines: count those before the start (once; a plain file).
                if let Some(file) = &open.file
                    && let Ok(lines) = count_lines(file, open.reader.offset())
                {
                    out.lines_before(
                        &open.path.display().to_string(),
                        open.reader.offset(),
                        lines,
                    );
                }
                self.cur = Some(open);
            }
            // Read from 0 once it becomes readable: better a repeat than a loss.
            Err(e) => self.warn_once(out, format!("{}: {e}", self.label)),
        }
        self.note_position();
    }

    /// `-n N`: collect the last N matches of the active file, then of backups newest
    /// first until N are found; print them oldest first and keep following the active
    /// file from where the scan ended.
    fn start_last(&mut self, n: usize, out: &mut dyn Handler) -> Result<Flow, OutputError> {
        let file = self.open_active_path(out);
        let backups = self.list_backups(out);
        self.watermark = backups.last().map(|b| b.time);
        let mut kept: Vec<Collected> = Vec::new();
        let (max_line, block) = (self.max_line, self.block_size);
        let opened = file.map(|f| active_open(f, &self.name.active, 0, max_line, block));
        if let Some(Err(e)) = &opened {
            let msg = format!("{}: {e}", self.label);
            self.warn_once(out, msg);
        }
        if let Some(Ok(open)) = opened {
            self.cur = Some(open);
            out.collect(n);
            // Everything there is now (its undecided tail is read as it grows).
            while self.read_cur(out, u64::MAX)? == ReadEnd::More {}
            kept = out.take_collected();
        }
        // If a rotation slipped in between the open and the listing, the active file is
        // also the newest backup: do not count it twice.
        let active_fp = self.cur.as_ref().and_then(|c| c.fp);
        for b in backups.iter().rev() {
            if kept.len() >= n {
                break;
            }
            let mut older = self.collect_backup(b, n - kept.len(), active_fp, out)?;
            older.append(&mut kept);
            kept = older;
        }
        self.note_position();
        out.emit_collected(kept)
    }

    /// The last `want` matches of one backup (oldest first).
    fn collect_backup(
        &mut self,
        b: &super::backups::Backup,
        want: usize,
        skip: Option<Fingerprint>,
        out: &mut dyn Handler,
    ) -> Result<Vec<Collected>, OutputError> {
        let label = b.path.display().to_string();
        let open = match open_backup_file(b, 0, self.max_line, self.block_size) {
            Ok(Some(o)) if skip.is_some() && o.fp == skip => return Ok(Vec::new()),
            Ok(Some(o)) => o,
            Ok(None) => return Ok(Vec::new()),
            Err(e) => {
                self.warn_once(out, format!("{label}: {e}; skipped"));
                return Ok(Vec::new());
            }
        };
        let active = self.cur.replace(open);
        out.collect(want);
        let mut result = Ok(());
        if let Some(cur) = self.cur.as_mut() {
            cur.reader.finish_input();
        }
        loop {
            match self.read_cur(out, u64::MAX) {
                Ok(ReadEnd::More) => continue,
                Ok(_) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let kept = out.take_collected();
        self.cur = active;
        result.map(|()| kept)
    }

    /// Resumes from a checkpoint entry. Returns false (after a warning) when
    /// the checkpoint is stale and the configured start must be used.
    fn resume(&mut self, e: &Entry, out: &mut dyn Handler) -> bool {
        let fp = (e.first_line_len > 0).then_some(Fingerprint {
            hash: e.fingerprint,
            len: e.first_line_len,
        });
        let active = self.open_active_path(out);
        let backups = self.list_backups(out);
        if let Some(file) = active {
            let resumed = self.resume_active(file, e, fp, out).unwrap_or_else(|err| {
                out.warn(&format!("{}: {err}", self.label));
                Resumed::OtherFile
            });
            match resumed {
                Resumed::InActive => {
                    self.watermark = backups.last().map(|b| b.time);
                    return true;
                }
                Resumed::Stale => return false,
                Resumed::OtherFile => {}
            }
        }
        if let Some(fp) = fp {
            let hit = backups
                .iter()
                .find(|b| identity::fingerprint_path(&b.path).ok().flatten() == Some(fp));
            if let Some(b) = hit {
                let short =
                    !b.compressed && std::fs::metadata(&b.path).is_ok_and(|m| m.len() < e.offset);
                if short {
                    self.stale(
                        e,
                        "the checkpointed offset is beyond the end of its file",
                        out,
                    );
                    return false;
                }
                self.watermark = Some(b.time);
                self.queue.push_back(Queued {
                    backup: b.clone(),
                    offset: e.offset,
                });
                self.queue_unseen(&backups);
                return true;
            }
        }
        self.resume_after_gap(e, &backups, out)
    }

    /// Tries to resume in the active file.
    fn resume_active(
        &mut self,
        file: File,
        e: &Entry,
        fp: Option<Fingerprint>,
        out: &mut dyn Handler,
    ) -> io::Result<Resumed> {
        let meta = file.metadata()?;
        let same = match fp {
            Some(fp) => identity::fingerprint_file(&file)? == Some(fp),
            None => {
                FileId::of(&meta)
                    == FileId {
                        dev: e.dev,
                        ino: e.ino,
                    }
                    && e.offset == 0
            }
        };
        if !same {
            return Ok(Resumed::OtherFile);
        }
        if meta.len() < e.offset {
            self.stale(
                e,
                "the checkpointed offset is beyond the end of the file",
                out,
            );
            return Ok(Resumed::Stale);
        }
        self.cur = Some(active_open(
            file,
            &self.name.active,
            e.offset,
            self.max_line,
            self.block_size,
        )?);
        self.note_position();
        Ok(Resumed::InActive)
    }

    /// The checkpointed file is nowhere. If backups newer than it survive,
    /// it was pruned: report the range at risk and continue with the oldest
    /// survivor. Otherwise the checkpoint is about something else: stale.
    fn resume_after_gap(
        &mut self,
        e: &Entry,
        backups: &[super::backups::Backup],
        out: &mut dyn Handler,
    ) -> bool {
        let threshold = e.backup_time_ms.unwrap_or(e.saved_at_ms - 1);
        let Some(oldest) = backups.iter().find(|b| b.time > threshold) else {
            self.stale(e, "its file (fingerprint) was not found", out);
            return false;
        };
        out.warn(&format!(
            "{}: checkpointed file {} is gone (pruned while auditq was not running); events between {} and {} may be missing; continuing with {}",
            self.label,
            e.path.display(),
            format_time(e.saved_at_ms),
            format_time(oldest.time),
            oldest.path.display()
        ));
        self.watermark = Some(threshold);
        self.queue_unseen(backups);
        true
    }

    fn stale(&mut self, e: &Entry, why: &str, out: &mut dyn Handler) {
        out.warn(&format!(
            "{}: stale checkpoint for {} (offset {}): {why}; using the configured start",
            self.label,
            e.path.display(),
            e.offset
        ));
    }
}

/// Where "the end" of an active file is: after its last `'\n'`, or for a gzip file the
/// end of its decompressed bytes.
fn end_offset(file: &File, path: &std::path::Path) -> io::Result<u64> {
    if identity::is_gzip(file)? {
        let mut dec = crate::source::decompress_if_gzip(Box::new(File::open(path)?))?;
        return io::copy(&mut dec, &mut io::sink());
    }
    last_line_end(file)
}

/// Offset just after the last `'\n'` of the file (0 if none), found by
/// reading backwards, so `-n 0` never starts inside a line.
fn last_line_end(file: &File) -> io::Result<u64> {
    let mut end = file.metadata()?.len();
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        let mut got = 0;
        while got < chunk.len() {
            let n = file.read_at(&mut chunk[got..], start + got as u64)?;
            if n == 0 {
                break;
            }
            got += n;
        }
        if let Some(i) = memchr::memrchr(b'\n', &chunk[..got]) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// The line ends in the first `end` bytes of `file`.
fn count_lines(file: &File, end: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let (mut at, mut lines) = (0u64, 0u64);
    while at < end {
        let want = usize::try_from(end - at)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            break;
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        at += n as u64;
    }
    Ok(lines)
}
