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
use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use crate::files::{self, Coding, Conditions, MimeOverrides, Precondition, RangeOutcome};
use crate::listing;
use crate::request::{Request, Target};
use crate::resolve::{self, Reject, Resolved};
use crate::response::{self, ALLOW};

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
}

/// The served folder, opened once: every lookup is relative to this descriptor, so
/// renaming or replacing the folder's path later cannot redirect lookups.
#[derive(Debug)]
pub struct Site {
    root: File,
    options: SiteOptions,
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

/// A representation chosen for a response: the file or one of its sidecars.
struct Representation {
    file: File,
    len: u64,
    modified: SystemTime,
    coding: Option<Coding>,
}

impl Site {
    pub fn new(root: &Path, options: SiteOptions) -> io::Result<Site> {
        let root = File::open(root)?;
        if !root.metadata()?.is_dir() {
            return Err(io::Error::new(io::ErrorKind::NotADirectory, "not a folder"));
        }
        Ok(Site { root, options })
    }

    /// Plans the response to `req`, writing its head into `out`.
    pub fn respond(&self, req: &Request, date: &str, out: &mut Vec<u8>) -> Reply {
        let mut cx = Ctx {
            out,
            date,
            head_only: req.method == "HEAD",
            close: !req.keep_alive,
            http10_keep_alive: req.minor_version == 0 && req.keep_alive,
        };
        let target = match (req.method, req.target) {
            ("OPTIONS", _) => return cx.options(),
            ("GET" | "HEAD", Target::Path(target)) => target,
            ("GET" | "HEAD", Target::Asterisk) => return cx.error(400, true),
            _ => return cx.error(405, false),
        };
        let resolved = match resolve::resolve_target(target, self.options.dotfiles) {
            Ok(r) => r,
            Err(Reject::BadRequest(_)) => return cx.error(400, true),
            Err(Reject::Hidden) => return self.not_found(&mut cx, req, ""),
        };
        let file = match resolve::open_beneath(&self.root, &resolved.path) {
            Ok(file) => file,
            Err(e) => return self.open_failed(&mut cx, req, &e, &resolved.path),
        };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(_) => return cx.error(500, false),
        };
        if meta.is_dir() {
            if !resolved.dir_form {
                return cx.redirect_to_folder(&resolved);
            }
            return self.serve_folder(&mut cx, req, &resolved, file);
        }
        if !meta.is_file() {
            return cx.error(403, false);
        }
        if resolved.dir_form {
            return self.not_found(&mut cx, req, &resolved.path);
        }
        self.serve_file(&mut cx, req, &resolved.path, file, &meta)
    }

    /// `dir/`: its `index.html`, else a listing when enabled, else 404.
    fn serve_folder(&self, cx: &mut Ctx, req: &Request, resolved: &Resolved, dir: File) -> Reply {
        let index =
            if resolved.path.is_empty() { "index.html".to_string() } else { format!("{}/index.html", resolved.path) };
        match resolve::open_beneath(&self.root, &index).and_then(|f| f.metadata().map(|m| (f, m))) {
            Ok((file, meta)) if meta.is_file() => self.serve_file(cx, req, &index, file, &meta),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => cx.error(403, false),
            _ if self.options.listing => {
                let json = req.fields.accept.is_some_and(listing::wants_json);
                match listing::render(dir, &resolved.path, self.options.dotfiles, json) {
                    Ok(page) => {
                        cx.generated(200, if json { "application/json" } else { "text/html" }, page, &self.options)
                    }
                    Err(_) => cx.error(403, false),
                }
            }
            _ => self.not_found(cx, req, &index),
        }
    }

    fn open_failed(&self, cx: &mut Ctx, req: &Request, e: &io::Error, path: &str) -> Reply {
        match e.kind() {
            io::ErrorKind::PermissionDenied => cx.error(403, false),
            _ => self.not_found(cx, req, path),
        }
    }

    /// 404: the SPA entry point for extension-less paths when `--spa` is on, the site's own
    /// `404.html` (status kept) when there is one, else the built-in page.
    fn not_found(&self, cx: &mut Ctx, req: &Request, path: &str) -> Reply {
        let last = path.rsplit('/').next().unwrap_or("");
        if self.options.spa
            && !last.contains('.')
            && let Some((file, meta)) = self.open_regular("index.html")
        {
            return self.serve_file(cx, req, "index.html", file, &meta);
        }
        if let Some((file, meta)) = self.open_regular("404.html") {
            let rep = Representation { len: meta.len(), file, modified: SystemTime::UNIX_EPOCH, coding: None };
            return cx.page(404, rep);
        }
        cx.error(404, false)
    }

