//! The request target: a path of the fixture (or `*`, or absolute-form), then spliced with
//! traversal pieces, percent-encodings, odd bytes and queries.
use super::Rng;

/// The targets generation starts from: every kind of file in the fixture, escapes, and
/// the other request-target forms.
const BASES: &[&str] = &[
    "/",
    "/index.html",
    "/index.html?x=1",
    "/a.js",
    "/a.js.gz",
    "/style.css",
    "/empty.txt",
    "/docs",
    "/docs/",
    "/docs/index.html",
    "/docs/guide.txt",
    "/docs/deep/nested/file.bin",
    "/docs/deep",
    "/docs/back",
    "/noindex",
    "/noindex/",
    "/big.bin",
    "/404.html",
    "/.git/config",
    "/.git/",
    "/.env",
    "/.well-known/security.txt",
    "/.well-known/",
    "/leak",
    "/abs-leak",
    "/up/secret.txt",
    "/up/",
    "/up",
    "/outdir/inner.txt",
    "/outdir/",
    "/inner",
    "/loop",
    "/dangling",
    "/fifo",
    "/missing",
    "/missing/",
    "/missing.html",
    "/sp%20ace.txt",
    "/caf%C3%A9.txt",
    "/caf\u{e9}.txt",
    "/100%25.txt",
    "/a%252fb.txt",
    "/../secret.txt",
    "/docs/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/..%2fsecret.txt",
    "/..%5csecret.txt",
    "/%252e%252e/secret.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "/docs/%2e%2e/%2e%2e/secret.txt",
    "/docs?q=/../../secret.txt",
    "//up/secret.txt",
    "/docs//guide.txt",
    "/./docs/./guide.txt",
    "/docs/deep/..",
    "/docs/.",
    "*",
    "http://evserve.test/docs",
    "http://evserve.test",
    "HTTP://evserve.test/a.js?x",
    "https://h/up/secret.txt",
    "http://evserve.test/%2e%2e/secret.txt",
    "http://evserve.test?x=/../secret.txt",
    "http://evserve.test:8080?a",
    "http://[::1]/docs/",
];

/// Pieces spliced into targets: everything here is request-line safe.
const PIECES: &[&str] = &[
    "..",
    ".",
    "%2e",
    "%2E",
    "%2e%2e",
    "%2E.",
    ".%2e",
    "%2f",
    "%2F",
    "%00",
    "%252e",
    "%252e%252e",
    "%c0%ae",
    "%c0%af",
    "%e0%80%ae",
    "%ed%a0%80",
    "%5c",
    "%5C",
    "\\",
    "//",
    "%",
    "%z",
    "%zz",
    "%f",
    "%ff",
    "#",
    "#frag",
    "?",
    "?q=/../",
    ".git",
    ".well-known",
    "leak",
    "up",
    "outdir",
    "secret.txt",
    "docs",
    "~",
    ";",
    "%20",
    "%0a",
    "%0d%0a",
    "%7f",
    "%u002e",
    "..;",
    "...",
    "%c3%a9",
    "\u{e9}",
    "%2e%2e%2f",
    "index.html",
    "%3f",
    "%23",
    "%25",
    "/..",
    "/../..",
    "/.",
];

/// Raw bytes that make a request line malformed.
pub const RAW_PIECES: &[&[u8]] = &[b" ", b"\t", b"\x00", b"\r", b"\n", b"\x7f", b"\xff", b"\xc0\xae", b"\x01", b"\r\n"];

/// A target: a base, then (for origin-form, two times in three) one to three mutations.
pub fn gen_target(rng: &mut Rng) -> Vec<u8> {
    let base = if rng.chance(1, 60) { "/huge.bin" } else { rng.pick(BASES) };
    let mut t = base.as_bytes().to_vec();
    if !base.starts_with('/') || rng.chance(1, 3) {
        return t;
    }
    for _ in 0..1 + rng.below(3) {
        mutate(rng, &mut t);
    }
    t
}

/// One mutation of an origin-form target (which starts with `/`).
fn mutate(rng: &mut Rng, t: &mut Vec<u8>) {
    match rng.below(8) {
        0..=2 => {
            let at = 1 + rng.below(t.len());
            let piece = rng.pick(PIECES).as_bytes();
            t.splice(at..at, piece.iter().copied());
        }
        3 => {
            // A whole segment at a slash.
            let slashes: Vec<usize> = (0..t.len()).filter(|&i| t[i] == b'/').collect();
            let at = *rng.pick(&slashes) + 1;
            let mut seg = rng.pick(PIECES).as_bytes().to_vec();
            seg.push(b'/');
            t.splice(at..at, seg);
        }
        4 => {
            let at = 1 + rng.below(t.len());
            if at < t.len() {
                t[at] = b'!' + rng.below(94) as u8;
            }
        }
        5 => t.push(b'/'),
        6 => {
            let at = 1 + rng.below(t.len());
            t.truncate(at.max(1));
        }
        _ => {
            let q = rng.pick(&["?a=1", "?x=/../../secret.txt", "?%00", "?\u{e9}", "?#", "??"]);
            t.extend_from_slice(q.as_bytes());
        }
    }
}

/// A target httparse takes and `classify_target` serves (by construction, not by asking):
/// visible ASCII only (a raw byte above 0x7F is refused, as RFC 3986 and HTTP/2 do).
pub fn target_is_clean(t: &[u8]) -> bool {
    !t.is_empty() && t.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

/// The path a GET of `target` is resolved from, or None for `*`.
pub fn target_path(target: &str) -> Option<&str> {
    if target.starts_with('/') {
        return Some(target);
    }
    if target == "*" {
        return None;
    }
    // The path starts at the first `/` or `?` after the authority; an empty one is `/`.
    let rest = &target[target.find("://").unwrap() + 3..];
    match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => Some(&rest[i..]),
        _ => Some("/"),
    }
}
