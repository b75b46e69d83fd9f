//! What a file *means* over HTTP, as pure functions: its media type, its validators
//! (ETag, Last-Modified), the outcome of conditional headers (RFC 9110 section 13),
//! byte ranges (section 14) and content-coding negotiation (section 12.5.3).
//! No sockets and no clock: every input is a value, so all of it is table-tested.
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::util::text::{list_items, parse_decimal, trim_ows};

/// A media type and whether it is text (and so gets `; charset=utf-8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    pub essence: &'a str,
    pub text: bool,
}

/// `--mime EXT=TYPE` overrides, keyed by lower-case extension.
pub type MimeOverrides = HashMap<String, String>;

/// The media type for a path, by its extension: overrides first, then the maintained
/// table of `mime_guess`, with the few corrections browsers care about.
pub fn media_type<'a>(path: &str, overrides: &'a MimeOverrides) -> MediaType<'a> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext,
        _ => "",
    };
    let mut lower = [0u8; 16];
    let ext = if ext.len() <= lower.len() {
        lower[..ext.len()].copy_from_slice(ext.as_bytes());
        lower[..ext.len()].make_ascii_lowercase();
        std::str::from_utf8(&lower[..ext.len()]).unwrap_or("")
    } else {
        ""
    };
    if let Some(t) = overrides.get(ext) {
        return MediaType { essence: t, text: is_text(t) };
    }
    let essence = match ext {
        // RFC 9239 made text/javascript the one name; mime_guess still says application/.
        "js" | "mjs" | "cjs" => "text/javascript",
        "wasm" => "application/wasm",
        "woff" => "font/woff",
        "avif" => "image/avif",
        "webmanifest" => "application/manifest+json",
        "" => "application/octet-stream",
        _ => mime_guess::from_ext(ext).first_raw().unwrap_or("application/octet-stream"),
    };
    MediaType { essence, text: is_text(essence) }
}

fn is_text(essence: &str) -> bool {
    essence.starts_with("text/")
        || matches!(
            essence,
            "application/json"
                | "application/xml"
                | "image/svg+xml"
                | "application/manifest+json"
                | "application/xhtml+xml"
        )
}

/// Modification time as (seconds, nanoseconds) since the epoch.
pub fn mtime_parts(t: SystemTime) -> (u64, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    (d.as_secs(), d.subsec_nanos())
}

/// The ETag of a representation: `"<size hex>-<mtime seconds hex>.<nanoseconds hex>"`,
/// plus `-<coding>` for a pre-compressed sidecar. It changes whenever the size or the
/// modification time changes, to the nanosecond, and never depends on the inode, so
/// several servers sharing one copy of the files agree.
pub fn etag(len: u64, modified: SystemTime, coding: Option<Coding>) -> String {
    let (secs, nanos) = mtime_parts(modified);
    match coding {
        Some(c) => format!("\"{len:x}-{secs:x}.{nanos:x}-{}\"", c.token()),
        None => format!("\"{len:x}-{secs:x}.{nanos:x}\""),
    }
}

/// HTTP dates have whole seconds: comparisons use the truncated modification time.
fn whole_seconds(t: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(mtime_parts(t).0)
}

/// The header fields that make a request conditional.
#[derive(Debug, Default, Clone, Copy)]
pub struct Conditions<'a> {
    pub if_match: Option<&'a [u8]>,
    pub if_none_match: Option<&'a [u8]>,
    pub if_modified_since: Option<&'a [u8]>,
    pub if_unmodified_since: Option<&'a [u8]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Serve the representation (200 or 206).
    Proceed,
    /// 304: the client's copy is current.
    NotModified,
    /// 412: a precondition the client set is false.
    Failed,
}

/// Evaluates preconditions in the order of RFC 9110 section 13.2.2 for a GET or HEAD
/// (`safe`) or any other method.
pub fn evaluate(c: &Conditions, safe: bool, etag: &str, modified: SystemTime) -> Precondition {
    // Step 1 and 2: If-Match, or else If-Unmodified-Since.
    if let Some(v) = c.if_match {
        if !etag_list_matches(v, etag, true) {
            return Precondition::Failed;
        }
    } else if let Some(date) = c.if_unmodified_since.and_then(parse_date)
        && whole_seconds(modified) > date
    {
        return Precondition::Failed;
    }
    // Step 3 and 4: If-None-Match, or else If-Modified-Since (GET/HEAD only).
    if let Some(v) = c.if_none_match {
        if etag_list_matches(v, etag, false) {
            return if safe { Precondition::NotModified } else { Precondition::Failed };
        }
    } else if safe
        && let Some(date) = c.if_modified_since.and_then(parse_date)
        && whole_seconds(modified) <= date
    {
        return Precondition::NotModified;
    }
    Precondition::Proceed
}

