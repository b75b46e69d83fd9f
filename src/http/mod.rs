//! Protocol-free HTTP semantics: what a request asks and what a response says, with no
//! bytes of any protocol and no I/O.
pub mod compressible;
pub mod date;
pub mod files;
pub mod forwarded;
pub mod plan;
pub mod status;
pub mod view;
