//! Bytes in, a validated request head out. This module owns HTTP/1.1 message framing
//! (RFC 9112): what counts as a complete head, which heads are malformed, how long the
//! body is and how a chunked body ends. It does no I/O, reads no clock and touches no file.
//!
//! `parse` borrows the connection's buffer (zero-copy): the caller handles the request
//! before it drops the head bytes. An incomplete head is `Ok(None)`, not an error.
use std::fmt;
use std::mem::MaybeUninit;

use crate::util::text::{list_items, parse_decimal};

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
    /// A line ended by LF alone; the error page says why (see `explanation`).
    BareLf,
    /// A transfer coding we do not implement, or one applied before `chunked` (we
    /// would have to decode it to hand the body on).
    UnknownCoding,
    /// An `Expect` other than `100-continue`.
    Expectation,
    /// The head did not arrive before its deadline.
    Timeout,
}

impl ParseError {
    pub fn status(self) -> u16 {
        match self {
            ParseError::Malformed(_) | ParseError::BareLf => 400,
            ParseError::Timeout => 408,
            ParseError::BodyTooLarge => 413,
            ParseError::UriTooLong => 414,
            ParseError::Expectation => 417,
            ParseError::HeadTooLarge => 431,
            ParseError::UnknownCoding => 501,
            ParseError::Version => 505,
        }
    }

    /// A sentence for the error page, for the mistakes a person typing a request by hand
    /// (`nc` sends LF alone) can fix. Other errors keep the bare status page.
    pub fn explanation(self) -> Option<&'static str> {
        match self {
            ParseError::BareLf => Some("Bad Request: lines must end with CRLF (\\r\\n), not a bare LF."),
            _ => None,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Malformed(why) => write!(f, "malformed request: {why}"),
            ParseError::BareLf => write!(f, "malformed request: bare LF line ending"),
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

pub use crate::http::view::{Fields, RequestView, Target};

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

impl<'a> Request<'a> {
    /// What the site reads of it: no version, no framing, no connection handling.
    pub fn view(&self) -> RequestView<'a> {
        RequestView { method: self.method, target: self.target, fields: self.fields }
    }
}

/// Parses one request head from the front of `buf`.
///
/// `Ok(None)`: the head is not complete yet (and within limits): read more.
/// `Ok(Some((request, head_len)))`: `buf[..head_len]` is the head; any body follows it.
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Result<Option<(Request<'a>, usize)>, ParseError> {
    // Uninitialised: filling 256 empty headers (8 KiB) cost more than parsing the head.
    let mut storage = [const { MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS_CAP];
    let headers = &mut storage[..limits.max_headers.min(MAX_HEADERS_CAP)];
    let mut req = httparse::Request::new(&mut []);
    let head_len = match req.parse_with_uninit_headers(buf, headers) {
        Ok(httparse::Status::Complete(n)) if has_bare_lf(&buf[..n]) => return Err(ParseError::BareLf),
        Ok(httparse::Status::Complete(n)) => n,
        // Everything buffered is head so far: a bare LF is refused at once, so a person
        // typing into `nc` learns why after the first line, not after the blank one.
        Ok(httparse::Status::Partial) if has_bare_lf(buf) => return Err(ParseError::BareLf),
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

/// True if some LF is not preceded by CR. httparse takes a bare LF as a line end (and
/// skips bare-LF empty lines before the request line), as RFC 9112 section 2.2 allows; we
/// refuse it (section 2.2 allows that too): two parsers that disagree on where a line ends
/// are how requests get smuggled past a front end.
fn has_bare_lf(head: &[u8]) -> bool {
    let Some((&first, rest)) = head.split_first() else { return false };
    // Branch-free over (byte, previous byte) pairs, which the compiler vectorises: every
    // head is scanned whole.
    first == b'\n' || rest.iter().zip(head).fold(false, |bare, (&b, &prev)| bare | ((b == b'\n') & (prev != b'\r')))
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
/// path and query), `*` is kept for OPTIONS, authority-form and anything else is malformed.
fn classify_target(raw: &str) -> Result<Target<'_>, ParseError> {
    // RFC 3986 allows only ASCII in a URI: a raw byte above 0x7F (httparse lets it through)
    // is refused, as HTTP/2 refuses it, rather than guessed at.
    if !raw.is_ascii() {
        return Err(ParseError::Malformed("a byte outside ASCII in the target (percent-encode it)"));
    }
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
    // An http(s) URI with an empty host is invalid (RFC 9110 section 4.2.1).
    if authority_host(&rest.as_bytes()[..path_start]).is_none_or(<[u8]>::is_empty) {
        return Err(ParseError::Malformed("bad authority in absolute-form target"));
    }
    match &rest[path_start..] {
        "" => Ok(Target::Path("/")),
        path_and_query => Ok(Target::Path(path_and_query)),
    }
}

/// The host of `uri-host [":" port]` (RFC 3986 sections 3.2.2 and 3.2.3), or None when
/// the authority is not that: a userinfo (`u@h`), a `/`, a space, a second `:` or a
/// non-numeric port. The port may be empty and so may the host (an empty `Host` field is
/// what RFC 9110 section 7.2 asks for when the target has no authority).
pub(crate) fn authority_host(authority: &[u8]) -> Option<&[u8]> {
    let host_len = match authority {
        [b'[', literal @ ..] => {
            let end = literal.iter().position(|&b| b == b']')?;
            is_ip_literal(&literal[..end]).then_some(end + 2)?
        }
        _ => reg_name_len(authority)?,
    };
    let (host, port) = authority.split_at(host_len);
    match port {
        [] => Some(host),
        [b':', digits @ ..] if digits.iter().all(u8::is_ascii_digit) => Some(host),
        _ => None,
    }
}

/// The length of the authority's host before its first `:` (or its end), when that is
/// a reg-name.
fn reg_name_len(authority: &[u8]) -> Option<usize> {
    // Every Host field comes here. Fast path, one pass: when the first byte that is not
    // `unreserved / sub-delims` is a `:` (or there is none), the name before it is plain.
    let plain = authority.iter().position(|&b| !REG_NAME_CHAR[usize::from(b)]).unwrap_or(authority.len());
    if authority.get(plain).is_none_or(|&b| b == b':') {
        return Some(plain);
    }
    let end = authority.iter().position(|&b| b == b':').unwrap_or(authority.len());
    is_reg_name(&authority[..end]).then_some(end)
}

/// `*( unreserved / pct-encoded / sub-delims )`; an IPv4 address is one too.
fn is_reg_name(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' if s.len() > i + 2 && s[i + 1].is_ascii_hexdigit() && s[i + 2].is_ascii_hexdigit() => i += 3,
            b if REG_NAME_CHAR[usize::from(b)] => i += 1,
            _ => return false,
        }
    }
    true
}

/// Inside `[...]`: an IPv6 address, or `IPvFuture = "v" 1*HEXDIG "." 1*( unreserved /
/// sub-delims / ":" )`.
fn is_ip_literal(s: &[u8]) -> bool {
    if let [b'v' | b'V', rest @ ..] = s {
        let Some(dot) = rest.iter().position(|&b| b == b'.') else { return false };
        let (version, tail) = (&rest[..dot], &rest[dot + 1..]);
        return !version.is_empty()
            && version.iter().all(u8::is_ascii_hexdigit)
            && !tail.is_empty()
            && tail.iter().all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':');
    }
    std::str::from_utf8(s).is_ok_and(|text| text.parse::<std::net::Ipv6Addr>().is_ok())
}

/// `unreserved / sub-delims`, by byte value.
const REG_NAME_CHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = is_unreserved(b as u8) || is_sub_delim(b as u8);
        b += 1;
    }
    table
};

