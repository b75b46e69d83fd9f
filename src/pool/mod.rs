//! The blocking-work pool: a few threads that run what the loop must not wait for (an open
//! and stat on a cache miss, a folder read, a cold range, a log append, compression) and hand
//! each result back to the loop.
//!
//! ```text
//! loop:   submit(tag, job) -> queue (FIFO, one Mutex) -> notify one idle thread
//! thread: pop -> run the job (panics caught) -> push (tag, result) on the completion queue
//!         -> if that queue was empty: wake()   (one wake per batch, not one per job)
//! loop:   on the wake event -> drain(&mut out) -> route each result by its tag
//! ```
//!
//! It owns the threads, the job queue, the completion queue and the counters `stats` reports.
//! It does not know what a job does, what a tag means (a slab key and serial, to the server),
//! or how the loop is woken: the caller gives a `wake` callback (the server's calls
//! `mio::Waker::wake`), so this layer needs no mio. It never cancels a running job: a job
//! can be dropped only while it is still queued (`cancel`, shutdown).
//!
//! Shutdown (`shutdown` or `Drop`) drops the queued jobs (what they own, descriptors
//! included, is closed once, there), lets the running ones finish within a bound, joins the
//! threads that are out and leaves behind the ones still stuck (a hung network mount), and
//! says how many. Completions not yet drained are dropped with the pool.
mod worker;

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::mem;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A running job older than this counts as stuck in `stats`: no disk answers an open, a stat
/// or a read that late, so the thread waits on something that may never come back (a hung
/// network mount, a dead device).
pub const STUCK_AFTER: Duration = Duration::from_secs(10);

/// How long shutdown waits for running jobs before it leaves their threads behind. Long
/// enough for any healthy disk to finish an open or a read; short enough that a stop or a
/// restart is never held up by a thread that will not come back.
pub const JOIN_WITHIN: Duration = Duration::from_secs(3);

/// What the loop gives the pool to wake it: called once each time the completion queue goes
/// from empty to non-empty, from a pool thread. It must neither block nor panic (the
/// server's only writes to its `mio::Waker` and ignores the error of a loop that has gone).
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// Reads a pool's counters from any thread (`Pool::watch`).
pub type Watch = Arc<dyn Fn() -> Stats + Send + Sync>;

/// A job: runs once on a pool thread and returns its result.
pub type Job<T> = Box<dyn FnOnce() -> T + Send>;

/// One finished job: the tag it was submitted with, and its result or `Panicked`.
pub type Completion<Tag, T> = (Tag, Result<T, Panicked>);

/// The job panicked instead of returning. The thread lives on; whatever the job owned was
/// dropped as the panic unwound. (The panic message itself goes where the process's panic
/// hook sends it: stderr by default.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panicked;

impl fmt::Display for Panicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the job panicked")
    }
}

impl std::error::Error for Panicked {}

/// The two durations the pool is built with; `Default` is `STUCK_AFTER` and `JOIN_WITHIN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A running job older than this counts as stuck.
    pub stuck_after: Duration,
    /// How long shutdown waits for running jobs.
    pub join_within: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { stuck_after: STUCK_AFTER, join_within: JOIN_WITHIN }
    }
}

/// What the pool is doing, for `--stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Jobs waiting for a thread.
    pub queued: usize,
    /// Jobs running now (the stuck ones included).
    pub running: usize,
    /// Running jobs older than the stuck threshold.
    pub stuck: usize,
    /// Jobs finished since the pool started (the panicked ones included).
    pub done: u64,
    /// Jobs that panicked since the pool started.
    pub panicked: u64,
    /// The longest time a job waited between `submit` and its start, since the last `stats`.
    pub longest_wait: Duration,
}

/// The threads, their queue and their completions. `Tag` routes a result back to whoever
/// asked (the server's is a slab key and serial); `T` is what a job returns.
pub struct Pool<Tag: Send + 'static, T: Send + 'static> {
    shared: Arc<Shared<Tag, T>>,
    /// The threads spawned, indexed by slot; emptied by shutdown.
    threads: Vec<JoinHandle<()>>,
    join_within: Duration,
}

