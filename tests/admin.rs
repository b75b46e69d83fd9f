//! The admin listener (`--admin`) and `--shutdown-delay`, with the real binary: every metric
//! exact after a known set of requests (and accepted by `promtool check metrics`),
//! `/healthz` failing while a loop is really blocked (a read held at the gate of a FUSE
//! filesystem, `--io-threads 0`), and `/readyz` with the delay under a client that never
//! pauses through SIGTERM.
mod common;
mod tls_util;

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::fuse::{GateFs, Op};
use common::*;

/// The binary on 127.0.0.1, port 0, with an admin listener on another port 0; `extra` flags
/// added. Its public and admin addresses.
fn start(root: &std::path::Path, extra: &[&str]) -> (Process, SocketAddr, SocketAddr) {
    let mut args = vec![root.to_str().unwrap(), "--port", "0", "--bind", "127.0.0.1", "--admin", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let p = Process::spawn(&args);
    let addr = p.addr.unwrap_or_else(|| panic!("evserve did not start: {:?}", p.first_line));
    let admin = p
        .first_line
        .split("admin http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no admin address in {:?}", p.first_line));
    (p, addr, admin)
}

/// One admin request: status and body.
fn admin(addr: SocketAddr, path: &str) -> (u16, String) {
    let (r, _) = send_raw(addr, format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
    (r.status, r.text())
}

/// `/metrics` as `series -> value` (`name{labels}` exactly as written).
fn metrics(addr: SocketAddr) -> HashMap<String, f64> {
    let (status, text) = admin(addr, "/metrics");
    assert_eq!(status, 200, "{text}");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_string(), value.parse().unwrap_or_else(|_| panic!("value of {l:?}")))
        })
        .collect()
}

fn requests(m: &HashMap<String, f64>, protocol: &str, method: &str, code: &str) -> f64 {
    let series = format!("evserve_http_requests_total{{protocol=\"{protocol}\",method=\"{method}\",code=\"{code}\"}}");
    *m.get(&series).unwrap_or_else(|| panic!("{series} missing"))
}

