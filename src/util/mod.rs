//! Helpers that know nothing of HTTP: text, glob patterns on paths, the two non-errors of
//! non-blocking I/O, timer queues, a file mapped for the kernel to read.
pub(crate) mod error;
pub mod glob;
pub mod histogram;
pub mod map;
pub mod text;
pub mod timer;
