//! A response plan rendered as HTTP/1.1: the status line, `Date`, `Server`, the plan's
//! fields, the connection field and the blank line, then the body: copied after the head
//! when it is small (so head and body leave in one write); else a file's is handed back to
//! be streamed with `sendfile`, and bytes held in memory (a computed coding) to be written
//! from where they are, after the head. Framing is decided here, never by the site.
use crate::util::map::BodyFile;
use std::collections::VecDeque;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use crate::http::plan::{Body, Field, Plan, Segment, Source};
use crate::http::status::reason;
use crate::http1::request::Request;

/// A body at most this long is copied after the head so that both leave in one write;
/// a longer one is sent with `sendfile` straight from the page cache, or, held in memory,
/// written from where it is (never copied into the output buffer).
pub const INLINE_BODY_MAX: u64 = 16 * 1024;

/// How the connection ends after this response, as HTTP/1 says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// `Connection: close`.
    pub close: bool,
    /// An HTTP/1.0 client that asked to keep the connection: `Connection: keep-alive`.
    pub http10_keep_alive: bool,
}

/// How the connection ends after the response to `req`: closed when the client asked,
/// when the plan says the client is confused, or while the server drains; an HTTP/1.0
/// client kept alive is told so.
pub fn framing(req: &Request, plan_close: bool, draining: bool) -> Framing {
    let close = !req.keep_alive || plan_close || draining;
    Framing { close, http10_keep_alive: req.minor_version == 0 && !close }
}

/// The rest of a response after what was rendered into the output buffer.
#[derive(Debug)]
pub struct Stream {
    pub file: Arc<BodyFile>,
    pub segments: VecDeque<Segment>,
}

/// Bytes held in memory by the site (a computed coding), written after the rendered ones
/// from where they are: a copy into the output buffer would cost one per response.
#[derive(Debug)]
pub struct Shared {
    bytes: Arc<[u8]>,
    start: usize,
    end: usize,
}

impl Shared {
    /// The bytes not sent yet.
    pub fn rest(&self) -> &[u8] {
        &self.bytes[self.start..self.end]
    }

    /// `n` more bytes went out; true once all have.
    pub fn advance(&mut self, n: usize) -> bool {
        self.start = (self.start + n).min(self.end);
        self.start == self.end
    }
}

/// The body, when it is not among the rendered bytes.
#[derive(Debug)]
pub enum Rest {
    /// In memory: written after the rendered bytes.
    Memory(Shared),
    /// In a file: streamed after them.
    File(Stream),
}

impl Rest {
    /// Its bytes, for the access log.
    pub fn size(&self) -> u64 {
        match self {
            Rest::Memory(body) => body.rest().len() as u64,
            Rest::File(stream) => stream.segments.iter().map(Segment::size).sum(),
        }
    }
}

/// What `render` did.
#[derive(Debug)]
pub struct Rendered {
    /// The body still to send after the rendered bytes.
    pub rest: Option<Rest>,
    /// The body's length as sent (inline and streamed), for the access log.
    pub body_len: u64,
    /// A small file could not be read after its head promised it: close after the head.
    pub failed: bool,
}

