//! The byte streams a connection is served over, and the listening sockets they come from.
//! `Transport` is the seam between the HTTP state machine (`connection`) and the wire: TCP
//! and Unix-domain streams (sendfile, MSG_MORE, half-close), and TLS over TCP. Its
//! hooks default to what is true of a plain socket; a layer that buffers bytes of its own
//! (TLS holds decrypted input and encrypted output) overrides them, so the connection
//! never assumes what only TCP promises.
use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use rustls::ServerConfig;

use crate::net::tls::{self, SharedPool, TlsStream};
use crate::util::map::Span;
use std::sync::Arc;

/// A stream the connection can serve over. The defaults work for any `Read + Write` that
/// keeps no bytes of its own; the TCP stream overrides `send_file` with `sendfile(2)`.
pub trait Transport: Read + Write {
    /// Sends up to `len` bytes of `file` from `offset`, returning how many went out.
    /// `Ok(0)` means the file ended early.
    fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = file.read_at(&mut chunk[..len.min(16 * 1024)], offset)?;
        if n == 0 {
            return Ok(0);
        }
        self.write(&chunk[..n])
    }

    /// Writes bytes that a file body will follow at once: the TCP stream says so
    /// (`MSG_MORE`) so the head and the body's first bytes share segments.
    fn write_more(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write(buf)
    }

    /// Writes `head` then `body`, as much of the two as goes now, returning how many bytes
    /// went out (as `writev` does: a socket overrides it with one). The default writes the
    /// head as bytes the body follows (`write_more`: TLS fills its records on), then the
    /// body; an error after some bytes went out is met again by the next write.
    fn write_pair(&mut self, head: &[u8], body: &[u8]) -> io::Result<usize> {
        let n = if head.is_empty() { 0 } else { self.write_more(head)? };
        if n < head.len() {
            return Ok(n);
        }
        match self.write(body) {
            Ok(m) => Ok(n + m),
            Err(_) if n > 0 => Ok(n),
            Err(e) => Err(e),
        }
    }

    /// Half-closes the sending side (for a lingering close).
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Writes `pieces` in order, as much as goes now, returning how many bytes went out.
    /// Only a transport that `gathers` takes mapped pieces: the default writes ours with
    /// `write_vectored` and refuses a mapped one (it would have to read it).
    fn write_pieces(&mut self, pieces: &[Piece<'_>]) -> io::Result<usize> {
        let mut slices = [IoSlice::new(&[]); MAX_PIECES];
        for (slice, piece) in slices.iter_mut().zip(pieces) {
            match piece {
                Piece::Bytes(bytes) => *slice = IoSlice::new(bytes),
                Piece::Mapped(_) => return Err(io::ErrorKind::Unsupported.into()),
            }
        }
        self.write_vectored(&slices[..pieces.len().min(MAX_PIECES)])
    }

    /// `write_pieces` sends every piece in one call (`writev`), mapped ones included, so a
    /// buffer with gaps in it costs nothing more to write. TLS would cut a record at each
    /// piece instead, and would have to read the mapped ones itself.
    fn gathers(&self) -> bool {
        false
    }

    /// A read or write that moved fewer bytes than asked means the socket is drained (or
    /// full) and only a new readiness edge will change that (epoll(7)). True of a socket;
    /// a layer whose short reads are record boundaries says false, and is read until
    /// WouldBlock instead.
    fn drains_on_short_io(&self) -> bool {
        true
    }

    /// Input is buffered below the connection (decrypted, not yet read) that no readiness
    /// edge will announce: the connection keeps reading, and is driven again without an
    /// event. True only while a read would return bytes at once.
    fn has_buffered_input(&self) -> bool {
        false
    }

    /// The transport holds bytes of its own to send (encrypted records, a close_notify):
    /// the connection counts them as output and calls `flush_own` before it reports idle
    /// or closes.
    fn wants_write(&self) -> bool {
        false
    }

    /// Writes the transport's own pending bytes: Ok(true) once none are left, Ok(false)
    /// when the socket is full (wait for writability).
    fn flush_own(&mut self) -> io::Result<bool> {
        Ok(true)
    }

    /// Bytes to send unencrypted in answer to a read error, before a lingering close
    /// (TLS: plaintext HTTP on the HTTPS port gets a plain 400 saying so). None: just close.
    fn answer_to(&mut self, _err: &io::Error) -> Option<Vec<u8>> {
        None
    }

    /// The carrier agreed on HTTP/2 before the first byte (TLS's ALPN said `h2`).
    fn speaks_h2(&self) -> bool {
        false
    }
}

