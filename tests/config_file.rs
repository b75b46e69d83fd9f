//! `--config FILE` with the real binary: the file fills in what the environment and the
//! command line leave out (command line > `EVSERVE_*` > file > defaults), and every mistake
//! in it stops the start with exit status 2 and a message naming the file, line and key.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Fixture, Process, evserve, run_to_exit};

/// `evserve args` with `vars` set and every other EVSERVE_ variable (and PORT) of the
/// test's own environment removed, so the test means what it says.
fn command(args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut cmd = evserve(args);
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("EVSERVE_") || n == "PORT") {
        cmd.env_remove(name);
    }
    cmd.envs(vars.iter().copied());
    cmd
}

fn write_config(f: &Fixture, name: &str, text: &str) -> PathBuf {
    f.outside(name, text)
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn the_command_line_beats_the_environment_which_beats_the_file() {
    let f = Fixture::new();
    f.file("index.html", "from the file's root");
    let root = f.root();
    let config = write_config(
        &f,
        "evserve.toml",
        &format!(
            "# every layer has a say\n\
             root = {root:?}\n\
             bind = [\"127.0.0.1\"]\n\
             port = 1          # EVSERVE_PORT=0 wins\n\
             trace = true      # nothing else says: the file's\n\
             cache-control = \"max-age=5\"   # EVSERVE_CACHE_CONTROL wins\n\
             header = [\"X-From: file\"]      # --header wins\n\
             header-for = [[\"*.html\", \"X-Html: file\"]]\n",
            root = arg(&root)
        ),
    );
    let mut cmd = command(
        &["--config", arg(&config), "--header", "X-From: command line"],
        &[("EVSERVE_PORT", "0"), ("EVSERVE_CACHE_CONTROL", "no-store")],
    );
    let p = Process::spawn_with(&mut cmd);
    let addr = p.addr.unwrap_or_else(|| panic!("did not start: {}", p.first_line));
    assert!(addr.ip().is_loopback() && addr.port() != 1, "{addr}");
    let (r, _) = common::send_raw(addr, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, "from the file's root"));
    assert_eq!(r.header("x-from"), Some("command line"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    p.signal(15);
    let (code, err) = p.wait(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(err.contains("trace: conn"), "trace = true in the file turned tracing on: {err}");
}

#[test]
fn evserve_config_names_the_file() {
    let f = Fixture::new();
    f.file("index.html", "home");
    let config = write_config(&f, "env.toml", &format!("root = {:?}\nbind = '127.0.0.1'\nport = 0\n", arg(&f.root())));
    let p = Process::spawn_with(&mut command(&[], &[("EVSERVE_CONFIG", arg(&config))]));
    let addr = p.addr.unwrap_or_else(|| panic!("did not start: {}", p.first_line));
    let (r, _) = common::send_raw(addr, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, "home"));
}

#[test]
fn every_mistake_is_a_usage_error_naming_the_file_the_line_and_the_key() {
    let f = Fixture::new();
    let cases = [
        ("unknown-key.toml", "port = 0\n\nprot = 8080\n", ":3: prot: unknown key"),
        ("bad-value.toml", "# a comment\nidle-timeout = -1\n", ":2: idle-timeout: expected seconds"),
        ("bad-type.toml", "listing = \"yes\"\n", ":1: listing: expected true or false"),
        ("bad-syntax.toml", "port = 0\ncache-control = \"no-cache\n", ":2: cache-control: the string is not closed"),
        ("bad-item.toml", "header = [\n  \"X-A: 1\",\n  \"no colon\",\n]\n", ":3: header: expected 'Name: value'"),
        ("bad-glob.toml", "cache-control-for = [[\"/a/{b\", \"x\"]]\n", ":1: cache-control-for: a { without its }"),
        ("table.toml", "\n[server]\nport = 0\n", ":2: tables"),
    ];
    for (name, text, expected) in cases {
        let config = write_config(&f, name, text);
        let (code, _, err) = run_to_exit(&["--config", arg(&config), "--port", "0"]);
        assert_eq!(code, Some(2), "{name}: {err}");
        let want = format!("evserve: {}{expected}", arg(&config));
        assert!(err.starts_with(&want), "{name}: {err:?} should start with {want:?}");
    }
    let (code, _, err) = run_to_exit(&["--config", "/nonexistent/evserve.toml"]);
    assert_eq!(code, Some(2));
    assert!(err.starts_with("evserve: --config /nonexistent/evserve.toml: "), "{err}");
}
