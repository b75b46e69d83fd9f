//! The gated filesystem of the tests (`tests/fusefs/gatefs.c`, `common::fuse::GateFs`)
//! checked on its own, then with evserve serving it. Skipped with a message where FUSE,
//! fusermount3, gcc or libfuse3's headers are missing. No sleeps and no timing thresholds:
//! a held operation is known to be held because the filesystem says so, and a cached re-read
//! is known to be cached because it completes while its path's reads are held.
mod common;

use std::io::{BufReader, Write};
use std::path::Path;
use std::sync::mpsc::{self, TryRecvError};
use std::time::Duration;

use common::fuse::{GateFs, Op};
use common::*;

/// How long a test waits for the filesystem to report a held operation, or for a released
/// one to finish.
const WITHIN: Duration = Duration::from_secs(10);

/// The gated filesystem, or None after printing why the test is skipped.
fn gatefs_available() -> bool {
    match GateFs::available() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("skipped: {why}");
            false
        }
    }
}

/// Reads `path` on a thread of its own: the result arrives on the channel.
fn read_in_thread(path: &Path) -> mpsc::Receiver<std::io::Result<Vec<u8>>> {
    let (tx, rx) = mpsc::channel();
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::read(path));
    });
    rx
}

#[test]
fn the_mount_mirrors_the_backing_folder_byte_exact() {
    if !gatefs_available() {
        return;
    }
    let fx = Fixture::new();
    let big = Rng::new(1).bytes(300_000);
    fx.file("big.bin", &big);
    fx.file("dir/small.txt", "small");
    std::os::unix::fs::symlink("small.txt", fx.root().join("dir/link")).unwrap();
    let fs = GateFs::mount(&fx.root());
    let m = fs.path();

    assert_eq!(std::fs::read(m.join("big.bin")).unwrap(), big);
    assert_eq!(std::fs::read(m.join("dir/small.txt")).unwrap(), b"small");
    assert_eq!(std::fs::read(m.join("dir/link")).unwrap(), b"small");
    assert_eq!(std::fs::read_link(m.join("dir/link")).unwrap(), Path::new("small.txt"));
    assert_eq!(std::fs::metadata(m.join("big.bin")).unwrap().len(), 300_000);
    assert!(std::fs::metadata(m.join("dir")).unwrap().is_dir());
    let mut names: Vec<String> =
        std::fs::read_dir(m.join("dir")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["link", "small.txt"]);
    assert_eq!(std::fs::metadata(m.join("missing")).unwrap_err().kind(), std::io::ErrorKind::NotFound);

    // A change in the backing folder shows at once: nothing about names or attributes is
    // cached, and a new size drops the cached pages.
    fx.file("dir/small.txt", "changed, and longer");
    fx.file("new.txt", "new");
    assert_eq!(std::fs::read(m.join("dir/small.txt")).unwrap(), b"changed, and longer");
    assert_eq!(std::fs::read(m.join("new.txt")).unwrap(), b"new");
    std::fs::remove_file(fx.root().join("new.txt")).unwrap();
    assert!(!m.join("new.txt").exists());

    // Writes pass through to the backing folder.
    std::fs::write(m.join("written.txt"), "through the mount").unwrap();
    assert_eq!(std::fs::read(fx.root().join("written.txt")).unwrap(), b"through the mount");
    std::fs::rename(m.join("written.txt"), m.join("renamed.txt")).unwrap();
    assert_eq!(std::fs::read(fx.root().join("renamed.txt")).unwrap(), b"through the mount");
    std::fs::remove_file(m.join("renamed.txt")).unwrap();
    assert!(!fx.root().join("renamed.txt").exists());
}

#[test]
fn a_held_read_blocks_its_reader_until_release_while_other_files_are_read() {
    if !gatefs_available() {
        return;
    }
    let fx = Fixture::new();
    let cold = Rng::new(2).bytes(200_000);
    let other = Rng::new(3).bytes(100_000);
    fx.file("cold.bin", &cold);
    fx.file("other.bin", &other);
    let fs = GateFs::mount(&fx.root());

    fs.hold(Op::Read, "/cold.bin");
    let reader = read_in_thread(&fs.path().join("cold.bin"));
    assert!(fs.wait_held(Op::Read, "/cold.bin", WITHIN), "the read never reached the gate");
    // It is at the gate, so its reader cannot have finished.
    assert_eq!(reader.try_recv().unwrap_err(), TryRecvError::Empty);
    assert!(fs.stat(Op::Read, "/cold.bin").held >= 1);

    // Meanwhile another file on the same mount reads in full: the filesystem is
    // multithreaded, and one held operation holds up only itself.
    assert_eq!(std::fs::read(fs.path().join("other.bin")).unwrap(), other);
    assert_eq!(fs.stat(Op::Read, "/other.bin").held, 0);
    assert_eq!(reader.try_recv().unwrap_err(), TryRecvError::Empty, "the held read finished before its release");

    fs.release(Op::Read, "/cold.bin");
    let got = reader.recv_timeout(WITHIN).expect("the released read did not finish").unwrap();
    assert_eq!(got, cold);
    assert_eq!(fs.stat(Op::Read, "/cold.bin").held, 0);
}

