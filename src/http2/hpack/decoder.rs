//! The HPACK decoder (RFC 7541 §3 and §6): one field block (the concatenated HEADERS and
//! CONTINUATION fragments) in, a header list out, the dynamic table updated along the way.
//!
//! It bounds what a peer can make it build: the decoded list is accounted as RFC 9113 counts
//! SETTINGS_MAX_HEADER_LIST_SIZE (name + value + 32 per field) and by field count. Past either
//! limit it stops materialising fields but still walks the rest of the block, applying only
//! what changes the dynamic table, and then reports `ListTooLarge` / `TooManyFields`: the
//! table stays in sync with the peer's encoder, so the caller can refuse the one request (431,
//! or RST_STREAM REFUSED_STREAM) and keep the connection. An HPACK bomb (one big entry
//! referenced thousands of times) therefore costs a few bytes of parsing per reference, not a
//! copy. Every other error leaves the table unusable and is a connection COMPRESSION_ERROR.
//!
//! It does not bound the block itself (the connection limits how much HEADERS+CONTINUATION it
//! buffers) and does not check HTTP semantics of the fields (pseudo-headers, lowercase names,
//! forbidden connection headers: RFC 9113 §8.2 belongs to the request layer).

use super::super::field::{self, Checked};
use super::super::{Error, ErrorCode, StreamId};
use super::huffman::{self, HuffmanError};
use super::spare;
use super::table::{self, DynamicTable, MAX_TABLE_SIZE, TableError, entry_size};

/// The decoded header list size we accept (our SETTINGS_MAX_HEADER_LIST_SIZE, in §4.1
/// units): 16 KiB holds any sane request, and bounds memory per stream.
pub const MAX_HEADER_LIST_SIZE: usize = 16 * 1024;

/// The most fields one header list may have: a request needs a few dozen; more is abuse that
/// would cost an allocation each.
pub const MAX_HEADER_FIELDS: usize = 128;

/// The largest integer we decode: every HPACK integer is an index, a length or a table size,
/// and none of those is meaningful past 32 bits.
const MAX_INTEGER: u64 = u32::MAX as u64;

/// One decoded field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The name, as sent.
    pub name: Vec<u8>,
    /// The value, as sent.
    pub value: Vec<u8>,
    /// Sent as "never indexed" (§6.2.3): must stay a literal if forwarded.
    pub sensitive: bool,
}

/// Where a name or value lies: in its list's bytes, or in the static table.
///
/// Why the static table: a field sent by static index (`:method GET`, `:scheme https`,
/// `accept-encoding: gzip, deflate`) has bytes that never change, so the list points at them
/// instead of copying them: two small copies saved per such field, and most requests have a
/// few. Offsets are `u32` so that a span stays two words (a `Request` holds four and is moved
/// about): a list's bytes stay far below 4 GiB (`HeaderList::push_last`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Span {
    /// `start..end` of the list's bytes.
    List { start: u32, end: u32 },
    /// A name or value of the static table.
    Static(&'static [u8]),
}

impl Default for Span {
    /// An empty span.
    fn default() -> Span {
        Span::List { start: 0, end: 0 }
    }
}

impl Span {
    /// The bytes of this span, `bytes` being the buffer of the list it came from.
    pub fn of(self, bytes: &[u8]) -> &[u8] {
        match self {
            Span::List { start, end } => bytes.get(start as usize..end as usize).unwrap_or_default(),
            Span::Static(bytes) => bytes,
        }
    }
}

/// One field of a `HeaderList`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The name's bytes.
    pub name: Span,
    /// The value's bytes.
    pub value: Span,
    /// Sent as "never indexed" (§6.2.3).
    pub sensitive: bool,
    /// The §8.2.1 verdict on its bytes (the table's, for a field sent by index).
    pub checked: Checked,
}

/// A decoded header list laid out flat: every name and value in one buffer (but fields sent
/// by static index, whose spans point into the static table), each field a pair of spans.
/// Two buffers per list, however many fields, and those are the buffers of a list dropped
/// earlier on this thread when there is one (`spare`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderList {
    bytes: Vec<u8>,
    fields: Vec<Field>,
}

impl Drop for HeaderList {
    fn drop(&mut self) {
        spare::give(std::mem::take(&mut self.bytes), std::mem::take(&mut self.fields));
    }
}

impl HeaderList {
    /// An empty list with room for `bytes` of names and values and `fields` fields.
    pub fn with_capacity(bytes: usize, fields: usize) -> HeaderList {
        let (bytes, fields) = spare::take(bytes, fields);
        HeaderList { bytes, fields }
    }

