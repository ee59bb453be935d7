//! Where following begins: a checkpoint if one applies, else `--from-start`,
//! the end of the active file, or the last N matching lines.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::Out;
use super::Start;
use super::backups::format_time;
use super::checkpoint::Entry;
use super::follower::{FileFollower, active_open, open_backup_file};
use super::identity::{self, FileId, Fingerprint};
use super::reader::LineSink;

impl FileFollower {
    /// Positions the follower: a valid checkpoint `entry` wins over `start`.
    pub fn start(
        &mut self,
        start: Start,
        entry: Option<&Entry>,
        out: &mut Out<'_>,
    ) -> io::Result<()> {
        if let Some(e) = entry
            && self.resume(e, out)?
        {
            return Ok(());
        }
        match start {
            Start::FromStart => {
                let backups = self.list_backups(out);
                self.queue_unseen(&backups);
            }
            Start::End | Start::LastMatches(0) => self.start_at_end(out)?,
            Start::LastMatches(n) => self.start_last(n, out)?,
        }
        Ok(())
    }

    /// After the last complete line of the active file; existing backups are
    /// treated as already seen. A missing file will be read from 0 once it
    /// appears (everything in it is new).
    fn start_at_end(&mut self, out: &mut Out<'_>) -> io::Result<()> {
        // Open before listing: if a rotation slips in between, the opened
        // file shows up as a backup and is drained as usual.
        let file = self.open_active_path(out);
        let backups = self.list_backups(out);
        self.watermark = backups.last().map(|b| b.time);
        let Some(file) = file else { return Ok(()) };
        let opened = last_line_end(&file)
            .and_then(|offset| active_open(file, &self.name.active, offset, self.max_line));
        match opened {
            Ok(open) => self.cur = Some(open),
            // Read from 0 once it becomes readable: better a repeat than a loss.
            Err(e) => self.warn_once(out, format!("{}: {e}", self.label)),
        }
        self.note_position();
        Ok(())
    }

    /// `-n N`: collect the last N matches of the active file, then of
    /// backups newest first until N are found; print them oldest first and
    /// keep following the active file from where the scan ended.
    fn start_last(&mut self, n: usize, out: &mut Out<'_>) -> io::Result<()> {
        let file = self.open_active_path(out);
        let backups = self.list_backups(out);
        self.watermark = backups.last().map(|b| b.time);
        let mut lines = VecDeque::new();
        let opened = file.map(|f| active_open(f, &self.name.active, 0, self.max_line));
        if let Some(Err(e)) = &opened {
            let msg = format!("{}: {e}", self.label);
            self.warn_once(out, msg);
        }
        if let Some(Ok(mut open)) = opened {
            let mut c = Collector::new(out, n);
            let label = self.label.clone();
            if let Err(e) = open
                .reader
                .read_some(&mut open.src, &mut c, u64::MAX, &label)
            {
                c.out.warn(&format!("{label}: read error: {e}"));
            }
            lines = c.lines;
            self.cur = Some(open);
        }
        // If a rotation slipped in between the open and the listing, the
        // active file is also the newest backup: do not count it twice.
        let active_fp = self.cur.as_ref().and_then(|c| c.fp);
        for b in backups.iter().rev() {
            if lines.len() >= n {
                break;
            }
            let older = self.collect_backup(b, n - lines.len(), active_fp, out);
            for l in older.into_iter().rev() {
                lines.push_front(l);
            }
        }
        for l in &lines {
            out.emit_matched(l)?;
        }
        self.note_position();
        Ok(())
    }

    /// The last `want` matching lines of one backup (oldest first).
    fn collect_backup(
        &mut self,
        b: &super::backups::Backup,
        want: usize,
        skip: Option<Fingerprint>,
        out: &mut Out<'_>,
    ) -> VecDeque<Vec<u8>> {
        let label = b.path.display().to_string();
        let mut open = match open_backup_file(b, 0, self.max_line) {
            Ok(Some(o)) if skip.is_some() && o.fp == skip => return VecDeque::new(),
            Ok(Some(o)) => o,
            Ok(None) => return VecDeque::new(),
            Err(e) => {
                self.warn_once(out, format!("{label}: {e}; skipped"));
                return VecDeque::new();
            }
        };
        let mut c = Collector::new(out, want);
        let res = open
            .reader
            .read_some(&mut open.src, &mut c, u64::MAX, &label);
        let res = res.and_then(|_| open.reader.flush_partial(&mut c, &label));
        if let Err(e) = res {
            c.out.warn(&format!("{label}: read error: {e}"));
        }
        c.lines
    }

