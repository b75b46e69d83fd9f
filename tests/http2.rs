//! HTTP/2 end to end: the real server on port 0, spoken to by real clients (curl's h2c with
//! prior knowledge and h2 over TLS, nghttp with 100 streams on one connection) and by frames
//! built by hand for what a polite client never sends (Rapid Reset, a CONTINUATION flood,
//! stream ids going backwards, too many streams, a window that never opens, a body on a GET,
//! a raw byte outside ASCII in `:path`). A tool that is missing is said, and its test skips.
mod common;
mod tls_util;

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use common::h2::{get, get_with, rst, window_update};
use common::*;
use evserve::http2::ErrorCode;
use evserve::http2::frame::{self, FrameHeader, FrameType, flags, setting};
use evserve::http2::hpack::decoder::{Decoder, Header};
use evserve::http2::hpack::encoder::encode_field;

fn site() -> Fixture {
    let fx = Fixture::new();
    fx.file("index.html", "<h1>home</h1>\n");
    fx.file("big.bin", Rng::new(21).bytes(300_000));
    fx.file("a.txt", "hello over h2\n");
    fx
}

#[test]
fn curl_gets_files_ranges_head_and_304_over_h2c() {
    if !installed("curl") {
        return;
    }
    let fx = site();
    let server = TestServer::start(&fx.root());
    let url = |p: &str| format!("http://{}{p}", server.addr);
    let (head, body) = curl_h2c(&[&url("/a.txt")]);
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    assert!(head.contains("\r\ncontent-type: text/plain; charset=utf-8\r\n"), "{head}");
    assert_eq!(body, b"hello over h2\n");
    let (_, body) = curl_h2c(&[&url("/big.bin")]);
    assert!(body == Rng::new(21).bytes(300_000), "the big file differs ({} bytes)", body.len());
    let (head, body) = curl_h2c(&["-r", "10-19", &url("/big.bin")]);
    assert!(head.starts_with("HTTP/2 206") && head.contains("content-range: bytes 10-19/300000"), "{head}");
    assert_eq!(body, Rng::new(21).bytes(300_000)[10..20]);
    // A long range from an offset off every alignment: runs of frames read to sit cache-aligned.
    let (head, body) = curl_h2c(&["-r", "77-250076", &url("/big.bin")]);
    assert!(head.starts_with("HTTP/2 206"), "{head}");
    assert!(body == Rng::new(21).bytes(300_000)[77..250_077], "the range differs ({} bytes)", body.len());
    // HEAD: the fields of a GET, no body.
    let out = Command::new("curl")
        .args(["-s", "-m", "10", "--http2-prior-knowledge", "-I", "-w", "|%{size_download}", &url("/big.bin")])
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(head.contains("content-length: 300000") && head.ends_with("|0"), "{head}");
    let etag = head.lines().find_map(|l| l.strip_prefix("etag: ")).unwrap().to_string();
    let (head, _) = curl_h2c(&["-H", &format!("If-None-Match: {etag}"), &url("/big.bin")]);
    assert!(head.starts_with("HTTP/2 304"), "{head}");
    let (head, _) = curl_h2c(&[&url("/missing")]);
    assert!(head.starts_with("HTTP/2 404"), "{head}");
    let (head, _) = curl_h2c(&[&url("/..%2f..%2fetc/passwd")]);
    assert!(head.starts_with("HTTP/2 400"), "{head}");
}

