//! HTTP/2 frames (RFC 9113 §4 and §6): the 9-byte header, one decoder per frame type that
//! checks the type's length, stream-id and flag rules and returns a typed frame borrowing the
//! input, a buffer walker (`decode`) that says "need more bytes" instead of copying, and the
//! encoders the server needs, each appending to a `Vec<u8>`.
//!
//! It does not sequence frames: that a CONTINUATION follows its HEADERS, that the first frame
//! is SETTINGS, that a server never accepts PUSH_PROMISE, and which stream state a frame may
//! arrive in are the connection's and `stream`'s rules. Unknown frame types decode to
//! `Frame::Unknown` so the caller can ignore them (§4.1). Encoders trust their caller to keep
//! lengths within the peer's SETTINGS_MAX_FRAME_SIZE (checked by `debug_assert!` only):
//! their inputs are our own responses, never attacker bytes.

use super::{Error, ErrorCode, StreamId};

/// The client connection preface (§3.4), sent before its first SETTINGS frame.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Every frame starts with this many bytes: length (24 bits), type, flags, stream id (§4.1).
pub const HEADER_LEN: usize = 9;

/// The max frame size both ends start with, and the least either may advertise (§4.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;

/// The greatest SETTINGS_MAX_FRAME_SIZE: 2^24-1, all the length field can hold (§6.5.2).
pub const MAX_MAX_FRAME_SIZE: u32 = 16_777_215;

/// The greatest flow-control window and SETTINGS_INITIAL_WINDOW_SIZE: 2^31-1 (§6.9.1).
pub const MAX_WINDOW_SIZE: u32 = 0x7fff_ffff;

/// Clears the reserved bit in front of a stream id (§4.1: ignored on receipt).
const STREAM_ID_MASK: u32 = 0x7fff_ffff;

/// The bytes a PRIORITY frame, or the priority fields of HEADERS, take (§6.3).
const PRIORITY_LEN: usize = 5;

/// Frame flags (§6). Each is meaningful only on the frame types listed.
pub mod flags {
    /// DATA, HEADERS: the sender's last frame on this stream.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: this frame acknowledges the peer's.
    pub const ACK: u8 = 0x1;
    /// HEADERS, PUSH_PROMISE, CONTINUATION: the field block ends in this frame.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS, PUSH_PROMISE: a pad length byte leads, padding trails.
    pub const PADDED: u8 = 0x8;
    /// HEADERS: dependency and weight fields lead the field block.
    pub const PRIORITY: u8 = 0x20;
}

/// SETTINGS identifiers (§6.5.2). Others are ignored on receipt.
pub mod setting {
    /// The HPACK dynamic table size the sender's decoder allows.
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    /// 0 or 1: whether the sender accepts server push.
    pub const ENABLE_PUSH: u16 = 0x2;
    /// How many streams the sender lets its peer open at once.
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    /// The initial stream-level flow-control window the sender grants.
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    /// The largest frame payload the sender accepts.
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    /// Advisory: the largest decoded field section the sender accepts.
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
    /// 0 or 1 (RFC 9218 section 2.1): 1 says the sender uses no RFC 7540 priority signals
    /// (PRIORITY frames), only the `priority` field and PRIORITY_UPDATE.
    pub const NO_RFC7540_PRIORITIES: u16 = 0x9;
}

/// The frame types of §6; any other is `Unknown` and is to be ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameType {
    /// 0x0: request or response content.
    Data,
    /// 0x1: opens a stream and carries a field block.
    Headers,
    /// 0x2: deprecated priority signal, still parsed for its errors.
    Priority,
    /// 0x3: ends one stream.
    RstStream,
    /// 0x4: connection parameters, or their acknowledgement.
    Settings,
    /// 0x5: server push (never valid towards a server).
    PushPromise,
    /// 0x6: liveness and round-trip probe.
    Ping,
    /// 0x7: the connection is shutting down.
    GoAway,
    /// 0x8: flow-control credit.
    WindowUpdate,
    /// 0x9: the rest of a field block.
    Continuation,
    /// 0x10: a request's new RFC 9218 priority (RFC 9218 §7.1).
    PriorityUpdate,
    /// Any other type byte.
    Unknown(u8),
}

impl FrameType {
    /// The type read from the wire.
    pub fn from_u8(kind: u8) -> FrameType {
        match kind {
            0x0 => FrameType::Data,
            0x1 => FrameType::Headers,
            0x2 => FrameType::Priority,
            0x3 => FrameType::RstStream,
            0x4 => FrameType::Settings,
            0x5 => FrameType::PushPromise,
            0x6 => FrameType::Ping,
            0x7 => FrameType::GoAway,
            0x8 => FrameType::WindowUpdate,
            0x9 => FrameType::Continuation,
            0x10 => FrameType::PriorityUpdate,
            other => FrameType::Unknown(other),
        }
    }

    /// The type byte on the wire.
    pub fn to_u8(self) -> u8 {
        match self {
            FrameType::Data => 0x0,
            FrameType::Headers => 0x1,
            FrameType::Priority => 0x2,
            FrameType::RstStream => 0x3,
            FrameType::Settings => 0x4,
            FrameType::PushPromise => 0x5,
            FrameType::Ping => 0x6,
            FrameType::GoAway => 0x7,
            FrameType::WindowUpdate => 0x8,
            FrameType::Continuation => 0x9,
            FrameType::PriorityUpdate => 0x10,
            FrameType::Unknown(other) => other,
        }
    }
}

