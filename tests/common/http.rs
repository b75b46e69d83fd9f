//! The raw-bytes HTTP client of the tests: connect with timeouts, read a response (or just
//! its head), read to the close, tell whether the server closed.
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

use super::IO_TIMEOUT;
use super::bytes::status_of;

/// A connection whose every read and write fails after `IO_TIMEOUT` instead of hanging.
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
    let head = read_head_lines(r);
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

/// The head's lines up to the blank line, each checked to end in CRLF, joined by CRLF.
fn read_head_lines<R: Read>(r: &mut BufReader<R>) -> String {
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
    head.trim_end().to_string()
}

/// Reads a response head byte by byte (so nothing after it is taken from `r`) and returns
/// the status and Content-Length.
pub fn read_head(r: &mut impl Read) -> (u16, u64) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = r.read(&mut byte).expect("read response head");
        assert_eq!(n, 1, "closed before the head ended: {:?}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).expect("an ASCII head");
    let status = status_of(head.as_bytes()).unwrap_or_else(|| panic!("bad head {head:?}"));
    let len = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("content-length")))
        .map(|(_, v)| v.trim().parse().unwrap())
        .unwrap_or_else(|| panic!("no Content-Length in {head:?}"));
    (status, len)
}

/// Sends `raw` on a fresh connection and reads one response; the reader is returned so
/// the caller can check what follows it.
pub fn send_raw(addr: SocketAddr, raw: &[u8]) -> (Response, BufReader<TcpStream>) {
    let mut s = connect(addr);
    s.write_all(raw).unwrap();
    let mut r = BufReader::new(s);
    let response = read_response(&mut r, raw.starts_with(b"HEAD "));
    (response, r)
}

/// Reads until the server closes the connection; fails if it does not within the timeout.
pub fn read_to_close(s: &mut impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("server should close the connection");
    out
}

/// Reads until the server closes (EOF or reset): Ok(bytes). Err(bytes) if the read
/// timeout passed first.
pub fn read_until_close(s: &mut impl Read) -> Result<Vec<u8>, Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => return Err(out),
            Err(_) => return Ok(out),
        }
    }
}

/// True when the server closes the connection (EOF or reset) before the read timeout;
/// bytes still in flight are read and dropped.
pub fn closed(s: &mut TcpStream) -> bool {
    read_until_close(s).is_ok()
}

/// True when the server sends nothing more and closes the connection (EOF or reset
/// within the read timeout).
pub fn then_closed(r: &mut BufReader<TcpStream>) -> bool {
    r.buffer().is_empty() && read_until_close(r.get_mut()).is_ok_and(|rest| rest.is_empty())
}
