//! One client connection as a state machine, generic over its stream so unit tests can
//! drive it with scripted I/O. It never waits: `drive` moves bytes until the stream would
//! block, then says what it needs next (`Status`). It knows HTTP framing and keep-alive,
//! not mio (the server owns readiness) and not paths (the handler owns those).
//!
//! ```text
//!            bytes in               head complete, body announced
//!   Head ------------> (parse) ---------------------------------> Body (discard)
//!    ^                    |                                           | body passed
//!    |                    | head complete, no body                    v
//!    |                    +-------------------------------------- BodyDone (answer it)
//!    |                    v                                           |
//!    |  KeepAlive     Writing (output buffer, file segments, <--------+
//!    +--------------- the transport's own bytes) -- response done, Closing:
//!                         | Close, nothing can be pending (EOF, or drained) -> closed
//!                         | Close with bytes maybe pending, or Linger (always after an
//!                         |   error response) -> Linger (half-close, drain) -> closed
//! ```
//!
//! The state lives in named parts, each changed through one method: `Phase` (above),
//! `Closing` (`begin_response`, `fail`), `Input` (read, consumed, cut, pooled), `Output`
//! (rendered bytes, streamed body, the transport's own bytes), `Readiness` (edges not yet
//! used up) and the timer (`restart_timer`, `update_timer`).
//!
//! Buffers come from a pool shared by the loop and go back to it whenever they are
//! empty, so an idle keep-alive connection holds no buffer at all. Input starts in a small
//! buffer (`SMALL_INPUT_BUFFER`) and moves to a big one only when a read fills it, so a
//! client waiting mid-head holds 1 KiB, not a full-size head's worth.
use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::http::date::DateCache;
use crate::http::forwarded::Cidr;
use crate::http::forwarded::TrustedHeader;
use crate::http::plan::Segment;
use crate::http::status::error_plan;
use crate::http1::render::{self, Framing, Rest, Shared, Stream};

mod h2;
mod work;
use crate::http1::request::{self, BodyDiscard, BodyFraming, Discarded, Limits, ParseError};
use crate::log::{AccessLog, Record, ResponseLog};
use crate::net::proxy;
use crate::net::transport::{MAX_PIECES, Piece, Transport};
use crate::site::redirect;
use crate::site::{Job, Planned, Site};
use crate::util::error::{interrupted, would_block};
use crate::util::histogram::Histogram;
use crate::util::map::BodyFile;
use crate::util::timer::{TimeoutKind, Timeouts};
use work::ReadAhead;
pub use work::{Finished, Work};

/// Most bytes (head, small bodies and file data alike) one connection may send per loop
/// turn before it yields to the others.
pub(crate) const WRITE_QUANTUM: usize = 2 * 1024 * 1024;

/// Pipelined responses are batched into one write until the output holds this much.
pub(crate) const BATCH_BYTES: usize = 64 * 1024;

/// Every connection's first input buffer. A typical head, or a handful of small pipelined
/// ones, fits; a connection waiting in the middle of a head (a slow client, or slowloris)
/// holds only this much.
pub(crate) const SMALL_INPUT_BUFFER: usize = 1024;

// A whole PROXY header fits the first, small input buffer.
const _: () = assert!(proxy::MAX_V2_HEADER <= SMALL_INPUT_BUFFER);

/// Smallest big input buffer: large enough to take a burst of pipelined requests in one
/// read, and an HTTP/2 frame of the default maximum size (16 KiB of payload and its 9-byte
/// header), which must be whole to be read.
pub(crate) const MIN_INPUT_BUFFER: usize = 17 * 1024;

/// A lingering close throws away at most this much unread input before giving up.
const LINGER_MAX_BYTES: u64 = 1024 * 1024;

/// What each of the three pools (small inputs, big inputs, outputs) keeps at most, in bytes.
/// In a steady load nearly every buffer goes back at the end of the drive that took it
/// (only connections waiting mid-request, or blocked on a full socket, keep theirs), so a
/// pool only has to cover the swing in how many are held between drives: 512 small, 30 big
/// (at the default 17 KiB) and 7 output buffers keep a pipelined load allocation-free. A
/// burst (10,000 slowloris clients, a crowd of slow readers) needs far more for a moment;
/// keeping them all would pin their memory for the life of the process (1024 big buffers
/// were 16 MiB), so what the pool cannot take is freed.
const POOL_BYTES: usize = 512 * 1024;

/// An output buffer that grew past this is freed instead of pooled.
const OUTPUT_KEEP_MAX: usize = 256 * 1024;

/// What the connection needs from the loop after `drive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Blocked on the stream: drive again on the next readiness event.
    Wait,
    /// Used its quantum with work left: drive again next turn without waiting.
    Yield,
    /// Done: drop the connection.
    Close,
}

/// Totals over the life of the loop (the shutdown summary and `--stats`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counters {
    pub accepted: u64,
    pub requests: u64,
    pub bytes_sent: u64,
    pub timeouts: u64,
    /// Idle keep-alive connections closed to make room for new clients.
    pub reaped: u64,
    /// TLS handshakes completed, and connections closed (or timed out) before theirs did.
    pub handshakes: u64,
    pub handshake_failures: u64,
    /// HTTP/2 connections ended for abuse (GOAWAY ENHANCE_YOUR_CALM: Rapid Reset, floods),
    /// and for other protocol errors.
    pub h2_calmed: u64,
    pub h2_errors: u64,
    /// HTTP/2 streams reset (CANCEL) after their own window stayed closed for `--write-timeout`.
    pub h2_stalled: u64,
}

/// The protocol a response went out in (an index of `Metrics::responses`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http1 = 0,
    Http2 = 1,
}

/// Responses by protocol, method and status class, and how long their requests waited for
/// them: plain counters of the loop (the request path adds to them, nothing else touches
/// them), published with `Counters` once per turn for the admin listener's `/metrics`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Metrics {
    /// `[protocol][method: GET, HEAD, other][class: 2xx, 3xx, 4xx, 5xx]`.
    pub responses: [[[u64; 4]; 3]; 2],
    /// From the request's first bytes (the accept, for a connection's first request) to its
    /// response being ready to send, on the loop's clock (read once per turn): a cache hit
    /// reads 0, a wait for the disk or for the loop shows.
    pub duration: Histogram,
}

impl Metrics {
    /// A final response was planned for a request with `method` (empty: none parsed).
    pub(crate) fn response(&mut self, protocol: Protocol, method: &[u8], status: u16, took: Duration) {
        let method = match method {
            b"GET" => 0,
            b"HEAD" => 1,
            _ => 2,
        };
        let class = usize::from(status / 100).clamp(2, 5) - 2;
        self.responses[protocol as usize][method][class] += 1;
        self.duration.observe(took);
    }

    pub(crate) fn add(&mut self, other: &Metrics) {
        for (a, b) in self
            .responses
            .as_flattened_mut()
            .as_flattened_mut()
            .iter_mut()
            .zip(other.responses.as_flattened().as_flattened())
        {
            *a += b;
        }
        self.duration.add(&other.duration);
    }
}

/// Reusable buffers, shared by all connections of one (single-threaded) loop.
#[derive(Debug)]
pub(crate) struct Buffers {
    /// Bytes of a big input buffer: a full-size head plus the body bytes that follow it.
    big_size: usize,
    small: Vec<Box<[u8]>>,
    big: Vec<Box<[u8]>>,
    outputs: Vec<Vec<u8>>,
}

impl Buffers {
    pub(crate) fn new(limits: &Limits) -> Self {
        // A full-size head must still leave room for the body bytes that follow it.
        let big_size = (limits.max_head_bytes + 4096).max(MIN_INPUT_BUFFER);
        Buffers { big_size, small: Vec::new(), big: Vec::new(), outputs: Vec::new() }
    }

    /// How many buffers of `size` bytes a pool keeps.
    fn keeps(size: usize) -> usize {
        (POOL_BYTES / size).max(2)
    }

    fn take_input(&mut self, big: bool) -> Box<[u8]> {
        let (pool, size) = if big { (&mut self.big, self.big_size) } else { (&mut self.small, SMALL_INPUT_BUFFER) };
        pool.pop().unwrap_or_else(|| vec![0; size].into_boxed_slice())
    }

    fn give_input(&mut self, buf: Box<[u8]>) {
        let pool = match buf.len() {
            SMALL_INPUT_BUFFER => &mut self.small,
            n if n == self.big_size => &mut self.big,
            _ => return, // The empty placeholder of a connection without a buffer.
        };
        if pool.len() < Self::keeps(buf.len()) {
            pool.push(buf);
        }
    }

    fn take_output(&mut self) -> Vec<u8> {
        self.outputs.pop().unwrap_or_else(|| Vec::with_capacity(BATCH_BYTES + 4096))
    }

    fn give_output(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        let kept = self.outputs.len() < Self::keeps(BATCH_BYTES + 4096);
        // Not the little buffers that grew by themselves (an HTTP/2 connection's frames).
        if buf.capacity() >= BATCH_BYTES && buf.capacity() <= OUTPUT_KEEP_MAX && kept {
            self.outputs.push(buf);
        }
    }
}

/// Everything the loop shares with the connection it is driving.
#[derive(Debug)]
pub struct Context {
    pub(crate) site: Site,
    pub(crate) limits: Limits,
    pub(crate) timeouts: Timeouts,
    /// The loop's clock, read once per turn.
    pub now: Instant,
    pub(crate) date: DateCache,
    /// HTTP/2's: `date` and `server` as it sends them, buffers a connection borrows.
    pub(crate) h2_shared: h2::Shared,
    pub(crate) buffers: Buffers,
    pub(crate) counters: Counters,
    pub(crate) metrics: Metrics,
    pub(crate) log: Option<AccessLog>,
    /// `--trace`: what the connection being driven did, step by step (None: off, and free).
    pub(crate) trace: Option<Vec<String>>,
    /// The server is stopping: answer with `Connection: close`.
    pub(crate) draining: bool,
    /// New connections start with a PROXY protocol header (`--proxy-protocol`).
    pub(crate) proxy_protocol: bool,
    /// Peers whose `trusted_header` names the client (`--trusted-proxy`).
    pub(crate) trusted_proxies: Vec<Cidr>,
    pub(crate) trusted_header: TrustedHeader,
    /// Where plans that must wait send their jobs.
    pub(crate) jobs: Jobs,
    /// The connection being driven, as its jobs name it.
    pub(crate) ticket: Ticket,
    /// `--http2`: a plain connection that opens with the HTTP/2 preface speaks h2c.
    pub(crate) http2: bool,
}

/// A connection as a job names it: its slab key, and the serial that tells it from a later
/// connection under the same key (a completion for one that has gone is stale).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ticket {
    pub key: usize,
    pub serial: u64,
    /// The HTTP/2 stream the work is for (0: the connection's HTTP/1 request).
    pub stream: u32,
}

/// The jobs plans asked for. Run at once on the loop (`inline`), or queued for the loop to
/// hand to a runner; the connection waits either way without knowing which.
#[derive(Debug, Default)]
pub struct Jobs {
    /// Queue jobs instead of running them at once.
    pub deferred: bool,
    /// Work waiting for a runner, with the connection that waits for each.
    pub queued: Vec<(Ticket, Work)>,
}

impl Context {
    pub fn new(site: Site, limits: Limits, timeouts: Timeouts, log: Option<AccessLog>) -> Self {
        Context {
            site,
            buffers: Buffers::new(&limits),
            limits,
            timeouts,
            now: Instant::now(),
            date: DateCache::default(),
            h2_shared: h2::Shared::default(),
            counters: Counters::default(),
            metrics: Metrics::default(),
            log,
            trace: None,
            draining: false,
            proxy_protocol: false,
            trusted_proxies: Vec::new(),
            trusted_header: TrustedHeader::XForwardedFor,
            jobs: Jobs::default(),
            ticket: Ticket::default(),
            http2: true,
        }
    }

