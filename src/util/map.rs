//! A body file's bytes mapped into our address space for the kernel alone to read. HTTP/2
//! over a kernel socket sends a DATA payload by `writev` straight from the mapping: one
//! copy, page cache to socket, where `pread` into a buffer and then `write` make two. On
//! large files over h2c those copies are most of the server's CPU.
//!
//! Our code never reads the mapped bytes itself. A file cut shorter after it was mapped
//! turns a read past its new end into SIGBUS, which would end the whole server; the same
//! fault met by the kernel's own copy only fails the system call (EFAULT), and the
//! connection ends as it does when `pread` finds the file shorter. So a mapping hands out
//! no slices, only `Span`s: an address and a length, for `writev`.
use rustix::fs::{AtFlags, StatxFlags};
use std::fs::File;
use std::io;
use std::ops::{Deref, Range};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Files smaller than this are read into the output as they are (each payload shares the
/// write with its frame header anyway, and a mapping costs a VMA and page faults).
pub const MAP_MIN: u64 = 64 * 1024;

/// Files larger than this are not mapped: the pages a mapping has touched count in the
/// process's RSS for as long as it lives, and a large file would make the server look as
/// big as its media. A stream of a larger file is read into the output instead.
pub const MAP_MAX: u64 = 32 * 1024 * 1024;

/// The most mappings alive at once in the process. Each is a VMA, and the kernel allows a
/// process 65,530 (`vm.max_map_count`); the open-file cache may hold as many files, and the
/// allocator's own large blocks are mappings too, which must never be refused. Past this,
/// files are read into the output instead.
pub const MAPPINGS_MAX: usize = 4096;

/// The mappings alive now.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Counts one more in `live`, unless `max` are alive already.
fn admit(live: &AtomicUsize, max: usize) -> bool {
    live.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < max).then_some(n + 1)).is_ok()
}

/// An open body file and, made the first time a response asks for it, its mapping.
#[derive(Debug)]
pub struct BodyFile {
    file: File,
    len: u64,
    map: OnceLock<Option<Arc<Mapping>>>,
}

impl BodyFile {
    /// `len` is the file's length as stat said when it was opened: what the mapping covers.
    pub fn new(file: File, len: u64) -> Self {
        Self { file, len, map: OnceLock::new() }
    }

    /// The file mapped whole, if it is of a size worth mapping and the file system allows
    /// it (some FUSE file systems do not). `mmap` does no I/O: the pages are found or read
    /// when the kernel first copies from them, which is why a caller asks only for pages
    /// `residency` says are cached. Only a refusal that will not change (the file system
    /// cannot map, or the file may not be) is remembered; one for want of room
    /// (`MAPPINGS_MAX`, the kernel's limits) is tried again by a later response.
    pub fn mapping(&self) -> Option<&Arc<Mapping>> {
        if let Some(made) = self.map.get() {
            return made.as_ref();
        }
        if !(MAP_MIN..=MAP_MAX).contains(&self.len) {
            return None;
        }
        match Mapping::new(&self.file, self.len as usize) {
            // Another thread may have set it meanwhile: then this one is unmapped again.
            Ok(map) => self.map.get_or_init(|| Some(Arc::new(map))).as_ref(),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENODEV | libc::EACCES | libc::EINVAL | libc::EPERM)) => {
                self.map.get_or_init(|| None).as_ref()
            }
            Err(_) => None,
        }
    }

    /// The file still holds `end` bytes. A file cut shorter in place keeps the rest of the
    /// page its new end falls in, as zeros, and the kernel's copy would send them as the
    /// body; only the pages past that page fail it. So this is asked just before each write
    /// from the mapping. `AT_STATX_DONT_SYNC`: the size the kernel holds, never a round trip
    /// to a network file system's server on the loop; `fstat` where `statx` is missing
    /// (Linux before 4.11, some seccomp profiles).
    pub fn holds(&self, end: u64) -> bool {
        let flags = AtFlags::EMPTY_PATH | AtFlags::STATX_DONT_SYNC;
        let size = match rustix::fs::statx(&self.file, "", flags, StatxFlags::SIZE) {
            Ok(st) => Some(st.stx_size),
            Err(_) => rustix::fs::fstat(&self.file).ok().map(|st| st.st_size as u64),
        };
        size.is_some_and(|size| size >= end)
    }
}