/// The most pieces one `write_pieces` takes; more wait for the next call.
pub const MAX_PIECES: usize = 32;

/// A piece of output: bytes of ours, or bytes of a mapped file that only the kernel reads.
#[derive(Debug, Clone, Copy)]
pub enum Piece<'a> {
    Bytes(&'a [u8]),
    Mapped(Span<'a>),
}

impl Piece<'_> {
    pub fn len(&self) -> usize {
        match self {
            Piece::Bytes(bytes) => bytes.len(),
            Piece::Mapped(span) => span.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `writev` of up to `MAX_PIECES` pieces on a kernel socket.
#[allow(unsafe_code)]
fn writev(fd: BorrowedFd<'_>, pieces: &[Piece<'_>]) -> io::Result<usize> {
    let mut iovecs = [libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; MAX_PIECES];
    for (iovec, piece) in iovecs.iter_mut().zip(pieces) {
        *iovec = match piece {
            Piece::Bytes(bytes) => libc::iovec { iov_base: bytes.as_ptr().cast_mut().cast(), iov_len: bytes.len() },
            Piece::Mapped(span) => span.iovec(),
        };
    }
    let count = pieces.len().min(MAX_PIECES);
    // SAFETY: `fd` is an open socket borrowed for the call. Each of the `count` iovecs
    // describes a slice or a mapped span borrowed for the call, which `writev` only reads.
    // A mapped page the file no longer backs (it was cut shorter) fails the call with
    // EFAULT: the fault is met in the kernel's copy, not by our code, so no signal.
    let n = unsafe { libc::writev(fd.as_raw_fd(), iovecs.as_ptr(), count as libc::c_int) };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
}

/// A kernel socket: the body goes from the page cache to the socket without passing through
/// user space (`sendfile`; Linux takes any socket as its target, so Unix-domain streams too),
/// and bytes a body follows at once are sent with `MSG_MORE`. TCP and Unix streams differ only
/// in setup (a Unix stream has no Nagle to switch off).
macro_rules! socket_transport {
    ($($socket:ty),*) => {$(
        impl Transport for $socket {
            fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
                let mut offset = offset;
                Ok(rustix::fs::sendfile(&*self, file, Some(&mut offset), len)?)
            }

            fn write_more(&mut self, buf: &[u8]) -> io::Result<usize> {
                Ok(rustix::net::send(&*self, buf, rustix::net::SendFlags::MORE)?)
            }

            fn write_pair(&mut self, head: &[u8], body: &[u8]) -> io::Result<usize> {
                self.write_vectored(&[IoSlice::new(head), IoSlice::new(body)])
            }

            fn write_pieces(&mut self, pieces: &[Piece<'_>]) -> io::Result<usize> {
                writev(self.as_fd(), pieces)
            }

            fn shutdown_write(&mut self) -> io::Result<()> {
                self.shutdown(Shutdown::Write)
            }

            fn gathers(&self) -> bool {
                true
            }
        }
    )*};
}

socket_transport!(TcpStream, UnixStream);

/// TLS over any socket: the hooks are the ones `TlsStream` was written for.
impl<S: tls::Socket> Transport for TlsStream<S> {
    fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        TlsStream::send_file(self, file, offset, len)
    }

    fn write_more(&mut self, buf: &[u8]) -> io::Result<usize> {
        TlsStream::write_more(self, buf)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        TlsStream::shutdown_write(self)
    }

    fn drains_on_short_io(&self) -> bool {
        TlsStream::drains_on_short_io(self)
    }

    fn has_buffered_input(&self) -> bool {
        TlsStream::has_buffered_input(self)
    }

    fn wants_write(&self) -> bool {
        TlsStream::wants_write(self)
    }

    fn flush_own(&mut self) -> io::Result<bool> {
        TlsStream::flush_own(self)
    }

    fn answer_to(&mut self, err: &io::Error) -> Option<Vec<u8>> {
        tls::is_plain_http(err).then(|| tls::plain_http_refusal(self.plain_http_host().as_deref()))
    }

    fn speaks_h2(&self) -> bool {
        TlsStream::speaks_h2(self)
    }
}

/// The stream of one accepted connection, whatever carries it: each carrier is one arm,
/// and every method below is one match over them. TLS is boxed: its state (about 1 KiB)
/// would otherwise be paid by every plain connection.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stream::Tcp(s) => s.fmt(f),
            Stream::Unix(s) => s.fmt(f),
            Stream::Tls(s) => f.debug_tuple("Tls").field(s.get_ref()).finish(),
        }
    }
}

