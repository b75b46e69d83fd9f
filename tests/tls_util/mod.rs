//! TLS test support: certificates made at test time (rcgen, ECDSA P-256; no key is
//! committed), a rustls client over a blocking socket, and a one-connection server that
//! drives a `TlsStream` the way an edge-triggered loop must (mio, read until WouldBlock,
//! honour `has_buffered_input` / `wants_write`). Every wait has a deadline.
#![allow(dead_code)]

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use evserve::net::tls::{self, Pool, Socket, TlsStream};
use mio::{Events, Interest, Poll, Token};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, StreamOwned};

pub const DEADLINE: Duration = Duration::from_secs(20);

/// A CA and a `localhost` leaf signed by it, written as PEM files in a temp folder.
pub struct Pki {
    pub dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: CertificateDer<'static>,
    pub leaf_key_pkcs8: Vec<u8>,
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn temp_dir(tag: &str) -> PathBuf {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("evserve-tls-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Pki {
    pub fn new() -> Pki {
        let dir = temp_dir("pki");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "evserve test CA");
        let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let leaf_params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
        let cert = dir.join("chain.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, format!("{}{}", leaf.pem(), ca.pem())).unwrap();
        std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
        Pki { dir, cert, key, ca: ca.der().clone(), leaf_key_pkcs8: leaf_key.serialize_der() }
    }

    pub fn server_config(&self, resumption: bool) -> Arc<ServerConfig> {
        tls::Settings::load(&self.cert, &self.key, resumption).unwrap()
    }

    /// The first bytes a rustls client sends: its ClientHello record.
    pub fn client_hello(&self) -> Vec<u8> {
        let name = ServerName::try_from("localhost").unwrap();
        let mut client = ClientConnection::new(self.client_config(&[b"http/1.1"]), name).unwrap();
        let mut hello = Vec::new();
        client.write_tls(&mut hello).unwrap();
        hello
    }

    pub fn client_config(&self, alpn: &[&[u8]]) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).unwrap();
        let mut config = ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }
}

/// The client's socket: optionally sends one byte per `write(2)`.
pub struct ClientSock {
    pub tcp: TcpStream,
    pub trickle: bool,
}

impl Read for ClientSock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.read(buf)
    }
}

impl Write for ClientSock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = if self.trickle { buf.len().min(1) } else { buf.len() };
        self.tcp.write(&buf[..n])
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

pub type Client = StreamOwned<ClientConnection, ClientSock>;

pub fn connect(addr: SocketAddr, config: &Arc<ClientConfig>, trickle: bool) -> Client {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(DEADLINE)).unwrap();
    tcp.set_write_timeout(Some(DEADLINE)).unwrap();
    tcp.set_nodelay(true).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = ClientConnection::new(config.clone(), name).unwrap();
    StreamOwned::new(conn, ClientSock { tcp, trickle })
}

/// Reads one response (head with Content-Length, then the body) from `r`.
pub fn read_response(r: &mut impl Read) -> io::Result<(String, Vec<u8>)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if r.read(&mut byte)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let len: usize =
        head.lines().find_map(|l| l.strip_prefix("Content-Length: ")).map(|v| v.trim().parse().unwrap()).unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok((head, body))
}

/// The server's socket under test: mio's stream, optionally reading at most `max_read`
/// bytes per call and refusing writes (WouldBlock) once `writes_left` calls are used.
pub struct TestSocket {
    pub tcp: mio::net::TcpStream,
    pub max_read: usize,
    pub writes_left: Rc<Cell<usize>>,
    /// Bytes the socket took.
    pub written: Rc<Cell<usize>>,
}

impl Read for TestSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.max_read);
        self.tcp.read(&mut buf[..n])
    }
}

impl Write for TestSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.writes_left.get() {
            0 => return Err(io::ErrorKind::WouldBlock.into()),
            n => self.writes_left.set(n - 1),
        }
        let n = self.tcp.write(buf)?;
        self.written.set(self.written.get() + n);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Socket for TestSocket {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.tcp.shutdown(std::net::Shutdown::Write)
    }
}

/// Accepts one connection on `listener` and wraps it, registered edge-triggered.
pub fn accept(listener: &TcpListener, config: Arc<ServerConfig>, max_read: usize) -> (Poll, TlsStream<TestSocket>) {
    accept_with(listener, config, max_read, Pool::shared())
}

/// `accept` with the loop's pool given (and its settings).
pub fn accept_with(
    listener: &TcpListener,
    config: Arc<ServerConfig>,
    max_read: usize,
    pool: evserve::net::tls::SharedPool,
) -> (Poll, TlsStream<TestSocket>) {
    let (tcp, _) = listener.accept().unwrap();
    tcp.set_nonblocking(true).unwrap();
    let mut tcp = mio::net::TcpStream::from_std(tcp);
    let poll = Poll::new().unwrap();
    poll.registry().register(&mut tcp, Token(0), Interest::READABLE | Interest::WRITABLE).unwrap();
    let socket = TestSocket { tcp, max_read, writes_left: Rc::new(Cell::new(usize::MAX)), written: Rc::default() };
    (poll, TlsStream::new(socket, config, pool).unwrap())
}

