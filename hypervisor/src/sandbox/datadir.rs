//! A sandbox's data directory: created 0700 and owned by the sandbox's uid, or adopted when an
//! older hypervisor left it owned by root (every entry is handed over and made private).
//!
//! Adoption runs as root inside a directory a user controlled, so it never follows a symbolic
//! link: it walks by descriptor (`openat` with `O_NOFOLLOW`) and changes each entry through a
//! descriptor of that entry, whatever the tree holds or becomes meanwhile.

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

use nix::dir::Dir;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstat, Mode, SFlag};
use nix::unistd::{fchownat, Gid, Uid};

/// Makes `dir` the private data directory of `owner` (uid, gid), or of this process's user
/// when `owner` is `None`.
pub fn prepare(dir: &Path, owner: Option<(u32, u32)>) -> std::io::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new().mode(0o700).create(dir)?;
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::lchown(dir, Some(uid), Some(gid))?;
            }
        }
        Err(err) => return Err(err),
        Ok(meta) if !meta.file_type().is_dir() => {
            return Err(std::io::Error::other(format!(
                "{} is not a directory",
                dir.display()
            )))
        }
        Ok(meta) => {
            if let Some((uid, gid)) = owner {
                if meta.uid() != uid || meta.gid() != gid {
                    tracing::info!(dir = %dir.display(), uid, "handing the data directory over to its sandbox user");
                    adopt(dir, uid, gid)?;
                }
            }
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Gives everything under `dir` to `uid`:`gid` and takes group and other permissions away
/// (and setuid and setgid bits). Entries that could be someone else's file are left as they
/// are, owned by root: hard links (another name of a file elsewhere, such as `/etc/shadow`)
/// and devices, FIFOs and sockets.
fn adopt(dir: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let top = Dir::open(dir, flags, Mode::empty())?;
    nix::unistd::fchown(
        top.as_fd(),
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
    )?;
    adopt_entries(top, uid, gid, 0)
}

/// Deeper than this, something is wrong (or hostile): stop rather than recurse forever.
const MAX_DEPTH: usize = 256;

fn adopt_entries(mut dir: Dir, uid: u32, gid: u32, depth: usize) -> std::io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(std::io::Error::other(
            "the data directory is nested too deeply",
        ));
    }
    let fd = dir.as_fd().try_clone_to_owned()?;
    let mut subdirs = Vec::new();
    for entry in dir.iter() {
        let entry = entry?;
        let name = entry.file_name().to_owned();
        if name.as_bytes() == b"." || name.as_bytes() == b".." {
            continue;
        }
        // Everything below goes through this descriptor of the entry itself, so a name
        // swapped meanwhile for a link changes nothing elsewhere.
        let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let Ok(entry_fd) = openat(&fd, name.as_c_str(), flags, Mode::empty()) else {
            continue;
        };
        let stat = fstat(&entry_fd)?;
        let kind = SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits());
        let ours = match kind {
            SFlag::S_IFDIR | SFlag::S_IFLNK => true,
            SFlag::S_IFREG => stat.st_nlink == 1,
            _ => false,
        };
        if !ours {
            tracing::warn!(entry = ?name, "left to root while adopting a data dir: a hard link or a special file");
            continue;
        }
        let (owner, group) = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
        fchownat(&entry_fd, "", owner, group, AtFlags::AT_EMPTY_PATH)?;
        if kind == SFlag::S_IFLNK {
            continue;
        }
        // chmod through the descriptor's /proc link: it names this very inode.
        let mode = stat.st_mode & 0o0700;
        std::fs::set_permissions(
            format!("/proc/self/fd/{}", entry_fd.as_raw_fd()),
            std::fs::Permissions::from_mode(mode),
        )?;
        if kind == SFlag::S_IFDIR {
            subdirs.push(name);
        }
    }
    for name in subdirs {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        // Replaced by a link since it was listed: O_NOFOLLOW refuses it, and it is skipped.
        let Ok(child) = Dir::openat(&fd, name.as_c_str(), flags, Mode::empty()) else {
            continue;
        };
        adopt_entries(child, uid, gid, depth + 1)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_directory_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("alice");
        prepare(&data, None).unwrap();
        let meta = std::fs::metadata(&data).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o700);
        assert!(prepare(&dir.path().join("missing/deeper"), None).is_err());
        std::fs::write(dir.path().join("file"), "").unwrap();
        assert!(prepare(&dir.path().join("file"), None).is_err());
    }

    #[test]
    fn an_old_root_owned_directory_is_handed_over_without_following_links() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: changing owners needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.txt");
        std::fs::write(&outside, "not theirs").unwrap();
        let data = dir.path().join("alice");
        std::fs::create_dir_all(data.join("workspace/deep")).unwrap();
        std::fs::write(data.join("events.db"), "log").unwrap();
        std::fs::set_permissions(
            data.join("events.db"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        std::fs::write(data.join("workspace/deep/notes.md"), "notes").unwrap();
        std::os::unix::fs::symlink(&outside, data.join("workspace/link")).unwrap();
        std::os::unix::fs::symlink(dir.path(), data.join("workspace/dirlink")).unwrap();
        std::fs::hard_link(&outside, data.join("workspace/hardlink")).unwrap();
        nix::unistd::mkfifo(
            &data.join("workspace/fifo"),
            Mode::from_bits_truncate(0o644),
        )
        .unwrap();
        std::fs::write(data.join("workspace/tool"), "#!/bin/sh").unwrap();
        std::fs::set_permissions(
            data.join("workspace/tool"),
            std::fs::Permissions::from_mode(0o4755),
        )
        .unwrap();

        prepare(&data, Some((4_100_002_000, 4_100_002_000))).unwrap();
        for path in [
            "",
            "events.db",
            "workspace",
            "workspace/deep",
            "workspace/deep/notes.md",
            "workspace/link",
        ] {
            let meta = std::fs::symlink_metadata(data.join(path)).unwrap();
            assert_eq!(
                (meta.uid(), meta.gid()),
                (4_100_002_000, 4_100_002_000),
                "{path}"
            );
            if !meta.file_type().is_symlink() {
                assert_eq!(meta.mode() & 0o077, 0, "{path} is private");
            }
        }
        let untouched = std::fs::metadata(&outside).unwrap();
        assert_eq!(untouched.uid(), 0, "the link's target keeps its owner");
        assert_eq!(
            std::fs::symlink_metadata(data.join("workspace/fifo"))
                .unwrap()
                .uid(),
            0
        );
        let tool = std::fs::metadata(data.join("workspace/tool")).unwrap();
        assert_eq!(tool.mode() & 0o7777, 0o700, "no setuid bit survives");
        assert_eq!(untouched.mode() & 0o777, 0o644);
        assert_eq!(std::fs::metadata(dir.path()).unwrap().uid(), 0);
    }
}
