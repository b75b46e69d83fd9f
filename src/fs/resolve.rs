//! Request target -> a file under the root. Two layers, both required:
//!
//! 1. `resolve_target`, a pure function: strip the query, percent-decode once, refuse what
//!    no honest client sends (NUL, controls, backslashes, bad escapes, invalid or overlong
//!    UTF-8), resolve `.` and `..` and refuse any target that climbs above the root, and hide
//!    dotfiles unless allowed. The result is a clean relative path: no `.`, `..` or `//`.
//! 2. `open_beneath`, one open call that the kernel itself confines to the root
//!    (`openat2` with `RESOLVE_BENEATH`): a symlink may point anywhere inside the root, never
//!    out of it, and no check-then-open race exists. Where `openat2` is missing, a walk with
//!    `O_NOFOLLOW` refuses every symlink instead.
use std::borrow::Cow;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;

use rustix::fs::{Mode, OFlags, ResolveFlags};

/// Why a target was refused before touching the file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// The target is malformed or hostile: 400.
    BadRequest(&'static str),
    /// The target names a hidden (dot) file or folder: 404, as if it did not exist.
    Hidden,
}

/// A target reduced to a path under the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved<'a> {
    /// Relative path, segments joined by `/`; empty for the root itself. Borrowed from
    /// the target when it needed no decoding or normalising (the common case).
    pub path: Cow<'a, str>,
    /// The target's path ended in `/` (asks for a folder).
    pub dir_form: bool,
    /// The query string without its `?`, kept for redirects.
    pub query: Option<&'a str>,
}

/// Maps an origin-form target (`/a/b?q`) to a path under the root, or refuses it. A
/// bare `?q` is what an absolute-form target with an empty path leaves
/// (`http://h?q`, see `request::Target::Path`): its path is `/` (RFC 9110 section 4.2.3).
///
/// ```
/// use evserve::fs::resolve::{Reject, resolve_target};
/// let r = resolve_target("/docs/../caf%C3%A9/?lang=fr", false).unwrap();
/// assert_eq!((&*r.path, r.dir_form, r.query), ("café", true, Some("lang=fr")));
/// assert!(matches!(resolve_target("/%2e%2e/etc/passwd", false), Err(Reject::BadRequest(_))));
/// assert_eq!(resolve_target("/.git/config", false), Err(Reject::Hidden));
/// ```
pub fn resolve_target(target: &str, allow_dotfiles: bool) -> Result<Resolved<'_>, Reject> {
    let (raw_path, query) = split_target(target)?;
    if is_plain(raw_path) {
        // Its own normal form: the path without its slashes at either end.
        let dir_form = raw_path.ends_with('/');
        let path = raw_path[1..].strip_suffix('/').unwrap_or(&raw_path[1..]);
        return Ok(Resolved { path: Cow::Borrowed(path), dir_form, query });
    }
    normalise(raw_path, query, allow_dotfiles)
}

/// The path (`/` for a bare `?q`) and the query of a target.
fn split_target(target: &str) -> Result<(&str, Option<&str>), Reject> {
    let (raw_path, query) = match target.bytes().position(|b| b == b'?') {
        Some(i) => (&target[..i], Some(&target[i + 1..])),
        None => (target, None),
    };
    let raw_path = if raw_path.is_empty() && query.is_some() { "/" } else { raw_path };
    if !raw_path.starts_with('/') {
        return Err(Reject::BadRequest("target does not start with /"));
    }
    Ok((raw_path, query))
}

/// The common case, in one pass: visible ASCII with nothing to decode or refuse (no `%`,
/// `\`, `#`), no segment starting with a dot (so no dot segment and no dotfile) and no
/// empty segment. `normalise` would return such a path unchanged (a test checks it).
fn is_plain(path: &str) -> bool {
    let plain = |b: u8| b.is_ascii_graphic() & (b != b'%') & (b != b'\\') & (b != b'#');
    let segment_start = |prev: u8, b: u8| (prev == b'/') & ((b == b'.') | (b == b'/'));
    let path = path.as_bytes();
    let Some((&first, rest)) = path.split_first() else { return true };
    // Branch-free over (byte, previous byte) pairs, which the compiler vectorises.
    plain(first) & rest.iter().zip(path).fold(true, |ok, (&b, &prev)| ok & plain(b) & !segment_start(prev, b))
}

