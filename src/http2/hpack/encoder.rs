//! The HPACK encoder for our responses: `:status` and a handful of fields.
//!
//! A static-file server sends the same few fields again and again: a cached file's
//! (`content-type`, `content-length`, `etag`, `last-modified`...), the site's, and `date` and
//! `server`. Each such set is a *block* with an id (`http::plan::FieldBlock`). The first time
//! a block goes out on a connection its fields are literals with incremental indexing, so they
//! enter the client's dynamic table; while they are all still there, the block goes out again
//! as one index byte per field (a 1 KiB file's response fields: about 170 bytes, then 9). The
//! encoder keeps no field bytes, only the sizes of the entries it made (RFC 7541 §4.1) and
//! which block made which, so a connection's memory stays small; and a connection's first
//! response indexes nothing, so one that asks once keeps no table at all. The table is the
//! client's default 4096 bytes or less (SETTINGS_HEADER_TABLE_SIZE); when the client changes
//! that setting, the next block empties the table and says the size we use (§6.3). A response's own fields
//! (`content-range`, `location`) are literals without indexing. No Huffman coding: the bytes it
//! would save are few once blocks are indexed, and the client decodes raw bytes faster.
//! `:status` uses its static entry where one exists (200, 204, 206, 304, 400, 404, 500).
//! `encode_field_with` lowercases names as it writes them (RFC 9113 §8.2.1); the encoder does
//! not otherwise check fields, it only writes them, straight into the frame output
//! (`Connection::send_headers_with`): a response's field block has no buffer of its own.
use std::collections::VecDeque;

use super::table::static_name_index;

/// Appends `value` as an HPACK integer (§5.1) with a `prefix_bits`-bit prefix, OR-ing `flags`
/// into the first byte's high bits.
#[inline]
pub fn encode_integer(out: &mut Vec<u8>, value: usize, prefix_bits: u32, flags: u8) {
    let max = (1usize << prefix_bits.clamp(1, 8)) - 1;
    if value < max {
        out.push(flags | value as u8);
    } else {
        encode_long_integer(out, value, max, flags);
    }
}

/// `encode_integer` of a value that does not fit its prefix: the rare case, kept out of line.
#[inline(never)]
fn encode_long_integer(out: &mut Vec<u8>, value: usize, max: usize, flags: u8) {
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
    encode_field_as(out, name, value, WITHOUT_INDEXING);
}

/// A literal field representation: its flag bits and its name index's prefix (§6.2).
#[derive(Clone, Copy)]
struct Literal {
    flags: u8,
    prefix: u32,
}

const WITHOUT_INDEXING: Literal = Literal { flags: 0, prefix: 4 };
const INCREMENTAL_INDEXING: Literal = Literal { flags: 0x40, prefix: 6 };

/// Appends a field as the `literal` representation, the name lowercased; returns the
/// lengths of its name and value (what a table entry of it weighs, less 32).
fn encode_field_as(
    out: &mut Vec<u8>,
    name: &[u8],
    value: impl FnOnce(&mut Vec<u8>),
    literal: Literal,
) -> (usize, usize) {
    // The name goes in as a new name, lowercased in place, then gives way to its static
    // index if it has one.
    let start = out.len();
    out.push(literal.flags);
    encode_string(out, name);
    let at = out.len() - name.len();
    out[at..].make_ascii_lowercase();
    if let Some(index) = static_name_index(&out[at..]) {
        out.truncate(start);
        encode_integer(out, index, literal.prefix, literal.flags);
    }
    (name.len(), encode_string_with(out, value))
}

/// `encode_string` of what `write` appends: one length byte is reserved and patched, and
/// moved over only for the rare value of 127 bytes or more. Returns the string's length.
fn encode_string_with(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) -> usize {
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
    len
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

/// The dynamic table we keep in the client's decoder at most: its default size, which holds
/// a few files' fields; more would be memory in every client for little gain.
const TABLE_MAX: usize = 4096;

/// The blocks a connection remembers as indexed.
const BLOCKS: usize = 4;

/// A field of a block: its name, and its value written onto a buffer.
pub trait BlockField {
    fn name(&self) -> &[u8];
    fn write_value(&self, out: &mut Vec<u8>);
}

impl BlockField for (&[u8], &[u8]) {
    fn name(&self) -> &[u8] {
        self.0
    }

    fn write_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.1);
    }
}

