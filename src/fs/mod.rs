//! The served tree: paths resolved beneath the root, and the open-file cache.
pub mod cache;
pub mod residency;
pub mod resolve;
