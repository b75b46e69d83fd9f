//! A driver for instruction counts of the cached-request path (what `benches/micro.rs`
//! times): `valgrind --tool=callgrind target/release/examples/hotpath respond 100000`.
//! Modes: `parse` (the curl head), `respond` (parse + respond, 1 KiB file, cache hit),
//! `browser` (parse + respond of a browser head whose ETag does not match).
use std::hint::black_box;
use std::time::{Duration, Instant};

use evserve::http1::request::{self, Limits};
use evserve::site::{Site, SiteOptions};
use evserve::testing::respond;

#[path = "../benches/common/heads.rs"]
mod heads;
use heads::{BROWSER, CURL};

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
        if mode == "parse" {
            sum += request::parse(black_box(raw), &limits).unwrap().unwrap().1 as u64;
        } else {
            out.clear();
            sum += u64::from(respond(&mut site, black_box(raw), "Wed, 25 Nov 2026 03:01:59 GMT", now, &mut out));
            black_box(&out);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    println!("{mode} x{n}: {sum}");
}
