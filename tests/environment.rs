//! Configuration from the environment with the real binary: `EVSERVE_<FLAG>` fills in what the
//! command line leaves out, the command line wins, and `PORT` is the container platforms' port.
mod common;

use std::time::Duration;

use common::{Fixture, Process, evserve};

/// The binary on `f`'s root with `args` and `vars` set (and every other EVSERVE_ variable of
/// the test's own environment removed, so the test means what it says).
fn start(f: &Fixture, args: &[&str], vars: &[(&str, &str)]) -> Process {
    let root = f.root();
    let mut cmd = evserve(args);
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("EVSERVE_") || n == "PORT") {
        cmd.env_remove(name);
    }
    cmd.env("EVSERVE_ROOT", &root).envs(vars.iter().copied());
    Process::spawn_with(&mut cmd)
}

#[test]
fn variables_configure_what_the_command_line_leaves_out() {
    let f = Fixture::new();
    f.file("index.html", "from the env root");
    let p = start(&f, &[], &[("EVSERVE_BIND", "127.0.0.1"), ("EVSERVE_PORT", "0"), ("EVSERVE_TRACE", "1")]);
    let addr = p.addr.unwrap_or_else(|| panic!("did not start: {}", p.first_line));
    assert!(addr.ip().is_loopback(), "{addr}");
    let (r, _) = common::send_raw(addr, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, "from the env root"));
    p.signal(15);
    let (code, err) = p.wait(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(err.contains("trace: conn"), "EVSERVE_TRACE=1 turned tracing on: {err}");
}

#[test]
fn the_command_line_wins_and_port_is_the_last_resort() {
    let f = Fixture::new();
    // A bad EVSERVE_PORT is never read when --port is given.
    let p = start(&f, &["--bind", "127.0.0.1", "--port", "0"], &[("EVSERVE_PORT", "not-a-port"), ("PORT", "1")]);
    assert!(p.addr.is_some_and(|a| a.port() != 1), "{}", p.first_line);
    drop(p);
    // PORT is used when neither --port nor EVSERVE_PORT is set.
    let p = start(&f, &["--bind", "127.0.0.1"], &[("PORT", "0")]);
    assert!(p.addr.is_some_and(|a| a.port() != 8000), "{}", p.first_line);
    drop(p);
    // EVSERVE_PORT beats PORT, and a bad one is a usage error that names the variable.
    let out = evserve(&["--bind", "127.0.0.1"]).env("EVSERVE_PORT", "x").env("PORT", "0").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("EVSERVE_PORT (--port)"));
}
