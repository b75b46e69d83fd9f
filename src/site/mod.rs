//! A request view -> a response plan, or the job that must run first. This is the one
//! place that chooses a status for a request that parsed; the pipeline reads top to
//! bottom from `Site::plan`:
//!
//! 1. the root's path re-checked, once per `--cache-ttl` (a job);
//! 2. method: GET/HEAD served, OPTIONS answered, anything else 405;
//! 3. target -> path under the root (`resolve`), or 400/404;
//! 4. the path looked up in the open-file cache (`peek`: no system call on a hit; a job on a
//!    miss or an expired entry): a folder without its slash is 301, a folder serves
//!    `index.html` (or a listing, a job), a missing file is 404 (`404.html` when the site
//!    has one, or the SPA entry point: more lookups, each perhaps a job);
//! 5. the representation chosen by `Accept-Encoding`: a pre-compressed sidecar, else a
//!    coding computed on the pool and kept in memory (`compressed`), else the file;
//! 6. preconditions (304/412), then `Range` (206/416);
//! 7. the plan: status, fields, and a body in memory or in the file.
//!
//! It never touches a socket and writes no protocol's bytes: `http1::render` does. A job
//! stops the pipeline at a `Step`; `Site::resume` takes its outcome and goes on from there.
pub(crate) mod job;
pub(crate) mod listing;
pub(crate) mod redirect;
pub(crate) mod root;
pub mod rules;

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::fs::cache::{self, CachedFile, Compression, FileCache, Lookup, Peek, Variant};
use crate::fs::compress::{self, Cached, CompressCache, CompressJob, Compressed, Key, Level};
use crate::fs::resolve::{self, Reject, Resolved};
use crate::http::compressible;
use crate::http::files::Coding;
use crate::http::files::{self, Conditions, MimeOverrides, Precondition, RangeOutcome};
use crate::http::plan::{Body, Field, FieldBlock, Plan, Segment, Source, Text};
use crate::http::status::{HTML, error_body, error_plan};
use crate::http::view::{RequestView, Target};
use crate::util::text::encode_path;

pub use job::{Done, Job};
use job::{Outcome, Step};
use root::{RootWatch, Verdict, open_folder};
pub use rules::PathRule;

/// What the site serves and how; fixed at start-up.
#[derive(Debug, Clone, Default)]
pub struct SiteOptions {
    /// Serve dotfiles and dot-folders (`/.well-known/` is always served).
    pub dotfiles: bool,
    /// Answer a folder without `index.html` with a listing.
    pub listing: bool,
    /// Serve `/index.html` for missing paths without an extension (single-page apps).
    pub spa: bool,
    pub mime: MimeOverrides,
    /// Fields added to every 2xx and 304 (`--cache-control`, then each `--header`),
    /// already validated.
    pub headers: Vec<(String, String)>,
    /// `--cache-control-for` and `--header-for`, in order: `fields_for` applies them to
    /// `headers` for one path.
    pub rules: Vec<PathRule>,
    /// How long a cached lookup is trusted before it is re-checked (0: every request).
    pub cache_ttl: Duration,
    /// Most descriptors the file cache may keep open.
    pub cache_fds: usize,
    pub compress: CompressOptions,
}

/// Compression on the fly (`--compress`, `--compress-min`, `--compress-max`,
/// `--compress-memory`). The default here is off (tests opt in); the flag's is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressOptions {
    pub on: bool,
    /// Files of `min..=max` bytes of a compressible type are compressed.
    pub min: u64,
    pub max: u64,
    /// Bytes the computed codings may hold (`CompressCache`'s budget).
    pub memory: usize,
    /// Work no request waits for may be queued (`take_background_jobs`): the best levels,
    /// and the fast level of large files. Off without a pool (`--io-threads 0`), where
    /// every job would run on the loop.
    pub background: bool,
}

impl Default for CompressOptions {
    fn default() -> Self {
        CompressOptions {
            on: false,
            min: compressible::MIN_SIZE,
            max: compressible::MAX_SIZE,
            memory: compress::DEFAULT_BUDGET,
            background: true,
        }
    }
}

/// A first request for a file not yet compressed waits for the fast level when the file
/// is at most this large (a few milliseconds of one pool thread at the fast levels'
/// 35-350 MB/s), so that a browser's first load is compressed; a larger file is served
/// identity while its fast level is made in the background.
pub const WAIT_FOR_FAST_MAX: u64 = 256 * 1024;

