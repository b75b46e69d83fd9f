//! Computed compression: a file's bytes coded with gzip, brotli or zstd when it has no
//! sidecar, made off the loop and kept in memory.
//!
//! ```text
//! site (loop):  CompressCache::lookup(key)  -> Hit(bytes, level) | NotWorthIt | Miss
//!               Miss -> CompressJob::new(source, key, Fast, max) to the pool (then Best)
//! pool thread:  CompressJob::run -> the bytes (held, or pread whole) -> compress
//!               -> fstat again (a descriptor) -> Compressed
//! site (loop):  CompressCache::record(compressed) -> kept, remembered as not worth it,
//!               or the file's entries forgotten (it changed)
//! ```
//!
//! It owns the codecs and their levels (`Level`, `compress`), the job that reads and codes
//! one file (`CompressJob`), the bounded cache of the results (`CompressCache`) and the
//! ETag of a computed coding (`computed_etag`). It does not choose what is worth
//! compressing (`http::compressible`), which coding a client gets (`files::negotiate`), when
//! a job runs or who waits for it (the site and the pool), and it never touches a path:
//! the job codes what the file cache holds, a small file's bytes or an open descriptor.
//!
//! Cost, measured with `examples/compress_levels.rs` on text (optimized build, one core):
//! the fast levels code 33-71 MB/s (brotli 4), 74-106 MB/s (gzip 4) and 218-346 MB/s
//! (zstd 3); the best levels 0.6 MB/s (brotli 11), 2-3.5 MB/s (zstd 19) and 20-40 MB/s
//! (gzip 9). The slowest input seen (random text over four letters) halves brotli 11 and
//! takes gzip 9 down to 1 MB/s. So a file of `compressible::MAX_SIZE` (8 MiB) costs up to
//! ~20 s of one pool thread at brotli 11, and `MAX_SIZE_CEILING` (16 MiB, refused beyond)
//! bounds any input at about twice that. Memory: the input, the output and the encoder's
//! tables (by the codecs' parameter tables, ~90 MiB for zstd 19 on 8 MiB and ~40 MiB for
//! brotli 11 at its capped window; far less for the fast levels and for small files).
//!
//! The policy this is built for: a first request waits for the fast level only for small
//! files (a few hundred KiB: milliseconds), larger ones are served identity until a
//! coding is ready; the best level then replaces the fast one in the background, one
//! best-level job at a time so that slow coding never holds all the pool's threads.
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::Arc;

use crate::http::compressible::MAX_SIZE_CEILING;
use crate::http::files::Coding;
use crate::http::plan::Source;
use crate::util::error::interrupted;

/// How hard to compress: fast for what a request waits for, best for what is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Fast,
    Best,
}

/// gzip's fast level. Measured on text: level 4 comes within one or two points of level 6's
/// ratio at twice its speed (70-100 MB/s); levels 1-2 lose 5-15 points.
const GZIP_FAST: u32 = 4;
/// gzip's best level: zlib's 9, the most any gzip encoder of this kind does.
const GZIP_BEST: u32 = 9;
/// brotli's fast quality. 4 codes text at 35-70 MB/s to within two points of 5 (which is
/// half as fast) and about as small as gzip's best.
const BROTLI_FAST: u32 = 4;
/// brotli's best quality: 11, about 20% smaller than gzip 9 on text.
const BROTLI_BEST: u32 = 11;
/// zstd's fast level: its default, 3, both faster (200-350 MB/s) and smaller than gzip 4.
const ZSTD_FAST: u32 = 3;
/// zstd's best level short of the `--ultra` ones: 19 keeps the window at 8 MiB at most,
/// the most an HTTP decoder has to accept (RFC 9659 section 3); 20-22 may exceed it.
const ZSTD_BEST: u32 = 19;

/// brotli's window is sized to the input (no larger is useful) but capped at brotli's
/// default, 4 MiB: quality 11's match finder holds tables in proportion to the window, so
/// the cap bounds an encoder's memory; a longer distance saves little on real files.
const BROTLI_MAX_LGWIN: u32 = 22;
/// The smallest window brotli allows.
const BROTLI_MIN_LGWIN: u32 = 10;