/// Decodes, checks and normalises a path that `is_plain` could not pass as it is.
fn normalise<'a>(raw_path: &str, query: Option<&'a str>, allow_dotfiles: bool) -> Result<Resolved<'a>, Reject> {
    if raw_path.contains('#') {
        return Err(Reject::BadRequest("fragment in request target"));
    }
    let decoded = percent_decode(raw_path.as_bytes())?;
    if let Some(&b) = decoded.iter().find(|&&b| b < 0x20 || b == 0x7f || b == b'\\') {
        return Err(Reject::BadRequest(if b == 0 {
            "NUL in path"
        } else if b == b'\\' {
            "backslash in path"
        } else {
            "control character in path"
        }));
    }
    // from_utf8 refuses overlong encodings and surrogates, so `%c0%ae` is not a dot.
    let decoded = String::from_utf8(decoded).map_err(|_| Reject::BadRequest("path is not valid UTF-8"))?;
    let dir_form = decoded.ends_with('/');
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if segments.pop().is_none() {
                    return Err(Reject::BadRequest("path escapes the root"));
                }
            }
            _ => segments.push(segment),
        }
    }
    if !allow_dotfiles {
        let hidden = segments.iter().enumerate().any(|(i, s)| s.starts_with('.') && !(i == 0 && *s == ".well-known"));
        if hidden {
            return Err(Reject::Hidden);
        }
    }
    // A trailing `/.` or `/..` also names a folder.
    let dir_form = dir_form || decoded.ends_with("/.") || decoded.ends_with("/..");
    Ok(Resolved { path: Cow::Owned(segments.join("/")), dir_form, query })
}

/// Decodes `%XX` escapes exactly once; a `%` not followed by two hex digits is refused.
pub fn percent_decode(input: &[u8]) -> Result<Vec<u8>, Reject> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            let hi = input.get(i + 1).and_then(|&b| hex_value(b));
            let lo = input.get(i + 2).and_then(|&b| hex_value(b));
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                _ => return Err(Reject::BadRequest("invalid percent escape")),
            }
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Opens `rel` (from `resolve_target`) under the root folder `root`, read-only.
///
/// `O_NONBLOCK` keeps a FIFO placed in the root from blocking the loop in `open`.
pub fn open_beneath(root: &File, rel: &str) -> io::Result<File> {
    let path = if rel.is_empty() { "." } else { rel };
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    match rustix::fs::openat2(root.as_fd(), path, flags, Mode::empty(), resolve) {
        Ok(fd) => Ok(File::from(fd)),
        Err(rustix::io::Errno::NOSYS) | Err(rustix::io::Errno::PERM) => open_nofollow_walk(root, rel),
        // EXDEV: the path or a symlink on it leads out of the root.
        Err(rustix::io::Errno::XDEV) => Err(io::ErrorKind::NotFound.into()),
        Err(e) => Err(e.into()),
    }
}

