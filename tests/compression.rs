//! Compression on the fly against the real server: every coding decoded byte-exact (the
//! crates' decoders, and `curl --compressed` when it is installed), negotiation (q-values,
//! `identity;q=0`, `*;q=0`, unknown and hostile values), an ETag per coding and level with
//! 304 and If-Range per coding, a changed file, the memory budget, the first request's
//! behaviour (a small file waits for its coding, a large one is identity first), sidecars
//! first, and what is never compressed. No sleeps as synchronisation: polls have deadlines.
mod common;

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use common::*;

/// How long a background coding may take in a debug build before a test gives up.
const WITHIN: Duration = Duration::from_secs(60);

/// Compressible text of `len` bytes, not trivially so (so that levels differ in size).
fn text(len: usize, seed: u64) -> Vec<u8> {
    let words = ["static ", "file ", "server ", "event ", "loop ", "pool ", "gzip ", "brotli ", "zstd ", "\n"];
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        out.extend_from_slice(words[(rng.next_u64() % words.len() as u64) as usize].as_bytes());
    }
    out.truncate(len);
    out
}

/// Text that compresses about threefold: its codings are well over 16 KiB.
fn numbers(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        out.extend_from_slice(format!("{} ", rng.next_u64() % 100_000).as_bytes());
    }
    out.truncate(len);
    out
}

