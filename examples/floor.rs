//! The floor: the least mio loop that speaks HTTP/1.1 keep-alive, and evserve's yardstick
//! (a server doing real work cannot spend less CPU per request than this). Every request
//! gets one fixed in-memory `200 OK`; nothing is parsed but where a request ends (`\r\n\r\n`;
//! bodiless requests, as wrk and h2load send). Edge-triggered: epoll reports a socket once
//! when it *becomes* readable or writable, not again while it stays so, so each handler
//! uses up what it was told (accept, read or write until the kernel says "would block").
//! Run: `cargo run --release --example floor -- --port 8080 --body-bytes 1024`.

use std::io::{self, ErrorKind, Read, Write};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

/// The listener's token; connections use their slab key, which never gets this large.
const LISTENER: Token = Token(usize::MAX);

/// One client. Requests are never stored, only how far the input has got into a
/// `\r\n\r\n`, so a terminator split across two reads still counts.
struct Conn {
    stream: TcpStream,
    /// Bytes of `\r\n\r\n` at the end of the input so far (0..=3).
    matched: usize,
    /// Response bytes the kernel has not taken yet, kept until the writable edge.
    unsent: Vec<u8>,
}

impl Conn {
    /// Handles one readiness event: writes what is owed, then reads until the socket is
    /// drained, answering each read's requests in one write (N pipelined requests, N
    /// responses). While bytes are unsent, nothing is read (backpressure). Err: close.
    fn on_event(&mut self, buf: &mut [u8], response: &[u8], read_closed: bool) -> io::Result<()> {
        self.flush()?;
        while self.unsent.is_empty() {
            let n = match self.stream.read(buf) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()), // the client closed
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                result => result?,
            };
            self.answer(&buf[..n], response);
            self.flush()?;
            // A short read proves the socket drained as surely as WouldBlock (epoll(7)),
            // one system call sooner. After the peer's FIN no edge will follow: read to EOF.
            if n < buf.len() && !read_closed {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Queues one response per `\r\n\r\n` in `bytes`; a partial match carries over.
    fn answer(&mut self, bytes: &[u8], response: &[u8]) {
        for &b in bytes {
            self.matched = match (self.matched, b) {
                (0 | 2, b'\r') | (1, b'\n') => self.matched + 1,
                (3, b'\n') => {
                    self.unsent.extend_from_slice(response);
                    0
                }
                (_, b'\r') => 1, // "\r\r": the second \r may start a terminator afresh
                _ => 0,
            };
        }
    }

    /// Writes the unsent bytes, once: whatever the kernel did not take means its buffer is
    /// full, and asking again would only return WouldBlock. The writable edge comes next.
    fn flush(&mut self) -> io::Result<()> {
        if !self.unsent.is_empty() {
            match self.stream.write(&self.unsent) {
                Ok(n) => drop(self.unsent.drain(..n)),
                Err(e) if e.kind() != ErrorKind::WouldBlock => return Err(e),
                Err(_) => {}
            }
        }
        Ok(())
    }
}

/// Accepts until WouldBlock: one edge announced the whole queue of new clients.
fn accept_all(listener: &TcpListener, poll: &Poll, conns: &mut Slab<Conn>) {
    loop {
        match listener.accept() {
            Ok((mut stream, _)) => {
                // Registered once for both directions: no epoll_ctl per request after this.
                let entry = conns.vacant_entry();
                let both = Interest::READABLE | Interest::WRITABLE;
                if poll.registry().register(&mut stream, Token(entry.key()), both).is_ok() {
                    let _ = stream.set_nodelay(true); // as evserve: no Nagle delay
                    entry.insert(Conn { stream, matched: 0, unsent: Vec::new() });
                }
            }
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => {} // gave up while queued
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) => return eprintln!("floor: accept: {e}"), // e.g. out of descriptors
        }
    }
}

/// `--port N` (0: any free port; default 8080) and `--body-bytes N` (default 1024).
fn flags() -> (u16, usize) {
    let (mut port, mut body_bytes, mut args) = (8080, 1024, std::env::args().skip(1));
    while let (Some(flag), value) = (args.next(), args.next().unwrap_or_default()) {
        match flag.as_str() {
            "--port" => port = value.parse().expect("--port takes 0..=65535"),
            "--body-bytes" => body_bytes = value.parse().expect("--body-bytes takes a byte count"),
            _ => panic!("usage: floor [--port N] [--body-bytes N]"),
        }
    }
    (port, body_bytes)
}

fn main() -> io::Result<()> {
    let (port, body_bytes) = flags();
    // The one response, its head close to evserve's in size.
    let response = format!(
        "HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Type: application/octet-stream\r\nContent-Length: \
         {body_bytes}\r\nX-Content-Type-Options: nosniff\r\nETag: \"floor-{body_bytes}\"\r\n\r\n{}",
        "x".repeat(body_bytes)
    );
    let mut listener = TcpListener::bind(([127, 0, 0, 1], port).into())?;
    eprintln!("floor: listening on http://{}/", listener.local_addr()?);
    let mut poll = Poll::new()?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    let (mut events, mut conns) = (Events::with_capacity(1024), Slab::new());
    let mut buf = vec![0; 64 * 1024]; // shared by all: requests are counted, never kept
    loop {
        match poll.poll(&mut events, None) {
            Err(e) if e.kind() != ErrorKind::Interrupted => return Err(e),
            _ => {}
        }
        for event in &events {
            let Token(key) = event.token();
            if event.token() == LISTENER {
                accept_all(&listener, &poll, &mut conns);
            } else if let Some(conn) = conns.get_mut(key)
                && conn.on_event(&mut buf, response.as_bytes(), event.is_read_closed()).is_err()
            {
                conns.remove(key); // dropping the stream closes it and leaves the epoll set
            }
        }
    }
}
