//! Issue 6, "Operable and observable": the real binary under signals, with its access log,
//! graceful drain, listening addresses, workers, start-up errors, `--trace` and `--stats`.
//! Every wait has a deadline; stderr is read by a thread into a channel so that no read of
//! it can hang a test.
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use rustix::process::{Pid, Signal, kill_process};

/// The file of the drain tests: far more than the socket buffers of both ends can hold.
const BIG: usize = 100 * 1024 * 1024;

/// How long the binary may take to print its start line.
const START: Duration = Duration::from_secs(10);

/// The real `evserve`, its stderr lines arriving over a channel and its stdout collected
/// by a thread (so that `--access-log -` can never fill the pipe).
struct Evserve {
    child: Child,
    lines: Receiver<String>,
    /// Every stderr line taken from the channel so far, for failure messages.
    seen: Vec<String>,
    stdout: Option<JoinHandle<String>>,
    first_line: String,
}

/// How a run ended.
struct Exit {
    code: Option<i32>,
    /// The stderr lines not consumed before the exit.
    stderr: Vec<String>,
    stdout: String,
}

impl Evserve {
    fn start(args: &[&str]) -> Evserve {
        Self::start_with(args, Stdio::piped(), true).0
    }

    /// Starts with stdout left to the caller: a pipe that only it may read.
    fn start_holding_stdout(args: &[&str]) -> (Evserve, std::process::ChildStdout) {
        let (p, out) = Self::start_with(args, Stdio::piped(), false);
        (p, out.expect("stdout"))
    }

    /// Starts with `stdout` (a socket, a file) as standard output.
    fn start_with_stdout(args: &[&str], stdout: Stdio) -> Evserve {
        Self::start_with(args, stdout, false).0
    }

    fn start_with(args: &[&str], stdout: Stdio, collect_stdout: bool) -> (Evserve, Option<std::process::ChildStdout>) {
        let mut child = evserve(args).stdout(stdout).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (stdout, held) = match child.stdout.take() {
            Some(mut out) if collect_stdout => {
                let reader = std::thread::spawn(move || {
                    let mut s = String::new();
                    let _ = out.read_to_string(&mut s);
                    s
                });
                (Some(reader), None)
            }
            out => (None, out),
        };
        let mut p = Evserve { child, lines, seen: Vec::new(), stdout, first_line: String::new() };
        match p.lines.recv_timeout(START) {
            Ok(line) => p.first_line = line,
            Err(e) => panic!("evserve {args:?} printed no start line: {e:?}"),
        }
        assert!(p.first_line.starts_with("evserve: serving "), "start line: {:?}", p.first_line);
        (p, held)
    }

    /// Every `http://ADDR/` of the start line, in order.
    fn urls(&self) -> Vec<SocketAddr> {
        self.first_line
            .split("http://")
            .skip(1)
            .map(|rest| rest.split('/').next().unwrap().parse().expect("an address in the start line"))
            .collect()
    }

    fn addr(&self) -> SocketAddr {
        self.urls()[0]
    }

    fn signal(&self, sig: Signal) {
        kill_process(Pid::from_child(&self.child), sig).unwrap();
    }

    /// The next stderr line satisfying `pred` within `within`; lines before it are consumed.
    fn line_where(&mut self, within: Duration, mut pred: impl FnMut(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return Some(line);
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// Waits for the exit, failing after `within`.
    fn wait(&mut self, within: Duration) -> Exit {
        let status = wait_for_exit(&mut self.child, within);
        assert!(status.is_some(), "evserve did not exit within {within:?}; stderr so far: {:#?}", self.seen);
        // The pipe closes with the process: the reader thread ends, and so does the channel.
        let mut stderr = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => stderr.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("stderr still open after the exit"),
            }
        }
        let stdout = self.stdout.take().map(|t| t.join().unwrap()).unwrap_or_default();
        Exit { code: status.unwrap().code(), stderr, stdout }
    }
}

impl Drop for Evserve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn summary(exit: &Exit) -> &str {
    exit.stderr
        .iter()
        .find(|l| l.starts_with("evserve: stopped: "))
        .unwrap_or_else(|| panic!("no summary line in {:#?}", exit.stderr))
}

fn site() -> Fixture {
    let f = Fixture::new();
    f.file("a.txt", "hello world");
    f
}

fn root(f: &Fixture) -> String {
    f.root().to_str().unwrap().to_string()
}

/// 100 MiB in which every 4 KiB block differs (its index leads it), so a lost, repeated or
/// reordered block is caught.
fn big_contents() -> Vec<u8> {
    let mut block = [0u8; 4096];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for b in block.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let mut v = Vec::with_capacity(BIG);
    for i in 0..BIG / block.len() {
        v.extend_from_slice(&(i as u64).to_le_bytes());
        v.extend_from_slice(&block[8..]);
    }
    v
}

/// A sparse file of `BIG` zero bytes, for clients that never read it all.
fn big_sparse(f: &Fixture) {
    let file = std::fs::File::create(f.root().join("big.bin")).unwrap();
    file.set_len(BIG as u64).unwrap();
}

/// Starts a download of /big.bin and takes only its first bytes (so it is in flight).
fn start_download(addr: SocketAddr) -> TcpStream {
    let mut s = connect(addr);
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_head(&mut s), (200, BIG as u64));
    s
}

// ---------------------------------------------------------------------------------------
// 1. Access log

/// One Combined Log Format line, taken apart field by field.
#[derive(Debug)]
struct LogLine {
    host: String,
    /// Unix seconds of the `[dd/Mon/yyyy:HH:MM:SS +0000]` field.
    time: u64,
    /// `METHOD TARGET HTTP/1.x`, or None for `"-"` (a request that did not parse).
    request: Option<(String, String, String)>,
    status: u16,
    /// None for `-` (no body bytes).
    bytes: Option<u64>,
    /// The raw (escaped) and the decoded referer and user agent; None for `"-"`.
    referer: Option<(String, Vec<u8>)>,
    user_agent: Option<(String, Vec<u8>)>,
}

