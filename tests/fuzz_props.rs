//! Property tests of the whole request path over an in-memory stream.
//!
//! Thousands of generated inputs (valid requests with hostile targets, random header fields,
//! bodies, pipelining, CR/LF splices, byte-level damage, random bytes) drive a `Connection`
//! whose stream hands the input over in random-sized reads and takes output in random-sized
//! writes, sometimes saying `WouldBlock`. Every run must:
//!
//! - not panic, and not spin (a `Yield`/`Wait` loop with no progress fails the test);
//! - write a sequence of complete HTTP/1.1 responses with statuses the server may send,
//!   one `Content-Length` where a body is allowed, bodies of exactly that length, no
//!   `Transfer-Encoding`, no control bytes in a head, nothing after `Connection: close`;
//! - never send the bytes of a secret file that sits outside the root (reachable only
//!   through symlinks and `..` tricks);
//! - for inputs generated well-formed: answer every request exactly once and in order,
//!   with a body unless it was HEAD, `100 Continue` exactly when asked, and
//!   `Connection: close` exactly when the request or a 400 calls for it;
//! - close when the peer closed, and never close silently on a client that is still there.
//!
//! There are no extra crates: a fixed-seed xorshift makes every run the same. The harness
//! is shared with the cargo-fuzz targets in `fuzz/` (they include this file with `#[path]`
//! and call `run_raw` and `check_resolve`), so a fuzzer's crash file becomes a regression
//! test here by pasting its bytes into a `#[test]` that calls `regression`.
use std::io::{self, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use evserve::handler::{Site, SiteOptions};
use evserve::request::Limits;
use evserve::resolve::{Reject, resolve_target};
use evserve::response::DateCache;
use evserve::testing::{Connection, Context, Status, Transport};
use evserve::text::encode_path;
use evserve::timer::Timeouts;

/// Every status the server may send.
pub const ALLOWED: [u16; 21] =
    [100, 200, 204, 206, 301, 304, 400, 403, 404, 405, 408, 412, 413, 414, 416, 417, 431, 500, 501, 503, 505];

/// The content of the secret files outside the root. Control bytes make it impossible for
/// the server to echo it legitimately (a `Location` is re-encoded, a query keeps only
/// visible ASCII), so seeing it in the output always means a file outside the root leaked.
pub const MARKER: &[u8] = b"\x00\x01EVSERVE-SECRET-7c1e\x02\xff";

/// A driven connection that neither closes nor makes progress for this many turns in a
/// row is livelocked (the mock never refuses more than two operations in a row).
const STALL_MAX: usize = 8;

/// Hard cap on turns per input, and on output per input.
const TURNS_MAX: usize = 200_000;
const OUTPUT_MAX: usize = 64 << 20;

// ---------------------------------------------------------------------------------------
// Randomness

/// xorshift64*: small, fast, and the same everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng((seed ^ 0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }
}

// ---------------------------------------------------------------------------------------
// The fixture: a root with files, folders, sidecars, dotfiles and symlinks, and a secret
// next to it.

pub struct Fixture {
    pub base: PathBuf,
    pub root: PathBuf,
    /// ETags of some files (identity and gzip), for conditional requests that match.
    pub etags: Vec<String>,
    /// Last-Modified dates of some files.
    pub dates: Vec<String>,
}

impl Fixture {
    /// Builds the fixture under the temp dir; `tag` keeps parallel tests apart.
    pub fn create(tag: &str) -> Fixture {
        let base = std::env::temp_dir().join(format!("evserve-fuzz-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        // A fixed modification time keeps ETags and dates, and so every generated input,
        // the same from run to run.
        let mtime = std::time::UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 123_456_789);
        let write = |rel: &str, data: &[u8]| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, data).unwrap();
            std::fs::File::options().write(true).open(&p).unwrap().set_modified(mtime).unwrap();
        };
        write("index.html", b"<!DOCTYPE html><title>home</title><p>index</p>\n");
        write("404.html", b"<!DOCTYPE html><title>custom 404</title>\n");
        write("a.js", &b"console.log('a');\n".repeat(40));
        write("a.js.gz", b"GZIP-SIDECAR-BYTES");
        write("a.js.br", b"BROTLI-SIDECAR-BYTES");
        write("style.css", b"body { color: red }\n");
        write("empty.txt", b"");
        write("docs/index.html", b"<p>docs</p>\n");
        write("docs/guide.txt", &b"guide line\n".repeat(30));
        write("docs/deep/nested/file.bin", &(1..=255u8).collect::<Vec<_>>());
        write("noindex/one.txt", b"one\n");
        write("noindex/two.json", b"{\"two\":2}\n");
        let pattern: Vec<u8> = (0..40_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        write("big.bin", &pattern);
        let huge: Vec<u8> = (0..2_200_000u32).map(|i| b'A' + (i % 23) as u8).collect();
        write("huge.bin", &huge);
        write(".git/config", b"[core]\n\trepositoryformatversion = 0\n");
        write(".env", b"HIDDEN=1\n");
        write(".well-known/security.txt", b"Contact: mailto:x@example.com\n");
        write("sp ace.txt", b"space\n");
        write("caf\u{e9}.txt", b"cafe\n");
        write("100%.txt", b"percent\n");
        write("a%2fb.txt", b"literal percent-2f\n");
        // The secrets, outside the root.
        let mut secret = b"secret file: ".to_vec();
        secret.extend_from_slice(&MARKER.repeat(4));
        std::fs::write(base.join("secret.txt"), &secret).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        std::fs::write(base.join("outside/inner.txt"), &secret).unwrap();
        std::fs::write(base.join("outside/index.html"), &secret).unwrap();
        let link = |to: &str, at: &str| {
            let _ = std::os::unix::fs::symlink(to, root.join(at));
        };
        link("../secret.txt", "leak");
        link(base.join("secret.txt").to_str().unwrap(), "abs-leak");
        link("..", "up");
        link("../outside", "outdir");
        link("docs/guide.txt", "inner");
        link("../index.html", "docs/back");
        link("loop", "loop");
        link("nowhere", "dangling");
        let _ =
            std::process::Command::new("mkfifo").arg(root.join("fifo")).stderr(std::process::Stdio::null()).status();
        let mut etags = Vec::new();
        let mut dates = Vec::new();
        for rel in ["index.html", "a.js", "docs/guide.txt", "big.bin", "a.js.gz"] {
            let meta = std::fs::metadata(root.join(rel)).unwrap();
            let modified = meta.modified().unwrap();
            let coding = rel.ends_with(".gz").then_some(evserve::files::Coding::Gzip);
            etags.push(evserve::files::etag(meta.len(), modified, coding));
            let mut d = DateCache::default();
            d.update(modified);
            dates.push(d.get().to_string());
        }
        Fixture { base, root, etags, dates }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

// ---------------------------------------------------------------------------------------
// The stream

/// How one input is delivered and served.
#[derive(Debug, Clone)]
pub struct Setup {
    pub limits: Limits,
    pub options: SiteOptions,
    /// After the input, reads return EOF (else `WouldBlock` forever).
    pub eof: bool,
    /// With `eof`: report the half-close as readiness (`read_closed`), as EPOLLRDHUP does.
    pub hup: bool,
    /// Sometimes refuse a read or write with `WouldBlock` (never more than twice in a row).
    pub faults: bool,
    /// Largest read and write sizes (each op picks at random up to this, or all).
    pub read_max: usize,
    pub write_max: usize,
    /// When the run goes idle, fire the connection's timeout.
    pub timeout_at_end: bool,
    pub seed: u64,
}

const READ_SIZES: [usize; 6] = [1, 3, 16, 200, 4096, 1 << 20];
const WRITE_SIZES: [usize; 5] = [1, 7, 100, 5000, 1 << 20];

impl Setup {
    /// A setup from two bytes (the fuzz target's first two).
    pub fn from_bits(flags: u8, seed: u8) -> Setup {
        let limits = match flags & 3 {
            0 | 1 => Limits::default(),
            2 => Limits { max_head_bytes: 600, max_uri_bytes: 200, max_headers: 10, max_body_bytes: 100 },
            _ => Limits { max_head_bytes: 20_000, max_uri_bytes: 16_000, max_headers: 200, max_body_bytes: 1 << 20 },
        };
        let mut options = SiteOptions::default();
        match flags >> 6 {
            0 => {}
            1 => {
                options.dotfiles = true;
                options.listing = true;
            }
            2 => options.spa = true,
            _ => {
                options.dotfiles = true;
                options.listing = true;
                options.spa = true;
                options.extra_headers = b"X-Extra: yes\r\n".to_vec();
            }
        }
        Setup {
            limits,
            options,
            eof: flags & 4 != 0,
            hup: flags & 8 != 0,
            faults: flags & 16 != 0,
            timeout_at_end: flags & 32 != 0,
            read_max: READ_SIZES[seed as usize % READ_SIZES.len()],
            write_max: WRITE_SIZES[(seed as usize / READ_SIZES.len()) % WRITE_SIZES.len()],
            seed: u64::from(seed),
        }
    }
}

/// An in-memory socket: scripted input, recorded output.
pub struct Mock {
    input: Vec<u8>,
    pos: usize,
    eof: bool,
    eof_seen: bool,
    pub output: Vec<u8>,
    pub shut: bool,
    rng: Rng,
    faults: bool,
    read_max: usize,
    write_max: usize,
    refusals: u32,
    /// This turn moved bytes (or delivered EOF, or half-closed).
    moved: bool,
    /// This turn the mock refused an operation on its own.
    injected: bool,
    violation: Option<String>,
}

impl Mock {
    pub fn new(input: &[u8], setup: &Setup) -> Mock {
        Mock {
            input: input.to_vec(),
            pos: 0,
            eof: setup.eof,
            eof_seen: false,
            output: Vec::new(),
            shut: false,
            rng: Rng::new(setup.seed ^ (input.len() as u64).rotate_left(32)),
            faults: setup.faults,
            read_max: setup.read_max,
            write_max: setup.write_max,
            refusals: 0,
            moved: false,
            injected: false,
            violation: None,
        }
    }

    fn exhausted(&self) -> bool {
        self.pos == self.input.len() && (!self.eof || self.eof_seen)
    }

    fn refuse(&mut self) -> bool {
        if self.faults && self.refusals < 2 && self.rng.chance(1, 6) {
            self.refusals += 1;
            self.injected = true;
            return true;
        }
        self.refusals = 0;
        false
    }

    fn size(&mut self, max: usize) -> usize {
        if self.rng.chance(1, 4) { usize::MAX } else { 1 + self.rng.below(max) }
    }
}

impl Read for Mock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            self.violation = Some("read into an empty buffer (looks like EOF to the caller)".into());
            return Ok(0);
        }
        if self.refuse() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if self.pos == self.input.len() {
            if self.eof {
                if !self.eof_seen {
                    self.eof_seen = true;
                    self.moved = true;
                }
                return Ok(0);
            }
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.size(self.read_max).min(buf.len()).min(self.input.len() - self.pos);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        self.moved = true;
        Ok(n)
    }
}