#[test]
fn every_metric_is_there_and_exact_after_known_requests() {
    let fx = Fixture::new();
    fx.file("index.html", "home");
    fx.file("dir/index.html", "in a folder");
    let (p, addr, admin_addr) = start(&fx.root(), &["--workers", "2", "--request-timeout", "1"]);
    let get = |raw: &str| send_raw(addr, raw.as_bytes()).0.status;
    for _ in 0..3 {
        assert_eq!(get("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"), 200);
    }
    let (head, _) = send_raw(addr, b"HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(head.status, 200);
    assert_eq!(get("GET /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"), 404);
    assert_eq!(get("GET /dir HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n") / 100, 3);
    assert_eq!(get("DELETE / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"), 405);
    // Half a head: the request timeout answers 408 (no method parsed: OTHER) and closes.
    let mut half = connect(addr);
    half.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
    assert!(read_to_close(&mut half).starts_with(b"HTTP/1.1 408"));
    let mut connections = 8.0;
    // HTTP/2 with prior knowledge, when curl is here.
    let h2 = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--http2-prior-knowledge"])
        .arg(format!("http://{addr}/"))
        .output()
        .is_ok_and(|o| o.stdout == b"200");
    if h2 {
        connections += 1.0;
    } else {
        eprintln!("skipped the HTTP/2 part: curl with HTTP/2 is not installed");
    }
    // A loop publishes at the end of the turn that sent the response: wait for the last.
    let mut m = HashMap::new();
    assert!(
        eventually(Duration::from_secs(10), || {
            m = metrics(admin_addr);
            m["evserve_connections_accepted_total"] == connections && m["evserve_connections_open"] == 0.0
        }),
        "{m:?}"
    );
    let expected = [
        ("http1", "GET", "2xx", 3.0),
        ("http1", "HEAD", "2xx", 1.0),
        ("http1", "GET", "4xx", 1.0),
        ("http1", "GET", "3xx", 1.0),
        ("http1", "OTHER", "4xx", 2.0),
        ("http2", "GET", "2xx", if h2 { 1.0 } else { 0.0 }),
    ];
    let mut total = 0.0;
    for protocol in ["http1", "http2"] {
        for method in ["GET", "HEAD", "OTHER"] {
            for code in ["2xx", "3xx", "4xx", "5xx"] {
                let want = expected.iter().find(|e| (e.0, e.1, e.2) == (protocol, method, code)).map_or(0.0, |e| e.3);
                assert_eq!(requests(&m, protocol, method, code), want, "{protocol} {method} {code}");
                total += want;
            }
        }
    }
    assert_eq!(m["evserve_http_request_duration_seconds_count"], total);
    assert_eq!(m["evserve_http_request_duration_seconds_bucket{le=\"+Inf\"}"], total);
    // The 408 waited out the request timeout: it is the one above a second.
    assert_eq!(m["evserve_http_request_duration_seconds_bucket{le=\"0.5\"}"], total - 1.0);
    assert!(m["evserve_http_request_duration_seconds_sum"] >= 1.0);
    assert_eq!(m["evserve_timeouts_total"], 1.0);
    assert_eq!(m["evserve_connections_reaped_total"], 0.0);
    assert_eq!(m["evserve_tls_handshakes_total"], 0.0);
    assert_eq!(m["evserve_tls_handshake_failures_total"], 0.0);
    assert_eq!(m["evserve_access_log_lines_dropped_total"], 0.0);
    assert_eq!(m["evserve_http2_calmed_total"], 0.0);
    assert_eq!(m["evserve_http2_connection_errors_total"], 0.0);
    assert_eq!(m["evserve_http2_streams_stalled_total"], 0.0);
    assert_eq!(m["evserve_io_jobs_queued"], 0.0);
    assert_eq!(m["evserve_io_jobs_running"], 0.0);
    assert_eq!(m["evserve_io_jobs_stuck"], 0.0);
    assert!(m["evserve_io_jobs_done_total"] >= 1.0, "the first lookups ran on the pool");
    assert!(m["evserve_loop_turn_duration_seconds_count"] >= 1.0);
    assert_eq!(
        m["evserve_loop_turn_duration_seconds_bucket{le=\"+Inf\"}"],
        m["evserve_loop_turn_duration_seconds_count"]
    );
    assert_eq!(m["evserve_workers"], 2.0);
    assert_eq!(m["evserve_ready"], 1.0);
    let sent = m["evserve_sent_bytes_total"];
    // HEAD and the other endpoints and methods.
    let (r, _) = send_raw(admin_addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(r.header("Content-Type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    assert_eq!(admin(admin_addr, "/healthz"), (200, "ok\n".into()));
    assert_eq!(admin(admin_addr, "/readyz"), (200, "ready\n".into()));
    assert_eq!(admin(admin_addr, "/index.html").0, 404, "the admin listener serves no files");
    let (r, _) = send_raw(admin_addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_eq!((r.status, r.header("Allow")), (405, Some("GET, HEAD")));
    // The summary at exit agrees with the last scrape.
    p.signal(15);
    let (code, err) = p.wait(Duration::from_secs(15));
    assert_eq!(code, Some(0), "{err}");
    // The summary's requests leave out the 408 (no request was parsed).
    let summary_requests = total - 1.0;
    assert!(
        err.contains(&format!("stopped: {connections} connections, {summary_requests} requests, {sent} bytes sent")),
        "{err}"
    );
}

#[test]
fn promtool_finds_nothing_to_complain_about() {
    let fx = Fixture::new();
    fx.file("index.html", "home");
    let (_p, addr, admin_addr) = start(&fx.root(), &[]);
    send_raw(addr, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let (_, text) = admin(admin_addr, "/metrics");
    let run = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = run else {
        eprintln!("skipped: promtool is not installed (Debian: apt-get install prometheus)");
        return;
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool: {said}\n{text}");
}

#[test]
fn healthz_fails_while_a_loop_is_blocked_and_the_scrape_still_answers() {
    if let Err(why) = GateFs::available() {
        eprintln!("skipped: {why}");
        return;
    }
    let fx = Fixture::new();
    fx.file("stuck.txt", "at last");
    let fs = GateFs::mount(&fx.root());
    // With no I/O threads the lookup of a name runs on the loop: a held stat blocks it.
    let (_p, addr, admin_addr) = start(fs.path(), &["--io-threads", "0", "--request-timeout", "60"]);
    assert_eq!(admin(admin_addr, "/healthz").0, 200);
    fs.hold(Op::Getattr, "/stuck.txt");
    let client = std::thread::spawn(move || send_raw(addr, b"GET /stuck.txt HTTP/1.1\r\nHost: t\r\n\r\n").0);
    assert!(fs.wait_held(Op::Getattr, "/stuck.txt", Duration::from_secs(10)), "the loop reached the gate");
    let blocked_at = Instant::now();
    let mut health = (0, String::new());
    assert!(eventually(Duration::from_secs(20), || {
        health = admin(admin_addr, "/healthz");
        health.0 == 503
    }));
    assert!(blocked_at.elapsed() >= Duration::from_secs(4), "503 only past the bound");
    assert!(health.1.starts_with("worker 0: one loop turn running for "), "{}", health.1);
    // The scrape does not wait for the blocked loop.
    let asked = Instant::now();
    let m = metrics(admin_addr);
    assert!(asked.elapsed() < Duration::from_secs(1));
    assert_eq!(m["evserve_ready"], 1.0);
    fs.release(Op::Getattr, "/stuck.txt");
    let r = client.join().unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "at last"));
    assert_eq!(admin(admin_addr, "/healthz").0, 200);
    // The long turn is in the turn histogram, above every bound up to 2.5 s.
    let mut m = HashMap::new();
    assert!(eventually(Duration::from_secs(10), || {
        m = metrics(admin_addr);
        m["evserve_loop_turn_duration_seconds_bucket{le=\"2.5\"}"] < m["evserve_loop_turn_duration_seconds_count"]
    }));
}

#[test]
fn readyz_and_the_shutdown_delay_under_a_client_that_never_pauses() {
    let fx = Fixture::new();
    fx.file("index.html", "home");
    let delay = Duration::from_secs(2);
    let (p, addr, admin_addr) = start(&fx.root(), &["--shutdown-delay", "2", "--workers", "2"]);
    assert_eq!(admin(admin_addr, "/readyz"), (200, "ready\n".into()));
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let stop = stop.clone();
        // A new connection per request: a refused connection would show too.
        std::thread::spawn(move || {
            let mut done = 0;
            while !stop.load(Ordering::SeqCst) {
                let s = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("request {done}: {e}"));
                s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                let mut s = std::io::BufReader::new(s);
                s.get_mut().write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
                let r = read_response(&mut s, false);
                assert_eq!((r.status, r.text().as_str()), (200, "home"), "request {done}");
                done += 1;
            }
            done
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    p.signal(15);
    assert!(eventually(Duration::from_secs(1), || admin(admin_addr, "/readyz").0 == 503), "503 at once");
    assert_eq!(admin(admin_addr, "/readyz"), (503, "stopping\n".into()));
    assert_eq!(admin(admin_addr, "/healthz").0, 200, "stopping is not unhealthy");
    // Serving goes on, without a pause, until just before the delay ends.
    while signalled.elapsed() < delay - Duration::from_millis(300) {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::SeqCst);
    let done = client.join().expect("every request during the delay was answered");
    assert!(done > 10, "{done} requests");
    let mut p = p;
    let status = wait_for_exit(&mut p.child, Duration::from_secs(15)).expect("exited");
    assert!(signalled.elapsed() >= delay, "drained only after the delay");
    let (code, err) = (status.code(), {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut p.stderr, &mut rest).unwrap();
        rest
    });
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("stopping in 2 s"), "{err}");
    assert!(err.contains("stopped: "), "{err}");
}

#[test]
fn a_second_signal_during_the_delay_exits_at_once() {
    let fx = Fixture::new();
    let (p, _addr, admin_addr) = start(&fx.root(), &["--shutdown-delay", "60"]);
    p.signal(15);
    assert!(eventually(Duration::from_secs(5), || admin(admin_addr, "/readyz").0 == 503));
    p.signal(15);
    let (code, _) = p.wait(Duration::from_secs(5));
    assert_eq!(code, Some(143));
}

/// A real Prometheus scraping the admin listener every 200 ms: its query API returns the
/// request counter. Skipped when `prometheus` is not installed.
#[test]
fn a_real_prometheus_scrapes_the_request_counter() {
    if Command::new("prometheus").arg("--version").output().is_err() {
        eprintln!("skipped: prometheus is not installed (Debian: apt-get install prometheus)");
        return;
    }
    let fx = Fixture::new();
    fx.file("index.html", "home");
    let (_p, addr, admin_addr) = start(&fx.root(), &[]);
    for _ in 0..3 {
        assert_eq!(send_raw(addr, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").0.status, 200);
    }
    let web = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let config = fx.path.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 200ms\n  scrape_timeout: 200ms\nscrape_configs:\n  - job_name: evserve\n    static_configs:\n      - targets: [\"{admin_addr}\"]\n"
        ),
    )
    .unwrap();
    let mut prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", fx.path.join("tsdb").display()))
        .arg(format!("--web.listen-address={web}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(fx.path.join("prometheus.log")).unwrap())
        .spawn()
        .unwrap();
    let query = "GET /api/v1/query?query=sum(evserve_http_requests_total%7Bmethod%3D%22GET%22%2Ccode%3D%222xx%22%7D) HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n";
    let mut last = String::new();
    let found = eventually(Duration::from_secs(60), || {
        let Ok(mut s) = std::net::TcpStream::connect(web) else { return false };
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        if s.write_all(query.as_bytes()).is_err() {
            return false;
        }
        last = String::from_utf8_lossy(&read_to_close(&mut s)).into_owned();
        last.contains("\"status\":\"success\"") && last.contains(",\"3\"]")
    });
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    let log = std::fs::read_to_string(fx.path.join("prometheus.log")).unwrap_or_default();
    assert!(found, "Prometheus answered {last}\n{log}");
}

#[test]
fn a_silent_admin_client_does_not_hold_up_a_probe() {
    let fx = Fixture::new();
    let (_p, _addr, admin_addr) = start(&fx.root(), &[]);
    let _silent: Vec<_> = (0..3).map(|_| connect(admin_addr)).collect();
    let asked = Instant::now();
    assert_eq!(admin(admin_addr, "/healthz").0, 200);
    assert!(asked.elapsed() < Duration::from_secs(1), "answered after {:?}", asked.elapsed());
}

#[test]
fn tls_handshakes_and_their_failures_are_counted() {
    let fx = Fixture::new();
    fx.file("index.html", "home");
    let pki = tls_util::Pki::new();
    let (cert, key) = (pki.cert.to_str().unwrap(), pki.key.to_str().unwrap());
    let (p, _, admin_addr) = start(&fx.root(), &["--tls-cert", cert, "--tls-key", key]);
    let addr: SocketAddr = p
        .first_line
        .split("https://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no https address in {:?}", p.first_line));
    let config = pki.client_config(&[b"http/1.1"]);
    for _ in 0..2 {
        let mut c = tls_util::connect(addr, &config, false);
        c.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
        let (head, body) = tls_util::read_response(&mut c).unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, b"home");
    }
    // Plain HTTP on the TLS port: no handshake completes.
    let mut plain = connect(addr);
    plain.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    read_to_close(&mut plain);
    let mut m = HashMap::new();
    assert!(
        eventually(Duration::from_secs(10), || {
            m = metrics(admin_addr);
            m["evserve_connections_accepted_total"] == 3.0 && m["evserve_connections_open"] == 0.0
        }),
        "{m:?}"
    );
    assert_eq!(m["evserve_tls_handshakes_total"], 2.0);
    assert_eq!(m["evserve_tls_handshake_failures_total"], 1.0);
    assert_eq!(requests(&m, "http1", "GET", "2xx"), 2.0);
}

#[test]
fn a_reaped_connection_and_a_running_job_are_counted() {
    if let Err(why) = GateFs::available() {
        eprintln!("skipped: {why}");
        return;
    }
    let fx = Fixture::new();
    fx.file("index.html", "home");
    fx.file("held.txt", "held");
    let fs = GateFs::mount(&fx.root());
    let (_p, addr, admin_addr) = start(fs.path(), &["--max-connections", "2"]);
    // An idle keep-alive connection, then a held lookup on the pool.
    let mut idle = std::io::BufReader::new(connect(addr));
    idle.get_mut().write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut idle, false).status, 200);
    let mut m = HashMap::new();
    assert!(eventually(Duration::from_secs(10), || {
        m = metrics(admin_addr);
        m["evserve_io_jobs_done_total"] >= 1.0 && m["evserve_connections_open"] == 1.0
    }));
    let done_before = m["evserve_io_jobs_done_total"];
    fs.hold(Op::Getattr, "/held.txt");
    let held = std::thread::spawn(move || send_raw(addr, b"GET /held.txt HTTP/1.1\r\nHost: t\r\n\r\n").0);
    assert!(fs.wait_held(Op::Getattr, "/held.txt", Duration::from_secs(10)));
    assert!(eventually(Duration::from_secs(10), || {
        m = metrics(admin_addr);
        m["evserve_io_jobs_running"] == 1.0 && m["evserve_connections_open"] == 2.0
    }));
    assert_eq!(m["evserve_io_jobs_queued"], 0.0);
    // At the cap: a third client takes the idle one's place.
    let (r, _) = send_raw(addr, b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(r.status, 200);
    assert!(then_closed(&mut idle), "the idle connection was reaped");
    fs.release(Op::Getattr, "/held.txt");
    assert_eq!(held.join().unwrap().status, 200);
    assert!(eventually(Duration::from_secs(10), || {
        m = metrics(admin_addr);
        m["evserve_io_jobs_running"] == 0.0 && m["evserve_io_jobs_done_total"] > done_before
    }));
    assert_eq!(m["evserve_connections_reaped_total"], 1.0);
}

#[test]
fn dropped_access_log_lines_are_counted_exactly() {
    let fx = Fixture::new();
    fx.file("index.html", "home");
    // stdout is a pipe nobody reads yet: once it and the log's 1 MiB are full, lines drop.
    let (mut p, addr, admin_addr) = start(&fx.root(), &["--access-log", "-"]);
    let mut c = std::io::BufReader::new(connect(addr));
    let request = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "x".repeat(2000));
    const REQUESTS: usize = 1000;
    for _ in 0..REQUESTS {
        c.get_mut().write_all(request.as_bytes()).unwrap();
        assert_eq!(read_response(&mut c, false).status, 404);
    }
    drop(c);
    let mut m = HashMap::new();
    assert!(eventually(Duration::from_secs(10), || {
        m = metrics(admin_addr);
        m["evserve_connections_open"] == 0.0 && m["evserve_access_log_lines_dropped_total"] > 0.0
    }));
    let dropped = m["evserve_access_log_lines_dropped_total"];
    // Now the reader catches up: nothing more is dropped, and every line is either read or
    // counted.
    let mut stdout = p.child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut all).unwrap();
        all.iter().filter(|&&b| b == b'\n').count()
    });
    p.signal(15);
    let (code, err) = p.wait(Duration::from_secs(15));
    assert_eq!(code, Some(0), "{err}");
    let lines = reader.join().unwrap();
    assert!(err.contains(&format!(", {dropped} access-log lines dropped")), "{dropped}: {err}");
    assert_eq!(lines as f64 + dropped, REQUESTS as f64);
}

