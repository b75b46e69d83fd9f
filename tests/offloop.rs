//! The loop never waits on a disk: each kind of blocking file work (an open, a re-check's
//! stat, a listing, a body's cold read) is held at the gate of a real FUSE filesystem
//! (`common::fuse::GateFs`) while another client is served from the cache, then released and
//! checked byte-exact. Also: a client that resets while its job is held, a file replaced
//! while its read is held, more held jobs than threads, and SIGTERM while a job is held.
//! No sleeps, no timing thresholds: the filesystem says when an operation is held.
mod common;

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::fuse::{GateFs, Op};
use common::*;

/// How long a test waits for the filesystem to report a held operation.
const WITHIN: Duration = Duration::from_secs(10);

/// Hot responses a client gets while a job is held: the loop is not waiting.
const HOT: usize = 1000;

fn gatefs_available() -> bool {
    match GateFs::available() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("skipped: {why}");
            false
        }
    }
}

/// evserve serving the mount; `extra` flags are added.
fn evserve_on(fs: &GateFs, extra: &[&str]) -> (Process, SocketAddr) {
    let mut args = vec![fs.path().to_str().unwrap(), "--port", "0", "--bind", "127.0.0.1"];
    args.extend_from_slice(extra);
    let p = Process::spawn(&args);
    let addr = p.addr.unwrap_or_else(|| panic!("evserve did not start: {:?}", p.first_line));
    (p, addr)
}

/// A keep-alive client of `/hot.txt`, warmed so the file is in the server's cache.
struct Hot(BufReader<TcpStream>);

impl Hot {
    fn new(addr: SocketAddr) -> Hot {
        let mut hot = Hot(BufReader::new(connect(addr)));
        hot.serve(1);
        hot
    }

