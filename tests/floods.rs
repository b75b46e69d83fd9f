//! Connection floods at the cap: the real binary under `prlimit --nofile=64` (a cap of
//! 64 - 16 - 64/8 = 40 connections). Idle keep-alive connections make room for new
//! clients; busy ones are never closed for it, and then new clients wait in the accept
//! queue without the server spinning. Skipped with a message when prlimit is missing.
//!
//! `EVSERVE_BIN=/path/to/evserve` runs the tests against another build (to show they fail
//! without the fix).
mod common;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::*;

/// The connection cap the server derives from a descriptor limit of 64.
const CAP: usize = 64 - 16 - 64 / 8;

const REQUEST: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n";
/// `REQUEST` cut in the middle of its head, and the rest of it.
const HALF_HEAD: &[u8] = b"GET /index.html HTTP/1.1\r\nHo";
const REST_OF_HEAD: &[u8] = b"st: a\r\n\r\n";

const WARNING: &str = "evserve: connection limit 40 reached, closing idle keep-alive connections";

/// The binary under `prlimit --nofile=64:64`, with long request and idle timeouts so
/// that no timeout frees a slot during a test. None when prlimit is missing.
fn start(extra: &[&str]) -> Option<(Process, SocketAddr, Fixture)> {
    under_nofile_limit(64, extra)
}

/// Reads one response on a held connection and checks it is the file.
fn expect_home(r: &mut BufReader<TcpStream>, which: &str) {
    let response = read_response(r, false);
    assert_eq!((response.status, response.text().as_str()), (200, "home"), "{which}");
}

/// What a held connection shows without waiting: Some(true) if the server closed it,
/// Some(false) if it is open; None if bytes came that nobody asked for.
fn closed_by_server(s: &mut TcpStream) -> Option<bool> {
    s.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let seen = match s.read(&mut byte) {
        Ok(0) => Some(true),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Some(false),
        _ => None,
    };
    s.set_nonblocking(false).unwrap();
    seen
}

/// `CAP` connections that each sent half a request head: every slot is busy. Returns
/// once the server holds them all (it does not accept beyond the cap, so the count is
/// exact), with the descriptor count it had before them.
fn fill_with_busy(p: &Process, addr: SocketAddr) -> (Vec<TcpStream>, usize) {
    let pid = p.child.id();
    let baseline = fd_count(pid);
    let busy: Vec<TcpStream> = (0..CAP)
        .map(|_| {
            let mut s = connect(addr);
            s.write_all(HALF_HEAD).unwrap();
            s
        })
        .collect();
    assert!(
        eventually(Duration::from_secs(10), || fd_count(pid) >= baseline + CAP),
        "the server never held {CAP} connections (has {} descriptors, {baseline} before)",
        fd_count(pid)
    );
    (busy, baseline)
}

/// 150 clients each send one keep-alive request and keep the connection open. At the cap
/// the longest-idle of them are closed to make room, so every one is answered within the
/// client's IO deadline (not after the 60 s idle timeout), then a fresh client is too.
/// The server says so once, and `--stats` counts the reaped connections.
#[test]
fn idle_keep_alive_connections_make_room_at_the_cap() {
    flood(&[], CAP, WARNING);
}

/// The same when the descriptors run out before the cap: `accept` fails with EMFILE, and
/// idle keep-alive connections give up theirs.
#[test]
fn idle_keep_alive_connections_make_room_when_descriptors_run_out() {
    flood(&["--max-connections", "1000"], 64, "evserve: out of descriptors at ");
}

