//! Stream states for a server (RFC 9113 §5.1): the transitions a stream goes through as
//! HEADERS, DATA and RST_STREAM are received and sent, the errors frames in the wrong state
//! earn, and the rule that a client opens streams with odd, ever-increasing ids (§5.1.1).
//!
//! It holds no streams: the connection keeps a map from id to `State` (and its windows) and
//! asks `PeerStreams` what an id it does not hold means. A server that never pushes never
//! reserves streams, so the reserved states are absent. It does not charge flow control:
//! DATA refused here still counts against the connection window (§6.9), the caller's job.

use super::{Error, ErrorCode, StreamId};

/// Where a stream is in its life (§5.1), for a server that does not push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not yet opened.
    Idle,
    /// Both sides may send.
    Open,
    /// We sent END_STREAM; the client may still send.
    HalfClosedLocal,
    /// The client sent END_STREAM; we may still send.
    HalfClosedRemote,
    /// Done; only stragglers may arrive.
    Closed,
}

/// A frame received or sent on the stream, as far as its state cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// HEADERS received (request headers, or trailers).
    RecvHeaders {
        /// END_STREAM flag.
        end_stream: bool,
    },
    /// DATA received.
    RecvData {
        /// END_STREAM flag.
        end_stream: bool,
    },
    /// RST_STREAM received.
    RecvRstStream,
    /// PRIORITY received: valid in every state.
    RecvPriority,
    /// WINDOW_UPDATE received.
    RecvWindowUpdate,
    /// HEADERS sent (response headers, or trailers).
    SendHeaders {
        /// END_STREAM flag.
        end_stream: bool,
    },
    /// DATA sent.
    SendData {
        /// END_STREAM flag.
        end_stream: bool,
    },
    /// RST_STREAM sent.
    SendRstStream,
}

impl State {
    /// The state after `event` on stream `id`, or the error the RFC prescribes. Sending in a
    /// state that forbids it is our own bug and is reported as INTERNAL_ERROR on the stream.
    pub fn on(self, id: StreamId, event: Event) -> Result<State, Error> {
        use Event::*;
        use State::*;
        let stream = |code| Err(Error::Stream(id, code));
        let half_close_remote =
            |end_stream: bool, open: State, closed: State| Ok(if end_stream { closed } else { open });
        match (self, event) {
            // Any state: PRIORITY changes nothing; RST_STREAM sent closes.
            (_, RecvPriority) => Ok(self),
            (_, SendRstStream) => Ok(Closed),

            // §5.1 idle: only HEADERS (and PRIORITY) may arrive; anything else is a connection
            // PROTOCOL_ERROR. We never open a stream ourselves.
            (Idle, RecvHeaders { end_stream }) => half_close_remote(end_stream, Open, HalfClosedRemote),
            (Idle, RecvData { .. } | RecvRstStream | RecvWindowUpdate) => {
                Err(Error::Connection(ErrorCode::ProtocolError))
            }
            (Idle, SendHeaders { .. } | SendData { .. }) => stream(ErrorCode::InternalError),

            // Open: a second HEADERS is trailers and must end the stream (§8.1).
            (Open, RecvHeaders { end_stream: false }) => stream(ErrorCode::ProtocolError),
            (Open, RecvHeaders { end_stream: true }) => Ok(HalfClosedRemote),
            (Open, RecvData { end_stream }) => half_close_remote(end_stream, Open, HalfClosedRemote),
            (Open, SendHeaders { end_stream } | SendData { end_stream }) => {
                Ok(if end_stream { HalfClosedLocal } else { Open })
            }

            // Half-closed (local): the client may still send; we may not.
            (HalfClosedLocal, RecvHeaders { end_stream: false }) => stream(ErrorCode::ProtocolError),
            (HalfClosedLocal, RecvHeaders { end_stream: true }) => Ok(Closed),
            (HalfClosedLocal, RecvData { end_stream }) => half_close_remote(end_stream, HalfClosedLocal, Closed),
            (HalfClosedLocal, SendHeaders { .. } | SendData { .. }) => stream(ErrorCode::InternalError),

            // Half-closed (remote): anything but WINDOW_UPDATE, PRIORITY, RST_STREAM from the
            // client is STREAM_CLOSED (§5.1).
            (HalfClosedRemote, RecvHeaders { .. } | RecvData { .. }) => stream(ErrorCode::StreamClosed),
            (HalfClosedRemote, SendHeaders { end_stream } | SendData { end_stream }) => {
                Ok(if end_stream { Closed } else { HalfClosedRemote })
            }

            // RST_STREAM received closes any open stream; WINDOW_UPDATE changes no state.
            (Open | HalfClosedLocal | HalfClosedRemote, RecvRstStream) => Ok(Closed),
            (Open | HalfClosedLocal | HalfClosedRemote, RecvWindowUpdate) => Ok(self),

            // Closed: WINDOW_UPDATE and RST_STREAM may still be in flight and are ignored;
            // HEADERS or DATA are STREAM_CLOSED (§5.1); we have nothing left to send.
            (Closed, RecvRstStream | RecvWindowUpdate) => Ok(Closed),
            (Closed, RecvHeaders { .. } | RecvData { .. }) => stream(ErrorCode::StreamClosed),
            (Closed, SendHeaders { .. } | SendData { .. }) => stream(ErrorCode::InternalError),
        }
    }
}

/// The client-initiated stream ids seen so far (§5.1.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerStreams {
    last: StreamId,
}

impl PeerStreams {
    /// The highest id the client has opened: the last-stream-id of our GOAWAY.
    pub fn last(self) -> StreamId {
        self.last
    }