    /// Resumes from a checkpoint entry. Returns false (after a warning) when
    /// the checkpoint is stale and the configured start must be used.
    fn resume(&mut self, e: &Entry, out: &mut Out<'_>) -> io::Result<bool> {
        let fp = (e.first_line_len > 0).then_some(Fingerprint {
            hash: e.fingerprint,
            len: e.first_line_len,
        });
        let active = self.open_active_path(out);
        let backups = self.list_backups(out);
        if let Some(file) = active {
            let resumed = self.resume_active(file, e, fp, out).unwrap_or_else(|err| {
                out.warn(&format!("{}: {err}", self.label));
                None
            });
            match resumed {
                Some(true) => {
                    self.watermark = backups.last().map(|b| b.time);
                    return Ok(true);
                }
                Some(false) => return Ok(false),
                None => {}
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
                    return Ok(false);
                }
                self.watermark = Some(b.time);
                self.queue.push_back((b.clone(), e.offset));
                self.queue_unseen(&backups);
                return Ok(true);
            }
        }
        self.resume_after_gap(e, &backups, out)
    }

    /// `Some(true)`: resumed in the active file; `Some(false)`: stale;
    /// `None`: the checkpoint is about another file.
    fn resume_active(
        &mut self,
        file: File,
        e: &Entry,
        fp: Option<Fingerprint>,
        out: &mut Out<'_>,
    ) -> io::Result<Option<bool>> {
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
            return Ok(None);
        }
        if meta.len() < e.offset {
            self.stale(
                e,
                "the checkpointed offset is beyond the end of the file",
                out,
            );
            return Ok(Some(false));
        }
        self.cur = Some(active_open(
            file,
            &self.name.active,
            e.offset,
            self.max_line,
        )?);
        self.note_position();
        Ok(Some(true))
    }

    /// The checkpointed file is nowhere. If backups newer than it survive,
    /// it was pruned: report the range at risk and continue with the oldest
    /// survivor. Otherwise the checkpoint is about something else: stale.
    fn resume_after_gap(
        &mut self,
        e: &Entry,
        backups: &[super::backups::Backup],
        out: &mut Out<'_>,
    ) -> io::Result<bool> {
        let threshold = e.backup_time_ms.unwrap_or(e.saved_at_ms - 1);
        let Some(oldest) = backups.iter().find(|b| b.time > threshold) else {
            self.stale(e, "its file (fingerprint) was not found", out);
            return Ok(false);
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
        Ok(true)
    }

    fn stale(&mut self, e: &Entry, why: &str, out: &mut Out<'_>) {
        out.warn(&format!(
            "{}: stale checkpoint for {} (offset {}): {why}; using the configured start",
            self.label,
            e.path.display(),
            e.offset
        ));
    }
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

/// Keeps the last `want` matching lines instead of emitting them.
struct Collector<'o, 'h> {
    out: &'o mut Out<'h>,
    want: usize,
    lines: VecDeque<Vec<u8>>,
}

impl<'o, 'h> Collector<'o, 'h> {
    fn new(out: &'o mut Out<'h>, want: usize) -> Self {
        Collector {
            out,
            want,
            lines: VecDeque::new(),
        }
    }
}

impl LineSink for Collector<'_, '_> {
    fn line(&mut self, line: &[u8]) -> io::Result<()> {
        if self.want > 0 && self.out.is_match(line) {
            if self.lines.len() == self.want {
                self.lines.pop_front();
            }
            self.lines.push_back(line.to_vec());
        }
        Ok(())
    }

    fn warn(&mut self, message: &str) {
        self.out.warn(message);
    }
}
