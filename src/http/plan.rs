//! The response plan: what the site decided for one request (status, fields, body), in no
//! protocol's bytes. `http1::render` turns it into an HTTP/1.1 head and a body to send;
//! HTTP/2 will turn the same plan into HEADERS and DATA on a stream.
//!
//! Fields are a short typed list (the site only ever sends a dozen kinds), so a plan is
//! built without formatting anything. What stays the same for many responses (a cached
//! file's 200 fields, the site's own `--header` lines) is a `FieldBlock`, which keeps each
//! protocol's rendering once it has been made: a cache hit copies bytes.
use std::collections::VecDeque;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::http::files::Coding;
use crate::util::map::BodyFile;

/// A field value the site holds in one of three ways, so none has to be copied to plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    Static(&'static str),
    /// Shared with the file cache (a content type, an ETag).
    Shared(Arc<str>),
    Owned(String),
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Text::Static(s) => s,
            Text::Shared(s) => s,
            Text::Owned(s) => s,
        }
    }
}

/// One response field. Names are those of RFC 9110; each protocol writes them its way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    ContentType(Text),
    ContentLength(u64),
    /// `X-Content-Type-Options: nosniff`, sent with every `Content-Type`.
    NoSniff,
    /// `Accept-Ranges: bytes`.
    AcceptRanges,
    /// `Content-Range: bytes first-last/complete`.
    ContentRange {
        first: u64,
        last: u64,
        complete: u64,
    },
    /// `Content-Range: bytes */complete` (a 416).
    UnsatisfiedRange {
        complete: u64,
    },
    ETag(Text),
    LastModified(Text),
    ContentEncoding(Coding),
    /// `Vary` with the one request field the response depends on.
    Vary(&'static str),
    Location(String),
    /// `Allow` with the methods every resource allows.
    Allow,
    /// A field the operator configured (`--header`, `--cache-control`), validated by `config`.
    Custom {
        name: Arc<str>,
        value: Arc<str>,
    },
}

/// The methods every resource allows (for `Allow` on 405 and OPTIONS).
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

impl Field {
    /// The field name as HTTP/1 writes it (HTTP/2 lowercases it).
    pub fn name(&self) -> &str {
        match self {
            Field::ContentType(_) => "Content-Type",
            Field::ContentLength(_) => "Content-Length",
            Field::NoSniff => "X-Content-Type-Options",
            Field::AcceptRanges => "Accept-Ranges",
            Field::ContentRange { .. } | Field::UnsatisfiedRange { .. } => "Content-Range",
            Field::ETag(_) => "ETag",
            Field::LastModified(_) => "Last-Modified",
            Field::ContentEncoding(_) => "Content-Encoding",
            Field::Vary(_) => "Vary",
            Field::Location(_) => "Location",
            Field::Allow => "Allow",
            Field::Custom { name, .. } => name,
        }
    }

    /// Appends the value's bytes.
    pub fn value(&self, out: &mut Vec<u8>) {
        match self {
            Field::ContentType(t) | Field::ETag(t) | Field::LastModified(t) => out.extend_from_slice(t.as_bytes()),
            Field::ContentLength(n) => push_u64(out, *n),
            Field::NoSniff => out.extend_from_slice(b"nosniff"),
            Field::AcceptRanges => out.extend_from_slice(b"bytes"),
            Field::ContentRange { first, last, complete } => {
                out.extend_from_slice(b"bytes ");
                push_u64(out, *first);
                out.push(b'-');
                push_u64(out, *last);
                out.push(b'/');
                push_u64(out, *complete);
            }
            Field::UnsatisfiedRange { complete } => {
                out.extend_from_slice(b"bytes */");
                push_u64(out, *complete);
            }
            Field::ContentEncoding(c) => out.extend_from_slice(c.token().as_bytes()),
            Field::Vary(v) => out.extend_from_slice(v.as_bytes()),
            Field::Location(l) => out.extend_from_slice(l.as_bytes()),
            Field::Allow => out.extend_from_slice(ALLOW.as_bytes()),
            Field::Custom { value, .. } => out.extend_from_slice(value.as_bytes()),
        }
    }
}

/// Appends a decimal number without going through `fmt`.
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Fields that many responses share, with their HTTP/1 rendering kept once made, and an id
/// of their own: HTTP/2 sends a block it sent before on a connection as indexes into the
/// client's table (`http2::hpack::encoder::Encoder::block`).
/// (`OnceLock`: a block lives in the file cache, which pool threads fill; after the first
/// rendering, reading it is one atomic load.)
#[derive(Debug)]
pub struct FieldBlock {
    id: u64,
    fields: Vec<Field>,
    http1: OnceLock<Box<[u8]>>,
}

impl Default for FieldBlock {
    fn default() -> Self {
        FieldBlock::new(Vec::new())
    }
}

