//! HTTP/2 on a connection: the same reactor, a second protocol. The pure
//! `http2::connection::Connection` takes the connection's input and says what happened
//! (`Event`s); each request is planned by the site exactly as an HTTP/1 request is (a job
//! parks the stream, not the connection), and each plan leaves as HEADERS then DATA. The
//! streams with something to send are served in RFC 9218 order within the windows the client
//! grants: a file's DATA frames leave in runs, in one write with the frames around them, each
//! payload after its 9-byte header: spliced in from the file's mapping on a kernel socket
//! (`util::map`), else read into the output buffer by one `preadv` (a frame of 64 KiB or
//! more, where a client allows one, goes by `sendfile` after its header).
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use super::work::ReadAhead;
use super::{Context, Flush, Mapped, Splice, Ticket, Work};
use crate::fs::read;
use crate::http::plan::{Body, Field, Plan, Segment, Source, block_id};
use crate::http::status::{SERVER, error_plan};
use crate::http::view::{Fields, RequestView, Target};
use crate::http1::request::authority_host;
use crate::http2::connection::{Connection as Frames, Event, Limits};
use crate::http2::frame::{FrameHeader, FrameType};
use crate::http2::hpack::encoder::{BlockField, encode_field_with};
use crate::http2::priority::Priority;
use crate::http2::request::Request;
use crate::http2::{ErrorCode, StreamId, frame, trace};
use crate::log::Record;
use crate::site::{Done, Planned};
use crate::util::map::BodyFile;

/// A connection speaking HTTP/2 (boxed in `Connection`: only these pay for it).
#[derive(Debug)]
pub(crate) struct H2 {
    frames: Frames,
    /// Streams with a response under way or a plan waiting for a job, served in turn.
    streams: VecDeque<Stream>,
    /// The payload of a DATA frame whose header is already in the output buffer: nothing
    /// else may be written before it.
    payload: Option<Payload>,
    /// GOAWAY sent for a drain.
    draining: bool,
    /// A file shrank under a DATA frame already announced: close.
    broken: bool,
}

/// A DATA frame at least this large goes by `sendfile` after its header; smaller ones are
/// copied into the output buffer, so that many leave in one write.
const SENDFILE_FRAME_MIN: u64 = 64 * 1024;

#[derive(Debug)]
struct Stream {
    id: StreamId,
    state: State,
    /// The client may still send on it (a body): reset with NO_ERROR once answered (RFC
    /// 9113 section 8.1), so it does not hold a stream slot.
    client_open: bool,
    /// Since when its own window has kept it from sending while the connection's is open
    /// (`Frames::stream_window_closed`). Other streams' progress keeps the connection's
    /// write-stall timer from firing, so this stream has its own: past `--write-timeout` it
    /// is reset with CANCEL, and its response stops holding memory.
    stalled: Option<Instant>,
    /// RFC 9218: when its DATA goes, among the other streams' (`h2_fill`).
    priority: Priority,
}

#[derive(Debug)]
enum State {
    /// Its plan waits for a job; the outcome, once handed back, is here.
    Waiting { request: Box<Request>, done: Option<Box<Done>> },
    /// HEADERS sent; the body goes out frame by frame.
    Sending(Out),
}

/// A body being sent.
#[derive(Debug)]
enum Out {
    Memory { bytes: Arc<[u8]>, at: usize, end: usize },
    File { file: Arc<BodyFile>, segments: VecDeque<Segment>, ahead: ReadAhead },
}

#[derive(Debug)]
struct Payload {
    file: Arc<BodyFile>,
    offset: u64,
    left: usize,
}

/// What one pass over the streams found to write.
enum Filled {
    /// Frames are in the output buffer (and maybe a payload after them).
    Some,
    /// Nothing can be sent now (windows closed, jobs or reads pending, all done).
    Nothing,
}

impl H2 {
    pub(crate) fn new() -> Box<H2> {
        Box::new(H2 {
            frames: Frames::new(Limits::default()),
            streams: VecDeque::new(),
            payload: None,
            draining: false,
            broken: false,
        })
    }

    /// Takes the loop's spare buffers for a drive where its own are gone: the frame output
    /// (an output buffer of the pool) and the stream queue.
    fn borrow(&mut self, cx: &mut Context) {
        if self.frames.output().capacity() == 0 {
            *self.frames.output() = cx.buffers.take_output();
        }
        if self.streams.capacity() == 0 {
            self.streams = cx.h2_shared.streams.pop().unwrap_or_default();
        }
    }