#[test]
fn nghttp_sends_100_streams_on_one_connection() {
    if !installed("nghttp") {
        return;
    }
    let fx = site();
    let server = TestServer::start(&fx.root());
    let url = format!("http://{}/a.txt", server.addr);
    let out = Command::new("nghttp").args(["-n", "-s", "-m", "100", &url]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let ok = text.lines().filter(|l| l.contains("/a.txt")).count();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(ok, 100, "{text}");
}

#[test]
fn nghttp_decodes_response_fields_sent_again_as_indexes_whatever_its_table_size() {
    if !installed("nghttp") {
        return;
    }
    let fx = site();
    let server = TestServer::start(&fx.root());
    let paths = ["/a.txt", "/big.bin", "/index.html"];
    for p in paths {
        // In the file cache first: requests at once for a file not yet cached each build its
        // fields anew, and fields built anew are a new block.
        assert_eq!(server.get(&format!("GET {p} HTTP/1.1\r\nHost: t\r\n\r\n")).status, 200);
    }
    let urls = paths.map(|p| format!("http://{}{p}", server.addr));
    // Each file three times on one connection; the client's decoder table at its default,
    // smaller than one file's fields, and none at all.
    for table in ["4096", "150", "0"] {
        let out = Command::new("nghttp").args(["-nv", "-m", "3", "-c", table]).args(&urls).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && !text.contains("COMPRESSION_ERROR"), "table {table}: {text}");
        let count = |s: &str| text.lines().filter(|l| l.contains("recv (stream_id=") && l.ends_with(s)).count();
        assert_eq!(count("content-type: text/plain; charset=utf-8"), 3, "table {table}: {text}");
        assert_eq!(count("content-type: text/html; charset=utf-8"), 3, "table {table}: {text}");
        assert_eq!(count("content-length: 300000"), 3, "table {table}: {text}");
        assert_eq!(count("content-length: 14"), 6, "table {table}: {text}");
        assert_eq!(count("server: evserve/0.1.0"), 9, "table {table}: {text}");
        // HEADERS frame lengths: with a table, a file's fields sent again are an index each.
        let lengths: Vec<u32> = text
            .lines()
            .filter_map(|l| l.split("recv HEADERS frame <length=").nth(1)?.split(',').next()?.parse().ok())
            .collect();
        assert_eq!(lengths.len(), 9, "{text}");
        let small = lengths.iter().filter(|&&n| n < 16).count();
        match table {
            "4096" => assert!(small >= 5, "{lengths:?}"),
            _ => assert_eq!(small, 0, "table {table}: {lengths:?}"),
        }
    }
}

#[test]
fn h2_over_tls_by_alpn_and_h2_off_keeps_http_1_1() {
    if !installed("curl") {
        return;
    }
    let fx = site();
    let pki = tls_util::Pki::new();
    let (cert, key) = (pki.cert.clone(), pki.key.clone());
    for http2 in [true, false] {
        let (c, k) = (cert.clone(), key.clone());
        let server = TestServer::with(&fx.root(), move |cfg| {
            cfg.tls_cert = Some(c);
            cfg.tls_key = Some(k);
            cfg.http2 = http2;
        });
        let url = format!("https://localhost:{}/big.bin", server.addr.port());
        let resolve = format!("localhost:{}:127.0.0.1", server.addr.port());
        let out = Command::new("curl")
            .args(["-sk", "-m", "10", "--http2", "--resolve", &resolve, "-o", "-", "-w", "|%{http_version}", &url])
            .output()
            .unwrap();
        let at = out.stdout.iter().rposition(|&b| b == b'|').unwrap();
        let (body, version) = (&out.stdout[..at], &out.stdout[at + 1..]);
        assert_eq!(version, if http2 { &b"2"[..] } else { &b"1.1"[..] }, "--http2 {http2}");
        assert!(body == Rng::new(21).bytes(300_000), "the big file differs over TLS: {} bytes", body.len());
    }
}

/// A client speaking frames by hand.
struct Raw {
    s: TcpStream,
    buf: Vec<u8>,
    /// Every HEADERS block is decoded as it passes, in order (the server's blocks refer to
    /// the entries earlier ones inserted); `fields` holds the last one's.
    decoder: Decoder,
    fields: Vec<Header>,
}

impl Raw {
    fn connect(addr: SocketAddr, settings: &[(u16, u32)]) -> Raw {
        let mut s = connect(addr);
        let mut out = frame::PREFACE.to_vec();
        frame::encode_settings(&mut out, settings);
        s.write_all(&out).unwrap();
        Raw { s, buf: Vec::new(), decoder: Decoder::new(), fields: Vec::new() }
    }

