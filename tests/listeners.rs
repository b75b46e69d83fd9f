//! Listening the ways servers are deployed: sockets passed by systemd (socket activation,
//! with the real `systemd-socket-activate`, and a restart under a socket held open by the
//! test, as systemd holds it), and Unix-domain sockets (`--bind unix:PATH`), with raw
//! `UnixStream`s and with `curl --unix-socket`. Every test runs the real binary.
mod common;

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const EXIT: Duration = Duration::from_secs(15);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_evserve")
}

fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).stdout(Stdio::null()).status().unwrap().success()
}

/// One `GET target` with `Connection: close` over any stream; the whole response.
fn get_over<S: Read + Write>(mut s: S, target: &str) -> Response {
    s.write_all(format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
    read_response(&mut BufReader::new(s), false)
}

fn unix_connect(path: &Path) -> UnixStream {
    let s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// Runs evserve with `listener` as descriptor 3 and LISTEN_PID/LISTEN_FDS naming it, as the
/// service manager does: a shell moves the descriptor to 3, sets LISTEN_PID to its own pid
/// and execs evserve, which keeps that pid. The listener is made inheritable only for the
/// moment of the spawn.
fn activated(listener: &impl std::os::fd::AsFd, args: &[&str]) -> Process {
    use rustix::io::{FdFlags, fcntl_getfd, fcntl_setfd};
    let fd = listener.as_fd();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    let onto_3 = if raw == 3 { String::new() } else { format!("exec 3<&{raw} {raw}<&-; ") };
    let script = format!(r#"{onto_3}LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=web exec "$0" "$@""#);
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).arg(bin()).args(args);
    fcntl_setfd(fd, FdFlags::empty()).unwrap();
    let p = Process::spawn_with(&mut cmd);
    fcntl_setfd(fd, fcntl_getfd(fd).unwrap() | FdFlags::CLOEXEC).unwrap();
    p
}

#[test]
fn systemd_socket_activate_passes_the_socket_and_bind_flags_are_ignored() {
    if !have("systemd-socket-activate") {
        eprintln!("skipped: systemd-socket-activate not installed (Debian: apt-get install systemd)");
        return;
    }
    let f = Fixture::new();
    f.file("index.html", "activated\n");
    // A free port for the activator (it cannot be told to pick one).
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let root = f.root();
    let mut cmd = Command::new("systemd-socket-activate");
    cmd.args(["-l", &addr.to_string(), "--fdname=http", bin(), root.to_str().unwrap(), "--port", "1", "--trace"]);
    let p = Process::spawn_with(&mut cmd);
    assert!(p.first_line.contains(&format!("Listening on {addr}")), "{}", p.first_line);
    // The activator execs evserve on the first connection; that connection is served.
    let r = get_over(connect(addr), "/");
    assert_eq!((r.status, r.text().as_str()), (200, "activated\n"));
    let r = get_over(connect(addr), "/");
    assert_eq!(r.status, 200);
    p.signal(libc::SIGTERM);
    let (code, err) = p.wait(EXIT);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains(&format!("on http://{addr}/ (fd 3 \"http\", from the service manager)")), "{err}");
    assert_eq!(err.matches("--bind/--port ignored").count(), 1, "{err}");
}

#[test]
fn a_restart_under_a_held_socket_refuses_no_connection() {
    let f = Fixture::new();
    f.file("index.html", "up\n");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let root = f.root();
    let first = activated(&listener, &[root.to_str().unwrap()]);
    assert_eq!(first.addr, Some(addr), "{}", first.first_line);
    assert_eq!(get_over(connect(addr), "/").status, 200);
    first.signal(libc::SIGTERM);
    let (code, err) = first.wait(EXIT);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("ignored"), "no --bind/--port was given: {err}");
    // evserve is down: clients still connect (the queue is the held socket's) and ask.
    let waiting: Vec<TcpStream> = (0..8)
        .map(|i| {
            let mut s = TcpStream::connect(addr).expect("no connection refused while evserve restarts");
            s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            write!(s, "GET /?{i} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
            s
        })
        .collect();
    let second = activated(&listener, &[root.to_str().unwrap(), "--workers", "2"]);
    for s in waiting {
        let r = read_response(&mut BufReader::new(s), false);
        assert_eq!((r.status, r.text().as_str()), (200, "up\n"));
    }
    second.signal(libc::SIGTERM);
    let (code, err) = second.wait(EXIT);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn inherited_sockets_serve_every_worker() {
    let f = Fixture::new();
    f.file("index.html", "w\n");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let root = f.root();
    let p = activated(&listener, &[root.to_str().unwrap(), "--workers", "2", "--bind", "127.0.0.1"]);
    assert!(p.first_line.contains("with 2 workers"), "{}", p.first_line);
    for _ in 0..20 {
        assert_eq!(get_over(connect(addr), "/").status, 200);
    }
    p.signal(libc::SIGTERM);
    let (code, err) = p.wait(EXIT);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(err.matches("--bind/--port ignored").count(), 1, "{err}");
}

#[test]
fn an_inherited_socket_that_cannot_serve_is_a_start_up_error() {
    let f = Fixture::new();
    let root = f.root();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let p = activated(&udp, &[root.to_str().unwrap()]);
    let line = p.first_line.clone();
    let (code, _) = p.wait(EXIT);
    assert_eq!(code, Some(6), "{line}");
    assert!(line.contains("socket activation: fd 3 \"web\": not a stream socket"), "{line}");
}

#[test]
fn variables_for_another_process_are_ignored() {
    let f = Fixture::new();
    f.file("index.html", "own\n");
    let root = f.root();
    let mut cmd = Command::new(bin());
    cmd.args([root.to_str().unwrap(), "--bind", "127.0.0.1", "--port", "0"])
        .env("LISTEN_PID", "1")
        .env("LISTEN_FDS", "1");
    let p = Process::spawn_with(&mut cmd);
    let addr = p.addr.unwrap_or_else(|| panic!("binds its own port: {}", p.first_line));
    assert_eq!(get_over(connect(addr), "/").text(), "own\n");
}

/// A Unix-socket evserve: the fixture, the socket path and the access log.
struct UnixServer {
    p: Process,
    sock: std::path::PathBuf,
    log: std::path::PathBuf,
}

fn unix_server(f: &Fixture, extra: &[&str]) -> UnixServer {
    let sock = f.path.join("ev.sock");
    let log = f.path.join("access.log");
    let bind = format!("unix:{}", sock.display());
    let root = f.root();
    let mut args = vec![root.to_str().unwrap(), "--bind", &bind, "--access-log", log.to_str().unwrap()];
    args.extend_from_slice(extra);
    let p = Process::spawn(&args);
    assert!(p.first_line.contains(&bind), "{}", p.first_line);
    UnixServer { p, sock, log }
}

fn log_lines(path: &Path, want: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let complete = eventually(IO_TIMEOUT, || {
        lines = std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect();
        lines.len() >= want
    });
    assert!(complete, "{want} log lines expected, got {lines:?}");
    lines
}

#[test]
fn a_unix_socket_serves_files_with_sendfile_and_logs_a_dash_and_is_removed_at_exit() {
    let f = Fixture::new();
    let big: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 253) as u8).collect();
    f.file("big.bin", &big);
    f.file("small.txt", "small\n");
    let s = unix_server(&f, &["--trace"]);
    let meta = std::fs::symlink_metadata(&s.sock).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o660, "the default --unix-mode");
    let r = get_over(unix_connect(&s.sock), "/small.txt");
    assert_eq!((r.status, r.text().as_str()), (200, "small\n"));
    let r = get_over(unix_connect(&s.sock), "/big.bin");
    assert_eq!(r.status, 200);
    assert_eq!(digest(&r.body), digest(&big));
    let lines = log_lines(&s.log, 2);
    assert!(lines[0].starts_with("- - - ["), "{lines:?}");
    assert!(lines[1].starts_with("- - - [") && lines[1].contains("\"GET /big.bin HTTP/1.1\" 200 3145728"), "{lines:?}");
    s.p.signal(libc::SIGTERM);
    let (code, err) = s.p.wait(EXIT);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("accepted from unix"), "{err}");
    assert!(err.contains("sendfile sent"), "{err}");
    assert!(!s.sock.exists(), "the socket file is removed at exit");
}

