//! The reactor: one `mio::Poll` loop per worker that owns the listeners, every connection
//! (in a `Slab`, keyed by its token), the timers and the shutdown. It never looks at a byte
//! of HTTP: it turns readiness into `Connection::drive` calls and `Status` into bookkeeping.
//!
//! Each turn: wait (until the earliest deadline) -> accept until WouldBlock -> drive each
//! ready connection -> drive those that yielded their quantum -> expire deadlines -> flush
//! the access log. Readiness is edge-triggered and every socket is registered once for
//! both directions, so no turn spends a syscall on re-registration.
//!
//! HTTPS (`--tls-cert`/`--tls-key`): each TCP connection accepted becomes `Stream::Tls`
//! with the loop's TLS buffer pool and the config of the last good (re)load; at most
//! `MAX_HANDSHAKES_PER_TURN` drives of handshaking connections run per turn, the rest are
//! queued with the yielded ones. `--redirect-http` adds a plain listener whose connections
//! answer every request with a 308 (`Connection::redirecting_to_https`).
mod admin;

use std::collections::BinaryHeap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

use crate::config::Config;
use crate::conn::{Connection, Context, Counters, Finished, Jobs, Status, Ticket};
use crate::log::{AccessLog, MidLine};
use crate::net::activation::Activated;
use crate::net::tls;
use crate::net::transport::{Accepted, Listener, SocketFile, Stream, listen, listen_unix};
use crate::pool::{self, Pool};
use crate::site::Site;
use crate::util::histogram::Histogram;
use crate::util::timer::{Due, Timers};
pub use admin::STALL_AFTER;

/// The waker's token; listeners count down from just below it. Slab keys count up from
/// 0, so the two ranges never meet.
const WAKER: Token = Token(usize::MAX);

fn listener_token(i: usize) -> Token {
    Token(usize::MAX - 1 - i)
}

/// Listener tokens occupy this many values below the waker's.
/// Listener tokens: every bound or inherited address, plus the `--redirect-http` one.
const MAX_LISTENERS: usize = crate::net::activation::MAX_BINDS + 1;

/// The signal source's token (first loop only), just below the listeners'.
const SIGNALS: Token = Token(usize::MAX - 1 - MAX_LISTENERS);

/// While access-log bytes wait for a reader that was behind, retry this often even
/// without traffic.
const LOG_RETRY: Duration = Duration::from_millis(50);

/// Descriptors kept free for the process itself (standard streams, epoll, waker,
/// listeners, root, log) and for opening files, when sizing the connection cap from
/// `RLIMIT_NOFILE`: this many plus an eighth of the limit.
const FD_RESERVE: u64 = 16;

/// How many descriptors a loop with a pool holds back from `accept` for it (`fd_reserve`).
const POOL_FD_RESERVE: usize = 4;

/// While accepting is paused by EMFILE/ENFILE and no connection closes, try again after this.
const ACCEPT_RETRY: Duration = Duration::from_millis(250);

/// Most idle keep-alive connections closed at once to make room (nginx drains up to 32).
const REAP_BATCH_MAX: usize = 32;

/// Stale timer entries tolerated before a sweep (see `EventLoop::close`).
const STALE_TIMERS_SLACK: usize = 4096;

/// Readiness events taken per wakeup.
const EVENTS_CAPACITY: usize = 1024;

/// Most drives of connections still in their TLS handshake per loop turn. A full
/// handshake costs 80-300 µs of loop time (key exchange and signature), so a burst of a
/// thousand new clients would stall every open connection for a quarter of a second; past
/// the cap they wait for the next turn, queued like connections that used their quantum.
const MAX_HANDSHAKES_PER_TURN: usize = 16;

/// Stops every loop of a server from any thread (a signal handler, a test).
#[derive(Debug, Clone)]
pub struct Handle {
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
    wakers: Vec<Arc<Waker>>,
}

/// What the loops of one server share besides the stop flag.
#[derive(Debug, Default)]
struct Shared {
    /// SIGINT/SIGTERM received so far.
    stop_signals: AtomicUsize,
    /// Bumped by each SIGHUP/SIGUSR1; a loop reopens its log when it sees a new value.
    log_generation: AtomicU64,
    /// The last generation whose failed reopen was reported (one line, not one per loop).
    log_failure_reported: AtomicU64,
    /// Loops other than the first still running: the first (which owns the signal
    /// source) waits for them, so a second stop signal works until the very end.
    others_running: AtomicUsize,
    /// The access log's destination is shared by the loops' logs (see `log::MidLine`).
    log_writer: MidLine,
    /// The certificate and key of the HTTPS listeners, when there are any.
    tls: Option<SharedTls>,
    /// `--shutdown-delay`: serving goes on this long after the first stop signal.
    shutdown_delay: Duration,
}

/// The TLS settings every loop takes its config from: SIGHUP reloads them once, here.
struct SharedTls {
    settings: Mutex<tls::Settings>,
    /// Bumped by each reload that succeeded; a loop takes the new config when it sees it.
    generation: AtomicU64,
}

impl fmt::Debug for SharedTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTls").field("generation", &self.generation).finish_non_exhaustive()
    }
}

impl SharedTls {
    fn settings(&self) -> std::sync::MutexGuard<'_, tls::Settings> {
        self.settings.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Handle {
    /// Graceful stop: no new connections, idle ones closed, in-flight responses finish
    /// until the drain timeout.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    /// Wakes every loop; a loop that cannot be woken still sees the news on its next
    /// event or deadline, so a failure is said, not fatal.
    fn wake_all(&self) {
        for w in &self.wakers {
            wake(w);
        }
    }

    /// A stop signal (SIGINT, SIGTERM) arrived: the first drains, a second exits at once
    /// with 128 + its number, as a shell reports a death by that signal.
    pub fn stop_signal(&self, signal: i32) {
        if self.shared.stop_signals.fetch_add(1, Ordering::SeqCst) == 0 {
            let delay = self.shared.shutdown_delay;
            if delay.is_zero() {
                eprintln!("evserve: stopping (a second signal exits at once)");
                self.shutdown();
                return;
            }
            // /readyz already says 503 (it reads `stop_signals`); the loops serve on
            // until the delay is over, while load balancers stop sending.
            eprintln!(
                "evserve: stopping in {} s (--shutdown-delay; a second signal exits at once)",
                delay.as_secs_f64()
            );
            let handle = self.clone();
            let delayed = std::thread::Builder::new().name("evserve-delay".into()).spawn(move || {
                std::thread::sleep(delay);
                eprintln!("evserve: stopping");
                handle.shutdown();
            });
            if let Err(e) = delayed {
                eprintln!("evserve: cannot wait out --shutdown-delay, stopping now: {e}");
                self.shutdown();
            }
        } else {
            std::process::exit(128 + signal);
        }
    }

    /// Every loop reopens its access log before its next events (SIGHUP, SIGUSR1), and
    /// the certificate and key are read again.
    pub fn reload(&self) {
        self.reload_tls();
        self.shared.log_generation.fetch_add(1, Ordering::SeqCst);
        self.wake_all();
    }

    /// Reads the certificate and key again, on a thread of its own (the files may sit on a
    /// slow disk; the loop that took the signal must not wait, and no lock the loops take at
    /// accept is held while reading): connections accepted once it is done get them, open
    /// ones keep theirs. A failure keeps the old ones and says why, once.
    fn reload_tls(&self) {
        let Some(tls) = &self.shared.tls else { return };
        let plan = tls.settings().reload_plan();
        let shared = self.shared.clone();
        let reload = move || {
            let Some(tls) = &shared.tls else { return };
            match plan.build() {
                Ok(config) => {
                    tls.settings().install(config);
                    tls.generation.fetch_add(1, Ordering::SeqCst);
                    eprintln!("evserve: reloaded the TLS certificate {}", plan.cert.display());
                }
                Err(e) => eprintln!("evserve: cannot reload the TLS certificate, keeping the old one: {e}"),
            }
        };
        if let Err(e) = std::thread::Builder::new().name("evserve-tls-reload".into()).spawn(reload) {
            eprintln!("evserve: cannot reload the TLS certificate, keeping the old one: {e}");
        }
    }
}

/// Totals of a finished run, for the one-line summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub connections: u64,
    pub requests: u64,
    pub bytes_sent: u64,
    /// Access-log lines dropped because the log's reader was behind.
    pub log_lines_dropped: u64,
}

