//! The static Huffman code of HPACK string literals (RFC 7541 §5.2 and Appendix B): the
//! table typed in as data, a decoder that enforces the end-of-string rules, and an encoder.
//!
//! The decoder reads a nibble at a time through a state table computed from `TABLE` at compile
//! time (the code's tree: a state per inner node, a step per state and nibble), and a test
//! compares it on random inputs with a bit-at-a-time reference. The code is canonical (codes
//! of one length are consecutive and ordered by symbol), and a test rebuilds every code from
//! the lengths alone, so a mistyped row fails a test instead of mis-decoding.
//! It does not bound the output: a Huffman string decodes to at most 8/5 of its encoded
//! length, and the encoded length is bounded by the frame that carried it.

/// (code, length in bits) for symbols 0..=255 and EOS (256), code aligned to the LSB, as in
/// the "code as hex" and "len" columns of RFC 7541 Appendix B.
#[rustfmt::skip]
pub const TABLE: [(u32, u8); 257] = [
    // 0..=31
    (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28),
    (0xfffffe4, 28), (0xfffffe5, 28), (0xfffffe6, 28), (0xfffffe7, 28),
    (0xfffffe8, 28), (0xffffea, 24), (0x3ffffffc, 30), (0xfffffe9, 28),
    (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28), (0xfffffec, 28),
    (0xfffffed, 28), (0xfffffee, 28), (0xfffffef, 28), (0xffffff0, 28),
    (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28),
    (0xffffff4, 28), (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28),
    (0xffffff8, 28), (0xffffff9, 28), (0xffffffa, 28), (0xffffffb, 28),
    // 32..=63: ' ' ! " # $ % & ' ( ) * + , - . / 0-9 : ; < = > ?
    (0x14, 6), (0x3f8, 10), (0x3f9, 10), (0xffa, 12),
    (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11),
    (0x3fa, 10), (0x3fb, 10), (0xf9, 8), (0x7fb, 11),
    (0xfa, 8), (0x16, 6), (0x17, 6), (0x18, 6),
    (0x0, 5), (0x1, 5), (0x2, 5), (0x19, 6),
    (0x1a, 6), (0x1b, 6), (0x1c, 6), (0x1d, 6),
    (0x1e, 6), (0x1f, 6), (0x5c, 7), (0xfb, 8),
    (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10),
    // 64..=95: @ A-Z [ \ ] ^ _
    (0x1ffa, 13), (0x21, 6), (0x5d, 7), (0x5e, 7),
    (0x5f, 7), (0x60, 7), (0x61, 7), (0x62, 7),
    (0x63, 7), (0x64, 7), (0x65, 7), (0x66, 7),
    (0x67, 7), (0x68, 7), (0x69, 7), (0x6a, 7),
    (0x6b, 7), (0x6c, 7), (0x6d, 7), (0x6e, 7),
    (0x6f, 7), (0x70, 7), (0x71, 7), (0x72, 7),
    (0xfc, 8), (0x73, 7), (0xfd, 8), (0x1ffb, 13),
    (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14), (0x22, 6),
    // 96..=127: ` a-z { | } ~ DEL
    (0x7ffd, 15), (0x3, 5), (0x23, 6), (0x4, 5),
    (0x24, 6), (0x5, 5), (0x25, 6), (0x26, 6),
    (0x27, 6), (0x6, 5), (0x74, 7), (0x75, 7),
    (0x28, 6), (0x29, 6), (0x2a, 6), (0x7, 5),
    (0x2b, 6), (0x76, 7), (0x2c, 6), (0x8, 5),
    (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7),
    (0x79, 7), (0x7a, 7), (0x7b, 7), (0x7ffe, 15),
    (0x7fc, 11), (0x3ffd, 14), (0x1ffd, 13), (0xffffffc, 28),
    // 128..=159
    (0xfffe6, 20), (0x3fffd2, 22), (0xfffe7, 20), (0xfffe8, 20),
    (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22), (0x7fffd9, 23),
    (0x3fffd6, 22), (0x7fffda, 23), (0x7fffdb, 23), (0x7fffdc, 23),
    (0x7fffdd, 23), (0x7fffde, 23), (0xffffeb, 24), (0x7fffdf, 23),
    (0xffffec, 24), (0xffffed, 24), (0x3fffd7, 22), (0x7fffe0, 23),
    (0xffffee, 24), (0x7fffe1, 23), (0x7fffe2, 23), (0x7fffe3, 23),
    (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22), (0x7fffe5, 23),
    (0x3fffd9, 22), (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24),
    // 160..=191
    (0x3fffda, 22), (0x1fffdd, 21), (0xfffe9, 20), (0x3fffdb, 22),
    (0x3fffdc, 22), (0x7fffe8, 23), (0x7fffe9, 23), (0x1fffde, 21),
    (0x7fffea, 23), (0x3fffdd, 22), (0x3fffde, 22), (0xfffff0, 24),
    (0x1fffdf, 21), (0x3fffdf, 22), (0x7fffeb, 23), (0x7fffec, 23),
    (0x1fffe0, 21), (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21),
    (0x7fffed, 23), (0x3fffe1, 22), (0x7fffee, 23), (0x7fffef, 23),
    (0xfffea, 20), (0x3fffe2, 22), (0x3fffe3, 22), (0x3fffe4, 22),
    (0x7ffff0, 23), (0x3fffe5, 22), (0x3fffe6, 22), (0x7ffff1, 23),
    // 192..=223
    (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20), (0x7fff1, 19),
    (0x3fffe7, 22), (0x7ffff2, 23), (0x3fffe8, 22), (0x1ffffec, 25),
    (0x3ffffe2, 26), (0x3ffffe3, 26), (0x3ffffe4, 26), (0x7ffffde, 27),
    (0x7ffffdf, 27), (0x3ffffe5, 26), (0xfffff1, 24), (0x1ffffed, 25),
    (0x7fff2, 19), (0x1fffe3, 21), (0x3ffffe6, 26), (0x7ffffe0, 27),
    (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27), (0xfffff2, 24),
    (0x1fffe4, 21), (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26),
    (0xffffffd, 28), (0x7ffffe3, 27), (0x7ffffe4, 27), (0x7ffffe5, 27),
    // 224..=255
    (0xfffec, 20), (0xfffff3, 24), (0xfffed, 20), (0x1fffe6, 21),
    (0x3fffe9, 22), (0x1fffe7, 21), (0x1fffe8, 21), (0x7ffff3, 23),
    (0x3fffea, 22), (0x3fffeb, 22), (0x1ffffee, 25), (0x1ffffef, 25),
    (0xfffff4, 24), (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23),
    (0x3ffffeb, 26), (0x7ffffe6, 27), (0x3ffffec, 26), (0x3ffffed, 26),
    (0x7ffffe7, 27), (0x7ffffe8, 27), (0x7ffffe9, 27), (0x7ffffea, 27),
    (0x7ffffeb, 27), (0xffffffe, 28), (0x7ffffec, 27), (0x7ffffed, 27),
    (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27), (0x3ffffee, 26),
    // 256: EOS
    (0x3fffffff, 30),
];

