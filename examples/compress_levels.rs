//! The measurement behind `fs::compress`'s choice of levels: each codec at its candidate
//! levels on a JS-like and an HTML-like text (made here, deterministic), on inputs that are
//! hard for a compressor (random bytes, a four-letter alphabet, one repeated byte), and on
//! any files named on the command line. Prints the compressed size as a share of the
//! original and the speed in MB/s of input.
//!
//! `cargo run --release --example compress_levels [FILE...]`. In the dev profile zlib-rs
//! and zstd are optimized all the same (see Cargo.toml) but brotli is about four times
//! slower: read its speeds from a release build. It uses the codec crates alone, so a copy
//! of it in a scratch crate with just those three dependencies gives the same numbers
//! without building the server in release mode.
use std::io::Write;
use std::time::{Duration, Instant};

/// Each measurement repeats until it has run this long, so fast levels are timed fairly.
const MIN_TIME: Duration = Duration::from_millis(150);

fn main() {
    let mut inputs: Vec<(String, Vec<u8>)> = vec![
        ("js-like 100 KiB".into(), js_like(100 * 1024)),
        ("html-like 1 MiB".into(), html_like(1024 * 1024)),
        ("random 1 MiB".into(), random_bytes(1024 * 1024)),
        ("acgt 1 MiB".into(), acgt(1024 * 1024)),
        ("zeros 1 MiB".into(), vec![0; 1024 * 1024]),
    ];
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        inputs.push((path, bytes));
    }
    let candidates: &[(&str, u32)] = &[
        ("gzip", 1),
        ("gzip", 2),
        ("gzip", 4),
        ("gzip", 6),
        ("gzip", 9),
        ("br", 4),
        ("br", 5),
        ("br", 6),
        ("br", 11),
        ("zstd", 1),
        ("zstd", 3),
        ("zstd", 6),
        ("zstd", 19),
    ];
    println!("{:<28} {:>5} {:>3} {:>9} {:>7} {:>9}", "input", "codec", "lvl", "bytes", "ratio", "MB/s");
    for (name, input) in &inputs {
        for &(codec, level) in candidates {
            let (out, per_run) = time(|| compress(codec, level, input));
            let mbps = input.len() as f64 / per_run.as_secs_f64() / 1e6;
            let ratio = out.len() as f64 / input.len().max(1) as f64;
            let short: String = name.chars().rev().take(28).collect::<Vec<_>>().into_iter().rev().collect();
            println!("{short:<28} {codec:>5} {level:>3} {:>9} {:>6.1}% {mbps:>9.1}", out.len(), ratio * 100.0);
        }
    }
}

fn time(mut f: impl FnMut() -> Vec<u8>) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut runs = 0u32;
    loop {
        let out = f();
        runs += 1;
        if start.elapsed() >= MIN_TIME {
            return (out, start.elapsed() / runs);
        }
    }
}

fn compress(codec: &str, level: u32, input: &[u8]) -> Vec<u8> {
    match codec {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
            e.write_all(input).unwrap();
            e.finish().unwrap()
        }
        "br" => {
            let params = brotli::enc::BrotliEncoderParams {
                quality: level as i32,
                lgwin: 22,
                size_hint: input.len(),
                ..Default::default()
            };
            let mut out = Vec::new();
            brotli::BrotliCompress(&mut &input[..], &mut out, &params).unwrap();
            out
        }
        "zstd" => zstd::bulk::compress(input, level as i32).unwrap(),
        _ => unreachable!(),
    }
}

/// xorshift64*: deterministic, so every run measures the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Skewed towards small indices, as word frequencies are (roughly Zipf).
    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        let a = self.next() as usize % words.len();
        let b = self.next() as usize % words.len();
        words[a.min(b) * (a.min(b)) / words.len().max(1)]
    }
}

const IDENTS: &str = "\
    element value options state result index node config handler event callback response request \
    document window length target children props render update create listener queue buffer offset \
    cache module exports require promise resolve reject error message context store dispatch action \
    payload selector component instance prototype attributes className";

const WORDS: &str = "\
    the of and to a in is that for it as with was on be by this are from or an which server file \
    request response connection client when each loop thread cache bytes header field value time \
    first memory compression coding browser page network data system order number example section \
    returns error between without";

fn vocabulary() -> (Vec<&'static str>, Vec<&'static str>) {
    (IDENTS.split_whitespace().collect(), WORDS.split_whitespace().collect())
}

fn js_like(len: usize) -> Vec<u8> {
    let (idents, words) = vocabulary();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut s = String::with_capacity(len + 256);
    while s.len() < len {
        let (f, a, b) = (rng.pick(&idents), rng.pick(&idents), rng.pick(&idents));
        match rng.next() % 5 {
            0 => s += &format!("function {f}{}({a}, {b}) {{\n", rng.next() % 1000),
            1 => s += &format!("  const {a} = {b}.{f}({}, \"{}\");\n", rng.next() % 4096, rng.pick(&words)),
            2 => s += &format!("  if ({a} === null || {a}.{b} > {}) {{ return {f}; }}\n", rng.next() % 100),
            3 => s += &format!("  {a}.{b} = {{ {f}: {}, {}: [{a}, {b}] }};\n", rng.next() % 65536, rng.pick(&idents)),
            _ => s += "}\n",
        }
    }
    s.truncate(len);
    s.into_bytes()
}

fn html_like(len: usize) -> Vec<u8> {
    let (idents, words) = vocabulary();
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut s = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>A page</title></head><body>\n",
    );
    while s.len() < len {
        let class = rng.pick(&idents);
        s += &format!("<div class=\"{class} item-{}\"><p>", rng.next() % 500);
        for _ in 0..(8 + rng.next() % 40) {
            s += rng.pick(&words);
            s.push(' ');
        }
        s += &format!(
            "<a href=\"/{}/{}.html\">{}</a></p></div>\n",
            rng.pick(&words),
            rng.next() % 10000,
            rng.pick(&words)
        );
    }
    s.truncate(len);
    s.into_bytes()
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut rng = Rng(42);
    (0..len).map(|_| rng.next() as u8).collect()
}

/// Random text over four letters: many short matches everywhere, the slow case for
/// match finders.
fn acgt(len: usize) -> Vec<u8> {
    let mut rng = Rng(7);
    (0..len).map(|_| b"ACGT"[(rng.next() % 4) as usize]).collect()
}
