//! `resolve_target` on arbitrary targets: a resolved path never has a `.`, `..` or empty
//! segment, never starts with `/`, never holds a control byte, a backslash or (unless
//! dotfiles are on) a hidden segment, and resolves to itself again after `evserve::util::text::encode_path` (the
//! 301 `Location`). Byte 0 bit 0 turns dotfiles on; the rest is the target (UTF-8 only, as
//! httparse hands over). The checks live in tests/fuzz_props/resolve.rs (`check_resolve`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_props/main.rs"]
#[allow(dead_code, unused_imports)]
mod props;

fuzz_target!(|data: &[u8]| {
    let [flags, rest @ ..] = data else { return };
    let Ok(target) = std::str::from_utf8(rest) else { return };
    let dotfiles = flags & 1 != 0;
    for t in [target.to_string(), format!("/{target}")] {
        if let Err(e) = props::check_resolve(&t, dotfiles) {
            panic!("{e}");
        }
    }
});
