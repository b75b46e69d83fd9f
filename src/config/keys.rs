//! A config file's entries -> flags. Each key is a flag's long name (or `root`, the folder
//! to serve), and each value goes through that flag's own function, so a value in the file
//! is checked exactly as the same value on the command line. The whole file is checked when
//! it is read, including keys that the command line or the environment will override: a
//! file that is wrong today fails today, not on the day the override goes away. Every
//! mistake names the file, the line and the key. The syntax is `file`'s.
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::file::{self, Entry, Value};
use super::{Action, CONFIG_FLAG, Draft, FLAGS, Flag, UsageError};

/// The key that names the folder to serve (on the command line, the ROOT argument).
pub const ROOT_KEY: &str = "root";

/// A config file, read and checked.
#[derive(Debug)]
pub(super) struct ConfigFile {
    path: PathBuf,
    entries: Vec<Entry>,
}

impl ConfigFile {
    /// Reads `path` and checks every entry.
    pub(super) fn read(path: PathBuf) -> Result<ConfigFile, UsageError> {
        let text =
            std::fs::read_to_string(&path).map_err(|e| UsageError(format!("--config {}: {e}", path.display())))?;
        let entries =
            file::parse(&text).map_err(|e| located(&path, e.line, e.key.as_deref().unwrap_or_default(), &e.message))?;
        let file = ConfigFile { path, entries };
        let mut scratch = Draft::new();
        for entry in &file.entries {
            match entry.key.as_str() {
                ROOT_KEY => file.root_of(entry).map(drop)?,
                _ => file.apply_entry(&mut scratch, file.flag_of(entry)?, entry)?,
            }
        }
        Ok(file)
    }

    /// The folder to serve, if the file names one.
    pub(super) fn root(&self) -> Option<PathBuf> {
        self.entries.iter().find(|e| e.key == ROOT_KEY).and_then(|e| self.root_of(e).ok())
    }

    /// Applies the file's value for `flag`, if it has one.
    pub(super) fn apply(&self, draft: &mut Draft, flag: &Flag) -> Result<(), UsageError> {
        match self.entries.iter().find(|e| e.key == flag.long) {
            Some(entry) => self.apply_entry(draft, flag, entry),
            None => Ok(()),
        }
    }

    fn error(&self, line: usize, key: &str, message: &str) -> UsageError {
        located(&self.path, line, key, message)
    }

    fn root_of(&self, entry: &Entry) -> Result<PathBuf, UsageError> {
        match &entry.value {
            Value::String(s) if !s.is_empty() => Ok(PathBuf::from(s)),
            v => Err(self.error(entry.line, &entry.key, &format!("expected a folder's path, got {}", v.kind()))),
        }
    }

    fn flag_of(&self, entry: &Entry) -> Result<&'static Flag, UsageError> {
        let unknown = "unknown key (the keys are root and the long flag names of --help)";
        match FLAGS.iter().find(|f| f.long == entry.key) {
            Some(f) if f.long == CONFIG_FLAG => {
                Err(self.error(entry.line, &entry.key, "a config file cannot name another one"))
            }
            Some(f) if matches!(f.action, Action::Help | Action::Version) => {
                Err(self.error(entry.line, &entry.key, unknown))
            }
            Some(f) => Ok(f),
            None => Err(self.error(entry.line, &entry.key, unknown)),
        }
    }

    fn apply_entry(&self, draft: &mut Draft, flag: &Flag, entry: &Entry) -> Result<(), UsageError> {
        let at = |line: usize| move |e: String| self.error(line, &entry.key, &e);
        match (flag.action, &entry.value) {
            (Action::Switch(set), Value::Boolean(on)) => {
                if *on {
                    set(draft);
                }
                Ok(())
            }
            (Action::Switch(_), v) => Err(at(entry.line)(format!("expected true or false, got {}", v.kind()))),
            (Action::Value(apply), Value::Array(items)) if flag.repeatable => {
                for (line, item) in items {
                    apply(draft, scalar(item).map_err(at(*line))?).map_err(at(*line))?;
                }
                Ok(())
            }
            (Action::Value(_), Value::Array(_)) => Err(at(entry.line)("takes one value, not an array".into())),
            (Action::Value(apply), v) => apply(draft, scalar(v).map_err(at(entry.line))?).map_err(at(entry.line)),
            // Several rules, each a pair: [["*.html", "no-cache"], ["/assets/**", "..."]].
            (Action::Pair(apply), Value::Array(items)) if items.iter().all(|(_, v)| matches!(v, Value::Array(_))) => {
                for (line, item) in items {
                    let (a, b) = pair(item).map_err(at(*line))?;
                    apply(draft, a, b).map_err(at(*line))?;
                }
                Ok(())
            }
            // One rule: ["*.html", "no-cache"].
            (Action::Pair(apply), v) => {
                let (a, b) = pair(v).map_err(at(entry.line))?;
                apply(draft, a, b).map_err(at(entry.line))
            }
            (Action::Help | Action::Version, _) => Err(at(entry.line)("not a config-file key".into())),
        }
    }
}

/// `FILE:LINE: KEY: message` (no key for a line whose key could not be read).
fn located(path: &Path, line: usize, key: &str, message: &str) -> UsageError {
    match key {
        "" => UsageError(format!("{}:{line}: {message}", path.display())),
        key => UsageError(format!("{}:{line}: {key}: {message}", path.display())),
    }
}

/// A string or a number, as the text a flag reads.
fn scalar(v: &Value) -> Result<OsString, String> {
    match v {
        Value::String(s) | Value::Integer(s) | Value::Float(s) => Ok(s.into()),
        other => Err(format!("expected a string or a number, got {}", other.kind())),
    }
}

/// `["GLOB", "VALUE"]`.
fn pair(v: &Value) -> Result<(OsString, OsString), String> {
    let wrong = || format!("expected a pair [\"GLOB\", \"VALUE\"] (or an array of them), got {}", v.kind());
    match v {
        Value::Array(items) => match &items[..] {
            [(_, Value::String(a)), (_, Value::String(b))] => Ok((a.into(), b.into())),
            _ => Err(wrong()),
        },
        _ => Err(wrong()),
    }
}
