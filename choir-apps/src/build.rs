//! Building an app: its crate compiled for `wasm32-unknown-unknown` by cargo, offline, then
//! made a component of the `choir:app` world.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// How long one build may take.
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(600);
/// Bytes of compiler output a failed build reports at most.
const MAX_ERRORS: usize = 8 * 1024;

/// A built app.
#[derive(Debug, Clone)]
pub struct Built {
    /// The component's bytes.
    pub component: Vec<u8>,
    /// A digest of them (16 hex digits): the version.
    pub version: String,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0} has no Cargo.toml: make the app first (choir app new NAME)")]
    NoCrate(PathBuf),
    #[error("cannot run cargo: {0}")]
    Cargo(std::io::Error),
    #[error("the build took longer than {} s", BUILD_TIMEOUT.as_secs())]
    TimedOut,
    #[error("the app does not compile:\n{0}")]
    Compile(String),
    #[error("cargo made no {0}")]
    NoModule(PathBuf),
    #[error("cannot make a component of the app (is `wit_bindgen::generate!` of world `app` in src/lib.rs?): {0}")]
    Componentize(String),
}

/// Builds the app whose crate is in `dir` (its package named `name`), with build files in
/// `target_dir` (shared between apps, so the bindings generator is compiled once).
pub async fn build(dir: &Path, name: &str, target_dir: &Path) -> Result<Built, BuildError> {
    if !dir.join("Cargo.toml").is_file() {
        return Err(BuildError::NoCrate(dir.to_path_buf()));
    }
    let mut cargo = tokio::process::Command::new(cargo_program());
    cargo
        .args([
            "build",
            "--release",
            "--offline",
            "--target",
            "wasm32-unknown-unknown",
            "--message-format=short",
            "--color=never",
            "--quiet",
        ])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(BUILD_TIMEOUT, cargo.output())
        .await
        .map_err(|_| BuildError::TimedOut)?
        .map_err(BuildError::Cargo)?;
    if !output.status.success() {
        return Err(BuildError::Compile(errors(&output.stderr)));
    }
    let module = target_dir
        .join("wasm32-unknown-unknown/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    let core = tokio::fs::read(&module)
        .await
        .map_err(|_| BuildError::NoModule(module.clone()))?;
    let component = componentize(&core)?;
    let version = version(&component);
    Ok(Built { component, version })
}

/// Makes a component of a core module that carries the world's description (wit-bindgen
/// puts it in a custom section).
pub(crate) fn componentize(core: &[u8]) -> Result<Vec<u8>, BuildError> {
    wit_component::ComponentEncoder::default()
        .module(core)
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|e| BuildError::Componentize(format!("{e:#}")))
}

/// The version naming a component: the first 16 hex digits of its SHA-256.
pub fn version(component: &[u8]) -> String {
    let digest = Sha256::digest(component);
    digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The compiler's messages, without cargo's progress lines, cut to [`MAX_ERRORS`].
fn errors(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let mut kept = String::new();
    for line in text.lines() {
        let progress = ["Compiling ", "Finished ", "Blocking ", "Building "]
            .iter()
            .any(|word| line.trim_start().starts_with(word));
        if progress {
            continue;
        }
        if kept.len() + line.len() + 1 > MAX_ERRORS {
            kept.push_str("… (more errors cut)\n");
            break;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    kept.trim_end().to_owned()
}

/// cargo as the environment names it (`CARGO` in a build script or a test), else from PATH.
fn cargo_program() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_the_compilers_words_without_progress() {
        let stderr = b"   Compiling timer v0.1.0 (/w/apps/timer)\nsrc/lib.rs:3:5: error[E0425]: cannot find value `x` in this scope\nerror: could not compile `timer` (lib) due to 1 previous error\n";
        let kept = errors(stderr);
        assert!(!kept.contains("Compiling"), "{kept}");
        assert!(kept.contains("src/lib.rs:3:5: error[E0425]"), "{kept}");
    }

    #[test]
    fn long_errors_are_cut() {
        let line = "error: x\n".repeat(MAX_ERRORS);
        let kept = errors(line.as_bytes());
        assert!(kept.len() <= MAX_ERRORS + 40);
        assert!(kept.ends_with("(more errors cut)"));
    }
}
