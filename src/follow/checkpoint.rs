//! `--state FILE`: where each followed log was last read up to.
//!
//! Written only after the handler flushed its output, always at a line end,
//! and atomically (temp file in the same directory, fsync, rename, fsync of
//! the directory) so a crash leaves either the old or the new state, never a
//! torn one. The format is a small hand-written JSON document:
//! `{"version":1,"files":[{"follow":…,"path":…,"dev":…,"ino":…,
//! "fingerprint":"<16 hex>","first_line_len":…,"offset":…,"saved_at_ms":…}]}`.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Position in one followed log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The followed (active) path given on the command line: the lookup key.
    pub follow: PathBuf,
    /// The file being read when saved (the active file or a backup).
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    /// First-line fingerprint; `first_line_len == 0` means not known yet.
    pub fingerprint: u64,
    pub first_line_len: usize,
    /// Offset just after the last line handed to the handler.
    pub offset: u64,
    /// Wall-clock time of the save (epoch ms), used to name gaps.
    pub saved_at_ms: i64,
    /// Name time of the file when it was a lumberjack backup; `None` when it
    /// was the active file. Tells which backups are newer on restart.
    pub backup_time_ms: Option<i64>,
}

/// Atomically replaces `path` with the given entries.
pub fn save(path: &Path, entries: &[Entry]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result =
        write_synced(&tmp, render(entries).as_bytes()).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    // The rename is only durable once the directory is synced; failure here
    // (some filesystems refuse fsync on directories) is not worth an error.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn write_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(data)?;
    f.sync_all()
}

/// Loads the state file: `Ok(None)` if it does not exist, `Err` if it is
/// unreadable or malformed (the caller warns and uses the configured start).
pub fn load(path: &Path) -> io::Result<Option<Vec<Entry>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    parse(&text)
        .map(Some)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed state file"))
}

