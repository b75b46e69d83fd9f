//! evserve: a static-file HTTP/1.x server whose whole life is one non-blocking event loop.
//!
//! ```text
//! listener readable -> accept until WouldBlock -> Connection into the Slab (token = key)
//! socket readable   -> read until WouldBlock -> request::parse -> handler::respond
//!                      -> response head (+ small body) into the output buffer
//! socket writable   -> write the buffer, then the file body (sendfile) until done or WouldBlock
//! response done     -> keep-alive: parse what is already buffered, then wait | close
//! timers            -> poll timeout = earliest deadline; expire slow or idle connections
//! Ctrl-C            -> Waker -> stop accepting, drain in-flight responses, exit 0
//! ```
//!
//! The dependency chain runs one way:
//! `main -> server -> connection -> {request, handler -> {resolve, files, response}}`.
//! `server` is the only module that touches mio; `connection` is generic over the stream
//! so its state machine is unit-tested with scripted I/O.
// No unsafe code, but for one setsockopt that rustix does not wrap (`server::set_defer_accept`).
#![deny(unsafe_code)]

pub mod cache;
pub mod config;
pub mod connection;
pub mod error;
pub mod files;
pub mod forwarded;
pub mod handler;
pub mod listing;
pub mod log;
pub mod privileges;
pub mod proxy;
pub mod request;
pub mod resolve;
pub mod response;
pub mod server;
pub mod text;
pub mod timer;
pub mod tls;
