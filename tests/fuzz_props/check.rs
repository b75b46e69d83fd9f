//! The response checker: the output of one run must be a sequence of complete HTTP/1.1
//! responses the server may send, consistent in their headers, with nothing after a
//! `Connection: close`, no secret bytes, and (for well-formed input) one answer per request.
use super::bytes::contains;
use super::fixture::MARKER;
use super::harness::{Run, Setup};

/// Every status the server may send.
pub const ALLOWED: [u16; 21] =
    [100, 200, 204, 206, 301, 304, 400, 403, 404, 405, 408, 412, 413, 414, 416, 417, 431, 500, 501, 503, 505];

/// Statuses a well-formed GET/HEAD of a good target may get.
const LOOKUP_STATUSES: [u16; 8] = [200, 206, 301, 304, 403, 404, 412, 416];

/// What a well-formed generated request must get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub head: bool,
    /// A `100 Continue` comes first.
    pub cont: bool,
    pub keep_alive: bool,
    pub minor: u8,
    /// The status when the generator can tell (OPTIONS 204, other methods 405, a bad
    /// target 400); otherwise any status a file lookup may give.
    pub status: Option<u16>,
}

/// One parsed response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub close: bool,
    pub keep_alive: bool,
}

/// A response head's header fields: name and value (the value without its leading space).
type Fields<'a> = Vec<(&'a str, &'a [u8])>;

/// Checks one run against every property; `expect` is given for well-formed inputs.
pub fn check(input: &[u8], setup: &Setup, run: &Run, expect: Option<&[Expect]>) -> Result<(), String> {
    let out = &run.output;
    if !contains(input, MARKER) && contains(out, MARKER) {
        return Err("the secret outside the root was sent".into());
    }
    let responses = match expect {
        Some(expects) => check_expected(out, expects)?,
        None => parse_all(out)?,
    };
    check_ending(setup, run, &responses)
}

/// One response per request, in order, each what its request must get; the first
/// `Connection: close` ends the output.
fn check_expected(out: &[u8], expects: &[Expect]) -> Result<Vec<Resp>, String> {
    let mut pos = 0;
    let mut responses = Vec::new();
    for (i, e) in expects.iter().enumerate() {
        if pos == out.len() {
            return Err(format!("request {i} of {} got no response", expects.len()));
        }
        if e.cont {
            let r = parse_response(out, &mut pos, Some(true))?;
            if r.status != 100 {
                return Err(format!("request {i}: {} where 100 Continue was due", r.status));
            }
        }
        let r = parse_response(out, &mut pos, Some(e.head))?;
        check_answer(i, e, &r)?;
        let close = r.close;
        responses.push(r);
        if close {
            break;
        }
    }
    if pos != out.len() {
        return Err(format!("{} bytes of output after the last expected response", out.len() - pos));
    }
    Ok(responses)
}

/// Request `i`'s response has the status it may get, and closes exactly when it must.
fn check_answer(i: usize, e: &Expect, r: &Resp) -> Result<(), String> {
    let allowed = match e.status {
        Some(s) => r.status == s,
        None => LOOKUP_STATUSES.contains(&r.status),
    };
    if !allowed {
        return Err(format!("request {i}: status {} (expected {:?})", r.status, e.status));
    }
    let want_close = !e.keep_alive || r.status == 400;
    if r.close != want_close {
        return Err(format!("request {i}: Connection: close is {}, expected {want_close}", r.close));
    }
    if e.minor == 0 && e.keep_alive && !r.close && !r.keep_alive {
        return Err(format!("request {i}: HTTP/1.0 keep-alive answered without Connection: keep-alive"));
    }
    Ok(())
}

/// Every response in `out`, with nothing after a `Connection: close` one.
fn parse_all(out: &[u8]) -> Result<Vec<Resp>, String> {
    let mut pos = 0;
    let mut responses = Vec::new();
    while pos < out.len() {
        let r = parse_response(out, &mut pos, None)?;
        let close = r.close;
        responses.push(r);
        if close && pos < out.len() {
            return Err("output after a Connection: close response".into());
        }
    }
    Ok(responses)
}

/// How the connection ended agrees with the peer and with the last response.
fn check_ending(setup: &Setup, run: &Run, responses: &[Resp]) -> Result<(), String> {
    let last_close = responses.last().is_some_and(|r| r.close);
    if !run.closed && !run.timed_out && last_close && !run.shut {
        return Err("answered Connection: close but neither closed nor half-closed".into());
    }
    if setup.eof && !run.closed && !run.timed_out {
        return Err("the peer closed, the connection stayed open".into());
    }
    if run.closed && !setup.eof && !last_close {
        return Err("closed a live connection without a Connection: close response".into());
    }
    if run.timed_out && responses.last().is_some_and(|r| r.status == 408 && !r.close) {
        return Err("408 without Connection: close".into());
    }
    Ok(())
}