/// Why the server could not start; each names what failed, for a one-line message.
#[derive(Debug)]
pub enum StartError {
    /// The root folder cannot be opened or is not a folder.
    Root(PathBuf, io::Error),
    /// An address cannot be listened on.
    Listen(SocketAddr, io::Error),
    /// A Unix socket path cannot be listened on.
    ListenUnix(PathBuf, io::Error),
    /// The access log cannot be opened for appending.
    AccessLog(PathBuf, io::Error),
    /// The event loop itself (epoll, eventfd) could not be set up.
    Poll(io::Error),
    /// `--tls-cert`/`--tls-key`: the file named cannot be used.
    Tls(tls::TlsError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Root(p, e) => write!(f, "root {}: {e}", p.display()),
            StartError::Listen(a, e) => match e.kind() {
                io::ErrorKind::AddrInUse => write!(f, "cannot listen on {a}: address already in use (--port/--bind)"),
                io::ErrorKind::PermissionDenied => {
                    write!(f, "cannot listen on {a}: permission denied (ports below 1024 need privileges; --port)")
                }
                io::ErrorKind::AddrNotAvailable => write!(f, "cannot listen on {a}: no such local address (--bind)"),
                _ => write!(f, "cannot listen on {a}: {e} (--bind/--port)"),
            },
            StartError::ListenUnix(p, e) => write!(f, "cannot listen on unix:{}: {e} (--bind)", p.display()),
            StartError::AccessLog(p, e) => write!(f, "--access-log {}: {e}", p.display()),
            StartError::Poll(e) => write!(f, "cannot create the event loop: {e}"),
            StartError::Tls(e) => write!(f, "cannot use the TLS certificate: {e} (--tls-cert/--tls-key)"),
        }
    }
}

impl std::error::Error for StartError {}

/// A bound, not yet running server: one or more independent event loops.
pub struct Server {
    loops: Vec<Seed>,
    addrs: Vec<SocketAddr>,
    /// The `--redirect-http` listener's address (with the real port when 0 was asked).
    redirect_addr: Option<SocketAddr>,
    https: bool,
    /// What is listened on, for the start line: `http://127.0.0.1:8000/`, `unix:/run/ev.sock`.
    endpoints: Vec<String>,
    activated: bool,
    /// Unix socket files this server created: removed when it has stopped.
    socket_files: Vec<SocketFile>,
    handle: Handle,
    /// `--admin`: its listener (started with the loops) and where it listens.
    admin: Option<admin::Admin>,
    admin_addr: Option<SocketAddr>,
}

impl Server {
    /// Opens the root, binds every address (for each worker, with SO_REUSEPORT) and
    /// prepares the loops. Nothing is served until `run`.
    pub fn bind(config: &Config) -> Result<Server, StartError> {
        Self::bind_with(config, None)
    }

    /// As `bind`, but serving the sockets the service manager passed (socket activation)
    /// instead of the configured addresses, when there are any.
    ///
    /// Sockets that cannot be bound once per worker (those passed in, Unix sockets: Linux
    /// has no SO_REUSEPORT for them) are shared: every worker polls its own descriptor of
    /// the same socket, so they take connections from one accept queue. Each worker is
    /// woken by a new connection and the first to `accept` gets it (the others see
    /// WouldBlock), which costs a wakeup per worker per burst of connections and spreads
    /// the load less evenly than SO_REUSEPORT's per-worker queues, but serves with every
    /// worker and keeps the queue in the manager's socket across restarts.
    pub fn bind_with(config: &Config, activated: Option<Activated>) -> Result<Server, StartError> {
        let nofile = raise_nofile_limit();
        let max_connections = config.max_connections.unwrap_or_else(|| {
            (nofile.saturating_sub(FD_RESERVE + nofile / 8).max(1) as usize / config.workers).max(1)
        });
        // The open-file cache may keep half of the descriptors reserved for files.
        let cache_fds = (nofile / 16 / config.workers as u64).max(8) as usize;
        let stop = Arc::new(AtomicBool::new(false));
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(SharedTls {
                settings: Mutex::new(
                    tls::Settings::open_with(cert, key, config.tls_resumption, config.http2)
                        .map_err(StartError::Tls)?,
                ),
                generation: AtomicU64::new(0),
            }),
            _ => None,
        };
        let https = tls.is_some();
        let shared = Arc::new(Shared { tls, shutdown_delay: config.shutdown_delay, ..Shared::default() });
        let admin_listener = match config.admin {
            Some(addr) => Some(admin::Admin::bind(addr).map_err(|e| StartError::Listen(addr, e))?),
            None => None,
        };
        let mut redirect_addr = config.redirect_http;
        let mut loops = Vec::with_capacity(config.workers);
        let activated_here = activated.is_some();
        let (mut addrs, shared_listeners, endpoints, socket_files) = match activated {
            Some(a) => {
                let endpoints = a.describe();
                (Vec::new(), a.sockets.into_iter().map(|s| s.listener).collect(), endpoints, Vec::new())
            }
            None => {
                let (listeners, files) = bind_unix_sockets(config)?;
                let endpoints = config.unix_sockets.iter().map(|p| format!("unix:{}", p.display())).collect();
                (config.addrs.clone(), listeners, endpoints, files)
            }
        };
        for id in 0..config.workers {
            let mut listeners: Vec<Listener> = shared_listeners
                .iter()
                .map(Listener::try_clone)
                .collect::<io::Result<_>>()
                .map_err(StartError::Poll)?;
            let tcp = bind_tcp(config, &addrs)?;
            // Port 0 picks a port once; the other workers share it.
            addrs = tcp_addrs(&tcp).map_err(StartError::Poll)?;
            listeners.extend(tcp);
            let redirect = match redirect_addr {
                Some(addr) => {
                    let l = listen(addr, config.workers > 1, false).map_err(|e| StartError::Listen(addr, e))?;
                    redirect_addr = Some(l.local_addr().map_err(StartError::Poll)?);
                    listeners.push(Listener::Tcp(l));
                    Some(listeners.len() - 1)
                }
                None => None,
            };
            let mut seed = Seed::new(id, config, listeners, max_connections, cache_fds, stop.clone(), &shared)?;
            seed.redirect_listener = redirect;
            loops.push(seed);
        }
        let shared_addrs = tcp_addrs(&shared_listeners).map_err(StartError::Poll)?;
        drop(shared_listeners);
        let wakers = loops.iter().map(|l| l.waker.clone()).collect();
        let handle = Handle { stop, shared, wakers };
        let admin_addr =
            admin_listener.as_ref().map(std::net::TcpListener::local_addr).transpose().map_err(StartError::Poll)?;
        let admin = admin_listener.map(|listener| {
            let pools = loops.iter().filter_map(|l| l.pool.as_ref().map(Pool::watch)).collect();
            let board = Arc::new(admin::Board::new(loops.len(), pools));
            for l in &mut loops {
                l.board = Some(board.clone());
            }
            admin::Admin::new(listener, board, handle.clone())
        });
        Ok(Server {
            loops,
            addrs: shared_addrs.into_iter().chain(addrs).collect(),
            redirect_addr,
            https,
            endpoints,
            activated: activated_here,
            socket_files,
            handle,
            admin,
            admin_addr,
        })
    }

    /// Serving sockets passed by the service manager (the configured addresses are ignored).
    pub fn is_activated(&self) -> bool {
        self.activated
    }

    /// What the server listens on besides `local_addrs` (Unix sockets), or, when
    /// activated, every passed socket with its descriptor and name: for the start line.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// Makes SIGTERM (stop), SIGHUP and SIGUSR1 (reopen the access log) events of the
    /// first loop: signal-hook's handler only writes to a pipe that the loop polls, so
    /// the work happens in the loop, with no thread of its own. SIGINT is left to the
    /// caller's handler (main's `ctrlc`), which calls `Handle::stop_signal` too.
    pub fn handle_signals(&mut self) -> io::Result<()> {
        let mut signals = Signals::new([libc::SIGTERM, libc::SIGHUP, libc::SIGUSR1])?;
        let first = &mut self.loops[0];
        first.poll.registry().register(&mut signals, SIGNALS, Interest::READABLE)?;
        first.signals = Some((signals, self.handle.clone()));
        Ok(())
    }

    /// The addresses actually bound (with the real port when 0 was asked), the
    /// `--redirect-http` one aside.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The TCP listeners speak HTTPS (`--tls-cert` and `--tls-key`).
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// Where `--redirect-http` listens, with the real port.
    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.redirect_addr
    }

    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Where `--admin` listens, with the real port.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// Runs every loop (the first on this thread) until a graceful stop completes.
    pub fn run(self) -> io::Result<Summary> {
        // Answering from the start; stopped once every loop has (probes see the drain), or
        // when this returns early.
        let admin = self.admin.map(admin::Admin::start).transpose()?;
        let mut loops = self.loops.into_iter();
        let first = loops.next().expect("at least one worker");
        let others: Vec<_> = loops
            .map(|l| {
                let done = WorkerDone::new(&self.handle);
                let name = format!("evserve-{}", l.id);
                std::thread::Builder::new().name(name).spawn(move || {
                    let _done = done;
                    EventLoop::start(l).run()
                })
            })
            .collect::<io::Result<_>>()?;
        let mut total = EventLoop::start(first).run()?;
        // Every loop has stopped listening: the socket files can go.
        let _remove_at_return = self.socket_files;
        for t in others {
            let s = t.join().map_err(|_| io::Error::other("worker panicked"))??;
            total.connections += s.connections;
            total.requests += s.requests;
            total.bytes_sent += s.bytes_sent;
            total.log_lines_dropped += s.log_lines_dropped;
        }
        // Every loop has stopped: so does the admin listener.
        drop(admin);
        Ok(total)
    }
}