/// 150 keep-alive clients that stay, then a fresh one, against a server that can hold at
/// most `open_max` connections and must say `warning` once.
fn flood(extra: &[&str], open_max: usize, warning: &str) {
    const CLIENTS: usize = 150;
    let Some((mut p, addr, _fx)) = start(&[extra, &["--stats", "1"]].concat()) else { return };
    // The file is looked up once before the flood (on the pool), so the flood's requests are
    // cache hits answered in the order they come, and "oldest idle" is the first client.
    let mut warm = BufReader::new(connect(addr));
    warm.get_mut().write_all(REQUEST).unwrap();
    expect_home(&mut warm, "the warm-up request");
    drop(warm);
    let mut held: Vec<BufReader<TcpStream>> = (0..CLIENTS)
        .map(|_| {
            let mut s = connect(addr);
            s.write_all(REQUEST).unwrap();
            BufReader::new(s)
        })
        .collect();
    for (i, r) in held.iter_mut().enumerate() {
        expect_home(r, &format!("held client {i}"));
    }
    let mut fresh = BufReader::new(connect(addr));
    fresh.get_mut().write_all(REQUEST).unwrap();
    expect_home(&mut fresh, "a fresh client after the flood");

    // At most `open_max` are open, the fresh one among them; the reaped clients see the
    // end of the connection and nothing else.
    let must_close = CLIENTS + 1 - open_max;
    let mut closed = 0;
    assert!(
        eventually(Duration::from_secs(10), || {
            closed = 0;
            for r in held.iter_mut() {
                match closed_by_server(r.get_mut()) {
                    Some(true) => closed += 1,
                    Some(false) => {}
                    None => panic!("unexpected bytes on a held connection"),
                }
            }
            closed >= must_close
        }),
        "only {closed} of {CLIENTS} held connections were closed to make room"
    );
    // Oldest idle first (to the loop turn: the clients answered in one turn are equally old).
    assert_eq!(closed_by_server(held[0].get_mut()), Some(true), "the longest-idle connection was kept");

    // Every reaped connection is counted: the stats lines add up to them.
    let mut reaped = 0;
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while reaped < must_close && Instant::now() < deadline {
        let mut line = String::new();
        if p.stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(n) = line.split(" reaped ").nth(1) {
            reaped += n.split_whitespace().next().unwrap().parse::<usize>().unwrap();
        }
        seen.push(line);
    }
    assert!(reaped >= must_close, "stats counted {reaped} reaped: {seen:#?}");

    p.signal(15);
    let (code, rest) = p.wait(Duration::from_secs(15));
    assert_eq!(code, Some(0), "exit status; stderr: {rest}");
    let stderr = seen.concat() + &rest;
    assert_eq!(stderr.matches(warning).count(), 1, "the warning once per episode: {stderr}");
    assert!(!stderr.contains("accept failed"), "{stderr}");
}

/// Every slot busy (each connection sent half a head): nothing may be closed to make room,
/// so a new client waits in the accept queue, and the server does not spin meanwhile (a
/// correctness bound: less than half the wall time in CPU). Once a connection closes, the
/// waiting client is answered; the busy ones were all kept and are answered too.
#[test]
fn with_every_connection_busy_new_clients_wait_without_spinning() {
    let Some((p, addr, _fx)) = start(&[]) else { return };
    let pid = p.child.id();
    let (mut busy, baseline) = fill_with_busy(&p, addr);

    let mut waiting = connect(addr);
    waiting.write_all(REQUEST).unwrap();
    let ticks = clock_ticks_per_second();
    let (cpu_before, wall_before) = (cpu_ticks(pid), Instant::now());
    // The sampling window doubles as the check that nothing is answered while all are busy.
    waiting.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut byte = [0u8; 1];
    match waiting.read(&mut byte) {
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
        other => panic!("a client was answered while every slot was busy: {other:?}"),
    }
    let used = cpu_ticks(pid) - cpu_before;
    let wall = wall_before.elapsed().as_secs_f64() * ticks as f64;
    assert!((used as f64) < wall / 2.0, "the server burnt {used} ticks in {wall:.0} while full");
    assert_eq!(fd_count(pid), baseline + CAP, "the server accepted beyond its cap");

    drop(busy.remove(0));
    waiting.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    expect_home(&mut BufReader::new(waiting), "the waiting client, once a slot was free");
    for (i, mut s) in busy.into_iter().enumerate() {
        s.write_all(REST_OF_HEAD).unwrap();
        expect_home(&mut BufReader::new(s), &format!("busy client {i}, which must not have been reaped"));
    }
    p.signal(15);
    let (code, stderr) = p.wait(Duration::from_secs(15));
    assert_eq!(code, Some(0), "exit status; stderr: {stderr}");
    assert!(!stderr.contains(WARNING), "nothing was idle, nothing was reaped: {stderr}");
}

/// Every slot busy and a client waiting; then one busy connection finishes its request.
/// Once its response is out it is idle, so it makes room for the waiting client at once
/// (not after the 60 s idle timeout). The others, mid-request, are kept.
#[test]
fn a_connection_that_becomes_idle_makes_room_for_a_waiting_client() {
    let Some((p, addr, _fx)) = start(&[]) else { return };
    let (mut busy, _) = fill_with_busy(&p, addr);
    let mut waiting = BufReader::new(connect(addr));
    waiting.get_mut().write_all(REQUEST).unwrap();

    let mut first = BufReader::new(busy.remove(0));
    first.get_mut().write_all(REST_OF_HEAD).unwrap();
    expect_home(&mut first, "the busy client that finished its request");
    expect_home(&mut waiting, "the waiting client, once a connection was idle");
    assert!(closed(first.get_mut()), "the idle connection was not the one closed to make room");

    for (i, mut s) in busy.into_iter().enumerate() {
        s.write_all(REST_OF_HEAD).unwrap();
        expect_home(&mut BufReader::new(s), &format!("busy client {i}, which must not have been reaped"));
    }
    p.signal(15);
    let (code, stderr) = p.wait(Duration::from_secs(15));
    assert_eq!(code, Some(0), "exit status; stderr: {stderr}");
    assert_eq!(stderr.matches(WARNING).count(), 1, "{stderr}");
}