fn render(entries: &[Entry]) -> String {
    let files: Vec<String> = entries
        .iter()
        .map(|e| {
            let backup = e
                .backup_time_ms
                .map(|t| format!(",\"backup_time_ms\":{t}"))
                .unwrap_or_default();
            format!(
                "{{\"follow\":{},\"path\":{},\"dev\":{},\"ino\":{},\"fingerprint\":\"{:016x}\",\"first_line_len\":{},\"offset\":{},\"saved_at_ms\":{}{backup}}}",
                json_str(&e.follow.to_string_lossy()),
                json_str(&e.path.to_string_lossy()),
                e.dev,
                e.ino,
                e.fingerprint,
                e.first_line_len,
                e.offset,
                e.saved_at_ms
            )
        })
        .collect();
    format!("{{\"version\":1,\"files\":[{}]}}\n", files.join(","))
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn parse(text: &str) -> Option<Vec<Entry>> {
    let mut p = json::Parser::new(text);
    let root = p.value()?;
    p.end()?;
    if root.get("version")?.num()? != 1 {
        return None;
    }
    root.get("files")?.arr()?.iter().map(entry).collect()
}

fn entry(v: &json::Value) -> Option<Entry> {
    let num = |k: &str| v.get(k).and_then(json::Value::num);
    Some(Entry {
        follow: PathBuf::from(v.get("follow")?.str()?),
        path: PathBuf::from(v.get("path")?.str()?),
        dev: num("dev")?,
        ino: num("ino")?,
        fingerprint: u64::from_str_radix(v.get("fingerprint")?.str()?, 16).ok()?,
        first_line_len: usize::try_from(num("first_line_len")?).ok()?,
        offset: num("offset")?,
        saved_at_ms: i64::try_from(num("saved_at_ms")?).ok()?,
        backup_time_ms: match v.get("backup_time_ms") {
            Some(t) => Some(i64::try_from(t.num()?).ok()?),
            None => None,
        },
    })
}

/// Just enough JSON for our own file: objects, arrays, strings, unsigned
/// integers, true/false/null.
mod json {
    pub enum Value {
        Obj(Vec<(String, Value)>),
        Arr(Vec<Value>),
        Str(String),
        Num(u64),
        Other,
    }

    impl Value {
        pub fn get(&self, key: &str) -> Option<&Value> {
            match self {
                Value::Obj(kv) => kv.iter().find(|(k, _)| k == key).map(|(_, v)| v),
                _ => None,
            }
        }
        pub fn arr(&self) -> Option<&[Value]> {
            match self {
                Value::Arr(a) => Some(a),
                _ => None,
            }
        }
        pub fn str(&self) -> Option<&str> {
            match self {
                Value::Str(s) => Some(s),
                _ => None,
            }
        }
        pub fn num(&self) -> Option<u64> {
            match self {
                Value::Num(n) => Some(*n),
                _ => None,
            }
        }
    }

    pub struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl<'a> Parser<'a> {
        pub fn new(text: &'a str) -> Self {
            Parser {
                s: text.as_bytes(),
                i: 0,
            }
        }

        pub fn end(&mut self) -> Option<()> {
            self.ws();
            (self.i == self.s.len()).then_some(())
        }

        fn ws(&mut self) {
            while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
                self.i += 1;
            }
        }

        fn eat(&mut self, c: u8) -> bool {
            self.ws();
            let hit = self.s.get(self.i) == Some(&c);
            if hit {
                self.i += 1;
            }
            hit
        }

        pub fn value(&mut self) -> Option<Value> {
            self.ws();
            match *self.s.get(self.i)? {
                b'{' => self.object(),
                b'[' => self.array(),
                b'"' => self.string().map(Value::Str),
                b'0'..=b'9' => self.number(),
                _ => self.word(),
            }
        }

        fn object(&mut self) -> Option<Value> {
            self.i += 1;
            let mut kv = Vec::new();
            if self.eat(b'}') {
                return Some(Value::Obj(kv));
            }
            loop {
                self.ws();
                let k = self.string()?;
                if !self.eat(b':') {
                    return None;
                }
                kv.push((k, self.value()?));
                if self.eat(b'}') {
                    return Some(Value::Obj(kv));
                }
                if !self.eat(b',') {
                    return None;
                }
            }
        }

        fn array(&mut self) -> Option<Value> {
            self.i += 1;
            let mut items = Vec::new();
            if self.eat(b']') {
                return Some(Value::Arr(items));
            }
            loop {
                items.push(self.value()?);
                if self.eat(b']') {
                    return Some(Value::Arr(items));
                }
                if !self.eat(b',') {
                    return None;
                }
            }
        }

        fn string(&mut self) -> Option<String> {
            if self.s.get(self.i) != Some(&b'"') {
                return None;
            }
            self.i += 1;
            let mut out = Vec::new();
            loop {
                let c = *self.s.get(self.i)?;
                self.i += 1;
                match c {
                    b'"' => return String::from_utf8(out).ok(),
                    b'\\' => self.escape(&mut out)?,
                    c => out.push(c),
                }
            }
        }

        fn escape(&mut self, out: &mut Vec<u8>) -> Option<()> {
            let c = *self.s.get(self.i)?;
            self.i += 1;
            let ch = match c {
                b'"' | b'\\' | b'/' => c as char,
                b'n' => '\n',
                b't' => '\t',
                b'r' => '\r',
                b'u' => {
                    let hex = std::str::from_utf8(self.s.get(self.i..self.i + 4)?).ok()?;
                    self.i += 4;
                    char::from_u32(u32::from_str_radix(hex, 16).ok()?)?
                }
                _ => return None,
            };
            let mut tmp = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
            Some(())
        }

        fn number(&mut self) -> Option<Value> {
            let from = self.i;
            while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
            let text = std::str::from_utf8(&self.s[from..self.i]).ok()?;
            text.parse().ok().map(Value::Num)
        }

        fn word(&mut self) -> Option<Value> {
            for w in [&b"true"[..], b"false", b"null"] {
                if self.s[self.i..].starts_with(w) {
                    self.i += w.len();
                    return Some(Value::Other);
                }
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entry {
        Entry {
            follow: PathBuf::from("/var/log/kube \"audit\".log"),
            path: PathBuf::from("/var/log/audit-2024-01-01T00-00-00.000.log"),
            dev: 2049,
            ino: 123_456,
            fingerprint: 0xdead_beef_0123_4567,
            first_line_len: 812,
            offset: 1 << 40,
            saved_at_ms: 1_700_000_000_000,
            backup_time_ms: Some(1_600_000_000_000),
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(load(&path).unwrap(), None);
        let entries = vec![
            sample(),
            Entry {
                offset: 7,
                backup_time_ms: None,
                ..sample()
            },
        ];
        save(&path, &entries).unwrap();
        assert_eq!(load(&path).unwrap(), Some(entries));
    }

    #[test]
    fn atomic_write_leaves_no_temp_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "old").unwrap();
        save(&path, &[sample()]).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        assert!(load(&path).unwrap().is_some());
    }

    #[test]
    fn malformed_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        for bad in [
            "",
            "{",
            "{\"version\":2,\"files\":[]}",
            "[1,2]",
            "{\"version\":1}",
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(load(&path).is_err(), "{bad}");
        }
    }
}
