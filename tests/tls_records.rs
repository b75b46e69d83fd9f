//! The shape of what `TlsStream` writes: a head and a small body in one record, file
//! bodies in full 16 KiB records, several records per `write(2)`. In memory, against a
//! rustls client, so every write call is seen.
mod tls_util;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::rc::Rc;

use evserve::net::tls::{self, Pool, TlsStream};
use rustls::ClientConnection;
use tls_util::{Pki, temp_dir};

#[derive(Default)]
struct Wire {
    to_server: VecDeque<u8>,
    /// Each `write` call the server made, in order.
    writes: Vec<Vec<u8>>,
}

struct MemSocket(Rc<RefCell<Wire>>);

impl Read for MemSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut wire = self.0.borrow_mut();
        if wire.to_server.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(wire.to_server.len());
        for (i, b) in wire.to_server.drain(..n).enumerate() {
            buf[i] = b;
        }
        Ok(n)
    }
}

impl Write for MemSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().writes.push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tls::Socket for MemSocket {
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A finished handshake: the server stream, the client, the wire between them (emptied).
fn handshake(pki: &Pki) -> (TlsStream<MemSocket>, ClientConnection, Rc<RefCell<Wire>>) {
    let wire = Rc::new(RefCell::new(Wire::default()));
    let mut server = TlsStream::new(MemSocket(wire.clone()), pki.server_config(true), Pool::shared()).unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut client = ClientConnection::new(pki.client_config(&[b"http/1.1"]), name).unwrap();
    for _ in 0..10 {
        let mut out = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut out).unwrap();
        }
        wire.borrow_mut().to_server.extend(out);
        let mut buf = [0u8; 64];
        let read = server.read(&mut buf);
        assert!(matches!(&read, Err(e) if e.kind() == io::ErrorKind::WouldBlock), "{read:?}");
        deliver(&wire, &mut client);
        if !client.is_handshaking() && !server.is_handshaking() {
            return (server, client, wire);
        }
    }
    panic!("the handshake did not finish");
}

/// Hands the server's writes to the client; returns the plaintext they carried.
fn deliver(wire: &Rc<RefCell<Wire>>, client: &mut ClientConnection) -> Vec<u8> {
    let bytes: Vec<u8> = wire.borrow_mut().writes.drain(..).flatten().collect();
    let mut slice = &bytes[..];
    let mut plain = Vec::new();
    while !slice.is_empty() {
        client.read_tls(&mut slice).unwrap();
        client.process_new_packets().unwrap();
        match client.reader().read_to_end(&mut plain) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    plain
}

/// The payload lengths of the TLS records in one write.
fn records(write: &[u8]) -> Vec<usize> {
    let mut lens = Vec::new();
    let mut at = 0;
    while at < write.len() {
        assert_eq!(write[at], 0x17, "application data");
        let len = u16::from_be_bytes([write[at + 3], write[at + 4]]) as usize;
        lens.push(len);
        at += 5 + len;
    }
    assert_eq!(at, write.len(), "whole records per write");
    lens
}

/// TLS 1.3 with AES-GCM: a record carries its content type (1 byte) and a 16-byte tag.
const OVERHEAD: usize = 17;

#[test]
fn a_head_and_a_small_body_go_in_one_record_and_one_write() {
    let pki = Pki::new();
    let (mut server, mut client, wire) = handshake(&pki);
    let dir = temp_dir("records");
    let path = dir.join("small.txt");
    std::fs::write(&path, b"hello").unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    assert_eq!(server.write_more(head).unwrap(), head.len());
    assert!(wire.borrow().writes.is_empty(), "the head waits for its body");
    assert_eq!(server.send_file(&file, 0, 5).unwrap(), 5);
    assert!(!server.wants_write());
    let writes = wire.borrow().writes.clone();
    assert_eq!(writes.len(), 1);
    assert_eq!(records(&writes[0]), vec![head.len() + 5 + OVERHEAD]);
    let plain = deliver(&wire, &mut client);
    assert_eq!(plain, [&head[..], b"hello"].concat());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn file_bodies_go_in_full_records_several_per_write() {
    let pki = Pki::new();
    let (mut server, mut client, wire) = handshake(&pki);
    let dir = temp_dir("records");
    let path = dir.join("big.bin");
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n";
    server.write_more(head).unwrap();
    assert_eq!(server.send_file(&file, 0, content.len()).unwrap(), content.len());
    let writes = wire.borrow().writes.clone();
    let per_write: Vec<Vec<usize>> = writes.iter().map(|w| records(w)).collect();
    let all: Vec<usize> = per_write.iter().flatten().copied().collect();
    let total = head.len() + content.len();
    assert_eq!(all.len(), total.div_ceil(16384));
    for len in &all[..all.len() - 1] {
        assert_eq!(*len, 16384 + OVERHEAD, "a full record");
    }
    assert_eq!(all[all.len() - 1], total % 16384 + OVERHEAD);
    for write in &per_write[..per_write.len() - 1] {
        assert_eq!(write.len(), 4, "four records per write");
    }
    let plain = deliver(&wire, &mut client);
    assert!(plain == [&head[..], &content].concat(), "the bytes arrive intact");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_plain_write_is_a_flush_point() {
    let pki = Pki::new();
    let (mut server, mut client, wire) = handshake(&pki);
    server.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
    assert_eq!(wire.borrow().writes.len(), 1);
    assert!(!server.wants_write());
    assert_eq!(deliver(&wire, &mut client), b"HTTP/1.1 204 No Content\r\n\r\n");
}
