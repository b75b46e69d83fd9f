//! HTTPS through the whole server over real sockets, with a rustls client and certificates
//! made at test time (tests/tls_util; no key is committed): the server in-process where
//! only bytes matter, the real binary where a signal, an exit status, stderr or the
//! process's memory does.
mod common;
mod tls_util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use common::{Fixture, TestServer, check_sparse_chunk, read_response, sparse_file, sparse_pattern};
use evserve::config::Config;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tls_util::{Client, DEADLINE, Pki};

fn https(root: &Path, pki: &Pki, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let (cert, key) = (pki.cert.clone(), pki.key.clone());
    TestServer::with(root, move |c| {
        c.tls_cert = Some(cert);
        c.tls_key = Some(key);
        tweak(c);
    })
}

fn client(addr: SocketAddr, pki: &Pki) -> BufReader<Client> {
    BufReader::new(tls_util::connect(addr, &pki.client_config(&[b"http/1.1"]), false))
}

fn get(r: &mut BufReader<Client>, raw: &str) -> common::Response {
    r.get_mut().write_all(raw.as_bytes()).unwrap();
    read_response(r, raw.starts_with("HEAD "))
}

/// The leaf certificate (first in the chain file).
fn leaf(chain: &Path) -> CertificateDer<'static> {
    CertificateDer::pem_file_iter(chain).unwrap().next().unwrap().unwrap()
}

#[test]
fn handshake_and_get_then_close_notify() {
    let fx = Fixture::new();
    fx.file("index.html", "home page");
    let pki = Pki::new();
    let server = https(&fx.root(), &pki, |_| {});
    let mut c = client(server.addr, &pki);
    let r = get(&mut c, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, "home page"));
    assert_eq!(c.get_ref().conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    // The server ends with close_notify: a clean EOF, not an "unexpected EOF" error.
    let mut rest = Vec::new();
    assert_eq!(c.read_to_end(&mut rest).unwrap(), 0);
    let summary = server.stop();
    assert_eq!(summary.requests, 1);
}

#[test]
fn keep_alive_and_pipelining() {
    let fx = Fixture::new();
    fx.file("a.txt", "aaa");
    fx.file("b.txt", "bb");
    let pki = Pki::new();
    let server = https(&fx.root(), &pki, |_| {});
    let mut c = client(server.addr, &pki);
    let pipelined = "GET /a.txt HTTP/1.1\r\nHost: l\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: l\r\n\r\nHEAD /a.txt HTTP/1.1\r\nHost: l\r\n\r\n";
    c.get_mut().write_all(pipelined.as_bytes()).unwrap();
    assert_eq!(read_response(&mut c, false).text(), "aaa");
    assert_eq!(read_response(&mut c, false).text(), "bb");
    assert_eq!(read_response(&mut c, true).header("Content-Length"), Some("3"));
    // The same connection again, later.
    assert_eq!(get(&mut c, "GET /b.txt HTTP/1.1\r\nHost: l\r\n\r\n").text(), "bb");
}

/// A computed coding over 16 KiB goes from memory into records after its head: two
/// pipelined responses decode to the file.
#[test]
fn a_large_coding_pipelined() {
    let fx = Fixture::new();
    let data: Vec<u8> =
        (0..20_000u32).flat_map(|i| format!("{} ", i.wrapping_mul(2_654_435_761) % 100_000).into_bytes()).collect();
    fx.file("app.js", &data);
    let pki = Pki::new();
    let server = https(&fx.root(), &pki, |_| {});
    let mut c = client(server.addr, &pki);
    let raw = "GET /app.js HTTP/1.1\r\nHost: l\r\nAccept-Encoding: gzip\r\n\r\n".repeat(2);
    c.get_mut().write_all(raw.as_bytes()).unwrap();
    for _ in 0..2 {
        let r = read_response(&mut c, false);
        assert_eq!((r.status, r.header("Content-Encoding")), (200, Some("gzip")));
        assert!(r.body.len() > 16 * 1024, "{} bytes", r.body.len());
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&r.body[..]).read_to_end(&mut decoded).unwrap();
        assert!(decoded == data, "the body decodes to the file");
    }
}

