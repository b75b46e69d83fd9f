//! Header fields: `Host`, then up to four of ranges, validators, dates, codings,
//! `Connection`, plain and junk values, sometimes a pad near the head limit, and
//! `Expect: 100-continue`. Names come in mixed case.
use evserve::http1::request::Limits;

use super::{Draft, Fixture, Rng, case_mix, printable};

const RANGES: &[&str] = &[
    "bytes=0-0",
    "bytes=0-",
    "bytes=-1",
    "bytes=-5",
    "bytes=5-2",
    "bytes=0-1,3-4",
    "bytes=0-1, 1-2",
    "bytes=999999-",
    "bytes=",
    "bytes=-0",
    "items=0-1",
    "bytes=0-0,-1",
    "bytes = 0-1",
    "BYTES=1-2",
    "bytes=18446744073709551615-",
    "bytes=-18446744073709551615",
    "bytes=0-18446744073709551615",
    "bytes=0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-15,16-17,18-19,20-21,22-23,24-25,26-27,28-29,30-31,32-33",
    "bytes=0-1,,",
    "bytes=,0-1",
    "bytes=1--2",
    "bytes=a-b",
    "bytes=10-20,0-5,3-12",
    "bytes=39990-40010",
    "bytes=100-200,300-400",
    "bytes=0-99999999",
];

const ENCODINGS: &[&str] = &[
    "gzip",
    "br",
    "zstd",
    "gzip, br;q=0.5",
    "*",
    "*;q=0",
    "identity;q=0",
    "identity;q=0, *;q=0",
    "gzip;q=0",
    "br;q=1.0001",
    "br;q=",
    "gzip;q=0.000",
    ";;;,,",
    "GZIP",
    "x-gzip",
    "br;q=0.9, gzip;q=0.9",
];

const FIXED_DATES: &[&str] = &[
    "Thu, 01 Jan 1970 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Sunday, 06-Nov-94 08:49:37 GMT",
    "Sun Nov  6 08:49:37 1994",
    "garbage",
    "",
];

/// Host values that fit `uri-host [":" port]` (RFC 3986), however odd; empty is allowed
/// too (RFC 9110 section 7.2).
const ODD_HOSTS: &[&str] = &[
    "",
    "evserve.test:8080",
    "evserve.test:",
    "127.0.0.1",
    "[::1]:8000",
    "[2001:db8::7]",
    "[v1.fe:x]",
    "%65vserve.test",
    "a-b_c~d.!$&'()*+,;=",
];

const CONNECTIONS: &[&str] =
    &["close", "keep-alive", "Keep-Alive", "CLOSE", "upgrade", "keep-alive, close", "te, close", "", ",,", "close "];

fn validator(rng: &mut Rng, fx: &Fixture) -> String {
    match rng.below(8) {
        0 => "*".into(),
        1 => "\"x\"".into(),
        2 => format!("W/{}", rng.pick(&fx.etags)),
        3 => format!("\"nope\", {}", rng.pick(&fx.etags)),
        4 => rng.pick(&fx.dates).clone(),
        5 => rng.pick(&["", "\"", "\"unterminated", "W/", ",", "W/\"x\" , *"]).to_string(),
        _ => rng.pick(&fx.etags).clone(),
    }
}

fn date(rng: &mut Rng, fx: &Fixture) -> String {
    if rng.chance(1, 2) { rng.pick(&fx.dates).clone() } else { rng.pick(FIXED_DATES).to_string() }
}

/// `Host` (always for HTTP/1.1, half the time for 1.0), now and then an odd but valid one.
pub fn host(rng: &mut Rng, d: &mut Draft) {
    if d.minor == 1 || rng.chance(1, 2) {
        let host = if rng.chance(1, 8) { rng.pick(ODD_HOSTS).as_bytes().to_vec() } else { b"evserve.test".to_vec() };
        d.headers.push((case_mix(rng, "Host"), host));
    }
}

/// Up to four fields, each inserted at a random place among those already there.
pub fn fields(rng: &mut Rng, fx: &Fixture, d: &mut Draft) {
    for _ in 0..rng.below(5) {
        let (name, value) = field(rng, fx, &mut d.conn_values);
        let at = rng.below(d.headers.len() + 1);
        d.headers.insert(at, (case_mix(rng, name), value));
    }
}

/// One field; a `Connection` value is also noted in `conn_values`.
fn field(rng: &mut Rng, fx: &Fixture, conn_values: &mut Vec<Vec<u8>>) -> (&'static str, Vec<u8>) {
    match rng.below(13) {
        0 | 1 => ("Range", rng.pick(RANGES).as_bytes().to_vec()),
        2 => ("If-None-Match", validator(rng, fx).into_bytes()),
        3 => ("If-Match", validator(rng, fx).into_bytes()),
        4 => ("If-Modified-Since", date(rng, fx).into_bytes()),
        5 => ("If-Unmodified-Since", date(rng, fx).into_bytes()),
        6 => ("If-Range", validator(rng, fx).into_bytes()),
        7 | 8 => ("Accept-Encoding", rng.pick(ENCODINGS).as_bytes().to_vec()),
        9 => {
            ("Accept", rng.pick(&["application/json", "text/html", "*/*", "application/json;q=0"]).as_bytes().to_vec())
        }
        10 => {
            let v = rng.pick(CONNECTIONS).as_bytes().to_vec();
            conn_values.push(v.clone());
            ("Connection", v)
        }
        11 => (*rng.pick(&["User-Agent", "Referer", "Cookie", "X-Forwarded-For", "Via"]), printable(rng, 40)),
        _ => (*rng.pick(&["Range", "If-Match", "If-None-Match", "Accept-Encoding", "If-Range"]), printable(rng, 30)),
    }
}

/// Sometimes a head near the limit (the input buffer is only somewhat larger).
pub fn pad(rng: &mut Rng, limits: &Limits, d: &mut Draft) {
    if rng.chance(1, 25) {
        let pad = rng.below(limits.max_head_bytes.min(40_000));
        d.headers.push((b"X-Pad".to_vec(), vec![b'p'; pad]));
    }
}

/// `Expect: 100-continue` one time in six.
pub fn expect_continue(rng: &mut Rng, d: &mut Draft) {
    d.expect_100 = rng.chance(1, 6);
    if d.expect_100 {
        d.headers.push((case_mix(rng, "Expect"), rng.pick(&["100-continue", "100-Continue"]).as_bytes().to_vec()));
    }
}
