//! The `evserve` binary: flags -> `Config`, signals -> graceful stop or log reopen, errors
//! -> one line and a distinct exit status. No HTTP and no event loop here.
use std::io;
use std::process::ExitCode;

use evserve::config::{self, Command, Config};
use evserve::privileges::Target;
use evserve::server::{Server, StartError};

/// Exit statuses, one per kind of start-up failure.
const EXIT_USAGE: u8 = 2;
const EXIT_ROOT: u8 = 3;
const EXIT_ADDR_IN_USE: u8 = 4;
const EXIT_PERMISSION: u8 = 5;
const EXIT_BIND: u8 = 6;
const EXIT_ACCESS_LOG: u8 = 7;
const EXIT_PRIVILEGES: u8 = 8;
/// `--tls-cert`/`--tls-key`: a file is missing, unreadable or not PEM, holds no
/// certificate or key, or the key does not match the certificate.
const EXIT_TLS: u8 = 9;
const EXIT_RUNTIME: u8 = 1;

fn main() -> ExitCode {
    // First, while this is the only thread: the variables are removed from the environment.
    let activated = match evserve::net::activation::take() {
        Ok(a) => a,
        Err(e) => return fail(EXIT_BIND, &e.to_string()),
    };
    let config = match Config::parse(std::env::args_os().skip(1)) {
        Ok(Command::Run(config)) => config,
        Ok(Command::Help) => {
            print!("{}", config::help());
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("evserve {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("evserve: {e} (see --help)");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match std::fs::metadata(&config.root) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return fail(EXIT_ROOT, &format!("root {} is not a folder", config.root.display())),
        Err(e) => return fail(EXIT_ROOT, &format!("root {}: {e}", config.root.display())),
    }
    let mut server = match Server::bind_with(&config, activated) {
        Ok(s) => s,
        Err(e) => return fail(start_exit_code(&e), &e.to_string()),
    };
    // Ports are bound and the root and the log are open: root is no longer needed.
    if let Some(user) = &config.user
        && let Err(e) = evserve::privileges::drop_to(&Target { user: user.clone(), group: config.group.clone() })
    {
        return fail(EXIT_PRIVILEGES, &e.to_string());
    }
    // SIGTERM, SIGHUP and SIGUSR1 become events of the loop; Ctrl-C (SIGINT) stays with
    // ctrlc. Both count stop signals in one place, `Handle::stop_signal`.
    if let Err(e) = server.handle_signals() {
        return fail(EXIT_RUNTIME, &format!("cannot install the signal handlers: {e}"));
    }
    let handle = server.handle();
    if let Err(e) = ctrlc::set_handler(move || handle.stop_signal(libc::SIGINT)) {
        return fail(EXIT_RUNTIME, &format!("cannot install the signal handler: {e}"));
    }
    // The path as given: it is re-resolved while serving (a deploy may swap it).
    let root = std::path::absolute(&config.root).unwrap_or(config.root.clone());
    let workers = if config.workers > 1 { format!(" with {} workers", config.workers) } else { String::new() };
    eprintln!("evserve: serving {} on {}{workers}", root.display(), listening_on(&server).join(" and "));
    if server.is_activated() && config.listen_given {
        eprintln!("evserve: --bind/--port ignored: serving the sockets the service manager passed");
    }
    match server.run() {
        Ok(s) => {
            let dropped = match config.access_log {
                Some(_) => format!(", {} access-log lines dropped", s.log_lines_dropped),
                None => String::new(),
            };
            eprintln!(
                "evserve: stopped: {} connections, {} requests, {} bytes sent{dropped}",
                s.connections, s.requests, s.bytes_sent
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(EXIT_RUNTIME, &format!("event loop failed: {e}")),
    }
}

/// The start line's list: URLs of the TCP addresses bound, the Unix sockets, or (socket
/// activation) each passed socket with its descriptor.
fn listening_on(server: &Server) -> Vec<String> {
    if server.is_activated() {
        return server.endpoints().to_vec();
    }
    let addrs = server.local_addrs();
    let scheme = if server.is_https() { "https" } else { "http" };
    let urls = addrs.iter().map(|a| {
        let dual = a.ip().is_unspecified() && a.is_ipv6() && !addrs.iter().any(|b| b.is_ipv4() && b.port() == a.port());
        format!("{scheme}://{a}/{}", if dual { " (IPv4 too)" } else { "" })
    });
    let redirect = server.redirect_addr().map(|a| format!("http://{a}/ (redirecting to https)"));
    let admin = server.admin_addr().map(|a| format!("admin http://{a}/ (/metrics, /healthz, /readyz)"));
    urls.chain(server.endpoints().iter().cloned()).chain(redirect).chain(admin).collect()
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("evserve: {message}");
    ExitCode::from(code)
}

/// One exit status per kind of start-up failure (see the constants above).
fn start_exit_code(e: &StartError) -> u8 {
    match e {
        StartError::Root(..) => EXIT_ROOT,
        StartError::Listen(_, e) if e.kind() == io::ErrorKind::AddrInUse => EXIT_ADDR_IN_USE,
        StartError::Listen(_, e) if e.kind() == io::ErrorKind::PermissionDenied => EXIT_PERMISSION,
        StartError::Listen(..) => EXIT_BIND,
        StartError::ListenUnix(_, e) if e.kind() == io::ErrorKind::AddrInUse => EXIT_ADDR_IN_USE,
        StartError::ListenUnix(_, e) if e.kind() == io::ErrorKind::PermissionDenied => EXIT_PERMISSION,
        StartError::ListenUnix(..) => EXIT_BIND,
        StartError::AccessLog(..) => EXIT_ACCESS_LOG,
        StartError::Poll(_) => EXIT_RUNTIME,
        StartError::Tls(_) => EXIT_TLS,
    }
}
