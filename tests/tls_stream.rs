//! `TlsStream` over real sockets against a rustls client, driven by an edge-triggered
//! loop (tests/tls_util): handshake, keep-alive, trickled records, the buffered-state
//! hazards, big bodies, resumption, ALPN, plaintext and garbage on the HTTPS port.
mod tls_util;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use evserve::net::tls;
use mio::Events;
use tls_util::{App, DEADLINE, Pki, connect, read_response, spawn};

fn no_file() -> App {
    App { file: None }
}

#[test]
fn handshake_and_keep_alive_round_trips() {
    let pki = Pki::new();
    let (addr, server) = spawn(pki.server_config(true), no_file(), usize::MAX);
    let mut client = connect(addr, &pki.client_config(&[b"http/1.1"]), false);
    for _ in 0..2 {
        client.write_all(b"GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        let (head, body) = read_response(&mut client).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert_eq!(body, b"hello");
    }
    client.conn.send_close_notify();
    client.flush().unwrap();
    drop(client);
    let report = server.join().unwrap();
    assert_eq!(report.requests, 2);
    assert_eq!(report.error, None);
    assert!(!report.timed_out);
    let summary = report.summary.unwrap();
    assert!(summary.starts_with("TLSv1_3 TLS13_AES_128_GCM_SHA256 alpn=http/1.1 full"), "{summary}");
}

#[test]
fn a_fin_without_close_notify_is_an_ordinary_end() {
    let pki = Pki::new();
    let (addr, server) = spawn(pki.server_config(true), no_file(), usize::MAX);
    let mut client = connect(addr, &pki.client_config(&[b"http/1.1"]), false);
    client.write_all(b"GET /small HTTP/1.1\r\n\r\n").unwrap();
    read_response(&mut client).unwrap();
    client.sock.tcp.shutdown(std::net::Shutdown::Write).unwrap();
    let report = server.join().unwrap();
    assert_eq!((report.requests, report.error, report.timed_out), (1, None, false));
}

#[test]
fn records_delivered_one_byte_at_a_time() {
    let pki = Pki::new();
    // The client sends one byte per write(2); the server's socket reads one byte per call.
    let (addr, server) = spawn(pki.server_config(true), no_file(), 1);
    let mut client = connect(addr, &pki.client_config(&[b"http/1.1"]), true);
    client.write_all(b"GET /small HTTP/1.1\r\n\r\nGET /small HTTP/1.1\r\n\r\n").unwrap();
    for _ in 0..2 {
        let (_, body) = read_response(&mut client).unwrap();
        assert_eq!(body, b"hello");
    }
    drop(client);
    let report = server.join().unwrap();
    assert_eq!((report.requests, report.error, report.timed_out), (2, None, false));
}

#[test]
fn plaintext_held_after_the_socket_drained_is_reported() {
    let pki = Pki::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client_config = pki.client_config(&[b"http/1.1"]);
    let client = std::thread::spawn(move || {
        let mut client = connect(addr, &client_config, false);
        // Three pipelined requests in one record, one segment.
        let requests = b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n";
        client.write_all(requests).unwrap();
        let mut rest = [0u8; 1];
        let _ = client.read(&mut rest); // until the server closes
    });
    let (mut poll, mut stream) = tls_util::accept(&listener, pki.server_config(true), usize::MAX);
    let mut events = Events::with_capacity(8);
    let deadline = Instant::now() + DEADLINE;
    let mut got = Vec::new();
    let mut buf = [0u8; 16];
    // Handshake, then the first 16 bytes of plaintext.
    while got.is_empty() {
        match stream.read(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "no request arrived");
                poll.poll(&mut events, Some(deadline - Instant::now())).unwrap();
            }
            Err(e) => panic!("{e}"),
        }
    }
    // The socket is drained: the kernel holds nothing, so no edge will come...
    let mut peek = [0u8; 1];
    let peeked = stream.get_ref().tcp.peek(&mut peek);
    assert!(matches!(&peeked, Err(e) if e.kind() == io::ErrorKind::WouldBlock), "{peeked:?}");
    // ...yet the stream holds the other requests, and says so.
    while stream.has_buffered_input() {
        let n = stream.read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n");
    let after = stream.read(&mut buf);
    assert!(matches!(&after, Err(e) if e.kind() == io::ErrorKind::WouldBlock), "{after:?}");
    drop(stream);
    client.join().unwrap();
}

