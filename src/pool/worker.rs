//! One pool thread's life: take the oldest job, run it with its panic caught, push the
//! result and wake the loop if the completion queue was empty, until the stop. It owns
//! nothing but its slot number; what it shares lives in `Shared`.
use std::panic::{self, AssertUnwindSafe};
use std::sync::PoisonError;
use std::time::Instant;

use super::{Panicked, Shared};

/// Runs jobs for thread `slot` until the pool stops. Leaves the jobs still queued at the
/// stop to the pool, which drops them.
pub(super) fn run<Tag, T>(shared: &Shared<Tag, T>, slot: usize) {
    // Declared first so it drops last, after the lock below is released.
    let _out = Exit { shared, slot };
    let mut state = shared.lock_state();
    loop {
        if state.stopping {
            return;
        }
        let Some(queued) = state.queue.pop_front() else {
            state = shared.work.wait(state).unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        let now = Instant::now();
        state.longest_wait = state.longest_wait.max(now.saturating_duration_since(queued.at));
        state.started[slot] = Some(now);
        drop(state);

        let result = catch(queued.job);
        // Counted before the completion is visible, so that once the loop has drained it,
        // `stats` shows it done and not running.
        state = shared.lock_state();
        state.started[slot] = None;
        state.done += 1;
        state.panicked += u64::from(result.is_err());
        drop(state);
        shared.complete(queued.tag, result);

        state = shared.lock_state();
    }
}

/// Runs `job`, turning a panic into `Panicked`.
fn catch<T>(job: impl FnOnce() -> T) -> Result<T, Panicked> {
    panic::catch_unwind(AssertUnwindSafe(job)).map_err(|payload| {
        // A payload whose own Drop panics would unwind out of the thread: drop it under a
        // catch too, and forget what that throws.
        if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
            std::mem::forget(again);
        }
        Panicked
    })
}

impl<Tag, T> Shared<Tag, T> {
    /// Pushes one completion; wakes the loop only if the queue was empty, since a non-empty
    /// queue means a wake is already on its way and the loop has not drained yet.
    fn complete(&self, tag: Tag, result: Result<T, Panicked>) {
        let mut done = self.lock_done();
        let was_empty = done.is_empty();
        done.push_back((tag, result));
        drop(done);
        if was_empty {
            (self.wake)();
        }
    }
}

/// Counts the thread out when it leaves its loop, however it leaves.
struct Exit<'a, Tag, T> {
    shared: &'a Shared<Tag, T>,
    slot: usize,
}

impl<Tag, T> Drop for Exit<'_, Tag, T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock_state();
        state.alive -= 1;
        state.exited[self.slot] = true;
        state.started[self.slot] = None;
        drop(state);
        self.shared.left.notify_all();
    }
}
