//! `choir-daemon`: one user's sandbox daemon.

use std::path::PathBuf;

use anyhow::{Context, Result};
use choir_daemon::agent::AgentConfig;
use choir_daemon::store::StoreOptions;
use choir_daemon::{Daemon, DaemonConfig, Listen};
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// ChoirOS sandbox daemon: holds the event log and serves the desktop, chat and tools to every
/// client over HTTP and WebSocket.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Where the event log, token and workspace live [default: the platform data dir, e.g.
    /// ~/.local/share/choir]
    #[arg(long, env = "CHOIR_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Address to listen on: HOST:PORT (port 0 picks a free port), or unix:PATH for a Unix
    /// socket that only this user can reach
    #[arg(
        long,
        env = "CHOIR_LISTEN",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR"
    )]
    listen: Listen,

    /// The user's settings file [default: $XDG_CONFIG_HOME/choir/config.toml, else
    /// ~/.config/choir/config.toml]
    #[arg(long, env = "CHOIR_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Forbid this process and everything it starts to gain privileges (set-user-id
    /// programs, file capabilities), for containers whose engine cannot say so itself
    /// (Docker Swarm's services before API 1.44)
    #[arg(long)]
    no_new_privileges: bool,
}

/// The sandbox token, when whoever starts the daemon chooses it (the hypervisor does). An
/// environment variable, not a flag: command lines are visible to every user of the host.
const TOKEN_ENV: &str = "CHOIR_DAEMON_TOKEN";

/// A sandbox daemon serves one user: a few worker threads are plenty, and on a many-core
/// host they keep it within its process limit.
const MAX_WORKER_THREADS: usize = 4;
/// Threads count against a sandbox's process limit (64 by default under the hypervisor), so
/// the pool for blocking work (SQLite, files) stays well below it.
const MAX_BLOCKING_THREADS: usize = 16;

fn default_data_dir() -> Result<PathBuf> {
    dirs::data_dir()
        .map(|dir| dir.join("choir"))
        .context("no platform data dir is known here: pass --data-dir or set CHOIR_DATA_DIR")
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Everything the daemon and its tools create is private to the sandbox's user.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    if cli.no_new_privileges {
        if let Err(err) = nix::sys::prctl::set_no_new_privs() {
            eprintln!("choir-daemon: cannot forbid gaining privileges: {err}");
            return std::process::ExitCode::FAILURE;
        }
    }
    let token = std::env::var(TOKEN_ENV).ok();
    // Read once, before any thread exists; tools started later do not inherit it.
    std::env::remove_var(TOKEN_ENV);
    if token.is_some() {
        // Nothing running as the sandbox's user may read the host token out of this process
        // (its memory, environment and descriptors in /proc become root's).
        if let Err(err) = nix::sys::prctl::set_dumpable(false) {
            eprintln!("choir-daemon: cannot make itself undumpable: {err}");
            return std::process::ExitCode::FAILURE;
        }
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_WORKER_THREADS);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("choir-daemon: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, token)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("choir-daemon: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, token: Option<String>) -> Result<()> {
    let filter = EnvFilter::try_from_env("CHOIR_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info"))
        // The IMAP library traces every line it sends and reads: the login's password and
        // whole messages. Never, whatever CHOIR_LOG asks (a narrower directive wins).
        .add_directive("async_imap::imap_stream=off".parse()?);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a terminal: a sandbox's log goes through a pipe into a file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let data_dir = match cli.data_dir {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    if let Some(token) = &token {
        if token.len() < 16 || token.len() > 256 || !token.bytes().all(|b| b.is_ascii_graphic()) {
            anyhow::bail!("{TOKEN_ENV} must be 16 to 256 printable characters without spaces");
        }
    }
    let agent = AgentConfig::load(&data_dir.join("config.json"), |name| {
        std::env::var(name).ok()
    })
    .context("the agent's configuration is invalid")?;
    let config = DaemonConfig {
        data_dir: data_dir.clone(),
        listen: cli.listen,
        token,
        store: StoreOptions::default(),
        agent,
        settings: cli
            .config
            .or_else(|| choir_daemon::settings::default_path(|name| std::env::var(name).ok())),
        apps: choir_daemon::AppsConfig::default(),
    };
    let mut daemon = Daemon::start(config)
        .await
        .context("cannot start choir-daemon")?;
    announce(&format!(
        "ChoirOS daemon listening on {}\ndata dir: {}",
        daemon.announce_url(),
        data_dir.display()
    ));
    if !choir_daemon::api::web_mirror_embedded() {
        tracing::warn!(
            "this daemon was built without the web mirror: its page only says how to build it \
             (scripts/build-web.sh, then build choir-daemon again)"
        );
    }

    tokio::select! {
        result = daemon.stopped() => {
            result.context("the daemon stopped unexpectedly")?;
            return Ok(());
        }
        signal = shutdown_signal() => signal?,
    }
    tracing::info!("shutting down: draining pending appends");
    daemon.shutdown().await;
    Ok(())
}

async fn shutdown_signal() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("cannot watch SIGINT")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}

/// Prints to stdout; a closed stdout (the parent stopped reading) is not a reason to die.
fn announce(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
        tracing::debug!("stdout is closed; not announcing the URL there");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
