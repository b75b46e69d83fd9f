//! Dropping root after the privileged steps of start-up (`--user`, `--group`): binding ports
//! below 1024 and opening the root folder and the access log happen first, then the process
//! gives up root for good. Every step is checked, and any failure stops start-up: a server
//! that meant to drop root must never go on serving as root.
use std::fmt;

use nix::unistd::{Gid, Group, Uid, User, getegid, geteuid, getgid, getuid, initgroups, setgid, setuid};

/// Who to become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub user: String,
    /// The user's primary group when None.
    pub group: Option<String>,
}

/// Why the switch failed; each message names the step.
#[derive(Debug)]
pub struct DropError(String);

impl fmt::Display for DropError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DropError {}

fn fail(step: &str, e: impl fmt::Display) -> DropError {
    DropError(format!("--user: {step}: {e}"))
}

/// The user and group ids `target` names, from the system's user database (NSS).
pub fn lookup(target: &Target) -> Result<(Uid, Gid, String), DropError> {
    let user = User::from_name(&target.user)
        .map_err(|e| fail("looking up the user", e))?
        .ok_or_else(|| DropError(format!("--user: no such user {:?}", target.user)))?;
    let gid = match &target.group {
        None => user.gid,
        Some(name) => {
            Group::from_name(name)
                .map_err(|e| fail("looking up the group", e))?
                .ok_or_else(|| DropError(format!("--group: no such group {name:?}")))?
                .gid
        }
    };
    Ok((user.uid, gid, user.name))
}

/// Becomes `target`: supplementary groups, then the group, then the user (the order
/// matters: after `setuid` the others are no longer allowed), then checks that root cannot
/// be regained. Must run before any thread that serves is started. Not root and already
/// `target`: nothing to do; not root and someone else: an error.
pub fn drop_to(target: &Target) -> Result<(), DropError> {
    let (uid, gid, name) = lookup(target)?;
    if !geteuid().is_root() {
        return if geteuid() == uid && getegid() == gid {
            Ok(())
        } else {
            Err(DropError(format!("--user {name}: only root can switch users (running as uid {})", geteuid())))
        };
    }
    let c_name = std::ffi::CString::new(name.clone()).map_err(|e| fail("user name", e))?;
    initgroups(&c_name, gid).map_err(|e| fail("setting the supplementary groups", e))?;
    setgid(gid).map_err(|e| fail("setgid", e))?;
    setuid(uid).map_err(|e| fail("setuid", e))?;
    let dropped = getuid() == uid && geteuid() == uid && getgid() == gid && getegid() == gid;
    if !dropped || (!uid.is_root() && setuid(Uid::from_raw(0)).is_ok()) {
        return Err(DropError(format!("--user {name}: the switch did not hold")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_are_refused_by_name() {
        let e = lookup(&Target { user: "no-such-user-evserve".into(), group: None }).unwrap_err();
        assert!(e.to_string().contains("no such user \"no-such-user-evserve\""), "{e}");
        let e = lookup(&Target { user: "root".into(), group: Some("no-such-group-evserve".into()) }).unwrap_err();
        assert!(e.to_string().contains("--group"), "{e}");
    }

    #[test]
    fn root_resolves_to_uid_zero() {
        let (uid, gid, name) = lookup(&Target { user: "root".into(), group: None }).unwrap();
        assert!(uid.is_root());
        assert_eq!(gid.as_raw(), 0);
        assert_eq!(name, "root");
    }
}
