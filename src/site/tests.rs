//! Table-driven tests of `Site::plan`: one row per kind of request over a fixture folder,
//! each stating the status, the significant fields and the body plan; no sockets, and no
//! protocol's bytes (the requests are written as HTTP/1 heads only to build their views).
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use super::*;
use crate::http1::render::{INLINE_BODY_MAX, framing};
use crate::http1::request::{Limits, parse};

/// Plans `raw` to the end, running each job at once as the loop's inline runner does.
fn plan_now<'r>(
    site: &mut Site,
    raw: &'r str,
    now: Instant,
) -> (crate::http::plan::Plan, crate::http1::request::Request<'r>) {
    let (req, _) = parse(raw.as_bytes(), &Limits::default())
        .unwrap_or_else(|e| panic!("{raw:?} does not parse: {e}"))
        .unwrap_or_else(|| panic!("{raw:?} is not a complete head"));
    let mut planned = site.plan(&req.view(), now);
    loop {
        match planned {
            Planned::Ready(plan) => return (plan, req),
            Planned::Pending(job) => planned = site.resume(&req.view(), job.run(), now),
        }
    }
}

#[test]
fn root_checks_are_due_once_per_ttl() {
    let t0 = Instant::now();
    let watch = RootWatch::new(PathBuf::from("site"), (1, 2), t0);
    let ttl = Duration::from_millis(50);
    assert!(!watch.due(t0, ttl));
    assert!(!watch.due(t0 + Duration::from_millis(49), ttl));
    assert!(watch.due(t0 + ttl, ttl));
    // A clock reading older than the last check is not due (and does not panic).
    let later = RootWatch::new(PathBuf::from("site"), (1, 2), t0 + ttl);
    assert!(!later.due(t0, ttl));
    // With 0, every request checks.
    assert!(watch.due(t0, Duration::ZERO));
}

#[test]
fn a_missing_root_is_reported_once_per_episode() {
    let mut watch = RootWatch::new(PathBuf::from("site"), (1, 2), Instant::now());
    assert_eq!(watch.observe(Some((1, 2))), Verdict::Same);
    assert_eq!(watch.observe(None), Verdict::Unusable);
    assert_eq!(watch.observe(None), Verdict::StillUnusable);
    assert_eq!(watch.observe(Some((1, 2))), Verdict::Back);
    assert_eq!(watch.observe(Some((1, 2))), Verdict::Same);
    assert_eq!(watch.observe(None), Verdict::Unusable, "a new episode is reported again");
    // A new folder after a missing spell is a change, not a return.
    assert_eq!(watch.observe(Some((1, 3))), Verdict::Changed);
    // The caller swaps; until then every look says Changed.
    assert_eq!(watch.observe(Some((1, 3))), Verdict::Changed);
}

/// With the clock in hand: an entry cached just before the swap is still within its TTL
/// when the swap is noticed, and must not be served from the new tree.
#[test]
fn a_swapped_root_drops_the_old_trees_cache() {
    let base = std::env::temp_dir().join(format!("evserve-handler-swap-{}", std::process::id()));
    let site_dir = base.join("site");
    std::fs::create_dir_all(&site_dir).unwrap();
    std::fs::write(site_dir.join("old.txt"), "old").unwrap();
    let ttl = Duration::from_secs(10);
    let mut site = Site::new(&site_dir, SiteOptions { cache_ttl: ttl, ..SiteOptions::default() }).unwrap();
    let t0 = Instant::now();
    let get = |site: &mut Site, target: &str, now: Instant| {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
        plan_now(site, &raw, now).0.status
    };
    assert_eq!(get(&mut site, "/old.txt", t0 + Duration::from_secs(1)), 200);
    std::fs::rename(&site_dir, base.join("site.old")).unwrap();
    std::fs::create_dir(&site_dir).unwrap();
    // Before the root's check is due, the old tree is served...
    assert_eq!(get(&mut site, "/old.txt", t0 + ttl / 2), 200);
    // ...once it is, the new one, though old.txt's own entry is still fresh.
    assert_eq!(get(&mut site, "/old.txt", t0 + ttl), 404);
    std::fs::remove_dir_all(&base).unwrap();
}

// ---- `Site::respond`, table-driven, over a fixture folder and with no socket ----

/// Every fixture file's modification time, so validators are literal strings.
const MTIME_SECS: u64 = 1_700_000_000;
const LAST_MODIFIED: &str = "Tue, 14 Nov 2023 22:13:20 GMT";
const TEXT: &str = "text/plain; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const HELLO: &str = "hello world\n";
const HELLO_TAG: &str = "\"c-6553f100.0\"";
const BIG_LEN: usize = 100_000;
const BIG_TAG: &str = "\"186a0-6553f100.0\"";
const STYLE_TAG: &str = "\"10-6553f100.0\"";
const GZ_TAG: &str = "\"a-6553f100.0-gzip\"";
const BR_TAG: &str = "\"2-6553f100.0-br\"";
const HOME: &str = "<h1>home</h1>\n";
/// 400 bytes of text with a (fake) gzip sidecar.
const DOC: &str = concat!(
    "doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc\n",
    "doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc\n",
    "doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc\n",
    "doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc doc\n",
);
/// big.txt's computed codings at the fast level (each case is a first request, which waits
/// for it), and doc.txt's sidecar.
const BIG_BR4: &str = "\"186a0-6553f100.0-br4\"";
const BIG_GZIP4: &str = "\"186a0-6553f100.0-gzip4\"";
const BIG_ZSTD3: &str = "\"186a0-6553f100.0-zstd3\"";
const DOC_GZ_TAG: &str = "\"2-6553f100.0-gzip\"";

fn compress_on(o: &mut SiteOptions) {
    o.compress.on = true;
}

fn txt_rule(o: &mut SiteOptions) {
    o.headers = vec![("Cache-Control".into(), "max-age=1".into()), ("X-Extra".into(), "yes".into())];
    o.rules = vec![PathRule::cache_control(crate::util::glob::Glob::new("*.txt").unwrap(), "max-age=9".into())];
}
const PAGE_404: &str = "<h1>custom 404</h1>\n";
fn extra() -> Vec<(String, String)> {
    vec![("X-Extra".into(), "yes".into())]
}

/// A header in `Case::headers` that must be there, with any value.
const ANY: &str = "<any>";
/// A header in `Case::headers` that must not be there.
const ABSENT: &str = "<absent>";
/// Headers that appear only in some responses: each must be absent unless the case
/// lists it, so an unexpected one (an `Allow` on a 404, a leaked `X-Extra`) fails.
const SITUATIONAL: [&str; 9] = [
    "Content-Range",
    "ETag",
    "Location",
    "Allow",
    "Vary",
    "Content-Encoding",
    "Connection",
    "X-Extra",
    "Accept-Ranges",
];

/// `big.txt`: large enough to be streamed, and readable in a range: byte i is `i % 10`.
fn big_content() -> String {
    "0123456789".repeat(BIG_LEN / 10)
}

/// Builds the fixture once (`respond_table` removes it when every case passed): `site/` (the served root), `bare/` (a root without
/// `404.html` or `index.html`) and `outside.txt` next to them.
fn fixture() -> &'static Path {
    static BASE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("evserve-handler-table-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let big = big_content();
        let files: &[(&str, &[u8])] = &[
            ("site/hello.txt", HELLO.as_bytes()),
            ("site/empty.txt", b""),
            ("site/big.txt", big.as_bytes()),
            ("site/index.html", HOME.as_bytes()),
            ("site/404.html", PAGE_404.as_bytes()),
            ("site/style.css", b"body{color:red}\n"),
            ("site/style.css.gz", b"GZIP-BYTES"),
            ("site/style.css.br", b"BR"),
            ("site/doc.txt", DOC.as_bytes()),
            ("site/doc.txt.gz", b"GZ"),
            ("site/pic.png", &[7u8; 400]),
            ("site/sub/index.html", b"<p>sub</p>\n"),
            ("site/files/one.txt", b"1\n"),
            ("site/files/.secret", b"s\n"),
            ("site/files/deeper/two.txt", b"2\n"),
            ("site/my dir/index.html", b"<p>spaced</p>\n"),
            ("site/what?/index.html", b"<p>what</p>\n"),
            ("site/.env", b"SECRET=1\n"),
            ("site/.well-known/x", b"wk\n"),
            ("bare/a.txt", b"a\n"),
            ("outside.txt", b"outside\n"),
        ];
        let mtime = std::time::UNIX_EPOCH + Duration::from_secs(MTIME_SECS);
        for (path, bytes) in files {
            let path = base.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
            File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
        }
        std::os::unix::fs::symlink("hello.txt", base.join("site/link.txt")).unwrap();
        std::os::unix::fs::symlink("../outside.txt", base.join("site/out.txt")).unwrap();
        let fifo = base.join("site/fifo");
        rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, 0o644.into(), 0).unwrap();
        base
    })
}