    /// Records one step for `--trace`; the message is only built when tracing is on.
    fn trace(&mut self, message: impl FnOnce() -> String) {
        if let Some(steps) = &mut self.trace {
            steps.push(message());
        }
    }

    /// Starts a loop turn: one clock read, and the Date string when the second changed.
    pub fn tick(&mut self) {
        self.now = Instant::now();
        self.date.update(SystemTime::now());
    }
}

/// Where the connection is in its request cycle.
#[derive(Debug)]
enum Phase {
    /// Waiting for the PROXY protocol header that must come before anything else.
    Proxy,
    /// Waiting for (or parsing) a request head.
    Head,
    /// The head at the front of the input announced a body, which is being thrown away;
    /// the head stays buffered and is answered once the body has passed.
    Body { head_len: usize, discard: BodyDiscard },
    /// The body of the head at the front of the input has passed: answer that head now.
    BodyDone,
    /// The plan for the head at the front of the input waits for a job; its outcome, once
    /// handed back, is here. Later (pipelined) requests wait behind it.
    Waiting { done: Option<Box<crate::site::Done>> },
    /// Sent an error and half-closed; reading and dropping what the client still sends so
    /// that closing does not reset the connection before the client reads the error.
    Linger { dropped: u64 },
}

/// How the connection ends once the response being sent has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    /// Keep-alive: read the next request.
    KeepAlive,
    /// Close; linger first only if client bytes may still be on the way.
    Close,
    /// An error answered: always half-close and drain before closing, since the client
    /// may still be sending the request we gave up on.
    Linger,
    /// Close at once, sending nothing (a missing or malformed PROXY header: the peer is
    /// not the balancer we expect, and owes us no HTTP answer).
    Abort,
}

/// Outcome of writing pending output.
enum Flush {
    /// Everything, head and body, is written.
    Done,
    /// The socket is full.
    Blocked,
    /// The quantum is used up.
    Yield,
    /// The peer is gone or the file shrank: abandon the connection.
    Failed,
    /// The body's next bytes are being read into the page cache by the pool.
    Reading,
}

/// What one write or sendfile call did, its errors sorted out (see `Connection::sent`).
enum Sent {
    Bytes(usize),
    /// Interrupted by a signal: try again.
    Again,
    Blocked,
    Failed,
}

/// Bytes read, not yet consumed: `buf[start..end]`. Empty (no allocation) when idle,
/// small while what it holds fits in a small buffer, big while more does.
#[derive(Debug, Default)]
struct Input {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// The last read brought more than a small buffer holds (a pipelined burst, a long
    /// head, a body): the next one goes straight into a big buffer, in one syscall.
    big_reads: bool,
}