/// The 9-byte frame header (§4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length, 24 bits.
    pub length: u32,
    /// Frame type.
    pub kind: FrameType,
    /// Type-specific flags.
    pub flags: u8,
    /// Stream id, reserved bit cleared.
    pub stream_id: StreamId,
}

impl FrameHeader {
    /// The header at the start of `buf`, or `None` if fewer than 9 bytes are there.
    pub fn parse(buf: &[u8]) -> Option<FrameHeader> {
        let b: &[u8; HEADER_LEN] = buf.get(..HEADER_LEN)?.try_into().ok()?;
        Some(FrameHeader {
            length: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: FrameType::from_u8(b[3]),
            flags: b[4],
            stream_id: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & STREAM_ID_MASK,
        })
    }

    /// Appends the 9 bytes; `length` above 2^24-1 is a caller bug.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }

    /// The header's 9 bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        debug_assert!(self.length <= MAX_MAX_FRAME_SIZE, "frame length {} too large", self.length);
        let [_, l0, l1, l2] = self.length.to_be_bytes();
        let [s0, s1, s2, s3] = (self.stream_id & STREAM_ID_MASK).to_be_bytes();
        [l0, l1, l2, self.kind.to_u8(), self.flags, s0, s1, s2, s3]
    }

    /// Whether `flag` is set.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// The priority fields of PRIORITY and HEADERS (§6.3), parsed only to check them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    /// The stream this one depends on.
    pub dependency: StreamId,
    /// Whether the dependency is exclusive.
    pub exclusive: bool,
    /// Weight minus one, as on the wire.
    pub weight: u8,
}

/// The known parameters of one SETTINGS frame, each `None` when absent; when a parameter
/// repeats the last value wins (§6.5). Values are already range-checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// SETTINGS_HEADER_TABLE_SIZE.
    pub header_table_size: Option<u32>,
    /// SETTINGS_ENABLE_PUSH.
    pub enable_push: Option<bool>,
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub max_concurrent_streams: Option<u32>,
    /// SETTINGS_INITIAL_WINDOW_SIZE, at most 2^31-1.
    pub initial_window_size: Option<u32>,
    /// SETTINGS_MAX_FRAME_SIZE, within 16384..=16777215.
    pub max_frame_size: Option<u32>,
    /// SETTINGS_MAX_HEADER_LIST_SIZE.
    pub max_header_list_size: Option<u32>,
    /// SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218).
    pub no_rfc7540_priorities: Option<bool>,
}

/// One decoded frame, borrowing its payload from the input buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// DATA, padding removed.
    Data {
        /// Stream id, never 0.
        stream_id: StreamId,
        /// END_STREAM flag.
        end_stream: bool,
        /// The content.
        data: &'a [u8],
        /// The whole payload length, padding included: what flow control counts (§6.1).
        flow_len: u32,
    },
    /// HEADERS, padding and priority fields removed.
    Headers {
        /// Stream id, never 0.
        stream_id: StreamId,
        /// END_STREAM flag.
        end_stream: bool,
        /// END_HEADERS flag: no CONTINUATION follows.
        end_headers: bool,
        /// The priority fields, if the PRIORITY flag was set.
        priority: Option<Priority>,
        /// The field block fragment.
        block: &'a [u8],
    },
    /// PRIORITY.
    Priority {
        /// Stream id, never 0.
        stream_id: StreamId,
        /// The fields.
        priority: Priority,
    },
    /// RST_STREAM.
    RstStream {
        /// Stream id, never 0.
        stream_id: StreamId,
        /// Why.
        code: ErrorCode,
    },
    /// SETTINGS without ACK.
    Settings(Settings),
    /// SETTINGS with ACK (empty).
    SettingsAck,
    /// PUSH_PROMISE, padding removed.
    PushPromise {
        /// Stream id, never 0.
        stream_id: StreamId,
        /// END_HEADERS flag.
        end_headers: bool,
        /// The stream being reserved.
        promised_id: StreamId,
        /// The field block fragment.
        block: &'a [u8],
    },
    /// PING.
    Ping {
        /// ACK flag.
        ack: bool,
        /// The opaque 8 bytes.
        data: [u8; 8],
    },
    /// GOAWAY.
    GoAway {
        /// The last stream the sender may have processed.
        last_stream_id: StreamId,
        /// Why.
        code: ErrorCode,
        /// Opaque diagnostic bytes.
        debug: &'a [u8],
    },
    /// WINDOW_UPDATE; 0 means the connection window.
    WindowUpdate {
        /// Stream id, 0 for the connection.
        stream_id: StreamId,
        /// The credit, 1..=2^31-1.
        increment: u32,
    },
    /// CONTINUATION.
    Continuation {
        /// Stream id, never 0.
        stream_id: StreamId,
        /// END_HEADERS flag.
        end_headers: bool,
        /// The field block fragment.
        block: &'a [u8],
    },
    /// PRIORITY_UPDATE (RFC 9218 §7.1), on stream 0.
    PriorityUpdate {
        /// The request stream whose priority changes, never 0.
        stream_id: StreamId,
        /// The new Priority Field Value (ASCII, as the `priority` field's).
        field: &'a [u8],
    },
    /// A frame of a type we do not know: to be ignored.
    Unknown {
        /// Its type byte.
        kind: u8,
        /// Its stream id.
        stream_id: StreamId,
    },
}

fn connection(code: ErrorCode) -> Error {
    Error::Connection(code)
}