impl AsFd for BodyFile {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl Deref for BodyFile {
    type Target = File;

    fn deref(&self) -> &File {
        &self.file
    }
}

/// A read-only shared mapping of a file, unmapped when dropped.
#[derive(Debug)]
pub struct Mapping {
    at: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is read-only and ours alone to unmap (in `drop`); no thread reads
// through its address (only the kernel does, in `writev`), so sharing it is sharing a number.
#[allow(unsafe_code)]
unsafe impl Send for Mapping {}
// SAFETY: as for `Send`: `&Mapping` offers nothing but the address and the length.
#[allow(unsafe_code)]
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps the first `len` bytes of `file` (`len` > 0), shared and read-only.
    #[allow(unsafe_code)]
    pub fn new(file: &File, len: usize) -> io::Result<Self> {
        if len == 0 {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        if !admit(&LIVE, MAPPINGS_MAX) {
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        // SAFETY: a new mapping at an address the kernel chooses, so no memory of ours is
        // replaced; `file` is open for the call (the mapping holds its own reference).
        let at =
            unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0) };
        if at == libc::MAP_FAILED {
            LIVE.fetch_sub(1, Ordering::Relaxed);
            return Err(io::Error::last_os_error());
        }
        // mmap never returns address 0 for a mapping it chose.
        let at = NonNull::new(at.cast()).expect("mmap chose address 0");
        Ok(Self { at, len })
    }

    /// How many bytes are mapped.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no bytes are mapped (never: `new` refuses it).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The mapped bytes of `range` (of the file), for `writev`.
    pub fn span(&self, range: Range<usize>) -> Span<'_> {
        assert!(range.start <= range.end && range.end <= self.len, "{range:?} of {}", self.len);
        Span {
            at: self.at.as_ptr().wrapping_add(range.start),
            len: range.end - range.start,
            _map: std::marker::PhantomData,
        }
    }
}

impl Drop for Mapping {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: `at` and `len` are exactly what `mmap` returned and was given, and this is
        // the one place that unmaps it; no `Span` outlives the borrow of `self` it came from.
        unsafe { libc::munmap(self.at.as_ptr().cast(), self.len) };
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Mapped bytes to send, borrowed from their `Mapping`: an address and a length that only
/// the kernel dereferences.
#[derive(Debug, Clone, Copy)]
pub struct Span<'a> {
    at: *const u8,
    len: usize,
    _map: std::marker::PhantomData<&'a Mapping>,
}

