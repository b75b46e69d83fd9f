//! What a connection hands to the pool, and what comes back: a plan's job (a lookup, a
//! listing, the root's re-check), or a read of a file body's next block that the page cache
//! does not hold, so that the loop's `sendfile` (or TLS `pread`) finds it there and never
//! waits for a disk.
use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use crate::fs::residency::{Residency, residency};
use crate::site::{Done, Job};
use crate::util::map::BodyFile;

/// A body block read ahead by one job: large enough to amortise a pool round trip, small
/// enough that a FUSE or network filesystem serves it in one request (128 KiB is Linux's
/// default FUSE `max_read` and read-ahead window).
pub(crate) const READ_BLOCK: u64 = 128 * 1024;

/// Blocks one connection may have in flight: its read-ahead window (512 KiB). Cold
/// throughput comes from several connections' windows at once, and a few cold downloads
/// cannot fill the pool for everyone else.
pub(crate) const READS_IN_FLIGHT: u8 = 4;

/// The read-ahead window in bytes.
const WINDOW: u64 = READ_BLOCK * READS_IN_FLIGHT as u64;

/// Work to run off the loop.
#[derive(Debug)]
pub enum Work {
    Plan(Job),
    /// Bring `len` bytes of `file` from `offset` into the page cache.
    Read {
        file: Arc<BodyFile>,
        offset: u64,
        len: u64,
    },
}

/// Its outcome.
#[derive(Debug)]
pub enum Finished {
    Plan(Done),
    /// The block at `offset` was read (or failed to be: the send meets the error).
    Read {
        offset: u64,
        result: io::Result<()>,
    },
}

impl Work {
    /// Runs it: may block on a disk, so never on the loop (unless there is no pool).
    pub fn run(self) -> Finished {
        match self {
            Work::Plan(job) => Finished::Plan(job.run()),
            Work::Read { file, offset, len } => Finished::Read { offset, result: read_into_cache(&file, offset, len) },
        }
    }

    /// What it is, for `--trace`.
    pub fn describe(&self) -> String {
        match self {
            Work::Plan(job) => job.describe(),
            Work::Read { offset, len, .. } => format!("read {len} bytes at {offset}"),
        }
    }
}