    /// After a drive, gives back what is empty: an idle HTTP/2 connection keeps no buffer
    /// (its state and HPACK table aside), as an idle HTTP/1 one keeps none, and the next
    /// burst, on this connection or another, finds them grown.
    pub(crate) fn give_back(&mut self, cx: &mut Context) {
        if self.frames.output().is_empty() {
            cx.buffers.give_output(std::mem::take(self.frames.output()));
        }
        if self.streams.is_empty() {
            cx.h2_shared.give_streams(std::mem::take(&mut self.streams));
        }
        self.frames.shed_idle_memory();
    }

    /// Whether it keeps a frame output or a stream queue (an idle connection keeps neither).
    #[cfg(test)]
    pub(super) fn holds_buffers(&mut self) -> bool {
        self.frames.output().capacity() > 0 || self.streams.capacity() > 0
    }

    /// What the connection's timer should run against: a job, a field block that has not
    /// ended (the request timeout, as for an HTTP/1 head: CONTINUATIONs that trickle in must
    /// not restart the idle clock), a stalled send, or idleness.
    pub(crate) fn timeout_kind(&self) -> crate::util::timer::TimeoutKind {
        use crate::util::timer::TimeoutKind;
        if self.streams.iter().any(|s| matches!(s.state, State::Waiting { .. })) {
            TimeoutKind::Job
        } else if self.frames.reading_headers() {
            TimeoutKind::Request
        } else if self.streams.is_empty() && self.payload.is_none() {
            TimeoutKind::Idle
        } else {
            TimeoutKind::WriteStall // Streams wait for the client's windows.
        }
    }

    /// Since when the longest-stalled stream has been held by its own window, if any is.
    pub(crate) fn stalled_since(&self) -> Option<Instant> {
        self.streams.iter().filter_map(|s| s.stalled).min()
    }
}