/// `*` or a list of entity tags containing `etag` (strong or weak comparison).
fn etag_list_matches(value: &[u8], etag: &str, strong: bool) -> bool {
    if trim_ows(value) == b"*" {
        return true;
    }
    list_items(value).any(|tag| {
        let weak = tag.starts_with(b"W/");
        if strong && weak {
            return false;
        }
        let tag = if weak { &tag[2..] } else { tag };
        tag == etag.as_bytes()
    })
}

/// An HTTP-date in any of the three formats RFC 9110 requires a recipient to accept.
pub fn parse_date(v: &[u8]) -> Option<SystemTime> {
    httpdate::parse_http_date(std::str::from_utf8(trim_ows(v)).ok()?).ok()
}

/// `If-Range` (RFC 9110 section 13.1.5): true when the range may be honoured. An entity tag
/// must match strongly; a date must equal Last-Modified exactly.
pub fn if_range_allows(value: &[u8], etag: &str, modified: SystemTime) -> bool {
    let value = trim_ows(value);
    if value.starts_with(b"\"") || value.starts_with(b"W/") {
        return value == etag.as_bytes();
    }
    parse_date(value) == Some(whole_seconds(modified))
}

/// An inclusive byte range that lies inside the representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeOutcome {
    /// No usable Range header (absent, malformed, another unit, or abusive): 200.
    Full,
    /// Sorted, merged, satisfiable ranges: 206 (multipart when more than one).
    Partial(Vec<ByteRange>),
    /// Well-formed but none of it inside the representation: 416.
    Unsatisfiable,
}

/// More range specs than this is treated as abuse and answered with the whole file.
pub const MAX_RANGES: usize = 16;

/// Parses a `Range` header against a representation of `len` bytes.
pub fn parse_range(value: &[u8], len: u64) -> RangeOutcome {
    let value = trim_ows(value);
    let Some(eq) = value.iter().position(|&b| b == b'=') else {
        return RangeOutcome::Full;
    };
    if !value[..eq].eq_ignore_ascii_case(b"bytes") {
        return RangeOutcome::Full;
    }
    let mut ranges = Vec::new();
    let mut specs = 0;
    for spec in list_items(&value[eq + 1..]) {
        specs += 1;
        if specs > MAX_RANGES {
            return RangeOutcome::Full;
        }
        let Some(dash) = spec.iter().position(|&b| b == b'-') else {
            return RangeOutcome::Full;
        };
        let (first, last) = (&spec[..dash], &spec[dash + 1..]);
        let range = if first.is_empty() {
            // Suffix: the last N bytes.
            let Some(n) = parse_decimal(last) else { return RangeOutcome::Full };
            // On an empty representation a non-zero suffix is the one satisfiable range
            // (RFC 9110 14.1.1), but no Content-Range can name zero bytes: send it whole.
            if n > 0 && len == 0 {
                return RangeOutcome::Full;
            }
            (n > 0).then(|| ByteRange { start: len - n.min(len), end: len - 1 })
        } else {
            let Some(start) = parse_decimal(first) else { return RangeOutcome::Full };
            let end = if last.is_empty() {
                u64::MAX
            } else {
                match parse_decimal(last) {
                    Some(end) if end >= start => end,
                    _ => return RangeOutcome::Full,
                }
            };
            (start < len).then(|| ByteRange { start, end: end.min(len - 1) })
        };
        ranges.extend(range);
    }
    if specs == 0 {
        return RangeOutcome::Full;
    }
    if ranges.is_empty() {
        return RangeOutcome::Unsatisfiable;
    }
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(prev) if r.start <= prev.end.saturating_add(1) => prev.end = prev.end.max(r.end),
            _ => merged.push(r),
        }
    }
    RangeOutcome::Partial(merged)
}

/// The content codings a pre-compressed sidecar can have, in the server's order of
/// preference when the client rates several equally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    Br,
    Zstd,
    Gzip,
}

impl Coding {
    pub const ALL: [Coding; 3] = [Coding::Br, Coding::Zstd, Coding::Gzip];

    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }

    /// The sidecar file's suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Coding::Br => ".br",
            Coding::Zstd => ".zst",
            Coding::Gzip => ".gz",
        }
    }
}

