//! The character rules of RFC 9113 §8.2.1 for one field: a name is a lowercase token, a value
//! has no NUL, CR or LF and no whitespace at either end. `Checked` is the verdict on both.
//!
//! Why the HPACK decoder takes the verdict and not only the request layer: a field sent by
//! index repeats bytes that were checked when they entered the table, and most of a request's
//! fields are sent by index after the first. The table keeps each entry's verdict (the
//! static table's is computed at compile time), so those bytes are not scanned again; what
//! the verdict means (refusing the request) stays with `request`.

/// Whether a field's name and value pass §8.2.1's character rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// The name is a token without uppercase (so a pseudo-header's name is not: its colon).
    pub name: bool,
    /// The value has no NUL, CR or LF, and no leading or trailing space or tab.
    pub value: bool,
}

impl Checked {
    /// The verdict on `name` and `value`.
    pub const fn of(name: &[u8], value: &[u8]) -> Checked {
        Checked { name: valid_name(name), value: valid_value(value) }
    }
}

/// §8.2.1: a name is a token (RFC 9110 §5.1) without uppercase; we check the RFC's minimum
/// (no controls, space, DEL, high bytes, uppercase, and no colon but a pseudo-header's first
/// byte) plus the separators a token cannot hold.
pub const fn valid_name(name: &[u8]) -> bool {
    let mut i = 0;
    while i < name.len() {
        if !NAME_BYTE[name[i] as usize] {
            return false;
        }
        i += 1;
    }
    !name.is_empty()
}

/// The bytes `valid_name` allows, one lookup per byte.
const NAME_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let separator = matches!(c, b'"' | b'(' | b')' | b',' | b'/' | b':' | b';' | b'<' | b'=' | b'>' | b'?')
            || matches!(c, b'@' | b'[' | b'\\' | b']' | b'{' | b'}');
        table[b] = c.is_ascii_graphic() && !c.is_ascii_uppercase() && !separator;
        b += 1;
    }
    table
};

/// §8.2.1: no NUL, CR or LF anywhere, no leading or trailing space or tab.
pub const fn valid_value(value: &[u8]) -> bool {
    let mut i = 0;
    while i < value.len() {
        if matches!(value[i], 0 | b'\r' | b'\n') {
            return false;
        }
        i += 1;
    }
    !matches!((value.first(), value.last()), (Some(b' ' | b'\t'), _) | (_, Some(b' ' | b'\t')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_byte_by_byte() {
        for b in 0..=255u8 {
            let name = b.is_ascii_graphic() && !b.is_ascii_uppercase() && !b"\"(),/:;<=>?@[\\]{}".contains(&b);
            assert_eq!(valid_name(&[b]), name, "{b:#04x}");
            assert_eq!(valid_value(&[b'a', b, b'a']), !matches!(b, 0 | b'\r' | b'\n'), "{b:#04x}");
        }
    }

    #[test]
    fn names_and_values() {
        assert_eq!(Checked::of(b"accept", b"*/*"), Checked { name: true, value: true });
        assert_eq!(Checked::of(b":path", b"/"), Checked { name: false, value: true });
        assert_eq!(Checked::of(b"", b""), Checked { name: false, value: true });
        for bad in [&b" a"[..], b"a\t", b"a\nb", b"\0", b"\r"] {
            assert!(!valid_value(bad), "{bad:?}");
        }
        for bad in [&b"Accept"[..], b"a b", b"a:b", b"\xff"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