#[test]
fn ranges_and_not_modified() {
    let fx = Fixture::new();
    fx.file("f.txt", "0123456789");
    let pki = Pki::new();
    let server = https(&fx.root(), &pki, |_| {});
    let mut c = client(server.addr, &pki);
    let r = get(&mut c, "GET /f.txt HTTP/1.1\r\nHost: l\r\nRange: bytes=2-5\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (206, "2345"));
    assert_eq!(r.header("Content-Range"), Some("bytes 2-5/10"));
    let etag = r.header("ETag").unwrap().to_string();
    let r = get(&mut c, &format!("GET /f.txt HTTP/1.1\r\nHost: l\r\nIf-None-Match: {etag}\r\n\r\n"));
    assert_eq!((r.status, r.body.len()), (304, 0));
    let r = get(&mut c, "GET /f.txt HTTP/1.1\r\nHost: l\r\nRange: bytes=-3\r\n\r\n");
    assert_eq!(r.text(), "789");
}

#[test]
fn records_written_one_byte_at_a_time() {
    let fx = Fixture::new();
    fx.file("a.txt", "trickled");
    let pki = Pki::new();
    let server = https(&fx.root(), &pki, |_| {});
    let mut c = BufReader::new(tls_util::connect(server.addr, &pki.client_config(&[b"http/1.1"]), true));
    for _ in 0..2 {
        assert_eq!(get(&mut c, "GET /a.txt HTTP/1.1\r\nHost: l\r\n\r\n").text(), "trickled");
    }
}

#[test]
fn plaintext_http_to_the_https_port_gets_a_plain_400() {
    let fx = Fixture::new();
    let pki = Pki::new();
    let server = https(&fx.root(), &pki, |_| {});
    let mut s = common::connect(server.addr);
    s.write_all(b"GET /x HTTP/1.1\r\nHost: example.org:8443\r\n\r\n").unwrap();
    let got = String::from_utf8(common::read_to_close(&mut s)).unwrap();
    assert!(got.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{got}");
    assert!(got.contains("\r\nConnection: close\r\n"), "{got}");
    assert!(got.ends_with("\r\n\r\nThis port speaks HTTPS; use https://example.org:8443/\n"), "{got}");
}

#[test]
fn garbage_instead_of_a_client_hello_is_closed_at_once() {
    let fx = Fixture::new();
    let pki = Pki::new();
    let server = https(&fx.root(), &pki, |_| {});
    let mut s = common::connect(server.addr);
    s.write_all(b"\x00\x01\x02 not tls at all\r\n\r\n").unwrap();
    assert_eq!(common::read_until_close(&mut s), Ok(Vec::new()), "closed, nothing sent");
}

#[test]
fn half_a_client_hello_is_closed_after_the_request_timeout() {
    let fx = Fixture::new();
    let pki = Pki::new();
    let server = https(&fx.root(), &pki, |c| c.timeouts.request = Duration::from_millis(300));
    let hello = pki.client_hello();
    let mut s = common::connect(server.addr);
    s.write_all(&hello[..hello.len() / 2]).unwrap();
    // Closed (within the client's 10 s read timeout, which would fail the read instead).
    assert_eq!(common::read_until_close(&mut s), Ok(Vec::new()));
}

/// With `--http2 off`, a client that offers only `h2` has no protocol in common.
#[test]
fn an_h2_only_client_is_refused_cleanly_with_http2_off() {
    let fx = Fixture::new();
    let pki = Pki::new();
    let server = https(&fx.root(), &pki, |c| c.http2 = false);
    let mut c = tls_util::connect(server.addr, &pki.client_config(&[b"h2"]), false);
    let err = c.write_all(b"GET / HTTP/1.1\r\nHost: l\r\n\r\n").and_then(|_| c.flush()).and_then(|_| {
        let mut buf = [0u8; 16];
        c.read(&mut buf).map(drop)
    });
    let err = err.expect_err("no protocol in common");
    assert!(format!("{err:?}").contains("NoApplicationProtocol"), "{err:?}");
    // The server is unharmed.
    let mut ok = client(server.addr, &pki);
    assert_eq!(get(&mut ok, "GET /missing HTTP/1.1\r\nHost: l\r\n\r\n").status, 404);
}

/// A second connection resumes the first one's session, unless resumption is off.
fn resumed_second_time(resumption: bool) -> bool {
    let fx = Fixture::new();
    fx.file("a.txt", "a");
    let pki = Pki::new();
    let server = https(&fx.root(), &pki, |c| c.tls_resumption = resumption);
    let config = pki.client_config(&[b"http/1.1"]);
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let mut c = BufReader::new(tls_util::connect(server.addr, &config, false));
        // Reading a response also reads the tickets sent after the handshake.
        assert_eq!(get(&mut c, "GET /a.txt HTTP/1.1\r\nHost: l\r\n\r\n").text(), "a");
        kinds.push(c.get_ref().conn.handshake_kind());
    }
    assert_eq!(kinds[0], Some(rustls::HandshakeKind::Full));
    kinds[1] == Some(rustls::HandshakeKind::Resumed)
}

#[test]
fn the_second_connection_resumes() {
    assert!(resumed_second_time(true));
}

#[test]
fn no_resumption_with_tls_no_resumption() {
    assert!(!resumed_second_time(false));
}

#[test]
fn two_hundred_concurrent_clients() {
    let fx = Fixture::new();
    fx.file("a.txt", "concurrent");
    let pki = Pki::new();
    let server = https(&fx.root(), &pki, |_| {});
    let config = pki.client_config(&[b"http/1.1"]);
    let barrier = std::sync::Barrier::new(200);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..200)
            .map(|_| {
                scope.spawn(|| {
                    let mut c = BufReader::new(tls_util::connect(server.addr, &config, false));
                    let first = get(&mut c, "GET /a.txt HTTP/1.1\r\nHost: l\r\n\r\n").text();
                    // All 200 are open at once here.
                    barrier.wait();
                    let second = get(&mut c, "GET /a.txt HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n").text();
                    (first, second)
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), ("concurrent".to_string(), "concurrent".to_string()));
        }
    });
    assert_eq!(server.stop().requests, 400);
}