    /// Whether `id` has not been used yet (so a stream the connection does not hold is idle,
    /// not closed).
    pub fn is_idle(self, id: StreamId) -> bool {
        id > self.last
    }

    /// Records HEADERS opening stream `id`: it must be odd and above every id before it,
    /// else a connection PROTOCOL_ERROR. Lower unused ids become closed implicitly.
    pub fn open(&mut self, id: StreamId) -> Result<(), Error> {
        if id.is_multiple_of(2) || id <= self.last {
            return Err(Error::Connection(ErrorCode::ProtocolError));
        }
        self.last = id;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Event::*;
    use super::State::*;
    use super::*;

    const ID: StreamId = 1;

    fn stream(code: ErrorCode) -> Result<State, Error> {
        Err(Error::Stream(ID, code))
    }

    #[test]
    fn transitions_follow_5_1() {
        let conn_protocol = Err(Error::Connection(ErrorCode::ProtocolError));
        let cases: Vec<(State, Event, Result<State, Error>)> = vec![
            (Idle, RecvHeaders { end_stream: false }, Ok(Open)),
            (Idle, RecvHeaders { end_stream: true }, Ok(HalfClosedRemote)),
            (Idle, RecvPriority, Ok(Idle)),
            (Idle, RecvData { end_stream: false }, conn_protocol),
            (Idle, RecvRstStream, conn_protocol),
            (Idle, RecvWindowUpdate, conn_protocol),
            (Idle, SendHeaders { end_stream: false }, stream(ErrorCode::InternalError)),
            (Idle, SendRstStream, Ok(Closed)),
            (Open, RecvData { end_stream: false }, Ok(Open)),
            (Open, RecvData { end_stream: true }, Ok(HalfClosedRemote)),
            (Open, RecvHeaders { end_stream: true }, Ok(HalfClosedRemote)),
            (Open, RecvHeaders { end_stream: false }, stream(ErrorCode::ProtocolError)),
            (Open, RecvRstStream, Ok(Closed)),
            (Open, RecvWindowUpdate, Ok(Open)),
            (Open, SendHeaders { end_stream: false }, Ok(Open)),
            (Open, SendData { end_stream: true }, Ok(HalfClosedLocal)),
            (Open, SendRstStream, Ok(Closed)),
            (HalfClosedRemote, RecvData { end_stream: false }, stream(ErrorCode::StreamClosed)),
            (HalfClosedRemote, RecvHeaders { end_stream: true }, stream(ErrorCode::StreamClosed)),
            (HalfClosedRemote, RecvWindowUpdate, Ok(HalfClosedRemote)),
            (HalfClosedRemote, RecvPriority, Ok(HalfClosedRemote)),
            (HalfClosedRemote, RecvRstStream, Ok(Closed)),
            (HalfClosedRemote, SendHeaders { end_stream: false }, Ok(HalfClosedRemote)),
            (HalfClosedRemote, SendData { end_stream: false }, Ok(HalfClosedRemote)),
            (HalfClosedRemote, SendData { end_stream: true }, Ok(Closed)),
            (HalfClosedRemote, SendHeaders { end_stream: true }, Ok(Closed)),
            (HalfClosedLocal, RecvData { end_stream: false }, Ok(HalfClosedLocal)),
            (HalfClosedLocal, RecvData { end_stream: true }, Ok(Closed)),
            (HalfClosedLocal, RecvHeaders { end_stream: true }, Ok(Closed)),
            (HalfClosedLocal, RecvHeaders { end_stream: false }, stream(ErrorCode::ProtocolError)),
            (HalfClosedLocal, SendData { end_stream: false }, stream(ErrorCode::InternalError)),
            (HalfClosedLocal, RecvRstStream, Ok(Closed)),
            (Closed, RecvData { end_stream: false }, stream(ErrorCode::StreamClosed)),
            (Closed, RecvHeaders { end_stream: false }, stream(ErrorCode::StreamClosed)),
            (Closed, RecvWindowUpdate, Ok(Closed)),
            (Closed, RecvRstStream, Ok(Closed)),
            (Closed, RecvPriority, Ok(Closed)),
            (Closed, SendData { end_stream: true }, stream(ErrorCode::InternalError)),
            (Closed, SendRstStream, Ok(Closed)),
        ];
        for (state, event, want) in cases {
            assert_eq!(state.on(ID, event), want, "{state:?} + {event:?}");
        }
    }

    #[test]
    fn a_whole_request_and_response() {
        let steps = [
            RecvHeaders { end_stream: false },
            RecvData { end_stream: false },
            RecvData { end_stream: true },
            SendHeaders { end_stream: false },
            SendData { end_stream: false },
            SendData { end_stream: true },
        ];
        let end = steps.iter().try_fold(Idle, |state, &event| state.on(ID, event));
        assert_eq!(end, Ok(Closed));
    }

    #[test]
    fn client_ids_are_odd_and_increasing() {
        let mut peer = PeerStreams::default();
        assert!(peer.is_idle(1));
        let conn_protocol = Err(Error::Connection(ErrorCode::ProtocolError));
        let cases: [(StreamId, Result<(), Error>); 7] = [
            (1, Ok(())),
            (1, conn_protocol),
            (2, conn_protocol),
            (7, Ok(())),
            (5, conn_protocol),
            (0, conn_protocol),
            (0x7fff_ffff, Ok(())),
        ];
        for (id, want) in cases {
            assert_eq!(peer.open(id), want, "{id}");
        }
        assert_eq!(peer.last(), 0x7fff_ffff);
        assert!(!peer.is_idle(3), "skipped ids are closed, not idle");
    }
}