impl Input {
    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    fn len(&self) -> usize {
        self.end - self.start
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Drops everything buffered (after an error, or while lingering).
    fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Removes `n` bytes at `at` (from `start`) from the input: a discarded piece of body.
    fn cut(&mut self, at: usize, n: usize) {
        let at = self.start + at;
        self.buf.copy_within(at + n..self.end, at);
        self.end -= n;
    }

    /// Before a read: a buffer to read into (big when the reads have been big), a full
    /// small one grown, a full big one compacted.
    fn make_room(&mut self, cx: &mut Context) {
        if self.buf.is_empty() {
            self.buf = cx.buffers.take_input(self.big_reads);
        } else if self.buf.len() == SMALL_INPUT_BUFFER && (self.big_reads || self.end == self.buf.len()) {
            self.move_to(true, cx);
        }
        if self.end == self.buf.len() && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// `n` bytes were read after `end`. True if they filled a small buffer, which then
    /// moved into a big one: the rest of a burst is likely queued, so read again at once.
    fn received(&mut self, n: usize, cx: &mut Context) -> bool {
        self.end += n;
        self.big_reads = self.len() > SMALL_INPUT_BUFFER;
        let outgrown = self.end == self.buf.len() && self.buf.len() == SMALL_INPUT_BUFFER;
        if outgrown {
            self.big_reads = true;
            self.move_to(true, cx);
        }
        outgrown
    }

    /// Moves the unconsumed input into a fresh big (or small) buffer, to the front, and
    /// gives the old one back to the pool.
    fn move_to(&mut self, big: bool, cx: &mut Context) {
        let pending = self.len();
        let mut buf = cx.buffers.take_input(big);
        buf[..pending].copy_from_slice(self.bytes());
        cx.trace(|| format!("input buffer {} -> {} bytes", self.buf.len(), buf.len()));
        cx.buffers.give_input(std::mem::replace(&mut self.buf, buf));
        self.start = 0;
        self.end = pending;
    }

    /// After a drive: an empty buffer goes back to the pool, a big one holding little moves
    /// to a small one. (While a body is discarded the buffer is never empty: its head
    /// stays at the front until it is answered.)
    fn shrink(&mut self, cx: &mut Context) {
        if self.is_empty() {
            self.clear();
            cx.buffers.give_input(std::mem::take(&mut self.buf));
        } else if self.buf.len() > SMALL_INPUT_BUFFER && self.len() < SMALL_INPUT_BUFFER {
            // A connection that waits holds a buffer the size of what it holds.
            self.move_to(false, cx);
        }
    }
}

/// Rendered response bytes, written from `written` on, then the rest of the last response.
#[derive(Debug, Default)]
struct Output {
    buf: Vec<u8>,
    written: usize,
    /// Where the bytes sent are not `buf`'s: HTTP/2 payloads sent from a file's mapping,
    /// and the gaps that keep payloads read into `buf` cache-aligned. Boxed: most
    /// connections never have any, and each holds the box only while it has output.
    splices: Option<Box<Splices>>,
    /// The rest of the last response, after `buf`.
    tail: Option<Tail>,
    /// The transport holds bytes of its own to send (`Transport::wants_write`), as of the
    /// last look.
    below: bool,
}

impl Output {
    /// Nothing of ours left to send (the transport's own bytes aside).
    fn is_empty(&self) -> bool {
        !self.unsent() && self.tail.is_none()
    }

    /// Bytes of the buffer, or spliced into it, are still to be written.
    fn unsent(&self) -> bool {
        self.pieces(&mut [Piece::Bytes(&[])]).0 > 0
    }

    /// The bytes queued: the buffer's and the mapped ones spliced into it (what bounds a
    /// batch).
    fn queued(&self) -> usize {
        self.buf.len() + self.splices.as_ref().map_or(0, |s| s.mapped)
    }

    /// Appends a splice (after all the others); one that changes nothing is not kept.
    fn splice(&mut self, splice: Splice) {
        if splice.range.is_empty() && splice.with.as_ref().is_none_or(|m| m.bytes.is_empty()) {
            return;
        }
        let splices = self.splices.get_or_insert_default();
        splices.mapped += splice.with.as_ref().map_or(0, |m| m.bytes.len());
        splices.list.push(splice);
    }

    /// A buffer to render into, from the pool.
    fn ensure_buffer(&mut self, buffers: &mut Buffers) {
        if self.buf.capacity() == 0 {
            self.buf = buffers.take_output();
        }
    }

    /// Body bytes follow the buffered ones at once (so the head may be corked).
    fn file_follows(&self) -> bool {
        matches!(&self.tail, Some(Tail::File(b)) if !b.stream.segments.is_empty())
    }

    /// `n` bytes of the front file segment went out.
    fn file_sent(&mut self, n: usize) {
        if let Some(Tail::File(b)) = &mut self.tail
            && let Some(Segment::Range { offset, len }) = b.stream.segments.front_mut()
        {
            *offset += n as u64;
            *len -= n as u64;
        }
    }

    fn release(&mut self, buffers: &mut Buffers) {
        self.written = 0;
        self.splices = None;
        buffers.give_output(std::mem::take(&mut self.buf));
    }

    /// The buffer went out whole: empty it for the next bytes.
    fn clear(&mut self) {
        self.buf.clear();
        self.written = 0;
        if let Some(splices) = &mut self.splices {
            splices.list.clear();
            (splices.next, splices.into, splices.mapped) = (0, 0, 0);
        }
    }

    /// The splices not yet passed.
    fn splices_ahead(&self) -> &[Splice] {
        self.splices.as_ref().map_or(&[], |s| &s.list[s.next..])
    }

    /// The unsent bytes, the gaps left out and the mapped bytes put in, as up to
    /// `pieces.len()` pieces for one `writev`: how many, and how many bytes they hold.
    fn pieces<'a>(&'a self, pieces: &mut [Piece<'a>]) -> (usize, usize) {
        let (mut at, mut count, mut len) = (self.written, 0, 0);
        let into = self.splices.as_ref().map_or(0, |s| s.into);
        for (i, splice) in self.splices_ahead().iter().map(Some).chain([None]).enumerate() {
            let end = splice.map_or(self.buf.len(), |s| s.range.start);
            let mapped = splice.and_then(|s| s.with.as_ref()).map(|m| {
                let map = m.file.mapping().expect("mapped when spliced");
                Piece::Mapped(map.span(m.bytes.clone()).skip(if i == 0 { into } else { 0 }))
            });
            for piece in [Some(Piece::Bytes(&self.buf[at.min(end)..end])), mapped].into_iter().flatten() {
                if count == pieces.len() {
                    return (count, len);
                }
                if !piece.is_empty() {
                    (pieces[count], count, len) = (piece, count + 1, len + piece.len());
                }
            }
            at = splice.map_or(at, |s| s.range.end);
        }
        (count, len)
    }

    /// Each file the next write sends mapped bytes of still holds them. A file cut shorter
    /// in place keeps the rest of the page its new end falls in, as zeros, and the kernel's
    /// copy from the mapping reads them as any other bytes (only the pages after it fail
    /// the copy). So just before each write, one `statx` per file asks for the furthest
    /// byte the write may send of it: no byte past a file's end goes, as with `pread`.
    fn mapped_files_hold(&self) -> bool {
        // At most MAX_PIECES mapped pieces go in one write, one per splice.
        let ahead = self.splices_ahead().iter().filter_map(|s| s.with.as_ref()).take(MAX_PIECES);
        let mut last: Option<(&Arc<BodyFile>, usize)> = None;
        for m in ahead {
            match &mut last {
                Some((file, end)) if Arc::ptr_eq(file, &m.file) => *end = m.bytes.end.max(*end),
                _ => {
                    if last.is_some_and(|(file, end)| !file.holds(end as u64)) {
                        return false;
                    }
                    last = Some((&m.file, m.bytes.end));
                }
            }
        }
        last.is_none_or(|(file, end)| file.holds(end as u64))
    }

    /// `n` more bytes went out: moves past them, and past the splices they lead to.
    fn advance(&mut self, mut n: usize) {
        loop {
            let next =
                self.splices_ahead().first().map(|s| (s.range.clone(), s.with.as_ref().map_or(0, |m| m.bytes.len())));
            let step = n.min(next.as_ref().map_or(self.buf.len(), |(r, _)| r.start) - self.written);
            (self.written, n) = (self.written + step, n - step);
            let (Some((range, with_len)), Some(splices)) = (next, &mut self.splices) else { break };
            if self.written < range.start {
                break;
            }
            let step = n.min(with_len - splices.into);
            (splices.into, n) = (splices.into + step, n - step);
            if splices.into < with_len {
                break;
            }
            (self.written, splices.next, splices.into) = (range.end, splices.next + 1, 0);
        }
        debug_assert_eq!(n, 0, "more bytes sent than were offered");
    }
}

/// Places in the output buffer where what is sent differs from it, in order: `next` is the
/// first not yet passed, `into` how many of its mapped bytes went out already, `mapped` the
/// mapped bytes of them all.
#[derive(Debug, Default)]
struct Splices {
    list: Vec<Splice>,
    next: usize,
    into: usize,
    mapped: usize,
}

/// `buf[range]` is left out, and `with`'s bytes of a mapped file (if any) go in its place.
#[derive(Debug)]
struct Splice {
    range: Range<usize>,
    with: Option<Mapped>,
}

/// Bytes of a body file's mapping, to send in a splice's place.
#[derive(Debug, Clone)]
struct Mapped {
    file: Arc<BodyFile>,
    bytes: Range<usize>,
}

/// The rest of a response after the output buffer.
#[derive(Debug)]
enum Tail {
    /// A body held in memory (a computed coding), written with the buffer in one write.
    Memory(Shared),
    /// A body streamed from a file.
    File(Box<FileBody>),
}

/// A body streamed from a file, and what is known of its bytes in the page cache. Boxed:
/// only a response that streams pays for it.
#[derive(Debug)]
struct FileBody {
    stream: Stream,
    ahead: ReadAhead,
}

/// Readiness as last reported and not yet used up.
#[derive(Debug, Clone, Copy)]
struct Readiness {
    readable: bool,
    writable: bool,
    /// The peer half-closed (EPOLLRDHUP): read until EOF, not just until a short read.
    hup: bool,
    /// Read returned EOF: nothing more will come.
    eof: bool,
}

/// One client connection.
#[derive(Debug)]
pub struct Connection {
    peer: Option<SocketAddr>,
    phase: Phase,
    closing: Closing,
    input: Input,
    output: Output,
    ready: Readiness,
    /// The timer this connection runs against and since when (None: restart it).
    timer: Option<(TimeoutKind, Instant)>,
    requests: u64,
    log: ResponseLog,
    /// Speaking HTTP/2 (from the preface, or TLS's ALPN): its frames and streams.
    h2: Option<Box<h2::H2>>,
    /// `--redirect-http`: every request is answered with a 308 to `https://` on this port.
    /// (Two bytes, so it fits the padding after `ready` and `closing`: every connection has one.)
    redirect_to: Option<std::num::NonZeroU16>,
}

impl Connection {
    /// A freshly accepted connection. It is assumed readable and writable: a client's
    /// first bytes often arrive with the handshake, and reading at once saves a turn.
    /// `peer` is None for a Unix-domain client.
    pub fn new(peer: Option<SocketAddr>, now: Instant) -> Self {
        Connection {
            peer,
            phase: Phase::Head,
            closing: Closing::KeepAlive,
            input: Input::default(),
            output: Output::default(),
            ready: Readiness { readable: true, writable: true, hup: false, eof: false },
            timer: Some((TimeoutKind::Request, now)),
            requests: 0,
            log: ResponseLog::default(),
            h2: None,
            redirect_to: None,
        }
    }

    /// Accepted on the `--redirect-http` listener: answers every request with a 308 to
    /// the same path on the HTTPS listener's `https_port`.
    pub fn redirecting_to_https(self, https_port: std::num::NonZeroU16) -> Self {
        Connection { redirect_to: Some(https_port), ..self }
    }

    /// Its first bytes must be a PROXY protocol header (`--proxy-protocol`), whose source
    /// address then replaces the peer; anything else closes it without a byte sent.
    pub fn expecting_proxy_header(self) -> Self {
        Connection { phase: Phase::Proxy, ..self }
    }

    /// Records a readiness event from the loop.
    pub fn ready(&mut self, readable: bool, writable: bool, read_closed: bool) {
        self.ready.readable |= readable || read_closed;
        self.ready.writable |= writable;
        self.ready.hup |= read_closed;
    }

    /// The deadline this connection currently runs against: its own, or an HTTP/2 stream's
    /// stall deadline if that comes first.
    pub(crate) fn deadline(&self, timeouts: &Timeouts) -> (TimeoutKind, Instant) {
        let (kind, at) = self.own_deadline(timeouts);
        match self.h2.as_ref().and_then(|h2| h2.stalled_since()) {
            Some(since) if since + timeouts.write_stall < at => (TimeoutKind::WriteStall, since + timeouts.write_stall),
            _ => (kind, at),
        }
    }

    /// The connection's own deadline (its streams' aside).
    fn own_deadline(&self, timeouts: &Timeouts) -> (TimeoutKind, Instant) {
        let (kind, since) = self.timer.expect("timer is set after every drive");
        (kind, since + timeouts.of(kind))
    }

    /// Between requests, with nothing buffered: safe to close at once (graceful drain).
    pub(crate) fn is_idle(&self) -> bool {
        self.h2.is_none()
            && matches!(self.phase, Phase::Head | Phase::Proxy)
            && self.input.is_empty()
            && !self.has_output()
    }

    /// Speaking HTTP/2: a drain tells it with GOAWAY rather than closing it.
    pub(crate) fn speaks_h2(&self) -> bool {
        self.h2.is_some()
    }

    /// Since when it has waited for its next request, once one was answered (None: new,
    /// mid-request, writing or lingering). Closing it then loses nothing, so the server
    /// reaps the longest-idle of these when it runs out of connection slots.
    pub(crate) fn idle_since(&self) -> Option<Instant> {
        match self.timer {
            Some((TimeoutKind::Idle, since)) if self.requests > 0 && self.is_idle() => Some(since),
            _ => None,
        }
    }

    /// A short name of the current state, for `--trace`.
    pub fn state_name(&self) -> &'static str {
        match self.phase {
            _ if self.h2.is_some() => "http2",
            Phase::Linger { .. } => "lingering",
            Phase::Proxy => "reading-proxy-header",
            _ if self.has_output() => "writing",
            Phase::Body { .. } => "reading-body",
            Phase::BodyDone => "reading-head",
            Phase::Waiting { .. } => "waiting",
            Phase::Head if !self.input.is_empty() => "reading-head",
            Phase::Head if self.requests == 0 => "new",
            Phase::Head => "idle",
        }
    }

    /// Bytes still to send: ours, or the transport's own.
    fn has_output(&self) -> bool {
        !self.output.is_empty() || self.output.below
    }

    /// Moves bytes until the stream would block, the quantum is used, or the connection
    /// is done.
    pub fn drive<S: Transport>(&mut self, io: &mut S, cx: &mut Context) -> Status {
        let status = match self.run(io, cx) {
            // Input is waiting below us that no edge will announce: come back next turn.
            Status::Wait if io.has_buffered_input() && self.ready.writable => Status::Yield,
            status => status,
        };
        if status == Status::Close {
            self.release_buffers(cx);
            return status;
        }
        self.output.below = io.wants_write();
        self.update_timer(cx.now);
        self.input.shrink(cx);
        if self.output.is_empty() {
            self.output.release(&mut cx.buffers);
        }
        if let Some(h2) = &mut self.h2 {
            h2.give_back(cx);
        }
        status
    }

    /// The request cycle: write what is pending, end the connection if its last response
    /// has left, answer what the input holds, read more.
    fn run<S: Transport>(&mut self, io: &mut S, cx: &mut Context) -> Status {
        let mut budget = WRITE_QUANTUM;
        let mut state = self.state_name();
        loop {
            if self.h2.is_none() && self.requests == 0 && cx.http2 && self.redirect_to.is_none() && io.speaks_h2() {
                cx.trace(|| "ALPN h2: speaking HTTP/2".into());
                self.h2 = Some(h2::H2::new());
            }
            if self.h2.is_some() {
                return self.run_h2(io, cx);
            }
            if cx.trace.is_some() && state != self.state_name() {
                let next = self.state_name();
                cx.trace(|| format!("state {state} -> {next}"));
                state = next;
            }
            if self.has_output() || io.wants_write() {
                match self.flush(io, cx, &mut budget) {
                    Flush::Done => {}
                    Flush::Blocked => return Status::Wait,
                    Flush::Yield => return Status::Yield,
                    Flush::Failed => return Status::Close,
                    Flush::Reading => return Status::Wait,
                }
                // A client that pipelines without end and reads as fast must not keep this
                // one drive going forever: its quantum counts every byte sent.
                if budget == 0 {
                    return Status::Yield;
                }
            }
            if self.closing == Closing::Abort {
                return Status::Close;
            }
            if self.closing != Closing::KeepAlive && !matches!(self.phase, Phase::Linger { .. }) {
                if self.quiet(io) {
                    return Status::Close;
                }
                self.start_lingering(io, cx);
            }
            if let Phase::Linger { dropped } = &mut self.phase {
                *dropped += self.input.len() as u64;
                self.input.clear();
                if *dropped > LINGER_MAX_BYTES || self.ready.eof {
                    return Status::Close;
                }
            } else if self.process(cx) {
                continue;
            } else if self.ready.eof && !self.is_waiting() {
                // The peer will send nothing more and everything it asked for is answered.
                return Status::Close;
            }
            if !self.ready.readable && !io.has_buffered_input() {
                return Status::Wait;
            }
            match self.fill(io, cx) {
                Ok(true) => {}
                Ok(false) => return Status::Wait,
                Err(e) => {
                    cx.trace(|| format!("read failed: {e}"));
                    match io.answer_to(&e) {
                        Some(answer) => self.refuse(&answer, cx),
                        None => return Status::Close,
                    }
                }
            }
        }
    }

    /// The transport cannot carry HTTP but has `answer` for the peer (plaintext on the
    /// HTTPS port): send it as is, then close by lingering, like an error response.
    fn refuse(&mut self, answer: &[u8], cx: &mut Context) {
        self.output.ensure_buffer(&mut cx.buffers);
        self.output.buf.extend_from_slice(answer);
        self.input.clear();
        self.phase = Phase::Head;
        self.closing = Closing::Linger;
        self.restart_timer();
    }

    /// Closing at once is safe: no client bytes can be pending. Closing with unread input
    /// makes the kernel answer with a reset, which can destroy the end of our response in
    /// the client's buffers; so only with EOF seen, or after a plain close whose last read
    /// was short (the queue was empty) with no readable edge since.
    fn quiet<S: Transport>(&self, io: &S) -> bool {
        let drained = !self.ready.readable && !io.has_buffered_input() && self.input.is_empty();
        self.ready.eof || (self.closing == Closing::Close && drained)
    }

    /// Half-closes, then drains: the client reads our response before the close.
    fn start_lingering<S: Transport>(&mut self, io: &mut S, cx: &mut Context) {
        if let Err(e) = io.shutdown_write() {
            cx.trace(|| format!("shutdown failed: {e}"));
        }
        self.phase = Phase::Linger { dropped: 0 };
        self.restart_timer();
    }

    /// The next request's clock (or the linger's) starts at the end of this drive.
    fn restart_timer(&mut self) {
        self.timer = None;
    }

    /// When the request being answered began: its request clock runs from its first byte
    /// (from the accept, for a connection's first request); a pipelined one whose clock was
    /// not started yet arrived in this turn's read.
    fn request_started(&self, now: Instant) -> Instant {
        match self.timer {
            Some((TimeoutKind::Request, since)) => since,
            _ => now,
        }
    }

    /// Parses and answers what the input holds, batching responses. True if it did
    /// anything (so there may be output to write).
    fn process(&mut self, cx: &mut Context) -> bool {
        let mut progressed = false;
        while self.closing == Closing::KeepAlive
            && self.h2.is_none()
            && self.output.tail.is_none()
            && self.output.buf.len() < BATCH_BYTES
        {
            match self.answer_next(cx) {
                Some(true) => progressed = true,
                Some(false) => return progressed,
                // An error was answered: the cycle ends here.
                None => return true,
            }
        }
        progressed
    }

    /// One step of the cycle on the input's front: a piece of body thrown away, an
    /// interim 100, or a response queued. Some(true): a step was taken, go on;
    /// Some(false): more input is needed; None: an error response was queued instead.
    fn answer_next(&mut self, cx: &mut Context) -> Option<bool> {
        if matches!(self.phase, Phase::Proxy) {
            return self.take_proxy_header(cx);
        }
        if matches!(self.phase, Phase::Body { .. }) && !self.discard_body(cx)? {
            return Some(false);
        }
        if self.input.is_empty() || matches!(self.phase, Phase::Waiting { done: None }) {
            return Some(false);
        }
        self.output.ensure_buffer(&mut cx.buffers);
        if self.requests == 0 && cx.http2 && self.redirect_to.is_none() && matches!(self.phase, Phase::Head) {
            match h2::preface(self.input.bytes()) {
                Some(true) => {
                    cx.trace(|| "HTTP/2 preface: speaking h2c".into());
                    self.h2 = Some(h2::H2::new());
                    return Some(true);
                }
                Some(false) => return Some(false),
                None => {}
            }
        }
        let (req, head_len) = match request::parse(self.input.bytes(), &cx.limits) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return Some(false),
            Err(e) => {
                self.fail(e, cx);
                return None;
            }
        };
        if matches!(self.phase, Phase::Head) {
            cx.trace(|| format!("parsed {} {:?} HTTP/1.{}", req.method, req.target, req.minor_version));
            if req.body != BodyFraming::None {
                let interim = req.expect_continue && req.minor_version == 1;
                self.expect_body(req.body, head_len, interim, cx);
                return Some(true);
            }
        }
        let view = req.view();
        let done = match &mut self.phase {
            Phase::Waiting { done } => done.take(),
            _ => None,
        };
        let plan = match (self.redirect_to, done) {
            (Some(port), _) => redirect::plan(&view, port.get()),
            (None, Some(done)) => match cx.site.resume(&view, *done, cx.now) {
                Planned::Ready(plan) => plan,
                Planned::Pending(job) => return self.wait_for(job, cx),
            },
            (None, None) => match cx.site.plan(&view, cx.now) {
                Planned::Ready(plan) => plan,
                Planned::Pending(job) => return self.wait_for(job, cx),
            },
        };
        // While the server drains, every response is the connection's last.
        let framing = render::framing(&req, plan.close, cx.draining);
        let status = plan.status;
        let queued_before = self.output.buf.len();
        let rendered = render::render(plan, cx.date.get(), framing, &mut self.output.buf);
        if let Some(note) = cx.site.take_note() {
            cx.trace(|| format!("encoding: {note}"));
        }
        cx.trace(|| format!("response {status} planned, body {} bytes", rendered.body_len));
        let took = cx.now.saturating_duration_since(self.request_started(cx.now));
        cx.metrics.response(Protocol::Http1, req.method.as_bytes(), status, took);
        if cx.log.is_some() {
            let streamed = rendered.rest.as_ref().map_or(0, Rest::size);
            let total = (self.output.buf.len() - queued_before) as u64 + streamed;
            let record = record_of(self.client(&req, cx), Some(&req), status, self.request_started(cx.now));
            self.log.queued(cx.log.as_mut(), 0, Some(&record), total, rendered.body_len);
        }
        self.output.tail = rendered.rest.map(|rest| match rest {
            Rest::Memory(body) => Tail::Memory(body),
            Rest::File(stream) => Tail::File(Box::new(FileBody { stream, ahead: ReadAhead::default() })),
        });
        self.begin_response(head_len, status, framing.close || rendered.failed, cx);
        Some(true)
    }

