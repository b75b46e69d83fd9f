//! The served tree: paths resolved beneath the root, and the open-file cache.
pub mod cache;
pub mod compress;
pub mod resolve;