/// The EOS symbol: never valid inside a string (§5.2).
const EOS: u16 = 256;

/// The most padding a string may end with: less than one octet (§5.2).
const MAX_PADDING_BITS: usize = 7;

/// Why a Huffman string was refused; each is a COMPRESSION_ERROR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HuffmanError {
    /// The EOS symbol was decoded inside the string.
    Eos,
    /// The string ends with 8 or more bits of padding.
    PaddingTooLong,
    /// The padding is not the all-ones prefix of EOS.
    PaddingNotOnes,
}

/// One step of the decoder: from a state (a node of the code's tree), a nibble of input leads
/// to `next`, having completed symbol `sym` on the way when `EMIT` is set, or EOS when `EOS`
/// is. Every code is 5 bits or more, so a nibble completes at most one symbol.
#[derive(Clone, Copy)]
struct Step {
    next: u8,
    sym: u8,
    flags: u8,
}

const EMIT: u8 = 1;
const EOS_SEEN: u8 = 2;

/// The decoder's tables, built from `TABLE` at compile time: the code as a binary tree whose
/// 256 inner nodes are the states (0 the root), each with its depth (the bits read since the
/// last symbol) and whether they were all ones, which is what the end-of-string rules ask of
/// the padding; and the step for every state and nibble (nghttp2's scheme).
struct Decoding {
    depth: [u8; 256],
    ones: [bool; 256],
    steps: [[Step; 16]; 256],
}

