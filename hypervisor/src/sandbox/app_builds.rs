//! What sandboxes build apps with (`choir app build`, the agent's `app_create`): the host's
//! Rust toolchain, which must have the `wasm32-unknown-unknown` target, and a copy of the
//! crates apps build with (`choir_apps::vendor`), both lent read-only to every sandbox. A
//! build then runs in the user's sandbox, under its uid, limits and Landlock rules, offline,
//! with cargo's own files in its data dir. Nothing of a sandbox's can change what another
//! builds with.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::namespaces::{Lent, LENT_UNDER};

/// Where a sandbox with namespaces of its own finds the toolchain and the crates.
const RUST_AT: &str = "rust";
const CRATES_AT: &str = "crates";
/// The search path of a sandbox's processes, after the toolchain's programs.
pub const SYSTEM_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

#[derive(Debug, Error)]
pub enum AppBuildsError {
    #[error("no Rust toolchain: `rustc --print sysroot` failed ({0}); name one with --apps-rust")]
    NoRustc(String),
    #[error("{0} is not a Rust toolchain (no bin/cargo and bin/rustc in it)")]
    NotAToolchain(PathBuf),
    #[error(
        "the Rust toolchain at {0} has no wasm32-unknown-unknown target \
         (rustup target add wasm32-unknown-unknown)"
    )]
    NoWasmTarget(PathBuf),
    #[error(transparent)]
    Crates(#[from] choir_apps::CratesError),
}

/// The toolchain and crates sandboxes build apps with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppBuilds {
    /// The toolchain's root (`rustc --print sysroot`): `bin/cargo`, `bin/rustc`, `lib/`.
    pub rust: PathBuf,
    /// The copy of the crates apps build with.
    pub crates: PathBuf,
}

impl AppBuilds {
    /// The toolchain at `rust` (else the one `rustc` on this process's PATH runs), checked,
    /// and the crates copied into `cache` (once per version of the apps' lock file).
    pub async fn prepare(rust: Option<PathBuf>, cache: &Path) -> Result<Self, AppBuildsError> {
        let rust = match rust {
            Some(rust) => rust,
            None => sysroot().await?,
        };
        if !rust.join("bin/cargo").is_file() || !rust.join("bin/rustc").is_file() {
            return Err(AppBuildsError::NotAToolchain(rust));
        }
        if !rust.join("lib/rustlib/wasm32-unknown-unknown").is_dir() {
            return Err(AppBuildsError::NoWasmTarget(rust));
        }
        let crates = cache.join(choir_apps::crates_dir_name());
        choir_apps::vendor(&rust.join("bin/cargo"), &crates).await?;
        Ok(AppBuilds { rust, crates })
    }

    /// The directories lent to a sandbox with namespaces of its own.
    pub fn lent(&self) -> Vec<Lent> {
        vec![
            Lent {
                host: self.rust.clone(),
                at: Path::new(LENT_UNDER).join(RUST_AT),
            },
            Lent {
                host: self.crates.clone(),
                at: Path::new(LENT_UNDER).join(CRATES_AT),
            },
        ]
    }

    /// Where a sandbox finds them: lent (`lent`) or where they are on the host.
    fn seen(&self, lent: bool) -> (PathBuf, PathBuf) {
        if lent {
            let under = Path::new(LENT_UNDER);
            (under.join(RUST_AT), under.join(CRATES_AT))
        } else {
            (self.rust.clone(), self.crates.clone())
        }
    }

    /// The daemon's environment for builds: the toolchain first on its PATH, the crates, and
    /// cargo's own files in `data_dir` (where it may write).
    pub fn env(&self, lent: bool, data_dir: &Path) -> Vec<(&'static str, OsString)> {
        let (rust, crates) = self.seen(lent);
        let mut path = rust.join("bin").into_os_string();
        path.push(":");
        path.push(SYSTEM_PATH);
        vec![
            ("PATH", path),
            ("CHOIR_APPS_CRATES", crates.into_os_string()),
            ("CARGO_HOME", data_dir.join("apps/cargo").into_os_string()),
        ]
    }

    /// What a sandbox without namespaces of its own must be let read where they are.
    pub fn read_where_they_are(&self) -> Vec<PathBuf> {
        vec![self.rust.clone(), self.crates.clone()]
    }

    /// `Rust at …, crates in …` for the start-up line.
    pub fn describe(&self) -> String {
        format!(
            "apps are built with the Rust toolchain at {} and the crates in {}",
            self.rust.display(),
            self.crates.display()
        )
    }
}

/// The root of the toolchain `rustc` on this process's PATH runs.
async fn sysroot() -> Result<PathBuf, AppBuildsError> {
    let output = tokio::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|err| AppBuildsError::NoRustc(err.to_string()))?;
    if !output.status.success() {
        return Err(AppBuildsError::NoRustc(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sandbox_sees_the_lent_paths_or_the_hosts() {
        let builds = AppBuilds {
            rust: "/root/.rustup/toolchains/stable".into(),
            crates: "/root/.cache/choir/app-crates-1".into(),
        };
        let lent = builds.lent();
        assert!(lent.iter().all(|lent| lent.at.starts_with(LENT_UNDER)));
        let env = builds.env(true, Path::new("/srv/alice"));
        assert_eq!(
            env[0].1,
            OsString::from("/run/choir/rust/bin:/usr/local/bin:/usr/bin:/bin")
        );
        assert_eq!(env[1].1, OsString::from("/run/choir/crates"));
        assert_eq!(env[2].1, OsString::from("/srv/alice/apps/cargo"));
        let env = builds.env(false, Path::new("/srv/alice"));
        assert_eq!(env[1].1, OsString::from("/root/.cache/choir/app-crates-1"));
    }
}
