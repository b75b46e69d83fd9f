//! The open-file and metadata cache: what a path is (file, folder, missing), its open
//! descriptor, its validators rendered once, its pre-compressed sidecars, and for small
//! files the bytes themselves. A hit costs no system call at all.
//!
//! Freshness: an entry is trusted for `ttl` (default 1 s, `--cache-ttl`), then re-checked
//! with one `statat` per name (the file and its three sidecar names): if device, inode,
//! size, modification time and type are unchanged the entry is kept, otherwise it is
//! loaded again. With `ttl = 0` every request re-checks, so changes show at once. The
//! re-check follows symlinks like the open does; it only compares identities, and any
//! change leads back to the confined `open_beneath`, so it cannot reach outside the root.
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, FileType};

use crate::fs::compress::{FileId, Level, computed_etag};
use crate::fs::resolve::open_beneath;
use crate::http::compressible::is_compressible;
use crate::http::files::{self, Coding, MimeOverrides};
use crate::http::plan::{Field, FieldBlock, Source, Text};
use crate::util::map::BodyFile;

/// Files up to this size are kept in memory whole, so a hit is served by one `write`.
pub const MEMORY_FILE_MAX: u64 = 16 * 1024;

/// At most this many bytes of file contents are held in memory, over all entries.
pub const MEMORY_BUDGET: usize = 32 * 1024 * 1024;

/// How long a lookup on a pool thread waits, between tries, for a descriptor to be freed
/// (half a second in all) before it is answered with 503.
const EXHAUSTED_RETRIES_MS: [u64; 6] = [10, 20, 40, 80, 150, 200];

/// At most this many paths are cached.
pub const CAPACITY: usize = 4096;

/// One representation of a file: the file itself or a pre-compressed sidecar.
#[derive(Debug)]
pub struct Variant {
    pub coding: Option<Coding>,
    pub source: Source,
    pub len: u64,
    pub modified: SystemTime,
    pub etag: Arc<str>,
    /// `Last-Modified` as an HTTP-date.
    pub last_modified: Arc<str>,
    /// Its fields in a 200 (`ok_fields`), made once when loaded; each protocol's
    /// rendering of them is kept with them.
    pub ok_fields: Arc<FieldBlock>,
}

/// A regular file and the sidecars that may replace it.
#[derive(Debug)]
pub struct CachedFile {
    /// The `Content-Type` value (by the path's extension), shared by every variant.
    pub content_type: Arc<str>,
    pub original: Variant,
    /// Valid sidecars (regular, not older than the original), in `Coding::ALL` order.
    pub sidecars: Vec<Variant>,
    /// The sidecars' codings, for negotiation.
    pub codings: Vec<Coding>,
    /// The path it was looked up by (relative to the root, no leading `/`).
    pub rel: Box<str>,
    /// The original's identity when loaded: the computed codings' cache key.
    pub id: FileId,
    /// The ETags of its computed codings (`computed_etag`, by `Coding::ALL` then `Level`),
    /// made once off the loop; empty when it is not `compressible`.
    computed_etags: Box<[Arc<str>]>,
    /// Worth compressing on the fly (`Compression` allows it: type and size).
    pub compressible: bool,
    /// The fields its 2xx and 304 end with (the site's, by path rules), made by the site
    /// the first time it serves the file: once per cached file, never per request.
    pub path_fields: OnceLock<Option<Arc<FieldBlock>>>,
}

impl CachedFile {
    pub fn sidecar(&self, coding: Coding) -> Option<&Variant> {
        self.sidecars.iter().find(|v| v.coding == Some(coding))
    }

    /// The ETag of `coding` computed at `level` (None: the file is not compressible).
    pub fn computed_etag(&self, coding: Coding, level: Level) -> Option<&Arc<str>> {
        let i = Coding::ALL.iter().position(|c| *c == coding)? * 2 + usize::from(level == Level::Best);
        self.computed_etags.get(i)
    }
}

/// Which files are compressed on the fly (`--compress`, `--compress-min`, `--compress-max`):
/// the file cache marks them (`CachedFile::compressible`) and gives every response of
/// theirs `Vary: Accept-Encoding`, identity ones included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    pub min: u64,
    pub max: u64,
}