/// Dropped when a worker thread ends, however it ends: tells the first loop.
struct WorkerDone(Handle);

impl WorkerDone {
    fn new(handle: &Handle) -> WorkerDone {
        handle.shared.others_running.fetch_add(1, Ordering::SeqCst);
        WorkerDone(handle.clone())
    }
}

impl Drop for WorkerDone {
    fn drop(&mut self) {
        self.0.shared.others_running.fetch_sub(1, Ordering::SeqCst);
        wake(&self.0.wakers[0]);
    }
}

fn wake(waker: &Waker) {
    if let Err(e) = waker.wake() {
        eprintln!("evserve: cannot wake an event loop: {e}");
    }
}

/// Raises the soft descriptor limit to the hard one and returns it.
fn raise_nofile_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let wanted = rustix::process::Rlimit { current: limit.maximum, maximum: limit.maximum };
        if setrlimit(Resource::Nofile, wanted).is_ok() {
            limit = wanted;
        }
    }
    limit.current.unwrap_or(1 << 20)
}

/// One TCP listener per address. Every address asking for port 0 gets the one port the
/// first of them was given, so `--bind :: --bind 0.0.0.0 --port 0` is one port on both
/// families.
fn bind_tcp(config: &Config, addrs: &[SocketAddr]) -> Result<Vec<Listener>, StartError> {
    let mut listeners = Vec::new();
    let mut chosen_port: Option<u16> = None;
    for configured in addrs {
        let v4_on_same_port = addrs.iter().any(|a| a.is_ipv4() && a.port() == configured.port());
        let mut addr = *configured;
        if addr.port() == 0 {
            addr.set_port(chosen_port.unwrap_or(0));
        }
        let listener = listen(addr, config.workers > 1, v4_on_same_port).map_err(|e| StartError::Listen(addr, e))?;
        if configured.port() == 0 && chosen_port.is_none() {
            chosen_port = listener.local_addr().ok().map(|a| a.port());
        }
        listeners.push(Listener::Tcp(listener));
    }
    Ok(listeners)
}

/// The Unix sockets of `--bind unix:PATH`, bound once for all workers, and their files.
fn bind_unix_sockets(config: &Config) -> Result<(Vec<Listener>, Vec<SocketFile>), StartError> {
    let mut listeners = Vec::new();
    let mut files = Vec::new();
    for path in &config.unix_sockets {
        let (listener, file) =
            listen_unix(path, config.unix_mode).map_err(|e| StartError::ListenUnix(path.clone(), e))?;
        listeners.push(Listener::Unix(listener));
        files.push(file);
    }
    Ok((listeners, files))
}

/// The TCP addresses among `listeners`, in order.
fn tcp_addrs(listeners: &[Listener]) -> io::Result<Vec<SocketAddr>> {
    Ok(listeners.iter().map(Listener::tcp_addr).collect::<io::Result<Vec<_>>>()?.into_iter().flatten().collect())
}

/// One connection and its timer bookkeeping.
struct Slot {
    stream: Stream,
    conn: Connection,
    /// The earliest deadline queued for this slot, and the generation that queued it.
    armed: Option<Instant>,
    generation: u64,
    /// In `yielded`: driven once more this turn by that list, not by its events, so one
    /// connection never gets two quanta in a turn.
    yielded: bool,
    /// Which connection under this key (the loop's accept count when it came): a job's
    /// completion names it, so one for a connection that has gone is known as stale.
    serial: u64,
}

/// What ran out when idle connections are reaped (for the one warning per episode).
#[derive(Clone, Copy)]
enum Shortage {
    Connections,
    Descriptors,
}

/// `--stats` bookkeeping.
struct Stats {
    every: Duration,
    next: Instant,
    last: Counters,
    last_log_dropped: u64,
    wakeups: u64,
    events: u64,
}

/// A loop as bound, before its thread runs it: everything that can fail at start-up is
/// done. The connections and the TLS buffer pool are made in the loop's own thread
/// (`EventLoop::start`): they are single-threaded (`Rc`), so they never cross threads.
struct Seed {
    id: usize,
    poll: Poll,
    listeners: Vec<Listener>,
    /// The index in `listeners` of the `--redirect-http` one.
    redirect_listener: Option<usize>,
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
    cx: Context,
    max_connections: usize,
    drain_timeout: Duration,
    stats: Option<Stats>,
    shared: Arc<Shared>,
    signals: Option<(Signals, Handle)>,
    pool: Option<JobPool>,
    /// `--admin`: where the loop publishes its counters.
    board: Option<Arc<admin::Board>>,
    /// Opened at start-up, before the server says it is serving (see `EventLoop::fd_reserve`).
    fd_reserve: Vec<std::fs::File>,
}

/// The loop's threads for work that may wait on a disk; completions name their connection.
type JobPool = Pool<Ticket, Finished>;

/// The ticket of the site's background work (no connection waits for it): no slab key is
/// `usize::MAX`, which is the waker's token.
const BACKGROUND: Ticket = Ticket { key: usize::MAX, serial: 0, stream: 0 };

/// One loop's view of the TLS settings.
struct LoopTls {
    /// The config connections accepted now get (open ones keep the one they started with).
    config: Arc<rustls::ServerConfig>,
    /// The `SharedTls::generation` `config` was taken at.
    generation: u64,
    pool: tls::SharedPool,
}

