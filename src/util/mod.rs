//! Helpers that know nothing of HTTP: text, the two non-errors of non-blocking I/O, timer queues.
pub(crate) mod error;
pub mod text;
pub mod timer;
