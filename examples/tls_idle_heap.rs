//! Where the RSS of idle HTTPS connections goes: runs the server in-process under a
//! counting allocator while tests/tls_idle.py holds N connections, and prints the live
//! heap added per connection next to the script's RSS figure.
//! `cargo run --release --example tls_idle_heap -- CERT KEY ROOT [N]`
use std::alloc::System;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use evserve::config::Config;
use evserve::server::Server;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn live() -> isize {
    let s = GLOBAL.stats();
    s.bytes_allocated as isize - s.bytes_deallocated as isize
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = args.get(4).map_or("3000".to_string(), Clone::clone);
    let config = Config {
        root: args[3].clone().into(),
        addrs: vec!["127.0.0.1:0".parse().unwrap()],
        tls_cert: Some(args[1].clone().into()),
        tls_key: Some(args[2].clone().into()),
        timeouts: evserve::util::timer::Timeouts { idle: std::time::Duration::from_secs(300), ..Default::default() },
        ..Config::default()
    };
    let server = Server::bind(&config).unwrap();
    let port = server.local_addrs()[0].port();
    std::thread::spawn(move || server.run());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tls_idle.py");
    let mut py = Command::new("python3")
        .args([
            script,
            "--pid",
            &std::process::id().to_string(),
            "--port",
            &port.to_string(),
            "--conns",
            &n,
            "--handshake",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = py.stdin.take().unwrap();
    let mut lines = BufReader::new(py.stdout.take().unwrap()).lines();
    let mut before = 0;
    while let Some(Ok(line)) = lines.next() {
        match line.as_str() {
            "BEFORE" => before = live(),
            "AFTER" => {
                let per = (live() - before) as f64 / n.parse::<f64>().unwrap();
                println!("live heap per held connection: {per:.0} bytes");
            }
            other => println!("{other}"),
        }
        let _ = writeln!(input);
    }
    py.wait().unwrap();
}
