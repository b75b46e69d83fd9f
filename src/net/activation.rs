//! systemd socket activation (the `sd_listen_fds(3)` protocol): the service manager binds
//! the listening sockets, keeps them open across restarts of the service, and hands them to
//! each new process as descriptors 3, 4, ... with `LISTEN_PID` (our pid), `LISTEN_FDS` (how
//! many) and `LISTEN_FDNAMES` (their names, colon-separated). Connection attempts made while
//! evserve restarts wait in the socket's queue instead of being refused.
//!
//! Each descriptor is checked before it is served: a stream socket (`SO_TYPE`), listening
//! (`SO_ACCEPTCONN`), of family IPv4, IPv6 or Unix (`getsockname`); anything else is a
//! start-up error naming the descriptor. They are made close-on-exec and non-blocking (the
//! manager passes them blocking and inheritable), and the three variables are removed, so
//! nothing this process starts believes the sockets are its own.
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::net::transport::Listener;

/// Listening addresses per loop (each listener takes a token below the waker's).
pub const MAX_BINDS: usize = 1024;

/// The first descriptor the protocol passes (after stdin, stdout and stderr).
const FIRST_FD: RawFd = 3;

/// More than this many descriptors is surely a mistake in the environment.
const MAX_FDS: usize = MAX_BINDS;

/// The listening sockets the service manager passed.
#[derive(Debug)]
pub struct Activated {
    pub(crate) sockets: Vec<InheritedSocket>,
}

/// One inherited listening socket.
#[derive(Debug)]
pub(crate) struct InheritedSocket {
    pub(crate) listener: Listener,
    /// `127.0.0.1:80`, `[::]:80` or `unix:/run/evserve.sock`, for the start line.
    pub(crate) describe: String,
}

impl Activated {
    /// What each socket is, with its descriptor and name: `http://127.0.0.1:80/ (fd 3 "http")`.
    pub fn describe(&self) -> Vec<String> {
        self.sockets.iter().map(|s| s.describe.clone()).collect()
    }
}

/// Why the passed descriptors cannot be served.
#[derive(Debug)]
pub struct ActivationError(pub String);

impl fmt::Display for ActivationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "socket activation: {}", self.0)
    }
}

impl std::error::Error for ActivationError {}

/// The sockets passed to this process, or None when none were (no `LISTEN_PID`, or another
/// process's). Takes them once per process: a second call finds the variables gone.
pub fn take() -> Result<Option<Activated>, ActivationError> {
    let var = |name| std::env::var(name).ok();
    let (pid, fds, names) = (var("LISTEN_PID"), var("LISTEN_FDS"), var("LISTEN_FDNAMES"));
    if pid.is_none() && fds.is_none() {
        return Ok(None);
    }
    unset_listen_variables();
    let Some(count) = count_for_us(pid.as_deref(), fds.as_deref(), std::process::id())? else { return Ok(None) };
    static TAKEN: AtomicBool = AtomicBool::new(false);
    if TAKEN.swap(true, Ordering::SeqCst) {
        return Ok(None);
    }
    let names: Vec<&str> = names.as_deref().map(|n| n.split(':').collect()).unwrap_or_default();
    let mut sockets = Vec::with_capacity(count);
    for i in 0..count {
        let raw = FIRST_FD + i as RawFd;
        let name = names.get(i).filter(|_| names.len() == count).filter(|n| !n.is_empty());
        let label = match name {
            Some(n) => format!("fd {raw} {n:?}"),
            None => format!("fd {raw}"),
        };
        let fd = take_fd(raw).map_err(|e| ActivationError(format!("{label}: {e}")))?;
        let (listener, address) = check(fd).map_err(|e| ActivationError(format!("{label}: {e}")))?;
        sockets.push(InheritedSocket { listener, describe: format!("{address} ({label}, from the service manager)") });
    }
    Ok(Some(Activated { sockets }))
}

/// How many descriptors `LISTEN_PID`/`LISTEN_FDS` pass to the process `our_pid`: None when
/// they are meant for another process (or pass none).
fn count_for_us(pid: Option<&str>, fds: Option<&str>, our_pid: u32) -> Result<Option<usize>, ActivationError> {
    let number = |name: &str, v: Option<&str>| -> Result<u64, ActivationError> {
        let v = v.ok_or_else(|| ActivationError(format!("{name} is missing")))?;
        match v.bytes().all(|b| b.is_ascii_digit()) {
            true => v.parse().map_err(|_| ActivationError(format!("{name}={v:?} is not a number"))),
            false => Err(ActivationError(format!("{name}={v:?} is not a number"))),
        }
    };
    if number("LISTEN_PID", pid)? != u64::from(our_pid) {
        return Ok(None);
    }
    match number("LISTEN_FDS", fds)? {
        0 => Ok(None),
        n if n as usize > MAX_FDS => Err(ActivationError(format!("LISTEN_FDS={n}: at most {MAX_FDS}"))),
        n => Ok(Some(n as usize)),
    }
}