/// What the body must be (all fixture bodies are text). Multipart boundaries are
/// replaced by `BOUNDARY` in the body and in `Content-Type` before comparing.
#[derive(Debug)]
enum Want {
    /// No body bytes at all.
    Empty,
    Exact(&'static str),
    /// `len` bytes of `big.txt` from `offset`.
    Big(usize, usize),
    /// The built-in page of this status.
    Error(u16),
    /// A listing showing the first names and not the second.
    Listing(&'static [&'static str], &'static [&'static str]),
}

/// How the body leaves.
#[derive(Debug)]
enum Plan {
    /// Nothing after the head (HEAD, 204, 304, an empty file).
    Nothing,
    /// The body follows the head in `out`.
    Inline,
    /// After the head, a streamed body whose file segments are these (offset, len);
    /// the in-memory segments between them are checked through `Want`.
    Streamed(&'static [(u64, u64)]),
}

struct Case {
    name: &'static str,
    /// Changes to the default options.
    opts: fn(&mut SiteOptions),
    /// `site` or `bare`.
    root: &'static str,
    /// The request line; `Host` is added.
    req: &'static str,
    /// More request header lines.
    send: &'static [&'static str],
    status: u16,
    /// Exact values, or `ANY` / `ABSENT`; see `SITUATIONAL` for the unlisted ones.
    headers: &'static [(&'static str, &'static str)],
    body: Want,
    plan: Plan,
}

const BASE: Case = Case {
    name: "",
    opts: |_| {},
    root: "site",
    req: "",
    send: &[],
    status: 0,
    headers: &[],
    body: Want::Empty,
    plan: Plan::Nothing,
};

/// A plan taken apart: its status, its fields in order (and the `Connection` field HTTP/1
/// would add, from `http1::render::framing`), the body in memory and the file ranges.
struct Seen {
    status: u16,
    headers: Vec<(String, String)>,
    /// The body bytes that leave after the head: in memory, or a file range small enough
    /// for HTTP/1 to copy (`INLINE_BODY_MAX`).
    inline: Vec<u8>,
    /// The file ranges streamed after the head, and the file.
    streamed: Option<(Arc<crate::util::map::BodyFile>, VecDeque<Segment>)>,
    body_len: u64,
    close: bool,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The whole body as sent: the inline bytes, then any streamed segments.
    fn body(&self) -> Vec<u8> {
        let mut all = self.inline.clone();
        if let Some((file, segments)) = &self.streamed {
            for segment in segments {
                match segment {
                    Segment::Bytes(b) => all.extend_from_slice(b),
                    Segment::Range { offset, len } => {
                        let at = all.len();
                        all.resize(at + *len as usize, 0);
                        file.read_exact_at(&mut all[at..], *offset).unwrap();
                    }
                }
            }
        }
        all
    }
}

/// Parses `raw` as the connection would and plans it with `site`.
fn send(site: &mut Site, raw: &str) -> Seen {
    let (plan, req) = plan_now(site, raw, Instant::now());
    let mut headers: Vec<(String, String)> = plan
        .all_fields()
        .map(|f| {
            let mut value = Vec::new();
            f.value(&mut value);
            (f.name().to_string(), String::from_utf8(value).expect("an ASCII value"))
        })
        .collect();
    let framing = framing(&req, plan.close, false);
    if framing.close {
        headers.push(("Connection".into(), "close".into()));
    } else if framing.http10_keep_alive {
        headers.push(("Connection".into(), "keep-alive".into()));
    }
    let body_len = plan.body.len();
    let memory = |source: &Source, offset: u64, len: u64| match source {
        Source::Memory(bytes) => bytes[offset as usize..(offset + len) as usize].to_vec(),
        Source::File(file) => {
            let mut v = vec![0; len as usize];
            file.read_exact_at(&mut v, offset).unwrap();
            v
        }
    };
    let (inline, streamed) = match plan.body {
        Body::Empty => (Vec::new(), None),
        Body::Made(bytes) => (bytes.to_vec(), None),
        Body::Range { source: Source::File(file), offset, len } if len > INLINE_BODY_MAX => {
            (Vec::new(), Some((file, VecDeque::from([Segment::Range { offset, len }]))))
        }
        Body::Range { source, offset, len } => (memory(&source, offset, len), None),
        Body::Parts { source: Source::File(file), segments } => (Vec::new(), Some((file, segments))),
        Body::Parts { source, segments } => {
            let mut all = Vec::new();
            for segment in segments {
                match segment {
                    Segment::Bytes(b) => all.extend_from_slice(&b),
                    Segment::Range { offset, len } => all.extend(memory(&source, offset, len)),
                }
            }
            (all, None)
        }
    };
    Seen { status: plan.status, headers, inline, streamed, body_len, close: framing.close }
}

fn site_for(case: &Case) -> Site {
    let mut options = SiteOptions { cache_fds: 64, ..SiteOptions::default() };
    (case.opts)(&mut options);
    Site::new(&fixture().join(case.root), options).unwrap()
}

/// Every way `case` is not met, as readable lines.
fn check(case: &Case) -> Vec<String> {
    let mut site = site_for(case);
    let mut raw = format!("{}\r\nHost: t\r\n", case.req);
    for line in case.send {
        raw.push_str(line);
        raw.push_str("\r\n");
    }
    raw.push_str("\r\n");
    let seen = send(&mut site, &raw);
    let mut bad = Vec::new();
    let head_only = case.req.starts_with("HEAD ");

    if seen.status != case.status {
        bad.push(format!("status {}, want {}", seen.status, case.status));
    }
    // Every response: one of each header, the date given, and nosniff with any type.
    for (i, (name, _)) in seen.headers.iter().enumerate() {
        if seen.headers[..i].iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            bad.push(format!("{name} repeated"));
        }
    }
    if seen.header("Content-Type").is_some() && seen.header("X-Content-Type-Options") != Some("nosniff") {
        bad.push("Content-Type without X-Content-Type-Options: nosniff".into());
    }

    let boundary =
        seen.header("Content-Type").and_then(|t| t.strip_prefix("multipart/byteranges; boundary=")).map(str::to_string);
    let unbound = |s: &str| match &boundary {
        Some(b) => s.replace(b.as_str(), "BOUNDARY"),
        None => s.to_string(),
    };
    for (name, want) in case.headers {
        match (*want, seen.header(name)) {
            (ANY, Some(_)) | (ABSENT, None) => {}
            (want, Some(got)) if want == unbound(got) => {}
            (want, got) => bad.push(format!("{name}: {got:?}, want {want}")),
        }
    }
    for name in SITUATIONAL {
        if !case.headers.iter().any(|(n, _)| *n == name)
            && let Some(got) = seen.header(name)
        {
            bad.push(format!("unexpected {name}: {got}"));
        }
    }

    // The body: what it is, where it goes, and that every count agrees.
    let raw_body = seen.body();
    let body = unbound(&String::from_utf8(raw_body.clone()).expect("a text body"));
    let body_ok = match &case.body {
        Want::Empty => body.is_empty(),
        Want::Exact(want) => body == *want,
        Want::Big(offset, len) => body == big_content()[*offset..offset + len],
        Want::Error(status) => body == crate::http::status::error_body(*status),
        Want::Listing(shown, hidden) => {
            shown.iter().all(|n| body.contains(n)) && !hidden.iter().any(|n| body.contains(n))
        }
    };
    if !body_ok {
        let cut: String = body.chars().take(300).collect();
        bad.push(format!("body {cut:?}, want {:?}", case.body));
    }
    let streamed: Option<Vec<(u64, u64)>> = seen.streamed.as_ref().map(|(_, segments)| {
        segments
            .iter()
            .filter_map(|s| match s {
                Segment::Range { offset, len } => Some((*offset, *len)),
                Segment::Bytes(_) => None,
            })
            .collect()
    });
    let plan_ok = match (&case.plan, &streamed) {
        (Plan::Nothing, None) => seen.inline.is_empty(),
        (Plan::Inline, None) => !seen.inline.is_empty(),
        (Plan::Streamed(want), Some(got)) => seen.inline.is_empty() && want == got,
        _ => false,
    };
    if !plan_ok {
        bad.push(format!("plan: {} inline bytes, streamed {streamed:?}, want {:?}", seen.inline.len(), case.plan));
    }
    if !head_only && seen.body_len != raw_body.len() as u64 {
        bad.push(format!("body length {} for a body of {}", seen.body_len, raw_body.len()));
    }
    if seen.close && seen.status < 400 && seen.header("Connection") != Some("close") {
        bad.push("closing without saying so".into());
    }
    if head_only && (seen.body_len != 0 || !seen.inline.is_empty() || seen.streamed.is_some()) {
        bad.push("HEAD with body bytes".into());
    }
    if !head_only
        && let Some(length) = seen.header("Content-Length")
        && length != raw_body.len().to_string()
    {
        bad.push(format!("Content-Length {length} for a body of {}", raw_body.len()));
    }
    bad
}

