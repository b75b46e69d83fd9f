//! The core behaviours over real sockets: serving files, HEAD, errors, keep-alive,
//! pipelining, streaming large files, concurrency, resets, and the binary's command line.
mod common;

use std::io::{BufReader, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use common::*;

fn site() -> Fixture {
    let f = Fixture::new();
    f.file("index.html", "<!DOCTYPE html><title>home</title>");
    f.file("style.css", "body{}");
    f.file("docs/index.html", "docs home");
    f.file("docs/page.txt", "plain text");
    f.file("sp ace.txt", "spaced");
    f.file("data.bin", [0u8, 1, 2, 255]);
    f
}

#[test]
fn get_root_serves_index_html_with_complete_headers() {
    let f = site();
    let server = TestServer::start(&f.root());
    let r = server.get("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"<!DOCTYPE html><title>home</title>");
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("Content-Length"), Some("34"));
    assert!(r.header("Date").unwrap().ends_with(" GMT"));
    assert!(r.header("Server").unwrap().starts_with("evserve/"));
}

#[test]
fn content_types_query_strings_and_percent_decoding() {
    let f = site();
    let server = TestServer::start(&f.root());
    let r = server.get("GET /style.css?v=3 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((r.status, r.header("Content-Type")), (200, Some("text/css; charset=utf-8")));
    let r = server.get("GET /sp%20ace.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, "spaced"));
    let r = server.get("GET /data.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.header("Content-Type"), Some("application/octet-stream"));
    assert_eq!(r.body, [0u8, 1, 2, 255]);
    let r = server.get("GET /docs/ HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.text(), "docs home");
}

#[test]
fn head_sends_the_get_headers_and_no_body() {
    let f = site();
    let server = TestServer::start(&f.root());
    let mut s = server.connect();
    // HEAD then GET on one connection: if HEAD leaked a body, the GET's status line would be wrong.
    s.write_all(b"HEAD /docs/page.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /docs/page.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    let head = read_response(&mut r, true);
    let get = read_response(&mut r, false);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Length"), Some("10"));
    assert_eq!(get.text(), "plain text");
    let strip_date = |h: &str| h.lines().filter(|l| !l.starts_with("Date:")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip_date(&head.head), strip_date(&get.head));
}

#[test]
fn missing_file_is_404_with_an_html_body() {
    let f = site();
    let server = TestServer::start(&f.root());
    let r = server.get("GET /nope.html HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=utf-8"));
    assert!(r.text().contains("404 Not Found"));
}

#[test]
fn unreadable_things_are_403() {
    let f = site();
    let fifo = f.root().join("pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().map(|s| s.success()).unwrap_or(false);
    let server = TestServer::start(&f.root());
    if made {
        // A FIFO must neither block the loop nor be served.
        assert_eq!(server.get("GET /pipe HTTP/1.1\r\nHost: x\r\n\r\n").status, 403);
    }
    if !rustix::process::geteuid().is_root() {
        let p = f.file("secret.txt", "x");
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
        assert_eq!(server.get("GET /secret.txt HTTP/1.1\r\nHost: x\r\n\r\n").status, 403);
    }
    assert_eq!(server.get("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
}

#[test]
fn other_methods_are_405_with_allow() {
    let f = site();
    let server = TestServer::start(&f.root());
    for method in ["POST", "PUT", "DELETE", "PATCH", "TRACE", "BREW"] {
        let r = server.get(&format!("{method} / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("Allow"), Some("GET, HEAD, OPTIONS"));
    }
}

#[test]
fn bad_requests_get_their_status_and_a_close() {
    let f = site();
    let server = TestServer::start(&f.root());
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(9000));
    let big_head = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "b".repeat(9000));
    let cases: [(&str, u16); 6] = [
        ("GARBAGE\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("GET / HTTP/1.7\r\nHost: x\r\n\r\n", 505),
        (&long_target, 414),
        (&big_head, 431),
    ];
    for (raw, status) in cases {
        let mut s = server.connect();
        s.write_all(raw.as_bytes()).unwrap();
        let mut r = BufReader::new(s);
        let resp = read_response(&mut r, false);
        assert_eq!(resp.status, status, "{:?}", &raw[..raw.len().min(40)]);
        assert_eq!(resp.header("Connection"), Some("close"));
        assert!(closed(r.get_mut()), "connection should close after {status}");
    }
}

#[test]
fn http10_closes_unless_keep_alive_is_asked() {
    let f = site();
    let server = TestServer::start(&f.root());
    let mut s = server.connect();
    s.write_all(b"GET /style.css HTTP/1.0\r\n\r\n").unwrap();
    let all = read_to_close(&mut s);
    assert!(all.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(all.ends_with(b"body{}"));

    let mut s = BufReader::new(server.connect());
    for _ in 0..2 {
        s.get_mut().write_all(b"GET /style.css HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
        let r = read_response(&mut s, false);
        assert_eq!(r.header("Connection"), Some("keep-alive"));
        assert_eq!(r.body, b"body{}");
    }
}

#[test]
fn http11_keeps_alive_until_connection_close() {
    let f = site();
    let server = TestServer::start(&f.root());
    let mut s = BufReader::new(server.connect());
    for i in 0..5 {
        s.get_mut().write_all(b"GET /docs/page.txt HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let r = read_response(&mut s, false);
        assert_eq!((r.status, r.header("Connection")), (200, None), "request {i}");
    }
    s.get_mut().write_all(b"GET /docs/page.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let r = read_response(&mut s, false);
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(closed(s.get_mut()));
}

#[test]
fn three_pipelined_requests_in_one_write_are_answered_in_order() {
    let f = site();
    let server = TestServer::start(&f.root());
    let mut s = server.connect();
    s.write_all(
        b"GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /missing HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /docs/page.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    let mut r = BufReader::new(s);
    assert_eq!(read_response(&mut r, false).body, b"body{}");
    assert_eq!(read_response(&mut r, false).status, 404);
    assert_eq!(read_response(&mut r, false).body, b"plain text");
}

#[test]
fn many_pipelined_requests_with_a_close_at_the_end() {
    let f = site();
    let server = TestServer::start(&f.root());
    let mut s = server.connect();
    let mut batch = b"GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n".repeat(500);
    batch.extend_from_slice(b"GET /docs/page.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(&batch).unwrap();
    let mut r = BufReader::new(s);
    for _ in 0..500 {
        assert_eq!(read_response(&mut r, false).body, b"body{}");
    }
    assert_eq!(read_response(&mut r, false).body, b"plain text");
    assert!(closed(r.get_mut()));
}

#[test]
fn a_request_written_one_byte_at_a_time_works() {
    let f = site();
    let server = TestServer::start(&f.root());
    let mut s = server.connect();
    s.set_nodelay(true).unwrap();
    for &b in b"GET /docs/page.txt HTTP/1.1\r\nHost: x\r\n\r\n" {
        s.write_all(&[b]).unwrap();
    }
    assert_eq!(read_response(&mut BufReader::new(s), false).body, b"plain text");
}

/// A file much larger than any buffer, compared by digest; the body streams in quanta.
#[test]
fn a_large_file_arrives_byte_exact() {
    let f = site();
    let big: Vec<u8> = (0..64u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    f.file("big.bin", &big);
    let server = TestServer::start(&f.root());
    let mut s = server.connect();
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let r = read_response(&mut BufReader::with_capacity(1 << 20, s), false);
    assert_eq!(r.body.len(), big.len());
    assert_eq!(digest(&r.body), digest(&big));
}

#[test]
fn a_client_that_half_closes_still_gets_the_whole_response() {
    let f = site();
    let big = vec![7u8; 3 << 20];
    f.file("big.bin", &big);
    let server = TestServer::start(&f.root());
    let mut s = server.connect();
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let all = read_to_close(&mut s);
    assert!(all.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(all.ends_with(&big[..1000]));
    let head_len = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(all.len() - head_len, big.len());
}

#[test]
fn two_hundred_concurrent_clients() {
    let f = site();
    let body: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    f.file("medium.bin", &body);
    let server = TestServer::start(&f.root());
    let addr = server.addr;
    let clients: Vec<_> = (0..200)
        .map(|i| {
            let body = body.clone();
            std::thread::spawn(move || {
                let mut s = BufReader::new(connect(addr));
                for j in 0..3 {
                    let path = if (i + j) % 2 == 0 { "/medium.bin" } else { "/style.css" };
                    s.get_mut().write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).unwrap();
                    let r = read_response(&mut s, false);
                    assert_eq!(r.status, 200);
                    if path == "/medium.bin" {
                        assert_eq!(r.body, body);
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(server.stop().requests, 600);
}

#[test]
fn a_client_reset_mid_download_leaves_the_server_serving() {
    let f = site();
    f.file("big.bin", vec![1u8; 16 << 20]);
    let server = TestServer::start(&f.root());
    for _ in 0..5 {
        let mut s = server.connect();
        s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut some = [0u8; 65536];
        s.read_exact(&mut some).unwrap();
        drop(s); // Unread data in our receive queue: the kernel answers with a reset.
    }
    assert_eq!(server.get("GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
}

#[test]
fn traversal_never_reaches_a_file_outside_the_root() {
    let f = site();
    f.outside("secret.txt", "TOP-SECRET");
    let server = TestServer::start(&f.root());
    for target in
        ["/../secret.txt", "/%2e%2e/secret.txt", "/docs/../../secret.txt", "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt"]
    {
        let r = server.get(&format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(r.status == 400 || r.status == 404, "{target}: {}", r.status);
        assert!(!r.text().contains("TOP-SECRET"), "{target} leaked the secret");
    }
}

#[test]
fn summary_counts_connections_requests_and_bytes() {
    let f = site();
    let server = TestServer::start(&f.root());
    let a = server.get("GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n");
    let b = server.get("GET /docs/page.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    let s = server.stop();
    assert_eq!((s.connections, s.requests), (2, 2));
    assert_eq!(s.bytes_sent as usize, a.head.len() + 4 + a.body.len() + b.head.len() + 4 + b.body.len());
}

mod binary {
    use super::*;

    #[test]
    fn serves_prints_its_url_and_stops_cleanly_on_sigint() {
        let f = site();
        let root = f.root();
        let p = Process::spawn(&[root.to_str().unwrap(), "--port", "0", "--bind", "127.0.0.1"]);
        assert!(p.first_line.contains(root.to_str().unwrap()), "{}", p.first_line);
        let addr = p.addr.expect("URL in the first line");
        assert_ne!(addr.port(), 0);
        let mut s = connect(addr);
        s.write_all(b"GET /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        assert!(read_to_close(&mut s).ends_with(b"body{}"));
        p.signal(2);
        let (code, rest) = p.wait(Duration::from_secs(10));
        assert_eq!(code, Some(0));
        assert!(rest.contains("1 connections, 1 requests"), "{rest}");
    }

    #[test]
    fn ipv6_loopback_works() {
        let f = site();
        let p = Process::spawn(&[f.root().to_str().unwrap(), "--port", "0", "--bind", "::1"]);
        let Some(addr) = p.addr else {
            eprintln!("skipped: no IPv6 here ({})", p.first_line);
            return;
        };
        let mut s = connect(addr);
        s.write_all(b"GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(read_response(&mut BufReader::new(s), false).body, b"body{}");
    }

    #[test]
    fn start_up_failures_are_one_line_and_a_distinct_status() {
        let f = site();
        let root = f.root();
        let root = root.to_str().unwrap();
        let run = |args: &[&str]| {
            let (code, _, stderr) = run_to_exit(args);
            (code, stderr)
        };
        let (code, err) = run(&[root, "--port", "nope"]);
        assert_eq!(code, Some(2));
        assert!(err.contains("--port") && err.lines().count() == 1, "{err}");
        let (code, err) = run(&["/definitely/not/here"]);
        assert_eq!(code, Some(3));
        assert!(err.contains("/definitely/not/here") && err.lines().count() == 1, "{err}");
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port().to_string();
        let (code, err) = run(&[root, "--bind", "127.0.0.1", "--port", &port]);
        assert_eq!(code, Some(4));
        assert!(err.contains("in use") && err.lines().count() == 1, "{err}");
        let (code, out) = run(&["--version"]);
        assert_eq!(code, Some(0));
        assert!(out.is_empty());
        let (_, help, _) = run_to_exit(&["--help"]);
        for flag in ["--port", "--bind", "--workers", "--max-connections", "--access-log", "--drain-timeout"] {
            assert!(help.contains(flag), "--help lacks {flag}");
        }
    }
}

/// A site with more files than the open-file cache holds (4096 entries), crawled twice
/// with the cache trusted: every file comes back whole, whatever was evicted.
#[test]
fn a_site_larger_than_the_file_cache_is_served_whole() {
    let f = Fixture::new();
    let count = 5000;
    for i in 0..count {
        // A few large files too, so that cached descriptors are bounded as well.
        let len = if i % 500 == 0 { 40_000 } else { 10 + i % 97 };
        f.file(&format!("d{}/f{i}.txt", i % 50), vec![b'a' + (i % 26) as u8; len]);
    }
    let server = TestServer::with(&f.root(), |c| c.cache_ttl = Duration::from_secs(3600));
    let mut s = BufReader::new(server.connect());
    for round in 0..2 {
        for chunk in (0..count).collect::<Vec<_>>().chunks(100) {
            let batch: String =
                chunk.iter().map(|i| format!("GET /d{}/f{i}.txt HTTP/1.1\r\nHost: x\r\n\r\n", i % 50)).collect();
            s.get_mut().write_all(batch.as_bytes()).unwrap();
            for &i in chunk {
                let r = read_response(&mut s, false);
                let len = if i % 500 == 0 { 40_000 } else { 10 + i % 97 };
                assert_eq!((r.status, r.body.len()), (200, len), "round {round}, file {i}");
                assert!(r.body.iter().all(|&b| b == b'a' + (i % 26) as u8), "round {round}, file {i}");
            }
        }
    }
}

/// A `Connection: close` response with more client bytes behind it: closing with unread
/// input would reset the connection and could destroy the end of the response, so the
/// server half-closes and drains instead. The body must arrive whole, then a clean EOF.
#[test]
fn a_closing_response_survives_bytes_the_client_sent_after_it() {
    let f = site();
    let big: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    f.file("big.bin", &big);
    let server = TestServer::start(&f.root());
    for late in [false, true] {
        let mut s = server.connect();
        let second = b"GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n";
        s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        if !late {
            s.write_all(second).unwrap();
        }
        let mut r = BufReader::new(s);
        let mut line = String::new();
        std::io::BufRead::read_line(&mut r, &mut line).unwrap();
        if late {
            r.get_mut().write_all(second).unwrap();
        }
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).expect("a clean close, not a reset");
        let head_len = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(rest.len() - head_len, big.len(), "late={late}");
        assert_eq!(digest(&rest[head_len..]), digest(&big));
    }
}

/// `--spa` answers extension-less routes, but a dotfile stays hidden (404).
#[test]
fn spa_does_not_unhide_dotfiles() {
    let f = site();
    f.file(".env", "SECRET=1");
    let server = TestServer::with(&f.root(), |c| c.spa = true);
    assert_eq!(server.get("GET /some/route HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
    for target in ["/.env", "/%2eenv", "/a/.hidden"] {
        let r = server.get(&format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert_eq!(r.status, 404, "{target}");
        assert!(!r.text().contains("SECRET"));
    }
}

/// A listing describes symlinks by their targets only when those stay inside the folder:
/// the size and date of a file outside the root never show.
#[test]
fn listings_do_not_describe_files_outside_the_root() {
    let f = site();
    let outside = f.outside("secret.bin", vec![0u8; 12_345]);
    std::os::unix::fs::symlink(&outside, f.root().join("docs/escape")).unwrap();
    std::os::unix::fs::symlink("page.txt", f.root().join("docs/inside")).unwrap();
    let server = TestServer::with(&f.root(), |c| c.listing = true);
    std::fs::remove_file(f.root().join("docs/index.html")).unwrap();
    let r = server.get("GET /docs/ HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n");
    assert_eq!(r.status, 200);
    let json = r.text();
    assert!(json.contains("\"inside\"") && !json.contains("escape") && !json.contains("12345"), "{json}");
}

/// Extra headers go on every successful response, the 204 of OPTIONS included.
#[test]
fn options_carries_the_configured_headers() {
    let f = site();
    let server = TestServer::with(&f.root(), |c| {
        c.cache_control = Some("max-age=60".into());
        c.headers.push(("Access-Control-Allow-Origin".into(), "*".into()));
    });
    let r = server.get("OPTIONS /style.css HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(r.header("Cache-Control"), Some("max-age=60"));
}

/// The access log's byte count is what really left: a download abandoned part-way logs
/// less than the file, a complete one logs all of it, a HEAD logs `-`.
#[test]
fn the_access_log_counts_bytes_actually_sent() {
    let f = site();
    f.file("big.bin", vec![5u8; 16 << 20]);
    let log_path = f.path.join("access.log");
    let server = TestServer::with(&f.root(), |c| c.access_log = Some(log_path.clone()));
    let mut s = server.connect();
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut some = [0u8; 65536];
    s.read_exact(&mut some).unwrap();
    drop(s);
    let css = server.get("GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(css.status, 200);
    assert_eq!(server.get("HEAD /style.css HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
    server.stop();
    let log = std::fs::read_to_string(&log_path).unwrap();
    let bytes_of = |needle: &str| -> String {
        let line = log.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no {needle:?} in {log}"));
        line.split("\" ").nth(1).unwrap().split(' ').nth(1).unwrap().to_string()
    };
    let big: u64 = bytes_of("GET /big.bin").parse().unwrap();
    assert!(big < 16 << 20, "an abandoned download logged {big} bytes");
    assert_eq!(bytes_of("GET /style.css"), css.body.len().to_string());
    assert_eq!(bytes_of("HEAD /style.css"), "-");
}