/// A cursor over one log line.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn expect(&mut self, literal: &str) -> Result<(), String> {
        self.rest =
            self.rest.strip_prefix(literal).ok_or_else(|| format!("expected {literal:?} at {:?}", self.rest))?;
        Ok(())
    }

    /// Up to (not including) `end`, which is consumed.
    fn until(&mut self, end: char) -> Result<&'a str, String> {
        let (field, rest) = self.rest.split_once(end).ok_or_else(|| format!("no {end:?} in {:?}", self.rest))?;
        self.rest = rest;
        Ok(field)
    }

    /// A `"..."` field: it cannot hold a raw quote, and its only backslashes start `\xHH`.
    fn quoted(&mut self) -> Result<Option<(String, Vec<u8>)>, String> {
        self.expect("\"")?;
        let raw = self.until('"')?;
        if raw == "-" {
            return Ok(None);
        }
        let mut decoded = Vec::new();
        let bytes = raw.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => {
                    let hex = raw.get(i + 1..i + 4).filter(|h| h.starts_with('x')).ok_or("a bare backslash")?;
                    decoded.push(u8::from_str_radix(&hex[1..], 16).map_err(|e| format!("{hex}: {e}"))?);
                    i += 4;
                }
                c if (0x20..0x7f).contains(&c) => {
                    decoded.push(c);
                    i += 1;
                }
                c => return Err(format!("unescaped byte {c:#x} in {raw:?}")),
            }
        }
        Ok(Some((raw.to_string(), decoded)))
    }
}

fn parse_log_line(line: &str) -> Result<LogLine, String> {
    let mut c = Cursor { rest: line };
    let host = c.until(' ')?.to_string();
    c.expect("- - [")?;
    let time = parse_clf_time(c.until(']')?)?;
    c.expect(" ")?;
    let request = c.quoted()?.map(|(raw, _)| {
        let parts: Vec<&str> = raw.split(' ').collect();
        assert_eq!(parts.len(), 3, "request field {raw:?}");
        (parts[0].to_string(), parts[1].to_string(), parts[2].to_string())
    });
    if let Some((_, _, version)) = &request
        && version != "HTTP/1.0"
        && version != "HTTP/1.1"
    {
        return Err(format!("version {version:?}"));
    }
    c.expect(" ")?;
    let status = c.until(' ')?;
    if status.len() != 3 || !status.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("status {status:?}"));
    }
    let bytes = match c.until(' ')? {
        "-" => None,
        "0" => return Err("a zero byte count must be logged as -".into()),
        n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => Some(n.parse().unwrap()),
        n => return Err(format!("bytes {n:?}")),
    };
    let referer = c.quoted()?;
    c.expect(" ")?;
    let user_agent = c.quoted()?;
    if !c.rest.is_empty() {
        return Err(format!("trailing {:?}", c.rest));
    }
    Ok(LogLine { host, time, request, status: status.parse().unwrap(), bytes, referer, user_agent })
}

/// `dd/Mon/yyyy:HH:MM:SS +0000` -> Unix seconds (computed here, independently of the server).
fn parse_clf_time(s: &str) -> Result<u64, String> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let b = s.as_bytes();
    let shape_ok = s.len() == 26
        && b[2] == b'/'
        && b[6] == b'/'
        && b[11] == b':'
        && b[14] == b':'
        && b[17] == b':'
        && &s[20..] == " +0000";
    if !shape_ok {
        return Err(format!("time {s:?}"));
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let d = &s[r];
        if d.bytes().all(|c| c.is_ascii_digit()) { Ok(d.parse().unwrap()) } else { Err(format!("time {s:?}")) }
    };
    let (day, year, hour, min, sec) = (num(0..2)?, num(7..11)?, num(12..14)?, num(15..17)?, num(18..20)?);
    let month = MONTHS.iter().position(|m| *m == &s[3..6]).ok_or(format!("month in {s:?}"))? as i64 + 1;
    if !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return Err(format!("time {s:?}"));
    }
    // Days from the civil date (the inverse of the usual era-based conversion).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok((days * 86_400 + hour * 3600 + min * 60 + sec) as u64)
}