impl super::Connection {
    /// The HTTP/2 cycle: write, end if done, take frames from the input, answer, read more.
    pub(super) fn run_h2<S: crate::net::transport::Transport>(
        &mut self,
        io: &mut S,
        cx: &mut Context,
    ) -> super::Status {
        use super::Status;
        let mut budget = super::WRITE_QUANTUM;
        self.h2.as_mut().expect("an HTTP/2 connection").borrow(cx);
        loop {
            self.take_frames(cx);
            match self.flush_h2(io, cx, &mut budget) {
                Flush::Done => {}
                Flush::Blocked | Flush::Reading => return Status::Wait,
                Flush::Yield => return Status::Yield,
                Flush::Failed => return Status::Close,
            }
            if budget == 0 {
                return Status::Yield;
            }
            let h2 = self.h2.as_mut().expect("an HTTP/2 connection");
            if cx.draining && !h2.draining {
                // GOAWAY with room for streams in flight, and a PING: its ACK sends the
                // final GOAWAY (RFC 9113 section 6.8); the drain deadline covers a silent client.
                h2.draining = true;
                h2.frames.begin_shutdown();
                continue; // `take_frames` moves them out.
            }
            if h2.frames.want_close() || h2.broken {
                return Status::Close;
            }
            // What was received is answered before anything is written: its HEADERS and the
            // DATA after them leave in one write (over TLS, one record).
            let received = self.h2_receive(cx);
            if self.h2_fill_batch(cx, io.gathers()) || received {
                continue;
            }
            if self.ready.eof {
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
                    return Status::Close;
                }
            }
        }
    }

    /// Moves the frames the HTTP/2 layer wrote (SETTINGS, ACKs, HEADERS, RST_STREAM, GOAWAY)
    /// into the output buffer, unless a DATA payload must come first.
    fn take_frames(&mut self, cx: &mut Context) {
        let h2 = self.h2.as_mut().expect("an HTTP/2 connection");
        if h2.payload.is_none() {
            move_frames(&mut h2.frames, &mut self.output, cx);
        }
    }

    /// Takes the whole frames the input holds; true if it did anything.
    fn h2_receive(&mut self, cx: &mut Context) -> bool {
        let h2 = self.h2.as_mut().expect("an HTTP/2 connection");
        if self.input.is_empty() {
            return false;
        }
        let mut events = std::mem::take(&mut cx.h2_shared.events);
        let used = match h2.frames.receive(self.input.bytes(), &mut events) {
            Ok(n) => {
                trace_frames(cx, "recv", &self.input.bytes()[..n]);
                n
            }
            Err(code) => {
                trace_frames(cx, "recv", self.input.bytes());
                cx.trace(|| format!("HTTP/2 connection error {code:?}: GOAWAY, then close"));
                match code {
                    ErrorCode::EnhanceYourCalm => cx.counters.h2_calmed += 1,
                    _ => cx.counters.h2_errors += 1,
                }
                self.input.clear();
                // The requests before the error go unanswered (the connection ends), and the
                // list is shared: left in it, the next connection of this loop would answer
                // them as its own.
                events.clear();
                cx.h2_shared.events = events;
                return true; // The GOAWAY goes out, then `want_close`.
            }
        };
        self.input.start += used;
        let progressed = used > 0;
        for event in events.drain(..) {
            self.h2_event(event, cx);
        }
        cx.h2_shared.events = events;
        progressed
    }

    fn h2_event(&mut self, event: Event, cx: &mut Context) {
        match event {
            Event::Request { stream, request, end_stream } => {
                cx.trace(|| {
                    let (m, p) = (String::from_utf8_lossy(request.method()), String::from_utf8_lossy(request.path()));
                    format!("stream {stream}: {m} {p}")
                });
                self.requests += 1;
                cx.counters.requests += 1;
                let started = cx.now;
                let priority = Priority::parse(request.field(b"priority").unwrap_or_default());
                self.h2_plan(stream, request, None, !end_stream, started, cx);
                self.h2_prioritize(stream, priority);
            }
            Event::RequestTooLarge { stream, end_stream } => {
                cx.trace(|| format!("stream {stream}: header list too large: 431"));
                self.requests += 1;
                cx.counters.requests += 1;
                let plan = error_plan(431, None, false);
                cx.metrics.response(super::Protocol::Http2, b"", 431, std::time::Duration::ZERO);
                self.h2_start(stream, plan, !end_stream, None, cx);
            }
            Event::Reset { stream, code, remote } => {
                cx.trace(|| format!("stream {stream}: reset {code:?}{}", if remote { " by the client" } else { "" }));
                let h2 = self.h2.as_mut().expect("an HTTP/2 connection");
                h2.streams.retain(|s| s.id != stream);
                self.log.sent(cx.log.as_mut(), stream, u64::MAX);
            }
            Event::PriorityChanged { stream, priority } => {
                cx.trace(|| format!("stream {stream}: priority {priority:?}"));
                self.h2_prioritize(stream, priority);
            }
            Event::WindowOpened { .. } | Event::GoAway { .. } => {}
        }
    }

    /// Sets the RFC 9218 priority of `stream`, if it is still queued (a response that left
    /// whole at once needs none).
    fn h2_prioritize(&mut self, stream: StreamId, priority: Priority) {
        let h2 = self.h2.as_mut().expect("an HTTP/2 connection");
        if let Some(s) = h2.streams.iter_mut().find(|s| s.id == stream) {
            s.priority = priority;
        }
    }

    /// Plans `request` on `stream` (or resumes it with a job's outcome); a plan that must
    /// wait parks the stream, not the connection.
    fn h2_plan(
        &mut self,
        stream: StreamId,
        request: Request,
        done: Option<Box<Done>>,
        client_open: bool,
        started: Instant,
        cx: &mut Context,
    ) {
        let plan = match view_of(&request) {
            Err(()) => Planned::Ready(Plan { close: false, ..error_plan(400, None, request.method() == b"HEAD") }),
            Ok(view) => match done {
                Some(done) => cx.site.resume(&view, *done, cx.now),
                None => cx.site.plan(&view, cx.now),
            },
        };
        match plan {
            Planned::Ready(plan) => {
                if let Some(note) = cx.site.take_note() {
                    cx.trace(|| format!("stream {stream}: encoding: {note}"));
                }
                let took = cx.now.saturating_duration_since(started);
                cx.metrics.response(super::Protocol::Http2, request.method(), plan.status, took);
                let record = self.client_record(&request, plan.status, started, cx);
                self.h2_start(stream, plan, client_open, Some(record), cx);
            }
            Planned::Pending(job) => {
                cx.trace(|| format!("stream {stream}: job: {}", job.describe()));
                let h2 = self.h2.as_mut().expect("an HTTP/2 connection");
                if !cx.jobs.deferred {
                    let done = Some(Box::new(job.run_here()));
                    return self.h2_plan(stream, request, done, client_open, started, cx);
                }
                cx.jobs.queued.push((Ticket { stream, ..cx.ticket }, Work::Plan(job)));
                h2.streams.push_back(Stream {
                    id: stream,
                    state: State::Waiting { request: Box::new(request), done: None },
                    client_open,
                    stalled: None,
                    priority: Priority::default(),
                });
            }
        }
    }

    /// The access-log record of an HTTP/2 request, built and begun now (it borrows the
    /// request, which the stream does not keep).
    fn client_record(&self, request: &Request, status: u16, started: Instant, cx: &mut Context) -> Option<LogStart> {
        cx.log.as_ref()?;
        Some(LogStart {
            method: String::from_utf8_lossy(request.method()).into_owned(),
            target: String::from_utf8_lossy(request.path()).into_owned(),
            referer: request.field(b"referer").map(<[u8]>::to_vec),
            user_agent: request.field(b"user-agent").map(<[u8]>::to_vec),
            status,
            started,
            peer: self.peer,
        })
    }

    /// Sends `plan`'s HEADERS on `stream` and queues its body.
    fn h2_start(
        &mut self,
        stream: StreamId,
        plan: Plan,
        client_open: bool,
        record: Option<Option<LogStart>>,
        cx: &mut Context,
    ) {
        let h2 = self.h2.as_mut().expect("an HTTP/2 connection");
        let status = plan.status;
        let (head_id, head) = cx.h2_shared.head.get(cx.date.get());
        let out = match plan.body {
            Body::Empty => None,
            Body::Made(bytes) => Some(Out::Memory { end: bytes.len(), bytes, at: 0 }),
            Body::Range { source: Source::Memory(bytes), offset, len } => {
                Some(Out::Memory { bytes, at: offset as usize, end: (offset + len) as usize })
            }
            Body::Range { source: Source::File(file), offset, len } => Some(Out::File {
                file,
                segments: VecDeque::from([Segment::Range { offset, len }]),
                ahead: ReadAhead::default(),
            }),
            Body::Parts { source: Source::Memory(bytes), segments } => {
                let mut all = Vec::new();
                for s in segments {
                    match s {
                        Segment::Bytes(b) => all.extend_from_slice(&b),
                        Segment::Range { offset, len } => {
                            all.extend_from_slice(&bytes[offset as usize..(offset + len) as usize])
                        }
                    }
                }
                Some(Out::Memory { end: all.len(), bytes: all.into(), at: 0 })
            }
            Body::Parts { source: Source::File(file), segments } => {
                Some(Out::File { file, segments, ahead: ReadAhead::default() })
            }
        };
        let body_len = out.as_ref().map_or(0, Out::len);
        let before = h2.frames.output().len();
        let sent = h2.frames.send_headers_with(stream, status, out.is_none(), |block, encoder| {
            encoder.block(block, head_id, &head);
            for f in &plan.fields {
                encode_field_with(block, f.name().as_bytes(), |value| f.value(value));
            }
            // A cached file's fields and the site's own: indexed once the client has them.
            for b in plan.block.iter().chain(&plan.site_fields) {
                encoder.block(block, b.id(), b.fields());
            }
        });
        if sent.is_err() {
            return; // The stream is gone (reset meanwhile).
        }
        let head = (h2.frames.output().len() - before) as u64;
        cx.trace(|| format!("stream {stream}: response {status}, body {body_len} bytes"));
        if let Some(Some(start)) = record {
            let r = start.record();
            self.log.queued(cx.log.as_mut(), stream, Some(&r), head + body_len, body_len);
            self.log.sent(cx.log.as_mut(), stream, head);
        }
        let h2 = self.h2.as_mut().expect("an HTTP/2 connection");
        match out {
            Some(out) => h2.streams.push_back(Stream {
                id: stream,
                state: State::Sending(out),
                client_open,
                stalled: None,
                priority: Priority::default(),
            }),
            None if client_open => h2.frames.reset(stream, ErrorCode::NoError),
            None => {}
        }
    }

    /// A stream's stall deadline passed (`H2::stalled_since`): each stream held by its own
    /// window for `--write-timeout` is reset with CANCEL, counted and logged as cut short; the
    /// connection and its other streams go on.
    pub(super) fn h2_reset_stalled(&mut self, cx: &mut Context) {
        let h2 = self.h2.as_mut().expect("an HTTP/2 connection");
        let limit = cx.timeouts.write_stall;
        let mut reset = Vec::new();
        h2.streams.retain(|s| match s.stalled {
            Some(since) if since + limit <= cx.now => {
                reset.push(s.id);
                false
            }
            _ => true,
        });
        for stream in reset {
            cx.trace(|| format!("stream {stream}: its window stayed closed for {limit:?}: RST_STREAM CANCEL"));
            cx.counters.h2_stalled += 1;
            h2.frames.reset(stream, ErrorCode::Cancel);
            self.log.sent(cx.log.as_mut(), stream, u64::MAX);
        }
    }

    /// The connection's own deadline passed: a GOAWAY if it can go out whole now (nothing
    /// half-written before it), never HTTP/1 bytes.
    pub(super) fn h2_go_away<S: crate::net::transport::Transport>(&mut self, io: &mut S, cx: &mut Context) {
        let h2 = self.h2.as_mut().expect("an HTTP/2 connection");
        if self.output.is_empty() && h2.payload.is_none() {
            h2.frames.go_away(ErrorCode::NoError);
            let mut bytes = std::mem::take(h2.frames.output());
            trace_frames(cx, "send", &bytes);
            if let Err(e) = io.write(&bytes) {
                cx.trace(|| format!("write failed: {e}"));
            }
            bytes.clear();
        }
    }

    /// A job for `stream` is done: its plan goes on at the next drive.
    pub(super) fn h2_job_done(&mut self, stream: StreamId, done: super::Finished) -> Result<(), super::Finished> {
        let Some(s) = self.h2.as_mut().and_then(|h2| h2.streams.iter_mut().find(|s| s.id == stream)) else {
            return Err(done);
        };
        match (done, &mut s.state) {
            (super::Finished::Plan(done), State::Waiting { done: slot @ None, .. }) => {
                *slot = Some(Box::new(done));
                Ok(())
            }
            (super::Finished::Read { offset, .. }, State::Sending(Out::File { ahead, .. })) => {
                ahead.read_done(offset);
                Ok(())
            }
            (done, _) => Err(done),
        }
    }

    /// Turns over the streams while the output buffer has room: one write for many frames
    /// (a payload to `sendfile` must go out first, and stops it). True if it wrote anything.
    /// `gather`: the transport writes a buffer with gaps in one call, so large payloads are
    /// read to sit cache-aligned.
    fn h2_fill_batch(&mut self, cx: &mut Context, gather: bool) -> bool {
        if !matches!(self.h2_fill(cx, gather), Filled::Some) {
            return false;
        }
        while self.output.queued() < super::BATCH_BYTES
            && self.h2.as_ref().is_some_and(|h2| h2.payload.is_none() && !h2.broken)
            && matches!(self.h2_fill(cx, gather), Filled::Some)
        {}
        true
    }

    /// One turn over the streams: resumes plans whose jobs are done, then writes a frame for
    /// the first stream in RFC 9218 order that can send within its window (`Priority::rank`:
    /// more urgent first, then by stream id), and, if it is incremental, one for each other
    /// incremental stream of its urgency that can (`Priority::shares_turn`). A stream that
    /// cannot send is passed over, so it holds back no one; one that finishes passes the turn
    /// on, so many small responses take one pass (until the batch is full).
    fn h2_fill(&mut self, cx: &mut Context, gather: bool) -> Filled {
        let mut wrote = false;
        let h2 = self.h2.as_mut().expect("an HTTP/2 connection");
        // Plans to resume first, whatever their priority: their HEADERS, and their job timers.
        // The sort is stable: incremental streams of one urgency keep their turns' order.
        h2.streams
            .make_contiguous()
            .sort_by_key(|s| (!matches!(s.state, State::Waiting { .. }), s.priority.rank(s.id)));
        let mut first: Option<Priority> = None;
        for _ in 0..h2.streams.len() {
            let h2 = self.h2.as_mut().expect("an HTTP/2 connection");
            if let (Some(first), Some(next)) = (first, h2.streams.front())
                && !first.shares_turn(next.priority)
            {
                break; // The rest wait for the next turn.
            }
            if wrote && self.output.queued() + h2.frames.output().len() >= super::BATCH_BYTES {
                break;
            }
            let Some(mut s) = h2.streams.pop_front() else { break };
            if let State::Waiting { done: Some(_), .. } = &s.state {
                let State::Waiting { request, done } = s.state else { unreachable!() };
                self.h2_plan(s.id, *request, done, s.client_open, cx.now, cx);
                self.h2_prioritize(s.id, s.priority);
                wrote = true;
                continue;
            }
            let State::Sending(out) = &mut s.state else {
                h2.streams.push_back(s);
                continue;
            };
            let window = h2.frames.send_window(s.id);
            if window == 0 {
                s.stalled = match h2.frames.stream_window_closed(s.id) {
                    true => s.stalled.or(Some(cx.now)),
                    false => None,
                };
                h2.streams.push_back(s);
                continue;
            }
            s.stalled = None;
            let before = first;
            first.get_or_insert(s.priority); // It sends now, unless its bytes are being read.
            let finished = match out {
                Out::Memory { bytes, at, end } => {
                    let n = window.min(*end - *at);
                    let last = *at + n == *end;
                    if !put_data(&mut h2.frames, &mut self.output, cx, s.id, &bytes[*at..*at + n], last) {
                        continue; // Gone: dropped.
                    }
                    *at += n;
                    self.log.sent(cx.log.as_mut(), s.id, n as u64);
                    wrote = true;
                    last
                }
                Out::File { file, segments, ahead } => match (segments.len(), segments.front_mut()) {
                    (_, None) => true,
                    (count, Some(Segment::Bytes(b))) => {
                        let n = window.min(b.len());
                        let last = n == b.len() && count == 1;
                        if !put_data(&mut h2.frames, &mut self.output, cx, s.id, &b[..n], last) {
                            continue;
                        }
                        b.drain(..n);
                        if b.is_empty() {
                            segments.pop_front();
                        }
                        self.log.sent(cx.log.as_mut(), s.id, n as u64);
                        wrote = true;
                        last
                    }
                    (count, Some(Segment::Range { offset, len })) => {
                        // A run of frames: as many as the windows, the page cache and the
                        // batch allow, for a stream that has the turn to itself; one for an
                        // incremental stream, which shares it.
                        let end = *offset + *len;
                        let mut frames = [(0, false); read::MAX_PARTS];
                        let (mut count_frames, mut at, mut window, mut gone) = (0, *offset, window, false);
                        let mut batched = self.output.queued() + h2.frames.output().len();
                        loop {
                            let want = (window as u64).min(end - at);
                            let n = if cx.jobs.deferred {
                                let (ticket, queued) = (Ticket { stream: s.id, ..cx.ticket }, &mut cx.jobs.queued);
                                ahead.sendable(file, at, want, end, &mut |w| queued.push((ticket, w)))
                            } else {
                                want
                            };
                            if n == 0 {
                                break; // Its bytes are being read into the page cache.
                            }
                            let last = at + n == end && count == 1;
                            if h2.frames.data_sent(s.id, n as usize, last).is_err() {
                                gone = true;
                                break;
                            }
                            frames[count_frames] = (n as u32, last);
                            (count_frames, at, batched) = (count_frames + 1, at + n, batched + n as usize);
                            window = h2.frames.send_window(s.id);
                            let more = !(last || at == end || s.priority.incremental || n >= SENDFILE_FRAME_MIN);
                            if !more || window == 0 || count_frames == read::MAX_PARTS || batched >= super::BATCH_BYTES
                            {
                                break;
                            }
                        }
                        if count_frames == 0 {
                            if !gone {
                                first = before; // It did not send: it holds no turn.
                                h2.streams.push_back(s);
                            }
                            continue;
                        }
                        let run = &frames[..count_frames];
                        let header = |&(length, last): &(u32, bool)| {
                            let flags = if last { frame::flags::END_STREAM } else { 0 };
                            FrameHeader { length, kind: FrameType::Data, flags, stream_id: s.id }
                        };
                        for f in run {
                            cx.trace(|| format!("send {}", trace::describe(&header(f), &[])));
                        }
                        // The frames before them, then each header and its payload, in order.
                        move_frames(&mut h2.frames, &mut self.output, cx);
                        self.output.ensure_buffer(&mut cx.buffers);
                        let by_sendfile = u64::from(run[0].0) >= SENDFILE_FRAME_MIN;
                        if by_sendfile {
                            header(&run[0]).encode(&mut self.output.buf);
                            h2.payload = Some(Payload { file: file.clone(), offset: *offset, left: run[0].0 as usize });
                        } else if gather && file.mapping().is_some_and(|m| at <= m.len() as u64) {
                            // Frames of the usual 16 KiB leave several in one write. Where the
                            // transport gathers, each payload goes from the file's mapping,
                            // spliced in after its header: the kernel's one copy. The bytes are
                            // in the page cache (`sendable` said so).
                            let mut from = *offset as usize;
                            for f in run {
                                header(f).encode(&mut self.output.buf);
                                let (at, n) = (self.output.buf.len(), f.0 as usize);
                                let mapped = Mapped { file: file.clone(), bytes: from..from + n };
                                self.output.splice(Splice { range: at..at, with: Some(mapped) });
                                from += n;
                            }
                        } else {
                            // Else their payloads are copied after their headers by one preadv
                            // (cache-aligned, with gaps the write skips, where it gathers).
                            let heads = frames.map(|f| header(&f).to_bytes());
                            let mut parts = [(&[][..], 0); read::MAX_PARTS];
                            for ((part, head), &(n, _)) in parts.iter_mut().zip(&heads).zip(run) {
                                *part = (&head[..], n as usize);
                            }
                            match read::read_parts_onto(
                                &mut self.output.buf,
                                file,
                                *offset,
                                &parts[..count_frames],
                                gather,
                            ) {
                                Ok(gaps) => {
                                    for range in gaps.ranges() {
                                        self.output.splice(Splice { range: range.clone(), with: None });
                                    }
                                }
                                Err(_) => {
                                    // The file shrank under a length already sent: the stream
                                    // cannot be completed, nor the connection's framing kept.
                                    h2.broken = true;
                                    return Filled::Some;
                                }
                            }
                        }
                        let sent = at - *offset;
                        (*offset, *len) = (at, *len - sent);
                        if *len == 0 {
                            segments.pop_front();
                        }
                        self.log.sent(cx.log.as_mut(), s.id, sent);
                        if !run[count_frames - 1].1 {
                            h2.streams.push_back(s);
                        } else {
                            first = before; // Done: the turn passes on.
                            if s.client_open {
                                h2.frames.reset(s.id, ErrorCode::NoError);
                            }
                        }
                        if by_sendfile {
                            return Filled::Some; // The payload must leave before anything else.
                        }
                        wrote = true;
                        continue;
                    }
                },
            };
            if finished {
                first = before; // Done: the turn passes on.
                if s.client_open {
                    h2.frames.reset(s.id, ErrorCode::NoError);
                }
            } else {
                h2.streams.push_back(s);
            }
        }
        let h2 = self.h2.as_mut().expect("an HTTP/2 connection");
        wrote |= move_frames(&mut h2.frames, &mut self.output, cx);
        if wrote { Filled::Some } else { Filled::Nothing }
    }

    /// Writes the output buffer, then a DATA payload from the file.
    fn flush_h2<S: crate::net::transport::Transport>(
        &mut self,
        io: &mut S,
        cx: &mut Context,
        budget: &mut usize,
    ) -> Flush {
        if let Some(stop) = self.flush_own(io, cx) {
            return stop;
        }
        loop {
            if let Some(stop) = self.drain_buffer(io, cx, budget) {
                return stop;
            }
            let h2 = self.h2.as_mut().expect("an HTTP/2 connection");
            let Some(p) = &mut h2.payload else {
                return self.flush_own(io, cx).unwrap_or(Flush::Done);
            };
            if p.left == 0 {
                h2.payload = None;
                continue;
            }
            if *budget == 0 {
                return Flush::Yield;
            }
            if !self.ready.writable {
                return Flush::Blocked;
            }
            let (file, offset, left) = (p.file.clone(), p.offset, p.left);
            let wrote = io.send_file(&file, offset, left.min(*budget));
            match self.sent("sendfile", wrote, budget, cx) {
                super::Sent::Bytes(n) => {
                    let p = self.h2.as_mut().and_then(|h2| h2.payload.as_mut()).expect("a payload");
                    p.offset += n as u64;
                    p.left -= n;
                }
                super::Sent::Again => {}
                super::Sent::Blocked => return Flush::Blocked,
                super::Sent::Failed => return Flush::Failed,
            }
        }
    }
}