/// Splits at every CRLF.
fn split_crlf(mut s: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if s.is_empty() {
            return None;
        }
        let end = s.windows(2).position(|w| w == b"\r\n").unwrap_or(s.len());
        let line = &s[..end];
        s = &s[(end + 2).min(s.len())..];
        Some(line)
    })
}

fn header<'a>(fields: &[(&'a str, &'a [u8])], name: &str) -> Vec<&'a [u8]> {
    fields.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v).collect()
}

fn decimal(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// A parsed response head: its status, its fields, and where its body starts.
struct Head<'a> {
    status: u16,
    fields: Fields<'a>,
    body_at: usize,
}

/// Parses the response at `out[*pos..]`. `head_only`: whether the request was HEAD, when
/// known; when not, a body is taken as absent exactly when what follows the head is the
/// end of the output or another status line (no fixture file starts with one).
fn parse_response(out: &[u8], pos: &mut usize, head_only: Option<bool>) -> Result<Resp, String> {
    let Head { status, fields, body_at } = parse_head(out, *pos)?;
    let lengths = header(&fields, "content-length");
    let close = header(&fields, "connection").iter().any(|v| v.eq_ignore_ascii_case(b"close"));
    let keep_alive = header(&fields, "connection").iter().any(|v| v.eq_ignore_ascii_case(b"keep-alive"));
    if !header(&fields, "transfer-encoding").is_empty() {
        return Err(format!("{status} response with Transfer-Encoding"));
    }
    if status != 100 && (header(&fields, "date").len() != 1 || header(&fields, "server").len() != 1) {
        return Err(format!("{status} response without exactly one Date and one Server"));
    }
    let body_len = match status {
        100 if !fields.is_empty() => return Err("100 Continue with header fields".into()),
        204 if !lengths.is_empty() => return Err("204 with Content-Length".into()),
        100 | 204 => 0,
        304 => {
            check_fields(status, &fields, 0)?;
            0
        }
        _ => body_len(out, status, &fields, body_at, head_only)?,
    };
    *pos = body_at + body_len;
    Ok(Resp { status, close, keep_alive })
}

/// The head at `out[at..]`: a status line with a status the server may send and its own
/// reason phrase, then header lines without control bytes.
fn parse_head(out: &[u8], at: usize) -> Result<Head<'_>, String> {
    let rest = &out[at..];
    let Some(head_end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(format!("truncated response head at byte {at}"));
    };
    // Lines end in CRLF; a CR or LF left inside a line is a bare one (response splitting).
    let mut lines = split_crlf(&rest[..head_end]);
    let status = parse_status_line(lines.next().unwrap_or_default(), at)?;
    let fields = lines.map(parse_field).collect::<Result<Fields, String>>()?;
    Ok(Head { status, fields, body_at: at + head_end + 4 })
}

fn parse_status_line(line: &[u8], at: usize) -> Result<u16, String> {
    if line.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(format!("control byte in the status line at byte {at}"));
    }
    let status = match line {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'1', b' ', d1, d2, d3, b' ', reason @ ..]
            if d1.is_ascii_digit() && d2.is_ascii_digit() && d3.is_ascii_digit() =>
        {
            let status = u16::from(d1 - b'0') * 100 + u16::from(d2 - b'0') * 10 + u16::from(d3 - b'0');
            if reason != evserve::http::status::reason(status).as_bytes() {
                return Err(format!("status {status} with reason {:?}", String::from_utf8_lossy(reason)));
            }
            status
        }
        _ => return Err(format!("bad status line at byte {at}: {:?}", String::from_utf8_lossy(line))),
    };
    if !ALLOWED.contains(&status) {
        return Err(format!("status {status} is not one the server may send"));
    }
    Ok(status)
}

fn parse_field(line: &[u8]) -> Result<(&str, &[u8]), String> {
    if line.iter().any(|&b| b == b'\r' || (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(format!("control byte in response header line {:?}", String::from_utf8_lossy(line)));
    }
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Err(format!("header line without colon: {:?}", String::from_utf8_lossy(line)));
    };
    let name = std::str::from_utf8(&line[..colon]).map_err(|_| "non-ASCII header name".to_string())?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(format!("bad header name {name:?}"));
    }
    let value = line[colon + 1..].strip_prefix(b" ").unwrap_or(&line[colon + 1..]);
    Ok((name, value))
}

