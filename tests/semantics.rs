//! HTTP semantics of served files, checked byte by byte on raw sockets against RFC 9110:
//! validators, conditional requests, ranges (single and multipart), folders and redirects,
//! error pages, media types, pre-compressed sidecars, configured headers and OPTIONS, and a
//! few checks through `curl` when it is installed.
mod common;

use std::fs::OpenOptions;
use std::io::{BufReader, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;

/// Sun, 13 Sep 2020 12:26:40 GMT: a fixed modification time so dates are predictable.
const T0: u64 = 1_600_000_000;

fn at(secs: u64, nanos: u32) -> SystemTime {
    UNIX_EPOCH + Duration::new(secs, nanos)
}

fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

/// Sets a file's modification time (to the nanosecond, where the file system keeps it).
fn set_mtime(path: &Path, t: SystemTime) {
    OpenOptions::new().write(true).open(path).unwrap().set_modified(t).unwrap();
}

/// A request head: `METHOD target HTTP/1.1`, `Host`, the given fields, blank line.
fn request(method: &str, target: &str, fields: &[(&str, &str)]) -> String {
    let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: test\r\n");
    for (name, value) in fields {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    raw
}

/// Sends one request with `Connection: close` on a fresh connection and reads the response;
/// fails unless the server then closes with no byte beyond the declared body, so every
/// caller also checks the response's framing.
fn fetch(srv: &TestServer, method: &str, target: &str, fields: &[(&str, &str)]) -> Response {
    let mut all = fields.to_vec();
    all.push(("Connection", "close"));
    let raw = request(method, target, &all);
    let mut s = srv.connect();
    s.write_all(raw.as_bytes()).unwrap();
    let mut reader = BufReader::new(s);
    let response = read_response(&mut reader, method == "HEAD");
    let rest = read_to_close(&mut reader);
    assert!(rest.is_empty(), "{method} {target}: {} bytes after the response: {:?}", rest.len(), lossy(&rest));
    response
}

fn get(srv: &TestServer, target: &str, fields: &[(&str, &str)]) -> Response {
    fetch(srv, "GET", target, fields)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned()
}

/// The header's value, failing with the whole head when it is missing.
fn must<'r>(r: &'r Response, name: &str) -> &'r str {
    r.header(name).unwrap_or_else(|| panic!("no {name} in\n{}", r.head))
}

/// How many times a header field occurs.
fn count(r: &Response, name: &str) -> usize {
    r.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).count()
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the one format a sender may use.
fn assert_imf_fixdate(value: &str) {
    let parsed = httpdate::parse_http_date(value).unwrap_or_else(|_| panic!("not an HTTP-date: {value:?}"));
    assert_eq!(httpdate::fmt_http_date(parsed), value, "not in IMF-fixdate form");
}

/// 1 MiB of bytes that differ at every offset modulo 251, so a shifted range is noticed.
fn big_bytes() -> Vec<u8> {
    (0..1u32 << 20).map(|i| (i % 251) as u8 ^ (i >> 12) as u8).collect()
}

// ---------------------------------------------------------------------------------------
// 1. Validators
// ---------------------------------------------------------------------------------------

