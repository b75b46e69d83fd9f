//! A valid request -> a response plan. This is the one place that chooses a status for a
//! request that parsed: the pipeline reads top to bottom in `Site::respond`:
//!
//! 1. method (GET/HEAD served, OPTIONS answered, anything else 405);
//! 2. target -> path under the root (`resolve`), or 400/404;
//! 3. open + fstat: a folder without its slash is 301, a folder serves `index.html`
//!    (or a listing), a missing file is 404 (`404.html` when the site has one, or the SPA
//!    entry point);
//! 4. pre-compressed sidecar chosen by `Accept-Encoding`;
//! 5. preconditions (304/412), then `Range` (206/416);
//! 6. the head goes into `out`; a small body follows it there, a large one is streamed.
//!
//! It never touches a socket: the connection writes what the plan says.
pub(crate) mod listing;
pub(crate) mod redirect;

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::fs::cache::{CachedFile, FileCache, Lookup, Source, Variant};
use crate::fs::resolve::{self, Reject, Resolved};
use crate::http::files::{self, Conditions, MimeOverrides, Precondition, RangeOutcome};
use crate::http1::request::{Request, Target};
use crate::http1::response::{self, ALLOW, HTML};
use crate::util::text::encode_path;

/// A body at most this long is copied after the head so that both leave in one write;
/// a longer one is sent with `sendfile` straight from the page cache.
pub const INLINE_BODY_MAX: u64 = 16 * 1024;

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
    /// Header lines (`Name: value\r\n`, already validated) added to every 2xx and 304.
    pub extra_headers: Vec<u8>,
    /// How long a cached lookup is trusted before it is re-checked (0: every request).
    pub cache_ttl: Duration,
    /// Most descriptors the file cache may keep open.
    pub cache_fds: usize,
}

impl SiteOptions {
    /// The options from the command line, with the extra header lines (`--cache-control`,
    /// then each `--header`, validated by `config`) rendered once.
    pub fn from_config(config: &Config, cache_fds: usize) -> SiteOptions {
        let mut extra = Vec::new();
        if let Some(cc) = &config.cache_control {
            response::header(&mut extra, "Cache-Control", cc);
        }
        for (name, value) in &config.headers {
            response::header(&mut extra, name, value);
        }
        SiteOptions {
            dotfiles: config.dotfiles,
            listing: config.listing,
            spa: config.spa,
            mime: config.mime.clone(),
            extra_headers: extra,
            cache_ttl: config.cache_ttl,
            cache_fds,
        }
    }
}

/// The served folder. Every lookup is relative to the held descriptor, so one response
/// never mixes files of two trees; the path it came from is re-resolved at most once per
/// `cache_ttl` (`RootWatch`), so a deploy that swaps the path is picked up.
#[derive(Debug)]
pub struct Site {
    root: File,
    watch: RootWatch,
    options: SiteOptions,
    cache: FileCache,
    /// Scratch for `dir/index.html` paths.
    index_path: String,
}

/// The rest of a response after its head, streamed by the connection.
#[derive(Debug)]
pub struct Body {
    pub file: Arc<File>,
    pub segments: VecDeque<Segment>,
}

/// One piece of a streamed body.
#[derive(Debug, PartialEq, Eq)]
pub enum Segment {
    /// Bytes rendered in memory (multipart part headers).
    Bytes(Vec<u8>),
    /// A byte range of the file.
    File { offset: u64, len: u64 },
}

impl Segment {
    /// Bytes this piece adds to the body.
    pub fn size(&self) -> u64 {
        match self {
            Segment::Bytes(b) => b.len() as u64,
            Segment::File { len, .. } => *len,
        }
    }
}

/// The plan for one response: its head (and any inline body) is already in `out`.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// A body still to stream after `out`, if any.
    pub body: Option<Body>,
    /// Length of the body as sent (inline and streamed), for the access log.
    pub body_len: u64,
    /// Close the connection after this response.
    pub close: bool,
}

/// Everything a response needs to know about the request it answers.
struct Ctx<'o> {
    out: &'o mut Vec<u8>,
    date: &'o str,
    head_only: bool,
    close: bool,
    http10_keep_alive: bool,
}

impl Site {
    pub fn new(root: &Path, options: SiteOptions) -> io::Result<Site> {
        let (root_dir, id) = open_folder(root)?;
        let watch = RootWatch::new(root.to_path_buf(), id, Instant::now());
        let cache = FileCache::new(options.cache_ttl, options.mime.clone(), options.cache_fds);
        Ok(Site { root: root_dir, watch, options, cache, index_path: String::new() })
    }

