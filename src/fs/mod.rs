//! The served tree: paths resolved beneath the root, the open-file cache, the cache of
//! compressed bytes computed from its files, whether a file's bytes are in the page cache,
//! and reading them into a buffer.
pub mod cache;
pub mod compress;
pub mod read;
pub mod residency;
pub mod resolve;