/// Applies `$body` to the stream inside whichever arm `$stream` is.
macro_rules! each_arm {
    ($stream:expr, $s:ident => $body:expr) => {
        match $stream {
            Stream::Tcp($s) => $body,
            Stream::Unix($s) => $body,
            Stream::Tls($s) => $body,
        }
    };
}

impl Stream {
    /// An accepted TCP connection. Responses leave in whole writes, so Nagle would only
    /// delay the last packet: it is switched off.
    pub(crate) fn tcp(stream: TcpStream) -> (Stream, io::Result<()>) {
        let nodelay = stream.set_nodelay(true);
        (Stream::Tcp(stream), nodelay)
    }

    /// The same TCP connection, now speaking TLS with `config` (new connections take the
    /// config of the moment; open ones keep theirs across a reload). A Unix stream stays
    /// plain: only TCP listeners speak HTTPS.
    pub(crate) fn into_tls(self, config: Arc<ServerConfig>, pool: SharedPool) -> io::Result<Stream> {
        match self {
            Stream::Tcp(tcp) => Ok(Stream::Tls(Box::new(TlsStream::new(tcp, config, pool)?))),
            other => Ok(other),
        }
    }

    /// The TLS state, when this is a TLS connection.
    pub(crate) fn tls(&self) -> Option<&TlsStream<TcpStream>> {
        match self {
            Stream::Tls(s) => Some(s),
            _ => None,
        }
    }

    /// Before the descriptor is closed: a TLS connection sends its `close_notify` if the
    /// socket takes it at once (best effort: nothing waits for it).
    pub(crate) fn finish(&mut self) {
        if let Stream::Tls(s) = self {
            let _ = s.shutdown_write();
        }
    }
}

impl Read for Stream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        each_arm!(self, s => s.read(buf))
    }
}

impl Write for Stream {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        each_arm!(self, s => s.write(buf))
    }

    #[inline]
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        each_arm!(self, s => s.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        each_arm!(self, s => s.flush())
    }
}

impl Transport for Stream {
    #[inline]
    fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        each_arm!(self, s => s.send_file(file, offset, len))
    }

    #[inline]
    fn write_more(&mut self, buf: &[u8]) -> io::Result<usize> {
        each_arm!(self, s => s.write_more(buf))
    }

    #[inline]
    fn write_pair(&mut self, head: &[u8], body: &[u8]) -> io::Result<usize> {
        each_arm!(self, s => s.write_pair(head, body))
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        each_arm!(self, s => s.shutdown_write())
    }

    #[inline]
    fn write_pieces(&mut self, pieces: &[Piece<'_>]) -> io::Result<usize> {
        each_arm!(self, s => s.write_pieces(pieces))
    }

    #[inline]
    fn gathers(&self) -> bool {
        each_arm!(self, s => s.gathers())
    }

    #[inline]
    fn drains_on_short_io(&self) -> bool {
        each_arm!(self, s => s.drains_on_short_io())
    }

    #[inline]
    fn has_buffered_input(&self) -> bool {
        each_arm!(self, s => s.has_buffered_input())
    }

    #[inline]
    fn wants_write(&self) -> bool {
        each_arm!(self, s => s.wants_write())
    }

    fn flush_own(&mut self) -> io::Result<bool> {
        each_arm!(self, s => s.flush_own())
    }

    fn answer_to(&mut self, err: &io::Error) -> Option<Vec<u8>> {
        each_arm!(self, s => s.answer_to(err))
    }

    fn speaks_h2(&self) -> bool {
        each_arm!(self, s => s.speaks_h2())
    }
}

/// The loop registers a TLS stream as the socket under it.
impl Source for TlsStream<TcpStream> {
    fn register(&mut self, registry: &Registry, token: Token, interests: Interest) -> io::Result<()> {
        self.get_mut().register(registry, token, interests)
    }

