//! Raw frame bytes in, events and output frames out, one table per area of RFC 9113.

use super::super::frame::{self, Frame, MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE, PREFACE, setting};
use super::super::hpack::decoder::Decoder;
use super::super::hpack::encoder::{encode_field, encode_string};
use super::*;
use ErrorCode::*;

// ---- building input -------------------------------------------------------------------------

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PRIORITY: u8 = 0x2;
const RST: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;
const PRIORITY_UPDATE: u8 = 0x10;

const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;

fn raw(kind: u8, flags: u8, id: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(payload.len()).unwrap().to_be_bytes()[1..].to_vec();
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn settings(params: &[(u16, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    frame::encode_settings(&mut out, params);
    out
}

fn u32s(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

fn block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        encode_field(&mut out, name.as_bytes(), value.as_bytes());
    }
    out
}

const GET: [(&str, &str); 4] = [(":method", "GET"), (":scheme", "https"), (":authority", "a.example"), (":path", "/")];

fn get_with(extra: &[(&str, &str)]) -> Vec<u8> {
    block(&GET.iter().chain(extra).copied().collect::<Vec<_>>())
}

/// A complete GET on `id` ending the stream.
fn get(id: u32) -> Vec<u8> {
    raw(HEADERS, END_STREAM | END_HEADERS, id, &block(&GET))
}

/// A complete GET on `id` that announces a body.
fn get_open(id: u32, extra: &[(&str, &str)]) -> Vec<u8> {
    raw(HEADERS, END_HEADERS, id, &get_with(extra))
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

// ---- reading output and events ----------------------------------------------------------------

fn show_frame(f: &Frame<'_>) -> String {
    let end = |e: bool| if e { " END" } else { "" };
    match f {
        Frame::Settings(_) => "SETTINGS".into(),
        Frame::SettingsAck => "SETTINGS ACK".into(),
        Frame::Ping { ack, data } => {
            format!("PING{} {}", if *ack { " ACK" } else { "" }, String::from_utf8_lossy(data))
        }
        Frame::GoAway { last_stream_id, code, .. } => format!("GOAWAY {last_stream_id} {code:?}"),
        Frame::RstStream { stream_id, code } => format!("RST {stream_id} {code:?}"),
        Frame::WindowUpdate { stream_id, increment } => format!("WINDOW {stream_id} +{increment}"),
        Frame::Headers { stream_id, end_stream, end_headers, .. } => {
            format!("HEADERS {stream_id}{}{}", end(*end_stream), if *end_headers { "" } else { " MORE" })
        }
        Frame::Continuation { stream_id, end_headers, .. } => {
            format!("CONTINUATION {stream_id}{}", if *end_headers { "" } else { " MORE" })
        }
        Frame::Data { stream_id, data, end_stream, .. } => {
            format!("DATA {stream_id} {}{}", data.len(), end(*end_stream))
        }
        other => format!("{other:?}"),
    }
}

/// Takes the output and names its frames.
fn take_output(c: &mut Connection) -> Vec<String> {
    let out = std::mem::take(c.output());
    let mut rest = &out[..];
    let mut shown = Vec::new();
    while !rest.is_empty() {
        let (f, n) = frame::decode(rest, MAX_MAX_FRAME_SIZE).unwrap().expect("whole frames only");
        shown.push(show_frame(&f));
        rest = &rest[n..];
    }
    shown
}

fn show_event(e: &Event) -> String {
    let end = |e: bool| if e { " END" } else { "" };
    match e {
        Event::Request { stream, request, end_stream } => format!(
            "REQ {stream} {} {}{}",
            String::from_utf8_lossy(request.method()),
            String::from_utf8_lossy(request.path()),
            end(*end_stream)
        ),
        Event::RequestTooLarge { stream, end_stream } => format!("431 {stream}{}", end(*end_stream)),
        Event::Reset { stream, code, remote } => {
            format!("RESET {stream} {code:?} {}", if *remote { "remote" } else { "local" })
        }
        Event::WindowOpened { stream } => format!("WINDOW {stream}"),
        Event::GoAway { last_stream, code } => format!("GOAWAY {last_stream} {code:?}"),
        Event::PriorityChanged { stream, priority } => {
            format!("PRIORITY {stream} u={}{}", priority.urgency, if priority.incremental { " i" } else { "" })
        }
    }
}

/// A connection past the preface and the client's empty SETTINGS, its output cleared.
fn open_with(limits: Limits) -> Connection {
    let mut c = Connection::new(limits);
    let mut events = Vec::new();
    let hello = cat(&[PREFACE.to_vec(), settings(&[])]);
    assert_eq!(c.receive(&hello, &mut events), Ok(hello.len()));
    assert_eq!(take_output(&mut c), ["SETTINGS", "SETTINGS ACK"]);
    assert!(events.is_empty());
    c
}

fn open() -> Connection {
    open_with(Limits::default())
}

/// What one `receive` did: its result (Ok(()) when all input was consumed), the events and
/// the output frames.
#[derive(Debug, PartialEq)]
struct Seen {
    result: Result<(), ErrorCode>,
    events: Vec<String>,
    output: Vec<String>,
}

fn feed(c: &mut Connection, input: &[u8]) -> Seen {
    let mut events = Vec::new();
    let result = c.receive(input, &mut events).map(|n| assert_eq!(n, input.len(), "all consumed"));
    Seen { result, events: events.iter().map(show_event).collect(), output: take_output(c) }
}

fn seen(result: Result<(), ErrorCode>, events: &[&str], output: &[&str]) -> Seen {
    Seen {
        result,
        events: events.iter().map(|s| s.to_string()).collect(),
        output: output.iter().map(|s| s.to_string()).collect(),
    }
}

/// Runs each (name, input after the opening, expectation) on a fresh connection.
fn table(cases: Vec<(&str, Vec<u8>, Seen)>) {
    for (name, input, want) in cases {
        let mut c = open();
        assert_eq!(feed(&mut c, &input), want, "{name}");
    }
}

// ---- preface and SETTINGS -------------------------------------------------------------------

#[test]
fn new_writes_our_settings() {
    let mut c = Connection::default();
    let out = c.output().clone();
    let Ok(Some((Frame::Settings(s), n))) = frame::decode(&out, MAX_MAX_FRAME_SIZE) else { panic!("{out:?}") };
    assert_eq!(n, out.len());
    assert_eq!(s.enable_push, Some(false));
    assert_eq!(s.max_concurrent_streams, Some(MAX_CONCURRENT_STREAMS));
    assert_eq!(s.initial_window_size, Some(INITIAL_WINDOW_SIZE));
    assert_eq!(s.max_header_list_size, Some(16 * 1024));
    assert!(!c.settings_acked());
    let mut events = Vec::new();
    c.receive(&cat(&[PREFACE.to_vec(), settings(&[]), raw(SETTINGS, ACK, 0, &[])]), &mut events).unwrap();
    assert!(c.settings_acked());
}

#[test]
fn preface_then_settings_first() {
    let s = settings(&[]);
    type Case<'a> = (&'a str, Vec<u8>, Result<usize, ErrorCode>, Vec<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        ("nothing", vec![], Ok(0), vec![]),
        ("half a preface", PREFACE[..10].to_vec(), Ok(0), vec![]),
        ("preface alone", PREFACE.to_vec(), Ok(24), vec![]),
        ("preface and half a SETTINGS", cat(&[PREFACE.to_vec(), s[..5].to_vec()]), Ok(24), vec![]),
        ("preface and SETTINGS", cat(&[PREFACE.to_vec(), s.clone()]), Ok(33), vec!["SETTINGS ACK"]),
        ("HTTP/1.1 instead", b"GET / HTTP/1.1\r\n".to_vec(), Err(ProtocolError), vec!["GOAWAY 0 ProtocolError"]),
        (
            "wrong byte late",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\r".to_vec(),
            Err(ProtocolError),
            vec!["GOAWAY 0 ProtocolError"],
        ),
        (
            "PING first",
            cat(&[PREFACE.to_vec(), raw(PING, 0, 0, b"12345678")]),
            Err(ProtocolError),
            vec!["GOAWAY 0 ProtocolError"],
        ),
        (
            "SETTINGS ACK first",
            cat(&[PREFACE.to_vec(), raw(SETTINGS, ACK, 0, &[])]),
            Err(ProtocolError),
            vec!["GOAWAY 0 ProtocolError"],
        ),
        ("HEADERS first", cat(&[PREFACE.to_vec(), get(1)]), Err(ProtocolError), vec!["GOAWAY 0 ProtocolError"]),
        (
            "refused from the header alone",
            cat(&[PREFACE.to_vec(), get(1)[..9].to_vec()]),
            Err(ProtocolError),
            vec!["GOAWAY 0 ProtocolError"],
        ),
        (
            "bad SETTINGS value",
            cat(&[PREFACE.to_vec(), settings(&[(setting::ENABLE_PUSH, 2)])]),
            Err(ProtocolError),
            vec!["GOAWAY 0 ProtocolError"],
        ),
        (
            "SETTINGS_NO_RFC7540_PRIORITIES neither 0 nor 1 (RFC 9218 section 2.1)",
            cat(&[PREFACE.to_vec(), settings(&[(setting::NO_RFC7540_PRIORITIES, 2)])]),
            Err(ProtocolError),
            vec!["GOAWAY 0 ProtocolError"],
        ),
    ];
    for (name, input, want, output) in cases {
        let mut c = Connection::default();
        take_output(&mut c);
        let mut events = Vec::new();
        assert_eq!(c.receive(&input, &mut events), want, "{name}");
        assert_eq!(take_output(&mut c), output, "{name}");
        assert!(events.is_empty(), "{name}");
        if let Err(code) = want {
            assert_eq!(c.receive(&input, &mut events), Err(code), "{name}: failed for good");
            assert!(c.want_close() && c.error() == Some(code) && c.output().is_empty(), "{name}");
        }
    }
}

#[test]
fn partial_frames_wait_for_the_rest() {
    let mut c = open();
    let input = cat(&[get(1), raw(PING, 0, 0, b"12345678")]);
    let mut events = Vec::new();
    let mut buf = Vec::new();
    for &b in &input {
        buf.push(b);
        let n = c.receive(&buf, &mut events).unwrap();
        buf.drain(..n);
    }
    assert!(buf.is_empty());
    assert_eq!(events.iter().map(show_event).collect::<Vec<_>>(), ["REQ 1 GET / END"]);
    assert_eq!(take_output(&mut c), ["PING ACK 12345678"]);
}

#[test]
fn peer_settings_apply_to_streams_and_frames() {
    let mut c = open();
    let mut events = Vec::new();
    c.receive(&cat(&[get(1), get(3)]), &mut events).unwrap();
    assert_eq!(c.send_window(1), 16_384, "min(conn 65535, stream 65535, frame 16384)");
    // A larger max frame size and initial window; the connection window still binds.
    let s = settings(&[(setting::MAX_FRAME_SIZE, 1 << 20), (setting::INITIAL_WINDOW_SIZE, 100_000)]);
    assert_eq!(feed(&mut c, &s), seen(Ok(()), &["WINDOW 0"], &["SETTINGS ACK"]));
    assert_eq!(c.send_window(1), 65_535);
    assert_eq!(feed(&mut c, &raw(WINDOW_UPDATE, 0, 0, &u32s(&[1_000_000]))), seen(Ok(()), &["WINDOW 0"], &[]));
    assert_eq!(c.send_window(3), 100_000);
    // Shrinking goes negative after a send (§6.9.2).
    c.data_sent(3, 100_000, false).unwrap();
    assert_eq!(feed(&mut c, &settings(&[(setting::INITIAL_WINDOW_SIZE, 10)])), seen(Ok(()), &[], &["SETTINGS ACK"]));
    assert_eq!((c.send_window(3), c.send_window(1)), (0, 10));
    assert_eq!(c.streams[&3].send.size(), 10 - 100_000);
    // Growth past 2^31-1 for any open stream is a connection FLOW_CONTROL_ERROR.
    let grow = raw(WINDOW_UPDATE, 0, 1, &u32s(&[MAX_WINDOW_SIZE - 10]));
    assert_eq!(feed(&mut c, &grow), seen(Ok(()), &["WINDOW 1"], &[]));
    let over = settings(&[(setting::INITIAL_WINDOW_SIZE, 11)]);
    assert_eq!(feed(&mut c, &over), seen(Err(FlowControlError), &[], &["GOAWAY 3 FlowControlError"]));
}

// ---- HEADERS, CONTINUATION, stream ids ------------------------------------------------------

#[test]
fn header_blocks_are_contiguous() {
    let b = block(&GET);
    let (first, second) = b.split_at(5);
    let ping = raw(PING, 0, 0, b"12345678");
    let cases = vec![
        ("one HEADERS", get(1), seen(Ok(()), &["REQ 1 GET / END"], &[])),
        (
            "HEADERS + CONTINUATION",
            cat(&[raw(HEADERS, END_STREAM, 1, first), raw(CONTINUATION, END_HEADERS, 1, second)]),
            seen(Ok(()), &["REQ 1 GET / END"], &[]),
        ),
        (
            "HEADERS + empty CONTINUATION + CONTINUATION",
            cat(&[
                raw(HEADERS, END_STREAM, 1, first),
                raw(CONTINUATION, 0, 1, &[]),
                raw(CONTINUATION, END_HEADERS, 1, second),
            ]),
            seen(Ok(()), &["REQ 1 GET / END"], &[]),
        ),
        (
            "padded and prioritised HEADERS",
            raw(
                HEADERS,
                END_STREAM | END_HEADERS | PADDED | 0x20,
                1,
                &cat(&[vec![2, 0, 0, 0, 0, 7], b.clone(), vec![0, 0]]),
            ),
            seen(Ok(()), &["REQ 1 GET / END"], &[]),
        ),
        (
            "PING inside a block",
            cat(&[raw(HEADERS, END_STREAM, 1, first), ping.clone(), raw(CONTINUATION, END_HEADERS, 1, second)]),
            seen(Err(ProtocolError), &[], &["GOAWAY 0 ProtocolError"]),
        ),
        (
            "CONTINUATION on another stream",
            cat(&[raw(HEADERS, END_STREAM, 1, first), raw(CONTINUATION, END_HEADERS, 3, second)]),
            seen(Err(ProtocolError), &[], &["GOAWAY 0 ProtocolError"]),
        ),
        (
            "HEADERS inside a block",
            cat(&[raw(HEADERS, END_STREAM, 1, first), get(3)]),
            seen(Err(ProtocolError), &[], &["GOAWAY 0 ProtocolError"]),
        ),
        (
            "CONTINUATION without HEADERS",
            raw(CONTINUATION, END_HEADERS, 1, &b),
            seen(Err(ProtocolError), &[], &["GOAWAY 0 ProtocolError"]),
        ),
        (
            "CONTINUATION after a complete block",
            cat(&[get(1), raw(CONTINUATION, END_HEADERS, 1, &b)]),
            seen(Err(ProtocolError), &["REQ 1 GET / END"], &["GOAWAY 1 ProtocolError"]),
        ),
        (
            "broken HPACK",
            raw(HEADERS, END_STREAM | END_HEADERS, 1, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            seen(Err(CompressionError), &[], &["GOAWAY 0 CompressionError"]),
        ),
        (
            "frame larger than 16384",
            raw(PING, 0, 0, &[0; 16_385]),
            seen(Err(FrameSizeError), &[], &["GOAWAY 0 FrameSizeError"]),
        ),
        (
            "HEADERS depending on itself",
            raw(HEADERS, END_STREAM | END_HEADERS | 0x20, 1, &cat(&[vec![0, 0, 0, 1, 0], b.clone()])),
            seen(Err(ProtocolError), &[], &["GOAWAY 0 ProtocolError"]),
        ),
    ];
    table(cases);
}

#[test]
fn continuation_flood_is_capped() {
    // 64 KiB of fragments without END_HEADERS, then one more byte: ENHANCE_YOUR_CALM.
    let mut c = open();
    let chunk = vec![0u8; 16_384];
    let mut input = raw(HEADERS, 0, 1, &chunk);
    for _ in 0..3 {
        input.extend(raw(CONTINUATION, 0, 1, &chunk));
    }
    assert_eq!(feed(&mut c, &input), seen(Ok(()), &[], &[]));
    assert_eq!(c.block.as_ref().map(|b| b.fragments.len()), Some(MAX_HEADER_BLOCK));
    let more = raw(CONTINUATION, 0, 1, &[0]);
    assert_eq!(feed(&mut c, &more), seen(Err(EnhanceYourCalm), &[], &["GOAWAY 0 EnhanceYourCalm"]));
    // The cap holds for a block in one frame too (when set below the frame size).
    let mut c = open_with(Limits { max_header_block: 10, ..Limits::default() });
    assert_eq!(feed(&mut c, &get(1)), seen(Err(EnhanceYourCalm), &[], &["GOAWAY 0 EnhanceYourCalm"]));
    // Empty CONTINUATIONs cost nothing to buffer but are counted as empty frames.
    let mut c = open();
    let mut input = raw(HEADERS, 0, 1, &[0x82]);
    for _ in 0..=EMPTY_FRAME_BUDGET {
        input.extend(raw(CONTINUATION, 0, 1, &[]));
    }
    assert_eq!(feed(&mut c, &input), seen(Err(EnhanceYourCalm), &[], &["GOAWAY 0 EnhanceYourCalm"]));
}

#[test]
fn stream_ids_are_odd_and_increasing() {
    let cases = vec![
        ("even", get(2), seen(Err(ProtocolError), &[], &["GOAWAY 0 ProtocolError"])),
        (
            "reused while half-closed: a stream error (§5.1)",
            cat(&[get(1), get(1)]),
            seen(Ok(()), &["REQ 1 GET / END", "RESET 1 StreamClosed local"], &["RST 1 StreamClosed"]),
        ),
        ("lower", cat(&[get(5), get(3)]), seen(Err(ProtocolError), &["REQ 5 GET / END"], &["GOAWAY 5 ProtocolError"])),
        ("skipping is fine", cat(&[get(1), get(7)]), seen(Ok(()), &["REQ 1 GET / END", "REQ 7 GET / END"], &[])),
        (
            "a reset stream reopened: STREAM_CLOSED (§5.1)",
            cat(&[get(1), raw(RST, 0, 1, &u32s(&[8])), get(1)]),
            seen(Err(StreamClosed), &["REQ 1 GET / END", "RESET 1 Cancel remote"], &["GOAWAY 1 StreamClosed"]),
        ),
        (
            "a skipped id used late: PROTOCOL_ERROR (§5.1.1)",
            cat(&[get(1), get(5), raw(RST, 0, 1, &u32s(&[8])), get(3)]),
            seen(
                Err(ProtocolError),
                &["REQ 1 GET / END", "REQ 5 GET / END", "RESET 1 Cancel remote"],
                &["GOAWAY 5 ProtocolError"],
            ),
        ),
        (
            "a stream we reset: its HEADERS in flight are ignored",
            cat(&[get(1), raw(DATA, 0, 1, b"x"), raw(HEADERS, END_STREAM | END_HEADERS, 1, &block(&[("x-t", "1")]))]),
            seen(Ok(()), &["REQ 1 GET / END", "RESET 1 StreamClosed local"], &["RST 1 StreamClosed"]),
        ),
    ];
    table(cases);
}

#[test]
fn streams_past_the_limit_are_refused_and_hpack_stays_in_sync() {
    let mut c = open_with(Limits { max_concurrent_streams: 2, ..Limits::default() });
    // Stream 5's block adds "x-a: 1" to the dynamic table; stream 7 refers to it by index.
    let mut indexed = block(&GET);
    indexed.push(0x40);
    encode_string(&mut indexed, b"x-a");
    encode_string(&mut indexed, b"1");
    let mut by_index = block(&GET);
    by_index.push(0x80 | 62);
    let input = cat(&[get(1), get(3), raw(HEADERS, END_STREAM | END_HEADERS, 5, &indexed)]);
    assert_eq!(feed(&mut c, &input), seen(Ok(()), &["REQ 1 GET / END", "REQ 3 GET / END"], &["RST 5 RefusedStream"]));
    c.send_headers(1, 204, &[], true).unwrap();
    take_output(&mut c);
    let mut events = Vec::new();
    c.receive(&raw(HEADERS, END_STREAM | END_HEADERS, 7, &by_index), &mut events).unwrap();
    let [Event::Request { stream: 7, request, .. }] = &events[..] else { panic!("{events:?}") };
    assert_eq!(request.field(b"x-a"), Some(&b"1"[..]));
    assert_eq!(c.abuse().stream_errors, 1);
    // DATA the client had in flight on the refused stream is ignored (but counted).
    assert_eq!(feed(&mut c, &raw(DATA, END_STREAM, 5, b"late")), seen(Ok(()), &[], &[]));
}

#[test]
fn the_limit_is_100_streams() {
    let mut c = open();
    let input: Vec<u8> = (0..=100u32).flat_map(|i| get(2 * i + 1)).collect();
    let mut events = Vec::new();
    c.receive(&input, &mut events).unwrap();
    assert_eq!(events.len(), 100);
    assert_eq!(take_output(&mut c), ["RST 201 RefusedStream"]);
    assert_eq!(c.open_streams(), 100);
}

#[test]
fn too_large_header_lists_get_431_and_hpack_stays_in_sync() {
    let mut c = open();
    let mut big = block(&GET);
    big.push(0x40);
    encode_string(&mut big, b"x-big");
    encode_string(&mut big, &[b'v'; 100]);
    for _ in 0..200 {
        big.push(0x80 | 62); // the entry just added, again and again: 200 x 137 bytes decoded
    }
    let mut after = block(&GET);
    after.push(0x80 | 62);
    let input =
        cat(&[raw(HEADERS, END_STREAM | END_HEADERS, 1, &big), raw(HEADERS, END_STREAM | END_HEADERS, 3, &after)]);
    let mut events = Vec::new();
    c.receive(&input, &mut events).unwrap();
    assert_eq!(events[0], Event::RequestTooLarge { stream: 1, end_stream: true });
    let Event::Request { stream: 3, request, .. } = &events[1] else { panic!("{events:?}") };
    assert_eq!(request.field(b"x-big").map(<[u8]>::len), Some(100));
    c.send_headers(1, 431, &[], true).unwrap();
    assert_eq!(take_output(&mut c), ["HEADERS 1 END"]);
}

#[test]
fn malformed_requests_are_stream_errors() {
    let rst = |code: &str| format!("RST 1 {code}");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("uppercase", raw(HEADERS, END_STREAM | END_HEADERS, 1, &get_with(&[("Accept", "x")])), "ProtocolError"),
        (
            "connection",
            raw(HEADERS, END_STREAM | END_HEADERS, 1, &get_with(&[("connection", "close")])),
            "ProtocolError",
        ),
        ("te", raw(HEADERS, END_STREAM | END_HEADERS, 1, &get_with(&[("te", "gzip")])), "ProtocolError"),
        ("status", raw(HEADERS, END_STREAM | END_HEADERS, 1, &get_with(&[(":status", "200")])), "ProtocolError"),
        (
            "no path",
            raw(HEADERS, END_STREAM | END_HEADERS, 1, &block(&[(":method", "GET"), (":scheme", "https")])),
            "ProtocolError",
        ),
        ("empty block", raw(HEADERS, END_STREAM | END_HEADERS, 1, &[]), "ProtocolError"),
        (
            "content-length without body",
            raw(HEADERS, END_STREAM | END_HEADERS, 1, &get_with(&[("content-length", "3")])),
            "ProtocolError",
        ),
        (
            "CONNECT",
            raw(HEADERS, END_STREAM | END_HEADERS, 1, &block(&[(":method", "CONNECT"), (":authority", "a:1")])),
            "RefusedStream",
        ),
    ];
    for (name, input, code) in cases {
        let mut c = open();
        let input = cat(&[input, get(3)]);
        assert_eq!(feed(&mut c, &input), seen(Ok(()), &["REQ 3 GET / END"], &[&rst(code)]), "{name}");
    }
}

// ---- DATA -----------------------------------------------------------------------------------

#[test]
fn request_bodies_are_counted_dropped_and_given_back() {
    let mut c = open();
    let chunk = [7u8; 16_384];
    let cases: Vec<(&str, Vec<u8>, Seen)> = vec![
        ("open with a body", get_open(1, &[]), seen(Ok(()), &["REQ 1 GET /"], &[])),
        ("first 16 KiB", raw(DATA, 0, 1, &chunk), seen(Ok(()), &[], &[])),
        (
            "half the window: both given back",
            raw(DATA, 0, 1, &chunk),
            seen(Ok(()), &[], &["WINDOW 0 +32768", "WINDOW 1 +32768"]),
        ),
        ("padding counts", raw(DATA, PADDED, 1, &cat(&[vec![255], vec![1; 16_383]])), seen(Ok(()), &[], &[])),
        ("more", raw(DATA, 0, 1, &chunk), seen(Ok(()), &[], &["WINDOW 0 +32768", "WINDOW 1 +32768"])),
        ("end", raw(DATA, END_STREAM, 1, b"tail"), seen(Ok(()), &[], &[])),
        (
            "after END_STREAM",
            raw(DATA, 0, 1, b"x"),
            seen(Ok(()), &["RESET 1 StreamClosed local"], &["RST 1 StreamClosed"]),
        ),
    ];
    for (name, input, want) in cases {
        assert_eq!(feed(&mut c, &input), want, "{name}");
    }
    // The stream was reset, so more DATA on it is ignored, yet still counted on the connection.
    let used = c.recv_window.available();
    assert_eq!(feed(&mut c, &raw(DATA, 0, 1, b"xyz")), seen(Ok(()), &[], &[]));
    assert_eq!(c.recv_window.available(), used - 3);
}

#[test]
fn data_rules() {
    let cases = vec![
        ("DATA on an idle stream", raw(DATA, 0, 1, b"x"), seen(Err(ProtocolError), &[], &["GOAWAY 0 ProtocolError"])),
        (
            "DATA on a half-closed (remote) stream",
            cat(&[get(1), raw(DATA, 0, 1, b"x")]),
            seen(Ok(()), &["REQ 1 GET / END", "RESET 1 StreamClosed local"], &["RST 1 StreamClosed"]),
        ),
        (
            "DATA on a closed stream",
            cat(&[get(1), raw(RST, 0, 1, &u32s(&[8])), raw(DATA, 0, 1, b"x")]),
            seen(Ok(()), &["REQ 1 GET / END", "RESET 1 Cancel remote"], &["RST 1 StreamClosed"]),
        ),
        (
            "content-length matches",
            cat(&[get_open(1, &[("content-length", "3")]), raw(DATA, 0, 1, b"ab"), raw(DATA, END_STREAM, 1, b"c")]),
            seen(Ok(()), &["REQ 1 GET /"], &[]),
        ),
        (
            "content-length short",
            cat(&[get_open(1, &[("content-length", "3")]), raw(DATA, END_STREAM, 1, b"ab")]),
            seen(Ok(()), &["REQ 1 GET /", "RESET 1 ProtocolError local"], &["RST 1 ProtocolError"]),
        ),
        (
            "content-length exceeded before the end",
            cat(&[get_open(1, &[("content-length", "1")]), raw(DATA, 0, 1, b"ab")]),
            seen(Ok(()), &["REQ 1 GET /", "RESET 1 ProtocolError local"], &["RST 1 ProtocolError"]),
        ),
        (
            "content-length and trailers",
            cat(&[
                get_open(1, &[("content-length", "2")]),
                raw(DATA, 0, 1, b"ab"),
                raw(HEADERS, END_STREAM | END_HEADERS, 1, &block(&[("x-sum", "1")])),
            ]),
            seen(Ok(()), &["REQ 1 GET /"], &[]),
        ),
        (
            "trailers without END_STREAM",
            cat(&[get_open(1, &[]), raw(HEADERS, END_HEADERS, 1, &block(&[("x-sum", "1")]))]),
            seen(Ok(()), &["REQ 1 GET /", "RESET 1 ProtocolError local"], &["RST 1 ProtocolError"]),
        ),
        (
            "trailers with a pseudo-header",
            cat(&[get_open(1, &[]), raw(HEADERS, END_STREAM | END_HEADERS, 1, &block(&[(":path", "/")]))]),
            seen(Ok(()), &["REQ 1 GET /", "RESET 1 ProtocolError local"], &["RST 1 ProtocolError"]),
        ),
    ];
    table(cases);
}

#[test]
fn receive_windows_cannot_be_overrun() {
    // With 16 KiB frames and windows given back at half, a client that keeps to its windows
    // never comes near; these set the windows low by hand to show the errors.
    let mut c = open();
    feed(&mut c, &get_open(1, &[]));
    c.streams.get_mut(&1).unwrap().recv = Window::new(2);
    let want = seen(Ok(()), &["RESET 1 FlowControlError local"], &["RST 1 FlowControlError"]);
    assert_eq!(feed(&mut c, &raw(DATA, 0, 1, b"abc")), want, "stream window");
    let mut c = open();
    feed(&mut c, &get_open(1, &[]));
    c.recv_window = Window::new(2);
    let want = seen(Err(FlowControlError), &[], &["GOAWAY 1 FlowControlError"]);
    assert_eq!(feed(&mut c, &raw(DATA, 0, 1, b"abc")), want, "connection window");
}

// ---- WINDOW_UPDATE, PING, RST_STREAM, PRIORITY, GOAWAY, the rest ----------------------------

#[test]
fn window_updates() {
    let wu = |id: u32, inc: u32| raw(WINDOW_UPDATE, 0, id, &u32s(&[inc]));
    let cases = vec![
        ("connection", wu(0, 10), seen(Ok(()), &["WINDOW 0"], &[])),
        ("repeated updates make one event", cat(&[wu(0, 10), wu(0, 10)]), seen(Ok(()), &["WINDOW 0"], &[])),
        ("stream", cat(&[get(1), wu(1, 10)]), seen(Ok(()), &["REQ 1 GET / END", "WINDOW 1"], &[])),
        (
            "connection past 2^31-1",
            wu(0, MAX_WINDOW_SIZE - 65_534),
            seen(Err(FlowControlError), &[], &["GOAWAY 0 FlowControlError"]),
        ),
        (
            "stream past 2^31-1",
            cat(&[get(1), wu(1, MAX_WINDOW_SIZE - 65_534)]),
            seen(Ok(()), &["REQ 1 GET / END", "RESET 1 FlowControlError local"], &["RST 1 FlowControlError"]),
        ),
        ("connection, 0", wu(0, 0), seen(Err(ProtocolError), &[], &["GOAWAY 0 ProtocolError"])),
        (
            "stream, 0",
            cat(&[get(1), wu(1, 0)]),
            seen(Ok(()), &["REQ 1 GET / END", "RESET 1 ProtocolError local"], &["RST 1 ProtocolError"]),
        ),
        ("idle stream", wu(1, 1), seen(Err(ProtocolError), &[], &["GOAWAY 0 ProtocolError"])),
        ("idle stream, 0", wu(1, 0), seen(Err(ProtocolError), &[], &["GOAWAY 0 ProtocolError"])),
        (
            "closed stream: ignored",
            cat(&[get(1), raw(RST, 0, 1, &u32s(&[8])), wu(1, 5)]),
            seen(Ok(()), &["REQ 1 GET / END", "RESET 1 Cancel remote"], &[]),
        ),
    ];
    table(cases);
    let mut c = open();
    feed(&mut c, &cat(&[get(1), settings(&[(setting::MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE)])]));
    feed(&mut c, &wu(1, 100));
    assert_eq!(c.send_window(1), 65_535, "the connection window binds");
    feed(&mut c, &wu(0, 1_000));
    assert_eq!(c.send_window(1), 65_635);
}

#[test]
fn control_frames() {
    let cases = vec![
        ("PING", raw(PING, 0, 0, b"abcdefgh"), seen(Ok(()), &[], &["PING ACK abcdefgh"])),
        ("PING ACK unasked", raw(PING, ACK, 0, b"abcdefgh"), seen(Ok(()), &[], &[])),
        ("PING on a stream", raw(PING, 0, 1, b"abcdefgh"), seen(Err(ProtocolError), &[], &["GOAWAY 0 ProtocolError"])),
        ("PING short", raw(PING, 0, 0, b"abc"), seen(Err(FrameSizeError), &[], &["GOAWAY 0 FrameSizeError"])),
        ("SETTINGS", settings(&[(setting::HEADER_TABLE_SIZE, 0)]), seen(Ok(()), &[], &["SETTINGS ACK"])),
        (
            "SETTINGS ACK with payload",
            raw(SETTINGS, ACK, 0, &[0; 6]),
            seen(Err(FrameSizeError), &[], &["GOAWAY 0 FrameSizeError"]),
        ),
        (
            "RST_STREAM",
            cat(&[get(1), raw(RST, 0, 1, &u32s(&[8]))]),
            seen(Ok(()), &["REQ 1 GET / END", "RESET 1 Cancel remote"], &[]),
        ),
        ("RST_STREAM idle", raw(RST, 0, 1, &u32s(&[8])), seen(Err(ProtocolError), &[], &["GOAWAY 0 ProtocolError"])),
        (
            "RST_STREAM closed: ignored",
            cat(&[get(1), raw(RST, 0, 1, &u32s(&[8])), raw(RST, 0, 1, &u32s(&[8]))]),
            seen(Ok(()), &["REQ 1 GET / END", "RESET 1 Cancel remote"], &[]),
        ),
        ("PRIORITY", raw(PRIORITY, 0, 3, &[0, 0, 0, 1, 7]), seen(Ok(()), &[], &[])),
        (
            "PRIORITY then the stream opens",
            cat(&[raw(PRIORITY, 0, 3, &[0, 0, 0, 1, 7]), get(3)]),
            seen(Ok(()), &["REQ 3 GET / END"], &[]),
        ),
        ("PRIORITY on itself", raw(PRIORITY, 0, 3, &[0, 0, 0, 3, 7]), seen(Ok(()), &[], &["RST 3 ProtocolError"])),
        (
            "PRIORITY on itself, open stream",
            cat(&[get(1), raw(PRIORITY, 0, 1, &[0, 0, 0, 1, 7])]),
            seen(Ok(()), &["REQ 1 GET / END", "RESET 1 ProtocolError local"], &["RST 1 ProtocolError"]),
        ),
        ("PRIORITY short", raw(PRIORITY, 0, 3, &[0, 0, 0, 1]), seen(Ok(()), &[], &["RST 3 FrameSizeError"])),
        (
            "PUSH_PROMISE",
            cat(&[get(1), raw(PUSH_PROMISE, END_HEADERS, 1, &u32s(&[2]))]),
            seen(Err(ProtocolError), &["REQ 1 GET / END"], &["GOAWAY 1 ProtocolError"]),
        ),
        ("unknown type", raw(0x42, 0xff, 1, b"whatever"), seen(Ok(()), &[], &[])),
        (
            "unknown type inside a block",
            cat(&[raw(HEADERS, 0, 1, &block(&GET)), raw(0x42, 0, 1, b"")]),
            seen(Err(ProtocolError), &[], &["GOAWAY 0 ProtocolError"]),
        ),
        (
            "GOAWAY",
            cat(&[get(1), raw(GOAWAY, 0, 0, &u32s(&[0, 0])), get(3)]),
            seen(Ok(()), &["REQ 1 GET / END", "GOAWAY 0 NoError"], &[]),
        ),
    ];
    table(cases);
}

#[test]
fn a_client_goaway_closes_once_streams_finish() {
    let mut c = open();
    feed(&mut c, &cat(&[get(1), raw(GOAWAY, 0, 0, &u32s(&[0, 2]))]));
    assert!(!c.want_close());
    // Its later streams were ignored: DATA on them too.
    assert_eq!(feed(&mut c, &cat(&[get_open(3, &[]), raw(DATA, 0, 3, b"x")])), seen(Ok(()), &[], &[]));
    c.send_headers(1, 200, &[], true).unwrap();
    assert!(c.want_close());
}

// ---- sending --------------------------------------------------------------------------------

#[test]
fn responses_go_out_as_headers_and_data() {
    let mut c = open();
    feed(&mut c, &cat(&[get(1), get(3), get(5)]));
    let fields: [(&[u8], &[u8]); 2] = [(b"content-type", b"text/plain"), (b"content-length", b"5")];
    c.send_headers(1, 200, &fields, false).unwrap();
    c.send_data(1, b"hello", true).unwrap();
    let out = c.output().clone();
    let Ok(Some((Frame::Headers { block, .. }, n))) = frame::decode(&out, MAX_MAX_FRAME_SIZE) else { panic!() };
    let list = Decoder::new().decode(block).unwrap();
    let pairs: Vec<(&[u8], &[u8])> = list.iter().map(|h| (&h.name[..], &h.value[..])).collect();
    assert_eq!(pairs, [(&b":status"[..], &b"200"[..]), fields[0], fields[1]]);
    assert_eq!(&out[n + 9..], b"hello");
    assert_eq!(take_output(&mut c), ["HEADERS 1", "DATA 1 5 END"]);
    assert_eq!(c.open_streams(), 2, "stream 1 is closed");
    // Stream 1 is gone, HEADERS twice on 3 is fine (1xx then final), DATA after END_STREAM is not.
    assert_eq!(c.send_headers(1, 200, &[], true), Err(Error::Stream(1, StreamClosed)));
    c.send_headers(3, 103, &[], false).unwrap();
    c.send_headers(3, 200, &[], false).unwrap();
    // sendfile: the caller accounts frames it wrote itself, within send_window.
    assert_eq!(c.send_window(3), 16_384);
    assert_eq!(c.data_sent(3, 16_385, false), Err(Error::Stream(3, InternalError)));
    for _ in 0..3 {
        c.data_sent(3, 16_384, false).unwrap();
    }
    assert_eq!(c.send_window(3), 65_535 - 5 - 3 * 16_384);
    assert_eq!(c.send_window(5), 16_378, "the connection window is shared");
    c.data_sent(3, 16_378, false).unwrap();
    assert_eq!((c.send_window(3), c.send_window(5)), (0, 0));
    c.data_sent(3, 0, true).unwrap();
    assert_eq!(c.data_sent(3, 0, true), Err(Error::Stream(3, StreamClosed)));
    // A HEAD-style response: HEADERS with END_STREAM.
    c.send_headers(5, 304, &[], true).unwrap();
    assert_eq!(c.open_streams(), 0);
    assert_eq!(take_output(&mut c), ["HEADERS 3", "HEADERS 3", "HEADERS 5 END"]);
}

#[test]
fn large_header_blocks_are_split_by_the_peer_frame_size() {
    let mut c = open();
    feed(&mut c, &get(1));
    let value = vec![b'v'; 40_000];
    c.send_headers(1, 200, &[(b"x-long", &value)], true).unwrap();
    assert_eq!(take_output(&mut c), ["HEADERS 1 END MORE", "CONTINUATION 1 MORE", "CONTINUATION 1"]);
}

#[test]
fn our_resets() {
    let mut c = open();
    feed(&mut c, &cat(&[get_open(1, &[]), get(3)]));
    c.send_headers(1, 200, &[], true).unwrap();
    c.reset(1, NoError); // a full response; stop the request body (§8.1)
    c.reset(3, Cancel);
    c.reset(3, Cancel); // gone: nothing
    c.reset(99, Cancel); // never opened: nothing
    assert_eq!(take_output(&mut c), ["HEADERS 1 END", "RST 1 NoError", "RST 3 Cancel"]);
    assert_eq!(c.send_window(3), 0);
    // Frames the client had in flight are ignored.
    let late = cat(&[raw(DATA, 0, 1, b"body"), raw(WINDOW_UPDATE, 0, 3, &u32s(&[1])), raw(RST, 0, 3, &u32s(&[8]))]);
    assert_eq!(feed(&mut c, &late), seen(Ok(()), &[], &[]));
    assert_eq!(c.abuse().rapid_resets, 0);
}

// ---- shutdown -------------------------------------------------------------------------------

#[test]
fn graceful_shutdown_in_two_steps() {
    let mut c = open();
    feed(&mut c, &get(1));
    c.begin_shutdown();
    c.begin_shutdown(); // once
    assert_eq!(take_output(&mut c), ["GOAWAY 2147483647 NoError", "PING evs-shut"]);
    // Streams opened before the client saw it are still served.
    assert_eq!(feed(&mut c, &get(3)), seen(Ok(()), &["REQ 3 GET / END"], &[]));
    assert_eq!(feed(&mut c, &raw(PING, ACK, 0, b"other!!!")), seen(Ok(()), &[], &[]));
    assert_eq!(feed(&mut c, &raw(PING, ACK, 0, b"evs-shut")), seen(Ok(()), &[], &["GOAWAY 3 NoError"]));
    // Later streams are ignored, HPACK still decoded: stream 7 refers to stream 5's entry.
    let mut indexed = block(&GET);
    indexed.push(0x40);
    encode_string(&mut indexed, b"x-a");
    encode_string(&mut indexed, b"1");
    let input = cat(&[raw(HEADERS, END_HEADERS, 5, &indexed), raw(DATA, END_STREAM, 5, b"x")]);
    assert_eq!(feed(&mut c, &input), seen(Ok(()), &[], &[]));
    assert_eq!(c.decoder.table().len(), 1);
    c.send_headers(3, 200, &[], true).unwrap();
    take_output(&mut c);
    let want = seen(Err(StreamClosed), &[], &["GOAWAY 3 StreamClosed"]);
    assert_eq!(feed(&mut c, &get(3)), want, "a closed stream is not reopened after GOAWAY either");
    let mut c = open();
    feed(&mut c, &cat(&[get(1), get(3)]));
    c.begin_shutdown();
    c.finish_shutdown(); // the caller's timer: no PING ACK came
    c.finish_shutdown();
    assert_eq!(take_output(&mut c), ["GOAWAY 2147483647 NoError", "PING evs-shut", "GOAWAY 3 NoError"]);
    assert!(!c.want_close());
    c.send_headers(1, 200, &[], true).unwrap();
    c.reset(3, Cancel);
    assert!(c.want_close());
}

#[test]
fn go_away_with_an_error_stops_everything() {
    let mut c = open();
    feed(&mut c, &get(1));
    c.go_away(SettingsTimeout);
    c.go_away(ProtocolError);
    assert_eq!(take_output(&mut c), ["GOAWAY 1 SettingsTimeout"]);
    assert!(c.want_close());
    assert_eq!(c.send_headers(1, 200, &[], true), Err(Error::Connection(SettingsTimeout)));
    assert_eq!(c.send_window(1), 0);
    assert_eq!(feed(&mut c, &get(3)), seen(Err(SettingsTimeout), &[], &[]));
    let mut c = open();
    c.go_away(NoError);
    assert_eq!(take_output(&mut c), ["GOAWAY 0 NoError"]);
    assert!(c.want_close());
}

// ---- abuse limits ---------------------------------------------------------------------------

#[test]
fn rapid_reset_is_calmed() {
    // CVE-2023-44487: open and reset at once, 101 times.
    let mut c = open();
    let input: Vec<u8> = (0..RAPID_RESET_BUDGET as u32 + 1)
        .flat_map(|i| cat(&[get(2 * i + 1), raw(RST, 0, 2 * i + 1, &u32s(&[8]))]))
        .collect();
    let mut events = Vec::new();
    assert_eq!(c.receive(&input, &mut events), Err(EnhanceYourCalm));
    assert_eq!(take_output(&mut c), ["GOAWAY 201 EnhanceYourCalm"]);
    assert_eq!(c.abuse().rapid_resets, 101);
    // Cancelling fewer than half of many streams is what browsers do: 400 of 1,000 is allowed.
    let mut c = open();
    assert_eq!(mix(&mut c, 0..1_000, |i| i % 5 < 2), Ok(()));
    assert_eq!((c.abuse().rapid_resets, c.abuse().streams_opened), (400, 1_000));
    // Earlier good behaviour is no credit for a burst: 101 resets in a row after 1,000
    // answered streams.
    let mut c = open();
    assert_eq!(mix(&mut c, 0..1_000, |_| false), Ok(()));
    assert_eq!(mix(&mut c, 1_000..1_101, |_| true), Err(EnhanceYourCalm));
    assert_eq!(c.abuse().window_resets, RAPID_RESET_BUDGET + 1);
}

/// Opens streams `2i+1` for `i` in `range`, one `receive` each; resets those `reset` picks at
/// once and answers the others (so they are finished before any reset could count).
fn mix(c: &mut Connection, range: std::ops::Range<u32>, reset: impl Fn(u32) -> bool) -> Result<(), ErrorCode> {
    for i in range {
        let id = 2 * i + 1;
        let rst = if reset(i) { raw(RST, 0, id, &u32s(&[8])) } else { vec![] };
        let mut events = Vec::new();
        c.receive(&cat(&[get(id), rst]), &mut events)?;
        if events.len() == 1 {
            c.send_headers(id, 204, &[], true).unwrap();
        }
        c.output().clear();
    }
    Ok(())
}

#[test]
fn provoked_resets_count_too() {
    // "MadeYouReset": streams the client makes us reset (here DATA after END_STREAM).
    let mut c = open();
    let input: Vec<u8> = (0..RAPID_RESET_BUDGET as u32 + 1)
        .flat_map(|i| cat(&[get(2 * i + 1), raw(DATA, 0, 2 * i + 1, b"x")]))
        .collect();
    let mut events = Vec::new();
    assert_eq!(c.receive(&input, &mut events), Err(EnhanceYourCalm));
    assert_eq!(c.abuse().stream_errors, 101);
    // Malformed requests count the same way.
    let mut c = open();
    let bad = block(&[(":method", "GET")]);
    let input: Vec<u8> = (0..RAPID_RESET_BUDGET as u32 + 1)
        .flat_map(|i| raw(HEADERS, END_STREAM | END_HEADERS, 2 * i + 1, &bad))
        .collect();
    assert_eq!(c.receive(&input, &mut events), Err(EnhanceYourCalm));
}

#[test]
fn control_frame_flood_is_calmed() {
    // CVE-2019-9512/-9514/-9515/-9516: PRIORITY, SETTINGS, PING, unknown frames, frames that
    // earn a RST_STREAM or are ignored on closed streams, HEADERS ignored after GOAWAY; the
    // output is drained so the backlog limit stays out of the way. (name, setup, one frame)
    let closed = cat(&[get(1), raw(RST, 0, 1, &u32s(&[8]))]);
    let kinds: [(&str, Vec<u8>, Vec<u8>); 8] = [
        ("priority", vec![], raw(PRIORITY, 0, 3, &[0, 0, 0, 1, 7])),
        ("settings", vec![], settings(&[])),
        ("ping", vec![], raw(PING, 0, 0, b"12345678")),
        ("unknown", vec![], raw(0x42, 0, 0, b"")),
        ("priority on itself", vec![], raw(PRIORITY, 0, 3, &[0, 0, 0, 3, 7])),
        ("DATA on a closed stream", closed.clone(), raw(DATA, END_STREAM, 1, b"")),
        ("WINDOW_UPDATE on a closed stream", closed, raw(WINDOW_UPDATE, 0, 1, &u32s(&[1]))),
        ("HEADERS after GOAWAY", raw(GOAWAY, 0, 0, &u32s(&[0, 0])), get(1)),
    ];
    for (name, setup, one) in kinds {
        let mut c = open();
        let mut events = Vec::new();
        c.receive(&setup, &mut events).unwrap();
        let mut sent = 0u64;
        let result = loop {
            let mut frame = one.clone();
            if name.starts_with("HEADERS") {
                frame[8] = u8::try_from(2 * (sent % 100) + 1).unwrap(); // ids must increase
                frame[7] = u8::try_from(sent / 100).unwrap();
            }
            sent += 1;
            match c.receive(&frame, &mut events) {
                Ok(_) if sent < 20_000 => c.output().clear(),
                other => break other,
            }
        };
        assert_eq!(result, Err(EnhanceYourCalm), "{name}");
        let last = if name == "DATA on a closed stream" || name.starts_with("WINDOW") { 1 } else { 0 };
        assert_eq!(take_output(&mut c).last(), Some(&format!("GOAWAY {last} EnhanceYourCalm")), "{name}");
        let earned = CONTROL_FRAMES_PER_STREAM * c.abuse().streams_opened;
        assert_eq!(c.abuse().control_frames, CONTROL_FRAME_BUDGET + earned + 1, "{name}");
    }
    // Requests earn more: 100 control frames per stream opened.
    let mut c = open();
    feed(&mut c, &get(1));
    let budget = CONTROL_FRAME_BUDGET + CONTROL_FRAMES_PER_STREAM;
    let frames: Vec<u8> = (1..budget).flat_map(|_| raw(0x42, 0, 0, b"")).collect();
    assert_eq!(feed(&mut c, &frames).result, Ok(()));
    assert_eq!(feed(&mut c, &raw(0x42, 0, 0, b"")).result, Err(EnhanceYourCalm));
}

#[test]
fn unread_replies_are_bounded() {
    // A client that sends PINGs and never reads: 1,000 PING ACKs queue, the next one calms.
    let mut c = open();
    let ping = raw(PING, 0, 0, b"12345678");
    let mut events = Vec::new();
    for _ in 0..CONTROL_BACKLOG_LIMIT {
        c.receive(&ping, &mut events).unwrap();
    }
    assert_eq!(c.abuse().control_backlog, CONTROL_BACKLOG_LIMIT);
    assert_eq!(c.output().len(), 17 * CONTROL_BACKLOG_LIMIT);
    assert_eq!(c.receive(&ping, &mut events), Err(EnhanceYourCalm));
    // One that reads is never limited: draining the output resets the backlog.
    let mut c = open();
    for _ in 0..3 * CONTROL_BACKLOG_LIMIT {
        c.receive(&ping, &mut events).unwrap();
        c.output().clear();
    }
    assert_eq!(c.abuse().control_backlog, 1);
    // RST_STREAMs we are provoked into count as replies too.
    let mut c = open();
    let input: Vec<u8> =
        (0..CONTROL_BACKLOG_LIMIT as u32 + 1).flat_map(|i| raw(PRIORITY, 0, 2 * i + 1, &[0, 0, 0, 0])).collect();
    assert_eq!(c.receive(&input, &mut events), Err(EnhanceYourCalm));
}

#[test]
fn empty_frame_flood_is_calmed() {
    // CVE-2019-9518: empty DATA without END_STREAM on an open stream.
    let mut c = open();
    feed(&mut c, &get_open(1, &[]));
    let empty = raw(DATA, 0, 1, b"");
    let mut events = Vec::new();
    for _ in 0..EMPTY_FRAME_BUDGET {
        c.receive(&empty, &mut events).unwrap();
    }
    assert_eq!(c.receive(&empty, &mut events), Err(EnhanceYourCalm));
    assert_eq!(c.abuse().empty_frames, EMPTY_FRAME_BUDGET + 1);
    // Empty DATA with END_STREAM is a normal way to end a body.
    let mut c = open();
    assert_eq!(feed(&mut c, &cat(&[get_open(1, &[]), raw(DATA, END_STREAM, 1, b"")])).result, Ok(()));
    assert_eq!(c.abuse().empty_frames, 0);
}

// ---- never panics ---------------------------------------------------------------------------

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn random_bytes_never_panic() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let valid_block = block(&GET);
    for round in 0..20_000u32 {
        let mut c = open_with(Limits { max_concurrent_streams: 4, ..Limits::default() });
        // Half the rounds are whole random bytes; the rest are frames with a plausible header
        // (a known type, a small stream id) and random flags and payloads, some of them valid
        // request blocks, so the deeper paths are reached.
        let mut input = Vec::new();
        if round % 2 == 0 {
            let len = (xorshift(&mut state) % 64) as usize;
            input.extend((0..len).map(|_| xorshift(&mut state) as u8));
        } else {
            for _ in 0..(xorshift(&mut state) % 8) {
                let r = xorshift(&mut state);
                let kind = (r % 11) as u8;
                let flags = (r >> 8) as u8 & 0x2d;
                let id = ((r >> 16) % 6) as u32;
                let payload: Vec<u8> = if kind == HEADERS && r >> 32 & 1 == 0 {
                    valid_block.clone()
                } else {
                    (0..(r >> 40) % 24).map(|_| xorshift(&mut state) as u8).collect()
                };
                input.extend(raw(kind, flags, id, &payload));
            }
        }
        let mut events = Vec::new();
        let mut rest = &input[..];
        // Fed in two pieces, as a socket might deliver it.
        let cut = if rest.is_empty() { 0 } else { (xorshift(&mut state) as usize) % rest.len() };
        let mut pending = rest[..cut].to_vec();
        rest = &rest[cut..];
        for piece in [&[][..], rest] {
            pending.extend_from_slice(piece);
            match c.receive(&pending, &mut events) {
                Ok(n) => {
                    assert!(n <= pending.len());
                    pending.drain(..n);
                }
                Err(_) => {
                    assert!(c.want_close());
                    break;
                }
            }
        }
        // The caller's side must not panic either, whatever state the streams are in.
        for e in &events {
            if let Event::Request { stream, .. } | Event::RequestTooLarge { stream, .. } = *e {
                let _ = c.send_headers(stream, 200, &[], false);
                let n = c.send_window(stream);
                let _ = c.data_sent(stream, n, true);
            }
        }
        let _ = take_output(&mut c);
    }
}

#[test]
fn a_stream_held_by_its_own_window_is_told_apart_from_a_closed_connection_window() {
    let mut c = open();
    feed(&mut c, &cat(&[settings(&[(setting::INITIAL_WINDOW_SIZE, 0)]), get(1), get(3)]));
    c.send_headers(1, 200, &[], false).unwrap();
    c.send_headers(3, 200, &[], false).unwrap();
    assert!(c.stream_window_closed(1) && c.stream_window_closed(3), "windows of 0, connection open");
    feed(&mut c, &raw(WINDOW_UPDATE, 0, 3, &u32s(&[65_535])));
    assert!(c.stream_window_closed(1) && !c.stream_window_closed(3));
    while c.send_window(3) > 0 {
        c.data_sent(3, c.send_window(3), false).unwrap(); // The connection window is used up.
    }
    assert!(!c.stream_window_closed(1), "the connection window holds everyone: not this stream's stall");
    assert!(!c.stream_window_closed(5), "not a stream");
}

#[test]
fn a_half_received_field_block_is_reading_headers() {
    let mut c = open();
    let b = block(&GET);
    feed(&mut c, &raw(HEADERS, END_STREAM, 1, &b[..3]));
    assert!(c.reading_headers());
    feed(&mut c, &raw(CONTINUATION, 0, 1, &b[3..5]));
    assert!(c.reading_headers());
    feed(&mut c, &raw(CONTINUATION, END_HEADERS, 1, &b[5..]));
    assert!(!c.reading_headers());
    assert_eq!(c.open_streams(), 1);
}

fn priority_update(id: u32, field: &str) -> Vec<u8> {
    raw(PRIORITY_UPDATE, 0, 0, &[&id.to_be_bytes()[..], field.as_bytes()].concat())
}

#[test]
fn priority_updates_reach_open_streams_and_wait_for_idle_ones() {
    table(vec![
        (
            "open stream",
            cat(&[get_open(1, &[]), priority_update(1, "u=1, i")]),
            seen(Ok(()), &["REQ 1 GET /", "PRIORITY 1 u=1 i"], &[]),
        ),
        (
            "before its HEADERS: follows the request",
            cat(&[priority_update(3, "u=6"), priority_update(5, "u=0"), get(3)]),
            seen(Ok(()), &["REQ 3 GET / END", "PRIORITY 3 u=6"], &[]),
        ),
        (
            "closed or even: dropped",
            cat(&[get(1), raw(RST, 0, 1, &u32s(&[8])), priority_update(1, "u=0"), priority_update(2, "u=0")]),
            seen(Ok(()), &["REQ 1 GET / END", "RESET 1 Cancel remote"], &[]),
        ),
        (
            "on a stream, not stream 0",
            raw(PRIORITY_UPDATE, 0, 1, &[0, 0, 0, 1]),
            seen(Err(ProtocolError), &[], &["GOAWAY 0 ProtocolError"]),
        ),
    ]);
}

#[test]
fn pending_priority_updates_are_bounded() {
    let mut c = open();
    let updates: Vec<Vec<u8>> = (0..100u32).map(|i| priority_update(2 * i + 1, "u=0")).collect();
    feed(&mut c, &cat(&updates));
    assert_eq!(feed(&mut c, &get(1)).events, ["REQ 1 GET / END"], "the oldest was forgotten");
    assert_eq!(feed(&mut c, &get(199)).events, ["REQ 199 GET / END", "PRIORITY 199 u=0"]);
}

#[test]
fn our_settings_say_we_use_no_rfc7540_priorities() {
    let mut c = Connection::default();
    let out = c.output().clone();
    let header = FrameHeader::parse(&out).unwrap();
    let Ok(Frame::Settings(_)) = frame::decode_settings(&header, &out[9..9 + header.length as usize]) else {
        panic!("the server preface is a SETTINGS frame")
    };
    let entry = [0, 0x9, 0, 0, 0, 1];
    assert!(out[9..9 + header.length as usize].chunks_exact(6).any(|e| e == entry), "{out:?}");
    // A client that sends 1 (or 0) is fine.
    let mut events = Vec::new();
    let input = cat(&[PREFACE.to_vec(), settings(&[(setting::NO_RFC7540_PRIORITIES, 1)])]);
    assert!(c.receive(&input, &mut events).is_ok());
}