#[test]
fn clf_time_parser_agrees_with_known_dates() {
    assert_eq!(parse_clf_time("01/Jan/1970:00:00:00 +0000"), Ok(0));
    assert_eq!(parse_clf_time("10/Oct/2000:13:48:56 +0000"), Ok(971_185_736));
    assert_eq!(parse_clf_time("29/Feb/2000:00:00:00 +0000"), Ok(951_782_400));
    assert!(parse_clf_time("10/Oct/2000:13:48:56 +0100").is_err());
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn access_log_has_one_combined_line_per_response() {
    let f = site();
    let log = f.path.join("access.log");
    let mut p =
        Evserve::start(&[&root(&f), "--port", "0", "--bind", "127.0.0.1", "--access-log", log.to_str().unwrap()]);
    let before = now_unix();
    let s = connect(p.addr());
    let mut r = BufReader::new(&s);
    let mut ask = |raw: &str| {
        (&s).write_all(raw.as_bytes()).unwrap();
        read_response(&mut r, raw.starts_with("HEAD "))
    };
    let ok = ask("GET /a.txt?v=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    let missing = ask("GET /missing.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    let range = ask("GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-3\r\n\r\n");
    let head = ask("HEAD /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let ua = "probe \"quoted\" \\ 1.0";
    let with_fields = ask(&format!(
        "GET /a.txt HTTP/1.1\r\nHost: x\r\nReferer: http://example.com/from?a=1\r\nUser-Agent: {ua}\r\n\r\n"
    ));
    assert_eq!([ok.status, missing.status, range.status, head.status, with_fields.status], [200, 404, 206, 200, 200]);
    let mut bad = connect(p.addr());
    bad.write_all(b"garbage\r\n\r\n").unwrap();
    let garbage = read_response(&mut BufReader::new(&bad), false);
    assert_eq!(garbage.status, 400);

    p.signal(Signal::INT);
    let exit = p.wait(Duration::from_secs(10));
    assert_eq!(exit.code, Some(0), "{:#?}", exit.stderr);
    let after = now_unix();

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<LogLine> =
        text.lines().map(|l| parse_log_line(l).unwrap_or_else(|e| panic!("{e}\nin {l:?}"))).collect();
    assert_eq!(lines.len(), 6, "{text}");
    let req = |m: &str, t: &str, v: &str| Some((m.to_string(), t.to_string(), v.to_string()));
    let expected = [
        (req("GET", "/a.txt?v=1", "HTTP/1.1"), 200, Some(11)),
        (req("GET", "/missing.txt", "HTTP/1.1"), 404, Some(missing.body.len() as u64)),
        (req("GET", "/a.txt", "HTTP/1.1"), 206, Some(4)),
        (req("HEAD", "/a.txt", "HTTP/1.0"), 200, None),
        (req("GET", "/a.txt", "HTTP/1.1"), 200, Some(11)),
        (None, 400, Some(garbage.body.len() as u64)),
    ];
    for (line, (request, status, bytes)) in lines.iter().zip(expected) {
        assert_eq!(line.host, "127.0.0.1", "{line:?}");
        assert!((before.saturating_sub(1)..=after + 1).contains(&line.time), "time of {line:?}");
        assert_eq!((&line.request, line.status, line.bytes), (&request, status, bytes), "{line:?}");
    }
    for (i, line) in lines.iter().enumerate() {
        if i == 4 {
            let (raw_ref, referer) = line.referer.clone().expect("Referer");
            assert_eq!(
                (raw_ref.as_str(), referer.as_slice()),
                ("http://example.com/from?a=1", &b"http://example.com/from?a=1"[..])
            );
            let (raw_ua, decoded_ua) = line.user_agent.clone().expect("User-Agent");
            assert_eq!(raw_ua, "probe \\x22quoted\\x22 \\x5C 1.0");
            assert_eq!(decoded_ua, ua.as_bytes());
        } else {
            assert!(line.referer.is_none() && line.user_agent.is_none(), "{line:?}");
        }
    }
    assert!(exit.stdout.is_empty(), "the log went to stdout too: {:?}", exit.stdout);
}

#[test]
fn access_log_dash_writes_to_stdout() {
    let f = site();
    let mut p = Evserve::start(&[&root(&f), "--port", "0", "--bind", "127.0.0.1", "--access-log", "-"]);
    let s = connect(p.addr());
    (&s).write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut BufReader::new(&s), false).status, 200);
    p.signal(Signal::INT);
    let exit = p.wait(Duration::from_secs(10));
    assert_eq!(exit.code, Some(0));
    let lines: Vec<&str> = exit.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout: {:?}", exit.stdout);
    let line = parse_log_line(lines[0]).unwrap();
    assert_eq!((line.status, line.bytes), (200, Some(11)));
    assert_eq!(line.user_agent.map(|(raw, _)| raw).as_deref(), Some("t"));
    assert!(!exit.stderr.iter().any(|l| l.contains("GET /a.txt")), "{:#?}", exit.stderr);
}

#[test]
fn an_access_log_that_cannot_be_opened_stops_start_up_with_one_line() {
    let f = site();
    // A folder cannot be opened for appending.
    let folder = f.path.to_str().unwrap().to_string();
    let (code, out, err) = run_to_exit(&[&root(&f), "--port", "0", "--bind", "127.0.0.1", "--access-log", &folder]);
    assert_eq!(code, Some(7), "exit status for the access log (README): {err}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&folder) && err.contains("--access-log"),
        "the message should name --access-log and the path: {err}"
    );
}

// ---------------------------------------------------------------------------------------
// 2. Graceful drain

/// Sends a request on `s` and reads what comes back until the close (or 5 s): the bytes,
/// and whether the server closed (EOF or reset).
fn unserved(mut s: TcpStream) -> (Vec<u8>, bool) {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    match read_until_close(&mut s) {
        Ok(got) => (got, true),
        Err(got) => (got, false),
    }
}

#[test]
fn sigint_closes_the_listener_and_idle_connections_and_finishes_downloads() {
    let f = site();
    let contents = big_contents();
    f.file("big.bin", &contents);
    let mut p = Evserve::start(&[&root(&f), "--port", "0", "--bind", "127.0.0.1"]);
    let addr = p.addr();

    // An idle keep-alive connection.
    let mut idle = connect(addr);
    idle.write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut BufReader::new(&idle), false).body, b"hello world");

    // A slow download: the head and a few small reads, checked as they come.
    let mut download = start_download(addr);
    let mut got = 0;
    let mut small = [0u8; 512];
    for _ in 0..8 {
        let n = download.read(&mut small).unwrap();
        assert!(n > 0);
        assert_eq!(small[..n], contents[got..got + n]);
        got += n;
    }

    p.signal(Signal::INT);

    // (b) The idle connection is closed promptly.
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(closed(&mut idle), "an idle keep-alive connection stayed open after SIGINT");

    // (a) The listener is gone: a new client is refused, or at least never served. (The
    // idle connection is closed after the listener, so the drain has begun.)
    if let Ok(late) = TcpStream::connect(addr) {
        let (answered, ended) = unserved(late);
        assert!(
            answered.is_empty() && ended,
            "a client that connected after SIGINT got {answered:?} (closed: {ended})"
        );
    }

    // (c) The download in flight completes, byte for byte, then the connection closes.
    download.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    while got < BIG {
        let n = download.read(&mut buf).expect("the rest of the download");
        assert!(n > 0, "the download ended early, at {got} of {BIG} bytes");
        assert!(got + n <= BIG, "more bytes than the file holds");
        assert!(buf[..n] == contents[got..got + n], "bytes {got}..{} differ", got + n);
        got += n;
    }
    // Closed at once, not when the 10 s drain deadline passes.
    download.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    assert!(closed(&mut download), "the finished download's connection stayed open during the drain");

    // (d) Exit 0 with the summary.
    let exit = p.wait(Duration::from_secs(10));
    assert_eq!(exit.code, Some(0), "{:#?}", exit.stderr);
    let line = summary(&exit);
    assert!(line.contains(": 2 connections, 2 requests, "), "{line}");
}