    fn reregister(&mut self, registry: &Registry, token: Token, interests: Interest) -> io::Result<()> {
        self.get_mut().reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.get_mut().deregister(registry)
    }
}

/// The loop registers a `Stream` as it would the socket under it.
impl Source for Stream {
    fn register(&mut self, registry: &Registry, token: Token, interests: Interest) -> io::Result<()> {
        each_arm!(self, s => s.register(registry, token, interests))
    }

    fn reregister(&mut self, registry: &Registry, token: Token, interests: Interest) -> io::Result<()> {
        each_arm!(self, s => s.reregister(registry, token, interests))
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        each_arm!(self, s => s.deregister(registry))
    }
}

/// A listening socket: TCP, or a Unix-domain stream socket for a proxy on the same host.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// One accepted client.
pub(crate) struct Accepted {
    pub stream: Stream,
    /// None for a Unix-domain client: it has no address worth logging.
    pub peer: Option<SocketAddr>,
    /// Setting the stream's options failed (reported under `--trace`; it still serves).
    pub setup: io::Result<()>,
}

impl Listener {
    pub(crate) fn accept(&self) -> io::Result<Accepted> {
        match self {
            Listener::Tcp(l) => {
                let (stream, peer) = l.accept()?;
                let (stream, setup) = Stream::tcp(stream);
                Ok(Accepted { stream, peer: Some(peer), setup })
            }
            Listener::Unix(l) => {
                let (stream, _) = l.accept()?;
                Ok(Accepted { stream: Stream::Unix(stream), peer: None, setup: Ok(()) })
            }
        }
    }

    /// The TCP address (with the real port when 0 was asked); None for a Unix socket.
    pub(crate) fn tcp_addr(&self) -> io::Result<Option<SocketAddr>> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(Some),
            Listener::Unix(_) => Ok(None),
        }
    }

    /// Another descriptor for the same socket (so another worker's poll can watch it: the
    /// workers then share its one accept queue).
    pub(crate) fn try_clone(&self) -> io::Result<Listener> {
        let (fd, unix) = match self {
            Listener::Tcp(l) => (rustix::io::fcntl_dupfd_cloexec(l, 0)?, false),
            Listener::Unix(l) => (rustix::io::fcntl_dupfd_cloexec(l, 0)?, true),
        };
        Ok(Listener::from_inherited(fd, unix))
    }

    /// A listening socket handed over by the service manager, already checked to be a
    /// stream socket that listens; `unix` says which family it is.
    pub(crate) fn from_inherited(fd: OwnedFd, unix: bool) -> Listener {
        if unix {
            Listener::Unix(UnixListener::from_std(fd.into()))
        } else {
            Listener::Tcp(TcpListener::from_std(fd.into()))
        }
    }
}

impl Source for Listener {
    fn register(&mut self, registry: &Registry, token: Token, interests: Interest) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.register(registry, token, interests),
            Listener::Unix(l) => l.register(registry, token, interests),
        }
    }

    fn reregister(&mut self, registry: &Registry, token: Token, interests: Interest) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.reregister(registry, token, interests),
            Listener::Unix(l) => l.reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.deregister(registry),
            Listener::Unix(l) => l.deregister(registry),
        }
    }
}

/// A Unix socket file we created: removed when dropped (at exit), unless another file
/// has taken its place since (a second server started on the path after we stopped
/// listening must keep its socket).
#[derive(Debug)]
pub(crate) struct SocketFile {
    path: PathBuf,
    id: (u64, u64),
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.id) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Listens on a Unix-domain stream socket at `path` with file mode `mode`. A stale socket
/// file (nobody accepts on it: connecting is refused) is replaced; a live one is
/// `AddrInUse`; any other file is left alone and refused. The mode is set between `bind`
/// and `listen`, while no one can connect yet.
pub(crate) fn listen_unix(path: &Path, mode: u32) -> io::Result<(UnixListener, SocketFile)> {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let addr = SocketAddrUnix::new(path)?;
    remove_stale_socket(path)?;
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    rustix::net::bind(&fd, &addr)?;
    let meta = std::fs::symlink_metadata(path)?;
    let file = SocketFile { path: path.to_path_buf(), id: (meta.dev(), meta.ino()) };
    rustix::fs::chmod(path, rustix::fs::Mode::from_raw_mode(mode))?;
    rustix::net::listen(&fd, 4096)?;
    Ok((UnixListener::from_std(std::os::unix::net::UnixListener::from(fd)), file))
}

