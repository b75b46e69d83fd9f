//! The real `evserve` binary as a child process: start it, learn its address from the start
//! line, signal it, wait for its exit with a deadline; and what /proc says about a process.
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use super::{Fixture, eventually};

/// The binary with `args`, no input, and its stdout and stderr piped.
pub fn evserve(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_evserve"));
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// Waits for `child` to exit within `within`: its status, or None (it is then still running).
pub fn wait_for_exit(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let mut status = None;
    eventually(within, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    status
}

/// Runs the binary for a command that must end by itself (errors, --help, --version),
/// failing if it does not within 10 s: its exit code, stdout and stderr.
pub fn run_to_exit(args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = evserve(args).spawn().unwrap();
    let status = wait_for_exit(&mut child, Duration::from_secs(10));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("evserve {args:?} kept running");
    }
    let (mut out, mut err) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (status.unwrap().code(), out, err)
}

/// The real `evserve` binary, started with `args`; its first stderr line is read to learn
/// the address it listens on.
pub struct Process {
    pub child: Child,
    pub addr: Option<SocketAddr>,
    pub stderr: BufReader<std::process::ChildStderr>,
    pub first_line: String,
}

impl Process {
    pub fn spawn(args: &[&str]) -> Process {
        Self::spawn_with(&mut evserve(args))
    }

    pub fn spawn_with(cmd: &mut Command) -> Process {
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut first_line = String::new();
        stderr.read_line(&mut first_line).unwrap();
        let addr =
            first_line.split("http://").nth(1).and_then(|rest| rest.split('/').next()).and_then(|a| a.parse().ok());
        Process { child, addr, stderr, first_line }
    }

    /// Sends a signal by number (2 = SIGINT, 15 = SIGTERM).
    pub fn signal(&self, sig: i32) {
        let status = Command::new("kill").arg(format!("-{sig}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
    }

    /// Waits for exit (failing after `within`) and returns the status code and the rest of stderr.
    pub fn wait(mut self, within: Duration) -> (Option<i32>, String) {
        let Some(status) = wait_for_exit(&mut self.child, within) else {
            let _ = self.child.kill();
            panic!("evserve did not exit within {within:?}");
        };
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).unwrap();
        (status.code(), rest)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary under `prlimit --nofile=NOFILE:NOFILE` on 127.0.0.1, port 0, with long request
/// and idle timeouts (so that no timeout frees a descriptor during a test) and `extra` flags,
/// serving a fixture whose `index.html` is `home`. `EVSERVE_BIN=/path/to/evserve` runs
/// another build. None, saying so, when prlimit (util-linux) is missing.
pub fn under_nofile_limit(nofile: usize, extra: &[&str]) -> Option<(Process, SocketAddr, Fixture)> {
    if !Command::new("prlimit").arg("--version").output().is_ok_and(|o| o.status.success()) {
        eprintln!("skipping: prlimit (util-linux) is not installed");
        return None;
    }
    let fx = Fixture::new();
    fx.file("index.html", "home");
    let bin = std::env::var("EVSERVE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_evserve").to_string());
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--nofile={nofile}:{nofile}")).arg(bin);
    cmd.args(["--port", "0", "--bind", "127.0.0.1", "--request-timeout", "60", "--idle-timeout", "60"]);
    cmd.args(extra).arg(fx.root());
    let p = Process::spawn_with(&mut cmd);
    let addr = p.addr.unwrap_or_else(|| panic!("evserve did not start: {:?}", p.first_line));
    Some((p, addr, fx))
}

/// Whether a command is on PATH; when it is not, says so (its test then skips).
pub fn installed(name: &str) -> bool {
    let found =
        Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: {name} is not installed");
    }
    found
}

/// curl over HTTP/2 (`--http2-prior-knowledge` for h2c, or `--http2` with `-k` for TLS
/// among `args`): the head as curl prints it (lowercase names) and the body.
pub fn curl_h2(args: &[&str]) -> (String, Vec<u8>) {
    let out = Command::new("curl").args(["-s", "-m", "10", "-D", "-"]).args(args).output().unwrap();
    let all = out.stdout;
    let end = all.windows(4).position(|w| w == b"\r\n\r\n").map_or(all.len(), |i| i + 4);
    (String::from_utf8_lossy(&all[..end]).into_owned(), all[end..].to_vec())
}

/// `curl_h2` over h2c (prior knowledge).
pub fn curl_h2c(args: &[&str]) -> (String, Vec<u8>) {
    curl_h2(&[&["--http2-prior-knowledge"], args].concat())
}

/// Resident memory of a process (VmRSS), in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Open descriptors of a process.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// CPU time (user + system) a process has used, in clock ticks (fields 14 and 15 of
/// /proc/PID/stat, counted after the command name, which may hold spaces).
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

pub fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}
