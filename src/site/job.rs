//! The work a plan may have to wait for: everything the site would otherwise do on the
//! loop that can block on a disk (a lookup's `openat2`, `statat` and small-file read, a
//! folder's entries, the root's re-check, a file's compression). A `Job` owns what it needs and is `Send`: the
//! caller runs it where it likes (at once, or on another thread) and hands the `Done`
//! back to `Site::resume`, which picks the pipeline up where it stopped.
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::fs::cache::{Check, Checked};
use crate::fs::compress::{CompressJob, Compressed, Key, Level};
use crate::fs::resolve::open_beneath;
use crate::site::listing;
use crate::site::root::{FolderId, find_root};

/// Where the site's pipeline stands while a job runs: what the looked-up path was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The target's own path.
    Target,
    /// `dir/index.html` of a folder target.
    Index,
    /// `index.html` answering a missing route (`--spa`).
    Spa,
    /// The site's `404.html`.
    NotFoundPage,
    /// A file's coding, made for the request that waits for it (or for no request).
    Compress,
}

/// What must run before the plan can be finished.
#[derive(Debug)]
pub struct Job {
    work: Work,
    pub(crate) step: Step,
    /// The root generation it was made under: a result for a swapped-out tree is not used.
    pub(crate) generation: u64,
}

#[derive(Debug)]
enum Work {
    Lookup(Box<Check>),
    Listing { root: Arc<File>, rel: String, dotfiles: bool, json: bool },
    Root { path: PathBuf, held: FolderId },
    Compress(Box<CompressJob>),
}

/// A job's outcome, for `Site::resume`.
#[derive(Debug)]
pub struct Done {
    pub(crate) outcome: Outcome,
    pub(crate) step: Step,
    pub(crate) generation: u64,
}

#[derive(Debug)]
pub(crate) enum Outcome {
    Lookup(Checked),
    /// A rendered listing (HTML or JSON), or why the folder could not be read.
    Listing {
        page: io::Result<Vec<u8>>,
        json: bool,
        /// The folder listed.
        rel: String,
    },
    Root(io::Result<Option<(File, FolderId)>>),
    /// A coding made (or why not), for the site's `CompressCache`, with what was asked.
    Compress {
        key: Key,
        level: Level,
        result: Box<Compressed>,
    },
}

impl Job {
    pub(crate) fn lookup(check: Box<Check>, step: Step, generation: u64) -> Job {
        Job { work: Work::Lookup(check), step, generation }
    }

    pub(crate) fn listing(root: Arc<File>, rel: String, dotfiles: bool, json: bool, generation: u64) -> Job {
        Job { work: Work::Listing { root, rel, dotfiles, json }, step: Step::Index, generation }
    }

    pub(crate) fn root(path: PathBuf, held: FolderId, generation: u64) -> Job {
        Job { work: Work::Root { path, held }, step: Step::Target, generation }
    }

    pub(crate) fn compress(job: CompressJob, generation: u64) -> Job {
        Job { work: Work::Compress(Box::new(job)), step: Step::Compress, generation }
    }

    /// Does the blocking work: never on the loop where a disk may be slow.
    pub fn run(self) -> Done {
        self.run_with(true)
    }

    /// `run` on the loop itself (no pool, `--io-threads 0`): what it would wait out on a pool
    /// thread (a descriptor shortage) it answers at once.
    pub fn run_here(self) -> Done {
        self.run_with(false)
    }

    fn run_with(self, may_wait: bool) -> Done {
        let outcome = match self.work {
            Work::Lookup(check) if may_wait => Outcome::Lookup(check.run()),
            Work::Lookup(check) => Outcome::Lookup(check.run_here()),
            Work::Listing { root, rel, dotfiles, json } => {
                let page = open_beneath(&root, &rel).and_then(|dir| listing::render(dir, &rel, dotfiles, json));
                Outcome::Listing { page, json, rel }
            }
            Work::Root { path, held } => Outcome::Root(find_root(&path, held)),
            Work::Compress(job) => {
                let (key, level) = (job.key(), job.level());
                Outcome::Compress { key, level, result: Box::new(job.run()) }
            }
        };
        Done { outcome, step: self.step, generation: self.generation }
    }

    /// What it is, for `--trace`.
    pub fn describe(&self) -> String {
        match &self.work {
            Work::Lookup(check) => format!("look up /{}", check.rel()),
            Work::Listing { rel, .. } => format!("list /{rel}"),
            Work::Root { path, .. } => format!("re-check the root {}", path.display()),
            Work::Compress(job) => {
                format!("compress ({}, {:?} level)", job.key().coding.token(), job.level())
            }
        }
    }
}
