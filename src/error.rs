//! The two I/O outcomes that are not errors in a non-blocking loop, and the ones that mean
//! "the peer went away" (a normal close, not something to log).
use std::io;

/// The operation would block: wait for the next readiness event.
pub fn would_block(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::WouldBlock
}

/// A signal interrupted the call: try it again at once.
pub fn interrupted(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::Interrupted
}

/// The client reset or vanished: close quietly.
pub fn is_disconnect(err: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(err.kind(), BrokenPipe | ConnectionReset | ConnectionAborted | NotConnected | UnexpectedEof)
}