    fn open_regular(&self, rel: &str) -> Option<(File, std::fs::Metadata)> {
        let file = resolve::open_beneath(&self.root, rel).ok()?;
        let meta = file.metadata().ok()?;
        meta.is_file().then_some((file, meta))
    }

    /// A regular file: sidecar negotiation, preconditions, ranges, then the response.
    fn serve_file(&self, cx: &mut Ctx, req: &Request, path: &str, file: File, meta: &std::fs::Metadata) -> Reply {
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let original = Representation { file, len: meta.len(), modified, coding: None };
        let mut sidecars = self.sidecars(path, modified);
        let available: Vec<Coding> = sidecars.iter().filter_map(|r| r.coding).collect();
        let rep = match files::negotiate(req.fields.accept_encoding, &available) {
            Some(c) => sidecars.swap_remove(available.iter().position(|&a| a == c).unwrap_or(0)),
            None => original,
        };
        let media = files::media_type(path, &self.options.mime);
        let etag = files::etag(rep.len, rep.modified, rep.coding);
        let v = Validators { etag: &etag, modified: rep.modified, coding: rep.coding, vary: !available.is_empty() };
        let conditions = Conditions {
            if_match: req.fields.if_match,
            if_none_match: req.fields.if_none_match,
            if_modified_since: req.fields.if_modified_since,
            if_unmodified_since: req.fields.if_unmodified_since,
        };
        match files::evaluate(&conditions, true, &etag, rep.modified) {
            Precondition::Proceed => {}
            Precondition::NotModified => return cx.not_modified(&v, &self.options),
            Precondition::Failed => return cx.error(412, false),
        }
        let ranges = match (req.fields.range, req.fields.if_range) {
            (None, _) => RangeOutcome::Full,
            (Some(_), Some(if_range)) if !files::if_range_allows(if_range, &etag, rep.modified) => RangeOutcome::Full,
            (Some(range), _) => files::parse_range(range, rep.len),
        };
        match ranges {
            RangeOutcome::Full => cx.full(rep, media, &v, &self.options),
            RangeOutcome::Partial(list) if list.len() == 1 => cx.single_range(rep, media, list[0], &v, &self.options),
            RangeOutcome::Partial(list) => cx.multipart(rep, media, &list, &v, &self.options),
            RangeOutcome::Unsatisfiable => cx.unsatisfiable(rep.len),
        }
    }

    /// The pre-compressed variants of `path` that are regular files no older than it.
    fn sidecars(&self, path: &str, modified: SystemTime) -> Vec<Representation> {
        if Coding::ALL.iter().any(|c| path.ends_with(c.suffix())) {
            return Vec::new();
        }
        let mut found = Vec::new();
        for coding in Coding::ALL {
            let name = format!("{path}{}", coding.suffix());
            if let Some((file, meta)) = self.open_regular(&name) {
                let m = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                if m >= modified {
                    found.push(Representation { file, len: meta.len(), modified: m, coding: Some(coding) });
                }
            }
        }
        found
    }
}

