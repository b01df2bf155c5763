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
    #[error(
        "cannot run cargo ({0}): building an app needs Rust with the wasm32-unknown-unknown \
         target where the daemon runs (rustup target add wasm32-unknown-unknown; on a \
         ChoirOS host the hypervisor lends its own, unless it cannot: its log says why)"
    )]
    Cargo(std::io::Error),
    #[error("the build took longer than {} s", .0.as_secs())]
    TimedOut(Duration),
    #[error("the app does not compile:\n{0}")]
    Compile(String),
    #[error("cargo made no {0}")]
    NoModule(PathBuf),
    #[error("cannot make a component of the app (is `wit_bindgen::generate!` of world `app` in src/lib.rs?): {0}")]
    Componentize(String),
}

/// Where a build puts its files, where it finds its crates, and how long it may take.
#[derive(Debug, Clone)]
pub struct BuildSettings {
    /// Build files, shared between apps (so the bindings generator is compiled once).
    pub target: PathBuf,
    /// The crates apps build with, as [`vendor`] leaves them; none: cargo's own cache.
    pub crates: Option<PathBuf>,
    /// After this, the build and every process it started are stopped.
    pub timeout: Duration,
}

impl BuildSettings {
    /// Builds into `target`, with cargo's cache and [`BUILD_TIMEOUT`].
    pub fn new(target: PathBuf) -> Self {
        BuildSettings {
            target,
            crates: None,
            timeout: BUILD_TIMEOUT,
        }
    }
}

/// Builds the app whose crate is in `dir` (its package named `name`).
pub async fn build(dir: &Path, name: &str, settings: &BuildSettings) -> Result<Built, BuildError> {
    if !dir.join("Cargo.toml").is_file() {
        return Err(BuildError::NoCrate(dir.to_path_buf()));
    }
    let target_dir = settings.target.as_path();
    let mut cargo = tokio::process::Command::new(cargo_program());
    if let Some(crates) = &settings.crates {
        cargo.args(vendored_source(crates));
    }
    cargo
        .args([
            "build",
            "--release",
            "--offline",
            "--target",
            "wasm32-unknown-unknown",
            // What it built on stdout (JSON), the compiler's messages on stderr.
            "--message-format=json-render-diagnostics,json-diagnostic-short",
            "--color=never",
            "--quiet",
        ])
        .current_dir(dir)
        // Only what cargo needs: the code compiled (`env!`) sees nothing else of the
        // daemon's environment (its tokens, a provider's key).
        .env_clear()
        .envs(std::env::vars_os().filter(|(name, _)| KEPT_ENV.iter().any(|kept| name == kept)))
        .env("CARGO_TARGET_DIR", target_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A group of its own: the compilers it starts end with it.
        .process_group(0)
        .kill_on_drop(true);
    let child = cargo.spawn().map_err(BuildError::Cargo)?;
    let mut group = ProcessGroup(child.id());
    let output = tokio::time::timeout(settings.timeout, child.wait_with_output())
        .await
        .map_err(|_| BuildError::TimedOut(settings.timeout))?
        .map_err(BuildError::Cargo)?;
    // Over: nothing of the group is left to stop (and its id may be another's soon).
    group.0 = None;
    if !output.status.success() {
        return Err(BuildError::Compile(errors(&output.stderr)));
    }
    // The module cargo says it made, else where it puts one of this name.
    let module = built_module(&output.stdout).unwrap_or_else(|| {
        target_dir
            .join("wasm32-unknown-unknown/release")
            .join(format!("{}.wasm", name.replace('-', "_")))
    });
    let core = tokio::fs::read(&module)
        .await
        .map_err(|_| BuildError::NoModule(module.clone()))?;
    let component = componentize(&core)?;
    let version = version(&component);
    Ok(Built { component, version })
}

/// A build's processes (cargo, its rustc and linkers), stopped together when the build is
/// given up: on a timeout, or when the request that wanted it goes away.
struct ProcessGroup(Option<u32>);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let Some(id) = self.0.and_then(|id| i32::try_from(id).ok()) else {
            return;
        };
        if let Err(err) = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(id),
            nix::sys::signal::Signal::SIGKILL,
        ) {
            tracing::debug!(%err, "the build's processes were gone");
        }
    }
}