/// Makes the descriptor close-on-exec and non-blocking, and accepts it only as a listening
/// stream socket of family IPv4, IPv6 or Unix. Returns it as a listener and its address.
fn check(fd: OwnedFd) -> io::Result<(Listener, String)> {
    use rustix::net::{AddressFamily, SocketType, sockopt};
    rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC)?;
    let flags = rustix::fs::fcntl_getfl(&fd)?;
    rustix::fs::fcntl_setfl(&fd, flags | rustix::fs::OFlags::NONBLOCK)?;
    let refuse = |what: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, what.to_string()));
    match sockopt::socket_type(&fd) {
        Err(rustix::io::Errno::NOTSOCK) => return refuse("not a socket"),
        Err(e) => return Err(e.into()),
        Ok(SocketType::STREAM) => {}
        Ok(_) => return refuse("not a stream socket (a datagram or other socket cannot serve HTTP)"),
    }
    if !sockopt::socket_acceptconn(&fd)? {
        return refuse("a stream socket that is not listening (Accept=yes is not supported)");
    }
    let local = rustix::net::getsockname(&fd)?;
    match local.address_family() {
        AddressFamily::INET | AddressFamily::INET6 => {
            let addr = SocketAddr::try_from(local).map_err(io::Error::from)?;
            Ok((Listener::from_inherited(fd, false), format!("http://{addr}/")))
        }
        AddressFamily::UNIX => {
            let addr = rustix::net::SocketAddrUnix::try_from(local).map_err(io::Error::from)?;
            let path = addr.path_bytes().map(|p| String::from_utf8_lossy(p).into_owned());
            Ok((Listener::from_inherited(fd, true), format!("unix:{}", path.unwrap_or_else(|| "(unnamed)".into()))))
        }
        _ => refuse("a socket of a family other than IPv4, IPv6 or Unix"),
    }
}

/// Takes ownership of descriptor `raw`, which must be open.
#[allow(unsafe_code)]
fn take_fd(raw: RawFd) -> io::Result<OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: F_GETFD on any integer only reads the descriptor table: EBADF if not open.
    if unsafe { libc::fcntl(raw, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is open (checked above) and was passed to this process for it to own
    // (`LISTEN_PID` is ours). `take` hands out each descriptor at most once per process
    // (its `TAKEN` flag), and nothing else in the program claims descriptors 3 and up it
    // did not open itself, so no other owner exists.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Removes `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES` from the environment, if this is
/// the only thread (`std::env::remove_var` races with other threads reading the environment
/// through libc). Otherwise they stay: that is only untidy, since a child's pid never
/// matches `LISTEN_PID` and sd_listen_fds(3) then ignores them.
#[allow(unsafe_code)]
fn unset_listen_variables() {
    if !single_threaded() {
        return;
    }
    for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        // SAFETY: this is the process's only thread (checked just above, and no thread can
        // start between that check and here, since only this thread could start it), so no
        // other code reads or writes the environment at the same time.
        unsafe { std::env::remove_var(name) };
    }
}

/// The process has exactly one thread (`Threads:` of /proc/self/status).
fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.strip_prefix("Threads:").is_some_and(|n| n.trim() == "1")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variables_count_only_for_the_process_they_name() {
        assert_eq!(count_for_us(Some("42"), Some("2"), 42).unwrap(), Some(2));
        assert_eq!(count_for_us(Some("41"), Some("2"), 42).unwrap(), None);
        assert_eq!(count_for_us(Some("42"), Some("0"), 42).unwrap(), None);
        assert!(count_for_us(Some("42"), None, 42).is_err());
        assert!(count_for_us(Some("42"), Some("+2"), 42).is_err());
        assert!(count_for_us(Some("42"), Some("99999"), 42).is_err());
        assert!(count_for_us(None, Some("1"), 42).is_err());
    }

    #[test]
    fn only_listening_stream_sockets_are_served() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = tcp.local_addr().unwrap();
        let (listener, text) = check(OwnedFd::from(tcp)).unwrap();
        assert_eq!(text, format!("http://{addr}/"));
        assert!(matches!(listener, Listener::Tcp(_)));
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(check(OwnedFd::from(udp)).unwrap_err().to_string().contains("not a stream socket"));
        let file = std::fs::File::open("/dev/null").unwrap();
        assert!(check(OwnedFd::from(file)).unwrap_err().to_string().contains("not a socket"));
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(check(OwnedFd::from(a)).unwrap_err().to_string().contains("not listening"));
    }

    #[test]
    fn an_inherited_socket_becomes_non_blocking_and_close_on_exec() {
        let fd = OwnedFd::from(std::net::TcpListener::bind("127.0.0.1:0").unwrap());
        // As the service manager passes it: inheritable and blocking.
        rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::empty()).unwrap();
        let (Listener::Tcp(l), _) = check(fd).unwrap() else { panic!("a TCP listener") };
        assert!(rustix::io::fcntl_getfd(&l).unwrap().contains(rustix::io::FdFlags::CLOEXEC));
        assert!(rustix::fs::fcntl_getfl(&l).unwrap().contains(rustix::fs::OFlags::NONBLOCK));
    }

    #[test]
    fn taking_a_descriptor_needs_it_to_be_open() {
        // Far above anything a test process has open.
        assert_eq!(take_fd(1 << 20).unwrap_err().raw_os_error(), Some(libc::EBADF));
    }
}