#[test]
fn unix_and_tcp_binds_together_and_the_mode_is_applied() {
    let f = Fixture::new();
    f.file("index.html", "both\n");
    let s = unix_server(&f, &["--bind", "127.0.0.1", "--port", "0", "--unix-mode", "0600"]);
    assert_eq!(std::fs::metadata(&s.sock).unwrap().permissions().mode() & 0o777, 0o600);
    let addr = s.p.addr.expect("the TCP address comes first");
    assert_eq!(get_over(connect(addr), "/").text(), "both\n");
    assert_eq!(get_over(unix_connect(&s.sock), "/").text(), "both\n");
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let f = Fixture::new();
    f.file("index.html", "fresh\n");
    drop(UnixListener::bind(f.path.join("ev.sock")).unwrap());
    assert!(f.path.join("ev.sock").exists(), "a socket file that nobody accepts on");
    let s = unix_server(&f, &[]);
    assert_eq!(get_over(unix_connect(&s.sock), "/").text(), "fresh\n");
}

#[test]
fn a_live_socket_or_another_file_is_refused() {
    let f = Fixture::new();
    let root = f.root();
    let live = f.path.join("live.sock");
    let _holder = UnixListener::bind(&live).unwrap();
    let bind = format!("unix:{}", live.display());
    let p = Process::spawn(&[root.to_str().unwrap(), "--bind", &bind]);
    let line = p.first_line.clone();
    let (code, _) = p.wait(EXIT);
    assert_eq!(code, Some(4), "{line}");
    assert!(line.contains("in use"), "{line}");
    let file = f.outside("plain.txt", "keep me");
    let bind = format!("unix:{}", file.display());
    let p = Process::spawn(&[root.to_str().unwrap(), "--bind", &bind]);
    let line = p.first_line.clone();
    let (code, _) = p.wait(EXIT);
    assert_eq!(code, Some(6), "{line}");
    assert!(line.contains("exists and is not a socket"), "{line}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    assert!(live.exists(), "the live socket is left alone");
}

#[test]
fn curl_speaks_over_the_unix_socket() {
    if !have("curl") {
        eprintln!("skipped: curl not installed");
        return;
    }
    let f = Fixture::new();
    f.file("index.html", "curl over unix\n");
    let s = unix_server(&f, &[]);
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--unix-socket", s.sock.to_str().unwrap(), "http://localhost/"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "curl over unix\n");
}