/// Clears the way for `bind` at `path` (see `listen_unix`).
fn remove_stale_socket(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if !m.file_type().is_socket() => {
            Err(io::Error::new(io::ErrorKind::AlreadyExists, "the path exists and is not a socket"))
        }
        Ok(_) => match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => Err(io::Error::new(io::ErrorKind::AddrInUse, "in use: a server accepts on it")),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => std::fs::remove_file(path),
            Err(e) => Err(e),
        },
    }
}

/// A listening socket with the options the design needs, set before `bind`:
/// SO_REUSEPORT lets each worker have its own accept queue; IPV6_V6ONLY off makes `::`
/// serve IPv4 too unless an IPv4 address is also bound on that port.
pub(crate) fn listen(addr: SocketAddr, reuse_port: bool, v6only: bool) -> io::Result<TcpListener> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType, sockopt};
    let family = if addr.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
    let fd = rustix::net::socket_with(family, SocketType::STREAM, SocketFlags::CLOEXEC | SocketFlags::NONBLOCK, None)?;
    sockopt::set_socket_reuseaddr(&fd, true)?;
    if reuse_port {
        sockopt::set_socket_reuseport(&fd, true)?;
    }
    if addr.is_ipv6() {
        sockopt::set_ipv6_v6only(&fd, v6only)?;
    }
    set_defer_accept(std::os::fd::AsFd::as_fd(&fd), 1)?;
    rustix::net::bind(&fd, &addr)?;
    rustix::net::listen(&fd, 4096)?;
    Ok(TcpListener::from_std(std::net::TcpListener::from(fd)))
}

/// `TCP_DEFER_ACCEPT`: the kernel wakes the listener only once a client's first data has
/// arrived (or after `seconds`), so accept is followed by a read that finds the request.
#[allow(unsafe_code)]
fn set_defer_accept(fd: std::os::fd::BorrowedFd, seconds: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let value: libc::c_int = seconds;
    // SAFETY: `fd` is an open socket borrowed for the whole call; the pointer and length
    // describe `value`, a live c_int on this stack frame that setsockopt only reads.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&raw const value).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsFd, AsRawFd};

    /// Reads TCP_DEFER_ACCEPT back (the kernel stores it rounded to SYN-ACK retransmits).
    #[allow(unsafe_code)]
    fn defer_accept(fd: std::os::fd::BorrowedFd) -> libc::c_int {
        let mut value: libc::c_int = -1;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `fd` is an open socket for the call; the pointers describe `value` and
        // `len`, live locals that getsockopt writes within their sizes.
        let rc = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_DEFER_ACCEPT,
                (&raw mut value).cast(),
                &raw mut len,
            )
        };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
        value
    }

    #[test]
    fn listeners_defer_accept_until_data() {
        let listener = listen("127.0.0.1:0".parse().unwrap(), false, false).unwrap();
        assert!(defer_accept(listener.as_fd()) > 0);
        // Not a socket: an error, not undefined behaviour.
        let file = File::open("/dev/null").unwrap();
        assert!(set_defer_accept(file.as_fd(), 1).is_err());
    }

    #[test]
    fn a_tcp_stream_keeps_no_bytes_of_its_own() {
        let listener = listen("127.0.0.1:0".parse().unwrap(), false, false).unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (stream, nodelay) = Stream::tcp(TcpStream::from_std(client));
        assert!(nodelay.is_ok());
        assert!(stream.drains_on_short_io() && !stream.has_buffered_input() && !stream.wants_write());
    }

    #[test]
    fn a_unix_stream_takes_sendfile_and_msg_more() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut stream = Stream::Unix(UnixStream::from_std(a));
        let path = std::env::temp_dir().join(format!("evserve-transport-unit-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let file = File::open(&path).unwrap();
        assert_eq!(stream.write_more(b"head ").unwrap(), 5);
        assert_eq!(stream.send_file(&file, 2, 5).unwrap(), 5);
        stream.shutdown_write().unwrap();
        let mut got = String::new();
        std::io::Read::read_to_string(&mut &b, &mut got).unwrap();
        assert_eq!(got, "head 23456");
        std::fs::remove_file(&path).unwrap();
    }
}