impl Write for Mock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.shut {
            self.violation = Some("write after shutdown_write".into());
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        if buf.is_empty() {
            return Ok(0);
        }
        if self.refuse() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.size(self.write_max).min(buf.len());
        self.output.extend_from_slice(&buf[..n]);
        self.moved = true;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for Mock {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shut = true;
        self.moved = true;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Driving

/// What a run left behind.
#[derive(Debug)]
pub struct Run {
    pub output: Vec<u8>,
    /// `drive` returned `Close` (not counting a timeout at the end).
    pub closed: bool,
    /// The connection half-closed (lingering close).
    pub shut: bool,
    /// The timeout fired at the end.
    pub timed_out: bool,
    pub turns: usize,
}

/// Drives a connection over `input` until it closes, or until all input is delivered and
/// it waits twice with nothing to do. Errors name the broken property.
pub fn drive(input: &[u8], setup: &Setup, site: Site) -> Result<Run, String> {
    let mut cx = Context::new(site, setup.limits, Timeouts::default(), None);
    let mut conn = Connection::new(None, cx.now);
    let mut mock = Mock::new(input, setup);
    let mut stall = 0;
    let mut idle = 0;
    let mut turns = 0;
    loop {
        turns += 1;
        if turns > TURNS_MAX {
            return Err(format!("no end after {TURNS_MAX} turns ({} bytes out)", mock.output.len()));
        }
        if mock.output.len() > OUTPUT_MAX {
            return Err(format!("more than {OUTPUT_MAX} bytes of output"));
        }
        mock.moved = false;
        mock.injected = false;
        let hup = setup.eof && setup.hup && mock.pos == mock.input.len();
        conn.ready(true, true, hup);
        cx.tick();
        let status = conn.drive(&mut mock, &mut cx);
        if let Some(v) = mock.violation.take() {
            return Err(v);
        }
        if status == Status::Close {
            return Ok(Run { output: mock.output, closed: true, shut: mock.shut, timed_out: false, turns });
        }
        if mock.moved {
            stall = 0;
            idle = 0;
            continue;
        }
        stall += 1;
        if stall > STALL_MAX {
            return Err(format!(
                "livelock: {stall} turns in a row without progress, last status {status:?}, state {}, \
                 {} of {} input bytes delivered",
                conn.state_name(),
                mock.pos,
                mock.input.len()
            ));
        }
        if status == Status::Wait && !mock.injected && mock.exhausted() {
            idle += 1;
            if idle >= 2 {
                break;
            }
        }
    }
    let mut timed_out = false;
    if setup.timeout_at_end {
        // The timeout writes once without waiting: let that write through whole.
        mock.faults = false;
        mock.write_max = usize::MAX - 1;
        timed_out = true;
        let status = conn.on_timeout(&mut mock, &mut cx);
        if let Some(v) = mock.violation.take() {
            return Err(v);
        }
        if status != Status::Close {
            return Err(format!("on_timeout returned {status:?}"));
        }
    }
    Ok(Run { output: mock.output, closed: false, shut: mock.shut, timed_out, turns })
}

// ---------------------------------------------------------------------------------------
// Checking

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

/// Statuses a well-formed GET/HEAD of a good target may get.
const LOOKUP_STATUSES: [u16; 8] = [200, 206, 301, 304, 403, 404, 412, 416];

/// One parsed response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub close: bool,
    pub keep_alive: bool,
    pub body_len: usize,
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let first = needle[0];
    hay.iter().enumerate().any(|(i, &b)| b == first && hay[i..].starts_with(needle))
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

/// Parses the response at `out[*pos..]`. `head_only`: whether the request was HEAD, when
/// known; when not, a body is taken as absent exactly when what follows the head is the
/// end of the output or another status line (no fixture file starts with one).
fn parse_response(out: &[u8], pos: &mut usize, head_only: Option<bool>) -> Result<Resp, String> {
    let at = *pos;
    let rest = &out[at..];
    let Some(head_end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(format!("truncated response head at byte {at}"));
    };
    let head = &rest[..head_end];
    // Lines end in CRLF; a CR or LF left inside a line is a bare one (response splitting).
    let mut lines = split_crlf(head);
    let status_line = lines.next().unwrap_or_default();
    if status_line.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(format!("control byte in the status line at byte {at}"));
    }
    let status = match status_line {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'1', b' ', d1, d2, d3, b' ', reason @ ..]
            if d1.is_ascii_digit() && d2.is_ascii_digit() && d3.is_ascii_digit() =>
        {
            let status = u16::from(d1 - b'0') * 100 + u16::from(d2 - b'0') * 10 + u16::from(d3 - b'0');
            if reason != evserve::response::reason(status).as_bytes() {
                return Err(format!("status {status} with reason {:?}", String::from_utf8_lossy(reason)));
            }
            status
        }
        _ => return Err(format!("bad status line at byte {at}: {:?}", String::from_utf8_lossy(status_line))),
    };
    if !ALLOWED.contains(&status) {
        return Err(format!("status {status} is not one the server may send"));
    }
    let mut fields: Vec<(&str, &[u8])> = Vec::new();
    for line in lines {
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
        fields.push((name, value));
    }
    let mut next = at + head_end + 4;
    let lengths = header(&fields, "content-length");
    let close = header(&fields, "connection").iter().any(|v| v.eq_ignore_ascii_case(b"close"));
    let keep_alive = header(&fields, "connection").iter().any(|v| v.eq_ignore_ascii_case(b"keep-alive"));
    if !header(&fields, "transfer-encoding").is_empty() {
        return Err(format!("{status} response with Transfer-Encoding"));
    }
    if status != 100 && (header(&fields, "date").len() != 1 || header(&fields, "server").len() != 1) {
        return Err(format!("{status} response without exactly one Date and one Server"));
    }
    let mut body_len = 0;
    match status {
        100 => {
            if !fields.is_empty() {
                return Err("100 Continue with header fields".into());
            }
        }
        204 => {
            if !lengths.is_empty() {
                return Err("204 with Content-Length".into());
            }
        }
        304 => check_fields(status, &fields, 0)?,
        _ => {
            let [len] = lengths.as_slice() else {
                return Err(format!("{status} response with {} Content-Length fields", lengths.len()));
            };
            let len = decimal(len).ok_or_else(|| format!("bad Content-Length {:?}", String::from_utf8_lossy(len)))?;
            let after_head = &out[next..];
            let omitted = match head_only {
                Some(h) => h,
                None => after_head.is_empty() || after_head.starts_with(b"HTTP/1.1 "),
            };
            if !omitted {
                let len = len as usize;
                if after_head.len() < len {
                    return Err(format!(
                        "{status} response announces {len} body bytes, only {} follow",
                        after_head.len()
                    ));
                }
                let after = &after_head[len..];
                if !after.is_empty() && !after.starts_with(b"HTTP/1.1 ") {
                    return Err(format!(
                        "{status} response: what follows its {len}-byte body is not a response: {:?}",
                        String::from_utf8_lossy(&after[..after.len().min(40)])
                    ));
                }
                body_len = len;
            }
            check_fields(status, &fields, len)?;
        }
    }
    next += body_len;
    *pos = next;
    Ok(Resp { status, close, keep_alive, body_len })
}

