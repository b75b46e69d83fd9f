//! `http2::hpack::encoder::Encoder` as a connection uses it: field blocks sent in any order,
//! each again and again, under table sizes the client changes at any time. Whatever it
//! writes, our decoder (which follows RFC 7541 to the letter, and is fuzzed on its own) must
//! read back as exactly the fields sent: an index that points at the wrong entry, or an entry
//! the encoder thinks the client still holds after the client evicted it, would show here.
#![no_main]

use evserve::http2::hpack::decoder::Decoder;
use evserve::http2::hpack::encoder::Encoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&shape, ops)) = data.split_first() else { return };
    // Eight blocks of up to four fields, their sizes from the first byte and the field's
    // place: small ones that share the table, and large ones that evict or do not fit.
    let blocks: Vec<Vec<(Vec<u8>, Vec<u8>)>> = (0..8u8)
        .map(|b| {
            (0..(b % 4 + 1))
                .map(|f| {
                    let len = usize::from(shape.wrapping_mul(b + 1).wrapping_add(f * 37)) * (usize::from(b) + 1) * 3;
                    (format!("x-{b}-{f}").into_bytes(), vec![b'a' + f; len % 3000])
                })
                .collect()
        })
        .collect();
    // A client decoder of the default table size, with no limit of its own on the list.
    let (mut encoder, mut decoder) = (Encoder::new(), Decoder::with_limits(4096, usize::MAX, usize::MAX));
    // Each op byte: a limit change (high bit), or a response of up to three blocks.
    for chunk in ops.chunks(2).take(200) {
        let op = chunk[0];
        if op & 0x80 != 0 {
            encoder.set_limit([0, 1, 31, 64, 100, 512, 4096, 1 << 20][usize::from(op & 7)]);
            continue;
        }
        let mut block = Vec::new();
        encoder.begin(&mut block, 200);
        let mut want = Vec::new();
        let picks = chunk.get(1).copied().unwrap_or(0);
        for i in 0..(op % 4) {
            let id = usize::from((picks >> (2 * i)) & 7);
            let fields: Vec<(&[u8], &[u8])> = blocks[id].iter().map(|(n, v)| (&n[..], &v[..])).collect();
            encoder.block(&mut block, id as u64 + 1, &fields);
            want.extend(blocks[id].iter().cloned());
        }
        let got = decoder.decode(&block).expect("our own blocks decode");
        let got: Vec<_> = got[1..].iter().map(|h| (h.name.clone(), h.value.clone())).collect();
        assert_eq!(got, want);
        assert!(decoder.table().size() <= 4096);
    }
});