/// A u32 from 4 bytes of `p` at `at`, if they are there.
fn be32(p: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = p.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

/// Frames that belong to a stream may not use stream 0 (§6.1, §6.2, §6.3, §6.4, §6.6, §6.10).
fn require_stream(h: &FrameHeader) -> Result<StreamId, Error> {
    if h.stream_id == 0 { Err(connection(ErrorCode::ProtocolError)) } else { Ok(h.stream_id) }
}

/// Frames that belong to the connection must use stream 0 (§6.5, §6.7, §6.8).
fn require_connection(h: &FrameHeader) -> Result<(), Error> {
    if h.stream_id != 0 { Err(connection(ErrorCode::ProtocolError)) } else { Ok(()) }
}

/// The payload without its PADDED framing: the pad length byte (if the flag is set) and the
/// trailing padding. `skip` more bytes after the pad length (HEADERS' priority fields, the
/// promised id) are returned separately so the padding is checked against what remains.
fn unpad<'a>(h: &FrameHeader, payload: &'a [u8], skip: usize) -> Result<(&'a [u8], &'a [u8]), Error> {
    let (pad, rest) = if h.has(flags::PADDED) {
        match payload.split_first() {
            Some((&pad, rest)) => (usize::from(pad), rest),
            None => return Err(connection(ErrorCode::FrameSizeError)),
        }
    } else {
        (0, payload)
    };
    if rest.len() < skip {
        return Err(connection(ErrorCode::FrameSizeError));
    }
    let (fixed, body) = rest.split_at(skip);
    // §6.1: padding as long as the payload or longer is a PROTOCOL_ERROR.
    let Some(end) = body.len().checked_sub(pad) else {
        return Err(connection(ErrorCode::ProtocolError));
    };
    Ok((fixed, body.get(..end).unwrap_or_default()))
}

fn parse_priority(fields: &[u8]) -> Option<Priority> {
    let word = be32(fields, 0)?;
    Some(Priority {
        dependency: word & STREAM_ID_MASK,
        exclusive: word & !STREAM_ID_MASK != 0,
        weight: *fields.get(4)?,
    })
}

/// DATA (§6.1).
pub fn decode_data<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, Error> {
    let stream_id = require_stream(h)?;
    let (_, data) = unpad(h, payload, 0)?;
    Ok(Frame::Data { stream_id, end_stream: h.has(flags::END_STREAM), data, flow_len: h.length })
}

/// HEADERS (§6.2). A stream depending on itself is a stream error in the RFC; we make it a
/// connection error because dropping the field block would desynchronise HPACK, and §5.4.1
/// lets any stream error be treated as a connection error.
pub fn decode_headers<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, Error> {
    let stream_id = require_stream(h)?;
    let skip = if h.has(flags::PRIORITY) { PRIORITY_LEN } else { 0 };
    let (fields, block) = unpad(h, payload, skip)?;
    let priority = if h.has(flags::PRIORITY) { parse_priority(fields) } else { None };
    if priority.is_some_and(|p| p.dependency == stream_id) {
        return Err(connection(ErrorCode::ProtocolError));
    }
    Ok(Frame::Headers {
        stream_id,
        end_stream: h.has(flags::END_STREAM),
        end_headers: h.has(flags::END_HEADERS),
        priority,
        block,
    })
}

/// PRIORITY (§6.3): exactly 5 bytes, else a stream error; never on itself.
pub fn decode_priority<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, Error> {
    let stream_id = require_stream(h)?;
    if payload.len() != PRIORITY_LEN {
        return Err(Error::Stream(stream_id, ErrorCode::FrameSizeError));
    }
    let priority = parse_priority(payload).ok_or(Error::Stream(stream_id, ErrorCode::FrameSizeError))?;
    if priority.dependency == stream_id {
        return Err(Error::Stream(stream_id, ErrorCode::ProtocolError));
    }
    Ok(Frame::Priority { stream_id, priority })
}

/// RST_STREAM (§6.4): exactly 4 bytes.
pub fn decode_rst_stream<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, Error> {
    let stream_id = require_stream(h)?;
    match (payload.len(), be32(payload, 0)) {
        (4, Some(code)) => Ok(Frame::RstStream { stream_id, code: ErrorCode::from_u32(code) }),
        _ => Err(connection(ErrorCode::FrameSizeError)),
    }
}

/// SETTINGS (§6.5): on stream 0, an ACK is empty, otherwise 6-byte entries with valid values.
pub fn decode_settings<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, Error> {
    require_connection(h)?;
    if h.has(flags::ACK) {
        return if payload.is_empty() { Ok(Frame::SettingsAck) } else { Err(connection(ErrorCode::FrameSizeError)) };
    }
    if !payload.len().is_multiple_of(6) {
        return Err(connection(ErrorCode::FrameSizeError));
    }
    let mut settings = Settings::default();
    for entry in payload.chunks_exact(6) {
        let (Some(id), Some(value)) = (entry.get(..2), be32(entry, 2)) else {
            return Err(connection(ErrorCode::FrameSizeError));
        };
        match u16::from_be_bytes([id[0], id[1]]) {
            setting::HEADER_TABLE_SIZE => settings.header_table_size = Some(value),
            setting::ENABLE_PUSH => match value {
                0 | 1 => settings.enable_push = Some(value == 1),
                _ => return Err(connection(ErrorCode::ProtocolError)),
            },
            setting::MAX_CONCURRENT_STREAMS => settings.max_concurrent_streams = Some(value),
            setting::INITIAL_WINDOW_SIZE if value > MAX_WINDOW_SIZE => {
                return Err(connection(ErrorCode::FlowControlError));
            }
            setting::INITIAL_WINDOW_SIZE => settings.initial_window_size = Some(value),
            setting::MAX_FRAME_SIZE if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&value) => {
                return Err(connection(ErrorCode::ProtocolError));
            }
            setting::MAX_FRAME_SIZE => settings.max_frame_size = Some(value),
            setting::MAX_HEADER_LIST_SIZE => settings.max_header_list_size = Some(value),
            // RFC 9218 section 2.1: any value but 0 or 1 is a PROTOCOL_ERROR.
            setting::NO_RFC7540_PRIORITIES if value > 1 => return Err(connection(ErrorCode::ProtocolError)),
            setting::NO_RFC7540_PRIORITIES => settings.no_rfc7540_priorities = Some(value == 1),
            _ => {} // §6.5.2: unknown settings are ignored.
        }
    }
    Ok(Frame::Settings(settings))
}

