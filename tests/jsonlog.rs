//! `--log-format json`: every line is one JSON object whose every field is parsed here, with
//! the real binary and raw requests (hostile bytes included).
mod common;

use std::io::{Read, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Fixture, Process};
use serde_json::Value;

/// Undoes the `\xHH` escapes evserve writes for bytes that are not printable UTF-8.
fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'\\' {
            let hex = std::str::from_utf8(&tail[1..3]).unwrap();
            assert_eq!(tail[0], b'x', "{s}");
            out.push(u8::from_str_radix(hex, 16).unwrap());
            rest = &tail[3..];
        } else {
            out.push(b);
            rest = tail;
        }
    }
    out
}

/// Seconds since the epoch of `2026-12-01T09:30:00.123456Z`.
fn parse_rfc3339(s: &str) -> f64 {
    let (date, time) = s.strip_suffix('Z').and_then(|s| s.split_once('T')).unwrap_or_else(|| panic!("{s}"));
    let d: Vec<i64> = date.split('-').map(|n| n.parse().unwrap()).collect();
    let (hms, micros) = time.split_once('.').unwrap();
    assert_eq!(micros.len(), 6, "microseconds: {s}");
    let t: Vec<i64> = hms.split(':').map(|n| n.parse().unwrap()).collect();
    // Days from civil (the inverse of the server's conversion), for the test's own check.
    let (y, m) = if d[1] <= 2 { (d[0] - 1, d[1] + 9) } else { (d[0], d[1] - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    (days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]) as f64 + micros.parse::<f64>().unwrap() / 1e6
}

fn now_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// Sends `raw` on a fresh connection and reads until the server closes or `want` bytes came.
fn exchange(addr: std::net::SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut s = common::connect(addr);
    s.write_all(raw).unwrap();
    common::read_to_close(&mut s)
}

#[test]
fn json_lines_carry_every_field_and_parse() {
    let f = Fixture::new();
    f.file("index.html", "hello");
    f.file("big.bin", vec![7u8; 32 << 20]);
    let log = f.path.join("access.json");
    let root = f.root();
    let p = Process::spawn(&[
        root.to_str().unwrap(),
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--access-log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
    ]);
    let addr = p.addr.unwrap_or_else(|| panic!("did not start: {}", p.first_line));
    let before = now_secs();
    let ua: &[u8] = b"ag\"ent\\ \xff\xfe caf\xc3\xa9 \tx";
    let mut hostile =
        b"GET /index.html?q=%22x%22 HTTP/1.1\r\nHost: h\r\nConnection: close\r\nReferer: http://r/\r\nUser-Agent: "
            .to_vec();
    hostile.extend_from_slice(ua);
    hostile.extend_from_slice(b"\r\n\r\n");
    let cases: Vec<Vec<u8>> = vec![
        hostile,
        b"HEAD / HTTP/1.0\r\n\r\n".to_vec(),
        b"GET /missing HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n".to_vec(),
        b"GET /index.html HTTP/1.1\r\nHost: h\r\nRange: bytes=1-2\r\nConnection: close\r\n\r\n".to_vec(),
        b"BAD\r\n\r\n".to_vec(),
    ];
    for raw in &cases {
        exchange(addr, raw);
    }
    // A slow reader: the duration runs to the last byte of the response.
    let mut slow = common::connect(addr);
    slow.write_all(b"GET /big.bin HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").unwrap();
    let mut first = vec![0u8; 64 * 1024];
    slow.read_exact(&mut first).unwrap();
    std::thread::sleep(Duration::from_millis(300)); // being slow is the behaviour under test
    let rest = common::read_to_close(&mut slow);
    assert!(first.len() + rest.len() > 32 << 20);
    p.signal(15);
    let (code, err) = p.wait(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{err}");
    let after = now_secs();

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert_eq!(lines.len(), 6, "{text}");
    let keys =
        ["time", "client", "method", "target", "protocol", "status", "bytes", "duration_us", "referer", "user_agent"];
    for line in &lines {
        let object = line.as_object().unwrap();
        let mut want = keys.to_vec();
        want.sort_unstable();
        assert_eq!(object.keys().map(String::as_str).collect::<Vec<_>>(), want, "{line}");
        let t = parse_rfc3339(line["time"].as_str().unwrap());
        assert!(before - 1.0 <= t && t <= after + 1.0, "{line}");
        assert_eq!(line["client"], "127.0.0.1");
        assert!(line["duration_us"].as_u64().is_some(), "{line}");
    }
    let get = &lines[0];
    assert_eq!((get["method"].as_str(), get["protocol"].as_str()), (Some("GET"), Some("HTTP/1.1")));
    assert_eq!(get["target"], "/index.html?q=%22x%22");
    assert_eq!((get["status"].as_u64(), get["bytes"].as_u64()), (Some(200), Some(5)));
    assert_eq!(get["referer"], "http://r/");
    assert_eq!(unescape(get["user_agent"].as_str().unwrap()), ua, "every byte of the user agent is recoverable");
    let head = &lines[1];
    assert_eq!((head["method"].as_str(), head["protocol"].as_str()), (Some("HEAD"), Some("HTTP/1.0")));
    assert_eq!((head["bytes"].as_u64(), &head["referer"], &head["user_agent"]), (Some(0), &Value::Null, &Value::Null));
    assert_eq!(lines[2]["status"], 404);
    assert_eq!((lines[3]["status"].as_u64(), lines[3]["bytes"].as_u64()), (Some(206), Some(2)));
    let bad = &lines[4];
    assert_eq!(bad["status"], 400);
    assert_eq!((&bad["method"], &bad["target"], &bad["protocol"]), (&Value::Null, &Value::Null, &Value::Null));
    let download = &lines[5];
    assert_eq!(download["bytes"].as_u64(), Some(32 << 20));
    assert!(download["duration_us"].as_u64().unwrap() >= 300_000, "to the last byte: {download}");
}

#[test]
fn an_unknown_log_format_is_a_usage_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_evserve")).args(["--log-format", "xml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--log-format"));
}
