//! The pool's tests. Threads are held and released with channels the test controls; no
//! test sleeps to wait for something, and none measures time. A `recv` that outlasts
//! `HANG` fails the test instead of hanging the run.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;

/// Only a broken pool takes this long to answer; the tests never get near it otherwise.
const HANG: Duration = Duration::from_secs(30);

/// Limits that never call a job stuck and never give up on a thread at shutdown.
const PATIENT: Limits = Limits { stuck_after: Duration::from_secs(3600), join_within: Duration::from_secs(3600) };

/// A wake callback that counts its calls and signals each on a channel.
fn waker() -> (Wake, Arc<AtomicUsize>, Receiver<()>) {
    let count = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let counted = Arc::clone(&count);
    let wake: Wake = Arc::new(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        let _ = tx.send(());
    });
    (wake, count, rx)
}

fn pool<T: Send + 'static>(threads: usize, limits: Limits) -> (Pool<usize, T>, Arc<AtomicUsize>, Receiver<()>) {
    let (wake, count, rx) = waker();
    let pool = Pool::with_limits(threads, "evserve-test", wake, limits).expect("spawn the pool");
    (pool, count, rx)
}

/// Drains until `n` completions have come, waiting on the wake signal between drains, as the
/// loop does.
fn collect<T: Send + 'static>(pool: &Pool<usize, T>, wakes: &Receiver<()>, n: usize) -> Vec<Completion<usize, T>> {
    let mut out = Vec::new();
    loop {
        pool.drain(&mut out);
        if out.len() >= n {
            return out;
        }
        wakes.recv_timeout(HANG).expect("a wake for every completion batch");
    }
}

/// A job that says it started, then waits until the test lets it go.
fn held(started: &Sender<()>) -> (Job<u32>, Sender<()>) {
    let (release, gate) = mpsc::channel::<()>();
    let started = started.clone();
    let job: Job<u32> = Box::new(move || {
        let _ = started.send(());
        let _ = gate.recv();
        7
    });
    (job, release)
}

/// Counts its drops: captured by a job, it tells how often the job was dropped.
struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn one_thread_runs_jobs_in_submit_order() {
    let (pool, _, wakes) = pool::<usize>(1, PATIENT);
    let order = Arc::new(Mutex::new(Vec::new()));
    for i in 0..50 {
        let order = Arc::clone(&order);
        pool.submit(
            i,
            Box::new(move || {
                order.lock().unwrap().push(i);
                i * 2
            }),
        );
    }
    let done = collect(&pool, &wakes, 50);
    assert_eq!(*order.lock().unwrap(), (0..50).collect::<Vec<_>>());
    let tags: Vec<usize> = done.iter().map(|(tag, _)| *tag).collect();
    assert_eq!(tags, (0..50).collect::<Vec<_>>());
    assert!(done.iter().all(|(tag, result)| *result == Ok(tag * 2)));
    assert_eq!(pool.shutdown(), 0);
}

#[test]
fn many_jobs_on_four_threads_each_complete_once() {
    const JOBS: usize = 1000;
    let (pool, _, wakes) = pool::<usize>(4, PATIENT);
    let runs = Arc::new(AtomicUsize::new(0));
    for i in 0..JOBS {
        let runs = Arc::clone(&runs);
        pool.submit(
            i,
            Box::new(move || {
                runs.fetch_add(1, Ordering::SeqCst);
                i + 1
            }),
        );
    }
    let done = collect(&pool, &wakes, JOBS);
    assert_eq!(done.len(), JOBS);
    let mut seen = vec![0u32; JOBS];
    for (tag, result) in &done {
        assert_eq!(*result, Ok(tag + 1));
        seen[*tag] += 1;
    }
    assert!(seen.iter().all(|&n| n == 1), "every tag exactly once");
    assert_eq!(runs.load(Ordering::SeqCst), JOBS);
    let stats = pool.stats();
    assert_eq!((stats.done, stats.queued, stats.running, stats.panicked), (JOBS as u64, 0, 0, 0));
    // Nothing more arrives.
    let mut more = Vec::new();
    pool.drain(&mut more);
    assert!(more.is_empty());
    assert_eq!(pool.shutdown(), 0);
}