impl Level {
    /// The codec's own number for this level of `coding` (what the ETag names).
    pub fn quality(self, coding: Coding) -> u32 {
        match (coding, self) {
            (Coding::Gzip, Level::Fast) => GZIP_FAST,
            (Coding::Gzip, Level::Best) => GZIP_BEST,
            (Coding::Br, Level::Fast) => BROTLI_FAST,
            (Coding::Br, Level::Best) => BROTLI_BEST,
            (Coding::Zstd, Level::Fast) => ZSTD_FAST,
            (Coding::Zstd, Level::Best) => ZSTD_BEST,
        }
    }
}

/// `input` coded with `coding` at `level`, in the coding's standard format (a gzip member,
/// a brotli stream, one zstd frame with its content size). The same input, level and
/// crate versions always give the same bytes (the gzip header has no time or name).
/// Refuses an input over `MAX_SIZE_CEILING` (`FileTooLarge`), which bounds the CPU and the
/// memory one call can take, whatever the input holds.
pub fn compress(coding: Coding, level: Level, input: &[u8]) -> io::Result<Vec<u8>> {
    if input.len() as u64 > MAX_SIZE_CEILING {
        return Err(io::Error::new(io::ErrorKind::FileTooLarge, "input over the compression ceiling"));
    }
    let quality = level.quality(coding);
    // Text shrinks to a fifth to a third: start there, so the output grows once or never.
    let guess = input.len() / 3 + 64;
    match coding {
        Coding::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::with_capacity(guess), flate2::Compression::new(quality));
            encoder.write_all(input)?;
            encoder.finish()
        }
        Coding::Br => {
            let params = brotli::enc::BrotliEncoderParams {
                quality: quality as i32,
                lgwin: brotli_lgwin(input.len()) as i32,
                size_hint: input.len(),
                ..Default::default()
            };
            let mut out = Vec::with_capacity(guess);
            brotli::BrotliCompress(&mut &input[..], &mut out, &params)?;
            Ok(out)
        }
        Coding::Zstd => zstd::bulk::compress(input, quality as i32),
    }
}

/// The smallest brotli window that holds all of `len` bytes, within brotli's bounds.
fn brotli_lgwin(len: usize) -> u32 {
    let bits = usize::BITS - len.saturating_sub(1).leading_zeros();
    bits.clamp(BROTLI_MIN_LGWIN, BROTLI_MAX_LGWIN)
}

/// A coding is kept only if it saves at least this share of the original (in percent):
/// below that, the bytes saved do not pay for the memory the entry holds, and the file
/// (random data, a mislabelled archive) is remembered as not worth trying again.
const MIN_SAVED_PERCENT: u64 = 5;

/// True when `coded` bytes are enough smaller than `original` to be worth keeping.
pub fn worth_keeping(original: u64, coded: usize) -> bool {
    (coded as u128) * 100 <= u128::from(original) * u128::from(100 - MIN_SAVED_PERCENT)
}

/// The strong ETag of a computed coding: the original's, plus the coding and the codec's
/// level number (`"<size>-<mtime>-br11"`). Each must differ from the others:
/// - from the original's and from a sidecar's (`-br`): other bytes;
/// - between the fast and the best level of one coding: other bytes again, so a client
///   holding the fast bytes gets the best ones once (If-None-Match fails), and a range
///   request (If-Range) never splices the two;
/// - with the file: it starts from the original's ETag, which changes with the size and
///   the modification time.
///
/// Servers sharing one copy of the files agree as long as they run the same codecs
/// (`Cargo.lock` pins them): the bytes depend only on the input, the coding and the level.
pub fn computed_etag(original_etag: &str, coding: Coding, level: Level) -> String {
    let inner = original_etag.trim_matches('"');
    format!("\"{inner}-{}{}\"", coding.token(), level.quality(coding))
}

/// What identifies a file's contents for the cache: device, inode, size and modification
/// time (to the nanosecond). Any write moves the size or the time, so a changed file is a
/// new identity and its old codings are never served for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
}

impl FileId {
    pub fn of(meta: &std::fs::Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        }
    }
}

/// One file's bytes in one coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub file: FileId,
    pub coding: Coding,
}