#[test]
fn tickets_pending_when_the_stream_looks_idle_are_reported_and_flushed() {
    let pki = Pki::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client_config = pki.client_config(&[b"http/1.1"]);
    let config = client_config.clone();
    let client = std::thread::spawn(move || {
        let mut client = connect(addr, &config, false);
        client.write_all(b"GET /small HTTP/1.1\r\n\r\n").unwrap();
        read_response(&mut client).unwrap()
    });
    let server_config = pki.server_config(true);
    let (mut poll, mut stream) = tls_util::accept(&listener, server_config.clone(), usize::MAX);
    // The server's flight goes out in one write; the next write (the session tickets
    // rustls sends after the client's Finished) is refused.
    let writes_left = stream.get_ref().writes_left.clone();
    writes_left.set(1);
    let mut events = Events::with_capacity(8);
    let deadline = Instant::now() + DEADLINE;
    let mut buf = [0u8; 1024];
    let mut got = Vec::new();
    while !got.ends_with(b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "no request arrived");
                poll.poll(&mut events, Some(deadline - Instant::now())).unwrap();
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(!stream.is_handshaking());
    assert!(stream.wants_write(), "the session tickets are queued");
    assert!(!stream.flush_own().unwrap(), "the socket refuses them");
    writes_left.set(usize::MAX);
    assert!(stream.flush_own().unwrap());
    assert!(!stream.wants_write());
    stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").unwrap();
    let (_, body) = client.join().unwrap();
    assert_eq!(body, b"hello");
    // The tickets reached the client: its next connection resumes.
    assert!(one_exchange(server_config, &client_config).ends_with(" resumed"));
}

/// A deterministic pattern no byte of which repeats at any offset shift of a record.
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn a_64_mib_body_through_send_file_is_byte_exact() {
    let pki = Pki::new();
    let dir = tls_util::temp_dir("body");
    let path = dir.join("big.bin");
    let content = pattern(64 * 1024 * 1024);
    std::fs::write(&path, &content).unwrap();
    let (addr, server) = spawn(pki.server_config(true), App { file: Some(path) }, usize::MAX);
    let mut client = connect(addr, &pki.client_config(&[b"http/1.1"]), false);
    // Twice on one connection: the second body starts mid-record after the first.
    client.write_all(b"GET /file HTTP/1.1\r\n\r\nGET /small HTTP/1.1\r\n\r\nGET /file HTTP/1.1\r\n\r\n").unwrap();
    let (head, body) = read_response(&mut client).unwrap();
    assert!(head.contains("Content-Length: 67108864"), "{head}");
    assert!(body == content, "the body differs from the file");
    assert_eq!(read_response(&mut client).unwrap().1, b"hello");
    assert!(read_response(&mut client).unwrap().1 == content, "the second body differs");
    drop(client);
    let report = server.join().unwrap();
    assert_eq!((report.requests, report.error, report.timed_out), (3, None, false));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Makes one connection with `client_config`, GETs /small, and returns the server's summary.
fn one_exchange(
    config: std::sync::Arc<rustls::ServerConfig>,
    client_config: &std::sync::Arc<rustls::ClientConfig>,
) -> String {
    let (addr, server) = spawn(config, no_file(), usize::MAX);
    let mut client = connect(addr, client_config, false);
    client.write_all(b"GET /small HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut client).unwrap().1, b"hello");
    drop(client);
    server.join().unwrap().summary.unwrap()
}

#[test]
fn a_second_connection_resumes_and_not_when_resumption_is_off() {
    let pki = Pki::new();
    let client_config = pki.client_config(&[b"http/1.1"]);
    let on = pki.server_config(true);
    assert!(one_exchange(on.clone(), &client_config).ends_with(" full"));
    assert!(one_exchange(on, &client_config).ends_with(" resumed"));

    let client_config = pki.client_config(&[b"http/1.1"]);
    let off = pki.server_config(false);
    assert!(one_exchange(off.clone(), &client_config).ends_with(" full"));
    assert!(one_exchange(off, &client_config).ends_with(" full"));
}

#[test]
fn tls12_with_resumption_works_too() {
    let pki = Pki::new();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS12])
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let config = std::sync::Arc::new(config);
    let server = pki.server_config(true);
    let first = one_exchange(server.clone(), &config);
    assert!(first.starts_with("TLSv1_2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 alpn=http/1.1 full"), "{first}");
    assert!(one_exchange(server, &config).ends_with(" resumed"));
}

