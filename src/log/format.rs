//! Rendering a line: the Combined Log Format's escapes and time stamp, the JSON line, and
//! the calendar arithmetic both need (no clock, no I/O).
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Pending, Record};

/// The JSON line for `r`, all but its `bytes` and `duration_us` (see `finish`):
/// `{"time":"2026-12-01T09:30:00.123456Z","client":"192.0.2.1","method":"GET","target":"/",
/// "protocol":"HTTP/1.1","status":200,"bytes":1024,"duration_us":87,"referer":null,
/// "user_agent":"curl/8.0"}`. A request that did not parse has null method, target and
/// protocol.
pub(super) fn begin_json(r: &Record, now: SystemTime) -> Pending {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(b"{\"time\":\"");
    head.extend_from_slice(rfc3339_micros(since.as_secs(), since.subsec_micros()).as_bytes());
    head.extend_from_slice(b"\",\"client\":");
    match r.peer {
        Some(p) => json_string(&mut head, p.ip().to_canonical().to_string().as_bytes()),
        None => head.extend_from_slice(b"null"),
    }
    let (method, target, protocol) = match r.method {
        Some(m) => (Some(m.as_bytes()), Some(r.target.as_bytes()), Some(r.protocol.as_bytes())),
        None => (None, None, None),
    };
    for (name, value) in [("method", method), ("target", target), ("protocol", protocol)] {
        json_field(&mut head, name, value);
    }
    head.extend_from_slice(format!(",\"status\":{},", r.status).as_bytes());
    let mut tail = Vec::with_capacity(128);
    json_field(&mut tail, "referer", r.referer);
    json_field(&mut tail, "user_agent", r.user_agent);
    tail.extend_from_slice(b"}\n");
    Pending { head, tail, started: r.started }
}

/// `,"name":"value"`, or `,"name":null`.
fn json_field(out: &mut Vec<u8>, name: &str, value: Option<&[u8]>) {
    out.extend_from_slice(format!(",\"{name}\":").as_bytes());
    match value {
        Some(v) => json_string(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

/// A JSON string for bytes that may not be UTF-8 (a request target, a user agent). Valid
/// printable UTF-8 is kept; every other byte, and `\` itself, becomes the text `\xHH`
/// (as in the combined format), so the line is valid JSON and the original bytes can be
/// recovered exactly: in the decoded string, a `\` always starts such an escape.
pub(super) fn json_string(out: &mut Vec<u8>, v: &[u8]) {
    out.push(b'"');
    for chunk in v.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\x5C"),
                c if c.is_control() => {
                    for b in c.encode_utf8(&mut [0; 4]).bytes() {
                        out.extend_from_slice(format!("\\\\x{b:02X}").as_bytes());
                    }
                }
                c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        for b in chunk.invalid() {
            out.extend_from_slice(format!("\\\\x{b:02X}").as_bytes());
        }
    }
    out.push(b'"');
}

/// `2026-12-01T09:30:00.123456Z` (RFC 3339, UTC, microseconds).
pub fn rfc3339_micros(unix_seconds: u64, micros: u32) -> String {
    let (year, month, day) = civil_from_days((unix_seconds / 86_400) as i64);
    let secs = unix_seconds % 86_400;
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Escapes `"`, `\` and anything not printable ASCII as `\xHH` (as nginx does), so a
/// field can never break the line or the quoting.
pub(super) fn escape_into(out: &mut Vec<u8>, v: &[u8]) {
    for &c in v {
        if c == b'"' || c == b'\\' || !(0x20..0x7f).contains(&c) {
            out.extend_from_slice(format!("\\x{c:02X}").as_bytes());
        } else {
            out.push(c);
        }
    }
}

/// `[dd/Mon/yyyy:HH:MM:SS +0000]` for a Unix time, in UTC.
pub fn clf_time(unix_seconds: u64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = (unix_seconds / 86_400) as i64;
    let secs = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "[{day:02}/{}/{year:04}:{:02}:{:02}:{:02} +0000]",
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 -> (year, month 1-12, day 1-31) in the proleptic Gregorian
/// calendar (the well-known era-based conversion).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