    /// The plan for the head at the front waits for `job`: run it at once (the outcome is
    /// taken on the next step), or queue it and wait. Some(true) to go on, Some(false) to
    /// wait for the job.
    fn wait_for(&mut self, job: Job, cx: &mut Context) -> Option<bool> {
        cx.trace(|| format!("job: {}", job.describe()));
        if !cx.jobs.deferred {
            self.phase = Phase::Waiting { done: Some(Box::new(job.run_here())) };
            return Some(true);
        }
        cx.jobs.queued.push((cx.ticket, Work::Plan(job)));
        self.phase = Phase::Waiting { done: None };
        Some(false)
    }

    /// Work this connection asked for is done: a plan goes on at the next drive, a body
    /// read lets its stream look at the page cache again. `Err(done)` when nothing waits for
    /// it (a completion that no longer applies).
    pub fn job_done(&mut self, stream: u32, done: Finished) -> Result<(), Finished> {
        if self.h2.is_some() {
            return self.h2_job_done(stream, done);
        }
        match (done, &mut self.phase, &mut self.output.tail) {
            (Finished::Plan(done), Phase::Waiting { done: slot @ None }, _) => {
                *slot = Some(Box::new(done));
                Ok(())
            }
            // A failed read is not reported here: the send meets the same error and ends
            // the connection.
            (Finished::Read { offset, .. }, _, Some(Tail::File(body))) => {
                body.ahead.read_done(offset);
                Ok(())
            }
            (done, ..) => Err(done),
        }
    }

    /// Its plan waits for a job.
    pub fn is_waiting(&self) -> bool {
        matches!(self.phase, Phase::Waiting { .. })
    }

    /// Its plan, or one of its HTTP/2 streams' plans, waits for a job.
    pub(crate) fn awaits_job(&self) -> bool {
        self.is_waiting() || self.h2.as_ref().is_some_and(|h2| h2.timeout_kind() == TimeoutKind::Job)
    }

    /// The PROXY header at the front of the input. Some(true): taken, its source is now the
    /// peer, and the bytes after it (often the first request, in the same read) are parsed
    /// next; Some(false): incomplete; None: malformed or missing, the connection is aborted.
    fn take_proxy_header(&mut self, cx: &mut Context) -> Option<bool> {
        match proxy::parse(self.input.bytes()) {
            Ok(None) => Some(false),
            Ok(Some((header, len))) => {
                self.input.start += len;
                if let Some(source) = header.source() {
                    self.peer = Some(source);
                }
                cx.trace(|| match self.peer {
                    Some(p) => format!("PROXY header: client {p}"),
                    None => "PROXY header: client unix".into(),
                });
                self.phase = Phase::Head;
                Some(true)
            }
            Err(e) => {
                cx.trace(|| format!("{e}: closing, nothing sent"));
                self.input.clear();
                self.closing = Closing::Abort;
                None
            }
        }
    }

    /// The client to log: the peer, or, when the peer is a trusted proxy, who that proxy
    /// (and the trusted ones before it) says it relayed the request for.
    fn client(&self, req: &request::Request, cx: &mut Context) -> Option<SocketAddr> {
        let peer = self.peer?;
        if cx.trusted_proxies.is_empty() {
            return Some(peer);
        }
        let (forwarded, x_forwarded_for) = match cx.trusted_header {
            TrustedHeader::Forwarded => (req.fields.forwarded, None),
            TrustedHeader::XForwardedFor => (None, req.fields.x_forwarded_for),
        };
        let ip = crate::http::forwarded::client(peer.ip(), &cx.trusted_proxies, forwarded, x_forwarded_for);
        if ip == peer.ip() {
            return Some(peer);
        }
        cx.trace(|| format!("client {ip}, as trusted proxy {} says", peer.ip()));
        Some(SocketAddr::new(ip, 0))
    }

    /// The head at the front announced a body: throw it away before answering, and tell a
    /// client that waits for it (`Expect: 100-continue`) to send it.
    fn expect_body(&mut self, framing: BodyFraming, head_len: usize, interim: bool, cx: &mut Context) {
        if interim {
            const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
            self.output.buf.extend_from_slice(CONTINUE);
            self.log.queued(cx.log.as_mut(), 0, None, CONTINUE.len() as u64, 0);
        }
        self.phase = Phase::Body { head_len, discard: BodyDiscard::new(framing) };
    }

    /// Throws away the body bytes the input holds. Some(true): the body has passed;
    /// Some(false): more is to come; None: bad framing or too long, answered with an error.
    fn discard_body(&mut self, cx: &mut Context) -> Option<bool> {
        let Phase::Body { head_len, discard } = &mut self.phase else { return Some(true) };
        let at = *head_len;
        match discard.feed(&self.input.bytes()[at..], cx.limits.max_body_bytes) {
            Ok(Discarded::More(n)) => {
                self.input.cut(at, n);
                Some(false)
            }
            Ok(Discarded::Done(n)) => {
                self.input.cut(at, n);
                self.phase = Phase::BodyDone;
                Some(true)
            }
            Err(e) => {
                self.fail(e, cx);
                None
            }
        }
    }

    /// The response to the head at the front is queued: consume the head, take the
    /// streamed body, and note how the connection ends.
    fn begin_response(&mut self, head_len: usize, status: u16, close: bool, cx: &mut Context) {
        self.input.start += head_len;
        self.requests += 1;
        cx.counters.requests += 1;
        self.phase = Phase::Head;
        self.closing = match (close, status >= 400) {
            (false, _) => Closing::KeepAlive,
            (true, false) => Closing::Close,
            (true, true) => Closing::Linger,
        };
        self.restart_timer();
    }

    /// Answers a request that cannot be served (bad framing, limits, timeout) and closes.
    fn fail(&mut self, e: ParseError, cx: &mut Context) {
        cx.trace(|| format!("{e}: answering {} and closing", e.status()));
        self.answer_and_close(e.status(), e.explanation(), cx);
    }

    /// Queues an error page for what the input holds, and ends the connection after it.
    fn answer_and_close(&mut self, status: u16, why: Option<&str>, cx: &mut Context) {
        self.output.ensure_buffer(&mut cx.buffers);
        let queued_before = self.output.buf.len();
        let framing = Framing { close: true, http10_keep_alive: false };
        let body_len =
            render::render(error_plan(status, why, false), cx.date.get(), framing, &mut self.output.buf).body_len;
        let took = cx.now.saturating_duration_since(self.request_started(cx.now));
        cx.metrics.response(Protocol::Http1, b"", status, took);
        if cx.log.is_some() {
            let record = record_of(self.peer, None, status, self.request_started(cx.now));
            let total = (self.output.buf.len() - queued_before) as u64;
            self.log.queued(cx.log.as_mut(), 0, Some(&record), total, body_len);
        }
        self.input.start = self.input.end;
        self.phase = Phase::Head;
        self.closing = Closing::Linger;
        self.restart_timer();
    }