/// A new id for a set of fields: never the same twice in a process, so an id once sent on
/// a connection means those fields and no others.
pub fn block_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl FieldBlock {
    pub fn new(fields: Vec<Field>) -> Self {
        FieldBlock { id: block_id(), fields, http1: OnceLock::new() }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The HTTP/1 rendering, made by `render` the first time it is asked for.
    pub fn http1(&self, render: impl FnOnce(&[Field]) -> Vec<u8>) -> &[u8] {
        self.http1.get_or_init(|| render(&self.fields).into_boxed_slice())
    }
}

/// Where a representation's bytes are.
#[derive(Debug, Clone)]
pub enum Source {
    /// The whole (small) file, read when it was cached.
    Memory(Arc<[u8]>),
    /// An open descriptor, for `sendfile` or `pread` (or its mapping, for `writev`).
    File(Arc<BodyFile>),
}

/// One piece of a multipart body.
#[derive(Debug, PartialEq, Eq)]
pub enum Segment {
    /// Bytes made in memory (a part's header lines).
    Bytes(Vec<u8>),
    /// A byte range of the source.
    Range { offset: u64, len: u64 },
}

impl Segment {
    /// Bytes this piece adds to the body.
    pub fn size(&self) -> u64 {
        match self {
            Segment::Bytes(b) => b.len() as u64,
            Segment::Range { len, .. } => *len,
        }
    }
}

/// What follows the fields.
#[derive(Debug)]
pub enum Body {
    /// No body: a 204, 304, a HEAD, an empty file.
    Empty,
    /// Made by the site (error pages, listings).
    Made(Arc<[u8]>),
    /// `len` bytes of `source` from `offset`: a whole file or one range.
    Range { source: Source, offset: u64, len: u64 },
    /// `multipart/byteranges`: ranges of `source` between pieces made in memory.
    Parts { source: Source, segments: VecDeque<Segment> },
}

impl Body {
    /// Bytes the body holds.
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Made(b) => b.len() as u64,
            Body::Range { len, .. } => *len,
            Body::Parts { segments, .. } => segments.iter().map(Segment::size).sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The site's answer to one request, for any protocol to render.
#[derive(Debug)]
pub struct Plan {
    pub status: u16,
    /// Fields rendered once for this representation (a cached file's 200), sent first.
    pub block: Option<Arc<FieldBlock>>,
    pub fields: Vec<Field>,
    /// The site's own fields (`--cache-control`, `--header`), sent last on 2xx and 304.
    pub site_fields: Option<Arc<FieldBlock>>,
    /// Empty for HEAD, whose fields are those of a GET.
    pub body: Body,
    /// End the connection after this response: the request showed a confused client
    /// (a 400), whose next bytes are not worth reading.
    pub close: bool,
}

impl Plan {
    /// A response with these fields and body, nothing shared.
    pub fn new(status: u16, fields: Vec<Field>, body: Body) -> Self {
        Plan { status, block: None, fields, site_fields: None, body, close: false }
    }

    /// Every field in the order sent.
    pub fn all_fields(&self) -> impl Iterator<Item = &Field> {
        let block = self.block.iter().flat_map(|b| b.fields());
        let site = self.site_fields.iter().flat_map(|b| b.fields());
        block.chain(&self.fields).chain(site)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(f: &Field) -> String {
        let mut out = Vec::new();
        f.value(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn numbers() {
        for n in [0, 7, 10, 99, 12345, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }

    #[test]
    fn values() {
        assert_eq!(value(&Field::ContentLength(0)), "0");
        assert_eq!(value(&Field::ContentLength(u64::MAX)), u64::MAX.to_string());
        assert_eq!(value(&Field::ContentRange { first: 2, last: 9, complete: 10 }), "bytes 2-9/10");
        assert_eq!(value(&Field::UnsatisfiedRange { complete: 10 }), "bytes */10");
        assert_eq!(value(&Field::ContentEncoding(Coding::Br)), "br");
        assert_eq!(value(&Field::Allow), "GET, HEAD, OPTIONS");
    }

    #[test]
    fn a_block_renders_once() {
        let block = FieldBlock::new(vec![Field::NoSniff]);
        let mut calls = 0;
        for _ in 0..3 {
            let bytes = block.http1(|f| {
                calls += 1;
                f.iter().map(|f| f.name()).collect::<String>().into_bytes()
            });
            assert_eq!(bytes, b"X-Content-Type-Options");
        }
        assert_eq!(calls, 1);
    }

    #[test]
    fn fields_in_order_and_body_lengths() {
        let site = Arc::new(FieldBlock::new(vec![Field::Vary("Accept")]));
        let mut plan = Plan::new(200, vec![Field::AcceptRanges], Body::Made(Arc::from(&b"abc"[..])));
        plan.block = Some(Arc::new(FieldBlock::new(vec![Field::NoSniff])));
        plan.site_fields = Some(site);
        let names: Vec<&str> = plan.all_fields().map(Field::name).collect();
        assert_eq!(names, ["X-Content-Type-Options", "Accept-Ranges", "Vary"]);
        assert_eq!(plan.body.len(), 3);
        let parts = Body::Parts {
            source: Source::Memory(Arc::from(&b"0123456789"[..])),
            segments: VecDeque::from([Segment::Bytes(b"--b\r\n".to_vec()), Segment::Range { offset: 1, len: 4 }]),
        };
        assert_eq!(parts.len(), 9);
    }
}