/// Picks the best coding among `available` that `Accept-Encoding` allows, or None for
/// identity. q-values are honoured (in thousandths); `*` covers unnamed codings; a coding
/// rated below identity is not chosen. No header means identity only.
pub fn negotiate(accept_encoding: Option<&[u8]>, available: &[Coding]) -> Option<Coding> {
    if available.is_empty() {
        return None; // What the choice below comes to, without reading the header.
    }
    let header = accept_encoding?;
    let mut star: Option<u16> = None;
    let mut identity: Option<u16> = None;
    let mut rated = [None::<u16>; 3];
    for item in list_items(header) {
        let mut parts = item.split(|&b| b == b';');
        let name = trim_ows(parts.next().unwrap_or_default());
        let mut q = 1000;
        for param in parts {
            let param = trim_ows(param);
            if param.len() > 2 && param[..2].eq_ignore_ascii_case(b"q=") {
                q = parse_qvalue(&param[2..]).unwrap_or(0);
            }
        }
        let slot = if name == b"*" {
            &mut star
        } else if name.eq_ignore_ascii_case(b"identity") {
            &mut identity
        } else if let Some(i) = Coding::ALL.iter().position(|c| name.eq_ignore_ascii_case(c.token().as_bytes())) {
            &mut rated[i]
        } else if name.eq_ignore_ascii_case(b"x-gzip") {
            &mut rated[2]
        } else {
            continue;
        };
        *slot = Some(slot.map_or(q, |old: u16| old.max(q)));
    }
    let identity_q = identity.or(star).unwrap_or(1);
    let mut best: Option<(u16, Coding)> = None;
    for (i, coding) in Coding::ALL.iter().enumerate() {
        let q = rated[i].or(star).unwrap_or(0);
        if q > 0 && available.contains(coding) && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, *coding));
        }
    }
    best.filter(|(q, _)| *q >= identity_q).map(|(_, c)| c)
}