/// The validators and variant facts every 200, 206 and 304 of a representation carries.
struct Validators<'a> {
    etag: &'a str,
    modified: SystemTime,
    coding: Option<Coding>,
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

    fn validators(&mut self, v: &Validators, options: &SiteOptions) {
        response::header(self.out, "ETag", v.etag);
        response::header(self.out, "Last-Modified", &httpdate::fmt_http_date(v.modified));
        if let Some(c) = v.coding {
            response::header(self.out, "Content-Encoding", c.token());
        }
        if v.vary {
            response::header(self.out, "Vary", "Accept-Encoding");
        }
        self.out.extend_from_slice(&options.extra_headers);
    }

    fn entity(&mut self, essence: &str, text: bool, len: u64) {
        response::content_type(self.out, essence, text);
        response::header_u64(self.out, "Content-Length", len);
        response::header(self.out, "X-Content-Type-Options", "nosniff");
    }

    /// Appends `len` bytes of `file` from `offset` after the head when small, or plans
    /// them as a streamed body. `None` when a small read came up short: the file shrank.
    fn file_body(&mut self, file: File, offset: u64, len: u64) -> Option<Option<Body>> {
        if self.head_only || len == 0 {
            return Some(None);
        }
        if len <= INLINE_BODY_MAX {
            let at = self.out.len();
            self.out.resize(at + len as usize, 0);
            if file.read_exact_at(&mut self.out[at..], offset).is_err() {
                self.out.truncate(at);
                return None;
            }
            return Some(None);
        }
        let segments = VecDeque::from([Segment::File { offset, len }]);
        Some(Some(Body { file: Arc::new(file), segments }))
    }

    /// Finishes a response whose body is a file range; a file that shrank under us
    /// leaves the head promising bytes we cannot send, so the connection must close.
    fn with_file_body(&mut self, status: u16, file: File, offset: u64, len: u64) -> Reply {
        match self.file_body(file, offset, len) {
            Some(body) => self.reply(status, body, len),
            None => Reply { status, body: None, body_len: 0, close: true },
        }
    }

    fn full(&mut self, rep: Representation, media: files::MediaType, v: &Validators, options: &SiteOptions) -> Reply {
        self.begin(200);
        self.entity(media.essence, media.text, rep.len);
        response::header(self.out, "Accept-Ranges", "bytes");
        self.validators(v, options);
        self.end();
        self.with_file_body(200, rep.file, 0, rep.len)
    }

    fn single_range(
        &mut self,
        rep: Representation,
        media: files::MediaType,
        r: files::ByteRange,
        v: &Validators,
        options: &SiteOptions,
    ) -> Reply {
        self.begin(206);
        self.entity(media.essence, media.text, r.len());
        let content_range = format!("bytes {}-{}/{}", r.start, r.end, rep.len);
        response::header(self.out, "Content-Range", &content_range);
        response::header(self.out, "Accept-Ranges", "bytes");
        self.validators(v, options);
        self.end();
        self.with_file_body(206, rep.file, r.start, r.len())
    }

    /// Several ranges: `multipart/byteranges` (RFC 9110 section 14.6), each part headed by
    /// its own Content-Type and Content-Range, streamed like any body.
    fn multipart(
        &mut self,
        rep: Representation,
        media: files::MediaType,
        list: &[files::ByteRange],
        v: &Validators,
        options: &SiteOptions,
    ) -> Reply {
        let boundary = multipart_boundary(v.etag);
        let charset = if media.text { "; charset=utf-8" } else { "" };
        let mut segments = VecDeque::new();
        let mut total = 0u64;
        for (i, r) in list.iter().enumerate() {
            let lead = if i == 0 { "" } else { "\r\n" };
            let part = format!(
                "{lead}--{boundary}\r\nContent-Type: {}{charset}\r\nContent-Range: bytes {}-{}/{}\r\n\r\n",
                media.essence, r.start, r.end, rep.len
            );
            total += part.len() as u64 + r.len();
            segments.push_back(Segment::Bytes(part.into_bytes()));
            segments.push_back(Segment::File { offset: r.start, len: r.len() });
        }
        let tail = format!("\r\n--{boundary}--\r\n");
        total += tail.len() as u64;
        segments.push_back(Segment::Bytes(tail.into_bytes()));
        self.begin(206);
        let content_type = format!("multipart/byteranges; boundary={boundary}");
        self.entity(&content_type, false, total);
        response::header(self.out, "Accept-Ranges", "bytes");
        self.validators(v, options);
        self.end();
        let body = (!self.head_only).then(|| Body { file: Arc::new(rep.file), segments });
        self.reply(206, body, total)
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
        self.entity("text/html", true, body.len() as u64);
        response::header(self.out, "Content-Range", &format!("bytes */{len}"));
        self.end();
        self.inline(416, body.as_bytes())
    }

    /// A whole file sent with a status of its own (the site's 404 page): no validators,
    /// since the file is not the target's representation.
    fn page(&mut self, status: u16, rep: Representation) -> Reply {
        self.begin(status);
        self.entity("text/html", true, rep.len);
        self.end();
        self.with_file_body(status, rep.file, 0, rep.len)
    }

    /// A body made in memory (a folder listing).
    fn generated(&mut self, status: u16, essence: &str, body: Vec<u8>, options: &SiteOptions) -> Reply {
        self.begin(status);
        self.entity(essence, true, body.len() as u64);
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

    fn options(&mut self) -> Reply {
        self.begin(204);
        response::header(self.out, "Allow", ALLOW);
        self.end();
        self.reply(204, None, 0)
    }

    /// An error page. `close` for errors that say the client is confused (400): what it
    /// sends next is not worth reading.
    fn error(&mut self, status: u16, close: bool) -> Reply {
        self.close |= close;
        response::error(self.out, status, self.date, self.close, self.head_only);
        let len = response::error_body(status).len() as u64;
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
        self.entity("text/html", true, body.len() as u64);
        self.end();
        self.inline(301, body.as_bytes())
    }
}

/// A boundary that cannot be predicted from outside and is unlikely to occur in the file.
fn multipart_boundary(etag: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(etag.as_bytes());
    format!("evserve-{:016x}", h.finish())
}

/// Percent-encodes a decoded path for a `Location` header: everything outside RFC 3986
/// `pchar` and `/` is escaped.
pub fn encode_path(path: &str, out: &mut String) {
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}
