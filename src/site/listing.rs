//! Folder listings (`--listing`): an HTML page for people, JSON for scripts. Names are
//! HTML/JSON-escaped and links percent-encoded, so a hostile file name is shown, never run.
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, FileType};

use crate::fs::cache::{FileCache, Identity};
use crate::fs::resolve::open_beneath;
use crate::http::files::media_type;
use crate::util::text::encode_path;
use crate::util::text::{list_items, trim_ows};

/// A folder with more entries than this is listed in part (and says so): the listing is
/// built in memory, so its size must be bounded.
pub const MAX_ENTRIES: usize = 10_000;

/// Listings kept for the folder's version they show (its identity as the file cache last
/// saw it: a folder's modification time changes with its entries), so a repeated request
/// for a listing costs what a cached file does. Bounded in bytes; when full, an arbitrary
/// listing goes (the hash order picks it).
#[derive(Debug, Default)]
pub(crate) struct Kept {
    /// (folder, JSON or not) -> the folder's version shown, and the page.
    pages: HashMap<(String, bool), Shown>,
    bytes: usize,
}

/// A kept page and the folder version it shows.
type Shown = (Identity, Arc<[u8]>);

/// The most bytes of listings kept (a listing is at most `MAX_ENTRIES` lines).
const KEPT_BYTES: usize = 8 * 1024 * 1024;

impl Kept {
    /// The page for `rel` (HTML or JSON) if it shows the folder's current version.
    pub(crate) fn find(&self, cache: &FileCache, rel: &str, json: bool) -> Option<Arc<[u8]>> {
        let (shown, page) = self.pages.get(&(rel.to_string(), json))?;
        (cache.identity(rel) == Some(*shown)).then(|| page.clone())
    }

    /// Keeps `page`, a listing of `rel` made just now, for the folder's version the cache knows.
    pub(crate) fn keep(&mut self, cache: &FileCache, rel: String, json: bool, page: Arc<[u8]>) {
        let Some(identity) = cache.identity(&rel) else { return };
        if page.len() > KEPT_BYTES {
            return;
        }
        while self.bytes + page.len() > KEPT_BYTES {
            let Some(key) = self.pages.keys().next().cloned() else { break };
            if let Some((_, old)) = self.pages.remove(&key) {
                self.bytes -= old.len();
            }
        }
        self.bytes += page.len();
        if let Some((_, old)) = self.pages.insert((rel, json), (identity, page)) {
            self.bytes -= old.len();
        }
    }
}

/// One listed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
    pub size: u64,
    pub modified: SystemTime,
}

/// True when `Accept` names `application/json` with a non-zero q (whatever else it names).
pub fn wants_json(accept: &[u8]) -> bool {
    list_items(accept).any(|item| {
        let mut parts = item.split(|&b| b == b';');
        let essence = trim_ows(parts.next().unwrap_or_default());
        essence.eq_ignore_ascii_case(b"application/json")
            && !parts.any(|p| {
                let p = trim_ows(p);
                p.len() > 2 && p[..2].eq_ignore_ascii_case(b"q=") && p[2..].iter().all(|&b| b == b'0' || b == b'.')
            })
    })
}

/// Reads the folder (dotfiles left out unless `dotfiles`) and renders it.
pub fn render(dir: File, path: &str, dotfiles: bool, json: bool) -> io::Result<Vec<u8>> {
    let (mut entries, truncated) = read_entries(&dir, dotfiles)?;
    entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
    Ok(if json { to_json(&entries) } else { to_html(path, &entries, truncated) })
}