#[test]
fn drain_timeout_forces_stuck_downloads_closed() {
    let f = site();
    big_sparse(&f);
    let mut p = Evserve::start(&[&root(&f), "--port", "0", "--bind", "127.0.0.1", "--drain-timeout", "1"]);
    // A client that reads the head and then nothing.
    let mut stuck = start_download(p.addr());
    let signalled = Instant::now();
    p.signal(Signal::INT);
    let exit = p.wait(Duration::from_secs(8));
    let took = signalled.elapsed();
    assert_eq!(exit.code, Some(0), "{:#?}", exit.stderr);
    summary(&exit);
    // The response was cut short: what the kernel still held arrives, then the close.
    stuck.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let rest = read_to_close(&mut stuck);
    assert!(rest.len() < BIG, "the download completed although the client never read ({took:?})");
}

#[test]
fn a_second_sigint_exits_at_once() {
    let f = site();
    big_sparse(&f);
    let mut p = Evserve::start(&[&root(&f), "--port", "0", "--bind", "127.0.0.1"]);
    let _stuck = start_download(p.addr());
    p.signal(Signal::INT);
    assert!(p.line_where(Duration::from_secs(5), |l| l.contains("stopping")).is_some(), "{:#?}", p.seen);
    // The drain timeout is 10 s and the download will not finish: only the second signal
    // can end the process within the bound.
    p.signal(Signal::INT);
    let exit = p.wait(Duration::from_secs(3));
    assert_eq!(exit.code, Some(130), "128 + SIGINT: {:#?}", exit.stderr);
}

// ---------------------------------------------------------------------------------------
// 3. SIGTERM

#[test]
fn sigterm_stops_like_sigint() {
    let f = site();
    let mut p = Evserve::start(&[&root(&f), "--port", "0", "--bind", "127.0.0.1"]);
    let mut s = connect(p.addr());
    s.write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    assert!(read_to_close(&mut s).ends_with(b"hello world"));
    p.signal(Signal::TERM);
    let exit = p.wait(Duration::from_secs(10));
    assert_eq!(exit.code, Some(0), "{:#?}", exit.stderr);
    assert!(summary(&exit).contains(": 1 connections, 1 requests, "), "{:#?}", exit.stderr);
}

/// Starts a server with a stuck download (the drain cannot end by itself), sends `first`,
/// waits for the drain to begin, sends `second` and returns the exit.
fn stop_twice(first: Signal, second: Signal) -> Exit {
    let f = site();
    big_sparse(&f);
    let mut p = Evserve::start(&[&root(&f), "--port", "0", "--bind", "127.0.0.1"]);
    let _stuck = start_download(p.addr());
    p.signal(first);
    assert!(p.line_where(Duration::from_secs(5), |l| l.contains("stopping")).is_some(), "{:#?}", p.seen);
    p.signal(second);
    p.wait(Duration::from_secs(3))
}

#[test]
fn a_second_sigterm_exits_at_once_with_143() {
    let exit = stop_twice(Signal::TERM, Signal::TERM);
    assert_eq!(exit.code, Some(143), "128 + SIGTERM: {:#?}", exit.stderr);
}

#[test]
fn sigterm_after_sigint_exits_at_once_with_143() {
    let exit = stop_twice(Signal::INT, Signal::TERM);
    assert_eq!(exit.code, Some(143), "128 + SIGTERM: {:#?}", exit.stderr);
}

// ---------------------------------------------------------------------------------------
// 3b. SIGHUP / SIGUSR1: reopen the access log (logrotate)

