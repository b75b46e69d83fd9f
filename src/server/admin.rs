//! The admin listener (`--admin ADDR`): `/metrics` in the Prometheus text format 0.0.4,
//! `/healthz` and `/readyz`, plain HTTP/1.1, GET and HEAD only.
//!
//! It runs on a thread of its own (`evserve-admin`), never on a loop: a probe must tell the
//! truth when a loop is stuck (in a read of a hung disk with `--io-threads 0`, say), and a
//! loop that is stuck cannot answer for itself. The thread only reads what the loops
//! publish on the `Board`, so a scrape never waits for a loop and a loop never waits for a
//! scrape:
//!
//! - each loop owns one `Slot`: at the end of every turn it copies its plain counters
//!   (`Counters`, `Metrics`, its turn-time histogram) into the slot's `Mutex<Snapshot>`
//!   (uncontended but for a scrape's copy of the same few hundred bytes); the request path
//!   itself only adds to fields of the loop's `Context`;
//! - `busy_since` says when the loop's current turn began (0: waiting in `poll`), so
//!   `/healthz` fails when any turn has run longer than `STALL_AFTER`, while an idle loop
//!   costs no wakeups;
//! - the pools' counters are read through `pool::Watch`, the pool's own lock.
//!
//! One request per connection (`Connection: close`), each connection on a short-lived thread
//! of its own with short timeouts, at most `MAX_CLIENTS` at once (more are closed unanswered),
//! so a client that connects and says nothing cannot hold up a probe: the listener is for
//! probes and a scraper on a trusted address, not for the public.
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Handle;
use crate::conn::{Counters, Metrics};
use crate::pool;
use crate::util::histogram::Histogram;

/// A loop turn running longer than this makes `/healthz` answer 503. Every turn is bounded
/// by design (quantum, handshake cap, jobs off the loop), so a turn this long means the
/// loop is blocked (a hung disk under `--io-threads 0`, a bug).
pub const STALL_AFTER: Duration = Duration::from_secs(5);

/// A client of the admin listener gets this long to send its request and take the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// The largest request head read.
const MAX_REQUEST: usize = 8 * 1024;

/// Admin connections answered at once; past this, a new one is closed unanswered.
const MAX_CLIENTS: usize = 16;

/// What one loop has published, as of the end of its last turn.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Snapshot {
    pub counters: Counters,
    pub metrics: Metrics,
    pub turns: Histogram,
    pub open: u64,
    pub log_dropped: u64,
}

/// One loop's place on the board.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    snapshot: Mutex<Snapshot>,
    /// Milliseconds since the board's epoch, plus one, at which the loop's current turn
    /// began; 0 while it waits for events (or has ended).
    busy_since: AtomicU64,
}

/// What the loops publish and the admin thread reads.
pub(crate) struct Board {
    epoch: Instant,
    slots: Vec<Slot>,
    pools: Vec<pool::Watch>,
}

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Board").field("slots", &self.slots).finish_non_exhaustive()
    }
}

impl Board {
    pub fn new(workers: usize, pools: Vec<pool::Watch>) -> Board {
        Board { epoch: Instant::now(), slots: (0..workers).map(|_| Slot::default()).collect(), pools }
    }

    fn millis(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX - 1)
    }

    /// Loop `id` starts a turn that began at `now`.
    pub fn turn_began(&self, id: usize, now: Instant) {
        self.slots[id].busy_since.store(self.millis(now) + 1, Ordering::Relaxed);
    }

    /// Loop `id` is about to wait for events (or has ended).
    pub fn waiting(&self, id: usize) {
        self.slots[id].busy_since.store(0, Ordering::Relaxed);
    }

    /// Loop `id`'s counters as of the end of this turn.
    pub fn publish(&self, id: usize, snapshot: Snapshot) {
        *self.slots[id].snapshot.lock().unwrap_or_else(PoisonError::into_inner) = snapshot;
    }

    /// The loops whose current turn has run past `STALL_AFTER`, with how long.
    fn stalled(&self, now: Instant) -> Vec<(usize, Duration)> {
        let now = self.millis(now) + 1;
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(id, s)| match s.busy_since.load(Ordering::Relaxed) {
                0 => None,
                since => Some((id, Duration::from_millis(now.saturating_sub(since)))),
            })
            .filter(|(_, d)| *d > STALL_AFTER)
            .collect()
    }

    fn snapshots(&self) -> Vec<Snapshot> {
        self.slots.iter().map(|s| *s.snapshot.lock().unwrap_or_else(PoisonError::into_inner)).collect()
    }
}

