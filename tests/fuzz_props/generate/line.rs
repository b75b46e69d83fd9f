//! The request line's method and version as clients send them (`chaos` breaks them).
use super::Rng;

/// Methods the server refuses (405), and lower-case ones (not methods it knows).
const OTHER_METHODS: &[&str] = &["DELETE", "get", "PATCH", "BREW", "head", "PUT"];

/// Mostly GET and HEAD; OPTIONS, POST, and other or lower-case methods now and then.
pub fn method(rng: &mut Rng) -> &'static str {
    match rng.below(20) {
        0..=10 => "GET",
        11..=15 => "HEAD",
        16 => "OPTIONS",
        17 => "POST",
        18 => rng.pick::<&str>(OTHER_METHODS),
        _ => "GET",
    }
}

/// The minor version: HTTP/1.0 one time in seven, else HTTP/1.1.
pub fn minor(rng: &mut Rng) -> u8 {
    if rng.chance(1, 7) { 0 } else { 1 }
}

pub fn version(minor: u8) -> Vec<u8> {
    format!("HTTP/1.{minor}").into_bytes()
}