/// Per-status header consistency (`len`: the Content-Length, 0 for a 304).
fn check_fields(status: u16, fields: &[(&str, &[u8])], len: u64) -> Result<(), String> {
    let one = |name: &str| -> Result<&[u8], String> {
        match header(fields, name).as_slice() {
            [v] => Ok(v),
            other => Err(format!("{status} response with {} {name} fields", other.len())),
        }
    };
    // The ETag is `"<length hex>-<seconds hex>.<nanoseconds hex>[-<coding>]"`: the length
    // of the representation it names, and the coding when it is a sidecar.
    let etag = header(fields, "etag");
    let tagged = match etag.as_slice() {
        [] => None,
        [tag] => {
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
            Some(len)
        }
        _ => return Err(format!("{status} with several ETags")),
    };
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
        206 => {
            let ctype = one("content-type")?;
            if ctype.starts_with(b"multipart/byteranges; boundary=") {
                if !header(fields, "content-range").is_empty() {
                    return Err("multipart 206 with a Content-Range".into());
                }
            } else {
                let range = one("content-range")?;
                let text = std::str::from_utf8(range).map_err(|_| "non-ASCII Content-Range")?;
                let parsed = text.strip_prefix("bytes ").and_then(|r| {
                    let (span, total) = r.split_once('/')?;
                    let (a, b) = span.split_once('-')?;
                    Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?, total.parse::<u64>().ok()?))
                });
                match parsed {
                    Some((a, b, total)) if a <= b && b < total && b - a + 1 == len && Some(total) == tagged => {}
                    _ => return Err(format!("206 with Content-Range {text:?} and Content-Length {len}")),
                }
            }
        }
        416 if !one("content-range")?.starts_with(b"bytes */") => {
            return Err("416 without bytes */len".into());
        }
        301 => {
            let loc = one("location")?;
            if !loc.starts_with(b"/") || loc.starts_with(b"//") {
                return Err(format!("301 to {:?}", String::from_utf8_lossy(loc)));
            }
        }
        405 => {
            one("allow")?;
        }
        304 => {
            one("etag")?;
        }
        _ => {}
    }
    Ok(())
}

/// Checks one run against every property; `expect` is given for well-formed inputs.
pub fn check(input: &[u8], setup: &Setup, run: &Run, expect: Option<&[Expect]>) -> Result<(), String> {
    let out = &run.output;
    if !contains(input, MARKER) && contains(out, MARKER) {
        return Err("the secret outside the root was sent".into());
    }
    let mut pos = 0;
    let mut responses = Vec::new();
    match expect {
        Some(expects) => {
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
                let close = r.close;
                responses.push(r);
                if close {
                    break;
                }
            }
            if pos != out.len() {
                return Err(format!("{} bytes of output after the last expected response", out.len() - pos));
            }
        }
        None => {
            while pos < out.len() {
                let r = parse_response(out, &mut pos, None)?;
                let close = r.close;
                responses.push(r);
                if close && pos < out.len() {
                    return Err("output after a Connection: close response".into());
                }
            }
        }
    }
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

/// Drives and checks one input, turning a panic into an error.
pub fn run_case(input: &[u8], setup: &Setup, root: &std::path::Path, expect: Option<&[Expect]>) -> Result<(), String> {
    run_case_stats(input, setup, root, expect, &mut Stats::default())
}

/// What the generated runs covered (printed by the tests, `--nocapture` to see it).
#[derive(Debug, Default)]
pub struct Stats {
    pub cases: usize,
    pub well_formed: usize,
    pub turns: usize,
    pub bytes_out: usize,
    pub closed: usize,
    pub half_closed: usize,
    pub timed_out: usize,
    pub statuses: std::collections::BTreeMap<u16, usize>,
}

fn run_case_stats(
    input: &[u8],
    setup: &Setup,
    root: &std::path::Path,
    expect: Option<&[Expect]>,
    stats: &mut Stats,
) -> Result<(), String> {
    let site = Site::new(root, setup.options.clone()).map_err(|e| format!("Site::new: {e}"))?;
    let result = catch_unwind(AssertUnwindSafe(|| drive(input, setup, site)));
    let run = match result {
        Ok(run) => run?,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            return Err(format!("panic: {msg}"));
        }
    };
    stats.cases += 1;
    stats.well_formed += usize::from(expect.is_some());
    stats.turns += run.turns;
    stats.bytes_out += run.output.len();
    stats.closed += usize::from(run.closed);
    stats.half_closed += usize::from(run.shut);
    stats.timed_out += usize::from(run.timed_out);
    for head in response_heads(&run.output) {
        if let Some(code) = head.get(9..12).and_then(|c| std::str::from_utf8(c).ok()?.parse().ok()) {
            *stats.statuses.entry(code).or_default() += 1;
        }
    }
    check(input, setup, &run, expect)
}

