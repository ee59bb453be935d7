//! `auditq export`: every event auditq reads, as rows of the table of docs/scale-out.md,
//! into Parquet or normalised JSON lines, hive-partitioned by cluster and date.
//!
//! The workers build each matched event's row ([`row::RowBuilder`], from the event they
//! parsed) and the search writer hands the rows, in input order, to [`ExportSink`], which
//! adds `raw`, `seq`, `source_file`, `source_line` and `cluster` and writes the files
//! through [`files::Files`] (temporary until the run succeeds).

pub mod files;
pub(crate) mod parquet_file;
pub mod row;

use crate::parse::{number_text, write_json_string};
use crate::sink::{Match, Matched, Sink, Source, Totals};
use files::Files;
use parquet::arrow::ArrowWriter;
use row::{RowView, TypedValue};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Parquet,
    Jsonl,
}

/// A partition column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PartitionBy {
    Cluster,
    Date,
}

impl PartitionBy {
    pub fn column(self) -> &'static str {
        match self {
            PartitionBy::Cluster => "cluster",
            PartitionBy::Date => "date",
        }
    }
}

/// How an export writes.
#[derive(Debug, Clone)]
pub struct Spec {
    pub dir: PathBuf,
    pub format: Format,
    /// `--compress gzip` (JSON lines).
    pub gzip: bool,
    pub partition: Vec<PartitionBy>,
    pub cluster: Option<String>,
    /// In every file name, so that runs never collide.
    pub run_id: String,
    /// Data (before encoding) per Parquet row group.
    pub row_group_bytes: usize,
    /// Data per file: a partition's file is closed and the next one begun past this.
    pub file_bytes: usize,
}

/// A row with what the sink adds.
pub struct Full<'a> {
    pub view: RowView<'a>,
    pub raw: &'a str,
    pub seq: i64,
    pub source_file: &'a str,
    pub source_line: Option<i64>,
    pub cluster: Option<&'a str>,
}

/// What went wrong in an export, with where and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot create the output directory {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot write in the output directory {path}: {source} (choose another with -o)")]
    NotWritable { path: PathBuf, source: io::Error },
    #[error(
        "{path} already holds an export ({files} part file(s), e.g. {example}): add --append to add this one beside it, or --overwrite to replace it"
    )]
    Exists {
        path: PathBuf,
        files: usize,
        example: PathBuf,
    },
    #[error("cannot write {path}: {source}{}", hint(source))]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot encode Parquet for {path}: {message}")]
    Encode { path: PathBuf, message: String },
    #[error("cannot install the signal handler: {0}")]
    Signals(String),
    #[error(transparent)]
    Corrupt(#[from] row::Corrupt),
    /// The run stopped before its end (an input error, `--strict`); the error was printed.
    #[error("{0}")]
    Incomplete(String),
    /// The export failed and its temporary files were removed.
    #[error("{error}; nothing was exported ({removed} temporary file(s) of this run removed)")]
    Aborted {
        error: Box<ExportError>,
        removed: usize,
    },
}

/// What to do about a write error of this kind.
fn hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::ENOSPC) => {
            " (the disk is full: free space, or export to another directory with -o, and run the export again)"
        }
        Some(libc::EDQUOT) => {
            " (the disk quota is exceeded: free space or export elsewhere with -o)"
        }
        Some(libc::EFBIG) => {
            " (the file size limit was reached, see `ulimit -f`: raise it, or export elsewhere with -o)"
        }
        Some(libc::EROFS) => " (a read-only file system: export elsewhere with -o)",
        Some(libc::EACCES | libc::EPERM) => " (permission denied: export elsewhere with -o)",
        _ => "",
    }
}

