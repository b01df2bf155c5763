//! `choir-hypervisor`: each user's ChoirOS desktop over SSH.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hypervisor::sandbox::Sandboxes;
use hypervisor::ssh::{self, Shared};
use hypervisor::users::UserStore;

/// ChoirOS hypervisor: serves each registered user's live desktop over SSH
/// (`ssh alice@host`), starting that user's sandbox daemon on first use.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Where users, keys, the host key and every sandbox live
    /// [default: the platform data dir, e.g. ~/.local/share/choir-hypervisor]
    #[arg(long, env = "CHOIR_HYPERVISOR_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Run the SSH server
    Serve {
        /// Address for SSH
        #[arg(long, default_value = "0.0.0.0:2222", value_name = "ADDR")]
        ssh_listen: SocketAddr,
    },
    /// Manage users and their SSH keys
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Register a user's public key (the user is created if new)
    Add {
        name: String,
        /// An OpenSSH public key file, e.g. ~/.ssh/id_ed25519.pub
        #[arg(long, value_name = "FILE")]
        ssh_key: PathBuf,
    },
    /// List users and their key fingerprints
    List,
    /// Remove a user and their keys (their sandbox's data stays on disk)
    Remove { name: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("choir-hypervisor: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("choir-hypervisor: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// A program installed next to this one.
fn sibling(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

async fn users(dir: &Path) -> Result<UserStore> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    UserStore::open(&dir.join("users.db"))
        .await
        .context("cannot open the user database")
}

async fn run(cli: Cli) -> Result<()> {
    let dir = match cli.data_dir {
        Some(dir) => dir,
        None => dirs::data_dir()
            .map(|d| d.join("choir-hypervisor"))
            .context("no platform data dir is known here: pass --data-dir")?,
    };
    match cli.command {
        Commands::User {
            command: UserCommand::Add { name, ssh_key },
        } => {
            let text = std::fs::read_to_string(&ssh_key)
                .with_context(|| format!("cannot read {}", ssh_key.display()))?;
            let fingerprint = users(&dir).await?.add(&name, &text).await?;
            println!("{name}: added key {fingerprint}");
        }
        Commands::User {
            command: UserCommand::List,
        } => {
            for user in users(&dir).await?.list().await? {
                println!("{}\t{}", user.name, user.keys.join(" "));
            }
        }
        Commands::User {
            command: UserCommand::Remove { name },
        } => {
            users(&dir).await?.remove(&name).await?;
            println!("{name}: removed");
        }
        Commands::Serve { ssh_listen } => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_env("CHOIR_LOG")
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_writer(std::io::stderr)
                .init();
            let host_key = hypervisor::hostkey::load_or_create(&dir.join("ssh_host_ed25519_key"))?;
            let shared = Arc::new(Shared {
                users: users(&dir).await?,
                sandboxes: Sandboxes::new(&dir.join("sandboxes"), &sibling("choir-daemon")),
                choir: sibling("choir"),
            });
            let listener = tokio::net::TcpListener::bind(ssh_listen)
                .await
                .with_context(|| format!("cannot listen on {ssh_listen}"))?;
            println!("ChoirOS hypervisor: SSH on {}", listener.local_addr()?);
            tokio::select! {
                result = ssh::serve(listener, host_key, shared) => result.context("the SSH server failed")?,
                _ = tokio::signal::ctrl_c() => {}
            }
        }
    }
    Ok(())
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
