//! The served tree: paths resolved beneath the root, the open-file cache, and the cache of
//! compressed bytes computed from its files.
pub mod cache;
pub mod compress;
pub mod resolve;
