//! The client's real address behind a load balancer: `--proxy-protocol` (a PROXY v1 or v2
//! header before any HTTP, its source logged as the client; anything else closed with not a
//! byte sent) and `--trusted-proxy` (the client from X-Forwarded-For or Forwarded, only
//! from those peers). Real binary, raw bytes, the access log read back.
mod common;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use common::*;

/// A running evserve with an access log file.
struct Server {
    p: Process,
    log: PathBuf,
    _f: Fixture,
}

fn start(extra: &[&str]) -> Server {
    let f = Fixture::new();
    f.file("index.html", "hi\n");
    let log = f.path.join("access.log");
    let root = f.root();
    let mut args = vec![root.to_str().unwrap(), "--bind", "127.0.0.1", "--port", "0"];
    args.extend_from_slice(&["--access-log", log.to_str().unwrap(), "--trace"]);
    args.extend_from_slice(extra);
    let p = Process::spawn(&args);
    assert!(p.addr.is_some(), "{}", p.first_line);
    Server { p, log, _f: f }
}

impl Server {
    fn connect(&self) -> TcpStream {
        connect(self.p.addr.unwrap())
    }

    /// Sends `bytes` on a fresh connection and returns everything until the close.
    fn exchange(&self, bytes: &[u8]) -> Vec<u8> {
        let mut s = self.connect();
        s.write_all(bytes).unwrap();
        read_to_close(&mut s)
    }

    /// The client field of the `n`th access-log line (1-based), waiting for it.
    fn logged_client(&self, n: usize) -> String {
        let mut lines = Vec::new();
        let found = eventually(IO_TIMEOUT, || {
            lines = std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(str::to_string).collect();
            lines.len() >= n
        });
        assert!(found, "access log line {n} expected: {lines:?}");
        lines[n - 1].split(' ').next().unwrap().to_string()
    }

    /// Stops it and returns its stderr (the trace).
    fn stop(self) -> String {
        self.p.signal(libc::SIGTERM);
        let (code, err) = self.p.wait(Duration::from_secs(15));
        assert_eq!(code, Some(0), "{err}");
        err
    }
}

const GET: &str = "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

/// A v2 PROXY header for TCP over IPv4 from `src:sport`.
fn v2_ipv4(src: [u8; 4], sport: u16) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend_from_slice(&[0x21, 0x11, 0, 12]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&[127, 0, 0, 1]);
    h.extend_from_slice(&sport.to_be_bytes());
    h.extend_from_slice(&80u16.to_be_bytes());
    h
}

fn status_of(bytes: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(bytes);
    assert!(text.starts_with("HTTP/1.1 "), "{text:?}");
    text[9..12].parse().unwrap()
}

#[test]
fn a_v1_header_and_the_request_in_one_write_are_both_taken() {
    let s = start(&["--proxy-protocol"]);
    let mut bytes = b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n".to_vec();
    bytes.extend_from_slice(GET.as_bytes());
    let out = s.exchange(&bytes);
    assert_eq!(status_of(&out), 200);
    assert!(out.ends_with(b"\r\n\r\nhi\n"));
    assert_eq!(s.logged_client(1), "203.0.113.7");
    let err = s.stop();
    assert!(err.contains("PROXY header: client 203.0.113.7:40000"), "{err}");
}

#[test]
fn a_v2_header_arriving_in_pieces_names_the_client() {
    let s = start(&["--proxy-protocol"]);
    let mut c = s.connect();
    let header = v2_ipv4([198, 51, 100, 20], 5555);
    // Byte by byte: every prefix is a valid beginning, so the server waits for more.
    for b in &header[..13] {
        c.write_all(&[*b]).unwrap();
        c.flush().unwrap();
    }
    c.write_all(&header[13..]).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let r = read_response(&mut BufReader::new(c.try_clone().unwrap()), false);
    assert_eq!(r.status, 200);
    // The same connection keeps that client for its next request.
    c.write_all(GET.as_bytes()).unwrap();
    assert_eq!(read_response(&mut BufReader::new(c), false).status, 200);
    assert_eq!(s.logged_client(1), "198.51.100.20");
    assert_eq!(s.logged_client(2), "198.51.100.20");
}

