//! Byte-slice helpers for checking raw protocol output. Standalone (std only): the fuzz
//! crate includes this file with `#[path]`.
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Whether `needle` occurs in `hay` (cheap on large outputs: only candidate starts compare).
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else { return true };
    hay.iter().enumerate().any(|(i, &b)| b == first && hay[i..].starts_with(needle))
}

/// The status of a raw response, if it starts with an HTTP/1.1 status line.
pub fn status_of(raw: &[u8]) -> Option<u16> {
    let line = raw.strip_prefix(b"HTTP/1.1 ")?;
    std::str::from_utf8(line.get(..3)?).ok()?.parse().ok()
}

/// A simple FNV-1a digest for comparing large bodies without keeping two copies.
pub fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3))
}

/// A sparse file of `len` bytes with a pattern at a few offsets (the rest reads as zeros).
pub fn sparse_file(path: &Path, len: u64, marks: &[u64]) {
    let f = File::create(path).unwrap();
    f.set_len(len).unwrap();
    for &at in marks {
        f.write_all_at(&sparse_pattern(), at).unwrap();
    }
}

pub fn sparse_pattern() -> Vec<u8> {
    (0..4096u32).map(|i| (i % 251) as u8 + 1).collect()
}

/// Checks `chunk`, found at `pos` of the file, against the zeros and marks it should
/// hold (memcmp-sized comparisons: fast even unoptimised).
pub fn check_sparse_chunk(chunk: &[u8], pos: u64, marks: &[u64], zeros: &[u8], pattern: &[u8]) {
    let mut at = 0;
    while at < chunk.len() {
        let p = pos + at as u64;
        let (expected, len) = match marks.iter().find(|&&m| p >= m && p < m + 4096) {
            Some(&m) => (&pattern[(p - m) as usize..], (m + 4096 - p) as usize),
            None => {
                let next = marks.iter().filter(|&&m| m > p).min().map_or(u64::MAX, |&m| m - p);
                (zeros, next.min(zeros.len() as u64) as usize)
            }
        };
        let n = len.min(chunk.len() - at);
        assert!(chunk[at..at + n] == expected[..n], "wrong bytes at {p}");
        at += n;
    }
}