/// The fallback for kernels without `openat2` (before 5.6) or sandboxes that forbid it:
/// one component at a time, never following a symlink. `rel` has no `.`/`..` segments.
pub fn open_nofollow_walk(root: &File, rel: &str) -> io::Result<File> {
    let mut dir: Option<File> = None;
    let mut parts = rel.split('/').filter(|s| !s.is_empty()).peekable();
    let flags = OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NOCTTY;
    while let Some(part) = parts.next() {
        let base = dir.as_ref().unwrap_or(root);
        let last = parts.peek().is_none();
        let f = if last { OFlags::RDONLY | OFlags::NONBLOCK } else { OFlags::PATH | OFlags::DIRECTORY };
        let fd = rustix::fs::openat(base.as_fd(), part, flags | f, Mode::empty())?;
        dir = Some(File::from(fd));
    }
    match dir {
        Some(file) => Ok(file),
        None => Ok(File::from(rustix::fs::openat(root.as_fd(), ".", flags | OFlags::RDONLY, Mode::empty())?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected outcome of resolving one target with dotfiles hidden.
    #[derive(Debug, PartialEq)]
    enum Want {
        Path(&'static str),
        Dir(&'static str),
        Bad,
        Hidden,
    }
    use Want::*;

    const CASES: &[(&str, Want)] = &[
        ("/", Dir("")),
        ("/index.html", Path("index.html")),
        ("/a/b/c.txt", Path("a/b/c.txt")),
        ("/a/", Dir("a")),
        ("/a//b", Path("a/b")),
        ("//a", Path("a")),
        ("/a/./b", Path("a/b")),
        ("/a/../b", Path("b")),
        ("/a/b/../../c", Path("c")),
        ("/a/..", Dir("")),
        ("/a/.", Dir("a")),
        ("/a?x=1", Path("a")),
        ("/a?x=/../../etc/passwd", Path("a")),
        ("/%61", Path("a")),
        ("/sp%20ace", Path("sp ace")),
        ("/caf%C3%A9", Path("café")),
        ("/a%2fb", Path("a/b")),
        ("/%252e%252e/etc/passwd", Path("%2e%2e/etc/passwd")),
        ("/%25", Path("%")),
        ("/..", Bad),
        ("/../", Bad),
        ("/../etc/passwd", Bad),
        ("/a/../../etc/passwd", Bad),
        ("/./../etc/passwd", Bad),
        ("/%2e%2e/etc/passwd", Bad),
        ("/%2E%2E/etc/passwd", Bad),
        ("/%2e./etc/passwd", Bad),
        ("/.%2e/etc/passwd", Bad),
        ("/..%2fetc/passwd", Bad),
        ("/..%2Fetc%2Fpasswd", Bad),
        ("/%2e%2e%2f%2e%2e%2fetc%2fpasswd", Bad),
        ("/a/%2e%2e/%2e%2e/b", Bad),
        ("/..%5cetc", Bad),
        ("/..\\etc", Bad),
        ("/a\\b", Bad),
        ("/%5c", Bad),
        ("/a%00.html", Bad),
        ("/a%00", Bad),
        ("/%0a", Bad),
        ("/%0d%0aSet-Cookie:x", Bad),
        ("/%7f", Bad),
        ("/%", Bad),
        ("/%2", Bad),
        ("/%zz", Bad),
        ("/%g0", Bad),
        ("/%c0%ae%c0%ae/etc/passwd", Bad),
        ("/%c0%af", Bad),
        ("/%e0%80%ae", Bad),
        ("/%ff", Bad),
        ("/%ed%a0%80", Bad),
        ("/a#frag", Bad),
        ("a", Bad),
        ("", Bad),
        ("?x=1", Dir("")),
        ("?", Dir("")),
        ("a?x", Bad),
        ("/.git/config", Hidden),
        ("/.env", Hidden),
        ("/a/.htpasswd", Hidden),
        ("/.%67it/config", Hidden),
        ("/%2egit/config", Hidden),
        ("/a/.hidden/", Hidden),
        ("/.well-known/security.txt", Path(".well-known/security.txt")),
        ("/a/.well-known/x", Hidden),
        ("/.well-known/.secret", Hidden),
        ("/x/..%2f.env", Hidden),
        ("/...", Hidden),
    ];

    #[test]
    fn adversarial_targets() {
        assert!(CASES.len() >= 50);
        for (target, want) in CASES {
            let got = match resolve_target(target, false) {
                Ok(r) if r.dir_form => Dir(Box::leak(r.path.into_owned().into_boxed_str())),
                Ok(r) => Path(Box::leak(r.path.into_owned().into_boxed_str())),
                Err(Reject::BadRequest(_)) => Bad,
                Err(Reject::Hidden) => Hidden,
            };
            assert_eq!(&got, want, "target {target:?}");
        }
    }

    /// The one-pass fast path gives what the full normalisation gives, on every target
    /// of up to 5 bytes over an alphabet of each kind of byte that matters.
    #[test]
    fn plain_fast_path_matches_normalise() {
        let alphabet = ["/", ".", "a", "%", "2", "e", "?", "#", "\\", " ", "\u{e9}", "~"];
        let mut plain = 0;
        let mut target = String::new();
        for len in 1..=5u32 {
            for mut n in 0..alphabet.len().pow(len) {
                target.clear();
                for _ in 0..len {
                    target.push_str(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                for dotfiles in [false, true] {
                    let full = split_target(&target).and_then(|(path, query)| normalise(path, query, dotfiles));
                    assert_eq!(resolve_target(&target, dotfiles), full, "{target:?}");
                }
                plain += usize::from(split_target(&target).is_ok_and(|(path, _)| is_plain(path)));
            }
        }
        assert!(plain > 10_000, "{plain} plain targets");
    }

    #[test]
    fn dotfiles_opt_in() {
        assert_eq!(resolve_target("/.env", true).unwrap().path, ".env");
        assert!(resolve_target("/../.env", true).is_err());
    }

    #[test]
    fn query_is_kept() {
        assert_eq!(resolve_target("/d?a=1&b", false).unwrap().query, Some("a=1&b"));
        assert_eq!(resolve_target("/d", false).unwrap().query, None);
        assert_eq!(resolve_target("?a=1", false).unwrap().query, Some("a=1"));
    }

    #[test]
    fn open_stays_beneath_the_root() {
        let base = std::env::temp_dir().join(format!("evserve-resolve-{}", std::process::id()));
        let root = base.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(base.join("secret"), b"secret").unwrap();
        std::fs::write(root.join("sub/file"), b"ok").unwrap();
        let _ = std::os::unix::fs::symlink("../secret", root.join("out"));
        let _ = std::os::unix::fs::symlink("/etc/passwd", root.join("abs"));
        let _ = std::os::unix::fs::symlink("sub/file", root.join("in"));
        let root_dir = File::open(&root).unwrap();
        let read = |f: io::Result<File>| f.and_then(std::io::read_to_string);
        assert_eq!(read(open_beneath(&root_dir, "sub/file")).unwrap(), "ok");
        assert_eq!(read(open_beneath(&root_dir, "in")).unwrap(), "ok");
        assert!(open_beneath(&root_dir, "out").is_err());
        assert!(open_beneath(&root_dir, "abs").is_err());
        assert!(open_beneath(&root_dir, "").unwrap().metadata().unwrap().is_dir());
        // The fallback refuses every symlink, inside or out.
        assert_eq!(read(open_nofollow_walk(&root_dir, "sub/file")).unwrap(), "ok");
        assert!(open_nofollow_walk(&root_dir, "in").is_err());
        assert!(open_nofollow_walk(&root_dir, "out").is_err());
        assert!(open_nofollow_walk(&root_dir, "").unwrap().metadata().unwrap().is_dir());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
