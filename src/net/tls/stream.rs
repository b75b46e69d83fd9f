//! `TlsStream`: TLS over a non-blocking socket, with buffers from the loop's pool: rustls's
//! unbuffered server connection for the handshake, then our record layer (`records`) with
//! the keys rustls hands over (see `Engine`).
//!
//! Edge-triggered readiness announces only what the kernel holds, so the stream reports
//! through hooks what it holds itself: plaintext already decrypted or whole records not yet
//! processed (`has_buffered_input`), and TLS bytes it queued on its own, such as handshake
//! flights, session tickets, alerts or a `close_notify` (`wants_write`, `flush_own`).
//!
//! Reads go on until the caller's buffer is full, the socket would block, or the peer is
//! done, so a short read proves the socket drained, as on plain TCP. Writes keep plaintext
//! until a record is full or a flush point (`write`, the end of a `send_file` range), and
//! the socket gets several records per `write(2)`.
//!
//! kTLS: this kernel has none, so records are sealed in user space. A kernel path would
//! take the keys at the moment `Records` does (`setsockopt(TCP_ULP "tls")` + `TLS_TX`/
//! `TLS_RX`), after which `send_file` is plain `sendfile(2)` and `read` sees plaintext.
//! Nothing of it ships here: it cannot be tested.
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{ConnectionState, EncodeError, EncodeTlsData, UnbufferedStatus};
use rustls::{CipherSuite, HandshakeKind, ProtocolVersion, ServerConfig};

use super::config::{ALPN_H2, ALPN_HTTP11};
use super::pool::{Chunk, Kind, OUTPUT_SIZE, RECORD, RECORD_WIRE, RECORDS_PER_WRITE, SMALL_INPUT_SIZE, SharedPool};
use super::records::{Content, Opened, Records};

/// The content type of a TLS handshake record: every ClientHello starts with it.
const HANDSHAKE_RECORD: u8 = 0x16;

/// Most rustls states handled in one call before giving up (a guard, never reached).
const MAX_STEPS: usize = 64;

/// Why a `TlsStream` stopped: carried inside the `io::Error` (kind `InvalidData`).
#[derive(Debug)]
pub enum StreamError {
    /// The first bytes look like a plaintext HTTP request: answer with
    /// `plain_http_refusal` (the stream now passes bytes through raw) and close.
    PlainHttp,
    /// The first bytes are not a TLS handshake record: close at once.
    NotTls,
    /// rustls refused the peer's records (an alert has been queued and sent if it could be).
    Tls(rustls::Error),
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamError::PlainHttp => f.write_str("plaintext HTTP on the HTTPS port"),
            StreamError::NotTls => f.write_str("not a TLS ClientHello"),
            StreamError::Tls(e) => write!(f, "TLS: {e}"),
        }
    }
}

impl std::error::Error for StreamError {}

/// The `StreamError` inside an error returned by a `TlsStream`, if it is one.
pub fn stream_error(err: &io::Error) -> Option<&StreamError> {
    err.get_ref()?.downcast_ref::<StreamError>()
}

/// True when `err` says the peer spoke plaintext HTTP to the HTTPS port.
pub fn is_plain_http(err: &io::Error) -> bool {
    matches!(stream_error(err), Some(StreamError::PlainHttp))
}

fn error(e: StreamError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

fn would_block() -> io::Error {
    io::ErrorKind::WouldBlock.into()
}

/// The socket below a `TlsStream`: bytes both ways and a half-close.
pub trait Socket: Read + Write {
    fn shutdown_write(&mut self) -> io::Result<()>;
}

impl Socket for std::net::TcpStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}

impl Socket for mio::net::TcpStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}

/// The buffers rustls does not borrow while it runs.
struct Buffers {
    pool: SharedPool,
    /// Decrypted bytes not yet read.
    plain_in: Chunk,
    /// Bytes written and not yet encrypted (at most one record's worth).
    plain_out: Chunk,
    /// Encrypted bytes waiting for the socket.
    outgoing: Chunk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Tls,
    /// Plaintext HTTP arrived: bytes pass through raw so the refusal can be sent.
    Raw,
    /// The connection is unusable; every call fails.
    Failed,
}