/// A Parquet error as an export error about `path` (an I/O error keeps its kind).
fn parquet_error(path: &Path, e: parquet::errors::ParquetError) -> ExportError {
    if let parquet::errors::ParquetError::External(inner) = e {
        return match inner.downcast::<io::Error>() {
            Ok(io) => ExportError::Write {
                path: path.to_path_buf(),
                source: *io,
            },
            Err(other) => ExportError::Encode {
                path: path.to_path_buf(),
                message: other.to_string(),
            },
        };
    }
    ExportError::Encode {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Rows per Arrow batch, and bytes of data per batch (whichever comes first).
const BATCH_ROWS: usize = 8192;
const BATCH_BYTES: usize = 32 << 20;

/// An open Parquet file of a partition.
struct OpenParquet {
    writer: ArrowWriter<File>,
    tmp: PathBuf,
    /// Data in the open row group, and in the file.
    group_bytes: usize,
    file_bytes: usize,
}

/// An open JSON-lines file of a partition.
struct OpenJsonl {
    out: Box<dyn JsonlOut>,
    tmp: PathBuf,
    file_bytes: usize,
}

/// A JSON-lines file, plain or gzip, that can be finished and synced.
trait JsonlOut: Write + Send {
    fn finish_and_sync(self: Box<Self>) -> io::Result<()>;
}

impl JsonlOut for BufWriter<File> {
    fn finish_and_sync(self: Box<Self>) -> io::Result<()> {
        let file = (*self).into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    }
}

impl JsonlOut for flate2::write::GzEncoder<BufWriter<File>> {
    fn finish_and_sync(self: Box<Self>) -> io::Result<()> {
        let buffered = (*self).finish()?;
        let file = buffered.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    }
}

/// One partition directory's output.
struct Part {
    dir: PathBuf,
    next_file: u32,
    columns: parquet_file::Columns,
    batch_bytes: usize,
    parquet: Option<OpenParquet>,
    jsonl: Option<OpenJsonl>,
    line: Vec<u8>,
}

/// The sink of `auditq export`.
pub struct ExportSink {
    spec: Spec,
    files: Arc<Files>,
    /// The partition columns, left out of the files.
    omit: Vec<&'static str>,
    parts: HashMap<String, Part>,
    key: String,
    seq: u64,
    source_file: String,
    /// The file line of the current block's first line, less one (None: unknown).
    line_base: Option<u64>,
    /// Lines before a target's start, for targets read from the middle.
    prefix_lines: HashMap<usize, Option<u64>>,
    error: Option<ExportError>,
    properties: parquet::file::properties::WriterProperties,
}

impl ExportSink {
    pub fn new(spec: Spec, files: Arc<Files>) -> ExportSink {
        let omit = spec.partition.iter().map(|p| p.column()).collect();
        ExportSink {
            spec,
            files,
            omit,
            parts: HashMap::new(),
            key: String::new(),
            seq: 0,
            source_file: String::new(),
            line_base: Some(0),
            prefix_lines: HashMap::new(),
            error: None,
            properties: parquet_file::properties(),
        }
    }

    /// Events exported.
    pub fn events(&self) -> u64 {
        self.seq
    }

    /// Partitions written.
    pub fn partitions(&self) -> usize {
        self.parts.len()
    }

    /// The error that stopped the export, if one did.
    pub fn take_error(&mut self) -> Option<ExportError> {
        self.error.take()
    }

    /// Records `e` as the run's error; the io::Error returned stops the search.
    fn fail(&mut self, e: ExportError) -> io::Error {
        let err = io::Error::other(e.to_string());
        if self.error.is_none() {
            self.error = Some(e);
        }
        err
    }

    fn row(&mut self, text: &[u8], m: &Match) -> Result<(), ExportError> {
        let row = m.row.as_deref().ok_or(row::Corrupt)?;
        let view = RowView::decode(&row.bytes)?;
        let raw_bytes = text.strip_suffix(b"\n").unwrap_or(text);
        // Parquet and JSON strings are UTF-8: an invalid byte reads as U+FFFD (as the
        // parser reads it).
        let raw = match std::str::from_utf8(raw_bytes) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(raw_bytes),
        };
        self.key.clear();
        for p in &self.spec.partition {
            if !self.key.is_empty() {
                self.key.push('/');
            }
            self.key.push_str(p.column());
            self.key.push('=');
            match p {
                PartitionBy::Cluster => self
                    .key
                    .push_str(self.spec.cluster.as_deref().unwrap_or("")),
                PartitionBy::Date => self.key.push_str(view.date),
            }
        }
        let full = Full {
            raw: &raw,
            seq: i64::try_from(self.seq).unwrap_or(i64::MAX),
            source_file: &self.source_file,
            source_line: self
                .line_base
                .and_then(|b| i64::try_from(b + row.line + 1).ok()),
            cluster: self.spec.cluster.as_deref(),
            view,
        };
        self.seq += 1;
        let data = raw_bytes.len() + row.bytes.len();
        if !self.parts.contains_key(self.key.as_str()) {
            let dir = if self.key.is_empty() {
                self.spec.dir.clone()
            } else {
                self.spec.dir.join(&self.key)
            };
            self.parts.insert(
                self.key.clone(),
                Part {
                    dir,
                    next_file: 0,
                    columns: parquet_file::Columns::new(),
                    batch_bytes: 0,
                    parquet: None,
                    jsonl: None,
                    line: Vec::new(),
                },
            );
        }
        let Some(part) = self.parts.get_mut(self.key.as_str()) else {
            return Err(row::Corrupt.into());
        };
        match self.spec.format {
            Format::Parquet => {
                part.columns.push(&full).map_err(|e| ExportError::Encode {
                    path: part.dir.clone(),
                    message: e.to_string(),
                })?;
                part.batch_bytes += data;
                if part.columns.rows() >= BATCH_ROWS || part.batch_bytes >= BATCH_BYTES {
                    write_batch(part, &self.spec, &self.omit, &self.files, &self.properties)?;
                }
            }
            Format::Jsonl => {
                part.line.clear();
                jsonl_line(&full, &self.omit, &mut part.line);
                write_jsonl(part, &self.spec, &self.files)?;
            }
        }
        Ok(())
    }

    fn finish_all(&mut self) -> Result<(), ExportError> {
        for part in self.parts.values_mut() {
            if part.columns.rows() > 0 {
                write_batch(part, &self.spec, &self.omit, &self.files, &self.properties)?;
            }
            close_parquet(part)?;
            close_jsonl(part)?;
        }
        Ok(())
    }
}

/// The file name of a partition's `index`th file of this run.
fn file_name(spec: &Spec, index: u32) -> String {
    let ext = match (spec.format, spec.gzip) {
        (Format::Parquet, _) => "parquet",
        (Format::Jsonl, false) => "jsonl",
        (Format::Jsonl, true) => "jsonl.gz",
    };
    format!("part-{index:05}-{}.{ext}", spec.run_id)
}

/// Writes the batch built so far into the partition's file (opening one if needed),
/// ending the row group and the file when they are full.
fn write_batch(
    part: &mut Part,
    spec: &Spec,
    omit: &[&str],
    files: &Files,
    properties: &parquet::file::properties::WriterProperties,
) -> Result<(), ExportError> {
    let batch = part.columns.finish(omit).map_err(|e| ExportError::Encode {
        path: part.dir.clone(),
        message: e.to_string(),
    })?;
    let data = std::mem::take(&mut part.batch_bytes);
    if part.parquet.is_none() {
        let (file, tmp) = files.create(&part.dir, &file_name(spec, part.next_file))?;
        part.next_file += 1;
        let writer = ArrowWriter::try_new(file, batch.schema(), Some(properties.clone()))
            .map_err(|e| parquet_error(&tmp, e))?;
        part.parquet = Some(OpenParquet {
            writer,
            tmp,
            group_bytes: 0,
            file_bytes: 0,
        });
    }
    let Some(open) = part.parquet.as_mut() else {
        return Ok(());
    };
    open.writer
        .write(&batch)
        .map_err(|e| parquet_error(&open.tmp, e))?;
    open.group_bytes += data;
    if open.group_bytes >= spec.row_group_bytes {
        open.writer
            .flush()
            .map_err(|e| parquet_error(&open.tmp, e))?;
        open.file_bytes += std::mem::take(&mut open.group_bytes);
        if open.file_bytes >= spec.file_bytes {
            close_parquet(part)?;
        }
    }
    Ok(())
}

/// Finishes the partition's open Parquet file (footer, flush, fsync).
fn close_parquet(part: &mut Part) -> Result<(), ExportError> {
    let Some(mut open) = part.parquet.take() else {
        return Ok(());
    };
    open.writer
        .finish()
        .map_err(|e| parquet_error(&open.tmp, e))?;
    let tmp = open.tmp;
    open.writer.sync().map_err(|source| ExportError::Write {
        path: tmp.clone(),
        source,
    })?;
    open.writer
        .inner()
        .sync_all()
        .map_err(|source| ExportError::Write { path: tmp, source })
}

/// Writes the line in `part.line` to the partition's JSON-lines file.
fn write_jsonl(part: &mut Part, spec: &Spec, files: &Files) -> Result<(), ExportError> {
    if part.jsonl.is_none() {
        let (file, tmp) = files.create(&part.dir, &file_name(spec, part.next_file))?;
        part.next_file += 1;
        let buffered = BufWriter::with_capacity(256 << 10, file);
        let out: Box<dyn JsonlOut> = if spec.gzip {
            Box::new(flate2::write::GzEncoder::new(
                buffered,
                flate2::Compression::default(),
            ))
        } else {
            Box::new(buffered)
        };
        part.jsonl = Some(OpenJsonl {
            out,
            tmp,
            file_bytes: 0,
        });
    }
    let Some(open) = part.jsonl.as_mut() else {
        return Ok(());
    };
    open.out
        .write_all(&part.line)
        .map_err(|source| ExportError::Write {
            path: open.tmp.clone(),
            source,
        })?;
    open.file_bytes += part.line.len();
    if open.file_bytes >= spec.file_bytes {
        close_jsonl(part)?;
    }
    Ok(())
}

fn close_jsonl(part: &mut Part) -> Result<(), ExportError> {
    let Some(open) = part.jsonl.take() else {
        return Ok(());
    };
    let tmp = open.tmp;
    open.out
        .finish_and_sync()
        .map_err(|source| ExportError::Write { path: tmp, source })
}

/// An instant as RFC 3339 UTC with nanoseconds.
fn rfc3339(ns: i64) -> Option<String> {
    let t = chrono::DateTime::from_timestamp(
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) as u32,
    )?;
    Some(t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
}

/// One row as a JSON object: the columns of the table, in its order, NULL as `null`;
/// timestamps as RFC 3339 text, `leaves` as an array of objects. Ends with `\n`.
pub fn jsonl_line(row: &Full<'_>, omit: &[&str], out: &mut Vec<u8>) {
    fn opt_str(out: &mut Vec<u8>, s: Option<&str>) {
        match s {
            Some(s) => write_json_string(s, out),
            None => out.extend_from_slice(b"null"),
        }
    }
    fn opt_num(out: &mut Vec<u8>, n: Option<i64>) {
        match n {
            Some(n) => out.extend_from_slice(n.to_string().as_bytes()),
            None => out.extend_from_slice(b"null"),
        }
    }
    let v = &row.view;
    let typed: Vec<&crate::table::Typed> = crate::table::TYPED
        .iter()
        .filter(|t| t.shape != crate::table::Shape::Time)
        .collect();
    out.push(b'{');
    let mut first = true;
    for name in parquet_file::COLUMNS.iter().filter(|c| !omit.contains(c)) {
        if !first {
            out.push(b',');
        }
        first = false;
        write_json_string(name, out);
        out.push(b':');
        match *name {
            "time" => opt_str(out, v.time_ns.and_then(rfc3339).as_deref()),
            "time_ns" => opt_num(out, v.time_ns),
            "time_text" => opt_str(out, v.time_text),
            "stage_timestamp" => opt_str(out, v.stage_timestamp.and_then(rfc3339).as_deref()),
            "resource_path" => opt_str(out, v.resource_path),
            "annotations" => match v.annotations {
                None => out.extend_from_slice(b"null"),
                Some(pairs) => {
                    out.push(b'{');
                    for (i, (k, val)) in pairs.pairs().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        write_json_string(k, out);
                        out.push(b':');
                        write_json_string(val, out);
                    }
                    out.push(b'}');
                }
            },
            "request_object" => opt_str(out, v.request_object),
            "response_object" => opt_str(out, v.response_object),
            "complex" => opt_num(out, Some(v.complex)),
            "leaves" => {
                out.push(b'[');
                for (i, leaf) in v.leaves.leaves().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"{\"path\":");
                    write_json_string(leaf.path, out);
                    out.extend_from_slice(b",\"text\":");
                    opt_str(out, leaf.text);
                    out.extend_from_slice(b",\"num\":");
                    match leaf.num.filter(|n| n.is_finite()) {
                        Some(n) => out.extend_from_slice(number_text(n).as_bytes()),
                        None => out.extend_from_slice(b"null"),
                    }
                    out.extend_from_slice(b",\"is_num\":");
                    out.extend_from_slice(if leaf.is_num { b"true" } else { b"false" });
                    out.extend_from_slice(b",\"ts\":");
                    opt_num(out, leaf.ts);
                    out.push(b'}');
                }
                out.push(b']');
            }
            "raw" => write_json_string(row.raw, out),
            "seq" => opt_num(out, Some(row.seq)),
            "source_file" => write_json_string(row.source_file, out),
            "source_line" => opt_num(out, row.source_line),
            "cluster" => opt_str(out, row.cluster),
            "date" => write_json_string(v.date, out),
            other => {
                let value = typed
                    .iter()
                    .position(|t| t.column == other)
                    .and_then(|i| v.typed.get(i));
                match value {
                    Some(TypedValue::Text(t)) => opt_str(out, *t),
                    Some(TypedValue::Integer(n)) => opt_num(out, *n),
                    Some(TypedValue::List(Some(items))) => {
                        out.push(b'[');
                        for (i, s) in items.strings().enumerate() {
                            if i > 0 {
                                out.push(b',');
                            }
                            write_json_string(s, out);
                        }
                        out.push(b']');
                    }
                    Some(TypedValue::List(None)) | None => out.extend_from_slice(b"null"),
                }
            }
        }
    }
    out.extend_from_slice(b"}\n");
}