    /// Re-resolves the root's path when a check is due: one `stat`, and only when it names
    /// another folder than the one held, an open and a swap. The old tree's cache entries
    /// go with it; responses in flight keep the files they already hold. While the path is
    /// missing or not a folder (mid-deploy) the old tree is served.
    fn refresh_root(&mut self, now: Instant) {
        if !self.watch.due(now, self.options.cache_ttl) {
            return;
        }
        self.watch.checked = now;
        let found = find_root(&self.watch.path, self.watch.held);
        let seen = match &found {
            Ok(None) => Some(self.watch.held),
            Ok(Some((_, id))) => Some(*id),
            Err(_) => None,
        };
        let verdict = self.watch.observe(seen);
        let path = self.watch.path.display();
        match (verdict, found) {
            (Verdict::Changed, Ok(Some((root, id)))) => {
                self.root = root;
                self.watch.held = id;
                self.cache.clear();
                eprintln!("evserve: root {path} now resolves to a new folder");
            }
            (Verdict::Unusable, Err(e)) => {
                eprintln!("evserve: root {path}: {e}; still serving the folder it named before")
            }
            (Verdict::Back, _) => eprintln!("evserve: root {path} names its folder again"),
            _ => {}
        }
    }

    /// Plans the response to `req`, writing its head into `out`.
    pub fn respond(&mut self, req: &Request, date: &str, now: Instant, out: &mut Vec<u8>) -> Reply {
        self.refresh_root(now);
        let mut cx = Ctx {
            out,
            date,
            head_only: req.method == "HEAD",
            close: !req.keep_alive,
            http10_keep_alive: req.minor_version == 0 && req.keep_alive,
        };
        // A target that escapes the root or is malformed is 400 whatever the method, so no
        // method can be used to probe what the paths refuse.
        let resolved = match req.target {
            Target::Path(target) => match resolve::resolve_target(target, self.options.dotfiles) {
                Err(Reject::BadRequest(_)) => return cx.error(400, true),
                resolved => Some(resolved),
            },
            Target::Asterisk => None,
        };
        let resolved = match (req.method, resolved) {
            ("OPTIONS", _) => return cx.options(&self.options),
            ("GET" | "HEAD", Some(Ok(resolved))) => resolved,
            // A hidden name is never an SPA route.
            ("GET" | "HEAD", Some(Err(_))) => return self.not_found(&mut cx, req, false, now),
            ("GET" | "HEAD", None) => return cx.error(400, true),
            _ => return cx.error(405, false),
        };
        match self.cache.lookup(&self.root, &resolved.path, now) {
            Lookup::File(_) if resolved.dir_form => self.not_found(&mut cx, req, false, now),
            Lookup::File(file) => self.serve_file(&mut cx, req, &file),
            Lookup::Dir if !resolved.dir_form => cx.redirect_to_folder(&resolved),
            Lookup::Dir => self.serve_folder(&mut cx, req, &resolved, now),
            Lookup::Special | Lookup::Denied => cx.error(403, false),
            Lookup::Missing => self.not_found(&mut cx, req, is_spa_route(&resolved.path), now),
            Lookup::Exhausted => cx.error(503, false),
        }
    }

    /// `dir/`: its `index.html`, else a listing when enabled, else 404.
    fn serve_folder(&mut self, cx: &mut Ctx, req: &Request, resolved: &Resolved, now: Instant) -> Reply {
        // Built in a reused buffer: no allocation per request.
        let mut index = std::mem::take(&mut self.index_path);
        index.clear();
        if !resolved.path.is_empty() {
            index.push_str(&resolved.path);
            index.push('/');
        }
        index.push_str("index.html");
        let reply = self.serve_index(cx, req, resolved, &index, now);
        self.index_path = index;
        reply
    }

    fn serve_index(&mut self, cx: &mut Ctx, req: &Request, resolved: &Resolved, index: &str, now: Instant) -> Reply {
        match self.cache.lookup(&self.root, index, now) {
            Lookup::File(file) => self.serve_file(cx, req, &file),
            Lookup::Denied => cx.error(403, false),
            Lookup::Exhausted => cx.error(503, false),
            _ if self.options.listing => {
                let json = req.fields.accept.is_some_and(listing::wants_json);
                let page = resolve::open_beneath(&self.root, &resolved.path)
                    .and_then(|dir| listing::render(dir, &resolved.path, self.options.dotfiles, json));
                match page {
                    Ok(page) => {
                        cx.generated(200, if json { "application/json" } else { "text/html" }, page, &self.options)
                    }
                    Err(_) => cx.error(403, false),
                }
            }
            _ => self.not_found(cx, req, false, now),
        }
    }

