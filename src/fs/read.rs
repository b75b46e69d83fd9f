//! Reading a file's bytes onto the end of a buffer without zero-filling it first: HTTP/2
//! copies each 16 KiB DATA payload into the output buffer (many frames leave in one write),
//! and zeroing that room before the kernel overwrites it cost about a tenth of the server's
//! CPU on large files.
use std::fs::File;
use std::io;

/// Appends `len` bytes of `file` from `offset` to `buf`, read straight into its spare
/// capacity. On an error, or a file that ends first, `buf` keeps its length.
#[allow(unsafe_code)]
pub fn read_exact_onto(buf: &mut Vec<u8>, file: &File, offset: u64, len: usize) -> io::Result<()> {
    buf.reserve(len);
    let start = buf.len();
    let mut done = 0;
    while done < len {
        let room = &mut buf.spare_capacity_mut()[done..len];
        match rustix::io::pread(file, room, offset + done as u64) {
            Ok(([], _)) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok((read, _)) => done += read.len(),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // SAFETY: the `len` bytes after `start` are initialized: each pread filled the front of
    // the room it was given (`read`), and each room began where the last one's bytes ended.
    unsafe { buf.set_len(start + len) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(bytes: &[u8], name: &str) -> File {
        let path = std::env::temp_dir().join(format!("evserve-read-{name}-{}", std::process::id()));
        File::create(&path).unwrap().write_all(bytes).unwrap();
        let file = File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        file
    }

    #[test]
    fn bytes_from_an_offset_land_after_what_the_buffer_held() {
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let file = file_of(&bytes, "offset");
        let mut buf = b"head".to_vec();
        read_exact_onto(&mut buf, &file, 1_000, 70_000).unwrap();
        assert_eq!(&buf[..4], b"head");
        assert_eq!(&buf[4..], &bytes[1_000..71_000]);
        read_exact_onto(&mut buf, &file, 0, 0).unwrap();
        assert_eq!(buf.len(), 70_004);
    }

    #[test]
    fn a_file_that_ends_first_leaves_the_buffer_as_it_was() {
        let file = file_of(&[7u8; 10], "short");
        let mut buf = b"head".to_vec();
        let err = read_exact_onto(&mut buf, &file, 4, 7).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(buf, b"head");
        read_exact_onto(&mut buf, &file, 4, 6).unwrap();
        assert_eq!(buf, b"head\x07\x07\x07\x07\x07\x07");
    }
}