    /// Writes the transport's own bytes, the output buffer (with an in-memory body after
    /// it), then the body segments, until done, blocked or out of quantum.
    fn flush<S: Transport>(&mut self, io: &mut S, cx: &mut Context, budget: &mut usize) -> Flush {
        if let Some(stop) = self.flush_own(io, cx) {
            return stop;
        }
        loop {
            if let Some(stop) = self.write_memory_body(io, cx, budget) {
                return stop;
            }
            if let Some(stop) = self.drain_buffer(io, cx, budget) {
                return stop;
            }
            let Some(Tail::File(body)) = &mut self.output.tail else {
                return self.flush_own(io, cx).unwrap_or(Flush::Done);
            };
            let FileBody { stream: body, ahead } = &mut **body;
            match body.segments.front_mut() {
                None => self.output.tail = None,
                Some(Segment::Bytes(bytes)) => {
                    self.output.buf.append(bytes);
                    body.segments.pop_front();
                }
                Some(Segment::Range { len: 0, .. }) => {
                    body.segments.pop_front();
                }
                Some(Segment::Range { offset, len }) => {
                    if *budget == 0 {
                        return Flush::Yield;
                    }
                    if !self.ready.writable {
                        return Flush::Blocked;
                    }
                    let want = (*len).min(*budget as u64);
                    // With a pool, only bytes the page cache holds are sent from the loop;
                    // the rest is read ahead by the pool first.
                    let want = if cx.jobs.deferred {
                        let (ticket, queued) = (cx.ticket, &mut cx.jobs.queued);
                        let end = *offset + *len;
                        match ahead.sendable(&body.file, *offset, want, end, &mut |w| queued.push((ticket, w))) {
                            0 => {
                                cx.trace(|| format!("body at {offset}: not in the page cache, reading ahead"));
                                return Flush::Reading;
                            }
                            n => n,
                        }
                    } else {
                        want
                    };
                    let wrote = io.send_file(&body.file, *offset, want as usize);
                    match self.sent("sendfile", wrote, budget, cx) {
                        Sent::Bytes(n) => {
                            cx.trace(|| format!("sendfile sent {n} bytes"));
                            self.output.file_sent(n);
                        }
                        Sent::Again => {}
                        Sent::Blocked => return Flush::Blocked,
                        Sent::Failed => return Flush::Failed,
                    }
                }
            }
        }
    }

    /// Writes the output buffer until it is empty (None, and the buffer is reset) or the
    /// flush must stop (why).
    fn drain_buffer<S: Transport>(&mut self, io: &mut S, cx: &mut Context, budget: &mut usize) -> Option<Flush> {
        while self.output.unsent() {
            if let Some(stop) = self.write_buffer(io, cx, budget) {
                return Some(stop);
            }
        }
        self.output.clear();
        None
    }

    /// One write of the output buffer. None: written, go on; else why the flush stops.
    fn write_buffer<S: Transport>(&mut self, io: &mut S, cx: &mut Context, budget: &mut usize) -> Option<Flush> {
        if !self.ready.writable {
            return Some(Flush::Blocked);
        }
        let (wrote, pending) = if !self.output.splices_ahead().is_empty() {
            if !self.output.mapped_files_hold() {
                // Cut shorter under a length already sent: the stream cannot be completed,
                // nor the connection's framing kept.
                cx.trace(|| "a mapped file is shorter now: giving up".into());
                return Some(Flush::Failed);
            }
            let mut pieces = [Piece::Bytes(&[]); MAX_PIECES];
            let (count, pending) = self.output.pieces(&mut pieces);
            (io.write_pieces(&pieces[..count]), pending)
        } else {
            let bytes = &self.output.buf[self.output.written..];
            // MSG_MORE only when body bytes follow at once: corked bytes with nothing after
            // them would wait for the kernel's 200 ms cork timer.
            (if self.output.file_follows() { io.write_more(bytes) } else { io.write(bytes) }, bytes.len())
        };
        match self.sent("write", wrote, budget, cx) {
            Sent::Bytes(n) => {
                cx.trace(|| format!("wrote {n} of {pending} bytes"));
                self.output.advance(n);
                // A short write means the socket buffer is full (epoll(7)): wait for the
                // writable edge instead of asking again.
                if n < pending && io.drains_on_short_io() {
                    self.ready.writable = false;
                    return Some(Flush::Blocked);
                }
                None
            }
            Sent::Again => None,
            Sent::Blocked => Some(Flush::Blocked),
            Sent::Failed => Some(Flush::Failed),
        }
    }

    /// Writes what the output buffer holds and the in-memory body after it, both in each
    /// write (`Transport::write_pair`), the body up to the quantum, until the body is out
    /// (None: the buffer is too) or the flush must stop (why).
    fn write_memory_body<S: Transport>(&mut self, io: &mut S, cx: &mut Context, budget: &mut usize) -> Option<Flush> {
        while let Some(Tail::Memory(body)) = &self.output.tail {
            if !self.ready.writable {
                return Some(Flush::Blocked);
            }
            if *budget == 0 {
                return Some(Flush::Yield);
            }
            debug_assert!(self.output.splices_ahead().is_empty(), "HTTP/1 output has no splices");
            let head = &self.output.buf[self.output.written..];
            let body = &body.rest()[..body.rest().len().min(*budget)];
            let (head_len, pending) = (head.len(), head.len() + body.len());
            let wrote = io.write_pair(head, body);
            match self.sent("write", wrote, budget, cx) {
                Sent::Bytes(n) => {
                    cx.trace(|| format!("wrote {n} of {pending} bytes"));
                    self.output.written += n.min(head_len);
                    if n > head_len
                        && let Some(Tail::Memory(body)) = &mut self.output.tail
                        && body.advance(n - head_len)
                    {
                        self.output.tail = None;
                    }
                    // A short write: the socket buffer is full, as in `write_buffer`.
                    if n < pending && io.drains_on_short_io() {
                        self.ready.writable = false;
                        return Some(Flush::Blocked);
                    }
                }
                Sent::Again => {}
                Sent::Blocked => return Some(Flush::Blocked),
                Sent::Failed => return Some(Flush::Failed),
            }
        }
        None
    }

    /// Writes the transport's own pending bytes (TLS records); None once there are none.
    fn flush_own<S: Transport>(&mut self, io: &mut S, cx: &mut Context) -> Option<Flush> {
        self.output.below = io.wants_write();
        if !self.output.below {
            return None;
        }
        if !self.ready.writable {
            return Some(Flush::Blocked);
        }
        // Called only on a writable socket, so the client took bytes since the last try:
        // that is progress for the write-stall timer, though the transport's records are
        // not the connection's bytes (a TLS reader slower than one 64 KiB output buffer
        // per --write-timeout must not be taken for a stalled one).
        let result = io.flush_own();
        if result.is_ok() {
            self.wire_moved(cx);
        }
        match result {
            Ok(true) => {
                self.output.below = false;
                None
            }
            Ok(false) => {
                cx.trace(|| "transport output: blocked".into());
                self.ready.writable = false;
                Some(Flush::Blocked)
            }
            Err(e) => {
                cx.trace(|| format!("transport output failed: {e}"));
                Some(Flush::Failed)
            }
        }
    }

    /// Sorts out what one write or sendfile did: bytes sent are counted against the
    /// quantum and logged; WouldBlock waits for writability; errors end the connection,
    /// with a trace line saying why. `Ok(0)` is a peer gone or a file that shrank under a
    /// length already announced: the response cannot be completed.
    fn sent(&mut self, what: &str, wrote: io::Result<usize>, budget: &mut usize, cx: &mut Context) -> Sent {
        match wrote {
            Ok(0) => {
                cx.trace(|| format!("{what}: sent nothing (peer gone or file shrank), giving up"));
                Sent::Failed
            }
            Ok(n) => {
                *budget = budget.saturating_sub(n);
                self.progress(n, cx);
                Sent::Bytes(n)
            }
            Err(e) if interrupted(&e) => Sent::Again,
            Err(e) if would_block(&e) => {
                cx.trace(|| format!("{what}: WouldBlock"));
                self.ready.writable = false;
                Sent::Blocked
            }
            Err(e) => {
                cx.trace(|| format!("{what} failed: {e}"));
                Sent::Failed
            }
        }
    }

    /// Bytes moved: count them, log the responses they completed, and push the
    /// write-stall deadline back.
    fn progress(&mut self, n: usize, cx: &mut Context) {
        cx.counters.bytes_sent += n as u64;
        self.log.sent_in_order(cx.log.as_mut(), n as u64);
        self.wire_moved(cx);
    }

    /// The client took bytes: push the write-stall deadline back.
    fn wire_moved(&mut self, cx: &Context) {
        if let Some((TimeoutKind::WriteStall, since)) = &mut self.timer {
            *since = cx.now;
        }
    }