/// PUSH_PROMISE (§6.6): parsed so its field block can still reach HPACK.
pub fn decode_push_promise<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, Error> {
    let stream_id = require_stream(h)?;
    let (fixed, block) = unpad(h, payload, 4)?;
    let promised_id = be32(fixed, 0).ok_or(connection(ErrorCode::FrameSizeError))? & STREAM_ID_MASK;
    Ok(Frame::PushPromise { stream_id, end_headers: h.has(flags::END_HEADERS), promised_id, block })
}

/// PING (§6.7): exactly 8 bytes on stream 0.
pub fn decode_ping<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, Error> {
    require_connection(h)?;
    let data: [u8; 8] = payload.try_into().map_err(|_| connection(ErrorCode::FrameSizeError))?;
    Ok(Frame::Ping { ack: h.has(flags::ACK), data })
}

/// GOAWAY (§6.8): at least 8 bytes on stream 0.
pub fn decode_goaway<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, Error> {
    require_connection(h)?;
    let (Some(last), Some(code), Some(debug)) = (be32(payload, 0), be32(payload, 4), payload.get(8..)) else {
        return Err(connection(ErrorCode::FrameSizeError));
    };
    Ok(Frame::GoAway { last_stream_id: last & STREAM_ID_MASK, code: ErrorCode::from_u32(code), debug })
}

/// WINDOW_UPDATE (§6.9): exactly 4 bytes; an increment of 0 is a PROTOCOL_ERROR on the
/// stream it names, or on the connection for stream 0.
pub fn decode_window_update<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, Error> {
    let word = match (payload.len(), be32(payload, 0)) {
        (4, Some(word)) => word,
        _ => return Err(connection(ErrorCode::FrameSizeError)),
    };
    let increment = word & STREAM_ID_MASK; // the top bit is reserved
    match (increment, h.stream_id) {
        (0, 0) => Err(connection(ErrorCode::ProtocolError)),
        (0, id) => Err(Error::Stream(id, ErrorCode::ProtocolError)),
        (increment, stream_id) => Ok(Frame::WindowUpdate { stream_id, increment }),
    }
}

/// PRIORITY_UPDATE (RFC 9218 §7.1): on stream 0, a 4-byte prioritized stream id that is not
/// 0, then the field value.
pub fn decode_priority_update<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, Error> {
    require_connection(h)?;
    let Some(word) = be32(payload, 0) else { return Err(connection(ErrorCode::FrameSizeError)) };
    match word & STREAM_ID_MASK {
        0 => Err(connection(ErrorCode::ProtocolError)),
        stream_id => Ok(Frame::PriorityUpdate { stream_id, field: payload.get(4..).unwrap_or_default() }),
    }
}

/// CONTINUATION (§6.10).
pub fn decode_continuation<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, Error> {
    let stream_id = require_stream(h)?;
    Ok(Frame::Continuation { stream_id, end_headers: h.has(flags::END_HEADERS), block: payload })
}

/// The frame `h` heads, given exactly its payload.
pub fn decode_payload<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, Error> {
    match h.kind {
        FrameType::Data => decode_data(h, payload),
        FrameType::Headers => decode_headers(h, payload),
        FrameType::Priority => decode_priority(h, payload),
        FrameType::RstStream => decode_rst_stream(h, payload),
        FrameType::Settings => decode_settings(h, payload),
        FrameType::PushPromise => decode_push_promise(h, payload),
        FrameType::Ping => decode_ping(h, payload),
        FrameType::GoAway => decode_goaway(h, payload),
        FrameType::WindowUpdate => decode_window_update(h, payload),
        FrameType::Continuation => decode_continuation(h, payload),
        FrameType::PriorityUpdate => decode_priority_update(h, payload),
        FrameType::Unknown(kind) => Ok(Frame::Unknown { kind, stream_id: h.stream_id }),
    }
}

/// The first frame in `buf`: `Ok(None)` until all of it is there, else the frame and the
/// bytes it took. A frame longer than `max_frame_size` (our advertised
/// SETTINGS_MAX_FRAME_SIZE) is refused from its header alone, before its payload is buffered.
pub fn decode(buf: &[u8], max_frame_size: u32) -> Result<Option<(Frame<'_>, usize)>, Error> {
    let Some(h) = FrameHeader::parse(buf) else { return Ok(None) };
    if h.length > max_frame_size {
        return Err(connection(ErrorCode::FrameSizeError));
    }
    let Some(end) = usize::try_from(h.length).ok().and_then(|n| n.checked_add(HEADER_LEN)) else {
        return Err(connection(ErrorCode::FrameSizeError));
    };
    let Some(payload) = buf.get(HEADER_LEN..end) else { return Ok(None) };
    Ok(Some((decode_payload(&h, payload)?, end)))
}

