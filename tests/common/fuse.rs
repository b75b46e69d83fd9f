//! A real slow filesystem with a gate: `tests/fusefs/gatefs.c` (a passthrough FUSE
//! filesystem) mounted over a backing folder, so a test can hold a server's file operation
//! (read, open, getattr, readdir) at a gate, learn that it is stuck there, and let it go,
//! or slow every operation of one kind by a delay. See `tests/fusefs/README.md`.
//!
//! The C source is compiled once per test binary into the cargo target folder. A test first
//! asks `GateFs::available()` and, on `Err(why)`, prints `skipped: {why}` and returns.
//!
//! Page cache: a file read once through the mount stays cached (kernel_cache) until the
//! mount goes or the backing file's size or mtime changes: "cold" is a file not read since
//! the mount, "hot" one read before. Names and attributes are never cached, so a change made
//! in the backing folder shows through the mount at once.
use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::eventually;

const SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fusefs/gatefs.c");

/// How long mounting, unmounting or one control command may take before the test fails.
const MOUNT_TIMEOUT: Duration = Duration::from_secs(10);

/// An operation the filesystem can delay or hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Reading file data (a read that the page cache answers never gets here).
    Read,
    /// Opening a file (each `open(2)`, and each `creat`).
    Open,
    /// Stat of a path or an open file; also the lookup of a name, so holding it holds an
    /// `open` of that path too.
    Getattr,
    /// Listing a folder.
    Readdir,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Read => "read",
            Op::Open => "open",
            Op::Getattr => "getattr",
            Op::Readdir => "readdir",
        })
    }
}

/// What happened to one kind of operation on one path since the mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpStat {
    /// Operations that reached the filesystem.
    pub arrived: u64,
    /// Operations waiting at the gate now.
    pub held: u64,
    /// Operations that slept for a delay.
    pub delayed: u64,
}

