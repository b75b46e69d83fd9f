//! HTTP/2 under volume and over the rest of the site: a 1 GiB file byte-exact over h2c and
//! over TLS with the server's memory flat (the real binary), many connections with many
//! streams at once (h2load), sidecars and listings (curl). Memory is a correctness bound
//! here (a body buffered whole would be 1 GiB), not a performance figure. A tool that is
//! missing is said, and its test skips.
mod common;
mod tls_util;

use std::io::Read;
use std::process::{Command, Stdio};

use common::*;

const GIB: u64 = 1 << 30;

/// Offsets of the marks in the sparse file: the start, inside a frame, across the middle,
/// the last page.
const MARKS: [u64; 4] = [0, 16 * 1024 * 3 + 17, GIB / 2 + 5, GIB - 4096];

/// Fetches `url` with curl (`args` choose the protocol), checking every byte as it streams
/// and sampling the server's RSS; returns the bytes read and the highest RSS in KiB.
fn fetch_checked(server: &Process, url: &str, args: &[&str]) -> (u64, u64) {
    let mut curl = Command::new("curl")
        .args(["-s", "-k", "-m", "300", "-o", "-"])
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = curl.stdout.take().unwrap();
    let (zeros, pattern) = (vec![0u8; 1 << 16], sparse_pattern());
    let mut buf = vec![0u8; 1 << 16];
    let (mut pos, mut max_rss, mut next_sample) = (0u64, 0u64, 0u64);
    loop {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert!(pos + n as u64 <= GIB, "more than the file");
        check_sparse_chunk(&buf[..n], pos, &MARKS, &zeros, &pattern);
        pos += n as u64;
        if pos >= next_sample {
            max_rss = max_rss.max(rss_kib(server.child.id()));
            next_sample += 64 << 20;
        }
    }
    assert!(curl.wait().unwrap().success(), "curl failed at byte {pos}");
    (pos, max_rss)
}

#[test]
fn a_1_gib_file_byte_exact_over_h2c_and_h2_with_flat_server_memory() {
    if !installed("curl") {
        return;
    }
    let fx = Fixture::new();
    sparse_file(&fx.root().join("big.bin"), GIB, &MARKS);
    let server = Process::spawn(&["--bind", "127.0.0.1", "--port", "0", fx.root().to_str().unwrap()]);
    let addr = server.addr.unwrap_or_else(|| panic!("evserve did not start: {}", server.first_line));
    let (len, max_rss) = fetch_checked(&server, &format!("http://{addr}/big.bin"), &["--http2-prior-knowledge"]);
    assert_eq!(len, GIB);
    assert!(max_rss < 64 * 1024, "server RSS reached {max_rss} KiB during the h2c download");
    eprintln!("server VmRSS at most {max_rss} KiB while sending 1 GiB over h2c");

    let pki = tls_util::Pki::new();
    let (cert, key) = (&pki.cert, &pki.key);
    let tls = Process::spawn(&[
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        fx.root().to_str().unwrap(),
    ]);
    let line = &tls.first_line;
    let port = line.rsplit(':').next().and_then(|p| p.trim().trim_end_matches('/').parse::<u16>().ok());
    let port = port.unwrap_or_else(|| panic!("no port in {line:?}"));
    let (len, max_rss) = fetch_checked(&tls, &format!("https://127.0.0.1:{port}/big.bin"), &["--http2"]);
    assert_eq!(len, GIB);
    assert!(max_rss < 64 * 1024, "server RSS reached {max_rss} KiB during the h2 download");
    eprintln!("server VmRSS at most {max_rss} KiB while sending 1 GiB over h2 with TLS");
}

#[test]
fn many_connections_with_many_streams_at_once() {
    if !installed("h2load") {
        return;
    }
    let fx = Fixture::new();
    fx.file("1k.bin", Rng::new(5).bytes(1024));
    let server = Process::spawn(&["--bind", "127.0.0.1", "--port", "0", fx.root().to_str().unwrap()]);
    let addr = server.addr.unwrap_or_else(|| panic!("evserve did not start: {}", server.first_line));
    // 200 connections, 10 streams each in flight, 20,000 requests: every one answered.
    let out = Command::new("h2load")
        .args(["-n", "20000", "-c", "200", "-m", "10", "-T", "60"])
        .arg(format!("http://{addr}/1k.bin"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("20000 succeeded, 0 failed, 0 errored, 0 timeout"), "{text}");
    assert!(text.contains("status codes: 20000 2xx"), "{text}");
}

#[test]
fn sidecars_and_listings_over_h2c() {
    if !installed("curl") {
        return;
    }
    let fx = Fixture::new();
    fx.file("docs/guide.txt", "plain guide\n");
    fx.file("docs/guide.txt.gz", "not really gzip, but the sidecar's bytes");
    let server = TestServer::with(&fx.root(), |c| c.listing = true);
    let url = |p: &str| format!("http://{}{p}", server.addr);
    // The sidecar for a client that takes gzip; the file for one that does not.
    let (head, body) = curl_h2c(&["-H", "Accept-Encoding: gzip", &url("/docs/guide.txt")]);
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    assert!(
        head.contains("\r\ncontent-encoding: gzip\r\n") && head.contains("\r\nvary: Accept-Encoding\r\n"),
        "{head}"
    );
    assert_eq!(body, b"not really gzip, but the sidecar's bytes");
    let (head, body) = curl_h2c(&["-H", "Accept-Encoding: identity", &url("/docs/guide.txt")]);
    assert!(!head.contains("content-encoding"), "{head}");
    assert_eq!(body, b"plain guide\n");
    // A folder without index.html is listed (HTML), its entries linked.
    let (head, body) = curl_h2c(&[&url("/docs/")]);
    assert!(head.starts_with("HTTP/2 200") && head.contains("content-type: text/html"), "{head}");
    let page = String::from_utf8_lossy(&body);
    assert!(page.contains("href=\"./guide.txt\""), "{page}");
}