/// A connection's response-direction encoder: what its blocks made of the client's table.
#[derive(Debug)]
pub struct Encoder {
    /// The client's SETTINGS_HEADER_TABLE_SIZE.
    limit: usize,
    /// The table size the client's decoder has: the initial 4096, then what our last size
    /// update said.
    told: usize,
    /// Made at the first insertion.
    table: Option<Box<Table>>,
    /// A block has been begun; one before the current one: the first response goes as
    /// literals, so a connection that asks once keeps no table.
    begun: bool,
    again: bool,
}

/// The client's dynamic table as our blocks made it: entry sizes, not bytes (an idle
/// connection that served a file holds about 180 bytes of it).
#[derive(Debug, Default)]
struct Table {
    /// Sizes of the live entries (a name and a value and 32, §4.1, at most `TABLE_MAX`),
    /// oldest first.
    sizes: VecDeque<u16>,
    size: usize,
    /// Entries inserted so far: the newest, number `inserted - 1`, has index 62.
    inserted: u32,
    /// Blocks sent with all their fields inserted (id 0: none), replaced in turn.
    blocks: [Remembered; BLOCKS],
    next: usize,
}

/// A block whose fields were inserted: the first one's number, and how many.
#[derive(Debug, Default, Clone, Copy)]
struct Remembered {
    id: u64,
    first: u32,
    count: u16,
}

impl Table {
    /// What the decoder does on an insertion (§4.4): evict the oldest until the entry fits,
    /// or empty the table for an entry larger than it. True if the entry was added.
    fn insert(&mut self, size: usize, max: usize) -> bool {
        if size > max {
            self.sizes.clear();
            self.size = 0;
            return false;
        }
        while self.size + size > max {
            self.size -= self.sizes.pop_front().map_or(0, |s| s as usize);
        }
        self.sizes.push_back(size as u16);
        self.size += size;
        self.inserted += 1;
        true
    }

    /// The number of the oldest live entry.
    fn live_from(&self) -> u32 {
        self.inserted - self.sizes.len() as u32
    }
}

impl Default for Encoder {
    fn default() -> Encoder {
        Encoder { limit: TABLE_MAX, told: TABLE_MAX, table: None, begun: false, again: false }
    }
}

impl Encoder {
    /// An encoder for a new connection.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// The client's SETTINGS_HEADER_TABLE_SIZE changed: the next block says the size we use.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Appends one response field block: `:status`, then `fields` in order, as literals.
    #[cfg(test)]
    pub fn encode(&mut self, out: &mut Vec<u8>, status: u16, fields: &[(&[u8], &[u8])]) {
        self.begin(out, status);
        for &(name, value) in fields {
            encode_field(out, name, value);
        }
    }

    /// Appends the start of a response field block: a size update if the client's limit
    /// changed, then `:status`. The caller appends the fields after it (`block`,
    /// `encode_field_with`).
    pub fn begin(&mut self, out: &mut Vec<u8>, status: u16) {
        let want = self.limit.min(TABLE_MAX);
        // A table emptied now and then, long before its entries' numbers could wrap.
        let worn = self.table.as_ref().is_some_and(|t| t.inserted > u32::MAX / 2);
        if want != self.told || worn {
            // Emptied, then the size we use (§6.3: two updates may open a block); what our
            // blocks inserted is forgotten with it.
            encode_integer(out, 0, 5, 0x20);
            if want > 0 {
                encode_integer(out, want, 5, 0x20);
            }
            self.told = want;
            self.table = None;
        }
        (self.again, self.begun) = (self.begun, true);
        encode_status(out, status);
    }

