//! Response heads rendered straight into the connection's output buffer, the cached
//! `Date` value, and the small HTML bodies of error responses. Pure: no I/O.
use std::time::{SystemTime, UNIX_EPOCH};

/// The `Server` field value.
pub const SERVER: &str = concat!("evserve/", env!("CARGO_PKG_VERSION"));

/// The methods every resource allows (for `Allow` on 405 and OPTIONS).
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

/// The reason phrase of each status the server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// The `Date` value, rendered once per second rather than once per response.
#[derive(Debug, Clone)]
pub struct DateCache {
    second: u64,
    text: String,
}

impl Default for DateCache {
    fn default() -> Self {
        let mut cache = DateCache { second: u64::MAX, text: String::new() };
        cache.update(SystemTime::now());
        cache
    }
}

impl DateCache {
    /// Re-renders the date if the second changed; called once per loop turn.
    pub fn update(&mut self, now: SystemTime) {
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second {
            self.second = second;
            self.text = httpdate::fmt_http_date(now);
        }
    }

    pub fn get(&self) -> &str {
        &self.text
    }
}

/// Writes `HTTP/1.1 <status> <reason>`, `Date` and `Server`.
pub fn status_line(out: &mut Vec<u8>, status: u16, date: &str) {
    if status == 200 {
        out.extend_from_slice(OK_LINE); // Most responses: one copy.
    } else {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(&status_digits(status));
        out.push(b' ');
        out.extend_from_slice(reason(status).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Date: ");
    out.extend_from_slice(date.as_bytes());
    out.extend_from_slice(SERVER_LINE);
}

/// The status line of a 200, as the general case renders it (a test checks).
const OK_LINE: &[u8] = b"HTTP/1.1 200 OK\r\n";

/// The end of the `Date` line and the whole `Server` line.
const SERVER_LINE: &[u8] = concat!("\r\nServer: evserve/", env!("CARGO_PKG_VERSION"), "\r\n").as_bytes();

/// A status code's three digits (every code is 100..=999).
fn status_digits(status: u16) -> [u8; 3] {
    debug_assert!((100..1000).contains(&status), "status {status}");
    let digit = |n: u16| b'0' + (n % 10) as u8;
    [digit(status / 100), digit(status / 10), digit(status)]
}

/// The fields that say what a representation is: its media type, length and nosniff.
pub fn entity_fields(out: &mut Vec<u8>, content_type: &str, len: u64) {
    header(out, "Content-Type", content_type);
    header_u64(out, "Content-Length", len);
    header(out, "X-Content-Type-Options", "nosniff");
}

/// A representation's validators and how it was chosen: `ETag`, `Last-Modified`, its
/// `Content-Encoding` if a sidecar, and `Vary` when the file has sidecars at all.
pub fn validator_fields(out: &mut Vec<u8>, etag: &str, last_modified: &str, coding: Option<&str>, vary: bool) {
    header(out, "ETag", etag);
    header(out, "Last-Modified", last_modified);
    if let Some(c) = coding {
        header(out, "Content-Encoding", c);
    }
    if vary {
        header(out, "Vary", "Accept-Encoding");
    }
}

/// What a 200 of one representation says between `Server` and the site's own header
/// lines. It depends on the representation alone, so the cache renders it once per file
/// variant and every hit copies it.
pub fn full_fields(
    out: &mut Vec<u8>,
    content_type: &str,
    len: u64,
    validators: [&str; 2],
    coding: Option<&str>,
    vary: bool,
) {
    entity_fields(out, content_type, len);
    header(out, "Accept-Ranges", "bytes");
    let [etag, last_modified] = validators;
    validator_fields(out, etag, last_modified, coding, vary);
}

/// Writes one `Name: value` line.
pub fn header(out: &mut Vec<u8>, name: &str, value: &str) {
    header_bytes(out, name, value.as_bytes());
}

pub fn header_bytes(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

pub fn header_u64(out: &mut Vec<u8>, name: &str, value: u64) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    push_u64(out, value);
    out.extend_from_slice(b"\r\n");
}

/// The connection field (when it differs from the version's default) and the blank line.
pub fn finish(out: &mut Vec<u8>, close: bool, http10_keep_alive: bool) {
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if http10_keep_alive {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends a decimal number without going through `fmt`.
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// The small HTML page sent with an error status.
pub fn error_body(status: u16) -> String {
    explained_error_body(status, None)
}

/// The error page, with a sentence saying why when there is one to give (plain text,
/// no markup: it is also read raw, by a person typing into `nc`).
fn explained_error_body(status: u16, why: Option<&str>) -> String {
    let title = format!("{status} {}", reason(status));
    let why = why.map(|text| format!("\n<p>{text}</p>\n")).unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1>{why}<hr><p>evserve</p></body></html>\n"
    )
}

/// The media type of every page the server writes itself.
pub const HTML: &str = "text/html; charset=utf-8";

/// A complete error response (head and, unless `head_only`, its HTML body). Returns the
/// body's length (sent or not), for the access log.
pub fn error(out: &mut Vec<u8>, status: u16, date: &str, close: bool, http10_keep_alive: bool, head_only: bool) -> u64 {
    explained_error(out, status, None, date, close, http10_keep_alive, head_only)
}

/// `error` with an optional explanation in the body (`ParseError::explanation`).
pub fn explained_error(
    out: &mut Vec<u8>,
    status: u16,
    why: Option<&str>,
    date: &str,
    close: bool,
    http10_keep_alive: bool,
    head_only: bool,
) -> u64 {
    let body = explained_error_body(status, why);
    status_line(out, status, date);
    entity_fields(out, HTML, body.len() as u64);
    if status == 405 {
        header(out, "Allow", ALLOW);
    }
    finish(out, close, http10_keep_alive);
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    body.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for n in [0, 7, 10, 99, 12345, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }

    #[test]
    fn status_digits_are_the_decimal_code() {
        for status in [100, 200, 206, 304, 404, 416, 505, 999] {
            assert_eq!(status_digits(status).to_vec(), status.to_string().into_bytes());
        }
    }

    #[test]
    fn status_lines() {
        let date = "Thu, 01 Jan 1970 00:00:00 GMT";
        for status in [200, 206, 304, 404] {
            let mut out = Vec::new();
            status_line(&mut out, status, date);
            let want = format!("HTTP/1.1 {status} {}\r\nDate: {date}\r\nServer: {SERVER}\r\n", reason(status));
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }

    /// The bytes every cached 200 copies, pinned field by field in the order sent.
    #[test]
    fn full_fields_order() {
        let mut out = Vec::new();
        full_fields(&mut out, "text/css; charset=utf-8", 10, ["\"a-1.0-gzip\"", "D"], Some("gzip"), true);
        let want = "Content-Type: text/css; charset=utf-8\r\nContent-Length: 10\r\nX-Content-Type-Options: nosniff\r\n\
                    Accept-Ranges: bytes\r\nETag: \"a-1.0-gzip\"\r\nLast-Modified: D\r\n\
                    Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n";
        assert_eq!(String::from_utf8(out).unwrap(), want);
        let mut out = Vec::new();
        full_fields(&mut out, "text/plain", 0, ["\"0-1.0\"", "D"], None, false);
        let want = "Content-Type: text/plain\r\nContent-Length: 0\r\nX-Content-Type-Options: nosniff\r\n\
                    Accept-Ranges: bytes\r\nETag: \"0-1.0\"\r\nLast-Modified: D\r\n";
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn error_response_is_complete() {
        let mut out = Vec::new();
        error(&mut out, 405, "Thu, 01 Jan 1970 00:00:00 GMT", true, false, false);
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 405 Method Not Allowed\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"));
        assert!(head.contains("\r\nAllow: GET, HEAD, OPTIONS"));
        assert!(head.contains("\r\nConnection: close"));
        assert!(head.contains(&format!("\r\nContent-Length: {}", body.len())));
        assert!(body.contains("405 Method Not Allowed"));
    }

    #[test]
    fn explanation_is_in_the_body() {
        let mut out = Vec::new();
        let len = explained_error(&mut out, 400, Some("lines end with CRLF"), "d", true, false, false);
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("\r\nContent-Length: {len}")));
        assert_eq!(body.len() as u64, len);
        assert!(body.contains("<h1>400 Bad Request</h1>\n<p>lines end with CRLF</p>\n<hr>"), "{body}");
        assert!(!error_body(400).contains("CRLF"));
    }

    #[test]
    fn date_cache_renders_once_per_second() {
        let mut d = DateCache::default();
        d.update(UNIX_EPOCH + std::time::Duration::from_millis(784_111_777_000));
        assert_eq!(d.get(), "Sun, 06 Nov 1994 08:49:37 GMT");
        d.update(UNIX_EPOCH + std::time::Duration::from_millis(784_111_777_900));
        assert_eq!(d.get(), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