/// Why a job kept nothing, when the file did not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The file is larger than the job's maximum: never compressed on the fly.
    TooLarge,
    /// Reading the file failed (it may succeed later).
    Read(io::ErrorKind),
    /// The codec failed (it would again on the same bytes).
    Codec(io::ErrorKind),
}

/// What a job came to, for `CompressCache::record`.
#[derive(Debug)]
pub enum Compressed {
    /// The coded bytes, worth keeping.
    Done {
        key: Key,
        level: Level,
        bytes: Arc<[u8]>,
    },
    /// Coded, but saving less than `MIN_SAVED_PERCENT`: remember not to try again.
    NotWorthIt {
        key: Key,
        level: Level,
    },
    /// The file is not the one `file` identified (it was written, truncated, grew or was
    /// replaced while being read or coded): keep nothing, and drop what is kept for it.
    Changed {
        file: FileId,
    },
    Failed {
        key: Key,
        level: Level,
        why: Failure,
    },
}

/// Reads one file whole and codes it: blocking, so it runs on the pool. It owns what it
/// needs (`Send`): what the file cache holds of the file (`Variant::source`: its bytes,
/// or an open descriptor) and the identity the file had then.
#[derive(Debug)]
pub struct CompressJob {
    source: Source,
    key: Key,
    level: Level,
    /// The largest file it will code (`--compress-max`, at most `MAX_SIZE_CEILING`).
    max: u64,
}

impl CompressJob {
    pub fn new(source: Source, key: Key, level: Level, max: u64) -> Self {
        CompressJob { source, key, level, max: max.min(MAX_SIZE_CEILING) }
    }

    pub fn key(&self) -> Key {
        self.key
    }

    pub fn level(&self) -> Level {
        self.level
    }

    /// Codes the file's bytes: those held in memory (a snapshot of this identity), or
    /// those read with `pread` (expecting exactly the size in its identity), and then
    /// checks with `fstat` that the file is still what it was: a write while it was read or
    /// coded moves its size or modification time, and the result is `Changed`.
    pub fn run(self) -> Compressed {
        let (key, level) = (self.key, self.level);
        let failed = |why| Compressed::Failed { key, level, why };
        if key.file.size > self.max {
            return failed(Failure::TooLarge);
        }
        let read;
        let input: &[u8] = match &self.source {
            Source::Memory(bytes) if bytes.len() as u64 == key.file.size => bytes,
            Source::Memory(_) => return Compressed::Changed { file: key.file },
            Source::File(file) => match read_exactly(file, key.file.size) {
                Ok(Some(bytes)) => {
                    read = bytes;
                    &read
                }
                Ok(None) => return Compressed::Changed { file: key.file },
                Err(e) => return failed(Failure::Read(e.kind())),
            },
        };
        let coded = match compress(key.coding, level, input) {
            Ok(coded) => coded,
            Err(e) => return failed(Failure::Codec(e.kind())),
        };
        if let Source::File(file) = &self.source {
            match file.metadata() {
                Ok(meta) if FileId::of(&meta) == key.file => {}
                Ok(_) => return Compressed::Changed { file: key.file },
                Err(e) => return failed(Failure::Read(e.kind())),
            }
        }
        if !worth_keeping(key.file.size, coded.len()) {
            return Compressed::NotWorthIt { key, level };
        }
        // Made exact-sized here, off the loop: the cache holds it as it is.
        Compressed::Done { key, level, bytes: coded.into() }
    }
}

/// The file's first `size` bytes, or None when it has fewer or more than that (it was
/// truncated or grew since it was measured). One byte more is asked for to see growth.
fn read_exactly(file: &File, size: u64) -> io::Result<Option<Vec<u8>>> {
    let Some(want) = usize::try_from(size).ok().filter(|&n| n < usize::MAX) else { return Ok(None) };
    let mut buf = vec![0u8; want + 1];
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if interrupted(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    if filled != want {
        return Ok(None);
    }
    buf.truncate(want);
    Ok(Some(buf))
}

/// The default `--compress-memory`: enough for the compressed text of a large site (a few
/// hundred files of tens of KiB, each in the codings its clients ask for) while small
/// beside the page cache the same files use.
pub const DEFAULT_BUDGET: usize = 64 * 1024 * 1024;

/// What an entry costs besides its bytes (its node, its share of the map, the `Arc`'s
/// counts), counted against the budget so that many tiny or not-worth-it entries are
/// bounded too: the cache never holds more than `budget / ENTRY_COST` entries.
pub const ENTRY_COST: usize = 128;

/// What `CompressCache::lookup` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cached {
    Hit {
        bytes: Arc<[u8]>,
        level: Level,
    },
    /// Tried at `level`, and it saved too little (or could not be done): serve identity.
    NotWorthIt {
        level: Level,
    },
    Miss,
}

