//! One line per frame for `--trace`: type, stream, flags and length, then what a reader of a
//! trace wants to know of it (SETTINGS values, a WINDOW_UPDATE's increment, RST_STREAM and
//! GOAWAY codes, how many fields a HEADERS block holds). Pure, like the rest of `http2`: the
//! caller decides whether to trace at all (nothing here runs when tracing is off) and where
//! the lines go.

use std::fmt::Write;

use super::frame::{self, Frame, FrameHeader, FrameType, HEADER_LEN, flags};
use super::hpack::decoder::count_fields;

/// The whole frames at the start of `bytes`, each with its payload (a trailing partial
/// frame is left out). The client preface, if `bytes` starts with it, is skipped.
pub fn frames(bytes: &[u8]) -> impl Iterator<Item = (FrameHeader, &[u8])> {
    let mut rest = bytes.strip_prefix(frame::PREFACE.as_slice()).unwrap_or(bytes);
    std::iter::from_fn(move || {
        let h = FrameHeader::parse(rest)?;
        let end = HEADER_LEN.checked_add(usize::try_from(h.length).ok()?)?;
        let payload = rest.get(HEADER_LEN..end)?;
        rest = rest.get(end..).unwrap_or_default();
        Some((h, payload))
    })
}

/// The frame's line: `HEADERS stream 1 [END_STREAM|END_HEADERS] 31 B: 4 fields`. `payload`
/// may be empty for a DATA frame whose payload is sent apart (by `sendfile`).
pub fn describe(h: &FrameHeader, payload: &[u8]) -> String {
    let mut line = format!("{} stream {}", name(h.kind), h.stream_id);
    let names = flag_names(h);
    if !names.is_empty() {
        let _ = write!(line, " [{}]", names.join("|"));
    }
    let _ = write!(line, " {} B", h.length);
    if h.kind == FrameType::Data {
        return line; // Its payload may not be at hand, and is of no interest.
    }
    let detail = match frame::decode_payload(h, payload) {
        Ok(Frame::Headers { block, .. }) | Ok(Frame::Continuation { block, .. }) => {
            format!("{} fields", count_fields(block))
        }
        Ok(Frame::Settings(s)) => {
            let values = [
                ("header_table_size", s.header_table_size),
                ("max_concurrent_streams", s.max_concurrent_streams),
                ("initial_window_size", s.initial_window_size),
                ("max_frame_size", s.max_frame_size),
                ("max_header_list_size", s.max_header_list_size),
                ("enable_push", s.enable_push.map(u32::from)),
                ("no_rfc7540_priorities", s.no_rfc7540_priorities.map(u32::from)),
            ];
            let set: Vec<String> = values.iter().filter_map(|(n, v)| v.map(|v| format!("{n}={v}"))).collect();
            set.join(" ")
        }
        Ok(Frame::WindowUpdate { increment, .. }) => format!("increment {increment}"),
        Ok(Frame::RstStream { code, .. }) => format!("{code:?}"),
        Ok(Frame::GoAway { last_stream_id, code, .. }) => format!("last stream {last_stream_id}, {code:?}"),
        Ok(Frame::Ping { data, .. }) => data.iter().map(|b| format!("{b:02x}")).collect(),
        Ok(Frame::Priority { priority, .. }) => format!("depends on {}", priority.dependency),
        Ok(Frame::PushPromise { promised_id, .. }) => format!("promised stream {promised_id}"),
        Ok(Frame::PriorityUpdate { stream_id, field }) => {
            format!("stream {stream_id}: {:?}", String::from_utf8_lossy(field))
        }
        Ok(_) => String::new(),
        Err(e) => format!("malformed: {e}"),
    };
    if !detail.is_empty() {
        let _ = write!(line, ": {detail}");
    }
    line
}

fn name(kind: FrameType) -> String {
    match kind {
        FrameType::Data => "DATA".into(),
        FrameType::Headers => "HEADERS".into(),
        FrameType::Priority => "PRIORITY".into(),
        FrameType::RstStream => "RST_STREAM".into(),
        FrameType::Settings => "SETTINGS".into(),
        FrameType::PushPromise => "PUSH_PROMISE".into(),
        FrameType::Ping => "PING".into(),
        FrameType::GoAway => "GOAWAY".into(),
        FrameType::WindowUpdate => "WINDOW_UPDATE".into(),
        FrameType::Continuation => "CONTINUATION".into(),
        FrameType::PriorityUpdate => "PRIORITY_UPDATE".into(),
        FrameType::Unknown(kind) => format!("type {kind:#04x}"),
    }
}

