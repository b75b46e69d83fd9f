//! The HPACK tables (RFC 7541 §2.3 and §4): the 61-entry static table, and the dynamic table
//! a decoder keeps, with the size accounting of §4.1 (name + value + 32 per entry), eviction
//! from the oldest end, and maximum-size changes bounded by what our SETTINGS allow.
//!
//! It does not parse anything: the decoder tells it what to insert and which index to look
//! up. It never grows past its maximum size, so a peer cannot make it hold more than
//! `SETTINGS_HEADER_TABLE_SIZE` bytes of fields (plus the per-entry overhead it accounts).

use std::collections::VecDeque;

use super::super::field::Checked;

/// The dynamic table size we advertise (SETTINGS_HEADER_TABLE_SIZE): the protocol default,
/// so we never have to announce it and a peer needs no size update to start.
pub const MAX_TABLE_SIZE: usize = 4096;

/// The size §4.1 charges each entry on top of its name and value: an estimate of the
/// overhead of keeping it.
pub const ENTRY_OVERHEAD: usize = 32;

/// The static table (Appendix A), index 1 first.
pub const STATIC_TABLE: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// The §8.2.1 verdict on each static entry, index 1 first.
const STATIC_CHECKED: [Checked; 61] = {
    let mut checked = [Checked { name: false, value: false }; 61];
    let mut i = 0;
    while i < STATIC_TABLE.len() {
        checked[i] = Checked::of(STATIC_TABLE[i].0.as_bytes(), STATIC_TABLE[i].1.as_bytes());
        i += 1;
    }
    checked
};

/// The static entry at `index` (1..=61) with its §8.2.1 verdict; `None` for any other index.
pub fn static_entry(index: usize) -> Option<(&'static [u8], &'static [u8], Checked)> {
    let (name, value) = STATIC_TABLE.get(index.checked_sub(1)?)?;
    let checked = STATIC_CHECKED.get(index - 1).copied().unwrap_or_default();
    Some((name.as_bytes(), value.as_bytes(), checked))
}

/// The static index (1-based) of the first entry named `name`, if any.
pub fn static_name_index(name: &[u8]) -> Option<usize> {
    STATIC_TABLE.iter().position(|&(n, _)| n.as_bytes() == name).map(|i| i + 1)
}

/// The static index of the entry `name: value`, if there is one.
pub fn static_index(name: &[u8], value: &[u8]) -> Option<usize> {
    STATIC_TABLE.iter().position(|&(n, v)| n.as_bytes() == name && v.as_bytes() == value).map(|i| i + 1)
}

/// Why a table operation was refused; each is a COMPRESSION_ERROR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableError {
    /// The index is 0 or past the end of both tables (§2.3.3).
    BadIndex,
    /// A size update asked for more than our SETTINGS_HEADER_TABLE_SIZE (§4.2).
    SizeAboveLimit,
}

/// The size §4.1 gives a field.
pub fn entry_size(name: &[u8], value: &[u8]) -> usize {
    name.len().saturating_add(value.len()).saturating_add(ENTRY_OVERHEAD)
}

/// One dynamic table entry: name, value, and their §8.2.1 verdict, found once on insertion
/// for every time the entry is referenced.
type Entry = (Box<[u8]>, Box<[u8]>, Checked);

/// A decoder's dynamic table: newest entry first (index 62).
#[derive(Debug)]
pub struct DynamicTable {
    entries: VecDeque<Entry>,
    size: usize,
    max_size: usize,
    limit: usize,
}

impl Default for DynamicTable {
    fn default() -> Self {
        DynamicTable::new(MAX_TABLE_SIZE)
    }
}

impl DynamicTable {
    /// An empty table whose size updates may go up to `limit` (our
    /// SETTINGS_HEADER_TABLE_SIZE), which is also its starting maximum.
    pub fn new(limit: usize) -> DynamicTable {
        DynamicTable { entries: VecDeque::new(), size: 0, max_size: limit, limit }
    }