/// `GET /a.txt?TAG` on `s`, which must answer 200.
fn ask_tagged(s: &TcpStream, tag: &str) {
    (&*s).write_all(format!("GET /a.txt?{tag} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).unwrap();
    assert_eq!(read_response(&mut BufReader::new(s), false).status, 200, "{tag}");
}

/// The tags (`?TAG`) of a log file's lines, each line checked whole; none if it is missing.
fn logged_tags(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(text.is_empty() || text.ends_with('\n'), "a cut line at the end of {path:?}: {text:?}");
    let mut tags: Vec<String> = text
        .lines()
        .map(|l| {
            let line = parse_log_line(l).unwrap_or_else(|e| panic!("{e}\nin {l:?} of {path:?}"));
            let (_, target, _) = line.request.expect("a request line");
            target.strip_prefix("/a.txt?").expect("a tagged request").to_string()
        })
        .collect();
    tags.sort();
    tags
}

fn tags(prefix: &str, n: usize) -> Vec<String> {
    let mut v: Vec<String> = (0..n).map(|i| format!("{prefix}-{i:02}")).collect();
    v.sort();
    v
}

/// A log that something renames to `rotated` and then signals: what was logged before is
/// in `rotated`, what comes after in a new file at the same path, every line whole, and
/// the keep-alive connection held across the signal is still served.
fn reopen_after_rotation(
    f: &Fixture,
    workers: &str,
    rotate: impl FnOnce(&mut Evserve, &std::path::Path),
    rotated: &std::path::Path,
    log: &std::path::Path,
) {
    const N: usize = 16;
    let mut p = Evserve::start(&[
        &root(f),
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--workers",
        workers,
        "--access-log",
        log.to_str().unwrap(),
    ]);
    let held = connect(p.addr());
    ask_tagged(&held, "before-held");
    for tag in tags("before", N) {
        ask_tagged(&connect(p.addr()), &tag);
    }
    let mut before = tags("before", N);
    before.push("before-held".into());
    before.sort();
    // Lines are written once per loop turn: wait until all of them are.
    assert!(eventually(IO_TIMEOUT, || logged_tags(log) == before), "before the rotation: {:?}", logged_tags(log));

    rotate(&mut p, log);
    assert!(
        p.line_where(Duration::from_secs(5), |l| l.contains(": reopening the access log")).is_some(),
        "no reopening line: {:#?}",
        p.seen
    );
    ask_tagged(&held, "after-held");
    for tag in tags("after", N) {
        ask_tagged(&connect(p.addr()), &tag);
    }
    drop(held);
    p.signal(Signal::INT);
    let exit = p.wait(Duration::from_secs(10));
    assert_eq!(exit.code, Some(0), "{:#?}", exit.stderr);
    let mut after = tags("after", N);
    after.push("after-held".into());
    after.sort();
    assert_eq!(logged_tags(rotated), before, "the rotated file");
    assert_eq!(logged_tags(log), after, "the new file");
    assert!(!exit.stderr.iter().any(|l| l.contains("cannot reopen")), "{:#?}", exit.stderr);
}

/// `mv access.log access.log.1`, then the signal.
fn rename_and_signal(sig: Signal, workers: &str) {
    let f = site();
    std::fs::create_dir(f.path.join("logs")).unwrap();
    let log = f.path.join("logs/access.log");
    let rotated = f.path.join("logs/access.log.1");
    let moved = rotated.clone();
    reopen_after_rotation(
        &f,
        workers,
        move |p, log| {
            std::fs::rename(log, &moved).unwrap();
            p.signal(sig);
        },
        &rotated,
        &log,
    );
}

#[test]
fn sighup_reopens_the_access_log_of_every_worker_after_a_rename() {
    rename_and_signal(Signal::HUP, "2");
}

#[test]
fn sigusr1_reopens_the_access_log_after_a_rename() {
    rename_and_signal(Signal::USR1, "1");
}

#[test]
fn logrotate_with_a_postrotate_sighup_rotates_the_access_log() {
    if Command::new("logrotate").arg("--version").output().is_err() {
        eprintln!("skipped: logrotate is not installed (apt-get install logrotate)");
        return;
    }
    let f = site();
    std::fs::create_dir_all(f.path.join("logs/old")).unwrap();
    let log = f.path.join("logs/access.log");
    let rotated = f.path.join("logs/old/access.log.1");
    let (conf, state) = (f.path.join("logrotate.conf"), f.path.join("logrotate.state"));
    let old = f.path.join("logs/old");
    reopen_after_rotation(
        &f,
        "1",
        move |p, log| {
            let pid = p.child.id();
            let config = format!(
                "{} {{\n    create\n    olddir {}\n    rotate 3\n    nocompress\n    postrotate\n        kill -HUP {pid}\n    endscript\n}}\n",
                log.display(),
                old.display()
            );
            std::fs::write(&conf, config).unwrap();
            let out = Command::new("logrotate").arg("-f").arg("-s").arg(&state).arg(&conf).output().unwrap();
            assert!(out.status.success(), "logrotate: {}", String::from_utf8_lossy(&out.stderr));
        },
        &rotated,
        &log,
    );
}

#[test]
fn a_failed_reopen_keeps_the_old_file_and_says_why_once() {
    let f = site();
    std::fs::create_dir(f.path.join("logs")).unwrap();
    let log = f.path.join("logs/access.log");
    let mut p = Evserve::start(&[
        &root(&f),
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--workers",
        "2",
        "--access-log",
        log.to_str().unwrap(),
    ]);
    ask_tagged(&connect(p.addr()), "before");
    assert!(eventually(IO_TIMEOUT, || logged_tags(&log).len() == 1));
    // The folder moves away: the path cannot be created again.
    let moved = f.path.join("logs.old");
    std::fs::rename(f.path.join("logs"), &moved).unwrap();
    p.signal(Signal::HUP);
    let said = p.line_where(Duration::from_secs(5), |l| l.contains("cannot reopen the access log"));
    let said = said.unwrap_or_else(|| panic!("no reopen failure reported: {:#?}", p.seen));
    assert!(said.contains("still writing to the old file") && said.contains("access.log"), "{said}");
    for tag in tags("after", 8) {
        ask_tagged(&connect(p.addr()), &tag);
    }
    p.signal(Signal::INT);
    let exit = p.wait(Duration::from_secs(10));
    assert_eq!(exit.code, Some(0), "{:#?}", exit.stderr);
    let mut all = tags("after", 8);
    all.push("before".into());
    all.sort();
    assert_eq!(logged_tags(&moved.join("access.log")), all);
    let failures = p.seen.iter().chain(&exit.stderr).filter(|l| l.contains("cannot reopen")).count();
    assert_eq!(failures, 1, "one line, not one per worker: {:#?} {:#?}", p.seen, exit.stderr);
}

// ---------------------------------------------------------------------------------------
// 3c. A stalled access-log reader

#[test]
fn a_stalled_access_log_reader_on_a_pipe_never_stalls_the_server() {
    let f = site();
    let args = stalled_log_args(&f);
    let (p, pipe) = Evserve::start_holding_stdout(&args.iter().map(String::as_str).collect::<Vec<_>>());
    stalled_reader_is_survived(p, Box::new(pipe));
}

/// The same with standard output a socket (as systemd's journal gives), where the server
/// sends with MSG_DONTWAIT.
#[test]
fn a_stalled_access_log_reader_on_a_socket_never_stalls_the_server() {
    let f = site();
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let args = stalled_log_args(&f);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let p = Evserve::start_with_stdout(&args, Stdio::from(std::os::fd::OwnedFd::from(theirs)));
    stalled_reader_is_survived(p, Box::new(ours));
}

/// The same with `--access-log FIFO`; a FIFO nobody reads is refused at start, at once.
#[test]
fn a_stalled_access_log_fifo_never_stalls_the_server() {
    use rustix::fs::{FileType, Mode, OFlags};
    let f = site();
    let fifo = f.path.join("log.fifo");
    rustix::fs::mknodat(rustix::fs::CWD, &fifo, FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
    let fifo_arg = fifo.to_str().unwrap();
    let (code, _, err) = run_to_exit(&[&root(&f), "--port", "0", "--bind", "127.0.0.1", "--access-log", fifo_arg]);
    assert_eq!(code, Some(7), "a FIFO without a reader: {err}");
    // A reader that opens and then never reads (non-blocking open: no writer yet).
    let reader = rustix::fs::open(&fifo, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC, Mode::empty()).unwrap();
    let mut args = stalled_log_args(&f);
    let dash = args.iter().position(|a| a == "-").unwrap();
    args[dash] = fifo_arg.to_string();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let p = Evserve::start(&args);
    // Reads at the end block until the server has closed its end.
    rustix::fs::fcntl_setfl(&reader, OFlags::empty()).unwrap();
    stalled_reader_is_survived(p, Box::new(std::fs::File::from(reader)));
}

/// Descriptor 1 is shared with whoever started the server (a shell, a pipeline): its
/// open file description must stay blocking for them.
#[test]
fn access_log_dash_leaves_the_shared_stdout_blocking() {
    use rustix::fs::OFlags;
    let f = site();
    let (mut reader, writer) = std::io::pipe().unwrap();
    let ours = writer.try_clone().unwrap();
    let mut p = Evserve::start_with_stdout(
        &[&root(&f), "--port", "0", "--bind", "127.0.0.1", "--access-log", "-"],
        Stdio::from(writer),
    );
    assert_eq!(get_a(p.addr()).status, 200);
    let mut line = [0u8; 1];
    reader.read_exact(&mut line).unwrap();
    assert!(
        !rustix::fs::fcntl_getfl(&ours).unwrap().contains(OFlags::NONBLOCK),
        "O_NONBLOCK leaked to the shared pipe"
    );
    drop(ours);
    p.signal(Signal::INT);
    assert_eq!(p.wait(Duration::from_secs(10)).code, Some(0));
}

fn stalled_log_args(f: &Fixture) -> Vec<String> {
    let args = ["--port", "0", "--bind", "127.0.0.1", "--access-log", "-", "--stats", "1"];
    std::iter::once(root(f)).chain(args.iter().map(|a| a.to_string())).collect()
}

/// `stdout` is the server's standard output, not read until the end.
fn stalled_reader_is_survived(mut p: Evserve, mut stdout: Box<dyn Read + Send>) {
    const REQUESTS: usize = 1200;
    const BATCH: usize = 20;
    // Lines of about 3 KiB: the pipe (64 KiB) fills after some 20 of them, the log's
    // buffer (1 MiB) after some 350 more; the rest must be dropped, not waited for.
    let ua = "u".repeat(3000);
    let request = format!("GET /a.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: {ua}\r\n\r\n");
    let s = connect(p.addr());
    let mut r = BufReader::new(&s);
    for _ in 0..REQUESTS / BATCH {
        (&s).write_all(request.repeat(BATCH).as_bytes()).unwrap();
        for _ in 0..BATCH {
            assert_eq!(read_response(&mut r, false).status, 200);
        }
    }
    // With the reader still stalled, a new client is answered within the IO deadline.
    assert_eq!(get_a(p.addr()).status, 200);
    assert!(p.line_where(Duration::from_secs(5), |l| l.contains("dropping")).is_some(), "{:#?}", p.seen);
    let shown = p.line_where(Duration::from_secs(5), |l| stat(l, "log-dropped").is_some_and(|n| n > 0.0));
    assert!(shown.is_some(), "no stats line counted the dropped lines: {:#?}", p.seen);

    // The reader wakes up: what was kept arrives, in whole lines.
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).unwrap();
        out
    });
    p.signal(Signal::INT);
    let exit = p.wait(Duration::from_secs(10));
    assert_eq!(exit.code, Some(0), "{:#?}", exit.stderr);
    let out = reader.join().unwrap();
    assert!(out.ends_with('\n'), "a cut line at the end");
    for l in out.lines() {
        let line = parse_log_line(l).unwrap_or_else(|e| panic!("{e}\nin a line of {} bytes", l.len()));
        assert_eq!(line.status, 200);
    }
    let written = out.lines().count();
    let line = summary(&exit);
    let dropped: usize = line
        .strip_suffix(" access-log lines dropped")
        .and_then(|rest| rest.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no dropped count in {line:?}"));
    assert!(dropped > 0 && written > 0, "{written} written, {dropped} dropped");
    assert_eq!(written + dropped, REQUESTS + 1, "every line is written or counted as dropped");
    let notices = p.seen.iter().chain(&exit.stderr).filter(|l| l.contains("dropping")).count();
    assert_eq!(notices, 1, "one stderr line for the episode: {:#?} {:#?}", p.seen, exit.stderr);
}

// ---------------------------------------------------------------------------------------
// 4. Listening addresses

fn get_a(addr: SocketAddr) -> Response {
    let s = connect(addr);
    (&s).write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    read_response(&mut BufReader::new(s), false)
}

fn ipv6_available(addr: &str) -> bool {
    std::net::TcpListener::bind(addr).is_ok()
}

#[test]
fn repeated_bind_serves_every_address() {
    let f = site();
    let v6 = ipv6_available("[::1]:0");
    let mut args = vec![root(&f), "--port".into(), "0".into(), "--bind".into(), "127.0.0.1".into()];
    if v6 {
        args.extend(["--bind".into(), "::1".into()]);
    } else {
        eprintln!("IPv6 half skipped: ::1 cannot be bound here");
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let p = Evserve::start(&args);
    let urls = p.urls();
    assert_eq!(urls.len(), if v6 { 2 } else { 1 }, "{}", p.first_line);
    assert_eq!(urls[0].ip().to_string(), "127.0.0.1", "{}", p.first_line);
    if v6 {
        assert_eq!(urls[1].ip().to_string(), "::1", "{}", p.first_line);
        assert!(p.first_line.contains(" and "), "{}", p.first_line);
    }
    for addr in urls {
        assert_eq!(get_a(addr).body, b"hello world", "via {addr}");
    }
}

#[test]
fn bind_unspecified_ipv6_serves_ipv4_too() {
    if !ipv6_available("[::]:0") {
        eprintln!("skipped: no IPv6 here");
        return;
    }
    let f = site();
    let p = Evserve::start(&[&root(&f), "--port", "0", "--bind", "::"]);
    assert!(p.first_line.contains("(IPv4 too)"), "{}", p.first_line);
    let port = p.addr().port();
    assert_eq!(get_a(SocketAddr::from(([127, 0, 0, 1], port))).body, b"hello world");
    assert_eq!(get_a(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port))).body, b"hello world");
}