/// Every 200 of a file carries an IMF-fixdate `Last-Modified` equal to the file's mtime
/// (to the second) and a quoted strong `ETag`.
#[test]
fn file_responses_carry_validators() {
    let fx = Fixture::new();
    let p = fx.file("a.txt", "hello");
    set_mtime(&p, at(T0, 123_456_789));
    fx.file("b.png", [0x89, b'P', b'N', b'G']);
    let srv = TestServer::start(&fx.root());
    for target in ["/a.txt", "/b.png"] {
        for method in ["GET", "HEAD"] {
            let r = fetch(&srv, method, target, &[]);
            assert_eq!(r.status, 200, "{method} {target}");
            assert_imf_fixdate(must(&r, "Last-Modified"));
            assert_imf_fixdate(must(&r, "Date"));
            let etag = must(&r, "ETag");
            assert!(etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'), "strong ETag: {etag}");
            assert_eq!(count(&r, "ETag"), 1);
            let get_len = get(&srv, target, &[]).body.len().to_string();
            assert_eq!(must(&r, "Content-Length"), get_len, "{method} {target}: the GET's length");
        }
    }
    let r = get(&srv, "/a.txt", &[]);
    assert_eq!(must(&r, "Last-Modified"), "Sun, 13 Sep 2020 12:26:40 GMT");
}

/// The ETag changes with the size alone, with the mtime alone, and with a change of a
/// single nanosecond that leaves `Last-Modified` the same; equal files give equal tags.
/// Each file state gets a fresh server, so no metadata cache can blur the comparison.
#[test]
fn etag_follows_size_and_mtime_to_the_nanosecond() {
    let fx = Fixture::new();
    let p = fx.file("f.txt", "12345");
    let response = || get(&TestServer::start(&fx.root()), "/f.txt", &[]);
    let etag = || must(&response(), "ETag").to_string();

    set_mtime(&p, at(T0, 500));
    let base = etag();
    assert_eq!(etag(), base, "an unchanged file keeps its ETag");

    set_mtime(&p, at(T0, 501));
    let meta = std::fs::metadata(&p).unwrap().modified().unwrap();
    if meta != at(T0, 501) {
        eprintln!("SKIP nanosecond part: the file system does not keep nanoseconds ({meta:?})");
    } else {
        let r = response();
        assert_ne!(must(&r, "ETag"), base, "a 1 ns mtime change must change the ETag");
        assert_eq!(must(&r, "Last-Modified"), http_date(at(T0, 0)), "same second, same Last-Modified");
    }

    set_mtime(&p, at(T0 + 1, 500));
    assert_ne!(etag(), base, "a 1 s mtime change must change the ETag");

    std::fs::write(&p, "123456").unwrap();
    set_mtime(&p, at(T0, 500));
    assert_ne!(etag(), base, "a size change at the same mtime must change the ETag");

    std::fs::write(&p, "54321").unwrap();
    set_mtime(&p, at(T0, 500));
    assert_eq!(etag(), base, "same size and mtime: same ETag (no inode in it)");
}

/// A modification time in the future is not advertised: Last-Modified is at most the
/// response's Date (RFC 9110 section 8.8.2.1, a MUST).
#[test]
fn future_mtime_is_not_advertised() {
    let fx = Fixture::new();
    let p = fx.file("future.txt", "from tomorrow");
    set_mtime(&p, SystemTime::now() + Duration::from_secs(86_400));
    let srv = TestServer::start(&fx.root());
    let r = get(&srv, "/future.txt", &[]);
    assert_eq!(r.status, 200);
    let date = httpdate::parse_http_date(must(&r, "Date")).unwrap();
    let modified = httpdate::parse_http_date(must(&r, "Last-Modified")).unwrap();
    assert!(modified <= date, "Last-Modified {} is after Date {}", must(&r, "Last-Modified"), must(&r, "Date"));
}

// ---------------------------------------------------------------------------------------
// 2. Conditional requests
// ---------------------------------------------------------------------------------------

/// A fixture with `c.txt` (mtime T0 + 0.9 s, so Last-Modified says T0) and `next.txt`,
/// and the ETag of `c.txt`.
fn conditional_site() -> (Fixture, TestServer, String) {
    let fx = Fixture::new();
    let p = fx.file("c.txt", "conditional body\n");
    set_mtime(&p, at(T0, 900_000_000));
    fx.file("next.txt", "the next response\n");
    let srv = TestServer::start(&fx.root());
    let etag = must(&get(&srv, "/c.txt", &[]), "ETag").to_string();
    (fx, srv, etag)
}

/// Checks a 304: validators and Date present, no body, and any Content-Length equal to
/// the 200's (RFC 9110 section 15.4.5).
fn assert_not_modified(r: &Response, etag: &str) {
    assert_eq!(r.status, 304, "{}", r.head);
    assert_eq!(must(r, "ETag"), etag);
    assert_eq!(must(r, "Last-Modified"), http_date(at(T0, 0)));
    assert_imf_fixdate(must(r, "Date"));
    if let Some(len) = r.header("Content-Length") {
        assert_eq!(len, "17", "a 304's Content-Length must be the 200's");
    }
    assert!(r.header("Transfer-Encoding").is_none());
}

/// If-None-Match with the exact tag, its weak form, a list holding it, or `*` gives 304
/// for GET and HEAD; no body bytes follow it: a request pipelined behind it is answered
/// correctly on the same connection.
#[test]
fn if_none_match_gives_304_without_body() {
    let (_fx, srv, etag) = conditional_site();
    let weak = format!("W/{etag}");
    let list = format!("\"nope\", {etag} , W/\"other\"");
    for value in [etag.as_str(), weak.as_str(), list.as_str(), "*"] {
        for method in ["GET", "HEAD"] {
            let mut raw = request(method, "/c.txt", &[("If-None-Match", value)]);
            raw.push_str(&request("GET", "/next.txt", &[]));
            let mut s = srv.connect();
            s.write_all(raw.as_bytes()).unwrap();
            let mut reader = BufReader::new(s);
            let r = read_response(&mut reader, method == "HEAD");
            assert_not_modified(&r, &etag);
            let next = read_response(&mut reader, false);
            assert_eq!(next.status, 200, "pipelined request after {method} If-None-Match: {value}");
            assert_eq!(next.text(), "the next response\n");
        }
    }
}

/// If-None-Match that matches nothing is a plain 200 with the body.
#[test]
fn if_none_match_mismatch_gives_200() {
    let (_fx, srv, _etag) = conditional_site();
    for value in ["\"other\"", "W/\"other\", \"x\""] {
        let r = get(&srv, "/c.txt", &[("If-None-Match", value)]);
        assert_eq!(r.status, 200, "If-None-Match: {value}");
        assert_eq!(r.text(), "conditional body\n");
    }
}

/// If-Modified-Since: equal or later date -> 304, earlier -> 200, unparseable -> 200,
/// and ignored when If-None-Match is present (RFC 9110 section 13.1.3). "Equal" is the
/// Last-Modified value the client was given, though the mtime has a fraction of a second.
#[test]
fn if_modified_since() {
    let (_fx, srv, etag) = conditional_site();
    let same = http_date(at(T0, 0));
    let later = http_date(at(T0 + 3600, 0));
    let earlier = http_date(at(T0 - 1, 0));
    for (value, want) in [(same.as_str(), 304), (later.as_str(), 304), (earlier.as_str(), 200), ("garbage", 200)] {
        for method in ["GET", "HEAD"] {
            let r = fetch(&srv, method, "/c.txt", &[("If-Modified-Since", value)]);
            assert_eq!(r.status, want, "{method} If-Modified-Since: {value}");
            if want == 304 {
                assert_not_modified(&r, &etag);
            } else if method == "GET" {
                assert_eq!(r.text(), "conditional body\n");
            }
        }
    }
    // The obsolete formats a recipient must accept (RFC 9110 section 5.6.7).
    for value in ["Sunday, 13-Sep-20 12:26:40 GMT", "Sun Sep 13 12:26:40 2020"] {
        assert_eq!(get(&srv, "/c.txt", &[("If-Modified-Since", value)]).status, 304, "{value}");
    }
    let r = get(&srv, "/c.txt", &[("If-None-Match", "\"other\""), ("If-Modified-Since", &later)]);
    assert_eq!(r.status, 200, "If-Modified-Since must be ignored when If-None-Match is present");
}

/// Preconditions are evaluated before Range (RFC 9110 section 13.2.2): a matching
/// If-None-Match is 304 and a failed If-Match 412 even with a Range; a mismatching
/// If-None-Match leaves the range to be served.
#[test]
fn preconditions_come_before_ranges() {
    let (_fx, srv, etag) = conditional_site();
    let range = ("Range", "bytes=0-3");
    assert_not_modified(&get(&srv, "/c.txt", &[range, ("If-None-Match", &etag)]), &etag);
    assert_eq!(get(&srv, "/c.txt", &[range, ("If-Match", "\"other\"")]).status, 412);
    let r = get(&srv, "/c.txt", &[range, ("If-None-Match", "\"other\"")]);
    assert_eq!((r.status, r.text().as_str()), (206, "cond"));
}

/// If-Match that fails -> 412; If-Unmodified-Since earlier than the mtime -> 412; the
/// passing forms serve the file.
#[test]
fn if_match_and_if_unmodified_since() {
    let (_fx, srv, etag) = conditional_site();
    let weak = format!("W/{etag}");
    for (field, value, want) in [
        ("If-Match", "\"other\"", 412),
        ("If-Match", weak.as_str(), 412), // If-Match uses the strong comparison
        ("If-Match", etag.as_str(), 200),
        ("If-Match", "*", 200),
        ("If-Match", &format!("\"other\", {etag}"), 200),
        ("If-Unmodified-Since", &http_date(at(T0 - 1, 0)), 412),
        ("If-Unmodified-Since", &http_date(at(T0, 0)), 200),
        ("If-Unmodified-Since", &http_date(at(T0 + 60, 0)), 200),
    ] {
        let r = get(&srv, "/c.txt", &[(field, value)]);
        assert_eq!(r.status, want, "{field}: {value}");
        if want == 200 {
            assert_eq!(r.text(), "conditional body\n");
        }
    }
}

// ---------------------------------------------------------------------------------------
// 3. Ranges
// ---------------------------------------------------------------------------------------

/// `digits.txt` = "0123456789" (mtime T0).
fn range_site() -> (Fixture, TestServer) {
    let fx = Fixture::new();
    let p = fx.file("digits.txt", "0123456789");
    set_mtime(&p, at(T0, 0));
    let srv = TestServer::start(&fx.root());
    (fx, srv)
}

/// Single satisfiable ranges: 206, `Content-Range`, `Content-Length` and the exact bytes;
/// an end past the last byte is clamped.
#[test]
fn single_ranges() {
    let (_fx, srv) = range_site();
    let full = get(&srv, "/digits.txt", &[]);
    assert_eq!(must(&full, "Accept-Ranges"), "bytes");
    for (range, content_range, bytes) in [
        ("bytes=0-0", "bytes 0-0/10", "0"),
        ("bytes=0-4", "bytes 0-4/10", "01234"),
        ("bytes=5-", "bytes 5-9/10", "56789"),
        ("bytes=-3", "bytes 7-9/10", "789"),
        ("bytes=-30", "bytes 0-9/10", "0123456789"),
        ("bytes=9-9", "bytes 9-9/10", "9"),
        ("bytes=3-1000", "bytes 3-9/10", "3456789"),
    ] {
        let r = get(&srv, "/digits.txt", &[("Range", range)]);
        assert_eq!(r.status, 206, "Range: {range}");
        assert_eq!(must(&r, "Content-Range"), content_range, "Range: {range}");
        assert_eq!(must(&r, "Content-Length"), bytes.len().to_string());
        assert_eq!(r.text(), bytes, "Range: {range}");
        assert_eq!(must(&r, "Content-Type"), "text/plain; charset=utf-8");
        assert_eq!(must(&r, "ETag"), must(&full, "ETag"));
        // HEAD gets the same head without the bytes.
        let h = fetch(&srv, "HEAD", "/digits.txt", &[("Range", range)]);
        assert_eq!((h.status, must(&h, "Content-Range")), (206, content_range));
    }
}

/// Well-formed but unsatisfiable ranges: 416 with `Content-Range: bytes */LEN`.
#[test]
fn unsatisfiable_ranges() {
    let (_fx, srv) = range_site();
    for range in ["bytes=-0", "bytes=10-", "bytes=10-20", "bytes=100-200, 50-"] {
        let r = get(&srv, "/digits.txt", &[("Range", range)]);
        assert_eq!(r.status, 416, "Range: {range}");
        assert_eq!(must(&r, "Content-Range"), "bytes */10", "Range: {range}");
    }
}

/// A Range field the server cannot use (bad syntax, another unit, more than 16 ranges)
/// is ignored: 200 with the whole file.
#[test]
fn unusable_ranges_are_ignored() {
    let (_fx, srv) = range_site();
    let many = format!("bytes={}", (0..17).map(|i| format!("{}-{}", i % 10, i % 10)).collect::<Vec<_>>().join(","));
    for range in ["bytes=5-2", "items=0-1", "bytes=a-b", "bytes=", "bytes 0-1", many.as_str()] {
        let r = get(&srv, "/digits.txt", &[("Range", range)]);
        assert_eq!(r.status, 200, "Range: {range}");
        assert!(r.header("Content-Range").is_none());
        assert_eq!(r.text(), "0123456789", "Range: {range}");
    }
}

/// One part of a `multipart/byteranges` body.
#[derive(Debug)]
struct Part {
    content_type: String,
    content_range: String,
    bytes: Vec<u8>,
}

/// The boundary parameter of a `multipart/byteranges` Content-Type.
fn boundary(content_type: &str) -> String {
    let (essence, params) = content_type.split_once(';').expect("parameters");
    assert_eq!(essence.trim(), "multipart/byteranges");
    let b = params.trim().strip_prefix("boundary=").expect("boundary=");
    let b = b.trim_matches('"');
    assert!(!b.is_empty() && b.len() <= 70, "boundary {b:?}");
    b.to_string()
}

/// Parses a `multipart/byteranges` body strictly (RFC 2046 section 5.1.1, RFC 9110
/// section 14.6): each part's length comes from its Content-Range, and every byte of the
/// body must be accounted for, so a wrong Content-Length cannot go unnoticed.
fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}");
    let mut pos = 0;
    // An optional CRLF may precede the first delimiter.
    if body.starts_with(b"\r\n") {
        pos = 2;
    }
    let mut parts = Vec::new();
    loop {
        assert!(
            body[pos..].starts_with(delimiter.as_bytes()),
            "delimiter expected at {pos}: {:?}",
            lossy(&body[pos..])
        );
        pos += delimiter.len();
        if body[pos..].starts_with(b"--") {
            let epilogue = &body[pos + 2..];
            assert!(epilogue.is_empty() || epilogue == b"\r\n", "bytes after the close delimiter: {epilogue:?}");
            return parts;
        }
        assert!(body[pos..].starts_with(b"\r\n"), "CRLF after the delimiter at {pos}");
        pos += 2;
        let head_len =
            body[pos..].windows(4).position(|w| w == b"\r\n\r\n").expect("end of a part's header fields") + 2;
        let head = std::str::from_utf8(&body[pos..pos + head_len]).unwrap();
        pos += head_len + 2;
        let mut content_type = None;
        let mut content_range = None;
        for line in head.split("\r\n").filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':').expect("part header field");
            match name.to_ascii_lowercase().as_str() {
                "content-type" => content_type = Some(value.trim().to_string()),
                "content-range" => content_range = Some(value.trim().to_string()),
                other => panic!("unexpected part field {other}"),
            }
        }
        let content_range = content_range.expect("part Content-Range");
        let (first, last) = content_range
            .strip_prefix("bytes ")
            .and_then(|r| r.split_once('/'))
            .and_then(|(r, _)| r.split_once('-'))
            .expect("bytes a-b/len");
        let len = last.parse::<usize>().unwrap() - first.parse::<usize>().unwrap() + 1;
        let bytes = body[pos..pos + len].to_vec();
        pos += len;
        assert!(body[pos..].starts_with(b"\r\n"), "CRLF before the next delimiter at {pos}");
        pos += 2;
        parts.push(Part { content_type: content_type.expect("part Content-Type"), content_range, bytes });
    }
}