/// HTTP/2 for the test below: the preface with `settings`, and a reader of frames.
mod h2 {
    pub use super::common::h2::{get, rst, window_update};
    use evserve::http2::frame::{self, FrameHeader, FrameType, flags};
    use std::io::{Read, Write};
    use std::net::TcpStream;

    pub fn preface(settings: &[(u16, u32)]) -> Vec<u8> {
        let mut out = frame::PREFACE.to_vec();
        frame::encode_settings(&mut out, settings);
        out
    }

    /// Reads frames until `stop` says so (true) or the connection ends (false); SETTINGS
    /// are acknowledged.
    pub fn read_until(s: &mut TcpStream, mut stop: impl FnMut(&FrameHeader, &mut TcpStream) -> bool) -> bool {
        let mut buf = Vec::new();
        loop {
            while let Some(h) = FrameHeader::parse(&buf).filter(|h| buf.len() >= 9 + h.length as usize) {
                buf.drain(..9 + h.length as usize);
                if h.kind == FrameType::Settings && !h.has(flags::ACK) {
                    let mut ack = Vec::new();
                    frame::encode_settings_ack(&mut ack);
                    let _ = s.write_all(&ack);
                }
                if stop(&h, s) {
                    return true;
                }
            }
            let mut chunk = [0u8; 65536];
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return false,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

#[test]
fn http2_abuse_and_stalled_streams_are_counted() {
    use evserve::http2::frame::{FrameType, flags, setting};
    let fx = Fixture::new();
    fx.file("a.txt", "a");
    fx.file("big.bin", vec![7u8; 200_000]);
    let (_p, addr, admin_addr) = start(&fx.root(), &["--write-timeout", "0.3"]);
    // A protocol error: DATA on stream 0.
    let mut s = connect(addr);
    s.write_all(&[h2::preface(&[]), vec![0, 0, 0, 0, 0, 0, 0, 0, 0]].concat()).unwrap();
    assert!(h2::read_until(&mut s, |h, _| h.kind == FrameType::GoAway));
    // Rapid Reset: streams opened and reset past the budget.
    let mut s = connect(addr);
    let burst: Vec<u8> =
        (0..1000u32).flat_map(|i| [h2::get(2 * i + 1, b"/a.txt", true), h2::rst(2 * i + 1)].concat()).collect();
    s.write_all(&[h2::preface(&[]), burst].concat()).unwrap();
    assert!(h2::read_until(&mut s, |h, _| h.kind == FrameType::GoAway));
    // A stream whose own window never opens while another's goes a byte at a time.
    let mut s = connect(addr);
    let asks = [h2::get(1, b"/big.bin", true), h2::get(3, b"/big.bin", true), h2::window_update(3, 1)].concat();
    s.write_all(&[h2::preface(&[(setting::INITIAL_WINDOW_SIZE, 0)]), asks].concat()).unwrap();
    let reset = h2::read_until(&mut s, |h, s| match (h.kind, h.stream_id) {
        (FrameType::Data, 3) => {
            assert!(!h.has(flags::END_STREAM), "stream 3 outlasts the timeout");
            let _ = s.write_all(&[h2::window_update(3, h.length), h2::window_update(0, h.length)].concat());
            false
        }
        (FrameType::RstStream, 1) => true,
        (FrameType::RstStream | FrameType::GoAway, _) => panic!("{h:?}"),
        _ => false,
    });
    assert!(reset, "stream 1 is reset");
    let mut m = HashMap::new();
    assert!(
        eventually(Duration::from_secs(10), || {
            m = metrics(admin_addr);
            m["evserve_http2_streams_stalled_total"] == 1.0
        }),
        "{m:?}"
    );
    assert_eq!(m["evserve_http2_calmed_total"], 1.0);
    assert_eq!(m["evserve_http2_connection_errors_total"], 1.0);
}
