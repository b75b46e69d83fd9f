//! The served tree: paths resolved beneath the root, the open-file cache, the cache of
//! compressed bytes computed from its files, and whether a file's bytes are in the page cache.
pub mod cache;
pub mod compress;
pub mod residency;
pub mod resolve;