    /// Appends the fields of block `id` (one id, always the same fields): one index each if
    /// the block went out on this connection before and its entries are all still in the
    /// table, else literals that insert them (literals alone in the first response).
    pub fn block<F: BlockField>(&mut self, out: &mut Vec<u8>, id: u64, fields: &[F]) {
        let max = self.told;
        if max == 0 || !self.again {
            for f in fields {
                encode_field_as(out, f.name(), |v| f.write_value(v), WITHOUT_INDEXING);
            }
            return;
        }
        let t = self.table.get_or_insert_default();
        let slot = t.blocks.iter().position(|b| b.id == id);
        if let Some(b) = slot.map(|i| t.blocks[i])
            && b.first >= t.live_from()
        {
            // Field j has index 62 + (inserted - 1 - (first + j)): the block's first field is
            // the oldest of its entries, so it has the highest index.
            let top = 62 + (t.inserted - 1 - b.first) as usize;
            if top < 0x7f {
                out.extend((0..usize::from(b.count)).map(|j| 0x80 | (top - j) as u8)); // One byte each.
            } else {
                for j in 0..usize::from(b.count) {
                    encode_integer(out, top - j, 7, 0x80);
                }
            }
            return;
        }
        let first = t.inserted;
        let mut all = fields.len() <= usize::from(u16::MAX);
        for f in fields {
            let (name, value) = encode_field_as(out, f.name(), |v| f.write_value(v), INCREMENTAL_INDEXING);
            all &= t.insert(name + value + 32, max);
        }
        if all && !fields.is_empty() {
            // Its old slot if it had one, else the next in turn.
            let i = slot.unwrap_or_else(|| {
                t.next = (t.next + 1) % BLOCKS;
                t.next
            });
            t.blocks[i] = Remembered { id, first, count: fields.len() as u16 };
        } else if let Some(i) = slot {
            t.blocks[i] = Remembered::default();
        }
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
    fn blocks_decode_back_and_literals_leave_no_state() {
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
            assert_eq!(dec.table().len(), 0, "literals without indexing");
        }
        let mut first = Vec::new();
        Encoder::new().encode(&mut first, 200, &[]);
        assert_eq!(first, [0x88], "the client's table starts at the size we use: nothing to say");
    }

    /// Decodes `block`, the fields after `:status`.
    fn fields_of(dec: &mut Decoder, block: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let got = dec.decode(block).unwrap();
        assert_eq!(got[0].name, b":status");
        got[1..].iter().map(|h| (h.name.clone(), h.value.clone())).collect()
    }

    #[test]
    fn a_block_sent_again_is_one_index_a_field() {
        let (mut enc, mut dec) = (Encoder::new(), Decoder::new());
        let file: [(&[u8], &[u8]); 3] =
            [(b"content-type", b"text/plain"), (b"content-length", b"12"), (b"ETag", b"\"e\"")];
        let head: [(&[u8], &[u8]); 2] = [(b"date", b"Mon, 07 Dec 2026 22:00:00 GMT"), (b"server", b"evserve")];
        let want: Vec<(Vec<u8>, Vec<u8>)> =
            head.iter().chain(&file).map(|&(n, v)| (n.to_ascii_lowercase(), v.to_vec())).collect();
        let mut sizes = Vec::new();
        for _ in 0..4 {
            let mut block = Vec::new();
            enc.begin(&mut block, 200);
            enc.block(&mut block, 1, &head);
            enc.block(&mut block, 2, &file);
            assert_eq!(fields_of(&mut dec, &block), want);
            sizes.push(block.len());
        }
        assert!(sizes[0] > 50 && sizes[1] > 50, "literals, then literals that insert: {sizes:?}");
        assert_eq!(sizes[2..], [6, 6], "`:status` and five indexes");
        // Another file's block: inserted in turn; both then go as indexes.
        let other: [(&[u8], &[u8]); 1] = [(b"content-length", b"99")];
        for round in 0..2 {
            let mut block = Vec::new();
            enc.begin(&mut block, 200);
            enc.block(&mut block, 3, &other);
            enc.block(&mut block, 2, &file);
            let got = fields_of(&mut dec, &block);
            assert_eq!(got[0], (b"content-length".to_vec(), b"99".to_vec()));
            assert_eq!(got[1..], want[2..]);
            if round == 1 {
                assert_eq!(block.len(), 5);
            }
        }
    }

