//! A driver for instruction counts of the cached-request path (what `benches/micro.rs`
//! times): `valgrind --tool=callgrind target/release/examples/hotpath respond 100000`.
//! Modes: `parse` (the curl head), `respond` (parse + respond, 1 KiB file, cache hit),
//! `browser` (parse + respond of a browser head whose ETag does not match).
use std::hint::black_box;
use std::time::{Duration, Instant};

use evserve::handler::{Site, SiteOptions};
use evserve::request::{self, Limits};

const CURL: &[u8] =
    b"GET /index.html HTTP/1.1\r\nHost: localhost:8000\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
const BROWSER: &[u8] = b"GET /assets/app.js?v=42 HTTP/1.1\r\nHost: example.org\r\nConnection: keep-alive\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n\
Accept: */*\r\nSec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Dest: script\r\n\
Referer: https://example.org/\r\nAccept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n\
If-None-Match: \"1f9-6b064fa7.38b6a82d\"\r\nIf-Modified-Since: Wed, 25 Nov 2026 03:01:59 GMT\r\n\r\n";

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "respond".into());
    let n: u64 = args.next().map_or(100_000, |s| s.parse().expect("a count"));
    let dir = std::env::temp_dir().join(format!("evserve-hotpath-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), vec![b'x'; 1024]).unwrap();
    std::fs::write(dir.join("assets/app.js"), vec![b'y'; 4096]).unwrap();
    let options = SiteOptions { cache_ttl: Duration::from_secs(3600), ..SiteOptions::default() };
    let mut site = Site::new(&dir, options).unwrap();
    let limits = Limits::default();
    let now = Instant::now();
    let mut out = Vec::with_capacity(64 * 1024);
    let raw = if mode == "browser" { BROWSER } else { CURL };
    let mut sum = 0u64;
    for _ in 0..n {
        let (req, len) = request::parse(black_box(raw), &limits).unwrap().unwrap();
        sum += len as u64;
        if mode != "parse" {
            out.clear();
            sum += u64::from(site.respond(&req, "Wed, 25 Nov 2026 03:01:59 GMT", now, &mut out).status);
            black_box(&out);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    println!("{mode} x{n}: {sum}");
}