#[test]
fn a_local_or_unknown_header_keeps_the_socket_peer() {
    let s = start(&["--proxy-protocol"]);
    let mut local = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    local.extend_from_slice(&[0x20, 0x00, 0, 0]);
    local.extend_from_slice(GET.as_bytes());
    assert_eq!(status_of(&s.exchange(&local)), 200);
    assert_eq!(s.logged_client(1), "127.0.0.1");
    let unknown = format!("PROXY UNKNOWN\r\n{GET}");
    assert_eq!(status_of(&s.exchange(unknown.as_bytes())), 200);
    assert_eq!(s.logged_client(2), "127.0.0.1");
}

#[test]
fn a_missing_or_malformed_header_closes_with_nothing_sent() {
    let s = start(&["--proxy-protocol"]);
    assert_eq!(s.exchange(GET.as_bytes()), b"", "HTTP without the header");
    let bad_address = format!("PROXY TCP4 1.2.3.256 127.0.0.1 1 80\r\n{GET}");
    assert_eq!(s.exchange(bad_address.as_bytes()), b"");
    let mut bad_v2 = v2_ipv4([10, 0, 0, 1], 1);
    bad_v2[12] = 0x31; // version 3
    bad_v2.extend_from_slice(GET.as_bytes());
    assert_eq!(s.exchange(&bad_v2), b"");
    let err = s.stop();
    assert_eq!(err.matches("closing, nothing sent").count(), 3, "{err}");
}

#[test]
fn a_header_that_never_completes_times_out_with_nothing_sent() {
    let s = start(&["--proxy-protocol", "--request-timeout", "0.3"]);
    let mut c = s.connect();
    c.write_all(b"PROXY TCP4 10.0.0.1 ").unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).expect("closed by the request timeout");
    assert_eq!(got, b"", "no 408: no HTTP was spoken yet");
}

#[test]
fn without_the_flag_a_proxy_line_is_a_bad_request() {
    let s = start(&[]);
    let bytes = format!("PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n{GET}");
    assert_eq!(status_of(&s.exchange(bytes.as_bytes())), 400);
}

fn get_with(s: &Server, headers: &str) -> u16 {
    status_of(&s.exchange(format!("GET / HTTP/1.1\r\nHost: t\r\n{headers}Connection: close\r\n\r\n").as_bytes()))
}

#[test]
fn a_trusted_proxy_names_the_client_in_x_forwarded_for_by_default() {
    let s = start(&["--trusted-proxy", "127.0.0.0/8", "--trusted-proxy", "10.0.0.0/8"]);
    // The rightmost untrusted hop; the last line counts.
    assert_eq!(get_with(&s, "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 192.0.2.1, 10.1.1.1\r\n"), 200);
    assert_eq!(s.logged_client(1), "192.0.2.1");
    // Forwarded is not what these proxies write: the client's own words, ignored.
    assert_eq!(get_with(&s, "Forwarded: for=192.0.2.99\r\n"), 200);
    assert_eq!(s.logged_client(2), "127.0.0.1");
    let err = s.stop();
    assert!(err.contains("client 192.0.2.1, as trusted proxy 127.0.0.1 says"), "{err}");
}

#[test]
fn forwarded_is_read_when_chosen_and_untrusted_peers_are_not_believed() {
    let s = start(&["--trusted-proxy", "127.0.0.1", "--trusted-header", "forwarded"]);
    assert_eq!(get_with(&s, "Forwarded: for=\"[2001:db8::5]:4711\";proto=http\r\n"), 200);
    assert_eq!(s.logged_client(1), "2001:db8::5");
    assert_eq!(get_with(&s, "X-Forwarded-For: 192.0.2.1\r\n"), 200);
    assert_eq!(s.logged_client(2), "127.0.0.1");
    let untrusted = start(&["--trusted-proxy", "10.0.0.0/8"]);
    assert_eq!(get_with(&untrusted, "X-Forwarded-For: 192.0.2.1\r\n"), 200);
    assert_eq!(untrusted.logged_client(1), "127.0.0.1");
}