/// A file at most this long is compressed at the best level by the first request's job
/// (brotli 11 takes a few milliseconds on 32 KiB of text), with no fast level before it.
pub const BEST_AT_ONCE_MAX: u64 = 32 * 1024;

/// Best-level jobs waiting for their turn (one runs at a time per site): beyond this,
/// a file keeps its fast coding until it is asked for again.
const BEST_QUEUE_MAX: usize = 1024;

/// Fast-level jobs in the background (large files, served identity meanwhile) at most: each
/// holds a descriptor and, running, the file's bytes; a file beyond it is tried again on a
/// later request.
const FAST_IN_FLIGHT_MAX: usize = 32;

/// The site's computed codings and the work in flight for them.
#[derive(Debug)]
struct Compressor {
    cache: CompressCache,
    /// Jobs no request waits for, until the server takes them.
    background: Vec<Job>,
    /// Fast-level jobs queued in the background, so a file is not coded twice at once.
    fast_in_flight: HashSet<Key>,
    /// Codings a request waits for: another request for the same coding meanwhile is
    /// served identity rather than coding the file a second time (a burst of first loads
    /// after a deploy costs one job per file, not one per client).
    waited_for: HashSet<Key>,
    /// A best-level job is running: at most one per site, so that slow best-level coding
    /// never holds every pool thread.
    best_running: bool,
    /// Best-level jobs waiting for the running one, and every key queued or running.
    /// Waiting ones hold the file's path, not its descriptor (a thousand waiting jobs must
    /// not hold a thousand descriptors): the file cache's entry supplies the bytes or the
    /// descriptor when its turn comes, if it is still the same file.
    best_waiting: VecDeque<(Key, Box<str>)>,
    best_known: HashSet<Key>,
    /// Each kept coding as a representation (its 200 fields rendered once), made on its
    /// first hit, so that a hit formats nothing. An entry whose bytes the cache no longer
    /// holds (evicted, replaced by the best level, the file changed) is pruned after each
    /// change to the cache, and never served: a hit checks it holds the same bytes.
    variants: foldhash::HashMap<Key, Arc<Variant>>,
    /// Set while a request is re-planned after the job it waited for: it does not wait
    /// again (a read that failed would otherwise be retried forever).
    waited: bool,
    /// Why the last file served got the coding it got, for `--trace`.
    note: Option<&'static str>,
}

/// The served folder. Every lookup is relative to the held descriptor, so one response
/// never mixes files of two trees; the path it came from is re-resolved at most once per
/// `cache_ttl` (`RootWatch`), so a deploy that swaps the path is picked up.
#[derive(Debug)]
pub struct Site {
    root: Arc<File>,
    /// Counts root swaps: a job's result from an older tree is not used.
    generation: u64,
    watch: RootWatch,
    options: SiteOptions,
    /// `options.headers`, as the fields every 2xx and 304 ends with.
    site_fields: Option<Arc<FieldBlock>>,
    cache: FileCache,
    /// Listings made, for the folder's version they show.
    listings: listing::Kept,
    /// Scratch for looked-up paths (`dir/index.html`): no allocation per request.
    path: String,
    compressor: Compressor,
}

/// A plan, or the job to run before it can be made.
#[derive(Debug)]
pub enum Planned {
    Ready(Plan),
    Pending(Job),
}

impl Site {
    pub fn new(root: &Path, options: SiteOptions) -> io::Result<Site> {
        let (root_dir, id) = open_folder(root)?;
        let watch = RootWatch::new(root.to_path_buf(), id, Instant::now());
        let mut cache = FileCache::new(options.cache_ttl, options.mime.clone(), options.cache_fds);
        let c = options.compress;
        cache.set_compression(c.on.then_some(Compression { min: c.min, max: c.max }));
        let compressor = Compressor {
            cache: CompressCache::new(c.memory),
            background: Vec::new(),
            fast_in_flight: HashSet::new(),
            waited_for: HashSet::new(),
            best_running: false,
            best_waiting: VecDeque::new(),
            best_known: HashSet::new(),
            variants: foldhash::HashMap::default(),
            waited: false,
            note: None,
        };
        let fields: Vec<Field> = options
            .headers
            .iter()
            .map(|(name, value)| Field::Custom { name: name.as_str().into(), value: value.as_str().into() })
            .collect();
        let site_fields = (!fields.is_empty()).then(|| Arc::new(FieldBlock::new(fields)));
        Ok(Site {
            root: Arc::new(root_dir),
            generation: 0,
            watch,
            options,
            site_fields,
            cache,
            listings: listing::Kept::default(),
            path: String::new(),
            compressor,
        })
    }

