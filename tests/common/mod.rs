//! Test support: a real evserve on an ephemeral port, fixture folders, and a raw-bytes
//! HTTP client that asserts the exact protocol. No sleeps: every wait has a deadline.
//!
//! - `http`: connect with timeouts, read a response or a head, read to the close;
//! - `process`: the real binary as a child (start, signal, wait for the exit), /proc counters;
//! - `bytes`: byte-slice checks (`contains`, `status_of`, `digest`);
//! - `fuse`: `GateFs`, a real FUSE filesystem over a folder whose reads, opens, stats and
//!   listings can be delayed or held at a gate (`tests/fusefs/`);
//! - `h2`: HTTP/2 frames a client sends (a GET's HEADERS, RST_STREAM, WINDOW_UPDATE);
//! - `rng` and `mock`: a fixed-seed PRNG and an in-memory socket for driving a `Connection`
//!   (std and evserve only, so the fuzz crate can include them with `#[path]`).
//!
//! Everything is re-exported here: `use common::*;`.
#![allow(dead_code, unused_imports)]

pub mod bytes;
pub mod fuse;
pub mod h2;
pub mod http;
pub mod mock;
pub mod process;
pub mod rng;

pub use bytes::*;
pub use http::*;
pub use process::*;
pub use rng::Rng;

use std::io::{self, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
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