impl Compression {
    /// True when a file of this type and length is compressed on the fly.
    pub fn covers(&self, content_type: &str, len: u64) -> bool {
        (self.min..=self.max).contains(&len) && is_compressible(content_type)
    }
}

/// What a path under the root turned out to be.
#[derive(Debug, Clone)]
pub enum Lookup {
    File(Arc<CachedFile>),
    Dir,
    /// A FIFO, socket or device: never served.
    Special,
    Missing,
    Denied,
    /// Out of descriptors: try again later (not cached).
    Exhausted,
}

/// What `statat` says about a name; a change means the entry is stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    dev: u64,
    ino: u64,
    size: i64,
    mtime: (i64, i64),
    kind: u32,
}

/// The identities of a name and of its three sidecar names.
pub type Identities = [Option<Identity>; 4];

/// A fresh load: the lookup and what keeping it would cost.
#[derive(Debug)]
pub struct Loaded {
    lookup: Lookup,
    memory: usize,
    fds: usize,
    /// False when part of it could not be known (out of descriptors): serve, don't keep.
    complete: bool,
}

#[derive(Debug)]
struct Entry {
    lookup: Lookup,
    /// Trusted without a check until then: last checked + ttl.
    fresh_until: Instant,
    /// The identities of the name and of its sidecar names when loaded.
    identities: Identities,
    memory: usize,
    /// Descriptors the entry holds open (large files and their sidecars).
    fds: usize,
    /// A re-check of it is running since then: meanwhile the entry is trusted as it is, so a
    /// hundred requests that find it expired start one check, not a hundred.
    checking: Option<Instant>,
}

/// How long a re-check may run before another is started (a disk that stopped answering
/// holds the first one; the entry is trusted meanwhile).
const CHECK_PATIENCE: Duration = Duration::from_secs(10);

/// The cache's hasher: foldhash, several times cheaper than SipHash on short paths
/// (hashing was the largest cost of a hit). A path is attacker-chosen only on a miss,
/// which inserts it: flooding one bucket needs the seed, which comes from the OS, and
/// even a map of colliding paths holds at most `CAPACITY`, so a look-up is bounded.
type PathHasher = foldhash::fast::SeedableRandomState;

fn path_hasher() -> PathHasher {
    use std::hash::BuildHasher;
    // std's RandomState is keyed from the OS; one of its outputs is an unguessable seed.
    let seed = std::collections::hash_map::RandomState::new().hash_one(0u64);
    PathHasher::with_seed(seed, foldhash::SharedSeed::global_random())
}

/// Path -> lookup, with time-bounded trust.
#[derive(Debug)]
pub struct FileCache {
    slots: HashMap<String, Entry, PathHasher>,
    mime: Arc<MimeOverrides>,
    ttl: Duration,
    memory: usize,
    /// Descriptors held by all entries, and the most they may hold: cached descriptors
    /// share `RLIMIT_NOFILE` with connections, so they are bounded too.
    fds: usize,
    max_fds: usize,
    /// Files compressed on the fly (None: none).
    compression: Option<Compression>,
}

impl FileCache {
    pub fn new(ttl: Duration, mime: MimeOverrides, max_fds: usize) -> Self {
        FileCache {
            slots: HashMap::with_hasher(path_hasher()),
            mime: Arc::new(mime),
            ttl,
            memory: 0,
            fds: 0,
            max_fds,
            compression: None,
        }
    }

    /// Marks the files `compression` covers from now on (entries loaded before keep
    /// their marks until re-loaded: set it before the first look-up).
    pub fn set_compression(&mut self, compression: Option<Compression>) {
        self.compression = compression;
    }

    /// The entry held for `rel`, fresh or not, without a system call.
    pub fn held(&self, rel: &str) -> Option<&Lookup> {
        self.slots.get(rel).map(|s| &s.lookup)
    }