/// Several ranges: 206 `multipart/byteranges`, each part with the file's Content-Type,
/// its Content-Range and exactly its bytes; Content-Length is the whole body.
#[test]
fn multiple_ranges_are_multipart() {
    let (_fx, srv) = range_site();
    let r = get(&srv, "/digits.txt", &[("Range", "bytes=0-1, 4-5, 8-")]);
    assert_eq!(r.status, 206);
    assert!(r.header("Content-Range").is_none(), "a multipart 206 has no top-level Content-Range");
    assert_eq!(must(&r, "Content-Length"), r.body.len().to_string());
    let parts = parse_multipart(&r.body, &boundary(must(&r, "Content-Type")));
    let got: Vec<(&str, &str, &[u8])> =
        parts.iter().map(|p| (p.content_type.as_str(), p.content_range.as_str(), &p.bytes[..])).collect();
    let text = "text/plain; charset=utf-8";
    assert_eq!(
        got,
        vec![(text, "bytes 0-1/10", &b"01"[..]), (text, "bytes 4-5/10", b"45"), (text, "bytes 8-9/10", b"89")]
    );
}

/// Overlapping or adjacent ranges are merged; ranges are sent in file order; an
/// unsatisfiable member of a list is dropped.
#[test]
fn overlapping_and_adjacent_ranges_are_merged() {
    let (_fx, srv) = range_site();
    for (range, content_range, bytes) in [
        ("bytes=0-2,3-5", "bytes 0-5/10", "012345"),
        ("bytes=0-5,2-3", "bytes 0-5/10", "012345"),
        ("bytes=4-6,-5", "bytes 4-9/10", "456789"),
        ("bytes=0-1,20-30", "bytes 0-1/10", "01"),
    ] {
        let r = get(&srv, "/digits.txt", &[("Range", range)]);
        assert_eq!(r.status, 206, "Range: {range}");
        assert_eq!(must(&r, "Content-Range"), content_range, "Range: {range}");
        assert_eq!(r.text(), bytes);
    }
    let r = get(&srv, "/digits.txt", &[("Range", "bytes=8-9,0-3,2-6")]);
    let parts = parse_multipart(&r.body, &boundary(must(&r, "Content-Type")));
    let got: Vec<(&str, &[u8])> = parts.iter().map(|p| (p.content_range.as_str(), &p.bytes[..])).collect();
    assert_eq!(got, vec![("bytes 0-6/10", &b"0123456"[..]), ("bytes 8-9/10", b"89")]);
}