/// The start line may only claim "(IPv4 too)" for `::` when IPv4 clients really reach it.
#[test]
fn the_ipv4_too_label_is_true_when_ipv4_is_also_bound() {
    if !ipv6_available("[::]:0") {
        eprintln!("skipped: no IPv6 here");
        return;
    }
    let f = site();
    let p = Evserve::start(&[&root(&f), "--port", "0", "--bind", "::", "--bind", "0.0.0.0"]);
    let urls = p.urls();
    assert_eq!(urls.len(), 2, "{}", p.first_line);
    for addr in &urls {
        assert_eq!(get_a(*addr).body, b"hello world", "via {addr}");
    }
    let v6 = urls.iter().find(|a| a.is_ipv6()).unwrap();
    if p.first_line.contains("(IPv4 too)") {
        let v4 = SocketAddr::from(([127, 0, 0, 1], v6.port()));
        let reached = TcpStream::connect(v4).map(|_| ()).map_err(|e| e.to_string());
        assert!(reached.is_ok(), "{:?} says (IPv4 too), but {v4} is {reached:?}", p.first_line);
    }
}

// ---------------------------------------------------------------------------------------
// 5. Workers

/// The number after `name` in a stats line (`requests 3/s` -> 3, `sent 10 B/s` -> 10).
fn stat(line: &str, name: &str) -> Option<f64> {
    let mut words = line.split_whitespace();
    words.find(|w| *w == name)?;
    words.next()?.trim_end_matches("/s").parse().ok()
}

