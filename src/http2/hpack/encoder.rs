//! The HPACK encoder for our responses: `:status` and a handful of fields, never indexed.
//!
//! A static-file server sends few, mostly unique fields (dates, lengths, etags), so it keeps
//! no dynamic table and needs no Huffman coding: `:status` uses its static entry where one
//! exists (200, 204, 206, 304, 400, 404, 500), every other field is a literal without indexing,
//! with the static table's name index when the name is there. The first block also carries a
//! dynamic table size update to 0 (RFC 7541 §6.3): the table we do not use is then empty and
//! within any SETTINGS_HEADER_TABLE_SIZE the peer announces later, so no later change ever
//! obliges us to signal anything. `encode_field_with` lowercases names as it writes them (RFC
//! 9113 §8.2.1); the encoder does not otherwise check fields, it only writes them, straight
//! into the frame output (`Connection::send_headers_with`): a response's field block has no
//! buffer of its own.

use super::table::static_name_index;

/// Appends `value` as an HPACK integer (§5.1) with a `prefix_bits`-bit prefix, OR-ing `flags`
/// into the first byte's high bits.
pub fn encode_integer(out: &mut Vec<u8>, value: usize, prefix_bits: u32, flags: u8) {
    let max = (1usize << prefix_bits.clamp(1, 8)) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    let mut rest = value - max;
    while rest >= 0x80 {
        out.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// Appends a raw (not Huffman-coded) string literal (§5.2).
pub fn encode_string(out: &mut Vec<u8>, s: &[u8]) {
    encode_integer(out, s.len(), 7, 0);
    out.extend_from_slice(s);
}

/// Appends a field as a literal without indexing (§6.2.2), by static name index if any. The
/// name is written as it is (tests build malformed requests with it).
pub fn encode_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    match static_name_index(name) {
        Some(index) => encode_integer(out, index, 4, 0),
        None => {
            out.push(0);
            encode_string(out, name);
        }
    }
    encode_string(out, value);
}

/// `encode_field` for a response: the name lowercased as it is written, the value written by
/// `value` straight into `out`, so a response's fields are encoded without a temporary.
pub fn encode_field_with(out: &mut Vec<u8>, name: &[u8], value: impl FnOnce(&mut Vec<u8>)) {
    // The name goes in as a new name, lowercased in place, then gives way to its static
    // index if it has one.
    let start = out.len();
    out.push(0);
    encode_string(out, name);
    let at = out.len() - name.len();
    out[at..].make_ascii_lowercase();
    if let Some(index) = static_name_index(&out[at..]) {
        out.truncate(start);
        encode_integer(out, index, 4, 0);
    }
    encode_string_with(out, value);
}

/// `encode_string` of what `write` appends: one length byte is reserved and patched, and
/// moved over only for the rare value of 127 bytes or more.
fn encode_string_with(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.push(0);
    write(out);
    let len = out.len() - at - 1;
    if len < 0x7f {
        out[at] = len as u8;
    } else {
        let mut prefix = Vec::with_capacity(4);
        encode_integer(&mut prefix, len, 7, 0);
        out.splice(at..=at, prefix);
    }
}

/// Appends `:status`: indexed (§6.1) when the static table has it, else a literal with
/// the static name (index 8) and the three digits.
pub fn encode_status(out: &mut Vec<u8>, status: u16) {
    let index = match status {
        200 => 8,
        204 => 9,
        206 => 10,
        304 => 11,
        400 => 12,
        404 => 13,
        500 => 14,
        _ => {
            // Statuses are three digits (RFC 9110 section 15).
            let digits =
                [b'0' + (status / 100 % 10) as u8, b'0' + (status / 10 % 10) as u8, b'0' + (status % 10) as u8];
            encode_integer(out, 8, 4, 0);
            return encode_string(out, &digits);
        }
    };
    encode_integer(out, index, 7, 0x80)
}

/// A connection's response-direction encoder: stateless but for the one size update.
#[derive(Debug, Default)]
pub struct Encoder {
    table_cleared: bool,
}

impl Encoder {
    /// An encoder for a new connection.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// Appends one response field block: `:status`, then `fields` in order.
    pub fn encode(&mut self, out: &mut Vec<u8>, status: u16, fields: &[(&[u8], &[u8])]) {
        self.begin(out, status);
        for &(name, value) in fields {
            encode_field(out, name, value);
        }
    }

    /// Appends the start of a response field block (the first one's size update, then
    /// `:status`); the caller appends its fields after it with `encode_field`, or bytes
    /// `encode_field` wrote earlier (a cached file's fields, encoded once for every
    /// response): literals without indexing depend on no table state, so they can be kept
    /// and appended as they are.
    pub fn begin(&mut self, out: &mut Vec<u8>, status: u16) {
        if !self.table_cleared {
            encode_integer(out, 0, 5, 0x20);
            self.table_cleared = true;
        }
        encode_status(out, status);
    }
}

#[cfg(test)]
mod tests {
    use super::super::decoder::{Decoder, Header};
    use super::super::table::static_index;
    use super::*;

    #[test]
    fn integers_match_rfc_7541_c1() {
        let cases: [(usize, u32, u8, &[u8]); 6] = [
            (10, 5, 0, &[0x0a]),               // C.1.1
            (1337, 5, 0, &[0x1f, 0x9a, 0x0a]), // C.1.2
            (42, 8, 0, &[0x2a]),               // C.1.3
            (31, 5, 0xe0, &[0xff, 0x00]),
            (62, 7, 0x80, &[0xbe]),
            (u32::MAX as usize, 5, 0, &[0x1f, 0xe0, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for (value, prefix, flags, want) in cases {
            let mut out = Vec::new();
            encode_integer(&mut out, value, prefix, flags);
            assert_eq!(out, want, "{value} on {prefix} bits");
        }
    }

    #[test]
    fn status_uses_the_static_table_where_it_can() {
        let cases: [(u16, &[u8]); 9] = [
            (200, &[0x88]),
            (204, &[0x89]),
            (206, &[0x8a]),
            (304, &[0x8b]),
            (400, &[0x8c]),
            (404, &[0x8d]),
            (500, &[0x8e]),
            (302, b"\x08\x03302"),
            (416, b"\x08\x03416"),
        ];
        for (status, want) in cases {
            let mut out = Vec::new();
            encode_status(&mut out, status);
            assert_eq!(out, want, "{status}");
        }
    }

    #[test]
    fn fields_use_static_name_indexes_or_a_new_name() {
        let cases: [(&[u8], &[u8], &[u8]); 3] = [
            (b"content-length", b"12", b"\x0f\x0d\x0212"), // index 28 = 15 + 13
            (b"date", b"x", b"\x0f\x12\x01x"),             // index 33 = 15 + 18
            (b"x-frame-options", b"DENY", b"\x00\x0fx-frame-options\x04DENY"),
        ];
        for (name, value, want) in cases {
            let mut out = Vec::new();
            encode_field(&mut out, name, value);
            assert_eq!(out, want);
        }
    }

    #[test]
    fn statuses_match_the_static_table() {
        for status in 100..1000 {
            let mut out = Vec::new();
            encode_status(&mut out, status);
            let value = status.to_string();
            let want = match static_index(b":status", value.as_bytes()) {
                Some(index) => vec![0x80 | index as u8],
                None => [b"\x08\x03", value.as_bytes()].concat(),
            };
            assert_eq!(out, want, "{status}");
        }
    }

    #[test]
    fn values_written_in_place_get_their_length() {
        for len in [0, 1, 126, 127, 128, 300, 20_000] {
            let value = vec![b'v'; len];
            let (mut direct, mut with) = (Vec::new(), Vec::new());
            encode_field(&mut direct, b"x-a", &value);
            encode_field_with(&mut with, b"X-A", |out| out.extend_from_slice(&value));
            assert_eq!(with, direct, "{len}");
            let mut head = vec![0, 3];
            head.extend_from_slice(b"x-a");
            encode_integer(&mut head, len, 7, 0);
            assert!(direct.starts_with(&head) && direct.len() == head.len() + len, "{len}");
        }
        let mut out = Vec::new();
        encode_field_with(&mut out, b"Content-Length", |out| out.extend_from_slice(b"12"));
        assert_eq!(out, b"\x0f\x0d\x0212", "lowercased, then by its static name index");
    }

    #[test]
    fn blocks_decode_back_and_leave_no_state() {
        let mut enc = Encoder::new();
        let mut dec = Decoder::new();
        let long = vec![b'v'; 300];
        let fields: [(&[u8], &[u8]); 4] =
            [(b"content-type", b"text/html"), (b"etag", b"\"abc\""), (b"x-long", &long), (b"server", b"evserve")];
        for status in [200, 302, 404] {
            let mut block = Vec::new();
            enc.encode(&mut block, status, &fields);
            let got = dec.decode(&block).unwrap();
            let mut want =
                vec![Header { name: b":status".to_vec(), value: status.to_string().into_bytes(), sensitive: false }];
            want.extend(fields.iter().map(|&(n, v)| Header { name: n.to_vec(), value: v.to_vec(), sensitive: false }));
            assert_eq!(got, want);
            assert_eq!(dec.table().len(), 0, "nothing is ever indexed");
        }
        let mut first = Vec::new();
        Encoder::new().encode(&mut first, 200, &[]);
        assert_eq!(first, [0x20, 0x88], "the first block clears the table, later ones do not");
        let mut later = Vec::new();
        enc.encode(&mut later, 200, &[]);
        assert_eq!(later, [0x88]);
    }
}
