//! Where access-log lines go: a regular file through its own thread (`appender`), a pipe,
//! FIFO or terminal through a non-blocking description of our own, a socket with
//! `MSG_DONTWAIT`; and whether a write may wait.
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

use rustix::fs::{FileType, Mode, OFlags};

use super::appender;

/// A write of at most this many bytes to a pipe that polls writable does not block
/// (pipe(7)); used only by the `Polled` fallback.
const PIPE_BUF: usize = 4096;

/// Where log lines go, and whether writing may wait.
#[derive(Debug)]
pub(super) enum Sink {
    /// A regular file: blocking appends, the whole buffer each turn, by a thread of its own
    /// (`appender`), so the loop never waits for the disk.
    File(appender::Appender),
    /// Standard output that is a regular file: the same, through std's handle.
    Stdout,
    /// A pipe, FIFO or terminal through an open file description of our own with
    /// `O_NONBLOCK`: a full pipe answers EAGAIN.
    NonBlocking(File),
    /// Standard output that is a socket: `send(MSG_DONTWAIT)` is non-blocking per call
    /// and leaves the descriptor, which other processes may share, as it is.
    Socket(BorrowedFd<'static>),
    /// Standard output that is a pipe or terminal when /proc cannot give us our own
    /// description: written only when `poll` says writable, at most `PIPE_BUF` at a time.
    /// (Best effort: another writer on the same pipe could fill it in between.)
    Polled(BorrowedFd<'static>),
}

impl Sink {
    /// `--access-log PATH`: created if missing, appended to. Opened with `O_NONBLOCK` so
    /// that a FIFO without a reader fails at once (ENXIO) instead of hanging the start;
    /// on a regular file the flag is cleared again (disk writes block anyway).
    pub(super) fn open(path: &Path) -> io::Result<Sink> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::APPEND | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = rustix::fs::open(path, flags, Mode::from_raw_mode(0o666))?;
        if FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) == FileType::RegularFile {
            rustix::fs::fcntl_setfl(&fd, rustix::fs::fcntl_getfl(&fd)? - OFlags::NONBLOCK)?;
            Ok(Sink::File(appender::Appender::start(File::from(fd))?))
        } else {
            Ok(Sink::NonBlocking(File::from(fd)))
        }
    }

    /// `--access-log -`. Setting `O_NONBLOCK` on descriptor 1 itself would change the open
    /// file description it shares with the parent shell or the other processes of a
    /// pipeline (their writes to the terminal or pipe would start failing with EAGAIN).
    /// So a pipe, FIFO or terminal is opened anew through `/proc/self/fd/1`, which gives
    /// a description of our own on the same pipe or device; a socket (systemd's journal
    /// stream) takes `MSG_DONTWAIT` per call instead; a regular file blocks as before.
    /// Without /proc, writes are gated by `poll` (`Polled`).
    pub(super) fn stdout() -> io::Result<Sink> {
        let fd = rustix::stdio::stdout();
        match FileType::from_raw_mode(rustix::fs::fstat(fd)?.st_mode) {
            FileType::RegularFile | FileType::BlockDevice => Ok(Sink::Stdout),
            FileType::Socket => Ok(Sink::Socket(fd)),
            _ => {
                let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::NONBLOCK | OFlags::CLOEXEC;
                match rustix::fs::open("/proc/self/fd/1", flags, Mode::empty()) {
                    Ok(own) => Ok(Sink::NonBlocking(File::from(own))),
                    Err(_) => Ok(Sink::Polled(fd)),
                }
            }
        }
    }

    /// True for the sinks whose writes may wait (standard output that is a regular file).
    pub(super) fn blocks(&self) -> bool {
        matches!(self, Sink::Stdout)
    }

    pub(super) fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Sink::File(_) | Sink::Stdout => rustix::stdio::stdout(), // Not polled (see `close`).
            Sink::NonBlocking(f) => f.as_fd(),
            Sink::Socket(fd) | Sink::Polled(fd) => *fd,
        }
    }

    /// One write: all of `bytes` on a blocking sink; on the others what fits now, or
    /// WouldBlock.
    pub(super) fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Sink::File(appender) => appender.write(bytes),
            Sink::Stdout => io::stdout().lock().write_all(bytes).map(|()| bytes.len()),
            Sink::NonBlocking(f) => f.write(bytes),
            Sink::Socket(fd) => {
                use rustix::net::SendFlags;
                Ok(rustix::net::send(*fd, bytes, SendFlags::DONTWAIT | SendFlags::NOSIGNAL)?)
            }
            Sink::Polled(fd) => {
                if !writable(*fd, Duration::ZERO) {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Ok(rustix::io::write(*fd, &bytes[..bytes.len().min(PIPE_BUF)])?)
            }
        }
    }
}

/// The thread's reopen: the path opened for appending, a regular file expected (anything else
/// is opened the same way and written with blocking appends by that thread).
pub(super) fn open_regular(path: &Path) -> io::Result<File> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::APPEND | OFlags::CLOEXEC;
    Ok(File::from(rustix::fs::open(path, flags, Mode::from_raw_mode(0o666))?))
}

/// Whether `fd` polls writable within `within`.
pub(super) fn writable(fd: BorrowedFd, within: Duration) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
    let timeout = Timespec { tv_sec: within.as_secs() as _, tv_nsec: within.subsec_nanos() as _ };
    rustix::event::poll(&mut fds, Some(&timeout)).is_ok_and(|n| n > 0)
}
