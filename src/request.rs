//! Bytes in, a validated request head out. This module owns HTTP/1.1 message framing
//! (RFC 9112): what counts as a complete head, which heads are malformed, how long the
//! body is and how a chunked body ends. It does no I/O, reads no clock and touches no file.
//!
//! `parse` borrows the connection's buffer (zero-copy): the caller handles the request
//! before it drops the head bytes. An incomplete head is `Ok(None)`, not an error.
use std::fmt;

/// Size and count limits for one request; every one is a flag (see `config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A head (request line + fields) larger than this is 431 (414 if the request line
    /// alone is that long): it bounds the read buffer of every connection.
    pub max_head_bytes: usize,
    /// A request target longer than this is 414.
    pub max_uri_bytes: usize,
    /// More header fields than this is 431 (httparse needs a fixed array).
    pub max_headers: usize,
    /// A request body (read and thrown away: we serve files) larger than this is 413.
    pub max_body_bytes: u64,
}

/// httparse needs its field array up front; this bounds `Limits::max_headers`.
pub const MAX_HEADERS_CAP: usize = 256;

impl Default for Limits {
    fn default() -> Self {
        Limits { max_head_bytes: 8 * 1024, max_uri_bytes: 4 * 1024, max_headers: 64, max_body_bytes: 64 * 1024 }
    }
}

/// Why a request cannot be served; each maps to exactly one status, and each closes
/// the connection (after such an error the framing of what follows is unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Bad syntax, bad framing or a missing/repeated Host.
    Malformed(&'static str),
    /// The request line alone exceeds the head limit, or the target exceeds the URI limit.
    UriTooLong,
    /// The head exceeds the head limit, or has too many fields.
    HeadTooLarge,
    /// An HTTP version other than 1.0 and 1.1.
    Version,
    /// The announced or actual body exceeds the body limit.
    BodyTooLarge,
    /// A transfer coding we do not implement.
    UnknownCoding,
    /// An `Expect` other than `100-continue`.
    Expectation,
    /// The head did not arrive before its deadline.
    Timeout,
}

impl ParseError {
    pub fn status(self) -> u16 {
        match self {
            ParseError::Malformed(_) => 400,
            ParseError::Timeout => 408,
            ParseError::BodyTooLarge => 413,
            ParseError::UriTooLong => 414,
            ParseError::Expectation => 417,
            ParseError::HeadTooLarge => 431,
            ParseError::UnknownCoding => 501,
            ParseError::Version => 505,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Malformed(why) => write!(f, "malformed request: {why}"),
            other => write!(f, "request rejected with {}", other.status()),
        }
    }
}

/// How the request body is delimited (RFC 9112 section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    None,
    Length(u64),
    Chunked,
}

/// The request target, already split by form (RFC 9112 section 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// `/path?query` (origin-form, or the path of an absolute-form target).
    Path(&'a str),
    /// `*`, only meaningful for OPTIONS.
    Asterisk,
}

/// The header fields the server acts on; everything else is ignored.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fields<'a> {
    pub accept: Option<&'a [u8]>,
    pub accept_encoding: Option<&'a [u8]>,
    pub if_match: Option<&'a [u8]>,
    pub if_modified_since: Option<&'a [u8]>,
    pub if_none_match: Option<&'a [u8]>,
    pub if_range: Option<&'a [u8]>,
    pub if_unmodified_since: Option<&'a [u8]>,
    pub range: Option<&'a [u8]>,
    pub referer: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
}

/// A complete, validated request head borrowed from the read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    pub method: &'a str,
    pub target: Target<'a>,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Whether the connection may stay open after the response (version default + `Connection`).
    pub keep_alive: bool,
    pub body: BodyFraming,
    /// `Expect: 100-continue` with a body: the client may wait for an interim response.
    pub expect_continue: bool,
    pub fields: Fields<'a>,
}