/// The fuzz target's entry: `data[0]` chooses the setup (`Setup::from_bits`), `data[1]` the
/// read/write sizes and the mock's seed, the rest is what the client sends.
pub fn run_raw(data: &[u8], fx: &Fixture) -> Result<(), String> {
    let [flags, seed, input @ ..] = data else { return Ok(()) };
    run_case(input, &Setup::from_bits(*flags, *seed), &fx.root, None)
}

/// The resolve properties: a resolved path is clean (no `.`, `..` or empty segment, no
/// leading `/`, no control byte or backslash, no hidden segment unless allowed) and
/// survives the round trip through `encode_path` (the 301 `Location`) unchanged.
pub fn check_resolve(target: &str, dotfiles: bool) -> Result<(), String> {
    let r = match catch_unwind(|| resolve_target(target, dotfiles)) {
        Ok(Ok(r)) => r,
        Ok(Err(Reject::BadRequest(_) | Reject::Hidden)) => return Ok(()),
        Err(_) => return Err(format!("resolve_target panicked on {target:?}")),
    };
    let path = &r.path;
    if path.starts_with('/') {
        return Err(format!("{target:?} -> {path:?} starts with /"));
    }
    if !path.is_empty() {
        for (i, seg) in path.split('/').enumerate() {
            if seg.is_empty() || seg == "." || seg == ".." {
                return Err(format!("{target:?} -> {path:?} has segment {seg:?}"));
            }
            if !dotfiles && seg.starts_with('.') && !(i == 0 && seg == ".well-known") {
                return Err(format!("{target:?} -> {path:?} shows hidden segment {seg:?}"));
            }
        }
    }
    if path.bytes().any(|b| b < 0x20 || b == 0x7f || b == b'\\') {
        return Err(format!("{target:?} -> {path:?} has a control byte or backslash"));
    }
    if r.query != target.split_once('?').map(|(_, q)| q) {
        return Err(format!("{target:?}: query {:?}", r.query));
    }
    let mut again = String::from("/");
    encode_path(path, &mut again);
    match resolve_target(&again, dotfiles) {
        Ok(r2) if r2.path == *path => Ok(()),
        other => Err(format!("{target:?} -> {path:?}, but its Location {again:?} resolves to {other:?}")),
    }
}

// ---------------------------------------------------------------------------------------
// Generating

const BASES: &[&str] = &[
    "/",
    "/index.html",
    "/index.html?x=1",
    "/a.js",
    "/a.js.gz",
    "/style.css",
    "/empty.txt",
    "/docs",
    "/docs/",
    "/docs/index.html",
    "/docs/guide.txt",
    "/docs/deep/nested/file.bin",
    "/docs/deep",
    "/docs/back",
    "/noindex",
    "/noindex/",
    "/big.bin",
    "/404.html",
    "/.git/config",
    "/.git/",
    "/.env",
    "/.well-known/security.txt",
    "/.well-known/",
    "/leak",
    "/abs-leak",
    "/up/secret.txt",
    "/up/",
    "/up",
    "/outdir/inner.txt",
    "/outdir/",
    "/inner",
    "/loop",
    "/dangling",
    "/fifo",
    "/missing",
    "/missing/",
    "/missing.html",
    "/sp%20ace.txt",
    "/caf%C3%A9.txt",
    "/caf\u{e9}.txt",
    "/100%25.txt",
    "/a%252fb.txt",
    "/../secret.txt",
    "/docs/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/..%2fsecret.txt",
    "/..%5csecret.txt",
    "/%252e%252e/secret.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "/docs/%2e%2e/%2e%2e/secret.txt",
    "/docs?q=/../../secret.txt",
    "//up/secret.txt",
    "/docs//guide.txt",
    "/./docs/./guide.txt",
    "/docs/deep/..",
    "/docs/.",
    "*",
    "http://evserve.test/docs",
    "http://evserve.test",
    "HTTP://evserve.test/a.js?x",
    "https://h/up/secret.txt",
    "http://evserve.test/%2e%2e/secret.txt",
    "http://evserve.test?x=/../secret.txt",
    "http://evserve.test:8080?a",
    "http://[::1]/docs/",
];

/// Pieces spliced into targets: everything here is request-line safe.
const PIECES: &[&str] = &[
    "..",
    ".",
    "%2e",
    "%2E",
    "%2e%2e",
    "%2E.",
    ".%2e",
    "%2f",
    "%2F",
    "%00",
    "%252e",
    "%252e%252e",
    "%c0%ae",
    "%c0%af",
    "%e0%80%ae",
    "%ed%a0%80",
    "%5c",
    "%5C",
    "\\",
    "//",
    "%",
    "%z",
    "%zz",
    "%f",
    "%ff",
    "#",
    "#frag",
    "?",
    "?q=/../",
    ".git",
    ".well-known",
    "leak",
    "up",
    "outdir",
    "secret.txt",
    "docs",
    "~",
    ";",
    "%20",
    "%0a",
    "%0d%0a",
    "%7f",
    "%u002e",
    "..;",
    "...",
    "%c3%a9",
    "\u{e9}",
    "%2e%2e%2f",
    "index.html",
    "%3f",
    "%23",
    "%25",
    "/..",
    "/../..",
    "/.",
];

/// Raw bytes that make a request line malformed.
const RAW_PIECES: &[&[u8]] = &[b" ", b"\t", b"\x00", b"\r", b"\n", b"\x7f", b"\xff", b"\xc0\xae", b"\x01", b"\r\n"];

fn gen_target(rng: &mut Rng) -> Vec<u8> {
    let base = if rng.chance(1, 60) { "/huge.bin" } else { rng.pick(BASES) };
    let mut t = base.as_bytes().to_vec();
    if !base.starts_with('/') || rng.chance(1, 3) {
        return t;
    }
    for _ in 0..1 + rng.below(3) {
        match rng.below(8) {
            0..=2 => {
                let at = 1 + rng.below(t.len());
                let piece = rng.pick(PIECES).as_bytes();
                t.splice(at..at, piece.iter().copied());
            }
            3 => {
                // A whole segment at a slash.
                let slashes: Vec<usize> = (0..t.len()).filter(|&i| t[i] == b'/').collect();
                let at = *rng.pick(&slashes) + 1;
                let mut seg = rng.pick(PIECES).as_bytes().to_vec();
                seg.push(b'/');
                t.splice(at..at, seg);
            }
            4 => {
                let at = 1 + rng.below(t.len());
                if at < t.len() {
                    t[at] = b'!' + rng.below(94) as u8;
                }
            }
            5 => t.push(b'/'),
            6 => {
                let at = 1 + rng.below(t.len());
                t.truncate(at.max(1));
            }
            _ => {
                let q = rng.pick(&["?a=1", "?x=/../../secret.txt", "?%00", "?\u{e9}", "?#", "??"]);
                t.extend_from_slice(q.as_bytes());
            }
        }
    }
    t
}

/// A target httparse takes and `classify_target` serves (by construction, not by asking).
fn target_is_clean(t: &[u8]) -> bool {
    !t.is_empty() && std::str::from_utf8(t).is_ok() && t.iter().all(|&b| (b'!'..=b'~').contains(&b) || b >= 0x80)
}

/// The path a GET of `target` is resolved from, or None for `*`.
fn target_path(target: &str) -> Option<&str> {
    if target.starts_with('/') {
        return Some(target);
    }
    if target == "*" {
        return None;
    }
    // The path starts at the first `/` or `?` after the authority; an empty one is `/`.
    let rest = &target[target.find("://").unwrap() + 3..];
    match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => Some(&rest[i..]),
        _ => Some("/"),
    }
}