#[test]
fn many_held_reads_do_not_stop_the_rest_of_the_mount() {
    if !gatefs_available() {
        return;
    }
    // More than libfuse's default of 10 worker threads, and than the kernel's default of 12
    // background (readahead) requests.
    const HELD: usize = 16;
    let fx = Fixture::new();
    for i in 0..HELD {
        fx.file(&format!("held/{i}.bin"), Rng::new(i as u64).bytes(64 * 1024));
    }
    fx.file("free.txt", "free");
    let fs = GateFs::mount(&fx.root());
    fs.hold(Op::Read, "~/held/");
    let readers: Vec<_> = (0..HELD).map(|i| read_in_thread(&fs.path().join(format!("held/{i}.bin")))).collect();
    for i in 0..HELD {
        assert!(fs.wait_held(Op::Read, &format!("/held/{i}.bin"), WITHIN), "read {i} never reached the gate");
    }
    assert_eq!(std::fs::read(fs.path().join("free.txt")).unwrap(), b"free");
    assert!(readers.iter().all(|r| r.try_recv().unwrap_err() == TryRecvError::Empty));
    fs.release(Op::Read, "~/held/");
    for (i, r) in readers.iter().enumerate() {
        let got = r.recv_timeout(WITHIN).expect("a released read did not finish").unwrap();
        assert_eq!(got, Rng::new(i as u64).bytes(64 * 1024), "file {i}");
    }
}

#[test]
fn opens_stats_and_listings_have_gates_of_their_own() {
    if !gatefs_available() {
        return;
    }
    let fx = Fixture::new();
    fx.file("o.txt", "opened");
    fx.file("g.txt", "stated");
    fx.file("d/inside.txt", "listed");
    let fs = GateFs::mount(&fx.root());
    let m = fs.path().to_path_buf();

    fs.hold(Op::Open, "/o.txt");
    let opener = read_in_thread(&m.join("o.txt"));
    assert!(fs.wait_held(Op::Open, "/o.txt", WITHIN));
    assert_eq!(opener.try_recv().unwrap_err(), TryRecvError::Empty);
    // A stat of the same path is not an open: it goes through.
    assert_eq!(std::fs::metadata(m.join("o.txt")).unwrap().len(), 6);
    fs.release(Op::Open, "/o.txt");
    assert_eq!(opener.recv_timeout(WITHIN).unwrap().unwrap(), b"opened");

    fs.hold(Op::Getattr, "~g.t");
    let (tx, stater) = mpsc::channel();
    let path = m.join("g.txt");
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::metadata(path).map(|meta| meta.len()));
    });
    assert!(fs.wait_held(Op::Getattr, "/g.txt", WITHIN));
    assert_eq!(stater.try_recv().unwrap_err(), TryRecvError::Empty);
    fs.release(Op::Getattr, "~g.t");
    assert_eq!(stater.recv_timeout(WITHIN).unwrap().unwrap(), 6);

    fs.hold(Op::Readdir, "/d");
    let (tx, lister) = mpsc::channel();
    let dir = m.join("d");
    std::thread::spawn(move || {
        let names: std::io::Result<Vec<_>> =
            std::fs::read_dir(dir).and_then(|d| d.map(|e| e.map(|e| e.file_name())).collect());
        let _ = tx.send(names);
    });
    assert!(fs.wait_held(Op::Readdir, "/d", WITHIN));
    assert_eq!(lister.try_recv().unwrap_err(), TryRecvError::Empty);
    // `release all` lets it go as well.
    fs.release_all();
    assert_eq!(lister.recv_timeout(WITHIN).unwrap().unwrap(), ["inside.txt"]);
}