/// One single-threaded reactor.
struct EventLoop {
    id: usize,
    poll: Poll,
    listeners: Vec<Listener>,
    stop: Arc<AtomicBool>,
    slab: Slab<Slot>,
    timers: Timers,
    cx: Context,
    max_connections: usize,
    /// Listeners are registered; false while paused (at the cap, or out of descriptors).
    accepting: bool,
    accept_retry: Option<Instant>,
    /// Reaping idle connections for room: the open count when this episode began (it ends
    /// once closes bring them below half that), so the warning is printed once per episode.
    reap_episode: Option<usize>,
    /// Connections that yielded their quantum: driven again next turn without an event.
    yielded: Vec<usize>,
    next_generation: u64,
    drain_deadline: Option<Instant>,
    drain_timeout: Duration,
    stats: Option<Stats>,
    shared: Arc<Shared>,
    /// The `Shared::log_generation` this loop's log was last opened for.
    log_generation: u64,
    /// The signal source and the handle it acts on (first loop, when signals are handled).
    signals: Option<(Signals, Handle)>,
    /// The listeners' TLS (None: they speak plain HTTP).
    tls: Option<LoopTls>,
    /// The index in `listeners` of the `--redirect-http` one.
    redirect_listener: Option<usize>,
    /// The port `--redirect-http` sends clients to.
    https_port: std::num::NonZeroU16,
    /// Handshaking connections driven this turn (see `MAX_HANDSHAKES_PER_TURN`).
    handshakes_this_turn: usize,
    /// `--io-threads`: where connections' jobs run (None: at once, on the loop).
    pool: Option<JobPool>,
    /// Scratch for the pool's completions, reused every turn.
    completions: Vec<pool::Completion<Ticket, Finished>>,
    /// Pool threads stuck in the kernel past `pool::STUCK_AFTER`, as last said on stderr.
    stuck_said: usize,
    /// Descriptors held back from `accept` (`/dev/null`), released when it runs out, so
    /// that the pool's opens for the connections already in can still be done.
    fd_reserve: Vec<std::fs::File>,
    /// `--admin`: where the loop publishes its counters and its turns, and how long its
    /// turns took (kept only then).
    board: Option<Arc<admin::Board>>,
    turns: Histogram,
}

impl Seed {
    fn new(
        id: usize,
        config: &Config,
        mut listeners: Vec<Listener>,
        max_connections: usize,
        cache_fds: usize,
        stop: Arc<AtomicBool>,
        shared: &Arc<Shared>,
    ) -> Result<Self, StartError> {
        let poll = Poll::new().map_err(StartError::Poll)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(StartError::Poll)?);
        for (i, listener) in listeners.iter_mut().enumerate() {
            poll.registry().register(listener, listener_token(i), Interest::READABLE).map_err(StartError::Poll)?;
        }
        let site = Site::new(&config.root, config.site_options(cache_fds))
            .map_err(|e| StartError::Root(config.root.clone(), e))?;
        let log = match &config.access_log {
            // One log writer per worker would interleave partial lines; workers after the
            // first write to the same file in whole buffered lines (O_APPEND).
            Some(path) => Some(
                AccessLog::open(path, config.log_format, id, shared.log_writer.clone())
                    .map_err(|e| StartError::AccessLog(path.clone(), e))?,
            ),
            None => None,
        };
        let now = Instant::now();
        let pool = match config.io_threads {
            0 => None,
            threads => {
                let waker = waker.clone();
                let wake: pool::Wake = Arc::new(move || wake(&waker));
                Some(Pool::new(threads, &format!("evserve-io-{id}"), wake).map_err(StartError::Poll)?)
            }
        };
        Ok(Seed {
            id,
            poll,
            listeners,
            redirect_listener: None,
            waker,
            stop,
            cx: Context {
                trace: config.trace.then(Vec::new),
                proxy_protocol: config.proxy_protocol,
                trusted_proxies: config.trusted_proxies.clone(),
                trusted_header: config.trusted_header,
                jobs: Jobs { deferred: pool.is_some(), queued: Vec::new() },
                http2: config.http2,
                ..Context::new(site, config.limits, config.timeouts, log)
            },
            max_connections,
            drain_timeout: config.drain_timeout,
            stats: config.stats.map(|every| Stats {
                every,
                next: now + every,
                last: Counters::default(),
                last_log_dropped: 0,
                wakeups: 0,
                events: 0,
            }),
            shared: shared.clone(),
            signals: None,
            fd_reserve: if pool.is_some() { reserve_fds() } else { Vec::new() },
            pool,
            board: None,
        })
    }
}

impl EventLoop {
    /// In the loop's own thread: the slab, the timers and the TLS state.
    fn start(seed: Seed) -> EventLoop {
        let tls = seed.shared.tls.as_ref().map(|shared| LoopTls {
            config: shared.settings().config().clone(),
            generation: shared.generation.load(Ordering::SeqCst),
            pool: tls::Pool::shared(),
        });
        let redirect = seed.redirect_listener;
        // The first TCP listener that is not the redirect one is where it sends clients.
        let https_port = (0..seed.listeners.len())
            .filter(|&i| Some(i) != redirect)
            .find_map(|i| seed.listeners[i].tcp_addr().ok().flatten())
            .and_then(|a| std::num::NonZeroU16::new(a.port()))
            .unwrap_or(std::num::NonZeroU16::new(443).expect("not zero"));
        EventLoop {
            id: seed.id,
            poll: seed.poll,
            listeners: seed.listeners,
            stop: seed.stop,
            slab: Slab::with_capacity(1024),
            timers: Timers::default(),
            cx: seed.cx,
            max_connections: seed.max_connections,
            accepting: true,
            accept_retry: None,
            reap_episode: None,
            yielded: Vec::new(),
            next_generation: 0,
            drain_deadline: None,
            drain_timeout: seed.drain_timeout,
            stats: seed.stats,
            shared: seed.shared,
            log_generation: 0,
            signals: seed.signals,
            tls,
            redirect_listener: redirect,
            https_port,
            handshakes_this_turn: 0,
            pool: seed.pool,
            completions: Vec::new(),
            stuck_said: 0,
            fd_reserve: seed.fd_reserve,
            board: seed.board,
            turns: Histogram::default(),
        }
    }

    fn run(mut self) -> io::Result<Summary> {
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        loop {
            let timeout = self.poll_timeout();
            if let Some(board) = &self.board {
                board.waiting(self.id);
            }
            if let Err(e) = self.poll.poll(&mut events, timeout)
                && e.kind() != io::ErrorKind::Interrupted
            {
                return Err(e);
            }
            self.cx.tick();
            if let Some(board) = &self.board {
                board.turn_began(self.id, self.cx.now);
            }
            self.handshakes_this_turn = 0;
            if let Some(s) = &mut self.stats {
                s.wakeups += 1;
                s.events += events.iter().count() as u64;
            }
            for event in events.iter() {
                self.on_event(event);
            }
            for key in std::mem::take(&mut self.yielded) {
                if let Some(slot) = self.slab.get_mut(key) {
                    slot.yielded = false;
                    self.drive(key);
                }
            }
            self.expire_deadlines();
            self.flush_log();
            self.report_stats();
            if self.stop.load(Ordering::Relaxed) && self.drain_deadline.is_none() {
                self.begin_drain();
            }
            self.publish();
            if let Some(deadline) = self.drain_deadline
                && (self.slab.is_empty() || self.cx.now >= deadline)
            {
                break;
            }
            if !self.accepting && self.accept_retry.is_some_and(|t| self.cx.now >= t) {
                self.resume_accepting();
            }
        }
        // Past the drain deadline: whatever is left is dropped, its log lines written.
        for (_, slot) in self.slab.iter_mut() {
            slot.conn.abandon(&mut self.cx);
        }
        self.slab.clear();
        if let Some(e) = self.cx.log.as_mut().and_then(AccessLog::close) {
            eprintln!("evserve: access log write failed: {e}");
        }
        if let Some(pool) = self.pool.take() {
            let left = pool.shutdown();
            if left > 0 {
                // Either a disk that does not answer or a long compression (brotli 11 of a
                // large file takes seconds): the process ends without them either way.
                eprintln!(
                    "evserve: {left} I/O threads still busy at exit (a disk that does not answer, or a \
                     long compression); left behind"
                );
            }
        }
        self.publish();
        if let Some(board) = &self.board {
            board.waiting(self.id);
        }
        self.wait_for_other_loops()?;
        let c = self.cx.counters;
        let log_lines_dropped = self.cx.log.as_ref().map_or(0, AccessLog::dropped);
        Ok(Summary { connections: c.accepted, requests: c.requests, bytes_sent: c.bytes_sent, log_lines_dropped })
    }