/// If-Range: a matching strong ETag or exactly the Last-Modified date keeps the range
/// (206); anything else sends the whole file (200).
#[test]
fn if_range() {
    let (_fx, srv) = range_site();
    let etag = must(&get(&srv, "/digits.txt", &[]), "ETag").to_string();
    let weak = format!("W/{etag}");
    let same = http_date(at(T0, 0));
    let other_date = http_date(at(T0 + 1, 0));
    for (value, want) in
        [(etag.as_str(), 206), ("\"other\"", 200), (weak.as_str(), 200), (same.as_str(), 206), (&other_date, 200)]
    {
        let r = get(&srv, "/digits.txt", &[("Range", "bytes=2-3"), ("If-Range", value)]);
        assert_eq!(r.status, want, "If-Range: {value}");
        assert_eq!(r.text(), if want == 206 { "23" } else { "0123456789" }, "If-Range: {value}");
    }
}

/// Ranges of a 1 MiB file (streamed with sendfile, not copied inline) return exactly
/// the requested bytes, single and multipart.
#[test]
fn ranges_of_a_large_streamed_file() {
    let fx = Fixture::new();
    let data = big_bytes();
    fx.file("big.bin", &data);
    let srv = TestServer::start(&fx.root());
    let n = data.len();

    let r = get(&srv, "/big.bin", &[("Range", "bytes=1000-1040000")]);
    assert_eq!(r.status, 206);
    assert_eq!(must(&r, "Content-Range"), format!("bytes 1000-1040000/{n}"));
    assert_eq!(r.body.len(), 1_039_001);
    assert_eq!(digest(&r.body), digest(&data[1000..=1_040_000]), "range bytes differ");

    let r = get(&srv, "/big.bin", &[("Range", "bytes=-100000")]);
    assert_eq!(must(&r, "Content-Range"), format!("bytes {}-{}/{n}", n - 100_000, n - 1));
    assert_eq!(digest(&r.body), digest(&data[n - 100_000..]));

    let r = get(&srv, "/big.bin", &[("Range", "bytes=0-99,500000-600000,1048000-")]);
    assert_eq!(r.status, 206);
    let parts = parse_multipart(&r.body, &boundary(must(&r, "Content-Type")));
    let spans = [(0, 99), (500_000, 600_000), (1_048_000, n - 1)];
    assert_eq!(parts.len(), spans.len());
    for (part, (a, b)) in parts.iter().zip(spans) {
        assert_eq!(part.content_type, "application/octet-stream");
        assert_eq!(part.content_range, format!("bytes {a}-{b}/{n}"));
        assert_eq!(digest(&part.bytes), digest(&data[a..=b]), "part {a}-{b}");
    }
}

// ---------------------------------------------------------------------------------------
// 4. Folders, redirects, listings
// ---------------------------------------------------------------------------------------