/// Makes a component of a core module that carries the world's description (wit-bindgen
/// puts it in a custom section).
pub(crate) fn componentize(core: &[u8]) -> Result<Vec<u8>, BuildError> {
    wit_component::ComponentEncoder::default()
        .module(core)
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|e| BuildError::Componentize(format!("{e:#}")))
}

/// Cargo's settings that take the crates from `crates` instead of crates.io (or its cache).
fn vendored_source(crates: &Path) -> [String; 4] {
    // A TOML string: the path with its backslashes and quotes escaped.
    let path = crates
        .to_string_lossy()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    [
        "--config".into(),
        "source.crates-io.replace-with=\"choir-app-crates\"".into(),
        "--config".into(),
        format!("source.choir-app-crates.directory=\"{path}\""),
    ]
}

/// The environment a build keeps: where cargo and rustup are, and their settings.
const KEPT_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "TMPDIR",
    "LANG",
];

/// The `.wasm` file of the last artifact cargo's JSON messages name.
fn built_module(stdout: &[u8]) -> Option<PathBuf> {
    String::from_utf8_lossy(stdout)
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .flat_map(|message| message["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|file| file.as_str().map(PathBuf::from))
        .rfind(|file| file.extension().is_some_and(|ext| ext == "wasm"))
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

    /// Processes whose command line holds `marker`.
    fn running_with(marker: &str) -> Vec<String> {
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
            .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
            .filter(|cmdline| cmdline.contains(marker))
            .collect()
    }

    #[tokio::test]
    async fn a_build_past_its_time_is_stopped_with_everything_it_started() {
        // A crate whose build script starts a long process and waits for it, as a slow
        // compiler would.
        let dir = tempfile::tempdir().unwrap();
        let marker = format!("3600.{}", std::process::id());
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"slow\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[workspace]\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("src/lib.rs"), "").unwrap();
        std::fs::write(
            dir.path().join("build.rs"),
            format!(
                "fn main() {{ std::process::Command::new(\"sleep\").arg(\"{marker}\").status().unwrap(); }}"
            ),
        )
        .unwrap();
        let settings = BuildSettings {
            timeout: Duration::from_secs(15),
            ..BuildSettings::new(dir.path().join("target"))
        };
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watch = {
            let (seen, marker) = (seen.clone(), marker.clone());
            tokio::spawn(async move {
                loop {
                    if !running_with(&marker).is_empty() {
                        seen.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        let started = std::time::Instant::now();
        let err = build(dir.path(), "slow", &settings).await.unwrap_err();
        watch.abort();
        assert!(
            seen.load(std::sync::atomic::Ordering::SeqCst),
            "the build script's process never ran"
        );
        assert!(matches!(err, BuildError::TimedOut(_)), "{err}");
        assert!(err.to_string().contains("15 s"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(30));
        // The build script's process went with cargo (a moment for the kernel to reap it).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !running_with(&marker).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "left running: {:?}",
                running_with(&marker)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn errors_keep_the_compilers_words_without_progress() {
        let stderr = b"   Compiling timer v0.1.0 (/w/apps/timer)\nsrc/lib.rs:3:5: error[E0425]: cannot find value `x` in this scope\nerror: could not compile `timer` (lib) due to 1 previous error\n";
        let kept = errors(stderr);
        assert!(!kept.contains("Compiling"), "{kept}");
        assert!(kept.contains("src/lib.rs:3:5: error[E0425]"), "{kept}");
    }

    #[test]
    fn the_module_is_the_one_cargo_names() {
        let stdout = br#"{"reason":"compiler-artifact","package_id":"wit-bindgen","filenames":["/t/release/deps/libwit_bindgen.rlib"]}
{"reason":"compiler-artifact","package_id":"timer","filenames":["/t/wasm32-unknown-unknown/release/timer.wasm"]}
{"reason":"build-finished","success":true}
"#;
        assert_eq!(
            built_module(stdout),
            Some(PathBuf::from(
                "/t/wasm32-unknown-unknown/release/timer.wasm"
            ))
        );
        assert_eq!(built_module(b"not json\n"), None);
    }

    #[test]
    fn long_errors_are_cut() {
        let line = "error: x\n".repeat(MAX_ERRORS);
        let kept = errors(line.as_bytes());
        assert!(kept.len() <= MAX_ERRORS + 40);
        assert!(kept.ends_with("(more errors cut)"));
    }
}
