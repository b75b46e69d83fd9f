//! Test support: a real evserve on an ephemeral port, fixture folders, and a raw-bytes
//! HTTP client that asserts the exact protocol. No sleeps: every wait has a deadline.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use evserve::config::Config;
use evserve::server::{Handle, Server, Summary};

/// How long any single client read or write may take before the test fails.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A folder under the system temp dir, removed on drop.
pub struct Fixture {
    pub path: PathBuf,
}

impl Fixture {
    pub fn new() -> Fixture {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("evserve-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(path.join("root")).unwrap();
        Fixture { path }
    }

    /// The served folder.
    pub fn root(&self) -> PathBuf {
        self.path.join("root")
    }

    /// Writes a file under the root (creating folders).
    pub fn file(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, contents).unwrap();
        p
    }

    /// Writes a file next to (outside) the root.
    pub fn outside(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path.join(name);
        std::fs::write(&p, contents).unwrap();
        p
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// An in-process server on 127.0.0.1:0, stopped and joined on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    handle: Handle,
    thread: Option<JoinHandle<io::Result<Summary>>>,
}

impl TestServer {
    pub fn start(root: &Path) -> TestServer {
        Self::with(root, |_| {})
    }

    /// Starts with a default config adjusted by `tweak`.
    pub fn with(root: &Path, tweak: impl FnOnce(&mut Config)) -> TestServer {
        // Tests change files between requests and expect to see it: re-check every request.
        let mut config = Config {
            root: root.to_path_buf(),
            addrs: vec!["127.0.0.1:0".parse().unwrap()],
            cache_ttl: Duration::ZERO,
            ..Config::default()
        };
        tweak(&mut config);
        let server = Server::bind(&config).expect("bind");
        let addr = server.local_addrs()[0];
        let handle = server.handle();
        let thread = std::thread::Builder::new().name("evserve-test".into()).spawn(move || server.run()).unwrap();
        TestServer { addr, handle, thread: Some(thread) }
    }

    /// Stops gracefully and returns the run's totals.
    pub fn stop(mut self) -> Summary {
        self.handle.shutdown();
        self.thread.take().unwrap().join().unwrap().unwrap()
    }

    pub fn connect(&self) -> TcpStream {
        connect(self.addr)
    }

    /// One request on a fresh connection, one response back.
    pub fn get(&self, raw: &str) -> Response {
        let mut s = self.connect();
        s.write_all(raw.as_bytes()).unwrap();
        read_response(&mut BufReader::new(s), raw.starts_with("HEAD "))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.handle.shutdown();
            let _ = t.join();
        }
    }
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// The raw head, status line included, without the final blank line.
    pub head: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response: the head, then `Content-Length` bytes (none for HEAD, 1xx, 204, 304).
pub fn read_response<R: Read>(r: &mut BufReader<R>, head_request: bool) -> Response {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).expect("read response head");
        assert!(n > 0, "connection closed before a complete response head; got {head:?}");
        if line == "\r\n" {
            break;
        }
        assert!(line.ends_with("\r\n"), "head line without CRLF: {line:?}");
        head.push_str(&line);
    }
    let head = head.trim_end().to_string();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "status line {status_line:?}");
    let status: u16 = status_line[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').expect("header line");
            (n.to_string(), v.trim().to_string())
        })
        .collect();
    let mut response = Response { status, head: head.clone(), headers, body: Vec::new() };
    if head_request || status < 200 || status == 204 || status == 304 {
        return response;
    }
    let len: usize = response.header("Content-Length").expect("Content-Length").parse().unwrap();
    let mut body = vec![0; len];
    r.read_exact(&mut body).expect("read body");
    response.body = body;
    response
}

/// Reads until the server closes the connection; fails if it does not within the timeout.
pub fn read_to_close(s: &mut impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("server should close the connection");
    out
}

/// True when the server closes the connection (EOF or reset) before the read timeout;
/// bytes still in flight are read and dropped.
pub fn closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
}

/// Polls `check` until it returns true or `within` passes.
pub fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::yield_now();
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The real `evserve` binary, started with `args`; its first stderr line is read to learn
/// the address it listens on.
pub struct Process {
    pub child: Child,
    pub addr: Option<SocketAddr>,
    pub stderr: BufReader<std::process::ChildStderr>,
    pub first_line: String,
}

impl Process {
    pub fn spawn(args: &[&str]) -> Process {
        Self::spawn_with(Command::new(env!("CARGO_BIN_EXE_evserve")).args(args))
    }

    pub fn spawn_with(cmd: &mut Command) -> Process {
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut first_line = String::new();
        stderr.read_line(&mut first_line).unwrap();
        let addr =
            first_line.split("http://").nth(1).and_then(|rest| rest.split('/').next()).and_then(|a| a.parse().ok());
        Process { child, addr, stderr, first_line }
    }

    /// Sends a signal by number (2 = SIGINT, 15 = SIGTERM).
    pub fn signal(&self, sig: i32) {
        let status = Command::new("kill").arg(format!("-{sig}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
    }

    /// Waits for exit (failing after `within`) and returns the status code and the rest of stderr.
    pub fn wait(mut self, within: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut rest = String::new();
                self.stderr.read_to_string(&mut rest).unwrap();
                return (status.code(), rest);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("evserve did not exit within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A simple FNV-1a digest for comparing large bodies without keeping two copies.
pub fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3))
}
