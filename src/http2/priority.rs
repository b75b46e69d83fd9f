//! RFC 9218 extensible priorities: the signal and the order it asks of a server.
//!
//! A client says how a response should be scheduled with a Structured Field dictionary, in
//! the `priority` request field or, later, in a PRIORITY_UPDATE frame (§7): `u=0..7` the
//! urgency (0 most urgent, 3 by default) and `i` whether the response is usable as it
//! arrives (incremental). A server should (§10) send more urgent responses first; within one
//! urgency, non-incremental responses one after the other in stream order (the order the
//! client asked), incremental ones sharing the connection by turns. That order is all this
//! module knows: `rank` sorts the streams, `shares_turn` says who may send in the same turn.
//! Which stream can send (windows, reads in flight) stays the caller's: a stream that cannot
//! send is passed over, so a blocked urgent response never holds back the others.

use super::StreamId;

/// The urgency of a response that says none (§4.1).
pub const DEFAULT_URGENCY: u8 = 3;

/// The least urgent urgency (§4.1).
pub const LOWEST_URGENCY: u8 = 7;

/// A response's priority parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    /// 0 (most urgent) to 7.
    pub urgency: u8,
    /// Whether the client uses the response as it arrives.
    pub incremental: bool,
}

impl Default for Priority {
    fn default() -> Self {
        Priority { urgency: DEFAULT_URGENCY, incremental: false }
    }
}

impl Priority {
    /// The parameters of a `priority` field value or a PRIORITY_UPDATE's field value. What is
    /// not understood is ignored (§4: unknown members, values out of range or of the wrong
    /// type), leaving that parameter at its default; a member's own parameters (`;...`) are
    /// ignored. The last occurrence of a member wins, as in a Structured Field dictionary.
    pub fn parse(value: &[u8]) -> Priority {
        let mut p = Priority::default();
        for member in value.split(|&b| b == b',') {
            let member = member.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
            let (key, value) = match member.iter().position(|&b| b == b'=') {
                Some(at) => (&member[..at], Some(&member[at + 1..])),
                None => (member, None),
            };
            match (key, value) {
                (b"u", Some([digit @ b'0'..=b'7'])) => p.urgency = digit - b'0',
                (b"i", None | Some(b"?1")) => p.incremental = true,
                (b"i", Some(b"?0")) => p.incremental = false,
                _ => {}
            }
        }
        p
    }

    /// The order streams are offered a frame in, ascending: by urgency; within it the
    /// non-incremental first, by stream id (sequential); then the incremental, all equal, so
    /// that a stable sort keeps their round-robin order.
    pub fn rank(self, stream: StreamId) -> (u8, bool, StreamId) {
        (self.urgency, self.incremental, if self.incremental { 0 } else { stream })
    }

    /// Whether, in a turn where a stream of priority `self` sent a frame, a stream of
    /// priority `next` (ranked after it) may send one too: only incremental streams of the
    /// same urgency share a turn. A non-incremental stream has its turn to itself.
    pub fn shares_turn(self, next: Priority) -> bool {
        self.incremental && next.incremental && self.urgency == next.urgency
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(urgency: u8, incremental: bool) -> Priority {
        Priority { urgency, incremental }
    }

    #[test]
    fn parses_urgency_and_incremental_and_ignores_the_rest() {
        for (value, want) in [
            (&b""[..], p(3, false)),
            (b"u=0", p(0, false)),
            (b"u=7, i", p(7, true)),
            (b"i", p(3, true)),
            (b"i=?1", p(3, true)),
            (b"i=?0", p(3, false)),
            (b"u=5;foo=bar, i;x", p(5, true)),
            (b"  u=1 ,i  ", p(1, true)),
            (b"u=1, u=6", p(6, false)),  // the last wins
            (b"u=8", p(3, false)),       // out of range: the default
            (b"u=-1, i=1", p(3, false)), // wrong types: ignored
            (b"u=12", p(3, false)),      // not one digit
            (b"x=3, U=1", p(3, false)),  // unknown keys (keys are lowercase)
            (b"u=\"2\", i=?2", p(3, false)),
            (b"\xff\x00,u=2", p(2, false)), // junk members do not spoil the others
        ] {
            assert_eq!(Priority::parse(value), want, "{:?}", String::from_utf8_lossy(value));
        }
    }

    /// One turn over `streams` (id, priority, whether it can send) as the driver takes it:
    /// in rank order, passing over those that cannot send, until one that does not share the
    /// turn of the first that sent. The streams looked at go to the back. Returns who sent.
    fn turn(streams: &mut [(StreamId, Priority, bool)]) -> Vec<StreamId> {
        streams.sort_by_key(|&(id, p, _)| p.rank(id));
        let mut first: Option<Priority> = None;
        let mut sent = Vec::new();
        let mut looked = 0;
        for &(id, p, can_send) in streams.iter() {
            if first.is_some_and(|first| !first.shares_turn(p)) {
                break;
            }
            looked += 1;
            if can_send {
                first = first.or(Some(p));
                sent.push(id);
            }
        }
        streams.rotate_left(looked);
        sent
    }

    #[test]
    fn urgency_first_then_stream_order_then_turns_for_incremental() {
        let mut streams = vec![
            (1, p(3, false), true),
            (3, p(3, false), true),
            (5, p(1, false), true),
            (7, p(1, true), true),
            (9, p(1, true), true),
            (11, p(1, true), true),
        ];
        // u=1 first: the non-incremental 5 alone, turn after turn.
        assert_eq!(turn(&mut streams), [5]);
        assert_eq!(turn(&mut streams), [5]);
        streams.retain(|s| s.0 != 5); // 5 is done.
        // Then the incremental u=1 streams share turns.
        assert_eq!(turn(&mut streams), [7, 9, 11]);
        assert_eq!(turn(&mut streams), [7, 9, 11]);
        streams.retain(|s| s.0 != 9);
        assert_eq!(turn(&mut streams), [7, 11]);
        streams.retain(|s| s.0 == 1 || s.0 == 3);
        // Then u=3 in stream order: 1 to the end, then 3.
        assert_eq!(turn(&mut streams), [1]);
        assert_eq!(turn(&mut streams), [1]);
        streams.retain(|s| s.0 != 1);
        assert_eq!(turn(&mut streams), [3]);
    }

    #[test]
    fn a_stream_that_cannot_send_is_passed_over() {
        let mut streams =
            vec![(1, p(0, false), false), (3, p(2, true), false), (5, p(2, true), true), (7, p(6, false), true)];
        assert_eq!(turn(&mut streams), [5], "the urgent ones wait for windows: the next class goes");
        streams.iter_mut().filter(|s| s.0 == 1).for_each(|s| s.2 = true);
        assert_eq!(turn(&mut streams), [1], "its window opened: it goes first again");
    }

    #[test]
    fn ranks_go_by_urgency_then_kind_and_tie_incremental_streams() {
        // Incremental streams of one urgency tie, so a stable sort keeps the order the last
        // turn left them in: whoever sent last goes last (round-robin).
        let a = p(3, true);
        assert_eq!(a.rank(9), a.rank(1));
        assert!(p(2, false).rank(99) < a.rank(1) && a.rank(1) < p(4, false).rank(1));
        assert!(p(3, false).rank(99) < a.rank(1), "non-incremental before incremental of the same urgency");
        assert!(!p(3, false).shares_turn(p(3, false)) && !a.shares_turn(p(2, true)) && a.shares_turn(p(3, true)));
    }
}