const fn decoding() -> Decoding {
    // children[node][bit]: 0 unset (the root is no one's child), LEAF | symbol, or a node.
    const LEAF: u16 = 0x8000;
    let mut children = [[0u16; 2]; 256];
    let mut d = Decoding { depth: [0; 256], ones: [true; 256], steps: [[Step { next: 0, sym: 0, flags: 0 }; 16]; 256] };
    let mut nodes = 1;
    let mut sym = 0;
    while sym < TABLE.len() {
        let (code, len) = TABLE[sym];
        let mut node = 0;
        let mut i = len;
        while i > 1 {
            i -= 1;
            let bit = ((code >> i) & 1) as usize;
            if children[node][bit] == 0 {
                children[node][bit] = nodes as u16;
                d.depth[nodes] = d.depth[node] + 1;
                d.ones[nodes] = d.ones[node] && bit == 1;
                nodes += 1;
            }
            node = children[node][bit] as usize;
        }
        children[node][(code & 1) as usize] = LEAF | sym as u16;
        sym += 1;
    }
    assert!(nodes == 256, "a complete code of 257 symbols has 256 inner nodes");
    let mut state = 0;
    while state < 256 {
        let mut nibble = 0;
        while nibble < 16 {
            let mut step = Step { next: 0, sym: 0, flags: 0 };
            let mut node = state;
            let mut shift = 4;
            while shift > 0 {
                shift -= 1;
                let child = children[node][(nibble >> shift) & 1];
                if child & LEAF == 0 {
                    node = child as usize;
                } else if (child & !LEAF) == EOS {
                    step.flags = EOS_SEEN;
                    break;
                } else {
                    step.sym = child as u8;
                    step.flags = EMIT;
                    node = 0;
                }
            }
            step.next = node as u8;
            d.steps[state][nibble] = step;
            nibble += 1;
        }
        state += 1;
    }
    d
}

static DECODING: Decoding = decoding();

/// Appends the decoding of `input` to `out`, a nibble at a time.
pub fn decode(input: &[u8], out: &mut Vec<u8>) -> Result<(), HuffmanError> {
    let mut state = 0u8;
    for &byte in input {
        for nibble in [byte >> 4, byte & 0xf] {
            let step = DECODING.steps[usize::from(state)][usize::from(nibble)];
            if step.flags & EOS_SEEN != 0 {
                return Err(HuffmanError::Eos);
            }
            if step.flags & EMIT != 0 {
                out.push(step.sym);
            }
            state = step.next;
        }
    }
    if usize::from(DECODING.depth[usize::from(state)]) > MAX_PADDING_BITS {
        return Err(HuffmanError::PaddingTooLong);
    }
    if !DECODING.ones[usize::from(state)] {
        return Err(HuffmanError::PaddingNotOnes);
    }
    Ok(())
}

/// The encoded length of `input` in octets, padding included.
pub fn encoded_len(input: &[u8]) -> usize {
    let bits: usize = input.iter().map(|&b| usize::from(TABLE[usize::from(b)].1)).sum();
    bits.div_ceil(8)
}