    fn send(&mut self, bytes: &[u8]) {
        let _ = self.s.write_all(bytes);
    }

    /// The next frame, or None at the end of the connection.
    fn frame(&mut self) -> Option<(FrameHeader, Vec<u8>)> {
        loop {
            if let Some(h) = FrameHeader::parse(&self.buf)
                && self.buf.len() >= 9 + h.length as usize
            {
                let payload = self.buf[9..9 + h.length as usize].to_vec();
                self.buf.drain(..9 + h.length as usize);
                let mut ack = Vec::new();
                match h.kind {
                    FrameType::Settings if !h.has(flags::ACK) => frame::encode_settings_ack(&mut ack),
                    FrameType::Ping if !h.has(flags::ACK) => {
                        frame::encode_ping_ack(&mut ack, payload[..8].try_into().unwrap())
                    }
                    FrameType::Headers => self.fields = self.decoder.decode(&payload).expect("a block that decodes"),
                    _ => {}
                }
                self.send(&ack);
                return Some((h, payload));
            }
            let mut chunk = [0u8; 65536];
            match self.s.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Frames until `want` matches one (returned) or the connection ends (None).
    fn until(&mut self, mut want: impl FnMut(&FrameHeader, &[u8]) -> bool) -> Option<(FrameHeader, Vec<u8>)> {
        while let Some((h, p)) = self.frame() {
            if want(&h, &p) {
                return Some((h, p));
            }
        }
        None
    }

    /// The GOAWAY's error code, once it comes.
    fn goaway(&mut self) -> Option<ErrorCode> {
        let (_, p) = self.until(|h, _| h.kind == FrameType::GoAway)?;
        Some(ErrorCode::from_u32(u32::from_be_bytes([p[4], p[5], p[6], p[7]])))
    }

    /// The stream and `:status` of the next HEADERS, whichever stream it is on.
    fn any_status(&mut self) -> Option<(u32, u16)> {
        let (h, _) = self.until(|h, _| h.kind == FrameType::Headers)?;
        Some((h.stream_id, self.last_status()?))
    }

    /// The `:status` of the HEADERS on `stream`.
    fn status(&mut self, stream: u32) -> Option<u16> {
        self.until(|h, _| h.kind == FrameType::Headers && h.stream_id == stream)?;
        self.last_status()
    }

    fn last_status(&self) -> Option<u16> {
        let status = self.fields.iter().find(|f| f.name == b":status")?;
        std::str::from_utf8(&status.value).ok()?.parse().ok()
    }
}

#[test]
fn rapid_reset_is_answered_with_enhance_your_calm() {
    let fx = site();
    let server = TestServer::start(&fx.root());
    let mut c = Raw::connect(server.addr, &[]);
    let mut burst = Vec::new();
    for i in 0..1000u32 {
        let id = 2 * i + 1;
        burst.extend(get(id, b"/a.txt", true));
        burst.extend(rst(id));
    }
    c.send(&burst);
    assert_eq!(c.goaway(), Some(ErrorCode::EnhanceYourCalm));
    // The server is unharmed.
    assert_eq!(server.get("GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n").status, 200);
}

#[test]
fn a_continuation_flood_ends_the_connection() {
    let fx = site();
    let server = TestServer::start(&fx.root());
    let mut c = Raw::connect(server.addr, &[]);
    let mut block = Vec::new();
    encode_field(&mut block, b":method", b"GET");
    let mut out = Vec::new();
    FrameHeader { length: block.len() as u32, kind: FrameType::Headers, flags: 0, stream_id: 1 }.encode(&mut out);
    out.extend_from_slice(&block);
    let filler = vec![0x40u8; 16_384]; // Literal fields that never end the block.
    for _ in 0..64 {
        FrameHeader { length: filler.len() as u32, kind: FrameType::Continuation, flags: 0, stream_id: 1 }
            .encode(&mut out);
        out.extend_from_slice(&filler);
    }
    c.send(&out);
    assert!(c.goaway().is_some(), "no GOAWAY for a header block without end");
}

#[test]
fn stream_ids_going_backwards_are_a_protocol_error() {
    let fx = site();
    let server = TestServer::start(&fx.root());
    let mut c = Raw::connect(server.addr, &[]);
    c.send(&get(5, b"/a.txt", true));
    assert_eq!(c.status(5), Some(200));
    c.send(&get(3, b"/a.txt", true));
    assert_eq!(c.goaway(), Some(ErrorCode::ProtocolError));
}

#[test]
fn more_streams_than_allowed_are_refused() {
    let fx = site();
    let server = TestServer::start(&fx.root());
    // A window of 0: responses cannot finish, so the streams stay open.
    let mut c = Raw::connect(server.addr, &[(setting::INITIAL_WINDOW_SIZE, 0)]);
    let mut burst = Vec::new();
    for i in 0..101u32 {
        burst.extend(get(2 * i + 1, b"/big.bin", true));
    }
    c.send(&burst);
    let (_, p) = c.until(|h, _| h.kind == FrameType::RstStream).expect("a RST_STREAM");
    assert_eq!(ErrorCode::from_u32(u32::from_be_bytes([p[0], p[1], p[2], p[3]])), ErrorCode::RefusedStream);
}

#[test]
fn a_window_that_never_opens_is_closed_by_the_write_timeout() {
    let fx = site();
    let server = TestServer::with(&fx.root(), |c| c.timeouts.write_stall = Duration::from_millis(300));
    let mut c = Raw::connect(server.addr, &[(setting::INITIAL_WINDOW_SIZE, 0)]);
    c.send(&get(1, b"/big.bin", true));
    assert_eq!(c.status(1), Some(200));
    // No WINDOW_UPDATE ever: the connection ends rather than holding the response for ever.
    assert!(c.until(|h, _| h.kind == FrameType::Data && h.length > 0).is_none());
}

#[test]
fn a_body_on_a_get_is_answered_then_the_stream_reset_with_no_error() {
    let fx = site();
    let server = TestServer::start(&fx.root());
    let mut c = Raw::connect(server.addr, &[]);
    c.send(&get(1, b"/a.txt", false));
    let mut data = Vec::new();
    frame::encode_data(&mut data, 1, b"unwanted", false);
    c.send(&data);
    assert_eq!(c.status(1), Some(200));
    let (_, p) = c.until(|h, _| h.kind == FrameType::RstStream && h.stream_id == 1).expect("a RST_STREAM");
    assert_eq!(ErrorCode::from_u32(u32::from_be_bytes([p[0], p[1], p[2], p[3]])), ErrorCode::NoError);
}

#[test]
fn a_raw_byte_outside_ascii_in_the_path_is_400() {
    let fx = site();
    let server = TestServer::start(&fx.root());
    let mut c = Raw::connect(server.addr, &[]);
    c.send(&get(1, "/caf\u{e9}".as_bytes(), true));
    assert_eq!(c.status(1), Some(400));
}

#[test]
fn every_stream_gets_a_log_line_and_a_drain_sends_goaway() {
    let fx = site();
    let log = fx.root().join("../access.log");
    let l = log.clone();
    let server = TestServer::with(&fx.root(), move |c| c.access_log = Some(l));
    let mut c = Raw::connect(server.addr, &[]);
    c.send(&[get(1, b"/a.txt", true), get(3, b"/missing", true)].concat());
    // Streams may be answered in either order.
    let mut statuses = [c.any_status(), c.any_status()];
    statuses.sort();
    assert_eq!(statuses, [Some((1, 200)), Some((3, 404))]);
    // The drain: GOAWAY and a PING (which `Raw` answers), then the final GOAWAY and a close.
    let stopping = std::thread::spawn(move || server.stop());
    assert_eq!(c.goaway(), Some(ErrorCode::NoError));
    assert_eq!(c.goaway(), Some(ErrorCode::NoError), "the second, final GOAWAY");
    assert!(c.frame().is_none(), "closed after the final GOAWAY");
    stopping.join().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("\"GET /a.txt HTTP/2.0\" 200 14 "), "{text}");
    assert!(text.contains("\"GET /missing HTTP/2.0\" 404 "), "{text}");
}

#[test]
fn trace_shows_each_frame_received_and_sent() {
    let fx = site();
    let root = fx.root();
    let p = Process::spawn(&[root.to_str().unwrap(), "--port", "0", "--bind", "127.0.0.1", "--trace"]);
    let mut c =
        Raw::connect(p.addr.expect("the address on the first line"), &[(setting::INITIAL_WINDOW_SIZE, 1 << 20)]);
    c.send(&get(1, b"/a.txt", true));
    assert_eq!(c.status(1), Some(200));
    c.until(|h, _| h.kind == FrameType::Data && h.has(flags::END_STREAM)).expect("the body");
    let mut update = Vec::new();
    frame::encode_window_update(&mut update, 0, 1000);
    frame::encode_rst_stream(&mut update, 1, ErrorCode::Cancel); // Closed already: ignored.
    c.send(&update);
    p.signal(libc::SIGTERM);
    assert_eq!(c.goaway(), Some(ErrorCode::NoError), "the drain's GOAWAY");
    assert!(c.until(|_, _| false).is_none(), "closed once the drain's PING is answered");
    let (code, err) = p.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{err}");
    for said in [
        "recv SETTINGS stream 0 6 B: initial_window_size=1048576",
        "send SETTINGS stream 0 30 B: max_concurrent_streams=100 initial_window_size=65535",
        "send SETTINGS stream 0 [ACK] 0 B",
        "recv SETTINGS stream 0 [ACK] 0 B",
        "recv HEADERS stream 1 [END_STREAM|END_HEADERS] ",
        ": 4 fields",
        "send HEADERS stream 1 [END_HEADERS] ",
        "send DATA stream 1 [END_STREAM] 14 B",
        "recv WINDOW_UPDATE stream 0 4 B: increment 1000",
        "recv RST_STREAM stream 1 4 B: Cancel",
        "send GOAWAY stream 0 8 B: last stream 2147483647, NoError",
    ] {
        assert!(err.contains(said), "--trace does not say {said:?}:\n{err}");
    }
}

fn rst_code(p: &[u8]) -> ErrorCode {
    ErrorCode::from_u32(u32::from_be_bytes([p[0], p[1], p[2], p[3]]))
}

#[test]
fn a_stream_whose_window_stays_closed_is_reset_alone_while_others_go_on() {
    let fx = site();
    let root = fx.root();
    let args = [root.to_str().unwrap(), "--port", "0", "--bind", "127.0.0.1", "--write-timeout", "0.3"];
    let mut p = Process::spawn(&[&args[..], &["--stats", "0.1"]].concat());
    // Stream windows of 0: each stream sends only what the client grants it.
    let mut c = Raw::connect(p.addr.unwrap(), &[(setting::INITIAL_WINDOW_SIZE, 0)]);
    c.send(&[get(1, b"/big.bin", true), get(3, b"/big.bin", true), window_update(3, 1)].concat());
    // Stream 3 goes on a byte at a time (300,000 round trips: far longer than the 0.3 s
    // timeout), so the connection keeps making progress; stream 1 never gets a byte of window.
    let mut got_on_3 = 0;
    loop {
        let (h, payload) = c.frame().expect("the connection stays open");
        match (h.kind, h.stream_id) {
            (FrameType::Data, 3) => {
                assert!(!h.has(flags::END_STREAM), "stream 3 outlasts the timeout");
                got_on_3 += h.length;
                c.send(&[window_update(3, h.length), window_update(0, h.length)].concat());
            }
            (FrameType::RstStream, 1) => {
                assert_eq!(rst_code(&payload), ErrorCode::Cancel);
                break;
            }
            (FrameType::RstStream | FrameType::GoAway, _) => panic!("{h:?} {payload:?}"),
            _ => {}
        }
    }
    assert!(got_on_3 > 0);
    // Stream 3 and the connection go on: the rest of its body in one grant, then a new stream.
    c.send(&[window_update(3, 300_000), window_update(0, 300_000)].concat());
    let mut rest = 0;
    let (h, _) = c
        .until(|h, _| {
            rest += if h.kind == FrameType::Data && h.stream_id == 3 { h.length } else { 0 };
            h.kind == FrameType::Data && h.has(flags::END_STREAM)
        })
        .expect("the end of stream 3");
    assert_eq!((h.stream_id, got_on_3 + rest), (3, 300_000));
    c.send(&get(5, b"/a.txt", true));
    assert_eq!(c.status(5), Some(200));
    // --stats counts it.
    let mut line = String::new();
    while !line.contains("stalled-streams 1") {
        line.clear();
        assert!(p.stderr.read_line(&mut line).unwrap() > 0, "no stats line counts the stalled stream");
    }
}

#[test]
fn a_field_block_that_never_ends_is_bounded_by_the_request_timeout() {
    let fx = site();
    // A long idle timeout: only the request timeout can end this.
    let server = TestServer::with(&fx.root(), |c| {
        c.timeouts.request = Duration::from_millis(300);
        c.timeouts.idle = Duration::from_secs(600);
    });
    let mut c = Raw::connect(server.addr, &[]);
    // The server's SETTINGS, acknowledged before the block begins (nothing may come inside it),
    // and its ACK of ours, so that what comes later can only be the GOAWAY.
    c.until(|h, _| h.kind == FrameType::Settings && !h.has(flags::ACK)).unwrap();
    c.until(|h, _| h.kind == FrameType::Settings && h.has(flags::ACK)).unwrap();
    let mut block = Vec::new();
    encode_field(&mut block, b":method", b"GET");
    let mut out = Vec::new();
    FrameHeader { length: block.len() as u32, kind: FrameType::Headers, flags: 0, stream_id: 1 }.encode(&mut out);
    out.extend_from_slice(&block);
    c.send(&out);
    // A CONTINUATION every 0.1 s (the read timeout paces it), never END_HEADERS: each is a
    // new read, which must not restart the connection's clock as it restarts an idle one.
    c.s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut more = Vec::new();
    FrameHeader { length: 1, kind: FrameType::Continuation, flags: 0, stream_id: 1 }.encode(&mut more);
    more.push(0x82); // :method GET, indexed: a whole field each time.
    for _ in 0..100 {
        c.send(&more);
        let mut chunk = [0u8; 4096];
        match c.s.read(&mut chunk) {
            Ok(0) => panic!("closed without GOAWAY"),
            Ok(n) => {
                c.buf.extend_from_slice(&chunk[..n]);
                let (_, p) = c.until(|h, _| h.kind == FrameType::GoAway).expect("a GOAWAY");
                assert_eq!(&p[4..8], &[0, 0, 0, 0], "GOAWAY NO_ERROR: a timeout, not a protocol error");
                return;
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => panic!("{e}"),
        }
    }
    panic!("a field block trickling for 10 s was never cut off");
}

/// A GET's HEADERS on `stream` with an RFC 9218 `priority` field.
fn get_with_priority(stream: u32, path: &[u8], priority: &[u8]) -> Vec<u8> {
    let mut block = Vec::new();
    for (n, v) in [(&b":method"[..], &b"GET"[..]), (b":scheme", b"http"), (b":path", path), (b":authority", b"t")] {
        encode_field(&mut block, n, v);
    }
    encode_field(&mut block, b"priority", priority);
    let mut out = Vec::new();
    frame::encode_headers(&mut out, stream, &block, true, 16_384);
    out
}

#[test]
fn data_goes_by_rfc_9218_priority() {
    let fx = site();
    let server = TestServer::start(&fx.root());
    let mut c = Raw::connect(server.addr, &[]);
    // Stream 1 takes the whole connection window (65,535 bytes), so the next responses wait
    // for it with their HEADERS sent, then all start at once from one WINDOW_UPDATE.
    c.send(&get(1, b"/big.bin", true));
    let mut taken = 0;
    while taken < 65_535 {
        let (h, _) = c.until(|h, _| h.kind == FrameType::Data).expect("stream 1's DATA");
        taken += h.length;
    }
    c.send(
        &[
            get_with_priority(3, b"/big.bin", b"u=5"),
            get_with_priority(5, b"/big.bin", b"u=0"),
            get(7, b"/big.bin", true), // u=3 by default
            get_with_priority(9, b"/big.bin", b"u=1, i"),
            get_with_priority(11, b"/big.bin", b"u=1, i"),
        ]
        .concat(),
    );
    let mut answered: Vec<u32> = (0..5).map(|_| c.any_status().expect("HEADERS").0).collect();
    answered.sort();
    assert_eq!(answered, [3, 5, 7, 9, 11]);
    c.send(&window_update(0, 1_000_000));
    // Each stream has its initial 65,535 bytes of window: four frames (16,384 at most each).
    let order: Vec<u32> =
        (0..20).map(|_| c.until(|h, _| h.kind == FrameType::Data).expect("DATA").0.stream_id).collect();
    let (urgent, rest) = order.split_at(4);
    let (incremental, rest) = rest.split_at(8);
    assert_eq!(
        (urgent, rest),
        (&[5, 5, 5, 5][..], &[7, 7, 7, 7, 3, 3, 3, 3][..]),
        "u=0, then u=3, then u=5: {order:?}"
    );
    // The two incremental u=1 streams by turns (which one starts is not said).
    let turns = if incremental[0] == 9 { [9, 11] } else { [11, 9] };
    assert_eq!(incremental, turns.repeat(4), "{order:?}");
}

/// DATA frames of `stream` until END_STREAM: their lengths and payloads, each granted back
/// to the stream and the connection as it comes.
fn body_frames(c: &mut Raw, stream: u32) -> (Vec<u32>, Vec<u8>) {
    let (mut lengths, mut body) = (Vec::new(), Vec::new());
    loop {
        let (h, payload) = c.frame().expect("the body, then END_STREAM");
        if h.kind == FrameType::Data && h.stream_id == stream {
            lengths.push(h.length);
            body.extend_from_slice(&payload);
            if h.length > 0 {
                c.send(&[window_update(stream, h.length), window_update(0, h.length)].concat());
            }
            if h.has(flags::END_STREAM) {
                return (lengths, body);
            }
        }
    }
}

#[test]
fn a_file_goes_in_full_frames_within_each_window_byte_exact() {
    let fx = site();
    let file = std::fs::read(fx.root().join("big.bin")).unwrap();
    let server = TestServer::start(&fx.root());
    // Wide windows: runs of full 16 KiB frames, read together; the last one short.
    let mut c = Raw::connect(server.addr, &[(setting::INITIAL_WINDOW_SIZE, 1 << 20)]);
    c.send(&[window_update(0, 1 << 20), get(1, b"/big.bin", true)].concat());
    let (lengths, body) = body_frames(&mut c, 1);
    assert!(body == file, "the body is the file, byte for byte");
    let (last, full) = lengths.split_last().unwrap();
    assert!(full.iter().all(|&n| n == 16_384), "{lengths:?}");
    assert_eq!(*last as usize, file.len() % 16_384);
    // A window of 20,000 a stream: a full frame, then what is left of the window, and again
    // as each grant comes back; a larger max frame size is used up to what the window allows.
    let mut c = Raw::connect(server.addr, &[(setting::INITIAL_WINDOW_SIZE, 20_000), (setting::MAX_FRAME_SIZE, 40_000)]);
    c.send(&[window_update(0, 1 << 20), get(1, b"/big.bin", true)].concat());
    let (lengths, body) = body_frames(&mut c, 1);
    assert!(body == file, "the body is the file, byte for byte");
    assert_eq!(lengths[0], 20_000, "{lengths:?}");
    assert!(lengths.iter().all(|&n| n <= 20_000), "{lengths:?}");
}

/// The file is cut in place (the server holds it open) before any of its bytes went, and
/// after some went from its mapping; cut inside the page where the response ends (the
/// file's, or a range's), whose rest a mapping reads as zeros; and cut, then given a window
/// that ends inside that page, then put back: the server checks the length before each
/// write from the mapping, so no byte past the file's end ever goes.
#[test]
fn a_file_cut_short_under_an_announced_length_ends_the_connection() {
    let open = 1 << 20;
    let cases = [
        (None, 0, 1_000, open),
        (None, 20_000, 1_000, open),
        (None, 0, 299_500, open),
        (Some(&b"bytes=0-149999"[..]), 0, 149_500, open),
        (None, 0, 20_000, 20_480),
    ];
    for (range, before_cut, cut, window) in cases {
        let fx = site();
        let path = fx.root().join("big.bin");
        let file = std::fs::read(&path).unwrap();
        let server = TestServer::start(&fx.root());
        // The HEADERS (content-length 300000) go, and as much DATA as the stream window.
        let mut c = Raw::connect(server.addr, &[(setting::INITIAL_WINDOW_SIZE, before_cut)]);
        c.send(&get_with(1, b"/big.bin", &range.map(|r| (&b"range"[..], r)).into_iter().collect::<Vec<_>>(), true));
        assert_eq!(c.status(1), Some(if range.is_some() { 206 } else { 200 }));
        let mut got = Vec::new();
        while got.len() < before_cut as usize {
            let (h, payload) = c.frame().expect("the bytes the window allows");
            if h.kind == FrameType::Data {
                got.extend_from_slice(&payload);
            }
        }
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(cut).unwrap();
        c.send(&[window_update(1, window), window_update(0, open)].concat());
        // What arrives is the file's bytes or nothing: never a frame padded out, never
        // END_STREAM. Once the window's worth could have gone, the file is put back.
        let mut put_back = window == open;
        loop {
            match c.frame() {
                Some((h, payload)) if h.kind == FrameType::Data => {
                    assert!(!h.has(flags::END_STREAM), "a body shorter than its content-length ended");
                    got.extend_from_slice(&payload);
                }
                Some(_) => {}
                None => break,
            }
            if !put_back && got.len() >= (before_cut + window) as usize {
                std::fs::write(&path, &file).unwrap();
                c.send(&window_update(1, open));
                put_back = true;
            }
        }
        let most = cut.max(u64::from(before_cut)) as usize;
        assert!(got.len() <= most && got == file[..got.len()], "{} bytes", got.len());
        assert_eq!(server.get("GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n").status, 200);
    }
}

#[test]
fn requests_of_a_connection_that_failed_are_never_answered_on_another() {
    let fx = site();
    let server = TestServer::start(&fx.root());
    // Requests, then the error that ends their connection, in one write: Rapid Reset, and a
    // request followed by DATA on stream 0 (a protocol error).
    let mut burst = Vec::new();
    for i in 0..1000u32 {
        burst.extend([get(2 * i + 1, b"/a.txt", true), rst(2 * i + 1)].concat());
    }
    let mut c = Raw::connect(server.addr, &[]);
    c.send(&burst);
    assert_eq!(c.goaway(), Some(ErrorCode::EnhanceYourCalm));
    let mut c = Raw::connect(server.addr, &[]);
    c.send(&[get(1, b"/a.txt", true), get(3, b"/a.txt", true), vec![0; 9]].concat());
    assert_eq!(c.goaway(), Some(ErrorCode::ProtocolError));
    // The next connection of the loop gets what it asked for, once.
    let mut c = Raw::connect(server.addr, &[]);
    c.send(&[get(1, b"/index.html", true), get(3, b"/index.html", true)].concat());
    let mut answers = Vec::new();
    while answers.len() < 2 {
        let (h, payload) = c.frame().expect("two answers");
        if h.kind == FrameType::Data {
            answers.push((h.stream_id, payload));
        }
    }
    answers.sort();
    assert_eq!(answers, [(1, b"<h1>home</h1>\n".to_vec()), (3, b"<h1>home</h1>\n".to_vec())]);
}
