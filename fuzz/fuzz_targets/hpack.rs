//! `http2::hpack::decoder::Decoder` on arbitrary field blocks, several per connection so the
//! dynamic table carries over. It must never panic, never hold more than its maximum table
//! size, and never return more than the header list limits allow; whatever it decodes must
//! survive a round trip through our encoder, and each field's §8.2.1 verdict must be the one its
//! bytes earn, whether it was sent by index or as a literal. `count_fields` (what `--trace` says of a block)
//! never panics either and counts at most a field per byte.
#![no_main]

use evserve::http2::field::Checked;
use evserve::http2::hpack::decoder::{Decoder, MAX_HEADER_FIELDS, MAX_HEADER_LIST_SIZE, count_fields};
use evserve::http2::hpack::encoder::encode_field;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::new();
    // 0xff separates blocks: it is also a valid HPACK byte, so blocks still see it inside.
    for block in data.split(|&b| b == 0xff).take(8) {
        assert!(count_fields(block) <= block.len());
        match decoder.decode_list(block) {
            Ok(list) => {
                for f in list.fields() {
                    let (name, value) = (f.name.of(list.bytes()), f.value.of(list.bytes()));
                    assert_eq!(f.checked, Checked::of(name, value));
                }
                let headers: Vec<_> = list
                    .iter()
                    .map(|(name, value)| evserve::http2::hpack::decoder::Header {
                        name: name.to_vec(),
                        value: value.to_vec(),
                        sensitive: false,
                    })
                    .collect();
                assert!(headers.len() <= MAX_HEADER_FIELDS);
                let size: usize = headers.iter().map(|h| h.name.len() + h.value.len() + 32).sum();
                assert!(size <= MAX_HEADER_LIST_SIZE);
                let mut out = Vec::new();
                for h in &headers {
                    encode_field(&mut out, &h.name, &h.value);
                }
                let back = Decoder::new().decode(&out).expect("our own encoding decodes");
                let pairs = |l: &[evserve::http2::hpack::decoder::Header]| {
                    l.iter().map(|h| (h.name.clone(), h.value.clone())).collect::<Vec<_>>()
                };
                assert_eq!(pairs(&back), pairs(&headers));
            }
            Err(e) if e.is_recoverable() => {}
            Err(_) => break, // a connection error: the table is no longer trusted
        }
        assert!(decoder.table().size() <= decoder.table().max_size());
    }
});
