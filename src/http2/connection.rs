//! The server side of one HTTP/2 connection, sans-I/O (RFC 9113 §3–§8 for a server that answers
//! GET and HEAD and never pushes), in the manner of python-hyper's h2: the caller hands
//! `receive` the bytes that arrived and gets `Event`s back; every frame the connection must
//! write (our SETTINGS, acknowledgements, WINDOW_UPDATE, RST_STREAM, GOAWAY, and the response
//! HEADERS the caller asks for) is appended, in order, to one output buffer the caller drains.
//!
//! ```text
//! Connection::new()       -> our SETTINGS already in output()
//! receive(bytes, &mut ev) -> consumed (whole frames only; keep the rest), events
//! ev: Request             -> send_headers(), then DATA by send_window()/data_sent() or send_data()
//! ev: Reset               -> stop sending on that stream
//! ev: WindowOpened        -> send_window() may have grown: resume DATA
//! Err(code)               -> GOAWAY(code) is in output(): flush it, then close
//! begin_shutdown(), PING ACK (or finish_shutdown() on a timer), want_close() -> close
//! ```
//!
//! Ordering rule for DATA: the connection never writes DATA itself except through
//! `send_data`. A caller that sends a body by `sendfile` writes the 9-byte DATA header
//! (`frame::encode_data_header`) and the payload after flushing `output()`, and must not flush
//! `output()` again until the payload is out; `receive` may append to `output()` meanwhile.
//!
//! Abuse limits (named consts below, counters in `Abuse`): the CONTINUATION flood is bounded
//! by `MAX_HEADER_BLOCK`; Rapid Reset (CVE-2023-44487) and provoked resets by
//! `RAPID_RESET_BUDGET` per `RESET_WINDOW` streams; SETTINGS/PING/PRIORITY/RST floods (CVE-2019-9512, -9514, -9515, -9516)
//! by `CONTROL_FRAME_BUDGET` (work) and `CONTROL_BACKLOG_LIMIT` (output not drained); empty
//! frame floods (CVE-2019-9518) by `EMPTY_FRAME_BUDGET`. Each ends the connection with GOAWAY
//! ENHANCE_YOUR_CALM. The connection keeps no clock: SETTINGS and shutdown timeouts are the
//! caller's (`settings_acked`, `finish_shutdown`).

use std::collections::VecDeque;

use open::OpenStreams;

use super::flow::{DEFAULT_WINDOW_SIZE, Window};
use super::frame::{self, DEFAULT_MAX_FRAME_SIZE, Frame, FrameHeader, FrameType, HEADER_LEN, PREFACE, Settings};
use super::hpack::decoder::{self, Decoder, HeaderList};
use super::hpack::encoder::{Encoder, encode_field};
use super::priority::Priority;
use super::request::{self, Request};
use super::stream::{self, PeerStreams, State};
use super::{Error, ErrorCode, StreamId};

/// Our SETTINGS_MAX_CONCURRENT_STREAMS: streams the client may have open at once. Each open
/// stream is a response in progress (an open file, a window); past this a new stream is
/// refused with RST_STREAM(REFUSED_STREAM), which the client may safely retry (§5.1.2).
pub const MAX_CONCURRENT_STREAMS: u32 = 100;

/// Our SETTINGS_INITIAL_WINDOW_SIZE and the connection window we keep: the request body a
/// client may have in flight. GET and HEAD bodies are dropped, so the default is plenty; being
/// the default, it needs no care before the client acknowledges our SETTINGS.
pub const INITIAL_WINDOW_SIZE: u32 = DEFAULT_WINDOW_SIZE;

/// The most encoded bytes one HEADERS+CONTINUATION block may take before it is decoded. The
/// block must be buffered whole (HPACK decodes a complete block), so without a cap the
/// CONTINUATION flood (endless CONTINUATION frames without END_HEADERS, 2024's "CONTINUATION
/// flood") costs unbounded memory. The decoded list is capped separately
/// (`decoder::MAX_HEADER_LIST_SIZE`); HPACK rarely expands, so 64 KiB encoded is 4x that.
pub const MAX_HEADER_BLOCK: usize = 64 * 1024;

/// Rapid Reset (CVE-2023-44487): a client opens streams and resets them at once, so each
/// costs us a request's work and it never waits for a response, bypassing
/// MAX_CONCURRENT_STREAMS. Resets of streams we had not finished (client RST_STREAM, plus the
/// RST_STREAMs a client provokes by faults, "MadeYouReset" of 2025, and malformed or refused
/// streams) are counted per window of `RESET_WINDOW` streams opened; more than this many in
/// one window ends the connection. Browsers do cancel requests (navigation, scrolling), but
/// not half of them, and the window keeps a long connection from banking credit for a burst.
pub const RAPID_RESET_BUDGET: u64 = 100;

/// The streams opened per window of `RAPID_RESET_BUDGET`: a new window starts (its reset
/// count at 0) each time this many more streams have been opened.
pub const RESET_WINDOW: u64 = 200;

/// Frames that give us work but no request: SETTINGS, PING, PRIORITY, RST_STREAM, GOAWAY,
/// unknown types, WINDOW_UPDATE/DATA/HEADERS on closed or ignored streams, and frames that
/// provoke a RST_STREAM on a stream that was already finished. The base budget per
/// connection. The floods of CVE-2019-9512 (PING), -9515 (SETTINGS), -9516 (PRIORITY-like)
/// and -9514 (reset flood) cost CPU as well as output; no client needs 10,000 of them without
/// making requests.
pub const CONTROL_FRAME_BUDGET: u64 = 10_000;

/// The control frame budget grows by this much per stream opened, so a long-lived busy
/// connection (priority updates, pings for round-trip estimates) never exhausts it.
pub const CONTROL_FRAMES_PER_STREAM: u64 = 100;

