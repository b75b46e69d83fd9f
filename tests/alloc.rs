//! "Zero allocations per request in steady state": a counting global allocator around the
//! whole request path (parse, resolve, cache hit, head rendering) on a warm cache.
use std::alloc::System;
use std::time::{Duration, Instant};

use evserve::site::{Site, SiteOptions};
use evserve::testing::respond;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The counter is process-wide: the tests take turns, so one's warm-up is not counted
/// in the other's rounds.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_cached_hit_allocates_nothing() {
    let _turn = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = std::env::temp_dir().join(format!("evserve-alloc-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("assets/app.js"), vec![b'x'; 4096]).unwrap();
    std::fs::write(dir.join("index.html"), "home").unwrap();
    let options = SiteOptions { cache_ttl: Duration::from_secs(3600), ..SiteOptions::default() };
    let mut site = Site::new(&dir, options).unwrap();
    let now = Instant::now();
    let mut out = Vec::with_capacity(64 * 1024);
    let requests: [&[u8]; 3] = [
        b"GET /assets/app.js?v=1 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, br\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: test\r\n\r\n",
        b"HEAD /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    ];
    let mut serve = |raw: &[u8], out: &mut Vec<u8>| {
        out.clear();
        respond(&mut site, raw, "Wed, 25 Nov 2026 03:01:59 GMT", now, out)
    };
    for raw in requests {
        assert_eq!(serve(raw, &mut out), 200); // warms the cache
    }
    // The counter is process-wide, so the test harness's own threads can land an
    // allocation inside a window; a per-request allocation would show in every round
    // (3000 of them), so the quietest of a few rounds must be exactly zero.
    let rounds: Vec<usize> = (0..5)
        .map(|_| {
            let region = Region::new(GLOBAL);
            for _ in 0..1000 {
                for raw in requests {
                    serve(raw, &mut out);
                }
            }
            region.change().allocations
        })
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    let quietest = *rounds.iter().min().unwrap();
    assert_eq!(quietest, 0, "allocations per round of 3000 cached requests: {rounds:?}");
}

/// The same for a computed coding once kept (fast, then best): a hit copies the coded
/// bytes' handle and the fields rendered once.
#[test]
fn a_computed_coding_hit_allocates_nothing() {
    let _turn = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    use evserve::site::CompressOptions;
    let dir = std::env::temp_dir().join(format!("evserve-alloc-cz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text: Vec<u8> = (0..20_000).map(|i| b"static file server\n"[i % 19]).collect();
    std::fs::write(dir.join("app.js"), text).unwrap();
    let compress = CompressOptions { on: true, ..CompressOptions::default() };
    // 20 KB: held by a descriptor (beyond `MEMORY_FILE_MAX`), so the cache needs one.
    let options =
        SiteOptions { cache_ttl: Duration::from_secs(3600), cache_fds: 16, compress, ..SiteOptions::default() };
    let mut site = Site::new(&dir, options).unwrap();
    let now = Instant::now();
    let mut out = Vec::with_capacity(64 * 1024);
    let requests: [&[u8]; 2] = [
        b"GET /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n\r\n",
        b"HEAD /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n",
    ];
    // Warm: the fast levels (waited for), then the best ones in the background.
    for _ in 0..3 {
        for raw in requests {
            out.clear();
            assert_eq!(respond(&mut site, raw, "Wed, 25 Nov 2026 03:01:59 GMT", now, &mut out), 200);
        }
        for job in site.take_background_jobs() {
            site.resume_background(job.run(), now);
        }
    }
    assert!(String::from_utf8_lossy(&out).contains("-gzip9\""), "{}", String::from_utf8_lossy(&out));
    let rounds: Vec<usize> = (0..5)
        .map(|_| {
            let region = Region::new(GLOBAL);
            for _ in 0..1000 {
                for raw in requests {
                    out.clear();
                    respond(&mut site, raw, "Wed, 25 Nov 2026 03:01:59 GMT", now, &mut out);
                }
            }
            region.change().allocations
        })
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    let quietest = *rounds.iter().min().unwrap();
    assert_eq!(quietest, 0, "allocations per round of 2000 computed-coding hits: {rounds:?}");
}
