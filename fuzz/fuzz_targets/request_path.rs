//! Drives one `Connection` over an in-memory stream with the fuzzer's bytes and checks the
//! output: the harness is the one `cargo test` runs (tests/fuzz_props/, included below).
//!
//! Input format (`run_raw`): byte 0 picks limits, site options, EOF/half-close, injected
//! `WouldBlock`s and a timeout at the end (`Setup::from_bits`); byte 1 picks the read and
//! write sizes and seeds the stream; the rest is what the client sends.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_props/main.rs"]
#[allow(dead_code, unused_imports)]
mod props;

static FIXTURE: OnceLock<props::Fixture> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let fx = FIXTURE.get_or_init(|| props::Fixture::create("libfuzzer"));
    if let Err(e) = props::run_raw(data, fx) {
        panic!("{e}\n  input: b\"{}\"", data.escape_ascii());
    }
});