impl Span<'_> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The span without its first `n` bytes (sent already).
    pub fn skip(self, n: usize) -> Self {
        assert!(n <= self.len);
        Span { at: self.at.wrapping_add(n), len: self.len - n, _map: self._map }
    }

    /// The span's first `n` bytes.
    pub fn take(self, n: usize) -> Self {
        Span { len: self.len.min(n), ..self }
    }

    /// The span as `writev` takes it.
    pub fn iovec(&self) -> libc::iovec {
        libc::iovec { iov_base: self.at.cast_mut().cast(), iov_len: self.len }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A file of `bytes`, open to read and write, its name already gone.
    fn file_of(bytes: &[u8]) -> File {
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let made = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("evserve-map-{}-{made}", std::process::id()));
        let mut file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    #[test]
    fn only_files_of_a_size_worth_it_are_mapped() {
        let small = BodyFile::new(file_of(&[1; 100]), 100);
        assert!(small.mapping().is_none());
        let bytes: Vec<u8> = (0..MAP_MIN as usize * 2).map(|i| (i * 7) as u8).collect();
        let big = BodyFile::new(file_of(&bytes), bytes.len() as u64);
        let map = big.mapping().expect("mapped");
        assert_eq!(map.len(), bytes.len());
        assert!(Arc::ptr_eq(map, big.mapping().unwrap()), "mapped once");
        // Too large: not mapped, whatever the file holds.
        assert!(BodyFile::new(file_of(&bytes), MAP_MAX + 1).mapping().is_none());
        // A file that cannot be mapped (a folder) is refused once and for all.
        let folder = BodyFile::new(File::open("/").unwrap(), MAP_MIN);
        assert!(folder.mapping().is_none() && matches!(folder.map.get(), Some(None)));
    }

    #[test]
    fn a_file_cut_shorter_no_longer_holds_what_it_did() {
        let body = BodyFile::new(file_of(&[5; 10_000]), 10_000);
        assert!(body.holds(10_000) && body.holds(0) && !body.holds(10_001));
        body.set_len(9_000).unwrap();
        assert!(body.holds(9_000) && !body.holds(9_001));
    }

    /// Writes `spans` down a pipe with `writev` and reads back what went.
    #[allow(unsafe_code)]
    fn through_a_pipe(spans: &[Span]) -> io::Result<Vec<u8>> {
        let (mut reader, writer) = std::io::pipe().unwrap();
        let iovecs: Vec<libc::iovec> = spans.iter().map(Span::iovec).collect();
        // SAFETY: the iovecs describe live mapped spans, which writev only reads.
        let n = unsafe { libc::writev(writer.as_raw_fd(), iovecs.as_ptr(), iovecs.len() as libc::c_int) };
        drop(writer);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), n as usize);
        Ok(out)
    }

    #[test]
    fn spans_carry_the_files_bytes_to_writev() {
        let bytes: Vec<u8> = (0..20_000).map(|i| (i % 251) as u8).collect();
        let file = file_of(&bytes);
        let map = Mapping::new(&file, bytes.len()).unwrap();
        let spans = [map.span(5..4100), map.span(10_000..10_000).skip(0), map.span(12_000..13_000).skip(100)];
        let mut want = bytes[5..4100].to_vec();
        want.extend_from_slice(&bytes[12_100..13_000]);
        assert_eq!(through_a_pipe(&spans).unwrap(), want);
    }

    /// The reason no slice of a mapping exists: once the file is cut shorter, the kernel's
    /// copy from the pages past its end fails the call, and the process lives on.
    #[test]
    fn a_file_cut_shorter_fails_the_write_without_a_signal() {
        let bytes = vec![9u8; 3 * 4096];
        let file = file_of(&bytes);
        let map = Mapping::new(&file, bytes.len()).unwrap();
        file.set_len(4096).unwrap();
        let err = through_a_pipe(&[map.span(2 * 4096..3 * 4096)]).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EFAULT), "{err}");
        // Across the new end: at most the bytes before it go (a pipe fails the whole call).
        match through_a_pipe(&[map.span(4000..8192)]) {
            Ok(sent) => assert!(sent.len() <= 96 && sent.iter().all(|&b| b == 9), "{}", sent.len()),
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EFAULT), "{e}"),
        }
    }

    #[test]
    fn no_more_than_the_most_are_admitted() {
        let live = AtomicUsize::new(0);
        assert!((0..3).all(|_| admit(&live, 3)));
        assert!(!admit(&live, 3) && live.load(Ordering::Relaxed) == 3);
        live.fetch_sub(1, Ordering::Relaxed);
        assert!(admit(&live, 3));
        // A live mapping counts in the process's own (other tests map meanwhile).
        let _map = Mapping::new(&file_of(&[1; 10]), 10).unwrap();
        assert!(LIVE.load(Ordering::Relaxed) >= 1);
    }

    #[test]
    fn an_empty_or_unmappable_file_is_refused() {
        assert!(Mapping::new(&file_of(b""), 0).is_err());
        let dir = File::open("/").unwrap();
        assert!(Mapping::new(&dir, 4096).is_err());
    }
}