/// What the loop and the threads share. Two locks, never held together: `state` for the
/// jobs and counters, `done` for the completions, so the loop's `drain` never waits on a
/// thread taking work.
struct Shared<Tag, T> {
    state: Mutex<State<Tag, T>>,
    /// An idle thread waits here for a job (or the stop).
    work: Condvar,
    /// Shutdown waits here for threads to leave.
    left: Condvar,
    done: Mutex<VecDeque<Completion<Tag, T>>>,
    wake: Wake,
    stuck_after: Duration,
}

struct State<Tag, T> {
    queue: VecDeque<Queued<Tag, T>>,
    /// Per thread slot: when its running job started, `None` while it is idle.
    started: Vec<Option<Instant>>,
    /// Per thread slot: the thread has left its loop (its handle joins at once).
    exited: Vec<bool>,
    /// Threads spawned and not yet out of their loop.
    alive: usize,
    stopping: bool,
    done: u64,
    panicked: u64,
    longest_wait: Duration,
}

struct Queued<Tag, T> {
    tag: Tag,
    job: Job<T>,
    at: Instant,
}

impl<Tag: Send + 'static, T: Send + 'static> Pool<Tag, T> {
    /// Spawns `threads` threads named `{name}-0`, `{name}-1`, … (Linux shows 15 bytes of a
    /// thread's name: `evserve-io` leaves room for the number), with the default `Limits`.
    pub fn new(threads: usize, name: &str, wake: Wake) -> io::Result<Self> {
        Self::with_limits(threads, name, wake, Limits::default())
    }

    /// `new` with the stuck threshold and the shutdown bound given.
    pub fn with_limits(threads: usize, name: &str, wake: Wake, limits: Limits) -> io::Result<Self> {
        if threads == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a pool needs at least one thread"));
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                started: vec![None; threads],
                exited: vec![true; threads],
                alive: 0,
                stopping: false,
                done: 0,
                panicked: 0,
                longest_wait: Duration::ZERO,
            }),
            work: Condvar::new(),
            left: Condvar::new(),
            done: Mutex::new(VecDeque::new()),
            wake,
            stuck_after: limits.stuck_after,
        });
        // Built first so that a failed spawn stops and joins the threads already running.
        let mut pool = Pool { shared, threads: Vec::with_capacity(threads), join_within: limits.join_within };
        for slot in 0..threads {
            {
                let mut state = pool.shared.lock_state();
                state.alive += 1;
                state.exited[slot] = false;
            }
            let shared = Arc::clone(&pool.shared);
            match thread::Builder::new().name(format!("{name}-{slot}")).spawn(move || worker::run(&shared, slot)) {
                Ok(handle) => pool.threads.push(handle),
                Err(e) => {
                    let mut state = pool.shared.lock_state();
                    state.alive -= 1;
                    state.exited[slot] = true;
                    // Released before `pool` drops (and stops) on the way out.
                    drop(state);
                    return Err(e);
                }
            }
        }
        Ok(pool)
    }

    /// Queues `job`; the first idle thread runs it (jobs start in the order submitted). Its
    /// result comes back from `drain` with `tag`. The queue has no bound of its own: the
    /// caller bounds admission with `queued`.
    pub fn submit(&self, tag: Tag, job: Job<T>) {
        let mut state = self.shared.lock_state();
        state.queue.push_back(Queued { tag, job, at: Instant::now() });
        drop(state);
        self.shared.work.notify_one();
    }

    /// Moves every completion so far into `out`, in the order the jobs finished. Never waits
    /// on a running job; meant for the loop's wake event.
    pub fn drain(&self, out: &mut Vec<Completion<Tag, T>>) {
        out.extend(self.shared.lock_done().drain(..));
    }

    /// Jobs submitted and not yet started.
    pub fn queued(&self) -> usize {
        self.shared.lock_state().queue.len()
    }

    /// The counters, and the longest queue wait since the last call (which this resets).
    pub fn stats(&self) -> Stats {
        self.shared.stats(true)
    }

    /// A way to read the counters from another thread (an admin scrape) without the
    /// loop: the pool's own lock, held as briefly as `submit` holds it. `longest_wait`
    /// is left to `stats` (it reads 0 here).
    pub fn watch(&self) -> Watch {
        let shared = Arc::clone(&self.shared);
        Arc::new(move || shared.stats(false))
    }

    /// Stops: drops the queued jobs, waits for the idle threads to leave and for the running
    /// jobs to finish (at most `join_within`), joins every thread that left and leaves the
    /// rest behind. Returns how many threads were left, still running a job.
    pub fn shutdown(mut self) -> usize {
        self.stop()
    }

    fn stop(&mut self) -> usize {
        if self.threads.is_empty() {
            return 0;
        }
        let mut state = self.shared.lock_state();
        state.stopping = true;
        let dropped = mem::take(&mut state.queue);
        drop(state);
        // The jobs' own Drop (closing a descriptor, say) runs here, outside the lock.
        drop(dropped);
        self.shared.work.notify_all();

        let state = self.shared.lock_state();
        // An idle thread leaves as soon as it sees the stop: wait for those without a bound.
        let state = self
            .shared
            .left
            .wait_while(state, |s| s.alive > s.started.iter().flatten().count())
            .unwrap_or_else(PoisonError::into_inner);
        // A running one leaves when its job returns, which may be never.
        let (state, _) = self
            .shared
            .left
            .wait_timeout_while(state, self.join_within, |s| s.alive > 0)
            .unwrap_or_else(PoisonError::into_inner);
        let left = state.alive;
        let exited = state.exited.clone();
        drop(state);

        for (slot, handle) in self.threads.drain(..).enumerate() {
            if exited[slot] {
                // Out of its loop: only returning remains. Jobs' panics are caught, so an
                // error here could only be a `wake` that broke its promise: nothing to do.
                let _ = handle.join();
            }
            // Else the handle drops: the thread is detached and ends, with its job, on its own.
        }
        left
    }
}

