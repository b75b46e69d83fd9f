//! Chaos: mutations that make a generated request malformed, hostile or over a limit
//! (framing lines, a bad `Host`, broken chunk bodies, versions, methods, raw bytes in the
//! target, oversize parts), byte-level damage to a whole input, and token soup.
use super::target::RAW_PIECES;
use super::{Draft, Rng, printable};

/// Header lines that make a request malformed or framed in a hostile way.
const CHAOS_LINES: &[&[u8]] = &[
    b"Expect: teapot",
    b"Expect: 100-continue, x",
    b"Content-Length: -1",
    b"Content-Length: +1",
    b"Content-Length: 1, 2",
    b"Content-Length: abc",
    b"Content-Length: ",
    b"Content-Length: 99999999999999999999",
    b"Content-Length: 65537",
    b"Content-Length: 1 1",
    b"Content-Length: 0x10",
    b"Content-Length: 3",
    b"Content-Length: 40",
    b"Content-Length: 100000000",
    b"Transfer-Encoding: gzip",
    b"Transfer-Encoding: chunked, gzip",
    b"Transfer-Encoding: bogus",
    b"Transfer-Encoding: identity",
    b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: gzip, chunked",
    b"Transfer-Encoding: chunked\r\nContent-Length: 5",
    b"Transfer-Encoding: \x0bchunked",
    b"Host: second",
    b"Host : a",
    b"X-Fold: a\r\n b",
    b"X(y): z",
    b": empty",
    b"X: \x01",
    b"X: a\rb",
    b"X: \x7f",
    b"X:\ta",
    b"Bare: lf\n",
    b"NoColon",
    b"X: \xff\xfe",
    b"Connection: close\r\nConnection: keep-alive",
];

const CHAOS_BODIES: &[&[u8]] = &[
    b"zz\r\n",
    b"5\r\nabc",
    b"ffffffffffffffffffff\r\n",
    b"1\r\nab\r\n0\r\n\r\n",
    b"0\r\n",
    b"1000000\r\n",
    b"3\r\nabc\r\n0\r\nX: y\r\n",
    b"0;ext\r\n\r\n",
    b"-1\r\n",
    b"1 \r\na\r\n0\r\n\r\n",
];

const BAD_VERSIONS: &[&[u8]] = &[
    b"HTTP/1.2",
    b"HTTP/2.0",
    b"HTTP/3",
    b"HTTP/1",
    b"http/1.1",
    b"HTTP/1.1 ",
    b"HTTP/01.1",
    b"",
    b"HTTP/1.1\x00",
    b"HTTP/9.9",
];

const BAD_METHODS: &[&[u8]] = &[b"G ET", b"", b"GET\t", b"\x00GET", b"\r\nGET", b"G@T", b"GET("];

/// One or two chaos mutations of a request.
pub fn mutate(rng: &mut Rng, d: &mut Draft) {
    for _ in 0..1 + rng.below(2) {
        match rng.below(9) {
            0..=2 => chaos_line(rng, d),
            3 => bad_host(rng, d),
            4 => d.body = rng.pick(CHAOS_BODIES).to_vec(),
            5 => d.version = rng.pick(BAD_VERSIONS).to_vec(),
            6 => {
                let at = rng.below(d.target.len() + 1);
                let piece = rng.pick(RAW_PIECES);
                d.target.splice(at..at, piece.iter().copied());
            }
            7 => d.method = rng.pick(BAD_METHODS).to_vec(),
            _ => oversize(rng, d),
        }
    }
}

/// One of `CHAOS_LINES`, inserted among the fields.
fn chaos_line(rng: &mut Rng, d: &mut Draft) {
    let at = rng.below(d.headers.len() + 1);
    let line = rng.pick(CHAOS_LINES);
    let (name, value) = match line.iter().position(|&b| b == b':') {
        Some(c) => (line[..c].to_vec(), line[c + 1..].to_vec()),
        None => (line.to_vec(), Vec::new()),
    };
    d.headers.insert(at, (name, value));
}

/// No `Host`, or a random one: most random values are not `uri-host [":" port]`, so 400.
fn bad_host(rng: &mut Rng, d: &mut Draft) {
    d.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(b"host"));
    if rng.chance(1, 2) {
        d.headers.insert(0, (b"Host".to_vec(), printable(rng, 20)));
    }
}

/// A long target, many fields, or one big field.
fn oversize(rng: &mut Rng, d: &mut Draft) {
    match rng.below(3) {
        0 => d.target.extend(std::iter::repeat_n(b'a', 4000 + rng.below(30_000))),
        1 => {
            for i in 0..60 + rng.below(250) {
                d.headers.push((format!("X-Many-{i}").into_bytes(), b"v".to_vec()));
            }
        }
        _ => d.headers.push((b"X-Big".to_vec(), vec![b'b'; 6000 + rng.below(20_000)])),
    }
}

/// Byte-level damage to a whole input.
pub fn damage(rng: &mut Rng, input: &mut Vec<u8>) {
    const SPLICES: &[&[u8]] = &[
        b"\r",
        b"\n",
        b"\r\n",
        b"\r\n\r\n",
        b" ",
        b":",
        b"\x00",
        b"\t",
        b"\x80",
        b"\xff",
        b"%",
        b"HTTP/1.1",
        b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"0\r\n\r\n",
        b"Content-Length: 5\r\n",
        b"Transfer-Encoding: chunked\r\n",
    ];
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(input.len() + 1);
        match rng.below(6) {
            0 if at < input.len() => input[at] = rng.byte(),
            1 | 2 => {
                let s = rng.pick(SPLICES);
                input.splice(at..at, s.iter().copied());
            }
            3 => {
                let end = (at + 1 + rng.below(16)).min(input.len());
                input.drain(at..end);
            }
            4 => {
                let end = (at + 1 + rng.below(64)).min(input.len());
                let copy = input[at..end].to_vec();
                input.splice(at..at, copy);
            }
            _ => input.truncate(at),
        }
    }
}

/// Tokens of requests, joined at random.
const SOUP: &[&str] = &[
    "GET",
    "HEAD",
    "OPTIONS",
    " ",
    "/",
    "/docs",
    "/../secret.txt",
    "*",
    "HTTP/1.1",
    "HTTP/1.0",
    "\r\n",
    "\r\n\r\n",
    "\n",
    "\r",
    "Host: a\r\n",
    "Content-Length: ",
    "Transfer-Encoding: chunked\r\n",
    "0\r\n\r\n",
    "5\r\nhello\r\n",
    "Expect: 100-continue\r\n",
    "Connection: close\r\n",
    "Range: bytes=0-1\r\n",
    ":",
    "%2e",
    "..",
    "5",
    "ff",
    "\t",
    "\0",
];

/// One to forty `SOUP` tokens.
pub fn soup(rng: &mut Rng) -> Vec<u8> {
    let mut input = Vec::new();
    for _ in 0..1 + rng.below(40) {
        input.extend_from_slice(rng.pick(SOUP).as_bytes());
    }
    input
}