#[test]
fn two_workers_share_the_connections() {
    const CLIENTS: usize = 32;
    let f = site();
    let mut p = Evserve::start(&[&root(&f), "--port", "0", "--bind", "127.0.0.1", "--workers", "2", "--stats", "1"]);
    assert!(p.first_line.contains("with 2 workers"), "{}", p.first_line);
    // Each connection comes from a new source port, and SO_REUSEPORT hashes the 4-tuple.
    for _ in 0..CLIENTS {
        let mut s = connect(p.addr());
        s.write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        assert!(read_to_close(&mut s).ends_with(b"hello world"));
    }
    // With --stats 1, `requests N/s` is the count of one one-second interval.
    let mut per_worker = [0.0f64; 2];
    let done = p.line_where(Duration::from_secs(6), |l| {
        if let Some(rest) = l.strip_prefix("evserve: stats: ") {
            let worker = stat(rest, "worker").expect("worker id") as usize;
            per_worker[worker] += stat(rest, "requests").expect("requests");
        }
        per_worker.iter().sum::<f64>() >= CLIENTS as f64
    });
    assert!(done.is_some(), "stats counted {per_worker:?} of {CLIENTS} requests: {:#?}", p.seen);
    assert_eq!(per_worker.iter().sum::<f64>(), CLIENTS as f64);
    assert!(per_worker.iter().all(|&n| n > 0.0), "one worker served everything: {per_worker:?}");
    p.signal(Signal::INT);
    let exit = p.wait(Duration::from_secs(10));
    assert_eq!(exit.code, Some(0));
    assert!(summary(&exit).contains(&format!(": {CLIENTS} connections, {CLIENTS} requests, ")), "{:#?}", exit.stderr);
}

// ---------------------------------------------------------------------------------------
// 6. Start-up errors, --help, --version

#[test]
fn bad_flag_values_exit_2_naming_the_flag() {
    let f = site();
    let root = root(&f);
    for (flag, value) in [
        ("--port", "x"),
        ("--port", "70000"),
        ("--workers", "0"),
        ("--workers", "many"),
        ("--max-connections", "0"),
        ("--max-connections", "-5"),
        ("--idle-timeout", "soon"),
        ("--idle-timeout", "-1"),
        ("--header", "No-Colon"),
        ("--header", "Bad Name: x"),
    ] {
        let (code, out, err) = run_to_exit(&[&root, "--bind", "127.0.0.1", flag, value]);
        assert_eq!(code, Some(2), "{flag} {value}: {err}");
        assert_eq!(err.lines().count(), 1, "{flag} {value}: {err}");
        assert!(err.contains(flag), "{flag} {value}: {err}");
        assert!(out.is_empty());
    }
}

#[test]
fn start_up_failures_have_their_own_exit_status() {
    let f = site();
    let root = root(&f);
    let one_line = |err: &str| assert_eq!(err.lines().count(), 1, "{err}");

    let missing = f.path.join("no-such-folder");
    let (code, _, err) = run_to_exit(&[missing.to_str().unwrap(), "--port", "0"]);
    assert_eq!(code, Some(3), "{err}");
    one_line(&err);
    assert!(err.contains(missing.to_str().unwrap()), "{err}");

    let file = f.root().join("a.txt");
    let (code, _, err) = run_to_exit(&[file.to_str().unwrap(), "--port", "0"]);
    assert_eq!(code, Some(3), "{err}");
    one_line(&err);
    assert!(err.contains("not a folder"), "{err}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, _, err) = run_to_exit(&[&root, "--bind", "127.0.0.1", "--port", &port]);
    assert_eq!(code, Some(4), "{err}");
    one_line(&err);
    assert!(err.contains("in use") && err.contains(&port), "{err}");

    // TEST-NET-3 is never a local address: bind fails locally, nothing is sent anywhere.
    let (code, _, err) = run_to_exit(&[&root, "--bind", "203.0.113.1", "--port", "0"]);
    assert_eq!(code, Some(6), "{err}");
    one_line(&err);
    assert!(err.contains("203.0.113.1"), "{err}");
}

/// `--help` text split into one entry per flag (continuation lines joined).
fn help_entries(help: &str) -> Vec<(Vec<String>, String)> {
    let mut entries: Vec<(Vec<String>, String)> = Vec::new();
    for line in help.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.starts_with('-') && indent > 0 {
            let flags = trimmed
                .split_whitespace()
                .take_while(|w| w.starts_with('-'))
                .map(|w| w.trim_end_matches(',').to_string())
                .collect();
            entries.push((flags, trimmed.to_string()));
        } else if indent > 8
            && let Some((_, text)) = entries.last_mut()
        {
            text.push(' ');
            text.push_str(trimmed);
        }
    }
    entries
}