/// Appends `input` Huffman-coded, padded with ones to an octet boundary.
pub fn encode(input: &[u8], out: &mut Vec<u8>) {
    let mut acc = 0u64;
    let mut bits = 0u32;
    for &b in input {
        let (code, len) = TABLE[usize::from(b)];
        acc = (acc << len) | u64::from(code);
        bits += u32::from(len);
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1u64 << bits) - 1;
    }
    if bits > 0 {
        let pad = 8 - bits;
        out.push(((acc << pad) | ((1u64 << pad) - 1)) as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The previous decoder, a bit at a time by the canonical code's ranges per length: the
    /// reference the table-driven one is compared with.
    fn decode_bitwise(input: &[u8], out: &mut Vec<u8>) -> Result<(), HuffmanError> {
        // Symbols ordered by (length, value), and how many codes each length has.
        let mut order: Vec<usize> = (0..TABLE.len()).collect();
        order.sort_by_key(|&s| (TABLE[s].1, s));
        let count = |l: u8| TABLE.iter().filter(|&&(_, n)| n == l).count() as u32;
        let (mut code, mut len) = (0u32, 0u8);
        let (mut first, mut offset) = (0u32, 0u32); // the first code of length `len`, its rank in `order`
        for &byte in input {
            for shift in (0..8).rev() {
                code = (code << 1) | u32::from((byte >> shift) & 1);
                if len > 0 {
                    first += count(len);
                    offset += count(len);
                }
                first <<= 1;
                len += 1;
                let Some(rank) = code.checked_sub(first).filter(|&r| r < count(len)) else { continue };
                let sym = order[(offset + rank) as usize];
                if sym == usize::from(EOS) {
                    return Err(HuffmanError::Eos);
                }
                out.push(sym as u8);
                (code, len, first, offset) = (0, 0, 0, 0);
            }
        }
        if usize::from(len) > MAX_PADDING_BITS {
            return Err(HuffmanError::PaddingTooLong);
        }
        if code != (1u32 << len) - 1 {
            return Err(HuffmanError::PaddingNotOnes);
        }
        Ok(())
    }

    #[test]
    fn the_table_decoder_agrees_with_the_bitwise_one() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..3000 {
            let len = (next() % 24) as usize;
            let mut input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 2 == 0 {
                // Half the inputs are real encodings, some with their tail cut or altered.
                let text: Vec<u8> = input.iter().map(|&b| if round % 4 == 0 { b } else { b % 95 + 32 }).collect();
                input.clear();
                encode(&text, &mut input);
                match next() % 4 {
                    0 => input.truncate(input.len() / 2),
                    1 => input.extend([0xff; 4].iter().take((next() % 5) as usize)),
                    2 => {
                        let bit = 1 << (next() % 8);
                        if let Some(b) = input.last_mut() {
                            *b ^= bit;
                        }
                    }
                    _ => {}
                }
            }
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            let got = decode(&input, &mut fast);
            assert_eq!(got, decode_bitwise(&input, &mut slow), "{input:02x?}");
            if got.is_ok() {
                assert_eq!(fast, slow, "{input:02x?}");
            }
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn table_is_the_canonical_code_of_its_lengths() {
        // Rebuild every code from the lengths alone; a mistyped code or length shows here.
        let mut order: Vec<usize> = (0..TABLE.len()).collect();
        order.sort_by_key(|&s| (TABLE[s].1, s));
        let mut code = 0u32;
        let mut prev_len = TABLE[order[0]].1;
        for (i, &sym) in order.iter().enumerate() {
            let len = TABLE[sym].1;
            if i > 0 {
                code = (code + 1) << (len - prev_len);
            }
            prev_len = len;
            assert_eq!(TABLE[sym].0, code, "symbol {sym}");
        }
        // The code is complete (Kraft sum 1) and EOS is the all-ones 30-bit code.
        let kraft: u64 = TABLE.iter().map(|&(_, len)| 1u64 << (30 - len)).sum();
        assert_eq!(kraft, 1 << 30);
        assert_eq!(TABLE[256], (0x3fff_ffff, 30));
    }

    #[test]
    fn rfc_7541_c4_and_c6_strings() {
        let cases = [
            ("f1e3 c2e5 f23a 6ba0 ab90 f4ff", "www.example.com"),
            ("a8eb 1064 9cbf", "no-cache"),
            ("25a8 49e9 5ba9 7d7f", "custom-key"),
            ("25a8 49e9 5bb8 e8b4 bf", "custom-value"),
            ("6402", "302"),
            ("640e ff", "307"),
            ("aec3 771a 4b", "private"),
            ("d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3", "https://www.example.com"),
            ("9bd9 ab", "gzip"),
        ];
        for (encoded, text) in cases {
            let mut out = Vec::new();
            assert_eq!(decode(&hex(encoded), &mut out), Ok(()), "{text}");
            assert_eq!(out, text.as_bytes());
            let mut back = Vec::new();
            encode(text.as_bytes(), &mut back);
            assert_eq!(back, hex(encoded), "{text}");
            assert_eq!(encoded_len(text.as_bytes()), back.len());
        }
    }

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        for chunk in [&all[..], &all[..1], &all[200..], b"", b"a"] {
            let mut enc = Vec::new();
            encode(chunk, &mut enc);
            let mut dec = Vec::new();
            assert_eq!(decode(&enc, &mut dec), Ok(()));
            assert_eq!(dec, chunk);
        }
    }

    #[test]
    fn end_of_string_rules() {
        type Case = (&'static [u8], Result<&'static [u8], HuffmanError>);
        let cases: [Case; 8] = [
            (&[0x1f], Ok(b"a")),                                 // 00011 + 111
            (&[0x18], Err(HuffmanError::PaddingNotOnes)),        // 00011 + 000
            (&[0x1e], Err(HuffmanError::PaddingNotOnes)),        // 00011 + 110
            (&[0xff], Err(HuffmanError::PaddingTooLong)),        // 8 ones: no symbol, too long to pad
            (&[0x1f, 0xff], Err(HuffmanError::PaddingTooLong)),  // 'a', then 11 ones
            (&[0xff, 0xff, 0xff, 0xff], Err(HuffmanError::Eos)), // 30 ones are EOS
            (&[0x00], Err(HuffmanError::PaddingNotOnes)),        // '0' then 000
            (&[], Ok(b"")),
        ];
        for (input, want) in cases {
            let mut out = Vec::new();
            let got = decode(input, &mut out).map(|()| &out[..]);
            assert_eq!(got, want, "{input:02x?}");
        }
    }
}