/// A DATA frame of bytes held in memory, accounted by the HTTP/2 layer but written straight
/// into the output buffer after the frames before it: one copy of the body, not two. False
/// if the stream is gone.
fn put_data(
    frames: &mut Frames,
    output: &mut super::Output,
    cx: &mut Context,
    id: u32,
    bytes: &[u8],
    last: bool,
) -> bool {
    if frames.data_sent(id, bytes.len(), last).is_err() {
        return false;
    }
    let flags = if last { frame::flags::END_STREAM } else { 0 };
    let header = FrameHeader { length: bytes.len() as u32, kind: FrameType::Data, flags, stream_id: id };
    move_frames(frames, output, cx);
    cx.trace(|| format!("send {}", trace::describe(&header, &[])));
    output.ensure_buffer(&mut cx.buffers);
    header.encode(&mut output.buf);
    output.buf.extend_from_slice(bytes);
    true
}

/// Moves the frames the HTTP/2 layer wrote into the connection's output buffer, each traced;
/// true if there were any.
fn move_frames(frames: &mut Frames, output: &mut super::Output, cx: &mut Context) -> bool {
    let out = frames.output();
    if out.is_empty() {
        return false;
    }
    trace_frames(cx, "send", out);
    output.ensure_buffer(&mut cx.buffers);
    output.buf.extend_from_slice(out);
    out.clear();
    true
}

