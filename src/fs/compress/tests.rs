use std::io::Read;
use std::path::PathBuf;

use super::*;
use crate::http::files;

/// The bytes back through the coding's own decoder. zstd's decoder is held to an 8 MiB
/// window, the most RFC 9659 lets an HTTP decoder refuse beyond.
fn decode(coding: Coding, coded: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        Coding::Gzip => {
            flate2::read::GzDecoder::new(coded).read_to_end(&mut out).unwrap();
        }
        Coding::Br => brotli::BrotliDecompress(&mut &coded[..], &mut out).unwrap(),
        Coding::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::new(coded).unwrap();
            decoder.window_log_max(23).unwrap();
            decoder.read_to_end(&mut out).unwrap();
        }
    }
    out
}

/// xorshift64*: the same bytes on every run.
fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            (seed.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

/// About `len` bytes of script-like text, with the repetition real code has.
fn js_like(len: usize) -> Vec<u8> {
    const IDENTS: &[&str] = &["element", "value", "options", "state", "result", "index", "node", "handler"];
    let noise = random_bytes(len / 16 + 8, 1);
    let mut s = String::with_capacity(len + 128);
    let mut i = 0;
    while s.len() < len {
        let (a, b) = (IDENTS[noise[i] as usize % 8], IDENTS[noise[i + 1] as usize % 8]);
        s += &format!("function {a}{}({b}) {{ return {b}.{a} + {}; }}\n", noise[i + 2], noise[i + 3]);
        i = (i + 4) % (noise.len() - 4);
    }
    s.truncate(len);
    s.into_bytes()
}

#[test]
fn every_coding_and_level_round_trips() {
    let inputs = [Vec::new(), b"x".to_vec(), js_like(100 * 1024), random_bytes(32 * 1024, 7)];
    for input in &inputs {
        for coding in Coding::ALL {
            for level in [Level::Fast, Level::Best] {
                let coded = compress(coding, level, input).unwrap();
                assert!(decode(coding, &coded) == *input, "{coding:?} {level:?} of {} bytes", input.len());
            }
        }
    }
}

#[test]
fn text_shrinks_and_best_is_smaller_than_fast() {
    let text = js_like(100 * 1024);
    for coding in Coding::ALL {
        let fast = compress(coding, Level::Fast, &text).unwrap();
        let best = compress(coding, Level::Best, &text).unwrap();
        assert!(worth_keeping(text.len() as u64, fast.len()), "{coding:?} fast: {}", fast.len());
        assert!(best.len() <= fast.len(), "{coding:?}: best {} > fast {}", best.len(), fast.len());
        // Deterministic: what makes one ETag per level sound.
        assert_eq!(compress(coding, Level::Fast, &text).unwrap(), fast);
    }
}

#[test]
fn random_bytes_are_not_worth_it() {
    let input = random_bytes(64 * 1024, 3);
    for coding in Coding::ALL {
        let coded = compress(coding, Level::Fast, &input).unwrap();
        assert!(!worth_keeping(input.len() as u64, coded.len()), "{coding:?}");
    }
    assert!(worth_keeping(100, 95));
    assert!(!worth_keeping(100, 96));
    assert!(!worth_keeping(0, 1)); // No overflow at the edges.
    assert!(!worth_keeping(u64::MAX, usize::MAX));
}

#[test]
fn input_over_the_ceiling_is_refused() {
    let input = vec![0u8; MAX_SIZE_CEILING as usize + 1];
    for coding in Coding::ALL {
        let err = compress(coding, Level::Fast, &input).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
    }
}

#[test]
fn brotli_window_fits_the_input_within_bounds() {
    let cases = [(0, 10), (1, 10), (1024, 10), (1025, 11), (100 * 1024, 17), (1 << 22, 22), (8 << 20, 22)];
    for (len, lgwin) in cases {
        assert_eq!(brotli_lgwin(len), lgwin, "{len}");
    }
}

#[test]
fn computed_etags_differ_by_coding_and_level_and_from_sidecars() {
    let original = "\"400-6553f100.5\"";
    assert_eq!(computed_etag(original, Coding::Br, Level::Best), "\"400-6553f100.5-br11\"");
    assert_eq!(computed_etag(original, Coding::Br, Level::Fast), "\"400-6553f100.5-br4\"");
    assert_eq!(computed_etag(original, Coding::Zstd, Level::Best), "\"400-6553f100.5-zstd19\"");
    assert_eq!(computed_etag(original, Coding::Gzip, Level::Fast), "\"400-6553f100.5-gzip4\"");
    let t = std::time::UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 5);
    let mut seen = std::collections::HashSet::new();
    seen.insert(files::etag(1024, t, None));
    for coding in Coding::ALL {
        assert!(seen.insert(files::etag(1024, t, Some(coding))));
        for level in [Level::Fast, Level::Best] {
            assert!(seen.insert(computed_etag(&files::etag(1024, t, None), coding, level)), "{coding:?} {level:?}");
        }
    }
}