    /// 404: the SPA entry point for a missing route when `--spa` is on, the site's own
    /// `404.html` (status kept) when there is one, else the built-in page.
    fn not_found(&mut self, cx: &mut Ctx, req: &Request, spa_route: bool, now: Instant) -> Reply {
        if self.options.spa
            && spa_route
            && let Lookup::File(index) = self.cache.lookup(&self.root, "index.html", now)
        {
            return self.serve_file(cx, req, &index);
        }
        if let Lookup::File(page) = self.cache.lookup(&self.root, "404.html", now) {
            return cx.page(404, &page.original);
        }
        cx.error(404, false)
    }

    /// A regular file: sidecar negotiation, preconditions, ranges, then the response.
    fn serve_file(&self, cx: &mut Ctx, req: &Request, file: &CachedFile) -> Reply {
        let rep = files::negotiate(req.fields.accept_encoding, &file.codings)
            .and_then(|c| file.sidecar(c))
            .unwrap_or(&file.original);
        let v = Validators { variant: rep, vary: !file.codings.is_empty() };
        let conditions = Conditions {
            if_match: req.fields.if_match,
            if_none_match: req.fields.if_none_match,
            if_modified_since: req.fields.if_modified_since,
            if_unmodified_since: req.fields.if_unmodified_since,
        };
        match files::evaluate(&conditions, true, &rep.etag, rep.modified) {
            Precondition::Proceed => {}
            Precondition::NotModified => return cx.not_modified(&v, &self.options),
            Precondition::Failed => return cx.error(412, false),
        }
        let ranges = match (req.fields.range, req.fields.if_range) {
            (None, _) => RangeOutcome::Full,
            (Some(_), Some(if_range)) if !files::if_range_allows(if_range, &rep.etag, rep.modified) => {
                RangeOutcome::Full
            }
            (Some(range), _) => files::parse_range(range, rep.len),
        };
        match ranges {
            RangeOutcome::Full => cx.full(&v, &self.options),
            RangeOutcome::Partial(list) if list.len() == 1 => {
                cx.single_range(&file.content_type, list[0], &v, &self.options)
            }
            RangeOutcome::Partial(list) => cx.multipart(&file.content_type, &list, &v, &self.options),
            RangeOutcome::Unsatisfiable => cx.unsatisfiable(rep.len),
        }
    }
}

/// (device, inode): which folder a path names.
type FolderId = (u64, u64);

/// Opens `path` as the root, the way start-up does: it must be a folder.
fn open_folder(path: &Path) -> io::Result<(File, FolderId)> {
    let dir = File::open(path)?;
    let id = as_folder(rustix::fs::fstat(&dir)?)?;
    Ok((dir, id))
}

/// What the root's path names now: `None` for the folder held (one `stat`, following
/// symlinks), else the other folder it names, opened.
fn find_root(path: &Path, held: FolderId) -> io::Result<Option<(File, FolderId)>> {
    match as_folder(rustix::fs::stat(path)?)? {
        id if id == held => Ok(None),
        _ => open_folder(path).map(Some),
    }
}

fn as_folder(st: rustix::fs::Stat) -> io::Result<FolderId> {
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::Directory {
        return Err(io::Error::new(io::ErrorKind::NotADirectory, "not a folder"));
    }
    Ok((st.st_dev, st.st_ino))
}

/// The root's path and the folder held for it: when to look again, and what a look means.
/// Pure bookkeeping; `Site::refresh_root` does the system calls.
#[derive(Debug)]
struct RootWatch {
    path: PathBuf,
    held: FolderId,
    checked: Instant,
    /// The path was missing or not a folder at the last check (and that was said once).
    unusable: bool,
}

/// The outcome of one check of the root's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// It names the folder held.
    Same,
    /// It names another folder: open it and swap.
    Changed,
    /// It stopped naming a folder: keep the old one, say so (once).
    Unusable,
    /// Still not a folder; already said.
    StillUnusable,
    /// After an unusable spell, it names the held folder again.
    Back,
}