#[test]
fn the_proxy_given_peer_is_the_one_trusted() {
    let s = start(&["--proxy-protocol", "--trusted-proxy", "10.0.0.0/8"]);
    let via = |src: &str| {
        format!(
            "PROXY TCP4 {src} 127.0.0.1 1000 80\r\nGET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 192.0.2.8\r\nConnection: close\r\n\r\n"
        )
    };
    assert_eq!(status_of(&s.exchange(via("10.2.3.4").as_bytes())), 200);
    assert_eq!(s.logged_client(1), "192.0.2.8", "a trusted proxy behind the balancer");
    assert_eq!(status_of(&s.exchange(via("203.0.113.1").as_bytes())), 200);
    assert_eq!(s.logged_client(2), "203.0.113.1", "an untrusted client behind the balancer");
}

/// A TCP connection from `local` (another loopback address than the server's peer would
/// otherwise be) to `to`.
fn connect_from(local: &str, to: std::net::SocketAddr) -> TcpStream {
    use rustix::net::{AddressFamily, SocketType};
    let fd = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    rustix::net::bind(&fd, &format!("{local}:0").parse::<std::net::SocketAddr>().unwrap()).unwrap();
    rustix::net::connect(&fd, &to).unwrap();
    let s = TcpStream::from(fd);
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// HAProxy's configuration: TCP mode, round robin over `servers`, PROXY v2 to each.
fn haproxy_config(listen: std::net::SocketAddr, servers: &[std::net::SocketAddr]) -> String {
    let mut cfg = format!(
        "global\n  maxconn 4096\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
         frontend web\n  bind {listen}\n  default_backend evserve\nbackend evserve\n  balance roundrobin\n"
    );
    for (i, s) in servers.iter().enumerate() {
        cfg.push_str(&format!("  server ev{i} {s} send-proxy-v2\n"));
    }
    cfg
}

#[test]
fn haproxy_spreads_requests_over_two_instances_and_each_logs_the_real_client() {
    if !std::process::Command::new("sh").args(["-c", "command -v haproxy"]).output().unwrap().status.success() {
        eprintln!("skipped: haproxy not installed (Debian: apt-get install haproxy)");
        return;
    }
    let (a, b) = (start(&["--proxy-protocol"]), start(&["--proxy-protocol"]));
    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dir = Fixture::new();
    let cfg = dir.outside("haproxy.cfg", haproxy_config(listen, &[a.p.addr.unwrap(), b.p.addr.unwrap()]));
    let mut haproxy = std::process::Command::new("haproxy")
        .args(["-f", cfg.to_str().unwrap(), "-db"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let up = eventually(IO_TIMEOUT, || TcpStream::connect(listen).is_ok());
    let requests = 10;
    let mut answered = 0;
    if up {
        for _ in 0..requests {
            // From 127.0.0.2: HAProxy itself connects from 127.0.0.1, so a logged 127.0.0.2
            // can only have come from the PROXY header.
            let mut c = connect_from("127.0.0.2", listen);
            c.write_all(GET.as_bytes()).unwrap();
            answered += (status_of(&read_to_close(&mut c)) == 200) as usize;
        }
    }
    let _ = haproxy.kill();
    let _ = haproxy.wait();
    assert!(up, "haproxy did not listen on {listen}");
    assert_eq!(answered, requests);
    // The probe connections above carried no request; the 10 requests are split 5 and 5.
    let lines = |s: &Server| {
        std::fs::read_to_string(&s.log).unwrap_or_default().lines().map(str::to_string).collect::<Vec<_>>()
    };
    assert!(eventually(IO_TIMEOUT, || lines(&a).len() + lines(&b).len() == requests));
    let (la, lb) = (lines(&a), lines(&b));
    assert!(!la.is_empty() && !lb.is_empty(), "both instances served: {la:?} {lb:?}");
    for line in la.iter().chain(&lb) {
        assert!(line.starts_with("127.0.0.2 - - ["), "{line}");
    }
}
