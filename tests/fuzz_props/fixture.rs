//! The fixture: a root with files, folders, sidecars, dotfiles and symlinks, and a secret
//! next to it that no response may ever contain.
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use evserve::http::date::DateCache;

/// The content of the secret files outside the root. Control bytes make it impossible for
/// the server to echo it legitimately (a `Location` is re-encoded, a query keeps only
/// visible ASCII), so seeing it in the output always means a file outside the root leaked.
pub const MARKER: &[u8] = b"\x00\x01EVSERVE-SECRET-7c1e\x02\xff";

/// The files whose ETag and Last-Modified the generator uses in conditional requests.
const VALIDATED: [&str; 5] = ["index.html", "a.js", "docs/guide.txt", "big.bin", "a.js.gz"];

pub struct Fixture {
    pub base: PathBuf,
    pub root: PathBuf,
    /// ETags of some files (identity and gzip), for conditional requests that match.
    pub etags: Vec<String>,
    /// Last-Modified dates of some files.
    pub dates: Vec<String>,
}

impl Fixture {
    /// Builds the fixture under the temp dir; `tag` keeps parallel tests apart.
    pub fn create(tag: &str) -> Fixture {
        let base = std::env::temp_dir().join(format!("evserve-fuzz-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        write_site(&root);
        write_secrets(&base);
        link_tricks(&base, &root);
        let (etags, dates) = validators(&root);
        Fixture { base, root, etags, dates }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// Writes `data` at `root/rel` with a fixed modification time: that keeps ETags and dates,
/// and so every generated input, the same from run to run.
fn write(root: &Path, rel: &str, data: &[u8]) {
    let mtime = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, data).unwrap();
    std::fs::File::options().write(true).open(&p).unwrap().set_modified(mtime).unwrap();
}

/// The served files: pages, sidecars, an empty file, nested folders, a folder without an
/// index, large files, dotfiles, and names that need percent-encoding.
fn write_site(root: &Path) {
    let w = |rel: &str, data: &[u8]| write(root, rel, data);
    w("index.html", b"<!DOCTYPE html><title>home</title><p>index</p>\n");
    w("404.html", b"<!DOCTYPE html><title>custom 404</title>\n");
    w("a.js", &b"console.log('a');\n".repeat(40));
    w("a.js.gz", b"GZIP-SIDECAR-BYTES");
    w("a.js.br", b"BROTLI-SIDECAR-BYTES");
    w("style.css", b"body { color: red }\n");
    w("empty.txt", b"");
    w("docs/index.html", b"<p>docs</p>\n");
    w("docs/guide.txt", &b"guide line\n".repeat(30));
    w("docs/deep/nested/file.bin", &(1..=255u8).collect::<Vec<_>>());
    w("noindex/one.txt", b"one\n");
    w("noindex/two.json", b"{\"two\":2}\n");
    let pattern: Vec<u8> = (0..40_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    w("big.bin", &pattern);
    let huge: Vec<u8> = (0..2_200_000u32).map(|i| b'A' + (i % 23) as u8).collect();
    w("huge.bin", &huge);
    w(".git/config", b"[core]\n\trepositoryformatversion = 0\n");
    w(".env", b"HIDDEN=1\n");
    w(".well-known/security.txt", b"Contact: mailto:x@example.com\n");
    w("sp ace.txt", b"space\n");
    w("caf\u{e9}.txt", b"cafe\n");
    w("100%.txt", b"percent\n");
    w("a%2fb.txt", b"literal percent-2f\n");
}

/// The secrets, outside the root: a file, and a folder with an index.
fn write_secrets(base: &Path) {
    let mut secret = b"secret file: ".to_vec();
    secret.extend_from_slice(&MARKER.repeat(4));
    std::fs::write(base.join("secret.txt"), &secret).unwrap();
    std::fs::create_dir_all(base.join("outside")).unwrap();
    std::fs::write(base.join("outside/inner.txt"), &secret).unwrap();
    std::fs::write(base.join("outside/index.html"), &secret).unwrap();
}

/// Symlinks out of the root (relative, absolute, to a folder), inside it, a loop, a
/// dangling one, and a FIFO.
fn link_tricks(base: &Path, root: &Path) {
    let link = |to: &str, at: &str| {
        let _ = std::os::unix::fs::symlink(to, root.join(at));
    };
    link("../secret.txt", "leak");
    link(base.join("secret.txt").to_str().unwrap(), "abs-leak");
    link("..", "up");
    link("../outside", "outdir");
    link("docs/guide.txt", "inner");
    link("../index.html", "docs/back");
    link("loop", "loop");
    link("nowhere", "dangling");
    let _ = std::process::Command::new("mkfifo").arg(root.join("fifo")).stderr(std::process::Stdio::null()).status();
}

/// The ETags and Last-Modified dates of `VALIDATED`, as the server renders them.
fn validators(root: &Path) -> (Vec<String>, Vec<String>) {
    let mut etags = Vec::new();
    let mut dates = Vec::new();
    for rel in VALIDATED {
        let meta = std::fs::metadata(root.join(rel)).unwrap();
        let modified: SystemTime = meta.modified().unwrap();
        let coding = rel.ends_with(".gz").then_some(evserve::http::files::Coding::Gzip);
        etags.push(evserve::http::files::etag(meta.len(), modified, coding));
        let mut d = DateCache::default();
        d.update(modified);
        dates.push(d.get().to_string());
    }
    (etags, dates)
}
