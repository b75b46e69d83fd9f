//! Helpers that know nothing of HTTP: text, glob patterns on paths, the two non-errors of
//! non-blocking I/O, timer queues.
pub(crate) mod error;
pub mod glob;
pub mod histogram;
pub mod text;
pub mod timer;