#[test]
fn redirect_http_answers_308_to_the_https_port() {
    let fx = Fixture::new();
    let pki = Pki::new();
    // The in-process harness knows only the first address: bind here to learn both.
    let cfg = Config {
        root: fx.root(),
        addrs: vec!["127.0.0.1:0".parse().unwrap()],
        tls_cert: Some(pki.cert.clone()),
        tls_key: Some(pki.key.clone()),
        redirect_http: Some("127.0.0.1:0".parse().unwrap()),
        ..Config::default()
    };
    let bound = evserve::server::Server::bind(&cfg).unwrap();
    let (https_addr, redirect) = (bound.local_addrs()[0], bound.redirect_addr().unwrap());
    assert_ne!(https_addr.port(), redirect.port());
    let handle = bound.handle();
    let thread = std::thread::spawn(move || bound.run());
    let mut s = BufReader::new(common::connect(redirect));
    s.get_mut().write_all(b"GET /a/b?c=d HTTP/1.1\r\nHost: example.org:80\r\n\r\n").unwrap();
    let r = read_response(&mut s, false);
    assert_eq!((r.status, r.header("Content-Length")), (308, Some("0")));
    let expected = format!("https://example.org:{}/a/b?c=d", https_addr.port());
    assert_eq!(r.header("Location"), Some(expected.as_str()));
    // Keep-alive is honoured: a second request on the same connection.
    s.get_mut().write_all(b"HEAD / HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n").unwrap();
    let r = read_response(&mut s, true);
    assert_eq!(r.header("Location"), Some(format!("https://[::1]:{}/", https_addr.port()).as_str()));
    assert!(common::then_closed(&mut s));
    handle.shutdown();
    thread.join().unwrap().unwrap();
}