/// `--trace`: a line for each whole frame in `bytes` (`dir`: recv or send); with tracing off
/// the bytes are not even walked.
fn trace_frames(cx: &mut Context, dir: &str, bytes: &[u8]) {
    if cx.trace.is_some() {
        for (h, payload) in trace::frames(bytes) {
            cx.trace(|| format!("{dir} {}", trace::describe(&h, payload)));
        }
    }
}

impl Out {
    fn len(&self) -> u64 {
        match self {
            Out::Memory { at, end, .. } => (end - at) as u64,
            Out::File { segments, .. } => segments.iter().map(Segment::size).sum(),
        }
    }
}

/// What an HTTP/2 stream's access-log line needs, owned (the request is not kept).
#[derive(Debug)]
pub(crate) struct LogStart {
    method: String,
    target: String,
    referer: Option<Vec<u8>>,
    user_agent: Option<Vec<u8>>,
    status: u16,
    started: Instant,
    peer: Option<std::net::SocketAddr>,
}

impl LogStart {
    fn record(&self) -> Record<'_> {
        Record {
            peer: self.peer,
            method: Some(&self.method),
            target: &self.target,
            protocol: "HTTP/2.0",
            status: self.status,
            referer: self.referer.as_deref(),
            user_agent: self.user_agent.as_deref(),
            started: self.started,
        }
    }
}

