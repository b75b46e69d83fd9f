//! Deploys that swap the root: the path given on the command line is re-resolved at most
//! once per `--cache-ttl`, so a flipped `current -> releases/N` symlink or a folder renamed
//! away and replaced is served from at once, while responses in flight finish from the
//! files they already opened, and no cached entry of the old tree is served from the new.
mod common;

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

/// How long a deploy may take to show: generous, since the machine is shared.
const PICKUP: Duration = Duration::from_secs(10);

/// A small TTL, so the root is re-resolved within the test's retry loop.
const TTL: Duration = Duration::from_millis(50);

/// Size of the file downloaded across a swap: far more than the socket buffers hold, so
/// most of it is still to be read from the file when the root changes.
const BIG: usize = 16 * 1024 * 1024;

/// The large file's bytes in release `n`: every release's differ at every offset.
fn big(n: u8) -> Vec<u8> {
    (0..BIG).map(|i| (i % 251) as u8 ^ n).collect()
}

/// Creates `releases/N` beside the fixture's root with `files` in it.
fn release(fx: &Fixture, n: u8, files: &[(&str, &[u8])]) -> PathBuf {
    let dir = fx.path.join(format!("releases/{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    for (rel, contents) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
    }
    dir
}

/// Points the symlink `link` at `target` atomically, as `ln -sfn target tmp && mv -T tmp
/// link` does: the new link is made under a temporary name and renamed over the old one.
fn point(link: &Path, target: &str) {
    let tmp = link.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    std::fs::rename(&tmp, link).unwrap();
}

/// `GET target` on a fresh connection: status and body.
fn get(srv: &TestServer, target: &str) -> (u16, String) {
    let r = srv.get(&format!("GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"));
    (r.status, r.text())
}

/// Asks for `/` until it answers `want`; every answer on the way must be a 200 from one
/// tree or the other (`or`), never an error.
fn wait_for_index(srv: &TestServer, or: &str, want: &str) {
    let picked_up = eventually(PICKUP, || {
        let (status, body) = get(srv, "/");
        assert_eq!(status, 200, "no error while the root changes");
        assert!(body == or || body == want, "unexpected index {body:?}");
        body == want
    });
    assert!(picked_up, "the new root was not picked up within {PICKUP:?}");
}

/// Sends `GET target` and reads the head and the first `first` body bytes, leaving the
/// rest unread (a slow client). Returns the reader and the Content-Length.
fn start_download(srv: &TestServer, target: &str, first: &mut [u8]) -> (BufReader<std::net::TcpStream>, usize) {
    let mut s = srv.connect();
    s.write_all(format!("GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let (status, len) = read_head(&mut r);
    assert_eq!(status, 200, "GET {target}");
    r.read_exact(first).unwrap();
    (r, len as usize)
}

#[test]
fn symlink_swap_is_picked_up_and_downloads_in_flight_finish_from_the_old_release() {
    let fx = Fixture::new();
    let one = big(1);
    release(&fx, 1, &[("index.html", b"one"), ("big.bin", &one)]);
    release(&fx, 2, &[("index.html", b"two"), ("big.bin", &big(2))]);
    let current = fx.path.join("current");
    point(&current, "releases/1");
    let srv = TestServer::with(&current, |c| c.cache_ttl = TTL);
    assert_eq!(get(&srv, "/"), (200, "one".to_string()));

    let mut first = vec![0u8; 64 * 1024];
    let (mut download, len) = start_download(&srv, "/big.bin", &mut first);
    assert_eq!(len, BIG);
    point(&current, "releases/2");
    wait_for_index(&srv, "one", "two");
    let fresh = srv.get("GET /big.bin HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    assert!(fresh.body == big(2), "a download started after the swap is release 2");
    // Deploy tools then delete old releases; the open file outlives its name.
    std::fs::remove_dir_all(fx.path.join("releases/1")).unwrap();

    let mut rest = Vec::with_capacity(BIG);
    download.read_to_end(&mut rest).unwrap();
    first.extend_from_slice(&rest);
    assert_eq!(first.len(), BIG, "the download in flight is complete");
    assert!(first == one, "the download in flight is release 1, byte for byte");
}

#[test]
fn a_folder_renamed_away_and_replaced_is_picked_up() {
    let fx = Fixture::new();
    fx.file("index.html", "old");
    let srv = TestServer::with(&fx.root(), |c| c.cache_ttl = TTL);
    assert_eq!(get(&srv, "/"), (200, "old".to_string()));
    // mv site site.old; mkdir site; (new contents)
    std::fs::rename(fx.root(), fx.path.join("root.old")).unwrap();
    std::fs::create_dir(fx.root()).unwrap();
    fx.file("index.html", "new");
    wait_for_index(&srv, "old", "new");
}

#[test]
fn the_cache_does_not_mix_trees() {
    let fx = Fixture::new();
    release(&fx, 1, &[("index.html", b"one"), ("only-old.txt", b"old"), ("docs/page.txt", b"p")]);
    release(&fx, 2, &[("index.html", b"two"), ("docs/index.html", b"new docs")]);
    let current = fx.path.join("current");
    point(&current, "releases/1");
    let srv = TestServer::with(&current, |c| c.cache_ttl = TTL);
    assert_eq!(get(&srv, "/only-old.txt"), (200, "old".to_string()));
    assert_eq!(get(&srv, "/docs/").0, 404, "release 1's docs/ has no index");
    point(&current, "releases/2");
    wait_for_index(&srv, "one", "two");
    assert_eq!(get(&srv, "/only-old.txt").0, 404, "a file only in the old tree is gone");
    assert_eq!(get(&srv, "/docs/"), (200, "new docs".to_string()), "the new tree's folder index is used");
    assert_eq!(get(&srv, "/docs/page.txt").0, 404);
}

#[test]
fn a_root_missing_mid_deploy_keeps_the_old_tree_and_says_so_once() {
    let fx = Fixture::new();
    release(&fx, 1, &[("index.html", b"one")]);
    release(&fx, 2, &[("index.html", b"two")]);
    let current = fx.path.join("current");
    point(&current, "releases/1");
    // The binary, so its stderr can be read: the messages are part of the behaviour.
    let p = Process::spawn(&[current.to_str().unwrap(), "--port", "0", "--bind", "127.0.0.1", "--cache-ttl", "0"]);
    let addr = p.addr.unwrap_or_else(|| panic!("evserve did not start: {:?}", p.first_line));
    let index = || {
        let mut s = connect(addr);
        s.write_all(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
        let r = read_response(&mut BufReader::new(s), false);
        (r.status, r.text())
    };
    assert_eq!(index(), (200, "one".to_string()));

    // Missing, then a regular file: one episode, the old tree served throughout.
    std::fs::remove_file(&current).unwrap();
    for _ in 0..10 {
        assert_eq!(index(), (200, "one".to_string()), "path missing: the old tree is served");
    }
    std::fs::write(&current, "not a folder").unwrap();
    for _ in 0..10 {
        assert_eq!(index(), (200, "one".to_string()), "path not a folder: the old tree is served");
    }
    point(&current, "releases/2");
    assert_eq!(index(), (200, "two".to_string()), "with --cache-ttl 0 the next request sees the new root");

    p.signal(15);
    let (code, stderr) = p.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{stderr}");
    let said = |what: &str| stderr.lines().filter(|l| l.contains(what)).count();
    assert_eq!(said("still serving the folder it named before"), 1, "one line per episode:\n{stderr}");
    let changed = format!("evserve: root {} now resolves to a new folder", current.display());
    assert_eq!(said(&changed), 1, "{stderr}");
}
