//! `proxy::parse` on arbitrary bytes. It must never panic, and its answers must be consistent
//! with reading more: a header is found at the same length in any longer buffer and in exactly
//! its own bytes, a buffer it waits on (`Ok(None)`) is below the cap and so is each of its
//! prefixes, and a refused buffer stays refused whatever follows.
#![no_main]

use evserve::net::proxy::{MAX_V2_HEADER, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let longer = |tail: &[u8]| [data, tail].concat();
    match parse(data) {
        Ok(Some((header, n))) => {
            assert!(n <= data.len() && n <= MAX_V2_HEADER);
            assert_eq!(parse(&data[..n]), Ok(Some((header, n))));
            assert_eq!(parse(&longer(b"\r\nGET")), Ok(Some((header, n))));
            for i in 0..n {
                assert_eq!(parse(&data[..i]), Ok(None), "prefix {i} of a header");
            }
        }
        Ok(None) => {
            assert!(data.len() < MAX_V2_HEADER);
            for i in 0..data.len() {
                assert_eq!(parse(&data[..i]), Ok(None), "prefix {i} of a prefix");
            }
        }
        Err(_) => {
            for tail in [&b"\r\n"[..], b" ", b"\n", b"\0"] {
                assert!(parse(&longer(tail)).is_err(), "refused, then accepted with {tail:?}");
            }
        }
    }
});