    /// Appends a field.
    pub fn push(&mut self, name: &[u8], value: &[u8], sensitive: bool) {
        self.push_checked(name, value, sensitive, Checked::of(name, value));
    }

    /// Appends a field whose verdict is known. Inlined: it is most of the work of a field sent
    /// by index.
    #[inline]
    fn push_checked(&mut self, name: &[u8], value: &[u8], sensitive: bool, checked: Checked) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(name);
        let middle = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.push_last(start, middle, sensitive, checked);
    }

    /// Appends a field of the static table, by reference.
    fn push_static(&mut self, name: &'static [u8], value: &'static [u8], checked: Checked) {
        let (name, value) = (Span::Static(name), Span::Static(value));
        self.fields.push(Field { name, value, sensitive: false, checked });
    }

    /// Makes a field named `name` (of the static table) of the bytes appended since `start`;
    /// past 4 GiB, as `push_last`.
    fn push_value(&mut self, name: &'static [u8], start: usize, sensitive: bool, checked: Checked) {
        let Ok(end) = u32::try_from(self.bytes.len()) else {
            self.bytes.truncate(start);
            return;
        };
        // `start <= end`, so the cast does not truncate.
        let value = Span::List { start: start as u32, end };
        self.fields.push(Field { name: Span::Static(name), value, sensitive, checked });
    }

    /// Makes a field of the bytes appended since `start`, its name up to `middle`. A field
    /// whose bytes would end past 4 GiB is dropped, as spans cannot reach it; the decoder's
    /// limits (a 16 KiB list, a 64 KiB block) never come near.
    fn push_last(&mut self, start: usize, middle: usize, sensitive: bool, checked: Checked) {
        let Ok(end) = u32::try_from(self.bytes.len()) else {
            self.bytes.truncate(start);
            return;
        };
        // `start <= middle <= end`, so neither cast truncates.
        let (start, middle) = (start as u32, middle as u32);
        let (name, value) = (Span::List { start, end: middle }, Span::List { start: middle, end });
        self.fields.push(Field { name, value, sensitive, checked });
    }

    /// The buffer the spans point into.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The fields as spans, in order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The fields as (name, value), in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.fields.iter().map(|f| (f.name.of(&self.bytes), f.value.of(&self.bytes)))
    }

    /// How many fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether it has no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// Why a field block was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The block ends inside a representation.
    Truncated,
    /// An integer does not fit 32 bits.
    IntegerOverflow,
    /// An index is 0 or past the end of the tables.
    BadIndex,
    /// A Huffman string is malformed.
    Huffman(HuffmanError),
    /// A dynamic table size update exceeds our SETTINGS_HEADER_TABLE_SIZE.
    SizeUpdateTooLarge,
    /// A dynamic table size update comes after a field.
    SizeUpdateNotFirst,
    /// The decoded list exceeds `MAX_HEADER_LIST_SIZE` (the table is still consistent).
    ListTooLarge,
    /// The list has more than `MAX_HEADER_FIELDS` fields (the table is still consistent).
    TooManyFields,
}

impl DecodeError {
    /// Whether the dynamic table is still in sync, so only this request need be refused.
    pub fn is_recoverable(self) -> bool {
        matches!(self, DecodeError::ListTooLarge | DecodeError::TooManyFields)
    }

    /// The protocol error for a block on `stream_id`: a recoverable limit refuses the stream,
    /// anything else is a connection COMPRESSION_ERROR.
    pub fn to_error(self, stream_id: StreamId) -> Error {
        if self.is_recoverable() {
            Error::Stream(stream_id, ErrorCode::RefusedStream)
        } else {
            Error::Connection(ErrorCode::CompressionError)
        }
    }
}

impl From<TableError> for DecodeError {
    fn from(e: TableError) -> DecodeError {
        match e {
            TableError::BadIndex => DecodeError::BadIndex,
            TableError::SizeAboveLimit => DecodeError::SizeUpdateTooLarge,
        }
    }
}

