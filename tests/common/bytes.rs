//! Byte-slice helpers for checking raw protocol output. Standalone (std only): the fuzz
//! crate includes this file with `#[path]`.

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