/// Who handles the records. rustls's state (over a kilobyte, and more it allocates) is
/// made only once a whole first record is in, so a half-sent ClientHello costs its bytes;
/// once the handshake is done, rustls hands the keys to our record layer and is dropped.
enum Engine {
    /// No whole record has arrived yet.
    Waiting(Arc<ServerConfig>),
    /// The handshake.
    Rustls(Box<UnbufferedServerConnection>),
    /// Application data.
    Records(Box<Established>),
    /// The connection failed: no TLS state is kept.
    Gone,
}

/// What the handshake agreed, kept for `--trace` and the choice of HTTP/2.
#[derive(Clone, Copy)]
struct Session {
    version: ProtocolVersion,
    suite: CipherSuite,
    alpn: Option<&'static [u8]>,
    resumed: bool,
}

impl Session {
    fn of(conn: &UnbufferedServerConnection) -> Option<Session> {
        if conn.is_handshaking() {
            return None;
        }
        let alpn = [ALPN_H2, ALPN_HTTP11].into_iter().find(|known| conn.alpn_protocol() == Some(known));
        Some(Session {
            version: conn.protocol_version()?,
            suite: conn.negotiated_cipher_suite()?.suite(),
            alpn,
            resumed: conn.handshake_kind() == Some(HandshakeKind::Resumed),
        })
    }
}

struct Established {
    records: Records,
    session: Session,
}

/// What processing the buffered TLS bytes came to.
enum Step {
    /// Plaintext was added to `plain_in`.
    Plain,
    /// More bytes from the peer are needed.
    NeedInput,
    /// The peer sent `close_notify`.
    Closed,
}

pub struct TlsStream<S> {
    io: S,
    engine: Engine,
    /// TLS bytes read from the socket and not yet processed (rustls borrows them).
    incoming: Chunk,
    bufs: Buffers,
    mode: Mode,
    /// `incoming` holds only part of a record: nothing happens until the socket has more.
    incomplete: bool,
    first_byte_seen: bool,
    /// The peer is done (close_notify or FIN); `eof_reported` once `read` said so.
    peer_closed: bool,
    eof_reported: bool,
    /// A close_notify is queued: half-close the socket once `outgoing` is out.
    closing: bool,
    write_shut: bool,
}

impl<S: Socket> TlsStream<S> {
    pub fn new(io: S, config: Arc<ServerConfig>, pool: SharedPool) -> io::Result<Self> {
        Ok(TlsStream {
            io,
            engine: Engine::Waiting(config),
            incoming: Chunk::default(),
            bufs: Buffers { pool, plain_in: Chunk::default(), plain_out: Chunk::default(), outgoing: Chunk::default() },
            mode: Mode::Tls,
            incomplete: false,
            first_byte_seen: false,
            peer_closed: false,
            eof_reported: false,
            closing: false,
            write_shut: false,
        })
    }

