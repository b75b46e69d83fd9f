//! The root's path and the folder held for it: a deploy that swaps a `current` symlink or
//! renames the folder is seen at the next check (at most one per `--cache-ttl`).
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// (device, inode): which folder a path names.
pub type FolderId = (u64, u64);

/// Opens `path` as the root, the way start-up does: it must be a folder.
pub fn open_folder(path: &Path) -> io::Result<(File, FolderId)> {
    let dir = File::open(path)?;
    let id = as_folder(rustix::fs::fstat(&dir)?)?;
    Ok((dir, id))
}

/// What the root's path names now: `None` for the folder held (one `stat`, following
/// symlinks), else the other folder it names, opened.
pub fn find_root(path: &Path, held: FolderId) -> io::Result<Option<(File, FolderId)>> {
    match as_folder(rustix::fs::stat(path)?)? {
        id if id == held => Ok(None),
        _ => open_folder(path).map(Some),
    }
}

fn as_folder(st: rustix::fs::Stat) -> io::Result<FolderId> {
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::Directory {
        return Err(io::Error::new(io::ErrorKind::NotADirectory, "not a folder"));
    }
    Ok((st.st_dev, st.st_ino))
}

/// The root's path and the folder held for it: when to look again, and what a look means.
/// Pure bookkeeping; `Site::refresh_root` does the system calls.
#[derive(Debug)]
pub struct RootWatch {
    pub path: PathBuf,
    pub held: FolderId,
    pub checked: Instant,
    /// The path was missing or not a folder at the last check (and that was said once).
    unusable: bool,
}

/// The outcome of one check of the root's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It names the folder held.
    Same,
    /// It names another folder: open it and swap.
    Changed,
    /// It stopped naming a folder: keep the old one, say so (once).
    Unusable,
    /// Still not a folder; already said.
    StillUnusable,
    /// After an unusable spell, it names the held folder again.
    Back,
}

impl RootWatch {
    pub fn new(path: PathBuf, held: FolderId, checked: Instant) -> Self {
        RootWatch { path, held, checked, unusable: false }
    }

    /// At most one check per `ttl`; with 0, every request.
    pub fn due(&self, now: Instant, ttl: Duration) -> bool {
        // `now - checked >= ttl` (a clock reading before `checked` counting as 0) without
        // the subtraction, which std does out of line: every request asks.
        ttl.is_zero() || self.checked.checked_add(ttl).is_some_and(|next| now >= next)
    }

    /// Judges what the path names now (`None`: nothing usable) against the held folder.
    pub fn observe(&mut self, seen: Option<FolderId>) -> Verdict {
        let was_unusable = std::mem::replace(&mut self.unusable, seen.is_none());
        match seen {
            None if was_unusable => Verdict::StillUnusable,
            None => Verdict::Unusable,
            Some(id) if id != self.held => Verdict::Changed,
            Some(_) if was_unusable => Verdict::Back,
            Some(_) => Verdict::Same,
        }
    }
}