/// Parses one request head from the front of `buf`.
///
/// `Ok(None)`: the head is not complete yet (and within limits): read more.
/// `Ok(Some((request, head_len)))`: `buf[..head_len]` is the head; any body follows it.
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Result<Option<(Request<'a>, usize)>, ParseError> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS_CAP];
    let headers = &mut storage[..limits.max_headers.min(MAX_HEADERS_CAP)];
    let mut req = httparse::Request::new(headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return if buf.len() >= limits.max_head_bytes { Err(oversized_head(buf, limits)) } else { Ok(None) };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(ParseError::HeadTooLarge),
        Err(httparse::Error::Version) => return Err(version_error(buf)),
        Err(e) => return Err(ParseError::Malformed(httparse_reason(e))),
    };
    if head_len > limits.max_head_bytes {
        return Err(oversized_head(buf, limits));
    }
    let (Some(method), Some(raw_target), Some(minor_version)) = (req.method, req.path, req.version) else {
        return Err(ParseError::Malformed("incomplete request line"));
    };
    if raw_target.len() > limits.max_uri_bytes {
        return Err(ParseError::UriTooLong);
    }
    let target = classify_target(raw_target)?;
    let head = validate_fields(req.headers, minor_version)?;
    if let BodyFraming::Length(n) = head.body
        && n > limits.max_body_bytes
    {
        return Err(ParseError::BodyTooLarge);
    }
    let request = Request {
        method,
        target,
        minor_version,
        keep_alive: head.keep_alive,
        body: head.body,
        expect_continue: head.expect_continue && head.body != BodyFraming::None,
        fields: head.fields,
    };
    Ok(Some((request, head_len)))
}

/// A head over the limit: 414 when the request line alone is too long (or has not even
/// ended), 431 when the fields are to blame.
fn oversized_head(buf: &[u8], limits: &Limits) -> ParseError {
    let line_len = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    if line_len > limits.max_uri_bytes.min(limits.max_head_bytes) {
        ParseError::UriTooLong
    } else {
        ParseError::HeadTooLarge
    }
}

/// httparse reports every bad version token alike; a well-formed `HTTP/x.y` that we do
/// not speak is 505, anything else in that place is a syntax error.
fn version_error(buf: &[u8]) -> ParseError {
    let line = buf.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let version = line.rsplit(|&b| b == b' ').next().unwrap_or_default();
    match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor] if major.is_ascii_digit() && minor.is_ascii_digit() => {
            ParseError::Version
        }
        [b'H', b'T', b'T', b'P', b'/', major] if major.is_ascii_digit() => ParseError::Version,
        _ => ParseError::Malformed("bad HTTP version"),
    }
}

fn httparse_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header field name",
        httparse::Error::HeaderValue => "invalid header field value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid method or token",
        httparse::Error::TooManyHeaders => "too many header fields",
        httparse::Error::Version => "invalid version",
    }
}

/// Splits the target by form: origin-form and absolute-form are served (the latter by its
/// path), `*` is kept for OPTIONS, authority-form and anything else is malformed.
fn classify_target(raw: &str) -> Result<Target<'_>, ParseError> {
    if raw.starts_with('/') {
        return Ok(Target::Path(raw));
    }
    if raw == "*" {
        return Ok(Target::Asterisk);
    }
    let lower_scheme = raw.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    let rest = if lower_scheme.starts_with("http://") {
        &raw[7..]
    } else if lower_scheme == "https://" {
        &raw[8..]
    } else {
        return Err(ParseError::Malformed("unsupported request-target form"));
    };
    let path_start = rest.find(['/', '?']).unwrap_or(rest.len());
    if path_start == 0 || rest[..path_start].contains('@') {
        return Err(ParseError::Malformed("bad authority in absolute-form target"));
    }
    match &rest[path_start..] {
        "" => Ok(Target::Path("/")),
        path if path.starts_with('?') => Err(ParseError::Malformed("absolute-form target without path")),
        path => Ok(Target::Path(path)),
    }
}

/// What the header fields say about framing and connection reuse.
struct HeadFacts<'a> {
    keep_alive: bool,
    body: BodyFraming,
    expect_continue: bool,
    fields: Fields<'a>,
}