    /// What `rel` (a clean relative path) is, from the cache when fresh, with no system
    /// call; otherwise the check that must run first (`Check::run`, which may block on the
    /// disk), whose outcome `install` takes.
    pub fn peek(&mut self, root: &Arc<File>, rel: &str, now: Instant) -> Peek {
        let checking = |slot: &Entry| slot.checking.is_some_and(|since| now < since + CHECK_PATIENCE);
        match self.slots.get_mut(rel) {
            Some(slot) if now < slot.fresh_until || checking(slot) => Peek::Fresh(slot.lookup.clone()),
            slot => Peek::Check(Box::new(Check {
                root: root.clone(),
                rel: rel.to_string(),
                known: slot.map(|s| {
                    s.checking = Some(now);
                    (s.identities, s.lookup.clone())
                }),
                mime: self.mime.clone(),
                memory_room: MEMORY_BUDGET.saturating_sub(self.memory),
                compression: self.compression,
            })),
        }
    }

    /// What `rel` is: `peek`, and the check run at once when one is due.
    pub fn lookup(&mut self, root: &Arc<File>, rel: &str, now: Instant) -> Lookup {
        match self.peek(root, rel, now) {
            Peek::Fresh(lookup) => lookup,
            Peek::Check(check) => self.install(check.run(), now),
        }
    }

    /// Takes a check's outcome: an unchanged entry is trusted for another `ttl`, a fresh
    /// load replaces it (kept only when complete and within the descriptor budget).
    pub fn install(&mut self, checked: Checked, now: Instant) -> Lookup {
        let (rel, identities, loaded) = match checked {
            Checked::Unchanged { rel, lookup } => {
                if let Some(slot) = self.slots.get_mut(&rel) {
                    slot.fresh_until = now + self.ttl;
                    slot.checking = None;
                }
                return lookup;
            }
            Checked::Loaded { rel, loaded } => {
                let (identities, loaded) = *loaded;
                (rel, identities, loaded)
            }
        };
        if let Some(old) = self.slots.remove(&rel) {
            self.forget(&old);
        }
        let budget = MEMORY_BUDGET.saturating_sub(self.memory);
        if !loaded.complete || loaded.fds > self.max_fds || loaded.memory > budget {
            return loaded.lookup; // Served, not kept.
        }
        self.make_room(loaded.fds);
        self.memory += loaded.memory;
        self.fds += loaded.fds;
        let slot = Entry {
            lookup: loaded.lookup.clone(),
            fresh_until: now + self.ttl,
            identities,
            memory: loaded.memory,
            fds: loaded.fds,
            checking: None,
        };
        self.slots.insert(rel, slot);
        loaded.lookup
    }

    /// Evicts until one more entry (holding `fds` descriptors) fits. Random replacement:
    /// the hash order picks the victim, so a crawl over more files than fit costs one miss
    /// per file, never a sweep of the cache. When descriptors are short, only an entry
    /// that holds one is worth evicting.
    fn make_room(&mut self, fds: usize) {
        while self.slots.len() >= CAPACITY || self.fds + fds > self.max_fds {
            let need_fd = self.fds + fds > self.max_fds;
            let victim = self.slots.iter().find(|(_, s)| !need_fd || s.fds > 0).map(|(k, _)| k.clone());
            let Some(old) = victim.and_then(|k| self.slots.remove(&k)) else { break };
            self.forget(&old);
        }
    }

    fn forget(&mut self, slot: &Entry) {
        self.memory -= slot.memory;
        self.fds -= slot.fds;
    }

    /// What `statat` said of `rel` when last checked, if it is cached: a folder's
    /// modification time changes with its entries, so this names a listing's version.
    pub fn identity(&self, rel: &str) -> Option<Identity> {
        self.slots.get(rel).and_then(|slot| slot.identities[0])
    }

    /// Drops every entry: the root they were looked up under was swapped for another.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.memory = 0;
        self.fds = 0;
    }

    /// Entries held (for tests).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// What a 200 of one representation says about it: it depends on the representation
/// alone, so it is made once per variant. `vary`: the file has sidecars or is compressible.
pub fn ok_fields(content_type: &Arc<str>, v: &Variant, vary: bool) -> Vec<Field> {
    let mut fields = vec![
        Field::ContentType(Text::Shared(content_type.clone())),
        Field::ContentLength(v.len),
        Field::NoSniff,
        Field::AcceptRanges,
    ];
    validator_fields(&mut fields, v, vary);
    fields
}