const RANGES: &[&str] = &[
    "bytes=0-0",
    "bytes=0-",
    "bytes=-1",
    "bytes=-5",
    "bytes=5-2",
    "bytes=0-1,3-4",
    "bytes=0-1, 1-2",
    "bytes=999999-",
    "bytes=",
    "bytes=-0",
    "items=0-1",
    "bytes=0-0,-1",
    "bytes = 0-1",
    "BYTES=1-2",
    "bytes=18446744073709551615-",
    "bytes=-18446744073709551615",
    "bytes=0-18446744073709551615",
    "bytes=0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-15,16-17,18-19,20-21,22-23,24-25,26-27,28-29,30-31,32-33",
    "bytes=0-1,,",
    "bytes=,0-1",
    "bytes=1--2",
    "bytes=a-b",
    "bytes=10-20,0-5,3-12",
    "bytes=39990-40010",
    "bytes=100-200,300-400",
    "bytes=0-99999999",
];

const ENCODINGS: &[&str] = &[
    "gzip",
    "br",
    "zstd",
    "gzip, br;q=0.5",
    "*",
    "*;q=0",
    "identity;q=0",
    "identity;q=0, *;q=0",
    "gzip;q=0",
    "br;q=1.0001",
    "br;q=",
    "gzip;q=0.000",
    ";;;,,",
    "GZIP",
    "x-gzip",
    "br;q=0.9, gzip;q=0.9",
];

const FIXED_DATES: &[&str] = &[
    "Thu, 01 Jan 1970 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Sunday, 06-Nov-94 08:49:37 GMT",
    "Sun Nov  6 08:49:37 1994",
    "garbage",
    "",
];

/// Host values that fit `uri-host [":" port]` (RFC 3986), however odd; empty is allowed
/// too (RFC 9110 section 7.2).
const ODD_HOSTS: &[&str] = &[
    "",
    "evserve.test:8080",
    "evserve.test:",
    "127.0.0.1",
    "[::1]:8000",
    "[2001:db8::7]",
    "[v1.fe:x]",
    "%65vserve.test",
    "a-b_c~d.!$&'()*+,;=",
];

const CONNECTIONS: &[&str] =
    &["close", "keep-alive", "Keep-Alive", "CLOSE", "upgrade", "keep-alive, close", "te, close", "", ",,", "close "];

fn printable(rng: &mut Rng, max: usize) -> Vec<u8> {
    (0..rng.below(max + 1)).map(|_| b' ' + rng.below(95) as u8).collect()
}

fn validator(rng: &mut Rng, fx: &Fixture) -> String {
    match rng.below(8) {
        0 => "*".into(),
        1 => "\"x\"".into(),
        2 => format!("W/{}", rng.pick(&fx.etags)),
        3 => format!("\"nope\", {}", rng.pick(&fx.etags)),
        4 => rng.pick(&fx.dates).clone(),
        5 => rng.pick(&["", "\"", "\"unterminated", "W/", ",", "W/\"x\" , *"]).to_string(),
        _ => rng.pick(&fx.etags).clone(),
    }
}

fn date(rng: &mut Rng, fx: &Fixture) -> String {
    if rng.chance(1, 2) { rng.pick(&fx.dates).clone() } else { rng.pick(FIXED_DATES).to_string() }
}

fn case_mix(rng: &mut Rng, name: &str) -> Vec<u8> {
    name.bytes()
        .map(|b| match rng.below(4) {
            0 => b.to_ascii_lowercase(),
            1 => b.to_ascii_uppercase(),
            _ => b,
        })
        .collect()
}

/// Header lines that make a request malformed or framed in a hostile way.
const CHAOS_LINES: &[&[u8]] = &[
    b"Expect: teapot",
    b"Expect: 100-continue, x",
    b"Content-Length: -1",
    b"Content-Length: +1",
    b"Content-Length: 1, 2",
    b"Content-Length: abc",
    b"Content-Length: ",
    b"Content-Length: 99999999999999999999",
    b"Content-Length: 65537",
    b"Content-Length: 1 1",
    b"Content-Length: 0x10",
    b"Content-Length: 3",
    b"Content-Length: 40",
    b"Content-Length: 100000000",
    b"Transfer-Encoding: gzip",
    b"Transfer-Encoding: chunked, gzip",
    b"Transfer-Encoding: bogus",
    b"Transfer-Encoding: identity",
    b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: gzip, chunked",
    b"Transfer-Encoding: chunked\r\nContent-Length: 5",
    b"Transfer-Encoding: \x0bchunked",
    b"Host: second",
    b"Host : a",
    b"X-Fold: a\r\n b",
    b"X(y): z",
    b": empty",
    b"X: \x01",
    b"X: a\rb",
    b"X: \x7f",
    b"X:\ta",
    b"Bare: lf\n",
    b"NoColon",
    b"X: \xff\xfe",
    b"Connection: close\r\nConnection: keep-alive",
];

const CHAOS_BODIES: &[&[u8]] = &[
    b"zz\r\n",
    b"5\r\nabc",
    b"ffffffffffffffffffff\r\n",
    b"1\r\nab\r\n0\r\n\r\n",
    b"0\r\n",
    b"1000000\r\n",
    b"3\r\nabc\r\n0\r\nX: y\r\n",
    b"0;ext\r\n\r\n",
    b"-1\r\n",
    b"1 \r\na\r\n0\r\n\r\n",
];

/// One generated request: its bytes, the length of its head, and what it must get when
/// it is well-formed (None when chaos was applied or a limit is crossed).
pub struct GenRequest {
    pub bytes: Vec<u8>,
    pub head_len: usize,
    pub expect: Option<Expect>,
}