/// Reply frames we may queue (SETTINGS ACK, PING ACK, RST_STREAM, WINDOW_UPDATE) while the
/// output buffer never becomes empty. A client that floods PINGs or SETTINGS and never reads
/// its socket would otherwise grow `output()` without bound (CVE-2019-9512, -9515); 1,000 is
/// nghttp2's limit on queued acknowledgements, at most 17 KB here.
pub const CONTROL_BACKLOG_LIMIT: usize = 1_000;

/// DATA frames with no content and no END_STREAM, and HEADERS or CONTINUATION fragments with
/// no bytes and no END_HEADERS: each costs a frame's processing and achieves nothing
/// (CVE-2019-9518, the "empty frames flood"). Real clients send almost none.
pub const EMPTY_FRAME_BUDGET: u64 = 1_000;

/// How many closed stream ids are remembered: those we reset, so that frames the client sent
/// before it saw our RST_STREAM are ignored as §5.1 requires; the others, so that HEADERS
/// reopening one is STREAM_CLOSED (§5.1) rather than an unused lower id (PROTOCOL_ERROR,
/// §5.1.1). Older ones get the generic answers (STREAM_CLOSED for DATA, PROTOCOL_ERROR for
/// HEADERS), which are still errors for frames that should not come.
const CLOSED_MEMORY: usize = 256;

/// PRIORITY_UPDATE frames kept for streams not yet opened (RFC 9218 §7.1: a client may send
/// one just before the HEADERS); the oldest is forgotten past this. Each holds 2 bytes and an
/// id, so a client cannot make this costly.
const PENDING_PRIORITIES: usize = 16;

/// The payload of the PING that ends the first step of a graceful shutdown.
const SHUTDOWN_PING: [u8; 8] = *b"evs-shut";

/// The last-stream-id of the first GOAWAY of a graceful shutdown: "any stream" (§6.8).
const ANY_STREAM: StreamId = 0x7fff_ffff;

/// The connection's limits; `Default` is the consts above. Tests and the caller may shrink
/// them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `MAX_CONCURRENT_STREAMS`.
    pub max_concurrent_streams: u32,
    /// `MAX_HEADER_BLOCK`.
    pub max_header_block: usize,
    /// `RAPID_RESET_BUDGET`.
    pub rapid_reset_budget: u64,
    /// `RESET_WINDOW`.
    pub reset_window: u64,
    /// `CONTROL_FRAME_BUDGET`.
    pub control_frame_budget: u64,
    /// `CONTROL_FRAMES_PER_STREAM`.
    pub control_frames_per_stream: u64,
    /// `CONTROL_BACKLOG_LIMIT`.
    pub control_backlog_limit: usize,
    /// `EMPTY_FRAME_BUDGET`.
    pub empty_frame_budget: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_concurrent_streams: MAX_CONCURRENT_STREAMS,
            max_header_block: MAX_HEADER_BLOCK,
            rapid_reset_budget: RAPID_RESET_BUDGET,
            reset_window: RESET_WINDOW,
            control_frame_budget: CONTROL_FRAME_BUDGET,
            control_frames_per_stream: CONTROL_FRAMES_PER_STREAM,
            control_backlog_limit: CONTROL_BACKLOG_LIMIT,
            empty_frame_budget: EMPTY_FRAME_BUDGET,
        }
    }
}

/// The abuse counters, for logs and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Abuse {
    /// New client streams (accepted, refused or malformed).
    pub streams_opened: u64,
    /// Client RST_STREAMs of streams we had not finished.
    pub rapid_resets: u64,
    /// Our RST_STREAMs for the client's faults: malformed or refused streams, flow control
    /// and state errors on unfinished streams.
    pub stream_errors: u64,
    /// Both kinds of resets in the current window (see `RESET_WINDOW`).
    pub window_resets: u64,
    /// Streams opened in the current window.
    pub window_streams: u64,
    /// Control frames received (see `CONTROL_FRAME_BUDGET`).
    pub control_frames: u64,
    /// Reply frames queued since `output()` was last seen empty.
    pub control_backlog: usize,
    /// Empty DATA/HEADERS/CONTINUATION frames received.
    pub empty_frames: u64,
}

/// What `receive` found, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A valid request: answer with `send_headers`. With `end_stream` false a body follows,
    /// which the connection drops (the caller may answer at once).
    Request {
        /// Its stream.
        stream: StreamId,
        /// The request.
        request: Request,
        /// Whether the client's side is already complete.
        end_stream: bool,
    },
    /// A request whose header list passed `decoder::MAX_HEADER_LIST_SIZE` or
    /// `decoder::MAX_HEADER_FIELDS`: answer 431 (or `reset`); HPACK stays in sync.
    RequestTooLarge {
        /// Its stream.
        stream: StreamId,
        /// Whether the client's side is already complete.
        end_stream: bool,
    },
    /// A stream the caller was told about ended abnormally: stop sending on it. `remote`: the
    /// client sent RST_STREAM; otherwise we reset it for the client's fault (the RST_STREAM
    /// is already in the output).
    Reset {
        /// The stream.
        stream: StreamId,
        /// The RST_STREAM code.
        code: ErrorCode,
        /// Whether the client reset it.
        remote: bool,
    },
    /// Send window appeared: on `stream`, or, for 0, on the connection or several streams.
    /// Check `send_window` again.
    WindowOpened {
        /// The stream, or 0.
        stream: StreamId,
    },
    /// A PRIORITY_UPDATE (RFC 9218) for a stream the caller was told about: schedule its
    /// DATA by this priority from now on. (One that came before its stream opened follows
    /// that stream's `Request` event at once.)
    PriorityChanged {
        /// The stream.
        stream: StreamId,
        /// Its new priority (the `priority` request field no longer counts).
        priority: Priority,
    },
    /// The client sent GOAWAY: it opens no more streams; finish the open ones.
    GoAway {
        /// The last stream id it may have processed (ours: none, we never push).
        last_stream: StreamId,
        /// Why.
        code: ErrorCode,
    },
}

