//! HTTP/2 frames a test client sends, built with the server's own frame encoder and HPACK
//! (`use common::h2::{get, get_with, rst, window_update}`).
use evserve::http2::ErrorCode;
use evserve::http2::frame;
use evserve::http2::hpack::encoder::encode_field;

/// A GET's HEADERS frame (END_HEADERS) on `stream` for `path`, authority `t`.
pub fn get(stream: u32, path: &[u8], end_stream: bool) -> Vec<u8> {
    get_with(stream, path, &[], end_stream)
}

/// The same with more fields after the pseudo-fields.
pub fn get_with(stream: u32, path: &[u8], fields: &[(&[u8], &[u8])], end_stream: bool) -> Vec<u8> {
    let mut block = Vec::new();
    let pseudo = [(&b":method"[..], &b"GET"[..]), (b":scheme", b"http"), (b":path", path), (b":authority", b"t")];
    for (n, v) in pseudo.iter().chain(fields) {
        encode_field(&mut block, n, v);
    }
    let mut out = Vec::new();
    frame::encode_headers(&mut out, stream, &block, end_stream, 16_384);
    out
}

/// RST_STREAM CANCEL on `stream`.
pub fn rst(stream: u32) -> Vec<u8> {
    let mut out = Vec::new();
    frame::encode_rst_stream(&mut out, stream, ErrorCode::Cancel);
    out
}

/// WINDOW_UPDATE of `increment` on `stream` (0: the connection).
pub fn window_update(stream: u32, increment: u32) -> Vec<u8> {
    let mut out = Vec::new();
    frame::encode_window_update(&mut out, stream, increment);
    out
}
