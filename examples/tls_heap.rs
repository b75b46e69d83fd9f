//! Heap that one idle HTTPS connection keeps in the server after a handshake and one
//! request: a counting allocator around the server's calls only (the client runs in the
//! same thread, outside the counted windows). `cargo run --release --example tls_heap`.
use std::alloc::System;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use evserve::net::tls::{Pool, Settings, Socket, TlsStream};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

struct Sock(UnixStream);
impl Read for Sock {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        self.0.read(b)
    }
}
impl Write for Sock {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
impl Socket for Sock {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.0.shutdown(std::net::Shutdown::Write)
    }
}

/// Net bytes and live allocations added by `f` (the client's work is outside these windows).
fn counted<T>(net: &mut (isize, isize), f: impl FnOnce() -> T) -> T {
    let region = Region::new(GLOBAL);
    let out = f();
    let c = region.change();
    net.0 += c.bytes_allocated as isize - c.bytes_deallocated as isize;
    net.1 += c.allocations as isize - c.deallocations as isize;
    out
}

fn main() {
    let dir = std::env::temp_dir().join(format!("evserve-tls-heap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap().self_signed(&key).unwrap();
    std::fs::write(dir.join("c.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("k.pem"), key.serialize_pem()).unwrap();
    let resumption = std::env::args().nth(1).as_deref() != Some("--no-resumption");
    let config = Settings::load(&dir.join("c.pem"), &dir.join("k.pem"), resumption).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let mut cc = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    cc.alpn_protocols = vec![b"http/1.1".to_vec()];
    let cc = Arc::new(cc);
    let pool = Pool::shared();
    const N: usize = 200;
    let mut net = (0isize, 0isize);
    let mut held = Vec::new();
    for i in 0..N + 10 {
        // The first connections fill the pool and rustls's caches: not counted.
        if i == 10 {
            net = (0, 0);
        }
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        let mut server = counted(&mut net, || Box::new(TlsStream::new(Sock(a), config.clone(), pool.clone()).unwrap()));
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut client = rustls::ClientConnection::new(cc.clone(), name).unwrap();
        let mut csock = b;
        client.writer().write_all(b"GET / HTTP/1.1\r\nHost: l\r\n\r\n").unwrap();
        let mut got_request = false;
        let mut got_response = false;
        let mut buf = [0u8; 4096];
        for _ in 0..100 {
            while client.wants_write() {
                if client.write_tls(&mut csock).is_err() {
                    break;
                }
            }
            let r = counted(&mut net, || server.read(&mut buf));
            if let Ok(n) = r
                && n > 0
            {
                got_request = true;
                counted(&mut net, || server.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").unwrap());
            }
            counted(&mut net, || server.flush_own().unwrap());
            let _ = client.read_tls(&mut csock);
            client.process_new_packets().unwrap();
            let mut plain = [0u8; 256];
            if let Ok(n) = client.reader().read(&mut plain) {
                got_response |= n > 0;
            }
            if got_request && got_response && !client.is_handshaking() {
                break;
            }
        }
        assert!(got_request && got_response, "conn {i}");
        assert_eq!(server.buffer_bytes(), 0, "idle: no pooled buffer held");
        held.push((server, client, csock));
    }
    println!(
        "per idle TLS connection: {:.0} bytes of heap in {:.1} allocations (Box<TlsStream> {} bytes of it; resumption {resumption})",
        net.0 as f64 / N as f64,
        net.1 as f64 / N as f64,
        std::mem::size_of::<TlsStream<Sock>>()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
