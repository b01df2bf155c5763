//! `choir` with no arguments: use the data dir's daemon, starting one in the background if
//! none runs. Two `choir`s racing to start one is harmless: the data dir's lock lets only one
//! daemon live, and both clients then find it through `daemon.json`.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use choir_proto::Endpoint;
use thiserror::Error;

use crate::connect::{find_endpoint, ConnectError};

/// How long a freshly started daemon has to write its endpoint.
const START_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Error)]
pub enum LaunchError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(String),
    #[error("the daemon did not come up within {}s; see {log}", START_TIMEOUT.as_secs())]
    Timeout { log: PathBuf },
}

/// Whether a daemon holds the data dir's lock.
fn daemon_running(data_dir: &Path) -> bool {
    let lock = data_dir.join("daemon.lock");
    let Ok(file) = OpenOptions::new().write(true).open(&lock) else {
        return false;
    };
    matches!(File::try_lock(&file), Err(TryLockError::WouldBlock))
}

/// `choir-daemon` next to this executable, or else on `PATH`.
fn daemon_program() -> PathBuf {
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("choir-daemon")));
    match sibling {
        Some(path) if path.is_file() => path,
        _ => PathBuf::from("choir-daemon"),
    }
}

/// The endpoint of the data dir's daemon, started in the background if needed.
pub fn ensure_daemon(data_dir: &Path) -> Result<Endpoint, LaunchError> {
    ensure_daemon_with(data_dir, &daemon_program())
}

/// [`ensure_daemon`] with an explicit `choir-daemon` program.
pub fn ensure_daemon_with(data_dir: &Path, program: &Path) -> Result<Endpoint, LaunchError> {
    if daemon_running(data_dir) {
        return Ok(wait_for_endpoint(data_dir, None)?);
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|err| LaunchError::Io(format!("cannot create {}: {err}", data_dir.display())))?;
    let log_path = data_dir.join("daemon.log");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|err| LaunchError::Io(format!("cannot open {}: {err}", log_path.display())))?;
    let log_err = log
        .try_clone()
        .map_err(|err| LaunchError::Io(format!("cannot open {}: {err}", log_path.display())))?;
    let program = program.to_owned();
    // A stale endpoint from a killed daemon must not be mistaken for the new one.
    let _ = std::fs::remove_file(data_dir.join(choir_proto::ENDPOINT_FILE));
    let mut child = {
        use std::os::unix::process::CommandExt;
        Command::new(&program)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            // Its own process group: Ctrl-C in this terminal must not stop the sandbox.
            .process_group(0)
            .spawn()
            .map_err(|source| LaunchError::Spawn {
                program: program.clone(),
                source,
            })?
    };
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(endpoint) = find_endpoint(data_dir) {
            return Ok(endpoint);
        }
        // Lost a race to another daemon? Then wait for that one's endpoint.
        if let Ok(Some(_)) = child.try_wait() {
            if daemon_running(data_dir) {
                return Ok(wait_for_endpoint(data_dir, Some(deadline))?);
            }
            return Err(LaunchError::Timeout { log: log_path });
        }
        if Instant::now() > deadline {
            return Err(LaunchError::Timeout { log: log_path });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for_endpoint(data_dir: &Path, deadline: Option<Instant>) -> Result<Endpoint, ConnectError> {
    let deadline = deadline.unwrap_or_else(|| Instant::now() + START_TIMEOUT);
    loop {
        match find_endpoint(data_dir) {
            Ok(endpoint) => return Ok(endpoint),
            Err(err) if Instant::now() > deadline => return Err(err),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
