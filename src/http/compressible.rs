//! Which representations are worth compressing on the fly: by media type (text, scripts,
//! structured data, fonts that are not compressed already) and by size (`MIN_SIZE`,
//! `MAX_SIZE`). Pure: it decides from a media type and a length, and knows nothing of
//! codecs, caches or files. It does not negotiate either: that is `files::negotiate`.
//!
//! The rule is to compress what is stored uncompressed and to leave alone what is
//! compressed already (images other than bitmaps and SVG, audio, video, archives, PDF,
//! WOFF and WOFF2 fonts): compressing those again costs CPU and saves nothing.

/// Files smaller than this are served as they are. A few hundred bytes of text compress to
/// little less than their own size plus the coding's framing (gzip alone adds 18 bytes), the
/// response fits one packet either way, and every computed entry costs a job, a cache slot
/// and an ETag of its own.
pub const MIN_SIZE: u64 = 256;

/// Files larger than this are not compressed on the fly unless the operator raises it
/// (up to `MAX_SIZE_CEILING`): they are left to sidecars made by a build step. It bounds
/// what one file costs: the bytes read whole into memory and kept in the cache, and the CPU
/// of the best level, which dominates: brotli 11 codes text at about 0.6 MB/s (measured,
/// `examples/compress_levels.rs`), so 8 MiB is ~15 s of one pool thread, once per file and
/// change. The largest JavaScript bundles and documents people serve fit below it. It is
/// also zstd's limit on the window an HTTP decoder must accept (RFC 9659 section 3).
pub const MAX_SIZE: u64 = 8 * 1024 * 1024;

/// The most `--compress-max` may be set to: compression refuses larger inputs whatever
/// the configuration, so that a huge or pathological file costs a bounded amount of CPU
/// and memory (at the slowest rate measured, brotli 11 at 0.4 MB/s, ~40 s of one thread).
pub const MAX_SIZE_CEILING: u64 = 2 * MAX_SIZE;

/// True when a representation of this media type is worth compressing. `essence` is a
/// type without parameters (anything after a `;` is ignored) in any letter case.
pub fn is_compressible(essence: &str) -> bool {
    let essence = essence.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else { return false };
    let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    if is(kind, "text") {
        return true;
    }
    // Structured syntax suffixes (RFC 6838 section 4.2.8): `+json`, `+xml` (SVG, XHTML,
    // Atom, RSS) and `+yaml` (RFC 9512) are text whatever the type before them.
    if let Some((_, suffix)) = subtype.rsplit_once('+')
        && ["json", "xml", "yaml"].iter().any(|s| is(suffix, s))
    {
        return true;
    }
    let listed = |table: &[&str]| table.iter().any(|t| is(subtype, t));
    match kind.to_ascii_lowercase().as_str() {
        "application" => listed(APPLICATION),
        "font" => listed(FONT),
        "image" => listed(IMAGE),
        _ => false,
    }
}

/// `application/` subtypes stored as text or as uncompressed binary.
const APPLICATION: &[&str] = &[
    "javascript",
    "x-javascript",
    "ecmascript",
    "json",
    "x-ndjson",
    "xml",
    "wasm",
    "yaml",
    "x-yaml",
    "toml",
    "x-sh",
    "x-csh",
    "x-tex",
    "x-latex",
    "rtf",
    "postscript",
    "graphql",
    "sql",
    // Fonts under their old names (TrueType, OpenType, EOT): uncompressed tables.
    "x-font-ttf",
    "x-font-otf",
    "x-font-opentype",
    "x-font-truetype",
    "font-sfnt",
    "vnd.ms-fontobject",
];

/// `font/` subtypes: TrueType and OpenType tables and their collections. Never `woff` or
/// `woff2`, which are compressed inside (zlib and brotli).
const FONT: &[&str] = &["ttf", "otf", "sfnt", "collection"];

/// `image/` subtypes that are uncompressed bitmaps (SVG is matched by its `+xml`). Every
/// other image format is compressed already.
const IMAGE: &[&str] = &["bmp", "x-ms-bmp", "x-icon", "vnd.microsoft.icon"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressible_media_types() {
        const CASES: &[(&str, bool)] = &[
            ("text/html", true),
            ("text/css", true),
            ("text/plain", true),
            ("text/javascript", true),
            ("text/markdown", true),
            ("text/csv", true),
            ("TEXT/HTML", true),
            ("text/html; charset=utf-8", true),
            ("application/javascript", true),
            ("application/json", true),
            ("application/manifest+json", true),
            ("application/ld+json", true),
            ("application/geo+json", true),
            ("application/xml", true),
            ("application/xhtml+xml", true),
            ("application/atom+xml", true),
            ("application/rss+xml", true),
            ("image/svg+xml", true),
            ("IMAGE/SVG+XML", true),
            ("application/wasm", true),
            ("application/yaml", true),
            ("application/toml", true),
            ("font/ttf", true),
            ("font/otf", true),
            ("font/collection", true),
            ("application/vnd.ms-fontobject", true),
            ("application/x-font-ttf", true),
            ("image/x-icon", true),
            ("image/vnd.microsoft.icon", true),
            ("image/bmp", true),
            // Compressed already.
            ("font/woff", false),
            ("font/woff2", false),
            ("application/font-woff", false),
            ("image/png", false),
            ("image/jpeg", false),
            ("image/gif", false),
            ("image/webp", false),
            ("image/avif", false),
            ("video/mp4", false),
            ("audio/mpeg", false),
            ("application/pdf", false),
            ("application/zip", false),
            ("application/gzip", false),
            ("application/x-7z-compressed", false),
            ("application/zstd", false),
            ("application/epub+zip", false),
            ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", false),
            // Unknown or malformed.
            ("application/octet-stream", false),
            ("", false),
            ("text", false),
            ("json", false),
            ("/json", false),
            ("textual/html", false),
            ("font/woff2+xml-ish", false),
        ];
        for (essence, want) in CASES {
            assert_eq!(is_compressible(essence), *want, "{essence:?}");
        }
    }

    #[test]
    fn sizes_are_ordered() {
        const { assert!(MIN_SIZE < MAX_SIZE && MAX_SIZE <= MAX_SIZE_CEILING) };
    }
}