/// Counters for `stats`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub hits: u64,
    pub misses: u64,
    /// Look-ups that found a file remembered as not worth compressing.
    pub not_worth_it: u64,
    /// Original minus coded size, summed over hits: what the cache saved on the wire.
    pub bytes_saved: u64,
    pub evictions: u64,
    pub entries: usize,
    /// Bytes charged against the budget (coded bytes plus `ENTRY_COST` per entry).
    pub size: usize,
}

/// One kept coding, linked into the recency list.
#[derive(Debug)]
struct Node {
    key: Key,
    level: Level,
    /// None: not worth it.
    bytes: Option<Arc<[u8]>>,
    /// Towards the most recently used end.
    newer: Option<usize>,
    /// Towards the least recently used end.
    older: Option<usize>,
}

impl Node {
    fn cost(&self) -> usize {
        self.bytes.as_ref().map_or(0, |b| b.len()) + ENTRY_COST
    }
}

/// A file's identity when its codings were made, and their nodes (by `coding_slot`).
#[derive(Debug)]
struct FileEntry {
    id: FileId,
    nodes: [Option<usize>; 3],
}

fn coding_slot(coding: Coding) -> usize {
    match coding {
        Coding::Br => 0,
        Coding::Zstd => 1,
        Coding::Gzip => 2,
    }
}

/// A file is found by device and inode, so that a look-up with a newer identity finds the
/// old codings and drops them at once.
type FileKey = (u64, u64);

fn file_key(id: &FileId) -> FileKey {
    (id.dev, id.ino)
}

/// Coded bytes by file and coding, within a byte budget, least recently used evicted
/// first. The recency list is linked through indices into one `Vec` of nodes (freed
/// nodes are reused), so a hit only relinks one node: no allocation, O(1); an insert or an
/// eviction is O(1) too. Not shared: each loop has its own.
#[derive(Debug)]
pub struct CompressCache {
    files: foldhash::HashMap<FileKey, FileEntry>,
    nodes: Vec<Node>,
    free: Vec<usize>,
    newest: Option<usize>,
    oldest: Option<usize>,
    budget: usize,
    stats: Stats,
}

impl Default for CompressCache {
    fn default() -> Self {
        CompressCache::new(DEFAULT_BUDGET)
    }
}

impl CompressCache {
    pub fn new(budget: usize) -> Self {
        CompressCache {
            files: foldhash::HashMap::default(),
            nodes: Vec::new(),
            free: Vec::new(),
            newest: None,
            oldest: None,
            budget,
            stats: Stats::default(),
        }
    }

    /// What is kept for `key`, made the most recently used. A file found with another
    /// identity has changed: its codings are dropped and this is a miss.
    pub fn lookup(&mut self, key: &Key) -> Cached {
        let node = match self.files.get(&file_key(&key.file)) {
            Some(entry) if entry.id != key.file => {
                let stale = entry.id;
                self.forget_file(stale);
                None
            }
            Some(entry) => entry.nodes[coding_slot(key.coding)],
            None => None,
        };
        let Some(i) = node else {
            self.stats.misses += 1;
            return Cached::Miss;
        };
        self.unlink(i);
        self.link_newest(i);
        let node = &self.nodes[i];
        match &node.bytes {
            Some(bytes) => {
                self.stats.hits += 1;
                self.stats.bytes_saved += key.file.size.saturating_sub(bytes.len() as u64);
                Cached::Hit { bytes: bytes.clone(), level: node.level }
            }
            None => {
                self.stats.not_worth_it += 1;
                Cached::NotWorthIt { level: node.level }
            }
        }
    }

    /// The coded bytes for `key`, if kept (`lookup` without the level).
    pub fn get(&mut self, key: &Key) -> Option<Arc<[u8]>> {
        match self.lookup(key) {
            Cached::Hit { bytes, .. } => Some(bytes),
            _ => None,
        }
    }

