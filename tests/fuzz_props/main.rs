//! Property tests of the whole request path over an in-memory stream.
//!
//! Thousands of generated inputs (valid requests with hostile targets, random header fields,
//! bodies, pipelining, CR/LF splices, byte-level damage, random bytes) drive a `Connection`
//! whose stream hands the input over in random-sized reads and takes output in random-sized
//! writes, sometimes saying `WouldBlock`. Every run must:
//!
//! - not panic, and not spin (a `Yield`/`Wait` loop with no progress fails the test);
//! - write a sequence of complete HTTP/1.1 responses with statuses the server may send,
//!   one `Content-Length` where a body is allowed, bodies of exactly that length, no
//!   `Transfer-Encoding`, no control bytes in a head, nothing after `Connection: close`;
//! - never send the bytes of a secret file that sits outside the root (reachable only
//!   through symlinks and `..` tricks);
//! - for inputs generated well-formed: answer every request exactly once and in order,
//!   with a body unless it was HEAD, `100 Continue` exactly when asked, and
//!   `Connection: close` exactly when the request or a 400 calls for it;
//! - close when the peer closed, and never close silently on a client that is still there.
//!
//! There are no extra crates: a fixed-seed xorshift makes every run the same. The harness
//! is shared with the cargo-fuzz targets in `fuzz/` (they include this file with `#[path]`
//! and call `run_raw` and `check_resolve`), so a fuzzer's crash file becomes a regression
//! test here by pasting its bytes into a `#[test]` that calls `regression`.
//!
//! The parts: `fixture` (the served tree and the secret beside it), `generate` (a
//! generator per part of a request, chaos, whole cases), `harness` (setup, driver, one
//! case run), `check` (the response checker), `resolve` (the resolve properties), `shrink`
//! (failure reports), `corpus` (seeds for the fuzzer); the PRNG and the mock stream are
//! the shared ones of `tests/common`. Submodules name each other through `super::`, never
//! `crate::`, as this file is a module of the fuzz targets.
#[path = "../common/bytes.rs"]
#[allow(dead_code)]
mod bytes;
#[path = "../common/mock.rs"]
#[allow(dead_code)]
mod mock;
#[path = "../common/rng.rs"]
#[allow(dead_code)]
mod rng;

mod check;
mod corpus;
mod fixture;
mod generate;
mod harness;
mod resolve;
mod shrink;

use std::path::PathBuf;

pub use check::{ALLOWED, Expect, check};
pub use fixture::{Fixture, MARKER};
use generate::{RAW_PIECES, gen_case, gen_target};
pub use harness::{Run, Setup, Stats, drive, run_case, run_raw};
use harness::{run_case_stats, trace};
pub use resolve::check_resolve;
pub use rng::Rng;
use shrink::report;