/// What a loop's HTTP/2 connections share: the fields every response starts with, and the
/// buffers a connection borrows for a drive (`H2::borrow`, `H2::give_back`). The frame
/// output comes from the loop's pool of output buffers.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) head: HeadFields,
    /// What one `receive` found; drained before the next.
    events: Vec<Event>,
    /// Empty stream queues with their room, at most `SPARE_QUEUES` of at most
    /// `SPARE_QUEUE_ROOM` streams.
    streams: Vec<VecDeque<Stream>>,
}

const SPARE_QUEUES: usize = 16;
const SPARE_QUEUE_ROOM: usize = 64;

impl Shared {
    fn give_streams(&mut self, queue: VecDeque<Stream>) {
        let room = queue.capacity();
        if room > 0 && room <= SPARE_QUEUE_ROOM && self.streams.len() < SPARE_QUEUES {
            self.streams.push(queue);
        }
    }
}

/// `date` and `server`, the fields every response starts with: a block whose id changes
/// with the loop's date text, once a second.
#[derive(Debug, Default)]
pub(crate) struct HeadFields {
    date: String,
    id: u64,
}

impl HeadFields {
    /// The block for `date`: its id and its fields.
    fn get<'a>(&'a mut self, date: &'a str) -> (u64, [Pair<'a>; 2]) {
        if self.date != date || self.id == 0 {
            self.date.clear();
            self.date.push_str(date);
            self.id = block_id();
        }
        (self.id, [(b"date", date.as_bytes()), (b"server", SERVER.as_bytes())])
    }
}