thread_local! {
    /// Each pool thread's scratch block: the bytes are read to be cached, not kept.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Reads the range once, so the kernel caches it (stops early at the end of the file).
fn read_into_cache(file: &File, mut offset: u64, len: u64) -> io::Result<()> {
    SCRATCH.with_borrow_mut(|buf| {
        buf.resize(READ_BLOCK as usize, 0);
        let end = offset + len;
        while offset < end {
            let want = (end - offset).min(READ_BLOCK) as usize;
            match file.read_at(&mut buf[..want], offset) {
                Ok(0) => return Ok(()),
                Ok(n) => offset += n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    })
}

/// What one streamed body knows of its file's bytes in the page cache, and the reads of
/// its next blocks in flight.
///
/// `cachestat` counts a page as cached from the moment a read starts filling it, so while a
/// read of ours is in flight it would call a half-read block cached and the loop's
/// `sendfile` would wait for the disk. So the kernel is asked only when none of our reads
/// is in flight; once reading ahead, only blocks whose reads finished are sent.
#[derive(Debug, Default)]
pub(crate) struct ReadAhead {
    /// Bytes before this offset are known to be cached, and are sent at once.
    cached_until: u64,
    /// Reads asked of the pool and not yet done; the end of the last one asked.
    in_flight: u8,
    asked_until: u64,
    /// Blocks after `cached_until` whose reads finished first (bit i: the i-th block).
    done: u8,
}

impl ReadAhead {
    /// How many of the `want` bytes of `file` from `offset` (within a segment ending at
    /// `end`) may be sent now without waiting for a disk; 0: none yet, reads are asked
    /// for (`ask` receives them) and their completion brings the connection back.
    pub(crate) fn sendable(
        &mut self,
        file: &Arc<BodyFile>,
        offset: u64,
        want: u64,
        end: u64,
        ask: &mut dyn FnMut(Work),
    ) -> u64 {
        if offset < self.cached_until {
            if self.asked_until > 0 {
                self.read_ahead(file, offset, end, ask); // Keep the window full ahead.
            }
            return want.min(self.cached_until - offset);
        }
        if self.in_flight > 0 {
            self.read_ahead(file, offset, end, ask);
            return 0; // The bytes at `offset` are being read.
        }
        self.cached_until = offset;
        self.done = 0;
        // The read-ahead window at least, so that HTTP/2's 16 KiB frames ask the kernel once
        // a window (twice a MiB) rather than once a frame.
        let span = want.max(WINDOW.min(end - offset));
        if residency(file, offset, span) == Residency::Cached {
            self.cached_until = offset + span;
            return want;
        }
        // Cold somewhere: send what is cached of the first block, read the rest ahead.
        let block = READ_BLOCK.min(end - offset);
        let front = block < span && residency(file, offset, block) == Residency::Cached;
        if front {
            self.cached_until += block;
        }
        self.asked_until = self.cached_until;
        self.read_ahead(file, offset, end, ask);
        if front { want.min(block) } else { 0 }
    }

    /// Asks for the blocks after what is asked already, up to the window past `from`.
    fn read_ahead(&mut self, file: &Arc<BodyFile>, from: u64, end: u64, ask: &mut dyn FnMut(Work)) {
        let window_end = end.min(from + WINDOW);
        let blocks_end = self.cached_until + WINDOW;
        while self.in_flight < READS_IN_FLIGHT && self.asked_until < window_end.min(blocks_end) {
            let len = READ_BLOCK.min(end - self.asked_until);
            ask(Work::Read { file: file.clone(), offset: self.asked_until, len });
            self.in_flight += 1;
            self.asked_until += len;
        }
    }

    /// The read of the block at `offset` finished: the blocks read in order from
    /// `cached_until` on become sendable.
    pub(crate) fn read_done(&mut self, offset: u64) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if offset >= self.cached_until && offset < self.asked_until {
            let i = (offset - self.cached_until) / READ_BLOCK;
            self.done |= 1 << i;
        }
        while self.done & 1 == 1 {
            self.cached_until = (self.cached_until + READ_BLOCK).min(self.asked_until);
            self.done >>= 1;
        }
    }

    /// Reads still in flight.
    #[cfg(test)]
    pub(crate) fn reading(&self) -> bool {
        self.in_flight > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A 1 MiB file dropped from the page cache (skipped where the kernel cannot tell, or
    /// the temp folder cannot drop pages).
    fn cold_file(name: &str) -> Option<Arc<BodyFile>> {
        let path = std::env::temp_dir().join(format!("evserve-readahead-{name}-{}", std::process::id()));
        let mut f = File::create(&path).unwrap();
        f.write_all(&vec![1u8; 1 << 20]).unwrap();
        f.sync_all().unwrap();
        let file = File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        (residency(&file, 0, 1 << 20) == Residency::Cold).then(|| Arc::new(BodyFile::new(file, 1 << 20)))
    }

    #[test]
    fn a_cold_range_asks_for_its_window_then_sends_what_was_read() {
        let Some(file) = cold_file("window") else {
            eprintln!("skipped: no cachestat, or pages that cannot be dropped here");
            return;
        };
        let mut ahead = ReadAhead::default();
        let mut asked = Vec::new();
        let n = ahead.sendable(&file, 0, 1 << 20, 1 << 20, &mut |w| asked.push(w));
        assert_eq!(n, 0, "nothing is sent from a cold file");
        assert_eq!(asked.len(), READS_IN_FLIGHT as usize, "one window");
        assert!(ahead.reading());
        // Asked again while the window is in flight: nothing more, and no look at the cache.
        assert_eq!(ahead.sendable(&file, 0, 1 << 20, 1 << 20, &mut |w| asked.push(w)), 0);
        assert_eq!(asked.len(), READS_IN_FLIGHT as usize);
        // The second block finishes first: still nothing to send.
        let second = asked.remove(1);
        assert!(matches!(second.run(), Finished::Read { offset: READ_BLOCK, result: Ok(()) }));
        ahead.read_done(READ_BLOCK);
        assert_eq!(ahead.sendable(&file, 0, 1 << 20, 1 << 20, &mut |w| asked.push(w)), 0);
        // Then the first: both are sent, and the window moves on.
        let first = asked.remove(0);
        assert!(matches!(first.run(), Finished::Read { offset: 0, result: Ok(()) }));
        ahead.read_done(0);
        let n = ahead.sendable(&file, 0, 1 << 20, 1 << 20, &mut |w| asked.push(w));
        assert_eq!(n, 2 * READ_BLOCK);
        // Sent: the window moves with the send position, two blocks further.
        assert_eq!(ahead.sendable(&file, n, 1 << 20, 1 << 20, &mut |w| asked.push(w)), 0);
        assert_eq!(asked.len(), READS_IN_FLIGHT as usize, "the window refilled by two blocks");
        let Work::Read { offset, .. } = asked.last().unwrap() else { panic!() };
        assert_eq!(*offset, READ_BLOCK * 5);
    }

    #[test]
    fn a_read_that_is_evicted_again_is_asked_for_again() {
        let Some(file) = cold_file("again") else {
            eprintln!("skipped: no cachestat, or pages that cannot be dropped here");
            return;
        };
        let mut ahead = ReadAhead::default();
        let mut asked = 0;
        ahead.sendable(&file, 0, READ_BLOCK, READ_BLOCK, &mut |_| asked += 1);
        assert_eq!(asked, 1, "the segment is one block");
        ahead.read_done(0);
        // Sendable now, from what the read said; once sent past, the kernel is asked again.
        assert_eq!(ahead.sendable(&file, 0, READ_BLOCK, READ_BLOCK, &mut |_| asked += 1), READ_BLOCK);
        assert_eq!(ahead.sendable(&file, READ_BLOCK, 0, READ_BLOCK, &mut |_| asked += 1), 0);
    }

    #[test]
    fn a_small_want_from_a_cached_file_is_checked_once_a_window() {
        let (Some(file), Some(other)) = (cold_file("span"), cold_file("front")) else {
            eprintln!("skipped: no cachestat, or pages that cannot be dropped here");
            return;
        };
        for f in [&file, &other] {
            // No read-ahead by the kernel: what is cached is what the test reads in.
            rustix::fs::fadvise(&**f, 0, None, rustix::fs::Advice::Random).unwrap();
        }
        let frame = 16 * 1024;
        let mut asked = Vec::new();
        // A whole window read in: a frame goes at once, and every frame of the window after
        // it without asking the kernel again (dropped from the cache now, they would be
        // found cold if it were asked).
        let mut ahead = ReadAhead::default();
        assert!(matches!(read_into_cache(&file, 0, WINDOW), Ok(())));
        assert_eq!(ahead.sendable(&file, 0, frame, 1 << 20, &mut |w| asked.push(w)), frame);
        rustix::fs::fadvise(&*file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        for at in (frame..WINDOW).step_by(frame as usize) {
            assert_eq!(ahead.sendable(&file, at, frame, 1 << 20, &mut |w| asked.push(w)), frame);
        }
        assert!(asked.is_empty());
        // Past the window the kernel is asked again, and the bytes there are cold.
        assert_eq!(ahead.sendable(&file, WINDOW, frame, 1 << 20, &mut |w| asked.push(w)), 0);
        assert!(!asked.is_empty());
        // Only the first block cached: its frames go at once, whatever is cold after them.
        let mut ahead = ReadAhead::default();
        assert!(matches!(read_into_cache(&other, 0, READ_BLOCK), Ok(())));
        for at in (0..READ_BLOCK).step_by(frame as usize) {
            assert_eq!(ahead.sendable(&other, at, frame, 1 << 20, &mut |_| {}), frame);
        }
    }
}