fn get(addr: std::net::SocketAddr, method: &str, path: &str, fields: &[(&str, &str)]) -> Response {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for (name, value) in fields {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    send_raw(addr, raw.as_bytes()).0
}

fn accept(addr: std::net::SocketAddr, path: &str, coding: &str) -> Response {
    get(addr, "GET", path, &[("Accept-Encoding", coding)])
}

/// The body decoded by its `Content-Encoding` (identity when there is none).
fn decode(r: &Response) -> Vec<u8> {
    let mut out = Vec::new();
    match r.header("Content-Encoding") {
        None => out = r.body.clone(),
        Some("gzip") => {
            flate2::read::GzDecoder::new(&r.body[..]).read_to_end(&mut out).unwrap();
        }
        Some("br") => brotli::BrotliDecompress(&mut &r.body[..], &mut out).unwrap(),
        Some("zstd") => out = zstd::decode_all(&r.body[..]).unwrap(),
        Some(other) => panic!("unexpected coding {other}"),
    }
    out
}

fn etag(r: &Response) -> String {
    r.header("ETag").expect("an ETag").to_string()
}

/// Polls until `path` in `coding` is served at its best level (ETag ending in `best`).
fn settled(addr: std::net::SocketAddr, path: &str, coding: &str, best: &str) -> Response {
    let mut last = None;
    let ok = eventually(WITHIN, || {
        let r = accept(addr, path, coding);
        let done = etag(&r).ends_with(&format!("-{best}\""));
        last = Some(r);
        done
    });
    let r = last.unwrap();
    assert!(ok, "{path} never reached {best}: {}", r.head);
    r
}

#[test]
fn every_coding_decodes_byte_exact_and_head_says_the_same() {
    let fx = Fixture::new();
    let data = text(20_000, 1);
    fx.file("app.js", &data);
    let server = TestServer::start(&fx.root());
    for coding in ["gzip", "br", "zstd"] {
        let r = accept(server.addr, "/app.js", coding);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Encoding"), Some(coding), "a small file's first response is coded");
        assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
        assert!(r.body.len() < data.len());
        assert_eq!(decode(&r), data, "{coding}");
        let head = get(server.addr, "HEAD", "/app.js", &[("Accept-Encoding", coding)]);
        assert_eq!(head.header("Content-Encoding"), Some(coding));
        assert_eq!(head.header("Vary"), Some("Accept-Encoding"));
        assert!(head.body.is_empty());
        // The same level (or a later, best one): then the same length for the same tag.
        if head.header("ETag") == r.header("ETag") {
            assert_eq!(head.header("Content-Length"), r.header("Content-Length"));
        }
    }
    let plain = get(server.addr, "GET", "/app.js", &[]);
    assert_eq!(plain.header("Content-Encoding"), None);
    assert_eq!(plain.header("Vary"), Some("Accept-Encoding"), "identity responses say Vary too");
    assert_eq!(plain.body, data);
    server.stop();
}

/// A coding over 16 KiB is written from memory after its head (never copied into the
/// output buffer): pipelined on one connection, every response arrives whole and in order.
#[test]
fn large_codings_pipelined_arrive_whole_and_in_order() {
    let fx = Fixture::new();
    let data = numbers(100_000, 3);
    fx.file("app.js", &data);
    let server = TestServer::start(&fx.root());
    let codings = ["gzip", "br", "zstd", "gzip"];
    let raw: String =
        codings.iter().map(|c| format!("GET /app.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: {c}\r\n\r\n")).collect();
    let (first, mut rest) = send_raw(server.addr, raw.as_bytes());
    let mut responses = vec![first];
    responses.extend((1..codings.len()).map(|_| read_response(&mut rest, false)));
    for (r, coding) in responses.iter().zip(codings) {
        assert_eq!((r.status, r.header("Content-Encoding")), (200, Some(coding)));
        assert!(r.body.len() > 16 * 1024, "{coding}: {} bytes", r.body.len());
        assert!(decode(r) == data, "{coding} decodes to the file");
    }
    server.stop();
}

#[test]
fn curl_compressed_decodes_every_coding() {
    if !Command::new("curl").arg("--version").output().is_ok_and(|o| o.status.success()) {
        eprintln!("curl missing: skipped");
        return;
    }
    let fx = Fixture::new();
    let data = text(30_000, 2);
    fx.file("page.html", &data);
    let server = TestServer::start(&fx.root());
    let url = format!("http://{}/page.html", server.addr);
    // HTTP/1.1, and HTTP/2 with prior knowledge (a stream waits for its coding the same way).
    for http in ["--http1.1", "--http2-prior-knowledge"] {
        for coding in ["gzip", "br", "zstd", "gzip, deflate, br, zstd"] {
            let out = Command::new("curl")
                .args(["--silent", "--show-error", "--max-time", "20", http, "--compressed", "-H"])
                .arg(format!("Accept-Encoding: {coding}"))
                .arg(&url)
                .output()
                .unwrap();
            assert!(out.status.success(), "curl {http} {coding}: {}", String::from_utf8_lossy(&out.stderr));
            assert_eq!(out.stdout, data, "curl {http} --compressed with {coding}");
        }
    }
    server.stop();
}

#[test]
fn negotiation_q_values_and_hostile_values() {
    let fx = Fixture::new();
    let data = text(10_000, 3);
    fx.file("a.txt", &data);
    let server = TestServer::start(&fx.root());
    let long_list = "x-unknown;q=0.5, ".repeat(300) + "gzip";
    let cases: Vec<(String, Option<&str>)> = vec![
        ("gzip;q=0.2, br;q=0.1".into(), Some("gzip")),
        ("br;q=0.5, zstd;q=0.9".into(), Some("zstd")),
        ("gzip, br, zstd".into(), Some("br")),
        ("br;q=0, gzip;q=0.001".into(), Some("gzip")),
        ("*".into(), Some("br")),
        ("*;q=0.5, br;q=0".into(), Some("zstd")),
        // Nothing acceptable but identity refused: identity anyway, as for sidecars
        // (RFC 9110 section 12.5.3 allows it; no 406).
        ("identity;q=0".into(), None),
        ("identity;q=0, deflate".into(), None),
        ("*;q=0".into(), None),
        ("gzip;q=0, br;q=0, zstd;q=0".into(), None),
        ("identity".into(), None),
        ("deflate, compress, x-foo".into(), None),
        ("gzip;q=0.5, identity;q=1".into(), None),
        // Hostile: bad q-values are q=0, junk is ignored, a long list is fine.
        ("gzip;q=2".into(), None),
        ("gzip;q=-1, br;q=0.5.5, zstd;q=1e3".into(), None),
        (",,,;;;==, ,gzip,,".into(), Some("gzip")),
        ("GZIP;Q=1".into(), Some("gzip")),
        (long_list, Some("gzip")),
        ("x".repeat(3000), None),
    ];
    for (value, want) in &cases {
        let r = accept(server.addr, "/a.txt", value);
        assert_eq!(r.status, 200, "{value:.60}");
        assert_eq!(r.header("Content-Encoding"), *want, "{value:.60}");
        assert_eq!(r.header("Vary"), Some("Accept-Encoding"), "{value:.60}");
        assert_eq!(decode(&r), data, "{value:.60}");
    }
    server.stop();
}

#[test]
fn etags_per_coding_and_level_304_and_if_range() {
    let fx = Fixture::new();
    let data = text(40_000, 4);
    fx.file("doc.txt", &data);
    let server = TestServer::start(&fx.root());
    let identity = etag(&get(server.addr, "GET", "/doc.txt", &[]));
    let first = accept(server.addr, "/doc.txt", "gzip");
    let fast = etag(&first);
    assert!(fast.ends_with("-gzip4\""), "the first response is the fast level: {fast}");
    // The best level replaces it in the background, under its own ETag.
    let best = settled(server.addr, "/doc.txt", "gzip", "gzip9");
    assert_eq!(decode(&best), data);
    let mut tags = vec![identity.clone(), fast.clone(), etag(&best)];
    for (coding, level) in [("br", "br11"), ("zstd", "zstd19")] {
        tags.push(etag(&settled(server.addr, "/doc.txt", coding, level)));
    }
    let mut unique = tags.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), tags.len(), "one ETag per coding and level: {tags:?}");

    for (coding, level) in [("gzip", "gzip9"), ("br", "br11"), ("zstd", "zstd19")] {
        let full = settled(server.addr, "/doc.txt", coding, level);
        let tag = etag(&full);
        // 304 for its own tag, with its coding; 200 for another coding's.
        let r = get(server.addr, "GET", "/doc.txt", &[("Accept-Encoding", coding), ("If-None-Match", &tag)]);
        assert_eq!(r.status, 304, "{coding}");
        assert_eq!(r.header("ETag"), Some(tag.as_str()));
        assert_eq!(r.header("Content-Encoding"), Some(coding));
        assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
        let r = get(server.addr, "GET", "/doc.txt", &[("Accept-Encoding", coding), ("If-None-Match", &identity)]);
        assert_eq!(r.status, 200);
        // If-Range with its tag: a range of the coded bytes; with another tag: all of it.
        let ranged = [("Accept-Encoding", coding), ("Range", "bytes=5-14"), ("If-Range", tag.as_str())];
        let r = get(server.addr, "GET", "/doc.txt", &ranged);
        assert_eq!(r.status, 206, "{coding}");
        assert_eq!(r.header("Content-Encoding"), Some(coding));
        assert_eq!(r.body, full.body[5..15]);
        assert_eq!(r.header("Content-Range"), Some(format!("bytes 5-14/{}", full.body.len()).as_str()));
        let stale = [("Accept-Encoding", coding), ("Range", "bytes=5-14"), ("If-Range", fast.as_str())];
        let r = get(server.addr, "GET", "/doc.txt", &stale);
        assert_eq!(r.status, 200, "{coding}: another representation's tag");
        assert_eq!(decode(&r), data);
    }
    server.stop();
}