fn cases() -> Vec<Case> {
    vec![
        // -- Methods
        Case {
            name: "GET small file: inline",
            req: "GET /hello.txt HTTP/1.1",
            status: 200,
            headers: &[
                ("Content-Type", TEXT),
                ("Content-Length", "12"),
                ("ETag", HELLO_TAG),
                ("Last-Modified", LAST_MODIFIED),
                ("Accept-Ranges", "bytes"),
            ],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "HEAD small file: same head, no body",
            req: "HEAD /hello.txt HTTP/1.1",
            status: 200,
            headers: &[
                ("Content-Type", TEXT),
                ("Content-Length", "12"),
                ("ETag", HELLO_TAG),
                ("Last-Modified", LAST_MODIFIED),
                ("Accept-Ranges", "bytes"),
            ],
            ..BASE
        },
        Case {
            name: "GET large file: streamed whole",
            req: "GET /big.txt HTTP/1.1",
            status: 200,
            headers: &[
                ("Content-Type", TEXT),
                ("Content-Length", "100000"),
                ("ETag", BIG_TAG),
                ("Accept-Ranges", "bytes"),
            ],
            body: Want::Big(0, BIG_LEN),
            plan: Plan::Streamed(&[(0, 100_000)]),
            ..BASE
        },
        Case {
            name: "HEAD large file: no body planned",
            req: "HEAD /big.txt HTTP/1.1",
            status: 200,
            headers: &[
                ("Content-Type", TEXT),
                ("Content-Length", "100000"),
                ("ETag", BIG_TAG),
                ("Accept-Ranges", "bytes"),
            ],
            ..BASE
        },
        Case {
            name: "GET empty file: 200, length 0",
            req: "GET /empty.txt HTTP/1.1",
            status: 200,
            headers: &[("Content-Length", "0"), ("ETag", "\"0-6553f100.0\""), ("Accept-Ranges", "bytes")],
            ..BASE
        },
        Case {
            name: "OPTIONS path: 204 with Allow",
            req: "OPTIONS /hello.txt HTTP/1.1",
            status: 204,
            headers: &[("Allow", "GET, HEAD, OPTIONS"), ("Content-Length", ABSENT), ("Content-Type", ABSENT)],
            ..BASE
        },
        Case {
            name: "OPTIONS missing path: 204 all the same",
            req: "OPTIONS /nope HTTP/1.1",
            status: 204,
            headers: &[("Allow", "GET, HEAD, OPTIONS")],
            ..BASE
        },
        Case {
            name: "OPTIONS *: 204 with Allow",
            req: "OPTIONS * HTTP/1.1",
            status: 204,
            headers: &[("Allow", "GET, HEAD, OPTIONS"), ("Content-Length", ABSENT)],
            ..BASE
        },
        Case {
            name: "GET *: 400 and close",
            req: "GET * HTTP/1.1",
            status: 400,
            headers: &[("Connection", "close")],
            body: Want::Error(400),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "POST: 405 with Allow, connection kept",
            req: "POST /hello.txt HTTP/1.1",
            status: 405,
            headers: &[("Allow", "GET, HEAD, OPTIONS"), ("Content-Type", HTML)],
            body: Want::Error(405),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "DELETE missing path: 405 before any lookup",
            req: "DELETE /nope HTTP/1.1",
            status: 405,
            headers: &[("Allow", "GET, HEAD, OPTIONS")],
            body: Want::Error(405),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "OPTIONS traversal: 400 and close, like GET",
            req: "OPTIONS /../outside.txt HTTP/1.1",
            status: 400,
            headers: &[("Connection", "close")],
            body: Want::Error(400),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "POST with an encoded NUL: 400 before 405",
            req: "POST /a%00b HTTP/1.1",
            status: 400,
            headers: &[("Connection", "close")],
            body: Want::Error(400),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "lower-case get: 405 (methods are case-sensitive)",
            req: "get /hello.txt HTTP/1.1",
            status: 405,
            headers: &[("Allow", "GET, HEAD, OPTIONS")],
            body: Want::Error(405),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "absolute-form target: served by its path",
            req: "GET http://t/hello.txt HTTP/1.1",
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "query on a file: ignored",
            req: "GET /hello.txt?v=2 HTTP/1.1",
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "percent-encoded name: decoded",
            req: "GET /hello%2etxt HTTP/1.1",
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        // -- Folders
        Case {
            name: "folder without slash: 301",
            req: "GET /sub HTTP/1.1",
            status: 301,
            headers: &[("Location", "/sub/"), ("Content-Type", HTML)],
            body: Want::Error(301),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "folder without slash: 301 keeps the query",
            req: "GET /sub?a=1&b=2 HTTP/1.1",
            status: 301,
            headers: &[("Location", "/sub/?a=1&b=2")],
            body: Want::Error(301),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "folder with a space: Location re-encoded",
            req: "GET /my%20dir HTTP/1.1",
            status: 301,
            headers: &[("Location", "/my%20dir/")],
            body: Want::Error(301),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "folder with a ?: Location escapes it, query kept",
            req: "GET /what%3F?x=1 HTTP/1.1",
            status: 301,
            headers: &[("Location", "/what%3F/?x=1")],
            body: Want::Error(301),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "folder after a double slash: Location is never //host",
            req: "GET //sub HTTP/1.1",
            status: 301,
            headers: &[("Location", "/sub/")],
            body: Want::Error(301),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: ".well-known folder without slash: 301",
            req: "GET /.well-known HTTP/1.1",
            status: 301,
            headers: &[("Location", "/.well-known/")],
            body: Want::Error(301),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "HEAD folder without slash: 301, no body",
            req: "HEAD /sub HTTP/1.1",
            status: 301,
            headers: &[("Location", "/sub/")],
            ..BASE
        },
        Case {
            name: "folder without index, without slash: 301 still",
            req: "GET /files HTTP/1.1",
            status: 301,
            headers: &[("Location", "/files/")],
            body: Want::Error(301),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "folder index",
            req: "GET /sub/ HTTP/1.1",
            status: 200,
            headers: &[("Content-Type", HTML), ("Content-Length", "11"), ("ETag", ANY), ("Accept-Ranges", "bytes")],
            body: Want::Exact("<p>sub</p>\n"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "root index",
            req: "GET / HTTP/1.1",
            status: 200,
            headers: &[("Content-Type", HTML), ("ETag", "\"e-6553f100.0\""), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HOME),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "trailing /. names the folder",
            req: "GET /sub/. HTTP/1.1",
            status: 200,
            headers: &[("ETag", ANY), ("Accept-Ranges", "bytes")],
            body: Want::Exact("<p>sub</p>\n"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "folder without index: 404 page",
            req: "GET /files/ HTTP/1.1",
            status: 404,
            headers: &[("Content-Type", HTML)],
            body: Want::Exact(PAGE_404),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "folder without index, --listing: HTML listing",
            opts: |o| o.listing = true,
            req: "GET /files/ HTTP/1.1",
            status: 200,
            headers: &[("Content-Type", HTML), ("Vary", "Accept")],
            body: Want::Listing(&["Index of /files/", "./one.txt\"", "./deeper/\""], &[".secret"]),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "--listing, Accept json: JSON listing",
            opts: |o| o.listing = true,
            req: "GET /files/ HTTP/1.1",
            send: &["Accept: application/json"],
            status: 200,
            headers: &[("Content-Type", "application/json; charset=utf-8"), ("Vary", "Accept")],
            body: Want::Listing(&["\"name\":\"one.txt\"", "\"type\":\"dir\""], &[".secret"]),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "--listing --dotfiles: dotfiles listed",
            opts: |o| {
                o.listing = true;
                o.dotfiles = true
            },
            req: "GET /files/ HTTP/1.1",
            status: 200,
            headers: &[("Vary", "Accept")],
            body: Want::Listing(&["./.secret\""], &[]),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "--listing, root without index.html: listed",
            opts: |o| o.listing = true,
            root: "bare",
            req: "GET / HTTP/1.1",
            status: 200,
            headers: &[("Vary", "Accept")],
            body: Want::Listing(&["Index of /<", "./a.txt\""], &["../"]),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "HEAD --listing: no body",
            opts: |o| o.listing = true,
            req: "HEAD /files/ HTTP/1.1",
            status: 200,
            headers: &[("Vary", "Accept")],
            ..BASE
        },
        Case {
            name: "--listing: a folder with index.html serves it",
            opts: |o| o.listing = true,
            req: "GET /sub/ HTTP/1.1",
            status: 200,
            headers: &[("ETag", ANY), ("Accept-Ranges", "bytes")],
            body: Want::Exact("<p>sub</p>\n"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "file with a trailing slash: 404",
            req: "GET /hello.txt/ HTTP/1.1",
            status: 404,
            body: Want::Exact(PAGE_404),
            plan: Plan::Inline,
            ..BASE
        },
        // -- Dotfiles, traversal, symlinks, special files
        Case {
            name: "dotfile: 404",
            req: "GET /.env HTTP/1.1",
            status: 404,
            body: Want::Exact(PAGE_404),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "dotfile, encoded dot: 404",
            req: "GET /%2eenv HTTP/1.1",
            status: 404,
            body: Want::Exact(PAGE_404),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "dotfile with --dotfiles: served",
            opts: |o| o.dotfiles = true,
            req: "GET /.env HTTP/1.1",
            status: 200,
            headers: &[("ETag", ANY), ("Accept-Ranges", "bytes")],
            body: Want::Exact("SECRET=1\n"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: ".well-known: served without --dotfiles",
            req: "GET /.well-known/x HTTP/1.1",
            status: 200,
            headers: &[("Content-Type", "application/octet-stream"), ("ETag", ANY), ("Accept-Ranges", "bytes")],
            body: Want::Exact("wk\n"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "traversal above the root: 400 and close",
            req: "GET /../outside.txt HTTP/1.1",
            status: 400,
            headers: &[("Connection", "close")],
            body: Want::Error(400),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "encoded traversal: 400 and close",
            req: "GET /sub/%2e%2e/%2e%2e/outside.txt HTTP/1.1",
            status: 400,
            headers: &[("Connection", "close")],
            body: Want::Error(400),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "encoded slashes in traversal: 400 and close",
            req: "GET /sub/..%2f..%2foutside.txt HTTP/1.1",
            status: 400,
            headers: &[("Connection", "close")],
            body: Want::Error(400),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "encoded NUL: 400 and close",
            req: "GET /hello.txt%00.html HTTP/1.1",
            status: 400,
            headers: &[("Connection", "close")],
            body: Want::Error(400),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "dot-dot staying inside: normalised and served",
            req: "GET /sub/../hello.txt HTTP/1.1",
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "dot-dot onto a dotfile: 404",
            req: "GET /sub/../.env HTTP/1.1",
            status: 404,
            body: Want::Exact(PAGE_404),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "symlink inside the root: served",
            req: "GET /link.txt HTTP/1.1",
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "symlink out of the root: 404",
            req: "GET /out.txt HTTP/1.1",
            status: 404,
            body: Want::Exact(PAGE_404),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "FIFO: 403",
            req: "GET /fifo HTTP/1.1",
            status: 403,
            body: Want::Error(403),
            plan: Plan::Inline,
            ..BASE
        },
        // -- Preconditions
        Case {
            name: "If-None-Match equal: 304",
            req: "GET /hello.txt HTTP/1.1",
            send: &["If-None-Match: \"c-6553f100.0\""],
            status: 304,
            headers: &[("ETag", HELLO_TAG), ("Last-Modified", LAST_MODIFIED), ("Content-Length", ABSENT)],
            ..BASE
        },
        Case {
            name: "If-None-Match in a list, weak: 304",
            req: "GET /hello.txt HTTP/1.1",
            send: &["If-None-Match: \"x\", W/\"c-6553f100.0\""],
            status: 304,
            headers: &[("ETag", HELLO_TAG)],
            ..BASE
        },
        Case {
            name: "If-None-Match *: 304",
            req: "GET /hello.txt HTTP/1.1",
            send: &["If-None-Match: *"],
            status: 304,
            headers: &[("ETag", HELLO_TAG)],
            ..BASE
        },
        Case {
            name: "If-None-Match other: 200",
            req: "GET /hello.txt HTTP/1.1",
            send: &["If-None-Match: \"other\""],
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "If-None-Match on a large file: 304, nothing streamed",
            req: "GET /big.txt HTTP/1.1",
            send: &["If-None-Match: \"186a0-6553f100.0\""],
            status: 304,
            headers: &[("ETag", BIG_TAG)],
            ..BASE
        },
        Case {
            name: "If-Match failing: 412",
            req: "GET /hello.txt HTTP/1.1",
            send: &["If-Match: \"other\""],
            status: 412,
            headers: &[("Content-Type", HTML)],
            body: Want::Error(412),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "If-Match weak tag: 412 (strong comparison)",
            req: "GET /hello.txt HTTP/1.1",
            send: &["If-Match: W/\"c-6553f100.0\""],
            status: 412,
            body: Want::Error(412),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "If-Match equal: 200",
            req: "GET /hello.txt HTTP/1.1",
            send: &["If-Match: \"c-6553f100.0\""],
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "If-Modified-Since equal: 304",
            req: "GET /hello.txt HTTP/1.1",
            send: &["If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT"],
            status: 304,
            headers: &[("ETag", HELLO_TAG), ("Last-Modified", LAST_MODIFIED)],
            ..BASE
        },
        Case {
            name: "If-Modified-Since later: 304",
            req: "GET /hello.txt HTTP/1.1",
            send: &["If-Modified-Since: Wed, 15 Nov 2023 00:00:00 GMT"],
            status: 304,
            headers: &[("ETag", HELLO_TAG)],
            ..BASE
        },
        Case {
            name: "If-Modified-Since earlier: 200",
            req: "GET /hello.txt HTTP/1.1",
            send: &["If-Modified-Since: Mon, 13 Nov 2023 00:00:00 GMT"],
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "If-Modified-Since not a date: 200",
            req: "GET /hello.txt HTTP/1.1",
            send: &["If-Modified-Since: yesterday"],
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "If-None-Match other wins over If-Modified-Since: 200",
            req: "GET /hello.txt HTTP/1.1",
            send: &["If-None-Match: \"other\"", "If-Modified-Since: Wed, 15 Nov 2023 00:00:00 GMT"],
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "If-Match *: 200",
            req: "GET /hello.txt HTTP/1.1",
            send: &["If-Match: *"],
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "If-Unmodified-Since equal: 200",
            req: "GET /hello.txt HTTP/1.1",
            send: &["If-Unmodified-Since: Tue, 14 Nov 2023 22:13:20 GMT"],
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "If-Unmodified-Since earlier: 412",
            req: "GET /hello.txt HTTP/1.1",
            send: &["If-Unmodified-Since: Mon, 13 Nov 2023 00:00:00 GMT"],
            status: 412,
            body: Want::Error(412),
            plan: Plan::Inline,
            ..BASE
        },
        // -- Ranges
        Case {
            name: "single range: 206",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: bytes=0-4"],
            status: 206,
            headers: &[
                ("Content-Type", TEXT),
                ("Content-Length", "5"),
                ("Content-Range", "bytes 0-4/12"),
                ("ETag", HELLO_TAG),
                ("Accept-Ranges", "bytes"),
            ],
            body: Want::Exact("hello"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "suffix range: 206",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: bytes=-6"],
            status: 206,
            headers: &[("Content-Range", "bytes 6-11/12"), ("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact("world\n"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "open range past the end: clipped",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: bytes=6-999"],
            status: 206,
            headers: &[("Content-Range", "bytes 6-11/12"), ("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact("world\n"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "HEAD single range: 206 head, no body",
            req: "HEAD /hello.txt HTTP/1.1",
            send: &["Range: bytes=0-4"],
            status: 206,
            headers: &[
                ("Content-Length", "5"),
                ("Content-Range", "bytes 0-4/12"),
                ("ETag", HELLO_TAG),
                ("Accept-Ranges", "bytes"),
            ],
            ..BASE
        },
        Case {
            name: "small range of a large file: read inline",
            req: "GET /big.txt HTTP/1.1",
            send: &["Range: bytes=10-19"],
            status: 206,
            headers: &[
                ("Content-Length", "10"),
                ("Content-Range", "bytes 10-19/100000"),
                ("ETag", BIG_TAG),
                ("Accept-Ranges", "bytes"),
            ],
            body: Want::Big(10, 10),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "large range of a large file: streamed",
            req: "GET /big.txt HTTP/1.1",
            send: &["Range: bytes=1000-49999"],
            status: 206,
            headers: &[
                ("Content-Length", "49000"),
                ("Content-Range", "bytes 1000-49999/100000"),
                ("ETag", BIG_TAG),
                ("Accept-Ranges", "bytes"),
            ],
            body: Want::Big(1000, 49_000),
            plan: Plan::Streamed(&[(1000, 49_000)]),
            ..BASE
        },
        Case {
            name: "adjacent ranges: merged into one",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: bytes=0-2,3-4"],
            status: 206,
            headers: &[("Content-Range", "bytes 0-4/12"), ("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact("hello"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "two ranges of a small file: multipart, inline",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: bytes=0-1,6-7"],
            status: 206,
            headers: &[
                ("Content-Type", "multipart/byteranges; boundary=BOUNDARY"),
                ("ETag", HELLO_TAG),
                ("Accept-Ranges", "bytes"),
            ],
            body: Want::Exact(
                "--BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/12\r\n\r\nhe\
                 \r\n--BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 6-7/12\r\n\r\nwo\
                 \r\n--BOUNDARY--\r\n",
            ),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "two ranges of a large file: multipart, streamed",
            req: "GET /big.txt HTTP/1.1",
            send: &["Range: bytes=20000-20004, 0-4"],
            status: 206,
            headers: &[
                ("Content-Type", "multipart/byteranges; boundary=BOUNDARY"),
                ("ETag", BIG_TAG),
                ("Accept-Ranges", "bytes"),
            ],
            body: Want::Exact(
                "--BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-4/100000\r\n\r\n01234\
                 \r\n--BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 20000-20004/100000\r\n\r\n01234\
                 \r\n--BOUNDARY--\r\n",
            ),
            plan: Plan::Streamed(&[(0, 5), (20_000, 5)]),
            ..BASE
        },
        Case {
            name: "two ranges, one past the end: single 206",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: bytes=0-1,100-200"],
            status: 206,
            headers: &[("Content-Range", "bytes 0-1/12"), ("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact("he"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "more than MAX_RANGES ranges: 200 whole",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,0-0,1-1,2-2,3-3,4-4"],
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "HEAD multipart: no body",
            req: "HEAD /hello.txt HTTP/1.1",
            send: &["Range: bytes=0-1,6-7"],
            status: 206,
            headers: &[
                ("Content-Type", "multipart/byteranges; boundary=BOUNDARY"),
                ("ETag", HELLO_TAG),
                ("Accept-Ranges", "bytes"),
            ],
            ..BASE
        },
        Case {
            name: "range past the end: 416 with bytes */LEN",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: bytes=100-200"],
            status: 416,
            headers: &[("Content-Range", "bytes */12"), ("Content-Type", HTML)],
            body: Want::Error(416),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "any range of an empty file: 416 bytes */0",
            req: "GET /empty.txt HTTP/1.1",
            send: &["Range: bytes=0-0"],
            status: 416,
            headers: &[("Content-Range", "bytes */0")],
            body: Want::Error(416),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "suffix range of an empty file: satisfiable, sent whole (200)",
            req: "GET /empty.txt HTTP/1.1",
            send: &["Range: bytes=-5"],
            status: 200,
            headers: &[
                ("Content-Length", "0"),
                ("ETag", "\"0-6553f100.0\""),
                ("Content-Range", ABSENT),
                ("Accept-Ranges", "bytes"),
            ],
            ..BASE
        },
        Case {
            name: "malformed range: ignored, 200",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: bytes=5-1"],
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "other range unit: ignored, 200",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: lines=1-2"],
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "If-Range equal tag: 206",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: bytes=0-4", "If-Range: \"c-6553f100.0\""],
            status: 206,
            headers: &[("Content-Range", "bytes 0-4/12"), ("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact("hello"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "If-Range other tag: 200 whole",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: bytes=0-4", "If-Range: \"other\""],
            status: 200,
            headers: &[("Content-Length", "12"), ("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "If-Range weak tag: 200 whole",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: bytes=0-4", "If-Range: W/\"c-6553f100.0\""],
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "If-Range equal date: 206",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: bytes=0-4", "If-Range: Tue, 14 Nov 2023 22:13:20 GMT"],
            status: 206,
            headers: &[("Content-Range", "bytes 0-4/12"), ("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact("hello"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "If-Range other date: 200 whole",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: bytes=0-4", "If-Range: Wed, 15 Nov 2023 00:00:00 GMT"],
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "If-Range mismatch on an unsatisfiable range: 200, not 416",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: bytes=100-200", "If-Range: \"other\""],
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "If-None-Match equal with a range: 304 first",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: bytes=0-4", "If-None-Match: \"c-6553f100.0\""],
            status: 304,
            headers: &[("ETag", HELLO_TAG)],
            ..BASE
        },
        // -- Pre-compressed sidecars
        Case {
            name: "sidecars, no Accept-Encoding: identity, Vary",
            req: "GET /style.css HTTP/1.1",
            status: 200,
            headers: &[
                ("Content-Type", CSS),
                ("Content-Length", "16"),
                ("ETag", STYLE_TAG),
                ("Vary", "Accept-Encoding"),
                ("Content-Encoding", ABSENT),
                ("Accept-Ranges", "bytes"),
            ],
            body: Want::Exact("body{color:red}\n"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "sidecars, Accept-Encoding gzip: the .gz",
            req: "GET /style.css HTTP/1.1",
            send: &["Accept-Encoding: gzip"],
            status: 200,
            headers: &[
                ("Content-Type", CSS),
                ("Content-Length", "10"),
                ("ETag", GZ_TAG),
                ("Vary", "Accept-Encoding"),
                ("Content-Encoding", "gzip"),
                ("Accept-Ranges", "bytes"),
            ],
            body: Want::Exact("GZIP-BYTES"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "sidecars, gzip and br equally: br preferred",
            req: "GET /style.css HTTP/1.1",
            send: &["Accept-Encoding: gzip, deflate, br"],
            status: 200,
            headers: &[
                ("ETag", BR_TAG),
                ("Vary", "Accept-Encoding"),
                ("Content-Encoding", "br"),
                ("Accept-Ranges", "bytes"),
            ],
            body: Want::Exact("BR"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "sidecars, br rated lower: gzip",
            req: "GET /style.css HTTP/1.1",
            send: &["Accept-Encoding: br;q=0.5, gzip"],
            status: 200,
            headers: &[
                ("ETag", GZ_TAG),
                ("Vary", "Accept-Encoding"),
                ("Content-Encoding", "gzip"),
                ("Accept-Ranges", "bytes"),
            ],
            body: Want::Exact("GZIP-BYTES"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "sidecars, only unknown codings: identity, Vary",
            req: "GET /style.css HTTP/1.1",
            send: &["Accept-Encoding: deflate"],
            status: 200,
            headers: &[("ETag", STYLE_TAG), ("Vary", "Accept-Encoding"), ("Accept-Ranges", "bytes")],
            body: Want::Exact("body{color:red}\n"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "no sidecars, Accept-Encoding gzip: identity, no Vary",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Accept-Encoding: gzip"],
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "sidecar's own tag: 304 with its coding and Vary",
            req: "GET /style.css HTTP/1.1",
            send: &["Accept-Encoding: gzip", "If-None-Match: \"a-6553f100.0-gzip\""],
            status: 304,
            headers: &[("ETag", GZ_TAG), ("Vary", "Accept-Encoding"), ("Content-Encoding", "gzip")],
            ..BASE
        },
        Case {
            name: "identity's tag while gzip is chosen: 200 gzip",
            req: "GET /style.css HTTP/1.1",
            send: &["Accept-Encoding: gzip", "If-None-Match: \"10-6553f100.0\""],
            status: 200,
            headers: &[
                ("ETag", GZ_TAG),
                ("Vary", "Accept-Encoding"),
                ("Content-Encoding", "gzip"),
                ("Accept-Ranges", "bytes"),
            ],
            body: Want::Exact("GZIP-BYTES"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "range of a sidecar: bytes of the encoded file",
            req: "GET /style.css HTTP/1.1",
            send: &["Accept-Encoding: gzip", "Range: bytes=0-3"],
            status: 206,
            headers: &[
                ("Content-Range", "bytes 0-3/10"),
                ("ETag", GZ_TAG),
                ("Vary", "Accept-Encoding"),
                ("Content-Encoding", "gzip"),
                ("Accept-Ranges", "bytes"),
            ],
            body: Want::Exact("GZIP"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "range past a sidecar's end: 416 with the sidecar's length",
            req: "GET /style.css HTTP/1.1",
            send: &["Accept-Encoding: gzip", "Range: bytes=12-"],
            status: 416,
            headers: &[("Content-Range", "bytes */10")],
            body: Want::Error(416),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "a sidecar asked by name: itself, no coding",
            req: "GET /style.css.gz HTTP/1.1",
            send: &["Accept-Encoding: gzip"],
            status: 200,
            headers: &[("ETag", "\"a-6553f100.0\""), ("Accept-Ranges", "bytes")],
            body: Want::Exact("GZIP-BYTES"),
            plan: Plan::Inline,
            ..BASE
        },
        // -- 404 pages and the SPA fallback
        Case {
            name: "missing: the site's 404.html, status kept, no validators",
            req: "GET /nope.txt HTTP/1.1",
            status: 404,
            headers: &[("Content-Type", HTML), ("Content-Length", "20"), ("Last-Modified", ABSENT)],
            body: Want::Exact(PAGE_404),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "HEAD missing: 404.html's length, no body",
            req: "HEAD /nope.txt HTTP/1.1",
            status: 404,
            headers: &[("Content-Length", "20")],
            ..BASE
        },
        Case {
            name: "missing with conditions: 404, not 304/412",
            req: "GET /nope.txt HTTP/1.1",
            send: &["If-None-Match: *", "Range: bytes=0-1"],
            status: 404,
            body: Want::Exact(PAGE_404),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "missing, no 404.html: the built-in page",
            root: "bare",
            req: "GET /nope.txt HTTP/1.1",
            status: 404,
            headers: &[("Content-Type", HTML)],
            body: Want::Error(404),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "--spa, missing route: index.html",
            opts: |o| o.spa = true,
            req: "GET /app/settings HTTP/1.1",
            status: 200,
            headers: &[("Content-Type", HTML), ("ETag", "\"e-6553f100.0\""), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HOME),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "--spa, missing route with a slash: index.html",
            opts: |o| o.spa = true,
            req: "GET /app/settings/ HTTP/1.1",
            status: 200,
            headers: &[("ETag", "\"e-6553f100.0\""), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HOME),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "--spa, missing asset with an extension: 404",
            opts: |o| o.spa = true,
            req: "GET /app.js HTTP/1.1",
            status: 404,
            body: Want::Exact(PAGE_404),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "--spa, dotfile: 404, never the app",
            opts: |o| o.spa = true,
            req: "GET /.env HTTP/1.1",
            status: 404,
            body: Want::Exact(PAGE_404),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "--spa, existing file: itself",
            opts: |o| o.spa = true,
            req: "GET /hello.txt HTTP/1.1",
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "--spa, folder without index: 404, not the app",
            opts: |o| o.spa = true,
            req: "GET /files/ HTTP/1.1",
            status: 404,
            body: Want::Exact(PAGE_404),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "--spa, no index.html: 404",
            opts: |o| o.spa = true,
            root: "bare",
            req: "GET /app/settings HTTP/1.1",
            status: 404,
            body: Want::Error(404),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "no --spa, missing route: 404",
            req: "GET /app/settings HTTP/1.1",
            status: 404,
            body: Want::Exact(PAGE_404),
            plan: Plan::Inline,
            ..BASE
        },
        // -- Extra headers: on 2xx and 304 only
        Case {
            name: "extra headers on 200",
            opts: |o| o.headers = extra(),
            req: "GET /hello.txt HTTP/1.1",
            status: 200,
            headers: &[("X-Extra", "yes"), ("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "extra headers on 206",
            opts: |o| o.headers = extra(),
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: bytes=0-4"],
            status: 206,
            headers: &[
                ("X-Extra", "yes"),
                ("Content-Range", "bytes 0-4/12"),
                ("ETag", HELLO_TAG),
                ("Accept-Ranges", "bytes"),
            ],
            body: Want::Exact("hello"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "extra headers on multipart 206",
            opts: |o| o.headers = extra(),
            req: "HEAD /hello.txt HTTP/1.1",
            send: &["Range: bytes=0-1,6-7"],
            status: 206,
            headers: &[("X-Extra", "yes"), ("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            ..BASE
        },
        Case {
            name: "extra headers on 304",
            opts: |o| o.headers = extra(),
            req: "GET /hello.txt HTTP/1.1",
            send: &["If-None-Match: *"],
            status: 304,
            headers: &[("X-Extra", "yes"), ("ETag", HELLO_TAG)],
            ..BASE
        },
        Case {
            name: "extra headers on OPTIONS 204",
            opts: |o| o.headers = extra(),
            req: "OPTIONS * HTTP/1.1",
            status: 204,
            headers: &[("X-Extra", "yes"), ("Allow", "GET, HEAD, OPTIONS")],
            ..BASE
        },
        Case {
            name: "extra headers on a listing",
            opts: |o| {
                o.headers = extra();
                o.listing = true
            },
            req: "GET /files/ HTTP/1.1",
            status: 200,
            headers: &[("X-Extra", "yes"), ("Vary", "Accept")],
            body: Want::Listing(&["one.txt"], &[]),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "extra headers on the SPA entry point",
            opts: |o| {
                o.headers = extra();
                o.spa = true
            },
            req: "GET /app HTTP/1.1",
            status: 200,
            headers: &[("X-Extra", "yes"), ("ETag", ANY), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HOME),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "no extra headers on the 404 page",
            opts: |o| o.headers = extra(),
            req: "GET /nope.txt HTTP/1.1",
            status: 404,
            body: Want::Exact(PAGE_404),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "no extra headers on the built-in 404",
            opts: |o| o.headers = extra(),
            root: "bare",
            req: "GET /nope.txt HTTP/1.1",
            status: 404,
            body: Want::Error(404),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "no extra headers on 301",
            opts: |o| o.headers = extra(),
            req: "GET /sub HTTP/1.1",
            status: 301,
            headers: &[("Location", "/sub/")],
            body: Want::Error(301),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "no extra headers on 412",
            opts: |o| o.headers = extra(),
            req: "GET /hello.txt HTTP/1.1",
            send: &["If-Match: \"other\""],
            status: 412,
            body: Want::Error(412),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "no extra headers on 416",
            opts: |o| o.headers = extra(),
            req: "GET /hello.txt HTTP/1.1",
            send: &["Range: bytes=100-"],
            status: 416,
            headers: &[("Content-Range", "bytes */12")],
            body: Want::Error(416),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "no extra headers on 405",
            opts: |o| o.headers = extra(),
            req: "PUT /hello.txt HTTP/1.1",
            status: 405,
            headers: &[("Allow", "GET, HEAD, OPTIONS")],
            body: Want::Error(405),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "no extra headers on 400",
            opts: |o| o.headers = extra(),
            req: "GET /../x HTTP/1.1",
            status: 400,
            headers: &[("Connection", "close")],
            body: Want::Error(400),
            plan: Plan::Inline,
            ..BASE
        },
        // -- Connection
        Case {
            name: "Connection: close on 200",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Connection: close"],
            status: 200,
            headers: &[("Connection", "close"), ("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "Connection: close on a streamed 200",
            req: "GET /big.txt HTTP/1.1",
            send: &["Connection: close"],
            status: 200,
            headers: &[("Connection", "close"), ("ETag", BIG_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Big(0, BIG_LEN),
            plan: Plan::Streamed(&[(0, 100_000)]),
            ..BASE
        },
        Case {
            name: "Connection: close on 304",
            req: "GET /hello.txt HTTP/1.1",
            send: &["Connection: close", "If-None-Match: *"],
            status: 304,
            headers: &[("Connection", "close"), ("ETag", HELLO_TAG)],
            ..BASE
        },
        Case {
            name: "Connection: close on 404",
            req: "GET /nope.txt HTTP/1.1",
            send: &["Connection: close"],
            status: 404,
            headers: &[("Connection", "close")],
            body: Want::Exact(PAGE_404),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "Connection: close on 405",
            req: "POST /hello.txt HTTP/1.1",
            send: &["Connection: close"],
            status: 405,
            headers: &[("Connection", "close"), ("Allow", "GET, HEAD, OPTIONS")],
            body: Want::Error(405),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "Connection: close on OPTIONS",
            req: "OPTIONS * HTTP/1.1",
            send: &["Connection: close"],
            status: 204,
            headers: &[("Connection", "close"), ("Allow", "GET, HEAD, OPTIONS")],
            ..BASE
        },
        Case {
            name: "Connection: close on 301",
            req: "GET /sub HTTP/1.1",
            send: &["Connection: close"],
            status: 301,
            headers: &[("Connection", "close"), ("Location", "/sub/")],
            body: Want::Error(301),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "HTTP/1.0 without keep-alive: close",
            req: "GET /hello.txt HTTP/1.0",
            status: 200,
            headers: &[("Connection", "close"), ("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "HTTP/1.0 keep-alive: said back",
            req: "GET /hello.txt HTTP/1.0",
            send: &["Connection: keep-alive"],
            status: 200,
            headers: &[("Connection", "keep-alive"), ("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        // -- Compression on the fly (`--compress on`); bodies are binary, so HEAD or 304
        Case {
            name: "computed: br waited for on a first request, its own tag, Vary",
            opts: compress_on,
            req: "HEAD /big.txt HTTP/1.1",
            send: &["Accept-Encoding: gzip, deflate, br, zstd"],
            status: 200,
            headers: &[
                ("ETag", BIG_BR4),
                ("Content-Encoding", "br"),
                ("Vary", "Accept-Encoding"),
                ("Accept-Ranges", "bytes"),
                ("Content-Length", ANY),
            ],
            ..BASE
        },
        Case {
            name: "computed: no Accept-Encoding: identity with Vary",
            opts: compress_on,
            req: "GET /big.txt HTTP/1.1",
            status: 200,
            headers: &[("ETag", BIG_TAG), ("Vary", "Accept-Encoding"), ("Accept-Ranges", "bytes")],
            body: Want::Big(0, BIG_LEN),
            plan: Plan::Streamed(&[(0, BIG_LEN as u64)]),
            ..BASE
        },
        Case {
            name: "computed: q-values pick zstd",
            opts: compress_on,
            req: "HEAD /big.txt HTTP/1.1",
            send: &["Accept-Encoding: br;q=0.5, zstd;q=0.9, gzip;q=0.1"],
            status: 200,
            headers: &[
                ("ETag", BIG_ZSTD3),
                ("Content-Encoding", "zstd"),
                ("Vary", "Accept-Encoding"),
                ("Accept-Ranges", "bytes"),
            ],
            ..BASE
        },
        Case {
            name: "computed: the coding's tag: 304 with its coding and Vary",
            opts: compress_on,
            req: "GET /big.txt HTTP/1.1",
            send: &["Accept-Encoding: gzip", "If-None-Match: \"186a0-6553f100.0-gzip4\""],
            status: 304,
            headers: &[("ETag", BIG_GZIP4), ("Vary", "Accept-Encoding"), ("Content-Encoding", "gzip")],
            ..BASE
        },
        Case {
            name: "computed: another coding's tag: 200 in this one",
            opts: compress_on,
            req: "HEAD /big.txt HTTP/1.1",
            send: &["Accept-Encoding: br", "If-None-Match: \"186a0-6553f100.0-gzip4\""],
            status: 200,
            headers: &[
                ("ETag", BIG_BR4),
                ("Content-Encoding", "br"),
                ("Vary", "Accept-Encoding"),
                ("Accept-Ranges", "bytes"),
            ],
            ..BASE
        },
        Case {
            name: "computed: a range with the coding's If-Range: 206 of the coded bytes",
            opts: compress_on,
            req: "HEAD /big.txt HTTP/1.1",
            send: &["Accept-Encoding: gzip", "Range: bytes=0-1", "If-Range: \"186a0-6553f100.0-gzip4\""],
            status: 206,
            headers: &[
                ("ETag", BIG_GZIP4),
                ("Content-Encoding", "gzip"),
                ("Vary", "Accept-Encoding"),
                ("Accept-Ranges", "bytes"),
                ("Content-Range", ANY),
                ("Content-Length", "2"),
            ],
            ..BASE
        },
        Case {
            name: "computed: identity;q=0 and nothing known: identity, as for sidecars",
            opts: compress_on,
            req: "HEAD /big.txt HTTP/1.1",
            send: &["Accept-Encoding: identity;q=0, deflate, compress"],
            status: 200,
            headers: &[("ETag", BIG_TAG), ("Vary", "Accept-Encoding"), ("Accept-Ranges", "bytes")],
            ..BASE
        },
        Case {
            name: "computed: *;q=0: identity",
            opts: compress_on,
            req: "HEAD /big.txt HTTP/1.1",
            send: &["Accept-Encoding: *;q=0"],
            status: 200,
            headers: &[("ETag", BIG_TAG), ("Vary", "Accept-Encoding"), ("Accept-Ranges", "bytes")],
            ..BASE
        },
        Case {
            name: "computed: * alone: br",
            opts: compress_on,
            req: "HEAD /big.txt HTTP/1.1",
            send: &["Accept-Encoding: *"],
            status: 200,
            headers: &[
                ("ETag", BIG_BR4),
                ("Content-Encoding", "br"),
                ("Vary", "Accept-Encoding"),
                ("Accept-Ranges", "bytes"),
            ],
            ..BASE
        },
        Case {
            name: "computed: a sidecar the client accepts wins over a computed coding",
            opts: compress_on,
            req: "GET /doc.txt HTTP/1.1",
            send: &["Accept-Encoding: br, gzip"],
            status: 200,
            headers: &[
                ("ETag", DOC_GZ_TAG),
                ("Content-Encoding", "gzip"),
                ("Vary", "Accept-Encoding"),
                ("Accept-Ranges", "bytes"),
            ],
            body: Want::Exact("GZ"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "computed: a coding with no sidecar is computed beside the sidecar",
            opts: compress_on,
            req: "HEAD /doc.txt HTTP/1.1",
            send: &["Accept-Encoding: br"],
            status: 200,
            headers: &[
                // A small file: its best level at once (`BEST_AT_ONCE_MAX`).
                ("ETag", "\"190-6553f100.0-br11\""),
                ("Content-Encoding", "br"),
                ("Vary", "Accept-Encoding"),
                ("Accept-Ranges", "bytes"),
            ],
            ..BASE
        },
        Case {
            name: "computed: below the minimum size: never, no Vary",
            opts: compress_on,
            req: "GET /hello.txt HTTP/1.1",
            send: &["Accept-Encoding: gzip, br"],
            status: 200,
            headers: &[("ETag", HELLO_TAG), ("Accept-Ranges", "bytes")],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "computed: a type already compressed: never, no Vary",
            opts: compress_on,
            req: "HEAD /pic.png HTTP/1.1",
            send: &["Accept-Encoding: gzip, br"],
            status: 200,
            headers: &[("ETag", "\"190-6553f100.0\""), ("Accept-Ranges", "bytes")],
            ..BASE
        },
        Case {
            name: "computed: --compress off: identity, no Vary",
            req: "HEAD /big.txt HTTP/1.1",
            send: &["Accept-Encoding: gzip, br"],
            status: 200,
            headers: &[("ETag", BIG_TAG), ("Accept-Ranges", "bytes")],
            ..BASE
        },
        // -- Fields by path (`--cache-control-for`)
        Case {
            name: "path rule: a matching file's 200 has its Cache-Control",
            opts: txt_rule,
            req: "GET /hello.txt HTTP/1.1",
            status: 200,
            headers: &[
                ("ETag", HELLO_TAG),
                ("Accept-Ranges", "bytes"),
                ("Cache-Control", "max-age=9"),
                ("X-Extra", "yes"),
            ],
            body: Want::Exact(HELLO),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "path rule: a matching file's 304 has its Cache-Control",
            opts: txt_rule,
            req: "GET /hello.txt HTTP/1.1",
            send: &["If-None-Match: \"c-6553f100.0\""],
            status: 304,
            headers: &[("ETag", HELLO_TAG), ("Cache-Control", "max-age=9"), ("X-Extra", "yes")],
            ..BASE
        },
        Case {
            name: "path rule: another file keeps the site-wide Cache-Control",
            opts: txt_rule,
            req: "GET /style.css HTTP/1.1",
            status: 200,
            headers: &[
                ("ETag", STYLE_TAG),
                ("Accept-Ranges", "bytes"),
                ("Vary", "Accept-Encoding"),
                ("Cache-Control", "max-age=1"),
                ("X-Extra", "yes"),
            ],
            body: Want::Exact("body{color:red}\n"),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "path rule: not on an error",
            opts: txt_rule,
            req: "GET /nope.txt HTTP/1.1",
            status: 404,
            headers: &[("Cache-Control", ABSENT)],
            body: Want::Exact(PAGE_404),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "HTTP/1.0 keep-alive on 400: close wins",
            req: "GET /%00 HTTP/1.0",
            send: &["Connection: keep-alive"],
            status: 400,
            headers: &[("Connection", "close")],
            body: Want::Error(400),
            plan: Plan::Inline,
            ..BASE
        },
        Case {
            name: "HTTP/1.0 keep-alive on 404: said back",
            req: "GET /nope.txt HTTP/1.0",
            send: &["Connection: keep-alive"],
            status: 404,
            headers: &[("Connection", "keep-alive")],
            body: Want::Exact(PAGE_404),
            plan: Plan::Inline,
            ..BASE
        },
    ]
}

#[test]
fn plan_table() {
    let cases = cases();
    let mut names = std::collections::HashSet::new();
    let mut failures = Vec::new();
    for case in &cases {
        assert!(names.insert(case.name), "two cases named {:?}", case.name);
        for why in check(case) {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    std::fs::remove_dir_all(fixture()).unwrap();
}

/// A listing is made by a job once, then kept for the folder's version: the same request
/// again is answered without a job, and a new entry (the folder's mtime moves) makes it anew.
#[test]
fn a_listing_is_kept_for_its_folders_version() {
    let dir = std::env::temp_dir().join(format!("evserve-listing-kept-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("d")).unwrap();
    std::fs::write(dir.join("d/one.txt"), "1").unwrap();
    let ttl = Duration::from_secs(1);
    let mut site = Site::new(&dir, SiteOptions { listing: true, cache_ttl: ttl, ..SiteOptions::default() }).unwrap();
    let raw = "GET /d/ HTTP/1.1\r\nHost: t\r\n\r\n";
    let (req, _) = parse(raw.as_bytes(), &Limits::default()).unwrap().unwrap();
    let t0 = Instant::now();
    let jobs = |site: &mut Site, now: Instant| {
        let mut planned = site.plan(&req.view(), now);
        let mut jobs = Vec::new();
        loop {
            match planned {
                Planned::Ready(plan) => return (jobs, plan),
                Planned::Pending(job) => {
                    jobs.push(job.describe());
                    planned = site.resume(&req.view(), job.run(), now);
                }
            }
        }
    };
    let (first, plan) = jobs(&mut site, t0);
    assert!(first.iter().any(|j| j.starts_with("list")), "{first:?}");
    assert_eq!(plan.status, 200);
    let (again, _) = jobs(&mut site, t0);
    assert!(again.is_empty(), "a kept listing takes no job: {again:?}");
    // A new entry moves the folder's mtime; after the TTL the re-check sees it.
    std::fs::write(dir.join("d/two.txt"), "2").unwrap();
    let (later, plan) = jobs(&mut site, t0 + ttl * 2);
    assert!(later.iter().any(|j| j.starts_with("list")), "{later:?}");
    let Body::Made(page) = plan.body else { panic!("a made page") };
    assert!(String::from_utf8_lossy(&page).contains("two.txt"));
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- Compression in the background ----

/// A site over a fresh folder with compression on; `files` written there.
fn compressing_site(name: &str, files: &[(&str, Vec<u8>)], memory: usize) -> (Site, PathBuf) {
    let dir = std::env::temp_dir().join(format!("evserve-compress-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (path, bytes) in files {
        std::fs::write(dir.join(path), bytes).unwrap();
    }
    let compress = CompressOptions { on: true, memory, ..CompressOptions::default() };
    let options = SiteOptions { cache_fds: 64, compress, ..SiteOptions::default() };
    (Site::new(&dir, options).unwrap(), dir)
}

/// The coding and ETag a GET of `path` with `accept` gets, and its body.
fn coded(site: &mut Site, path: &str, accept: &str) -> (Option<String>, String, Vec<u8>) {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: t\r\nAccept-Encoding: {accept}\r\n\r\n");
    let seen = send(site, &raw);
    assert_eq!(seen.status, 200);
    (seen.header("Content-Encoding").map(str::to_string), seen.header("ETag").unwrap().to_string(), seen.body())
}

/// Runs the site's background jobs as the server's pool would, returning how many ran.
fn run_background(site: &mut Site) -> usize {
    let jobs = site.take_background_jobs();
    let n = jobs.len();
    for job in jobs {
        site.resume_background(job.run(), Instant::now());
    }
    n
}

fn text(len: usize) -> Vec<u8> {
    (0..len).map(|i| b"abcdefgh\n"[(i * 7 + i / 13) % 9]).collect()
}

#[test]
fn a_large_file_is_identity_first_then_fast_then_best() {
    let big = text(WAIT_FOR_FAST_MAX as usize + 1);
    let (mut site, dir) = compressing_site("large", &[("big.txt", big.clone())], 64 << 20);
    let (coding, etag, body) = coded(&mut site, "/big.txt", "gzip");
    assert_eq!((coding, body.len()), (None, big.len()), "identity while the fast level is made");
    assert!(!etag.contains("gzip"));
    // A second request meanwhile queues nothing more.
    let _ = coded(&mut site, "/big.txt", "gzip");
    assert_eq!(run_background(&mut site), 1);
    let (coding, etag, body) = coded(&mut site, "/big.txt", "gzip");
    assert_eq!((coding.as_deref(), etag.ends_with("-gzip4\"")), (Some("gzip"), true));
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut plain).unwrap();
    assert_eq!(plain, big);
    // The fast hit queued the best level, which replaces it (a new ETag).
    assert_eq!(run_background(&mut site), 1);
    let (_, etag, _) = coded(&mut site, "/big.txt", "gzip");
    assert!(etag.ends_with("-gzip9\""), "{etag}");
    assert_eq!(run_background(&mut site), 0, "nothing more once the best level is kept");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn one_best_level_job_at_a_time() {
    // Past `BEST_AT_ONCE_MAX`, within `WAIT_FOR_FAST_MAX`: fast first, best in the background.
    let size = BEST_AT_ONCE_MAX as usize;
    let files: Vec<(&str, Vec<u8>)> =
        vec![("a.txt", text(size + 4000)), ("b.txt", text(size + 5000)), ("c.txt", text(size + 6000))];
    let (mut site, dir) = compressing_site("best", &files, 64 << 20);
    for (name, _) in &files {
        let (coding, etag, _) = coded(&mut site, &format!("/{name}"), "br");
        assert_eq!(coding.as_deref(), Some("br"), "a mid-size file's first response is compressed");
        assert!(etag.ends_with("-br4\""));
    }
    // Three fast hits, three best levels wanted: one runs, the others wait for it.
    for (name, _) in &files {
        let _ = coded(&mut site, &format!("/{name}"), "br");
    }
    let mut rounds = 0;
    loop {
        let jobs = site.take_background_jobs();
        if jobs.is_empty() {
            break;
        }
        assert_eq!(jobs.len(), 1, "one best-level job in flight");
        for job in jobs {
            site.resume_background(job.run(), Instant::now());
        }
        rounds += 1;
    }
    assert_eq!(rounds, 3);
    for (name, bytes) in &files {
        let (_, etag, body) = coded(&mut site, &format!("/{name}"), "br");
        assert!(etag.ends_with("-br11\""), "{etag}");
        let mut plain = Vec::new();
        brotli::BrotliDecompress(&mut &body[..], &mut plain).unwrap();
        assert_eq!(&plain, bytes);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_memory_budget_holds_and_a_change_drops_the_codings() {
    let files: Vec<(String, Vec<u8>)> = (0..40).map(|i| (format!("f{i}.txt"), text(20_000 + i))).collect();
    let refs: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    // Small files get their (smaller) best level at once: a budget of a few of them.
    let budget = 1024;
    let (mut site, dir) = compressing_site("budget", &refs, budget);
    for (name, _) in &files {
        let _ = coded(&mut site, &format!("/{name}"), "zstd");
        assert!(site.compress_stats().size <= budget, "{:?}", site.compress_stats());
    }
    let stats = site.compress_stats();
    assert!(stats.evictions > 0 && stats.entries > 0, "{stats:?}");

    // A changed file (new size and time): new bytes, new ETag.
    let (_, before, _) = coded(&mut site, "/f0.txt", "zstd");
    std::fs::write(dir.join("f0.txt"), text(30_000)).unwrap();
    let later = Instant::now() + Duration::from_secs(5);
    let raw = "GET /f0.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: zstd\r\n\r\n";
    let (plan, _) = plan_now(&mut site, raw, later);
    let etag = plan.all_fields().find_map(|f| match f {
        Field::ETag(t) => Some(t.to_string()),
        _ => None,
    });
    assert_ne!(etag.as_deref(), Some(before.as_str()));
    let Body::Range { source: Source::Memory(bytes), .. } = plan.body else { panic!("{:?}", plan.body) };
    assert_eq!(zstd::decode_all(&bytes[..]).unwrap(), text(30_000));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_second_first_request_while_the_coding_is_made_is_served_identity_not_coded_again() {
    let small = text(4000);
    let (mut site, dir) = compressing_site("dedup", &[("a.js", small.clone())], 64 << 20);
    let raw = "GET /a.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br\r\n\r\n";
    let (req, _) = parse(raw.as_bytes(), &Limits::default()).unwrap().unwrap();
    let now = Instant::now();
    // Plans `view` to its end or to a compression job, running other jobs (a lookup, the
    // root's re-check) at once.
    let plan_to_compress = |site: &mut Site, view: &RequestView| {
        let mut planned = site.plan(view, now);
        loop {
            match planned {
                Planned::Pending(job) if job.describe().starts_with("compress") => return Err(job),
                Planned::Pending(job) => planned = site.resume(view, job.run(), now),
                Planned::Ready(plan) => return Ok(plan),
            }
        }
    };
    let Err(compress_job) = plan_to_compress(&mut site, &req.view()) else {
        panic!("a small file's first request waits for its coding")
    };
    // Meanwhile a second request for the same coding takes no job: identity, with Vary.
    let Ok(second) = plan_to_compress(&mut site, &req.view()) else { panic!("a second job for the same coding") };
    assert!(second.all_fields().all(|f| f.name() != "Content-Encoding"));
    assert!(second.all_fields().any(|f| f.name() == "Vary"));
    // Another coding is not held up by it.
    let gzip = "GET /a.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n";
    let (greq, _) = parse(gzip.as_bytes(), &Limits::default()).unwrap().unwrap();
    assert!(plan_to_compress(&mut site, &greq.view()).is_err(), "gzip waits for its own job");
    // The first request's job done (even with its client gone): later ones are hits.
    site.absorb(compress_job.run(), now);
    let (coding, _, body) = coded(&mut site, "/a.js", "br");
    assert_eq!(coding.as_deref(), Some("br"));
    let mut plain = Vec::new();
    brotli::BrotliDecompress(&mut &body[..], &mut plain).unwrap();
    assert_eq!(plain, small);
    std::fs::remove_dir_all(&dir).unwrap();
}