/// A gatefs mount over a backing folder, on a fresh temp folder; unmounted on drop.
pub struct GateFs {
    /// Where the backing folder shows.
    mountpoint: PathBuf,
    /// The temp folder holding the mount point, the control socket and the log.
    dir: PathBuf,
    control: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl GateFs {
    /// Ok when this machine can mount a gatefs (FUSE device, fusermount3, gcc and libfuse3's
    /// headers, and a first mount that works); otherwise why not. Checked once per binary.
    pub fn available() -> Result<(), String> {
        static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
        PROBE
            .get_or_init(|| {
                binary()?;
                let backing = temp_dir("probe");
                let fs = GateFs::try_mount(&backing);
                let result = fs.map(drop);
                let _ = std::fs::remove_dir_all(&backing);
                result.map_err(|e| format!("a FUSE mount does not work here: {e}"))
            })
            .clone()
    }

    /// Mounts `backing` and waits until the mount answers; panics (with gatefs's log) if it
    /// does not within 10 s.
    pub fn mount(backing: &Path) -> GateFs {
        GateFs::try_mount(backing).unwrap_or_else(|e| panic!("gatefs: {e}"))
    }

    fn try_mount(backing: &Path) -> Result<GateFs, String> {
        let bin = binary()?;
        let dir = temp_dir("mount");
        let mountpoint = dir.join("mnt");
        std::fs::create_dir(&mountpoint).map_err(|e| format!("{}: {e}", mountpoint.display()))?;
        let control = dir.join("control.sock");
        let log = dir.join("gatefs.log");
        let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let child = Command::new(bin)
            .arg(backing)
            .arg(&control)
            .arg(&mountpoint)
            // Foreground, multithreaded; auto_unmount: a killed test leaves no mount behind.
            .args(["-f", "-o", "fsname=gatefs,subtype=gatefs,auto_unmount"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut fs = GateFs { mountpoint, dir, control, log, child: Some(child) };
        let mut exited = None;
        let live = eventually(MOUNT_TIMEOUT, || {
            exited = fs.child.as_mut().unwrap().try_wait().unwrap();
            exited.is_none() && mounted(&fs.mountpoint) && fs.try_command("ping").is_ok_and(|r| r == "ok pong")
        });
        if !live {
            let why = match exited {
                Some(status) => format!("gatefs exited ({status})"),
                None => "the mount did not come up within 10 s".to_string(),
            };
            return Err(format!("{why}: {}", fs.log_text().trim()));
        }
        Ok(fs)
    }

    /// The mount point: the backing folder as the filesystem shows it.
    pub fn path(&self) -> &Path {
        &self.mountpoint
    }

    /// Holds operations of kind `op` on paths matching `pattern` at the gate until released:
    /// `/a/b.bin` is that path exactly (relative to the mount, with its leading slash),
    /// `~part` any path containing `part`, `*` every path.
    pub fn hold(&self, op: Op, pattern: &str) {
        self.command(&format!("hold {op} {}", word(pattern)));
    }

    /// Removes the hold made with the same `op` and `pattern`; what it held goes on.
    pub fn release(&self, op: Op, pattern: &str) {
        self.command(&format!("release {op} {}", word(pattern)));
    }

    /// Removes every hold.
    pub fn release_all(&self) {
        self.command("release all");
    }

    /// Adds `ms` milliseconds to every later operation of kind `op` (0: none).
    pub fn set_delay(&self, op: Op, ms: u64) {
        self.command(&format!("delay {op} {ms}"));
    }

    /// What happened to operations of kind `op` on `path` (exact) since the mount.
    pub fn stat(&self, op: Op, path: &str) -> OpStat {
        let reply = self.command(&format!("stat {op} {}", word(path)));
        let n: Vec<u64> = reply.split(' ').skip(2).step_by(2).map(|v| v.parse().unwrap()).collect();
        match n[..] {
            [arrived, held, delayed] => OpStat { arrived, held, delayed },
            _ => panic!("gatefs: stat answered {reply:?}"),
        }
    }

    /// Blocks until an operation of kind `op` on `path` (exact) is waiting at the gate, or
    /// `within` passes: true when one is. The filesystem itself waits and answers.
    #[must_use]
    pub fn wait_held(&self, op: Op, path: &str, within: Duration) -> bool {
        let ms = within.as_millis();
        let reply = self.command_within(&format!("wait {op} {} 1 {ms}", word(path)), within + MOUNT_TIMEOUT);
        reply.starts_with("ok ")
    }

    /// What gatefs printed (libfuse's messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn command(&self, line: &str) -> String {
        self.command_within(line, MOUNT_TIMEOUT)
    }

    fn command_within(&self, line: &str, within: Duration) -> String {
        match self.try_command_within(line, within) {
            Ok(reply) if reply.starts_with("ok") || reply.starts_with("timeout") => reply,
            Ok(reply) => panic!("gatefs: {line:?} answered {reply:?}"),
            Err(e) => panic!("gatefs: {line:?}: {e}; log: {}", self.log_text()),
        }
    }

    fn try_command(&self, line: &str) -> Result<String, String> {
        self.try_command_within(line, MOUNT_TIMEOUT)
    }

    /// One command on a fresh connection (so a `wait` on one thread does not hold up a
    /// `release` on another), one answer line back.
    fn try_command_within(&self, line: &str, within: Duration) -> Result<String, String> {
        let mut s = UnixStream::connect(&self.control).map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(within)).unwrap();
        s.set_write_timeout(Some(MOUNT_TIMEOUT)).unwrap();
        s.write_all(format!("{line}\n").as_bytes()).map_err(|e| format!("write: {e}"))?;
        let mut reply = String::new();
        BufReader::new(s).read_line(&mut reply).map_err(|e| format!("read: {e}"))?;
        if reply.is_empty() {
            return Err("the control socket closed".into());
        }
        Ok(reply.trim_end().to_string())
    }
}

impl Drop for GateFs {
    fn drop(&mut self) {
        // Let everything held go, so that no reader stays stuck and the mount is not busy.
        let _ = self.try_command("release all");
        for args in [&["-u"][..], &["-u", "-z"][..]] {
            if !mounted(&self.mountpoint) {
                break;
            }
            let _ = Command::new("fusermount3")
                .args(args)
                .arg(&self.mountpoint)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if let Some(mut child) = self.child.take() {
            if !eventually(MOUNT_TIMEOUT, || child.try_wait().is_ok_and(|s| s.is_some())) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        // Never remove a folder that still has the backing folder mounted in it.
        if !mounted(&self.mountpoint) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The compiled gatefs, built once per test binary.
fn binary() -> Result<&'static Path, String> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(build).as_ref().map(PathBuf::as_path).map_err(Clone::clone)
}

fn build() -> Result<PathBuf, String> {
    if !Path::new("/dev/fuse").exists() {
        return Err("no /dev/fuse (FUSE is not available here)".into());
    }
    let runs = |cmd: &str, args: &[&str]| Command::new(cmd).args(args).output().is_ok_and(|o| o.status.success());
    if !runs("fusermount3", &["-V"]) {
        return Err("fusermount3 is not installed (Debian: apt-get install fuse3)".into());
    }
    if !runs("gcc", &["--version"]) {
        return Err("gcc is not installed (Debian: apt-get install gcc)".into());
    }
    let flags = Command::new("pkg-config").args(["--cflags", "--libs", "fuse3"]).output();
    let flags = match flags {
        Ok(o) if o.status.success() => String::from_utf8(o.stdout).unwrap(),
        _ => return Err("libfuse3-dev is not installed (Debian: apt-get install libfuse3-dev pkg-config)".into()),
    };
    // Into a name of this process's own, then renamed into place: test binaries running at
    // the same time never see a half-written file.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let tmp = dir.join(format!("gatefs.{}", std::process::id()));
    let out = Command::new("gcc")
        .args(["-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-o"])
        .arg(&tmp)
        .arg(SOURCE)
        .args(flags.split_whitespace())
        .output()
        .map_err(|e| format!("gcc: {e}"))?;
    if !out.status.success() {
        return Err(format!("gcc could not build {SOURCE}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let bin = dir.join("gatefs");
    std::fs::rename(&tmp, &bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    Ok(bin)
}

/// A fresh folder under the system temp dir.
fn temp_dir(kind: &str) -> PathBuf {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("evserve-fuse-{kind}-{}-{n}", std::process::id()));
    // Not emptied first: a folder left by an earlier run may still have a mount in it.
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// True when something is mounted on `path` (by /proc/self/mountinfo's fifth field).
fn mounted(path: &Path) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else { return false };
    let want = path.to_str().unwrap();
    table.lines().any(|l| l.split(' ').nth(4) == Some(want))
}

/// A path or pattern as one word of the control protocol.
fn word(s: &str) -> &str {
    assert!(!s.is_empty() && !s.contains(char::is_whitespace), "gatefs paths have no blanks: {s:?}");
    s
}
