//! evserve: a static-file HTTP server whose whole life is non-blocking event loops, one per
//! worker, each owning its connections.
//!
//! ```text
//! listener readable -> accept until WouldBlock -> Connection into the Slab (token = key)
//! socket readable   -> read until WouldBlock -> http1::request::parse -> RequestView
//!                      -> Site::plan: Ready(plan) | Pending(job) (the connection waits)
//!                      -> http1::render: head (+ small body) into the output buffer
//! socket writable   -> write the buffer, then the file body (sendfile) until done or WouldBlock
//! response done     -> keep-alive: parse what is already buffered, then wait | close
//! timers            -> poll timeout = earliest deadline; expire slow or idle connections
//! Ctrl-C            -> Waker -> stop accepting, drain in-flight responses, exit 0
//! ```
//!
//! The layers, each a folder using only those before it (`tests/modules.rs` checks):
//! `util` < `http` < `http2` < `fs` < `site` < `net` < `http1` < `log` < `conn` < `config` <
//! `server` < `privileges`, `main`.
//!
//! `server`, `net::transport` and `net::tls` (its `Socket` impl for mio's stream) are the only
//! modules that touch mio; `conn` is generic over `net::transport::Transport`, so its state
//! machine is unit-tested with scripted I/O. The public modules are what the binary, the
//! tests, the benches and the fuzz targets use; the rest is internal, and `testing`
//! re-exports the few internals tests drive.
// No unsafe code, but for system calls rustix does not wrap or that hand the kernel raw memory,
// each one small function with a `// SAFETY:` comment and a test: `net::transport`
// (`set_defer_accept`, `writev`), `util::map` (`mmap`, `munmap`), `fs::read` (`preadv`),
// `fs::residency` (`cachestat`), and taking the descriptors and variables of socket activation
// (`activation`).
#![deny(unsafe_code)]

pub mod config;
pub(crate) mod conn;
pub mod fs;
pub mod http;
pub mod http1;
pub mod http2;
pub(crate) mod log;
pub mod net;
pub mod pool;
pub mod privileges;
pub mod server;
pub mod site;
pub mod util;

/// Internals that tests drive directly: the connection state machine over a scripted
/// stream. Not a stable API.
#[doc(hidden)]
pub mod testing {
    pub use crate::conn::{Connection, Context, Jobs, Status, Ticket};
    pub use crate::net::transport::Transport;

    use std::time::Instant;

    use crate::http1::{render, request};
    use crate::site::{Planned, Site};

    /// The HTTP/1 request path without a socket, as the connection runs it with jobs run
    /// at once: the head at the front of `raw` parsed, planned, rendered into `out`, with
    /// the body when it is copied there (not one over 16 KiB, in a file or in memory).
    /// Returns the status (0 when `raw` is no complete, valid head). For the allocation
    /// test, the micro-benchmarks and the instruction counts.
    pub fn respond(site: &mut Site, raw: &[u8], date: &str, now: Instant, out: &mut Vec<u8>) -> u16 {
        let Ok(Some((req, _))) = request::parse(raw, &request::Limits::default()) else { return 0 };
        let view = req.view();
        let mut planned = site.plan(&view, now);
        let plan = loop {
            match planned {
                Planned::Ready(plan) => break plan,
                Planned::Pending(job) => planned = site.resume(&view, job.run_here(), now),
            }
        };
        let (status, framing) = (plan.status, render::framing(&req, plan.close, false));
        render::render(plan, date, framing, out);
        status
    }
}