/// Where the connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the 24-byte client preface.
    Preface,
    /// Waiting for the client's first frame, which must be SETTINGS.
    FirstSettings,
    /// Frames flow.
    Open,
}

/// The graceful shutdown of §6.8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shutdown {
    /// Not shutting down.
    No,
    /// GOAWAY(2^31-1) and our PING are out; the PING ACK finishes.
    Pinged,
    /// The final GOAWAY went out with this last stream id; later streams are ignored.
    Final(StreamId),
}

/// A field block being gathered from HEADERS and CONTINUATION.
#[derive(Debug)]
struct Block {
    stream: StreamId,
    end_stream: bool,
    fragments: Vec<u8>,
}

/// One stream the caller knows about (a `Request` or `RequestTooLarge` event was given).
#[derive(Debug)]
struct Stream {
    state: State,
    /// What we may still send (the client's window).
    send: Window,
    /// What the client may still send us.
    recv: Window,
    content_length: Option<u64>,
    /// DATA content received so far.
    received: u64,
}

impl Stream {
    /// Whether we have not sent END_STREAM yet.
    fn unfinished(&self) -> bool {
        matches!(self.state, State::Open | State::HalfClosedRemote)
    }
}

/// One server-side HTTP/2 connection.
#[derive(Debug)]
pub struct Connection {
    limits: Limits,
    phase: Phase,
    /// Set once a connection error was sent: nothing more is processed.
    failed: Option<ErrorCode>,
    out: Vec<u8>,
    decoder: Decoder,
    encoder: Encoder,
    peer: PeerStreams,
    /// The highest stream we accepted (or refused explicitly): GOAWAY's last-stream-id.
    /// Streams ignored after a GOAWAY advance `peer` but not this.
    accepted_last: StreamId,
    streams: OpenStreams<Stream>,
    /// Recently closed streams, newest last, at most `CLOSED_MEMORY`, each with whether its
    /// frames are to be ignored (we reset it, or ignored it after GOAWAY).
    closed: VecDeque<(StreamId, bool)>,
    /// The connection window for our DATA.
    send_window: Window,
    /// The connection window for the client's DATA.
    recv_window: Window,
    peer_initial_window: u32,
    peer_max_frame_size: u32,
    settings_acked: bool,
    block: Option<Block>,
    /// PRIORITY_UPDATEs for streams not opened yet, oldest first (`PENDING_PRIORITIES`).
    pending_priorities: VecDeque<(StreamId, Priority)>,
    shutdown: Shutdown,
    peer_goaway: bool,
    abuse: Abuse,
}

impl Default for Connection {
    fn default() -> Self {
        Connection::new(Limits::default())
    }
}

/// The stream we are to send on, and the state sending `event` moves it to; or why we may
/// not (the connection failed, the stream is gone, or its state forbids it). A function of
/// the two fields, not a method, so that the caller may write the output meanwhile.
fn sending(
    failed: Option<ErrorCode>,
    streams: &mut OpenStreams<Stream>,
    stream: StreamId,
    event: stream::Event,
) -> Result<(&mut Stream, State), Error> {
    if let Some(code) = failed {
        return Err(Error::Connection(code));
    }
    let s = streams.get_mut(&stream).ok_or(Error::Stream(stream, ErrorCode::StreamClosed))?;
    let next = s.state.on(stream, event)?;
    Ok((s, next))
}

/// The RST_STREAM or GOAWAY code for a stream-state error; `Ok` for a connection error.
fn split(e: Error) -> Result<ErrorCode, ErrorCode> {
    match e {
        Error::Stream(_, code) => Ok(code),
        Error::Connection(code) => Err(code),
    }
}

impl Connection {
    /// A connection whose server preface (our SETTINGS) is already in `output()`.
    pub fn new(limits: Limits) -> Connection {
        let mut out = Vec::new();
        let list_size = u32::try_from(decoder::MAX_HEADER_LIST_SIZE).unwrap_or(u32::MAX);
        frame::encode_settings(
            &mut out,
            &[
                (frame::setting::ENABLE_PUSH, 0),
                (frame::setting::MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams),
                (frame::setting::INITIAL_WINDOW_SIZE, INITIAL_WINDOW_SIZE),
                (frame::setting::MAX_HEADER_LIST_SIZE, list_size),
                // We order responses by RFC 9218 and ignore PRIORITY frames: say so.
                (frame::setting::NO_RFC7540_PRIORITIES, 1),
            ],
        );
        Connection {
            limits,
            phase: Phase::Preface,
            failed: None,
            out,
            decoder: Decoder::new(),
            encoder: Encoder::new(),
            peer: PeerStreams::default(),
            accepted_last: 0,
            streams: OpenStreams::default(),
            closed: VecDeque::new(),
            send_window: Window::default(),
            recv_window: Window::new(INITIAL_WINDOW_SIZE),
            peer_initial_window: DEFAULT_WINDOW_SIZE,
            peer_max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            settings_acked: false,
            block: None,
            pending_priorities: VecDeque::new(),
            shutdown: Shutdown::No,
            peer_goaway: false,
            abuse: Abuse::default(),
        }
    }

    /// Processes the whole frames at the start of `input`, appending what happened to
    /// `events`, and returns how many bytes it used: a partial preface or frame at the end is
    /// left for the next call (with more bytes after it). A connection error writes GOAWAY to
    /// the output and is returned, then and on every later call.
    pub fn receive(&mut self, input: &[u8], events: &mut Vec<Event>) -> Result<usize, ErrorCode> {
        if let Some(code) = self.failed {
            return Err(code);
        }
        let mut consumed = 0usize;
        loop {
            let rest = input.get(consumed..).unwrap_or_default();
            match self.step(rest, events) {
                Ok(0) => return Ok(consumed),
                Ok(n) => consumed = consumed.saturating_add(n),
                Err(code) => {
                    self.fail(code);
                    return Err(code);
                }
            }
        }
    }