    #[test]
    fn a_smaller_table_is_said_and_followed() {
        let (mut enc, mut dec) = (Encoder::new(), Decoder::new());
        dec.decode(&{
            let mut first = Vec::new();
            enc.begin(&mut first, 200); // The first response, which indexes nothing.
            first
        })
        .unwrap();
        let small: [(&[u8], &[u8]); 1] = [(b"x-a", b"1")]; // 3 + 1 + 32 = 36 bytes
        let big = vec![b'b'; 80];
        let too_big: [(&[u8], &[u8]); 1] = [(b"x-b", &big)]; // 115 bytes
        enc.set_limit(100);
        let mut block = Vec::new();
        enc.begin(&mut block, 200);
        assert_eq!(block[..3], [0x20, 0x3f, 0x45], "emptied, then 100");
        enc.block(&mut block, 1, &small);
        enc.block(&mut block, 2, &too_big);
        assert_eq!(fields_of(&mut dec, &block), [(b"x-a".to_vec(), b"1".to_vec()), (b"x-b".to_vec(), big.clone())]);
        assert_eq!(dec.table().len(), 0, "the entry too big for the table emptied it");
        // So block 1 is sent whole again, then as an index.
        for want_len in [8, 2] {
            let mut block = Vec::new();
            enc.begin(&mut block, 200);
            enc.block(&mut block, 1, &small);
            assert_eq!(block.len(), want_len);
            assert_eq!(fields_of(&mut dec, &block), [(b"x-a".to_vec(), b"1".to_vec())]);
        }
        // A limit of 0: no table at all, literals without indexing.
        enc.set_limit(0);
        let mut block = Vec::new();
        enc.begin(&mut block, 200);
        enc.block(&mut block, 1, &small);
        assert_eq!(block, b"\x20\x88\x00\x03x-a\x011");
        assert_eq!(fields_of(&mut dec, &block), [(b"x-a".to_vec(), b"1".to_vec())]);
    }

    #[test]
    fn any_sequence_of_blocks_and_limits_decodes_to_its_fields() {
        // A small deterministic generator: blocks of up to 5 fields of up to 600 bytes, sent
        // in a random order, with the client's limit changed now and then.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let blocks: Vec<Vec<(Vec<u8>, Vec<u8>)>> = (0..12)
            .map(|b| {
                (0..next(6))
                    .map(|f| (format!("x-{b}-{f}").into_bytes(), vec![b'a' + (f as u8); next(600) as usize]))
                    .collect()
            })
            .collect();
        let (mut enc, mut dec) = (Encoder::new(), Decoder::new());
        for _ in 0..2_000 {
            if next(50) == 0 {
                enc.set_limit([0, 40, 200, 1000, 4096, 65536][next(6) as usize]);
            }
            let mut block = Vec::new();
            enc.begin(&mut block, 200);
            let mut want = Vec::new();
            for _ in 0..next(4) {
                let id = next(blocks.len() as u64);
                let fields: Vec<(&[u8], &[u8])> = blocks[id as usize].iter().map(|(n, v)| (&n[..], &v[..])).collect();
                enc.block(&mut block, id + 1, &fields);
                want.extend(blocks[id as usize].iter().cloned());
            }
            assert_eq!(fields_of(&mut dec, &block), want);
            // Our account of the client's table is the table.
            let (entries, size) = enc.table.as_ref().map_or((0, 0), |t| (t.sizes.len(), t.size));
            assert_eq!((entries, size), (dec.table().len(), dec.table().size()));
        }
    }
}