fn put_header(out: &mut Vec<u8>, length: usize, kind: FrameType, flags: u8, stream_id: StreamId) {
    let length = u32::try_from(length).unwrap_or(u32::MAX);
    FrameHeader { length, kind, flags, stream_id }.encode(out);
}

/// SETTINGS with the given (identifier, value) pairs.
pub fn encode_settings(out: &mut Vec<u8>, params: &[(u16, u32)]) {
    put_header(out, params.len().saturating_mul(6), FrameType::Settings, 0, 0);
    for &(id, value) in params {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
    }
}

/// The empty SETTINGS frame with ACK.
pub fn encode_settings_ack(out: &mut Vec<u8>) {
    put_header(out, 0, FrameType::Settings, flags::ACK, 0);
}

/// PING, with ACK when answering the peer's (§6.7: same 8 bytes back).
pub fn encode_ping(out: &mut Vec<u8>, ack: bool, data: [u8; 8]) {
    put_header(out, 8, FrameType::Ping, if ack { flags::ACK } else { 0 }, 0);
    out.extend_from_slice(&data);
}

/// The PING ACK answering a PING carrying `data`.
pub fn encode_ping_ack(out: &mut Vec<u8>, data: [u8; 8]) {
    encode_ping(out, true, data);
}

/// GOAWAY.
pub fn encode_goaway(out: &mut Vec<u8>, last_stream_id: StreamId, code: ErrorCode, debug: &[u8]) {
    put_header(out, debug.len().saturating_add(8), FrameType::GoAway, 0, 0);
    out.extend_from_slice(&(last_stream_id & STREAM_ID_MASK).to_be_bytes());
    out.extend_from_slice(&code.to_u32().to_be_bytes());
    out.extend_from_slice(debug);
}

/// RST_STREAM.
pub fn encode_rst_stream(out: &mut Vec<u8>, stream_id: StreamId, code: ErrorCode) {
    put_header(out, 4, FrameType::RstStream, 0, stream_id);
    out.extend_from_slice(&code.to_u32().to_be_bytes());
}

/// WINDOW_UPDATE; `increment` must be 1..=2^31-1.
pub fn encode_window_update(out: &mut Vec<u8>, stream_id: StreamId, increment: u32) {
    debug_assert!((1..=MAX_WINDOW_SIZE).contains(&increment), "bad window increment {increment}");
    put_header(out, 4, FrameType::WindowUpdate, 0, stream_id);
    out.extend_from_slice(&(increment & STREAM_ID_MASK).to_be_bytes());
}

/// HEADERS, then CONTINUATION if the field block exceeds the peer's max frame size.
pub fn encode_headers(out: &mut Vec<u8>, stream_id: StreamId, block: &[u8], end_stream: bool, max_frame_size: u32) {
    let start = begin_headers(out);
    out.extend_from_slice(block);
    finish_headers(out, start, stream_id, end_stream, max_frame_size);
}

/// Reserves a frame header in `out` for a field block encoded straight after it; returns
/// where it starts, for `finish_headers`.
pub fn begin_headers(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    start
}

/// Writes the HEADERS frame header reserved at `start` for the block that follows it to the
/// end of `out`; a block over the peer's max frame size is cut there, its rest moved into
/// CONTINUATION frames (a copy only in that rare case).
pub fn finish_headers(out: &mut Vec<u8>, start: usize, stream_id: StreamId, end_stream: bool, max_frame_size: u32) {
    // The peer cannot advertise less than the default; clamping also keeps chunks non-empty.
    let max = usize::try_from(max_frame_size.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE)).unwrap_or(16_384);
    let block = start + HEADER_LEN;
    let rest = if out.len() - block > max { out.split_off(block + max) } else { Vec::new() };
    let mut flags = if end_stream { flags::END_STREAM } else { 0 };
    if rest.is_empty() {
        flags |= flags::END_HEADERS;
    }
    let length = u32::try_from(out.len() - block).unwrap_or(u32::MAX);
    out[start..block].copy_from_slice(&FrameHeader { length, kind: FrameType::Headers, flags, stream_id }.to_bytes());
    let mut chunks = rest.chunks(max).peekable();
    while let Some(chunk) = chunks.next() {
        let flags = if chunks.peek().is_none() { flags::END_HEADERS } else { 0 };
        put_header(out, chunk.len(), FrameType::Continuation, flags, stream_id);
        out.extend_from_slice(chunk);
    }
}

/// Only the 9-byte header of a DATA frame of `len` bytes, so the payload can follow by
/// `sendfile`. `len` must fit the peer's max frame size and the flow-control windows.
pub fn encode_data_header(out: &mut Vec<u8>, stream_id: StreamId, len: u32, end_stream: bool) {
    let flags = if end_stream { flags::END_STREAM } else { 0 };
    FrameHeader { length: len, kind: FrameType::Data, flags, stream_id }.encode(out);
}