/// The flags that mean something on this frame type.
fn flag_names(h: &FrameHeader) -> Vec<&'static str> {
    let known: &[(u8, &str)] = match h.kind {
        FrameType::Data => &[(flags::END_STREAM, "END_STREAM"), (flags::PADDED, "PADDED")],
        FrameType::Headers => &[
            (flags::END_STREAM, "END_STREAM"),
            (flags::END_HEADERS, "END_HEADERS"),
            (flags::PADDED, "PADDED"),
            (flags::PRIORITY, "PRIORITY"),
        ],
        FrameType::Settings | FrameType::Ping => &[(flags::ACK, "ACK")],
        FrameType::PushPromise => &[(flags::END_HEADERS, "END_HEADERS"), (flags::PADDED, "PADDED")],
        FrameType::Continuation => &[(flags::END_HEADERS, "END_HEADERS")],
        _ => &[],
    };
    known.iter().filter(|(bit, _)| h.has(*bit)).map(|&(_, n)| n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http2::ErrorCode;
    use crate::http2::hpack::encoder::encode_field;

    fn one(bytes: &[u8]) -> String {
        let all: Vec<String> = frames(bytes).map(|(h, p)| describe(&h, p)).collect();
        assert_eq!(all.len(), 1, "{all:?}");
        all[0].clone()
    }

    #[test]
    fn each_frame_says_its_key_fields() {
        let mut out = Vec::new();
        frame::encode_settings(
            &mut out,
            &[(frame::setting::MAX_CONCURRENT_STREAMS, 100), (frame::setting::INITIAL_WINDOW_SIZE, 0)],
        );
        assert_eq!(one(&out), "SETTINGS stream 0 12 B: max_concurrent_streams=100 initial_window_size=0");
        out.clear();
        frame::encode_settings_ack(&mut out);
        assert_eq!(one(&out), "SETTINGS stream 0 [ACK] 0 B");
        out.clear();
        frame::encode_window_update(&mut out, 3, 32_768);
        assert_eq!(one(&out), "WINDOW_UPDATE stream 3 4 B: increment 32768");
        out.clear();
        frame::encode_rst_stream(&mut out, 5, ErrorCode::Cancel);
        assert_eq!(one(&out), "RST_STREAM stream 5 4 B: Cancel");
        out.clear();
        frame::encode_goaway(&mut out, 7, ErrorCode::EnhanceYourCalm, b"");
        assert_eq!(one(&out), "GOAWAY stream 0 8 B: last stream 7, EnhanceYourCalm");
        out.clear();
        let mut block = Vec::new();
        encode_field(&mut block, b":method", b"GET");
        encode_field(&mut block, b":path", b"/");
        frame::encode_headers(&mut out, 1, &block, true, 16_384);
        assert_eq!(one(&out), format!("HEADERS stream 1 [END_STREAM|END_HEADERS] {} B: 2 fields", block.len()));
        out.clear();
        frame::encode_data(&mut out, 1, b"hello", true);
        assert_eq!(one(&out), "DATA stream 1 [END_STREAM] 5 B");
        out.clear();
        frame::encode_ping(&mut out, true, *b"12345678");
        assert!(one(&out).starts_with("PING stream 0 [ACK] 8 B: "), "{}", one(&out));
    }

    #[test]
    fn frames_skip_the_preface_and_stop_at_a_partial_frame() {
        let mut bytes = frame::PREFACE.to_vec();
        frame::encode_settings(&mut bytes, &[]);
        frame::encode_window_update(&mut bytes, 0, 1);
        let whole = bytes.len();
        frame::encode_data(&mut bytes, 1, b"cut short", false);
        bytes.truncate(whole + 12);
        let kinds: Vec<FrameType> = frames(&bytes).map(|(h, _)| h.kind).collect();
        assert_eq!(kinds, [FrameType::Settings, FrameType::WindowUpdate]);
    }

    #[test]
    fn a_malformed_or_unknown_frame_is_still_one_line() {
        let mut out = Vec::new();
        FrameHeader { length: 3, kind: FrameType::WindowUpdate, flags: 0, stream_id: 0 }.encode(&mut out);
        out.extend_from_slice(&[0, 0, 1]);
        assert!(one(&out).starts_with("WINDOW_UPDATE stream 0 3 B: malformed: "), "{}", one(&out));
        out.clear();
        FrameHeader { length: 0, kind: FrameType::Unknown(0xfa), flags: 0xff, stream_id: 9 }.encode(&mut out);
        assert_eq!(one(&out), "type 0xfa stream 9 0 B");
    }
}
