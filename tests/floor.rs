//! examples/floor.rs, the benchmark's floor: the real example binary on an ephemeral port,
//! driven over raw TCP. It must keep connections alive, answer exactly one response per
//! request however the requests are cut into segments, and lose nothing to short writes.
mod common;

use std::io::{BufRead, BufReader, Cursor, Write};
use std::net::{Shutdown, SocketAddr};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use common::*;

/// The example's binary. Integration tests get no `CARGO_BIN_EXE_` for examples, so it is
/// built here (a no-op once `cargo test` has built the examples) into this test's own
/// target directory and profile: target/<profile>/deps/floor-HASH -> target/<profile>.
fn floor_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(build_floor).clone()
}

fn build_floor() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let profile = match profile_dir.file_name().unwrap().to_str().unwrap() {
        "debug" => "dev",
        other => other,
    };
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", "floor", "--profile", profile, "--target-dir"])
        .arg(profile_dir.parent().unwrap())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo build --example floor");
    assert!(status.success(), "cargo build --example floor failed");
    profile_dir.join("examples").join("floor")
}

/// Starts the floor on port 0 with `args`; its first stderr line names the address.
fn spawn_floor(args: &[&str]) -> (Process, SocketAddr) {
    let p = Process::spawn_with(Command::new(floor_binary()).args(["--port", "0"]).args(args));
    let addr = p.addr.unwrap_or_else(|| panic!("no address in {:?}", p.first_line));
    (p, addr)
}

/// Sends `request` bytes, half-closes, and returns every byte the floor sent back before
/// closing in turn (it closes on EOF once all it owes is written). A thread writes, so a
/// server that stops reading while its answers pile up cannot deadlock the test.
fn exchange(addr: SocketAddr, request: Vec<u8>) -> Vec<u8> {
    let mut s = connect(addr);
    let mut writer = s.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        writer.write_all(&request).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let out = read_to_close(&mut s);
    sender.join().unwrap();
    out
}

/// Parses `bytes` as back-to-back responses, each a 200 with a body of `body` bytes, and
/// returns how many there are; trailing bytes that are not a whole response fail.
fn count_responses(bytes: Vec<u8>, body: usize) -> usize {
    let mut r = BufReader::new(Cursor::new(bytes));
    let mut n = 0;
    while !r.fill_buf().unwrap().is_empty() {
        let resp = read_response(&mut r, false);
        assert_eq!((resp.status, resp.body.len()), (200, body), "response {n}: {}", resp.head);
        n += 1;
    }
    n
}

const GET: &str = "GET /1k.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: floor-test\r\n\r\n";

#[test]
fn keep_alive_answers_every_request_on_one_connection() {
    let (_p, addr) = spawn_floor(&[]);
    let mut s = BufReader::new(connect(addr));
    for i in 0..3 {
        s.get_mut().write_all(GET.as_bytes()).unwrap();
        let resp = read_response(&mut s, false);
        assert_eq!(resp.status, 200, "request {i}");
        assert_eq!(resp.header("Content-Length"), Some("1024"), "the default body is 1 KiB");
        assert_eq!(resp.header("Content-Type"), Some("application/octet-stream"));
        assert_eq!(resp.body, vec![b'x'; 1024]);
    }
}

#[test]
fn body_bytes_sets_the_fixed_body() {
    let (_p, addr) = spawn_floor(&["--body-bytes", "7"]);
    let out = exchange(addr, GET.into());
    assert_eq!(count_responses(out, 7), 1);
}

/// Ten pipelined requests in writes cut inside `\r\n\r\n` terminators, after 1, 2 and 3 of
/// its bytes. The first write holds three whole requests (one read, three responses); each
/// later write completes one request, and its response is awaited before the next write,
/// so the server's reads end exactly at the cuts. Then a half-close: nothing more may come.
#[test]
fn a_pipelined_burst_split_inside_terminators_gets_exactly_one_response_per_request() {
    let (_p, addr) = spawn_floor(&[]);
    let burst = GET.repeat(10).into_bytes();
    let ends: Vec<usize> = burst.windows(4).enumerate().filter(|(_, w)| w == b"\r\n\r\n").map(|(i, _)| i).collect();
    assert_eq!(ends.len(), 10);
    // Cut j (j = 3..=9) lies inside request j's terminator; the last write ends the burst.
    let cuts: Vec<usize> = (3..10).map(|j| ends[j] + 1 + j % 3).chain([burst.len()]).collect();
    let mut s = BufReader::new(connect(addr));
    s.get_mut().set_nodelay(true).unwrap();
    let (mut from, mut answered) = (0, 0);
    for cut in cuts {
        s.get_mut().write_all(&burst[from..cut]).unwrap();
        let complete = ends.iter().filter(|&&e| e + 4 <= cut).count();
        while answered < complete {
            let resp = read_response(&mut s, false);
            assert_eq!((resp.status, resp.body.len()), (200, 1024), "response {answered}");
            answered += 1;
        }
        from = cut;
    }
    assert_eq!(answered, 10);
    s.get_mut().shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_close(&mut s), b"", "nothing after the tenth response");
}

/// Twenty requests in one write whose answers (20 MiB) far exceed the socket buffers: the
/// floor's writes come up short, and what the kernel did not take must be sent on the
/// writable edges that follow, in order and complete.
#[test]
fn answers_larger_than_the_socket_buffers_survive_short_writes() {
    let (_p, addr) = spawn_floor(&["--body-bytes", "1048576"]);
    let out = exchange(addr, GET.repeat(20).into_bytes());
    assert_eq!(count_responses(out, 1048576), 20);
}

/// `\r\r\n\r\n` ends a request (the second `\r` starts the terminator), and a lone
/// `\r\n` between requests does not.
#[test]
fn stray_carriage_returns_do_not_hide_or_invent_request_ends() {
    let (_p, addr) = spawn_floor(&[]);
    let raw = "GET / HTTP/1.1\r\nHost: a\r\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n\r\n";
    assert_eq!(count_responses(exchange(addr, raw.into()), 1024), 2);
}
