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