#[test]
fn a_client_offering_only_h2_is_refused_with_an_alert() {
    let pki = Pki::new();
    let (addr, server) = spawn(pki.server_config(true), no_file(), usize::MAX);
    let mut client = connect(addr, &pki.client_config(&[b"h2"]), false);
    let err = client.write_all(b"GET /small HTTP/1.1\r\n\r\n").and_then(|_| client.flush());
    let err = match err {
        Err(e) => e,
        Ok(()) => read_response(&mut client).unwrap_err(),
    };
    assert!(err.to_string().contains("NoApplicationProtocol"), "{err}");
    let report = server.join().unwrap();
    assert_eq!(report.requests, 0);
    let error = report.error.unwrap();
    assert!(error.contains("Tls(NoApplicationProtocol)"), "{error}");
}

#[test]
fn a_client_without_alpn_is_served() {
    let pki = Pki::new();
    let summary = one_exchange(pki.server_config(true), &pki.client_config(&[]));
    assert!(summary.contains("alpn=none"), "{summary}");
}

#[test]
fn plain_http_gets_a_plain_400_and_a_close() {
    let pki = Pki::new();
    let (addr, server) = spawn(pki.server_config(true), no_file(), usize::MAX);
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(DEADLINE)).unwrap();
    tcp.write_all(b"GET /index.html HTTP/1.1\r\nHost: example.org:8443\r\nAccept: */*\r\n\r\n").unwrap();
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).unwrap();
    let body = "This port speaks HTTPS; use https://example.org:8443/\n";
    let expected = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(String::from_utf8_lossy(&response), expected);
    drop(tcp);
    let report = server.join().unwrap();
    assert!(report.plain_http);
    assert!(!report.timed_out);
}

#[test]
fn garbage_instead_of_a_client_hello_is_an_error_at_once() {
    let pki = Pki::new();
    for garbage in [&b"\x00\x01\x02 not tls"[..], b"\x16\x09\x09\x00\x05hello", b"\x16\x03\x01\xff\xffxx"] {
        let (addr, server) = spawn(pki.server_config(true), no_file(), usize::MAX);
        let mut tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(DEADLINE)).unwrap();
        tcp.write_all(garbage).unwrap();
        let report = server.join().unwrap();
        assert!(report.error.is_some(), "{garbage:?}: {report:?}");
        assert!(!report.timed_out && !report.plain_http);
        // The server closed: the client sees the end (perhaps after an alert).
        let mut rest = Vec::new();
        let _ = tcp.read_to_end(&mut rest);
    }
}

#[test]
fn shutdown_write_sends_close_notify_then_fin() {
    let pki = Pki::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client_config = pki.client_config(&[b"http/1.1"]);
    let client = std::thread::spawn(move || {
        let mut client = connect(addr, &client_config, false);
        client.write_all(b"GET /small HTTP/1.1\r\n\r\n").unwrap();
        let mut all = Vec::new();
        // A clean EOF (Ok(0)) only if close_notify came before the FIN.
        let result = client.read_to_end(&mut all);
        (result.map_err(|e| e.to_string()), all)
    });
    let (mut poll, mut stream) = tls_util::accept(&listener, pki.server_config(true), usize::MAX);
    let mut events = Events::with_capacity(8);
    let deadline = Instant::now() + DEADLINE;
    let mut buf = [0u8; 1024];
    let mut got = Vec::new();
    while !got.ends_with(b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline);
                poll.poll(&mut events, Some(Duration::from_secs(1))).unwrap();
            }
            Err(e) => panic!("{e}"),
        }
    }
    stream.write_more(b"bye").unwrap();
    stream.shutdown_write().unwrap();
    assert!(!stream.wants_write(), "close_notify and FIN went out");
    let (result, all) = client.join().unwrap();
    assert_eq!(result, Ok(3));
    assert_eq!(all, b"bye");
}

/// A socket whose input is a script of bytes, then WouldBlock; output is discarded.
struct Scripted {
    input: Vec<u8>,
    at: usize,
    chunk: usize,
}