/// A representation's validators and how it was chosen, as every 200, 206 and 304 of it
/// says: `ETag`, `Last-Modified`, its `Content-Encoding` if coded, and `Vary` when the
/// file has sidecars or is compressed on the fly.
pub fn validator_fields(fields: &mut Vec<Field>, v: &Variant, vary: bool) {
    fields.push(Field::ETag(Text::Shared(v.etag.clone())));
    fields.push(Field::LastModified(Text::Shared(v.last_modified.clone())));
    fields.extend(v.coding.map(Field::ContentEncoding));
    if vary {
        fields.push(Field::Vary("Accept-Encoding"));
    }
}

/// How many descriptors a lookup keeps open.
fn descriptors(lookup: &Lookup) -> usize {
    match lookup {
        Lookup::File(f) => {
            std::iter::once(&f.original).chain(&f.sidecars).filter(|v| matches!(v.source, Source::File(_))).count()
        }
        _ => 0,
    }
}

fn lookup_error(e: &io::Error) -> Lookup {
    match e.raw_os_error().map(rustix::io::Errno::from_raw_os_error) {
        Some(rustix::io::Errno::ACCESS) | Some(rustix::io::Errno::PERM) => Lookup::Denied,
        Some(rustix::io::Errno::MFILE) | Some(rustix::io::Errno::NFILE) | Some(rustix::io::Errno::NOMEM) => {
            Lookup::Exhausted
        }
        _ => Lookup::Missing,
    }
}

/// What `peek` found.
#[derive(Debug)]
pub enum Peek {
    Fresh(Lookup),
    /// Not cached, or trusted no longer: this check must run (off the loop if it can).
    Check(Box<Check>),
}

/// The part of a lookup that may wait on the disk: a re-check of a known entry's
/// identities (one `statat` per name), and a load when they changed or nothing is known.
/// It owns all it needs (`Send`), so any thread may run it.
#[derive(Debug)]
pub struct Check {
    root: Arc<File>,
    rel: String,
    /// The entry's identities and lookup, when there is one to re-check.
    known: Option<(Identities, Lookup)>,
    mime: Arc<MimeOverrides>,
    /// Bytes of small files the cache could still hold.
    memory_room: usize,
    compression: Option<Compression>,
}

/// A check's outcome, for `FileCache::install`.
#[derive(Debug)]
pub enum Checked {
    Unchanged { rel: String, lookup: Lookup },
    Loaded { rel: String, loaded: Box<(Identities, Loaded)> },
}

impl Check {
    /// The path checked.
    pub fn rel(&self) -> &str {
        &self.rel
    }

    /// Runs the system calls: blocking, so never on the loop where a disk may be slow.
    pub fn run(self: Box<Self>) -> Checked {
        self.run_with(true)
    }

    /// `run`, on the loop: a descriptor shortage is answered at once, never waited out.
    pub fn run_here(self: Box<Self>) -> Checked {
        self.run_with(false)
    }

    fn run_with(self: Box<Self>, may_wait: bool) -> Checked {
        let identities = probe(&self.root, &self.rel);
        if let Some((known, lookup)) = &self.known
            && *known == identities
        {
            return Checked::Unchanged { rel: self.rel, lookup: lookup.clone() };
        }
        let mut loaded = self.load();
        // Out of descriptors: the loop's accepts took the last ones, and its reaping of idle
        // connections frees some soon. A pool thread may wait; the loop would have had to
        // answer 503 at once.
        for pause_ms in EXHAUSTED_RETRIES_MS {
            if !may_wait || !matches!(loaded.lookup, Lookup::Exhausted) {
                break;
            }
            std::thread::sleep(Duration::from_millis(pause_ms));
            loaded = self.load();
        }
        Checked::Loaded { rel: self.rel, loaded: Box::new((identities, loaded)) }
    }