/// A cursor over one field block.
struct Reader<'a> {
    block: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.block.get(self.pos).copied()
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = self.peek().ok_or(DecodeError::Truncated)?;
        self.pos = self.pos.saturating_add(1);
        Ok(b)
    }

    /// An integer with an N-bit prefix (§5.1). Inlined: nearly every index and length fits
    /// its prefix, one byte, and there are several per field.
    #[inline]
    fn integer(&mut self, prefix_bits: u32) -> Result<usize, DecodeError> {
        let mask = ((1u16 << prefix_bits.clamp(1, 8)) - 1) as u8;
        let first = self.byte()? & mask;
        if first < mask {
            return Ok(usize::from(first));
        }
        self.integer_continued(mask)
    }

    /// The continuation bytes of an integer whose prefix, `mask`, was all ones.
    #[inline(never)]
    fn integer_continued(&mut self, mask: u8) -> Result<usize, DecodeError> {
        let mut value = u64::from(mask);
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            value = value.saturating_add(u64::from(b & 0x7f) << shift);
            if value > MAX_INTEGER {
                return Err(DecodeError::IntegerOverflow);
            }
            if b & 0x80 == 0 {
                return usize::try_from(value).map_err(|_| DecodeError::IntegerOverflow);
            }
            shift += 7;
            if shift > 28 {
                // A sixth continuation byte can only be zero padding or overflow.
                return Err(DecodeError::IntegerOverflow);
            }
        }
    }

    /// A string literal (§5.2), decoded onto the end of `out`.
    fn string(&mut self, out: &mut Vec<u8>) -> Result<(), DecodeError> {
        let (huffman, raw) = self.raw_string()?;
        if huffman {
            out.reserve(raw.len().saturating_mul(8) / 5);
            huffman::decode(raw, out).map_err(DecodeError::Huffman)
        } else {
            out.extend_from_slice(raw);
            Ok(())
        }
    }

    /// A string literal stepped over undecoded: whether it is Huffman-coded, its octets.
    fn raw_string(&mut self) -> Result<(bool, &'a [u8]), DecodeError> {
        let huffman = self.peek().ok_or(DecodeError::Truncated)? & 0x80 != 0;
        let len = self.integer(7)?;
        let end = self.pos.checked_add(len).ok_or(DecodeError::Truncated)?;
        let raw = self.block.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok((huffman, raw))
    }
}

/// The header list being built, and the limits it is held to.
struct List<'l> {
    headers: &'l mut HeaderList,
    size: usize,
    fields: usize,
    max_size: usize,
    max_fields: usize,
    over: Option<DecodeError>,
}

impl List<'_> {
    /// Whether fields are still being kept (no limit passed yet).
    fn keeping(&self) -> bool {
        self.over.is_none()
    }

    /// Keeps the field decoded at the end of the buffer since `start` (its name up to
    /// `middle`), or takes it back out if it passes a limit.
    fn keep_last(&mut self, start: usize, middle: usize, sensitive: bool, checked: Checked) {
        let (name, value) = self.headers.bytes.get(start..).unwrap_or_default().split_at(middle - start);
        if self.admit(entry_size(name, value)) {
            self.headers.push_last(start, middle, sensitive, checked);
        } else {
            self.headers.bytes.truncate(start);
        }
    }

    /// Keeps the value decoded at the end of the buffer since `start` as a field named by the
    /// static table, or takes it back out if it passes a limit.
    fn keep_value(&mut self, name: &'static [u8], start: usize, sensitive: bool, checked: Checked) {
        let value = self.headers.bytes.get(start..).unwrap_or_default();
        if self.admit(entry_size(name, value)) {
            self.headers.push_value(name, start, sensitive, checked);
        } else {
            self.headers.bytes.truncate(start);
        }
    }

    /// Counts a field of `size` (§4.1: name, value and 32) against the limits; returns
    /// whether to keep it.
    fn admit(&mut self, size: usize) -> bool {
        if self.over.is_some() {
            return false;
        }
        self.fields = self.fields.saturating_add(1);
        self.size = self.size.saturating_add(size);
        if self.fields > self.max_fields {
            self.over = Some(DecodeError::TooManyFields);
        } else if self.size > self.max_size {
            self.over = Some(DecodeError::ListTooLarge);
        }
        self.keeping()
    }
}

/// An HPACK decoder: the dynamic table of one connection's request direction.
#[derive(Debug)]
pub struct Decoder {
    table: DynamicTable,
    max_list_size: usize,
    max_fields: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder with our limits: a 4096-byte table, `MAX_HEADER_LIST_SIZE`,
    /// `MAX_HEADER_FIELDS`.
    pub fn new() -> Decoder {
        Decoder::with_limits(MAX_TABLE_SIZE, MAX_HEADER_LIST_SIZE, MAX_HEADER_FIELDS)
    }

    /// A decoder with other limits (tests, or a different SETTINGS_HEADER_TABLE_SIZE).
    pub fn with_limits(table_size: usize, max_list_size: usize, max_fields: usize) -> Decoder {
        Decoder { table: DynamicTable::new(table_size), max_list_size, max_fields }
    }

