//! Hostile input never wins: raw-byte attacks on framing, limits, paths, timeouts and
//! resources, each against a real server on port 0 (or the real binary). Every wait has a
//! deadline; the only sleeps are the attacks' own pacing and one CPU-sampling window.
mod common;

use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::fs::symlink;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use common::*;

/// The bytes of a file outside the root: no response may ever contain them.
const SECRET: &[u8] = b"EVSERVE-TOP-SECRET-5f1e9a77";

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Stops the server on another thread and fails if that takes longer than `within`
/// (a hang), or if the loop panicked.
fn stop_within(server: TestServer, within: Duration) -> evserve::server::Summary {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(server.stop());
    });
    rx.recv_timeout(within).expect("the server should stop promptly (and its loop must not panic)")
}

/// A file of `len` bytes (sparse: reads as zeros, costs no disk).
fn sparse_file(fx: &Fixture, name: &str, len: usize) -> std::path::PathBuf {
    let path = fx.file(name, []);
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len as u64).unwrap();
    path
}

/// The kernel's TCP state of the server's end of a loopback connection, from
/// /proc/net/tcp ("01" = ESTABLISHED, "04" = FIN_WAIT1...); None once the socket is gone.
fn server_side_state(server: SocketAddr, client: SocketAddr) -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let port = |field: &str| field.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() > 3 && port(f[1]) == Some(server.port()) && port(f[2]) == Some(client.port()))
            .then(|| f[3].to_string())
    })
}

// ---------------------------------------------------------------------------------------
// 1. Framing (RFC 9112)
// ---------------------------------------------------------------------------------------