pub fn gen_request(rng: &mut Rng, fx: &Fixture, limits: &Limits, chaos: bool) -> GenRequest {
    let mut clean = true;
    let method = match rng.below(20) {
        0..=10 => "GET",
        11..=15 => "HEAD",
        16 => "OPTIONS",
        17 => "POST",
        18 => *rng.pick(&["DELETE", "get", "PATCH", "BREW", "head", "PUT"]),
        _ => "GET",
    };
    let mut target = gen_target(rng);
    let minor: u8 = if rng.chance(1, 7) { 0 } else { 1 };
    let mut headers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    if minor == 1 || rng.chance(1, 2) {
        let host = if rng.chance(1, 8) { rng.pick(ODD_HOSTS).as_bytes().to_vec() } else { b"evserve.test".to_vec() };
        headers.push((case_mix(rng, "Host"), host));
    }
    let mut conn_values: Vec<Vec<u8>> = Vec::new();
    for _ in 0..rng.below(5) {
        let (name, value): (&str, Vec<u8>) = match rng.below(13) {
            0 | 1 => ("Range", rng.pick(RANGES).as_bytes().to_vec()),
            2 => ("If-None-Match", validator(rng, fx).into_bytes()),
            3 => ("If-Match", validator(rng, fx).into_bytes()),
            4 => ("If-Modified-Since", date(rng, fx).into_bytes()),
            5 => ("If-Unmodified-Since", date(rng, fx).into_bytes()),
            6 => ("If-Range", validator(rng, fx).into_bytes()),
            7 | 8 => ("Accept-Encoding", rng.pick(ENCODINGS).as_bytes().to_vec()),
            9 => (
                "Accept",
                rng.pick(&["application/json", "text/html", "*/*", "application/json;q=0"]).as_bytes().to_vec(),
            ),
            10 => {
                let v = rng.pick(CONNECTIONS).as_bytes().to_vec();
                conn_values.push(v.clone());
                ("Connection", v)
            }
            11 => (*rng.pick(&["User-Agent", "Referer", "Cookie", "X-Forwarded-For", "Via"]), printable(rng, 40)),
            _ => {
                (*rng.pick(&["Range", "If-Match", "If-None-Match", "Accept-Encoding", "If-Range"]), printable(rng, 30))
            }
        };
        let at = rng.below(headers.len() + 1);
        headers.insert(at, (case_mix(rng, name), value));
    }
    // Sometimes a head near the limit (the input buffer is only somewhat larger).
    if rng.chance(1, 25) {
        let pad = rng.below(limits.max_head_bytes.min(40_000));
        headers.push((b"X-Pad".to_vec(), vec![b'p'; pad]));
    }
    // The body: none, Content-Length, or chunked (HTTP/1.1 only).
    let mut body = Vec::new();
    let mut body_framed = false;
    let mut body_size = 0u64;
    match rng.below(10) {
        0 | 1 => {
            let n = rng.below(120);
            let same_twice = rng.chance(1, 6);
            let value = if same_twice { format!("{n}, {n}") } else { n.to_string() };
            headers.push((case_mix(rng, "Content-Length"), value.into_bytes()));
            body = (0..n).map(|_| rng.byte()).collect();
            body_framed = n > 0;
            body_size = n as u64;
        }
        2 if minor == 1 => {
            // (`gzip, chunked` is 501: a coding we would have to decode; it is a chaos line.)
            let te = rng.pick(&["chunked", "Chunked", "chunked "]);
            headers.push((case_mix(rng, "Transfer-Encoding"), te.as_bytes().to_vec()));
            for _ in 0..rng.below(4) {
                let n = 1 + rng.below(40);
                let size = if rng.chance(1, 2) { format!("{n:x}") } else { format!("{n:X}") };
                body.extend_from_slice(size.as_bytes());
                if rng.chance(1, 4) {
                    body.extend_from_slice(b";ext=v");
                }
                if rng.chance(1, 10) {
                    body.extend_from_slice(b";long=");
                    body.extend(std::iter::repeat_n(b'e', rng.below(4000)));
                }
                body.extend_from_slice(b"\r\n");
                body.extend((0..n).map(|_| rng.byte()));
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"0\r\n");
            for _ in 0..rng.below(3) {
                body.extend_from_slice(b"X-Trailer: ");
                let long = if rng.chance(1, 5) { 4000 } else { 20 };
                body.extend_from_slice(&printable(rng, long));
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"\r\n");
            body_framed = true;
            body_size = body.len() as u64;
        }
        _ => {}
    }
    let expect_100 = rng.chance(1, 6);
    if expect_100 {
        headers.push((case_mix(rng, "Expect"), rng.pick(&["100-continue", "100-Continue"]).as_bytes().to_vec()));
    }
    let mut version = format!("HTTP/1.{minor}").into_bytes();
    let mut method = method.as_bytes().to_vec();
    if chaos && rng.chance(1, 3) {
        clean = false;
        for _ in 0..1 + rng.below(2) {
            match rng.below(9) {
                0..=2 => {
                    let at = rng.below(headers.len() + 1);
                    let line = rng.pick(CHAOS_LINES);
                    let (name, value) = match line.iter().position(|&b| b == b':') {
                        Some(c) => (line[..c].to_vec(), line[c + 1..].to_vec()),
                        None => (line.to_vec(), Vec::new()),
                    };
                    headers.insert(at, (name, value));
                }
                3 => {
                    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(b"host"));
                    if rng.chance(1, 2) {
                        // Most random values are not `uri-host [":" port]`: 400.
                        headers.insert(0, (b"Host".to_vec(), printable(rng, 20)));
                    }
                }
                4 => body = rng.pick(CHAOS_BODIES).to_vec(),
                5 => {
                    version = rng
                        .pick(&[
                            &b"HTTP/1.2"[..],
                            b"HTTP/2.0",
                            b"HTTP/3",
                            b"HTTP/1",
                            b"http/1.1",
                            b"HTTP/1.1 ",
                            b"HTTP/01.1",
                            b"",
                            b"HTTP/1.1\x00",
                            b"HTTP/9.9",
                        ])
                        .to_vec()
                }
                6 => {
                    let at = rng.below(target.len() + 1);
                    let piece = rng.pick(RAW_PIECES);
                    target.splice(at..at, piece.iter().copied());
                }
                7 => {
                    method = rng.pick(&[&b"G ET"[..], b"", b"GET\t", b"\x00GET", b"\r\nGET", b"G@T", b"GET("]).to_vec()
                }
                _ => match rng.below(3) {
                    0 => target.extend(std::iter::repeat_n(b'a', 4000 + rng.below(30_000))),
                    1 => {
                        for i in 0..60 + rng.below(250) {
                            headers.push((format!("X-Many-{i}").into_bytes(), b"v".to_vec()));
                        }
                    }
                    _ => headers.push((b"X-Big".to_vec(), vec![b'b'; 6000 + rng.below(20_000)])),
                },
            }
        }
    }
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&method);
    bytes.push(b' ');
    bytes.extend_from_slice(&target);
    bytes.push(b' ');
    bytes.extend_from_slice(&version);
    bytes.extend_from_slice(b"\r\n");
    for (name, value) in &headers {
        bytes.extend_from_slice(name);
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"\r\n");
    let head_len = bytes.len();
    bytes.extend_from_slice(&body);
    let within_limits = head_len <= limits.max_head_bytes
        && target.len() <= limits.max_uri_bytes
        && headers.len() <= limits.max_headers
        && body_size <= limits.max_body_bytes;
    if !clean || !within_limits || !target_is_clean(&target) {
        return GenRequest { bytes, head_len, expect: None };
    }
    let mut close = false;
    let mut keep = false;
    for v in &conn_values {
        for token in v.split(|&b| b == b',').map(|t| t.trim_ascii()) {
            close |= token.eq_ignore_ascii_case(b"close");
            keep |= token.eq_ignore_ascii_case(b"keep-alive");
        }
    }
    let keep_alive = if minor == 0 { keep && !close } else { !close };
    let method = std::str::from_utf8(&method).unwrap();
    let target = std::str::from_utf8(&target).unwrap();
    let status = match method {
        "OPTIONS" => Some(204),
        "GET" | "HEAD" => match target_path(target) {
            None => Some(400),
            Some(path) => match resolve_target(path, false) {
                Err(Reject::BadRequest(_)) => Some(400),
                _ => None,
            },
        },
        _ => Some(405),
    };
    let expect =
        Expect { head: method == "HEAD", cont: expect_100 && minor == 1 && body_framed, keep_alive, minor, status };
    GenRequest { bytes, head_len, expect: Some(expect) }
}

/// Byte-level damage to a whole input.
fn damage(rng: &mut Rng, input: &mut Vec<u8>) {
    const SPLICES: &[&[u8]] = &[
        b"\r",
        b"\n",
        b"\r\n",
        b"\r\n\r\n",
        b" ",
        b":",
        b"\x00",
        b"\t",
        b"\x80",
        b"\xff",
        b"%",
        b"HTTP/1.1",
        b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"0\r\n\r\n",
        b"Content-Length: 5\r\n",
        b"Transfer-Encoding: chunked\r\n",
    ];
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(input.len() + 1);
        match rng.below(6) {
            0 if at < input.len() => input[at] = rng.byte(),
            1 | 2 => {
                let s = rng.pick(SPLICES);
                input.splice(at..at, s.iter().copied());
            }
            3 => {
                let end = (at + 1 + rng.below(16)).min(input.len());
                input.drain(at..end);
            }
            4 => {
                let end = (at + 1 + rng.below(64)).min(input.len());
                let copy = input[at..end].to_vec();
                input.splice(at..at, copy);
            }
            _ => input.truncate(at),
        }
    }
}