    /// Keeps `bytes` as `key`'s coding at `level`, or remembers `key` as not worth it when
    /// they save too little. A best level replaces a fast one; a fast one never replaces a
    /// best one. Returns whether it was kept (false: a better one is there, or it is larger
    /// than the whole budget).
    pub fn insert(&mut self, key: Key, bytes: Arc<[u8]>, level: Level) -> bool {
        let bytes = worth_keeping(key.file.size, bytes.len()).then_some(bytes);
        self.put(key, level, bytes)
    }

    /// Takes a job's outcome: keeps it, remembers it as not worth it, or drops the file's
    /// entries when it changed. A read failure is not remembered (it may pass).
    pub fn record(&mut self, compressed: Compressed) {
        match compressed {
            Compressed::Done { key, level, bytes } => {
                self.insert(key, bytes, level);
            }
            Compressed::NotWorthIt { key, level }
            | Compressed::Failed { key, level, why: Failure::TooLarge | Failure::Codec(_) } => {
                self.put(key, level, None);
            }
            Compressed::Changed { file } => self.forget_file(file),
            Compressed::Failed { why: Failure::Read(_), .. } => {}
        }
    }

    /// Drops every coding kept for the file `id` (it changed). Codings of the same inode
    /// under another identity (made since) are left alone.
    pub fn forget_file(&mut self, id: FileId) {
        let Some(entry) = self.files.get(&file_key(&id)) else { return };
        if entry.id != id {
            return;
        }
        for i in entry.nodes.into_iter().flatten() {
            self.remove(i);
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    fn put(&mut self, key: Key, level: Level, bytes: Option<Arc<[u8]>>) -> bool {
        let cost = bytes.as_ref().map_or(0, |b| b.len()) + ENTRY_COST;
        if cost > self.budget {
            return false;
        }
        let slot = coding_slot(key.coding);
        match self.files.get(&file_key(&key.file)) {
            Some(entry) if entry.id != key.file => {
                let stale = entry.id;
                self.forget_file(stale);
            }
            Some(entry) => {
                if let Some(i) = entry.nodes[slot] {
                    if self.nodes[i].level > level {
                        return false;
                    }
                    self.remove(i);
                }
            }
            None => {}
        }
        while self.stats.size + cost > self.budget {
            let Some(oldest) = self.oldest else { break };
            self.remove(oldest);
            self.stats.evictions += 1;
        }
        let node = Node { key, level, bytes, newer: None, older: None };
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i] = node;
                i
            }
            None => {
                self.nodes.push(node);
                self.nodes.len() - 1
            }
        };
        self.link_newest(i);
        let entry = self.files.entry(file_key(&key.file)).or_insert(FileEntry { id: key.file, nodes: [None; 3] });
        entry.nodes[slot] = Some(i);
        self.stats.size += cost;
        self.stats.entries += 1;
        true
    }

    /// Unlinks node `i`, drops its bytes and frees its place.
    fn remove(&mut self, i: usize) {
        self.unlink(i);
        let key = self.nodes[i].key;
        let fk = file_key(&key.file);
        if let Some(entry) = self.files.get_mut(&fk) {
            entry.nodes[coding_slot(key.coding)] = None;
            if entry.nodes.iter().all(Option::is_none) {
                self.files.remove(&fk);
            }
        }
        self.stats.size -= self.nodes[i].cost();
        self.stats.entries -= 1;
        self.nodes[i].bytes = None;
        self.free.push(i);
    }

    fn unlink(&mut self, i: usize) {
        let (newer, older) = (self.nodes[i].newer.take(), self.nodes[i].older.take());
        match newer {
            Some(n) => self.nodes[n].older = older,
            None => self.newest = older,
        }
        match older {
            Some(o) => self.nodes[o].newer = newer,
            None => self.oldest = newer,
        }
    }

    fn link_newest(&mut self, i: usize) {
        self.nodes[i].older = self.newest;
        self.nodes[i].newer = None;
        match self.newest {
            Some(n) => self.nodes[n].newer = Some(i),
            None => self.oldest = Some(i),
        }
        self.newest = Some(i);
    }
}

#[cfg(test)]
mod tests;