    /// `n` requests, each answered from the cache while something else is held.
    fn serve(&mut self, n: usize) {
        for i in 0..n {
            self.0.get_mut().write_all(b"GET /hot.txt HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
            let r = read_response(&mut self.0, false);
            assert_eq!((r.status, r.body.as_slice()), (200, &b"hot and cached"[..]), "hot response {i}");
        }
    }
}

/// A request sent on its own connection, its answer read later.
fn ask(addr: SocketAddr, target: &str) -> BufReader<TcpStream> {
    let mut c = BufReader::new(connect(addr));
    c.get_mut().write_all(format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes()).unwrap();
    c
}

fn site() -> Fixture {
    let fx = Fixture::new();
    fx.file("hot.txt", "hot and cached");
    fx
}

#[test]
fn a_held_open_does_not_stop_the_loop() {
    if !gatefs_available() {
        return;
    }
    let fx = site();
    fx.file("new.txt", "opened at last");
    let fs = GateFs::mount(&fx.root());
    let (_p, addr) = evserve_on(&fs, &[]);
    let mut hot = Hot::new(addr);
    fs.hold(Op::Open, "/new.txt");
    let mut waiting = ask(addr, "/new.txt");
    assert!(fs.wait_held(Op::Open, "/new.txt", WITHIN), "evserve never opened the file");
    hot.serve(HOT);
    fs.release(Op::Open, "/new.txt");
    let r = read_response(&mut waiting, false);
    assert_eq!((r.status, r.text().as_str()), (200, "opened at last"));
}

#[test]
fn a_held_re_check_does_not_stop_the_loop() {
    if !gatefs_available() {
        return;
    }
    let fx = site();
    fx.file("a.txt", "checked");
    let fs = GateFs::mount(&fx.root());
    // A TTL of 0: every request re-checks its file with a stat.
    let (_p, addr) = evserve_on(&fs, &["--cache-ttl", "0"]);
    let mut hot = Hot::new(addr);
    let (r, _) = send_raw(addr, b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 200);
    fs.hold(Op::Getattr, "/a.txt");
    let mut waiting = ask(addr, "/a.txt");
    assert!(fs.wait_held(Op::Getattr, "/a.txt", WITHIN), "evserve never re-checked the file");
    hot.serve(HOT);
    fs.release(Op::Getattr, "/a.txt");
    assert_eq!(read_response(&mut waiting, false).text(), "checked");
}

#[test]
fn a_held_listing_does_not_stop_the_loop() {
    if !gatefs_available() {
        return;
    }
    let fx = site();
    fx.file("dir/one.txt", "1");
    fx.file("dir/two.txt", "2");
    let fs = GateFs::mount(&fx.root());
    let (_p, addr) = evserve_on(&fs, &["--listing"]);
    let mut hot = Hot::new(addr);
    fs.hold(Op::Readdir, "/dir");
    let mut waiting = ask(addr, "/dir/");
    assert!(fs.wait_held(Op::Readdir, "/dir", WITHIN), "evserve never listed the folder");
    hot.serve(HOT);
    fs.release(Op::Readdir, "/dir");
    let r = read_response(&mut waiting, false);
    assert_eq!(r.status, 200);
    assert!(r.text().contains("one.txt") && r.text().contains("two.txt"), "{}", r.text());
}

#[test]
fn a_client_that_resets_while_its_read_is_held_costs_nothing() {
    if !gatefs_available() {
        return;
    }
    let fx = site();
    let cold = Rng::new(7).bytes(1 << 20);
    fx.file("cold.bin", &cold);
    let fs = GateFs::mount(&fx.root());
    let (_p, addr) = evserve_on(&fs, &[]);
    let mut hot = Hot::new(addr);
    fs.hold(Op::Read, "/cold.bin");
    let gone = ask(addr, "/cold.bin");
    assert!(fs.wait_held(Op::Read, "/cold.bin", WITHIN));
    // A reset, not a close: linger 0.
    let socket = gone.into_inner();
    rustix::net::sockopt::set_socket_linger(&socket, Some(Duration::ZERO)).unwrap();
    drop(socket);
    hot.serve(HOT);
    fs.release(Op::Read, "/cold.bin");
    // The late reads find their connection gone; the next download is whole.
    let (r, _) = send_raw(addr, b"GET /cold.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(r.status == 200 && r.body == cold, "a later download differs");
    hot.serve(1);
}

#[test]
fn a_file_replaced_while_its_read_is_held_is_sent_whole_and_old() {
    if !gatefs_available() {
        return;
    }
    let fx = site();
    let old = Rng::new(8).bytes(1 << 20);
    let new = Rng::new(9).bytes(1 << 20);
    fx.file("f.bin", &old);
    let fs = GateFs::mount(&fx.root());
    let (_p, addr) = evserve_on(&fs, &[]);
    fs.hold(Op::Read, "/f.bin");
    let mut waiting = ask(addr, "/f.bin");
    assert!(fs.wait_held(Op::Read, "/f.bin", WITHIN));
    // A deploy's atomic replace: the open file keeps its bytes.
    let staged = fx.file("f.bin.tmp", &new);
    std::fs::rename(staged, fx.root().join("f.bin")).unwrap();
    fs.release(Op::Read, "/f.bin");
    let r = read_response(&mut waiting, false);
    assert_eq!(r.status, 200);
    assert!(r.body == old, "not the file that was opened: {} bytes", r.body.len());
}

#[test]
fn more_held_jobs_than_threads_queue_and_all_finish() {
    if !gatefs_available() {
        return;
    }
    let fx = site();
    for i in 0..4 {
        fx.file(&format!("x{i}.txt"), format!("x{i}"));
    }
    let fs = GateFs::mount(&fx.root());
    let (_p, addr) = evserve_on(&fs, &["--io-threads", "2"]);
    let mut hot = Hot::new(addr);
    fs.hold(Op::Open, "~/x");
    let mut waiting: Vec<_> = (0..4).map(|i| ask(addr, &format!("/x{i}.txt"))).collect();
    assert!(eventually(WITHIN, || (0..4).map(|i| fs.stat(Op::Open, &format!("/x{i}.txt")).held).sum::<u64>() == 2));
    hot.serve(HOT); // Cached: never touches the pool.
    fs.release(Op::Open, "~/x");
    for (i, c) in waiting.iter_mut().enumerate() {
        assert_eq!(read_response(c, false).text(), format!("x{i}"));
    }
}

#[test]
fn sigterm_while_a_read_is_held_drains_the_download_then_exits_0() {
    if !gatefs_available() {
        return;
    }
    let fx = site();
    let cold = Rng::new(10).bytes(1 << 20);
    fx.file("cold.bin", &cold);
    let fs = GateFs::mount(&fx.root());
    let (p, addr) = evserve_on(&fs, &["--drain-timeout", "60"]);
    fs.hold(Op::Read, "/cold.bin");
    let mut waiting = ask(addr, "/cold.bin");
    assert!(fs.wait_held(Op::Read, "/cold.bin", WITHIN));
    p.signal(libc::SIGTERM);
    // Still draining: the download is in flight. Released, it completes.
    fs.release(Op::Read, "/cold.bin");
    let r = read_response(&mut waiting, false);
    assert!(r.status == 200 && r.body == cold);
    drop(waiting);
    let (status, _) = p.wait(Duration::from_secs(20));
    assert_eq!(status, Some(0));
}
