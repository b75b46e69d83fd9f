//! `http2::frame::decode` walking arbitrary bytes as a frame stream. It must never panic, a
//! decoded frame never claims more bytes than it was given, every prefix of a decoded frame
//! is "need more bytes", and decoding is the same with more bytes after it. Byte 0 picks the
//! max frame size we pretend to advertise. `--trace`'s walk and line for each frame
//! (`http2::trace`) never panic either.
#![no_main]

use evserve::http2::frame::{DEFAULT_MAX_FRAME_SIZE, HEADER_LEN, decode};
use evserve::http2::trace;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, mut rest)) = data.split_first() else { return };
    let max = if pick & 1 == 0 { DEFAULT_MAX_FRAME_SIZE } else { 64 };
    for (h, payload) in trace::frames(rest) {
        assert!(!trace::describe(&h, payload).is_empty());
    }
    while !rest.is_empty() {
        match decode(rest, max) {
            Ok(Some((frame, n))) => {
                assert!(n >= HEADER_LEN && n <= rest.len());
                for cut in 0..n {
                    assert_eq!(decode(&rest[..cut], max), Ok(None), "prefix {cut} of a frame");
                }
                let longer = [rest, b"\0\0\0\0\0\0\0\0\0"].concat();
                assert_eq!(decode(&longer, max), Ok(Some((frame, n))));
                rest = &rest[n..];
            }
            Ok(None) => break,
            Err(_) => break,
        }
    }
});