fn validate_fields<'a>(headers: &[httparse::Header<'a>], minor_version: u8) -> Result<HeadFacts<'a>, ParseError> {
    let mut fields = Fields::default();
    let mut hosts = 0;
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut coding_seen = false;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut expect_continue = false;
    for h in headers {
        let name = h.name;
        let value = h.value;
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("content-length") {
            for item in list_items(value) {
                let n = parse_decimal(item).ok_or(ParseError::Malformed("invalid Content-Length"))?;
                if content_length.is_some_and(|m| m != n) {
                    return Err(ParseError::Malformed("conflicting Content-Length"));
                }
                content_length = Some(n);
            }
            if content_length.is_none() {
                return Err(ParseError::Malformed("empty Content-Length"));
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            for coding in list_items(value) {
                if chunked {
                    // Anything after `chunked` (including a second one) leaves the body
                    // length undeterminable (RFC 9112 section 6.3).
                    return Err(ParseError::Malformed("chunked is not the final transfer coding"));
                }
                if coding.eq_ignore_ascii_case(b"chunked") {
                    chunked = true;
                } else if !KNOWN_CODINGS.iter().any(|c| coding.eq_ignore_ascii_case(c)) {
                    return Err(ParseError::UnknownCoding);
                }
            }
            coding_seen = true;
        } else if name.eq_ignore_ascii_case("connection") {
            for token in list_items(value) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("expect") {
            if !value.eq_ignore_ascii_case(b"100-continue") {
                return Err(ParseError::Expectation);
            }
            expect_continue = true;
        } else {
            let slot = match name.len() {
                5 if name.eq_ignore_ascii_case("range") => &mut fields.range,
                6 if name.eq_ignore_ascii_case("accept") => &mut fields.accept,
                7 if name.eq_ignore_ascii_case("referer") => &mut fields.referer,
                8 if name.eq_ignore_ascii_case("if-match") => &mut fields.if_match,
                8 if name.eq_ignore_ascii_case("if-range") => &mut fields.if_range,
                10 if name.eq_ignore_ascii_case("user-agent") => &mut fields.user_agent,
                13 if name.eq_ignore_ascii_case("if-none-match") => &mut fields.if_none_match,
                15 if name.eq_ignore_ascii_case("accept-encoding") => &mut fields.accept_encoding,
                17 if name.eq_ignore_ascii_case("if-modified-since") => &mut fields.if_modified_since,
                19 if name.eq_ignore_ascii_case("if-unmodified-since") => &mut fields.if_unmodified_since,
                _ => continue,
            };
            // A repeated field keeps its first value; for these fields that is what
            // browsers and caches send, and it keeps the parse allocation-free.
            slot.get_or_insert(value);
        }
    }
    if minor_version == 1 && hosts != 1 {
        return Err(ParseError::Malformed(if hosts == 0 { "missing Host" } else { "repeated Host" }));
    }
    if minor_version == 0 && hosts > 1 {
        return Err(ParseError::Malformed("repeated Host"));
    }
    let body = match (coding_seen, content_length) {
        (true, Some(_)) => return Err(ParseError::Malformed("both Content-Length and Transfer-Encoding")),
        (true, None) if minor_version == 0 => {
            return Err(ParseError::Malformed("Transfer-Encoding in an HTTP/1.0 request"));
        }
        (true, None) if !chunked => return Err(ParseError::Malformed("chunked is not the final transfer coding")),
        (true, None) => BodyFraming::Chunked,
        (false, Some(0)) | (false, None) => BodyFraming::None,
        (false, Some(n)) => BodyFraming::Length(n),
    };
    let keep_alive = if minor_version == 0 { keep_alive_token && !close } else { !close };
    Ok(HeadFacts { keep_alive, body, expect_continue, fields })
}

/// Transfer codings that are registered; only `chunked` is decoded, the others are a
/// framing error when last (400) rather than an unknown coding (501).
const KNOWN_CODINGS: [&[u8]; 5] = [b"gzip", b"x-gzip", b"deflate", b"compress", b"x-compress"];

/// The non-empty items of a comma-separated field value, trimmed of optional whitespace.
pub fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows).filter(|item| !item.is_empty())
}

/// Strips spaces and tabs (RFC 9110 "OWS") from both ends.
pub fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// A non-empty run of ASCII digits that fits in a u64.
pub fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

/// Consumes a chunked body (RFC 9112 section 7.1) without keeping it: we serve files, so
/// a body is only read to find where the next pipelined request starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedDiscard {
    state: ChunkState,
    /// Every byte seen so far, framing included; bounded by `Limits::max_body_bytes`.
    seen: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Expecting a chunk-size line.
    Size,
    /// Inside chunk data; this many bytes remain.
    Data(u64),
    /// Expecting the CRLF that ends chunk data.
    DataEnd,
    /// After the last chunk: trailer lines until an empty one.
    Trailer,
    Done,
}

/// Outcome of feeding bytes to a body decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discarded {
    /// This many bytes were consumed and the body needs more.
    More(usize),
    /// The body ended after this many bytes; what follows is the next request.
    Done(usize),
}

impl Default for ChunkedDiscard {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDiscard {
    pub fn new() -> Self {
        ChunkedDiscard { state: ChunkState::Size, seen: 0 }
    }