const SOUP: &[&str] = &[
    "GET",
    "HEAD",
    "OPTIONS",
    " ",
    "/",
    "/docs",
    "/../secret.txt",
    "*",
    "HTTP/1.1",
    "HTTP/1.0",
    "\r\n",
    "\r\n\r\n",
    "\n",
    "\r",
    "Host: a\r\n",
    "Content-Length: ",
    "Transfer-Encoding: chunked\r\n",
    "0\r\n\r\n",
    "5\r\nhello\r\n",
    "Expect: 100-continue\r\n",
    "Connection: close\r\n",
    "Range: bytes=0-1\r\n",
    ":",
    "%2e",
    "..",
    "5",
    "ff",
    "\t",
    "\0",
];

/// One generated input: the bytes, and the expectations when it is well-formed.
pub struct Case {
    /// The two bytes `Setup::from_bits` made the setup from (`run_raw`'s first two).
    pub bits: [u8; 2],
    pub input: Vec<u8>,
    pub setup: Setup,
    pub expect: Option<Vec<Expect>>,
    /// Generated requests that are well-formed by construction but that `request::parse`
    /// refused (generator and parser disagree).
    pub disagreements: Vec<String>,
}

pub fn gen_case(rng: &mut Rng, fx: &Fixture) -> Case {
    let bits = [rng.byte(), rng.byte()];
    let mut setup = Setup::from_bits(bits[0], bits[1]);
    setup.seed = rng.next_u64();
    let kind = rng.below(100);
    let mut input = Vec::new();
    let mut expects = Some(Vec::new());
    let mut disagreements = Vec::new();
    match kind {
        0..=79 => {
            let chaos = kind >= 45;
            for _ in 0..1 + rng.below(4) {
                let req = gen_request(rng, fx, &setup.limits, chaos);
                if req.expect.is_some() {
                    match evserve::request::parse(&req.bytes[..req.head_len], &setup.limits) {
                        Ok(Some((_, n))) if n == req.head_len => {}
                        other => disagreements.push(format!(
                            "well-formed head {} parsed as {other:?}",
                            req.bytes[..req.head_len].escape_ascii()
                        )),
                    }
                }
                match (&mut expects, req.expect) {
                    (Some(list), Some(e)) => list.push(e),
                    _ => expects = None,
                }
                input.extend_from_slice(&req.bytes);
            }
            if kind >= 65 {
                damage(rng, &mut input);
                expects = None;
            }
        }
        80 if rng.chance(1, 20) => {
            // An error, then more than the lingering close drops (1 MiB): it must give up.
            input = b"GET / HTTP/1.1\r\n\r\n".to_vec();
            input.resize(1_100_000, b'x');
            setup.read_max = 1 << 20;
            expects = None;
        }
        80..=89 => {
            input = (0..rng.below(400)).map(|_| rng.byte()).collect();
            expects = None;
        }
        _ => {
            for _ in 0..1 + rng.below(40) {
                input.extend_from_slice(rng.pick(SOUP).as_bytes());
            }
            expects = None;
        }
    }
    // Byte-at-a-time delivery of a long input only costs time.
    if setup.read_max < 16 && input.len() > 3000 {
        setup.read_max = 4096;
    }
    Case { bits, input, setup, expect: expects, disagreements }
}

// ---------------------------------------------------------------------------------------
// Reporting

/// Shrinks a failing input (checked without expectations) by deleting pieces while it
/// still fails the same way; returns the smallest input found and its error.
fn shrink(input: &[u8], setup: &Setup, fx: &Fixture, error: &str) -> (Vec<u8>, String) {
    let kind = |e: &str| e.split(':').next().unwrap_or("").to_string();
    let want = kind(error);
    let mut best = input.to_vec();
    let mut best_err = error.to_string();
    let mut step = best.len() / 2;
    let mut tries = 0;
    while step >= 1 && tries < 3000 {
        let mut at = 0;
        while at < best.len() && tries < 3000 {
            tries += 1;
            let mut candidate = best.clone();
            candidate.drain(at..(at + step).min(candidate.len()));
            match run_case(&candidate, setup, &fx.root, None) {
                Err(e) if kind(&e) == want => {
                    best = candidate;
                    best_err = e;
                }
                _ => at += step,
            }
        }
        step /= 2;
    }
    (best, best_err)
}

/// The heads (up to the blank line) of the responses in `out`, found by their status lines.
fn response_heads(out: &[u8]) -> Vec<&[u8]> {
    let mut heads = Vec::new();
    let mut at = 0;
    while let Some(i) = out[at..].windows(9).position(|w| w == b"HTTP/1.1 ") {
        let start = at + i;
        let end = out[start..].windows(4).position(|w| w == b"\r\n\r\n").map_or(out.len(), |e| start + e);
        heads.push(&out[start..end]);
        at = end.max(start + 1);
        if heads.len() == 12 {
            break;
        }
    }
    heads
}

fn report(i: usize, case: &Case, error: &str, fx: &Fixture) -> String {
    let mut text = format!(
        "case {i}: {error}\n  setup: {:?}\n  input ({} bytes): b\"{}\"\n",
        case.setup,
        case.input.len(),
        case.input.escape_ascii()
    );
    if let Ok(site) = Site::new(&fx.root, case.setup.options.clone())
        && let Ok(Ok(run)) = catch_unwind(AssertUnwindSafe(|| drive(&case.input, &case.setup, site)))
    {
        text.push_str(&format!("  response heads (closed: {}, half-closed: {}):\n", run.closed, run.shut));
        for head in response_heads(&run.output) {
            text.push_str(&format!("    {}\n", head.escape_ascii()));
        }
    }
    if run_case(&case.input, &case.setup, &fx.root, None).is_err() {
        let (small, err) = shrink(&case.input, &case.setup, fx, error);
        text.push_str(&format!("  shrunk ({} bytes, {err}): b\"{}\"\n", small.len(), small.escape_ascii()));
    }
    text
}