const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

const fn is_sub_delim(b: u8) -> bool {
    matches!(b, b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=')
}

/// What the header fields say about framing and connection reuse.
struct HeadFacts<'a> {
    keep_alive: bool,
    body: BodyFraming,
    expect_continue: bool,
    fields: Fields<'a>,
}

/// The header fields in named steps: each field taken in turn (`Seen::take`), then the
/// `Host` rule, the body's framing and keep-alive decided from what was seen.
fn validate_fields<'a>(headers: &[httparse::Header<'a>], minor_version: u8) -> Result<HeadFacts<'a>, ParseError> {
    let mut seen = Seen::default();
    for h in headers {
        seen.take(h.name, h.value)?;
    }
    seen.check_host(minor_version)?;
    let body = seen.framing(minor_version)?;
    let keep_alive = if minor_version == 0 { seen.keep_alive_token && !seen.close } else { !seen.close };
    Ok(HeadFacts { keep_alive, body, expect_continue: seen.expect_continue, fields: seen.fields })
}

/// What the header fields said so far.
#[derive(Default)]
struct Seen<'a> {
    fields: Fields<'a>,
    hosts: u32,
    content_length: Option<u64>,
    /// `Transfer-Encoding` was sent; `chunked` came last; another (known) coding came too.
    coding_seen: bool,
    chunked: bool,
    encoded: bool,
    close: bool,
    keep_alive_token: bool,
    expect_continue: bool,
}