/// `/dir` -> 301 to `/dir/` (query kept); `/dir/` serves its index.html.
#[test]
fn folder_without_slash_redirects() {
    let fx = Fixture::new();
    fx.file("dir/index.html", "<p>dir index</p>");
    fx.file("a/b/index.html", "<p>deep</p>");
    let srv = TestServer::start(&fx.root());
    for (target, location) in [
        ("/dir", "/dir/"),
        ("/dir?x=1", "/dir/?x=1"),
        ("/dir?x=1&y=%20z", "/dir/?x=1&y=%20z"),
        ("/a/b", "/a/b/"),
        ("/a/./b", "/a/b/"),
        ("/a/c/../b", "/a/b/"),
    ] {
        let r = get(&srv, target, &[]);
        assert_eq!(r.status, 301, "{target}");
        assert_eq!(must(&r, "Location"), location, "{target}");
    }
    let r = get(&srv, "/dir/", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "<p>dir index</p>");
    assert_eq!(must(&r, "Content-Type"), "text/html; charset=utf-8");
    assert_eq!(get(&srv, "/dir/?x=1", &[]).text(), "<p>dir index</p>");
}

/// A folder whose name has spaces and non-ASCII letters is percent-encoded (UTF-8) in
/// the Location, and the encoded Location leads to it.
#[test]
fn redirect_location_is_percent_encoded() {
    let fx = Fixture::new();
    fx.file("my dir ü/index.html", "unicode folder");
    fx.file("100% #1?/index.html", "reserved characters");
    let srv = TestServer::start(&fx.root());
    let r = get(&srv, "/my%20dir%20%C3%BC", &[]);
    assert_eq!(r.status, 301);
    let location = must(&r, "Location");
    assert_eq!(location, "/my%20dir%20%C3%BC/");
    assert!(location.bytes().all(|b| b.is_ascii_graphic()));
    assert_eq!(get(&srv, location, &[]).text(), "unicode folder");

    let r = get(&srv, "/100%25%20%231%3F?k=v", &[]);
    assert_eq!(must(&r, "Location"), "/100%25%20%231%3F/?k=v");
    assert_eq!(get(&srv, "/100%25%20%231%3F/", &[]).text(), "reserved characters");
}

/// A Location never starts with `//` (which a browser would read as another host), and a
/// CR LF smuggled into the target as `%0d%0a` cannot start a header of its own.
#[test]
fn redirects_cannot_leave_the_site_or_inject_headers() {
    let fx = Fixture::new();
    fx.file("evil.com/dir/index.html", "x");
    fx.file("dir/index.html", "x");
    let srv = TestServer::start(&fx.root());
    for target in ["//evil.com/dir", "///evil.com/dir", "/./evil.com/dir", "//evil.com//dir"] {
        let r = get(&srv, target, &[]);
        assert_eq!(r.status, 301, "{target}");
        assert_eq!(must(&r, "Location"), "/evil.com/dir/", "{target}");
    }
    // %2F decodes to a slash inside a segment: still never a `//` Location.
    let r = get(&srv, "/%2Fevil.com/dir", &[]);
    if let Some(location) = r.header("Location") {
        assert!(!location.starts_with("//"), "Location {location}");
    }

    let r = get(&srv, "/dir%0d%0aSet-Cookie:%20a=b", &[]);
    assert_eq!(r.status, 400);
    assert!(r.header("Set-Cookie").is_none());

    let r = get(&srv, "/dir?q=%0d%0aSet-Cookie:%20a=b", &[]);
    assert_eq!(r.status, 301);
    assert!(r.header("Set-Cookie").is_none(), "{}", r.head);
    assert_eq!(must(&r, "Location"), "/dir/?q=%0d%0aSet-Cookie:%20a=b");
}

/// The names a listing test folder holds (besides `.secret`, which must not be listed).
const LISTED: [&str; 6] = ["sub/", "<b>&x.txt", "a&amp;b.txt", "a.txt", "b.txt", "sp ace é.txt"];

fn listing_site(listing: bool) -> (Fixture, TestServer) {
    let fx = Fixture::new();
    for name in LISTED.iter().filter(|n| !n.ends_with('/')) {
        fx.file(&format!("list/{name}"), name.as_bytes());
    }
    fx.file("list/sub/inner.txt", "inner");
    fx.file("list/.secret", "hidden");
    let srv = TestServer::with(&fx.root(), |c| c.listing = listing);
    (fx, srv)
}

/// Undoes the HTML escapes a browser would decode inside an attribute value.
fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("hex escape"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("UTF-8 after decoding")
}

/// The `href` values of a page's links, in order, as written.
fn hrefs(html: &str) -> Vec<String> {
    html.split("<a href=\"").skip(1).map(|rest| rest.split('"').next().unwrap().to_string()).collect()
}

/// A folder without index.html is 404 unless listings are on.
#[test]
fn folder_without_index_is_404_by_default() {
    let (_fx, srv) = listing_site(false);
    assert_eq!(get(&srv, "/list/", &[]).status, 404);
    assert_eq!(get(&srv, "/list/", &[("Accept", "application/json")]).status, 404);
}