    /// Plans the response to `view`, or says which job must run first.
    pub fn plan(&mut self, view: &RequestView, now: Instant) -> Planned {
        self.compressor.note = None;
        if self.watch.due(now, self.options.cache_ttl) {
            self.watch.checked = now;
            return Planned::Pending(Job::root(self.watch.path.clone(), self.watch.held, self.generation));
        }
        self.begin(view, now)
    }

    /// Goes on with the plan `done`'s job stopped.
    pub fn resume(&mut self, view: &RequestView, done: Done, now: Instant) -> Planned {
        self.compressor.note = None;
        let Done { outcome, step, generation } = done;
        match outcome {
            Outcome::Compress { key, level, result } => {
                self.compressed(key, level, *result);
                // Planned again from the start: the lookup is a hit (or due again).
                self.compressor.waited = true;
                let planned = self.begin(view, now);
                self.compressor.waited = false;
                planned
            }
            Outcome::Root(found) => {
                self.swap_root(found);
                self.begin(view, now)
            }
            // The tree was swapped while the job ran: start again in the new one.
            _ if generation != self.generation => self.begin(view, now),
            Outcome::Lookup(checked) => {
                let lookup = self.install(checked, now);
                let resolved = match view.target {
                    Target::Path(target) => resolve::resolve_target(target, self.options.dotfiles).ok(),
                    Target::Asterisk => None,
                };
                self.found(view, resolved.as_ref(), step, lookup, now)
            }
            Outcome::Listing { page: Ok(page), json, rel } => {
                let page: Arc<[u8]> = page.into();
                self.listings.keep(&self.cache, rel, json, page.clone());
                Planned::Ready(self.listing(view, page, json))
            }
            Outcome::Listing { page: Err(_), .. } => Planned::Ready(self.error(view, 403)),
        }
    }

    /// A job's outcome whose request is gone (its client left): what it learnt of a path
    /// still goes into the cache, so the next request for it, and a re-check that others
    /// rely on, are not lost.
    pub fn absorb(&mut self, done: Done, now: Instant) {
        match done {
            Done { outcome: Outcome::Lookup(checked), generation, .. } if generation == self.generation => {
                self.install(checked, now);
            }
            Done { outcome: Outcome::Compress { key, level, result }, .. } => self.compressed(key, level, *result),
            _ => {}
        }
    }

    /// The outcome of a job no request waited for (`take_background_jobs`); any other
    /// outcome is dropped.
    pub fn resume_background(&mut self, done: Done, _now: Instant) {
        if let Outcome::Compress { key, level, result } = done.outcome {
            self.compressed(key, level, *result);
        }
    }

    /// The jobs no request waits for (compression in the background), for the server to
    /// run off the loop and hand back to `resume_background`.
    pub fn take_background_jobs(&mut self) -> Vec<Job> {
        std::mem::take(&mut self.compressor.background)
    }

    /// The computed codings' counters and size, for `--stats`.
    pub fn compress_stats(&self) -> compress::Stats {
        self.compressor.cache.stats()
    }