impl<Tag: Send + PartialEq + 'static, T: Send + 'static> Pool<Tag, T> {
    /// Drops the queued jobs submitted with `tag` (their client has gone); returns how many.
    /// A job already running is not touched: its completion still comes back.
    pub fn cancel(&self, tag: Tag) -> usize {
        let mut cancelled = Vec::new();
        let mut state = self.shared.lock_state();
        let mut i = 0;
        while i < state.queue.len() {
            if state.queue[i].tag == tag {
                cancelled.extend(state.queue.remove(i));
            } else {
                i += 1;
            }
        }
        drop(state);
        cancelled.len()
    }
}

impl<Tag: Send + 'static, T: Send + 'static> Drop for Pool<Tag, T> {
    fn drop(&mut self) {
        self.stop();
    }
}

impl<Tag: Send + 'static, T: Send + 'static> fmt::Debug for Pool<Tag, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool").field("threads", &self.threads.len()).field("queued", &self.queued()).finish()
    }
}

impl<Tag, T> Shared<Tag, T> {
    /// The counters; `take_wait`: and the longest wait since the last such call (else 0).
    fn stats(&self, take_wait: bool) -> Stats {
        let now = Instant::now();
        let mut state = self.lock_state();
        let mut stats = Stats {
            queued: state.queue.len(),
            done: state.done,
            panicked: state.panicked,
            longest_wait: if take_wait { mem::take(&mut state.longest_wait) } else { Duration::ZERO },
            ..Stats::default()
        };
        for started in state.started.iter().flatten() {
            stats.running += 1;
            if now.saturating_duration_since(*started) >= self.stuck_after {
                stats.stuck += 1;
            }
        }
        stats
    }

    /// No code runs a job or panics while holding a lock, so a poisoned one is still sound.
    fn lock_state(&self) -> MutexGuard<'_, State<Tag, T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_done(&self) -> MutexGuard<'_, VecDeque<Completion<Tag, T>>> {
        self.done.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests;