/// A field as a name and a value.
type Pair<'a> = (&'a [u8], &'a [u8]);

/// A response field as the HPACK encoder writes it.
impl BlockField for Field {
    fn name(&self) -> &[u8] {
        Field::name(self).as_bytes()
    }

    fn write_value(&self, out: &mut Vec<u8>) {
        self.value(out);
    }
}

/// The request as the site sees it, with the checks HTTP/1's parser makes: a path of
/// visible ASCII (or `*`), a method of visible ASCII, an authority of `host[:port]`.
fn view_of(request: &Request) -> Result<RequestView<'_>, ()> {
    let visible = |b: &[u8]| !b.is_empty() && b.iter().all(|c| c.is_ascii_graphic());
    if !visible(request.method()) || !visible(request.path()) {
        return Err(());
    }
    let method = std::str::from_utf8(request.method()).map_err(|_| ())?;
    let path = std::str::from_utf8(request.path()).map_err(|_| ())?;
    let target = match path {
        "*" => Target::Asterisk,
        p if p.starts_with('/') => Target::Path(p),
        _ => return Err(()),
    };
    // One pass over the fields: the first of each, but the last `forwarded` and
    // `x-forwarded-for` (proxies append).
    let mut fields = Fields::default();
    let mut host_field = None;
    for (name, value) in request.fields() {
        let slot = match name {
            b"accept" => &mut fields.accept,
            b"accept-encoding" => &mut fields.accept_encoding,
            b"if-match" => &mut fields.if_match,
            b"if-modified-since" => &mut fields.if_modified_since,
            b"if-none-match" => &mut fields.if_none_match,
            b"if-range" => &mut fields.if_range,
            b"if-unmodified-since" => &mut fields.if_unmodified_since,
            b"range" => &mut fields.range,
            b"referer" => &mut fields.referer,
            b"user-agent" => &mut fields.user_agent,
            b"host" => &mut host_field,
            b"forwarded" => {
                fields.forwarded = Some(value);
                continue;
            }
            b"x-forwarded-for" => {
                fields.x_forwarded_for = Some(value);
                continue;
            }
            _ => continue,
        };
        slot.get_or_insert(value);
    }
    fields.host = match request.authority().or(host_field) {
        Some(authority) => Some(authority_host(authority).ok_or(())?),
        None => None,
    };
    Ok(RequestView { method, target, fields })
}

/// Whether `input` starts as the HTTP/2 client preface does: Some(true) complete,
/// Some(false) a prefix of it (wait for more), None not it.
pub(crate) fn preface(input: &[u8]) -> Option<bool> {
    let n = input.len().min(frame::PREFACE.len());
    (input[..n] == frame::PREFACE[..n]).then_some(n == frame::PREFACE.len())
}