    /// One readiness event: the waker, signals, a listener, or a connection.
    fn on_event(&mut self, event: &mio::event::Event) {
        match event.token() {
            // A stop, or the pool's completions (the stop flag is looked at after the turn).
            WAKER => self.take_completions(),
            SIGNALS => self.on_signals(),
            token if token.0 > usize::MAX - 1 - MAX_LISTENERS => {
                let index = usize::MAX - 1 - token.0;
                if index < self.listeners.len() {
                    self.accept(index);
                }
            }
            Token(key) => {
                if let Some(slot) = self.slab.get_mut(key) {
                    if self.cx.trace.is_some() {
                        eprintln!(
                            "trace: conn {key}: event{}{}{}",
                            if event.is_readable() { " readable" } else { "" },
                            if event.is_writable() { " writable" } else { "" },
                            if event.is_read_closed() { " read-closed" } else { "" }
                        );
                    }
                    // An error or a closed write side is reported to whichever
                    // direction is in use: the next syscall surfaces it.
                    let failed = event.is_error() || event.is_write_closed();
                    slot.conn.ready(event.is_readable(), event.is_writable() || failed, event.is_read_closed());
                    if !slot.yielded {
                        self.drive(key);
                    }
                }
            }
        }
    }

    /// The first loop, with the signal source, ends last: until the other workers have
    /// drained it keeps taking signals, so a second SIGTERM still exits at once.
    fn wait_for_other_loops(&mut self) -> io::Result<()> {
        if self.signals.is_none() {
            return Ok(());
        }
        let mut events = Events::with_capacity(8);
        while self.shared.others_running.load(Ordering::SeqCst) > 0 {
            if let Err(e) = self.poll.poll(&mut events, None)
                && e.kind() != io::ErrorKind::Interrupted
            {
                return Err(e);
            }
            if events.iter().any(|e| e.token() == SIGNALS) {
                self.on_signals();
            }
        }
        Ok(())
    }

    /// Acts on the signals signal-hook has queued (first loop only).
    fn on_signals(&mut self) {
        let Some((signals, handle)) = &mut self.signals else { return };
        let handle = handle.clone();
        for signal in signals.pending().collect::<Vec<_>>() {
            if signal == libc::SIGHUP || signal == libc::SIGUSR1 {
                // Asked first, said after: whoever reads the line knows every loop will
                // write the lines it flushes from now on to the new file.
                handle.reload();
                if let Some(path) = self.cx.log.as_ref().and_then(AccessLog::path) {
                    let name = if signal == libc::SIGHUP { "SIGHUP" } else { "SIGUSR1" };
                    eprintln!("evserve: {name}: reopening the access log {}", path.display());
                }
            } else {
                handle.stop_signal(signal);
            }
        }
    }

    /// Reopens the access log if a SIGHUP/SIGUSR1 came since it was opened. Called just
    /// before lines are written, so every line written after the signal goes to the new
    /// file (the lines of the turn the signal came in too; what was written before stays
    /// in the old one). A failure keeps the old file and is reported once per signal,
    /// whichever loop meets it.
    fn reopen_log_if_asked(&mut self) {
        let generation = self.shared.log_generation.load(Ordering::SeqCst);
        if generation == self.log_generation {
            return;
        }
        self.log_generation = generation;
        let Some(log) = &mut self.cx.log else { return };
        if let Err(e) = log.reopen() {
            self.say_reopen_failed(e);
        }
    }

    /// One stderr line per SIGHUP whose reopen failed, whichever worker finds out first.
    fn say_reopen_failed(&self, e: io::Error) {
        let generation = self.log_generation;
        if self.shared.log_failure_reported.fetch_max(generation, Ordering::SeqCst) < generation {
            let path = self.cx.log.as_ref().and_then(AccessLog::path).unwrap_or(std::path::Path::new("-")).display();
            eprintln!("evserve: cannot reopen the access log {path}, still writing to the old file: {e}");
        }
    }

    /// Writes the turn's log lines. A stalled reader costs no wait, only dropped lines,
    /// announced once per episode.
    fn flush_log(&mut self) {
        self.reopen_log_if_asked();
        if let Some(e) = self.cx.log.as_mut().and_then(AccessLog::take_reopen_error) {
            self.say_reopen_failed(e);
        }
        let Some(log) = &mut self.cx.log else { return };
        if let Some(e) = log.flush() {
            eprintln!("evserve: access log write failed, logging stops: {e}");
        }
        if log.take_drop_notice() {
            eprintln!(
                "evserve: access log: its reader is behind, dropping lines until it catches up (worker {}; counted in --stats and the summary)",
                self.id
            );
        }
    }

    /// Sleep until the earliest thing that must happen without an event.
    fn poll_timeout(&self) -> Option<Duration> {
        if !self.yielded.is_empty() {
            return Some(Duration::ZERO);
        }
        let stats_next = self.stats.as_ref().map(|s| s.next);
        let log_retry = self.cx.log.as_ref().filter(|l| l.is_behind()).map(|_| Instant::now() + LOG_RETRY);
        [self.timers.next_deadline(), self.accept_retry, self.drain_deadline, stats_next, log_retry]
            .into_iter()
            .flatten()
            .min()
            .map(|at| at.saturating_duration_since(Instant::now()) + Duration::from_millis(1))
    }