/// Request smuggling and desync attempts: every ambiguous or malformed framing gets its
/// exact status with `Connection: close`, and the server then closes (what follows cannot
/// be trusted to be a request).
#[test]
fn framing_violations_get_their_status_then_close() {
    let fx = Fixture::new();
    fx.file("index.html", "home");
    let server = TestServer::start(&fx.root());
    let cases: &[(&str, &str, u16)] = &[
        (
            "CL and TE",
            "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        ("TE and CL", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", 400),
        ("two differing CL", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
        ("CL list 1, 2", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\nab", 400),
        ("CL -1", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
        ("CL +5", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", 400),
        ("CL abc", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400),
        ("CL 0x10", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400),
        ("CL 1.0", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1.0\r\n\r\n", 400),
        ("CL empty", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400),
        ("CL huge", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
        ("TE chunked then gzip", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        ("TE gzip alone", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        (
            "TE chunked twice",
            "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        ("TE unknown coding", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: bogus\r\n\r\n", 501),
        ("TE unknown before chunked", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo, chunked\r\n\r\n", 501),
        (
            "TE gzip before chunked",
            "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            501,
        ),
        (
            "TE gzip then TE chunked",
            "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            501,
        ),
        ("Host with a slash", "GET / HTTP/1.1\r\nHost: bad/host\r\n\r\n", 400),
        ("Host with userinfo", "GET / HTTP/1.1\r\nHost: x@y:1\r\n\r\n", 400),
        ("Host with two ports", "GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n", 400),
        ("Host with a named port", "GET / HTTP/1.1\r\nHost: host:abc\r\n\r\n", 400),
        ("Host unclosed IPv6", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400),
        ("Host with a backslash", "GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n", 400),
        ("Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        ("Host bad on 1.0", "GET / HTTP/1.0\r\nHost: bad/host\r\n\r\n", 400),
        ("absolute-form two ports", "GET http://a:1:2/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("absolute-form bad IPv6", "GET http://[::1/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("absolute-form named port", "GET http://a:b/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("bare LF line ends", "GET / HTTP/1.1\nHost: a\n\n", 400),
        ("bare LF after a field", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400),
        ("bare LF ends the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400),
        ("bare LF before the request line", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        ("tab before colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A\t: b\r\n\r\n", 400),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400),
        ("obs-fold with tab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n", 400),
        ("bare CR in a field", "GET / HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n", 400),
        ("bare CR in the request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("missing Host on 1.1", "GET / HTTP/1.1\r\n\r\n", 400),
        ("two Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("two identical Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
        ("authority-form CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 400),
        ("authority-form GET", "GET a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 400),
        ("control char in target", "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("DEL in target", "GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("NUL in target", "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        ("HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
        ("not HTTP", "GET / FOO/1.1\r\nHost: a\r\n\r\n", 400),
        ("Expect: foo", "GET / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n", 417),
        ("bad chunk size", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (
            "chunk size overflow",
            "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n",
            400,
        ),
        (
            "empty chunk size line (httparse: last chunk)",
            "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n\r\n",
            400,
        ),
        (
            "space after chunk size",
            "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n",
            400,
        ),
        (
            "space before chunk extension",
            "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1 ;a=b\r\nx\r\n0\r\n\r\n",
            400,
        ),
        (
            "empty chunk extension name",
            "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;=b\r\nx\r\n0\r\n\r\n",
            400,
        ),
        (
            "unclosed quote in chunk extension",
            "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;a=\"b\r\nx\r\n0\r\n\r\n",
            400,
        ),
        (
            "bare LF after chunk size",
            "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n",
            400,
        ),
        (
            "bare LF in chunk extension",
            "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;a\nb\r\nx\r\n0\r\n\r\n",
            400,
        ),
        (
            "chunk size over 64 bits",
            "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
            400,
        ),
        (
            "bare LF ends a trailer",
            "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\n\r\n",
            400,
        ),
        ("bare LF ends the trailers", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n", 400),
        (
            "chunk data without CRLF",
            "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY\r\n0\r\n\r\n",
            400,
        ),
    ];
    // Pipelined after each bad message: once framing is in doubt, it must not be answered.
    let follower = "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut failures = Vec::new();
    for (name, raw, want) in cases {
        let (response, mut r) = send_raw(server.addr, format!("{raw}{follower}").as_bytes());
        if response.status != *want {
            failures.push(format!("{name}: {raw:?} got {} instead of {want}", response.status));
        } else if response.header("Connection") != Some("close") {
            failures.push(format!("{name}: {want} without Connection: close"));
        } else if !then_closed(&mut r) {
            failures.push(format!("{name}: connection not closed (or more was answered) after {want}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Someone typing into `nc` sends LF alone: the 400 comes after the first line (not after
/// a blank line that would never help) and its page says why.
#[test]
fn bare_lf_gets_400_that_explains_crlf() {
    let fx = Fixture::new();
    fx.file("index.html", "home");
    let server = TestServer::start(&fx.root());
    for raw in ["GET / HTTP/1.1\n", "GET / HTTP/1.1\nHost: a\n\n"] {
        let (response, mut r) = send_raw(server.addr, raw.as_bytes());
        assert_eq!(response.status, 400, "{raw:?}");
        assert_eq!(response.header("Connection"), Some("close"), "{raw:?}");
        let page = response.text();
        assert!(page.contains("lines must end with CRLF (\\r\\n), not a bare LF"), "{raw:?}: {page}");
        assert!(then_closed(&mut r), "{raw:?}");
    }
    // Other 400s keep the plain page.
    let (response, _) = send_raw(server.addr, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(response.status, 400);
    assert!(!response.text().contains("CRLF"));
}

/// `Host` values that fit `uri-host [":" port]` are served, an empty one included (RFC 9110
/// section 7.2); the refused ones are in the framing table above.
#[test]
fn host_authorities_that_fit_the_grammar_are_served() {
    let fx = Fixture::new();
    fx.file("index.html", "home");
    let server = TestServer::start(&fx.root());
    for host in ["", "example.org", "example.org:", "127.0.0.1:8080", "[::1]:8080", "[v1.x]", "%41-b.c", "a!$&'()*+,;="]
    {
        let r = server.get(&format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n"));
        assert_eq!((r.status, r.text().as_str()), (200, "home"), "Host: {host:?}");
    }
}

/// A chunk-size line split across writes gets the same verdict as in one write: the bad
/// byte is refused when it arrives, a good line is taken whole.
#[test]
fn chunk_lines_split_across_writes() {
    let fx = Fixture::new();
    fx.file("a.txt", "AAA");
    let server = TestServer::start(&fx.root());
    let head = "GET /a.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut s = connect(server.addr);
    s.write_all(format!("{head}1;a=\"x").as_bytes()).unwrap();
    s.flush().unwrap();
    s.write_all(b" y\"\r\nz\r\n0\r\n").unwrap();
    s.flush().unwrap();
    s.write_all(b"T: 1\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    assert_eq!(read_response(&mut r, false).text(), "AAA");
    r.get_mut().write_all(format!("{head}1").as_bytes()).unwrap();
    r.get_mut().flush().unwrap();
    r.get_mut().write_all(b" \r\nz\r\n0\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut r, false).status, 400);
    assert!(then_closed(&mut r));
}

// ---------------------------------------------------------------------------------------
// 2. Bodies on GET
// ---------------------------------------------------------------------------------------

/// A body that looks like a request (`GET /secret.txt`) must be skipped by its
/// Content-Length, never parsed: exactly the two real requests are answered, in order.
#[test]
fn content_length_body_is_skipped_not_parsed() {
    let fx = Fixture::new();
    fx.file("a.txt", "AAA");
    fx.file("b.txt", "BBB");
    fx.file("secret.txt", "SMUGGLED");
    let server = TestServer::start(&fx.root());
    let smuggled = "GET /secret.txt HTTP/1.1\r\nHost: a\r\n\r\n";
    let last = "GET /b.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let variants = [
        format!("GET /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello{last}"),
        format!("GET /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{smuggled}{last}", smuggled.len()),
        format!("GET /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nGET /{last}"),
    ];
    for raw in &variants {
        let mut s = connect(server.addr);
        // One write: body and next request arrive together (pipelined).
        s.write_all(raw.as_bytes()).unwrap();
        let mut r = BufReader::new(s);
        let first = read_response(&mut r, false);
        let second = read_response(&mut r, false);
        assert_eq!((first.status, first.text().as_str()), (200, "AAA"), "{raw:?}");
        assert_eq!((second.status, second.text().as_str()), (200, "BBB"), "{raw:?}");
        let rest = read_until_close(&mut r).expect("server should close after Connection: close");
        assert!(rest.is_empty(), "a third response appeared for {raw:?}: {:?}", String::from_utf8_lossy(&rest));
    }
    // The same with the body in a later write than its head.
    let mut s = connect(server.addr);
    s.write_all(format!("GET /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n", smuggled.len()).as_bytes())
        .unwrap();
    s.flush().unwrap();
    s.write_all(format!("{smuggled}{last}").as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    assert_eq!(read_response(&mut r, false).text(), "AAA");
    assert_eq!(read_response(&mut r, false).text(), "BBB");
    assert_eq!(read_until_close(&mut r).expect("close"), b"");
}

/// A chunked body with chunk extensions, a request-shaped chunk and trailer fields is
/// consumed exactly; the pipelined request after it is answered, nothing else is.
#[test]
fn chunked_body_with_extensions_and_trailers_is_skipped() {
    let fx = Fixture::new();
    fx.file("a.txt", "AAA");
    fx.file("b.txt", "BBB");
    fx.file("secret.txt", "SMUGGLED");
    let server = TestServer::start(&fx.root());
    let inner = "GET /secret.txt HTTP/1.1\r\n"; // 26 bytes: chunk size 1A
    assert_eq!(inner.len(), 0x1a);
    let raw = format!(
        "GET /a.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
         5;name=value\r\nhello\r\n\
         1A;a=b;c=\"d e\"\r\n{inner}\r\n\
         0;last\r\nTrailer-A: 1\r\nX-Smuggle: GET /secret.txt HTTP/1.1\r\n\r\n\
         GET /b.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    );
    let mut s = connect(server.addr);
    s.write_all(raw.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let first = read_response(&mut r, false);
    let second = read_response(&mut r, false);
    assert_eq!((first.status, first.text().as_str()), (200, "AAA"));
    assert_eq!((second.status, second.text().as_str()), (200, "BBB"));
    let rest = read_until_close(&mut r).expect("server should close after Connection: close");
    assert!(rest.is_empty(), "extra bytes: {:?}", String::from_utf8_lossy(&rest));
}

/// Chunk-size and trailer lines are capped (4096 bytes in `request.rs`): a longer one is
/// hostile and refused with 400, whatever the TCP segmentation. Today the cap applies only
/// when the line is split across reads, so the same bytes get 200 in one write.
#[test]
fn overlong_chunk_lines_are_refused() {
    let fx = Fixture::new();
    fx.file("index.html", "home");
    let server = TestServer::start(&fx.root());
    let head = "GET /index.html HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    let long = "a".repeat(5000);
    for (name, body) in [
        ("chunk extension", format!("1;{long}\r\nx\r\n0\r\n\r\n")),
        ("trailer field", format!("1\r\nx\r\n0\r\nX-T: {long}\r\n\r\n")),
    ] {
        let (response, mut r) = send_raw(server.addr, format!("{head}{body}").as_bytes());
        assert_eq!(response.status, 400, "5000-byte {name} line");
        assert!(then_closed(&mut r));
    }
}

/// Pipelining flood: 2000 requests written back to back by a client that reads only
/// afterwards. The server applies backpressure (it stops reading while it cannot write)
/// and answers every one, in order.
#[test]
fn pipelining_flood_is_answered_in_order() {
    let fx = Fixture::new();
    fx.file("a.txt", "AAA");
    fx.file("b.txt", "BBB");
    let server = TestServer::start(&fx.root());
    let n = 2000;
    let mut raw = String::new();
    for i in 0..n {
        let close = if i == n - 1 { "Connection: close\r\n" } else { "" };
        raw.push_str(&format!("GET /{}.txt HTTP/1.1\r\nHost: a\r\n{close}\r\n", if i % 2 == 0 { "a" } else { "b" }));
    }
    let s = server.connect();
    let mut writer = s.try_clone().unwrap();
    let sender = std::thread::spawn(move || writer.write_all(raw.as_bytes()));
    let mut r = BufReader::new(s);
    for i in 0..n {
        let response = read_response(&mut r, false);
        let want = if i % 2 == 0 { "AAA" } else { "BBB" };
        assert_eq!((response.status, response.text().as_str()), (200, want), "response {i}");
    }
    sender.join().unwrap().unwrap();
    assert!(then_closed(&mut r), "more than {n} responses, or no close");
}

/// Memory exhaustion through bodies: a body over --max-body-bytes (65536) is refused with
/// 413 and a close, whether announced by Content-Length or streamed in chunks.
#[test]
fn oversized_bodies_get_413_then_close() {
    let fx = Fixture::new();
    fx.file("index.html", "home");
    let server = TestServer::start(&fx.root());
    let one_big_chunk = {
        let mut raw = b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n".to_vec();
        raw.extend(std::iter::repeat_n(b'x', 0x10001));
        raw.extend_from_slice(b"\r\n0\r\n\r\n");
        raw
    };
    let many_small_chunks = {
        let mut raw = b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..12_000 {
            raw.extend_from_slice(b"1\r\nx\r\n");
        }
        raw.extend_from_slice(b"0\r\n\r\n");
        raw
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("CL 65537", b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n\r\n".to_vec()),
        ("CL 2^63", b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n".to_vec()),
        ("one 65537-byte chunk", one_big_chunk),
        ("12000 one-byte chunks", many_small_chunks),
    ];
    for (name, raw) in cases {
        let (response, mut r) = send_raw(server.addr, &raw);
        assert_eq!(response.status, 413, "{name}");
        assert!(then_closed(&mut r), "{name}: connection not closed after 413");
    }
    // Just under the limit is fine (a control: the limit is the cause).
    let mut raw = b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 65536\r\nConnection: close\r\n\r\n".to_vec();
    raw.extend(std::iter::repeat_n(b'x', 65536));
    assert_eq!(send_raw(server.addr, &raw).0.status, 200);
}

/// `Expect: 100-continue`: the client gets the interim 100 before it sends the body, then
/// the real response once the body is in.
#[test]
fn expect_100_continue_gets_interim_response() {
    let fx = Fixture::new();
    fx.file("a.txt", "AAA");
    let server = TestServer::start(&fx.root());
    let mut s = connect(server.addr);
    s.write_all(b"GET /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let interim = read_response(&mut r, false);
    assert_eq!(interim.head, "HTTP/1.1 100 Continue");
    r.get_mut().write_all(b"hello").unwrap();
    let response = read_response(&mut r, false);
    assert_eq!((response.status, response.text().as_str()), (200, "AAA"));
}

// ---------------------------------------------------------------------------------------
// 3. Target forms
// ---------------------------------------------------------------------------------------

/// Proxy-style absolute-form targets are served by their path (never as a proxy), bad
/// authorities are refused, and `OPTIONS *` is answered without touching a file.
#[test]
fn absolute_form_and_asterisk() {
    let fx = Fixture::new();
    fx.file("a.txt", "AAA");
    fx.file("index.html", "home");
    let server = TestServer::start(&fx.root());
    for target in ["http://example.com/a.txt", "HTTP://Example.COM:8080/a.txt?x=1", "https://example.com/a.txt"] {
        let r = server.get(&format!("GET {target} HTTP/1.1\r\nHost: example.com\r\n\r\n"));
        assert_eq!((r.status, r.text().as_str()), (200, "AAA"), "{target}");
    }
    for target in [
        "http://user@evil.example/a.txt",
        "ftp://example.com/a.txt",
        "http:///a.txt",
        "http://:80/a.txt",
        "http://a%zz/a.txt",
    ] {
        let (response, mut r) =
            send_raw(server.addr, format!("GET {target} HTTP/1.1\r\nHost: example.com\r\n\r\n").as_bytes());
        assert_eq!(response.status, 400, "{target}");
        assert!(then_closed(&mut r), "{target}");
    }
    // An empty path is `/` (RFC 9110 section 4.2.3), query or not, port or not.
    for target in ["http://example.org?x=1", "http://example.org:8080?x=1", "HTTPS://[::1]?", "http://example.org:"] {
        let r = server.get(&format!("GET {target} HTTP/1.1\r\nHost: example.org\r\n\r\n"));
        assert_eq!((r.status, r.text().as_str()), (200, "home"), "{target}");
    }
    let mut s = connect(server.addr);
    s.write_all(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let options = read_response(&mut r, false);
    assert_eq!(options.status, 204);
    let allow = options.header("Allow").expect("Allow on OPTIONS");
    for method in ["GET", "HEAD", "OPTIONS"] {
        assert!(allow.contains(method), "Allow: {allow}");
    }
    assert_eq!(read_response(&mut r, false).text(), "AAA", "the connection stays usable after OPTIONS *");
    assert_eq!(server.get("GET * HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);
}

// ---------------------------------------------------------------------------------------
// 4. Limits
// ---------------------------------------------------------------------------------------

fn head_with_fields(target: &str, fields: usize, field_len: usize) -> String {
    let mut raw = format!("GET {target} HTTP/1.1\r\nHost: a\r\n");
    for i in 0..fields {
        raw.push_str(&format!("X-{i:04}: {}\r\n", "v".repeat(field_len)));
    }
    raw.push_str("Connection: close\r\n\r\n");
    raw
}

/// Oversized heads, lines, targets and field counts are refused with the right status
/// and a close, so no client can make a connection hold more than its fixed buffer.
#[test]
fn size_limits_refuse_then_close() {
    let fx = Fixture::new();
    fx.file("index.html", "home");
    let server = TestServer::start(&fx.root());
    let long = "a".repeat(9 * KIB);
    let cases: Vec<(&str, String, u16)> = vec![
        ("head > 8 KiB in one field", format!("GET / HTTP/1.1\r\nHost: a\r\nX-Pad: {long}\r\n\r\n"), 431),
        ("head > 8 KiB in 40 fields", head_with_fields("/", 40, 250), 431),
        ("head > 8 KiB never ending", format!("GET / HTTP/1.1\r\nHost: a\r\nX-Pad: {long}"), 431),
        ("request line > 8 KiB", format!("GET /{long} HTTP/1.1\r\nHost: a\r\n\r\n"), 414),
        ("request line > 8 KiB never ending", format!("GET /{long}"), 414),
        ("target > 4 KiB", format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a/".repeat(2100)), 414),
        ("65 fields", head_with_fields("/", 63, 1), 431), // Host + 63 + Connection
    ];
    for (name, raw, want) in &cases {
        let (response, mut r) = send_raw(server.addr, raw.as_bytes());
        assert_eq!(response.status, *want, "{name}");
        assert_eq!(response.header("Connection"), Some("close"), "{name}");
        assert!(then_closed(&mut r), "{name}: not closed after {want}");
    }
    // Controls just inside each limit.
    assert_eq!(server.get(&head_with_fields("/", 62, 1)).status, 200, "64 fields are allowed");
    assert_eq!(server.get(&head_with_fields("/", 20, 300)).status, 200, "a 6 KiB head is allowed");
    let target = format!("/{}", "a/".repeat(2047)); // 4095 bytes
    assert_eq!(server.get(&format!("GET {target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")).status, 404);
}

/// The same limits follow their configuration: a request fine for the defaults is refused
/// by a server configured smaller.
#[test]
fn size_limits_are_configurable() {
    let fx = Fixture::new();
    fx.file("index.html", "home");
    let default = TestServer::start(&fx.root());
    let small = TestServer::with(&fx.root(), |c| {
        c.limits.max_head_bytes = 1024;
        c.limits.max_uri_bytes = 256;
        c.limits.max_headers = 8;
        c.limits.max_body_bytes = 10;
    });
    let big_head = head_with_fields("/", 5, 300); // ~1.6 KiB, 7 fields
    let long_target = format!("GET /{}x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "a/".repeat(150));
    let many_fields = head_with_fields("/", 7, 1); // 9 fields
    let body_11 = "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world";
    let body_10 = "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhelloworld";
    for (raw, small_status, default_status) in [
        (big_head.as_str(), 431, 200),
        (long_target.as_str(), 414, 404),
        (many_fields.as_str(), 431, 200),
        (body_11, 413, 200),
        (body_10, 200, 200),
    ] {
        assert_eq!(default.get(raw).status, default_status, "default limits: {raw:?}");
        let (response, mut r) = send_raw(small.addr, raw.as_bytes());
        assert_eq!(response.status, small_status, "small limits: {raw:?}");
        if small_status != 200 {
            assert!(then_closed(&mut r));
        }
    }
    assert_eq!(small.get(&head_with_fields("/", 6, 10)).status, 200, "8 fields fit max_headers = 8");
}

// ---------------------------------------------------------------------------------------
// 5. Traversal
// ---------------------------------------------------------------------------------------

/// A root with a secret next to it, symlinks leading out of it (file, folder, `..`,
/// absolute) and in it (which must work), dotfiles and `.well-known`.
fn traversal_fixture() -> Fixture {
    let fx = Fixture::new();
    let secret = fx.outside("secret.txt", SECRET);
    let root = fx.root();
    fx.file("public.txt", "PUBLIC");
    fx.file("sub/inner.txt", "INNER");
    fx.file(".git/config", "GITCONFIG");
    fx.file(".env", "DOTENV");
    fx.file(".well-known/x", "WELLKNOWN");
    symlink(&secret, root.join("link-out")).unwrap();
    symlink("../secret.txt", root.join("link-out-rel")).unwrap();
    symlink(&fx.path, root.join("dir-out")).unwrap();
    symlink("..", root.join("up")).unwrap();
    symlink("/etc", root.join("etc-link")).unwrap();
    symlink("public.txt", root.join("link-in")).unwrap();
    symlink("sub", root.join("sub-link")).unwrap();
    fx
}

/// Attack targets: (raw target bytes, status with dotfiles hidden, status with dotfiles
/// served). None of them may ever return the secret's bytes.
const ATTACKS: &[(&[u8], u16, u16)] = &[
    (b"/../secret.txt", 400, 400),
    (b"/..", 400, 400),
    (b"/%2e%2e/secret.txt", 400, 400),
    (b"/%2E%2E/secret.txt", 400, 400),
    (b"/.%2e/secret.txt", 400, 400),
    (b"/%2e./secret.txt", 400, 400),
    (b"/..%2fsecret.txt", 400, 400),
    (b"/..%2Fsecret.txt", 400, 400),
    (b"/%2e%2e%2fsecret.txt", 400, 400),
    (b"/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", 400, 400),
    (b"/a/../../secret.txt", 400, 400),
    (b"/sub/../../secret.txt", 400, 400),
    (b"/sub/..%2f..%2fsecret.txt", 400, 400),
    (b"/./../secret.txt", 400, 400),
    (b"//../secret.txt", 400, 400),
    (b"/public.txt/../../secret.txt", 400, 400),
    (b"/.well-known/../../secret.txt", 400, 400),
    (b"/sub-link/../../secret.txt", 400, 400),
    (b"/..\\secret.txt", 400, 400),
    (b"/..%5csecret.txt", 400, 400),
    (b"/%2e%2e%5csecret.txt", 400, 400),
    (b"/%00", 400, 400),
    (b"/public.txt%00.html", 400, 400),
    (b"/..%00/secret.txt", 400, 400),
    (b"/%0d%0aX-Injected:%20yes", 400, 400),
    (b"/%c0%ae%c0%ae/secret.txt", 400, 400),
    (b"/%e0%80%ae%e0%80%ae/secret.txt", 400, 400),
    (b"/%c0%af..%c0%afsecret.txt", 400, 400),
    (b"/\xc0\xae\xc0\xae/secret.txt", 400, 400),
    (b"/%%32%65%%32%65/secret.txt", 400, 400),
    (b"/%2", 400, 400),
    (b"/public.txt#/../../secret.txt", 400, 400),
    (b"http://localhost/../secret.txt", 400, 400),
    (b"http://localhost/%2e%2e/secret.txt", 400, 400),
    (b"http://localhost/a/../../secret.txt", 400, 400),
    (b"/%252e%252e/secret.txt", 404, 404),
    (b"/..%252fsecret.txt", 404, 404),
    (b"/..;/secret.txt", 404, 404),
    (b"/secret.txt", 404, 404),
    (b"/link-out", 404, 404),
    (b"/link-out-rel", 404, 404),
    (b"/dir-out/secret.txt", 404, 404),
    (b"/dir-out/root/../secret.txt", 404, 404),
    (b"/up/secret.txt", 404, 404),
    (b"/up/root/public.txt", 404, 404),
    (b"/etc-link/passwd", 404, 404),
    (b"/....//secret.txt", 404, 404),
    (b"/.git/config", 404, 200),
    (b"/.env", 404, 200),
    (b"/%2egit/config", 404, 200),
    (b"/sub/..%2f.env", 404, 200),
];

/// Allowed targets (including symlinks that stay inside the root) and their bodies.
const ALLOWED: &[(&str, &str)] = &[
    ("/public.txt", "PUBLIC"),
    ("/link-in", "PUBLIC"),
    ("/sub/inner.txt", "INNER"),
    ("/sub-link/inner.txt", "INNER"),
    ("/sub/../public.txt", "PUBLIC"),
    ("/%70ublic.txt", "PUBLIC"),
    ("/.well-known/x", "WELLKNOWN"),
];

fn check_traversal(server: &TestServer, dotfiles: bool) {
    assert!(ATTACKS.len() >= 25);
    let mut failures = Vec::new();
    for (target, hidden_status, dot_status) in ATTACKS {
        let want = if dotfiles { *dot_status } else { *hidden_status };
        let mut raw = b"GET ".to_vec();
        raw.extend_from_slice(target);
        raw.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        let mut s = connect(server.addr);
        s.write_all(&raw).unwrap();
        let shown = String::from_utf8_lossy(target);
        let Ok(reply) = read_until_close(&mut s) else {
            failures.push(format!("{shown}: connection not closed"));
            continue;
        };
        if contains(&reply, SECRET) {
            failures.push(format!("{shown}: LEAKED THE SECRET"));
        }
        if contains(&reply, b"root:x:0:0") {
            failures.push(format!("{shown}: leaked /etc/passwd"));
        }
        if contains(&reply, b"X-Injected") {
            failures.push(format!("{shown}: header injection"));
        }
        if status_of(&reply) != Some(want) {
            failures.push(format!("{shown}: status {:?}, want {want}", status_of(&reply)));
        }
    }
    for (target, body) in ALLOWED {
        let r = server.get(&format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
        if (r.status, r.text().as_str()) != (200, *body) {
            failures.push(format!("{target}: got {} {:?}, want 200 {body:?}", r.status, r.text()));
        }
    }
    assert!(failures.is_empty(), "dotfiles = {dotfiles}: {failures:#?}");
}

/// Directory traversal: encoded dots and slashes, double encoding, backslashes, NUL,
/// overlong UTF-8, absolute-form, symlinks out of the root, dotfiles. Nothing outside the
/// root is ever served; symlinks inside it work.
#[test]
fn traversal_never_leaves_the_root() {
    let fx = traversal_fixture();
    let server = TestServer::start(&fx.root());
    check_traversal(&server, false);
}

/// With dotfiles served, `.git` and `.env` are reachable, and still nothing outside.
#[test]
fn traversal_with_dotfiles_served() {
    let fx = traversal_fixture();
    let server = TestServer::with(&fx.root(), |c| c.dotfiles = true);
    check_traversal(&server, true);
}

// ---------------------------------------------------------------------------------------
// 6. Slowloris
// ---------------------------------------------------------------------------------------

/// Sends one byte to each connection every 100 ms until told to stop or all are closed.
fn trickle(mut conns: Vec<TcpStream>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) && !conns.is_empty() {
        conns.retain_mut(|s| s.write_all(b"a").is_ok());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Slowloris: 40 clients each send part of a request (a head, or a head and part of its
/// body) and then one byte every 100 ms, which would keep a per-read timer alive forever.
/// The request timeout runs from the first byte, so each gets 408 (or a close); meanwhile
/// a normal client is served.
#[test]
fn slowloris_trickle_cannot_hold_connections() {
    let fx = Fixture::new();
    fx.file("index.html", "home");
    let server = TestServer::with(&fx.root(), |c| c.timeouts.request = Duration::from_millis(1500));
    let deadline = Instant::now() + Duration::from_secs(10);
    // 30 trickle a header field, 10 a body (the timeout covers the body too).
    let slow: Vec<TcpStream> = (0..40)
        .map(|i| {
            let mut s = server.connect();
            let start: &[u8] = if i % 4 == 3 {
                b"GET /index.html HTTP/1.1\r\nHost: a\r\nContent-Length: 60000\r\n\r\n"
            } else {
                b"GET /index.html HTTP/1.1\r\nHost: a\r\nX-Slow: "
            };
            s.write_all(start).unwrap();
            s
        })
        .collect();
    let writers = slow.iter().map(|s| s.try_clone().unwrap()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let trickler = {
        let stop = stop.clone();
        std::thread::spawn(move || trickle(writers, &stop))
    };

    let started = Instant::now();
    let mut s = server.connect();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /index.html HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").unwrap();
    let response = read_response(&mut BufReader::new(s), false);
    assert_eq!((response.status, response.text().as_str()), (200, "home"));
    assert!(started.elapsed() < Duration::from_secs(5), "normal client starved: {:?}", started.elapsed());

    let mut not_closed = Vec::new();
    let mut got_408 = 0;
    for (i, mut s) in slow.into_iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        s.set_read_timeout(Some(left)).unwrap();
        match read_until_close(&mut s) {
            Ok(bytes) if bytes.is_empty() => {}
            Ok(bytes) if status_of(&bytes) == Some(408) => got_408 += 1,
            Ok(bytes) => not_closed.push(format!("#{i}: unexpected {:?}", String::from_utf8_lossy(&bytes))),
            Err(bytes) => not_closed.push(format!("#{i}: still open after 10 s ({} bytes)", bytes.len())),
        }
    }
    stop.store(true, Ordering::Relaxed);
    trickler.join().unwrap();
    assert!(not_closed.is_empty(), "{not_closed:#?}");
    assert!(got_408 > 0, "no trickler received a 408");
}

// ---------------------------------------------------------------------------------------
// 7. Idle and stalled connections
// ---------------------------------------------------------------------------------------

/// Idle keep-alive hoarding: a client that opens a connection, gets its responses and
/// then says nothing is closed by the server after the idle timeout.
#[test]
fn idle_keep_alive_is_closed() {
    let fx = Fixture::new();
    fx.file("a.txt", "AAA");
    let server = TestServer::with(&fx.root(), |c| c.timeouts.idle = Duration::from_millis(300));
    let s = server.connect();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(s);
    for _ in 0..2 {
        r.get_mut().write_all(b"GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        let response = read_response(&mut r, false);
        assert_eq!((response.status, response.text().as_str()), (200, "AAA"));
        assert_eq!(response.header("Connection"), None, "the connection should be kept alive");
    }
    assert!(then_closed(&mut r), "an idle keep-alive connection was not closed within 5 s");
}

/// A reader that never reads: a 64 MiB response fills the socket buffers and stalls. The
/// server drops it after the write timeout, and serves others meanwhile.
#[test]
fn stalled_reader_is_dropped() {
    let fx = Fixture::new();
    fx.file("small.txt", "small");
    let size = 64 * MIB;
    sparse_file(&fx, "huge.bin", size);
    let server = TestServer::with(&fx.root(), |c| c.timeouts.write_stall = Duration::from_secs(1));
    let mut s = server.connect();
    let client = s.local_addr().unwrap();
    assert!(
        eventually(Duration::from_secs(5), || server_side_state(server.addr, client).as_deref() == Some("01")),
        "cannot see the server's end of the connection in /proc/net/tcp"
    );
    s.write_all(b"GET /huge.bin HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();

    let other = server.get("GET /small.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert_eq!((other.status, other.text().as_str()), (200, "small"));

    assert!(
        eventually(Duration::from_secs(10), || server_side_state(server.addr, client).as_deref() != Some("01")),
        "the server kept a stalled connection open for 10 s (write timeout 1 s)"
    );
    let got = read_until_close(&mut s).expect("the stalled connection ends once read");
    assert_eq!(status_of(&got), Some(200));
    assert!(got.len() < size, "the whole 64 MiB arrived: the connection was not dropped");
    assert_eq!(server.get("GET /small.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").status, 200);
}

// ---------------------------------------------------------------------------------------
// 8. Descriptor exhaustion
// ---------------------------------------------------------------------------------------

/// What happened in one descriptor-exhaustion run.
struct Exhaustion {
    /// CPU ticks the server used during one second of being full, and ticks per second.
    cpu: (u64, u64),
    /// Status of a request sent while the server was full (queued), once the idle
    /// connections had gone.
    queued: u16,
    /// Status of a request on a new connection after that.
    fresh: u16,
}

/// Starts the real binary under `prlimit --nofile=40:40` with `extra` flags, holds 60 idle
/// connections (the rest wait in the accept queue), samples the CPU for one second while
/// the server is full, queues one more request, drops the idle ones and sends one more.
/// None when prlimit is missing.
fn exhaust_descriptors(extra: &[&str], connections_cap: Option<usize>) -> Option<Exhaustion> {
    let (p, addr, _fx) = under_nofile_limit(40, extra)?;
    let pid = p.child.id();

    // Full: every descriptor in use, or every connection slot taken.
    let baseline = fd_count(pid);
    let full = connections_cap.map_or(40, |cap| (baseline + cap).min(40));
    let idle: Vec<TcpStream> = (0..60).map(|_| connect(addr)).collect();
    assert!(
        eventually(Duration::from_secs(10), || fd_count(pid) >= full),
        "the server never reached {full} descriptors (has {})",
        fd_count(pid)
    );
    let ticks = clock_ticks_per_second();
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(1)); // the sampling window, not synchronisation
    let cpu = (cpu_ticks(pid) - before, ticks);

    let request = b"GET /index.html HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let mut queued = connect(addr);
    queued.write_all(request).unwrap();
    drop(idle);
    let queued = read_response(&mut BufReader::new(queued), false).status;
    // Recovered: the server let go of the idle connections' descriptors.
    assert!(
        eventually(Duration::from_secs(10), || fd_count(pid) <= baseline + 2),
        "the server still holds {} descriptors (had {baseline} at start)",
        fd_count(pid)
    );
    let fresh = {
        let mut s = connect(addr);
        s.write_all(request).unwrap();
        read_response(&mut BufReader::new(s), false)
    };
    assert!(fresh.status != 200 || fresh.text() == "home", "wrong body");
    p.signal(15);
    let (code, stderr) = p.wait(Duration::from_secs(15));
    assert_eq!(code, Some(0), "exit status; stderr: {stderr}");
    Some(Exhaustion { cpu, queued, fresh: fresh.status })
}

/// Descriptor exhaustion: the real binary under a 40-descriptor limit gets 60 idle
/// connections. Accepting must back off (no EMFILE spin burning CPU), and once the idle
/// ones leave, a new request is answered.
#[test]
fn descriptor_exhaustion_does_not_spin() {
    // A cap far above the limit: the server really runs into EMFILE.
    let Some(run) = exhaust_descriptors(&["--max-connections", "1000"], None) else { return };
    let (used, ticks) = run.cpu;
    assert!(used * 2 < ticks, "the server burnt {used} of {ticks} ticks in 1 s while out of descriptors");
    assert_eq!(run.fresh, 200, "the server did not recover after the idle connections left");
}

/// With a connection cap below the descriptor limit, clients beyond it wait in the accept
/// queue and a queued request is served (200) once the idle connections leave.
#[test]
fn queued_client_is_served_under_connection_cap() {
    let Some(run) = exhaust_descriptors(&["--max-connections", "16"], Some(16)) else { return };
    let (used, ticks) = run.cpu;
    assert!(used * 2 < ticks, "the server burnt {used} of {ticks} ticks in 1 s at its connection cap");
    assert_eq!((run.queued, run.fresh), (200, 200));
}

/// The same with the default cap, which the README derives from the descriptor limit
/// minus a reserve for files: a request queued while the server was out of descriptors
/// must be served, not refused for want of a descriptor to open the file.
#[test]
fn queued_client_is_served_after_descriptor_exhaustion() {
    // The default cap: the limit less 16 and an eighth (40 - 16 - 5).
    let Some(run) = exhaust_descriptors(&[], Some(19)) else { return };
    assert_eq!((run.queued, run.fresh), (200, 200));
}

// ---------------------------------------------------------------------------------------
// 9. A file that shrinks while it is sent
// ---------------------------------------------------------------------------------------

/// A file truncated mid-response: the announced length can no longer be met, so the
/// server must close (not spin on a zero-byte sendfile, not pad), and keep serving.
#[test]
fn shrinking_file_closes_the_response() {
    let fx = Fixture::new();
    fx.file("small.txt", "small");
    let size = 32 * MIB;
    let path = sparse_file(&fx, "shrink.bin", size);
    let server = TestServer::start(&fx.root());
    let mut s = server.connect();
    s.write_all(b"GET /shrink.bin HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let (status, len) = read_head(&mut r);
    assert_eq!((status, len), (200, size as u64));
    let mut first = vec![0u8; 4 * KIB];
    r.read_exact(&mut first).unwrap();

    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(KIB as u64).unwrap();
    let rest = read_until_close(&mut r).expect("the server must close a response whose file shrank");
    let body = first.len() + rest.len();
    assert!(body < size, "got all {body} bytes of a file truncated after 4 KiB");

    let after = server.get("GET /shrink.bin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert_eq!((after.status, after.body.len()), (200, KIB));
    let small = server.get("GET /small.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert_eq!((small.status, small.text().as_str()), (200, "small"));
}

// ---------------------------------------------------------------------------------------
// 10. Clients vanishing mid-download
// ---------------------------------------------------------------------------------------

/// 50 downloads abandoned at random points (a close with unread data resets the
/// connection; some shut down both ways first): the server drops each cleanly, serves a
/// full download afterwards, and stops without hanging.
#[test]
fn random_resets_mid_download() {
    let fx = Fixture::new();
    let size = 4 * MIB;
    let content = Rng::new(0xfeed_beef_1234_5678).bytes(size);
    fx.file("big.bin", &content);
    let server = TestServer::start(&fx.root());
    let clients: Vec<BufReader<TcpStream>> = (0..50)
        .map(|_| {
            let mut s = server.connect();
            s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
            BufReader::new(s)
        })
        .collect();
    let mut rng = Rng::new(0x5eed);
    for (i, mut r) in clients.into_iter().enumerate() {
        let n = rng.below(size) as u64;
        let copied = io::copy(&mut (&mut r).take(n), &mut io::sink()).unwrap();
        assert_eq!(copied, n, "client {i} got fewer bytes than it asked for");
        if i % 3 == 0 {
            let _ = r.get_ref().shutdown(Shutdown::Both);
        }
        drop(r);
    }
    let response = server.get("GET /big.bin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert_eq!(response.status, 200);
    assert_eq!(digest(&response.body), digest(&content), "the full download is intact");
    let summary = stop_within(server, Duration::from_secs(15));
    assert!(summary.requests >= 51, "{summary:?}");
}

// ---------------------------------------------------------------------------------------
// 11. Garbage
// ---------------------------------------------------------------------------------------

/// HTTP-shaped fragments for the fuzzer: random soup of these reaches deeper parser
/// states than random bytes alone.
const SOUP: &[&str] = &[
    "GET ",
    "HEAD ",
    "OPTIONS ",
    "/",
    "..",
    "%2e",
    "%",
    "*",
    "http://",
    " HTTP/1.1",
    " HTTP/1.0",
    "\r\n",
    "\n",
    "\r",
    "Host: a",
    "Content-Length: ",
    "Transfer-Encoding: chunked",
    "Expect: 100-continue",
    "Connection: close",
    "Range: bytes=0-1,5-",
    "0",
    "ffff",
    ";",
    ":",
    " ",
    "\t",
    "\0",
    "\x7f",
    "\u{00e9}",
];

/// One garbage message: random bytes, a request line with garbage, a head with garbage
/// fields, or HTTP-shaped soup.
fn garbage(rng: &mut Rng, kind: usize) -> Vec<u8> {
    match kind % 4 {
        0 => {
            let n = 1 + rng.below(2048);
            rng.bytes(n)
        }
        1 => {
            let n = 1 + rng.below(512);
            [b"GET /".to_vec(), rng.bytes(n), b" HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()].concat()
        }
        2 => {
            let n = 1 + rng.below(1024);
            [b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec(), rng.bytes(n), b"\r\n\r\n".to_vec()].concat()
        }
        _ => {
            let n = 1 + rng.below(200);
            (0..n).flat_map(|_| SOUP[rng.below(SOUP.len())].bytes()).collect()
        }
    }
}

/// 100 concurrent clients send seeded garbage: the server answers each with a well-formed
/// response or a close, never crashes, and then serves a normal request.
#[test]
fn garbage_never_crashes_the_server() {
    let fx = Fixture::new();
    fx.file("index.html", "home");
    let server = TestServer::with(&fx.root(), |c| {
        c.timeouts.request = Duration::from_secs(1);
        c.timeouts.idle = Duration::from_secs(1);
    });
    let addr = server.addr;
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..100)
            .map(|i| {
                scope.spawn(move || {
                    let mut rng = Rng::new((i as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
                    let bytes = garbage(&mut rng, i);
                    let mut s = connect(addr);
                    let _ = s.write_all(&bytes);
                    if i % 2 == 0 {
                        let _ = s.shutdown(Shutdown::Write);
                    }
                    match read_until_close(&mut s) {
                        Ok(reply) if reply.is_empty() || status_of(&reply).is_some() => None,
                        Ok(reply) => Some(format!(
                            "#{i}: malformed reply {:?} to {:?}",
                            String::from_utf8_lossy(&reply[..reply.len().min(80)]),
                            String::from_utf8_lossy(&bytes)
                        )),
                        Err(_) => Some(format!("#{i}: not closed to {:?}", String::from_utf8_lossy(&bytes))),
                    }
                })
            })
            .collect();
        workers.into_iter().filter_map(|w| w.join().unwrap()).collect()
    });
    assert!(failures.is_empty(), "{failures:#?}");
    let response = server.get("GET /index.html HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert_eq!((response.status, response.text().as_str()), (200, "home"));
    stop_within(server, Duration::from_secs(15));
}