    /// Why the last file planned got the coding it got (`--trace`), once.
    pub fn take_note(&mut self) -> Option<&'static str> {
        self.compressor.note.take()
    }

    /// A lookup's outcome into the file cache; a file that changed drops its computed
    /// codings at once (a new identity would miss them anyway; this frees their memory).
    fn install(&mut self, checked: cache::Checked, now: Instant) -> Lookup {
        let before = match &checked {
            cache::Checked::Loaded { rel, .. } => match self.cache.held(rel) {
                Some(Lookup::File(f)) => Some(f.id),
                _ => None,
            },
            cache::Checked::Unchanged { .. } => None,
        };
        let lookup = self.cache.install(checked, now);
        let after = match &lookup {
            Lookup::File(f) => Some(f.id),
            _ => None,
        };
        if let Some(old) = before.filter(|old| Some(*old) != after) {
            self.compressor.cache.forget_file(old);
            self.compressor.prune_variants();
        }
        lookup
    }

    /// A compression job's outcome: kept (or remembered as not worth it), and the next
    /// best-level job started when this was one.
    fn compressed(&mut self, key: Key, level: Level, result: Compressed) {
        let c = &mut self.compressor;
        c.cache.record(result);
        c.prune_variants();
        c.waited_for.remove(&key);
        match level {
            Level::Fast => {
                c.fast_in_flight.remove(&key);
            }
            // A background best job ends: the next may start. (A small file's first
            // request ran its best level itself, outside that one-at-a-time queue.)
            Level::Best if c.best_known.remove(&key) => {
                c.best_running = false;
                self.next_best();
            }
            Level::Best => {}
        }
    }

    /// Starts the first waiting best-level job whose file the cache still holds unchanged
    /// (the others are dropped: a changed file starts again from its fast level).
    fn next_best(&mut self) {
        let c = &mut self.compressor;
        while let Some((key, rel)) = c.best_waiting.pop_front() {
            let source = match self.cache.held(&rel) {
                Some(Lookup::File(f)) if f.id == key.file => f.original.source.clone(),
                _ => {
                    c.best_known.remove(&key);
                    continue;
                }
            };
            let job = CompressJob::new(source, key, Level::Best, self.options.compress.max);
            c.best_running = true;
            c.background.push(Job::compress(job, self.generation));
            return;
        }
    }

    /// Queues the best level of a file whose fast one is served: at once when no best
    /// job runs, else behind it (at most `BEST_QUEUE_MAX` wait).
    fn want_best(&mut self, file: &CachedFile, key: Key) {
        let c = &mut self.compressor;
        if !self.options.compress.background || c.best_known.contains(&key) || c.best_waiting.len() >= BEST_QUEUE_MAX {
            return;
        }
        c.best_known.insert(key);
        if c.best_running {
            c.best_waiting.push_back((key, file.rel.clone()));
        } else {
            let job = CompressJob::new(file.original.source.clone(), key, Level::Best, self.options.compress.max);
            c.best_running = true;
            c.background.push(Job::compress(job, self.generation));
        }
    }

    /// What a re-check of the root's path found: the same folder, another one (swap it in,
    /// with a new cache: the two trees never mix; responses in flight keep the files they
    /// hold), or nothing usable (mid-deploy: keep serving the old folder).
    fn swap_root(&mut self, found: io::Result<Option<(File, root::FolderId)>>) {
        let seen = match &found {
            Ok(None) => Some(self.watch.held),
            Ok(Some((_, id))) => Some(*id),
            Err(_) => None,
        };
        let verdict = self.watch.observe(seen);
        let path = self.watch.path.display();
        match (verdict, found) {
            (Verdict::Changed, Ok(Some((root, id)))) => {
                self.root = Arc::new(root);
                self.watch.held = id;
                self.generation += 1;
                self.cache.clear();
                self.listings = listing::Kept::default();
                eprintln!("evserve: root {path} now resolves to a new folder");
            }
            (Verdict::Unusable, Err(e)) => {
                eprintln!("evserve: root {path}: {e}; still serving the folder it named before")
            }
            (Verdict::Back, _) => eprintln!("evserve: root {path} names its folder again"),
            _ => {}
        }
    }

    /// Steps 2 and 3: the method and the target.
    fn begin(&mut self, view: &RequestView, now: Instant) -> Planned {
        // A target that escapes the root or is malformed is 400 whatever the method, so no
        // method can be used to probe what the paths refuse.
        let resolved = match view.target {
            Target::Path(target) => match resolve::resolve_target(target, self.options.dotfiles) {
                Err(Reject::BadRequest(_)) => return Planned::Ready(self.bad_request(view)),
                resolved => Some(resolved),
            },
            Target::Asterisk => None,
        };
        match (view.method, resolved) {
            ("OPTIONS", _) => Planned::Ready(self.options_plan()),
            ("GET" | "HEAD", Some(Ok(resolved))) => self.look(view, Some(&resolved), Step::Target, now),
            // A hidden name is never an SPA route.
            ("GET" | "HEAD", Some(Err(_))) => self.look(view, None, Step::NotFoundPage, now),
            ("GET" | "HEAD", None) => Planned::Ready(self.bad_request(view)),
            _ => Planned::Ready(self.error(view, 405)),
        }
    }

    /// Step 4: looks up the path `step` is about, from the cache or by a job.
    fn look(&mut self, view: &RequestView, resolved: Option<&Resolved>, step: Step, now: Instant) -> Planned {
        let mut path = std::mem::take(&mut self.path);
        path.clear();
        match (step, resolved) {
            (Step::Target, Some(r)) => path.push_str(&r.path),
            (Step::Index, Some(r)) if !r.path.is_empty() => {
                path.push_str(&r.path);
                path.push_str("/index.html");
            }
            (Step::Index | Step::Spa, _) => path.push_str("index.html"),
            (Step::NotFoundPage | Step::Compress, _) | (Step::Target, None) => path.push_str("404.html"),
        }
        let peek = self.cache.peek(&self.root, &path, now);
        self.path = path;
        match peek {
            Peek::Fresh(lookup) => self.found(view, resolved, step, lookup, now),
            Peek::Check(check) => Planned::Pending(Job::lookup(check, step, self.generation)),
        }
    }

    /// What a lookup found, at the step it was made for.
    fn found(
        &mut self,
        view: &RequestView,
        resolved: Option<&Resolved>,
        step: Step,
        lookup: Lookup,
        now: Instant,
    ) -> Planned {
        let dir_form = resolved.is_some_and(|r| r.dir_form);
        let ready = |plan| Planned::Ready(plan);
        match (step, lookup) {
            (Step::Target, Lookup::File(_)) if dir_form => self.look(view, None, Step::NotFoundPage, now),
            (Step::Target | Step::Index | Step::Spa, Lookup::File(file)) => self.serve_file(view, &file),
            (Step::Target, Lookup::Dir) => match resolved {
                Some(r) if !r.dir_form => ready(self.redirect_to_folder(view, r)),
                _ => self.look(view, resolved, Step::Index, now),
            },
            (Step::Target, Lookup::Special) | (Step::Target | Step::Index, Lookup::Denied) => {
                ready(self.error(view, 403))
            }
            (Step::Target | Step::Index, Lookup::Exhausted) => ready(self.error(view, 503)),
            (Step::Target, Lookup::Missing) => {
                let spa_route = self.options.spa && resolved.is_some_and(|r| is_spa_route(&r.path));
                let next = if spa_route { Step::Spa } else { Step::NotFoundPage };
                self.look(view, None, next, now)
            }
            (Step::Index, _) if self.options.listing => {
                let json = view.fields.accept.is_some_and(listing::wants_json);
                let rel = resolved.map_or("", |r| &r.path);
                if let Some(page) = self.listings.find(&self.cache, rel, json) {
                    return ready(self.listing(view, page, json));
                }
                let rel = rel.to_string();
                Planned::Pending(Job::listing(self.root.clone(), rel, self.options.dotfiles, json, self.generation))
            }
            (Step::Index | Step::Spa, _) => self.look(view, None, Step::NotFoundPage, now),
            (Step::NotFoundPage, Lookup::File(page)) => ready(self.page(view, 404, &page.original)),
            (Step::NotFoundPage | Step::Compress, _) => ready(self.error(view, 404)),
        }
    }

    /// Step 5 for a regular file: which representation. A sidecar the client accepts wins
    /// (the operator made it; it costs nothing); else, for a compressible file, the best
    /// coding it accepts of those computed (brotli, zstd, gzip), when kept; else the file.
    /// A coding not yet made is a job: waited for when the file is small
    /// (`WAIT_FOR_FAST_MAX`), else run in the background while the file is served.
    fn serve_file(&mut self, view: &RequestView, file: &CachedFile) -> Planned {
        let accept = view.fields.accept_encoding;
        if let Some(sidecar) = files::negotiate(accept, &file.codings).and_then(|c| file.sidecar(c)) {
            self.compressor.note = Some("sidecar");
            return Planned::Ready(self.represent(view, file, sidecar));
        }
        if !file.compressible {
            self.compressor.note = Some("identity: not compressed on the fly (type, size or --compress off)");
            return Planned::Ready(self.represent(view, file, &file.original));
        }
        let Some(coding) = files::negotiate(accept, &Coding::ALL) else {
            self.compressor.note = Some("identity: no coding accepted");
            return Planned::Ready(self.represent(view, file, &file.original));
        };
        let key = Key { file: file.id, coding };
        let c = &mut self.compressor;
        match c.cache.lookup(&key) {
            Cached::Hit { bytes, level } => {
                c.note = Some(match level {
                    Level::Fast => "computed, fast level",
                    Level::Best => "computed, best level",
                });
                let same = |v: &&Arc<Variant>| matches!(&v.source, Source::Memory(b) if Arc::ptr_eq(b, &bytes));
                let v = match c.variants.get(&key).filter(same) {
                    Some(v) => v.clone(),
                    None => {
                        let v = Arc::new(computed_variant(file, coding, level, bytes));
                        c.variants.insert(key, v.clone());
                        v
                    }
                };
                if level == Level::Fast {
                    self.want_best(file, key);
                }
                Planned::Ready(self.represent(view, file, &v))
            }
            Cached::NotWorthIt { .. } => {
                c.note = Some("identity: coding saves too little");
                Planned::Ready(self.represent(view, file, &file.original))
            }
            Cached::Miss if c.waited_for.contains(&key) => {
                c.note = Some("identity: the coding is being made for another request");
                Planned::Ready(self.represent(view, file, &file.original))
            }
            Cached::Miss => {
                let waits = !c.waited && file.original.len <= WAIT_FOR_FAST_MAX;
                if waits {
                    c.waited_for.insert(key);
                }
                // A small file gets its best level at once (milliseconds): its ETag then never
                // changes from fast to best under a browser that revalidates it.
                if file.original.len <= BEST_AT_ONCE_MAX && !c.waited {
                    let job =
                        CompressJob::new(file.original.source.clone(), key, Level::Best, self.options.compress.max);
                    c.note = Some("waiting for the best level (a small file)");
                    return Planned::Pending(Job::compress(job, self.generation));
                }
                let job = CompressJob::new(file.original.source.clone(), key, Level::Fast, self.options.compress.max);
                if file.original.len <= WAIT_FOR_FAST_MAX && !c.waited {
                    c.note = Some("waiting for the fast level");
                    return Planned::Pending(Job::compress(job, self.generation));
                }
                c.note = Some("identity: coding not ready yet");
                let room = c.fast_in_flight.len() < FAST_IN_FLIGHT_MAX;
                if self.options.compress.background && !c.waited && room && c.fast_in_flight.insert(key) {
                    c.background.push(Job::compress(job, self.generation));
                }
                Planned::Ready(self.represent(view, file, &file.original))
            }
        }
    }

    /// The fields every 2xx and 304 of `file` ends with: the site's, by the path rules,
    /// made the first time the cached file is served.
    fn file_fields(&self, file: &CachedFile) -> Option<Arc<FieldBlock>> {
        if self.options.rules.is_empty() {
            return self.site_fields.clone();
        }
        let made = file.path_fields.get_or_init(|| {
            let fields: Vec<Field> =
                self.options.fields_for(&format!("/{}", file.rel)).into_iter().map(custom_field).collect();
            (!fields.is_empty()).then(|| Arc::new(FieldBlock::new(fields)))
        });
        made.clone()
    }

    /// Step 6 for one representation of a file: preconditions, ranges (of its own bytes:
    /// a computed coding's ranges are ranges of the coded bytes, under its own ETag).
    fn represent(&self, view: &RequestView, file: &CachedFile, rep: &Variant) -> Plan {
        let mut plan = self.represent_inner(view, file, rep);
        if (200..300).contains(&plan.status) || plan.status == 304 {
            plan.site_fields = self.file_fields(file);
        }
        plan
    }

    fn represent_inner(&self, view: &RequestView, file: &CachedFile, rep: &Variant) -> Plan {
        let vary = !file.codings.is_empty() || file.compressible;
        let conditions = Conditions {
            if_match: view.fields.if_match,
            if_none_match: view.fields.if_none_match,
            if_modified_since: view.fields.if_modified_since,
            if_unmodified_since: view.fields.if_unmodified_since,
        };
        match files::evaluate(&conditions, true, &rep.etag, rep.modified) {
            Precondition::Proceed => {}
            Precondition::NotModified => return self.not_modified(rep, vary),
            Precondition::Failed => return self.error(view, 412),
        }
        let ranges = match (view.fields.range, view.fields.if_range) {
            (None, _) => RangeOutcome::Full,
            (Some(_), Some(if_range)) if !files::if_range_allows(if_range, &rep.etag, rep.modified) => {
                RangeOutcome::Full
            }
            (Some(range), _) => files::parse_range(range, rep.len),
        };
        match ranges {
            RangeOutcome::Full => self.full(view, rep),
            RangeOutcome::Partial(list) if list.len() == 1 => self.single_range(view, file, rep, vary, list[0]),
            RangeOutcome::Partial(list) => self.multipart(view, file, rep, vary, &list),
            RangeOutcome::Unsatisfiable => self.unsatisfiable(view, rep.len),
        }
    }

    /// A plan with the site's own fields at the end (every 2xx and 304).
    fn success(&self, status: u16, fields: Vec<Field>, body: Body) -> Plan {
        Plan { site_fields: self.site_fields.clone(), ..Plan::new(status, fields, body) }
    }

    /// A 200: its fields were made when the file was cached, and are rendered once per
    /// protocol: a hit formats nothing.
    fn full(&self, view: &RequestView, v: &Variant) -> Plan {
        let mut plan = self.success(200, Vec::new(), body(view, &v.source, 0, v.len));
        plan.block = Some(v.ok_fields.clone());
        plan
    }

    fn single_range(
        &self,
        view: &RequestView,
        file: &CachedFile,
        v: &Variant,
        vary: bool,
        r: files::ByteRange,
    ) -> Plan {
        let mut fields = entity(Text::Shared(file.content_type.clone()), r.len());
        fields.push(Field::ContentRange { first: r.start, last: r.end, complete: v.len });
        fields.push(Field::AcceptRanges);
        cache::validator_fields(&mut fields, v, vary);
        self.success(206, fields, body(view, &v.source, r.start, r.len()))
    }

    /// Several ranges: `multipart/byteranges` (RFC 9110 section 14.6), each part headed by
    /// its own Content-Type and Content-Range.
    fn multipart(
        &self,
        view: &RequestView,
        file: &CachedFile,
        v: &Variant,
        vary: bool,
        list: &[files::ByteRange],
    ) -> Plan {
        let boundary = multipart_boundary(&v.etag);
        let mut segments = VecDeque::new();
        for (i, r) in list.iter().enumerate() {
            let lead = if i == 0 { "" } else { "\r\n" };
            let part = format!(
                "{lead}--{boundary}\r\nContent-Type: {}\r\nContent-Range: bytes {}-{}/{}\r\n\r\n",
                file.content_type, r.start, r.end, v.len
            );
            segments.push_back(Segment::Bytes(part.into_bytes()));
            segments.push_back(Segment::Range { offset: r.start, len: r.len() });
        }
        segments.push_back(Segment::Bytes(format!("\r\n--{boundary}--\r\n").into_bytes()));
        let total = segments.iter().map(Segment::size).sum();
        let mut fields = entity(Text::Owned(format!("multipart/byteranges; boundary={boundary}")), total);
        fields.push(Field::AcceptRanges);
        cache::validator_fields(&mut fields, v, vary);
        let body = if view.head_only() { Body::Empty } else { Body::Parts { source: v.source.clone(), segments } };
        self.success(206, fields, body)
    }

    fn not_modified(&self, v: &Variant, vary: bool) -> Plan {
        let mut fields = Vec::with_capacity(4);
        cache::validator_fields(&mut fields, v, vary);
        self.success(304, fields, Body::Empty)
    }

    fn unsatisfiable(&self, view: &RequestView, len: u64) -> Plan {
        let mut plan = error_plan(416, None, view.head_only());
        plan.fields.push(Field::UnsatisfiedRange { complete: len });
        plan
    }

    /// A whole file sent with a status of its own (the site's 404 page): no validators,
    /// since the file is not the target's representation.
    fn page(&self, view: &RequestView, status: u16, page: &Variant) -> Plan {
        Plan::new(status, entity(Text::Static(HTML), page.len), body(view, &page.source, 0, page.len))
    }

    /// A folder listing, made by a job; HTML or JSON by `Accept`, hence `Vary`.
    fn listing(&self, view: &RequestView, page: Arc<[u8]>, json: bool) -> Plan {
        let essence = if json { "application/json; charset=utf-8" } else { HTML };
        let mut fields = entity(Text::Static(essence), page.len() as u64);
        fields.push(Field::Vary("Accept"));
        let body = if view.head_only() { Body::Empty } else { Body::Made(page) };
        self.success(200, fields, body)
    }

    fn options_plan(&self) -> Plan {
        self.success(204, vec![Field::Allow], Body::Empty)
    }

    fn error(&self, view: &RequestView, status: u16) -> Plan {
        error_plan(status, None, view.head_only())
    }

    /// A 400: the client is confused, and what it sends next is not worth reading.
    fn bad_request(&self, view: &RequestView) -> Plan {
        Plan { close: true, ..self.error(view, 400) }
    }

    /// `/dir` -> 301 `/dir/`, keeping the query. The location is rebuilt from the
    /// decoded, normalised path and re-encoded, so it is always a path on this server
    /// (never `//host`) and no request byte can end the header line.
    fn redirect_to_folder(&self, view: &RequestView, resolved: &Resolved) -> Plan {
        let mut location = String::with_capacity(resolved.path.len() + 8);
        location.push('/');
        encode_path(&resolved.path, &mut location);
        if !resolved.path.is_empty() {
            location.push('/');
        }
        if let Some(q) = resolved.query {
            location.push('?');
            // httparse admits only visible ASCII in the target; re-check anyway.
            location.extend(q.chars().filter(|c| c.is_ascii_graphic()));
        }
        let page = error_body(301);
        let mut fields = vec![Field::Location(location)];
        fields.extend(entity(Text::Static(HTML), page.len() as u64));
        let body = if view.head_only() { Body::Empty } else { Body::Made(Arc::from(page.into_bytes())) };
        Plan::new(301, fields, body)
    }
}