    fn load(&self) -> Loaded {
        let (root, rel) = (&*self.root, self.rel.as_str());
        let done = |lookup| Loaded { complete: !matches!(lookup, Lookup::Exhausted), lookup, memory: 0, fds: 0 };
        let file = match open_beneath(root, rel) {
            Ok(f) => f,
            Err(e) => return done(lookup_error(&e)),
        };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => return done(lookup_error(&e)),
        };
        if meta.is_dir() {
            return done(Lookup::Dir);
        }
        if !meta.is_file() {
            return done(Lookup::Special);
        }
        let id = FileId::of(&meta);
        let mut memory = 0;
        let Some(mut original) = self.variant(file, &meta, None, &mut memory) else {
            return done(Lookup::Missing);
        };
        let mut sidecars = Vec::new();
        let mut complete = true;
        // A sidecar of a sidecar (`x.gz.br`) is never looked for.
        if !Coding::ALL.iter().any(|c| rel.ends_with(c.suffix())) {
            for coding in Coding::ALL {
                let file = match open_beneath(root, &format!("{rel}{}", coding.suffix())) {
                    Ok(file) => file,
                    Err(e) => {
                        // Absent is a fact; anything else (out of descriptors) is not, and
                        // an entry missing a sidecar must not be kept.
                        complete &= matches!(lookup_error(&e), Lookup::Missing);
                        continue;
                    }
                };
                let Ok(meta) = file.metadata() else { continue };
                let fresh = meta.modified().is_ok_and(|m| m >= original.modified);
                if meta.is_file() && fresh {
                    sidecars.extend(self.variant(file, &meta, Some(coding), &mut memory));
                }
            }
        }
        let media = files::media_type(rel, &self.mime);
        let content_type: Arc<str> =
            if media.text { format!("{}; charset=utf-8", media.essence).into() } else { media.essence.into() };
        let codings: Vec<Coding> = sidecars.iter().filter_map(|v| v.coding).collect();
        let compressible = self.compression.is_some_and(|c| c.covers(&content_type, original.len));
        let vary = !codings.is_empty() || compressible;
        for v in std::iter::once(&mut original).chain(&mut sidecars) {
            v.ok_fields = Arc::new(FieldBlock::new(ok_fields(&content_type, v, vary)));
        }
        let computed_etags = match compressible {
            true => Coding::ALL
                .iter()
                .flat_map(|&c| [Level::Fast, Level::Best].map(|l| computed_etag(&original.etag, c, l).into()))
                .collect(),
            false => Box::default(),
        };
        let lookup = Lookup::File(Arc::new(CachedFile {
            content_type,
            codings,
            original,
            sidecars,
            rel: rel.into(),
            id,
            computed_etags,
            compressible,
            path_fields: OnceLock::new(),
        }));
        let fds = descriptors(&lookup);
        Loaded { lookup, memory, fds, complete }
    }

    /// Renders the validators once and keeps a small file's bytes when the budget allows.
    /// None when the file shrank while being read.
    fn variant(
        &self,
        file: File,
        meta: &std::fs::Metadata,
        coding: Option<Coding>,
        memory: &mut usize,
    ) -> Option<Variant> {
        let len = meta.len();
        let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
        // A modification time in the future is not announced (RFC 9110 section 8.8.2.1).
        let modified = mtime.min(SystemTime::now());
        let source = if len <= MEMORY_FILE_MAX && *memory + len as usize <= self.memory_room {
            let mut bytes = vec![0; len as usize];
            file.read_exact_at(&mut bytes, 0).ok()?;
            *memory += bytes.len();
            Source::Memory(bytes.into())
        } else {
            Source::File(Arc::new(BodyFile::new(file, len)))
        };
        Some(Variant {
            coding,
            source,
            len,
            modified,
            etag: files::etag(len, mtime, coding).into(),
            last_modified: httpdate::fmt_http_date(modified).into(),
            ok_fields: Arc::default(), // Once the file's type and sidecars are known.
        })
    }
}