    /// Reads once into the input buffer. Ok(true): got bytes or EOF; Ok(false): would block.
    /// A read that fills a small buffer moves its bytes into a big one and reads again at
    /// once: the rest of a burst is likely queued, and answering the burst as a whole keeps
    /// its responses in one write.
    fn fill<S: Transport>(&mut self, io: &mut S, cx: &mut Context) -> io::Result<bool> {
        self.input.make_room(cx);
        let mut got = false;
        loop {
            let room = self.input.buf.len() - self.input.end;
            if room == 0 && self.is_waiting() {
                // Pipelined requests filled the buffer behind one that waits for a job:
                // read more once it is answered (the readable edge is kept).
                return Ok(got);
            }
            if room == 0 {
                // Unreachable by construction, but a connection that cannot read must not
                // spin. A small buffer is never full here (`make_room` grows it), so this is
                // a big one, compacted, holding `big_size` >= max_head_bytes + 4096 unparsed
                // bytes. `process` ran before this read and left them unparsed, so they hold
                // no complete head; a partial head of max_head_bytes or more is already a
                // 431/414, and in a body's phase the bytes are a head of at most
                // max_head_bytes plus under 4096 of an unfinished chunk-size or trailer line
                // (longer is a 400). So a full buffer always parses or fails.
                return Err(io::ErrorKind::OutOfMemory.into());
            }
            match io.read(&mut self.input.buf[self.input.end..]) {
                Ok(0) => {
                    cx.trace(|| "read: EOF".into());
                    self.ready.eof = true;
                    self.ready.readable = false;
                    return Ok(true);
                }
                Ok(n) => {
                    cx.trace(|| format!("read {n} bytes"));
                    if self.input.is_empty() && self.timer.is_some_and(|(k, _)| k == TimeoutKind::Idle) {
                        self.restart_timer(); // The first byte of a new request.
                    }
                    if self.input.received(n, cx) {
                        got = true;
                        continue;
                    }
                    // A short read drained the socket (epoll(7)); a half-closed peer is
                    // read until EOF instead, since no further edge will announce it.
                    if n < room && !self.ready.hup && io.drains_on_short_io() {
                        self.ready.readable = false;
                    }
                    return Ok(true);
                }
                Err(e) if interrupted(&e) => {}
                Err(e) if would_block(&e) => {
                    cx.trace(|| "read: WouldBlock".into());
                    self.ready.readable = false;
                    return Ok(got);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Chooses the timeout that applies to the state the connection is now in; the clock
    /// restarts when the kind changes or a request boundary reset it.
    fn update_timer(&mut self, now: Instant) {
        let kind = match self.phase {
            _ if self.has_output() => TimeoutKind::WriteStall,
            _ if let Some(h2) = &self.h2 => h2.timeout_kind(),
            Phase::Linger { .. } => TimeoutKind::Linger,
            Phase::Proxy => TimeoutKind::Request,
            _ if self.has_output() => TimeoutKind::WriteStall,
            Phase::Body { .. } | Phase::BodyDone => TimeoutKind::Request,
            Phase::Waiting { .. } => TimeoutKind::Job,
            Phase::Head if !self.input.is_empty() || self.requests == 0 => TimeoutKind::Request,
            Phase::Head => TimeoutKind::Idle,
        };
        match self.timer {
            Some((current, _)) if current == kind => {}
            _ => self.timer = Some((kind, now)),
        }
    }

    /// The deadline passed. A client that sent part of a request gets a 408 (one write
    /// attempt, no waiting); every other case just closes.
    ///
    /// On HTTP/2 only a stream's stall may be due: it is reset and the connection goes on
    /// (`Yield`: driven next turn to send the RST_STREAM); otherwise the connection ends
    /// with a GOAWAY.
    pub fn on_timeout<S: Transport>(&mut self, io: &mut S, cx: &mut Context) -> Status {
        if self.h2.is_some() {
            if self.own_deadline(&cx.timeouts).1 > cx.now {
                self.h2_reset_stalled(cx);
                return Status::Yield;
            }
            cx.counters.timeouts += 1;
            self.h2_go_away(io, cx);
            self.release_buffers(cx);
            return Status::Close;
        }
        cx.counters.timeouts += 1;
        let (kind, _) = self.deadline(&cx.timeouts);
        // No HTTP was spoken yet before the PROXY header: nothing is owed.
        let partial =
            !matches!(self.phase, Phase::Proxy) && (!self.input.is_empty() || matches!(self.phase, Phase::Body { .. }));
        if kind == TimeoutKind::Job && !self.has_output() {
            cx.trace(|| "job timed out: answering 503 and closing".into());
            self.answer_and_close(503, Some("The file system did not answer in time."), cx);
            match io.write(&self.output.buf) {
                Ok(n) => self.progress(n, cx),
                Err(e) => cx.trace(|| format!("write failed: {e}")),
            }
        } else if kind == TimeoutKind::Request && partial && !self.has_output() {
            self.fail(ParseError::Timeout, cx);
            match io.write(&self.output.buf) {
                Ok(n) => self.progress(n, cx),
                Err(e) => cx.trace(|| format!("write failed: {e}")),
            }
        }
        self.release_buffers(cx);
        Status::Close
    }

    /// Gives up on the connection (the server is stopping): buffers back, log lines out.
    pub(crate) fn abandon(&mut self, cx: &mut Context) {
        self.release_buffers(cx);
    }

    fn release_buffers(&mut self, cx: &mut Context) {
        self.log.abandon(cx.log.as_mut());
        cx.buffers.give_input(std::mem::take(&mut self.input.buf));
        cx.buffers.give_output(std::mem::take(&mut self.output.buf));
        (self.output.tail, self.output.splices) = (None, None);
    }
}

/// The access log's view of a request (None: it did not parse) and its status.
fn record_of<'r>(
    peer: Option<SocketAddr>,
    req: Option<&request::Request<'r>>,
    status: u16,
    started: Instant,
) -> Record<'r> {
    let target = match req.map(|r| r.target) {
        Some(request::Target::Path(p)) => p,
        Some(request::Target::Asterisk) => "*",
        None => "",
    };
    Record {
        peer,
        method: req.map(|r| r.method),
        target,
        protocol: if req.is_some_and(|r| r.minor_version == 0) { "HTTP/1.0" } else { "HTTP/1.1" },
        status,
        referer: req.and_then(|r| r.fields.referer),
        user_agent: req.and_then(|r| r.fields.user_agent),
        started,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::SiteOptions;
    use std::collections::VecDeque;
    use std::io::{Read, Write};

    /// A scripted stream: reads return the queued chunks then WouldBlock (or EOF);
    /// writes accept at most `write_limit` bytes, and WouldBlock while `write_blocked`.
    /// It can also play a TLS layer: `below` says the chunks are already buffered under
    /// the connection (the socket said WouldBlock long ago), `stall_once` makes the next
    /// read WouldBlock anyway, and `own_output` keeps written bytes as its own (`own`)
    /// until `flush_own` finds the socket open (`!own_blocked`).
    #[derive(Default)]
    struct Mock {
        chunks: VecDeque<Vec<u8>>,
        eof: bool,
        out: Vec<u8>,
        write_limit: usize,
        write_blocked: bool,
        writes: usize,
        below: bool,
        stall_once: bool,
        own_output: bool,
        own: Vec<u8>,
        own_blocked: bool,
        /// Reads, then writes, fail with these.
        read_error: Option<io::ErrorKind>,
        write_error: Option<io::ErrorKind>,
        /// What `answer_to` gives for the first read error (TLS's plaintext refusal).
        answer: Option<Vec<u8>>,
    }

    impl Read for Mock {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if let Some(kind) = self.read_error {
                return Err(kind.into());
            }
            if std::mem::take(&mut self.stall_once) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            match self.chunks.pop_front() {
                Some(mut chunk) => {
                    let n = chunk.len().min(buf.len());
                    buf[..n].copy_from_slice(&chunk[..n]);
                    if n < chunk.len() {
                        self.chunks.push_front(chunk.split_off(n));
                    }
                    Ok(n)
                }
                None if self.eof => Ok(0),
                None => Err(io::ErrorKind::WouldBlock.into()),
            }
        }
    }

    impl Write for Mock {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.write_blocked {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            if let Some(kind) = self.write_error {
                return Err(kind.into());
            }
            self.writes += 1;
            if self.own_output {
                self.own.extend_from_slice(buf);
                return Ok(buf.len());
            }
            let n = buf.len().min(if self.write_limit == 0 { usize::MAX } else { self.write_limit });
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Transport for Mock {
        fn has_buffered_input(&self) -> bool {
            self.below && !self.chunks.is_empty()
        }

        fn wants_write(&self) -> bool {
            !self.own.is_empty()
        }

        fn flush_own(&mut self) -> io::Result<bool> {
            if self.own_blocked {
                return Ok(false);
            }
            self.out.append(&mut self.own);
            Ok(true)
        }

        fn answer_to(&mut self, _err: &io::Error) -> Option<Vec<u8>> {
            self.answer.take()
        }
    }

    struct Setup {
        dir: std::path::PathBuf,
        cx: Context,
    }

    impl Drop for Setup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn setup(name: &str) -> Setup {
        let dir = std::env::temp_dir().join(format!("evserve-conn-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.txt"), "hello").unwrap();
        std::fs::write(dir.join("big.bin"), vec![9u8; 100_000]).unwrap();
        let site = Site::new(&dir, SiteOptions::default()).unwrap();
        Setup { dir, cx: Context::new(site, Limits::default(), Timeouts::default(), None) }
    }

    const GET_A: &[u8] = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";

    fn responses(out: &[u8]) -> usize {
        out.windows(9).filter(|w| w == b"HTTP/1.1 ").count()
    }

    #[test]
    fn partial_head_waits_then_answers() {
        let mut s = setup("partial");
        let mut conn = Connection::new(None, s.cx.now);
        let mut io = Mock { chunks: VecDeque::from([GET_A[..10].to_vec()]), ..Mock::default() };
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert!(io.out.is_empty());
        io.chunks.push_back(GET_A[10..].to_vec());
        conn.ready(true, false, false);
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert!(io.out.starts_with(b"HTTP/1.1 200 OK\r\n") && io.out.ends_with(b"hello"));
    }

    /// Jobs queued for a runner instead of run at once: the test is the runner.
    fn deferred(s: &mut Setup) {
        s.cx.jobs.deferred = true;
        std::fs::write(s.dir.join("b.txt"), "bee").unwrap();
    }

    /// Runs the one queued job, as a pool thread would, and hands its outcome back.
    fn run_job(s: &mut Setup, conn: &mut Connection) -> Ticket {
        assert_eq!(s.cx.jobs.queued.len(), 1, "one job queued");
        let (ticket, job) = s.cx.jobs.queued.pop().unwrap();
        assert!(conn.job_done(ticket.stream, job.run()).is_ok(), "the waiting connection takes its outcome");
        ticket
    }

    #[test]
    fn pipelined_requests_are_answered_in_order_behind_a_job() {
        let mut s = setup("job-order");
        deferred(&mut s);
        s.cx.ticket = Ticket { key: 7, serial: 3, stream: 0 };
        let mut conn = Connection::new(None, s.cx.now);
        let two = [GET_A, b"GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n"].concat();
        let mut io = Mock { chunks: VecDeque::from([two]), ..Mock::default() };
        // The root's re-check is due at the first request: a job; nothing is answered.
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert!(io.out.is_empty() && conn.is_waiting());
        assert_eq!(conn.state_name(), "waiting");
        assert_eq!(conn.deadline(&s.cx.timeouts).0, TimeoutKind::Job, "not the request timeout");
        assert_eq!(run_job(&mut s, &mut conn), Ticket { key: 7, serial: 3, stream: 0 });
        // Each cold lookup is one more job; the second request waits behind the first.
        let mut jobs = 1;
        while conn.is_waiting() {
            conn.ready(false, true, false);
            assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
            if conn.is_waiting() {
                run_job(&mut s, &mut conn);
                jobs += 1;
            }
        }
        // `SiteOptions::default()` has a TTL of 0: the root is re-checked for each request.
        assert_eq!(jobs, 4, "the root, a.txt, the root, b.txt");
        let text = String::from_utf8(io.out.clone()).unwrap();
        let (first, second) = (text.find("hello").unwrap(), text.find("bee").unwrap());
        assert!(first < second && responses(&io.out) == 2, "{text}");
        assert_eq!(conn.state_name(), "idle");
    }

    #[test]
    fn a_reset_while_waiting_frees_everything_and_the_late_outcome_is_refused() {
        let mut s = setup("job-reset");
        deferred(&mut s);
        let mut conn = Connection::new(None, s.cx.now);
        let mut io = Mock { chunks: VecDeque::from([GET_A.to_vec()]), ..Mock::default() };
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert!(conn.is_waiting());
        io.read_error = Some(io::ErrorKind::ConnectionReset);
        conn.ready(true, false, true);
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Close);
        assert!(conn.input.buf.is_empty() && conn.output.buf.capacity() == 0, "buffers back in the pools");
        // The slot's next connection is not waiting: the outcome is dropped, not taken.
        let (_, job) = s.cx.jobs.queued.pop().unwrap();
        let mut next = Connection::new(None, s.cx.now);
        assert!(next.job_done(0, job.run()).is_err());
        assert!(!next.is_waiting());
    }

    #[test]
    fn a_half_close_while_waiting_still_gets_its_answer() {
        let mut s = setup("job-eof");
        deferred(&mut s);
        let mut conn = Connection::new(None, s.cx.now);
        let mut io = Mock { chunks: VecDeque::from([GET_A.to_vec()]), eof: true, ..Mock::default() };
        conn.ready(true, false, true); // The FIN's edge.
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait, "EOF does not end a waiting request");
        assert!(conn.ready.eof);
        s.cx.trace = Some(Vec::new());
        while conn.is_waiting() {
            run_job(&mut s, &mut conn);
            let status = conn.drive(&mut io, &mut s.cx);
            if !conn.is_waiting() {
                assert_eq!(status, Status::Close, "{:?}", s.cx.trace);
            }
        }
        assert!(io.out.starts_with(b"HTTP/1.1 200 OK\r\n") && io.out.ends_with(b"hello"));
    }

    #[test]
    fn a_job_that_never_ends_is_a_503_not_a_408() {
        let mut s = setup("job-timeout");
        deferred(&mut s);
        let mut conn = Connection::new(None, s.cx.now);
        let mut io = Mock { chunks: VecDeque::from([GET_A.to_vec()]), ..Mock::default() };
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert_eq!(conn.on_timeout(&mut io, &mut s.cx), Status::Close);
        assert!(io.out.starts_with(b"HTTP/1.1 503 Service Unavailable\r\n"), "{:?}", String::from_utf8_lossy(&io.out));
    }

    #[test]
    fn pipelined_requests_leave_in_one_write() {
        let mut s = setup("batch");
        let mut conn = Connection::new(None, s.cx.now);
        let mut io = Mock { chunks: VecDeque::from([GET_A.repeat(3)]), ..Mock::default() };
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert_eq!(responses(&io.out), 3);
        assert_eq!(io.writes, 1);
        assert_eq!(conn.requests, 3);
    }

    #[test]
    fn a_slow_reader_gets_every_byte() {
        let mut s = setup("slow");
        let mut conn = Connection::new(None, s.cx.now);
        let req = b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
        let mut io = Mock { chunks: VecDeque::from([req]), write_limit: 1000, ..Mock::default() };
        // Each drive writes until a short write; the loop would then wait for writability.
        let mut turns = 0;
        while io.out.len() < 100_000 {
            conn.ready(false, true, false);
            assert_ne!(conn.drive(&mut io, &mut s.cx), Status::Close);
            turns += 1;
            assert!(turns < 1000, "no progress");
        }
        let head_end = io.out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(io.out.len() - head_end, 100_000);
        assert_eq!(conn.state_name(), "idle");
    }

    /// A computed coding over `INLINE_BODY_MAX` is written from memory after its head, not
    /// copied into the buffer: two pipelined responses, to a reader taking 1000 bytes a
    /// write (head and body split anywhere), arrive whole and in order.
    #[test]
    fn a_coded_body_in_memory_follows_its_head() {
        use crate::site::CompressOptions;
        let mut s = setup("shared");
        let mut seed = 7u64;
        let mut text = Vec::new();
        while text.len() < 100_000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            text.extend_from_slice(format!("{} ", (seed >> 33) % 100_000).as_bytes());
        }
        std::fs::write(s.dir.join("app.js"), &text).unwrap();
        let compress = CompressOptions { on: true, background: false, ..CompressOptions::default() };
        s.cx.site = Site::new(&s.dir, SiteOptions { compress, ..SiteOptions::default() }).unwrap();
        let req = b"GET /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n".repeat(2);
        let mut conn = Connection::new(None, s.cx.now);
        let mut io = Mock { chunks: VecDeque::from([req]), write_limit: 1000, ..Mock::default() };
        let mut turns = 0;
        while turns == 0 || conn.state_name() != "idle" {
            conn.ready(false, true, false);
            assert_ne!(conn.drive(&mut io, &mut s.cx), Status::Close);
            turns += 1;
            assert!(turns < 1000, "no progress");
        }
        let mut rest = &io.out[..];
        for _ in 0..2 {
            let head_end = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            let head = String::from_utf8_lossy(&rest[..head_end]).to_string();
            let len: usize =
                head.split("Content-Length: ").nth(1).unwrap().split("\r\n").next().unwrap().parse().unwrap();
            assert!(head.contains("Content-Encoding: gzip") && len > render::INLINE_BODY_MAX as usize, "{head}");
            let mut decoded = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(&rest[head_end..head_end + len]),
                &mut decoded,
            )
            .unwrap();
            assert!(decoded == text, "the body decodes to the file");
            rest = &rest[head_end + len..];
        }
        assert!(rest.is_empty());
        assert_eq!(conn.state_name(), "idle");
    }