/// The admin listener, bound, and what it answers from.
pub(crate) struct Admin {
    listener: TcpListener,
    answers: Arc<Answers>,
}

/// What the answers are made from.
struct Answers {
    board: Arc<Board>,
    handle: Handle,
}

/// The running admin thread; dropping it (however `Server::run` returns) ends it.
pub(crate) struct Running {
    listener: TcpListener,
    stopping: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Admin {
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        TcpListener::bind(addr)
    }

    pub fn new(listener: TcpListener, board: Arc<Board>, handle: Handle) -> Admin {
        Admin { listener, answers: Arc::new(Answers { board, handle }) }
    }

    /// Starts answering on a thread of its own.
    pub fn start(self) -> io::Result<Running> {
        let listener = self.listener.try_clone()?;
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = stopping.clone();
        let thread = std::thread::Builder::new().name("evserve-admin".into()).spawn(move || {
            let clients = Arc::new(AtomicUsize::new(0));
            while !stop.load(Ordering::SeqCst) {
                match self.listener.accept() {
                    Ok((stream, _)) if clients.load(Ordering::SeqCst) < MAX_CLIENTS => {
                        clients.fetch_add(1, Ordering::SeqCst);
                        let (answers, mine) = (self.answers.clone(), clients.clone());
                        let spawned = std::thread::Builder::new().name("evserve-admin-c".into()).spawn(move || {
                            // A client that went away or was too slow: nothing to say.
                            let _ = answers.answer(stream);
                            mine.fetch_sub(1, Ordering::SeqCst);
                        });
                        if spawned.is_err() {
                            clients.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                    Ok(_) => {} // Too many at once: closed unanswered.
                    Err(_) if stop.load(Ordering::SeqCst) => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // Out of descriptors or memory: try again soon rather than spin.
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        })?;
        Ok(Running { listener, stopping, thread: Some(thread) })
    }
}

impl Answers {
    fn answer(&self, mut stream: TcpStream) -> io::Result<()> {
        stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
        stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
        let mut buf = vec![0; MAX_REQUEST];
        let mut len = 0;
        let response = loop {
            let n = stream.read(&mut buf[len..])?;
            len += n;
            let mut fields = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut fields);
            match req.parse(&buf[..len]) {
                Ok(httparse::Status::Complete(_)) => {
                    let (method, path) = (req.method.unwrap_or(""), req.path.unwrap_or(""));
                    break self.respond(method, path);
                }
                Ok(httparse::Status::Partial) if n > 0 && len < buf.len() => {}
                _ => break Response::text(400, "bad request\n"),
            }
        };
        stream.write_all(&response.bytes)
    }

    fn respond(&self, method: &str, path: &str) -> Response {
        let head = method == "HEAD";
        let mut r = match (method, path.split('?').next().unwrap_or("")) {
            ("GET" | "HEAD", "/metrics") => Response {
                bytes: render_metrics(&self.board.snapshots(), &self.pools(), self.ready()).into_bytes(),
                status: 200,
                content_type: "text/plain; version=0.0.4; charset=utf-8",
                allow: false,
            },
            ("GET" | "HEAD", "/healthz") => match self.board.stalled(Instant::now()).as_slice() {
                [] => Response::text(200, "ok\n"),
                stalled => {
                    let mut body = String::new();
                    for (id, d) in stalled {
                        let _ = writeln!(body, "worker {id}: one loop turn running for {:.1} s", d.as_secs_f64());
                    }
                    Response::text(503, &body)
                }
            },
            ("GET" | "HEAD", "/readyz") if self.ready() => Response::text(200, "ready\n"),
            ("GET" | "HEAD", "/readyz") => Response::text(503, "stopping\n"),
            ("GET" | "HEAD", _) => Response::text(404, "not found: /metrics, /healthz, /readyz\n"),
            _ => Response { allow: true, ..Response::text(405, "GET or HEAD only\n") },
        };
        r.finish(head);
        r
    }

    /// Serving, and no stop signal (or `Handle::shutdown`) yet.
    fn ready(&self) -> bool {
        !self.handle.stop.load(Ordering::SeqCst) && self.handle.shared.stop_signals.load(Ordering::SeqCst) == 0
    }

    fn pools(&self) -> Vec<pool::Stats> {
        self.board.pools.iter().map(|watch| watch()).collect()
    }
}

impl Drop for Running {
    /// Ends the thread: `shutdown` on a listening socket wakes a blocked `accept` (Linux).
    /// Connections being answered finish on their own threads, within their timeouts.
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = rustix::net::shutdown(&self.listener, rustix::net::Shutdown::Read);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An answer: the body first, turned into head and body by `finish`.
struct Response {
    bytes: Vec<u8>,
    status: u16,
    content_type: &'static str,
    allow: bool,
}

impl Response {
    fn text(status: u16, body: &str) -> Response {
        Response { bytes: body.as_bytes().to_vec(), status, content_type: "text/plain; charset=utf-8", allow: false }
    }

    /// Puts the head in front of the body (and drops the body for HEAD).
    fn finish(&mut self, head_only: bool) {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            _ => "Service Unavailable",
        };
        let mut head = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n",
            self.status,
            self.content_type,
            self.bytes.len()
        );
        if self.allow {
            head.push_str("Allow: GET, HEAD\r\n");
        }
        head.push_str("\r\n");
        let body = std::mem::take(&mut self.bytes);
        self.bytes = head.into_bytes();
        if !head_only {
            self.bytes.extend_from_slice(&body);
        }
    }
}

const PROTOCOLS: [&str; 2] = ["http1", "http2"];
const METHODS: [&str; 3] = ["GET", "HEAD", "OTHER"];
const CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

/// The Prometheus text format (0.0.4) of the loops' snapshots, summed, and the pools'.
pub(crate) fn render_metrics(loops: &[Snapshot], pools: &[pool::Stats], ready: bool) -> String {
    let mut sum = Snapshot::default();
    for s in loops {
        let (a, b) = (&mut sum.counters, &s.counters);
        a.accepted += b.accepted;
        a.requests += b.requests;
        a.bytes_sent += b.bytes_sent;
        a.timeouts += b.timeouts;
        a.reaped += b.reaped;
        a.handshakes += b.handshakes;
        a.handshake_failures += b.handshake_failures;
        a.h2_calmed += b.h2_calmed;
        a.h2_errors += b.h2_errors;
        a.h2_stalled += b.h2_stalled;
        sum.metrics.add(&s.metrics);
        sum.turns.add(&s.turns);
        sum.open += s.open;
        sum.log_dropped += s.log_dropped;
    }
    let mut out = String::with_capacity(8 * 1024);
    let o = &mut out;
    family(
        o,
        "evserve_http_requests_total",
        "counter",
        "Responses sent, by protocol, method (OTHER: any other, or none parsed) and status class.",
    );
    for (p, protocol) in PROTOCOLS.iter().enumerate() {
        for (m, method) in METHODS.iter().enumerate() {
            for (c, code) in CLASSES.iter().enumerate() {
                let n = sum.metrics.responses[p][m][c];
                let _ = writeln!(
                    o,
                    "evserve_http_requests_total{{protocol=\"{protocol}\",method=\"{method}\",code=\"{code}\"}} {n}"
                );
            }
        }
    }
    histogram(
        o,
        "evserve_http_request_duration_seconds",
        "From a request's first bytes to its response being ready to send, on the loop's clock (read once per turn).",
        &sum.metrics.duration,
    );
    let c = sum.counters;
    let plain: [(&str, &str, &str, u64); 11] = [
        (
            "evserve_sent_bytes_total",
            "counter",
            "Bytes written to clients (heads, bodies, TLS records, HTTP/2 frames).",
            c.bytes_sent,
        ),
        ("evserve_connections_open", "gauge", "Connections open now.", sum.open),
        ("evserve_connections_accepted_total", "counter", "Connections accepted.", c.accepted),
        (
            "evserve_connections_reaped_total",
            "counter",
            "Idle keep-alive connections closed to make room for new clients.",
            c.reaped,
        ),
        ("evserve_timeouts_total", "counter", "Connections closed by a timeout.", c.timeouts),
        ("evserve_tls_handshakes_total", "counter", "TLS handshakes completed.", c.handshakes),
        (
            "evserve_tls_handshake_failures_total",
            "counter",
            "Connections closed or timed out before their TLS handshake completed.",
            c.handshake_failures,
        ),
        (
            "evserve_http2_calmed_total",
            "counter",
            "HTTP/2 connections ended with GOAWAY ENHANCE_YOUR_CALM (Rapid Reset, a flood of frames).",
            c.h2_calmed,
        ),
        (
            "evserve_http2_connection_errors_total",
            "counter",
            "HTTP/2 connections ended with GOAWAY for any other protocol error.",
            c.h2_errors,
        ),
        (
            "evserve_http2_streams_stalled_total",
            "counter",
            "HTTP/2 streams reset (CANCEL) after their own window stayed closed for the write timeout.",
            c.h2_stalled,
        ),
        (
            "evserve_access_log_lines_dropped_total",
            "counter",
            "Access-log lines dropped because the log's reader was behind.",
            sum.log_dropped,
        ),
    ];
    for (name, kind, help, value) in plain {
        family(o, name, kind, help);
        let _ = writeln!(o, "{name} {value}");
    }
    let (mut queued, mut running, mut stuck, mut done) = (0, 0, 0, 0);
    for p in pools {
        queued += p.queued;
        running += p.running;
        stuck += p.stuck;
        done += p.done;
    }
    let io: [(&str, &str, &str, u64); 4] = [
        ("evserve_io_jobs_queued", "gauge", "Jobs waiting for an I/O thread.", queued as u64),
        ("evserve_io_jobs_running", "gauge", "Jobs running on I/O threads.", running as u64),
        (
            "evserve_io_jobs_stuck",
            "gauge",
            "Running jobs older than the stuck threshold (a disk not answering).",
            stuck as u64,
        ),
        ("evserve_io_jobs_done_total", "counter", "Jobs finished by I/O threads.", done),
    ];
    for (name, kind, help, value) in io {
        family(o, name, kind, help);
        let _ = writeln!(o, "{name} {value}");
    }
    histogram(
        o,
        "evserve_loop_turn_duration_seconds",
        "Time an event loop spent on one turn (all events of one wakeup); a long one stalls every connection of that loop.",
        &sum.turns,
    );
    family(o, "evserve_workers", "gauge", "Event loops.");
    let _ = writeln!(o, "evserve_workers {}", loops.len());
    family(o, "evserve_ready", "gauge", "1 while serving, 0 from the first stop signal.");
    let _ = writeln!(o, "evserve_ready {}", u8::from(ready));
    out
}

fn family(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn histogram(o: &mut String, name: &str, help: &str, h: &Histogram) {
    family(o, name, "histogram", help);
    for (le, n) in h.cumulative() {
        match le {
            Some(le) => {
                let _ = writeln!(o, "{name}_bucket{{le=\"{le}\"}} {n}");
            }
            None => {
                let _ = writeln!(o, "{name}_bucket{{le=\"+Inf\"}} {n}");
            }
        }
    }
    let _ = writeln!(o, "{name}_sum {}", h.sum_micros as f64 / 1e6);
    let _ = writeln!(o, "{name}_count {}", h.count);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::Protocol;

    #[test]
    fn the_loops_are_summed_and_every_series_is_there() {
        let mut a = Snapshot::default();
        a.metrics.response(Protocol::Http1, b"GET", 200, Duration::from_micros(50));
        a.counters.accepted = 2;
        a.open = 1;
        let mut b = a;
        b.metrics.response(Protocol::Http2, b"POST", 405, Duration::from_millis(3));
        b.turns.observe(Duration::from_millis(1));
        let pools = [pool::Stats { done: 4, ..pool::Stats::default() }];
        let text = render_metrics(&[a, b], &pools, true);
        let line = |l: &str| assert!(text.lines().any(|x| x == l), "{l} in\n{text}");
        line("evserve_http_requests_total{protocol=\"http1\",method=\"GET\",code=\"2xx\"} 2");
        line("evserve_http_requests_total{protocol=\"http2\",method=\"OTHER\",code=\"4xx\"} 1");
        line("evserve_http_requests_total{protocol=\"http2\",method=\"HEAD\",code=\"5xx\"} 0");
        line("evserve_http_request_duration_seconds_bucket{le=\"0.0001\"} 2");
        line("evserve_http_request_duration_seconds_bucket{le=\"+Inf\"} 3");
        line("evserve_http_request_duration_seconds_count 3");
        line("evserve_connections_accepted_total 4");
        line("evserve_connections_open 2");
        line("evserve_io_jobs_done_total 4");
        line("evserve_loop_turn_duration_seconds_count 1");
        line("evserve_workers 2");
        line("evserve_ready 1");
        assert_eq!(text.lines().filter(|l| l.starts_with("evserve_http_requests_total{")).count(), 24);
    }

    #[test]
    fn a_turn_running_too_long_is_reported_and_a_waiting_loop_never() {
        let board = Board::new(2, Vec::new());
        let now = Instant::now();
        board.turn_began(0, now);
        board.waiting(1);
        assert!(board.stalled(now + Duration::from_secs(1)).is_empty());
        let stalled = board.stalled(now + STALL_AFTER + Duration::from_secs(1));
        assert_eq!(stalled.iter().map(|s| s.0).collect::<Vec<_>>(), [0]);
        board.waiting(0);
        assert!(board.stalled(now + STALL_AFTER * 10).is_empty());
    }
}