#[test]
fn completions_before_a_drain_share_one_wake() {
    const JOBS: usize = 100;
    let (pool, wakes_count, wakes) = pool::<u32>(1, PATIENT);
    for i in 0..JOBS {
        pool.submit(i, Box::new(|| 1));
    }
    // One thread, FIFO: when the held job starts, the 100 before it have all completed.
    let (started, started_rx) = mpsc::channel();
    let (job, release) = held(&started);
    pool.submit(JOBS, job);
    started_rx.recv_timeout(HANG).unwrap();

    let mut out = Vec::new();
    pool.drain(&mut out);
    assert_eq!(out.len(), JOBS);
    assert_eq!(wakes_count.load(Ordering::SeqCst), 1, "100 completions, one wake");

    // After a drain the next completion wakes again.
    release.send(()).unwrap();
    let last = collect(&pool, &wakes, 1);
    assert_eq!(last, vec![(JOBS, Ok(7))]);
    assert_eq!(wakes_count.load(Ordering::SeqCst), 2);
    assert_eq!(pool.shutdown(), 0);
}

#[test]
fn jobs_queue_while_every_thread_is_busy() {
    let (pool, _, wakes) = pool::<u32>(2, PATIENT);
    let (started, started_rx) = mpsc::channel();
    let mut releases = Vec::new();
    for tag in 0..2 {
        let (job, release) = held(&started);
        pool.submit(tag, job);
        releases.push(release);
    }
    started_rx.recv_timeout(HANG).unwrap();
    started_rx.recv_timeout(HANG).unwrap();
    for tag in 2..5 {
        pool.submit(tag, Box::new(|| 1));
    }
    assert_eq!(pool.queued(), 3);
    let stats = pool.stats();
    assert_eq!((stats.queued, stats.running, stats.stuck, stats.done), (3, 2, 0, 0));

    for release in releases {
        release.send(()).unwrap();
    }
    let done = collect(&pool, &wakes, 5);
    assert_eq!(done.len(), 5);
    let stats = pool.stats();
    assert_eq!((stats.queued, stats.running, stats.done), (0, 0, 5));
    assert_eq!(pool.shutdown(), 0);
}

#[test]
fn a_job_running_past_the_threshold_counts_as_stuck() {
    let limits = Limits { stuck_after: Duration::ZERO, ..PATIENT };
    let (pool, _, wakes) = pool::<u32>(2, limits);
    let (started, started_rx) = mpsc::channel();
    let (job, release) = held(&started);
    pool.submit(0, job);
    started_rx.recv_timeout(HANG).unwrap();
    let stats = pool.stats();
    assert_eq!((stats.running, stats.stuck), (1, 1));

    release.send(()).unwrap();
    collect(&pool, &wakes, 1);
    let stats = pool.stats();
    assert_eq!((stats.running, stats.stuck), (0, 0));
    assert_eq!(pool.shutdown(), 0);
}

#[test]
fn a_fresh_job_is_not_stuck() {
    let (pool, _, wakes) = pool::<u32>(1, PATIENT);
    let (started, started_rx) = mpsc::channel();
    let (job, release) = held(&started);
    pool.submit(0, job);
    started_rx.recv_timeout(HANG).unwrap();
    let stats = pool.stats();
    assert_eq!((stats.running, stats.stuck), (1, 0));
    release.send(()).unwrap();
    collect(&pool, &wakes, 1);
    assert_eq!(pool.shutdown(), 0);
}

#[test]
fn longest_wait_is_reset_by_each_read() {
    let (pool, _, wakes) = pool::<u32>(1, PATIENT);
    let (started, started_rx) = mpsc::channel();
    let (job, release) = held(&started);
    pool.submit(0, job);
    pool.submit(1, Box::new(|| 1));
    started_rx.recv_timeout(HANG).unwrap();
    release.send(()).unwrap();
    collect(&pool, &wakes, 2);
    // Whatever the waits were, a second read reports none since the first.
    pool.stats();
    assert_eq!(pool.stats().longest_wait, Duration::ZERO);
    assert_eq!(pool.shutdown(), 0);
}

#[test]
fn shutdown_joins_idle_threads() {
    let (pool, _, _) = pool::<u32>(4, Limits { join_within: Duration::ZERO, ..PATIENT });
    assert_eq!(pool.shutdown(), 0);
}

#[test]
fn shutdown_leaves_a_stuck_thread_and_counts_it() {
    let (pool, _, _) = pool::<u32>(3, Limits { join_within: Duration::ZERO, ..PATIENT });
    let (started, started_rx) = mpsc::channel();
    let (job, release) = held(&started);
    pool.submit(0, job);
    started_rx.recv_timeout(HANG).unwrap();
    // The two idle threads are joined; the held one is left behind.
    assert_eq!(pool.shutdown(), 1);
    // Let the left thread finish on its own.
    release.send(()).unwrap();
}

#[test]
fn shutdown_waits_for_a_running_job_within_the_bound() {
    let (pool, _, _) = pool::<u32>(2, PATIENT);
    let (started, started_rx) = mpsc::channel();
    let (job, release) = held(&started);
    pool.submit(0, job);
    started_rx.recv_timeout(HANG).unwrap();
    // Released from another thread, before or while shutdown waits: either way it is joined.
    let releaser = std::thread::spawn(move || release.send(()).unwrap());
    assert_eq!(pool.shutdown(), 0);
    releaser.join().unwrap();
}

