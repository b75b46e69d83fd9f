//! The access-log lines of the responses a connection is still sending, each written when
//! its own last byte has left.
use std::collections::VecDeque;
use std::time::{Instant, SystemTime};

use super::{AccessLog, Pending, Record};

/// Access-log lines of the responses one connection is still sending (only with
/// `--access-log`). Each response counts its own bytes, so its line is written when its
/// own last byte has left, however the protocol interleaves them: HTTP/1 sends responses
/// one after another (`sent_in_order`), HTTP/2 will name the stream (`sent`). Boxed, and
/// absent without a log, so a connection pays one pointer for it.
#[derive(Debug, Default)]
// Boxed: one pointer in every `Connection` rather than a `VecDeque`'s four words.
#[allow(clippy::box_collection)]
pub(crate) struct ResponseLog(Option<Box<VecDeque<LogEntry>>>);

/// One response's line (none for an interim 100) and its bytes.
#[derive(Debug)]
struct LogEntry {
    /// Which response: HTTP/1 numbers them, HTTP/2 will use the stream.
    id: u32,
    line: Option<Pending>,
    head: u64,
    total: u64,
    sent: u64,
}

impl ResponseLog {
    /// Notes the response `id`: `total` bytes queued for sending, `body` of them a body;
    /// with a record its line is written once they have all left.
    pub(crate) fn queued(
        &mut self,
        log: Option<&mut AccessLog>,
        id: u32,
        record: Option<&Record>,
        total: u64,
        body: u64,
    ) {
        let Some(access_log) = log else { return };
        debug_assert!(body <= total, "a response's body is part of its bytes");
        let line = record.map(|r| access_log.begin(r, SystemTime::now()));
        let entries = self.0.get_or_insert_with(Default::default);
        entries.push_back(LogEntry { id, line, head: total.saturating_sub(body), total, sent: 0 });
    }

    /// `n` more bytes of response `id` left: its line is written once all have.
    #[cfg_attr(not(test), allow(dead_code))] // For HTTP/2's streams.
    pub(crate) fn sent(&mut self, log: Option<&mut AccessLog>, id: u32, n: u64) {
        let (Some(entries), Some(access_log)) = (&mut self.0, log) else { return };
        let Some(at) = entries.iter().position(|e| e.id == id) else { return };
        let e = &mut entries[at];
        e.sent = (e.sent + n).min(e.total);
        if e.sent == e.total
            && let Some(e) = entries.remove(at)
        {
            finish(access_log, e, Instant::now());
        }
    }

    /// `n` more bytes left of responses sent one after another (HTTP/1): they complete
    /// the oldest first.
    pub(crate) fn sent_in_order(&mut self, log: Option<&mut AccessLog>, mut n: u64) {
        let (Some(entries), Some(access_log)) = (&mut self.0, log) else { return };
        while let Some(e) = entries.front_mut() {
            let take = n.min(e.total - e.sent);
            e.sent += take;
            n -= take;
            if e.sent < e.total {
                break;
            }
            let e = entries.pop_front().expect("checked");
            finish(access_log, e, Instant::now());
        }
    }

    /// The connection ends: writes the lines of responses cut short, with the body bytes
    /// that did leave.
    pub(crate) fn abandon(&mut self, log: Option<&mut AccessLog>) {
        let (Some(entries), Some(access_log)) = (self.0.take(), log) else { return };
        let now = Instant::now();
        for e in *entries {
            finish(access_log, e, now);
        }
    }
}

/// Writes a response's line with the body bytes that left.
fn finish(log: &mut AccessLog, e: LogEntry, now: Instant) {
    if let Some(line) = e.line {
        log.finish(line, e.sent.saturating_sub(e.head), now);
    }
}