// ---- The real binary ----

/// The binary, with its stderr lines on a channel (read by a thread, so every wait has
/// a deadline) and the HTTPS address from its start line.
struct Evserve {
    child: Child,
    addr: SocketAddr,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Evserve {
    fn start(args: &[&str]) -> Evserve {
        let mut child = common::evserve(args).spawn().unwrap();
        let (tx, lines) = channel();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines.recv_timeout(DEADLINE).expect("a start line");
        let addr = first
            .split("https://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no https:// address in {first:?}"));
        Evserve { child, addr, lines, seen: vec![first] }
    }

    /// Waits for a stderr line containing `needle` (failing after the deadline).
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!("no line with {needle:?}; saw {:#?}", self.seen),
                Err(RecvTimeoutError::Disconnected) => panic!("exited; no line with {needle:?}; saw {:#?}", self.seen),
            }
        }
    }

    fn signal(&self, sig: &str) {
        assert!(Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap().success());
    }
}

impl Drop for Evserve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tls_args<'a>(pki_cert: &'a str, pki_key: &'a str, root: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--bind", "127.0.0.1", "--port", "0", "--tls-cert", pki_cert, "--tls-key", pki_key, root];
    args.extend_from_slice(extra);
    args
}

#[test]
fn unusable_certificate_files_exit_9_naming_the_file() {
    let fx = Fixture::new();
    let pki = Pki::new();
    let root = fx.root();
    let missing = pki.dir.join("missing.pem");
    let (cert, key, root, missing) =
        (pki.cert.to_str().unwrap(), pki.key.to_str().unwrap(), root.to_str().unwrap(), missing.to_str().unwrap());
    let (code, _, err) = common::run_to_exit(&tls_args(missing, key, root, &[]));
    assert_eq!(code, Some(9), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(missing) && err.contains("no such file"), "{err}");
    // A key that is not the certificate's.
    let other = Pki::new();
    let (code, _, err) = common::run_to_exit(&tls_args(cert, other.key.to_str().unwrap(), root, &[]));
    assert_eq!(code, Some(9), "{err}");
    assert!(err.contains("does not match the certificate"), "{err}");
    // One without the other is a usage error.
    let (code, _, err) = common::run_to_exit(&["--tls-cert", cert, root]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn trace_shows_the_handshake_once_and_stats_count_handshakes() {
    let fx = Fixture::new();
    fx.file("a.txt", "a");
    let pki = Pki::new();
    let root = fx.root();
    let args = tls_args(
        pki.cert.to_str().unwrap(),
        pki.key.to_str().unwrap(),
        root.to_str().unwrap(),
        &["--trace", "--stats", "0.2"],
    );
    let mut server = Evserve::start(&args);
    let mut c = client(server.addr, &pki);
    get(&mut c, "GET /a.txt HTTP/1.1\r\nHost: l\r\n\r\n");
    get(&mut c, "GET /a.txt HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n");
    let done = server.wait_for("TLS handshake done");
    assert!(done.contains("TLSv1_3") && done.contains("alpn=http/1.1") && done.contains(" full"), "{done}");
    server.wait_for("now closed");
    assert_eq!(server.seen.iter().filter(|l| l.contains("TLS handshake")).count(), 1, "{:#?}", server.seen);
    // A garbage ClientHello is a failed handshake.
    let mut s = common::connect(server.addr);
    s.write_all(b"\x00garbage").unwrap();
    assert_eq!(common::read_until_close(&mut s), Ok(Vec::new()));
    let (mut handshakes, mut failed) = (0, 0);
    while (handshakes, failed) != (1, 1) {
        let line = server.wait_for("tls handshakes");
        let numbers: Vec<u64> =
            line.rsplit("tls handshakes ").next().unwrap().split(" failed ").map(|n| n.parse().unwrap()).collect();
        handshakes += numbers[0];
        failed += numbers[1];
        assert!(handshakes <= 1 && failed <= 1, "{line}");
    }
}

#[test]
fn a_1_gib_file_byte_exact_with_flat_server_memory() {
    let fx = Fixture::new();
    const LEN: u64 = 1 << 30;
    let marks = [0, 4096 * 3 + 17, LEN / 2 + 5, LEN - 4096];
    sparse_file(&fx.root().join("big.bin"), LEN, &marks);
    let pki = Pki::new();
    let root = fx.root();
    let server =
        Evserve::start(&tls_args(pki.cert.to_str().unwrap(), pki.key.to_str().unwrap(), root.to_str().unwrap(), &[]));
    let mut c = tls_util::connect(server.addr, &pki.client_config(&[b"http/1.1"]), false);
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: l\r\n\r\n").unwrap();
    let (status, len) = common::read_head(&mut c);
    assert_eq!((status, len), (200, LEN));
    let (zeros, pattern) = (vec![0u8; 1 << 16], sparse_pattern());
    let mut buf = vec![0u8; 1 << 16];
    let (mut pos, mut max_rss, mut next_sample) = (0u64, 0u64, 0u64);
    while pos < LEN {
        let n = c.read(&mut buf[..((LEN - pos) as usize).min(1 << 16)]).unwrap();
        assert!(n > 0, "closed at {pos}");
        check_sparse_chunk(&buf[..n], pos, &marks, &zeros, &pattern);
        pos += n as u64;
        if pos >= next_sample {
            max_rss = max_rss.max(common::rss_kib(server.child.id()));
            next_sample += 64 << 20;
        }
    }
    // A correctness bound, not a performance one: a body buffered whole would be 1 GiB.
    assert!(max_rss < 64 * 1024, "server RSS reached {max_rss} KiB during the download");
    eprintln!("server VmRSS at most {max_rss} KiB while sending 1 GiB over TLS");
}

#[test]
fn a_client_that_stops_reading_is_dropped_by_the_write_timeout() {
    let fx = Fixture::new();
    const LEN: u64 = 64 << 20;
    sparse_file(&fx.root().join("big.bin"), LEN, &[]);
    let pki = Pki::new();
    let root = fx.root();
    let args = tls_args(
        pki.cert.to_str().unwrap(),
        pki.key.to_str().unwrap(),
        root.to_str().unwrap(),
        &["--write-timeout", "0.5", "--stats", "0.1"],
    );
    let mut server = Evserve::start(&args);
    let mut c = tls_util::connect(server.addr, &pki.client_config(&[b"http/1.1"]), false);
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: l\r\n\r\n").unwrap();
    assert_eq!(common::read_head(&mut c), (200, LEN));
    // Not reading: the server's socket fills, then its write timeout ends the connection.
    loop {
        let line = server.wait_for("timeouts ");
        if !line.contains("timeouts 0 ") {
            break;
        }
    }
    let mut got = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n as u64,
        }
    }
    assert!(got < LEN, "the whole body arrived: the connection was not dropped");
}

