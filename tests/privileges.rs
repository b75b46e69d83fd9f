//! `--user`: bind first (a port below 1024), open the root and the log, then become an
//! unprivileged user for good. Run as root (CI is) with the system's `nobody`; each test says
//! it skipped otherwise.
mod common;

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use common::{Fixture, Process, read_response};

fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// `Uid:` / `Gid:` of a process: real, effective, saved, filesystem.
fn ids(pid: u32, field: &str) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field} in {status}"));
    line[field.len()..].split_whitespace().map(|n| n.parse().unwrap()).collect()
}

fn id_of(flag: &str, name: &str) -> u32 {
    let out = Command::new("id").arg(flag).arg(name).output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// A port below 1024 that nothing listens on at the moment.
fn free_low_port() -> u16 {
    (900..1000).find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok()).expect("a free port below 1024")
}

#[test]
fn as_root_it_binds_a_low_port_opens_its_log_then_serves_as_nobody() {
    if !running_as_root() {
        eprintln!("skipped: not running as root");
        return;
    }
    let f = Fixture::new();
    f.file("index.html", "hello");
    // A log folder only root may enter: the log is opened before the switch, so it works.
    let logs = f.path.join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o700)).unwrap();
    let log = logs.join("access.log");
    let port = free_low_port().to_string();
    let root = f.root();
    let p = Process::spawn(&[
        root.to_str().unwrap(),
        "--bind",
        "127.0.0.1",
        "--port",
        &port,
        "--user",
        "nobody",
        "--access-log",
        log.to_str().unwrap(),
    ]);
    let addr = p.addr.unwrap_or_else(|| panic!("did not start: {}", p.first_line));
    let pid = p.child.id();
    let (uid, gid) = (id_of("-u", "nobody"), id_of("-g", "nobody"));
    assert_eq!(ids(pid, "Uid:"), [uid; 4], "real, effective, saved and filesystem uid");
    assert_eq!(ids(pid, "Gid:"), [gid; 4]);
    let groups = ids(pid, "Groups:");
    assert!(!groups.contains(&0), "root's supplementary groups are gone: {groups:?}");

    let mut s = common::connect(addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let r = read_response(&mut BufReader::new(s), false);
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    p.signal(15);
    let (code, _) = p.wait(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(written.contains("\"GET / HTTP/1.1\" 200 5"), "{written}");
}

#[test]
fn an_unknown_user_stops_start_up_with_its_own_status() {
    let f = Fixture::new();
    let root = f.root();
    let out = Command::new(env!("CARGO_BIN_EXE_evserve"))
        .args([root.to_str().unwrap(), "--bind", "127.0.0.1", "--port", "0", "--user", "no-such-user-evserve"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no-such-user-evserve"), "{err}");
}

#[test]
fn a_user_switch_without_root_is_refused_unless_it_is_a_no_op() {
    if !running_as_root() {
        eprintln!("skipped: not running as root (needs to start a child as another user)");
        return;
    }
    // As nobody, asking for root must fail (exit 8), not be ignored.
    let f = Fixture::new();
    let root = f.root();
    let out = Command::new("setpriv")
        .args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_evserve"))
        .args([root.to_str().unwrap(), "--bind", "127.0.0.1", "--port", "0", "--user", "root"])
        .output();
    let Ok(out) = out else {
        eprintln!("skipped: setpriv is not installed");
        return;
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(err.contains("only root can switch users"), "{err}");
}

#[test]
fn group_without_user_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_evserve")).args(["--group", "nogroup"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--group: needs --user"));
}