/// Renders `plan` into `out`.
pub fn render(plan: Plan, date: &str, framing: Framing, out: &mut Vec<u8>) -> Rendered {
    status_line(out, plan.status, date);
    if let Some(block) = &plan.block {
        out.extend_from_slice(block.http1(fields_bytes));
    }
    fields(out, &plan.fields);
    if let Some(block) = &plan.site_fields {
        out.extend_from_slice(block.http1(fields_bytes));
    }
    finish(out, framing);
    body(plan.body, out)
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

/// One `Name: value` line per field.
fn fields(out: &mut Vec<u8>, fields: &[Field]) {
    for field in fields {
        out.extend_from_slice(field.name().as_bytes());
        out.extend_from_slice(b": ");
        field.value(out);
        out.extend_from_slice(b"\r\n");
    }
}

/// A block's rendering, made once and kept with it.
fn fields_bytes(list: &[Field]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    fields(&mut out, list);
    out
}

/// The connection field (when it differs from the version's default) and the blank line.
fn finish(out: &mut Vec<u8>, framing: Framing) {
    if framing.close {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if framing.http10_keep_alive {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// The body: in memory or small, after the head; else planned as a stream. A small file
/// that shrank under us leaves the head promising bytes we cannot send, so the
/// connection closes.
fn body(body: Body, out: &mut Vec<u8>) -> Rendered {
    let done = |body_len| Rendered { rest: None, body_len, failed: false };
    match body {
        Body::Empty => done(0),
        Body::Made(bytes) => {
            out.extend_from_slice(&bytes);
            done(bytes.len() as u64)
        }
        Body::Range { source: Source::Memory(bytes), offset, len } if len <= INLINE_BODY_MAX => {
            out.extend_from_slice(&bytes[offset as usize..(offset + len) as usize]);
            done(len)
        }
        Body::Range { source: Source::Memory(bytes), offset, len } => {
            let (start, end) = (offset as usize, (offset + len) as usize);
            Rendered { rest: Some(Rest::Memory(Shared { bytes, start, end })), ..done(len) }
        }
        Body::Range { source: Source::File(file), offset, len } if len <= INLINE_BODY_MAX => {
            let at = out.len();
            out.resize(at + len as usize, 0);
            if file.read_exact_at(&mut out[at..], offset).is_err() {
                out.truncate(at);
                return Rendered { failed: true, ..done(0) };
            }
            done(len)
        }
        Body::Range { source: Source::File(file), offset, len } => Rendered {
            rest: Some(Rest::File(Stream { file, segments: VecDeque::from([Segment::Range { offset, len }]) })),
            ..done(len)
        },
        Body::Parts { source: Source::Memory(bytes), segments } => {
            let at = out.len();
            for segment in segments {
                match segment {
                    Segment::Bytes(b) => out.extend_from_slice(&b),
                    Segment::Range { offset, len } => {
                        out.extend_from_slice(&bytes[offset as usize..(offset + len) as usize])
                    }
                }
            }
            done((out.len() - at) as u64)
        }
        Body::Parts { source: Source::File(file), segments } => {
            let body_len = segments.iter().map(Segment::size).sum();
            Rendered { rest: Some(Rest::File(Stream { file, segments })), ..done(body_len) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::plan::{FieldBlock, Text};
    use crate::http::status::{SERVER, error_plan};

    const DATE: &str = "Thu, 01 Jan 1970 00:00:00 GMT";
    const KEEP: Framing = Framing { close: false, http10_keep_alive: false };

    fn text(plan: Plan, framing: Framing) -> (String, Rendered) {
        let mut out = Vec::new();
        let rendered = render(plan, DATE, framing, &mut out);
        (String::from_utf8(out).unwrap(), rendered)
    }

    #[test]
    fn status_digits_are_the_decimal_code() {
        for status in [100, 200, 206, 304, 404, 416, 505, 999] {
            assert_eq!(status_digits(status).to_vec(), status.to_string().into_bytes());
        }
    }

    #[test]
    fn status_lines() {
        for status in [200, 206, 304, 404] {
            let mut out = Vec::new();
            status_line(&mut out, status, DATE);
            let want = format!("HTTP/1.1 {status} {}\r\nDate: {DATE}\r\nServer: {SERVER}\r\n", reason(status));
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }

    /// One row per way a plan becomes bytes: the whole response, exactly.
    #[test]
    fn heads_by_table() {
        let head =
            |status: &str, rest: &str| format!("HTTP/1.1 {status}\r\nDate: {DATE}\r\nServer: {SERVER}\r\n{rest}");
        let block = Arc::new(FieldBlock::new(vec![Field::ContentLength(3), Field::ETag(Text::Static("\"e\""))]));
        let site = Arc::new(FieldBlock::new(vec![Field::Custom { name: "X-A".into(), value: "1".into() }]));
        let memory = Source::Memory(Arc::from(&b"abcdef"[..]));
        let cached = |framing| {
            let mut plan = Plan::new(200, vec![], Body::Range { source: memory.clone(), offset: 0, len: 3 });
            plan.block = Some(block.clone());
            plan.site_fields = Some(site.clone());
            text(plan, framing).0
        };
        let rows: Vec<(String, String)> = vec![
            (cached(KEEP), head("200 OK", "Content-Length: 3\r\nETag: \"e\"\r\nX-A: 1\r\n\r\nabc")),
            (
                cached(Framing { close: true, http10_keep_alive: false }),
                head("200 OK", "Content-Length: 3\r\nETag: \"e\"\r\nX-A: 1\r\nConnection: close\r\n\r\nabc"),
            ),
            (
                cached(Framing { close: false, http10_keep_alive: true }),
                head("200 OK", "Content-Length: 3\r\nETag: \"e\"\r\nX-A: 1\r\nConnection: keep-alive\r\n\r\nabc"),
            ),
            (
                text(Plan::new(204, vec![Field::Allow], Body::Empty), KEEP).0,
                head("204 No Content", "Allow: GET, HEAD, OPTIONS\r\n\r\n"),
            ),
            (
                text(
                    Plan::new(
                        206,
                        vec![Field::ContentRange { first: 1, last: 2, complete: 6 }],
                        Body::Range { source: memory.clone(), offset: 1, len: 2 },
                    ),
                    KEEP,
                )
                .0,
                head("206 Partial Content", "Content-Range: bytes 1-2/6\r\n\r\nbc"),
            ),
            (
                text(
                    Plan::new(
                        206,
                        vec![],
                        Body::Parts {
                            source: memory.clone(),
                            segments: VecDeque::from([
                                Segment::Bytes(b"<".to_vec()),
                                Segment::Range { offset: 4, len: 2 },
                                Segment::Bytes(b">".to_vec()),
                            ]),
                        },
                    ),
                    KEEP,
                )
                .0,
                head("206 Partial Content", "\r\n<ef>"),
            ),
        ];
        for (got, want) in rows {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn an_error_page_is_complete() {
        let (text, rendered) = text(error_plan(405, None, false), Framing { close: true, http10_keep_alive: false });
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with(&format!("HTTP/1.1 405 Method Not Allowed\r\nDate: {DATE}\r\n")));
        assert!(head.contains("\r\nAllow: GET, HEAD, OPTIONS"));
        assert!(head.contains("\r\nConnection: close"));
        assert!(head.contains(&format!("\r\nContent-Length: {}", body.len())));
        assert_eq!(rendered.body_len, body.len() as u64);
        assert!(body.contains("405 Method Not Allowed"));
    }

    #[test]
    fn explanation_is_in_the_body() {
        let (text, _) = text(error_plan(400, Some("lines end with CRLF"), false), KEEP);
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(body.contains("<h1>400 Bad Request</h1>\n<p>lines end with CRLF</p>\n<hr>"), "{body}");
        let (text, rendered) = self::text(error_plan(400, Some("x"), true), KEEP);
        assert!(text.ends_with("\r\n\r\n") && rendered.body_len == 0, "HEAD: the fields, no body");
    }

    #[test]
    fn large_bodies_in_memory_are_left_where_they_are() {
        let bytes: Arc<[u8]> = vec![b'm'; INLINE_BODY_MAX as usize + 10].into();
        let body = |offset, len| Body::Range { source: Source::Memory(bytes.clone()), offset, len };
        let (text, r) = text(Plan::new(200, vec![], body(0, INLINE_BODY_MAX)), KEEP);
        assert!(text.ends_with(&format!("\r\n\r\n{}", "m".repeat(INLINE_BODY_MAX as usize))) && r.rest.is_none());
        let (text, r) = self::text(Plan::new(200, vec![], body(5, INLINE_BODY_MAX + 1)), KEEP);
        assert!(text.ends_with("\r\n\r\n") && r.body_len == INLINE_BODY_MAX + 1);
        let Some(Rest::Memory(mut shared)) = r.rest else { panic!("left in memory") };
        assert_eq!(shared.rest(), &bytes[5..5 + INLINE_BODY_MAX as usize + 1]);
        assert!(!shared.advance(INLINE_BODY_MAX as usize) && shared.rest() == b"m");
        assert!(shared.advance(1) && shared.rest().is_empty());
    }

    #[test]
    fn large_files_stream_and_small_ones_inline() {
        let path = std::env::temp_dir().join(format!("evserve-render-{}", std::process::id()));
        std::fs::write(&path, vec![b'z'; INLINE_BODY_MAX as usize + 1]).unwrap();
        let file = Arc::new(BodyFile::new(std::fs::File::open(&path).unwrap(), INLINE_BODY_MAX + 1));
        std::fs::remove_file(&path).unwrap();
        let small = Body::Range { source: Source::File(file.clone()), offset: 1, len: 5 };
        let (text, r) = text(Plan::new(200, vec![], small), KEEP);
        assert!(text.ends_with("\r\n\r\nzzzzz") && r.rest.is_none() && r.body_len == 5);
        let big = Body::Range { source: Source::File(file), offset: 0, len: INLINE_BODY_MAX + 1 };
        let (text, r) = self::text(Plan::new(200, vec![], big), KEEP);
        assert!(text.ends_with("\r\n\r\n") && r.body_len == INLINE_BODY_MAX + 1);
        let Some(Rest::File(stream)) = r.rest else { panic!("streamed") };
        assert_eq!(stream.segments, [Segment::Range { offset: 0, len: INLINE_BODY_MAX + 1 }]);
    }
}
