//! Memory of idle HTTPS keep-alive connections held by `tls::TlsStream`.
//!
//! `cargo run --release --example tls_idle -- [N]` (default 3000): a mio loop on 127.0.0.1
//! accepts N TLS connections from a child process (this example run as `client`, so the
//! clients' memory is not counted), answers one request on each, and once all are idle
//! reports the growth of its VmRSS divided by N. The clients connect one after another,
//! as a steady trickle of visitors would, and then all stay open.
use std::alloc::System;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use evserve::net::tls::{self, Pool, TlsStream};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use rustls::pki_types::pem::PemObject;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

/// Counts the Rust heap (aws-lc's own C allocations do not pass through it; VmRSS
/// counts everything).
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const LISTENER: Token = Token(usize::MAX);
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("client") {
        return client(args[2].parse().unwrap(), &args[3], args[4].parse().unwrap());
    }
    let n: usize = args.get(1).map_or(3000, |a| a.parse().unwrap());
    server(n);
}

/// One connection's state beyond the stream: nothing but whether it has been answered.
struct Conn {
    stream: TlsStream<mio::net::TcpStream>,
    answered: bool,
}

fn server(n: usize) {
    let dir = std::env::temp_dir().join(format!("evserve-tls-idle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key, ca) = (dir.join("cert.pem"), dir.join("key.pem"), dir.join("ca.pem"));
    let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap().self_signed(&key_pair).unwrap();
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&ca, leaf.pem()).unwrap();
    std::fs::write(&key, key_pair.serialize_pem()).unwrap();
    let config = tls::Settings::load(&cert, &key, true).unwrap();

    let mut poll = Poll::new().unwrap();
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE).unwrap();
    let addr = listener.local_addr().unwrap();
    let pool = Pool::shared();
    let mut conns: slab::Slab<Conn> = slab::Slab::new();
    let mut events = Events::with_capacity(1024);

    let before = rss_kib();
    let region = Region::new(GLOBAL);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["client", &addr.to_string(), ca.to_str().unwrap(), &n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child_out = BufReader::new(child.stdout.take().unwrap());
    let ready = std::thread::spawn(move || {
        let mut line = String::new();
        child_out.read_line(&mut line).unwrap();
        line
    });

    let deadline = Instant::now() + Duration::from_secs(300);
    let mut answered = 0;
    let mut buf = [0u8; 1024];
    while answered < n || !ready.is_finished() {
        assert!(Instant::now() < deadline, "timed out with {answered} of {n} answered");
        poll.poll(&mut events, Some(Duration::from_millis(50))).unwrap();
        for event in &events {
            if event.token() == LISTENER {
                while let Ok((mut tcp, _)) = listener.accept() {
                    let entry = conns.vacant_entry();
                    poll.registry()
                        .register(&mut tcp, Token(entry.key()), Interest::READABLE | Interest::WRITABLE)
                        .unwrap();
                    let stream = TlsStream::new(tcp, config.clone(), pool.clone()).unwrap();
                    entry.insert(Conn { stream, answered: false });
                }
                continue;
            }
            let Some(conn) = conns.get_mut(event.token().0) else { continue };
            loop {
                match conn.stream.read(&mut buf) {
                    Ok(0) => break,
                    // The client sends its one request in one record.
                    Ok(_) if !conn.answered => {
                        conn.stream.write_all(RESPONSE).unwrap();
                        conn.answered = true;
                        answered += 1;
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("{e}"),
                }
            }
            if conn.stream.wants_write() {
                let _ = conn.stream.flush_own();
            }
        }
    }
    let line = ready.join().unwrap();
    assert_eq!(line.trim(), "ready");
    let pending = conns.iter().filter(|(_, c)| c.stream.wants_write() || c.stream.has_buffered_input()).count();
    let after = rss_kib();
    let heap = region.change();
    let slab = conns.capacity() * (std::mem::size_of::<Conn>() + 8);
    let pooled = pool.borrow().held_bytes() as u64 / 1024;
    let per = (after - before) as f64 / n as f64;
    let per_unpooled = (after - before - pooled.min(after - before)) as f64 / n as f64;
    println!("idle HTTPS connections: {n} (handshake + one request each, resumption on, TLS 1.3)");
    println!("VmRSS before: {before} KiB, after: {after} KiB, growth: {} KiB", after - before);
    println!("per connection: {per:.2} KiB ({per_unpooled:.2} KiB without the {pooled} KiB of free pooled buffers)");
    println!(
        "size_of TlsStream<mio TcpStream>: {} bytes (rustls's connection {}), slab capacity {}",
        std::mem::size_of::<TlsStream<mio::net::TcpStream>>(),
        std::mem::size_of::<rustls::server::UnbufferedServerConnection>(),
        conns.capacity()
    );
    let buffers: usize = conns.iter().map(|(_, c)| c.stream.buffer_bytes()).sum();
    println!("connections with pending state: {pending}; buffer bytes held by connections: {buffers}");
    let live = heap.bytes_allocated as f64 - heap.bytes_deallocated as f64;
    println!(
        "live Rust heap growth per connection: {:.2} KiB in {:.1} allocations, besides the slab's {:.2} KiB \
         of capacity (aws-lc's C heap is not counted here)",
        (live - slab as f64) / 1024.0 / n as f64,
        (heap.allocations as f64 - heap.deallocations as f64) / n as f64,
        slab as f64 / 1024.0 / n as f64,
    );
    drop(child.stdin.take());
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

fn client(addr: SocketAddr, ca: &str, n: usize) {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca).unwrap();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Every client is a new visitor: full handshakes.
    config.resumption = rustls::client::Resumption::disabled();
    let config = Arc::new(config);
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let conn = rustls::ClientConnection::new(config.clone(), "localhost".try_into().unwrap()).unwrap();
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        stream.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        let mut got = Vec::new();
        while !got.ends_with(b"hello") {
            let mut buf = [0u8; 256];
            let k = stream.read(&mut buf).unwrap();
            assert!(k > 0, "server closed");
            got.extend_from_slice(&buf[..k]);
        }
        held.push(stream);
    }
    println!("ready");
    std::io::stdout().flush().unwrap();
    // Hold the connections until the parent closes our stdin.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(held);
}
