//! `http2::connection::Connection` fed the client preface, an empty SETTINGS, then arbitrary
//! bytes, delivered in pieces as a socket might. It must never panic; `receive` never claims
//! more bytes than it was given; after a connection error every later call returns the same
//! error and the connection wants to close; the output is always whole frames; and answering
//! every request (HEADERS, then DATA accounted by `data_sent`) never panics either. Byte 0
//! picks the piece size (low 7 bits) and whether the output is drained (top bit: never, so
//! the backlog limit is reached).
#![no_main]

use evserve::http2::connection::{Connection, Event, Limits};
use evserve::http2::frame::{self, MAX_MAX_FRAME_SIZE, PREFACE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let piece = usize::from(pick & 0x7f).max(1);
    let drain = pick & 0x80 == 0;
    let mut c = Connection::new(Limits::default());
    let mut input = PREFACE.to_vec();
    frame::encode_settings(&mut input, &[]);
    input.extend_from_slice(rest);
    let mut pending = Vec::new();
    let mut events = Vec::new();
    for chunk in input.chunks(piece) {
        pending.extend_from_slice(chunk);
        match c.receive(&pending, &mut events) {
            Ok(n) => {
                assert!(n <= pending.len());
                pending.drain(..n);
            }
            Err(code) => {
                assert!(c.want_close() && c.error() == Some(code));
                assert_eq!(c.receive(&pending, &mut events), Err(code));
                break;
            }
        }
        for e in events.drain(..) {
            if let Event::Request { stream, .. } | Event::RequestTooLarge { stream, .. } = e {
                let _ = c.send_headers(stream, 200, &[(b"content-type", b"text/plain")], false);
                let n = c.send_window(stream);
                let _ = c.data_sent(stream, n, n % 2 == 0);
            }
        }
        if drain {
            let out = std::mem::take(c.output());
            let mut rest = &out[..];
            while !rest.is_empty() {
                match frame::decode(rest, MAX_MAX_FRAME_SIZE) {
                    Ok(Some((_, n))) => rest = &rest[n..],
                    other => panic!("our output is not whole frames: {other:?}"),
                }
            }
        }
    }
});
