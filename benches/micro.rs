//! Micro-benchmarks of the pure per-request work: parsing a head, resolving a target
//! (including adversarial ones), planning a response from the cache, and parsing ranges.
//! Run with `cargo bench --bench micro`; figures are per iteration with throughput.
use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use evserve::fs::resolve;
use evserve::http::files;
use evserve::http1::request::{self, Limits};
use evserve::site::{Site, SiteOptions};
use evserve::testing;

#[path = "common/heads.rs"]
mod heads;
use heads::{BROWSER, CURL};

fn parse(c: &mut Criterion) {
    let limits = Limits::default();
    let mut g = c.benchmark_group("parse");
    for (name, raw) in [("curl", CURL), ("browser", BROWSER)] {
        g.throughput(Throughput::Bytes(raw.len() as u64));
        g.bench_function(name, |b| b.iter(|| request::parse(black_box(raw), &limits).unwrap().unwrap().1));
    }
    g.finish();
}

fn resolve_targets(c: &mut Criterion) {
    let mut g = c.benchmark_group("resolve");
    let encoded_dots = format!("/{}", "%2e%2e%2f".repeat(256));
    let deep = format!("/{}", "a/b/../".repeat(256));
    let cases: [(&str, &str); 4] = [
        ("plain", "/assets/app.js?v=42"),
        ("encoded", "/caf%C3%A9/sp%20ace.html"),
        ("encoded_dots_x256", &encoded_dots),
        ("dot_segments_x256", &deep),
    ];
    for (name, target) in cases {
        g.throughput(Throughput::Bytes(target.len() as u64));
        g.bench_function(name, |b| b.iter(|| resolve::resolve_target(black_box(target), false).is_ok()));
    }
    g.finish();
}

/// The whole handler on a cache hit: what one keep-alive request costs besides syscalls.
fn respond(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("evserve-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), vec![b'x'; 1024]).unwrap();
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("assets/app.js"), vec![b'y'; 4096]).unwrap();
    let options = SiteOptions { cache_ttl: std::time::Duration::from_secs(3600), ..SiteOptions::default() };
    let mut site = Site::new(&dir, options).unwrap();
    let now = Instant::now();
    let mut out = Vec::with_capacity(4096);
    let mut g = c.benchmark_group("respond");
    for (name, raw) in [("1k_hit", CURL), ("browser_etag_mismatch", BROWSER)] {
        g.throughput(Throughput::Elements(1));
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                testing::respond(&mut site, raw, "Wed, 25 Nov 2026 03:01:59 GMT", now, &mut out)
            })
        });
    }
    g.finish();
    std::fs::remove_dir_all(&dir).unwrap();
}

fn ranges(c: &mut Criterion) {
    let mut g = c.benchmark_group("range");
    g.bench_function("single", |b| b.iter(|| files::parse_range(black_box(b"bytes=100-200"), 1 << 20)));
    g.bench_function("sixteen", |b| {
        b.iter(|| {
            files::parse_range(
                black_box(
                    b"bytes=0-1,4-5,8-9,12-13,16-17,20-21,24-25,28-29,32-33,36-37,40-41,44-45,48-49,52-53,56-57,60-61",
                ),
                1 << 20,
            )
        })
    });
    g.bench_function("accept_encoding", |b| {
        b.iter(|| files::negotiate(black_box(Some(b"gzip, deflate, br;q=0.9, zstd;q=0.8")), &files::Coding::ALL))
    });
    g.finish();
}

criterion_group!(benches, parse, resolve_targets, respond, ranges);
criterion_main!(benches);
