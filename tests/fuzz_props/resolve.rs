//! The resolve properties: a resolved path is clean (no `.`, `..` or empty segment, no
//! leading `/`, no control byte or backslash, no hidden segment unless allowed) and
//! survives the round trip through `encode_path` (the 301 `Location`) unchanged.
use std::panic::catch_unwind;

use evserve::fs::resolve::{Reject, resolve_target};
use evserve::util::text::encode_path;

/// Checks `resolve_target(target, dotfiles)` against every property (the `resolve` fuzz
/// target's entry).
pub fn check_resolve(target: &str, dotfiles: bool) -> Result<(), String> {
    let r = match catch_unwind(|| resolve_target(target, dotfiles)) {
        Ok(Ok(r)) => r,
        Ok(Err(Reject::BadRequest(_) | Reject::Hidden)) => return Ok(()),
        Err(_) => return Err(format!("resolve_target panicked on {target:?}")),
    };
    let path = &r.path;
    check_segments(target, path, dotfiles)?;
    if r.query != target.split_once('?').map(|(_, q)| q) {
        return Err(format!("{target:?}: query {:?}", r.query));
    }
    let mut again = String::from("/");
    encode_path(path, &mut again);
    match resolve_target(&again, dotfiles) {
        Ok(r2) if r2.path == *path => Ok(()),
        other => Err(format!("{target:?} -> {path:?}, but its Location {again:?} resolves to {other:?}")),
    }
}

/// The resolved `path` is relative, with only real, visible (or allowed) segments and no
/// control byte or backslash.
fn check_segments(target: &str, path: &str, dotfiles: bool) -> Result<(), String> {
    if path.starts_with('/') {
        return Err(format!("{target:?} -> {path:?} starts with /"));
    }
    if !path.is_empty() {
        for (i, seg) in path.split('/').enumerate() {
            if seg.is_empty() || seg == "." || seg == ".." {
                return Err(format!("{target:?} -> {path:?} has segment {seg:?}"));
            }
            if !dotfiles && seg.starts_with('.') && !(i == 0 && seg == ".well-known") {
                return Err(format!("{target:?} -> {path:?} shows hidden segment {seg:?}"));
            }
        }
    }
    if path.bytes().any(|b| b < 0x20 || b == 0x7f || b == b'\\') {
        return Err(format!("{target:?} -> {path:?} has a control byte or backslash"));
    }
    Ok(())
}