impl Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.input.len() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.chunk).min(self.input.len() - self.at);
        buf[..n].copy_from_slice(&self.input[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tls::Socket for Scripted {
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Drives a stream over `input` with every call the loop makes; must not panic or spin.
fn feed(config: &std::sync::Arc<rustls::ServerConfig>, input: Vec<u8>, chunk: usize) {
    let socket = Scripted { input, at: 0, chunk };
    let mut stream = tls::TlsStream::new(socket, config.clone(), tls::Pool::shared()).unwrap();
    let mut buf = [0u8; 512];
    for _ in 0..10_000 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) if !stream.has_buffered_input() => break,
            _ => {}
        }
    }
    let _ = stream.handshake_summary();
    let _ = stream.write(b"x");
    let _ = stream.flush_own();
    let _ = stream.shutdown_write();
}

#[test]
fn random_bytes_never_panic() {
    let pki = Pki::new();
    let config = pki.server_config(true);
    // A real ClientHello to mutate, so the fuzzing reaches past the record header.
    let hello = pki.client_hello();
    assert_eq!(hello[0], 0x16);
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..3000 {
        let input: Vec<u8> = match round % 3 {
            0 => (0..next() % 600).map(|_| next() as u8).collect(),
            1 => {
                let len = (next() % 20_000) as usize;
                let mut v = vec![0x16, 0x03, 0x01, (len >> 8) as u8, len as u8];
                v.extend((0..next() % 2000).map(|_| next() as u8));
                v
            }
            _ => {
                let mut v = hello.clone();
                for _ in 0..1 + next() % 4 {
                    let at = (next() as usize) % v.len();
                    v[at] = next() as u8;
                }
                v.truncate(1 + (next() as usize) % v.len());
                v
            }
        };
        feed(&config, input, 1 + (next() % 700) as usize);
    }
}

#[test]
fn half_sent_client_hellos_hold_only_small_buffers() {
    use evserve::net::tls::pool::{INPUT_SIZE, SMALL_INPUT_SIZE};
    let pki = Pki::new();
    let config = pki.server_config(true);
    let hello = pki.client_hello();
    let pool = tls::Pool::shared();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut held = Vec::new();
    for _ in 0..1000 {
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.write_all(&hello[..200]).unwrap();
        let (sock, _) = listener.accept().unwrap();
        let mut stream = tls::TlsStream::new(sock, config.clone(), pool.clone()).unwrap();
        stream.get_ref().set_nonblocking(true).unwrap();
        let deadline = Instant::now() + DEADLINE;
        while stream.buffer_bytes() == 0 || stream.has_buffered_input() {
            match stream.read(&mut [0u8; 64]) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => panic!("a half-sent hello read {other:?}"),
            }
            assert!(Instant::now() < deadline);
        }
        assert!(stream.is_handshaking());
        held.push((client, stream));
    }
    let bytes: usize = held.iter().map(|(_, s)| s.buffer_bytes()).sum();
    assert_eq!(bytes, 1000 * SMALL_INPUT_SIZE, "each holds one small buffer");
    // More of a hello than a small buffer holds (its record announced longer) moves the
    // bytes into a big buffer; the record is still incomplete, so nothing else happens.
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let mut stream = tls::TlsStream::new(listener.accept().unwrap().0, config, pool).unwrap();
    stream.get_ref().set_nonblocking(true).unwrap();
    let mut long = hello.clone();
    let extra = 2 * SMALL_INPUT_SIZE;
    let len = u16::from_be_bytes([long[3], long[4]]) as usize + extra;
    long[3..5].copy_from_slice(&(len as u16).to_be_bytes());
    long.extend(std::iter::repeat_n(0u8, extra));
    client.write_all(&long[..SMALL_INPUT_SIZE + 100]).unwrap();
    let deadline = Instant::now() + DEADLINE;
    while stream.buffer_bytes() != INPUT_SIZE {
        match stream.read(&mut [0u8; 64]) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => panic!("an incomplete hello read {other:?}"),
        }
        assert!(Instant::now() < deadline, "still {} bytes of buffer", stream.buffer_bytes());
    }
}

/// A client that offers only `suite` (and so only its protocol version).
fn client_with_suite(pki: &Pki, suite: rustls::SupportedCipherSuite) -> std::sync::Arc<rustls::ClientConfig> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.cipher_suites = vec![suite];
    let version = match suite {
        rustls::SupportedCipherSuite::Tls13(_) => &rustls::version::TLS13,
        rustls::SupportedCipherSuite::Tls12(_) => &rustls::version::TLS12,
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(provider.into())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    std::sync::Arc::new(config)
}