/// The body length of a response that allows one: exactly one `Content-Length`, and that
/// many bytes followed by the end or another response, unless the body was omitted (HEAD).
fn body_len(out: &[u8], status: u16, fields: &Fields, at: usize, head_only: Option<bool>) -> Result<usize, String> {
    let lengths = header(fields, "content-length");
    let [len] = lengths.as_slice() else {
        return Err(format!("{status} response with {} Content-Length fields", lengths.len()));
    };
    let len = decimal(len).ok_or_else(|| format!("bad Content-Length {:?}", String::from_utf8_lossy(len)))?;
    let after_head = &out[at..];
    let omitted = match head_only {
        Some(h) => h,
        None => after_head.is_empty() || after_head.starts_with(b"HTTP/1.1 "),
    };
    let mut body_len = 0;
    if !omitted {
        body_len = len as usize;
        if after_head.len() < body_len {
            return Err(format!("{status} response announces {body_len} body bytes, only {} follow", after_head.len()));
        }
        let after = &after_head[body_len..];
        if !after.is_empty() && !after.starts_with(b"HTTP/1.1 ") {
            return Err(format!(
                "{status} response: what follows its {body_len}-byte body is not a response: {:?}",
                String::from_utf8_lossy(&after[..after.len().min(40)])
            ));
        }
    }
    check_fields(status, fields, len)?;
    Ok(body_len)
}

/// The one value of header `name`, or an error naming how many there are.
fn one<'a>(status: u16, fields: &[(&'a str, &'a [u8])], name: &str) -> Result<&'a [u8], String> {
    match header(fields, name).as_slice() {
        [v] => Ok(v),
        other => Err(format!("{status} response with {} {name} fields", other.len())),
    }
}

/// Per-status header consistency (`len`: the Content-Length, 0 for a 304).
fn check_fields(status: u16, fields: &Fields, len: u64) -> Result<(), String> {
    let tagged = etag_length(status, fields)?;
    if status == 206 && tagged.is_none() {
        return Err("206 without ETag".into());
    }
    match status {
        200 => {
            if let Some(full) = tagged
                && full != len
            {
                return Err(format!("200 with Content-Length {len} for a {full}-byte representation"));
            }
        }
        206 => check_partial(fields, len, tagged)?,
        416 if !one(status, fields, "content-range")?.starts_with(b"bytes */") => {
            return Err("416 without bytes */len".into());
        }
        301 => {
            let loc = one(status, fields, "location")?;
            if !loc.starts_with(b"/") || loc.starts_with(b"//") {
                return Err(format!("301 to {:?}", String::from_utf8_lossy(loc)));
            }
        }
        405 => {
            one(status, fields, "allow")?;
        }
        304 => {
            one(status, fields, "etag")?;
        }
        _ => {}
    }
    Ok(())
}

/// The length the ETag names, if there is one. The ETag is
/// `"<length hex>-<seconds hex>.<nanoseconds hex>[-<coding>]"`: the length of the
/// representation it names, and the coding when it is a sidecar (which must match
/// `Content-Encoding`).
fn etag_length(status: u16, fields: &Fields) -> Result<Option<u64>, String> {
    let etag = header(fields, "etag");
    let tag = match etag.as_slice() {
        [] => return Ok(None),
        [tag] => tag,
        _ => return Err(format!("{status} with several ETags")),
    };
    let text = std::str::from_utf8(tag).map_err(|_| "non-ASCII ETag")?;
    let inner = text.strip_prefix('"').and_then(|t| t.strip_suffix('"'));
    let mut parts = inner.unwrap_or_default().splitn(3, '-');
    let len = parts.next().and_then(|h| u64::from_str_radix(h, 16).ok());
    let coding = parts.nth(1);
    let Some(len) = len else { return Err(format!("{status} with ETag {text:?}")) };
    let encoding = header(fields, "content-encoding");
    if encoding.first().copied() != coding.map(str::as_bytes) || encoding.len() > 1 {
        return Err(format!("{status} with ETag {text:?} and Content-Encoding {encoding:?}"));
    }
    Ok(Some(len))
}

/// A 206: multipart without a Content-Range, or one range inside the tagged length whose
/// size is the Content-Length.
fn check_partial(fields: &Fields, len: u64, tagged: Option<u64>) -> Result<(), String> {
    let ctype = one(206, fields, "content-type")?;
    if ctype.starts_with(b"multipart/byteranges; boundary=") {
        if !header(fields, "content-range").is_empty() {
            return Err("multipart 206 with a Content-Range".into());
        }
        return Ok(());
    }
    let range = one(206, fields, "content-range")?;
    let text = std::str::from_utf8(range).map_err(|_| "non-ASCII Content-Range")?;
    let parsed = text.strip_prefix("bytes ").and_then(|r| {
        let (span, total) = r.split_once('/')?;
        let (a, b) = span.split_once('-')?;
        Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?, total.parse::<u64>().ok()?))
    });
    match parsed {
        Some((a, b, total)) if a <= b && b < total && b - a + 1 == len && Some(total) == tagged => Ok(()),
        _ => Err(format!("206 with Content-Range {text:?} and Content-Length {len}")),
    }
}
