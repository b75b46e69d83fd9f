//! A regular-file access log written by a thread of its own: the loop hands it whole
//! buffers of whole lines and never waits for the disk (a full disk, a slow network volume).
//! What the thread has not written yet is bounded (`MAX_PENDING`, shared with the pipe
//! writer's bound): past it the loop's writes answer `WouldBlock`, and `AccessLog` keeps,
//! then drops and counts lines exactly as for a pipe whose reader is behind.
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::MAX_PENDING;

/// What the thread is asked to do, in order.
enum Order {
    Write(Vec<u8>),
    /// Open the file at this path again (after logrotate) and write there from now on.
    Reopen(PathBuf, fn(&std::path::Path) -> io::Result<File>),
}

/// The loop's handle on the thread.
#[derive(Debug)]
pub(super) struct Appender {
    orders: Option<Sender<Order>>,
    /// Bytes handed over and not yet written.
    pending: Arc<AtomicUsize>,
    /// Reopens asked for and not yet done: the loop keeps looking (its log retry timer)
    /// until it knows how they went.
    reopening: Arc<AtomicUsize>,
    /// The thread's first write error, for the loop to report once (logging then stops).
    failed: Arc<Mutex<Option<io::Error>>>,
    /// A reopen that failed (the old file is kept), for the loop to say why; the flag is
    /// what the loop looks at each turn, without a lock.
    reopen_failed: Arc<(AtomicBool, Mutex<Option<io::Error>>)>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Order {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Order::Write(b) => write!(f, "Write({} bytes)", b.len()),
            Order::Reopen(p, _) => write!(f, "Reopen({})", p.display()),
        }
    }
}

impl Appender {
    /// Starts the thread that appends to `file`.
    pub(super) fn start(mut file: File) -> io::Result<Appender> {
        let (orders, inbox) = mpsc::channel::<Order>();
        let pending = Arc::new(AtomicUsize::new(0));
        let failed: Arc<Mutex<Option<io::Error>>> = Arc::default();
        let reopen_failed: Arc<(AtomicBool, Mutex<Option<io::Error>>)> = Arc::default();
        let reopening = Arc::new(AtomicUsize::new(0));
        let (p, f, r, o) = (pending.clone(), failed.clone(), reopen_failed.clone(), reopening.clone());
        let thread = std::thread::Builder::new().name("evserve-log".into()).spawn(move || {
            for order in inbox {
                match order {
                    Order::Write(bytes) => {
                        let result = file.write_all(&bytes);
                        p.fetch_sub(bytes.len(), Ordering::AcqRel);
                        if let Err(e) = result {
                            f.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(e);
                        }
                    }
                    Order::Reopen(path, open) => {
                        match open(&path) {
                            Ok(new) => file = new,
                            Err(e) => {
                                *r.1.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                                r.0.store(true, Ordering::Release);
                            }
                        }
                        o.fetch_sub(1, Ordering::AcqRel);
                    }
                }
            }
        })?;
        Ok(Appender { orders: Some(orders), pending, reopening, failed, reopen_failed, thread: Some(thread) })
    }

    /// Hands `bytes` over whole, or answers `WouldBlock` when the thread is that far behind.
    pub(super) fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if let Some(e) = self.failed.lock().unwrap_or_else(PoisonError::into_inner).take() {
            return Err(e);
        }
        if self.pending.load(Ordering::Acquire) + bytes.len() > MAX_PENDING {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.pending.fetch_add(bytes.len(), Ordering::AcqRel);
        self.send(Order::Write(bytes.to_vec()))?;
        Ok(bytes.len())
    }

    /// Lines handed over from now on go to the file opened again at `path` (by the thread:
    /// the open may wait on the disk too).
    pub(super) fn reopen(&mut self, path: PathBuf, open: fn(&std::path::Path) -> io::Result<File>) -> io::Result<()> {
        self.reopening.fetch_add(1, Ordering::AcqRel);
        self.send(Order::Reopen(path, open)).inspect_err(|_| {
            self.reopening.fetch_sub(1, Ordering::AcqRel);
        })
    }

    fn send(&self, order: Order) -> io::Result<()> {
        let orders = self.orders.as_ref().ok_or(io::ErrorKind::BrokenPipe)?;
        orders.send(order).map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }

    /// Why the last reopen failed, once (the thread kept writing to the old file).
    pub(super) fn take_reopen_error(&mut self) -> Option<io::Error> {
        if !self.reopen_failed.0.swap(false, Ordering::AcqRel) {
            return None;
        }
        self.reopen_failed.1.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// The thread is still writing what it was given.
    pub(super) fn is_behind(&self) -> bool {
        self.pending.load(Ordering::Acquire) > 0
    }

    /// A reopen's outcome is not known yet, or a failure not yet taken.
    pub(super) fn is_reopening(&self) -> bool {
        self.reopening.load(Ordering::Acquire) > 0 || self.reopen_failed.0.load(Ordering::Acquire)
    }

    /// At exit: lets the thread write what it holds for up to `grace`, then leaves it (a
    /// disk that does not answer must not hold the exit). Returns the bytes left unwritten.
    pub(super) fn finish(&mut self, grace: Duration) -> usize {
        self.orders = None; // The thread ends once its inbox is empty.
        let deadline = Instant::now() + grace;
        while self.is_behind() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let left = self.pending.load(Ordering::Acquire);
        if left == 0
            && let Some(thread) = self.thread.take()
        {
            let _ = thread.join();
        }
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A writer stuck on its file (here a pipe nobody reads, standing in for a disk that
    /// does not answer) never blocks the caller: past `MAX_PENDING` the caller is told to
    /// wait; once the file takes bytes again, everything handed over arrives, in order.
    #[test]
    fn a_stuck_file_never_blocks_the_caller() {
        let (mut reader, writer) = std::io::pipe().unwrap();
        let mut appender = Appender::start(File::from(std::os::fd::OwnedFd::from(writer))).unwrap();
        let line = vec![b'x'; 4096];
        let mut handed = 0;
        loop {
            match appender.write(&line) {
                Ok(n) => handed += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(handed <= MAX_PENDING + 64 * 1024, "{handed} bytes held for a stuck file");
        assert!(appender.is_behind());
        let mut got = vec![0u8; handed];
        reader.read_exact(&mut got).unwrap();
        assert!(got.iter().all(|&b| b == b'x'));
        assert_eq!(appender.finish(Duration::from_secs(10)), 0);
    }
}