#[test]
fn the_delay_applies_to_a_cold_read_and_not_to_a_hot_re_read() {
    if !gatefs_available() {
        return;
    }
    let fx = Fixture::new();
    let data = Rng::new(4).bytes(256 * 1024);
    fx.file("cold.bin", &data);
    let fs = GateFs::mount(&fx.root());
    fs.set_delay(Op::Read, 20);

    // Cold (not read since the mount): the reads reach the filesystem and each is delayed.
    assert_eq!(fs.stat(Op::Read, "/cold.bin"), Default::default());
    assert_eq!(std::fs::read(fs.path().join("cold.bin")).unwrap(), data);
    let after_cold = fs.stat(Op::Read, "/cold.bin");
    assert!(after_cold.arrived >= 1, "{after_cold:?}");
    assert_eq!(after_cold.delayed, after_cold.arrived, "{after_cold:?}");

    // Hot: the same range again comes from the page cache. It never reaches the filesystem,
    // so no delay, and it completes even while every read of the path is held.
    fs.hold(Op::Read, "/cold.bin");
    let again = read_in_thread(&fs.path().join("cold.bin"));
    let got = again.recv_timeout(WITHIN).expect("a cached re-read waited at the gate").unwrap();
    assert_eq!(got, data);
    assert_eq!(fs.stat(Op::Read, "/cold.bin"), after_cold);
    fs.release(Op::Read, "/cold.bin");

    // The delay is set at run time: at 0, a cold read is no longer delayed.
    fs.set_delay(Op::Read, 0);
    fx.file("later.bin", &data[..1000]);
    assert_eq!(std::fs::read(fs.path().join("later.bin")).unwrap(), &data[..1000]);
    let later = fs.stat(Op::Read, "/later.bin");
    assert!(later.arrived >= 1 && later.delayed == 0, "{later:?}");

    // Opens and stats have delays of their own, and a read's delay is not theirs.
    assert_eq!(fs.stat(Op::Open, "/later.bin").delayed, 0);
    fs.set_delay(Op::Open, 5);
    fs.set_delay(Op::Getattr, 5);
    assert_eq!(std::fs::read(fs.path().join("later.bin")).unwrap(), &data[..1000]);
    let (open, getattr) = (fs.stat(Op::Open, "/later.bin"), fs.stat(Op::Getattr, "/later.bin"));
    assert!(open.delayed >= 1 && getattr.delayed >= 1, "{open:?} {getattr:?}");
    assert_eq!(fs.stat(Op::Read, "/later.bin"), later, "a hot re-read reached the filesystem");
}

/// evserve (the real binary) serving a file that lives on the gated mount, at its default
/// settings; `extra` flags are added.
fn evserve_on(fs: &GateFs, extra: &[&str]) -> (Process, std::net::SocketAddr) {
    let mut args = vec![fs.path().to_str().unwrap(), "--port", "0", "--bind", "127.0.0.1"];
    args.extend_from_slice(extra);
    let p = Process::spawn(&args);
    let addr = p.addr.unwrap_or_else(|| panic!("evserve did not start: {:?}", p.first_line));
    (p, addr)
}

#[test]
fn evserve_serves_a_file_through_the_mount_byte_exact() {
    if !gatefs_available() {
        return;
    }
    let fx = Fixture::new();
    let big = Rng::new(5).bytes(300_000); // past the inline limit: sent with sendfile
    fx.file("big.bin", &big);
    fx.file("small.txt", "small through FUSE");
    let fs = GateFs::mount(&fx.root());
    let (_p, addr) = evserve_on(&fs, &[]);

    let (r, _) = send_raw(addr, b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(r.body.len(), big.len());
    assert!(r.body == big, "the body differs from the backing file");
    let (r, _) = send_raw(addr, b"GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(r.body, b"small through FUSE");
    // The bytes came through the filesystem, not around it.
    assert!(fs.stat(Op::Read, "/big.bin").arrived >= 1);
    assert!(fs.stat(Op::Open, "/small.txt").arrived >= 1);
}

/// The proof of the off-loop file pool: while one download's read of a cold file is stuck
/// at the gate, the event loop keeps serving a hot file on another connection; released, the
/// cold download completes byte-exact (the read is a pool thread's, not the loop's).
#[test]
fn a_held_cold_read_does_not_stop_the_loop_serving_hot_files() {
    if !gatefs_available() {
        return;
    }
    let fx = Fixture::new();
    let cold = Rng::new(6).bytes(1024 * 1024);
    fx.file("cold.bin", &cold);
    fx.file("hot.txt", "hot and cached");
    let fs = GateFs::mount(&fx.root());
    let (_p, addr) = evserve_on(&fs, &["--workers", "1"]);

    // Hot: read once, so its pages are cached.
    let request = b"GET /hot.txt HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut hot = BufReader::new(connect(addr));
    hot.get_mut().write_all(request).unwrap();
    assert_eq!(read_response(&mut hot, false).body, b"hot and cached");

    // Cold: its first read is held at the gate.
    fs.hold(Op::Read, "/cold.bin");
    let mut cold_conn = BufReader::new(connect(addr));
    cold_conn.get_mut().write_all(b"GET /cold.bin HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    assert!(fs.wait_held(Op::Read, "/cold.bin", WITHIN), "evserve never read the cold file");

    // 1,000 responses on the hot connection while the cold read stays held (each read of a
    // response fails after the client's I/O timeout rather than hanging).
    for i in 0..1000 {
        hot.get_mut().write_all(request).unwrap();
        let r = read_response(&mut hot, false);
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hot and cached"[..]), "hot response {i}");
    }
    assert!(fs.stat(Op::Read, "/cold.bin").held >= 1, "the cold read left the gate before its release");

    fs.release(Op::Read, "/cold.bin");
    let r = read_response(&mut cold_conn, false);
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(r.body.len(), cold.len());
    assert!(r.body == cold, "the cold download differs from the backing file");
}