/// A file in a fresh temporary folder, removed on drop.
struct TempFile {
    dir: PathBuf,
    path: PathBuf,
}

impl TempFile {
    fn new(name: &str, contents: &[u8]) -> TempFile {
        let dir = std::env::temp_dir().join(format!("evserve-compress-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("file");
        std::fs::write(&path, contents).unwrap();
        TempFile { dir, path }
    }

    /// The open descriptor and the identity it has now, as the file cache would hand them.
    fn open(&self) -> (Source, FileId) {
        let file = File::open(&self.path).unwrap();
        let meta = file.metadata().unwrap();
        (Source::File(Arc::new(crate::util::map::BodyFile::new(file, meta.len()))), FileId::of(&meta))
    }
}

impl TempFile {
    /// Another descriptor, to change the file with.
    fn writer(&self) -> File {
        File::options().write(true).open(&self.path).unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_job_reads_codes_and_checks_the_file() {
    let text = js_like(20 * 1024);
    let tmp = TempFile::new("job", &text);
    let (file, id) = tmp.open();
    for coding in Coding::ALL {
        let key = Key { file: id, coding };
        match CompressJob::new(file.clone(), key, Level::Fast, MAX_SIZE_CEILING).run() {
            Compressed::Done { key: k, level: Level::Fast, bytes } => {
                assert_eq!(k, key);
                assert_eq!(decode(coding, &bytes), text);
            }
            other => panic!("{coding:?}: {other:?}"),
        }
    }
}

#[test]
fn a_job_codes_bytes_held_in_memory() {
    let text = js_like(4096);
    let file = FileId { dev: 1, ino: 2, size: text.len() as u64, mtime_ns: 3 };
    let key = Key { file, coding: Coding::Br };
    let held = Source::Memory(text.clone().into());
    match CompressJob::new(held, key, Level::Best, MAX_SIZE_CEILING).run() {
        Compressed::Done { level: Level::Best, bytes, .. } => assert_eq!(decode(Coding::Br, &bytes), text),
        other => panic!("{other:?}"),
    }
    // Bytes that are not of that identity's size are not that file's.
    let other = Source::Memory(text[1..].to_vec().into());
    let out = CompressJob::new(other, key, Level::Fast, MAX_SIZE_CEILING).run();
    assert!(matches!(out, Compressed::Changed { .. }), "{out:?}");
}

#[test]
fn a_job_is_send() {
    fn send<T: Send + 'static>() {}
    send::<CompressJob>();
    send::<Compressed>();
}

#[test]
fn a_file_larger_than_max_is_refused() {
    let tmp = TempFile::new("max", &js_like(4096));
    let (file, id) = tmp.open();
    let key = Key { file: id, coding: Coding::Gzip };
    let out = CompressJob::new(file, key, Level::Best, 4095).run();
    assert!(matches!(out, Compressed::Failed { why: Failure::TooLarge, .. }), "{out:?}");
    let mut cache = CompressCache::default();
    cache.record(out);
    assert_eq!(cache.lookup(&key), Cached::NotWorthIt { level: Level::Best });
}

#[test]
fn a_file_changed_since_its_stat_gives_changed() {
    let text = js_like(8 * 1024);
    let key = |id| Key { file: id, coding: Coding::Zstd };
    // Grew: more bytes than the identity says.
    let tmp = TempFile::new("grew", &text);
    let (file, id) = tmp.open();
    tmp.writer().write_all_at(b"more", text.len() as u64).unwrap();
    let out = CompressJob::new(file, key(id), Level::Fast, MAX_SIZE_CEILING).run();
    assert!(matches!(out, Compressed::Changed { file } if file == id), "{out:?}");
    // Shrank.
    let tmp = TempFile::new("shrank", &text);
    let (file, id) = tmp.open();
    tmp.writer().set_len(100).unwrap();
    let out = CompressJob::new(file, key(id), Level::Fast, MAX_SIZE_CEILING).run();
    assert!(matches!(out, Compressed::Changed { .. }), "{out:?}");
    // Rewritten in place, same size: the modification time moved.
    let tmp = TempFile::new("rewritten", &text);
    let (file, id) = tmp.open();
    let writer = tmp.writer();
    writer.write_all_at(&text[..100], 100).unwrap();
    writer.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1)).unwrap();
    let out = CompressJob::new(file, key(id), Level::Fast, MAX_SIZE_CEILING).run();
    assert!(matches!(out, Compressed::Changed { .. }), "{out:?}");
    // Grew past the maximum after it was measured: still Changed, nothing read beyond.
    let tmp = TempFile::new("pastmax", &text);
    let (file, id) = tmp.open();
    tmp.writer().write_all_at(&text, text.len() as u64).unwrap();
    let out = CompressJob::new(file, key(id), Level::Fast, text.len() as u64).run();
    assert!(matches!(out, Compressed::Changed { .. }), "{out:?}");
}

#[test]
fn an_incompressible_file_is_remembered_as_not_worth_it() {
    let tmp = TempFile::new("random", &random_bytes(16 * 1024, 9));
    let (file, id) = tmp.open();
    let key = Key { file: id, coding: Coding::Br };
    let out = CompressJob::new(file, key, Level::Fast, MAX_SIZE_CEILING).run();
    assert!(matches!(out, Compressed::NotWorthIt { level: Level::Fast, .. }), "{out:?}");
    let mut cache = CompressCache::default();
    cache.record(out);
    assert_eq!(cache.lookup(&key), Cached::NotWorthIt { level: Level::Fast });
    assert_eq!(cache.stats().not_worth_it, 1);
    assert_eq!(cache.stats().size, ENTRY_COST);
}

/// A file of 1000 bytes, told apart by its inode.
fn id(ino: u64) -> FileId {
    FileId { dev: 1, ino, size: 1000, mtime_ns: 5 }
}

fn key(ino: u64, coding: Coding) -> Key {
    Key { file: id(ino), coding }
}

fn bytes(len: usize, fill: u8) -> Arc<[u8]> {
    vec![fill; len].into()
}

#[test]
fn the_budget_holds_and_the_least_recently_used_go_first() {
    let entry = 100 + ENTRY_COST;
    let mut cache = CompressCache::new(10 * entry);
    for ino in 0..10 {
        assert!(cache.insert(key(ino, Coding::Br), bytes(100, ino as u8), Level::Fast));
    }
    assert_eq!(cache.stats().size, 10 * entry);
    assert_eq!(cache.stats().evictions, 0);
    // A hit on 0 makes 1 the least recently used.
    assert!(cache.get(&key(0, Coding::Br)).is_some());
    cache.insert(key(10, Coding::Br), bytes(100, 10), Level::Fast);
    assert_eq!(cache.stats().evictions, 1);
    assert!(cache.get(&key(1, Coding::Br)).is_none());
    assert!(cache.get(&key(0, Coding::Br)).is_some());
    // Many more: the size never exceeds the budget, the oldest go in order.
    for ino in 11..1000 {
        cache.insert(key(ino, Coding::Gzip), bytes(100, 0), Level::Fast);
        let stats = cache.stats();
        assert!(stats.size <= 10 * entry && stats.entries <= 10, "{stats:?}");
    }
    for ino in 990..1000 {
        assert!(cache.get(&key(ino, Coding::Gzip)).is_some(), "{ino}");
    }
    assert!(cache.get(&key(989, Coding::Gzip)).is_none());
    assert!(cache.nodes.len() <= 11, "nodes are reused: {}", cache.nodes.len());
    // A large entry evicts as many as it needs; one larger than the budget is not kept.
    let large = Key { file: FileId { size: 100_000, ..id(2000) }, coding: Coding::Zstd };
    let before = cache.stats().evictions;
    assert!(cache.insert(large, bytes(3 * entry, 1), Level::Best));
    assert_eq!(cache.stats().evictions - before, 4);
    assert!(cache.stats().size <= 10 * entry);
    let mut small = CompressCache::new(1000);
    assert!(!small.insert(
        Key { file: FileId { size: 10_000, ..id(1) }, coding: Coding::Br },
        bytes(2000, 1),
        Level::Best
    ));
    assert_eq!(small.stats(), Stats::default());
}

#[test]
fn best_replaces_fast_and_never_the_reverse() {
    let mut cache = CompressCache::default();
    let k = key(1, Coding::Br);
    assert!(cache.insert(k, bytes(300, b'f'), Level::Fast));
    assert!(cache.insert(k, bytes(200, b'b'), Level::Best));
    assert_eq!(cache.lookup(&k), Cached::Hit { bytes: bytes(200, b'b'), level: Level::Best });
    assert!(!cache.insert(k, bytes(300, b'f'), Level::Fast));
    assert_eq!(cache.lookup(&k), Cached::Hit { bytes: bytes(200, b'b'), level: Level::Best });
    assert_eq!(cache.stats().entries, 1);
    assert_eq!(cache.stats().size, 200 + ENTRY_COST);
    // A fast result that was not worth it does not displace a best one either.
    cache.record(Compressed::NotWorthIt { key: k, level: Level::Fast });
    assert!(matches!(cache.lookup(&k), Cached::Hit { level: Level::Best, .. }));
}

#[test]
fn forget_file_drops_every_coding_of_that_file_only() {
    let mut cache = CompressCache::default();
    for coding in Coding::ALL {
        cache.insert(key(1, coding), bytes(100, 1), Level::Fast);
        cache.insert(key(2, coding), bytes(100, 2), Level::Fast);
    }
    cache.forget_file(id(1));
    for coding in Coding::ALL {
        assert!(cache.get(&key(1, coding)).is_none());
        assert!(cache.get(&key(2, coding)).is_some());
    }
    assert_eq!(cache.stats().entries, 3);
    assert_eq!(cache.stats().size, 3 * (100 + ENTRY_COST));
    // A job's `Changed` forgets the same way.
    cache.record(Compressed::Changed { file: id(2) });
    assert_eq!(cache.stats().entries, 0);
    assert_eq!(cache.stats().size, 0);
}

#[test]
fn a_new_identity_of_the_same_inode_replaces_the_old_codings() {
    let mut cache = CompressCache::default();
    let old = id(1);
    let new = FileId { mtime_ns: 6, ..old };
    cache.insert(Key { file: old, coding: Coding::Br }, bytes(100, 1), Level::Best);
    cache.insert(Key { file: old, coding: Coding::Gzip }, bytes(100, 1), Level::Best);
    // Looked up as it is now: the old codings are gone, whatever their level.
    assert_eq!(cache.lookup(&Key { file: new, coding: Coding::Br }), Cached::Miss);
    assert_eq!(cache.stats().entries, 0);
    cache.insert(Key { file: new, coding: Coding::Br }, bytes(100, 2), Level::Fast);
    // A late `Changed` about the old identity leaves the new one alone.
    cache.forget_file(old);
    assert!(cache.get(&Key { file: new, coding: Coding::Br }).is_some());
}

#[test]
fn stats_count_hits_misses_and_bytes_saved() {
    let mut cache = CompressCache::default();
    let k = key(1, Coding::Zstd);
    assert!(cache.get(&k).is_none());
    cache.insert(k, bytes(250, 0), Level::Fast);
    cache.get(&k);
    cache.get(&k);
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.bytes_saved), (2, 1, 2 * 750));
    assert_eq!((stats.entries, stats.size, stats.evictions), (1, 250 + ENTRY_COST, 0));
}