impl Compressor {
    /// Drops the representations whose bytes only they still hold (the cache let them go).
    /// Runs when the cache changed (a job's outcome, a changed file): rarely, not per request.
    fn prune_variants(&mut self) {
        self.variants.retain(|_, v| matches!(&v.source, Source::Memory(b) if Arc::strong_count(b) > 1));
    }
}

/// A configured field (`--header`, path rules) as a plan's field.
fn custom_field((name, value): (String, String)) -> Field {
    Field::Custom { name: name.into(), value: value.into() }
}

/// A computed coding as a representation of `file`: the coded bytes in memory, the
/// original's modification time, the coding's own ETag. Made on its first hit and kept
/// (`Compressor::variants`).
fn computed_variant(file: &CachedFile, coding: Coding, level: Level, bytes: Arc<[u8]>) -> Variant {
    let etag = file.computed_etag(coding, level).cloned().unwrap_or_else(|| {
        compress::computed_etag(&file.original.etag, coding, level).into() // Not reached.
    });
    let mut v = Variant {
        coding: Some(coding),
        len: bytes.len() as u64,
        source: Source::Memory(bytes),
        modified: file.original.modified,
        etag,
        last_modified: file.original.last_modified.clone(),
        ok_fields: Arc::default(),
    };
    v.ok_fields = Arc::new(FieldBlock::new(cache::ok_fields(&file.content_type, &v, true)));
    v
}

/// The fields that say what a representation is: its media type, length and nosniff.
fn entity(content_type: Text, len: u64) -> Vec<Field> {
    vec![Field::ContentType(content_type), Field::ContentLength(len), Field::NoSniff]
}

/// `len` bytes of `source` from `offset`, or nothing for HEAD and empty bodies.
fn body(view: &RequestView, source: &Source, offset: u64, len: u64) -> Body {
    if view.head_only() || len == 0 {
        return Body::Empty;
    }
    Body::Range { source: source.clone(), offset, len }
}

/// A missing path the SPA entry point answers: its last segment has no extension (so
/// `/app/settings` is a route, `/app.js` a missing asset).
fn is_spa_route(path: &str) -> bool {
    !path.rsplit('/').next().unwrap_or("").contains('.')
}

/// A boundary that cannot be predicted from outside and is unlikely to occur in the file.
fn multipart_boundary(etag: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(etag.as_bytes());
    format!("evserve-{:016x}", h.finish())
}

#[cfg(test)]
mod tests;