    /// The sum of the entries' sizes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The current maximum size, as last set by a size update.
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A dynamic table size update (§6.3): evicts down to `max_size`.
    pub fn set_max_size(&mut self, max_size: usize) -> Result<(), TableError> {
        if max_size > self.limit {
            return Err(TableError::SizeAboveLimit);
        }
        self.max_size = max_size;
        self.evict_to(max_size);
        Ok(())
    }

    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            match self.entries.pop_back() {
                Some((name, value, _)) => self.size = self.size.saturating_sub(entry_size(&name, &value)),
                None => self.size = 0,
            }
        }
    }

    /// Adds a field (§4.4): evicts the oldest until it fits; a field larger than the maximum
    /// empties the table and is not added, which is not an error. Returns the field's
    /// §8.2.1 verdict, kept with the entry.
    pub fn insert(&mut self, name: &[u8], value: &[u8]) -> Checked {
        let checked = Checked::of(name, value);
        let size = entry_size(name, value);
        if size > self.max_size {
            self.entries.clear();
            self.size = 0;
            return checked;
        }
        // The name may come from an entry about to be evicted, so it is copied first.
        let entry = (Box::from(name), Box::from(value), checked);
        self.evict_to(self.max_size - size);
        self.entries.push_front(entry);
        self.size = self.size.saturating_add(size);
        checked
    }

    /// The entry at `index` in the combined index space (§2.3.3): 1..=61 static, 62.. dynamic.
    pub fn get(&self, index: usize) -> Result<(&[u8], &[u8]), TableError> {
        self.entry(index).map(|(name, value, _)| (name, value))
    }

    /// `get` with the entry's §8.2.1 verdict.
    pub fn entry(&self, index: usize) -> Result<(&[u8], &[u8], Checked), TableError> {
        match index {
            0 => Err(TableError::BadIndex),
            1..=61 => static_entry(index).ok_or(TableError::BadIndex),
            _ => {
                let (name, value, checked) = self.entries.get(index - 62).ok_or(TableError::BadIndex)?;
                Ok((name, value, *checked))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_table_spot_checks() {
        let cases: [(usize, &str, &str); 9] = [
            (1, ":authority", ""),
            (2, ":method", "GET"),
            (8, ":status", "200"),
            (14, ":status", "500"),
            (16, "accept-encoding", "gzip, deflate"),
            (24, "cache-control", ""),
            (33, "date", ""),
            (55, "set-cookie", ""),
            (61, "www-authenticate", ""),
        ];
        let table = DynamicTable::default();
        for (index, name, value) in cases {
            assert_eq!(table.get(index), Ok((name.as_bytes(), value.as_bytes())), "{index}");
        }
        assert_eq!(static_name_index(b":status"), Some(8));
        assert_eq!(static_name_index(b"content-type"), Some(31));
        assert_eq!(static_name_index(b"x-nope"), None);
        assert_eq!(static_index(b":status", b"404"), Some(13));
        assert_eq!(static_index(b":status", b"302"), None);
    }

    #[test]
    fn entries_keep_their_verdict() {
        let mut table = DynamicTable::default();
        assert_eq!(table.entry(2).map(|e| e.2), Ok(Checked { name: false, value: true })); // :method GET
        assert_eq!(table.entry(58).map(|e| e.2), Ok(Checked { name: true, value: true })); // user-agent
        assert_eq!(table.insert(b"X-Up", b"ok"), Checked { name: false, value: true });
        assert_eq!(table.insert(b"x-nl", b"a\nb"), Checked { name: true, value: false });
        assert_eq!(table.entry(62).map(|e| e.2), Ok(Checked { name: true, value: false }));
        assert_eq!(table.entry(63).map(|e| e.2), Ok(Checked { name: false, value: true }));
    }

    #[test]
    fn indexes_out_of_range_are_refused() {
        let mut table = DynamicTable::default();
        assert_eq!(table.get(0), Err(TableError::BadIndex));
        assert_eq!(table.get(62), Err(TableError::BadIndex));
        assert_eq!(table.get(usize::MAX), Err(TableError::BadIndex));
        table.insert(b"a", b"b");
        assert_eq!(table.get(62), Ok((&b"a"[..], &b"b"[..])));
        assert_eq!(table.get(63), Err(TableError::BadIndex));
    }

    #[test]
    fn insertion_evicts_oldest_first_and_accounts_sizes() {
        let mut table = DynamicTable::new(100);
        table.insert(b"one", b"1"); // 36
        table.insert(b"two", b"22"); // 37
        assert_eq!((table.len(), table.size()), (2, 73));
        table.insert(b"three", b"333"); // 40: evicts "one"
        assert_eq!((table.len(), table.size()), (2, 77));
        assert_eq!(table.get(62), Ok((&b"three"[..], &b"333"[..])));
        assert_eq!(table.get(63), Ok((&b"two"[..], &b"22"[..])));
        // A field that cannot fit empties the table.
        table.insert(&[b'x'; 69], b"");
        assert_eq!((table.len(), table.size()), (0, 0));
        // Exactly the maximum fits.
        table.insert(&[b'x'; 68], b"");
        assert_eq!((table.len(), table.size()), (1, 100));
    }

    #[test]
    fn new_entry_may_name_the_entry_it_evicts() {
        let mut table = DynamicTable::new(70);
        table.insert(b"name", b"v1"); // 38
        let (name, _) = table.get(62).unwrap();
        let name = name.to_vec();
        table.insert(&name, b"v2-longer"); // 45: evicts the entry the name came from
        assert_eq!(table.get(62), Ok((&b"name"[..], &b"v2-longer"[..])));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn size_updates_evict_and_are_bounded() {
        let mut table = DynamicTable::default();
        table.insert(b"a", b"1");
        table.insert(b"b", b"2");
        assert_eq!(table.set_max_size(34), Ok(()));
        assert_eq!((table.len(), table.size(), table.max_size()), (1, 34, 34));
        assert_eq!(table.set_max_size(0), Ok(()));
        assert!(table.is_empty());
        assert_eq!(table.set_max_size(MAX_TABLE_SIZE), Ok(()));
        assert_eq!(table.set_max_size(MAX_TABLE_SIZE + 1), Err(TableError::SizeAboveLimit));
        assert_eq!(table.max_size(), MAX_TABLE_SIZE);
    }
}