    /// The dynamic table, for inspection.
    pub fn table(&self) -> &DynamicTable {
        &self.table
    }

    /// Decodes one complete field block into a list of owned headers (tests, fuzzing).
    pub fn decode(&mut self, block: &[u8]) -> Result<Vec<Header>, DecodeError> {
        let list = self.decode_list(block)?;
        let bytes = list.bytes();
        let header = |f: &Field| Header {
            name: f.name.of(bytes).to_vec(),
            value: f.value.of(bytes).to_vec(),
            sensitive: f.sensitive,
        };
        Ok(list.fields().iter().map(header).collect())
    }

    /// A literal's name (indexed, or a string) then its value, appended to `bytes`; returns
    /// where the value starts and the name's §8.2.1 verdict.
    fn literal(&self, r: &mut Reader<'_>, index: usize, bytes: &mut Vec<u8>) -> Result<(usize, bool), DecodeError> {
        let name_ok = if index == 0 {
            let start = bytes.len();
            r.string(bytes)?;
            field::valid_name(bytes.get(start..).unwrap_or_default())
        } else {
            let (name, _, checked) = self.table.entry(index)?;
            bytes.extend_from_slice(name);
            checked.name
        };
        let middle = bytes.len();
        r.string(bytes)?;
        Ok((middle, name_ok))
    }

    /// Decodes one complete field block into a flat `HeaderList`.
    pub fn decode_list(&mut self, block: &[u8]) -> Result<HeaderList, DecodeError> {
        // Room for a typical request: a few hundred bytes, a dozen fields.
        let mut headers = HeaderList::with_capacity(block.len().saturating_mul(2).clamp(256, 4096), 16);
        let mut r = Reader { block, pos: 0 };
        let mut list = List {
            headers: &mut headers,
            size: 0,
            fields: 0,
            max_size: self.max_list_size,
            max_fields: self.max_fields,
            over: None,
        };
        let mut fields_seen = false;
        while let Some(b) = r.peek() {
            if b & 0x80 != 0 {
                // Indexed field (§6.1).
                let index = r.integer(7)?;
                if let Some((name, value, checked)) = table::static_entry(index) {
                    if list.admit(entry_size(name, value)) {
                        list.headers.push_static(name, value, checked);
                    }
                } else {
                    let (name, value, checked) = self.table.entry(index)?;
                    if list.admit(entry_size(name, value)) {
                        list.headers.push_checked(name, value, false, checked);
                    }
                }
                fields_seen = true;
            } else if b & 0xc0 == 0x40 {
                // Literal with incremental indexing (§6.2.1): always decoded, it enters the
                // table.
                let index = r.integer(6)?;
                let start = list.headers.bytes.len();
                let (middle, _) = self.literal(&mut r, index, &mut list.headers.bytes)?;
                let (name, value) = list.headers.bytes[start..].split_at(middle - start);
                let checked = self.table.insert(name, value);
                list.keep_last(start, middle, false, checked);
                fields_seen = true;
            } else if b & 0xe0 == 0x20 {
                // Dynamic table size update (§6.3): only before the first field.
                if fields_seen {
                    return Err(DecodeError::SizeUpdateNotFirst);
                }
                self.table.set_max_size(r.integer(5)?)?;
            } else {
                // Literal without indexing (0000) or never indexed (0001) (§6.2.2, §6.2.3).
                let sensitive = b & 0x10 != 0;
                let index = r.integer(4)?;
                if list.keeping() {
                    let start = list.headers.bytes.len();
                    if let Some((name, _, checked)) = table::static_entry(index) {
                        // A static name (`:path` as most clients send it) is not copied.
                        r.string(&mut list.headers.bytes)?;
                        let value = field::valid_value(list.headers.bytes.get(start..).unwrap_or_default());
                        list.keep_value(name, start, sensitive, Checked { name: checked.name, value });
                    } else {
                        let (middle, name) = self.literal(&mut r, index, &mut list.headers.bytes)?;
                        let value = field::valid_value(list.headers.bytes.get(middle..).unwrap_or_default());
                        list.keep_last(start, middle, sensitive, Checked { name, value });
                    }
                } else {
                    if index == 0 {
                        r.raw_string()?;
                    } else {
                        self.table.get(index)?;
                    }
                    r.raw_string()?;
                }
                fields_seen = true;
            }
        }
        match list.over {
            Some(e) => Err(e),
            None => Ok(headers),
        }
    }
}