    /// Consumes as much of `buf` as belongs to the body.
    pub fn feed(&mut self, buf: &[u8], limit: u64) -> Result<Discarded, ParseError> {
        let mut pos = 0;
        loop {
            let rest = &buf[pos..];
            let used = match self.state {
                ChunkState::Done => return Ok(Discarded::Done(pos)),
                ChunkState::Size => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((n, _))) if n > MAX_CHUNK_LINE => {
                        return Err(ParseError::Malformed("chunk size line too long"));
                    }
                    Ok(httparse::Status::Complete((n, 0))) => {
                        self.state = ChunkState::Trailer;
                        n
                    }
                    Ok(httparse::Status::Complete((n, size))) => {
                        self.state = ChunkState::Data(size);
                        n
                    }
                    Ok(httparse::Status::Partial) if rest.len() < MAX_CHUNK_LINE => 0,
                    Ok(httparse::Status::Partial) | Err(_) => {
                        return Err(ParseError::Malformed("invalid chunk size line"));
                    }
                },
                ChunkState::Data(left) => {
                    let n = left.min(rest.len() as u64);
                    self.state = if n == left { ChunkState::DataEnd } else { ChunkState::Data(left - n) };
                    n as usize
                }
                ChunkState::DataEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        self.state = ChunkState::Size;
                        2
                    }
                    [] | [b'\r'] => 0,
                    _ => return Err(ParseError::Malformed("chunk data not followed by CRLF")),
                },
                ChunkState::Trailer => match rest.windows(2).position(|w| w == b"\r\n") {
                    Some(0) => {
                        self.state = ChunkState::Done;
                        2
                    }
                    Some(line) if line < MAX_CHUNK_LINE => line + 2,
                    None if rest.len() < MAX_CHUNK_LINE => 0,
                    _ => return Err(ParseError::Malformed("trailer line too long")),
                },
            };
            self.seen += used as u64;
            if self.seen > limit {
                return Err(ParseError::BodyTooLarge);
            }
            if used == 0 {
                return Ok(Discarded::More(pos));
            }
            pos += used;
        }
    }
}

/// A chunk-size or trailer line longer than this is hostile.
const MAX_CHUNK_LINE: usize = 4096;

/// Reads past a request body of either framing, keeping none of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyDiscard {
    /// This many bytes of a Content-Length body remain.
    Length(u64),
    Chunked(ChunkedDiscard),
}

impl BodyDiscard {
    pub fn new(framing: BodyFraming) -> Self {
        match framing {
            BodyFraming::None => BodyDiscard::Length(0),
            BodyFraming::Length(n) => BodyDiscard::Length(n),
            BodyFraming::Chunked => BodyDiscard::Chunked(ChunkedDiscard::new()),
        }
    }

    /// Consumes the front of `buf` that belongs to the body.
    pub fn feed(&mut self, buf: &[u8], limit: u64) -> Result<Discarded, ParseError> {
        match self {
            BodyDiscard::Length(left) => {
                let n = (*left).min(buf.len() as u64);
                *left -= n;
                Ok(if *left == 0 { Discarded::Done(n as usize) } else { Discarded::More(n as usize) })
            }
            BodyDiscard::Chunked(chunked) => chunked.feed(buf, limit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> Limits {
        Limits::default()
    }

    fn ok(raw: &[u8]) -> Request<'_> {
        match parse(raw, &lim()) {
            Ok(Some((req, n))) => {
                assert_eq!(n, raw.len(), "head length");
                req
            }
            other => panic!("expected a request, got {other:?}"),
        }
    }

    fn err(raw: &[u8]) -> u16 {
        match parse(raw, &lim()) {
            Err(e) => e.status(),
            other => panic!("expected an error for {:?}, got {other:?}", String::from_utf8_lossy(raw)),
        }
    }

    #[test]
    fn simple_get() {
        let r = ok(b"GET /a/b?c=d HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n");
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, Target::Path("/a/b?c=d"));
        assert_eq!(r.minor_version, 1);
        assert!(r.keep_alive);
        assert_eq!(r.body, BodyFraming::None);
        assert_eq!(r.fields.range, Some(&b"bytes=0-1"[..]));
    }

    #[test]
    fn partial_is_not_an_error() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n", &lim()), Ok(None));
        assert_eq!(parse(b"GE", &lim()), Ok(None));
        assert_eq!(parse(b"", &lim()), Ok(None));
    }

