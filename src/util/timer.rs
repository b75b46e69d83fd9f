//! Deadlines without scanning every connection each turn.
//!
//! One FIFO per timeout kind: every entry of a kind has the same duration, so entries
//! pushed in time order stay sorted, and the earliest deadline of the whole server is the
//! minimum of the queue fronts. A connection's deadline can move (progress on a slow
//! write pushes it back); instead of updating entries, an entry is checked when it comes
//! due: a stale generation is dropped, a deadline that moved later is re-queued.
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Why a connection may be timed out; each kind has one duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// The request head (and any body) must arrive within this long of its first byte
    /// (of accept, for the first request): a trickling client cannot hold a slot.
    Request,
    /// A keep-alive connection may wait this long for its next request.
    Idle,
    /// A response may make no progress for this long (a reader that stopped reading).
    WriteStall,
    /// After an error response and a half-close, unread input is drained this long.
    Linger,
    /// A plan waits for a job (a lookup on a slow disk): as long as a request may take,
    /// but its own kind, since the request did arrive (a 503 on expiry, not a 408).
    Job,
}

impl TimeoutKind {
    const COUNT: usize = 5;

    fn index(self) -> usize {
        self as usize
    }
}

/// The duration of each timeout kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub request: Duration,
    pub idle: Duration,
    pub write_stall: Duration,
    pub linger: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            request: Duration::from_secs(10),
            idle: Duration::from_secs(15),
            write_stall: Duration::from_secs(30),
            linger: Duration::from_secs(2),
        }
    }
}

impl Timeouts {
    pub fn of(&self, kind: TimeoutKind) -> Duration {
        match kind {
            TimeoutKind::Request => self.request,
            TimeoutKind::Idle => self.idle,
            TimeoutKind::WriteStall => self.write_stall,
            TimeoutKind::Linger => self.linger,
            TimeoutKind::Job => self.request,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    at: Instant,
    key: usize,
    generation: u64,
}

/// The armed deadlines of all connections.
#[derive(Debug, Default)]
pub struct Timers {
    queues: [VecDeque<Entry>; TimeoutKind::COUNT],
}

/// What the owner says about a due entry.
pub enum Due {
    /// The entry is stale (the connection is gone or re-armed): drop it.
    Stale,
    /// The connection's deadline moved later: keep watching it at this time.
    Later(Instant),
    /// The deadline passed: the owner has expired the connection.
    Expired,
}

impl Timers {
    /// Arms a deadline for `key`; `generation` tells this arming from earlier ones.
    pub fn arm(&mut self, kind: TimeoutKind, at: Instant, key: usize, generation: u64) {
        let queue = &mut self.queues[kind.index()];
        // Deadlines of one kind arrive almost always in order; the rare one that moved
        // goes to its sorted place (binary search from a sorted deque).
        let i = queue.partition_point(|e| e.at <= at);
        queue.insert(i, Entry { at, key, generation });
    }

    /// The earliest armed deadline, for the poll timeout.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.queues.iter().filter_map(|q| q.front().map(|e| e.at)).min()
    }

    /// Hands every entry due at `now` to `check(kind, key, generation)`.
    pub fn expire(&mut self, now: Instant, mut check: impl FnMut(TimeoutKind, usize, u64) -> Due) {
        for kind in
            [TimeoutKind::Request, TimeoutKind::Idle, TimeoutKind::WriteStall, TimeoutKind::Linger, TimeoutKind::Job]
        {
            while let Some(&entry) = self.queues[kind.index()].front() {
                if entry.at > now {
                    break;
                }
                self.queues[kind.index()].pop_front();
                if let Due::Later(at) = check(kind, entry.key, entry.generation) {
                    self.arm(kind, at, entry.key, entry.generation);
                }
            }
        }
    }

    /// Drops the entries `live(key, generation)` disowns: stale entries otherwise stay
    /// until they come due, so a high connection rate would pile them up.
    pub fn retain(&mut self, mut live: impl FnMut(usize, u64) -> bool) {
        for queue in &mut self.queues {
            queue.retain(|e| live(e.key, e.generation));
        }
    }

    /// Entries held, stale ones included (for tests and stats).
    pub fn len(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_order_and_skips_stale_and_moved() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut timers = Timers::default();
        timers.arm(TimeoutKind::Idle, t0 + s(15), 1, 0);
        timers.arm(TimeoutKind::Request, t0 + s(10), 2, 0);
        timers.arm(TimeoutKind::Request, t0 + s(11), 3, 0);
        timers.arm(TimeoutKind::WriteStall, t0 + s(30), 4, 0);
        assert_eq!(timers.next_deadline(), Some(t0 + s(10)));

        let mut seen = Vec::new();
        timers.expire(t0 + s(9), |_, k, _| {
            seen.push(k);
            Due::Expired
        });
        assert!(seen.is_empty());

        // Key 2 is stale, key 3 moved to t0+20, key 1 expires.
        timers.expire(t0 + s(15), |_, k, _| {
            seen.push(k);
            match k {
                2 => Due::Stale,
                3 => Due::Later(t0 + s(20)),
                _ => Due::Expired,
            }
        });
        assert_eq!(seen, vec![2, 3, 1]);
        assert_eq!(timers.next_deadline(), Some(t0 + s(20)));
        assert_eq!(timers.len(), 2);
        timers.retain(|key, _| key != 4);
        assert_eq!(timers.len(), 1);
        assert_eq!(timers.next_deadline(), Some(t0 + s(20)));
    }

    #[test]
    fn out_of_order_arm_is_sorted() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        timers.arm(TimeoutKind::WriteStall, t0 + Duration::from_secs(5), 1, 0);
        timers.arm(TimeoutKind::WriteStall, t0 + Duration::from_secs(3), 2, 0);
        assert_eq!(timers.next_deadline(), Some(t0 + Duration::from_secs(3)));
    }
}