    /// The bytes to send, in order. Drain what was written (`drain(..n)`, or `clear()`).
    pub fn output(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Frees what a connection with no open stream need not hold: the emptied stream table
    /// keeps its room (a few dozen bytes a stream) until it is replaced.
    pub fn shed_idle_memory(&mut self) {
        if self.streams.is_empty() {
            self.streams = OpenStreams::default();
        }
    }

    /// Writes the response HEADERS (and CONTINUATIONs) for `stream`: `:status`, then `fields`
    /// (lowercase names, no connection-specific fields). Refused, writing nothing, if the
    /// stream is gone (reset or finished: `Error::Stream(_, StreamClosed)`), has already sent
    /// END_STREAM (`InternalError`), or the connection failed.
    pub fn send_headers(
        &mut self,
        stream: StreamId,
        status: u16,
        fields: &[(&[u8], &[u8])],
        end_stream: bool,
    ) -> Result<(), Error> {
        self.send_headers_with(stream, status, end_stream, |out, _| {
            for &(name, value) in fields {
                encode_field(out, name, value);
            }
        })
    }

    /// `send_headers` with the fields written by `fields`, HPACK-encoded straight into the
    /// output after `:status` (`Encoder::block`, `hpack::encoder::encode_field_with`): no
    /// block is built apart and copied.
    pub fn send_headers_with(
        &mut self,
        stream: StreamId,
        status: u16,
        end_stream: bool,
        fields: impl FnOnce(&mut Vec<u8>, &mut Encoder),
    ) -> Result<(), Error> {
        // One lookup for the state check and the state change.
        let event = stream::Event::SendHeaders { end_stream };
        let (s, next) = sending(self.failed, &mut self.streams, stream, event)?;
        let start = frame::begin_headers(&mut self.out);
        self.encoder.begin(&mut self.out, status);
        fields(&mut self.out, &mut self.encoder);
        frame::finish_headers(&mut self.out, start, stream, end_stream, self.peer_max_frame_size);
        if next == State::Closed {
            self.set_state(stream, next);
        } else {
            s.state = next;
        }
        Ok(())
    }

    /// Whether `stream` is held up by its own window alone: it has a response to finish, the
    /// client left its stream window at 0 (or below) and the connection window open. The
    /// caller's per-stream stall timer runs on this; a closed connection window holds every
    /// stream and is the connection's write stall.
    pub fn stream_window_closed(&self, stream: StreamId) -> bool {
        self.send_window.available() > 0
            && self.streams.get(&stream).is_some_and(|s| s.unfinished() && s.send.available() == 0)
    }

    /// Whether a field block is half received (HEADERS without END_HEADERS, CONTINUATION to
    /// come): nothing else may arrive meanwhile, so the caller bounds it in time as a request
    /// head is bounded.
    pub fn reading_headers(&self) -> bool {
        self.block.is_some()
    }

    /// The DATA payload we may send on `stream` now, in one frame: the least of the connection
    /// window, the stream window and the client's SETTINGS_MAX_FRAME_SIZE; 0 if the stream
    /// cannot send.
    pub fn send_window(&self, stream: StreamId) -> usize {
        match self.streams.get(&stream) {
            Some(s) if self.failed.is_none() && s.unfinished() => {
                let n = self.send_window.available().min(s.send.available()).min(self.peer_max_frame_size);
                usize::try_from(n).unwrap_or(0)
            }
            _ => 0,
        }
    }

    /// Accounts a DATA frame of `n` payload bytes the caller wrote itself (header by
    /// `frame::encode_data_header`, payload e.g. by sendfile). `n` must be at most
    /// `send_window(stream)` (an empty END_STREAM frame is always allowed); otherwise nothing
    /// changes and `InternalError` is returned. END_STREAM finishes our side.
    pub fn data_sent(&mut self, stream: StreamId, n: usize, end_stream: bool) -> Result<(), Error> {
        // One lookup for the state, the windows and the accounting: this runs per DATA frame.
        let (s, next) = sending(self.failed, &mut self.streams, stream, stream::Event::SendData { end_stream })?;
        let refused = Error::Stream(stream, ErrorCode::InternalError);
        // `send_window`: the least of the connection's, the stream's and the frame size.
        let window = self.send_window.available().min(s.send.available()).min(self.peer_max_frame_size);
        let len = match u32::try_from(n) {
            Ok(len) if s.unfinished() && len <= window => len,
            _ => return Err(refused),
        };
        // Both fit: `len` is within the least of them.
        s.send.consume(len).map_err(|_| refused)?;
        self.send_window.consume(len).map_err(|_| refused)?;
        if next == State::Closed {
            self.set_state(stream, next);
        } else {
            s.state = next;
        }
        Ok(())
    }

    /// Writes a whole DATA frame into the output and accounts it as `data_sent` does; same
    /// refusals. (`conn` writes even small bodies into its own buffer and calls `data_sent`;
    /// this serves callers of the pure connection alone, such as its tests.)
    pub fn send_data(&mut self, stream: StreamId, data: &[u8], end_stream: bool) -> Result<(), Error> {
        self.data_sent(stream, data.len(), end_stream)?;
        frame::encode_data(&mut self.out, stream, data, end_stream);
        Ok(())
    }

    /// Resets `stream` ourselves (e.g. CANCEL, or NO_ERROR after a full response to stop a
    /// request body, §8.1). A stream that is not open is left alone.
    pub fn reset(&mut self, stream: StreamId, code: ErrorCode) {
        if self.failed.is_none() && self.streams.remove(&stream).is_some() {
            frame::encode_rst_stream(&mut self.out, stream, code);
            self.remember_closed(stream, true);
        }
    }

    /// Step 1 of the graceful shutdown (§6.8): GOAWAY with last-stream-id 2^31-1 (streams in
    /// flight are still served) and a PING. The PING ACK takes step 2 (`finish_shutdown`) by
    /// itself; a caller that tires of waiting (one round trip is enough) calls it directly.
    pub fn begin_shutdown(&mut self) {
        if self.failed.is_none() && self.shutdown == Shutdown::No {
            frame::encode_goaway(&mut self.out, ANY_STREAM, ErrorCode::NoError, b"");
            frame::encode_ping(&mut self.out, false, SHUTDOWN_PING);
            self.shutdown = Shutdown::Pinged;
        }
    }

    /// Step 2 of the graceful shutdown: GOAWAY(NO_ERROR) with the real last stream id. Streams
    /// up to it are still served; HEADERS for later ones are ignored (still decoded, so HPACK
    /// stays in sync). Once they are done, `want_close`.
    pub fn finish_shutdown(&mut self) {
        if self.failed.is_none() && !matches!(self.shutdown, Shutdown::Final(_)) {
            let last = self.accepted_last;
            frame::encode_goaway(&mut self.out, last, ErrorCode::NoError, b"");
            self.shutdown = Shutdown::Final(last);
        }
    }

    /// Ends the connection now: NO_ERROR is `finish_shutdown` (abrupt but still graceful for
    /// streams in flight); any other code writes GOAWAY(code) and stops processing, as a
    /// connection error does (e.g. SETTINGS_TIMEOUT from the caller's timer).
    pub fn go_away(&mut self, code: ErrorCode) {
        if code == ErrorCode::NoError {
            self.finish_shutdown();
        } else if self.failed.is_none() {
            self.fail(code);
        }
    }

    /// Whether the connection has nothing left to do: it failed, or it (or the client) is
    /// going away and no stream is open. Flush `output()`, then close.
    pub fn want_close(&self) -> bool {
        self.failed.is_some()
            || ((matches!(self.shutdown, Shutdown::Final(_)) || self.peer_goaway) && self.streams.is_empty())
    }

    /// The connection error sent, if any.
    pub fn error(&self) -> Option<ErrorCode> {
        self.failed
    }

    /// Whether the client acknowledged our SETTINGS (a caller's timer may `go_away`
    /// SETTINGS_TIMEOUT when it does not, §6.5.3).
    pub fn settings_acked(&self) -> bool {
        self.settings_acked
    }

    /// The abuse counters.
    pub fn abuse(&self) -> Abuse {
        self.abuse
    }

    /// How many streams are open (known to the caller and not finished on both sides).
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// The highest stream id we accepted: the last-stream-id our GOAWAY carries.
    pub fn last_stream(&self) -> StreamId {
        self.accepted_last
    }

    // ---- receiving ------------------------------------------------------------------------

    /// One preface or frame: the bytes it took, 0 when incomplete.
    fn step(&mut self, input: &[u8], events: &mut Vec<Event>) -> Result<usize, ErrorCode> {
        if input.is_empty() {
            return Ok(0);
        }
        if self.phase == Phase::Preface {
            // A wrong byte fails at once (an HTTP/1.1 client, say); a right prefix waits.
            let n = input.len().min(PREFACE.len());
            if input.get(..n) != PREFACE.get(..n) {
                return Err(ErrorCode::ProtocolError);
            }
            if n < PREFACE.len() {
                return Ok(0);
            }
            self.phase = Phase::FirstSettings;
            return Ok(PREFACE.len());
        }
        let Some(h) = FrameHeader::parse(input) else { return Ok(0) };
        // We advertise no SETTINGS_MAX_FRAME_SIZE, so the default holds (§4.2).
        if h.length > DEFAULT_MAX_FRAME_SIZE {
            return Err(ErrorCode::FrameSizeError);
        }
        let Some(end) = usize::try_from(h.length).ok().and_then(|n| n.checked_add(HEADER_LEN)) else {
            return Err(ErrorCode::FrameSizeError);
        };
        // §3.4: the client's first frame is SETTINGS; §6.10: a field block is contiguous. Both
        // are known from the header: no need to wait for the payload to refuse.
        let first = self.phase == Phase::FirstSettings;
        if first && (h.kind != FrameType::Settings || h.has(frame::flags::ACK)) {
            return Err(ErrorCode::ProtocolError);
        }
        let continuing = self.block.as_ref().map(|b| b.stream);
        let is_continuation = h.kind == FrameType::Continuation;
        if continuing.is_some() != is_continuation || continuing.is_some_and(|id| id != h.stream_id) {
            return Err(ErrorCode::ProtocolError);
        }
        let Some(payload) = input.get(HEADER_LEN..end) else { return Ok(0) };
        if first {
            self.phase = Phase::Open;
        }
        match frame::decode_payload(&h, payload) {
            Ok(f) => self.on_frame(f, events)?,
            Err(Error::Connection(code)) => return Err(code),
            Err(Error::Stream(id, code)) => {
                // A PRIORITY of the wrong size or on itself, a WINDOW_UPDATE of 0.
                if h.kind == FrameType::WindowUpdate && self.peer.is_idle(id) {
                    return Err(ErrorCode::ProtocolError); // §6.9: WINDOW_UPDATE on idle
                }
                self.stream_error(id, code, events)?;
            }
        }
        Ok(end)
    }

    fn on_frame(&mut self, f: Frame<'_>, events: &mut Vec<Event>) -> Result<(), ErrorCode> {
        match f {
            Frame::Data { stream_id, end_stream, data, flow_len } => {
                self.on_data(stream_id, end_stream, data.len(), flow_len, events)
            }
            Frame::Headers { stream_id, end_stream, end_headers, block, .. } => {
                if block.is_empty() && !end_headers {
                    self.empty()?;
                }
                if end_headers && block.len() <= self.limits.max_header_block {
                    return self.on_block(stream_id, end_stream, block, events); // the common case: no copy
                }
                self.block = Some(Block { stream: stream_id, end_stream, fragments: Vec::new() });
                self.gather(block, end_headers, events)
            }
            Frame::Continuation { end_headers, block, .. } => {
                if block.is_empty() && !end_headers {
                    self.empty()?;
                }
                self.gather(block, end_headers, events)
            }
            Frame::Priority { .. } => self.control(), // deprecated (§5.3.2): parsed, ignored
            Frame::RstStream { stream_id, code } => {
                self.control()?;
                self.on_rst(stream_id, code, events)
            }
            Frame::Settings(settings) => {
                self.control()?;
                self.apply_settings(settings, events)?;
                self.queue_reply()?;
                frame::encode_settings_ack(&mut self.out);
                Ok(())
            }
            Frame::SettingsAck => {
                self.settings_acked = true;
                self.control()
            }
            Frame::PushPromise { .. } => Err(ErrorCode::ProtocolError), // §8.4: clients never push
            Frame::Ping { ack: false, data } => {
                self.control()?;
                self.queue_reply()?;
                frame::encode_ping_ack(&mut self.out, data);
                Ok(())
            }
            Frame::Ping { ack: true, data } => {
                self.control()?;
                if data == SHUTDOWN_PING && self.shutdown == Shutdown::Pinged {
                    self.finish_shutdown();
                }
                Ok(())
            }
            Frame::GoAway { last_stream_id, code, .. } => {
                self.control()?;
                self.peer_goaway = true;
                events.push(Event::GoAway { last_stream: last_stream_id, code });
                Ok(())
            }
            Frame::WindowUpdate { stream_id, increment } => self.on_window_update(stream_id, increment, events),
            Frame::PriorityUpdate { stream_id, field } => {
                self.control()?;
                self.on_priority_update(stream_id, Priority::parse(field), events);
                Ok(())
            }
            Frame::Unknown { .. } => self.control(), // §4.1: ignored
        }
    }

    /// Appends a fragment to the block being gathered; decodes it when complete.
    fn gather(&mut self, fragment: &[u8], end_headers: bool, events: &mut Vec<Event>) -> Result<(), ErrorCode> {
        let Some(block) = self.block.as_mut() else { return Err(ErrorCode::ProtocolError) };
        if block.fragments.len().saturating_add(fragment.len()) > self.limits.max_header_block {
            return Err(ErrorCode::EnhanceYourCalm);
        }
        block.fragments.extend_from_slice(fragment);
        match self.block.take() {
            Some(block) if end_headers => self.on_block(block.stream, block.end_stream, &block.fragments, events),
            other => {
                self.block = other;
                Ok(())
            }
        }
    }

    /// A complete field block: decoded first, whatever becomes of the stream, so the HPACK
    /// table stays in sync with the client's encoder.
    fn on_block(
        &mut self,
        id: StreamId,
        end_stream: bool,
        block: &[u8],
        events: &mut Vec<Event>,
    ) -> Result<(), ErrorCode> {
        let decoded = match self.decoder.decode_list(block) {
            Err(e) if !e.is_recoverable() => return Err(ErrorCode::CompressionError),
            other => other,
        };
        if self.streams.contains_key(&id) {
            return self.on_trailers(id, end_stream, decoded, events);
        }
        if !self.peer.is_idle(id) {
            return match self.closed_state(id) {
                Some(true) => self.control(), // a stream we reset: frames in flight are ignored (§5.1)
                Some(false) => Err(ErrorCode::StreamClosed), // §5.1: reopening a closed stream
                None => Err(ErrorCode::ProtocolError), // §5.1.1: an id lower than the last
            };
        }
        // Even ids are a connection PROTOCOL_ERROR (§5.1.1).
        self.peer.open(id).map_err(Error::code)?;
        if matches!(self.shutdown, Shutdown::Final(_)) || self.peer_goaway {
            // §6.8: after GOAWAY new streams are ignored; decoding them is work for nothing.
            self.remember_closed(id, true);
            return self.control();
        }
        self.accepted_last = id;
        self.abuse.streams_opened = self.abuse.streams_opened.saturating_add(1);
        self.abuse.window_streams = self.abuse.window_streams.saturating_add(1);
        if self.abuse.window_streams > self.limits.reset_window {
            self.abuse.window_streams = 1;
            self.abuse.window_resets = 0;
        }
        let concurrent = u32::try_from(self.streams.len()).unwrap_or(u32::MAX);
        let parsed = match decoded {
            _ if concurrent >= self.limits.max_concurrent_streams => Err(ErrorCode::RefusedStream),
            Err(_) => Ok(None), // the list is too large: 431
            Ok(list) => match request::parse_request(list) {
                // §8.1.1: a content-length with no content to come is malformed.
                Ok(r) if end_stream && r.content_length.is_some_and(|n| n != 0) => Err(ErrorCode::ProtocolError),
                Ok(r) => Ok(Some(r)),
                Err(m) => Err(m.code()),
            },
        };
        let request = match parsed {
            Ok(request) => request,
            Err(code) => {
                self.count_stream_error()?;
                return self.write_rst(id, code);
            }
        };
        let state = State::Idle.on(id, stream::Event::RecvHeaders { end_stream }).map_err(Error::code)?;
        let content_length = request.as_ref().and_then(|r| r.content_length);
        self.streams.insert(
            id,
            Stream {
                state,
                send: Window::new(self.peer_initial_window),
                recv: Window::new(INITIAL_WINDOW_SIZE),
                content_length,
                received: 0,
            },
        );
        events.push(match request {
            Some(request) => Event::Request { stream: id, request, end_stream },
            None => Event::RequestTooLarge { stream: id, end_stream },
        });
        if let Some(at) = self.pending_priorities.iter().position(|&(pending, _)| pending == id) {
            let (_, priority) = self.pending_priorities.remove(at).unwrap_or((id, Priority::default()));
            events.push(Event::PriorityChanged { stream: id, priority });
        }
        Ok(())
    }

    /// A second HEADERS on an open stream: trailers, which must end the stream (§8.1).
    fn on_trailers(
        &mut self,
        id: StreamId,
        end_stream: bool,
        decoded: Result<HeaderList, decoder::DecodeError>,
        events: &mut Vec<Event>,
    ) -> Result<(), ErrorCode> {
        let Some(s) = self.streams.get(&id) else { return Ok(()) };
        let next = match s.state.on(id, stream::Event::RecvHeaders { end_stream }) {
            Ok(next) => next,
            Err(e) => return self.stream_error(id, split(e)?, events),
        };
        let valid = decoded.is_ok_and(|list| request::check_trailers(&list).is_ok());
        let length_ok = s.content_length.is_none_or(|n| n == s.received);
        if !valid || !length_ok {
            return self.stream_error(id, ErrorCode::ProtocolError, events);
        }
        self.set_state(id, next);
        Ok(())
    }

    fn on_data(
        &mut self,
        id: StreamId,
        end_stream: bool,
        len: usize,
        flow_len: u32,
        events: &mut Vec<Event>,
    ) -> Result<(), ErrorCode> {
        if len == 0 && !end_stream {
            self.empty()?;
        }
        // §6.9: DATA counts against the connection window whatever becomes of its stream.
        self.recv_window.consume(flow_len).map_err(|e| e.code())?;
        self.replenish(0)?;
        let Some(s) = self.streams.get_mut(&id) else {
            if self.peer.is_idle(id) {
                return Err(ErrorCode::ProtocolError); // §5.1: DATA on an idle stream
            }
            if self.is_ignored(id) {
                return self.control(); // in flight when we reset it: work for nothing
            }
            return self.stream_error(id, ErrorCode::StreamClosed, events); // §6.1
        };
        if let Err(e) = s.recv.consume(flow_len) {
            return self.stream_error(id, e.code(), events);
        }
        let next = match s.state.on(id, stream::Event::RecvData { end_stream }) {
            Ok(next) => next,
            Err(e) => return self.stream_error(id, split(e)?, events),
        };
        s.received = s.received.saturating_add(u64::try_from(len).unwrap_or(u64::MAX));
        // §8.1.1: content-length must match the DATA received.
        if s.content_length.is_some_and(|n| s.received > n || (end_stream && s.received != n)) {
            return self.stream_error(id, ErrorCode::ProtocolError, events);
        }
        self.set_state(id, next);
        if !end_stream {
            self.replenish(id)?;
        }
        Ok(())
    }

    /// Gives the client back the window its (dropped) DATA used, once half of it is used, so
    /// a client is never stuck and small frames do not each cost a WINDOW_UPDATE.
    fn replenish(&mut self, id: StreamId) -> Result<(), ErrorCode> {
        let window = if id == 0 { Some(&mut self.recv_window) } else { self.streams.get_mut(&id).map(|s| &mut s.recv) };
        let Some(window) = window else { return Ok(()) };
        let used = INITIAL_WINDOW_SIZE.saturating_sub(window.available());
        if used < INITIAL_WINDOW_SIZE / 2 {
            return Ok(());
        }
        // Only what was used is granted, so the window never passes INITIAL_WINDOW_SIZE.
        window.grant(used).map_err(|e| e.code())?;
        self.queue_reply()?;
        frame::encode_window_update(&mut self.out, id, used);
        Ok(())
    }

    fn on_rst(&mut self, id: StreamId, code: ErrorCode, events: &mut Vec<Event>) -> Result<(), ErrorCode> {
        match self.streams.remove(&id) {
            Some(s) => {
                self.remember_closed(id, false);
                events.push(Event::Reset { stream: id, code, remote: true });
                if s.unfinished() {
                    self.abuse.rapid_resets = self.abuse.rapid_resets.saturating_add(1);
                    self.count_reset()?;
                }
                Ok(())
            }
            None if self.peer.is_idle(id) => Err(ErrorCode::ProtocolError), // §6.4
            None => Ok(()),                                                 // closed: ignored
        }
    }

    fn on_window_update(&mut self, id: StreamId, increment: u32, events: &mut Vec<Event>) -> Result<(), ErrorCode> {
        let opened = Event::WindowOpened { stream: id };
        if id == 0 {
            self.send_window.grant(increment).map_err(|e| e.code())?;
        } else if let Some(s) = self.streams.get_mut(&id) {
            if let Err(e) = s.send.grant(increment) {
                return self.stream_error(id, e.code(), events);
            }
            if !s.unfinished() {
                return Ok(());
            }
        } else if self.peer.is_idle(id) {
            return Err(ErrorCode::ProtocolError); // §6.9
        } else {
            return self.control(); // closed: ignored, but it is work for nothing
        }
        // One event per run of updates is enough: the caller re-reads `send_window`.
        if events.last() != Some(&opened) {
            events.push(opened);
        }
        Ok(())
    }

    /// RFC 9218 §7.1: an open stream's new priority goes to the caller; one for a stream the
    /// client has yet to open is kept for it; closed streams' and even ids' (we never push)
    /// are dropped.
    fn on_priority_update(&mut self, id: StreamId, priority: Priority, events: &mut Vec<Event>) {
        if self.streams.contains_key(&id) {
            events.push(Event::PriorityChanged { stream: id, priority });
        } else if id % 2 == 1 && self.peer.is_idle(id) {
            self.pending_priorities.retain(|&(pending, _)| pending != id);
            if self.pending_priorities.len() >= PENDING_PRIORITIES {
                self.pending_priorities.pop_front();
            }
            self.pending_priorities.push_back((id, priority));
        }
    }

    fn apply_settings(&mut self, s: Settings, events: &mut Vec<Event>) -> Result<(), ErrorCode> {
        if let Some(size) = s.initial_window_size {
            let old = self.peer_initial_window;
            for stream in self.streams.values_mut() {
                stream.send.apply_initial_change(old, size).map_err(|e| e.code())?; // §6.9.2
            }
            self.peer_initial_window = size;
            if size > old && !self.streams.is_empty() {
                events.push(Event::WindowOpened { stream: 0 });
            }
        }
        if let Some(size) = s.max_frame_size {
            self.peer_max_frame_size = size;
        }
        // HEADER_TABLE_SIZE: our encoder says the size it uses in its next block.
        if let Some(size) = s.header_table_size {
            self.encoder.set_limit(size as usize);
        }
        // ENABLE_PUSH and
        // MAX_CONCURRENT_STREAMS: we never push. MAX_HEADER_LIST_SIZE: advisory, and our
        // response fields are few.
        Ok(())
    }

    // ---- stream errors and budgets --------------------------------------------------------

    /// A stream error for the client's fault: RST_STREAM, the stream forgotten, the caller
    /// told. Counted towards `RAPID_RESET_BUDGET` if we had not finished the stream, else as
    /// a control frame: a client must not get RST_STREAMs out of us for free (CVE-2019-9514).
    fn stream_error(&mut self, id: StreamId, code: ErrorCode, events: &mut Vec<Event>) -> Result<(), ErrorCode> {
        let unfinished = match self.streams.remove(&id) {
            Some(s) => {
                events.push(Event::Reset { stream: id, code, remote: false });
                s.unfinished()
            }
            None => false,
        };
        if unfinished {
            self.count_stream_error()?
        } else {
            self.control()?
        }
        self.write_rst(id, code)
    }

    fn write_rst(&mut self, id: StreamId, code: ErrorCode) -> Result<(), ErrorCode> {
        self.queue_reply()?;
        frame::encode_rst_stream(&mut self.out, id, code);
        self.remember_closed(id, true);
        Ok(())
    }

    fn count_stream_error(&mut self) -> Result<(), ErrorCode> {
        self.abuse.stream_errors = self.abuse.stream_errors.saturating_add(1);
        self.count_reset()
    }

    /// `RAPID_RESET_BUDGET`: more than the budget in the current window.
    fn count_reset(&mut self) -> Result<(), ErrorCode> {
        self.abuse.window_resets = self.abuse.window_resets.saturating_add(1);
        if self.abuse.window_resets > self.limits.rapid_reset_budget {
            return Err(ErrorCode::EnhanceYourCalm);
        }
        Ok(())
    }

    /// `CONTROL_FRAME_BUDGET` plus `CONTROL_FRAMES_PER_STREAM` per stream opened.
    fn control(&mut self) -> Result<(), ErrorCode> {
        self.abuse.control_frames = self.abuse.control_frames.saturating_add(1);
        let earned = self.limits.control_frames_per_stream.saturating_mul(self.abuse.streams_opened);
        if self.abuse.control_frames > self.limits.control_frame_budget.saturating_add(earned) {
            return Err(ErrorCode::EnhanceYourCalm);
        }
        Ok(())
    }

    /// `CONTROL_BACKLOG_LIMIT`: called before each reply frame we queue.
    fn queue_reply(&mut self) -> Result<(), ErrorCode> {
        if self.out.is_empty() {
            self.abuse.control_backlog = 0;
        }
        self.abuse.control_backlog = self.abuse.control_backlog.saturating_add(1);
        if self.abuse.control_backlog > self.limits.control_backlog_limit {
            return Err(ErrorCode::EnhanceYourCalm);
        }
        Ok(())
    }

    /// `EMPTY_FRAME_BUDGET`.
    fn empty(&mut self) -> Result<(), ErrorCode> {
        self.abuse.empty_frames = self.abuse.empty_frames.saturating_add(1);
        if self.abuse.empty_frames > self.limits.empty_frame_budget {
            return Err(ErrorCode::EnhanceYourCalm);
        }
        Ok(())
    }

    // ---- shared ---------------------------------------------------------------------------

    fn remember_closed(&mut self, id: StreamId, ignore: bool) {
        if self.closed.len() >= CLOSED_MEMORY {
            self.closed.pop_front();
        }
        self.closed.push_back((id, ignore));
    }

    /// For a closed stream `id`: `Some(true)` if its frames are to be ignored (we reset it, or
    /// it came after our final GOAWAY), `Some(false)` if it closed otherwise, `None` if it is
    /// not remembered.
    fn closed_state(&self, id: StreamId) -> Option<bool> {
        if matches!(self.shutdown, Shutdown::Final(last) if id > last) {
            return Some(true);
        }
        self.closed.iter().rev().find(|(closed, _)| *closed == id).map(|&(_, ignore)| ignore)
    }

    fn is_ignored(&self, id: StreamId) -> bool {
        self.closed_state(id) == Some(true)
    }

    /// Moves `stream` to `state`, forgetting it once closed.
    fn set_state(&mut self, stream: StreamId, state: State) {
        if state == State::Closed {
            self.streams.remove(&stream);
            self.remember_closed(stream, false);
        } else if let Some(s) = self.streams.get_mut(&stream) {
            s.state = state;
        }
    }

    /// A connection error: GOAWAY with the last stream we may have processed, then nothing.
    fn fail(&mut self, code: ErrorCode) {
        frame::encode_goaway(&mut self.out, self.accepted_last, code, b"");
        self.failed = Some(code);
        self.block = None;
    }
}

mod open;
#[cfg(test)]
mod tests;