#[test]
fn sighup_reloads_the_certificate_for_new_connections_only() {
    let fx = Fixture::new();
    fx.file("a.txt", "a");
    let (first, second) = (Pki::new(), Pki::new());
    let dir = tls_util::temp_dir("reload");
    let (cert, key) = (dir.join("chain.pem"), dir.join("key.pem"));
    let install = |pki: &Pki| {
        for (from, to) in [(&pki.cert, &cert), (&pki.key, &key)] {
            let tmp = to.with_extension("tmp");
            std::fs::copy(from, &tmp).unwrap();
            std::fs::rename(&tmp, to).unwrap();
        }
    };
    install(&first);
    let root = fx.root();
    let mut server =
        Evserve::start(&tls_args(cert.to_str().unwrap(), key.to_str().unwrap(), root.to_str().unwrap(), &[]));
    let mut open = client(server.addr, &first);
    assert_eq!(get(&mut open, "GET /a.txt HTTP/1.1\r\nHost: l\r\n\r\n").text(), "a");
    assert_eq!(open.get_ref().conn.peer_certificates().unwrap()[0], leaf(&first.cert));

    install(&second);
    server.signal("-HUP");
    server.wait_for("reloaded the TLS certificate");
    let mut fresh = client(server.addr, &second);
    assert_eq!(get(&mut fresh, "GET /a.txt HTTP/1.1\r\nHost: l\r\n\r\n").text(), "a");
    assert_eq!(fresh.get_ref().conn.peer_certificates().unwrap()[0], leaf(&second.cert));
    // The connection opened before the reload keeps working, on its old certificate.
    assert_eq!(get(&mut open, "GET /a.txt HTTP/1.1\r\nHost: l\r\n\r\n").text(), "a");

    // A bad reload keeps the certificate in force, and says why.
    std::fs::write(&key, "not a key").unwrap();
    server.signal("-HUP");
    let why = server.wait_for("cannot reload the TLS certificate");
    assert!(why.contains(key.to_str().unwrap()) && why.contains("keeping the old one"), "{why}");
    let mut after = client(server.addr, &second);
    assert_eq!(get(&mut after, "GET /a.txt HTTP/1.1\r\nHost: l\r\n\r\n").text(), "a");
    assert_eq!(after.get_ref().conn.peer_certificates().unwrap()[0], leaf(&second.cert));
    assert_eq!(get(&mut fresh, "GET /a.txt HTTP/1.1\r\nHost: l\r\n\r\n").text(), "a");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn curl_loads_the_page_trusting_the_test_ca() {
    if !Command::new("curl").arg("--version").output().is_ok_and(|o| o.status.success()) {
        eprintln!("skipping: curl is not installed");
        return;
    }
    let fx = Fixture::new();
    fx.file("index.html", "curl home");
    let pki = Pki::new();
    let server = https(&fx.root(), &pki, |_| {});
    let port = server.addr.port();
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert", pki.cert.to_str().unwrap()])
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .arg(format!("https://localhost:{port}/"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "curl home");
}

/// A plain TCP socket to the HTTPS port keeps the port usable for the next client.
#[test]
fn a_client_that_leaves_mid_handshake_does_not_hurt_others() {
    let fx = Fixture::new();
    fx.file("a.txt", "a");
    let pki = Pki::new();
    let server = https(&fx.root(), &pki, |_| {});
    let hello = pki.client_hello();
    drop({
        let mut s = TcpStream::connect(server.addr).unwrap();
        s.write_all(&hello).unwrap();
        s
    });
    let mut c = client(server.addr, &pki);
    assert_eq!(get(&mut c, "GET /a.txt HTTP/1.1\r\nHost: l\r\n\r\n").text(), "a");
}

#[test]
fn a_thousand_half_sent_client_hellos_leave_a_fresh_client_served() {
    let fx = Fixture::new();
    fx.file("index.html", "home page");
    let pki = Pki::new();
    let server = https(&fx.root(), &pki, |_| {});
    let hello = pki.client_hello();
    let held: Vec<TcpStream> = (0..1000)
        .map(|_| {
            let mut half = TcpStream::connect(server.addr).unwrap();
            half.write_all(&hello[..200]).unwrap();
            half
        })
        .collect();
    let mut c = client(server.addr, &pki);
    let r = get(&mut c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, "home page"));
    // The half-sent ones are still held, not dropped to make room.
    for mut half in held {
        half.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        assert!(matches!(half.read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock));
    }
    server.stop();
}

#[test]
fn a_client_sending_one_byte_per_write_is_served() {
    let fx = Fixture::new();
    fx.file("index.html", "home page");
    let pki = Pki::new();
    let server = https(&fx.root(), &pki, |_| {});
    // Every byte of the ClientHello, the Finished and the request in a write of its own:
    // the small input buffer, the first record's wait for rustls, and the record layer
    // each see one byte at a time.
    let mut c = BufReader::new(tls_util::connect(server.addr, &pki.client_config(&[b"http/1.1"]), true));
    for _ in 0..2 {
        let r = get(&mut c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert_eq!((r.status, r.text().as_str()), (200, "home page"));
    }
}