/// Runs `count` generated cases from `seed`; panics with every failure found (at most 10).
fn run_generated(tag: &str, seed: u64, count: usize) {
    let fx = Fixture::create(tag);
    let mut rng = Rng::new(seed);
    let mut failures = Vec::new();
    let mut stats = Stats::default();
    for i in 0..count {
        let case = gen_case(&mut rng, &fx);
        for d in &case.disagreements {
            failures.push(format!("case {i}: generator and parser disagree: {d}\n"));
        }
        if let Err(e) = run_case_stats(&case.input, &case.setup, &fx.root, case.expect.as_deref(), &mut stats) {
            failures.push(report(i, &case, &e, &fx));
        }
        if failures.len() >= 10 {
            break;
        }
    }
    eprintln!("{tag}: {stats:?}");
    assert!(stats.well_formed > count / 4, "only {} of {count} cases were well-formed", stats.well_formed);
    assert!(failures.is_empty(), "{} failing cases:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn generated_requests_keep_every_property() {
    run_generated("props", 0x5EED_0001, 25_000);
}

#[test]
fn generated_requests_keep_every_property_second_seed() {
    run_generated("props2", 0x5EED_0002, 25_000);
}

#[test]
fn resolve_properties_hold_for_generated_targets() {
    let mut rng = Rng::new(0x5EED_0003);
    for _ in 0..20_000 {
        let mut t = gen_target(&mut rng);
        if rng.chance(1, 4) {
            let at = rng.below(t.len() + 1);
            t.splice(at..at, rng.pick(RAW_PIECES).iter().copied());
        }
        let Ok(t) = String::from_utf8(t) else { continue };
        for dotfiles in [false, true] {
            if let Err(e) = check_resolve(&t, dotfiles) {
                panic!("{e}");
            }
        }
    }
}

/// The harness itself must see what it claims to: a leak, a lost response, a bad length.
#[test]
fn checker_catches_broken_output() {
    let setup = Setup::from_bits(0, 0);
    let run = |out: &[u8], closed: bool| Run { output: out.to_vec(), closed, shut: false, timed_out: false, turns: 1 };
    let ok = b"HTTP/1.1 404 Not Found\r\nDate: x\r\nServer: y\r\nContent-Length: 3\r\n\r\nabc";
    assert_eq!(check(b"", &setup, &run(ok, false), None), Ok(()));
    let mut leak = ok.to_vec();
    leak.extend_from_slice(MARKER);
    assert!(check(b"", &setup, &run(&leak, false), None).is_err());
    let short = b"HTTP/1.1 404 Not Found\r\nDate: x\r\nServer: y\r\nContent-Length: 9\r\n\r\nabc";
    assert!(check(b"", &setup, &run(short, false), None).is_err());
    let odd = b"HTTP/1.1 299 Odd\r\nDate: x\r\nServer: y\r\nContent-Length: 0\r\n\r\n";
    assert!(check(b"", &setup, &run(odd, false), None).is_err());
    let e = Expect { head: false, cont: false, keep_alive: true, minor: 1, status: None };
    assert!(check(b"", &setup, &run(ok, false), Some(&[e.clone(), e])).is_err(), "a lost response");
    assert!(check(b"", &setup, &run(ok, true), None).is_err(), "a silent close");
}

/// Fuzzer inputs that once failed, byte for byte (`run_raw` format: setup byte, seed byte,
/// then the client's bytes).
fn regression(data: &[u8]) {
    let fx = Fixture::create(&format!("regression-{}", bytes::digest(data)));
    if let Err(e) = run_raw(data, &fx) {
        panic!("{e}\n  input: b\"{}\"", data.escape_ascii());
    }
}

/// Bug found by `generated_requests_keep_every_property`: an error page (405, 412, built-in
/// 404) answering an HTTP/1.0 `Connection: keep-alive` request left out
/// `Connection: keep-alive` while the server kept the connection open, so an HTTP/1.0 client
/// waits for a close that comes only with the idle timeout.
#[test]
fn regression_http10_keep_alive_error_page_says_keep_alive() {
    let fx = Fixture::create("regression-http10");
    let input = b"POST /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\
GET /index.html HTTP/1.0\r\nConnection: keep-alive\r\nIf-Match: \"nope\"\r\n\r\n\
GET /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    let e = |status| Expect { head: false, cont: false, keep_alive: true, minor: 0, status };
    let expect = [e(Some(405)), e(Some(412)), e(None)];
    let setup = Setup::from_bits(0x00, 28);
    assert_eq!(run_case(input, &setup, &fx.root, Some(&expect)), Ok(()));
}

/// Bug found by `generated_requests_keep_every_property`: with `--max-head-bytes` above
/// 12 KiB the input buffer (`max(max_head_bytes, 16 KiB)`) has no room for a head near the
/// limit plus a partial chunk-size or trailer line (up to 4 KiB), so `fill` found the buffer
/// full and the connection closed without a response.
#[test]
fn regression_big_head_and_chunk_trailer_fit_the_input_buffer() {
    let fx = Fixture::create("regression-big-head");
    // Setup byte 3: head limit 20 000; seed byte 28: 4096-byte reads, whole writes.
    let mut data = b"\x03\x1cGET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Pad: ".to_vec();
    data.extend(std::iter::repeat_n(b'p', 18_000));
    data.extend_from_slice(b"\r\n\r\n0\r\nX-Trailer: ");
    data.extend(std::iter::repeat_n(b't', 2_500));
    data.extend_from_slice(b"\r\n\r\n");
    assert_eq!(run_raw(&data, &fx), Ok(()));
    let expect = [Expect { head: false, cont: false, keep_alive: true, minor: 1, status: None }];
    assert_eq!(run_case(&data[2..], &Setup::from_bits(0x03, 28), &fx.root, Some(&expect)), Ok(()));
}

#[test]
fn regression_smoke_pipelined_get_head() {
    regression(b"\x00\x05GET / HTTP/1.1\r\nHost: a\r\n\r\nHEAD /docs HTTP/1.1\r\nHost: a\r\n\r\n");
}

/// Replays one generated case with a trace of every turn:
/// `FUZZ_CASE=<seed>:<index> cargo test --test fuzz_props replay -- --ignored --nocapture`
/// (the seeds are the ones `run_generated` is called with, e.g. `0x5EED0001:91`).
#[test]
#[ignore]
fn replay() {
    let spec = std::env::var("FUZZ_CASE").expect("FUZZ_CASE=<seed>:<index>");
    let (seed, index) = spec.split_once(':').expect("FUZZ_CASE=<seed>:<index>");
    let seed = u64::from_str_radix(seed.trim_start_matches("0x"), 16).unwrap();
    let index: usize = index.parse().unwrap();
    let fx = Fixture::create("replay");
    let mut rng = Rng::new(seed);
    let mut case = gen_case(&mut rng, &fx);
    for _ in 0..index {
        case = gen_case(&mut rng, &fx);
    }
    trace(&case, &fx);
}

/// Writes generated cases in `run_raw` format as a seed corpus for the fuzzer:
/// `FUZZ_SEEDS=fuzz/corpus/request_path cargo test --test fuzz_props write_seeds -- --ignored`
#[test]
#[ignore]
fn write_seeds() {
    let dir = PathBuf::from(std::env::var("FUZZ_SEEDS").expect("FUZZ_SEEDS=<folder>"));
    corpus::write_seeds(&dir, 500);
}