/// The identities of `rel` and its sidecar names, one `statat` each.
fn probe(root: &File, rel: &str) -> Identities {
    let stat = |name: &str| {
        let path = if name.is_empty() { "." } else { name };
        rustix::fs::statat(root.as_fd(), path, AtFlags::empty()).ok().map(|st| Identity {
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size,
            mtime: (st.st_mtime, st.st_mtime_nsec as i64),
            kind: FileType::from_raw_mode(st.st_mode).as_raw_mode(),
        })
    };
    let main = stat(rel);
    let is_file = main.is_some_and(|m| m.kind == FileType::RegularFile.as_raw_mode());
    let mut ids = [main, None, None, None];
    if is_file {
        for (i, coding) in Coding::ALL.iter().enumerate() {
            ids[i + 1] = stat(&format!("{rel}{}", coding.suffix()));
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_revalidation_and_changes() {
        let dir = std::env::temp_dir().join(format!("evserve-cache-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.txt"), "one").unwrap();
        let root = Arc::new(File::open(&dir).unwrap());
        let t0 = Instant::now();
        let mut cache = FileCache::new(Duration::from_secs(1), MimeOverrides::new(), 8);
        let Lookup::File(first) = cache.lookup(&root, "a.txt", t0) else { panic!() };
        assert!(matches!(first.original.source, Source::Memory(ref b) if &b[..] == b"one"));
        std::fs::write(dir.join("a.txt"), "two!").unwrap();
        // Within the TTL the old entry is trusted...
        let Lookup::File(same) = cache.lookup(&root, "a.txt", t0) else { panic!() };
        assert!(Arc::ptr_eq(&first, &same));
        // ...after it, the change (size) is seen.
        let Lookup::File(new) = cache.lookup(&root, "a.txt", t0 + Duration::from_secs(2)) else { panic!() };
        assert_eq!(new.original.len, 4);
        // Unchanged after the TTL: the same entry, re-checked.
        let Lookup::File(again) = cache.lookup(&root, "a.txt", t0 + Duration::from_secs(4)) else { panic!() };
        assert!(Arc::ptr_eq(&new, &again));
        assert!(matches!(cache.lookup(&root, "sub", t0), Lookup::Dir));
        assert!(matches!(cache.lookup(&root, "nope", t0), Lookup::Missing));
        // A sidecar appearing is noticed at the next check.
        std::fs::write(dir.join("a.txt.gz"), "gz").unwrap();
        let Lookup::File(with) = cache.lookup(&root, "a.txt", t0 + Duration::from_secs(6)) else { panic!() };
        assert!(with.sidecar(Coding::Gzip).is_some());
        assert_eq!(cache.len(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Many requests that find an entry expired start one re-check; the others are served
    /// the entry meanwhile, until the check's outcome is installed (or it takes too long).
    #[test]
    fn one_re_check_at_a_time() {
        let dir = std::env::temp_dir().join(format!("evserve-cache-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.txt"), "one").unwrap();
        let root = Arc::new(File::open(&dir).unwrap());
        let t0 = Instant::now();
        let mut cache = FileCache::new(Duration::from_secs(1), MimeOverrides::new(), 8);
        assert!(matches!(cache.lookup(&root, "a.txt", t0), Lookup::File(_)));
        let later = t0 + Duration::from_secs(2);
        let Peek::Check(check) = cache.peek(&root, "a.txt", later) else { panic!("expired: a check") };
        for _ in 0..100 {
            assert!(matches!(cache.peek(&root, "a.txt", later), Peek::Fresh(Lookup::File(_))));
        }
        // A check that never comes back does not stop the next one for long.
        assert!(matches!(cache.peek(&root, "a.txt", later + CHECK_PATIENCE), Peek::Check(_)));
        cache.install(check.run(), later);
        assert!(matches!(cache.peek(&root, "a.txt", later), Peek::Fresh(_)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn held_descriptors_are_bounded() {
        let dir = std::env::temp_dir().join(format!("evserve-cache-fds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["a", "b", "c"] {
            std::fs::write(dir.join(name), vec![0u8; MEMORY_FILE_MAX as usize + 1]).unwrap();
        }
        let root = Arc::new(File::open(&dir).unwrap());
        let t0 = Instant::now();
        let mut cache = FileCache::new(Duration::from_secs(60), MimeOverrides::new(), 2);
        for name in ["a", "b", "c", "a", "b", "c"] {
            assert!(matches!(cache.lookup(&root, name, t0), Lookup::File(_)));
            assert!(cache.fds <= 2 && cache.len() <= 2, "{} descriptors in {} entries", cache.fds, cache.len());
        }
        let mut none = FileCache::new(Duration::from_secs(60), MimeOverrides::new(), 0);
        assert!(matches!(none.lookup(&root, "a", t0), Lookup::File(_)));
        assert!(none.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