#[test]
fn a_changed_file_gets_new_bytes_and_a_new_etag() {
    let fx = Fixture::new();
    fx.file("c.css", text(5_000, 5));
    let server = TestServer::start(&fx.root());
    let before = accept(server.addr, "/c.css", "br");
    assert_eq!(before.header("Content-Encoding"), Some("br"));
    let new = text(7_000, 6);
    fx.file("c.css", &new);
    let after = accept(server.addr, "/c.css", "br");
    assert_eq!(after.header("Content-Encoding"), Some("br"));
    assert_ne!(etag(&after), etag(&before));
    assert_eq!(decode(&after), new);
    server.stop();
}

#[test]
fn many_files_over_a_small_memory_budget_are_all_served_right() {
    let fx = Fixture::new();
    let files: Vec<Vec<u8>> = (0..40).map(|i| text(20_000 + i, 100 + i as u64)).collect();
    for (i, data) in files.iter().enumerate() {
        fx.file(&format!("f{i}.json"), data);
    }
    let server = TestServer::with(&fx.root(), |c| c.compress.memory = 32 * 1024);
    for _ in 0..2 {
        for (i, data) in files.iter().enumerate() {
            let r = accept(server.addr, &format!("/f{i}.json"), "gzip, br");
            assert_eq!(decode(&r), *data, "f{i}.json");
        }
    }
    server.stop();
}