impl RootWatch {
    fn new(path: PathBuf, held: FolderId, checked: Instant) -> Self {
        RootWatch { path, held, checked, unusable: false }
    }

    /// At most one check per `ttl`; with 0, every request.
    fn due(&self, now: Instant, ttl: Duration) -> bool {
        // `now - checked >= ttl` (a clock reading before `checked` counting as 0) without
        // the subtraction, which std does out of line: every request asks.
        ttl.is_zero() || self.checked.checked_add(ttl).is_some_and(|next| now >= next)
    }

    /// Judges what the path names now (`None`: nothing usable) against the held folder.
    fn observe(&mut self, seen: Option<FolderId>) -> Verdict {
        let was_unusable = std::mem::replace(&mut self.unusable, seen.is_none());
        match seen {
            None if was_unusable => Verdict::StillUnusable,
            None => Verdict::Unusable,
            Some(id) if id != self.held => Verdict::Changed,
            Some(_) if was_unusable => Verdict::Back,
            Some(_) => Verdict::Same,
        }
    }
}

/// The representation chosen for a response and whether it varies by Accept-Encoding.
struct Validators<'a> {
    variant: &'a Variant,
    /// The file has sidecars, so the response depends on Accept-Encoding.
    vary: bool,
}

impl Ctx<'_> {
    fn reply(&self, status: u16, body: Option<Body>, body_len: u64) -> Reply {
        Reply { status, body, body_len: if self.head_only { 0 } else { body_len }, close: self.close }
    }

    fn begin(&mut self, status: u16) {
        response::status_line(self.out, status, self.date);
    }

    fn end(&mut self) {
        response::finish(self.out, self.close, self.http10_keep_alive);
    }

    /// The fields every 206 and 304 of a representation carries (a 200's are rendered
    /// once, in the cache: `Variant::full_fields`).
    fn validators(&mut self, v: &Validators, options: &SiteOptions) {
        let variant = v.variant;
        let coding = variant.coding.map(|c| c.token());
        response::validator_fields(self.out, &variant.etag, &variant.last_modified, coding, v.vary);
        self.out.extend_from_slice(&options.extra_headers);
    }

    fn entity(&mut self, content_type: &str, len: u64) {
        response::entity_fields(self.out, content_type, len);
    }

    /// Finishes a response whose body is `len` bytes of `source` from `offset`: appended
    /// after the head when in memory or small, else planned as a streamed body. A file
    /// that shrank under us leaves the head promising bytes we cannot send, so the
    /// connection closes.
    fn with_body(&mut self, status: u16, source: &Source, offset: u64, len: u64) -> Reply {
        if self.head_only || len == 0 {
            return self.reply(status, None, len);
        }
        match source {
            Source::Memory(bytes) => self.out.extend_from_slice(&bytes[offset as usize..(offset + len) as usize]),
            Source::File(file) if len <= INLINE_BODY_MAX => {
                let at = self.out.len();
                self.out.resize(at + len as usize, 0);
                if file.read_exact_at(&mut self.out[at..], offset).is_err() {
                    self.out.truncate(at);
                    return Reply { status, body: None, body_len: 0, close: true };
                }
            }
            Source::File(file) => {
                let segments = VecDeque::from([Segment::File { offset, len }]);
                return self.reply(status, Some(Body { file: file.clone(), segments }), len);
            }
        }
        self.reply(status, None, len)
    }

    /// A 200: its representation's fields were rendered when the file was cached.
    fn full(&mut self, v: &Validators, options: &SiteOptions) -> Reply {
        self.begin(200);
        self.out.extend_from_slice(&v.variant.full_fields);
        self.out.extend_from_slice(&options.extra_headers);
        self.end();
        self.with_body(200, &v.variant.source, 0, v.variant.len)
    }

    fn single_range(
        &mut self,
        content_type: &str,
        r: files::ByteRange,
        v: &Validators,
        options: &SiteOptions,
    ) -> Reply {
        self.begin(206);
        self.entity(content_type, r.len());
        let content_range = format!("bytes {}-{}/{}", r.start, r.end, v.variant.len);
        response::header(self.out, "Content-Range", &content_range);
        response::header(self.out, "Accept-Ranges", "bytes");
        self.validators(v, options);
        self.end();
        self.with_body(206, &v.variant.source, r.start, r.len())
    }

    /// Several ranges: `multipart/byteranges` (RFC 9110 section 14.6), each part headed by
    /// its own Content-Type and Content-Range; parts of a file on disk are streamed.
    fn multipart(
        &mut self,
        content_type: &str,
        list: &[files::ByteRange],
        v: &Validators,
        options: &SiteOptions,
    ) -> Reply {
        let boundary = multipart_boundary(&v.variant.etag);
        let mut segments = VecDeque::new();
        let mut total = 0u64;
        for (i, r) in list.iter().enumerate() {
            let lead = if i == 0 { "" } else { "\r\n" };
            let part = format!(
                "{lead}--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {}-{}/{}\r\n\r\n",
                r.start, r.end, v.variant.len
            );
            total += part.len() as u64 + r.len();
            segments.push_back(Segment::Bytes(part.into_bytes()));
            segments.push_back(Segment::File { offset: r.start, len: r.len() });
        }
        let tail = format!("\r\n--{boundary}--\r\n");
        total += tail.len() as u64;
        segments.push_back(Segment::Bytes(tail.into_bytes()));
        self.begin(206);
        self.entity(&format!("multipart/byteranges; boundary={boundary}"), total);
        response::header(self.out, "Accept-Ranges", "bytes");
        self.validators(v, options);
        self.end();
        if self.head_only {
            return self.reply(206, None, total);
        }
        match &v.variant.source {
            Source::File(file) => self.reply(206, Some(Body { file: file.clone(), segments }), total),
            Source::Memory(bytes) => {
                for segment in segments {
                    match segment {
                        Segment::Bytes(b) => self.out.extend_from_slice(&b),
                        Segment::File { offset, len } => {
                            self.out.extend_from_slice(&bytes[offset as usize..(offset + len) as usize])
                        }
                    }
                }
                self.reply(206, None, total)
            }
        }
    }

    fn not_modified(&mut self, v: &Validators, options: &SiteOptions) -> Reply {
        self.begin(304);
        self.validators(v, options);
        self.end();
        self.reply(304, None, 0)
    }

    fn unsatisfiable(&mut self, len: u64) -> Reply {
        let body = response::error_body(416);
        self.begin(416);
        self.entity(HTML, body.len() as u64);
        response::header(self.out, "Content-Range", &format!("bytes */{len}"));
        self.end();
        self.inline(416, body.as_bytes())
    }

    /// A whole file sent with a status of its own (the site's 404 page): no validators,
    /// since the file is not the target's representation.
    fn page(&mut self, status: u16, page: &Variant) -> Reply {
        self.begin(status);
        self.entity(HTML, page.len);
        self.end();
        self.with_body(status, &page.source, 0, page.len)
    }

    /// A folder listing, made in memory; HTML or JSON by `Accept`, hence `Vary`.
    fn generated(&mut self, status: u16, essence: &str, body: Vec<u8>, options: &SiteOptions) -> Reply {
        self.begin(status);
        self.entity(&format!("{essence}; charset=utf-8"), body.len() as u64);
        response::header(self.out, "Vary", "Accept");
        self.out.extend_from_slice(&options.extra_headers);
        self.end();
        self.inline(status, &body)
    }

    fn inline(&mut self, status: u16, body: &[u8]) -> Reply {
        if !self.head_only {
            self.out.extend_from_slice(body);
        }
        self.reply(status, None, body.len() as u64)
    }

    fn options(&mut self, options: &SiteOptions) -> Reply {
        self.begin(204);
        response::header(self.out, "Allow", ALLOW);
        self.out.extend_from_slice(&options.extra_headers);
        self.end();
        self.reply(204, None, 0)
    }

    /// An error page. `close` for errors that say the client is confused (400): what it
    /// sends next is not worth reading.
    fn error(&mut self, status: u16, close: bool) -> Reply {
        self.close |= close;
        let len = response::error(self.out, status, self.date, self.close, self.http10_keep_alive, self.head_only);
        self.reply(status, None, len)
    }

    /// `/dir` -> 301 `/dir/`, keeping the query. The location is rebuilt from the
    /// decoded, normalised path and re-encoded, so it is always a path on this server
    /// (never `//host`) and no request byte can end the header line.
    fn redirect_to_folder(&mut self, resolved: &Resolved) -> Reply {
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
        let body = response::error_body(301);
        self.begin(301);
        response::header(self.out, "Location", &location);
        self.entity(HTML, body.len() as u64);
        self.end();
        self.inline(301, body.as_bytes())
    }
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