#[test]
fn help_lists_every_flag_with_its_default_and_version_prints_the_version() {
    use evserve::config::{Config, DEFAULT_PORT};
    let (code, help, err) = run_to_exit(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(err.is_empty(), "{err}");
    let entries = help_entries(&help);
    let entry = |flag: &str| {
        entries
            .iter()
            .find(|(flags, _)| flags.iter().any(|f| f == flag))
            .map(|(_, text)| text.as_str())
            .unwrap_or_else(|| panic!("--help lacks {flag}:\n{help}"))
    };
    let c = Config::default();
    let secs = |d: Duration| format!("{}", d.as_secs_f64());
    let with_defaults = [
        ("--port", DEFAULT_PORT.to_string()),
        ("--bind", c.addrs[0].ip().to_string()),
        ("--workers", c.workers.to_string()),
        ("--max-head-bytes", c.limits.max_head_bytes.to_string()),
        ("--max-uri-bytes", c.limits.max_uri_bytes.to_string()),
        ("--max-headers", c.limits.max_headers.to_string()),
        ("--max-body-bytes", c.limits.max_body_bytes.to_string()),
        ("--request-timeout", secs(c.timeouts.request)),
        ("--idle-timeout", secs(c.timeouts.idle)),
        ("--write-timeout", secs(c.timeouts.write_stall)),
        ("--drain-timeout", secs(c.drain_timeout)),
        ("--shutdown-delay", secs(c.shutdown_delay)),
        ("--admin", "off".to_string()),
        ("--cache-ttl", secs(c.cache_ttl)),
        ("--access-log", "off".to_string()),
        ("--stats", "off".to_string()),
        ("--trace", "off".to_string()),
    ];
    for (flag, default) in with_defaults {
        let text = entry(flag);
        let shown = text.split_once("[default: ").and_then(|(_, d)| d.split_once(']')).map(|(d, _)| d);
        assert_eq!(shown, Some(default.as_str()), "{flag}: {text}");
    }
    // Derived from RLIMIT_NOFILE at start, so only its basis is checked.
    assert!(entry("--max-connections").contains("[default: descriptor limit"), "{}", entry("--max-connections"));
    for flag in [
        "-p",
        "-b",
        "--dotfiles",
        "--listing",
        "--spa",
        "--mime",
        "--cache-control",
        "--header",
        "-h",
        "--help",
        "-V",
        "--version",
    ] {
        entry(flag);
    }

    let (code, out, err) = run_to_exit(&["--version"]);
    assert_eq!((code, out.as_str(), err.as_str()), (Some(0), "evserve 0.1.0\n", ""));
}

// ---------------------------------------------------------------------------------------
// 7. --trace

#[test]
fn trace_follows_one_connection_from_accept_to_close() {
    let f = site();
    let mut p = Evserve::start(&[&root(&f), "--port", "0", "--bind", "127.0.0.1", "--trace"]);
    let request = b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";
    let mut s = connect(p.addr());
    let port = s.local_addr().unwrap().port();
    s.write_all(request).unwrap();
    let response = read_response(&mut BufReader::new(&s), false);
    assert_eq!(response.status, 200);
    let response_bytes = response.head.len() + 4 + response.body.len();

    let suffix = format!(": accepted from 127.0.0.1:{port}");
    let accepted = p.line_where(IO_TIMEOUT, |l| l.starts_with("trace: conn ") && l.ends_with(&suffix));
    let accepted = accepted.unwrap_or_else(|| panic!("no accept traced for port {port}: {:#?}", p.seen));
    let prefix = accepted.strip_suffix(&suffix).unwrap().to_string() + ": ";

    // What the connection does with the request, up to waiting for the next one, then
    // what it does when the client leaves.
    let mut steps = Vec::new();
    let mut trace_until = |p: &mut Evserve, last: &str| {
        p.line_where(IO_TIMEOUT, |l| match l.strip_prefix(&prefix) {
            Some(step) => {
                steps.push(step.to_string());
                step.starts_with(last)
            }
            None => false,
        })
        .is_some()
    };
    assert!(trace_until(&mut p, "now idle"), "the connection never went idle");
    drop(s);
    assert!(trace_until(&mut p, "now closed"), "the close was not traced");

    let number = |step: &str, before: &str, after: &str| -> Option<usize> {
        step.strip_prefix(before)?.split_once(after)?.0.parse().ok()
    };
    let expected = [
        "read N bytes",
        "parsed GET",
        "response 200 planned",
        "state ... -> writing",
        "wrote",
        "now idle",
        "read: EOF",
        "now closed",
    ];
    let is = |name: &str, s: &str| match name {
        "read N bytes" => number(s, "read ", " bytes").is_some(),
        "state ... -> writing" => s.starts_with("state ") && s.ends_with(" -> writing"),
        "read: EOF" => s == "read: EOF",
        _ => s.starts_with(name),
    };
    let mut next = 0;
    for step in &steps {
        if next < expected.len() && is(expected[next], step) {
            next += 1;
        }
    }
    assert_eq!(next, expected.len(), "missing {:?} (in this order) in {steps:#?}", expected.get(next));
    // The reads add up to the request, the writes to the response.
    let read: usize = steps.iter().filter_map(|s| number(s, "read ", " bytes")).sum();
    let wrote: usize = steps.iter().filter_map(|s| number(s, "wrote ", " of ")).sum();
    assert_eq!((read, wrote), (request.len(), response_bytes), "{steps:#?}");
}

// ---------------------------------------------------------------------------------------
// 8. --stats

#[test]
fn stats_lines_report_the_loop() {
    let f = site();
    let mut p = Evserve::start(&[&root(&f), "--port", "0", "--bind", "127.0.0.1", "--stats", "1"]);
    // One keep-alive connection that stays open, with one request answered.
    let s = connect(p.addr());
    (&s).write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut BufReader::new(&s), false).status, 200);

    // Every line has every field; over the lines, the connection is counted as open, and
    // its accept and request appear in some interval.
    let fields = ["worker", "open", "accepted", "requests", "sent", "wakeups", "events/wakeup", "timeouts"];
    let (mut lines, mut accepted, mut requests) = (0, 0.0, 0.0);
    let shown = p.line_where(Duration::from_secs(4), |l| {
        if !l.starts_with("evserve: stats: ") {
            return false;
        }
        lines += 1;
        for field in fields {
            assert!(stat(l, field).is_some(), "{field} in {l:?}");
        }
        accepted += stat(l, "accepted").unwrap();
        requests += stat(l, "requests").unwrap();
        accepted == 1.0 && requests == 1.0 && stat(l, "open") == Some(1.0)
    });
    assert!(lines > 0, "no stats line within 4 s: {:#?}", p.seen);
    assert!(shown.is_some(), "stats never showed 1 open, 1 accepted, 1 request: {:#?}", p.seen);
    drop(s);
}
