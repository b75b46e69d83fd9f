//! The access log (Combined Log Format or JSON). Lines are appended to a buffer as responses
//! are planned and written out at most once per loop turn (one `write` for many requests);
//! a log that cannot be written is reported once and then dropped, never per request.
//!
//! Nothing here waits: a regular file is appended to by a thread of its own (`appender`); a
//! pipe, FIFO, terminal or socket is written without waiting (`sink`). A reader that stops
//! reading (a stalled log shipper) or a disk that stops answering must not freeze the
//! server, so what is not taken stays buffered, up to `MAX_PENDING`, and a line that does
//! not fit is dropped whole and counted. `format` renders lines; `lines` holds each
//! connection's lines until their responses have left; `MidLine` is the one lock between
//! workers, taken only when a worker has bytes to write.
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How access-log lines are written: `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Combined Log Format, as Apache and nginx write it.
    #[default]
    Combined,
    /// One JSON object per line (for log pipelines), with microsecond times and durations.
    Json,
}

mod appender;
mod format;
mod lines;
mod sink;

pub use format::clf_time;
use format::{begin_json, escape_into};
pub(crate) use lines::ResponseLog;
use sink::{Sink, open_regular, writable};

/// The most a non-blocking log holds for a reader that is behind; a line that does not fit
/// is dropped (whole) rather than grow memory or wait.
pub const MAX_PENDING: usize = 1 << 20;

/// At exit, how long a non-blocking log may wait for its reader to take the rest.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// Which worker's log last stopped inside a line on the shared destination: the others do
/// not write until it has finished that line, so workers never cut each other's lines.
pub type MidLine = Arc<Mutex<Option<usize>>>;

/// Buffered Combined Log Format writer.
#[derive(Debug)]
pub struct AccessLog {
    format: LogFormat,
    sink: Sink,
    /// The file `reopen` opens again; None for standard output.
    path: Option<PathBuf>,
    /// The file opened by `reopen`, taken into use once the line being written is whole.
    next: Option<Sink>,
    /// Which worker this log belongs to, for `writer`.
    worker: usize,
    writer: MidLine,
    buf: Vec<u8>,
    /// The last write ended inside a line: its rest must follow, on the same sink.
    mid_line: bool,
    /// `[10/Oct/2000:13:55:36 +0000]`, re-rendered when the second changes.
    stamp: String,
    stamp_second: u64,
    /// Set after the first failed write: the error was reported, stop trying.
    broken: bool,
    /// Lines dropped because a reader was behind and the buffer full.
    dropped: u64,
    /// Lines are being dropped: from the first drop until the buffer has drained.
    dropping: bool,
    /// A drop episode began and has not been announced yet.
    drop_notice: bool,
}

/// A line waiting for what is known only once its response has left: the body bytes
/// sent (and, in JSON, the duration). What comes before them, and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    head: Vec<u8>,
    tail: Vec<u8>,
    /// When the request's first byte arrived.
    started: Instant,
}

/// One response, as the log sees it.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub peer: Option<SocketAddr>,
    /// The request line (`GET / HTTP/1.1`), or None when the request did not parse.
    pub method: Option<&'a str>,
    pub target: &'a str,
    /// `HTTP/1.0`, `HTTP/1.1` or `HTTP/2.0`.
    pub protocol: &'static str,
    pub status: u16,
    pub referer: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
    /// When the request's first byte arrived (the start of its duration).
    pub started: Instant,
}

impl AccessLog {
    /// `-` is standard output; anything else a file opened for appending. The workers
    /// of one server share `writer` (see `MidLine`).
    pub fn open(path: &Path, format: LogFormat, worker: usize, writer: MidLine) -> io::Result<AccessLog> {
        let (sink, path) = if path == Path::new("-") {
            (Sink::stdout()?, None)
        } else {
            (Sink::open(path)?, Some(path.to_path_buf()))
        };
        Ok(AccessLog { format, ..AccessLog::with_sink(sink, path, worker, writer) })
    }

    fn with_sink(sink: Sink, path: Option<PathBuf>, worker: usize, writer: MidLine) -> AccessLog {
        AccessLog {
            format: LogFormat::Combined,
            sink,
            path,
            next: None,
            worker,
            writer,
            buf: Vec::with_capacity(64 * 1024),
            mid_line: false,
            stamp: String::new(),
            stamp_second: u64::MAX,
            broken: false,
            dropped: 0,
            dropping: false,
            drop_notice: false,
        }
    }

    /// Renders the line for `r` except the byte count, which is known only once the
    /// response has been sent (or abandoned): `%b` is what really left, as in nginx.
    pub fn begin(&mut self, r: &Record, now: SystemTime) -> Pending {
        match self.format {
            LogFormat::Combined => self.begin_combined(r, now),
            LogFormat::Json => begin_json(r, now),
        }
    }

    fn begin_combined(&mut self, r: &Record, now: SystemTime) -> Pending {
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.stamp_second {
            self.stamp_second = second;
            self.stamp = clf_time(second);
        }
        let mut head = Vec::with_capacity(128);
        match r.peer {
            Some(p) => head.extend_from_slice(p.ip().to_canonical().to_string().as_bytes()),
            None => head.push(b'-'),
        }
        head.extend_from_slice(b" - - ");
        head.extend_from_slice(self.stamp.as_bytes());
        head.extend_from_slice(b" \"");
        if let Some(method) = r.method {
            escape_into(&mut head, method.as_bytes());
            head.push(b' ');
            escape_into(&mut head, r.target.as_bytes());
            head.push(b' ');
            head.extend_from_slice(r.protocol.as_bytes());
        } else {
            head.push(b'-');
        }
        head.extend_from_slice(format!("\" {} ", r.status).as_bytes());
        let mut tail = Vec::with_capacity(64);
        for field in [r.referer, r.user_agent] {
            tail.extend_from_slice(b" \"");
            match field {
                Some(v) => escape_into(&mut tail, v),
                None => tail.push(b'-'),
            }
            tail.push(b'"');
        }
        tail.push(b'\n');
        Pending { head, tail, started: r.started }
    }

    /// Buffers the finished line with the body bytes actually sent (`now`: when the
    /// response's last byte left, for the JSON duration); on a non-blocking sink whose
    /// buffer is full, drops it whole and counts it.
    pub fn finish(&mut self, line: Pending, body_bytes: u64, now: Instant) {
        if self.broken {
            return;
        }
        let middle = match self.format {
            LogFormat::Combined if body_bytes == 0 => "-".to_string(),
            LogFormat::Combined => body_bytes.to_string(),
            LogFormat::Json => {
                let micros = now.saturating_duration_since(line.started).as_micros();
                format!("\"bytes\":{body_bytes},\"duration_us\":{micros}")
            }
        };
        let len = line.head.len() + middle.len() + line.tail.len();
        if !self.sink.blocks() && self.buf.len() + len > MAX_PENDING {
            self.dropped += 1;
            self.drop_notice |= !self.dropping;
            self.dropping = true;
            return;
        }
        self.buf.extend_from_slice(&line.head);
        self.buf.extend_from_slice(middle.as_bytes());
        self.buf.extend_from_slice(&line.tail);
    }

    /// Writes what is buffered; called once per loop turn and at shutdown. A blocking
    /// sink takes everything; a non-blocking one what its reader has room for, the rest
    /// waits for the next call, in order. Returns the error the first time writing fails
    /// (the caller reports it once).
    pub fn flush(&mut self) -> Option<io::Error> {
        // Most turns have nothing to write: then the workers' shared lock is not touched.
        if self.broken || (self.buf.is_empty() && self.next.is_none()) {
            return None;
        }
        let writer = self.writer.clone();
        let mut mid_line_owner = writer.lock().unwrap_or_else(|e| e.into_inner());
        if mid_line_owner.is_some_and(|w| w != self.worker) {
            return None; // another worker is finishing a line: next turn
        }
        let result = self.write_out();
        *mid_line_owner = self.mid_line.then_some(self.worker);
        if self.buf.is_empty() {
            self.dropping = false;
        }
        result.err()
    }

    /// The body of `flush`, once this log may write.
    fn write_out(&mut self) -> io::Result<()> {
        loop {
            if !self.mid_line
                && let Some(next) = self.next.take()
            {
                self.sink = next;
            }
            if self.buf.is_empty() {
                return Ok(());
            }
            // With a reopened file waiting, the old one gets only the rest of its line.
            let end = match (&self.next, self.mid_line) {
                (Some(_), true) => self.buf.iter().position(|&b| b == b'\n').map_or(self.buf.len(), |i| i + 1),
                _ => self.buf.len(),
            };
            match self.sink.write(&self.buf[..end]) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    self.mid_line = self.buf[n - 1] != b'\n';
                    self.buf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.broken = true;
                    self.mid_line = false;
                    self.buf = Vec::new();
                    return Err(e);
                }
            }
        }
    }

    /// Opens the file again at its path (logrotate moved the old one away); the next
    /// `flush` writes to it, after finishing on the old file a line it had begun, so
    /// each file holds whole lines. A failed open keeps the old file. A log whose writes
    /// had failed is revived. Standard output has nothing to reopen.
    pub fn reopen(&mut self) -> io::Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        if let Sink::File(appender) = &mut self.sink {
            // The open may wait on the disk: the log's own thread does it, in order.
            appender.reopen(path.clone(), open_regular)?;
        } else {
            self.next = Some(Sink::open(path)?);
        }
        self.broken = false;
        Ok(())
    }

    /// Why a reopen done off the loop failed, once it is known (the old file is still
    /// written).
    pub fn take_reopen_error(&mut self) -> Option<io::Error> {
        match &mut self.sink {
            Sink::File(appender) => appender.take_reopen_error(),
            _ => None,
        }
    }

    /// The file `reopen` reopens, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Bytes are waiting for a reader that was behind (the loop retries soon).
    pub fn is_behind(&self) -> bool {
        let reopening = matches!(&self.sink, Sink::File(a) if a.is_reopening());
        !self.broken && (!self.buf.is_empty() || reopening)
    }

    /// Lines dropped so far because the reader was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// True once per drop episode, for the one stderr line that announces it.
    pub fn take_drop_notice(&mut self) -> bool {
        std::mem::take(&mut self.drop_notice)
    }

    /// The final flush: a reader that is behind gets up to `EXIT_GRACE` to take the
    /// rest; lines still left then are counted as dropped.
    pub fn close(&mut self) -> Option<io::Error> {
        let deadline = Instant::now() + EXIT_GRACE;
        loop {
            if let Some(e) = self.flush() {
                return Some(e);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if !self.is_behind() || left.is_zero() {
                break;
            }
            match &self.sink {
                Sink::File(_) => std::thread::sleep(left.min(Duration::from_millis(5))),
                sink => {
                    writable(sink.fd(), left.min(Duration::from_millis(50)));
                }
            }
        }
        if let Sink::File(appender) = &mut self.sink {
            let left = appender.finish(deadline.saturating_duration_since(Instant::now()));
            if left > 0 {
                self.dropped += 1; // At least one line did not reach the disk in time.
            }
        }
        self.dropped += self.buf.iter().filter(|&&b| b == b'\n').count() as u64;
        self.buf.clear();
        if self.mid_line {
            *self.writer.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::format::{json_string, rfc3339_micros};
    use super::*;
    use rustix::fs::OFlags;
    use std::fs::File;

    #[test]
    fn times() {
        assert_eq!(clf_time(0), "[01/Jan/1970:00:00:00 +0000]");
        assert_eq!(clf_time(971_185_736), "[10/Oct/2000:13:48:56 +0000]");
        assert_eq!(clf_time(951_782_400), "[29/Feb/2000:00:00:00 +0000]");
        assert_eq!(clf_time(4_102_444_799), "[31/Dec/2099:23:59:59 +0000]");
    }

    /// A pipe whose write end is non-blocking, as `Sink::stdout` makes one.
    fn pipe_log() -> (AccessLog, std::io::PipeReader) {
        let (reader, writer) = std::io::pipe().unwrap();
        let fd = std::os::fd::OwnedFd::from(writer);
        rustix::fs::fcntl_setfl(&fd, rustix::fs::fcntl_getfl(&fd).unwrap() | OFlags::NONBLOCK).unwrap();
        rustix::fs::fcntl_setfl(&reader, rustix::fs::fcntl_getfl(&reader).unwrap() | OFlags::NONBLOCK).unwrap();
        (AccessLog::with_sink(Sink::NonBlocking(File::from(fd)), None, 0, MidLine::default()), reader)
    }

    /// Line `n`, padded to about `len` bytes.
    fn line(n: usize, len: usize) -> Pending {
        let head = format!("line {n:06} {} ", "x".repeat(len.saturating_sub(20))).into_bytes();
        Pending { head, tail: b"\n".to_vec(), started: Instant::now() }
    }

    /// Everything the pipe holds now.
    fn drain(reader: &mut std::io::PipeReader) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            match io::Read::read(reader, &mut buf) {
                Ok(0) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return out,
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// Responses interleaved on one connection (HTTP/2 streams) each log when their own
    /// last byte has left, with their own body bytes; HTTP/1's in-order accounting and a
    /// cut-short response agree.
    #[test]
    fn each_response_logs_when_its_own_bytes_have_left() {
        let (mut log, mut reader) = pipe_log();
        let record = |target| Record {
            peer: None,
            method: Some("GET"),
            target,
            protocol: "HTTP/1.1",
            status: 200,
            referer: None,
            user_agent: None,
            started: Instant::now(),
        };
        let mut lines = ResponseLog::default();
        lines.queued(Some(&mut log), 1, Some(&record("/one")), 100, 90);
        lines.queued(Some(&mut log), 3, Some(&record("/three")), 50, 40);
        lines.sent(Some(&mut log), 3, 50);
        lines.sent(Some(&mut log), 1, 60);
        assert!(log.flush().is_none());
        let text = String::from_utf8(drain(&mut reader)).unwrap();
        assert!(text.contains("GET /three HTTP/1.1\" 200 40 ") && !text.contains("/one"), "{text}");
        lines.sent(Some(&mut log), 1, 40);
        lines.queued(Some(&mut log), 0, None, 25, 0); // An interim 100: no line.
        lines.queued(Some(&mut log), 0, Some(&record("/in-order")), 30, 20);
        lines.sent_in_order(Some(&mut log), 35);
        lines.abandon(Some(&mut log));
        assert!(log.flush().is_none());
        let text = String::from_utf8(drain(&mut reader)).unwrap();
        assert!(text.contains("GET /one HTTP/1.1\" 200 90 "), "{text}");
        assert!(text.contains("GET /in-order HTTP/1.1\" 200 - "), "its 10 head bytes left, none of its body: {text}");
        assert_eq!(text.lines().count(), 2);
    }

    #[test]
    fn a_stalled_pipe_keeps_order_and_drops_whole_lines_once_full() {
        const LINES: usize = 2000;
        let (mut log, mut reader) = pipe_log();
        for n in 0..LINES {
            log.finish(line(n, 1000), 7, Instant::now());
            if n % 10 == 0 {
                assert!(log.flush().is_none());
            }
        }
        assert!(log.flush().is_none());
        assert!(log.is_behind() && log.dropped() > 0, "{} dropped", log.dropped());
        assert!(log.buf.len() <= MAX_PENDING);
        assert!(log.take_drop_notice());
        assert!(!log.take_drop_notice(), "one notice per episode");
        // The reader catches up: the episode ends, everything kept arrives in order.
        let mut out = Vec::new();
        while log.is_behind() {
            out.extend(drain(&mut reader));
            assert!(log.flush().is_none());
        }
        out.extend(drain(&mut reader));
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with('\n'));
        let numbers: Vec<usize> = text.lines().map(|l| l[5..11].parse().unwrap()).collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "reordered or repeated");
        assert!(text.lines().all(|l| l.len() == text.lines().next().unwrap().len()), "a cut line");
        assert_eq!(numbers.len() as u64 + log.dropped(), LINES as u64);
        // A new episode is announced again.
        assert!(!log.dropping);
    }

    #[test]
    fn a_reopened_file_gets_whole_lines_only() {
        let (mut log, mut reader) = pipe_log();
        // One line larger than the pipe: the first write takes only part of it.
        log.finish(line(1, 100_000), 1, Instant::now());
        assert!(log.flush().is_none());
        assert!(log.mid_line && log.is_behind());
        let dir = std::env::temp_dir().join(format!("evserve-log-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("new.log");
        log.path = Some(path.clone());
        log.reopen().unwrap();
        log.finish(line(2, 100), 1, Instant::now());
        let mut out = Vec::new();
        while log.is_behind() {
            out.extend(drain(&mut reader));
            assert!(log.flush().is_none());
        }
        out.extend(drain(&mut reader));
        assert!(log.close().is_none()); // The new file's own thread has written it all.
        let old = String::from_utf8(out).unwrap();
        let new = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(old.lines().count(), 1, "the begun line ends in the old file");
        assert!(old.starts_with("line 000001 ") && old.ends_with('\n'));
        assert!(new.starts_with("line 000002 ") && new.ends_with('\n') && new.lines().count() == 1, "{new:?}");
    }

    #[test]
    fn workers_on_one_pipe_never_cut_each_others_lines() {
        let (mut a, mut reader) = pipe_log();
        let Sink::NonBlocking(f) = &a.sink else { unreachable!() };
        let sink = Sink::NonBlocking(f.try_clone().unwrap());
        let mut b = AccessLog::with_sink(sink, None, 1, a.writer.clone());
        a.finish(line(1, 100_000), 1, Instant::now());
        assert!(a.flush().is_none());
        assert!(a.mid_line);
        b.finish(line(2, 100), 1, Instant::now());
        let mut out = Vec::new();
        while a.is_behind() || b.is_behind() {
            out.extend(drain(&mut reader));
            assert!(b.flush().is_none());
            assert!(a.flush().is_none());
        }
        out.extend(drain(&mut reader));
        let text = String::from_utf8(out).unwrap();
        let starts: Vec<&str> = text.lines().map(|l| &l[..11]).collect();
        assert_eq!(starts, ["line 000001", "line 000002"], "interleaved");
    }

    #[test]
    fn hostile_fields_are_escaped() {
        let mut out = Vec::new();
        escape_into(&mut out, b"a\"b\\c\n\xff");
        assert_eq!(out, b"a\\x22b\\x5Cc\\x0A\\xFF");
    }

    #[test]
    fn response_lines_are_written_once_their_bytes_left_and_cut_short_ones_count_what_left() {
        let (mut log, mut reader) = pipe_log();
        let record = Record {
            peer: None,
            method: Some("GET"),
            target: "/a",
            protocol: "HTTP/1.1",
            status: 200,
            referer: None,
            user_agent: None,
            started: Instant::now(),
        };
        let mut lines = ResponseLog::default();
        // An interim 100 (no line), then two responses of 50-byte heads and 100-byte bodies.
        lines.queued(Some(&mut log), 0, None, 25, 0);
        lines.queued(Some(&mut log), 0, Some(&record), 150, 100);
        lines.queued(Some(&mut log), 0, Some(&record), 150, 100);
        lines.sent_in_order(Some(&mut log), 174);
        assert!(log.flush().is_none());
        assert!(drain(&mut reader).is_empty(), "the first response lacks its last byte");
        lines.sent_in_order(Some(&mut log), 1 + 60);
        assert!(log.flush().is_none());
        let first = String::from_utf8(drain(&mut reader)).unwrap();
        assert!(first.contains("\" 200 100 "), "{first}");
        // Cut short 60 bytes into the second: 10 of its body left.
        lines.abandon(Some(&mut log));
        assert!(log.flush().is_none());
        let second = String::from_utf8(drain(&mut reader)).unwrap();
        assert!(second.contains("\" 200 10 "), "{second}");
    }

    #[test]
    fn rfc3339_times_have_microseconds() {
        assert_eq!(rfc3339_micros(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339_micros(951_782_400, 7), "2000-02-29T00:00:00.000007Z");
        assert_eq!(rfc3339_micros(4_102_444_799, 999_999), "2099-12-31T23:59:59.999999Z");
    }

    #[test]
    fn json_strings_are_valid_json_and_keep_every_byte() {
        let mut out = Vec::new();
        json_string(&mut out, b"a\"b\\c\n\xff\xc3\xa9\x7f\xc2\x85");
        // Valid UTF-8 (the e-acute) stays; every other byte and the backslash become \xHH.
        assert_eq!(String::from_utf8(out).unwrap(), "\"a\\\"b\\\\x5Cc\\\\x0A\\\\xFF\u{e9}\\\\x7F\\\\xC2\\\\x85\"");
    }

    #[test]
    fn a_json_line_carries_the_bytes_and_the_duration() {
        let started = Instant::now();
        let record = Record {
            peer: Some("192.0.2.7:4000".parse().unwrap()),
            method: Some("GET"),
            target: "/a?b",
            protocol: "HTTP/1.0",
            status: 206,
            referer: None,
            user_agent: Some(b"curl/8"),
            started,
        };
        let line = begin_json(&record, UNIX_EPOCH + Duration::new(971_185_736, 5_000));
        let mut log = AccessLog::with_sink(Sink::Stdout, None, 0, MidLine::default());
        log.format = LogFormat::Json;
        log.finish(line, 12, started + Duration::from_micros(345));
        assert_eq!(
            String::from_utf8(std::mem::take(&mut log.buf)).unwrap(),
            "{\"time\":\"2000-10-10T13:48:56.000005Z\",\"client\":\"192.0.2.7\",\"method\":\"GET\",\
             \"target\":\"/a?b\",\"protocol\":\"HTTP/1.0\",\"status\":206,\"bytes\":12,\"duration_us\":345,\
             \"referer\":null,\"user_agent\":\"curl/8\"}\n"
        );
    }
}
