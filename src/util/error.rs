//! The two I/O outcomes that are not errors in a non-blocking loop.
use std::io;

/// The operation would block: wait for the next readiness event.
pub(crate) fn would_block(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::WouldBlock
}

/// A signal interrupted the call: try it again at once.
pub(crate) fn interrupted(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::Interrupted
}