#[test]
fn every_suite_carries_bodies_byte_exact_through_the_record_layer() {
    use rustls::crypto::aws_lc_rs::cipher_suite::*;
    let pki = Pki::new();
    let dir = tls_util::temp_dir("suites");
    let path = dir.join("body.bin");
    // Not a whole number of records, so the last one is short.
    let content = pattern(5 * 16 * 1024 + 1234);
    std::fs::write(&path, &content).unwrap();
    for suite in [
        TLS13_AES_128_GCM_SHA256,
        TLS13_AES_256_GCM_SHA384,
        TLS13_CHACHA20_POLY1305_SHA256,
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ] {
        let (addr, server) = spawn(pki.server_config(false), App { file: Some(path.clone()) }, usize::MAX);
        let mut client = connect(addr, &client_with_suite(&pki, suite), false);
        client.write_all(b"GET /file HTTP/1.1\r\n\r\nGET /small HTTP/1.1\r\n\r\n").unwrap();
        assert!(read_response(&mut client).unwrap().1 == content, "{suite:?}: the body differs");
        assert_eq!(read_response(&mut client).unwrap().1, b"hello", "{suite:?}");
        client.write_all(b"GET /file HTTP/1.1\r\n\r\n").unwrap();
        assert!(read_response(&mut client).unwrap().1 == content, "{suite:?}: the second body differs");
        client.conn.send_close_notify();
        client.flush().unwrap();
        let report = server.join().unwrap();
        assert_eq!((report.requests, report.error, report.timed_out), (3, None, false), "{suite:?}");
        assert!(report.summary.unwrap().contains(&format!("{:?}", suite.suite())));
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_key_update_from_the_client_is_followed_and_answered() {
    let pki = Pki::new();
    let (addr, server) = spawn(pki.server_config(false), no_file(), usize::MAX);
    let mut client = connect(addr, &pki.client_config(&[b"http/1.1"]), false);
    for round in 0..3 {
        client.write_all(b"GET /small HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(read_response(&mut client).unwrap().1, b"hello", "round {round}");
        // KeyUpdate(update_requested): the server must take the client's new key and
        // send a KeyUpdate of its own before its next record, which the client then
        // opens only with the server's new key.
        client.conn.refresh_traffic_keys().unwrap();
    }
    client.write_all(b"GET /small HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut client).unwrap().1, b"hello");
    drop(client);
    let report = server.join().unwrap();
    assert_eq!((report.requests, report.error, report.timed_out), (4, None, false));
}

#[test]
fn a_forged_or_oversized_record_after_the_handshake_ends_the_connection() {
    let pki = Pki::new();
    for (record, why) in [
        (vec![0x17, 3, 3, 0, 40].into_iter().chain([0x5a; 40]).collect::<Vec<u8>>(), "DecryptError"),
        (vec![0x17, 3, 3, 0x41, 0x01], "PeerSentOversizedRecord"),
        (vec![0x15, 3, 3, 0, 2, 1, 0], "InappropriateMessage"),
    ] {
        let (addr, server) = spawn(pki.server_config(false), no_file(), usize::MAX);
        let mut client = connect(addr, &pki.client_config(&[b"http/1.1"]), false);
        client.write_all(b"GET /small HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(read_response(&mut client).unwrap().1, b"hello");
        client.sock.tcp.write_all(&record).unwrap();
        let report = server.join().unwrap();
        let error = report.error.unwrap_or_default();
        assert!(error.contains(why), "{why}: {error}");
        let mut rest = Vec::new();
        let _ = client.sock.tcp.read_to_end(&mut rest); // closed: EOF or a reset, no hang
    }
}

#[test]
fn bodies_of_every_size_around_record_boundaries_arrive_byte_exact() {
    const R: usize = 16 * 1024;
    let pki = Pki::new();
    let dir = tls_util::temp_dir("sizes");
    for len in [0, 1, R - 1, R, R + 1, 2 * R, 4 * R - 1, 4 * R, 4 * R + 1, 5 * R + 7, 9 * R] {
        let path = dir.join(format!("{len}.bin"));
        let content = pattern(len);
        std::fs::write(&path, &content).unwrap();
        let (addr, server) = spawn(pki.server_config(false), App { file: Some(path) }, usize::MAX);
        let mut client = connect(addr, &pki.client_config(&[b"http/1.1"]), false);
        // The second body starts behind the first's head in a record of its own.
        client.write_all(b"GET /file HTTP/1.1\r\n\r\nGET /small HTTP/1.1\r\n\r\nGET /file HTTP/1.1\r\n\r\n").unwrap();
        assert!(read_response(&mut client).unwrap().1 == content, "{len} bytes: the body differs");
        assert_eq!(read_response(&mut client).unwrap().1, b"hello", "{len} bytes");
        assert!(read_response(&mut client).unwrap().1 == content, "{len} bytes: the second body differs");
        drop(client);
        let report = server.join().unwrap();
        assert_eq!((report.requests, report.error, report.timed_out), (3, None, false), "{len} bytes");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A server whose keys change after every `records_per_key` records it seals.
fn spawn_keyed(
    config: std::sync::Arc<rustls::ServerConfig>,
    app: App,
    records_per_key: u64,
) -> (std::net::SocketAddr, std::thread::JoinHandle<tls_util::Report>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let pool = tls::Pool::shared();
        pool.borrow_mut().records_per_key = records_per_key;
        let (poll, stream) = tls_util::accept_with(&listener, config, usize::MAX, pool);
        tls_util::serve(app, poll, stream)
    });
    (addr, handle)
}

#[test]
fn at_the_key_limit_tls13_updates_its_keys_and_tls12_ends_the_connection() {
    use rustls::crypto::aws_lc_rs::cipher_suite::*;
    let pki = Pki::new();
    let dir = tls_util::temp_dir("limit");
    let path = dir.join("body.bin");
    let content = pattern(10 * 16 * 1024 + 5);
    std::fs::write(&path, &content).unwrap();
    // TLS 1.3: a KeyUpdate of ours every 3 records, each taken by the client.
    let (addr, server) = spawn_keyed(pki.server_config(false), App { file: Some(path.clone()) }, 3);
    let mut client = connect(addr, &client_with_suite(&pki, TLS13_AES_128_GCM_SHA256), false);
    client.write_all(b"GET /file HTTP/1.1\r\n\r\nGET /small HTTP/1.1\r\n\r\nGET /file HTTP/1.1\r\n\r\n").unwrap();
    assert!(read_response(&mut client).unwrap().1 == content, "the body differs");
    assert_eq!(read_response(&mut client).unwrap().1, b"hello");
    assert!(read_response(&mut client).unwrap().1 == content, "the second body differs");
    drop(client);
    let report = server.join().unwrap();
    assert_eq!((report.requests, report.error, report.timed_out), (3, None, false));
    // TLS 1.2 cannot change keys: the connection ends before a record past the limit.
    let (addr, server) = spawn_keyed(pki.server_config(false), App { file: Some(path) }, 3);
    let mut client = connect(addr, &client_with_suite(&pki, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), false);
    client.write_all(b"GET /file HTTP/1.1\r\n\r\n").unwrap();
    assert!(read_response(&mut client).is_err(), "a body of 11 records went out under one key");
    let report = server.join().unwrap();
    assert!(report.error.is_some_and(|e| e.contains("EncryptError")));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn random_records_after_the_handshake_never_panic_or_hang() {
    let pki = Pki::new();
    let mut seed: u64 = 0x51_7CC1_B727_220A;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..64 {
        let (addr, server) = spawn(pki.server_config(false), no_file(), usize::MAX);
        let mut client = connect(addr, &pki.client_config(&[b"http/1.1"]), false);
        client.write_all(b"GET /small HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(read_response(&mut client).unwrap().1, b"hello");
        let kind = [0x14, 0x15, 0x16, 0x17, 0x18, next() as u8][round % 6];
        let len = match round % 3 {
            0 => next() % 64,
            1 => next() % 20_000,
            _ => 16 * 1024 + 256 + next() % 4,
        } as usize;
        let mut record = vec![kind, 3, 3, (len >> 8) as u8, len as u8];
        record.extend((0..len.min(next() as usize % 20_000)).map(|_| next() as u8));
        let _ = client.sock.tcp.write_all(&record);
        let _ = client.sock.tcp.shutdown(std::net::Shutdown::Write);
        let report = server.join().expect("the server thread panicked");
        assert!(!report.timed_out, "round {round}: the server hung");
        assert_eq!(report.requests, 1, "round {round}: random bytes made a request");
    }
}