    /// Accepts until WouldBlock (edge-triggered: a queued client gets no second event).
    /// At the cap a client is taken only if idle keep-alive connections can make room, and
    /// they are closed only once a client really came; with none idle, accepting pauses
    /// and clients wait in the kernel's queue.
    fn accept(&mut self, index: usize) {
        self.refresh_tls();
        // Reaped for EMFILE and not yet accepted since: another EMFILE means the freed
        // descriptors went elsewhere (another worker, ENFILE), and reaping more would not help.
        let mut reaped_in_vain = false;
        while self.accepting {
            let mut room = Vec::new();
            if self.slab.len() >= self.max_connections {
                room = self.oldest_idle();
                if room.is_empty() {
                    self.pause_accepting(None);
                    return;
                }
            }
            match self.listeners[index].accept() {
                Ok(accepted) => {
                    reaped_in_vain = false;
                    self.reap(&room, Shortage::Connections);
                    self.admit(accepted, index);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    use rustix::io::Errno;
                    match e.raw_os_error().map(Errno::from_raw_os_error) {
                        // That one client failed (gave up while queued, a protocol error, a
                        // firewall verdict): take the next.
                        Some(Errno::CONNABORTED | Errno::PROTO | Errno::PERM) => {}
                        // Out of descriptors: idle keep-alive connections give theirs up,
                        // or, with none (or in vain), pause as below.
                        Some(Errno::MFILE | Errno::NFILE) => {
                            let room = if room.is_empty() { self.oldest_idle() } else { room };
                            if room.is_empty() || reaped_in_vain {
                                self.pause_accepting(Some(self.cx.now + ACCEPT_RETRY));
                                // When connections holding the descriptors wait for lookups
                                // that need one, give the pool the few kept in reserve
                                // (taken back before accepting again).
                                if self.slab.iter().any(|(_, s)| s.conn.awaits_job()) {
                                    self.fd_reserve.clear();
                                }
                                return;
                            }
                            self.reap(&room, Shortage::Descriptors);
                            reaped_in_vain = true;
                        }
                        // Out of memory: stop polling the listener (no spinning) until a
                        // connection closes or becomes idle, or the retry time passes.
                        Some(Errno::NOBUFS | Errno::NOMEM) => {
                            self.pause_accepting(Some(self.cx.now + ACCEPT_RETRY));
                            return;
                        }
                        // Anything else is unexpected; say so and retry later rather than spin.
                        _ => {
                            eprintln!("evserve: accept failed: {e}");
                            self.pause_accepting(Some(self.cx.now + ACCEPT_RETRY));
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Takes the TLS config of the last successful reload (SIGHUP), if there was one
    /// since: connections accepted from now on get it.
    fn refresh_tls(&mut self) {
        let (Some(mine), Some(shared)) = (&mut self.tls, &self.shared.tls) else { return };
        let generation = shared.generation.load(Ordering::SeqCst);
        if generation != mine.generation {
            mine.config = shared.settings().config().clone();
            mine.generation = generation;
        }
    }

    fn admit(&mut self, accepted: Accepted, listener: usize) {
        let Accepted { stream, peer, setup } = accepted;
        let redirect = self.redirect_listener == Some(listener);
        let mut stream = match &self.tls {
            Some(tls) if !redirect => match stream.into_tls(tls.config.clone(), tls.pool.clone()) {
                Ok(stream) => stream,
                Err(e) => {
                    eprintln!("evserve: cannot start TLS on a connection: {e}");
                    return;
                }
            },
            _ => stream,
        };
        let entry = self.slab.vacant_entry();
        let key = entry.key();
        if let Err(e) = self.poll.registry().register(&mut stream, Token(key), Interest::READABLE | Interest::WRITABLE)
        {
            eprintln!("evserve: cannot register a connection: {e}");
            return;
        }
        let conn = match (self.cx.proxy_protocol, redirect) {
            (true, _) => Connection::new(peer, self.cx.now).expecting_proxy_header(),
            (false, true) => Connection::new(peer, self.cx.now).redirecting_to_https(self.https_port),
            (false, false) => Connection::new(peer, self.cx.now),
        };
        self.cx.counters.accepted += 1;
        let serial = self.cx.counters.accepted;
        entry.insert(Slot { stream, conn, armed: None, generation: 0, yielded: false, serial });
        if self.cx.trace.is_some() {
            match peer {
                Some(peer) => eprintln!("trace: conn {key}: accepted from {peer}"),
                None => eprintln!("trace: conn {key}: accepted from unix"),
            }
            if let Err(e) = setup {
                eprintln!("trace: conn {key}: TCP_NODELAY failed: {e}");
            }
        }
        // The request often arrived with the handshake: read now rather than next turn.
        self.drive(key);
    }

    fn drive(&mut self, key: usize) {
        let Some(slot) = self.slab.get_mut(key) else { return };
        let handshaking = slot.stream.tls().is_some_and(tls::TlsStream::is_handshaking);
        if handshaking {
            if self.handshakes_this_turn >= MAX_HANDSHAKES_PER_TURN {
                self.defer(key);
                return;
            }
            self.handshakes_this_turn += 1;
        }
        self.cx.ticket = Ticket { key, serial: slot.serial, stream: 0 };
        let status = slot.conn.drive(&mut slot.stream, &mut self.cx);
        if handshaking {
            self.note_handshake(key, status);
        }
        let Some(slot) = self.slab.get_mut(key) else { return };
        if self.cx.trace.is_some() {
            print_steps(&mut self.cx, key);
            let state = if status == Status::Close { "closed" } else { slot.conn.state_name() };
            eprintln!("trace: conn {key}: now {state} ({status:?})");
        }
        match status {
            Status::Close => self.close(key),
            _ if self.drain_deadline.is_some() && slot.conn.is_idle() => self.close(key),
            Status::Yield => {
                slot.yielded = true;
                self.yielded.push(key);
                self.arm(key);
            }
            Status::Wait => {
                self.arm(key);
                self.resume_if_reapable(key);
            }
        }
        self.submit_jobs();
    }

    /// A disk that stops answering (a hung network mount) shows as timeouts; say once per
    /// episode how many pool threads are stuck in the kernel.
    fn say_stuck_threads(&mut self) {
        let Some(pool) = &self.pool else { return };
        let stuck = pool.stats().stuck;
        if stuck > self.stuck_said {
            eprintln!(
                "evserve: {stuck} I/O threads of worker {} are stuck in the kernel (a disk or mount not answering); \
                 new work queues behind them",
                self.id
            );
        }
        self.stuck_said = stuck;
    }

    /// Hands the work the connections asked for to the pool, and the site's work that no
    /// connection waits for (under `BACKGROUND`).
    fn submit_jobs(&mut self) {
        let Some(pool) = &self.pool else { return };
        for (ticket, work) in self.cx.jobs.queued.drain(..) {
            if self.cx.trace.is_some() {
                eprintln!("trace: conn {}: off the loop: {}", ticket.key, work.describe());
            }
            pool.submit(ticket, Box::new(move || work.run()));
        }
        for job in self.cx.site.take_background_jobs() {
            if self.cx.trace.is_some() {
                eprintln!("trace: site: in the background: {}", job.describe());
            }
            pool.submit(BACKGROUND, Box::new(move || Finished::Plan(job.run())));
        }
    }

    /// The pool's finished work, each handed to the connection that asked for it, if it is
    /// still there (the same key and serial) and still waiting; anything else is dropped,
    /// its descriptors closed with it.
    fn take_completions(&mut self) {
        let Some(pool) = &self.pool else { return };
        let mut completions = std::mem::take(&mut self.completions);
        pool.drain(&mut completions);
        for (ticket, result) in completions.drain(..) {
            if ticket.key == BACKGROUND.key {
                match result {
                    Ok(Finished::Plan(done)) => self.cx.site.resume_background(done, self.cx.now),
                    Ok(_) => {}
                    Err(pool::Panicked) => eprintln!("evserve: a background job panicked"),
                }
                continue;
            }
            let Some(slot) = self.slab.get_mut(ticket.key).filter(|s| s.serial == ticket.serial) else {
                if let Ok(Finished::Plan(done)) = result {
                    self.cx.site.absorb(done, self.cx.now);
                }
                continue;
            };
            let taken = match result {
                Ok(finished) => slot
                    .conn
                    .job_done(ticket.stream, finished)
                    .map_err(|left| {
                        if let Finished::Plan(done) = left {
                            self.cx.site.absorb(done, self.cx.now);
                        }
                    })
                    .is_ok(),
                Err(pool::Panicked) => {
                    eprintln!("evserve: a job for connection {} panicked; closing it", ticket.key);
                    self.close(ticket.key);
                    continue;
                }
            };
            if self.cx.trace.is_some() {
                eprintln!(
                    "trace: conn {}: job done{}",
                    ticket.key,
                    if taken { ", resuming" } else { ", not waited for" }
                );
            }
            if taken && !slot.yielded {
                self.drive(ticket.key);
            }
        }
        self.completions = completions;
        self.submit_jobs(); // What the background outcomes queued next.
    }

    /// Past the handshake cap: driven next turn (its readiness is kept), its handshake
    /// deadline armed meanwhile.
    fn defer(&mut self, key: usize) {
        let Some(slot) = self.slab.get_mut(key) else { return };
        if !slot.yielded {
            slot.yielded = true;
            self.yielded.push(key);
        }
        if self.cx.trace.is_some() {
            eprintln!("trace: conn {key}: handshake deferred to the next turn");
        }
        self.arm(key);
    }

    /// A handshaking connection was driven: count (and trace) a handshake that completed,
    /// or one that ended without completing.
    fn note_handshake(&mut self, key: usize, status: Status) {
        let Some(stream) = self.slab.get(key).and_then(|s| s.stream.tls()) else { return };
        match stream.handshake_summary() {
            Some(summary) => {
                self.cx.counters.handshakes += 1;
                if self.cx.trace.is_some() {
                    eprintln!("trace: conn {key}: TLS handshake done: {summary}");
                }
            }
            // Closed mid-handshake, or it turned out to be plaintext or garbage.
            None if status == Status::Close || !stream.is_handshaking() => self.cx.counters.handshake_failures += 1,
            None => {}
        }
    }

    /// Queues the connection's deadline if it is earlier than the one already queued; a
    /// later one is found when the queued entry comes due (see `timer`).
    fn arm(&mut self, key: usize) {
        let Some(slot) = self.slab.get_mut(key) else { return };
        let (kind, at) = slot.conn.deadline(&self.cx.timeouts);
        if slot.armed.is_none_or(|armed| at < armed) {
            self.next_generation += 1;
            slot.generation = self.next_generation;
            slot.armed = Some(at);
            self.timers.arm(kind, at, key, slot.generation);
        }
    }

    fn expire_deadlines(&mut self) {
        let now = self.cx.now;
        let mut expired = Vec::new();
        let slab = &mut self.slab;
        let timeouts = self.cx.timeouts;
        self.timers.expire(now, |_, key, generation| match slab.get_mut(key) {
            Some(slot) if slot.generation == generation => {
                let (_, at) = slot.conn.deadline(&timeouts);
                if at > now {
                    slot.armed = Some(at);
                    Due::Later(at)
                } else {
                    expired.push(key);
                    Due::Expired
                }
            }
            _ => Due::Stale,
        });
        if !expired.is_empty() {
            self.say_stuck_threads();
        }
        for key in expired {
            if let Some(slot) = self.slab.get_mut(key) {
                let handshaking = slot.stream.tls().is_some_and(tls::TlsStream::is_handshaking);
                let state = slot.conn.state_name();
                let status = slot.conn.on_timeout(&mut slot.stream, &mut self.cx);
                if self.cx.trace.is_some() {
                    let what = if status == Status::Close { "timed out" } else { "a stream timed out" };
                    eprintln!("trace: conn {key}: {state} {what}");
                }
                print_steps(&mut self.cx, key);
                if status == Status::Close {
                    if handshaking {
                        self.cx.counters.handshake_failures += 1;
                    }
                    self.close(key);
                } else {
                    // Driven next turn (it has frames to send); its next deadline is armed
                    // afresh, the expired one being gone.
                    slot.armed = None;
                    if !slot.yielded {
                        slot.yielded = true;
                        self.yielded.push(key);
                    }
                    self.arm(key);
                }
                self.submit_jobs();
            }
        }
    }

    /// Drops the connection. No `deregister`: closing the descriptor (its only reference)
    /// removes it from the epoll set, which saves a system call per connection. An event
    /// for it still in this turn's batch finds an empty or reused slot, and a spurious
    /// readiness is harmless (reads and writes just see WouldBlock).
    fn close(&mut self, key: usize) {
        self.release(key);
        if self.reap_episode.is_some_and(|open| self.slab.len() < open / 2) {
            self.reap_episode = None;
        }
        if !self.accepting && self.drain_deadline.is_none() {
            self.resume_accepting();
        }
    }

    /// Frees the slot (see `close`), and sometimes sweeps stale timer entries.
    fn release(&mut self, key: usize) {
        if let Some(mut slot) = self.slab.try_remove(key) {
            slot.stream.finish();
        }
        // A closed connection's deadline stays queued until it comes due (lazy removal);
        // sweep when the stale ones outnumber the live, so memory follows open connections,
        // not the connection rate. Amortised: each sweep at least halves the queues.
        if self.timers.len() > 2 * self.slab.len() + STALE_TIMERS_SLACK {
            let slab = &self.slab;
            self.timers.retain(|key, generation| slab.get(key).is_some_and(|s| s.generation == generation));
        }
    }

    /// Up to a batch of the longest-idle keep-alive connections (`Connection::idle_since`,
    /// to the loop turn: ties go by key), oldest first; none during a drain. The timer FIFOs cannot list them (`arm` queues
    /// only an earlier deadline), so this scans the slab: O(open) for a batch of open/16
    /// (at most 32), i.e. about 16 slots looked at per connection reaped up to 512 open,
    /// open/32 beyond. It runs only at the cap or out of descriptors.
    fn oldest_idle(&self) -> Vec<usize> {
        if self.drain_deadline.is_some() {
            return Vec::new();
        }
        let batch = (self.slab.len() / 16).clamp(1, REAP_BATCH_MAX);
        // A max-heap of the `batch` oldest so far: the newest of them is the one to drop.
        let mut oldest = BinaryHeap::with_capacity(batch + 1);
        for (key, slot) in &self.slab {
            if let Some(since) = slot.conn.idle_since() {
                oldest.push((since, key));
                if oldest.len() > batch {
                    oldest.pop();
                }
            }
        }
        oldest.into_sorted_vec().into_iter().map(|(_, key)| key).collect()
    }

    /// Closes idle keep-alive connections (between requests, nothing buffered: they lose
    /// nothing) to make room for new clients; says so once per episode.
    fn reap(&mut self, keys: &[usize], shortage: Shortage) {
        if keys.is_empty() {
            return;
        }
        if self.reap_episode.is_none() {
            match shortage {
                Shortage::Connections => eprintln!(
                    "evserve: connection limit {} reached, closing idle keep-alive connections",
                    self.max_connections
                ),
                Shortage::Descriptors => eprintln!(
                    "evserve: out of descriptors at {} connections, closing idle keep-alive connections",
                    self.slab.len()
                ),
            }
            self.reap_episode = Some(self.slab.len());
        }
        for &key in keys {
            if self.cx.trace.is_some() {
                eprintln!("trace: conn {key}: idle, closed to make room");
            }
            self.release(key);
            self.cx.counters.reaped += 1;
        }
    }

    /// Accepting paused for want of room, and this connection just became idle: it can
    /// make room, so accept again (it is reaped only if a client is really waiting).
    fn resume_if_reapable(&mut self, key: usize) {
        if !self.accepting
            && self.drain_deadline.is_none()
            && self.slab.get(key).is_some_and(|s| s.conn.idle_since().is_some())
        {
            self.resume_accepting();
        }
    }

    /// Stops watching the listeners. A listener that cannot be deregistered still costs
    /// nothing: its edges find `accepting` false and are ignored.
    fn pause_accepting(&mut self, retry: Option<Instant>) {
        if self.accepting {
            for (i, l) in self.listeners.iter_mut().enumerate() {
                if let Err(e) = self.poll.registry().deregister(l)
                    && self.cx.trace.is_some()
                {
                    eprintln!("trace: listener {i}: deregister failed: {e}");
                }
            }
            self.accepting = false;
        }
        self.accept_retry = retry;
    }

    /// Takes back the descriptors given to the pool during a shortage (as many as can be).
    fn refill_fd_reserve(&mut self) {
        if self.pool.is_some() && self.fd_reserve.len() < POOL_FD_RESERVE {
            self.fd_reserve = reserve_fds();
        }
    }

    /// Re-registers the listeners and accepts at once: clients queued while paused
    /// produce no new edge. At the cap `accept` pauses again unless a connection is idle.
    /// A listener that cannot be registered again is reported and retried after
    /// `ACCEPT_RETRY`, so the server never silently stops accepting.
    fn resume_accepting(&mut self) {
        if self.accepting {
            return;
        }
        self.refill_fd_reserve();
        for (i, l) in self.listeners.iter_mut().enumerate() {
            match self.poll.registry().register(l, listener_token(i), Interest::READABLE) {
                // Already registered by an attempt that failed on a later listener.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    eprintln!("evserve: cannot watch listener {i} again, retrying: {e}");
                    self.accept_retry = Some(self.cx.now + ACCEPT_RETRY);
                    return;
                }
                Ok(()) => {}
            }
        }
        self.accepting = true;
        self.accept_retry = None;
        for i in 0..self.listeners.len() {
            self.accept(i);
        }
    }

    /// Graceful stop: refuse new connections, close idle ones now, give the rest until
    /// the drain deadline.
    fn begin_drain(&mut self) {
        self.cx.draining = true;
        self.pause_accepting(None);
        self.listeners.clear();
        self.drain_deadline = Some(self.cx.now + self.drain_timeout);
        let idle: Vec<usize> = self.slab.iter().filter(|(_, s)| s.conn.is_idle()).map(|(k, _)| k).collect();
        for key in idle {
            self.close(key);
        }
        // HTTP/2 clients are told with GOAWAY, which takes a drive.
        let h2: Vec<usize> = self.slab.iter().filter(|(_, s)| s.conn.speaks_h2()).map(|(k, _)| k).collect();
        for key in h2 {
            self.drive(key);
        }
    }

    /// `--admin`: the turn's length, and the counters as they are now, for the next scrape.
    fn publish(&mut self) {
        let Some(board) = &self.board else { return };
        self.turns.observe(Instant::now().saturating_duration_since(self.cx.now));
        board.publish(
            self.id,
            admin::Snapshot {
                counters: self.cx.counters,
                metrics: self.cx.metrics,
                turns: self.turns,
                open: self.slab.len() as u64,
                log_dropped: self.cx.log.as_ref().map_or(0, AccessLog::dropped),
            },
        );
    }

    fn report_stats(&mut self) {
        let Some(s) = &mut self.stats else { return };
        if self.cx.now < s.next {
            return;
        }
        let secs = s.every.as_secs_f64();
        let c = self.cx.counters;
        let log_dropped = self.cx.log.as_ref().map_or(0, AccessLog::dropped);
        let tls = match self.tls {
            Some(_) => format!(
                " | tls handshakes {} failed {}",
                c.handshakes - s.last.handshakes,
                c.handshake_failures - s.last.handshake_failures
            ),
            None => String::new(),
        };
        let io = match &self.pool {
            Some(pool) => {
                let p = pool.stats();
                format!(
                    " | io queued {} running {} done {} longest-wait {:.1}ms stuck {}",
                    p.queued,
                    p.running,
                    p.done,
                    p.longest_wait.as_secs_f64() * 1000.0,
                    p.stuck
                )
            }
            None => String::new(),
        };
        let h2 = format!(
            " | h2 calmed {} errors {} stalled-streams {}",
            c.h2_calmed - s.last.h2_calmed,
            c.h2_errors - s.last.h2_errors,
            c.h2_stalled - s.last.h2_stalled
        );
        let z = self.cx.site.compress_stats();
        let compressed = format!(
            " | compressed hits {} misses {} saved {} B evictions {} size {} B",
            z.hits, z.misses, z.bytes_saved, z.evictions, z.size
        );
        eprintln!(
            "evserve: stats: worker {} open {} | accepted {:.0}/s requests {:.0}/s sent {:.0} B/s | wakeups {:.0}/s events/wakeup {:.2} | timeouts {} reaped {} log-dropped {}{io}{h2}{compressed}{tls}",
            self.id,
            self.slab.len(),
            (c.accepted - s.last.accepted) as f64 / secs,
            (c.requests - s.last.requests) as f64 / secs,
            (c.bytes_sent - s.last.bytes_sent) as f64 / secs,
            s.wakeups as f64 / secs,
            if s.wakeups == 0 { 0.0 } else { s.events as f64 / s.wakeups as f64 },
            c.timeouts - s.last.timeouts,
            c.reaped - s.last.reaped,
            log_dropped - s.last_log_dropped,
        );
        s.last = c;
        s.last_log_dropped = log_dropped;
        s.wakeups = 0;
        s.events = 0;
        s.next = self.cx.now + s.every;
    }
}

/// `POOL_FD_RESERVE` descriptors (`/dev/null`), or as many as can be opened.
fn reserve_fds() -> Vec<std::fs::File> {
    (0..POOL_FD_RESERVE).map_while(|_| std::fs::File::open("/dev/null").ok()).collect()
}

/// Prints the `--trace` steps the connection `key` just took.
fn print_steps(cx: &mut Context, key: usize) {
    if let Some(steps) = &mut cx.trace {
        for step in steps.drain(..) {
            eprintln!("trace: conn {key}: {step}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Command;

    fn event_loop(root: &std::path::Path) -> EventLoop {
        let args = ["--bind", "127.0.0.1", "--port", "0", root.to_str().unwrap()].map(Into::into);
        let Ok(Command::Run(config)) = Config::parse_with_env(args, |_| None) else { panic!("config") };
        let shared = Arc::new(Shared::default());
        let listeners = bind_tcp(&config, &config.addrs).unwrap();
        EventLoop::start(Seed::new(0, &config, listeners, 16, 8, Arc::new(AtomicBool::new(false)), &shared).unwrap())
    }

    /// A loop whose TCP listener speaks HTTPS with a fresh self-signed certificate.
    fn tls_event_loop(root: &std::path::Path) -> (EventLoop, rustls::pki_types::CertificateDer<'static>) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap().self_signed(&key).unwrap();
        let (cert_path, key_path) = (root.join("cert.pem"), root.join("key.pem"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        let args = ["--bind", "127.0.0.1", "--port", "0", root.to_str().unwrap()].map(Into::into);
        let Ok(Command::Run(config)) = Config::parse_with_env(args, |_| None) else { panic!("config") };
        let settings = tls::Settings::open(&cert_path, &key_path, true).unwrap();
        let tls = SharedTls { settings: Mutex::new(settings), generation: AtomicU64::new(0) };
        let shared = Arc::new(Shared { tls: Some(tls), ..Shared::default() });
        let listeners = bind_tcp(&config, &config.addrs).unwrap();
        let seed = Seed::new(0, &config, listeners, 256, 8, Arc::new(AtomicBool::new(false)), &shared).unwrap();
        (EventLoop::start(seed), cert.der().clone())
    }

    /// Clients whose ClientHello is already in the server's socket when it accepts.
    fn clients_saying_hello(
        addr: SocketAddr,
        ca: &rustls::pki_types::CertificateDer<'static>,
        n: usize,
    ) -> Vec<std::net::TcpStream> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let config = Arc::new(config);
        (0..n)
            .map(|_| {
                let mut tcp = std::net::TcpStream::connect(addr).unwrap();
                let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
                let mut conn = rustls::ClientConnection::new(config.clone(), name).unwrap();
                conn.write_tls(&mut tcp).unwrap();
                tcp.set_nonblocking(true).unwrap();
                tcp
            })
            .collect()
    }

    /// Clients the server has answered (its handshake flight is in their socket).
    fn answered(clients: &[std::net::TcpStream]) -> usize {
        clients.iter().filter(|c| c.peek(&mut [0u8; 1]).is_ok_and(|n| n > 0)).count()
    }

    #[test]
    fn a_burst_of_handshakes_is_spread_over_turns() {
        let root = std::env::temp_dir().join(format!("evserve-server-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let (mut l, ca) = tls_event_loop(&root);
        let addr = l.listeners[0].tcp_addr().unwrap().unwrap();
        let burst = 2 * MAX_HANDSHAKES_PER_TURN + 8;
        let clients = clients_saying_hello(addr, &ca, burst);
        // One turn: every client is accepted, only the cap's worth handshake.
        l.handshakes_this_turn = 0;
        l.accept(0);
        assert_eq!(l.slab.len(), burst, "all accepted");
        assert_eq!(l.handshakes_this_turn, MAX_HANDSHAKES_PER_TURN);
        assert_eq!(l.yielded.len(), burst - MAX_HANDSHAKES_PER_TURN, "the rest wait for the next turn");
        assert!(eventually(|| answered(&clients) == MAX_HANDSHAKES_PER_TURN));
        // The next turns take the queue in order, a cap's worth at a time.
        for turn in 2..=3 {
            l.handshakes_this_turn = 0;
            for key in std::mem::take(&mut l.yielded) {
                l.slab[key].yielded = false;
                l.drive(key);
            }
            let expected = (turn * MAX_HANDSHAKES_PER_TURN).min(burst);
            assert!(eventually(|| answered(&clients) == expected), "turn {turn}: {} answered", answered(&clients));
        }
        assert!(l.yielded.is_empty());
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// Loopback delivery is quick but not part of the call: wait for it, with a deadline.
    fn eventually(mut check: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !check() {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }

    #[test]
    fn a_failed_listener_registration_is_retried_not_ignored() {
        let root = std::env::temp_dir().join(format!("evserve-server-unit-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let mut l = event_loop(&root);
        l.pause_accepting(None);
        // A regular file cannot join an epoll set: its registration fails (EPERM).
        let file = std::os::fd::OwnedFd::from(std::fs::File::open(root.join(".")).unwrap());
        let fake = Listener::Tcp(mio::net::TcpListener::from_std(std::net::TcpListener::from(file)));
        let real = std::mem::replace(&mut l.listeners[0], fake);
        l.resume_accepting();
        assert!(!l.accepting);
        let retry = l.accept_retry.expect("a retry is scheduled");
        assert!(l.poll_timeout().is_some_and(|t| t <= ACCEPT_RETRY + Duration::from_millis(1)));
        // The listener can be watched again: the retry resumes accepting.
        l.listeners[0] = real;
        l.cx.now = retry;
        l.resume_accepting();
        assert!(l.accepting && l.accept_retry.is_none());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