/// What the one-connection server saw.
#[derive(Debug, Default)]
pub struct Report {
    pub summary: Option<String>,
    pub requests: usize,
    /// The error that ended the connection (Debug); `plain_http` when it was one.
    pub error: Option<String>,
    pub plain_http: bool,
    pub timed_out: bool,
}

/// The server's answers: `/small` a short body, `/file` the file (head by `write_more`,
/// body by `send_file`), anything else 404.
pub struct App {
    pub file: Option<PathBuf>,
}

enum Out {
    Bytes(Vec<u8>, bool),
    File(File, u64, u64),
}

fn respond(app: &App, request: &[u8], out: &mut Vec<Out>) {
    let line = String::from_utf8_lossy(request);
    let path = line.split(' ').nth(1).unwrap_or("");
    match (path, &app.file) {
        ("/small", _) => out.push(Out::Bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec(), false)),
        ("/file", Some(file)) => {
            let file = File::open(file).unwrap();
            let len = file.metadata().unwrap().len();
            out.push(Out::Bytes(format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n").into_bytes(), true));
            out.push(Out::File(file, 0, len));
        }
        _ => out.push(Out::Bytes(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(), false)),
    }
}

/// Serves one connection until the peer closes, an error, or the deadline.
pub fn serve(app: App, mut poll: Poll, mut stream: TlsStream<TestSocket>) -> Report {
    let mut report = Report::default();
    let deadline = Instant::now() + DEADLINE;
    let mut events = Events::with_capacity(8);
    let (mut readable, mut writable) = (true, true);
    let mut input = Vec::new();
    let mut out: Vec<Out> = Vec::new();
    let mut eof = false;
    let mut buf = [0u8; 1024];
    loop {
        // Read until WouldBlock (or a short read, which proves the socket drained).
        while !eof && (readable || stream.has_buffered_input()) {
            match stream.read(&mut buf) {
                Ok(0) => eof = true,
                Ok(n) => {
                    input.extend_from_slice(&buf[..n]);
                    if n < buf.len() {
                        readable = false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => readable = false,
                Err(e) if tls::is_plain_http(&e) => {
                    report.plain_http = true;
                    let refusal = tls::plain_http_refusal(stream.plain_http_host().as_deref());
                    out.push(Out::Bytes(refusal, false));
                    eof = true; // read no more requests; drained below
                }
                Err(e) => {
                    report.error = Some(format!("{e:?}"));
                    return report;
                }
            }
        }
        if report.summary.is_none() {
            report.summary = stream.handshake_summary();
        }
        while let Some(end) = input.windows(4).position(|w| w == b"\r\n\r\n") {
            let request: Vec<u8> = input.drain(..end + 4).collect();
            if !report.plain_http {
                report.requests += 1;
                respond(&app, &request, &mut out);
            }
        }
        // Write until WouldBlock.
        while writable && !out.is_empty() {
            let result = match &mut out[0] {
                Out::Bytes(bytes, more) => {
                    let r = if *more { stream.write_more(bytes) } else { stream.write(bytes) };
                    r.map(|n| {
                        bytes.drain(..n);
                        bytes.is_empty()
                    })
                }
                Out::File(file, offset, left) => {
                    let want = (*left).min(2 * 1024 * 1024) as usize;
                    stream.send_file(file, *offset, want).map(|n| {
                        assert!(n > 0 || want == 0, "the file ended early");
                        *offset += n as u64;
                        *left -= n as u64;
                        *left == 0
                    })
                }
            };
            match result {
                Ok(true) => {
                    out.remove(0);
                }
                Ok(false) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => writable = false,
                Err(e) => {
                    report.error = Some(format!("{e:?}"));
                    return report;
                }
            }
        }
        if writable && stream.wants_write() {
            match stream.flush_own() {
                Ok(done) => writable = done,
                Err(e) => {
                    report.error = Some(format!("{e:?}"));
                    return report;
                }
            }
        }
        if eof && out.is_empty() && !stream.wants_write() {
            let _ = stream.shutdown_write();
            // Lingering close: flush, then read what the client sent until it closes.
            while Instant::now() < deadline {
                if stream.wants_write() && !stream.flush_own().unwrap_or(true) {
                    poll.poll(&mut events, Some(deadline - Instant::now())).unwrap();
                    continue;
                }
                match stream.read(&mut buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        poll.poll(&mut events, Some(deadline - Instant::now())).unwrap();
                    }
                    Ok(0) | Err(_) => return report,
                    Ok(_) => {}
                }
            }
            report.timed_out = true;
            return report;
        }
        let busy = (readable || stream.has_buffered_input()) && !eof;
        if busy {
            continue;
        }
        let now = Instant::now();
        if now >= deadline {
            report.timed_out = true;
            return report;
        }
        poll.poll(&mut events, Some(deadline - now)).unwrap();
        for event in &events {
            readable |= event.is_readable() || event.is_read_closed();
            writable |= event.is_writable() || event.is_error();
        }
    }
}

/// Spawns a server thread for one connection; returns its address and the report.
pub fn spawn(config: Arc<ServerConfig>, app: App, max_read: usize) -> (SocketAddr, JoinHandle<Report>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (poll, stream) = accept(&listener, config, max_read);
        serve(app, poll, stream)
    });
    (addr, handle)
}