/// `0`, `0.5`, `1`, `1.000` -> thousandths; anything else is invalid.
fn parse_qvalue(v: &[u8]) -> Option<u16> {
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(dot) => (&v[..dot], &v[dot + 1..]),
        None => (v, &b""[..]),
    };
    if int.len() != 1 || frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |d| u16::from(d - b'0'));
    }
    match int[0] {
        b'0' => Some(thousandths),
        b'1' if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        let none = MimeOverrides::new();
        let t = |p| media_type(p, &none);
        assert_eq!(t("index.html"), MediaType { essence: "text/html", text: true });
        assert_eq!(t("a/b.CSS").essence, "text/css");
        assert_eq!(t("app.js").essence, "text/javascript");
        assert_eq!(t("m.mjs").essence, "text/javascript");
        assert_eq!(t("d.json"), MediaType { essence: "application/json", text: true });
        assert_eq!(t("i.svg"), MediaType { essence: "image/svg+xml", text: true });
        assert_eq!(t("i.png"), MediaType { essence: "image/png", text: false });
        assert_eq!(t("i.jpg").essence, "image/jpeg");
        assert_eq!(t("i.webp").essence, "image/webp");
        assert_eq!(t("i.avif").essence, "image/avif");
        assert_eq!(t("f.woff2").essence, "font/woff2");
        assert_eq!(t("x.wasm").essence, "application/wasm");
        assert_eq!(t("v.mp4").essence, "video/mp4");
        assert_eq!(t("d.pdf").essence, "application/pdf");
        assert_eq!(t("noext").essence, "application/octet-stream");
        assert_eq!(t(".bashrc").essence, "application/octet-stream");
        assert_eq!(t("x.unknownext").essence, "application/octet-stream");
        let mut o = MimeOverrides::new();
        o.insert("md".into(), "text/markdown".into());
        assert_eq!(media_type("README.MD", &o), MediaType { essence: "text/markdown", text: true });
    }

    #[test]
    fn etags_change_with_size_and_nanoseconds() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 5);
        assert_eq!(etag(1024, t, None), "\"400-6553f100.5\"");
        assert_ne!(etag(1024, t, None), etag(1024, t + Duration::from_nanos(1), None));
        assert_ne!(etag(1024, t, None), etag(1025, t, None));
        assert_eq!(etag(1, t, Some(Coding::Br)), "\"1-6553f100.5-br\"");
    }

    #[test]
    fn preconditions() {
        let m = UNIX_EPOCH + Duration::new(1_000_000_000, 500); // Sun, 09 Sep 2001 01:46:40 GMT
        let tag = "\"a-1\"";
        let at = |d: &'static str| Some(d.as_bytes());
        let same = at("Sun, 09 Sep 2001 01:46:40 GMT");
        let before = at("Sun, 09 Sep 2001 01:46:39 GMT");
        let cases: &[(Conditions, bool, Precondition)] = &[
            (Conditions::default(), true, Precondition::Proceed),
            (Conditions { if_none_match: Some(b"\"a-1\""), ..Default::default() }, true, Precondition::NotModified),
            (Conditions { if_none_match: Some(b"W/\"a-1\""), ..Default::default() }, true, Precondition::NotModified),
            (
                Conditions { if_none_match: Some(b"\"x\", \"a-1\""), ..Default::default() },
                true,
                Precondition::NotModified,
            ),
            (Conditions { if_none_match: Some(b"*"), ..Default::default() }, true, Precondition::NotModified),
            (Conditions { if_none_match: Some(b"\"x\""), ..Default::default() }, true, Precondition::Proceed),
            (Conditions { if_none_match: Some(b"\"a-1\""), ..Default::default() }, false, Precondition::Failed),
            // If-None-Match wins over If-Modified-Since.
            (
                Conditions { if_none_match: Some(b"\"x\""), if_modified_since: same, ..Default::default() },
                true,
                Precondition::Proceed,
            ),
            (Conditions { if_modified_since: same, ..Default::default() }, true, Precondition::NotModified),
            (Conditions { if_modified_since: before, ..Default::default() }, true, Precondition::Proceed),
            (Conditions { if_modified_since: Some(b"garbage"), ..Default::default() }, true, Precondition::Proceed),
            (
                Conditions { if_modified_since: at("Sunday, 09-Sep-01 01:46:40 GMT"), ..Default::default() },
                true,
                Precondition::NotModified,
            ),
            (
                Conditions { if_modified_since: at("Sun Sep  9 01:46:40 2001"), ..Default::default() },
                true,
                Precondition::NotModified,
            ),
            (Conditions { if_modified_since: same, ..Default::default() }, false, Precondition::Proceed),
            (Conditions { if_match: Some(b"\"a-1\""), ..Default::default() }, true, Precondition::Proceed),
            (Conditions { if_match: Some(b"*"), ..Default::default() }, true, Precondition::Proceed),
            (Conditions { if_match: Some(b"W/\"a-1\""), ..Default::default() }, true, Precondition::Failed),
            (Conditions { if_match: Some(b"\"b\""), ..Default::default() }, true, Precondition::Failed),
            // If-Match wins over If-Unmodified-Since.
            (
                Conditions { if_match: Some(b"\"a-1\""), if_unmodified_since: before, ..Default::default() },
                true,
                Precondition::Proceed,
            ),
            (Conditions { if_unmodified_since: before, ..Default::default() }, true, Precondition::Failed),
            (Conditions { if_unmodified_since: same, ..Default::default() }, true, Precondition::Proceed),
            // A failed If-Match beats a matching If-None-Match.
            (
                Conditions { if_match: Some(b"\"b\""), if_none_match: Some(b"*"), ..Default::default() },
                true,
                Precondition::Failed,
            ),
        ];
        for (i, (c, safe, want)) in cases.iter().enumerate() {
            assert_eq!(evaluate(c, *safe, tag, m), *want, "case {i}: {c:?}");
        }
    }

    #[test]
    fn if_range() {
        let m = UNIX_EPOCH + Duration::new(1_000_000_000, 0);
        assert!(if_range_allows(b"\"a-1\"", "\"a-1\"", m));
        assert!(!if_range_allows(b"W/\"a-1\"", "\"a-1\"", m));
        assert!(!if_range_allows(b"\"b\"", "\"a-1\"", m));
        assert!(if_range_allows(b"Sun, 09 Sep 2001 01:46:40 GMT", "\"a-1\"", m));
        assert!(!if_range_allows(b"Sun, 09 Sep 2001 01:46:41 GMT", "\"a-1\"", m));
        assert!(!if_range_allows(b"nonsense", "\"a-1\"", m));
    }

    fn r(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    #[test]
    fn ranges() {
        use RangeOutcome::*;
        let cases: &[(&str, u64, RangeOutcome)] = &[
            ("bytes=0-0", 10, Partial(vec![r(0, 0)])),
            ("bytes=0-4", 10, Partial(vec![r(0, 4)])),
            ("bytes=5-", 10, Partial(vec![r(5, 9)])),
            ("bytes=-3", 10, Partial(vec![r(7, 9)])),
            ("bytes=-30", 10, Partial(vec![r(0, 9)])),
            ("bytes=0-100", 10, Partial(vec![r(0, 9)])),
            ("bytes=9-9", 10, Partial(vec![r(9, 9)])),
            ("BYTES=1-2", 10, Partial(vec![r(1, 2)])),
            ("bytes=1-2, 4-5", 10, Partial(vec![r(1, 2), r(4, 5)])),
            ("bytes= 1-2 ,\t4-5 ", 10, Partial(vec![r(1, 2), r(4, 5)])),
            ("bytes=4-5,1-2", 10, Partial(vec![r(1, 2), r(4, 5)])),
            ("bytes=0-2,3-5", 10, Partial(vec![r(0, 5)])),
            ("bytes=0-5,2-3", 10, Partial(vec![r(0, 5)])),
            ("bytes=0-1,20-30", 10, Partial(vec![r(0, 1)])),
            ("bytes=-0", 10, Unsatisfiable),
            ("bytes=10-", 10, Unsatisfiable),
            ("bytes=10-20", 10, Unsatisfiable),
            ("bytes=0-0", 0, Unsatisfiable),
            ("bytes=-5", 0, Full),
            ("bytes=-0", 0, Unsatisfiable),
            ("bytes=5-2", 10, Full),
            ("bytes=", 10, Full),
            ("bytes=,", 10, Full),
            ("bytes=a-b", 10, Full),
            ("bytes=1", 10, Full),
            ("bytes=-", 10, Full),
            ("bytes=1-2-3", 10, Full),
            ("bytes=--1", 10, Full),
            ("items=0-1", 10, Full),
            ("bytes 0-1", 10, Full),
            ("bytes=0-1,x", 10, Full),
            ("bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,0-0,1-1,2-2,3-3,4-4,5-5,6-6", 10, Full),
            ("bytes=0-0,2-2,4-4", 10, Partial(vec![r(0, 0), r(2, 2), r(4, 4)])),
        ];
        for (header, len, want) in cases {
            assert_eq!(&parse_range(header.as_bytes(), *len), want, "{header:?} of {len}");
        }
    }

    #[test]
    fn encodings() {
        let all = &Coding::ALL[..];
        let n = |h: &str, avail: &[Coding]| negotiate(Some(h.as_bytes()), avail);
        assert_eq!(negotiate(None, all), None);
        assert_eq!(n("gzip, deflate, br, zstd", all), Some(Coding::Br));
        assert_eq!(n("gzip, deflate, br, zstd", &[Coding::Zstd, Coding::Gzip]), Some(Coding::Zstd));
        assert_eq!(n("gzip", all), Some(Coding::Gzip));
        assert_eq!(n("GZIP", all), Some(Coding::Gzip));
        assert_eq!(n("x-gzip", all), Some(Coding::Gzip));
        assert_eq!(n("br;q=0.5, gzip;q=0.9", all), Some(Coding::Gzip));
        assert_eq!(n("br;q=0, gzip", all), Some(Coding::Gzip));
        assert_eq!(n("br;q=0", all), None);
        assert_eq!(n("*", all), Some(Coding::Br));
        assert_eq!(n("*;q=0", all), None);
        assert_eq!(n("*;q=0.1, gzip", all), Some(Coding::Gzip));
        assert_eq!(n("identity", all), None);
        assert_eq!(n("", all), None);
        assert_eq!(n("gzip;q=0.5, identity;q=1", all), None);
        assert_eq!(n("gzip;q=0.5, identity;q=0", all), Some(Coding::Gzip));
        assert_eq!(n("gzip;q=bogus", all), None);
        assert_eq!(n("gzip;q=1.5", all), None);
        assert_eq!(n("gzip; Q=0.001", all), Some(Coding::Gzip));
        assert_eq!(n("deflate", all), None);
        assert_eq!(n("gzip", &[]), None);
    }

    #[test]
    fn qvalues() {
        assert_eq!(parse_qvalue(b"0"), Some(0));
        assert_eq!(parse_qvalue(b"1"), Some(1000));
        assert_eq!(parse_qvalue(b"1.000"), Some(1000));
        assert_eq!(parse_qvalue(b"0.25"), Some(250));
        assert_eq!(parse_qvalue(b"1.001"), None);
        assert_eq!(parse_qvalue(b"0.1234"), None);
        assert_eq!(parse_qvalue(b"2"), None);
        assert_eq!(parse_qvalue(b""), None);
    }
}
