//! Body framing: none, `Content-Length` (sometimes the same value twice), or chunked with
//! extensions, long extension values and trailers (HTTP/1.1 only).
use super::{Draft, Rng, case_mix, printable};

pub fn frame(rng: &mut Rng, d: &mut Draft) {
    match rng.below(10) {
        0 | 1 => content_length(rng, d),
        2 if d.minor == 1 => chunked(rng, d),
        _ => {}
    }
}

fn content_length(rng: &mut Rng, d: &mut Draft) {
    let n = rng.below(120);
    let same_twice = rng.chance(1, 6);
    let value = if same_twice { format!("{n}, {n}") } else { n.to_string() };
    d.headers.push((case_mix(rng, "Content-Length"), value.into_bytes()));
    d.body = (0..n).map(|_| rng.byte()).collect();
    d.body_framed = n > 0;
    d.body_size = n as u64;
}

/// (`gzip, chunked` is 501: a coding we would have to decode; it is a chaos line.)
fn chunked(rng: &mut Rng, d: &mut Draft) {
    let te = rng.pick(&["chunked", "Chunked", "chunked "]);
    d.headers.push((case_mix(rng, "Transfer-Encoding"), te.as_bytes().to_vec()));
    for _ in 0..rng.below(4) {
        chunk(rng, &mut d.body);
    }
    d.body.extend_from_slice(b"0\r\n");
    for _ in 0..rng.below(3) {
        d.body.extend_from_slice(b"X-Trailer: ");
        let long = if rng.chance(1, 5) { 4000 } else { 20 };
        d.body.extend_from_slice(&printable(rng, long));
        d.body.extend_from_slice(b"\r\n");
    }
    d.body.extend_from_slice(b"\r\n");
    d.body_framed = true;
    d.body_size = d.body.len() as u64;
}

/// One chunk of 1 to 40 bytes, its size in either case of hex, sometimes with extensions.
fn chunk(rng: &mut Rng, body: &mut Vec<u8>) {
    let n = 1 + rng.below(40);
    let size = if rng.chance(1, 2) { format!("{n:x}") } else { format!("{n:X}") };
    body.extend_from_slice(size.as_bytes());
    if rng.chance(1, 4) {
        body.extend_from_slice(b";ext=v");
    }
    if rng.chance(1, 10) {
        body.extend_from_slice(b";long=");
        body.extend(std::iter::repeat_n(b'e', rng.below(4000)));
    }
    body.extend_from_slice(b"\r\n");
    body.extend((0..n).map(|_| rng.byte()));
    body.extend_from_slice(b"\r\n");
}