/// Lines before byte `start` of a plain file.
fn lines_before(path: &Path, start: u64) -> Option<u64> {
    let file = File::open(path).ok()?;
    let mut reader = file.take(start);
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 0u64;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Some(lines),
            Ok(n) => lines += bytecount::count(&buf[..n], b'\n') as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

impl Sink for ExportSink {
    fn source(&mut self, source: &Source<'_>) {
        self.source_file = match source.input {
            crate::source::Input::Stdin => "-".to_string(),
            other => other.display_name(),
        };
        let prefix = if source.start == 0 {
            Some(0)
        } else {
            *self
                .prefix_lines
                .entry(source.target)
                .or_insert_with(|| match source.input {
                    crate::source::Input::Path(p) => lines_before(p, source.start),
                    _ => None,
                })
        };
        self.line_base = prefix.map(|p| p + source.lines_before);
    }

    fn event(&mut self, event: &Matched<'_>) -> io::Result<()> {
        // Only reached through `events` in a search; rows need their `Match`.
        let m = Match {
            end: event.text.len(),
            key: Vec::new(),
            meta: None,
            row: event.row.map(|r| Box::new(r.clone())),
        };
        self.events(event.text, std::slice::from_ref(&m))
    }

    fn events(&mut self, out: &[u8], matches: &[Match]) -> io::Result<()> {
        if self.error.is_some() {
            return Err(io::Error::other("the export failed"));
        }
        let mut start = 0;
        for m in matches {
            let text = out.get(start..m.end).unwrap_or_default();
            start = m.end;
            if let Err(e) = self.row(text, m) {
                return Err(self.fail(e));
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, _: &Totals) -> io::Result<()> {
        if self.error.is_some() {
            return Err(io::Error::other("the export failed"));
        }
        self.finish_all().map_err(|e| self.fail(e))
    }
}
