//! Is a file range in the page cache? The loop sends file bodies itself (`sendfile`, or
//! `pread` into TLS records) only when the kernel says the bytes are there; otherwise a pool
//! thread reads them first, and a slow disk costs the loop nothing.
//!
//! `cachestat(2)` (Linux 6.5) counts the cached pages of a range without touching them, on
//! every filesystem with a page cache (ext4, xfs, FUSE, NFS alike), unlike
//! `preadv2(RWF_NOWAIT)`, which FUSE refuses. Where the kernel cannot tell (older kernels,
//! a file without a page cache), the answer is `Unknown`, which the caller treats as cold.
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// cachestat's number, the same on every architecture (system calls added since Linux 5.1
/// share one table), and missing from the `libc` crate for x86_64.
const SYS_CACHESTAT: libc::c_long = 451;

/// What the kernel said about a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Residency {
    /// Every page of the range is cached: reading it will not wait for a disk.
    Cached,
    /// At least one page would have to be read.
    Cold,
    /// The kernel cannot tell (no cachestat): assume the disk.
    Unknown,
}

/// `struct cachestat_range` of `<linux/mman.h>`.
#[repr(C)]
struct Range {
    off: u64,
    len: u64,
}

/// `struct cachestat` of `<linux/mman.h>`.
#[repr(C)]
#[derive(Default)]
struct Stat {
    nr_cache: u64,
    nr_dirty: u64,
    nr_writeback: u64,
    nr_evicted: u64,
    nr_recently_evicted: u64,
}

/// Whether `len` bytes of `file` from `offset` are all in the page cache (one system call).
pub fn residency(file: &File, offset: u64, len: u64) -> Residency {
    if len == 0 {
        return Residency::Cached;
    }
    let page = rustix::param::page_size() as u64;
    let pages = (offset + len).div_ceil(page) - offset / page;
    match cached_pages(file, offset, len) {
        Ok(cached) if cached >= pages => Residency::Cached,
        Ok(_) => Residency::Cold,
        Err(_) => Residency::Unknown,
    }
}

/// The pages of the range in the page cache, by `cachestat(2)`.
#[allow(unsafe_code)]
fn cached_pages(file: &File, offset: u64, len: u64) -> io::Result<u64> {
    let range = Range { off: offset, len };
    let mut stat = Stat::default();
    // SAFETY: the descriptor is open for the call (borrowed from `file`); `range` and `stat`
    // are live `repr(C)` values of the kernel's layouts on this stack frame: the kernel reads
    // the first and writes the second within their sizes. Flags must be 0.
    let rc =
        unsafe { libc::syscall(SYS_CACHESTAT, file.as_raw_fd(), &raw const range, &raw mut stat, 0 as libc::c_uint) };
    if rc == 0 { Ok(stat.nr_cache) } else { Err(io::Error::last_os_error()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::FileExt;

    /// A file on a disk (on tmpfs pages cannot be dropped: skipped), written, synced and
    /// dropped from the cache: cold; read: cached.
    #[test]
    fn a_dropped_range_is_cold_until_read() {
        let path = std::env::temp_dir().join(format!("evserve-residency-{}", std::process::id()));
        let mut f = File::create(&path).unwrap();
        f.write_all(&vec![7u8; 1 << 20]).unwrap();
        f.sync_all().unwrap();
        let file = File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        if residency(&file, 0, 4096) == Residency::Unknown {
            eprintln!("skipped: this kernel has no cachestat(2)");
            return;
        }
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        if residency(&file, 0, 1 << 20) == Residency::Cached {
            eprintln!("skipped: the temp folder keeps its pages (tmpfs), so nothing is cold");
            return;
        }
        let mut buf = vec![0u8; 64 * 1024];
        file.read_exact_at(&mut buf, 128 * 1024).unwrap();
        assert_eq!(residency(&file, 128 * 1024, 64 * 1024), Residency::Cached);
        assert_eq!(residency(&file, 0, 1 << 20), Residency::Cold, "only part of it was read");
        assert_eq!(residency(&file, 5, 0), Residency::Cached);
    }
}