impl<'a> Seen<'a> {
    /// One field line.
    #[inline]
    fn take(&mut self, name: &str, value: &'a [u8]) -> Result<(), ParseError> {
        if is_field(name, "host") {
            self.hosts += 1;
            self.fields.host = Some(authority_host(value).ok_or(ParseError::Malformed("invalid Host"))?);
        } else if is_field(name, "content-length") {
            self.content_length(value)?;
        } else if is_field(name, "transfer-encoding") {
            self.transfer_encoding(value)?;
        } else if is_field(name, "connection") {
            for token in list_items(value) {
                self.close |= token.eq_ignore_ascii_case(b"close");
                self.keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if is_field(name, "expect") {
            if !value.eq_ignore_ascii_case(b"100-continue") {
                return Err(ParseError::Expectation);
            }
            self.expect_continue = true;
        } else {
            self.site_field(name, value);
        }
        Ok(())
    }

    /// Every item of every `Content-Length` line must be the same number.
    fn content_length(&mut self, value: &[u8]) -> Result<(), ParseError> {
        for item in list_items(value) {
            let n = parse_decimal(item).ok_or(ParseError::Malformed("invalid Content-Length"))?;
            if self.content_length.is_some_and(|m| m != n) {
                return Err(ParseError::Malformed("conflicting Content-Length"));
            }
            self.content_length = Some(n);
        }
        if self.content_length.is_none() {
            return Err(ParseError::Malformed("empty Content-Length"));
        }
        Ok(())
    }

    /// Codings we know, `chunked` last and once.
    fn transfer_encoding(&mut self, value: &[u8]) -> Result<(), ParseError> {
        for coding in list_items(value) {
            if self.chunked {
                // Anything after `chunked` (including a second one) leaves the body
                // length undeterminable (RFC 9112 section 6.3).
                return Err(ParseError::Malformed("chunked is not the final transfer coding"));
            }
            if coding.eq_ignore_ascii_case(b"chunked") {
                self.chunked = true;
            } else if KNOWN_CODINGS.iter().any(|c| coding.eq_ignore_ascii_case(c)) {
                self.encoded = true;
            } else {
                return Err(ParseError::UnknownCoding);
            }
        }
        self.coding_seen = true;
        Ok(())
    }

    /// A field the site reads (the others are ignored). A repeated field keeps its first
    /// value (what browsers and caches send, and allocation-free), but for the forwarding
    /// fields, whose last line is the one a proxy appended.
    #[inline]
    fn site_field(&mut self, name: &str, value: &'a [u8]) {
        let f = &mut self.fields;
        let slot = match name.len() {
            5 if is_field(name, "range") => &mut f.range,
            6 if is_field(name, "accept") => &mut f.accept,
            7 if is_field(name, "referer") => &mut f.referer,
            8 if is_field(name, "if-match") => &mut f.if_match,
            8 if is_field(name, "if-range") => &mut f.if_range,
            9 if is_field(name, "forwarded") => return f.forwarded = Some(value),
            10 if is_field(name, "user-agent") => &mut f.user_agent,
            13 if is_field(name, "if-none-match") => &mut f.if_none_match,
            15 if is_field(name, "accept-encoding") => &mut f.accept_encoding,
            15 if is_field(name, "x-forwarded-for") => return f.x_forwarded_for = Some(value),
            17 if is_field(name, "if-modified-since") => &mut f.if_modified_since,
            19 if is_field(name, "if-unmodified-since") => &mut f.if_unmodified_since,
            _ => return,
        };
        slot.get_or_insert(value);
    }

    /// HTTP/1.1 needs exactly one `Host`; HTTP/1.0 at most one.
    fn check_host(&self, minor_version: u8) -> Result<(), ParseError> {
        match (minor_version, self.hosts) {
            (1, 0) => Err(ParseError::Malformed("missing Host")),
            (_, 0 | 1) => Ok(()),
            _ => Err(ParseError::Malformed("repeated Host")),
        }
    }

    /// How the body is delimited (RFC 9112 section 6), or why it cannot be told.
    fn framing(&self, minor_version: u8) -> Result<BodyFraming, ParseError> {
        Ok(match (self.coding_seen, self.content_length) {
            (true, Some(_)) => return Err(ParseError::Malformed("both Content-Length and Transfer-Encoding")),
            (true, None) if minor_version == 0 => {
                return Err(ParseError::Malformed("Transfer-Encoding in an HTTP/1.0 request"));
            }
            (true, None) if !self.chunked => {
                return Err(ParseError::Malformed("chunked is not the final transfer coding"));
            }
            // `gzip, chunked`: de-chunking alone would hand on a body still gzip-coded as if
            // it were plain, and we decode no coding but chunked (RFC 9112 section 6.1: 501).
            (true, None) if self.encoded => return Err(ParseError::UnknownCoding),
            (true, None) => BodyFraming::Chunked,
            (false, Some(0)) | (false, None) => BodyFraming::None,
            (false, Some(n)) => BodyFraming::Length(n),
        })
    }
}

/// `name` is the field `lower` (lowercase letters and `-`), ignoring ASCII case. Cheaper
/// than `eq_ignore_ascii_case`, and the same for a field name (a token, as httparse
/// guarantees): `b | 0x20` folds only an uppercase letter onto a lowercase one, and CR
/// onto `-`, and a token has no CR. Branch-free, so it unrolls at each call.
fn is_field(name: &str, lower: &str) -> bool {
    let (name, lower) = (name.as_bytes(), lower.as_bytes());
    name.len() == lower.len() && name.iter().zip(lower).fold(true, |same, (&b, &l)| same & ((b | 0x20) == l))
}

/// Transfer codings that are registered; only `chunked` is decoded. One of these last
/// (no `chunked` after it) is a framing error (400); before `chunked` it is 501, as is
/// any coding not listed here.
const KNOWN_CODINGS: [&[u8]; 5] = [b"gzip", b"x-gzip", b"deflate", b"compress", b"x-compress"];

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
                ChunkState::Size => match scan_line(rest, chunk_size_line)? {
                    None => 0,
                    Some((n, 0)) => {
                        self.state = ChunkState::Trailer;
                        n
                    }
                    Some((n, size)) => {
                        self.state = ChunkState::Data(size);
                        n
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
                    [b'\n', ..] => return Err(ParseError::BareLf),
                    _ => return Err(ParseError::Malformed("chunk data not followed by CRLF")),
                },
                ChunkState::Trailer => match scan_line(rest, trailer_line)? {
                    None => 0,
                    Some((n, true)) => {
                        self.state = ChunkState::Done;
                        n
                    }
                    Some((n, false)) => n,
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

/// A chunk-size or trailer line (CRLF included) longer than this is hostile.
const MAX_CHUNK_LINE: usize = 4096;

/// Why a line scanner stopped before the end of its line.
enum Stop {
    /// The bytes so far are a valid start: wait for more.
    More,
    Bad(ParseError),
}

/// A line being scanned left to right; running out of bytes is `Stop::More`.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Result<u8, Stop> {
        self.bytes.get(self.pos).copied().ok_or(Stop::More)
    }

    /// Takes bytes while `keep` holds; how many were taken.
    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> Result<usize, Stop> {
        let start = self.pos;
        while keep(self.peek()?) {
            self.pos += 1;
        }
        Ok(self.pos - start)
    }

    /// A `token` (RFC 9110 section 5.6.2): one or more tchar.
    fn token(&mut self, why: &'static str) -> Result<(), Stop> {
        if self.take_while(is_tchar)? == 0 {
            return Err(bad(why));
        }
        Ok(())
    }

    /// The CRLF that ends the line; a CR must be followed by LF, an LF alone is `BareLf`.
    fn line_end(&mut self, why: &'static str) -> Result<(), Stop> {
        match self.peek()? {
            b'\r' => self.pos += 1,
            b'\n' => return Err(Stop::Bad(ParseError::BareLf)),
            _ => return Err(bad(why)),
        }
        match self.peek()? {
            b'\n' => {
                self.pos += 1;
                Ok(())
            }
            _ => Err(bad("CR not followed by LF")),
        }
    }
}

fn bad(why: &'static str) -> Stop {
    Stop::Bad(ParseError::Malformed(why))
}

/// Runs a line scanner over the front of `buf`: `Ok(Some((line_len, value)))` once its
/// line is complete, `Ok(None)` to wait for more. The scanner sees at most
/// `MAX_CHUNK_LINE` bytes and starts over from the line's first byte on every call, so
/// the cap and every verdict are the same however reads split the line.
fn scan_line<T>(buf: &[u8], scan: fn(&mut Cursor) -> Result<T, Stop>) -> Result<Option<(usize, T)>, ParseError> {
    let mut cur = Cursor { bytes: &buf[..buf.len().min(MAX_CHUNK_LINE)], pos: 0 };
    match scan(&mut cur) {
        Ok(value) => Ok(Some((cur.pos, value))),
        Err(Stop::Bad(e)) => Err(e),
        Err(Stop::More) if cur.bytes.len() == MAX_CHUNK_LINE => {
            Err(ParseError::Malformed("chunk or trailer line too long"))
        }
        Err(Stop::More) => Ok(None),
    }
}

/// `chunk-size *( ";" token [ "=" ( token / quoted-string ) ] ) CRLF` (RFC 9112 section
/// 7.1, without the BWS that section tolerates), giving the size.
///
/// Ours rather than `httparse::parse_chunk_size`, which accepts what this refuses: an
/// empty line or one that starts with `;` (read as size 0, the last chunk), spaces and
/// tabs after the size, any bytes at all in extensions (a bare LF, an unclosed quote). A
/// front end that reads such a line differently finds a different end of the body and
/// forwards the rest as a request of its own: request smuggling.
fn chunk_size_line(cur: &mut Cursor) -> Result<u64, Stop> {
    let mut size: u64 = 0;
    let mut digits = 0;
    while let Some(digit) = (cur.peek()? as char).to_digit(16) {
        size = size.checked_mul(16).and_then(|s| s.checked_add(u64::from(digit))).ok_or(bad("chunk size overflow"))?;
        digits += 1;
        cur.pos += 1;
    }
    if digits == 0 {
        return Err(bad("chunk size line without a size"));
    }
    while cur.peek()? == b';' {
        cur.pos += 1;
        cur.token("invalid chunk extension name")?;
        if cur.peek()? == b'=' {
            cur.pos += 1;
            if cur.peek()? == b'"' {
                quoted_string(cur)?;
            } else {
                cur.token("invalid chunk extension value")?;
            }
        }
    }
    cur.line_end("invalid chunk size line")?;
    Ok(size)
}

/// `DQUOTE *( qdtext / quoted-pair ) DQUOTE` (RFC 9110 section 5.6.4), cursor on the
/// opening quote.
fn quoted_string(cur: &mut Cursor) -> Result<(), Stop> {
    cur.pos += 1;
    loop {
        match cur.peek()? {
            b'"' => {
                cur.pos += 1;
                return Ok(());
            }
            b'\\' => {
                cur.pos += 1;
                if !is_field_char(cur.peek()?) {
                    return Err(bad("invalid quoted-pair in chunk extension"));
                }
            }
            b if is_field_char(b) => {}
            _ => return Err(bad("invalid quoted string in chunk extension")),
        }
        cur.pos += 1;
    }
}

/// One line of the trailer section: `field-name ":" field-value CRLF`, or the empty line
/// that ends the body (true). Trailer fields are checked like header fields (no obs-fold,
/// no control bytes) and then dropped.
fn trailer_line(cur: &mut Cursor) -> Result<bool, Stop> {
    if matches!(cur.peek()?, b'\r' | b'\n') {
        cur.line_end("invalid trailer line")?;
        return Ok(true);
    }
    cur.token("invalid trailer field name")?;
    if cur.peek()? != b':' {
        return Err(bad("invalid trailer field"));
    }
    cur.pos += 1;
    cur.take_while(is_field_char)?;
    cur.line_end("invalid trailer field value")?;
    Ok(false)
}

/// tchar (RFC 9110 section 5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// HTAB, SP, VCHAR or obs-text: what a field value (or a quoted string) may hold.
fn is_field_char(b: u8) -> bool {
    b == b'\t' || b == b' ' || b.is_ascii_graphic() || b >= 0x80
}

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
    #[test]
    fn a_raw_byte_outside_ascii_in_the_target_is_400() {
        let raw = "GET /caf\u{e9} HTTP/1.1\r\nHost: x\r\n\r\n";
        let err = parse(raw.as_bytes(), &Limits::default()).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(parse(b"GET /caf%C3%A9 HTTP/1.1\r\nHost: x\r\n\r\n", &Limits::default()).unwrap().is_some());
    }

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

    /// The host check as written before its fast path: a byte-at-a-time reg-name test
    /// of everything before the first `:`.
    fn reference_authority_host(authority: &[u8]) -> Option<&[u8]> {
        let host_len = match authority {
            [b'[', literal @ ..] => {
                let end = literal.iter().position(|&b| b == b']')?;
                is_ip_literal(&literal[..end]).then_some(end + 2)?
            }
            _ => {
                let end = authority.iter().position(|&b| b == b':').unwrap_or(authority.len());
                let name = &authority[..end];
                let mut i = 0;
                while i < name.len() {
                    match name[i] {
                        b'%' if name.len() > i + 2
                            && name[i + 1].is_ascii_hexdigit()
                            && name[i + 2].is_ascii_hexdigit() =>
                        {
                            i += 3
                        }
                        b if is_unreserved(b) || is_sub_delim(b) => i += 1,
                        _ => return None,
                    }
                }
                end
            }
        };
        let (host, port) = authority.split_at(host_len);
        match port {
            [] => Some(host),
            [b':', digits @ ..] if digits.iter().all(u8::is_ascii_digit) => Some(host),
            _ => None,
        }
    }

    /// `is_field` agrees with `eq_ignore_ascii_case` on every token byte against every
    /// byte of the names it is used for.
    #[test]
    fn is_field_is_case_insensitive_equality_on_tokens() {
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        let names = "host content-length transfer-encoding connection expect range accept referer if-match \
                     if-range user-agent if-none-match accept-encoding if-modified-since if-unmodified-since";
        for lower in names.split_whitespace().flat_map(|n| n.bytes()) {
            for b in (0..=255u8).filter(|&b| token(b)) {
                let (name, want) = ([b], [lower]);
                let name = std::str::from_utf8(&name).unwrap();
                let want = std::str::from_utf8(&want).unwrap();
                assert_eq!(is_field(name, want), name.eq_ignore_ascii_case(want), "{b:#x} vs {lower:#x}");
            }
        }
        assert!(is_field("Content-Length", "content-length") && is_field("HOST", "host"));
        assert!(!is_field("hos", "host") && !is_field("hosts", "host") && !is_field("h0st", "host"));
    }

    /// The table and the one-pass fast path accept exactly what the plain definition does:
    /// every byte value alone, and every string of up to 5 bytes over an alphabet of each
    /// kind of byte that matters (plain, `:`, `%`, hex, brackets, a byte outside).
    #[test]
    fn host_fast_path_matches_the_definition() {
        for b in 0..=255u8 {
            assert_eq!(REG_NAME_CHAR[usize::from(b)], is_unreserved(b) || is_sub_delim(b), "{b}");
            assert_eq!(authority_host(&[b]), reference_authority_host(&[b]), "{b}");
        }
        let alphabet = b"a1:%F[]/ @.!\x7f";
        let mut s = Vec::new();
        let mut count = 0;
        for len in 0..=5u32 {
            for mut n in 0..alphabet.len().pow(len) {
                s.clear();
                for _ in 0..len {
                    s.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                assert_eq!(authority_host(&s), reference_authority_host(&s), "{:?}", String::from_utf8_lossy(&s));
                count += 1;
            }
        }
        assert!(count > 300_000);
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

    /// An empty path is `/` (RFC 9110 section 4.2.3), with or without a port and query.
    #[test]
    fn absolute_form_with_empty_path() {
        assert_eq!(ok(b"GET http://example.org?x=1 HTTP/1.1\r\nHost: e\r\n\r\n").target, Target::Path("?x=1"));
        assert_eq!(ok(b"GET http://example.org:80?x HTTP/1.1\r\nHost: e\r\n\r\n").target, Target::Path("?x"));
        assert_eq!(ok(b"GET http://example.org:80 HTTP/1.1\r\nHost: e\r\n\r\n").target, Target::Path("/"));
        let resolved = crate::fs::resolve::resolve_target("?x=1", false).unwrap();
        assert_eq!((&*resolved.path, resolved.dir_form, resolved.query), ("", true, Some("x=1")));
    }

    /// The authority of an absolute-form target is checked like `Host`, and may not be empty.
    #[test]
    fn absolute_form_authority() {
        for target in ["http://[::1]:8080/a", "http://127.0.0.1/", "https://a.b:/", "http://%41b/", "http://[v1.x]/"] {
            let raw = format!("GET {target} HTTP/1.1\r\nHost: e\r\n\r\n");
            assert!(matches!(parse(raw.as_bytes(), &lim()), Ok(Some(_))), "{target}");
        }
        for target in
            ["http://a:1:2/", "http://a:x/", "http://[::1/", "http://a\\b/", "http:///a", "http://:80/", "http://a%zz/"]
        {
            assert_eq!(err(format!("GET {target} HTTP/1.1\r\nHost: e\r\n\r\n").as_bytes()), 400, "{target}");
        }
    }

    /// `Host` is `uri-host [":" port]` (RFC 3986), or empty (RFC 9110 section 7.2).
    #[test]
    fn host_must_be_an_authority() {
        let good = [
            "",
            "a",
            "example.org",
            "example.org:8080",
            "a:",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:443",
            "[2001:db8::1]",
            "[::ffff:1.2.3.4]",
            "[v7.a:b]",
            "[V1f.x]",
            "%41.b",
            "a-b_c~d",
            "!$&'()*+,;=",
            "xn--caf-dma.example",
        ];
        for host in good {
            let raw = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            assert!(matches!(parse(raw.as_bytes(), &lim()), Ok(Some(_))), "Host: {host:?}");
        }
        let bad = [
            "bad/host",
            "x@y:1",
            "a:1:2",
            "host:abc",
            "[::1",
            "a\\b",
            "a b",
            "[::1]x",
            "[::1]:x",
            "[1.2.3.4]",
            "[v.x]",
            "[v1.]",
            "[v1x]",
            "[]",
            "a%2",
            "a%zz",
            "a?b",
            "a#b",
            "\"a\"",
            "[::1%eth0]",
            "\u{e9}.example",
        ];
        for host in bad {
            let raw = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            assert_eq!(parse(raw.as_bytes(), &lim()), Err(ParseError::Malformed("invalid Host")), "Host: {host:?}");
        }
        assert_eq!(err(b"GET / HTTP/1.0\r\nHost: bad/host\r\n\r\n"), 400);
        // Whitespace around the value is not part of it (RFC 9110 section 5.5).
        assert_eq!(ok(b"GET / HTTP/1.1\r\nHost: \t a:1 \t\r\n\r\n").method, "GET");
    }

    /// A bare LF anywhere in the head, even before the request line, is 400, and the page
    /// says why; a complete head is not needed to tell.
    #[test]
    fn bare_lf_is_refused() {
        let heads: &[&[u8]] = &[
            b"GET / HTTP/1.1\nHost: a\n\n",
            b"GET / HTTP/1.1\r\nHost: a\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n\n",
            b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\n",
            b"GET / HTTP/1.1\r\nHost: a\n",
        ];
        for raw in heads {
            assert_eq!(parse(raw, &lim()), Err(ParseError::BareLf), "{:?}", String::from_utf8_lossy(raw));
        }
        assert_eq!(ParseError::BareLf.status(), 400);
        assert!(ParseError::BareLf.explanation().unwrap().contains("CRLF (\\r\\n)"));
        assert_eq!(ParseError::Malformed("x").explanation(), None);
        // An empty CRLF line before the request line is still ignored (RFC 9112 2.2),
        // and an LF in a body after a complete head is not the head's business.
        assert_eq!(ok(b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").method, "GET");
        let with_body = b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n\n\n";
        assert!(matches!(parse(with_body, &lim()), Ok(Some((_, n))) if n == with_body.len() - 2));
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
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked, gzip\r\n\r\n", 400),
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
        let r = ok(b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\nExpect: 100-continue\r\n\r\n");
        assert_eq!(r.body, BodyFraming::Chunked);
        assert!(r.expect_continue);
        // A coding before chunked would have to be decoded to hand the body on: 501.
        for te in ["gzip, Chunked", "deflate, chunked", "x-gzip,chunked"] {
            let raw = format!("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {te}\r\n\r\n");
            assert_eq!(parse(raw.as_bytes(), &lim()), Err(ParseError::UnknownCoding), "{te}");
        }
        let split = b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(err(split), 501);
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
        assert_eq!(
            ChunkedDiscard::new().feed(b"zz\r\n", 100),
            Err(ParseError::Malformed("chunk size line without a size"))
        );
        assert_eq!(
            ChunkedDiscard::new().feed(b"2\r\nabX", 100),
            Err(ParseError::Malformed("chunk data not followed by CRLF"))
        );
        assert_eq!(ChunkedDiscard::new().feed(b"ff\r\n", 10), Ok(Discarded::More(4)));
        let mut d = ChunkedDiscard::new();
        assert_eq!(d.feed(b"10\r\n0123456789abcdef\r\n", 10), Err(ParseError::BodyTooLarge));
    }

    /// Feeds `body` whole and then one byte per read; both must give the same outcome.
    fn discard_both_ways(body: &[u8]) -> Result<usize, ParseError> {
        let whole = match ChunkedDiscard::new().feed(body, 1 << 20) {
            Ok(Discarded::Done(n)) => Ok(n),
            Ok(Discarded::More(_)) => Err(ParseError::Timeout),
            Err(e) => Err(e),
        };
        let mut d = ChunkedDiscard::new();
        let (mut buf, mut total) = (Vec::new(), 0);
        let mut split = Err(ParseError::Timeout);
        for &b in body {
            buf.push(b);
            match d.feed(&buf, 1 << 20) {
                Ok(Discarded::More(n)) => {
                    total += n;
                    buf.drain(..n);
                }
                Ok(Discarded::Done(n)) => {
                    split = Ok(total + n);
                    break;
                }
                Err(e) => {
                    split = Err(e);
                    break;
                }
            }
        }
        assert_eq!(whole, split, "whole vs byte by byte: {:?}", String::from_utf8_lossy(body));
        whole
    }

    /// The chunk-size line grammar, strictly: what `httparse::parse_chunk_size` lets
    /// through (an empty size line taken as the last chunk, whitespace, any bytes in an
    /// extension) is refused, whatever the read boundaries.
    #[test]
    fn chunk_size_lines_are_strict() {
        let good: &[&[u8]] = &[
            b"0\r\n\r\n",
            b"000\r\n\r\n",
            b"A\r\n0123456789\r\n0\r\n\r\n",
            b"1;a\r\nx\r\n0;b=c;d=\"\"\r\n\r\n",
            b"1;a=\"q \\\" ;=\t\"\r\nx\r\n0\r\n\r\n",
            b"00000000000000000001\r\nx\r\n0\r\n\r\n",
            b"0\r\nX-T: v \t v\r\nY:\r\n\r\n",
        ];
        for body in good {
            assert_eq!(discard_both_ways(body), Ok(body.len()), "{:?}", String::from_utf8_lossy(body));
        }
        let bad: &[(&[u8], ParseError)] = &[
            (b"\r\n\r\n", ParseError::Malformed("chunk size line without a size")),
            (b";x\r\n\r\n", ParseError::Malformed("chunk size line without a size")),
            (b" 1\r\nx\r\n0\r\n\r\n", ParseError::Malformed("chunk size line without a size")),
            (b"1 \r\nx\r\n0\r\n\r\n", ParseError::Malformed("invalid chunk size line")),
            (b"1\t;a\r\nx\r\n0\r\n\r\n", ParseError::Malformed("invalid chunk size line")),
            (b"1; a\r\nx\r\n0\r\n\r\n", ParseError::Malformed("invalid chunk extension name")),
            (b"1;\r\nx\r\n0\r\n\r\n", ParseError::Malformed("invalid chunk extension name")),
            (b"1;=v\r\nx\r\n0\r\n\r\n", ParseError::Malformed("invalid chunk extension name")),
            (b"1;a=\r\nx\r\n0\r\n\r\n", ParseError::Malformed("invalid chunk extension value")),
            (b"1;a =b\r\nx\r\n0\r\n\r\n", ParseError::Malformed("invalid chunk size line")),
            (b"1;a=\"b\r\nx\r\n0\r\n\r\n", ParseError::Malformed("invalid quoted string in chunk extension")),
            (b"1;a=\"\\\r\"\r\nx\r\n0\r\n\r\n", ParseError::Malformed("invalid quoted-pair in chunk extension")),
            (b"1\nx\r\n0\r\n\r\n", ParseError::BareLf),
            (b"1;a\nx\r\n0\r\n\r\n", ParseError::BareLf),
            (b"1\rx\r\n0\r\n\r\n", ParseError::Malformed("CR not followed by LF")),
            (b"1\r\nx\n0\r\n\r\n", ParseError::BareLf),
            (b"0x1\r\nx\r\n0\r\n\r\n", ParseError::Malformed("invalid chunk size line")),
            (b"-1\r\nx\r\n0\r\n\r\n", ParseError::Malformed("chunk size line without a size")),
            (b"10000000000000000\r\n", ParseError::Malformed("chunk size overflow")),
            (b"0\r\n\n", ParseError::BareLf),
            (b"0\r\nX: y\n\r\n", ParseError::BareLf),
            (b"0\r\nX: y\rz\r\n\r\n", ParseError::Malformed("CR not followed by LF")),
            (b"0\r\nX y\r\n\r\n", ParseError::Malformed("invalid trailer field")),
            (b"0\r\n: y\r\n\r\n", ParseError::Malformed("invalid trailer field name")),
            (b"0\r\n x: y\r\n\r\n", ParseError::Malformed("invalid trailer field name")),
            (b"0\r\nX: \x01\r\n\r\n", ParseError::Malformed("invalid trailer field value")),
        ];
        for (body, want) in bad {
            assert_eq!(discard_both_ways(body), Err(*want), "{:?}", String::from_utf8_lossy(body));
        }
        // The largest size there is parses; one more digit was the overflow above.
        assert_eq!(ChunkedDiscard::new().feed(b"ffffffffffffffff\r\n", 100), Ok(Discarded::More(18)));
    }

    /// The 4 KiB cap holds for a size line and a trailer line, split or not: 4096 bytes
    /// with the CRLF pass, 4097 do not.
    #[test]
    fn chunk_line_cap_is_exact() {
        // Both lines are two bytes ("1;" or "X:"), the padding and the CRLF.
        for (prefix, suffix) in [("1;", "\r\nx\r\n0\r\n\r\n"), ("0\r\nX:", "\r\n\r\n")] {
            let pad_fits = MAX_CHUNK_LINE - 4;
            let body = format!("{prefix}{}{suffix}", "a".repeat(pad_fits));
            assert_eq!(discard_both_ways(body.as_bytes()), Ok(body.len()), "{prefix:?} at the cap");
            let body = format!("{prefix}{}{suffix}", "a".repeat(pad_fits + 1));
            assert_eq!(
                discard_both_ways(body.as_bytes()),
                Err(ParseError::Malformed("chunk or trailer line too long")),
                "{prefix:?} over the cap"
            );
        }
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
