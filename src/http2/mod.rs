//! The HTTP/2 protocol layer (RFC 9113, HPACK RFC 7541), written sans-I/O in the manner of
//! python-hyper's h2: the connection is handed the bytes that arrived (`receive(bytes) ->
//! events`) and the caller pulls the bytes to send, so the whole protocol is a pure function of
//! its input and is unit-tested without sockets. This module owns the pieces that model is
//! built from: frame parsing and encoding (`frame`), header compression (`hpack`), the
//! character rules of a field (`field`), flow-control windows (`flow`) and the per-stream state
//! machine (`stream`), plus the error vocabulary they share.
//!
//! It deliberately does no I/O (no mio, no sockets, no `std::io::Read`), keeps no clock, and
//! depends on nothing else in the crate, so the layering stays one-way: the event loop may use
//! it, it never uses the event loop. `connection` glues the pieces into a server connection
//! (preface, SETTINGS acknowledgement, CONTINUATION sequencing, stream bookkeeping, flow
//! control, abuse limits, graceful GOAWAY) and `request` checks a request's fields (§8.2,
//! §8.3); `trace` describes frames one line each for `--trace`. Scheduling DATA against the
//! windows and reading files stay the caller's job.

pub mod connection;
pub mod field;
pub mod flow;
pub mod frame;
pub mod hpack;
pub mod priority;
pub mod request;
pub mod stream;
pub mod trace;

use std::fmt;

/// A stream identifier: 31 bits, the reserved top bit already cleared.
pub type StreamId = u32;

/// The error codes of RFC 9113 §7, carried by RST_STREAM and GOAWAY.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0x0: graceful shutdown, or no error.
    NoError,
    /// 0x1: the peer broke the protocol, nothing more specific applies.
    ProtocolError,
    /// 0x2: our own failure.
    InternalError,
    /// 0x3: the peer broke flow control.
    FlowControlError,
    /// 0x4: a SETTINGS frame was not acknowledged in time.
    SettingsTimeout,
    /// 0x5: a frame arrived on a stream that was already half-closed or closed.
    StreamClosed,
    /// 0x6: a frame had the wrong length.
    FrameSizeError,
    /// 0x7: the stream was refused before any processing (safe to retry).
    RefusedStream,
    /// 0x8: the stream is no longer needed.
    Cancel,
    /// 0x9: the HPACK state can no longer be kept in sync.
    CompressionError,
    /// 0xa: a CONNECT tunnel was reset or closed.
    ConnectError,
    /// 0xb: the peer is generating excessive load.
    EnhanceYourCalm,
    /// 0xc: the transport does not meet the security requirements.
    InadequateSecurity,
    /// 0xd: the peer should use HTTP/1.1 for this request.
    Http11Required,
    /// Any other code: received codes we do not know are kept, not rejected (§7).
    Unknown(u32),
}

impl ErrorCode {
    /// The code as it is carried on the wire.
    pub fn to_u32(self) -> u32 {
        match self {
            ErrorCode::NoError => 0x0,
            ErrorCode::ProtocolError => 0x1,
            ErrorCode::InternalError => 0x2,
            ErrorCode::FlowControlError => 0x3,
            ErrorCode::SettingsTimeout => 0x4,
            ErrorCode::StreamClosed => 0x5,
            ErrorCode::FrameSizeError => 0x6,
            ErrorCode::RefusedStream => 0x7,
            ErrorCode::Cancel => 0x8,
            ErrorCode::CompressionError => 0x9,
            ErrorCode::ConnectError => 0xa,
            ErrorCode::EnhanceYourCalm => 0xb,
            ErrorCode::InadequateSecurity => 0xc,
            ErrorCode::Http11Required => 0xd,
            ErrorCode::Unknown(code) => code,
        }
    }

    /// The code read from the wire; an unknown value stays `Unknown(value)`.
    pub fn from_u32(code: u32) -> ErrorCode {
        match code {
            0x0 => ErrorCode::NoError,
            0x1 => ErrorCode::ProtocolError,
            0x2 => ErrorCode::InternalError,
            0x3 => ErrorCode::FlowControlError,
            0x4 => ErrorCode::SettingsTimeout,
            0x5 => ErrorCode::StreamClosed,
            0x6 => ErrorCode::FrameSizeError,
            0x7 => ErrorCode::RefusedStream,
            0x8 => ErrorCode::Cancel,
            0x9 => ErrorCode::CompressionError,
            0xa => ErrorCode::ConnectError,
            0xb => ErrorCode::EnhanceYourCalm,
            0xc => ErrorCode::InadequateSecurity,
            0xd => ErrorCode::Http11Required,
            other => ErrorCode::Unknown(other),
        }
    }
}

impl From<u32> for ErrorCode {
    fn from(code: u32) -> ErrorCode {
        ErrorCode::from_u32(code)
    }
}

impl From<ErrorCode> for u32 {
    fn from(code: ErrorCode) -> u32 {
        code.to_u32()
    }
}

/// What a protocol violation costs (RFC 9113 §5.4): the whole connection, or one stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Send GOAWAY with this code and close the connection.
    Connection(ErrorCode),
    /// Send RST_STREAM with this code on this stream; the connection goes on.
    Stream(StreamId, ErrorCode),
}

impl Error {
    /// The code to put on the wire.
    pub fn code(self) -> ErrorCode {
        match self {
            Error::Connection(code) | Error::Stream(_, code) => code,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Connection(code) => write!(f, "connection error {code:?}"),
            Error::Stream(id, code) => write!(f, "stream {id} error {code:?}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_round_trip() {
        for wire in 0..=0xdu32 {
            let code = ErrorCode::from_u32(wire);
            assert!(!matches!(code, ErrorCode::Unknown(_)), "{wire:#x} is defined");
            assert_eq!(code.to_u32(), wire);
            assert_eq!(u32::from(ErrorCode::from(wire)), wire);
        }
        for wire in [0xe, 0xff, 0x1234_5678, u32::MAX] {
            assert_eq!(ErrorCode::from_u32(wire), ErrorCode::Unknown(wire));
            assert_eq!(ErrorCode::from_u32(wire).to_u32(), wire);
        }
    }

    #[test]
    fn error_carries_its_code() {
        assert_eq!(Error::Connection(ErrorCode::ProtocolError).code(), ErrorCode::ProtocolError);
        assert_eq!(Error::Stream(3, ErrorCode::Cancel).code(), ErrorCode::Cancel);
        assert_eq!(Error::Stream(3, ErrorCode::Cancel).to_string(), "stream 3 error Cancel");
    }
}