/// How many field representations lie whole in `block` (a size update is not a field), read
/// without decoding a string or touching any table: what `--trace` says of a HEADERS frame,
/// whose fragment may end mid-field when CONTINUATION follows.
pub fn count_fields(block: &[u8]) -> usize {
    let mut r = Reader { block, pos: 0 };
    let mut fields = 0;
    while let Some(b) = r.peek() {
        let whole = if b & 0x80 != 0 {
            r.integer(7).is_ok()
        } else if b & 0xe0 == 0x20 {
            if r.integer(5).is_err() {
                break;
            }
            continue;
        } else {
            let prefix = if b & 0xc0 == 0x40 { 6 } else { 4 };
            r.integer(prefix).is_ok_and(|index| index != 0 || r.raw_string().is_ok()) && r.raw_string().is_ok()
        };
        if !whole {
            break;
        }
        fields += 1;
    }
    fields
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// One request or response of Appendix C: its hex, its header list, then the dynamic
    /// table (newest first) and its size after decoding.
    pub(crate) struct Vector {
        pub name: &'static str,
        pub hex: &'static str,
        pub headers: &'static [(&'static str, &'static str)],
        pub table: &'static [(&'static str, &'static str)],
        pub size: usize,
    }

    const REQ1: &[(&str, &str)] =
        &[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")];
    const REQ2: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
        ("cache-control", "no-cache"),
    ];
    const REQ3: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "www.example.com"),
        ("custom-key", "custom-value"),
    ];
    const REQ_T1: &[(&str, &str)] = &[(":authority", "www.example.com")];
    const REQ_T2: &[(&str, &str)] = &[("cache-control", "no-cache"), (":authority", "www.example.com")];
    const REQ_T3: &[(&str, &str)] =
        &[("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")];

    const DATE1: &str = "Mon, 21 Oct 2013 20:13:21 GMT";
    const DATE2: &str = "Mon, 21 Oct 2013 20:13:22 GMT";
    const LOC: &str = "https://www.example.com";
    const COOKIE: &str = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
    const RESP1: &[(&str, &str)] =
        &[(":status", "302"), ("cache-control", "private"), ("date", DATE1), ("location", LOC)];
    const RESP2: &[(&str, &str)] =
        &[(":status", "307"), ("cache-control", "private"), ("date", DATE1), ("location", LOC)];
    const RESP3: &[(&str, &str)] = &[
        (":status", "200"),
        ("cache-control", "private"),
        ("date", DATE2),
        ("location", LOC),
        ("content-encoding", "gzip"),
        ("set-cookie", COOKIE),
    ];
    const RESP_T1: &[(&str, &str)] =
        &[("location", LOC), ("date", DATE1), ("cache-control", "private"), (":status", "302")];
    const RESP_T2: &[(&str, &str)] =
        &[(":status", "307"), ("location", LOC), ("date", DATE1), ("cache-control", "private")];
    const RESP_T3: &[(&str, &str)] = &[("set-cookie", COOKIE), ("content-encoding", "gzip"), ("date", DATE2)];

    /// C.3 and C.4 (requests, 4096-byte table), C.5 and C.6 (responses, 256-byte table):
    /// each sequence is decoded by one decoder, in order.
    pub(crate) const SEQUENCES: &[(usize, [Vector; 3])] = &[
        (
            4096,
            [
                Vector {
                    name: "C.3.1",
                    hex: "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                    headers: REQ1,
                    table: REQ_T1,
                    size: 57,
                },
                Vector {
                    name: "C.3.2",
                    hex: "8286 84be 5808 6e6f 2d63 6163 6865",
                    headers: REQ2,
                    table: REQ_T2,
                    size: 110,
                },
                Vector {
                    name: "C.3.3",
                    hex: "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
                    headers: REQ3,
                    table: REQ_T3,
                    size: 164,
                },
            ],
        ),
        (
            4096,
            [
                Vector {
                    name: "C.4.1",
                    hex: "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
                    headers: REQ1,
                    table: REQ_T1,
                    size: 57,
                },
                Vector { name: "C.4.2", hex: "8286 84be 5886 a8eb 1064 9cbf", headers: REQ2, table: REQ_T2, size: 110 },
                Vector {
                    name: "C.4.3",
                    hex: "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
                    headers: REQ3,
                    table: REQ_T3,
                    size: 164,
                },
            ],
        ),
        (
            256,
            [
                Vector {
                    name: "C.5.1",
                    hex: "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
                          2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
                          6c65 2e63 6f6d",
                    headers: RESP1,
                    table: RESP_T1,
                    size: 222,
                },
                Vector { name: "C.5.2", hex: "4803 3330 37c1 c0bf", headers: RESP2, table: RESP_T2, size: 222 },
                Vector {
                    name: "C.5.3",
                    hex: "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
                          54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
                          5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
                          3d31",
                    headers: RESP3,
                    table: RESP_T3,
                    size: 215,
                },
            ],
        ),
        (
            256,
            [
                Vector {
                    name: "C.6.1",
                    hex: "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
                          2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
                    headers: RESP1,
                    table: RESP_T1,
                    size: 222,
                },
                Vector { name: "C.6.2", hex: "4883 640e ffc1 c0bf", headers: RESP2, table: RESP_T2, size: 222 },
                Vector {
                    name: "C.6.3",
                    hex: "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
                          77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
                          9587 3160 65c0 03ed 4ee5 b106 3d50 07",
                    headers: RESP3,
                    table: RESP_T3,
                    size: 215,
                },
            ],
        ),
    ];

    fn pairs(headers: &[Header]) -> Vec<(String, String)> {
        headers
            .iter()
            .map(|h| (String::from_utf8(h.name.clone()).unwrap(), String::from_utf8(h.value.clone()).unwrap()))
            .collect()
    }

    fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|&(n, v)| (n.to_string(), v.to_string())).collect()
    }

    fn table_of(d: &Decoder) -> Vec<(String, String)> {
        let t = d.table();
        let entries: Vec<Header> = (0..t.len())
            .map(|i| {
                let (n, v) = t.get(62 + i).unwrap();
                Header { name: n.to_vec(), value: v.to_vec(), sensitive: false }
            })
            .collect();
        pairs(&entries)
    }

    #[test]
    fn rfc_7541_c2_single_representations() {
        // (name, hex, field, sensitive, table size after)
        type Case = (&'static str, &'static str, (&'static str, &'static str), bool, usize);
        let cases: [Case; 4] = [
            (
                "C.2.1",
                "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
                ("custom-key", "custom-header"),
                false,
                55,
            ),
            ("C.2.2", "040c 2f73 616d 706c 652f 7061 7468", (":path", "/sample/path"), false, 0),
            ("C.2.3", "1008 7061 7373 776f 7264 0673 6563 7265 74", ("password", "secret"), true, 0),
            ("C.2.4", "82", (":method", "GET"), false, 0),
        ];
        for (name, block, (n, v), sensitive, size) in cases {
            let mut d = Decoder::new();
            let got = d.decode(&hex(block)).unwrap();
            assert_eq!(got, vec![Header { name: n.into(), value: v.into(), sensitive }], "{name}");
            assert_eq!(d.table().size(), size, "{name}");
        }
    }

    #[test]
    fn rfc_7541_c3_to_c6_sequences() {
        for (table_size, vectors) in SEQUENCES {
            let mut d = Decoder::with_limits(*table_size, MAX_HEADER_LIST_SIZE, MAX_HEADER_FIELDS);
            for v in vectors {
                let got = d.decode(&hex(v.hex)).unwrap_or_else(|e| panic!("{}: {e:?}", v.name));
                assert_eq!(pairs(&got), owned(v.headers), "{}", v.name);
                assert_eq!(table_of(&d), owned(v.table), "{} table", v.name);
                assert_eq!(d.table().size(), v.size, "{} size", v.name);
            }
        }
    }

    #[test]
    fn integers_follow_5_1_and_refuse_overflow() {
        let cases: [(&[u8], u32, Result<usize, DecodeError>); 8] = [
            (&[0x0a], 5, Ok(10)),               // C.1.1
            (&[0x1f, 0x9a, 0x0a], 5, Ok(1337)), // C.1.2
            (&[0x2a], 8, Ok(42)),               // C.1.3
            (&[0x1f, 0x00], 5, Ok(31)),         // the prefix filled exactly
            (&[0x1f], 5, Err(DecodeError::Truncated)),
            (&[0x1f, 0x80], 5, Err(DecodeError::Truncated)),
            (&[0x1f, 0xff, 0xff, 0xff, 0xff, 0x0f], 5, Err(DecodeError::IntegerOverflow)),
            (&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 5, Err(DecodeError::IntegerOverflow)),
        ];
        for (bytes, prefix, want) in cases {
            let mut r = Reader { block: bytes, pos: 0 };
            assert_eq!(r.integer(prefix), want, "{bytes:02x?}");
        }
        // The largest value that fits 32 bits: 2^32-1 = 31 + 0xffff_ffe0.
        let mut r = Reader { block: &[0x1f, 0xe0, 0xff, 0xff, 0xff, 0x0f], pos: 0 };
        assert_eq!(r.integer(5), Ok(u32::MAX as usize));
    }

    #[test]
    fn malformed_blocks_are_compression_errors() {
        let cases: [(&str, &str, DecodeError); 11] = [
            ("index 0", "80", DecodeError::BadIndex),
            ("index past static, empty dynamic", "be", DecodeError::BadIndex),
            ("literal name index past end", "7f 00 01 61", DecodeError::BadIndex),
            ("truncated integer", "ff", DecodeError::Truncated),
            ("truncated name", "40 05 61 62", DecodeError::Truncated),
            ("truncated value", "00 01 61 05 62", DecodeError::Truncated),
            ("missing value", "04", DecodeError::Truncated),
            ("huge string length", "00 7f ff ff ff ff 0f", DecodeError::IntegerOverflow),
            ("size update above limit", "3f e2 1f", DecodeError::SizeUpdateTooLarge),
            ("size update after a field", "82 20", DecodeError::SizeUpdateNotFirst),
            ("bad huffman padding", "00 81 18 00", DecodeError::Huffman(HuffmanError::PaddingNotOnes)),
        ];
        for (name, block, want) in cases {
            let mut d = Decoder::new();
            assert_eq!(d.decode(&hex(block)), Err(want), "{name}");
            assert!(!want.is_recoverable());
            assert_eq!(want.to_error(1), Error::Connection(ErrorCode::CompressionError));
        }
    }

    #[test]
    fn size_updates_at_the_start_are_applied() {
        let mut d = Decoder::new();
        d.decode(&hex("40 01 61 01 62")).unwrap();
        assert_eq!(d.table().len(), 1);
        // Two updates (to 0, then to 4096) then a field: the table was emptied.
        assert_eq!(d.decode(&hex("20 3f e1 1f 82")).unwrap().len(), 1);
        assert_eq!((d.table().len(), d.table().max_size()), (0, 4096));
    }

    #[test]
    fn hpack_bomb_is_refused_cheaply_and_keeps_the_table() {
        // One 4000-byte value in the table, then referenced 10 000 times.
        let mut block = vec![0x40, 0x01, b'x', 0x7f, 0xa1, 0x1e]; // value length 127 + 3873 = 4000
        block.extend(std::iter::repeat_n(b'v', 4000));
        block.extend(std::iter::repeat_n(0xbe, 10_000));
        // An insertion after the limit is still applied.
        block.extend_from_slice(&hex("40 01 79 01 7a"));
        let mut d = Decoder::new();
        assert_eq!(d.decode(&block), Err(DecodeError::ListTooLarge));
        assert!(DecodeError::ListTooLarge.is_recoverable());
        assert_eq!(DecodeError::ListTooLarge.to_error(7), Error::Stream(7, ErrorCode::RefusedStream));
        assert_eq!(d.table().len(), 2, "x (4033 bytes) and y: z (34) both fit in 4096");
        assert_eq!(d.table().get(62), Ok((&b"y"[..], &b"z"[..])));
        assert_eq!(d.table().size(), 4033 + 34);
        // The connection goes on: the next block decodes against the same table.
        let next = d.decode(&hex("82 be")).unwrap();
        assert_eq!(pairs(&next), owned(&[(":method", "GET"), ("y", "z")]));
        assert_eq!(d.decode(&hex("bf")).map(|h| h[0].value.len()), Ok(4000));
    }

    #[test]
    fn too_many_fields_is_refused_and_literals_after_it_are_skipped() {
        let mut block = vec![0x82; MAX_HEADER_FIELDS + 1];
        block.extend_from_slice(&hex("00 01 61 81 18")); // skipped undecoded: its bad Huffman goes unseen
        block.extend_from_slice(&hex("40 01 61 01 62"));
        let mut d = Decoder::new();
        assert_eq!(d.decode(&block), Err(DecodeError::TooManyFields));
        assert_eq!(d.table().len(), 1);
        let mut d = Decoder::new();
        assert_eq!(d.decode(&[0x82; MAX_HEADER_FIELDS]).map(|h| h.len()), Ok(MAX_HEADER_FIELDS));
    }

    #[test]
    fn list_size_counts_32_per_field() {
        // 16384 / (":method" 7 + "GET" 3 + 32 = 42) = 390.1: 390 fields fit, 391 do not.
        let mut d = Decoder::with_limits(4096, MAX_HEADER_LIST_SIZE, usize::MAX);
        assert!(d.decode(&vec![0x82; 390]).is_ok());
        assert_eq!(d.decode(&vec![0x82; 391]), Err(DecodeError::ListTooLarge));
    }

    #[test]
    fn a_literal_with_a_static_name_keeps_its_flag_and_counts_its_size() {
        // Never indexed (0001), name `:path` (static 4), value "/a": 5 + 2 + 32 = 39.
        let block = [0x14, 0x02, b'/', b'a'];
        let want = Header { name: b":path".to_vec(), value: b"/a".to_vec(), sensitive: true };
        assert_eq!(Decoder::new().decode(&block), Ok(vec![want.clone()]));
        let mut d = Decoder::with_limits(4096, 39, 8);
        assert_eq!(d.decode(&block), Ok(vec![want]));
        assert_eq!(d.decode(&[&block[..], &block[..]].concat()), Err(DecodeError::ListTooLarge));
        // A refused list leaves the decoder usable.
        let list = d.decode_list(&[0x84]).unwrap();
        assert_eq!(list.iter().collect::<Vec<_>>(), [(&b":path"[..], &b"/"[..])]);
    }

    /// xorshift64: a deterministic byte source for the no-panic test.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn every_verdict_is_the_one_its_bytes_earn() {
        // Fields of a few bytes, some breaking §8.2.1, sent as literals (indexed or not, names
        // new or by index) and again by index, on one decoder whose table carries over.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut d = Decoder::new();
        let alphabet = b"aZ:- \t\r\n\0/x";
        let text = |state: &mut u64| -> Vec<u8> {
            let len = (xorshift(state) % 4) as usize;
            (0..len).map(|_| alphabet[(xorshift(state) % alphabet.len() as u64) as usize]).collect()
        };
        for _ in 0..2_000 {
            let mut block = Vec::new();
            for _ in 0..4 {
                let (name, value) = (text(&mut state), text(&mut state));
                match xorshift(&mut state) % 4 {
                    0 | 1 => {
                        block.push(if xorshift(&mut state).is_multiple_of(2) { 0x40 } else { 0x00 });
                        block.push(name.len() as u8);
                        block.extend_from_slice(&name);
                    }
                    2 => block.push(0x0d + (xorshift(&mut state) % 2) as u8), // name by static index 13..14
                    _ => {
                        let len = d.table().len() as u64;
                        block.push(0x80 | (1 + xorshift(&mut state) % (61 + len).min(126)) as u8);
                        continue;
                    }
                }
                block.push(value.len() as u8);
                block.extend_from_slice(&value);
            }
            let list = d.decode_list(&block).unwrap();
            for f in list.fields() {
                let (name, value) = (f.name.of(list.bytes()), f.value.of(list.bytes()));
                assert_eq!(f.checked, Checked::of(name, value), "{name:?}: {value:?}");
            }
        }
        assert!(d.table().len() > 10);
    }

    #[test]
    fn count_fields_counts_whole_representations_only() {
        // RFC 7541 C.3.1: four fields, the last a literal with incremental indexing.
        let block = hex("828684410f7777772e6578616d706c652e636f6d");
        assert_eq!(count_fields(&block), 4);
        assert_eq!(count_fields(&block[..block.len() - 1]), 3, "a field cut short is not counted");
        assert_eq!(count_fields(&hex("3fe11f82")), 1, "a size update is not a field");
        assert_eq!(count_fields(b""), 0);
    }

    #[test]
    fn never_panics_on_truncations_or_random_bytes() {
        for (table_size, vectors) in SEQUENCES {
            let mut primed = Decoder::with_limits(*table_size, MAX_HEADER_LIST_SIZE, MAX_HEADER_FIELDS);
            for v in vectors {
                let block = hex(v.hex);
                for cut in 0..block.len() {
                    let _ = Decoder::new().decode(&block[..cut]);
                    let _ = Decoder::new().decode(&block[cut..]);
                }
                primed.decode(&block).unwrap();
            }
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..20_000 {
            let len = (xorshift(&mut state) % 48) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| xorshift(&mut state) as u8).collect();
            if round % 2 == 0 {
                // Start like a field more often than chance would.
                if let Some(first) = bytes.first_mut() {
                    *first = [0x82, 0x40, 0x00, 0x10, 0x20, 0xbe][round % 6];
                }
            }
            let mut d = Decoder::with_limits(256, 512, 8);
            let _ = d.decode(&bytes);
            assert!(d.table().size() <= d.table().max_size());
        }
    }
}