#[test]
fn a_large_file_is_identity_first_and_compressed_later() {
    let fx = Fixture::new();
    let data = text(600 * 1024, 7);
    fx.file("big.txt", &data);
    let server = TestServer::start(&fx.root());
    let first = accept(server.addr, "/big.txt", "zstd");
    assert_eq!(first.header("Content-Encoding"), None, "identity while its coding is made");
    assert_eq!(first.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(first.body, data);
    let mut coded = None;
    let ok = eventually(WITHIN, || {
        let r = accept(server.addr, "/big.txt", "zstd");
        let done = r.header("Content-Encoding") == Some("zstd");
        coded = Some(r);
        done
    });
    assert!(ok, "never compressed");
    assert_eq!(decode(&coded.unwrap()), data);
    server.stop();
}

#[test]
fn a_sidecar_wins_over_a_computed_coding() {
    let fx = Fixture::new();
    let data = text(8_000, 8);
    fx.file("s.js", &data);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
    std::io::Write::write_all(&mut gz, &data).unwrap();
    fx.file("s.js.gz", gz.finish().unwrap());
    let server = TestServer::start(&fx.root());
    let r = accept(server.addr, "/s.js", "br, gzip");
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert!(etag(&r).ends_with("-gzip\""), "the sidecar's tag: {}", etag(&r));
    assert_eq!(decode(&r), data);
    // A coding it has no sidecar for is computed.
    let r = accept(server.addr, "/s.js", "br");
    assert_eq!(r.header("Content-Encoding"), Some("br"));
    assert_eq!(decode(&r), data);
    server.stop();
}

#[test]
fn never_compressed_types_sizes_or_when_off() {
    let fx = Fixture::new();
    fx.file("p.png", vec![0u8; 10_000]);
    fx.file("a.zip", vec![0u8; 10_000]);
    fx.file("tiny.txt", text(200, 9));
    fx.file("big.txt", text(5_000, 10));
    let server = TestServer::start(&fx.root());
    for path in ["/p.png", "/a.zip", "/tiny.txt"] {
        let r = accept(server.addr, path, "gzip, br, zstd");
        assert_eq!(r.header("Content-Encoding"), None, "{path}");
        assert_eq!(r.header("Vary"), None, "{path}");
    }
    server.stop();
    let server = TestServer::with(&fx.root(), |c| c.compress.on = false);
    let r = accept(server.addr, "/big.txt", "gzip, br, zstd");
    assert_eq!((r.header("Content-Encoding"), r.header("Vary")), (None, None));
    server.stop();
    // Above --compress-max: identity, and nothing is made later.
    let server = TestServer::with(&fx.root(), |c| c.compress.max = 4_000);
    let r = accept(server.addr, "/big.txt", "gzip");
    assert_eq!((r.header("Content-Encoding"), r.header("Vary")), (None, None));
    server.stop();
}

#[test]
fn a_file_that_grows_past_the_maximum_is_no_longer_compressed() {
    let fx = Fixture::new();
    fx.file("g.txt", text(5_000, 11));
    let server = TestServer::with(&fx.root(), |c| c.compress.max = 10_000);
    let r = accept(server.addr, "/g.txt", "br");
    assert_eq!(r.header("Content-Encoding"), Some("br"));
    let grown = text(20_000, 12);
    fx.file("g.txt", &grown);
    let r = accept(server.addr, "/g.txt", "br");
    assert_eq!((r.header("Content-Encoding"), r.header("Vary")), (None, None));
    assert_eq!(r.body, grown);
    server.stop();
}

#[test]
fn trace_says_which_coding_and_why() {
    let fx = Fixture::new();
    fx.file("t.txt", text(3_000, 13));
    fx.file("t.png", vec![0u8; 3_000]);
    let root = fx.root();
    let p = Process::spawn(&[root.to_str().unwrap(), "--port", "0", "--bind", "127.0.0.1", "--trace"]);
    let addr = p.addr.expect("the address on the first line");
    assert_eq!(accept(addr, "/t.txt", "gzip").header("Content-Encoding"), Some("gzip"));
    assert_eq!(accept(addr, "/t.txt", "gzip").header("Content-Encoding"), Some("gzip"));
    assert_eq!(accept(addr, "/t.txt", "identity").header("Content-Encoding"), None);
    assert_eq!(accept(addr, "/t.png", "gzip").header("Content-Encoding"), None);
    p.signal(libc::SIGTERM);
    let (code, err) = p.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{err}");
    for said in [
        "job: compress (gzip, Best level)",
        "encoding: computed, best level",
        "encoding: identity: no coding accepted",
        "encoding: identity: not compressed on the fly",
    ] {
        assert!(err.contains(said), "--trace does not say {said:?}:\n{err}");
    }
}