/// A whole DATA frame (unpadded).
pub fn encode_data(out: &mut Vec<u8>, stream_id: StreamId, data: &[u8], end_stream: bool) {
    encode_data_header(out, stream_id, u32::try_from(data.len()).unwrap_or(u32::MAX), end_stream);
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorCode::*;

    const MAX: u32 = DEFAULT_MAX_FRAME_SIZE;

    fn raw(kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes()[1..]);
        out.push(kind);
        out.push(flags);
        out.extend_from_slice(&stream_id.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn one(bytes: &[u8]) -> Result<Frame<'_>, Error> {
        match decode(bytes, MAX) {
            Ok(Some((frame, n))) => {
                assert_eq!(n, bytes.len());
                Ok(frame)
            }
            Ok(None) => panic!("incomplete: {bytes:?}"),
            Err(e) => Err(e),
        }
    }

    fn setting(id: u16, value: u32) -> Vec<u8> {
        let mut v = id.to_be_bytes().to_vec();
        v.extend_from_slice(&value.to_be_bytes());
        v
    }

    #[test]
    fn preface_is_the_rfc_string() {
        assert_eq!(PREFACE, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    }

    #[test]
    fn header_round_trips_and_clears_the_reserved_bit() {
        let h = FrameHeader { length: 0x01_02_03, kind: FrameType::Unknown(0xfa), flags: 0x25, stream_id: 7 };
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out, [1, 2, 3, 0xfa, 0x25, 0, 0, 0, 7]);
        assert_eq!(FrameHeader::parse(&out), Some(h));
        assert_eq!(FrameHeader::parse(&out[..8]), None);
        let reserved = [0, 0, 0, 0, 0, 0x80, 0, 0, 1];
        assert_eq!(FrameHeader::parse(&reserved).map(|h| h.stream_id), Some(1));
        for t in 0..=255u8 {
            assert_eq!(FrameType::from_u8(t).to_u8(), t);
        }
    }

    #[test]
    fn incomplete_input_waits_and_oversize_is_refused_early() {
        let frame = raw(6, 0, 0, &[1; 8]);
        for cut in 0..frame.len() {
            assert_eq!(decode(&frame[..cut], MAX), Ok(None), "cut at {cut}");
        }
        let mut two = frame.clone();
        two.extend_from_slice(&frame);
        assert_eq!(decode(&two, MAX), Ok(Some((Frame::Ping { ack: false, data: [1; 8] }, 17))));
        // Only the header of a too-long frame is needed to refuse it.
        let huge = [0x00, 0x40, 0x01, 0, 0, 0, 0, 0, 1];
        assert_eq!(decode(&huge, MAX), Err(Error::Connection(FrameSizeError)));
        assert_eq!(decode(&huge, MAX + 1), Ok(None));
    }

    #[test]
    fn decodes_valid_frames() {
        let prio = [0x80, 0, 0, 3, 15];
        let p = Priority { dependency: 3, exclusive: true, weight: 15 };
        let mut headers_padded_prio = vec![2];
        headers_padded_prio.extend_from_slice(&prio);
        headers_padded_prio.extend_from_slice(b"blk\0\0");
        let mut settings = setting(setting::HEADER_TABLE_SIZE, 0);
        settings.extend(setting(setting::ENABLE_PUSH, 0));
        settings.extend(setting(setting::MAX_CONCURRENT_STREAMS, 100));
        settings.extend(setting(setting::INITIAL_WINDOW_SIZE, MAX_WINDOW_SIZE));
        settings.extend(setting(setting::MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE));
        settings.extend(setting(setting::MAX_HEADER_LIST_SIZE, 8192));
        settings.extend(setting(setting::NO_RFC7540_PRIORITIES, 1));
        settings.extend(setting(0xff, 7)); // unknown: ignored
        settings.extend(setting(setting::MAX_CONCURRENT_STREAMS, 10)); // last wins
        let all = Settings {
            header_table_size: Some(0),
            enable_push: Some(false),
            max_concurrent_streams: Some(10),
            initial_window_size: Some(MAX_WINDOW_SIZE),
            max_frame_size: Some(MAX_MAX_FRAME_SIZE),
            max_header_list_size: Some(8192),
            no_rfc7540_priorities: Some(true),
        };
        let cases: Vec<(&str, Vec<u8>, Frame<'_>)> = vec![
            ("data", raw(0, 1, 1, b"hi"), Frame::Data { stream_id: 1, end_stream: true, data: b"hi", flow_len: 2 }),
            (
                "data padded",
                raw(0, 8, 1, b"\x03hi\0\0\0"),
                Frame::Data { stream_id: 1, end_stream: false, data: b"hi", flow_len: 6 },
            ),
            (
                "data pad all",
                raw(0, 8, 1, b"\x02\0\0"),
                Frame::Data { stream_id: 1, end_stream: false, data: b"", flow_len: 3 },
            ),
            (
                "headers",
                raw(1, 5, 1, b"blk"),
                Frame::Headers { stream_id: 1, end_stream: true, end_headers: true, priority: None, block: b"blk" },
            ),
            (
                "headers padded priority",
                raw(1, 0x28, 5, &headers_padded_prio),
                Frame::Headers {
                    stream_id: 5,
                    end_stream: false,
                    end_headers: false,
                    priority: Some(p),
                    block: b"blk",
                },
            ),
            ("priority", raw(2, 0, 5, &prio), Frame::Priority { stream_id: 5, priority: p }),
            ("rst", raw(3, 0, 5, &[0, 0, 0, 8]), Frame::RstStream { stream_id: 5, code: Cancel }),
            ("rst unknown code", raw(3, 0, 5, &[0, 0, 1, 0]), Frame::RstStream { stream_id: 5, code: Unknown(256) }),
            ("settings", raw(4, 0, 0, &settings), Frame::Settings(all)),
            ("settings empty", raw(4, 0, 0, &[]), Frame::Settings(Settings::default())),
            ("settings ack", raw(4, 1, 0, &[]), Frame::SettingsAck),
            (
                "push promise",
                raw(5, 0xc, 1, b"\x01\x80\0\0\x02b\0"),
                Frame::PushPromise { stream_id: 1, end_headers: true, promised_id: 2, block: b"b" },
            ),
            ("ping", raw(6, 1, 0, b"12345678"), Frame::Ping { ack: true, data: *b"12345678" }),
            (
                "goaway",
                raw(7, 0, 0, b"\x80\0\0\x07\0\0\0\x0bdbg"),
                Frame::GoAway { last_stream_id: 7, code: EnhanceYourCalm, debug: b"dbg" },
            ),
            ("window conn", raw(8, 0, 0, &[0x80, 0, 0, 1]), Frame::WindowUpdate { stream_id: 0, increment: 1 }),
            (
                "window stream",
                raw(8, 0, 3, &[0x7f, 0xff, 0xff, 0xff]),
                Frame::WindowUpdate { stream_id: 3, increment: MAX_WINDOW_SIZE },
            ),
            (
                "continuation",
                raw(9, 4, 3, b"more"),
                Frame::Continuation { stream_id: 3, end_headers: true, block: b"more" },
            ),
            (
                "priority update",
                raw(0x10, 0, 0, b"\x80\0\0\x05u=1, i"),
                Frame::PriorityUpdate { stream_id: 5, field: b"u=1, i" },
            ),
            (
                "priority update empty",
                raw(0x10, 0, 0, &[0, 0, 0, 7]),
                Frame::PriorityUpdate { stream_id: 7, field: b"" },
            ),
            ("unknown", raw(0x42, 0xff, 9, b"whatever"), Frame::Unknown { kind: 0x42, stream_id: 9 }),
        ];
        for (name, bytes, want) in cases {
            assert_eq!(one(&bytes), Ok(want), "{name}");
        }
    }

    #[test]
    fn refuses_each_rule_with_its_error() {
        let conn = Error::Connection;
        let cases: Vec<(&str, Vec<u8>, Error)> = vec![
            ("data on stream 0", raw(0, 0, 0, b"x"), conn(ProtocolError)),
            ("data padded, no pad length", raw(0, 8, 1, b""), conn(FrameSizeError)),
            ("data padding = payload", raw(0, 8, 1, b"\x01"), conn(ProtocolError)),
            ("data padding > payload", raw(0, 8, 1, b"\xff"), conn(ProtocolError)),
            ("headers on stream 0", raw(1, 4, 0, b"x"), conn(ProtocolError)),
            ("priority update on a stream", raw(0x10, 0, 1, &[0, 0, 0, 1]), conn(ProtocolError)),
            ("priority update for stream 0", raw(0x10, 0, 0, b"\x80\0\0\0u=1"), conn(ProtocolError)),
            ("priority update short", raw(0x10, 0, 0, &[0, 0, 1]), conn(FrameSizeError)),
            ("headers padding too long", raw(1, 8, 1, b"\x03ab"), conn(ProtocolError)),
            ("headers priority short", raw(1, 0x20, 1, &[0, 0, 0, 3]), conn(FrameSizeError)),
            ("headers padding eats priority", raw(1, 0x28, 1, &[1, 0, 0, 0, 3, 1]), conn(ProtocolError)),
            ("headers depends on itself", raw(1, 0x20, 3, &[0, 0, 0, 3, 1]), conn(ProtocolError)),
            ("priority on stream 0", raw(2, 0, 0, &[0, 0, 0, 1, 1]), conn(ProtocolError)),
            ("priority length 4", raw(2, 0, 3, &[0, 0, 0, 1]), Error::Stream(3, FrameSizeError)),
            ("priority length 6", raw(2, 0, 3, &[0, 0, 0, 1, 1, 1]), Error::Stream(3, FrameSizeError)),
            ("priority on itself", raw(2, 0, 3, &[0, 0, 0, 3, 1]), Error::Stream(3, ProtocolError)),
            ("rst on stream 0", raw(3, 0, 0, &[0; 4]), conn(ProtocolError)),
            ("rst length 3", raw(3, 0, 1, &[0; 3]), conn(FrameSizeError)),
            ("rst length 5", raw(3, 0, 1, &[0; 5]), conn(FrameSizeError)),
            ("settings on a stream", raw(4, 0, 1, &[]), conn(ProtocolError)),
            ("settings ack with payload", raw(4, 1, 0, &setting(1, 0)), conn(FrameSizeError)),
            ("settings length 5", raw(4, 0, 0, &[0; 5]), conn(FrameSizeError)),
            ("settings length 7", raw(4, 0, 0, &[0; 7]), conn(FrameSizeError)),
            ("enable push 2", raw(4, 0, 0, &setting(setting::ENABLE_PUSH, 2)), conn(ProtocolError)),
            ("window size 2^31", raw(4, 0, 0, &setting(setting::INITIAL_WINDOW_SIZE, 1 << 31)), conn(FlowControlError)),
            ("max frame 16383", raw(4, 0, 0, &setting(setting::MAX_FRAME_SIZE, 16_383)), conn(ProtocolError)),
            ("max frame 2^24", raw(4, 0, 0, &setting(setting::MAX_FRAME_SIZE, 1 << 24)), conn(ProtocolError)),
            ("push promise on stream 0", raw(5, 4, 0, &[0, 0, 0, 2]), conn(ProtocolError)),
            ("push promise short", raw(5, 4, 1, &[0, 0, 2]), conn(FrameSizeError)),
            ("push promise padding", raw(5, 0xc, 1, &[1, 0, 0, 0, 2]), conn(ProtocolError)),
            ("ping on a stream", raw(6, 0, 1, &[0; 8]), conn(ProtocolError)),
            ("ping length 7", raw(6, 0, 0, &[0; 7]), conn(FrameSizeError)),
            ("ping length 9", raw(6, 0, 0, &[0; 9]), conn(FrameSizeError)),
            ("goaway on a stream", raw(7, 0, 1, &[0; 8]), conn(ProtocolError)),
            ("goaway length 7", raw(7, 0, 0, &[0; 7]), conn(FrameSizeError)),
            ("window length 3", raw(8, 0, 0, &[0, 0, 1]), conn(FrameSizeError)),
            ("window length 5", raw(8, 0, 1, &[0, 0, 0, 1, 0]), conn(FrameSizeError)),
            ("window 0 on connection", raw(8, 0, 0, &[0; 4]), conn(ProtocolError)),
            ("window 0 on stream", raw(8, 0, 5, &[0; 4]), Error::Stream(5, ProtocolError)),
            ("window reserved bit only", raw(8, 0, 5, &[0x80, 0, 0, 0]), Error::Stream(5, ProtocolError)),
            ("continuation on stream 0", raw(9, 4, 0, b"x"), conn(ProtocolError)),
        ];
        for (name, bytes, want) in cases {
            assert_eq!(one(&bytes), Err(want), "{name}");
        }
    }

    #[test]
    fn encoders_round_trip() {
        let mut out = Vec::new();
        encode_settings(&mut out, &[(setting::MAX_CONCURRENT_STREAMS, 100), (setting::INITIAL_WINDOW_SIZE, 65_535)]);
        let want =
            Settings { max_concurrent_streams: Some(100), initial_window_size: Some(65_535), ..Settings::default() };
        assert_eq!(one(&out), Ok(Frame::Settings(want)));

        let cases: Vec<(Vec<u8>, Frame<'_>)> = vec![
            (
                {
                    let mut o = Vec::new();
                    encode_settings_ack(&mut o);
                    o
                },
                Frame::SettingsAck,
            ),
            (
                {
                    let mut o = Vec::new();
                    encode_ping_ack(&mut o, *b"abcdefgh");
                    o
                },
                Frame::Ping { ack: true, data: *b"abcdefgh" },
            ),
            (
                {
                    let mut o = Vec::new();
                    encode_ping(&mut o, false, [9; 8]);
                    o
                },
                Frame::Ping { ack: false, data: [9; 8] },
            ),
            (
                {
                    let mut o = Vec::new();
                    encode_goaway(&mut o, 9, ProtocolError, b"bye");
                    o
                },
                Frame::GoAway { last_stream_id: 9, code: ProtocolError, debug: b"bye" },
            ),
            (
                {
                    let mut o = Vec::new();
                    encode_rst_stream(&mut o, 3, RefusedStream);
                    o
                },
                Frame::RstStream { stream_id: 3, code: RefusedStream },
            ),
            (
                {
                    let mut o = Vec::new();
                    encode_window_update(&mut o, 0, 1 << 20);
                    o
                },
                Frame::WindowUpdate { stream_id: 0, increment: 1 << 20 },
            ),
            (
                {
                    let mut o = Vec::new();
                    encode_data(&mut o, 7, b"body", true);
                    o
                },
                Frame::Data { stream_id: 7, end_stream: true, data: b"body", flow_len: 4 },
            ),
            (
                {
                    let mut o = Vec::new();
                    encode_headers(&mut o, 7, b"\x88", false, MAX);
                    o
                },
                Frame::Headers { stream_id: 7, end_stream: false, end_headers: true, priority: None, block: b"\x88" },
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(one(&bytes), Ok(want));
        }

        let mut head = Vec::new();
        encode_data_header(&mut head, 1, 3, false);
        assert_eq!(head, [0, 0, 3, 0, 0, 0, 0, 0, 1]);
        head.extend_from_slice(b"abc");
        assert_eq!(one(&head), Ok(Frame::Data { stream_id: 1, end_stream: false, data: b"abc", flow_len: 3 }));
    }

    #[test]
    fn large_header_blocks_are_split_into_continuations() {
        let block: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        encode_headers(&mut out, 11, &block, true, 0); // 0 is clamped to the 16384 floor
        let mut rest = &out[..];
        let mut seen = Vec::new();
        let mut frames = Vec::new();
        while let Some((frame, n)) = decode(rest, MAX).unwrap() {
            frames.push(frame);
            rest = &rest[n..];
        }
        assert!(rest.is_empty());
        assert_eq!(frames.len(), 3);
        for (i, frame) in frames.iter().enumerate() {
            let last = i == 2;
            match *frame {
                Frame::Headers { stream_id: 11, end_stream: true, end_headers, priority: None, block } if i == 0 => {
                    assert!(!end_headers);
                    seen.extend_from_slice(block);
                }
                Frame::Continuation { stream_id: 11, end_headers, block } if i > 0 => {
                    assert_eq!(end_headers, last);
                    seen.extend_from_slice(block);
                }
                ref other => panic!("frame {i}: {other:?}"),
            }
        }
        assert_eq!(seen, block);
        // An empty block is still one HEADERS frame with END_HEADERS.
        let mut out = Vec::new();
        encode_headers(&mut out, 1, b"", false, MAX);
        assert_eq!(out, [0, 0, 0, 1, 4, 0, 0, 0, 1]);
    }
}