    #[test]
    fn an_endless_pipeline_yields_after_a_quantum() {
        let mut s = setup("quantum");
        let mut conn = Connection::new(None, s.cx.now);
        let req = b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n".repeat(40); // 40 x 100 kB
        let mut io = Mock { chunks: VecDeque::from([req]), ..Mock::default() };
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Yield);
        let first = io.out.len();
        assert!((WRITE_QUANTUM..WRITE_QUANTUM + 200_000).contains(&first), "{first} bytes in one turn");
        while conn.drive(&mut io, &mut s.cx) == Status::Yield {}
        assert_eq!(responses(&io.out), 40);
    }

    #[test]
    fn http2_answers_a_batch_in_one_write_and_keeps_no_buffer_after_it() {
        use crate::http2::frame::{self, PREFACE};
        use crate::http2::hpack::encoder::encode_field;
        let mut s = setup("h2idle");
        let mut conn = Connection::new(None, s.cx.now);
        let mut input = PREFACE.to_vec();
        frame::encode_settings(&mut input, &[]);
        for stream in [1, 3] {
            let mut block = Vec::new();
            let fields: [(&[u8], &[u8]); 3] = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/a.txt")];
            for (n, v) in fields {
                encode_field(&mut block, n, v);
            }
            frame::encode_headers(&mut input, stream, &block, true, 16_384);
        }
        let mut io = Mock { chunks: VecDeque::from([input]), ..Mock::default() };
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert_eq!(io.out.windows(5).filter(|w| w == b"hello").count(), 2, "both bodies");
        assert_eq!(io.writes, 2, "our SETTINGS, then both HEADERS and DATA in one write");
        assert!(!conn.h2.as_mut().expect("HTTP/2").holds_buffers(), "given back");
        assert_eq!(conn.output.buf.capacity(), 0);
    }

    /// A body file of `bytes` (its name removed at once), and a handle to cut it with.
    fn body_file(bytes: &[u8], name: &str) -> (Arc<BodyFile>, std::fs::File) {
        let path = std::env::temp_dir().join(format!("evserve-{name}-{}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let file = Arc::new(BodyFile::new(std::fs::File::open(&path).unwrap(), bytes.len() as u64));
        let writer = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        (file, writer)
    }

    /// A socket pair that reads mapped pieces back as the kernel reads them.
    struct Wire {
        ours: mio::net::UnixStream,
        theirs: std::os::unix::net::UnixStream,
    }

    impl Wire {
        fn new() -> Self {
            let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
            Wire { ours: mio::net::UnixStream::from_std(ours), theirs }
        }

        /// One write of `output`'s pieces (at most `slots` of them) that takes at most
        /// `limit` bytes, as a short `writev` does: the bytes it sent go onto `sent`.
        fn write(&mut self, output: &mut Output, slots: usize, limit: usize, sent: &mut Vec<u8>) {
            let mut pieces = [Piece::Bytes(&[]); 4];
            let (count, pending) = output.pieces(&mut pieces[..slots]);
            assert!(count > 0 && pending > 0, "unsent, yet no piece");
            let mut took = 0;
            for piece in &pieces[..count] {
                let n = piece.len().min(limit - took);
                match piece {
                    Piece::Bytes(bytes) => sent.extend_from_slice(&bytes[..n]),
                    Piece::Mapped(span) if n > 0 => {
                        assert_eq!(self.ours.write_pieces(&[Piece::Mapped(span.take(n))]).unwrap(), n);
                        let mut got = vec![0; n];
                        std::io::Read::read_exact(&mut self.theirs, &mut got).unwrap();
                        sent.extend_from_slice(&got);
                    }
                    Piece::Mapped(_) => {}
                }
                took += n;
            }
            output.advance(took);
        }
    }

    #[test]
    fn output_splices_are_sent_in_place_however_the_writes_fall() {
        // A mapped file that starts "ABCDEFGHIJ"; `pieces` asks at most 3 pieces a write.
        let mut bytes = b"ABCDEFGHIJ".to_vec();
        bytes.resize(crate::util::map::MAP_MIN as usize, b'.');
        let (file, writer) = body_file(&bytes, "splices");
        let mapped = |bytes: Range<usize>| Some(Mapped { file: file.clone(), bytes });
        // "head" [gap] "one" [gap][gap] "two" [gap]-at-the-start-of "3", then "end"; the
        // file's bytes put in after "head", at the start of "3" and at the very end.
        let buf = b"head--one**++two#3end".to_vec();
        let splices = [(4..4, mapped(0..3)), (4..6, None), (9..11, None), (11..13, None), (16..17, None)]
            .into_iter()
            .chain([(17..17, mapped(3..4)), (17..17, mapped(4..10)), (21..21, mapped(9..10))]);
        let want = b"headABConetwoDEFGHIJ3endJ";
        let mut wire = Wire::new();
        for most in 1..=want.len() {
            let mut output = Output { buf: buf.clone(), ..Output::default() };
            for (range, with) in splices.clone() {
                output.splice(Splice { range, with });
            }
            output.splice(Splice { range: 3..3, with: mapped(5..5) }); // Changes nothing: not kept.
            assert_eq!((output.queued(), output.splices_ahead().len()), (buf.len() + 11, 8));
            assert!(output.mapped_files_hold());
            let mut sent = Vec::new();
            while output.unsent() {
                wire.write(&mut output, 3, most, &mut sent);
            }
            assert_eq!(sent, want, "at most {most} bytes a write");
            output.clear();
            assert!(output.splices_ahead().is_empty() && output.buf.is_empty() && output.queued() == 0);
        }
        // The file cut shorter than what a splice the next write may send: it must not go.
        // Only the furthest byte of each file is asked about, up to MAX_PIECES splices on.
        let mut output = Output { buf: b"head".to_vec(), ..Output::default() };
        output.splice(Splice { range: 4..4, with: mapped(60_000..60_010) });
        output.splice(Splice { range: 4..4, with: mapped(0..8) });
        assert!(output.mapped_files_hold());
        writer.set_len(60_009).unwrap();
        assert!(!output.mapped_files_hold());
        let mut output = Output { buf: b"head".to_vec(), ..Output::default() };
        for _ in 0..MAX_PIECES {
            output.splice(Splice { range: 4..4, with: mapped(0..8) });
        }
        output.splice(Splice { range: 4..4, with: mapped(60_000..60_010) });
        assert!(output.mapped_files_hold(), "past what one write sends");
    }

    /// Random layouts of gaps and mapped bytes (empty ones too, at either end), sent by
    /// writes of random sizes and piece counts: what goes is the layout's bytes, in order,
    /// and there is always a piece to write while `unsent` says so.
    #[test]
    fn output_splices_send_any_layout_in_order() {
        let bytes: Vec<u8> = (0..crate::util::map::MAP_MIN as usize).map(|i| (i * 7 % 251) as u8).collect();
        let (file, _) = body_file(&bytes, "splices-random");
        let mut wire = Wire::new();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..2_000 {
            let len = next(40);
            let buf: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let mut output = Output { buf: buf.clone(), ..Output::default() };
            let (mut at, mut want) = (0, Vec::new());
            while next(3) > 0 {
                let start = at + next(len - at + 1);
                let end = start + next((len - start).min(3) + 1);
                let with = (next(2) == 0).then(|| {
                    let from = next(1_000);
                    Mapped { file: file.clone(), bytes: from..from + next(20) }
                });
                want.extend_from_slice(&buf[at..start]);
                want.extend_from_slice(with.as_ref().map_or(&[][..], |m| &bytes[m.bytes.clone()]));
                output.splice(Splice { range: start..end, with });
                at = end;
            }
            want.extend_from_slice(&buf[at..]);
            let (most, slots) = (1 + next(30), 1 + next(4));
            let mut sent = Vec::new();
            while output.unsent() {
                let limit = 1 + next(most);
                wire.write(&mut output, slots, limit, &mut sent);
            }
            assert_eq!(sent, want);
        }
    }

    #[test]
    fn idle_connections_hold_no_buffers() {
        let mut s = setup("idle");
        let mut conn = Connection::new(None, s.cx.now);
        let mut io = Mock { chunks: VecDeque::from([GET_A.to_vec()]), ..Mock::default() };
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert_eq!(conn.state_name(), "idle");
        assert_eq!(conn.input.buf.len(), 0);
        assert_eq!(conn.output.buf.capacity(), 0);
        assert!(std::mem::size_of::<Connection>() <= 256, "Connection is {} bytes", std::mem::size_of::<Connection>());
    }

    #[test]
    fn deadlines_follow_the_state() {
        let mut s = setup("timers");
        let t0 = s.cx.now;
        let timeouts = s.cx.timeouts;
        let mut conn = Connection::new(None, t0);
        assert_eq!(conn.deadline(&timeouts), (TimeoutKind::Request, t0 + timeouts.request));
        let mut io =
            Mock { chunks: VecDeque::from([b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()]), ..Mock::default() };
        io.write_blocked = true;
        s.cx.now = t0 + std::time::Duration::from_secs(1);
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert_eq!(conn.deadline(&timeouts).0, TimeoutKind::WriteStall);
        io.write_blocked = false;
        s.cx.now = t0 + std::time::Duration::from_secs(2);
        conn.ready(false, true, false);
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert_eq!(conn.deadline(&timeouts), (TimeoutKind::Idle, s.cx.now + timeouts.idle));
    }

    #[test]
    fn eof_after_the_request_still_answers_then_closes() {
        let mut s = setup("eof");
        let mut conn = Connection::new(None, s.cx.now);
        let mut io = Mock { chunks: VecDeque::from([GET_A.to_vec()]), eof: true, ..Mock::default() };
        conn.ready(true, true, true);
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Close);
        assert!(io.out.ends_with(b"hello"));
    }

    #[test]
    fn a_bad_request_is_answered_then_lingers_until_eof() {
        let mut s = setup("linger");
        let mut conn = Connection::new(None, s.cx.now);
        let mut io = Mock { chunks: VecDeque::from([b"BAD\r\n\r\nmore junk".to_vec()]), ..Mock::default() };
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert!(io.out.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
        assert_eq!(conn.state_name(), "lingering");
        io.eof = true;
        conn.ready(true, false, true);
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Close);
    }

    /// A head of `len` bytes for /a.txt, padded with one field.
    fn head_of(len: usize) -> Vec<u8> {
        let start = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Pad: ";
        let mut head = start.to_vec();
        head.resize(len - 4, b'p');
        head.extend_from_slice(b"\r\n\r\n");
        head
    }

    #[test]
    fn a_half_sent_head_holds_only_a_small_buffer() {
        let mut s = setup("half");
        let mut conn = Connection::new(None, s.cx.now);
        let mut io =
            Mock { chunks: VecDeque::from([b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_vec()]), ..Mock::default() };
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert_eq!(conn.state_name(), "reading-head");
        assert_eq!(conn.input.buf.len(), SMALL_INPUT_BUFFER);
    }

    #[test]
    fn a_head_larger_than_the_small_buffer_grows_and_is_answered() {
        let mut s = setup("grow");
        let mut conn = Connection::new(None, s.cx.now);
        let head = head_of(3000);
        // Sent in pieces, so that a drive ends while the head is still arriving.
        let mut io = Mock { chunks: VecDeque::from([head[..1500].to_vec()]), ..Mock::default() };
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert!(conn.input.buf.len() > SMALL_INPUT_BUFFER, "1500 bytes held in {}", conn.input.buf.len());
        io.chunks.push_back(head[1500..].to_vec());
        conn.ready(true, false, false);
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert!(io.out.starts_with(b"HTTP/1.1 200 OK\r\n") && io.out.ends_with(b"hello"));
    }

    #[test]
    fn a_head_of_the_limit_parses_and_one_byte_more_is_431_however_reads_split() {
        for split in [1, 100, SMALL_INPUT_BUFFER - 1, SMALL_INPUT_BUFFER, SMALL_INPUT_BUFFER + 1, 5000] {
            for (len, status) in [(8192, "200 OK"), (8193, "431 ")] {
                let mut s = setup("limit");
                let mut conn = Connection::new(None, s.cx.now);
                let head = head_of(len);
                let mut io = Mock { chunks: head.chunks(split).map(<[u8]>::to_vec).collect(), ..Mock::default() };
                // Each short read ends a drive, as a drained socket would.
                while !io.chunks.is_empty() && io.out.is_empty() {
                    conn.ready(true, false, false);
                    assert_ne!(conn.drive(&mut io, &mut s.cx), Status::Close);
                }
                let want = format!("HTTP/1.1 {status}");
                assert!(
                    io.out.starts_with(want.as_bytes()),
                    "{len} bytes in reads of {split}: {:?}",
                    String::from_utf8_lossy(&io.out)
                );
            }
        }
    }

    #[test]
    fn a_body_is_discarded_across_small_and_big_buffers() {
        let mut s = setup("body");
        let mut conn = Connection::new(None, s.cx.now);
        let head = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n";
        let body = vec![b'b'; 5000];
        // The head and a few body bytes wait in a small buffer; the rest fills it and grows it.
        let mut io = Mock { chunks: VecDeque::from([[&head[..], &body[..10]].concat()]), ..Mock::default() };
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert_eq!((conn.state_name(), conn.input.buf.len()), ("reading-body", SMALL_INPUT_BUFFER));
        io.chunks.push_back([&body[10..], GET_A].concat());
        conn.ready(true, false, false);
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert_eq!(responses(&io.out), 2);
        assert!(io.out.ends_with(b"hello"));
    }

    #[test]
    fn a_pipelined_burst_larger_than_the_small_buffer_is_answered_in_one_write() {
        let mut s = setup("burst");
        let mut conn = Connection::new(None, s.cx.now);
        let burst = GET_A.repeat(40); // 1280 bytes
        assert!(burst.len() > SMALL_INPUT_BUFFER);
        let mut io = Mock { chunks: VecDeque::from([burst.clone()]), ..Mock::default() };
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert_eq!((responses(&io.out), io.writes), (40, 1));
        // The next burst goes straight into a big buffer: one read, one write.
        io.chunks.push_back(burst);
        conn.ready(true, false, false);
        s.cx.trace = Some(Vec::new());
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert_eq!((responses(&io.out), io.writes), (80, 2));
        let steps = s.cx.trace.take().unwrap();
        assert_eq!(steps.iter().filter(|t| t.starts_with("read")).count(), 1, "{steps:?}");
    }

    #[test]
    fn drained_buffers_go_back_to_their_pools() {
        let mut s = setup("pools");
        let mut conn = Connection::new(None, s.cx.now);
        let head = head_of(3000);
        let mut io = Mock { chunks: VecDeque::from([head[..10].to_vec()]), ..Mock::default() };
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert_eq!((s.cx.buffers.small.len(), s.cx.buffers.big.len()), (0, 0));
        io.chunks.push_back(head[10..].to_vec());
        conn.ready(true, false, false);
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert!(io.out.ends_with(b"hello"));
        // The small buffer went back when the head outgrew it, the big one once drained.
        assert_eq!((conn.input.buf.len(), s.cx.buffers.small.len(), s.cx.buffers.big.len()), (0, 1, 1));
        // A few bytes left waiting move back into a small buffer.
        io.chunks.push_back([GET_A, &GET_A[..10]].concat());
        conn.ready(true, false, false);
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert_eq!(conn.input.buf.len(), SMALL_INPUT_BUFFER);
    }

    #[test]
    fn pools_keep_a_bounded_number_of_buffers() {
        let mut buffers = Buffers::new(&Limits::default());
        for _ in 0..2000 {
            buffers.give_input(vec![0; SMALL_INPUT_BUFFER].into_boxed_slice());
            buffers.give_input(vec![0; MIN_INPUT_BUFFER].into_boxed_slice());
            buffers.give_output(Vec::with_capacity(BATCH_BYTES + 4096));
        }
        assert_eq!((buffers.small.len(), buffers.big.len(), buffers.outputs.len()), (512, 30, 7));
    }

    #[test]
    fn input_buffered_below_the_connection_is_read_without_a_new_edge() {
        let mut s = setup("below");
        let mut conn = Connection::new(None, s.cx.now);
        // One record per read, the socket long drained: no edge will announce the rest.
        let mut io = Mock {
            chunks: VecDeque::from([GET_A.to_vec(), GET_A.to_vec(), GET_A.to_vec()]),
            below: true,
            ..Mock::default()
        };
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert_eq!(responses(&io.out), 3);
        assert_eq!(conn.state_name(), "idle");
    }

    #[test]
    fn input_buffered_below_a_blocked_write_is_read_on_the_writable_edge() {
        let mut s = setup("below-blocked");
        let mut conn = Connection::new(None, s.cx.now);
        let mut io = Mock { chunks: VecDeque::from([GET_A.to_vec(), GET_A.to_vec()]), below: true, ..Mock::default() };
        io.write_blocked = true;
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        // Only writability comes back; the second request is still below the connection.
        io.write_blocked = false;
        conn.ready(false, true, false);
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert_eq!(responses(&io.out), 2);
    }

    #[test]
    fn input_buffered_below_after_a_would_block_is_driven_again_without_an_event() {
        let mut s = setup("below-stall");
        let mut conn = Connection::new(None, s.cx.now);
        let mut io =
            Mock { chunks: VecDeque::from([GET_A.to_vec()]), below: true, stall_once: true, ..Mock::default() };
        // The loop re-drives a yielded connection next turn, as it does one out of quantum.
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Yield);
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert_eq!(responses(&io.out), 1);
    }

    #[test]
    fn transport_output_keeps_the_connection_busy_until_flushed() {
        let mut s = setup("own");
        let mut conn = Connection::new(None, s.cx.now);
        let mut io =
            Mock { chunks: VecDeque::from([GET_A.to_vec()]), own_output: true, own_blocked: true, ..Mock::default() };
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert!(io.out.is_empty() && responses(&io.own) == 1);
        // Not idle: neither closed by a drain nor reaped for room, and on the write timer.
        assert_eq!(conn.state_name(), "writing");
        assert!(!conn.is_idle() && conn.idle_since().is_none());
        assert_eq!(conn.deadline(&s.cx.timeouts).0, TimeoutKind::WriteStall);
        io.own_blocked = false;
        conn.ready(false, true, false);
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert!(io.own.is_empty() && io.out.ends_with(b"hello"));
        assert!(conn.is_idle());
    }

    #[test]
    fn transport_output_is_flushed_before_closing() {
        let mut s = setup("own-close");
        let mut conn = Connection::new(None, s.cx.now);
        let req = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec();
        let mut io = Mock { chunks: VecDeque::from([req]), own_output: true, own_blocked: true, ..Mock::default() };
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Wait);
        assert!(io.out.is_empty());
        io.own_blocked = false;
        conn.ready(false, true, false);
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Close);
        assert!(io.own.is_empty() && io.out.ends_with(b"hello"));
    }

    #[test]
    fn a_transport_answer_to_a_read_error_is_sent_before_the_close() {
        let mut s = setup("answer");
        let mut conn = Connection::new(None, s.cx.now);
        let refusal = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec();
        let read_error = Some(io::ErrorKind::InvalidData);
        let mut io = Mock { read_error, answer: Some(refusal.clone()), ..Mock::default() };
        assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Close);
        assert_eq!(io.out, refusal, "the answer, as is, and nothing else");
        assert_eq!(s.cx.counters.requests, 0, "no request was answered: the access log has no line");
    }

    #[test]
    fn dropped_io_errors_leave_a_trace_line() {
        for (read_error, write_error, want) in [
            (Some(io::ErrorKind::ConnectionReset), None, "read failed: "),
            (None, Some(io::ErrorKind::BrokenPipe), "write failed: "),
        ] {
            let mut s = setup("errors");
            s.cx.trace = Some(Vec::new());
            let mut conn = Connection::new(None, s.cx.now);
            let chunks = if read_error.is_some() { VecDeque::new() } else { VecDeque::from([GET_A.to_vec()]) };
            let mut io = Mock { chunks, read_error, write_error, ..Mock::default() };
            assert_eq!(conn.drive(&mut io, &mut s.cx), Status::Close);
            let steps = s.cx.trace.take().unwrap();
            assert!(steps.iter().any(|t| t.starts_with(want)), "{want} not in {steps:?}");
        }
    }
}