#[test]
fn a_panicking_job_completes_as_panicked_and_the_pool_goes_on() {
    let (pool, _, wakes) = pool::<u32>(1, PATIENT);
    let owned = Arc::new(AtomicUsize::new(0));
    let guard = Dropped(Arc::clone(&owned));
    pool.submit(
        0,
        Box::new(move || {
            let _guard = guard;
            panic!("a job that panics (expected by this test)")
        }),
    );
    pool.submit(1, Box::new(|| 5));
    let done = collect(&pool, &wakes, 2);
    assert_eq!(done, vec![(0, Err(Panicked)), (1, Ok(5))]);
    assert_eq!(owned.load(Ordering::SeqCst), 1, "what the panicking job owned is dropped once");
    let stats = pool.stats();
    assert_eq!((stats.done, stats.panicked), (2, 1));
    // Still all threads there to run more.
    pool.submit(2, Box::new(|| 6));
    assert_eq!(collect(&pool, &wakes, 1), vec![(2, Ok(6))]);
    assert_eq!(pool.shutdown(), 0);
}

/// What `queued_behind_a_held_job` leaves: one thread held at a gate, three jobs queued
/// behind it (tags 1, 2, 3) that count their drops and their runs.
struct Behind {
    pool: Pool<usize, u32>,
    wakes: Receiver<()>,
    drops: Arc<AtomicUsize>,
    runs: Arc<AtomicUsize>,
    release: Sender<()>,
}

fn queued_behind_a_held_job() -> Behind {
    let (pool, _, wakes) = pool::<u32>(1, Limits { join_within: Duration::ZERO, ..PATIENT });
    let (started, started_rx) = mpsc::channel();
    let (job, release) = held(&started);
    pool.submit(0, job);
    started_rx.recv_timeout(HANG).unwrap();
    let (drops, runs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    for tag in 1..4 {
        let (owned, runs) = (Dropped(Arc::clone(&drops)), Arc::clone(&runs));
        pool.submit(
            tag,
            Box::new(move || {
                let _owned = owned;
                runs.fetch_add(1, Ordering::SeqCst);
                1
            }),
        );
    }
    assert_eq!(pool.queued(), 3);
    Behind { pool, wakes, drops, runs, release }
}

#[test]
fn shutdown_drops_queued_jobs_once_without_running_them() {
    let b = queued_behind_a_held_job();
    assert_eq!(b.pool.shutdown(), 1);
    assert_eq!(b.drops.load(Ordering::SeqCst), 3);
    assert_eq!(b.runs.load(Ordering::SeqCst), 0);
    b.release.send(()).unwrap();
}

#[test]
fn drop_drops_queued_jobs_once_without_running_them() {
    let b = queued_behind_a_held_job();
    drop(b.pool);
    assert_eq!(b.drops.load(Ordering::SeqCst), 3);
    assert_eq!(b.runs.load(Ordering::SeqCst), 0);
    b.release.send(()).unwrap();
}

#[test]
fn cancel_drops_only_the_queued_jobs_of_a_tag() {
    let b = queued_behind_a_held_job();
    assert_eq!(b.pool.cancel(2), 1);
    assert_eq!(b.pool.cancel(0), 0, "a running job is not cancelled");
    assert_eq!(b.drops.load(Ordering::SeqCst), 1);
    assert_eq!(b.pool.queued(), 2);
    b.release.send(()).unwrap();
    let mut tags: Vec<usize> = collect(&b.pool, &b.wakes, 3).into_iter().map(|(tag, _)| tag).collect();
    tags.sort_unstable();
    assert_eq!(tags, vec![0, 1, 3]);
    assert_eq!(b.runs.load(Ordering::SeqCst), 2);
    assert_eq!(b.drops.load(Ordering::SeqCst), 3);
    assert_eq!(b.pool.shutdown(), 0);
}

#[test]
fn zero_threads_is_refused() {
    let (wake, _, _) = waker();
    let err = Pool::<usize, u32>::new(0, "evserve-test", wake).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn threads_are_named_after_the_pool() {
    let (pool, _, wakes) = pool::<Option<String>>(2, PATIENT);
    pool.submit(0, Box::new(|| std::thread::current().name().map(str::to_owned)));
    let done = collect(&pool, &wakes, 1);
    let name = done[0].1.clone().unwrap().unwrap();
    assert!(name == "evserve-test-0" || name == "evserve-test-1", "{name}");
    assert_eq!(pool.shutdown(), 0);
}