    #[test]
    fn keep_alive_rules() {
        assert!(!ok(b"GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(ok(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
        assert!(!ok(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!ok(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, CLOSE\r\n\r\n").keep_alive);
    }

    #[test]
    fn target_forms() {
        assert_eq!(ok(b"GET http://example.com/x?y HTTP/1.1\r\nHost: e\r\n\r\n").target, Target::Path("/x?y"));
        assert_eq!(ok(b"GET HTTP://example.com HTTP/1.1\r\nHost: e\r\n\r\n").target, Target::Path("/"));
        assert_eq!(ok(b"OPTIONS * HTTP/1.1\r\nHost: e\r\n\r\n").target, Target::Asterisk);
        assert_eq!(err(b"CONNECT example.com:443 HTTP/1.1\r\nHost: e\r\n\r\n"), 400);
        assert_eq!(err(b"GET x HTTP/1.1\r\nHost: e\r\n\r\n"), 400);
        assert_eq!(err(b"GET http://u@evil/ HTTP/1.1\r\nHost: e\r\n\r\n"), 400);
    }

    #[test]
    fn framing_errors() {
        let cases: &[(&[u8], u16)] = &[
            (b"GET / HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: bogus, chunked\r\n\r\n", 501),
            (b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400),
            (b"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\n\r\n", 417),
            (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
            (b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
            (b"GET / HTTP/3\r\nHost: a\r\n\r\n", 505),
            (b"GET / FOO/1.1\r\nHost: a\r\n\r\n", 400),
            (b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ];
        for (raw, status) in cases {
            assert_eq!(err(raw), *status, "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn bodies() {
        let r = ok(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n");
        assert_eq!(r.body, BodyFraming::Length(5));
        let r = ok(b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, Chunked\r\nExpect: 100-continue\r\n\r\n");
        assert_eq!(r.body, BodyFraming::Chunked);
        assert!(r.expect_continue);
        assert!(!ok(b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n").expect_continue);
        assert_eq!(err(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n\r\n"), 413);
    }

    #[test]
    fn size_limits() {
        let limits = Limits { max_head_bytes: 64, max_uri_bytes: 16, max_headers: 2, max_body_bytes: 0 };
        let long_line = format!("GET /{} HTTP/1.1\r\n", "a".repeat(100));
        assert_eq!(parse(long_line.as_bytes(), &limits), Err(ParseError::UriTooLong));
        let no_newline = "GET /".to_string() + &"a".repeat(100);
        assert_eq!(parse(no_newline.as_bytes(), &limits), Err(ParseError::UriTooLong));
        let long_uri = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(20));
        assert_eq!(parse(long_uri.as_bytes(), &limits), Err(ParseError::UriTooLong));
        let big_head = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n", "b".repeat(60));
        assert_eq!(parse(big_head.as_bytes(), &limits), Err(ParseError::HeadTooLarge));
        let many = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
        assert_eq!(parse(many, &limits), Err(ParseError::HeadTooLarge));
    }

    #[test]
    fn chunked_discard() {
        let body = b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\nGET";
        let mut d = ChunkedDiscard::new();
        assert_eq!(d.feed(body, 1000), Ok(Discarded::Done(body.len() - 3)));
        // Byte by byte gives the same answer.
        let mut d = ChunkedDiscard::new();
        let mut total = 0;
        let mut buf = Vec::new();
        for &b in body.iter() {
            buf.push(b);
            match d.feed(&buf, 1000).unwrap() {
                Discarded::More(n) => {
                    total += n;
                    buf.drain(..n);
                }
                Discarded::Done(n) => {
                    total += n;
                    break;
                }
            }
        }
        assert_eq!(total, body.len() - 3);
        assert_eq!(ChunkedDiscard::new().feed(b"zz\r\n", 100), Err(ParseError::Malformed("invalid chunk size line")));
        assert_eq!(
            ChunkedDiscard::new().feed(b"2\r\nabX", 100),
            Err(ParseError::Malformed("chunk data not followed by CRLF"))
        );
        assert_eq!(ChunkedDiscard::new().feed(b"ff\r\n", 10), Ok(Discarded::More(4)));
        let mut d = ChunkedDiscard::new();
        assert_eq!(d.feed(b"10\r\n0123456789abcdef\r\n", 10), Err(ParseError::BodyTooLarge));
    }

    #[test]
    fn helpers() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"18446744073709551615"), None); // 20 digits
        assert_eq!(parse_decimal(b"1844674407370955161"), Some(1844674407370955161));
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(list_items(b" a ,, b\t,").collect::<Vec<_>>(), vec![&b"a"[..], &b"b"[..]]);
    }
}
