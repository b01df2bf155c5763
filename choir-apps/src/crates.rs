//! The crates an app builds with, copied out of cargo's cache into a directory of their own
//! (`cargo vendor`): a host makes the copy once and lends it, read-only, to every sandbox,
//! whose builds then need neither the network nor the host's cache.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::build::version;
use crate::scaffold;

/// How long copying the crates may take.
const VENDOR_TIMEOUT: Duration = Duration::from_secs(300);
/// The file that says a copy is whole (written last).
const COMPLETE: &str = ".complete";

/// Why the crates could not be copied.
#[derive(Debug, thiserror::Error)]
pub enum CratesError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot run {} ({source})", cargo.display())]
    Cargo {
        cargo: PathBuf,
        source: std::io::Error,
    },
    #[error("cargo vendor took longer than {} s", VENDOR_TIMEOUT.as_secs())]
    TimedOut,
    #[error("cargo's cache lacks the apps' crates (scripts/setup.sh fetches them):\n{0}")]
    Missing(String),
    #[error(
        "{} is not to be trusted: it must belong to this user and be writable by no one else \
         (every sandbox builds with what it holds)",
        .0.display()
    )]
    Untrusted(PathBuf),
}

/// The name of the copy of this version's crates: it changes with a new app's lock file.
pub fn crates_dir_name() -> String {
    format!(
        "app-crates-{}",
        version(scaffold::cargo_lock("app").as_bytes())
    )
}

/// Copies the crates a new app's lock file names from cargo's cache (offline) into `out`,
/// readable by every user, unless a whole copy is there already. `cargo` is the program to
/// run. Another process making the same copy at the same time is harmless: each works in a
/// directory of its own and the first to finish puts its copy in place.
pub async fn vendor(cargo: &Path, out: &Path) -> Result<(), CratesError> {
    let parent = out.parent().unwrap_or(Path::new("."));
    if out.join(COMPLETE).is_file() {
        return trusted(&[parent, out]);
    }
    tokio::fs::create_dir_all(parent)
        .await
        .map_err(io("make", parent))?;
    trusted(&[parent])?;
    let staging = tempfile_dir(parent)?;
    let app = staging.path().join("app");
    for (file, text) in scaffold::files("app") {
        let path = app.join(file);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(io("make", dir))?;
        }
        tokio::fs::write(&path, text)
            .await
            .map_err(io("write", &path))?;
    }
    let copy = staging.path().join("crates");
    let mut command = tokio::process::Command::new(cargo);
    command
        .args(["vendor", "--offline", "--locked", "--quiet"])
        .arg(&copy)
        .current_dir(&app)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(VENDOR_TIMEOUT, command.output())
        .await
        .map_err(|_| CratesError::TimedOut)?
        .map_err(|source| CratesError::Cargo {
            cargo: cargo.to_owned(),
            source,
        })?;
    if !output.status.success() {
        return Err(CratesError::Missing(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    let readable = copy.clone();
    tokio::task::spawn_blocking(move || readable_by_all(&readable))
        .await
        .map_err(|err| CratesError::Io {
            action: "open up",
            path: copy.clone(),
            source: std::io::Error::other(err),
        })??;
    tokio::fs::write(copy.join(COMPLETE), b"")
        .await
        .map_err(io("write", &copy))?;
    match tokio::fs::rename(&copy, out).await {
        Ok(()) => Ok(()),
        // Another process put a whole copy there first.
        Err(_) if out.join(COMPLETE).is_file() => Ok(()),
        Err(source) => Err(CratesError::Io {
            action: "put in place",
            path: out.to_owned(),
            source,
        }),
    }
}

/// A directory of its own next to where the copy goes (the same filesystem, so it can be
/// renamed into place), removed when dropped.
fn tempfile_dir(parent: &Path) -> Result<tempfile::TempDir, CratesError> {
    tempfile::Builder::new()
        .prefix(".app-crates-")
        .tempdir_in(parent)
        .map_err(io("make a directory in", parent))
}

/// Directories 0755 and files 0644 (0755 if executable), whatever the umask: sandboxes under
/// other users read the copy, and no one but its owner may change it.
fn readable_by_all(dir: &Path) -> Result<(), CratesError> {
    let set = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(io("change the mode of", path))
    };
    set(dir, 0o755)?;
    for entry in std::fs::read_dir(dir).map_err(io("list", dir))? {
        let path = entry.map_err(io("list", dir))?.path();
        let meta = std::fs::symlink_metadata(&path).map_err(io("read", &path))?;
        if meta.file_type().is_symlink() {
            continue;
        }
        if meta.is_dir() {
            readable_by_all(&path)?;
        } else if meta.permissions().mode() & 0o111 != 0 {
            set(&path, 0o755)?;
        } else {
            set(&path, 0o644)?;
        }
    }
    Ok(())
}

/// Each of `paths` belongs to this process's user (or root) and no one else may write to it:
/// else someone could put crates of their own in every sandbox's builds.
fn trusted(paths: &[&Path]) -> Result<(), CratesError> {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid().as_raw();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(io("read", path))?;
        let owner_ok = meta.uid() == me || meta.uid() == 0;
        if !owner_ok || meta.mode() & 0o022 != 0 {
            return Err(CratesError::Untrusted(path.to_path_buf()));
        }
    }
    Ok(())
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CratesError {
    let path = path.to_owned();
    move |source| CratesError::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_copy_is_whole_readable_by_all_and_made_once() {
        let cargo = PathBuf::from(std::env::var_os("CARGO").expect("run by cargo"));
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join(crates_dir_name());
        vendor(&cargo, &out).await.unwrap();
        let lib = out.join("wit-bindgen/src/lib.rs");
        let mode = std::fs::metadata(&lib).unwrap().permissions().mode();
        assert_eq!(mode & 0o444, 0o444, "{mode:o}");
        let mode = std::fs::metadata(out.join("wit-bindgen"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o555, 0o555, "{mode:o}");
        // Made once: a second call leaves the copy as it is, and no staging dir behind.
        std::fs::write(out.join("marker"), "kept").unwrap();
        vendor(&cargo, &out).await.unwrap();
        assert!(out.join("marker").exists());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }

    #[tokio::test]
    async fn a_copy_others_may_change_is_refused() {
        let cargo = PathBuf::from(std::env::var_os("CARGO").expect("run by cargo"));
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join(crates_dir_name());
        vendor(&cargo, &out).await.unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = vendor(&cargo, &out).await.unwrap_err();
        assert!(matches!(err, CratesError::Untrusted(_)), "{err}");
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = vendor(&cargo, &out).await.unwrap_err();
        assert!(err.to_string().contains("not to be trusted"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_cargo_is_said() {
        let dir = tempfile::tempdir().unwrap();
        let err = vendor(Path::new("/nonexistent/cargo"), &dir.path().join("c"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/cargo"), "{err}");
    }
}
