//! Small text helpers shared by several modules (field values, paths), kept apart so that
//! the modules using them need not import each other.

/// Percent-encodes a decoded path for a `Location` header or a listing's links:
/// everything outside RFC 3986 `pchar` and `/` is escaped.
pub fn encode_path(path: &str, out: &mut String) {
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// The non-empty items of a comma-separated field value, trimmed of optional whitespace.
pub fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows).filter(|item| !item.is_empty())
}

/// Strips spaces and tabs (RFC 9110 "OWS") from both ends.
pub fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// A non-empty run of ASCII digits that fits in a u64.
pub fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_pchars_and_escape_the_rest() {
        let mut out = String::new();
        encode_path("/a b/%/ü/x?y#z;k=v@h:1", &mut out);
        assert_eq!(out, "/a%20b/%25/%C3%BC/x%3Fy%23z;k=v@h:1");
    }
}