    pub fn get_ref(&self) -> &S {
        &self.io
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// What the handshake agreed, once it is done.
    fn session(&self) -> Option<Session> {
        match &self.engine {
            _ if self.mode != Mode::Tls => None,
            Engine::Rustls(conn) => Session::of(conn),
            Engine::Records(established) => Some(established.session),
            Engine::Waiting(_) | Engine::Gone => None,
        }
    }

    /// Still in the handshake (the loop caps how many of these it drives per turn).
    pub fn is_handshaking(&self) -> bool {
        // A plaintext or refused peer is no handshake in progress (and no longer costs the
        // loop's per-turn handshake budget).
        self.mode == Mode::Tls && self.session().is_none()
    }

    /// The handshake is done and chose HTTP/2 by ALPN.
    pub fn speaks_h2(&self) -> bool {
        self.session().is_some_and(|session| session.alpn == Some(ALPN_H2))
    }

    /// For `--trace`, once the handshake is done: version, suite, ALPN, full or resumed.
    pub fn handshake_summary(&self) -> Option<String> {
        let Session { version, suite, alpn, resumed } = self.session()?;
        let alpn = alpn.map_or("none".into(), String::from_utf8_lossy);
        let kind = if resumed { "resumed" } else { "full" };
        Some(format!("{version:?} {suite:?} alpn={alpn} {kind}"))
    }

    /// Bytes of pooled buffers this connection holds now (0 when idle).
    pub fn buffer_bytes(&self) -> usize {
        self.incoming.capacity()
            + self.bufs.plain_in.capacity()
            + self.bufs.plain_out.capacity()
            + self.bufs.outgoing.capacity()
    }

    /// A short read or write proves the socket drained (the stream reads and writes
    /// until its buffers are full or the socket would block).
    pub fn drains_on_short_io(&self) -> bool {
        // In raw mode a read first hands back the bytes the TLS layer had already taken from
        // the socket: short, yet the socket was not asked.
        self.mode != Mode::Raw
    }

    /// Input is waiting inside the stream: `read` again without waiting for an edge.
    pub fn has_buffered_input(&self) -> bool {
        match self.mode {
            Mode::Tls => {
                !self.bufs.plain_in.is_empty()
                    || (self.peer_closed && !self.eof_reported)
                    || (!self.peer_closed && !self.incomplete && !self.incoming.is_empty())
            }
            Mode::Raw => !self.incoming.is_empty(),
            Mode::Failed => false,
        }
    }

    /// The stream holds bytes to send that no `write` of the caller will push out:
    /// call `flush_own` (now, and again on the next writable edge if it says so).
    pub fn wants_write(&self) -> bool {
        self.mode != Mode::Failed
            && (!self.bufs.outgoing.is_empty() || !self.bufs.plain_out.is_empty() || (self.closing && !self.write_shut))
    }

    /// Sends what the stream holds. `Ok(true)` once everything is out.
    pub fn flush_own(&mut self) -> io::Result<bool> {
        if self.mode == Mode::Tls {
            self.seal_plain()?;
        }
        self.send_outgoing()
    }

    /// The Host of the plaintext request seen before `StreamError::PlainHttp`, for
    /// `plain_http_refusal` (None when absent from the bytes read, or not a plain name).
    pub fn plain_http_host(&self) -> Option<String> {
        super::host_of_plain_request(self.incoming.data())
    }

    /// Half-close for a lingering close: queues a `close_notify` (after any buffered
    /// plaintext) and shuts the socket's sending side once they are out; until then
    /// `wants_write` says so.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        match self.mode {
            Mode::Tls if !self.closing => {
                self.closing = true;
                // Before the handshake ends there is nothing to protect: only the half-close.
                if !self.is_handshaking() {
                    self.seal_plain()?;
                    self.seal(Seal::CloseNotify)?;
                }
                self.send_outgoing().map(drop)
            }
            Mode::Tls => self.send_outgoing().map(drop),
            Mode::Raw => {
                self.write_shut = true;
                self.io.shutdown_write()
            }
            Mode::Failed => Ok(()),
        }
    }

    /// Writes bytes that a file body follows: they wait for the body to fill the record.
    pub fn write_more(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.mode {
            Mode::Tls => self.accept_plain(buf, false),
            Mode::Raw => self.io.write(buf),
            Mode::Failed => Err(self.failed()),
        }
    }

    /// Encrypts up to `len` bytes of `file` from `offset` into full records (`pread` into
    /// a pooled buffer), writing several records per `write(2)`. The end of the range is a
    /// flush point. Returns the file bytes taken; `Ok(0)` when the file ended early.
    pub fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        match self.mode {
            Mode::Tls if self.closing => return Err(io::ErrorKind::BrokenPipe.into()),
            Mode::Tls => {}
            Mode::Raw => return self.send_file_raw(file, offset, len),
            Mode::Failed => return Err(self.failed()),
        }
        self.settle()?;
        let mut taken = 0;
        let mut ended = false;
        while taken < len {
            if !self.room_for_a_record()? {
                break;
            }
            let Engine::Records(established) = &mut self.engine else { unreachable!("settled above") };
            match self.bufs.seal_from_file(&mut established.records, file, offset + taken as u64, len - taken) {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(n) => taken += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if taken == len {
            self.seal_plain()?;
            self.send_outgoing()?;
        }
        if taken == 0 && len > 0 && !ended {
            return Err(would_block());
        }
        Ok(taken)
    }

    fn send_file_raw(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        let mut chunk = [0u8; 4096];
        let n = file.read_at(&mut chunk[..len.min(4096)], offset)?;
        if n == 0 {
            return Ok(0);
        }
        self.io.write(&chunk[..n])
    }

    fn failed(&self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, "the TLS connection failed")
    }

    /// Takes plaintext into records; at a flush point the last partial record is sealed
    /// too and everything is offered to the socket.
    fn accept_plain(&mut self, buf: &[u8], flush_point: bool) -> io::Result<usize> {
        if self.closing {
            // Nothing may follow a close_notify.
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let mut taken = 0;
        while taken < buf.len() {
            if !self.room_for_a_record()? {
                break;
            }
            self.bufs.plain_out.hold(&self.bufs.pool, Kind::Plain);
            let n = self.bufs.plain_out.spare_len().min(buf.len() - taken);
            self.bufs.plain_out.spare()[..n].copy_from_slice(&buf[taken..taken + n]);
            self.bufs.plain_out.filled(n);
            taken += n;
            if self.bufs.plain_out.len() >= RECORD {
                self.seal_plain()?;
            }
        }
        if flush_point && taken == buf.len() {
            self.seal_plain()?;
            self.send_outgoing()?;
        }
        if taken == 0 && !buf.is_empty() {
            return Err(would_block());
        }
        Ok(taken)
    }

    /// Makes sure `outgoing` can take one more full record, writing to the socket if it
    /// cannot. `Ok(false)`: the socket would block and there is no room.
    fn room_for_a_record(&mut self) -> io::Result<bool> {
        if self.bufs.outgoing.len() + RECORD_WIRE <= OUTPUT_SIZE {
            return Ok(true);
        }
        self.send_outgoing()?;
        Ok(self.bufs.outgoing.len() + RECORD_WIRE <= OUTPUT_SIZE)
    }

    /// Writes `outgoing` until it is empty or the socket would block; then half-closes
    /// if a close was asked for. `Ok(true)` when nothing is left.
    fn send_outgoing(&mut self) -> io::Result<bool> {
        while !self.bufs.outgoing.is_empty() {
            match self.io.write(self.bufs.outgoing.data()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.bufs.outgoing.consume(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        self.bufs.outgoing.release(&self.bufs.pool);
        if self.closing && !self.write_shut {
            self.write_shut = true;
            self.io.shutdown_write()?;
        }
        Ok(true)
    }

    /// Encrypts the buffered plaintext into `outgoing`.
    fn seal_plain(&mut self) -> io::Result<()> {
        if !self.bufs.plain_out.is_empty() {
            self.seal(Seal::Plain)?;
            self.bufs.plain_out.consume(self.bufs.plain_out.len());
        }
        self.bufs.plain_out.release(&self.bufs.pool);
        Ok(())
    }

    /// Seals `what` into `outgoing`, once the handshake has settled.
    fn seal(&mut self, what: Seal) -> io::Result<()> {
        self.settle()?;
        let Engine::Records(established) = &mut self.engine else { unreachable!("settled above") };
        self.bufs.seal(&mut established.records, what).map_err(io::Error::other)
    }

    /// Runs rustls to the end of the handshake (queuing TLS bytes of its own, and keeping
    /// any plaintext it decrypts on the way), then hands its keys to the record layer.
    fn settle(&mut self) -> io::Result<()> {
        for _ in 0..MAX_STEPS {
            let conn = match &mut self.engine {
                Engine::Records(_) => return Ok(()),
                Engine::Rustls(conn) => conn,
                Engine::Waiting(_) | Engine::Gone => {
                    return Err(io::Error::new(io::ErrorKind::NotConnected, "TLS handshake not complete"));
                }
            };
            // rustls must always see the same input buffer: it remembers positions in it.
            let UnbufferedStatus { discard, state } = conn.process_tls_records(self.incoming.data_mut());
            let mut records_discard = 0;
            let outcome = match state.and_then(|state| absorb(state, &mut self.bufs, &mut records_discard)) {
                Err(e) => Err(e),
                Ok(None) => Ok(false),
                Ok(Some(ConnectionState::WriteTraffic(_))) => Ok(true),
                Ok(Some(ConnectionState::PeerClosed)) => {
                    self.peer_closed = true;
                    Ok(false)
                }
                Ok(Some(ConnectionState::Closed)) => return Err(io::ErrorKind::BrokenPipe.into()),
                Ok(Some(ConnectionState::BlockedHandshake)) => {
                    return Err(io::Error::new(io::ErrorKind::NotConnected, "TLS handshake not complete"));
                }
                Ok(Some(_)) => Err(unexpected_state()),
            };
            self.incoming.consume(discard + records_discard);
            match outcome {
                Ok(true) => self.hand_keys_to_records()?,
                Ok(false) => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
        Err(io::Error::other("TLS state machine did not settle"))
    }

    /// The handshake is done: rustls hands its keys to our record layer and goes.
    fn hand_keys_to_records(&mut self) -> io::Result<()> {
        let Engine::Rustls(conn) = std::mem::replace(&mut self.engine, Engine::Gone) else {
            unreachable!("only rustls's state becomes records")
        };
        let session = Session::of(&conn).expect("the handshake is done");
        let records_per_key = self.bufs.pool.borrow().records_per_key;
        let records = conn.dangerous_into_kernel_connection();
        match records.and_then(|(secrets, kernel)| Records::new(secrets, kernel, records_per_key)) {
            Ok(records) => {
                self.engine = Engine::Records(Box::new(Established { records, session }));
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Processes buffered TLS records until plaintext appears, more input is needed, or
    /// the peer closes; queues (and offers to the socket) whatever rustls sends back.
    fn step(&mut self) -> io::Result<Step> {
        if let Engine::Waiting(config) = &self.engine {
            if !record_in(self.incoming.data()) {
                return Ok(Step::NeedInput);
            }
            let conn = UnbufferedServerConnection::new(config.clone()).map_err(|e| error(StreamError::Tls(e)))?;
            self.engine = Engine::Rustls(Box::new(conn));
        }
        for _ in 0..MAX_STEPS {
            let conn = match &mut self.engine {
                Engine::Rustls(conn) => conn,
                Engine::Records(_) => return self.open_records(),
                Engine::Waiting(_) | Engine::Gone => unreachable!("made above, or failed"),
            };
            let UnbufferedStatus { discard, state } = conn.process_tls_records(self.incoming.data_mut());
            let mut records_discard = 0;
            // rustls has sent all it had to: its keys can go to the record layer.
            let mut done = false;
            let outcome = match state.and_then(|state| absorb(state, &mut self.bufs, &mut records_discard)) {
                Err(e) => Err(e),
                Ok(None) if !self.bufs.plain_in.is_empty() => Ok(Some(Step::Plain)),
                Ok(None) => Ok(None),
                Ok(Some(ConnectionState::BlockedHandshake)) => Ok(Some(Step::NeedInput)),
                Ok(Some(ConnectionState::WriteTraffic(_))) => {
                    done = true;
                    Ok(None)
                }
                Ok(Some(ConnectionState::PeerClosed | ConnectionState::Closed)) => Ok(Some(Step::Closed)),
                Ok(Some(_)) => Err(unexpected_state()),
            };
            self.incoming.consume(discard + records_discard);
            match outcome {
                Err(e) => return Err(self.fail(e)),
                Ok(Some(step)) => {
                    if !self.bufs.outgoing.is_empty() {
                        self.send_outgoing()?;
                    }
                    return Ok(step);
                }
                Ok(None) if done => {
                    self.hand_keys_to_records()?;
                    if !self.bufs.outgoing.is_empty() {
                        self.send_outgoing()?; // the handshake's last flight
                    }
                }
                Ok(None) => {}
            }
        }
        Err(io::Error::other("TLS state machine did not settle"))
    }

    /// Opens the whole records in `incoming` until one brings plaintext, the peer closes,
    /// or only part of a record is left.
    fn open_records(&mut self) -> io::Result<Step> {
        loop {
            let Engine::Records(established) = &mut self.engine else { unreachable!("records only") };
            let records = &mut established.records;
            let len = match records.record_len(self.incoming.data()) {
                Ok(Some(len)) if len <= self.incoming.len() => len,
                Ok(_) => return Ok(Step::NeedInput),
                Err(e) => return Err(self.fail(e)),
            };
            let opened = records.open(&mut self.incoming.data_mut()[..len]);
            let step = match opened {
                Ok(Opened::Data(range)) if !range.is_empty() => {
                    let plain = &self.incoming.data()[range];
                    self.bufs.plain_in.push(&self.bufs.pool, Kind::Plain, plain);
                    Some(Step::Plain)
                }
                Ok(Opened::Data(_) | Opened::Control) => None,
                Ok(Opened::Closed) => Some(Step::Closed),
                Err(e) => return Err(self.fail(e)),
            };
            self.incoming.consume(len);
            if let Some(step) = step {
                return Ok(step);
            }
        }
    }

    /// rustls refused the peer: send the alert it queued, if the socket takes it, and
    /// stop. rustls is run only while it has messages queued (it hands those out before
    /// it looks at input again), so it never parses more of a peer it gave up on.
    fn fail(&mut self, e: rustls::Error) -> io::Error {
        for _ in 0..MAX_STEPS {
            let Engine::Rustls(conn) = &mut self.engine else { break };
            if !conn.wants_write() {
                break;
            }
            let UnbufferedStatus { discard, state } = conn.process_tls_records(self.incoming.data_mut());
            let encoded = match state {
                Ok(ConnectionState::EncodeTlsData(encode)) => {
                    encode_into(encode, &mut self.bufs.outgoing, &self.bufs.pool);
                    true
                }
                _ => false,
            };
            self.incoming.consume(discard);
            if !encoded {
                break;
            }
        }
        let _ = self.send_outgoing();
        self.mode = Mode::Failed;
        self.engine = Engine::Gone;
        self.incoming.consume(self.incoming.len());
        self.incoming.release(&self.bufs.pool);
        error(StreamError::Tls(e))
    }

    /// One `read(2)` into `incoming`, a small buffer until a read fills it (then its bytes
    /// move to a big one). Checks the first byte of the connection.
    fn fill_incoming(&mut self) -> io::Result<usize> {
        if self.incoming.len() == SMALL_INPUT_SIZE {
            self.incoming.move_to(&self.bufs.pool, Kind::Input);
        }
        self.incoming.make_room(&self.bufs.pool, Kind::SmallInput, 1);
        let n = self.io.read(self.incoming.spare())?;
        self.incoming.filled(n);
        if n > 0 && !self.first_byte_seen {
            self.first_byte_seen = true;
            let first = self.incoming.data()[0];
            if first != HANDSHAKE_RECORD {
                return Err(self.refuse_first_byte(first));
            }
        }
        Ok(n)
    }

    fn refuse_first_byte(&mut self, first: u8) -> io::Error {
        if first.is_ascii_uppercase() {
            self.mode = Mode::Raw;
            error(StreamError::PlainHttp)
        } else {
            self.mode = Mode::Failed;
            error(StreamError::NotTls)
        }
    }

    fn read_tls(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        loop {
            n += self.bufs.plain_in.take_into(&mut buf[n..]);
            self.bufs.plain_in.release(&self.bufs.pool);
            if n == buf.len() {
                return Ok(n);
            }
            if self.peer_closed {
                self.eof_reported = n == 0;
                self.incoming.release(&self.bufs.pool);
                return Ok(n);
            }
            if !self.incomplete {
                match self.step()? {
                    Step::Plain => continue,
                    Step::NeedInput => self.incomplete = true,
                    Step::Closed => {
                        self.peer_closed = true;
                        continue;
                    }
                }
            }
            match self.fill_incoming() {
                // A FIN without close_notify is an ordinary end of the stream.
                Ok(0) => self.peer_closed = true,
                Ok(_) => self.incomplete = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.incoming.release(&self.bufs.pool);
                    let drained = e.kind() == io::ErrorKind::WouldBlock;
                    return if n > 0 && (drained || stream_error(&e).is_none()) { Ok(n) } else { Err(e) };
                }
            }
        }
    }

    /// Raw mode: the bytes read before the switch first, then the socket.
    fn read_raw(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.incoming.is_empty() {
            let n = self.incoming.take_into(buf);
            self.incoming.release(&self.bufs.pool);
            return Ok(n);
        }
        self.io.read(buf)
    }
}

#[derive(Clone, Copy)]
enum Seal {
    Plain,
    CloseNotify,
}

type State<'c, 'i> = ConnectionState<'c, 'i, ServerConnectionData>;

/// True when `bytes` start with a whole TLS record, or with a header no record can have
/// (rustls refuses that at once, rather than after the bytes it announces).
fn record_in(bytes: &[u8]) -> bool {
    let Some(header) = bytes.first_chunk::<5>() else { return false };
    let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
    bytes.len() >= 5 + len || 5 + len > super::pool::INPUT_SIZE
}

fn unexpected_state() -> rustls::Error {
    rustls::Error::General("unexpected TLS state (early data is off)".into())
}

/// Handles the states that only move bytes: plaintext into `plain_in`, rustls's own
/// messages into `outgoing`. Returns the others to the caller.
/// `discarded` grows by what read records say to drop from the input beyond the status's
/// own count (rustls documents that both must be consumed).
fn absorb<'c, 'i>(
    state: State<'c, 'i>,
    bufs: &mut Buffers,
    discarded: &mut usize,
) -> Result<Option<State<'c, 'i>>, rustls::Error> {
    match state {
        ConnectionState::ReadTraffic(mut traffic) => {
            while let Some(record) = traffic.next_record() {
                let record = record?;
                *discarded += record.discard;
                bufs.plain_in.push(&bufs.pool, Kind::Plain, record.payload);
            }
            Ok(None)
        }
        ConnectionState::EncodeTlsData(encode) => {
            encode_into(encode, &mut bufs.outgoing, &bufs.pool);
            Ok(None)
        }
        ConnectionState::TransmitTlsData(transmit) => {
            // The bytes are in `outgoing`, which goes out in order before anything later.
            transmit.done();
            Ok(None)
        }
        other => Ok(Some(other)),
    }
}

impl Buffers {
    /// Seals `what` into `outgoing`: the plaintext is copied once, into the payload area
    /// of its record, and sealed there.
    fn seal(&mut self, records: &mut Records, what: Seal) -> Result<(), rustls::Error> {
        let (len, content) = match what {
            Seal::Plain => (self.plain_out.len(), Content::ApplicationData),
            Seal::CloseNotify => (2, Content::Alert),
        };
        self.outgoing.make_room(&self.pool, Kind::Output, records.sealed_len(len));
        let at = records.prefix();
        let payload = &mut self.outgoing.spare()[at..at + len];
        match what {
            Seal::Plain => payload.copy_from_slice(self.plain_out.data()),
            Seal::CloseNotify => payload.copy_from_slice(&[1, 0]), // warning, close_notify
        }
        let sealed = records.seal(self.outgoing.spare(), len, content)?;
        self.outgoing.filled(sealed);
        Ok(())
    }

    /// Seals records of up to `len` file bytes from `offset`, read straight into their
    /// payload areas (one `preadv` for as many whole records as `outgoing` has room for),
    /// the first behind any plaintext already written (a response head). Returns the file
    /// bytes taken; 0 at the end of the file.
    fn seal_from_file(&mut self, records: &mut Records, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        self.outgoing.make_room(&self.pool, Kind::Output, records.sealed_len(RECORD));
        let (at, head) = (records.prefix(), self.plain_out.len());
        // Whole records side by side; a KeyUpdate's record would shift those behind it, so
        // none goes past the one that puts it first.
        let slot = records.wire_len(RECORD);
        let under_key = usize::try_from(records.records_under_this_key()).unwrap_or(usize::MAX);
        let count = (self.outgoing.spare_len() / slot).min(under_key).clamp(1, RECORDS_PER_WRITE);
        let spare = self.outgoing.spare();
        spare[at..at + head].copy_from_slice(self.plain_out.data());
        let mut payloads: [io::IoSliceMut<'_>; RECORDS_PER_WRITE] =
            std::array::from_fn(|_| io::IoSliceMut::new(&mut []));
        let (mut left, mut used) = (len, 0);
        for (record, payload) in spare.chunks_mut(slot).take(count).zip(&mut payloads) {
            let from = at + if used == 0 { head } else { 0 };
            let want = (at + RECORD - from).min(left);
            *payload = io::IoSliceMut::new(&mut record[from..from + want]);
            (left, used) = (left - want, used + 1);
            if left == 0 {
                break;
            }
        }
        let n = rustix::io::preadv(file, &mut payloads[..used], offset)?;
        if n == 0 {
            return Ok(0);
        }
        self.plain_out.consume(head);
        self.plain_out.release(&self.pool);
        // Every record but the last read is whole, so the sealed records lie end to end.
        let mut plain = head + n;
        while plain > 0 {
            let this = plain.min(RECORD);
            let sealed =
                records.seal(self.outgoing.spare(), this, Content::ApplicationData).map_err(io::Error::other)?;
            self.outgoing.filled(sealed);
            plain -= this;
        }
        Ok(n)
    }
}

/// Copies a TLS message rustls produced (handshake, ticket, alert) into `outgoing`.
fn encode_into(mut encode: EncodeTlsData<'_, ServerConnectionData>, out: &mut Chunk, pool: &SharedPool) {
    out.make_room(pool, Kind::Output, RECORD_WIRE.min(OUTPUT_SIZE));
    loop {
        match encode.encode(out.spare()) {
            Ok(n) => return out.filled(n),
            Err(EncodeError::InsufficientSize(e)) => out.make_room(pool, Kind::Output, e.required_size),
            Err(EncodeError::AlreadyEncoded) => return,
        }
    }
}

impl<S: Socket> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self.mode {
            Mode::Tls => self.read_tls(buf),
            Mode::Raw => self.read_raw(buf),
            Mode::Failed => Err(self.failed()),
        }
    }
}

impl<S: Socket> Write for TlsStream<S> {
    /// Takes `buf` as the end of what is to be sent now: seals it (with any buffered
    /// plaintext) and offers it to the socket. Returns what was taken; `WouldBlock` only
    /// when nothing could be, because the socket would block.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.mode {
            Mode::Tls => self.accept_plain(buf, true),
            Mode::Raw => self.io.write(buf),
            Mode::Failed => Err(self.failed()),
        }
    }

    /// Like `flush_own`, but `WouldBlock` while bytes are left.
    fn flush(&mut self) -> io::Result<()> {
        if self.flush_own()? { Ok(()) } else { Err(would_block()) }
    }
}