/// Runs `count` generated cases from `seed`; panics with every failure found (at most 10).
fn run_generated(tag: &str, seed: u64, count: usize) {
    let fx = Fixture::create(tag);
    let mut rng = Rng::new(seed);
    let mut failures = Vec::new();
    let mut stats = Stats::default();
    for i in 0..count {
        let case = gen_case(&mut rng, &fx);
        for d in &case.disagreements {
            failures.push(format!("case {i}: generator and parser disagree: {d}\n"));
        }
        if let Err(e) = run_case_stats(&case.input, &case.setup, &fx.root, case.expect.as_deref(), &mut stats) {
            failures.push(report(i, &case, &e, &fx));
        }
        if failures.len() >= 10 {
            break;
        }
    }
    eprintln!("{tag}: {stats:?}");
    assert!(stats.well_formed > count / 4, "only {} of {count} cases were well-formed", stats.well_formed);
    assert!(failures.is_empty(), "{} failing cases:\n{}", failures.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Tests

#[test]
fn generated_requests_keep_every_property() {
    run_generated("props", 0x5EED_0001, 25_000);
}

#[test]
fn generated_requests_keep_every_property_second_seed() {
    run_generated("props2", 0x5EED_0002, 25_000);
}

#[test]
fn resolve_properties_hold_for_generated_targets() {
    let mut rng = Rng::new(0x5EED_0003);
    for _ in 0..20_000 {
        let mut t = gen_target(&mut rng);
        if rng.chance(1, 4) {
            let at = rng.below(t.len() + 1);
            t.splice(at..at, rng.pick(RAW_PIECES).iter().copied());
        }
        let Ok(t) = String::from_utf8(t) else { continue };
        for dotfiles in [false, true] {
            if let Err(e) = check_resolve(&t, dotfiles) {
                panic!("{e}");
            }
        }
    }
}

/// The harness itself must see what it claims to: a leak, a lost response, a bad length.
#[test]
fn checker_catches_broken_output() {
    let setup = Setup::from_bits(0, 0);
    let run = |out: &[u8], closed: bool| Run { output: out.to_vec(), closed, shut: false, timed_out: false, turns: 1 };
    let ok = b"HTTP/1.1 404 Not Found\r\nDate: x\r\nServer: y\r\nContent-Length: 3\r\n\r\nabc";
    assert_eq!(check(b"", &setup, &run(ok, false), None), Ok(()));
    let mut leak = ok.to_vec();
    leak.extend_from_slice(MARKER);
    assert!(check(b"", &setup, &run(&leak, false), None).is_err());
    let short = b"HTTP/1.1 404 Not Found\r\nDate: x\r\nServer: y\r\nContent-Length: 9\r\n\r\nabc";
    assert!(check(b"", &setup, &run(short, false), None).is_err());
    let odd = b"HTTP/1.1 299 Odd\r\nDate: x\r\nServer: y\r\nContent-Length: 0\r\n\r\n";
    assert!(check(b"", &setup, &run(odd, false), None).is_err());
    let e = Expect { head: false, cont: false, keep_alive: true, minor: 1, status: None };
    assert!(check(b"", &setup, &run(ok, false), Some(&[e.clone(), e])).is_err(), "a lost response");
    assert!(check(b"", &setup, &run(ok, true), None).is_err(), "a silent close");
}

/// Fuzzer inputs that once failed, byte for byte (`run_raw` format: setup byte, seed byte,
/// then the client's bytes).
fn regression(data: &[u8]) {
    let fx = Fixture::create(&format!("regression-{}", digest(data)));
    if let Err(e) = run_raw(data, &fx) {
        panic!("{e}\n  input: b\"{}\"", data.escape_ascii());
    }
}

fn digest(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Bug found by `generated_requests_keep_every_property`: an error page (405, 412, built-in
/// 404) answering an HTTP/1.0 `Connection: keep-alive` request left out
/// `Connection: keep-alive` while the server kept the connection open, so an HTTP/1.0 client
/// waits for a close that comes only with the idle timeout.
#[test]
fn regression_http10_keep_alive_error_page_says_keep_alive() {
    let fx = Fixture::create("regression-http10");
    let input = b"POST /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\
GET /index.html HTTP/1.0\r\nConnection: keep-alive\r\nIf-Match: \"nope\"\r\n\r\n\
GET /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    let e = |status| Expect { head: false, cont: false, keep_alive: true, minor: 0, status };
    let expect = [e(Some(405)), e(Some(412)), e(None)];
    let setup = Setup::from_bits(0x00, 28);
    assert_eq!(run_case(input, &setup, &fx.root, Some(&expect)), Ok(()));
}

/// Bug found by `generated_requests_keep_every_property`: with `--max-head-bytes` above
/// 12 KiB the input buffer (`max(max_head_bytes, 16 KiB)`) has no room for a head near the
/// limit plus a partial chunk-size or trailer line (up to 4 KiB), so `fill` found the buffer
/// full and the connection closed without a response.
#[test]
fn regression_big_head_and_chunk_trailer_fit_the_input_buffer() {
    let fx = Fixture::create("regression-big-head");
    // Setup byte 3: head limit 20 000; seed byte 28: 4096-byte reads, whole writes.
    let mut data = b"\x03\x1cGET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Pad: ".to_vec();
    data.extend(std::iter::repeat_n(b'p', 18_000));
    data.extend_from_slice(b"\r\n\r\n0\r\nX-Trailer: ");
    data.extend(std::iter::repeat_n(b't', 2_500));
    data.extend_from_slice(b"\r\n\r\n");
    assert_eq!(run_raw(&data, &fx), Ok(()));
    let expect = [Expect { head: false, cont: false, keep_alive: true, minor: 1, status: None }];
    assert_eq!(run_case(&data[2..], &Setup::from_bits(0x03, 28), &fx.root, Some(&expect)), Ok(()));
}

#[test]
fn regression_smoke_pipelined_get_head() {
    regression(b"\x00\x05GET / HTTP/1.1\r\nHost: a\r\n\r\nHEAD /docs HTTP/1.1\r\nHost: a\r\n\r\n");
}

/// Replays one generated case with a trace of every turn:
/// `FUZZ_CASE=<seed>:<index> cargo test --test fuzz_props replay -- --ignored --nocapture`
/// (the seeds are the ones `run_generated` is called with, e.g. `0x5EED0001:91`).
#[test]
#[ignore]
fn replay() {
    let spec = std::env::var("FUZZ_CASE").expect("FUZZ_CASE=<seed>:<index>");
    let (seed, index) = spec.split_once(':').expect("FUZZ_CASE=<seed>:<index>");
    let seed = u64::from_str_radix(seed.trim_start_matches("0x"), 16).unwrap();
    let index: usize = index.parse().unwrap();
    let fx = Fixture::create("replay");
    let mut rng = Rng::new(seed);
    let mut case = gen_case(&mut rng, &fx);
    for _ in 0..index {
        case = gen_case(&mut rng, &fx);
    }
    eprintln!("setup: {:?}\ninput: {} bytes, expect: {:?}", case.setup, case.input.len(), case.expect);
    let site = Site::new(&fx.root, case.setup.options.clone()).unwrap();
    let mut cx = Context::new(site, case.setup.limits, Timeouts::default(), None);
    let mut conn = Connection::new(None, cx.now);
    let mut mock = Mock::new(&case.input, &case.setup);
    for turn in 0..100_000 {
        let (pos, out) = (mock.pos, mock.output.len());
        let hup = case.setup.eof && case.setup.hup && mock.pos == mock.input.len();
        conn.ready(true, true, hup);
        let status = conn.drive(&mut mock, &mut cx);
        eprintln!(
            "turn {turn}: {status:?} state {} read {}..{} wrote {} shut {}",
            conn.state_name(),
            pos,
            mock.pos,
            mock.output.len() - out,
            mock.shut
        );
        if status == Status::Close || (mock.pos == mock.input.len() && mock.output.len() == out && pos == mock.pos) {
            break;
        }
    }
    for head in response_heads(&mock.output) {
        eprintln!("  {}", head.escape_ascii());
    }
    eprintln!("check: {:?}", run_case(&case.input, &case.setup, &fx.root, case.expect.as_deref()));
}

/// Writes generated cases in `run_raw` format as a seed corpus for the fuzzer:
/// `FUZZ_SEEDS=fuzz/corpus/request_path cargo test --test fuzz_props write_seeds -- --ignored`
#[test]
#[ignore]
fn write_seeds() {
    let dir = PathBuf::from(std::env::var("FUZZ_SEEDS").expect("FUZZ_SEEDS=<folder>"));
    std::fs::create_dir_all(&dir).unwrap();
    let fx = Fixture::create("seeds");
    let mut rng = Rng::new(0x5EED_5EED);
    let mut written = 0;
    while written < 500 {
        let case = gen_case(&mut rng, &fx);
        if case.input.len() > 4000 {
            continue;
        }
        let mut data = case.bits.to_vec();
        data.extend_from_slice(&case.input);
        std::fs::write(dir.join(format!("seed-{written:04}")), data).unwrap();
        written += 1;
    }
}