fn read_entries(dir: &File, dotfiles: bool) -> io::Result<(Vec<Entry>, bool)> {
    let mut entries = Vec::new();
    let mut reader = rustix::fs::Dir::read_from(dir)?;
    while let Some(item) = reader.read() {
        let item = item?;
        let Ok(name) = item.file_name().to_str() else { continue };
        if name == "." || name == ".." || (!dotfiles && name.starts_with('.')) {
            continue;
        }
        if entries.len() == MAX_ENTRIES {
            return Ok((entries, true));
        }
        // A symlink is described by what it points to, found by the same confined open as
        // serving uses (here: beneath the listed folder), so nothing outside leaks its size
        // or date; a dangling or escaping link is left out.
        let Ok(mut st) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) else { continue };
        if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
            let Ok(target) = open_beneath(dir, name) else { continue };
            let Ok(target_st) = rustix::fs::fstat(&target) else { continue };
            st = target_st;
        }
        let kind = FileType::from_raw_mode(st.st_mode);
        if kind != FileType::Directory && kind != FileType::RegularFile {
            continue;
        }
        let modified = UNIX_EPOCH + Duration::new(st.st_mtime.max(0) as u64, st.st_mtime_nsec as u32);
        entries.push(Entry {
            name: name.to_string(),
            is_dir: kind == FileType::Directory,
            size: st.st_size as u64,
            modified,
        });
    }
    Ok((entries, false))
}

/// The HTML page: a table of names, sizes and dates.
pub fn to_html(path: &str, entries: &[Entry], truncated: bool) -> Vec<u8> {
    let title = format!("Index of /{}", if path.is_empty() { String::new() } else { format!("{path}/") });
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif}}td{{padding:0 1em}}</style></head>\n<body><h1>{t}</h1>\n<table>\n\
         <tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n",
        t = escape_html(&title)
    );
    if !path.is_empty() {
        html.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for e in entries {
        let mut href = String::new();
        encode_path(&e.name, &mut href);
        let slash = if e.is_dir { "/" } else { "" };
        let size = if e.is_dir { "-".to_string() } else { e.size.to_string() };
        html.push_str(&format!(
            "<tr><td><a href=\"./{}{slash}\">{}{slash}</a></td><td>{size}</td><td>{}</td></tr>\n",
            escape_html(&href),
            escape_html(&e.name),
            httpdate::fmt_http_date(e.modified)
        ));
    }
    html.push_str("</table>\n");
    if truncated {
        html.push_str(&format!("<p>Only the first {MAX_ENTRIES} entries are listed.</p>\n"));
    }
    html.push_str("</body></html>\n");
    html.into_bytes()
}

/// The JSON form: `[{"name":…,"type":"file"|"dir","size":…,"modified":…,"mime":…}]`.
pub fn to_json(entries: &[Entry]) -> Vec<u8> {
    let none = Default::default();
    let items: Vec<String> = entries
        .iter()
        .map(|e| {
            let kind = if e.is_dir { "dir" } else { "file" };
            let mime = if e.is_dir { "inode/directory" } else { media_type(&e.name, &none).essence };
            format!(
                "{{\"name\":{},\"type\":\"{kind}\",\"size\":{},\"modified\":\"{}\",\"mime\":\"{mime}\"}}",
                escape_json(&e.name),
                e.size,
                httpdate::fmt_http_date(e.modified)
            )
        })
        .collect();
    format!("[{}]\n", items.join(",")).into_bytes()
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn escape_json(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, is_dir: bool) -> Entry {
        Entry { name: name.into(), is_dir, size: 3, modified: UNIX_EPOCH }
    }

    #[test]
    fn hostile_names_are_escaped() {
        let html = String::from_utf8(to_html("d", &[entry("<script>\"a b&.html", false)], false)).unwrap();
        assert!(html.contains("href=\"./%3Cscript%3E%22a%20b&amp;.html\""));
        assert!(html.contains(">&lt;script&gt;&quot;a b&amp;.html<"));
        assert!(!html.contains("<script>"));
        let json = String::from_utf8(to_json(&[entry("q\"\\\n", false)])).unwrap();
        assert!(json.contains(r#""name":"q\"\\\u000a""#));
    }

    #[test]
    fn json_negotiation() {
        assert!(wants_json(b"application/json"));
        assert!(wants_json(b"text/html;q=0.5, Application/JSON"));
        assert!(!wants_json(b"application/json;q=0"));
        assert!(!wants_json(b"text/html,*/*"));
    }

    #[test]
    fn folders_link_with_a_slash() {
        let html = String::from_utf8(to_html("", &[entry("sub", true)], false)).unwrap();
        assert!(html.contains("<a href=\"./sub/\">sub/</a>"));
        assert!(!html.contains("../"));
    }
}
