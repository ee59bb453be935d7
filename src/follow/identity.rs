//! File identity: `(dev, ino)` while running plus a fingerprint of the first line.
//!
//! Inode numbers alone are not enough: they are reused after a delete, and a
//! compressed backup (`.gz`) is a different inode holding the same events. The
//! first line of an audit log carries a unique auditID, so hashing it (capped
//! at [`FP_MAX`] bytes, decompressed for `.gz`) names the *content* of a file.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

/// Cap on the bytes hashed: the first line, or its first 4 KiB if longer.
pub const FP_MAX: usize = 4096;

/// Device and inode number of an open file or a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    pub fn of(meta: &std::fs::Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// Hash of the first line and the number of bytes it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub hash: u64,
    pub len: usize,
}

/// FNV-1a 64: stable across Rust releases, unlike `DefaultHasher`, because
/// the value is stored in checkpoint files that outlive the binary.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Fingerprint of a file's leading bytes, or `None` while the first line is
/// still incomplete (shorter than [`FP_MAX`] and without `'\n'`): hashing a
/// half-written line would give a value that changes under our feet.
pub fn fingerprint_of_prefix(prefix: &[u8]) -> Option<Fingerprint> {
    let capped = &prefix[..prefix.len().min(FP_MAX)];
    let len = match memchr::memchr(b'\n', capped) {
        Some(i) => i,
        None if capped.len() == FP_MAX => FP_MAX,
        None => return None,
    };
    Some(Fingerprint {
        hash: fnv1a(&capped[..len]),
        len,
    })
}

/// Fingerprint of an open plain file, read with `pread` so the caller's file
/// position is untouched.
pub fn fingerprint_file(file: &File) -> io::Result<Option<Fingerprint>> {
    let mut buf = vec![0u8; FP_MAX];
    let mut got = 0;
    while got < FP_MAX {
        let n = file.read_at(&mut buf[got..], got as u64)?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(fingerprint_of_prefix(&buf[..got]))
}

/// Fingerprint of a gzip file's decompressed content. A truncated or corrupt
/// `.gz` still yields its first line if that much decompresses.
pub fn fingerprint_gz(path: &Path) -> io::Result<Option<Fingerprint>> {
    let file = File::open(path)?;
    let mut dec = flate2::read::MultiGzDecoder::new(io::BufReader::new(file));
    let mut buf = vec![0u8; FP_MAX];
    let mut got = 0;
    while got < FP_MAX {
        match dec.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) if got > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(fingerprint_of_prefix(&buf[..got]))
}

/// Fingerprint of a path, decompressing when it holds gzip (by its magic bytes, whatever
/// its name).
pub fn fingerprint_path(path: &Path) -> io::Result<Option<Fingerprint>> {
    let file = File::open(path)?;
    if is_gzip(&file)? {
        fingerprint_gz(path)
    } else {
        fingerprint_file(&file)
    }
}

/// Whether an open file starts with the gzip magic bytes (read with `pread`, so the
/// file position is untouched).
pub fn is_gzip(file: &File) -> io::Result<bool> {
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        let n = file.read_at(&mut magic[got..], got as u64)?;
        if n == 0 {
            return Ok(false);
        }
        got += n;
    }
    Ok(magic == [0x1f, 0x8b])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn fingerprint_needs_complete_first_line() {
        assert_eq!(fingerprint_of_prefix(b"abc"), None);
        let fp = fingerprint_of_prefix(b"abc\ndef").unwrap();
        assert_eq!(fp.len, 3);
        assert_eq!(fp.hash, fnv1a(b"abc"));
        assert_eq!(fingerprint_of_prefix(b"abc\nxyz"), Some(fp));
    }

    #[test]
    fn fingerprint_caps_long_first_line() {
        let long = vec![b'x'; FP_MAX + 10];
        let fp = fingerprint_of_prefix(&long).unwrap();
        assert_eq!(fp.len, FP_MAX);
    }

    #[test]
    fn fingerprint_differs_by_audit_id() {
        let a = fingerprint_of_prefix(b"{\"auditID\":\"1\"}\n").unwrap();
        let b = fingerprint_of_prefix(b"{\"auditID\":\"2\"}\n").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn gz_and_plain_fingerprints_agree() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.log");
        std::fs::write(&plain, b"first line\nsecond\n").unwrap();
        let gz = dir.path().join("a.log.gz");
        let mut enc =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        enc.write_all(b"first line\nsecond\n").unwrap();
        enc.finish().unwrap();
        let a = fingerprint_path(&plain).unwrap();
        let b = fingerprint_path(&gz).unwrap();
        assert!(a.is_some());
        assert_eq!(a, b);
    }
}
