//! Reporting a failing case: its setup, its input, the heads of the responses it got, and
//! the smallest input that still fails the same way.
use evserve::site::Site;

use super::fixture::Fixture;
use super::generate::Case;
use super::harness::{Setup, drive_caught, run_case};

/// How many deletions the shrinker may try.
const TRIES_MAX: usize = 3000;

/// Shrinks a failing input (checked without expectations) by deleting pieces while it
/// still fails the same way; returns the smallest input found and its error.
pub fn shrink(input: &[u8], setup: &Setup, fx: &Fixture, error: &str) -> (Vec<u8>, String) {
    let kind = |e: &str| e.split(':').next().unwrap_or("").to_string();
    let want = kind(error);
    let mut best = input.to_vec();
    let mut best_err = error.to_string();
    let mut step = best.len() / 2;
    let mut tries = 0;
    while step >= 1 && tries < TRIES_MAX {
        let mut at = 0;
        while at < best.len() && tries < TRIES_MAX {
            tries += 1;
            let mut candidate = best.clone();
            candidate.drain(at..(at + step).min(candidate.len()));
            match run_case(&candidate, setup, &fx.root, None) {
                Err(e) if kind(&e) == want => {
                    best = candidate;
                    best_err = e;
                }
                _ => at += step,
            }
        }
        step /= 2;
    }
    (best, best_err)
}

/// The heads (up to the blank line) of the responses in `out`, found by their status lines.
pub fn response_heads(out: &[u8]) -> Vec<&[u8]> {
    let mut heads = Vec::new();
    let mut at = 0;
    while let Some(i) = out[at..].windows(9).position(|w| w == b"HTTP/1.1 ") {
        let start = at + i;
        let end = out[start..].windows(4).position(|w| w == b"\r\n\r\n").map_or(out.len(), |e| start + e);
        heads.push(&out[start..end]);
        at = end.max(start + 1);
        if heads.len() == 12 {
            break;
        }
    }
    heads
}

/// The failure report of case `i`: what failed, the setup, the input, the response heads,
/// and the shrunk input when it fails without expectations too.
pub fn report(i: usize, case: &Case, error: &str, fx: &Fixture) -> String {
    let mut text = format!(
        "case {i}: {error}\n  setup: {:?}\n  input ({} bytes): b\"{}\"\n",
        case.setup,
        case.input.len(),
        case.input.escape_ascii()
    );
    if let Ok(site) = Site::new(&fx.root, case.setup.options.clone())
        && let Ok(run) = drive_caught(&case.input, &case.setup, site)
    {
        text.push_str(&format!("  response heads (closed: {}, half-closed: {}):\n", run.closed, run.shut));
        for head in response_heads(&run.output) {
            text.push_str(&format!("    {}\n", head.escape_ascii()));
        }
    }
    if run_case(&case.input, &case.setup, &fx.root, None).is_err() {
        let (small, err) = shrink(&case.input, &case.setup, fx, error);
        text.push_str(&format!("  shrunk ({} bytes, {err}): b\"{}\"\n", small.len(), small.escape_ascii()));
    }
    text
}