/// With listings on: an HTML page, names HTML-escaped, dotfiles left out, entries sorted
/// (folders first, then names).
#[test]
fn html_listing() {
    let (_fx, srv) = listing_site(true);
    let r = get(&srv, "/list/", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(must(&r, "Content-Type"), "text/html; charset=utf-8");
    let html = r.text();
    assert!(html.contains("&lt;b&gt;&amp;x.txt"), "escaped name missing:\n{html}");
    assert!(!html.contains("<b>&x"), "a raw name reached the HTML:\n{html}");
    assert!(!html.contains(".secret"), "dotfile listed");
    assert!(html.contains("sp ace é.txt"));
    let shown: Vec<String> = hrefs(&html).into_iter().filter(|h| h != "../").collect();
    assert_eq!(shown.len(), LISTED.len(), "{shown:?}");
    for href in &shown {
        assert!(
            href.bytes().all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>' && b != b'"'),
            "href not percent-encoded: {href:?}"
        );
    }
    // The order of the link texts is the order of LISTED.
    let positions: Vec<usize> = LISTED
        .iter()
        .map(|n| {
            let text = format!(">{}</a>", html_unescape_inverse(n));
            html.find(&text).unwrap_or_else(|| panic!("{text} missing"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "not sorted: {positions:?}");
}

/// A name as the listing must show it in HTML text.
fn html_unescape_inverse(name: &str) -> String {
    name.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Every link of a listing, read as a browser reads it (HTML-unescaped, then resolved
/// against the folder), names its own entry and leads to it. A file named `a&amp;b.txt`
/// must not link to `a&b.txt`.
#[test]
fn listing_links_lead_to_their_entries() {
    let (_fx, srv) = listing_site(true);
    let html = get(&srv, "/list/", &[]).text();
    let shown: Vec<String> = hrefs(&html).into_iter().filter(|h| h != "../").collect();
    for (href, name) in shown.iter().zip(LISTED) {
        let url = html_unescape(href);
        let relative = url.strip_prefix("./").unwrap_or(&url);
        assert_eq!(percent_decode(relative), name, "href {href:?} as a browser reads it");
        let r = get(&srv, &format!("/list/{relative}"), &[]);
        assert_eq!(r.status, 200, "following {href:?}");
        if !name.ends_with('/') {
            assert_eq!(r.text(), name, "following {href:?}");
        }
    }
}

/// `Accept: application/json` gets the listing as JSON with every name and no dotfile.
#[test]
fn json_listing() {
    let (_fx, srv) = listing_site(true);
    let r = get(&srv, "/list/", &[("Accept", "application/json")]);
    assert_eq!(r.status, 200);
    assert!(must(&r, "Content-Type").starts_with("application/json"));
    let json = r.text();
    assert!(json.trim_start().starts_with('[') && json.trim_end().ends_with(']'), "{json}");
    for name in LISTED {
        let quoted = format!("\"name\":\"{}\"", name.trim_end_matches('/'));
        assert!(json.contains(&quoted), "{quoted} missing in {json}");
    }
    assert!(!json.contains(".secret"));
    // Browsers asking for HTML still get HTML.
    let r = get(&srv, "/list/", &[("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")]);
    assert_eq!(must(&r, "Content-Type"), "text/html; charset=utf-8");
}

/// The listing's form depends on `Accept`, so both forms say `Vary: Accept`
/// (RFC 9110 section 12.5.5); otherwise a cache may hand the JSON to a browser.
#[test]
fn listing_varies_on_accept() {
    let (_fx, srv) = listing_site(true);
    for accept in [None, Some("application/json")] {
        let fields: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        let r = get(&srv, "/list/", &fields);
        assert_eq!(r.status, 200);
        let vary = r.header("Vary").unwrap_or("");
        assert!(
            vary.split(',').any(|v| v.trim().eq_ignore_ascii_case("accept")),
            "listing (Accept: {accept:?}) without Vary: Accept:\n{}",
            r.head
        );
    }
}

// ---------------------------------------------------------------------------------------
// 5. Error pages and single-page apps
// ---------------------------------------------------------------------------------------

/// With `ROOT/404.html`, every 404 sends its body with status 404.
#[test]
fn custom_404_page() {
    let fx = Fixture::new();
    let page = "<h1>custom not found</h1>";
    fx.file("404.html", page);
    fx.file("empty/keep.txt", "x");
    fx.file(".hidden", "x");
    let srv = TestServer::start(&fx.root());
    for target in ["/missing", "/missing.js", "/a/b/c.html", "/empty/", "/.hidden", "/keep.txt/"] {
        let r = get(&srv, target, &[]);
        assert_eq!(r.status, 404, "{target}");
        assert_eq!(r.text(), page, "{target}");
        assert_eq!(must(&r, "Content-Type"), "text/html; charset=utf-8");
    }
    let h = fetch(&srv, "HEAD", "/missing", &[]);
    assert_eq!((h.status, must(&h, "Content-Length")), (404, page.len().to_string().as_str()));
}

/// `spa`: a missing path without an extension serves /index.html with 200; a missing
/// file with an extension is still 404.
#[test]
fn spa_fallback() {
    let fx = Fixture::new();
    fx.file("index.html", "<div id=app></div>");
    fx.file("real.js", "real()");
    let srv = TestServer::with(&fx.root(), |c| c.spa = true);
    for target in ["/some/route", "/route", "/deep/er/route?q=1"] {
        let r = get(&srv, target, &[]);
        assert_eq!(r.status, 200, "{target}");
        assert_eq!(r.text(), "<div id=app></div>");
        assert_eq!(must(&r, "Content-Type"), "text/html; charset=utf-8");
    }
    assert_eq!(get(&srv, "/missing.js", &[]).status, 404);
    assert_eq!(get(&srv, "/real.js", &[]).text(), "real()");
}

// ---------------------------------------------------------------------------------------
// 6. Media types
// ---------------------------------------------------------------------------------------

/// Content-Type by extension (charset on text types), octet-stream when unknown, and
/// `X-Content-Type-Options: nosniff` everywhere.
#[test]
fn media_types() {
    let fx = Fixture::new();
    let utf8 = |t: &str| format!("{t}; charset=utf-8");
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("html", vec![utf8("text/html")]),
        ("css", vec![utf8("text/css")]),
        ("js", vec![utf8("text/javascript")]),
        ("mjs", vec![utf8("text/javascript")]),
        ("json", vec![utf8("application/json")]),
        ("txt", vec![utf8("text/plain")]),
        ("xml", vec![utf8("application/xml"), utf8("text/xml")]),
        ("svg", vec![utf8("image/svg+xml")]),
        ("png", vec!["image/png".into()]),
        ("jpg", vec!["image/jpeg".into()]),
        ("gif", vec!["image/gif".into()]),
        ("webp", vec!["image/webp".into()]),
        ("avif", vec!["image/avif".into()]),
        ("ico", vec!["image/x-icon".into(), "image/vnd.microsoft.icon".into()]),
        ("wasm", vec!["application/wasm".into()]),
        ("woff", vec!["font/woff".into()]),
        ("woff2", vec!["font/woff2".into()]),
        ("pdf", vec!["application/pdf".into()]),
        ("mp4", vec!["video/mp4".into()]),
        ("webm", vec!["video/webm".into()]),
        ("mp3", vec!["audio/mpeg".into()]),
        ("unknownext", vec!["application/octet-stream".into()]),
    ];
    for (ext, _) in &cases {
        fx.file(&format!("f.{ext}"), "x");
    }
    fx.file("noext", "x");
    fx.file("UPPER.PNG", "x");
    let srv = TestServer::start(&fx.root());
    let mut wrong = Vec::new();
    for (ext, allowed) in &cases {
        let r = get(&srv, &format!("/f.{ext}"), &[]);
        assert_eq!(r.status, 200);
        assert_eq!(must(&r, "X-Content-Type-Options"), "nosniff");
        let got = must(&r, "Content-Type");
        if !allowed.iter().any(|a| a == got) {
            wrong.push(format!(".{ext}: got {got:?}, want one of {allowed:?}"));
        }
    }
    assert_eq!(must(&get(&srv, "/noext", &[]), "Content-Type"), "application/octet-stream");
    assert_eq!(must(&get(&srv, "/UPPER.PNG", &[]), "Content-Type"), "image/png");
    assert!(wrong.is_empty(), "wrong media types:\n{}", wrong.join("\n"));
}

/// A configured media type overrides the built-in table.
#[test]
fn media_type_override() {
    let fx = Fixture::new();
    fx.file("README.md", "# hi");
    fx.file("x.txt", "x");
    let srv = TestServer::with(&fx.root(), |c| {
        c.mime.insert("md".into(), "text/markdown".into());
        c.mime.insert("txt".into(), "application/x-custom".into());
    });
    assert_eq!(must(&get(&srv, "/README.md", &[]), "Content-Type"), "text/markdown; charset=utf-8");
    assert_eq!(must(&get(&srv, "/x.txt", &[]), "Content-Type"), "application/x-custom");
}

// ---------------------------------------------------------------------------------------
// 7. Pre-compressed sidecars
// ---------------------------------------------------------------------------------------

/// `app.js` with `.br`, `.gz` and `.zst` sidecars (all newer than it), and `old.js` whose
/// `.gz` is older and so must be ignored.
fn sidecar_site() -> (Fixture, TestServer) {
    let fx = Fixture::new();
    set_mtime(&fx.file("app.js", "console.log('identity');\n"), at(T0, 0));
    set_mtime(&fx.file("app.js.br", "BR-BYTES"), at(T0 + 1, 0));
    set_mtime(&fx.file("app.js.gz", "GZ-BYTES!"), at(T0 + 1, 0));
    set_mtime(&fx.file("app.js.zst", "ZSTD-BYTES"), at(T0 + 1, 0));
    set_mtime(&fx.file("old.js", "old identity"), at(T0, 0));
    set_mtime(&fx.file("old.js.gz", "STALE"), at(T0 - 10, 0));
    let srv = TestServer::start(&fx.root());
    (fx, srv)
}

/// Accept-Encoding picks the sidecar: its bytes, `Content-Encoding`, the original's
/// Content-Type, an ETag of its own, and `Vary: Accept-Encoding` on every variant.
#[test]
fn sidecar_negotiation() {
    let (_fx, srv) = sidecar_site();
    let identity = get(&srv, "/app.js", &[]);
    assert_eq!(identity.text(), "console.log('identity');\n");
    assert!(identity.header("Content-Encoding").is_none());
    assert_eq!(must(&identity, "Vary"), "Accept-Encoding", "identity still varies");
    let identity_etag = must(&identity, "ETag").to_string();

    let mut etags = vec![identity_etag.clone()];
    for (accept, coding, body) in [
        ("gzip, br", Some("br"), "BR-BYTES"),
        ("gzip, deflate, br, zstd", Some("br"), "BR-BYTES"),
        ("gzip, br;q=0", Some("gzip"), "GZ-BYTES!"),
        ("br;q=0.5, gzip;q=0.9", Some("gzip"), "GZ-BYTES!"),
        ("zstd", Some("zstd"), "ZSTD-BYTES"),
        ("x-gzip", Some("gzip"), "GZ-BYTES!"),
        ("*", Some("br"), "BR-BYTES"),
        ("identity;q=0, gzip", Some("gzip"), "GZ-BYTES!"),
        ("deflate", None, "console.log('identity');\n"),
        ("identity", None, "console.log('identity');\n"),
        ("", None, "console.log('identity');\n"),
        ("*;q=0", None, "console.log('identity');\n"),
        // Nothing acceptable: RFC 9110 section 12.5.3 says send it without a coding.
        ("identity;q=0, gzip;q=0", None, "console.log('identity');\n"),
    ] {
        let r = get(&srv, "/app.js", &[("Accept-Encoding", accept)]);
        assert_eq!(r.status, 200, "Accept-Encoding: {accept}");
        assert_eq!(r.header("Content-Encoding"), coding, "Accept-Encoding: {accept}");
        assert_eq!(r.text(), body, "Accept-Encoding: {accept}");
        assert_eq!(must(&r, "Content-Type"), "text/javascript; charset=utf-8", "Accept-Encoding: {accept}");
        assert_eq!(must(&r, "Vary"), "Accept-Encoding");
        assert_eq!(count(&r, "Vary"), 1);
        let etag = must(&r, "ETag").to_string();
        if coding.is_none() {
            assert_eq!(etag, identity_etag);
        } else if !etags.contains(&etag) {
            etags.push(etag);
        }
    }
    assert_eq!(etags.len(), 4, "identity, br, gzip and zstd each have their own ETag: {etags:?}");
}

/// A sidecar older than its original is stale and ignored.
#[test]
fn stale_sidecar_is_ignored() {
    let (_fx, srv) = sidecar_site();
    let r = get(&srv, "/old.js", &[("Accept-Encoding", "gzip")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "old identity");
    assert!(r.header("Content-Encoding").is_none());
}

/// Ranges and conditionals apply to the chosen encoded representation: its bytes, its
/// length, its ETag; a 304 repeats `Vary` and `Content-Encoding`.
#[test]
fn sidecar_ranges_and_revalidation() {
    let (_fx, srv) = sidecar_site();
    let br = [("Accept-Encoding", "br")];
    let r = get(&srv, "/app.js", &[br[0], ("Range", "bytes=0-1")]);
    assert_eq!(r.status, 206);
    assert_eq!(must(&r, "Content-Encoding"), "br");
    assert_eq!(must(&r, "Content-Range"), "bytes 0-1/8");
    assert_eq!(r.text(), "BR");

    let r = get(&srv, "/app.js", &[br[0], ("Range", "bytes=-5")]);
    assert_eq!(must(&r, "Content-Range"), "bytes 3-7/8");
    assert_eq!(r.text(), "BYTES");

    let etag = must(&get(&srv, "/app.js", &br), "ETag").to_string();
    let r = get(&srv, "/app.js", &[br[0], ("If-None-Match", &etag)]);
    assert_eq!(r.status, 304);
    assert_eq!(must(&r, "ETag"), etag);
    assert_eq!(must(&r, "Vary"), "Accept-Encoding");
    // The br tag does not validate the identity representation.
    let r = get(&srv, "/app.js", &[("If-None-Match", &etag)]);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "console.log('identity');\n");
    // If-Range with the br tag keeps a range of the br bytes only.
    let r = get(&srv, "/app.js", &[br[0], ("Range", "bytes=0-1"), ("If-Range", &etag)]);
    assert_eq!((r.status, r.text().as_str()), (206, "BR"));
}

// ---------------------------------------------------------------------------------------
// 8. Configured headers and OPTIONS
// ---------------------------------------------------------------------------------------

/// Cache-Control and extra headers are on 200, 206 and 304, and not on 404.
#[test]
fn configured_headers_on_success_only() {
    let fx = Fixture::new();
    fx.file("a.txt", "0123456789");
    let srv = TestServer::with(&fx.root(), |c| {
        c.cache_control = Some("max-age=60".into());
        c.headers.push(("Access-Control-Allow-Origin".into(), "*".into()));
    });
    let ok = get(&srv, "/a.txt", &[]);
    let etag = must(&ok, "ETag").to_string();
    let partial = get(&srv, "/a.txt", &[("Range", "bytes=0-1")]);
    let not_modified = get(&srv, "/a.txt", &[("If-None-Match", &etag)]);
    let head = fetch(&srv, "HEAD", "/a.txt", &[]);
    for (r, status) in [(&ok, 200), (&partial, 206), (&not_modified, 304), (&head, 200)] {
        assert_eq!(r.status, status);
        assert_eq!(must(r, "Cache-Control"), "max-age=60", "{status}");
        assert_eq!(must(r, "Access-Control-Allow-Origin"), "*", "{status}");
        assert_eq!(count(r, "Cache-Control"), 1);
    }
    let missing = get(&srv, "/missing.txt", &[]);
    assert_eq!(missing.status, 404);
    assert!(missing.header("Cache-Control").is_none(), "{}", missing.head);
    assert!(missing.header("Access-Control-Allow-Origin").is_none());
}

/// OPTIONS on a path or `*` is 204 with `Allow: GET, HEAD, OPTIONS` and no body.
#[test]
fn options() {
    let fx = Fixture::new();
    fx.file("x", "x");
    let srv = TestServer::start(&fx.root());
    for target in ["/x", "/missing", "*"] {
        let r = fetch(&srv, "OPTIONS", target, &[]);
        assert_eq!(r.status, 204, "OPTIONS {target}");
        assert_eq!(must(&r, "Allow"), "GET, HEAD, OPTIONS");
        // RFC 9110 section 8.6: no Content-Length in a 204.
        assert!(r.header("Content-Length").is_none(), "{}", r.head);
    }
}

// ---------------------------------------------------------------------------------------
// 9. Through curl
// ---------------------------------------------------------------------------------------

fn have(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Runs curl with `args` and returns its standard output (failing on a curl error).
fn curl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("curl").args(["--silent", "--show-error", "--max-time", "10"]).args(args).output().unwrap();
    assert!(out.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// gzip-compresses `data` with the `gzip` program or python3, whichever is present.
fn gzip(data: &[u8]) -> Option<Vec<u8>> {
    let tries: [(&str, &[&str]); 2] = [
        ("gzip", &["-c", "-9", "-n"]),
        ("python3", &["-c", "import gzip,sys; sys.stdout.buffer.write(gzip.compress(sys.stdin.buffer.read()))"]),
    ];
    for (program, args) in tries {
        let Ok(mut child) = Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            continue;
        };
        child.stdin.take().unwrap().write_all(data).unwrap();
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            return Some(out.stdout);
        }
    }
    None
}

/// curl's `--range`, `-z` (If-Modified-Since) and `--compressed` (a real gzip sidecar)
/// against the server.
#[test]
fn curl_range_conditional_and_compressed() {
    if !have("curl") {
        eprintln!("SKIP curl_range_conditional_and_compressed: curl is not on PATH");
        return;
    }
    let fx = Fixture::new();
    set_mtime(&fx.file("digits.txt", "0123456789abcdef"), at(T0, 0));
    let text = "All work and no play makes Jack a dull boy.\n".repeat(200);
    set_mtime(&fx.file("text.txt", &text), at(T0, 0));
    let gz = gzip(text.as_bytes());
    if let Some(gz) = &gz {
        assert!(gz.len() < text.len() && gz.starts_with(&[0x1f, 0x8b]));
        set_mtime(&fx.file("text.txt.gz", gz), at(T0 + 1, 0));
    }
    let srv = TestServer::start(&fx.root());
    let url = |p: &str| format!("http://{}{p}", srv.addr);

    assert_eq!(curl(&["--range", "0-9", &url("/digits.txt")]), b"0123456789");
    assert_eq!(curl(&["--range", "-3", &url("/digits.txt")]), b"def");

    let same = http_date(at(T0, 0));
    let earlier = http_date(at(T0 - 86_400, 0));
    let code = curl(&["-z", &same, "-o", "/dev/null", "-w", "%{http_code}", &url("/digits.txt")]);
    assert_eq!(String::from_utf8_lossy(&code), "304");
    assert_eq!(curl(&["-z", &same, &url("/digits.txt")]), b"", "a 304 has no body");
    assert_eq!(curl(&["-z", &earlier, &url("/digits.txt")]), b"0123456789abcdef");

    let Some(gz) = gz else {
        eprintln!("SKIP --compressed part: neither gzip nor python3 is available");
        return;
    };
    let headers = fx.path.join("curl-headers.txt");
    let body = curl(&["--compressed", "-D", headers.to_str().unwrap(), &url("/text.txt")]);
    let head = std::fs::read_to_string(&headers).unwrap().to_ascii_lowercase();
    assert!(head.contains("content-encoding: gzip"), "the gzip sidecar was not sent:\n{head}");
    assert!(head.contains(&format!("content-length: {}", gz.len())), "{head}");
    assert_eq!(String::from_utf8(body).unwrap(), text, "curl --compressed must decode to the original");
}
